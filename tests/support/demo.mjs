#!/usr/bin/env node
// The demo: the Sync Settings dashboard with the real engine against local, emulated
// identity providers (Microsoft Entra ID, Google, Salesforce: tests/idp).
//
//   node tests/support/demo.mjs [--port 8080]
//
// Expects the engine in pkg/ (`bash build-engine.sh`; the
// Makefile's `demo` target builds it first). Starts, all on 127.0.0.1:
//   - the identity-provider emulator (in process), on <port>+1 when free, with the web
//     host's redirect URI http://127.0.0.1:<port>/www/callback.html registered;
//   - the static server of the repository on <port> (default 8080; a free one if busy);
//   - with the emulator, the emulated Exchange servers (tests/idp/EXCHANGE.md), reached from a
//     Chromium started with target/exchange-demo/chromium.sh (its --host-resolver-rules);
// writes www/config.json (git-ignored) pointing the engine at the emulator, prints the URLs
// and the test accounts, and runs until Ctrl-C / SIGTERM, then closes both servers. It
// deletes nothing (www/config.json stays for the next run).

import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { startEnvironment, ACCOUNTS, CONFIG_FILE, DEMO_LIFETIMES } from './e2e-env.mjs';
import { REPO_ROOT } from '../web/static-server.mjs';
import { buildDemoExtension } from './build-extension.mjs';
import { startAddinEnvironment } from '../addin/env.mjs';
import { writeManifests } from '../../addin-manifest/manifests.mjs';
import { exchangeChromiumArgs } from './browser.mjs';

const USAGE = 'usage: node tests/support/demo.mjs [--port 8080] [--addin-port 8443] [--real-outlook]';

function parseArgs(argv) {
  const out = { port: 8080, addinPort: 8443, realOutlook: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--addin-port') out.addinPort = Number(argv[++i]);
    else if (a === '--real-outlook') out.realOutlook = true;
    else if (a === '--port') out.port = argv[++i];
    else if (a.startsWith('--port=')) out.port = a.slice('--port='.length);
    else throw new Error(`unknown argument ${a} (${USAGE})`);
  }
  const port = Number(out.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid --port ${out.port}`);
  return { ...out, port };
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  try {
    await access(path.join(REPO_ROOT, 'pkg', 'sidebar_auth_bg.wasm'));
  } catch {
    console.error('The engine is not built. Run: bash build-engine.sh');
    process.exit(1);
  }

  // The emulator on <port>+1 if that is free, so that URLs stay the same across runs.
  let env;
  for (const idpPort of args.port < 65535 ? [args.port + 1, 0] : [0]) {
    try {
      env = await startEnvironment({
        port: args.port,
        fallbackPort: true,
        idpPort,
        idpConfig: DEMO_LIFETIMES,
        writeConfigFile: true,
      });
      break;
    } catch (err) {
      if (idpPort === 0 || (err?.code !== 'EADDRINUSE' && err?.code !== 'EACCES')) throw err;
    }
  }

  // The Outlook add-in over https on loopback, with its own (https) identity providers: a
  // throw-away certificate made now, written to target/addin-demo/ with manifests for it.
  let addin;
  for (const p of [args.addinPort, 0]) {
    try {
      addin = await startAddinEnvironment({ port: p, idpConfig: DEMO_LIFETIMES, officeDouble: !args.realOutlook });
      break;
    } catch (err) {
      if (p === 0 || (err?.code !== 'EADDRINUSE' && err?.code !== 'EACCES')) throw err;
    }
  }
  const addinDir = path.join(REPO_ROOT, 'target', 'addin-demo');
  await mkdir(addinDir, { recursive: true });
  await writeFile(path.join(addinDir, 'cert.pem'), addin.tls.cert);
  await writeManifests({ baseUrl: addin.addinBase, config: addin.config, out: addinDir });
  // A browser profile that allows third-party cookies and site data: Chromium 156 blocks them
  // by default, and with them all storage of the task pane (an iframe under another site).
  const profile = path.join(addinDir, 'chromium-profile');
  await mkdir(path.join(profile, 'Default'), { recursive: true });
  await writeFile(path.join(profile, 'Default', 'Preferences'), JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }));
  const closeAll = async () => {
    await Promise.allSettled([env.close(), addin.close()]);
  };

  const base = env.baseUrl;
  const idp = env.idp;
  // The Chrome extension, built against these providers (its redirect URI registered).
  const extension = await buildDemoExtension(idp);
  // Chromium reaches the emulated Exchange host names only through host-resolver rules:
  // a launcher script with the flags of exchangeChromiumArgs() (tests/support/browser.mjs).
  const exchangeDir = path.join(REPO_ROOT, 'target', 'exchange-demo');
  await mkdir(exchangeDir, { recursive: true });
  const launcher = path.join(exchangeDir, 'chromium.sh');
  const quote = (a) => `'${a.replace(/'/g, "'\\''")}'`;
  await writeFile(launcher, `#!/bin/sh\n# Chromium for the sidebar-auth demo's emulated Exchange (tests/idp/EXCHANGE.md): the Exchange\n# host names go to the local emulator (loopback only), its certificate is accepted.\nexec "\${CHROMIUM:-chromium}" ${exchangeChromiumArgs(idp.info.exchange).map(quote).join(' ')} "$@"\n`, { mode: 0o755 });
  const exchange = idp.info.exchange;
  const line = '─'.repeat(78);
  const out = [];
  out.push(line);
  out.push(' sidebar-auth demo: the Sync Settings dashboard with the real engine (pkg/)');
  out.push(line);
  if (env.portWasBusy) out.push(` Port ${args.port} is busy: using ${env.port} instead.`);
  out.push(` Dashboard:  ${base}/www/index.html`);
  out.push(` Devtools:   ${base}/www/devtools.html`);
  out.push(` Providers:  ${idp.base}  (emulated Microsoft, Google, Salesforce; control API ${idp.info.control})`);
  out.push(` Config:     ${path.relative(process.cwd(), CONFIG_FILE) || CONFIG_FILE} (written for this run)`);
  out.push('');
  out.push(' Test accounts (any password works):');
  out.push(`   Microsoft 365  ${ACCOUNTS.microsoft.join(', ')}`);
  out.push(`   Gmail          ${ACCOUNTS.google.join(', ')}`);
  out.push(`   Salesforce     ${ACCOUNTS.salesforce.join(', ')}`);
  out.push('');
  out.push(' How to:');
  out.push('   Connect   press Connect on a card; a pop-up shows the provider\'s login page:');
  out.push('             type the e-mail and any password, "Sign-in", then "Continue" on the');
  out.push('             consent page. (Gmail: choose "Gmail" as the mail service first.');
  out.push('             Salesforce: pick "Local Salesforce (emulated)" as the login host.)');
  out.push('   Expiry    access tokens live 2 minutes here: the engine refreshes silently.');
  out.push('             Devtools: move the engine clock (+5 min, +24 h: the Microsoft sign-in');
  out.push('             lasts 24 h), make the next token request fail with a provider error');
  out.push('             (e.g. AADSTS50173) or a transient fault, revoke an account\'s grants,');
  out.push('             read the redacted state and event log.');
  out.push('   Change    another account: Salesforce asks for the username; Microsoft shows the');
  out.push('             login page; Gmail shows the account picker.');
  out.push('');
  for (const l of extension.lines) out.push(` ${l}`);
  out.push('');
  out.push(' Microsoft Exchange (emulated: tests/idp/EXCHANGE.md), on 127.0.0.1 only:');
  out.push(`   Servers:    ${exchange.https} (https) and ${exchange.http} (http), routed by host name;`);
  out.push(`               control API ${exchange.control} (password change, request log, faults)`);
  out.push(`   Reach them: bash ${path.relative(process.cwd(), launcher)} [more chromium flags]`);
  out.push('               (maps autodiscover.contoso.test, mail.contoso.test, outlook.office365.com, ...');
  out.push('               on ports 443/80 to these servers; load the extension in that Chromium)');
  for (const [domain, d] of Object.entries(exchange.domains)) {
    if (d.kind !== 'on-premises') continue;
    const m = d.mailboxes[0];
    out.push(`   ${domain.padEnd(19)} ${m.logins.join(' or ')} / ${m.password}  (${d.auth === 'basic' ? `EWS ${d.ews}` : d.auth === 'ntlm' ? 'offers only NTLM/Negotiate' : 'offers only Bearer (hybrid modern auth)'})`);
  }
  out.push('   Microsoft 365: megan@m365.test and the Microsoft accounts above (autodiscover JSON at');
  out.push('               outlook.office365.com; EWS there is blocked for the tenant since 2026-10-01)');
  out.push('');
  out.push(' Outlook add-in (Office emulated by tests/addin/office-double, providers over https):');
  out.push(`   Outlook:    ${addin.outlookUrl()}`);
  out.push('               an emulated Outlook on the web: "Sync Settings" opens the task pane (an iframe of');
  out.push(`               ${addin.addinBase}, another site); Connect/Refresh/Change ask Allow/Ignore,`);
  out.push('               then the sign-in runs in a pop-up (the Office dialog) and returns via messageParent.');
  out.push(`   On-premises Outlook (makeEwsRequestAsync, no password asked): ${addin.outlookUrl({ mailbox: 'alex@contoso.test' })}`);
  out.push(`   Task pane:  ${addin.taskpaneUrl}`);
  out.push(`   Providers:  ${addin.idp.base} (https, same accounts as above)`);
  out.push(`   Certificate: self-signed, made at start: ${path.relative(process.cwd(), path.join(addinDir, 'cert.pem'))}. The add-in also needs`);
  out.push('   third-party cookies and site data allowed (Outlook frames it). Easiest, a demo profile with both:');
  out.push(`     chromium --user-data-dir=${path.relative(process.cwd(), profile)} --ignore-certificate-errors '${addin.outlookUrl()}'`);
  out.push(`   Manifests for this server (sideload into real Outlook, see addin-manifest/README.md):`);
  out.push(`     ${path.relative(process.cwd(), path.join(addinDir, 'manifest.xml'))}, manifest.json${args.realOutlook ? ' (serving Microsoft\'s office.js: --real-outlook)' : ''}`);
  out.push('');
  out.push(' One page runs the engine at a time: the dashboard or devtools page opened last takes');
  out.push(' over, the other one asks to be reloaded. Allow pop-ups for the page.');
  out.push(' The providers keep everything in memory: after a restart, connect again.');
  out.push(' Ctrl-C stops both servers.');
  out.push(line);
  console.log(out.join('\n'));

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the static server and the identity providers…`);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    try {
      await closeAll();
    } finally {
      clearTimeout(force);
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(`demo failed: ${err?.stack || err}`);
  process.exit(1);
});

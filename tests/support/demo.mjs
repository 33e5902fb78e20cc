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
// writes www/config.json (git-ignored) pointing the engine at the emulator, prints the URLs
// and the test accounts, and runs until Ctrl-C / SIGTERM, then closes both servers. It
// deletes nothing (www/config.json stays for the next run).

import { access } from 'node:fs/promises';
import path from 'node:path';

import { startEnvironment, ACCOUNTS, CONFIG_FILE, DEMO_LIFETIMES } from './e2e-env.mjs';
import { REPO_ROOT } from '../web/static-server.mjs';
import { buildDemoExtension } from './build-extension.mjs';

function parseArgs(argv) {
  const out = { port: 8080 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--port') out.port = argv[++i];
    else if (a.startsWith('--port=')) out.port = a.slice('--port='.length);
    else throw new Error(`unknown argument ${a} (usage: node tests/support/demo.mjs [--port 8080])`);
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
    console.log('usage: node tests/support/demo.mjs [--port 8080]');
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

  const base = env.baseUrl;
  const idp = env.idp;
  // The Chrome extension, built against these providers (its redirect URI registered).
  const extension = await buildDemoExtension(idp);
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
      await env.close();
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

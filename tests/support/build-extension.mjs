// Builds a loadable copy of the Chrome extension (extension/) into a directory:
// extension/ + the engine (pkg/sidebar_auth.js, pkg/sidebar_auth_bg.wasm) + the dashboard
// (www/dashboard.js, www/dashboard.css → dashboard/) + its config.json.
//
//   node tests/support/build-extension.mjs [--out DIR] [--idp http://127.0.0.1:PORT] [--test]
//
//   (no --idp)   config.json as in extension/ (real providers; fill in your client ids)
//   --idp URL    pointed at a running local identity-provider emulator (tests/idp, or the
//                one `make demo` runs, http://127.0.0.1:8081): the engine config of the web
//                host's tests (e2e-env.mjs engineConfig), host permissions for the emulator's
//                origin only; the emulator is told to accept the extension's redirect URI
//   --test       TEST build: adds the test hooks (tests/extension/fixtures → test/), a
//                content-script match on http://127.0.0.1/mail/* (mail.google.com is not
//                reachable here). Never ship a test build.
//
// In node: `buildExtension({outDir, idp, test})`, `buildDemoExtension(idp)` (for the demo).
// The engine must be built first: bash build-engine.sh

import { cp, mkdir, readFile, rm, writeFile, access } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { engineConfig as webEngineConfig } from './e2e-env.mjs';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SOURCE_DIR = path.join(REPO_ROOT, 'extension');
export const DEFAULT_OUT = path.join(REPO_ROOT, 'target', 'extension');
export const FIXTURES_DIR = path.join(REPO_ROOT, 'tests', 'extension', 'fixtures');
/** Where the test build's content script also runs (a loopback stand-in for Gmail). */
export const TEST_MAIL_MATCH = 'http://127.0.0.1/mail/*';

/** The extension id Chromium derives from the manifest's "key" (base64 DER public key). */
export function extensionIdFromKey(keyBase64) {
  const hex = createHash('sha256').update(Buffer.from(keyBase64, 'base64')).digest('hex').slice(0, 32);
  return [...hex].map((h) => String.fromCharCode(97 + parseInt(h, 16))).join('');
}

export function redirectUriFor(id) {
  return `https://${id}.chromiumapp.org/`;
}

/** `scheme://host/*` for an origin (any port: match patterns without a port match them all). */
function originPattern(origin) {
  const m = /^([a-z]+:)\/\/([^/:]+)(:\d+)?$/.exec(origin);
  if (!m) throw new Error(`not an origin: ${origin}`);
  return `${m[1]}//${m[2]}/*`;
}

let engineModule = null;
/** The engine's module, instantiated in Node (its pure functions need no browser). */
async function engine() {
  if (!engineModule) {
    const js = path.join(REPO_ROOT, 'pkg', 'sidebar_auth.js');
    const mod = await import(pathToFileURL(js).href);
    await mod.default({ module_or_path: await readFile(path.join(REPO_ROOT, 'pkg', 'sidebar_auth_bg.wasm')) });
    engineModule = mod;
  }
  return engineModule;
}

/**
 * Host permissions for exactly the origins an engine config needs, as the engine says
 * (`requiredOrigins`: token and revocation endpoints, APIs, login hosts). The extension's
 * redirect URI comes from chrome.identity at run time, so a placeholder stands in for it.
 */
export async function hostPermissionsFor(engineConfig) {
  const { requiredOrigins } = await engine();
  const origins = requiredOrigins({ redirectUri: 'https://extension.chromiumapp.org/', ...engineConfig });
  return [...new Set(origins.map(originPattern))];
}

/**
 * config.json for an emulator `idp` ({base, info}, as startIdp() returns or GET / answers).
 * The engine part is the web host's (tests/support/e2e-env.mjs), minus its redirect URI
 * (the extension's is chrome.identity.getRedirectURL()) and its devtools link.
 */
export function emulatorConfig(idp, { sessionTimeoutMinutes } = {}) {
  const timeout = sessionTimeoutMinutes ?? Math.max(1, Math.round((idp.config?.salesforce?.sessionTimeout ?? 120) / 60));
  const { redirectUri: _r, devtools: _d, ...engine } = webEngineConfig(idp, 'http://127.0.0.1', { sessionTimeoutMinutes: timeout });
  return {
    engine,
    apiBases: { microsoft: idp.info.microsoft.api, google: idp.info.google.api },
    // The sidebar's operations, as in extension/config.json (paths below the API bases).
    contentScript: JSON.parse(readFileSync(path.join(SOURCE_DIR, 'config.json'), 'utf8')).contentScript,
  };
}

async function exists(p) {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Build the extension into `outDir`.
 * @param {object} [o]
 * @param {string} [o.outDir]   default target/extension
 * @param {{base: string, info: object, config?: object}} [o.idp]  point it at this emulator
 * @param {object} [o.config]   a config.json object to use as is (overrides idp)
 * @param {boolean} [o.test]    add the test hooks and the loopback content-script match
 * @param {boolean} [o.bundle]  one esbuild bundle per script (default; SIDEBAR_AUTH_EXTENSION_BUNDLE=0
 *                              leaves the modules as they are, to measure the difference)
 * @returns {Promise<{dir: string, id: string, redirectUri: string, manifest: object, config: object}>}
 */
export async function buildExtension({
  outDir = DEFAULT_OUT,
  idp = null,
  config = null,
  test = false,
  bundle = process.env.SIDEBAR_AUTH_EXTENSION_BUNDLE !== '0',
} = {}) {
  const pkg = path.join(REPO_ROOT, 'pkg');
  for (const f of ['sidebar_auth.js', 'sidebar_auth_bg.wasm']) {
    if (!(await exists(path.join(pkg, f)))) {
      throw new Error(`pkg/${f} is missing: build the engine first (bash build-engine.sh).`);
    }
  }
  const dir = path.resolve(outDir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(SOURCE_DIR, dir, { recursive: true, filter: (src) => path.basename(src) !== 'README.md' });
  await mkdir(path.join(dir, 'pkg'));
  for (const f of ['sidebar_auth.js', 'sidebar_auth_bg.wasm']) await cp(path.join(pkg, f), path.join(dir, 'pkg', f));
  await mkdir(path.join(dir, 'dashboard'));
  for (const f of ['dashboard.js', 'dashboard.css']) await cp(path.join(REPO_ROOT, 'www', f), path.join(dir, 'dashboard', f));

  const manifest = JSON.parse(await readFile(path.join(SOURCE_DIR, 'manifest.json'), 'utf8'));
  let finalConfig = config ?? (idp ? emulatorConfig(idp) : JSON.parse(await readFile(path.join(SOURCE_DIR, 'config.json'), 'utf8')));
  manifest.host_permissions = await hostPermissionsFor(finalConfig.engine);

  if (test) {
    manifest.name += ' (TEST BUILD)';
    // The emulated Exchange's hosts, granted at install: chrome.permissions.request's prompt
    // cannot be answered in headless Chromium (extension/README.md, "Testing run-time host
    // permissions"), so what the side panel would ask for at run time is listed here. Hosts
    // a redirect leads to outside a domain (elsewhere.test) stay ungranted, as for a user.
    for (const domain of Object.keys(idp?.info?.exchange?.domains ?? {})) {
      manifest.host_permissions.push(`https://*.${domain}/*`, `http://autodiscover.${domain}/*`);
    }
    if (idp?.info?.exchange) manifest.host_permissions.push('https://outlook.office365.com/*');
    manifest.background.service_worker = 'test/background.js';
    for (const cs of manifest.content_scripts) cs.matches = [...new Set([...cs.matches, TEST_MAIL_MATCH])];
    await cp(FIXTURES_DIR, path.join(dir, 'test'), { recursive: true });
    finalConfig = { ...finalConfig, test: true };
  }

  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(finalConfig, null, 2) + '\n');
  if (bundle) await bundleScripts(dir, manifest, finalConfig);
  const id = extensionIdFromKey(manifest.key);
  return { dir, id, redirectUri: redirectUriFor(id), manifest, config: finalConfig };
}

/**
 * The service worker and the side panel each as one ES module (esbuild), with config.json's
 * content inlined into the worker (`__SIDEBAR_AUTH_CONFIG__`, extension/lib/config.js).
 * Why: a woken worker fetched and linked 8 modules and config.json before the engine could
 * start (issue 12: module loading was 15 ms of a wake). The wasm module stays its own file
 * (pkg/), fetched by the worker as its script starts. The unbundled sources stay in the
 * build for the pages that import them (the test harness).
 */
async function bundleScripts(dir, manifest, config) {
  const { build } = await import('esbuild');
  const common = { bundle: true, format: 'esm', target: 'chrome116', allowOverwrite: true, logLevel: 'error', legalComments: 'none' };
  const worker = path.join(dir, manifest.background.service_worker);
  await build({ ...common, entryPoints: [worker], outfile: worker, define: { __SIDEBAR_AUTH_CONFIG__: JSON.stringify(config) } });
  const panel = path.join(dir, manifest.side_panel.default_path.replace(/\.html$/, '.js'));
  await build({ ...common, entryPoints: [panel], outfile: panel });
}

/** The lines that tell a person how to load a build. */
export function loadInstructions({ dir, id, redirectUri }) {
  return [
    `Chrome extension built in ${dir} (id ${id}), pointed at the local identity providers.`,
    '  Load it: chrome://extensions → Developer mode → Load unpacked → choose that folder,',
    `  or: chromium --disable-extensions-except=${dir} --load-extension=${dir}`,
    '  Click its toolbar icon for Sync Settings in the side panel.',
    `  Its redirect URI ${redirectUri} is registered with the local providers.`,
  ];
}

/** Tell a running emulator to accept the extension's redirect URI (POST /control/redirect-uris). */
export async function registerRedirectUri(idp, redirectUri) {
  const res = await fetch(`${idp.info.control}/redirect-uris`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ uris: [redirectUri] }),
  });
  if (!res.ok) throw new Error(`the emulator refused the extension's redirect URI: HTTP ${res.status}`);
}

/**
 * For the demo: build into target/extension against the running emulator and tell the
 * emulator to accept the extension's redirect URI. Returns the build and the lines to print.
 * @param {{base: string, info: object}} idp  startIdp()'s handle
 */
export async function buildDemoExtension(idp, { outDir = DEFAULT_OUT } = {}) {
  const build = await buildExtension({ outDir, idp });
  await registerRedirectUri(idp, build.redirectUri);
  return { ...build, lines: loadInstructions(build) };
}

// ---- CLI ----------------------------------------------------------------------------------

async function main(argv) {
  const args = { out: DEFAULT_OUT, idp: null, test: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') args.out = argv[++i];
    else if (a === '--idp') args.idp = argv[++i];
    else if (a === '--test') args.test = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node tests/support/build-extension.mjs [--out DIR] [--idp http://127.0.0.1:PORT] [--test]');
      return;
    } else throw new Error(`unknown argument ${a}`);
  }
  let idp = null;
  if (args.idp) {
    const base = args.idp.replace(/\/$/, '');
    const res = await fetch(`${base}/`);
    if (!res.ok) throw new Error(`${base}/ answered HTTP ${res.status}; is the emulator running?`);
    const info = await res.json();
    idp = { base: info.base ?? base, info };
  }
  const build = await buildExtension({ outDir: args.out, idp, test: args.test });
  if (idp) {
    await registerRedirectUri(idp, build.redirectUri);
    console.log(loadInstructions(build).join('\n'));
  } else {
    console.log(`Chrome extension built in ${build.dir} (id ${build.id}); load it unpacked. Real-provider config: put your client ids in config.json (see extension/README.md).`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err.message ?? err);
    process.exit(1);
  });
}

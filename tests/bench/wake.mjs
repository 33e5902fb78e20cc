// Wake benchmark of the Chrome extension: from a stopped service worker to the first access
// token available, with the engine's instantiate time shown separately.
//
//   node tests/bench/wake.mjs [--runs N]        (the engine must be built into pkg/ first)
//
// 1. Local identity providers, a TEST build of the extension, Playwright: connect Microsoft
//    365 through the side panel and launchWebAuthFlow (a real sign-in), then close the browser.
// 2. The same profile in Chromium driven over a raw DevTools pipe (--remote-debugging-pipe):
//    Playwright attaches to every service worker and holds it at start for a DevTools round
//    trip, which would be counted in every wake. Per run: stop the worker
//    (ServiceWorker.stopAllWorkers), then an extension page asks it for the first token
//    (a TEST build message; the answer says that a token exists, not the token).
//
// Measured, per run:
//   page round trip   page → (worker starts, engine starts, token) → page, at the page
//   worker: start → token   the worker's performance.now() (0 = the worker's start) when the
//                     token is there; with when its modules had loaded and the engine was ready
//   init()            WebAssembly compile + instantiate of pkg/sidebar_auth_bg.wasm
//   create()          SidebarAuth.create: config, vault (storage + IndexedDB key + AES-GCM), session
//   accessToken()     the call itself (from chrome.storage.session's cache: no network)
// The worker that starts with the browser is left out (storage.session died with the
// browser; its catch-up refresh goes to the provider). Prints numbers; never fails on them.

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { startExtension, stopExtension, chromiumArgs, CHROMIUM } from '../extension/helpers.mjs';
import { REPO_ROOT } from '../support/build-extension.mjs';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 && Number(args[runsAt + 1]) > 0 ? Number(args[runsAt + 1]) : 9;
const TIMEOUT_MS = 20_000;

/** A minimal DevTools client over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-framed JSON). */
function pipeClient(child) {
  const write = child.stdio[3];
  const read = child.stdio[4];
  let nextId = 1;
  const pending = new Map();
  const listeners = new Set();
  let buffer = '';
  read.on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    let end;
    while ((end = buffer.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      if (msg.id && pending.has(msg.id)) {
        const { resolve, reject, timer } = pending.get(msg.id);
        pending.delete(msg.id);
        clearTimeout(timer);
        if (msg.error) reject(new Error(`${msg.error.message} (${msg.error.code})`));
        else resolve(msg.result);
      } else if (msg.method) {
        for (const l of listeners) l(msg);
      }
    }
  });
  return {
    send(method, params = {}, sessionId) {
      const id = nextId++;
      const message = { id, method, params, ...(sessionId ? { sessionId } : {}) };
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`CDP ${method}: no answer in ${TIMEOUT_MS} ms`));
        }, TIMEOUT_MS);
        pending.set(id, { resolve, reject, timer });
        write.write(JSON.stringify(message) + '\0');
      });
    },
    on(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    waitFor(predicate, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(new Error(`timed out waiting for ${what}`));
        }, TIMEOUT_MS);
        const off = this.on((msg) => {
          if (predicate(msg)) {
            clearTimeout(timer);
            off();
            resolve(msg);
          }
        });
      });
    },
  };
}

function stats(values) {
  const v = values.filter(Number.isFinite).slice().sort((a, b) => a - b);
  if (!v.length) return { median: NaN, min: NaN, max: NaN };
  const mid = Math.floor(v.length / 2);
  return { median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2, min: v[0], max: v.at(-1) };
}

const fmt = (n) => (Number.isFinite(n) ? n.toFixed(1).padStart(7) : '     - ');

async function main() {
  const wasm = await readFile(path.join(REPO_ROOT, 'pkg', 'sidebar_auth_bg.wasm'));

  // 1. Sign in once, with Playwright.
  const x = await startExtension();
  let child;
  try {
    const panel = await x.openPanel();
    await x.connect(panel, 'microsoft', 'alice@contoso.com');
    const token = await x.call('accessToken', 'microsoft');
    if (!token.ok) throw new Error(`no token after sign-in: ${JSON.stringify(token)}`);
    await stopExtension(x, { browserOnly: true });

    // 2. The same profile over a raw DevTools pipe.
    child = spawn(CHROMIUM, [
      ...chromiumArgs(x.build.dir),
      '--headless',
      '--remote-debugging-pipe',
      `--user-data-dir=${x.profileDir}`,
      'about:blank',
    ], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
    const cdp = pipeClient(child);
    const { targetId } = await cdp.send('Target.createTarget', { url: `${x.origin}/test/harness.html` });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    const evaluate = async (expression) => {
      const r = await cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId);
      if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
      return r.result.value;
    };
    for (let i = 0; ; i++) {
      if (await evaluate('document.body?.dataset.ready === "true"').catch(() => false)) break;
      if (i > 200) throw new Error('the harness page did not load');
      await new Promise((r) => setTimeout(r, 25));
    }

    // Worker state from the ServiceWorker domain, on the page's session.
    const scope = `${x.origin}/`;
    const registrations = new Map();
    const running = new Map();
    cdp.on((msg) => {
      if (msg.sessionId !== sessionId) return;
      if (msg.method === 'ServiceWorker.workerRegistrationUpdated') for (const r of msg.params.registrations) registrations.set(r.registrationId, r.scopeURL);
      if (msg.method === 'ServiceWorker.workerVersionUpdated') {
        for (const v of msg.params.versions) if (registrations.get(v.registrationId) === scope || v.scriptURL?.startsWith(scope)) running.set(v.versionId, v.runningStatus);
      }
    });
    await cdp.send('ServiceWorker.enable', {}, sessionId);
    const allStopped = () => running.size > 0 && [...running.values()].every((s) => s === 'stopped');

    async function stopWorker() {
      await cdp.send('ServiceWorker.stopAllWorkers', {}, sessionId);
      for (let i = 0; !allStopped(); i++) {
        if (i > 400) throw new Error('the worker did not stop');
        await new Promise((r) => setTimeout(r, 10));
      }
    }

    const ask = `(async () => {
      const t0 = performance.now();
      const r = await chrome.runtime.sendMessage({ type: 'sidebar-auth-test:first-token', service: 'microsoft' });
      return { ...r, roundTripMs: performance.now() - t0 };
    })()`;

    // Let the worker that started with the browser finish its catch-up (a refresh: the
    // session cache died with the browser), then measure a cold wake apart.
    await evaluate(ask);
    await stopWorker();
    const rows = [];
    for (let i = 0; i < RUNS; i++) {
      await stopWorker();
      const r = await evaluate(ask);
      if (!r?.hasToken) throw new Error(`run ${i}: no token: ${JSON.stringify(r)}`);
      rows.push(r);
    }
    const warm = [];
    for (let i = 0; i < RUNS; i++) warm.push((await evaluate(ask)).roundTripMs);

    const cols = {
      'page round trip (wake → token at the page)': rows.map((r) => r.roundTripMs),
      'worker: start → token available': rows.map((r) => r.tokenAt),
      '  modules loaded (background.js runs)': rows.map((r) => r.timings.scriptAt),
      '  engine ready (config, init, create)': rows.map((r) => r.timings.readyAt),
      '  of which init() (wasm instantiate)': rows.map((r) => r.timings.initMs),
      '  of which SidebarAuth.create()': rows.map((r) => r.timings.createMs),
      '  of which accessToken()': rows.map((r) => r.accessTokenMs),
      'warm worker: page round trip': warm,
    };
    console.log(`Service-worker wake → first access token (Chromium ${((await cdp.send('Browser.getVersion')).product)}, ${RUNS} runs, wasm ${(wasm.length / 1024).toFixed(0)} KiB raw)`);
    console.log(`${'ms'.padEnd(46)} median     min     max`);
    for (const [label, values] of Object.entries(cols)) {
      const s = stats(values);
      console.log(`${label.padEnd(44)} ${fmt(s.median)} ${fmt(s.min)} ${fmt(s.max)}`);
    }
    const woke = new Set(rows.map((r) => r.firstEvent));
    console.log(`(each run a new worker instance: ${new Set(rows.map((r) => r.instance)).size}/${RUNS}; woken by: ${[...woke].join(', ')})`);
    await cdp.send('Browser.close').catch(() => {});
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    await stopExtension(x);
  }
}

main().catch((err) => {
  console.error('wake benchmark failed:', err?.stack ?? err);
  process.exit(1);
});

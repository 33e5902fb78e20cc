// Wake benchmark of the Chrome extension: from a stopped service worker to the first access
// token available, with the engine's instantiate time shown separately.
//
//   node tests/bench/wake.mjs [--runs N] [--trace N]   (the engine must be built into pkg/ first)
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
//   API call          then, per run, the product's own use of a token after a wake: a stopped
//                     worker asked for an API call (`sidebar-auth:fetch`, the content script's
//                     message) to the emulator's Graph /me, and the same call to it warm
// The worker that starts with the browser is left out (storage.session died with the
// browser; its catch-up refresh goes to the provider). Prints numbers; never fails on them.
//
// --trace N: after the timed runs, N more wakes of ours under a Chromium trace (the Tracing
// domain of the browser: nothing attaches to the worker), and where the worker thread's time
// went before the first token: the wasm functions V8 compiled on their first call (Chromium
// compiles wasm lazily and keeps no compiled code for extension resources, so every wake
// compiles them again), the JS functions compiled on first call, the worker script's compile
// and evaluation, the wasm streaming compile. The trace slows each wake, so its milliseconds
// are larger than the timed runs'; its counts are what to compare between builds (issue 12's
// lever "fewer and smaller functions on the start path").
//
// The bare JavaScript floor (tests/bench/floor-extension: a worker that answers from
// chrome.storage.session and does nothing else) is loaded in the same Chromium, and the runs
// alternate: stop every worker, wake ours; stop every worker, wake the floor's. The ratio of
// the medians is what carries from machine to machine (issue 12 goal: at most 1.25).
//
// The peers (tests/bench/peers: @azure/msal-browser, oauth4webapi, oidc-client-ts, each
// bundled with esbuild as an application would ship it, as a tiny extension of its own whose
// worker answers the same kind of message with a token from that library's own cache or
// storage) are loaded in the same Chromium and woken in the same alternation. A library that
// cannot answer in a service worker is printed with the error it threw, and "-" for its times.

import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startExtension, stopExtension, chromiumArgs, CHROMIUM } from '../extension/helpers.mjs';
import { REPO_ROOT, extensionIdFromKey } from '../support/build-extension.mjs';
import { buildPeerExtensions } from './peers/build.mjs';
import { fmt, stats } from './stats.mjs';

const FLOOR_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor-extension');

/** The floor extension in `dir`, with a key of its own (a fixed id for this run). */
async function buildFloor(dir) {
  await cp(FLOOR_SOURCE, dir, { recursive: true });
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  manifest.key = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return { dir, id: extensionIdFromKey(manifest.key) };
}

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 && Number(args[runsAt + 1]) > 0 ? Number(args[runsAt + 1]) : 30;
const traceAt = args.indexOf('--trace');
const TRACED_WAKES = traceAt >= 0 ? Math.max(1, Number(args[traceAt + 1]) || 5) : 0;

/** The trace events read (names and categories as Chromium 15x records them). */
const TRACE_CATEGORIES = ['v8', 'v8.wasm', 'devtools.timeline', 'disabled-by-default-v8.compile', 'disabled-by-default-devtools.timeline'];
const TRACED = {
  wasmLazy: 'wasm.CompileLazy', // one wasm function compiled on its first call
  jsLazy: 'V8.CompileCode', // one JS function compiled on its first call
  scriptCompile: 'V8.CompileScript',
  moduleEvaluate: 'v8.evaluateModule',
  wasmStreaming: 'v8.wasm.compileConsume', // init(): the module's bytes compiled as they arrive
};

/**
 * Per traced wake: from the worker thread's first event to the token (`tokenAt`, the worker's
 * own clock, which starts with its global scope a little after the thread: the window is a
 * little short, never long), the count and thread time of each TRACED event.
 */
function startPathCosts(events, wakes) {
  const threadNames = new Map();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') threadNames.set(`${e.pid}:${e.tid}`, e.args.name);
  const threads = new Map();
  for (const e of events) {
    const key = `${e.pid}:${e.tid}`;
    if (e.ph === 'M' || threadNames.get(key) !== 'ServiceWorker thread') continue;
    if (!threads.has(key)) threads.set(key, []);
    threads.get(key).push(e);
  }
  // Only our worker compiles wasm, and each wake is a new thread, in the order of the wakes.
  const ours = [...threads.values()]
    .filter((es) => es.some((e) => e.name === TRACED.wasmLazy))
    .map((es) => ({ es, t0: es.reduce((min, e) => Math.min(min, e.ts), Infinity) }))
    .sort((a, b) => a.t0 - b.t0);
  return ours.slice(0, wakes.length).map(({ es, t0 }, i) => {
    const until = t0 + wakes[i].tokenAt * 1000;
    const out = {};
    for (const [key, name] of Object.entries(TRACED)) {
      const hits = es.filter((e) => e.name === name && e.ts <= until);
      out[`${key}N`] = hits.length;
      out[`${key}Ms`] = hits.reduce((sum, e) => sum + (e.tdur ?? e.dur ?? 0), 0) / 1000;
    }
    return out;
  });
}
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

    // 2. The same profile over a raw DevTools pipe, with the floor extension beside ours.
    const floor = await buildFloor(path.join(x.tmp, 'floor-extension'));
    const floorOrigin = `chrome-extension://${floor.id}`;
    const peers = await buildPeerExtensions(path.join(x.tmp, 'peers'));
    child = spawn(CHROMIUM, [
      ...chromiumArgs([x.build.dir, floor.dir, ...peers.map((p) => p.dir)].join(',')),
      '--headless',
      '--remote-debugging-pipe',
      `--user-data-dir=${x.profileDir}`,
      'about:blank',
    ], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
    const cdp = pipeClient(child);
    async function openPage(url) {
      const { targetId } = await cdp.send('Target.createTarget', { url });
      const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
      const evaluate = async (expression) => {
        const r = await cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId);
        if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
        return r.result.value;
      };
      for (let i = 0; ; i++) {
        if (await evaluate('document.body?.dataset.ready === "true"').catch(() => false)) break;
        if (i > 200) throw new Error(`${url} did not load`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return { sessionId, evaluate };
    }
    const { sessionId, evaluate } = await openPage(`${x.origin}/test/harness.html`);
    const floorPage = await openPage(`${floorOrigin}/page.html`);
    for (const peer of peers) peer.page = await openPage(`chrome-extension://${peer.id}/page.html`);

    // Worker state from the ServiceWorker domain, on the page's session.
    const scopes = [`${x.origin}/`, `${floorOrigin}/`, ...peers.map((p) => `chrome-extension://${p.id}/`)];
    const registrations = new Map();
    const running = new Map();
    cdp.on((msg) => {
      if (msg.sessionId !== sessionId) return;
      if (msg.method === 'ServiceWorker.workerRegistrationUpdated') for (const r of msg.params.registrations) registrations.set(r.registrationId, r.scopeURL);
      if (msg.method === 'ServiceWorker.workerVersionUpdated') {
        for (const v of msg.params.versions) if (scopes.some((scope) => registrations.get(v.registrationId) === scope || v.scriptURL?.startsWith(scope))) running.set(v.versionId, v.runningStatus);
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
    const askFloor = `(async () => {
      const t0 = performance.now();
      const r = await chrome.runtime.sendMessage({ type: 'floor:first-token' });
      return { ...r, roundTripMs: performance.now() - t0 };
    })()`;

    const askPeer = `(async () => {
      const t0 = performance.now();
      const r = await chrome.runtime.sendMessage({ type: 'peer:first-token' });
      return { ...r, roundTripMs: performance.now() - t0 };
    })()`;

    await evaluate(ask);
    await floorPage.evaluate(askFloor);
    for (const peer of peers) {
      peer.rows = [];
      peer.errors = new Set();
      await peer.page.evaluate(askPeer);
    }
    await stopWorker();
    const rows = [];
    const floorRows = [];
    for (let i = 0; i < RUNS; i++) {
      await stopWorker();
      const r = await evaluate(ask);
      if (!r?.hasToken) throw new Error(`run ${i}: no token: ${JSON.stringify(r)}`);
      rows.push(r);
      await stopWorker();
      const f = await floorPage.evaluate(askFloor);
      if (!f?.hasToken) throw new Error(`floor run ${i}: no token: ${JSON.stringify(f)}`);
      floorRows.push(f);
      for (const peer of peers) {
        await stopWorker();
        const p = await peer.page.evaluate(askPeer);
        if (p?.hasToken) peer.rows.push(p);
        else peer.errors.add(p?.error ?? JSON.stringify(p));
      }
    }
    // The product's own first use of a token after a wake: an API call through the worker
    // (`sidebar-auth:fetch`, what the Gmail content script sends; allowed from extension
    // pages too) to the emulator's Graph `/me` on loopback. `fetch` waits for the vault to be
    // opened (its origin check reads the connection's state), where `accessToken` above is
    // answered from the session cache first; the warm call is the same request to a running
    // worker, so the difference is what the wake adds on this path.
    const apiUrl = `${x.idp.info.microsoft.api}/me`;
    const askFetch = `(async () => {
      const t0 = performance.now();
      const r = await chrome.runtime.sendMessage({ type: 'sidebar-auth:fetch', service: 'microsoft', url: ${JSON.stringify(apiUrl)} });
      return { status: r?.status, error: r?.error, roundTripMs: performance.now() - t0 };
    })()`;
    const fetchCold = [];
    const fetchWarm = [];
    for (let i = 0; i < RUNS; i++) {
      await stopWorker();
      const cold = await evaluate(askFetch);
      if (cold?.status !== 200) throw new Error(`fetch run ${i}: ${JSON.stringify(cold)}`);
      fetchCold.push(cold.roundTripMs);
      const warmFetch = await evaluate(askFetch);
      if (warmFetch?.status !== 200) throw new Error(`warm fetch run ${i}: ${JSON.stringify(warmFetch)}`);
      fetchWarm.push(warmFetch.roundTripMs);
    }
    let traced = [];
    if (TRACED_WAKES) {
      const events = [];
      const off = cdp.on((msg) => {
        if (msg.method === 'Tracing.dataCollected') events.push(...msg.params.value);
      });
      await cdp.send('Tracing.start', { traceConfig: { recordMode: 'recordAsMuchAsPossible', includedCategories: TRACE_CATEGORIES } });
      const wakes = [];
      for (let i = 0; i < TRACED_WAKES; i++) {
        await stopWorker();
        const r = await evaluate(ask);
        if (!r?.hasToken) throw new Error(`traced run ${i}: no token: ${JSON.stringify(r)}`);
        wakes.push(r);
      }
      const complete = cdp.waitFor((m) => m.method === 'Tracing.tracingComplete', 'the end of the trace');
      await cdp.send('Tracing.end');
      await complete;
      off();
      traced = startPathCosts(events, wakes);
    }
    const warm = [];
    const floorWarm = [];
    for (let i = 0; i < RUNS; i++) {
      warm.push((await evaluate(ask)).roundTripMs);
      floorWarm.push((await floorPage.evaluate(askFloor)).roundTripMs);
    }

    const cols = {
      'page round trip (wake → token at the page)': rows.map((r) => r.roundTripMs),
      'worker: start → token available': rows.map((r) => r.tokenAt),
      '  modules loaded (background.js runs)': rows.map((r) => r.timings.scriptAt),
      '  engine ready (config, init, create)': rows.map((r) => r.timings.readyAt),
      '  start() called': rows.map((r) => r.timings.startAt),
      '  start(): config + init() ‖, then create()': rows.map((r) => r.timings.startMs),
      '  of which init() (wasm instantiate)': rows.map((r) => r.timings.initMs),
      '  of which SidebarAuth.create()': rows.map((r) => r.timings.createMs),
      '  of which accessToken()': rows.map((r) => r.accessTokenMs),
      'warm worker: page round trip': warm,
      'API call via a woken worker (waits for the vault)': fetchCold,
      '  the same call, warm worker (network, emulator)': fetchWarm,
      'FLOOR page round trip (wake → answer at the page)': floorRows.map((r) => r.roundTripMs),
      'FLOOR worker: start → answer': floorRows.map((r) => r.tokenAt),
      'FLOOR warm worker: page round trip': floorWarm,
    };
    console.log(`Service-worker wake → first access token (Chromium ${((await cdp.send('Browser.getVersion')).product)}, ${RUNS} runs, wasm ${(wasm.length / 1024).toFixed(0)} KiB raw)`);
    console.log(`${"ms".padEnd(52)} median     min     max`);
    for (const [label, values] of Object.entries(cols)) {
      const s = stats(values);
      console.log(`${label.padEnd(50)} ${fmt(s.median)} ${fmt(s.min)} ${fmt(s.max)}`);
    }
    for (const peer of peers) {
      const label = `${peer.peer} ${peer.version}`;
      const s = stats(peer.rows.map((r) => r.roundTripMs));
      const w = stats(peer.rows.map((r) => r.tokenAt));
      console.log(`${`${label}: page round trip`.padEnd(50)} ${fmt(s.median)} ${fmt(s.min)} ${fmt(s.max)}`);
      console.log(`${`${label}: worker start → token`.padEnd(50)} ${fmt(w.median)} ${fmt(w.min)} ${fmt(w.max)}`);
      if (peer.errors.size) console.log(`  ${label}: ${peer.rows.length}/${RUNS} wakes answered a token; the worker said: ${[...peer.errors].join(' | ')}`);
    }
    if (TRACED_WAKES) {
      const median = (key) => stats(traced.map((t) => t[key])).median;
      const line = (label, n, ms) => console.log(`  ${label.padEnd(58)} ${n == null ? '' : String(Math.round(median(n))).padStart(5)} ${fmt(median(ms))} ms`);
      console.log(`Where a wake's worker time goes before the first token (Chromium trace of ${traced.length} more wakes; medians; the trace slows a wake, compare the counts):`);
      line('wasm functions compiled on their first call', 'wasmLazyN', 'wasmLazyMs');
      line('JS functions compiled on their first call', 'jsLazyN', 'jsLazyMs');
      line('worker script compiled', null, 'scriptCompileMs');
      line('worker script evaluated (top level, engine start included)', null, 'moduleEvaluateMs');
      line('init(): wasm streaming compile', null, 'wasmStreamingMs');
    }
    const ratio = (a, b) => (stats(a).median / stats(b).median).toFixed(2);
    const ours = cols['page round trip (wake → token at the page)'];
    const toPeers = peers.map((p) => `${p.peer} ${p.rows.length ? ratio(ours, p.rows.map((r) => r.roundTripMs)) : '-'}`);
    console.log(`ratio of our wake to each peer's (medians): ${toPeers.join(', ')} (issue 12: below msal-browser's)`);
    console.log(`ratio to the bare JS floor (medians): wake ${ratio(cols['page round trip (wake → token at the page)'], cols['FLOOR page round trip (wake → answer at the page)'])} (goal <= 1.25), warm call ${ratio(warm, floorWarm)} (goal <= 1)`);
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

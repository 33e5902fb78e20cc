// The service worker: the engine (pkg/, WebAssembly) and the wiring of chrome.* to it.
//
// It owns the only engine instance the product runs. Extension pages (the side panel) and
// the Gmail content script talk to it by messages; it checks every sender, answers with
// views and API responses, and never hands out a token. Listeners are registered
// synchronously at the top level, as MV3 requires for a worker woken by an event.
//
//   alarm 'sidebar-auth-wake'   → auth.tick()   (the engine's scheduleWake)
//   every worker start, online  → auth.online() (catch-up after termination, sleep or an
//                                                outage: a transient backoff ends at once)
//   messages (see `handlers`)   → engine calls, authorized fetch, open the side panel
//   port 'sidebar-auth:view'    → the DashboardView, pushed on every change
//   view needs attention        → badge "!", a notification; its click opens the side panel

import init, { SidebarAuth, discoveryOrigins } from './pkg/sidebar_auth.js';
import { loadExtensionConfig, engineConfig } from './lib/config.js';
import { chromeDriver, WAKE_ALARM } from './lib/driver.js';
import { senderKind } from './lib/senders.js';
import { contentFetchAllowed, contentOperations } from './lib/content-policy.js';
import { matchesAny, patternForOrigin } from './lib/match.js';
import { attentionKeeper, serviceOfNotification } from './lib/attention.js';
import { restrictStorageToExtension } from './lib/storage-access.js';

export const VIEW_PORT = 'sidebar-auth:view';

/** What this worker instance has done so far (the wake benchmark and tests read it). */
export const lifecycle = {
  instance: crypto.randomUUID(),
  startedAt: Date.now(),
  /** The first event that reached this instance: 'alarm:<name>', 'message', 'connect', ... */
  firstEvent: null,
  /** performance.now() marks (ms since this worker started) and durations. */
  timings: { scriptAt: performance.now() },
};

function saw(event) {
  lifecycle.firstEvent ??= event;
}

/** Engine methods an extension page may call. Never `accessToken`: no page gets a token. */
const PAGE_METHODS = new Set([
  'view',
  'connect',
  'reauthorize',
  'retryNow',
  'disconnect',
  'selectMailService',
  'eventLog',
  // On-premises Exchange: the password goes to the worker and is kept only in the sealed
  // vault; "I'm not sure" probes run here (EWS and autodiscover send no CORS headers).
  'signInWithPassword',
  'discoverMailService',
]);

const ports = new Set();
const attention = attentionKeeper({ iconUrl: chrome.runtime.getURL('icons/icon128.png') });

let host = null;
let opened = null;

/**
 * The engine as soon as it can answer `accessToken` (`{auth, file}`): `SidebarAuth.wake`
 * answers from the session cache while the vault is still closed, when that cache names the
 * stored vault (the reasoning: src/web/executor.rs, `open`). Started once per worker instance.
 */
export function started() {
  if (!host) {
    host = start();
    host.catch((err) => {
      console.error('sidebar-auth: the engine did not start:', err?.message ?? err);
      host = null; // the next event tries again
      opened = null;
    });
  }
  return host;
}

/** The running engine with its vault opened: what everything but a token waits for. */
export function ready() {
  if (!opened) {
    opened = started().then(async (running) => {
      await running.auth.opened();
      return running;
    });
    opened.catch((err) => {
      console.error('sidebar-auth: the vault could not be opened:', err?.message ?? err);
      host = null; // the next event starts a new engine, which reads storage again
      opened = null;
    });
  }
  return opened;
}

/**
 * The module's bytes, asked for as soon as this script runs: the fetch overlaps the rest of
 * the worker's start. By extension URL, not `import.meta.url`: the build bundles this file
 * into the service worker's one script, wherever the manifest puts it.
 */
const engineBytes = fetch(chrome.runtime.getURL('pkg/sidebar_auth_bg.wasm'));
engineBytes.catch(() => {}); // a failure surfaces in start(), which retries with a new fetch
let engineFetch = engineBytes;

async function start() {
  const t0 = performance.now();
  lifecycle.timings.startAt = t0;
  // Before anything is read or written: storage for trusted contexts only, or no start.
  // (Measured, issue 12: running it and the engine's first storage reads beside init()
  // made init() about 7 ms slower and the wake no faster, in two alternated pairs.)
  await restrictStorageToExtension();
  const [file] = await Promise.all([
    loadExtensionConfig(),
    (async () => {
      const i0 = performance.now();
      const bytes = engineFetch ?? fetch(chrome.runtime.getURL('pkg/sidebar_auth_bg.wasm'));
      engineFetch = null; // a response body is read once: a retry fetches again
      await init({ module_or_path: bytes });
      lifecycle.timings.initMs = performance.now() - i0;
    })(),
  ]);
  const c0 = performance.now();
  const auth = await SidebarAuth.wake(engineConfig(file), chromeDriver());
  lifecycle.timings.createMs = performance.now() - c0;
  lifecycle.timings.startMs = performance.now() - t0;
  lifecycle.timings.readyAt = performance.now();
  auth.subscribe(onView);
  // The first view (badge, open ports) waits for the vault, and one task more: the event
  // that woke the worker is answered first (issue 12: the view delayed the first token).
  auth.opened().then(
    () => setTimeout(() => onView(auth.view()), 0),
    () => {},
  );
  return { auth, file };
}

// The engine starts now, before the rest of this script registers its listeners: that
// top-level code took about 10 ms of a wake (issue 12). start() runs up to its first await
// here; the message or alarm that woke the worker is dispatched after the script ends.
ready();

function onView(view) {
  for (const port of ports) {
    try {
      port.postMessage({ type: 'view', view });
    } catch {
      ports.delete(port);
    }
  }
  attention.update(view);
}

function tick() {
  return ready()
    .then(({ auth }) => auth.tick())
    .catch(() => {});
}

/** Start and `online`: like tick(), and a transient-failure backoff ends at once. */
function online() {
  return ready()
    .then(({ auth }) => auth.online())
    .catch(() => {});
}

/** The start's catch-up, one task after the engine is ready: the message or alarm that woke
 * the worker reaches the engine first (an `accessToken` answered from the session cache
 * needs no catch-up; one that needs a refresh makes it itself). */
function catchUp() {
  return ready()
    .then(() => new Promise((resolve) => setTimeout(resolve, 0)))
    .then(online);
}

/** A rejection as a plain, cloneable object (the engine's are `{code, message, ...}`). */
export function plainError(err) {
  if (err && typeof err === 'object') {
    const out = { code: String(err.code ?? 'error'), message: String(err.message ?? 'Something went wrong.') };
    for (const k of ['service', 'reason', 'action', 'providerCode', 'retryAt']) if (err[k] != null) out[k] = err[k];
    return out;
  }
  return { code: 'error', message: String(err) };
}

function forbidden(message = 'Not allowed.') {
  return { error: { code: 'forbidden', message } };
}

/** Only strings go to the engine's fetch: a method, string headers, a string body. */
function cleanInit(init) {
  const out = {};
  if (!init || typeof init !== 'object') return out;
  if (typeof init.method === 'string') out.method = init.method;
  if (typeof init.body === 'string') out.body = init.body;
  if (init.headers && typeof init.headers === 'object') {
    out.headers = {};
    for (const [k, v] of Object.entries(init.headers)) if (typeof v === 'string') out.headers[k] = v;
  }
  return out;
}

async function openSidePanel({ tabId, windowId } = {}) {
  try {
    if (tabId !== undefined) await chrome.sidePanel.open({ tabId });
    else await chrome.sidePanel.open({ windowId: windowId ?? (await chrome.windows.getLastFocused()).id });
    return { opened: 'side_panel' };
  } catch {
    // No user gesture reached us, or no window: the same page in a tab.
    await chrome.tabs.create({ url: chrome.runtime.getURL('sidepanel.html') });
    return { opened: 'tab' };
  }
}

/** Opens Sync Settings for a notification the user clicked. */
export async function onNotificationClicked(id) {
  const service = serviceOfNotification(id);
  if (!service) return null;
  const result = await openSidePanel();
  await chrome.notifications.clear(id);
  return result;
}

/** Origins the user still has to allow (a Salesforce instance on their own My Domain). */
async function missingPermissions(auth) {
  const state = auth.debugState();
  const granted = await chrome.permissions.getAll();
  const missing = [];
  for (const c of Object.values(state?.connections ?? {})) {
    if (!c?.instanceUrl) continue;
    let origin;
    try {
      origin = new URL(c.instanceUrl).origin;
    } catch {
      continue;
    }
    if (!matchesAny(`${origin}/`, granted.origins ?? [])) missing.push(patternForOrigin(origin));
  }
  return [...new Set(missing)];
}

/**
 * Messages, by `type`. `from` lists who may send it: 'extension' (the extension's own
 * pages) and/or 'content' (its content scripts on the manifest's pages). Anything else,
 * and any type not listed, is refused.
 */
export const handlers = new Map([
  [
    'sidebar-auth:call',
    {
      from: ['extension'],
      async run(msg) {
        if (!PAGE_METHODS.has(msg.method)) return { ok: false, error: forbidden(`"${String(msg.method)}" is not available to pages.`).error };
        const { auth } = await ready();
        try {
          const args = Array.isArray(msg.args) ? msg.args : [];
          return { ok: true, value: await auth[msg.method](...args) };
        } catch (err) {
          return { ok: false, error: plainError(err) };
        }
      },
    },
  ],
  [
    // An API call with the service's token attached, made here; the caller gets the
    // response, never the token. The engine sends the token only to the service's own
    // API origins (Salesforce: its instance_url).
    'sidebar-auth:fetch',
    {
      from: ['extension', 'content'],
      async run(msg, _sender, kind) {
        if (typeof msg.service !== 'string' || typeof msg.url !== 'string') {
          return { error: { code: 'invalid_argument', message: 'service and url must be strings.' } };
        }
        const { auth, file } = await ready();
        if (kind === 'content') {
          // Content scripts get only the operations the sidebar declares (content-policy.js).
          const verdict = contentFetchAllowed(contentOperations(file), file.apiBases ?? {}, msg);
          if (!verdict.ok) return forbidden(`Not available to content scripts: ${verdict.reason}.`);
        }
        try {
          const r = await auth.fetch(msg.service, msg.url, cleanInit(msg.init));
          return { status: r.status, headers: r.headers, body: r.body };
        } catch (err) {
          return { error: plainError(err) };
        }
      },
    },
  ],
  [
    // What a content script needs to draw its entry point: API roots and statuses only.
    'sidebar-auth:info',
    {
      from: ['extension', 'content'],
      async run() {
        const { auth, file } = await ready();
        const services = [];
        for (const section of auth.view().sections ?? []) {
          for (const c of section.connections ?? []) services.push({ service: c.service, title: c.title, status: c.status });
        }
        return { apiBases: file.apiBases ?? {}, services };
      },
    },
  ],
  [
    'sidebar-auth:open-panel',
    {
      from: ['extension', 'content'],
      // Synchronous start: sidePanel.open must run while the user's click still counts.
      run(_msg, sender) {
        return openSidePanel(sender.tab ? { tabId: sender.tab.id } : {});
      },
    },
  ],
  [
    // The origins "I'm not sure" probes for an address (the engine's answer), so the side
    // panel can ask for them (chrome.permissions.request) before the lookup runs here.
    'sidebar-auth:discovery-origins',
    {
      from: ['extension'],
      async run(msg) {
        await ready();
        return { origins: typeof msg.email === 'string' ? discoveryOrigins(msg.email) : [] };
      },
    },
  ],
  [
    'sidebar-auth:missing-permissions',
    {
      from: ['extension'],
      async run() {
        const { auth } = await ready();
        return { origins: await missingPermissions(auth) };
      },
    },
  ],
]);

chrome.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  saw('message');
  const kind = senderKind(sender);
  const handler = msg && typeof msg.type === 'string' ? handlers.get(msg.type) : undefined;
  if (!kind || !handler || !handler.from.includes(kind)) {
    sendResponse(forbidden());
    return false;
  }
  let result;
  try {
    result = handler.run(msg, sender, kind);
  } catch (err) {
    result = Promise.reject(err);
  }
  Promise.resolve(result).then(sendResponse, (err) => sendResponse({ error: plainError(err) }));
  return true;
});

chrome.runtime.onConnect.addListener((port) => {
  saw('connect');
  if (port.name !== VIEW_PORT || senderKind(port.sender) !== 'extension') {
    port.disconnect();
    return;
  }
  ports.add(port);
  port.onDisconnect.addListener(() => ports.delete(port));
  ready().then(
    ({ auth }) => port.postMessage({ type: 'view', view: auth.view() }),
    (err) => port.postMessage({ type: 'error', error: plainError(err) }),
  );
});

chrome.alarms.onAlarm.addListener((alarm) => {
  saw(`alarm:${alarm.name}`);
  if (alarm.name === WAKE_ALARM) tick();
});

chrome.notifications.onClicked.addListener((id) => {
  saw('notification');
  onNotificationClicked(id).catch(() => {});
});

chrome.runtime.onStartup.addListener(() => saw('startup'));
chrome.runtime.onInstalled.addListener(() => saw('installed'));

// Settings that persist, applied on every start (idempotent): the toolbar button opens the
// side panel. (chrome.storage's access level is set by start(), which refuses to run
// without it: lib/storage-access.js.)
function quietly(call) {
  try {
    Promise.resolve(call()).catch(() => {});
  } catch {
    /* an API this Chromium does not have */
  }
}
quietly(() => chrome.sidePanel.setPanelBehavior({ openPanelOnActionClick: true }));

// Catch-up: whatever was due while the worker was stopped (or the machine slept), and
// whatever waited for the network.
self.addEventListener('online', () => void online());
catchUp();

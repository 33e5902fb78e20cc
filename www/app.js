// Bootstrap of the web host page (www/index.html), also used by www/devtools.html.
//
//   /www/index.html                    the engine (/pkg/sidebar_auth.js, build-engine.sh)
//   ?config=/path/config.json           another configuration (same origin only)
//
// The page has no test switch and puts nothing on `window`: tests get their hook from the
// test server (tests/support/test-hooks.mjs).
//
// Exports bootWebHost() for other pages; runs the dashboard when the page says
// <body data-page="dashboard">.

import { mountDashboard } from './dashboard.js';
import { webHostDriver } from './host-web.js';

export const DEFAULT_CONFIG_URL = '/www/config.json';
/** What the web host says where a mail server would be reached directly (on-premises Exchange). */
export const WEB_HOST_NO_EWS =
  'A web page cannot reach your company’s Exchange server (it does not allow pages of other sites to call it). Use the browser extension or the Outlook add-in to connect it.';
/** The Web Lock held by the one page (tab) whose engine keeps the connections current. */
export const ENGINE_LOCK = 'sidebar-auth.engine';

/**
 * Load the engine configuration. A `?config=` URL must be on this origin: a configuration
 * names the identity provider endpoints, so a link must not be able to point the page at
 * someone else's.
 */
export async function loadConfig(params) {
  const raw = params.get('config') || DEFAULT_CONFIG_URL;
  const url = new URL(raw, location.href);
  if (url.origin !== location.origin) {
    throw { code: 'config_rejected', message: `The configuration must come from this site (${location.origin}), not ${url.origin}.` };
  }
  let res;
  try {
    res = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
  } catch (err) {
    throw { code: 'config_unavailable', message: `Could not load the configuration ${url.pathname}: ${err?.message ?? err}` };
  }
  if (!res.ok) throw { code: 'config_unavailable', message: `Could not load the configuration ${url.pathname} (HTTP ${res.status}).` };
  try {
    return await res.json();
  } catch {
    throw { code: 'config_invalid', message: `The configuration ${url.pathname} is not valid JSON.` };
  }
}

export async function loadEngineModule() {
  try {
    return await import(new URL('../pkg/sidebar_auth.js', import.meta.url).href);
  } catch (err) {
    throw {
      code: 'engine_missing',
      message: 'The engine is not built. Run `bash build-engine.sh` (or `make demo`).',
      cause: String(err?.message ?? err),
    };
  }
}

/** The engine module with its WebAssembly instantiated (fetched and compiled as it streams). */
export async function startEngine() {
  const module = await loadEngineModule();
  await module.default();
  return module;
}

/**
 * One engine per browser profile at a time. Every page of the web host (dashboard, devtools)
 * runs its own engine instance over the same stored vault, and the engine keeps refresh
 * tokens in memory: two tabs would each refresh with their own copy, and with rotating
 * refresh tokens (Microsoft, Salesforce) the second use of a rotated-away token makes the
 * provider revoke the whole grant (AADSTS50173). So the newest page takes the Web Lock
 * (`steal`), loads the vault after the previous holder let go, and the page that lost the
 * lock stops its engine (`onLost`). Without Web Locks there is nothing to coordinate with.
 */
export async function takeEngineLock(onLost) {
  const locks = globalThis.navigator?.locks;
  if (!locks?.request) return;
  await new Promise((resolve) => {
    locks
      .request(ENGINE_LOCK, { steal: true }, () => {
        resolve();
        return new Promise(() => {}); // held until the page goes away or another one steals it
      })
      .catch((err) => {
        resolve();
        if (err?.name === 'AbortError') onLost();
      });
  });
}

/**
 * Load config and engine, create the engine with the web host driver, and wire wake-ups.
 * `onSuperseded()` is called when another page of this profile took over the engine (see
 * takeEngineLock); this page's engine has then stopped waking up and must not be used.
 * @returns {Promise<{auth: object, driver: object, config: object, module: object,
 *   tick: () => Promise<void>, isSuperseded: () => boolean}>}
 */
export async function bootWebHost({ params = new URLSearchParams(location.search), onSuperseded } = {}) {
  // The configuration and the engine (module, .wasm, compile) are asked for at once: one
  // after the other they cost the page a round trip and the compile in turn (issue 12,
  // cold start). The engine lock is taken only once both are here: a page that cannot start
  // (a bad configuration) must not take the engine from a tab that runs.
  const [config, module] = await Promise.all([loadConfig(params), startEngine()]);

  let auth = null;
  let ticking = null;
  let onlineAfter = false;
  let superseded = false;
  // One tick at a time; a wake-up during a tick is covered by the tick's own reschedule.
  // `online`: the network came back (or the page started): a connection waiting out a
  // transient failure retries at once instead of at the end of its backoff (up to an hour
  // for the engine's own retry). An `online` during a tick runs after it, never dropped:
  // the running tick may have scheduled the long wait that `online` cuts short.
  const tick = (online = false) => {
    if (!auth || superseded) return Promise.resolve();
    if (ticking) {
      if (online) onlineAfter = true;
      return ticking;
    }
    ticking = Promise.resolve()
      .then(() => (online ? auth.online() : auth.tick()))
      .catch((err) => console.warn('[sidebar-auth] tick failed:', err?.code ?? err))
      .finally(() => {
        ticking = null;
        if (onlineAfter) {
          onlineAfter = false;
          void tick(true);
        }
      });
    return ticking;
  };
  const driver = webHostDriver({ onWake: () => void tick() });
  await takeEngineLock(() => {
    superseded = true;
    driver.dispose();
    try {
      onSuperseded?.();
    } catch (err) {
      console.error('[sidebar-auth] onSuperseded failed', err);
    }
  });
  auth = await module.SidebarAuth.create(config, driver);

  // Background tabs throttle timers and a sleeping laptop skips them: catch up when the page
  // is seen again or the network comes back. (The engine decides whether anything is due.)
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void tick();
  });
  window.addEventListener('online', () => void tick(true));
  void tick(true);

  return { auth, driver, config, module, tick, isSuperseded: () => superseded };
}

/** The box a page shows after another page took over the engine. */
export function supersededBox() {
  const box = document.createElement('div');
  box.className = 'sa-superseded';
  box.setAttribute('role', 'status');
  box.setAttribute('data-testid', 'superseded');
  const text = document.createElement('p');
  text.textContent =
    'Sync Settings is open in another tab or window, which now keeps your connections up to date. Reload to use it here.';
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'sa-btn sa-btn--primary';
  button.textContent = 'Reload';
  button.addEventListener('click', () => location.reload());
  box.append(text, button);
  return box;
}

export function showBootError(root, err) {
  const box = document.createElement('div');
  box.className = 'sa-boot-error';
  box.setAttribute('role', 'alert');
  box.setAttribute('data-testid', 'boot-error');
  const title = document.createElement('strong');
  title.textContent = 'Sync Settings could not start. ';
  const text = document.createElement('span');
  text.textContent = err?.message ?? String(err);
  box.append(title, text);
  root.replaceChildren(box);
}

async function main() {
  const root = document.getElementById('app');
  const devtoolsLink = document.querySelector('a[href="devtools.html"]');
  if (devtoolsLink) devtoolsLink.search = location.search;
  let dashboard = null;
  let superseded = false;
  const onSuperseded = () => {
    superseded = true;
    dashboard?.unmount();
    root.replaceChildren(supersededBox());
  };
  try {
    const host = await bootWebHost({ onSuperseded });
    // A web page cannot reach an Exchange server: EWS and Autodiscover send no CORS headers
    // (providers.md), so the password forms say where it works instead.
    if (!superseded) dashboard = mountDashboard(root, host.auth, { passwordSignInUnavailable: WEB_HOST_NO_EWS });
    document.body.setAttribute('data-ready', 'true');
  } catch (err) {
    console.error('[sidebar-auth] boot failed', err);
    showBootError(root, err);
    document.body.setAttribute('data-ready', 'error');
  }
}

if (document.body?.dataset.page === 'dashboard') main();

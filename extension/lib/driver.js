// The chrome host driver: the few host functions the engine calls (HostDriver in
// pkg/sidebar_auth.d.ts), wired to chrome.* APIs and nothing else. Used by the service
// worker; an extension page may use it too (the Web Locks and storage are shared).
//
//   openSignIn   chrome.identity.launchWebAuthFlow({url, interactive})
//   load/save    the vault text (already encrypted by the engine) in chrome.storage.local
//   loadSession/saveSession   access tokens, chrome.storage.session only (memory, trusted contexts)
//   withLock     navigator.locks.request(name, task): one renewal at a time across contexts
//   scheduleWake chrome.alarms.create(WAKE_ALARM, {when})

export const VAULT_KEY = 'sidebar-auth:vault';
export const SESSION_KEY = 'sidebar-auth:session';
export const WAKE_ALARM = 'sidebar-auth-wake';

/** launchWebAuthFlow's rejection texts (Chromium identity_api) → the engine's codes. */
const FLOW_ERRORS = [
  ['The user did not approve access.', 'sign_in_cancelled'],
  ['User interaction required.', 'interaction_required'],
];

export function signInError(err) {
  const message = String(err?.message ?? err ?? '');
  for (const [text, code] of FLOW_ERRORS) {
    if (message.includes(text)) return { code, message: text };
  }
  // Anything else ("Authorization page could not be loaded.", ...) is a host error; the
  // message never carries the URL (it may hold a code).
  return { code: 'host_error', message: message.replace(/\S*:\/\/\S*/g, '[url]').slice(0, 200) };
}

/**
 * Keeps the service worker alive while a sign-in window is open (an interactive sign-in
 * may take minutes; an idle worker is stopped after 30 s and would lose the flow).
 */
function keepAlive() {
  const timer = setInterval(() => chrome.runtime.getPlatformInfo().catch(() => {}), 20_000);
  return () => clearInterval(timer);
}

/**
 * `prefetch`: the vault and the session cache are read now, and the engine's first
 * `load()` and `loadSession()` get those reads (a wake overlaps them with instantiating the
 * module); every later call reads storage again.
 * @returns {import('../pkg/sidebar_auth.js').HostDriver}
 */
export function chromeDriver({ prefetch = false } = {}) {
  const read = (area, key) => chrome.storage[area].get(key).then((stored) => (typeof stored[key] === 'string' ? stored[key] : null));
  const first = prefetch ? { load: read('local', VAULT_KEY), loadSession: read('session', SESSION_KEY) } : {};
  for (const p of Object.values(first)) p.catch(() => {}); // a failure reaches the engine's call
  const once = (name) => {
    const p = first[name];
    delete first[name];
    return p;
  };
  return {
    silentSignIn: true,

    async openSignIn(url, _redirectUri, interactive) {
      // The redirect URI is chrome.identity.getRedirectURL() (the engine's config says so);
      // launchWebAuthFlow finishes when the provider redirects to it.
      const release = keepAlive();
      try {
        const redirect = await chrome.identity.launchWebAuthFlow({ url, interactive });
        if (!redirect) throw { code: 'sign_in_cancelled', message: 'The sign-in returned nothing.' };
        return redirect;
      } catch (err) {
        throw err?.code ? err : signInError(err);
      } finally {
        release();
      }
    },

    load() {
      return once('load') ?? read('local', VAULT_KEY);
    },

    async save(text) {
      await chrome.storage.local.set({ [VAULT_KEY]: text });
    },

    loadSession() {
      return once('loadSession') ?? read('session', SESSION_KEY);
    },

    async saveSession(text) {
      await chrome.storage.session.set({ [SESSION_KEY]: text });
    },

    withLock(name, task) {
      return navigator.locks.request(name, () => task());
    },

    scheduleWake(epochMs) {
      // Unpacked extensions get any delay; packed ones at least 30 s (Chrome rounds up).
      chrome.alarms.create(WAKE_ALARM, { when: Math.max(epochMs, Date.now()) })?.catch?.(() => {});
    },
  };
}

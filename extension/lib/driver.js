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

/** @returns {import('../pkg/sidebar_auth.js').HostDriver} */
export function chromeDriver() {
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

    async load() {
      const stored = await chrome.storage.local.get(VAULT_KEY);
      return typeof stored[VAULT_KEY] === 'string' ? stored[VAULT_KEY] : null;
    },

    async save(text) {
      await chrome.storage.local.set({ [VAULT_KEY]: text });
    },

    async loadSession() {
      const stored = await chrome.storage.session.get(SESSION_KEY);
      return typeof stored[SESSION_KEY] === 'string' ? stored[SESSION_KEY] : null;
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

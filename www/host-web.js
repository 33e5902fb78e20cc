// The web host driver: how the engine opens a sign-in window, persists its vault and gets
// woken up, when it runs in a plain page (the dashboard demo and the devtools page).
//
// It implements the engine's HostDriver contract:
//   openSignIn(url, redirectUri, interactive): Promise<string>  full redirect URL
//   load(): Promise<string|null>     save(text): Promise<void>
//   now(): number                    scheduleWake(epochMs): void
//   withLock(name, task): Promise    the Web Locks API (navigator.locks), when the browser has it
// plus host-side helpers the engine never calls:
//   onWake(fn)          register the callback a wake-up runs (the page passes () => auth.tick())
//   ignoredMessages()   what the sign-in listener ignored (reason, origin, time; never a URL)
//   dispose()           cancel the timer and any pending sign-in
//
// Nothing here decides anything about OAuth: the engine builds the authorization URL, checks
// the redirect (state, iss, error) again and redeems the code. The driver only makes sure the
// URL it hands back came from the sign-in window it opened, on this origin, for this request.

import { wakeTimer } from './wake-timer.js';

export const VAULT_KEY = 'sidebar-auth.vault';
export const SIGN_IN_WINDOW_NAME = 'sidebar-auth-signin';
export const SIGN_IN_WINDOW_FEATURES = 'popup,width=520,height=680';
export const REDIRECT_MESSAGE_TYPE = 'sidebar-auth:redirect';
export { MAX_TIMEOUT_MS } from './wake-timer.js';

function hostError(code, message, extra = {}) {
  return { code, message, ...extra };
}

/** The `state` parameter of a URL (query, or fragment for response_mode=fragment). */
export function stateOf(url) {
  try {
    const u = new URL(url);
    const fromQuery = u.searchParams.get('state');
    if (fromQuery !== null) return fromQuery;
    if (u.hash.length > 1) return new URLSearchParams(u.hash.slice(1)).get('state');
  } catch {
    /* not a URL */
  }
  return null;
}

/**
 * Create the web HostDriver.
 * @param {object} [options]
 * @param {Window} [options.window]        the page's window (tests may pass another)
 * @param {Storage} [options.storage]      defaults to window.localStorage
 * @param {string} [options.storageKey]    defaults to 'sidebar-auth.vault'
 * @param {number} [options.pollMs]        how often to check whether the pop-up was closed
 * @param {number} [options.closeGraceMs]  after the pop-up is seen closed, how long a result
 *                                         message that is already on its way may still arrive
 * @param {() => void} [options.onWake]    the wake-up callback (or register it with onWake())
 * @param {(entry: {reason: string, origin: string, at: number}) => void} [options.log]
 */
export function webHostDriver(options = {}) {
  const win = options.window ?? globalThis.window;
  const storageKey = options.storageKey ?? VAULT_KEY;
  const pollMs = options.pollMs ?? 250;
  const closeGraceMs = options.closeGraceMs ?? 600;
  const log =
    options.log ??
    ((entry) => console.warn(`[sidebar-auth] ignored a sign-in message (${entry.reason}) from ${entry.origin || 'unknown origin'}`));
  const storage = () => options.storage ?? win.localStorage;

  const wake = wakeTimer(win, options.onWake ?? null);
  /** The one sign-in in flight: the pop-up has a fixed name, so there can only be one. */
  let pending = null;
  const ignored = [];

  function ignore(reason, event) {
    const entry = { reason, origin: typeof event.origin === 'string' ? event.origin : '', at: Date.now() };
    ignored.push(entry);
    if (ignored.length > 100) ignored.shift();
    try {
      log(entry);
    } catch {
      /* a logger must not break sign-in */
    }
  }

  function finish(p, outcome) {
    if (pending !== p) return;
    pending = null;
    win.removeEventListener('message', p.onMessage);
    win.clearInterval(p.poll);
    if (p.grace) win.clearTimeout(p.grace);
    if (outcome.ok) p.resolve(outcome.url);
    else p.reject(outcome.error);
  }

  const driver = {
    /**
     * Open the provider's sign-in page in a pop-up and resolve with the URL it redirects to
     * (delivered by www/callback.html through postMessage).
     */
    openSignIn(url, redirectUri, interactive) {
      if (!interactive) {
        // The web host has no silent flow. A hidden iframe (prompt=none) needs the provider's
        // session cookie, which browsers now partition or block as a third-party cookie, and
        // Microsoft/Google/Salesforce send frame-blocking headers on their sign-in pages; a
        // pop-up without a user gesture is blocked. So we say "interaction required" at once
        // and the engine asks the user (Refresh) instead of hanging on an invisible window.
        return Promise.reject(
          hostError('interaction_required', 'Signing in again needs you: the web page cannot sign in silently.'),
        );
      }
      const expectedState = stateOf(url);
      if (!expectedState) {
        return Promise.reject(hostError('invalid_request', 'The sign-in URL has no state parameter.'));
      }
      if (pending) {
        // A second sign-in re-uses the named window; the first one is over.
        finish(pending, { ok: false, error: hostError('sign_in_cancelled', 'Another sign-in was started.') });
      }
      let popup;
      try {
        popup = win.open(url, SIGN_IN_WINDOW_NAME, SIGN_IN_WINDOW_FEATURES);
      } catch {
        popup = null;
      }
      if (!popup) {
        return Promise.reject(
          hostError('popup_blocked', 'The sign-in window was blocked. Allow pop-ups for this page and try again.'),
        );
      }
      try {
        popup.focus();
      } catch {
        /* cross-origin focus may throw in some browsers */
      }
      return new Promise((resolve, reject) => {
        const p = { resolve, reject, popup, expectedState, redirectUri, poll: null, grace: null, onMessage: null };
        p.onMessage = (event) => {
          if (event.origin !== win.location.origin) return ignore('origin', event);
          if (event.source !== popup) return ignore('source', event);
          const data = event.data;
          if (!data || typeof data !== 'object' || data.type !== REDIRECT_MESSAGE_TYPE || typeof data.url !== 'string') {
            return ignore('shape', event);
          }
          if (stateOf(data.url) !== expectedState) return ignore('state', event);
          finish(p, { ok: true, url: data.url });
        };
        p.poll = win.setInterval(() => {
          let closed;
          try {
            closed = popup.closed;
          } catch {
            closed = false;
          }
          if (closed && !p.grace) {
            // The callback page posts its message and then closes itself; the message may
            // still be queued behind this timer. Give it a moment before calling it cancelled.
            p.grace = win.setTimeout(
              () => finish(p, { ok: false, error: hostError('sign_in_cancelled', 'The sign-in window was closed before signing in finished.') }),
              closeGraceMs,
            );
          }
        }, pollMs);
        pending = p;
        win.addEventListener('message', p.onMessage);
      });
    },

    async load() {
      try {
        return storage().getItem(storageKey);
      } catch (err) {
        throw hostError('storage_unavailable', `Could not read saved connections: ${err?.name ?? 'storage error'}`);
      }
    },

    async save(text) {
      try {
        storage().setItem(storageKey, text);
      } catch (err) {
        throw hostError('storage_unavailable', `Could not save connections: ${err?.name ?? 'storage error'}`);
      }
    },

    now() {
      return Date.now();
    },

    // No loadSession/saveSession: the engine's session cache holds access tokens as text,
    // and in a page that would mean sessionStorage, which every script of the origin reads.
    // Each page refreshes once when it starts instead.

    /**
     * Run `task` holding the cross-context lock `name`. The engine renews under it and
     * re-reads the vault first, so two pages of this origin (two tabs, the dashboard and the
     * devtools page) never refresh at once nor replay a refresh token the other rotated.
     */
    withLock(name, task) {
      const locks = win.navigator?.locks;
      if (!locks?.request) return Promise.resolve().then(() => task());
      return locks.request(String(name), () => task());
    },

    /** One timer for the whole engine: each call replaces the previous wake-up. */
    scheduleWake(epochMs) {
      wake.schedule(epochMs);
    },

    /** Register the function a wake-up calls (the page: `() => auth.tick()`). */
    onWake(fn) {
      wake.onWake(fn);
    },

    /** When the next wake-up is armed for (epoch ms), or null. */
    scheduledWakeAt() {
      return wake.at();
    },

    /** Messages the sign-in listener ignored: [{reason: 'origin'|'source'|'shape'|'state', origin, at}]. */
    ignoredMessages() {
      return ignored.slice();
    },

    dispose() {
      wake.cancel();
      if (pending) finish(pending, { ok: false, error: hostError('sign_in_cancelled', 'The page was closed.') });
    },
  };
  return driver;
}

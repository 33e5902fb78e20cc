// The office host driver: how the engine opens a sign-in window, persists its vault and gets
// woken up when it runs in an Outlook task pane. The sibling of www/host-web.js.
//
// HostDriver contract (pkg/sidebar_auth.d.ts):
//   openSignIn(url, redirectUri, interactive)  Office dialog: start page -> provider -> callback
//   load() / save(text)                         the sealed vault, IndexedDB of the add-in origin
//   loadSession() / saveSession(text)           the access-token cache, sealed the same way, so
//                                               that two task panes share fresh tokens
//   withLock(name, task)                        Web Locks: two task panes refresh once
//   now(), scheduleWake(epochMs)                timers: the task pane has no background worker
// plus host-side helpers the engine never calls:
//   onWake(fn), takeNote() (the words for the last dialog failure), dispose()
//
// Nothing here decides anything about OAuth: the engine builds the authorization URL, checks
// state and iss and redeems the code. The driver only carries the redirect URL back from the
// dialog it opened, from the add-in's own origin, for this request.
//
// Office documentation followed (OfficeDev/office-js-docs-pr):
//   docs/develop/dialog-api-in-office-add-ins.md    same-origin https first page, messageParent
//   docs/develop/dialog-handle-errors-events.md     every code below
//   docs/develop/dialog-best-practices.md           one dialog per host page; 12007 after close
//   docs/develop/persisting-add-in-state-and-settings.md   Office.context.partitionKey
//   docs/reference/javascript-api-for-office-error-codes.md  12011

import { wakeTimer } from '../www/wake-timer.js';

export const REDIRECT_MESSAGE_TYPE = 'sidebar-auth:redirect';
export const DB_NAME = 'sidebar-auth-addin';
export const STORE = 'kv';
export { MAX_TIMEOUT_MS } from '../www/wake-timer.js';

/** The dialog codes (docs/develop/dialog-handle-errors-events.md). */
export const DIALOG = Object.freeze({
  NOT_FOUND: 12002,
  HTTP_IN_DIALOG: 12003,
  UNTRUSTED_DOMAIN: 12004,
  HTTPS_REQUIRED: 12005,
  CLOSED: 12006,
  ALREADY_OPEN: 12007,
  IGNORED: 12009,
  POPUP_BLOCKED: 12011,
});

function hostError(code, message, extra = {}) {
  return { code, message, ...extra };
}

/** `host/path` of a URL, without scheme or query (the engine drops words with `://`). */
function where(url) {
  try {
    const u = new URL(url);
    return `${u.protocol.replace(':', '')} ${u.host}${u.pathname}`;
  } catch {
    return String(url);
  }
}

export function stateOf(url) {
  try {
    const u = new URL(url);
    const q = u.searchParams.get('state');
    if (q !== null) return q;
    if (u.hash.length > 1) return new URLSearchParams(u.hash.slice(1)).get('state');
  } catch {
    /* not a URL */
  }
  return null;
}

// ---- sealed key-value storage (IndexedDB of the add-in origin) -----------------------------

function idb(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function openDb(indexedDB) {
  const req = indexedDB.open(DB_NAME, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(STORE);
  return idb(req);
}

async function kvGet(indexedDB, key) {
  const db = await openDb(indexedDB);
  try {
    return (await idb(db.transaction(STORE).objectStore(STORE).get(key))) ?? null;
  } finally {
    db.close();
  }
}

async function kvSet(indexedDB, key, value) {
  const db = await openDb(indexedDB);
  try {
    const tx = db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).put(value, key);
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/**
 * The session cache holds access tokens: sealed with AES-GCM under a non-extractable key that
 * IndexedDB keeps (structured clone; script never sees its bytes), as the engine seals the vault.
 */
async function sessionKey(indexedDB, crypto, name) {
  const existing = await kvGet(indexedDB, name);
  if (existing) return existing;
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  await kvSet(indexedDB, name, key);
  return key;
}

/**
 * Whether this page may use IndexedDB. A browser that blocks third-party cookies also
 * blocks every storage API of a third-party iframe (Chromium: "Access is denied for this
 * document"), and the task pane in Outlook on the web is one.
 */
export async function storageAvailable(indexedDB = globalThis.indexedDB) {
  try {
    const db = await openDb(indexedDB);
    db.close();
    return true;
  } catch {
    return false;
  }
}

/** The site of the page the task pane is framed in (Outlook on the web), if the browser says. */
export function outlookSite(win = globalThis.window) {
  const a = win.location.ancestorOrigins;
  if (!a?.length) return null;
  try {
    return new URL(a[a.length - 1]).host;
  } catch {
    return null;
  }
}

// ---- the driver ------------------------------------------------------------------------------

/**
 * @param {object} options
 * @param {object} options.Office          the Office namespace, after Office.onReady
 * @param {URL|string} options.startPage   the dialog's first page (dialog-start.html)
 * @param {Window} [options.window]
 * @param {number} [options.retryDelayMs]  12007 with no dialog of ours: wait this long, retry once
 * @param {() => void} [options.onWake]
 */
export function officeHostDriver(options) {
  const Office = options.Office;
  const win = options.window ?? globalThis.window;
  const startPage = new URL(String(options.startPage), win.location.href);
  const retryDelayMs = options.retryDelayMs ?? 1500;
  const indexedDB = options.indexedDB ?? win.indexedDB;
  // Keys are prefixed with the partition key where Office defines one: in Outlook on the web
  // the same add-in in two mailboxes must not share data
  // (docs/develop/persisting-add-in-state-and-settings.md, "partitionKey").
  const partition = typeof Office.context?.partitionKey === 'string' && Office.context.partitionKey ? Office.context.partitionKey : '';
  const prefix = partition ? `${partition}:` : '';
  const VAULT_KEY = `${prefix}vault`;
  const SESSION_KEY = `${prefix}session`;
  const SESSION_CRYPTO_KEY = `${prefix}session-key`;
  const dialogOrigin = !!Office.context?.requirements?.isSetSupported?.('DialogOrigin', '1.1');

  const wake = wakeTimer(win, options.onWake ?? null);
  /** The dialog of ours that is open, with a promise that settles when it is gone. */
  let current = null;
  let note = null;

  function fail(error, text) {
    // The engine shows its own generic words for a host error; the task pane shows these.
    note = { code: error.code, message: text ?? error.message, at: Date.now() };
    return Promise.reject(error);
  }

  function popupAdvice() {
    // Outlook on the web is the top-level site; the pop-up blocker's exception is for it.
    const site = outlookSite(win) ?? 'Outlook';
    return `Your browser blocked the sign-in window. Allow pop-ups for ${site}: select the blocked pop-up icon at the right of the address bar, choose "Always allow", then try again.`;
  }

  function display(url) {
    return new Promise((resolve) => {
      // promptBeforeOpen stays at its default (true): Office on the web asks Allow/Ignore, which
      // gets past the browser's pop-up blocker (docs/develop/dialog-best-practices.md,
      // "Handle pop-up blockers with Office on the web").
      Office.context.ui.displayDialogAsync(url, { height: 70, width: 40, displayInIframe: false }, (result) => resolve(result));
    });
  }

  async function openDialog(url) {
    let result = await display(url);
    if (result.status === 'failed' && result.error?.code === DIALOG.ALREADY_OPEN) {
      // One dialog per host page (docs/develop/dialog-best-practices.md). Ours: wait until it
      // is closed. Someone else's (or a close still under way, which Office also answers with
      // 12007): wait a moment. Then retry once, as the same page suggests.
      if (current) await current.gone;
      else await new Promise((r) => win.setTimeout(r, retryDelayMs));
      result = await display(url);
    }
    return result;
  }

  const driver = {
    silentSignIn: false,

    async openSignIn(url, redirectUri, interactive) {
      if (!interactive) {
        // A dialog without the user is not possible: Office on the web asks Allow/Ignore first.
        return fail(hostError('interaction_required', 'Signing in again needs you: use Refresh.'));
      }
      const expectedState = stateOf(url);
      if (!expectedState) return fail(hostError('invalid_request', 'The sign-in URL has no state parameter.'));
      note = null;
      const start = new URL(startPage.href);
      start.hash = encodeURIComponent(url);
      const result = await openDialog(start.href);
      if (result.status === 'failed') {
        const code = result.error?.code;
        switch (code) {
          case DIALOG.ALREADY_OPEN:
            return fail(hostError('dialog_already_open', 'Another Outlook dialog of this add-in is still open. Close it, then try again.'));
          case DIALOG.IGNORED:
            return fail(
              hostError('sign_in_cancelled', 'Outlook asked whether to open the sign-in window and it was ignored.'),
              'You chose Ignore when Outlook asked to open the sign-in window. Try again and choose Allow.',
            );
          case DIALOG.POPUP_BLOCKED:
            return fail(hostError('popup_blocked', popupAdvice()));
          case DIALOG.UNTRUSTED_DOMAIN:
            return fail(hostError('dialog_untrusted_domain',
              `The add-in is set up wrong (12004): its sign-in page ${where(start.href)} is not on the add-in's own origin. The manifest's SourceLocation and this page must share scheme, host and port.`));
          case DIALOG.HTTPS_REQUIRED:
            return fail(hostError('dialog_https_required',
              `The add-in is set up wrong (12005): its sign-in page ${where(start.href)} must be served over https.`));
          default:
            return fail(hostError('dialog_failed', `Outlook could not open the sign-in window (${code ?? 'unknown'}: ${result.error?.message ?? 'no reason given'}).`));
        }
      }
      const dialog = result.value;
      return new Promise((resolve, reject) => {
        let settled = false;
        let goneResolve;
        const entry = { gone: new Promise((r) => (goneResolve = r)) };
        current = entry;
        const finish = (outcome, { close = true } = {}) => {
          if (settled) return;
          settled = true;
          if (close) {
            try {
              dialog.close();
            } catch {
              /* already gone */
            }
          }
          if (current === entry) current = null;
          goneResolve();
          if (outcome.ok) resolve(outcome.url);
          else fail(outcome.error, outcome.text).catch(reject);
        };
        dialog.addEventHandler(Office.EventType.DialogMessageReceived, (arg) => {
          // With DialogOrigin 1.1 Office says which origin sent the message; only the add-in's
          // own callback page may answer (docs/develop/dialog-api-in-office-add-ins.md).
          if (dialogOrigin && arg.origin !== undefined && arg.origin !== win.location.origin) return;
          let data;
          try {
            data = JSON.parse(arg.message);
          } catch {
            return;
          }
          if (!data || data.type !== REDIRECT_MESSAGE_TYPE || typeof data.url !== 'string') return;
          if (stateOf(data.url) !== expectedState) return;
          finish({ ok: true, url: data.url });
        });
        dialog.addEventHandler(Office.EventType.DialogEventReceived, (arg) => {
          switch (arg.error) {
            case DIALOG.CLOSED:
              // The user closed the window: nothing changes (the engine keeps the connection).
              return finish({ ok: false, error: hostError('sign_in_cancelled', 'The sign-in window was closed.') }, { close: false });
            case DIALOG.NOT_FOUND:
              return finish({
                ok: false,
                error: hostError('dialog_not_found', 'The sign-in page could not be loaded (12002).'),
                text: 'The sign-in page could not be loaded (12002): check the network connection, then try again. If it keeps happening, the sign-in address of the service may be wrong: tell your administrator.',
              });
            case DIALOG.HTTP_IN_DIALOG: {
              const http = [url, redirectUri].find((u) => u.startsWith('http:'));
              return finish({
                ok: false,
                error: hostError('dialog_http', 'The sign-in window was sent to a page without https (12003).'),
                text: `The add-in is set up wrong (12003): the sign-in went to ${http ? where(http) : 'a page'} over http, and Outlook allows only https in its windows. Tell your administrator.`,
              });
            }
            default:
              return finish({ ok: false, error: hostError('dialog_failed', `The sign-in window reported an error (${arg.error}).`) });
          }
        });
      });
    },

    async load() {
      try {
        return await kvGet(indexedDB, VAULT_KEY);
      } catch (err) {
        throw hostError('storage_unavailable', `Could not read saved connections: ${err?.name ?? 'storage error'}`);
      }
    },

    async save(text) {
      try {
        await kvSet(indexedDB, VAULT_KEY, text);
      } catch (err) {
        throw hostError('storage_unavailable', `Could not save connections: ${err?.name ?? 'storage error'}`);
      }
    },

    async loadSession() {
      try {
        const sealed = await kvGet(indexedDB, SESSION_KEY);
        if (!sealed) return null;
        const key = await sessionKey(indexedDB, win.crypto, SESSION_CRYPTO_KEY);
        const plain = await win.crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv }, key, sealed.data);
        return new TextDecoder().decode(plain);
      } catch {
        return null; // an unreadable cache is an empty one: the engine refreshes
      }
    },

    async saveSession(text) {
      const key = await sessionKey(indexedDB, win.crypto, SESSION_CRYPTO_KEY);
      const iv = win.crypto.getRandomValues(new Uint8Array(12));
      const data = await win.crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(text));
      await kvSet(indexedDB, SESSION_KEY, { iv, data });
    },

    now() {
      return Date.now();
    },

    /** Two task panes (two Outlook windows) renew under one Web Lock, after re-reading storage. */
    withLock(name, task) {
      const locks = win.navigator?.locks;
      if (!locks?.request) return Promise.resolve().then(() => task());
      return locks.request(`${prefix}${name}`, () => task());
    },

    scheduleWake(epochMs) {
      wake.schedule(epochMs);
    },

    onWake(fn) {
      wake.onWake(fn);
    },

    /** The words for the last failed dialog (once), for the task pane to show. */
    takeNote() {
      const n = note;
      note = null;
      return n;
    },

    /** Whether a dialog of ours is open. */
    dialogOpen() {
      return current !== null;
    },

    dispose() {
      wake.cancel();
    },
  };
  return driver;
}

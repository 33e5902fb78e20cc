// The side panel's stand-in for the engine: the object www/dashboard.js mounts on
// (view, subscribe, unsubscribe, connect, reauthorize, retryNow, disconnect,
// selectMailService), forwarding every call to the service worker, which owns the engine.
// Views arrive on a port; calls go by chrome.runtime.sendMessage. No method returns a
// token: `fetch` returns the API's response, made by the worker.

import { originCovered, patternForOrigin } from './lib/match.js';

export const VIEW_PORT = 'sidebar-auth:view';
const RECONNECT_MS = 1_000;

function unwrap(reply) {
  if (reply === undefined) throw { code: 'no_answer', message: 'The extension did not answer. Try again.' };
  if (reply.error) throw reply.error;
  return reply;
}

/**
 * Host permissions a sign-in needs beyond the manifest's: the origin of a login host the
 * user typed (a Salesforce My Domain), when no granted pattern covers it. Which origins a
 * provider needs otherwise is the engine's answer (`requiredOrigins`), put in the manifest at
 * build time. Decided synchronously, so the request runs inside the user's click.
 */
export function signInOrigins(loginHost, granted = chrome.runtime.getManifest().host_permissions ?? []) {
  if (!loginHost) return [];
  let url;
  try {
    url = new URL(loginHost);
  } catch {
    return []; // a configured login host named by its id is in the manifest already
  }
  return originCovered(url.origin, granted) ? [] : [patternForOrigin(url.origin)];
}

/** `https://*.example.test` (an engine origin, maybe with a host wildcard) → its pattern. */
function originPattern(origin) {
  return origin.endsWith('/*') ? origin : `${origin.replace(/\/$/, '')}/*`;
}

/**
 * Asks for host permissions not granted yet (optional_host_permissions in the manifest).
 * Chrome wants a user gesture: the dashboard calls this from the click that started the
 * action (transient user activation lasts a few seconds, enough for one message to the
 * worker). Rejects with `permission_denied` when the user says no.
 */
export async function ensureOrigins(origins) {
  const patterns = [...new Set(origins.map(originPattern))];
  if (!patterns.length || (await chrome.permissions.contains({ origins: patterns }))) return;
  const granted = await chrome.permissions.request({ origins: patterns });
  if (!granted) {
    throw { code: 'permission_denied', message: `This needs access to ${patterns.join(', ')}. Nothing was sent.` };
  }
}

export class WorkerAuth {
  constructor() {
    this.current = null;
    this.listeners = new Map();
    this.nextId = 1;
    this.port = null;
    this.closed = false;
  }

  /** Connects to the worker; resolves with the first view. */
  start() {
    return new Promise((resolve, reject) => {
      let settled = false;
      const open = () => {
        if (this.closed) return;
        const port = chrome.runtime.connect({ name: VIEW_PORT });
        this.port = port;
        port.onMessage.addListener((msg) => {
          if (msg?.type === 'view') {
            this.setView(msg.view);
            if (!settled) {
              settled = true;
              resolve(msg.view);
            }
          } else if (msg?.type === 'error' && !settled) {
            settled = true;
            reject(msg.error);
          }
        });
        // The worker stopped (idle, update): reconnect, which wakes it, while the panel is open.
        port.onDisconnect.addListener(() => {
          void chrome.runtime.lastError;
          if (this.port === port) this.port = null;
          setTimeout(open, RECONNECT_MS);
        });
      };
      open();
    });
  }

  close() {
    this.closed = true;
    this.port?.disconnect();
  }

  setView(view) {
    if (!view || !Array.isArray(view.sections)) return;
    this.current = view;
    for (const fn of this.listeners.values()) {
      try {
        fn(view);
      } catch (err) {
        console.error(err);
      }
    }
  }

  // ---- the engine's surface, as the dashboard uses it ----

  view() {
    return this.current;
  }

  subscribe(listener) {
    const id = this.nextId++;
    this.listeners.set(id, listener);
    return id;
  }

  unsubscribe(id) {
    this.listeners.delete(id);
  }

  /** A fresh view from the worker (its relative times worded at the engine's now). */
  refreshView() {
    return this.call('view');
  }

  async call(method, ...args) {
    const reply = unwrap(await chrome.runtime.sendMessage({ type: 'sidebar-auth:call', method, args }));
    if (!reply.ok) throw reply.error ?? { code: 'error', message: 'The call failed.' };
    if (reply.value && Array.isArray(reply.value.sections)) this.setView(reply.value);
    return reply.value;
  }

  connect(service, options = {}) {
    // Ask for a run-time host permission first, still inside the click (user gesture).
    const origins = signInOrigins(options.loginHost);
    if (origins.length) {
      return chrome.permissions.request({ origins }).then((granted) => {
        if (!granted) throw { code: 'permission_denied', message: `Sign-in needs access to ${origins.join(', ')}.` };
        return this.call('connect', service, options);
      });
    }
    return this.call('connect', service, options);
  }

  /** "I'm not sure": the worker probes the address's autodiscover hosts (no credentials). */
  async discoverMailService(email) {
    const { origins } = unwrap(await chrome.runtime.sendMessage({ type: 'sidebar-auth:discovery-origins', email }));
    await ensureOrigins(origins ?? []);
    return this.call('discoverMailService', email);
  }

  /** On-premises Exchange: login and password to the worker, which verifies and seals them. */
  async signInWithPassword(service, options) {
    const server = options?.ewsUrl || options?.autodiscoverUrl;
    if (server) {
      let origin = null;
      try {
        origin = new URL(server).origin;
      } catch {
        /* the engine explains a bad URL */
      }
      if (origin) await ensureOrigins([origin]);
    }
    return this.call('signInWithPassword', service, options);
  }

  reauthorize(service) {
    return this.call('reauthorize', service);
  }

  retryNow(service) {
    return this.call('retryNow', service);
  }

  disconnect(service) {
    return this.call('disconnect', service);
  }

  selectMailService(choice) {
    return this.call('selectMailService', choice);
  }

  /** An authorized API call, made by the worker: `{status, headers, body}`. */
  async fetch(service, url, init) {
    return unwrap(await chrome.runtime.sendMessage({ type: 'sidebar-auth:fetch', service, url, init }));
  }

  async missingPermissions() {
    return unwrap(await chrome.runtime.sendMessage({ type: 'sidebar-auth:missing-permissions' })).origins ?? [];
  }
}

/** The one instance of this page. */
export const auth = new WorkerAuth();

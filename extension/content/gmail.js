// Gmail content script: a small entry point into the sidebar, and the way sidebar code on
// the page asks for data. It never holds a token: API calls are made by the service
// worker, which checks that this message comes from the extension's own content script on
// a page the manifest injects it into.
//
//   sidebarAuth.fetch(service, url, init) → {status, headers, body}  (rejects with {code, message})
//   sidebarAuth.info()                   → {apiBases, services: [{service, title, status}]}
//   sidebarAuth.openPanel()              → opens Sync Settings in the side panel
//
// `sidebarAuth` lives in this script's isolated world: the page's own scripts cannot see
// it, and nothing here listens to the page (no window 'message' listener, no DOM events
// other than the user's click on our own button).
(() => {
  if (window.top !== window || globalThis.sidebarAuth) return;

  async function ask(message) {
    const reply = await chrome.runtime.sendMessage(message);
    if (reply === undefined) throw { code: 'no_answer', message: 'The extension did not answer.' };
    if (reply.error) throw reply.error;
    return reply;
  }

  const sidebarAuth = Object.freeze({
    fetch: (service, url, init) => ask({ type: 'sidebar-auth:fetch', service, url, init }),
    info: () => ask({ type: 'sidebar-auth:info' }),
    openPanel: () => ask({ type: 'sidebar-auth:open-panel' }),
  });
  Object.defineProperty(globalThis, 'sidebarAuth', { value: sidebarAuth });

  // ---- the entry point: a button in a closed shadow root --------------------------------

  const hostEl = document.createElement('div');
  hostEl.setAttribute('data-sidebar-auth', 'entry');
  const shadow = hostEl.attachShadow({ mode: 'closed' });
  const style = document.createElement('style');
  style.textContent = `
    :host { all: initial; position: fixed; right: 16px; bottom: 16px; z-index: 2147483000; }
    button { font: 500 13px/1 system-ui, sans-serif; border: 0; border-radius: 18px; padding: 10px 14px;
             background: #1a5fd6; color: #fff; box-shadow: 0 2px 6px rgba(0,0,0,.25); cursor: pointer; }
    button[data-attention="true"]::after { content: " !"; color: #ffd54f; font-weight: 700; }
  `;
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Sidebar';
  button.title = 'Open Sync Settings';
  shadow.append(style, button);

  button.addEventListener('click', (event) => {
    if (!event.isTrusted) return; // a script's synthetic click is not the user
    sidebarAuth.openPanel().catch(() => {});
    showMailbox();
  });

  // The example of an authorized call: the Gmail profile, fetched by the worker.
  async function showMailbox() {
    try {
      const { apiBases } = await sidebarAuth.info();
      if (!apiBases?.google) return;
      const r = await sidebarAuth.fetch('google', `${apiBases.google}/users/me/profile`);
      if (r.status === 200) button.title = `Sync Settings · ${JSON.parse(r.body).emailAddress}`;
    } catch {
      /* not connected: the side panel says why */
    }
  }

  async function showStatus() {
    try {
      const { services } = await sidebarAuth.info();
      button.dataset.attention = String(services.some((s) => s.status === 'needs_attention'));
    } catch {
      /* the worker is starting or the extension was reloaded */
    }
  }

  (document.body ?? document.documentElement).append(hostEl);
  showStatus();
})();

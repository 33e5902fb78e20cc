// The dialog's first page: go on to the provider's authorization URL.
//
// The task pane puts that URL in this page's fragment (never sent to a server, so not in the
// add-in server's logs). It holds no secret (client id, state, PKCE challenge, nonce); the
// engine in the task pane checks state and iss on the way back. This page only refuses to
// act as an open redirector to anything but an https page (or the loopback http of a local
// identity provider, RFC 8252 §8.3).

import { loadOffice } from './office-loader.js';

const text = document.getElementById('dialog-message');

export function allowedTarget(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost')) return url;
  return null;
}

async function main() {
  const raw = decodeURIComponent(location.hash.slice(1));
  // Office is initialized first: a dialog page that loads office.js must let it start
  // (docs/develop/dialog-api-in-office-add-ins.md, "the dialog box must first initialize
  // the Office JavaScript API" before messageParent); here nothing else is needed of it.
  // The redirect itself does not need Office: do not wait for it forever.
  await Promise.race([loadOffice().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  const target = allowedTarget(raw);
  if (!target) {
    text.textContent = 'This sign-in window was opened without a valid sign-in address. Close it and try again from Sync Settings.';
    return;
  }
  history.replaceState(null, '', location.pathname);
  location.replace(target.href);
}

main();

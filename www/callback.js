// The redirect target of the web host's sign-in pop-up (www/callback.html).
//
// It hands the full redirect URL to the page that opened the pop-up, on this origin only,
// then removes the code from its own URL (and so from the session history) and closes.
// It does not read, parse or keep the code: the engine in the opener does that.

const MESSAGE_TYPE = 'sidebar-auth:redirect';

const href = location.href;
let delivered = false;
try {
  if (window.opener && !window.opener.closed) {
    // targetOrigin = our own origin: if the opener navigated elsewhere, nothing is delivered.
    window.opener.postMessage({ type: MESSAGE_TYPE, url: href }, location.origin);
    delivered = true;
  }
} catch {
  delivered = false;
}

// Clear the code and state from the address bar and from history.
history.replaceState(null, '', location.pathname);

const text = document.getElementById('callback-message');
if (delivered) {
  if (text) text.textContent = 'Signed in. This window closes by itself.';
  window.close();
} else if (text) {
  document.title = 'Sign-in window';
  text.textContent =
    'This window lost its connection to the page that opened it. Close it and start the sign-in again from Sync Settings.';
}

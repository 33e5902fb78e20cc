// The bare JavaScript floor of the wake benchmark (tests/bench/wake.mjs): a service worker
// that answers "is there a token?" from chrome.storage.session and does nothing else. What
// any extension pays to wake a stopped worker and read its storage; no engine, no crypto.
const startedAt = performance.now();
chrome.runtime.onMessage.addListener((msg, _sender, sendResponse) => {
  if (msg?.type !== 'floor:first-token') return false;
  chrome.storage.session.get('token').then(({ token }) => {
    sendResponse({ hasToken: typeof token === 'string' && token.length > 0, tokenAt: performance.now(), scriptAt: startedAt });
  });
  return true;
});

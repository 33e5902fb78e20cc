// The wake benchmark's answer protocol, shared by the peers' workers (as the floor's worker
// answers it): `{type: 'peer:first-token'}` from an extension page → the access token the
// library gave, when the worker's script started and when the token was there (performance.now(),
// 0 = the worker's start). A library that throws is reported with its error, never as a time.
export const MESSAGE_TYPE = 'peer:first-token';

export function answerFirstToken(startedAt, accessToken) {
  chrome.runtime.onMessage.addListener((msg, _sender, sendResponse) => {
    if (msg?.type !== MESSAGE_TYPE) return false;
    accessToken().then(
      (token) => sendResponse({ hasToken: typeof token === 'string' && token.length > 0, token, tokenAt: performance.now(), scriptAt: startedAt }),
      (err) => sendResponse({ hasToken: false, error: `${err?.name ?? 'Error'}: ${err?.message ?? err}` }),
    );
    return true;
  });
}

/** oidc-client-ts's AsyncStorage over chrome.storage.session (a worker has no Web Storage). */
export const chromeSessionStorage = {
  get length() {
    return chrome.storage.session.get(null).then((all) => Object.keys(all).length);
  },
  clear: () => chrome.storage.session.clear(),
  getItem: (key) => chrome.storage.session.get(key).then((all) => all[key] ?? null),
  key: (index) => chrome.storage.session.get(null).then((all) => Object.keys(all)[index] ?? null),
  removeItem: (key) => chrome.storage.session.remove(key),
  setItem: (key, value) => chrome.storage.session.set({ [key]: value }),
};

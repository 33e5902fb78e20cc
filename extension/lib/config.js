// The extension's configuration: extension/config.json (real providers, placeholder client
// ids), or the copy tests/support/build-extension.mjs writes for the local emulator.
//
//   {
//     "engine":   the engine's Config (pkg/sidebar_auth.d.ts) without redirectUri, which is
//                 always chrome.identity.getRedirectURL() = https://<extension-id>.chromiumapp.org/
//     "apiBases": { "microsoft": "...", "google": "..." }  API roots the content script may use
//     "contentScript": { "operations": [{service, method, path, base?}] }  what a content
//                 script may fetch through the worker (lib/content-policy.js)
//   }
//
// In the built service worker the file's content is inlined (esbuild `define`); pages that
// load this module unbundled (the test harness) fetch config.json.

export async function loadExtensionConfig(url = chrome.runtime.getURL('config.json')) {
  // The build (tests/support/build-extension.mjs) bundles the service worker with esbuild
  // and writes config.json's content in place of this name: no fetch on a wake.
  if (typeof __SIDEBAR_AUTH_CONFIG__ !== 'undefined') return structuredClone(__SIDEBAR_AUTH_CONFIG__);
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw { code: 'config_unavailable', message: `config.json: HTTP ${res.status}` };
  const file = await res.json();
  if (!file || typeof file.engine !== 'object') throw { code: 'invalid_config', message: 'config.json has no "engine" object.' };
  return file;
}

/** The engine Config for this extension: the file's, with the extension's redirect URI. */
export function engineConfig(file, redirectUri = chrome.identity.getRedirectURL()) {
  const { redirectUri: _ignored, ...rest } = file.engine;
  return { ...rest, redirectUri };
}

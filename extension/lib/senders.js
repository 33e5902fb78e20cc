// Who is asking. The service worker serves only
//   - the extension's own pages (the side panel, the options or test pages), and
//   - the extension's own content scripts, on the pages the manifest injects them into
//     (Gmail; Outlook on the web when a content script is declared for it).
// Web pages cannot message the extension at all (no externally_connectable), and another
// extension's messages arrive on onMessageExternal, which is not listened to.

import { matchesAny } from './match.js';

/** The content-script page patterns of the manifest (the one place they are declared). */
export function contentScriptMatches(manifest = chrome.runtime.getManifest()) {
  return (manifest.content_scripts ?? []).flatMap((c) => c.matches ?? []);
}

/**
 * @param {chrome.runtime.MessageSender} sender
 * @returns {'extension' | 'content' | null}
 */
export function senderKind(sender, { id = chrome.runtime.id, matches = contentScriptMatches() } = {}) {
  if (!sender || sender.id !== id) return null;
  const own = `chrome-extension://${id}`;
  const url = typeof sender.url === 'string' ? sender.url : '';
  const origin = sender.origin ?? (url ? safeOrigin(url) : null);
  if (origin === own && url.startsWith(`${own}/`)) return 'extension';
  // A content script: it runs in a tab, on a page the manifest injects it into.
  if (sender.tab && Number.isInteger(sender.frameId) && matchesAny(url, matches)) return 'content';
  return null;
}

function safeOrigin(url) {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

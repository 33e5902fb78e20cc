// chrome.storage for the extension's own pages and worker only. By default
// chrome.storage.local is readable by content scripts too (the storage API is
// "unprivileged"; developer.chrome.com/docs/extensions/reference/api/storage, "Storage
// areas"); the vault there is ciphertext, but a compromised Gmail renderer should not get
// even that, and storage.session holds access tokens. `setAccessLevel` narrows both.
//
// Issue 11, defect 7: this used to be a fire-and-forget call that failed silently on a
// browser without it. Now the engine does not start unless both areas are narrowed; the
// side panel then says why.

export const STORAGE_NOT_PRIVATE = 'storage_not_private';

/** Narrows chrome.storage.local and .session to trusted contexts, or throws {code, message}. */
export async function restrictStorageToExtension(storage = chrome.storage) {
  for (const area of ['local', 'session']) {
    try {
      await storage[area].setAccessLevel({ accessLevel: 'TRUSTED_CONTEXTS' });
    } catch (err) {
      throw {
        code: STORAGE_NOT_PRIVATE,
        message: `This browser cannot keep the extension's storage (${area}) from content scripts (${String(err?.message ?? err).slice(0, 120)}). Sync stays off; update the browser.`,
      };
    }
  }
}

// Loads office.js for the add-in's pages (task pane, dialog start, dialog callback).
//
// Where office.js comes from is one setting, `officeJs` in addin-settings.json next to this
// file: Microsoft's CDN in production (the only supported source, per
// docs/develop/referencing-the-javascript-api-for-office-library-from-its-cdn.md in
// OfficeDev/office-js-docs-pr), a test double in the tests (the test server answers that
// file from memory). The pages themselves have no switch.
//
// office.js is a classic script, and Office.onReady is how a page learns that Office has
// initialized it (docs/develop/initialize-add-in.md); we wait for it before any Office call.

export const SETTINGS_URL = new URL('addin-settings.json', import.meta.url);

export async function loadSettings() {
  const res = await fetch(SETTINGS_URL, { cache: 'no-store', credentials: 'same-origin' });
  if (!res.ok) throw { code: 'settings_unavailable', message: `Could not load the add-in settings (HTTP ${res.status}).` };
  return res.json();
}

function addScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject({ code: 'office_js_unavailable', message: `Could not load office.js from ${new URL(src, location.href).host}.` });
    document.head.append(s);
  });
}

/** Load office.js (once) and resolve with `{Office, info}` after Office.onReady. */
export async function loadOffice(settings) {
  const s = settings ?? (await loadSettings());
  if (!globalThis.Office) await addScript(s.officeJs);
  const Office = globalThis.Office;
  if (!Office?.onReady) throw { code: 'office_js_unavailable', message: 'office.js did not load.' };
  const info = await Office.onReady();
  return { Office, info };
}

// The side panel: the Sync Settings dashboard of www/ (copied to dashboard/ by the build),
// mounted on a proxy of the service worker's engine (panel-client.js).

import { mountDashboard } from './dashboard/dashboard.js';
import { auth } from './panel-client.js';

const root = document.getElementById('app');
const permissionsBox = document.getElementById('permissions');

/** A Salesforce instance on the user's own My Domain needs a run-time host permission. */
async function showMissingPermissions() {
  let origins = [];
  try {
    origins = await auth.missingPermissions();
  } catch {
    origins = [];
  }
  if (!origins.length) {
    permissionsBox.hidden = true;
    permissionsBox.replaceChildren();
    return;
  }
  const text = document.createElement('p');
  text.textContent = `To reach your data, allow access to ${origins.map((o) => o.replace('/*', '')).join(', ')}.`;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'sa-btn sa-btn--primary';
  button.dataset.testid = 'allow-hosts';
  button.textContent = 'Allow';
  button.addEventListener('click', () => {
    chrome.permissions.request({ origins }).then(showMissingPermissions, showMissingPermissions);
  });
  permissionsBox.replaceChildren(text, button);
  permissionsBox.hidden = false;
}

try {
  await auth.start();
  mountDashboard(root, auth);
  let pending = null;
  auth.subscribe(() => {
    clearTimeout(pending);
    pending = setTimeout(showMissingPermissions, 300);
  });
  showMissingPermissions();
  document.body.dataset.ready = 'true';
} catch (err) {
  const p = document.createElement('p');
  p.className = 'sa-boot-error';
  p.textContent = `Sync Settings could not start: ${err?.message ?? err}`;
  root.replaceChildren(p);
  document.body.dataset.ready = 'error';
}

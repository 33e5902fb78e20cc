// The add-in's redirect target: hand the full redirect URL to the task pane with
// Office.context.ui.messageParent, then clear it from this page's URL and history. The task
// pane's engine checks state and iss and redeems the code; this page does not read it.
//
// messageParent, not localStorage or cookies: in Outlook on the web the dialog and the task
// pane are in different storage partitions (docs/develop/dialog-api-in-office-add-ins.md;
// parent-to-dialog.md says shared local storage needs the same domain, and the task pane is a
// third-party iframe). With DialogOrigin 1.1 the message names its target origin, the add-in's
// own (docs/develop/dialog-api-in-office-add-ins.md, "Cross-domain messaging to the host
// runtime"); older Office ignores the option and sends to the dialog's current domain, which
// is the add-in's here anyway.

import { loadOffice } from './office-loader.js';

export const REDIRECT_MESSAGE_TYPE = 'sidebar-auth:redirect';

const href = location.href;
history.replaceState(null, '', location.pathname);
const text = document.getElementById('callback-message');

async function main() {
  let Office;
  try {
    ({ Office } = await loadOffice());
  } catch {
    Office = null;
  }
  const ui = Office?.context?.ui;
  if (!ui?.messageParent) {
    document.title = 'Sign-in window';
    text.textContent = 'This window is not part of Outlook. Close it and start the sign-in again from Sync Settings in Outlook.';
    return;
  }
  const message = JSON.stringify({ type: REDIRECT_MESSAGE_TYPE, url: href });
  if (Office.context.requirements?.isSetSupported?.('DialogOrigin', '1.1')) {
    ui.messageParent(message, { targetOrigin: location.origin });
  } else {
    ui.messageParent(message);
  }
  text.textContent = 'Signed in. This window closes by itself.';
}

main();

// TEST DOUBLE: the host side of an emulated Outlook on the web (tests/addin, and the demo).
// It is the top-level page, on another site than the add-in, that frames the task pane (as
// Outlook on the web does: the add-in's storage is then partitioned under Outlook's site),
// answers office.js (office.js in this folder) over postMessage, and opens the Office dialog
// as a pop-up window after its Allow/Ignore prompt.
//
// Switches (query string), for what the Office documentation leaves open or what is the
// user's or the browser's doing (tests/addin/README.md lists them):
//   addin=<url>          the task pane page (default: https://127.0.0.1:<this port>/addin-manifest/taskpane.html)
//   mailbox=<address>    Office.context.mailbox.userProfile.emailAddress (default alice@contoso.com)
//   partitionKey=<text>|none   Office.context.partitionKey; `none`: undefined, as on Windows webviews
//   dialogOrigin=1.1|none      whether isSetSupported('DialogOrigin', '1.1') holds
//   popups=allow|blocked       blocked: the browser refuses window.open (→ 12011)
//   loadTimeoutMs=<n>          no add-in page in the new dialog within n ms → 12002 (default 10000)
//   open=1                     open the task pane at once (else: the "Sync Settings" button)
//   exchangeOwa=<url>          the emulated Exchange's Outlook service (idp.info.exchange.outlookService):
//                              where makeEwsRequestAsync / getCallbackTokenAsync go, as the
//                              signed-in mailbox. Whether that mailbox is on-premises or in
//                              Exchange Online is the emulated Exchange's knowledge (its domains).
//
// Rules enforced, with their source (OfficeDev/office-js-docs-pr):
//   12005 before anything else for an http URL; 12004 for a URL not on the add-in's origin
//   (scheme, host and port)     docs/develop/dialog-handle-errors-events.md
//   12007: one dialog per host page at a time     docs/develop/dialog-best-practices.md
//   Allow/Ignore prompt unless promptBeforeOpen is false; Ignore → 12009
//                               docs/develop/dialog-best-practices.md ("Handle pop-up blockers")
//   12011: the browser blocks the pop-up     docs/develop/dialog-handle-errors-events.md,
//                               docs/reference/javascript-api-for-office-error-codes.md
//   12006 when the user closes the dialog window (not when the add-in calls close())
//   12003 when an add-in page in the dialog is http; 12002 when no page loads in time
//   messageParent without targetOrigin is delivered only from a page on the add-in's origin;
//   with targetOrigin (DialogOrigin 1.1) only if it is '*' or the task pane's origin; the
//   handler's arg carries `origin` (docs/develop/dialog-api-in-office-add-ins.md,
//   "Cross-domain messaging to the host runtime").
// Not seen by the double: pages of other origins in the dialog (the identity provider's),
// so 12002/12003 for those cannot happen here.

const NS = 'office-double';
const q = new URLSearchParams(location.search);
const addinUrl = new URL(q.get('addin') || `https://127.0.0.1:${location.port}/addin-manifest/taskpane.html`);
const ADDIN_ORIGIN = addinUrl.origin;
const settings = {
  mailbox: q.get('mailbox') || 'alice@contoso.com',
  partitionKey: q.get('partitionKey') === 'none' ? null : q.get('partitionKey') || `pk-${location.host}`,
  dialogOrigin: q.get('dialogOrigin') !== 'none',
  popupsBlocked: q.get('popups') === 'blocked',
  loadTimeoutMs: Number(q.get('loadTimeoutMs') || 10000),
  exchangeOwa: q.get('exchangeOwa'),
};

/** What the tests read (this page is test code; the add-in's pages expose nothing). */
const state = { events: [], dialogsOpened: 0, messagesDelivered: 0, messagesDropped: 0 };
window.__officeDouble = state;
const log = (what, extra = {}) => state.events.push({ what, at: Date.now(), ...extra });

let frame = null;
let dialog = null; // {id, win, loaded, timer, poll, closingByAddin}
let nextDialog = 1;

function toPane(msg) {
  frame?.contentWindow?.postMessage({ ns: NS, ...msg }, ADDIN_ORIGIN);
}

function context(role) {
  const sets = { Mailbox: '1.5', DialogApi: '1.2' };
  if (settings.dialogOrigin) sets.DialogOrigin = '1.1';
  const c = { sets, partitionKey: settings.partitionKey };
  if (role === 'taskpane') Object.assign(c, { mailbox: settings.mailbox, displayName: settings.mailbox.split('@')[0] });
  return c;
}

function openPane() {
  const pane = document.getElementById('pane');
  pane.hidden = false;
  if (frame) return;
  frame = document.createElement('iframe');
  frame.title = 'Sync Settings add-in';
  frame.src = addinUrl.href;
  frame.setAttribute('data-testid', 'taskpane-frame');
  document.getElementById('frame-slot').append(frame);
  log('taskpane-opened');
}

function closePane() {
  document.getElementById('pane').hidden = true;
  frame?.remove();
  frame = null;
  if (dialog) endDialog(null);
}

function answer(id, result) {
  toPane({ op: 'displayDialogResult', id, ...result });
}

function endDialog(eventCode) {
  const d = dialog;
  if (!d) return;
  dialog = null;
  clearInterval(d.poll);
  clearTimeout(d.timer);
  if (eventCode) {
    log('dialog-event', { code: eventCode });
    toPane({ op: 'dialogEvent', dialogId: d.id, error: eventCode });
  }
  try {
    if (!d.win.closed) d.win.close();
  } catch {
    /* gone */
  }
}

/** The Allow/Ignore prompt of Office on the web, in the task pane's area. */
function prompt() {
  return new Promise((resolve) => {
    const slot = document.getElementById('prompt-slot');
    const box = document.createElement('div');
    box.className = 'ol-prompt';
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-label', 'The add-in wants to open a window');
    box.setAttribute('data-testid', 'office-prompt');
    const p = document.createElement('p');
    p.textContent = 'Sync Settings wants to display a new window.';
    const buttons = document.createElement('div');
    buttons.className = 'ol-prompt__buttons';
    const allow = document.createElement('button');
    allow.className = 'ol-btn ol-btn--primary';
    allow.textContent = 'Allow';
    allow.setAttribute('data-testid', 'office-prompt-allow');
    const ignore = document.createElement('button');
    ignore.className = 'ol-btn';
    ignore.textContent = 'Ignore';
    ignore.setAttribute('data-testid', 'office-prompt-ignore');
    const done = (v) => {
      box.remove();
      resolve(v);
    };
    allow.addEventListener('click', () => done(true));
    ignore.addEventListener('click', () => done(false));
    buttons.append(allow, ignore);
    box.append(p, buttons);
    slot.append(box);
    allow.focus();
  });
}

async function displayDialog(msg) {
  let url;
  try {
    url = new URL(msg.url);
  } catch {
    return answer(msg.id, { status: 'failed', code: 12002, message: 'The URL syntax is invalid.' });
  }
  if (url.protocol !== 'https:') return answer(msg.id, { status: 'failed', code: 12005, message: 'HTTPS is required.' });
  if (url.origin !== ADDIN_ORIGIN) return answer(msg.id, { status: 'failed', code: 12004, message: 'The domain is not trusted.' });
  if (dialog) {
    log('dialog-refused', { code: 12007 });
    return answer(msg.id, { status: 'failed', code: 12007, message: 'The operation failed because this add-in already has an active dialog.' });
  }
  // The slot is taken while the prompt shows: a second call meanwhile is a second dialog.
  const d = { id: nextDialog++, win: null, loaded: false, poll: null, timer: null };
  dialog = d;
  if (msg.options?.promptBeforeOpen !== false) {
    log('prompt-shown');
    const allowed = await prompt();
    if (dialog !== d) return;
    if (!allowed) {
      dialog = null;
      log('dialog-refused', { code: 12009 });
      return answer(msg.id, { status: 'failed', code: 12009, message: 'The user chose to ignore the dialog box.' });
    }
  }
  const features = `popup,width=${Math.round((screen.availWidth * (msg.options?.width ?? 40)) / 100)},height=${Math.round((screen.availHeight * (msg.options?.height ?? 70)) / 100)}`;
  const win = settings.popupsBlocked ? null : window.open(url.href, `office-dialog-${d.id}`, features);
  if (!win) {
    dialog = null;
    log('dialog-refused', { code: 12011 });
    return answer(msg.id, { status: 'failed', code: 12011, message: "The user's browser is configured in a way that blocks popups." });
  }
  d.win = win;
  state.dialogsOpened++;
  log('dialog-opened', { id: d.id });
  d.poll = setInterval(() => {
    if (d.win.closed && dialog === d) endDialog(12006);
  }, 200);
  d.timer = setTimeout(() => {
    if (dialog === d && !d.loaded) endDialog(12002);
  }, settings.loadTimeoutMs);
  answer(msg.id, { status: 'succeeded', dialogId: d.id });
}

// makeEwsRequestAsync / getCallbackTokenAsync: Outlook asks the Exchange server of the
// signed-in mailbox (docs/outlook/web-services.md). Failures, as Outlook reports them:
// Exchange Online (legacy tokens turned off) → 9017 GenericTokenError "An internal error has
// occurred." (docs/reference/javascript-api-for-office-error-codes.md; the FAQ
// docs/outlook/faq-nested-app-auth-outlook-legacy-tokens.md names 9017/9018 for any API that
// needs an Exchange token); EWS answering other than 200, or Outlook unable to reach it →
// 9020 "Generic Response Error" (same page); a request above 5 MB of characters → 9020
// (docs/outlook/limits-for-activation-and-javascript-api-for-outlook-add-ins.md).
const EWS_REQUEST_LIMIT = 5_000_000;
const GENERIC_TOKEN_ERROR = { status: 'failed', code: 9017, name: 'GenericTokenError', message: 'An internal error has occurred.' };
const GENERIC_RESPONSE_ERROR = { status: 'failed', code: 9020, name: 'GenericResponseError', message: 'An internal error has occurred.' };

async function mailboxService(data) {
  const reply = (result) => toPane({ op: 'mailboxResult', id: data.id, ...result });
  const action = data.op === 'ewsRequest' ? 'ExecuteEwsProxy' : 'GetClientAccessToken';
  if (data.op === 'ewsRequest' && data.data.length > EWS_REQUEST_LIMIT) {
    log('ews-request', { ok: false, code: 9020 });
    return reply(GENERIC_RESPONSE_ERROR);
  }
  if (!settings.exchangeOwa) {
    log(data.op, { ok: false, code: 9020 });
    return reply({ ...GENERIC_RESPONSE_ERROR, message: 'An internal error has occurred. (The double has no exchangeOwa switch.)' });
  }
  let res;
  try {
    res = await fetch(`${settings.exchangeOwa}?action=${action}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ mailbox: settings.mailbox, body: data.op === 'ewsRequest' ? data.data : undefined }),
    });
  } catch {
    log(data.op, { ok: false, code: 9020 });
    return reply(GENERIC_RESPONSE_ERROR);
  }
  const text = await res.text();
  if (res.status === 403 && /LegacyTokensTurnedOff/.test(text)) {
    log(data.op, { ok: false, code: 9017 });
    return reply(GENERIC_TOKEN_ERROR);
  }
  if (!res.ok) {
    log(data.op, { ok: false, code: 9020, status: res.status });
    return reply(GENERIC_RESPONSE_ERROR);
  }
  log(data.op, { ok: true });
  return reply({ status: 'succeeded', value: data.op === 'ewsRequest' ? text : JSON.parse(text).token });
}

window.addEventListener('message', (event) => {
  const data = event.data;
  if (!data || data.ns !== NS) return;
  const fromPane = frame && event.source === frame.contentWindow;
  const fromDialog = dialog?.win && event.source === dialog.win;
  if (fromPane) {
    if (event.origin !== ADDIN_ORIGIN) return;
    switch (data.op) {
      case 'hello':
        return toPane({ op: 'context', context: context('taskpane') });
      case 'displayDialog':
        return void displayDialog(data);
      case 'ewsRequest':
      case 'callbackToken':
        return void mailboxService(data);
      case 'closeDialog':
        // Closed by the add-in: no 12006 event.
        if (dialog && dialog.id === data.dialogId) endDialog(null);
        return;
      case 'messageChild': {
        if (!dialog || dialog.id !== data.dialogId) return;
        const target = data.targetOrigin && settings.dialogOrigin ? data.targetOrigin : ADDIN_ORIGIN;
        dialog.win.postMessage({ ns: NS, op: 'parentMessage', message: data.message, origin: ADDIN_ORIGIN }, target);
        return;
      }
    }
    return;
  }
  if (fromDialog) {
    const d = dialog;
    switch (data.op) {
      case 'hello': {
        d.loaded = true;
        log('dialog-page', { origin: event.origin });
        if (new URL(event.origin).protocol !== 'https:') return endDialog(12003);
        event.source.postMessage({ ns: NS, op: 'context', context: context('dialog') }, event.origin);
        return;
      }
      case 'messageParent': {
        const target = settings.dialogOrigin && data.targetOrigin ? data.targetOrigin : event.origin;
        if (target !== '*' && target !== ADDIN_ORIGIN) {
          state.messagesDropped++;
          log('message-dropped', { from: event.origin });
          return;
        }
        state.messagesDelivered++;
        log('message-delivered', { from: event.origin });
        toPane({ op: 'dialogMessage', dialogId: d.id, message: data.message, origin: settings.dialogOrigin ? event.origin : undefined });
        return;
      }
    }
  }
});

document.getElementById('open-taskpane').addEventListener('click', openPane);
document.getElementById('close-taskpane').addEventListener('click', closePane);
if (q.get('open') === '1') openPane();

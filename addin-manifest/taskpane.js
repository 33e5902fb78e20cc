// The Outlook task pane: waits for Office, starts the engine with the office host driver
// and shows the shared Sync Settings dashboard (www/dashboard.js).
//
//   addin-settings.json   where office.js comes from (office-loader.js)
//   config.json           the engine configuration (redirectUri: this folder's callback.html)
//
// No test switch and nothing of the engine on `window`: the test server adds its hook in
// front of /pkg/sidebar_auth.js (tests/support/test-hooks.mjs), as for the web host.

import { mountDashboard } from '../www/dashboard.js';
import { loadConfig, startEngine, showBootError } from '../www/app.js';
import { officeHostDriver, outlookSite, storageAvailable } from './host-office.js';
import { loadOffice, loadSettings } from './office-loader.js';
import { checkOutlookMailbox } from './outlook-mailbox.js';

/** Said where the dashboard would ask for an Exchange password: Outlook has the mailbox. */
const OUTLOOK_HAS_THE_MAILBOX =
  'In Outlook, an on-premises Exchange mailbox is reached through Outlook itself: no password is asked here. Microsoft 365 mailboxes connect with Microsoft 365.';

const CONFIG_URL = new URL('config.json', import.meta.url).pathname;

/**
 * The engine as the dashboard sees it, with two things of the host added:
 * - a failed dialog is explained in the host's words (which code, what to do next);
 * - sign-ins of the E-Mail Configuration section (the section with mail-service choices)
 *   default their login_hint to the mailbox the add-in runs in. This file does not know
 *   which provider that is: the engine's view says which section a card is in.
 */
export function addinAuth(auth, driver, { mailbox }) {
  // The dashboard shows a rejection's message in its error toast; the engine's words for a
  // host error are generic ("could not be opened"), the driver's say which code and what next.
  const explained = (promise) =>
    Promise.resolve(promise).catch((err) => {
      const note = driver.takeNote();
      if (note && err && typeof err === 'object') throw { ...err, message: note.message };
      throw err;
    });
  const inMailSection = (service) =>
    (auth.view().sections ?? []).some((s) => (s.mailServiceChoices ?? []).length > 0 && s.connections.some((c) => c.service === service));
  return {
    view: () => auth.view(),
    subscribe: (fn) => auth.subscribe(fn),
    unsubscribe: (id) => auth.unsubscribe(id),
    reauthorize: (service) => explained(auth.reauthorize(service)),
    connect: (service, options = {}) => {
      const opts = { ...options };
      if (!opts.loginHint && mailbox && inMailSection(service)) opts.loginHint = mailbox;
      return explained(auth.connect(service, opts));
    },
    disconnect: (service) => auth.disconnect(service),
    selectMailService: (choice) => auth.selectMailService(choice),
    retryNow: (service) => auth.retryNow(service),
    signInWithPassword: (service, options) => explained(auth.signInWithPassword(service, options)),
    discoverMailService: (email) => auth.discoverMailService(email),
  };
}

async function main() {
  const root = document.getElementById('app');
  // The configuration and the engine (module, .wasm, compile) are asked for first, beside
  // office.js and Office.onReady, which they do not need (issue 12, cold start).
  const configured = loadConfig(new URLSearchParams({ config: CONFIG_URL }));
  const loaded = startEngine();
  configured.catch(() => {});
  loaded.catch(() => {});
  try {
    const settings = await loadSettings();
    const { Office } = await loadOffice(settings);
    if (!Office.context?.ui?.displayDialogAsync) {
      throw { message: 'This page runs inside Outlook only: open it from the add-in button in Outlook.' };
    }
    if (!(await storageAvailable())) {
      const site = outlookSite() ?? 'Outlook';
      throw {
        code: 'storage_blocked',
        message: `Your browser does not let add-ins inside ${site} keep data, because it blocks third-party cookies and site data. ` +
          `Allow third-party cookies for ${site} (Chrome and Edge: Settings › Privacy › Third-party cookies › Allowed sites), then reopen Sync Settings, or use Outlook for Windows or Mac.`,
      };
    }
    const [config, module] = await Promise.all([configured, loaded]);

    let auth = null;
    let ticking = null;
    const tick = () => {
      if (!auth) return Promise.resolve();
      ticking ??= Promise.resolve()
        .then(() => auth.tick())
        .catch((err) => console.warn('[sidebar-auth] tick failed:', err?.code ?? err))
        .finally(() => {
          ticking = null;
        });
      return ticking;
    };
    const driver = officeHostDriver({
      Office,
      startPage: new URL('dialog-start.html', import.meta.url),
      onWake: () => void tick(),
    });
    auth = await module.SidebarAuth.create(config, driver);
    // The task pane has no background worker: check on open, on the timer the engine asks
    // for, and when the pane is seen again or the network is back.
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') void tick();
    });
    window.addEventListener('online', () => void tick());
    void tick();

    const mailbox = Office.context.mailbox?.userProfile?.emailAddress ?? null;
    mountDashboard(root, addinAuth(auth, driver, { mailbox }), { passwordSignInUnavailable: OUTLOOK_HAS_THE_MAILBOX });
    // Which mailbox Outlook has, and whether the add-in can use it as is (outlook-mailbox.js).
    const note = document.createElement('p');
    note.className = 'sa-notice';
    note.setAttribute('role', 'status');
    note.dataset.testid = 'outlook-mailbox';
    root.before(note);
    void checkOutlookMailbox(Office).then((found) => {
      note.dataset.kind = found.kind;
      note.textContent = found.text;
    });
    document.body.setAttribute('data-ready', 'true');
  } catch (err) {
    console.error('[sidebar-auth] task pane failed to start', err?.code ?? err);
    showBootError(root, err);
    document.body.setAttribute('data-ready', 'error');
  }
}

if (document.body?.dataset.page === 'taskpane' && !window.__sidebarAuthUnsupported) main();

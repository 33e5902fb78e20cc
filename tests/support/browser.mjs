// What the browser suites (tests/e2e, tests/extension) share: Chromium's path and flags,
// waits without stray timers, the provider pages of a sign-in, and the dashboard's cards.

/** Debian's Chromium (tests never download a browser). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless on a closed network: no background traffic, nothing but loopback. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * Chromium flags that make the emulated Exchange world reachable (tests/idp/EXCHANGE.md):
 * `--host-resolver-rules` sends https://autodiscover.contoso.test (port 443),
 * http://autodiscover.fabrikam.test (port 80), https://outlook.office365.com, ... to the
 * emulator's loopback ports and every other *.test name nowhere; the SPKI list makes
 * Chromium accept the emulator's throw-away certificate and no other bad one. Checked in
 * tests/idp/exchange-chromium.test.mjs (page and extension service worker).
 * @param {{hostResolverRules: string, certificateSpki: string}} exchangeInfo  idp.info.exchange
 */
export function exchangeChromiumArgs(exchangeInfo) {
  return [
    `--host-resolver-rules=${exchangeInfo.hostResolverRules}`,
    `--ignore-certificate-errors-spki-list=${exchangeInfo.certificateSpki}`,
  ];
}

/** How long a single condition may take (a sign-in is ~1 s; CI machines are slow). */
export const WAIT_MS = 15_000;

export const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** Wait until `fn()` (async) returns a truthy value; returns it. */
export async function eventually(fn, { timeout = WAIT_MS, interval = 50, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${message}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * `promise`, or a rejection after `ms`. The timer is cleared when `promise` settles, so a
 * finished wait never keeps node alive (Playwright's own `timeout` timers outlive a lost
 * Promise.race by up to their full length).
 */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A Playwright wait with no timer of its own (timeout 0), its rejection observed. */
function quiet(promise) {
  promise.catch(() => {});
  return promise;
}

/**
 * Drive the provider's pages in a sign-in window (the web host's pop-up, or the window
 * chrome.identity.launchWebAuthFlow opens) until it closes: the callback page closes the
 * pop-up, Chromium closes the auth window on the chromiumapp.org redirect. Returns the
 * pages seen, in order: {page: 'login', prefilled} (the login field's value as the
 * provider pre-filled it from login_hint), {page: 'consent'}.
 */
export async function completeSignIn(popup, login, { password = 'x' } = {}) {
  const seen = [];
  const closed = quiet(popup.waitForEvent('close', { timeout: 0 }).then(() => 'closed'));
  for (let step = 0; step < 6; step++) {
    // Which provider page is showing: the devInteractions forms carry a hidden `prompt`.
    const which = await withTimeout(
      Promise.race([
        closed,
        quiet(popup.waitForSelector('input[name=prompt][value=login]', { state: 'attached', timeout: 0 }).then(() => 'login')),
        quiet(popup.waitForSelector('input[name=prompt][value=consent]', { state: 'attached', timeout: 0 }).then(() => 'consent')),
      ]),
      WAIT_MS,
      `a login or consent page (seen so far: ${JSON.stringify(seen)})`,
    ).catch((e) => (popup.isClosed() ? 'closed' : Promise.reject(e)));
    if (which === 'closed') return seen;
    const before = popup.url();
    if (which === 'login') {
      seen.push({ page: 'login', prefilled: await popup.inputValue('input[name=login]') });
      await popup.fill('input[name=login]', login);
      await popup.fill('input[name=password]', password);
    } else {
      seen.push({ page: 'consent' });
    }
    await popup.click('button[type=submit]').catch((e) => {
      if (!popup.isClosed()) throw e;
    });
    // The form posts and the provider redirects: wait for the next document (or the close).
    await withTimeout(
      Promise.race([closed, quiet(popup.waitForURL((u) => u.href !== before, { timeout: 0, waitUntil: 'domcontentloaded' }))]),
      WAIT_MS,
      'the next page of the sign-in',
    ).catch((e) => {
      if (!popup.isClosed()) throw e;
    });
  }
  throw new Error(`the sign-in window did not finish: ${JSON.stringify(seen)}`);
}

/** Choose the mail service whose card is `service` (Microsoft 365 or Gmail) in a dashboard. */
export async function showMailService(page, service) {
  const choice = { microsoft: 'microsoft365', google: 'gmail' }[service];
  if (!choice) return;
  const radio = byTestId(page, `mail-service-${choice}`);
  if (!(await radio.isChecked())) {
    await radio.check();
    await byTestId(page, `card-${service}`).waitFor({ timeout: WAIT_MS });
  }
}

/**
 * Change on a mail card with an account first asks which email service (issue 10): keep the
 * card's own (the default) or pick `choice`, then Sign in (from the keyboard: focus and
 * Enter). Does nothing where no chooser opened (Connect on a new card, the CRM section).
 */
export async function chooseMailService(page, service, choice = null, { keyboard = false } = {}) {
  if (!(await byTestId(page, `change-service-${service}`).count())) return false;
  if (choice) await byTestId(page, `change-service-${service}-${choice}`).check();
  const submit = byTestId(page, `change-service-submit-${service}`);
  if (keyboard) {
    await submit.focus();
    await page.keyboard.press('Enter');
  } else {
    await submit.click();
  }
  return true;
}

/** The Salesforce Change form: a new username on the local login host, then submit. */
export async function submitSalesforceChange(page, login, { newUsername = true } = {}) {
  await byTestId(page, 'change-form-salesforce').waitFor({ timeout: WAIT_MS });
  if (newUsername) {
    const fresh = byTestId(page, 'change-choice-salesforce-new');
    if (await fresh.count()) await fresh.check();
    await byTestId(page, 'change-username-salesforce').fill(login);
    await byTestId(page, 'change-host-salesforce-local').check();
  }
  await byTestId(page, 'change-submit-salesforce').click();
}

/** Wait for the card of `service`: `status`, not busy, and (unless null) the account. */
export function waitForCard(page, service, status, account = null) {
  return page.waitForFunction(
    ([svc, st, who]) => {
      const card = document.querySelector(`[data-testid="card-${svc}"]`);
      return card && !card.hasAttribute('aria-busy')
        && card.querySelector(`[data-testid="status-${svc}"]`)?.dataset.status === st
        && (who === null || card.querySelector(`[data-testid="account-${svc}"]`)?.textContent.trim() === who);
    },
    [service, status, account],
    { timeout: WAIT_MS },
  );
}

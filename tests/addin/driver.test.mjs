// The office host driver (addin-manifest/host-office.js) against a scripted Office, for the
// outcomes a browser run cannot reach here: 12004/12005 (the add-in's own configuration),
// 12002/12003 (pages the Office double cannot see), 12007 twice, messages from another
// origin or for another request. The codes and their meaning:
// docs/develop/dialog-handle-errors-events.md (OfficeDev/office-js-docs-pr).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { officeHostDriver } from '../../addin-manifest/host-office.js';

const ORIGIN = 'https://127.0.0.1:8443';
const AUTH_URL = 'https://login.example.test/authorize?client_id=c&state=S1';
const REDIRECT = `${ORIGIN}/addin-manifest/callback.html`;

/** An Office whose displayDialogAsync answers from `script` (one entry per call). */
function scriptedOffice(script, { dialogOrigin = true, partitionKey } = {}) {
  const calls = [];
  const Office = {
    EventType: { DialogMessageReceived: 'msg', DialogEventReceived: 'evt' },
    context: {
      partitionKey,
      requirements: { isSetSupported: (name) => dialogOrigin && name === 'DialogOrigin' },
      ui: {
        displayDialogAsync(url, options, cb) {
          const step = script[calls.length] ?? { fail: 99999 };
          const handlers = {};
          const dialog = { closed: 0, addEventHandler: (t, h) => (handlers[t] = h), close() { this.closed++; } };
          calls.push({ url, options, dialog, handlers });
          setTimeout(() => {
            if (step.fail) cb({ status: 'failed', error: { code: step.fail, message: `error ${step.fail}` } });
            else {
              cb({ status: 'succeeded', value: dialog });
              setTimeout(() => step.then?.(handlers, dialog), 0);
            }
          }, 0);
        },
      },
    },
  };
  return { Office, calls };
}

const fakeWindow = () => ({
  location: { href: `${ORIGIN}/addin-manifest/taskpane.html`, origin: ORIGIN, ancestorOrigins: ['https://outlook.office.com'] },
  setTimeout,
  clearTimeout,
  navigator: {},
});

function driverFor(script, opts) {
  const { Office, calls } = scriptedOffice(script, opts);
  const driver = officeHostDriver({ Office, window: fakeWindow(), startPage: `${ORIGIN}/addin-manifest/dialog-start.html`, retryDelayMs: 5 });
  return { driver, calls };
}

async function rejection(p) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected a rejection');
}

const message = (url, origin = ORIGIN) => ({ message: JSON.stringify({ type: 'sidebar-auth:redirect', url }), origin });

describe('office host driver', () => {
  it('opens the start page on its own origin, with the authorization URL in the fragment', async () => {
    const ok = `${REDIRECT}?code=C&state=S1`;
    const { driver, calls } = driverFor([{ then: (h) => h.msg(message(ok)) }]);
    assert.equal(await driver.openSignIn(AUTH_URL, REDIRECT, true), ok);
    const start = new URL(calls[0].url);
    assert.equal(start.origin + start.pathname, `${ORIGIN}/addin-manifest/dialog-start.html`);
    assert.equal(decodeURIComponent(start.hash.slice(1)), AUTH_URL);
    assert.equal(start.search, '', 'nothing in the query (server logs)');
    assert.equal(calls[0].dialog.closed, 1, 'the driver closes its dialog');
    assert.equal(calls[0].options.promptBeforeOpen, undefined, 'the Allow/Ignore prompt stays on');
  });

  it('ignores messages from another origin or for another request, then takes the right one', async () => {
    const ok = `${REDIRECT}?code=C&state=S1`;
    const { driver } = driverFor([{
      then: (h) => {
        h.msg(message(ok, 'https://evil.example.test'));
        h.msg(message(`${REDIRECT}?code=X&state=OTHER`));
        h.msg({ message: 'not json', origin: ORIGIN });
        h.msg(message(ok));
      },
    }]);
    assert.equal(await driver.openSignIn(AUTH_URL, REDIRECT, true), ok);
  });

  for (const [code, expectCode, words] of [
    [12004, 'dialog_untrusted_domain', /12004.*https 127\.0\.0\.1:8443\/addin-manifest\/dialog-start\.html/],
    [12005, 'dialog_https_required', /12005.*must be served over https/],
    [12009, 'sign_in_cancelled', /choose Allow/],
    [12011, 'popup_blocked', /Allow pop-ups for outlook\.office\.com/],
  ]) {
    it(`${code} from displayDialogAsync: ${expectCode}, and words that say what to do`, async () => {
      const { driver } = driverFor([{ fail: code }]);
      const err = await rejection(driver.openSignIn(AUTH_URL, REDIRECT, true));
      assert.equal(err.code, expectCode);
      assert.match(driver.takeNote().message, words);
      assert.equal(driver.takeNote(), null, 'a note is shown once');
    });
  }

  it('12007 twice: retried once, then says another dialog is open', async () => {
    const { driver, calls } = driverFor([{ fail: 12007 }, { fail: 12007 }]);
    const err = await rejection(driver.openSignIn(AUTH_URL, REDIRECT, true));
    assert.equal(err.code, 'dialog_already_open');
    assert.equal(calls.length, 2, 'one retry, not a loop');
  });

  it('12007 for a dialog of its own: waits until that one is closed (12006), then opens', async () => {
    const ok = `${REDIRECT}?code=C&state=S2`;
    let closeFirst;
    const { driver, calls } = driverFor([
      { then: (h) => (closeFirst = () => h.evt({ error: 12006 })) },
      { fail: 12007 },
      { then: (h) => h.msg(message(ok)) },
    ]);
    const first = driver.openSignIn(AUTH_URL, REDIRECT, true);
    await new Promise((r) => setTimeout(r, 10));
    const second = driver.openSignIn(AUTH_URL.replace('S1', 'S2'), REDIRECT, true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls.length, 2, 'the retry waits for the first dialog');
    closeFirst();
    assert.equal((await rejection(first)).code, 'sign_in_cancelled');
    assert.equal(await second, ok);
    assert.equal(calls.length, 3);
  });

  for (const [code, expectCode, words] of [
    [12002, 'dialog_not_found', /could not be loaded \(12002\)/],
    [12003, 'dialog_http', /12003.*http 127\.0\.0\.1:9\/authorize/],
    [12006, 'sign_in_cancelled', /closed/],
  ]) {
    it(`dialog event ${code}: ${expectCode}`, async () => {
      const { driver } = driverFor([{ then: (h) => h.evt({ error: code }) }]);
      const err = await rejection(driver.openSignIn('http://127.0.0.1:9/authorize?state=S1', REDIRECT, true));
      assert.equal(err.code, expectCode);
      assert.match(driver.takeNote().message, words);
    });
  }

  it('a silent sign-in is not possible in a dialog: interaction_required at once', async () => {
    const { driver, calls } = driverFor([]);
    assert.equal((await rejection(driver.openSignIn(AUTH_URL, REDIRECT, false))).code, 'interaction_required');
    assert.equal(calls.length, 0);
  });
});

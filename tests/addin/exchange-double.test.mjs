// The Office double's Exchange side (tests/addin/office-double): makeEwsRequestAsync and
// getCallbackTokenAsync in the task pane, answered by the emulated Exchange
// (tests/idp/exchange.mjs) for the mailbox the emulated Outlook is signed into. A bare task
// pane page (office-double/probe.html: the double's office.js only) calls the API as an
// add-in would; the callback shapes follow docs/outlook/web-services.md and
// docs/reference/javascript-api-for-office-error-codes.md (OfficeDev/office-js-docs-pr).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

import { startAddinEnvironment } from './env.mjs';
import { taskpaneFrame, WAIT_MS } from './helpers.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/browser.mjs';
import { exchangeFetch } from '../idp/exchange-client.mjs';

const GET_INBOX = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <soap:Header><t:RequestServerVersion Version="Exchange2013" soap:mustUnderstand="0"/></soap:Header>
  <soap:Body>
    <GetFolder xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <FolderShape><t:BaseShape>Default</t:BaseShape></FolderShape>
      <FolderIds><t:DistinguishedFolderId Id="inbox"/></FolderIds>
    </GetFolder>
  </soap:Body>
</soap:Envelope>`;

let env;
let browser;
before(async () => {
  env = await startAddinEnvironment({});
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
  await env?.close();
});

/** The probe task pane in the emulated Outlook signed into `mailbox`; returns its frame. */
async function paneFor(t, mailbox, switches = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  t.after(() => context.close());
  const host = await context.newPage();
  await host.goto(env.outlookUrl({ addin: `${env.addinBase}/office-double/probe.html`, mailbox, open: '1', ...switches }));
  const frame = await taskpaneFrame(host);
  await frame.waitForFunction(() => window.Office && Office.onReady().then(() => true), null, { timeout: WAIT_MS });
  await frame.evaluate(() => Office.onReady());
  return frame;
}

const ews = (frame, data) => frame.evaluate((d) => new Promise((resolve) => {
  Office.context.mailbox.makeEwsRequestAsync(d, (r) => resolve({ status: r.status, value: r.value, error: r.error, asyncContext: r.asyncContext }), 'ctx-1');
}), data);
const callbackToken = (frame) => frame.evaluate(() => new Promise((resolve) => {
  Office.context.mailbox.getCallbackTokenAsync({ isRest: false }, (r) => resolve({ status: r.status, value: r.value, error: r.error }));
}));

describe('Office double: Exchange on-premises mailbox (alex@contoso.test)', () => {
  it('makeEwsRequestAsync sends the SOAP to the mailbox\'s EWS and returns the response as a string', async (t) => {
    env.idp.exchange.reset();
    const frame = await paneFor(t, 'alex@contoso.test');
    const r = await ews(frame, GET_INBOX);
    assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
    assert.equal(r.asyncContext, 'ctx-1');
    assert.match(r.value, /<m:ResponseCode>NoError<\/m:ResponseCode>/);
    assert.match(r.value, /<t:DisplayName>Inbox<\/t:DisplayName>/);
    const [entry] = env.idp.exchange.requests;
    assert.deepEqual([entry.operation, entry.login, entry.host, entry.ewsOperation, entry.authorization], ['outlook-ExecuteEwsProxy', 'alex@contoso.test', 'mail.contoso.test', 'GetFolder', null]);
  });

  it('a SOAP request EWS refuses (malformed) or EWS down: failed, 9020', async (t) => {
    const frame = await paneFor(t, 'alex@contoso.test');
    const bad = await ews(frame, '<soap:Envelope');
    assert.deepEqual([bad.status, bad.error?.code], ['failed', 9020]);
    env.idp.exchange.failNext({ target: 'ews', kind: 'status', status: 503 });
    const down = await ews(frame, GET_INBOX);
    assert.deepEqual([down.status, down.error?.code], ['failed', 9020]);
    assert.equal((await ews(frame, GET_INBOX)).status, 'succeeded');
  });

  it('getCallbackTokenAsync gives a token the mailbox\'s EWS accepts as Bearer', async (t) => {
    const frame = await paneFor(t, 'alex@contoso.test');
    const r = await callbackToken(frame);
    assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
    assert.equal(typeof r.value, 'string');
    const xfetch = exchangeFetch(env.idp.exchange);
    const res = await xfetch('https://mail.contoso.test/EWS/Exchange.asmx', { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8', Authorization: `Bearer ${r.value}` }, body: GET_INBOX });
    assert.equal(res.status, 200);
    assert.ok(!JSON.stringify(env.idp.exchange.requests).includes(r.value), 'the token is not logged');
  });
});

describe('Office double: Exchange Online mailbox (alice@contoso.com): legacy tokens are off', () => {
  it('getCallbackTokenAsync and makeEwsRequestAsync fail with 9017 GenericTokenError', async (t) => {
    const frame = await paneFor(t, 'alice@contoso.com');
    const token = await callbackToken(frame);
    assert.deepEqual([token.status, token.error?.code, token.error?.name, token.error?.message], ['failed', 9017, 'GenericTokenError', 'An internal error has occurred.']);
    const r = await ews(frame, GET_INBOX);
    assert.deepEqual([r.status, r.error?.code], ['failed', 9017]);
  });
});

// The emulated Exchange servers (tests/idp/exchange.mjs), spoken to over https with
// their real host names (exchange-client.mjs maps them to loopback, as Chromium's
// --host-resolver-rules does), and driven by the community EWS Managed API port
// ews-javascript-api (the vendor-client fidelity suite, at the end).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { DOMParser } from '@xmldom/xmldom';
import ews from 'ews-javascript-api';
import { XhrApi } from '@ewsjs/xhr';

import { startIdp } from './idp.mjs';
import { exchangeAgents, exchangeFetch } from './exchange-client.mjs';
import { NS } from './exchange.mjs';
import { authorize, tokenRequest } from './flow.mjs';

const RU = 'http://127.0.0.1:8080/www/callback.html';
const basic = (login, password) => `Basic ${Buffer.from(`${login}:${password}`, 'utf8').toString('base64')}`;
const ALEX = basic('alex@contoso.test', 'Exchange-Pass-1');

const poxRequest = (email, schema = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a') => `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request><EMailAddress>${email}</EMailAddress><AcceptableResponseSchema>${schema}</AcceptableResponseSchema></Request>
</Autodiscover>`;

// The request examples of getfolder-operation.md and finditem-operation.md.
const getFolder = (folderIdXml = '<t:DistinguishedFolderId Id="inbox"/>', shape = 'Default') => `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <soap:Body>
    <GetFolder xmlns="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
      <FolderShape><t:BaseShape>${shape}</t:BaseShape></FolderShape>
      <FolderIds>${folderIdXml}</FolderIds>
    </GetFolder>
  </soap:Body>
</soap:Envelope>`;
const findItem = (view = '') => `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <soap:Body>
    <FindItem xmlns="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" Traversal="Shallow">
      <ItemShape><t:BaseShape>Default</t:BaseShape></ItemShape>
      ${view}
      <ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></ParentFolderIds>
    </FindItem>
  </soap:Body>
</soap:Envelope>`;

let idp;
let xfetch;
const xml = (text) => new DOMParser().parseFromString(text, 'text/xml');
const byTag = (doc, ns, name) => Array.from(doc.getElementsByTagNameNS(ns, name));
const one = (doc, ns, name) => byTag(doc, ns, name)[0];

async function ewsPost(url, body, authorization = ALEX, contentType = 'text/xml; charset=utf-8') {
  const headers = { 'Content-Type': contentType };
  if (authorization) headers.Authorization = authorization;
  const res = await xfetch(url, { method: 'POST', headers, body });
  return { res, text: await res.text() };
}
const EWS = 'https://mail.contoso.test/EWS/Exchange.asmx';
const POX = 'https://autodiscover.contoso.test/autodiscover/autodiscover.xml';

async function control(path, body) {
  const res = await fetch(`${idp.info.exchange.control}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

before(async () => {
  idp = await startIdp({ redirectUris: [RU] });
  xfetch = exchangeFetch(idp.exchange);
});
after(() => idp?.close());

describe('ready line', () => {
  test('idp.info.exchange lists the servers, the Chromium rules and the domains', () => {
    const x = idp.info.exchange;
    assert.match(x.https, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(x.http, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(x.hostResolverRules.includes(`MAP autodiscover.contoso.test:443 127.0.0.1:${x.ports.https}`));
    assert.ok(x.hostResolverRules.includes(`MAP autodiscover.fabrikam.test:80 127.0.0.1:${x.ports.http}`));
    assert.ok(x.hostResolverRules.endsWith('MAP *.test ~NOTFOUND, MAP outlook.office365.com ~NOTFOUND'));
    assert.match(x.certificateSpki, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(x.domains['contoso.test'].ews, EWS);
    assert.deepEqual(x.domains['contoso.test'].mailboxes[0].logins, ['alex@contoso.test', 'CONTOSO\\alex']);
    assert.equal(x.domains['m365.test'].kind, 'exchange-online');
    assert.equal(x.control, `${idp.base}/control/exchange`);
  });
});

describe('POX Autodiscover (on-premises)', () => {
  test('https://contoso.test/autodiscover/autodiscover.xml is a plain web site: 404', async () => {
    const res = await xfetch('https://contoso.test/autodiscover/autodiscover.xml', { method: 'POST', headers: { 'Content-Type': 'text/xml' }, body: poxRequest('alex@contoso.test') });
    assert.equal(res.status, 404);
  });

  test('without credentials: 401 offering Negotiate, NTLM and Basic with the host as realm', async () => {
    const { res } = await ewsPost(POX, poxRequest('alex@contoso.test'), null);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Negotiate, NTLM, Basic realm="autodiscover.contoso.test"');
  });

  for (const login of ['alex@contoso.test', 'CONTOSO\\alex', 'contoso\\ALEX']) {
    test(`Basic as ${login}: the documented response with EwsUrl`, async () => {
      const { res, text } = await ewsPost(POX, poxRequest('alex@contoso.test'), basic(login, 'Exchange-Pass-1'));
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/xml/);
      const doc = xml(text);
      assert.equal(doc.documentElement.namespaceURI, NS.adResponse);
      const response = one(doc, NS.adOutlook, 'Response');
      assert.ok(response, 'Response in the 2006a namespace');
      const protocols = byTag(doc, NS.adOutlook, 'Protocol').map((p) => [p.getElementsByTagNameNS(NS.adOutlook, 'Type')[0]?.textContent, p.getElementsByTagNameNS(NS.adOutlook, 'EwsUrl')[0]?.textContent]);
      assert.deepEqual(protocols.filter(([t]) => t === 'EXCH' || t === 'EXPR'), [['EXCH', EWS], ['EXPR', EWS]]);
      assert.equal(one(doc, NS.adOutlook, 'AutoDiscoverSMTPAddress').textContent, 'alex@contoso.test');
    });
  }

  test('wrong password: 401 again, logged as rejected, no password in the log', async () => {
    idp.exchange.reset();
    const { res } = await ewsPost(POX, poxRequest('alex@contoso.test'), basic('alex@contoso.test', 'Not-The-Password'));
    assert.equal(res.status, 401);
    const [entry] = idp.exchange.requests;
    assert.deepEqual([entry.authorization, entry.login, entry.auth, entry.status], ['Basic', 'alex@contoso.test', 'rejected', 401]);
    assert.ok(!JSON.stringify(idp.exchange.requests).includes('Not-The-Password'));
  });

  test('errors in the body (ErrorCode 600, 601, 500) for a bad request, schema or address', async () => {
    const code = async (body) => one(xml((await ewsPost(POX, body)).text), NS.adResponse, 'ErrorCode')?.textContent;
    assert.equal(await code('<not-xml'), '600');
    assert.equal(await code(poxRequest('alex@contoso.test', 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006')), '601');
    assert.equal(await code(poxRequest('nobody@contoso.test')), '500');
  });

  test('fabrikam.test: only the unauthenticated http GET answers, 302 to https://mail.fabrikam.test', async () => {
    await assert.rejects(xfetch('https://fabrikam.test/autodiscover/autodiscover.xml', { method: 'POST', body: 'x' }));
    await assert.rejects(xfetch('https://autodiscover.fabrikam.test/autodiscover/autodiscover.xml', { method: 'POST', body: 'x' }));
    const hop = await xfetch('http://autodiscover.fabrikam.test/autodiscover/autodiscover.xml');
    assert.equal(hop.status, 302);
    const location = hop.headers.get('location');
    assert.equal(location, 'https://mail.fabrikam.test/autodiscover/autodiscover.xml');
    const { res, text } = await ewsPost(location, poxRequest('sam@fabrikam.test'), basic('FABRIKAM\\sam', 'Exchange-Pass-2'));
    assert.equal(res.status, 200);
    assert.match(text, /<EwsUrl>https:\/\/mail\.fabrikam\.test\/EWS\/Exchange\.asmx<\/EwsUrl>/);
  });

  test('redirect-http.test redirects to http://, redirect-away.test to another domain', async () => {
    const toHttp = await xfetch('http://autodiscover.redirect-http.test/autodiscover/autodiscover.xml');
    assert.equal(toHttp.headers.get('location'), 'http://mail.redirect-http.test/autodiscover/autodiscover.xml');
    const away = await xfetch('http://autodiscover.redirect-away.test/autodiscover/autodiscover.xml');
    assert.equal(away.headers.get('location'), 'https://autodiscover.elsewhere.test/autodiscover/autodiscover.xml');
    // A client that followed the http redirect with credentials is seen in the log.
    idp.exchange.reset();
    await xfetch('http://mail.redirect-http.test/autodiscover/autodiscover.xml', { method: 'POST', headers: { Authorization: basic('pat@redirect-http.test', 'Exchange-Pass-3') }, body: poxRequest('pat@redirect-http.test') });
    const [entry] = idp.exchange.requests;
    assert.deepEqual([entry.scheme, entry.host, entry.authorization], ['http', 'mail.redirect-http.test', 'Basic']);
  });

  test('ntlm.test offers only Negotiate and NTLM; Basic is refused even with the right password', async () => {
    const { res } = await ewsPost('https://mail.ntlm.test/EWS/Exchange.asmx', getFolder(), basic('kim@ntlm.test', 'Exchange-Pass-5'));
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Negotiate, NTLM');
  });

  test('hybrid.test answers a Bearer challenge only (hybrid modern authentication)', async () => {
    const { res } = await ewsPost('https://mail.hybrid.test/EWS/Exchange.asmx', getFolder(), basic('lee@hybrid.test', 'Exchange-Pass-6'));
    assert.equal(res.status, 401);
    const challenge = res.headers.get('www-authenticate');
    assert.match(challenge, /^Bearer client_id="00000002-0000-0ff1-ce00-000000000000", /);
    assert.doesNotMatch(challenge, /Basic|NTLM/);
  });
});

describe('EWS (on-premises)', () => {
  test('GetFolder inbox: the documented envelope, ServerVersionInfo, NoError and the folder', async () => {
    const { res, text } = await ewsPost(EWS, getFolder());
    assert.equal(res.status, 200);
    const doc = xml(text);
    const version = one(doc, NS.types, 'ServerVersionInfo');
    assert.equal(version.parentNode.localName, 'Header');
    assert.equal(version.getAttribute('MajorVersion'), '15');
    const message = one(doc, NS.messages, 'GetFolderResponseMessage');
    assert.equal(message.getAttribute('ResponseClass'), 'Success');
    assert.equal(one(doc, NS.messages, 'ResponseCode').textContent, 'NoError');
    assert.equal(one(doc, NS.types, 'DisplayName').textContent, 'Inbox');
    assert.equal(one(doc, NS.types, 'TotalCount').textContent, '3');
    assert.equal(one(doc, NS.types, 'UnreadCount').textContent, '2');
    assert.ok(one(doc, NS.types, 'FolderId').getAttribute('Id'));
  });

  test('GetFolder IdOnly has the id and nothing else; a FolderId from an answer works too', async () => {
    const doc = xml((await ewsPost(EWS, getFolder(undefined, 'IdOnly'))).text);
    assert.equal(byTag(doc, NS.types, 'DisplayName').length, 0);
    const id = one(doc, NS.types, 'FolderId').getAttribute('Id');
    const again = xml((await ewsPost(EWS, getFolder(`<t:FolderId Id="${id}"/>`))).text);
    assert.equal(one(again, NS.types, 'DisplayName').textContent, 'Inbox');
  });

  test('GetFolder with a malformed FolderId: ResponseClass Error, ErrorInvalidIdMalformed', async () => {
    const { res, text } = await ewsPost(EWS, getFolder('<t:FolderId Id="%%%"/>'));
    assert.equal(res.status, 200);
    const doc = xml(text);
    assert.equal(one(doc, NS.messages, 'GetFolderResponseMessage').getAttribute('ResponseClass'), 'Error');
    assert.equal(one(doc, NS.messages, 'ResponseCode').textContent, 'ErrorInvalidIdMalformed');
  });

  test('FindItem on the inbox with paging: items, TotalItemsInView, IncludesLastItemInRange', async () => {
    const doc = xml((await ewsPost(EWS, findItem('<IndexedPageItemView MaxEntriesReturned="2" Offset="0" BasePoint="Beginning"/>'))).text);
    const root = one(doc, NS.messages, 'RootFolder');
    assert.equal(root.getAttribute('TotalItemsInView'), '3');
    assert.equal(root.getAttribute('IncludesLastItemInRange'), 'false');
    const subjects = byTag(doc, NS.types, 'Subject').map((s) => s.textContent);
    assert.deepEqual(subjects, ['Quarterly report is ready', 'Lunch on Thursday?']);
    const rest = xml((await ewsPost(EWS, findItem('<IndexedPageItemView MaxEntriesReturned="2" Offset="2" BasePoint="Beginning"/>'))).text);
    assert.equal(one(rest, NS.messages, 'RootFolder').getAttribute('IncludesLastItemInRange'), 'true');
    assert.equal(byTag(rest, NS.types, 'Message').length, 1);
  });

  test('malformed XML: HTTP 500 SOAP fault ErrorSchemaValidation; empty Body: ErrorInvalidRequest', async () => {
    const bad = await ewsPost(EWS, '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetFolder>');
    assert.equal(bad.res.status, 500);
    assert.match(one(xml(bad.text), NS.soap, 'Fault') ? bad.text : '', /<faultcode[^>]*>a:ErrorSchemaValidation<\/faultcode>/);
    const empty = await ewsPost(EWS, '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>');
    assert.equal(empty.res.status, 500);
    assert.equal(one(xml(empty.text), NS.errors, 'ResponseCode').textContent, 'ErrorInvalidRequest');
    const unknownFolder = await ewsPost(EWS, getFolder('<t:DistinguishedFolderId Id="nosuchfolder"/>'));
    assert.equal(one(xml(unknownFolder.text), NS.errors, 'ResponseCode').textContent, 'ErrorSchemaValidation');
  });

  test('wrong password: 401 with the challenges and an IIS page; missing credentials: 401', async () => {
    const wrong = await ewsPost(EWS, getFolder(), basic('alex@contoso.test', 'Exchange-Pass-0'));
    assert.equal(wrong.res.status, 401);
    assert.equal(wrong.res.headers.get('www-authenticate'), 'Negotiate, NTLM, Basic realm="mail.contoso.test"');
    assert.equal((await ewsPost(EWS, getFolder(), null)).res.status, 401);
    assert.equal((await ewsPost(EWS, getFolder(), basic('sam@fabrikam.test', 'Exchange-Pass-2'))).res.status, 401, 'another organisation\'s mailbox');
  });

  test('the administrator changes the password (control API): old refused, new accepted', async () => {
    const changed = await control('/password', { mailbox: 'alex@contoso.test', password: 'Exchange-Pass-1b' });
    assert.equal(changed.status, 200);
    try {
      assert.equal((await ewsPost(EWS, getFolder())).res.status, 401);
      assert.equal((await ewsPost(EWS, getFolder(), basic('alex@contoso.test', 'Exchange-Pass-1b'))).res.status, 200);
      assert.equal((await control('/password', { mailbox: 'nobody@contoso.test', password: 'x' })).status, 400);
    } finally {
      await control('/reset', {});
    }
    assert.equal((await ewsPost(EWS, getFolder())).res.status, 200, 'reset restores the first password');
  });

  test('the request log (control API) records scheme, host, auth scheme and login, never the password', async () => {
    await control('/reset', {});
    await ewsPost(EWS, getFolder());
    const { body } = await control('/requests');
    assert.equal(body.length, 1);
    assert.deepEqual(
      [body[0].scheme, body[0].method, body[0].host, body[0].path, body[0].authorization, body[0].login, body[0].auth, body[0].ewsOperation, body[0].responseCode, body[0].status],
      ['https', 'POST', 'mail.contoso.test', '/EWS/Exchange.asmx', 'Basic', 'alex@contoso.test', 'accepted', 'GetFolder', 'NoError', 200],
    );
    assert.ok(!JSON.stringify(body).includes('Exchange-Pass-1'));
    assert.ok(!JSON.stringify(body).includes(ALEX.slice(6)), 'nor the base64 credentials');
  });

  test('faults: 503 for the next EWS call only; ErrorServerBusy; bad fault rejected', async () => {
    assert.equal((await control('/fail-next', { target: 'ews', kind: 'status', status: 503, retryAfter: 30 })).status, 200);
    const down = await ewsPost(EWS, getFolder());
    assert.equal(down.res.status, 503);
    assert.equal(down.res.headers.get('retry-after'), '30');
    assert.equal((await ewsPost(EWS, getFolder())).res.status, 200);
    await control('/fail-next', { target: 'ews', kind: 'server-busy' });
    const busy = await ewsPost(EWS, getFolder());
    assert.equal(busy.res.status, 500);
    assert.equal(one(xml(busy.text), NS.errors, 'ResponseCode').textContent, 'ErrorServerBusy');
    assert.equal((await control('/fail-next', { target: 'ews', kind: 'explode' })).status, 400);
  });

  test('an Outlook callback token is accepted as Bearer by the mailbox\'s own EWS only', async () => {
    const { body } = await control('/callback-token', { mailbox: 'alex@contoso.test' });
    assert.equal((await ewsPost(EWS, getFolder(), `Bearer ${body.token}`)).res.status, 200);
    assert.equal((await ewsPost('https://mail.fabrikam.test/EWS/Exchange.asmx', getFolder(), `Bearer ${body.token}`)).res.status, 401);
    assert.equal((await ewsPost(EWS, getFolder(), 'Bearer exch-cb.forged')).res.status, 401);
  });
});

describe('Exchange Online (outlook.office365.com)', () => {
  const json = (email) => xfetch(`https://outlook.office365.com/autodiscover/autodiscover.json/v1.0/${encodeURIComponent(email)}?Protocol=EWS`);

  test('Autodiscover JSON answers the EWS URL for Microsoft 365 mailboxes', async () => {
    for (const email of ['megan@m365.test', 'alice@contoso.com']) {
      const res = await json(email);
      assert.equal(res.status, 200, email);
      assert.deepEqual(await res.json(), { Protocol: 'EWS', Url: 'https://outlook.office365.com/EWS/Exchange.asmx' });
    }
  });

  test('a domain Exchange Online does not host: 404 by default, or the Office 365 URL when so configured', async () => {
    const res = await json('alex@contoso.test');
    assert.equal(res.status, 404);
    assert.equal((await res.json()).ErrorCode, 'InvalidUser');
    await control('/config', { onlineUnknownDomain: 'office365' });
    try {
      assert.equal((await json('alex@contoso.test')).status, 200);
    } finally {
      await control('/reset', {});
    }
    assert.equal((await control('/config', { onlineUnknownDomain: 'maybe' })).status, 400);
  });

  test('EWS: Basic gets a Bearer challenge; an Entra token for EWS gets 403 (blocked for the tenant) unless allow-listed', async () => {
    const basicTry = await ewsPost('https://outlook.office365.com/EWS/Exchange.asmx', getFolder(), basic('alice@contoso.com', 'x'));
    assert.equal(basicTry.res.status, 401);
    assert.match(basicTry.res.headers.get('www-authenticate'), /^Bearer client_id="00000002-0000-0ff1-ce00-000000000000"/);

    const token = async (scope) => {
      const I = idp.info.microsoft;
      const r = await authorize({ authorizeUrl: I.authorize, clientId: I.nativeClientId, redirectUri: RU, scope: `openid ${scope}`, account: 'alice@contoso.com' });
      const t = await tokenRequest(I.token, { client_id: I.nativeClientId, grant_type: 'authorization_code', code: r.code, redirect_uri: RU, code_verifier: r.verifier, scope: `openid ${scope}` });
      assert.equal(t.status, 200, t.text);
      return t.body.access_token;
    };
    const graphToken = await token('https://graph.microsoft.com/User.Read');
    assert.equal((await ewsPost('https://outlook.office365.com/EWS/Exchange.asmx', getFolder(), `Bearer ${graphToken}`)).res.status, 401, 'a Graph token is for another audience');
    const ewsToken = await token('https://outlook.office365.com/EWS.AccessAsUser.All');
    assert.equal((await ewsPost('https://outlook.office365.com/EWS/Exchange.asmx', getFolder(), `Bearer ${ewsToken}`)).res.status, 403);
    await control('/config', { onlineEwsAllowed: true });
    try {
      const ok = await ewsPost('https://outlook.office365.com/EWS/Exchange.asmx', getFolder(), `Bearer ${ewsToken}`);
      assert.equal(ok.res.status, 200);
      assert.equal(one(xml(ok.text), NS.messages, 'ResponseCode').textContent, 'NoError');
    } finally {
      await control('/reset', {});
    }
  });
});

// The vendor-client fidelity suite: the EWS Managed API's JavaScript port
// (ews-javascript-api 0.15.3, its own SOAP writer and reader) against the emulator. Local
// accommodation: its XHR layer (@ewsjs/xhr, axios) is given http(s) agents that connect the
// real host names to the emulator's ports and trust its certificate (exchangeAgents);
// nothing of the library is patched. Its Autodiscover (AutodiscoverUrl): ews-javascript-api
// implements only SOAP Autodiscover (its POX path throws "Not implemented."), which the
// emulator serves on the same hosts for it (see EXCHANGE.md); the order of hosts, the http
// redirect step and the redirect validation callback are the library's own.
describe('ews-javascript-api (EWS Managed API port) against the emulator', () => {
  const { ExchangeService, ExchangeVersion, WebCredentials, Uri, Folder, WellKnownFolderName, ItemView, ConfigurationApi } = ews;
  before(() => {
    const agents = exchangeAgents(idp.exchange);
    ConfigurationApi.ConfigureXHR(new XhrApi({ httpsAgent: agents.https, httpAgent: agents.http }));
  });
  const service = (login, password, url = EWS) => {
    const s = new ExchangeService(ExchangeVersion.Exchange2016);
    s.Credentials = new WebCredentials(login, password);
    s.Url = new Uri(url);
    return s;
  };

  test('Folder.Bind(Inbox) and FindItems read the folder, the items and the server version', async () => {
    const s = service('alex@contoso.test', 'Exchange-Pass-1');
    const inbox = await Folder.Bind(s, WellKnownFolderName.Inbox);
    assert.equal(inbox.DisplayName, 'Inbox');
    assert.equal(inbox.TotalCount, 3);
    assert.equal(inbox.UnreadCount, 2);
    const found = await s.FindItems(WellKnownFolderName.Inbox, new ItemView(2));
    assert.equal(found.TotalCount, 3);
    assert.equal(found.MoreAvailable, true);
    assert.deepEqual(found.Items.map((i) => i.Subject), ['Quarterly report is ready', 'Lunch on Thursday?']);
    assert.equal(found.Items[0].From.Address, 'megan@m365.test');
    assert.equal(s.ServerInfo.MajorVersion, 15);
    assert.equal(s.ServerInfo.VersionString, 'V2017_07_11');
  });

  test('DOMAIN\\user login works (FABRIKAM\\sam)', async () => {
    const inbox = await Folder.Bind(service('FABRIKAM\\sam', 'Exchange-Pass-2', 'https://mail.fabrikam.test/EWS/Exchange.asmx'), WellKnownFolderName.Inbox);
    assert.equal(inbox.DisplayName, 'Inbox');
  });

  test('a wrong password fails with 401 after exactly one request (the library does not retry)', async () => {
    idp.exchange.reset();
    await assert.rejects(Folder.Bind(service('alex@contoso.test', 'wrong'), WellKnownFolderName.Inbox), (e) => /401/.test(String(e?.message ?? e)));
    assert.equal(idp.exchange.requests.length, 1);
    assert.equal(idp.exchange.requests[0].auth, 'rejected');
  });

  test('a folder the emulator does not know by that name is an error the library reports', async () => {
    await assert.rejects(Folder.Bind(service('alex@contoso.test', 'Exchange-Pass-1'), WellKnownFolderName.Calendar), (e) => /could not be found|FolderNotFound/i.test(String(e?.message ?? e)));
  });

  const autodiscover = async (login, password, email, seen = []) => {
    const s = new ExchangeService(ExchangeVersion.Exchange2016);
    s.Credentials = new WebCredentials(login, password);
    await s.AutodiscoverUrl(email, (url) => {
      seen.push(url);
      return url.startsWith('https://');
    });
    return s.Url.ToString();
  };
  const credentialed = () => idp.exchange.requests.filter((e) => e.authorization);

  test('AutodiscoverUrl finds the EWS URL of alex@contoso.test; the unauthenticated probe carries no credentials', async () => {
    idp.exchange.reset();
    assert.equal(await autodiscover('alex@contoso.test', 'Exchange-Pass-1', 'alex@contoso.test'), EWS);
    assert.ok(credentialed().every((e) => e.scheme === 'https' && e.host === 'autodiscover.contoso.test' && e.auth === 'accepted'), JSON.stringify(credentialed()));
    assert.ok(idp.exchange.requests.some((e) => e.path === '/autodiscover/autodiscover.svc' && e.status === 200));
  });

  test('AutodiscoverUrl for sam@fabrikam.test follows the http redirect after its own validation callback, credentials only over https', async () => {
    idp.exchange.reset();
    const seen = [];
    assert.equal(await autodiscover('FABRIKAM\\sam', 'Exchange-Pass-2', 'sam@fabrikam.test', seen), 'https://mail.fabrikam.test/EWS/Exchange.asmx');
    assert.deepEqual(seen, ['https://mail.fabrikam.test/autodiscover/autodiscover.xml']);
    assert.ok(idp.exchange.requests.some((e) => e.scheme === 'http' && e.host === 'autodiscover.fabrikam.test' && e.status === 302 && !e.authorization));
    assert.ok(credentialed().length > 0 && credentialed().every((e) => e.scheme === 'https' && e.host === 'mail.fabrikam.test'));
  });

  test('AutodiscoverUrl for pat@redirect-http.test: the library drops the redirect to http itself, no credentials over http', async () => {
    idp.exchange.reset();
    const seen = [];
    await assert.rejects(autodiscover('pat@redirect-http.test', 'Exchange-Pass-3', 'pat@redirect-http.test', seen));
    // TryGetRedirectionResponse keeps only https Locations: the callback is never asked.
    assert.deepEqual(seen, []);
    assert.ok(idp.exchange.requests.some((e) => e.scheme === 'http' && e.host === 'autodiscover.redirect-http.test' && e.status === 302));
    assert.equal(idp.exchange.requests.filter((e) => e.host === 'mail.redirect-http.test').length, 0);
    assert.equal(credentialed().filter((e) => e.scheme === 'http').length, 0);
  });

  test('AutodiscoverUrl with a wrong password fails; the password was tried once', async () => {
    idp.exchange.reset();
    await assert.rejects(autodiscover('alex@contoso.test', 'wrong', 'alex@contoso.test'));
    assert.deepEqual(credentialed().map((e) => [e.host, e.auth, e.status]), [['autodiscover.contoso.test', 'rejected', 401]]);
  });
});

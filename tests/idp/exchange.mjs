// Emulated Microsoft Exchange: on-premises organisations (POX Autodiscover, EWS with
// Basic/NTLM/Negotiate/Bearer challenges) and the Exchange Online front door
// (outlook.office365.com: the Autodiscover JSON endpoint, EWS blocked for the tenant).
//
// Real Exchange lives on host names (autodiscover.contoso.test, mail.contoso.test,
// outlook.office365.com), on ports 443 and 80. This emulator listens on two loopback
// ports (https + http) and routes by the Host header (SNI for TLS); Chromium reaches it
// through `--host-resolver-rules` (hostResolverRules() below, tests/support/exchange-browser.mjs),
// node tests through exchangeFetch() (tests/idp/exchange-client.mjs). Nothing here contacts
// anything but loopback. Every answer cites the page of Microsoft's documentation it
// follows (MicrosoftDocs/office-developer-exchange-docs, "docs/..." paths below; the
// README section tests/idp/EXCHANGE.md lists them all).
//
// Secrets: the request log keeps the authentication scheme and the login (user name),
// never a password or a token.

import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';

import { DOMParser } from '@xmldom/xmldom';

import { applyCors, readBody, readControlBody, sendJson } from './common.mjs';
import { MS_ACCOUNTS } from './microsoft.mjs';
import { selfSignedCert } from './tls.mjs';

export const NS = {
  soap: 'http://schemas.xmlsoap.org/soap/envelope/',
  soap12: 'http://www.w3.org/2003/05/soap-envelope',
  types: 'http://schemas.microsoft.com/exchange/services/2006/types',
  messages: 'http://schemas.microsoft.com/exchange/services/2006/messages',
  errors: 'http://schemas.microsoft.com/exchange/services/2006/errors',
  // POX Autodiscover. Microsoft's pages print these with "https://" (an automated
  // link rewrite of the docs); the schemas, Exchange and every client use "http://"
  // (docs/web-service-reference/pox-autodiscover-request-for-exchange.md, the EWS
  // Managed API's AutodiscoverRequest): a namespace is compared as a string.
  adRequest: 'http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006',
  adResponse: 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006',
  adOutlook: 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a',
  // SOAP Autodiscover (docs/web-service-reference/getusersettings-operation-soap.md; "https"
  // in the page, "http" in the schema and the clients, as above).
  adSoap: 'http://schemas.microsoft.com/exchange/2010/Autodiscover',
  wsa: 'http://www.w3.org/2005/08/addressing',
};

// Exchange Server 2019 CU14 (build 15.2.1544.4). ServerVersionInfo carries the build and the
// schema version (docs/web-service-reference/serverversioninfo.md). "V2017_07_11" is what
// Exchange 2016/2019 report; requestserverversion.md lists values only up to Exchange2013_SP1
// (unverified from Microsoft's pages; ews-javascript-api's ExchangeVersion knows it).
export const SERVER_VERSION = { MajorVersion: 15, MinorVersion: 2, MajorBuildNumber: 1544, MinorBuildNumber: 4, Version: 'V2017_07_11' };
// POX <ServerVersion> (serverversion-pox.md: "the version of the server") is the same
// build packed into 32 bits, as the doc's example 72008287 decodes (0111, major 6 bits,
// minor 6 bits, 1, build 15 bits: 8.0.647): for 15.2.1544 this is 73C28608.
const POX_SERVER_VERSION = (((0b0111 << 28) | (SERVER_VERSION.MajorVersion << 22) | (SERVER_VERSION.MinorVersion << 16) | (1 << 15) | SERVER_VERSION.MajorBuildNumber) >>> 0).toString(16).toUpperCase();

export const ONLINE_HOST = 'outlook.office365.com';
export const ONLINE_EWS_URL = `https://${ONLINE_HOST}/EWS/Exchange.asmx`;
// Exchange Online EWS answers 401 with this Bearer challenge (the resource is Exchange
// Online's app id 00000002-0000-0ff1-ce00-000000000000); Basic authentication is off in
// Exchange Online (learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/
// deprecation-of-basic-authentication-exchange-online).
const ONLINE_BEARER_CHALLENGE = 'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000@*", token_types="app_asserted_user_v1 service_asserted_app_v1", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"';

/**
 * The on-premises organisations. `auth`: which credentials EWS and Autodiscover accept
 * ('basic' offers Negotiate, NTLM and Basic, as IIS lists them; 'ntlm' offers only
 * Negotiate and NTLM (Basic switched off on the virtual directories); 'bearer' is hybrid
 * modern authentication: only a Bearer challenge).
 */
export const ORGS = {
  contoso: {
    domain: 'contoso.test',
    netbios: 'CONTOSO',
    auth: 'basic',
    autodiscoverHosts: ['autodiscover.contoso.test', 'mail.contoso.test'],
    ewsHost: 'mail.contoso.test',
    mailboxes: [{ address: 'alex@contoso.test', user: 'alex', displayName: 'Alex Wilber', password: 'Exchange-Pass-1' }],
  },
  fabrikam: {
    domain: 'fabrikam.test',
    netbios: 'FABRIKAM',
    auth: 'basic',
    autodiscoverHosts: ['mail.fabrikam.test'],
    ewsHost: 'mail.fabrikam.test',
    mailboxes: [{ address: 'sam@fabrikam.test', user: 'sam', displayName: 'Sam Fabrikam', password: 'Exchange-Pass-2' }],
  },
  // redirect-http.test: its http Autodiscover redirects to http://mail.redirect-http.test,
  // which answers Autodiscover over plain http too (a misconfigured server), so a client
  // that followed the redirect and sent its password would be seen in the log.
  redirectHttp: {
    domain: 'redirect-http.test',
    netbios: 'REDIRHTTP',
    auth: 'basic',
    autodiscoverHosts: ['mail.redirect-http.test'],
    plainHttpAutodiscoverHosts: ['mail.redirect-http.test'],
    ewsHost: 'mail.redirect-http.test',
    mailboxes: [{ address: 'pat@redirect-http.test', user: 'pat', displayName: 'Pat Redirect', password: 'Exchange-Pass-3' }],
  },
  // redirect-away.test: the http Autodiscover redirects to a host of another domain.
  redirectAway: {
    domain: 'redirect-away.test',
    netbios: 'ELSEWHERE',
    auth: 'basic',
    autodiscoverHosts: ['autodiscover.elsewhere.test'],
    ewsHost: 'mail.elsewhere.test',
    mailboxes: [{ address: 'robin@redirect-away.test', user: 'robin', displayName: 'Robin Away', password: 'Exchange-Pass-4' }],
  },
  ntlm: {
    domain: 'ntlm.test',
    netbios: 'NTLMCORP',
    auth: 'ntlm',
    autodiscoverHosts: ['autodiscover.ntlm.test', 'mail.ntlm.test'],
    ewsHost: 'mail.ntlm.test',
    mailboxes: [{ address: 'kim@ntlm.test', user: 'kim', displayName: 'Kim Ntlm', password: 'Exchange-Pass-5' }],
  },
  hybrid: {
    domain: 'hybrid.test',
    netbios: 'HYBRID',
    auth: 'bearer',
    autodiscoverHosts: ['autodiscover.hybrid.test', 'mail.hybrid.test'],
    ewsHost: 'mail.hybrid.test',
    mailboxes: [{ address: 'lee@hybrid.test', user: 'lee', displayName: 'Lee Hybrid', password: 'Exchange-Pass-6' }],
  },
};

/** Plain-http hosts answering the unauthenticated Autodiscover GET with a redirect (docs/exchange-web-services/autodiscover-for-exchange.md, "unauthenticated GET"). */
export const HTTP_REDIRECTS = {
  'autodiscover.fabrikam.test': 'https://mail.fabrikam.test/autodiscover/autodiscover.xml',
  'autodiscover.redirect-http.test': 'http://mail.redirect-http.test/autodiscover/autodiscover.xml',
  'autodiscover.redirect-away.test': 'https://autodiscover.elsewhere.test/autodiscover/autodiscover.xml',
};

/** A plain web site of the domain itself: https://contoso.test/ exists and knows nothing of Autodiscover (404). */
export const WEB_SITES = ['contoso.test'];

/** Domains whose mailboxes are in Exchange Online: m365.test and the Microsoft test accounts' domains. */
export const ONLINE_DOMAINS = [...new Set(['m365.test', ...MS_ACCOUNTS.map((a) => a.login.split('@')[1])])];
export const ONLINE_MAILBOXES = ['megan@m365.test', ...MS_ACCOUNTS.map((a) => a.login)];

/** Every https host the emulator serves (the certificate's names). Others: the TLS handshake is refused. */
export function httpsHosts() {
  const hosts = new Set([ONLINE_HOST, ...WEB_SITES]);
  for (const org of Object.values(ORGS)) {
    for (const h of org.autodiscoverHosts) hosts.add(h);
    hosts.add(org.ewsHost);
  }
  return [...hosts];
}

/** Every http host the emulator answers on port 80. */
export function httpHosts() {
  const hosts = new Set(Object.keys(HTTP_REDIRECTS));
  for (const org of Object.values(ORGS)) for (const h of org.plainHttpAutodiscoverHosts || []) hosts.add(h);
  return [...hosts];
}

/** Every name the emulated world has, including the ones where nothing answers (they must fail, never reach DNS). */
export function emulatedHostNames() {
  const names = new Set([...httpsHosts(), ...httpHosts()]);
  for (const org of Object.values(ORGS)) {
    names.add(org.domain);
    names.add(`autodiscover.${org.domain}`);
  }
  for (const d of ONLINE_DOMAINS) {
    if (!d.endsWith('.test')) continue; // contoso.com etc. are real names: not mapped
    names.add(d);
    names.add(`autodiscover.${d}`);
  }
  return [...names].sort();
}

/**
 * Chromium's `--host-resolver-rules` value: each emulated name, on port 443 and 80, to the
 * emulator's https / http loopback port. The pattern of a MAP rule is matched against
 * "host" and against "host:port" (net/base/host_mapping_rules.cc), so `MAP h:443
 * 127.0.0.1:P` sends only that port there. Any other *.test name, and any other port of an
 * emulated name, resolves to nothing (~NOTFOUND): no DNS query leaves the machine.
 */
export function hostResolverRules({ httpsPort, httpPort }) {
  const rules = [];
  for (const h of emulatedHostNames()) {
    rules.push(`MAP ${h}:443 127.0.0.1:${httpsPort}`);
    rules.push(`MAP ${h}:80 127.0.0.1:${httpPort}`);
  }
  rules.push(`MAP ${ONLINE_HOST}:443 127.0.0.1:${httpsPort}`);
  rules.push(`MAP ${ONLINE_HOST}:80 127.0.0.1:${httpPort}`);
  rules.push('MAP *.test ~NOTFOUND', `MAP ${ONLINE_HOST} ~NOTFOUND`);
  return rules.join(', ');
}

// ---------------------------------------------------------------------------
// XML helpers. Answers are fixed documented shapes filled with a few values, so they are
// template strings with escaping (five characters) rather than a builder; requests are
// parsed with @xmldom/xmldom (namespace-aware; the EWS Managed API port uses it too).
// ---------------------------------------------------------------------------
export const xmlEscape = (s) => String(s).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }[c]));

function parseXml(text) {
  const errors = [];
  const doc = new DOMParser({
    errorHandler: { warning: () => {}, error: (m) => errors.push(String(m)), fatalError: (m) => errors.push(String(m)) },
  }).parseFromString(text, 'text/xml');
  if (errors.length || !doc?.documentElement) throw new Error(errors[0] || 'no root element');
  return doc;
}

const elements = (node) => Array.from(node?.childNodes || []).filter((n) => n.nodeType === 1);
const child = (node, ns, local) => elements(node).find((n) => n.namespaceURI === ns && n.localName === local);
const textOf = (node) => (node?.textContent ?? '').trim();

// ---------------------------------------------------------------------------
// Mailbox contents (FindItem on the inbox).
// ---------------------------------------------------------------------------
const opaqueId = (...parts) => Buffer.from(`AAMk:${parts.join(':')}`).toString('base64');

function inboxItems(mailbox) {
  const at = (days) => new Date(Date.UTC(2026, 10, 30 - days, 8, 15, 0)).toISOString().replace('.000Z', 'Z');
  return [
    { subject: 'Quarterly report is ready', from: ['Megan Bowen', 'megan@m365.test'], received: at(0), size: 18432, isRead: false, attachments: true },
    { subject: 'Lunch on Thursday?', from: ['Adele Vance', 'adele@contoso.test'], received: at(1), size: 4210, isRead: false, attachments: false },
    { subject: `Welcome, ${mailbox.displayName}`, from: ['IT Service Desk', 'helpdesk@contoso.test'], received: at(6), size: 9120, isRead: true, attachments: false },
  ].map((m, i) => ({ ...m, id: opaqueId(mailbox.address, 'inbox', i), changeKey: `CQAAABYAAAC${i}` }));
}

const FOLDERS = {
  inbox: 'Inbox', msgfolderroot: 'Top of Information Store', sentitems: 'Sent Items', drafts: 'Drafts', deleteditems: 'Deleted Items',
};
// DistinguishedFolderId values the schema allows but the emulator keeps empty; any other
// value fails schema validation (docs/web-service-reference/distinguishedfolderid.md lists them).
const OTHER_DISTINGUISHED = new Set(['calendar', 'contacts', 'journal', 'notes', 'tasks', 'outbox', 'junkemail', 'searchfolders', 'voicemail', 'root', 'archiveroot', 'archivemsgfolderroot', 'archivedeleteditems', 'archiveinbox', 'recoverableitemsroot', 'recoverableitemsdeletions', 'recoverableitemsversions', 'recoverableitemspurges', 'syncissues', 'conflicts', 'localfailures', 'serverfailures', 'recipientcache', 'quickcontacts', 'conversationhistory', 'adminauditlogs', 'todosearch', 'mycontacts', 'directory', 'imcontactlist', 'peopleconnect', 'favorites']);

// ---------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------
const LOG_SIZE = 500;
// Office callback tokens live 5 minutes: the Outlook API reference of getCallbackTokenAsync
// says so (learn.microsoft.com/javascript/api/outlook/office.mailbox; not in the fetched
// office-js-docs-pr, whose docs/outlook/authentication.md describes the tokens).
const CALLBACK_TOKEN_MS = 5 * 60 * 1000;

export const EXCHANGE_CONFIG = {
  onlineEwsAllowed: ['boolean', false, 'the Microsoft 365 tenant still allow-lists EWS (Set-OrganizationConfig -EwsEnabled / EwsAllowedAppIDs); false = blocked, the default since 2026-10-01'],
  onlineUnknownDomain: ['enum:not-found|office365', 'not-found', 'what the Autodiscover JSON endpoint answers for a domain Exchange Online does not host (undocumented, see EXCHANGE.md)'],
  onlineAutodiscoverCors: ['boolean', false, 'the Autodiscover JSON endpoint sends CORS headers to loopback pages (undocumented; off: only the extension service worker can read it)'],
};

/**
 * Starts the emulated Exchange servers (one https, one http port on 127.0.0.1).
 * @param {object} [o]
 * @param {{key:string, cert:string}} [o.tls]  a certificate naming httpsHosts(); made with selfSignedCert() if omitted
 * @param {(token:string) => Promise<{login:string, resources:string[], expired:boolean}|null>} [o.microsoftToken]  validates Exchange Online Bearer tokens against the Entra emulator
 */
export async function startExchange({ httpsPort = 0, httpPort = 0, tls: cert, microsoftToken = async () => null } = {}) {
  cert ??= processCertificate();
  const servedHttps = new Set(httpsHosts());
  const secureContext = tls.createSecureContext({ key: cert.key, cert: cert.cert });
  const spki = crypto.createHash('sha256').update(new crypto.X509Certificate(cert.cert).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');

  const state = freshState();
  function freshState() {
    const passwords = new Map();
    for (const org of Object.values(ORGS)) for (const m of org.mailboxes) passwords.set(m.address, m.password);
    return {
      passwords,
      log: [],
      faults: [],
      callbackTokens: new Map(),
      config: Object.fromEntries(Object.entries(EXCHANGE_CONFIG).map(([k, [, def]]) => [k, def])),
    };
  }

  const httpsServer = https.createServer({
    key: cert.key,
    cert: cert.cert,
    // A name the emulated world has but where no https server runs (https://fabrikam.test)
    // fails the handshake, the nearest a single loopback port gets to "connection refused".
    SNICallback: (name, cb) => (servedHttps.has(name.toLowerCase()) ? cb(null, secureContext) : cb(new Error(`no https site ${name}`))),
  });
  const httpServer = http.createServer();
  for (const s of [httpsServer, httpServer]) s.keepAliveTimeout = 1000;
  await listen(httpsServer, httpsPort);
  try {
    await listen(httpServer, httpPort);
  } catch (e) {
    httpsServer.close();
    throw e;
  }
  const ports = { https: httpsServer.address().port, http: httpServer.address().port };

  httpsServer.on('request', (req, res) => dispatch('https', req, res));
  httpServer.on('request', (req, res) => dispatch('http', req, res));

  function dispatch(scheme, req, res) {
    handle(scheme, req, res).catch((err) => {
      process.stderr.write(`exchange: internal error on ${req.method} ${req.url.split('?')[0]}: ${err?.stack || err}\n`);
      if (!res.headersSent) sendText(res, 500, 'emulator internal error');
      else res.destroy();
    });
  }

  // --- request log -------------------------------------------------------
  function record(scheme, req, extra = {}) {
    const h = String(req.headers.authorization || '');
    const authScheme = h ? h.split(/\s+/)[0] : null;
    let login = null;
    if (/^basic$/i.test(authScheme || '')) login = decodeBasic(h)?.login ?? '(undecodable)';
    const entry = {
      time: new Date().toISOString(),
      scheme,
      method: req.method,
      host: hostOf(req),
      path: req.url,
      authorization: authScheme,
      login,
      origin: req.headers.origin ?? null,
      ...extra,
      status: null,
    };
    state.log.push(entry);
    if (state.log.length > LOG_SIZE) state.log.shift();
    return entry;
  }

  // --- faults --------------------------------------------------------------
  function takeFault(target) {
    const i = state.faults.findIndex((f) => f.target === 'any' || f.target === target);
    if (i < 0) return null;
    const f = state.faults[i];
    if (f.remaining !== 0) { // 0: until cleared
      f.remaining -= 1;
      if (f.remaining === 0) state.faults.splice(i, 1);
    }
    return f;
  }

  /** Applies a fault; returns true when the request has been answered. */
  async function applyFault(f, res, entry) {
    entry.fault = f.kind;
    switch (f.kind) {
      case 'delay':
        await new Promise((r) => setTimeout(r, f.ms));
        return false;
      case 'reset':
        res.socket?.destroy();
        entry.status = 'reset';
        return true;
      case 'server-busy':
        // EWS throttling: HTTP 500 SOAP fault ErrorServerBusy with BackOffMilliseconds
        // (docs/exchange-web-services/ews-throttling-in-exchange.md).
        entry.status = 500;
        sendSoapFault(res, 'ErrorServerBusy', 'The server cannot service this request right now. Try again later.', { backOffMs: f.backOffMs ?? 30000 });
        return true;
      default: // 'status': an IIS/HTTP.sys answer such as 503 Service Unavailable
        entry.status = f.status;
        sendText(res, f.status, `<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body><h2>Service Unavailable</h2><hr><p>HTTP Error ${f.status}. The service is unavailable.</p></body></html>`, 'text/html; charset=us-ascii', f.retryAfter ? { 'Retry-After': String(f.retryAfter) } : {});
        return true;
    }
  }

  // --- routing ---------------------------------------------------------------
  async function handle(scheme, req, res) {
    const host = hostOf(req);
    const url = new URL(req.url, `${scheme}://${host || '127.0.0.1'}`);
    const path = url.pathname.toLowerCase();
    res.setHeader('Date', new Date().toUTCString());

    // The Outlook proxy of the Office test double (makeEwsRequestAsync), on the emulator's
    // own loopback origin: Outlook sends the add-in's SOAP to EWS as the signed-in mailbox.
    const owaAction = url.searchParams.get('action');
    if (scheme === 'https' && path === '/owa/service.svc' && ['ExecuteEwsProxy', 'GetClientAccessToken'].includes(owaAction)) {
      return outlookService(req, res, owaAction);
    }

    if (scheme === 'http') {
      const entry = record(scheme, req, { operation: 'http' });
      const redirect = HTTP_REDIRECTS[host];
      if (redirect && path === '/autodiscover/autodiscover.xml') {
        // docs/exchange-web-services/autodiscover-for-exchange.md: "send an unauthenticated
        // GET request to ... http://autodiscover.<domain>/autodiscover/autodiscover.xml ...
        // If the server returns a 302 redirect response" the client tries the Location.
        entry.operation = 'autodiscover-redirect';
        entry.status = 302;
        res.statusCode = 302;
        res.setHeader('Location', redirect);
        res.setHeader('Content-Type', 'text/html; charset=UTF-8');
        return res.end(`<head><title>Document Moved</title></head>\n<body><h1>Object Moved</h1>This document may be found <a HREF="${xmlEscape(redirect)}">here</a></body>`);
      }
      const org = orgOfPlainHttpHost(host);
      if (org && path === '/autodiscover/autodiscover.xml') return autodiscoverPox(org, req, res, entry);
      entry.status = 404;
      return sendText(res, 404, notFoundPage(), 'text/html; charset=us-ascii');
    }

    if (host === ONLINE_HOST) return online(req, res, url, path);
    if (WEB_SITES.includes(host)) {
      const entry = record(scheme, req, { operation: 'website' });
      // A company web site: no /autodiscover (the first candidate of the order fails).
      entry.status = path === '/' ? 200 : 404;
      return path === '/'
        ? sendText(res, 200, `<!DOCTYPE html><html><head><title>${host}</title></head><body><h1>${host}</h1></body></html>`, 'text/html; charset=utf-8')
        : sendText(res, 404, notFoundPage(), 'text/html; charset=us-ascii');
    }
    const org = orgOfHost(host);
    const entry = record(scheme, req, {});
    if (org && org.autodiscoverHosts.includes(host)) {
      // Exchange's Autodiscover virtual directory says which Autodiscover endpoints it has;
      // the EWS Managed API reads these headers from the answer to a GET of
      // autodiscover.xml before it tries SOAP Autodiscover (AutodiscoverService
      // .GetEndpointsFromHttpWebResponse; not in Microsoft's pages: unverified).
      res.setHeader('X-SOAP-Enabled', 'True');
      res.setHeader('X-WSSecurity-Enabled', 'False');
      res.setHeader('X-OAuth-Enabled', 'False');
      if (path === '/autodiscover/autodiscover.xml') return autodiscoverPox(org, req, res, entry);
      if (path === '/autodiscover/autodiscover.svc') return autodiscoverSoap(org, req, res, entry);
    }
    if (org && path === '/ews/exchange.asmx' && host === org.ewsHost) {
      return ews(org, req, res, entry);
    }
    entry.status = 404;
    return sendText(res, 404, notFoundPage(), 'text/html; charset=us-ascii');
  }

  // --- authentication --------------------------------------------------------
  function challenges(org, host) {
    // IIS lists the enabled providers of the virtual directory, Negotiate first.
    if (org.auth === 'ntlm') return ['Negotiate', 'NTLM'];
    // Hybrid modern authentication: the on-premises EWS trusts Entra tokens and challenges
    // for one (the same challenge as Exchange Online's, Basic disabled).
    if (org.auth === 'bearer') return [ONLINE_BEARER_CHALLENGE];
    return ['Negotiate', 'NTLM', `Basic realm="${host}"`];
  }

  function sendUnauthorized(res, entry, headerValues) {
    entry.status = 401;
    res.statusCode = 401;
    res.setHeader('WWW-Authenticate', headerValues);
    res.setHeader('Content-Type', 'text/html');
    // IIS's own 401 page: informational, no client parses it.
    res.end('<!DOCTYPE html><html><head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title></head><body><h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2><h3>You do not have permission to view this directory or page using the credentials that you supplied.</h3></body></html>');
  }

  /** The mailbox the request authenticates as, or null (then a 401 has been sent). */
  function authenticate(org, req, res, entry) {
    const header = String(req.headers.authorization || '');
    const host = hostOf(req);
    if (org.auth === 'basic' && /^basic\s/i.test(header)) {
      const cred = decodeBasic(header);
      const mailbox = cred && mailboxByLogin(org, cred.login);
      if (mailbox && state.passwords.get(mailbox.address) === cred.password) {
        entry.auth = 'accepted';
        return mailbox;
      }
      entry.auth = 'rejected';
    } else if (/^bearer\s/i.test(header) && org.auth !== 'ntlm') {
      // A callback token of the Office double (Outlook's mailbox on-premises).
      const token = header.replace(/^bearer\s+/i, '').trim();
      const t = state.callbackTokens.get(token);
      if (t && t.expires > Date.now()) {
        const mailbox = org.mailboxes.find((m) => m.address === t.mailbox);
        if (mailbox) {
          entry.auth = 'accepted';
          entry.login = mailbox.address;
          return mailbox;
        }
      }
      entry.auth = 'rejected';
    } else if (header) {
      entry.auth = 'rejected';
    }
    sendUnauthorized(res, entry, challenges(org, host));
    return null;
  }

  // --- POX Autodiscover -----------------------------------------------------
  async function autodiscoverPox(org, req, res, entry) {
    entry.operation = 'autodiscover';
    const body = req.method === 'POST' ? await readBody(req) : null;
    const fault = takeFault('autodiscover');
    if (fault && await applyFault(fault, res, entry)) return undefined;
    const mailbox = authenticate(org, req, res, entry);
    if (!mailbox) return undefined;
    // docs/web-service-reference/pox-autodiscover-response-for-exchange.md: the error
    // response (ErrorCode 600 "Invalid Request") for anything but a well-formed POST of the
    // request schema.
    let email;
    let schema;
    try {
      if (req.method !== 'POST') throw new Error('GET');
      const doc = parseXml(body.toString('utf8'));
      const root = doc.documentElement;
      const request = child(root, NS.adRequest, 'Request');
      if (root.localName !== 'Autodiscover' || root.namespaceURI !== NS.adRequest || !request) throw new Error('not a request');
      email = textOf(child(request, NS.adRequest, 'EMailAddress'));
      schema = textOf(child(request, NS.adRequest, 'AcceptableResponseSchema'));
    } catch {
      return sendPoxError(res, entry, 600, 'Invalid Request');
    }
    if (schema !== NS.adOutlook) {
      // 601 "Requested schema version not supported" ([MS-OXDSCLI]; errorcode-pox.md lists no codes).
      return sendPoxError(res, entry, 601, 'Requested schema version not supported');
    }
    const target = org.mailboxes.find((m) => m.address.toLowerCase() === email.toLowerCase());
    if (!target) {
      // 500: the address is not in this organisation ([MS-OXDSCLI]; unverified text).
      return sendPoxError(res, entry, 500, 'The email address can\'t be found.');
    }
    entry.status = 200;
    return sendXml(res, 200, poxSettings(org, target));
  }

  // SOAP Autodiscover GetUserSettings (docs/web-service-reference/getusersettings-operation-soap.md:
  // request and response examples; getusersettingsresponsemessage-soap.md,
  // errorcode-soap.md for InvalidUser/InvalidSetting). The product uses POX; this is here for
  // the EWS Managed API port, whose Autodiscover speaks only SOAP.
  async function autodiscoverSoap(org, req, res, entry) {
    entry.operation = 'autodiscover-soap';
    const body = req.method === 'POST' ? await readBody(req) : null;
    const fault = takeFault('autodiscover');
    if (fault && await applyFault(fault, res, entry)) return undefined;
    const mailbox = authenticate(org, req, res, entry);
    if (!mailbox) return undefined;
    let users;
    let wanted;
    try {
      if (req.method !== 'POST') throw new Error('GET');
      const env = parseXml(body.toString('utf8')).documentElement;
      const message = elements(child(env, NS.soap, 'Body'))[0];
      if (message?.namespaceURI !== NS.adSoap || message.localName !== 'GetUserSettingsRequestMessage') throw new Error('not GetUserSettings');
      const request = child(message, NS.adSoap, 'Request');
      users = elements(child(request, NS.adSoap, 'Users')).map((u) => textOf(child(u, NS.adSoap, 'Mailbox')));
      wanted = elements(child(request, NS.adSoap, 'RequestedSettings')).map(textOf);
      if (!users.length || !wanted.length) throw new Error('no users or settings');
    } catch (e) {
      entry.status = 500;
      return sendSoapFault(res, 'ErrorSchemaValidation', `The request failed schema validation: ${e.message}`);
    }
    const ews = `https://${org.ewsHost}/EWS/Exchange.asmx`;
    const v = SERVER_VERSION;
    const settingsOf = (m) => ({
      UserDisplayName: m.displayName,
      UserDN: `/o=${org.netbios}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=${m.user}`,
      UserDeploymentId: deploymentId(org),
      CasVersion: `${v.MajorVersion}.${String(v.MinorVersion).padStart(2, '0')}.${String(v.MajorBuildNumber).padStart(4, '0')}.${String(v.MinorBuildNumber).padStart(3, '0')}`,
      EwsSupportedSchemas: 'Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2015, Exchange2016',
      InternalEwsUrl: ews,
      ExternalEwsUrl: ews,
      InternalMailboxServer: org.ewsHost,
    });
    const userResponses = users.map((address) => {
      const m = org.mailboxes.find((x) => x.address.toLowerCase() === address.toLowerCase());
      if (!m) return '<UserResponse><ErrorCode>InvalidUser</ErrorCode><ErrorMessage>Invalid user.</ErrorMessage><RedirectTarget i:nil="true" /><UserSettingErrors /><UserSettings /></UserResponse>';
      const all = settingsOf(m);
      const known = wanted.filter((n) => n in all);
      const unknown = wanted.filter((n) => !(n in all));
      const errors = unknown.map((n) => `<UserSettingError><ErrorCode>InvalidSetting</ErrorCode><ErrorMessage>The requested setting is invalid.</ErrorMessage><SettingName>${xmlEscape(n)}</SettingName></UserSettingError>`).join('');
      const settings = known.map((n) => `<UserSetting i:type="StringSetting"><Name>${n}</Name><Value>${xmlEscape(all[n])}</Value></UserSetting>`).join('');
      return `<UserResponse><ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage><RedirectTarget i:nil="true" /><UserSettingErrors>${errors}</UserSettingErrors><UserSettings>${settings}</UserSettings></UserResponse>`;
    });
    entry.status = 200;
    return sendXml(res, 200, `<s:Envelope xmlns:s="${NS.soap}" xmlns:a="${NS.wsa}"><s:Header><a:Action s:mustUnderstand="1">${NS.adSoap}/Autodiscover/GetUserSettingsResponse</a:Action><h:ServerVersionInfo xmlns:h="${NS.adSoap}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><h:MajorVersion>${v.MajorVersion}</h:MajorVersion><h:MinorVersion>${v.MinorVersion}</h:MinorVersion><h:MajorBuildNumber>${v.MajorBuildNumber}</h:MajorBuildNumber><h:MinorBuildNumber>${v.MinorBuildNumber}</h:MinorBuildNumber><h:Version>Exchange2015</h:Version></h:ServerVersionInfo></s:Header><s:Body><GetUserSettingsResponseMessage xmlns="${NS.adSoap}"><Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ErrorCode>NoError</ErrorCode><ErrorMessage /><UserResponses>${userResponses.join('')}</UserResponses></Response></GetUserSettingsResponseMessage></s:Body></s:Envelope>`);
  }

  function sendPoxError(res, entry, code, message) {
    entry.status = 200; // Autodiscover reports errors in a 200 body
    entry.error = code;
    const now = new Date();
    return sendXml(res, 200, `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="${NS.adResponse}">
  <Response>
    <Error Time="${now.toISOString().slice(11, 23)}" Id="${crypto.randomInt(1e9, 4e9)}">
      <ErrorCode>${code}</ErrorCode>
      <Message>${xmlEscape(message)}</Message>
      <DebugData />
    </Error>
  </Response>
</Autodiscover>`);
  }

  // docs/web-service-reference/pox-autodiscover-response-for-exchange.md (shape),
  // ewsurl-pox.md (EwsUrl in EXCH/EXPR: the EWS endpoint), asurl-pox.md.
  function poxSettings(org, m) {
    const ews = `https://${org.ewsHost}/EWS/Exchange.asmx`;
    const legacyDn = `/o=${org.netbios}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=${m.user}`;
    const protocol = (type) => `      <Protocol>
        <Type>${type}</Type>
        <Server>${xmlEscape(org.ewsHost)}</Server>
        <ServerVersion>${POX_SERVER_VERSION}</ServerVersion>
        <AuthPackage>${org.auth === 'basic' ? 'Basic' : 'Negotiate'}</AuthPackage>
        <ASUrl>${xmlEscape(ews)}</ASUrl>
        <EwsUrl>${xmlEscape(ews)}</EwsUrl>
        <EmwsUrl>${xmlEscape(ews)}</EmwsUrl>
        <OOFUrl>${xmlEscape(ews)}</OOFUrl>
        <OABUrl>https://${xmlEscape(org.ewsHost)}/OAB/8d4b1c73-0e1f-4b5a-9d0e-1f2a3b4c5d6e/</OABUrl>
      </Protocol>`;
    return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="${NS.adResponse}">
  <Response xmlns="${NS.adOutlook}">
    <User>
      <DisplayName>${xmlEscape(m.displayName)}</DisplayName>
      <LegacyDN>${xmlEscape(legacyDn)}</LegacyDN>
      <AutoDiscoverSMTPAddress>${xmlEscape(m.address)}</AutoDiscoverSMTPAddress>
      <DeploymentId>${deploymentId(org)}</DeploymentId>
    </User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <MicrosoftOnline>False</MicrosoftOnline>
${protocol('EXCH')}
${protocol('EXPR')}
      <Protocol>
        <Type>WEB</Type>
        <External>
          <OWAUrl AuthenticationMethod="Basic, Fba">https://${xmlEscape(org.ewsHost)}/owa/</OWAUrl>
        </External>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>`;
  }

  // --- EWS --------------------------------------------------------------------
  async function ews(org, req, res, entry, { viaProxyMailbox = null } = {}) {
    entry.operation = 'ews';
    const body = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
    const fault = takeFault('ews');
    if (fault && await applyFault(fault, res, entry)) return undefined;
    const mailbox = viaProxyMailbox ?? authenticate(org, req, res, entry);
    if (!mailbox) return undefined;
    return ewsOperation(mailbox, req.method, String(req.headers['content-type'] || ''), body, res, entry);
  }

  function ewsOperation(mailbox, method, contentType, body, res, entry) {
    if (method !== 'POST') {
      // IIS/WCF: EWS answers SOAP POSTs only.
      entry.status = 405;
      return sendText(res, 405, 'Method Not Allowed', 'text/plain', { Allow: 'POST' });
    }
    // SOAP 1.1 is text/xml; Exchange also takes SOAP 1.2 (application/soap+xml).
    if (!/^(text\/xml|application\/soap\+xml)\b/i.test(contentType)) {
      entry.status = 415;
      return sendText(res, 415, `Cannot process the message because the content type '${contentType}' was not the expected type 'text/xml; charset=utf-8'.`);
    }
    let operation;
    try {
      const doc = parseXml(body.toString('utf8'));
      const env = doc.documentElement;
      if (env.localName !== 'Envelope' || ![NS.soap, NS.soap12].includes(env.namespaceURI)) throw new Error('the root element is not a SOAP Envelope');
      const soapBody = child(env, env.namespaceURI, 'Body');
      if (!soapBody) throw new Error('the SOAP Envelope has no Body');
      operation = elements(soapBody)[0];
      if (!operation) {
        // docs/web-service-reference/responsecode.md ErrorInvalidRequest: "the SOAP request
        // has a SOAP action header, but nothing in the SOAP body".
        entry.status = 500;
        entry.responseCode = 'ErrorInvalidRequest';
        return sendSoapFault(res, 'ErrorInvalidRequest', 'The request is invalid.');
      }
    } catch (e) {
      // responsecode.md ErrorSchemaValidation: "the request cannot be validated against
      // the schema"; malformed XML is reported the same way, as a SOAP fault (HTTP 500).
      entry.status = 500;
      entry.responseCode = 'ErrorSchemaValidation';
      return sendSoapFault(res, 'ErrorSchemaValidation', `The request failed schema validation: ${e.message}`);
    }
    entry.ewsOperation = operation.localName;
    if (operation.namespaceURI !== NS.messages) {
      entry.status = 500;
      entry.responseCode = 'ErrorSchemaValidation';
      return sendSoapFault(res, 'ErrorSchemaValidation', `The request failed schema validation: The element '${operation.localName}' in namespace '${operation.namespaceURI}' is not expected.`);
    }
    let result;
    if (operation.localName === 'GetFolder') result = getFolder(mailbox, operation);
    else if (operation.localName === 'FindItem') result = findItem(mailbox, operation);
    else {
      entry.status = 500;
      entry.responseCode = 'ErrorInvalidRequest';
      return sendSoapFault(res, 'ErrorInvalidRequest', `The request is invalid. (The emulator implements GetFolder and FindItem, not ${operation.localName}.)`);
    }
    if (result.fault) {
      entry.status = 500;
      entry.responseCode = result.fault;
      return sendSoapFault(res, result.fault, result.message);
    }
    entry.status = 200;
    entry.responseCode = result.codes.join(',');
    return sendXml(res, 200, soapEnvelope(result.xml));
  }

  // docs/web-service-reference/getfolder-operation.md (request, response and error response),
  // getfolderresponsemessage.md, baseshape.md (IdOnly: FolderId only; Default: + DisplayName,
  // TotalCount, ChildFolderCount, UnreadCount).
  function getFolder(mailbox, op) {
    const shape = textOf(child(child(op, NS.messages, 'FolderShape'), NS.types, 'BaseShape'));
    const ids = child(op, NS.messages, 'FolderIds');
    if (!['IdOnly', 'Default', 'AllProperties'].includes(shape) || !ids || !elements(ids).length) {
      return { fault: 'ErrorSchemaValidation', message: 'The request failed schema validation: GetFolder needs FolderShape/BaseShape (IdOnly, Default or AllProperties) and at least one folder id.' };
    }
    const messages = [];
    const codes = [];
    for (const idEl of elements(ids)) {
      const r = resolveFolder(mailbox, idEl);
      if (r.fault) return r;
      codes.push(r.code);
      if (r.code !== 'NoError') {
        messages.push(`<m:GetFolderResponseMessage ResponseClass="Error"><m:MessageText>${xmlEscape(r.message)}</m:MessageText><m:ResponseCode>${r.code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Folders /></m:GetFolderResponseMessage>`);
        continue;
      }
      const f = r.folder;
      const props = shape === 'IdOnly' ? '' : `<t:DisplayName>${xmlEscape(f.name)}</t:DisplayName><t:TotalCount>${f.total}</t:TotalCount><t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>${f.unread}</t:UnreadCount>`;
      messages.push(`<m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:Folder><t:FolderId Id="${f.id}" ChangeKey="AQAAABYAAAAC" />${props}</t:Folder></m:Folders></m:GetFolderResponseMessage>`);
    }
    return { codes, xml: `<m:GetFolderResponse xmlns:m="${NS.messages}" xmlns:t="${NS.types}"><m:ResponseMessages>${messages.join('')}</m:ResponseMessages></m:GetFolderResponse>` };
  }

  function folderInfo(mailbox, name) {
    const items = name === 'inbox' ? inboxItems(mailbox) : [];
    return { id: opaqueId(mailbox.address, 'folder', name), name: FOLDERS[name] ?? name, total: items.length, unread: items.filter((i) => !i.isRead).length, items };
  }

  /** A DistinguishedFolderId or FolderId element -> {code:'NoError', folder} | {code, message} | {fault}. */
  function resolveFolder(mailbox, idEl) {
    if (idEl.namespaceURI === NS.types && idEl.localName === 'DistinguishedFolderId') {
      const name = idEl.getAttribute('Id');
      const other = child(idEl, NS.types, 'Mailbox');
      if (other && textOf(child(other, NS.types, 'EmailAddress')).toLowerCase() !== mailbox.address) {
        // distinguishedfolderid.md: another mailbox needs delegate access.
        return { code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' };
      }
      if (FOLDERS[name]) return { code: 'NoError', folder: folderInfo(mailbox, name) };
      if (OTHER_DISTINGUISHED.has(name)) return { code: 'ErrorFolderNotFound', message: 'The specified folder could not be found in the store.' };
      return { fault: 'ErrorSchemaValidation', message: `The request failed schema validation: The 'Id' attribute is invalid - The value '${name}' is invalid according to its datatype 'http://schemas.microsoft.com/exchange/services/2006/types:DistinguishedFolderIdNameType' - The Enumeration constraint failed.` };
    }
    if (idEl.namespaceURI === NS.types && idEl.localName === 'FolderId') {
      const id = idEl.getAttribute('Id') || '';
      for (const name of Object.keys(FOLDERS)) {
        const f = folderInfo(mailbox, name);
        if (f.id === id) return { code: 'NoError', folder: f };
      }
      // getfolder-operation.md error example: "Id is malformed." ErrorInvalidIdMalformed.
      if (!/^[A-Za-z0-9+/]+=*$/.test(id) || !Buffer.from(id, 'base64').toString('utf8').startsWith('AAMk:')) {
        return { code: 'ErrorInvalidIdMalformed', message: 'Id is malformed.' };
      }
      return { code: 'ErrorFolderNotFound', message: 'The specified folder could not be found in the store.' };
    }
    return { fault: 'ErrorSchemaValidation', message: `The request failed schema validation: unexpected folder id element '${idEl.localName}'.` };
  }

  // docs/web-service-reference/finditem-operation.md (Traversal="Shallow", ItemShape,
  // ParentFolderIds; RootFolder TotalItemsInView/IncludesLastItemInRange; Message items),
  // indexedpageitemview.md (MaxEntriesReturned, Offset, BasePoint).
  function findItem(mailbox, op) {
    const shape = textOf(child(child(op, NS.messages, 'ItemShape'), NS.types, 'BaseShape'));
    const traversal = op.getAttribute('Traversal');
    const parents = child(op, NS.messages, 'ParentFolderIds');
    if (!['IdOnly', 'Default', 'AllProperties'].includes(shape) || !['Shallow', 'SoftDeleted', 'Associated'].includes(traversal) || !parents || !elements(parents).length) {
      return { fault: 'ErrorSchemaValidation', message: 'The request failed schema validation: FindItem needs Traversal (Shallow, SoftDeleted or Associated), ItemShape/BaseShape and ParentFolderIds.' };
    }
    const view = child(op, NS.messages, 'IndexedPageItemView');
    const max = view ? Number(view.getAttribute('MaxEntriesReturned') || Infinity) : Infinity;
    const offset = view ? Number(view.getAttribute('Offset') || 0) : 0;
    if (!(max > 0) || !(offset >= 0)) return { fault: 'ErrorSchemaValidation', message: 'The request failed schema validation: IndexedPageItemView needs MaxEntriesReturned > 0 and Offset >= 0.' };
    const messages = [];
    const codes = [];
    for (const idEl of elements(parents)) {
      const r = resolveFolder(mailbox, idEl);
      if (r.fault) return r;
      codes.push(r.code);
      if (r.code !== 'NoError') {
        messages.push(`<m:FindItemResponseMessage ResponseClass="Error"><m:MessageText>${xmlEscape(r.message)}</m:MessageText><m:ResponseCode>${r.code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:FindItemResponseMessage>`);
        continue;
      }
      const all = traversal === 'Shallow' ? r.folder.items : [];
      const page = all.slice(offset, offset + max);
      const items = page.map((m) => {
        const id = `<t:ItemId Id="${m.id}" ChangeKey="${m.changeKey}" />`;
        if (shape === 'IdOnly') return `<t:Message>${id}</t:Message>`;
        return `<t:Message>${id}<t:ParentFolderId Id="${r.folder.id}" ChangeKey="AQAAAA==" /><t:ItemClass>IPM.Note</t:ItemClass><t:Subject>${xmlEscape(m.subject)}</t:Subject><t:Sensitivity>Normal</t:Sensitivity><t:DateTimeReceived>${m.received}</t:DateTimeReceived><t:Size>${m.size}</t:Size><t:Importance>Normal</t:Importance><t:IsSubmitted>false</t:IsSubmitted><t:IsDraft>false</t:IsDraft><t:IsFromMe>false</t:IsFromMe><t:IsResend>false</t:IsResend><t:IsUnmodified>true</t:IsUnmodified><t:DateTimeSent>${m.received}</t:DateTimeSent><t:DateTimeCreated>${m.received}</t:DateTimeCreated><t:DisplayCc /><t:DisplayTo>${xmlEscape(mailbox.displayName)}</t:DisplayTo><t:HasAttachments>${m.attachments}</t:HasAttachments><t:Culture>en-US</t:Culture><t:EffectiveRights><t:CreateAssociated>false</t:CreateAssociated><t:CreateContents>false</t:CreateContents><t:CreateHierarchy>false</t:CreateHierarchy><t:Delete>true</t:Delete><t:Modify>true</t:Modify><t:Read>true</t:Read><t:ViewPrivateItems>true</t:ViewPrivateItems></t:EffectiveRights><t:LastModifiedTime>${m.received}</t:LastModifiedTime><t:From><t:Mailbox><t:Name>${xmlEscape(m.from[0])}</t:Name><t:EmailAddress>${xmlEscape(m.from[1])}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></t:Mailbox></t:From><t:IsRead>${m.isRead}</t:IsRead></t:Message>`;
      });
      const last = offset + page.length >= all.length;
      const paging = view ? ` IndexedPagingOffset="${offset + page.length}"` : '';
      messages.push(`<m:FindItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:RootFolder${paging} TotalItemsInView="${all.length}" IncludesLastItemInRange="${last}"><t:Items>${items.join('')}</t:Items></m:RootFolder></m:FindItemResponseMessage>`);
    }
    return { codes, xml: `<m:FindItemResponse xmlns:m="${NS.messages}" xmlns:t="${NS.types}"><m:ResponseMessages>${messages.join('')}</m:ResponseMessages></m:FindItemResponse>` };
  }

  // --- Exchange Online ------------------------------------------------------
  async function online(req, res, url, path) {
    const entry = record('https', req, {});
    const m = /^\/autodiscover\/autodiscover\.json(?:\/v1\.0\/([^/]+))?$/i.exec(url.pathname);
    if (m) {
      entry.operation = 'autodiscover-json';
      // Whether outlook.office365.com sends CORS headers here is not documented: off by
      // default, so a page cannot read the answer unless a test says otherwise.
      if (state.config.onlineAutodiscoverCors && applyCors(req, res, { methods: 'GET,OPTIONS' })) return undefined;
      return autodiscoverJson(req, res, url, m[1] ? decodeURIComponent(m[1]) : url.searchParams.get('Email'), entry);
    }
    if (path === '/ews/exchange.asmx') {
      entry.operation = 'ews';
      const body = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
      const fault = takeFault('ews');
      if (fault && await applyFault(fault, res, entry)) return undefined;
      const token = /^bearer\s+(.+)$/i.exec(String(req.headers.authorization || ''))?.[1]?.trim();
      const at = token ? await microsoftToken(token) : null;
      const audienceOk = at && at.resources.includes(`https://${ONLINE_HOST}`);
      if (!at || at.expired || !audienceOk) {
        entry.auth = req.headers.authorization ? 'rejected' : undefined;
        const err = at?.expired ? ', error="invalid_token", error_description="The access token has expired."' : token ? ', error="invalid_token"' : '';
        return sendUnauthorized(res, entry, [`${ONLINE_BEARER_CHALLENGE}${err}`]);
      }
      entry.auth = 'accepted';
      entry.login = at.login;
      if (!state.config.onlineEwsAllowed) {
        // EWS blocked for the tenant (EWSEnabled False, app not on EwsAllowedAppIDs;
        // docs/exchange-web-services/how-to-control-access-to-ews-in-exchange.md). The
        // exact answer is not documented; Exchange answers a mailbox or organisation with
        // EWS disabled with HTTP 403 Forbidden (see EXCHANGE.md, "unverified").
        entry.status = 403;
        return sendText(res, 403, '', 'text/html', { 'X-Emulator-Reason': 'EwsDisabledForTenant' });
      }
      const address = at.login.toLowerCase();
      const mailbox = { address, user: address.split('@')[0], displayName: MS_ACCOUNTS.find((a) => a.login === address)?.name ?? address };
      return ewsOperation(mailbox, req.method, String(req.headers['content-type'] || ''), body, res, entry);
    }
    entry.status = 404;
    return sendText(res, 404, notFoundPage(), 'text/html; charset=us-ascii');
  }

  // The Autodiscover JSON endpoint ("Autodiscover v2"): GET
  // https://outlook.office365.com/autodiscover/autodiscover.json/v1.0/<email>?Protocol=EWS,
  // unauthenticated, answering {"Protocol":"EWS","Url":"..."} (not in Microsoft's reference
  // pages; see EXCHANGE.md for the sources).
  function autodiscoverJson(req, res, url, email, entry) {
    const protocol = url.searchParams.get('Protocol') || '';
    const urls = { ews: ONLINE_EWS_URL, activesync: `https://${ONLINE_HOST}/Microsoft-Server-ActiveSync` };
    const known = Object.keys(urls).find((p) => p === protocol.toLowerCase());
    if (req.method !== 'GET' || !email || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) || !known) {
      entry.status = 400;
      return sendJson(res, 400, { ErrorCode: 'InvalidRequest', ErrorMessage: 'The request is invalid: a GET with an email address and Protocol=EWS or ActiveSync is expected.' });
    }
    const domain = email.split('@')[1].toLowerCase();
    const name = known === 'ews' ? 'EWS' : 'ActiveSync';
    if (ONLINE_DOMAINS.includes(domain) || state.config.onlineUnknownDomain === 'office365') {
      entry.status = 200;
      return sendJson(res, 200, { Protocol: name, Url: urls[known] });
    }
    entry.status = 404;
    return sendJson(res, 404, { ErrorCode: 'InvalidUser', ErrorMessage: `The email address '${email}' is not a mailbox in Exchange Online.` });
  }

  // --- Office double: Outlook's EWS proxy and callback tokens ------------------
  // Outlook on the web forwards an add-in's makeEwsRequestAsync SOAP to the Exchange server
  // that hosts the mailbox, as the signed-in user (docs/outlook/web-services.md in
  // OfficeDev/office-js-docs-pr), and hands out callback tokens (docs/outlook/authentication.md,
  // "Callback tokens"). The double's Outlook page (tests/addin/office-double/outlook.js)
  // calls these two actions, named after Outlook on the web's own service.svc actions, with
  // the mailbox it is signed into. Exchange Online mailboxes get no legacy token any more
  // (docs/includes/legacy-exchange-token-deprecation.md): 403 {error: "LegacyTokensTurnedOff"}.
  async function outlookService(req, res, action) {
    if (applyCors(req, res, { methods: 'POST,OPTIONS' })) return undefined;
    const entry = record('https', req, { operation: `outlook-${action}` });
    let request;
    try {
      // makeEwsRequestAsync takes up to 5 MB of characters
      // (docs/outlook/limits-for-activation-and-javascript-api-for-outlook-add-ins.md).
      request = JSON.parse((await readBody(req, 6 * 1024 * 1024)).toString('utf8'));
    } catch {
      entry.status = 400;
      return sendJson(res, 400, { error: 'BadRequest', message: 'body must be JSON {mailbox, body?}' });
    }
    const address = String(request.mailbox || '').toLowerCase();
    entry.login = address;
    if (ONLINE_MAILBOXES.includes(address)) {
      entry.status = 403;
      return sendJson(res, 403, { error: 'LegacyTokensTurnedOff', message: 'Legacy Exchange Online tokens are turned off.' });
    }
    const found = findMailbox(address);
    if (!found) {
      entry.status = 404;
      return sendJson(res, 404, { error: 'MailboxNotFound', message: `no emulated mailbox ${address}` });
    }
    if (action === 'GetClientAccessToken') {
      entry.status = 200;
      return sendJson(res, 200, { token: issueCallbackToken(address) });
    }
    if (typeof request.body !== 'string') {
      entry.status = 400;
      return sendJson(res, 400, { error: 'BadRequest', message: 'body must be the SOAP request as a string' });
    }
    entry.host = found.org.ewsHost;
    const fault = takeFault('ews');
    if (fault && await applyFault(fault, res, entry)) return undefined;
    return ewsOperation(found.mailbox, 'POST', 'text/xml; charset=utf-8', Buffer.from(request.body, 'utf8'), res, entry);
  }

  function issueCallbackToken(address) {
    const found = findMailbox(address);
    if (!found) throw new Error(`unknown on-premises mailbox ${address}`);
    const token = `exch-cb.${crypto.randomBytes(24).toString('base64url')}`;
    state.callbackTokens.set(token, { mailbox: found.mailbox.address, expires: Date.now() + CALLBACK_TOKEN_MS });
    return token;
  }

  // --- control ---------------------------------------------------------------
  function setPassword(address, password) {
    if (typeof password !== 'string' || !password) throw new Error('password must be a non-empty string');
    const found = findMailbox(address);
    if (!found) throw new Error(`unknown mailbox ${address}; known: ${[...state.passwords.keys()].join(', ')}`);
    state.passwords.set(found.mailbox.address, password);
    return { mailbox: found.mailbox.address, changed: true };
  }

  function failNext({ target = 'ews', kind = 'status', status = 503, count = 1, ms = 1000, retryAfter, backOffMs } = {}) {
    if (!['ews', 'autodiscover', 'any'].includes(target)) throw new Error('target must be ews, autodiscover or any');
    if (!['status', 'reset', 'delay', 'server-busy'].includes(kind)) throw new Error('kind must be status, reset, delay or server-busy');
    if (kind === 'status' && !(Number.isInteger(status) && status >= 400 && status <= 599)) throw new Error('status must be 400-599');
    if (!(Number.isInteger(count) && count >= 0)) throw new Error('count must be an integer >= 0 (0: until cleared)');
    const f = { target, kind, status, ms, retryAfter, backOffMs, remaining: count };
    state.faults.push(f);
    return f;
  }

  function setConfig(patch) {
    for (const [k, v] of Object.entries(patch || {})) {
      const spec = EXCHANGE_CONFIG[k];
      if (!spec) throw new Error(`unknown exchange config key ${k}`);
      if (spec[0] === 'boolean' && typeof v !== 'boolean') throw new Error(`${k} must be a boolean`);
      if (spec[0].startsWith('enum:') && !spec[0].slice(5).split('|').includes(v)) throw new Error(`${k} must be one of ${spec[0].slice(5)}`);
    }
    Object.assign(state.config, patch);
    return { ...state.config };
  }

  function reset() {
    const fresh = freshState();
    for (const k of Object.keys(fresh)) state[k] = fresh[k];
  }

  /** `/control/exchange/...` on the idp's main origin (same conventions as control.mjs). */
  async function handleControl(req, res, url) {
    if (applyCors(req, res)) return undefined;
    const path = url.pathname.replace(/\/+$/, '');
    const body = await readControlBody(req);
    if (body === null) return sendJson(res, 400, { error: 'body must be JSON' });
    try {
      switch (`${req.method} ${path}`) {
        case 'GET /control/exchange':
          return sendJson(res, 200, { info: info(), endpoints: CONTROL_HELP, config: state.config });
        case 'POST /control/exchange/password':
          return sendJson(res, 200, setPassword(body.mailbox, body.password));
        case 'GET /control/exchange/requests': {
          const n = Math.max(1, Math.min(LOG_SIZE, Number(url.searchParams.get('n')) || LOG_SIZE));
          return sendJson(res, 200, state.log.slice(-n));
        }
        case 'POST /control/exchange/fail-next':
          return sendJson(res, 200, { queued: failNext(body), pending: state.faults });
        case 'POST /control/exchange/clear-faults':
          state.faults = [];
          return sendJson(res, 200, { cleared: true });
        case 'GET /control/exchange/config':
          return sendJson(res, 200, state.config);
        case 'POST /control/exchange/config':
          return sendJson(res, 200, setConfig(body));
        case 'POST /control/exchange/callback-token':
          return sendJson(res, 200, { token: issueCallbackToken(body.mailbox) });
        case 'POST /control/exchange/reset':
          reset();
          return sendJson(res, 200, { reset: true });
        default:
          return sendJson(res, 404, { error: 'not_found', error_description: `no control endpoint ${req.method} ${path}`, endpoints: CONTROL_HELP });
      }
    } catch (e) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: e.message });
    }
  }

  function info() {
    const domains = {};
    for (const org of Object.values(ORGS)) {
      domains[org.domain] = {
        kind: 'on-premises',
        auth: org.auth,
        autodiscover: org.autodiscoverHosts.map((h) => `https://${h}/autodiscover/autodiscover.xml`),
        httpRedirect: HTTP_REDIRECTS[`autodiscover.${org.domain}`] ?? null,
        ews: `https://${org.ewsHost}/EWS/Exchange.asmx`,
        mailboxes: org.mailboxes.map((m) => ({ address: m.address, logins: [m.address, `${org.netbios}\\${m.user}`], password: state.passwords.get(m.address) })),
      };
    }
    for (const d of ONLINE_DOMAINS) {
      domains[d] = { kind: 'exchange-online', autodiscoverJson: `https://${ONLINE_HOST}/autodiscover/autodiscover.json/v1.0/<email>?Protocol=EWS`, ews: ONLINE_EWS_URL, mailboxes: ONLINE_MAILBOXES.filter((a) => a.endsWith(`@${d}`)).map((address) => ({ address })) };
    }
    return {
      https: `https://127.0.0.1:${ports.https}`,
      http: `http://127.0.0.1:${ports.http}`,
      ports: { ...ports },
      hostResolverRules: hostResolverRules({ httpsPort: ports.https, httpPort: ports.http }),
      // base64 SHA-256 of the certificate's SubjectPublicKeyInfo, for Chromium's
      // --ignore-certificate-errors-spki-list (trusts this one key, nothing else).
      certificateSpki: spki,
      // Outlook on the web's service for the Office double (makeEwsRequestAsync, getCallbackTokenAsync).
      outlookService: `https://127.0.0.1:${ports.https}/owa/service.svc`,
      domains,
    };
  }

  let closed = false;
  return {
    ports,
    cert,
    get info() { return info(); },
    get requests() { return [...state.log]; },
    get config() { return { ...state.config }; },
    setPassword,
    failNext,
    setConfig,
    issueCallbackToken,
    reset,
    handleControl,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([httpsServer, httpServer].map((s) => {
        s.closeAllConnections?.();
        return new Promise((r) => { s.close(() => r()); });
      }));
    },
  };
}

const CONTROL_HELP = {
  'GET /control/exchange': 'ready-line info, config, this help',
  'POST /control/exchange/password': '{mailbox, password}: the administrator resets the password (old one refused from now on)',
  'GET /control/exchange/requests?n=': 'request log: time, scheme, method, host, path, authorization (scheme), login, auth (accepted|rejected), operation, ewsOperation, responseCode, status; never a password or token',
  'POST /control/exchange/fail-next': '{target: ews|autodiscover|any, kind: status|reset|delay|server-busy, status?: 503, count?: 1 (0 = until cleared), ms?, retryAfter?, backOffMs?}',
  'POST /control/exchange/clear-faults': 'drop pending faults',
  'GET|POST /control/exchange/config': '{onlineEwsAllowed: bool, onlineUnknownDomain: "not-found"|"office365", onlineAutodiscoverCors: bool}',
  'POST /control/exchange/callback-token': '{mailbox}: an Outlook callback token (Bearer) the mailbox\'s EWS accepts for 5 minutes',
  'POST /control/exchange/reset': 'passwords, log, faults, callback tokens, config back to the start',
};

// ---------------------------------------------------------------------------
// One certificate per process for every emulator it starts (a suite may start many): made
// on first use, ECDSA P-256 (milliseconds to generate), naming every https host.
let sharedCert = null;
function processCertificate() {
  sharedCert ??= selfSignedCert({ dnsNames: httpsHosts(), ecdsa: true });
  return sharedCert;
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
}

function hostOf(req) {
  const h = String(req.headers.host || '').toLowerCase();
  return h.replace(/:\d+$/, '');
}

function orgOfHost(host) {
  return Object.values(ORGS).find((o) => o.autodiscoverHosts.includes(host) || o.ewsHost === host);
}

function orgOfPlainHttpHost(host) {
  return Object.values(ORGS).find((o) => (o.plainHttpAutodiscoverHosts || []).includes(host));
}

/** Basic credentials (RFC 7617: base64 of user-id ":" password, UTF-8). */
function decodeBasic(header) {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? null : { login: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/** A login is the address (UPN) or DOMAIN\user, case-insensitively, as Windows accounts are. */
function mailboxByLogin(org, login) {
  const l = login.toLowerCase();
  return org.mailboxes.find((m) => m.address.toLowerCase() === l || `${org.netbios}\\${m.user}`.toLowerCase() === l);
}

function findMailbox(address) {
  const a = String(address || '').toLowerCase();
  for (const org of Object.values(ORGS)) {
    const mailbox = org.mailboxes.find((m) => m.address === a);
    if (mailbox) return { org, mailbox };
  }
  return null;
}

function deploymentId(org) {
  const h = crypto.createHash('sha256').update(org.domain).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function notFoundPage() {
  return '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n<HTML><HEAD><TITLE>Not Found</TITLE></HEAD><BODY><h2>Not Found</h2><hr><p>HTTP Error 404. The requested resource is not found.</p></BODY></HTML>\r\n';
}

function sendText(res, status, text, contentType = 'text/plain; charset=utf-8', headers = {}) {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'private');
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) res.setHeader(k, v);
  res.end(text);
}

function sendXml(res, status, xml) {
  sendText(res, status, xml, 'text/xml; charset=utf-8');
}

// getfolder-operation.md / finditem-operation.md: the response envelope, with
// t:ServerVersionInfo in the SOAP header.
function soapEnvelope(bodyXml) {
  const v = SERVER_VERSION;
  return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="${NS.soap}"><s:Header><h:ServerVersionInfo MajorVersion="${v.MajorVersion}" MinorVersion="${v.MinorVersion}" MajorBuildNumber="${v.MajorBuildNumber}" MinorBuildNumber="${v.MinorBuildNumber}" Version="${v.Version}" xmlns:h="${NS.types}" xmlns="${NS.types}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></s:Header><s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">${bodyXml}</s:Body></s:Envelope>`;
}

// A SOAP 1.1 fault (HTTP 500) carrying the EWS ResponseCode in faultcode and detail, as EWS
// reports request-level errors (responsecode.md; ErrorServerBusy with BackOffMilliseconds,
// ews-throttling-in-exchange.md).
function sendSoapFault(res, code, message, { backOffMs } = {}) {
  const v = SERVER_VERSION;
  const backOff = backOffMs ? `<e:MessageXml xmlns:e="${NS.errors}"><t:Value xmlns:t="${NS.types}" Name="BackOffMilliseconds">${backOffMs}</t:Value></e:MessageXml>` : '';
  const xml = `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="${NS.soap}"><s:Body><s:Fault><faultcode xmlns:a="${NS.types}">a:${code}</faultcode><faultstring xml:lang="en-US">${xmlEscape(message)}</faultstring><detail><e:ResponseCode xmlns:e="${NS.errors}">${code}</e:ResponseCode><e:Message xmlns:e="${NS.errors}">${xmlEscape(message)}</e:Message>${backOff}<t:ServerVersionInfo xmlns:t="${NS.types}" MajorVersion="${v.MajorVersion}" MinorVersion="${v.MinorVersion}" MajorBuildNumber="${v.MajorBuildNumber}" MinorBuildNumber="${v.MinorBuildNumber}" Version="${v.Version}"/></detail></s:Fault></s:Body></s:Envelope>`;
  sendXml(res, 500, xml);
}

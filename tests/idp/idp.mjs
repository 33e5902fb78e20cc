// Local identity-provider emulator: HTTP servers on 127.0.0.1 hosting the
// emulated Microsoft Entra ID (+ Graph), Google (+ Gmail) and Salesforce
// (+ REST API), each a real `oidc-provider` instance, plus the /control plane.
//
// Three origins (each its own port), because the real services are three hosts
// whose first path segment means something to their clients:
//   main       Google, the Salesforce login host, Graph, Gmail, /control
//   microsoft  the Entra login host (login.microsoftonline.com): /{tenant}/oauth2/v2.0/...
//              MSAL reads the tenant from the authority's first path segment.
//   instance   the Salesforce instance (https://yourorg.my.salesforce.com): instance_url
//              is an origin, and clients append /services/data/vXX.X/... to it.
//
//   import { startIdp } from './tests/idp/idp.mjs';
//   const idp = await startIdp({ port: 0, redirectUris: ['http://127.0.0.1:8080/www/callback.html'] });
//   ... idp.base, idp.info.microsoft.token, ...
//   await idp.close();
//
// `tls: {key, cert}` serves all three over https (vendor libraries such as MSAL
// refuse an http authority); see tests/idp/tls.mjs for a throw-away certificate.

import http from 'node:http';
import https from 'node:https';

import { formParams, readBody, sendJson } from './common.mjs';
import { createControl, defaultConfig, mergeConfig } from './control.mjs';
import { createMicrosoft } from './microsoft.mjs';
import { createGoogle } from './google.mjs';
import { createSalesforce } from './salesforce.mjs';
import { startExchange } from './exchange.mjs';
import { MS_ACCOUNTS } from './microsoft.mjs';

export const DEFAULT_REDIRECT_URI = 'http://127.0.0.1:8080/www/callback.html';

/**
 * Starts the emulator.
 * @param {object} [opts]
 * @param {number} [opts.port=0] 0 picks a free port.
 * @param {string[]} [opts.redirectUris] accepted redirect URIs (exact, `*` wildcards, loopback any port).
 * @param {object} [opts.config] overrides of the run-time configuration (see control.mjs CONFIG_SCHEMA).
 * @returns {Promise<{base:string, port:number, info:object, control:object, config:object, close:() => Promise<void>}>}
 */
export async function startIdp({
  port = 0, microsoftPort = 0, instancePort = 0, redirectUris, config: overrides, tls,
  exchange: exchangeOptions = {},
} = {}) {
  const config = defaultConfig();
  if (overrides) mergeConfig(config, overrides);
  const uris = redirectUris?.length ? [...redirectUris] : [DEFAULT_REDIRECT_URI];
  const scheme = tls ? 'https' : 'http';

  async function listen(p) {
    const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }) : http.createServer();
    server.keepAliveTimeout = 1000;
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, '127.0.0.1', resolve);
    });
    return server;
  }
  const servers = {};
  try {
    servers.main = await listen(port);
    servers.microsoft = await listen(microsoftPort);
    servers.instance = await listen(instancePort);
  } catch (err) {
    for (const s of Object.values(servers)) s.close();
    throw err;
  }
  const ports = Object.fromEntries(Object.entries(servers).map(([k, s]) => [k, s.address().port]));
  const actualPort = ports.main;
  const base = `${scheme}://127.0.0.1:${ports.main}`;
  const loginBase = `${scheme}://127.0.0.1:${ports.microsoft}`;
  const instanceBase = `${scheme}://127.0.0.1:${ports.instance}`;
  const origins = { main: base, microsoft: loginBase, instance: instanceBase };

  const control = createControl({ config });
  const microsoft = createMicrosoft({ base, loginBase, config, control, redirectUris: uris });
  const google = createGoogle({ base, config, control, redirectUris: uris });
  const salesforce = createSalesforce({ base, instanceUrl: instanceBase, config, control, redirectUris: uris });
  const providers = { microsoft, google, salesforce };
  control.attach(providers);

  // The emulated Exchange servers (tests/idp/exchange.mjs, EXCHANGE.md): their own https
  // and http ports and a certificate naming the emulated hosts. Exchange Online's EWS
  // accepts the Entra emulator's access tokens for https://outlook.office365.com.
  let exchange;
  try {
    exchange = await startExchange({
      ...exchangeOptions,
      async microsoftToken(token) {
        const at = await microsoft.provider.AccessToken.find(token, { ignoreExpiration: true });
        if (!at) return null;
        const login = MS_ACCOUNTS.find((a) => a.sub === at.accountId)?.login ?? at.accountId;
        const resources = String(at.scope || '').split(' ').filter((x) => /^https:\/\//.test(x)).map((x) => new URL(x).origin);
        return { login, resources, expired: at.isExpired };
      },
    });
  } catch (err) {
    for (const p of Object.values(providers)) p.close();
    for (const s of Object.values(servers)) s.close();
    throw err;
  }

  const info = () => ({
    ready: true,
    port: actualPort,
    base,
    ports: { ...ports },
    microsoft: microsoft.describe(),
    google: google.describe(),
    salesforce: salesforce.describe(),
    exchange: { ...exchange.info, control: `${base}/control/exchange` },
    control: `${base}/control`,
    redirectUris: microsoft.redirectUris(),
  });

  for (const [site, server] of Object.entries(servers)) {
    server.on('request', (req, res) => {
      handleRequest(site, req, res).catch((err) => {
        // Never echo request data (it may hold tokens); the message is enough.
        process.stderr.write(`idp: internal error on ${req.method} ${req.url.split('?')[0]}: ${err?.stack || err}\n`);
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: 'emulator internal error' });
        else res.destroy();
      });
    });
  }

  async function handleRequest(site, req, res) {
    const url = new URL(req.url, origins[site]);

    if (site === 'main' && (url.pathname === '/control/exchange' || url.pathname.startsWith('/control/exchange/'))) {
      return exchange.handleControl(req, res, url);
    }
    if (site === 'main' && (url.pathname === '/control' || url.pathname.startsWith('/control/'))) {
      control.record(req, res, { provider: null, endpoint: 'control' });
      return control.handle(req, res, url);
    }
    if (site === 'main' && (url.pathname === '/' || url.pathname === '/.well-known/idp-emulator')) {
      control.record(req, res, {});
      return sendJson(res, 200, info());
    }

    for (const p of Object.values(providers)) {
      const api = p.apiRoute(url, site);
      const r = api || p.route(url, site);
      if (!r) continue;
      const isPost = req.method === 'POST';
      const body = isPost ? await readBody(req) : undefined;
      const params = isPost ? formParams(url, body, req.headers['content-type']) : Object.fromEntries(url.searchParams);
      const meta = {
        provider: p.name,
        endpoint: r.endpoint,
        grantType: r.endpoint === 'token' ? params.grant_type : undefined,
        claims: r.endpoint === 'authorize' && url.searchParams.has('claims'),
        params,
      };
      const entry = control.record(req, res, meta);
      if (req.method !== 'OPTIONS') {
        control.count(meta);
        const fault = control.takeFault(p.name, r.endpoint, meta);
        if (fault) {
          entry.fault = fault.kind;
          const done = await control.applyFault(fault, p, req, res, meta);
          if (done) return undefined;
        }
      }
      if (api) return p.handleApi(req, res, { url, route: r, body, params });
      return p.handle(req, res, { url, route: r, body, params });
    }
    control.record(req, res, {});
    return sendJson(res, 404, { error: 'not_found', error_description: `nothing at ${url.pathname}` });
  }

  let closed = false;
  async function close() {
    if (closed) return;
    closed = true;
    for (const p of Object.values(providers)) p.close();
    await exchange.close();
    await Promise.all(Object.values(servers).map((server) => {
      server.closeAllConnections?.();
      return new Promise((resolve) => { server.close(() => resolve()); });
    }));
  }

  return {
    base,
    origins,
    port: actualPort,
    get info() { return info(); },
    control,
    config,
    providers,
    exchange,
    close,
  };
}

// The local environment the demo and the end-to-end tests run against: the emulated
// identity providers (tests/idp), the static server of the web host (tests/web), and an
// engine configuration that points the engine at the former.
//
//   import { startEnvironment } from './tests/support/e2e-env.mjs';
//   const env = await startEnvironment({ port: 0 });
//   env.baseUrl      http://127.0.0.1:<port>        (the dashboard is env.baseUrl + '/www/index.html')
//   env.idp          startIdp()'s handle: idp.base, idp.info, idp.control, idp.close()
//   env.config       the engine Config (shape of src/provider/mod.rs `Config`)
//   await env.close()
//
// Everything listens on 127.0.0.1 only. The configuration is served at /www/config.json
// from memory (so test files running in parallel never share a file); with
// `writeConfigFile: true` (the demo) it is also written to www/config.json (git-ignored).
//
// The engine's Config structs use `deny_unknown_fields`: only the keys below exist.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { startIdp } from '../idp/idp.mjs';
import { startStaticServer, REPO_ROOT } from '../web/static-server.mjs';
import { testHookFiles } from './test-hooks.mjs';

export const CONFIG_PATH = '/www/config.json';
export const CONFIG_FILE = path.join(REPO_ROOT, 'www', 'config.json');

/** Short lifetimes, so that a demo sees tokens expire and refresh within minutes. */
/** The providers' real lifetimes, for the tests (move the engine's clock to see expiry):
 * Entra 60-90 min per token, Google about an hour, a Salesforce session timeout of 2 h. */
export const REALISTIC_LIFETIMES = {
  microsoft: { accessTokenTtl: 'random' },
  google: { accessTokenTtl: 3599 },
  salesforce: { sessionTimeout: 7200 },
};

/** Short lifetimes for the demo only, so a person sees tokens expire and refresh. */
export const DEMO_LIFETIMES = {
  microsoft: { accessTokenTtl: 120 },
  google: { accessTokenTtl: 120 },
  salesforce: { sessionTimeout: 120 },
};

export const ACCOUNTS = {
  microsoft: ['alice@contoso.com', 'bob@contoso.com', 'carol@contoso.com'],
  google: ['alice@gmail.test', 'bob@gmail.test'],
  salesforce: ['alice@acme.test', 'bob@acme.test'],
};

/**
 * The engine configuration for an emulator at `idp` and a web host at `baseUrl`.
 * @param {{base: string, info: object}} idp
 * @param {string} baseUrl  origin of the static server, no trailing slash
 */
export function engineConfig(idp, baseUrl, { sessionTimeoutMinutes = 2 } = {}) {
  const info = idp.info;
  // Entra's login host is an origin of its own in the emulator (tests/idp), as
  // login.microsoftonline.com is; older emulators mounted it at <base>/microsoft.
  const authority = info.microsoft.authority ?? `${idp.base}/microsoft`;
  return {
    redirectUri: `${baseUrl}/www/callback.html`,
    microsoft: {
      clientId: info.microsoft.clientId, // sidebar-ms-spa: a `spa` redirect URI, CORS on /token
      authority,
      tenant: 'common',
      // No `issuer`: with tenant `common` the engine accepts any `<authority>/<tenant-id>/v2.0`
      // (IssuerRule::AnyTenantOf), and the emulator's issuer is exactly that shape
      // (<authority>/<tenant-id>/v2.0), as Entra's is. Named only if it ever differs.
      ...(multiTenantIssuerMatches(authority, info.microsoft.issuer) ? {} : { issuer: info.microsoft.issuer }),
      // Graph is emulated on the emulator's own origin (/graph/v1.0).
      apiOrigins: [idp.base],
    },
    google: {
      clientId: info.google.clientId,
      // Google needs the secret of a Web/Desktop client even with PKCE (providers.md).
      clientSecret: info.google.clientSecret,
      authorizeUrl: info.google.authorize,
      tokenUrl: info.google.token,
      revokeUrl: info.google.revoke,
      issuer: info.google.issuer,
      apiOrigins: [idp.base],
    },
    salesforce: {
      clientId: info.salesforce.clientId,
      loginHosts: [{ id: 'local', label: 'Local Salesforce (emulated)', url: info.salesforce.loginHost }],
      issuer: info.salesforce.issuer,
      // The emulator's session timeout (salesforce.sessionTimeout, seconds) in minutes.
      sessionTimeoutMinutes,
    },
    // On-premises Exchange: the server comes from the user (EWS URL or autodiscover) against
    // the emulated Exchange (tests/idp/EXCHANGE.md).
    exchange: {},
    devtools: { controlUrl: info.control },
  };
}

/** The engine's IssuerRule::AnyTenantOf (src/provider/mod.rs): `<authority>/<tenant>/v2.0`. */
export function multiTenantIssuerMatches(authority, issuer) {
  const prefix = authority.replace(/\/+$/, '') + '/';
  if (!issuer.startsWith(prefix) || !issuer.endsWith('/v2.0')) return false;
  const tenant = issuer.slice(prefix.length, -'/v2.0'.length);
  return tenant.length > 0 && !tenant.includes('/');
}

/**
 * A client of the emulator's control API at `controlBase`: `control(path)` GETs,
 * `control(path, body)` POSTs JSON; answers parsed JSON (or text), throws on HTTP errors.
 */
export function controlClient(controlBase) {
  return async function control(p, body) {
    const res = await fetch(controlBase + p, body === undefined
      ? {}
      : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`control ${p}: HTTP ${res.status} ${text.slice(0, 300)}`);
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };
}

function isAddrInUse(err) {
  return err?.code === 'EADDRINUSE' || err?.code === 'EACCES';
}

/**
 * Start the emulator and the static server, and publish the engine configuration.
 * @param {object} [options]
 * @param {number} [options.port=0]        static server port; 0 picks a free one
 * @param {boolean} [options.fallbackPort] if `port` is busy, take a free one (the demo)
 * @param {number} [options.idpPort=0]     emulator port
 * @param {object} [options.idpConfig]     emulator settings (control.mjs CONFIG_SCHEMA)
 * @param {boolean} [options.writeConfigFile] also write www/config.json
 * @param {boolean} [options.testHooks] serve the engine with the test hook (tests only)
 * @returns {Promise<{baseUrl: string, port: number, portWasBusy: boolean, idp: object,
 *   config: object, control: (path: string, body?: object) => Promise<any>,
 *   stats: () => Promise<any>, close: () => Promise<void>}>}
 */
export async function startEnvironment({
  port = 0,
  fallbackPort = false,
  idpPort = 0,
  idpConfig = REALISTIC_LIFETIMES,
  writeConfigFile = false,
  testHooks = false,
} = {}) {
  let configText = null;
  const files = {
    // Served from memory; null until the emulator is up (404 meanwhile).
    [CONFIG_PATH]: () => configText,
    // Tests only: the engine module records its instances on window (test-hooks.mjs).
    ...(testHooks ? testHookFiles() : {}),
  };
  let web;
  let portWasBusy = false;
  try {
    web = await startStaticServer({ port, files });
  } catch (err) {
    if (!fallbackPort || !isAddrInUse(err)) throw err;
    portWasBusy = true;
    web = await startStaticServer({ port: 0, files });
  }
  let idp;
  try {
    idp = await startIdp({
      port: idpPort,
      redirectUris: [`${web.url}/www/callback.html`],
      config: idpConfig,
    });
  } catch (err) {
    await web.close();
    throw err;
  }
  const sessionTimeoutMinutes = Math.max(1, Math.round((idp.config?.salesforce?.sessionTimeout ?? 120) / 60));
  const config = engineConfig(idp, web.url, { sessionTimeoutMinutes });
  configText = JSON.stringify(config, null, 2) + '\n';
  if (writeConfigFile) await writeFile(CONFIG_FILE, configText);

  const control = controlClient(idp.info.control);

  let closed = false;
  return {
    baseUrl: web.url,
    port: web.port,
    portWasBusy,
    idp,
    config,
    configText,
    control,
    stats: () => control('/stats'),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([idp.close(), web.close()]);
    },
  };
}

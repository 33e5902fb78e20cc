// The add-in's local environment, for tests/addin and the demo: the add-in served over https
// on loopback (Office requires https for every page of a dialog and for the task pane,
// docs/develop/dialog-api-in-office-add-ins.md in OfficeDev/office-js-docs-pr), the emulated
// identity providers over https with the same throw-away certificate (a dialog sent to http
// would end with 12003), the Office test double in place of office.js, and the emulated
// Outlook on the web page on another site (https://localhost:<port>, while the add-in is
// https://127.0.0.1:<port>: two sites, so the task pane is a third-party iframe with
// partitioned storage, as in Outlook on the web).
//
//   const env = await startAddinEnvironment({ testHooks: true });
//   env.addinBase      https://127.0.0.1:<port>
//   env.outlookUrl({popups: 'blocked'})   the emulated Outlook page, with switches
//   env.idp, env.config, env.control, env.tls, await env.close()

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startIdp } from '../idp/idp.mjs';
import { selfSignedCert, trustingFetch } from '../idp/tls.mjs';
import { startStaticServer } from '../web/static-server.mjs';
import { engineConfig, REALISTIC_LIFETIMES } from '../support/e2e-env.mjs';
import { testHookFiles } from '../support/test-hooks.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DOUBLE_DIR = path.join(HERE, 'office-double');
export const DOUBLE_PREFIX = '/office-double/';
export const ADDIN_CONFIG_PATH = '/addin-manifest/config.json';

/** The test double's files, served from memory at /office-double/. */
function doubleFiles() {
  const out = {};
  for (const f of ['office.js', 'outlook.html', 'outlook.js', 'outlook.css', 'probe.html']) {
    out[DOUBLE_PREFIX + f] = () => readFileSync(path.join(DOUBLE_DIR, f), 'utf8');
  }
  return out;
}

/** The engine configuration of the add-in: the emulator's endpoints, the add-in's callback. */
export function addinEngineConfig(idp, addinBase, opts) {
  return { ...engineConfig(idp, addinBase, opts), redirectUri: `${addinBase}/addin-manifest/callback.html` };
}

/**
 * @param {object} [options]
 * @param {object} [options.idpConfig]  the providers' real lifetimes by default (tests move the
 *   engine's clock); the demo passes DEMO_LIFETIMES
 * @param {object} [options.files]  more files served from memory (startStaticServer's `files`;
 *   the cold-start benchmark serves its pages this way)
 * @param {boolean} [options.officeDouble=true]  false: addin-settings.json from disk (Microsoft's
 *   office.js), for sideloading into a real Outlook (the demo's --real-outlook)
 */
export async function startAddinEnvironment({ port = 0, idpPort = 0, testHooks = false, idpConfig = REALISTIC_LIFETIMES, tls = selfSignedCert(), officeDouble = true, files: extraFiles = {} } = {}) {
  let configText = null;
  const files = {
    ...doubleFiles(),
    // The one setting: office.js is the double, on the add-in's own origin.
    ...(officeDouble ? { '/addin-manifest/addin-settings.json': JSON.stringify({ officeJs: `${DOUBLE_PREFIX}office.js` }) } : {}),
    [ADDIN_CONFIG_PATH]: () => configText,
    ...(testHooks ? testHookFiles() : {}),
    ...extraFiles,
  };
  const web = await startStaticServer({ port, files, tls });
  let idp;
  try {
    idp = await startIdp({ port: idpPort, tls, redirectUris: [`${web.url}/addin-manifest/callback.html`], config: idpConfig });
  } catch (err) {
    await web.close();
    throw err;
  }
  const sessionTimeoutMinutes = Math.max(1, Math.round((idp.config?.salesforce?.sessionTimeout ?? 120) / 60));
  const config = addinEngineConfig(idp, web.url, { sessionTimeoutMinutes });
  configText = JSON.stringify(config, null, 2) + '\n';
  const outlookBase = web.url.replace('127.0.0.1', 'localhost');
  let closed = false;
  return {
    addinBase: web.url,
    port: web.port,
    outlookBase,
    taskpaneUrl: `${web.url}/addin-manifest/taskpane.html`,
    outlookUrl(switches = {}) {
      // exchangeOwa: the emulated Exchange's Outlook service (makeEwsRequestAsync, getCallbackTokenAsync).
      const q = new URLSearchParams({ addin: `${web.url}/addin-manifest/taskpane.html`, exchangeOwa: idp.info.exchange.outlookService, ...switches });
      return `${outlookBase}${DOUBLE_PREFIX}outlook.html?${q}`;
    },
    idp,
    tls,
    config,
    configText,
    control: httpsControlClient(idp.info.control, tls.cert),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([idp.close(), web.close()]);
    },
  };
}

/** The emulator's control API over https with the throw-away certificate (e2e-env's controlClient, trusting `ca`). */
export function httpsControlClient(controlBase, ca) {
  const fetchTls = trustingFetch(ca);
  return async function control(p, body) {
    const init = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
    const res = await fetchTls(controlBase + p, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`control ${p}: HTTP ${res.status} ${text.slice(0, 300)}`);
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };
}

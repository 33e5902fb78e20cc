// Node's side of Chromium's --host-resolver-rules for the emulated Exchange hosts: a fetch
// (and an http(s).Agent pair) that connects `https://autodiscover.contoso.test/...` to the
// emulator's https port and `http://...:80` to its http port on 127.0.0.1, keeping the
// real host name for SNI, certificate checking and the Host header. Names outside the
// emulated world fail with ENOTFOUND, as an unresolved name does (and as the rules'
// `~NOTFOUND` does in Chromium), so nothing leaves loopback.
//
//   const xfetch = exchangeFetch(idp.exchange);      // or ({ports, cert}) of startExchange()
//   await xfetch('https://mail.contoso.test/EWS/Exchange.asmx', { method: 'POST', headers, body });

import http from 'node:http';
import https from 'node:https';

import { emulatedHostNames, ONLINE_HOST } from './exchange.mjs';
import { fetchOverNodeRequest } from './tls.mjs';

const KNOWN = new Set([...emulatedHostNames(), ONLINE_HOST]);

function loopbackLookup(hostname, options, cb) {
  if (typeof options === 'function') cb = options;
  if (!KNOWN.has(String(hostname).toLowerCase())) {
    const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
    return process.nextTick(cb, err);
  }
  if (options?.all) return process.nextTick(cb, null, [{ address: '127.0.0.1', family: 4 }]);
  return process.nextTick(cb, null, '127.0.0.1', 4);
}

/** Agents whose connections go to the emulator's ports; usable by any node http client. */
export function exchangeAgents({ ports, cert }) {
  class HttpsToEmulator extends https.Agent {
    createConnection(options, cb) {
      return super.createConnection({ ...options, port: options.port == 443 ? ports.https : options.port, servername: options.host }, cb); // eslint-disable-line eqeqeq
    }
  }
  class HttpToEmulator extends http.Agent {
    createConnection(options, cb) {
      return super.createConnection({ ...options, port: options.port == 80 ? ports.http : options.port }, cb); // eslint-disable-line eqeqeq
    }
  }
  return {
    https: new HttpsToEmulator({ ca: cert.cert, lookup: loopbackLookup, keepAlive: false }),
    http: new HttpToEmulator({ lookup: loopbackLookup, keepAlive: false }),
  };
}

/**
 * fetch() over the agents above; like fetch with `redirect: 'manual'` it never follows a
 * redirect (the Autodiscover tests look at each hop).
 */
export function exchangeFetch(exchange) {
  const agents = exchangeAgents(exchange);
  return fetchOverNodeRequest((url, options, onResponse) => (url.protocol === 'https:'
    ? https.request(url, { ...options, agent: agents.https, lookup: loopbackLookup }, onResponse)
    : http.request(url, { ...options, agent: agents.http, lookup: loopbackLookup }, onResponse)));
}

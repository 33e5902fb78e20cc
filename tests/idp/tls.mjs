// A throw-away self-signed certificate for serving the emulator over https on
// loopback (vendor libraries such as MSAL refuse an http authority). Generated at
// run time with the system's openssl into a temporary directory that is removed
// at once; nothing is downloaded and nothing is kept on disk.
//
//   const tls = selfSignedCert();          // {key, cert} PEM strings
//   const idp = await startIdp({ tls });   // https://127.0.0.1:<port>
//   // clients trust it with `ca: tls.cert` (an https.Agent option)

import { execFileSync } from 'node:child_process';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `dnsNames`: more subjectAltName host names (the emulated Exchange hosts, tests/idp/exchange.mjs).
 * `ecdsa`: a P-256 key instead of RSA 2048 (generated in milliseconds rather than up to a second).
 */
export function selfSignedCert({ dnsNames = [], ecdsa = false } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'idp-tls-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', ...(ecdsa ? ['ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['rsa:2048']), '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', ...dnsNames.map((n) => `DNS:${n}`)].join(',')}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A fetch() for node tests that trusts `ca` (the certificate above) and, like
 * fetch with `redirect: 'manual'`, never follows redirects. Node's global fetch
 * cannot be given a CA without an extra package; this is node:https underneath.
 */
export function trustingFetch(ca) {
  return fetchOverNodeRequest((url, options, onResponse) => https.request(url, { ...options, ca }, onResponse));
}

/**
 * fetch() on top of a node `request(url, {method, headers}, onResponse)` function
 * (node:http(s).request with the caller's options): never follows redirects.
 */
export function fetchOverNodeRequest(request) {
  return (input, init = {}) => new Promise((resolve, reject) => {
    const url = new URL(String(input));
    const headers = init.headers instanceof Headers ? Object.fromEntries(init.headers) : (init.headers || {});
    const req = request(url, { method: init.method || 'GET', headers }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const empty = [101, 204, 205, 304].includes(res.statusCode);
        resolve(new Response(empty ? null : Buffer.concat(chunks), { status: res.statusCode, headers: h }));
      });
    });
    req.on('error', reject);
    if (init.body !== undefined) req.write(String(init.body));
    req.end();
  });
}

// A minimal OAuth 2.0 authorization server on 127.0.0.1 for the wasm-bindgen tests of
// src/web/ (the JavaScript API in headless Chromium). It is not an emulation of a real
// provider (tests/idp is); it checks exactly what those tests need: PKCE S256 end to end,
// refresh-token rotation with reuse detection (a replayed rotated-away refresh token
// revokes the whole grant, RFC 9700 §4.14.2, as oidc-provider and Entra do), counts of
// token requests, a protected API that can answer 401, and revocation. No dependencies: node:http and node:crypto only.
//
//   node tests/support/token-server.mjs [--port N]   prints {"port":N} when ready
//
// Paths match by suffix (`/authorize`, `/token`, `/revoke`), so one server can stand in
// for several providers' path layouts (e.g. Salesforce's /services/oauth2/token).
//
// GET  /authorize?...   -> {"location": "<redirect_uri>?code=..&state=..&iss=.."}
//                          (a stand-in for the user agent following the 302)
// POST /token           authorization_code (verifies code_verifier) | refresh_token
// POST /revoke          token=...
// GET  /api/me          Bearer token; 401 when revoked, expired or forced
// POST /control/fail-next {status, body, headers?}  next /token answer
// POST /control/api-401   next /api/me answers 401
// GET  /control/stats     counts
// POST /control/reset
import http from 'node:http';
import crypto from 'node:crypto';

const ISSUER_PATH = '';
const codes = new Map();        // code -> {challenge, nonce, clientId, redirectUri}
const refreshTokens = new Map(); // rt -> {user, grant}
const rotatedAway = new Map();   // rt already rotated -> grant
const accessTokens = new Map();  // at -> {user, exp}
let failNext = [];
let api401 = 0;
let stats;
function resetStats() {
  stats = { authorization_code: 0, refresh_token: 0, revoke: 0, api: 0, tokens_revoked: 0, reuse_detected: 0 };
}
resetStats();

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const random = () => b64url(crypto.randomBytes(24));

function cors(req, res) {
  res.setHeader('Access-Control-Allow-Origin', req.headers.origin || '*');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Accept');
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
  res.setHeader('Access-Control-Expose-Headers', 'WWW-Authenticate, Date, Retry-After');
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

async function readBody(req) {
  let data = '';
  for await (const chunk of req) data += chunk;
  return data;
}

function issueTokens(base, clientId, user, nonce, grant = random()) {
  const at = 'AT-' + random();
  const rt = 'RT-' + random();
  accessTokens.set(at, { user, exp: Date.now() + 3600_000 });
  refreshTokens.set(rt, { user, grant });
  const idClaims = { iss: base, aud: clientId, sub: 'sub-' + user, preferred_username: user, name: 'Test ' + user };
  if (nonce) idClaims.nonce = nonce;
  const idToken = `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify(idClaims))}.`;
  return { token_type: 'Bearer', expires_in: 3600, access_token: at, refresh_token: rt, id_token: idToken, scope: 'openid offline_access api' };
}

const server = http.createServer(async (req, res) => {
  cors(req, res);
  if (req.method === 'OPTIONS') { res.writeHead(204); return res.end(); }
  const base = `http://127.0.0.1:${server.address().port}${ISSUER_PATH}`;
  const url = new URL(req.url, base);
  try {
    if (req.method === 'GET' && url.pathname.endsWith('/authorize')) {
      const p = url.searchParams;
      if (p.get('response_type') !== 'code' || p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge')) {
        return send(res, 400, { error: 'invalid_request', error_description: 'PKCE S256 required' });
      }
      const code = 'C-' + random();
      codes.set(code, { challenge: p.get('code_challenge'), nonce: p.get('nonce'), clientId: p.get('client_id'),
        redirectUri: p.get('redirect_uri'), user: p.get('login_hint') || 'alice@example.test' });
      const location = new URL(p.get('redirect_uri'));
      location.searchParams.set('code', code);
      location.searchParams.set('state', p.get('state'));
      location.searchParams.set('iss', base);
      return send(res, 200, { location: location.toString() });
    }
    if (req.method === 'POST' && url.pathname.endsWith('/token')) {
      const form = new URLSearchParams(await readBody(req));
      const grant = form.get('grant_type');
      if (grant in stats) stats[grant] += 1;
      if (failNext.length) {
        const f = failNext.shift();
        return send(res, f.status, f.body, f.headers || {});
      }
      if (grant === 'authorization_code') {
        const entry = codes.get(form.get('code'));
        codes.delete(form.get('code'));
        if (!entry) return send(res, 400, { error: 'invalid_grant', error_description: 'unknown code' });
        const challenge = b64url(crypto.createHash('sha256').update(form.get('code_verifier') || '').digest());
        if (challenge !== entry.challenge) return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
        if (form.get('redirect_uri') !== entry.redirectUri || form.get('client_id') !== entry.clientId) {
          return send(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri or client_id mismatch' });
        }
        return send(res, 200, issueTokens(base, entry.clientId, entry.user, entry.nonce));
      }
      if (grant === 'refresh_token') {
        const presented = form.get('refresh_token');
        const entry = refreshTokens.get(presented);
        if (!entry) {
          const grant = rotatedAway.get(presented);
          if (grant) {
            // Reuse detection: the whole grant dies.
            stats.reuse_detected += 1;
            for (const [rt, e] of refreshTokens) if (e.grant === grant) refreshTokens.delete(rt);
          }
          return send(res, 400, { error: 'invalid_grant', error_description: 'refresh token revoked' });
        }
        refreshTokens.delete(presented); // rotation
        rotatedAway.set(presented, entry.grant);
        const tokens = issueTokens(base, form.get('client_id'), entry.user, null, entry.grant);
        delete tokens.id_token;
        return send(res, 200, tokens);
      }
      return send(res, 400, { error: 'unsupported_grant_type' });
    }
    if (req.method === 'POST' && url.pathname.endsWith('/revoke')) {
      stats.revoke += 1;
      const form = new URLSearchParams(await readBody(req));
      if (refreshTokens.delete(form.get('token'))) stats.tokens_revoked += 1;
      return send(res, 200, {});
    }
    if (req.method === 'GET' && url.pathname === '/api/me') {
      stats.api += 1;
      const token = (req.headers.authorization || '').replace(/^Bearer /, '');
      const entry = accessTokens.get(token);
      if (api401 > 0 || !entry || entry.exp < Date.now()) {
        if (api401 > 0) { api401 -= 1; accessTokens.delete(token); }
        return send(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      }
      return send(res, 200, { user: entry.user });
    }
    if (req.method === 'POST' && url.pathname === '/control/fail-next') {
      failNext.push(JSON.parse(await readBody(req)));
      return send(res, 200, { queued: failNext.length });
    }
    if (req.method === 'POST' && url.pathname === '/control/api-401') {
      api401 += 1;
      return send(res, 200, {});
    }
    if (req.method === 'GET' && url.pathname === '/control/stats') return send(res, 200, stats);
    if (req.method === 'POST' && url.pathname === '/control/reset') {
      resetStats(); failNext = []; api401 = 0;
      return send(res, 200, {});
    }
    return send(res, 404, { error: 'not_found' });
  } catch (e) {
    return send(res, 500, { error: 'server_error', error_description: String(e && e.message) });
  }
});

const portArg = process.argv.indexOf('--port');
server.listen(portArg > 0 ? Number(process.argv[portArg + 1]) : 0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));

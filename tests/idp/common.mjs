// Shared plumbing for the three emulated identity providers.
//
// Each emulated provider (microsoft.mjs, google.mjs, salesforce.mjs) is a real
// `oidc-provider` instance. This module holds what they share:
//   - an in-memory adapter (`Store`) that can enumerate grants and sessions by
//     account (needed for "revoke every grant of alice" and "end her sessions"),
//     and that remembers revoked refresh tokens ("tombstones") so that a later
//     use of one can be answered with the provider's revoked-grant error rather
//     than a generic "not found";
//   - the oidc-provider configuration common to all three (public clients,
//     PKCE S256, devInteractions, clientBasedCORS, refresh-token rotation);
//   - request plumbing: body reading, forwarding a request into an oidc-provider
//     mounted under a path prefix, JSON/CORS helpers, redaction.
//
// Nothing here ever logs a token value.

import crypto from 'node:crypto';
import { Readable } from 'node:stream';

import { Provider } from 'oidc-provider';

export const epoch = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------
// Origins allowed for CORS (clientBasedCORS and our own endpoints).
// ---------------------------------------------------------------------------
// Loopback over http (the web host) or https (the Outlook add-in, tests/addin).
const ALLOWED_ORIGIN = /^(https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?|chrome-extension:\/\/[a-p]{32}|chrome-extension:\/\/[A-Za-z0-9_-]+)$/;

export function originAllowed(origin) {
  return typeof origin === 'string' && ALLOWED_ORIGIN.test(origin);
}

// Adds CORS headers for our own (non oidc-provider) endpoints. Returns true when
// the request was a preflight and has been answered.
export function applyCors(req, res, { methods = 'GET,POST,OPTIONS' } = {}) {
  const origin = req.headers.origin;
  res.setHeader('Vary', 'Origin');
  if (!originAllowed(origin)) return false;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Expose-Headers', 'WWW-Authenticate, Retry-After, Date');
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    res.setHeader('Access-Control-Allow-Methods', methods);
    const wanted = req.headers['access-control-request-headers'];
    res.setHeader('Access-Control-Allow-Headers', wanted || 'Authorization, Content-Type');
    res.setHeader('Access-Control-Max-Age', '600');
    res.statusCode = 204;
    res.end();
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Small HTTP helpers
// ---------------------------------------------------------------------------
export function sendJson(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) res.setHeader(k, v);
  res.end(text);
}

export function sendText(res, status, text, contentType = 'text/plain; charset=utf-8', headers = {}) {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) res.setHeader(k, v);
  res.end(text);
}

export async function readBody(req, limit = 256 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('request entity too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** The JSON body of a control-API POST: {} when there is none, null when it is not JSON. */
export async function readControlBody(req) {
  if (req.method !== 'POST') return {};
  const raw = (await readBody(req)).toString('utf8').trim();
  if (!raw) return {};
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

// Parameters of a form POST plus the query string (Google and Salesforce accept
// `token=` in either place on their revoke endpoints).
export function formParams(url, bodyBuf, contentType = '') {
  const out = {};
  for (const [k, v] of url.searchParams) out[k] = v;
  if (bodyBuf?.length && /application\/x-www-form-urlencoded/i.test(contentType)) {
    for (const [k, v] of new URLSearchParams(bodyBuf.toString('utf8'))) out[k] = v;
  }
  return out;
}

export function bearerToken(req) {
  const h = req.headers.authorization || '';
  const m = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(h.trim());
  return m ? m[1].trim() : undefined;
}

export function basicAuth(req) {
  const h = req.headers.authorization || '';
  const m = /^Basic\s+(.+)$/i.exec(h.trim());
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return {
    clientId: decodeURIComponent(decoded.slice(0, i)),
    clientSecret: decodeURIComponent(decoded.slice(i + 1)),
  };
}

export const uuid = () => crypto.randomUUID();

// Names of parameters whose values must never be logged.
const SECRET_PARAMS = new Set([
  'token', 'code', 'refresh_token', 'access_token', 'id_token', 'id_token_hint',
  'client_secret', 'code_verifier', 'password', 'client_assertion', 'assertion',
]);

export function redactUrl(rawUrl) {
  const q = rawUrl.indexOf('?');
  if (q < 0) return rawUrl;
  const params = new URLSearchParams(rawUrl.slice(q + 1));
  const parts = [];
  for (const [k, v] of params) {
    parts.push(`${encodeURIComponent(k)}=${SECRET_PARAMS.has(k) ? '[REDACTED]' : encodeURIComponent(v)}`);
  }
  return `${rawUrl.slice(0, q)}?${parts.join('&')}`;
}

// ---------------------------------------------------------------------------
// Store: an in-memory oidc-provider adapter with enumeration and tombstones
// ---------------------------------------------------------------------------
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);
// Expired entries are kept this long so that oidc-provider can still tell an
// expired token (it loads them with ignoreExpiration) from an unknown one.
const GRACE_MS = 24 * 3600 * 1000;

export class Store {
  constructor() {
    this.models = new Map(); // model name -> Map(id -> {payload, expiresAt})
    this.tombstones = new Map(); // token id -> {reason, model, ...}
    this.revocationReasons = new Map(); // grantId -> reason (set just before revoking)
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  close() { clearInterval(this.sweeper); }

  coll(model) {
    let m = this.models.get(model);
    if (!m) { m = new Map(); this.models.set(model, m); }
    return m;
  }

  sweep() {
    const now = Date.now();
    for (const m of this.models.values()) {
      for (const [id, e] of m) if (e.expiresAt && e.expiresAt + GRACE_MS < now) m.delete(id);
    }
    for (const [id, t] of this.tombstones) if (t.at + 7 * 24 * 3600 * 1000 < now) this.tombstones.delete(id);
  }

  get(model, id) {
    const e = this.coll(model).get(id);
    if (!e) return undefined;
    if (e.expiresAt && e.expiresAt + GRACE_MS < Date.now()) {
      this.coll(model).delete(id);
      return undefined;
    }
    return e.payload;
  }

  all(model) {
    return [...this.coll(model).entries()].map(([id, e]) => ({ id, ...e.payload }));
  }

  tombstone(id, model, payload, reason) {
    this.tombstones.set(id, {
      reason,
      model,
      at: Date.now(),
      grantId: payload.grantId,
      accountId: payload.accountId,
      clientId: payload.clientId,
      iat: payload.iat,
      iiat: payload.iiat,
    });
  }

  destroy(model, id) {
    const c = this.coll(model);
    const e = c.get(id);
    if (!e) return;
    // A consumed refresh token being destroyed is oidc-provider's replay
    // detection at work (it then revokes the whole grant).
    if (model === 'RefreshToken') this.tombstone(id, model, e.payload, e.payload.consumed ? 'reused' : 'destroyed');
    c.delete(id);
  }

  revokeByGrantId(model, grantId) {
    const reason = this.revocationReasons.get(grantId) || 'grant_revoked';
    const c = this.coll(model);
    for (const [id, e] of c) {
      if (e.payload.grantId === grantId) {
        if (model === 'RefreshToken' || model === 'AccessToken') {
          if (!this.tombstones.has(id)) this.tombstone(id, model, e.payload, reason);
        }
        c.delete(id);
      }
    }
  }

  // Revokes a whole grant and every token issued under it.
  revokeGrant(grantId, reason) {
    this.revocationReasons.set(grantId, reason);
    for (const model of GRANTABLE) this.revokeByGrantId(model, grantId);
    this.coll('Grant').delete(grantId);
  }

  // Every grant of an account (all clients of this provider).
  revokeAccount(accountId, reason) {
    const grants = this.all('Grant').filter((g) => !accountId || g.accountId === accountId);
    for (const g of grants) this.revokeGrant(g.id, reason);
    return grants.length;
  }

  endSessions(accountId) {
    const c = this.coll('Session');
    let n = 0;
    for (const [id, e] of c) {
      if (!e.payload.accountId) continue;
      if (!accountId || e.payload.accountId === accountId) { c.delete(id); n += 1; }
    }
    return n;
  }

  adapterClass() {
    const store = this;
    return class MemoryAdapter {
      constructor(name) { this.name = name; }

      async upsert(id, payload, expiresIn) {
        const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
        store.coll(this.name).set(id, { payload: { ...payload }, expiresAt });
      }

      async find(id) {
        const p = store.get(this.name, id);
        return p ? { ...p } : undefined;
      }

      async findByUid(uid) {
        for (const [, e] of store.coll(this.name)) if (e.payload.uid === uid) return { ...e.payload };
        return undefined;
      }

      async findByUserCode(userCode) {
        for (const [, e] of store.coll(this.name)) if (e.payload.userCode === userCode) return { ...e.payload };
        return undefined;
      }

      async consume(id) {
        // oidc-provider consumes a refresh token when it rotates it, and treats a
        // later use of a consumed one as a replay (it revokes the grant). Entra
        // does not invalidate a used refresh token at all; such a provider sets
        // store.keepUsedRefreshTokens.
        if (this.name === 'RefreshToken' && store.keepUsedRefreshTokens?.()) return;
        const e = store.coll(this.name).get(id);
        if (e) e.payload.consumed = epoch();
      }

      async destroy(id) { store.destroy(this.name, id); }

      async revokeByGrantId(grantId) { store.revokeByGrantId(this.name, grantId); }
    };
  }
}

// ---------------------------------------------------------------------------
// Keys: one RSA signing key per process (avoids the dev keystore warning)
// ---------------------------------------------------------------------------
let jwksCache;
export function signingJwks() {
  if (!jwksCache) {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = privateKey.export({ format: 'jwk' });
    jwksCache = { keys: [{ ...jwk, kid: `local-${crypto.randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' }] };
  }
  return jwksCache;
}

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------
// accounts: Map(subject -> claims object with email/name/...). The accountId is
// the subject (see rewriteLoginSubmission).
export function makeFindAccount(accounts) {
  return async function findAccount(_ctx, id) {
    const claims = accounts.get(String(id));
    if (!claims) return undefined;
    return {
      accountId: id,
      async claims() { return { ...claims }; },
    };
  };
}

// ---------------------------------------------------------------------------
// oidc-provider factory
// ---------------------------------------------------------------------------
// Builds an oidc-provider with the configuration all three emulators share.
// `opts.hooks.after(ctx)` runs after oidc-provider has produced its response,
// to reshape bodies into the emulated provider's format.
export function createOidcProvider(opts) {
  const {
    issuer, store, routes, clients, accounts, scopes, claims, cookiePrefix,
    accessTokenTtl, refreshTokenTtl, rotateRefreshToken, issueRefreshToken,
    extraParams = [], redirectAllowed, after, discovery = {},
  } = opts;

  const provider = new Provider(issuer, {
    adapter: store.adapterClass(),
    jwks: signingJwks(),
    clients,
    findAccount: makeFindAccount(accounts),
    routes,
    scopes,
    claims,
    extraParams,
    discovery,
    responseTypes: ['code'],
    // Claims such as email/name go into the ID token like Entra and Google do.
    conformIdTokenClaims: false,
    // Every client here is public: PKCE (S256, the only method oidc-provider 9
    // supports) is mandatory.
    pkce: { required: () => true },
    // Extension pages and the local demo pages call the token endpoint cross-origin.
    clientBasedCORS: (_ctx, origin) => originAllowed(origin),
    cookies: {
      names: {
        session: `_${cookiePrefix}_session`,
        interaction: `_${cookiePrefix}_interaction`,
        resume: `_${cookiePrefix}_interaction_resume`,
      },
      keys: [crypto.randomBytes(32).toString('base64url')],
    },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: false }, // Google and Salesforce revoke are emulated by hand
      introspection: { enabled: false },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
    },
    ttl: {
      AccessToken: (ctx, token, client) => accessTokenTtl(ctx, token, client),
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: (ctx, token, client) => refreshTokenTtl(ctx, token, client),
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 365 * 24 * 3600,
    },
    rotateRefreshToken: (ctx) => rotateRefreshToken(ctx),
    issueRefreshToken: async (ctx, client, code) => issueRefreshToken(ctx, client, code),
    // Ending the browser session never kills API tokens at these providers.
    expiresWithSession: async () => false,
    // Never called with pairwise clients, but avoids the "must change" warning path.
    pairwiseIdentifier: async (_ctx, accountId) => accountId,
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
      ctx.body = `<!DOCTYPE html><html><head><title>Sign-in error</title></head><body><h1>Sign-in error</h1>${
        Object.entries(out).map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span class="${esc(k)}">${esc(v)}</span></p>`).join('')
      }</body></html>`;
    },
  });

  // Registered redirect URIs are matched exactly by oidc-provider; additionally
  // accept (a) any redirect URI added at run time (--redirect-uri / control),
  // (b) `*` wildcard patterns such as https://*.chromiumapp.org/, and (c) a
  // registered loopback http URI on any port (RFC 8252 section 7.3).
  const original = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    return original.call(this, value) || redirectAllowed(value);
  };

  // Keep the underlying error of a failed token request so the emulators can map
  // it to their provider's exact error body.
  for (const event of ['grant.error', 'userinfo.error', 'server_error', 'end_session.error']) {
    provider.on(event, (ctx, err) => { if (ctx?.state) ctx.state.idpError = err; });
  }

  provider.use(async (ctx, next) => {
    await next();
    // oidc-provider's built-in pages @import a web font from fonts.googleapis.com;
    // strip it so a browser driven against the emulator talks to 127.0.0.1 only.
    if (typeof ctx.body === 'string' && ctx.body.includes('fonts.googleapis.com')) {
      ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);?/g, '');
    }
    if (after) await after(ctx);
  });

  return provider;
}

// Redirect-URI matcher shared by the three emulators (see createOidcProvider).
export function makeRedirectMatcher(list) {
  const stripLoopbackPort = (u) => {
    try {
      const url = new URL(u);
      if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) return undefined;
      url.port = '';
      return url.href;
    } catch { return undefined; }
  };
  return (value) => {
    for (const allowed of list) {
      if (allowed === value) return true;
      if (allowed.includes('*')) {
        const re = new RegExp(`^${allowed.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[a-z0-9-]+')}$`, 'i');
        if (re.test(value)) return true;
      }
      const a = stripLoopbackPort(allowed);
      if (a && a === stripLoopbackPort(value)) return true;
    }
    return false;
  };
}

// Registered redirect URIs must parse as URLs for oidc-provider's client schema;
// wildcard patterns are only used by the matcher above.
export function registrableRedirectUris(list) {
  const out = list.filter((u) => !u.includes('*') && URL.canParse(u));
  return out.length ? out : ['http://127.0.0.1:8080/www/callback.html'];
}

// ---------------------------------------------------------------------------
// Forwarding a request into an oidc-provider mounted under `mount`
// ---------------------------------------------------------------------------
// oidc-provider computes its own URLs from `req.originalUrl` minus `req.url`,
// so setting originalUrl = mount + innerUrl makes every URL it builds (login
// page, resume URL, discovery endpoints) carry the right prefix.
const callbacks = new WeakMap();
export function forward(provider, req, res, { mount, innerUrl, body, idp }) {
  let target = req;
  if (body !== undefined) {
    // The body was already read (to apply provider quirks); replay it.
    const replay = Readable.from(body.length ? [body] : []);
    const headers = { ...req.headers, 'content-length': String(body.length) };
    delete headers['transfer-encoding'];
    Object.assign(replay, {
      headers,
      rawHeaders: [],
      method: req.method,
      httpVersion: req.httpVersion,
      httpVersionMajor: req.httpVersionMajor,
      httpVersionMinor: req.httpVersionMinor,
      socket: req.socket,
      connection: req.socket,
    });
    target = replay;
  }
  target.url = innerUrl;
  target.originalUrl = mount + innerUrl;
  target.idp = idp;
  let cb = callbacks.get(provider);
  if (!cb) { cb = provider.callback(); callbacks.set(provider, cb); }
  return cb(target, res);
}

/** What an emulated provider's handler knows about a request, from its route and form. */
export function requestContext(req, route, params, extra = {}) {
  return {
    endpoint: route.endpoint,
    params: params || {},
    grantType: params?.grant_type,
    clientId: params?.client_id || basicAuth(req)?.clientId,
    ...extra,
  };
}

/**
 * The token request as oidc-provider's public client sees it: the client id in the body,
 * no secret (the emulator checked it already, or the provider ignores it), no Basic header.
 */
export function asPublicClientForm(req, idp) {
  const p = { ...idp.params, client_id: idp.clientId };
  delete p.client_secret;
  if (basicAuth(req)) delete req.headers.authorization;
  return encodeForm(p);
}

export function encodeForm(params) {
  return Buffer.from(new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined)).toString());
}

// Builds the redirect of an authorization error (used by `endpoint:"authorize"`
// faults). Returns {redirect} or a 400 body when the request has no redirect_uri.
export function authorizeErrorRedirect(params, error, description, extra = {}) {
  const redirectUri = params?.redirect_uri;
  if (!redirectUri) return { status: 400, body: { error: 'invalid_request', error_description: 'redirect_uri missing' } };
  const p = new URLSearchParams({ error, ...(description ? { error_description: description } : {}), ...extra });
  if (params.state) p.set('state', params.state);
  const sep = params.response_mode === 'fragment' ? '#' : '?';
  return { redirect: `${redirectUri}${redirectUri.includes('?') && sep === '?' ? '&' : sep}${p}` };
}

// "invalid_grant:Token has been expired or revoked." -> {error, description}
export function splitCode(raw) {
  const s = String(raw ?? '').trim();
  const i = s.indexOf(':');
  if (i < 0) return { error: s, description: undefined };
  return { error: s.slice(0, i), description: s.slice(i + 1) };
}

// devInteractions uses the typed login as the accountId, and oidc-provider
// always uses the accountId as `sub`. The emulators want realistic subjects
// (Google's numeric id, Entra's opaque id, Salesforce's identity URL), so the
// login form submission is rewritten from the e-mail address to the account's
// subject before oidc-provider sees it. Unknown logins get an error page.
// Returns the body to forward, or undefined when the response was sent.
export function rewriteLoginSubmission(res, params, loginToSub) {
  if (params.prompt !== 'login') return encodeForm(params);
  const login = String(params.login || '').trim().toLowerCase();
  const sub = loginToSub.get(login) || ([...loginToSub.values()].includes(params.login) ? params.login : undefined);
  if (!sub) {
    const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
    sendText(res, 400, `<!DOCTYPE html><html><head><title>Sign-in</title></head><body><h1>Unknown test account</h1><p class="error">No test account '${esc(login)}'. Use one of: ${[...loginToSub.keys()].map(esc).join(', ')}. Go back and try again.</p></body></html>`, 'text/html; charset=utf-8');
    return undefined;
  }
  return encodeForm({ ...params, login: sub });
}

// Index of a provider's test accounts. `list` items: {login, sub, ...};
// `toClaims(a)` gives the claims. resolve() accepts a login (e-mail) or a subject.
export function accountIndex(list, toClaims) {
  const bySub = new Map(list.map((a) => [a.sub, toClaims(a)]));
  const loginToSub = new Map(list.map((a) => [a.login.toLowerCase(), a.sub]));
  const rowBySub = new Map(list.map((a) => [a.sub, a]));
  return {
    bySub,
    loginToSub,
    row: (sub) => rowBySub.get(sub),
    resolve(account) {
      if (account === undefined || account === null || account === '') return undefined;
      const s = String(account);
      const sub = loginToSub.get(s.toLowerCase()) || (bySub.has(s) ? s : undefined);
      if (!sub) throw new Error(`unknown account ${s}; one of ${[...loginToSub.keys()].join(', ')}`);
      return sub;
    },
  };
}

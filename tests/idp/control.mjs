// Control plane of the local identity-provider emulator: run-time
// configuration, fault injection, request statistics and a redacted request log,
// plus the /control HTTP API that tests and the demo's devtools page use.
//
// Token values are never stored here: the log keeps method, path (with secret
// query parameters redacted), grant_type, status and whether an Origin header
// was present.

import { applyCors, readControlBody, redactUrl, sendJson } from './common.mjs';

export const PROVIDERS = ['microsoft', 'google', 'salesforce'];

// ---------------------------------------------------------------------------
// Configuration (defaults, validation, merge)
// ---------------------------------------------------------------------------
export const CONFIG_SCHEMA = {
  microsoft: {
    accessTokenTtl: ['ttl', 'random', 'access-token lifetime: "random" = 60-90 min per token, as Entra (configurable-token-lifetimes); a number of seconds fixes it (the demo uses 120 s to watch expiry)'],
    strictRefreshRotation: ['boolean', false, 'RFC 9700 §4.14.2 strict rotation: every refresh returns a new refresh token, and reusing a rotated-away one revokes the whole grant (no real provider here does this by default; switch it on in tests about rotation safety)'],
    spaRefreshLifetime: ['number', 86400, 'absolute lifetime of refresh tokens of the spa client, seconds (Entra: 24 h, AADSTS700084)'],
    nativeRefreshLifetime: ['number', 90 * 86400, 'inactivity lifetime of refresh tokens of the native client, seconds (Entra: 90 days, AADSTS700082)'],
  },
  google: {
    accessTokenTtl: ['number', 3599, 'access-token lifetime in seconds (Google: 3599)'],
    clientSecret: ['string', 'GOCSPX-local-test-secret', 'client secret of the Web/Desktop client'],
    requireSecretForRefresh: ['boolean', true, 'refresh_token grant needs client_secret (Google Web/Desktop clients)'],
    requireSecretForCode: ['boolean', true, 'authorization_code grant needs client_secret even with PKCE (Google Web/Desktop clients)'],
    rotateRefreshTokens: ['boolean', false, 'issue a new refresh token on each refresh, the used one then refused (Google does not rotate)'],
    strictRefreshRotation: ['boolean', false, 'RFC 9700 §4.14.2 strict rotation: every refresh returns a new refresh token, and reusing a rotated-away one revokes the whole grant (no real provider here does this by default; switch it on in tests about rotation safety)'],
  },
  salesforce: {
    sessionTimeout: ['number', 120, 'session timeout in seconds; each API use extends it (Salesforce: org/app setting, often 2 h)'],
    rotateRefreshTokens: ['boolean', false, 'the app\'s "Enable Refresh Token Rotation" (off unless the admin enables it): a new refresh token on each refresh, the used one invalidated'],
    strictRefreshRotation: ['boolean', false, 'RFC 9700 §4.14.2 strict rotation: every refresh returns a new refresh token, and reusing a rotated-away one revokes the whole grant (no real provider here does this by default; switch it on in tests about rotation safety)'],
    corsOnOAuthEndpoints: ['boolean', true, 'send CORS headers on token/revoke (My Domain with "CORS for OAuth endpoints")'],
    signatureKey: ['string', 'salesforce-local-signature-key', 'HMAC key of the token response "signature"'],
  },
};

export function defaultConfig() {
  const out = {};
  for (const [p, fields] of Object.entries(CONFIG_SCHEMA)) {
    out[p] = {};
    for (const [k, [, def]] of Object.entries(fields)) out[p][k] = def;
  }
  return out;
}

// Accepts {google:{requireSecretForRefresh:false}} and {"google.requireSecretForRefresh":false}.
export function mergeConfig(config, patch) {
  if (!patch || typeof patch !== 'object') throw new Error('config must be a JSON object');
  const flat = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key.includes('.')) {
      const [p, k] = key.split('.', 2);
      flat.push([p, k, value]);
    } else if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) flat.push([key, k, v]);
    } else {
      throw new Error(`unknown config key ${key}`);
    }
  }
  for (const [p, k] of flat) {
    if (!CONFIG_SCHEMA[p]?.[k]) throw new Error(`unknown config key ${p}.${k}`);
  }
  for (const [p, k, v] of flat) {
    const [type] = CONFIG_SCHEMA[p][k];
    let value = v;
    if (type === 'ttl' && v === 'random') {
      value = 'random';
    } else if (type === 'number' || type === 'ttl') {
      value = Number(v);
      if (!Number.isFinite(value) || value <= 0) throw new Error(`${p}.${k} must be a positive number${type === 'ttl' ? ' or "random"' : ''}`);
    } else if (type === 'boolean') {
      if (v === 'true') value = true;
      else if (v === 'false') value = false;
      if (typeof value !== 'boolean') throw new Error(`${p}.${k} must be a boolean`);
    } else if (typeof v !== 'string' || !v) {
      throw new Error(`${p}.${k} must be a non-empty string`);
    }
    config[p][k] = value;
  }
  return config;
}

// ---------------------------------------------------------------------------
// Stats and log
// ---------------------------------------------------------------------------
function emptyStats() {
  const per = () => ({
    authorize: 0,
    authorizeWithClaims: 0,
    token: { authorization_code: 0, refresh_token: 0, other: 0 },
    userinfo: 0,
    revoke: 0,
    api: 0,
  });
  return {
    microsoft: per(),
    google: per(),
    salesforce: per(),
    revocations: { microsoft: 0, google: 0, salesforce: 0 },
    api: { microsoft: 0, google: 0, salesforce: 0 },
    faults: { microsoft: 0, google: 0, salesforce: 0 },
    since: new Date().toISOString(),
  };
}

const LOG_SIZE = 500;

/** Fault kinds of POST /control/fail-next (README.md, "Fault injection"). */
export const FAULT_KINDS = ['error', 'status', 'delay', 'malformed', 'reset', 'hang', 'html', 'no-access-token', 'wrong-token-type', 'huge', 'redirect'];

// ---------------------------------------------------------------------------
// Control plane
// ---------------------------------------------------------------------------
export function createControl({ config }) {
  let stats = emptyStats();
  let log = [];
  const faults = new Map(); // `${provider}:${endpoint}` -> [fault]
  const state = { claimsChallenges: 0 };
  let providers = {}; // name -> provider module (set by attach)

  function count({ provider, endpoint, grantType, claims }) {
    const s = stats[provider];
    if (!s) return;
    switch (endpoint) {
      case 'authorize':
        s.authorize += 1;
        if (claims) s.authorizeWithClaims += 1;
        break;
      case 'token':
        if (grantType === 'authorization_code' || grantType === 'refresh_token') s.token[grantType] += 1;
        else s.token.other += 1;
        break;
      case 'userinfo': s.userinfo += 1; break;
      case 'revoke':
        s.revoke += 1;
        stats.revocations[provider] += 1;
        break;
      case 'api':
        s.api += 1;
        stats.api[provider] += 1;
        break;
      default: break;
    }
  }

  // Records one request; the entry is completed when the response finishes.
  function record(req, res, info) {
    const entry = {
      time: new Date().toISOString(),
      provider: info.provider ?? null,
      endpoint: info.endpoint ?? null,
      method: req.method,
      path: redactUrl(req.url),
      grant_type: info.grantType ?? null,
      origin: req.headers.origin ?? null,
      hasOrigin: Boolean(req.headers.origin),
      fault: null,
      status: null,
      ms: null,
    };
    const start = Date.now();
    log.push(entry);
    if (log.length > LOG_SIZE) log = log.slice(-LOG_SIZE);
    res.on('finish', () => { entry.status = res.statusCode; entry.ms = Date.now() - start; });
    res.on('close', () => { if (entry.status === null) { entry.status = 0; entry.ms = Date.now() - start; } });
    return entry;
  }

  function queueFault(spec) {
    const provider = spec.provider;
    if (!PROVIDERS.includes(provider)) throw new Error(`provider must be one of ${PROVIDERS.join(', ')}`);
    const endpoint = spec.endpoint || 'token';
    if (!['token', 'api', 'revoke', 'userinfo', 'authorize'].includes(endpoint)) {
      throw new Error('endpoint must be one of token, api, revoke, userinfo, authorize');
    }
    const kind = spec.kind;
    if (!FAULT_KINDS.includes(kind)) throw new Error(`kind must be one of ${FAULT_KINDS.join(', ')}`);
    const count = spec.count === undefined ? 1 : Number(spec.count);
    if (!Number.isInteger(count) || count < 1) throw new Error('count must be a positive integer');
    const fault = { ...spec, endpoint, kind, count };
    if (kind === 'error') {
      // Validate now so a typo fails the control call, not the later request.
      providers[provider].errorFor(endpoint, fault, { validateOnly: true });
    } else if (kind === 'status') {
      const status = Number(spec.status);
      if (!Number.isInteger(status) || status < 100 || status > 599) throw new Error('status must be an HTTP status code');
      fault.status = status;
    } else if (kind === 'delay' || kind === 'hang') {
      const ms = Number(spec.ms ?? (kind === 'hang' ? 60_000 : NaN));
      if (!Number.isFinite(ms) || ms < 0 || ms > 120_000) throw new Error('ms must be between 0 and 120000');
      fault.ms = ms;
    } else if (kind === 'redirect') {
      const status = Number(spec.status ?? 307);
      if (![301, 302, 303, 307, 308].includes(status)) throw new Error('status must be a redirect status (301, 302, 303, 307, 308)');
      fault.status = status;
      if (spec.location !== undefined && !(typeof spec.location === 'string' && URL.canParse(spec.location))) throw new Error('location must be an absolute URL');
    } else if (kind === 'huge') {
      const bytes = Number(spec.bytes ?? 8 * 1024 * 1024);
      if (!Number.isInteger(bytes) || bytes < 1 || bytes > 64 * 1024 * 1024) throw new Error('bytes must be between 1 and 67108864');
      fault.bytes = bytes;
    }
    const key = `${provider}:${endpoint}`;
    if (!faults.has(key)) faults.set(key, []);
    faults.get(key).push(fault);
    return fault;
  }

  // Takes the next fault for this request, if any (honouring an optional
  // grant_type filter on token faults).
  function takeFault(provider, endpoint, { grantType } = {}) {
    const q = faults.get(`${provider}:${endpoint}`);
    if (!q?.length) return undefined;
    const i = q.findIndex((f) => !f.grantType || f.grantType === grantType);
    if (i < 0) return undefined;
    const f = q[i];
    f.count -= 1;
    if (f.count <= 0) q.splice(i, 1);
    stats.faults[provider] += 1;
    return f;
  }

  // Applies a fault. Returns true when the response has been sent (the request
  // must not be processed further), false to continue normally (delay).
  async function applyFault(fault, p, req, res, info) {
    const corsHeaders = {};
    const origin = req.headers.origin;
    if (origin && p.corsAllowedFor(info.endpoint, origin)) {
      corsHeaders['Access-Control-Allow-Origin'] = origin;
      corsHeaders['Access-Control-Expose-Headers'] = 'WWW-Authenticate, Retry-After, Date';
      corsHeaders.Vary = 'Origin';
    }
    switch (fault.kind) {
      case 'delay':
        await new Promise((r) => { setTimeout(r, fault.ms).unref?.(); });
        return false;
      case 'reset':
        // Looks like a network failure to the client.
        req.socket.destroy();
        return true;
      case 'hang':
        // Never answers: the request is held (not processed) for `ms`, then the connection
        // is dropped. A client must give up on its own, earlier (the engine at 30 s).
        await new Promise((r) => {
          const timer = setTimeout(r, fault.ms);
          timer.unref?.();
          req.socket.once('close', () => { clearTimeout(timer); r(); });
        });
        req.socket.destroy();
        return true;
      case 'redirect': {
        // A token endpoint that redirects (no provider documents one). A client that
        // follows a 307/308 re-posts the refresh token to the Location (RFC 9110 §15.4.8):
        // by default the Location is this same endpoint, so a followed redirect shows in the
        // stats as a second token request. `location` sends it elsewhere (an API call
        // redirected to another origin).
        res.statusCode = fault.status;
        res.setHeader('Location', fault.location ?? `${req.socket.encrypted ? 'https' : 'http'}://${req.headers.host}${req.url}`);
        res.setHeader('Cache-Control', 'no-store');
        for (const [k, v] of Object.entries(corsHeaders)) res.setHeader(k, v);
        res.end();
        return true;
      }
      case 'html':
      case 'no-access-token':
      case 'wrong-token-type':
      case 'huge': {
        const body = {
          // A captive portal or a proxy's sign-in page, with status 200.
          html: () => ['text/html; charset=utf-8', '<!doctype html><html><head><title>Sign in to the network</title></head><body><form action="/portal">Wi-Fi sign-in</form></body></html>'],
          // Valid JSON, status 200, but no access_token (RFC 6749 §5.1 requires it).
          'no-access-token': () => ['application/json; charset=utf-8', JSON.stringify({ token_type: 'Bearer', expires_in: 3599, scope: 'openid' })],
          // RFC 6749 §7.1: a client must not use a token of a type it does not understand.
          'wrong-token-type': () => ['application/json; charset=utf-8', JSON.stringify({ access_token: 'mac-token-from-a-confused-endpoint', token_type: 'mac', expires_in: 3599, mac_key: 'k', mac_algorithm: 'hmac-sha-256' })],
          // `bytes` of JSON that never ends (an endpoint gone wrong, or a hostile one).
          huge: () => ['application/json; charset=utf-8', `{"access_token":"${'A'.repeat(fault.bytes)}`],
        }[fault.kind]();
        res.statusCode = 200;
        res.setHeader('Content-Type', body[0]);
        res.setHeader('Cache-Control', 'no-store');
        for (const [k, v] of Object.entries(corsHeaders)) res.setHeader(k, v);
        res.end(body[1]);
        return true;
      }
      case 'malformed': {
        res.statusCode = 200;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        for (const [k, v] of Object.entries(corsHeaders)) res.setHeader(k, v);
        res.end(p.malformedFor(info.endpoint));
        return true;
      }
      case 'status': {
        const { contentType, body, headers = {} } = p.statusFor(fault.status, info.endpoint);
        res.statusCode = fault.status;
        res.setHeader('Content-Type', contentType);
        res.setHeader('Cache-Control', 'no-store');
        if (fault.retryAfter !== undefined) res.setHeader('Retry-After', String(fault.retryAfter));
        for (const [k, v] of Object.entries({ ...headers, ...corsHeaders })) res.setHeader(k, v);
        res.end(body);
        return true;
      }
      case 'error': {
        const out = await p.errorFor(info.endpoint, fault, { req, params: info.params });
        if (out.redirect) {
          res.statusCode = 302;
          res.setHeader('Location', out.redirect);
          res.end();
          return true;
        }
        const headers = { ...(out.headers || {}), ...corsHeaders };
        if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
        sendJson(res, out.status, out.body, headers);
        return true;
      }
      default:
        return false;
    }
  }

  function findProvider(name) {
    const p = providers[name];
    if (!p) throw new Error(`provider must be one of ${PROVIDERS.join(', ')}`);
    return p;
  }

  async function handle(req, res, url) {
    if (applyCors(req, res)) return;
    const path = url.pathname.replace(/\/+$/, '') || '/control';
    const body = await readControlBody(req);
    if (body === null) return sendJson(res, 400, { error: 'body must be JSON' });
    try {
      const key = `${req.method} ${path}`;
      switch (key) {
        case 'GET /control':
          return sendJson(res, 200, help());
        case 'POST /control/fail-next': {
          const f = queueFault(body);
          return sendJson(res, 200, { queued: f, pending: pendingFaults() });
        }
        case 'GET /control/faults':
          return sendJson(res, 200, pendingFaults());
        case 'POST /control/clear-faults':
          faults.clear();
          return sendJson(res, 200, { cleared: true });
        case 'POST /control/revoke': {
          const p = findProvider(body.provider);
          const revoked = p.revokeAccount(body.account);
          return sendJson(res, 200, { provider: body.provider, account: body.account ?? null, grantsRevoked: revoked });
        }
        case 'POST /control/end-sessions': {
          const p = findProvider(body.provider);
          const ended = p.endSessions(body.account);
          return sendJson(res, 200, { provider: body.provider, account: body.account ?? null, sessionsEnded: ended });
        }
        case 'POST /control/expire-session': {
          const p = findProvider(body.provider || 'salesforce');
          if (!p.expireSessions) throw new Error('expire-session applies to salesforce only');
          const expired = p.expireSessions(body.account);
          return sendJson(res, 200, { provider: p.name, account: body.account ?? null, sessionsExpired: expired });
        }
        case 'POST /control/claims-challenge': {
          const n = body.count === undefined ? 1 : Number(body.count);
          if (!Number.isInteger(n) || n < 0) throw new Error('count must be a non-negative integer');
          state.claimsChallenges = n;
          return sendJson(res, 200, { claimsChallenges: n });
        }
        case 'GET /control/config':
          return sendJson(res, 200, config);
        case 'POST /control/config':
          mergeConfig(config, body);
          return sendJson(res, 200, config);
        case 'POST /control/redirect-uris': {
          const uris = Array.isArray(body.uris) ? body.uris : [body.uri].filter(Boolean);
          for (const u of uris) {
            if (typeof u !== 'string' || !(u.includes('*') || URL.canParse(u))) throw new Error(`invalid redirect uri ${u}`);
          }
          for (const p of Object.values(providers)) p.addRedirectUris(uris);
          return sendJson(res, 200, { redirectUris: providers.microsoft.redirectUris() });
        }
        case 'GET /control/stats':
          return sendJson(res, 200, stats);
        case 'POST /control/reset-stats':
          stats = emptyStats();
          return sendJson(res, 200, stats);
        case 'GET /control/log': {
          const n = Math.max(1, Math.min(LOG_SIZE, Number(url.searchParams.get('n')) || 100));
          return sendJson(res, 200, log.slice(-n));
        }
        case 'POST /control/reset':
          // Faults, stats, log and pending claims challenges; not tokens or config.
          faults.clear();
          stats = emptyStats();
          log = [];
          state.claimsChallenges = 0;
          return sendJson(res, 200, { reset: true });
        default:
          return sendJson(res, 404, { error: 'not_found', error_description: `no control endpoint ${key}`, help: help().endpoints });
      }
    } catch (e) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: e.message });
    }
  }

  function pendingFaults() {
    return [...faults.values()].flat();
  }

  function help() {
    return {
      endpoints: {
        'POST /control/fail-next': `{provider, endpoint?: token|api|revoke|userinfo|authorize, kind: ${FAULT_KINDS.join('|')}, code?, status?, retryAfter?, ms?, bytes?, location?, count?, grantType?}`,
        'GET /control/faults': 'pending faults',
        'POST /control/clear-faults': 'drop pending faults',
        'POST /control/revoke': '{provider, account?}: revoke every grant of the account (password change)',
        'POST /control/end-sessions': '{provider, account?}: end browser login sessions (prompt=none -> login_required)',
        'POST /control/expire-session': '{provider:"salesforce", account?}: invalidate current Salesforce sessions',
        'POST /control/claims-challenge': '{count?}: next Graph call(s) answer a claims challenge',
        'GET|POST /control/config': 'read / change lifetimes and switches',
        'POST /control/redirect-uris': '{uris:[...]}: accept more redirect URIs',
        'GET /control/stats': 'request counts',
        'POST /control/reset-stats': 'zero the counts',
        'GET /control/log?n=100': 'last requests, token values redacted',
        'POST /control/reset': 'faults + stats + log + claims challenges',
      },
      errorCodes: Object.fromEntries(Object.entries(providers).map(([n, p]) => [n, p.errorCodes()])),
      config,
    };
  }

  return {
    attach(map) { providers = map; },
    state,
    count,
    record,
    takeFault,
    applyFault,
    queueFault,
    handle,
    get stats() { return stats; },
  };
}

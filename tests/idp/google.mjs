// Emulated Google OAuth 2.0 / OpenID Connect and a sliver of the Gmail API.
//
// Layout (real host in brackets):
//   /google/o/oauth2/v2/auth                   [accounts.google.com/o/oauth2/v2/auth]
//   /google/token                              [oauth2.googleapis.com/token]
//   /google/revoke                             [oauth2.googleapis.com/revoke]
//   /google/v1/userinfo                        [openidconnect.googleapis.com/v1/userinfo]
//   /google/oauth2/v3/certs                    [www.googleapis.com/oauth2/v3/certs]
//   /google/.well-known/openid-configuration   [accounts.google.com/.well-known/openid-configuration]
//   /google-api/gmail/v1/users/me/profile      [gmail.googleapis.com/gmail/v1/users/me/profile]
//
// Behaviour and the doc each follows:
// - "Web application" and "Desktop" clients must send client_secret to the token
//   endpoint even with PKCE; a refresh without it answers
//   400 {"error":"invalid_request","error_description":"client_secret is missing."}
//   [developers.google.com/identity/protocols/oauth2/native-app; AppAuth-JS #91,
//   google-api-nodejs-client #1582]. Configurable: google.requireSecretForRefresh,
//   google.requireSecretForCode.
// - A refresh token comes with access_type=offline + prompt=consent
//   [developers.google.com/identity/protocols/oauth2/web-server#offline].
//   (Google also returns one on the very first consent without prompt=consent;
//   not emulated.)
// - Google does not rotate refresh tokens: a refresh response has no
//   refresh_token, and the same refresh token keeps working
//   [developers.google.com/identity/protocols/oauth2/web-server#offline: the
//   refresh response example carries no refresh_token; "continue to use them as
//   long as they remain valid"]. google.rotateRefreshTokens
//   turns rotation on (the used token then answers invalid_grant, the grant
//   lives on); google.strictRefreshRotation is RFC 9700 §4.14.2 (reuse revokes
//   the grant), for tests about rotation safety.
// - An empty client_secret is a missing one: 400 invalid_request "client_secret
//   is missing." (google-api-nodejs-client #1582 shows exactly that answer to a
//   request carrying `client_secret=`), not 401 invalid_client.
// - Known difference: the ID token's `iss` is this emulator's issuer
//   (<base>/google), not https://accounts.google.com; google-auth-library's
//   verifyIdToken() checks for the latter and refuses it (see google.test.mjs).
// - A dead refresh token (revoked, password change, ...) answers
//   400 {"error":"invalid_grant","error_description":"Token has been expired or revoked."}
//   [developers.google.com/identity/protocols/oauth2#expiration]
// - Revoke: POST token=... (form or query) -> 200; revoking either token of a
//   grant revokes the grant [web-server#tokenrevoke].

import {
  createOidcProvider, forward, sendJson, applyCors, bearerToken, basicAuth,
  makeRedirectMatcher, registrableRedirectUris, Store, authorizeErrorRedirect, splitCode, originAllowed,
  accountIndex, rewriteLoginSubmission, requestContext, asPublicClientForm,
} from './common.mjs';

export const GOOGLE_CLIENT = 'sidebar-google.apps.googleusercontent.test';
const G = 'https://www.googleapis.com/auth';

export const GOOGLE_ACCOUNTS = [
  { login: 'alice@gmail.test', name: 'Alice Example', sub: '109876543210987654321' },
  { login: 'bob@gmail.test', name: 'Bob Example', sub: '109876543210987654322' },
];

const GOOGLE_SCOPES = [
  `${G}/gmail.readonly`, `${G}/gmail.modify`, `${G}/gmail.send`, `${G}/gmail.metadata`,
  'https://mail.google.com/', `${G}/userinfo.email`, `${G}/userinfo.profile`,
];
const GMAIL_SCOPES = new Set([`${G}/gmail.readonly`, `${G}/gmail.modify`, `${G}/gmail.metadata`, 'https://mail.google.com/']);

// Google's token-endpoint error bodies. Rows of providers.md's Google table plus
// the client-authentication answers. Texts marked unverified were not found in
// Google's docs; they follow bodies reported in public issue threads or are a
// best guess.
const GOOGLE_ERRORS = {
  invalid_grant: { status: 400, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } },
  invalid_rapt: {
    status: 400,
    body: { error: 'invalid_grant', error_description: 'reauth related error (invalid_rapt)', error_uri: 'https://support.google.com/a/answer/9368756', error_subtype: 'invalid_rapt' },
  },
  admin_policy_enforced: {
    status: 400,
    body: { error: 'admin_policy_enforced', error_description: 'Access to your account data is restricted by policies within your organization. Please contact administrator for more information.' },
  },
  invalid_client: { status: 401, body: { error: 'invalid_client', error_description: 'The OAuth client was not found.' } },
  unauthorized_client: { status: 401, body: { error: 'unauthorized_client', error_description: 'Unauthorized' } },
  client_secret_missing: { status: 400, body: { error: 'invalid_request', error_description: 'client_secret is missing.' } },
  rate_limit_exceeded: { status: 429, body: { error: 'rate_limit_exceeded', error_description: 'Rate Limit Exceeded' } }, // unverified
  internal_failure: { status: 503, body: { error: 'internal_failure', error_description: 'Backend Error' } }, // unverified
};
const GOOGLE_ALIASES = { 429: 'rate_limit_exceeded', 503: 'internal_failure', backend_error: 'internal_failure', expired_or_revoked: 'invalid_grant' };

const statusOf = (error) => ({ invalid_client: 401, unauthorized_client: 401, rate_limit_exceeded: 429, internal_failure: 503, temporarily_unavailable: 503 }[error] || 400);

export function createGoogle({ base, config, redirectUris }) {
  const store = new Store();
  const issuer = `${base}/google`;
  const cfg = () => config.google;
  const rotates = () => cfg().rotateRefreshTokens || cfg().strictRefreshRotation;
  const index = accountIndex(GOOGLE_ACCOUNTS, (a) => ({
    email: a.login,
    email_verified: true,
    name: a.name,
    given_name: a.name.split(' ')[0],
    family_name: a.name.split(' ')[1],
    preferred_username: a.login,
  }));
  const accounts = index.bySub;
  const redirectList = [...redirectUris];

  const provider = createOidcProvider({
    issuer,
    store,
    cookiePrefix: 'g',
    routes: {
      authorization: '/o/oauth2/v2/auth',
      token: '/token',
      userinfo: '/v1/userinfo',
      jwks: '/oauth2/v3/certs',
      end_session: '/logout',
    },
    clients: [{
      client_id: GOOGLE_CLIENT,
      client_name: 'Sidebar (Google Web client)',
      application_type: 'web',
      // The secret is checked by tokenPreHook (so it can be made optional at run
      // time); to oidc-provider the client is public.
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: registrableRedirectUris(redirectList),
    }],
    accounts,
    scopes: ['openid', 'email', 'profile', 'offline_access', ...GOOGLE_SCOPES],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    },
    extraParams: ['access_type', 'include_granted_scopes', 'hd', 'enable_granular_consent'],
    accessTokenTtl: () => cfg().accessTokenTtl,
    refreshTokenTtl: () => 180 * 86400, // dies after 6 months unused
    rotateRefreshToken: () => rotates(),
    issueRefreshToken: (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    redirectAllowed: (v) => makeRedirectMatcher(redirectList)(v),
    after: afterHook,
  });

  // Google reports scopes by their URLs and never lists offline access.
  function outScope(scope) {
    const map = { email: `${G}/userinfo.email`, profile: `${G}/userinfo.profile` };
    return [...new Set((scope || '').split(' ').filter((s) => s && s !== 'offline_access').map((s) => map[s] || s))].join(' ');
  }

  async function afterHook(ctx) {
    const idp = ctx.req.idp;
    if (!idp) return;
    if (idp.endpoint === 'token') {
      if (ctx.status === 200 && ctx.body?.access_token) {
        const b = ctx.body;
        const out = { access_token: b.access_token, expires_in: b.expires_in };
        const rotated = idp.grantType === 'refresh_token' ? rotates() : true;
        if (b.refresh_token && rotated) out.refresh_token = b.refresh_token;
        out.scope = outScope(b.scope);
        out.token_type = 'Bearer';
        if (b.id_token) out.id_token = b.id_token;
        ctx.body = out;
      } else if (ctx.body?.error) {
        const { status, body } = mapTokenError(ctx, idp);
        ctx.status = status;
        ctx.body = body;
      }
    } else if (idp.endpoint === 'userinfo' && ctx.status === 401) {
      ctx.body = { error: 'invalid_request', error_description: 'Invalid Credentials' };
    }
  }

  // oidc-provider error -> Google body:
  //   refresh token revoked / replayed / expired         -> invalid_grant "Token has been expired or revoked."
  //   refresh token unknown                             -> invalid_grant "Bad Request"
  //   refresh token of another client                   -> unauthorized_client "Unauthorized"
  //   code replayed / unknown / expired                 -> invalid_grant "Bad Request"
  //   PKCE verifier wrong / missing                     -> invalid_grant "Invalid code verifier." / "Missing code verifier." (unverified)
  //   redirect_uri differs                              -> redirect_uri_mismatch "Bad Request"
  //   missing parameter                                 -> invalid_request "Missing required parameter: X"
  function mapTokenError(ctx, idp) {
    const err = ctx.state.idpError;
    const detail = String(err?.error_detail || err?.cause?.message || '');
    const e = ctx.body.error;
    const out = (error, description) => ({ status: statusOf(error), body: { error, error_description: description } });
    if (e === 'invalid_grant') {
      if (idp.grantType === 'refresh_token') {
        const tomb = store.tombstones.get(idp.params.refresh_token);
        if (/client mismatch/.test(detail)) return out('unauthorized_client', 'Unauthorized');
        if (tomb || /already used|is expired|grant not found/.test(detail)) return out('invalid_grant', 'Token has been expired or revoked.');
        return out('invalid_grant', 'Bad Request');
      }
      if (/code_verifier must be provided/.test(detail)) return out('invalid_grant', 'Missing code verifier.');
      if (/code_verifier/.test(detail)) return out('invalid_grant', 'Invalid code verifier.');
      if (/redirect_uri/.test(detail)) return out('redirect_uri_mismatch', 'Bad Request');
      return out('invalid_grant', 'Bad Request');
    }
    if (e === 'invalid_request') {
      const m = /missing required parameters? '?([a-z_]+)/.exec(ctx.body.error_description || '');
      if (m) return out('invalid_request', `Missing required parameter: ${m[1]}`);
      return out('invalid_request', 'Bad Request');
    }
    if (e === 'unsupported_grant_type') return out('unsupported_grant_type', `Invalid grant_type: ${idp.grantType ?? ''}`);
    if (e === 'invalid_scope') return out('invalid_scope', 'Some requested scopes were invalid.');
    if (e === 'invalid_client') return out('invalid_client', 'The OAuth client was not found.');
    return { status: 500, body: { error: 'internal_failure', error_description: 'Backend Error' } };
  }

  // --- routing ---------------------------------------------------------------
  function route(url, site) {
    if (site !== 'main') return null;
    const m = /^\/google(\/.*)?$/.exec(url.pathname);
    if (!m) return null;
    const inner = m[1] || '/';
    const endpoints = {
      '/o/oauth2/v2/auth': 'authorize',
      '/token': 'token',
      '/revoke': 'revoke',
      '/v1/userinfo': 'userinfo',
      '/.well-known/openid-configuration': 'discovery',
    };
    let endpoint = endpoints[inner] || 'other';
    if (inner.startsWith('/o/oauth2/v2/auth/')) endpoint = 'resume';
    if (inner.startsWith('/interaction/')) endpoint = 'interaction';
    return { endpoint, mount: '/google', inner };
  }

  function apiRoute(url, site) {
    return site === 'main' && url.pathname.startsWith('/google-api/') ? { endpoint: 'api' } : null;
  }

  async function handle(req, res, { url, route: r, body, params }) {
    const idp = requestContext(req, r, params);
    let inner = r.inner + url.search;
    let fwdBody = body;

    if (r.endpoint === 'revoke') return handleRevoke(req, res, idp);

    if (r.endpoint === 'interaction' && req.method === 'POST') {
      fwdBody = rewriteLoginSubmission(res, idp.params, index.loginToSub);
      if (!fwdBody) return undefined;
    }

    if (r.endpoint === 'authorize' && req.method === 'GET') {
      const q = new URLSearchParams(url.search);
      const scopes = (q.get('scope') || '').split(' ').filter(Boolean);
      // access_type=offline asks for a refresh token; oidc-provider grants
      // offline_access only together with prompt=consent, as Google documents.
      if (q.get('access_type') === 'offline' && !scopes.includes('offline_access')) scopes.push('offline_access');
      if (scopes.length) q.set('scope', scopes.join(' '));
      if (q.has('prompt')) q.set('prompt', q.get('prompt').split(' ').map((p) => (p === 'select_account' ? 'login' : p)).join(' '));
      inner = `${r.inner}?${q.toString()}`;
    }

    if (r.endpoint === 'token' && req.method === 'POST') {
      const pre = await tokenPreHook(req, idp);
      if (pre) {
        applyCors(req, res);
        return sendJson(res, pre.status, pre.body);
      }
      // Credentials (body or Basic header) have been checked; oidc-provider sees a public client.
      fwdBody = asPublicClientForm(req, idp);
    }
    return forward(provider, req, res, { mount: r.mount, innerUrl: inner, body: fwdBody, idp });
  }

  async function tokenPreHook(req, idp) {
    const basic = basicAuth(req);
    // An empty secret (`client_secret=` in the form, or "id:" in Basic) counts as
    // missing: Google answers it "client_secret is missing." (google-api-nodejs-client #1582).
    const secret = (idp.params.client_secret ?? basic?.clientSecret) || undefined;
    if (!idp.clientId) return { status: 400, body: { error: 'invalid_request', error_description: 'Could not determine client ID from request.' } };
    if (idp.clientId !== GOOGLE_CLIENT) return GOOGLE_ERRORS.invalid_client;
    if (secret !== undefined && secret !== cfg().clientSecret) return { status: 401, body: { error: 'invalid_client', error_description: 'Unauthorized' } };
    const needs = (idp.grantType === 'refresh_token' && cfg().requireSecretForRefresh)
      || (idp.grantType === 'authorization_code' && cfg().requireSecretForCode);
    if (needs && !secret) return GOOGLE_ERRORS.client_secret_missing;
    if (idp.grantType === 'refresh_token' && !cfg().strictRefreshRotation) {
      // Rotation without RFC 9700's reuse detection: a used (rotated-away) refresh
      // token is refused, the grant and its newest token live on. (oidc-provider
      // would revoke the grant, so the request stops here.)
      const rt = await provider.RefreshToken.find(idp.params.refresh_token, { ignoreExpiration: true });
      if (rt?.consumed) return GOOGLE_ERRORS.invalid_grant;
    }
    return null;
  }

  // POST /google/revoke  token=...  (form body or query string)
  async function handleRevoke(req, res, idp) {
    if (applyCors(req, res, { methods: 'POST,GET,OPTIONS' })) return;
    const token = idp.params.token;
    if (!token) return sendJson(res, 400, { error: 'invalid_request', error_description: 'Bad Request' });
    const rt = await provider.RefreshToken.find(token, { ignoreExpiration: true });
    const at = rt ? undefined : await provider.AccessToken.find(token, { ignoreExpiration: true });
    const found = rt || at;
    if (!found || found.isExpired || (rt && rt.consumed)) {
      return sendJson(res, 400, { error: 'invalid_token', error_description: 'Token expired or revoked' });
    }
    store.revokeGrant(found.grantId, 'user_revoked');
    return sendJson(res, 200, {});
  }

  // --- Gmail API ---------------------------------------------------------------
  function apiError(status, reason, message, statusText, extraHeaders = {}) {
    return {
      status,
      body: { error: { code: status, message, errors: [{ message: reason === 'authError' ? 'Invalid Credentials' : message, domain: 'global', reason, ...(reason === 'authError' ? { location: 'Authorization', locationType: 'header' } : {}) }], status: statusText } },
      headers: extraHeaders,
    };
  }
  const unauthenticated = () => apiError(401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', 'UNAUTHENTICATED', { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });

  async function handleApi(req, res, { url }) {
    if (applyCors(req, res, { methods: 'GET,OPTIONS' })) return;
    const send = (o) => sendJson(res, o.status, o.body, o.headers);
    const token = bearerToken(req);
    const at = token && await provider.AccessToken.find(token);
    if (!at) return send(unauthenticated());
    const scopes = String(at.scope || '').split(' ');
    if (!scopes.some((s) => GMAIL_SCOPES.has(s))) {
      return send(apiError(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED', {
        'WWW-Authenticate': `Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="${G}/gmail.readonly"`,
      }));
    }
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/google-api/gmail/v1/users/me/profile') {
      return sendJson(res, 200, { emailAddress: accounts.get(at.accountId)?.email ?? at.accountId, messagesTotal: 2, threadsTotal: 2, historyId: '4242' });
    }
    if (path === '/google-api/gmail/v1/users/me/messages') {
      return sendJson(res, 200, { messages: [{ id: '18c0a1b2c3d4e5f6', threadId: '18c0a1b2c3d4e5f6' }, { id: '18c0a1b2c3d4e5f7', threadId: '18c0a1b2c3d4e5f7' }], resultSizeEstimate: 2 });
    }
    return send(apiError(404, 'notFound', 'Requested entity was not found.', 'NOT_FOUND'));
  }

  // --- fault injection hooks ----------------------------------------------------
  function errorFor(endpoint, spec, { validateOnly, params } = {}) {
    const raw = String(spec.code ?? '').trim();
    if (endpoint === 'api') {
      const table = {
        authError: unauthenticated,
        insufficientPermissions: () => apiError(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED'),
        rateLimitExceeded: () => apiError(429, 'rateLimitExceeded', 'Too many concurrent requests for user.', 'RESOURCE_EXHAUSTED'),
        backendError: () => apiError(503, 'backendError', 'The service is currently unavailable.', 'UNAVAILABLE'),
      };
      if (!table[raw]) throw new Error(`unknown Gmail API error ${raw}; one of ${Object.keys(table).join(', ')}`);
      return validateOnly ? null : table[raw]();
    }
    if (endpoint === 'authorize') {
      const { error, description } = splitCode(raw || 'access_denied');
      return validateOnly ? null : authorizeErrorRedirect(params, error, description);
    }
    const key = GOOGLE_ALIASES[raw] || raw;
    if (GOOGLE_ERRORS[key]) return validateOnly ? null : structuredClone(GOOGLE_ERRORS[key]);
    const { error, description } = splitCode(raw);
    if (!error || description === undefined) {
      throw new Error(`unknown Google error ${raw}; one of ${Object.keys(GOOGLE_ERRORS).join(', ')} or "error:description"`);
    }
    if (validateOnly) return null;
    return { status: spec.status || statusOf(error), body: { error, error_description: description } };
  }

  function statusFor(status, endpoint) {
    if (endpoint === 'api') {
      return { contentType: 'application/json; charset=UTF-8', body: JSON.stringify(apiError(status, status === 429 ? 'rateLimitExceeded' : 'backendError', status === 429 ? 'Too many concurrent requests for user.' : 'The service is currently unavailable.', status === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE').body) };
    }
    return {
      contentType: 'text/html; charset=UTF-8',
      body: `<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error ${status} (Server Error)!!1</title><p><b>${status}.</b> <ins>That’s an error.</ins><p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>`,
    };
  }

  return {
    name: 'google',
    provider,
    store,
    route,
    apiRoute,
    handle,
    handleApi,
    errorFor,
    statusFor,
    malformedFor: (endpoint) => (endpoint === 'api' ? '{"emailAddress":"alice@gmail.test","messagesTo' : '{\n  "access_token": "ya29.a0AfB_byC'),
    corsAllowedFor: (endpoint, origin) => endpoint !== 'authorize' && originAllowed(origin),
    errorCodes: () => [...Object.keys(GOOGLE_ERRORS), 'invalid_grant:<description>', '<error>:<description>'],
    revokeAccount: (account) => store.revokeAccount(index.resolve(account), 'password_change'),
    endSessions: (account) => store.endSessions(index.resolve(account)),
    addRedirectUris: (uris) => { for (const u of uris) if (!redirectList.includes(u)) redirectList.push(u); },
    describe: () => ({
      issuer,
      authorize: `${base}/google/o/oauth2/v2/auth`,
      token: `${base}/google/token`,
      revoke: `${base}/google/revoke`,
      userinfo: `${base}/google/v1/userinfo`,
      discovery: `${base}/google/.well-known/openid-configuration`,
      jwks: `${base}/google/oauth2/v3/certs`,
      api: `${base}/google-api/gmail/v1`,
      clientId: GOOGLE_CLIENT,
      clientSecret: cfg().clientSecret,
      accounts: GOOGLE_ACCOUNTS.map((a) => a.login),
    }),
    close: () => store.close(),
  };
}


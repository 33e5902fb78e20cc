// Emulated Salesforce login host (external client app, public client + PKCE)
// and a sliver of the REST API on an "instance".
//
// Layout (real host in brackets):
//   /salesforce/services/oauth2/authorize   [login.salesforce.com/services/oauth2/authorize]
//   /salesforce/services/oauth2/token
//   /salesforce/services/oauth2/revoke
//   /salesforce/services/oauth2/userinfo
//   /salesforce/id/<orgId>/<userId>         identity URL (the "id" of a token response)
//   <instance>/services/data/                the versions list   [https://yourorg.my.salesforce.com/services/data/]
//   <instance>/services/data/vXX.X/, /sobjects/, /query?q=...
// <instance> is its own origin (its own port): a real instance_url is an origin
// such as https://yourorg.my.salesforce.com, and clients append the API path.
//
// Behaviour and the doc each follows:
// - Token responses have NO expires_in; they carry access_token, refresh_token
//   (code grant; refresh grant only when rotation is on), signature (base64
//   HMAC-SHA256 of id + issued_at), scope, id_token (openid), instance_url, id,
//   token_type "Bearer", issued_at (ms since epoch, as a string).
//   [help.salesforce.com "OAuth 2.0 Web Server Flow for Web App Integration"]
// - The access token is a session: valid for the session timeout, extended by
//   each use; an invalid session answers the REST API with
//   401 [{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}].
//   [Salesforce REST API Developer Guide, "Status Codes and Error Responses"]
// - Scope `refresh_token` (or `offline_access`) gives a refresh token; no
//   prompt=consent needed.
// - Refresh errors: {"error":"invalid_grant","error_description":"expired access/refresh token"}
//   [help.salesforce.com "OAuth 2.0 Authorization Errors"]. Other rows of the
//   providers.md table (authentication failure, ip restricted or invalid login
//   hours, inactive_user, inactive_org, rate_limit_exceeded) are available as faults.
// - Revoke: POST token=... -> 200 (revoking a refresh token revokes its grant;
//   revoking an access token ends that session); unknown token ->
//   400 {"error":"unsupported_token_type","error_description":"this token type is not supported"}.
//   [help.salesforce.com "Revoke OAuth Tokens"]
// - /userinfo answers the documented fields ("Query for User Information"); an
//   ended session answers 403 "Bad_OAuth_Token" (observed for the identity service;
//   the help page names no error body). Each use extends the session.
// - A code_verifier longer than 128 characters is accepted (jsforce sends 171;
//   see acceptLongVerifier).
// - Refresh-token rotation is the app's "Enable Refresh Token Rotation" setting,
//   off unless the admin turns it on; with it, "the connected app issues a new
//   refresh token along with the access token each time the flow is invoked. The
//   previous refresh token is automatically invalidated." [help.salesforce.com
//   remoteaccess_oauth_refresh_token_flow.htm]. A used token then answers
//   "expired access/refresh token" and the grant lives on. RFC 9700 §4.14.2
//   (reuse revokes the grant) is salesforce.strictRefreshRotation.
// - REST versions: GET /services/data/ (no authentication) lists each available
//   version as {label, url, version} [REST API Developer Guide, "Versions" and
//   "List Available REST API Versions"]; versions 31.0 to 67.0 are served (21.0-30.0
//   were retired), so a client's default version (jsforce: 50.0) works; `latest`
//   is an alias of the newest. Others answer 404 NOT_FOUND.
// - Access tokens carry the org id: "00D...!<opaque>" (the session id format).
// - SOQL: SELECT <fields> FROM <object> [WHERE Name = '...'] [ORDER BY ...]
//   [LIMIT n] over fixed records of Account, Contact, Opportunity, Case; an
//   unknown object answers 400 INVALID_TYPE, an unknown field 400 INVALID_FIELD,
//   anything else unparsable 400 MALFORMED_QUERY.

import crypto from 'node:crypto';

import {
  createOidcProvider, forward, sendJson, sendText, applyCors, bearerToken,
  makeRedirectMatcher, registrableRedirectUris, Store, authorizeErrorRedirect, splitCode, originAllowed,
  accountIndex, rewriteLoginSubmission, requestContext, asPublicClientForm,
} from './common.mjs';

export const SF_CLIENT = 'sidebar-sf-eca';
export const SF_ORG_ID = '00D5g00000LOCALEAA';
export const SF_ACCOUNTS = [
  { login: 'alice@acme.test', name: 'Alice Acme', userId: '0055g00000ALICEAAA' },
  { login: 'bob@acme.test', name: 'Bob Acme', userId: '0055g00000BOB00AAA' },
];
const API_VERSION = 'v60.0'; // the version the ready line's `api` names
const FIRST_VERSION = 31;
const LATEST_VERSION = 67;
// Release labels: v31.0 was Summer '14; three releases a year (Summer, Winter, Spring).
export function releaseLabel(v) {
  const i = v - 31;
  return `${['Summer', 'Winter', 'Spring'][i % 3]} '${14 + Math.floor((i + 2) / 3)}`;
}
export const SF_API_VERSIONS = Array.from({ length: LATEST_VERSION - FIRST_VERSION + 1 }, (_, i) => `${FIRST_VERSION + i}.0`);

// Fixed records the SOQL stub answers from.
const SF_RECORDS = {
  Account: [
    { Id: '0015g00000ACME1AAA', Name: 'Acme Corporation', Industry: 'Manufacturing' },
    { Id: '0015g00000GLOBXAAA', Name: 'Globex', Industry: 'Energy' },
  ],
  Contact: [
    { Id: '0035g00000WILEYAAA', FirstName: 'Wile', LastName: 'Coyote', Name: 'Wile Coyote', Email: 'wile@acme.test', AccountId: '0015g00000ACME1AAA' },
    { Id: '0035g00000HANKSAAA', FirstName: 'Hank', LastName: 'Scorpio', Name: 'Hank Scorpio', Email: 'hank@globex.test', AccountId: '0015g00000GLOBXAAA' },
    { Id: '0035g00000ROADRAAA', FirstName: 'Road', LastName: 'Runner', Name: 'Road Runner', Email: 'road@acme.test', AccountId: '0015g00000ACME1AAA' },
  ],
  Opportunity: [
    { Id: '0065g00000ANVILAAA', Name: 'Anvils 2027', StageName: 'Prospecting', Amount: 12000, AccountId: '0015g00000ACME1AAA' },
  ],
  Case: [
    { Id: '5005g00000ROCKTAAA', Subject: 'Rocket skates misfire', Status: 'New', AccountId: '0015g00000ACME1AAA' },
  ],
};

// Token-endpoint error bodies (every row of providers.md's Salesforce table).
// Salesforce answers these with HTTP 400, rate_limit_exceeded included.
// Descriptions other than "expired access/refresh token", "authentication
// failure" and "ip restricted or invalid login hours" are unverified.
const SF_ERRORS = {
  'expired access/refresh token': { error: 'invalid_grant', error_description: 'expired access/refresh token' },
  'authentication failure': { error: 'invalid_grant', error_description: 'authentication failure' },
  'ip restricted or invalid login hours': { error: 'invalid_grant', error_description: 'ip restricted or invalid login hours' },
  inactive_user: { error: 'inactive_user', error_description: 'user is inactive' },
  inactive_org: { error: 'inactive_org', error_description: 'organization is locked, closed, or suspended' },
  rate_limit_exceeded: { error: 'rate_limit_exceeded', error_description: 'rate limit exceeded' },
  invalid_client_id: { error: 'invalid_client_id', error_description: 'client identifier invalid' },
  invalid_client: { error: 'invalid_client', error_description: 'invalid client credentials' },
  redirect_uri_mismatch: { error: 'redirect_uri_mismatch', error_description: 'redirect_uri must match configuration' },
  unsupported_grant_type: { error: 'unsupported_grant_type', error_description: 'grant type not supported' },
};
const SF_ALIASES = {
  invalid_grant: 'expired access/refresh token',
  expired_token: 'expired access/refresh token',
  authentication_failure: 'authentication failure',
  ip_restricted: 'ip restricted or invalid login hours',
};

export function createSalesforce({ base, instanceUrl, config, redirectUris }) {
  const store = new Store();
  const issuer = `${base}/salesforce`;
  const cfg = () => config.salesforce;
  const rotates = () => cfg().rotateRefreshTokens || cfg().strictRefreshRotation;
  const idUrl = (userId) => `${base}/salesforce/id/${SF_ORG_ID}/${userId}`;
  // The subject of a Salesforce user is its identity URL.
  const index = accountIndex(SF_ACCOUNTS.map((a) => ({ ...a, sub: idUrl(a.userId) })), (a) => ({
    user_id: a.userId,
    organization_id: SF_ORG_ID,
    preferred_username: a.login,
    nickname: a.login.split('@')[0],
    name: a.name,
    email: a.login,
    email_verified: true,
  }));
  const accounts = index.bySub;
  const redirectList = [...redirectUris];

  // Sessions: access token value -> {accountId, lastUsed(ms), grantId}
  const sessions = new Map();

  const provider = createOidcProvider({
    issuer,
    store,
    cookiePrefix: 'sf',
    routes: {
      authorization: '/services/oauth2/authorize',
      token: '/services/oauth2/token',
      userinfo: '/services/oauth2/userinfo',
      jwks: '/id/keys',
      end_session: '/services/auth/idp/oidc/logout',
    },
    clients: [{
      client_id: SF_CLIENT,
      client_name: 'Sidebar (external client app)',
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: registrableRedirectUris(redirectList),
    }],
    accounts,
    scopes: ['openid', 'api', 'refresh_token', 'offline_access', 'id', 'profile', 'email', 'web', 'full'],
    // Salesforce's userinfo returns the whole profile for the openid scope.
    claims: {
      openid: ['sub', 'preferred_username', 'name', 'nickname', 'email', 'email_verified', 'user_id', 'organization_id'],
      profile: ['name', 'preferred_username', 'nickname', 'user_id', 'organization_id'],
      email: ['email', 'email_verified'],
      id: ['preferred_username', 'user_id', 'organization_id', 'name', 'email'],
    },
    // oidc-provider's hard cap; the real validity is the sliding session below.
    accessTokenTtl: () => 12 * 3600,
    refreshTokenTtl: () => 365 * 86400, // "valid until revoked"
    rotateRefreshToken: () => rotates(),
    issueRefreshToken: (_ctx, client, code) => client.grantTypeAllowed('refresh_token')
      && (code.scopes.has('refresh_token') || code.scopes.has('offline_access')),
    redirectAllowed: (v) => makeRedirectMatcher(redirectList)(v),
    after: afterHook,
  });

  // Salesforce access tokens are session ids, "<org id>!<opaque>".
  const opaqueId = provider.AccessToken.prototype.generateTokenId;
  provider.AccessToken.prototype.generateTokenId = function generateTokenId() {
    return `${SF_ORG_ID}!${opaqueId.call(this)}`;
  };

  const sign = (id, issuedAt) => crypto.createHmac('sha256', cfg().signatureKey).update(id + issuedAt).digest('base64');

  async function afterHook(ctx) {
    const idp = ctx.req.idp;
    if (!idp) return;
    if (idp.endpoint === 'token') {
      if (!cfg().corsOnOAuthEndpoints) {
        ctx.remove('Access-Control-Allow-Origin');
        ctx.remove('Access-Control-Expose-Headers');
      }
      if (ctx.status === 200 && ctx.body?.access_token) {
        const b = ctx.body;
        const at = ctx.oidc?.entities?.AccessToken;
        const id = at?.accountId ?? idUrl('005000000000000AAA');
        const issuedAt = String(Date.now());
        sessions.set(b.access_token, { accountId: at?.accountId, lastUsed: Date.now(), grantId: at?.grantId });
        const out = { access_token: b.access_token };
        const rotated = idp.grantType === 'refresh_token' ? rotates() : true;
        if (b.refresh_token && rotated) out.refresh_token = b.refresh_token;
        out.signature = sign(id, issuedAt);
        out.scope = b.scope;
        if (b.id_token) out.id_token = b.id_token;
        out.instance_url = instanceUrl;
        out.id = id;
        out.token_type = 'Bearer';
        out.issued_at = issuedAt;
        ctx.body = out;
      } else if (ctx.body?.error) {
        const { status, body } = mapTokenError(ctx, idp);
        ctx.status = status;
        ctx.body = body;
      }
    } else if (idp.endpoint === 'discovery' && ctx.body) {
      // login.salesforce.com/.well-known/openid-configuration does not list RFC 9207's
      // `authorization_response_iss_parameter_supported` (a verbatim copy of 2026-08-13:
      // github.com/api-evangelist/salesforce, well-known/salesforce-openid-configuration.json);
      // oidc-provider would.
      delete ctx.body.authorization_response_iss_parameter_supported;
    }
  }

  //   any refresh failure (revoked, replayed, expired, unknown)   -> invalid_grant "expired access/refresh token"
  //   code replayed / unknown / expired                          -> invalid_grant "invalid authorization code" (unverified)
  //   PKCE verifier missing or wrong                             -> invalid_grant "invalid code verifier" (unverified)
  //   redirect_uri differs                                       -> redirect_uri_mismatch
  function mapTokenError(ctx, idp) {
    const err = ctx.state.idpError;
    const detail = String(err?.error_detail || err?.cause?.message || '');
    const e = ctx.body.error;
    const out = (body) => ({ status: 400, body });
    if (e === 'invalid_grant') {
      if (idp.grantType === 'refresh_token') return out(SF_ERRORS['expired access/refresh token']);
      if (/code_verifier/.test(detail)) return out({ error: 'invalid_grant', error_description: 'invalid code verifier' });
      if (/redirect_uri/.test(detail)) return out(SF_ERRORS.redirect_uri_mismatch);
      return out({ error: 'invalid_grant', error_description: 'invalid authorization code' });
    }
    if (e === 'unsupported_grant_type') return out(SF_ERRORS.unsupported_grant_type);
    if (e === 'invalid_client') return out(SF_ERRORS.invalid_client_id);
    if (e === 'invalid_request') {
      const m = /missing required parameters? '?([a-z_]+)/.exec(ctx.body.error_description || '');
      return out({ error: 'invalid_request', error_description: m ? `missing required parameter ${m[1]}` : 'invalid request' });
    }
    if (e === 'invalid_scope') return out({ error: 'invalid_scope', error_description: 'the requested scope is not allowed' });
    return { status: 500, body: { error: 'server_error', error_description: 'internal server error' } };
  }

  // --- sessions ---------------------------------------------------------------
  // Returns the session of a valid access token (extending it), or undefined.
  async function useSession(token) {
    if (!token) return undefined;
    const s = sessions.get(token);
    if (!s) return undefined;
    const at = await provider.AccessToken.find(token);
    if (!at || Date.now() - s.lastUsed > cfg().sessionTimeout * 1000) {
      sessions.delete(token);
      return undefined;
    }
    s.lastUsed = Date.now();
    return { ...s, at };
  }

  function expireSessions(account) {
    const want = index.resolve(account);
    let n = 0;
    for (const [k, s] of sessions) {
      if (!want || s.accountId === want) { sessions.delete(k); n += 1; }
    }
    return n;
  }

  // --- routing ----------------------------------------------------------------
  function route(url, site) {
    if (site !== 'main') return null;
    const m = /^\/salesforce(\/.*)?$/.exec(url.pathname);
    if (!m) return null;
    const inner = m[1] || '/';
    const endpoints = {
      '/services/oauth2/authorize': 'authorize',
      '/services/oauth2/token': 'token',
      '/services/oauth2/revoke': 'revoke',
      '/services/oauth2/userinfo': 'userinfo',
      '/.well-known/openid-configuration': 'discovery',
    };
    let endpoint = endpoints[inner] || 'other';
    if (inner.startsWith('/services/oauth2/authorize/')) endpoint = 'resume';
    if (inner.startsWith('/interaction/')) endpoint = 'interaction';
    if (inner.startsWith('/id/') && inner !== '/id/keys') endpoint = 'identity';
    return { endpoint, mount: '/salesforce', inner };
  }

  // Everything on the instance origin is the REST API.
  function apiRoute(url, site) {
    return site === 'instance' ? { endpoint: 'api' } : null;
  }

  async function handle(req, res, { url, route: r, body, params }) {
    const idp = requestContext(req, r, params);
    let inner = r.inner + url.search;
    let fwdBody = body;

    if (r.endpoint === 'revoke') return handleRevoke(req, res, idp);
    if (r.endpoint === 'identity') return handleIdentity(req, res, r);

    if (r.endpoint === 'interaction' && req.method === 'POST') {
      fwdBody = rewriteLoginSubmission(res, idp.params, index.loginToSub);
      if (!fwdBody) return undefined;
    }

    if (r.endpoint === 'authorize' && req.method === 'GET') {
      const q = new URLSearchParams(url.search);
      // offline_access is Salesforce's synonym of refresh_token.
      if (q.has('scope')) q.set('scope', q.get('scope').split(' ').map((s) => (s === 'offline_access' ? 'refresh_token' : s)).join(' '));
      inner = `${r.inner}?${q.toString()}`;
    }

    if (r.endpoint === 'userinfo') return handleUserinfo(req, res);

    if (r.endpoint === 'token' && req.method === 'POST') {
      const corsOk = cfg().corsOnOAuthEndpoints;
      const reply = (status, b) => { if (corsOk) applyCors(req, res); return sendJson(res, status, b); };
      if (!idp.clientId) return reply(400, { error: 'invalid_client_id', error_description: 'client identifier invalid' });
      if (idp.clientId !== SF_CLIENT) return reply(400, SF_ERRORS.invalid_client_id);
      if (!['authorization_code', 'refresh_token'].includes(idp.grantType)) return reply(400, SF_ERRORS.unsupported_grant_type);
      if (idp.grantType === 'refresh_token' && !cfg().strictRefreshRotation) {
        // With rotation on, the previous refresh token "is automatically
        // invalidated" (and nothing else): refuse it here, before oidc-provider's
        // replay detection would revoke the grant.
        const rt = await provider.RefreshToken.find(idp.params.refresh_token, { ignoreExpiration: true });
        if (rt?.consumed) return reply(400, SF_ERRORS['expired access/refresh token']);
      }
      if (idp.grantType === 'authorization_code' && (idp.params.code_verifier || '').length > 128) {
        const refused = await acceptLongVerifier(idp);
        if (refused) return reply(400, refused);
      }
      // A secret is optional for this public app; it is ignored.
      fwdBody = asPublicClientForm(req, idp);
    }
    return forward(provider, req, res, { mount: r.mount, innerUrl: inner, body: fwdBody, idp });
  }

  // Salesforce takes a code_verifier longer than RFC 7636's 128 characters:
  // jsforce (the Node client the Salesforce CLI builds on) sends base64url of 128
  // random bytes, 171 characters ("code verifier must be a base 64 url encoded
  // hash of 128 bytes of random data", jsforce lib/oauth2.js). oidc-provider
  // refuses it, so the emulator checks such a verifier against the code's
  // challenge itself and hands oidc-provider a short one bound to the code.
  async function acceptLongVerifier(idp) {
    const code = await provider.AuthorizationCode.find(idp.params.code || '', { ignoreExpiration: true });
    if (!code) return undefined; // let oidc-provider answer the unknown code
    const challenge = crypto.createHash('sha256').update(idp.params.code_verifier).digest('base64url');
    if (!/^[\w.~-]+$/.test(idp.params.code_verifier) || code.codeChallenge !== challenge) {
      return { error: 'invalid_grant', error_description: 'invalid code verifier' };
    }
    const short = crypto.randomBytes(32).toString('base64url');
    code.codeChallenge = crypto.createHash('sha256').update(short).digest('base64url');
    await code.save();
    idp.params.code_verifier = short;
    return undefined;
  }

  async function handleRevoke(req, res, idp) {
    if (cfg().corsOnOAuthEndpoints && applyCors(req, res, { methods: 'POST,GET,OPTIONS' })) return;
    const token = idp.params.token;
    const unsupported = () => sendJson(res, 400, { error: 'unsupported_token_type', error_description: 'this token type is not supported' });
    if (!token) return unsupported();
    const rt = await provider.RefreshToken.find(token, { ignoreExpiration: true });
    if (rt && !rt.consumed) {
      store.revokeGrant(rt.grantId, 'user_revoked');
      for (const [k, s] of sessions) if (s.grantId === rt.grantId) sessions.delete(k);
      return sendText(res, 200, '');
    }
    if (sessions.has(token)) {
      sessions.delete(token);
      const at = await provider.AccessToken.find(token, { ignoreExpiration: true });
      if (at) await at.destroy();
      return sendText(res, 200, '');
    }
    return unsupported();
  }

  // GET <id URL> with the access token: the identity service.
  async function handleIdentity(req, res, r) {
    if (applyCors(req, res)) return;
    const s = await useSession(bearerToken(req));
    if (!s) return sendText(res, 403, 'Bad_OAuth_Token');
    const acct = index.row(s.accountId);
    const id = `${base}/salesforce${r.inner}`;
    if (id !== s.accountId) return sendText(res, 403, 'Bad_OAuth_Token');
    return sendJson(res, 200, {
      id,
      asserted_user: true,
      user_id: acct?.userId,
      organization_id: SF_ORG_ID,
      username: acct?.login,
      nick_name: acct?.login.split('@')[0],
      display_name: acct?.name,
      email: acct?.login,
      email_verified: true,
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: 0,
      urls: {
        rest: `${instanceUrl}/services/data/{version}/`,
        sobjects: `${instanceUrl}/services/data/{version}/sobjects/`,
        query: `${instanceUrl}/services/data/{version}/query/`,
        profile: `${instanceUrl}/${acct?.userId}`,
      },
      is_app_installed: true,
    });
  }

  // GET /services/oauth2/userinfo with the access token (header, or the oauth_token
  // parameter): "Query for User Information" (help.salesforce.com
  // remoteaccess_using_userinfo_endpoint.htm): the OpenID Connect Basic Client Profile
  // values plus the Salesforce user id, org id and the feed, profile and API URLs; the
  // fields are those of its documented response (the SuccessfulUserInfo schema).
  // A use of the session like any other: it extends it. A session that ended answers
  // 403 "Bad_OAuth_Token", as the identity service does (observed:
  // drupal.org/project/salesforce issue #3191597; the help page names no error body).
  async function handleUserinfo(req, res) {
    if (applyCors(req, res)) return;
    const token = bearerToken(req) ?? new URL(req.url, base).searchParams.get('oauth_token');
    const s = await useSession(token);
    if (!s) return sendText(res, 403, 'Bad_OAuth_Token');
    const acct = index.row(s.accountId);
    const [given, ...family] = (acct?.name ?? '').split(' ');
    const v = '{version}';
    return sendJson(res, 200, {
      sub: s.accountId,
      user_id: acct?.userId,
      organization_id: SF_ORG_ID,
      preferred_username: acct?.login,
      nickname: acct?.login.split('@')[0],
      name: acct?.name,
      email: acct?.login,
      email_verified: true,
      given_name: given,
      family_name: family.join(' '),
      zoneinfo: 'America/Los_Angeles',
      photos: { picture: `${instanceUrl}/profilephoto/005/F`, thumbnail: `${instanceUrl}/profilephoto/005/T` },
      profile: `${instanceUrl}/${acct?.userId}`,
      picture: `${instanceUrl}/profilephoto/005/F`,
      address: { country: 'US' },
      is_salesforce_integration_user: false,
      urls: {
        enterprise: `${instanceUrl}/services/Soap/c/${v}/${SF_ORG_ID}`,
        metadata: `${instanceUrl}/services/Soap/m/${v}/${SF_ORG_ID}`,
        partner: `${instanceUrl}/services/Soap/u/${v}/${SF_ORG_ID}`,
        rest: `${instanceUrl}/services/data/v${v}/`,
        sobjects: `${instanceUrl}/services/data/v${v}/sobjects/`,
        search: `${instanceUrl}/services/data/v${v}/search/`,
        query: `${instanceUrl}/services/data/v${v}/query/`,
        recent: `${instanceUrl}/services/data/v${v}/recent/`,
        profile: `${instanceUrl}/${acct?.userId}`,
        feeds: `${instanceUrl}/services/data/v${v}/chatter/feeds`,
        groups: `${instanceUrl}/services/data/v${v}/chatter/groups`,
        users: `${instanceUrl}/services/data/v${v}/chatter/users`,
        custom_domain: instanceUrl,
      },
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: -28800000,
      updated_at: '2026-01-01T00:00:00Z',
      is_app_installed: true,
    });
  }

  // --- REST API on the instance ---------------------------------------------------
  const invalidSession = [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }];

  async function handleApi(req, res, { url }) {
    if (applyCors(req, res, { methods: 'GET,OPTIONS' })) return;
    const path = url.pathname.replace(/\/+$/, '');
    const notFound = () => sendJson(res, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    if (path === '/services/data') {
      // No authentication needed for the versions list.
      return sendJson(res, 200, SF_API_VERSIONS.map((v) => ({ label: releaseLabel(Number.parseFloat(v)), url: `/services/data/v${v}`, version: v })));
    }
    const m = /^\/services\/data\/(v\d+\.\d|latest)(\/.*)?$/.exec(path);
    if (!m) return notFound();
    const version = m[1] === 'latest' ? SF_API_VERSIONS.at(-1) : m[1].slice(1);
    if (!SF_API_VERSIONS.includes(version)) return notFound();
    const s = await useSession(bearerToken(req));
    if (!s) return sendJson(res, 401, invalidSession);
    const v = `/services/data/v${version}`;
    const rest = m[2] || '';
    if (rest === '') {
      return sendJson(res, 200, Object.fromEntries(['sobjects', 'query', 'limits', 'search'].map((k) => [k, `${v}/${k}`])));
    }
    if (rest === '/sobjects') {
      return sendJson(res, 200, {
        encoding: 'UTF-8',
        maxBatchSize: 200,
        sobjects: Object.keys(SF_RECORDS).map((name) => ({
          name, label: name, labelPlural: `${name}s`, queryable: true, retrieveable: true,
          urls: { sobject: `${v}/sobjects/${name}` },
        })),
      });
    }
    if (rest === '/query') {
      const q = url.searchParams.get('q');
      if (!q) return sendJson(res, 400, [{ message: 'A query string has to be specified', errorCode: 'MALFORMED_QUERY' }]);
      const out = soql(q, v);
      return sendJson(res, out.status, out.body);
    }
    return notFound();
  }

  // A small SOQL subset over SF_RECORDS: SELECT f1, f2 FROM Obj [WHERE Field = 'x']
  // [ORDER BY Field [ASC|DESC]] [LIMIT n].
  function soql(q, v) {
    const m = /^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(\w+)\s*=\s*'([^']*)')?(?:\s+ORDER\s+BY\s+(\w+)(?:\s+(ASC|DESC))?)?(?:\s+LIMIT\s+(\d+))?\s*$/i.exec(q);
    if (!m) return { status: 400, body: [{ message: `unexpected token: '${q.trim().split(/\s+/).pop()}'`, errorCode: 'MALFORMED_QUERY' }] };
    const [, fieldList, object, whereField, whereValue, orderField, orderDir, limit] = m;
    const type = Object.keys(SF_RECORDS).find((k) => k.toLowerCase() === object.toLowerCase());
    if (!type) {
      return { status: 400, body: [{ message: `sObject type '${object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.`, errorCode: 'INVALID_TYPE' }] };
    }
    const rows = SF_RECORDS[type];
    const known = (f) => Object.keys(rows[0]).find((k) => k.toLowerCase() === f.toLowerCase());
    const fields = fieldList.split(',').map((f) => f.trim());
    for (const f of [...fields, whereField, orderField].filter(Boolean)) {
      if (!known(f)) return { status: 400, body: [{ message: `No such column '${f}' on entity '${type}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`, errorCode: 'INVALID_FIELD' }] };
    }
    let out = rows.filter((r) => !whereField || String(r[known(whereField)]) === whereValue);
    if (orderField) {
      const k = known(orderField);
      out = [...out].sort((a, b) => String(a[k]).localeCompare(String(b[k])) * (/desc/i.test(orderDir || '') ? -1 : 1));
    }
    if (limit !== undefined) out = out.slice(0, Number(limit));
    const records = out.map((r) => ({
      attributes: { type, url: `${v}/sobjects/${type}/${r.Id}` },
      ...Object.fromEntries(fields.map((f) => [known(f), r[known(f)]])),
    }));
    return { status: 200, body: { totalSize: records.length, done: true, records } };
  }

  // --- fault injection hooks ------------------------------------------------------
  function errorFor(endpoint, spec, { validateOnly, params } = {}) {
    const raw = String(spec.code ?? '').trim();
    if (endpoint === 'api') {
      const table = {
        INVALID_SESSION_ID: () => ({ status: 401, body: invalidSession }),
        REQUEST_LIMIT_EXCEEDED: () => ({ status: 403, body: [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }] }),
        SERVER_UNAVAILABLE: () => ({ status: 503, body: [{ message: 'Server temporarily unavailable', errorCode: 'SERVER_UNAVAILABLE' }] }),
        API_DISABLED_FOR_ORG: () => ({ status: 403, body: [{ message: 'API is not enabled for this Organization or Partner', errorCode: 'API_DISABLED_FOR_ORG' }] }),
      };
      if (!table[raw]) throw new Error(`unknown Salesforce API error ${raw}; one of ${Object.keys(table).join(', ')}`);
      return validateOnly ? null : table[raw]();
    }
    if (endpoint === 'authorize') {
      const { error, description } = splitCode(raw || 'access_denied');
      return validateOnly ? null : authorizeErrorRedirect(params, error, description || 'end-user denied authorization');
    }
    const { error, description } = splitCode(raw);
    const key = SF_ALIASES[raw] || (description !== undefined && error === 'invalid_grant' ? description : raw);
    if (SF_ERRORS[key]) return validateOnly ? null : { status: spec.status || 400, body: { ...SF_ERRORS[key] } };
    if (!error || description === undefined) {
      throw new Error(`unknown Salesforce error ${raw}; one of ${Object.keys(SF_ERRORS).join(', ')} or "error:description"`);
    }
    return validateOnly ? null : { status: spec.status || 400, body: { error, error_description: description } };
  }

  function statusFor(status, endpoint) {
    if (endpoint === 'api') {
      return { contentType: 'application/json;charset=UTF-8', body: JSON.stringify([{ message: 'Server temporarily unavailable', errorCode: 'SERVER_UNAVAILABLE' }]) };
    }
    return {
      contentType: 'text/html;charset=UTF-8',
      body: `<html><head><title>Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>Salesforce is temporarily unavailable (HTTP ${status}). We're working to restore service as quickly as possible.</p></body></html>`,
    };
  }

  return {
    name: 'salesforce',
    provider,
    store,
    route,
    apiRoute,
    handle,
    handleApi,
    errorFor,
    statusFor,
    malformedFor: (endpoint) => (endpoint === 'api' ? '{"encoding":"UTF-8","maxBatchSize":200,"sobjects":[{"name":"Acc' : '{"access_token":"00D5g00000LOCALEAA!AQ4AQ'),
    corsAllowedFor: (endpoint, origin) => endpoint !== 'authorize' && originAllowed(origin)
      && (!['token', 'revoke'].includes(endpoint) || cfg().corsOnOAuthEndpoints),
    errorCodes: () => [...Object.keys(SF_ERRORS), ...Object.keys(SF_ALIASES), '<error>:<description>'],
    revokeAccount: (account) => {
      const n = store.revokeAccount(index.resolve(account), 'password_change');
      expireSessions(account);
      return n;
    },
    endSessions: (account) => store.endSessions(index.resolve(account)),
    expireSessions,
    addRedirectUris: (uris) => { for (const u of uris) if (!redirectList.includes(u)) redirectList.push(u); },
    describe: () => ({
      issuer,
      loginHost: `${base}/salesforce`,
      authorize: `${base}/salesforce/services/oauth2/authorize`,
      token: `${base}/salesforce/services/oauth2/token`,
      revoke: `${base}/salesforce/services/oauth2/revoke`,
      userinfo: `${base}/salesforce/services/oauth2/userinfo`,
      discovery: `${base}/salesforce/.well-known/openid-configuration`,
      jwks: `${base}/salesforce/id/keys`,
      // An origin, like a real instance_url (https://yourorg.my.salesforce.com).
      instanceUrl,
      api: `${instanceUrl}/services/data/${API_VERSION}`,
      apiVersions: `${instanceUrl}/services/data/`,
      clientId: SF_CLIENT,
      orgId: SF_ORG_ID,
      accounts: SF_ACCOUNTS.map((a) => a.login),
    }),
    close: () => store.close(),
  };
}

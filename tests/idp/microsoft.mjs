// Emulated Microsoft Entra ID (v2 endpoints) and a sliver of Microsoft Graph.
//
// Layout: the Entra login host is its own origin (<login>, like
// https://login.microsoftonline.com), the tenant its first path segment, as MSAL
// expects (it reads the tenant of an authority from that segment):
//   <login>/{tenant}/oauth2/v2.0/authorize
//   <login>/{tenant}/oauth2/v2.0/token
//   <login>/{tenant}/oauth2/v2.0/logout
//   <login>/{tenant}/v2.0/.well-known/openid-configuration
//   <login>/{tenant}/discovery/v2.0/keys
//   <login>/{tenant}/oidc/userinfo          (real: graph.microsoft.com/oidc/userinfo)
//   <login>/error?code=n                    (real: login.microsoftonline.com/error)
//   <base>/graph/v1.0/me, /me/messages      (real: graph.microsoft.com/v1.0/...)
// tenant = common | organizations | consumers | a GUID | a domain.
//
// Behaviour and the doc each follows:
// - Error body: error, error_description ("AADSTSn: text\r\nTrace ID: ..\r\n
//   Correlation ID: ..\r\nTimestamp: .."), error_codes, timestamp, trace_id,
//   correlation_id, error_uri, suberror/claims where applicable.
//   [learn.microsoft.com/entra/identity-platform/reference-error-codes]
// - A `spa` registration's refresh tokens have a fixed 24 h lifetime from the
//   first sign-in; refreshes hand out new tokens that keep the original deadline
//   (AADSTS700084). Token responses carry refresh_token_expires_in for spa.
//   [learn.microsoft.com/entra/identity-platform/refresh-tokens, v2-oauth2-auth-code-flow]
// - A `spa` code/refresh token redeemed without an Origin header fails with
//   AADSTS9002327; a non-spa one redeemed with Origin fails with AADSTS9002326.
//   [v2-oauth2-auth-code-flow "Redirect URIs for single-page apps"]
// - offline_access gives a refresh token without prompt=consent (Entra does not
//   need it). oidc-provider drops offline_access unless prompt=consent, so the
//   scope is renamed internally to `entra_offline_access` on the way in and
//   back on the way out.
// - expires_in and ext_expires_in are sent (equal here).
// - Password change / admin "revoke sessions" -> AADSTS50173 on the next refresh.
// - Claims challenge from Graph (CAE): 401 + WWW-Authenticate Bearer
//   error="insufficient_claims", claims="<base64>". The challenge is bound to the
//   tokens: every access token of that user issued before the challenge keeps
//   getting it (a client that retries with the same token loops, as the CAE doc
//   warns); a token issued afterwards (new sign-in or refresh) satisfies it.
//   [learn.microsoft.com/entra/identity-platform/claims-challenge,
//    app-resilience-continuous-access-evaluation]
// - Refresh tokens rotate, and the old one is NOT revoked by its use ("The
//   Microsoft identity platform doesn't revoke old refresh tokens when used to
//   fetch new access tokens", refresh-tokens#token-lifetime). RFC 9700 §4.14.2
//   strict rotation (reuse revokes the grant) is microsoft.strictRefreshRotation.
// - Access tokens live 60-90 minutes, random per token ("default lifetime ... a
//   random value ranging between 60-90 minutes", configurable-token-lifetimes);
//   microsoft.accessTokenTtl=<seconds> fixes it (the demo's short lifetimes).

import crypto from 'node:crypto';

import {
  createOidcProvider, forward, encodeForm, sendJson, sendText, applyCors, bearerToken, uuid, epoch,
  makeRedirectMatcher, registrableRedirectUris, Store, basicAuth, originAllowed, accountIndex, rewriteLoginSubmission,
  requestContext,
} from './common.mjs';

export const MS_TENANT_ID = '72f9d1c4-6b0e-4c8a-9d3f-0c5e7a1b2d3e';
export const MS_SPA_CLIENT = 'sidebar-ms-spa';
export const MS_NATIVE_CLIENT = 'sidebar-ms-native';
const OFFLINE_INTERNAL = 'entra_offline_access';
const GRAPH = 'https://graph.microsoft.com';
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
const TENANT_RE = /^(common|organizations|consumers|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9-]+(\.[a-z0-9-]+)+)$/i;

export const MS_ACCOUNTS = [
  { login: 'alice@contoso.com', name: 'Alice Contoso', oid: '0b7e1f5c-3a6d-4f2e-8c1b-a11ce0000001', sub: 'Qm9YzZ1N3c0n3Kx8eWQ2aLiCe00001' },
  { login: 'bob@contoso.com', name: 'Bob Contoso', oid: '0b7e1f5c-3a6d-4f2e-8c1b-b0b000000002', sub: 'Qm9YzZ1N3c0n3Kx8eWQ2aB0b000002' },
  { login: 'carol@contoso.com', name: 'Carol Contoso', oid: '0b7e1f5c-3a6d-4f2e-8c1b-ca7010000003', sub: 'Qm9YzZ1N3c0n3Kx8eWQ2aCar0l0003' },
];

// Scopes the emulator knows. Bare Graph permission names are Graph scopes, as at Entra.
const RESOURCE_SCOPES = [
  `${GRAPH}/User.Read`, `${GRAPH}/Mail.Read`, `${GRAPH}/Mail.ReadWrite`, `${GRAPH}/Mail.Send`,
  `${GRAPH}/Calendars.Read`, `${GRAPH}/.default`,
  'User.Read', 'Mail.Read', 'Mail.ReadWrite', 'Mail.Send', 'Calendars.Read',
  'https://outlook.office365.com/EWS.AccessAsUser.All',
  'https://outlook.office.com/IMAP.AccessAsUser.All',
  'https://outlook.office.com/SMTP.Send',
  'https://outlook.office.com/POP.AccessAsUser.All',
];
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access', OFFLINE_INTERNAL]);

function resourceOf(scope) {
  if (OIDC_SCOPES.has(scope)) return undefined;
  if (/^https?:\/\//.test(scope)) return new URL(scope).origin;
  return GRAPH; // bare permission names belong to Graph
}

// Entra prints timestamps as "2022-07-03 18:51:58Z".
const entraTimestamp = (d = new Date()) => d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
// and token dates as "2023-12-11T12:31:44.1947275Z".
const entraDate = (secondsOrDate) => {
  const d = typeof secondsOrDate === 'number' ? new Date(secondsOrDate * 1000) : secondsOrDate;
  return d.toISOString().replace(/\.(\d+)Z$/, (_, ms) => `.${ms.padEnd(7, '0')}Z`);
};
const entraDuration = (seconds) => {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  const p = (n) => String(n).padStart(2, '0');
  return `${d}.${p(h)}:${p(m)}:${p(s)}`;
};

// ---------------------------------------------------------------------------
// Error table: every row of providers.md's Microsoft table, plus the codes the
// emulator itself produces. Texts follow the Entra error reference and bodies
// seen from login.microsoftonline.com. `error` and `suberror` per code follow
// MSAL's classification (basic_action, additional_action, message_only,
// consent_required, user_password_expired, bad_token); where the real pairing
// is not documented it is marked "unverified".
// ---------------------------------------------------------------------------
const APP = "'Sidebar'";
export const MS_ERRORS = {
  50173: { error: 'invalid_grant', text: (c) => `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${c.issued}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${c.validFrom}'.` },
  700082: { error: 'invalid_grant', text: (c) => `The refresh token has expired due to inactivity. The token was issued on ${c.issued} and was inactive for 90.00:00:00.` },
  70008: { error: 'invalid_grant', text: () => 'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.' },
  700084: { error: 'invalid_grant', text: (c) => `The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of ${c.lifetime}, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page. The token was issued on ${c.issued}.` },
  70043: { error: 'invalid_grant', suberror: 'token_expired', text: (c) => `The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on ${c.issued} and the maximum allowed lifetime for this request is 86400.` },
  50076: { error: 'invalid_grant', suberror: 'basic_action', claims: true, text: () => `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${GRAPH_APP_ID}'.` },
  50078: { error: 'invalid_grant', suberror: 'basic_action', claims: true, text: () => `Presented multi-factor authentication has expired due to policies configured by your administrator, you must refresh your multi-factor authentication to access '${GRAPH_APP_ID}'.` },
  50079: { error: 'invalid_grant', suberror: 'additional_action', text: () => `Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '${GRAPH_APP_ID}'.` },
  50072: { error: 'invalid_grant', suberror: 'additional_action', text: (c) => `User account '${c.account}' from identity provider 'https://sts.windows.net/${MS_TENANT_ID}/' needs to enroll for second factor authentication (interactive).` },
  53003: { error: 'invalid_grant', suberror: 'message_only', claims: true, text: () => 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.' },
  530032: { error: 'invalid_grant', suberror: 'message_only', text: () => 'The tenant admin has configured a security policy that blocks this request. Check the security policies that are defined on the tenant level to determine if your request meets the policy requirements.' },
  50131: { error: 'invalid_grant', suberror: 'message_only', text: () => 'Conditional Access failed: the request was blocked because of a bad device state, suspicious activity, or an access or security policy decision.' },
  53000: { error: 'invalid_grant', suberror: 'additional_action', claims: true, text: () => 'Device is not in required device state: compliant. Conditional Access policy requires a compliant device, and the device is not compliant. The user must enroll their device with an approved MDM provider like Intune.' },
  53001: { error: 'invalid_grant', suberror: 'additional_action', claims: true, text: () => 'Device is not in required device state: domain_joined. Conditional Access policy requires a domain joined device, and the device is not domain joined.' },
  53002: { error: 'invalid_grant', suberror: 'additional_action', text: () => 'Application used is not an approved application. The user needs to use one of the approved applications to get access.' },
  530003: { error: 'invalid_grant', suberror: 'additional_action', claims: true, text: () => 'Your device is required to be managed to access this resource.' },
  65001: { error: 'invalid_grant', suberror: 'consent_required', text: (c) => `The user or administrator has not consented to use the application with ID '${c.clientId}' named ${APP}. Send an interactive authorization request for this user and resource.` },
  65004: { error: 'invalid_grant', suberror: 'consent_required', text: () => 'User declined to consent to access the app.' },
  90094: { error: 'invalid_grant', text: () => 'Admin consent is required for the permissions requested by this application. An admin consent request may be sent to the admin.' },
  50126: { error: 'invalid_grant', text: () => 'Error validating credentials due to invalid username or password.' },
  50055: { error: 'invalid_grant', suberror: 'user_password_expired', text: () => 'The password is expired.' },
  50144: { error: 'invalid_grant', suberror: 'user_password_expired', text: () => "User's Active Directory password has expired." },
  50053: { error: 'invalid_grant', text: () => "You've tried to sign in too many times with an incorrect user ID or password." },
  50057: { error: 'invalid_grant', text: () => 'The user account is disabled.' },
  50034: { error: 'invalid_grant', text: (c) => `The user account ${c.account} does not exist in the '${MS_TENANT_ID}' directory. To sign into this application, the account must be added to the directory.` },
  50020: { error: 'invalid_request', text: (c) => `User account '${c.account}' from identity provider 'live.com' does not exist in tenant 'Contoso' and cannot access the application '${c.clientId}'(Sidebar) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Azure Active Directory user account.` },
  500208: { error: 'invalid_request', text: () => 'The domain is not a valid login domain for the account type.' },
  700016: { error: 'unauthorized_client', text: (c) => `Application with identifier '${c.clientId}' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.` },
  90002: { error: 'invalid_request', text: (c) => `Tenant '${c.tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.` },
  50058: { error: 'interaction_required', text: () => 'A silent sign-in request was sent but no user is signed in. The cookies used to represent the user\'s session were not sent in the request to Azure AD.' },
  50196: { error: 'invalid_request', text: () => 'The server terminated an operation because it encountered a client request loop. Please contact your app vendor.' }, // error field unverified
  50033: { error: 'temporarily_unavailable', status: 503, text: () => 'There was a temporary error. Please try again.' },
  90024: { error: 'temporarily_unavailable', status: 503, text: () => 'RequestBudgetExceededError - A transient error has occurred. Try again.' },
  50087: { error: 'temporarily_unavailable', status: 503, text: () => 'SasRetryableError - A transient error has occurred during strong authentication. Please try again.' },
  // Codes the emulator produces itself:
  9002327: { error: 'invalid_request', text: () => "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests." },
  9002326: { error: 'invalid_request', text: (c) => `Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '${c.origin}'.` },
  54005: { error: 'invalid_grant', text: () => 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.' },
  501481: { error: 'invalid_grant', text: () => 'The Code_Verifier does not match the code_challenge supplied in the authorization request.' },
  900144: { error: 'invalid_request', text: (c) => `The request body must contain the following parameter: '${c.param}'.` },
  70011: { error: 'invalid_scope', text: (c) => `The provided value for the input parameter 'scope' is not valid. The scope '${c.scope}' is not valid.` },
  700022: { error: 'invalid_scope', text: (c) => `The provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${c.scope} is not valid.` },
  9002313: { error: 'invalid_grant', suberror: 'bad_token', text: () => 'Invalid request. Request is malformed or invalid.' },
  70000: { error: 'invalid_grant', text: (c) => `The provided value for the '${c.param || 'refresh_token'}' is not valid.` },
  70003: { error: 'unsupported_grant_type', text: (c) => `The app requested an unsupported grant type '${c.grantType}'.` },
  700025: { error: 'invalid_client', status: 401, text: () => "Client is public so neither 'client_assertion' nor 'client_secret' should be presented." },
  50011: { error: 'invalid_grant', text: (c) => `The redirect URI '${c.redirectUri}' specified in the request does not match the redirect URIs configured for the application '${c.clientId}'.` },
  90100: { error: 'invalid_request', text: () => 'InvalidRequestParameter - The parameter is empty or not valid.' },
  50000: { error: 'server_error', status: 500, text: () => 'There was an error issuing a token or an issue with our sign-in service.' },
};
const MS_ALIASES = { temporarily_unavailable: 50033 };

function statusFor(error) {
  if (error === 'invalid_client') return 401;
  if (error === 'temporarily_unavailable') return 503;
  if (error === 'server_error') return 500;
  return 400;
}

export function createMicrosoft({ base, loginBase, config, control, redirectUris }) {
  const store = new Store();
  const cfg = () => config.microsoft;
  // Entra rotates refresh tokens but does not revoke the old one when it is used;
  // the adapter then never marks a used refresh token consumed (common.mjs).
  store.keepUsedRefreshTokens = () => !cfg().strictRefreshRotation;
  const issuer = `${loginBase}/${MS_TENANT_ID}/v2.0`;
  const index = accountIndex(MS_ACCOUNTS, (a) => ({
    oid: a.oid,
    tid: MS_TENANT_ID,
    ver: '2.0',
    name: a.name,
    preferred_username: a.login,
    email: a.login,
    email_verified: true,
  }));
  const accounts = index.bySub;
  const redirectList = [...redirectUris];
  const registered = registrableRedirectUris(redirectList);

  const clients = [
    {
      // A `spa` platform registration: public client, CORS on the token endpoint.
      client_id: MS_SPA_CLIENT,
      client_name: 'Sidebar (spa)',
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: registered,
      post_logout_redirect_uris: registered,
    },
    {
      // A "Mobile and desktop applications" registration (no CORS, 90-day sliding RT).
      client_id: MS_NATIVE_CLIENT,
      client_name: 'Sidebar (native)',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: registered.filter((u) => !/^https:\/\/(127\.0\.0\.1|localhost)/.test(u)),
    },
  ];

  const base64 = (s) => Buffer.from(s).toString('base64');

  function entraBody(code, ctxVals = {}, overrides = {}) {
    const row = MS_ERRORS[code] || { error: overrides.error || 'invalid_request', text: () => overrides.description || 'Error.' };
    const ts = entraTimestamp();
    const trace = uuid();
    const corr = uuid();
    const text = overrides.description || row.text({
      issued: entraDate(new Date(Date.now() - 3600_000)),
      validFrom: entraDate(new Date()),
      lifetime: entraDuration(cfg().spaRefreshLifetime),
      account: 'alice@contoso.com',
      clientId: MS_SPA_CLIENT,
      tenant: 'common',
      param: 'code',
      scope: '',
      grantType: '',
      redirectUri: '',
      origin: 'chrome-extension://abcdefghijklmnopabcdefghijklmnop',
      ...ctxVals,
    });
    const error = overrides.error || row.error;
    const body = {
      error,
      error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${trace}\r\nCorrelation ID: ${corr}\r\nTimestamp: ${ts}`,
      error_codes: [Number(code)],
      timestamp: ts,
      trace_id: trace,
      correlation_id: corr,
      error_uri: `${loginBase}/error?code=${code}`,
    };
    const suberror = overrides.suberror !== undefined ? overrides.suberror : row.suberror;
    if (suberror) body.suberror = suberror;
    if (overrides.claims) body.claims = overrides.claims;
    else if (row.claims) body.claims = JSON.stringify({ access_token: { capolids: { essential: true, values: [uuid()] } } });
    return { status: overrides.status || row.status || statusFor(error), body };
  }

  // --- oidc-provider ------------------------------------------------------
  const isSpa = (clientId) => clientId === MS_SPA_CLIENT;

  const provider = createOidcProvider({
    issuer,
    store,
    cookiePrefix: 'ms',
    routes: {
      authorization: '/oauth2/v2.0/authorize',
      token: '/oauth2/v2.0/token',
      end_session: '/oauth2/v2.0/logout',
      jwks: '/discovery/v2.0/keys',
      userinfo: '/oidc/userinfo',
    },
    clients,
    accounts,
    scopes: ['openid', 'profile', 'email', OFFLINE_INTERNAL, 'offline_access', ...RESOURCE_SCOPES],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'oid', 'tid', 'ver'],
      email: ['email', 'email_verified'],
    },
    extraParams: ['domain_hint', 'client_info', 'x-client-SKU', 'x-client-VER'],
    // "a random value ranging between 60-90 minutes (75 minutes on average)"
    // [configurable-token-lifetimes#access-tokens], unless fixed by configuration.
    accessTokenTtl: () => (cfg().accessTokenTtl === 'random' ? 3600 + crypto.randomInt(1801) : cfg().accessTokenTtl),
    // The spa 24 h limit is enforced before oidc-provider sees the request (see
    // tokenPreHook) so that changing it at run time applies to existing tokens.
    refreshTokenTtl: (_ctx, _token, client) => (isSpa(client?.clientId) ? 400 * 86400 : cfg().nativeRefreshLifetime),
    // Entra returns a new refresh token on every refresh; whether the old one stays
    // usable is store.keepUsedRefreshTokens (above).
    rotateRefreshToken: () => true,
    issueRefreshToken: (_ctx, client, code) => client.grantTypeAllowed('refresh_token')
      && (code.scopes.has(OFFLINE_INTERNAL) || code.scopes.has('offline_access')),
    redirectAllowed: (v) => makeRedirectMatcher(redirectList)(v),
    after: afterHook,
  });

  // --- response shaping -----------------------------------------------------
  // offline_access asks for a refresh token and is never part of the access
  // token, so Entra does not list it in a token response's `scope`
  // [learn.microsoft.com/answers/questions/806413 (Microsoft)].
  function outScope(scope) {
    const list = (scope || '').split(' ').filter((s) => s && s !== OFFLINE_INTERNAL && s !== 'offline_access');
    if (!list.some((s) => resourceOf(s))) list.push(`${GRAPH}/User.Read`);
    return [...new Set(list)].join(' ');
  }

  async function narrowToOneResource(at, requested) {
    const granted = String(at.scope || '').split(' ').filter(Boolean);
    const wanted = (requested || '').split(' ').map((x) => (x === 'offline_access' ? OFFLINE_INTERNAL : x));
    const resource = wanted.map(resourceOf).find(Boolean) || granted.map(resourceOf).find(Boolean);
    if (!resource) return at.scope;
    const keep = granted.filter((x) => !resourceOf(x) || resourceOf(x) === resource);
    if (keep.length !== granted.length) {
      at.scope = keep.join(' ');
      await at.save();
    }
    return at.scope;
  }

  async function afterHook(ctx) {
    const idp = ctx.req.idp;
    if (!idp) return;
    if (idp.endpoint === 'token') {
      if (ctx.status === 200 && ctx.body && ctx.body.access_token) {
        const b = ctx.body;
        const at = ctx.oidc?.entities?.AccessToken;
        let scope = b.scope;
        if (idp.grantType === 'authorization_code' && at) {
          // One resource per access token (AADSTS700022): the code's access
          // token is for the resource named in the token request's scope, else
          // for the first resource of the authorization request.
          scope = await narrowToOneResource(at, idp.params.scope);
        }
        // When the token was issued, to the millisecond: a claims challenge refuses
        // the tokens issued before it (see handleApi).
        issuedAtMs.set(b.access_token, Date.now());
        const out = {
          token_type: 'Bearer',
          scope: outScope(scope),
          expires_in: b.expires_in,
          ext_expires_in: b.expires_in,
          access_token: b.access_token,
        };
        if (b.refresh_token) {
          out.refresh_token = b.refresh_token;
          if (isSpa(idp.clientId)) {
            const rt = await provider.RefreshToken.find(b.refresh_token, { ignoreExpiration: true });
            if (rt) out.refresh_token_expires_in = Math.max(0, cfg().spaRefreshLifetime - (epoch() - rt.iiat));
          }
        }
        if (b.id_token) out.id_token = b.id_token;
        if (idp.params.client_info === '1' && at) {
          const acct = accounts.get(at.accountId);
          if (acct) out.client_info = Buffer.from(JSON.stringify({ uid: acct.oid, utid: MS_TENANT_ID })).toString('base64url');
        }
        ctx.body = out;
      } else if (ctx.body && ctx.body.error) {
        const { status, body } = mapTokenError(ctx, idp);
        ctx.status = status;
        ctx.body = body;
      }
    } else if (idp.endpoint === 'discovery' && ctx.body?.scopes_supported) {
      ctx.body.scopes_supported = ctx.body.scopes_supported.filter((sc) => sc !== OFFLINE_INTERNAL);
      // Entra's v2.0 discovery document does not list RFC 9207's
      // `authorization_response_iss_parameter_supported` (snapshot of
      // login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration in
      // github.com/panva/wellknown, issuers/entra-organizations); oidc-provider would.
      delete ctx.body.authorization_response_iss_parameter_supported;
    } else if (idp.endpoint === 'authorize' || idp.endpoint === 'resume') {
      // Entra puts AADSTS codes into authorization error descriptions too, naming
      // the client that asked.
      const loc = ctx.response.get('Location');
      const clientId = ctx.oidc?.client?.clientId || idp.params.client_id;
      if (loc && /[?#&]error=/.test(loc)) ctx.redirect(rewriteAuthorizeError(loc, { clientId, tenant: idp.tenant }));
    }
  }

  function rewriteAuthorizeError(loc, vals) {
    const hashMode = loc.includes('#');
    const [head, tail] = hashMode ? loc.split('#') : loc.split('?');
    const p = new URLSearchParams(tail);
    const codes = { login_required: 50058, interaction_required: 50058, consent_required: 65001, access_denied: 65004 };
    const code = codes[p.get('error')];
    if (code) {
      const { body } = entraBody(code, vals);
      p.set('error_description', body.error_description);
      p.set('error_uri', body.error_uri);
    }
    return `${head}${hashMode ? '#' : '?'}${p.toString()}`;
  }

  // Maps oidc-provider's own token-endpoint errors onto Entra's codes:
  //   refresh token revoked (control revoke, grant revoked after reuse)   -> 50173
  //   rotated-away refresh token replayed (oidc-provider revokes grant)  -> 50173
  //   refresh token unknown/garbage                                     -> 9002313 (bad_token)
  //   refresh token past its stored expiry (native client, 90 days)    -> 700082
  //   authorization code replayed                                      -> 54005
  //   authorization code unknown                                       -> 70000
  //   authorization code expired                                       -> 70008
  //   PKCE verifier missing or wrong                                   -> 501481
  //   redirect_uri differs from the authorization request              -> 50011
  //   missing parameter                                                -> 900144
  //   unsupported grant_type                                           -> 70003
  //   invalid scope                                                    -> 70011
  //   unknown client                                                   -> 700016
  function mapTokenError(ctx, idp) {
    const err = ctx.state.idpError;
    const detail = String(err?.error_detail || err?.cause?.message || '');
    const e = ctx.body.error;
    const vals = { clientId: idp.clientId, tenant: idp.tenant };
    if (e === 'invalid_grant') {
      if (idp.grantType === 'refresh_token') {
        const tomb = store.tombstones.get(idp.params.refresh_token);
        if (/already used/.test(detail) || /grant not found/.test(detail) || (tomb && /not found/.test(detail))) {
          const t = tomb || {};
          return entraBody(50173, {
            ...vals,
            issued: entraDate(t.iiat || t.iat || epoch()),
            validFrom: entraDate(new Date(t.at || Date.now())),
          });
        }
        if (/is expired/.test(detail)) return entraBody(700082, { ...vals, issued: entraDate(epoch() - cfg().nativeRefreshLifetime) });
        if (/not found/.test(detail)) return entraBody(9002313, vals);
        return entraBody(70000, { ...vals, param: 'refresh_token' });
      }
      if (idp.grantType === 'authorization_code') {
        if (/already (consumed|used)/.test(detail)) return entraBody(54005, vals);
        if (/is expired/.test(detail)) return entraBody(70008, vals);
        if (/code_verifier|code_challenge/.test(detail)) return entraBody(501481, vals);
        if (/redirect_uri/.test(detail)) return entraBody(50011, { ...vals, redirectUri: idp.params.redirect_uri });
        return entraBody(70000, { ...vals, param: 'code' });
      }
      return entraBody(70000, vals);
    }
    if (e === 'invalid_request') {
      const m = /missing required parameters? (.+)$/.exec(ctx.body.error_description || '');
      if (m) return entraBody(900144, { ...vals, param: m[1].replace(/[' ]|and/g, ' ').trim().split(/\s+/)[0] });
      if (/code_verifier/.test(ctx.body.error_description || '')) return entraBody(501481, vals);
      return entraBody(90100, vals);
    }
    if (e === 'unsupported_grant_type') return entraBody(70003, { ...vals, grantType: idp.grantType });
    if (e === 'invalid_scope') return entraBody(70011, { ...vals, scope: idp.params.scope || '' });
    if (e === 'invalid_client' || e === 'unauthorized_client') return entraBody(700016, vals);
    return entraBody(50000, vals);
  }

  // --- routing ---------------------------------------------------------------
  function route(url, site) {
    if (site !== 'microsoft') return null;
    const m = /^\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (!m) return null;
    const [, tenant, rest = '/'] = m;
    if (tenant === 'error' && rest === '/') return { endpoint: 'error-page' };
    const mount = `/${tenant}`;
    if (rest === '/v2.0/.well-known/openid-configuration') {
      return { endpoint: 'discovery', tenant, mount, inner: '/.well-known/openid-configuration' };
    }
    let endpoint = 'other';
    if (rest === '/oauth2/v2.0/authorize') endpoint = 'authorize';
    else if (rest.startsWith('/oauth2/v2.0/authorize/')) endpoint = 'resume';
    else if (rest === '/oauth2/v2.0/token') endpoint = 'token';
    else if (rest === '/oidc/userinfo') endpoint = 'userinfo';
    else if (rest.startsWith('/interaction/')) endpoint = 'interaction';
    return { endpoint, tenant, mount, inner: rest };
  }

  function apiRoute(url, site) {
    if (site !== 'main' || !url.pathname.startsWith('/graph/')) return null;
    return { endpoint: 'api' };
  }

  async function handle(req, res, { url, route: r, body, params }) {
    if (r.endpoint === 'error-page') {
      return sendText(res, 200, `<!DOCTYPE html><html><body><h1>AADSTS${String(url.searchParams.get('code') || '').replace(/\D/g, '')}</h1><p>Local Entra emulator error lookup.</p></body></html>`, 'text/html; charset=utf-8');
    }
    if (!TENANT_RE.test(r.tenant)) {
      const { status, body: b } = entraBody(90002, { tenant: r.tenant });
      if (r.endpoint === 'token') {
        applyCors(req, res);
        return sendJson(res, status, b);
      }
      return sendText(res, 400, `<!DOCTYPE html><html><body><h1>Sign in</h1><p class="error">${b.error_description.split('\r\n')[0]}</p></body></html>`, 'text/html; charset=utf-8');
    }
    const idp = requestContext(req, r, params, { tenant: r.tenant });
    let inner = r.inner + url.search;
    let fwdBody = body;

    if (r.endpoint === 'interaction' && req.method === 'POST') {
      fwdBody = rewriteLoginSubmission(res, idp.params, index.loginToSub);
      if (!fwdBody) return undefined;
    }

    if (r.endpoint === 'authorize' && req.method === 'GET') {
      const q = new URLSearchParams(url.search);
      if (q.has('scope')) q.set('scope', q.get('scope').split(' ').map((s) => (s === 'offline_access' ? OFFLINE_INTERNAL : s)).join(' '));
      // Entra's account picker; the emulator shows its login page instead.
      if (q.get('prompt') === 'select_account') q.set('prompt', 'login');
      q.delete('claims'); // claims challenges are accepted (counted in stats) and ignored
      inner = `${r.inner}?${q.toString()}`;
    }

    if (r.endpoint === 'token' && req.method === 'POST') {
      const pre = await tokenPreHook(req, idp);
      if (pre) {
        applyCors(req, res);
        return sendJson(res, pre.status, pre.body);
      }
      const p = { ...idp.params };
      if (p.scope) p.scope = p.scope.split(' ').map((s) => (s === 'offline_access' ? OFFLINE_INTERNAL : s)).join(' ');
      fwdBody = encodeForm(p);
    }
    return forward(provider, req, res, { mount: r.mount, innerUrl: inner, body: fwdBody, idp });
  }

  async function tokenPreHook(req, idp) {
    const { params } = idp;
    const origin = req.headers.origin;
    const vals = { clientId: idp.clientId, tenant: idp.tenant };
    if (!idp.clientId) return entraBody(900144, { param: 'client_id' });
    if (![MS_SPA_CLIENT, MS_NATIVE_CLIENT].includes(idp.clientId)) return entraBody(700016, vals);
    if (params.client_secret || params.client_assertion || basicAuth(req)) return entraBody(700025, vals);
    if (!params.grant_type) return entraBody(900144, { param: 'grant_type' });
    if (['authorization_code', 'refresh_token'].includes(params.grant_type)) {
      if (isSpa(idp.clientId) && !origin) return entraBody(9002327, vals);
      if (!isSpa(idp.clientId) && origin) return entraBody(9002326, { ...vals, origin });
    }
    if (params.scope) {
      const resources = new Set(params.scope.split(' ').map(resourceOf).filter(Boolean));
      if (resources.size > 1) return entraBody(700022, { ...vals, scope: params.scope });
    }
    if (params.grant_type === 'refresh_token' && params.refresh_token && isSpa(idp.clientId)) {
      // Fixed lifetime from the first sign-in (iiat survives rotation).
      const rt = await provider.RefreshToken.find(params.refresh_token, { ignoreExpiration: true });
      if (rt && rt.clientId === MS_SPA_CLIENT && !rt.consumed && epoch() - rt.iiat >= cfg().spaRefreshLifetime) {
        return entraBody(700084, { ...vals, issued: entraDate(rt.iiat), lifetime: entraDuration(cfg().spaRefreshLifetime) });
      }
    }
    return null;
  }

  // --- Graph -----------------------------------------------------------------
  const graphHeaders = () => ({
    'request-id': uuid(),
    'client-request-id': uuid(),
  });
  function graphError(status, code, message, extraHeaders = {}) {
    const h = graphHeaders();
    return {
      status,
      body: { error: { code, message, innerError: { date: new Date().toISOString().replace(/\.\d+Z$/, ''), 'request-id': h['request-id'], 'client-request-id': h['client-request-id'] } } },
      headers: { ...h, ...extraHeaders },
    };
  }
  const authorizationUri = `${loginBase}/common/oauth2/v2.0/authorize`;

  // Claims challenges (CAE): accountId -> {atMs, nbf}. Access-token issue times
  // in ms (token value -> ms), recorded when the token endpoint hands one out.
  const challenges = new Map();
  const issuedAtMs = new Map();
  function raiseClaimsChallenge(at) {
    const atMs = Date.now();
    const c = { atMs, nbf: String(Math.floor(atMs / 1000)) };
    if (at?.accountId) challenges.set(at.accountId, c);
    return claimsChallengeResponse(c);
  }
  function claimsChallengeResponse({ nbf }) {
    const claims = base64(JSON.stringify({ access_token: { nbf: { essential: true, value: nbf } } }));
    return graphError(401, 'InvalidAuthenticationToken', 'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp', {
      'WWW-Authenticate': wwwAuth(`, error="insufficient_claims", claims="${claims}"`),
    });
  }
  const wwwAuth = (extra = '') => `Bearer realm="", authorization_uri="${authorizationUri}", client_id="${GRAPH_APP_ID}"${extra}`;

  async function handleApi(req, res, { url }) {
    if (applyCors(req, res, { methods: 'GET,OPTIONS' })) return;
    const send = (o) => sendJson(res, o.status, o.body, o.headers);
    const token = bearerToken(req);
    if (!token) return send(graphError(401, 'InvalidAuthenticationToken', 'Access token is empty.', { 'WWW-Authenticate': wwwAuth() }));
    const at = await provider.AccessToken.find(token, { ignoreExpiration: true });
    if (!at) {
      return send(graphError(401, 'InvalidAuthenticationToken', 'IDX14100: JWT is not well formed, there are no dots (.).', { 'WWW-Authenticate': wwwAuth(', error="invalid_token"') }));
    }
    if (at.isExpired) {
      return send(graphError(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.', { 'WWW-Authenticate': wwwAuth(', error="invalid_token", error_description="The access token has expired."') }));
    }
    const resources = new Set(String(at.scope || '').split(' ').map(resourceOf).filter(Boolean));
    if (resources.size && !resources.has(GRAPH)) {
      return send(graphError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.', { 'WWW-Authenticate': wwwAuth(', error="invalid_token"') }));
    }
    if (control.state.claimsChallenges > 0) {
      control.state.claimsChallenges -= 1;
      return send(raiseClaimsChallenge(at));
    }
    // A challenge raised earlier stays on every token of the user issued before it
    // (CAE's TokenIssuedBeforeRevocationTimestamp): retrying with the same token
    // gets the same 401 until a newer token is presented.
    const challenge = challenges.get(at.accountId);
    if (challenge && (issuedAtMs.get(token) ?? at.iat * 1000) <= challenge.atMs) {
      return send(claimsChallengeResponse(challenge));
    }
    const acct = accounts.get(at.accountId);
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/graph/v1.0/me') {
      return sendJson(res, 200, {
        '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users/$entity',
        businessPhones: [],
        displayName: acct?.name ?? at.accountId,
        givenName: acct?.name?.split(' ')[0] ?? null,
        jobTitle: null,
        mail: acct?.email ?? at.accountId,
        mobilePhone: null,
        officeLocation: null,
        preferredLanguage: 'en-US',
        surname: acct?.name?.split(' ')[1] ?? null,
        userPrincipalName: acct?.preferred_username ?? at.accountId,
        id: acct?.oid ?? at.accountId,
      }, graphHeaders());
    }
    if (path === '/graph/v1.0/me/messages') {
      return sendJson(res, 200, {
        '@odata.context': "https://graph.microsoft.com/v1.0/$metadata#users('me')/messages",
        value: [
          { id: 'AAMkAGI2TG93AAA=', subject: 'Welcome to the local Entra emulator', from: { emailAddress: { name: 'Contoso IT', address: 'it@contoso.com' } }, receivedDateTime: '2024-01-01T09:00:00Z', isRead: false },
          { id: 'AAMkAGI2TG94AAA=', subject: 'Quarterly report', from: { emailAddress: { name: 'Bob Contoso', address: 'bob@contoso.com' } }, receivedDateTime: '2024-01-02T10:30:00Z', isRead: true },
        ],
      }, graphHeaders());
    }
    return send(graphError(400, 'BadRequest', `Resource not found for the segment '${path.split('/').pop()}'.`));
  }

  // --- fault-injection hooks (used by control.mjs) ---------------------------
  function errorFor(endpoint, spec, { validateOnly, params, req } = {}) {
    const raw = String(spec.code ?? '').trim();
    if (endpoint === 'api' && raw === 'insufficient_claims' && !validateOnly) {
      // Bound to the presented token like a challenge raised by /control/claims-challenge.
      const token = bearerToken(req);
      return (token ? provider.AccessToken.find(token, { ignoreExpiration: true }) : Promise.resolve(undefined))
        .then((at) => raiseClaimsChallenge(at));
    }
    if (endpoint === 'api') {
      const table = {
        InvalidAuthenticationToken: () => graphError(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.', { 'WWW-Authenticate': wwwAuth(', error="invalid_token"') }),
        insufficient_claims: () => raiseClaimsChallenge(undefined),
        TooManyRequests: () => graphError(429, 'TooManyRequests', 'Too many requests.', { 'Retry-After': String(spec.retryAfter ?? 10) }),
        ErrorAccessDenied: () => graphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.'),
        ServiceNotAvailable: () => graphError(503, 'ServiceNotAvailable', 'The service is temporarily unavailable.'),
      };
      if (!table[raw]) throw new Error(`unknown Graph error code ${raw}; one of ${Object.keys(table).join(', ')}`);
      return validateOnly ? null : table[raw]();
    }
    if (endpoint === 'authorize') {
      if (validateOnly) return null;
      return authorizeErrorRedirect(spec, params || {}, tenantOf(req));
    }
    const code = MS_ALIASES[raw] ?? Number(raw.replace(/^AADSTS/i, ''));
    if (!MS_ERRORS[code]) throw new Error(`unknown Entra error code ${raw}; one of ${Object.keys(MS_ERRORS).join(', ')}, temporarily_unavailable`);
    if (validateOnly) return null;
    // The texts name the client and tenant of the request the fault answers.
    const vals = { clientId: params?.client_id || basicAuth(req ?? { headers: {} })?.clientId || MS_SPA_CLIENT, tenant: tenantOf(req) };
    return entraBody(code, vals, { error: spec.error, suberror: spec.suberror, description: spec.description, status: spec.status, claims: spec.claims });
  }

  // The tenant of a request to the login host: its first path segment.
  function tenantOf(req) {
    const m = req && /^\/([^/?]+)/.exec(req.url || '');
    return m ? decodeURIComponent(m[1]) : 'common';
  }

  function authorizeErrorRedirect(spec, q, tenant) {
    const redirectUri = q.redirect_uri;
    if (!redirectUri) return { status: 400, body: { error: 'invalid_request', error_description: 'redirect_uri missing' } };
    const error = spec.code || 'interaction_required';
    const code = { login_required: 50058, interaction_required: 50058, consent_required: 65001, access_denied: 65004 }[error] || 50058;
    const { body } = entraBody(code, { clientId: q.client_id || MS_SPA_CLIENT, tenant });
    const p = new URLSearchParams({ error, error_description: body.error_description, error_uri: body.error_uri });
    if (q.state) p.set('state', q.state);
    const sep = q.response_mode === 'fragment' ? '#' : '?';
    return { redirect: `${redirectUri}${sep}${p}` };
  }

  function statusFor5xx(status, endpoint) {
    if (endpoint === 'api') {
      return { contentType: 'application/json', body: JSON.stringify(graphError(status, status === 429 ? 'TooManyRequests' : 'ServiceNotAvailable', status === 429 ? 'Too many requests.' : 'The service is temporarily unavailable.').body) };
    }
    return {
      contentType: 'text/html; charset=utf-8',
      body: `<!DOCTYPE html><html><head><title>Service unavailable</title></head><body><h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p><p>HTTP ${status}</p></body></html>`,
    };
  }

  return {
    name: 'microsoft',
    provider,
    store,
    route,
    apiRoute,
    handle,
    handleApi,
    errorFor,
    statusFor: statusFor5xx,
    malformedFor: () => '{"token_type":"Bearer","scope":"https://graph.microsoft.com/User.Read","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QiLCJub25jZSI6',
    corsAllowedFor: (endpoint, origin) => endpoint !== 'authorize' && originAllowed(origin),
    errorCodes: () => [...Object.keys(MS_ERRORS), 'temporarily_unavailable'],
    revokeAccount: (account) => store.revokeAccount(index.resolve(account), 'password_change'),
    endSessions: (account) => store.endSessions(index.resolve(account)),
    addRedirectUris: (uris) => { for (const u of uris) if (!redirectList.includes(u)) redirectList.push(u); },
    redirectUris: () => [...redirectList],
    describe: () => ({
      issuer,
      tenantId: MS_TENANT_ID,
      // The login host (https://login.microsoftonline.com): an MSAL authority is
      // `${authority}/${tenant}`.
      authority: loginBase,
      authorize: `${loginBase}/common/oauth2/v2.0/authorize`,
      token: `${loginBase}/common/oauth2/v2.0/token`,
      revoke: null,
      userinfo: `${loginBase}/common/oidc/userinfo`,
      logout: `${loginBase}/common/oauth2/v2.0/logout`,
      discovery: `${loginBase}/common/v2.0/.well-known/openid-configuration`,
      jwks: `${loginBase}/common/discovery/v2.0/keys`,
      api: `${base}/graph/v1.0`,
      clientId: MS_SPA_CLIENT,
      nativeClientId: MS_NATIVE_CLIENT,
      accounts: MS_ACCOUNTS.map((a) => a.login),
    }),
    close: () => store.close(),
  };
}

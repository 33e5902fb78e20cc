// An in-memory stand-in for the wasm engine (`/pkg/sidebar_auth.js`), with the same JS API
// and canned views, for building and testing the pages without a Rust build.
// Pages load it with `?engine=fake` (and optionally `&scenario=default|attention|empty|busy`).
//
// It is NOT the engine: its classification table and timings are rough copies of
// shared/providers.md, good enough to make every status, reason and button appear. The real
// decisions live in the Rust crate.
//
// Fake-only extras (not part of the engine contract):
//   auth.fakeFailNext(spec)   make the next token request of spec.provider fail; spec has the
//                             shape of the identity provider's /fail-next body (same codes)
//   auth.fakeControl(path, body)  the identity provider's /control/{fail-next,revoke,end-sessions}
//   auth.fakeCalls()          [{method, service, options}] every action method called
//   config.fake = {scenario, popup, delayMs}
//     popup: true  runs connect/reauthorize through driver.openSignIn with an "authorization
//                  URL" that is www/callback.html itself, so the real pop-up path is exercised
//     delayMs      how long signing in / refreshing takes (default 400)

import { FALLBACK_STATUS_TEXT } from './dashboard.js';

const HOUR = 3_600_000;
const MIN = 60_000;

const TITLES = { microsoft: 'Microsoft 365', google: 'Gmail', exchange: 'Exchange', salesforce: 'Salesforce' };
const MAIL_CHOICES = [
  { id: 'microsoft365', label: 'Microsoft 365' },
  { id: 'outlook_com', label: 'Outlook.com' },
  { id: 'gmail', label: 'Gmail' },
  { id: 'exchange', label: 'Exchange' },
  { id: 'not_sure', label: 'Not sure' },
];
const LOGIN_HOSTS = [
  { id: 'production', label: 'Production', url: 'https://login.salesforce.com' },
  { id: 'sandbox', label: 'Sandbox', url: 'https://test.salesforce.com' },
];
const DEFAULT_ACCOUNTS = {
  microsoft: 'alice@contoso.com',
  google: 'alice@gmail.test',
  exchange: 'alice@corp.example',
  salesforce: 'alice@acme.test',
};

const REASONS = {
  network_unavailable: 'The service could not be reached. Sync will retry by itself.',
  provider_unavailable: 'The service is temporarily unavailable. Sync will retry by itself.',
  rate_limited: 'The service asked us to slow down. Sync will retry by itself.',
  malformed_response: 'The service sent an answer that could not be read. Sync will retry by itself.',
  request_loop_detected: 'Too many sign-in requests in a short time. Sync is pausing before it tries again.',
  refresh_token_revoked: 'Your password was changed or your sessions were signed out. Sign in again.',
  refresh_token_expired: "Your sign-in expired (unused for too long, or by your organization's policy). Sign in again.",
  sign_in_ended: 'Your sign-in ended: access was revoked, your password changed, or it went unused too long. Sign in again.',
  session_lifetime_reached: 'Sign-ins for this app last 24 hours. It is time to sign in again.',
  sign_in_frequency: 'Your organization requires you to sign in again periodically.',
  mfa_required: 'Your organization requires additional verification (MFA). Sign in again.',
  mfa_registration_required: 'You need to set up additional verification (MFA) for your account. Sign in to do it, or ask your administrator.',
  consent_required: 'The app needs your permission again. Sign in and accept.',
  password_invalid: 'Your password is wrong or has expired. Sign in again.',
  interaction_required: 'The service needs you to sign in again.',
  reauthentication_required: 'Your organization requires you to confirm your identity again.',
  authentication_failure: 'The sign-in was rejected: your password may have changed or your user was deactivated. Sign in again; if that fails, contact your administrator.',
  grant_rejected: 'The service no longer accepts this sign-in. Sign in again.',
  claims_challenge: 'Your organization requires an additional check for this account. Sign in again.',
  credentials_rejected: 'The server rejected the password: it may be wrong, changed or expired, or the account is locked. Enter it again.',
  blocked_by_policy: "Access is blocked by your organization's policy (location, network, hours or app). Contact your administrator.",
  device_not_compliant: 'Your organization only allows managed or compliant devices. Contact your administrator.',
  admin_consent_required: 'An administrator must approve this app for your organization.',
  admin_policy: 'Your administrator has restricted access to this app.',
  app_misconfigured: 'The app is not set up correctly with this service. Contact your administrator.',
  org_locked: "Your organization's account is locked. Contact your administrator.",
  account_locked: 'Your account is locked. Wait for it to unlock, or contact your administrator.',
  account_disabled: 'Your account is disabled. Contact your administrator, or use another account.',
  user_deactivated: 'Your user is deactivated. Contact your administrator, or use another account.',
  wrong_account: 'This account does not belong to the expected organization. Use another account.',
  unknown_error: 'The service refused the request for an unknown reason.',
};

function rowsFor(list, reason, action) {
  return list.map((c) => [c, { reason, action }]);
}
const MICROSOFT_CODES = new Map([
  ...rowsFor([50173], 'refresh_token_revoked', 'refresh'),
  ...rowsFor([700082, 70008], 'refresh_token_expired', 'refresh'),
  ...rowsFor([700084], 'session_lifetime_reached', 'refresh'),
  ...rowsFor([70043], 'sign_in_frequency', 'refresh'),
  ...rowsFor([50076, 50078], 'mfa_required', 'refresh'),
  ...rowsFor([50079, 50072], 'mfa_registration_required', 'refresh'),
  ...rowsFor([53003, 530032, 50131], 'blocked_by_policy', 'contact_admin'),
  ...rowsFor([53000, 53001, 53002, 530003], 'device_not_compliant', 'contact_admin'),
  ...rowsFor([65001, 65004], 'consent_required', 'refresh'),
  ...rowsFor([90094], 'admin_consent_required', 'contact_admin'),
  ...rowsFor([50126, 50055, 50144], 'password_invalid', 'refresh'),
  ...rowsFor([50053], 'account_locked', 'contact_admin'),
  ...rowsFor([50057], 'account_disabled', 'contact_admin'),
  ...rowsFor([50034, 50020, 500208], 'wrong_account', 'change'),
  ...rowsFor([700016, 90002], 'app_misconfigured', 'contact_admin'),
  ...rowsFor([50058], 'interaction_required', 'refresh'),
  ...rowsFor([50196], 'request_loop_detected', 'retry_later'),
  ...rowsFor([50033, 90024, 50087], 'provider_unavailable', 'retry_later'),
]);

function diagnosis(reason, action) {
  return { reason, action, reasonText: REASONS[reason] ?? reason, transient: action === 'retry_later' };
}

/** Fake counterpart of the engine's classifyRefreshError (rough copy of providers.md). */
export function classifyRefreshError(provider, status, body) {
  let json = null;
  if (typeof body === 'string') {
    try {
      json = JSON.parse(body);
    } catch {
      json = null;
    }
  } else if (body && typeof body === 'object') {
    json = body;
  }
  if (status === 429) return diagnosis('rate_limited', 'retry_later');
  if (status >= 500) return diagnosis('provider_unavailable', 'retry_later');
  if (json === null || typeof json !== 'object') return diagnosis('malformed_response', 'retry_later');
  const error = json.error;
  if (error === 'temporarily_unavailable') return diagnosis('provider_unavailable', 'retry_later');
  if (provider === 'microsoft') {
    const code = Array.isArray(json.error_codes) ? json.error_codes[0] : undefined;
    const row = MICROSOFT_CODES.get(code);
    if (row) return diagnosis(row.reason, row.action);
    if (json.suberror === 'bad_token') return diagnosis('refresh_token_revoked', 'refresh');
  }
  if (provider === 'google') {
    if (error === 'invalid_grant' && json.error_subtype === 'invalid_rapt') return diagnosis('reauthentication_required', 'refresh');
    if (error === 'invalid_grant') return diagnosis('sign_in_ended', 'refresh');
    if (error === 'admin_policy_enforced') return diagnosis('admin_policy', 'contact_admin');
    if (error === 'invalid_client' || error === 'unauthorized_client') return diagnosis('app_misconfigured', 'contact_admin');
  }
  if (provider === 'salesforce') {
    const d = json.error_description;
    if (error === 'invalid_grant' && d === 'expired access/refresh token') return diagnosis('refresh_token_expired', 'refresh');
    if (error === 'invalid_grant' && d === 'authentication failure') return diagnosis('authentication_failure', 'refresh');
    if (error === 'invalid_grant' && d === 'ip restricted or invalid login hours') return diagnosis('blocked_by_policy', 'contact_admin');
    if (error === 'inactive_user') return diagnosis('user_deactivated', 'contact_admin');
    if (error === 'inactive_org') return diagnosis('org_locked', 'contact_admin');
    if (error === 'rate_limit_exceeded') return diagnosis('rate_limited', 'retry_later');
  }
  if (error === 'invalid_grant') return diagnosis('refresh_token_expired', 'refresh');
  return diagnosis('unknown_error', 'contact_admin');
}

const SF_GRANT_DESCRIPTIONS = ['expired access/refresh token', 'authentication failure', 'ip restricted or invalid login hours'];

/** Turn a /fail-next spec into the HTTP answer the token endpoint would give. */
function responseForFault(provider, spec) {
  if (spec.kind === 'status') return { status: spec.status ?? 503, body: '', retryAfter: spec.retryAfter };
  if (spec.kind === 'malformed') return { status: 200, body: '{"access_token": "x", ' };
  if (spec.kind === 'delay') return { status: 200, body: null, delayMs: spec.ms ?? 5000 };
  const code = String(spec.code ?? '');
  const aad = /^AADSTS(\d+)$/.exec(code);
  if (aad) return { status: 400, body: JSON.stringify({ error: 'invalid_grant', error_codes: [Number(aad[1])] }) };
  if (provider === 'salesforce' && SF_GRANT_DESCRIPTIONS.includes(code)) {
    return { status: 400, body: JSON.stringify({ error: 'invalid_grant', error_description: code }) };
  }
  if (provider === 'google' && code === 'invalid_rapt') {
    return { status: 400, body: JSON.stringify({ error: 'invalid_grant', error_subtype: 'invalid_rapt' }) };
  }
  return { status: 400, body: JSON.stringify({ error: code || 'invalid_grant' }) };
}

/** A connection's fields when nobody is signed in (a new card, or after Disconnect). */
const DISCONNECTED = Object.freeze({
  account: null,
  status: 'disconnected',
  reason: null,
  action: null,
  connectedAt: null,
  signInNeededAt: null,
  accessTokenExpiresAt: null,
  expiryProvenance: null,
  nextRetryAt: null,
  failures: 0,
  busy: false,
});

function scenarioConnections(scenario, now) {
  const c = (service, extra = {}) => ({ service, ...DISCONNECTED, ...extra });
  const msConnected = {
    account: DEFAULT_ACCOUNTS.microsoft,
    status: 'connected',
    connectedAt: now - HOUR,
    signInNeededAt: now - HOUR + 24 * HOUR,
    accessTokenExpiresAt: now + 52 * MIN,
    expiryProvenance: 'expires_in',
  };
  const sfConnected = {
    account: DEFAULT_ACCOUNTS.salesforce,
    status: 'connected',
    connectedAt: now - 3 * HOUR,
    accessTokenExpiresAt: now + 2 * HOUR,
    expiryProvenance: 'session_timeout',
  };
  switch (scenario) {
    case 'empty':
      return { mailService: 'not_sure', list: [c('microsoft'), c('google'), c('exchange'), c('salesforce')] };
    case 'attention':
      return {
        mailService: 'microsoft365',
        list: [
          c('microsoft', { ...msConnected, status: 'needs_attention', reason: 'refresh_token_revoked', action: 'refresh', accessTokenExpiresAt: null, expiryProvenance: null }),
          c('google'),
          c('exchange'),
          c('salesforce', { ...sfConnected, status: 'needs_attention', reason: 'user_deactivated', action: 'contact_admin', accessTokenExpiresAt: null, expiryProvenance: null }),
        ],
      };
    case 'busy':
      return {
        mailService: 'gmail',
        list: [
          c('microsoft', msConnected),
          c('google', { account: DEFAULT_ACCOUNTS.google, status: 'refreshing', busy: true, connectedAt: now - 5 * HOUR, accessTokenExpiresAt: now + 2 * MIN, expiryProvenance: 'expires_in' }),
          c('exchange'),
          c('salesforce', { ...sfConnected, status: 'retrying', reason: 'provider_unavailable', action: 'retry_later', nextRetryAt: now + 3 * MIN, failures: 2 }),
        ],
      };
    default:
      return {
        mailService: 'microsoft365',
        list: [c('microsoft', msConnected), c('google'), c('exchange'), c('salesforce', sfConnected)],
      };
  }
}

function relative(ms) {
  if (ms <= 0) return 'Sign-in needed now';
  if (ms < HOUR) return `Sign-in needed in ${Math.ceil(ms / MIN)} min`;
  if (ms < 48 * HOUR) return `Sign-in needed in ${Math.floor(ms / HOUR)} h`;
  return `Sign-in needed in ${Math.floor(ms / (24 * HOUR))} days`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function randomState() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class SidebarAuth {
  /** @private use SidebarAuth.create */
  constructor(config, driver) {
    this._config = config ?? {};
    this._driver = driver ?? {};
    this._fake = { scenario: 'default', popup: false, delayMs: 400, ...(this._config.fake ?? {}) };
    this._offset = 0;
    this._listeners = new Map();
    this._nextListener = 1;
    this._events = [];
    this._calls = [];
    this._failNext = new Map();
    const now = this._now();
    const { mailService, list } = scenarioConnections(this._fake.scenario, now);
    this._mailService = mailService;
    this._conns = new Map(list.map((c) => [c.service, c]));
    this._savedLogins = [{ username: DEFAULT_ACCOUNTS.salesforce, loginHost: 'https://login.salesforce.com' }];
    if (this._fake.scenario !== 'empty') {
      this._savedLogins.push({ username: 'alice@acme.test.uat', loginHost: 'https://test.salesforce.com' });
    }
    this._log('engine', 'created', `fake engine, scenario ${this._fake.scenario}`);
  }

  static async create(config, driver) {
    const auth = new SidebarAuth(config, driver);
    auth._scheduleWake();
    return auth;
  }

  // ---- clock ------------------------------------------------------------------------------
  _now() {
    const host = typeof this._driver.now === 'function' ? this._driver.now() : Date.now();
    return host + this._offset;
  }

  advanceClock(ms) {
    const n = Number(ms);
    if (!Number.isFinite(n) || n < 0) throw { code: 'invalid_argument', message: 'advanceClock takes a positive number of ms' };
    this._offset += n;
    this._log('engine', 'clock', `advanced by ${Math.round(n / 1000)} s (total ${Math.round(this._offset / 1000)} s)`);
    this._emit();
  }

  // ---- view ---------------------------------------------------------------------------------
  _mailCards() {
    const all = ['microsoft', 'google', 'exchange'];
    const chosen = { microsoft365: 'microsoft', outlook_com: 'microsoft', gmail: 'google', exchange: 'exchange' }[this._mailService];
    if (!chosen) return all;
    return [chosen, ...all.filter((s) => s !== chosen && this._conns.get(s)?.account)];
  }

  view() {
    const now = this._now();
    const conn = (s) => {
      const c = this._conns.get(s);
      const busy = c.busy || c.status === 'signing_in' || c.status === 'refreshing';
      const signInNeededAt = c.status === 'connected' || c.status === 'refreshing' || c.status === 'retrying' ? c.signInNeededAt : null;
      return {
        service: s,
        title: TITLES[s],
        account: c.account,
        status: c.status,
        statusText: c.status === 'retrying' && c.nextRetryAt ? `Retrying (attempt ${c.failures + 1})` : FALLBACK_STATUS_TEXT[c.status],
        reason: c.reason,
        reasonText: c.reason ? REASONS[c.reason] ?? c.reason : null,
        action: c.action,
        signInNeededAt: signInNeededAt ?? null,
        signInNeededText: signInNeededAt ? relative(signInNeededAt - now) : null,
        accessTokenExpiresAt: c.accessTokenExpiresAt,
        expiryProvenance: c.expiryProvenance,
        nextRetryAt: c.status === 'retrying' ? c.nextRetryAt : null,
        canRefresh: c.account !== null && c.action !== 'contact_admin',
        canChange: true,
        busy,
      };
    };
    return {
      now,
      sections: [
        {
          id: 'email',
          title: 'E-Mail Configuration',
          mailService: this._mailService,
          mailServiceChoices: MAIL_CHOICES.map((x) => ({ ...x })),
          // As the real engine (src/engine.rs view): the chosen service's card first, then
          // other mail accounts still signed in; every card for "not sure".
          connections: this._mailCards().map(conn),
        },
        {
          id: 'crm',
          title: 'CRM',
          connections: [conn('salesforce')],
          savedLogins: this._savedLogins.map((x) => ({ ...x })),
          loginHosts: LOGIN_HOSTS.map((x) => ({ ...x })),
        },
      ],
    };
  }

  subscribe(listener) {
    const id = this._nextListener++;
    this._listeners.set(id, listener);
    return id;
  }

  unsubscribe(id) {
    this._listeners.delete(id);
  }

  _emit() {
    const v = this.view();
    for (const l of [...this._listeners.values()]) {
      try {
        l(v);
      } catch (err) {
        console.error('[fake-engine] listener failed', err);
      }
    }
    this._scheduleWake();
    return v;
  }

  _log(service, kind, detail) {
    this._events.push({ at: this._now(), service, kind, detail });
    if (this._events.length > 500) this._events.shift();
  }

  _conn(service) {
    const c = this._conns.get(service);
    if (!c) throw { code: 'unknown_service', message: `Unknown service "${service}".`, service };
    return c;
  }

  // ---- actions ------------------------------------------------------------------------------
  selectMailService(choice) {
    this._calls.push({ method: 'selectMailService', service: null, options: { choice } });
    if (!MAIL_CHOICES.some((c) => c.id === choice)) {
      throw { code: 'invalid_argument', message: `Unknown mail service "${choice}".` };
    }
    this._mailService = choice;
    this._log('engine', 'mail_service', choice);
    return this._emit();
  }

  async connect(service, options = {}) {
    this._calls.push({ method: 'connect', service, options: { ...options } });
    return this._signIn(service, options, 'change');
  }

  async reauthorize(service) {
    this._calls.push({ method: 'reauthorize', service, options: {} });
    const c = this._conn(service);
    if (!c.account) throw { code: 'not_connected', message: `${TITLES[service]} is not connected yet.`, service };
    return this._signIn(service, { loginHint: c.account }, 'refresh');
  }

  async _signIn(service, options, mode) {
    const c = this._conn(service);
    if (c.busy) throw { code: 'busy', message: `${TITLES[service]} is busy.`, service };
    const before = { ...c };
    c.status = 'signing_in';
    c.busy = true;
    this._log(service, 'sign_in_started', `${mode}${options.loginHint ? ' with login hint' : ''}${options.loginHost ? ` at ${options.loginHost}` : ''}`);
    this._emit();
    try {
      if (this._fake.popup) {
        const state = randomState();
        const redirectUri = new URL('/www/callback.html', globalThis.location?.origin ?? 'http://127.0.0.1').href;
        const url = `${redirectUri}?code=fake-code-${service}&state=${state}`;
        const result = await this._driver.openSignIn(url, redirectUri, true);
        const got = new URL(result);
        if (got.searchParams.get('state') !== state) throw { code: 'state_mismatch', message: 'The sign-in answer did not match.' };
      } else {
        await sleep(this._fake.delayMs);
      }
      const fault = this._takeFault(service);
      if (fault) {
        const d = classifyRefreshError(service, fault.status, fault.body);
        throw { code: 'sign_in_failed', message: d.reasonText, service, reason: d.reason, action: d.action };
      }
      const now = this._now();
      Object.assign(c, {
        account: options.loginHint || before.account || DEFAULT_ACCOUNTS[service],
        status: 'connected',
        reason: null,
        action: null,
        connectedAt: now,
        failures: 0,
        nextRetryAt: null,
        busy: false,
        ...this._freshTokens(service, now),
      });
      if (service === 'microsoft') c.signInNeededAt = now + 24 * HOUR;
      if (service === 'salesforce') {
        const host = options.loginHost || 'https://login.salesforce.com';
        if (!this._savedLogins.some((l) => l.username === c.account && l.loginHost === host)) {
          this._savedLogins.unshift({ username: c.account, loginHost: host });
        }
      }
      this._log(service, 'signed_in', `account ${c.account}`);
      return this._emit();
    } catch (err) {
      Object.assign(c, before, { busy: false });
      this._log(service, 'sign_in_failed', err?.code ?? 'error');
      this._emit();
      throw err && typeof err === 'object' && err.code ? { service, ...err } : { code: 'sign_in_failed', message: String(err), service };
    }
  }

  _freshTokens(service, now) {
    if (service === 'exchange') return { accessTokenExpiresAt: null, expiryProvenance: null, signInNeededAt: null };
    if (service === 'salesforce') return { accessTokenExpiresAt: now + 2 * HOUR, expiryProvenance: 'session_timeout' };
    if (service === 'google') return { accessTokenExpiresAt: now + HOUR, expiryProvenance: 'expires_in' };
    return { accessTokenExpiresAt: now + 75 * MIN, expiryProvenance: 'expires_in' };
  }

  async disconnect(service) {
    this._calls.push({ method: 'disconnect', service, options: {} });
    const c = this._conn(service);
    c.busy = true;
    this._emit();
    await sleep(Math.min(this._fake.delayMs, 200));
    Object.assign(c, DISCONNECTED);
    this._log(service, 'disconnected', 'revoked and cleared locally');
    return this._emit();
  }

  async accessToken(service) {
    const c = this._conn(service);
    if (c.status !== 'connected') {
      throw { code: 'not_connected', message: `${TITLES[service]} is not connected.`, service, reason: c.reason, action: c.action ?? 'change' };
    }
    return `fake-access-token-${service}`;
  }

  async fetch(service, url, init = {}) {
    await this.accessToken(service);
    this._log(service, 'api_request', `${init.method ?? 'GET'} ${new URL(url, 'https://api.invalid').pathname}`);
    return { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
  }

  // ---- schedule -----------------------------------------------------------------------------
  async tick() {
    const now = this._now();
    for (const c of this._conns.values()) {
      if (c.busy) continue;
      if ((c.status === 'connected' || c.status === 'retrying') && c.signInNeededAt !== null && now >= c.signInNeededAt) {
        Object.assign(c, { status: 'needs_attention', reason: 'session_lifetime_reached', action: 'refresh', accessTokenExpiresAt: null, expiryProvenance: null, nextRetryAt: null });
        this._log(c.service, 'refresh_failed', 'AADSTS700084: 24 h lifetime reached');
        continue;
      }
      const due =
        (c.status === 'connected' && c.accessTokenExpiresAt !== null && c.accessTokenExpiresAt - now <= 5 * MIN) ||
        (c.status === 'retrying' && c.nextRetryAt !== null && now >= c.nextRetryAt);
      if (due) await this._refresh(c);
    }
    this._emit();
  }

  async _refresh(c) {
    const wasStatus = c.status;
    c.status = 'refreshing';
    c.busy = true;
    this._emit();
    const fault = this._takeFault(c.service);
    if (fault?.delayMs) await sleep(Math.min(fault.delayMs, 3000));
    else await sleep(Math.min(this._fake.delayMs, 150));
    c.busy = false;
    const now = this._now();
    if (fault && !fault.delayMs) {
      const d = classifyRefreshError(c.service, fault.status, fault.body);
      if (d.transient) {
        c.failures += 1;
        if (c.failures >= 6) {
          Object.assign(c, { status: 'needs_attention', reason: 'provider_unavailable', action: 'refresh', nextRetryAt: null });
          this._log(c.service, 'refresh_failed', 'six failures in a row: asking the user');
          return;
        }
        const backoff = fault.retryAfter ? fault.retryAfter * 1000 : Math.min(2 ** c.failures * 30_000, 30 * MIN);
        Object.assign(c, { status: 'retrying', reason: d.reason, action: 'retry_later', nextRetryAt: now + backoff });
        this._log(c.service, 'retry_scheduled', `${d.reason}; next try in ${Math.round(backoff / 1000)} s`);
      } else {
        Object.assign(c, { status: 'needs_attention', reason: d.reason, action: d.action, nextRetryAt: null, accessTokenExpiresAt: null, expiryProvenance: null });
        this._log(c.service, 'refresh_failed', d.reason);
      }
      return;
    }
    Object.assign(c, { status: 'connected', reason: null, action: null, nextRetryAt: null, failures: 0, ...this._freshTokens(c.service, now) });
    if (c.service === 'microsoft' && c.signInNeededAt === null) c.signInNeededAt = now + 24 * HOUR;
    this._log(c.service, 'refreshed', `${wasStatus === 'retrying' ? 'after retry; ' : ''}access token until ${new Date(c.accessTokenExpiresAt ?? now).toISOString()}`);
  }

  nextWakeAt() {
    let next;
    for (const c of this._conns.values()) {
      const candidates = [];
      if (c.status === 'connected') {
        if (c.accessTokenExpiresAt !== null) candidates.push(c.accessTokenExpiresAt - 5 * MIN);
        if (c.signInNeededAt !== null) candidates.push(c.signInNeededAt);
      }
      if (c.status === 'retrying' && c.nextRetryAt !== null) candidates.push(c.nextRetryAt);
      for (const t of candidates) if (next === undefined || t < next) next = t;
    }
    return next;
  }

  _scheduleWake() {
    const at = this.nextWakeAt();
    // The driver's timer runs on the host clock: take the devtools clock offset back out.
    if (at !== undefined && typeof this._driver.scheduleWake === 'function') this._driver.scheduleWake(at - this._offset);
  }

  // ---- devtools -----------------------------------------------------------------------------
  debugState() {
    const connections = {};
    for (const c of this._conns.values()) {
      connections[c.service] = {
        status: c.status,
        account: c.account,
        accessToken: c.status === 'connected' ? '[redacted]' : null,
        refreshToken: c.account && c.service !== 'exchange' ? '[redacted]' : null,
        connectedAt: c.connectedAt,
        accessTokenExpiresAt: c.accessTokenExpiresAt,
        expiryProvenance: c.expiryProvenance,
        signInNeededAt: c.signInNeededAt,
        reason: c.reason,
        action: c.action,
        consecutiveFailures: c.failures,
        nextRetryAt: c.nextRetryAt,
        pendingFault: this._failNext.has(c.service) ? this._failNext.get(c.service).kind : null,
      };
    }
    return { engine: 'fake', now: this._now(), clockOffsetMs: this._offset, mailService: this._mailService, nextWakeAt: this.nextWakeAt() ?? null, connections };
  }

  eventLog() {
    return this._events.map((e) => ({ ...e }));
  }

  // ---- fake-only ----------------------------------------------------------------------------
  fakeFailNext(spec) {
    if (!spec || !spec.provider) throw { code: 'invalid_argument', message: 'fakeFailNext needs {provider, kind, ...}' };
    this._failNext.set(spec.provider, { ...spec });
    this._log(spec.provider, 'fault_armed', spec.kind === 'error' ? `next token request fails: ${spec.code}` : `next token request: ${spec.kind}`);
    this._emit();
  }

  /** The local identity provider's control endpoint, emulated: '/fail-next', '/revoke', '/end-sessions'. */
  async fakeControl(path, body = {}) {
    if (path === '/fail-next') return this.fakeFailNext(body);
    if (path === '/revoke') {
      const code = { microsoft: 'AADSTS50173', google: 'invalid_grant', salesforce: 'expired access/refresh token' }[body.provider];
      if (!code) throw { code: 'invalid_argument', message: `Nothing to revoke for ${body.provider}.` };
      const spec = { provider: body.provider, endpoint: 'token', kind: 'error', code };
      this._failNext.set(body.provider, spec);
      this._log(body.provider, 'grants_revoked', `all grants of ${body.account ?? 'the account'} revoked (fake)`);
      this._emit();
      return { ok: true };
    }
    if (path === '/end-sessions') {
      this._log(body.provider ?? 'all', 'sessions_ended', 'provider login sessions ended (fake: no effect)');
      this._emit();
      return { ok: true };
    }
    throw { code: 'invalid_argument', message: `Unknown control path ${path}` };
  }

  _takeFault(service) {
    const spec = this._failNext.get(service);
    if (!spec) return null;
    this._failNext.delete(service);
    return responseForFault(service, spec);
  }

  fakeCalls() {
    return this._calls.map((c) => ({ ...c, options: { ...c.options } }));
  }

  free() {
    this._listeners.clear();
  }
}

/** wasm-bindgen's default export initialises the module; the fake has nothing to load. */
export default async function init() {
  return {};
}

export function initSync() {
  return {};
}

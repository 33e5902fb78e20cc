//! The connection state machine: one per service.
//!
//! It is driven, never drives (the `quinn-proto` model). The host feeds it [`Input`]s with
//! the time and a source of randomness; it answers with [`Command`]s: open a sign-in
//! window, send this token request, persist, wake me at. Whatever the host does with a
//! command comes back as the next input. Nothing here reads a clock or touches the network,
//! so every path below is tested with plain `cargo test`.
//!
//! Rules it keeps (design.md, "Nothing lost"):
//! - a refresh token is deleted only when the provider said it is dead;
//! - a transient failure never deletes a token and never asks for a sign-in;
//! - a rotated refresh token is persisted (the `Persist` command comes first) before the
//!   new access token is handed to anyone;
//! - a failed Change or Refresh leaves the existing connection as it was.

use serde::{Deserialize, Serialize};

use crate::authorize::{self, PendingAuthorization, Prompt, RedirectError, SignInOptions};
use crate::diagnosis::{Action, Diagnosis, Reason};
use crate::http::{HttpRequest, HttpResponse};
use crate::provider::{
    self, AccessLifetime, ApiRejection, Config, ConfigError, ProviderId, ProviderProfile,
    ProviderRules, Target,
};
use crate::random::RandomSource;
use crate::schedule::{self, LoopGuard, MAX_CONSECUTIVE_FAILURES};
use crate::time::{Millis, ServerClock, Timestamp, MINUTE, SECOND};
use crate::token::{
    self, AccessToken, Expiry, ExpirySource, IdTokenExpectations, Identity, TokenResponseError,
};

/// An access token is handed out only with this much life left.
pub const FRESHNESS_MARGIN: Millis = 30 * SECOND;
/// A request the host never answered (a killed service worker, a lost window) is forgotten
/// after this long, so the connection is not stuck "refreshing" forever.
const IN_FLIGHT_TIMEOUT: Millis = 2 * MINUTE;
/// A sign-in window may stay open this long before it is considered abandoned.
const SIGN_IN_TIMEOUT: Millis = 15 * MINUTE;

/// What the host tells the state machine.
#[derive(Debug, Clone)]
pub enum Input {
    /// **Change**: sign in, possibly to another account, tenant or login host.
    Connect {
        login_hint: Option<String>,
        target: Target,
    },
    /// **Refresh**: sign in again to the same account.
    Reauthorize,
    /// What the sign-in window returned: the URL the provider redirected to, or why not.
    SignInResult(Result<String, SignInFailure>),
    /// The answer to the token request in flight; `Err` when no response arrived.
    TokenResponse(Result<HttpResponse, NetworkFailure>),
    /// Someone needs an access token now.
    AccessTokenNeeded,
    /// Time passed (an alarm, a timer, a wake-up): do what is due.
    Tick,
    /// The network came back (`online`) or the host (re)started: a Tick that ignores a
    /// transient-failure backoff once, so a connection that waited out an outage resumes at
    /// once instead of at the end of a long backoff.
    Online,
    /// The API answered 401 to a request made with the current access token.
    ApiUnauthorized(HttpResponse),
    /// The API refused a request in a way only an administrator can change (Exchange
    /// Online's EWS switched off for the tenant: `ProviderRules::api_forbidden`). The
    /// grant stays; the card says who can fix it.
    ApiRefused(Diagnosis),
    /// The API accepted the current access token.
    ApiSucceeded,
    /// The user asked to try again after the engine paused.
    RetryNow,
    /// Forget this connection (revoking where the provider can).
    Disconnect,
    /// Change or Refresh of a password provider (on-premises Exchange): the login and
    /// password the user typed, for `target` (its server). First `discover` (an
    /// autodiscover URL on a host the user confirmed) is asked for the server when the
    /// target has none; then the password is verified, and only then kept.
    Credentials(Credentials),
}

/// What the user typed in the credentials form. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub login: String,
    pub password: String,
    pub email: Option<String>,
    pub target: Target,
    /// An autodiscover URL on a host the user confirmed, when `target` names no server.
    pub discover: Option<(String, String)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("login", &self.login)
            .field("password", &"[redacted]")
            .field("target", &self.target)
            .finish()
    }
}

/// Why a sign-in window returned no redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInFailure {
    /// The user closed the window.
    Cancelled,
    /// A silent attempt needs the user (no session, consent, MFA).
    InteractionRequired,
    /// The browser blocked the window.
    PopupBlocked,
    /// The host could not run a sign-in (another dialog open, bad URL ...).
    HostError(String),
}

/// No response at all: offline, DNS, connection reset, CORS refusal, timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkFailure {
    /// No response: offline, DNS, connection reset, CORS refusal. The provider did not
    /// process the request.
    Unreachable(String),
    /// Sent, and no answer within the host's timeout (`src/web/net.rs`, 30 s): the
    /// provider may have processed it (a refresh may have rotated the refresh token).
    TimedOut,
}

impl NetworkFailure {
    fn diagnosis(&self) -> Diagnosis {
        match self {
            NetworkFailure::Unreachable(_) => Diagnosis::network_failure(),
            NetworkFailure::TimedOut => Diagnosis::timed_out(),
        }
    }
}

/// What the state machine asks the host to do, in order. When the connection next wants
/// an `Input::Tick` is not a command: the host asks `next_wake()` after each input (one
/// wake-up mechanism).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Open the provider's page. `interactive: false` means no window may be shown.
    OpenSignIn { url: String, interactive: bool },
    /// Send a token request and feed the answer back as `Input::TokenResponse`.
    SendTokenRequest(HttpRequest),
    /// Send a revocation (RFC 7009); its answer does not matter.
    SendRevocation(HttpRequest),
    /// The persisted state changed: save it before going on.
    Persist,
    /// The operation the last input started has ended.
    Complete(Result<(), OperationError>),
}

/// Why an operation did not end with a usable connection.
#[derive(Debug, Clone, PartialEq)]
pub enum OperationError {
    /// The sign-in window was closed, blocked or could not open.
    SignIn(SignInFailure),
    /// The redirect was refused (state, issuer, provider error).
    Redirect(RedirectError),
    /// The token endpoint refused, or could not be reached.
    TokenRequest(Diagnosis),
    /// A 2xx token response that could not be accepted.
    TokenResponse(TokenResponseError),
    /// The connection needs the user; the diagnosis says why and what to do.
    NeedsAttention(Diagnosis),
    /// A retry is scheduled; nothing to do but wait.
    RetryScheduled {
        at: Timestamp,
        diagnosis: Diagnosis,
    },
    /// Too many token requests in a short time; the next may go at `until`.
    Throttled {
        until: Timestamp,
    },
    NotConnected,
    /// A Refresh or a silent renewal came back signed in as another user (another `sub`):
    /// refused, the connection keeps its account and grant. Change is the way to switch
    /// accounts (OIDC Core §12.2: a renewal must return the same `sub`).
    WrongAccount,
    /// Another operation on this connection is in progress.
    Busy,
    Config(ConfigError),
}

/// Who is signed in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    pub username: Option<String>,
    pub name: Option<String>,
    pub subject: Option<String>,
    pub target: Target,
}

impl Account {
    fn same_user(&self, other: &Account) -> bool {
        match (&self.subject, &other.subject) {
            (Some(a), Some(b)) => a == b && self.target == other.target,
            _ => {
                let same_name = match (&self.username, &other.username) {
                    // Sign-in names are e-mail addresses: compared without case.
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    (a, b) => a == b,
                };
                same_name && self.target == other.target
            }
        }
    }
}

/// The refresh token and what is known about its life.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshTokenRecord {
    pub secret: String,
    /// The interactive sign-in that started this grant.
    pub signed_in_at: Timestamp,
    /// A fixed deadline no refresh extends (Microsoft `spa`: 24 h after sign-in).
    #[serde(default)]
    pub hard_deadline: Option<Timestamp>,
}

impl std::fmt::Debug for RefreshTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenRecord")
            .field("secret", &"[redacted]")
            .field("signed_in_at", &self.signed_in_at)
            .field("hard_deadline", &self.hard_deadline)
            .finish()
    }
}

/// What is in flight.
#[derive(Debug, Clone)]
enum Phase {
    Idle,
    SigningIn {
        pending: PendingAuthorization,
        intent: Intent,
        /// The provider resolved for this sign-in (Change may go to another tenant or
        /// login host); it becomes the connection's when the sign-in succeeds.
        profile: Box<ProviderProfile>,
        since: Timestamp,
    },
    ExchangingCode {
        pending: PendingAuthorization,
        intent: Intent,
        profile: Box<ProviderProfile>,
        since: Timestamp,
    },
    Refreshing {
        since: Timestamp,
    },
    /// A password provider: the autodiscover request (`discovering`) or the verify call is
    /// in flight.
    Verifying {
        credentials: Box<Credentials>,
        discovering: bool,
        since: Timestamp,
    },
}

/// Why a sign-in was started.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Intent {
    Change {
        login_hint: Option<String>,
        target: Target,
    },
    Reauthorize,
    /// A renewal without a window (`prompt=none`), because refreshing is impossible or the
    /// refresh token died; `cause` is shown if it fails.
    SilentRenewal {
        cause: Diagnosis,
    },
}

impl Intent {
    fn target<'a>(&'a self, account: Option<&'a Account>) -> Target {
        match self {
            Intent::Change { target, .. } => target.clone(),
            _ => account.map(|a| a.target.clone()).unwrap_or_default(),
        }
    }
}

/// The part of a connection that is persisted (the vault). Access tokens are not in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PersistedConnection {
    pub account: Option<Account>,
    pub refresh_token: Option<RefreshTokenRecord>,
    /// Why the user is needed, if they are.
    pub attention: Option<Diagnosis>,
    pub consecutive_failures: u32,
    /// 401s from the API in a row, each after a successful refresh; reset by a success.
    pub consecutive_api_rejections: u32,
    pub next_attempt_at: Option<Timestamp>,
    /// Last transient failure, for "will retry" in the dashboard.
    pub last_failure: Option<Diagnosis>,
    pub loop_guard: LoopGuard,
    /// A Microsoft claims challenge to pass to the next interactive sign-in.
    pub claims: Option<String>,
    /// Salesforce: base URL of API calls.
    pub instance_url: Option<String>,
    pub server_clock: ServerClock,
    /// The last refresh was sent and never answered (a timeout, a lost service worker): the
    /// provider may have rotated the refresh token we still hold.
    pub refresh_outcome_unknown: bool,
}

/// The time, randomness and host abilities an input is applied with.
pub struct Context<'a> {
    pub now: Timestamp,
    pub random: &'a mut dyn RandomSource,
    /// Whether the host can run a sign-in without showing anything (`launchWebAuthFlow`
    /// with `interactive: false`). The plain web host cannot.
    pub silent_sign_in: bool,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub service: ProviderId,
    /// What the provider is and does (resolved once, from the id).
    pub rules: &'static ProviderRules,
    /// The provider resolved for this connection's account (tenant, login host), once, and
    /// again only when a sign-in to another target succeeds or another context changed it.
    profile: Result<ProviderProfile, ConfigError>,
    pub state: PersistedConnection,
    access: Option<AccessToken>,
    refresh_due_at: Option<Timestamp>,
    phase: Phase,
    /// The last sign-in error, shown until the next attempt.
    pub last_sign_in_error: Option<OperationError>,
    /// The persisted state changed and the host has not confirmed saving it: set whenever
    /// this connection answers `Command::Persist`, cleared by `mark_saved`. While set, a
    /// reload from storage never overwrites memory (storage holds an older, possibly
    /// already rotated-away refresh token), nothing is handed out, and the save is retried
    /// before any token request (issue 11, defect 1).
    unsaved: bool,
    /// When a caller who needs a token may try again after a transient failure: the short
    /// backoff from the failure, sooner than the engine's own spread (`schedule`). Kept in
    /// memory (the module's size budget): another context, or this one after a restart,
    /// waits for `next_attempt_at`, which a start's `online()` ends anyway.
    caller_retry_at: Option<Timestamp>,
    /// When a failed save is tried again (the wake-up re-armed after a storage error).
    save_retry_at: Option<Timestamp>,
    /// Something the engine should record in its event log (a kind, no secret).
    note: Option<&'static str>,
    /// A refresh was given up as unanswered (`IN_FLIGHT_TIMEOUT`) but its answer may still
    /// come: a late success is taken, since it may carry a rotated refresh token the provider
    /// now expects (dropping it would leave only the rotated-away one, which providers with
    /// reuse detection answer by revoking the grant; RFC 9700 §4.14.2).
    late_refresh: bool,
    /// A Change (interactive sign-in or password) just succeeded: the engine lets the mail
    /// service follow it (`take_changed`); a renewal never sets it.
    changed: bool,
    /// Whether the next API 401 counts toward the six-rejection rule: true until a 401 is
    /// seen, then again once a new access token arrives (see `on_api_unauthorized`).
    api_rejection_counts: bool,
}

/// After a failed save, the next attempt is this far away (the storage error may be a
/// quota or a locked profile; the next input retries sooner anyway).
const SAVE_RETRY_DELAY: Millis = 30 * SECOND;

impl Connection {
    pub fn new(service: ProviderId, config: &Config) -> Connection {
        Connection::restore(service, <PersistedConnection as Default>::default(), config)
    }

    pub fn restore(service: ProviderId, state: PersistedConnection, config: &Config) -> Connection {
        Connection {
            service,
            rules: service.rules(),
            profile: resolve(config, service, &state),
            state,
            access: None,
            refresh_due_at: None,
            phase: Phase::Idle,
            last_sign_in_error: None,
            unsaved: false,
            save_retry_at: None,
            caller_retry_at: None,
            note: None,
            late_refresh: false,
            changed: false,
            api_rejection_counts: true,
        }
    }

    /// Whether the last input completed a Change (cleared by reading).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// What the last input wants recorded in the event log.
    pub fn take_note(&mut self) -> Option<&'static str> {
        self.note.take()
    }

    /// The origin of this connection's API instance (Salesforce `instance_url`), only while
    /// the provider's rules accept it (a value stored by an older version is checked again).
    pub fn instance_origin(&self) -> Option<String> {
        let url = self.state.instance_url.as_deref()?;
        self.profile()
            .and_then(|p| p.accept_instance_url(url).ok().flatten())
    }

    /// Whether the persisted state changed and its save has not been confirmed.
    pub fn is_unsaved(&self) -> bool {
        self.unsaved
    }

    /// The host saved this connection's state.
    pub fn mark_saved(&mut self) {
        self.unsaved = false;
        self.save_retry_at = None;
    }

    /// The host could not save this connection's state at `now`: it stays unsaved and the
    /// save is tried again at the next wake-up (`next_wake`) or input.
    pub fn save_failed(&mut self, now: Timestamp) {
        self.unsaved = true;
        self.save_retry_at = Some(now.plus(SAVE_RETRY_DELAY));
    }

    /// An access token cached outside the vault (session storage) after a restart.
    pub fn restore_access_token(&mut self, token: AccessToken, random: &mut dyn RandomSource) {
        if self.state.refresh_token.is_some() || self.state.account.is_some() {
            self.refresh_due_at = Some(schedule::refresh_due_at(
                token.issued_at,
                &token.expiry,
                random.unit(),
            ));
            self.access = Some(token);
        }
    }

    /// Takes the persisted state another context wrote (it may hold a rotated refresh token
    /// this instance never saw), keeping what is in flight here. Returns whether it changed.
    pub fn adopt_persisted(&mut self, stored: PersistedConnection, config: &Config) -> bool {
        // Memory holds changes storage does not (a failed save after a rotation): storage's
        // refresh token may be the one the provider already rotated away, and replaying it
        // revokes the grant at providers with reuse detection (RFC 9700 §4.14.2).
        if stored == self.state || self.unsaved {
            return false;
        }
        let target = |s: &PersistedConnection| s.account.as_ref().map(|a| a.target.clone());
        if target(&stored) != target(&self.state) {
            self.profile = resolve(config, self.service, &stored);
        }
        // Our access token stays valid (another context's refresh does not revoke it); the
        // session cache, if the host has one, brings the newer one.
        self.state = stored;
        true
    }

    /// The provider resolved for this connection, when its configuration allows a sign-in.
    pub fn profile(&self) -> Option<&ProviderProfile> {
        self.profile.as_ref().ok()
    }

    /// The card title: the profile's ("Outlook.com"), else the provider's.
    pub fn title(&self) -> &'static str {
        self.profile().map_or(self.rules.title, |p| p.title)
    }

    /// An access token from the session cache, taken if it is newer than ours.
    pub fn adopt_access_token(&mut self, token: AccessToken, random: &mut dyn RandomSource) {
        let newer = self
            .access
            .as_ref()
            .is_none_or(|mine| token.issued_at > mine.issued_at);
        if newer && self.state.account.is_some() {
            self.restore_access_token(token, random);
        }
    }

    pub fn access_token(&self) -> Option<&AccessToken> {
        self.access.as_ref()
    }

    /// The access token, if it has at least `FRESHNESS_MARGIN` left.
    /// Nothing unsaved is handed out: while the state that came with this token (a rotated
    /// refresh token) is not stored, a crash would lose the grant the token belongs to.
    pub fn fresh_access_token(&self, now: Timestamp) -> Option<&str> {
        if self.unsaved {
            return None;
        }
        self.access
            .as_ref()
            .filter(|t| t.is_fresh(now, FRESHNESS_MARGIN))
            .map(|t| t.secret.as_str())
    }

    /// The request that verifies an access token whose end is only estimated, when the
    /// estimate has become uncertain; `None` otherwise (issue 11, defect 10). Salesforce
    /// gives no `expires_in`: its session ends a configured time after the last use, and an
    /// administrator or a shorter org policy may end it sooner. Past half of the estimate
    /// since the last sign of life (issue, or an API success), the session is checked
    /// (`ProviderProfile::session_check_url`) before the token is handed out: its answer
    /// goes back in as `ApiSucceeded` (the estimate moves on) or `ApiUnauthorized` (the
    /// token is expired, a refresh follows), instead of the caller's API call meeting a 401.
    /// The host sends a GET with the token as a Bearer credential (RFC 6750 §2.1).
    pub fn session_check(&self, now: Timestamp) -> Option<&str> {
        let access = self
            .access
            .as_ref()
            .filter(|a| a.expiry.source == ExpirySource::SessionTimeout)?;
        let alive_since = access.expiry.at.0.saturating_sub(access.expiry.lifetime);
        if now.0 < alive_since.saturating_add(access.expiry.lifetime / 2) {
            return None;
        }
        self.profile.as_ref().ok()?.session_check_url.as_deref()
    }

    pub fn is_connected(&self) -> bool {
        self.state.account.is_some()
            && (self.state.refresh_token.is_some() || self.access.is_some())
    }

    /// Nothing here for a tick or `online` to act on: no account, nothing in flight, nothing
    /// unsaved, nothing to tell the user. (The hosts then skip the cross-context lock and
    /// the storage read a renewal takes: at a page's start they held up its first Connect,
    /// issue 12.)
    pub fn is_vacant(&self) -> bool {
        self.state.account.is_none()
            && !self.is_busy()
            && !self.unsaved
            && self.state.attention.is_none()
            && self.state.last_failure.is_none()
    }

    pub fn is_busy(&self) -> bool {
        !matches!(self.phase, Phase::Idle)
    }

    pub fn is_signing_in(&self) -> bool {
        matches!(
            self.phase,
            Phase::SigningIn { .. } | Phase::ExchangingCode { .. } | Phase::Verifying { .. }
        )
    }

    pub fn is_refreshing(&self) -> bool {
        matches!(self.phase, Phase::Refreshing { .. })
    }

    /// Why the user is needed (a rejection, or six API rejections in a row).
    pub fn attention(&self) -> Option<&Diagnosis> {
        self.state.attention.as_ref()
    }

    pub fn refresh_due_at(&self) -> Option<Timestamp> {
        self.refresh_due_at
    }

    /// When the user will have to sign in at the latest, where that is known: the fixed
    /// refresh-token deadline (Microsoft `spa`), or the access token's expiry when there is
    /// no way to renew it.
    pub fn sign_in_needed_at(&self) -> Option<Timestamp> {
        if let Some(deadline) = self
            .state
            .refresh_token
            .as_ref()
            .and_then(|r| r.hard_deadline)
        {
            return Some(deadline);
        }
        let can_refresh = self.profile().is_none_or(|p| p.can_refresh);
        match (&self.state.refresh_token, &self.access) {
            (None, Some(access)) => Some(access.expiry.at),
            (Some(_), Some(access)) if !can_refresh => Some(access.expiry.at),
            _ => None,
        }
    }

    /// When the host should next wake this connection.
    pub fn next_wake(&self) -> Option<Timestamp> {
        if let (true, Some(at)) = (self.unsaved, self.save_retry_at) {
            return Some(at);
        }
        match &self.phase {
            Phase::SigningIn { since, .. } | Phase::ExchangingCode { since, .. } => {
                return Some(since.plus(SIGN_IN_TIMEOUT))
            }
            Phase::Refreshing { since } | Phase::Verifying { since, .. } => {
                return Some(since.plus(IN_FLIGHT_TIMEOUT))
            }
            Phase::Idle => {}
        }
        if self.state.attention.is_some() || !self.is_connected() {
            return None;
        }
        match self.state.next_attempt_at {
            Some(at) => Some(at),
            None => self.refresh_due_at,
        }
    }

    /// The single entry point: apply `input` at `ctx.now`.
    pub fn handle(&mut self, config: &Config, input: Input, ctx: &mut Context<'_>) -> Vec<Command> {
        self.expire_stale_phase(ctx.now);
        let retry_save = self.unsaved
            && matches!(
                input,
                Input::AccessTokenNeeded | Input::Tick | Input::Online | Input::RetryNow
            );
        let mut commands = self.apply(config, input, ctx);
        if retry_save {
            // The save that failed goes first: before any token request (which must not
            // use a refresh token storage does not hold) and before any token is handed
            // out. If it fails again the host stops there.
            commands.retain(|c| *c != Command::Persist);
            commands.insert(0, Command::Persist);
        }
        if commands.contains(&Command::Persist) {
            self.unsaved = true;
        }
        commands
    }

    fn apply(&mut self, config: &Config, input: Input, ctx: &mut Context<'_>) -> Vec<Command> {
        match input {
            Input::Connect { login_hint, target } => {
                self.start_sign_in(config, Intent::Change { login_hint, target }, ctx)
            }
            Input::Reauthorize => self.start_sign_in(config, Intent::Reauthorize, ctx),
            Input::SignInResult(result) => self.on_sign_in_result(result, ctx),
            Input::TokenResponse(response) => self.on_token_response(config, response, ctx),
            Input::AccessTokenNeeded => self.on_access_token_needed(config, ctx),
            Input::Tick => self.on_tick(config, ctx),
            Input::Online => {
                // A wait the provider asked for (429 `Retry-After`, a detected request
                // loop) is not cut short: coming back online changes nothing about it.
                let transient = |d: &Diagnosis| {
                    d.reason.is_transient()
                        && !matches!(d.reason, Reason::RateLimited | Reason::RequestLoopDetected)
                };
                if self.state.last_failure.as_ref().is_some_and(transient) {
                    self.state.next_attempt_at = None;
                } else if self
                    .state
                    .last_failure
                    .as_ref()
                    .is_some_and(|d| d.reason == Reason::RateLimited)
                {
                    // The provider's `Retry-After` stands; the engine's spread beyond it does not.
                    self.state.next_attempt_at = self.caller_retry_at();
                }
                // A pause stored by an older version after six transient failures.
                if self.state.attention.as_ref().is_some_and(transient) {
                    self.state.attention = None;
                }
                self.on_tick(config, ctx)
            }
            Input::ApiUnauthorized(response) => self.on_api_unauthorized(response, ctx),
            Input::ApiRefused(diagnosis) => self.needs_user(diagnosis),
            Input::ApiSucceeded => self.on_api_succeeded(ctx),
            Input::RetryNow => {
                if !self.is_connected() {
                    return vec![Command::Complete(Err(OperationError::NotConnected))];
                }
                let paused_transient = self
                    .state
                    .attention
                    .as_ref()
                    .is_some_and(|d| d.reason.is_transient());
                if paused_transient {
                    self.state.attention = None;
                }
                self.state.consecutive_failures = 0;
                self.state.next_attempt_at = None;
                let mut out = vec![Command::Persist];
                out.extend(self.on_access_token_needed(config, ctx));
                out
            }
            Input::Disconnect => self.disconnect(config),
            Input::Credentials(credentials) => self.start_verify(config, credentials, ctx),
        }
    }

    fn current_profile(&self) -> Result<ProviderProfile, OperationError> {
        self.profile.clone().map_err(OperationError::Config)
    }

    fn expire_stale_phase(&mut self, now: Timestamp) {
        let stale = match &self.phase {
            Phase::Idle => false,
            Phase::SigningIn { since, .. } | Phase::ExchangingCode { since, .. } => {
                now >= since.plus(SIGN_IN_TIMEOUT)
            }
            Phase::Refreshing { since } | Phase::Verifying { since, .. } => {
                now >= since.plus(IN_FLIGHT_TIMEOUT)
            }
        };
        if stale {
            if matches!(self.phase, Phase::Refreshing { .. }) {
                // The host never answered: the request may have reached the provider.
                self.state.refresh_outcome_unknown = true;
            }
            self.late_refresh = matches!(self.phase, Phase::Refreshing { .. });
            self.phase = Phase::Idle;
        }
    }

    // ---- sign-in -------------------------------------------------------------------------

    fn start_sign_in(
        &mut self,
        config: &Config,
        intent: Intent,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        if self.is_busy() && !matches!(self.phase, Phase::SigningIn { .. }) {
            return vec![Command::Complete(Err(OperationError::Busy))];
        }
        if matches!(intent, Intent::Reauthorize) && self.state.account.is_none() {
            return vec![Command::Complete(Err(OperationError::NotConnected))];
        }
        let resolved = match &intent {
            Intent::Change { target, .. } => {
                provider::profile_for(config, self.service, target).map_err(OperationError::Config)
            }
            _ => self.current_profile(),
        };
        let profile = match resolved {
            Ok(p) => p,
            Err(e) => return vec![Command::Complete(Err(e))],
        };
        // Store the resolved login host ("sandbox" becomes its URL) with the sign-in.
        let intent = match intent {
            Intent::Change {
                login_hint,
                mut target,
            } => {
                if profile.login_host.is_some() {
                    target.login_host = profile.login_host.clone();
                }
                Intent::Change { login_hint, target }
            }
            other => other,
        };
        let current_user = self.state.account.as_ref().and_then(|a| a.username.clone());
        let (login_hint, prompts) = match &intent {
            // Change: the provider's account picker or login page.
            Intent::Change { login_hint, .. } => {
                (login_hint.clone(), profile.change_prompts.clone())
            }
            // Refresh: the same account. Google issues a new refresh token only on a consent
            // screen; the others let the provider decide what to ask.
            Intent::Reauthorize => (current_user, profile.refresh_prompts.clone()),
            Intent::SilentRenewal { .. } => (current_user, vec![Prompt::None]),
        };
        let claims = match intent {
            Intent::SilentRenewal { .. } => None,
            _ => self.state.claims.clone(),
        };
        let options = SignInOptions {
            login_hint,
            prompts,
            claims,
        };
        let (url, pending) = authorize::authorization_url(&profile, &options, ctx.random, ctx.now);
        let interactive = pending.interactive;
        self.last_sign_in_error = None;
        self.phase = Phase::SigningIn {
            pending,
            intent,
            profile: Box::new(profile),
            since: ctx.now,
        };
        vec![Command::OpenSignIn {
            url: url.to_string(),
            interactive,
        }]
    }

    fn on_sign_in_result(
        &mut self,
        result: Result<String, SignInFailure>,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        let Phase::SigningIn {
            pending,
            intent,
            profile,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            // A late answer from a window we no longer wait for.
            return Vec::new();
        };
        let failure = match result {
            Ok(redirect) => match authorize::parse_redirect(&profile, &pending, &redirect) {
                Ok(code) => {
                    let request = authorize::code_exchange_request(&profile, &pending, code);
                    self.phase = Phase::ExchangingCode {
                        pending,
                        intent,
                        profile,
                        since: ctx.now,
                    };
                    return vec![Command::SendTokenRequest(request)];
                }
                Err(e) => OperationError::Redirect(e),
            },
            Err(failure) => OperationError::SignIn(failure),
        };
        self.sign_in_failed(intent, failure, ctx)
    }

    /// The one path for "this needs the user": the connection stops renewing by itself and
    /// the dashboard shows the diagnosis with its action.
    fn needs_user(&mut self, diagnosis: Diagnosis) -> Vec<Command> {
        self.state.attention = Some(diagnosis.clone());
        self.state.next_attempt_at = None;
        vec![
            Command::Persist,
            Command::Complete(Err(OperationError::NeedsAttention(diagnosis))),
        ]
    }

    fn sign_in_failed(
        &mut self,
        intent: Intent,
        failure: OperationError,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        if let Intent::SilentRenewal { cause } = intent {
            // A silent renewal whose token request failed for a transient reason is retried
            // like a refresh: a transient failure never asks for a sign-in.
            // So is a window whose page did not load: Chromium ends a flow on an HTTP error
            // page with "Authorization page could not be loaded." (web_auth_flow_browsertest.cc,
            // OnAuthFlowFailureChangeCalled), a host error; only the provider asking for the
            // user (`InteractionRequired`) or an error it redirects with needs the user.
            let transient = match &failure {
                OperationError::TokenRequest(d) if d.reason.is_transient() => Some(d.clone()),
                OperationError::SignIn(SignInFailure::HostError(_)) => {
                    Some(Diagnosis::transient(Reason::ProviderUnavailable))
                }
                _ => None,
            };
            if let Some(d) = transient {
                self.state.consecutive_failures = self.state.consecutive_failures.saturating_add(1);
                return self.schedule_retry(d, ctx);
            }
            // The silent attempt did not work (no session, or consent needed): the user is
            // needed now, for the reason the renewal was tried.
            return self.needs_user(cause);
        }
        // A failed Change or Refresh changes nothing about the existing connection.
        self.last_sign_in_error = Some(failure.clone());
        vec![Command::Complete(Err(failure))]
    }

    fn on_code_exchanged(
        &mut self,
        pending: PendingAuthorization,
        intent: Intent,
        profile: ProviderProfile,
        response: Result<HttpResponse, NetworkFailure>,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        let target = intent.target(self.state.account.as_ref());
        let response = match response {
            Ok(r) => r,
            Err(failure) => {
                return self.sign_in_failed(
                    intent,
                    OperationError::TokenRequest(failure.diagnosis()),
                    ctx,
                )
            }
        };
        if !response.is_success() {
            let diagnosis = self.rules.classify(&response, ctx.now);
            return self.sign_in_failed(intent, OperationError::TokenRequest(diagnosis), ctx);
        }
        let grant = match token::parse_token_response(
            &profile,
            &response,
            ctx.now,
            IdTokenExpectations {
                nonce: Some(&pending.nonce),
            },
        ) {
            Ok(g) => g,
            Err(e) => return self.sign_in_failed(intent, OperationError::TokenResponse(e), ctx),
        };
        // The instance URL decides where the token goes: only from the provider that
        // documents one, on its documented domains (issue 11, defect 3).
        let instance_url = match grant.instance_url.as_deref() {
            None => None,
            Some(url) => match profile.accept_instance_url(url) {
                Ok(Some(_)) => Some(url.to_string()),
                Ok(None) => None,
                Err(e) => {
                    let refused = TokenResponseError::InstanceUrlRefused(e);
                    return self.sign_in_failed(
                        intent,
                        OperationError::TokenResponse(refused),
                        ctx,
                    );
                }
            },
        };
        let login_hint = match &intent {
            Intent::Change { login_hint, .. } => login_hint.clone(),
            _ => None,
        };
        let identity = grant.identity.clone().unwrap_or_default();
        let new_account = Account {
            username: identity
                .username
                .clone()
                .or(login_hint)
                .or_else(|| self.state.account.as_ref().and_then(|a| a.username.clone())),
            name: identity.name.clone(),
            subject: identity.subject.clone(),
            target,
        };
        let account_changed = self
            .state
            .account
            .as_ref()
            .is_some_and(|old| !old.same_user(&new_account));
        if account_changed && !matches!(intent, Intent::Change { .. }) {
            // The tokens just received belong to someone else: they are dropped, never
            // stored, and the mailbox stays the one the user connected.
            return self.sign_in_failed(intent, OperationError::WrongAccount, ctx);
        }
        let mut commands = Vec::new();
        let previous = self.state.refresh_token.take();
        self.state.account.take();
        let new_refresh = grant
            .refresh_token
            .clone()
            .map(|secret| RefreshTokenRecord {
                secret,
                signed_in_at: ctx.now,
                hard_deadline: profile.fixed_refresh_horizon.map(|h| ctx.now.plus(h)),
            });
        // Keep the old refresh token if the provider sent none and the user is the same.
        self.state.refresh_token = match (new_refresh, &previous) {
            (Some(new), _) => Some(new),
            (None, Some(old)) if !account_changed => Some(old.clone()),
            (None, _) => None,
        };
        self.state.account = Some(new_account);
        self.state.attention = None;
        self.state.last_failure = None;
        self.state.consecutive_failures = 0;
        self.state.next_attempt_at = None;
        self.state.claims = None;
        self.state.refresh_outcome_unknown = false;
        self.state.instance_url = instance_url;
        if let Some(clock) = grant.server_clock {
            self.state.server_clock = clock;
        }
        self.set_access(grant.access, ctx);
        self.last_sign_in_error = None;
        self.changed = matches!(intent, Intent::Change { .. });
        commands.push(Command::Persist);
        // The first account's grant is revoked after the new one is safely stored, and only
        // when the user changed: revoking a Google refresh token ends the whole grant,
        // which would include the new token of the same user.
        let old_profile = std::mem::replace(&mut self.profile, Ok(profile));
        if account_changed {
            if let (Some(old), Ok(old_profile)) = (previous, old_profile) {
                commands.extend(
                    authorize::revocation_request(&old_profile, &old.secret)
                        .map(Command::SendRevocation),
                );
            }
        }
        commands.push(Command::Complete(Ok(())));
        commands
    }

    fn set_access(&mut self, access: AccessToken, ctx: &mut Context<'_>) {
        self.refresh_due_at = Some(schedule::refresh_due_at(
            access.issued_at,
            &access.expiry,
            ctx.random.unit(),
        ));
        self.access = Some(access);
        self.api_rejection_counts = true;
    }

    // ---- refresh --------------------------------------------------------------------------

    fn on_access_token_needed(&mut self, config: &Config, ctx: &mut Context<'_>) -> Vec<Command> {
        if self.rules.password.is_some() {
            // The password is the grant: nothing to renew, and a refused one waits for the
            // user (never retried automatically: account lockout).
            return vec![Command::Complete(
                match (&self.state.attention, self.is_connected()) {
                    (Some(d), _) => Err(OperationError::NeedsAttention(d.clone())),
                    (None, false) => Err(OperationError::NotConnected),
                    (None, true) => Ok(()),
                },
            )];
        }
        let fresh = self
            .access
            .as_ref()
            .is_some_and(|t| t.is_fresh(ctx.now, FRESHNESS_MARGIN));
        if fresh {
            return vec![Command::Complete(Ok(()))];
        }
        if self.is_busy() {
            return vec![Command::Complete(Err(OperationError::Busy))];
        }
        if !self.is_connected() && self.state.account.is_none() {
            return vec![Command::Complete(Err(OperationError::NotConnected))];
        }
        if let Some(attention) = &self.state.attention {
            return vec![Command::Complete(Err(OperationError::NeedsAttention(
                attention.clone(),
            )))];
        }
        if let (Some(at), Some(diagnosis)) = (self.caller_retry_at(), &self.state.last_failure) {
            if ctx.now < at {
                return vec![Command::Complete(Err(OperationError::RetryScheduled {
                    at,
                    diagnosis: diagnosis.clone(),
                }))];
            }
        }
        self.renew(config, ctx)
    }

    /// When a caller who needs a token may try again: never later than the engine itself.
    fn caller_retry_at(&self) -> Option<Timestamp> {
        let at = self.state.next_attempt_at?;
        Some(self.caller_retry_at.map_or(at, |c| c.min(at)))
    }

    fn on_tick(&mut self, config: &Config, ctx: &mut Context<'_>) -> Vec<Command> {
        if self.unsaved && !self.is_busy() {
            // A wake-up re-armed after a storage error: `handle` puts the save first; the
            // renewal below runs only if it is due anyway.
            if self.save_retry_at.is_some_and(|at| ctx.now >= at) {
                self.save_retry_at = None;
            }
        }
        if self.is_busy()
            || self.state.attention.is_some()
            || !self.is_connected()
            || self.rules.password.is_some()
        {
            return Vec::new();
        }
        let due = match self.state.next_attempt_at {
            Some(at) => ctx.now >= at,
            None => self.refresh_due_at.is_none_or(|at| ctx.now >= at),
        };
        if !due {
            return Vec::new();
        }
        let mut commands = self.renew(config, ctx);
        // A tick has no caller waiting for the outcome.
        commands.retain(|c| !matches!(c, Command::Complete(_)));
        commands
    }

    /// Gets a new access token the best way available: refresh, or a silent sign-in.
    fn renew(&mut self, config: &Config, ctx: &mut Context<'_>) -> Vec<Command> {
        let profile = match self.current_profile() {
            Ok(p) => p,
            Err(e) => return vec![Command::Complete(Err(e))],
        };
        let deadline_passed = self
            .state
            .refresh_token
            .as_ref()
            .and_then(|r| r.hard_deadline)
            .is_some_and(|d| ctx.now >= d);
        let refresh_token = self
            .state
            .refresh_token
            .as_ref()
            .filter(|_| profile.can_refresh && !deadline_passed)
            .map(|r| r.secret.clone());
        let Some(refresh_token) = refresh_token else {
            // No usable refresh token: Google without a client secret, a `spa` token past
            // its 24 h, or a dropped token. A silent sign-in works while the provider's
            // session lasts; otherwise the user is needed.
            let cause = if deadline_passed {
                Diagnosis::new(Reason::SessionLifetimeReached, Action::Refresh)
            } else {
                Diagnosis::new(Reason::InteractionRequired, Action::Refresh)
            };
            return self.silent_or_attention(config, cause, ctx);
        };
        if let Err(throttled) = self.admit_token_request(ctx.now) {
            return throttled;
        }
        let request = authorize::refresh_request(&profile, &refresh_token);
        self.phase = Phase::Refreshing { since: ctx.now };
        vec![Command::SendTokenRequest(request)]
    }

    /// The loop guard: records a token request (refresh or silent sign-in) that may go out
    /// now, or answers with the commands for holding it back until the window allows.
    fn admit_token_request(&mut self, now: Timestamp) -> Result<(), Vec<Command>> {
        if let Err(until) = self.state.loop_guard.check(now) {
            self.state.next_attempt_at = Some(until);
            self.caller_retry_at = None;
            self.state.last_failure = Some(loop_guard_diagnosis());
            return Err(vec![
                Command::Persist,
                Command::Complete(Err(OperationError::Throttled { until })),
            ]);
        }
        self.state.loop_guard.record(now);
        Ok(())
    }

    fn silent_or_attention(
        &mut self,
        config: &Config,
        cause: Diagnosis,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        if ctx.silent_sign_in && self.state.account.is_some() {
            // Silent sign-ins count against the same loop guard as refreshes: a provider
            // handing out instantly expiring tokens must not get a sign-in every tick.
            if let Err(throttled) = self.admit_token_request(ctx.now) {
                return throttled;
            }
            return self.start_sign_in(config, Intent::SilentRenewal { cause }, ctx);
        }
        self.needs_user(cause)
    }

    fn on_token_response(
        &mut self,
        config: &Config,
        response: Result<HttpResponse, NetworkFailure>,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::ExchangingCode {
                pending,
                intent,
                profile,
                ..
            } => self.on_code_exchanged(pending, intent, *profile, response, ctx),
            Phase::Refreshing { .. } => {
                self.late_refresh = false;
                self.on_refreshed(config, response, ctx)
            }
            Phase::Verifying {
                credentials,
                discovering,
                ..
            } => match discovering {
                true => self.on_discovered(config, *credentials, response, ctx),
                false => self.on_verified(config, *credentials, response, ctx),
            },
            // The answer to a refresh given up as unanswered: a success still counts (see
            // `late_refresh`); a failure tells nothing the next attempt will not.
            Phase::Idle if self.late_refresh => {
                self.late_refresh = false;
                match response {
                    Ok(r) if r.is_success() => self.on_refreshed(config, Ok(r), ctx),
                    _ => Vec::new(),
                }
            }
            other => {
                // Nothing was waiting for this answer (it arrived after a timeout).
                self.phase = other;
                Vec::new()
            }
        }
    }

    fn on_refreshed(
        &mut self,
        config: &Config,
        response: Result<HttpResponse, NetworkFailure>,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        let profile = match self.current_profile() {
            Ok(p) => p,
            Err(e) => return vec![Command::Complete(Err(e))],
        };
        let diagnosis = match &response {
            Err(failure) => {
                if *failure == NetworkFailure::TimedOut {
                    // The refresh may have happened (and rotated the token) without us
                    // hearing of it: remembered, so a refusal of the retry is told truthfully.
                    self.state.refresh_outcome_unknown = true;
                }
                failure.diagnosis()
            }
            Ok(r) if r.is_success() => match token::parse_token_response(
                &profile,
                r,
                ctx.now,
                IdTokenExpectations { nonce: None },
            ) {
                Ok(grant) => return self.refresh_succeeded(grant, ctx),
                // A 2xx we cannot read tells nothing about the refresh token: transient.
                Err(_) => Diagnosis::transient(Reason::MalformedResponse),
            },
            Ok(r) => self.rules.classify(r, ctx.now),
        };
        self.refresh_failed(config, diagnosis, ctx)
    }

    fn refresh_succeeded(
        &mut self,
        grant: token::TokenGrant,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        if let Some(rotated) = grant.refresh_token.clone() {
            if let Some(record) = self.state.refresh_token.as_mut() {
                // Rotation: the new token replaces the old; the grant's deadline stays
                // (a `spa` refresh token keeps the original 24 h, AADSTS700084).
                record.secret = rotated;
            }
        }
        if let (Some(identity), Some(account)) = (&grant.identity, self.state.account.as_mut()) {
            update_account(account, identity);
        }
        if let Some(url) = grant.instance_url.clone() {
            // A refresh may confirm the instance, never move it: a changed instance_url
            // would send the token (and the extension's permission prompt) elsewhere. The
            // first stays; the refusal is recorded. Salesforce moves an org's instance only
            // with a maintenance that also ends its sessions (a new sign-in learns it).
            let accepted = self
                .profile()
                .map(|p| p.accept_instance_url(&url))
                .unwrap_or(Ok(None));
            match (&self.state.instance_url, accepted) {
                (_, Ok(None)) => {}
                (None, Ok(Some(_))) => self.state.instance_url = Some(url),
                (Some(current), Ok(Some(_))) if *current == url => {}
                _ => self.note = Some("instance_url_change_refused"),
            }
        }
        if let Some(clock) = grant.server_clock {
            self.state.server_clock = clock;
        }
        self.state.consecutive_failures = 0;
        self.state.next_attempt_at = None;
        self.state.last_failure = None;
        self.state.attention = None;
        self.state.refresh_outcome_unknown = false;
        self.set_access(grant.access, ctx);
        vec![Command::Persist, Command::Complete(Ok(()))]
    }

    /// Backoff after a transient failure (counted in `consecutive_failures` by the caller).
    /// A transient failure is not a rejection: it never pauses the connection, however many
    /// in a row (an hour offline must not park it until a click). The engine's own retry
    /// comes within `schedule::BACKGROUND_RETRY_WINDOW` (a provider outage: the fleet must
    /// not come back at once), or after the short backoff when the device is offline (nothing
    /// reaches the provider); a caller may try sooner (`caller_retry_at`), and
    /// `Input::Online` cuts it short. The six-in-a-row rule
    /// counts the provider's rejections (`consecutive_api_rejections`), as the product's
    /// documentation says: "the reconnect dialog appears after 6 consecutive rejections".
    fn schedule_retry(&mut self, diagnosis: Diagnosis, ctx: &mut Context<'_>) -> Vec<Command> {
        let n = self.state.consecutive_failures;
        let mut delay = if diagnosis.reason == Reason::NetworkUnavailable {
            schedule::backoff_delay(n, ctx.random.unit(), diagnosis.retry_after_ms)
        } else {
            schedule::background_retry_delay(ctx.random.unit(), diagnosis.retry_after_ms)
        };
        if diagnosis.reason == Reason::RequestLoopDetected {
            delay = delay.max(schedule::LOOP_DETECTED_PAUSE);
        }
        let at = ctx.now.plus(delay);
        self.state.next_attempt_at = Some(at);
        // A detected request loop waits the whole pause, callers too.
        self.caller_retry_at = (diagnosis.reason != Reason::RequestLoopDetected).then(|| {
            ctx.now
                .plus(schedule::demand_retry_delay(n, diagnosis.retry_after_ms))
        });
        self.state.last_failure = Some(diagnosis.clone());
        vec![
            Command::Persist,
            Command::Complete(Err(OperationError::RetryScheduled { at, diagnosis })),
        ]
    }

    fn refresh_failed(
        &mut self,
        config: &Config,
        mut diagnosis: Diagnosis,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        self.state.consecutive_failures = self.state.consecutive_failures.saturating_add(1);
        if diagnosis.drop_refresh_token && self.state.refresh_outcome_unknown {
            // Right after an unanswered refresh, "invalid_grant" most likely means that
            // refresh succeeded and rotated the token; not a changed password.
            diagnosis.reason = Reason::RefreshOutcomeLost;
        }
        if !matches!(
            diagnosis.reason,
            Reason::RequestTimedOut | Reason::NetworkUnavailable
        ) {
            // The provider answered this one: what it said is now the known state. (An
            // unreachable retry never reached it, so the earlier doubt stands.)
            self.state.refresh_outcome_unknown = false;
        }
        if diagnosis.drop_refresh_token {
            // The provider said it is dead (design rule 5): the only case a token is deleted.
            self.state.refresh_token = None;
            self.access = None;
            self.refresh_due_at = None;
        }
        if diagnosis.action == Action::RetryLater {
            return self.schedule_retry(diagnosis, ctx);
        }
        self.state.last_failure = None;
        self.state.next_attempt_at = None;
        // The refresh token is gone but the provider's session may still be alive: a
        // silent sign-in renews without a window (a `spa` user would otherwise sign in
        // every day). Policies that need the user (MFA, consent) are not tried silently.
        let silent_may_work = diagnosis.drop_refresh_token && diagnosis.action == Action::Refresh;
        if silent_may_work {
            let mut commands = vec![Command::Persist];
            commands.extend(self.silent_or_attention(config, diagnosis, ctx));
            return commands;
        }
        self.needs_user(diagnosis)
    }

    // ---- API results ----------------------------------------------------------------------

    fn on_api_unauthorized(
        &mut self,
        response: HttpResponse,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        match (self.rules.api_unauthorized)(&response, ctx.now) {
            // Only an interactive sign-in with `claims` helps (Entra claims challenge); the
            // API keeps refusing this access token, so it is not handed out again.
            ApiRejection::ClaimsChallenge(claims) => {
                self.expire_access_token(ctx.now);
                let mut diagnosis = Diagnosis::new(Reason::ClaimsChallenge, Action::Refresh)
                    .with_code("insufficient_claims");
                diagnosis.claims = Some(claims.clone());
                self.state.claims = Some(claims);
                return self.needs_user(diagnosis);
            }
            // Never retried automatically (account lockout).
            ApiRejection::CredentialsRejected(diagnosis) => return self.needs_user(diagnosis),
            ApiRejection::TokenExpired => {}
        }
        // A 401 counts toward the six-rejection rule only for a token obtained after the
        // previous 401, i.e. after the fresh refresh that 401 caused (issue 11, defect 2): a
        // burst of calls with one stale token (six content-script requests at once) is one
        // rejection, not six, and never asks for a sign-in by itself.
        let fresh = std::mem::replace(&mut self.api_rejection_counts, false);
        if fresh {
            self.state.consecutive_api_rejections =
                self.state.consecutive_api_rejections.saturating_add(1);
        }
        if fresh && self.state.consecutive_api_rejections >= MAX_CONSECUTIVE_FAILURES {
            let diagnosis = Diagnosis::new(Reason::TokenRejectedByApi, Action::Refresh)
                .with_code(response.status.to_string());
            return self.needs_user(diagnosis);
        }
        // The session behind the token is gone (Salesforce INVALID_SESSION_ID, a revoked
        // Microsoft token): record what was observed. The caller then asks for a token
        // (`AccessTokenNeeded`), which refreshes once, and retries its request once.
        self.expire_access_token(ctx.now);
        vec![Command::Persist]
    }

    /// The API refused the access token: it expired now, as observed.
    fn expire_access_token(&mut self, now: Timestamp) {
        if let Some(access) = self.access.as_mut() {
            let lifetime = access.issued_at.until(now);
            access.expiry = Expiry {
                at: now,
                source: ExpirySource::Observed401,
                lifetime,
            };
        }
        self.refresh_due_at = Some(now);
    }

    fn on_api_succeeded(&mut self, ctx: &mut Context<'_>) -> Vec<Command> {
        let had_failures = self.state.consecutive_api_rejections > 0;
        self.state.consecutive_api_rejections = 0;
        // A Salesforce session is extended by each use: move the estimate forward.
        if let Ok(profile) = &self.profile {
            if let (AccessLifetime::SessionTimeout(timeout), Some(access)) =
                (profile.access_lifetime, self.access.as_mut())
            {
                if access.expiry.source == ExpirySource::SessionTimeout {
                    access.expiry = Expiry {
                        at: ctx.now.plus(timeout),
                        source: ExpirySource::SessionTimeout,
                        lifetime: timeout,
                    };
                    self.refresh_due_at = Some(schedule::refresh_due_at(
                        ctx.now,
                        &access.expiry,
                        ctx.random.unit(),
                    ));
                }
            }
        }
        if had_failures {
            vec![Command::Persist]
        } else {
            Vec::new()
        }
    }

    // ---- disconnect -----------------------------------------------------------------------

    // ---- password providers ----------------------------------------------------------------

    /// The `Authorization` value for an API call: the password provider's (Basic), only
    /// while nothing needs the user; else `Bearer` with a fresh access token.
    pub fn api_authorization(&self, now: Timestamp) -> Option<String> {
        match self.rules.password {
            Some(rules) => {
                let login = self.state.account.as_ref()?.username.as_deref()?;
                let record = self.state.refresh_token.as_ref()?;
                (self.state.attention.is_none() && !self.unsaved)
                    .then(|| (rules.authorization)(login, &record.secret))
            }
            None => self.fresh_access_token(now).map(|t| format!("Bearer {t}")),
        }
    }

    /// Change or Refresh with a typed password. A Refresh names neither login nor server:
    /// the connection's own are used (the user types the new password only).
    fn start_verify(
        &mut self,
        config: &Config,
        mut credentials: Credentials,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        let Some(rules) = self.rules.password else {
            return vec![Command::Complete(Err(OperationError::Config(
                ConfigError::SignInNotAvailable(self.service),
            )))];
        };
        if self.is_busy() {
            return vec![Command::Complete(Err(OperationError::Busy))];
        }
        if credentials.login.trim().is_empty() {
            let Some(account) = &self.state.account else {
                return vec![Command::Complete(Err(OperationError::NotConnected))];
            };
            credentials.login = account.username.clone().unwrap_or_default();
            credentials.target = account.target.clone();
        }
        credentials.login = credentials.login.trim().to_string();
        if credentials.target.login_host.is_none() && credentials.discover.is_none() {
            credentials.target.login_host = self.profile().and_then(|p| p.login_host.clone());
        }
        let request = match (&credentials.target.login_host, &credentials.discover) {
            (Some(_), _) => {
                match provider::profile_for(config, self.service, &credentials.target) {
                    Ok(profile) => (rules.verify_request)(
                        profile.token_url.as_str(),
                        &credentials.login,
                        &credentials.password,
                    ),
                    Err(e) => return vec![Command::Complete(Err(OperationError::Config(e)))],
                }
            }
            (None, Some((url, _))) if url.starts_with("https://") => (rules.discover_request)(
                url,
                credentials.email.as_deref().unwrap_or(&credentials.login),
                &credentials.login,
                &credentials.password,
            ),
            _ => {
                return vec![Command::Complete(Err(OperationError::Config(
                    ConfigError::SignInNotAvailable(self.service),
                )))]
            }
        };
        self.last_sign_in_error = None;
        self.phase = Phase::Verifying {
            discovering: credentials.target.login_host.is_none(),
            credentials: Box::new(credentials),
            since: ctx.now,
        };
        vec![Command::SendTokenRequest(request)]
    }

    /// The autodiscover answer: the server to verify the password with.
    fn on_discovered(
        &mut self,
        config: &Config,
        mut credentials: Credentials,
        response: Result<HttpResponse, NetworkFailure>,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        let Some(rules) = self.rules.password else {
            return Vec::new();
        };
        let email = credentials
            .email
            .clone()
            .unwrap_or(credentials.login.clone());
        let host = credentials
            .discover
            .take()
            .map(|(_, h)| h)
            .unwrap_or_default();
        let found = match response {
            Err(failure) => Err(failure.diagnosis()),
            Ok(r) => (rules.discovered_target)(&r, &email, &host, ctx.now),
        };
        match found {
            Ok(target) => {
                credentials.target = target;
                self.start_verify(config, credentials, ctx)
            }
            Err(d) => self.verify_failed(d),
        }
    }

    /// The verify call's answer: keep the password only if the server took it.
    fn on_verified(
        &mut self,
        config: &Config,
        credentials: Credentials,
        response: Result<HttpResponse, NetworkFailure>,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        let Some(rules) = self.rules.password else {
            return Vec::new();
        };
        let outcome = match &response {
            Err(failure) => Err(failure.diagnosis()),
            Ok(r) => (rules.verify_outcome)(r, ctx.now),
        };
        if let Err(d) = outcome {
            return self.verify_failed(d);
        }
        let Credentials {
            login,
            password,
            email,
            target,
            ..
        } = credentials;
        self.profile = provider::profile_for(config, self.service, &target);
        self.state = PersistedConnection {
            account: Some(Account {
                username: Some(login),
                name: email,
                subject: None,
                target,
            }),
            refresh_token: Some(RefreshTokenRecord {
                secret: password,
                signed_in_at: ctx.now,
                hard_deadline: None,
            }),
            ..Default::default()
        };
        self.access = None;
        self.changed = true;
        vec![Command::Persist, Command::Complete(Ok(()))]
    }

    /// A failed Change or Refresh with a password changes nothing about the connection.
    fn verify_failed(&mut self, diagnosis: Diagnosis) -> Vec<Command> {
        let failure = OperationError::TokenRequest(diagnosis);
        self.last_sign_in_error = Some(failure.clone());
        vec![Command::Complete(Err(failure))]
    }

    fn disconnect(&mut self, config: &Config) -> Vec<Command> {
        let mut commands = Vec::new();
        if let (Some(record), Ok(profile)) = (&self.state.refresh_token, &self.profile) {
            commands.extend(
                authorize::revocation_request(profile, &record.secret).map(Command::SendRevocation),
            );
        }
        // Always cleared locally, whatever revocation does; the provider is resolved again
        // for no account (the configured default tenant or login host).
        self.state = <PersistedConnection as Default>::default();
        self.profile = resolve(config, self.service, &self.state);
        self.access = None;
        self.refresh_due_at = None;
        self.phase = Phase::Idle;
        self.last_sign_in_error = None;
        commands.insert(0, Command::Persist);
        commands.push(Command::Complete(Ok(())));
        commands
    }
}

/// The provider for a connection's account target (the configured default without one).
fn resolve(
    config: &Config,
    service: ProviderId,
    state: &PersistedConnection,
) -> Result<ProviderProfile, ConfigError> {
    let target = state
        .account
        .as_ref()
        .map(|a| a.target.clone())
        .unwrap_or_default();
    provider::profile_for(config, service, &target)
}

/// Our own loop guard held a request back: shown like the provider's AADSTS50196, so the
/// dashboard says "will retry" instead of "connected" while no token can be had.
fn loop_guard_diagnosis() -> Diagnosis {
    Diagnosis::transient(Reason::RequestLoopDetected).with_code("loop_guard")
}

fn update_account(account: &mut Account, identity: &Identity) {
    // A refreshed ID token may only update the same user (OIDC Core §12.2).
    if account.subject.is_some()
        && identity.subject.is_some()
        && account.subject != identity.subject
    {
        return;
    }
    if identity.username.is_some() {
        account.username = identity.username.clone();
    }
    if identity.name.is_some() {
        account.name = identity.name.clone();
    }
}

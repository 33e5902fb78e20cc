//! The engine: every connection, the vault, the user's settings and a redacted event log.
//! Still sans-I/O: `src/web/` executes the commands it returns; `view.rs` draws it.
//!
//! Architecture invariant: this file never names a provider; what differs between
//! providers comes from the provider value each connection holds.

use std::collections::VecDeque;

use serde::Serialize;

use crate::connection::{Command, Connection, Context, Input, OperationError};
use crate::provider::{
    origin_of, Config, ConfigError, MailService, ProviderId, ProviderMap, SectionId, Target,
};
use crate::time::Timestamp;
use crate::token::AccessToken;
use crate::vault::{SavedLogin, Vault, VaultError};

const EVENT_LOG_LIMIT: usize = 300;

/// The session cache's text split into the vault it names and its tokens (`session_text`).
fn session_parts(text: &str) -> Option<(&str, ProviderMap<AccessToken>)> {
    let (vault, tokens) = text.split_once('\n')?;
    Some((vault, serde_json::from_str(tokens).ok()?))
}

/// One line of the event log. Built from enums and codes only: never a token, a code, a
/// URL with parameters or a response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
pub struct Event {
    pub at: Timestamp,
    /// The service it concerns; `null` for what concerns the engine as a whole (the vault,
    /// the session cache, the user's settings).
    pub service: Option<ProviderId>,
    pub kind: &'static str,
    pub detail: String,
}

/// Why an authorized fetch was refused before it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiUrlError {
    /// The URL's origin is not one this service's token may go to.
    ForeignOrigin(String),
    NotAUrl,
}

pub struct Engine {
    config: Config,
    connections: ProviderMap<Connection>,
    mail_service: MailService,
    saved_logins: Vec<SavedLogin>,
    events: VecDeque<Event>,
    unreadable_previous: Option<String>,
    notice: Option<String>,
}

impl Engine {
    pub fn new(config: Config) -> Result<Engine, ConfigError> {
        config.validate()?;
        let mut connections = ProviderMap::new();
        for id in config.configured() {
            connections.insert(id, Connection::new(id, &config));
        }
        let mail_service = MailService::default_for(&config);
        Ok(Engine {
            config,
            connections,
            mail_service,
            saved_logins: Vec::new(),
            events: VecDeque::new(),
            unreadable_previous: None,
            notice: None,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Loads persisted state. Unreadable text is kept (see `vault`) and the engine starts
    /// empty; the error is returned so the host can report it.
    pub fn restore(&mut self, text: Option<&str>) -> Result<(), VaultError> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(());
        };
        match Vault::decode(text) {
            Ok(vault) => {
                for (id, state) in vault.connections {
                    if self.connections.contains_key(&id) {
                        let restored = Connection::restore(id, state, &self.config);
                        self.connections.insert(id, restored);
                    }
                }
                if let Some(m) = vault.mail_service {
                    self.mail_service = m;
                }
                self.saved_logins = vault.saved_logins;
                self.unreadable_previous = vault.unreadable_previous;
                Ok(())
            }
            Err(e) => {
                self.unreadable_previous = Some(text.to_string());
                self.notice = Some(format!(
                    "Saved sign-ins could not be read ({e}). They were kept for support; please connect again."
                ));
                Err(e)
            }
        }
    }

    /// Re-reads one connection's persisted state written by another context (a second
    /// engine instance in a side panel, a restarted service worker). Called under the
    /// host's cross-context lock before a renewal, so a rotated refresh token is never
    /// replayed (a replay revokes the whole grant at providers that detect it).
    pub fn reload_connection(&mut self, service: ProviderId, text: &str) -> bool {
        let Ok(mut vault) = Vault::decode(text) else {
            return false;
        };
        match (
            vault.connections.remove(&service),
            self.connections.get_mut(&service),
        ) {
            (Some(stored), Some(connection)) => connection.adopt_persisted(stored, &self.config),
            _ => false,
        }
    }

    /// The host saved the vault: `Some(id)` after a merged save that wrote only that
    /// connection, `None` after a full save that wrote them all.
    pub fn mark_saved(&mut self, saved: Option<ProviderId>) {
        for id in ProviderId::ALL {
            if let (true, Some(connection)) =
                (saved.is_none_or(|s| s == id), self.connections.get_mut(&id))
            {
                connection.mark_saved();
            }
        }
    }

    /// The host could not save `service`'s state: it stays unsaved (never overwritten by
    /// a reload, nothing handed out) and the save is retried first thing.
    pub fn save_failed(&mut self, service: ProviderId, now: Timestamp) {
        if let Some(connection) = self.connections.get_mut(&service) {
            connection.save_failed(now);
        }
    }

    /// The session cache's text (`chrome.storage.session`: memory, trusted contexts only):
    /// a first line naming the sealed vault the tokens agree with (its stored text, sealed:
    /// ciphertext only; empty while a save is under way, `src/web/executor.rs`, `persist`),
    /// then the access tokens as JSON; never the vault. `vault` names the sealed vault the tokens agree with (`""`: none), `written` is the
    /// vault text just saved: a token is kept only where that text holds this connection's
    /// state as this instance has it, signed in. With several instances a merged save
    /// writes other connections from storage, where this instance's memory may be older
    /// (another context disconnected or changed them): their tokens are left out.
    pub fn session_text(&self, vault: &str, written: &str) -> String {
        let written = Vault::decode(written).ok();
        let mut tokens = ProviderMap::new();
        for (id, c) in &self.connections {
            let stored = written.as_ref().and_then(|v| v.connections.get(id));
            if let (Some(token), true, true) = (
                c.access_token(),
                stored == Some(&c.state),
                c.state.account.is_some(),
            ) {
                tokens.insert(*id, token.clone());
            }
        }
        let mut text = vault.to_string();
        text.push('\n');
        text.push_str(&serde_json::to_string(&tokens).unwrap_or_default());
        text
    }

    /// Restores access tokens from the session cache; unreadable text is ignored (the
    /// tokens are only a cache: a refresh gets new ones).
    pub fn restore_session(&mut self, text: &str, random: &mut dyn crate::random::RandomSource) {
        let Some((_, tokens)) = session_parts(text) else {
            return;
        };
        for (id, token) in tokens {
            if let Some(connection) = self.connections.get_mut(&id) {
                connection.adopt_access_token(token, random);
            }
        }
    }

    /// The session cache's tokens, if it names `vault` (the sealed vault now stored): what `accessToken` may answer before the vault is
    /// opened (see `session_token`).
    pub fn session_bound_to(&self, text: &str, vault: &str) -> Option<ProviderMap<AccessToken>> {
        let (named, tokens) = session_parts(text)?;
        (!named.is_empty() && named == vault).then_some(tokens)
    }

    /// A token of `session_bound_to` `accessToken` may hand out at `now`: fresh as
    /// `Connection::fresh_access_token` requires, and never a password provider's.
    pub fn session_token<'a>(
        &self,
        tokens: &'a ProviderMap<AccessToken>,
        service: ProviderId,
        now: Timestamp,
    ) -> Option<&'a str> {
        let connection = self.connections.get(&service)?;
        (connection.rules.password.is_none())
            .then(|| tokens.get(&service))
            .flatten()
            .filter(|t| t.is_fresh(now, crate::connection::FRESHNESS_MARGIN))
            .map(|t| t.secret.as_str())
    }

    /// The text to persist when other instances share the storage: the stored vault with
    /// only `changed`'s connection (and the user's settings) replaced by ours. Unreadable
    /// stored text is kept as it is (`unreadable_previous`) next to `changed`'s connection
    /// alone: this instance's memory of the other connections may be older than what is
    /// stored, so it is never written over it.
    pub fn vault_text_merged(&self, stored: &str, changed: Option<ProviderId>) -> String {
        let mut vault = if stored.trim().is_empty() {
            Vault::new()
        } else {
            Vault::decode(stored).unwrap_or_else(|_| {
                let mut fresh = Vault::new();
                fresh.keep_unreadable(stored);
                fresh
            })
        };
        if let Some(id) = changed {
            if let Some(connection) = self.connections.get(&id) {
                vault.connections.insert(id, connection.state.clone());
            }
        }
        vault.version = crate::vault::VAULT_VERSION;
        vault.mail_service = Some(self.mail_service);
        let mut logins = self.saved_logins.clone();
        for login in vault.saved_logins.drain(..) {
            if !logins.contains(&login) {
                logins.push(login);
            }
        }
        logins.truncate(10);
        vault.saved_logins = logins;
        if let (None, Some(text)) = (&vault.unreadable_previous, &self.unreadable_previous) {
            vault.keep_unreadable(text);
        }
        vault.encode()
    }

    /// The text to persist.
    pub fn vault_text(&self) -> String {
        let mut vault = Vault::new();
        for (id, c) in &self.connections {
            vault.connections.insert(*id, c.state.clone());
        }
        vault.mail_service = Some(self.mail_service);
        vault.saved_logins = self.saved_logins.clone();
        if let Some(text) = &self.unreadable_previous {
            vault.keep_unreadable(text);
        }
        vault.encode()
    }

    pub fn connection(&self, service: ProviderId) -> Option<&Connection> {
        self.connections.get(&service)
    }

    pub fn services(&self) -> Vec<ProviderId> {
        self.connections.keys().copied().collect()
    }

    /// The services a tick or `online` may have work for: every one but the vacant ones
    /// (`Connection::is_vacant`), which hosts need not lock nor re-read storage for.
    pub fn services_to_renew(&self) -> Vec<ProviderId> {
        self.connections
            .iter()
            .filter(|(_, c)| !c.is_vacant())
            .map(|(s, _)| *s)
            .collect()
    }

    pub fn mail_service(&self) -> MailService {
        self.mail_service
    }

    pub fn select_mail_service(&mut self, choice: MailService) {
        self.mail_service = choice;
    }

    pub fn saved_logins(&self) -> &[SavedLogin] {
        &self.saved_logins
    }

    /// Shown above the dashboard when stored data could not be read.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Applies `input` to one connection and returns what the host must do.
    pub fn handle(
        &mut self,
        service: ProviderId,
        input: Input,
        ctx: &mut Context<'_>,
    ) -> Vec<Command> {
        let Some(connection) = self.connections.get_mut(&service) else {
            return vec![Command::Complete(Err(OperationError::Config(
                ConfigError::NotConfigured(service),
            )))];
        };
        let input_kind = input_name(&input);
        let input = match input {
            // A Change that names no tenant or login host keeps the card's own (a Microsoft
            // 365 card stays in its tenant whatever pill was picked since); a card with no
            // account goes where the chosen mail service says (Outlook.com: consumers).
            // Another service is chosen explicitly (`change_to`).
            Input::Connect { login_hint, target } if target == Default::default() => {
                let own = connection.state.account.as_ref().map(|a| a.target.clone());
                let chosen = (self.mail_service.provider() == Some(service))
                    .then(|| self.mail_service.default_target());
                Input::Connect {
                    login_hint,
                    target: own.or(chosen).unwrap_or(target),
                }
            }
            input => input,
        };
        let commands = connection.handle(&self.config, input, ctx);
        let note = connection.take_note();
        let now = ctx.now;
        if let Some(kind) = note {
            self.log(now, Some(service), kind, String::new());
        }
        if let Some(kind) = input_kind {
            self.log(now, Some(service), kind, String::new());
        }
        for command in &commands {
            let (kind, detail) = match command {
                Command::OpenSignIn { interactive, .. } => (
                    "sign_in_opened",
                    if *interactive {
                        "interactive"
                    } else {
                        "silent"
                    }
                    .to_string(),
                ),
                Command::SendTokenRequest(request) => ("token_request", grant_type(&request.body)),
                Command::SendRevocation(_) => ("revocation_sent", String::new()),
                Command::Persist => continue,
                Command::Complete(Ok(())) => ("completed", String::new()),
                Command::Complete(Err(e)) => ("failed", describe_error(e)),
            };
            self.log(now, Some(service), kind, detail);
        }
        let connected = commands
            .iter()
            .any(|c| matches!(c, Command::Complete(Ok(()))));
        if connected {
            self.remember_login(service);
        }
        // After a Change, the mail service follows the mailbox just connected (a renewal,
        // even a silent sign-in, never moves it).
        if self
            .connections
            .get_mut(&service)
            .is_some_and(Connection::take_changed)
        {
            let account = self
                .connections
                .get(&service)
                .and_then(|c| c.state.account.as_ref());
            if let Some(found) =
                account.and_then(|a| MailService::of_connection(service, &a.target))
            {
                self.mail_service = found;
            }
        }
        commands
    }

    /// Change with the mail-service chooser: the service to connect and where to. The choice
    /// is explicit, so its tenant wins over the card's own (`None`: "I'm not sure", or a
    /// service this installation does not configure).
    pub fn change_to(&mut self, choice: MailService) -> Option<(ProviderId, Target)> {
        let service = choice
            .provider()
            .filter(|p| self.connections.contains_key(p))?;
        self.mail_service = choice;
        Some((service, choice.change_target(&self.config)))
    }

    /// The mail connections to end once `service`'s new connection is stored: exactly one
    /// mail connection is kept (the other grants are revoked by `Input::Disconnect`).
    pub fn superseded_by(&self, service: ProviderId) -> Vec<ProviderId> {
        let email = |id: &ProviderId| id.rules().section == SectionId::Email;
        if !email(&service)
            || self
                .connections
                .get(&service)
                .is_none_or(|c| !c.is_connected())
        {
            return Vec::new();
        }
        self.connections
            .iter()
            .filter(|(id, c)| **id != service && email(id) && c.state.account.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Remembers the username and login host of a successful sign-in, where the provider
    /// offers them again (Salesforce's saved usernames).
    fn remember_login(&mut self, service: ProviderId) {
        let Some(account) = self
            .connections
            .get(&service)
            .filter(|c| c.rules.remembers_logins)
            .and_then(|c| c.state.account.clone())
        else {
            return;
        };
        if let (Some(username), Some(login_host)) = (account.username, account.target.login_host) {
            Vault::remember_login(
                &mut self.saved_logins,
                SavedLogin {
                    username,
                    login_host,
                },
            );
        }
    }

    fn log(
        &mut self,
        at: Timestamp,
        service: Option<ProviderId>,
        kind: &'static str,
        detail: String,
    ) {
        if self.events.len() == EVENT_LOG_LIMIT {
            self.events.pop_front();
        }
        self.events.push_back(Event {
            at,
            service,
            kind,
            detail,
        });
    }

    /// Records something the host observed (an API 401, a storage failure); `service` is
    /// `None` for what concerns no one service.
    pub fn note(
        &mut self,
        at: Timestamp,
        service: Option<ProviderId>,
        kind: &'static str,
        detail: String,
    ) {
        self.log(at, service, kind, detail);
    }

    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    /// The earliest time any connection wants a tick.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.connections
            .values()
            .filter_map(Connection::next_wake)
            .min()
    }

    /// Where an authorized fetch may send this service's token: the provider's API origins,
    /// and for Salesforce the connection's `instance_url`. Anything else is refused, so a
    /// token never reaches a host it was not issued for.
    pub fn check_api_url(&self, service: ProviderId, url: &str) -> Result<(), ApiUrlError> {
        let origin = origin_of(url).ok_or(ApiUrlError::NotAUrl)?;
        let connection = self.connections.get(&service);
        let mut allowed: Vec<String> = connection
            .and_then(Connection::profile)
            .map(|p| p.api_origins.clone())
            .unwrap_or_default();
        if let Some(instance) = connection.and_then(Connection::instance_origin) {
            allowed.push(instance);
        }
        let secure = url::Url::parse(url)
            .map(|u| crate::provider::is_secure_origin(&u))
            .unwrap_or(false);
        if secure && allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
            Ok(())
        } else {
            Err(ApiUrlError::ForeignOrigin(origin))
        }
    }

    /// Per connection, what a support engineer needs, with every secret redacted.
    pub fn debug_state(&self, now: Timestamp) -> DebugState {
        let connections = self
            .connections
            .iter()
            .map(|(id, c)| {
                let s = &c.state;
                let debug = ConnectionDebug {
                    account: s.account.clone(),
                    refresh_token: s.refresh_token.as_ref().map(|r| RefreshTokenDebug {
                        present: true,
                        signed_in_at: r.signed_in_at,
                        hard_deadline: r.hard_deadline,
                    }),
                    access_token: c.access_token().map(|a| AccessTokenDebug {
                        present: true,
                        issued_at: a.issued_at,
                        expires_at: a.expiry.at,
                        expiry_source: a.expiry.source,
                        lifetime_ms: a.expiry.lifetime,
                        fresh: a.is_fresh(now, crate::connection::FRESHNESS_MARGIN),
                        scope: a.scope.clone(),
                    }),
                    refresh_due_at: c.refresh_due_at(),
                    next_wake: c.next_wake(),
                    attention: s.attention.clone(),
                    last_failure: s.last_failure.clone(),
                    consecutive_failures: s.consecutive_failures,
                    next_attempt_at: s.next_attempt_at,
                    claims_challenge_pending: s.claims.is_some(),
                    // Only an accepted instance (it drives the extension's permission prompt).
                    instance_url: c.instance_origin(),
                    server_clock_offset_ms: s.server_clock.offset_ms,
                    busy: c.is_busy(),
                };
                (*id, debug)
            })
            .collect();
        DebugState {
            now,
            mail_service: self.mail_service,
            connections,
        }
    }
}

fn input_name(input: &Input) -> Option<&'static str> {
    Some(match input {
        Input::Connect { .. } => "change_requested",
        Input::Reauthorize => "refresh_requested",
        Input::SignInResult(Ok(_)) => "sign_in_returned",
        Input::SignInResult(Err(_)) => "sign_in_not_completed",
        Input::TokenResponse(Ok(r)) => {
            return Some(if r.is_success() {
                "token_response_ok"
            } else {
                "token_response_error"
            })
        }
        Input::TokenResponse(Err(_)) => "token_request_unreachable",
        Input::ApiUnauthorized(_) => "api_401",
        Input::ApiRefused(_) => "api_refused",
        Input::RetryNow => "retry_requested",
        Input::Disconnect => "disconnect_requested",
        Input::Credentials(_) => "credentials_submitted",
        Input::Online => "online",
        Input::AccessTokenNeeded | Input::Tick | Input::ApiSucceeded => return None,
    })
}

fn grant_type(body: &str) -> String {
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A failure in log-safe words: reasons and provider codes only (named here, not by
/// `Debug`, so the words are the log's own and never carry a host's message).
pub fn describe_error(error: &OperationError) -> String {
    use crate::authorize::RedirectError;
    use crate::connection::SignInFailure;
    use crate::token::TokenResponseError;
    match error {
        OperationError::SignIn(f) => format!(
            "sign-in: {}",
            match f {
                SignInFailure::Cancelled => "cancelled",
                SignInFailure::InteractionRequired => "interaction required",
                SignInFailure::PopupBlocked => "pop-up blocked",
                SignInFailure::HostError(_) => "host error",
            }
        ),
        OperationError::Redirect(RedirectError::Provider { error, .. }) => {
            format!("provider error: {}", error.code())
        }
        OperationError::Redirect(e) => format!(
            "redirect: {}",
            match e {
                RedirectError::NotOurRedirect => "not our redirect URI",
                RedirectError::StateMismatch => "state mismatch",
                RedirectError::IssuerMismatch { .. } => "issuer mismatch",
                RedirectError::MissingIssuer => "no iss where the provider sends one",
                RedirectError::MissingCode => "no code",
                RedirectError::Provider { .. } => "provider error",
            }
        ),
        OperationError::TokenRequest(d) | OperationError::NeedsAttention(d) => diagnosis_words(d),
        OperationError::RetryScheduled { at, diagnosis } => {
            format!("{}; retry at {}", diagnosis_words(diagnosis), at.0)
        }
        OperationError::TokenResponse(e) => format!(
            "token response: {}",
            match e {
                TokenResponseError::Malformed => "not readable",
                TokenResponseError::MissingAccessToken => "no access token",
                TokenResponseError::UnsupportedTokenType(_) => "not a Bearer token",
                TokenResponseError::NonceMismatch => "ID token nonce mismatch",
                TokenResponseError::AudienceMismatch => "ID token for another client",
                TokenResponseError::IssuerMismatch => "ID token from another issuer",
                TokenResponseError::InstanceUrlRefused(_) =>
                    "instance_url not on the provider's domains",
                TokenResponseError::IdTokenExpired => "ID token expired",
                TokenResponseError::IdTokenIssuedInFuture => "ID token issued in the future",
            }
        ),
        OperationError::Throttled { until } => format!("throttled until {}", until.0),
        OperationError::NotConnected => "not connected".into(),
        OperationError::WrongAccount => "wrong account".into(),
        OperationError::Busy => "busy".into(),
        OperationError::Config(e) => format!("config: {e}"),
    }
}

fn diagnosis_words(d: &crate::diagnosis::Diagnosis) -> String {
    let reason = serde_json::to_string(&d.reason)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string();
    match &d.provider_code {
        Some(code) => format!("{reason} ({code})"),
        None => reason,
    }
}

/// `debugState()`: the engine's state for support, with no secret in it.
#[derive(Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct DebugState {
    now: Timestamp,
    mail_service: MailService,
    #[cfg_attr(
        target_arch = "wasm32",
        tsify(type = "Partial<Record<ProviderId, ConnectionDebug>>")
    )]
    connections: ProviderMap<ConnectionDebug>,
}

#[derive(Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDebug {
    #[cfg_attr(target_arch = "wasm32", tsify(type = "unknown"))]
    account: Option<crate::connection::Account>,
    refresh_token: Option<RefreshTokenDebug>,
    access_token: Option<AccessTokenDebug>,
    refresh_due_at: Option<Timestamp>,
    next_wake: Option<Timestamp>,
    #[cfg_attr(target_arch = "wasm32", tsify(type = "unknown"))]
    attention: Option<crate::diagnosis::Diagnosis>,
    #[cfg_attr(target_arch = "wasm32", tsify(type = "unknown"))]
    last_failure: Option<crate::diagnosis::Diagnosis>,
    consecutive_failures: u32,
    next_attempt_at: Option<Timestamp>,
    claims_challenge_pending: bool,
    instance_url: Option<String>,
    server_clock_offset_ms: i64,
    busy: bool,
}

/// A refresh token's presence and dates, never its value.
#[derive(Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct RefreshTokenDebug {
    present: bool,
    signed_in_at: Timestamp,
    hard_deadline: Option<Timestamp>,
}

/// An access token's presence and expiry, never its value.
#[derive(Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenDebug {
    present: bool,
    issued_at: Timestamp,
    expires_at: Timestamp,
    expiry_source: crate::token::ExpirySource,
    lifetime_ms: u64,
    fresh: bool,
    scope: Option<String>,
}

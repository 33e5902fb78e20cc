//! The engine: every connection, the vault, the dashboard view and a redacted event log.
//! Still sans-I/O: `src/web/` executes the commands it returns.

use std::collections::VecDeque;

use miniserde::{json, Serialize};

use crate::connection::{Command, Connection, Context, Input, OperationError};
use crate::provider::{self, origin_of, Config, ConfigError, ProviderId, ProviderMap, Target};
use crate::time::Timestamp;
use crate::vault::{MailService, SavedLogin, Vault, VaultError};
use crate::view::{self, DashboardView, Section};

const EVENT_LOG_LIMIT: usize = 300;

/// One line of the event log. Built from enums and codes only: never a token, a code, a
/// URL with parameters or a response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub at: Timestamp,
    pub service: ProviderId,
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
            connections.insert(id, Connection::new(id));
        }
        let mail_service = if config.microsoft.is_some() {
            MailService::Microsoft365
        } else if config.google.is_some() {
            MailService::Gmail
        } else if config.exchange.is_some() {
            MailService::Exchange
        } else {
            MailService::NotSure
        };
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
                        self.connections.insert(id, Connection::restore(id, state));
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
            (Some(stored), Some(connection)) => connection.adopt_persisted(stored),
            _ => false,
        }
    }

    /// Access tokens for a session cache (`chrome.storage.session`): never the vault.
    pub fn session_text(&self) -> String {
        let mut tokens = ProviderMap::new();
        for (id, c) in &self.connections {
            if let Some(token) = c.access_token() {
                tokens.insert(*id, token.clone());
            }
        }
        json::to_string(&tokens)
    }

    /// Restores access tokens from the session cache; unreadable text is ignored (the
    /// tokens are only a cache: a refresh gets new ones).
    pub fn restore_session(&mut self, text: &str, random: &mut dyn crate::random::RandomSource) {
        let Ok(tokens) = json::from_str::<ProviderMap<crate::token::AccessToken>>(text) else {
            return;
        };
        for (id, token) in tokens {
            if let Some(connection) = self.connections.get_mut(&id) {
                connection.adopt_access_token(token, random);
            }
        }
    }

    /// The text to persist when other instances share the storage: the stored vault with
    /// only `changed`'s connection (and the user's settings) replaced by ours. Unreadable
    /// stored text is replaced by the full vault, which then keeps it (`unreadable_previous`).
    pub fn vault_text_merged(&self, stored: &str, changed: Option<ProviderId>) -> String {
        let Ok(mut vault) = Vault::decode(stored) else {
            return self.vault_text();
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
        if let Some(text) = &self.unreadable_previous {
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

    pub fn connection_mut(&mut self, service: ProviderId) -> Option<&mut Connection> {
        self.connections.get_mut(&service)
    }

    pub fn services(&self) -> Vec<ProviderId> {
        self.connections.keys().copied().collect()
    }

    pub fn mail_service(&self) -> MailService {
        self.mail_service
    }

    pub fn select_mail_service(&mut self, choice: MailService) {
        self.mail_service = choice;
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
        let input = match (service, input) {
            // Outlook.com accounts live in the `consumers` tenant.
            (
                ProviderId::Microsoft,
                Input::Connect {
                    login_hint,
                    mut target,
                },
            ) => {
                if target.tenant.is_none() && self.mail_service == MailService::OutlookCom {
                    target.tenant = Some(provider::microsoft::tenant_for_outlook_com().to_string());
                }
                Input::Connect { login_hint, target }
            }
            (_, input) => input,
        };
        let commands = connection.handle(&self.config, input, ctx);
        let now = ctx.now;
        if let Some(kind) = input_kind {
            self.log(now, service, kind, String::new());
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
                Command::Persist | Command::WakeAt(_) => continue,
                Command::Complete(Ok(())) => ("completed", String::new()),
                Command::Complete(Err(e)) => ("failed", describe_error(e)),
            };
            self.log(now, service, kind, detail);
        }
        if commands
            .iter()
            .any(|c| matches!(c, Command::Complete(Ok(()))))
        {
            self.remember_salesforce_login(service);
        }
        commands
    }

    fn remember_salesforce_login(&mut self, service: ProviderId) {
        if service != ProviderId::Salesforce {
            return;
        }
        let Some(account) = self
            .connections
            .get(&service)
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

    fn log(&mut self, at: Timestamp, service: ProviderId, kind: &'static str, detail: String) {
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

    /// Records something the host observed (an API 401, a storage failure).
    pub fn note(&mut self, at: Timestamp, service: ProviderId, kind: &'static str, detail: String) {
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
        let target = connection
            .and_then(|c| c.state.account.as_ref())
            .map(|a| a.target.clone())
            .unwrap_or_default();
        let mut allowed: Vec<String> = provider::profile_for(&self.config, service, &target)
            .map(|p| p.api_origins)
            .unwrap_or_default();
        if let Some(instance) = connection
            .and_then(|c| c.state.instance_url.as_deref())
            .and_then(origin_of)
        {
            allowed.push(instance);
        }
        let secure = url::Url::parse(url)
            .map(|u| provider::is_secure_origin(&u))
            .unwrap_or(false);
        if secure && allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
            Ok(())
        } else {
            Err(ApiUrlError::ForeignOrigin(origin))
        }
    }

    pub fn view(&self, now: Timestamp) -> DashboardView {
        let card = |id: ProviderId| {
            self.connections.get(&id).map(|c| {
                let target = c
                    .state
                    .account
                    .as_ref()
                    .map(|a| a.target.clone())
                    .unwrap_or_default();
                let profile = provider::profile_for(&self.config, id, &target).ok();
                view::connection_view(c, profile.as_ref(), now)
            })
        };
        const MAIL: [ProviderId; 3] = [
            ProviderId::Microsoft,
            ProviderId::Google,
            ProviderId::Exchange,
        ];
        let mut mail_connections: Vec<_> = match self.mail_service.provider() {
            Some(id) => card(id).into_iter().collect(),
            None => MAIL.into_iter().filter_map(card).collect(),
        };
        // A mail connection the user has signed in to stays visible after another mail
        // service is chosen: it is still renewed, and if it needs the user, the dashboard
        // (and the extension's badge) must be able to say so, and offer Disconnect.
        if let Some(selected) = self.mail_service.provider() {
            for id in MAIL.into_iter().filter(|id| *id != selected) {
                let signed_in = self
                    .connections
                    .get(&id)
                    .is_some_and(|c| c.state.account.is_some());
                if signed_in {
                    mail_connections.extend(card(id));
                }
            }
        }
        let hint = match self.mail_service {
            MailService::NotSure => Some(
                "Addresses ending in gmail.com or using Google Workspace: Gmail. Work or school accounts of organizations on Microsoft 365: Microsoft 365. Hotmail, Live and Outlook.com addresses: Outlook.com. A company mail server: Exchange.",
            ),
            MailService::Exchange if self.config.exchange.is_none() => Some("Exchange is not configured for this installation."),
            MailService::Exchange => Some("On-premises Exchange sign-in (server address and password) is not available yet."),
            _ => None,
        };
        let email = Section {
            id: "email",
            title: "E-Mail Configuration",
            mail_service: Some(self.mail_service.id()),
            mail_service_choices: Some(view::mail_choices()),
            hint,
            connections: mail_connections,
            saved_logins: None,
            login_hosts: None,
        };
        let crm = Section {
            id: "crm",
            title: "CRM",
            mail_service: None,
            mail_service_choices: None,
            hint: if self.config.salesforce.is_none() {
                Some("Salesforce is not configured for this installation.")
            } else {
                None
            },
            connections: card(ProviderId::Salesforce).into_iter().collect(),
            saved_logins: Some(self.saved_logins.clone()),
            login_hosts: self.config.salesforce.as_ref().map(|s| s.login_hosts()),
        };
        DashboardView {
            now,
            sections: vec![email, crm],
            notice: self.notice.clone(),
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
                    instance_url: s.instance_url.clone(),
                    server_clock_offset_ms: s.server_clock.offset_ms,
                    busy: c.is_busy(),
                };
                (*id, debug)
            })
            .collect();
        DebugState {
            now,
            mail_service: self.mail_service.id(),
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
        Input::RetryNow => "retry_requested",
        Input::Disconnect => "disconnect_requested",
        Input::AccessTokenNeeded | Input::Tick | Input::ApiSucceeded => return None,
    })
}

fn grant_type(body: &str) -> String {
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A failure in log-safe words: reasons and provider codes only.
pub fn describe_error(error: &OperationError) -> String {
    use crate::authorize::RedirectError;
    match error {
        OperationError::SignIn(f) => format!("sign-in: {f:?}"),
        OperationError::Redirect(RedirectError::Provider { error, .. }) => {
            format!("provider error: {}", error.code())
        }
        OperationError::Redirect(RedirectError::IssuerMismatch { .. }) => "issuer mismatch".into(),
        OperationError::Redirect(e) => format!("redirect: {e:?}"),
        OperationError::TokenRequest(d) | OperationError::NeedsAttention(d) => diagnosis_words(d),
        OperationError::RetryScheduled { at, diagnosis } => {
            format!("{}; retry at {}", diagnosis_words(diagnosis), at.0)
        }
        OperationError::TokenResponse(e) => format!("token response: {e:?}"),
        OperationError::Throttled { until } => format!("throttled until {}", until.0),
        OperationError::NotConnected => "not connected".into(),
        OperationError::Busy => "busy".into(),
        OperationError::Config(e) => format!("config: {e}"),
    }
}

fn diagnosis_words(d: &crate::diagnosis::Diagnosis) -> String {
    let reason = json::to_string(&d.reason).trim_matches('"').to_string();
    match &d.provider_code {
        Some(code) => format!("{reason} ({code})"),
        None => reason,
    }
}

impl Target {
    pub fn login_host(host: impl Into<String>) -> Target {
        Target {
            tenant: None,
            login_host: Some(host.into()),
        }
    }
}

/// `debugState()`: the engine's state for support, with no secret in it.
#[derive(Serialize)]
pub struct DebugState {
    now: Timestamp,
    #[serde(rename = "mailService")]
    mail_service: &'static str,
    connections: ProviderMap<ConnectionDebug>,
}

#[derive(Serialize)]
struct ConnectionDebug {
    account: Option<crate::connection::Account>,
    #[serde(rename = "refreshToken")]
    refresh_token: Option<RefreshTokenDebug>,
    #[serde(rename = "accessToken")]
    access_token: Option<AccessTokenDebug>,
    #[serde(rename = "refreshDueAt")]
    refresh_due_at: Option<Timestamp>,
    #[serde(rename = "nextWake")]
    next_wake: Option<Timestamp>,
    attention: Option<crate::diagnosis::Diagnosis>,
    #[serde(rename = "lastFailure")]
    last_failure: Option<crate::diagnosis::Diagnosis>,
    #[serde(rename = "consecutiveFailures")]
    consecutive_failures: u32,
    #[serde(rename = "nextAttemptAt")]
    next_attempt_at: Option<Timestamp>,
    #[serde(rename = "claimsChallengePending")]
    claims_challenge_pending: bool,
    #[serde(rename = "instanceUrl")]
    instance_url: Option<String>,
    #[serde(rename = "serverClockOffsetMs")]
    server_clock_offset_ms: i64,
    busy: bool,
}

/// A refresh token's presence and dates, never its value.
#[derive(Serialize)]
struct RefreshTokenDebug {
    present: bool,
    #[serde(rename = "signedInAt")]
    signed_in_at: Timestamp,
    #[serde(rename = "hardDeadline")]
    hard_deadline: Option<Timestamp>,
}

/// An access token's presence and expiry, never its value.
#[derive(Serialize)]
struct AccessTokenDebug {
    present: bool,
    #[serde(rename = "issuedAt")]
    issued_at: Timestamp,
    #[serde(rename = "expiresAt")]
    expires_at: Timestamp,
    #[serde(rename = "expirySource")]
    expiry_source: crate::token::ExpirySource,
    #[serde(rename = "lifetimeMs")]
    lifetime_ms: u64,
    fresh: bool,
    scope: Option<String>,
}

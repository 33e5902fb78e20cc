//! The Sync Settings screen as data. The HTML only renders it.
//!
//! Two sections, as the sidebar's users know them: **E-Mail Configuration** (which mail
//! service, and its connection) and **CRM** (Salesforce, with the usernames and login hosts
//! used before). Per connection: the account, the status, the reason in plain words, the
//! time until a sign-in is needed, and which of Refresh / Change are offered.

use serde::Serialize;

use crate::connection::{Connection, OperationError};
use crate::diagnosis::{Action, Diagnosis, Reason};
use crate::engine::Engine;
use crate::provider::{LoginHost, MailService, ProviderId, SectionId};
use crate::time::{human_duration, Timestamp};
use crate::token::ExpirySource;
use crate::vault::SavedLogin;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
pub struct DashboardView {
    pub now: Timestamp,
    pub sections: Vec<Section>,
    /// Shown above the sections when stored data could not be read.
    pub notice: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct Section {
    pub id: SectionId,
    pub title: &'static str,
    /// E-Mail Configuration: the mail service chosen (`null` in other sections).
    pub mail_service: Option<MailService>,
    pub mail_service_choices: Option<Vec<Choice>>,
    pub hint: Option<&'static str>,
    pub connections: Vec<ConnectionView>,
    /// Usernames and login hosts used before, where a provider of the section offers them.
    pub saved_logins: Option<Vec<SavedLogin>>,
    /// The login hosts a Change may pick from, where a provider of the section has them.
    pub login_hosts: Option<Vec<LoginHost>>,
    /// An example of a login host of one's own, for the Change form (a Salesforce My
    /// Domain), where a provider of the section accepts one.
    pub custom_login_host_example: Option<&'static str>,
}

/// A mail-service choice and the service whose card it selects.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
pub struct Choice {
    pub id: MailService,
    pub label: &'static str,
    pub service: Option<ProviderId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Disconnected,
    Connected,
    SigningIn,
    Refreshing,
    Retrying,
    NeedsAttention,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    pub service: ProviderId,
    pub title: &'static str,
    pub account: Option<String>,
    pub status: Status,
    pub status_text: String,
    pub reason: Option<Reason>,
    pub reason_text: Option<String>,
    pub action: Option<Action>,
    pub provider_code: Option<String>,
    pub sign_in_needed_at: Option<Timestamp>,
    pub sign_in_needed_text: Option<String>,
    pub access_token_expires_at: Option<Timestamp>,
    pub expiry_provenance: Option<ExpirySource>,
    pub next_retry_at: Option<Timestamp>,
    /// "Next try in 3 min", while a retry is scheduled.
    pub next_retry_text: Option<String>,
    /// What only an administrator can fix, said as such.
    pub advice: Option<&'static str>,
    pub can_refresh: bool,
    pub can_change: bool,
    /// "Try again": retry now, after six transient failures in a row (the backoff is long
    /// by then) or on a pause an older version stored.
    pub can_retry: bool,
    pub busy: bool,
    /// The login host of the connection, where the provider has login hosts (on-premises
    /// Exchange: its EWS URL).
    pub login_host: Option<String>,
    /// Change and Refresh ask for a login and password here (on-premises Exchange), not a
    /// sign-in window.
    pub asks_password: bool,
    /// The mail service this card's account is (a Microsoft account in the consumers
    /// tenant: Outlook.com): what Change's chooser starts from, whatever was picked since.
    pub mail_service: Option<MailService>,
}

/// The Sync Settings screen of `engine` at `now`.
pub fn dashboard(engine: &Engine, now: Timestamp) -> DashboardView {
    let mail_service = engine.mail_service();
    let card = |id: ProviderId| engine.connection(id).map(|c| connection_view(c, now));
    let in_section = |section: SectionId| {
        ProviderId::ALL
            .into_iter()
            .filter(move |id| id.rules().section == section)
    };
    let mut mail_connections: Vec<ConnectionView> = match mail_service.provider() {
        Some(id) => card(id).into_iter().collect(),
        None => in_section(SectionId::Email).filter_map(card).collect(),
    };
    // A mail connection the user has signed in to stays visible after another mail service
    // is chosen: it is still renewed, and if it needs the user, the dashboard (and the
    // extension's badge) must be able to say so, and offer Disconnect.
    if let Some(selected) = mail_service.provider() {
        for id in in_section(SectionId::Email).filter(|id| *id != selected) {
            let signed_in = engine
                .connection(id)
                .is_some_and(|c| c.state.account.is_some());
            if signed_in {
                mail_connections.extend(card(id));
            }
        }
    }
    let email = Section {
        id: SectionId::Email,
        title: "E-Mail Configuration",
        mail_service: Some(mail_service),
        mail_service_choices: Some(
            MailService::ALL
                .into_iter()
                .map(|m| Choice {
                    id: m,
                    label: m.label(),
                    service: m.provider(),
                })
                .collect(),
        ),
        hint: mail_service.hint(engine.config()),
        connections: mail_connections,
        saved_logins: None,
        login_hosts: None,
        custom_login_host_example: None,
    };
    let crm_providers: Vec<ProviderId> = in_section(SectionId::Crm).collect();
    let configured = engine.config().configured();
    let login_hosts: Vec<LoginHost> = crm_providers
        .iter()
        .flat_map(|id| (id.rules().login_hosts)(engine.config()))
        .collect();
    let crm = Section {
        id: SectionId::Crm,
        title: "CRM",
        mail_service: None,
        mail_service_choices: None,
        hint: crm_providers
            .iter()
            .find(|id| !configured.contains(id))
            .map(|id| id.rules().not_configured),
        connections: crm_providers.iter().filter_map(|id| card(*id)).collect(),
        saved_logins: crm_providers
            .iter()
            .any(|id| id.rules().remembers_logins)
            .then(|| engine.saved_logins().to_vec()),
        login_hosts: (!login_hosts.is_empty()).then_some(login_hosts),
        custom_login_host_example: crm_providers
            .iter()
            .find_map(|id| id.rules().custom_login_host_example),
    };
    DashboardView {
        now,
        sections: vec![email, crm],
        notice: engine.notice().map(String::from),
    }
}

/// Builds one connection's card.
pub fn connection_view(connection: &Connection, now: Timestamp) -> ConnectionView {
    let state = &connection.state;
    let account = state.account.as_ref();
    let access = connection.access_token();
    let mut view = ConnectionView {
        service: connection.service,
        title: connection.title(),
        account: account.and_then(|a| a.username.clone().or_else(|| a.name.clone())),
        status: Status::Disconnected,
        status_text: "Not connected".into(),
        reason: None,
        reason_text: None,
        action: None,
        provider_code: None,
        sign_in_needed_at: None,
        sign_in_needed_text: None,
        access_token_expires_at: access.map(|a| a.expiry.at),
        expiry_provenance: access.map(|a| a.expiry.source),
        next_retry_at: None,
        next_retry_text: None,
        advice: None,
        can_refresh: account.is_some() && !connection.is_busy(),
        can_change: (connection.profile().is_some() || connection.rules.password.is_some())
            && !connection.is_busy(),
        can_retry: false,
        busy: connection.is_busy(),
        login_host: account.and_then(|a| a.target.login_host.clone()),
        asks_password: connection.rules.password.is_some(),
        mail_service: account
            .and_then(|a| MailService::of_connection(connection.service, &a.target)),
    };
    let show = |view: &mut ConnectionView, d: &Diagnosis| {
        view.reason = Some(d.reason);
        view.reason_text = Some(d.reason.plain_text().to_string());
        view.action = Some(d.action);
        view.provider_code = d.provider_code.clone();
        if d.action == Action::ContactAdmin {
            view.advice = Some("This needs your administrator; signing in again will not fix it.");
        }
    };
    if connection.is_signing_in() {
        view.status = Status::SigningIn;
        view.status_text = "Signing in…".into();
    } else if connection.is_refreshing() {
        view.status = Status::Refreshing;
        view.status_text = "Refreshing…".into();
    } else if let Some(d) = connection.attention() {
        view.status = Status::NeedsAttention;
        show(&mut view, d);
        if d.reason.is_transient() {
            // Only a pause stored by an older version (transient failures no longer pause);
            // it ends on the next `online`, worker start or Retry.
            view.status_text =
                "Paused: sync retries when the network comes back, or now with Retry".into();
            view.can_retry = true;
        } else {
            view.status_text = match d.action {
                Action::ContactAdmin => "Blocked".into(),
                _ if d.reason == Reason::CredentialsRejected => "Password rejected".into(),
                Action::Change => "Needs another account".into(),
                _ => "Sign-in needed".into(),
            };
        }
    } else if let (Some(at), Some(d)) = (state.next_attempt_at, state.last_failure.as_ref()) {
        view.status = Status::Retrying;
        show(&mut view, d);
        view.next_retry_at = Some(at);
        view.status_text = format!("Will retry in {}", human_duration(now.until(at)));
        // After many failures in a row the backoff is long: the user may try now instead
        // of waiting (the connection keeps retrying by itself either way).
        view.can_retry = state.consecutive_failures >= crate::schedule::MAX_CONSECUTIVE_FAILURES;
        view.next_retry_text = Some(if at > now {
            format!("Next try in {}", human_duration(now.until(at)))
        } else {
            "Trying again now".into()
        });
    } else if connection.is_connected() {
        view.status = Status::Connected;
        view.status_text = "Connected".into();
    }
    // A failed sign-in is said where nothing else says why the card is not connected. On a
    // connected card it would read as if the connection had a problem (it has none: a failed
    // Change or Refresh leaves it as it was); the rejection itself tells the user then.
    if view.status == Status::Disconnected {
        if let Some(error) = &connection.last_sign_in_error {
            view.reason_text = Some(sign_in_error_text(error));
        }
    }
    if view.status != Status::Disconnected {
        if let Some(at) = connection.sign_in_needed_at() {
            view.sign_in_needed_at = Some(at);
            view.sign_in_needed_text = Some(if at > now {
                format!("Sign-in needed in {}", human_duration(now.until(at)))
            } else {
                "Sign-in needed now".into()
            });
        }
    }
    view
}

/// Plain words for a failed sign-in (the connection itself is unchanged).
pub fn sign_in_error_text(error: &OperationError) -> String {
    use crate::authorize::RedirectError;
    use crate::connection::SignInFailure;
    match error {
        OperationError::SignIn(SignInFailure::Cancelled) => {
            "The sign-in window was closed before signing in.".into()
        }
        OperationError::SignIn(SignInFailure::PopupBlocked) => {
            "The browser blocked the sign-in window. Allow pop-ups for this page and try again."
                .into()
        }
        OperationError::SignIn(SignInFailure::InteractionRequired) => {
            "The service needs you to sign in.".into()
        }
        OperationError::SignIn(SignInFailure::HostError(_)) => {
            "The sign-in window could not be opened.".into()
        }
        OperationError::Redirect(RedirectError::Provider { error, .. })
            if *error == crate::authorize::ProviderAuthError::AccessDenied =>
        {
            "Access was not granted.".into()
        }
        OperationError::Redirect(RedirectError::Provider { .. }) => {
            "The service refused the sign-in.".into()
        }
        OperationError::Redirect(_) => {
            "The sign-in answer did not match the request and was ignored.".into()
        }
        OperationError::TokenRequest(d) | OperationError::NeedsAttention(d) => {
            d.reason.plain_text().into()
        }
        OperationError::RetryScheduled { diagnosis, .. } => diagnosis.reason.plain_text().into(),
        OperationError::TokenResponse(_) => {
            "The service's answer to the sign-in could not be read.".into()
        }
        OperationError::Throttled { .. } => {
            "Too many sign-in requests in a short time. Try again in a few minutes.".into()
        }
        OperationError::NotConnected => "Not connected.".into(),
        OperationError::WrongAccount => {
            "You signed in with another account, so nothing was changed. Use Change to switch accounts.".into()
        }
        OperationError::Busy => "Another sign-in is in progress.".into(),
        OperationError::Config(e) => format!("Configuration problem: {e}"),
    }
}

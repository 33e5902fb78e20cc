//! The Sync Settings screen as data. The HTML only renders it.
//!
//! Two sections, as the sidebar's users know them: **E-Mail Configuration** (which mail
//! service, and its connection) and **CRM** (Salesforce, with the usernames and login hosts
//! used before). Per connection: the account, the status, the reason in plain words, the
//! time until a sign-in is needed, and which of Refresh / Change are offered.

use miniserde::Serialize;

use crate::connection::{Connection, OperationError};
use crate::diagnosis::{Action, Diagnosis, Reason};
use crate::provider::salesforce::LoginHost;
use crate::provider::{microsoft, ProviderId, ProviderProfile};
use crate::time::{human_duration, Timestamp};
use crate::token::ExpirySource;
use crate::vault::{MailService, SavedLogin};

#[derive(Debug, Clone, Serialize)]
pub struct DashboardView {
    pub now: Timestamp,
    pub sections: Vec<Section>,
    /// Shown above the sections when stored data could not be read.
    pub notice: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub id: &'static str,
    pub title: &'static str,
    #[serde(rename = "mailService")]
    pub mail_service: Option<&'static str>,
    #[serde(rename = "mailServiceChoices")]
    pub mail_service_choices: Option<Vec<Choice>>,
    pub hint: Option<&'static str>,
    pub connections: Vec<ConnectionView>,
    #[serde(rename = "savedLogins")]
    pub saved_logins: Option<Vec<SavedLogin>>,
    #[serde(rename = "loginHosts")]
    pub login_hosts: Option<Vec<LoginHost>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub id: &'static str,
    pub label: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    #[serde(rename = "disconnected")]
    Disconnected,
    #[serde(rename = "connected")]
    Connected,
    #[serde(rename = "signing_in")]
    SigningIn,
    #[serde(rename = "refreshing")]
    Refreshing,
    #[serde(rename = "retrying")]
    Retrying,
    #[serde(rename = "needs_attention")]
    NeedsAttention,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionView {
    pub service: ProviderId,
    pub title: &'static str,
    pub account: Option<String>,
    pub status: Status,
    #[serde(rename = "statusText")]
    pub status_text: String,
    pub reason: Option<Reason>,
    #[serde(rename = "reasonText")]
    pub reason_text: Option<String>,
    pub action: Option<Action>,
    #[serde(rename = "providerCode")]
    pub provider_code: Option<String>,
    #[serde(rename = "signInNeededAt")]
    pub sign_in_needed_at: Option<Timestamp>,
    #[serde(rename = "signInNeededText")]
    pub sign_in_needed_text: Option<String>,
    #[serde(rename = "accessTokenExpiresAt")]
    pub access_token_expires_at: Option<Timestamp>,
    #[serde(rename = "expiryProvenance")]
    pub expiry_provenance: Option<ExpirySource>,
    #[serde(rename = "nextRetryAt")]
    pub next_retry_at: Option<Timestamp>,
    #[serde(rename = "canRefresh")]
    pub can_refresh: bool,
    #[serde(rename = "canChange")]
    pub can_change: bool,
    /// "Try again" after the engine paused on repeated transient failures.
    #[serde(rename = "canRetry")]
    pub can_retry: bool,
    pub busy: bool,
    /// Salesforce: the login host of the connection.
    #[serde(rename = "loginHost")]
    pub login_host: Option<String>,
}

/// Builds one connection's card.
pub fn connection_view(
    connection: &Connection,
    profile: Option<&ProviderProfile>,
    now: Timestamp,
) -> ConnectionView {
    let state = &connection.state;
    let account = state.account.as_ref();
    let title = match (
        connection.service,
        account.and_then(|a| a.target.tenant.as_deref()),
    ) {
        (ProviderId::Microsoft, Some(t)) if t == microsoft::tenant_for_outlook_com() => {
            "Outlook.com"
        }
        (service, _) => service.title(),
    };
    let access = connection.access_token();
    let mut view = ConnectionView {
        service: connection.service,
        title,
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
        can_refresh: account.is_some() && !connection.is_busy(),
        can_change: profile.is_some() && !connection.is_busy(),
        can_retry: false,
        busy: connection.is_busy(),
        login_host: account.and_then(|a| a.target.login_host.clone()),
    };
    let show = |view: &mut ConnectionView, d: &Diagnosis| {
        view.reason = Some(d.reason);
        view.reason_text = Some(d.reason.plain_text().to_string());
        view.action = Some(d.action);
        view.provider_code = d.provider_code.clone();
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
            view.status_text = "Paused after repeated failures".into();
            view.can_retry = true;
        } else {
            view.status_text = match d.action {
                Action::ContactAdmin => "Blocked".into(),
                Action::Change => "Needs another account".into(),
                _ => "Sign-in needed".into(),
            };
        }
    } else if let (Some(at), Some(d)) = (state.next_attempt_at, state.last_failure.as_ref()) {
        view.status = Status::Retrying;
        show(&mut view, d);
        view.next_retry_at = Some(at);
        view.status_text = format!("Will retry in {}", human_duration(now.until(at)));
    } else if connection.is_connected() {
        view.status = Status::Connected;
        view.status_text = "Connected".into();
    }
    if view.status == Status::Disconnected || view.status == Status::Connected {
        if let Some(error) = &connection.last_sign_in_error {
            view.reason_text = Some(sign_in_error_text(error));
        }
    }
    if view.status != Status::Disconnected {
        if let Some(at) = connection.sign_in_needed_at(profile) {
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
        OperationError::Busy => "Another sign-in is in progress.".into(),
        OperationError::Config(e) => format!("Configuration problem: {e}"),
    }
}

pub(crate) fn mail_choices() -> Vec<Choice> {
    MailService::ALL
        .iter()
        .map(|m| Choice {
            id: m.id(),
            label: m.label(),
        })
        .collect()
}

//! Every failure the JS API reports: a plain object with a stable `code`.
//!
//! Plain data (no JavaScript here): `src/web/` turns it into the rejection value, and the
//! contract test writes it as the host sees it.

use serde::Serialize;

use crate::authorize::{ProviderAuthError, RedirectError};
use crate::connection::{OperationError, SignInFailure};
use crate::diagnosis::{Action, Diagnosis, Reason};
use crate::provider::{ConfigError, ProviderId};
use crate::time::Timestamp;
use crate::view::sign_in_error_text;

/// Every rejection of the JS API. `code` is stable: `sign_in_cancelled`, `popup_blocked`,
/// `state_mismatch`, `issuer_mismatch`, `needs_attention`, `retry_scheduled`,
/// `foreign_origin`, ...
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
    pub service: Option<ProviderId>,
    pub reason: Option<Reason>,
    pub action: Option<Action>,
    pub provider_code: Option<String>,
    pub retry_at: Option<Timestamp>,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            service: None,
            reason: None,
            action: None,
            provider_code: None,
            retry_at: None,
        }
    }

    pub fn for_service(mut self, service: ProviderId) -> ApiError {
        self.service = Some(service);
        self
    }

    fn with_diagnosis(mut self, d: &Diagnosis) -> ApiError {
        self.reason = Some(d.reason);
        self.action = Some(d.action);
        self.provider_code = d.provider_code.clone();
        self
    }

    pub fn from_operation(service: ProviderId, error: &OperationError) -> ApiError {
        let message = sign_in_error_text(error);
        let e = match error {
            OperationError::SignIn(SignInFailure::Cancelled) => {
                ApiError::new("sign_in_cancelled", message)
            }
            OperationError::SignIn(SignInFailure::PopupBlocked) => {
                ApiError::new("popup_blocked", message)
            }
            OperationError::SignIn(SignInFailure::InteractionRequired) => {
                ApiError::new("interaction_required", message)
            }
            OperationError::SignIn(SignInFailure::HostError(_)) => {
                ApiError::new("host_error", message)
            }
            OperationError::Redirect(RedirectError::StateMismatch) => {
                ApiError::new("state_mismatch", message)
            }
            OperationError::Redirect(RedirectError::IssuerMismatch { .. }) => {
                ApiError::new("issuer_mismatch", message)
            }
            OperationError::Redirect(RedirectError::MissingIssuer) => {
                ApiError::new("issuer_missing", message)
            }
            OperationError::Redirect(RedirectError::NotOurRedirect) => {
                ApiError::new("unexpected_redirect", message)
            }
            OperationError::Redirect(RedirectError::MissingCode) => {
                ApiError::new("missing_code", message)
            }
            OperationError::Redirect(RedirectError::Provider { error, .. }) => {
                let code = match error {
                    ProviderAuthError::AccessDenied => "access_denied",
                    e if e.needs_interaction() => "interaction_required",
                    _ => "provider_error",
                };
                let mut e = ApiError::new(code, message);
                e.provider_code = Some(error.code().to_string());
                e
            }
            OperationError::TokenRequest(d) => {
                ApiError::new("token_request_failed", message).with_diagnosis(d)
            }
            OperationError::TokenResponse(_) => ApiError::new("invalid_token_response", message),
            OperationError::NeedsAttention(d) => {
                ApiError::new("needs_attention", message).with_diagnosis(d)
            }
            OperationError::RetryScheduled { at, diagnosis } => {
                let mut e = ApiError::new("retry_scheduled", message).with_diagnosis(diagnosis);
                e.retry_at = Some(*at);
                e
            }
            OperationError::Throttled { until } => {
                let mut e = ApiError::new("throttled", message);
                e.retry_at = Some(*until);
                e
            }
            OperationError::NotConnected => ApiError::new("not_connected", message),
            OperationError::WrongAccount => ApiError::new("wrong_account", message),
            OperationError::Busy => ApiError::new("busy", message),
            OperationError::Config(ConfigError::SignInNotAvailable(_)) => {
                ApiError::new("not_available", message)
            }
            OperationError::Config(e) => ApiError::new("invalid_config", e.to_string()),
        };
        e.for_service(service)
    }
}

//! Why a token request failed and what the user (or nobody) should do about it.
//!
//! One reason list for every provider, four actions. Each provider file holds its own error
//! table (`provider::<name>::classify`); this module applies the rules common to all of them
//! first: transport and server failures are transient, a body that cannot be read is
//! transient, and only a provider's explicit statement kills a refresh token.

use miniserde::{Deserialize, Serialize};

use crate::http::{retry_after_ms, HttpResponse};
use crate::provider::{self, ProviderId};
use crate::time::Timestamp;

/// What the user should do. Serialized as the four strings the JS API documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Nothing: the engine retries by itself with backoff.
    #[serde(rename = "retry_later")]
    RetryLater,
    /// Re-authorize the same account (the Sync Settings **Refresh** button).
    #[serde(rename = "refresh")]
    Refresh,
    /// Use another account, password or server (**Change**).
    #[serde(rename = "change")]
    Change,
    /// Only an administrator can fix it.
    #[serde(rename = "contact_admin")]
    ContactAdmin,
}

/// What happened, in one list shared by all providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    // Transient: never delete a token, never ask for a sign-in.
    #[serde(rename = "network_unavailable")]
    NetworkUnavailable,
    #[serde(rename = "provider_unavailable")]
    ProviderUnavailable,
    #[serde(rename = "rate_limited")]
    RateLimited,
    #[serde(rename = "malformed_response")]
    MalformedResponse,
    #[serde(rename = "request_loop_detected")]
    RequestLoopDetected,
    // The refresh token is gone or insufficient: sign in again.
    #[serde(rename = "refresh_token_revoked")]
    RefreshTokenRevoked,
    #[serde(rename = "refresh_token_expired")]
    RefreshTokenExpired,
    #[serde(rename = "sign_in_ended")]
    SignInEnded,
    #[serde(rename = "session_lifetime_reached")]
    SessionLifetimeReached,
    #[serde(rename = "sign_in_frequency")]
    SignInFrequency,
    #[serde(rename = "mfa_required")]
    MfaRequired,
    #[serde(rename = "mfa_registration_required")]
    MfaRegistrationRequired,
    #[serde(rename = "consent_required")]
    ConsentRequired,
    #[serde(rename = "password_invalid")]
    PasswordInvalid,
    #[serde(rename = "interaction_required")]
    InteractionRequired,
    #[serde(rename = "reauthentication_required")]
    ReauthenticationRequired,
    #[serde(rename = "authentication_failure")]
    AuthenticationFailure,
    #[serde(rename = "grant_rejected")]
    GrantRejected,
    #[serde(rename = "claims_challenge")]
    ClaimsChallenge,
    #[serde(rename = "credentials_rejected")]
    CredentialsRejected,
    #[serde(rename = "token_rejected_by_api")]
    TokenRejectedByApi,
    // Only an administrator can help.
    #[serde(rename = "blocked_by_policy")]
    BlockedByPolicy,
    #[serde(rename = "device_not_compliant")]
    DeviceNotCompliant,
    #[serde(rename = "admin_consent_required")]
    AdminConsentRequired,
    #[serde(rename = "admin_policy")]
    AdminPolicy,
    #[serde(rename = "app_misconfigured")]
    AppMisconfigured,
    #[serde(rename = "org_locked")]
    OrgLocked,
    #[serde(rename = "account_locked")]
    AccountLocked,
    #[serde(rename = "account_disabled")]
    AccountDisabled,
    #[serde(rename = "user_deactivated")]
    UserDeactivated,
    // Another account is needed.
    #[serde(rename = "wrong_account")]
    WrongAccount,
    // A provider error nobody documented.
    #[serde(rename = "unknown_error")]
    UnknownError,
}

impl Reason {
    /// The reason in plain words, as the dashboard shows it.
    pub fn plain_text(self) -> &'static str {
        use Reason::*;
        match self {
            NetworkUnavailable => "The service could not be reached. Sync will retry by itself.",
            ProviderUnavailable => "The service is temporarily unavailable. Sync will retry by itself.",
            RateLimited => "The service asked us to slow down. Sync will retry by itself.",
            MalformedResponse => "The service sent an answer that could not be read. Sync will retry by itself.",
            RequestLoopDetected => "Too many sign-in requests in a short time. Sync is pausing before it tries again.",
            RefreshTokenRevoked => "Your password was changed or your sessions were signed out. Sign in again.",
            RefreshTokenExpired => "Your sign-in expired (unused for too long, or by your organization's policy). Sign in again.",
            SignInEnded => "Your sign-in ended: access was revoked, your password changed, or it went unused too long. Sign in again.",
            SessionLifetimeReached => "Sign-ins for this app last 24 hours. It is time to sign in again.",
            SignInFrequency => "Your organization requires you to sign in again periodically.",
            MfaRequired => "Your organization requires additional verification (MFA). Sign in again.",
            MfaRegistrationRequired => "You need to set up additional verification (MFA) for your account. Sign in to do it, or ask your administrator.",
            ConsentRequired => "The app needs your permission again. Sign in and accept.",
            PasswordInvalid => "Your password is wrong or has expired. Sign in again.",
            InteractionRequired => "The service needs you to sign in again.",
            ReauthenticationRequired => "Your organization requires you to confirm your identity again.",
            AuthenticationFailure => "The sign-in was rejected: your password may have changed or your user was deactivated. Sign in again; if that fails, contact your administrator.",
            GrantRejected => "The service no longer accepts this sign-in. Sign in again.",
            ClaimsChallenge => "Your organization requires an additional check for this account. Sign in again.",
            CredentialsRejected => "The server rejected the password: it may be wrong, changed or expired, or the account is locked. Enter it again.",
            TokenRejectedByApi => "The service keeps rejecting this sign-in. Sign in again.",
            BlockedByPolicy => "Access is blocked by your organization's policy (location, network, hours or app). Contact your administrator.",
            DeviceNotCompliant => "Your organization only allows managed or compliant devices. Contact your administrator.",
            AdminConsentRequired => "An administrator must approve this app for your organization.",
            AdminPolicy => "Your administrator has restricted access to this app.",
            AppMisconfigured => "The app is not set up correctly with this service. Contact your administrator.",
            OrgLocked => "Your organization's account is locked. Contact your administrator.",
            AccountLocked => "Your account is locked. Wait for it to unlock, or contact your administrator.",
            AccountDisabled => "Your account is disabled. Contact your administrator, or use another account.",
            UserDeactivated => "Your user is deactivated. Contact your administrator, or use another account.",
            WrongAccount => "This account does not belong to the expected organization. Use another account.",
            UnknownError => "The service refused the request for an unknown reason.",
        }
    }

    pub fn is_transient(self) -> bool {
        use Reason::*;
        matches!(
            self,
            NetworkUnavailable
                | ProviderUnavailable
                | RateLimited
                | MalformedResponse
                | RequestLoopDetected
        )
    }
}

/// The verdict on one failed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub reason: Reason,
    pub action: Action,
    /// True only when the provider said the refresh token is dead (design rule 5).
    pub drop_refresh_token: bool,
    /// How long to wait before trying again, when the provider said (`Retry-After`).
    pub retry_after_ms: Option<u64>,
    /// The provider's own code, for support: `AADSTS50173`, `invalid_grant`, `INVALID_SESSION_ID`.
    pub provider_code: Option<String>,
    /// A Microsoft claims challenge to pass to the next interactive sign-in.
    pub claims: Option<String>,
}

impl Diagnosis {
    pub fn new(reason: Reason, action: Action) -> Diagnosis {
        Diagnosis {
            reason,
            action,
            drop_refresh_token: false,
            retry_after_ms: None,
            provider_code: None,
            claims: None,
        }
    }

    pub fn transient(reason: Reason) -> Diagnosis {
        Diagnosis::new(reason, Action::RetryLater)
    }

    /// The provider said the refresh token is dead: delete it.
    pub fn dropping_refresh_token(mut self) -> Diagnosis {
        self.drop_refresh_token = true;
        self
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Diagnosis {
        self.provider_code = Some(code.into());
        self
    }

    /// The request did not get a response at all (offline, DNS, CORS, connection reset).
    pub fn network_failure() -> Diagnosis {
        Diagnosis::transient(Reason::NetworkUnavailable)
    }
}

/// An OAuth 2.0 error response (RFC 6749 §5.2) with the provider extensions the tables look
/// at. Every field is optional: providers omit and add fields, and a body that lacks `error`
/// is not an error response.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OAuthErrorBody {
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Microsoft Entra: `error_codes: [50173]`.
    pub error_codes: Option<Vec<u64>>,
    /// Microsoft Entra: `basic_action`, `bad_token`, `user_password_expired`, ...
    pub suberror: Option<String>,
    /// Google: `invalid_rapt`.
    pub error_subtype: Option<String>,
    /// Microsoft Entra: a claims challenge.
    pub claims: Option<String>,
}

impl OAuthErrorBody {
    /// Parses a body; `None` when it is not JSON or has no `error` string.
    pub fn parse(body: &str) -> Option<OAuthErrorBody> {
        let parsed: OAuthErrorBody = miniserde::json::from_str(body).ok()?;
        parsed.error.as_ref()?;
        Some(parsed)
    }

    pub fn error(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    pub fn description(&self) -> &str {
        self.error_description.as_deref().unwrap_or("")
    }
}

/// Classifies a failed token-endpoint response (code redemption or refresh).
///
/// Never panics, whatever the body. Order: transport-level statuses, then the body's
/// OAuth `error` through the provider's table, then the RFC 6749 §5.2 defaults.
pub fn classify(provider: ProviderId, response: &HttpResponse, now: Timestamp) -> Diagnosis {
    let retry_after = retry_after_ms(response, now.0);
    let with_retry = |mut d: Diagnosis| {
        d.retry_after_ms = retry_after;
        d
    };

    if provider == ProviderId::Exchange {
        return with_retry(provider::exchange::classify(response.status));
    }

    let body = OAuthErrorBody::parse(&response.body);
    if let Some(known) = body
        .as_ref()
        .and_then(|b| provider::classify_error(provider, response.status, b))
    {
        return with_retry(known);
    }
    if response.status == 429 {
        return with_retry(Diagnosis::transient(Reason::RateLimited));
    }
    if response.status >= 500 {
        return with_retry(Diagnosis::transient(Reason::ProviderUnavailable));
    }
    let Some(body) = body else {
        // Cut-off JSON, an HTML error page from a proxy, an empty body: nothing the provider
        // said about the token, so it stays and we try again later.
        return with_retry(Diagnosis::transient(Reason::MalformedResponse));
    };
    with_retry(classify_standard_error(&body))
}

/// RFC 6749 §5.2 and OpenID Connect Core §3.1.2.6 error codes, for what a provider table
/// does not single out.
fn classify_standard_error(body: &OAuthErrorBody) -> Diagnosis {
    let code = body.error();
    let d = match code {
        // "The provided authorization grant ... or refresh token is invalid, expired,
        // revoked ..." (RFC 6749 §5.2): the provider said it is dead.
        "invalid_grant" => {
            Diagnosis::new(Reason::GrantRejected, Action::Refresh).dropping_refresh_token()
        }
        "temporarily_unavailable" | "server_error" => {
            Diagnosis::transient(Reason::ProviderUnavailable)
        }
        "invalid_client" | "unauthorized_client" | "unsupported_grant_type" | "invalid_scope" => {
            Diagnosis::new(Reason::AppMisconfigured, Action::ContactAdmin)
        }
        "interaction_required" | "login_required" | "account_selection_required" => {
            Diagnosis::new(Reason::InteractionRequired, Action::Refresh)
        }
        "consent_required" => Diagnosis::new(Reason::ConsentRequired, Action::Refresh),
        "access_denied" => Diagnosis::new(Reason::ConsentRequired, Action::Refresh),
        _ => Diagnosis::new(Reason::UnknownError, Action::RetryLater),
    };
    d.with_code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_body(provider: ProviderId, status: u16, body: &str) -> Diagnosis {
        classify(provider, &HttpResponse::new(status, body), Timestamp(0))
    }

    #[test]
    fn transport_failures_are_transient_and_keep_the_token() {
        for provider in ProviderId::ALL {
            for (status, body) in [
                (500, "<html>oops</html>"),
                (502, ""),
                (503, "{\"error\":\"temporarily_unavailable\"}"),
                (429, ""),
                (400, "{\"access_token\": \"cut"),
                (200, ""),
                (400, "[1,2,3]"),
                (400, "\u{0}\u{1}garbage"),
            ] {
                let d = classify_body(provider, status, body);
                if provider == ProviderId::Exchange && status == 400 {
                    continue; // EWS has no OAuth bodies; covered in the Exchange file.
                }
                assert_eq!(d.action, Action::RetryLater, "{provider:?} {status} {body}");
                assert!(!d.drop_refresh_token, "{provider:?} {status} {body}");
            }
        }
    }

    #[test]
    fn retry_after_is_carried() {
        let r = HttpResponse::new(503, "").with_header("Retry-After", "7");
        let d = classify(ProviderId::Google, &r, Timestamp(0));
        assert_eq!(d.retry_after_ms, Some(7_000));
        assert_eq!(d.reason, Reason::ProviderUnavailable);
    }

    #[test]
    fn unknown_invalid_grant_asks_for_refresh_and_drops_the_token() {
        for provider in [
            ProviderId::Microsoft,
            ProviderId::Google,
            ProviderId::Salesforce,
        ] {
            let d = classify_body(
                provider,
                400,
                r#"{"error":"invalid_grant","error_description":"something new"}"#,
            );
            assert_eq!(d.action, Action::Refresh, "{provider:?}");
            assert!(d.drop_refresh_token);
        }
    }

    #[test]
    fn every_reason_has_words() {
        assert!(!Reason::UnknownError.plain_text().is_empty());
    }
}

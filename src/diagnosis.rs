//! Why a token request failed and what the user (or nobody) should do about it.
//!
//! One reason list for every provider, four actions, and the order in which a failed
//! token-endpoint answer is judged (`classify`):
//!
//! 1. **Transport first.** 429 and every 5xx are transient, whatever the body says: a body
//!    that names a dead grant inside a server error is not the provider's verdict
//!    (providers.md, common rules). A refresh token is never dropped here.
//! 2. **The provider's own table** (each provider file; `TokenErrorTable`), which knows its
//!    codes (`error_codes`, `error_subtype`, documented descriptions).
//! 3. **No readable OAuth error body** (an HTML page from a proxy, cut-off JSON): transient.
//! 4. **RFC 6749 §5.2 by class** (and OpenID Connect Core §3.1.2.6): `invalid_grant` means
//!    the grant is dead (Refresh); client and registration errors need an administrator;
//!    an error code nobody documented asks the user to sign in again (Refresh) rather than
//!    retrying for ever, and keeps the refresh token, since no provider said it is dead.
//!
//! This module knows no provider: the provider files call it with their table.

use serde::{Deserialize, Serialize};

use crate::http::{retry_after_ms, HttpResponse};
use crate::time::Timestamp;

/// What the user should do. Serialized as the four strings the JS API documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing: the engine retries by itself with backoff.
    RetryLater,
    /// Re-authorize the same account (the Sync Settings **Refresh** button).
    Refresh,
    /// Use another account, password or server (**Change**).
    Change,
    /// Only an administrator can fix it.
    ContactAdmin,
}

/// What happened, in one list shared by all providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    // Transient: never delete a token, never ask for a sign-in.
    NetworkUnavailable,
    /// The request was sent and not answered in time: the provider may have processed it.
    RequestTimedOut,
    ProviderUnavailable,
    RateLimited,
    MalformedResponse,
    RequestLoopDetected,
    // The refresh token is gone or insufficient: sign in again.
    RefreshTokenRevoked,
    RefreshTokenExpired,
    SignInEnded,
    SessionLifetimeReached,
    SignInFrequency,
    MfaRequired,
    MfaRegistrationRequired,
    ConsentRequired,
    PasswordInvalid,
    InteractionRequired,
    ReauthenticationRequired,
    AuthenticationFailure,
    GrantRejected,
    /// The refresh token was refused right after a refresh whose answer never arrived: the
    /// provider may have completed that refresh and rotated the token (the new one was
    /// never received), then treated the retry as reuse (RFC 9700 §4.14.2).
    RefreshOutcomeLost,
    ClaimsChallenge,
    CredentialsRejected,
    TokenRejectedByApi,
    /// The server takes a Microsoft (Entra) sign-in, not a password (`WWW-Authenticate:
    /// Bearer`, hybrid modern authentication).
    ModernAuthRequired,
    // Only an administrator can help.
    BlockedByPolicy,
    /// The mail API (EWS) is switched off for this mailbox, app or tenant.
    MailApiDisabled,
    /// The server only offers Windows sign-in (NTLM/Negotiate), which a browser extension
    /// cannot send with a typed password.
    PasswordSchemeUnsupported,
    DeviceNotCompliant,
    AdminConsentRequired,
    AdminPolicy,
    AppMisconfigured,
    OrgLocked,
    AccountLocked,
    AccountDisabled,
    UserDeactivated,
    // Another account is needed.
    WrongAccount,
    // A provider error nobody documented.
    UnknownError,
}

impl Reason {
    /// The reason in plain words, as the dashboard shows it.
    pub fn plain_text(self) -> &'static str {
        use Reason::*;
        match self {
            NetworkUnavailable => "The service could not be reached. Sync will retry by itself.",
            RequestTimedOut => "The service did not answer in time. Sync will retry by itself.",
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
            RefreshOutcomeLost => "A renewal got no answer in time; the service may have completed it anyway and then refused the retry. Your password is not the cause. Sign in again.",
            ClaimsChallenge => "Your organization requires an additional check for this account. Sign in again.",
            CredentialsRejected => "The server rejected the password: it may be wrong, changed or expired, or the account is locked. Enter it again.",
            TokenRejectedByApi => "The service keeps rejecting this sign-in. Sign in again.",
            ModernAuthRequired => "This server wants a Microsoft 365 sign-in instead of a password. Choose Microsoft 365 under Change.",
            MailApiDisabled => "Your organization has switched off Exchange Web Services for this mailbox. Only your administrator can turn it on; Microsoft 365 mailboxes connect with Microsoft 365 instead.",
            PasswordSchemeUnsupported => "The server only accepts Windows sign-in (NTLM or Kerberos), not a typed password. Ask your administrator to allow Basic authentication over https for EWS, or use the Outlook add-in.",
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
                | RequestTimedOut
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

    /// Sent, and no answer in time.
    pub fn timed_out() -> Diagnosis {
        Diagnosis::transient(Reason::RequestTimedOut)
    }
}

/// A diagnosis as `classifyRefreshError` reports it to JavaScript, with the reason in the
/// dashboard's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct Classification {
    pub reason: Reason,
    pub action: Action,
    pub reason_text: &'static str,
    pub drop_refresh_token: bool,
    pub retry_after_ms: Option<u64>,
    pub provider_code: Option<String>,
}

impl From<Diagnosis> for Classification {
    fn from(d: Diagnosis) -> Classification {
        Classification {
            reason: d.reason,
            action: d.action,
            reason_text: d.reason.plain_text(),
            drop_refresh_token: d.drop_refresh_token,
            retry_after_ms: d.retry_after_ms,
            provider_code: d.provider_code,
        }
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
        let parsed: OAuthErrorBody = serde_json::from_str(body).ok()?;
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

/// A provider's own error table: the diagnosis of a failed token-endpoint answer with
/// `status`, given its OAuth error body when it has one. `None`: the table does not know it.
pub type TokenErrorTable = fn(u16, Option<&OAuthErrorBody>) -> Option<Diagnosis>;

/// Classifies a failed token-endpoint response (code redemption or refresh) with a
/// provider's `table`, in the order the module documentation gives. Never panics.
pub fn classify(table: TokenErrorTable, response: &HttpResponse, now: Timestamp) -> Diagnosis {
    let mut diagnosis = classify_in_order(table, response);
    diagnosis.retry_after_ms = retry_after_ms(response, now.0);
    diagnosis
}

fn classify_in_order(table: TokenErrorTable, response: &HttpResponse) -> Diagnosis {
    if response.status == 429 {
        return Diagnosis::transient(Reason::RateLimited);
    }
    if response.status >= 500 {
        return Diagnosis::transient(Reason::ProviderUnavailable);
    }
    let body = OAuthErrorBody::parse(&response.body);
    if let Some(known) = table(response.status, body.as_ref()) {
        return known;
    }
    match body {
        Some(body) => classify_standard_error(&body),
        // Cut-off JSON, an HTML error page from a proxy, an empty body: nothing the provider
        // said about the token, so it stays and we try again later.
        None => Diagnosis::transient(Reason::MalformedResponse),
    }
}

/// RFC 6749 §5.2 and OpenID Connect Core §3.1.2.6 error codes, for what a provider table
/// does not single out, decided by class.
fn classify_standard_error(body: &OAuthErrorBody) -> Diagnosis {
    let code = body.error();
    let d = match code {
        // "The provided authorization grant ... or refresh token is invalid, expired,
        // revoked ..." (RFC 6749 §5.2): the provider said it is dead.
        "invalid_grant" => {
            Diagnosis::new(Reason::GrantRejected, Action::Refresh).dropping_refresh_token()
        }
        // RFC 6749 §4.1.2.1: the server "is currently unable to handle the request".
        "temporarily_unavailable" | "server_error" => {
            Diagnosis::transient(Reason::ProviderUnavailable)
        }
        // The client or its registration is wrong: no sign-in can fix it (§5.2).
        "invalid_client"
        | "unauthorized_client"
        | "unsupported_grant_type"
        | "invalid_scope"
        | "invalid_request" => Diagnosis::new(Reason::AppMisconfigured, Action::ContactAdmin),
        // OpenID Connect Core §3.1.2.6: the user must be involved.
        "interaction_required" | "login_required" | "account_selection_required" => {
            Diagnosis::new(Reason::InteractionRequired, Action::Refresh)
        }
        "consent_required" | "access_denied" => {
            Diagnosis::new(Reason::ConsentRequired, Action::Refresh)
        }
        // A code nobody documented, from an answer that is not a server error: retrying the
        // same request would get the same answer, so the user is asked to sign in again
        // (the support code says what the provider sent). The refresh token is kept: no
        // provider said it is dead.
        _ => Diagnosis::new(Reason::UnknownError, Action::Refresh),
    };
    d.with_code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table that knows one code, as a provider file's would.
    fn table(_status: u16, body: Option<&OAuthErrorBody>) -> Option<Diagnosis> {
        (body?.error() == "known_dead")
            .then(|| Diagnosis::new(Reason::SignInEnded, Action::Refresh).dropping_refresh_token())
    }

    fn run(status: u16, body: &str) -> Diagnosis {
        classify(table, &HttpResponse::new(status, body), Timestamp(0))
    }

    #[test]
    fn transport_failures_are_transient_and_keep_the_token() {
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
            let d = run(status, body);
            assert_eq!(d.action, Action::RetryLater, "{status} {body}");
            assert!(!d.drop_refresh_token, "{status} {body}");
        }
    }

    #[test]
    fn a_server_error_naming_a_dead_grant_is_not_the_providers_verdict() {
        for status in [429, 500, 502, 503, 504] {
            for body in [
                r#"{"error":"known_dead"}"#,
                r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
            ] {
                let d = run(status, body);
                assert_eq!(d.action, Action::RetryLater, "{status} {body}");
                assert!(!d.drop_refresh_token, "{status} {body}");
            }
        }
        assert!(run(400, r#"{"error":"known_dead"}"#).drop_refresh_token);
    }

    #[test]
    fn retry_after_is_carried() {
        let r = HttpResponse::new(503, "").with_header("Retry-After", "7");
        let d = classify(table, &r, Timestamp(0));
        assert_eq!(d.retry_after_ms, Some(7_000));
        assert_eq!(d.reason, Reason::ProviderUnavailable);
    }

    #[test]
    fn standard_codes_by_class() {
        let cases = [
            (
                "invalid_grant",
                Reason::GrantRejected,
                Action::Refresh,
                true,
            ),
            (
                "invalid_client",
                Reason::AppMisconfigured,
                Action::ContactAdmin,
                false,
            ),
            (
                "unauthorized_client",
                Reason::AppMisconfigured,
                Action::ContactAdmin,
                false,
            ),
            (
                "unsupported_grant_type",
                Reason::AppMisconfigured,
                Action::ContactAdmin,
                false,
            ),
            (
                "invalid_scope",
                Reason::AppMisconfigured,
                Action::ContactAdmin,
                false,
            ),
            (
                "invalid_request",
                Reason::AppMisconfigured,
                Action::ContactAdmin,
                false,
            ),
            (
                "temporarily_unavailable",
                Reason::ProviderUnavailable,
                Action::RetryLater,
                false,
            ),
            (
                "server_error",
                Reason::ProviderUnavailable,
                Action::RetryLater,
                false,
            ),
            (
                "interaction_required",
                Reason::InteractionRequired,
                Action::Refresh,
                false,
            ),
            (
                "login_required",
                Reason::InteractionRequired,
                Action::Refresh,
                false,
            ),
            (
                "consent_required",
                Reason::ConsentRequired,
                Action::Refresh,
                false,
            ),
            (
                "access_denied",
                Reason::ConsentRequired,
                Action::Refresh,
                false,
            ),
            // Not retried for ever: the user is asked, and the token is kept.
            (
                "something_new",
                Reason::UnknownError,
                Action::Refresh,
                false,
            ),
        ];
        for (code, reason, action, drop) in cases {
            let d = run(400, &format!(r#"{{"error":"{code}"}}"#));
            assert_eq!(
                (d.reason, d.action, d.drop_refresh_token),
                (reason, action, drop),
                "{code}"
            );
            assert_eq!(d.provider_code.as_deref(), Some(code));
        }
    }

    #[test]
    fn wire_names_are_snake_case() {
        assert_eq!(
            serde_json::to_string(&Reason::MfaRegistrationRequired).unwrap(),
            "\"mfa_registration_required\""
        );
        assert_eq!(
            serde_json::to_string(&Action::ContactAdmin).unwrap(),
            "\"contact_admin\""
        );
    }
}

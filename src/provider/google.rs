//! Gmail through Google OAuth 2.0.
//!
//! Sources: "Using OAuth 2.0 for Web Server Applications" and "... for Installed
//! Applications" (Google Identity), "OAuth 2.0 Policies" (refresh-token expiration),
//! "Google Workspace: Control which third-party apps access data" (admin_policy_enforced),
//! "Session control for Google Cloud" (invalid_rapt).
//!
//! Quirk: Google does not accept PKCE alone for "Web application" or "Desktop" clients; the
//! token request also needs `client_secret` (not confidential for installed apps). Without a
//! configured secret the engine gets no usable refresh token and renews by re-running the
//! authorization silently (`prompt=none`) while the Google session lasts.

use miniserde::{Deserialize, Serialize};

use super::{
    endpoint, require_client_id, AccessLifetime, ConfigError, IssuerRule, ProviderId,
    ProviderProfile,
};
use crate::authorize::Prompt;
use crate::diagnosis::{Action, Diagnosis, OAuthErrorBody, Reason};

const ID: ProviderId = ProviderId::Google;

/// The `google` section; the endpoints default to Google's (methods below).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GoogleConfig {
    #[serde(rename = "clientId")]
    pub client_id: String,
    /// Explicit configuration only (never shipped as a default).
    #[serde(rename = "clientSecret")]
    pub client_secret: Option<String>,
    #[serde(rename = "authorizeUrl")]
    pub authorize_url: Option<String>,
    #[serde(rename = "tokenUrl")]
    pub token_url: Option<String>,
    #[serde(rename = "revokeUrl")]
    pub revoke_url: Option<String>,
    pub issuer: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[serde(rename = "apiOrigins")]
    pub api_origins: Option<Vec<String>>,
}

impl GoogleConfig {
    pub fn authorize_url(&self) -> &str {
        (self.authorize_url.as_deref()).unwrap_or("https://accounts.google.com/o/oauth2/v2/auth")
    }
    pub fn token_url(&self) -> &str {
        (self.token_url.as_deref()).unwrap_or("https://oauth2.googleapis.com/token")
    }
    pub fn revoke_url(&self) -> &str {
        (self.revoke_url.as_deref()).unwrap_or("https://oauth2.googleapis.com/revoke")
    }
    pub fn issuer(&self) -> &str {
        self.issuer
            .as_deref()
            .unwrap_or("https://accounts.google.com")
    }
}

pub const DEFAULT_SCOPES: [&str; 3] = [
    "openid",
    "email",
    "https://www.googleapis.com/auth/gmail.modify",
];

pub fn profile(config: &GoogleConfig, redirect_uri: &str) -> Result<ProviderProfile, ConfigError> {
    let client_secret = config
        .client_secret
        .clone()
        .filter(|s| !s.trim().is_empty());
    let can_refresh = client_secret.is_some();
    let scopes = config
        .scopes
        .clone()
        .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect());
    Ok(ProviderProfile {
        id: ID,
        client_id: require_client_id(ID, &config.client_id)?,
        client_secret,
        authorize_url: endpoint(ID, "authorizeUrl", config.authorize_url())?,
        token_url: endpoint(ID, "tokenUrl", config.token_url())?,
        revoke_url: Some(endpoint(ID, "revokeUrl", config.revoke_url())?),
        redirect_uri: redirect_uri.to_string(),
        refresh_scopes: Vec::new(),
        scopes,
        issuer: IssuerRule::Exact(config.issuer().to_string()),
        // A refresh token only comes with access_type=offline, and only on a consent
        // screen (prompt=consent) after the first grant.
        extra_authorize_params: if can_refresh {
            vec![("access_type".into(), "offline".into())]
        } else {
            Vec::new()
        },
        // Change must let the user pick another account (select_account) even while a
        // Google session is alive, and get a refresh token (consent).
        change_prompts: if can_refresh {
            vec![Prompt::SelectAccount, Prompt::Consent]
        } else {
            vec![Prompt::SelectAccount]
        },
        access_lifetime: AccessLifetime::ExpiresIn,
        fixed_refresh_horizon: None,
        can_refresh,
        api_origins: config.api_origins.clone().unwrap_or_else(|| {
            vec![
                "https://gmail.googleapis.com".into(),
                "https://www.googleapis.com".into(),
            ]
        }),
        login_host: None,
    })
}

/// Google's documented texts; Google gives no code finer than `invalid_grant`, so the exact
/// `error_description` is matched (providers.md, common rules).
const TOKEN_EXPIRED_OR_REVOKED: &str = "Token has been expired or revoked.";
const CLIENT_SECRET_MISSING: &str = "client_secret is missing.";

pub fn classify(_status: u16, body: &OAuthErrorBody) -> Option<Diagnosis> {
    let d = match (
        body.error(),
        body.error_subtype.as_deref(),
        body.description(),
    ) {
        // Revoked by the user, 6 months unused, password change (Gmail scopes), over 100
        // tokens per account, admin policy, 7 days in "Testing" status: all one text.
        ("invalid_grant", _, TOKEN_EXPIRED_OR_REVOKED) => {
            Diagnosis::new(Reason::SignInEnded, Action::Refresh).dropping_refresh_token()
        }
        // Reauthentication policy: the token is not said to be dead; a sign-in renews it.
        ("invalid_grant", Some("invalid_rapt"), _) => {
            Diagnosis::new(Reason::ReauthenticationRequired, Action::Refresh)
        }
        ("admin_policy_enforced", _, _) => {
            Diagnosis::new(Reason::AdminPolicy, Action::ContactAdmin)
        }
        ("invalid_client" | "unauthorized_client", _, _) => {
            Diagnosis::new(Reason::AppMisconfigured, Action::ContactAdmin)
        }
        ("invalid_request", _, CLIENT_SECRET_MISSING) => {
            Diagnosis::new(Reason::AppMisconfigured, Action::ContactAdmin)
        }
        _ => return None,
    };
    let code = match body.error_subtype.as_deref() {
        Some(sub) => format!("{}:{sub}", body.error()),
        None => body.error().to_string(),
    };
    Some(d.with_code(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::classify as classify_response;
    use crate::http::HttpResponse;
    use crate::time::Timestamp;

    fn run(status: u16, body: &str) -> Diagnosis {
        classify_response(
            ProviderId::Google,
            &HttpResponse::new(status, body),
            Timestamp(0),
        )
    }

    #[test]
    fn invalid_grant_token_expired_or_revoked() {
        let d = run(
            400,
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        );
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::SignInEnded, Action::Refresh, true)
        );
    }

    #[test]
    fn invalid_grant_invalid_rapt() {
        let d = run(
            400,
            r#"{"error":"invalid_grant","error_description":"reauth related error (invalid_rapt)","error_uri":"https://support.google.com/a/answer/9368756","error_subtype":"invalid_rapt"}"#,
        );
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::ReauthenticationRequired, Action::Refresh, false)
        );
        assert_eq!(
            d.provider_code.as_deref(),
            Some("invalid_grant:invalid_rapt")
        );
    }

    #[test]
    fn admin_policy_enforced() {
        let d = run(
            400,
            r#"{"error":"admin_policy_enforced","error_description":"Access blocked"}"#,
        );
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::AdminPolicy, Action::ContactAdmin, false)
        );
    }

    #[test]
    fn invalid_client() {
        let d = run(
            401,
            r#"{"error":"invalid_client","error_description":"The OAuth client was not found."}"#,
        );
        assert_eq!(
            (d.reason, d.action),
            (Reason::AppMisconfigured, Action::ContactAdmin)
        );
    }

    #[test]
    fn unauthorized_client() {
        let d = run(
            400,
            r#"{"error":"unauthorized_client","error_description":"Unauthorized"}"#,
        );
        assert_eq!(
            (d.reason, d.action),
            (Reason::AppMisconfigured, Action::ContactAdmin)
        );
    }

    #[test]
    fn client_secret_missing() {
        let d = run(
            400,
            r#"{"error":"invalid_request","error_description":"client_secret is missing."}"#,
        );
        assert_eq!(
            (d.reason, d.action),
            (Reason::AppMisconfigured, Action::ContactAdmin)
        );
    }

    #[test]
    fn rate_limited_429() {
        let d = run(429, r#"{"error":"rate_limit_exceeded"}"#);
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::RateLimited, Action::RetryLater, false)
        );
    }

    #[test]
    fn server_error_5xx() {
        let d = run(503, "<html><title>Error 503</title></html>");
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::ProviderUnavailable, Action::RetryLater, false)
        );
    }

    #[test]
    fn secret_decides_whether_refresh_is_possible() {
        let cfg: GoogleConfig =
            miniserde::json::from_str(r#"{"clientId":"x.apps.googleusercontent.com"}"#).unwrap();
        let p = profile(&cfg, "https://r/").unwrap();
        assert!(!p.can_refresh);
        assert!(p.extra_authorize_params.is_empty());
        let cfg: GoogleConfig =
            miniserde::json::from_str(r#"{"clientId":"x","clientSecret":"GOCSPX-1"}"#).unwrap();
        let p = profile(&cfg, "https://r/").unwrap();
        assert!(p.can_refresh);
        assert_eq!(
            p.extra_authorize_params,
            vec![("access_type".to_string(), "offline".to_string())]
        );
        assert_eq!(
            p.change_prompts,
            vec![Prompt::SelectAccount, Prompt::Consent]
        );
    }
}

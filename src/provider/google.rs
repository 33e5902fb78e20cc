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

use serde::Deserialize;

use super::{
    default_profile_origins, endpoint, require_client_id, AccessLifetime, ApiRejection,
    ConfigError, IssuerRule, Prompt, ProviderId, ProviderProfile, ProviderRules, SectionId,
};
use crate::diagnosis::{Action, Diagnosis, OAuthErrorBody, Reason};

const ID: ProviderId = ProviderId::Google;

pub static RULES: ProviderRules = ProviderRules {
    id: ID,
    name: "google",
    title: "Gmail",
    section: SectionId::Email,
    remembers_logins: false,
    token_errors: classify,
    // Gmail API: a 401 means the access token expired or was revoked (refresh once).
    api_unauthorized: |_, _| ApiRejection::TokenExpired,
    profile: |config, _target| {
        config
            .google
            .as_ref()
            .map(|c| profile(c, &config.redirect_uri))
            .transpose()
    },
    login_hosts: |_| Vec::new(),
    not_configured: "Gmail is not configured for this installation.",
    api_forbidden: |_| None,
    custom_login_host_example: None,
    password: None,
    origins: |config| default_profile_origins(config, ID),
};

fn default_authorize_url() -> String {
    "https://accounts.google.com/o/oauth2/v2/auth".into()
}
fn default_token_url() -> String {
    "https://oauth2.googleapis.com/token".into()
}
fn default_revoke_url() -> String {
    "https://oauth2.googleapis.com/revoke".into()
}
fn default_issuer() -> String {
    "https://accounts.google.com".into()
}

/// The `google` section of the configuration; the endpoints default to Google's.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GoogleConfig {
    pub client_id: String,
    /// Explicit configuration only (never shipped as a default).
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub client_secret: Option<String>,
    #[serde(default = "default_authorize_url")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub authorize_url: String,
    #[serde(default = "default_token_url")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub token_url: String,
    #[serde(default = "default_revoke_url")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub revoke_url: String,
    #[serde(default = "default_issuer")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub issuer: String,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub api_origins: Option<Vec<String>>,
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
        rules: &RULES,
        title: RULES.title,
        client_id: require_client_id(ID, &config.client_id)?,
        client_secret,
        authorize_url: endpoint(ID, "authorizeUrl", &config.authorize_url)?,
        token_url: endpoint(ID, "tokenUrl", &config.token_url)?,
        revoke_url: Some(endpoint(ID, "revokeUrl", &config.revoke_url)?),
        redirect_uri: redirect_uri.to_string(),
        refresh_scopes: Vec::new(),
        scopes,
        issuer: IssuerRule::Exact(config.issuer.clone()),
        // A refresh token only comes with access_type=offline, and only on a consent
        // screen (prompt=consent) after the first grant.
        // Google's discovery document (https://accounts.google.com/.well-known/openid-configuration,
        // "OpenID Connect" reference, Discovery document fields) advertises
        // `authorization_response_iss_parameter_supported`; its redirects carry
        // `iss=https://accounts.google.com`.
        requires_iss: true,
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
        // Refresh of the same account: Google issues a new refresh token only on a consent
        // screen.
        refresh_prompts: if can_refresh {
            vec![Prompt::Consent]
        } else {
            Vec::new()
        },
        access_lifetime: AccessLifetime::ExpiresIn,
        fixed_refresh_horizon: None,
        session_check_url: None,
        can_refresh,
        api_origins: config.api_origins.clone().unwrap_or_else(|| {
            vec![
                "https://gmail.googleapis.com".into(),
                "https://www.googleapis.com".into(),
            ]
        }),
        login_host: None,
        // Its token responses name no API host.
        instance_domains: None,
    })
}

/// Google's documented texts; Google gives no code finer than `invalid_grant`, so the exact
/// `error_description` is matched (providers.md, common rules).
const TOKEN_EXPIRED_OR_REVOKED: &str = "Token has been expired or revoked.";
const CLIENT_SECRET_MISSING: &str = "client_secret is missing.";

/// Google's token-endpoint and authorization errors ("Using OAuth 2.0 for Web Server
/// Applications", section "Error responses", and "OAuth 2.0 Policies").
pub fn classify(_status: u16, body: Option<&OAuthErrorBody>) -> Option<Diagnosis> {
    let body = body?;
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
        // Reauthentication policy ("Session control for Google Cloud"): the token is not
        // said to be dead; a sign-in renews it.
        ("invalid_grant", Some("invalid_rapt"), _) => {
            Diagnosis::new(Reason::ReauthenticationRequired, Action::Refresh)
        }
        // "The Google Account is unable to authorize one or more scopes requested due to the
        // policies of their Google Workspace administrator."
        ("admin_policy_enforced", _, _) => {
            Diagnosis::new(Reason::AdminPolicy, Action::ContactAdmin)
        }
        // "The OAuth client was not found" / "was deleted" / "Unauthorized": configuration.
        ("invalid_client" | "unauthorized_client" | "deleted_client", _, _) => {
            Diagnosis::new(Reason::AppMisconfigured, Action::ContactAdmin)
        }
        // "The OAuth client ID ... is limited to users within its organization".
        ("org_internal", _, _) => Diagnosis::new(Reason::WrongAccount, Action::Change),
        // The client secret rule of Web application and Desktop clients (providers.md).
        ("invalid_request", _, CLIENT_SECRET_MISSING) => {
            Diagnosis::new(Reason::AppMisconfigured, Action::ContactAdmin)
        }
        // "The user-agent is not allowed": an embedded browser the policy refuses.
        ("disallowed_useragent", _, _) => {
            Diagnosis::new(Reason::BlockedByPolicy, Action::ContactAdmin)
        }
        _ => return None,
    };
    let code = match body.error_subtype.as_deref() {
        Some(sub) => format!("{}:{sub}", body.error()),
        None => body.error().to_string(),
    };
    Some(d.with_code(code))
}

/// The documented error bodies, with what each means: (status, body, reason, action,
/// refresh token dropped). The table test runs over them; property tests draw from them.
pub const DOCUMENTED: &[(u16, &str, Reason, Action, bool)] = &[
    (
        400,
        r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        Reason::SignInEnded,
        Action::Refresh,
        true,
    ),
    (
        400,
        r#"{"error":"invalid_grant","error_description":"reauth related error (invalid_rapt)","error_uri":"https://support.google.com/a/answer/9368756","error_subtype":"invalid_rapt"}"#,
        Reason::ReauthenticationRequired,
        Action::Refresh,
        false,
    ),
    (
        400,
        r#"{"error":"admin_policy_enforced","error_description":"Access blocked"}"#,
        Reason::AdminPolicy,
        Action::ContactAdmin,
        false,
    ),
    (
        401,
        r#"{"error":"invalid_client","error_description":"The OAuth client was not found."}"#,
        Reason::AppMisconfigured,
        Action::ContactAdmin,
        false,
    ),
    (
        401,
        r#"{"error":"deleted_client","error_description":"The OAuth client was deleted."}"#,
        Reason::AppMisconfigured,
        Action::ContactAdmin,
        false,
    ),
    (
        400,
        r#"{"error":"unauthorized_client","error_description":"Unauthorized"}"#,
        Reason::AppMisconfigured,
        Action::ContactAdmin,
        false,
    ),
    (
        400,
        r#"{"error":"invalid_request","error_description":"client_secret is missing."}"#,
        Reason::AppMisconfigured,
        Action::ContactAdmin,
        false,
    ),
    (
        400,
        r#"{"error":"org_internal","error_description":"This client is restricted to users within its organization."}"#,
        Reason::WrongAccount,
        Action::Change,
        false,
    ),
    (
        403,
        r#"{"error":"disallowed_useragent","error_description":"This user-agent is not permitted to make an OAuth authorisation request to Google"}"#,
        Reason::BlockedByPolicy,
        Action::ContactAdmin,
        false,
    ),
    // RFC 6749 §5.2 by class: an invalid_grant with another text is still a dead grant.
    (
        400,
        r#"{"error":"invalid_grant","error_description":"Bad Request"}"#,
        Reason::GrantRejected,
        Action::Refresh,
        true,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpResponse;
    use crate::time::Timestamp;

    fn run(status: u16, body: &str) -> Diagnosis {
        RULES.classify(&HttpResponse::new(status, body), Timestamp(0))
    }

    #[test]
    fn the_google_table_over_documented_bodies() {
        for &(status, body, reason, action, drop) in DOCUMENTED {
            let d = run(status, body);
            assert_eq!(
                (d.reason, d.action, d.drop_refresh_token),
                (reason, action, drop),
                "{body}"
            );
            assert!(d.provider_code.is_some(), "{body}");
        }
        assert_eq!(
            run(400, DOCUMENTED[1].1).provider_code.as_deref(),
            Some("invalid_grant:invalid_rapt")
        );
    }

    #[test]
    fn transient_answers_whatever_their_body() {
        let d = run(429, r#"{"error":"rate_limit_exceeded"}"#);
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::RateLimited, Action::RetryLater, false)
        );
        let d = run(503, "<html><title>Error 503</title></html>");
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::ProviderUnavailable, Action::RetryLater, false)
        );
        // A 500 whose body names a dead grant is not Google's verdict on the token.
        let d = run(500, DOCUMENTED[0].1);
        assert_eq!(
            (d.action, d.drop_refresh_token),
            (Action::RetryLater, false)
        );
    }

    #[test]
    fn secret_decides_whether_refresh_is_possible() {
        let cfg: GoogleConfig =
            serde_json::from_str(r#"{"clientId":"x.apps.googleusercontent.com"}"#).unwrap();
        let p = profile(&cfg, "https://r/").unwrap();
        assert!(!p.can_refresh);
        assert!(p.extra_authorize_params.is_empty());
        assert!(p.refresh_prompts.is_empty());
        let cfg: GoogleConfig =
            serde_json::from_str(r#"{"clientId":"x","clientSecret":"GOCSPX-1"}"#).unwrap();
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
        assert_eq!(p.refresh_prompts, vec![Prompt::Consent]);
    }
}

//! Salesforce (an External Client App or Connected App, public client with PKCE).
//!
//! Sources: Salesforce Help "OAuth 2.0 Web Server Flow for Web App Integration",
//! "OAuth 2.0 Refresh Token Flow", "Revoke OAuth Tokens", "OAuth Endpoints",
//! "Manage OAuth Access Policies" (refresh-token policy), "Session Security Settings"
//! (timeout), REST API Developer Guide "Status Codes and Error Responses".
//!
//! Quirks kept here:
//! - the token response has no `expires_in`: the access token is a session whose timeout is
//!   set by the org or app (often 2 h) and each use extends it. Expiry is therefore an
//!   estimate from a configured timeout, checked with `/services/oauth2/userinfo`, and a 401
//!   `INVALID_SESSION_ID` from the API means "refresh once and retry";
//! - `issued_at` is milliseconds since the epoch, as a string, on Salesforce's clock;
//! - `instance_url` is the base of every API call (and the only API origin the token may be
//!   sent to);
//! - the login host is per connection: production, sandbox or the org's My Domain.

use miniserde::{Deserialize, Serialize};
use url::Url;

use super::{
    endpoint, require_client_id, AccessLifetime, ConfigError, IssuerRule, ProviderId,
    ProviderProfile,
};
use crate::authorize::Prompt;
use crate::diagnosis::{Action, Diagnosis, OAuthErrorBody, Reason};
use crate::time::MINUTE;

const ID: ProviderId = ProviderId::Salesforce;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginHost {
    pub id: String,
    pub label: String,
    pub url: String,
}

/// The `salesforce` section; login hosts and session timeout have defaults (methods below).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SalesforceConfig {
    #[serde(rename = "clientId")]
    pub client_id: String,
    /// The login hosts offered; production and sandbox by default.
    #[serde(rename = "loginHosts")]
    pub login_hosts: Option<Vec<LoginHost>>,
    /// The org's session timeout (Setup > Session Settings); 2 h is Salesforce's default.
    #[serde(rename = "sessionTimeoutMinutes")]
    pub session_timeout_minutes: Option<u64>,
    /// Overrides the expected RFC 9207 issuer (the login host otherwise).
    pub issuer: Option<String>,
    pub scopes: Option<Vec<String>>,
}

impl SalesforceConfig {
    /// The login hosts offered: production and sandbox unless configured.
    pub fn login_hosts(&self) -> Vec<LoginHost> {
        self.login_hosts.clone().unwrap_or_else(|| {
            vec![
                LoginHost {
                    id: "production".into(),
                    label: "Production".into(),
                    url: "https://login.salesforce.com".into(),
                },
                LoginHost {
                    id: "sandbox".into(),
                    label: "Sandbox".into(),
                    url: "https://test.salesforce.com".into(),
                },
            ]
        })
    }

    /// The org's session timeout; 2 h is Salesforce's default.
    pub fn session_timeout_minutes(&self) -> u64 {
        self.session_timeout_minutes.unwrap_or(120)
    }
}

/// `refresh_token` asks for a refresh token, `api` for REST access, `openid` for an ID token
/// naming the user.
pub const DEFAULT_SCOPES: [&str; 3] = ["api", "refresh_token", "openid"];

/// Resolves the login host a user picked: a configured one (by id or URL) or an org's
/// My Domain (`https://<name>.my.salesforce.com`, also `.sandbox.my.salesforce.com`).
pub fn resolve_login_host(
    config: &SalesforceConfig,
    requested: Option<&str>,
) -> Result<String, ConfigError> {
    let Some(requested) = requested.map(str::trim).filter(|s| !s.is_empty()) else {
        return config
            .login_hosts()
            .first()
            .map(|h| h.url.trim_end_matches('/').to_string())
            .ok_or(ConfigError::NotConfigured(ID));
    };
    if let Some(known) = config.login_hosts().iter().find(|h| {
        h.id == requested || h.url.trim_end_matches('/') == requested.trim_end_matches('/')
    }) {
        return Ok(known.url.trim_end_matches('/').to_string());
    }
    let with_scheme = if requested.contains("://") {
        requested.to_string()
    } else {
        format!("https://{requested}")
    };
    let url =
        Url::parse(&with_scheme).map_err(|_| ConfigError::UnknownLoginHost(requested.into()))?;
    let host = url.host_str().unwrap_or_default();
    if url.scheme() == "https" && host.ends_with(".my.salesforce.com") && url.path() == "/" {
        return Ok(format!("https://{host}"));
    }
    Err(ConfigError::UnknownLoginHost(requested.into()))
}

pub fn profile(
    config: &SalesforceConfig,
    redirect_uri: &str,
    login_host: Option<&str>,
) -> Result<ProviderProfile, ConfigError> {
    let host = resolve_login_host(config, login_host)?;
    let path = |p: &str| format!("{host}/services/oauth2/{p}");
    Ok(ProviderProfile {
        id: ID,
        client_id: require_client_id(ID, &config.client_id)?,
        client_secret: None,
        authorize_url: endpoint(ID, "loginHost", &path("authorize"))?,
        token_url: endpoint(ID, "loginHost", &path("token"))?,
        revoke_url: Some(endpoint(ID, "loginHost", &path("revoke"))?),
        redirect_uri: redirect_uri.to_string(),
        scopes: config
            .scopes
            .clone()
            .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
        refresh_scopes: Vec::new(),
        issuer: IssuerRule::Exact(config.issuer.clone().unwrap_or_else(|| host.clone())),
        extra_authorize_params: Vec::new(),
        // The login page, so another username can be typed.
        change_prompts: vec![Prompt::Login],
        access_lifetime: AccessLifetime::SessionTimeout(
            config.session_timeout_minutes().max(1) * MINUTE,
        ),
        fixed_refresh_horizon: None,
        can_refresh: true,
        // Known only from the token response's instance_url.
        api_origins: Vec::new(),
        login_host: Some(host),
    })
}

/// The documented `error_description` texts; Salesforce offers no finer code, so these are
/// matched exactly (providers.md, common rules).
pub fn classify(_status: u16, body: &OAuthErrorBody) -> Option<Diagnosis> {
    let d = match (body.error(), body.description()) {
        // Refresh-token policy expiry ("expire after N", "expire if unused"), or revoked.
        ("invalid_grant", "expired access/refresh token") => {
            Diagnosis::new(Reason::SignInEnded, Action::Refresh).dropping_refresh_token()
        }
        // Password changed or user deactivated: the split is unverified, so the token is
        // kept and the user tries Refresh first (the text says to contact the admin next).
        ("invalid_grant", "authentication failure") => {
            Diagnosis::new(Reason::AuthenticationFailure, Action::Refresh)
        }
        ("invalid_grant", "ip restricted or invalid login hours") => {
            Diagnosis::new(Reason::BlockedByPolicy, Action::ContactAdmin)
        }
        ("inactive_user", _) => Diagnosis::new(Reason::UserDeactivated, Action::ContactAdmin),
        ("inactive_org", _) => Diagnosis::new(Reason::OrgLocked, Action::ContactAdmin),
        ("rate_limit_exceeded", _) => Diagnosis::transient(Reason::RateLimited),
        _ => return None,
    };
    Some(d.with_code(body.error()))
}

/// One entry of a REST API error response (Salesforce REST API Developer Guide, "Status
/// Codes and Error Responses").
#[derive(Deserialize)]
struct RestApiError {
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
}

/// REST API 401 with `[{"errorCode":"INVALID_SESSION_ID", ...}]`: the session (access
/// token) expired or was revoked. The caller refreshes once and retries.
pub fn is_invalid_session(status: u16, body: &str) -> bool {
    status == 401
        && miniserde::json::from_str::<Vec<RestApiError>>(body).is_ok_and(|errors| {
            errors
                .iter()
                .any(|e| e.error_code.as_deref() == Some("INVALID_SESSION_ID"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::classify as classify_response;
    use crate::http::HttpResponse;
    use crate::time::Timestamp;

    fn run(status: u16, body: &str) -> Diagnosis {
        classify_response(
            ProviderId::Salesforce,
            &HttpResponse::new(status, body),
            Timestamp(0),
        )
    }

    #[test]
    fn expired_access_refresh_token() {
        let d = run(
            400,
            r#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#,
        );
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::SignInEnded, Action::Refresh, true)
        );
    }

    #[test]
    fn authentication_failure() {
        let d = run(
            400,
            r#"{"error":"invalid_grant","error_description":"authentication failure"}"#,
        );
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::AuthenticationFailure, Action::Refresh, false)
        );
    }

    #[test]
    fn ip_restricted_or_login_hours() {
        let d = run(
            400,
            r#"{"error":"invalid_grant","error_description":"ip restricted or invalid login hours"}"#,
        );
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::BlockedByPolicy, Action::ContactAdmin, false)
        );
    }

    #[test]
    fn inactive_user() {
        let d = run(
            400,
            r#"{"error":"inactive_user","error_description":"user is inactive"}"#,
        );
        assert_eq!(
            (d.reason, d.action),
            (Reason::UserDeactivated, Action::ContactAdmin)
        );
    }

    #[test]
    fn inactive_org() {
        let d = run(
            400,
            r#"{"error":"inactive_org","error_description":"organization is locked"}"#,
        );
        assert_eq!(
            (d.reason, d.action),
            (Reason::OrgLocked, Action::ContactAdmin)
        );
    }

    #[test]
    fn rate_limit_exceeded() {
        let d = run(
            400,
            r#"{"error":"rate_limit_exceeded","error_description":"rate limit exceeded"}"#,
        );
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::RateLimited, Action::RetryLater, false)
        );
    }

    #[test]
    fn invalid_session_id_detection() {
        assert!(is_invalid_session(
            401,
            r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#
        ));
        assert!(!is_invalid_session(
            403,
            r#"[{"errorCode":"INVALID_SESSION_ID"}]"#
        ));
        assert!(!is_invalid_session(
            401,
            r#"[{"errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#
        ));
        assert!(!is_invalid_session(401, "<html>"));
    }

    fn config() -> SalesforceConfig {
        miniserde::json::from_str(r#"{"clientId":"3MVG9"}"#).unwrap()
    }

    #[test]
    fn login_hosts_production_sandbox_and_my_domain() {
        let c = config();
        assert_eq!(
            resolve_login_host(&c, None).unwrap(),
            "https://login.salesforce.com"
        );
        assert_eq!(
            resolve_login_host(&c, Some("sandbox")).unwrap(),
            "https://test.salesforce.com"
        );
        assert_eq!(
            resolve_login_host(&c, Some("acme.my.salesforce.com")).unwrap(),
            "https://acme.my.salesforce.com"
        );
        assert_eq!(
            resolve_login_host(&c, Some("https://acme--uat.sandbox.my.salesforce.com/")).unwrap(),
            "https://acme--uat.sandbox.my.salesforce.com"
        );
        assert!(resolve_login_host(&c, Some("https://evil.example")).is_err());
        assert!(resolve_login_host(&c, Some("http://acme.my.salesforce.com")).is_err());
        let p = profile(&c, "https://r/", Some("sandbox")).unwrap();
        assert_eq!(
            p.token_url.as_str(),
            "https://test.salesforce.com/services/oauth2/token"
        );
        assert_eq!(
            p.revoke_url.unwrap().as_str(),
            "https://test.salesforce.com/services/oauth2/revoke"
        );
        assert_eq!(
            p.access_lifetime,
            AccessLifetime::SessionTimeout(120 * MINUTE)
        );
        assert!(p.client_secret.is_none());
    }
}

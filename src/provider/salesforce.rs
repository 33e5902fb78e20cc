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

use serde::Deserialize;
use url::Url;

pub use super::LoginHost;
use super::{
    endpoint, origin_of, require_client_id, AccessLifetime, ApiRejection, ConfigError, IssuerRule,
    Prompt, ProviderId, ProviderProfile, ProviderRules, SectionId,
};
use crate::diagnosis::{Action, Diagnosis, OAuthErrorBody, Reason};
use crate::time::MINUTE;

const ID: ProviderId = ProviderId::Salesforce;

/// The instances of production and sandbox orgs live on My Domain hosts
/// (`https://<name>.my.salesforce.com`), which is also where a typed login host must be.
pub const MY_DOMAIN_ORIGINS: &str = "https://*.my.salesforce.com";

/// The domains an `instance_url` may be on: Salesforce Help "My Domain URL Formats"
/// (`<name>.my.salesforce.com`, sandboxes `<name>--<sandbox>.sandbox.my.salesforce.com`,
/// Experience Cloud and Visualforce hosts on `force.com`) and the legacy instance hosts
/// (`na1.salesforce.com`). Government Cloud and other clouds add theirs through
/// `salesforce.instanceDomains`.
pub const INSTANCE_DOMAINS: &[&str] = &["my.salesforce.com", "salesforce.com", "force.com"];

pub static RULES: ProviderRules = ProviderRules {
    id: ID,
    name: "salesforce",
    title: "Salesforce",
    section: SectionId::Crm,
    // "Saved usernames" are Salesforce's own login-page feature; the client's part is to
    // remember the usernames and login hosts it connected before (providers.md).
    remembers_logins: true,
    token_errors: classify,
    // REST API 401 `INVALID_SESSION_ID` (and any other 401): the session ended; refresh
    // once and retry once.
    api_unauthorized: |_, _| ApiRejection::TokenExpired,
    profile: |config, target| {
        config
            .salesforce
            .as_ref()
            .map(|c| profile(c, &config.redirect_uri, target.login_host.as_deref()))
            .transpose()
    },
    login_hosts: |config| {
        config
            .salesforce
            .as_ref()
            .map(|c| c.login_hosts.clone())
            .unwrap_or_default()
    },
    not_configured: "Salesforce is not configured for this installation.",
    api_forbidden: |_| None,
    custom_login_host_example: Some("https://yourcompany.my.salesforce.com"),
    origins: |config| {
        let mut origins: Vec<String> = config
            .salesforce
            .iter()
            .flat_map(|c| c.login_hosts.iter())
            .filter_map(|h| origin_of(&h.url))
            .collect();
        // Orgs that sign in on Salesforce's login hosts have their instance (the API) on a
        // My Domain host, where a typed login host must also be.
        if origins.iter().any(|o| o.ends_with(".salesforce.com")) {
            origins.push(MY_DOMAIN_ORIGINS.into());
        }
        origins
    },
    password: None,
};

fn default_login_hosts() -> Vec<LoginHost> {
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
}

/// Salesforce's default session timeout (Setup > Session Settings): 2 hours.
fn default_session_timeout() -> u64 {
    120
}

/// The `salesforce` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SalesforceConfig {
    pub client_id: String,
    /// The login hosts offered; production and sandbox by default.
    #[serde(default = "default_login_hosts")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub login_hosts: Vec<LoginHost>,
    /// The org's session timeout in minutes (Setup > Session Settings).
    #[serde(default = "default_session_timeout")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub session_timeout_minutes: u64,
    /// Overrides the expected RFC 9207 issuer (the login host otherwise).
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub issuer: Option<String>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub scopes: Option<Vec<String>>,
    /// More domains an `instance_url` may be on (another Salesforce cloud, e.g.
    /// `my.salesforce.mil`), besides `INSTANCE_DOMAINS`.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub instance_domains: Vec<String>,
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
            .login_hosts
            .first()
            .map(|h| h.url.trim_end_matches('/').to_string())
            .ok_or(ConfigError::NotConfigured(ID));
    };
    if let Some(known) = config.login_hosts.iter().find(|h| {
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
        rules: &RULES,
        title: RULES.title,
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
        // Salesforce's discovery document (`/.well-known/openid-configuration` on the login
        // host, Salesforce Help "OpenID Connect Discovery Endpoint") does not list RFC 9207's
        // `authorization_response_iss_parameter_supported` (checked against a verbatim copy
        // of login.salesforce.com's, 2026-08-13: github.com/api-evangelist/salesforce,
        // well-known/salesforce-openid-configuration.json): checked when present, not
        // required (RFC 9207 §2.4).
        requires_iss: false,
        extra_authorize_params: Vec::new(),
        // The login page, so another username can be typed.
        change_prompts: vec![Prompt::Login],
        refresh_prompts: Vec::new(),
        access_lifetime: AccessLifetime::SessionTimeout(
            config.session_timeout_minutes.clamp(1, 24 * 60) * MINUTE,
        ),
        fixed_refresh_horizon: None,
        // No `expires_in`: the session's end is estimated from the configured timeout. The
        // UserInfo endpoint answers for the access token's session ("Query for User
        // Information", help.salesforce.com remoteaccess_using_userinfo_endpoint.htm, on
        // the login host; listed as `userinfo_endpoint` in its discovery document): a 200
        // says the session lives (and, as any use, extends it), a 403 "Bad_OAuth_Token"
        // (observed for the identity service: drupal.org/project/salesforce issue
        // #3191597) that it ended (issue 11, defect 10).
        session_check_url: Some(path("userinfo")),
        can_refresh: true,
        // Known only from the token response's instance_url.
        api_origins: Vec::new(),
        instance_domains: Some(instance_domains(config, &host)),
        login_host: Some(host),
    })
}

/// The documented instance domains, the configured ones, and a loopback login host's own
/// host (http or https): a local emulator (tests, the demo, the add-in's https demo) serves
/// its instance on loopback too, and the same loopback exception as for endpoints applies
/// (`is_secure_origin`). A real login host never makes a loopback instance acceptable.
fn instance_domains(config: &SalesforceConfig, login_host: &str) -> Vec<String> {
    let mut domains: Vec<String> = INSTANCE_DOMAINS.iter().map(|d| d.to_string()).collect();
    domains.extend(config.instance_domains.iter().cloned());
    if let Ok(url) = Url::parse(login_host) {
        if super::is_loopback(&url) {
            domains.extend(url.host_str().map(String::from));
        }
    }
    domains
}

/// Salesforce's OAuth errors ("OAuth 2.0 Authentication Error Codes" and the refresh-token
/// flow page of Salesforce Help). Salesforce offers no code finer than `error`, so the
/// documented `error_description` texts of `invalid_grant` are matched exactly
/// (providers.md, common rules).
pub fn classify(_status: u16, body: Option<&OAuthErrorBody>) -> Option<Diagnosis> {
    let body = body?;
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
        // "user hasn't approved this consumer" / app not admin-approved for the user.
        ("invalid_grant", "user hasn't approved this consumer") => {
            Diagnosis::new(Reason::ConsentRequired, Action::Refresh)
        }
        ("invalid_app_access", _) => Diagnosis::new(Reason::AdminPolicy, Action::ContactAdmin),
        ("inactive_user", _) => Diagnosis::new(Reason::UserDeactivated, Action::ContactAdmin),
        ("inactive_org", _) => Diagnosis::new(Reason::OrgLocked, Action::ContactAdmin),
        ("rate_limit_exceeded", _) => Diagnosis::transient(Reason::RateLimited),
        // "invalid client identifier" / "invalid client credentials": the app's setup.
        ("invalid_client_id" | "invalid_client_credentials" | "invalid_client", _) => {
            Diagnosis::new(Reason::AppMisconfigured, Action::ContactAdmin)
        }
        // "An unknown error occurred: retry your request."
        ("unknown_error", _) => Diagnosis::transient(Reason::ProviderUnavailable),
        _ => return None,
    };
    Some(d.with_code(body.error()))
}

/// The documented error bodies, with what each means: (status, body, reason, action,
/// refresh token dropped). The table test runs over them; property tests draw from them.
pub const DOCUMENTED: &[(u16, &str, Reason, Action, bool)] = &[
    (
        400,
        r#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#,
        Reason::SignInEnded,
        Action::Refresh,
        true,
    ),
    (
        400,
        r#"{"error":"invalid_grant","error_description":"authentication failure"}"#,
        Reason::AuthenticationFailure,
        Action::Refresh,
        false,
    ),
    (
        400,
        r#"{"error":"invalid_grant","error_description":"ip restricted or invalid login hours"}"#,
        Reason::BlockedByPolicy,
        Action::ContactAdmin,
        false,
    ),
    (
        400,
        r#"{"error":"invalid_grant","error_description":"user hasn't approved this consumer"}"#,
        Reason::ConsentRequired,
        Action::Refresh,
        false,
    ),
    (
        400,
        r#"{"error":"invalid_app_access","error_description":"user is not admin approved to access this app"}"#,
        Reason::AdminPolicy,
        Action::ContactAdmin,
        false,
    ),
    (
        400,
        r#"{"error":"inactive_user","error_description":"user is inactive"}"#,
        Reason::UserDeactivated,
        Action::ContactAdmin,
        false,
    ),
    (
        400,
        r#"{"error":"inactive_org","error_description":"organization is locked"}"#,
        Reason::OrgLocked,
        Action::ContactAdmin,
        false,
    ),
    (
        400,
        r#"{"error":"rate_limit_exceeded","error_description":"rate limit exceeded"}"#,
        Reason::RateLimited,
        Action::RetryLater,
        false,
    ),
    (
        400,
        r#"{"error":"invalid_client_id","error_description":"client identifier invalid"}"#,
        Reason::AppMisconfigured,
        Action::ContactAdmin,
        false,
    ),
    (
        400,
        r#"{"error":"invalid_client_credentials","error_description":"client secret invalid"}"#,
        Reason::AppMisconfigured,
        Action::ContactAdmin,
        false,
    ),
    (
        400,
        r#"{"error":"unknown_error","error_description":"retry your request"}"#,
        Reason::ProviderUnavailable,
        Action::RetryLater,
        false,
    ),
    // RFC 6749 §5.2 by class.
    (
        400,
        r#"{"error":"invalid_grant","error_description":"invalid authorization code"}"#,
        Reason::GrantRejected,
        Action::Refresh,
        true,
    ),
    (
        400,
        r#"{"error":"unsupported_grant_type","error_description":"grant type not supported"}"#,
        Reason::AppMisconfigured,
        Action::ContactAdmin,
        false,
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
    fn a_local_emulator_login_host_admits_its_loopback_instance_only() {
        use crate::provider::InstanceUrlError;
        let config: SalesforceConfig = serde_json::from_str(
            r#"{"clientId":"c","loginHosts":[{"id":"local","label":"L","url":"http://127.0.0.1:9/sf"}]}"#,
        )
        .unwrap();
        let local = profile(&config, "https://r/", Some("local")).unwrap();
        assert_eq!(
            local.accept_instance_url("http://127.0.0.1:4444"),
            Ok(Some("http://127.0.0.1:4444".into()))
        );
        // An https emulator on loopback (the add-in's demo) too.
        let config: SalesforceConfig = serde_json::from_str(
            r#"{"clientId":"c","loginHosts":[{"id":"local","label":"L","url":"https://localhost:9/sf"}]}"#,
        )
        .unwrap();
        let local = profile(&config, "https://r/", Some("local")).unwrap();
        assert_eq!(
            local.accept_instance_url("https://localhost:4444"),
            Ok(Some("https://localhost:4444".into()))
        );
        let config: SalesforceConfig = serde_json::from_str(r#"{"clientId":"c"}"#).unwrap();
        let real = profile(&config, "https://r/", None).unwrap();
        assert_eq!(
            real.accept_instance_url("http://127.0.0.1:4444"),
            Err(InstanceUrlError::ForeignHost("127.0.0.1".into()))
        );
        assert_eq!(
            real.accept_instance_url("http://acme.my.salesforce.com"),
            Err(InstanceUrlError::Insecure)
        );
    }

    #[test]
    fn the_salesforce_table_over_documented_bodies() {
        for &(status, body, reason, action, drop) in DOCUMENTED {
            let d = run(status, body);
            assert_eq!(
                (d.reason, d.action, d.drop_refresh_token),
                (reason, action, drop),
                "{body}"
            );
        }
        // A 503 naming a dead grant is not the provider's verdict on it.
        let d = run(503, DOCUMENTED[0].1);
        assert_eq!(
            (d.action, d.drop_refresh_token),
            (Action::RetryLater, false)
        );
    }

    fn config() -> SalesforceConfig {
        serde_json::from_str(r#"{"clientId":"3MVG9"}"#).unwrap()
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

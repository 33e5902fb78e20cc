//! Microsoft 365 / Exchange Online / Outlook.com through the Microsoft identity platform
//! (Entra ID v2 endpoints).
//!
//! Sources: "Microsoft identity platform and OAuth 2.0 authorization code flow",
//! "Refresh tokens in the Microsoft identity platform" (24 h `spa` lifetime),
//! "Microsoft Entra authentication and authorization error codes" (the AADSTS table below),
//! "Claims challenges, claims requests, and client capabilities".

use miniserde::{Deserialize, Serialize};

use super::{
    endpoint, require_client_id, AccessLifetime, ConfigError, IssuerRule, ProviderId,
    ProviderProfile,
};
use crate::authorize::Prompt;
use crate::diagnosis::{Action, Diagnosis, OAuthErrorBody, Reason};
use crate::time::HOUR;

const ID: ProviderId = ProviderId::Microsoft;
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Which mailbox API the token is for. Entra issues a token for one resource per request
/// (AADSTS700022), so the sign-in and every refresh name exactly one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailApi {
    #[default]
    #[serde(rename = "graph")]
    Graph,
    #[serde(rename = "ews")]
    Ews,
    #[serde(rename = "imap")]
    Imap,
}

impl MailApi {
    pub fn resource_scopes(self) -> &'static [&'static str] {
        match self {
            MailApi::Graph => &[
                "https://graph.microsoft.com/Mail.ReadWrite",
                "https://graph.microsoft.com/User.Read",
            ],
            MailApi::Ews => &["https://outlook.office365.com/EWS.AccessAsUser.All"],
            MailApi::Imap => &["https://outlook.office.com/IMAP.AccessAsUser.All"],
        }
    }

    fn api_origin(self) -> Option<&'static str> {
        match self {
            MailApi::Graph => Some("https://graph.microsoft.com"),
            MailApi::Ews => Some("https://outlook.office365.com"),
            MailApi::Imap => None,
        }
    }
}

/// The `microsoft` section. Optional keys are `Option`s read through the methods below,
/// which hold the defaults (miniserde has no field defaults).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MicrosoftConfig {
    #[serde(rename = "clientId")]
    pub client_id: String,
    /// `common` (default), `organizations`, `consumers`, or a tenant id or domain.
    pub tenant: Option<String>,
    pub authority: Option<String>,
    #[serde(rename = "mailApi")]
    pub mail_api: Option<MailApi>,
    /// Whether the redirect URI is registered as `spa` (default true, as for a browser
    /// extension: the token endpoint sends CORS headers only for `spa` URIs).
    pub spa: Option<bool>,
    /// Overrides the 24 h `spa` refresh-token lifetime (tests and the demo shorten it).
    #[serde(rename = "spaRefreshLifetimeMinutes")]
    pub spa_refresh_lifetime_minutes: Option<u64>,
    /// Overrides the expected RFC 9207 issuer.
    pub issuer: Option<String>,
    /// Overrides the scopes (the mail API's resource scopes otherwise).
    pub scopes: Option<Vec<String>>,
    /// Overrides the origins an authorized fetch may send the token to.
    #[serde(rename = "apiOrigins")]
    pub api_origins: Option<Vec<String>>,
}

impl MicrosoftConfig {
    pub fn tenant(&self) -> &str {
        self.tenant.as_deref().unwrap_or("common")
    }
    pub fn authority(&self) -> &str {
        self.authority.as_deref().unwrap_or(DEFAULT_AUTHORITY)
    }
    pub fn mail_api(&self) -> MailApi {
        self.mail_api.unwrap_or_default()
    }
    pub fn spa(&self) -> bool {
        self.spa.unwrap_or(true)
    }
}

/// The tenant segment for the user's choice of mail service: Outlook.com accounts live in
/// the `consumers` tenant; Microsoft 365 uses the configured tenant.
pub fn tenant_for_outlook_com() -> &'static str {
    "consumers"
}

const IDENTITY_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

pub fn profile(
    config: &MicrosoftConfig,
    redirect_uri: &str,
    tenant_override: Option<&str>,
) -> Result<ProviderProfile, ConfigError> {
    let tenant = tenant_override.unwrap_or(config.tenant());
    let authority = config.authority().trim_end_matches('/');
    let authorize_url = endpoint(
        ID,
        "authority",
        &format!("{authority}/{tenant}/oauth2/v2.0/authorize"),
    )?;
    let token_url = endpoint(
        ID,
        "authority",
        &format!("{authority}/{tenant}/oauth2/v2.0/token"),
    )?;
    let resource: Vec<String> = match &config.scopes {
        Some(scopes) => scopes.clone(),
        None => config
            .mail_api()
            .resource_scopes()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let mut scopes: Vec<String> = IDENTITY_SCOPES.iter().map(|s| s.to_string()).collect();
    scopes.extend(resource.iter().cloned());
    let mut refresh_scopes = resource;
    refresh_scopes.push("offline_access".into());
    let issuer = match &config.issuer {
        Some(iss) => IssuerRule::Exact(iss.clone()),
        None if matches!(tenant, "common" | "organizations" | "consumers") => {
            IssuerRule::AnyTenantOf {
                authority: authority.to_string(),
            }
        }
        None => IssuerRule::Exact(format!("{authority}/{tenant}/v2.0")),
    };
    let fixed_refresh_horizon = config.spa().then(|| {
        config
            .spa_refresh_lifetime_minutes
            .map(|m| m * 60_000)
            .unwrap_or(24 * HOUR)
    });
    Ok(ProviderProfile {
        id: ID,
        client_id: require_client_id(ID, &config.client_id)?,
        // Public client: Entra rejects a secret for `spa` redirect URIs anyway.
        client_secret: None,
        authorize_url,
        token_url,
        // Entra v2 has no RFC 7009 revocation endpoint: disconnect clears locally.
        revoke_url: None,
        redirect_uri: redirect_uri.to_string(),
        scopes,
        refresh_scopes,
        issuer,
        extra_authorize_params: Vec::new(),
        change_prompts: vec![Prompt::SelectAccount],
        access_lifetime: AccessLifetime::ExpiresIn,
        fixed_refresh_horizon,
        can_refresh: true,
        api_origins: config.api_origins.clone().unwrap_or_else(|| {
            config
                .mail_api()
                .api_origin()
                .into_iter()
                .map(String::from)
                .collect()
        }),
        login_host: None,
    })
}

/// One row of the AADSTS table: the codes, what happened, what to do, whether the
/// refresh token is dead.
struct Row(&'static [u64], Reason, Action, bool);

/// From "Microsoft Entra authentication and authorization error codes" and providers.md.
const TABLE: &[Row] = &[
    Row(&[50173], Reason::RefreshTokenRevoked, Action::Refresh, true),
    Row(
        &[700082, 70008],
        Reason::RefreshTokenExpired,
        Action::Refresh,
        true,
    ),
    Row(
        &[700084],
        Reason::SessionLifetimeReached,
        Action::Refresh,
        true,
    ),
    Row(&[70043], Reason::SignInFrequency, Action::Refresh, true),
    Row(&[50076, 50078], Reason::MfaRequired, Action::Refresh, false),
    Row(
        &[50079, 50072],
        Reason::MfaRegistrationRequired,
        Action::Refresh,
        false,
    ),
    Row(
        &[53003, 530032, 50131],
        Reason::BlockedByPolicy,
        Action::ContactAdmin,
        false,
    ),
    Row(
        &[53000, 53001, 53002, 530003],
        Reason::DeviceNotCompliant,
        Action::ContactAdmin,
        false,
    ),
    Row(
        &[65001, 65004],
        Reason::ConsentRequired,
        Action::Refresh,
        false,
    ),
    Row(
        &[90094],
        Reason::AdminConsentRequired,
        Action::ContactAdmin,
        false,
    ),
    Row(
        &[50126, 50055, 50144],
        Reason::PasswordInvalid,
        Action::Refresh,
        false,
    ),
    Row(&[50053], Reason::AccountLocked, Action::ContactAdmin, false),
    Row(
        &[50057],
        Reason::AccountDisabled,
        Action::ContactAdmin,
        false,
    ),
    Row(
        &[50034, 50020, 500208],
        Reason::WrongAccount,
        Action::Change,
        false,
    ),
    Row(
        &[700016, 90002],
        Reason::AppMisconfigured,
        Action::ContactAdmin,
        false,
    ),
    // AADSTS9002326/9002327: the `spa` Origin rule was broken; that is our configuration.
    Row(
        &[9002326, 9002327],
        Reason::AppMisconfigured,
        Action::ContactAdmin,
        false,
    ),
    Row(
        &[50058],
        Reason::InteractionRequired,
        Action::Refresh,
        false,
    ),
    // "Client request loop detected": stop hammering, back off.
    Row(
        &[50196],
        Reason::RequestLoopDetected,
        Action::RetryLater,
        false,
    ),
    Row(
        &[50033, 90024, 50087],
        Reason::ProviderUnavailable,
        Action::RetryLater,
        false,
    ),
];

/// Classifies on `error` + `suberror` + `error_codes[0]`, never on `error_description`.
pub fn classify(_status: u16, body: &OAuthErrorBody) -> Option<Diagnosis> {
    let code = body.error_codes.as_deref().and_then(|c| c.first()).copied();
    let row = code.and_then(|c| TABLE.iter().find(|row| row.0.contains(&c)));
    let mut diagnosis = match (row, body.suberror.as_deref()) {
        // Suberrors refine the code ("Handle errors and exceptions in MSAL.js").
        (_, Some("user_password_expired")) => {
            Diagnosis::new(Reason::PasswordInvalid, Action::Refresh)
        }
        (None, Some("consent_required")) => {
            Diagnosis::new(Reason::ConsentRequired, Action::Refresh)
        }
        (Some(Row(_, reason, action, drop)), _) => {
            let d = Diagnosis::new(*reason, *action);
            if *drop {
                d.dropping_refresh_token()
            } else {
                d
            }
        }
        (None, _) if body.error() == "temporarily_unavailable" => {
            Diagnosis::transient(Reason::ProviderUnavailable)
        }
        (None, Some("bad_token")) => {
            Diagnosis::new(Reason::GrantRejected, Action::Refresh).dropping_refresh_token()
        }
        (None, _) => return None,
    };
    // `bad_token`: "the refresh token is invalid; drop it" whatever the code says.
    if body.suberror.as_deref() == Some("bad_token") {
        diagnosis.drop_refresh_token = true;
    }
    diagnosis.provider_code = Some(match code {
        Some(c) => format!("AADSTS{c}"),
        None => body.error().to_string(),
    });
    Some(diagnosis)
}

/// A claims challenge in an API 401 (`WWW-Authenticate: Bearer error="insufficient_claims",
/// claims="<base64>"`): the value to pass as `claims` to the next interactive sign-in.
pub fn claims_challenge(www_authenticate: &str) -> Option<String> {
    let params = parse_bearer_challenge(www_authenticate);
    let error = params
        .iter()
        .find(|(k, _)| k == "error")
        .map(|(_, v)| v.as_str());
    if error != Some("insufficient_claims") {
        return None;
    }
    let encoded = params
        .into_iter()
        .find(|(k, _)| k == "claims")
        .map(|(_, v)| v)?;
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded.trim()))
        .ok()?;
    let json = String::from_utf8(decoded).ok()?;
    miniserde::json::from_str::<crate::json::AnyJson>(&json).ok()?;
    Some(json)
}

/// Parses the auth-params of a `Bearer` challenge (RFC 9110 §11.6.1, RFC 6750 §3). Written
/// by hand: no small, maintained crate parses `WWW-Authenticate` for wasm without pulling
/// in a full HTTP stack.
pub fn parse_bearer_challenge(header: &str) -> Vec<(String, String)> {
    let Some(rest) = header
        .trim()
        .strip_prefix("Bearer")
        .or_else(|| header.trim().strip_prefix("bearer"))
    else {
        return Vec::new();
    };
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',' && !c.is_whitespace()))
                .collect();
        if name.is_empty() {
            break;
        }
        while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
            chars.next();
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value =
                std::iter::from_fn(|| chars.next_if(|c| *c != ',' && !c.is_whitespace())).collect();
        }
        params.push((name.to_ascii_lowercase(), value));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::classify as classify_response;
    use crate::http::HttpResponse;
    use crate::time::Timestamp;

    fn entra_body(code: u64, error: &str, suberror: Option<&str>) -> String {
        let sub = suberror
            .map(|s| format!(",\"suberror\":\"{s}\""))
            .unwrap_or_default();
        format!(
            "{{\"error\":\"{error}\",\"error_description\":\"AADSTS{code}: text. Trace ID: 0 Correlation ID: 0 Timestamp: 2026-11-25 10:00:00Z\",\"error_codes\":[{code}],\"timestamp\":\"2026-11-25 10:00:00Z\",\"trace_id\":\"t\",\"correlation_id\":\"c\"{sub}}}"
        )
    }

    fn check(code: u64, reason: Reason, action: Action, drop: bool) {
        let d = classify_response(
            ProviderId::Microsoft,
            &HttpResponse::new(400, entra_body(code, "invalid_grant", None)),
            Timestamp(0),
        );
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (reason, action, drop),
            "AADSTS{code}"
        );
        assert_eq!(
            d.provider_code.as_deref(),
            Some(format!("AADSTS{code}").as_str())
        );
    }

    #[test]
    fn aadsts50173_password_changed_or_sessions_revoked() {
        check(50173, Reason::RefreshTokenRevoked, Action::Refresh, true);
    }
    #[test]
    fn aadsts700082_unused_90_days() {
        check(700082, Reason::RefreshTokenExpired, Action::Refresh, true);
    }
    #[test]
    fn aadsts70008_expired() {
        check(70008, Reason::RefreshTokenExpired, Action::Refresh, true);
    }
    #[test]
    fn aadsts700084_spa_24h() {
        check(
            700084,
            Reason::SessionLifetimeReached,
            Action::Refresh,
            true,
        );
    }
    #[test]
    fn aadsts70043_sign_in_frequency() {
        check(70043, Reason::SignInFrequency, Action::Refresh, true);
    }
    #[test]
    fn aadsts50076_mfa() {
        check(50076, Reason::MfaRequired, Action::Refresh, false);
    }
    #[test]
    fn aadsts50078_mfa_expired() {
        check(50078, Reason::MfaRequired, Action::Refresh, false);
    }
    #[test]
    fn aadsts50079_mfa_registration() {
        check(
            50079,
            Reason::MfaRegistrationRequired,
            Action::Refresh,
            false,
        );
    }
    #[test]
    fn aadsts50072_mfa_registration() {
        check(
            50072,
            Reason::MfaRegistrationRequired,
            Action::Refresh,
            false,
        );
    }
    #[test]
    fn aadsts53003_conditional_access() {
        check(53003, Reason::BlockedByPolicy, Action::ContactAdmin, false);
    }
    #[test]
    fn aadsts530032_security_policy() {
        check(530032, Reason::BlockedByPolicy, Action::ContactAdmin, false);
    }
    #[test]
    fn aadsts50131_conditional_access() {
        check(50131, Reason::BlockedByPolicy, Action::ContactAdmin, false);
    }
    #[test]
    fn aadsts53000_device_not_compliant() {
        check(
            53000,
            Reason::DeviceNotCompliant,
            Action::ContactAdmin,
            false,
        );
    }
    #[test]
    fn aadsts53001_device_not_domain_joined() {
        check(
            53001,
            Reason::DeviceNotCompliant,
            Action::ContactAdmin,
            false,
        );
    }
    #[test]
    fn aadsts53002_app_not_compliant() {
        check(
            53002,
            Reason::DeviceNotCompliant,
            Action::ContactAdmin,
            false,
        );
    }
    #[test]
    fn aadsts530003_managed_device() {
        check(
            530003,
            Reason::DeviceNotCompliant,
            Action::ContactAdmin,
            false,
        );
    }
    #[test]
    fn aadsts65001_consent() {
        check(65001, Reason::ConsentRequired, Action::Refresh, false);
    }
    #[test]
    fn aadsts65004_consent_declined() {
        check(65004, Reason::ConsentRequired, Action::Refresh, false);
    }
    #[test]
    fn aadsts90094_admin_consent() {
        check(
            90094,
            Reason::AdminConsentRequired,
            Action::ContactAdmin,
            false,
        );
    }
    #[test]
    fn aadsts50126_bad_password() {
        check(50126, Reason::PasswordInvalid, Action::Refresh, false);
    }
    #[test]
    fn aadsts50055_password_expired() {
        check(50055, Reason::PasswordInvalid, Action::Refresh, false);
    }
    #[test]
    fn aadsts50144_ad_password_expired() {
        check(50144, Reason::PasswordInvalid, Action::Refresh, false);
    }
    #[test]
    fn aadsts50053_locked() {
        check(50053, Reason::AccountLocked, Action::ContactAdmin, false);
    }
    #[test]
    fn aadsts50057_disabled() {
        check(50057, Reason::AccountDisabled, Action::ContactAdmin, false);
    }
    #[test]
    fn aadsts50034_no_such_user() {
        check(50034, Reason::WrongAccount, Action::Change, false);
    }
    #[test]
    fn aadsts50020_wrong_tenant() {
        check(50020, Reason::WrongAccount, Action::Change, false);
    }
    #[test]
    fn aadsts500208_wrong_domain() {
        check(500208, Reason::WrongAccount, Action::Change, false);
    }
    #[test]
    fn aadsts700016_app_not_found() {
        check(
            700016,
            Reason::AppMisconfigured,
            Action::ContactAdmin,
            false,
        );
    }
    #[test]
    fn aadsts90002_tenant_not_found() {
        check(90002, Reason::AppMisconfigured, Action::ContactAdmin, false);
    }
    #[test]
    fn aadsts9002327_spa_without_origin() {
        check(
            9002327,
            Reason::AppMisconfigured,
            Action::ContactAdmin,
            false,
        );
    }
    #[test]
    fn aadsts50058_no_session() {
        check(50058, Reason::InteractionRequired, Action::Refresh, false);
    }
    #[test]
    fn aadsts50196_loop() {
        check(
            50196,
            Reason::RequestLoopDetected,
            Action::RetryLater,
            false,
        );
    }
    #[test]
    fn aadsts50033_transient() {
        check(
            50033,
            Reason::ProviderUnavailable,
            Action::RetryLater,
            false,
        );
    }
    #[test]
    fn aadsts90024_transient() {
        check(
            90024,
            Reason::ProviderUnavailable,
            Action::RetryLater,
            false,
        );
    }
    #[test]
    fn aadsts50087_transient() {
        check(
            50087,
            Reason::ProviderUnavailable,
            Action::RetryLater,
            false,
        );
    }

    #[test]
    fn temporarily_unavailable_is_transient() {
        let d = classify_response(
            ProviderId::Microsoft,
            &HttpResponse::new(
                400,
                r#"{"error":"temporarily_unavailable","error_codes":[]}"#,
            ),
            Timestamp(0),
        );
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::ProviderUnavailable, Action::RetryLater, false)
        );
    }

    #[test]
    fn suberror_bad_token_drops_the_refresh_token() {
        let d = classify(
            400,
            &OAuthErrorBody::parse(&entra_body(50076, "invalid_grant", Some("bad_token"))).unwrap(),
        )
        .unwrap();
        assert!(d.drop_refresh_token);
    }

    #[test]
    fn suberror_user_password_expired() {
        let d = classify(
            400,
            &OAuthErrorBody::parse(&entra_body(
                50089,
                "invalid_grant",
                Some("user_password_expired"),
            ))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (d.reason, d.action),
            (Reason::PasswordInvalid, Action::Refresh)
        );
    }

    #[test]
    fn unknown_code_falls_back_to_oauth_error() {
        let body = OAuthErrorBody::parse(&entra_body(12345, "invalid_grant", None)).unwrap();
        assert_eq!(classify(400, &body), None);
        let d = classify_response(
            ProviderId::Microsoft,
            &HttpResponse::new(400, entra_body(12345, "invalid_grant", None)),
            Timestamp(0),
        );
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::GrantRejected, Action::Refresh, true)
        );
    }

    #[test]
    fn description_text_is_never_parsed() {
        // The code only in the description: Microsoft's rule is error_codes, so it is unknown.
        let d = classify_response(
            ProviderId::Microsoft,
            &HttpResponse::new(
                400,
                r#"{"error":"invalid_request","error_description":"AADSTS50173: revoked"}"#,
            ),
            Timestamp(0),
        );
        assert_ne!(d.reason, Reason::RefreshTokenRevoked);
    }

    #[test]
    fn profile_builds_tenant_urls_and_one_resource() {
        let cfg: MicrosoftConfig = miniserde::json::from_str(
            r#"{"clientId":"abc","tenant":"contoso.com","mailApi":"ews"}"#,
        )
        .unwrap();
        let p = profile(&cfg, "https://x.chromiumapp.org/", None).unwrap();
        assert_eq!(
            p.authorize_url.as_str(),
            "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/authorize"
        );
        assert_eq!(
            p.token_url.as_str(),
            "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token"
        );
        assert_eq!(
            p.refresh_scopes,
            vec![
                "https://outlook.office365.com/EWS.AccessAsUser.All",
                "offline_access"
            ]
        );
        assert!(p.scopes.contains(&"offline_access".to_string()));
        assert!(
            !p.scopes.iter().any(|s| s.starts_with("https://graph")),
            "one resource per token"
        );
        assert_eq!(p.fixed_refresh_horizon, Some(24 * HOUR));
        assert_eq!(
            p.issuer,
            IssuerRule::Exact("https://login.microsoftonline.com/contoso.com/v2.0".into())
        );
        let consumers = profile(
            &cfg,
            "https://x.chromiumapp.org/",
            Some(tenant_for_outlook_com()),
        )
        .unwrap();
        assert!(consumers.token_url.as_str().contains("/consumers/"));
    }

    #[test]
    fn non_spa_registration_has_no_fixed_horizon() {
        let cfg: MicrosoftConfig =
            miniserde::json::from_str(r#"{"clientId":"abc","spa":false}"#).unwrap();
        assert_eq!(
            profile(&cfg, "https://r/", None)
                .unwrap()
                .fixed_refresh_horizon,
            None
        );
    }

    #[test]
    fn claims_challenge_is_extracted() {
        let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1604106651"}}}"#;
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(claims);
        let header = format!(
            r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="{b64}""#
        );
        assert_eq!(claims_challenge(&header).as_deref(), Some(claims));
        assert_eq!(claims_challenge(r#"Bearer error="invalid_token""#), None);
        assert_eq!(claims_challenge("Basic realm=x"), None);
        assert_eq!(
            claims_challenge(r#"Bearer error="insufficient_claims", claims="%%%""#),
            None
        );
    }
}

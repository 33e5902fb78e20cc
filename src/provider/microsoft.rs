//! Microsoft 365 / Exchange Online / Outlook.com through the Microsoft identity platform
//! (Entra ID v2 endpoints).
//!
//! Sources: "Microsoft identity platform and OAuth 2.0 authorization code flow",
//! "Refresh tokens in the Microsoft identity platform" (24 h `spa` lifetime),
//! "Microsoft Entra authentication and authorization error codes"
//! (learn.microsoft.com/entra/identity-platform/reference-error-codes: the AADSTS table
//! below), "Handle errors and exceptions in MSAL.js" (suberrors), "Claims challenges,
//! claims requests, and client capabilities".

use serde::Deserialize;

use super::{
    default_profile_origins, endpoint, require_client_id, AccessLifetime, ApiRejection,
    ConfigError, IssuerRule, Prompt, ProviderId, ProviderProfile, ProviderRules, SectionId,
};
use crate::diagnosis::{Action, Diagnosis, OAuthErrorBody, Reason};
use crate::http::HttpResponse;
use crate::time::{Timestamp, HOUR, MINUTE};

const ID: ProviderId = ProviderId::Microsoft;
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The tenant of personal Microsoft accounts (Outlook.com, Hotmail, Live).
pub const TENANT_OUTLOOK_COM: &str = "consumers";

pub static RULES: ProviderRules = ProviderRules {
    id: ID,
    name: "microsoft",
    title: "Microsoft 365",
    section: SectionId::Email,
    remembers_logins: false,
    token_errors: classify,
    api_unauthorized,
    profile: |config, target| {
        config
            .microsoft
            .as_ref()
            .map(|c| profile(c, &config.redirect_uri, target.tenant.as_deref()))
            .transpose()
    },
    login_hosts: |_| Vec::new(),
    not_configured: "Microsoft 365 is not configured for this installation.",
    api_forbidden,
    custom_login_host_example: None,
    password: None,
    origins: |config| default_profile_origins(config, ID),
};

/// Which mailbox API the token is for. Entra issues a token for one resource per request
/// (AADSTS700022), so the sign-in and every refresh name exactly one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum MailApi {
    #[default]
    Graph,
    Ews,
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

fn default_tenant() -> String {
    "common".into()
}
fn default_authority() -> String {
    DEFAULT_AUTHORITY.into()
}
fn yes() -> bool {
    true
}

/// The `microsoft` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MicrosoftConfig {
    pub client_id: String,
    /// `common` (default), `organizations`, `consumers`, or a tenant id or domain.
    #[serde(default = "default_tenant")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub tenant: String,
    #[serde(default = "default_authority")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub authority: String,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub mail_api: MailApi,
    /// Whether the redirect URI is registered as `spa` (default true, as for a browser
    /// extension: the token endpoint sends CORS headers only for `spa` URIs).
    #[serde(default = "yes")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub spa: bool,
    /// Overrides the 24 h `spa` refresh-token lifetime (tests and the demo shorten it).
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub spa_refresh_lifetime_minutes: Option<u64>,
    /// Overrides the expected RFC 9207 issuer.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub issuer: Option<String>,
    /// Overrides the scopes (the mail API's resource scopes otherwise).
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub scopes: Option<Vec<String>>,
    /// Overrides the origins an authorized fetch may send the token to.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub api_origins: Option<Vec<String>>,
}

const IDENTITY_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

pub fn profile(
    config: &MicrosoftConfig,
    redirect_uri: &str,
    tenant_override: Option<&str>,
) -> Result<ProviderProfile, ConfigError> {
    let tenant = tenant_override.unwrap_or(&config.tenant);
    let authority = config.authority.trim_end_matches('/');
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
            .mail_api
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
    let fixed_refresh_horizon = config.spa.then(|| {
        config
            .spa_refresh_lifetime_minutes
            .map(|m| m.saturating_mul(MINUTE))
            .unwrap_or(24 * HOUR)
    });
    Ok(ProviderProfile {
        rules: &RULES,
        title: if tenant == TENANT_OUTLOOK_COM {
            "Outlook.com"
        } else {
            RULES.title
        },
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
        // Entra ID's v2.0 discovery document (`/{tenant}/v2.0/.well-known/openid-configuration`)
        // does not advertise RFC 9207's `authorization_response_iss_parameter_supported`
        // (checked against the published document for `organizations` and `common`, as
        // snapshotted by github.com/panva/wellknown, issuers/entra-organizations and
        // issuers/entra-common): `iss` is checked when present, not required (RFC 9207 §2.4).
        requires_iss: false,
        extra_authorize_params: Vec::new(),
        change_prompts: vec![Prompt::SelectAccount],
        refresh_prompts: Vec::new(),
        access_lifetime: AccessLifetime::ExpiresIn,
        fixed_refresh_horizon,
        session_check_url: None,
        can_refresh: true,
        api_origins: config.api_origins.clone().unwrap_or_else(|| {
            config
                .mail_api
                .api_origin()
                .into_iter()
                .map(String::from)
                .collect()
        }),
        login_host: None,
        // Its token responses name no API host.
        instance_domains: None,
    })
}

/// One row of the AADSTS table: the codes, what happened, what to do, whether the
/// refresh token is dead.
struct Row(&'static [u64], Reason, Action, bool);

/// From "Microsoft Entra authentication and authorization error codes" (the AADSTS
/// reference) and providers.md. A refresh token is dropped only where the code says the
/// token itself is revoked or expired.
const TABLE: &[Row] = &[
    // "The refresh token was revoked": password change or reset, admin "revoke sessions".
    Row(&[50173], Reason::RefreshTokenRevoked, Action::Refresh, true),
    // SsoArtifactInvalidOrExpired / SsoArtifactRevoked: "the session isn't valid due to
    // password expiration or recent password change".
    Row(
        &[50133, 50132],
        Reason::RefreshTokenRevoked,
        Action::Refresh,
        true,
    ),
    // ExpiredOrRevokedGrant (70008), "refresh token has expired due to inactivity" (700082).
    Row(
        &[700082, 70008],
        Reason::RefreshTokenExpired,
        Action::Refresh,
        true,
    ),
    // "The refresh token was issued to a single page app, and therefore has a fixed,
    // limited lifetime of 24 hours".
    Row(
        &[700084],
        Reason::SessionLifetimeReached,
        Action::Refresh,
        true,
    ),
    // InvalidGrant: "the refresh token isn't valid" (token binding).
    Row(&[70000], Reason::GrantRejected, Action::Refresh, true),
    // "The user is forced to sign in again because of the sign-in frequency policy".
    Row(&[70043], Reason::SignInFrequency, Action::Refresh, true),
    // UserStrongAuthClientAuthNRequired / ...Interrupt / ...Expired: MFA required.
    Row(
        &[50076, 50074, 50078, 50158],
        Reason::MfaRequired,
        Action::Refresh,
        false,
    ),
    // UserStrongAuthEnrollmentRequired: the user must register for MFA.
    Row(
        &[50079, 50072],
        Reason::MfaRegistrationRequired,
        Action::Refresh,
        false,
    ),
    // ProofUpBlockedDueToRisk: MFA registration blocked by risk policy.
    Row(
        &[53004],
        Reason::BlockedByPolicy,
        Action::ContactAdmin,
        false,
    ),
    // Conditional access: blocked by policy, blocked by risk, "blocked by security defaults".
    Row(
        &[53003, 530032, 50131, 53011],
        Reason::BlockedByPolicy,
        Action::ContactAdmin,
        false,
    ),
    // DeviceNotCompliant, DeviceNotDomainJoined, ApplicationUsedIsNotAnApprovedApp,
    // managed device required, device authentication required.
    Row(
        &[53000, 53001, 53002, 530003, 50097],
        Reason::DeviceNotCompliant,
        Action::ContactAdmin,
        false,
    ),
    // ConsentRequired (65001), DeclinedConsent (65004).
    Row(
        &[65001, 65004],
        Reason::ConsentRequired,
        Action::Refresh,
        false,
    ),
    // "Admin consent is required"; the resource principal is not in the tenant (the app was
    // never consented to there).
    Row(
        &[90094, 500011],
        Reason::AdminConsentRequired,
        Action::ContactAdmin,
        false,
    ),
    // InvalidUserNameOrPassword, UserPasswordExpired, on-premises password expired,
    // "credential validation failed", "invalid or null password".
    Row(
        &[50126, 50055, 50144, 50064, 50056],
        Reason::PasswordInvalid,
        Action::Refresh,
        false,
    ),
    // IdsLocked.
    Row(&[50053], Reason::AccountLocked, Action::ContactAdmin, false),
    // UserDisabled.
    Row(
        &[50057],
        Reason::AccountDisabled,
        Action::ContactAdmin,
        false,
    ),
    // The user is not assigned to a role of the app ("assign the user to the app").
    Row(&[50105], Reason::AdminPolicy, Action::ContactAdmin, false),
    // UserAccountNotFound, user not in the tenant, wrong domain, external account not in
    // the tenant, user not in the directory.
    Row(
        &[50034, 50020, 500208, 90072, 51004],
        Reason::WrongAccount,
        Action::Change,
        false,
    ),
    // Application not found or disabled, tenant not found, service principal disabled,
    // redirect URI mismatch, invalid scope, one resource per request (AADSTS700022), public
    // client sent without a secret where one is required, malformed request.
    Row(
        &[
            700016, 70001, 7000112, 90002, 500014, 50011, 70011, 700022, 7000218, 9002313,
        ],
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
    // NoSession (a silent request needs interaction), CmsiInterrupt (user confirmation
    // required), password reset or registration interrupt, flow token expired.
    Row(
        &[50058, 50199, 50125, 50089],
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
    // Transient: retry with backoff (50033 retry on network, 90024 request throttled /
    // service unavailable, 50087 unknown strong authentication failure).
    Row(
        &[50033, 90024, 50087],
        Reason::ProviderUnavailable,
        Action::RetryLater,
        false,
    ),
];

/// Classifies on `error` + `suberror` + `error_codes[0]`, never on `error_description`.
pub fn classify(_status: u16, body: Option<&OAuthErrorBody>) -> Option<Diagnosis> {
    let body = body?;
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

/// EWS in Exchange Online answers 403 while it is switched off for the tenant or the app:
/// blocked by default since 2026-10-01 for tenants without `EWSEnabled` (only apps on the
/// tenant's allow list pass), gone on 2027-04-01 ("Control access to EWS in Exchange",
/// `EwsEnabled`, `EwsAllowedAppIDs`). Signing in again cannot change that: an administrator
/// matter, said on the card. A 403 from Graph is the caller's to read (a missing scope or
/// one item it may not see).
fn api_forbidden(url: &str) -> Option<Diagnosis> {
    const EXCHANGE_ONLINE_EWS: &str = "https://outlook.office365.com/ews/";
    url.get(..EXCHANGE_ONLINE_EWS.len())
        .filter(|p| p.eq_ignore_ascii_case(EXCHANGE_ONLINE_EWS))
        .map(|_| Diagnosis::new(Reason::MailApiDisabled, Action::ContactAdmin).with_code("EWS 403"))
}

/// A 401 from Graph, EWS or IMAP: a claims challenge asks for an interactive sign-in with
/// those claims; anything else means the token's session ended (refresh once).
fn api_unauthorized(response: &HttpResponse, _now: Timestamp) -> ApiRejection {
    match response
        .header("www-authenticate")
        .and_then(claims_challenge)
    {
        Some(claims) => ApiRejection::ClaimsChallenge(claims),
        None => ApiRejection::TokenExpired,
    }
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
    serde_json::from_str::<serde::de::IgnoredAny>(&json).ok()?;
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

/// A documented Entra error body (the shape of the AADSTS reference) for `code`: the bodies
/// the tests and the property tests feed the classifier.
pub fn entra_body(code: u64, error: &str, suberror: Option<&str>) -> String {
    let sub = suberror
        .map(|s| format!(",\"suberror\":\"{s}\""))
        .unwrap_or_default();
    format!(
        "{{\"error\":\"{error}\",\"error_description\":\"AADSTS{code}: text. Trace ID: 0 Correlation ID: 0 Timestamp: 2026-11-25 10:00:00Z\",\"error_codes\":[{code}],\"timestamp\":\"2026-11-25 10:00:00Z\",\"trace_id\":\"t\",\"correlation_id\":\"c\"{sub}}}"
    )
}

/// Every documented error body this file's table knows (for property tests).
pub fn documented_error_bodies() -> Vec<String> {
    TABLE
        .iter()
        .flat_map(|row| row.0.iter())
        .map(|code| entra_body(*code, "invalid_grant", None))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpResponse;
    use crate::time::Timestamp;

    fn classify_response(response: &HttpResponse) -> Diagnosis {
        RULES.classify(response, Timestamp(0))
    }

    /// The AADSTS reference, row by row, as providers.md and the Entra error-code page have
    /// it: (code, reason, action, refresh token dropped). Written independently of `TABLE`.
    const DOCUMENTED: &[(u64, Reason, Action, bool)] = &[
        (50173, Reason::RefreshTokenRevoked, Action::Refresh, true),
        (50133, Reason::RefreshTokenRevoked, Action::Refresh, true),
        (50132, Reason::RefreshTokenRevoked, Action::Refresh, true),
        (700082, Reason::RefreshTokenExpired, Action::Refresh, true),
        (70008, Reason::RefreshTokenExpired, Action::Refresh, true),
        (
            700084,
            Reason::SessionLifetimeReached,
            Action::Refresh,
            true,
        ),
        (70000, Reason::GrantRejected, Action::Refresh, true),
        (70043, Reason::SignInFrequency, Action::Refresh, true),
        (50076, Reason::MfaRequired, Action::Refresh, false),
        (50074, Reason::MfaRequired, Action::Refresh, false),
        (50078, Reason::MfaRequired, Action::Refresh, false),
        (50158, Reason::MfaRequired, Action::Refresh, false),
        (
            50079,
            Reason::MfaRegistrationRequired,
            Action::Refresh,
            false,
        ),
        (
            50072,
            Reason::MfaRegistrationRequired,
            Action::Refresh,
            false,
        ),
        (53004, Reason::BlockedByPolicy, Action::ContactAdmin, false),
        (53003, Reason::BlockedByPolicy, Action::ContactAdmin, false),
        (530032, Reason::BlockedByPolicy, Action::ContactAdmin, false),
        (50131, Reason::BlockedByPolicy, Action::ContactAdmin, false),
        (53011, Reason::BlockedByPolicy, Action::ContactAdmin, false),
        (
            53000,
            Reason::DeviceNotCompliant,
            Action::ContactAdmin,
            false,
        ),
        (
            53001,
            Reason::DeviceNotCompliant,
            Action::ContactAdmin,
            false,
        ),
        (
            53002,
            Reason::DeviceNotCompliant,
            Action::ContactAdmin,
            false,
        ),
        (
            530003,
            Reason::DeviceNotCompliant,
            Action::ContactAdmin,
            false,
        ),
        (
            50097,
            Reason::DeviceNotCompliant,
            Action::ContactAdmin,
            false,
        ),
        (65001, Reason::ConsentRequired, Action::Refresh, false),
        (65004, Reason::ConsentRequired, Action::Refresh, false),
        (
            90094,
            Reason::AdminConsentRequired,
            Action::ContactAdmin,
            false,
        ),
        (
            500011,
            Reason::AdminConsentRequired,
            Action::ContactAdmin,
            false,
        ),
        (50126, Reason::PasswordInvalid, Action::Refresh, false),
        (50055, Reason::PasswordInvalid, Action::Refresh, false),
        (50144, Reason::PasswordInvalid, Action::Refresh, false),
        (50064, Reason::PasswordInvalid, Action::Refresh, false),
        (50056, Reason::PasswordInvalid, Action::Refresh, false),
        (50053, Reason::AccountLocked, Action::ContactAdmin, false),
        (50057, Reason::AccountDisabled, Action::ContactAdmin, false),
        (50105, Reason::AdminPolicy, Action::ContactAdmin, false),
        (50034, Reason::WrongAccount, Action::Change, false),
        (50020, Reason::WrongAccount, Action::Change, false),
        (500208, Reason::WrongAccount, Action::Change, false),
        (90072, Reason::WrongAccount, Action::Change, false),
        (51004, Reason::WrongAccount, Action::Change, false),
        (
            700016,
            Reason::AppMisconfigured,
            Action::ContactAdmin,
            false,
        ),
        (70001, Reason::AppMisconfigured, Action::ContactAdmin, false),
        (
            7000112,
            Reason::AppMisconfigured,
            Action::ContactAdmin,
            false,
        ),
        (90002, Reason::AppMisconfigured, Action::ContactAdmin, false),
        (
            500014,
            Reason::AppMisconfigured,
            Action::ContactAdmin,
            false,
        ),
        (50011, Reason::AppMisconfigured, Action::ContactAdmin, false),
        (70011, Reason::AppMisconfigured, Action::ContactAdmin, false),
        (
            700022,
            Reason::AppMisconfigured,
            Action::ContactAdmin,
            false,
        ),
        (
            7000218,
            Reason::AppMisconfigured,
            Action::ContactAdmin,
            false,
        ),
        (
            9002313,
            Reason::AppMisconfigured,
            Action::ContactAdmin,
            false,
        ),
        (
            9002326,
            Reason::AppMisconfigured,
            Action::ContactAdmin,
            false,
        ),
        (
            9002327,
            Reason::AppMisconfigured,
            Action::ContactAdmin,
            false,
        ),
        (50058, Reason::InteractionRequired, Action::Refresh, false),
        (50199, Reason::InteractionRequired, Action::Refresh, false),
        (50125, Reason::InteractionRequired, Action::Refresh, false),
        (50089, Reason::InteractionRequired, Action::Refresh, false),
        (
            50196,
            Reason::RequestLoopDetected,
            Action::RetryLater,
            false,
        ),
        (
            50033,
            Reason::ProviderUnavailable,
            Action::RetryLater,
            false,
        ),
        (
            90024,
            Reason::ProviderUnavailable,
            Action::RetryLater,
            false,
        ),
        (
            50087,
            Reason::ProviderUnavailable,
            Action::RetryLater,
            false,
        ),
    ];

    #[test]
    fn the_aadsts_table_over_documented_bodies() {
        for &(code, reason, action, drop) in DOCUMENTED {
            let d = classify_response(&HttpResponse::new(
                400,
                entra_body(code, "invalid_grant", None),
            ));
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
        // Every row of the table is documented here, so none goes untested.
        for code in TABLE.iter().flat_map(|row| row.0.iter()) {
            assert!(
                DOCUMENTED.iter().any(|(c, ..)| c == code),
                "AADSTS{code} has no documented row"
            );
        }
    }

    #[test]
    fn a_server_error_naming_a_revoked_grant_keeps_the_token() {
        for status in [500, 503, 429] {
            let d = classify_response(&HttpResponse::new(
                status,
                entra_body(50173, "invalid_grant", None),
            ));
            assert_eq!(d.action, Action::RetryLater);
            assert!(!d.drop_refresh_token);
        }
    }

    #[test]
    fn temporarily_unavailable_is_transient() {
        let d = classify_response(&HttpResponse::new(
            400,
            r#"{"error":"temporarily_unavailable","error_codes":[]}"#,
        ));
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::ProviderUnavailable, Action::RetryLater, false)
        );
    }

    #[test]
    fn suberror_bad_token_drops_the_refresh_token() {
        let d = classify(
            400,
            OAuthErrorBody::parse(&entra_body(50076, "invalid_grant", Some("bad_token"))).as_ref(),
        )
        .unwrap();
        assert!(d.drop_refresh_token);
    }

    #[test]
    fn suberror_user_password_expired() {
        let d = classify(
            400,
            OAuthErrorBody::parse(&entra_body(
                50089,
                "invalid_grant",
                Some("user_password_expired"),
            ))
            .as_ref(),
        )
        .unwrap();
        assert_eq!(
            (d.reason, d.action),
            (Reason::PasswordInvalid, Action::Refresh)
        );
    }

    #[test]
    fn unknown_code_falls_back_to_oauth_error() {
        let body = OAuthErrorBody::parse(&entra_body(12345, "invalid_grant", None));
        assert_eq!(classify(400, body.as_ref()), None);
        let d = classify_response(&HttpResponse::new(
            400,
            entra_body(12345, "invalid_grant", None),
        ));
        assert_eq!(
            (d.reason, d.action, d.drop_refresh_token),
            (Reason::GrantRejected, Action::Refresh, true)
        );
    }

    #[test]
    fn description_text_is_never_parsed() {
        // The code only in the description: Microsoft's rule is error_codes, so it is unknown.
        let d = classify_response(&HttpResponse::new(
            400,
            r#"{"error":"invalid_request","error_description":"AADSTS50173: revoked"}"#,
        ));
        assert_ne!(d.reason, Reason::RefreshTokenRevoked);
    }

    #[test]
    fn profile_builds_tenant_urls_and_one_resource() {
        let cfg: MicrosoftConfig =
            serde_json::from_str(r#"{"clientId":"abc","tenant":"contoso.com","mailApi":"ews"}"#)
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
        let consumers =
            profile(&cfg, "https://x.chromiumapp.org/", Some(TENANT_OUTLOOK_COM)).unwrap();
        assert!(consumers.token_url.as_str().contains("/consumers/"));
        assert_eq!(consumers.title, "Outlook.com");
        assert_eq!(p.title, "Microsoft 365");
    }

    #[test]
    fn non_spa_registration_has_no_fixed_horizon() {
        let cfg: MicrosoftConfig =
            serde_json::from_str(r#"{"clientId":"abc","spa":false}"#).unwrap();
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

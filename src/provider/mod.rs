//! Providers: one file per service, and the seam through which the rest of the engine sees
//! them.
//!
//! A provider is a value, in the manner of rustls' `CryptoProvider`: [`ProviderRules`] holds
//! what a service is and does whatever the configuration (its error table, what an API 401
//! means, its title, which section of the dashboard it belongs to, how its configuration
//! section becomes a profile), and [`ProviderProfile`] is that plus the configuration
//! resolved for one connection (endpoints, scopes, quirks). The state machine, the engine,
//! the view and `src/web/` hold these values and never ask which provider they have.
//!
//! Architecture invariant: this module and its files are the only place that names a
//! provider (`ProviderId::Microsoft` ...) to decide something; `connection.rs`, `engine.rs`,
//! `view.rs` and `src/web/` never do (a test in `tests/architecture.rs` checks it).

pub mod discover;
pub mod exchange;
pub mod google;
mod map;
pub mod microsoft;
pub mod salesforce;
pub use map::ProviderMap;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::diagnosis::{self, Diagnosis, TokenErrorTable};
use crate::http::{HttpRequest, HttpResponse};
use crate::time::{Millis, Timestamp};

/// The four services a sidebar connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum ProviderId {
    Microsoft,
    Google,
    Salesforce,
    Exchange,
}

impl ProviderId {
    pub const ALL: [ProviderId; 4] = [
        ProviderId::Microsoft,
        ProviderId::Google,
        ProviderId::Salesforce,
        ProviderId::Exchange,
    ];

    pub fn as_str(self) -> &'static str {
        self.rules().name
    }

    pub fn parse(name: &str) -> Option<ProviderId> {
        ProviderId::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// What this provider is and does: the one place an id becomes behaviour.
    pub fn rules(self) -> &'static ProviderRules {
        match self {
            ProviderId::Microsoft => &microsoft::RULES,
            ProviderId::Google => &google::RULES,
            ProviderId::Salesforce => &salesforce::RULES,
            ProviderId::Exchange => &exchange::RULES,
        }
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two sections of the Sync Settings screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum SectionId {
    /// E-Mail Configuration: the mailbox.
    Email,
    /// CRM: Salesforce.
    Crm,
}

/// `prompt` values (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Silent: fail with `login_required` / `interaction_required` rather than show a page.
    None,
    Login,
    Consent,
    SelectAccount,
}

impl Prompt {
    pub fn as_str(self) -> &'static str {
        match self {
            Prompt::None => "none",
            Prompt::Login => "login",
            Prompt::Consent => "consent",
            Prompt::SelectAccount => "select_account",
        }
    }

    pub fn parse(s: &str) -> Option<Prompt> {
        [
            Prompt::None,
            Prompt::Login,
            Prompt::Consent,
            Prompt::SelectAccount,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// What a 401 from a provider's API means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiRejection {
    /// The session behind the access token ended (expired, revoked): refresh once, retry
    /// once (Salesforce `INVALID_SESSION_ID`, an expired Microsoft or Google token).
    TokenExpired,
    /// Only an interactive sign-in passing these claims helps (Entra claims challenge).
    ClaimsChallenge(String),
    /// The credentials themselves were refused and must not be retried automatically
    /// (on-premises Exchange: each retry counts towards the account lockout).
    CredentialsRejected(Diagnosis),
}

/// What a provider is and does, whatever the configuration: the behaviour half of a
/// provider value. One `static` per provider file.
pub struct ProviderRules {
    pub id: ProviderId,
    /// The name used in configuration, storage and the JS API.
    pub name: &'static str,
    /// The card title (a profile may refine it: Outlook.com).
    pub title: &'static str,
    pub section: SectionId,
    /// Whether the dashboard offers the usernames and login hosts used before (Salesforce).
    pub remembers_logins: bool,
    /// The provider's own error table; `diagnosis::classify` applies it in order.
    pub token_errors: TokenErrorTable,
    /// What a 401 from the provider's API means.
    pub api_unauthorized: fn(&HttpResponse, Timestamp) -> ApiRejection,
    /// What a 403 from this API URL means when only an administrator can lift it (a mail
    /// API switched off); `None`: the caller gets the answer as it is (a 403 for one item
    /// or a missing scope is the caller's to read).
    pub api_forbidden: fn(url: &str) -> Option<Diagnosis>,
    /// The profile for a connection to `target`, from the configuration. `Ok(None)`: the
    /// provider's section is absent.
    pub profile: fn(&Config, &Target) -> Result<Option<ProviderProfile>, ConfigError>,
    /// The origins a host must be allowed to reach for this provider (extension host
    /// permissions): endpoints, APIs, login hosts, as origins or match patterns.
    pub origins: fn(&Config) -> Vec<String>,
    /// The login hosts a Change may pick from (Salesforce production, sandbox, ...).
    pub login_hosts: fn(&Config) -> Vec<LoginHost>,
    /// The dashboard's words when the provider's section is absent.
    pub not_configured: &'static str,
    /// An example of a login host of one's own that Change accepts (Salesforce My Domain).
    pub custom_login_host_example: Option<&'static str>,
    /// A provider whose grant is a login and password (on-premises Exchange): how to check
    /// them and how to present them. `None`: an OAuth provider.
    pub password: Option<&'static PasswordSignIn>,
}

/// Sign-in with a login and a password, checked by one API call. There is nothing to
/// refresh: the password is kept in the vault and sent with each call; a refusal is never
/// retried automatically (account lockout), the user types it again (Refresh).
pub struct PasswordSignIn {
    /// The call that proves the password (EWS `GetFolder` of the inbox), to `endpoint`.
    pub verify_request: fn(endpoint: &str, login: &str, password: &str) -> HttpRequest,
    /// `Ok` when the answer proves the password; else what went wrong.
    pub verify_outcome: fn(&HttpResponse, Timestamp) -> Result<(), Diagnosis>,
    /// The `Authorization` header value for an API call.
    pub authorization: fn(login: &str, password: &str) -> String,
    /// The authenticated request that finds the endpoint (Exchange Autodiscover), sent
    /// only to a URL on a host the user confirmed.
    pub discover_request: fn(url: &str, email: &str, login: &str, password: &str) -> HttpRequest,
    /// The endpoint in its answer, if it may receive the password (`confirmed_host`: the
    /// host the user confirmed).
    pub discovered_target: fn(
        &HttpResponse,
        email: &str,
        confirmed_host: &str,
        Timestamp,
    ) -> Result<Target, Diagnosis>,
}

/// A login host offered in the Change form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(deny_unknown_fields)]
pub struct LoginHost {
    pub id: String,
    pub label: String,
    pub url: String,
}

impl std::fmt::Debug for ProviderRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl ProviderRules {
    /// Classifies a failed token-endpoint answer (common rules, then this provider's table).
    pub fn classify(&self, response: &HttpResponse, now: Timestamp) -> Diagnosis {
        diagnosis::classify(self.token_errors, response, now)
    }
}

/// The host configuration: one optional section per provider, every endpoint overridable so
/// tests and the demo point at local providers. Keys nobody knows are refused by name.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Where providers send the browser back: a callback page of the web host,
    /// `https://<extension-id>.chromiumapp.org/` in the extension.
    pub redirect_uri: String,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub microsoft: Option<microsoft::MicrosoftConfig>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub google: Option<google::GoogleConfig>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub salesforce: Option<salesforce::SalesforceConfig>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub exchange: Option<exchange::ExchangeConfig>,
    /// Settings of the host's developer tools; the engine ignores them.
    #[serde(default, skip_serializing)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional, type = "unknown"))]
    pub devtools: Option<serde::de::IgnoredAny>,
}

/// How an access token's lifetime is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLifetime {
    /// The token response carries `expires_in` (RFC 6749 §5.1).
    ExpiresIn,
    /// No `expires_in` (Salesforce): a session whose timeout is configured by the org; the
    /// estimate is this many milliseconds from issue, extended by each use.
    SessionTimeout(Millis),
}

/// Who may appear as `iss` in an authorization response (RFC 9207 §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerRule {
    Exact(String),
    /// Microsoft multi-tenant authorities (`common`, `organizations`, `consumers`): the
    /// issuer names the user's tenant, `{authority}/{tenant-id}/v2.0`.
    AnyTenantOf {
        authority: String,
    },
}

impl IssuerRule {
    pub fn accepts(&self, iss: &str) -> bool {
        match self {
            IssuerRule::Exact(expected) => iss == expected,
            IssuerRule::AnyTenantOf { authority } => iss
                .strip_prefix(authority.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .and_then(|rest| rest.strip_suffix("/v2.0"))
                .is_some_and(|tenant| !tenant.is_empty() && !tenant.contains('/')),
        }
    }
}

/// A provider resolved for one connection: its rules plus everything the core needs to
/// talk to it (the data half of a provider value).
#[derive(Debug, Clone)]
pub struct ProviderProfile {
    pub rules: &'static ProviderRules,
    /// The card title for this connection ("Outlook.com" for the consumers tenant).
    pub title: &'static str,
    pub client_id: String,
    /// Only where a provider gives no other way (Google) and only from configuration.
    pub client_secret: Option<String>,
    pub authorize_url: Url,
    pub token_url: Url,
    pub revoke_url: Option<Url>,
    pub redirect_uri: String,
    /// Scopes of the interactive sign-in.
    pub scopes: Vec<String>,
    /// Scopes sent with a refresh (Microsoft: one resource per token request, AADSTS700022).
    pub refresh_scopes: Vec<String>,
    pub issuer: IssuerRule,
    /// RFC 9207: the provider's discovery document advertises
    /// `authorization_response_iss_parameter_supported`, so a redirect without `iss` is
    /// refused (RFC 9207 §2.4). Set by each provider file from its documentation.
    pub requires_iss: bool,
    /// Parameters every authorization request carries (Google `access_type=offline`).
    pub extra_authorize_params: Vec<(String, String)>,
    /// `prompt` values for **Change** (OIDC Core §3.1.2.1, space-delimited): the account
    /// picker or login page, plus the consent screen where a provider issues a refresh
    /// token only there (Google).
    pub change_prompts: Vec<Prompt>,
    /// `prompt` values for **Refresh** (the same account).
    pub refresh_prompts: Vec<Prompt>,
    pub access_lifetime: AccessLifetime,
    /// A fixed refresh-token lifetime counted from the interactive sign-in that no refresh
    /// extends (Microsoft `spa`: 24 h, AADSTS700084).
    pub fixed_refresh_horizon: Option<Millis>,
    /// Whether a refresh token can be used at all (Google without a client secret cannot).
    pub can_refresh: bool,
    /// Origins an authorized fetch may send this provider's token to.
    pub api_origins: Vec<String>,
    /// Salesforce: the login host this profile was built for.
    pub login_host: Option<String>,
    /// Where an access token whose end is only estimated (`AccessLifetime::SessionTimeout`)
    /// can be checked with a GET (Salesforce's userinfo endpoint); see
    /// `Connection::session_check`.
    pub session_check_url: Option<String>,
    /// Where a token response's `instance_url` may point (host names; a name matches itself
    /// and its subdomains). `None`: this provider never names an API host in its token
    /// response and any `instance_url` is ignored. An instance URL decides where the
    /// access token is sent and which host permission the extension asks for, so it is
    /// accepted only from the provider that documents it, on the domains it documents.
    pub instance_domains: Option<Vec<String>>,
}

/// Why a token response's `instance_url` was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceUrlError {
    /// Not an absolute URL.
    NotAUrl,
    /// Not https (http only on loopback, as for every endpoint).
    Insecure,
    /// Not on the provider's documented (or configured) instance domains.
    ForeignHost(String),
}

impl ProviderProfile {
    /// The origin of an `instance_url` this provider may set, or why not. `Ok(None)`: the
    /// provider names no instance (the value is ignored).
    pub fn accept_instance_url(&self, url: &str) -> Result<Option<String>, InstanceUrlError> {
        let Some(domains) = &self.instance_domains else {
            return Ok(None);
        };
        let parsed = Url::parse(url).map_err(|_| InstanceUrlError::NotAUrl)?;
        if !is_secure_origin(&parsed) {
            return Err(InstanceUrlError::Insecure);
        }
        let host = parsed
            .host_str()
            .ok_or(InstanceUrlError::NotAUrl)?
            .to_ascii_lowercase();
        let on_domain = domains.iter().any(|d| {
            let d = d.trim_start_matches("*.").to_ascii_lowercase();
            host == d || host.ends_with(&format!(".{d}"))
        });
        if !on_domain {
            return Err(InstanceUrlError::ForeignHost(host));
        }
        Ok(origin_of(url))
    }
}

/// A configuration the engine cannot work with. Reported at `create` time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    NotConfigured(ProviderId),
    /// The provider is configured but has no server to sign in to until the user names one
    /// (on-premises Exchange: an EWS URL typed or found by autodiscover).
    SignInNotAvailable(ProviderId),
    MissingClientId(ProviderId),
    InvalidUrl {
        provider: ProviderId,
        field: &'static str,
        value: String,
    },
    /// Credentials and codes travel only over https (loopback http is allowed for tests).
    InsecureUrl {
        provider: ProviderId,
        field: &'static str,
        value: String,
    },
    UnknownLoginHost(String),
    /// The configuration does not have the shape of `Config`: `path` names the field
    /// (`microsoft.tenant`), `message` what is wrong with it.
    Invalid {
        path: String,
        message: String,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::NotConfigured(p) => write!(f, "{p} is not configured"),
            ConfigError::SignInNotAvailable(p) => {
                write!(f, "{p}: no server address yet")
            }
            ConfigError::MissingClientId(p) => write!(f, "{p}.clientId: it is missing or empty"),
            ConfigError::InvalidUrl {
                provider,
                field,
                value,
            } => write!(f, "{provider}.{field}: not a valid URL: {value}"),
            ConfigError::InsecureUrl {
                provider,
                field,
                value,
            } => write!(
                f,
                "{provider}.{field}: must use https (http only on loopback): {value}"
            ),
            ConfigError::UnknownLoginHost(h) => write!(f, "unknown Salesforce login host: {h}"),
            ConfigError::Invalid { path, message } if path.is_empty() || path == "." => {
                f.write_str(message)
            }
            ConfigError::Invalid { path, message } => write!(f, "{path}: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Parses an endpoint URL and enforces https except on loopback hosts.
pub(crate) fn endpoint(
    provider: ProviderId,
    field: &'static str,
    value: &str,
) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|_| ConfigError::InvalidUrl {
        provider,
        field,
        value: value.to_string(),
    })?;
    if !is_secure_origin(&url) {
        return Err(ConfigError::InsecureUrl {
            provider,
            field,
            value: value.to_string(),
        });
    }
    Ok(url)
}

/// https, or http on a loopback host (RFC 8252 §8.3 treats loopback as the one place where
/// plain http is acceptable; the tests and demo run there).
pub fn is_secure_origin(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The origin (`scheme://host:port`) of a URL, as API allow-lists compare them.
pub fn origin_of(url: &str) -> Option<String> {
    let url = Url::parse(url).ok()?;
    Some(url.origin().ascii_serialization()).filter(|o| o != "null")
}

pub(crate) fn require_client_id(provider: ProviderId, id: &str) -> Result<String, ConfigError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(ConfigError::MissingClientId(provider));
    }
    Ok(id.to_string())
}

/// The origins of `id`'s default profile (`profile_origins`), none when it has no profile.
pub(crate) fn default_profile_origins(config: &Config, id: ProviderId) -> Vec<String> {
    profile_for(config, id, &<Target as Default>::default())
        .map(|p| profile_origins(&p))
        .unwrap_or_default()
}

/// The origins a host fetches from for a profile: the token and revocation endpoints and
/// the APIs (the authorization page opens in a browser window, which needs no permission).
pub(crate) fn profile_origins(profile: &ProviderProfile) -> Vec<String> {
    let mut origins: Vec<String> = [Some(&profile.token_url), profile.revoke_url.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|u| origin_of(u.as_str()))
        .collect();
    origins.extend(profile.api_origins.iter().cloned());
    origins
}

/// Which tenant or login host a connection uses (chosen at sign-in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// Microsoft: the tenant segment (`consumers` for Outlook.com).
    pub tenant: Option<String>,
    /// Salesforce: the login host URL.
    pub login_host: Option<String>,
}

/// The profile of `id` for a connection to `target`.
pub fn profile_for(
    config: &Config,
    id: ProviderId,
    target: &Target,
) -> Result<ProviderProfile, ConfigError> {
    (id.rules().profile)(config, target)?.ok_or(ConfigError::NotConfigured(id))
}

/// Every origin a host must be allowed to reach for the configured providers (the
/// extension's host permissions), without duplicates, in provider order.
pub fn required_origins(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in config.configured() {
        for origin in (id.rules().origins)(config) {
            if !out.contains(&origin) {
                out.push(origin);
            }
        }
    }
    out
}

impl Config {
    /// Reads a configuration from any serde source (a JS object through serde-wasm-bindgen,
    /// JSON text in tests); errors name the path of the wrong field.
    pub fn from_deserializer<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Config, ConfigError> {
        serde_path_to_error::deserialize(deserializer).map_err(|e| ConfigError::Invalid {
            path: e.path().to_string(),
            message: e.into_inner().to_string(),
        })
    }

    /// Reads a configuration from JSON text.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let config = Config::from_deserializer(&mut deserializer)?;
        deserializer.end().map_err(|e| ConfigError::Invalid {
            path: String::new(),
            message: e.to_string(),
        })?;
        Ok(config)
    }

    /// Validates a configuration: every configured provider must yield a profile and the
    /// redirect URI must be https (or loopback http, or a chromiumapp.org URL).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let redirect = Url::parse(&self.redirect_uri).map_err(|_| ConfigError::Invalid {
            path: "redirectUri".into(),
            message: format!("not a valid URL: {}", self.redirect_uri),
        })?;
        if !is_secure_origin(&redirect) {
            return Err(ConfigError::Invalid {
                path: "redirectUri".into(),
                message: format!(
                    "must use https (http only on loopback): {}",
                    self.redirect_uri
                ),
            });
        }
        for id in self.configured() {
            match (id.rules().profile)(self, &<Target as Default>::default()) {
                Ok(_) | Err(ConfigError::SignInNotAvailable(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn configured(&self) -> Vec<ProviderId> {
        let present = [
            self.microsoft.is_some(),
            self.google.is_some(),
            self.salesforce.is_some(),
            self.exchange.is_some(),
        ];
        ProviderId::ALL
            .into_iter()
            .zip(present)
            .filter_map(|(id, on)| on.then_some(id))
            .collect()
    }
}

/// The mail service the user picked in E-Mail Configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum MailService {
    #[default]
    #[serde(rename = "microsoft365")]
    Microsoft365,
    OutlookCom,
    Gmail,
    Exchange,
    NotSure,
}

impl MailService {
    pub const ALL: [MailService; 5] = [
        MailService::Microsoft365,
        MailService::OutlookCom,
        MailService::Gmail,
        MailService::Exchange,
        MailService::NotSure,
    ];

    pub fn label(self) -> &'static str {
        match self {
            MailService::Microsoft365 => "Microsoft 365 (work or school)",
            MailService::OutlookCom => "Outlook.com",
            MailService::Gmail => "Gmail",
            MailService::Exchange => "Microsoft Exchange (on-premises)",
            MailService::NotSure => "I'm not sure",
        }
    }

    /// The wire name (as serde writes it; a test holds the two together).
    pub fn id(self) -> &'static str {
        match self {
            MailService::Microsoft365 => "microsoft365",
            MailService::OutlookCom => "outlook_com",
            MailService::Gmail => "gmail",
            MailService::Exchange => "exchange",
            MailService::NotSure => "not_sure",
        }
    }

    pub fn parse(id: &str) -> Option<MailService> {
        MailService::ALL.into_iter().find(|m| m.id() == id)
    }

    /// The provider behind the choice (none for "not sure").
    pub fn provider(self) -> Option<ProviderId> {
        match self {
            MailService::Microsoft365 | MailService::OutlookCom => Some(ProviderId::Microsoft),
            MailService::Gmail => Some(ProviderId::Google),
            MailService::Exchange => Some(ProviderId::Exchange),
            MailService::NotSure => None,
        }
    }

    /// Where a sign-in for this choice goes when the user named nothing more specific:
    /// Outlook.com accounts live in Entra's `consumers` tenant.
    pub fn default_target(self) -> Target {
        match self {
            MailService::OutlookCom => Target {
                tenant: Some(microsoft::TENANT_OUTLOOK_COM.into()),
                login_host: None,
            },
            _ => <Target as Default>::default(),
        }
    }

    /// The target of an explicit choice in Change: Outlook.com the consumers tenant,
    /// Microsoft 365 the configured tenant (never the consumers one).
    pub fn change_target(self, config: &Config) -> Target {
        match (self, &config.microsoft) {
            (MailService::Microsoft365, Some(m)) if m.tenant != microsoft::TENANT_OUTLOOK_COM => {
                Target {
                    tenant: Some(m.tenant.clone()),
                    login_host: None,
                }
            }
            (MailService::Microsoft365, _) => Target {
                tenant: Some("organizations".into()),
                login_host: None,
            },
            _ => self.default_target(),
        }
    }

    /// The mail service a connection is (Microsoft: by its tenant).
    pub fn of_connection(service: ProviderId, target: &Target) -> Option<MailService> {
        let consumers = target.tenant.as_deref() == Some(microsoft::TENANT_OUTLOOK_COM);
        Some(match service {
            ProviderId::Microsoft if consumers => MailService::OutlookCom,
            ProviderId::Microsoft => MailService::Microsoft365,
            ProviderId::Google => MailService::Gmail,
            ProviderId::Exchange => MailService::Exchange,
            ProviderId::Salesforce => return None,
        })
    }

    /// The first configured mail service, for a new installation.
    pub fn default_for(config: &Config) -> MailService {
        [
            MailService::Microsoft365,
            MailService::Gmail,
            MailService::Exchange,
        ]
        .into_iter()
        .find(|m| {
            m.provider()
                .is_some_and(|id| config.configured().contains(&id))
        })
        .unwrap_or(MailService::NotSure)
    }

    /// Words under the choice, where it needs them.
    pub fn hint(self, config: &Config) -> Option<&'static str> {
        match self {
            MailService::NotSure => Some(
                "Enter your email address: we look up which service holds your mailbox and show what we found before anything is sent.",
            ),
            MailService::Exchange if config.exchange.is_none() => {
                Some("Exchange is not configured for this installation.")
            }
            MailService::Exchange => Some(
                "Your company's mail server: enter your email address, or the EWS URL under Advanced, then your login and password.",
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::{Action, Reason};

    const REDIRECT: &str = r#""redirectUri":"https://x.chromiumapp.org/""#;

    #[test]
    fn config_reads_sections_with_defaults_and_skips_devtools() {
        let config = Config::from_json(&format!(
            r#"{{{REDIRECT},"microsoft":{{"clientId":"m","mailApi":"ews","spa":false}},
               "salesforce":{{"clientId":"s","sessionTimeoutMinutes":30}},"google":null,
               "devtools":{{"clock":[1,{{"x":null}}]}}}}"#
        ))
        .unwrap();
        let microsoft = config.microsoft.as_ref().unwrap();
        assert_eq!(microsoft.tenant, "common");
        assert_eq!(microsoft.authority, microsoft::DEFAULT_AUTHORITY);
        assert_eq!(microsoft.mail_api, microsoft::MailApi::Ews);
        assert!(!microsoft.spa);
        let salesforce = config.salesforce.as_ref().unwrap();
        assert_eq!(salesforce.session_timeout_minutes, 30);
        assert_eq!(salesforce.login_hosts.len(), 2);
        assert!(config.google.is_none() && config.exchange.is_none());
        assert_eq!(
            config.configured(),
            [ProviderId::Microsoft, ProviderId::Salesforce]
        );
    }

    #[test]
    fn config_errors_name_the_path_of_the_wrong_field() {
        let parse = |body: &str| {
            Config::from_json(&format!("{{{REDIRECT}{body}}}"))
                .unwrap_err()
                .to_string()
        };
        let cases = [
            (
                r#","microsoft":{"clientId":"m","tenant":1}"#,
                "microsoft.tenant: invalid type: integer `1`, expected a string",
            ),
            (
                r#","google":{"clientId":"a","tokenURL":"https://t"}"#,
                "google.tokenURL: unknown field `tokenURL`",
            ),
            (r#","gmail":{}"#, "gmail: unknown field `gmail`"),
            (
                r#","salesforce":{"loginHosts":[]}"#,
                "salesforce: missing field `clientId`",
            ),
            (
                r#","microsoft":{"clientId":"m","spa":"yes"}"#,
                "microsoft.spa: invalid type: string \"yes\", expected a boolean",
            ),
            (
                r#","salesforce":{"clientId":"s","loginHosts":[{"id":"x"}]}"#,
                "salesforce.loginHosts[0]: missing field `label`",
            ),
            (
                r#","microsoft":"m""#,
                "microsoft: invalid type: string \"m\"",
            ),
        ];
        for (body, expected) in cases {
            let message = parse(body);
            assert!(message.starts_with(expected), "{body}: {message}");
        }
        assert!(Config::from_json(r#"{"google":{"clientId":"g"}}"#)
            .unwrap_err()
            .to_string()
            .contains("missing field `redirectUri`"));
        for not_an_object in ["", "[]", "\"x\"", "{", "null", "{} x"] {
            assert!(
                matches!(
                    Config::from_json(not_an_object),
                    Err(ConfigError::Invalid { .. })
                ),
                "{not_an_object}"
            );
        }
    }

    #[test]
    fn an_empty_client_id_is_refused_at_validation() {
        let config =
            Config::from_json(&format!(r#"{{{REDIRECT},"google":{{"clientId":" "}}}}"#)).unwrap();
        assert_eq!(
            config.validate(),
            Err(ConfigError::MissingClientId(ProviderId::Google))
        );
        let insecure = Config::from_json(r#"{"redirectUri":"http://example.com/cb"}"#).unwrap();
        assert!(insecure
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("redirectUri: must use https"));
    }

    #[test]
    fn https_or_loopback_only() {
        assert!(endpoint(
            ProviderId::Google,
            "tokenUrl",
            "https://oauth2.googleapis.com/token"
        )
        .is_ok());
        assert!(endpoint(ProviderId::Google, "tokenUrl", "http://127.0.0.1:9/token").is_ok());
        assert!(endpoint(ProviderId::Google, "tokenUrl", "http://localhost:9/token").is_ok());
        assert_eq!(
            endpoint(ProviderId::Google, "tokenUrl", "http://evil.example/token"),
            Err(ConfigError::InsecureUrl {
                provider: ProviderId::Google,
                field: "tokenUrl",
                value: "http://evil.example/token".into()
            })
        );
        assert!(matches!(
            endpoint(ProviderId::Google, "tokenUrl", "not a url"),
            Err(ConfigError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn multi_tenant_issuer_rule() {
        let rule = IssuerRule::AnyTenantOf {
            authority: "https://login.microsoftonline.com".into(),
        };
        assert!(rule.accepts(
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
        ));
        assert!(!rule.accepts("https://login.microsoftonline.com/v2.0"));
        assert!(!rule.accepts("https://evil.example/tenant/v2.0"));
        assert!(!rule.accepts("https://login.microsoftonline.com/a/b/v2.0"));
    }

    #[test]
    fn provider_names_round_trip_and_rules_match_their_id() {
        for p in ProviderId::ALL {
            assert_eq!(ProviderId::parse(p.as_str()), Some(p));
            assert_eq!(p.rules().id, p);
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        assert_eq!(ProviderId::parse("yahoo"), None);
        for m in MailService::ALL {
            let wire = serde_json::to_string(&m).unwrap();
            assert_eq!(wire, format!("\"{}\"", m.id()));
            assert_eq!(MailService::parse(m.id()), Some(m));
        }
        assert_eq!(MailService::parse("yahoo"), None);
    }

    #[test]
    fn every_providers_transient_answers_keep_the_token() {
        for provider in ProviderId::ALL {
            for (status, body) in [
                (500, "<html>oops</html>"),
                (502, ""),
                (503, "{\"error\":\"temporarily_unavailable\"}"),
                (429, ""),
                (200, ""),
            ] {
                let d = provider
                    .rules()
                    .classify(&HttpResponse::new(status, body), Timestamp(0));
                assert_eq!(d.action, Action::RetryLater, "{provider} {status} {body}");
                assert!(!d.drop_refresh_token, "{provider} {status} {body}");
            }
        }
    }

    #[test]
    fn an_unknown_invalid_grant_asks_for_refresh_and_drops_the_token() {
        for provider in [
            ProviderId::Microsoft,
            ProviderId::Google,
            ProviderId::Salesforce,
        ] {
            let d = provider.rules().classify(
                &HttpResponse::new(
                    400,
                    r#"{"error":"invalid_grant","error_description":"something new"}"#,
                ),
                Timestamp(0),
            );
            assert_eq!(
                (d.reason, d.action, d.drop_refresh_token),
                (Reason::GrantRejected, Action::Refresh, true),
                "{provider}"
            );
        }
    }

    #[test]
    fn required_origins_cover_endpoints_apis_and_login_hosts() {
        let config = Config::from_json(&format!(
            r#"{{{REDIRECT},"microsoft":{{"clientId":"m"}},"google":{{"clientId":"g"}},
                "salesforce":{{"clientId":"s"}}}}"#
        ))
        .unwrap();
        let origins = required_origins(&config);
        for expected in [
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
            "https://oauth2.googleapis.com",
            "https://gmail.googleapis.com",
            "https://login.salesforce.com",
            "https://test.salesforce.com",
            "https://*.my.salesforce.com",
        ] {
            assert!(
                origins.iter().any(|o| o == expected),
                "{expected}: {origins:?}"
            );
        }
        let unique: std::collections::HashSet<_> = origins.iter().collect();
        assert_eq!(unique.len(), origins.len());
        assert!(!origins.iter().any(|o| o == "https://accounts.google.com"));
        // A login host of one's own (a local emulator) needs no Salesforce instance domain.
        let local = Config::from_json(&format!(
            r#"{{{REDIRECT},"salesforce":{{"clientId":"s","loginHosts":[
                {{"id":"local","label":"Local","url":"http://127.0.0.1:9/salesforce"}}]}}}}"#
        ))
        .unwrap();
        assert_eq!(required_origins(&local), ["http://127.0.0.1:9"]);
    }

    #[test]
    fn mail_services_map_to_providers_and_tenants() {
        assert_eq!(
            MailService::OutlookCom.default_target().tenant.as_deref(),
            Some("consumers")
        );
        assert_eq!(
            MailService::Microsoft365.default_target(),
            Target::default()
        );
        assert_eq!(MailService::Gmail.provider(), Some(ProviderId::Google));
        assert_eq!(MailService::NotSure.provider(), None);
        let gmail_only =
            Config::from_json(&format!(r#"{{{REDIRECT},"google":{{"clientId":"g"}}}}"#)).unwrap();
        assert_eq!(MailService::default_for(&gmail_only), MailService::Gmail);
    }
}

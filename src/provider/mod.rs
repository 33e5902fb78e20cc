//! Provider profiles: endpoints, scopes and quirks, one file per service.
//!
//! Everything a reader needs to know about one provider (its endpoints, response quirks and
//! error table, with a test per row) is in that provider's file. This module holds what they
//! share: the identifiers, the resolved profile type and configuration errors.

pub mod exchange;
pub mod google;
mod map;
pub mod microsoft;
pub mod salesforce;
pub use map::ProviderMap;

use miniserde::json;

use crate::json::KeyOutline;
use miniserde::ser::Fragment;
use miniserde::{Deserialize, Serialize};
use url::Url;

use crate::authorize::Prompt;
use crate::diagnosis::{Diagnosis, OAuthErrorBody};
use crate::time::Millis;

/// The four services a sidebar connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProviderId {
    #[serde(rename = "microsoft")]
    Microsoft,
    #[serde(rename = "google")]
    Google,
    #[serde(rename = "salesforce")]
    Salesforce,
    #[serde(rename = "exchange")]
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
        match self {
            ProviderId::Microsoft => "microsoft",
            ProviderId::Google => "google",
            ProviderId::Salesforce => "salesforce",
            ProviderId::Exchange => "exchange",
        }
    }

    pub fn parse(name: &str) -> Option<ProviderId> {
        ProviderId::ALL.into_iter().find(|p| p.as_str() == name)
    }

    pub fn title(self) -> &'static str {
        match self {
            ProviderId::Microsoft => "Microsoft 365",
            ProviderId::Google => "Gmail",
            ProviderId::Salesforce => "Salesforce",
            ProviderId::Exchange => "Exchange (on-premises)",
        }
    }
}

// Map keys in JSON (the vault's `connections`, the session cache) are the provider names.
impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProviderId {
    type Err = UnknownProvider;
    fn from_str(name: &str) -> Result<ProviderId, UnknownProvider> {
        ProviderId::parse(name).ok_or(UnknownProvider)
    }
}

/// A provider name that is not one of the four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownProvider;

/// The host configuration: one optional section per provider, every endpoint overridable so
/// tests and the demo point at local providers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    /// Where providers send the browser back: a callback page of the web host,
    /// `https://<extension-id>.chromiumapp.org/` in the extension.
    #[serde(rename = "redirectUri")]
    pub redirect_uri: String,
    pub microsoft: Option<microsoft::MicrosoftConfig>,
    pub google: Option<google::GoogleConfig>,
    pub salesforce: Option<salesforce::SalesforceConfig>,
    pub exchange: Option<exchange::ExchangeConfig>,
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

/// Everything the core needs to talk to one provider for one connection.
#[derive(Debug, Clone)]
pub struct ProviderProfile {
    pub id: ProviderId,
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
    /// Parameters every authorization request carries (Google `access_type=offline`).
    pub extra_authorize_params: Vec<(String, String)>,
    /// `prompt` values for **Change** (OIDC Core §3.1.2.1, space-delimited): the account
    /// picker or login page, plus the consent screen where a provider issues a refresh
    /// token only there (Google).
    pub change_prompts: Vec<Prompt>,
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
}

/// A configuration the engine cannot work with. Reported at `create` time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    NotConfigured(ProviderId),
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
    /// The configuration is not a JSON object.
    NotAnObject,
    /// A key no section has: a typo would otherwise silently fall back to a default.
    UnknownKey {
        section: &'static str,
        key: String,
    },
    /// A value of the wrong type, or `redirectUri` missing.
    WrongType,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::NotConfigured(p) => write!(f, "{} is not configured", p.as_str()),
            ConfigError::MissingClientId(p) => write!(f, "{}: clientId is missing", p.as_str()),
            ConfigError::InvalidUrl {
                provider,
                field,
                value,
            } => {
                write!(
                    f,
                    "{}: {field} is not a valid URL: {value}",
                    provider.as_str()
                )
            }
            ConfigError::InsecureUrl {
                provider,
                field,
                value,
            } => write!(
                f,
                "{}: {field} must use https (http only on loopback): {value}",
                provider.as_str()
            ),
            ConfigError::UnknownLoginHost(h) => write!(f, "unknown Salesforce login host: {h}"),
            ConfigError::NotAnObject => f.write_str("the configuration is not a JSON object"),
            ConfigError::UnknownKey { section, key } => {
                write!(f, "{section}: unknown key \"{key}\"")
            }
            ConfigError::WrongType => f.write_str(
                "a value has the wrong type, or redirectUri is missing (the keys and their \
                 types are the `Config` interface of sidebar_auth.d.ts)",
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The keys a provider's section may hold.
fn section_fields(id: ProviderId) -> Vec<String> {
    match id {
        ProviderId::Microsoft => field_names(&<microsoft::MicrosoftConfig as Default>::default()),
        ProviderId::Google => field_names(&<google::GoogleConfig as Default>::default()),
        ProviderId::Salesforce => {
            field_names(&<salesforce::SalesforceConfig as Default>::default())
        }
        ProviderId::Exchange => field_names(&<exchange::ExchangeConfig as Default>::default()),
    }
}

/// The JSON keys a struct serializes (all of them: miniserde writes `None` as `null`).
fn field_names(template: &dyn Serialize) -> Vec<String> {
    let mut names = Vec::new();
    if let Fragment::Map(mut fields) = template.begin() {
        while let Some((key, _)) = fields.next() {
            names.push(key.into_owned());
        }
    }
    names
}

fn check_keys<'a>(
    section: &'static str,
    mut keys: impl Iterator<Item = &'a str>,
    known: &[String],
) -> Result<(), ConfigError> {
    match keys.find(|key| !known.iter().any(|k| k == key)) {
        Some(key) => Err(ConfigError::UnknownKey {
            section,
            key: key.to_string(),
        }),
        None => Ok(()),
    }
}

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

fn is_loopback(url: &Url) -> bool {
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

/// Dispatches a parsed OAuth error body to the provider's own table.
pub(crate) fn classify_error(
    provider: ProviderId,
    status: u16,
    body: &OAuthErrorBody,
) -> Option<Diagnosis> {
    match provider {
        ProviderId::Microsoft => microsoft::classify(status, body),
        ProviderId::Google => google::classify(status, body),
        ProviderId::Salesforce => salesforce::classify(status, body),
        ProviderId::Exchange => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIRECT: &str = r#""redirectUri":"https://x.chromiumapp.org/""#;

    #[test]
    fn config_reads_sections_with_defaults_and_skips_devtools() {
        let config = Config::parse(&format!(
            r#"{{{REDIRECT},"microsoft":{{"clientId":"m","mailApi":"ews","spa":false}},
               "salesforce":{{"clientId":"s","sessionTimeoutMinutes":30}},"google":null,
               "devtools":{{"clock":[1,{{"x":null}}]}}}}"#
        ))
        .unwrap();
        let microsoft = config.microsoft.as_ref().unwrap();
        assert_eq!(microsoft.tenant(), "common");
        assert_eq!(microsoft.authority(), microsoft::DEFAULT_AUTHORITY);
        assert_eq!(microsoft.mail_api(), microsoft::MailApi::Ews);
        assert!(!microsoft.spa());
        let salesforce = config.salesforce.as_ref().unwrap();
        assert_eq!(salesforce.session_timeout_minutes(), 30);
        assert_eq!(salesforce.login_hosts().len(), 2);
        assert!(config.google.is_none() && config.exchange.is_none());
        assert_eq!(
            config.configured(),
            [ProviderId::Microsoft, ProviderId::Salesforce]
        );
    }

    #[test]
    fn config_errors_name_the_key_or_section() {
        let parse = |body: &str| Config::parse(&format!("{{{REDIRECT}{body}}}")).unwrap_err();
        assert_eq!(
            parse(r#","google":{"clientId":"a","tokenURL":"https://t"}"#),
            ConfigError::UnknownKey {
                section: "google",
                key: "tokenURL".into()
            }
        );
        assert_eq!(
            parse(r#","gmail":{}"#),
            ConfigError::UnknownKey {
                section: "config",
                key: "gmail".into()
            }
        );
        assert_eq!(
            parse(r#","salesforce":{"loginHosts":[]}"#),
            ConfigError::MissingClientId(ProviderId::Salesforce)
        );
        for wrong in [
            r#","microsoft":{"clientId":"m","spa":"yes"}"#,
            r#","salesforce":{"clientId":"s","loginHosts":[{"id":"x"}]}"#,
            r#","microsoft":"m""#,
        ] {
            assert_eq!(parse(wrong), ConfigError::WrongType, "{wrong}");
        }
        assert_eq!(
            Config::parse(r#"{"google":{"clientId":"g"}}"#).unwrap_err(),
            ConfigError::WrongType
        );
        for not_an_object in ["", "[]", "\"x\"", "{", "null"] {
            assert_eq!(
                Config::parse(not_an_object).unwrap_err(),
                ConfigError::NotAnObject,
                "{not_an_object}"
            );
        }
        for error in [
            parse(r#","google":{"clientId":"a","x":1}"#),
            ConfigError::NotAnObject,
        ] {
            assert!(!error.to_string().is_empty());
        }
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
    fn provider_names_round_trip() {
        for p in ProviderId::ALL {
            assert_eq!(ProviderId::parse(p.as_str()), Some(p));
        }
        assert_eq!(ProviderId::parse("yahoo"), None);
    }
}

/// Which tenant or login host a connection uses (chosen at sign-in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Microsoft: the tenant segment (`consumers` for Outlook.com).
    pub tenant: Option<String>,
    /// Salesforce: the login host URL.
    #[serde(rename = "loginHost")]
    pub login_host: Option<String>,
}

/// The profile of `id` for a connection to `target`.
pub fn profile_for(
    config: &Config,
    id: ProviderId,
    target: &Target,
) -> Result<ProviderProfile, ConfigError> {
    let redirect = config.redirect_uri.as_str();
    match id {
        ProviderId::Microsoft => {
            let c = config
                .microsoft
                .as_ref()
                .ok_or(ConfigError::NotConfigured(id))?;
            microsoft::profile(c, redirect, target.tenant.as_deref())
        }
        ProviderId::Google => {
            let c = config
                .google
                .as_ref()
                .ok_or(ConfigError::NotConfigured(id))?;
            google::profile(c, redirect)
        }
        ProviderId::Salesforce => {
            let c = config
                .salesforce
                .as_ref()
                .ok_or(ConfigError::NotConfigured(id))?;
            salesforce::profile(c, redirect, target.login_host.as_deref())
        }
        // On-premises Exchange signs in with a password, not OAuth (a later issue).
        ProviderId::Exchange => Err(ConfigError::NotConfigured(id)),
    }
}

impl Config {
    /// Reads the host configuration from JSON text. Unknown keys are refused by name, per
    /// section: miniserde skips them and its errors carry no detail, so the keys are checked
    /// here against the fields the structs serialize. `devtools` (settings for the host's
    /// developer tools) is allowed at the top and ignored.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let outline: KeyOutline = json::from_str(text).map_err(|_| ConfigError::NotAnObject)?;
        let mut top = field_names(&<Config as Default>::default());
        top.push("devtools".into());
        check_keys("config", outline.keys(), &top)?;
        for id in ProviderId::ALL {
            let Some(keys) = outline.inner(id.as_str()) else {
                continue;
            };
            let known = section_fields(id);
            check_keys(id.as_str(), keys.iter().map(String::as_str), &known)?;
            if known.iter().any(|k| k == "clientId") && !keys.iter().any(|k| k == "clientId") {
                return Err(ConfigError::MissingClientId(id));
            }
        }
        // miniserde's errors do not say where; naming the section would take a probe
        // struct per section (0.6 KB brotli, measured), over budget for a setup error.
        json::from_str(text).map_err(|_| ConfigError::WrongType)
    }

    /// Parses and validates a configuration: every configured provider must yield a profile
    /// and the redirect URI must be https (or loopback http, or a chromiumapp.org URL).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let redirect = Url::parse(&self.redirect_uri).map_err(|_| ConfigError::InvalidUrl {
            provider: ProviderId::Microsoft,
            field: "redirectUri",
            value: self.redirect_uri.clone(),
        })?;
        if !is_secure_origin(&redirect) {
            return Err(ConfigError::InsecureUrl {
                provider: ProviderId::Microsoft,
                field: "redirectUri",
                value: self.redirect_uri.clone(),
            });
        }
        for id in self.configured() {
            if id != ProviderId::Exchange {
                profile_for(self, id, &<Target as Default>::default())?;
            }
        }
        if let Some(exchange) = &self.exchange {
            if exchange.ews_url.is_some() {
                exchange::ews_endpoint(exchange)?;
            }
        }
        Ok(())
    }

    pub fn configured(&self) -> Vec<ProviderId> {
        let mut out = Vec::new();
        if self.microsoft.is_some() {
            out.push(ProviderId::Microsoft);
        }
        if self.google.is_some() {
            out.push(ProviderId::Google);
        }
        if self.salesforce.is_some() {
            out.push(ProviderId::Salesforce);
        }
        if self.exchange.is_some() {
            out.push(ProviderId::Exchange);
        }
        out
    }
}

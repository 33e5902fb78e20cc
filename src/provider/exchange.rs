//! On-premises Exchange over EWS (Basic or NTLM with the mailbox login and password).
//!
//! Sources: "EWS reference: GetFolder operation", "Autodiscover for Exchange",
//! "Authentication and EWS in Exchange".
//!
//! There is no refresh for Basic/NTLM: a 401 means the password is wrong, changed or
//! expired, or the account is locked. It is never retried automatically (each retry counts
//! towards the lockout threshold); the user enters the password again (Refresh).
//! EWS sends no CORS headers: only the extension service worker (with host permission) can
//! call it. Full on-premises support (autodiscover, credentials vault) is a later issue;
//! this file holds the profile and the classification an EWS response needs.

use serde::Deserialize;
use url::Url;

use super::{endpoint, ApiRejection, ConfigError, ProviderId, ProviderRules, SectionId};
use crate::diagnosis::{Action, Diagnosis, OAuthErrorBody, Reason};
use crate::http::HttpResponse;
use crate::time::Timestamp;

const ID: ProviderId = ProviderId::Exchange;

pub static RULES: ProviderRules = ProviderRules {
    id: ID,
    name: "exchange",
    title: "Exchange (on-premises)",
    section: SectionId::Email,
    remembers_logins: false,
    token_errors: classify,
    api_unauthorized,
    // Sign-in with a server address and password is a later issue: the section is checked
    // (an EWS URL must be https) and the connection says it cannot sign in yet.
    profile: |config, _target| match &config.exchange {
        None => Ok(None),
        Some(exchange) => {
            if exchange.ews_url.is_some() {
                ews_endpoint(exchange)?;
            }
            Err(ConfigError::SignInNotAvailable(ID))
        }
    },
    login_hosts: |_| Vec::new(),
    not_configured: "Exchange is not configured for this installation.",
    custom_login_host_example: None,
    origins: |config| {
        config
            .exchange
            .as_ref()
            .and_then(|c| c.ews_url.as_deref())
            .and_then(super::origin_of)
            .into_iter()
            .collect()
    },
};

/// The `exchange` section of the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExchangeConfig {
    /// `https://<host>/EWS/Exchange.asmx`, when the administrator knows it.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub ews_url: Option<String>,
}

/// The EWS endpoint, https only: credentials are never sent in clear text.
pub fn ews_endpoint(config: &ExchangeConfig) -> Result<Url, ConfigError> {
    let value = config
        .ews_url
        .as_deref()
        .ok_or(ConfigError::NotConfigured(ID))?;
    endpoint(ID, "ewsUrl", value)
}

/// Classifies an EWS answer by its HTTP status ("Authentication and EWS in Exchange"; EWS
/// has no OAuth error bodies). 429 and 5xx (`ErrorServerBusy` throttling) never reach here:
/// the common rules call them transient first.
pub fn classify(status: u16, _body: Option<&OAuthErrorBody>) -> Option<Diagnosis> {
    Some(match status {
        0..=399 => return None,
        // Wrong, changed or expired password, or a locked account: ask for it again.
        401 => Diagnosis::new(Reason::CredentialsRejected, Action::Refresh).with_code("401"),
        // EWS disabled for the mailbox or the application by policy.
        403 => Diagnosis::new(Reason::BlockedByPolicy, Action::ContactAdmin).with_code("403"),
        _ => Diagnosis::new(Reason::UnknownError, Action::Refresh).with_code(status.to_string()),
    })
}

/// A 401 from EWS is never retried automatically: each retry with a wrong password counts
/// towards the account lockout threshold.
fn api_unauthorized(response: &HttpResponse, now: Timestamp) -> ApiRejection {
    ApiRejection::CredentialsRejected(RULES.classify(response, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ews_401_asks_for_the_password_and_is_not_retried() {
        let d = RULES.classify(&HttpResponse::new(401, ""), Timestamp(0));
        assert_eq!(
            (d.reason, d.action),
            (Reason::CredentialsRejected, Action::Refresh)
        );
        assert!(!d.reason.is_transient());
        assert!(matches!(
            api_unauthorized(&HttpResponse::new(401, ""), Timestamp(0)),
            ApiRejection::CredentialsRejected(d) if d.reason == Reason::CredentialsRejected
        ));
    }

    #[test]
    fn ews_503_is_transient() {
        let d = RULES.classify(&HttpResponse::new(503, "ErrorServerBusy"), Timestamp(0));
        assert_eq!(d.action, Action::RetryLater);
    }

    #[test]
    fn ews_url_must_be_https() {
        let c = ExchangeConfig {
            ews_url: Some("http://mail.contoso.com/EWS/Exchange.asmx".into()),
        };
        assert!(matches!(
            ews_endpoint(&c),
            Err(ConfigError::InsecureUrl { .. })
        ));
        let c = ExchangeConfig {
            ews_url: Some("https://mail.contoso.com/EWS/Exchange.asmx".into()),
        };
        assert!(ews_endpoint(&c).is_ok());
    }
}

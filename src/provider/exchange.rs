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

use miniserde::{Deserialize, Serialize};
use url::Url;

use super::{endpoint, ConfigError, ProviderId};
use crate::diagnosis::{Action, Diagnosis, Reason};

const ID: ProviderId = ProviderId::Exchange;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExchangeConfig {
    /// `https://<host>/EWS/Exchange.asmx`, when the administrator knows it.
    #[serde(rename = "ewsUrl")]
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

/// The autodiscover URLs tried in order, for a mailbox domain (the DNS SRV step is not
/// reachable from a browser).
pub fn autodiscover_candidates(domain: &str) -> [String; 3] {
    [
        format!("https://{domain}/autodiscover/autodiscover.xml"),
        format!("https://autodiscover.{domain}/autodiscover/autodiscover.xml"),
        format!("http://autodiscover.{domain}/autodiscover/autodiscover.xml"),
    ]
}

/// The verify call: a small `GetFolder` for the inbox.
pub const VERIFY_GET_FOLDER_INBOX: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <soap:Body>
    <m:GetFolder>
      <m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>
      <m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds>
    </m:GetFolder>
  </soap:Body>
</soap:Envelope>"#;

/// Classifies an EWS HTTP status.
pub fn classify(status: u16) -> Diagnosis {
    match status {
        401 => Diagnosis::new(Reason::CredentialsRejected, Action::Refresh).with_code("401"),
        // EWS disabled for the mailbox or the application by policy.
        403 => Diagnosis::new(Reason::BlockedByPolicy, Action::ContactAdmin).with_code("403"),
        // ErrorServerBusy throttling answers 503 (and 429 behind some proxies).
        429 => Diagnosis::transient(Reason::RateLimited),
        500..=599 => Diagnosis::transient(Reason::ProviderUnavailable),
        _ => Diagnosis::new(Reason::UnknownError, Action::RetryLater).with_code(status.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::classify as classify_response;
    use crate::http::HttpResponse;
    use crate::time::Timestamp;

    #[test]
    fn ews_401_asks_for_the_password_and_is_not_retried() {
        let d = classify_response(
            ProviderId::Exchange,
            &HttpResponse::new(401, ""),
            Timestamp(0),
        );
        assert_eq!(
            (d.reason, d.action),
            (Reason::CredentialsRejected, Action::Refresh)
        );
        assert!(!d.reason.is_transient());
    }

    #[test]
    fn ews_503_is_transient() {
        let d = classify_response(
            ProviderId::Exchange,
            &HttpResponse::new(503, "ErrorServerBusy"),
            Timestamp(0),
        );
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

    #[test]
    fn autodiscover_order() {
        let c = autodiscover_candidates("contoso.com");
        assert_eq!(c[0], "https://contoso.com/autodiscover/autodiscover.xml");
        assert_eq!(
            c[1],
            "https://autodiscover.contoso.com/autodiscover/autodiscover.xml"
        );
        assert!(c[2].starts_with("http://autodiscover."));
    }
}

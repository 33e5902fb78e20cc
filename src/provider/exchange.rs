//! On-premises Exchange over EWS (Basic or NTLM with the mailbox login and password).
//!
//! Sources: "EWS reference: GetFolder operation", "Autodiscover for Exchange",
//! "Authentication and EWS in Exchange".
//!
//! There is no refresh for Basic/NTLM: a 401 means the password is wrong, changed or
//! expired, or the account is locked. It is never retried automatically (each retry counts
//! towards the lockout threshold); the user enters the password again (Refresh).
//! EWS sends no CORS headers: only the extension service worker (with host permission) can
//! call it. This file holds the EWS profile, the verify request (`GetFolder` of the inbox),
//! what an EWS answer means (including its `WWW-Authenticate` challenge), and the reading of
//! the few XML elements the engine needs; `discover.rs` holds the autodiscover order.

use serde::Deserialize;
use url::Url;

use super::{
    endpoint, AccessLifetime, ApiRejection, ConfigError, IssuerRule, PasswordSignIn, ProviderId,
    ProviderProfile, ProviderRules, SectionId, Target,
};
use crate::diagnosis::{Action, Diagnosis, OAuthErrorBody, Reason};
use crate::http::{HttpRequest, HttpResponse};
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
    // The connection's EWS URL (kept as its target's login host), else the configured one;
    // with neither, the user gives one (or autodiscover finds it) at Change.
    profile: |config, target| match &config.exchange {
        None => Ok(None),
        Some(exchange) => {
            let configured = exchange.ews_url.as_deref();
            match target.login_host.as_deref().or(configured) {
                Some(url) => profile(config, endpoint(ID, "ewsUrl", url)?).map(Some),
                None => Err(ConfigError::SignInNotAvailable(ID)),
            }
        }
    },
    password: Some(&PasswordSignIn {
        verify_request,
        verify_outcome,
        authorization: basic_authorization,
        discover_request: autodiscover_request,
        discovered_target,
    }),
    login_hosts: |_| Vec::new(),
    not_configured: "Exchange is not configured for this installation.",
    // Any EWS 403: EWS switched off for the mailbox or the application (`classify`).
    api_forbidden: |_| classify(403, None),
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

/// The profile of a connection to the EWS endpoint `ews`: the password is the grant, so
/// there is nothing to refresh, and the API origin is the EWS host alone.
fn profile(config: &super::Config, ews: Url) -> Result<ProviderProfile, ConfigError> {
    let origin = super::origin_of(ews.as_str()).unwrap_or_default();
    Ok(ProviderProfile {
        rules: &RULES,
        title: RULES.title,
        client_id: String::new(),
        client_secret: None,
        authorize_url: ews.clone(),
        token_url: ews.clone(),
        revoke_url: None,
        redirect_uri: config.redirect_uri.clone(),
        scopes: Vec::new(),
        refresh_scopes: Vec::new(),
        issuer: IssuerRule::Exact(origin.clone()),
        requires_iss: false,
        extra_authorize_params: Vec::new(),
        change_prompts: Vec::new(),
        refresh_prompts: Vec::new(),
        access_lifetime: AccessLifetime::ExpiresIn,
        fixed_refresh_horizon: None,
        can_refresh: false,
        api_origins: vec![origin],
        login_host: Some(ews.to_string()),
        instance_domains: None,
        session_check_url: None,
    })
}

/// `Authorization: Basic` (RFC 7617 §2: user-id ":" password, UTF-8, base64). The login is
/// the address or `DOMAIN\user`, as Exchange accepts both.
fn basic_authorization(login: &str, password: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{login}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

const SOAP_TYPE: &str = "text/xml; charset=utf-8";

/// The verify call: `GetFolder` of the inbox ("EWS reference: GetFolder operation"), the
/// smallest request that proves the password opens this mailbox.
fn verify_request(ews_url: &str, login: &str, password: &str) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        url: ews_url.into(),
        headers: vec![
            ("Content-Type".into(), SOAP_TYPE.into()),
            ("Authorization".into(), basic_authorization(login, password)),
        ],
        body: concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" "#,
            r#"xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" "#,
            r#"xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Body>"#,
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"#,
            r#"<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#,
            r#"</soap:Body></soap:Envelope>"#
        )
        .into(),
    }
}

/// What an EWS answer to the verify call means. `Ok` only for `ResponseClass="Success"`.
fn verify_outcome(response: &HttpResponse, now: Timestamp) -> Result<(), Diagnosis> {
    match response.status {
        200 => {
            let class = xml::attribute(&response.body, "GetFolderResponseMessage", "ResponseClass");
            match (class.as_deref(), xml::text(&response.body, "ResponseCode")) {
                (Some("Success"), _) => Ok(()),
                // EWS answered, and refused: its code says why ("EWS reference: ResponseCode").
                (Some(_), Some(code)) => {
                    Err(Diagnosis::new(Reason::UnknownError, Action::ContactAdmin).with_code(code))
                }
                // Not an EWS answer (a login page, a proxy): it tells nothing yet.
                _ => Err(Diagnosis::transient(Reason::MalformedResponse)),
            }
        }
        401 => Err(challenge(response)),
        _ => Err(RULES.classify(response, now)),
    }
}

/// What a 401's `WWW-Authenticate` offers ("Authentication and EWS in Exchange"): Basic
/// means the password was refused; only NTLM/Negotiate means the server does not take a
/// password from a browser extension; Bearer alone is hybrid modern authentication (an
/// Entra sign-in, not a password). Several challenges arrive joined by ", " (RFC 9110
/// §11.6.1); a scheme is a token with no "=" at the start of one.
fn challenge(response: &HttpResponse) -> Diagnosis {
    let offered = response.header("www-authenticate").unwrap_or("");
    let schemes: Vec<String> = offered
        .split(',')
        .filter_map(|part| part.split_whitespace().next())
        .filter(|word| !word.contains('='))
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |s: &str| schemes.iter().any(|x| x == s);
    let (reason, action, code) = if has("basic") || schemes.is_empty() {
        (Reason::CredentialsRejected, Action::Refresh, "401")
    } else if has("bearer") && !has("ntlm") && !has("negotiate") {
        (Reason::ModernAuthRequired, Action::Change, "401 Bearer")
    } else {
        (
            Reason::PasswordSchemeUnsupported,
            Action::ContactAdmin,
            "401 NTLM/Negotiate",
        )
    };
    Diagnosis::new(reason, action).with_code(code)
}

/// Classifies an EWS answer by its HTTP status ("Authentication and EWS in Exchange"; EWS
/// has no OAuth error bodies). 429 and 5xx (`ErrorServerBusy` throttling) never reach here:
/// the common rules call them transient first.
pub fn classify(status: u16, _body: Option<&OAuthErrorBody>) -> Option<Diagnosis> {
    Some(match status {
        0..=399 => return None,
        // Wrong, changed or expired password, or a locked account: ask for it again.
        401 => Diagnosis::new(Reason::CredentialsRejected, Action::Refresh).with_code("401"),
        // EWS switched off for the mailbox, the application or the tenant (Exchange Online
        // since 2026-10-01: `EWSEnabled` false): an administrator matter.
        403 => Diagnosis::new(Reason::MailApiDisabled, Action::ContactAdmin).with_code("403"),
        _ => Diagnosis::new(Reason::UnknownError, Action::Refresh).with_code(status.to_string()),
    })
}

/// A 401 from EWS is never retried automatically: each retry with a wrong password counts
/// towards the account lockout threshold.
fn api_unauthorized(response: &HttpResponse, _now: Timestamp) -> ApiRejection {
    ApiRejection::CredentialsRejected(challenge(response))
}

/// The EWS URL in a POX Autodiscover answer ("Autodiscover XML reference: EwsUrl (POX)";
/// the first `Protocol`, `EXCH`, comes before `EXPR`), https only.
pub fn ews_url_in_autodiscover(body: &str) -> Option<String> {
    xml::text(body, "EwsUrl").filter(|u| u.starts_with("https://"))
}

/// The EWS URL an authenticated autodiscover answer names, if it may get the password.
fn discovered_target(
    response: &HttpResponse,
    email: &str,
    confirmed_host: &str,
    now: Timestamp,
) -> Result<Target, Diagnosis> {
    match response.status {
        200 => ews_url_in_autodiscover(&response.body)
            .and_then(|url| super::discover::ews_url_acceptable(&url, email, confirmed_host))
            // An answer without a usable EWS URL (a redirectAddr, another domain's server):
            // the user can type the URL under Advanced.
            .ok_or_else(|| {
                Diagnosis::new(Reason::UnknownError, Action::Change).with_code("no EwsUrl")
            }),
        401 => Err(challenge(response)),
        _ => Err(RULES.classify(response, now)),
    }
}

/// The POX Autodiscover request ("Autodiscover request (POX)"), for `email`.
pub fn autodiscover_body(email: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">"#,
            "<Request><EMailAddress>{}</EMailAddress><AcceptableResponseSchema>",
            "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a",
            "</AcceptableResponseSchema></Request></Autodiscover>"
        ),
        xml::escape(email)
    )
}

/// The authenticated Autodiscover POST that learns the EWS URL, sent only to a host the
/// user confirmed (`discover.rs`).
pub fn autodiscover_request(url: &str, email: &str, login: &str, password: &str) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        url: url.into(),
        headers: vec![
            ("Content-Type".into(), SOAP_TYPE.into()),
            ("Authorization".into(), basic_authorization(login, password)),
        ],
        body: autodiscover_body(email),
    }
}

/// Just enough XML for Autodiscover and EWS answers. Why by hand: the service worker has
/// no `DOMParser`, the design's package list has no XML crate, and the module's size budget
/// has no room for one. The engine needs three leaf values (`EwsUrl`, `ResponseCode`, the
/// `ResponseClass` attribute): elements are matched by local name (any or no prefix), the
/// first one wins, and the five predefined entities are decoded (XML 1.0 §4.6). Comments,
/// CDATA and character references are not read (Exchange does not use them there).
pub(crate) mod xml {
    /// The start tag `<[prefix:]name` followed by `>`, `/` or white space: its position
    /// just after the name.
    fn start_tag(doc: &str, name: &str) -> Option<usize> {
        let mut from = 0;
        while let Some(i) = doc[from..].find('<').map(|i| i + from) {
            from = i + 1;
            let rest = &doc[from..];
            let tag_end = rest.find(|c: char| c == '>' || c == '/' || c.is_whitespace())?;
            let qname = &rest[..tag_end];
            if qname.rsplit(':').next() == Some(name) && !qname.starts_with(['/', '?', '!']) {
                return Some(from + tag_end);
            }
        }
        None
    }

    /// The text of the first element named `name`.
    pub fn text(doc: &str, name: &str) -> Option<String> {
        let after = start_tag(doc, name)?;
        let body = &doc[after..];
        let open_end = body.find('>')?;
        if body[..open_end].ends_with('/') {
            return Some(String::new());
        }
        let body = &body[open_end + 1..];
        let text = &body[..body.find('<')?];
        Some(unescape(text.trim()))
    }

    /// An attribute of the first element named `name`.
    pub fn attribute(doc: &str, name: &str, attribute: &str) -> Option<String> {
        let after = start_tag(doc, name)?;
        let tag = &doc[after..after + doc[after..].find('>')?];
        let mut rest = tag;
        while let Some(eq) = rest.find('=') {
            let key = rest[..eq].trim();
            let value = rest[eq + 1..].trim_start();
            let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
            let end = value[1..].find(quote)? + 1;
            if key.rsplit(':').next() == Some(attribute) {
                return Some(unescape(&value[1..end]));
            }
            rest = &value[end + 1..];
        }
        None
    }

    const ENTITIES: [(&str, &str); 5] = [
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&apos;", "'"),
        ("&amp;", "&"),
    ];

    fn unescape(text: &str) -> String {
        // `&amp;` last, so `&amp;lt;` becomes `&lt;`, not `<`.
        ENTITIES
            .iter()
            .fold(text.to_string(), |t, (entity, c)| t.replace(entity, c))
    }

    pub fn escape(text: &str) -> String {
        ENTITIES
            .iter()
            .rev()
            .fold(text.to_string(), |t, (entity, c)| t.replace(c, entity))
    }
}

/// The `Url` of an answer of the JSON autodiscover endpoint (`{"Protocol":"EWS","Url":...}`,
/// "Autodiscover for Exchange": the JSON form), read by the serde_json text deserializer the
/// engine has anyway.
pub fn json_autodiscover_url(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Url")]
        url: String,
    }
    serde_json::from_str::<Answer>(body).ok().map(|a| a.url)
}

/// Exchange Online's JSON autodiscover URL for `email` (a fixed documented host).
pub fn exchange_online_autodiscover(email: &str) -> String {
    let mut url = Url::parse("https://outlook.office365.com/autodiscover/autodiscover.json/v1.0/")
        .expect("constant URL");
    url.path_segments_mut()
        .expect("https URL")
        .pop_if_empty()
        .push(email);
    url.query_pairs_mut().append_pair("Protocol", "EWS");
    url.into()
}

/// Whether an EWS URL is Exchange Online's (then the mailbox is in Microsoft 365).
pub fn is_exchange_online(ews_url: &str) -> bool {
    Url::parse(ews_url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.eq_ignore_ascii_case("outlook.office365.com"))
        })
        .unwrap_or(false)
}

/// A target for the EWS URL `url`, refused unless https (and the shape the Sync Settings
/// screen always asked for is only a hint: some servers rewrite the path).
pub fn target_for(url: &str) -> Result<Target, ConfigError> {
    let url = endpoint(ID, "ewsUrl", url.trim())?;
    Ok(Target {
        tenant: None,
        login_host: Some(url.to_string()),
    })
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
    fn the_xml_reader_finds_leaf_values_by_local_name() {
        let doc = r#"<?xml version="1.0"?><s:Envelope xmlns:s="x"><s:Body>
            <m:GetFolderResponseMessage ResponseClass = 'Success' m:Other="a&amp;b">
            <m:ResponseCodeX>no</m:ResponseCodeX><m:ResponseCode>NoError</m:ResponseCode>
            <Empty/><EwsUrl> https://mail.contoso.test/EWS/Exchange.asmx?a=1&amp;b=&lt;2&gt; </EwsUrl>
            </m:GetFolderResponseMessage></s:Body></s:Envelope>"#;
        assert_eq!(xml::text(doc, "ResponseCode").as_deref(), Some("NoError"));
        assert_eq!(
            xml::text(doc, "EwsUrl").as_deref(),
            Some("https://mail.contoso.test/EWS/Exchange.asmx?a=1&b=<2>")
        );
        assert_eq!(xml::text(doc, "Empty").as_deref(), Some(""));
        assert_eq!(xml::text(doc, "Missing"), None);
        assert_eq!(
            xml::text(doc, "Response"),
            None,
            "no prefix match of a longer name"
        );
        assert_eq!(
            xml::attribute(doc, "GetFolderResponseMessage", "ResponseClass").as_deref(),
            Some("Success")
        );
        assert_eq!(
            xml::attribute(doc, "GetFolderResponseMessage", "Other").as_deref(),
            Some("a&b")
        );
        assert_eq!(
            xml::attribute(doc, "GetFolderResponseMessage", "Nope"),
            None
        );
        for broken in ["", "<", "<EwsUrl", "<EwsUrl>text", "<a b='1>"] {
            assert_eq!(xml::text(broken, "EwsUrl"), None, "{broken}");
            assert_eq!(xml::attribute(broken, "a", "b"), None, "{broken}");
        }
        assert_eq!(xml::escape("a&<b>\"'"), "a&amp;&lt;b&gt;&quot;&apos;");
        assert_eq!(xml::text("<a>&amp;lt;</a>", "a").as_deref(), Some("&lt;"));
    }

    fn get_folder_answer(class: &str, code: &str) -> HttpResponse {
        HttpResponse::new(
            200,
            format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo MajorVersion="15"/></s:Header><s:Body><m:GetFolderResponse><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="{class}"><m:ResponseCode>{code}</m:ResponseCode></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>"#
            ),
        )
    }

    #[test]
    fn the_verify_call_is_get_folder_inbox_with_basic_auth() {
        let r = verify_request(
            "https://mail.contoso.test/EWS/Exchange.asmx",
            "CONTOSO\\alex",
            "pä:ss",
        );
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
        // RFC 7617 §2: base64 of the UTF-8 "user-id:password".
        use base64::Engine as _;
        let encoded = r
            .header("authorization")
            .unwrap()
            .strip_prefix("Basic ")
            .unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "CONTOSO\\alex:pä:ss");
        assert!(r.body.contains(r#"<t:DistinguishedFolderId Id="inbox"/>"#));
        assert!(r.body.contains("<m:GetFolder>"));
    }

    #[test]
    fn the_verify_answer_is_read_for_what_it_says() {
        let at = Timestamp(0);
        assert_eq!(
            verify_outcome(&get_folder_answer("Success", "NoError"), at),
            Ok(())
        );
        let refused =
            verify_outcome(&get_folder_answer("Error", "ErrorAccessDenied"), at).unwrap_err();
        assert_eq!(refused.provider_code.as_deref(), Some("ErrorAccessDenied"));
        assert_eq!(refused.action, Action::ContactAdmin);
        let page = verify_outcome(&HttpResponse::new(200, "<html>login</html>"), at).unwrap_err();
        assert!(page.reason.is_transient());
        let cases = [
            ("Basic realm=\"mail.contoso.test\", Negotiate, NTLM", Reason::CredentialsRejected, Action::Refresh),
            ("", Reason::CredentialsRejected, Action::Refresh),
            ("Negotiate, NTLM", Reason::PasswordSchemeUnsupported, Action::ContactAdmin),
            ("NTLM", Reason::PasswordSchemeUnsupported, Action::ContactAdmin),
            ("Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", trusted_issuers=\"a,b\"", Reason::ModernAuthRequired, Action::Change),
        ];
        for (offered, reason, action) in cases {
            let mut response = HttpResponse::new(401, "");
            if !offered.is_empty() {
                response = response.with_header("WWW-Authenticate", offered);
            }
            let d = verify_outcome(&response, at).unwrap_err();
            assert_eq!((d.reason, d.action), (reason, action), "{offered}");
            assert!(!d.drop_refresh_token);
            assert!(
                matches!(api_unauthorized(&response, at), ApiRejection::CredentialsRejected(x) if x == d)
            );
        }
        let disabled = verify_outcome(&HttpResponse::new(403, ""), at).unwrap_err();
        assert_eq!(
            (disabled.reason, disabled.action),
            (Reason::MailApiDisabled, Action::ContactAdmin)
        );
        for status in [500, 503, 429] {
            assert!(verify_outcome(&HttpResponse::new(status, ""), at)
                .unwrap_err()
                .reason
                .is_transient());
        }
    }

    #[test]
    fn autodiscover_answers_give_an_https_ews_url_on_a_related_host() {
        let answer = |url: &str| {
            HttpResponse::new(
                200,
                format!(
                    r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><Account><Protocol><Type>EXCH</Type><EwsUrl>{url}</EwsUrl></Protocol></Account></Response></Autodiscover>"#
                ),
            )
        };
        let at = Timestamp(0);
        let found =
            |url: &str, host: &str| discovered_target(&answer(url), "alex@contoso.test", host, at);
        assert_eq!(
            found(
                "https://mail.contoso.test/EWS/Exchange.asmx",
                "autodiscover.contoso.test"
            )
            .unwrap()
            .login_host
            .as_deref(),
            Some("https://mail.contoso.test/EWS/Exchange.asmx")
        );
        // The host the user confirmed, even on another domain (they said it is theirs).
        assert!(found("https://mx.hoster.test/EWS/Exchange.asmx", "mx.hoster.test").is_ok());
        for refused in [
            "http://mail.contoso.test/EWS/Exchange.asmx",
            "https://evil.test/EWS/Exchange.asmx",
            "https://contoso.test.evil.test/EWS/Exchange.asmx",
        ] {
            assert!(
                found(refused, "autodiscover.contoso.test").is_err(),
                "{refused}"
            );
        }
        let unauthorized =
            HttpResponse::new(401, "").with_header("WWW-Authenticate", "Basic realm=\"x\"");
        assert_eq!(
            discovered_target(&unauthorized, "alex@contoso.test", "x", at)
                .unwrap_err()
                .reason,
            Reason::CredentialsRejected
        );
        let request = autodiscover_request(
            "https://autodiscover.contoso.test/autodiscover/autodiscover.xml",
            "a<b@contoso.test",
            "alex",
            "pw",
        );
        assert!(request
            .body
            .contains("<EMailAddress>a&lt;b@contoso.test</EMailAddress>"));
        assert!(request
            .header("authorization")
            .unwrap()
            .starts_with("Basic "));
    }

    #[test]
    fn exchange_online_is_recognised_by_its_autodiscover_answer() {
        assert_eq!(
            exchange_online_autodiscover("megan@m365.test"),
            "https://outlook.office365.com/autodiscover/autodiscover.json/v1.0/megan@m365.test?Protocol=EWS"
        );
        assert!(is_exchange_online(
            "https://outlook.office365.com/EWS/Exchange.asmx"
        ));
        assert!(!is_exchange_online(
            "https://outlook.office365.com.evil.test/EWS/Exchange.asmx"
        ));
        assert!(!is_exchange_online(
            "https://mail.contoso.test/EWS/Exchange.asmx"
        ));
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

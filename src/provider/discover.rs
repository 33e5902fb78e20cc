//! "I'm not sure": which service holds a mailbox, found from the address alone, sans-I/O.
//!
//! The order (providers.md, "On-premises Exchange"; "Autodiscover for Exchange"):
//! 1. Exchange Online's JSON autodiscover (`outlook.office365.com`): an answer naming
//!    Exchange Online means Microsoft 365 (sign in with Microsoft, `login_hint`);
//! 2. Google by domain (`gmail.com`, `googlemail.com`): MX records are not reachable from a
//!    browser, so this is an assumption and the finding says so;
//! 3. on-premises POX autodiscover: `https://<domain>/autodiscover/autodiscover.xml`, then
//!    `https://autodiscover.<domain>/...`, then an unauthenticated GET of
//!    `http://autodiscover.<domain>/...` whose one redirect counts only if it leads to https
//!    (DNS SRV, the last step of the documented order, cannot be asked from a browser).
//!
//! Probes carry no credentials. A finding is shown to the user, who confirms it before any
//! credential is sent (the host is part of what they confirm).

use serde::Serialize;
use url::Url;

use super::exchange;
use super::{MailService, Target};
use crate::http::{HttpRequest, HttpResponse};

/// What the lookup found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The service to connect (`not_sure` when nothing was found).
    pub mail_service: MailService,
    pub email: String,
    /// What the user is shown before confirming.
    pub summary: String,
    /// On-premises: the host the credentials would go to, for the user to confirm.
    pub host: Option<String>,
    /// On-premises: the autodiscover URL to ask (with credentials, after confirmation).
    pub autodiscover_url: Option<String>,
    /// The EWS URL, when the lookup already names it (a hybrid mailbox).
    pub ews_url: Option<String>,
    /// Found from the address's domain alone, not from an answer.
    pub assumed: bool,
}

/// One probe's answer: the response, and the URL it came from after the browser followed
/// any redirect (`Response.url`).
#[derive(Debug, Clone)]
pub struct ProbeAnswer {
    pub response: HttpResponse,
    pub final_url: String,
}

/// What to do next: send this probe (and feed its answer to `Discovery::answer`), or show
/// the finding.
#[derive(Debug, Clone)]
pub enum Step {
    Probe(HttpRequest),
    Found(Finding),
}

/// A lookup in progress: `first()`, then `answer()` each probe, until `Step::Found`.
#[derive(Debug, Clone)]
pub struct Discovery {
    email: String,
    domain: String,
    step: usize,
    /// Why an answer was not taken (an http redirect), said if nothing else is found.
    refused: Option<String>,
}

/// The address is not `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnAddress;

const GOOGLE_DOMAINS: [&str; 2] = ["gmail.com", "googlemail.com"];
const AUTODISCOVER_PATH: &str = "/autodiscover/autodiscover.xml";

impl Discovery {
    pub fn start(email: &str) -> Result<Discovery, NotAnAddress> {
        let email = email.trim();
        let (local, domain) = email.rsplit_once('@').ok_or(NotAnAddress)?;
        // The domain must be a plain host name: it becomes part of the URLs below.
        let valid = !local.is_empty()
            && Url::parse(&format!("https://{domain}/"))
                .is_ok_and(|u| u.host_str() == Some(&domain.to_ascii_lowercase()));
        if !valid || domain.contains(':') {
            return Err(NotAnAddress);
        }
        Ok(Discovery {
            email: email.to_string(),
            domain: domain.to_ascii_lowercase(),
            step: 0,
            refused: None,
        })
    }

    /// The first probe.
    pub fn first(&self) -> Step {
        self.next()
    }

    /// Feeds the answer to the last probe (`None`: no answer at all, a network failure).
    pub fn answer(&mut self, answer: Option<ProbeAnswer>) -> Step {
        match self.take(answer) {
            Some(found) => Step::Found(found),
            None => self.next(),
        }
    }

    fn next(&self) -> Step {
        if self.step == 1 {
            if let Some(found) = self.google_by_domain() {
                return Step::Found(found);
            }
        }
        match self.next_request() {
            Some(request) => Step::Probe(request),
            None => Step::Found(self.not_found()),
        }
    }

    /// The next probe, or `None` when the lookup is over without a finding.
    fn next_request(&self) -> Option<HttpRequest> {
        let d = &self.domain;
        let (method, url) = match self.step {
            0 => ("GET", exchange::exchange_online_autodiscover(&self.email)),
            1 => ("POST", format!("https://{d}{AUTODISCOVER_PATH}")),
            2 => (
                "POST",
                format!("https://autodiscover.{d}{AUTODISCOVER_PATH}"),
            ),
            3 => ("GET", format!("http://autodiscover.{d}{AUTODISCOVER_PATH}")),
            _ => return None,
        };
        let body = if method == "POST" {
            exchange::autodiscover_body(&self.email)
        } else {
            String::new()
        };
        Some(HttpRequest {
            method: method.into(),
            url,
            headers: vec![("Content-Type".into(), "text/xml; charset=utf-8".into())],
            body,
        })
    }

    /// The finding in an answer, or `None` to go on with the next probe.
    fn take(&mut self, answer: Option<ProbeAnswer>) -> Option<Finding> {
        let step = self.step;
        self.step += 1;
        let asked = self.next_request_url(step);
        let answer = answer?;
        let status = answer.response.status;
        match step {
            0 => {
                let url = exchange::json_autodiscover_url(&answer.response.body)
                    .filter(|_| status == 200)?;
                if exchange::is_exchange_online(&url) {
                    return Some(self.finding(
                        MailService::Microsoft365,
                        "Your mailbox is in Microsoft 365 (Exchange Online): you sign in with Microsoft.".into(),
                    ));
                }
                let mut f = self.on_premises(&url, false)?;
                f.autodiscover_url = None;
                f.ews_url = Some(url);
                Some(f)
            }
            // A server that answers POX autodiscover asks for credentials (401) or answers
            // (200). A redirect followed by the browser is not taken from these steps.
            1 | 2 if answer.final_url == asked && (status == 401 || status == 200) => {
                self.on_premises(&asked, false)
            }
            3 if answer.final_url != asked => {
                if answer.final_url.starts_with("https://") {
                    self.on_premises(&answer.final_url, true)
                } else {
                    self.refused = Some(format!(
                        "http://autodiscover.{} redirected to {}, which is not https: it was not followed.",
                        self.domain, answer.final_url
                    ));
                    None
                }
            }
            _ => None,
        }
    }

    fn next_request_url(&self, step: usize) -> String {
        let probe = Discovery {
            step,
            ..self.clone()
        };
        probe.next_request().map(|r| r.url).unwrap_or_default()
    }

    /// After Exchange Online said nothing: a Google address by its domain.
    fn google_by_domain(&self) -> Option<Finding> {
        GOOGLE_DOMAINS.contains(&self.domain.as_str()).then(|| {
            let mut f = self.finding(
                MailService::Gmail,
                format!("{} addresses are Gmail (assumed from the domain: a browser cannot look up mail servers).", self.domain),
            );
            f.assumed = true;
            f
        })
    }

    /// Nothing found: what was tried and what to do.
    fn not_found(&self) -> Finding {
        let mut summary = format!(
            "No mail service was found for {}. Redirects to http or to a server outside the domain are not followed. Choose the service yourself, or enter the EWS URL under Advanced.",
            self.domain
        );
        if let Some(refused) = &self.refused {
            summary = format!("{refused} {summary}");
        }
        self.finding(MailService::NotSure, summary)
    }

    fn on_premises(&self, url: &str, redirected: bool) -> Option<Finding> {
        let host = Url::parse(url).ok()?.host_str()?.to_string();
        let how = if redirected {
            format!(
                "http://autodiscover.{} redirected to {host}. Is {host} your company's mail server?",
                self.domain
            )
        } else {
            format!("Your company's Exchange server {host} answered. Is this your mail server?")
        };
        let mut f = self.finding(MailService::Exchange, how);
        f.host = Some(host);
        f.autodiscover_url = Some(url.to_string());
        Some(f)
    }

    fn finding(&self, mail_service: MailService, summary: String) -> Finding {
        Finding {
            mail_service,
            email: self.email.clone(),
            summary,
            host: None,
            autodiscover_url: None,
            ews_url: None,
            assumed: false,
        }
    }
}

/// The origins a lookup for `email` may reach (`discoveryOrigins`), as host-permission
/// origins; a redirect off the domain stays out of reach until the user confirms it.
pub fn origins(email: &str) -> Vec<String> {
    let Ok(lookup) = Discovery::start(email) else {
        return Vec::new();
    };
    let online = super::origin_of(&exchange::exchange_online_autodiscover(&lookup.email));
    let d = lookup.domain;
    online
        .into_iter()
        .chain([format!("https://*.{d}"), format!("http://autodiscover.{d}")])
        .collect()
}

/// Whether the EWS URL an authenticated autodiscover answer named may receive the
/// credentials: https, on the address's domain (or below it) or on the host the user
/// confirmed. Anything else is refused: the user types it under Advanced if it is right.
pub fn ews_url_acceptable(ews_url: &str, email: &str, confirmed_host: &str) -> Option<Target> {
    let url = Url::parse(ews_url).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let domain = email.rsplit_once('@')?.1.to_ascii_lowercase();
    let related = host == confirmed_host.to_ascii_lowercase()
        || host == domain
        || host.ends_with(&format!(".{domain}"));
    (url.scheme() == "https" && related).then(|| exchange::target_for(ews_url).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(step: &Step) -> &HttpRequest {
        match step {
            Step::Probe(r) => r,
            Step::Found(f) => panic!("expected a probe, found {f:?}"),
        }
    }

    fn found(step: Step) -> Finding {
        match step {
            Step::Found(f) => f,
            Step::Probe(r) => panic!("expected a finding, probe {}", r.url),
        }
    }

    fn answer(status: u16, final_url: &str) -> Option<ProbeAnswer> {
        Some(ProbeAnswer {
            response: HttpResponse::new(status, ""),
            final_url: final_url.into(),
        })
    }

    /// Runs the lookup, answering each probe with `reply(url)`; returns the URLs asked.
    fn run(
        email: &str,
        reply: impl Fn(&HttpRequest) -> Option<ProbeAnswer>,
    ) -> (Finding, Vec<String>) {
        let mut d = Discovery::start(email).unwrap();
        let mut step = d.first();
        let mut asked = Vec::new();
        while let Step::Probe(request) = &step {
            // Probes never carry credentials.
            assert!(request.header("authorization").is_none());
            asked.push(format!("{} {}", request.method, request.url));
            let a = reply(request);
            step = d.answer(a);
        }
        (found(step), asked)
    }

    #[test]
    fn exchange_online_is_asked_first_and_means_microsoft_365() {
        let (f, asked) = run("megan@m365.test", |r| {
            Some(ProbeAnswer {
                response: HttpResponse::new(
                    200,
                    r#"{"Protocol":"EWS","Url":"https://outlook.office365.com/EWS/Exchange.asmx"}"#,
                ),
                final_url: r.url.clone(),
            })
        });
        assert_eq!(asked, ["GET https://outlook.office365.com/autodiscover/autodiscover.json/v1.0/megan@m365.test?Protocol=EWS"]);
        assert_eq!(f.mail_service, MailService::Microsoft365);
        assert_eq!(f.email, "megan@m365.test");
        assert!(!f.assumed && f.host.is_none());
    }

    #[test]
    fn gmail_is_assumed_by_domain_after_exchange_online() {
        let (f, asked) = run("kim@gmail.com", |r| answer(404, &r.url));
        assert_eq!(asked.len(), 1);
        assert_eq!(f.mail_service, MailService::Gmail);
        assert!(f.assumed);
        assert!(f.summary.contains("assumed"), "{}", f.summary);
    }

    #[test]
    fn on_premises_autodiscover_follows_the_documented_order() {
        // contoso.test: the domain itself does not answer, autodiscover.<domain> asks for
        // credentials.
        let (f, asked) = run("alex@contoso.test", |r| {
            if r.url.starts_with("https://autodiscover.contoso.test/") {
                answer(401, &r.url)
            } else if r.url.starts_with("https://contoso.test/") {
                answer(404, &r.url)
            } else {
                None
            }
        });
        assert_eq!(
            asked[1..],
            [
                "POST https://contoso.test/autodiscover/autodiscover.xml",
                "POST https://autodiscover.contoso.test/autodiscover/autodiscover.xml"
            ]
        );
        assert_eq!(f.mail_service, MailService::Exchange);
        assert_eq!(f.host.as_deref(), Some("autodiscover.contoso.test"));
        assert_eq!(
            f.autodiscover_url.as_deref(),
            Some("https://autodiscover.contoso.test/autodiscover/autodiscover.xml")
        );
    }

    #[test]
    fn the_http_step_counts_only_a_redirect_to_https_and_says_where() {
        let lookup = |target: &'static str| {
            run("sam@fabrikam.test", move |r| {
                r.url.starts_with("http://").then(|| ProbeAnswer {
                    response: HttpResponse::new(401, ""),
                    final_url: target.into(),
                })
            })
        };
        let (f, asked) = lookup("https://mail.fabrikam.test/autodiscover/autodiscover.xml");
        assert_eq!(
            asked.last().unwrap(),
            "GET http://autodiscover.fabrikam.test/autodiscover/autodiscover.xml"
        );
        assert_eq!(f.mail_service, MailService::Exchange);
        assert_eq!(f.host.as_deref(), Some("mail.fabrikam.test"));
        assert!(f.summary.contains("redirected to mail.fabrikam.test"));
        // To http: refused, and the finding says why.
        let (f, _) = lookup("http://mail.fabrikam.test/autodiscover/autodiscover.xml");
        assert_eq!(f.mail_service, MailService::NotSure);
        assert!(f.summary.contains("not https"), "{}", f.summary);
        assert!(f.host.is_none() && f.autodiscover_url.is_none());
        // No redirect at all: an http answer is never taken.
        let (f, _) = lookup("http://autodiscover.fabrikam.test/autodiscover/autodiscover.xml");
        assert_eq!(f.mail_service, MailService::NotSure);
    }

    #[test]
    fn an_https_step_that_was_redirected_is_not_taken() {
        let (f, _) = run("alex@contoso.test", |r| {
            r.url
                .starts_with("https://autodiscover.")
                .then(|| ProbeAnswer {
                    response: HttpResponse::new(401, ""),
                    final_url: "https://elsewhere.test/autodiscover/autodiscover.xml".into(),
                })
        });
        assert_eq!(f.mail_service, MailService::NotSure);
    }

    #[test]
    fn a_hybrid_mailbox_names_its_on_premises_server() {
        let (f, _) = run("lee@hybrid.test", |r| {
            Some(ProbeAnswer {
                response: HttpResponse::new(
                    200,
                    r#"{"Protocol":"EWS","Url":"https://mail.hybrid.test/EWS/Exchange.asmx"}"#,
                ),
                final_url: r.url.clone(),
            })
        });
        assert_eq!(f.mail_service, MailService::Exchange);
        assert_eq!(
            f.ews_url.as_deref(),
            Some("https://mail.hybrid.test/EWS/Exchange.asmx")
        );
        assert_eq!(f.host.as_deref(), Some("mail.hybrid.test"));
    }

    #[test]
    fn the_lookup_names_the_origins_it_may_reach() {
        assert_eq!(
            origins("sam@Fabrikam.test"),
            [
                "https://outlook.office365.com",
                "https://*.fabrikam.test",
                "http://autodiscover.fabrikam.test"
            ]
        );
        assert!(origins("not an address").is_empty());
    }

    #[test]
    fn addresses_that_would_bend_the_urls_are_refused() {
        for bad in [
            "",
            "alex",
            "@contoso.test",
            "a@",
            "a@b/c",
            "a@b:444",
            "a@b?x",
            "a@exa mple.test",
            "a@[::1]",
        ] {
            assert_eq!(Discovery::start(bad).unwrap_err(), NotAnAddress, "{bad}");
        }
        let mut d = Discovery::start(" Alex@Contoso.TEST ").unwrap();
        assert_eq!(probe(&d.first()).method, "GET");
        let next = d.answer(None);
        assert_eq!(
            probe(&next).url,
            "https://contoso.test/autodiscover/autodiscover.xml"
        );
        assert!(probe(&next)
            .body
            .contains("<EMailAddress>Alex@Contoso.TEST</EMailAddress>"));
    }
}

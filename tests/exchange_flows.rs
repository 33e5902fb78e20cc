//! On-premises Exchange (password sign-in over EWS) and the mail-service chooser, through
//! the engine as the hosts drive it. Sans-I/O: every request is checked as data.

use sidebar_auth::connection::{Command, Context, Credentials, Input, OperationError};
use sidebar_auth::diagnosis::{Action, Reason};
use sidebar_auth::engine::Engine;
use sidebar_auth::http::{HttpRequest, HttpResponse};
use sidebar_auth::provider::{Config, MailService, ProviderId, Target};
use sidebar_auth::random::SeededRandom;
use sidebar_auth::time::{Timestamp, HOUR};
use sidebar_auth::view::{dashboard, ConnectionView, Status};

const EWS: &str = "https://mail.contoso.test/EWS/Exchange.asmx";
const PASSWORD: &str = "Exchange-Pass-1";

fn config() -> Config {
    Config::from_json(
        &serde_json::json!({
            "redirectUri": "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/",
            "microsoft": {"clientId": "ms-client"},
            "google": {"clientId": "g-client", "clientSecret": "GOCSPX-test"},
            "exchange": {}
        })
        .to_string(),
    )
    .unwrap()
}

struct Harness {
    engine: Engine,
    now: Timestamp,
    random: SeededRandom,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            engine: Engine::new(config()).unwrap(),
            now: Timestamp(1_764_000_000_000),
            random: SeededRandom(7),
        }
    }

    fn feed(&mut self, service: ProviderId, input: Input) -> Vec<Command> {
        let mut ctx = Context {
            now: self.now,
            random: &mut self.random,
            silent_sign_in: true,
        };
        let commands = self.engine.handle(service, input, &mut ctx);
        if commands.contains(&Command::Persist) {
            self.engine.mark_saved(Some(service));
        }
        commands
    }

    fn card(&self, service: ProviderId) -> ConnectionView {
        dashboard(&self.engine, self.now)
            .sections
            .into_iter()
            .flat_map(|s| s.connections)
            .find(|c| c.service == service)
            .expect("card shown")
    }

    /// Types `login`/`password` for `ews` (None: a Refresh) and answers the verify call.
    fn submit(&mut self, credentials: Credentials, answer: HttpResponse) -> Vec<Command> {
        let commands = self.feed(ProviderId::Exchange, Input::Credentials(credentials));
        let request = request(&commands).expect("a verify call");
        assert_eq!(request.url, EWS);
        self.feed(ProviderId::Exchange, Input::TokenResponse(Ok(answer)))
    }

    fn authorization(&self) -> Option<String> {
        self.engine
            .connection(ProviderId::Exchange)
            .unwrap()
            .api_authorization(self.now)
    }
}

fn typed(login: &str, password: &str, ews: Option<&str>) -> Credentials {
    Credentials {
        login: login.into(),
        password: password.into(),
        email: None,
        target: Target {
            tenant: None,
            login_host: ews.map(String::from),
        },
        discover: None,
    }
}

fn request(commands: &[Command]) -> Option<HttpRequest> {
    commands.iter().find_map(|c| match c {
        Command::SendTokenRequest(r) => Some(r.clone()),
        _ => None,
    })
}

fn completion(commands: &[Command]) -> Option<Result<(), OperationError>> {
    commands.iter().find_map(|c| match c {
        Command::Complete(r) => Some(r.clone()),
        _ => None,
    })
}

fn failure_reason(commands: &[Command]) -> Reason {
    match completion(commands) {
        Some(Err(OperationError::TokenRequest(d) | OperationError::NeedsAttention(d))) => d.reason,
        other => panic!("expected a diagnosed failure, got {other:?}"),
    }
}

fn inbox_ok() -> HttpResponse {
    HttpResponse::new(
        200,
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>"#,
    )
}

fn basic_401() -> HttpResponse {
    HttpResponse::new(401, "").with_header(
        "WWW-Authenticate",
        "Basic realm=\"mail.contoso.test\", Negotiate, NTLM",
    )
}

fn connect_exchange(h: &mut Harness) {
    let commands = h.submit(typed("CONTOSO\\alex", PASSWORD, Some(EWS)), inbox_ok());
    assert_eq!(
        commands.first(),
        Some(&Command::Persist),
        "stored before done"
    );
    assert_eq!(completion(&commands), Some(Ok(())));
}

#[test]
fn a_typed_ews_url_and_password_connect_after_get_folder_succeeds() {
    let mut h = Harness::new();
    // Change → "Microsoft Exchange (on-premises)".
    let (service, target) = h.engine.change_to(MailService::Exchange).unwrap();
    assert_eq!((service, target), (ProviderId::Exchange, Target::default()));
    assert!(
        h.card(ProviderId::Exchange).can_change,
        "Change offered before any server is known"
    );
    let commands = h.feed(
        ProviderId::Exchange,
        Input::Credentials(typed("CONTOSO\\alex", PASSWORD, Some(EWS))),
    );
    let verify = request(&commands).unwrap();
    assert!(verify
        .header("authorization")
        .unwrap()
        .starts_with("Basic "));
    assert!(verify.body.contains("DistinguishedFolderId Id=\"inbox\""));
    assert!(
        !commands.contains(&Command::Persist),
        "nothing kept before the server took it"
    );
    assert_eq!(h.card(ProviderId::Exchange).status, Status::SigningIn);
    let commands = h.feed(ProviderId::Exchange, Input::TokenResponse(Ok(inbox_ok())));
    assert_eq!(commands, [Command::Persist, Command::Complete(Ok(()))]);
    let card = h.card(ProviderId::Exchange);
    assert_eq!(card.status, Status::Connected);
    assert_eq!(card.account.as_deref(), Some("CONTOSO\\alex"));
    assert_eq!(card.login_host.as_deref(), Some(EWS));
    assert!(card.asks_password && card.can_refresh && card.can_change);
    assert_eq!(
        h.engine.mail_service(),
        MailService::Exchange,
        "the service follows the connection"
    );
    assert!(h.engine.check_api_url(ProviderId::Exchange, EWS).is_ok());
    assert!(h
        .engine
        .check_api_url(ProviderId::Exchange, "https://evil.test/EWS/Exchange.asmx")
        .is_err());
    // Nothing to renew: no wake-up, a tick sends nothing, an access-token ask is answered.
    assert_eq!(h.engine.next_wake(), None);
    h.now = h.now.plus(48 * HOUR);
    assert!(h.feed(ProviderId::Exchange, Input::Tick).is_empty());
    assert_eq!(
        h.feed(ProviderId::Exchange, Input::AccessTokenNeeded),
        [Command::Complete(Ok(()))]
    );
    assert!(h.authorization().unwrap().starts_with("Basic "));
}

#[test]
fn the_password_never_leaves_the_vault() {
    let mut h = Harness::new();
    connect_exchange(&mut h);
    let basic = h.authorization().unwrap();
    let debug = serde_json::to_string(&h.engine.debug_state(h.now)).unwrap();
    let events = serde_json::to_string(&h.engine.events().collect::<Vec<_>>()).unwrap();
    let view = serde_json::to_string(&dashboard(&h.engine, h.now)).unwrap();
    for text in [&debug, &events, &view] {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains(basic.trim_start_matches("Basic ")), "{text}");
    }
    let typed = format!("{:?}", typed("alex", PASSWORD, Some(EWS)));
    assert!(!typed.contains(PASSWORD), "{typed}");
    // The vault holds it (the hosts encrypt the vault text: AES-GCM, src/web/vault_crypto.rs).
    assert!(h.engine.vault_text().contains(PASSWORD));
}

#[test]
fn a_refused_password_is_not_kept_and_a_failed_change_changes_nothing() {
    let mut h = Harness::new();
    h.engine.change_to(MailService::Exchange).unwrap();
    let commands = h.submit(typed("alex@contoso.test", "wrong", Some(EWS)), basic_401());
    assert_eq!(failure_reason(&commands), Reason::CredentialsRejected);
    assert!(!commands.contains(&Command::Persist));
    assert_eq!(h.card(ProviderId::Exchange).status, Status::Disconnected);
    assert!(h.card(ProviderId::Exchange).reason_text.is_some());
    // Connected, then a wrong password at Change: still connected with the old one.
    connect_exchange(&mut h);
    let before = h.authorization();
    let commands = h.submit(typed("alex@contoso.test", "wrong", Some(EWS)), basic_401());
    assert_eq!(failure_reason(&commands), Reason::CredentialsRejected);
    assert_eq!(h.authorization(), before);
    assert_eq!(h.card(ProviderId::Exchange).status, Status::Connected);
}

#[test]
fn a_password_changed_on_the_server_needs_the_user_and_is_never_retried() {
    let mut h = Harness::new();
    connect_exchange(&mut h);
    // The sidebar's next EWS call gets 401.
    let commands = h.feed(ProviderId::Exchange, Input::ApiUnauthorized(basic_401()));
    assert!(request(&commands).is_none(), "no second attempt");
    assert_eq!(failure_reason(&commands), Reason::CredentialsRejected);
    let card = h.card(ProviderId::Exchange);
    assert_eq!(card.status, Status::NeedsAttention);
    assert_eq!(card.status_text, "Password rejected");
    assert_eq!(card.action, Some(Action::Refresh));
    assert!(card.can_refresh && card.can_change);
    // Nothing sends the old password again by itself: no authorization, no request.
    assert_eq!(h.authorization(), None);
    for input in [
        Input::AccessTokenNeeded,
        Input::Tick,
        Input::Online,
        Input::RetryNow,
    ] {
        let commands = h.feed(ProviderId::Exchange, input);
        assert!(request(&commands).is_none(), "{commands:?}");
    }
    // Refresh: the user types the new password only; same login and server.
    let commands = h.feed(
        ProviderId::Exchange,
        Input::Credentials(typed("", "Exchange-Pass-9", None)),
    );
    let verify = request(&commands).unwrap();
    assert_eq!(verify.url, EWS);
    let commands = h.feed(ProviderId::Exchange, Input::TokenResponse(Ok(inbox_ok())));
    assert_eq!(completion(&commands), Some(Ok(())));
    assert_eq!(h.card(ProviderId::Exchange).status, Status::Connected);
    assert_eq!(
        h.card(ProviderId::Exchange).account.as_deref(),
        Some("CONTOSO\\alex")
    );
    assert_eq!(h.authorization().as_deref(), verify.header("authorization"));
}

#[test]
fn network_failures_and_server_refusals_are_told_apart() {
    use sidebar_auth::connection::NetworkFailure;
    let mut h = Harness::new();
    let commands = h.feed(
        ProviderId::Exchange,
        Input::Credentials(typed("alex", PASSWORD, Some(EWS))),
    );
    assert!(request(&commands).is_some());
    let commands = h.feed(
        ProviderId::Exchange,
        Input::TokenResponse(Err(NetworkFailure::Unreachable("dns".into()))),
    );
    assert_eq!(failure_reason(&commands), Reason::NetworkUnavailable);
    let cases = [
        ("Negotiate, NTLM", Reason::PasswordSchemeUnsupported),
        (
            "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\"",
            Reason::ModernAuthRequired,
        ),
    ];
    for (offered, reason) in cases {
        let answer = HttpResponse::new(401, "").with_header("WWW-Authenticate", offered);
        assert_eq!(
            failure_reason(&h.submit(typed("alex", PASSWORD, Some(EWS)), answer)),
            reason
        );
    }
    let disabled = h.submit(
        typed("alex", PASSWORD, Some(EWS)),
        HttpResponse::new(403, ""),
    );
    assert_eq!(failure_reason(&disabled), Reason::MailApiDisabled);
}

#[test]
fn credentials_never_go_over_http_nor_to_an_unconfirmed_server() {
    let mut h = Harness::new();
    for url in ["http://mail.contoso.test/EWS/Exchange.asmx", "not a url"] {
        let commands = h.feed(
            ProviderId::Exchange,
            Input::Credentials(typed("alex", PASSWORD, Some(url))),
        );
        assert!(request(&commands).is_none(), "{url}");
        assert!(matches!(
            completion(&commands),
            Some(Err(OperationError::Config(_)))
        ));
    }
    // Autodiscover only to https; no server at all is refused, not guessed.
    let mut c = typed("alex@contoso.test", PASSWORD, None);
    c.discover = Some((
        "http://autodiscover.contoso.test/autodiscover/autodiscover.xml".into(),
        "autodiscover.contoso.test".into(),
    ));
    assert!(request(&h.feed(ProviderId::Exchange, Input::Credentials(c.clone()))).is_none());
    c.discover = None;
    assert!(request(&h.feed(ProviderId::Exchange, Input::Credentials(c))).is_none());
}

fn pox(ews: &str) -> HttpResponse {
    HttpResponse::new(
        200,
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><Account><Protocol><Type>EXCH</Type><EwsUrl>{ews}</EwsUrl></Protocol></Account></Response></Autodiscover>"#
        ),
    )
}

#[test]
fn autodiscover_on_a_confirmed_host_finds_the_ews_url_then_verifies() {
    let mut h = Harness::new();
    let ad = "https://autodiscover.contoso.test/autodiscover/autodiscover.xml";
    let mut c = typed("alex@contoso.test", PASSWORD, None);
    c.email = Some("alex@contoso.test".into());
    c.discover = Some((ad.into(), "autodiscover.contoso.test".into()));
    let commands = h.feed(ProviderId::Exchange, Input::Credentials(c.clone()));
    let first = request(&commands).unwrap();
    assert_eq!(first.url, ad);
    assert!(first
        .body
        .contains("<EMailAddress>alex@contoso.test</EMailAddress>"));
    assert!(first.header("authorization").is_some());
    let commands = h.feed(ProviderId::Exchange, Input::TokenResponse(Ok(pox(EWS))));
    let verify = request(&commands).expect("then the verify call");
    assert_eq!(verify.url, EWS);
    let commands = h.feed(ProviderId::Exchange, Input::TokenResponse(Ok(inbox_ok())));
    assert_eq!(completion(&commands), Some(Ok(())));
    assert_eq!(
        h.card(ProviderId::Exchange).login_host.as_deref(),
        Some(EWS)
    );
    assert_eq!(
        h.card(ProviderId::Exchange).account.as_deref(),
        Some("alex@contoso.test")
    );

    // An answer naming a server on another domain: nothing sent there.
    let mut h = Harness::new();
    h.feed(ProviderId::Exchange, Input::Credentials(c));
    let commands = h.feed(
        ProviderId::Exchange,
        Input::TokenResponse(Ok(pox("https://collector.evil.test/EWS/Exchange.asmx"))),
    );
    assert!(request(&commands).is_none());
    assert!(matches!(completion(&commands), Some(Err(_))));
}

mod chooser {
    use super::*;

    /// Connects Microsoft with a fake sign-in through `target` (tenant) and returns the
    /// authorize URL used.
    fn sign_in_url(h: &mut Harness, input: Input) -> String {
        let commands = h.feed(ProviderId::Microsoft, input);
        commands
            .iter()
            .find_map(|c| match c {
                Command::OpenSignIn { url, .. } => Some(url.clone()),
                _ => None,
            })
            .expect("a sign-in window")
    }

    #[test]
    fn change_on_a_card_keeps_its_tenant_whatever_pill_was_picked() {
        let mut h = Harness::new();
        let (service, target) = h.engine.change_to(MailService::Microsoft365).unwrap();
        assert_eq!(service, ProviderId::Microsoft);
        assert_ne!(target.tenant.as_deref(), Some("consumers"));
        // A card without an account follows the pill.
        h.engine.select_mail_service(MailService::OutlookCom);
        let url = sign_in_url(
            &mut h,
            Input::Connect {
                login_hint: None,
                target: Target::default(),
            },
        );
        assert!(url.contains("/consumers/"), "{url}");
        // A connected Microsoft 365 card keeps its own tenant (the bug: it went to consumers).
        let mut h = Harness::new();
        let organizations = Target {
            tenant: Some("organizations".into()),
            login_host: None,
        };
        connect_microsoft(&mut h, organizations);
        assert_eq!(h.engine.mail_service(), MailService::Microsoft365);
        h.engine.select_mail_service(MailService::OutlookCom);
        let url = sign_in_url(
            &mut h,
            Input::Connect {
                login_hint: None,
                target: Target::default(),
            },
        );
        assert!(url.contains("/organizations/"), "{url}");
        assert_eq!(h.card(ProviderId::Microsoft).title, "Microsoft 365");
        // A renewal's success (here a fresh token handed out) never moves the pill.
        let commands = h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded);
        assert_eq!(completion(&commands), Some(Ok(())));
        assert_eq!(h.engine.mail_service(), MailService::OutlookCom);
        // Choosing Outlook.com in Change is explicit: the consumers tenant.
        let (_, target) = h.engine.change_to(MailService::OutlookCom).unwrap();
        assert_eq!(target.tenant.as_deref(), Some("consumers"));
        assert_eq!(h.engine.change_to(MailService::NotSure), None);
    }

    /// A Microsoft sign-in answered with tokens (the token response is trusted as data here:
    /// the OAuth flow itself is tested in engine_flows.rs).
    fn connect_microsoft(h: &mut Harness, target: Target) {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let url = sign_in_url(
            h,
            Input::Connect {
                login_hint: None,
                target,
            },
        );
        let q = |name: &str| {
            url::Url::parse(&url)
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == name)
                .unwrap()
                .1
                .into_owned()
        };
        let redirect = format!(
            "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/?code=C&state={}",
            q("state")
        );
        h.feed(ProviderId::Microsoft, Input::SignInResult(Ok(redirect)));
        let claims = serde_json::json!({
            "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
            "aud": "ms-client", "sub": "sub-megan", "nonce": q("nonce"),
            "preferred_username": "megan@m365.test"
        });
        let id = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let body = format!(
            r#"{{"token_type":"Bearer","expires_in":3600,"access_token":"AT","refresh_token":"RT","id_token":"{id}"}}"#
        );
        let commands = h.feed(
            ProviderId::Microsoft,
            Input::TokenResponse(Ok(HttpResponse::new(200, body))),
        );
        assert_eq!(completion(&commands), Some(Ok(())));
    }

    #[test]
    fn switching_services_keeps_exactly_one_mail_connection() {
        let mut h = Harness::new();
        let organizations = Target {
            tenant: Some("organizations".into()),
            login_host: None,
        };
        connect_microsoft(&mut h, organizations);
        assert!(h.engine.superseded_by(ProviderId::Microsoft).is_empty());
        // Microsoft 365 → Exchange: the Microsoft grant is ended once Exchange is stored.
        h.engine.change_to(MailService::Exchange).unwrap();
        connect_exchange(&mut h);
        assert_eq!(
            h.engine.superseded_by(ProviderId::Exchange),
            [ProviderId::Microsoft]
        );
        h.feed(ProviderId::Microsoft, Input::Disconnect);
        assert!(h.engine.superseded_by(ProviderId::Exchange).is_empty());
        // A failed Change to another service ends nothing.
        assert!(h.engine.superseded_by(ProviderId::Google).is_empty());
        // Exchange → Microsoft 365 again: Exchange is the one to end (nothing to revoke,
        // the password is forgotten).
        connect_microsoft(
            &mut h,
            Target {
                tenant: Some("organizations".into()),
                login_host: None,
            },
        );
        assert_eq!(
            h.engine.superseded_by(ProviderId::Microsoft),
            [ProviderId::Exchange]
        );
        let commands = h.feed(ProviderId::Exchange, Input::Disconnect);
        assert!(commands
            .iter()
            .all(|c| !matches!(c, Command::SendRevocation(_))));
        assert!(!h.engine.vault_text().contains(PASSWORD));
        assert_eq!(h.engine.mail_service(), MailService::Microsoft365);
        let mail_cards = dashboard(&h.engine, h.now).sections[0]
            .connections
            .iter()
            .filter(|c| c.account.is_some())
            .count();
        assert_eq!(mail_cards, 1);
    }
}

//! The engine driven through whole flows, with time, randomness and HTTP fed in by hand:
//! sign-in, refresh, rotation, failures, silent renewal, claims challenges, Change,
//! Disconnect, the vault and the dashboard view.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sidebar_auth::connection::{Command, Context, Input, OperationError, SignInFailure};
use sidebar_auth::diagnosis::{Action, Reason};
use sidebar_auth::engine::Engine;
use sidebar_auth::http::{HttpRequest, HttpResponse};
use sidebar_auth::provider::{Config, MailService, ProviderId, SectionId, Target};
use sidebar_auth::random::SeededRandom;
use sidebar_auth::time::{Timestamp, HOUR, MINUTE, SECOND};
use sidebar_auth::token::ExpirySource;
use sidebar_auth::view::{dashboard, Status};

const REDIRECT: &str = "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/";
const T0: Timestamp = Timestamp(1_764_000_000_000);

fn config() -> Config {
    Config::from_json(
        &serde_json::json!({
            "redirectUri": REDIRECT,
            "microsoft": {"clientId": "ms-client", "tenant": "organizations"},
            "google": {"clientId": "g-client", "clientSecret": "GOCSPX-test"},
            "salesforce": {"clientId": "sf-client", "issuer": "https://login.salesforce.com"},
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
    silent: bool,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_config(config())
    }

    fn with_config(config: Config) -> Harness {
        Harness {
            engine: Engine::new(config).unwrap(),
            now: T0,
            random: SeededRandom(42),
            silent: false,
        }
    }

    fn feed(&mut self, service: ProviderId, input: Input) -> Vec<Command> {
        let mut ctx = Context {
            now: self.now,
            random: &mut self.random,
            silent_sign_in: self.silent,
        };
        let commands = self.engine.handle(service, input, &mut ctx);
        // The host saves what it is asked to (a test that needs a failing save says so
        // with `engine.save_failed` after this).
        if commands.contains(&Command::Persist) {
            self.engine.mark_saved(Some(service));
        }
        commands
    }

    fn advance(&mut self, millis: u64) {
        self.now = self.now.plus(millis);
    }

    fn view_of(&self, service: ProviderId) -> sidebar_auth::view::ConnectionView {
        let view = dashboard(&self.engine, self.now);
        view.sections
            .into_iter()
            .flat_map(|s| s.connections)
            .find(|c| c.service == service)
            .expect("card shown")
    }

    /// Runs a whole interactive sign-in answered by `user` and returns the final commands.
    /// The provider redirects back with `code` for the sign-in opened at `authorize_url`.
    fn redirect(&mut self, service: ProviderId, authorize_url: &str, code: &str) -> Vec<Command> {
        let state = query(authorize_url, "state").unwrap();
        // Google sends RFC 9207 `iss` (and the engine requires it there); the others do not.
        let iss = if service == ProviderId::Google {
            "&iss=https%3A%2F%2Faccounts.google.com"
        } else {
            ""
        };
        self.feed(
            service,
            Input::SignInResult(Ok(format!("{REDIRECT}?code={code}&state={state}{iss}"))),
        )
    }

    fn sign_in(
        &mut self,
        service: ProviderId,
        input: Input,
        user: &str,
        token_body: impl Fn(&str) -> String,
    ) -> Vec<Command> {
        let commands = self.feed(service, input);
        let url = open_sign_in(&commands).expect("a sign-in window");
        let nonce = query(&url, "nonce").unwrap();
        let commands = self.redirect(service, &url, &format!("CODE-{user}"));
        let request = token_request(&commands).expect("code exchange");
        assert_eq!(
            form_field(&request.body, "grant_type").as_deref(),
            Some("authorization_code")
        );
        assert_eq!(
            form_field(&request.body, "code").as_deref(),
            Some(format!("CODE-{user}").as_str())
        );
        assert!(form_field(&request.body, "code_verifier").is_some());
        self.feed(
            service,
            Input::TokenResponse(Ok(HttpResponse::new(200, token_body(&nonce)))),
        )
    }
}

fn query(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn form_field(body: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn open_sign_in(commands: &[Command]) -> Option<String> {
    commands.iter().find_map(|c| match c {
        Command::OpenSignIn { url, .. } => Some(url.clone()),
        _ => None,
    })
}

fn token_request(commands: &[Command]) -> Option<HttpRequest> {
    commands.iter().find_map(|c| match c {
        Command::SendTokenRequest(r) => Some(r.clone()),
        _ => None,
    })
}

fn revocation(commands: &[Command]) -> Option<HttpRequest> {
    commands.iter().find_map(|c| match c {
        Command::SendRevocation(r) => Some(r.clone()),
        _ => None,
    })
}

fn completion(commands: &[Command]) -> Option<Result<(), OperationError>> {
    commands.iter().find_map(|c| match c {
        Command::Complete(r) => Some(r.clone()),
        _ => None,
    })
}

fn jwt(claims: serde_json::Value) -> String {
    format!(
        "{}.{}.sig",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn ms_tokens(user: &'static str, rt: &'static str) -> impl Fn(&str) -> String {
    move |nonce| {
        let id = jwt(serde_json::json!({
            "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
            "aud": "ms-client", "sub": format!("sub-{user}"), "nonce": nonce,
            "preferred_username": user, "name": "Test User"
        }));
        format!(
            r#"{{"token_type":"Bearer","scope":"https://graph.microsoft.com/Mail.ReadWrite","expires_in":3600,"ext_expires_in":3600,"access_token":"AT-{user}","refresh_token":"{rt}","id_token":"{id}"}}"#
        )
    }
}

fn sf_tokens(user: &'static str, rt: &'static str) -> impl Fn(&str) -> String {
    move |nonce| {
        let id = jwt(serde_json::json!({
            "iss": "https://login.salesforce.com", "aud": "sf-client", "sub": format!("https://login.salesforce.com/id/00D/{user}"),
            "nonce": nonce, "preferred_username": user
        }));
        format!(
            r#"{{"access_token":"00D!AT-{user}","refresh_token":"{rt}","signature":"sig","scope":"refresh_token api openid","id_token":"{id}","instance_url":"https://acme.my.salesforce.com","id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer","issued_at":"{}"}}"#,
            T0.0
        )
    }
}

/// alice@acme.test signed in to Salesforce production (refresh token `SF-RT-A`).
fn salesforce_connected(h: &mut Harness) {
    let commands = h.sign_in(
        ProviderId::Salesforce,
        Input::Connect {
            login_hint: Some("alice@acme.test".into()),
            target: login_host_target("production"),
        },
        "alice@acme.test",
        sf_tokens("alice@acme.test", "SF-RT-A"),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
}

/// A Salesforce login host to sign in on.
fn login_host_target(host: &str) -> Target {
    Target {
        tenant: None,
        login_host: Some(host.to_string()),
    }
}

/// **Change** with no hint, to the configured tenant or default login host.
fn change() -> Input {
    Input::Connect {
        login_hint: None,
        target: Target::default(),
    }
}

/// A Google token response for alice (`refresh_token` only when given).
fn google_tokens(refresh_token: Option<&'static str>) -> impl Fn(&str) -> String {
    move |nonce| {
        let id = jwt(serde_json::json!({
            "iss": "https://accounts.google.com", "aud": "g-client", "sub": "g1",
            "nonce": nonce, "email": "alice@gmail.test"
        }));
        let rt = refresh_token
            .map(|t| format!(r#","refresh_token":"{t}""#))
            .unwrap_or_default();
        format!(
            r#"{{"access_token":"ya29.AT","expires_in":3599,"token_type":"Bearer","id_token":"{id}"{rt}}}"#
        )
    }
}

/// The commands are exactly one sign-in without a window.
fn assert_silent_sign_in(commands: &[Command]) {
    assert!(
        matches!(
            commands,
            [Command::OpenSignIn {
                interactive: false,
                ..
            }]
        ),
        "{commands:?}"
    );
}

fn connect_microsoft(h: &mut Harness) {
    let commands = h.sign_in(
        ProviderId::Microsoft,
        change(),
        "alice@contoso.com",
        ms_tokens("alice@contoso.com", "RT-1"),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
}

/// A Microsoft connection an hour past its 24 h `spa` horizon, in a host that can sign in
/// silently.
fn past_the_spa_horizon() -> Harness {
    let mut h = Harness::new();
    h.silent = true;
    connect_microsoft(&mut h);
    h.advance(25 * HOUR);
    h
}

fn refresh_request_now(h: &mut Harness, service: ProviderId) -> HttpRequest {
    let commands = h.feed(service, Input::AccessTokenNeeded);
    token_request(&commands)
        .unwrap_or_else(|| panic!("expected a refresh request, got {commands:?}"))
}

#[test]
fn microsoft_sign_in_connects_and_shows_the_24h_spa_horizon() {
    let mut h = Harness::new();
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::Connect {
            login_hint: Some("alice@contoso.com".into()),
            target: Target::default(),
        },
    );
    let url = open_sign_in(&commands).unwrap();
    assert!(
        url.starts_with("https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?")
    );
    assert_eq!(
        query(&url, "login_hint").as_deref(),
        Some("alice@contoso.com")
    );
    assert_eq!(query(&url, "prompt").as_deref(), Some("select_account"));
    assert_eq!(h.view_of(ProviderId::Microsoft).status, Status::SigningIn);

    let mut h = Harness::new();
    let commands = h.sign_in(
        ProviderId::Microsoft,
        change(),
        "alice@contoso.com",
        ms_tokens("alice@contoso.com", "RT-1"),
    );
    // Persist comes before anything is handed out.
    assert_eq!(commands.first(), Some(&Command::Persist));
    assert!(h.engine.next_wake().is_some(), "a refresh is scheduled");
    let card = h.view_of(ProviderId::Microsoft);
    assert_eq!(card.status, Status::Connected);
    assert_eq!(card.account.as_deref(), Some("alice@contoso.com"));
    assert_eq!(card.sign_in_needed_at, Some(T0.plus(24 * HOUR)));
    assert_eq!(
        card.sign_in_needed_text.as_deref(),
        Some("Sign-in needed in 24 h")
    );
    assert_eq!(card.expiry_provenance, Some(ExpirySource::ExpiresIn));
    assert!(card.can_refresh && card.can_change);
    h.advance(19 * HOUR);
    assert_eq!(
        h.view_of(ProviderId::Microsoft)
            .sign_in_needed_text
            .as_deref(),
        Some("Sign-in needed in 5 h")
    );
    assert_eq!(
        h.engine
            .connection(ProviderId::Microsoft)
            .unwrap()
            .fresh_access_token(T0),
        Some("AT-alice@contoso.com")
    );
}

#[test]
fn proactive_refresh_before_expiry_rotates_and_keeps_the_deadline() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    let due = h
        .engine
        .connection(ProviderId::Microsoft)
        .unwrap()
        .refresh_due_at()
        .unwrap();
    assert!(
        due > T0.plus(45 * MINUTE) && due < T0.plus(55 * MINUTE),
        "{due:?}"
    );
    assert_eq!(h.engine.next_wake(), Some(due));

    h.now = due.minus(SECOND);
    let early = h.feed(ProviderId::Microsoft, Input::Tick);
    assert!(token_request(&early).is_none(), "not due yet");
    h.now = due;
    let commands = h.feed(ProviderId::Microsoft, Input::Tick);
    let request = token_request(&commands).expect("refresh at due time");
    assert_eq!(
        form_field(&request.body, "grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        form_field(&request.body, "refresh_token").as_deref(),
        Some("RT-1")
    );
    assert_eq!(h.view_of(ProviderId::Microsoft).status, Status::Refreshing);
    // A second caller while the refresh is in flight does not start another.
    assert_eq!(
        completion(&h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded)),
        Some(Ok(())),
        "old token still fresh"
    );
    let body =
        r#"{"token_type":"Bearer","expires_in":3600,"access_token":"AT-2","refresh_token":"RT-2"}"#;
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(200, body))),
    );
    assert_eq!(
        commands.first(),
        Some(&Command::Persist),
        "rotated refresh token persisted first"
    );
    assert_eq!(completion(&commands), Some(Ok(())));
    let vault = h.engine.vault_text();
    assert!(vault.contains("RT-2") && !vault.contains("RT-1"));
    assert!(
        !vault.contains("AT-2"),
        "access tokens are not in the vault"
    );
    assert_eq!(
        h.view_of(ProviderId::Microsoft).sign_in_needed_at,
        Some(T0.plus(24 * HOUR)),
        "spa deadline not extended"
    );
}

#[test]
fn revoked_refresh_token_aadsts50173_asks_for_refresh_and_refresh_reconnects() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    refresh_request_now(&mut h, ProviderId::Microsoft);
    let body = r#"{"error":"invalid_grant","error_description":"AADSTS50173: The provided grant has expired due to it being revoked.","error_codes":[50173],"suberror":"","trace_id":"t","correlation_id":"c"}"#;
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(400, body))),
    );
    match completion(&commands) {
        Some(Err(OperationError::NeedsAttention(d))) => {
            assert_eq!(
                (d.reason, d.action),
                (Reason::RefreshTokenRevoked, Action::Refresh)
            );
            assert_eq!(d.provider_code.as_deref(), Some("AADSTS50173"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !h.engine.vault_text().contains("RT-1"),
        "the provider said it is dead"
    );
    let card = h.view_of(ProviderId::Microsoft);
    assert_eq!(card.status, Status::NeedsAttention);
    assert_eq!(card.reason, Some(Reason::RefreshTokenRevoked));
    assert!(card.reason_text.unwrap().contains("password"));
    assert_eq!(card.action, Some(Action::Refresh));
    assert!(card.can_refresh);
    assert_eq!(
        h.engine.next_wake(),
        None,
        "no background retries while the user is needed"
    );

    // Refresh: same account as login_hint.
    let commands = h.sign_in(
        ProviderId::Microsoft,
        Input::Reauthorize,
        "alice@contoso.com",
        ms_tokens("alice@contoso.com", "RT-3"),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
    assert!(revocation(&commands).is_none());
    assert_eq!(h.view_of(ProviderId::Microsoft).status, Status::Connected);
}

#[test]
fn reauthorize_uses_the_current_account_as_login_hint() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    let url = open_sign_in(&h.feed(ProviderId::Microsoft, Input::Reauthorize)).unwrap();
    assert_eq!(
        query(&url, "login_hint").as_deref(),
        Some("alice@contoso.com")
    );
    assert_eq!(query(&url, "prompt"), None);
}

#[test]
fn spa_lifetime_700084_renews_silently_when_the_host_can() {
    let mut h = Harness::new();
    h.silent = true;
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    refresh_request_now(&mut h, ProviderId::Microsoft);
    let body = r#"{"error":"invalid_grant","error_codes":[700084],"error_description":"AADSTS700084: The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00"}"#;
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(400, body))),
    );
    let silent = commands.iter().find_map(|c| match c {
        Command::OpenSignIn { url, interactive } => Some((url.clone(), *interactive)),
        _ => None,
    });
    let (url, interactive) = silent.expect("silent renewal");
    assert!(!interactive);
    assert_eq!(query(&url, "prompt").as_deref(), Some("none"));
    assert_eq!(
        query(&url, "login_hint").as_deref(),
        Some("alice@contoso.com")
    );
    // The provider session is alive: the silent flow returns a code and reconnects.
    let nonce = query(&url, "nonce").unwrap();
    let commands = h.redirect(ProviderId::Microsoft, &url, "SILENT");
    token_request(&commands).expect("code exchange");
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(
            200,
            ms_tokens("alice@contoso.com", "RT-NEW")(&nonce),
        ))),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
    let card = h.view_of(ProviderId::Microsoft);
    assert_eq!(card.status, Status::Connected);
    assert_eq!(
        card.sign_in_needed_at,
        Some(h.now.plus(24 * HOUR)),
        "a new 24 h grant"
    );
}

#[test]
fn silent_renewal_without_a_provider_session_needs_the_user() {
    let mut h = past_the_spa_horizon();
    // Past the spa deadline, no doomed refresh is sent: straight to a silent sign-in.
    let commands = h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded);
    assert!(token_request(&commands).is_none());
    assert_silent_sign_in(&commands);
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::SignInResult(Err(SignInFailure::InteractionRequired)),
    );
    match completion(&commands) {
        Some(Err(OperationError::NeedsAttention(d))) => {
            assert_eq!(d.reason, Reason::SessionLifetimeReached)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.view_of(ProviderId::Microsoft).status,
        Status::NeedsAttention
    );
}

#[test]
fn transient_failures_keep_the_token_back_off_and_never_pause() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    let mut last_retry = h.now;
    let responses: Vec<Result<HttpResponse, sidebar_auth::connection::NetworkFailure>> = vec![
        Ok(HttpResponse::new(503, "<html>Service Unavailable</html>")
            .with_header("Retry-After", "30")),
        Ok(HttpResponse::new(200, "{\"access_token\":\"cut")),
        Err(sidebar_auth::connection::NetworkFailure::Unreachable(
            "offline".into(),
        )),
        Ok(HttpResponse::new(429, "")),
        Ok(HttpResponse::new(500, "")),
    ];
    for (i, response) in responses.into_iter().enumerate() {
        let request = token_request(&h.feed(ProviderId::Microsoft, Input::Tick))
            .unwrap_or_else(|| panic!("attempt {i}"));
        assert_eq!(
            form_field(&request.body, "refresh_token").as_deref(),
            Some("RT-1")
        );
        let commands = h.feed(ProviderId::Microsoft, Input::TokenResponse(response));
        let at = match completion(&commands) {
            Some(Err(OperationError::RetryScheduled { at, diagnosis })) => {
                assert_eq!(diagnosis.action, Action::RetryLater);
                at
            }
            other => panic!("attempt {i}: {other:?}"),
        };
        if i == 0 {
            assert!(at >= h.now.plus(30 * SECOND), "Retry-After honoured");
        }
        assert!(at > h.now);
        let card = h.view_of(ProviderId::Microsoft);
        assert_eq!(card.status, Status::Retrying);
        assert!(
            card.status_text.starts_with("Will retry in"),
            "{}",
            card.status_text
        );
        assert!(
            h.engine.vault_text().contains("RT-1"),
            "token kept after attempt {i}"
        );
        // Not before the scheduled time.
        h.now = at.minus(1);
        assert!(token_request(&h.feed(ProviderId::Microsoft, Input::Tick)).is_none());
        h.now = at;
        last_retry = at;
    }
    let _ = last_retry;
    // Issue 11, defect 4: the old rule paused here ("Paused after repeated failures", no
    // wake-up) while the text said "Sync will retry by itself". Transient failures are not
    // rejections: they never pause, however many in a row.
    for attempt in 6..12 {
        token_request(&h.feed(ProviderId::Microsoft, Input::Tick))
            .unwrap_or_else(|| panic!("attempt {attempt}"));
        let commands = h.feed(
            ProviderId::Microsoft,
            Input::TokenResponse(Ok(HttpResponse::new(503, ""))),
        );
        let at = match completion(&commands) {
            Some(Err(OperationError::RetryScheduled { at, .. })) => at,
            other => panic!("attempt {attempt}: {other:?}"),
        };
        assert!(
            at <= h.now.plus(60 * MINUTE),
            "the engine's own retry comes within an hour (issue 11: a cap of 15-60 min)"
        );
        assert_eq!(h.engine.next_wake(), Some(at), "a wake-up stays armed");
        let card = h.view_of(ProviderId::Microsoft);
        assert_eq!(card.status, Status::Retrying);
        assert_eq!(card.action, Some(Action::RetryLater));
        assert!(
            card.can_retry,
            "the long backoff can be cut short by Try again"
        );
        // At least 3 min apart: the loop guard (10 token requests per 10 min) stays out of it.
        h.now = at.max(h.now.plus(3 * MINUTE));
    }
    assert!(h.engine.vault_text().contains("RT-1"));
    // Offline again, then the network comes back long before the backoff ends: `online`
    // resumes at once.
    token_request(&h.feed(ProviderId::Microsoft, Input::Tick)).unwrap();
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Err(sidebar_auth::connection::NetworkFailure::Unreachable(
            "offline".into(),
        ))),
    );
    let Some(Err(OperationError::RetryScheduled { at, .. })) = completion(&commands) else {
        panic!("{commands:?}")
    };
    h.advance(SECOND);
    if at > h.now {
        assert!(token_request(&h.feed(ProviderId::Microsoft, Input::Tick)).is_none());
    }
    let request = token_request(&h.feed(ProviderId::Microsoft, Input::Online))
        .expect("online resumes at once");
    assert_eq!(
        form_field(&request.body, "refresh_token").as_deref(),
        Some("RT-1")
    );
    let body =
        r#"{"token_type":"Bearer","expires_in":3600,"access_token":"AT-2","refresh_token":"RT-2"}"#;
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(200, body))),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
    assert_eq!(h.view_of(ProviderId::Microsoft).status, Status::Connected);
}

/// Issue 12 (fleet scale): after a transient failure the engine's own retry is spread over
/// up to an hour, but a caller who needs a token (it expired) tries again after the short
/// backoff since the last request, and a silent renewal whose page did not load is retried,
/// not turned into a sign-in.
#[test]
fn a_caller_retries_after_the_short_backoff_while_the_engines_retry_waits_its_spread() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    token_request(&h.feed(ProviderId::Microsoft, Input::Tick)).expect("a refresh");
    h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(503, ""))),
    );
    let failed_at = h.now;
    let engine_retry = h.engine.next_wake().expect("the engine's own retry");
    assert!(
        engine_retry > failed_at.plus(2 * SECOND),
        "this seed draws a spread longer than the caller's backoff: {}",
        failed_at.until(engine_retry)
    );
    h.advance(SECOND);
    match completion(&h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded)) {
        Some(Err(OperationError::RetryScheduled { at, .. })) => {
            assert_eq!(at, failed_at.plus(2 * SECOND), "the caller's backoff: 2 s")
        }
        other => panic!("{other:?}"),
    }
    h.advance(SECOND);
    assert!(
        token_request(&h.feed(ProviderId::Microsoft, Input::Tick)).is_none(),
        "the engine's own wake-up waits its spread"
    );
    token_request(&h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded))
        .expect("a caller tries again after 2 s");
    h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(503, ""))),
    );
    // The second failure: 4 s for a caller.
    h.advance(3 * SECOND);
    assert!(token_request(&h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded)).is_none());
    h.advance(SECOND);
    token_request(&h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded))
        .expect("a caller tries again after 4 s");
    let body = r#"{"token_type":"Bearer","expires_in":3600,"access_token":"AT-2"}"#;
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(200, body))),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
    assert!(h.engine.vault_text().contains("RT-1"), "kept throughout");
}

#[test]
fn a_silent_renewal_whose_page_did_not_load_is_retried_not_shown_as_sign_in() {
    let mut h = past_the_spa_horizon();
    let commands = h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded);
    open_sign_in(&commands).expect("silent renewal at the 24 h spa horizon");
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::SignInResult(Err(SignInFailure::HostError(
            "Authorization page could not be loaded.".into(),
        ))),
    );
    match completion(&commands) {
        Some(Err(OperationError::RetryScheduled { diagnosis, .. })) => {
            assert_eq!(diagnosis.reason, Reason::ProviderUnavailable)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.view_of(ProviderId::Microsoft).status, Status::Retrying);
    h.now = h.engine.next_wake().expect("a retry is scheduled");
    assert_silent_sign_in(&h.feed(ProviderId::Microsoft, Input::Tick));
    // The provider asking for the user is still the user's.
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::SignInResult(Err(SignInFailure::InteractionRequired)),
    );
    assert!(matches!(
        completion(&commands),
        Some(Err(OperationError::NeedsAttention(_)))
    ));
}

/// `online` does not renew a healthy connection early, nor cut short a wait the provider
/// asked for (`Retry-After`).
#[test]
fn online_changes_nothing_for_a_healthy_connection() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(MINUTE);
    assert_eq!(h.feed(ProviderId::Microsoft, Input::Online), vec![]);
    // A 429 with Retry-After: coming back online does not cut the provider's wait short.
    h.advance(2 * HOUR);
    refresh_request_now(&mut h, ProviderId::Microsoft);
    h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(
            HttpResponse::new(429, "").with_header("Retry-After", "600")
        )),
    );
    h.advance(SECOND);
    assert!(token_request(&h.feed(ProviderId::Microsoft, Input::Online)).is_none());
    h.advance(600 * SECOND);
    assert!(token_request(&h.feed(ProviderId::Microsoft, Input::Online)).is_some());
}

#[test]
fn loop_guard_throttles_a_provider_that_hands_out_instantly_expiring_tokens() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    let mut throttled = None;
    for _ in 0..15 {
        // `expires_in: 1` is clamped to a minute (issue 11, defect 8), so a token is stale
        // (under the 30 s freshness margin) 31 s later.
        h.advance(31 * SECOND);
        let commands = h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded);
        if let Some(Err(OperationError::Throttled { until })) = completion(&commands) {
            throttled = Some(until);
            break;
        }
        token_request(&commands).expect("refresh");
        let body = r#"{"token_type":"Bearer","expires_in":1,"access_token":"AT-short","refresh_token":"RT-x"}"#;
        h.feed(
            ProviderId::Microsoft,
            Input::TokenResponse(Ok(HttpResponse::new(200, body))),
        );
    }
    let until = throttled.expect("the loop guard stops the 11th request");
    assert!(until > h.now);
    let card = h.view_of(ProviderId::Microsoft);
    assert_eq!(
        card.status,
        Status::Retrying,
        "not \"connected\" while held back"
    );
    assert_eq!(card.next_retry_at, Some(until));
}

#[test]
fn salesforce_change_remembers_logins_and_revokes_the_first_account() {
    let mut h = Harness::new();
    let commands = h.feed(
        ProviderId::Salesforce,
        Input::Connect {
            login_hint: Some("alice@acme.test".into()),
            target: login_host_target("production"),
        },
    );
    let url = open_sign_in(&commands).unwrap();
    assert!(url.starts_with("https://login.salesforce.com/services/oauth2/authorize?"));
    assert_eq!(query(&url, "prompt").as_deref(), Some("login"));
    assert_eq!(
        query(&url, "login_hint").as_deref(),
        Some("alice@acme.test")
    );
    let mut h = Harness::new();
    salesforce_connected(&mut h);
    let card = h.view_of(ProviderId::Salesforce);
    assert_eq!(card.account.as_deref(), Some("alice@acme.test"));
    assert_eq!(card.expiry_provenance, Some(ExpirySource::SessionTimeout));
    assert_eq!(
        card.login_host.as_deref(),
        Some("https://login.salesforce.com")
    );

    let commands = h.sign_in(
        ProviderId::Salesforce,
        Input::Connect {
            login_hint: Some("bob@acme.test".into()),
            target: login_host_target("https://login.salesforce.com"),
        },
        "bob@acme.test",
        sf_tokens("bob@acme.test", "SF-RT-B"),
    );
    let persist_at = commands
        .iter()
        .position(|c| *c == Command::Persist)
        .unwrap();
    let revoke_at = commands
        .iter()
        .position(|c| matches!(c, Command::SendRevocation(_)))
        .expect("old grant revoked");
    assert!(
        persist_at < revoke_at,
        "new grant stored before the old one is revoked"
    );
    let revoke = revocation(&commands).unwrap();
    assert_eq!(
        revoke.url,
        "https://login.salesforce.com/services/oauth2/revoke"
    );
    assert_eq!(
        form_field(&revoke.body, "token").as_deref(),
        Some("SF-RT-A")
    );
    let vault = h.engine.vault_text();
    assert!(vault.contains("SF-RT-B") && !vault.contains("SF-RT-A"));
    let view = dashboard(&h.engine, h.now);
    let crm = view
        .sections
        .iter()
        .find(|s| s.id == SectionId::Crm)
        .unwrap();
    let logins: Vec<_> = crm
        .saved_logins
        .as_ref()
        .unwrap()
        .iter()
        .map(|l| l.username.as_str())
        .collect();
    assert_eq!(logins, vec!["bob@acme.test", "alice@acme.test"]);
}

#[test]
fn a_failed_change_leaves_the_connection_as_it_was() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    let before = h.engine.vault_text();
    h.feed(ProviderId::Microsoft, change());
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::SignInResult(Err(SignInFailure::Cancelled)),
    );
    assert_eq!(
        completion(&commands),
        Some(Err(OperationError::SignIn(SignInFailure::Cancelled)))
    );
    assert_eq!(h.engine.vault_text(), before);
    // The card stays as it was: connected, with no error text on it (the rejection above is
    // what tells the user; issue 11 found an error left on a connected card misleading).
    let card = h.view_of(ProviderId::Microsoft);
    assert_eq!(card.status, Status::Connected);
    assert_eq!(card.reason_text, None);
    // Where nothing else says why a card is not connected, the failed sign-in is said.
    h.feed(ProviderId::Salesforce, change());
    h.feed(
        ProviderId::Salesforce,
        Input::SignInResult(Err(SignInFailure::Cancelled)),
    );
    let card = h.view_of(ProviderId::Salesforce);
    assert_eq!(card.status, Status::Disconnected);
    assert!(card.reason_text.unwrap().contains("closed"));
}

#[test]
fn forged_state_and_foreign_issuer_are_refused() {
    let mut h = Harness::new();
    let url = open_sign_in(&h.feed(ProviderId::Microsoft, change())).unwrap();
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::SignInResult(Ok(format!("{REDIRECT}?code=EVIL&state=forged"))),
    );
    assert!(
        token_request(&commands).is_none(),
        "no code exchange for a forged state"
    );
    assert!(matches!(
        completion(&commands),
        Some(Err(OperationError::Redirect(
            sidebar_auth::authorize::RedirectError::StateMismatch
        )))
    ));
    // The window is gone; a late answer with the right state changes nothing.
    assert!(h.redirect(ProviderId::Microsoft, &url, "C").is_empty());

    let mut h = Harness::new();
    let url = open_sign_in(&h.feed(ProviderId::Salesforce, change())).unwrap();
    let state = query(&url, "state").unwrap();
    let commands = h.feed(
        ProviderId::Salesforce,
        Input::SignInResult(Ok(format!(
            "{REDIRECT}?code=C&state={state}&iss=https%3A%2F%2Fattacker.example"
        ))),
    );
    assert!(matches!(
        completion(&commands),
        Some(Err(OperationError::Redirect(
            sidebar_auth::authorize::RedirectError::IssuerMismatch { .. }
        )))
    ));
}

#[test]
fn id_token_with_another_nonce_is_refused() {
    let mut h = Harness::new();
    let url = open_sign_in(&h.feed(ProviderId::Microsoft, change())).unwrap();
    h.redirect(ProviderId::Microsoft, &url, "C");
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(
            200,
            ms_tokens("mallory@contoso.com", "RT")("replayed-nonce"),
        ))),
    );
    assert!(matches!(
        completion(&commands),
        Some(Err(OperationError::TokenResponse(
            sidebar_auth::token::TokenResponseError::NonceMismatch
        )))
    ));
    assert_eq!(
        h.view_of(ProviderId::Microsoft).status,
        Status::Disconnected
    );
}

#[test]
fn salesforce_invalid_session_refreshes_once_and_use_extends_the_session() {
    let mut h = Harness::new();
    h.sign_in(
        ProviderId::Salesforce,
        change(),
        "alice@acme.test",
        sf_tokens("alice@acme.test", "SF-RT"),
    );
    assert!(h
        .engine
        .check_api_url(
            ProviderId::Salesforce,
            "https://acme.my.salesforce.com/services/data/v60.0/sobjects"
        )
        .is_ok());
    assert!(h
        .engine
        .check_api_url(ProviderId::Salesforce, "https://evil.example/services/data")
        .is_err());
    // Each use extends the session estimate.
    h.advance(100 * MINUTE);
    h.feed(ProviderId::Salesforce, Input::ApiSucceeded);
    let access = h
        .engine
        .connection(ProviderId::Salesforce)
        .unwrap()
        .access_token()
        .unwrap()
        .clone();
    assert_eq!(access.expiry.at, h.now.plus(120 * MINUTE));
    // The org ended the session anyway.
    let response = HttpResponse::new(
        401,
        r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
    );
    let commands = h.feed(ProviderId::Salesforce, Input::ApiUnauthorized(response));
    assert!(token_request(&commands).is_none());
    let request = refresh_request_now(&mut h, ProviderId::Salesforce);
    assert_eq!(
        form_field(&request.body, "grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        h.engine
            .connection(ProviderId::Salesforce)
            .unwrap()
            .access_token()
            .unwrap()
            .expiry
            .source,
        ExpirySource::Observed401
    );
    // Salesforce refresh responses carry no refresh token: the old one stays.
    let body = format!(
        r#"{{"access_token":"00D!AT-2","signature":"s","scope":"api","instance_url":"https://acme.my.salesforce.com","id":"x","token_type":"Bearer","issued_at":"{}"}}"#,
        h.now.0
    );
    let commands = h.feed(
        ProviderId::Salesforce,
        Input::TokenResponse(Ok(HttpResponse::new(200, body))),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
    assert!(h.engine.vault_text().contains("SF-RT"));
}

#[test]
fn microsoft_claims_challenge_becomes_needs_attention_and_the_next_sign_in_carries_it() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1764000000"}}}"#;
    let header = format!(
        r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="{}""#,
        base64::engine::general_purpose::STANDARD.encode(claims)
    );
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::ApiUnauthorized(HttpResponse::new(401, "").with_header("WWW-Authenticate", &header)),
    );
    assert!(
        token_request(&commands).is_none(),
        "a refresh cannot satisfy a claims challenge"
    );
    let card = h.view_of(ProviderId::Microsoft);
    assert_eq!(
        (card.status, card.reason),
        (Status::NeedsAttention, Some(Reason::ClaimsChallenge))
    );
    // The API keeps refusing the token it challenged (as Entra does): it is not handed out.
    let connection = h.engine.connection(ProviderId::Microsoft).unwrap();
    assert_eq!(connection.fresh_access_token(h.now), None);
    let attention = connection.attention().unwrap().clone();
    assert_eq!(
        completion(&h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded)),
        Some(Err(OperationError::NeedsAttention(attention)))
    );
    let url = open_sign_in(&h.feed(ProviderId::Microsoft, Input::Reauthorize)).unwrap();
    assert_eq!(query(&url, "claims").as_deref(), Some(claims));
}

#[test]
fn a_card_says_which_mail_service_its_account_is_whatever_was_picked_since() {
    let mut h = Harness::new();
    assert_eq!(
        h.view_of(ProviderId::Microsoft).mail_service,
        None,
        "no account yet"
    );
    connect_microsoft(&mut h);
    h.engine.select_mail_service(MailService::OutlookCom);
    // Change's chooser starts from the account's own service, not the pill picked since.
    assert_eq!(
        h.view_of(ProviderId::Microsoft).mail_service,
        Some(MailService::Microsoft365)
    );
}

#[test]
fn exchange_online_ews_switched_off_is_an_administrator_matter_and_keeps_the_grant() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    let rules = ProviderId::Microsoft.rules();
    // Only EWS in Exchange Online says "switched off" with a 403; Graph's 403 is the caller's.
    assert_eq!(
        (rules.api_forbidden)("https://graph.microsoft.com/v1.0/me/messages"),
        None
    );
    let diagnosis =
        (rules.api_forbidden)("https://outlook.office365.com/EWS/Exchange.asmx").unwrap();
    assert_eq!(
        (
            diagnosis.reason,
            diagnosis.action,
            diagnosis.drop_refresh_token
        ),
        (Reason::MailApiDisabled, Action::ContactAdmin, false)
    );
    let commands = h.feed(ProviderId::Microsoft, Input::ApiRefused(diagnosis.clone()));
    assert!(
        token_request(&commands).is_none(),
        "no refresh: a new token cannot switch EWS on"
    );
    assert!(open_sign_in(&commands).is_none(), "no sign-in either");
    let card = h.view_of(ProviderId::Microsoft);
    assert_eq!(
        (card.status, card.reason, card.action),
        (
            Status::NeedsAttention,
            Some(Reason::MailApiDisabled),
            Some(Action::ContactAdmin)
        )
    );
    assert!(card.advice.is_some_and(|a| a.contains("administrator")));
    let connection = h.engine.connection(ProviderId::Microsoft).unwrap();
    assert!(
        connection.state.refresh_token.is_some(),
        "the grant is kept"
    );
}

#[test]
fn repeated_api_rejections_stop_after_six() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    for i in 0..6 {
        let commands = h.feed(
            ProviderId::Microsoft,
            Input::ApiUnauthorized(HttpResponse::new(401, "")),
        );
        if i < 5 {
            assert!(completion(&commands).is_none());
            refresh_request_now(&mut h, ProviderId::Microsoft);
            let body = r#"{"token_type":"Bearer","expires_in":3600,"access_token":"AT","refresh_token":"RT"}"#;
            h.feed(
                ProviderId::Microsoft,
                Input::TokenResponse(Ok(HttpResponse::new(200, body))),
            );
        } else {
            assert!(matches!(
                completion(&commands),
                Some(Err(OperationError::NeedsAttention(_)))
            ));
        }
    }
    let card = h.view_of(ProviderId::Microsoft);
    assert_eq!(
        (card.status, card.reason),
        (Status::NeedsAttention, Some(Reason::TokenRejectedByApi))
    );
}

#[test]
fn a_burst_of_api_rejections_with_one_token_counts_once() {
    // Six calls at once with one stale token: one rejection, not six; each further one
    // counts only after a fresh refresh (issue 11, defect 2).
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    for _ in 0..10 {
        let commands = h.feed(
            ProviderId::Microsoft,
            Input::ApiUnauthorized(HttpResponse::new(401, "")),
        );
        assert!(completion(&commands).is_none(), "{commands:?}");
    }
    let connection = h.engine.connection(ProviderId::Microsoft).unwrap();
    assert_eq!(connection.state.consecutive_api_rejections, 1);
    assert_eq!(connection.attention(), None);
    assert_eq!(h.view_of(ProviderId::Microsoft).status, Status::Connected);
}

#[test]
fn google_without_a_secret_renews_silently_or_asks() {
    let mut cfg = config();
    cfg.google.as_mut().unwrap().client_secret = None;
    let mut h = Harness::with_config(cfg);
    let commands = h.feed(ProviderId::Google, change());
    let url = open_sign_in(&commands).unwrap();
    assert_eq!(
        query(&url, "access_type"),
        None,
        "no refresh token without a secret"
    );
    let mut h = Harness::with_config({
        let mut c = config();
        c.google.as_mut().unwrap().client_secret = None;
        c
    });
    h.sign_in(ProviderId::Google, change(), "alice", google_tokens(None));
    h.engine
        .select_mail_service(sidebar_auth::provider::MailService::Gmail);
    let card = h.view_of(ProviderId::Google);
    assert_eq!(card.account.as_deref(), Some("alice@gmail.test"));
    assert_eq!(
        card.sign_in_needed_at,
        Some(T0.plus(3_599_000)),
        "the access token is all there is"
    );
    h.advance(HOUR);
    let commands = h.feed(ProviderId::Google, Input::AccessTokenNeeded);
    match completion(&commands) {
        Some(Err(OperationError::NeedsAttention(d))) => {
            assert_eq!(d.reason, Reason::InteractionRequired)
        }
        other => panic!("web host cannot renew silently: {other:?}"),
    }
    h.silent = true;
    h.feed(ProviderId::Google, Input::Reauthorize);
    h.feed(
        ProviderId::Google,
        Input::SignInResult(Err(SignInFailure::Cancelled)),
    );
    let mut h2 = Harness::with_config({
        let mut c = config();
        c.google.as_mut().unwrap().client_secret = None;
        c
    });
    h2.silent = true;
    h2.sign_in(ProviderId::Google, change(), "alice", google_tokens(None));
    h2.advance(HOUR);
    let commands = h2.feed(ProviderId::Google, Input::AccessTokenNeeded);
    assert_silent_sign_in(&commands);
}

#[test]
fn disconnect_revokes_where_possible_and_always_clears() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    let commands = h.feed(ProviderId::Microsoft, Input::Disconnect);
    assert!(
        revocation(&commands).is_none(),
        "Entra v2 has no revocation endpoint"
    );
    assert_eq!(commands.first(), Some(&Command::Persist));
    assert_eq!(
        h.view_of(ProviderId::Microsoft).status,
        Status::Disconnected
    );
    assert!(!h.engine.vault_text().contains("RT-1"));

    h.sign_in(
        ProviderId::Google,
        change(),
        "alice",
        google_tokens(Some("1//G-RT")),
    );
    let commands = h.feed(ProviderId::Google, Input::Disconnect);
    let revoke = revocation(&commands).expect("Google has a revocation endpoint");
    assert_eq!(revoke.url, "https://oauth2.googleapis.com/revoke");
    assert_eq!(
        form_field(&revoke.body, "token").as_deref(),
        Some("1//G-RT")
    );
    assert!(!h.engine.vault_text().contains("1//G-RT"));
}

#[test]
fn a_refresh_lost_with_its_service_worker_is_retried_later() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    refresh_request_now(&mut h, ProviderId::Microsoft);
    // The worker died: no answer ever comes. Callers meanwhile are told it is busy.
    assert_eq!(
        completion(&h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded)),
        Some(Err(OperationError::Busy))
    );
    h.advance(3 * MINUTE);
    token_request(&h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded))
        .expect("in-flight refresh forgotten after its timeout");
    assert!(h.engine.vault_text().contains("RT-1"));
}

#[test]
fn vault_restores_connections_and_keeps_corrupt_text() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    let text = h.engine.vault_text();
    let mut restored = Engine::new(config()).unwrap();
    restored.restore(Some(&text)).unwrap();
    let view = dashboard(&restored, T0);
    let card = view.sections[0]
        .connections
        .iter()
        .find(|c| c.service == ProviderId::Microsoft)
        .unwrap();
    assert_eq!(card.status, Status::Connected);
    assert_eq!(card.account.as_deref(), Some("alice@contoso.com"));

    let mut broken = Engine::new(config()).unwrap();
    assert!(broken
        .restore(Some("{\"version\":1,\"connections\":{"))
        .is_err());
    assert!(dashboard(&broken, T0).notice.is_some());
    assert!(
        broken.vault_text().contains("unreadablePrevious"),
        "nothing lost"
    );
}

#[test]
fn mail_service_choice_shapes_the_email_section() {
    let mut h = Harness::new();
    let email = |h: &Harness| {
        dashboard(&h.engine, h.now)
            .sections
            .into_iter()
            .find(|s| s.id == SectionId::Email)
            .unwrap()
    };
    assert_eq!(email(&h).mail_service, Some(MailService::Microsoft365));
    assert_eq!(email(&h).mail_service_choices.map(|c| c.len()), Some(5));
    h.engine
        .select_mail_service(sidebar_auth::provider::MailService::Gmail);
    assert_eq!(email(&h).connections[0].service, ProviderId::Google);
    h.engine
        .select_mail_service(sidebar_auth::provider::MailService::NotSure);
    assert!(email(&h).hint.is_some());
    assert_eq!(email(&h).connections.len(), 3);
    h.engine
        .select_mail_service(sidebar_auth::provider::MailService::OutlookCom);
    let url = open_sign_in(&h.feed(ProviderId::Microsoft, change())).unwrap();
    assert!(url.contains("/consumers/oauth2/v2.0/authorize"), "{url}");
}

#[test]
fn api_urls_are_limited_to_the_services_origins() {
    let h = Harness::new();
    assert!(h
        .engine
        .check_api_url(
            ProviderId::Microsoft,
            "https://graph.microsoft.com/v1.0/me/messages"
        )
        .is_ok());
    assert!(h
        .engine
        .check_api_url(
            ProviderId::Microsoft,
            "https://graph.microsoft.com.evil.example/v1.0/me"
        )
        .is_err());
    assert!(h
        .engine
        .check_api_url(ProviderId::Microsoft, "http://graph.microsoft.com/v1.0/me")
        .is_err());
    assert!(h
        .engine
        .check_api_url(
            ProviderId::Google,
            "https://gmail.googleapis.com/gmail/v1/users/me/messages"
        )
        .is_ok());
    assert!(h
        .engine
        .check_api_url(ProviderId::Google, "https://graph.microsoft.com/v1.0/me")
        .is_err());
    assert!(h
        .engine
        .check_api_url(ProviderId::Google, "javascript:alert(1)")
        .is_err());
}

#[test]
fn event_log_never_contains_secrets() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    refresh_request_now(&mut h, ProviderId::Microsoft);
    h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(
            400,
            r#"{"error":"invalid_grant","error_codes":[50173]}"#,
        ))),
    );
    let log = serde_json::to_string(&h.engine.events().collect::<Vec<_>>()).unwrap();
    for secret in ["RT-1", "AT-alice", "CODE-", "code_verifier"] {
        assert!(!log.contains(secret), "{secret} in {log}");
    }
    assert!(log.contains("refresh_token_revoked (AADSTS50173)"), "{log}");
    let debug = serde_json::to_string(&h.engine.debug_state(h.now)).unwrap();
    assert!(!debug.contains("RT-1") && !debug.contains("AT-alice"));
}

#[test]
fn a_transient_failure_during_silent_renewal_is_retried_not_shown_as_sign_in() {
    let mut h = past_the_spa_horizon();
    let commands = h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded);
    let url = open_sign_in(&commands).expect("silent renewal");
    let commands = h.redirect(ProviderId::Microsoft, &url, "SILENT");
    token_request(&commands).expect("code exchange");
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(503, "<html>busy</html>"))),
    );
    match completion(&commands) {
        Some(Err(OperationError::RetryScheduled { diagnosis, .. })) => {
            assert_eq!(diagnosis.action, Action::RetryLater)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.view_of(ProviderId::Microsoft).status, Status::Retrying);
    let at = h.engine.next_wake().expect("a retry is scheduled");
    h.now = at;
    let commands = h.feed(ProviderId::Microsoft, Input::Tick);
    assert_silent_sign_in(&commands);
}

#[test]
fn google_change_offers_the_account_picker_and_the_consent_screen() {
    let mut h = Harness::new();
    let url = open_sign_in(&h.feed(ProviderId::Google, change())).unwrap();
    assert_eq!(
        query(&url, "prompt").as_deref(),
        Some("select_account consent")
    );
    assert_eq!(query(&url, "access_type").as_deref(), Some("offline"));
}

#[test]
fn a_merged_save_replaces_only_the_changed_connection() {
    // Two engine instances share one vault; B's memory still holds A's old Google token.
    let mut a = Harness::new();
    a.sign_in(
        ProviderId::Google,
        change(),
        "alice",
        google_tokens(Some("G-RT-OLD")),
    );
    let mut b = Harness::new();
    b.engine.restore(Some(&a.engine.vault_text())).unwrap();
    // A refreshes Google and the rotated token is stored.
    a.advance(2 * HOUR);
    refresh_request_now(&mut a, ProviderId::Google);
    let body = r#"{"access_token":"ya29.B","expires_in":3599,"refresh_token":"G-RT-NEW","token_type":"Bearer"}"#;
    a.feed(
        ProviderId::Google,
        Input::TokenResponse(Ok(HttpResponse::new(200, body))),
    );
    let stored = a.engine.vault_text();
    // B connects Microsoft and saves with a merge.
    connect_microsoft(&mut b);
    let merged = b
        .engine
        .vault_text_merged(&stored, Some(ProviderId::Microsoft));
    assert!(
        merged.contains("G-RT-NEW") && !merged.contains("G-RT-OLD"),
        "{merged}"
    );
    assert!(merged.contains("RT-1"), "B's own change is in");
    // A plain save from B would have put the old token back.
    assert!(b.engine.vault_text().contains("G-RT-OLD"));
}

#[test]
fn a_signed_in_mail_account_stays_visible_after_choosing_another_service() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.engine
        .select_mail_service(sidebar_auth::provider::MailService::Gmail);
    let view = dashboard(&h.engine, h.now);
    let email = view
        .sections
        .iter()
        .find(|s| s.id == SectionId::Email)
        .unwrap();
    let services: Vec<_> = email.connections.iter().map(|c| c.service).collect();
    assert_eq!(
        services,
        vec![ProviderId::Google, ProviderId::Microsoft],
        "chosen first"
    );
}

#[cfg(not(target_arch = "wasm32"))]
mod robustness {
    //! Whatever a provider or a proxy sends, classification and parsing answer without
    //! panicking, and only an explicit provider statement drops a refresh token.
    use super::*;
    use proptest::prelude::*;
    use sidebar_auth::provider::profile_for;
    use sidebar_auth::token::{parse_token_response, IdTokenExpectations};

    fn providers() -> impl Strategy<Value = ProviderId> {
        prop::sample::select(ProviderId::ALL.to_vec())
    }

    /// Every documented error body of every provider's table.
    fn documented_bodies() -> Vec<String> {
        use sidebar_auth::provider::{google, microsoft, salesforce};
        let mut out = microsoft::documented_error_bodies();
        out.extend(google::DOCUMENTED.iter().map(|row| row.1.to_string()));
        out.extend(salesforce::DOCUMENTED.iter().map(|row| row.1.to_string()));
        out
    }

    fn bodies() -> impl Strategy<Value = String> {
        prop_oneof![
            // The tables' own documented bodies: a 5xx carrying one is still transient.
            prop::sample::select(documented_bodies()),
            any::<String>(),
            // JSON-looking noise around the fields the tables read.
            (any::<Option<String>>(), any::<Option<String>>(), prop::collection::vec(any::<u64>(), 0..3), any::<Option<String>>())
                .prop_map(|(error, description, codes, sub)| serde_json::json!({
                    "error": error, "error_description": description, "error_codes": codes, "suberror": sub
                }).to_string()),
            "\\PC{0,64}".prop_map(|s| format!("{{\"access_token\":\"{s}")),
            // A JWT access token with any `exp`/`iat`, and no `expires_in`.
            (any::<u64>(), any::<Option<u64>>(), any::<Option<String>>()).prop_map(|(exp, iat, issued_at)| {
                let at = jwt(serde_json::json!({"exp": exp, "iat": iat}));
                serde_json::json!({"access_token": at, "token_type": "Bearer", "issued_at": issued_at}).to_string()
            }),
        ]
    }

    /// A vault with a signed-in connection, as the engine writes it.
    fn stored_vault() -> String {
        use sidebar_auth::connection::{Account, PersistedConnection, RefreshTokenRecord};
        use sidebar_auth::vault::Vault;
        let mut vault = Vault::new();
        let connection = PersistedConnection {
            account: Some(Account {
                username: Some("alice@contoso.com".into()),
                ..<Account as Default>::default()
            }),
            refresh_token: Some(RefreshTokenRecord {
                secret: "RT-é".into(),
                signed_in_at: T0,
                hard_deadline: None,
            }),
            ..<PersistedConnection as Default>::default()
        };
        vault.connections.insert(ProviderId::Google, connection);
        vault.encode()
    }

    /// Stored or configured text as storage corruption or a careless edit leaves it.
    fn damaged_texts() -> impl Strategy<Value = String> {
        let vault = stored_vault();
        let config = serde_json::json!({
            "redirectUri": REDIRECT, "microsoft": {"clientId": "m"}, "devtools": {"x": [1]}
        })
        .to_string();
        prop_oneof![
            any::<String>(),
            (
                prop::sample::select(vec![vault.clone(), config.clone()]),
                any::<usize>(),
                any::<char>()
            )
                .prop_map(|(text, at, c)| {
                    let mut chars: Vec<char> = text.chars().collect();
                    let at = at % chars.len();
                    chars[at] = c;
                    chars.into_iter().collect()
                }),
            (prop::sample::select(vec![vault, config]), any::<usize>()).prop_map(|(text, cut)| {
                text.chars().take(cut % text.chars().count()).collect()
            }),
        ]
    }

    proptest! {
        #[test]
        fn damaged_storage_and_configuration_never_panic(text in damaged_texts()) {
            let _ = sidebar_auth::vault::Vault::decode(&text);
            let _ = Config::from_json(&text);
            let mut h = Harness::new();
            h.engine.restore_session(&text, &mut h.random);
        }

        #[test]
        fn a_cut_off_vault_is_never_read_as_a_smaller_one(cut in 0usize..10_000) {
            let vault = stored_vault();
            let cut = cut % vault.len();
            if vault.is_char_boundary(cut) {
                prop_assert!(sidebar_auth::vault::Vault::decode(&vault[..cut]).is_err());
            }
        }

        #[test]
        fn classify_never_panics_and_keeps_tokens_on_transient_statuses(
            provider in providers(),
            status in 0u16..1000,
            body in bodies(),
            retry_after in any::<Option<String>>(),
        ) {
            let mut response = HttpResponse::new(status, body);
            if let Some(value) = retry_after {
                response = response.with_header("Retry-After", &value);
            }
            let d = provider.rules().classify(&response, Timestamp(1_764_000_000_000));
            if status >= 500 || status == 429 {
                prop_assert_eq!(d.action, Action::RetryLater);
                prop_assert!(!d.drop_refresh_token);
            }
            if d.action == Action::RetryLater {
                prop_assert!(!d.drop_refresh_token, "a transient verdict never drops a token");
            }
        }

        #[test]
        fn token_responses_never_panic(provider in providers(), body in bodies(), date in any::<Option<String>>()) {
            let Ok(profile) = profile_for(&config(), provider, &Target::default()) else {
                return Ok(()); // Exchange has no OAuth profile
            };
            let mut response = HttpResponse::new(200, body);
            if let Some(value) = date {
                response = response.with_header("Date", &value);
            }
            let _ = parse_token_response(&profile, &response, T0, IdTokenExpectations { nonce: Some("n") });
        }

        #[test]
        fn id_token_claims_of_any_shape_never_panic(
            provider in providers(),
            payload in prop_oneof![
                any::<String>(),
                (any::<Option<u64>>(), any::<Option<u64>>(), any::<Option<String>>(), any::<Option<String>>())
                    .prop_map(|(exp, iat, sub, aud)| serde_json::json!({
                        "exp": exp, "iat": iat, "sub": sub, "aud": aud, "iss": "https://login.salesforce.com", "nonce": "n"
                    }).to_string()),
            ],
            raw in any::<bool>(),
        ) {
            let Ok(profile) = profile_for(&config(), provider, &Target::default()) else {
                return Ok(());
            };
            let id = if raw { payload.clone() } else {
                format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload.as_bytes()))
            };
            let body = serde_json::json!({"access_token": "AT", "token_type": "Bearer", "id_token": id}).to_string();
            let _ = parse_token_response(&profile, &HttpResponse::new(200, body), T0, IdTokenExpectations { nonce: Some("n") });
        }

        #[test]
        fn redirects_of_any_shape_never_panic(provider in providers(), tail in any::<String>(), prefix in prop::sample::select(vec![REDIRECT.to_string(), String::new(), "https://evil.example/".into()])) {
            let mut h = Harness::new();
            if provider == ProviderId::Exchange {
                return Ok(());
            }
            let commands = h.feed(provider, change());
            prop_assert!(open_sign_in(&commands).is_some());
            // Whatever comes back is refused or accepted without a panic; never a token
            // request unless `state` matched.
            let commands = h.feed(provider, Input::SignInResult(Ok(format!("{prefix}?{tail}"))));
            prop_assert!(token_request(&commands).is_none(), "{commands:?}");
        }
    }

    /// One step of the state-machine property.
    #[derive(Debug, Clone)]
    enum Step {
        Advance(u64),
        Feed(u8),
        Answer(u16, String),
        Unreachable,
        TimedOut,
        SaveFails,
        ReloadOld,
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(
            prop_oneof![
                (0u64..3 * HOUR).prop_map(Step::Advance),
                (0u8..4).prop_map(Step::Feed),
                (
                    prop::sample::select(vec![200u16, 400, 401, 429, 500, 503]),
                    bodies()
                )
                    .prop_map(|(status, body)| Step::Answer(status, body)),
                Just(Step::Unreachable),
                Just(Step::TimedOut),
                Just(Step::SaveFails),
                Just(Step::ReloadOld),
            ],
            1..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
        /// From any state reached by any input sequence: a refresh token survives every
        /// answer that is not a provider's definitive "dead" (`drop_refresh_token`), and a
        /// connection with unsaved changes is never overwritten by a reload (issue 11).
        #[test]
        fn refresh_tokens_survive_non_definitive_failures_and_reloads_never_overwrite_unsaved(
            provider in prop::sample::select(vec![ProviderId::Microsoft, ProviderId::Google, ProviderId::Salesforce]),
            steps in steps(),
        ) {
            let mut h = Harness::new();
            let tokens: Box<dyn Fn(&str) -> String> = match provider {
                ProviderId::Microsoft => Box::new(ms_tokens("alice@contoso.com", "RT-1")),
                ProviderId::Google => Box::new(google_tokens(Some("G-RT"))),
                _ => Box::new(sf_tokens("alice@acme.test", "SF-RT")),
            };
            let commands = h.sign_in(provider, change(), "alice@contoso.com", tokens);
            prop_assert_eq!(completion(&commands), Some(Ok(())));
            let old = h.engine.vault_text();
            for step in steps {
                let before = h.engine.connection(provider).unwrap().state.clone();
                let unsaved = h.engine.connection(provider).unwrap().is_unsaved();
                let mut definitive = false;
                match step {
                    Step::Advance(ms) => h.advance(ms),
                    Step::Feed(i) => {
                        let input = [Input::Tick, Input::AccessTokenNeeded, Input::Online, Input::RetryNow][i as usize].clone();
                        h.feed(provider, input);
                    }
                    Step::Answer(status, body) => {
                        let response = HttpResponse::new(status, body);
                        definitive = status != 200
                            && provider.rules().classify(&response, h.now).drop_refresh_token;
                        h.feed(provider, Input::TokenResponse(Ok(response)));
                    }
                    Step::Unreachable => {
                        h.feed(provider, Input::TokenResponse(Err(
                            sidebar_auth::connection::NetworkFailure::Unreachable("x".into()))));
                    }
                    Step::TimedOut => {
                        h.feed(provider, Input::TokenResponse(Err(
                            sidebar_auth::connection::NetworkFailure::TimedOut)));
                    }
                    Step::SaveFails => h.engine.save_failed(provider, h.now),
                    Step::ReloadOld => {
                        h.engine.reload_connection(provider, &old);
                        if unsaved {
                            prop_assert_eq!(
                                &h.engine.connection(provider).unwrap().state, &before,
                                "an unsaved connection was overwritten by a reload"
                            );
                        }
                        // A reload adopts what storage holds: not a loss by this engine.
                        continue;
                    }
                }
                let after = &h.engine.connection(provider).unwrap().state;
                if before.refresh_token.is_some() && after.refresh_token.is_none() {
                    prop_assert!(definitive, "refresh token lost without a provider's word");
                }
            }
        }
    }
}

/// The contract between the engine and its hosts, as values the engine really produced:
/// dashboard views in the states the Sync Settings screen knows, rejections, events,
/// classifications, a debug state. Written to `target/contract/`:
/// - `fixtures.json`: `{views, errors}`, the view fixtures the dashboard tests render
///   (tests/web/) and rejections to show;
/// - `values.ts`: the same values typed with the generated declarations
///   (`pkg/sidebar_auth.d.ts`), which `tsc --noEmit` checks, so a drift between the Rust
///   types and the TypeScript fails the build.
#[test]
fn contract_values_for_the_hosts() {
    use sidebar_auth::diagnosis::Classification;
    use sidebar_auth::error::ApiError;
    use sidebar_auth::provider::MailService;
    use sidebar_auth::vault::Vault;
    use std::collections::BTreeMap;

    let mut views = BTreeMap::new();
    let mut errors: Vec<ApiError> = Vec::new();
    let mut record_error = |service: ProviderId, commands: &[Command]| {
        if let Some(Err(e)) = completion(commands) {
            errors.push(ApiError::from_operation(service, &e));
        }
    };

    // Nothing connected yet.
    let mut h = Harness::new();
    views.insert("empty", dashboard(&h.engine, h.now));
    h.engine.select_mail_service(MailService::NotSure);
    views.insert("not_sure", dashboard(&h.engine, h.now));
    h.engine.select_mail_service(MailService::Microsoft365);

    // Signing in (a window is open).
    let commands = h.feed(ProviderId::Microsoft, change());
    assert!(open_sign_in(&commands).is_some());
    views.insert("signing_in", dashboard(&h.engine, h.now));
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::SignInResult(Err(SignInFailure::Cancelled)),
    );
    record_error(ProviderId::Microsoft, &commands);

    // Microsoft 365 and Salesforce connected (Salesforce remembers the login).
    connect_microsoft(&mut h);
    let commands = h.sign_in(
        ProviderId::Salesforce,
        change(),
        "alice@acme.test",
        sf_tokens("alice@acme.test", "5Aep-1"),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
    views.insert("connected", dashboard(&h.engine, h.now));
    h.engine.select_mail_service(MailService::Gmail);
    views.insert("gmail_chosen", dashboard(&h.engine, h.now));
    h.engine.select_mail_service(MailService::Microsoft365);
    h.advance(20 * HOUR);
    views.insert("sign_in_soon", dashboard(&h.engine, h.now));

    // A transient failure: will retry.
    refresh_request_now(&mut h, ProviderId::Microsoft);
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(
            HttpResponse::new(503, "").with_header("Retry-After", "120")
        )),
    );
    record_error(ProviderId::Microsoft, &commands);
    views.insert("retrying", dashboard(&h.engine, h.now));

    // The provider said the grant is dead: the card needs the user.
    h.advance(5 * MINUTE);
    refresh_request_now(&mut h, ProviderId::Microsoft);
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(
            400,
            sidebar_auth::provider::microsoft::entra_body(50173, "invalid_grant", None),
        ))),
    );
    record_error(ProviderId::Microsoft, &commands);
    views.insert("attention", dashboard(&h.engine, h.now));
    // And Salesforce says the user is deactivated: only an administrator can help.
    refresh_request_now(&mut h, ProviderId::Salesforce);
    let commands = h.feed(
        ProviderId::Salesforce,
        Input::TokenResponse(Ok(HttpResponse::new(
            400,
            r#"{"error":"inactive_user","error_description":"user is inactive"}"#,
        ))),
    );
    record_error(ProviderId::Salesforce, &commands);
    views.insert("blocked", dashboard(&h.engine, h.now));
    let events: Vec<_> = h.engine.events().cloned().collect();
    let debug = h.engine.debug_state(h.now);

    // Six transient failures in a row: still retrying, with "Try again" (no pause, issue 11).
    let mut paused = Harness::new();
    let commands = paused.sign_in(
        ProviderId::Salesforce,
        change(),
        "alice@acme.test",
        sf_tokens("alice@acme.test", "5Aep-1"),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
    for _ in 0..6 {
        paused.advance(3 * HOUR);
        let commands = paused.feed(ProviderId::Salesforce, Input::AccessTokenNeeded);
        if token_request(&commands).is_some() {
            paused.feed(
                ProviderId::Salesforce,
                Input::TokenResponse(Ok(HttpResponse::new(502, "<html>Bad gateway</html>"))),
            );
        }
    }
    views.insert("paused", dashboard(&paused.engine, paused.now));

    // Saved sign-ins that could not be read.
    let mut broken = Engine::new(config()).unwrap();
    let _ = broken.restore(Some("{\"version\":1,\"connections\":"));
    views.insert("notice", dashboard(&broken, T0));
    assert!(Vault::decode("{").is_err());

    let classifications: Vec<Classification> = [
        (
            ProviderId::Microsoft,
            400,
            sidebar_auth::provider::microsoft::entra_body(700084, "invalid_grant", None),
        ),
        (
            ProviderId::Google,
            400,
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#
                .to_string(),
        ),
        (ProviderId::Salesforce, 503, String::new()),
    ]
    .into_iter()
    .map(|(p, status, body)| {
        p.rules()
            .classify(&HttpResponse::new(status, body), T0)
            .into()
    })
    .collect();

    let views_json = serde_json::to_string_pretty(&views).unwrap();
    let fixtures = serde_json::json!({ "views": &views, "errors": &errors });
    let ts = format!(
        "// Written by `cargo test` (tests/engine_flows.rs, contract_values_for_the_hosts).\n\
         import type {{ ApiError, Classification, DashboardView, DebugState, Event }} from '../../pkg/sidebar_auth';\n\n\
         export const views: Record<string, DashboardView> = {views_json};\n\n\
         export const errors: ApiError[] = {};\n\n\
         export const events: Event[] = {};\n\n\
         export const classifications: Classification[] = {};\n\n\
         export const debug: DebugState = {};\n",
        serde_json::to_string_pretty(&errors).unwrap(),
        serde_json::to_string_pretty(&events).unwrap(),
        serde_json::to_string_pretty(&classifications).unwrap(),
        serde_json::to_string_pretty(&debug).unwrap(),
    );
    for secret in ["RT-1", "AT-alice", "5Aep-1", "CODE-"] {
        assert!(!ts.contains(secret), "{secret} in the contract values");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/contract");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("fixtures.json"),
        serde_json::to_string_pretty(&fixtures).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("values.ts"), ts).unwrap();
}

/// Issue 11, defect 1: a save that fails after a rotation must not lose the grant.
#[test]
fn a_failed_save_after_rotation_keeps_the_rotated_token_and_saves_before_the_next_request() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.engine.mark_saved(None);
    // What storage holds: RT-1.
    let stored = h.engine.vault_text();
    h.advance(2 * HOUR);
    refresh_request_now(&mut h, ProviderId::Microsoft);
    let body =
        r#"{"token_type":"Bearer","expires_in":3600,"access_token":"AT-2","refresh_token":"RT-2"}"#;
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(200, body))),
    );
    assert_eq!(commands.first(), Some(&Command::Persist));
    // The host's save rejects.
    h.engine.save_failed(ProviderId::Microsoft, h.now);
    let connection = h.engine.connection(ProviderId::Microsoft).unwrap();
    assert!(connection.is_unsaved());
    assert_eq!(
        connection.fresh_access_token(h.now),
        None,
        "an access token whose grant is not stored is not handed out"
    );
    assert_eq!(
        h.engine.next_wake(),
        Some(h.now.plus(30 * SECOND)),
        "the wake-up is re-armed to save again"
    );
    // The next renewal re-reads storage under the host lock: it must not take RT-1 back.
    assert!(!h.engine.reload_connection(ProviderId::Microsoft, &stored));
    assert!(h.engine.vault_text().contains("RT-2"));
    // The access token is asked for: the save goes first, nothing else before it.
    let commands = h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded);
    assert_eq!(commands, vec![Command::Persist, Command::Complete(Ok(()))]);
    // It fails again: still unsaved; a wake-up retries the save first.
    h.engine.save_failed(ProviderId::Microsoft, h.now);
    h.advance(30 * SECOND);
    let commands = h.feed(ProviderId::Microsoft, Input::Tick);
    assert_eq!(commands.first(), Some(&Command::Persist));
    h.engine.mark_saved(Some(ProviderId::Microsoft));
    let connection = h.engine.connection(ProviderId::Microsoft).unwrap();
    assert_eq!(connection.fresh_access_token(h.now), Some("AT-2"));
    // Once saved, the token request after expiry carries the rotated token.
    h.advance(2 * HOUR);
    let request = refresh_request_now(&mut h, ProviderId::Microsoft);
    assert_eq!(
        form_field(&request.body, "refresh_token").as_deref(),
        Some("RT-2")
    );
}

/// Issue 11, defect 1: when the token is expired and the save failed, the save precedes
/// the refresh request.
#[test]
fn an_unsaved_connection_saves_before_any_token_request() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.engine.save_failed(ProviderId::Microsoft, h.now);
    h.advance(2 * HOUR);
    let commands = h.feed(ProviderId::Microsoft, Input::AccessTokenNeeded);
    assert_eq!(commands.first(), Some(&Command::Persist));
    assert!(token_request(&commands[1..]).is_some());
}

/// Issue 11, defect 8: an unreadable stored vault is kept and only the changed connection
/// is written next to it, never this instance's memory of the others.
#[test]
fn a_merged_save_over_unreadable_text_writes_only_the_changed_connection() {
    let mut h = Harness::new();
    h.sign_in(
        ProviderId::Google,
        change(),
        "alice",
        google_tokens(Some("G-RT-STALE")),
    );
    connect_microsoft(&mut h);
    let merged = h
        .engine
        .vault_text_merged("not a vault {", Some(ProviderId::Microsoft));
    assert!(merged.contains("RT-1"), "{merged}");
    assert!(!merged.contains("G-RT-STALE"), "{merged}");
    assert!(merged.contains("not a vault {"), "unreadable text kept");
}

/// Issue 11, defect 6: a Refresh that comes back as another user never replaces the
/// mailbox; Change still switches accounts.
#[test]
fn a_refresh_that_returns_another_account_is_refused() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    let commands = h.sign_in(
        ProviderId::Microsoft,
        Input::Reauthorize,
        "mallory@contoso.com",
        ms_tokens("mallory@contoso.com", "RT-MALLORY"),
    );
    assert_eq!(
        completion(&commands),
        Some(Err(OperationError::WrongAccount))
    );
    assert!(!commands.contains(&Command::Persist), "nothing stored");
    let c = h.engine.connection(ProviderId::Microsoft).unwrap();
    let account = c.state.account.as_ref().unwrap();
    assert_eq!(account.username.as_deref(), Some("alice@contoso.com"));
    assert_eq!(c.fresh_access_token(h.now), Some("AT-alice@contoso.com"));
    let vault = h.engine.vault_text();
    assert!(vault.contains("RT-1") && !vault.contains("RT-MALLORY"));
    // Change is the explicit way to switch.
    let commands = h.sign_in(
        ProviderId::Microsoft,
        change(),
        "mallory@contoso.com",
        ms_tokens("mallory@contoso.com", "RT-MALLORY"),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
}

/// Issue 11, defect 6: a silent renewal that lands in another account's provider session
/// is refused and the user is asked, the connection keeps its account.
#[test]
fn a_silent_renewal_that_returns_another_account_is_refused() {
    let mut h = past_the_spa_horizon();
    let commands = h.sign_in(
        ProviderId::Microsoft,
        Input::AccessTokenNeeded,
        "mallory@contoso.com",
        ms_tokens("mallory@contoso.com", "RT-MALLORY"),
    );
    assert!(
        matches!(
            completion(&commands),
            Some(Err(OperationError::NeedsAttention(_)))
        ),
        "{commands:?}"
    );
    let c = h.engine.connection(ProviderId::Microsoft).unwrap();
    assert_eq!(
        c.state.account.as_ref().unwrap().username.as_deref(),
        Some("alice@contoso.com")
    );
    assert!(!h.engine.vault_text().contains("RT-MALLORY"));
}

/// Salesforce token response with `instance_url` set to `instance`.
fn sf_tokens_at(user: &'static str, instance: &'static str) -> impl Fn(&str) -> String {
    move |nonce| sf_tokens(user, "SF-RT")(nonce).replace("https://acme.my.salesforce.com", instance)
}

/// Issue 11, defect 3: `instance_url` only from Salesforce, https, on its documented
/// domains (or configured ones); never moved by a refresh.
#[test]
fn instance_url_is_accepted_only_from_salesforce_on_its_domains() {
    for (instance, accepted) in [
        ("https://acme.my.salesforce.com", true),
        ("https://acme--uat.sandbox.my.salesforce.com", true),
        ("https://na1.salesforce.com", true),
        ("https://acme.lightning.force.com", true),
        ("https://evil.example", false),
        ("https://salesforce.com.evil.example", false),
        ("http://acme.my.salesforce.com", false),
        ("http://127.0.0.1:8443", false),
        ("not a url", false),
    ] {
        let mut h = Harness::new();
        let commands = h.sign_in(
            ProviderId::Salesforce,
            change(),
            "alice@acme.test",
            sf_tokens_at("alice@acme.test", instance),
        );
        if accepted {
            assert_eq!(completion(&commands), Some(Ok(())), "{instance}");
            let api = format!("{instance}/services/data/v60.0/sobjects");
            assert!(h.engine.check_api_url(ProviderId::Salesforce, &api).is_ok());
        } else {
            assert!(
                matches!(
                    completion(&commands),
                    Some(Err(OperationError::TokenResponse(
                        sidebar_auth::token::TokenResponseError::InstanceUrlRefused(_)
                    )))
                ),
                "{instance}: {commands:?}"
            );
            assert!(!h
                .engine
                .connection(ProviderId::Salesforce)
                .unwrap()
                .is_connected());
        }
    }
    // Another cloud's domain, configured.
    let mut config = serde_json::to_value(serde_json::json!({
        "redirectUri": REDIRECT,
        "salesforce": {"clientId": "sf-client", "issuer": "https://login.salesforce.com",
                       "instanceDomains": ["my.salesforce.mil"]}
    }))
    .unwrap();
    let mut h = Harness::with_config(Config::from_json(&config.take().to_string()).unwrap());
    let commands = h.sign_in(
        ProviderId::Salesforce,
        change(),
        "alice@acme.test",
        sf_tokens_at("alice@acme.test", "https://acme.my.salesforce.mil"),
    );
    assert_eq!(completion(&commands), Some(Ok(())));
}

#[test]
fn a_refresh_never_moves_the_instance_and_other_providers_never_set_one() {
    let mut h = Harness::new();
    h.sign_in(
        ProviderId::Salesforce,
        change(),
        "alice@acme.test",
        sf_tokens("alice@acme.test", "SF-RT"),
    );
    h.advance(3 * HOUR);
    refresh_request_now(&mut h, ProviderId::Salesforce);
    let body = r#"{"access_token":"00D!AT-2","instance_url":"https://other.my.salesforce.com","token_type":"Bearer","issued_at":"1"}"#;
    let commands = h.feed(
        ProviderId::Salesforce,
        Input::TokenResponse(Ok(HttpResponse::new(200, body))),
    );
    assert_eq!(
        completion(&commands),
        Some(Ok(())),
        "the new token is still fine"
    );
    let c = h.engine.connection(ProviderId::Salesforce).unwrap();
    assert_eq!(
        c.state.instance_url.as_deref(),
        Some("https://acme.my.salesforce.com"),
        "the first instance stays"
    );
    assert!(h
        .engine
        .check_api_url(ProviderId::Salesforce, "https://other.my.salesforce.com/x")
        .is_err());
    assert!(h
        .engine
        .events()
        .any(|e| e.kind == "instance_url_change_refused"));

    // A Microsoft token response carrying an instance_url: ignored.
    let mut h = Harness::new();
    let with_instance = |nonce: &str| {
        ms_tokens("alice@contoso.com", "RT-1")(nonce).replace(
            "\"token_type\"",
            "\"instance_url\":\"https://evil.example\",\"token_type\"",
        )
    };
    let commands = h.sign_in(
        ProviderId::Microsoft,
        change(),
        "alice@contoso.com",
        with_instance,
    );
    assert_eq!(completion(&commands), Some(Ok(())));
    let c = h.engine.connection(ProviderId::Microsoft).unwrap();
    assert_eq!(c.state.instance_url, None);
    assert!(h
        .engine
        .check_api_url(ProviderId::Microsoft, "https://evil.example/v1.0/me")
        .is_err());
}

/// Issue 11, defect 5: an unanswered refresh is a timeout, and a refusal of the retry right
/// after it is not blamed on the password.
#[test]
fn a_timed_out_refresh_is_reported_as_such_and_a_refused_retry_is_told_truthfully() {
    use sidebar_auth::connection::NetworkFailure;
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    refresh_request_now(&mut h, ProviderId::Microsoft);
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Err(NetworkFailure::TimedOut)),
    );
    let at = match completion(&commands) {
        Some(Err(OperationError::RetryScheduled { at, diagnosis })) => {
            assert_eq!(diagnosis.reason, Reason::RequestTimedOut);
            at
        }
        other => panic!("{other:?}"),
    };
    let card = h.view_of(ProviderId::Microsoft);
    assert_eq!(
        card.reason_text.as_deref(),
        Some("The service did not answer in time. Sync will retry by itself.")
    );
    assert!(h.engine.vault_text().contains("RT-1"), "kept");
    // The retry is refused as a reused/revoked grant.
    h.now = at;
    let commands = h.feed(ProviderId::Microsoft, Input::Tick);
    assert!(token_request(&commands).is_some());
    let body = r#"{"error":"invalid_grant","error_description":"AADSTS50173: The provided grant has expired due to it being revoked.","error_codes":[50173]}"#;
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(400, body))),
    );
    match completion(&commands) {
        Some(Err(OperationError::NeedsAttention(d))) => {
            assert_eq!(d.reason, Reason::RefreshOutcomeLost);
            assert_eq!(d.provider_code.as_deref(), Some("AADSTS50173"));
        }
        other => panic!("{other:?}"),
    }
    let text = h.view_of(ProviderId::Microsoft).reason_text.unwrap();
    assert!(!text.contains("password was changed"), "{text}");
    assert!(
        text.contains("did not get an answer") || text.contains("no answer"),
        "{text}"
    );

    // Without a timeout before it, the same answer keeps its own diagnosis.
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    refresh_request_now(&mut h, ProviderId::Microsoft);
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(400, body))),
    );
    match completion(&commands) {
        Some(Err(OperationError::NeedsAttention(d))) => {
            assert_ne!(d.reason, Reason::RefreshOutcomeLost)
        }
        other => panic!("{other:?}"),
    }
}

/// A refresh whose host never answered (a killed service worker) leaves the same doubt.
#[test]
fn a_refresh_lost_in_flight_leaves_its_outcome_unknown() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    refresh_request_now(&mut h, ProviderId::Microsoft);
    h.advance(3 * MINUTE);
    h.feed(ProviderId::Microsoft, Input::Tick);
    assert!(
        h.engine
            .connection(ProviderId::Microsoft)
            .unwrap()
            .state
            .refresh_outcome_unknown
    );
}

/// A refresh whose answer comes after the engine gave it up (a slow provider, a clock moved
/// while it was in flight): a successful late answer is taken, so its rotated refresh token
/// is kept. Dropping it left only the rotated-away token, and the next refresh replayed it
/// (a provider with reuse detection then revokes the grant; found by the extension's
/// two-instance test, which moves the clock while a refresh is in flight).
#[test]
fn a_late_successful_refresh_keeps_its_rotated_refresh_token() {
    let mut h = Harness::new();
    connect_microsoft(&mut h);
    h.advance(2 * HOUR);
    let request = refresh_request_now(&mut h, ProviderId::Microsoft);
    assert_eq!(
        form_field(&request.body, "refresh_token").as_deref(),
        Some("RT-1")
    );
    // Hours pass before the answer arrives: the refresh was given up as unanswered.
    h.advance(3 * HOUR);
    let body = r#"{"token_type":"Bearer","expires_in":3600,"access_token":"AT-late","refresh_token":"RT-2"}"#;
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(200, body))),
    );
    assert_eq!(commands.first(), Some(&Command::Persist), "{commands:?}");
    let vault = h.engine.vault_text();
    assert!(vault.contains("RT-2") && !vault.contains("RT-1"));
    // The next refresh sends the rotated token, never the rotated-away one.
    h.advance(2 * HOUR);
    let request = refresh_request_now(&mut h, ProviderId::Microsoft);
    assert_eq!(
        form_field(&request.body, "refresh_token").as_deref(),
        Some("RT-2")
    );
    // A late failure changes nothing.
    h.advance(3 * HOUR);
    let commands = h.feed(
        ProviderId::Microsoft,
        Input::TokenResponse(Ok(HttpResponse::new(
            400,
            sidebar_auth::provider::microsoft::entra_body(50173, "invalid_grant", None),
        ))),
    );
    assert!(commands.is_empty(), "{commands:?}");
    assert!(h.engine.vault_text().contains("RT-2"));
}

#[test]
fn an_uncertain_salesforce_session_is_checked_with_userinfo_before_use() {
    // Salesforce gives no expires_in: past half of the estimated session, the token is
    // verified at the login host's userinfo endpoint first (issue 11, defect 10).
    let mut h = Harness::new();
    salesforce_connected(&mut h);
    let lifetime = {
        let c = h.engine.connection(ProviderId::Salesforce).unwrap();
        assert_eq!(c.session_check(h.now), None, "just issued: certain");
        c.access_token().unwrap().expiry.lifetime
    };
    h.advance(lifetime / 2 + SECOND);
    let url = h
        .engine
        .connection(ProviderId::Salesforce)
        .unwrap()
        .session_check(h.now)
        .expect("half the session gone without a sign of life: checked")
        .to_string();
    // The login host's userinfo endpoint.
    assert_eq!(url, "https://login.salesforce.com/services/oauth2/userinfo");
    // A 200 is a sign of life: the estimate moves on, no check until half of it again.
    h.feed(ProviderId::Salesforce, Input::ApiSucceeded);
    let c = h.engine.connection(ProviderId::Salesforce).unwrap();
    assert_eq!(c.session_check(h.now), None);
    assert!(c.fresh_access_token(h.now).is_some());
    // A 403 from it: the session ended; the token is not handed out, a refresh is due.
    h.advance(lifetime / 2 + SECOND);
    assert!(h
        .engine
        .connection(ProviderId::Salesforce)
        .unwrap()
        .session_check(h.now)
        .is_some());
    h.feed(
        ProviderId::Salesforce,
        Input::ApiUnauthorized(HttpResponse::new(403, "Bad_OAuth_Token")),
    );
    let c = h.engine.connection(ProviderId::Salesforce).unwrap();
    assert_eq!(c.fresh_access_token(h.now), None);
    assert_eq!(c.attention(), None, "no sign-in: a refresh follows");
    let commands = h.feed(ProviderId::Salesforce, Input::AccessTokenNeeded);
    assert!(token_request(&commands).is_some(), "{commands:?}");
    // Providers whose tokens carry their lifetime are never checked this way.
    connect_microsoft(&mut h);
    h.advance(50 * MINUTE);
    assert_eq!(
        h.engine
            .connection(ProviderId::Microsoft)
            .unwrap()
            .session_check(h.now),
        None
    );
}

#[test]
fn a_vacant_connection_has_nothing_for_a_tick_and_a_connected_one_is_not_vacant() {
    let mut h = Harness::new();
    let vacant = |h: &Harness, service| h.engine.connection(service).unwrap().is_vacant();
    // A fresh vault: the hosts skip these on tick and online (no lock, no storage read).
    for service in h.engine.services() {
        assert!(vacant(&h, service), "{service:?} starts vacant");
        assert_eq!(h.feed(service, Input::Tick), vec![]);
        assert_eq!(h.feed(service, Input::Online), vec![]);
    }
    // Signing in is not vacant (a tick expires a sign-in window left open).
    h.feed(ProviderId::Microsoft, change());
    assert!(!vacant(&h, ProviderId::Microsoft));
    h.feed(
        ProviderId::Microsoft,
        Input::SignInResult(Err(SignInFailure::Cancelled)),
    );
    connect_microsoft(&mut h);
    assert!(!vacant(&h, ProviderId::Microsoft));
    // Past its expiry, the connected one has work for a tick.
    h.advance(2 * HOUR);
    assert!(token_request(&h.feed(ProviderId::Microsoft, Input::Tick)).is_some());
}

//! The JavaScript API in headless Chromium (wasm-bindgen-test): error codes, real WebCrypto
//! and IndexedDB for the vault, and token requests against the loopback authorization
//! server `tests/support/token-server.mjs`, whose URL the test command passes at build time
//! in SIDEBAR_AUTH_TOKEN_SERVER.
#![cfg(target_arch = "wasm32")]

use js_sys::{Promise, Reflect};
use sidebar_auth::web::{classify_refresh_error, HostDriver, SidebarAuth};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
export function makeDriver(store) {
  return {
    async openSignIn(url, redirectUri, interactive) {
      store.opened = (store.opened || 0) + 1;
      // Stand-in for the browser following the provider's 302 after login.
      const r = await fetch(url);
      const body = await r.json();
      if (!body.location) throw { code: 'sign_in_failed', message: 'no location' };
      return body.location;
    },
    async load() { return store.text ?? null; },
    async save(text) {
      if (store.failSaves > 0) { store.failSaves -= 1; throw new Error('QuotaExceededError'); }
      store.saves = (store.saves || 0) + 1; store.text = text;
    },
  };
}
export function makeLockedDriver(store) {
  // Like the extension: a session cache and the Web Locks API across engine instances.
  const driver = makeDriver(store);
  driver.loadSession = async () => store.session ?? null;
  driver.saveSession = async (text) => { store.session = text; };
  driver.withLock = (name, task) => navigator.locks.request(name, task);
  return driver;
}
export function makeStore(text) { return { text }; }
export function failSaves(store, n) { store.failSaves = n; }
export function storeText(store) { return store.text ?? null; }
export async function control(base, path, body) {
  const r = await fetch(base + path, { method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return r.json();
}
export function all(promises) { return Promise.allSettled(promises); }
"#)]
extern "C" {
    fn makeDriver(store: &JsValue) -> JsValue;
    fn makeLockedDriver(store: &JsValue) -> JsValue;
    fn makeStore(text: JsValue) -> JsValue;
    fn failSaves(store: &JsValue, n: u32);
    fn storeText(store: &JsValue) -> JsValue;
    fn control(base: &str, path: &str, body: JsValue) -> Promise;
    fn all(promises: &js_sys::Array) -> Promise;
}

fn server() -> &'static str {
    match option_env!("SIDEBAR_AUTH_TOKEN_SERVER") {
        Some(url) => url,
        None => panic!("SIDEBAR_AUTH_TOKEN_SERVER is set by the test command (tests/run.sh)"),
    }
}

fn get(value: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(value.clone(), |v, key| {
        Reflect::get(&v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    })
}

fn get_str(value: &JsValue, path: &str) -> Option<String> {
    get(value, path).as_string()
}

async fn call(base: &str, path: &str, body: Option<&str>) -> JsValue {
    let body = body
        .map(|b| js_sys::JSON::parse(b).unwrap())
        .unwrap_or(JsValue::UNDEFINED);
    JsFuture::from(control(base, path, body)).await.unwrap()
}

async fn stats(grant: &str) -> f64 {
    get(&call(server(), "/control/stats", None).await, grant)
        .as_f64()
        .unwrap()
}

fn config() -> JsValue {
    let base = server();
    let text = format!(
        r#"{{"redirectUri":"http://127.0.0.1:9/callback.html",
            "google":{{"clientId":"test-client","clientSecret":"test-secret",
              "authorizeUrl":"{base}/authorize","tokenUrl":"{base}/token","revokeUrl":"{base}/revoke",
              "issuer":"{base}","apiOrigins":["{base}"]}},
            "salesforce":{{"clientId":"sf-client","issuer":"{base}",
              "loginHosts":[{{"id":"local","label":"Local","url":"{base}/sf"}}]}}}}"#
    );
    js_sys::JSON::parse(&text).unwrap()
}

async fn open(store: &JsValue) -> SidebarAuth {
    let driver: HostDriver = makeDriver(store).unchecked_into();
    match SidebarAuth::open(config(), driver).await {
        Ok(auth) => auth,
        Err(e) => panic!("create failed: {} {}", e.code, e.message),
    }
}

/// An instance with the extension's kind of driver: a session cache and Web Locks.
async fn open_locked(store: &JsValue) -> SidebarAuth {
    let driver: HostDriver = makeLockedDriver(store).unchecked_into();
    match SidebarAuth::open(config(), driver).await {
        Ok(auth) => auth,
        Err(e) => panic!("create: {}", e.message),
    }
}

async fn settle(promise: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}

fn google_card(view: &JsValue) -> JsValue {
    let sections: js_sys::Array = get(view, "sections").unchecked_into();
    for section in sections.iter() {
        let cards: js_sys::Array = get(&section, "connections").unchecked_into();
        for card in cards.iter() {
            if get_str(&card, "service").as_deref() == Some("google") {
                return card;
            }
        }
    }
    panic!("no google card")
}

async fn connected(store: &JsValue) -> SidebarAuth {
    let auth = open(store).await;
    auth.select_mail_service("gmail").unwrap();
    let view = settle(auth.connect("google".into(), JsValue::UNDEFINED))
        .await
        .unwrap_or_else(|e| panic!("connect: {:?}", get_str(&e, "message")));
    let card = google_card(&view);
    assert_eq!(get_str(&card, "status").as_deref(), Some("connected"));
    assert_eq!(
        get_str(&card, "account").as_deref(),
        Some("alice@example.test")
    );
    auth
}

#[wasm_bindgen_test]
fn classify_refresh_error_maps_documented_rows() {
    let d = classify_refresh_error(
        "microsoft",
        400.0,
        r#"{"error":"invalid_grant","error_codes":[50173],"error_description":"AADSTS50173: revoked"}"#,
    );
    assert_eq!(
        get_str(&d, "reason").as_deref(),
        Some("refresh_token_revoked")
    );
    assert_eq!(get_str(&d, "action").as_deref(), Some("refresh"));
    assert_eq!(get(&d, "dropRefreshToken").as_bool(), Some(true));
    let d = classify_refresh_error(
        "salesforce",
        400.0,
        r#"{"error":"invalid_grant","error_description":"ip restricted or invalid login hours"}"#,
    );
    assert_eq!(get_str(&d, "action").as_deref(), Some("contact_admin"));
    let d = classify_refresh_error("exchange", 401.0, "");
    assert_eq!(
        get_str(&d, "reason").as_deref(),
        Some("credentials_rejected")
    );
}

#[wasm_bindgen_test]
fn classify_refresh_error_never_throws() {
    let huge = "{".repeat(100_000);
    let inputs: [(&str, f64, &str); 8] = [
        ("google", 503.0, "<html>"),
        ("google", f64::NAN, ""),
        ("microsoft", -1.0, "\u{0}\u{ffff}"),
        ("salesforce", 400.0, &huge),
        ("yahoo", 400.0, "{}"),
        ("", 0.0, ""),
        ("google", 0.0, ""),
        ("microsoft", 1e300, "null"),
    ];
    for (provider, status, body) in inputs {
        let d = classify_refresh_error(provider, status, body);
        let action = get_str(&d, "action").unwrap();
        assert!(
            ["retry_later", "refresh", "change", "contact_admin"].contains(&action.as_str()),
            "{provider} {status}: {action}"
        );
        assert!(get_str(&d, "reason").is_some());
    }
    // A failed fetch (status 0) keeps the token and retries.
    let d = classify_refresh_error("google", 0.0, "");
    assert_eq!(
        get_str(&d, "reason").as_deref(),
        Some("network_unavailable")
    );
    assert_eq!(get(&d, "dropRefreshToken").as_bool(), Some(false));
}

#[wasm_bindgen_test]
async fn create_rejects_bad_configuration_and_drivers_with_codes() {
    let store = makeStore(JsValue::NULL);
    for bad in [
        r#"{}"#,
        r#"{"redirectUri":"https://x.chromiumapp.org/","google":{"clientId":"a","typo":1}}"#,
        r#"{"redirectUri":"https://x.chromiumapp.org/","google":{"clientId":"a","tokenUrl":"http://evil.example/token"}}"#,
        r#"{"redirectUri":"https://x.chromiumapp.org/","salesforce":{"clientId":""}}"#,
    ] {
        let driver: HostDriver = makeDriver(&store).unchecked_into();
        let result = SidebarAuth::open(js_sys::JSON::parse(bad).unwrap(), driver).await;
        let error = result.err().unwrap_or_else(|| panic!("accepted {bad}"));
        assert_eq!(error.code, "invalid_config", "{bad}: {}", error.message);
        assert!(!error.message.is_empty());
    }
    // Read from a JS object, errors still name the path of the wrong field, and a key the
    // configuration does not have is refused (serde-wasm-bindgen alone would skip it).
    for (bad, path) in [
        (
            r#"{"redirectUri":"https://x.chromiumapp.org/","microsoft":{"clientId":"m","tenant":7}}"#,
            "microsoft.tenant:",
        ),
        (
            r#"{"redirectUri":"https://x.chromiumapp.org/","google":{"clientId":"a","typo":1}}"#,
            "google.typo: unknown field",
        ),
    ] {
        let driver: HostDriver = makeDriver(&store).unchecked_into();
        let error = SidebarAuth::open(js_sys::JSON::parse(bad).unwrap(), driver)
            .await
            .err()
            .unwrap();
        assert!(error.message.contains(path), "{bad}: {}", error.message);
    }
    let not_a_driver: HostDriver = js_sys::Object::new().unchecked_into();
    let error = SidebarAuth::open(config(), not_a_driver)
        .await
        .err()
        .unwrap();
    assert_eq!(error.code, "invalid_driver");
    // Through the exported promise API, the rejection is a plain object with `code`.
    let driver: HostDriver = makeDriver(&store).unchecked_into();
    let rejected = settle(SidebarAuth::create(
        js_sys::JSON::parse("{}").unwrap(),
        driver,
    ))
    .await
    .unwrap_err();
    assert_eq!(
        get_str(&rejected, "code").as_deref(),
        Some("invalid_config")
    );
}

#[wasm_bindgen_test]
async fn unknown_service_and_foreign_origin_are_refused() {
    let store = makeStore(JsValue::NULL);
    let auth = connected(&store).await;
    let e = settle(auth.access_token("yahoo".into())).await.unwrap_err();
    assert_eq!(get_str(&e, "code").as_deref(), Some("unknown_service"));
    let e = settle(auth.fetch(
        "google".into(),
        "https://evil.example/steal".into(),
        JsValue::UNDEFINED,
    ))
    .await
    .unwrap_err();
    assert_eq!(get_str(&e, "code").as_deref(), Some("foreign_origin"));
    let e = settle(auth.access_token("salesforce".into()))
        .await
        .unwrap_err(); // configured, never connected
    assert_eq!(get_str(&e, "code").as_deref(), Some("not_connected"));
}

#[wasm_bindgen_test]
async fn sign_in_exchange_refresh_shared_by_concurrent_callers_and_vault() {
    call(server(), "/control/reset", Some("{}")).await;
    let store = makeStore(JsValue::NULL);
    let auth = connected(&store).await;
    assert_eq!(stats("authorization_code").await, 1.0);
    let first = settle(auth.access_token("google".into()))
        .await
        .unwrap()
        .as_string()
        .unwrap();
    assert!(first.starts_with("AT-"));

    // The vault is sealed: no token text, and a second instance opens it.
    let saved = storeText(&store).as_string().unwrap();
    assert!(saved.contains("\"sealed\":2"), "{saved}");
    assert!(!saved.contains("RT-") && !saved.contains("AT-"));
    let reopened = open(&store).await;
    reopened.select_mail_service("gmail").unwrap();
    assert_eq!(
        get_str(&google_card(&reopened.view().unwrap()), "status").as_deref(),
        Some("connected")
    );

    // Past expiry, five concurrent callers share one refresh.
    auth.advance_clock(2.0 * 3_600_000.0);
    let calls = js_sys::Array::new();
    for _ in 0..5 {
        calls.push(&auth.access_token("google".into()));
    }
    let results: js_sys::Array = JsFuture::from(all(&calls)).await.unwrap().unchecked_into();
    let tokens: Vec<String> = results
        .iter()
        .map(|r| get_str(&r, "value").expect("fulfilled"))
        .collect();
    assert!(tokens.iter().all(|t| t == &tokens[0] && t != &first));
    assert_eq!(stats("refresh_token").await, 1.0);

    // Authorized fetch; a 401 refreshes once and retries once.
    let url = format!("{}/api/me", server());
    let ok = settle(auth.fetch("google".into(), url.clone(), JsValue::UNDEFINED))
        .await
        .unwrap();
    assert_eq!(get(&ok, "status").as_f64(), Some(200.0));
    call(server(), "/control/api-401", Some("{}")).await;
    let retried = settle(auth.fetch("google".into(), url, JsValue::UNDEFINED))
        .await
        .unwrap();
    assert_eq!(get(&retried, "status").as_f64(), Some(200.0));
    assert_eq!(stats("refresh_token").await, 2.0);

    // The provider says the grant is dead: needs attention, token dropped.
    call(
        server(),
        "/control/fail-next",
        Some(r#"{"status":400,"body":{"error":"invalid_grant","error_description":"Token has been expired or revoked."}}"#),
    )
    .await;
    auth.advance_clock(2.0 * 3_600_000.0);
    let e = settle(auth.access_token("google".into()))
        .await
        .unwrap_err();
    assert_eq!(get_str(&e, "code").as_deref(), Some("needs_attention"));
    assert_eq!(get_str(&e, "reason").as_deref(), Some("sign_in_ended"));
    assert_eq!(get_str(&e, "action").as_deref(), Some("refresh"));
    let card = google_card(&auth.view().unwrap());
    assert_eq!(get_str(&card, "status").as_deref(), Some("needs_attention"));

    // Refresh (same account) reconnects; disconnect revokes at the provider.
    settle(auth.reauthorize("google".into())).await.unwrap();
    assert_eq!(
        get_str(&google_card(&auth.view().unwrap()), "status").as_deref(),
        Some("connected")
    );
    settle(auth.disconnect("google".into())).await.unwrap();
    assert_eq!(stats("tokens_revoked").await, 1.0);
    assert_eq!(
        get_str(&google_card(&auth.view().unwrap()), "status").as_deref(),
        Some("disconnected")
    );
    let events = js_sys::JSON::stringify(&auth.event_log())
        .unwrap()
        .as_string()
        .unwrap();
    assert!(!events.contains("AT-") && !events.contains("RT-") && !events.contains("C-"));
}

#[wasm_bindgen_test]
async fn transient_failures_keep_the_refresh_token() {
    let store = makeStore(JsValue::NULL);
    let auth = connected(&store).await;
    auth.advance_clock(2.0 * 3_600_000.0);
    call(
        server(),
        "/control/fail-next",
        Some(r#"{"status":503,"body":"<html>down</html>","headers":{"Retry-After":"1"}}"#),
    )
    .await;
    let e = settle(auth.access_token("google".into()))
        .await
        .unwrap_err();
    assert_eq!(get_str(&e, "code").as_deref(), Some("retry_scheduled"));
    assert_eq!(get_str(&e, "action").as_deref(), Some("retry_later"));
    let card = google_card(&auth.view().unwrap());
    assert_eq!(get_str(&card, "status").as_deref(), Some("retrying"));
    call(
        server(),
        "/control/fail-next",
        Some(r#"{"status":200,"body":"{\"access_token\": \"cut"}"#),
    )
    .await;
    auth.advance_clock(20.0 * 60_000.0);
    let e = settle(auth.access_token("google".into()))
        .await
        .unwrap_err();
    assert_eq!(get_str(&e, "code").as_deref(), Some("retry_scheduled"));
    // The same refresh token still works once the provider is back.
    auth.advance_clock(20.0 * 60_000.0);
    let token = settle(auth.access_token("google".into())).await.unwrap();
    assert!(token.as_string().unwrap().starts_with("AT-"));
}

#[wasm_bindgen_test]
async fn corrupted_storage_is_kept_and_reported() {
    let store = makeStore(JsValue::from_str(
        "{\"sealed\":1,\"alg\":\"A256GCM\",\"iv\":\"AAAA\",\"data\":\"garbage\"}",
    ));
    let auth = open(&store).await;
    let view = auth.view().unwrap();
    assert!(get_str(&view, "notice").is_some(), "the dashboard says so");
    // The next save keeps the unreadable text inside the (sealed) vault; nothing is lost.
    let e = settle(auth.access_token("google".into()))
        .await
        .unwrap_err();
    assert_eq!(get_str(&e, "code").as_deref(), Some("not_connected"));
}

#[wasm_bindgen_test]
async fn two_engine_instances_share_one_refresh_under_the_lock() {
    call(server(), "/control/reset", Some("{}")).await;
    let store = makeStore(JsValue::NULL);
    let worker = open_locked(&store).await;
    settle(worker.connect("google".into(), JsValue::UNDEFINED))
        .await
        .unwrap();
    // A second context (a side panel) opens the same storage.
    let panel = open_locked(&store).await;
    worker.advance_clock(2.0 * 3_600_000.0);
    panel.advance_clock(2.0 * 3_600_000.0);
    let calls = js_sys::Array::of2(
        &worker.access_token("google".into()),
        &panel.access_token("google".into()),
    );
    let results: js_sys::Array = JsFuture::from(all(&calls)).await.unwrap().unchecked_into();
    let tokens: Vec<Option<String>> = results.iter().map(|r| get_str(&r, "value")).collect();
    assert!(
        tokens[0].is_some(),
        "{:?}",
        get_str(&results.get(0), "reason.message")
    );
    assert_eq!(
        tokens[0], tokens[1],
        "the panel took the worker's new token"
    );
    // One refresh, and no replay of the rotated refresh token (the server would refuse it).
    assert_eq!(stats("refresh_token").await, 1.0);
}

#[wasm_bindgen_test]
async fn an_instance_never_writes_back_another_connections_stale_refresh_token() {
    call(server(), "/control/reset", Some("{}")).await;
    let store = makeStore(JsValue::NULL);
    let a = open_locked(&store).await;
    settle(a.connect("google".into(), JsValue::UNDEFINED))
        .await
        .unwrap();
    settle(a.connect("salesforce".into(), JsValue::UNDEFINED))
        .await
        .unwrap();
    let b = open_locked(&store).await;
    a.advance_clock(2.0 * 3_600_000.0);
    b.advance_clock(2.0 * 3_600_000.0);
    // A rotates Google's refresh token; then B renews Salesforce and saves.
    settle(a.access_token("google".into())).await.unwrap();
    settle(b.access_token("salesforce".into())).await.unwrap();
    // A renews Google again from storage: B's save must not have put the old token back.
    a.advance_clock(2.0 * 3_600_000.0);
    let token = settle(a.access_token("google".into())).await;
    assert!(
        token.is_ok(),
        "{:?}",
        token.err().and_then(|e| get_str(&e, "reason"))
    );
    assert_eq!(stats("refresh_token").await, 3.0);
}

/// Issue 11, defect 1: a save that rejects once after a rotation. Before the fix the next
/// renewal reloaded the old refresh token from storage and replayed it; the server's reuse
/// detection then revoked the grant.
#[wasm_bindgen_test]
async fn a_save_that_fails_once_after_rotation_never_replays_the_old_refresh_token() {
    call(server(), "/control/reset", Some("{}")).await;
    let store = makeStore(JsValue::NULL);
    let auth = open_locked(&store).await;
    settle(auth.connect("google".into(), JsValue::UNDEFINED))
        .await
        .unwrap();
    auth.advance_clock(2.0 * 3_600_000.0);
    failSaves(&store, 1);
    let failed = settle(auth.access_token("google".into())).await;
    let e = failed.expect_err("the unsaved token is not handed out");
    assert_eq!(get_str(&e, "code").as_deref(), Some("storage_error"));
    assert_eq!(stats("refresh_token").await, 1.0);
    // The next call saves first, then hands out the token the rotation brought.
    let token = settle(auth.access_token("google".into())).await;
    assert!(
        token.is_ok(),
        "{:?}",
        token.err().and_then(|e| get_str(&e, "message"))
    );
    assert_eq!(stats("refresh_token").await, 1.0, "no second refresh");
    assert_eq!(stats("reuse_detected").await, 0.0, "no replay");
    // The grant is alive: a second instance opening the storage refreshes with it.
    let other = open_locked(&store).await;
    other.advance_clock(4.0 * 3_600_000.0);
    let renewed = settle(other.access_token("google".into())).await;
    assert!(
        renewed.is_ok(),
        "{:?}",
        renewed.err().and_then(|e| get_str(&e, "message"))
    );
    assert_eq!(stats("reuse_detected").await, 0.0);
}

//! The executor: feeds the core an input, runs the commands it answers with (open a
//! sign-in window, send a request, persist), feeds the results back, until the core has
//! nothing left to do. Per service at most one operation runs at a time; callers that
//! arrive meanwhile share its result (one refresh for any number of concurrent callers).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::args::ApiRequestInit;
use super::bridge::to_js;
use super::driver::HostDriver;
use super::error::ApiError;
use super::net;
use super::vault_crypto::{self, OpenError};
use crate::connection::{Command, Context, Input, NetworkFailure, OperationError};
use crate::engine::{ApiUrlError, Engine};
use crate::http::{HttpRequest, HttpResponse};
use crate::provider::discover::{Discovery, Finding, ProbeAnswer, Step};
use crate::provider::{Config, ProviderId, ProviderMap};
use crate::random::RandomSource;
use crate::time::Timestamp;
use crate::token::AccessToken;
use crate::view;

/// The browser's CSPRNG (`crypto.getRandomValues`, through getrandom).
pub(crate) struct WebRandom;

impl RandomSource for WebRandom {
    fn fill(&mut self, bytes: &mut [u8]) {
        // getrandom fails only where WebCrypto is missing, and the engine cannot start
        // without it (`create` checks), so this never panics in practice; if it did, the
        // zeroes would make `state` guessable, so abort loudly instead of going on.
        if getrandom::getrandom(bytes).is_err() {
            wasm_bindgen::throw_str("crypto.getRandomValues is unavailable");
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    SignIn,
    Renewal,
}

pub(crate) type SharedOp = Shared<LocalBoxFuture<'static, Result<(), ApiError>>>;

pub(crate) struct Inner {
    pub(crate) engine: RefCell<Engine>,
    pub(crate) driver: HostDriver,
    pub(crate) clock_offset_ms: Cell<f64>,
    pub(crate) listeners: RefCell<Vec<(u32, Function)>>,
    pub(crate) next_listener: Cell<u32>,
    pub(crate) in_flight: RefCell<ProviderMap<(OpKind, SharedOp)>>,
    /// The last vault copy this instance saved. IndexedDB remembers it too, but only after
    /// the save: an older copy put back in between must not pass for the newest.
    pub(crate) saved_copy: Cell<u64>,
    /// Session first (`SidebarAuth.wake`): the stored vault and session texts not yet
    /// opened, and the session cache's tokens that name that vault. See `open`.
    pub(crate) unopened: RefCell<Option<(Option<String>, Option<String>)>>,
    pub(crate) session_first: RefCell<Option<ProviderMap<AccessToken>>>,
    pub(crate) opening: RefCell<Option<SharedOp>>,
}

impl Inner {
    pub(crate) fn now(&self) -> Timestamp {
        let ms = self.driver.now() + self.clock_offset_ms.get();
        Timestamp(ms.max(0.0) as u64)
    }

    pub(crate) fn handle(&self, service: ProviderId, input: Input) -> Vec<Command> {
        let mut random = WebRandom;
        let mut ctx = Context {
            now: self.now(),
            random: &mut random,
            silent_sign_in: self.driver.silent_sign_in(),
        };
        self.engine.borrow_mut().handle(service, input, &mut ctx)
    }

    pub(crate) fn note(&self, service: Option<ProviderId>, kind: &'static str, detail: String) {
        let now = self.now();
        self.engine.borrow_mut().note(now, service, kind, detail);
    }

    pub(crate) fn notify(&self) {
        let view = self.view_js();
        let listeners: Vec<Function> = self
            .listeners
            .borrow()
            .iter()
            .map(|(_, f)| f.clone())
            .collect();
        for listener in listeners {
            // A throwing listener must not break the engine.
            let _ = listener.call1(&JsValue::NULL, &view);
        }
    }

    pub(crate) fn view_js(&self) -> JsValue {
        let view = view::dashboard(&self.engine.borrow(), self.now());
        to_js(&view)
    }

    /// Writes the session cache: the access tokens that agree with `written` (the vault text
    /// just saved), naming the sealed vault by `vault` (`""`: none, a save is under way).
    pub(crate) async fn save_session(&self, vault: &str, written: &str) {
        let text = self.engine.borrow().session_text(vault, written);
        if let Err(why) = self.driver.save_session(&text).await {
            self.note(None, "session_cache_error", why);
        }
    }

    /// Under the cross-context lock: take what another context may have written since
    /// (a rotated refresh token in the vault, newer access tokens in the session cache).
    async fn reload_from_storage(&self, service: ProviderId) {
        if let Ok(Some(stored)) = self.driver.load().await {
            if let Ok(opened) = vault_crypto::open(&stored).await {
                // An older copy put back holds refresh tokens that may be rotated away:
                // what this instance holds is newer, and replaying the old one would revoke
                // the grant (RFC 9700 §4.14.2). Kept, said, not adopted.
                let older_than_ours = opened.copy.unwrap_or(0) < self.saved_copy.get();
                let kind = if opened.rolled_back || older_than_ours {
                    "vault_rolled_back"
                } else if self
                    .engine
                    .borrow_mut()
                    .reload_connection(service, &opened.text)
                {
                    "reloaded_from_storage"
                } else {
                    ""
                };
                if !kind.is_empty() {
                    self.note(Some(service), kind, String::new());
                }
            }
        }
        if let Some(session) = self.driver.load_session().await {
            self.engine
                .borrow_mut()
                .restore_session(&session, &mut WebRandom);
        }
    }

    pub(crate) fn schedule_wake(&self) {
        let next = self.engine.borrow().next_wake();
        if let Some(at) = next {
            // The engine's clock may run ahead (devtools); the host's timer runs on real time.
            self.driver
                .schedule_wake(at.0 as f64 - self.clock_offset_ms.get());
        }
    }

    /// Whether `service` signs in with a password: then no token is ever handed out.
    pub(crate) fn asks_password(&self, service: ProviderId) -> bool {
        self.engine
            .borrow()
            .connection(service)
            .is_some_and(|c| c.rules.password.is_some())
    }

    /// Before the vault is opened (`SidebarAuth.wake`): the session cache's token, if it
    /// may be handed out (see `open`).
    fn session_first_token(&self, service: ProviderId) -> Option<String> {
        let tokens = self.session_first.borrow();
        let engine = self.engine.borrow();
        (engine.session_token(tokens.as_ref()?, service, self.now())).map(String::from)
    }

    /// `Err(not_ready)` while the vault is not opened: what reads or changes the engine's
    /// state synchronously must not see or change the empty state before it.
    pub(crate) fn check_opened(&self) -> Result<(), ApiError> {
        match self.unopened.borrow().is_some() || self.opening.borrow().is_some() {
            true => Err(ApiError::new(
                "not_ready",
                "The vault is not opened yet: wait for opened().",
            )),
            false => Ok(()),
        }
    }

    pub(crate) fn fresh_token(&self, service: ProviderId) -> Option<String> {
        if self.asks_password(service) {
            return None;
        }
        let now = self.now();
        self.engine
            .borrow()
            .connection(service)?
            .fresh_access_token(now)
            .map(String::from)
    }
}

/// Runs one input to completion.
pub(crate) async fn drive(
    inner: Rc<Inner>,
    service: ProviderId,
    input: Input,
) -> Result<(), ApiError> {
    let mut queue: VecDeque<Command> = inner.handle(service, input).into();
    let mut outcome: Result<(), OperationError> = Ok(());
    while let Some(command) = queue.pop_front() {
        match command {
            Command::OpenSignIn { url, interactive } => {
                inner.notify();
                let redirect_uri = inner.engine.borrow().config().redirect_uri.clone();
                let result = inner
                    .driver
                    .open_sign_in(&url, &redirect_uri, interactive)
                    .await;
                queue.extend(inner.handle(service, Input::SignInResult(result)));
            }
            Command::SendTokenRequest(request) => {
                inner.notify();
                let response = net::send(&request, net::Redirects::Refuse).await;
                queue.extend(inner.handle(service, Input::TokenResponse(response)));
            }
            Command::SendRevocation(request) => {
                let result = net::send(&request, net::Redirects::Refuse).await;
                let detail = match result {
                    Ok(r) => format!("status {}", r.status),
                    Err(NetworkFailure::Unreachable(why)) => format!("unreachable: {why}"),
                    Err(NetworkFailure::TimedOut) => "timed out".to_string(),
                };
                inner.note(Some(service), "revocation_result", detail);
            }
            Command::Persist => {
                if let Err(e) = persist(&inner, Some(service)).await {
                    inner.note(Some(service), "storage_error", e.message.clone());
                    // The connection stays unsaved (a reload never overwrites it, nothing
                    // is handed out) and the wake-up is re-armed to save it again.
                    let now = inner.now();
                    inner.engine.borrow_mut().save_failed(service, now);
                    inner.schedule_wake();
                    inner.notify();
                    // Nothing that was not persisted is handed out (design rule 5).
                    return Err(e.for_service(service));
                }
            }
            Command::Complete(result) => outcome = result,
        }
    }
    inner.schedule_wake();
    inner.notify();
    outcome.map_err(|e| ApiError::from_operation(service, &e))
}

/// Runs a renewal under the host's cross-context lock (`withLock(name, task)`, the Web
/// Locks API in the extension), after re-reading storage: two engine instances (service
/// worker, side panel) then never refresh at once, nor with a refresh token the other has
/// already rotated. Without a `withLock` the host has one instance and this is `drive`.
async fn drive_exclusive(
    inner: Rc<Inner>,
    service: ProviderId,
    input: Input,
) -> Result<(), ApiError> {
    if inner.driver.method("withLock").is_none() {
        return drive(inner, service, input).await;
    }
    let name = format!("sidebar-auth:{}", service.as_str());
    let task_inner = inner.clone();
    under_host_lock(&inner, &name, async move {
        task_inner.reload_from_storage(service).await;
        drive(task_inner, service, input).await
    })
    .await
    .map_err(|e| e.for_service(service))
}

/// Runs `task` while holding the host's lock `name` (`withLock`), or directly when the
/// host has none (a single engine instance needs no lock).
async fn under_host_lock<F>(inner: &Rc<Inner>, name: &str, task: F) -> Result<(), ApiError>
where
    F: std::future::Future<Output = Result<(), ApiError>> + 'static,
{
    let Some(with_lock) = inner.driver.method("withLock") else {
        return task.await;
    };
    let outcome: Rc<RefCell<Option<Result<(), ApiError>>>> = Rc::new(RefCell::new(None));
    let task_outcome = outcome.clone();
    let task = Closure::once_into_js(move || -> Promise {
        future_to_promise(async move {
            *task_outcome.borrow_mut() = Some(task.await);
            Ok(JsValue::UNDEFINED)
        })
    });
    let locked = with_lock
        .call2(&inner.driver, &JsValue::from_str(name), &task)
        .map(|p| Promise::resolve(&p));
    let settled = match locked {
        Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = settled {
        let why = super::driver::describe(&e);
        return Err(ApiError::new(
            "host_error",
            format!("The host lock failed: {why}"),
        ));
    }
    let result = outcome.borrow_mut().take();
    result.unwrap_or_else(|| {
        Err(ApiError::new(
            "host_error",
            "The host lock never ran the task.",
        ))
    })
}

/// Persists the vault. With several engine instances (the host has `withLock`), a
/// read-modify-write under the vault lock that replaces only the connection this
/// operation changed: an instance never writes back another connection's refresh token
/// from its memory, which may be older than what another instance stored (a replayed
/// rotated token revokes the grant).
pub(crate) async fn persist(
    inner: &Rc<Inner>,
    changed: Option<ProviderId>,
) -> Result<(), ApiError> {
    let writer = inner.clone();
    under_host_lock(inner, "sidebar-auth:vault", async move {
        // With several instances every save is a merge into what is stored, and writes only
        // `changed` (and the user's settings). Stored text that cannot be opened is kept
        // as it is inside the new vault, never replaced by this instance's memory.
        let base = if writer.driver.method("withLock").is_some() {
            match writer.driver.load().await {
                Ok(Some(sealed)) => match vault_crypto::open(&sealed).await {
                    // An older copy put back (a restored backup, a rolled-back profile): its
                    // other connections hold refresh tokens this instance has seen rotated
                    // away. Merged into, it would carry them forward as the newest copy,
                    // and the next reload would adopt and replay one, which revokes the
                    // grant (RFC 9700 §4.14.2). This instance's own vault is written instead.
                    // (The read under the lock before it noted `vault_rolled_back`: `reload_from_storage`.)
                    Ok(opened)
                        if opened.rolled_back
                            || opened.copy.unwrap_or(0) < writer.saved_copy.get() =>
                    {
                        None
                    }
                    Ok(opened) => Some(opened.text),
                    Err(OpenError::Unavailable(why)) => {
                        return Err(ApiError::new(
                            "storage_error",
                            format!("WebCrypto or IndexedDB is unavailable: {why}"),
                        ))
                    }
                    Err(OpenError::NotSealed) | Err(OpenError::CannotDecrypt) => Some(sealed),
                },
                Ok(None) => Some(String::new()),
                Err(why) => {
                    return Err(ApiError::new(
                        "storage_error",
                        format!("The vault could not be read before saving: {why}"),
                    ))
                }
            }
        } else {
            None
        };
        let (text, written) = match base {
            Some(stored) => (
                writer.engine.borrow().vault_text_merged(&stored, changed),
                Written::Only(changed),
            ),
            None => (writer.engine.borrow().vault_text(), Written::All),
        };
        // The session cache stops naming any vault before the save, and names the new one
        // once it is stored (see `open`): it never names a vault older than the newest save,
        // even when this context dies between the two writes.
        writer.save_session("", &text).await;
        let (sealed, copy) = vault_crypto::seal(&text).await.map_err(|why| {
            ApiError::new(
                "storage_error",
                format!("The vault could not be encrypted: {why}"),
            )
        })?;
        writer.driver.save(&sealed).await.map_err(|why| {
            ApiError::new(
                "storage_error",
                format!("The vault could not be saved: {why}"),
            )
        })?;
        // Saved: this copy is now the newest.
        writer.saved_copy.set(writer.saved_copy.get().max(copy));
        vault_crypto::remember_saved(copy).await;
        match written {
            Written::All => writer.engine.borrow_mut().mark_saved(None),
            Written::Only(Some(id)) => writer.engine.borrow_mut().mark_saved(Some(id)),
            Written::Only(None) => {}
        }
        writer.save_session(&sealed, &text).await;
        Ok(())
    })
    .await
}

/// Which connections a save wrote.
enum Written {
    All,
    Only(Option<ProviderId>),
}

/// Starts `input` as the service's one operation, or joins the one in flight.
pub(crate) fn shared_operation(
    inner: &Rc<Inner>,
    service: ProviderId,
    kind: OpKind,
    input: Input,
) -> SharedOp {
    if let Some((_, op)) = inner.in_flight.borrow().get(&service) {
        return op.clone();
    }
    let runner = inner.clone();
    let future = async move {
        // A sign-in takes the same per-service lock as renewals: a renewal in another
        // context must not refresh (or rotate) the grant this sign-in is replacing, and
        // the sign-in starts from what that context last stored.
        let result = drive_exclusive(runner.clone(), service, input).await;
        runner.in_flight.borrow_mut().remove(&service);
        result
    }
    .boxed_local()
    .shared();
    inner
        .in_flight
        .borrow_mut()
        .insert(service, (kind, future.clone()));
    future
}

pub(crate) async fn access_token(
    inner: Rc<Inner>,
    service: ProviderId,
) -> Result<String, ApiError> {
    if inner.asks_password(service) {
        return Err(ApiError::new(
            "not_available",
            "This service signs in with a password, which is never handed out: call fetch().",
        )
        .for_service(service));
    }
    if let Some(token) = inner.session_first_token(service) {
        return Ok(token);
    }
    opened(&inner).await.map_err(|e| e.for_service(service))?;
    // Wait for up to three operations in flight (a tick's, another caller's), then ask the
    // connection itself: its answer says what really is (a scheduled retry, a sign-in
    // needed), where a joined tick's outcome says nothing (a tick has no caller). Three
    // joins used to end as "not connected" while a retry was scheduled (the fault suite).
    for joins in 0..4 {
        if let Some(token) = inner.fresh_token(service) {
            return Ok(token);
        }
        let joined = inner
            .in_flight
            .borrow()
            .get(&service)
            .map(|(_, op)| op.clone())
            .filter(|_| joins < 3);
        match joined {
            Some(op) => {
                let _ = op.await;
            }
            None => {
                shared_operation(&inner, service, OpKind::Renewal, Input::AccessTokenNeeded)
                    .await?;
                break;
            }
        }
    }
    inner.fresh_token(service).ok_or_else(|| {
        ApiError::new("not_connected", "No access token is available.").for_service(service)
    })
}

/// The `Authorization` value for an API call: a fresh token (`access_token`) or the
/// password provider's, which nothing renews.
async fn authorization_for(inner: Rc<Inner>, service: ProviderId) -> Result<String, ApiError> {
    if inner.asks_password(service) {
        shared_operation(&inner, service, OpKind::Renewal, Input::AccessTokenNeeded).await?;
        let now = inner.now();
        let engine = inner.engine.borrow();
        return engine
            .connection(service)
            .and_then(|c| c.api_authorization(now))
            .ok_or_else(|| ApiError::new("not_connected", "Not connected.").for_service(service));
    }
    Ok(format!("Bearer {}", access_token(inner, service).await?))
}

/// A sign-in as the service's one operation. `switching`: a Change of mail service (the
/// chooser, or a mailbox connected by its server): the other mail connections end once
/// this one is stored. A plain `connect` keeps them (an API caller may hold several).
pub(crate) async fn sign_in(
    inner: Rc<Inner>,
    service: ProviderId,
    input: Input,
    switching: bool,
) -> Result<JsValue, ApiError> {
    let joined = inner.in_flight.borrow().get(&service).cloned();
    if let Some((kind, op)) = joined {
        if kind == OpKind::SignIn {
            return Err(
                ApiError::new("busy", "A sign-in for this service is already open.")
                    .for_service(service),
            );
        }
        let _ = op.await;
    }
    shared_operation(&inner, service, OpKind::SignIn, input).await?;
    // Exactly one mail connection: the others end now that the new one is stored (their
    // grants revoked where the provider can). A failure here leaves the new one connected.
    let superseded = match switching {
        true => inner.engine.borrow().superseded_by(service),
        false => Vec::new(),
    };
    for old in superseded {
        let _ = drive(inner.clone(), old, Input::Disconnect).await;
    }
    Ok(inner.view_js())
}

/// "I'm not sure": runs the lookup's probes (no credentials) until a finding.
pub(crate) async fn discover(inner: &Rc<Inner>, email: &str) -> Result<Finding, ApiError> {
    let mut lookup = Discovery::start(email)
        .map_err(|_| ApiError::new("invalid_argument", "Enter an email address (name@domain)."))?;
    let mut step = lookup.first();
    while let Step::Probe(request) = step {
        let answer = net::send_to_end(&request, net::Redirects::Follow)
            .await
            .ok();
        step = lookup.answer(answer.map(|(response, final_url)| ProbeAnswer {
            response,
            final_url,
        }));
    }
    let Step::Found(finding) = step else {
        unreachable!("the loop ends on a finding")
    };
    inner.note(
        None,
        "mail_service_looked_up",
        finding.mail_service.id().to_string(),
    );
    Ok(finding)
}

async fn send_api(
    url: &str,
    init: &ApiRequestInit,
    authorization: &str,
) -> Result<HttpResponse, ApiError> {
    let mut headers: Vec<(String, String)> = init
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    headers.push(("Authorization".into(), authorization.to_string()));
    let request = HttpRequest {
        method: init
            .method
            .clone()
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase(),
        url: url.to_string(),
        headers,
        body: init.body.clone().unwrap_or_default(),
    };
    net::send(&request, net::Redirects::Follow)
        .await
        .map_err(|e| match e {
            NetworkFailure::Unreachable(why) => ApiError::new(
                "network_error",
                format!("The service could not be reached ({why})."),
            ),
            NetworkFailure::TimedOut => ApiError::new(
                "timeout",
                "The service did not answer in time; the request may have been processed.",
            ),
        })
}

pub(crate) async fn authorized_fetch(
    inner: Rc<Inner>,
    service: ProviderId,
    url: String,
    init: ApiRequestInit,
) -> Result<JsValue, ApiError> {
    let checked = inner.engine.borrow().check_api_url(service, &url);
    checked.map_err(|e| {
        let message = match e {
            ApiUrlError::ForeignOrigin(origin) => {
                format!("The {} token is never sent to {origin}.", service.as_str())
            }
            ApiUrlError::NotAUrl => "Not a URL.".to_string(),
        };
        ApiError::new("foreign_origin", message).for_service(service)
    })?;
    // Salesforce: a session whose estimated end grew uncertain is checked at its userinfo
    // endpoint first (`Connection::session_check`, issue 11, defect 10), so an ended session
    // is found there and refreshed before the request, not by the request meeting a 401.
    // Then the request; on a 401 the engine refreshes once and it is sent once more.
    let no_init = ApiRequestInit::default();
    let mut may_check = true;
    let mut retried = false;
    loop {
        let authorization = authorization_for(inner.clone(), service).await?;
        let check = (inner.engine.borrow().connection(service))
            .filter(|_| std::mem::take(&mut may_check))
            .and_then(|c| c.session_check(inner.now()).map(String::from));
        let (target, sent) = match &check {
            Some(userinfo) => (userinfo, &no_init),
            None => (&url, &init),
        };
        let response = match send_api(target, sent, &authorization).await {
            Ok(response) => response,
            // The check could not be made (unreachable, CORS): the estimate stands.
            Err(_) if check.is_some() => continue,
            Err(e) => return Err(e),
        };
        // A 403 only an administrator can lift (EWS switched off for the tenant): the card
        // says so, and the caller gets the answer; nothing is retried.
        let refused = (response.status == 403 && check.is_none())
            .then(|| (service.rules().api_forbidden)(&url))
            .flatten();
        if let Some(diagnosis) = refused {
            let _ = drive(inner.clone(), service, Input::ApiRefused(diagnosis)).await;
            return Ok(to_js(&super::args::ApiResponse::from(response)));
        }
        // A userinfo 403 ("Bad_OAuth_Token") is a rejected token as an API 401 is.
        let rejected = response.status == 401 || (check.is_some() && response.status == 403);
        let retry = rejected && (check.is_some() || !std::mem::replace(&mut retried, true));
        if rejected && !retry {
            inner.note(Some(service), "api_401_after_refresh", String::new());
        }
        let input = if retry {
            Input::ApiUnauthorized(response.clone())
        } else {
            Input::ApiSucceeded
        };
        if retry || response.is_success() {
            let driven = drive(inner.clone(), service, input).await;
            if retry {
                driven?;
                continue;
            }
        }
        if check.is_none() {
            return Ok(to_js(&super::args::ApiResponse::from(response)));
        }
        // The check answered (the session lives, or nothing was learned): the request.
    }
}

/// Creates the engine from a configuration and a host driver, and loads the vault and the
/// session cache. `session_first` (`SidebarAuth.wake`, the extension's service worker): when
/// the session cache names the sealed vault now stored, the vault is opened later
/// (`opened`), and until then `accessToken` answers from the session cache.
///
/// Why that answer is the one the opened vault would give (issue 12; issue 11's rules):
/// - The session cache is chrome.storage.session: memory, written only by the extension's
///   own contexts (`storage-access.js`), cleared with the browser and on an update.
/// - It names the vault by the SHA-256 of its sealed text (`vault_crypto::fingerprint`),
///   written under the vault lock right after that vault was saved, and cleared of the
///   name before every save (`persist`). So a stored vault it names is the newest one saved
///   through this engine: a Disconnect, a Change or a refresh saved by any context since
///   changed the stored text (another name, or none if that context died between the two
///   writes); an older copy put back, a damaged or an unreadable vault have other bytes.
///   Any of these: the vault is opened first, as before, and rollback detection, the
///   `unreadable` notice and the copy counter work as they always did.
/// - A token is in it only where the vault written held that connection as the writer had
///   it, signed in (`Engine::session_text`); it is handed out only where the opened
///   engine would (fresh, never a password provider's: `Engine::session_token`).
/// - What it cannot know: IndexedDB's key or counter. A key lost while the vault's bytes
///   stayed (site data cleared in part) is found when the vault is opened, right after the
///   first answer; until then a token the provider issued for that same grant was served.
///
/// Everything else (a refresh, a write, the view, the catch-up) waits for `opened`.
pub(crate) async fn open(
    config: Config,
    driver: HostDriver,
    session_first: bool,
) -> Result<Rc<Inner>, ApiError> {
    let engine = Engine::new(config).map_err(|e| ApiError::new("invalid_config", e.to_string()))?;
    driver
        .check()
        .map_err(|why| ApiError::new("invalid_driver", why))?;
    let mut probe = [0u8; 1];
    getrandom::getrandom(&mut probe)
        .map_err(|_| ApiError::new("invalid_driver", "crypto.getRandomValues is unavailable"))?;
    let inner = Rc::new(Inner {
        engine: RefCell::new(engine),
        driver,
        clock_offset_ms: Cell::new(0.0),
        listeners: RefCell::new(Vec::new()),
        next_listener: Cell::new(1),
        in_flight: RefCell::new(ProviderMap::new()),
        saved_copy: Cell::new(0),
        unopened: RefCell::new(None),
        session_first: RefCell::new(None),
        opening: RefCell::new(None),
    });
    // The vault and the session cache are read at once: two storage round trips in
    // parallel instead of one after the other on every start (issue 12, the wake).
    let (stored, session) =
        futures_util::future::join(inner.driver.load(), inner.driver.load_session()).await;
    let stored = stored
        .map_err(|why| {
            ApiError::new(
                "storage_error",
                format!("The vault could not be loaded: {why}"),
            )
        })?
        .filter(|s| !s.trim().is_empty());
    let bound = (session.as_deref().zip(stored.as_deref()))
        .filter(|_| session_first)
        .and_then(|(session, stored)| inner.engine.borrow().session_bound_to(session, stored));
    *inner.unopened.borrow_mut() = Some((stored, session));
    match bound {
        Some(tokens) => *inner.session_first.borrow_mut() = Some(tokens),
        None => opened(&inner).await?,
    }
    Ok(inner)
}

/// Opens the vault loaded by `open` if it is not yet: one opening for any number of
/// callers; after a failure (IndexedDB unavailable) the next caller tries again. (A plain
/// function returning the shared future: awaited in every entry point, an `async fn` would
/// be inlined into each one's state machine.)
pub(crate) fn opened(inner: &Rc<Inner>) -> SharedOp {
    if let Some(op) = inner.opening.borrow().clone() {
        return op;
    }
    let pending = inner.unopened.borrow_mut().take();
    let opening = pending.is_some();
    let runner = inner.clone();
    let op = async move {
        let Some((stored, session)) = pending else {
            return Ok(());
        };
        let result = restore_vault(&runner, stored.as_deref(), session.as_deref()).await;
        match result {
            Ok(()) => *runner.session_first.borrow_mut() = None,
            Err(_) => *runner.unopened.borrow_mut() = Some((stored, session)),
        }
        *runner.opening.borrow_mut() = None;
        result
    }
    .boxed_local()
    .shared();
    if opening {
        *inner.opening.borrow_mut() = Some(op.clone());
    }
    op
}

/// The vault and session texts into the engine (rollback and unreadable vaults noted).
async fn restore_vault(
    inner: &Rc<Inner>,
    stored: Option<&str>,
    session: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(stored) = stored {
        let opened = vault_crypto::open(stored).await;
        let restored = match &opened {
            Ok(opened) => {
                if opened.rolled_back {
                    inner.note(None, "vault_rolled_back", String::new());
                }
                inner
                    .engine
                    .borrow_mut()
                    .restore(Some(&opened.text))
                    .map_err(|e| e.to_string())
            }
            Err(OpenError::Unavailable(why)) => {
                return Err(ApiError::new(
                    "storage_error",
                    format!("WebCrypto or IndexedDB is unavailable: {why}"),
                ))
            }
            Err(OpenError::NotSealed) | Err(OpenError::CannotDecrypt) => {
                // Keep the stored text as it is; the engine records it as unreadable.
                let _ = inner.engine.borrow_mut().restore(Some(stored));
                Err("the stored vault could not be decrypted".to_string())
            }
        };
        if let Err(why) = restored {
            inner.note(None, "vault_unreadable", why);
        }
    }
    if let Some(session) = session {
        inner
            .engine
            .borrow_mut()
            .restore_session(session, &mut WebRandom);
    }
    inner.schedule_wake();
    Ok(())
}

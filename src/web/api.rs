//! The JavaScript API (`SidebarAuth`, `classifyRefreshError`).
//!
//! Each method feeds the core an input and executes the commands it answers with, feeding
//! results back, until the core has nothing left to do. Per service at most one operation
//! runs at a time; callers that arrive meanwhile share its result (one refresh for any
//! number of concurrent `accessToken()` calls).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use js_sys::{Function, Promise};
use miniserde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::driver::HostDriver;
use super::error::ApiError;
use super::net;
use super::vault_crypto::{self, OpenError};
use crate::connection::{Command, Context, Input, OperationError};
use crate::diagnosis::{self, Action, Reason};
use crate::engine::{ApiUrlError, Engine};
use crate::http::{HttpRequest, HttpResponse};
use crate::provider::{Config, ProviderId, ProviderMap, Target};
use crate::random::RandomSource;
use crate::time::Timestamp;
use crate::vault::MailService;

/// The browser's CSPRNG (`crypto.getRandomValues`, through getrandom).
struct WebRandom;

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
enum OpKind {
    SignIn,
    Renewal,
}

type SharedOp = Shared<LocalBoxFuture<'static, Result<(), ApiError>>>;

struct Inner {
    engine: RefCell<Engine>,
    driver: HostDriver,
    clock_offset_ms: Cell<f64>,
    listeners: RefCell<Vec<(u32, Function)>>,
    next_listener: Cell<u32>,
    in_flight: RefCell<ProviderMap<(OpKind, SharedOp)>>,
}

impl Inner {
    fn now(&self) -> Timestamp {
        let ms = self.driver.now() + self.clock_offset_ms.get();
        Timestamp(ms.max(0.0) as u64)
    }

    fn handle(&self, service: ProviderId, input: Input) -> Vec<Command> {
        let mut random = WebRandom;
        let mut ctx = Context {
            now: self.now(),
            random: &mut random,
            silent_sign_in: self.driver.silent_sign_in(),
        };
        self.engine.borrow_mut().handle(service, input, &mut ctx)
    }

    fn note(&self, service: ProviderId, kind: &'static str, detail: String) {
        let now = self.now();
        self.engine.borrow_mut().note(now, service, kind, detail);
    }

    fn notify(&self) {
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

    fn view_js(&self) -> JsValue {
        let view = self.engine.borrow().view(self.now());
        to_js(&view)
    }

    async fn save_session(&self) {
        let text = self.engine.borrow().session_text();
        if let Err(why) = self.driver.save_session(&text).await {
            let service = self.engine.borrow().services().into_iter().next();
            if let Some(service) = service {
                self.note(service, "session_cache_error", why);
            }
        }
    }

    /// Under the cross-context lock: take what another context may have written since
    /// (a rotated refresh token in the vault, newer access tokens in the session cache).
    async fn reload_from_storage(&self, service: ProviderId) {
        if let Ok(Some(stored)) = self.driver.load().await {
            if let Ok(text) = vault_crypto::open(&stored).await {
                let changed = self.engine.borrow_mut().reload_connection(service, &text);
                if changed {
                    self.note(service, "reloaded_from_storage", String::new());
                }
            }
        }
        if let Some(session) = self.driver.load_session().await {
            self.engine
                .borrow_mut()
                .restore_session(&session, &mut WebRandom);
        }
    }

    fn schedule_wake(&self) {
        let next = self.engine.borrow().next_wake();
        if let Some(at) = next {
            // The engine's clock may run ahead (devtools); the host's timer runs on real time.
            self.driver
                .schedule_wake(at.0 as f64 - self.clock_offset_ms.get());
        }
    }

    fn fresh_token(&self, service: ProviderId) -> Option<String> {
        let now = self.now();
        self.engine
            .borrow()
            .connection(service)?
            .fresh_access_token(now)
            .map(String::from)
    }
}

/// Runs one input to completion.
async fn drive(inner: Rc<Inner>, service: ProviderId, input: Input) -> Result<(), ApiError> {
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
                let response = net::send(&request).await;
                queue.extend(inner.handle(service, Input::TokenResponse(response)));
            }
            Command::SendRevocation(request) => {
                let result = net::send(&request).await;
                let detail = match result {
                    Ok(r) => format!("status {}", r.status),
                    Err(e) => format!("unreachable: {}", e.0),
                };
                inner.note(service, "revocation_result", detail);
            }
            Command::Persist => {
                if let Err(e) = persist(&inner, Some(service)).await {
                    inner.note(service, "storage_error", e.message.clone());
                    inner.notify();
                    // Nothing that was not persisted is handed out (design rule 5).
                    return Err(e.for_service(service));
                }
                inner.save_session().await;
            }
            Command::WakeAt(_) => {}
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
async fn persist(inner: &Rc<Inner>, changed: Option<ProviderId>) -> Result<(), ApiError> {
    let writer = inner.clone();
    under_host_lock(inner, "sidebar-auth:vault", async move {
        let stored = if writer.driver.method("withLock").is_some() {
            match writer.driver.load().await {
                Ok(Some(sealed)) => vault_crypto::open(&sealed).await.ok(),
                _ => None,
            }
        } else {
            None
        };
        let text = match stored {
            Some(stored) => writer.engine.borrow().vault_text_merged(&stored, changed),
            None => writer.engine.borrow().vault_text(),
        };
        let sealed = vault_crypto::seal(&text).await.map_err(|why| {
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
        })
    })
    .await
}

/// Starts `input` as the service's one operation, or joins the one in flight.
fn shared_operation(
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
        let result = match kind {
            OpKind::Renewal => drive_exclusive(runner.clone(), service, input).await,
            OpKind::SignIn => drive(runner.clone(), service, input).await,
        };
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

async fn access_token(inner: Rc<Inner>, service: ProviderId) -> Result<String, ApiError> {
    // At most: wait for an operation in flight, then run one renewal.
    for _ in 0..3 {
        if let Some(token) = inner.fresh_token(service) {
            return Ok(token);
        }
        let joined = inner
            .in_flight
            .borrow()
            .get(&service)
            .map(|(_, op)| op.clone());
        match joined {
            Some(op) => {
                let _ = op.await;
            }
            None => {
                shared_operation(&inner, service, OpKind::Renewal, Input::AccessTokenNeeded).await?
            }
        }
    }
    inner.fresh_token(service).ok_or_else(|| {
        ApiError::new("not_connected", "No access token is available.").for_service(service)
    })
}

async fn sign_in(inner: Rc<Inner>, service: ProviderId, input: Input) -> Result<JsValue, ApiError> {
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
    Ok(inner.view_js())
}

/// A string property of a plain object (read with `Reflect`, not serde: two small
/// option objects do not need a deserializer each).
fn string_property(object: &JsValue, name: &str) -> Option<String> {
    js_sys::Reflect::get(object, &JsValue::from_str(name))
        .ok()?
        .as_string()
}

#[derive(Default)]
struct ConnectOptions {
    login_hint: Option<String>,
    login_host: Option<String>,
    tenant: Option<String>,
}

impl ConnectOptions {
    fn from_js(value: &JsValue) -> ConnectOptions {
        ConnectOptions {
            login_hint: string_property(value, "loginHint"),
            login_host: string_property(value, "loginHost"),
            tenant: string_property(value, "tenant"),
        }
    }
}

#[derive(Default)]
struct ApiRequestInit {
    method: Option<String>,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl ApiRequestInit {
    fn from_js(value: &JsValue) -> Result<ApiRequestInit, String> {
        let mut headers = Vec::new();
        let raw = js_sys::Reflect::get(value, &JsValue::from_str("headers"))
            .unwrap_or(JsValue::UNDEFINED);
        if raw.is_object() {
            let entries = js_sys::Object::entries(raw.unchecked_ref());
            for entry in entries.iter() {
                let pair: js_sys::Array = entry.unchecked_into();
                match (pair.get(0).as_string(), pair.get(1).as_string()) {
                    (Some(k), Some(v)) => headers.push((k, v)),
                    _ => return Err("header values must be strings".into()),
                }
            }
        }
        Ok(ApiRequestInit {
            method: string_property(value, "method"),
            headers,
            body: string_property(value, "body"),
        })
    }
}

#[derive(Serialize)]
struct ApiResponse {
    status: u16,
    headers: net::HeaderObject,
    body: String,
}

/// Values cross the boundary as JSON text parsed by the browser's `JSON`: one JSON library
/// (miniserde) for the vault and the API keeps the module small (a second format,
/// serde-wasm-bindgen, duplicated every (de)serializer and cost ~12 KB brotli, measured).
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    js_sys::JSON::parse(&miniserde::json::to_string(value)).unwrap_or(JsValue::NULL)
}

/// Reads the configuration object (through `JSON.stringify`).
fn config_from_js(value: &JsValue) -> Result<Config, ApiError> {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|t| t.as_string())
        .ok_or(crate::provider::ConfigError::NotAnObject)
        .and_then(|text| Config::parse(&text))
        .map_err(|e| {
            ApiError::new(
                "invalid_config",
                format!("The configuration is not valid: {e}"),
            )
        })
}

fn parse_service(name: &str) -> Result<ProviderId, ApiError> {
    ProviderId::parse(name).ok_or_else(|| {
        ApiError::new(
            "unknown_service",
            format!("Unknown service \"{name}\": use microsoft, google, salesforce or exchange."),
        )
    })
}

fn promise<F>(future: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, ApiError>> + 'static,
{
    run(future.boxed_local())
}

/// One (non-generic) bridge from Rust futures to promises: every API method's future is
/// boxed and goes through here, so `future_to_promise` is instantiated once, not once per
/// method (the module is measured against a size budget).
fn run(future: LocalBoxFuture<'static, Result<JsValue, ApiError>>) -> Promise {
    future_to_promise(async move { future.await.map_err(|e| e.to_js()) })
}

impl SidebarAuth {
    /// `create` for Rust callers (the wasm-bindgen tests).
    pub async fn open(config: JsValue, driver: HostDriver) -> Result<SidebarAuth, ApiError> {
        let config = config_from_js(&config)?;
        let engine =
            Engine::new(config).map_err(|e| ApiError::new("invalid_config", e.to_string()))?;
        driver
            .check()
            .map_err(|why| ApiError::new("invalid_driver", why))?;
        let mut probe = [0u8; 1];
        getrandom::getrandom(&mut probe).map_err(|_| {
            ApiError::new("invalid_driver", "crypto.getRandomValues is unavailable")
        })?;
        let inner = Rc::new(Inner {
            engine: RefCell::new(engine),
            driver,
            clock_offset_ms: Cell::new(0.0),
            listeners: RefCell::new(Vec::new()),
            next_listener: Cell::new(1),
            in_flight: RefCell::new(ProviderMap::new()),
        });
        let stored = inner.driver.load().await.map_err(|why| {
            ApiError::new(
                "storage_error",
                format!("The vault could not be loaded: {why}"),
            )
        })?;
        if let Some(stored) = stored.filter(|s| !s.trim().is_empty()) {
            let opened = vault_crypto::open(&stored).await;
            let restored = match &opened {
                Ok(text) => inner
                    .engine
                    .borrow_mut()
                    .restore(Some(text))
                    .map_err(|e| e.to_string()),
                Err(OpenError::Unavailable(why)) => {
                    return Err(ApiError::new(
                        "storage_error",
                        format!("WebCrypto or IndexedDB is unavailable: {why}"),
                    ))
                }
                Err(OpenError::NotSealed) | Err(OpenError::CannotDecrypt) => {
                    // Keep the stored text as it is; the engine records it as unreadable.
                    let _ = inner.engine.borrow_mut().restore(Some(&stored));
                    Err("the stored vault could not be decrypted".to_string())
                }
            };
            if let Err(why) = restored {
                let first_service = inner.engine.borrow().services().into_iter().next();
                if let Some(service) = first_service {
                    let now = inner.now();
                    inner
                        .engine
                        .borrow_mut()
                        .note(now, service, "vault_unreadable", why.clone());
                }
            }
        }
        if let Some(session) = inner.driver.load_session().await {
            inner
                .engine
                .borrow_mut()
                .restore_session(&session, &mut WebRandom);
        }
        inner.schedule_wake();
        Ok(SidebarAuth { inner })
    }
}

/// The credential keeper, as the hosts see it.
#[wasm_bindgen]
pub struct SidebarAuth {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl SidebarAuth {
    /// Creates the engine from a configuration and a host driver, and loads the vault.
    /// Rejects with `invalid_config` or `invalid_driver`; an unreadable vault does not
    /// reject: it is kept for support and the dashboard says so.
    #[wasm_bindgen(unchecked_return_type = "Promise<SidebarAuth>")]
    pub fn create(
        #[wasm_bindgen(unchecked_param_type = "Config")] config: JsValue,
        driver: HostDriver,
    ) -> Promise {
        promise(async move { SidebarAuth::open(config, driver).await.map(JsValue::from) })
    }

    /// The Sync Settings view model.
    #[wasm_bindgen(unchecked_return_type = "DashboardView")]
    pub fn view(&self) -> JsValue {
        self.inner.view_js()
    }

    /// Calls `listener(view)` after every change. Returns an id for `unsubscribe`.
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(view: DashboardView) => void")] listener: Function,
    ) -> u32 {
        let id = self.inner.next_listener.get();
        self.inner.next_listener.set(id + 1);
        self.inner.listeners.borrow_mut().push((id, listener));
        id
    }

    pub fn unsubscribe(&self, id: u32) {
        self.inner.listeners.borrow_mut().retain(|(i, _)| *i != id);
    }

    /// E-Mail Configuration: which mail service the user has.
    #[wasm_bindgen(js_name = selectMailService, unchecked_return_type = "DashboardView")]
    pub fn select_mail_service(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MailServiceId")] choice: &str,
    ) -> Result<JsValue, JsValue> {
        let choice = MailService::parse(choice).ok_or_else(|| {
            ApiError::new(
                "invalid_argument",
                format!("Unknown mail service \"{choice}\"."),
            )
        })?;
        self.inner.engine.borrow_mut().select_mail_service(choice);
        let inner = self.inner.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = persist(&inner, None).await {
                inner.note(ProviderId::Microsoft, "storage_error", e.message);
            }
        });
        self.inner.notify();
        Ok(self.inner.view_js())
    }

    /// **Change**: sign in to this service (another account, tenant or login host).
    #[wasm_bindgen(unchecked_return_type = "Promise<DashboardView>")]
    pub fn connect(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ServiceId")] service: String,
        #[wasm_bindgen(unchecked_param_type = "ConnectOptions | undefined")] options: JsValue,
    ) -> Promise {
        let options = if options.is_object() {
            ConnectOptions::from_js(&options)
        } else {
            ConnectOptions::default()
        };
        let inner = self.inner.clone();
        promise(async move {
            let service = parse_service(&service)?;
            if service == ProviderId::Exchange {
                return Err(ApiError::new(
                    "not_available",
                    "On-premises Exchange sign-in (server and password) is not available yet.",
                )
                .for_service(service));
            }
            let input = Input::Connect {
                login_hint: options.login_hint.filter(|h| !h.trim().is_empty()),
                target: Target {
                    tenant: options.tenant,
                    login_host: options.login_host,
                },
            };
            sign_in(inner, service, input).await
        })
    }

    /// **Refresh**: sign in again to the same account.
    #[wasm_bindgen(unchecked_return_type = "Promise<DashboardView>")]
    pub fn reauthorize(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ServiceId")] service: String,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move { sign_in(inner, parse_service(&service)?, Input::Reauthorize).await })
    }

    /// After the engine paused on repeated failures: try again now.
    #[wasm_bindgen(js_name = retryNow, unchecked_return_type = "Promise<DashboardView>")]
    pub fn retry_now(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ServiceId")] service: String,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let service = parse_service(&service)?;
            shared_operation(&inner, service, OpKind::Renewal, Input::RetryNow).await?;
            Ok(inner.view_js())
        })
    }

    /// Revokes where the provider has a revocation endpoint; always clears locally.
    #[wasm_bindgen(unchecked_return_type = "Promise<DashboardView>")]
    pub fn disconnect(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ServiceId")] service: String,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let service = parse_service(&service)?;
            let joined = inner
                .in_flight
                .borrow()
                .get(&service)
                .map(|(_, op)| op.clone());
            if let Some(op) = joined {
                let _ = op.await;
            }
            drive(inner.clone(), service, Input::Disconnect).await?;
            Ok(inner.view_js())
        })
    }

    /// A fresh access token, refreshing if needed. Concurrent callers share one refresh.
    #[wasm_bindgen(js_name = accessToken, unchecked_return_type = "Promise<string>")]
    pub fn access_token(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ServiceId")] service: String,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            access_token(inner, parse_service(&service)?)
                .await
                .map(JsValue::from)
        })
    }

    /// An API call with the service's token attached. Only the service's own API origins
    /// (Salesforce: its `instance_url`) receive the token. On a 401 the engine refreshes
    /// once and retries once; a Microsoft claims challenge rejects with `needs_attention`.
    #[wasm_bindgen(unchecked_return_type = "Promise<ApiResponse>")]
    pub fn fetch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ServiceId")] service: String,
        url: String,
        #[wasm_bindgen(unchecked_param_type = "ApiRequestInit | undefined")] init: JsValue,
    ) -> Promise {
        let init = if init.is_object() {
            ApiRequestInit::from_js(&init)
                .map_err(|e| ApiError::new("invalid_argument", format!("Bad request init: {e}")))
        } else {
            Ok(ApiRequestInit::default())
        };
        let inner = self.inner.clone();
        promise(async move { authorized_fetch(inner, parse_service(&service)?, url, init?).await })
    }

    /// Does what is due (refresh before expiry, scheduled retries). Hosts call it from
    /// their timer or alarm; it never rejects.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn tick(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let services = inner.engine.borrow().services();
            for service in services {
                if inner.in_flight.borrow().contains_key(&service) {
                    continue;
                }
                let _ = shared_operation(&inner, service, OpKind::Renewal, Input::Tick).await;
            }
            inner.schedule_wake();
            Ok(JsValue::UNDEFINED)
        })
    }

    /// When `tick()` should next run (epoch ms on the host's clock), if anything is due.
    #[wasm_bindgen(js_name = nextWakeAt)]
    pub fn next_wake_at(&self) -> Option<f64> {
        self.inner
            .engine
            .borrow()
            .next_wake()
            .map(|at| at.0 as f64 - self.inner.clock_offset_ms.get())
    }

    /// Per connection, its state with every secret redacted (the devtools page).
    #[wasm_bindgen(js_name = debugState)]
    pub fn debug_state(&self) -> JsValue {
        let now = self.inner.now();
        to_js(&self.inner.engine.borrow().debug_state(now))
    }

    /// The redacted event log, oldest first.
    #[wasm_bindgen(js_name = eventLog, unchecked_return_type = "EngineEvent[]")]
    pub fn event_log(&self) -> JsValue {
        let engine = self.inner.engine.borrow();
        let events: Vec<_> = engine.events().collect();
        to_js(&events)
    }

    /// Devtools: moves the engine's clock forward by `ms` (cumulative).
    #[wasm_bindgen(js_name = advanceClock)]
    pub fn advance_clock(&self, ms: f64) {
        if ms.is_finite() && ms > 0.0 {
            self.inner
                .clock_offset_ms
                .set(self.inner.clock_offset_ms.get() + ms);
        }
        self.inner.schedule_wake();
        self.inner.notify();
    }

    /// The engine's current time (epoch ms), including any devtools offset.
    pub fn now(&self) -> f64 {
        self.inner.now().0 as f64
    }
}

async fn send_api(url: &str, init: &ApiRequestInit, token: &str) -> Result<HttpResponse, ApiError> {
    let mut headers: Vec<(String, String)> = init
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    headers.push(("Authorization".into(), format!("Bearer {token}")));
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
    net::send(&request).await.map_err(|e| {
        ApiError::new(
            "network_error",
            format!("The service could not be reached ({}).", e.0),
        )
    })
}

async fn authorized_fetch(
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
    let token = access_token(inner.clone(), service).await?;
    let mut response = send_api(&url, &init, &token).await?;
    if response.status == 401 {
        drive(
            inner.clone(),
            service,
            Input::ApiUnauthorized(response.clone()),
        )
        .await?;
        let token = access_token(inner.clone(), service).await?;
        response = send_api(&url, &init, &token).await?;
        if response.status == 401 {
            inner.note(service, "api_401_after_refresh", String::new());
        }
    }
    if (200..300).contains(&response.status) {
        let _ = drive(inner.clone(), service, Input::ApiSucceeded).await;
    }
    Ok(to_js(&ApiResponse {
        status: response.status,
        headers: net::HeaderObject::new(&response.headers),
        body: response.body,
    }))
}

#[derive(Serialize)]
struct ClassifiedJs {
    reason: Reason,
    action: Action,
    #[serde(rename = "reasonText")]
    reason_text: &'static str,
    #[serde(rename = "dropRefreshToken")]
    drop_refresh_token: bool,
    #[serde(rename = "retryAfterMs")]
    retry_after_ms: Option<u64>,
    #[serde(rename = "providerCode")]
    provider_code: Option<String>,
}

/// Classifies a failed refresh response: `provider` is `"microsoft"`, `"google"`,
/// `"salesforce"` or `"exchange"`, `status` the HTTP status, `body` the raw response text.
/// Never throws: an unknown provider or an unreadable body still yields an answer.
#[wasm_bindgen(js_name = classifyRefreshError, unchecked_return_type = "Diagnosis")]
pub fn classify_refresh_error(provider: &str, status: f64, body: &str) -> JsValue {
    let status = if status.is_finite() && (0.0..=999.0).contains(&status) {
        status as u16
    } else {
        0
    };
    let diagnosis = match ProviderId::parse(provider) {
        // Status 0 is what a failed fetch reports: no response at all.
        Some(_) if status == 0 => diagnosis::Diagnosis::network_failure(),
        Some(id) => diagnosis::classify(
            id,
            &HttpResponse::new(status, body),
            Timestamp(js_sys::Date::now() as u64),
        ),
        None => diagnosis::Diagnosis::new(Reason::UnknownError, Action::RetryLater)
            .with_code("unknown_provider"),
    };
    to_js(&ClassifiedJs {
        reason: diagnosis.reason,
        action: diagnosis.action,
        reason_text: diagnosis.reason.plain_text(),
        drop_refresh_token: diagnosis.drop_refresh_token,
        retry_after_ms: diagnosis.retry_after_ms,
        provider_code: diagnosis.provider_code,
    })
}

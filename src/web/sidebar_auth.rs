//! `SidebarAuth`, the class the hosts hold: each method parses its arguments, hands the
//! work to the executor and returns a promise of a plain value.

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use super::args::{self, parse_service, ApiRequestInit, ConnectOptions, PasswordOptions};
use super::bridge::{promise, to_js};
use super::driver::HostDriver;
use super::error::ApiError;
use super::executor::{
    self, access_token, authorized_fetch, drive, shared_operation, sign_in, Inner, OpKind,
};
use crate::connection::{Credentials, Input};
use crate::provider::{MailService, Target};

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

    /// `create` for a host woken to answer (the extension's service worker): resolves as
    /// soon as `accessToken` can answer from the session cache, when that cache names the
    /// stored vault, and opens the vault later (`opened`). Until `opened()` resolves,
    /// `view`, `selectMailService` and the methods that sign in, disconnect or fetch reject
    /// with `not_ready` (a check, not a wait: measured, 0.3 KiB smaller); `accessToken`,
    /// `tick` and `online` wait for the vault when they need it; `debugState` and
    /// `eventLog` show the engine before its vault.
    #[wasm_bindgen(unchecked_return_type = "Promise<SidebarAuth>")]
    pub fn wake(
        #[wasm_bindgen(unchecked_param_type = "Config")] config: JsValue,
        driver: HostDriver,
    ) -> Promise {
        promise(async move {
            SidebarAuth::start(config, driver, true)
                .await
                .map(JsValue::from)
        })
    }

    /// Resolves once the vault is opened and restored (at once after `create`); rejects with
    /// `storage_error` when WebCrypto or IndexedDB is unavailable (a later call retries).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn opened(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            executor::opened(&inner).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The Sync Settings view model.
    #[wasm_bindgen(unchecked_return_type = "DashboardView")]
    pub fn view(&self) -> Result<JsValue, JsValue> {
        self.inner.check_opened()?;
        Ok(self.inner.view_js())
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
        #[wasm_bindgen(unchecked_param_type = "MailService")] choice: &str,
    ) -> Result<JsValue, JsValue> {
        self.inner.check_opened()?;
        let choice = MailService::parse(choice).ok_or_else(|| {
            ApiError::new(
                "invalid_argument",
                format!("Unknown mail service \"{choice}\"."),
            )
        })?;
        self.inner.engine.borrow_mut().select_mail_service(choice);
        let inner = self.inner.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = executor::persist(&inner, None).await {
                inner.note(None, "storage_error", e.message);
            }
        });
        self.inner.notify();
        Ok(self.inner.view_js())
    }

    /// **Change**: sign in to this service (another account, tenant or login host).
    #[wasm_bindgen(unchecked_return_type = "Promise<DashboardView>")]
    pub fn connect(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ProviderId")] service: String,
        #[wasm_bindgen(unchecked_param_type = "ConnectOptions | undefined")] options: JsValue,
    ) -> Promise {
        let options = args::from_js::<ConnectOptions>(options, "connect options");
        let inner = self.inner.clone();
        promise(async move {
            inner.check_opened()?;
            let mut service = parse_service(&service)?;
            let options = options?.unwrap_or_default();
            let mut target = Target {
                tenant: options.tenant,
                login_host: options.login_host,
            };
            // Change's chooser: the choice names the service and its tenant, and switching
            // service ends the other mail connection once this one is stored.
            let switching = options.mail_service.is_some();
            if let Some(choice) = options.mail_service {
                let chosen = inner.engine.borrow_mut().change_to(choice);
                (service, target) = chosen.ok_or_else(|| {
                    ApiError::new(
                        "not_available",
                        format!("{} is not available here.", choice.label()),
                    )
                })?;
            }
            let input = Input::Connect {
                login_hint: options.login_hint.filter(|h| !h.trim().is_empty()),
                target,
            };
            sign_in(inner, service, input, switching).await
        })
    }

    /// Change or Refresh of a service that signs in with a password (on-premises Exchange):
    /// verified by the server before it is kept (encrypted, in the vault); a refusal is
    /// never retried by itself.
    #[wasm_bindgen(js_name = signInWithPassword, unchecked_return_type = "Promise<DashboardView>")]
    pub fn sign_in_with_password(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ProviderId")] service: String,
        #[wasm_bindgen(unchecked_param_type = "PasswordOptions")] options: JsValue,
    ) -> Promise {
        let options = args::from_js::<PasswordOptions>(options, "password options");
        let inner = self.inner.clone();
        promise(async move {
            inner.check_opened()?;
            let service = parse_service(&service)?;
            let o = options?
                .filter(|o| !o.password.is_empty())
                .ok_or_else(|| ApiError::new("invalid_argument", "A password is required."))?;
            let input = Input::Credentials(Credentials {
                login: o.login.unwrap_or_default(),
                password: o.password,
                email: o.email,
                target: Target {
                    tenant: None,
                    login_host: o.ews_url.filter(|u| !u.trim().is_empty()),
                },
                discover: o.autodiscover_url.zip(o.confirmed_host),
            });
            // Connecting a mailbox by its server is always a switch of mail service.
            sign_in(inner, service, input, true).await
        })
    }

    /// "I'm not sure": which service holds `email`'s mailbox (probes carry no
    /// credentials). The user confirms the finding before anything is sent.
    #[wasm_bindgen(js_name = discoverMailService, unchecked_return_type = "Promise<Finding>")]
    pub fn discover_mail_service(&self, email: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let finding = executor::discover(&inner, &email).await?;
            Ok(to_js(&finding))
        })
    }

    /// **Refresh**: sign in again to the same account.
    #[wasm_bindgen(unchecked_return_type = "Promise<DashboardView>")]
    pub fn reauthorize(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ProviderId")] service: String,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.check_opened()?;
            sign_in(inner, parse_service(&service)?, Input::Reauthorize, false).await
        })
    }

    /// After the engine paused on repeated failures: try again now.
    #[wasm_bindgen(js_name = retryNow, unchecked_return_type = "Promise<DashboardView>")]
    pub fn retry_now(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ProviderId")] service: String,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.check_opened()?;
            let service = parse_service(&service)?;
            shared_operation(&inner, service, OpKind::Renewal, Input::RetryNow).await?;
            Ok(inner.view_js())
        })
    }

    /// Revokes where the provider has a revocation endpoint; always clears locally.
    #[wasm_bindgen(unchecked_return_type = "Promise<DashboardView>")]
    pub fn disconnect(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ProviderId")] service: String,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.check_opened()?;
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
        #[wasm_bindgen(unchecked_param_type = "ProviderId")] service: String,
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
        #[wasm_bindgen(unchecked_param_type = "ProviderId")] service: String,
        url: String,
        #[wasm_bindgen(unchecked_param_type = "ApiRequestInit | undefined")] init: JsValue,
    ) -> Promise {
        let init = args::from_js::<ApiRequestInit>(init, "request init");
        let inner = self.inner.clone();
        promise(async move {
            inner.check_opened()?;
            let init = init?.unwrap_or_default();
            authorized_fetch(inner, parse_service(&service)?, url, init).await
        })
    }

    /// Does what is due (refresh before expiry, scheduled retries). Hosts call it from
    /// their timer or alarm; it never rejects.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn tick(&self) -> Promise {
        self.renew_every_service(Input::Tick)
    }

    /// The network came back, or the host (re)started: like `tick()`, but a connection
    /// waiting out a transient failure (offline, a 5xx) retries at once instead of at the
    /// end of its backoff. Hosts call it on `online` and at start; it never rejects.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn online(&self) -> Promise {
        self.renew_every_service(Input::Online)
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
    #[wasm_bindgen(js_name = debugState, unchecked_return_type = "DebugState")]
    pub fn debug_state(&self) -> JsValue {
        let now = self.inner.now();
        to_js(&self.inner.engine.borrow().debug_state(now))
    }

    /// The redacted event log, oldest first.
    #[wasm_bindgen(js_name = eventLog, unchecked_return_type = "Event[]")]
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

impl SidebarAuth {
    /// `create` for Rust callers (the wasm-bindgen tests).
    pub async fn open(config: JsValue, driver: HostDriver) -> Result<SidebarAuth, ApiError> {
        SidebarAuth::start(config, driver, false).await
    }

    async fn start(
        config: JsValue,
        driver: HostDriver,
        session_first: bool,
    ) -> Result<SidebarAuth, ApiError> {
        let config = args::config_from_js(config)?;
        Ok(SidebarAuth {
            inner: executor::open(config, driver, session_first).await?,
        })
    }
}

impl SidebarAuth {
    /// `input` (a tick, the network back) to every service with no operation in flight,
    /// one after another; then the next wake-up. Never rejects.
    fn renew_every_service(&self, input: Input) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            if executor::opened(&inner).await.is_err() {
                return Ok(JsValue::UNDEFINED);
            }
            let services = inner.engine.borrow().services_to_renew();
            for service in services {
                if inner.in_flight.borrow().contains_key(&service) {
                    continue;
                }
                let _ = shared_operation(&inner, service, OpKind::Renewal, input.clone()).await;
            }
            inner.schedule_wake();
            Ok(JsValue::UNDEFINED)
        })
    }
}

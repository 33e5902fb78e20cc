//! The host driver: the few host functions the engine calls (see `HostDriver` in the
//! TypeScript declarations).

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::connection::SignInFailure;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "HostDriver")]
    pub type HostDriver;

    #[wasm_bindgen(method, catch, js_name = openSignIn)]
    fn open_sign_in_raw(
        this: &HostDriver,
        url: &str,
        redirect_uri: &str,
        interactive: bool,
    ) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = load)]
    fn load_raw(this: &HostDriver) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = save)]
    fn save_raw(this: &HostDriver, text: &str) -> Result<JsValue, JsValue>;
}

/// A value or a promise of one, awaited.
async fn settle(value: Result<JsValue, JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::resolve(&value?)).await
}

impl HostDriver {
    pub fn check(&self) -> Result<(), String> {
        for name in ["openSignIn", "load", "save"] {
            if self.method(name).is_none() {
                return Err(format!("the host driver has no {name}() function"));
            }
        }
        Ok(())
    }

    pub(crate) fn method(&self, name: &str) -> Option<Function> {
        Reflect::get(self, &JsValue::from_str(name))
            .ok()?
            .dyn_into::<Function>()
            .ok()
    }

    pub fn silent_sign_in(&self) -> bool {
        Reflect::get(self, &JsValue::from_str("silentSignIn"))
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }

    pub async fn open_sign_in(
        &self,
        url: &str,
        redirect_uri: &str,
        interactive: bool,
    ) -> Result<String, SignInFailure> {
        match settle(self.open_sign_in_raw(url, redirect_uri, interactive)).await {
            Ok(value) => value.as_string().ok_or_else(|| {
                SignInFailure::HostError("openSignIn resolved without a URL".into())
            }),
            Err(error) => Err(sign_in_failure(&error)),
        }
    }

    pub async fn load(&self) -> Result<Option<String>, String> {
        let value = settle(self.load_raw()).await.map_err(|e| describe(&e))?;
        Ok(value.as_string())
    }

    pub async fn save(&self, text: &str) -> Result<(), String> {
        settle(self.save_raw(text))
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    }

    /// The session cache of access tokens (`chrome.storage.session`), if the host has one.
    pub async fn load_session(&self) -> Option<String> {
        let f = self.method("loadSession")?;
        settle(f.call0(self)).await.ok()?.as_string()
    }

    pub async fn save_session(&self, text: &str) -> Result<(), String> {
        let Some(f) = self.method("saveSession") else {
            return Ok(());
        };
        settle(f.call1(self, &JsValue::from_str(text)))
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    }

    /// The host's clock, or the browser's.
    pub fn now(&self) -> f64 {
        self.method("now")
            .and_then(|f| f.call0(self).ok())
            .and_then(|v| v.as_f64())
            .unwrap_or_else(js_sys::Date::now)
    }

    pub fn schedule_wake(&self, epoch_ms: f64) {
        if let Some(f) = self.method("scheduleWake") {
            let _ = f.call1(self, &JsValue::from_f64(epoch_ms));
        }
    }
}

/// The host rejects with `{code}`; anything else is a host error (its text kept short and
/// free of URLs, which could carry a code).
fn sign_in_failure(error: &JsValue) -> SignInFailure {
    let code = Reflect::get(error, &JsValue::from_str("code"))
        .ok()
        .and_then(|c| c.as_string());
    match code.as_deref() {
        Some("sign_in_cancelled") => SignInFailure::Cancelled,
        Some("popup_blocked") => SignInFailure::PopupBlocked,
        Some("interaction_required") => SignInFailure::InteractionRequired,
        _ => SignInFailure::HostError(describe(error)),
    }
}

pub fn describe(error: &JsValue) -> String {
    let text = error
        .as_string()
        .or_else(|| {
            Reflect::get(error, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "unknown host error".into());
    text.split_whitespace()
        .filter(|word| !word.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

//! Values across the boundary: every value out of WebAssembly goes through
//! serde-wasm-bindgen, as plain JavaScript objects (no JSON text).

use futures_util::future::{FutureExt, LocalBoxFuture};
use js_sys::Promise;
use serde::Serialize;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::future_to_promise;

use super::error::ApiError;

/// A Rust value as a plain JS object: maps as objects, `None` as `null` (the generated
/// TypeScript says `T | null`), numbers as numbers.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

pub(crate) fn promise<F>(future: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, ApiError>> + 'static,
{
    run(future.boxed_local())
}

/// One (non-generic) bridge from Rust futures to promises: every API method's future is
/// boxed and goes through here, so `future_to_promise` is instantiated once, not once per
/// method (the module is measured against a size budget).
fn run(future: LocalBoxFuture<'static, Result<JsValue, ApiError>>) -> Promise {
    future_to_promise(async move { future.await.map_err(JsValue::from) })
}

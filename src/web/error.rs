//! Rejections reach JavaScript as plain objects (`SidebarAuthError`, `src/error.rs`).

use wasm_bindgen::JsValue;

pub use crate::error::ApiError;

impl From<ApiError> for JsValue {
    fn from(e: ApiError) -> JsValue {
        match super::bridge::to_js(&e) {
            v if v.is_null() => JsValue::from_str(e.code),
            v => v,
        }
    }
}

//! Functions the hosts call without an engine instance: pure questions to the core.

use wasm_bindgen::prelude::*;

use super::args::config_from_js;
use super::bridge::to_js;
use super::error::ApiError;
use crate::diagnosis::{Action, Classification, Diagnosis, Reason};
use crate::http::HttpResponse;
use crate::provider::{self, ProviderId};
use crate::time::Timestamp;

/// Classifies a failed refresh response: `provider` is `"microsoft"`, `"google"`,
/// `"salesforce"` or `"exchange"`, `status` the HTTP status, `body` the raw response text.
/// Never throws: an unknown provider or an unreadable body still yields an answer.
#[wasm_bindgen(js_name = classifyRefreshError, unchecked_return_type = "Classification")]
pub fn classify_refresh_error(provider: &str, status: f64, body: &str) -> JsValue {
    let status = if status.is_finite() && (0.0..=999.0).contains(&status) {
        status as u16
    } else {
        0
    };
    let diagnosis = match ProviderId::parse(provider) {
        // Status 0 is what a failed fetch reports: no response at all.
        Some(_) if status == 0 => Diagnosis::network_failure(),
        Some(id) => id.rules().classify(
            &HttpResponse::new(status, body),
            Timestamp(js_sys::Date::now() as u64),
        ),
        None => {
            Diagnosis::new(Reason::UnknownError, Action::RetryLater).with_code("unknown_provider")
        }
    };
    to_js(&Classification::from(diagnosis))
}

/// The origins a host must be allowed to reach for a configuration (the extension's host
/// permissions): endpoints, APIs and login hosts of every configured provider, as origins
/// (`https://host[:port]`, possibly with a `*.` host wildcard). Throws `invalid_config`.
#[wasm_bindgen(js_name = requiredOrigins, unchecked_return_type = "string[]")]
pub fn required_origins(
    #[wasm_bindgen(unchecked_param_type = "Config")] config: JsValue,
) -> Result<JsValue, JsValue> {
    let config = config_from_js(config)?;
    config.validate().map_err(|e| {
        JsValue::from(ApiError::new(
            "invalid_config",
            format!("The configuration is not valid: {e}"),
        ))
    })?;
    Ok(to_js(&provider::required_origins(&config)))
}

/// The origins `discoverMailService(email)` probes, for a host to ask permission for first
/// (the extension's optional host permissions, `chrome.permissions.request`): Exchange
/// Online's autodiscover, `https://*.<domain>` (the https steps and where the http step's
/// redirect may lead) and `http://autodiscover.<domain>`. Empty for a malformed address.
#[wasm_bindgen(js_name = discoveryOrigins, unchecked_return_type = "string[]")]
pub fn discovery_origins(email: &str) -> JsValue {
    to_js(&provider::discover::origins(email))
}

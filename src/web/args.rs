//! The JS API's arguments and results that are not engine types: read from JavaScript with
//! serde-wasm-bindgen, their TypeScript declarations generated (tsify).

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use tsify::Tsify;
use wasm_bindgen::JsValue;

use super::error::ApiError;
use crate::http::HttpResponse;
use crate::provider::{Config, MailService, ProviderId};

/// Options of `connect` (Change).
#[derive(Debug, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectOptions {
    #[serde(default)]
    #[tsify(optional)]
    pub login_hint: Option<String>,
    /// Salesforce: a configured login host's id or URL, or a My Domain URL.
    #[serde(default)]
    #[tsify(optional)]
    pub login_host: Option<String>,
    /// Microsoft: a tenant id or domain, `organizations` or `consumers`.
    #[serde(default)]
    #[tsify(optional)]
    pub tenant: Option<String>,
    /// The service picked in Change's chooser: it decides the tenant (Outlook.com:
    /// `consumers`), and the service shown becomes it.
    #[serde(default)]
    #[tsify(optional)]
    pub mail_service: Option<MailService>,
}

/// Options of `signInWithPassword` (Change or Refresh of on-premises Exchange). Refresh
/// gives the password alone; Change a login and the server: an EWS URL, or an
/// autodiscover URL with the host the user confirmed (from `discoverMailService`).
/// No `Debug`: it holds the password.
#[derive(Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordOptions {
    /// The address or `DOMAIN\user`.
    #[serde(default)]
    #[tsify(optional)]
    pub login: Option<String>,
    pub password: String,
    #[serde(default)]
    #[tsify(optional)]
    pub email: Option<String>,
    #[serde(default)]
    #[tsify(optional)]
    pub ews_url: Option<String>,
    #[serde(default)]
    #[tsify(optional)]
    pub autodiscover_url: Option<String>,
    #[serde(default)]
    #[tsify(optional)]
    pub confirmed_host: Option<String>,
}

/// The request of an authorized `fetch`.
#[derive(Debug, Default, Deserialize, Tsify)]
#[serde(deny_unknown_fields)]
pub struct ApiRequestInit {
    #[serde(default)]
    #[tsify(optional)]
    pub method: Option<String>,
    #[serde(default, deserialize_with = "header_list")]
    #[tsify(optional, type = "Record<string, string>")]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    #[tsify(optional)]
    pub body: Option<String>,
}

/// The answer of an authorized `fetch`: status, headers (lower-case names; of repeated
/// names the last wins) and the body text.
#[derive(Debug, Serialize, Tsify)]
#[tsify(missing_as_null)]
pub struct ApiResponse {
    pub status: u16,
    #[serde(serialize_with = "header_object")]
    #[tsify(type = "Record<string, string>")]
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl From<HttpResponse> for ApiResponse {
    fn from(response: HttpResponse) -> ApiResponse {
        ApiResponse {
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body: response.body,
        }
    }
}

/// Headers as a list (a map type would link its own code for this one use).
fn header_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct Headers;
    impl<'de> Visitor<'de> for Headers {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of header names to string values")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry::<String, String>()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Headers)
}

fn header_object<S: Serializer>(headers: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(headers.len()))?;
    for (name, value) in headers {
        map.serialize_entry(name, value)?;
    }
    map.end()
}

/// A JS argument as JSON text (`JSON.stringify`), read by the same serde_json text
/// deserializer as the vault and the token responses. Why text and not serde-wasm-bindgen's
/// deserializer: that one reads a struct by asking the object for the struct's own field
/// names, so it never sees a key the struct lacks (`deny_unknown_fields` would pass a typo),
/// and going through `serde_json::Value` instead linked a second copy of every
/// configuration type's deserializer (about 10 KiB brotli, issue 12). `undefined` members
/// and functions are left out by `JSON.stringify`, as they would be read as absent anyway.
fn json_text(value: &JsValue) -> Result<String, String> {
    match js_sys::JSON::stringify(value) {
        Ok(text) => text
            .as_string()
            .ok_or_else(|| "not a JSON value".to_string()),
        Err(e) => Err(super::driver::describe(&e)),
    }
}

/// Reads `T` from JSON text; an error names the path of the wrong field (`google.typo`)
/// and not serde_json's position in the text, which the caller never wrote.
fn read_json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, (String, String)> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        (path, without_position(e.into_inner().to_string()))
    })
}

/// `invalid type: ... at line 1 column 42` without ` at line 1 column 42`.
fn without_position(mut message: String) -> String {
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    message
}

/// An optional argument object; `undefined` and `null` read as `None`.
pub(crate) fn from_js<T: for<'de> Deserialize<'de>>(
    value: JsValue,
    what: &str,
) -> Result<Option<T>, ApiError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let text = json_text(&value)
        .map_err(|e| ApiError::new("invalid_argument", format!("Bad {what}: {e}")))?;
    read_json(&text).map(Some).map_err(|(path, message)| {
        let at = if path == "." {
            String::new()
        } else {
            format!(" ({path})")
        };
        ApiError::new("invalid_argument", format!("Bad {what}{at}: {message}"))
    })
}

/// Reads the configuration object; errors name the path of the wrong field.
pub(crate) fn config_from_js(value: JsValue) -> Result<Config, ApiError> {
    let invalid = |e: &dyn std::fmt::Display| {
        ApiError::new(
            "invalid_config",
            format!("The configuration is not valid: {e}"),
        )
    };
    let text = json_text(&value).map_err(|e| invalid(&e))?;
    read_json::<Config>(&text).map_err(|(path, message)| {
        invalid(&crate::provider::ConfigError::Invalid { path, message })
    })
}

pub(crate) fn parse_service(name: &str) -> Result<ProviderId, ApiError> {
    ProviderId::parse(name).ok_or_else(|| {
        ApiError::new(
            "unknown_service",
            format!("Unknown service \"{name}\": use microsoft, google, salesforce or exchange."),
        )
    })
}

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
/// The declaration is generated (tsify); the value is read by `PasswordOptions::from_js`.
#[derive(Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct PasswordOptions {
    /// The address or `DOMAIN\user`.
    #[tsify(optional)]
    pub login: Option<String>,
    pub password: String,
    #[tsify(optional)]
    pub email: Option<String>,
    #[tsify(optional)]
    pub ews_url: Option<String>,
    #[tsify(optional)]
    pub autodiscover_url: Option<String>,
    #[tsify(optional)]
    pub confirmed_host: Option<String>,
}

impl PasswordOptions {
    /// Read by hand from the plain value every argument object becomes: a derived
    /// `Deserialize` would link a deserializer of its own (about 4 KB of the module, whose
    /// budget has no room). Unknown keys and non-strings are refused by name; the error
    /// never repeats a value (it may be the password).
    pub(crate) fn from_js(value: JsValue) -> Result<PasswordOptions, ApiError> {
        const FIELDS: [&str; 6] = [
            "login",
            "password",
            "email",
            "ewsUrl",
            "autodiscoverUrl",
            "confirmedHost",
        ];
        let bad = |why: String| {
            ApiError::new("invalid_argument", format!("Bad password options: {why}."))
        };
        let value = plain(value).map_err(|_| bad("not an object".into()))?;
        let map = value
            .as_object()
            .ok_or_else(|| bad("not an object".into()))?;
        let mut out: [Option<String>; 6] = Default::default();
        for (key, v) in map {
            let i = FIELDS
                .iter()
                .position(|f| f == key)
                .ok_or_else(|| bad(format!("unknown field `{key}`")))?;
            out[i] = match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                _ => return Err(bad(format!("`{key}` must be a string"))),
            };
        }
        let [login, password, email, ews_url, autodiscover_url, confirmed_host] = out;
        Ok(PasswordOptions {
            login,
            password: password
                .filter(|p| !p.is_empty())
                .ok_or_else(|| ApiError::new("invalid_argument", "A password is required."))?,
            email,
            ews_url,
            autodiscover_url,
            confirmed_host,
        })
    }
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

/// A JS value as a JSON-shaped value, through serde-wasm-bindgen. The step exists for
/// `deny_unknown_fields`: serde-wasm-bindgen reads a struct by asking the object for the
/// struct's own field names, so it never sees a key the struct lacks (a typo would pass
/// silently); read as a map first, every key is seen.
fn plain(value: JsValue) -> Result<serde_json::Value, serde_wasm_bindgen::Error> {
    serde_json::Value::deserialize(serde_wasm_bindgen::Deserializer::from(value))
}

/// An optional argument object; `undefined` and `null` read as `None`.
pub(crate) fn from_js<T: for<'de> Deserialize<'de>>(
    value: JsValue,
    what: &str,
) -> Result<Option<T>, ApiError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let value =
        plain(value).map_err(|e| ApiError::new("invalid_argument", format!("Bad {what}: {e}")))?;
    serde_path_to_error::deserialize(value)
        .map(Some)
        .map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!(" ({path})")
            };
            ApiError::new(
                "invalid_argument",
                format!("Bad {what}{at}: {}", e.into_inner()),
            )
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
    let value = plain(value).map_err(|e| invalid(&e))?;
    Config::from_deserializer(value).map_err(|e| invalid(&e))
}

pub(crate) fn parse_service(name: &str) -> Result<ProviderId, ApiError> {
    ProviderId::parse(name).ok_or_else(|| {
        ApiError::new(
            "unknown_service",
            format!("Unknown service \"{name}\": use microsoft, google, salesforce or exchange."),
        )
    })
}

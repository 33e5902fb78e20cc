//! Token responses, expiry with its provenance, and the refresh-token horizon.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::http::HttpResponse;
use crate::provider::{AccessLifetime, ProviderProfile};
use crate::time::{Millis, ServerClock, Timestamp, HOUR, MINUTE, SECOND};

/// Where an expiry time came from. The dashboard shows it; the schedule trusts an
/// `ExpiresIn` more than an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum ExpirySource {
    /// `expires_in` of the token response (RFC 6749 §5.1).
    ExpiresIn,
    /// The access token is a JWT and its `exp` claim (RFC 7519 §4.1.4) was read.
    JwtExp,
    /// No lifetime was sent; the configured session timeout was assumed (Salesforce).
    SessionTimeout,
    /// The API answered 401: the token is known to be dead.
    #[serde(rename = "observed_401", alias = "observed401")]
    Observed401,
    /// The response said nothing and the provider has no documented session timeout: one
    /// hour is assumed so the token is checked, never "never expires".
    AssumedDefault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    /// On the device's clock.
    pub at: Timestamp,
    pub source: ExpirySource,
    /// The lifetime the token was issued with, for a refresh lead time proportional to it.
    pub lifetime: Millis,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub secret: String,
    pub issued_at: Timestamp,
    pub expiry: Expiry,
    pub scope: Option<String>,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("issued_at", &self.issued_at)
            .field("expiry", &self.expiry)
            .finish()
    }
}

impl AccessToken {
    /// Usable at `now` with `margin` to spare (a request takes time to arrive).
    pub fn is_fresh(&self, now: Timestamp, margin: Millis) -> bool {
        now.plus(margin) < self.expiry.at
    }
}

/// Who the user is, from the ID token (OIDC Core §2) or a userinfo response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub subject: Option<String>,
    /// The sign-in name: `preferred_username`, else `email`.
    pub username: Option<String>,
    pub name: Option<String>,
}

/// A successful token response, interpreted for one provider.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access: AccessToken,
    pub refresh_token: Option<String>,
    pub identity: Option<Identity>,
    /// Salesforce: the base of every API call.
    pub instance_url: Option<String>,
    pub server_clock: Option<ServerClock>,
}

/// Why a 2xx token response was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenResponseError {
    /// Not JSON, cut off, or not an object.
    Malformed,
    MissingAccessToken,
    /// RFC 6750: only Bearer tokens are understood.
    UnsupportedTokenType(String),
    /// OIDC Core §3.1.3.7: the ID token's `nonce` differs from the one sent.
    NonceMismatch,
    /// OIDC Core §3.1.3.7: the ID token is for another client.
    AudienceMismatch,
    /// The ID token's `iss` is not the provider's.
    IssuerMismatch,
    /// The `instance_url` is not one this provider may set (`ProviderProfile::instance_domains`).
    InstanceUrlRefused(crate::provider::InstanceUrlError),
    /// OIDC Core §3.1.3.7 step 9: the ID token's `exp` has passed (beyond the allowed skew).
    IdTokenExpired,
    /// OIDC Core §3.1.3.7 step 10: the ID token's `iat` is in the future (beyond the skew).
    IdTokenIssuedInFuture,
}

/// Clock skew allowed for ID-token `exp` and `iat` after moving them onto the device clock
/// with the `Date` header (where there is one): device clocks drift by minutes.
pub const ID_TOKEN_SKEW: Millis = 5 * MINUTE;
/// `expires_in` is clamped to this range: below a minute a token would be refreshed in a
/// hot loop; beyond a day a broken value would keep a dead token "fresh" (the API 401
/// still corrects either, but the schedule should not depend on it).
pub const MIN_EXPIRES_IN: Millis = MINUTE;
pub const MAX_EXPIRES_IN: Millis = 24 * HOUR;

#[derive(Deserialize)]
struct Body {
    access_token: Option<String>,
    token_type: Option<String>,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    scope: Option<String>,
    id_token: Option<String>,
    instance_url: Option<String>,
    #[serde(default, deserialize_with = "number_or_string")]
    issued_at: Option<u64>,
}

/// A non-negative integer sent as a number or as a string of digits: `expires_in` and
/// `issued_at` arrive as numbers from some providers and strings from others (Salesforce's
/// `issued_at`, Entra v1's `expires_in`). Anything else reads as `None`, not as an error,
/// so one odd field does not make a whole token response unreadable.
fn number_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct Lenient;
    impl<'de> Visitor<'de> for Lenient {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number or a string of digits")
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Some(n))
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(n).ok())
        }
        fn visit_f64<E: de::Error>(self, f: f64) -> Result<Self::Value, E> {
            Ok((f.is_finite() && f >= 0.0).then_some(f as u64))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(s.trim().parse().ok())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    deserializer.deserialize_any(Lenient)
}

/// A string or an array of strings, as the JWT `aud` claim (RFC 7519 §4.1.3).
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct OneOrMany;
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or an array of strings")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(vec![s.to_string()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(OneOrMany)
}

/// What the ID token must match.
pub struct IdTokenExpectations<'a> {
    pub nonce: Option<&'a str>,
}

/// Interprets a 2xx token response at device time `now`.
///
/// Expiry: `expires_in` is relative, so `now + expires_in` is right whatever the device
/// clock says (it equals `Date + expires_in` moved onto the device clock). Absolute times
/// (JWT `exp`, Salesforce `issued_at`) are on the server's clock and are moved with the
/// offset learned from the `Date` header (providers.md, common rules).
pub fn parse_token_response(
    profile: &ProviderProfile,
    response: &HttpResponse,
    now: Timestamp,
    expect: IdTokenExpectations<'_>,
) -> Result<TokenGrant, TokenResponseError> {
    let body: Body =
        serde_json::from_str(&response.body).map_err(|_| TokenResponseError::Malformed)?;
    let access_token = body
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or(TokenResponseError::MissingAccessToken)?;
    let token_type = body.token_type.unwrap_or_else(|| "Bearer".into());
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenResponseError::UnsupportedTokenType(token_type));
    }
    let clock = response
        .header("date")
        .and_then(|d| ServerClock::from_date_header(d, now));
    let server = clock.unwrap_or_default();

    // Salesforce's `issued_at` is milliseconds on Salesforce's clock. It can be moved onto
    // the device's clock only with a `Date` header, which a browser reads cross-origin only
    // when the server exposes it (`Date` is not a CORS-safelisted response header). Without
    // one the session is taken to start now: it was issued by the response just received.
    let issued_at = match (&profile.access_lifetime, body.issued_at, clock) {
        (AccessLifetime::SessionTimeout(_), Some(ms), Some(clock)) => {
            clock.to_device(Timestamp(ms)).min(now)
        }
        _ => now,
    };
    let expiry = if let Some(seconds) = body.expires_in {
        let lifetime = seconds
            .saturating_mul(SECOND)
            .clamp(MIN_EXPIRES_IN, MAX_EXPIRES_IN);
        Expiry {
            at: now.plus(lifetime),
            source: ExpirySource::ExpiresIn,
            lifetime,
        }
    } else if let Some(claims) = jwt_claims(&access_token).filter(|c| c.exp.is_some()) {
        let exp = Timestamp(claims.exp.unwrap_or_default().saturating_mul(SECOND));
        let at = match (clock, claims.iat) {
            (Some(clock), _) => clock.to_device(exp),
            // No server clock: `exp - iat` is a lifetime on one clock, counted from now.
            (None, Some(iat)) => now.plus(exp.0.saturating_sub(iat.saturating_mul(SECOND))),
            (None, None) => server.to_device(exp),
        };
        Expiry {
            at,
            source: ExpirySource::JwtExp,
            lifetime: now.until(at),
        }
    } else if let AccessLifetime::SessionTimeout(timeout) = profile.access_lifetime {
        Expiry {
            at: issued_at.plus(timeout),
            source: ExpirySource::SessionTimeout,
            lifetime: timeout,
        }
    } else {
        Expiry {
            at: now.plus(HOUR),
            source: ExpirySource::AssumedDefault,
            lifetime: HOUR,
        }
    };

    let identity = match body.id_token.as_deref() {
        Some(jwt) => Some(check_id_token(profile, jwt, &expect, now, clock)?),
        None => None,
    };
    Ok(TokenGrant {
        access: AccessToken {
            secret: access_token,
            issued_at,
            expiry,
            scope: body.scope,
        },
        refresh_token: body.refresh_token.filter(|t| !t.is_empty()),
        identity,
        instance_url: body.instance_url,
        server_clock: clock,
    })
}

#[derive(Debug, Default, Deserialize)]
struct Claims {
    exp: Option<u64>,
    iat: Option<u64>,
    iss: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    aud: Vec<String>,
    sub: Option<String>,
    nonce: Option<String>,
    preferred_username: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

/// The payload of a JWS compact serialization, unverified. Used for `exp` of an access token
/// (a hint for scheduling; the API stays the judge) and for the ID token below.
fn jwt_claims(jwt: &str) -> Option<Claims> {
    let mut parts = jwt.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    // Text, not bytes: every other JSON read is `from_str`, and one reader type keeps one
    // copy of serde_json's parser in the wasm module (issue 12, size).
    serde_json::from_str(std::str::from_utf8(&bytes).ok()?).ok()
}

/// ID token checks of OIDC Core §3.1.3.7. The signature is not checked: the token came
/// straight from the token endpoint over TLS, which §3.1.3.7 step 6 allows in place of
/// signature validation; `iss`, `aud` and `nonce` are still checked.
fn check_id_token(
    profile: &ProviderProfile,
    jwt: &str,
    expect: &IdTokenExpectations<'_>,
    now: Timestamp,
    clock: Option<ServerClock>,
) -> Result<Identity, TokenResponseError> {
    let claims = jwt_claims(jwt).ok_or(TokenResponseError::Malformed)?;
    if let (Some(exp), Some(iat)) = (claims.exp, claims.iat) {
        if exp < iat {
            return Err(TokenResponseError::IdTokenExpired);
        }
    }
    // `exp` and `iat` are seconds on the provider's clock. They are compared with `now` only
    // when the response's `Date` header tells how that clock relates to the device's: a
    // device clock hours off (common) must not refuse every sign-in, and without `Date`
    // (not readable cross-origin unless exposed) the two cannot be told apart. A stale ID
    // token cannot be replayed into a sign-in anyway: its `nonce` is fresh per request.
    if let Some(clock) = clock {
        let on_device = |seconds: u64| clock.to_device(Timestamp(seconds.saturating_mul(SECOND)));
        if let Some(exp) = claims.exp {
            if on_device(exp).plus(ID_TOKEN_SKEW) < now {
                return Err(TokenResponseError::IdTokenExpired);
            }
        }
        if let Some(iat) = claims.iat {
            if on_device(iat) > now.plus(ID_TOKEN_SKEW) {
                return Err(TokenResponseError::IdTokenIssuedInFuture);
            }
        }
    }
    if let Some(iss) = &claims.iss {
        if !profile.issuer.accepts(iss) {
            return Err(TokenResponseError::IssuerMismatch);
        }
    }
    let audience_ok = claims.aud.contains(&profile.client_id);
    if !audience_ok {
        return Err(TokenResponseError::AudienceMismatch);
    }
    if let Some(expected) = expect.nonce {
        if claims.nonce.as_deref() != Some(expected) {
            return Err(TokenResponseError::NonceMismatch);
        }
    }
    Ok(Identity {
        subject: claims.sub,
        username: claims.preferred_username.or(claims.email.clone()),
        name: claims.name,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::provider::{microsoft, salesforce, IssuerRule};
    use crate::time::MINUTE;

    pub fn jwt(claims: &serde_json::Value) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    fn ms() -> ProviderProfile {
        let cfg: microsoft::MicrosoftConfig =
            serde_json::from_str(r#"{"clientId":"cid","issuer":"https://idp"}"#).unwrap();
        microsoft::profile(&cfg, "https://r/", None).unwrap()
    }

    fn sf() -> ProviderProfile {
        let cfg: salesforce::SalesforceConfig =
            serde_json::from_str(r#"{"clientId":"cid","sessionTimeoutMinutes":120}"#).unwrap();
        salesforce::profile(&cfg, "https://r/", None).unwrap()
    }

    const NONE: IdTokenExpectations<'static> = IdTokenExpectations { nonce: None };

    #[test]
    fn expires_in_gives_expiry_with_provenance() {
        let r = HttpResponse::new(
            200,
            r#"{"access_token":"AT","token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"refresh_token":"RT"}"#,
        );
        let g = parse_token_response(&ms(), &r, Timestamp(1_000_000), NONE).unwrap();
        assert_eq!(
            g.access.expiry,
            Expiry {
                at: Timestamp(1_000_000 + 3_599_000),
                source: ExpirySource::ExpiresIn,
                lifetime: 3_599_000
            }
        );
        assert_eq!(g.refresh_token.as_deref(), Some("RT"));
    }

    #[test]
    fn expires_in_as_string() {
        let r = HttpResponse::new(
            200,
            r#"{"access_token":"AT","token_type":"bearer","expires_in":"60"}"#,
        );
        assert_eq!(
            parse_token_response(&ms(), &r, Timestamp(0), NONE)
                .unwrap()
                .access
                .expiry
                .at,
            Timestamp(60_000)
        );
    }

    #[test]
    fn expires_in_reads_numbers_and_digit_strings_and_tolerates_the_rest() {
        let expiry_of = |value: &str| {
            let body =
                format!(r#"{{"access_token":"AT","token_type":"Bearer","expires_in":{value}}}"#);
            parse_token_response(&ms(), &HttpResponse::new(200, body), Timestamp(0), NONE)
                .map(|g| (g.access.expiry.source, g.access.expiry.lifetime))
        };
        assert_eq!(expiry_of("3600"), Ok((ExpirySource::ExpiresIn, 3_600_000)));
        assert_eq!(
            expiry_of("\" 3599 \""),
            Ok((ExpirySource::ExpiresIn, 3_599_000))
        );
        // 1.5 reads as 1 s, clamped up to the one-minute floor (issue 11, defect 8).
        assert_eq!(
            expiry_of("1.5"),
            Ok((ExpirySource::ExpiresIn, MIN_EXPIRES_IN))
        );
        // Anything else is no lifetime at all (one hour is assumed), not an unreadable body.
        for odd in ["-1", "\"soon\"", "null", "[1]", r#"{"seconds":1}"#, "true"] {
            assert_eq!(
                expiry_of(odd),
                Ok((ExpirySource::AssumedDefault, HOUR)),
                "{odd}"
            );
        }
        // Cut-off JSON inside the field is still a malformed body.
        assert!(expiry_of("[1").is_err());
    }

    #[test]
    fn jwt_exp_is_moved_onto_the_device_clock() {
        // Device is 10 minutes behind the server.
        let server_now_s = 1_700_000_000u64;
        let device_now = Timestamp(server_now_s * 1000 - 10 * MINUTE);
        let at = jwt(&serde_json::json!({"exp": server_now_s + 3600}));
        let r = HttpResponse::new(
            200,
            format!(r#"{{"access_token":"{at}","token_type":"Bearer"}}"#),
        )
        .with_header(
            "Date",
            &httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(server_now_s),
            ),
        );
        let g = parse_token_response(&ms(), &r, device_now, NONE).unwrap();
        assert_eq!(g.access.expiry.source, ExpirySource::JwtExp);
        assert_eq!(g.access.expiry.at, device_now.plus(HOUR));
    }

    #[test]
    fn salesforce_has_no_expires_in_and_issued_at_in_ms() {
        let server_now_ms = 1_700_000_000_000u64;
        let device_now = Timestamp(server_now_ms + 5 * MINUTE); // device 5 min fast
        let r = HttpResponse::new(200, format!(
            r#"{{"access_token":"00Dxx!AQ","refresh_token":"5Aep","signature":"s","scope":"refresh_token api","instance_url":"https://acme.my.salesforce.com","id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer","issued_at":"{}"}}"#,
            server_now_ms - 2_000
        ))
        .with_header("Date", &httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(server_now_ms)));
        let g = parse_token_response(&sf(), &r, device_now, NONE).unwrap();
        assert_eq!(g.access.expiry.source, ExpirySource::SessionTimeout);
        assert_eq!(g.access.issued_at, device_now.minus(2_000));
        assert_eq!(
            g.access.expiry.at,
            device_now.minus(2_000).plus(120 * MINUTE)
        );
        assert_eq!(
            g.instance_url.as_deref(),
            Some("https://acme.my.salesforce.com")
        );
    }

    #[test]
    fn salesforce_without_a_readable_date_starts_the_session_now() {
        // The device clock is 5 minutes ahead and the Date header is not exposed (CORS).
        let device_now = Timestamp(1_700_000_000_000 + 5 * MINUTE);
        let r = HttpResponse::new(
            200,
            r#"{"access_token":"00D!AQ","instance_url":"https://acme.my.salesforce.com","token_type":"Bearer","issued_at":"1700000000000"}"#,
        );
        let g = parse_token_response(&sf(), &r, device_now, NONE).unwrap();
        assert_eq!(g.access.issued_at, device_now);
        assert_eq!(g.access.expiry.at, device_now.plus(120 * MINUTE));
    }

    #[test]
    fn jwt_lifetime_from_iat_when_no_date_header() {
        let device_now = Timestamp(5_000_000_000_000); // far from the token's clock
        let at = jwt(&serde_json::json!({"iat": 1_700_000_000u64, "exp": 1_700_003_600u64}));
        let r = HttpResponse::new(
            200,
            format!(r#"{{"access_token":"{at}","token_type":"Bearer"}}"#),
        );
        let g = parse_token_response(&ms(), &r, device_now, NONE).unwrap();
        assert_eq!(g.access.expiry.at, device_now.plus(HOUR));
    }

    #[test]
    fn no_lifetime_information_never_means_never_expires() {
        let r = HttpResponse::new(200, r#"{"access_token":"opaque","token_type":"Bearer"}"#);
        let g = parse_token_response(&ms(), &r, Timestamp(0), NONE).unwrap();
        assert_eq!(
            g.access.expiry,
            Expiry {
                at: Timestamp(HOUR),
                source: ExpirySource::AssumedDefault,
                lifetime: HOUR
            }
        );
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for body in [
            "",
            "{",
            "[]",
            "null",
            r#"{"access_token":""}"#,
            r#"{"token_type":"Bearer"}"#,
            "\u{feff}{}",
        ] {
            assert!(
                parse_token_response(&ms(), &HttpResponse::new(200, body), Timestamp(0), NONE)
                    .is_err(),
                "{body}"
            );
        }
        let r = HttpResponse::new(200, r#"{"access_token":"x","token_type":"mac"}"#);
        assert_eq!(
            parse_token_response(&ms(), &r, Timestamp(0), NONE).unwrap_err(),
            TokenResponseError::UnsupportedTokenType("mac".into())
        );
    }

    #[test]
    fn expires_in_is_clamped_to_a_minute_and_a_day() {
        let lifetime = |value: &str| {
            let body =
                format!(r#"{{"access_token":"AT","token_type":"Bearer","expires_in":{value}}}"#);
            parse_token_response(&ms(), &HttpResponse::new(200, body), Timestamp(0), NONE)
                .unwrap()
                .access
                .expiry
                .lifetime
        };
        assert_eq!(lifetime("0"), MINUTE);
        assert_eq!(lifetime("59"), MINUTE);
        assert_eq!(lifetime("3600"), HOUR);
        assert_eq!(lifetime("31536000"), 24 * HOUR);
        assert_eq!(lifetime("18446744073709551615"), 24 * HOUR);
    }

    #[test]
    fn an_expired_or_future_id_token_is_refused_with_skew_allowed() {
        let now_s: u64 = 1_764_000_000;
        let now = Timestamp(now_s * 1000);
        let date = |s: u64| {
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s))
        };
        // The provider's clock agrees with the device's (`Date` = now) unless `server_s` says.
        let parse_at = |claims: serde_json::Value, server_s: Option<u64>, device: Timestamp| {
            let mut claims = claims;
            claims["iss"] = "https://idp".into();
            claims["aud"] = "cid".into();
            let id = jwt(&claims);
            let mut r = HttpResponse::new(
                200,
                format!(
                    r#"{{"access_token":"AT","token_type":"Bearer","expires_in":60,"id_token":"{id}"}}"#
                ),
            );
            if let Some(s) = server_s {
                r = r.with_header("Date", &date(s));
            }
            parse_token_response(&ms(), &r, device, NONE).map(|_| ())
        };
        let parse = |claims| parse_at(claims, Some(now_s), now);
        assert_eq!(
            parse(serde_json::json!({"exp": now_s - 3600, "iat": now_s - 7200})),
            Err(TokenResponseError::IdTokenExpired)
        );
        // Within the skew.
        assert_eq!(
            parse(serde_json::json!({"exp": now_s - 60, "iat": now_s - 3660})),
            Ok(())
        );
        assert_eq!(
            parse(serde_json::json!({"exp": now_s + 7200, "iat": now_s + 3600})),
            Err(TokenResponseError::IdTokenIssuedInFuture)
        );
        assert_eq!(
            parse(serde_json::json!({"exp": now_s + 3600, "iat": now_s + 120})),
            Ok(())
        );
        // A token that expires before it was issued is never valid, whatever the clocks.
        assert_eq!(
            parse_at(
                serde_json::json!({"exp": now_s, "iat": now_s + 60}),
                None,
                now
            ),
            Err(TokenResponseError::IdTokenExpired)
        );
        // On the provider's clock: a device two hours ahead still accepts a fresh token...
        let ahead = now.plus(2 * HOUR);
        assert_eq!(
            parse_at(
                serde_json::json!({"exp": now_s + 3600, "iat": now_s}),
                Some(now_s),
                ahead
            ),
            Ok(())
        );
        // ...and without a `Date` header the device clock is not trusted to judge it.
        assert_eq!(
            parse_at(
                serde_json::json!({"exp": now_s + 3600, "iat": now_s}),
                None,
                ahead
            ),
            Ok(())
        );
    }

    #[test]
    fn id_token_nonce_audience_issuer() {
        let p = ms();
        let ok = jwt(
            &serde_json::json!({"iss":"https://idp","aud":"cid","sub":"s1","nonce":"n1","preferred_username":"alice@contoso.com","name":"Alice"}),
        );
        let body = |id: &str| {
            HttpResponse::new(
                200,
                format!(
                    r#"{{"access_token":"AT","token_type":"Bearer","expires_in":60,"id_token":"{id}"}}"#
                ),
            )
        };
        let g = parse_token_response(
            &p,
            &body(&ok),
            Timestamp(0),
            IdTokenExpectations { nonce: Some("n1") },
        )
        .unwrap();
        assert_eq!(
            g.identity.unwrap().username.as_deref(),
            Some("alice@contoso.com")
        );
        assert_eq!(
            parse_token_response(
                &p,
                &body(&ok),
                Timestamp(0),
                IdTokenExpectations {
                    nonce: Some("other")
                }
            )
            .unwrap_err(),
            TokenResponseError::NonceMismatch
        );
        let wrong_aud = jwt(&serde_json::json!({"iss":"https://idp","aud":["x"],"nonce":"n1"}));
        assert_eq!(
            parse_token_response(&p, &body(&wrong_aud), Timestamp(0), NONE).unwrap_err(),
            TokenResponseError::AudienceMismatch
        );
        let wrong_iss = jwt(&serde_json::json!({"iss":"https://evil","aud":"cid"}));
        assert_eq!(
            parse_token_response(&p, &body(&wrong_iss), Timestamp(0), NONE).unwrap_err(),
            TokenResponseError::IssuerMismatch
        );
        let mut multi = p.clone();
        multi.issuer = IssuerRule::AnyTenantOf {
            authority: "https://login.microsoftonline.com".into(),
        };
        let tenant = jwt(
            &serde_json::json!({"iss":"https://login.microsoftonline.com/72f988bf/v2.0","aud":"cid","email":"bob@x"}),
        );
        let g = parse_token_response(&multi, &body(&tenant), Timestamp(0), NONE).unwrap();
        assert_eq!(g.identity.unwrap().username.as_deref(), Some("bob@x"));
    }

    #[test]
    fn debug_output_redacts_the_secret() {
        let r = HttpResponse::new(
            200,
            r#"{"access_token":"SECRET-AT","token_type":"Bearer","expires_in":60}"#,
        );
        let g = parse_token_response(&ms(), &r, Timestamp(0), NONE).unwrap();
        assert!(!format!("{:?}", g.access).contains("SECRET-AT"));
    }
}

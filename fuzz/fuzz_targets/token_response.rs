//! A token endpoint's 2xx answer (JSON body, JWT access and ID tokens, `Date` header) is
//! read by `parse_token_response`; a hostile or broken endpoint must get an error, never a
//! panic, an overflow of the expiry arithmetic or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sidebar_auth::http::HttpResponse;
use sidebar_auth::time::Timestamp;
use sidebar_auth::token::{parse_token_response, IdTokenExpectations};
use std::sync::OnceLock;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    static PROFILES: OnceLock<Vec<sidebar_auth::provider::ProviderProfile>> = OnceLock::new();
    let profiles = PROFILES.get_or_init(common::profiles);
    if data.len() < 9 {
        return;
    }
    let (head, rest) = data.split_at(9);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let profile = &profiles[head[0] as usize % profiles.len()];
    // The device clock anywhere in u64 (a clock far off, or at its limits).
    let now = Timestamp(u64::from_le_bytes(head[1..9].try_into().unwrap()));
    // The first line, if any, is the `Date` header; the rest the body.
    let (date, body) = text.split_once('\n').unwrap_or(("", text));
    let response = HttpResponse::new(200, body).with_header("date", date);
    let nonce = IdTokenExpectations {
        nonce: Some("nonce-value"),
    };
    let _ = parse_token_response(profile, &response, now, nonce);
    let _ = parse_token_response(
        profile,
        &HttpResponse::new(200, text),
        now,
        IdTokenExpectations { nonce: None },
    );
});

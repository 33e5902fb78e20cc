//! A failed token or API response, classified by each provider's table (what
//! `classifyRefreshError` does for the hosts): any status, headers and body must give a
//! diagnosis, and only a provider's documented answer may drop a refresh token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sidebar_auth::http::HttpResponse;
use sidebar_auth::provider::ProviderId;
use sidebar_auth::time::Timestamp;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (head, rest) = data.split_at(3);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let status = u16::from_le_bytes([head[0], head[1]]) % 1000;
    let ids = [
        ProviderId::Microsoft,
        ProviderId::Google,
        ProviderId::Salesforce,
        ProviderId::Exchange,
    ];
    let id = ids[head[2] as usize % ids.len()];
    // The first line is the `Retry-After` header (a number or an HTTP date); the rest the body.
    let (retry_after, body) = text.split_once('\n').unwrap_or(("", text));
    let response = HttpResponse::new(status, body).with_header("retry-after", retry_after);
    let diagnosis = id.rules().classify(&response, Timestamp(1_700_000_000_000));
    // The promise under test: 429 and 5xx are transient whatever the body says.
    if status == 429 || (500..600).contains(&status) {
        assert!(
            !diagnosis.drop_refresh_token,
            "status {status} dropped a refresh token"
        );
    }
});

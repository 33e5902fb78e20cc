//! The redirect a sign-in window ends on is attacker-controlled text (any page can navigate
//! there): `parse_redirect` must answer every input with a value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sidebar_auth::authorize::{parse_redirect, PendingAuthorization};
use sidebar_auth::time::Timestamp;
use std::sync::OnceLock;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    static PROFILES: OnceLock<Vec<sidebar_auth::provider::ProviderProfile>> = OnceLock::new();
    let profiles = PROFILES.get_or_init(common::profiles);
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let pending = PendingAuthorization {
        state: "state-value".into(),
        nonce: "nonce-value".into(),
        pkce_verifier: "verifier".into(),
        started_at: Timestamp(0),
        interactive: true,
    };
    let profile = &profiles[pick as usize % profiles.len()];
    // Inputs as they arrive: the whole URL, and a query appended to the real redirect URI.
    let _ = parse_redirect(profile, &pending, text);
    let _ = parse_redirect(profile, &pending, &format!("{}?{text}", common::REDIRECT));
});

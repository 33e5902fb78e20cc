//! The configuration comes from the host (an administrator's JSON): any text gives a
//! configuration or an error naming the wrong field, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sidebar_auth::provider::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_json(text) {
        let _ = config.validate();
        let _ = sidebar_auth::provider::required_origins(&config);
    }
});

//! Stored vault text can be anything (a corrupted profile folder, an older or newer
//! version): `Vault::decode` answers with a vault or an error, and what it reads, written
//! again, reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sidebar_auth::vault::Vault;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(vault) = Vault::decode(text) {
        let written = vault.encode();
        let again = Vault::decode(&written).expect("a vault the engine wrote reads back");
        assert_eq!(
            again.encode(),
            written,
            "encode is not stable across a round trip"
        );
    }
});

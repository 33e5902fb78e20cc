//! Randomness as an input. The core asks its driver for bytes (the browser's CSPRNG in
//! `src/web/`, a seeded sequence in tests) so that `state`, `nonce`, PKCE verifiers and
//! jitter are reproducible under test and never come from a weak source in production.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub trait RandomSource {
    fn fill(&mut self, bytes: &mut [u8]);

    /// A uniformly distributed fraction in [0, 1), for jitter.
    fn unit(&mut self) -> f64 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b) as f64 / (u32::MAX as f64 + 1.0)
    }

    /// `n` random bytes, base64url without padding: 32 bytes give the 43-character PKCE
    /// verifier RFC 7636 §4.1 recommends, and the same strength for `state` and `nonce`.
    fn token(&mut self, n: usize) -> String {
        let mut b = vec![0u8; n];
        self.fill(&mut b);
        URL_SAFE_NO_PAD.encode(b)
    }
}

/// A deterministic source for tests and property tests (SplitMix64). Not for secrets.
#[derive(Debug, Clone)]
pub struct SeededRandom(pub u64);

impl RandomSource for SeededRandom {
    fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

//! When to refresh, when to retry, and when to stop.
//!
//! - Refresh before expiry with a lead time proportional to the token's lifetime, jittered
//!   so that many clients (or many connections) do not refresh in the same second.
//! - Retry transient failures in two ways (issue 12, fleet scale). The engine's own retry
//!   (a wake-up, nobody waiting) is spread with *full jitter* over a fixed window as long as
//!   the outages it must absorb (AWS Architecture Blog, "Exponential Backoff And Jitter";
//!   Google SRE book, "Addressing Cascading Failures": retries spread out and bounded), so
//!   that a fleet whose provider was down for 30 minutes does not come back all at once: the
//!   extra load after recovery is about the failing clients' count over their mean wait.
//!   A caller that needs a token now (the access token expired) may try again after a short
//!   exponential backoff, so a user who is there waits seconds, not the window. Neither goes
//!   sooner than `Retry-After` (RFC 9110 §10.2.3); a `Retry-After` is also the spread.
//! - A loop guard caps token requests per connection per window: Microsoft answers a client
//!   that repeats the same token request too often with AADSTS50196 and blocks it.
//! - After six consecutive rejections (the provider's, not transient failures), stop and ask
//!   the user; transient failures only back off.

use serde::{Deserialize, Serialize};

use crate::time::{Millis, Timestamp, HOUR, MINUTE, SECOND};
use crate::token::Expiry;

/// Refresh no later than this fraction of the lifetime before expiry (plus jitter up to
/// twice as much), never earlier than halfway, never later than `MIN_LEAD` before expiry.
const LEAD_FRACTION: f64 = 0.10;
const MIN_LEAD: Millis = 30 * SECOND;

const BACKOFF_BASE: Millis = 2 * SECOND;
/// The longest wait of a caller between retries of a transient failure.
pub const BACKOFF_CAP: Millis = 30 * MINUTE;
/// The engine's own retries after a transient failure come uniformly within this window:
/// long enough that the clients failing through a 30-minute outage come back over an hour
/// (`examples/fleet/`, BENCHMARKS.md), and within issue 11's cap (15-60 min), so a
/// connection whose `online` event was missed still resumes by itself.
pub const BACKGROUND_RETRY_WINDOW: Millis = HOUR;
/// Never retry sooner than this, whatever the jitter says: a zero delay is a hot loop.
const BACKOFF_FLOOR: Millis = SECOND;
/// A `Retry-After` beyond this is treated as this (a broken header must not park a
/// connection for a week).
const RETRY_AFTER_CAP: Millis = 6 * HOUR;
/// AADSTS50196 "client request loop detected": wait at least this long.
pub const LOOP_DETECTED_PAUSE: Millis = 5 * MINUTE;

/// The sidebar rule: after this many consecutive rejected attempts, stop and ask.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 6;

/// When to refresh a token that expires at `expiry.at`; `jitter` is uniform in [0, 1).
pub fn refresh_due_at(issued_at: Timestamp, expiry: &Expiry, jitter: f64) -> Timestamp {
    let lifetime = issued_at.until(expiry.at);
    let jitter = jitter.clamp(0.0, 1.0);
    let proportional = (lifetime as f64 * LEAD_FRACTION * (1.0 + jitter)) as Millis;
    let lead = proportional.max(MIN_LEAD).min(lifetime / 2);
    expiry.at.minus(lead)
}

/// Exponential backoff with full jitter: how long to wait before attempt number `attempt`
/// (1 = the first retry) after a transient failure. The engine's own retry when the device
/// is offline (nothing reaches the provider, and the `online` event does not reach every
/// context), and, with `jitter` 1, a caller's.
pub fn backoff_delay(attempt: u32, jitter: f64, retry_after: Option<Millis>) -> Millis {
    let exponent = attempt.saturating_sub(1).min(20);
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u64 << exponent)
        .min(BACKOFF_CAP);
    let jittered = (ceiling as f64 * jitter.clamp(0.0, 1.0)) as Millis;
    jittered
        .max(retry_after_floor(retry_after))
        .max(BACKOFF_FLOOR)
}

/// How long a caller who needs a token waits after transient failure number `attempt`
/// before trying again: 2 s doubling to `BACKOFF_CAP`. No jitter: callers arrive at random.
pub fn demand_retry_delay(attempt: u32, retry_after: Option<Millis>) -> Millis {
    backoff_delay(attempt, 1.0, retry_after)
}

/// How long the engine waits by itself after a transient failure; `jitter` is uniform in
/// [0, 1). Full jitter over `BACKGROUND_RETRY_WINDOW`, or over [Retry-After, 2 × Retry-After)
/// when the provider said how long: all clients told the same must not come back together.
pub fn background_retry_delay(jitter: f64, retry_after: Option<Millis>) -> Millis {
    let jitter = jitter.clamp(0.0, 1.0);
    let floor = retry_after_floor(retry_after);
    let spread = if floor > 0 {
        floor
    } else {
        BACKGROUND_RETRY_WINDOW
    };
    floor + ((spread as f64 * jitter) as Millis).max(BACKOFF_FLOOR)
}

fn retry_after_floor(retry_after: Option<Millis>) -> Millis {
    retry_after.map_or(0, |r| r.min(RETRY_AFTER_CAP))
}

/// A sliding-window cap on token requests for one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopGuard {
    recent: Vec<Timestamp>,
}

impl LoopGuard {
    pub const WINDOW: Millis = 10 * MINUTE;
    pub const MAX_REQUESTS: usize = 10;

    /// `Ok` if a token request may go out at `now`; otherwise the earliest time it may.
    pub fn check(&self, now: Timestamp) -> Result<(), Timestamp> {
        let in_window: Vec<Timestamp> = self
            .recent
            .iter()
            .copied()
            .filter(|t| now.0 < t.0.saturating_add(Self::WINDOW) && *t <= now)
            .collect();
        if in_window.len() < Self::MAX_REQUESTS {
            return Ok(());
        }
        let oldest = in_window.iter().min().copied().unwrap_or(now);
        Err(oldest.plus(Self::WINDOW))
    }

    /// Records a request sent at `now` (call only after `check` said yes).
    pub fn record(&mut self, now: Timestamp) {
        self.recent
            .retain(|t| now.0 < t.0.saturating_add(Self::WINDOW));
        self.recent.push(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::ExpirySource;
    #[cfg(not(target_arch = "wasm32"))]
    use proptest::prelude::*;

    fn expiry(issued: u64, lifetime: u64) -> Expiry {
        Expiry {
            at: Timestamp(issued + lifetime),
            source: ExpirySource::ExpiresIn,
            lifetime,
        }
    }

    #[test]
    fn a_one_hour_token_refreshes_6_to_12_minutes_early() {
        let e = expiry(0, HOUR);
        assert_eq!(
            refresh_due_at(Timestamp(0), &e, 0.0),
            Timestamp(HOUR - 6 * MINUTE)
        );
        assert_eq!(
            refresh_due_at(Timestamp(0), &e, 0.999_999),
            Timestamp(HOUR - 12 * MINUTE + 1)
        );
    }

    #[test]
    fn a_two_minute_token_refreshes_30s_early() {
        assert_eq!(
            refresh_due_at(Timestamp(0), &expiry(0, 2 * MINUTE), 0.5),
            Timestamp(90 * SECOND)
        );
    }

    #[test]
    fn backoff_examples() {
        assert_eq!(backoff_delay(1, 0.0, None), BACKOFF_FLOOR);
        assert_eq!(backoff_delay(1, 0.5, None), SECOND);
        assert_eq!(backoff_delay(3, 0.5, None), 4 * SECOND);
        assert_eq!(
            backoff_delay(30, 0.999, None),
            (BACKOFF_CAP as f64 * 0.999) as u64
        );
        assert_eq!(backoff_delay(1, 0.1, Some(120 * SECOND)), 120 * SECOND);
        assert_eq!(backoff_delay(1, 0.1, Some(30 * 24 * HOUR)), RETRY_AFTER_CAP);
    }

    #[test]
    fn demand_retry_examples() {
        assert_eq!(demand_retry_delay(1, None), 2 * SECOND);
        assert_eq!(demand_retry_delay(3, None), 8 * SECOND);
        assert_eq!(demand_retry_delay(30, None), BACKOFF_CAP);
        assert_eq!(demand_retry_delay(1, Some(120 * SECOND)), 120 * SECOND);
        assert_eq!(demand_retry_delay(1, Some(30 * 24 * HOUR)), RETRY_AFTER_CAP);
    }

    #[test]
    fn background_retry_examples() {
        assert_eq!(background_retry_delay(0.0, None), BACKOFF_FLOOR);
        assert_eq!(background_retry_delay(0.5, None), 30 * MINUTE);
        assert_eq!(
            background_retry_delay(0.0, Some(600 * SECOND)),
            601 * SECOND
        );
        assert_eq!(
            background_retry_delay(0.5, Some(600 * SECOND)),
            900 * SECOND
        );
        assert_eq!(
            background_retry_delay(0.5, Some(30 * 24 * HOUR)),
            RETRY_AFTER_CAP + RETRY_AFTER_CAP / 2
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest! {
        #[test]
        fn refresh_happens_after_halfway_and_before_expiry(
            issued in 0u64..4_000_000_000_000,
            lifetime in 2u64..(400 * 24 * HOUR),
            jitter in 0.0f64..1.0,
        ) {
            let e = expiry(issued, lifetime);
            let due = refresh_due_at(Timestamp(issued), &e, jitter);
            prop_assert!(due < e.at, "due {due:?} not before expiry {:?}", e.at);
            prop_assert!(due.0 >= issued + lifetime / 2);
            if lifetime >= 2 * MIN_LEAD {
                prop_assert!(e.at.0 - due.0 >= MIN_LEAD);
            }
        }

        #[test]
        fn refresh_lead_grows_with_lifetime(
            short in 2u64..(10 * 24 * HOUR),
            extra in 0u64..(10 * 24 * HOUR),
            jitter in 0.0f64..1.0,
        ) {
            let long = short + extra;
            let lead_short = short - refresh_due_at(Timestamp(0), &expiry(0, short), jitter).0;
            let lead_long = long - refresh_due_at(Timestamp(0), &expiry(0, long), jitter).0;
            prop_assert!(lead_long >= lead_short);
        }

        #[test]
        fn backoff_respects_floor_ceiling_and_retry_after(
            attempt in 1u32..200,
            jitter in 0.0f64..1.0,
            retry_after in proptest::option::of(0u64..(48 * HOUR)),
        ) {
            let d = backoff_delay(attempt, jitter, retry_after);
            prop_assert!(d >= BACKOFF_FLOOR);
            if let Some(r) = retry_after {
                prop_assert!(d >= r.min(RETRY_AFTER_CAP));
            }
            prop_assert!(d <= BACKOFF_CAP.max(retry_after.unwrap_or(0).min(RETRY_AFTER_CAP)).max(BACKOFF_FLOOR));
        }

        #[test]
        fn backoff_ceiling_never_shrinks(attempt in 1u32..60, jitter in 0.0f64..1.0) {
            // With the same jitter draw, a later attempt never waits less.
            prop_assert!(backoff_delay(attempt + 1, jitter, None) >= backoff_delay(attempt, jitter, None));
        }

        #[test]
        fn demand_retry_respects_retry_after_and_the_cap(
            attempt in 1u32..200,
            retry_after in proptest::option::of(0u64..(48 * HOUR)),
        ) {
            let d = demand_retry_delay(attempt, retry_after);
            let asked = retry_after.unwrap_or(0).min(RETRY_AFTER_CAP);
            prop_assert!(d >= BACKOFF_BASE.max(asked));
            prop_assert!(d <= BACKOFF_CAP.max(asked));
        }

        #[test]
        fn demand_retry_never_shrinks(attempt in 1u32..60) {
            prop_assert!(demand_retry_delay(attempt + 1, None) >= demand_retry_delay(attempt, None));
        }

        #[test]
        fn background_retry_stays_in_its_window(
            jitter in 0.0f64..1.0,
            retry_after in proptest::option::of(0u64..(48 * HOUR)),
        ) {
            let d = background_retry_delay(jitter, retry_after);
            let asked = retry_after.unwrap_or(0).min(RETRY_AFTER_CAP);
            prop_assert!(d >= BACKOFF_FLOOR);
            if asked > 0 {
                // Never sooner than Retry-After, spread over as much again.
                prop_assert!(d >= asked && d <= 2 * asked + BACKOFF_FLOOR);
            } else {
                prop_assert!(d <= BACKGROUND_RETRY_WINDOW);
            }
        }

        #[test]
        fn loop_guard_never_lets_more_than_max_through_any_window(
            gaps in proptest::collection::vec(0u64..(3 * MINUTE), 1..80),
        ) {
            let mut guard = <LoopGuard as Default>::default();
            let mut now = Timestamp(1_000_000);
            let mut sent: Vec<Timestamp> = Vec::new();
            for gap in gaps {
                now = now.plus(gap);
                match guard.check(now) {
                    Ok(()) => { guard.record(now); sent.push(now); }
                    Err(next) => prop_assert!(next > now),
                }
            }
            for (i, start) in sent.iter().enumerate() {
                let in_window = sent[i..].iter().filter(|t| t.0 < start.0 + LoopGuard::WINDOW).count();
                prop_assert!(in_window <= LoopGuard::MAX_REQUESTS);
            }
        }
    }
}

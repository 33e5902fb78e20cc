//! Time as data. The core never reads a clock: every decision takes `now` from its caller,
//! which is what makes the schedule and the state machine testable to the millisecond.

use serde::{Deserialize, Serialize};

/// A duration in milliseconds.
pub type Millis = u64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

/// A point in time: milliseconds since the Unix epoch, on the device's clock unless a
/// name says otherwise. A JSON (and JavaScript) number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn plus(self, millis: Millis) -> Timestamp {
        Timestamp(self.0.saturating_add(millis))
    }

    pub fn minus(self, millis: Millis) -> Timestamp {
        Timestamp(self.0.saturating_sub(millis))
    }

    /// Milliseconds from `self` until `later`, zero if `later` is not later.
    pub fn until(self, later: Timestamp) -> Millis {
        later.0.saturating_sub(self.0)
    }
}

/// The difference between the provider's clock and the device's, learned from HTTP `Date`
/// headers. Device clocks are wrong by minutes to hours; absolute times a provider sends
/// (a JWT `exp`, Salesforce's `issued_at`) are on the provider's clock and must be moved onto
/// the device's before they are compared with `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerClock {
    /// server time minus device time, in milliseconds.
    pub offset_ms: i64,
}

impl ServerClock {
    /// Learn the offset from a response's `Date` header (RFC 9110 §6.6.1) received at
    /// device time `now`. `Date` has one-second resolution; the error that adds is far below
    /// any margin the schedule uses.
    pub fn from_date_header(date: &str, now: Timestamp) -> Option<ServerClock> {
        let server = httpdate::parse_http_date(date.trim()).ok()?;
        let server_ms = server
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis() as i64;
        // i128, then saturated: a device clock (or a fed-in `now`) beyond i64 must give the
        // largest offset, not an overflow (issue 11, defect 8).
        let offset = server_ms as i128 - now.0 as i128;
        Some(ServerClock {
            offset_ms: offset.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        })
    }

    /// A provider timestamp moved onto the device's clock.
    pub fn to_device(self, server_time: Timestamp) -> Timestamp {
        // i128: neither a far-future timestamp nor a huge offset can overflow.
        let device = server_time.0 as i128 - self.offset_ms as i128;
        Timestamp(device.clamp(0, u64::MAX as i128) as u64)
    }
}

/// Plain-words duration for the dashboard: "45 min", "5 h", "3 days".
pub fn human_duration(millis: Millis) -> String {
    if millis < MINUTE {
        "less than a minute".to_string()
    } else if millis < HOUR {
        let m = millis / MINUTE;
        format!("{m} min")
    } else if millis < 2 * DAY {
        let h = millis / HOUR;
        format!("{h} h")
    } else {
        let d = millis / DAY;
        format!("{d} days")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_header_offset_moves_server_times_onto_the_device_clock() {
        // Sun, 06 Nov 1994 08:49:37 GMT = 784111777 s (RFC 9110 example).
        let device_now = Timestamp(784_111_777_000 - 90 * MINUTE); // device 90 min slow
        let clock = ServerClock::from_date_header("Sun, 06 Nov 1994 08:49:37 GMT", device_now)
            .expect("valid IMF-fixdate");
        assert_eq!(clock.offset_ms, (90 * MINUTE) as i64);
        let server_exp = Timestamp(784_111_777_000 + HOUR);
        assert_eq!(clock.to_device(server_exp), device_now.plus(HOUR));
    }

    #[test]
    fn extreme_values_saturate() {
        let clock = ServerClock {
            offset_ms: i64::MIN,
        };
        assert_eq!(clock.to_device(Timestamp(u64::MAX)), Timestamp(u64::MAX));
        let clock = ServerClock {
            offset_ms: i64::MAX,
        };
        assert_eq!(clock.to_device(Timestamp(0)), Timestamp(0));
    }

    #[test]
    fn an_offset_from_an_extreme_device_clock_saturates() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let clock = ServerClock::from_date_header(date, Timestamp(u64::MAX)).unwrap();
        assert_eq!(clock.offset_ms, i64::MIN);
        let clock = ServerClock::from_date_header(date, Timestamp(0)).unwrap();
        assert_eq!(clock.offset_ms, 784_111_777_000);
    }

    #[test]
    fn bad_date_header_teaches_nothing() {
        assert_eq!(
            ServerClock::from_date_header("yesterday", Timestamp(0)),
            None
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(30 * SECOND), "less than a minute");
        assert_eq!(human_duration(45 * MINUTE), "45 min");
        assert_eq!(human_duration(5 * HOUR + 59 * MINUTE), "5 h");
        assert_eq!(human_duration(3 * DAY), "3 days");
    }
}

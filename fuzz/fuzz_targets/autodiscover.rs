//! "I'm not sure" reads answers from hosts chosen by whoever owns the address's domain:
//! Exchange Online's JSON autodiscover, POX autodiscover XML, redirects. Any address and
//! any sequence of answers must end in a finding or another probe, never a panic, and the
//! lookup must end: the documented order has a fixed number of steps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sidebar_auth::http::HttpResponse;
use sidebar_auth::provider::discover::{Discovery, ProbeAnswer, Step};
use sidebar_auth::provider::exchange::{ews_url_in_autodiscover, json_autodiscover_url};

/// More probes than the documented order has steps: a lookup still asking after this many
/// answers does not end.
const MAX_PROBES: usize = 8;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Sections separated by NUL: the address, then per answer "status\nfinal URL\nbody"
    // (an empty section is a network failure: no answer at all).
    let mut sections = text.split('\0');
    let email = sections.next().unwrap_or_default();
    let Ok(mut discovery) = Discovery::start(email) else {
        return;
    };
    let mut step = discovery.first();
    for _ in 0..MAX_PROBES {
        let Step::Probe(_) = step else {
            return;
        };
        let answer = sections.next().filter(|s| !s.is_empty()).map(|section| {
            let mut lines = section.splitn(3, '\n');
            let status = lines.next().and_then(|s| s.parse().ok()).unwrap_or(200);
            let final_url = lines.next().unwrap_or_default().to_string();
            let body = lines.next().unwrap_or_default();
            let _ = ews_url_in_autodiscover(body);
            let _ = json_autodiscover_url(body);
            ProbeAnswer {
                response: HttpResponse::new(status, body),
                final_url,
            }
        });
        step = discovery.answer(answer);
    }
    assert!(
        !matches!(step, Step::Probe(_)),
        "the lookup asked for more than {MAX_PROBES} probes"
    );
});

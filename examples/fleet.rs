//! Refresh load at fleet scale: the real schedule and connection code (no copy of it) for
//! many clients, with the providers' real lifetimes, through an identity-provider outage.
//!
//! ```sh
//! cargo run --release --example fleet -- --clients 1000000 --svg BENCHMARKS-fleet.svg
//! ```
//!
//! Each client is a `Connection` in steady state (signed in at a random moment of the last
//! token lifetime): 60 % Microsoft 365 (access tokens of 60-90 minutes, random per token, as
//! Entra issues them), 25 % Gmail (3599 s), 15 % Salesforce (a 2 h session, no
//! `expires_in`). Time advances event by event; every wake-up is `Input::Tick` and every
//! token request gets the provider's answer: a token, or during the outage a 503. The run
//! is made twice, with the engine's jitter and with every random draw fixed at 0.5 (no
//! jitter), and prints token requests per minute, the steady rate, the peak after the
//! outage, and how many clients were asked to sign in.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use sidebar_auth::connection::{
    Account, Command, Connection, Context, Input, PersistedConnection, RefreshTokenRecord,
};
use sidebar_auth::http::HttpResponse;
use sidebar_auth::provider::{Config, ProviderId, Target};
use sidebar_auth::random::{RandomSource, SeededRandom};
use sidebar_auth::time::{Timestamp, HOUR, MINUTE, SECOND};
use sidebar_auth::token::{AccessToken, Expiry, ExpirySource};

const T0: Timestamp = Timestamp(1_764_000_000_000);

struct Options {
    clients: usize,
    hours: u64,
    outage_start_min: u64,
    outage_min: u64,
    svg: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        clients: 20_000,
        hours: 8,
        outage_start_min: 240,
        outage_min: 30,
        svg: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--clients" => o.clients = value.parse().expect("--clients N"),
            "--hours" => o.hours = value.parse().expect("--hours N"),
            "--outage-start" => o.outage_start_min = value.parse().expect("--outage-start MIN"),
            "--outage" => o.outage_min = value.parse().expect("--outage MIN"),
            "--svg" => o.svg = Some(value),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    o
}

/// Every draw at the middle: the schedule without jitter.
struct NoJitter;
impl RandomSource for NoJitter {
    fn fill(&mut self, bytes: &mut [u8]) {
        bytes.fill(0);
        if let Some(last) = bytes.last_mut() {
            *last = 0x80; // unit() reads little-endian: 0x80000000 / 2^32 = 0.5
        }
    }
}

fn config() -> Config {
    Config::from_json(
        r#"{"redirectUri":"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/",
            "microsoft":{"clientId":"ms","tenant":"organizations"},
            "google":{"clientId":"g","clientSecret":"GOCSPX-x"},
            "salesforce":{"clientId":"sf","sessionTimeoutMinutes":120}}"#,
    )
    .expect("fleet config")
}

/// The provider of client `i` (60 / 25 / 15 %).
fn provider_of(i: usize) -> ProviderId {
    match i % 20 {
        0..=11 => ProviderId::Microsoft,
        12..=16 => ProviderId::Google,
        _ => ProviderId::Salesforce,
    }
}

/// An access-token lifetime as the provider issues it.
fn lifetime(provider: ProviderId, random: &mut SeededRandom) -> u64 {
    match provider {
        ProviderId::Microsoft => 60 * MINUTE + (random.unit() * (30 * MINUTE) as f64) as u64,
        ProviderId::Google => 3599 * SECOND,
        _ => 2 * HOUR,
    }
}

/// The provider's answer to a refresh at `now`.
fn token_response(provider: ProviderId, now: Timestamp, random: &mut SeededRandom) -> String {
    match provider {
        ProviderId::Salesforce => format!(
            r#"{{"access_token":"00D!x","token_type":"Bearer","instance_url":"https://acme.my.salesforce.com","issued_at":"{}"}}"#,
            now.0
        ),
        p => format!(
            r#"{{"access_token":"x","token_type":"Bearer","expires_in":{},"refresh_token":"r"}}"#,
            lifetime(p, random) / SECOND
        ),
    }
}

struct Run {
    per_minute: Vec<u64>,
    asked_to_sign_in: usize,
    requests: u64,
}

fn simulate(o: &Options, jitter: bool) -> Run {
    let config = config();
    let end = T0.plus(o.hours * HOUR);
    let outage = (
        T0.plus(o.outage_start_min * MINUTE),
        T0.plus((o.outage_start_min + o.outage_min) * MINUTE),
    );
    let mut seeded = SeededRandom(7);
    let mut fixed = NoJitter;
    let mut answers = SeededRandom(11);
    let mut connections = Vec::with_capacity(o.clients);
    let mut queue = BinaryHeap::with_capacity(o.clients);
    for i in 0..o.clients {
        let provider = provider_of(i);
        let life = lifetime(provider, &mut answers);
        // Signed in at a random moment of the last lifetime: the fleet is in steady state.
        let issued = T0.minus((answers.unit() * life as f64) as u64);
        let state = PersistedConnection {
            account: Some(Account {
                username: Some(format!("user{i}@example.test")),
                target: Target::default(),
                ..Account::default()
            }),
            refresh_token: Some(RefreshTokenRecord {
                secret: "r".into(),
                signed_in_at: issued,
                hard_deadline: None,
            }),
            ..PersistedConnection::default()
        };
        let mut c = Connection::restore(provider, state, &config);
        let token = AccessToken {
            secret: "x".into(),
            issued_at: issued,
            expiry: Expiry {
                at: issued.plus(life),
                source: if provider == ProviderId::Salesforce {
                    ExpirySource::SessionTimeout
                } else {
                    ExpirySource::ExpiresIn
                },
                lifetime: life,
            },
            scope: None,
        };
        let random: &mut dyn RandomSource = if jitter { &mut seeded } else { &mut fixed };
        c.restore_access_token(token, random);
        if let Some(at) = c.next_wake() {
            queue.push(Reverse((at.max(T0), i)));
        }
        connections.push(c);
    }
    let minutes = (o.hours * 60) as usize;
    let mut per_minute = vec![0u64; minutes];
    let mut requests = 0;
    while let Some(Reverse((at, i))) = queue.pop() {
        if at >= end {
            break;
        }
        let provider = provider_of(i);
        let random: &mut dyn RandomSource = if jitter { &mut seeded } else { &mut fixed };
        let mut ctx = Context {
            now: at,
            random,
            silent_sign_in: false,
        };
        let c = &mut connections[i];
        let commands = c.handle(&config, Input::Tick, &mut ctx);
        if commands
            .iter()
            .any(|cmd| matches!(cmd, Command::SendTokenRequest(_)))
        {
            requests += 1;
            per_minute[(at.0 - T0.0) as usize / MINUTE as usize] += 1;
            let answer = if at >= outage.0 && at < outage.1 {
                HttpResponse::new(503, "<html>Service Unavailable</html>")
            } else {
                HttpResponse::new(200, token_response(provider, at, &mut answers))
            };
            c.handle(&config, Input::TokenResponse(Ok(answer)), &mut ctx);
        }
        if let Some(next) = c.next_wake() {
            // A wake-up due now (a retry at once) is taken a millisecond later: time moves on.
            queue.push(Reverse((next.max(at.plus(1)), i)));
        }
    }
    let asked_to_sign_in = connections
        .iter()
        .filter(|c| c.attention().is_some())
        .count();
    Run {
        per_minute,
        asked_to_sign_in,
        requests,
    }
}

/// Mean requests per minute before the outage (after the first hour, when every client has
/// refreshed once on the schedule), and the peak per minute after it ends.
fn rates(run: &Run, o: &Options) -> (f64, u64) {
    let steady: Vec<u64> = run.per_minute[60..o.outage_start_min as usize].to_vec();
    let mean = steady.iter().sum::<u64>() as f64 / steady.len() as f64;
    let after = (o.outage_start_min + o.outage_min) as usize;
    let peak = run.per_minute[after..].iter().copied().max().unwrap_or(0);
    (mean, peak)
}

fn svg(o: &Options, runs: &[(&str, &Run, &str)]) -> String {
    let (w, h, pad) = (900.0, 360.0, 50.0);
    let max = runs
        .iter()
        .flat_map(|(_, r, _)| r.per_minute.iter())
        .copied()
        .max()
        .unwrap_or(1) as f64;
    let minutes = runs[0].1.per_minute.len() as f64;
    let x = |m: f64| pad + m / minutes * (w - 2.0 * pad);
    let y = |v: f64| h - pad - v / max * (h - 2.0 * pad);
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<rect x="{ox}" y="{pad}" width="{ow}" height="{oh}" fill="#fde2e1"/>
<text x="{ox}" y="{ty}" fill="#a0322b">provider down ({om} min)</text>
<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="#333"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{b}" stroke="#333"/>
<text x="{pad}" y="{lb}">0</text><text x="{r}" y="{lb}" text-anchor="end">{hours} h</text>
<text x="8" y="{pad}">{max}/min</text>
<text x="{cx}" y="20" text-anchor="middle">Token requests per minute, {clients} clients</text>
"##,
        ox = x(o.outage_start_min as f64),
        ow = x((o.outage_start_min + o.outage_min) as f64) - x(o.outage_start_min as f64),
        oh = h - 2.0 * pad,
        ty = pad - 4.0,
        om = o.outage_min,
        b = h - pad,
        r = w - pad,
        lb = h - pad + 16.0,
        hours = o.hours,
        max = max as u64,
        cx = w / 2.0,
        clients = o.clients,
    );
    for (n, (label, run, colour)) in runs.iter().enumerate() {
        let points: Vec<String> = run
            .per_minute
            .iter()
            .enumerate()
            .map(|(m, v)| format!("{:.1},{:.1}", x(m as f64), y(*v as f64)))
            .collect();
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.2\" points=\"{}\"/>\n<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{label}</text>\n",
            points.join(" "),
            w - pad - 200.0,
            pad + 16.0 * (n as f64 + 1.0)
        ));
    }
    out.push_str("</svg>\n");
    out
}

fn main() {
    let o = options();
    let with = simulate(&o, true);
    let without = simulate(&o, false);
    println!(
        "fleet: {} clients, {} h, provider down from minute {} for {} min",
        o.clients, o.hours, o.outage_start_min, o.outage_min
    );
    for (label, run) in [("with jitter", &with), ("without jitter", &without)] {
        let (steady, peak) = rates(run, &o);
        println!(
            "{label:>15}: {} token requests; steady {steady:.0}/min; peak after recovery {peak}/min = {:.2} x steady; asked to sign in: {}",
            run.requests,
            peak as f64 / steady,
            run.asked_to_sign_in
        );
    }
    if let Some(path) = &o.svg {
        let text = svg(
            &o,
            &[
                ("with jitter", &with, "#1a5fd6"),
                ("without jitter", &without, "#c0392b"),
            ],
        );
        std::fs::write(path, text).expect("write the SVG");
        println!("plot: {path}");
    }
}

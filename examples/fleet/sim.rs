//! The fleet simulation itself (used by `examples/fleet/main.rs` and by the short form in
//! `tests/fleet.rs`): the real `Connection` and schedule, no copy of them, for many clients
//! with the providers' real lifetimes, through an identity-provider outage.
//!
//! Each client is one `Connection` in steady state, signed in at a random moment:
//! - 60 % Microsoft 365 (`spa` registration, the default): access tokens of 60-90 minutes,
//!   random per token as Entra issues them ("Configurable token lifetimes", default
//!   60-90 min), and a refresh token that ends 24 h after the sign-in whatever its
//!   refreshes (AADSTS700084): at that horizon the engine signs in silently
//!   (`launchWebAuthFlow` with `interactive: false`) and exchanges the code;
//! - 25 % Gmail: 3599 s access tokens, a refresh token without a fixed end;
//! - 15 % Salesforce: no `expires_in`, a 2 h session timeout (the org's setting).
//!
//! Time advances event by event (a binary heap of each client's next event, so a million
//! clients cost their events, not their count times the seconds). An event is either the
//! engine's own wake-up (`Input::Tick` at `next_wake()`) or the user asking for a token
//! (`Input::AccessTokenNeeded`). Users ask at random (a Poisson process, one ask every
//! `user_every_min` minutes on average, across day and night). An ask while the access token
//! is fresh changes nothing in the connection (it answers from memory), so only asks after
//! the token went stale are simulated; by the memorylessness of the Poisson process the next
//! ask after any moment is that moment plus an exponential draw, which is exact.
//! Every token request gets the provider's answer at once: a token, or, during the outage,
//! a 503 (the token endpoint) or a page that does not load (the authorization endpoint).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sidebar_auth::connection::{
    Account, Command, Connection, Context, Input, PersistedConnection, RefreshTokenRecord,
    SignInFailure,
};
use sidebar_auth::http::HttpResponse;
use sidebar_auth::provider::{Config, ProviderId, Target};
use sidebar_auth::random::{RandomSource, SeededRandom};
use sidebar_auth::time::{Timestamp, HOUR, MINUTE, SECOND};
use sidebar_auth::token::{AccessToken, Expiry, ExpirySource};

pub const T0: Timestamp = Timestamp(1_764_000_000_000);
const REDIRECT: &str = "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/";
/// The `spa` refresh-token horizon (providers.md, AADSTS700084).
const SPA_HORIZON: u64 = 24 * HOUR;

pub struct Options {
    pub clients: usize,
    pub hours: u64,
    pub outage_start_min: u64,
    pub outage_min: u64,
    /// Mean minutes between two asks for a token by one user (Poisson).
    pub user_every_min: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            clients: 1_000_000,
            hours: 8,
            outage_start_min: 240,
            outage_min: 30,
            user_every_min: 60.0,
        }
    }
}

/// Every draw at the middle: the engine's schedule without jitter.
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
    Config::from_json(&format!(
        r#"{{"redirectUri":"{REDIRECT}",
            "microsoft":{{"clientId":"ms","tenant":"organizations"}},
            "google":{{"clientId":"g","clientSecret":"GOCSPX-x"}},
            "salesforce":{{"clientId":"sf","sessionTimeoutMinutes":120}}}}"#
    ))
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

/// Entra's answer to the code exchange of a silent sign-in: tokens and an ID token for the
/// same user (`sub`), with the request's nonce.
fn sign_in_response(i: usize, nonce: &str, now: Timestamp, random: &mut SeededRandom) -> String {
    let claims = format!(
        r#"{{"iss":"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0","aud":"ms","sub":"sub-{i}","nonce":"{nonce}","preferred_username":"user{i}@example.test","iat":{iat},"exp":{exp}}}"#,
        iat = now.0 / 1000,
        exp = now.0 / 1000 + 3600,
    );
    format!(
        r#"{{"access_token":"x","token_type":"Bearer","expires_in":{},"refresh_token":"r","id_token":"{}.{}.sig"}}"#,
        lifetime(ProviderId::Microsoft, random) / SECOND,
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims),
    )
}

fn query(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default()
}

pub struct Run {
    /// Token requests (refreshes and code exchanges) per second of simulated time.
    pub per_second: Vec<u32>,
    pub requests: u64,
    /// Token requests a user's ask sent (the rest are the engine's own).
    pub asked_by_users: u64,
    /// Asks answered "will retry" after the provider was back.
    pub asks_refused_after_recovery: u64,
    /// Connections asking the user to sign in at the end.
    pub asked_to_sign_in: usize,
    /// Of those, how many were asked while the provider was down.
    pub asked_during_outage: usize,
    /// Silent sign-ins at the 24 h horizon.
    pub silent_sign_ins: u64,
    /// Connections holding no refresh token at the end (none may lose one to a 503).
    pub refresh_tokens_lost: usize,
}

impl Run {
    /// Token requests in each minute.
    pub fn per_minute(&self) -> Vec<u64> {
        self.per_second
            .chunks(60)
            .map(|c| c.iter().map(|&n| n as u64).sum())
            .collect()
    }

    /// Mean requests per minute before the outage (after the first hour, when every client
    /// has refreshed once on the schedule), and the busiest minute after it ends.
    pub fn steady_and_peak(&self, o: &Options) -> (f64, u64) {
        let (steady, peak) = self.steady_and_peak_over(o, 1);
        (steady, peak as u64)
    }

    /// The same over windows of `bin` minutes (means per minute): a small fleet's minute
    /// holds so few requests that its Poisson noise, not the schedule, would make the peak.
    pub fn steady_and_peak_over(&self, o: &Options, bin: usize) -> (f64, f64) {
        let minutes = self.per_minute();
        let mean = |m: &[u64]| m.iter().sum::<u64>() as f64 / m.len() as f64;
        let steady = mean(&minutes[60..o.outage_start_min as usize]);
        let after = (o.outage_start_min + o.outage_min) as usize;
        let peak = minutes[after..]
            .chunks_exact(bin)
            .map(mean)
            .fold(0.0, f64::max);
        (steady, peak)
    }
}

/// A client's next event: the engine's wake-up or the user's next ask, whichever is first.
fn next_event(c: &Connection, user_ask: Timestamp) -> Option<Timestamp> {
    match c.next_wake() {
        Some(wake) => Some(wake.min(user_ask)),
        // A connection asking for the user does nothing until then: no event.
        None if c.attention().is_some() => None,
        None => Some(user_ask),
    }
}

pub fn simulate(o: &Options, jitter: bool) -> Run {
    let config = config();
    let end = T0.plus(o.hours * HOUR);
    let outage = (
        T0.plus(o.outage_start_min * MINUTE),
        T0.plus((o.outage_start_min + o.outage_min) * MINUTE),
    );
    let down = |t: Timestamp| t >= outage.0 && t < outage.1;
    let mut seeded = SeededRandom(7);
    let mut fixed = NoJitter;
    // The world's randomness (lifetimes, users), the same in both runs.
    let mut world = SeededRandom(11);
    let mut users = SeededRandom(13);
    let mean_ask = o.user_every_min * MINUTE as f64;
    let next_ask = |from: Timestamp, users: &mut SeededRandom| {
        from.plus((-(1.0 - users.unit()).ln() * mean_ask) as u64)
    };
    let mut connections = Vec::with_capacity(o.clients);
    let mut user_ask = Vec::with_capacity(o.clients);
    let mut queue = BinaryHeap::with_capacity(o.clients);
    for i in 0..o.clients {
        let provider = provider_of(i);
        let life = lifetime(provider, &mut world);
        // Signed in at a random moment of the last day (Microsoft: the 24 h horizon runs
        // from there), the access token issued at a random moment of its lifetime since.
        let signed_in = T0.minus((world.unit() * SPA_HORIZON as f64) as u64);
        let issued = T0.minus((world.unit() * life as f64) as u64).max(signed_in);
        let state = PersistedConnection {
            account: Some(Account {
                username: Some(format!("user{i}@example.test")),
                subject: Some(format!("sub-{i}")),
                target: Target::default(),
                ..Account::default()
            }),
            refresh_token: Some(RefreshTokenRecord {
                secret: "r".into(),
                signed_in_at: signed_in,
                hard_deadline: (provider == ProviderId::Microsoft)
                    .then(|| signed_in.plus(SPA_HORIZON)),
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
        let stale = c.access_token().map_or(T0, |t| {
            t.expiry
                .at
                .minus(sidebar_auth::connection::FRESHNESS_MARGIN)
        });
        user_ask.push(next_ask(stale.max(T0), &mut users));
        if let Some(at) = next_event(&c, user_ask[i]) {
            queue.push(Reverse((at.max(T0), i as u32)));
        }
        connections.push(c);
    }
    let mut run = Run {
        per_second: vec![0; (o.hours * 3600) as usize],
        requests: 0,
        asked_by_users: 0,
        asks_refused_after_recovery: 0,
        asked_to_sign_in: 0,
        asked_during_outage: 0,
        silent_sign_ins: 0,
        refresh_tokens_lost: 0,
    };
    while let Some(Reverse((at, i))) = queue.pop() {
        if at >= end {
            break;
        }
        let i = i as usize;
        let provider = provider_of(i);
        let random: &mut dyn RandomSource = if jitter { &mut seeded } else { &mut fixed };
        let mut ctx = Context {
            now: at,
            random,
            silent_sign_in: true,
        };
        let c = &mut connections[i];
        let asked = user_ask[i] <= at;
        let input = if asked {
            Input::AccessTokenNeeded
        } else {
            Input::Tick
        };
        let had_attention = c.attention().is_some();
        let mut commands = c.handle(&config, input, &mut ctx);
        // The host saves what the engine asks it to, and answers what it sends, at once.
        let mut nonce: Option<String> = None;
        loop {
            if commands.contains(&Command::Persist) {
                c.mark_saved();
            }
            let next = commands.iter().find_map(|cmd| match cmd {
                Command::SendTokenRequest(_) => {
                    run.requests += 1;
                    run.asked_by_users += asked as u64;
                    run.per_second[((at.0 - T0.0) / SECOND) as usize] += 1;
                    let body = match &nonce {
                        _ if down(at) => {
                            return Some(Input::TokenResponse(Ok(HttpResponse::new(
                                503,
                                "<html>Service Unavailable</html>",
                            ))))
                        }
                        Some(nonce) => sign_in_response(i, nonce, at, &mut world),
                        None => token_response(provider, at, &mut world),
                    };
                    Some(Input::TokenResponse(Ok(HttpResponse::new(200, body))))
                }
                Command::OpenSignIn { url, .. } => {
                    run.silent_sign_ins += 1;
                    nonce = Some(query(url, "nonce"));
                    Some(Input::SignInResult(if down(at) {
                        // What launchWebAuthFlow reports when the page does not load.
                        Err(SignInFailure::HostError(
                            "Authorization page could not be loaded.".into(),
                        ))
                    } else {
                        Ok(format!(
                            "{REDIRECT}?code=C{i}&state={}",
                            query(url, "state")
                        ))
                    }))
                }
                _ => None,
            });
            let Some(next) = next else { break };
            commands = c.handle(&config, next, &mut ctx);
        }
        if asked {
            if !down(at) && at >= outage.1 && c.fresh_access_token(at).is_none() {
                run.asks_refused_after_recovery += 1;
            }
            let stale = c.access_token().map_or(at, |t| {
                t.expiry
                    .at
                    .minus(sidebar_auth::connection::FRESHNESS_MARGIN)
            });
            user_ask[i] = next_ask(stale.max(at), &mut users);
        }
        if !had_attention && c.attention().is_some() && down(at) {
            run.asked_during_outage += 1;
        }
        if let Some(next) = next_event(c, user_ask[i]) {
            // An event due now (a retry at once) is taken a millisecond later: time moves on.
            queue.push(Reverse((next.max(at.plus(1)), i as u32)));
        }
    }
    run.asked_to_sign_in = connections
        .iter()
        .filter(|c| c.attention().is_some())
        .count();
    run.refresh_tokens_lost = connections
        .iter()
        .filter(|c| c.state.refresh_token.is_none() && c.attention().is_none())
        .count();
    run
}

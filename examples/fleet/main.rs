//! Refresh load at fleet scale (issue 12): the real schedule and connection code for many
//! clients through a 30-minute identity-provider outage; see `sim.rs` for the model.
//!
//! ```sh
//! cargo run --release --example fleet -- --clients 1000000 --svg docs/fleet.svg
//! ```
//!
//! The run is made twice, with the engine's jitter and with every one of its random draws
//! fixed at 0.5 (no jitter; the world, lifetimes and users, is the same in both), and prints
//! the steady rate, the busiest minute after the outage, and how many clients were asked to
//! sign in. The SVG plots token requests per second (each minute's mean) over time.

mod sim;

use std::time::Instant;

use sim::{simulate, Options, Run};

fn options() -> (Options, Option<String>) {
    let mut o = Options::default();
    let mut svg = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        let bad = |what: &str| -> ! {
            eprintln!("{} needs {what}, got {value:?}", pair[0]);
            std::process::exit(2)
        };
        match pair[0].as_str() {
            "--clients" => o.clients = value.parse().unwrap_or_else(|_| bad("a count")),
            "--hours" => o.hours = value.parse().unwrap_or_else(|_| bad("hours")),
            "--outage-start" => {
                o.outage_start_min = value.parse().unwrap_or_else(|_| bad("minutes"))
            }
            "--outage" => o.outage_min = value.parse().unwrap_or_else(|_| bad("minutes")),
            "--user-every" => o.user_every_min = value.parse().unwrap_or_else(|_| bad("minutes")),
            "--svg" => svg = Some(value),
            other => {
                eprintln!("unknown argument {other} (--clients --hours --outage-start --outage --user-every --svg)");
                std::process::exit(2)
            }
        }
    }
    if o.outage_start_min < 120 || o.outage_start_min + o.outage_min >= o.hours * 60 {
        eprintln!("the outage must start after 2 h (the steady rate is measured from 1 h) and end before the run does");
        std::process::exit(2)
    }
    (o, svg)
}

fn svg(o: &Options, runs: &[(&str, &Run, &str)]) -> String {
    let (w, h, pad) = (900.0, 360.0, 56.0);
    let per_minute: Vec<Vec<u64>> = runs.iter().map(|(_, r, _)| r.per_minute()).collect();
    // The scale leaves out the first hour: at the start every client whose refresh was
    // already due goes at once (the simulation's warm-up, not a behaviour); it is clipped.
    let max = per_minute
        .iter()
        .flat_map(|m| m.iter().skip(60))
        .copied()
        .max()
        .unwrap_or(1) as f64
        / 60.0;
    let minutes = per_minute[0].len() as f64;
    let x = |m: f64| pad + m / minutes * (w - 2.0 * pad);
    let y = |v: f64| h - pad - v.min(max) / max * (h - 2.0 * pad);
    let (steady, _) = runs[0].1.steady_and_peak(o);
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<rect x="{ox}" y="{pad}" width="{ow}" height="{oh}" fill="#fde2e1"/>
<text x="{ox}" y="{ty}" fill="#a0322b">provider down ({om} min)</text>
<line x1="{pad}" y1="{s2}" x2="{r}" y2="{s2}" stroke="#888" stroke-dasharray="4 4"/><text x="{r}" y="{s2l}" text-anchor="end" fill="#555">2 × steady</text>
<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="#333"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{b}" stroke="#333"/>
<text x="{pad}" y="{lb}">0</text><text x="{r}" y="{lb}" text-anchor="end">{hours} h</text>
<text x="4" y="{pad}">{max:.0}/s</text><text x="4" y="{b}">0/s</text>
<text x="{cx}" y="20" text-anchor="middle">Token requests per second (mean of each minute; the first minute's warm-up clipped), {clients} clients, a user asks every {every} min on average</text>
"##,
        ox = x(o.outage_start_min as f64),
        ow = x((o.outage_start_min + o.outage_min) as f64) - x(o.outage_start_min as f64),
        oh = h - 2.0 * pad,
        ty = pad - 4.0,
        om = o.outage_min,
        s2 = y(2.0 * steady / 60.0),
        s2l = y(2.0 * steady / 60.0) - 4.0,
        b = h - pad,
        r = w - pad,
        lb = h - pad + 16.0,
        hours = o.hours,
        cx = w / 2.0,
        clients = o.clients,
        every = o.user_every_min,
    );
    for (n, ((label, _, colour), minutes)) in runs.iter().zip(&per_minute).enumerate() {
        let points: Vec<String> = minutes
            .iter()
            .enumerate()
            .map(|(m, v)| format!("{:.1},{:.1}", x(m as f64 + 0.5), y(*v as f64 / 60.0)))
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
    let (o, svg_path) = options();
    let started = Instant::now();
    let with = simulate(&o, true);
    let without = simulate(&o, false);
    let elapsed = started.elapsed();
    println!(
        "fleet: {} clients, {} h, provider down from minute {} for {} min, a user asks every {} min on average",
        o.clients, o.hours, o.outage_start_min, o.outage_min, o.user_every_min
    );
    for (label, run) in [("with jitter", &with), ("without jitter", &without)] {
        let (steady, peak) = run.steady_and_peak(&o);
        let after = ((o.outage_start_min + o.outage_min) * 60) as usize;
        let peak_second = run.per_second[after..].iter().max().copied().unwrap_or(0);
        println!(
            "{label:>15}: {} token requests ({} asked by users, {} silent sign-ins); steady {:.1}/s; busiest minute after recovery {:.1}/s = {:.2} x steady (busiest second {peak_second}/s); asks answered \"will retry\" after recovery: {}; asked to sign in: {} ({} while the provider was down); refresh tokens lost: {}",
            run.requests,
            run.asked_by_users,
            run.silent_sign_ins,
            steady / 60.0,
            peak as f64 / 60.0,
            peak as f64 / steady,
            run.asks_refused_after_recovery,
            run.asked_to_sign_in,
            run.asked_during_outage,
            run.refresh_tokens_lost,
        );
    }
    println!("simulated both runs in {:.1} s", elapsed.as_secs_f64());
    if let Some(path) = &svg_path {
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

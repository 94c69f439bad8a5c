//! Per-hit cost of the throttle with few and with many keys held.
//!
//! `cargo run --release --example throttle_cost [MANY]` (MANY defaults to 1,000,000).
//! Prints, for 10 and for MANY keys already held, the median over 5 runs of
//! the cost of one `hit()`:
//!
//! * hot: the same 10 clients keep coming back (the usual traffic);
//! * new: every hit is a client never seen, with the table full, so each hit
//!   also evicts the least recently used key (an attacker rotating addresses).
//!
//! Then the ratios many / few (the target is at most 2), the memory a
//! key takes, and, as the baseline measured in the same run, the structure
//! this replaced (a map swept by a full `retain` on every hit once it held
//! 50,000 keys) at the same sizes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use restauth::clock::SystemClock;
use restauth::security::throttle::{Rate, SoftlockPolicy, Throttle};

const HITS: usize = 200_000;

fn policy() -> SoftlockPolicy {
    SoftlockPolicy {
        threshold: 5,
        base: Duration::from_secs(1),
        max: Duration::from_secs(900),
    }
}

/// A throttle of capacity `held` that already holds `held` keys.
fn filled(held: usize, rate: Rate) -> Throttle {
    let t = Throttle::new(Arc::new(SystemClock), policy(), held);
    for i in 0..held {
        let _ = t.hit(
            &format!("login:ip:10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
            rate,
        );
    }
    t
}

fn ns_per_hit(t: &Throttle, keys: &[String], rate: Rate) -> f64 {
    let started = Instant::now();
    for key in keys {
        let _ = std::hint::black_box(t.hit(key, rate));
    }
    started.elapsed().as_nanos() as f64 / keys.len() as f64
}

/// The throttle as it was before: one `HashMap`, and a full `retain` on every
/// hit once it holds 50,000 keys (keys lived 24 hours).
struct OldThrottle {
    windows: std::sync::Mutex<std::collections::HashMap<String, Vec<Instant>>>,
}

impl OldThrottle {
    fn hit(&self, key: &str, rate: Rate) -> bool {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= 50_000 {
            let day = Duration::from_secs(86_400);
            windows.retain(|_, hits| hits.last().is_some_and(|t| now.duration_since(*t) < day));
        }
        let hits = windows.entry(key.to_string()).or_default();
        hits.retain(|t| now.duration_since(*t) < rate.period);
        if hits.len() >= rate.count as usize {
            return false;
        }
        hits.push(now);
        true
    }
}

fn old_ns_per_hit(held: usize, rate: Rate, hits: usize) -> f64 {
    let t = OldThrottle {
        windows: std::sync::Mutex::new(std::collections::HashMap::new()),
    };
    {
        // Filled directly: through hit() every insert past 50,000 would scan.
        let now = Instant::now();
        let mut windows = t.windows.lock().unwrap_or_else(|p| p.into_inner());
        for i in 0..held {
            let key = format!("login:ip:10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            windows.insert(key, vec![now]);
        }
    }
    let keys: Vec<String> = (0..hits)
        .map(|i| format!("login:ip:192.0.2.{}", i % 10))
        .collect();
    let started = Instant::now();
    for key in &keys {
        std::hint::black_box(t.hit(key, rate));
    }
    started.elapsed().as_nanos() as f64 / hits as f64
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let many: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rate = Rate::parse("20/min").expect("rate");
    let hot: Vec<String> = (0..HITS)
        .map(|i| format!("login:ip:192.0.2.{}", i % 10))
        .collect();
    let mut results = Vec::new();
    for held in [10, many] {
        let rss_before = rss_kb();
        let t = filled(held, rate);
        if held == many {
            let per_key = (rss_kb().saturating_sub(rss_before) * 1024) as f64 / held as f64;
            println!("memory: about {per_key:.0} bytes per key held (RSS growth / keys)");
        }
        let hot_ns = median((0..5).map(|_| ns_per_hit(&t, &hot, rate)).collect());
        let mut runs = Vec::new();
        for run in 0..5 {
            let fresh: Vec<String> = (0..HITS)
                .map(|i| format!("login:ip:new-{run}-{i}"))
                .collect();
            runs.push(ns_per_hit(&t, &fresh, rate));
        }
        let new_ns = median(runs);
        let (windows, _) = t.tracked_keys();
        println!("{held:>9} keys held: hot {hot_ns:7.1} ns/hit, new {new_ns:7.1} ns/hit (table holds {windows})");
        results.push((hot_ns, new_ns));
    }
    let (few, lots) = (results[0], results[1]);
    println!(
        "ratio {many} / 10 keys: hot {:.2}, new {:.2} (target <= 2)",
        lots.0 / few.0,
        lots.1 / few.1
    );
    // The old structure scans the whole map per hit: fewer hits keep it short.
    let old_few = old_ns_per_hit(10, rate, HITS);
    let old_many = old_ns_per_hit(many, rate, 200);
    println!(
        "baseline (the structure before): hot {old_few:.1} ns/hit with 10 keys, {old_many:.1} ns/hit with {many}: ratio {:.0}",
        old_many / old_few
    );
}

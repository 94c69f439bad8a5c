//! Times bare PBKDF2-SHA256 derivations the way restauth computes them, for
//! `bench/run.sh`: the reference a login's server CPU is compared with.
//!
//! ```text
//! cargo run --release --example pbkdf2_once -- [N] [ITERATIONS]
//! ```
//!
//! Runs N (default 7) derivations of `restauth::security::password::hash_with_salt`
//! at ITERATIONS (default 1,000,000) on one thread, and prints one JSON object:
//! median/min/max wall seconds and median thread CPU seconds per derivation.
//! CPU time is the figure to compare on a busy machine (wall time includes waiting
//! for a core).

use std::hint::black_box;
use std::time::Instant;

use restauth::security::password::hash_with_salt;

/// CPU time consumed by the calling thread, in seconds.
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T, name: &str) -> T {
    match args.get(i) {
        None => default,
        Some(s) => s.replace('_', "").parse().unwrap_or_else(|_| {
            eprintln!("pbkdf2_once: {name} must be a positive number, found {s:?}\nusage: pbkdf2_once [N] [ITERATIONS]");
            std::process::exit(2);
        }),
    }
}

fn sha_ni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("sha")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = arg(&args, 0, 7, "N");
    let iterations: u32 = arg(&args, 1, 1_000_000, "ITERATIONS");
    if n == 0 || iterations == 0 {
        eprintln!("pbkdf2_once: N and ITERATIONS must be at least 1");
        std::process::exit(2);
    }
    // A warm-up derivation at a small cost: page faults, CPU feature detection.
    black_box(hash_with_salt("warm-up", "restauthbenchsalt00000", 1000));
    let mut wall = Vec::with_capacity(n);
    let mut cpu = Vec::with_capacity(n);
    for i in 0..n {
        let password = format!("bench password {i}");
        let (c0, t0) = (thread_cpu_seconds(), Instant::now());
        black_box(hash_with_salt(
            black_box(&password),
            "restauthbenchsalt00000",
            iterations,
        ));
        wall.push(t0.elapsed().as_secs_f64());
        cpu.push(thread_cpu_seconds() - c0);
    }
    let (min, max) = (
        wall.iter().copied().fold(f64::INFINITY, f64::min),
        wall.iter().copied().fold(0.0, f64::max),
    );
    let out = serde_json::json!({
        "iterations": iterations,
        "n": n,
        "median_s": median(&mut wall),
        "min_s": min,
        "max_s": max,
        "median_cpu_s": median(&mut cpu),
        "sha_ni": sha_ni(),
    });
    println!("{out}");
}

//! The framework ceiling for `bench/run.sh`: a bare rouille server that answers
//! the same small JSON body on every path and method, with an explicit worker
//! pool like restauth's (`server.workers`).
//!
//! ```text
//! cargo run --release --example bare_rouille -- --bind 127.0.0.1:0 --pool 8
//! ```
//!
//! `--bind` (env `BARE_BIND`, default `127.0.0.1:0`) and `--pool` (env `BARE_POOL`,
//! default restauth's default of 4 × cores, at least 4). Prints
//! `listening on http://ADDR` to stderr once bound. No logging, no body reading:
//! whatever restauth does beyond this is the cost of restauth.

use rouille::{Response, Server};

/// The shape and size of restauth's `GET P/user/` answer for a seeded user.
const BODY: &str = r#"{"pk":1,"username":"bench0000001","email":"bench0000001@bench.invalid","first_name":"","last_name":""}"#;

fn usage(message: &str) -> ! {
    eprintln!("bare_rouille: {message}\nusage: bare_rouille [--bind HOST:PORT] [--pool N]");
    std::process::exit(2);
}

fn main() {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut bind = std::env::var("BARE_BIND").unwrap_or_else(|_| "127.0.0.1:0".to_string());
    let mut pool = match std::env::var("BARE_POOL") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| usage("BARE_POOL must be a number")),
        Err(_) => (cpus * 4).max(4),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--bind" => bind = value(),
            "--pool" => {
                pool = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--pool must be a number"))
            }
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    if pool == 0 {
        usage("--pool must be at least 1");
    }
    let server = Server::new(bind.as_str(), |_req| {
        Response::from_data("application/json", BODY)
    })
    .unwrap_or_else(|e| {
        eprintln!("bare_rouille: cannot listen on {bind}: {e}");
        std::process::exit(1);
    })
    .pool_size(pool);
    eprintln!("listening on http://{} (pool {pool})", server.server_addr());
    server.run();
}

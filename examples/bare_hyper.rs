//! The framework ceiling for `bench/run.sh`: a bare server on restauth's own
//! HTTP stack (hyper on a two-thread tokio runtime, complete requests handed
//! to a pool of worker threads through a bounded queue, as
//! `src/server/transport.rs` does) that answers the same small JSON body on
//! every path and method.
//!
//! ```text
//! cargo run --release --example bare_hyper -- --bind 127.0.0.1:0 --pool 8
//! ```
//!
//! `--bind` (env `BARE_BIND`, default `127.0.0.1:0`) and `--pool` (env `BARE_POOL`,
//! default restauth's default of 4 × cores, at least 4). Prints
//! `listening on http://ADDR` to stderr once bound. No logging, no body reading:
//! whatever restauth does beyond this is the cost of restauth.

use std::convert::Infallible;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::oneshot;

/// The shape and size of restauth's `GET P/user/` answer for a seeded user.
const BODY: &str = r#"{"pk":1,"username":"bench0000001","email":"bench0000001@bench.invalid","first_name":"","last_name":""}"#;

fn usage(message: &str) -> ! {
    eprintln!("bare_hyper: {message}\nusage: bare_hyper [--bind HOST:PORT] [--pool N]");
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
    let listener = std::net::TcpListener::bind(bind.as_str()).unwrap_or_else(|e| {
        eprintln!("bare_hyper: cannot listen on {bind}: {e}");
        std::process::exit(1);
    });
    let addr = listener.local_addr().expect("bound");
    let (jobs, rx) = sync_channel::<oneshot::Sender<&'static str>>(128);
    let rx: Arc<Mutex<Receiver<oneshot::Sender<&'static str>>>> = Arc::new(Mutex::new(rx));
    for _ in 0..pool {
        let rx = rx.clone();
        std::thread::spawn(move || loop {
            let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
            let Ok(reply) = job else { return };
            let _ = reply.send(BODY);
        });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    eprintln!("listening on http://{addr} (pool {pool})");
    runtime.block_on(async move {
        listener.set_nonblocking(true).expect("nonblocking");
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let jobs = jobs.clone();
            let service =
                hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let jobs = jobs.clone();
                    async move {
                        let (tx, answer) = oneshot::channel();
                        let body = match jobs.try_send(tx) {
                            Ok(()) => answer.await.unwrap_or(BODY),
                            Err(_) => BODY,
                        };
                        let mut response =
                            Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                        response.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(response)
                    }
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::spawn(connection);
        }
    });
}

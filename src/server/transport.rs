//! The HTTP transport: hyper 1 (HTTP/1.1) on a small tokio runtime, with every
//! limit enforced before a request reaches a worker.
//!
//! * the accept loop holds at most `max_connections` connections; beyond it a
//!   new connection gets `503` at once and is closed, never queued; it backs
//!   off and keeps serving when the process runs out of file descriptors;
//! * the request head (line and headers) must arrive within `header_timeout`
//!   (which also bounds an idle keep-alive connection) and be at most
//!   `max_header_bytes` → 431; an answer the client takes no byte of within
//!   `write_timeout` ends the connection;
//! * a declared body over `max_body_bytes` gets 413 before a byte is read (so
//!   `Expect: 100-continue` never gets its 100); the whole body must arrive
//!   within `read_timeout` → 408; ambiguous framing is refused by hyper → 400;
//! * complete requests go to a bounded queue served by `workers` threads; a
//!   full queue answers 503 with `Retry-After` at once.
//!
//! Endpoint handlers stay synchronous and never run on the I/O threads: a
//! worker thread gets the whole request, runs [`super::handle`], and hands the
//! response back.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_LENGTH};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};

use super::write_deadline::WriteDeadline;
use crate::api::ApiError;
use crate::App;

/// One request for a worker, and where its answer goes.
struct Job {
    request: crate::api::http::Request,
    reply: oneshot::Sender<crate::api::http::Response>,
}

/// Why serving stopped: the runtime or the listener could not be set up, or the listener died.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServeError(String);

/// Serves `listener` until SIGTERM or SIGINT; then stops accepting, lets
/// in-flight requests finish (within `server.shutdown_timeout`) and returns `Ok`.
pub fn serve(app: Arc<App>, listener: std::net::TcpListener) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("restauth-io")
        .enable_all()
        .build()
        .map_err(|e| ServeError(format!("cannot start the I/O runtime: {e}")))?;
    let (jobs, workers) = start_workers(&app);
    let grace = app.config.server.shutdown_timeout;
    let stopping = runtime.block_on(accept_loop(app, listener, jobs))?;
    // Dropping the runtime drops every connection and with them every sender
    // of the queue: the workers finish what they hold, then see the end. A
    // worker can be in the middle of a request whose client has gone (the
    // connection was cut at the deadline), or waiting for a hash slot behind
    // other logins: allow a few seconds for them.
    drop(runtime);
    while !workers.iter().all(|w| w.is_finished()) {
        if stopping.elapsed() > grace + Duration::from_secs(5) {
            return Err(ServeError(
                "requests were still running at the shutdown deadline".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Starts `server.workers` threads serving a queue of `server.max_queued` jobs.
fn start_workers(app: &Arc<App>) -> (SyncSender<Job>, Vec<std::thread::JoinHandle<()>>) {
    let (tx, rx) = sync_channel::<Job>(app.config.server.max_queued);
    let rx = Arc::new(Mutex::new(rx));
    let mut handles = Vec::new();
    for n in 0..app.config.server.workers {
        let (app, rx) = (app.clone(), rx.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("restauth-worker-{n}"))
            .spawn(move || worker(&app, &rx));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => crate::log!("restauth: cannot start worker {n}: {e}"),
        }
    }
    (tx, handles)
}

fn worker(app: &App, jobs: &Mutex<Receiver<Job>>) {
    loop {
        let Ok(job) = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() else {
            return;
        };
        if job.reply.is_closed() {
            // The client went away while its request waited: do not run it.
            continue;
        }
        let response = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            super::handle(app, &job.request)
        }))
        .unwrap_or_else(|_| {
            let error = ApiError::Internal("handler panicked".into()).to_response();
            super::finish(app, &job.request, error)
        });
        // The client may have gone: nobody to answer then.
        let _ = job.reply.send(response);
    }
}

async fn accept_loop(
    app: Arc<App>,
    listener: std::net::TcpListener,
    jobs: SyncSender<Job>,
) -> Result<std::time::Instant, ServeError> {
    listener
        .set_nonblocking(true)
        .map_err(|e| ServeError(format!("cannot set up the listener: {e}")))?;
    let listener = TcpListener::from_std(listener)
        .map_err(|e| ServeError(format!("cannot set up the listener: {e}")))?;
    let slots = Arc::new(Semaphore::new(app.config.server.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal(signals()));
    if let Ok(addr) = listener.local_addr() {
        // Announced only once SIGTERM is handled (tests and supervisors wait for it).
        crate::log!("restauth: listening on http://{addr}");
    }
    let mut out_of_fds_logged = false;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                out_of_fds_logged = false;
                pair
            }
            Err(e) if is_out_of_fds(&e) => {
                if !out_of_fds_logged {
                    crate::log!("restauth: out of file descriptors ({e}); new connections wait");
                    out_of_fds_logged = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                return Err(ServeError(format!(
                    "the listener failed ({e}); exiting so that a supervisor restarts the server"
                )))
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse_busy(stream));
            continue;
        };
        let service_app = app.clone();
        let service_jobs = jobs.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let (app, jobs) = (service_app.clone(), service_jobs.clone());
            async move { Ok::<_, Infallible>(answer(&app, &jobs, peer, req).await) }
        });
        let limits = &app.config.server;
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_header_size(limits.max_header_bytes)
            .max_buf_size(limits.max_header_bytes.max(8192) + 8192)
            .max_headers(limits.max_headers)
            .keep_alive(true)
            .serve_connection(
                WriteDeadline::new(TokioIo::new(stream), limits.write_timeout),
                service,
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // hyper answered these itself, before any request existed; a
                // timeout or a reset is the client's business (an idle
                // keep-alive connection ends with a header timeout).
                // (hyper sends nothing for an HTTP/2 preface.)
                if e.is_parse_too_large() {
                    let uri = e.to_string().contains("URI too long");
                    super::log::refused(peer, if uri { 414 } else { 431 });
                } else if e.is_parse() && !e.is_parse_version_h2() {
                    super::log::refused(peer, 400);
                }
            }
            drop(slot);
        });
    }
    let stopping = std::time::Instant::now();
    drop(listener);
    let grace = app.config.server.shutdown_timeout;
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(grace) => {
            crate::log!("restauth: requests still running after {grace:?}; stopping anyway");
        }
    }
    Ok(stopping)
}

type Signals = (
    std::io::Result<tokio::signal::unix::Signal>,
    std::io::Result<tokio::signal::unix::Signal>,
);

/// Installs the SIGTERM and SIGINT handlers (at once, not on first poll).
fn signals() -> Signals {
    use tokio::signal::unix::{signal, SignalKind};
    (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    )
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal(signals: Signals) {
    let (Ok(mut term), Ok(mut int)) = signals else {
        // No signal handling: serve until killed.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    crate::log!("restauth: stopping: no new connections, finishing requests in flight");
}

fn is_out_of_fds(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
        || matches!(e.raw_os_error(), Some(libc::ENOBUFS) | Some(libc::ENOMEM))
}

/// Errors of one connection that accept(2) reports: try the next one.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut
    ) || matches!(e.raw_os_error(), Some(libc::EPROTO) | Some(libc::EPERM))
}

/// Answers a connection over `max_connections` with 503 and closes it.
async fn refuse_busy(stream: tokio::net::TcpStream) {
    use std::fmt::Write as _;
    use tokio::io::AsyncWriteExt;
    // Written without reading the request: the connection holds no slot.
    let busy = ApiError::Busy.to_response();
    let mut head = format!("HTTP/1.1 {} Service Unavailable\r\n", busy.status_code);
    for (name, value) in &busy.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(
        head,
        "Connection: close\r\nContent-Length: {}\r\n\r\n",
        busy.body.len()
    );
    let mut answer = head.into_bytes();
    answer.extend_from_slice(&busy.body);
    let mut stream = stream;
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&answer)).await;
}

/// Everything between hyper and a worker: limits, body, queue, conversion.
async fn answer(
    app: &App,
    jobs: &SyncSender<Job>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let limits = &app.config.server;
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let refusal = |e: ApiError| {
        let fake = request(&parts, peer, Vec::new());
        let response = super::finish(app, &fake, e.to_response());
        convert(response, true)
    };
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return refusal(ApiError::TooLarge(limits.max_body_bytes));
    }
    let collected = tokio::time::timeout(
        limits.read_timeout,
        Limited::new(body, limits.max_body_bytes).collect(),
    )
    .await;
    let bytes = match collected {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return refusal(ApiError::TooLarge(limits.max_body_bytes))
        }
        Ok(Err(_)) => return refusal(ApiError::BadRequest("Could not read the request body.")),
        Err(_) => return refusal(ApiError::RequestTimeout),
    };
    let request = request(&parts, peer, bytes.to_vec());
    let (reply, answer) = oneshot::channel();
    match jobs.try_send(Job { request, reply }) {
        Ok(()) => {}
        Err(TrySendError::Full(job)) => {
            let busy = ApiError::Busy.to_response();
            return convert(super::finish(app, &job.request, busy), false);
        }
        Err(TrySendError::Disconnected(_)) => {
            return refusal(ApiError::Internal("no worker is running".into()))
        }
    }
    match answer.await {
        Ok(response) => convert(response, false),
        Err(_) => refusal(ApiError::Internal("the worker gave no answer".into())),
    }
}

/// The request as the endpoints read it.
fn request(
    parts: &hyper::http::request::Parts,
    peer: SocketAddr,
    body: Vec<u8>,
) -> crate::api::http::Request {
    let url = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    // Lines of one header are joined with ", " (RFC 9110 §5.3): the endpoints
    // read one value per name, and a client's own X-Forwarded-For line must
    // not hide the one a proxy appended.
    let joined = |name| {
        let values = parts.headers.get_all(name).iter();
        let values: Vec<_> = values
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
            .collect();
        values.join(", ")
    };
    let headers = parts
        .headers
        .keys()
        .map(|n| (n.as_str().to_string(), joined(n)))
        .collect();
    crate::api::http::Request::new(parts.method.as_str(), url, headers, body, peer)
}

/// Our response as hyper's; `close` asks the client to open a new
/// connection (after a refusal whose body was not read).
fn convert(response: crate::api::http::Response, close: bool) -> Response<Full<Bytes>> {
    let mut out = Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() =
        StatusCode::from_u16(response.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    for (name, value) in &response.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    if close {
        headers.insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    out
}

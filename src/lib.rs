//! restauth: a self-hosted REST authentication server speaking dj-rest-auth's HTTP API,
//! on one SQLite file.
//!
//! [`App::open`] builds everything from a [`Config`]; [`serve`] runs the HTTP server.
//! Data flows one way: `server` → `endpoints` → `accounts`/`security` → `db`.

pub mod accounts;
pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod db;
pub mod endpoints;
pub mod log;
pub mod mail;
pub mod private_fs;
pub mod security;
pub mod server;
pub mod social;
pub mod timefmt;

use std::sync::Arc;

pub use app::{App, StartError};
pub use config::Config;

/// Binds the listening socket and serves requests until the process ends.
///
/// Logs `<time> restauth: listening on http://ADDR` once bound.
pub fn serve(mut app: App) -> Result<(), StartError> {
    let requests = accounts::mail_requests::Context {
        config: app.config.clone(),
        secret_key: app.secret_key.clone(),
        clock: app.clock.clone(),
    };
    app.mailer = Some(mail::worker::spawn_with_producer(
        app.config.mail.clone(),
        app.pool.clone(),
        app.clock.clone(),
        Box::new(move |pool| {
            accounts::mail_requests::process_pending(pool, &requests).map_err(|e| e.to_string())
        }),
    ));
    let app = Arc::new(app);
    let bind = app.config.server.bind.clone();
    let listener = std::net::TcpListener::bind(bind.as_str())
        .map_err(|e| StartError::Bind(format!("cannot listen on {bind}: {e}")))?;
    // The transport announces "listening on" once its signal handlers are in place.
    raise_open_file_limit();
    // Returns after SIGTERM/SIGINT once requests in flight are done, or with
    // an error when the listener itself died (then the process exits non-zero,
    // so a supervisor restarts it).
    let served = server::transport::serve(app.clone(), listener);
    if let Some(mailer) = &app.mailer {
        // Lets the message being delivered finish.
        mailer.stop();
    }
    served.map_err(|e| StartError::Bind(e.to_string()))?;
    crate::log!("restauth: stopped");
    Ok(())
}

/// Raises the soft open-file limit to the hard one: every connection is a
/// descriptor, and `server.max_connections` should fit.
fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

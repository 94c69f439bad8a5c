//! restauth: a self-hosted REST authentication server speaking dj-rest-auth's HTTP API,
//! on one SQLite file.
//!
//! [`App::open`] builds everything from a [`Config`]; [`serve`] runs the HTTP server.
//! Data flows one way: `server` → `endpoints` → `accounts`/`security` → `db`.

pub mod accounts;
pub mod api;
pub mod config;
pub mod db;
pub mod endpoints;
pub mod mail;
pub mod private_fs;
pub mod security;
pub mod server;
pub mod social;
pub mod timefmt;

use std::sync::Arc;

use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use config::Config;
use security::hash_limiter::HashLimiter;
use security::password::{self, Verified};
use security::throttle::{Rate, SoftlockPolicy, SystemClock, Throttle};

/// Errors that stop the server from starting.
#[derive(Debug)]
pub enum StartError {
    /// The database could not be opened, checked or migrated.
    Db(db::DbError),
    /// A directory could not be created.
    Io(String),
    /// The listening socket could not be bound.
    Bind(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Db(e) => write!(f, "{e}"),
            StartError::Io(e) => f.write_str(e),
            StartError::Bind(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for StartError {}

impl From<db::DbError> for StartError {
    fn from(e: db::DbError) -> Self {
        StartError::Db(e)
    }
}

/// Everything a request needs: configuration, database, hashing budget, server secret.
pub struct App {
    /// The loaded configuration.
    pub config: Config,
    /// Open SQLite connections.
    pub pool: db::Pool,
    /// Bounds concurrent PBKDF2 work.
    pub hashes: HashLimiter,
    /// HMAC key for signed values (password-reset tokens).
    pub secret_key: String,
    /// The mail worker, when serving (the CLI leaves mail to the server).
    pub mailer: Option<mail::worker::MailWorker>,
    /// Request rates and account softlocks (in memory).
    pub throttle: Throttle,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl App {
    /// Opens (creating if needed) the database and the spool directory.
    pub fn open(config: Config) -> Result<App, StartError> {
        let db_path = config.database.path.clone();
        tighten_database_files(&db_path);
        let conn = db::open_and_migrate(&db_path, config.database.busy_timeout)?;
        let secret_file = config.security.secret_key_path(&db_path);
        let secret = accounts::server_settings::load_secret(
            &conn,
            config.security.secret_key.expose(),
            &secret_file,
        )
        .map_err(|e| StartError::Io(format!("cannot set up the server secret: {e}")))?;
        report_secret(&secret);
        let secret_key = secret.key;
        private_fs::create_dir_all(&config.mail.spool_dir).map_err(|e| {
            StartError::Io(format!(
                "cannot create the mail spool directory {}: {e}",
                config.mail.spool_dir.display()
            ))
        })?;
        let max_hashes = config.security.effective_max_concurrent_hashes();
        // Logins may keep at most half the workers busy (hashing or waiting to
        // hash); beyond that they get 429 at once, so token requests keep flowing.
        let login_waiting = (config.server.workers / 2)
            .saturating_sub(max_hashes)
            .max(1);
        let hashes = HashLimiter::new(max_hashes, login_waiting);
        let pool = db::Pool::new(db_path, config.database.busy_timeout, conn);
        let policy = SoftlockPolicy {
            threshold: config.throttle.softlock_threshold,
            base: config.throttle.softlock_base,
            max: config.throttle.softlock_max,
        };
        let throttle = Throttle::new(
            Arc::new(SystemClock),
            policy,
            config.throttle.max_tracked_keys,
        );
        let trusted_proxies = config.server.trusted_proxies.clone();
        Ok(App {
            config,
            pool,
            hashes,
            secret_key,
            mailer: None,
            throttle,
            trusted_proxies,
        })
    }

    /// Runs `f` on a pooled connection, outside any explicit transaction (reads).
    pub fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::DbError>,
    {
        self.pool.with(|conn| f(conn))?
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed only if `f` succeeds.
    pub fn write<T, E>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::DbError> + From<rusqlite::Error>,
    {
        self.pool.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })?
    }

    /// Hashes a password with the configured cost, within the hashing budget.
    pub fn hash_password(&self, password: &str) -> std::io::Result<String> {
        let iterations = self.config.security.password_iterations;
        self.hashes
            .run(|| password::hash_password(password, iterations))
    }

    /// Checks a password against a stored hash, within the hashing budget.
    pub fn verify_password(&self, password: &str, encoded: &str) -> Verified {
        if password::is_unusable(encoded) {
            return Verified {
                ok: false,
                needs_rehash: false,
            };
        }
        let iterations = self.config.security.password_iterations;
        self.hashes
            .run(|| password::verify_password(password, encoded, iterations))
    }

    /// Counts a request from this client under `rate` (the scope names the counter).
    pub fn throttle_client(
        &self,
        req: &rouille::Request,
        scope: &str,
        rate: impl Fn(&config::ThrottleConfig) -> Rate,
    ) -> Result<(), api::ApiError> {
        let ip = api::client::client_ip(req, &self.trusted_proxies);
        let client = api::client::throttle_identity(ip);
        self.throttle_key(&format!("{scope}:ip:{client}"), rate)
    }

    /// Counts a request for any key (an email address, say) under `rate`.
    pub fn throttle_key(
        &self,
        key: &str,
        rate: impl Fn(&config::ThrottleConfig) -> Rate,
    ) -> Result<(), api::ApiError> {
        if !self.config.throttle.enabled {
            return Ok(());
        }
        self.throttle
            .hit(key, rate(&self.config.throttle))
            .map_err(|w| api::ApiError::Throttled(w.0))
    }

    /// 429 while `account` is softlocked.
    pub fn check_softlock(&self, account: &str) -> Result<(), api::ApiError> {
        if !self.config.throttle.enabled {
            return Ok(());
        }
        self.throttle
            .check_softlock(account)
            .map_err(|w| api::ApiError::Throttled(w.0))
    }

    /// Tells the mail worker that a committed transaction queued mail.
    pub fn mail_queued(&self) {
        if let Some(mailer) = &self.mailer {
            mailer.wake();
        }
    }

    /// Checks a login's password, or answers 429 at once when too many logins
    /// already hash or wait (load shedding, see [`HashLimiter`]).
    pub fn verify_login_password(
        &self,
        password: &str,
        encoded: &str,
    ) -> Result<Verified, api::ApiError> {
        if password::is_unusable(encoded) {
            // A social-only account must not answer faster than a real check:
            // that would tell which accounts have no password.
            self.spend_equal_time(password)?;
            return Ok(Verified {
                ok: false,
                needs_rehash: false,
            });
        }
        let iterations = self.config.security.password_iterations;
        self.hashes
            .try_run(|| password::verify_password(password, encoded, iterations))
            .map_err(|_| api::ApiError::Throttled(1))
    }

    /// Spends the time of one password check (a login for "no such user"),
    /// shed like [`App::verify_login_password`].
    pub fn spend_equal_time(&self, password: &str) -> Result<(), api::ApiError> {
        let iterations = self.config.security.password_iterations;
        self.hashes
            .try_run(|| password::spend_equal_time(password, iterations))
            .map_err(|_| api::ApiError::Throttled(1))
    }
}

/// Removes group and other permissions from a database left readable by an
/// older version (or created by hand), saying so.
fn tighten_database_files(db_path: &std::path::Path) {
    let mut names = vec![db_path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = db_path.as_os_str().to_owned();
        name.push(suffix);
        names.push(name.into());
    }
    for name in names {
        if let Ok(true) = private_fs::tighten(&name) {
            eprintln!(
                "restauth: {} was readable by other users; its mode is now 0600",
                name.display()
            );
        }
    }
}

/// Tells on stderr where a new or moved secret went (never the key itself).
fn report_secret(secret: &accounts::server_settings::Secret) {
    use accounts::server_settings::SecretSource;
    match &secret.source {
        SecretSource::Generated(path) => eprintln!(
            "restauth: generated the server secret in {} (mode 0600); back it up apart from the database",
            path.display()
        ),
        SecretSource::MovedFromDatabase(path) => eprintln!(
            "restauth: moved the server secret from the database to {} (mode 0600) and erased it from the database; links already mailed keep working",
            path.display()
        ),
        SecretSource::File(_) | SecretSource::Configured => {
            if secret.erased_from_database {
                eprintln!(
                    "restauth: erased the server secret an older version kept in the database; the configured one is used"
                );
            }
        }
    }
}

/// Binds the listening socket and serves requests until the process ends.
///
/// Prints `restauth: listening on http://ADDR` to stderr once bound.
pub fn serve(mut app: App) -> Result<(), StartError> {
    let requests = accounts::mail_requests::Context {
        config: app.config.clone(),
        secret_key: app.secret_key.clone(),
    };
    app.mailer = Some(mail::worker::spawn_with_producer(
        app.config.mail.clone(),
        app.config.database.path.clone(),
        app.config.database.busy_timeout,
        Box::new(move |conn| {
            accounts::mail_requests::process_pending(conn, &requests).map_err(|e| e.to_string())
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
        mailer.stop_now();
    }
    served.map_err(|e| StartError::Bind(e.to_string()))?;
    eprintln!("restauth: stopped");
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

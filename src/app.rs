//! The application: configuration, database pool, hashing budget, throttle,
//! clock and server secret, built once at start and shared by every request.
//! It knows nothing of HTTP: the transport and the router sit above it.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{self, Config};
use crate::security::hash_limiter::HashLimiter;
use crate::security::password::{self, Verified};
use crate::security::shared_throttle::SharedThrottle;
use crate::security::throttle::{Rate, SoftlockPolicy, Throttle, Wait};
use crate::{accounts, db, mail, private_fs};

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened, checked or migrated.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// A directory could not be created.
    #[error("{0}")]
    Io(String),
    /// The listening socket could not be bound.
    #[error("{0}")]
    Bind(String),
}

/// Everything a request needs: configuration, database, hashing budget, server secret.
pub struct App {
    /// The loaded configuration.
    pub config: Config,
    /// The database (shared with the mail worker).
    pub pool: Arc<db::Pool>,
    /// Bounds concurrent PBKDF2 work.
    pub hashes: HashLimiter,
    /// HMAC key for signed values (password-reset tokens).
    pub secret_key: String,
    /// JWT mode's signing key, derived from the server secret.
    pub jwt_keys: crate::security::jwt::Keys,
    /// MFA's sealing and HMAC keys, derived from the server secret.
    pub mfa_keys: crate::security::mfa::MfaKeys,
    /// Identity providers' signing keys, fetched when first needed.
    pub provider_keys: crate::social::ProviderKeys,
    /// The mail worker, when serving (the CLI leaves mail to the server).
    pub mailer: Option<mail::worker::MailWorker>,
    /// Request rates and account softlocks (in memory).
    pub throttle: Throttle,
    /// The one clock (the throttle's too).
    pub clock: Arc<dyn Clock>,
}

impl App {
    /// Opens (creating if needed) the database and the spool directory.
    pub fn open(config: Config) -> Result<App, StartError> {
        let db = &config.database;
        let configured = config.security.secret_key.expose();
        let (pool, secret) = if db.url.is_empty() {
            tighten_database_files(&db.path);
            let pool = db::Pool::open_sqlite(&db.path, db.busy_timeout)?;
            let secret_file = config.security.secret_key_path(&db.path);
            let sqlite = pool.as_sqlite().expect("opened on SQLite");
            let secret = sqlite.with(|conn| {
                accounts::server_settings::load_secret(conn, configured, &secret_file)
            })?;
            (pool, secret)
        } else {
            // Checked before connecting: a node without the shared secret must not start at all.
            let file = config.security.secret_key_file.as_deref();
            let secret = accounts::server_settings::load_shared_secret(configured, file);
            let pool =
                db::Pool::open_postgres(db.url.expose(), db.max_connections, db.busy_timeout)?;
            (pool, secret)
        };
        let secret =
            secret.map_err(|e| StartError::Io(format!("cannot set up the server secret: {e}")))?;
        report_secret(&secret);
        let secret_key = secret.key;
        private_fs::create_dir_all(&config.mail.spool_dir).map_err(|e| {
            let dir = config.mail.spool_dir.display();
            StartError::Io(format!("cannot create the mail spool directory {dir}: {e}"))
        })?;
        let max_hashes = config.security.effective_max_concurrent_hashes();
        // Logins may keep at most half the workers busy (hashing or waiting to
        // hash); beyond that they get 429 at once, so token requests keep flowing.
        let login_waiting = (config.server.workers / 2)
            .saturating_sub(max_hashes)
            .max(1);
        let hashes = HashLimiter::new(max_hashes, login_waiting);
        let policy = SoftlockPolicy {
            threshold: config.throttle.softlock_threshold,
            base: config.throttle.softlock_base,
            max: config.throttle.softlock_max,
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let pool = Arc::new(pool);
        let throttle = if pool.as_sqlite().is_some() {
            Throttle::new(clock.clone(), policy, config.throttle.max_tracked_keys)
        } else {
            let shared = SharedThrottle::new(pool.clone(), policy);
            Throttle::shared(shared, clock.clone())
        };
        let provider_keys = crate::social::ProviderKeys::new(&config.social);
        Ok(App {
            config,
            pool,
            hashes,
            jwt_keys: crate::security::jwt::Keys::derive(&secret_key),
            mfa_keys: crate::security::mfa::MfaKeys::derive(&secret_key),
            provider_keys,
            secret_key,
            mailer: None,
            throttle,
            clock,
        })
    }

    /// Runs `f` on a pooled connection, outside any explicit transaction (reads).
    pub fn read<T, E>(&self, f: impl FnOnce(&db::Conn<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::DbError>,
    {
        self.pool.read(f)
    }

    /// Runs `f` in one write transaction, committed only if `f` succeeds (see
    /// [`db::Pool::write`]: `f` may run twice, so it acts on the database only).
    pub fn write<T, E>(&self, f: impl FnMut(&db::Conn<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<db::DbError>,
    {
        self.pool.write(f)
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
            return Verified::NO;
        }
        let iterations = self.config.security.password_iterations;
        self.hashes
            .run(|| password::verify_password(password, encoded, iterations))
    }

    /// Counts a request for any key (an email address, say) under `rate`.
    pub fn throttle_key(
        &self,
        key: &str,
        rate: impl Fn(&config::ThrottleConfig) -> Rate,
    ) -> Result<(), Wait> {
        if !self.config.throttle.enabled {
            return Ok(());
        }
        self.throttle.hit(key, rate(&self.config.throttle))
    }

    /// 429 while `account` is softlocked.
    pub fn check_softlock(&self, account: &str) -> Result<(), Wait> {
        if !self.config.throttle.enabled {
            return Ok(());
        }
        self.throttle.check_softlock(account)
    }

    /// Records a failed login (or password check) for the softlock of `account`.
    pub fn softlock_failure(&self, account: &str) {
        if self.config.throttle.enabled {
            self.throttle.login_failed(account);
        }
    }

    /// Clears `account`'s softlock (a successful login, password change or reset).
    pub fn clear_softlock(&self, account: &str) {
        if self.config.throttle.enabled {
            self.throttle.clear(account);
        }
    }

    /// Tells the mail worker that a committed transaction queued mail.
    pub fn mail_queued(&self) {
        if let Some(mailer) = &self.mailer {
            mailer.wake();
        }
    }

    /// Checks a login's password, or answers 429 at once when too many logins
    /// already hash or wait (load shedding, see [`HashLimiter`]).
    pub fn verify_login_password(&self, password: &str, encoded: &str) -> Result<Verified, Wait> {
        if password::is_unusable(encoded) {
            // A social-only account must not answer faster than a real check:
            // that would tell which accounts have no password.
            self.spend_equal_time(password)?;
            return Ok(Verified::NO);
        }
        let iterations = self.config.security.password_iterations;
        self.hashes
            .try_run(|| password::verify_password(password, encoded, iterations))
            .map_err(|_| Wait(1))
    }

    /// Spends the time of one password check (a login for "no such user"),
    /// shed like [`App::verify_login_password`].
    pub fn spend_equal_time(&self, password: &str) -> Result<(), Wait> {
        let iterations = self.config.security.password_iterations;
        self.hashes
            .try_run(|| password::spend_equal_time(password, iterations))
            .map_err(|_| Wait(1))
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
            crate::log!(
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
        SecretSource::Generated(path) => crate::log!(
            "restauth: generated the server secret in {} (mode 0600); back it up apart from the database",
            path.display()
        ),
        SecretSource::MovedFromDatabase(path) => crate::log!(
            "restauth: moved the server secret from the database to {} (mode 0600) and erased it from the database; links already mailed keep working",
            path.display()
        ),
        SecretSource::File(_) | SecretSource::Configured => {
            if secret.erased_from_database {
                crate::log!(
                    "restauth: erased the server secret an older version kept in the database; the configured one is used"
                );
            }
        }
    }
}

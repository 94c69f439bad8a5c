//! The PostgreSQL backend: connecting (TLS through rustls), a bounded
//! connection pool, migrations, and running the domain's statements.
//!
//! Statements are the domain's SQL with `?N` rewritten to `$N`, prepared once
//! per connection and cached, so a statement costs one round trip. Reads run
//! outside a transaction; a write runs in one `SERIALIZABLE` transaction, and
//! a transaction that loses a race with another node (serialization failure,
//! deadlock) is rolled back and run again, for as long as SQLite would wait
//! for its write lock (`database.busy_timeout`), then reported: the same
//! one-writer-at-a-time outcome SQLite's `BEGIN IMMEDIATE` gives, without a
//! global lock.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use ::postgres::error::SqlState;
use ::postgres::types::{IsNull, ToSql, Type};
use ::postgres::{Client, Statement};
use bytes::BytesMut;

use super::{DbError, ToValue, Value, SCHEMA_VERSION};

/// The schema applied to an empty database (version [`SCHEMA_VERSION`]).
pub const SCHEMA: &str = include_str!("../../schema.postgres.sql");

/// The longest pause between two tries of a write transaction that lost a race.
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// The advisory lock key migrations hold, so that nodes starting together
/// apply each step once ("restauth" in ASCII).
const MIGRATION_LOCK: i64 = 0x7265_7374_6175_7468;

/// The longest one statement may run (and a silent connection may stay unanswered).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Statements cached per connection; beyond that the cache starts over.
const MAX_CACHED_STATEMENTS: usize = 256;

/// How TLS is used, from the URL's `sslmode` (libpq's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP (loopback, or a private network you trust).
    Disable,
    /// TLS when the server offers it, without checking its certificate (libpq's default).
    Prefer,
    /// TLS always, without checking the certificate: encrypted, but open to
    /// an active man in the middle.
    Require,
    /// TLS always, the certificate checked against the web's roots (or
    /// `sslrootcert`) and the host name.
    VerifyFull,
}

/// A parsed `postgres://` URL: the client's configuration and how to do TLS.
pub struct Target {
    config: ::postgres::Config,
    /// `database.busy_timeout`, as PostgreSQL's `lock_timeout`.
    lock_timeout: Duration,
    ssl: SslMode,
    root_cert: Option<String>,
    /// `host:port/dbname`, for messages (never the user or password).
    pub display: String,
}

/// Parses a `postgres://` or `postgresql://` URL. The message of an error
/// never repeats the URL (it may hold a password).
pub fn parse_url(url: &str) -> Result<Target, String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("must start with postgres:// or postgresql://".into());
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut ssl = SslMode::Prefer;
    let mut root_cert = None;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "sslmode" => {
                ssl = match &*value {
                    "disable" => SslMode::Disable,
                    "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode {other:?} is not supported: use disable, prefer, require or verify-full"
                        ))
                    }
                }
            }
            "sslrootcert" => root_cert = Some(value.into_owned()),
            _ => {
                rest.append_pair(&key, &value);
            }
        }
    }
    let mut rest = rest.finish();
    let tls_mode = if ssl == SslMode::Disable {
        "disable"
    } else if ssl == SslMode::Prefer {
        "prefer"
    } else {
        "require"
    };
    if !rest.is_empty() {
        rest.push('&');
    }
    rest.push_str("sslmode=");
    rest.push_str(tls_mode);
    let config: ::postgres::Config = format!("{base}?{rest}")
        .parse()
        .map_err(|e: ::postgres::Error| format!("not a valid PostgreSQL URL: {e}"))?;
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            ::postgres::config::Host::Tcp(name) => name.clone(),
            ::postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("")
        .to_string();
    Ok(Target {
        config,
        lock_timeout: Duration::from_secs(5),
        ssl,
        root_cert,
        display: format!("{host}:{port}/{db}"),
    })
}

impl Target {
    fn connect(&self, timeout: Duration) -> Result<PgConn, DbError> {
        let mut config = self.config.clone();
        config.connect_timeout(timeout);
        config.application_name("restauth");
        // A database that stops answering (a network partition) fails the
        // request in bounded time instead of holding a worker forever.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        config.tcp_user_timeout(STATEMENT_TIMEOUT);
        // A row lock is waited for as long as SQLite waits for its write lock.
        // Ours first: an `options` of the URL's own comes after and wins.
        let ours = format!(
            "-c lock_timeout={} -c statement_timeout={}",
            self.lock_timeout.as_millis(),
            STATEMENT_TIMEOUT.as_millis()
        );
        let options = match self.config.get_options() {
            Some(theirs) => format!("{ours} {theirs}"),
            None => ours,
        };
        config.options(&options);
        let client = match self.ssl {
            SslMode::Disable => config.connect(::postgres::NoTls),
            _ => config.connect(tls::connector(self.ssl, self.root_cert.as_deref())?),
        }
        .map_err(|e| {
            DbError::Unavailable(format!(
                "cannot connect to {}: {}",
                self.display,
                describe(&e)
            ))
        })?;
        Ok(PgConn {
            client,
            statements: HashMap::new(),
            in_transaction: false,
        })
    }
}

mod tls {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use tokio_postgres_rustls::MakeRustlsConnect;

    use super::{DbError, SslMode};

    /// The TLS connector for `mode` (not `Disable`).
    pub(super) fn connector(
        mode: SslMode,
        root_cert: Option<&str>,
    ) -> Result<MakeRustlsConnect, DbError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| DbError::Unavailable(format!("TLS setup: {e}")))?;
        let config = if mode == SslMode::VerifyFull {
            let mut roots = rustls::RootCertStore::empty();
            match root_cert {
                Some(path) => {
                    let certs = CertificateDer::pem_file_iter(path)
                        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                        .map_err(|e| DbError::Unavailable(format!("sslrootcert {path}: {e}")))?;
                    for cert in certs {
                        roots.add(cert).map_err(|e| {
                            DbError::Unavailable(format!("sslrootcert {path}: {e}"))
                        })?;
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
                .with_no_client_auth()
        };
        Ok(MakeRustlsConnect::new(config))
    }

    /// `sslmode=prefer|require`: libpq encrypts without checking who answers.
    /// The handshake signature is still checked, so the session key is the
    /// one the presented certificate signed.
    #[derive(Debug)]
    struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for Unchecked {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

/// One open connection and the statements prepared on it.
pub struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
    /// Between BEGIN and COMMIT/ROLLBACK; a connection left so (a panic) is not reused.
    in_transaction: bool,
}

impl PgConn {
    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self
            .client
            .prepare(&dollar_placeholders(sql))
            .map_err(error)?;
        if self.statements.len() >= MAX_CACHED_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

/// `?N` → `$N` outside quoted strings and identifiers.
fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '?') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The server's message, or the error with its causes ("error performing
/// TLS handshake: invalid peer certificate: UnknownIssuer"): the client's own
/// Display says only "db error" for what the server reported.
fn describe(e: &::postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// PostgreSQL's error as the storage layer reports it.
pub(super) fn error(e: ::postgres::Error) -> DbError {
    match e.code() {
        Some(&SqlState::UNIQUE_VIOLATION) => DbError::UniqueViolation,
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED) => {
            DbError::Conflict
        }
        // lock_timeout or statement_timeout: busy, as SQLite's busy timeout.
        Some(&SqlState::LOCK_NOT_AVAILABLE) | Some(&SqlState::QUERY_CANCELED) => {
            DbError::Unavailable(describe(&e))
        }
        _ if e.is_closed() => {
            DbError::Unavailable(format!("the connection closed: {}", describe(&e)))
        }
        _ if e.as_db_error().is_some() => DbError::Postgres(describe(&e)),
        _ => DbError::Unavailable(describe(&e)),
    }
}

/// The pause before try `attempt + 1`: doubling from 1 ms up to
/// [`MAX_RETRY_PAUSE`], times a random factor in [0.5, 1.5) so that the
/// losers of one race do not collide again in lockstep.
fn retry_pause(attempt: u32) -> Duration {
    let base =
        Duration::from_millis(1u64 << attempt.saturating_sub(1).min(16)).min(MAX_RETRY_PAUSE);
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    base.mul_f64(0.5 + f64::from(byte[0]) / 256.0)
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match *self {
            Value::Null => Ok(IsNull::Yes),
            // The column decides the width; a value that does not fit is an error, not a wrap.
            Value::Int(i) => match *ty {
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Text(t) => t.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // Checked per value in to_sql, where the type is known.
        true
    }

    ::postgres::types::to_sql_checked!();
}

/// The domain's handle on one PostgreSQL connection (or transaction on it).
pub(super) struct Handle<'c> {
    conn: RefCell<&'c mut PgConn>,
    /// Set when a statement lost a race: the writer then runs the transaction again.
    conflict: Cell<bool>,
}

impl<'c> Handle<'c> {
    fn new(conn: &'c mut PgConn) -> Handle<'c> {
        Handle {
            conn: RefCell::new(conn),
            conflict: Cell::new(false),
        }
    }

    fn run<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnOnce(&mut Client, &Statement, &[&(dyn ToSql + Sync)]) -> Result<T, ::postgres::Error>,
    ) -> Result<T, DbError> {
        let mut conn = self.conn.borrow_mut();
        let stmt = conn.statement(sql)?;
        let values: Vec<Value<'_>> = params.iter().map(|p| p.to_value()).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let result = f(&mut conn.client, &stmt, &refs).map_err(error);
        if matches!(result, Err(DbError::Conflict)) {
            self.conflict.set(true);
        }
        result
    }

    pub(super) fn conflicted(&self) -> bool {
        self.conflict.get()
    }

    pub(super) fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError> {
        let n = self.run(sql, params, |c, s, p| c.execute(s, p))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn query_opt(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
    ) -> Result<Option<::postgres::Row>, DbError> {
        self.run(sql, params, |c, s, p| c.query_opt(s, p))
    }

    pub(super) fn query_all(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
    ) -> Result<Vec<::postgres::Row>, DbError> {
        self.run(sql, params, |c, s, p| c.query(s, p))
    }
}

/// A bounded pool of connections to one database.
pub struct Pool {
    target: Target,
    max: usize,
    /// How long a request waits for a free connection (`database.busy_timeout`).
    wait: Duration,
    state: Mutex<PoolState>,
    freed: Condvar,
    /// The connection `GET /health` uses, apart from the pool, so that a node
    /// whose pool is busy serving still says it is healthy.
    health: Mutex<Option<PgConn>>,
}

struct PoolState {
    idle: Vec<PgConn>,
    /// Connections out of the pool or being opened.
    taken: usize,
}

/// A connection taken from the pool; goes back when dropped (unless broken).
struct Taken<'p> {
    pool: &'p Pool,
    conn: Option<PgConn>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        state.taken -= 1;
        let reusable = |c: &PgConn| !c.client.is_closed() && !c.in_transaction;
        if let Some(conn) = self.conn.take().filter(reusable) {
            state.idle.push(conn);
        }
        self.pool.freed.notify_one();
    }
}

impl Pool {
    /// Connects to `target`, brings its schema to [`SCHEMA_VERSION`] and keeps
    /// that first connection.
    pub fn open(mut target: Target, max: usize, wait: Duration) -> Result<Pool, DbError> {
        target.lock_timeout = wait;
        let mut first = target.connect(wait.max(Duration::from_secs(5)))?;
        migrate(&mut first)?;
        Ok(Pool {
            target,
            max: max.max(1),
            wait,
            state: Mutex::new(PoolState {
                idle: vec![first],
                taken: 0,
            }),
            freed: Condvar::new(),
            health: Mutex::new(None),
        })
    }

    /// `host:port/dbname` (no credentials).
    pub fn display(&self) -> &str {
        &self.target.display
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self) -> Result<Taken<'_>, DbError> {
        let deadline = Instant::now() + self.wait;
        let mut state = self.lock();
        while state.idle.is_empty() && state.taken >= self.max {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DbError::Unavailable(format!(
                    "all {} connections to the database stayed busy for {:?}",
                    self.max, self.wait
                )));
            }
            state = self
                .freed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        state.taken += 1;
        let idle = state.idle.pop();
        drop(state);
        let mut taken = Taken {
            pool: self,
            conn: None,
        };
        taken.conn = Some(match idle {
            Some(conn) => conn,
            None => self.target.connect(self.wait.max(Duration::from_secs(1)))?,
        });
        Ok(taken)
    }

    /// Runs `f` outside a transaction.
    pub(super) fn read<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&super::Conn<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut taken = self.take()?;
        let conn = taken.conn.as_mut().expect("set by take");
        f(&super::Conn::postgres(Handle::new(conn)))
    }

    /// Runs `f` in a `SERIALIZABLE` transaction, again after a conflict until
    /// the busy timeout has passed.
    ///
    /// Conflicts are not rare: PostgreSQL tracks what a transaction read by
    /// index page, so two registrations of neighbouring names can abort each
    /// other (about one in ten under the crash test's load, up to five tries in
    /// a row on a loaded machine). A fixed number of tries turned a busy
    /// minute into 503s; a deadline keeps the promise SQLite's busy wait makes.
    pub(super) fn write<T, E: From<DbError>>(
        &self,
        mut f: impl FnMut(&super::Conn<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let deadline = Instant::now() + self.wait;
        let mut taken = self.take()?;
        let conn = taken.conn.as_mut().expect("set by take");
        let mut attempt: u32 = 1;
        loop {
            conn.in_transaction = true;
            conn.client
                .batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                .map_err(error)?;
            let (out, conflict) = {
                let handle = super::Conn::postgres(Handle::new(conn));
                let out = f(&handle);
                (out, handle.conflicted())
            };
            let may_retry = Instant::now() < deadline;
            match out {
                Ok(value) => match conn.client.batch_execute("COMMIT").map_err(error) {
                    Ok(()) => {
                        conn.in_transaction = false;
                        return Ok(value);
                    }
                    // A failed COMMIT has ended the transaction.
                    Err(DbError::Conflict) if may_retry => conn.in_transaction = false,
                    Err(e) => return Err(e.into()),
                },
                Err(e) => {
                    conn.client.batch_execute("ROLLBACK").map_err(error)?;
                    conn.in_transaction = false;
                    if !(conflict && may_retry) {
                        return Err(e);
                    }
                }
            }
            std::thread::sleep(
                retry_pause(attempt).min(deadline.saturating_duration_since(Instant::now())),
            );
            attempt = attempt.saturating_add(1);
        }
    }

    /// `SELECT 1` on the health connection within `timeout`.
    pub(super) fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        let mut slot = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
            *slot = Some(self.target.connect(timeout)?);
        }
        let conn = slot.as_mut().expect("set above");
        let answered = conn.client.is_valid(timeout);
        if answered.is_err() {
            *slot = None;
        }
        answered.map_err(|e| DbError::Unavailable(e.to_string()))
    }
}

/// Creates the schema in an empty database, or checks the version of an
/// existing one, under an advisory lock so that nodes starting together do
/// each step once.
fn migrate(conn: &mut PgConn) -> Result<(), DbError> {
    let mut tx = conn.client.transaction().map_err(error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(error)?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .map_err(error)?
        .get(0);
    let version: Option<i64> = if exists {
        tx.query_opt("SELECT max(version) FROM schema_version", &[])
            .map_err(error)?
            .and_then(|r| r.get(0))
    } else {
        None
    };
    match version {
        Some(v) if v > SCHEMA_VERSION => return Err(DbError::TooNew { found: v }),
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) if v < 4 => {
            return Err(DbError::Postgres(format!(
            "schema version {v} predates PostgreSQL support (4); this database is not restauth's"
        )))
        }
        // 4 -> 5 (sessions), 5 -> 6 and 6 -> 7 (the mfa_ tables) only add tables:
        // the idempotent schema does it.
        Some(_) => {
            tx.batch_execute(SCHEMA).map_err(error)?;
            tx.execute("UPDATE schema_version SET version = $1", &[&SCHEMA_VERSION])
                .map_err(error)?;
        }
        None => {
            let tables: i64 = tx
                .query_one(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
                    &[],
                )
                .map_err(error)?
                .get(0);
            if tables > 0 {
                return Err(DbError::Postgres(
                    "the database has tables but no restauth schema_version; give restauth a database of its own".into(),
                ));
            }
            tx.batch_execute(SCHEMA).map_err(error)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .map_err(error)?;
        }
    }
    tx.commit().map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            dollar_placeholders("SELECT ?1, '?2', \"a?3\", ?10 FROM t WHERE x = ?2"),
            "SELECT $1, '?2', \"a?3\", $10 FROM t WHERE x = $2"
        );
        assert_eq!(dollar_placeholders("a ? b"), "a ? b");
    }

    #[test]
    fn urls_keep_their_password_out_of_errors() {
        let t = parse_url("postgres://u:pw@db.example:6543/auth?sslmode=verify-full").unwrap();
        assert_eq!(t.ssl, SslMode::VerifyFull);
        assert_eq!(t.display, "db.example:6543/auth");
        assert_eq!(
            parse_url("postgres://u:pw@h/d").unwrap().ssl,
            SslMode::Prefer
        );
        let e = parse_url("postgres://u:hunter2@h/d?sslmode=verify-ca")
            .err()
            .unwrap();
        assert!(e.contains("verify-full") && !e.contains("hunter2"), "{e}");
        let e = parse_url("mysql://u:hunter2@h/d").err().unwrap();
        assert!(!e.contains("hunter2"), "{e}");
        let e = parse_url("postgres://u:hunter2@h/d?connect_timeout=x")
            .err()
            .unwrap();
        assert!(!e.contains("hunter2"), "{e}");
    }
}

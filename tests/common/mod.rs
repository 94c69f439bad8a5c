//! Test harness: starts the real `restauth` binary on 127.0.0.1:0 in a temporary
//! directory and talks raw HTTP/1.1 to it, so tests see exactly what a client sees.
#![allow(dead_code)]

/// The provider's side of OAuth 1.0a (header parser, signature verifier).
pub mod oauth1;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub use restauth::db::params;

/// Which database the servers of the running test use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The SQLite file in the server's temporary directory.
    Sqlite,
    /// A database of its own on the PostgreSQL server of `RESTAUTH_TEST_POSTGRES_URL`.
    Postgres,
}

thread_local! {
    static BACKEND: std::cell::Cell<Backend> = const { std::cell::Cell::new(Backend::Sqlite) };
}

/// The backend of the running test.
pub fn backend() -> Backend {
    BACKEND.with(|b| b.get())
}

/// The variable naming the PostgreSQL server the PostgreSQL variants use: a
/// role that may create databases (`.ci/postgres.sh` prints one).
pub const POSTGRES_URL_VAR: &str = "RESTAUTH_TEST_POSTGRES_URL";

fn postgres_admin_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|u| !u.is_empty())
}

/// Whether the PostgreSQL variants run here (see [`POSTGRES_URL_VAR`]).
pub fn postgres_available() -> bool {
    postgres_admin_url().is_some()
}

/// Runs `test` with its servers on `backend`. The PostgreSQL variant without
/// [`POSTGRES_URL_VAR`] says it was skipped and passes, so that `cargo test`
/// works on a machine without PostgreSQL.
pub fn run_on(backend: Backend, test: impl FnOnce()) {
    if backend == Backend::Postgres && postgres_admin_url().is_none() {
        eprintln!(
            "skipped: the PostgreSQL variant needs {POSTGRES_URL_VAR} (see README, Development)"
        );
        return;
    }
    BACKEND.with(|b| b.set(backend));
    test();
}

/// Declares the tests of a file once and runs each on both backends: every
/// `#[test] fn name() {…}` inside becomes `sqlite::name` and `postgres::name`
/// (other items pass through unchanged).
#[macro_export]
macro_rules! backend_tests {
    (@munch [$($done:tt)*] [$($tests:tt)*]) => {
        $($done)*
        mod sqlite {
            $crate::backend_tests!(@wrap Sqlite $($tests)*);
        }
        mod postgres {
            $crate::backend_tests!(@wrap Postgres $($tests)*);
        }
    };
    (@munch [$($done:tt)*] [$($tests:tt)*]
        #[test] $(#[$meta:meta])* fn $name:ident() $body:block $($rest:tt)*) => {
        $crate::backend_tests!(@munch [$($done)* $(#[$meta])* fn $name() $body]
            [$($tests)* ($name [$(#[$meta])*])] $($rest)*);
    };
    (@munch [$($done:tt)*] [$($tests:tt)*] $item:item $($rest:tt)*) => {
        $crate::backend_tests!(@munch [$($done)* $item] [$($tests)*] $($rest)*);
    };
    (@wrap $backend:ident $(($name:ident [$($meta:tt)*]))*) => {$(
        #[test]
        $($meta)*
        fn $name() {
            $crate::common::run_on($crate::common::Backend::$backend, super::$name)
        }
    )*};
    ($($all:tt)*) => {
        $crate::backend_tests!(@munch [] [] $($all)*);
    };
}

/// A database of its own for one test on PostgreSQL, dropped with the test's server.
pub struct PgDatabase {
    name: String,
    /// Its URL, with the test role's credentials.
    pub url: String,
}

impl PgDatabase {
    /// A new, empty database on the test server (only when [`postgres_available`]).
    pub fn create() -> PgDatabase {
        static N: AtomicUsize = AtomicUsize::new(0);
        let admin = postgres_admin_url().expect("checked by run_on");
        let name = format!(
            "restauth_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}: {e}"));
        // Two statements: CREATE DATABASE cannot share a transaction block.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client
                .batch_execute(&sql)
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        }
        // The same server and role, this database.
        let (base, query) = admin.split_once('?').unwrap_or((&admin, ""));
        let server = &base[..base.rfind('/').expect("a /dbname in the URL")];
        let url = format!("{server}/{name}?{query}");
        PgDatabase { name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Some(admin) = postgres_admin_url() {
            if let Ok(mut client) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = client.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }
}

/// A connection to the test PostgreSQL server's maintenance database, as
/// the role of [`POSTGRES_URL_VAR`] (for what a database cannot do to itself).
pub fn postgres_admin() -> postgres::Client {
    let url = postgres_admin_url().expect("a PostgreSQL test");
    postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}: {e}"))
}

/// The server secret test servers on PostgreSQL share (it must be configured there).
pub const POSTGRES_SECRET_KEY: &str = "test-secret-key-shared-by-every-node-0123456789";

/// A connection to a test server's database, on either backend, through
/// restauth's own storage interface; every call panics on error.
pub struct TestDb(restauth::db::Pool);

impl TestDb {
    /// The one value of a query's first row.
    pub fn one<T: restauth::db::Column>(
        &self,
        sql: &str,
        params: &[&dyn restauth::db::ToValue],
    ) -> T {
        self.opt(sql, params)
            .unwrap_or_else(|| panic!("{sql}: no row"))
    }

    /// The one value of a query's first row, if there is a row.
    pub fn opt<T: restauth::db::Column>(
        &self,
        sql: &str,
        params: &[&dyn restauth::db::ToValue],
    ) -> Option<T> {
        self.0
            .read(|c| c.query_opt(sql, params, |r| r.get(0)))
            .unwrap_or_else(|e: restauth::db::DbError| panic!("{sql}: {e}"))
    }

    /// Every row of a query, mapped by `f`.
    pub fn all<T>(
        &self,
        sql: &str,
        params: &[&dyn restauth::db::ToValue],
        f: impl FnMut(&restauth::db::Row<'_>) -> Result<T, restauth::db::DbError>,
    ) -> Vec<T> {
        self.0
            .read(|c| c.query_all(sql, params, f))
            .unwrap_or_else(|e: restauth::db::DbError| panic!("{sql}: {e}"))
    }

    /// The first row of a query, mapped by `f`.
    pub fn row<T>(
        &self,
        sql: &str,
        params: &[&dyn restauth::db::ToValue],
        f: impl FnOnce(&restauth::db::Row<'_>) -> Result<T, restauth::db::DbError>,
    ) -> Option<T> {
        self.0
            .read(|c| c.query_opt(sql, params, f))
            .unwrap_or_else(|e: restauth::db::DbError| panic!("{sql}: {e}"))
    }

    /// Runs a statement; how many rows it changed.
    pub fn exec(&self, sql: &str, params: &[&dyn restauth::db::ToValue]) -> usize {
        self.0
            .read(|c| c.execute(sql, params))
            .unwrap_or_else(|e: restauth::db::DbError| panic!("{sql}: {e}"))
    }
}

/// Password iterations used by test servers (fast; production default is 1,000,000).
pub const TEST_ITERATIONS: u32 = 1000;
/// A password that passes Django's validators for the users tests create.
pub const PASSWORD: &str = "Tr0ub4dor&3-horse";

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "restauth-test-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub dir: TempDir,
    pub config: PathBuf,
    env: Vec<(String, String)>,
    logs: Arc<Mutex<Vec<String>>>,
    /// The test's PostgreSQL database, on that backend.
    pg: Option<Arc<PgDatabase>>,
}

impl Server {
    /// A server with the test defaults.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A server with extra `RESTAUTH_*` environment overrides.
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        let dir = TempDir::new();
        let config = dir.0.join("auth.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nbind = \"127.0.0.1:0\"\nworkers = 4\n\n[database]\npath = \"{}\"\n\n[security]\npassword_iterations = {TEST_ITERATIONS}\n\n[mail]\nspool_dir = \"{}\"\n\n# Throttling has its own tests (tests/throttle.rs); elsewhere it would only count requests.\n[throttle]\nenabled = false\n",
                dir.0.join("restauth.sqlite3").display(),
                dir.0.join("mail").display()
            ),
        )
        .expect("write config");
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let pg = (backend() == Backend::Postgres).then(|| Arc::new(PgDatabase::create()));
        if let Some(db) = &pg {
            // First, so that a test's own value of either wins.
            env.insert(0, ("RESTAUTH_DATABASE_URL".into(), db.url.clone()));
            env.insert(
                1,
                (
                    "RESTAUTH_SECURITY_SECRET_KEY".into(),
                    POSTGRES_SECRET_KEY.into(),
                ),
            );
        }
        Server::spawn(dir, config, env, pg)
    }

    /// Another server process on the same configuration, files and database
    /// (a second node).
    pub fn another_node(&self) -> Server {
        self.another_node_with(&[])
    }

    /// [`Server::another_node`] with more (or other) environment overrides.
    pub fn another_node_with(&self, env: &[(&str, &str)]) -> Server {
        let dir = TempDir::new();
        let config = dir.0.join("auth.toml");
        std::fs::copy(&self.config, &config).expect("copy config");
        let mut all = self.env.clone();
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Server::spawn(dir, config, all, self.pg.clone())
    }

    fn spawn(
        dir: TempDir,
        config: PathBuf,
        env: Vec<(String, String)>,
        pg: Option<Arc<PgDatabase>>,
    ) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_restauth"))
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start restauth");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // `<time> restauth: listening on http://ADDR`
                if let Some((_, addr)) = line.split_once(" restauth: listening on http://") {
                    let _ = tx.send(addr.parse::<SocketAddr>().expect("address"));
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start: {:?}", logs.lock().unwrap());
            }
        };
        Server {
            child,
            addr,
            dir,
            config,
            env,
            logs,
            pg,
        }
    }

    /// Stops this server and starts a new one on the same directory and configuration.
    pub fn restart(mut self) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, TempDir(PathBuf::new()));
        let config = self.config.clone();
        let env = std::mem::take(&mut self.env);
        Server::spawn(dir, config, env, self.pg.take())
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the server process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits (polling, bounded by `limit`) for the process to exit; its status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// A value from /proc/PID/status (`Threads`, `VmRSS` in kB, …).
    pub fn proc_status(&self, key: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in status"))
    }

    /// Open file descriptors of the server.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the server process has used so far (user + system), from /proc.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf only reads a constant of the system.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / hz)
    }

    /// Everything the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Waits (polling, bounded) until the logs contain `needle`.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        for _ in 0..200 {
            if self.logs().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.0.join("restauth.sqlite3")
    }

    /// A direct connection to the server's SQLite file (as a script would open it).
    pub fn sqlite(&self) -> rusqlite::Connection {
        assert_eq!(backend(), Backend::Sqlite, "a SQLite-only check");
        let c = rusqlite::Connection::open(self.db_path()).expect("open db");
        c.busy_timeout(Duration::from_secs(5)).unwrap();
        c
    }

    /// The server's database, on either backend.
    pub fn db(&self) -> TestDb {
        let pool = match &self.pg {
            Some(db) => restauth::db::Pool::open_postgres(&db.url, 2, Duration::from_secs(5)),
            None => restauth::db::Pool::open_sqlite(&self.db_path(), Duration::from_secs(5)),
        };
        TestDb(pool.expect("open the test database"))
    }

    /// Every non-NULL value of every column of every table of the server's
    /// database, on either backend, as `(table.column, value)`: text as stored,
    /// integers in decimal, bytes both as (lossy) text and as lowercase hex, so
    /// that a secret stored in any form shows up in a `contains`.
    pub fn stored_values(&self) -> Vec<(String, String)> {
        let db = self.db();
        let columns: Vec<(String, String, String)> = match backend() {
            Backend::Sqlite => db.all(
                "SELECT m.name, p.name, lower(p.type) FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            ),
            Backend::Postgres => db.all(
                "SELECT table_name::text, column_name::text, lower(data_type::text)
                 FROM information_schema.columns WHERE table_schema = current_schema()
                 ORDER BY table_name, ordinal_position",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            ),
        };
        assert!(
            columns
                .iter()
                .any(|(t, c, _)| t == "tokens" && c == "key_sha256"),
            "the scan must see the token table: {columns:?}"
        );
        let mut out = Vec::new();
        for (table, column, ty) in columns {
            let sql =
                format!("SELECT \"{column}\" FROM \"{table}\" WHERE \"{column}\" IS NOT NULL");
            let values: Vec<String> = match ty.as_str() {
                "text" => db.all(&sql, params![], |r| r.get::<String>(0)),
                "blob" | "bytea" => db
                    .all(&sql, params![], |r| r.get::<Vec<u8>>(0))
                    .into_iter()
                    .map(|b| {
                        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                        format!("{}{hex}", String::from_utf8_lossy(&b))
                    })
                    .collect(),
                "integer" | "bigint" | "smallint" => db
                    .all(&sql, params![], |r| r.get::<i64>(0))
                    .into_iter()
                    .map(|v| v.to_string())
                    .collect(),
                // The shared throttle's times (NUMERIC, NUMERIC[]), as PostgreSQL prints them.
                "numeric" | "array" => db.all(
                    &format!("SELECT CAST(\"{column}\" AS TEXT) FROM \"{table}\" WHERE \"{column}\" IS NOT NULL"),
                    params![],
                    |r| r.get::<String>(0),
                ),
                other => panic!("{table}.{column}: a column type the scan does not know: {other}"),
            };
            out.extend(values.into_iter().map(|v| (format!("{table}.{column}"), v)));
        }
        out
    }

    /// The server secret (reset links): the generated file on SQLite, the
    /// configured key on PostgreSQL.
    pub fn secret_key(&self) -> String {
        match backend() {
            Backend::Postgres => POSTGRES_SECRET_KEY.to_string(),
            Backend::Sqlite => std::fs::read_to_string(self.dir.0.join("restauth.secret"))
                .expect("restauth.secret")
                .trim()
                .to_string(),
        }
    }

    /// Runs the CLI against this server's configuration.
    pub fn cli(&self, args: &[&str], stdin: &str) -> Output {
        run_cli(&self.config, &self.env, args, stdin)
    }

    /// Creates a user through the CLI (email marked verified).
    pub fn create_user(&self, username: &str, email: &str, password: &str) -> i64 {
        self.cli_create_user(username, email, password, &[])
    }

    /// Creates a user through the CLI with the address left unverified.
    pub fn create_unverified_user(&self, username: &str, email: &str, password: &str) -> i64 {
        self.cli_create_user(username, email, password, &["--unverified"])
    }

    fn cli_create_user(&self, username: &str, email: &str, password: &str, extra: &[&str]) -> i64 {
        let mut args = vec![
            "user",
            "create",
            "--username",
            username,
            "--email",
            email,
            "--password-stdin",
            "--skip-validation",
        ];
        args.extend_from_slice(extra);
        let out = self.cli(&args, &format!("{password}\n"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.db().one(
            "SELECT id FROM users WHERE username = ?1",
            params![username],
        )
    }

    /// The single number a `SELECT count(*) …` (or any one-value query) gives.
    pub fn count(&self, sql: &str) -> i64 {
        self.db().one(sql, params![])
    }

    /// POSTs each of `bodies` (JSON) to `path` from its own connection, all
    /// released at once; the statuses, in the order of `bodies`.
    pub fn race(&self, path: &str, bodies: Vec<Value>) -> Vec<u16> {
        race_on(&[self.addr], path, bodies)
    }

    /// Logs in with username and password; returns the key.
    pub fn login(&self, username: &str, password: &str) -> String {
        let r = self.post_json(
            "/rest-auth/login/",
            &serde_json::json!({"username": username, "password": password}),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["key"].as_str().expect("key").to_string()
    }

    /// Sends raw bytes and reads the whole answer (the request should say `Connection: close`).
    pub fn raw(&self, bytes: &[u8]) -> Resp {
        let mut s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(bytes).expect("send");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        Resp::parse(&buf)
    }

    /// Sends a request with the given headers and body.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes)
    }

    /// A JSON request, with `Authorization: Token <token>` when given.
    pub fn send_json(&self, method: &str, path: &str, body: &Value, token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Token {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        self.request(method, path, &headers, body.to_string().as_bytes())
    }

    /// `POST` with a JSON body.
    pub fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Resp {
        self.send_json("POST", path, body, token)
    }

    /// `GET` with an optional token.
    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Token {t}"));
        match &auth {
            Some(a) => self.request("GET", path, &[("Authorization", a)], b""),
            None => self.request("GET", path, &[], b""),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs each of `bodies` (JSON) to `path` from its own connection, body `i`
/// to `addrs[i % addrs.len()]` (several nodes), all released at once; the
/// statuses, in the order of `bodies`.
pub fn race_on(addrs: &[SocketAddr], path: &str, bodies: Vec<Value>) -> Vec<u16> {
    let barrier = Arc::new(std::sync::Barrier::new(bodies.len()));
    let threads: Vec<_> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let (barrier, path) = (barrier.clone(), path.to_string());
            let addr = addrs[i % addrs.len()];
                std::thread::spawn(move || {
                    let body = body.to_string();
                    let req = format!(
                        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let mut c = TcpStream::connect(addr).expect("connect");
                    barrier.wait();
                    c.write_all(req.as_bytes()).expect("send");
                    let mut out = Vec::new();
                    let _ = c.read_to_end(&mut out);
                    let head = String::from_utf8_lossy(&out).to_string();
                    head.split(' ')
                        .nth(1)
                        .and_then(|s| s.parse::<u16>().ok())
                        .unwrap_or(0)
                })
            })
            .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect()
}

/// Runs the binary with a config file and environment.
pub fn run_cli(config: &Path, env: &[(String, String)], args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_restauth"))
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run restauth");
    // A command that refuses its arguments may exit before reading stdin
    // (a broken pipe here): its output says why.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("wait")
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    fn parse(raw: &[u8]) -> Resp {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let rest = &raw[split + 4..];
        let chunked = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_vec()
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// The first header with this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }

    /// The body as JSON (panics with the text when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {:?} (status {})", self.text(), self.status)
        })
    }

    /// Asserts the status and the exact JSON body.
    pub fn assert(&self, status: u16, body: Value) {
        assert_eq!(
            (self.status, self.json()),
            (status, body),
            "{}",
            self.text()
        );
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&rest[start..(start + size).min(rest.len())]);
        rest = &rest[(start + size + 2).min(rest.len())..];
    }
}

/// A message the server wrote to its spool directory.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The file as written.
    pub raw: String,
    /// Headers and bodies with quoted-printable and base64 parts decoded.
    pub decoded: String,
}

impl Mail {
    /// The first URL in the message starting with `prefix`, up to whitespace, quote or `<`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let start = self.decoded.find(prefix)?;
        let rest = &self.decoded[start..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '\'')
            .unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }

    /// The value of header `name` (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Decodes the transfer encodings lettre may use, so tests can search the text.
pub fn decode_mail(raw: &str) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    // Quoted-printable: soft line breaks and =XX escapes.
    let qp = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = qp.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&qp[i + 1..i + 3], 16) {
                decoded.push(b);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    out.push_str(&String::from_utf8_lossy(&decoded));
    // Base64 parts: every run of base64-looking lines after a blank line.
    for block in raw.split("\r\n\r\n") {
        let joined: String = block.lines().map(str::trim).collect();
        if joined.len() >= 16
            && joined
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&joined) {
                out.push('\n');
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    out
}

impl Server {
    /// The spool directory.
    pub fn spool(&self) -> PathBuf {
        self.dir.0.join("mail")
    }

    /// The `.eml` files in the spool, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.spool())
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|raw| Mail {
                decoded: decode_mail(&raw),
                raw,
            })
            .collect()
    }

    /// Waits (polling, bounded) until the spool holds `n` messages, and returns them.
    pub fn wait_for_mails(&self, n: usize) -> Vec<Mail> {
        for _ in 0..400 {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "expected {n} mails, found {}; logs:\n{}",
            self.mails().len(),
            self.logs()
        );
    }

    /// Waits (polling, bounded) until the mail worker has turned every
    /// recorded reset or resend request into mail (or into nothing).
    pub fn wait_for_mail_requests(&self) {
        for _ in 0..400 {
            let pending: i64 = self
                .db()
                .one("SELECT count(*) FROM mail_requests", params![]);
            if pending == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("mail requests still pending; logs:\n{}", self.logs());
    }

    /// How many outbox rows are still queued.
    pub fn queued_mail(&self) -> i64 {
        self.db().one(
            "SELECT count(*) FROM outbox WHERE status = 'queued'",
            params![],
        )
    }
}

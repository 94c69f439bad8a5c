//! `auth.toml` → typed [`Config`].
//!
//! Precedence, lowest to highest: built-in defaults, then the file, then
//! `RESTAUTH_<SECTION>_<KEY>` environment variables (e.g. `RESTAUTH_SERVER_BIND`).
//!
//! The file is parsed into a `toml::Table` and walked against [`KEYS`], the one
//! list of every known key. That list drives everything: unknown sections and keys
//! are rejected with their full dotted name, every key gets an environment
//! override with the same parsing and validation, and errors always name the key
//! and where the bad value came from (the file or the environment variable).
//!
//! Validation happens as each value is read, so a `Config` that comes out of
//! [`Config::load`] is valid. `secret_key` and `mail.smtp.password` are never
//! printed: not in `Debug` output, not in error messages.
//!
//! Sections may nest one level (`[mail.smtp]`); a nested section's variables
//! join the names with `_`: `RESTAUTH_MAIL_SMTP_PASSWORD`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

/// The whole configuration; see `auth.toml` for what each key does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub security: SecurityConfig,
    pub accounts: AccountsConfig,
    pub mail: MailConfig,
    pub social: SocialConfig,
    pub throttle: ThrottleConfig,
}

/// `[throttle]`: rates per client address (and per account or address where named), and the softlock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    pub enabled: bool,
    /// login/, facebook/, twitter/ per client address.
    pub login: Rate,
    pub registration: Rate,
    pub password_reset: Rate,
    /// Reset mails per target address.
    pub password_reset_per_email: Rate,
    pub resend_email: Rate,
    /// Confirmation mails per target address.
    pub resend_email_per_email: Rate,
    pub verify_email: Rate,
    /// Registrations (each one sends a confirmation mail) per target address.
    pub registration_per_email: Rate,
    /// Counters and softlocks kept in memory, each; beyond it the least recently used is forgotten.
    pub max_tracked_keys: usize,
    pub softlock_threshold: u32,
    pub softlock_base: Duration,
    pub softlock_max: Duration,
}

pub use crate::security::throttle::Rate;

impl Default for ThrottleConfig {
    fn default() -> Self {
        let rate = |s: &str| Rate::parse(s).expect("built-in rate");
        ThrottleConfig {
            enabled: true,
            login: rate("20/min"),
            registration: rate("10/h"),
            password_reset: rate("10/h"),
            password_reset_per_email: rate("3/h"),
            resend_email: rate("10/h"),
            resend_email_per_email: rate("3/h"),
            verify_email: rate("30/min"),
            registration_per_email: rate("3/h"),
            max_tracked_keys: 50_000,
            softlock_threshold: 5,
            softlock_base: Duration::from_secs(1),
            softlock_max: Duration::from_secs(900),
        }
    }
}

/// Social login providers; a provider without credentials is disabled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SocialConfig {
    pub facebook: FacebookProviderConfig,
    pub twitter: TwitterProviderConfig,
}

/// `[social.facebook]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacebookProviderConfig {
    pub app_id: String,
    pub app_secret: Secret,
    /// Graph API base URL, no trailing slash.
    pub graph_url: String,
    /// `redirect_uri` of the code flow.
    pub callback_url: String,
    pub timeout: Duration,
}

/// `[social.twitter]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwitterProviderConfig {
    pub consumer_key: String,
    pub consumer_secret: Secret,
    /// API base URL, no trailing slash.
    pub api_url: String,
    pub timeout: Duration,
}

impl FacebookProviderConfig {
    /// Whether both credentials are set.
    pub fn enabled(&self) -> bool {
        !self.app_id.is_empty() && !self.app_secret.is_empty()
    }
}

impl TwitterProviderConfig {
    /// Whether both credentials are set.
    pub fn enabled(&self) -> bool {
        !self.consumer_key.is_empty() && !self.consumer_secret.is_empty()
    }
}

impl Default for FacebookProviderConfig {
    fn default() -> Self {
        FacebookProviderConfig {
            app_id: String::new(),
            app_secret: Secret::default(),
            graph_url: "https://graph.facebook.com/v19.0".to_string(),
            callback_url: String::new(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Default for TwitterProviderConfig {
    fn default() -> Self {
        TwitterProviderConfig {
            consumer_key: String::new(),
            consumer_secret: Secret::default(),
            api_url: "https://api.x.com".to_string(),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `HOST:PORT` to listen on.
    pub bind: String,
    /// Normalised URL prefix: `""` (root) or `/segment[/segment…]` with no trailing slash.
    pub prefix: String,
    /// Size of the request thread pool.
    pub workers: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed; a bare address is a /32 or /128.
    pub trusted_proxies: Vec<IpNet>,
    /// Exact origins (`https://app.example.com`) allowed by CORS; empty = no CORS headers.
    pub cors_allowed_origins: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true` to allowed origins.
    pub cors_allow_credentials: bool,
    /// The whole body must arrive within this deadline, else 408.
    pub read_timeout: Duration,
    /// The request line and headers must arrive within this deadline (it also
    /// bounds how long an idle keep-alive connection stays open).
    pub header_timeout: Duration,
    /// A connection whose client takes none of its answer for this long is
    /// closed (a client that pipelines requests and never reads the answers).
    pub write_timeout: Duration,
    /// After SIGTERM or SIGINT, how long requests in flight may take to finish.
    pub shutdown_timeout: Duration,
    /// Largest request head (line and headers) in bytes; larger gets 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more gets 431.
    pub max_headers: usize,
    /// Open connections at most; beyond it a new connection gets 503 and is closed.
    pub max_connections: usize,
    /// Complete requests waiting for a worker at most; beyond it 503 with `Retry-After`.
    pub max_queued: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    pub path: PathBuf,
    pub busy_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityConfig {
    /// `""` = read from [`SecurityConfig::secret_key_file`], generated there on first start.
    pub secret_key: Secret,
    /// Where the generated secret lives; `None` = `restauth.secret` beside the database file.
    pub secret_key_file: Option<PathBuf>,
    pub password_iterations: u32,
    /// `0` = number of CPUs; see [`SecurityConfig::effective_max_concurrent_hashes`].
    pub max_concurrent_hashes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    Username,
    Email,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerification {
    Mandatory,
    Optional,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsConfig {
    pub login_methods: Vec<LoginMethod>,
    pub email_verification: EmailVerification,
    pub old_password_field_enabled: bool,
    pub logout_on_password_change: bool,
    pub logout_on_get: bool,
    pub token_ttl: Duration,
    /// How long an email-confirmation link stays valid.
    pub email_confirmation_expire: Duration,
    /// How long a password-reset link stays valid.
    pub password_reset_timeout: Duration,
}

/// How outgoing mail leaves the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailBackend {
    /// One `.eml` file per message in `spool_dir`.
    Spool,
    /// Relayed to `[mail.smtp]`.
    Smtp,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required; usually port 587).
    Starttls,
    /// TLS from the first byte ("SMTPS", usually port 465).
    Tls,
    /// No encryption at all (a relay on loopback, tests).
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    pub backend: MailBackend,
    pub spool_dir: PathBuf,
    /// The `From` header, a valid mailbox (`Name <addr@host>` or `addr@host`).
    pub from: String,
    pub site_name: String,
    /// Link in the confirmation mail; contains `{key}`.
    pub email_confirm_url: String,
    /// Link in the password-reset mail; contains `{uid}` and `{token}`.
    pub password_reset_url: String,
    /// Directory of template overrides; `None` = built-in templates only.
    pub templates_dir: Option<PathBuf>,
    /// Delivery attempts before a message is marked failed (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each attempt, capped at 1 hour.
    pub retry_base: Duration,
    /// How often the worker looks for due mail when nobody wakes it.
    pub poll_interval: Duration,
    pub smtp: SmtpConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// `""` = no authentication.
    pub username: String,
    pub password: Secret,
    /// Connection and per-command timeout.
    pub timeout: Duration,
}

/// A secret (key, password): `Debug` and `Display` show `<redacted>` (or
/// `<empty>`), never the value; [`Secret::expose`] gives it to the code that uses it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it (never for a log).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<empty>"
        } else {
            "<redacted>"
        })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// A configuration error; the message names the key and the source of the bad value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------

fn available_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8000".to_string(),
            prefix: "/rest-auth".to_string(),
            workers: available_cpus().saturating_mul(4).max(4),
            max_body_bytes: 65_536,
            trusted_proxies: vec![
                parse_cidr("127.0.0.0/8").unwrap(),
                parse_cidr("::1").unwrap(),
            ],
            cors_allowed_origins: Vec::new(),
            cors_allow_credentials: false,
            read_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_connections: 1024,
            max_queued: 128,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            path: PathBuf::from("restauth.sqlite3"),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            secret_key: Secret::default(),
            secret_key_file: None,
            password_iterations: 1_000_000,
            max_concurrent_hashes: 0,
        }
    }
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            login_methods: vec![LoginMethod::Username, LoginMethod::Email],
            email_verification: EmailVerification::Mandatory,
            old_password_field_enabled: true,
            logout_on_password_change: false,
            logout_on_get: false,
            token_ttl: Duration::from_secs(30 * 86_400),
            email_confirmation_expire: Duration::from_secs(3 * 86_400),
            password_reset_timeout: Duration::from_secs(3600),
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            backend: MailBackend::Spool,
            spool_dir: PathBuf::from("mail"),
            from: "restauth <noreply@localhost>".to_string(),
            site_name: "restauth".to_string(),
            email_confirm_url: "http://localhost:8000/account-confirm-email/{key}/".to_string(),
            password_reset_url: "http://localhost:8000/password-reset/confirm/{uid}/{token}/"
                .to_string(),
            templates_dir: None,
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            smtp: SmtpConfig::default(),
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "localhost".to_string(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: Secret::default(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl SecurityConfig {
    /// The file holding the generated secret: the configured path, else
    /// `restauth.secret` in the directory of `database_path`.
    pub fn secret_key_path(&self, database_path: &Path) -> PathBuf {
        match &self.secret_key_file {
            Some(p) => p.clone(),
            None => database_path.with_file_name("restauth.secret"),
        }
    }

    /// How many password hashes may run at once: the configured value, or the
    /// number of CPUs when it is `0`. Always at least 1.
    pub fn effective_max_concurrent_hashes(&self) -> usize {
        if self.max_concurrent_hashes == 0 {
            available_cpus()
        } else {
            self.max_concurrent_hashes
        }
    }
}

impl MailBackend {
    /// The name used in `auth.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            MailBackend::Spool => "spool",
            MailBackend::Smtp => "smtp",
        }
    }
}

impl SmtpSecurity {
    /// The name used in `auth.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::Starttls => "starttls",
            SmtpSecurity::Tls => "tls",
            SmtpSecurity::None => "none",
        }
    }
}

impl LoginMethod {
    /// The name used in `auth.toml` and by dj-rest-auth.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Username => "username",
            LoginMethod::Email => "email",
        }
    }
}

impl EmailVerification {
    /// The name used in `auth.toml` and by django-allauth.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailVerification::Mandatory => "mandatory",
            EmailVerification::Optional => "optional",
            EmailVerification::None => "none",
        }
    }
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

impl Config {
    /// Defaults, then the file (if any), then RESTAUTH_* variables from `env`.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        match path {
            None => build(None, env),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
                build(Some((&path.display().to_string(), &text)), env)
            }
        }
    }

    /// Like [`Config::load`] with the file's text given directly; errors call it `auth.toml`.
    pub fn from_toml_str(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        build(Some(("auth.toml", text)), env)
    }
}

/// The environment variable that overrides `section.key`; a nested section's
/// parts are joined with `_` (`mail.smtp` → `RESTAUTH_MAIL_SMTP_<KEY>`).
fn env_var_name(section: &str, key: &str) -> String {
    format!(
        "RESTAUTH_{}_{}",
        section.replace('.', "_").to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}

fn build(
    file: Option<(&str, &str)>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut config = Config::default();

    if let Some((name, text)) = file {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // Only the message and position: toml's full Display quotes the
            // offending line, which could be the secret_key line.
            let at = e
                .span()
                .map(|span| {
                    let (line, column) = line_col(text, span.start);
                    format!(" at line {line}, column {column}")
                })
                .unwrap_or_default();
            ConfigError(format!(
                "cannot parse {name}{at}: {}",
                e.message().trim_end()
            ))
        })?;

        for (section, value) in &table {
            let Some(entries) = value.as_table() else {
                if SECTIONS.contains(&section.as_str()) {
                    return Err(ConfigError(format!(
                        "\"{section}\" in {name} must be a table ([{section}]), found {}",
                        type_name(value)
                    )));
                }
                return Err(ConfigError(format!(
                    "unknown key \"{section}\" in {name}; keys belong in one of the sections {}",
                    SECTIONS.join(", ")
                )));
            };
            if !SECTIONS.contains(&section.as_str()) {
                return Err(ConfigError(format!(
                    "unknown section \"{section}\" in {name}; known sections: {}",
                    SECTIONS.join(", ")
                )));
            }
            read_section(&mut config, name, section, entries)?;
        }
    }

    for spec in KEYS {
        let var = env_var_name(spec.section, spec.name);
        if let Some(value) = env(&var) {
            (spec.set)(&mut config, Raw::Env(&value))
                .map_err(|msg| spec.invalid(&format!("in environment variable {var}"), &msg))?;
        }
    }

    Ok(config)
}

/// Applies the keys of one (known) section; a key whose dotted name is a known
/// section itself (`smtp` in `[mail]`) is read as that nested section.
fn read_section(
    config: &mut Config,
    name: &str,
    section: &str,
    entries: &toml::Table,
) -> Result<(), ConfigError> {
    for (key, value) in entries {
        let nested = format!("{section}.{key}");
        if SECTIONS.contains(&nested.as_str()) {
            let Some(inner) = value.as_table() else {
                return Err(ConfigError(format!(
                    "\"{nested}\" in {name} must be a table ([{nested}]), found {}",
                    type_name(value)
                )));
            };
            read_section(config, name, &nested, inner)?;
            continue;
        }
        let Some(spec) = KEYS.iter().find(|k| k.section == section && k.name == key) else {
            let mut known: Vec<&str> = KEYS
                .iter()
                .filter(|k| k.section == section)
                .map(|k| k.name)
                .collect();
            let prefix = format!("{section}.");
            known.extend(SECTIONS.iter().filter_map(|s| s.strip_prefix(&prefix)));
            return Err(ConfigError(format!(
                "unknown key \"{section}.{key}\" in {name}; [{section}] accepts: {}",
                known.join(", ")
            )));
        };
        (spec.set)(config, Raw::File(value))
            .map_err(|msg| spec.invalid(&format!("in {name}"), &msg))?;
    }
    Ok(())
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

// ---------------------------------------------------------------------------
// The key schema
// ---------------------------------------------------------------------------

/// Every section; nested ones are written with a dot, as in `auth.toml`'s headers.
const SECTIONS: [&str; 10] = [
    "server",
    "database",
    "security",
    "accounts",
    "mail",
    "mail.smtp",
    "social",
    "social.facebook",
    "social.twitter",
    "throttle",
];

/// Parses and validates one raw value into the config; `Err` says what was expected.
type Setter = fn(&mut Config, Raw<'_>) -> Result<(), String>;

struct Key {
    section: &'static str,
    name: &'static str,
    set: Setter,
}

impl Key {
    fn invalid(&self, source: &str, msg: &str) -> ConfigError {
        ConfigError(format!(
            "invalid value for \"{}.{}\" {source}: {msg}",
            self.section, self.name
        ))
    }
}

/// Every key, in `auth.toml` order. Adding a key here is all it takes to
/// accept it in the file and from the environment.
const KEYS: &[Key] = &[
    Key {
        section: "server",
        name: "bind",
        set: |c, raw| {
            c.server.bind = parse_bind(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "prefix",
        set: |c, raw| {
            c.server.prefix = normalize_prefix(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "workers",
        set: |c, raw| {
            c.server.workers = usize_in(raw, 1, u64::MAX)?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "max_body_bytes",
        set: |c, raw| {
            let n = raw.uint()?;
            if !(MIN_BODY..=MAX_BODY).contains(&n) {
                return Err(format!(
                    "must be between {MIN_BODY} (1 KiB) and {MAX_BODY} (16 MiB), found {n}"
                ));
            }
            c.server.max_body_bytes = to_usize(n)?;
            Ok(())
        },
    },
    Key {
        section: "database",
        name: "path",
        set: |c, raw| {
            c.database.path = non_empty_path(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "database",
        name: "busy_timeout",
        set: |c, raw| {
            // SQLite takes the timeout as an i32 number of milliseconds.
            c.database.busy_timeout =
                positive_duration(raw, Duration::from_secs(24 * 86_400), "24d")?;
            Ok(())
        },
    },
    Key {
        section: "security",
        name: "secret_key",
        set: |c, raw| {
            // Never echo this value: `string()` only reports the type on mismatch.
            c.security.secret_key = Secret::from(raw.string()?);
            Ok(())
        },
    },
    Key {
        section: "security",
        name: "secret_key_file",
        set: |c, raw| {
            let s = raw.string()?;
            c.security.secret_key_file = if s.trim().is_empty() {
                None
            } else {
                Some(PathBuf::from(s))
            };
            Ok(())
        },
    },
    Key {
        section: "security",
        name: "password_iterations",
        set: |c, raw| {
            let n = usize_in(raw, 1, u64::from(u32::MAX))?;
            c.security.password_iterations = u32::try_from(n).map_err(|_| "too large")?;
            Ok(())
        },
    },
    Key {
        section: "security",
        name: "max_concurrent_hashes",
        set: |c, raw| {
            c.security.max_concurrent_hashes = usize_in(raw, 0, u64::MAX)?;
            Ok(())
        },
    },
    Key {
        section: "accounts",
        name: "login_methods",
        set: |c, raw| {
            c.accounts.login_methods = parse_login_methods(&raw.list()?)?;
            Ok(())
        },
    },
    Key {
        section: "accounts",
        name: "email_verification",
        set: |c, raw| {
            let s = raw.string()?;
            c.accounts.email_verification = match s.trim().to_ascii_lowercase().as_str() {
                "mandatory" => EmailVerification::Mandatory,
                "optional" => EmailVerification::Optional,
                "none" => EmailVerification::None,
                _ => {
                    return Err(format!(
                        "expected one of \"mandatory\", \"optional\", \"none\", found {s:?}"
                    ))
                }
            };
            Ok(())
        },
    },
    Key {
        section: "accounts",
        name: "old_password_field_enabled",
        set: |c, raw| {
            c.accounts.old_password_field_enabled = raw.boolean()?;
            Ok(())
        },
    },
    Key {
        section: "accounts",
        name: "logout_on_password_change",
        set: |c, raw| {
            c.accounts.logout_on_password_change = raw.boolean()?;
            Ok(())
        },
    },
    Key {
        section: "accounts",
        name: "logout_on_get",
        set: |c, raw| {
            c.accounts.logout_on_get = raw.boolean()?;
            Ok(())
        },
    },
    Key {
        section: "accounts",
        name: "token_ttl",
        set: |c, raw| {
            // Bounded so that "now + ttl" can never overflow anywhere.
            c.accounts.token_ttl =
                positive_duration(raw, Duration::from_secs(36_500 * 86_400), "36500d")?;
            Ok(())
        },
    },
    Key {
        section: "accounts",
        name: "email_confirmation_expire",
        set: |c, raw| {
            c.accounts.email_confirmation_expire =
                positive_duration(raw, Duration::from_secs(36_500 * 86_400), "36500d")?;
            Ok(())
        },
    },
    Key {
        section: "accounts",
        name: "password_reset_timeout",
        set: |c, raw| {
            c.accounts.password_reset_timeout =
                positive_duration(raw, Duration::from_secs(36_500 * 86_400), "36500d")?;
            Ok(())
        },
    },
    Key {
        section: "mail",
        name: "backend",
        set: |c, raw| {
            let s = raw.string()?;
            c.mail.backend = match s.trim().to_ascii_lowercase().as_str() {
                "spool" => MailBackend::Spool,
                "smtp" => MailBackend::Smtp,
                _ => return Err(format!("expected \"spool\" or \"smtp\", found {s:?}")),
            };
            Ok(())
        },
    },
    Key {
        section: "mail",
        name: "spool_dir",
        set: |c, raw| {
            c.mail.spool_dir = non_empty_path(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "mail",
        name: "from",
        set: |c, raw| {
            c.mail.from = parse_mailbox(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "mail",
        name: "site_name",
        set: |c, raw| {
            c.mail.site_name = single_line(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "mail",
        name: "email_confirm_url",
        set: |c, raw| {
            c.mail.email_confirm_url = link_template(raw.string()?, &["{key}"])?;
            Ok(())
        },
    },
    Key {
        section: "mail",
        name: "password_reset_url",
        set: |c, raw| {
            c.mail.password_reset_url = link_template(raw.string()?, &["{uid}", "{token}"])?;
            Ok(())
        },
    },
    Key {
        section: "mail",
        name: "templates_dir",
        set: |c, raw| {
            let s = raw.string()?;
            c.mail.templates_dir = if s.trim().is_empty() {
                None
            } else {
                Some(PathBuf::from(s))
            };
            Ok(())
        },
    },
    Key {
        section: "mail",
        name: "max_attempts",
        set: |c, raw| {
            let n = usize_in(raw, 1, 1000)?;
            c.mail.max_attempts = u32::try_from(n).map_err(|_| "too large")?;
            Ok(())
        },
    },
    Key {
        section: "mail",
        name: "retry_base",
        set: |c, raw| {
            c.mail.retry_base = positive_duration(raw, Duration::from_secs(3600), "1h")?;
            Ok(())
        },
    },
    Key {
        section: "mail",
        name: "poll_interval",
        set: |c, raw| {
            c.mail.poll_interval = positive_duration(raw, Duration::from_secs(3600), "1h")?;
            Ok(())
        },
    },
    Key {
        section: "mail.smtp",
        name: "host",
        set: |c, raw| {
            let s = raw.string()?.trim();
            if s.is_empty() || s.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
                return Err(format!(
                    "expected a host name or IP address such as \"smtp.example.com\", found {s:?}"
                ));
            }
            c.mail.smtp.host = s.to_string();
            Ok(())
        },
    },
    Key {
        section: "mail.smtp",
        name: "port",
        set: |c, raw| {
            let n = usize_in(raw, 1, 65_535)?;
            c.mail.smtp.port = u16::try_from(n).map_err(|_| "too large")?;
            Ok(())
        },
    },
    Key {
        section: "mail.smtp",
        name: "security",
        set: |c, raw| {
            let s = raw.string()?;
            c.mail.smtp.security = match s.trim().to_ascii_lowercase().as_str() {
                "starttls" => SmtpSecurity::Starttls,
                "tls" => SmtpSecurity::Tls,
                "none" => SmtpSecurity::None,
                _ => {
                    return Err(format!(
                        "expected one of \"starttls\", \"tls\", \"none\", found {s:?}"
                    ))
                }
            };
            Ok(())
        },
    },
    Key {
        section: "mail.smtp",
        name: "username",
        set: |c, raw| {
            c.mail.smtp.username = raw.string()?.to_string();
            Ok(())
        },
    },
    Key {
        section: "mail.smtp",
        name: "password",
        set: |c, raw| {
            // Never echo this value: `string()` only reports the type on mismatch.
            c.mail.smtp.password = Secret::from(raw.string()?);
            Ok(())
        },
    },
    Key {
        section: "mail.smtp",
        name: "timeout",
        set: |c, raw| {
            c.mail.smtp.timeout = positive_duration(raw, Duration::from_secs(3600), "1h")?;
            Ok(())
        },
    },
    Key {
        section: "social.facebook",
        name: "app_id",
        set: |c, raw| {
            c.social.facebook.app_id = raw.string()?.trim().to_string();
            Ok(())
        },
    },
    Key {
        section: "social.facebook",
        name: "app_secret",
        set: |c, raw| {
            // Never echo this value: `string()` only reports the type on mismatch.
            c.social.facebook.app_secret = Secret::from(raw.string()?);
            Ok(())
        },
    },
    Key {
        section: "social.facebook",
        name: "graph_url",
        set: |c, raw| {
            c.social.facebook.graph_url = base_url(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "social.facebook",
        name: "callback_url",
        set: |c, raw| {
            c.social.facebook.callback_url = raw.string()?.trim().to_string();
            Ok(())
        },
    },
    Key {
        section: "social.facebook",
        name: "timeout",
        set: |c, raw| {
            c.social.facebook.timeout = positive_duration(raw, Duration::from_secs(300), "5m")?;
            Ok(())
        },
    },
    Key {
        section: "social.twitter",
        name: "consumer_key",
        set: |c, raw| {
            c.social.twitter.consumer_key = raw.string()?.trim().to_string();
            Ok(())
        },
    },
    Key {
        section: "social.twitter",
        name: "consumer_secret",
        set: |c, raw| {
            // Never echo this value: `string()` only reports the type on mismatch.
            c.social.twitter.consumer_secret = Secret::from(raw.string()?);
            Ok(())
        },
    },
    Key {
        section: "social.twitter",
        name: "api_url",
        set: |c, raw| {
            c.social.twitter.api_url = base_url(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "social.twitter",
        name: "timeout",
        set: |c, raw| {
            c.social.twitter.timeout = positive_duration(raw, Duration::from_secs(300), "5m")?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "trusted_proxies",
        set: |c, raw| {
            let list = raw.list()?;
            c.server.trusted_proxies =
                list.into_iter().map(parse_cidr).collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "cors_allowed_origins",
        set: |c, raw| {
            let list = raw.list()?;
            for item in &list {
                let o = item.trim();
                let ok = (o.starts_with("http://") || o.starts_with("https://"))
                    && !o.ends_with('/')
                    && !o.chars().any(|ch| ch.is_whitespace());
                if !ok {
                    return Err(format!(
                        "expected exact origins such as \"https://app.example.com\" (scheme, host, optional port, no path), found {o:?}"
                    ));
                }
            }
            c.server.cors_allowed_origins = list.iter().map(|s| s.trim().to_string()).collect();
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "cors_allow_credentials",
        set: |c, raw| {
            c.server.cors_allow_credentials = raw.boolean()?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "enabled",
        set: |c, raw| {
            c.throttle.enabled = raw.boolean()?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "login",
        set: |c, raw| {
            c.throttle.login = Rate::parse(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "registration",
        set: |c, raw| {
            c.throttle.registration = Rate::parse(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "password_reset",
        set: |c, raw| {
            c.throttle.password_reset = Rate::parse(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "password_reset_per_email",
        set: |c, raw| {
            c.throttle.password_reset_per_email = Rate::parse(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "resend_email",
        set: |c, raw| {
            c.throttle.resend_email = Rate::parse(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "resend_email_per_email",
        set: |c, raw| {
            c.throttle.resend_email_per_email = Rate::parse(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "verify_email",
        set: |c, raw| {
            c.throttle.verify_email = Rate::parse(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "registration_per_email",
        set: |c, raw| {
            c.throttle.registration_per_email = Rate::parse(raw.string()?)?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "max_tracked_keys",
        set: |c, raw| {
            c.throttle.max_tracked_keys = usize_in(raw, 100, 100_000_000)?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "softlock_threshold",
        set: |c, raw| {
            let n = usize_in(raw, 1, 1000)?;
            c.throttle.softlock_threshold = u32::try_from(n).map_err(|_| "too large")?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "softlock_base",
        set: |c, raw| {
            c.throttle.softlock_base = positive_duration(raw, Duration::from_secs(3600), "1h")?;
            Ok(())
        },
    },
    Key {
        section: "throttle",
        name: "softlock_max",
        set: |c, raw| {
            c.throttle.softlock_max = positive_duration(raw, Duration::from_secs(86_400), "1d")?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "read_timeout",
        set: |c, raw| {
            c.server.read_timeout = positive_duration(raw, Duration::from_secs(3600), "1h")?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "header_timeout",
        set: |c, raw| {
            c.server.header_timeout = positive_duration(raw, Duration::from_secs(3600), "1h")?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "write_timeout",
        set: |c, raw| {
            c.server.write_timeout = positive_duration(raw, Duration::from_secs(3600), "1h")?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "shutdown_timeout",
        set: |c, raw| {
            c.server.shutdown_timeout = positive_duration(raw, Duration::from_secs(3600), "1h")?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "max_header_bytes",
        set: |c, raw| {
            c.server.max_header_bytes = usize_in(raw, 1024, 1024 * 1024)?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "max_headers",
        set: |c, raw| {
            c.server.max_headers = usize_in(raw, 10, 10_000)?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "max_connections",
        set: |c, raw| {
            c.server.max_connections = usize_in(raw, 1, 1_000_000)?;
            Ok(())
        },
    },
    Key {
        section: "server",
        name: "max_queued",
        set: |c, raw| {
            // The queue's slots are allocated up front.
            c.server.max_queued = usize_in(raw, 1, 100_000)?;
            Ok(())
        },
    },
];

const MIN_BODY: u64 = 1024;
const MAX_BODY: u64 = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------
// Raw values and their parsers
// ---------------------------------------------------------------------------

/// A value as found in the file (typed by TOML) or in the environment (text).
#[derive(Clone, Copy)]
enum Raw<'a> {
    File(&'a toml::Value),
    Env(&'a str),
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a datetime",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

impl<'a> Raw<'a> {
    /// Environment text is taken as is; a file value must be a TOML string.
    /// On mismatch only the type is reported, never the value.
    fn string(self) -> Result<&'a str, String> {
        match self {
            Raw::Env(s) => Ok(s),
            Raw::File(toml::Value::String(s)) => Ok(s),
            Raw::File(v) => Err(format!("expected a string, found {}", type_name(v))),
        }
    }

    fn uint(self) -> Result<u64, String> {
        const EXPECTED: &str = "expected a non-negative integer";
        match self {
            Raw::File(toml::Value::Integer(i)) => {
                u64::try_from(*i).map_err(|_| format!("{EXPECTED}, found {i}"))
            }
            Raw::File(v) => Err(format!("{EXPECTED}, found {}", type_name(v))),
            Raw::Env(s) => {
                parse_uint_text(s.trim()).ok_or_else(|| format!("{EXPECTED}, found {s:?}"))
            }
        }
    }

    fn boolean(self) -> Result<bool, String> {
        const EXPECTED: &str = "expected true or false";
        match self {
            Raw::File(toml::Value::Boolean(b)) => Ok(*b),
            Raw::File(v) => Err(format!("{EXPECTED}, found {}", type_name(v))),
            Raw::Env(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(format!("{EXPECTED}, found {s:?}")),
            },
        }
    }

    /// A duration string (`"30d"`, `"1h30m"`, `"500ms"`), or a bare number of seconds.
    fn duration(self) -> Result<Duration, String> {
        match self {
            Raw::File(toml::Value::String(s)) => parse_duration(s),
            Raw::File(toml::Value::Integer(i)) => u64::try_from(*i)
                .map(Duration::from_secs)
                .map_err(|_| format!("expected a positive duration, found {i}")),
            Raw::File(v) => Err(format!(
                "expected a duration such as \"30d\", \"1h30m\" or \"500ms\", found {}",
                type_name(v)
            )),
            Raw::Env(s) => parse_duration(s),
        }
    }

    /// A TOML array of strings, or comma-separated text (`username,email`).
    fn list(self) -> Result<Vec<&'a str>, String> {
        match self {
            Raw::File(toml::Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s.as_str()),
                    other => Err(format!(
                        "expected an array of strings, found {} in the array",
                        type_name(other)
                    )),
                })
                .collect(),
            Raw::File(v) => Err(format!(
                "expected an array of strings such as [\"username\", \"email\"], found {}",
                type_name(v)
            )),
            Raw::Env(s) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()),
        }
    }
}

/// Digits, optionally grouped with single underscores as in TOML (`1_000_000`).
fn parse_uint_text(s: &str) -> Option<u64> {
    let well_formed = s.starts_with(|c: char| c.is_ascii_digit())
        && s.ends_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_digit() || c == '_')
        && !s.contains("__");
    if !well_formed {
        return None;
    }
    s.replace('_', "").parse().ok()
}

fn to_usize(n: u64) -> Result<usize, String> {
    usize::try_from(n).map_err(|_| format!("{n} is too large for this platform"))
}

fn usize_in(raw: Raw<'_>, min: u64, max: u64) -> Result<usize, String> {
    let n = raw.uint()?;
    if n < min {
        return Err(format!("must be at least {min}, found {n}"));
    }
    if n > max {
        return Err(format!("must be at most {max}, found {n}"));
    }
    to_usize(n)
}

fn positive_duration(raw: Raw<'_>, max: Duration, max_text: &str) -> Result<Duration, String> {
    let d = raw.duration()?;
    if d.is_zero() {
        return Err("expected a duration greater than zero".to_string());
    }
    if d > max {
        return Err(format!("must be at most {max_text}, found {d:?}"));
    }
    Ok(d)
}

fn non_empty_path(s: &str) -> Result<PathBuf, String> {
    if s.trim().is_empty() {
        return Err("expected a non-empty path".to_string());
    }
    Ok(PathBuf::from(s))
}

/// A mailbox lettre accepts: `addr@host` or `Display Name <addr@host>`.
fn parse_mailbox(s: &str) -> Result<String, String> {
    let s = s.trim();
    s.parse::<lettre::message::Mailbox>().map_err(|e| {
        format!("expected an address such as \"Example <noreply@example.com>\", found {s:?} ({e})")
    })?;
    Ok(s.to_string())
}

/// Text that goes into a mail header: no line breaks or other control characters.
fn single_line(s: &str) -> Result<String, String> {
    if s.chars().any(char::is_control) {
        return Err(format!(
            "expected one line of text without control characters, found {s:?}"
        ));
    }
    Ok(s.trim().to_string())
}

/// A link template: must contain each of `placeholders`, and no whitespace.
fn link_template(s: &str, placeholders: &[&str]) -> Result<String, String> {
    let s = s.trim();
    for p in placeholders {
        if !s.contains(p) {
            return Err(format!(
                "expected a URL containing {}, found {s:?}",
                placeholders.join(" and ")
            ));
        }
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("expected a URL without spaces, found {s:?}"));
    }
    Ok(s.to_string())
}

/// An `http://` or `https://` base URL, without its trailing slash.
fn base_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("expected an http:// or https:// URL, found {s:?}"))?;
    if rest.is_empty()
        || s.chars().any(|c| c.is_whitespace() || c.is_control())
        || s.contains(['?', '#'])
    {
        return Err(format!(
            "expected a base URL without spaces, query or fragment, found {s:?}"
        ));
    }
    Ok(s.to_string())
}

/// `HOST:PORT`, where HOST is a name, an IPv4 address or a bracketed IPv6 address.
fn parse_bind(s: &str) -> Result<String, String> {
    let bad =
        || format!("expected HOST:PORT such as \"127.0.0.1:8000\" or \"[::1]:8000\", found {s:?}");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port_ok =
        !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) && port.parse::<u16>().is_ok();
    let host_ok = !host.is_empty()
        && !host.chars().any(|c| c.is_whitespace() || c.is_control())
        && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')));
    if !(port_ok && host_ok) {
        return Err(bad());
    }
    Ok(s.to_string())
}

/// `"/rest-auth/"` → `"/rest-auth"`; `"/"` and `""` → `""` (the root).
fn normalize_prefix(s: &str) -> Result<String, String> {
    let trimmed = s.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if !trimmed.starts_with('/') {
        return Err(format!(
            "expected a URL path starting with \"/\" such as \"/rest-auth\" (or \"\" for the root), found {s:?}"
        ));
    }
    if trimmed.contains("//")
        || trimmed
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return Err(format!(
            "expected a plain URL path without spaces, \"?\", \"#\" or \"//\", found {s:?}"
        ));
    }
    Ok(trimmed.to_string())
}

/// `10.0.0.0/8`, `fd00::/8`, or a bare address (`10.0.0.1`, `::1`) for that address alone.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    let bad =
        || format!("expected an IP address or CIDR range such as \"10.0.0.0/8\", found {s:?}");
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let addr: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
        None => max,
    };
    IpNet::new(addr, bits).map_err(|_| bad())
}

fn parse_login_methods(items: &[&str]) -> Result<Vec<LoginMethod>, String> {
    if items.is_empty() {
        return Err("expected at least one of \"username\", \"email\"; found none".to_string());
    }
    let mut methods = Vec::with_capacity(items.len());
    for item in items {
        let method = match item.trim().to_ascii_lowercase().as_str() {
            "username" => LoginMethod::Username,
            "email" => LoginMethod::Email,
            _ => {
                return Err(format!(
                    "expected \"username\" or \"email\", found {item:?}"
                ))
            }
        };
        if methods.contains(&method) {
            return Err(format!("{:?} is listed more than once", method.as_str()));
        }
        methods.push(method);
    }
    Ok(methods)
}

/// Parses `"30d"`, `"1h"`, `"90m"`, `"45s"`, `"500ms"` and combinations such as
/// `"1h30m"` (units largest first, each at most once). A bare integer is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| {
        format!(
            "expected a duration such as \"30d\", \"1h30m\", \"45s\" or \"500ms\" (a bare number is seconds), found {s:?}{why}"
        )
    };
    let text = s.trim();
    if text.is_empty() {
        return Err(bad(""));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| bad(": too large"));
    }

    // Units, largest first, with their length in milliseconds.
    const UNITS: [(&str, u128); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut total_ms: u128 = 0;
    let mut next_unit = 0; // index into UNITS: units must appear in this order
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad(""));
        }
        let number: u128 = rest[..digits].parse().map_err(|_| bad(": too large"))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        let Some(index) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(bad(if unit.is_empty() {
                ": every number needs a unit (ms, s, m, h, d)"
            } else {
                ": units are ms, s, m, h, d"
            }));
        };
        if index < next_unit {
            return Err(bad(": give each unit once, largest first"));
        }
        next_unit = index + 1;
        total_ms = number
            .checked_mul(UNITS[index].1)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| bad(": too large"))?;
        rest = rest[unit_len..].trim_start();
    }
    u64::try_from(total_ms)
        .map(Duration::from_millis)
        .map_err(|_| bad(": too large"))
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const REFERENCE: &str = include_str!("../auth.toml");

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn file(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, &no_env)
    }

    fn file_err(text: &str) -> String {
        file(text).expect_err("expected an error").to_string()
    }

    fn env_err(var: &str, value: &str) -> String {
        Config::from_toml_str("", &env_of(&[(var, value)]))
            .expect_err("expected an error")
            .to_string()
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.server.bind, "127.0.0.1:8000");
        assert_eq!(c.server.prefix, "/rest-auth");
        assert!(c.server.workers >= 4);
        assert_eq!(c.server.workers % 4, 0);
        assert_eq!(c.server.max_body_bytes, 65_536);
        assert_eq!(c.database.path, PathBuf::from("restauth.sqlite3"));
        assert_eq!(c.database.busy_timeout, Duration::from_secs(5));
        assert_eq!(c.security.secret_key.expose(), "");
        assert_eq!(c.security.password_iterations, 1_000_000);
        assert_eq!(c.security.max_concurrent_hashes, 0);
        assert!(c.security.effective_max_concurrent_hashes() >= 1);
        assert_eq!(
            c.accounts.login_methods,
            vec![LoginMethod::Username, LoginMethod::Email]
        );
        assert_eq!(c.accounts.email_verification, EmailVerification::Mandatory);
        assert!(c.accounts.old_password_field_enabled);
        assert!(!c.accounts.logout_on_password_change);
        assert!(!c.accounts.logout_on_get);
        assert_eq!(c.accounts.token_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(
            c.accounts.email_confirmation_expire,
            Duration::from_secs(3 * 86_400)
        );
        assert_eq!(c.accounts.password_reset_timeout, Duration::from_secs(3600));
        assert_eq!(c.mail.backend, MailBackend::Spool);
        assert_eq!(c.mail.spool_dir, PathBuf::from("mail"));
        assert_eq!(c.mail.from, "restauth <noreply@localhost>");
        assert_eq!(c.mail.site_name, "restauth");
        assert_eq!(
            c.mail.email_confirm_url,
            "http://localhost:8000/account-confirm-email/{key}/"
        );
        assert_eq!(
            c.mail.password_reset_url,
            "http://localhost:8000/password-reset/confirm/{uid}/{token}/"
        );
        assert_eq!(c.mail.templates_dir, None);
        assert_eq!(c.mail.max_attempts, 8);
        assert_eq!(c.mail.retry_base, Duration::from_secs(30));
        assert_eq!(c.mail.poll_interval, Duration::from_secs(2));
        assert_eq!(c.mail.smtp.host, "localhost");
        assert_eq!(c.mail.smtp.port, 587);
        assert_eq!(c.mail.smtp.security, SmtpSecurity::Starttls);
        assert_eq!(c.mail.smtp.username, "");
        assert_eq!(c.mail.smtp.password.expose(), "");
        assert_eq!(c.mail.smtp.timeout, Duration::from_secs(10));
    }

    #[test]
    fn empty_file_and_no_path_give_defaults() {
        assert_eq!(file("").unwrap(), Config::default());
        assert_eq!(Config::load(None, &no_env).unwrap(), Config::default());
    }

    #[test]
    fn reference_file_is_exactly_the_defaults() {
        let c = file(REFERENCE).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(format!("{c:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn reference_file_documents_every_key_and_env_var() {
        for k in KEYS {
            let var = env_var_name(k.section, k.name);
            assert!(REFERENCE.contains(&var), "auth.toml does not mention {var}");
            let set = format!("\n{} = ", k.name);
            let commented = format!("\n# {} = ", k.name);
            assert!(
                REFERENCE.contains(&set) || REFERENCE.contains(&commented),
                "auth.toml has no line for {}.{}",
                k.section,
                k.name
            );
            assert!(REFERENCE.contains(&format!("[{}]", k.section)));
        }
        // workers is computed, so it is shown commented out.
        assert!(REFERENCE.contains("\n# workers = "));
        // Every RESTAUTH_ variable the reference mentions is a real one.
        for word in REFERENCE.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if let Some(rest) = word.strip_prefix("RESTAUTH_") {
                if rest.is_empty() || rest == "SECTION" {
                    continue;
                }
                assert!(
                    KEYS.iter().any(|k| env_var_name(k.section, k.name) == word),
                    "auth.toml mentions unknown variable {word}"
                );
            }
        }
    }

    #[test]
    fn file_overrides_every_key() {
        let c = file(
            r#"
            [server]
            bind = "0.0.0.0:9000"
            prefix = "/api/auth/"
            workers = 3
            max_body_bytes = 1_048_576

            [database]
            path = "/var/lib/restauth/db.sqlite3"
            busy_timeout = "250ms"

            [security]
            secret_key = "s3cr3t-file"
            password_iterations = 600000
            max_concurrent_hashes = 2

            [accounts]
            login_methods = ["email"]
            email_verification = "optional"
            old_password_field_enabled = false
            logout_on_password_change = true
            logout_on_get = true
            token_ttl = "1h30m"
            email_confirmation_expire = "7d"
            password_reset_timeout = "30m"

            [mail]
            backend = "smtp"
            spool_dir = "/var/spool/restauth"
            from = "Example <noreply@example.com>"
            site_name = "Example"
            email_confirm_url = "https://app.example.com/verify?key={key}"
            password_reset_url = "https://app.example.com/reset/{uid}/{token}"
            templates_dir = "/etc/restauth/templates"
            max_attempts = 3
            retry_base = "5s"
            poll_interval = "250ms"

            [mail.smtp]
            host = "smtp.example.com"
            port = 465
            security = "tls"
            username = "mailer"
            password = "smtp-pass-file"
            timeout = "30s"
            "#,
        )
        .unwrap();
        assert_eq!(c.server.bind, "0.0.0.0:9000");
        assert_eq!(c.server.prefix, "/api/auth");
        assert_eq!(c.server.workers, 3);
        assert_eq!(c.server.max_body_bytes, 1_048_576);
        assert_eq!(
            c.database.path,
            PathBuf::from("/var/lib/restauth/db.sqlite3")
        );
        assert_eq!(c.database.busy_timeout, Duration::from_millis(250));
        assert_eq!(c.security.secret_key.expose(), "s3cr3t-file");
        assert_eq!(c.security.password_iterations, 600_000);
        assert_eq!(c.security.max_concurrent_hashes, 2);
        assert_eq!(c.security.effective_max_concurrent_hashes(), 2);
        assert_eq!(c.accounts.login_methods, vec![LoginMethod::Email]);
        assert_eq!(c.accounts.email_verification, EmailVerification::Optional);
        assert!(!c.accounts.old_password_field_enabled);
        assert!(c.accounts.logout_on_password_change);
        assert!(c.accounts.logout_on_get);
        assert_eq!(c.accounts.token_ttl, Duration::from_secs(5400));
        assert_eq!(
            c.accounts.email_confirmation_expire,
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(c.accounts.password_reset_timeout, Duration::from_secs(1800));
        assert_eq!(c.mail.backend, MailBackend::Smtp);
        assert_eq!(c.mail.spool_dir, PathBuf::from("/var/spool/restauth"));
        assert_eq!(c.mail.from, "Example <noreply@example.com>");
        assert_eq!(c.mail.site_name, "Example");
        assert_eq!(
            c.mail.email_confirm_url,
            "https://app.example.com/verify?key={key}"
        );
        assert_eq!(
            c.mail.password_reset_url,
            "https://app.example.com/reset/{uid}/{token}"
        );
        assert_eq!(
            c.mail.templates_dir,
            Some(PathBuf::from("/etc/restauth/templates"))
        );
        assert_eq!(c.mail.max_attempts, 3);
        assert_eq!(c.mail.retry_base, Duration::from_secs(5));
        assert_eq!(c.mail.poll_interval, Duration::from_millis(250));
        assert_eq!(c.mail.smtp.host, "smtp.example.com");
        assert_eq!(c.mail.smtp.port, 465);
        assert_eq!(c.mail.smtp.security, SmtpSecurity::Tls);
        assert_eq!(c.mail.smtp.username, "mailer");
        assert_eq!(c.mail.smtp.password.expose(), "smtp-pass-file");
        assert_eq!(c.mail.smtp.timeout, Duration::from_secs(30));
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let c = file("[accounts]\nlogout_on_get = true\n").unwrap();
        let mut expected = Config::default();
        expected.accounts.logout_on_get = true;
        assert_eq!(c, expected);
    }

    #[test]
    fn env_overrides_every_key() {
        let env = env_of(&[
            ("RESTAUTH_SERVER_BIND", "[::1]:8080"),
            ("RESTAUTH_SERVER_PREFIX", "/"),
            ("RESTAUTH_SERVER_WORKERS", "16"),
            ("RESTAUTH_SERVER_MAX_BODY_BYTES", "2048"),
            ("RESTAUTH_DATABASE_PATH", "env.sqlite3"),
            ("RESTAUTH_DATABASE_BUSY_TIMEOUT", "10"),
            ("RESTAUTH_SECURITY_SECRET_KEY", "from-env"),
            ("RESTAUTH_SECURITY_PASSWORD_ITERATIONS", "1_000"),
            ("RESTAUTH_SECURITY_MAX_CONCURRENT_HASHES", "7"),
            ("RESTAUTH_ACCOUNTS_LOGIN_METHODS", " email , username "),
            ("RESTAUTH_ACCOUNTS_EMAIL_VERIFICATION", "none"),
            ("RESTAUTH_ACCOUNTS_OLD_PASSWORD_FIELD_ENABLED", "false"),
            ("RESTAUTH_ACCOUNTS_LOGOUT_ON_PASSWORD_CHANGE", "true"),
            ("RESTAUTH_ACCOUNTS_LOGOUT_ON_GET", "TRUE"),
            ("RESTAUTH_ACCOUNTS_TOKEN_TTL", "7d"),
            ("RESTAUTH_ACCOUNTS_EMAIL_CONFIRMATION_EXPIRE", "1d"),
            ("RESTAUTH_ACCOUNTS_PASSWORD_RESET_TIMEOUT", "2h"),
            ("RESTAUTH_MAIL_BACKEND", "SMTP"),
            ("RESTAUTH_MAIL_SPOOL_DIR", "/tmp/spool"),
            ("RESTAUTH_MAIL_FROM", "noreply@env.example"),
            ("RESTAUTH_MAIL_SITE_NAME", "Env Site"),
            ("RESTAUTH_MAIL_EMAIL_CONFIRM_URL", "https://env/c/{key}"),
            (
                "RESTAUTH_MAIL_PASSWORD_RESET_URL",
                "https://env/r/{token}/{uid}",
            ),
            ("RESTAUTH_MAIL_TEMPLATES_DIR", "tpl"),
            ("RESTAUTH_MAIL_MAX_ATTEMPTS", "12"),
            ("RESTAUTH_MAIL_RETRY_BASE", "1m"),
            ("RESTAUTH_MAIL_POLL_INTERVAL", "5"),
            ("RESTAUTH_MAIL_SMTP_HOST", "127.0.0.1"),
            ("RESTAUTH_MAIL_SMTP_PORT", "2525"),
            ("RESTAUTH_MAIL_SMTP_SECURITY", "none"),
            ("RESTAUTH_MAIL_SMTP_USERNAME", "env-user"),
            ("RESTAUTH_MAIL_SMTP_PASSWORD", "env-smtp-secret"),
            ("RESTAUTH_MAIL_SMTP_TIMEOUT", "500ms"),
        ]);
        let c = Config::load(None, &env).unwrap();
        assert_eq!(c.server.bind, "[::1]:8080");
        assert_eq!(c.server.prefix, "");
        assert_eq!(c.server.workers, 16);
        assert_eq!(c.server.max_body_bytes, 2048);
        assert_eq!(c.database.path, PathBuf::from("env.sqlite3"));
        assert_eq!(c.database.busy_timeout, Duration::from_secs(10));
        assert_eq!(c.security.secret_key.expose(), "from-env");
        assert_eq!(c.security.password_iterations, 1000);
        assert_eq!(c.security.max_concurrent_hashes, 7);
        assert_eq!(
            c.accounts.login_methods,
            vec![LoginMethod::Email, LoginMethod::Username]
        );
        assert_eq!(c.accounts.email_verification, EmailVerification::None);
        assert!(!c.accounts.old_password_field_enabled);
        assert!(c.accounts.logout_on_password_change);
        assert!(c.accounts.logout_on_get);
        assert_eq!(c.accounts.token_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(
            c.accounts.email_confirmation_expire,
            Duration::from_secs(86_400)
        );
        assert_eq!(c.accounts.password_reset_timeout, Duration::from_secs(7200));
        assert_eq!(c.mail.backend, MailBackend::Smtp);
        assert_eq!(c.mail.spool_dir, PathBuf::from("/tmp/spool"));
        assert_eq!(c.mail.from, "noreply@env.example");
        assert_eq!(c.mail.site_name, "Env Site");
        assert_eq!(c.mail.email_confirm_url, "https://env/c/{key}");
        assert_eq!(c.mail.password_reset_url, "https://env/r/{token}/{uid}");
        assert_eq!(c.mail.templates_dir, Some(PathBuf::from("tpl")));
        assert_eq!(c.mail.max_attempts, 12);
        assert_eq!(c.mail.retry_base, Duration::from_secs(60));
        assert_eq!(c.mail.poll_interval, Duration::from_secs(5));
        assert_eq!(c.mail.smtp.host, "127.0.0.1");
        assert_eq!(c.mail.smtp.port, 2525);
        assert_eq!(c.mail.smtp.security, SmtpSecurity::None);
        assert_eq!(c.mail.smtp.username, "env-user");
        assert_eq!(c.mail.smtp.password.expose(), "env-smtp-secret");
        assert_eq!(c.mail.smtp.timeout, Duration::from_millis(500));
    }

    #[test]
    fn nested_smtp_section() {
        // The env var wins over the file, also in a nested section.
        let c = Config::from_toml_str(
            "[mail.smtp]\npassword = \"from-file\"\nport = 25\n",
            &env_of(&[("RESTAUTH_MAIL_SMTP_PASSWORD", "from-env")]),
        )
        .unwrap();
        assert_eq!(c.mail.smtp.password.expose(), "from-env");
        assert_eq!(c.mail.smtp.port, 25);
        // Inline-table and dotted-key spellings of the same section work too.
        let c = file("[mail]\nsmtp = { port = 2525 }\n").unwrap();
        assert_eq!(c.mail.smtp.port, 2525);
        let c = file("[mail]\nsmtp.host = \"relay\"\n").unwrap();
        assert_eq!(c.mail.smtp.host, "relay");

        let msg = file_err("[mail.smtp]\nhots = \"x\"\n");
        assert!(
            msg.starts_with("unknown key \"mail.smtp.hots\" in auth.toml"),
            "{msg}"
        );
        assert!(msg.contains("host, port"), "{msg}");
        let msg = file_err("[mail]\nsmtp = 5\n");
        assert!(
            msg.contains("\"mail.smtp\" in auth.toml must be a table"),
            "{msg}"
        );
        // [mail] lists its nested section among what it accepts.
        let msg = file_err("[mail]\nbogus = 1\n");
        assert!(msg.contains("smtp"), "{msg}");
        // A nested header under another section is still an unknown key.
        let msg = file_err("[accounts.smtp]\nhost = \"x\"\n");
        assert!(msg.starts_with("unknown key \"accounts.smtp\""), "{msg}");
        // The nested section is not accepted at the top level on its own.
        let msg = file_err("[smtp]\nhost = \"x\"\n");
        assert!(msg.starts_with("unknown section \"smtp\""), "{msg}");
    }

    #[test]
    fn mail_validation() {
        let cases = [
            (
                "[mail]\nbackend = \"sendmail\"",
                "mail.backend",
                "expected \"spool\" or \"smtp\"",
            ),
            (
                "[mail]\nfrom = \"not an address\"",
                "mail.from",
                "expected an address",
            ),
            ("[mail]\nfrom = \"\"", "mail.from", "expected an address"),
            (
                "[mail]\nfrom = \"Name <broken@>\"",
                "mail.from",
                "expected an address",
            ),
            (
                "[mail]\nsite_name = \"a\\nb\"",
                "mail.site_name",
                "one line",
            ),
            (
                "[mail]\nemail_confirm_url = \"http://x/confirm/\"",
                "mail.email_confirm_url",
                "containing {key}",
            ),
            (
                "[mail]\npassword_reset_url = \"http://x/{uid}/\"",
                "mail.password_reset_url",
                "containing {uid} and {token}",
            ),
            (
                "[mail]\npassword_reset_url = \"http://x/{token}/\"",
                "mail.password_reset_url",
                "containing {uid} and {token}",
            ),
            (
                "[mail]\nemail_confirm_url = \"http://x/ {key}\"",
                "mail.email_confirm_url",
                "without spaces",
            ),
            (
                "[mail]\nmax_attempts = 0",
                "mail.max_attempts",
                "at least 1",
            ),
            (
                "[mail]\nretry_base = \"0s\"",
                "mail.retry_base",
                "greater than zero",
            ),
            (
                "[mail]\npoll_interval = \"2h\"",
                "mail.poll_interval",
                "at most 1h",
            ),
            ("[mail.smtp]\nport = 0", "mail.smtp.port", "at least 1"),
            (
                "[mail.smtp]\nport = 65536",
                "mail.smtp.port",
                "at most 65535",
            ),
            (
                "[mail.smtp]\nsecurity = \"ssl\"",
                "mail.smtp.security",
                "\"starttls\", \"tls\", \"none\"",
            ),
            ("[mail.smtp]\nhost = \"\"", "mail.smtp.host", "host name"),
            ("[mail.smtp]\nhost = \"a b\"", "mail.smtp.host", "host name"),
            (
                "[mail.smtp]\ntimeout = 0",
                "mail.smtp.timeout",
                "greater than zero",
            ),
            (
                "[accounts]\npassword_reset_timeout = \"0s\"",
                "accounts.password_reset_timeout",
                "greater than zero",
            ),
            (
                "[accounts]\nemail_confirmation_expire = \"soon\"",
                "accounts.email_confirmation_expire",
                "expected a duration",
            ),
        ];
        for (text, key, expected) in cases {
            let msg = file_err(text);
            assert!(
                msg.starts_with(&format!("invalid value for \"{key}\" in auth.toml: ")),
                "{text}: {msg}"
            );
            assert!(msg.contains(expected), "{text}: {msg}");
        }
        let msg = env_err("RESTAUTH_MAIL_SMTP_SECURITY", "ssl");
        assert!(
            msg.starts_with(
                "invalid value for \"mail.smtp.security\" in environment variable RESTAUTH_MAIL_SMTP_SECURITY: "
            ),
            "{msg}"
        );
        // Plain addresses and quoted display names are fine.
        assert_eq!(
            file("[mail]\nfrom = \"a@b.example\"").unwrap().mail.from,
            "a@b.example"
        );
        assert_eq!(
            file("[mail]\nfrom = '\"Site, Inc.\" <a@b.example>'")
                .unwrap()
                .mail
                .from,
            "\"Site, Inc.\" <a@b.example>"
        );
        // "" and whitespace mean the built-in templates.
        assert_eq!(
            file("[mail]\ntemplates_dir = \" \"")
                .unwrap()
                .mail
                .templates_dir,
            None
        );
    }

    #[test]
    fn debug_redacts_the_smtp_password() {
        let mut c = Config::default();
        assert!(format!("{:?}", c.mail.smtp).contains("password: \"<empty>\""));
        c.mail.smtp.password = Secret::from("smtp-hunter2");
        c.mail.smtp.username = "mailer".to_string();
        for shown in [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{:?}", c.mail),
            format!("{:?}", c.mail.smtp),
        ] {
            assert!(!shown.contains("smtp-hunter2"), "password leaked: {shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains("mailer"), "{shown}");
        }
        // Nor in an error about its type.
        let msg = file_err("[mail.smtp]\npassword = 98765432123456789");
        assert!(
            msg.starts_with("invalid value for \"mail.smtp.password\" in auth.toml"),
            "{msg}"
        );
        assert!(!msg.contains("98765432123456789"), "{msg}");
    }

    #[test]
    fn env_wins_over_file() {
        let text =
            "[server]\nbind = \"10.0.0.1:80\"\nworkers = 2\n[security]\nsecret_key = \"file\"\n";
        let env = env_of(&[
            ("RESTAUTH_SERVER_BIND", "10.0.0.2:81"),
            ("RESTAUTH_SECURITY_SECRET_KEY", "env"),
        ]);
        let c = Config::from_toml_str(text, &env).unwrap();
        assert_eq!(c.server.bind, "10.0.0.2:81");
        assert_eq!(c.server.workers, 2); // from the file, no env override
        assert_eq!(c.security.secret_key.expose(), "env");
    }

    #[test]
    fn env_lookup_asks_exactly_the_documented_names() {
        let asked = std::cell::RefCell::new(Vec::new());
        let env = |k: &str| {
            asked.borrow_mut().push(k.to_string());
            None
        };
        Config::from_toml_str("", &env).unwrap();
        let asked = asked.into_inner();
        assert_eq!(asked.len(), KEYS.len());
        assert!(asked.contains(&"RESTAUTH_SERVER_BIND".to_string()));
        assert!(asked.contains(&"RESTAUTH_ACCOUNTS_LOGIN_METHODS".to_string()));
        assert!(asked.contains(&"RESTAUTH_SECURITY_MAX_CONCURRENT_HASHES".to_string()));
    }

    #[test]
    fn unknown_key_in_each_section_is_named() {
        for section in SECTIONS {
            let msg = file_err(&format!("[{section}]\nbogus_key = 1\n"));
            assert!(
                msg.starts_with(&format!("unknown key \"{section}.bogus_key\" in auth.toml")),
                "{msg}"
            );
        }
        let msg = file_err("[server]\nbnd = \"0.0.0.0:1\"\n");
        assert!(
            msg.starts_with("unknown key \"server.bnd\" in auth.toml"),
            "{msg}"
        );
        assert!(msg.contains("bind"), "should list the known keys: {msg}");
    }

    #[test]
    fn unknown_section_is_named() {
        let msg = file_err("[serve]\nbind = \"0.0.0.0:1\"\n");
        assert!(
            msg.starts_with("unknown section \"serve\" in auth.toml"),
            "{msg}"
        );
        assert!(msg.contains("server"), "{msg}");
        let msg = file_err("[server.tls]\ncert = \"x\"\n");
        assert!(msg.starts_with("unknown key \"server.tls\""), "{msg}");
    }

    #[test]
    fn top_level_keys_and_non_table_sections_are_errors() {
        let msg = file_err("bind = \"0.0.0.0:1\"\n");
        assert!(
            msg.starts_with("unknown key \"bind\" in auth.toml"),
            "{msg}"
        );
        let msg = file_err("server = 5\n");
        assert!(
            msg.contains("\"server\" in auth.toml must be a table"),
            "{msg}"
        );
    }

    #[test]
    fn load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("restauth-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("custom.toml");
        std::fs::write(&path, "[server]\nworkers = 5\n").unwrap();
        let c = Config::load(Some(&path), &no_env).unwrap();
        assert_eq!(c.server.workers, 5);

        std::fs::write(&path, "[server]\nwokers = 5\n").unwrap();
        let msg = Config::load(Some(&path), &no_env).unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!(
                "unknown key \"server.wokers\" in {}",
                path.display()
            )),
            "{msg}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_file_is_an_error() {
        let path = Path::new("/nonexistent/restauth/auth.toml");
        let msg = Config::load(Some(path), &no_env).unwrap_err().to_string();
        assert!(
            msg.starts_with("cannot read /nonexistent/restauth/auth.toml: "),
            "{msg}"
        );
    }

    #[test]
    fn syntax_errors_give_position_and_do_not_echo_the_line() {
        let msg = file_err("[security]\nsecret_key = \"hunter2-very-secret\n");
        assert!(msg.starts_with("cannot parse auth.toml at line 2"), "{msg}");
        assert!(!msg.contains("hunter2"), "secret leaked: {msg}");
    }

    #[test]
    fn bad_types_in_file() {
        let cases = [
            (
                "[server]\nworkers = \"4\"",
                "server.workers",
                "expected a non-negative integer, found a string",
            ),
            (
                "[server]\nworkers = -1",
                "server.workers",
                "expected a non-negative integer, found -1",
            ),
            (
                "[server]\nbind = 8000",
                "server.bind",
                "expected a string, found an integer",
            ),
            (
                "[accounts]\nlogin_methods = \"username\"",
                "accounts.login_methods",
                "expected an array of strings",
            ),
            (
                "[accounts]\nlogin_methods = [\"email\", 1]",
                "accounts.login_methods",
                "found an integer in the array",
            ),
            (
                "[accounts]\nlogout_on_get = \"yes\"",
                "accounts.logout_on_get",
                "expected true or false, found a string",
            ),
            (
                "[database]\nbusy_timeout = true",
                "database.busy_timeout",
                "expected a duration",
            ),
            (
                "[database]\npath = 3.5",
                "database.path",
                "expected a string, found a float",
            ),
            (
                "[mail]\nspool_dir = []",
                "mail.spool_dir",
                "expected a string, found an array",
            ),
        ];
        for (text, key, expected) in cases {
            let msg = file_err(text);
            assert!(
                msg.starts_with(&format!("invalid value for \"{key}\" in auth.toml: ")),
                "{text}: {msg}"
            );
            assert!(msg.contains(expected), "{text}: {msg}");
        }
    }

    #[test]
    fn bad_values_in_env_name_the_variable() {
        let cases = [
            (
                "RESTAUTH_SERVER_WORKERS",
                "four",
                "server.workers",
                "expected a non-negative integer, found \"four\"",
            ),
            (
                "RESTAUTH_SERVER_WORKERS",
                "",
                "server.workers",
                "expected a non-negative integer",
            ),
            (
                "RESTAUTH_SERVER_WORKERS",
                "-2",
                "server.workers",
                "expected a non-negative integer",
            ),
            (
                "RESTAUTH_ACCOUNTS_LOGOUT_ON_GET",
                "yes",
                "accounts.logout_on_get",
                "expected true or false, found \"yes\"",
            ),
            (
                "RESTAUTH_ACCOUNTS_TOKEN_TTL",
                "forever",
                "accounts.token_ttl",
                "expected a duration",
            ),
            (
                "RESTAUTH_ACCOUNTS_LOGIN_METHODS",
                "username,phone",
                "accounts.login_methods",
                "found \"phone\"",
            ),
            (
                "RESTAUTH_ACCOUNTS_LOGIN_METHODS",
                "",
                "accounts.login_methods",
                "at least one",
            ),
            (
                "RESTAUTH_ACCOUNTS_EMAIL_VERIFICATION",
                "sometimes",
                "accounts.email_verification",
                "\"mandatory\", \"optional\", \"none\"",
            ),
            (
                "RESTAUTH_SERVER_PREFIX",
                "api",
                "server.prefix",
                "starting with \"/\"",
            ),
        ];
        for (var, value, key, expected) in cases {
            let msg = env_err(var, value);
            assert!(
                msg.starts_with(&format!(
                    "invalid value for \"{key}\" in environment variable {var}: "
                )),
                "{var}={value}: {msg}"
            );
            assert!(msg.contains(expected), "{var}={value}: {msg}");
        }
    }

    #[test]
    fn durations() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("30d"), Duration::from_secs(30 * 86_400));
        assert_eq!(d("1h"), Duration::from_secs(3600));
        assert_eq!(d("90m"), Duration::from_secs(5400));
        assert_eq!(d("45s"), Duration::from_secs(45));
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("1d 2h 3m 4s 5ms"), Duration::from_millis(93_784_005));
        assert_eq!(d("120"), Duration::from_secs(120));
        assert_eq!(d(" 5s "), Duration::from_secs(5));
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("5 s"), Duration::from_secs(5));
        assert!(parse_duration("5 minutes")
            .unwrap_err()
            .ends_with("found \"5 minutes\": units are ms, s, m, h, d"));
        assert!(parse_duration("1h 30")
            .unwrap_err()
            .ends_with(": every number needs a unit (ms, s, m, h, d)"));
        for bad in [
            "",
            "s",
            "5x",
            "1.5h",
            "-5s",
            "5 minutes",
            "1h1h",
            "30m1h",
            "1h30",
            "99999999999999999999999d",
            "5S",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.starts_with("expected a duration"), "{bad}: {err}");
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn durations_in_file_and_validation() {
        assert_eq!(
            file("[database]\nbusy_timeout = 2")
                .unwrap()
                .database
                .busy_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(
            file("[accounts]\ntoken_ttl = \"12h\"")
                .unwrap()
                .accounts
                .token_ttl,
            Duration::from_secs(12 * 3600)
        );
        let msg = file_err("[accounts]\ntoken_ttl = \"0s\"");
        assert!(msg.contains("\"accounts.token_ttl\""), "{msg}");
        assert!(msg.contains("greater than zero"), "{msg}");
        let msg = file_err("[database]\nbusy_timeout = 0");
        assert!(msg.contains("greater than zero"), "{msg}");
        let msg = file_err("[database]\nbusy_timeout = \"30d\"");
        assert!(msg.contains("must be at most 24d"), "{msg}");
        let msg = env_err("RESTAUTH_ACCOUNTS_TOKEN_TTL", "40000d");
        assert!(msg.contains("must be at most 36500d"), "{msg}");
    }

    #[test]
    fn prefix_normalisation() {
        let prefix = |p: &str| {
            file(&format!("[server]\nprefix = {p:?}"))
                .map(|c| c.server.prefix)
                .map_err(|e| e.to_string())
        };
        assert_eq!(prefix("/rest-auth/").unwrap(), "/rest-auth");
        assert_eq!(prefix("/rest-auth").unwrap(), "/rest-auth");
        assert_eq!(prefix("/api/v1//").unwrap(), "/api/v1");
        assert_eq!(prefix("/").unwrap(), "");
        assert_eq!(prefix("").unwrap(), "");
        for bad in [
            "rest-auth",
            "rest-auth/",
            " /x",
            "/a b",
            "/a?b",
            "/a#b",
            "/a//b",
        ] {
            let msg = prefix(bad).unwrap_err();
            assert!(
                msg.starts_with("invalid value for \"server.prefix\" in auth.toml"),
                "{msg}"
            );
        }
        let c = Config::from_toml_str("", &env_of(&[("RESTAUTH_SERVER_PREFIX", "")])).unwrap();
        assert_eq!(c.server.prefix, "");
    }

    #[test]
    fn validation_failures() {
        let cases = [
            (
                "[server]\nworkers = 0",
                "server.workers",
                "must be at least 1, found 0",
            ),
            (
                "[server]\nmax_body_bytes = 1023",
                "server.max_body_bytes",
                "between 1024",
            ),
            (
                "[server]\nmax_body_bytes = 16777217",
                "server.max_body_bytes",
                "16 MiB",
            ),
            (
                "[server]\nbind = \"localhost\"",
                "server.bind",
                "expected HOST:PORT",
            ),
            (
                "[server]\nbind = \":8000\"",
                "server.bind",
                "expected HOST:PORT",
            ),
            (
                "[server]\nbind = \"0.0.0.0:99999\"",
                "server.bind",
                "expected HOST:PORT",
            ),
            (
                "[server]\nbind = \"::1:8000\"",
                "server.bind",
                "expected HOST:PORT",
            ),
            (
                "[security]\npassword_iterations = 0",
                "security.password_iterations",
                "at least 1",
            ),
            (
                "[security]\npassword_iterations = 4294967296",
                "security.password_iterations",
                "at most 4294967295",
            ),
            (
                "[accounts]\nlogin_methods = []",
                "accounts.login_methods",
                "at least one",
            ),
            (
                "[accounts]\nlogin_methods = [\"phone\"]",
                "accounts.login_methods",
                "found \"phone\"",
            ),
            (
                "[accounts]\nlogin_methods = [\"email\", \"email\"]",
                "accounts.login_methods",
                "more than once",
            ),
            (
                "[accounts]\nemail_verification = \"sometimes\"",
                "accounts.email_verification",
                "found \"sometimes\"",
            ),
            ("[database]\npath = \"\"", "database.path", "non-empty path"),
            (
                "[mail]\nspool_dir = \" \"",
                "mail.spool_dir",
                "non-empty path",
            ),
        ];
        for (text, key, expected) in cases {
            let msg = file_err(text);
            assert!(
                msg.starts_with(&format!("invalid value for \"{key}\" in auth.toml: ")),
                "{text}: {msg}"
            );
            assert!(msg.contains(expected), "{text}: {msg}");
        }
        // Boundaries that are fine.
        assert_eq!(
            file("[server]\nmax_body_bytes = 1024")
                .unwrap()
                .server
                .max_body_bytes,
            1024
        );
        assert_eq!(
            file("[server]\nmax_body_bytes = 16777216")
                .unwrap()
                .server
                .max_body_bytes,
            16 * 1024 * 1024
        );
        assert_eq!(file("[server]\nworkers = 1").unwrap().server.workers, 1);
        assert_eq!(
            file("[server]\nbind = \"localhost:0\"")
                .unwrap()
                .server
                .bind,
            "localhost:0"
        );
    }

    #[test]
    fn debug_redacts_the_secret_key() {
        let mut c = Config::default();
        assert!(format!("{:?}", c.security).contains("secret_key: \"<empty>\""));
        c.security.secret_key = Secret::from("topsecret-value-123");
        for shown in [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{:?}", c.security),
        ] {
            assert!(!shown.contains("topsecret"), "secret leaked: {shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains("password_iterations"), "{shown}");
        }
    }

    #[test]
    fn secret_key_type_error_does_not_echo_value() {
        let msg = file_err("[security]\nsecret_key = 12345678987654321");
        assert!(
            msg.starts_with("invalid value for \"security.secret_key\" in auth.toml"),
            "{msg}"
        );
        assert!(!msg.contains("12345678987654321"), "{msg}");
    }

    #[test]
    fn effective_max_concurrent_hashes() {
        let mut s = SecurityConfig::default();
        assert_eq!(s.effective_max_concurrent_hashes(), available_cpus());
        s.max_concurrent_hashes = 3;
        assert_eq!(s.effective_max_concurrent_hashes(), 3);
    }
}

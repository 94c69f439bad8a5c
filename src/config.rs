//! `auth.toml` → typed [`Config`].
//!
//! Precedence, lowest to highest: built-in defaults, then the file, then
//! `RESTAUTH_<SECTION>_<KEY>` environment variables (e.g. `RESTAUTH_SERVER_BIND`).
//!
//! Each key is declared once, in `sections!`: its type, default and parser
//! (`deserialize_with`, a bounded duration's `with` module, or its type's own
//! `Deserialize`); `auth.toml` documents it. `Config::default()` serialised to
//! a TOML table is the schema the rest derives from: unknown sections and keys
//! (rejected by serde) are named with what their section accepts, every key
//! gets its variable, whose text is read as the default's TOML type (true or
//! false, an integer, a comma-separated list, else text), and a `RESTAUTH_*`
//! variable that names no key comes back as a warning.
//!
//! Errors name the key and where the bad value came from: the file with line
//! and column, or the variable. The file is validated alone, then with the
//! variables laid over it, so a loaded `Config` is valid. [`Secret`]s are never
//! printed: not by `Debug`, not in errors (a wrong value is named by its type).
//!
//! Sections may nest one level (`[mail.smtp]`); a nested section's variables
//! join the names with `_`: `RESTAUTH_MAIL_SMTP_PASSWORD`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use toml::{Table, Value};

pub use crate::security::throttle::Rate;

/// Declares sections, each key once: `#[parser] name: Type = default`. A
/// section rejects unknown keys, and missing ones keep their defaults.
macro_rules! sections {
    ($($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$key_meta:meta])* $key:ident: $type:ty = $default:expr,)*
    })*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $($(#[$key_meta])* pub $key: $type,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $($key: $default,)* }
            }
        }
    )*};
}

sections! {
    /// The whole configuration.
    pub struct Config {
        server: ServerConfig = Default::default(),
        database: DatabaseConfig = Default::default(),
        security: SecurityConfig = Default::default(),
        accounts: AccountsConfig = Default::default(),
        mail: MailConfig = Default::default(),
        social: SocialConfig = Default::default(),
        throttle: ThrottleConfig = Default::default(),
        auth: AuthConfig = Default::default(),
        jwt: JwtConfig = Default::default(),
        mfa: MfaConfig = Default::default(),
    }

    pub struct ServerConfig {
        #[serde(deserialize_with = "bind")] bind: String = "127.0.0.1:8000".into(),
        /// Normalised: `""` (the root) or `/segment[/segment…]` without a trailing slash.
        #[serde(deserialize_with = "prefix")] prefix: String = "/rest-auth".into(),
        #[serde(deserialize_with = "int::<1, ANY, _, _>")]
        workers: usize = available_cpus().saturating_mul(4).max(4),
        #[serde(deserialize_with = "body_bytes")] max_body_bytes: usize = 65_536,
        #[serde(deserialize_with = "proxies")]
        trusted_proxies: Vec<IpNet> = vec![parse_cidr("127.0.0.0/8").unwrap(), parse_cidr("::1").unwrap()],
        /// Exact origins (`https://app.example.com`); empty = no CORS headers.
        #[serde(deserialize_with = "origins")] cors_allowed_origins: Vec<String> = Vec::new(),
        #[serde(deserialize_with = "boolean")] cors_allow_credentials: bool = false,
        #[serde(with = "max_1h")] read_timeout: Duration = Duration::from_secs(5),
        #[serde(with = "max_1h")] header_timeout: Duration = Duration::from_secs(10),
        #[serde(with = "max_1h")] write_timeout: Duration = Duration::from_secs(10),
        #[serde(with = "max_1h")] shutdown_timeout: Duration = Duration::from_secs(10),
        #[serde(deserialize_with = "int::<1024, 1_048_576, _, _>")] max_header_bytes: usize = 16_384,
        #[serde(deserialize_with = "int::<10, 10_000, _, _>")] max_headers: usize = 100,
        #[serde(deserialize_with = "int::<1, 1_000_000, _, _>")] max_connections: usize = 1024,
        /// The queue's slots are allocated up front.
        #[serde(deserialize_with = "int::<1, 100_000, _, _>")] max_queued: usize = 128,
    }

    pub struct DatabaseConfig {
        #[serde(deserialize_with = "path")] path: PathBuf = "restauth.sqlite3".into(),
        /// `""` = the SQLite file at `path`; `postgres://…` = PostgreSQL (may hold a password).
        #[serde(deserialize_with = "database_url")] url: Secret = Secret::default(),
        /// SQLite takes it as an i32 number of milliseconds.
        #[serde(with = "max_24d")] busy_timeout: Duration = Duration::from_secs(5),
        /// PostgreSQL connections each node keeps open at most.
        #[serde(deserialize_with = "int::<1, 10_000, _, _>")] max_connections: usize = 10,
    }

    pub struct SecurityConfig {
        /// `""` = read from [`SecurityConfig::secret_key_path`], generated there on first start.
        secret_key: Secret = Secret::default(),
        /// `None` = `restauth.secret` beside the database file.
        #[serde(with = "optional_path")] secret_key_file: Option<PathBuf> = None,
        #[serde(deserialize_with = "int::<1, { u32::MAX as u64 }, _, _>")]
        password_iterations: u32 = 1_000_000,
        /// `0` = number of CPUs; see [`SecurityConfig::effective_max_concurrent_hashes`].
        #[serde(deserialize_with = "int::<0, ANY, _, _>")] max_concurrent_hashes: usize = 0,
    }

    pub struct AccountsConfig {
        #[serde(deserialize_with = "login_methods")]
        login_methods: Vec<LoginMethod> = vec![LoginMethod::Username, LoginMethod::Email],
        email_verification: EmailVerification = EmailVerification::Mandatory,
        #[serde(deserialize_with = "boolean")] old_password_field_enabled: bool = true,
        #[serde(deserialize_with = "boolean")] logout_on_password_change: bool = false,
        #[serde(deserialize_with = "boolean")] logout_on_get: bool = false,
        // Bounded so that "now + ttl" can never overflow anywhere.
        #[serde(with = "max_36500d")] token_ttl: Duration = Duration::from_secs(30 * 86_400),
        #[serde(with = "max_36500d")] email_confirmation_expire: Duration = Duration::from_secs(3 * 86_400),
        #[serde(with = "max_36500d")] password_reset_timeout: Duration = Duration::from_secs(3600),
    }

    pub struct MailConfig {
        backend: MailBackend = MailBackend::Spool,
        #[serde(deserialize_with = "path")] spool_dir: PathBuf = "mail".into(),
        #[serde(deserialize_with = "mailbox")] from: String = "restauth <noreply@localhost>".into(),
        #[serde(deserialize_with = "one_line")] site_name: String = "restauth".into(),
        #[serde(deserialize_with = "confirm_url")]
        email_confirm_url: String = "http://localhost:8000/account-confirm-email/{key}/".into(),
        #[serde(deserialize_with = "reset_url")]
        password_reset_url: String = "http://localhost:8000/password-reset/confirm/{uid}/{token}/".into(),
        /// `None` = built-in templates only.
        #[serde(with = "optional_path")] templates_dir: Option<PathBuf> = None,
        #[serde(deserialize_with = "int::<1, 1000, _, _>")] max_attempts: u32 = 8,
        #[serde(with = "max_1h")] retry_base: Duration = Duration::from_secs(30),
        #[serde(with = "max_1h")] poll_interval: Duration = Duration::from_secs(2),
        /// How long a worker's claim on a message lasts before another may take it.
        #[serde(with = "max_1h")] delivery_lease: Duration = Duration::from_secs(60),
        smtp: SmtpConfig = Default::default(),
    }

    pub struct SmtpConfig {
        #[serde(deserialize_with = "host")] host: String = "localhost".into(),
        #[serde(deserialize_with = "int::<1, 65_535, _, _>")] port: u16 = 587,
        security: SmtpSecurity = SmtpSecurity::Starttls,
        /// `""` = no authentication.
        #[serde(deserialize_with = "text")] username: String = String::new(),
        password: Secret = Secret::default(),
        #[serde(with = "max_1h")] timeout: Duration = Duration::from_secs(10),
    }

    /// Social login providers; a provider without credentials is disabled.
    pub struct SocialConfig {
        facebook: FacebookProviderConfig = Default::default(),
        twitter: TwitterProviderConfig = Default::default(),
        google: GoogleProviderConfig = Default::default(),
        github: GithubProviderConfig = Default::default(),
        apple: AppleProviderConfig = Default::default(),
        /// `[social.oidc.<name>]`: OpenID Connect providers found by discovery, served at `P/<name>/`.
        oidc: BTreeMap<String, OidcProviderConfig> = BTreeMap::new(),
    }

    /// One OpenID Connect provider (Keycloak, Authentik, Entra, GitLab, Okta, …);
    /// enabled by `issuer` and `client_ids`.
    pub struct OidcProviderConfig {
        /// Exactly as the provider writes it in its tokens; its discovery document
        /// is at `<issuer>/.well-known/openid-configuration`.
        #[serde(deserialize_with = "issuer")] issuer: String = String::new(),
        /// Client ids whose ID tokens are accepted; the first one exchanges codes.
        #[serde(deserialize_with = "client_ids")] client_ids: Vec<String> = Vec::new(),
        /// `""` = a public client (codes exchanged with PKCE and the client id alone).
        client_secret: Secret = Secret::default(),
        /// `redirect_uri` of the code flow.
        #[serde(deserialize_with = "trimmed")] callback_url: String = String::new(),
        /// What the frontend asks for; `openid` is required, and with `email` or
        /// `profile` the userinfo endpoint fills in what the ID token lacks.
        #[serde(deserialize_with = "scopes")]
        scopes: Vec<String> = vec!["openid".into(), "email".into(), "profile".into()],
        #[serde(with = "max_5m")] timeout: Duration = Duration::from_secs(10),
    }

    /// Sign in with Apple: ID tokens checked against Apple's keys; enabled by `client_ids`.
    pub struct AppleProviderConfig {
        /// The Services ID (web) and bundle ids (iOS apps) whose ID tokens are accepted;
        /// the first one exchanges codes.
        #[serde(deserialize_with = "client_ids")] client_ids: Vec<String> = Vec::new(),
        /// The developer team, the key's id and the key (PEM), which sign the client
        /// secret of the code flow; not needed for ID tokens alone.
        #[serde(deserialize_with = "trimmed")] team_id: String = String::new(),
        #[serde(deserialize_with = "trimmed")] key_id: String = String::new(),
        #[serde(deserialize_with = "ec_private_key")] private_key: Secret = Secret::default(),
        /// `redirect_uri` of the code flow.
        #[serde(deserialize_with = "trimmed")] callback_url: String = String::new(),
        #[serde(deserialize_with = "url")]
        keys_url: String = "https://appleid.apple.com/auth/keys".into(),
        #[serde(deserialize_with = "url")]
        token_url: String = "https://appleid.apple.com/auth/token".into(),
        #[serde(with = "max_5m")] timeout: Duration = Duration::from_secs(10),
    }

    /// GitHub (an OAuth app); enabled when `client_id` and `client_secret` are set.
    pub struct GithubProviderConfig {
        #[serde(deserialize_with = "trimmed")] client_id: String = String::new(),
        client_secret: Secret = Secret::default(),
        /// `redirect_uri` of the code flow (optional at GitHub: the app's default).
        #[serde(deserialize_with = "trimmed")] callback_url: String = String::new(),
        /// Where codes are exchanged (`/login/oauth/access_token`).
        #[serde(deserialize_with = "base_url")] oauth_url: String = "https://github.com".into(),
        /// The REST API (`/user`, `/user/emails`, `/applications/{client_id}/token`).
        #[serde(deserialize_with = "base_url")] api_url: String = "https://api.github.com".into(),
        #[serde(with = "max_5m")] timeout: Duration = Duration::from_secs(10),
    }

    /// Google Sign-In: ID tokens checked against Google's keys; enabled by `client_ids`.
    pub struct GoogleProviderConfig {
        /// OAuth client ids whose ID tokens are accepted (web, iOS, Android); the first one
        /// exchanges codes.
        #[serde(deserialize_with = "client_ids")] client_ids: Vec<String> = Vec::new(),
        /// Needed only to exchange codes.
        client_secret: Secret = Secret::default(),
        /// `redirect_uri` of the code flow.
        #[serde(deserialize_with = "trimmed")] callback_url: String = String::new(),
        #[serde(deserialize_with = "url")]
        certs_url: String = "https://www.googleapis.com/oauth2/v3/certs".into(),
        #[serde(deserialize_with = "url")]
        token_url: String = "https://oauth2.googleapis.com/token".into(),
        #[serde(deserialize_with = "url")]
        userinfo_url: String = "https://openidconnect.googleapis.com/v1/userinfo".into(),
        /// Tells which app an access token was issued to.
        #[serde(deserialize_with = "url")]
        tokeninfo_url: String = "https://oauth2.googleapis.com/tokeninfo".into(),
        #[serde(with = "max_5m")] timeout: Duration = Duration::from_secs(10),
    }

    pub struct FacebookProviderConfig {
        #[serde(deserialize_with = "trimmed")] app_id: String = String::new(),
        app_secret: Secret = Secret::default(),
        #[serde(deserialize_with = "base_url")]
        graph_url: String = "https://graph.facebook.com/v19.0".into(),
        /// `redirect_uri` of the code flow.
        #[serde(deserialize_with = "trimmed")] callback_url: String = String::new(),
        #[serde(with = "max_5m")] timeout: Duration = Duration::from_secs(10),
    }

    pub struct TwitterProviderConfig {
        #[serde(deserialize_with = "trimmed")] consumer_key: String = String::new(),
        consumer_secret: Secret = Secret::default(),
        #[serde(deserialize_with = "base_url")] api_url: String = "https://api.x.com".into(),
        #[serde(with = "max_5m")] timeout: Duration = Duration::from_secs(10),
    }

    /// Which credentials login hands out.
    pub struct AuthConfig {
        mode: AuthMode = AuthMode::Token,
    }

    /// JWT mode (`auth.mode = "jwt"`), named after dj-rest-auth's and simplejwt's settings.
    pub struct JwtConfig {
        #[serde(with = "max_1d")] access_lifetime: Duration = Duration::from_secs(300),
        #[serde(with = "max_36500d")] refresh_lifetime: Duration = Duration::from_secs(86_400),
        /// `""` = no access cookie.
        #[serde(deserialize_with = "cookie_name")] access_cookie: String = "access".into(),
        /// `""` = no refresh cookie.
        #[serde(deserialize_with = "cookie_name")] refresh_cookie: String = "refresh".into(),
        #[serde(deserialize_with = "boolean")] refresh_in_body: bool = false,
        samesite: SameSite = SameSite::Lax,
        #[serde(deserialize_with = "boolean")] secure: bool = false,
        /// `""` = no `Domain` attribute (host-only cookies).
        #[serde(deserialize_with = "cookie_domain")] cookie_domain: String = String::new(),
        #[serde(deserialize_with = "cookie_path")] refresh_cookie_path: String = "/".into(),
        #[serde(deserialize_with = "boolean")] return_expiration: bool = true,
        #[serde(deserialize_with = "boolean")] csrf: bool = false,
        #[serde(deserialize_with = "boolean")] rotate_refresh: bool = true,
        /// A rotated refresh token presented again within this window is not reuse.
        #[serde(with = "grace")] reuse_grace: Duration = Duration::from_secs(10),
        algorithm: JwtAlgorithm = JwtAlgorithm::Hs256,
    }

    /// Two-factor login (TOTP, recovery codes), named after dj-rest-auth's `MFA_*` settings.
    pub struct MfaConfig {
        /// `""` = no issuer in the provisioning URI (the reference's default).
        #[serde(deserialize_with = "mfa_issuer")] issuer: String = String::new(),
        #[serde(deserialize_with = "int::<6, 8, _, _>")] digits: u8 = 6,
        #[serde(with = "whole_secs_5m")] period: Duration = Duration::from_secs(30),
        /// Steps accepted before and after the current one.
        #[serde(deserialize_with = "int::<0, 3, _, _>")] skew: u16 = 1,
        /// Lifetime of the login step's ephemeral token and of an activation token.
        #[serde(with = "whole_secs_1h")] ephemeral_lifetime: Duration = Duration::from_secs(300),
        #[serde(deserialize_with = "int::<1, 50, _, _>")] recovery_codes: usize = 10,
        /// Wrong codes that burn an ephemeral token.
        #[serde(deserialize_with = "int::<1, 100, _, _>")] max_failures: u32 = 5,
    }

    /// Rates per client address (`_per_email`: per target address), and the softlock.
    pub struct ThrottleConfig {
        #[serde(deserialize_with = "boolean")] enabled: bool = true,
        login: Rate = rate("20/min"),
        mfa_verify: Rate = rate("20/min"),
        registration: Rate = rate("10/h"),
        password_reset: Rate = rate("10/h"),
        password_reset_per_email: Rate = rate("3/h"),
        resend_email: Rate = rate("10/h"),
        resend_email_per_email: Rate = rate("3/h"),
        verify_email: Rate = rate("30/min"),
        registration_per_email: Rate = rate("3/h"),
        #[serde(deserialize_with = "int::<100, 100_000_000, _, _>")] max_tracked_keys: usize = 50_000,
        #[serde(deserialize_with = "int::<1, 1000, _, _>")] softlock_threshold: u32 = 5,
        #[serde(with = "max_1h")] softlock_base: Duration = Duration::from_secs(1),
        #[serde(with = "max_1d")] softlock_max: Duration = Duration::from_secs(900),
    }
}

/// Enums whose values are words in `auth.toml`, read case-insensitively.
macro_rules! keywords {
    ($($(#[$meta:meta])* pub enum $name:ident {
        $($(#[$variant_meta:meta])* $variant:ident = $word:literal,)*
    })*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)*
        }

        impl $name {
            /// The name used in `auth.toml`.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $word,)* }
            }

            fn parse(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($word => Ok(Self::$variant),)*
                    _ => Err(format!("expected {}, found {s:?}", one_of(&[$($word),*]))),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                parse_with(d, |v| Self::parse(string(v)?))
            }
        }
    )*};
}

keywords! {
    /// Token mode (`{"key"}`, dj-rest-auth's default) or JWT mode.
    pub enum AuthMode {
        Token = "token",
        Jwt = "jwt",
    }

    /// The cookies' `SameSite` attribute.
    pub enum SameSite {
        Lax = "lax",
        Strict = "strict",
        None = "none",
    }

    /// How JWTs are signed.
    pub enum JwtAlgorithm {
        /// HMAC-SHA256 with a key derived from the server secret.
        Hs256 = "hs256",
    }

    /// What users log in with (dj-rest-auth's names).
    pub enum LoginMethod {
        Username = "username",
        Email = "email",
    }

    /// django-allauth's `ACCOUNT_EMAIL_VERIFICATION`.
    pub enum EmailVerification {
        Mandatory = "mandatory",
        Optional = "optional",
        None = "none",
    }

    /// How outgoing mail leaves the server.
    pub enum MailBackend {
        /// One `.eml` file per message in `spool_dir`.
        Spool = "spool",
        /// Relayed to `[mail.smtp]`.
        Smtp = "smtp",
    }

    /// How the SMTP connection is protected.
    pub enum SmtpSecurity {
        /// Plain connection upgraded with STARTTLS (required; usually port 587).
        Starttls = "starttls",
        /// TLS from the first byte ("SMTPS", usually port 465).
        Tls = "tls",
        /// No encryption at all (a relay on loopback, tests).
        None = "none",
    }
}

/// `"a" or "b"`, or `one of "a", "b", "c"`.
fn one_of(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
    match quoted.as_slice() {
        [a, b] => format!("{a} or {b}"),
        all => format!("one of {}", all.join(", ")),
    }
}

/// A secret (key, password): `Debug` and `Display` show `<redacted>` (or
/// `<empty>`) and it serialises as `""`, never the value; [`Secret::expose`]
/// hands it to the code that uses it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
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

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_with(d, |v| string(v).map(Secret::from))
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let period = match self.period.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            _ => "day",
        };
        s.serialize_str(&format!("{}/{period}", self.count))
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_with(d, |v| Rate::parse(string(v)?))
    }
}

fn rate(s: &str) -> Rate {
    Rate::parse(s).expect("built-in rate")
}

fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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

/// A configuration error; the message names the key and the source of the bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/// `RESTAUTH_*` variables read on purpose by something else (`RESTAUTH_BIN`:
/// the binary `.ci/schemathesis.sh` tests; `RESTAUTH_TEST_POSTGRES_URL`: the
/// tests' PostgreSQL server, from `.ci/postgres.sh`): no warning for them.
const NOT_KEYS: [&str; 3] = [
    "RESTAUTH_BIN",
    "RESTAUTH_COPY_TO",
    "RESTAUTH_TEST_POSTGRES_URL",
];

/// Configuration and the warnings to print about it.
type Loaded = Result<(Config, Vec<String>), ConfigError>;

impl Config {
    /// Defaults, then the file (if any), then the `RESTAUTH_*` variables of
    /// `env` (name, value); with a warning for each `RESTAUTH_*` variable that
    /// names no key.
    pub fn load(path: Option<&Path>, env: &[(String, String)]) -> Loaded {
        let Some(path) = path else {
            return build(None, env);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        build(Some((&path.display().to_string(), &text)), env)
    }
}

/// The process's environment (the variables whose name and value are UTF-8).
pub fn environment() -> Vec<(String, String)> {
    let utf8 = |(k, v): (std::ffi::OsString, std::ffi::OsString)| {
        Some((k.into_string().ok()?, v.into_string().ok()?))
    };
    std::env::vars_os().filter_map(utf8).collect()
}

/// The variable of the dotted `key`: `mail.smtp.port` → `RESTAUTH_MAIL_SMTP_PORT`.
/// A provider name's `-` becomes `_` (`social.oidc.my-idp.issuer` →
/// `RESTAUTH_SOCIAL_OIDC_MY_IDP_ISSUER`).
fn env_var_name(key: &str) -> String {
    format!(
        "RESTAUTH_{}",
        key.replace(['.', '-'], "_").to_ascii_uppercase()
    )
}

/// Where a variable names an OpenID Connect provider: `RESTAUTH_SOCIAL_OIDC_<NAME>_ISSUER`.
const OIDC_VAR: (&str, &str) = ("RESTAUTH_SOCIAL_OIDC_", "_ISSUER");

/// First path segments restauth serves itself (`health` too: with an empty
/// prefix `/health` is answered before routing): no OpenID Connect provider
/// may take one.
pub const RESERVED_PROVIDER_NAMES: [&str; 15] = [
    "apple",
    "facebook",
    "github",
    "google",
    "health",
    "login",
    "logout",
    "mfa",
    "password",
    "registration",
    "schema",
    "socialaccounts",
    "token",
    "twitter",
    "user",
];

/// The `[social.oidc.<name>]` sections: those of the file, then those only
/// a `RESTAUTH_SOCIAL_OIDC_<NAME>_ISSUER` variable declares (`_` read as `-`).
fn oidc_names(file: &Table, env: &[(String, String)]) -> Vec<String> {
    let in_file = file
        .get("social")
        .and_then(|s| s.get("oidc"))
        .and_then(Value::as_table);
    let mut names: Vec<String> = in_file
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    for (var, _) in env {
        let name = var
            .strip_prefix(OIDC_VAR.0)
            .and_then(|rest| rest.strip_suffix(OIDC_VAR.1))
            .filter(|n| !n.is_empty());
        if let Some(name) = name.map(|n| n.to_ascii_lowercase().replace('_', "-")) {
            if !names.iter().any(|n| env_var_name(n) == env_var_name(&name)) {
                names.push(name);
            }
        }
    }
    names
}

/// Why `name` cannot name an OpenID Connect provider, if it cannot.
fn oidc_name_problem(name: &str) -> Option<String> {
    let well_formed = name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        return Some(
            "a provider name is at most 32 lower-case letters, digits and '-', starting with a letter (it becomes the path P/<name>/)".into(),
        );
    }
    RESERVED_PROVIDER_NAMES
        .contains(&name)
        .then(|| format!("P/{name}/ is a path restauth serves itself; choose another name"))
}

fn build(file: Option<(&str, &str)>, env: &[(String, String)]) -> Loaded {
    let mut schema = Table::try_from(Config::default()).expect("the defaults serialise");
    let mut table = Table::new();
    if let Some((name, text)) = file {
        // Only toml's message and position: its Display quotes the line, which
        // could be the secret_key line.
        let syntax = |e: toml::de::Error| {
            let at = at(text, e.span());
            ConfigError(format!(
                "cannot parse {name}{at}: {}",
                e.message().trim_end()
            ))
        };
        table = text.parse().map_err(syntax)?;
        sections_are_tables(&schema, &table, name)?;
        providers_are_tables(&table, name)?;
        let file = toml::Deserializer::parse(text).map_err(syntax)?;
        // The first problem in the file's order: an unknown key, or a bad value.
        serde_path_to_error::deserialize::<_, Config>(file).map_err(|e| {
            let key = e.path().to_string();
            let place = format!("in {name}{}", at(text, e.inner().span()));
            let msg = e.inner().message();
            unknown(&table, &key, &place, msg).unwrap_or_else(|| invalid(&key, &place, msg))
        })?;
    }

    // Each provider's section gets every key's default, so its variables are read too.
    let names = oidc_names(&table, env);
    if let Some(oidc) = schema
        .get_mut("social")
        .and_then(|s| s.get_mut("oidc"))
        .and_then(Value::as_table_mut)
    {
        let defaults =
            Value::try_from(OidcProviderConfig::default()).expect("the defaults serialise");
        for name in names {
            oidc.insert(name, defaults.clone());
        }
    }

    let mut known = Vec::new();
    for (key, default) in entries(&schema).into_iter().filter(|(_, v)| !v.is_table()) {
        let var = env_var_name(&key);
        if let Some((_, text)) = env.iter().find(|(name, _)| *name == var) {
            let value = env_value(default, text)
                .map_err(|msg| invalid(&key, &format!("in environment variable {var}"), &msg))?;
            insert(&mut table, &key, value);
        }
        known.push(var);
    }
    let config: Config = serde_path_to_error::deserialize(table).map_err(|e| {
        let key = e.path().to_string();
        let source = format!("in environment variable {}", env_var_name(&key));
        invalid(&key, &source, e.inner().message())
    })?;
    for name in config.social.oidc.keys() {
        if let Some(problem) = oidc_name_problem(name) {
            return Err(ConfigError(format!(
                "invalid section [social.oidc.{name}]: {problem}"
            )));
        }
    }
    let jwt = &config.jwt;
    let names = [jwt.access_cookie.as_str(), jwt.refresh_cookie.as_str()];
    if (!names[0].is_empty() && names[0] == names[1]) || names.contains(&"csrftoken") {
        return Err(ConfigError(format!(
            "jwt.access_cookie and jwt.refresh_cookie must differ from each other and from \"csrftoken\" (got {:?} and {:?})",
            names[0], names[1]
        )));
    }
    if config.jwt.samesite == SameSite::None && !(config.jwt.csrf && config.jwt.secure) {
        // Cross-site requests carry the cookies: only the CSRF check stops a
        // forged one, and browsers drop `SameSite=None` cookies without `Secure`.
        return Err(ConfigError(
            "jwt.samesite = \"None\" sends the cookies with cross-site requests: it needs jwt.csrf = true and jwt.secure = true (or use \"Lax\")"
                .into(),
        ));
    }

    let mut warnings: Vec<String> = env
        .iter()
        .map(|(name, _)| name)
        .filter(|n| n.starts_with("RESTAUTH_") && !known.contains(n))
        .filter(|n| !NOT_KEYS.contains(&n.as_str()))
        .map(|n| format!("environment variable {n} names no configuration key; it is ignored"))
        .collect();
    if config.jwt.csrf && config.auth.mode == AuthMode::Token {
        // Token mode's key travels in a header no other site can send: nothing to defend.
        warnings.push(
            "jwt.csrf = true has no effect in token mode (auth.mode = \"token\"); it applies to JWT mode's cookies"
                .into(),
        );
    }
    Ok((config, warnings))
}

fn invalid(key: &str, source: &str, msg: &str) -> ConfigError {
    ConfigError(format!("invalid value for \"{key}\" {source}: {msg}"))
}

/// ` at line L, column C` (1-based, in characters) for the start of `span`, or nothing.
fn at(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(mut end) = span.map(|s| s.start.min(text.len())) else {
        return String::new();
    };
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" at line {line}, column {column}")
}

/// Every entry of `table` (sections, their keys and nested sections), in
/// order, with its dotted name.
fn entries(table: &Table) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (key, value) in table {
        out.push((key.clone(), value));
        if let Value::Table(inner) = value {
            out.extend(
                entries(inner)
                    .into_iter()
                    .map(|(k, v)| (format!("{key}.{k}"), v)),
            );
        }
    }
    out
}

/// Every section of the file is a table (serde would also read one from an array).
fn sections_are_tables(schema: &Table, file: &Table, name: &str) -> Result<(), ConfigError> {
    let file = entries(file);
    for (section, _) in entries(schema).iter().filter(|(_, v)| v.is_table()) {
        if let Some((_, value)) = file.iter().find(|(k, v)| k == section && !v.is_table()) {
            let found = type_name(value);
            let msg =
                format!("\"{section}\" in {name} must be a table ([{section}]), found {found}");
            return Err(ConfigError(msg));
        }
    }
    Ok(())
}

/// Every entry of `[social.oidc]` is a provider's section: a key written
/// there by mistake (`client_secret = …` without a provider name) is named,
/// never echoed.
fn providers_are_tables(file: &Table, name: &str) -> Result<(), ConfigError> {
    let oidc = file.get("social").and_then(|s| s.get("oidc"));
    let Some(oidc) = oidc.and_then(Value::as_table) else {
        return Ok(());
    };
    match oidc.iter().find(|(_, v)| !v.is_table()) {
        Some((key, _)) => Err(ConfigError(format!(
            "\"social.oidc.{key}\" in {name}: [social.oidc] holds one section per provider; write its keys under [social.oidc.<name>], e.g. [social.oidc.keycloak]"
        ))),
        None => Ok(()),
    }
}

/// serde's unknown-field error for the dotted `key` of the file, worded as
/// an unknown key or section with what its section accepts.
fn unknown(file: &Table, key: &str, place: &str, msg: &str) -> Option<ConfigError> {
    let accepted = msg.strip_prefix("unknown field `")?.split_once("`, ")?.1;
    let top_table = !key.contains('.') && file.get(key).is_some_and(Value::is_table);
    let what = if top_table { "section" } else { "key" };
    Some(ConfigError(format!(
        "unknown {what} \"{key}\" {place}; {accepted}"
    )))
}

/// A variable's text as a TOML value of the default's type.
fn env_value(default: &Value, text: &str) -> Result<Value, String> {
    Ok(match default {
        Value::Boolean(_) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Boolean(true),
            "false" => Value::Boolean(false),
            _ => return Err(format!("expected true or false, found {text:?}")),
        },
        Value::Integer(_) => {
            let n = parse_uint_text(text.trim())
                .ok_or_else(|| format!("expected a non-negative integer, found {text:?}"))?;
            let too_large = || format!("must be at most {}, found {n}", i64::MAX);
            Value::Integer(i64::try_from(n).map_err(|_| too_large())?)
        }
        Value::Array(_) => {
            let items = text.split(',').map(str::trim).filter(|s| !s.is_empty());
            Value::Array(items.map(Value::from).collect())
        }
        _ => Value::from(text),
    })
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

/// Sets the value of the dotted `key`, creating its sections on the way.
fn insert(table: &mut Table, key: &str, value: Value) {
    let (sections, leaf) = key.rsplit_once('.').expect("every key is in a section");
    let mut table = table;
    for section in sections.split('.') {
        let entry = table.entry(section).or_insert_with(|| Table::new().into());
        table = entry.as_table_mut().expect("checked against the schema");
    }
    table.insert(leaf.to_string(), value);
}

// ---------------------------------------------------------------------------
// Parsers: a raw TOML value (from the file, or a variable's text converted by
// `env_value`) to a valid field; `Err` says what was expected. A value of the
// wrong type is named by its type only (it could be a secret).
// ---------------------------------------------------------------------------

/// Reads the raw value and hands it to `parse`, whose `Err` becomes the error.
fn parse_with<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: impl FnOnce(&Value) -> Result<T, String>,
) -> Result<T, D::Error> {
    parse(&Value::deserialize(d)?).map_err(D::Error::custom)
}

/// `deserialize_with` functions, each defined by its parser of the raw value.
macro_rules! parsers {
    ($($(#[$meta:meta])* fn $name:ident($v:ident) -> $type:ty $body:block)*) => {$(
        $(#[$meta])*
        fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<$type, D::Error> {
            parse_with(d, |$v: &Value| -> Result<$type, String> { $body })
        }
    )*};
}

parsers! {
    fn text(v) -> String { string(v).map(str::to_string) }
    fn trimmed(v) -> String { Ok(string(v)?.trim().to_string()) }
    fn boolean(v) -> bool {
        v.as_bool().ok_or_else(|| format!("expected true or false, found {}", type_name(v)))
    }
    fn path(v) -> PathBuf {
        let s = string(v)?;
        if s.trim().is_empty() {
            return Err("expected a non-empty path".to_string());
        }
        Ok(PathBuf::from(s))
    }
    /// Checked here so that a bad URL stops the start with the key's name;
    /// the message never repeats the value (it may hold a password).
    fn database_url(v) -> Secret {
        let s = string(v)?;
        if !s.is_empty() {
            crate::db::pg::parse_url(s)?;
        }
        Ok(Secret::from(s))
    }
    fn proxies(v) -> Vec<IpNet> { strings(v)?.into_iter().map(parse_cidr).collect() }
    fn login_methods(v) -> Vec<LoginMethod> {
        let items = strings(v)?;
        if items.is_empty() {
            return Err("expected at least one of \"username\", \"email\"; found none".into());
        }
        let mut methods = Vec::with_capacity(items.len());
        for item in items {
            let method = LoginMethod::parse(item)?;
            if methods.contains(&method) {
                return Err(format!("{:?} is listed more than once", method.as_str()));
            }
            methods.push(method);
        }
        Ok(methods)
    }
    fn body_bytes(v) -> usize {
        let n = uint(v)?;
        if !(1024..=16 * 1024 * 1024).contains(&n) {
            return Err(format!("must be between 1024 (1 KiB) and 16777216 (16 MiB), found {n}"));
        }
        Ok(usize::try_from(n).expect("at most 16 MiB"))
    }
    /// `HOST:PORT`, where HOST is a name, an IPv4 address or a bracketed IPv6 address.
    fn bind(v) -> String {
        let s = string(v)?;
        let (host, port) = s.rsplit_once(':').unwrap_or_default();
        let port_ok = port.chars().all(|c| c.is_ascii_digit()) && port.parse::<u16>().is_ok();
        let host_ok = !host.is_empty()
            && plain(host)
            && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')));
        let expected = "HOST:PORT such as \"127.0.0.1:8000\" or \"[::1]:8000\"";
        require(port_ok && host_ok, expected, s.to_string())
    }
    /// `"/rest-auth/"` → `"/rest-auth"`; `"/"` and `""` → `""` (the root).
    fn prefix(v) -> String {
        let s = string(v)?;
        let p = s.trim_end_matches('/');
        if !p.is_empty() && !p.starts_with('/') {
            return Err(format!(
                "expected a URL path starting with \"/\" such as \"/rest-auth\" (or \"\" for the root), found {s:?}"
            ));
        }
        let ok = !p.contains("//") && plain(p) && !p.contains(['?', '#']);
        let expected = "a plain URL path without spaces, \"?\", \"#\" or \"//\"";
        require(ok, expected, s).map(|_| p.to_string())
    }
    /// Exact origins: scheme, host, optional port, no path.
    fn origins(v) -> Vec<String> {
        let origin = |o: &str| {
            let expected = "exact origins such as \"https://app.example.com\" or \"capacitor://localhost\" (scheme, host, optional port, no path)";
            normal_origin(o.trim()).ok_or_else(|| format!("expected {expected}, found {o:?}"))
        };
        strings(v)?.into_iter().map(origin).collect()
    }
    /// A host name or IP address, no spaces.
    fn host(v) -> String {
        let s = string(v)?.trim();
        let expected = "a host name or IP address such as \"smtp.example.com\"";
        require(!s.is_empty() && plain(s), expected, s.to_string())
    }
    /// A mailbox lettre accepts: `addr@host` or `Display Name <addr@host>`.
    fn mailbox(v) -> String {
        let s = string(v)?.trim();
        s.parse::<lettre::message::Mailbox>().map_err(|e| {
            format!("expected an address such as \"Example <noreply@example.com>\", found {s:?} ({e})")
        })?;
        Ok(s.to_string())
    }
    /// Text that goes into a mail header: no line breaks or other control characters.
    /// A cookie name (RFC 6265 token characters), or `""` for no cookie.
    fn cookie_name(v) -> String {
        let s = string(v)?.trim();
        let ok = s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        require(ok, "a cookie name (letters, digits and !#$%&'*+-.^_`|~) or \"\"", s.to_string())
    }
    /// An issuer name for authenticator apps: no `:` (it separates issuer and account).
    fn mfa_issuer(v) -> String {
        let s = string(v)?.trim();
        require(!s.contains(':'), "a name without \":\"", s.to_string())
    }
    /// A cookie `Domain` such as `example.com`, or `""`.
    fn cookie_domain(v) -> String {
        let s = string(v)?.trim();
        let ok = s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        require(ok, "a domain such as \"example.com\" or \"\"", s.to_string())
    }
    /// A cookie `Path`: starts with `/`, no `;` or spaces.
    fn cookie_path(v) -> String {
        let s = string(v)?.trim();
        let ok = s.starts_with('/') && plain(s) && !s.contains(';');
        require(ok, "a URL path starting with \"/\"", s.to_string())
    }
    fn one_line(v) -> String {
        let s = string(v)?;
        let expected = "one line of text without control characters";
        require(!s.contains(char::is_control), expected, s).map(|s| s.trim().to_string())
    }
    fn confirm_url(v) -> String { link_template(string(v)?, &["{key}"]) }
    fn reset_url(v) -> String { link_template(string(v)?, &["{uid}", "{token}"]) }
    /// An `http://` or `https://` URL of one endpoint (a query is allowed).
    fn url(v) -> String {
        let s = string(v)?.trim();
        let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
        let rest = rest.ok_or_else(|| format!("expected an http:// or https:// URL, found {s:?}"))?;
        require(!rest.is_empty() && plain(s) && !s.contains('#'), "a URL without spaces or fragment", s.to_string())
    }
    /// A P-256 private key in PEM (Apple's `.p8` file), or `""`. The message
    /// never repeats the value.
    fn ec_private_key(v) -> Secret {
        let s = string(v)?.trim();
        if !s.is_empty() && jsonwebtoken::EncodingKey::from_ec_pem(s.as_bytes()).is_err() {
            return Err("expected a PEM private key (-----BEGIN PRIVATE KEY----- …, the .p8 file Apple hands out)".into());
        }
        Ok(Secret::from(s))
    }
    /// An OpenID Connect issuer (`https://…`, no query or fragment), kept as
    /// written: a trailing slash is part of it. `""` = disabled. `http://`
    /// only on a loopback host (a provider on the same machine, or a test):
    /// over any other network its keys could be swapped in transit
    /// (Discovery §3 requires https).
    fn issuer(v) -> String {
        let s = string(v)?.trim();
        if s.is_empty() {
            return Ok(String::new());
        }
        let (rest, secure) = match s.strip_prefix("https://") {
            Some(rest) => (Some(rest), true),
            None => (s.strip_prefix("http://"), false),
        };
        let ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) && plain(s) && !s.contains(['?', '#']);
        require(ok, "an https:// URL without query or fragment", s.to_string())?;
        let host = rest.map_or("", |r| r.split('/').next().unwrap_or(""));
        require(secure || is_loopback_authority(host), "an https:// URL (http:// only for a loopback host)", s.to_string())?;
        Ok(s.to_string())
    }
    /// OAuth scopes, each once, `openid` among them.
    fn scopes(v) -> Vec<String> {
        let mut scopes: Vec<String> = Vec::new();
        for scope in strings(v)? {
            let scope = scope.trim();
            // RFC 6749's scope-token: printable ASCII but space, `"` and `\`.
            let ok = |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
            if scope.is_empty() || !scope.bytes().all(ok) {
                return Err(format!("expected scopes without spaces, found {scope:?}"));
            }
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_string());
            }
        }
        if !scopes.iter().any(|s| s == "openid") {
            return Err(format!("expected a list including \"openid\" (without it no ID token is issued), found {scopes:?}"));
        }
        Ok(scopes)
    }
    /// OAuth client ids: no spaces, each once.
    fn client_ids(v) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for id in strings(v)? {
            let id = id.trim();
            if id.is_empty() || !plain(id) {
                return Err(format!("expected client ids without spaces, found {id:?}"));
            }
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_string());
            }
        }
        Ok(ids)
    }
    /// An `http://` or `https://` base URL, without its trailing slash.
    fn base_url(v) -> String {
        let s = string(v)?.trim().trim_end_matches('/');
        let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
        let rest = rest.ok_or_else(|| format!("expected an http:// or https:// URL, found {s:?}"))?;
        let ok = !rest.is_empty() && plain(s) && !s.contains(['?', '#']);
        require(ok, "a base URL without spaces, query or fragment", s.to_string())
    }
}

/// `value` if `ok`, else "expected {what}, found {value:?}".
/// `origin` as browsers send it (RFC 6454 serialisation): scheme and host
/// lower-cased, the scheme's default port dropped; `None` unless it is
/// `scheme://host[:port]` (custom schemes such as `capacitor://` or
/// `tauri://` included, `null` and `*` not).
pub fn normal_origin(origin: &str) -> Option<String> {
    let (scheme, host) = origin.split_once("://")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c));
    if !scheme_ok || !host_ok {
        return None;
    }
    let (scheme, mut host) = (scheme.to_ascii_lowercase(), host.to_ascii_lowercase());
    let default_port = match scheme.as_str() {
        "https" => Some(":443"),
        "http" => Some(":80"),
        _ => None,
    };
    if let Some(port) = default_port {
        if let Some(bare) = host.strip_suffix(port) {
            host = bare.to_string();
        }
    }
    Some(format!("{scheme}://{host}"))
}

fn require<T: fmt::Debug>(ok: bool, what: &str, value: T) -> Result<T, String> {
    if ok {
        Ok(value)
    } else {
        Err(format!("expected {what}, found {value:?}"))
    }
}

/// Whether a URL's `host[:port]` names this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// No whitespace, no control characters.
fn plain(s: &str) -> bool {
    !s.contains(|c: char| c.is_whitespace() || c.is_control())
}

/// A link template: must contain each of `placeholders`, and no whitespace.
fn link_template(s: &str, placeholders: &[&str]) -> Result<String, String> {
    let s = s.trim();
    let what = format!("a URL containing {}", placeholders.join(" and "));
    require(placeholders.iter().all(|p| s.contains(p)), &what, s)?;
    require(plain(s), "a URL without spaces", s.to_string())
}

/// `10.0.0.0/8`, `fd00::/8`, or a bare address (`10.0.0.1`, `::1`) for that address alone.
/// The address is read by the standard library, which refuses ambiguous forms
/// such as leading zeros (`010.0.0.1`).
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    let bad =
        || format!("expected an IP address or CIDR range such as \"10.0.0.0/8\", found {s:?}");
    let (addr, bits) = s.split_once('/').map_or((s, None), |(a, b)| (a, Some(b)));
    let addr: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    let bits = match bits {
        None => return Ok(IpNet::from(addr)),
        Some(b) if b.bytes().all(|c| c.is_ascii_digit()) => b.parse().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    IpNet::new(addr, bits).map_err(|_| bad())
}

/// `deserialize_with = "int::<MIN, MAX, _, _>"`: an integer in `MIN..=MAX`.
fn int<'de, const MIN: u64, const MAX: u64, D: Deserializer<'de>, T: TryFrom<u64>>(
    d: D,
) -> Result<T, D::Error> {
    parse_with(d, |v| {
        let n = uint(v)?;
        if n < MIN {
            return Err(format!("must be at least {MIN}, found {n}"));
        }
        if n > MAX {
            return Err(format!("must be at most {MAX}, found {n}"));
        }
        T::try_from(n).map_err(|_| format!("{n} is too large for this platform"))
    })
}

/// No upper bound but the type's.
const ANY: u64 = u64::MAX;

/// `with = "max_1h"` and the like: a duration greater than zero and at most
/// the bound, a duration string or a number of seconds.
macro_rules! bounded_durations {
    ($($module:ident = $max_secs:expr;)*) => {$(
        mod $module {
            use super::*;

            pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&format!("{}ms", d.as_millis()))
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
                parse_with(d, |v| bounded_duration(v, $max_secs))
            }
        }
    )*};
}

bounded_durations! {
    max_5m = 300;
    max_1h = 3600;
    max_1d = 86_400;
    max_24d = 24 * 86_400;
    max_36500d = 36_500 * 86_400;
}

/// `with = "grace"`: a duration of at most an hour, zero allowed (`0` or `"0s"`).
mod grace {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        parse_with(d, |v| match v {
            Value::Integer(0) => Ok(Duration::ZERO),
            Value::String(s) if parse_duration(s).is_ok_and(|d| d.is_zero()) => Ok(Duration::ZERO),
            v => bounded_duration(v, 3600),
        })
    }
}

/// `with = "whole_secs_5m"` / `"whole_secs_1h"`: whole seconds, 1 s up to
/// the bound (TOTP steps and token lifetimes count whole seconds).
macro_rules! whole_second_durations {
    ($($module:ident = $max_secs:expr;)*) => {$(
        mod $module {
            use super::*;

            pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&format!("{}s", d.as_secs()))
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
                parse_with(d, |v| {
                    let d = bounded_duration(v, $max_secs)?;
                    if d.subsec_nanos() != 0 {
                        return Err(format!("expected whole seconds, found {d:?}"));
                    }
                    Ok(d)
                })
            }
        }
    )*};
}

whole_second_durations! {
    whole_secs_5m = 300;
    whole_secs_1h = 3600;
}

fn bounded_duration(v: &Value, max_secs: u64) -> Result<Duration, String> {
    let d = match v {
        Value::String(s) => parse_duration(s)?,
        Value::Integer(i) => u64::try_from(*i)
            .map(Duration::from_secs)
            .map_err(|_| format!("expected a positive duration, found {i}"))?,
        v => {
            let found = type_name(v);
            return Err(format!(
                "expected a duration such as \"30d\", \"1h30m\" or \"500ms\", found {found}"
            ));
        }
    };
    if d.is_zero() {
        return Err("expected a duration greater than zero".to_string());
    }
    // Every consumer counts whole milliseconds (SQLite's busy timeout would read 0 as "off").
    if d.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!("expected whole milliseconds, found {d:?}"));
    }
    let max = match max_secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{}m", s / 60),
    };
    if d > Duration::from_secs(max_secs) {
        return Err(format!("must be at most {max}, found {d:?}"));
    }
    Ok(d)
}

/// `with = "optional_path"`: a path, `""` (or blanks) for none.
mod optional_path {
    use super::*;

    pub fn serialize<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.as_deref().and_then(Path::to_str).unwrap_or(""))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        parse_with(d, |v| {
            let s = string(v)?;
            Ok((!s.trim().is_empty()).then(|| PathBuf::from(s)))
        })
    }
}

/// `"a string"`, `"an integer"`, … : what a value is, never the value itself.
fn type_name(v: &Value) -> String {
    let name = v.type_str();
    let article = if name.starts_with(['a', 'i']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

fn string(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a string, found {}", type_name(v)))
}

fn uint(v: &Value) -> Result<u64, String> {
    const EXPECTED: &str = "expected a non-negative integer";
    match v {
        Value::Integer(i) => u64::try_from(*i).map_err(|_| format!("{EXPECTED}, found {i}")),
        v => Err(format!("{EXPECTED}, found {}", type_name(v))),
    }
}

/// An array of strings (a variable's comma-separated text arrives as one).
fn strings(v: &Value) -> Result<Vec<&str>, String> {
    let Value::Array(items) = v else {
        let found = type_name(v);
        return Err(format!(
            "expected an array of strings such as [\"username\", \"email\"], found {found}"
        ));
    };
    let item = |item| {
        let found = type_name(item);
        let msg = || format!("expected an array of strings, found {found} in the array");
        Value::as_str(item).ok_or_else(msg)
    };
    items.iter().map(item).collect()
}

/// A duration in humantime's grammar (`"30d"`, `"1h30m"`, `"500ms"`,
/// `"2 minutes"`); a bare integer is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &dyn fmt::Display| {
        format!("expected a duration such as \"30d\", \"1h30m\", \"45s\" or \"500ms\" (a bare number is seconds), found {s:?}: {why}")
    };
    let text = s.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| bad(&"too large"));
    }
    humantime::parse_duration(text).map_err(|e| bad(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = include_str!("../auth.toml");

    const NO_ENV: &[(String, String)] = &[];

    /// Loads `text` as the file; errors call it `auth.toml`.
    fn from_toml_str(text: &str, env: &[(String, String)]) -> Loaded {
        build(Some(("auth.toml", text)), env)
    }

    fn env_of(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(text: &str) -> Result<Config, ConfigError> {
        from_toml_str(text, NO_ENV).map(|(c, _)| c)
    }

    /// The schema's entries, dotted (`mail.smtp.port`), in order: its sections
    /// (`tables = true`) or its keys.
    fn schema_entries(tables: bool) -> Vec<String> {
        let schema = Table::try_from(Config::default()).unwrap();
        let entries = entries(&schema);
        let chosen = entries.iter().filter(|(_, v)| v.is_table() == tables);
        chosen.map(|(k, _)| k.clone()).collect()
    }

    fn file_err(text: &str) -> String {
        file(text).expect_err("expected an error").to_string()
    }

    fn env_err(var: &str, value: &str) -> String {
        from_toml_str("", &env_of(&[(var, value)]))
            .expect_err("expected an error")
            .to_string()
    }

    #[test]
    fn jwt_cookie_names_may_not_collide() {
        for text in [
            "[jwt]\naccess_cookie = \"t\"\nrefresh_cookie = \"t\"\n",
            "[jwt]\nrefresh_cookie = \"csrftoken\"\n",
        ] {
            let msg = file_err(text);
            assert!(msg.contains("must differ"), "{msg}");
        }
        // Both absent is no collision.
        file("[jwt]\naccess_cookie = \"\"\nrefresh_cookie = \"\"\n").unwrap();
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
        assert_eq!(Config::load(None, NO_ENV).unwrap().0, Config::default());
    }

    #[test]
    fn reference_file_is_exactly_the_defaults() {
        let c = file(REFERENCE).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(format!("{c:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn reference_file_documents_every_key_and_env_var() {
        let keys = schema_entries(false);
        assert_eq!(keys.len(), 115, "{keys:?}");
        for key in &keys {
            let (section, name) = key.rsplit_once('.').unwrap();
            let var = env_var_name(key);
            assert!(REFERENCE.contains(&var), "auth.toml does not mention {var}");
            let set = format!("\n{name} = ");
            let commented = format!("\n# {name} = ");
            assert!(
                REFERENCE.contains(&set) || REFERENCE.contains(&commented),
                "auth.toml has no line for {key}"
            );
            assert!(REFERENCE.contains(&format!("[{section}]")));
        }
        // workers is computed, so it is shown commented out.
        assert!(REFERENCE.contains("\n# workers = "));
        // Every RESTAUTH_ variable the reference mentions is a real one.
        for word in REFERENCE.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if let Some(rest) = word.strip_prefix("RESTAUTH_") {
                if rest.is_empty() || rest == "SECTION" {
                    continue;
                }
                // A provider's variables: the template, or an example's.
                if let Some(example) = word.strip_prefix(OIDC_VAR.0) {
                    let oidc_keys = Table::try_from(OidcProviderConfig::default()).unwrap();
                    let names_a_key = oidc_keys
                        .keys()
                        .any(|k| example.ends_with(&format!("_{}", k.to_ascii_uppercase())));
                    assert!(
                        example.is_empty() || names_a_key,
                        "auth.toml mentions unknown variable {word}"
                    );
                    continue;
                }
                assert!(
                    keys.iter().any(|k| env_var_name(k) == word),
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
        let c = Config::load(None, &env).unwrap().0;
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
        let c = from_toml_str(
            "[mail.smtp]\npassword = \"from-file\"\nport = 25\n",
            &env_of(&[("RESTAUTH_MAIL_SMTP_PASSWORD", "from-env")]),
        )
        .unwrap()
        .0;
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
        assert!(msg.contains("`host`, `port`"), "{msg}");
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
                msg.starts_with(&format!(
                    "invalid value for \"{key}\" in auth.toml at line 2, column "
                )),
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
        let c = from_toml_str(text, &env).unwrap().0;
        assert_eq!(c.server.bind, "10.0.0.2:81");
        assert_eq!(c.server.workers, 2); // from the file, no env override
        assert_eq!(c.security.secret_key.expose(), "env");
    }

    #[test]
    fn env_reads_exactly_the_documented_names() {
        let mut documented: Vec<&str> = REFERENCE
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| {
                w.starts_with("RESTAUTH_") && !["RESTAUTH_", "RESTAUTH_SECTION"].contains(w)
            })
            // Providers' variables are per name: reference_file_documents_every_key_and_env_var.
            .filter(|w| !w.starts_with(OIDC_VAR.0))
            .collect();
        documented.sort_unstable();
        documented.dedup();
        let mut read: Vec<String> = schema_entries(false)
            .iter()
            .map(|k| env_var_name(k))
            .collect();
        read.sort_unstable();
        assert_eq!(read, documented);
        assert!(read.contains(&"RESTAUTH_SERVER_BIND".to_string()));
        assert!(read.contains(&"RESTAUTH_ACCOUNTS_LOGIN_METHODS".to_string()));
        assert!(read.contains(&"RESTAUTH_SECURITY_MAX_CONCURRENT_HASHES".to_string()));
        assert!(read.contains(&"RESTAUTH_SOCIAL_FACEBOOK_APP_SECRET".to_string()));
    }

    #[test]
    fn unknown_restauth_variables_are_warnings() {
        let env = env_of(&[
            ("RESTAUTH_SERVER_WORKRES", "4"),
            ("RESTAUTH_SERVER_WORKERS", "3"),
            ("RESTAUTH_MAIL_SMTP", "relay"),
            ("RESTAUTH_BIN", "target/release/restauth"),
            ("RESTAUTH_TEST_POSTGRES_URL", "postgres://localhost/x"),
            ("HOME", "/root"),
        ]);
        let (c, warnings) = Config::load(None, &env).unwrap();
        assert_eq!(c.server.workers, 3);
        assert_eq!(
            warnings,
            [
                "environment variable RESTAUTH_SERVER_WORKRES names no configuration key; it is ignored",
                "environment variable RESTAUTH_MAIL_SMTP names no configuration key; it is ignored",
            ]
        );
        // Documented variables alone: no warning.
        let env = env_of(&[
            ("RESTAUTH_MAIL_SMTP_PORT", "25"),
            ("RESTAUTH_THROTTLE_ENABLED", "false"),
        ]);
        let (c, warnings) = from_toml_str("[mail.smtp]\nport = 2525\n", &env).unwrap();
        assert_eq!((c.mail.smtp.port, c.throttle.enabled), (25, false));
        assert_eq!(warnings, Vec::<String>::new());
    }

    #[test]
    fn unknown_key_in_each_section_is_named() {
        let sections = schema_entries(true);
        assert_eq!(
            sections.join(", "),
            "server, database, security, accounts, mail, mail.smtp, social, social.facebook, social.twitter, social.google, social.github, social.apple, social.oidc, throttle, auth, jwt, mfa"
        );
        // [social.oidc] holds providers' sections only: see oidc_sections_are_checked.
        for section in sections.into_iter().filter(|s| s != "social.oidc") {
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
        let c = Config::load(Some(&path), NO_ENV).unwrap().0;
        assert_eq!(c.server.workers, 5);

        std::fs::write(&path, "[server]\nwokers = 5\n").unwrap();
        let msg = Config::load(Some(&path), NO_ENV).unwrap_err().to_string();
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
        let msg = Config::load(Some(path), NO_ENV).unwrap_err().to_string();
        assert!(
            msg.starts_with("cannot read /nonexistent/restauth/auth.toml: "),
            "{msg}"
        );
    }

    #[test]
    fn database_url_is_checked_without_echoing_it() {
        for msg in [
            file_err("[database]\nurl = \"mysql://u:hunter2@h/d\""),
            env_err(
                "RESTAUTH_DATABASE_URL",
                "postgres://u:hunter2@h/d?sslmode=verify-ca",
            ),
        ] {
            assert!(msg.contains("database.url"), "{msg}");
            assert!(!msg.contains("hunter2"), "password leaked: {msg}");
        }
        let c = from_toml_str(
            "",
            &env_of(&[("RESTAUTH_DATABASE_URL", "postgres://u:hunter2@h/d")]),
        )
        .unwrap()
        .0;
        assert_eq!(c.database.url.expose(), "postgres://u:hunter2@h/d");
        assert!(!format!("{c:?}").contains("hunter2"));
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
                msg.starts_with(&format!(
                    "invalid value for \"{key}\" in auth.toml at line 2, column "
                )),
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
        assert_eq!(d("5 minutes"), Duration::from_secs(300));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert!(parse_duration("5x")
            .unwrap_err()
            .ends_with("found \"5x\": unknown time unit \"x\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)"));
        assert!(parse_duration("1h 30")
            .unwrap_err()
            .ends_with(": time unit needed, for example 30sec or 30ms"));
        for bad in [
            "",
            "s",
            "5x",
            "-5s",
            "1h30",
            "99999999999999999999999d",
            "99999999999999999999999",
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
        // SQLite counts milliseconds: 500us would turn its busy handler off.
        let msg = file_err("[database]\nbusy_timeout = \"500us\"");
        assert!(msg.contains("expected whole milliseconds"), "{msg}");
        let msg = env_err("RESTAUTH_MAIL_POLL_INTERVAL", "1ns");
        assert!(msg.contains("expected whole milliseconds"), "{msg}");
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
        let c = from_toml_str("", &env_of(&[("RESTAUTH_SERVER_PREFIX", "")]))
            .unwrap()
            .0;
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
                msg.starts_with(&format!(
                    "invalid value for \"{key}\" in auth.toml at line 2, column "
                )),
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

    #[test]
    fn origins_are_kept_as_browsers_serialise_them() {
        for (given, kept) in [
            ("https://App.Example:443", Some("https://app.example")),
            ("http://localhost:80", Some("http://localhost")),
            ("http://localhost:5173", Some("http://localhost:5173")),
            ("https://app.example:80", Some("https://app.example:80")),
            ("capacitor://localhost", Some("capacitor://localhost")),
            ("tauri://localhost", Some("tauri://localhost")),
            ("http://[::1]:8000", Some("http://[::1]:8000")),
            ("null", None),
            ("*", None),
            ("https://app.example/", None),
            ("https://app.example/path", None),
            ("app.example", None),
            ("https://", None),
            ("1http://x", None),
        ] {
            assert_eq!(normal_origin(given).as_deref(), kept, "{given}");
        }
        let msg = file_err("[server]\ncors_allowed_origins = [\"*\"]");
        assert!(msg.contains("capacitor://localhost"), "{msg}");
    }

    #[test]
    fn jwt_csrf_in_token_mode_is_a_warning() {
        let env = env_of(&[("RESTAUTH_JWT_CSRF", "true")]);
        let (_, warnings) = Config::load(None, &env).unwrap();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("no effect in token mode")),
            "{warnings:?}"
        );
        let env = env_of(&[("RESTAUTH_JWT_CSRF", "true"), ("RESTAUTH_AUTH_MODE", "jwt")]);
        assert!(Config::load(None, &env).unwrap().1.is_empty());
    }

    #[test]
    fn mfa_durations_are_whole_seconds() {
        for bad in [
            "period = \"1500ms\"",
            "ephemeral_lifetime = \"500ms\"",
            "period = 0",
        ] {
            let msg = file_err(&format!("[mfa]\n{bad}"));
            assert!(msg.contains("expected"), "{bad}: {msg}");
        }
    }

    #[test]
    fn a_bad_apple_key_is_refused_without_being_shown() {
        let msg = file_err("[social.apple]\nprivate_key = \"not a key: s3cr3t\"");
        assert!(
            msg.contains("social.apple.private_key") && msg.contains(".p8"),
            "{msg}"
        );
        assert!(!msg.contains("s3cr3t"), "{msg}");
    }

    #[test]
    fn oidc_providers_come_from_named_sections_or_variables() {
        let text = "[social.oidc.keycloak]\nissuer = \"https://sso.example/realms/app\"\nclient_ids = [\"web\", \"web\", \"ios\"]\n";
        let env = env_of(&[
            ("RESTAUTH_SOCIAL_OIDC_KEYCLOAK_CLIENT_SECRET", "kc-secret"),
            (
                "RESTAUTH_SOCIAL_OIDC_MY_ENTRA_ISSUER",
                "https://login.example/tenant/v2.0/",
            ),
            ("RESTAUTH_SOCIAL_OIDC_MY_ENTRA_CLIENT_IDS", "a, b"),
            ("RESTAUTH_SOCIAL_OIDC_MY_ENTRA_SCOPES", "openid,email"),
            ("RESTAUTH_SOCIAL_OIDC_MY_ENTRA_TIMEOUT", "3s"),
        ]);
        let (c, warnings) = from_toml_str(text, &env).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let names: Vec<&str> = c.social.oidc.keys().map(String::as_str).collect();
        assert_eq!(names, ["keycloak", "my-entra"]);
        let kc = &c.social.oidc["keycloak"];
        assert_eq!(kc.issuer, "https://sso.example/realms/app");
        assert_eq!(kc.client_ids, ["web", "ios"]);
        assert_eq!(kc.client_secret.expose(), "kc-secret");
        assert_eq!(kc.scopes, ["openid", "email", "profile"]);
        assert_eq!(kc.timeout, Duration::from_secs(10));
        let entra = &c.social.oidc["my-entra"];
        // A trailing slash is part of an issuer (Auth0 writes one).
        assert_eq!(entra.issuer, "https://login.example/tenant/v2.0/");
        assert_eq!(entra.client_ids, ["a", "b"]);
        assert_eq!(entra.scopes, ["openid", "email"]);
        assert_eq!(entra.timeout, Duration::from_secs(3));
        assert!(entra.client_secret.is_empty());
        // A variable for a provider no section or issuer variable declares names nothing.
        let env = env_of(&[("RESTAUTH_SOCIAL_OIDC_GHOST_CLIENT_IDS", "x")]);
        let (c, warnings) = from_toml_str("", &env).unwrap();
        assert!(c.social.oidc.is_empty());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(Config::default().social.oidc.is_empty());
    }

    #[test]
    fn oidc_sections_are_checked() {
        let section = |name: &str, body: &str| file_err(&format!("[social.oidc.{name}]\n{body}"));
        for bad in ["Keycloak", "key_cloak", "9idp", "a.b", &"x".repeat(33)] {
            let msg = file(&format!(
                "[social.oidc.\"{bad}\"]\nissuer = \"https://x.example\""
            ))
            .unwrap_err()
            .to_string();
            assert!(
                msg.contains("at most 32 lower-case letters"),
                "{bad}: {msg}"
            );
        }
        for reserved in ["google", "login", "socialaccounts"] {
            let msg = section(reserved, "");
            assert!(msg.contains("is a path restauth serves itself"), "{msg}");
        }
        let msg = section("kc", "issuer = \"https://x.example/?realm=a\"");
        assert!(
            msg.contains("social.oidc.kc.issuer") && msg.contains("without query"),
            "{msg}"
        );
        let msg = section("kc", "scopes = [\"email\"]");
        assert!(
            msg.contains("social.oidc.kc.scopes") && msg.contains("\"openid\""),
            "{msg}"
        );
        let msg = section("kc", "scopes = [\"openid\", \"a\\\\b\"]");
        assert!(msg.contains("without spaces"), "{msg}");
        let msg = section("kc", "client_id = \"web\"");
        assert!(
            msg.contains("unknown key \"social.oidc.kc.client_id\"") && msg.contains("client_ids"),
            "{msg}"
        );
        // A key written straight under [social.oidc] is named, its value never shown.
        let msg = file_err("[social.oidc]\nclient_secret = \"s3cr3t\"");
        assert!(
            msg.contains("social.oidc.client_secret") && msg.contains("[social.oidc.<name>]"),
            "{msg}"
        );
        assert!(!msg.contains("s3cr3t"), "{msg}");
        let msg = env_err("RESTAUTH_SOCIAL_OIDC_KC_ISSUER", "ftp://x.example");
        assert!(msg.contains("RESTAUTH_SOCIAL_OIDC_KC_ISSUER"), "{msg}");
        // Plain http only to this machine: elsewhere the keys could be swapped in transit.
        for insecure in [
            "http://sso.example/realms/a",
            "http://10.0.0.1:8080",
            "http://127.0.0.1.example",
        ] {
            let msg = section("kc", &format!("issuer = \"{insecure}\""));
            assert!(
                msg.contains("http:// only for a loopback host"),
                "{insecure}: {msg}"
            );
        }
        for local in [
            "http://127.0.0.1:8080/realms/a",
            "http://localhost/x/",
            "http://[::1]:9",
        ] {
            let c = file(&format!("[social.oidc.kc]\nissuer = \"{local}\"")).unwrap();
            assert_eq!(c.social.oidc["kc"].issuer, local);
        }
    }
}

//! The `restauth` command line: `serve`, `user …`, `mail …`, `backup`, `check`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use restauth::accounts;
use restauth::accounts::mfa;
use restauth::accounts::users::{self, NewUser};
use restauth::mail::outbox;
use restauth::security::validators::{validate_password, UserAttributes};
use restauth::{App, Config};

/// A self-hosted REST authentication server speaking dj-rest-auth's API, on one SQLite file.
#[derive(Parser)]
#[command(name = "restauth", version, about)]
struct Cli {
    /// Configuration file (defaults apply without one; RESTAUTH_* variables override both).
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect and retry outgoing mail.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Check the configuration and the database, then exit.
    Check,
    /// Move data between backends.
    #[command(subcommand)]
    Db(DbCommand),
    /// Write a consistent copy of the database to PATH (a new file), even while the server runs.
    Backup {
        /// Where to write the copy; refused if it exists.
        path: PathBuf,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Copy this (SQLite) database into an empty PostgreSQL database: users, hashes,
    /// tokens, confirmation keys, social accounts, queued mail, settings.
    Copy {
        /// The target, postgres://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=…; better given
        /// as RESTAUTH_COPY_TO, which keeps the password out of the process list.
        #[arg(long, env = "RESTAUTH_COPY_TO", hide_env_values = true)]
        to: String,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// List outgoing mail: queued, sent and failed.
    List,
    /// Queue every failed message again (the running server delivers it).
    Retry,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (the password is read from a prompt, or from stdin with --password-stdin).
    Create(CreateArgs),
    /// Set a user's password and log them out everywhere.
    SetPassword {
        /// Username (or email address).
        user: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List users.
    List,
    /// Deactivate a user: they can no longer log in and their tokens stop working.
    Deactivate {
        /// Username (or email address).
        user: String,
    },
    /// Mark a user's email address verified by hand.
    VerifyEmail {
        /// Username (or email address).
        user: String,
    },
    /// Turn two-factor login off for a user who lost the device and the
    /// recovery codes: the password alone logs them in again.
    MfaReset {
        /// Username (or email address).
        user: String,
    },
}

#[derive(Args)]
struct CreateArgs {
    /// Username (letters, digits and @ . + - _; at most 150 characters).
    #[arg(long)]
    username: String,
    /// Email address.
    #[arg(long, default_value = "")]
    email: String,
    /// Given name.
    #[arg(long, default_value = "")]
    first_name: String,
    /// Family name.
    #[arg(long, default_value = "")]
    last_name: String,
    /// Leave the email address unverified (by default the administrator vouches for it).
    #[arg(long)]
    unverified: bool,
    #[command(flatten)]
    password: PasswordArgs,
}

#[derive(Args)]
struct PasswordArgs {
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
    /// Accept a password that Django's validators refuse.
    #[arg(long)]
    skip_validation: bool,
}

/// A command's failure: the message printed before exiting with status 1.
struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

fn main() -> ExitCode {
    // Before anything is created: the database, its WAL, backups, the secret
    // and spool files are for the server's user only, whatever the umask.
    restauth::private_fs::restrict_umask();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(message)) => {
            restauth::log!("restauth: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Fail> {
    let (config, warnings) = Config::load(cli.config.as_deref(), &restauth::config::environment())?;
    for warning in warnings {
        restauth::log!("restauth: warning: {warning}");
    }
    // Only the server (and creating users) may start a new database: a backup
    // or a check of a path that holds none is a wrong --config, not a fresh start.
    let on_postgres = !config.database.url.is_empty();
    if on_postgres && matches!(cli.command, Command::Backup { .. }) {
        return Err(Fail(
            "restauth backup copies the SQLite file; on PostgreSQL use pg_dump (for example pg_dump --format=custom DBNAME > restauth.dump)".into(),
        ));
    }
    if !on_postgres
        && matches!(cli.command, Command::Backup { .. } | Command::Check)
        && !config.database.path.exists()
    {
        return Err(Fail(format!(
            "there is no database at {} (check --config or RESTAUTH_DATABASE_PATH)",
            config.database.path.display()
        )));
    }
    let app = App::open(config)?;
    match cli.command {
        Command::Serve => Ok(restauth::serve(app)?),
        Command::Check => {
            println!(
                "configuration and database {} are fine",
                app.pool.describe()
            );
            Ok(())
        }
        Command::Backup { path } => {
            let Some(sqlite) = app.pool.as_sqlite() else {
                unreachable!("refused above on PostgreSQL");
            };
            let source = sqlite.path();
            println!("backing up {} to {} …", source.display(), path.display());
            let started = std::time::Instant::now();
            let report = sqlite.with(|c| restauth::db::backup(c, &path))??;
            println!(
                "backup written: {} ({} bytes, checked, {:.1} s)",
                report.path.display(),
                report.bytes,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::User(cmd) => user_command(&app, cmd),
        Command::Mail(cmd) => mail_command(&app, cmd),
        Command::Db(DbCommand::Copy { to }) => {
            let Some(sqlite) = app.pool.as_sqlite() else {
                return Err(Fail(
                    "restauth db copy reads a SQLite database; this configuration is on PostgreSQL already (use pg_dump to move it)".into(),
                ));
            };
            let started = std::time::Instant::now();
            let copied = restauth::db::copy::sqlite_to_postgres(
                sqlite.path(),
                app.config.database.busy_timeout,
                &to,
                |line| restauth::log!("restauth: {line}"),
            )?;
            let rows: i64 = copied.iter().map(|(_, n)| n).sum();
            println!(
                "copied {rows} rows ({}) in {:.1} s; start the nodes with this URL as database.url and the same server secret as {}",
                copied.iter().map(|(t, n)| format!("{t}: {n}")).collect::<Vec<_>>().join(", "),
                started.elapsed().as_secs_f64(),
                app.config.security.secret_key_path(sqlite.path()).display()
            );
            Ok(())
        }
    }
}

fn mail_command(app: &App, cmd: MailCommand) -> Result<(), Fail> {
    match cmd {
        MailCommand::List => {
            let entries = app.read(|c| -> Result<_, Fail> { Ok(outbox::list(c)?) })?;
            println!(
                "{:>6}  {:<8} {:>8}  {:<32} {:<40} last error",
                "id", "status", "attempts", "to", "subject"
            );
            for e in &entries {
                println!(
                    "{:>6}  {:<8} {:>8}  {:<32} {:<40} {}",
                    e.id,
                    e.status,
                    e.attempts,
                    e.to,
                    e.subject,
                    e.last_error.as_deref().unwrap_or("")
                );
            }
            println!("{} message(s)", entries.len());
            Ok(())
        }
        MailCommand::Retry => {
            let n = app.write(|tx| -> Result<_, Fail> {
                Ok(outbox::retry_failed(tx, app.clock.unix())?)
            })?;
            println!("{n} failed message(s) queued again");
            Ok(())
        }
    }
}

fn user_command(app: &App, cmd: UserCommand) -> Result<(), Fail> {
    match cmd {
        UserCommand::Create(mut args) => {
            // The same rules as registration: NFKC, Django's characters, and an
            // address as username only if it is the user's own.
            args.username = users::normalize_username(&args.username);
            if users::username_problem(&args.username).is_some() {
                return Err(Fail(users::INVALID_USERNAME.to_string()));
            }
            if !args.email.is_empty() && !restauth::accounts::email::is_valid_email(&args.email) {
                return Err(Fail("Enter a valid email address.".into()));
            }
            if !restauth::accounts::email::username_may_be(&args.username, &args.email) {
                return Err(Fail(users::NOT_YOUR_ADDRESS.to_string()));
            }
            let attributes = UserAttributes {
                username: &args.username,
                first_name: &args.first_name,
                last_name: &args.last_name,
                email: &args.email,
            };
            let password = read_password(&args.password, &attributes)?;
            let hash = app.hash_password(&password)?;
            let user = app.write(|tx| -> Result<_, Fail> {
                if !args.unverified
                    && !args.email.is_empty()
                    && users::verified_email_exists(tx, &args.email)?
                {
                    return Err(Fail(format!(
                        "{} is already verified for another account; use --unverified, or another address",
                        args.email
                    )));
                }
                Ok(users::create(
                    tx,
                    &NewUser {
                        username: &args.username,
                        email: &args.email,
                        // The administrator vouches for the address unless told otherwise.
                        email_verified: !args.unverified,
                        first_name: &args.first_name,
                        last_name: &args.last_name,
                        password_hash: &hash,
                    },
                    app.clock.unix(),
                )?)
            })?;
            println!("created user {} (pk {})", user.username, user.id);
            Ok(())
        }
        UserCommand::SetPassword { user, password } => {
            let found = find_user(app, &user)?;
            let attributes = UserAttributes {
                username: &found.username,
                first_name: &found.first_name,
                last_name: &found.last_name,
                email: &found.email,
            };
            let password = read_password(&password, &attributes)?;
            let hash = app.hash_password(&password)?;
            let revoked = app.write(|tx| -> Result<_, Fail> {
                users::set_password_hash(tx, found.id, &hash)?;
                Ok(accounts::revoke_logins(tx, found.id, None)?)
            })?;
            println!(
                "password of {} changed; {revoked} token(s) revoked",
                found.username
            );
            Ok(())
        }
        UserCommand::List => {
            let all = app.read(|c| -> Result<_, Fail> { Ok(users::list(c)?) })?;
            println!(
                "{:>6}  {:<24} {:<32} {:<8} verified",
                "pk", "username", "email", "active"
            );
            for u in &all {
                println!(
                    "{:>6}  {:<24} {:<32} {:<8} {}",
                    u.id,
                    u.username,
                    u.email,
                    if u.is_active { "yes" } else { "no" },
                    if u.email_verified { "yes" } else { "no" }
                );
            }
            println!("{} user(s)", all.len());
            Ok(())
        }
        UserCommand::VerifyEmail { user } => {
            let found = find_user(app, &user)?;
            if found.email.is_empty() {
                return Err(Fail(format!("{} has no email address", found.username)));
            }
            app.write(|tx| -> Result<_, Fail> {
                if users::verified_email_owner(tx, &found.email)?.is_some_and(|id| id != found.id) {
                    return Err(Fail(format!(
                        "{} is already verified for another account; an address is verified for one account only",
                        found.email
                    )));
                }
                Ok(users::set_email_verified(tx, found.id, true)?)
            })?;
            println!("{} <{}> marked verified", found.username, found.email);
            Ok(())
        }
        UserCommand::Deactivate { user } => {
            let found = find_user(app, &user)?;
            let revoked = app.write(|tx| -> Result<_, Fail> {
                users::set_active(tx, found.id, false)?;
                Ok(accounts::revoke_logins(tx, found.id, None)?)
            })?;
            println!("deactivated {}; {revoked} token(s) revoked", found.username);
            Ok(())
        }
        UserCommand::MfaReset { user } => {
            let found = find_user(app, &user)?;
            let was_on = app.write(|tx| -> Result<_, Fail> { Ok(mfa::disable(tx, found.id)?) })?;
            if was_on {
                println!("two-factor login turned off for {}", found.username);
            } else {
                println!(
                    "{} had no two-factor login; nothing changed",
                    found.username
                );
            }
            Ok(())
        }
    }
}

fn find_user(app: &App, name: &str) -> Result<users::User, Fail> {
    app.read(|c| -> Result<_, Fail> { Ok(users::by_username_or_email(c, name)?) })?
        .ok_or_else(|| Fail(format!("no user named {name:?}")))
}

/// The new password: from stdin, or prompted twice without echo; validated unless told not to.
fn read_password(args: &PasswordArgs, attributes: &UserAttributes<'_>) -> Result<String, Fail> {
    let password = if args.password_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Fail(format!("cannot read the password from stdin: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        if first != again {
            return Err(Fail("the two passwords differ".into()));
        }
        first
    };
    let password = password.trim().to_string();
    if password.is_empty() {
        return Err(Fail("the password may not be blank".into()));
    }
    if !args.skip_validation {
        let problems = validate_password(&password, Some(attributes));
        if !problems.is_empty() {
            let problems = problems.join(" ");
            return Err(Fail(format!(
                "{problems} (use --skip-validation to accept it anyway)"
            )));
        }
    }
    Ok(password)
}

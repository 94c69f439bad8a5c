//! The server secret: configured, or kept in a file of its own, never in the database.
//!
//! Everything a password-reset token is bound to is in `users`; with the key
//! in the same file, a copy of the database (a backup, a volume snapshot)
//! would forge a reset link for any account. So the generated key lives in
//! `security.secret_key_file` (mode 0600), and a key left in the `settings`
//! table by an older restauth is moved there on start and erased from the
//! database file (links already mailed keep working).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use crate::private_fs;

/// Where the key came from, for the start-up message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `security.secret_key` (or its variable).
    Configured,
    /// Read from the file.
    File(PathBuf),
    /// Generated now and written to the file.
    Generated(PathBuf),
    /// Moved from the database's `settings` table to the file.
    MovedFromDatabase(PathBuf),
}

/// The server secret, and where it came from.
pub struct Secret {
    /// The key.
    pub key: String,
    /// Its origin.
    pub source: SecretSource,
    /// True when a key stored in the database by an older version was erased from it.
    pub erased_from_database: bool,
}

/// Why the secret could not be set up; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(pub String);

/// The configured secret if any, else the one in `file`; a key stored in the
/// database is moved to `file` (if `file` has none yet) and erased from the
/// database either way; with neither, a new key is generated into `file`.
pub fn load_secret(
    conn: &Connection,
    configured: &str,
    file: &Path,
) -> Result<Secret, SecretError> {
    let db_err = |e: rusqlite::Error| SecretError(format!("cannot read the settings table: {e}"));
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE name = 'secret_key'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;

    let (key, source) = if !configured.is_empty() {
        (configured.to_string(), SecretSource::Configured)
    } else if let Some(key) = read_file(file)? {
        (key, SecretSource::File(file.to_path_buf()))
    } else {
        let (fresh, source) = match &stored {
            Some(s) => (
                s.clone(),
                SecretSource::MovedFromDatabase(file.to_path_buf()),
            ),
            None => (
                crate::security::random::alphanumeric(50)
                    .map_err(|e| SecretError(format!("the random source failed: {e}")))?,
                SecretSource::Generated(file.to_path_buf()),
            ),
        };
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_fs::create_dir_all(dir).map_err(|e| {
                SecretError(format!(
                    "cannot create the directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let written = private_fs::write_new_atomically(file, format!("{fresh}\n").as_bytes())
            .map_err(|e| SecretError(format!("cannot write {}: {e}", file.display())))?;
        if written {
            give_to_database_owner(file, conn);
            (fresh, source)
        } else {
            // Another process (a CLI command started at the same time) won.
            let key = read_file(file)?.ok_or_else(|| {
                SecretError(format!(
                    "{} appeared empty; remove it and restart",
                    file.display()
                ))
            })?;
            (key, SecretSource::File(file.to_path_buf()))
        }
    };

    let erased = stored.is_some();
    if erased && !erase_stored(conn).map_err(db_err)? {
        crate::log!(
            "restauth: another process holds the database open; the erased key's page leaves the file at the next checkpoint (restart once more when it is alone to be sure)"
        );
    }
    Ok(Secret {
        key,
        source,
        erased_from_database: erased,
    })
}

/// The secret on a database several nodes share (PostgreSQL): configured
/// (`security.secret_key`) or read from an explicitly configured file, never
/// generated, because every node must sign and check reset links with the
/// same key.
pub fn load_shared_secret(configured: &str, file: Option<&Path>) -> Result<Secret, SecretError> {
    if !configured.is_empty() {
        return Ok(Secret {
            key: configured.to_string(),
            source: SecretSource::Configured,
            erased_from_database: false,
        });
    }
    let missing = || {
        SecretError(
            "on PostgreSQL every node must use the same server secret: set security.secret_key (RESTAUTH_SECURITY_SECRET_KEY) or security.secret_key_file to the same key on every node".into(),
        )
    };
    let file = file.ok_or_else(missing)?;
    let key = read_file(file)?.ok_or_else(|| {
        SecretError(format!(
            "{} does not exist; on PostgreSQL the secret file is not generated (every node needs the same key): create it, for example with `head -c 48 /dev/urandom | base64`",
            file.display()
        ))
    })?;
    Ok(Secret {
        key,
        source: SecretSource::File(file.to_path_buf()),
        erased_from_database: false,
    })
}

/// When root (an administrator's `sudo restauth user …`) creates the secret
/// file, it goes to the owner of the database, so that the server's own user
/// can still read it (SQLite does the same for its journal files).
fn give_to_database_owner(file: &Path, conn: &Connection) {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid only reads the process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let Some(db) = conn.path().filter(|p| !p.is_empty()) else {
        return;
    };
    if let Ok(meta) = std::fs::metadata(db) {
        if meta.uid() != 0 {
            let _ = std::os::unix::fs::chown(file, Some(meta.uid()), Some(meta.gid()));
        }
    }
}

/// Deletes the stored key so that no page of the file keeps it: secure_delete
/// zeroes the freed bytes, and the checkpoint moves the zeroed page from the
/// WAL into the main file.
fn erase_stored(conn: &Connection) -> rusqlite::Result<bool> {
    let before: i64 = conn.query_row("PRAGMA secure_delete", [], |r| r.get(0))?;
    conn.pragma_update(None, "secure_delete", 1)?;
    let deleted = conn.execute("DELETE FROM settings WHERE name = 'secret_key'", []);
    conn.pragma_update(None, "secure_delete", before)?;
    deleted?;
    // (busy, WAL frames, frames checkpointed): busy means another process is
    // reading an older snapshot, so the old page may stay until a later checkpoint.
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

/// The key in `file` (surrounding whitespace removed), `None` if there is no file.
fn read_file(file: &Path) -> Result<Option<String>, SecretError> {
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let key = text.trim();
            if key.is_empty() {
                return Err(SecretError(format!(
                    "{} is empty; put a key in it or remove it to have one generated",
                    file.display()
                )));
            }
            if private_fs::tighten(file).unwrap_or(false) {
                crate::log!(
                    "restauth: {} was readable by other users; its mode is now 0600",
                    file.display()
                );
            }
            Ok(Some(key.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SecretError(format!("cannot read {}: {e}", file.display()))),
    }
}

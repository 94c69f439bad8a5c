//! Values the server keeps for itself in the `settings` table.

use rusqlite::{params, Connection, OptionalExtension};

use super::AccountError;

/// The server secret: the configured one, else the stored one, else a new one (stored).
pub fn secret_key(conn: &Connection, configured: &str) -> Result<String, AccountError> {
    if !configured.is_empty() {
        return Ok(configured.to_string());
    }
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE name = 'secret_key'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(s) = stored {
        return Ok(s);
    }
    let fresh = crate::security::random::alphanumeric(50)?;
    conn.execute(
        "INSERT OR IGNORE INTO settings (name, value) VALUES ('secret_key', ?1)",
        params![fresh],
    )?;
    // Another process may have won the race: read back what is stored.
    Ok(conn.query_row(
        "SELECT value FROM settings WHERE name = 'secret_key'",
        [],
        |r| r.get(0),
    )?)
}

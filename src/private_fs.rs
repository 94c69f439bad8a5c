//! Files only the server's own user may read: the database and its WAL/SHM,
//! backups, the secret file and spool files are created 0600, directories 0700,
//! whatever the umask of whoever started the process.
//!
//! [`restrict_umask`] covers every file a library creates for us (SQLite's
//! `-wal` and `-shm`, `VACUUM INTO` targets); the helpers here also set the
//! mode explicitly, so a file is private even where the umask was not set.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every file restauth creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory restauth creates.
pub const DIR_MODE: u32 = 0o700;

/// Sets the process umask to `077`, so that anything created from now on is
/// private to the server's user. Call it first thing in `main`.
pub fn restrict_umask() {
    // SAFETY: umask(2) only swaps an integer in the process; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// `create_dir_all` with mode 0700 for every directory it creates.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// Opens `path` for writing, created 0600 (truncated if it exists).
pub fn create_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates `path`, which must not exist, 0600 and empty.
pub fn create_new_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Removes group and other permissions from an existing file; `Ok(true)` when
/// it had any. A missing file is `Ok(false)`.
pub fn tighten(path: &Path) -> io::Result<bool> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mode = meta.permissions().mode();
    if mode & 0o077 == 0 {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o700))?;
    Ok(true)
}

/// Writes `bytes` to `path` only if `path` does not exist yet, atomically: a
/// reader sees no file or the whole file, never a partial one. `Ok(false)`
/// when another process created `path` first (its content is left alone).
pub fn write_new_atomically(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("restauth");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut f = create_new_file(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        // link(2) fails if the name exists: creation and content in one step.
        match fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e),
        }
        File::open(dir)?.sync_all()?;
        Ok(true)
    })();
    let _ = fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "restauth-private-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn modes_whatever_the_umask() {
        let dir = temp_dir("modes");
        let nested = dir.join("a/b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode(&nested), DIR_MODE);
        let f = nested.join("f");
        create_file(&f).unwrap();
        assert_eq!(mode(&f), FILE_MODE);
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(tighten(&f).unwrap());
        assert_eq!(mode(&f), 0o600);
        assert!(!tighten(&f).unwrap());
        assert!(!tighten(&dir.join("missing")).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn write_new_never_replaces() {
        let dir = temp_dir("new");
        create_dir_all(&dir).unwrap();
        let p = dir.join("secret");
        assert!(write_new_atomically(&p, b"first").unwrap());
        assert!(!write_new_atomically(&p, b"second").unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"first");
        assert_eq!(mode(&p), FILE_MODE);
        let leftovers = fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
        fs::remove_dir_all(&dir).unwrap();
    }
}

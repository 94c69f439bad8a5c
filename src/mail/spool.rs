//! The spool backend: one RFC 5322 `.eml` file per message in `spool_dir`.
//!
//! Names sort by time: `<created_at as 20261128T171500Z>-<outbox id, 10 digits>.eml`.
//! A file appears whole or not at all: the bytes go to `.tmp-<id>` in the same
//! directory, are fsynced, renamed to the final name, and the directory is
//! fsynced so that the rename survives a power loss before the outbox row is
//! marked sent. Readers should skip names starting with `.`.
//!
//! Delivering the same outbox row again (after a crash between writing and
//! marking it sent) writes the same bytes under the same name, so the spool
//! ends up with exactly one file per message.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The final file name for outbox row `id` created at `created_at` (Unix seconds).
pub fn file_name(created_at: i64, id: i64) -> String {
    format!("{}-{:010}.eml", crate::timefmt::compact(created_at), id)
}

/// Writes `bytes` atomically as the spool file of row `id`; returns its path.
pub fn write(dir: &Path, created_at: i64, id: i64, bytes: &[u8]) -> std::io::Result<PathBuf> {
    crate::private_fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{id}"));
    let path = dir.join(file_name(created_at, id));
    let result = (|| {
        let mut f = crate::private_fs::create_file(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &path)?;
        // Make the rename itself durable.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "restauth-spool-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn names_sort_by_time_then_id() {
        assert_eq!(crate::timefmt::compact(0), "19700101T000000Z");
        assert_eq!(crate::timefmt::compact(1_795_886_100), "20261128T171500Z");
        assert_eq!(crate::timefmt::compact(951_782_400), "20000229T000000Z");
        assert_eq!(
            file_name(1_795_886_100, 7),
            "20261128T171500Z-0000000007.eml"
        );
        let mut names = vec![
            file_name(1_795_886_101, 2),
            file_name(1_795_886_100, 11),
            file_name(1_795_886_100, 9),
            file_name(1_700_000_000, 1000),
        ];
        names.sort();
        assert_eq!(
            names,
            vec![
                file_name(1_700_000_000, 1000),
                file_name(1_795_886_100, 9),
                file_name(1_795_886_100, 11),
                file_name(1_795_886_101, 2),
            ]
        );
    }

    #[test]
    fn writes_one_file_and_no_temporary() {
        let dir = temp_dir("write").join("nested");
        let path = write(&dir, 1_795_886_100, 3, b"Subject: x\r\n\r\nbody\r\n").unwrap();
        assert_eq!(path, dir.join("20261128T171500Z-0000000003.eml"));
        assert_eq!(fs::read(&path).unwrap(), b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(names(&dir), vec!["20261128T171500Z-0000000003.eml"]);
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn second_delivery_overwrites_the_same_file() {
        let dir = temp_dir("idempotent");
        // A crash left a half-written temporary behind.
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(".tmp-5"), b"half").unwrap();
        write(&dir, 1_795_886_100, 5, b"the message").unwrap();
        write(&dir, 1_795_886_100, 5, b"the message").unwrap();
        assert_eq!(names(&dir), vec!["20261128T171500Z-0000000005.eml"]);
        assert_eq!(
            fs::read(dir.join("20261128T171500Z-0000000005.eml")).unwrap(),
            b"the message"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_leaves_nothing() {
        let dir = temp_dir("fail");
        fs::create_dir_all(&dir).unwrap();
        // The final name is taken by a non-empty directory: rename fails.
        let blocker = dir.join(file_name(100, 1));
        fs::create_dir_all(blocker.join("x")).unwrap();
        assert!(write(&dir, 100, 1, b"m").is_err());
        assert!(!dir.join(".tmp-1").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}

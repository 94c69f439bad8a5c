//! Start-up checks: a database that fails its check stops the server with a clear message.

mod common;
use common::*;

#[test]
fn a_corrupt_database_stops_the_server() {
    let dir = TempDir::new();
    let config = dir.0.join("auth.toml");
    let db = dir.0.join("restauth.sqlite3");
    std::fs::write(
        &config,
        format!(
            "[database]\npath = \"{}\"\n[mail]\nspool_dir = \"{}\"\n",
            db.display(),
            dir.0.join("mail").display()
        ),
    )
    .unwrap();
    // A valid database first, then its pages overwritten with garbage.
    let out = run_cli(&config, &[], &["check"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bytes = std::fs::read(&db).unwrap();
    for b in bytes.iter_mut().skip(100) {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let _ = std::fs::remove_file(dir.0.join("restauth.sqlite3-wal"));
    let _ = std::fs::remove_file(dir.0.join("restauth.sqlite3-shm"));

    for args in [&["check"][..], &["serve"][..]] {
        let out = run_cli(&config, &[], args, "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            stderr.contains("database") && stderr.starts_with("restauth: "),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
}

//! `dantoc backup` and `dantoc restore` as a user runs them, on SQLite and on PostgreSQL.

#[macro_use]
mod common;
use common::text;

use dantoc_store::testing::TestDb;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A database for the binary to use. SQLite: a copy of a fresh test database that no
/// connection of this process holds open (a restore refuses while the file is in use).
struct Target {
    url: String,
    _pg: Option<TestDb>,
    dir: PathBuf,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn target(fresh: fn() -> TestDb, name: &str) -> Target {
    let dir = std::env::temp_dir().join(format!("dantoc-cli-backup-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let t = fresh();
    match t.sqlite_path() {
        Some(p) => {
            let file = dir.join("dantoc.db");
            t.read(|c| c.batch("PRAGMA wal_checkpoint(TRUNCATE)"))
                .unwrap();
            std::fs::copy(p, &file).unwrap();
            Target {
                url: file.display().to_string(),
                _pg: None,
                dir,
            }
        }
        None => {
            t.close_idle();
            Target {
                url: t.url.clone(),
                _pg: Some(t),
                dir,
            }
        }
    }
}

fn dantoc(t: &Target, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dantoc"))
        .arg("--database")
        .arg(&t.url)
        .args(args)
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("dantoc runs")
}

fn ok(t: &Target, args: &[&str]) -> String {
    let o = dantoc(t, args);
    assert!(o.status.success(), "dantoc {args:?}: {}", text(&o));
    text(&o)
}

fn export(t: &Target, file: &Path) -> String {
    ok(t, &["export", "values", "-o", file.to_str().unwrap()]);
    std::fs::read_to_string(file).unwrap()
}

fn audit_entries(t: &Target) -> String {
    ok(t, &["audit", "verify"])
}

on_both_backends!(backup_and_restore_round_trip);

fn backup_and_restore_round_trip(fresh: fn() -> TestDb, name: &str) {
    let t = target(fresh, name);
    let dir = t.dir.clone();
    let first = dir.join("first.csv");
    std::fs::write(
        &first,
        "indicator,unit,period,disaggregation,value,comment\n\
         0101,06877,2025,E09.F,1234,Bản Khe Lạc\n\
         0101,06877@2024,2024,E02.M,310,\n\
         x-tt-yte,22,2025,,97.5,\"kế hoạch, ước\"\n",
    )
    .unwrap();
    ok(&t, &["import", "values", first.to_str().unwrap()]);
    let at_backup = export(&t, &dir.join("at-backup.csv"));
    assert_eq!(at_backup.lines().count(), 4);

    let file = dir.join("dantoc.backup");
    let out = ok(&t, &["backup", file.to_str().unwrap()]);
    assert!(out.starts_with("backup of the "), "{out}");
    assert!(out.contains(file.to_str().unwrap()), "{out}");
    assert!(file.metadata().unwrap().len() > 0);
    assert!(
        std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("partial")),
        "a partial file was left behind"
    );

    // later changes, which the restore takes back
    let later = dir.join("later.csv");
    std::fs::write(
        &later,
        "indicator,unit,period,disaggregation,value\n\
         0101,06877,2025,E09.F,999\n\
         0101,06877,2025,E09.M,1000\n",
    )
    .unwrap();
    ok(&t, &["import", "values", later.to_str().unwrap()]);
    let changed = export(&t, &dir.join("changed.csv"));
    assert_ne!(changed, at_backup);
    let audit_changed = audit_entries(&t);

    // without --yes nothing happens
    let o = dantoc(&t, &["restore", file.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--yes"), "{}", text(&o));
    assert_eq!(export(&t, &dir.join("after-refusal.csv")), changed);
    assert_eq!(audit_entries(&t), audit_changed);

    if t._pg.is_none() {
        // SQLite: refused while something has the database open
        let held = dantoc_store::open(&t.url).unwrap();
        let o = dantoc(&t, &["restore", file.to_str().unwrap(), "--yes"]);
        assert!(!o.status.success());
        assert!(text(&o).contains("in use"), "{}", text(&o));
        drop(held);
        assert_eq!(export(&t, &dir.join("after-in-use.csv")), changed);
    }

    let out = ok(&t, &["restore", file.to_str().unwrap(), "--yes"]);
    assert!(out.starts_with("restored the "), "{out}");
    assert!(out.contains("(3 values,"), "{out}");
    assert_eq!(export(&t, &dir.join("restored.csv")), at_backup);
    let v = audit_entries(&t);
    assert!(v.starts_with("audit log intact"), "{v}");

    // a backup of one engine is not restored into the other
    let other = if t._pg.is_none() {
        "postgres://nobody@127.0.0.1:1/none".to_string()
    } else {
        dir.join("other.db").display().to_string()
    };
    let o = Command::new(env!("CARGO_BIN_EXE_dantoc"))
        .args([
            "--database",
            &other,
            "restore",
            file.to_str().unwrap(),
            "--yes",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("cannot be restored into"), "{}", text(&o));
}

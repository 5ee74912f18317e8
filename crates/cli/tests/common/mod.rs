//! What the command-line tests share: running `dantoc` on a test database, its output, a
//! scratch directory, and one test per engine.
// each test binary uses its own part of this
#![allow(dead_code)]

use dantoc_store::testing::TestDb;
use std::path::PathBuf;
use std::process::{Command, Output};

/// `dantoc --database URL ARGS…`, quiet logs.
pub fn dantoc(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dantoc"))
        .arg("--database")
        .arg(&db.url)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("dantoc runs")
}

/// Standard output, then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A scratch directory for one test.
pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dantoc-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Each test `fn name(fresh: fn() -> TestDb, name: &str)` once on SQLite (`sqlite::name`)
/// and once on PostgreSQL (`postgres::name`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $name() { super::$name(dantoc_store::testing::TestDb::sqlite, stringify!($name)); } )* }
        mod postgres { $( #[test] fn $name() { super::$name(dantoc_store::testing::TestDb::postgres, stringify!($name)); } )* }
    };
}

//! The pages in a real browser (Debian's chromium driven by playwright-core, installed by
//! `scripts/test.sh`), on a 360 px phone viewport, over the demo provinces.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_script(s: &common::Server, script: &str) {
    dantoc_store::demo::load(&s.db).expect("demo data");
    let dir = repo().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `bash scripts/test.sh` (it runs npm ci in tests/browser)"
    );
    let shots = repo().join("target/screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let out = Command::new("node")
        .arg(dir.join(script))
        .arg(&s.base)
        .arg(&shots)
        .current_dir(&dir)
        .output()
        .expect("node runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{log}");
    assert!(log.contains("ok:"), "{log}");
}

#[test]
fn unit_page_on_a_phone_sqlite() {
    run_script(
        &common::start(dantoc_store::testing::TestDb::sqlite()),
        "unit_page.mjs",
    );
}

#[test]
fn unit_page_on_a_phone_postgres() {
    run_script(
        &common::start(dantoc_store::testing::TestDb::postgres()),
        "unit_page.mjs",
    );
}

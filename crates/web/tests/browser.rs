//! The pages in a real browser (Debian's chromium driven by playwright-core, installed by
//! `scripts/test.sh`), on a 360 px phone viewport, over the demo provinces.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_script(s: &common::Server, script: &str) {
    run_script_with(s, script, &[]);
}

fn run_script_with(s: &common::Server, script: &str, extra: &[&str]) {
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
        .args(extra)
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

fn accounts(s: common::Server) {
    s.user("quan-tri", dantoc_domain::access::Role::Admin, &[]);
    run_script_with(&s, "accounts.mjs", &["quan-tri", common::PASSWORD]);
    let u =
        s.db.read(|c| dantoc_store::accounts::get(c, "can-bo-dong-ngu"))
            .unwrap()
            .expect("created");
    assert_eq!(u.role, dantoc_domain::access::Role::Viewer);
    let actions: Vec<String> =
        s.db.read(|c| dantoc_store::audit::recent(c, 50))
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
    for a in ["login", "create", "update", "logout"] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} not audited: {actions:?}"
        );
    }
}

#[test]
fn accounts_on_a_phone_sqlite() {
    accounts(common::start(dantoc_store::testing::TestDb::sqlite()));
}

#[test]
fn accounts_on_a_phone_postgres() {
    accounts(common::start(dantoc_store::testing::TestDb::postgres()));
}

fn analytics(s: common::Server) {
    s.user("lanh-dao", dantoc_domain::access::Role::Viewer, &["22"]);
    run_script_with(&s, "analytics.mjs", &["lanh-dao", common::PASSWORD]);
    let saved =
        s.db.read(|c| dantoc_store::report_tables::list(c, Some("lanh-dao"), "quang ninh"))
            .unwrap();
    assert_eq!(saved.len(), 1, "the table saved in the browser is stored");
}

#[test]
fn analytics_pages_on_a_phone_sqlite() {
    analytics(common::start(dantoc_store::testing::TestDb::sqlite()));
}

#[test]
fn analytics_pages_on_a_phone_postgres() {
    analytics(common::start(dantoc_store::testing::TestDb::postgres()));
}

#[test]
fn map_page_on_a_phone_sqlite() {
    run_script(
        &common::start(dantoc_store::testing::TestDb::sqlite()),
        "map.mjs",
    );
}

#[test]
fn map_page_on_a_phone_postgres() {
    run_script(
        &common::start(dantoc_store::testing::TestDb::postgres()),
        "map.mjs",
    );
}

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

fn form_files(s: common::Server) {
    s.user(
        "can-bo-xa",
        dantoc_domain::access::Role::CommuneOfficer,
        &["06877"],
    );
    run_script_with(&s, "form_files.mjs", &["can-bo-xa", common::PASSWORD]);
    let log = s.db.read(|c| dantoc_store::audit::recent(c, 50)).unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "login" && e.actor.starts_with("can-bo-xa")),
        "the officer logged in"
    );
}

#[test]
fn form_files_on_a_phone_sqlite() {
    form_files(common::start(dantoc_store::testing::TestDb::sqlite()));
}

#[test]
fn form_files_on_a_phone_postgres() {
    form_files(common::start(dantoc_store::testing::TestDb::postgres()));
}

/// A commune's form submitted through the API; a provincial officer returns it, approves and
/// locks it on the phone, and reads the reporting progress.
fn approvals(s: common::Server) {
    use dantoc_domain::access::Role;
    dantoc_store::demo::load(&s.db).expect("demo data");
    s.user("tinh-duyet", Role::ProvinceOfficer, &["22"]);
    s.user("xa-nop", Role::CommuneOfficer, &["06877"]);
    let token =
        s.db.write(|c| {
            let u = dantoc_store::accounts::get(c, "xa-nop")?.expect("user");
            Ok(dantoc_store::accounts::create_token(c, &u, "tests", true, None, &[])?.0)
        })
        .unwrap();
    let xa = s
        .anon
        .with_header("Authorization", &format!("Bearer {token}"));
    let v = |i: &str, d: &str, x: &str| serde_json::json!({"indicator": i, "unit": "06877", "period": "2025", "disaggregation": d, "value": x});
    let r = xa.post_json(
        "/api/dataValues",
        &serde_json::json!({"dataValues": [v("x-cnscd-to", "default", "2"), v("x-cnscd-tv", "M", "5"),
            v("x-cnscd-tv", "F", "4"), v("x-thon-noms", "default", "1")]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let submit = serde_json::json!({"form": "BM-DTTS-02", "orgUnit": "06877", "period": "2025", "action": "submit"});
    assert_eq!(xa.post_json("/api/approvals", &submit).status, 200);
    run_script_with(
        &s,
        "approvals.mjs",
        &["tinh-duyet", common::PASSWORD, &token],
    );
    let a =
        s.db.read(|c| dantoc_store::approvals::get(c, "BM-DTTS-02", "06877", "2025"))
            .unwrap();
    assert_eq!(a.state, dantoc_domain::approval::State::Locked);
    assert_eq!(a.decided_by.as_deref(), Some("tinh-duyet"));
}

#[test]
fn approvals_on_a_phone_sqlite() {
    approvals(common::start(dantoc_store::testing::TestDb::sqlite()));
}

#[test]
fn approvals_on_a_phone_postgres() {
    approvals(common::start(dantoc_store::testing::TestDb::postgres()));
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

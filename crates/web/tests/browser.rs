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
    eprintln!("{script}:\n{log}");
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

/// A commune's form submitted through the API; a provincial officer returns it on the phone,
/// the commune submits it again from its entry page with script turned off, and the provincial
/// officer approves and locks it and reads the reporting progress.
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
        &["tinh-duyet", common::PASSWORD, "xa-nop"],
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

/// Issue #4's story on phones (tests/browser/entry.mjs): a commune officer enters a form
/// online, offline and back, resolves a provincial officer's conflicting edit and submits; the
/// provincial officer approves. Then, in the database, every value reached the server exactly
/// once and the approval went draft → submitted → approved, by whom it should.
fn entry(s: common::Server) {
    use dantoc_domain::access::Role;
    s.user("can-bo-dong-ngu", Role::CommuneOfficer, &["06877"]);
    s.user("can-bo-tinh-qn", Role::ProvinceOfficer, &["22"]);
    run_script_with(
        &s,
        "entry.mjs",
        &["can-bo-dong-ngu", common::PASSWORD, "can-bo-tinh-qn"],
    );
    let cell = |ind: &str, dis: &str| -> (String, i64) {
        s.db.read(|c| {
            c.query_one(
                "SELECT d.value_text, d.version FROM data_value d
                 JOIN indicator i ON i.id = d.indicator_id JOIN disaggregation g ON g.id = d.disagg_id
                 JOIN admin_unit u ON u.id = d.unit_id
                 WHERE i.code = $1 AND g.code = $2 AND u.code = '06877' AND u.version = '2025'
                   AND d.period = '2025'",
                &[ind.into(), dis.into()],
            )
        })
        .unwrap()
        .map(|r| (r.str(0), r.i64(1)))
        .unwrap_or_else(|| panic!("{ind} {dis} did not reach the server"))
    };
    // new cells: written once; demo cells: one version more; the conflict: the officer's
    // value over the province's
    assert_eq!(cell("0101", "E08.F"), ("19".into(), 1));
    assert_eq!(
        cell("x-ho-dtts", "E08"),
        ("9".into(), 1),
        "the batch sent twice"
    );
    assert_eq!(cell("x-ho-ngheo-dtts", "E08"), ("3".into(), 1));
    assert_eq!(cell("x-pop-total", "M"), ("4321".into(), 2));
    assert_eq!(cell("x-pop-total", "F"), ("4567".into(), 2));
    assert_eq!(cell("0101", "E08.M"), ("22".into(), 3));
    let count = |sql: &str| s.db.read(|c| c.scalar_i64(sql, &[])).unwrap();
    assert_eq!(
        count(
            "SELECT count(*) FROM audit_log WHERE entity = 'data_value' AND actor = 'can-bo-dong-ngu'"
        ),
        7,
        "one audit entry per write: six cells, and the one kept after the conflict"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM audit_log WHERE entity = 'data_value' AND actor = 'can-bo-tinh-qn'"
        ),
        1
    );
    assert_eq!(
        count("SELECT coalesce(sum(saved), 0) FROM entry_batch WHERE account = 'can-bo-dong-ngu'"),
        7,
        "every batch recorded once, each cell saved once"
    );
    assert_eq!(
        count(
            "SELECT coalesce(sum(conflicts), 0) FROM entry_batch WHERE account = 'can-bo-dong-ngu'"
        ),
        1
    );
    assert_eq!(count("SELECT coalesce(sum(errors), 0) FROM entry_batch"), 0);
    assert_eq!(
        count(
            "SELECT count(*) FROM data_value_history h JOIN indicator i ON i.id = h.indicator_id
             JOIN disaggregation g ON g.id = h.disagg_id WHERE i.code = '0101' AND g.code = 'E08.M'"
        ),
        2,
        "the two earlier states of the cell in conflict"
    );
    let a =
        s.db.read(|c| dantoc_store::approvals::get(c, "BM-DTTS-01", "06877", "2025"))
            .unwrap();
    assert_eq!(a.state, dantoc_domain::approval::State::Approved);
    assert_eq!(a.submitted_by.as_deref(), Some("can-bo-dong-ngu"));
    assert_eq!(a.decided_by.as_deref(), Some("can-bo-tinh-qn"));
    assert_eq!(
        count(
            "SELECT count(*) FROM form_approval_step s
             JOIN form_approval a ON a.id = s.approval_id JOIN form f ON f.id = a.form_id
             WHERE f.code = 'BM-DTTS-01'"
        ),
        2,
        "submitted once, approved once"
    );
}

#[test]
fn entry_on_a_phone_online_and_offline_sqlite() {
    entry(common::start(dantoc_store::testing::TestDb::sqlite()));
}

#[test]
fn entry_on_a_phone_online_and_offline_postgres() {
    entry(common::start(dantoc_store::testing::TestDb::postgres()));
}

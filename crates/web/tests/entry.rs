//! Data entry over real HTTP, on SQLite and on PostgreSQL: the entry grid of a form, batches
//! of cell saves applied once however often they are sent, hashes that must match, versions
//! that turn a concurrent change into a conflict, and unit scopes.

mod common;

use common::{PASSWORD, Server, start};
use dantoc_domain::access::Role;
use serde_json::{Value, json};

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::start(dantoc_store::testing::TestDb::sqlite())); } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::start(dantoc_store::testing::TestDb::postgres())); } )*
        }
    };
}

on_both_backends!(
    the_grid_of_a_form_for_a_commune,
    a_batch_sent_twice_is_applied_once,
    a_hash_that_does_not_match_is_refused,
    a_stale_base_version_is_a_conflict,
    another_commune_is_refused,
    the_page_saves_without_script,
    an_indicator_added_to_the_form_is_saved_at_once
);

/// A batch with its hash, computed here from the documented canonical form (not with the
/// server's own function).
fn batch(id: &str, ou: &str, values: &[(&str, &str, &str, i64)]) -> Value {
    let vals: Vec<Value> = values
        .iter()
        .map(|(i, d, v, b)| {
            let v = if v.is_empty() { Value::Null } else { json!(v) };
            json!([i, d, v, null, b])
        })
        .collect();
    let canonical = json!(["BM-DTTS-01", ou, "2025", vals]).to_string();
    json!({
        "batchId": id,
        "hash": dantoc_store::secret::sha256_hex(canonical.as_bytes()),
        "form": "BM-DTTS-01",
        "orgUnit": ou,
        "period": "2025",
        "values": values.iter().map(|(i, d, v, b)| json!({
            "indicator": i, "disagg": d,
            "value": if v.is_empty() { Value::Null } else { json!(v) },
            "baseVersion": b
        })).collect::<Vec<_>>(),
    })
}

fn count(s: &Server, sql: &str) -> i64 {
    s.db.read(|c| c.scalar_i64(sql, &[])).unwrap()
}

fn cell<'a>(grid: &'a Value, ind: &str, disagg: &str) -> &'a Value {
    grid["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["items"].as_array().unwrap())
        .filter(|it| it["indicator"] == ind)
        .flat_map(|it| it["rows"].as_array().unwrap())
        .flat_map(|r| r["cells"].as_array().unwrap())
        .find(|c| c["disagg"] == disagg)
        .unwrap_or_else(|| panic!("no cell {ind} {disagg} in {grid}"))
}

fn the_grid_of_a_form_for_a_commune(s: Server) {
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    let r = s.anon.get("/api/forms/BM-DTTS-01/entry?ou=06877&pe=2025");
    assert_eq!(r.status, 401, "{}", r.body);
    let r = xa.get("/api/forms/BM-DTTS-01/entry?ou=06877&pe=2025&eth=08");
    assert_eq!(r.status, 200, "{}", r.body);
    let g = r.json();
    assert_eq!(g["orgUnit"]["name"], "Đông Ngũ");
    assert_eq!(g["form"]["deadline"], "2026-01-15");
    assert_eq!(
        g["ethnicRows"],
        json!(["08"]),
        "no value yet: only the row added"
    );
    let it = &g["sections"][0]["items"][1];
    assert_eq!(it["indicator"], "0101");
    assert_eq!(it["columns"][1]["labelVi"], "Nữ");
    assert_eq!(it["columns"][1]["labelEn"], "Female");
    assert_eq!(it["rows"][0]["labelVi"], "HMông");
    let c = cell(&g, "0101", "E08.F");
    assert_eq!(
        (c["version"].as_i64(), c["value"].is_null()),
        (Some(0), true)
    );
    assert!(g["approval"].is_null());
    // missing parameters, a period of the wrong type, a province: named
    for (q, field) in [
        ("pe=2025", "ou"),
        ("ou=06877", "pe"),
        ("ou=06877&pe=2025Q1", "period"),
        ("ou=22&pe=2025", "orgUnit"),
    ] {
        let r = s.get(&format!("/api/forms/BM-DTTS-01/entry?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert_eq!(r.json()["errors"][0]["field"], field, "{q}");
    }
    assert_eq!(
        s.get("/api/forms/KHONG-CO/entry?ou=06877&pe=2025").status,
        404
    );
}

fn a_batch_sent_twice_is_applied_once(s: Server) {
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    let b = batch(
        "4b0e4c2c-1f1e-4d7a-9a52-1b9f0a0e0001",
        "06877",
        &[
            ("0101", "E02.M", "120", 0),
            ("0101", "E02.F", "131", 0),
            ("x-ho-dtts", "E02", "60", 0),
        ],
    );
    let first = xa.post_json("/api/dataEntry", &b);
    assert_eq!(first.status, 200, "{}", first.body);
    let first = first.json();
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["saved"], 3);
    for v in first["values"].as_array().unwrap() {
        assert_eq!(
            (v["status"].as_str(), v["version"].as_i64()),
            (Some("saved"), Some(1))
        );
        assert!(
            v["updatedBy"]
                .as_str()
                .unwrap()
                .starts_with("can-bo-xa (token "),
            "{v}"
        );
    }
    let audits = "SELECT count(*) FROM audit_log WHERE entity = 'data_value'";
    assert_eq!(count(&s, audits), 3);
    // the queue did not hear the answer and sends it again
    let again = xa.post_json("/api/dataEntry", &b);
    assert_eq!(again.status, 200, "{}", again.body);
    let again = again.json();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["values"], first["values"], "the same answer");
    assert_eq!(count(&s, audits), 3, "applied once");
    assert_eq!(count(&s, "SELECT count(*) FROM entry_batch"), 1);
    assert_eq!(
        count(
            &s,
            "SELECT max(version) FROM data_value WHERE period = '2025'"
        ),
        1
    );
    // the same id with other content is refused
    let mut other = batch(
        "4b0e4c2c-1f1e-4d7a-9a52-1b9f0a0e0001",
        "06877",
        &[("0101", "E02.M", "999", 1)],
    );
    let r = xa.post_json("/api/dataEntry", &other);
    assert_eq!(r.status, 409, "{}", r.body);
    // through a session (the page's way), with its CSRF header
    s.user("xa-phien", Role::CommuneOfficer, &["06877"]);
    let (_, session) = s.login("xa-phien", PASSWORD);
    let session = session.expect("logged in");
    other["batchId"] = json!("4b0e4c2c-1f1e-4d7a-9a52-1b9f0a0e0002");
    let r = session.post_json("/api/dataEntry", &other);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["values"][0]["version"], 2);
    assert_eq!(r.json()["values"][0]["updatedBy"], "xa-phien");
}

fn a_hash_that_does_not_match_is_refused(s: Server) {
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    let mut b = batch(
        "9d7b3c1a-0000-4000-8000-000000000001",
        "06877",
        &[("0101", "E02.M", "120", 0)],
    );
    b["values"][0]["value"] = json!("121");
    let r = xa.post_json("/api/dataEntry", &b);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["field"], "hash");
    b["hash"] = json!("nope");
    let r = xa.post_json("/api/dataEntry", &b);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        count(&s, "SELECT count(*) FROM data_value WHERE period = '2025'"),
        0
    );
    assert_eq!(count(&s, "SELECT count(*) FROM entry_batch"), 0);
    // a value sent as a number is named
    let mut n = batch(
        "9d7b3c1a-0000-4000-8000-000000000002",
        "06877",
        &[("0101", "E02.M", "120", 0)],
    );
    n["values"][0]["value"] = json!(120);
    let r = xa.post_json("/api/dataEntry", &n);
    assert_eq!(r.status, 400, "{}", r.body);
}

fn a_stale_base_version_is_a_conflict(s: Server) {
    let a = s.token_client("xa-a", Role::CommuneOfficer, &["06877"], true);
    let b = s.token_client("tinh-b", Role::ProvinceOfficer, &["22"], true);
    let r = a.post_json(
        "/api/dataEntry",
        &batch("a1", "06877", &[("x-ho-ngheo-dtts", "E09", "12", 0)]),
    );
    assert_eq!(
        r.status, 400,
        "a batch id is 8 characters or more: {}",
        r.body
    );
    let r = a.post_json(
        "/api/dataEntry",
        &batch("a-000001", "06877", &[("x-ho-ngheo-dtts", "E09", "12", 0)]),
    );
    assert_eq!(r.json()["values"][0]["version"], 1);
    // the province corrects it meanwhile
    let r = b.post_json(
        "/api/dataEntry",
        &batch("b-000001", "06877", &[("x-ho-ngheo-dtts", "E09", "14", 1)]),
    );
    assert_eq!(r.json()["values"][0]["status"], "saved", "{}", r.body);
    // the commune, offline, had typed 13 over version 1, and a new cell
    let r = a.post_json(
        "/api/dataEntry",
        &batch(
            "a-000002",
            "06877",
            &[
                ("x-ho-ngheo-dtts", "E09", "13", 1),
                ("x-ho-ngheo-dtts", "E02", "7", 0),
                ("x-ho-ngheo-dtts", "E17", "x", 0),
            ],
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    let c = &j["values"][0];
    assert_eq!(c["status"], "conflict");
    assert_eq!(
        (c["value"].as_str(), c["version"].as_i64()),
        (Some("14"), Some(2))
    );
    assert!(c["updatedBy"].as_str().unwrap().starts_with("tinh-b"));
    assert_eq!(
        (c["mine"].as_str(), c["baseVersion"].as_i64()),
        (Some("13"), Some(1))
    );
    assert_eq!(j["values"][1]["status"], "saved");
    assert_eq!(j["values"][2]["status"], "error");
    assert_eq!(j["values"][2]["field"], "values[2].value");
    assert_eq!(
        (
            j["saved"].as_i64(),
            j["conflicts"].as_i64(),
            j["errors"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let g = a.get("/api/forms/BM-DTTS-01/entry?ou=06877&pe=2025").json();
    let stored = cell(&g, "x-ho-ngheo-dtts", "E09");
    assert_eq!(
        (stored["value"].as_str(), stored["version"].as_i64()),
        (Some("14"), Some(2)),
        "unchanged"
    );
    // keep mine: again over the server's version
    let r = a.post_json(
        "/api/dataEntry",
        &batch("a-000003", "06877", &[("x-ho-ngheo-dtts", "E09", "13", 2)]),
    );
    assert_eq!(r.json()["values"][0]["status"], "saved");
    assert_eq!(r.json()["values"][0]["version"], 3);
    let history = s.get("/api/dataValues/history?indicator=x-ho-ngheo-dtts&unit=06877&period=2025&disaggregation=E09").json();
    assert_eq!(
        history["history"].as_array().map(Vec::len),
        Some(2),
        "the two earlier states: {history}"
    );
}

fn another_commune_is_refused(s: Server) {
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    let viewer = s.token_client("nguoi-xem", Role::Viewer, &["22"], false);
    // Tiên Yên, the neighbouring commune
    let r = xa.post_json(
        "/api/dataEntry",
        &batch("c-000001", "06862", &[("0101", "E02.M", "5", 0)]),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = xa.get("/api/forms/BM-DTTS-01/entry?ou=06862&pe=2025");
    assert_eq!(r.status, 403, "{}", r.body);
    let r = viewer.post_json(
        "/api/dataEntry",
        &batch("c-000002", "06877", &[("0101", "E02.M", "5", 0)]),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        viewer
            .get("/api/forms/BM-DTTS-01/entry?ou=06877&pe=2025")
            .status,
        200
    );
    assert_eq!(
        count(&s, "SELECT count(*) FROM data_value WHERE period = '2025'"),
        0
    );
    assert_eq!(count(&s, "SELECT count(*) FROM entry_batch"), 0);
}

fn the_page_saves_without_script(s: Server) {
    s.user("xa-trang", Role::CommuneOfficer, &["06877"]);
    let (_, c) = s.login("xa-trang", PASSWORD);
    let c = c.expect("logged in");
    let r = s.anon.get("/nhap-lieu");
    assert_eq!(r.status, 303, "{}", r.body);
    let list = c.get("/nhap-lieu");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body
            .contains("/nhap-lieu/BM-DTTS-01?ou=06877&#38;pe=2025"),
        "{}",
        list.body
    );
    let page = c.get("/nhap-lieu/BM-DTTS-01?ou=06877&pe=2025&eth=02");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("inputmode=\"decimal\""));
    assert!(page.body.contains("name=\"v:0101:E02.M\""));
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("csrf field")
        .to_string();
    // the form posts every cell; only those changed are saved; a bad one is named on the page
    let r = c.post_form(
        "/nhap-lieu/BM-DTTS-01?ou=06877&pe=2025&eth=02",
        &[
            ("csrf", &csrf),
            ("v:0101:E02.M", "12,0"),
            ("b:0101:E02.M", "0"),
            ("o:0101:E02.M", ""),
            ("v:0101:E02.F", "abc"),
            ("b:0101:E02.F", "0"),
            ("o:0101:E02.F", ""),
            ("v:x-ho-dtts:E02", ""),
            ("b:x-ho-dtts:E02", "0"),
            ("o:x-ho-dtts:E02", ""),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("abc"), "the value typed stays in its cell");
    assert!(r.body.contains("not a number"), "{}", r.body);
    let g = c.get("/api/forms/BM-DTTS-01/entry?ou=06877&pe=2025").json();
    assert_eq!(cell(&g, "0101", "E02.M")["value"], "12", "12,0 read as 12");
    assert_eq!(
        count(&s, "SELECT count(*) FROM data_value WHERE period = '2025'"),
        1
    );
    // without the CSRF field: refused
    let r = c.post_form(
        "/nhap-lieu/BM-DTTS-01?ou=06877&pe=2025",
        &[
            ("v:0101:E02.M", "13"),
            ("b:0101:E02.M", "1"),
            ("o:0101:E02.M", "12"),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // all good: saved, back to the page
    let r = c.post_form(
        "/nhap-lieu/BM-DTTS-01?ou=06877&pe=2025",
        &[
            ("csrf", &csrf),
            ("v:0101:E02.M", "13"),
            ("b:0101:E02.M", "1"),
            ("o:0101:E02.M", "12"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let g = c.get("/api/forms/BM-DTTS-01/entry?ou=06877&pe=2025").json();
    assert_eq!(cell(&g, "0101", "E02.M")["version"], 2);
    // the service worker and the script are served
    let sw = c.get("/nhap-lieu/sw.js");
    assert_eq!(sw.status, 200);
    assert!(sw.header("content-type").unwrap().contains("javascript"));
    assert_eq!(c.get("/static/entry.js").status, 200);
}

/// The server caches the catalogue that cell saves are checked against: an indicator created
/// and put on the form through the API after a save is accepted by the very next save.
fn an_indicator_added_to_the_form_is_saved_at_once(s: Server) {
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    let r = xa.post_json(
        "/api/dataEntry",
        &batch("c-000001", "06877", &[("x-pop-total", "M", "100", 0)]),
    );
    assert_eq!(r.json()["values"][0]["status"], "saved", "{}", r.body);
    let mut i = s.get("/api/indicators/x-pop-total").json();
    i["code"] = json!("x-moi");
    i["name_vi"] = json!("Chỉ tiêu mới");
    let r = s.admin.post_json("/api/indicators", &i);
    assert_eq!(r.status, 201, "{}", r.body);
    let mut f = s.get("/api/forms/BM-DTTS-01").json();
    let mut item = f["sections"][0]["items"][0].clone();
    assert_eq!(item["indicator"], "x-pop-total");
    item["indicator"] = json!("x-moi");
    f["sections"][0]["items"].as_array_mut().unwrap().push(item);
    let r = s.admin.put_json("/api/forms/BM-DTTS-01", &f);
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let r = xa.post_json(
        "/api/dataEntry",
        &batch("c-000002", "06877", &[("x-moi", "M", "7", 0)]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["values"][0]["status"], "saved", "{}", r.body);
}

//! Reporting forms over real HTTP, on SQLite and on PostgreSQL: the shipped forms, configuring
//! a form (provincial officers only), errors that name their place, the audit trail.

mod common;

use common::{Server, start};
use dantoc_domain::access::Role;
use serde_json::json;

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

on_both_backends!(forms_are_configured_by_provincial_officers);

fn forms_are_configured_by_provincial_officers(s: Server) {
    let all = s.anon.get("/api/forms").json();
    let codes: Vec<&str> = all["forms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["BM-DTTS-01", "BM-DTTS-02"]);
    let found = s.anon.get("/api/forms?q=ho%20ngheo").json();
    assert_eq!(found["forms"].as_array().unwrap().len(), 1, "{found}");

    let form = json!({
        "code": "BM-QN-03", "name_vi": "Biểu 03: Tổ công nghệ số", "period_type": "yearly",
        "level": "commune", "deadline_days": 20,
        "sections": [{"title_vi": "Tổ CNSCĐ", "items": [
            {"indicator": "x-cnscd-tv", "rows": "none", "columns": "sex", "required": true}
        ]}]
    });
    let commune = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    let r = commune.put_json("/api/forms/BM-QN-03", &form);
    assert_eq!(r.status, 403, "{}", r.body);

    let province = s.token_client("can-bo-tinh", Role::ProvinceOfficer, &["22"], true);
    let r = province.put_json("/api/forms/BM-QN-03", &form);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["deadline_days"], 20);
    let r = province.put_json("/api/forms/BM-QN-03", &form);
    assert_eq!(r.status, 200, "{}", r.body);

    // a grid the indicator is not broken down by, an unknown indicator: named, nothing changed
    let mut bad = form.clone();
    bad["sections"][0]["items"][0]["rows"] = json!("ethnic");
    bad["sections"][0]["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"indicator": "khong-co"}));
    let r = province.put_json("/api/forms/BM-QN-03", &bad);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("sections[0].items[0].rows"), "{}", r.body);
    assert!(
        r.body.contains("sections[0].items[1].indicator"),
        "{}",
        r.body
    );
    let stored = s.anon.get("/api/forms/BM-QN-03").json();
    assert_eq!(stored["sections"][0]["items"][0]["rows"], "none");

    let r = province.put_json("/api/forms/BM-KHAC", &form);
    assert_eq!(
        r.status, 400,
        "the code in the body is the address's: {}",
        r.body
    );
    let mut weekly = form.clone();
    weekly["period_type"] = json!("weekly");
    let r = province.put_json("/api/forms/BM-QN-03", &weekly);
    assert_eq!(r.status, 400, "{}", r.body);

    assert_eq!(s.anon.get("/api/forms/BM-NONE").status, 404);
    assert_eq!(commune.delete("/api/forms/BM-QN-03").status, 403);
    assert_eq!(province.delete("/api/forms/BM-QN-03").status, 204);
    assert_eq!(s.anon.get("/api/forms/BM-QN-03").status, 404);
    let log = s.admin.get("/api/audit?entity=form").json();
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entity_key"] == "BM-QN-03")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"create") && actions.contains(&"update") && actions.contains(&"delete"),
        "{log}"
    );
}

//! Reporting forms over real HTTP, on SQLite and on PostgreSQL: the shipped forms, configuring
//! a form (provincial officers only), errors that name their place, the audit trail.

mod common;

use common::{PASSWORD, Server, start};
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

on_both_backends!(
    forms_are_configured_by_provincial_officers,
    the_form_editor_page_saves_and_names_the_wrong_line
);

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

fn the_form_editor_page_saves_and_names_the_wrong_line(s: Server) {
    s.user("tinh-web", Role::ProvinceOfficer, &["22"]);
    let (_, c) = s.login("tinh-web", PASSWORD);
    let c = c.unwrap();
    let csrf = c.get("/api/me").json()["csrfToken"]
        .as_str()
        .unwrap()
        .to_string();
    let page = c.get("/bieu-mau/BM-DTTS-01/sua");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Cấu hình biểu mẫu BM-DTTS-01"),
        "{}",
        page.body
    );
    assert!(page.body.contains("I. Dân số"));
    assert_eq!(s.anon.get("/bieu-mau/moi").status, 303, "login first");

    let fields = |line_rows: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("code", "BM-WEB".to_string()),
            ("name_vi", "Biểu thử trên web".to_string()),
            ("period_type", "yearly".to_string()),
            ("level", "commune".to_string()),
            ("deadline_days", "10".to_string()),
            ("lines", "3".to_string()),
            ("s0", "Phần một".to_string()),
            ("i0", "x-cnscd-tv".to_string()),
            ("r0", "none".to_string()),
            ("c0", "sex".to_string()),
            ("q0", "1".to_string()),
            ("s1", "Phần một".to_string()),
            ("i1", "".to_string()),
            ("s2", "Phần hai".to_string()),
            ("i2", "x-cnscd-to".to_string()),
            ("r2", line_rows.to_string()),
            ("c2", "none".to_string()),
        ]
    };
    let post = |f: Vec<(&str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        c.post_form("/bieu-mau/moi", &f)
    };
    // line 3 asks for ethnic rows of an indicator that has none: the page says which line
    let r = post(fields("ethnic"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("Dòng 2") && r.body.contains("not broken down by ethnic"),
        "{}",
        r.body
    );
    assert_eq!(s.anon.get("/api/forms/BM-WEB").status, 404, "nothing saved");
    let r = post(fields("none"));
    assert_eq!(r.status, 303, "{}", r.body);
    let f = s.anon.get("/api/forms/BM-WEB").json();
    assert_eq!(f["sections"].as_array().unwrap().len(), 2, "{f}");
    assert_eq!(f["sections"][0]["items"][0]["columns"], "sex");
    assert_eq!(f["sections"][0]["items"][0]["required"], true);
    // without the form's CSRF token nothing is saved
    let mut no_token = fields("none");
    no_token[0].1 = "sai".into();
    no_token[1].1 = "BM-WEB2".into();
    assert_eq!(post(no_token).status, 403);
    assert_eq!(s.anon.get("/api/forms/BM-WEB2").status, 404);
}

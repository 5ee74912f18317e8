//! Validation rules over real HTTP, on SQLite and on PostgreSQL: the rules API and who may
//! write it, imports refused or reported, the batch report within the reader's units, the page.

mod common;

use common::{PASSWORD, Server, start};
use dantoc_domain::FieldError;
use dantoc_domain::access::Role;
use dantoc_store::audit::Actor;
use dantoc_store::validation::ValidationMode;
use dantoc_store::values::{self, ImportOptions, RawValue};
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
    rules_api_crud_and_who_may_write,
    imports_over_http_are_refused_or_warned,
    batch_report_is_scoped_to_the_readers_units,
    validation_page_lists_rules_and_violations,
);

fn rules_api_crud_and_who_may_write(s: Server) {
    // anyone may read the rules
    let list = s.anon.get("/api/validationRules");
    assert_eq!(list.status, 200);
    let codes: Vec<String> = list.json()["validationRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect();
    assert!(
        codes.contains(&"ho-ngheo-le-ho-dtts".to_string()),
        "{codes:?}"
    );
    let one = s.anon.get("/api/validationRules/ty-le-dtts-0-100").json();
    assert_eq!(
        (one["kind"].as_str(), one["max"].as_f64()),
        (Some("bounds"), Some(100.0))
    );
    assert_eq!(s.anon.get("/api/validationRules/khong-co").status, 404);

    let rule = json!({
        "code": "ngheo-nua-so-ho",
        "nameVi": "Hộ nghèo DTTS quá nửa số hộ",
        "nameEn": "Poor households above half",
        "left": "#{x-ho-ngheo-dtts} * 2",
        "operator": "<=",
        "right": "#{x-ho-dtts}",
        "importance": "warning"
    });
    // a commune officer may not edit rules; nor may anyone anonymous
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    assert_eq!(s.anon.post_json("/api/validationRules", &rule).status, 401);
    let r = xa.post_json("/api/validationRules", &rule);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        xa.delete("/api/validationRules/ho-ngheo-le-ho-dtts").status,
        403
    );
    // a provincial officer may
    let tinh = s.token_client("can-bo-tinh", Role::ProvinceOfficer, &["22"], true);
    let r = tinh.post_json("/api/validationRules", &rule);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["mode"], "same");
    assert_eq!(tinh.post_json("/api/validationRules", &rule).status, 409);
    // bad definitions are named field by field
    let r = tinh.post_json(
        "/api/validationRules",
        &json!({"code": "x y", "nameVi": "", "left": "#{khong-co} +", "operator": "=<", "right": "1"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("unknown operator"), "{}", r.body);
    let r = tinh.post_json(
        "/api/validationRules",
        &json!({"code": "x-y", "nameVi": "Thử", "left": "#{khong-co} +", "operator": "<=", "right": "1"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "left");
    let r = tinh.post_json(
        "/api/validationRules",
        &json!({"code": "x-y", "nameVi": "Thử", "left": "#{khong-co}", "operator": "<=", "right": "1"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["value"], "khong-co");
    // bounds through the API
    let r = tinh.post_json(
        "/api/validationRules",
        &json!({"code": "to-cnscd-toi-da", "nameVi": "Tối đa 50 tổ", "kind": "bounds",
                "indicator": "x-cnscd-to", "min": 0, "max": 50}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // replace, renaming
    let mut changed = rule.clone();
    changed["code"] = json!("ngheo-qua-nua");
    changed["importance"] = json!("error");
    let r = tinh.put_json("/api/validationRules/ngheo-nua-so-ho", &changed);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.get("/api/validationRules/ngheo-nua-so-ho").status, 404);
    assert_eq!(
        s.get("/api/validationRules/ngheo-qua-nua").json()["importance"],
        "error"
    );
    assert_eq!(
        xa.put_json("/api/validationRules/ngheo-qua-nua", &changed)
            .status,
        403
    );
    let r = tinh.delete("/api/validationRules/ngheo-qua-nua");
    assert_eq!(r.status, 200);
    assert_eq!(s.get("/api/validationRules/ngheo-qua-nua").status, 404);
    assert_eq!(
        tinh.delete("/api/validationRules/ngheo-qua-nua").status,
        404
    );
    let entries = s.db.read(|c| dantoc_store::audit::recent(c, 50)).unwrap();
    let mine: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e.entity == "validation_rule")
        .map(|e| (e.action.clone(), e.actor.clone()))
        .collect();
    assert_eq!(mine.len(), 4, "{mine:?}");
    assert!(mine.iter().all(|(_, a)| a.starts_with("can-bo-tinh")));
}

fn imports_over_http_are_refused_or_warned(s: Server) {
    let r = s.post_json(
        "/api/dataValues",
        &json!({"dataValues": [
            {"indicator": "x-ho-dtts", "unit": "06877", "period": "2025", "disaggregation": "E02", "value": 10},
            {"indicator": "x-ho-ngheo-dtts", "unit": "06877", "period": "2025", "disaggregation": "E02", "value": 12}
        ]}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let j = r.json();
    assert_eq!(j["conflicts"][0]["field"], "dataValues[0].value");
    assert!(
        j["conflicts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ho-ngheo-le-ho-dtts"),
        "{j}"
    );
    assert_eq!(j["validation"][0]["left"], 12.0);
    assert_eq!(j["validation"][0]["right"], 10.0);
    assert_eq!(s.count_values(), 0);
    // DHIS2's shape: the conflict has its index
    let r = s.post_json(
        "/api/dataValueSets",
        &json!({"dataValues": [
            {"dataElement": "x-pop-total", "orgUnit": "06877", "period": "2025", "categoryOptionCombo": "default", "value": "100"},
            {"dataElement": "0101", "orgUnit": "06877", "period": "2025", "categoryOptionCombo": "E02.M", "value": "-1"}
        ]}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let j = r.json();
    assert_eq!(j["response"]["conflicts"][0]["indexes"], json!([1]));
    assert_eq!(j["response"]["rejectedIndexes"], json!([1]));
    assert_eq!(s.count_values(), 0);
    // warnings go in, and are said
    let r = s.post_json(
        "/api/dataValueSets",
        &json!({"dataValues": [
            {"dataElement": "x-pop-total", "orgUnit": "06877", "period": "2025", "categoryOptionCombo": "default", "value": "100"},
            {"dataElement": "0101", "orgUnit": "06877", "period": "2025", "categoryOptionCombo": "E02.M", "value": "150"}
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["response"]["validationCount"], 1);
    assert_eq!(
        j["response"]["validation"][0]["rule"],
        "dan-so-dtts-le-tong"
    );
    assert_eq!(j["response"]["validation"][0]["importance"], "warning");
    assert_eq!(s.count_values(), 2);
    // a CSV upload names the row and the column
    let csv = "indicator,unit,period,disaggregation,value\n\
               x-ho-dtts,06877,2025,E09,5\n\
               x-ho-ngheo-dtts,06877,2025,E09,6\n";
    let r = s.post("/api/dataValues/csv", "text/csv", csv);
    assert_eq!(r.status, 409, "{}", r.body);
    let c = &r.json()["conflicts"][0];
    assert_eq!(
        (c["row"].as_u64(), c["column"].as_u64()),
        (Some(2), Some(5))
    );
}

/// Violations stored on purpose (rules off): two communes of Quảng Ninh and one of Cao Bằng.
fn plant(s: &Server) -> (String, String) {
    let communes = s.get("/api/units?parent=22&level=commune").json();
    let other = communes["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap().to_string())
        .find(|c| c != "06877")
        .unwrap();
    let cb = s.get("/api/units?parent=04&level=commune").json()["units"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let rv = |ind: &str, unit: &str, d: &str, v: &str| RawValue {
        indicator: ind.into(),
        unit: unit.into(),
        period: "2025".into(),
        disagg: d.into(),
        value: Some(v.into()),
        ..Default::default()
    };
    let summary = values::import(
        &s.db,
        &Actor::system(),
        &ImportOptions {
            validation: ValidationMode::Off,
            ..Default::default()
        },
        vec![
            rv("x-ho-dtts", "06877", "E02", "10"),
            rv("x-ho-ngheo-dtts", "06877", "E02", "12"),
            rv("0101", &other, "E02.F", "-4"),
            rv("0101", &cb, "E02.F", "-9"),
        ]
        .into_iter()
        .map(Ok),
        &|_, e: FieldError| e,
    )
    .unwrap();
    assert_eq!(summary.status, "SUCCESS");
    (other, cb)
}

fn batch_report_is_scoped_to_the_readers_units(s: Server) {
    let (other, _) = plant(&s);
    assert_eq!(
        s.anon.get("/api/validation?ou=22&children=true").status,
        401
    );
    let r = s.get("/api/validation?ou=22&children=true&pe=2025");
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(
        (j["count"].as_u64(), j["errors"].as_u64()),
        (Some(2), Some(2))
    );
    let units: Vec<&str> = j["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["unit"].as_str().unwrap())
        .collect();
    assert!(
        units.contains(&"06877") && units.contains(&other.as_str()),
        "{units:?}"
    );
    let v = j["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["unit"] == "06877")
        .unwrap();
    assert_eq!(
        (
            v["left"].as_f64(),
            v["operator"].as_str(),
            v["right"].as_f64()
        ),
        (Some(12.0), Some("<="), Some(10.0))
    );
    assert_eq!(v["unitName"], "Đông Ngũ");
    // two provinces, with dates instead of periods
    let both = s
        .get("/api/validation?ou=22;04&children=true&startDate=2025-01-01&endDate=2025-12-31")
        .json();
    assert_eq!(both["count"], 3, "{both}");
    // a commune officer: their commune only
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], false);
    let r = xa.get("/api/validation?ou=22&children=true");
    assert_eq!(r.status, 403, "{}", r.body);
    let r = xa.get("/api/validation?ou=06877");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["count"], 1);
    // a provincial officer of Quảng Ninh sees Quảng Ninh, not Cao Bằng
    let tinh = s.token_client("can-bo-tinh", Role::ProvinceOfficer, &["22"], false);
    assert_eq!(
        tinh.get("/api/validation?ou=22&children=true").json()["count"],
        2
    );
    assert_eq!(tinh.get("/api/validation?ou=04&children=true").status, 403);
    // bad input is named
    let r = s.get("/api/validation?ou=22&pe=2025Q9");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "period");
    assert_eq!(s.get("/api/validation").status, 400);
    assert_eq!(s.get("/api/validation?ou=22&rule=khong-co").status, 400);
    // CSV
    let r = s.get("/api/validation.csv?ou=22&children=true&pe=2025");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    assert!(r.body.starts_with('\u{feff}'));
    assert_eq!(r.body.lines().count(), 3, "{}", r.body);
    assert!(
        r.body
            .contains("06877,2025,Đông Ngũ,2025,E02,ho-ngheo-le-ho-dtts,"),
        "{}",
        r.body
    );
}

fn validation_page_lists_rules_and_violations(s: Server) {
    plant(&s);
    let home = s.anon.get("/");
    assert!(
        home.body.contains("href=\"/kiem-tra\""),
        "the navigation links the page"
    );
    let page = s.anon.get("/kiem-tra");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Quy tắc kiểm tra"));
    assert!(
        page.body
            .contains("Số hộ nghèo DTTS không vượt quá số hộ DTTS")
    );
    assert!(
        page.body.contains("#{x-ho-ngheo-dtts} ≤ #{x-ho-dtts}"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Đăng nhập</a> để kiểm tra"));
    // anonymous asking for a report is told to log in, on the page
    let page = s.anon.get("/kiem-tra?ou=22&children=true");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("class=\"error\" role=\"alert\""),
        "{}",
        page.body
    );
    s.user("can-bo", Role::ProvinceOfficer, &["22"]);
    let (_, client) = s.login("can-bo", PASSWORD);
    let client = client.expect("login");
    let page = client.get("/kiem-tra?ou=22&children=true&pe=2025");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("2 vi phạm"), "{}", page.body);
    assert!(page.body.contains("Đông Ngũ"));
    assert!(page.body.contains("≤ 10"), "{}", page.body);
    assert!(
        page.body
            .contains("/api/validation.csv?ou=22&#38;children=true&#38;pe=2025"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("style="), "no inline style (CSP)");
    // a unit out of scope: said on the page
    let page = client.get("/kiem-tra?ou=04&children=true");
    assert!(
        page.body.contains("outside your administrative units"),
        "{}",
        page.body
    );
    // English
    let page = client.get("/kiem-tra?ou=22&children=true&pe=2025&lang=en");
    assert!(page.body.contains("does not hold"), "{}", page.body);
}

//! The HTTP suite, over real HTTP, on SQLite and on PostgreSQL (`sqlite::*`, `postgres::*`).

mod common;

use common::{Server, start};
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
    health_and_reference_endpoints,
    bad_requests_get_json_errors_and_change_nothing,
    dhis2_data_value_sets_round_trip,
    dhis2_conflicts_reject_the_whole_set,
    native_values_write_read_history_delete,
    csv_upload_reports_row_and_column,
    pages_render_in_vietnamese_with_security_headers,
    openapi_documents_every_route,
    catalogue_and_lineage_writes_are_audited,
);

fn health_and_reference_endpoints(s: Server) {
    let h = s.get("/api/health");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");
    let qn = s.get("/api/units/22").json();
    assert_eq!(
        (qn["full_name"].as_str(), qn["version"].as_str()),
        (Some("Tỉnh Quảng Ninh"), Some("2025"))
    );
    let provinces = s.get("/api/units").json();
    assert_eq!(provinces["units"].as_array().unwrap().len(), 34);
    let old = s.get("/api/units?version=2024").json();
    assert_eq!(old["units"].as_array().unwrap().len(), 63);
    let kids = s.get("/api/units/22/children").json();
    assert_eq!(kids["units"].as_array().unwrap().len(), 54);
    let anc = s.get("/api/units/06877/ancestors?version=2024").json();
    let codes: Vec<&str> = anc["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["22", "199"]);
    let lin = s.get("/api/units/06877/lineage?version=2024").json();
    assert_eq!(lin["lineage"].as_array().unwrap().len(), 2);
    assert_eq!(lin["lineage"][0]["estimated"], true);
    let found = s.get("/api/units?q=quang%20ninh&version=2025").json();
    assert_eq!(found["units"][0]["full_name"], "Tỉnh Quảng Ninh");
    let communes = s.get("/api/units?parent=04&level=commune").json();
    assert_eq!(communes["units"].as_array().unwrap().len(), 56);
    let e = s.get("/api/ethnic-groups/04").json();
    assert_eq!(
        (e["name"].as_str(), e["code1979"].as_str()),
        (Some("Mường"), Some("06"))
    );
    let e = s.get("/api/ethnic-groups/04?codeList=gso1979").json();
    assert_eq!(e["name"], "Hoa");
    let all = s.get("/api/ethnic-groups").json();
    assert_eq!(all["ethnicGroups"].as_array().unwrap().len(), 54);
    assert_eq!(all["codeList"], "gso2008");
    let i = s.get("/api/indicators/0101").json();
    assert_eq!(i["value_type"], "integer");
    let found = s.get("/api/indicators?q=to%20cong%20nghe%20so").json();
    assert!(
        found["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["code"] == "x-cnscd-to")
    );
}

fn bad_requests_get_json_errors_and_change_nothing(s: Server) {
    let r = s.get("/api/units/99999");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["httpStatusCode"], 404);
    let r = s.get("/api/units/22?version=1999");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "version");
    let r = s.get("/api/dataValues?period=2024Q9");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["value"], "2024Q9");
    let r = s.get("/api/nope");
    assert_eq!(r.status, 404);
    assert!(r.json()["message"].as_str().unwrap().contains("/api/nope"));
    // malformed JSON: 400 that says where, nothing written
    let r = s.post(
        "/api/dataValueSets",
        "application/json",
        "{\"dataValues\": [ {\"dataElement\": \"0101\", }",
    );
    assert_eq!(r.status, 400);
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(msg.contains("line 1"), "{msg}");
    let r = s.post_json("/api/dataValueSets", &json!({"dataValues": "nope"}));
    assert_eq!(r.status, 400);
    let r = s.get("/api/dataValues?limit=-1");
    assert_eq!(r.status, 400);
    // injection strings are data, not SQL
    let r = s.get("/api/units?q=%27%3B%20DROP%20TABLE%20admin_unit%3B%20--");
    assert_eq!(r.status, 200);
    assert_eq!(
        s.get("/api/units").json()["units"]
            .as_array()
            .unwrap()
            .len(),
        34
    );
    let r = s.get("/api/dataValues?indicator=%27%20OR%20%271%27%3D%271");
    assert_eq!(r.json()["dataValues"].as_array().unwrap().len(), 0);
    assert_eq!(s.count_values(), 0);
    // no stack traces or SQL in errors
    assert!(!r.body.contains("SELECT"));
}

fn dhis2_payload() -> Value {
    json!({
        "dataSet": "DTTS_ANNUAL",
        "period": "2025",
        "orgUnit": "06877",
        "completeDate": "2026-01-15",
        "dataValues": [
            {"dataElement": "0101", "categoryOptionCombo": "E09.F", "value": "1234", "comment": "Bản Khe Lạc"},
            {"dataElement": "0101", "categoryOptionCombo": "E09.M", "value": 1200},
            {"dataElement": "x-cnscd-to", "value": "11"},
            {"dataElement": "0101", "orgUnit": "06877@2024", "period": "2024", "categoryOptionCombo": "E02.F", "value": "310"},
            {"dataElement": "x-dtts-share", "orgUnit": "22", "categoryOptionCombo": "default", "attributeOptionCombo": "default", "value": "12.5", "followup": true}
        ]
    })
}

fn dhis2_data_value_sets_round_trip(s: Server) {
    common::annual_form(&s);
    let r = s.post_json("/api/dataValueSets?dryRun=true", &dhis2_payload());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["response"]["importCount"]["imported"], 5);
    assert_eq!(s.count_values(), 0, "a dry run writes nothing");
    let r = s.post_json("/api/dataValueSets", &dhis2_payload());
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["status"], "OK");
    assert_eq!(j["response"]["responseType"], "ImportSummary");
    assert_eq!(j["response"]["status"], "SUCCESS");
    assert_eq!(
        j["response"]["importCount"],
        json!({"imported": 5, "updated": 0, "ignored": 0, "deleted": 0})
    );
    // again: all ignored (unchanged)
    let again = s.post_json("/api/dataValueSets", &dhis2_payload()).json();
    assert_eq!(again["response"]["importCount"]["ignored"], 5);
    // export back, compare value by value
    let out = s
        .get("/api/dataValueSets?orgUnit=22&children=true&orgUnit=06877@2024")
        .json();
    let got = out["dataValues"].as_array().unwrap();
    assert_eq!(got.len(), 5, "{out}");
    let find = |de: &str, ou: &str, coc: &str| {
        got.iter()
            .find(|v| {
                v["dataElement"] == de && v["orgUnit"] == ou && v["categoryOptionCombo"] == coc
            })
            .unwrap_or_else(|| panic!("{de} {ou} {coc} missing"))
    };
    assert_eq!(find("0101", "06877", "E09.F")["value"], "1234");
    assert_eq!(find("0101", "06877", "E09.F")["comment"], "Bản Khe Lạc");
    assert_eq!(find("0101", "06877", "E09.M")["value"], "1200");
    assert_eq!(find("x-cnscd-to", "06877", "default")["value"], "11");
    assert_eq!(find("0101", "06877@2024", "E02.F")["period"], "2024");
    assert_eq!(find("x-dtts-share", "22", "default")["followup"], true);
    // what was exported imports back into an empty database as the same values
    let again: Value = json!({"dataValues": got});
    let other = start(match s.db.backend() {
        dantoc_store::Backend::Sqlite => dantoc_store::testing::TestDb::sqlite(),
        dantoc_store::Backend::Postgres => dantoc_store::testing::TestDb::postgres(),
    });
    let r = other.post_json("/api/dataValueSets", &again);
    assert_eq!(
        r.json()["response"]["importCount"]["imported"],
        5,
        "{}",
        r.body
    );
    let back = other
        .get("/api/dataValueSets?orgUnit=22&children=true&orgUnit=06877@2024")
        .json();
    let strip = |v: &Value| {
        let mut v = v.clone();
        for k in ["created", "lastUpdated", "storedBy"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let a: Vec<Value> = got.iter().map(strip).collect();
    let b: Vec<Value> = back["dataValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(strip)
        .collect();
    assert_eq!(a, b);
    // and an idScheme other than CODE and UID is refused clearly
    let r = s.post_json("/api/dataValueSets?idScheme=NAME", &dhis2_payload());
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "idScheme");
}

fn dhis2_conflicts_reject_the_whole_set(s: Server) {
    common::annual_form(&s);
    let mut p = dhis2_payload();
    p["dataValues"][1]["value"] = json!("12,5");
    p["dataValues"][3]["period"] = json!("2024Q7");
    p["dataValues"][4]["orgUnit"] = json!("99");
    let r = s.post_json("/api/dataValueSets", &p);
    assert_eq!(r.status, 409, "{}", r.body);
    let j = r.json();
    assert_eq!(j["response"]["status"], "ERROR");
    let conflicts = j["response"]["conflicts"].as_array().unwrap();
    let seen: Vec<(Value, Value, Value)> = conflicts
        .iter()
        .map(|c| {
            (
                c["object"].clone(),
                c["property"].clone(),
                c["indexes"][0].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (json!("12,5"), json!("value"), json!(1)),
            (json!("2024Q7"), json!("period"), json!(3)),
            (json!("99"), json!("orgUnit"), json!(4))
        ]
    );
    assert_eq!(j["response"]["rejectedIndexes"], json!([1, 3, 4]));
    assert_eq!(s.count_values(), 0, "nothing of the set was written");
}

fn native_values_write_read_history_delete(s: Server) {
    let v = json!({"indicator": "0101", "unit": "06877", "period": "2025", "disaggregation": "E09.F", "value": "100"});
    let r = s.put_json("/api/dataValues", &v);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["importCount"]["imported"], 1);
    let mut v2 = v.clone();
    v2["value"] = json!("101");
    assert_eq!(
        s.put_json("/api/dataValues", &v2).json()["importCount"]["updated"],
        1
    );
    let got = s.get("/api/dataValues?indicator=0101&unit=06877").json();
    assert_eq!(got["dataValues"][0]["value_text"], "101");
    assert_eq!(got["dataValues"][0]["stored_by"], "tester (token 1)");
    let h = s
        .get("/api/dataValues/history?indicator=0101&unit=06877&period=2025&disaggregation=E09.F")
        .json();
    assert_eq!(h["history"][0]["value_text"], "100");
    let bad = s.put_json(
        "/api/dataValues",
        &json!({"indicator": "0101", "unit": "06877", "period": "2025", "value": "1", "extra": 1}),
    );
    assert_eq!(bad.status, 400, "unknown fields are refused: {}", bad.body);
    let r = s.delete("/api/dataValues?indicator=0101&unit=06877&period=2025&disaggregation=E09.F");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.count_values(), 0);
    let r = s.delete("/api/dataValues?indicator=0101&unit=06877&period=2025&disaggregation=E09.F");
    assert_eq!(r.status, 404);
    // batch
    let r = s.post_json("/api/dataValues", &json!({"dataValues": [v, {"indicator": "x-tt-yte", "unit": "22", "period": "2025", "value": 97.5}]}));
    assert_eq!(r.json()["importCount"]["imported"], 2, "{}", r.body);
    let csv = s.get("/api/dataValues.csv?unit=22&children=true");
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with('\u{feff}'));
    assert!(
        csv.body.contains("x-tt-yte,22,2025,default,97.5"),
        "{}",
        csv.body
    );
}

fn csv_upload_reports_row_and_column(s: Server) {
    let body = "indicator,unit,period,disaggregation,value\n0101,06877,2025,E09.F,5\n0101,06877,2025,E09.M,abc\n";
    let r = s.post("/api/dataValues/csv", "text/csv", body);
    assert_eq!(r.status, 409, "{}", r.body);
    let c = &r.json()["conflicts"][0];
    assert_eq!(
        (c["row"].as_u64(), c["column"].as_u64(), c["field"].as_str()),
        (Some(3), Some(5), Some("value"))
    );
    assert_eq!(s.count_values(), 0);
    let ok = s.post(
        "/api/dataValues/csv",
        "text/csv",
        "\u{feff}indicator;unit;period;disaggregation;value\n0101;06877;2025;E09.F;5\n",
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(s.count_values(), 1);
}

fn pages_render_in_vietnamese_with_security_headers(s: Server) {
    s.put_json("/api/dataValues", &json!({"indicator": "0101", "unit": "06877@2024", "period": "2024", "disaggregation": "E09.F", "value": "162531"}));
    let home = s.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Tỉnh Quảng Ninh") && home.body.contains("Đơn vị hành chính"));
    assert!(
        home.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(home.header("x-content-type-options"), Some("nosniff"));
    assert!(!home.body.contains("<script>"), "no inline script");
    let unit = s.get("/don-vi/06877?v=2024");
    assert_eq!(unit.status, 200);
    assert!(unit.body.contains("Xã Đông Ngũ") && unit.body.contains("Huyện Tiên Yên"));
    assert!(unit.body.contains("162.531"), "Vietnamese number format");
    assert!(
        unit.body.contains("ước tính"),
        "estimated lineage shares are flagged"
    );
    let en = s.get("/don-vi/06877?v=2024&lang=en");
    assert!(en.body.contains("Administrative units") || en.body.contains("Data"));
    assert!(en.body.contains("162,531"));
    let found = s.get("/tim-kiem?q=dong%20ngu");
    assert!(found.body.contains("Xã Đông Ngũ"));
    let missing = s.get("/don-vi/00000");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Không tìm thấy"));
    assert_eq!(s.get("/chi-tieu").status, 200);
    assert!(s.get("/dan-toc").body.contains("HMông"));
    assert_eq!(s.get("/static/app.css").status, 200);
}

fn openapi_documents_every_route(s: Server) {
    let doc = s.get("/api/openapi.json").json();
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.")),
        Some(true)
    );
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/api/health", "get"),
        ("/api/openapi.json", "get"),
        ("/api/units", "get"),
        ("/api/units/{code}", "get"),
        ("/api/units/{code}/children", "get"),
        ("/api/units/{code}/ancestors", "get"),
        ("/api/units/{code}/lineage", "get"),
        ("/api/units/{code}/lineage", "put"),
        ("/api/units/{code}/villages", "post"),
        ("/api/units.geojson", "get"),
        ("/api/units/at", "get"),
        ("/api/units/near", "get"),
        ("/api/units/{code}/villages.geojson", "get"),
        ("/ogcapi", "get"),
        ("/ogcapi/conformance", "get"),
        ("/ogcapi/collections", "get"),
        ("/ogcapi/collections/{id}", "get"),
        ("/ogcapi/collections/{id}/items", "get"),
        ("/ogcapi/collections/{id}/items/{feature}", "get"),
        ("/api/ethnic-groups", "get"),
        ("/api/ethnic-groups/{code}", "get"),
        ("/api/indicators", "get"),
        ("/api/indicators", "post"),
        ("/api/indicators/{code}", "get"),
        ("/api/indicators/{code}", "put"),
        ("/api/dataValues", "get"),
        ("/api/dataValues", "post"),
        ("/api/dataValues", "put"),
        ("/api/dataValues", "delete"),
        ("/api/dataValues.csv", "get"),
        ("/api/dataValues/csv", "post"),
        ("/api/dataValues/history", "get"),
        ("/api/dataValueSets", "get"),
        ("/api/dataValueSets", "post"),
        ("/api/dhis2/uids", "get"),
        ("/api/dhis2/uids", "put"),
        ("/api/dhis2/uids", "delete"),
        ("/api/dhis2/uids.csv", "post"),
        ("/api/analytics", "get"),
        ("/api/analytics.json", "get"),
        ("/api/analytics.svg", "get"),
        ("/api/pivot", "get"),
        ("/api/analytics.csv", "get"),
        ("/api/analytics.xlsx", "get"),
        ("/api/analytics.sdmx.csv", "get"),
        ("/api/targets", "get"),
        ("/api/targets", "put"),
        ("/api/reportTables", "get"),
        ("/api/reportTables", "post"),
        ("/api/reportTables/{id}", "get"),
        ("/api/reportTables/{id}", "put"),
        ("/api/reportTables/{id}", "delete"),
        ("/api/forms", "get"),
        ("/api/forms/{code}", "get"),
        ("/api/forms/{code}", "put"),
        ("/api/forms/{code}", "delete"),
        ("/api/forms/{code}/template.xlsx", "get"),
        ("/api/forms/{code}/import.xlsx", "post"),
        ("/api/forms/{code}/import.csv", "post"),
        ("/api/approvals", "get"),
        ("/api/approvals", "post"),
        ("/api/completeness", "get"),
        ("/api/completeness.csv", "get"),
        ("/api/completeness/overdue", "get"),
        ("/api/forms/{code}/entry", "get"),
        ("/api/dataEntry", "post"),
        ("/api/maps/choropleth.svg", "get"),
        ("/api/maps/choropleth.png", "get"),
        ("/api/validationRules", "get"),
        ("/api/validationRules", "post"),
        ("/api/validationRules/{code}", "get"),
        ("/api/validationRules/{code}", "put"),
        ("/api/validationRules/{code}", "delete"),
        ("/api/validation", "get"),
        ("/api/validation.csv", "get"),
        ("/api/maps/boundaries.json", "get"),
    ];
    for (p, m) in expected {
        assert!(
            paths.get(p).and_then(|x| x.get(m)).is_some(),
            "{m} {p} is not documented"
        );
    }
    let documented: usize = paths
        .values()
        .map(|v| {
            v.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .count()
        })
        .sum();
    assert_eq!(
        documented,
        expected.len(),
        "the document names routes the server does not serve"
    );
    // every documented GET without parameters in its path is really served
    for (p, m) in expected {
        if m == "get" && !p.contains('{') {
            assert_ne!(s.get(p).status, 404, "{p}");
        }
    }
}

fn catalogue_and_lineage_writes_are_audited(s: Server) {
    let mut i = s.get("/api/indicators/x-cnscd-to").json();
    i["code"] = json!("x-cnscd-to-new");
    i["name_vi"] = json!("Số tổ công nghệ số cộng đồng (mã mới)");
    let r = s.put_json("/api/indicators/x-cnscd-to", &i);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.get("/api/indicators/x-cnscd-to").status, 404);
    assert_eq!(s.get("/api/indicators/x-cnscd-to-new").status, 200);
    let bad = s.post_json("/api/indicators", &json!({"code": "bad code"}));
    assert_eq!(bad.status, 400);
    let r = s.put_json(
        "/api/units/06877/lineage",
        &json!({"weights": {"06862": 0.4, "06877": 0.6}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.put_json(
        "/api/units/06877/lineage",
        &json!({"weights": {"06862": 0.4, "06877": 0.4}}),
    );
    assert_eq!(r.status, 400);
    let r = s.post_json(
        "/api/units/06877/villages",
        &json!({"code": "06877-T1", "name": "Khe Lạc", "type": "thôn"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["full_name"], "Thôn Khe Lạc");
    let entries = s.db.read(|c| dantoc_store::audit::recent(c, 20)).unwrap();
    let actions: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e.action.clone(), e.entity.clone()))
        .collect();
    assert!(actions.contains(&("update".into(), "indicator".into())));
    assert!(actions.contains(&("update".into(), "unit_lineage".into())));
    assert!(actions.contains(&("create".into(), "admin_unit".into())));
    assert!(
        entries
            .iter()
            // the token's creation and the shipped forms stored at set-up are not the test's
            .filter(|e| e.entity != "api_token" && e.actor != "system")
            .all(|e| e.actor == "tester (token 1)" && e.origin == "127.0.0.1"),
        "{entries:?}"
    );
}

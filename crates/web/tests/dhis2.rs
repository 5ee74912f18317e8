//! DHIS2 `dataValueSets` as DHIS2 clients use it — UIDs through the mapping table or codes,
//! import strategies, dry runs, export filters — and the UID mappings themselves, over real
//! HTTP on SQLite and on PostgreSQL.

mod common;

use common::Server;
use dantoc_domain::access::Role;
use serde_json::{Value, json};
use std::collections::BTreeSet;

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
    dhis2_payload_with_uids_imports_and_exports_back_equal,
    dhis2_payload_with_codes_imports_and_exports_back_equal,
    unknown_uids_are_refused_with_their_place_and_change_nothing,
    uid_export_refuses_items_without_a_uid,
    import_strategies_and_dry_runs_follow_dhis2,
    export_filters_include_and_exclude_exactly,
    uid_mappings_need_the_catalogue_right_and_stay_in_scope,
    uid_mappings_from_csv_are_located_and_all_or_nothing,
    a_uid_mapping_is_deleted_by_whoever_may_put_it,
);

const DEFAULT: &str = "HllvX50cXC0";

/// A server with the reporting form DTTS_ANNUAL that the payloads' dataSet names.
fn start(db: dantoc_store::testing::TestDb) -> Server {
    let s = common::start(db);
    common::annual_form(&s);
    s
}

/// Mappings of the items the payloads use (kind in dantoc's or DHIS2's words).
fn mappings() -> Value {
    json!([
        {"kind": "indicator", "code": "0101", "uid": "dEpop0101AA"},
        {"kind": "dataElement", "code": "x-cnscd-to", "uid": "dEcnscdToAA"},
        {"kind": "indicator", "code": "x-dtts-share", "uid": "dEdttsShare"},
        {"kind": "unit", "code": "06877", "uid": "OU06877curr"},
        {"kind": "orgUnit", "code": "06877@2024", "uid": "OU06877old1"},
        {"kind": "unit", "code": "06862", "uid": "OU06862curr"},
        {"kind": "unit", "code": "22", "uid": "OUquangNinh"},
        {"kind": "disaggregation", "code": "E09.F", "uid": "COCe09Fem01"},
        {"kind": "categoryOptionCombo", "code": "E09.M", "uid": "COCe09Male1"},
        {"kind": "disaggregation", "code": "E02.F", "uid": "COCe02Fem01"},
        {"kind": "form", "code": "DTTS_ANNUAL", "uid": "DSdttsAnnua"},
    ])
}

fn map_all(s: &Server) {
    let r = s.put_json("/api/dhis2/uids", &mappings());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["created"], 11, "{}", r.body);
}

/// One data value as DHIS2 writes it, every field present.
#[allow(clippy::too_many_arguments)]
fn dv(
    de: &str,
    pe: &str,
    ou: &str,
    coc: &str,
    aoc: &str,
    value: &str,
    comment: Option<&str>,
    followup: bool,
) -> Value {
    json!({
        "dataElement": de, "period": pe, "orgUnit": ou, "categoryOptionCombo": coc,
        "attributeOptionCombo": aoc, "value": value, "storedBy": "dhis2-admin",
        "created": "2026-01-10T08:00:00.000+0000", "lastUpdated": "2026-01-10T08:15:00.000+0000",
        "comment": comment, "followup": followup
    })
}

/// DHIS2's dataValueSet shape with UIDs: Đông Ngũ (06877) now and before the reform, Tiên Yên
/// (06862) for a period before the reform, Quảng Ninh (22); the default category option combo.
fn uid_payload() -> Value {
    json!({
        "dataSet": "DSdttsAnnua",
        "completeDate": "2026-01-15",
        "period": "2025",
        "orgUnit": "OU06877curr",
        "attributeOptionCombo": DEFAULT,
        "dataValues": [
            dv("dEpop0101AA", "2025", "OU06877curr", "COCe09Fem01", DEFAULT, "1234", Some("Bản Khe Lạc"), false),
            dv("dEpop0101AA", "2025", "OU06877curr", "COCe09Male1", DEFAULT, "1200", None, false),
            dv("dEcnscdToAA", "2025", "OU06877curr", DEFAULT, DEFAULT, "11", None, false),
            dv("dEpop0101AA", "2024", "OU06877old1", "COCe02Fem01", DEFAULT, "310", Some("trước sáp nhập"), false),
            dv("dEcnscdToAA", "2024", "OU06862curr", DEFAULT, DEFAULT, "4", None, false),
            dv("dEdttsShare", "2025", "OUquangNinh", DEFAULT, DEFAULT, "12.5", None, true),
        ]
    })
}

/// The same set in codes; two values take the set's period and orgUnit.
fn code_payload() -> Value {
    let mut p = json!({
        "dataSet": "DTTS_ANNUAL",
        "completeDate": "2026-01-15",
        "period": "2025",
        "orgUnit": "06877",
        "attributeOptionCombo": "default",
        "dataValues": [
            dv("0101", "2025", "06877", "E09.F", "default", "1234", Some("Bản Khe Lạc"), false),
            dv("0101", "2025", "06877", "E09.M", "default", "1200", None, false),
            dv("x-cnscd-to", "2025", "06877", "default", "default", "11", None, false),
            dv("0101", "2024", "06877@2024", "E02.F", "default", "310", Some("trước sáp nhập"), false),
            dv("x-cnscd-to", "2024", "06862@2025", "default", "default", "4", None, false),
            dv("x-dtts-share", "2025", "22", "default", "default", "12.5", None, true),
        ]
    });
    for i in [0, 2] {
        let v = p["dataValues"][i].as_object_mut().unwrap();
        v.remove("period");
        v.remove("orgUnit");
    }
    p
}

type Tuple = (String, String, String, String, String, Option<String>);

/// (dataElement, period, orgUnit, categoryOptionCombo, value, comment) of each value, a value
/// without period or orgUnit taking the set's.
fn tuples(set: &Value) -> BTreeSet<Tuple> {
    let s = |v: &Value| v.as_str().map(str::to_string);
    set["dataValues"]
        .as_array()
        .expect("dataValues")
        .iter()
        .map(|v| {
            (
                s(&v["dataElement"]).unwrap(),
                s(&v["period"]).or(s(&set["period"])).unwrap(),
                s(&v["orgUnit"]).or(s(&set["orgUnit"])).unwrap(),
                s(&v["categoryOptionCombo"]).unwrap(),
                s(&v["value"]).unwrap(),
                s(&v["comment"]),
            )
        })
        .collect()
}

/// Every stored value, in codes, as the administrator sees them.
fn everything(s: &Server) -> Value {
    let r = s.get("/api/dataValues?unit=22&children=true&unit=06877@2024&unit=04&children=true");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["dataValues"].clone()
}

fn dhis2_payload_with_uids_imports_and_exports_back_equal(s: Server) {
    map_all(&s);
    let r = s.post_json(
        "/api/dataValueSets?idScheme=UID&dryRun=true",
        &uid_payload(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["response"]["importCount"]["imported"], 6);
    assert_eq!(s.count_values(), 0, "a dry run writes nothing");
    let r = s.post_json("/api/dataValueSets?idScheme=UID", &uid_payload());
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["response"]["status"], "SUCCESS");
    assert_eq!(
        j["response"]["importCount"],
        json!({"imported": 6, "updated": 0, "ignored": 0, "deleted": 0})
    );
    assert_eq!(
        j["response"]["importOptions"]["idSchemes"]["orgUnitIdScheme"],
        "UID"
    );
    // stored under the codes the UIDs map to
    let stored = s
        .get("/api/dataValues?indicator=x-cnscd-to&unit=06862&period=2024")
        .json();
    assert_eq!(stored["dataValues"][0]["value_text"], "4", "{stored}");
    assert_eq!(stored["dataValues"][0]["unit_version"], "2025");
    // exported back with the same id scheme and filters: the same values
    let q = "/api/dataValueSets?idScheme=UID&orgUnit=OUquangNinh&children=true&orgUnit=OU06877old1&period=2024&period=2025";
    let out = s.get(q);
    assert_eq!(out.status, 200, "{}", out.body);
    let out = out.json();
    assert_eq!(tuples(&out), tuples(&uid_payload()));
    for v in out["dataValues"].as_array().unwrap() {
        assert_eq!(v["attributeOptionCombo"], DEFAULT);
    }
    let share = out["dataValues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["dataElement"] == "dEdttsShare")
        .unwrap();
    assert_eq!(share["followup"], true);
    // `ID` is DHIS2's other name for UID, and schemes mix per kind
    let by_id = s.get(&q.replace("idScheme=UID", "idScheme=ID")).json();
    assert_eq!(tuples(&by_id), tuples(&uid_payload()));
    let mixed = s
        .get("/api/dataValueSets?dataElementIdScheme=UID&inputOrgUnitIdScheme=UID&orgUnit=OU06877old1")
        .json();
    assert_eq!(
        tuples(&mixed),
        BTreeSet::from([(
            "dEpop0101AA".into(),
            "2024".into(),
            "06877@2024".into(),
            "E02.F".into(),
            "310".into(),
            Some("trước sáp nhập".into())
        )])
    );
    // what was exported imports again unchanged
    let again = s.post_json("/api/dataValueSets?idScheme=uid", &out);
    assert_eq!(
        again.json()["response"]["importCount"]["ignored"],
        6,
        "{}",
        again.body
    );
}

fn dhis2_payload_with_codes_imports_and_exports_back_equal(s: Server) {
    let r = s.post_json("/api/dataValueSets", &code_payload());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["response"]["importCount"]["imported"], 6);
    let q = "/api/dataValueSets?orgUnit=22&children=true&orgUnit=06877@2024&period=2024;2025";
    let out = s.get(q).json();
    assert_eq!(tuples(&out), tuples(&code_payload()));
    for v in out["dataValues"].as_array().unwrap() {
        assert_eq!(v["attributeOptionCombo"], "default");
    }
    // the current unit's figure for a period before the reform says its hierarchy, so that
    // it imports back to the same unit
    assert!(
        tuples(&out)
            .iter()
            .any(|t| t.2 == "06862@2025" && t.1 == "2024"),
        "{out}"
    );
    // into an empty database: the same values
    let other = start(match s.db.backend() {
        dantoc_store::Backend::Sqlite => dantoc_store::testing::TestDb::sqlite(),
        dantoc_store::Backend::Postgres => dantoc_store::testing::TestDb::postgres(),
    });
    let r = other.post_json("/api/dataValueSets?idScheme=CODE", &out);
    assert_eq!(
        r.json()["response"]["importCount"]["imported"],
        6,
        "{}",
        r.body
    );
    assert_eq!(tuples(&other.get(q).json()), tuples(&code_payload()));
    // and the UID export of the same values, once mapped, translates each one
    map_all(&s);
    let uids = s
        .get("/api/dataValueSets?idScheme=UID&inputIdScheme=CODE&orgUnit=22&children=true&orgUnit=06877@2024")
        .json();
    assert_eq!(tuples(&uids), tuples(&uid_payload()));
}

fn unknown_uids_are_refused_with_their_place_and_change_nothing(s: Server) {
    map_all(&s);
    assert_eq!(
        s.post_json("/api/dataValueSets", &code_payload()).status,
        200
    );
    let before = everything(&s);
    let audit_before = s.get("/api/audit?limit=1000").json()["entries"]
        .as_array()
        .unwrap()
        .len();
    let mut p = uid_payload();
    p["dataSet"] = json!("DSunknown01");
    p["dataValues"][0]["dataElement"] = json!("not-a-uid");
    p["dataValues"][2]["orgUnit"] = json!("OUunknown01");
    p["dataValues"][3]["categoryOptionCombo"] = json!("COCunknown1");
    p["dataValues"][5]["value"] = json!("lots");
    for v in p["dataValues"].as_array_mut().unwrap() {
        // changed values: a write would show
        if v["value"] == "1200" {
            v["value"] = json!("1300");
        }
    }
    let r = s.post_json("/api/dataValueSets?idScheme=UID", &p);
    assert_eq!(r.status, 409, "{}", r.body);
    let j = r.json();
    assert_eq!(j["status"], "ERROR");
    assert_eq!(j["response"]["status"], "ERROR");
    let seen: Vec<(Value, Value, Value)> = j["response"]["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["object"].clone(),
                c["field"].clone(),
                c["indexes"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (json!("DSunknown01"), json!("dataSet"), json!([])),
            (
                json!("not-a-uid"),
                json!("dataValues[0].dataElement"),
                json!([0])
            ),
            (
                json!("OUunknown01"),
                json!("dataValues[2].orgUnit"),
                json!([2])
            ),
            (
                json!("COCunknown1"),
                json!("dataValues[3].categoryOptionCombo"),
                json!([3])
            ),
            (json!("lots"), json!("dataValues[5].value"), json!([5])),
        ]
    );
    let c = &j["response"]["conflicts"];
    assert!(c[1]["value"].as_str().unwrap().contains("not a DHIS2 UID"));
    assert!(
        c[2]["value"]
            .as_str()
            .unwrap()
            .contains("no unit has this DHIS2 UID")
    );
    assert_eq!(j["response"]["rejectedIndexes"], json!([0, 2, 3, 5]));
    assert_eq!(
        j["response"]["importCount"]["imported"]
            .as_u64()
            .unwrap_or(0)
            + j["response"]["importCount"]["updated"]
                .as_u64()
                .unwrap_or(0),
        0
    );
    // only the dataSet wrong: still refused whole
    let mut only_set = uid_payload();
    only_set["dataSet"] = json!("DSunknown01");
    let r = s.post_json("/api/dataValueSets?idScheme=UID", &only_set);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["response"]["conflicts"][0]["property"], "dataSet");
    // a UID where the scheme says CODE is no code
    // (the dataSet's UID is no form code either)
    let r = s.post_json("/api/dataValueSets?dataElementIdScheme=UID", &uid_payload());
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["response"]["conflicts"][0]["field"], "dataSet");
    assert_eq!(
        r.json()["response"]["conflicts"][1]["field"],
        "dataValues[0].orgUnit"
    );
    // an id scheme that is not served is a clear 400
    let r = s.post_json("/api/dataValueSets?orgUnitIdScheme=NAME", &uid_payload());
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "orgUnitIdScheme");
    // nothing changed, nothing audited
    assert_eq!(everything(&s), before);
    assert_eq!(
        s.get("/api/audit?limit=1000").json()["entries"]
            .as_array()
            .unwrap()
            .len(),
        audit_before
    );
}

fn uid_export_refuses_items_without_a_uid(s: Server) {
    assert_eq!(
        s.post_json("/api/dataValueSets", &code_payload()).status,
        200
    );
    // only some items mapped
    let r = s.put_json(
        "/api/dhis2/uids",
        &json!([
            {"kind": "indicator", "code": "0101", "uid": "dEpop0101AA"},
            {"kind": "unit", "code": "06877", "uid": "OU06877curr"},
            {"kind": "disaggregation", "code": "E09.F", "uid": "COCe09Fem01"},
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.get("/api/dataValueSets?idScheme=UID&inputIdScheme=CODE&orgUnit=22&children=true");
    assert_eq!(r.status, 409, "{}", r.body);
    let j = r.json();
    assert!(j.get("dataValues").is_none(), "no partial export");
    let unmapped: BTreeSet<(String, String)> = j["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("dataElement", "x-cnscd-to"),
        ("dataElement", "x-dtts-share"),
        ("orgUnit", "22"),
        ("orgUnit", "06862"),
        ("categoryOptionCombo", "E09.M"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(unmapped, want);
    let msg = j["message"].as_str().unwrap();
    assert!(
        msg.contains("5 item(s)") && msg.contains("x-cnscd-to"),
        "{msg}"
    );
    // what is mapped exports; the default disaggregation has DHIS2's default UID
    let r = s.get("/api/dataValueSets?idScheme=UID&orgUnit=OU06877curr&dataElement=dEpop0101AA&categoryOptionCombo=COCe09Fem01");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        tuples(&r.json()),
        BTreeSet::from([(
            "dEpop0101AA".into(),
            "2025".into(),
            "OU06877curr".into(),
            "COCe09Fem01".into(),
            "1234".into(),
            Some("Bản Khe Lạc".into())
        )])
    );
    // a filter naming an unknown UID is a bad request, named
    let r = s.get("/api/dataValueSets?idScheme=UID&orgUnit=OU06877curr&dataElement=dEunknown01");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "dataElement");
    assert_eq!(r.json()["errors"][0]["value"], "dEunknown01");
}

/// Values of 0101 at Đông Ngũ for 2025 by disaggregation: E09.F, E09.M (and E02.F when given).
fn set_of(values: &[(&str, &str)]) -> Value {
    json!({"period": "2025", "orgUnit": "06877", "dataValues": values.iter().map(|(coc, v)| json!({"dataElement": "0101", "categoryOptionCombo": coc, "value": v})).collect::<Vec<_>>()})
}

fn stored(s: &Server) -> BTreeSet<(String, String)> {
    s.get("/api/dataValueSets?orgUnit=06877&dataElement=0101")
        .json()["dataValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["categoryOptionCombo"].as_str().unwrap().to_string(),
                v["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn import_strategies_and_dry_runs_follow_dhis2(s: Server) {
    let post = |strategy: &str, dry: bool, values: &[(&str, &str)]| {
        let r = s.post_json(
            &format!("/api/dataValueSets?importStrategy={strategy}&dryRun={dry}"),
            &set_of(values),
        );
        assert_eq!(r.status, 200, "{strategy}: {}", r.body);
        let j = r.json();
        // DHIS2's import summary
        let resp = &j["response"];
        assert_eq!(resp["responseType"], "ImportSummary");
        assert_eq!(resp["status"], "SUCCESS");
        assert!(resp["description"].is_string());
        assert_eq!(resp["conflicts"], json!([]));
        assert_eq!(resp["importOptions"]["dryRun"], dry);
        let c = &resp["importCount"];
        assert_eq!(c.as_object().unwrap().len(), 4, "{c}");
        (
            c["imported"].as_u64().unwrap(),
            c["updated"].as_u64().unwrap(),
            c["ignored"].as_u64().unwrap(),
            c["deleted"].as_u64().unwrap(),
        )
    };
    assert_eq!(
        post(
            "CREATE_AND_UPDATE",
            false,
            &[("E09.F", "10"), ("E09.M", "20")]
        ),
        (2, 0, 0, 0)
    );
    // every strategy as a dry run: the full summary, nothing written
    let start = stored(&s);
    assert_eq!(
        post("CREATE", true, &[("E09.F", "11"), ("E02.F", "5")]),
        (1, 0, 1, 0)
    );
    assert_eq!(
        post("UPDATE", true, &[("E09.F", "12"), ("E02.F", "5")]),
        (0, 1, 1, 0)
    );
    assert_eq!(
        post(
            "CREATE_AND_UPDATE",
            true,
            &[("E09.F", "12"), ("E02.F", "5")]
        ),
        (1, 1, 0, 0)
    );
    assert_eq!(
        post("DELETE", true, &[("E09.F", ""), ("E02.F", "")]),
        (0, 0, 1, 1)
    );
    assert_eq!(stored(&s), start);
    // CREATE leaves existing values alone and counts them ignored
    assert_eq!(
        post("CREATE", false, &[("E09.F", "11"), ("E02.F", "5")]),
        (1, 0, 1, 0)
    );
    assert_eq!(
        stored(&s),
        pairs(&[("E09.F", "10"), ("E09.M", "20"), ("E02.F", "5")])
    );
    // UPDATE ignores missing values
    assert_eq!(
        post("UPDATE", false, &[("E09.F", "12"), ("E01.F", "7")]),
        (0, 1, 1, 0)
    );
    assert_eq!(
        stored(&s),
        pairs(&[("E09.F", "12"), ("E09.M", "20"), ("E02.F", "5")])
    );
    // DELETE deletes (no value needed), a missing one ignored
    assert_eq!(
        post("DELETE", false, &[("E09.F", ""), ("E01.F", "")]),
        (0, 0, 1, 1)
    );
    assert_eq!(stored(&s), pairs(&[("E09.M", "20"), ("E02.F", "5")]));
    // DHIS2's older names and any case
    assert_eq!(
        post("new_and_updates", false, &[("E09.M", "21"), ("E09.F", "1")]),
        (1, 1, 0, 0)
    );
    let r = s.post_json(
        "/api/dataValueSets?importStrategy=MERGE",
        &set_of(&[("E09.F", "1")]),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "importStrategy");
    // a refused set answers in the same shape
    let r = s.post_json(
        "/api/dataValueSets?importStrategy=UPDATE",
        &set_of(&[("E09.F", "x")]),
    );
    assert_eq!(r.status, 409);
    let j = r.json();
    assert_eq!(j["response"]["status"], "ERROR");
    assert_eq!(j["response"]["importCount"]["ignored"], 1);
    assert_eq!(j["response"]["conflicts"][0]["object"], "x");
    assert_eq!(j["response"]["conflicts"][0]["property"], "value");
    assert!(j["response"]["conflicts"][0]["value"].is_string());
}

fn codes_out(s: &Server, query: &str) -> BTreeSet<String> {
    let r = s.get(&format!("/api/dataValueSets?{query}"));
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    r.json()["dataValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{} {} {} {}",
                v["dataElement"].as_str().unwrap(),
                v["period"].as_str().unwrap(),
                v["orgUnit"].as_str().unwrap(),
                v["categoryOptionCombo"].as_str().unwrap()
            )
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn export_filters_include_and_exclude_exactly(s: Server) {
    // a commune of Cao Bằng (04), outside Quảng Ninh (22)
    let cb = s.get("/api/units?parent=04&level=commune").json()["units"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let v = |de: &str, pe: &str, ou: &str, coc: &str| json!({"dataElement": de, "period": pe, "orgUnit": ou, "categoryOptionCombo": coc, "value": "1"});
    let r = s.post_json(
        "/api/dataValueSets",
        &json!({"dataValues": [
            v("x-cnscd-to", "2025", "22", "default"),
            v("x-cnscd-to", "2025", "06877", "default"),
            v("x-cnscd-to", "2024", "06877@2025", "default"),
            v("0101", "2025", "06877", "E09.F"),
            v("0101", "2025", "06877", "E09.M"),
            v("x-cnscd-to", "2025", "06862", "default"),
            v("x-cnscd-to", "2025", &cb, "default"),
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let a = "x-cnscd-to 2025 22 default";
    let b = "x-cnscd-to 2025 06877 default";
    let b24 = "x-cnscd-to 2024 06877@2025 default";
    let f = "0101 2025 06877 E09.F";
    let m = "0101 2025 06877 E09.M";
    let tien_yen = "x-cnscd-to 2025 06862 default";
    let cao_bang = format!("x-cnscd-to 2025 {cb} default");
    // orgUnit alone: the unit's own values, not those below
    assert_eq!(codes_out(&s, "orgUnit=22"), set(&[a]));
    // with children: every unit below, nothing outside
    assert_eq!(
        codes_out(&s, "orgUnit=22&children=true"),
        set(&[a, b, b24, f, m, tien_yen])
    );
    // repeated, or as a list
    let two = set(&[b, b24, f, m, &cao_bang]);
    assert_eq!(codes_out(&s, &format!("orgUnit=06877&orgUnit={cb}")), two);
    assert_eq!(codes_out(&s, &format!("orgUnit=06877;{cb}")), two);
    // period, repeatable
    assert_eq!(codes_out(&s, "orgUnit=06877&period=2024"), set(&[b24]));
    assert_eq!(
        codes_out(&s, "orgUnit=06877&period=2024&period=2025"),
        set(&[b, b24, f, m])
    );
    // dates: periods that start on or after startDate and end on or before endDate
    assert_eq!(
        codes_out(&s, "orgUnit=06877&startDate=2024-01-01&endDate=2024-12-31"),
        set(&[b24])
    );
    assert_eq!(
        codes_out(&s, "orgUnit=06877&startDate=2024-01-02"),
        set(&[b, f, m]),
        "2024 starts before 2 January 2024"
    );
    assert_eq!(
        codes_out(&s, "orgUnit=06877&endDate=2024-12-30"),
        set(&[]),
        "2024 ends after 30 December 2024"
    );
    assert_eq!(
        codes_out(&s, "orgUnit=06877&startDate=2024-01-01&endDate=2025-12-31"),
        set(&[b, b24, f, m])
    );
    let r = s.get("/api/dataValueSets?orgUnit=06877&startDate=2024-02-30");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "startDate");
    // dataElement and categoryOptionCombo
    assert_eq!(
        codes_out(&s, "orgUnit=06877&dataElement=0101"),
        set(&[f, m])
    );
    assert_eq!(
        codes_out(
            &s,
            "orgUnit=06877&dataElement=0101&categoryOptionCombo=E09.M"
        ),
        set(&[m])
    );
    // filters by UID through inputIdScheme
    map_all(&s);
    assert_eq!(
        codes_out(
            &s,
            "inputIdScheme=UID&orgUnit=OUquangNinh&children=true&dataElement=dEcnscdToAA&period=2025"
        ),
        set(&[a, b, tien_yen])
    );
    // lastUpdated: an instant, in UTC or with a zone; lastUpdatedDuration: a span before now.
    // The E09.M value was last changed two days ago.
    s.db.write(|c| {
        c.execute(
            "UPDATE data_value SET updated_at = $1 WHERE disagg_id IN (SELECT id FROM disaggregation WHERE code = 'E09.M')",
            &[dantoc_store::clock::in_seconds(-2 * 86_400).into()],
        )
    })
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let r = s.post_json(
        "/api/dataValueSets",
        &json!({"dataValues": [{"dataElement": "0101", "period": "2025", "orgUnit": "06877", "categoryOptionCombo": "E09.F", "value": "2"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh = s
        .get("/api/dataValueSets?orgUnit=06877&dataElement=0101&categoryOptionCombo=E09.F")
        .json();
    let at = fresh["dataValues"][0]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        codes_out(&s, &format!("orgUnit=06877&lastUpdated={at}")),
        set(&[f])
    );
    // the same instant as Vietnam's clock shows it (UTC+7), the + escaped or not
    let ms = dantoc_store::clock::parse_instant(&at).unwrap();
    let local = dantoc_store::clock::format_millis(ms + 7 * 3_600_000).replace('Z', "+07:00");
    assert_eq!(
        codes_out(
            &s,
            &format!("orgUnit=06877&lastUpdated={}", local.replace('+', "%2B"))
        ),
        set(&[f])
    );
    assert_eq!(
        codes_out(&s, &format!("orgUnit=06877&lastUpdated={local}")),
        set(&[f])
    );
    assert_eq!(
        codes_out(&s, "orgUnit=06877&dataElement=0101&lastUpdatedDuration=1d"),
        set(&[f])
    );
    assert_eq!(
        codes_out(&s, "orgUnit=06877&dataElement=0101&lastUpdatedDuration=47h"),
        set(&[f])
    );
    assert_eq!(
        codes_out(&s, "orgUnit=06877&dataElement=0101&lastUpdatedDuration=3d"),
        set(&[f, m])
    );
    assert_eq!(
        codes_out(&s, "orgUnit=06877&dataElement=0101&lastUpdated=2020-01-01"),
        set(&[f, m])
    );
    for (q, field) in [
        ("lastUpdatedDuration=10w", "lastUpdatedDuration"),
        ("lastUpdated=yesterday", "lastUpdated"),
    ] {
        let r = s.get(&format!("/api/dataValueSets?orgUnit=06877&{q}"));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["errors"][0]["field"], field);
    }
    // dataSet: the values of the form's indicators (BM-DTTS-01 holds 0101, BM-DTTS-02
    // x-cnscd-to), narrowed by any dataElement named
    assert_eq!(
        codes_out(&s, "orgUnit=06877&dataSet=BM-DTTS-01"),
        set(&[f, m])
    );
    assert_eq!(
        codes_out(&s, "orgUnit=06877&dataSet=BM-DTTS-02"),
        set(&[b, b24])
    );
    assert_eq!(
        codes_out(&s, "orgUnit=06877&dataSet=BM-DTTS-02&dataElement=0101"),
        set(&[])
    );
    let r = s.get("/api/dataValueSets?orgUnit=06877&dataSet=KHONG_CO");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["field"], "dataSet");
    // on import, a value of an indicator that is not on the dataSet's form is refused
    let r = s.post_json(
        "/api/dataValueSets",
        &json!({"dataSet": "BM-DTTS-02", "dataValues": [
            v("x-cnscd-to", "2025", "06862", "default"),
            v("0101", "2025", "06862", "E09.F"),
        ]}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        r.json()["response"]["conflicts"][0]["field"],
        "dataValues[1].dataElement",
        "{}",
        r.body
    );
}

/// `DELETE /api/dhis2/uids?kind=&code=`: authorised like PUT (the catalogue right, units in
/// scope), audited; the UID no longer translates and is free for another item.
fn a_uid_mapping_is_deleted_by_whoever_may_put_it(s: Server) {
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    let tinh = s.token_client("can-bo-tinh", Role::ProvinceOfficer, &["22"], true);
    assert_eq!(tinh.put_json("/api/dhis2/uids", &mappings()).status, 200);
    let one = "/api/dhis2/uids?kind=orgUnit&code=06877";
    assert_eq!(s.anon.delete(one).status, 401);
    assert_eq!(
        xa.delete(one).status,
        403,
        "a commune officer changes no mapping"
    );
    let r = tinh.delete("/api/dhis2/uids?kind=unit&code=04");
    assert_eq!(r.status, 403, "another province's unit: {}", r.body);
    assert_eq!(tinh.delete("/api/dhis2/uids?kind=unit").status, 400);
    assert_eq!(
        tinh.delete("/api/dhis2/uids?kind=village&code=22").status,
        400
    );
    let r = tinh.delete(one);
    assert_eq!(r.status, 200, "{}", r.body);
    let gone = &r.json()["deleted"];
    assert_eq!(
        (
            gone["kind"].as_str(),
            gone["code"].as_str(),
            gone["uid"].as_str()
        ),
        (Some("unit"), Some("06877"), Some("OU06877curr"))
    );
    assert_eq!(tinh.delete(one).status, 404, "deleted once");
    let units: Vec<String> = s.get("/api/dhis2/uids?kind=unit").json()["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["uid"].as_str().unwrap().to_string())
        .collect();
    assert!(!units.contains(&"OU06877curr".to_string()), "{units:?}");
    assert_eq!(units.len(), 3);
    // the UID names nothing now: a value sent with it is refused, naming it
    let r = s.post_json(
        "/api/dataValueSets?idScheme=UID",
        &json!({"dataValues": [{"dataElement": "dEcnscdToAA", "period": "2025",
            "orgUnit": "OU06877curr", "categoryOptionCombo": DEFAULT, "value": "9"}]}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        r.json()["response"]["conflicts"][0]["object"],
        "OU06877curr"
    );
    // and it is free for another unit
    let r = tinh.put_json(
        "/api/dhis2/uids",
        &json!([{"kind": "unit", "code": "06862@2024", "uid": "OU06877curr"}]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let audit = s.get("/api/audit?entity=dhis2_uid&limit=100").json();
    let del: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "delete")
        .collect();
    assert_eq!(del.len(), 1, "{audit}");
    assert_eq!(del[0]["entity_key"], "unit/06877");
    assert_eq!(del[0]["before"], json!({"uid": "OU06877curr"}));
    assert!(
        del[0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("can-bo-tinh (token ")
    );
}

fn uid_mappings_need_the_catalogue_right_and_stay_in_scope(s: Server) {
    let xa = s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true);
    let tinh = s.token_client("can-bo-tinh", Role::ProvinceOfficer, &["22"], true);
    let one = json!([{"kind": "unit", "code": "06877", "uid": "OU06877curr"}]);
    // a commune officer writes no mapping, by JSON or CSV
    assert_eq!(xa.put_json("/api/dhis2/uids", &one).status, 403);
    assert_eq!(
        xa.post(
            "/api/dhis2/uids.csv",
            "text/csv",
            "kind,code,uid\nunit,06877,OU06877curr\n"
        )
        .status,
        403
    );
    assert_eq!(s.anon.get("/api/dhis2/uids").status, 401);
    assert_eq!(s.anon.put_json("/api/dhis2/uids", &one).status, 401);
    // a provincial officer maps units of the province, not others'
    let r = tinh.put_json(
        "/api/dhis2/uids",
        &json!([
            {"kind": "unit", "code": "06877", "uid": "OU06877curr"},
            {"kind": "unit", "code": "04", "uid": "OUcaoBang01"},
        ]),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let e = &r.json()["errors"][0];
    assert_eq!(
        (e["field"].as_str(), e["value"].as_str()),
        (Some("[1].code"), Some("04"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("outside your administrative units")
    );
    assert_eq!(s.get("/api/dhis2/uids").json()["mappings"], json!([]));
    let r = tinh.put_json("/api/dhis2/uids", &mappings());
    assert_eq!(r.status, 200, "{}", r.body);
    // everyone logged in reads them, by kind
    let units = xa.get("/api/dhis2/uids?kind=orgUnit");
    assert_eq!(units.status, 200);
    let got: Vec<(String, String)> = units.json()["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["kind"], "unit");
            assert!(
                m["updated_by"]
                    .as_str()
                    .unwrap()
                    .starts_with("can-bo-tinh (token ")
            );
            (
                m["code"].as_str().unwrap().to_string(),
                m["uid"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.contains(&("06877@2024".into(), "OU06877old1".into())));
    assert_eq!(xa.get("/api/dhis2/uids?kind=village").status, 400);
    // each mapping audited under its writer
    let audit = s.get("/api/audit?entity=dhis2_uid&limit=100").json();
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 11, "{audit}");
    assert!(
        entries.iter().all(|e| e["actor"]
            .as_str()
            .unwrap()
            .starts_with("can-bo-tinh (token ")),
        "{audit}"
    );
    // exports stay within the reader's units, UIDs or not
    let r = s.post_json("/api/dataValueSets?idScheme=UID", &uid_payload());
    assert_eq!(r.status, 200, "{}", r.body);
    let mine = xa
        .get("/api/dataValueSets?idScheme=UID&orgUnit=OUquangNinh&children=true")
        .json();
    let units: BTreeSet<String> = tuples(&mine).into_iter().map(|t| t.2).collect();
    assert_eq!(units, set(&["OU06877curr"]), "{mine}");
    assert_eq!(
        xa.get("/api/dataValueSets?idScheme=UID&orgUnit=OU06862curr")
            .json()["dataValues"],
        json!([])
    );
    // and writes too: a UID naming another commune is refused, naming the UID
    let foreign = json!({"dataValues": [
        {"dataElement": "dEcnscdToAA", "period": "2025", "orgUnit": "OU06862curr", "categoryOptionCombo": DEFAULT, "value": "9"}
    ]});
    let r = xa.post_json("/api/dataValueSets?idScheme=UID", &foreign);
    assert_eq!(r.status, 409, "{}", r.body);
    let c = &r.json()["response"]["conflicts"][0];
    assert_eq!(c["object"], "OU06862curr");
    let msg = c["value"].as_str().unwrap();
    assert!(
        msg.contains("outside your administrative units") && msg.contains("06862"),
        "{msg}"
    );
}

fn uid_mappings_from_csv_are_located_and_all_or_nothing(s: Server) {
    let bad = "\u{feff}kind,code,uid,name\n\
               indicator,0101,dEpop0101AA,Dân số DTTS\n\
               orgUnit,99999,OU99999xxxx,\n\
               disaggregation,E09.F,COC-bad,\n\
               form,DTTS_ANNUAL,DSdttsAnnua,\n\
               indicator,x-cnscd-to,dEpop0101AA,\n";
    let r = s.post("/api/dhis2/uids.csv", "text/csv", bad);
    assert_eq!(r.status, 400, "{}", r.body);
    let located: Vec<(u64, u64, String)> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        located,
        vec![
            (3, 2, "code".into()),
            (4, 3, "uid".into()),
            (6, 3, "uid".into())
        ]
    );
    let msg = r.json()["errors"][2]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("row 2"),
        "names the row that has the UID: {msg}"
    );
    assert_eq!(s.get("/api/dhis2/uids").json()["mappings"], json!([]));
    let r = s.post(
        "/api/dhis2/uids.csv",
        "text/csv",
        "kind,uid\nunit,OU06877curr\n",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["row"], 1);
    assert!(r.body.contains("code"));
    let good = "kind,code,uid\r\ndataElement,0101,dEpop0101AA\r\norgUnit,06877,OU06877curr\r\ncategoryOptionCombo,E09.F,COCe09Fem01\r\ndataSet,DTTS_ANNUAL,DSdttsAnnua\r\n";
    let r = s.post("/api/dhis2/uids.csv?dryRun=true", "text/csv", good);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.json()["created"].as_u64(), r.json()["dryRun"].as_bool()),
        (Some(4), Some(true))
    );
    assert_eq!(s.get("/api/dhis2/uids").json()["mappings"], json!([]));
    let r = s.post("/api/dhis2/uids.csv", "text/csv", good);
    assert_eq!(r.json()["created"], 4, "{}", r.body);
    let r = s.post("/api/dhis2/uids.csv", "text/csv", good);
    assert_eq!(
        (r.json()["created"].as_u64(), r.json()["unchanged"].as_u64()),
        (Some(0), Some(4))
    );
    let forms = s.get("/api/dhis2/uids?kind=dataSet").json();
    assert_eq!(
        forms["mappings"],
        json!([{"kind": "form", "code": "DTTS_ANNUAL", "uid": "DSdttsAnnua",
                "updated_at": forms["mappings"][0]["updated_at"], "updated_by": "tester (token 1)"}])
    );
    // JSON errors are located by item
    let r = s.put_json(
        "/api/dhis2/uids",
        &json!([{"kind": "unit", "code": "06877", "uid": "OU06877curr"}, {"kind": "unit", "code": "06862", "uid": "OU06877curr"}]),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "[1].uid");
    let r = s.put_json(
        "/api/dhis2/uids",
        &json!([{"kind": "unit", "code": "06877"}]),
    );
    assert_eq!(r.status, 400, "a missing field is named: {}", r.body);
    assert!(r.body.contains("uid"));
}

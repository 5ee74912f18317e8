//! Form files over real HTTP, on SQLite and on PostgreSQL: the Excel template of a form for a
//! unit and period, edited by a program other than dantoc (openpyxl, in the venv at
//! `DANTOC_TEST_PYTHON`), imported back all or nothing; located conflicts; refusals of files of
//! another form, unit or period and of changed keys; no panic on damaged files.

mod common;

use common::{Client, Server, start};
use dantoc_domain::access::Role;
use serde_json::{Value, json};
use std::collections::BTreeMap;

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
    template_round_trip_through_openpyxl,
    wrong_files_are_refused_and_conflicts_located,
    decimal_comma_and_a_form_csv,
);

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const TEMPLATE: &str = "/api/forms/BM-DTTS-01/template.xlsx?ou=06877&pe=2026";
const IMPORT: &str = "/api/forms/BM-DTTS-01/import.xlsx";

fn python(script: &str, args: &[&std::path::Path]) -> Value {
    let python = std::env::var("DANTOC_TEST_PYTHON").expect(
        "DANTOC_TEST_PYTHON is not set: run scripts/test.sh (it makes the venv with openpyxl)",
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/python")
        .join(script);
    let out = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Edit a form file with openpyxl; returns the edited file and what the script printed.
fn edit(file: &[u8], edits: Value) -> (Vec<u8>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, e) = (
        dir.path().join("in.xlsx"),
        dir.path().join("out.xlsx"),
        dir.path().join("edits.json"),
    );
    std::fs::write(&src, file).unwrap();
    std::fs::write(&e, edits.to_string()).unwrap();
    let out = python("edit_form_xlsx.py", &[&src, &dst, &e]);
    (std::fs::read(&dst).unwrap(), out)
}

fn read_back(file: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bieu.xlsx");
    std::fs::write(&path, file).unwrap();
    python("read_form_xlsx.py", &[&path])
}

fn set(ind: &str, disagg: &str, value: Value) -> Value {
    json!({"indicator": ind, "disagg": disagg, "value": value})
}

fn write(s: &Server, values: &[(&str, &str, &str, &str)]) {
    let dv: Vec<Value> = values
        .iter()
        .map(|(de, pe, coc, v)| json!({"dataElement": de, "orgUnit": "06877", "period": pe, "categoryOptionCombo": coc, "value": v}))
        .collect();
    let r = s.post_json("/api/dataValueSets", &json!({ "dataValues": dv }));
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The stored values of a unit and period: (indicator, disaggregation) → value.
fn stored(s: &Server, unit: &str, period: &str) -> BTreeMap<(String, String), String> {
    let j = s
        .get(&format!("/api/dataValues?unit={unit}&period={period}"))
        .json();
    j["dataValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                (
                    v["indicator"].as_str().unwrap().to_string(),
                    v["disagg"].as_str().unwrap().to_string(),
                ),
                v["value_text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn map(pairs: &[(&str, &str, &str)]) -> BTreeMap<(String, String), String> {
    pairs
        .iter()
        .map(|(i, d, v)| ((i.to_string(), d.to_string()), v.to_string()))
        .collect()
}

fn seed(s: &Server) -> Client {
    write(
        s,
        &[
            ("x-pop-total", "2026", "M", "500"),
            ("x-pop-total", "2026", "F", "510"),
            ("0101", "2026", "E02.M", "100"),
            ("0101", "2026", "E02.F", "110"),
            ("0101", "2026", "E10.M", "50"),
            ("0101", "2025", "E02.M", "90"),
            ("x-ho-dtts", "2026", "E02", "40"),
        ],
    );
    s.token_client("can-bo-xa", Role::CommuneOfficer, &["06877"], true)
}

fn template_round_trip_through_openpyxl(s: Server) {
    let officer = seed(&s);
    assert_eq!(s.anon.get(TEMPLATE).status, 401, "log in first");
    let r = officer.get("/api/forms/BM-DTTS-01/template.xlsx?ou=06862&pe=2026");
    assert_eq!(r.status, 403, "another commune: {}", r.body);
    let file = officer.get_bytes(TEMPLATE);

    // locked labels, unlocked inputs, validations: read by openpyxl
    let t = read_back(&file);
    assert_eq!(t["protected"], true);
    assert_eq!(t["states"], json!(["visible", "veryHidden"]));
    let cells = t["cells"].as_object().unwrap();
    // the first cell (by row) holding a text
    let at = |text: &str| -> String {
        cells
            .iter()
            .filter(|(_, c)| c["value"] == text)
            .map(|(k, _)| k.clone())
            .min_by_key(|k| k[1..].parse::<u32>().unwrap_or(u32::MAX))
            .unwrap_or_else(|| panic!("no cell {text:?}"))
    };
    assert!(
        cells["A1"]["value"]
            .as_str()
            .unwrap()
            .starts_with("Biểu 01/DT: Dân số, hộ và hộ nghèo dân tộc thiểu số")
    );
    assert!(
        cells["A2"]["value"].as_str().unwrap().contains("06877"),
        "{}",
        cells["A2"]
    );
    assert_eq!(cells[&at("Tày")]["locked"], true);
    let unlocked: Vec<&String> = cells
        .iter()
        .filter(|(_, c)| c["locked"] == false)
        .map(|(k, _)| k)
        .collect();
    let keys: Vec<Vec<String>> = serde_json::from_value(t["keys"].clone()).unwrap();
    let key_cells: Vec<&String> = keys[7..].iter().map(|r| &r[0]).collect();
    assert_eq!(
        {
            let mut u = unlocked.clone();
            u.sort();
            u
        },
        {
            let mut k = key_cells.clone();
            k.sort();
            k
        },
        "exactly the keyed cells are unlocked"
    );
    // x-pop-total (sex), 0101 (2 groups × sex), x-ho-dtts, x-ho-ngheo-dtts (2 groups)
    assert_eq!(key_cells.len(), 2 + 4 + 2 + 2);
    let dv = t["validations"].as_array().unwrap();
    assert_eq!(dv.len(), 4, "one per item: {dv:?}");
    for v in dv {
        assert_eq!(v["type"], "whole", "{v}");
        assert_eq!(v["operator"], "greaterThanOrEqual");
        assert_eq!(v["formula1"], "0");
    }
    let tay = at("Tày");
    let r: u32 = tay[1..].parse().unwrap();
    assert_eq!(cells[&format!("B{r}")]["value"], 100, "pre-filled");
    assert_eq!(
        cells[&format!("D{r}")]["value"],
        format!("=SUM(B{r}:C{r})"),
        "a total is a formula"
    );
    assert_eq!(cells[&format!("E{r}")]["value"], 90, "the previous year");

    // an officer's edits, saved by openpyxl
    let (edited, out) = edit(
        &file,
        json!({"values": [
            set("x-pop-total", "F", json!(520)),
            set("0101", "E02.M", json!(105)),
            set("0101", "E02.F", Value::Null),
            set("0101", "E10.F", json!("60")),
            set("x-ho-dtts", "E10", json!("1.234,0")),
            set("x-ho-ngheo-dtts", "E02", json!(12)),
        ]}),
    );
    assert_eq!(
        out["keys"], t["keys"],
        "openpyxl keeps the keys as they were"
    );
    assert_eq!(out["states"], json!(["visible", "veryHidden"]));
    assert_eq!(out["cells"]["0101|E02.M"], format!("B{r}"));

    let before = stored(&s, "06877", "2026");
    let dry = officer.post_bytes(&format!("{IMPORT}?dryRun=true"), XLSX, &edited);
    assert_eq!(dry.status, 200, "{}", dry.body);
    let d = dry.json();
    assert_eq!(d["dryRun"], true);
    assert_eq!(
        d["importCount"],
        json!({"imported": 3, "updated": 2, "ignored": 3, "deleted": 1}),
        "{d}"
    );
    assert_eq!(
        stored(&s, "06877", "2026"),
        before,
        "a dry run writes nothing"
    );

    let r = officer.post_bytes(IMPORT, XLSX, &edited);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["importCount"], d["importCount"]);
    assert_eq!(
        stored(&s, "06877", "2026"),
        map(&[
            ("0101", "E02.M", "105"),
            ("0101", "E10.F", "60"),
            ("0101", "E10.M", "50"),
            ("x-ho-dtts", "E02", "40"),
            ("x-ho-dtts", "E10", "1234"),
            ("x-ho-ngheo-dtts", "E02", "12"),
            ("x-pop-total", "F", "520"),
            ("x-pop-total", "M", "500"),
        ]),
        "the stored values are what openpyxl wrote"
    );
    // the same file again changes nothing
    let again = officer.post_bytes(IMPORT, XLSX, &edited);
    assert_eq!(again.status, 200, "{}", again.body);
    let c = &again.json()["importCount"];
    assert_eq!(
        (
            c["imported"].clone(),
            c["updated"].clone(),
            c["deleted"].clone()
        ),
        (json!(0), json!(0), json!(0)),
        "{c}"
    );
    // written in the officer's name, each value audited
    let log = s.get("/api/audit?entity=data_value").json();
    let by_officer = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"].as_str().unwrap_or("").starts_with("can-bo-xa"))
        .count();
    assert_eq!(by_officer, 6, "{log}");

    // a template without the stored values: every input empty, one filled
    let blank = officer.get_bytes(&format!("{TEMPLATE}&prefill=false"));
    let b = read_back(&blank);
    let filled = b["cells"]
        .as_object()
        .unwrap()
        .values()
        .filter(|c| c["locked"] == false && !c["value"].is_null())
        .count();
    assert_eq!(filled, 0);
    let (edited, _) = edit(
        &blank,
        json!({"values": [set("0101", "E02.F", json!(115))]}),
    );
    let r = officer.post_bytes(IMPORT, XLSX, &edited);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["importCount"]["imported"], 1);
    assert_eq!(stored(&s, "06877", "2026").len(), 9);
}

fn wrong_files_are_refused_and_conflicts_located(s: Server) {
    let officer = seed(&s);
    let file = officer.get_bytes(TEMPLATE);
    let before = stored(&s, "06877", "2026");
    let count = s.count_values();

    // text in a number cell, a decimal in a whole-number cell: located, nothing written
    let (bad, out) = edit(
        &file,
        json!({"values": [
            set("0101", "E02.M", json!("nhiều")),
            set("x-ho-dtts", "E02", json!("12,5")),
            set("x-pop-total", "F", json!(999)),
        ]}),
    );
    let r = officer.post_bytes(IMPORT, XLSX, &bad);
    assert_eq!(r.status, 409, "{}", r.body);
    let j = r.json();
    assert_eq!(j["status"], "ERROR");
    let conflicts = j["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 2, "{j}");
    let cell = |k: &str| format!("Biểu!{}", out["cells"][k].as_str().unwrap());
    assert_eq!(conflicts[0]["cell"], cell("0101|E02.M"), "{j}");
    assert_eq!(conflicts[0]["field"], "value");
    assert_eq!(conflicts[0]["value"], "nhiều");
    assert_eq!(conflicts[1]["cell"], cell("x-ho-dtts|E02"), "{j}");
    assert!(
        conflicts[1]["message"]
            .as_str()
            .unwrap()
            .contains("whole number"),
        "{j}"
    );
    assert_eq!(stored(&s, "06877", "2026"), before, "nothing written");
    assert_eq!(s.count_values(), count);

    // a file of another unit, form or period than asked for
    let (ok, _) = edit(
        &file,
        json!({"values": [set("x-pop-total", "F", json!(600))]}),
    );
    let r = officer.post_bytes(&format!("{IMPORT}?ou=06862"), XLSX, &ok);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("unit 06877, not 06862"), "{}", r.body);
    let r = officer.post_bytes(&format!("{IMPORT}?pe=2025"), XLSX, &ok);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = officer.post_bytes("/api/forms/BM-DTTS-02/import.xlsx", XLSX, &ok);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("form BM-DTTS-01, not BM-DTTS-02"),
        "{}",
        r.body
    );
    // a file of a commune outside the officer's units
    let other = s
        .admin
        .get_bytes("/api/forms/BM-DTTS-01/template.xlsx?ou=06862&pe=2026");
    let (other, _) = edit(
        &other,
        json!({"values": [set("x-pop-total", "F", json!(1))]}),
    );
    let r = officer.post_bytes(IMPORT, XLSX, &other);
    assert_eq!(r.status, 403, "{}", r.body);
    // keys changed by hand: the checksum no longer matches
    let (tampered, _) = edit(&ok, json!({"keys": [{"cell": "C8", "value": "E10.F"}]}));
    let r = officer.post_bytes(IMPORT, XLSX, &tampered);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("_dantoc") && r.body.contains("checksum"),
        "{}",
        r.body
    );
    let (tampered, _) = edit(
        &ok,
        json!({"keys": [{"cell": "D9", "value": "06862@2025"}]}),
    );
    let r = officer.post_bytes(IMPORT, XLSX, &tampered);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("another unit"), "{}", r.body);
    assert_eq!(s.count_values(), count);
    assert_eq!(stored(&s, "06877", "2026"), before);

    // someone changed a value after the file was made: the file's change is a conflict, unless
    // forced
    write(&s, &[("x-pop-total", "2026", "F", "700")]);
    let r = officer.post_bytes(IMPORT, XLSX, &ok);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("changed since this file was made"),
        "{}",
        r.body
    );
    let r = officer.post_bytes(&format!("{IMPORT}?force=true"), XLSX, &ok);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        stored(&s, "06877", "2026")[&("x-pop-total".into(), "F".into())],
        "600"
    );

    // damaged files: refused with a message, never a panic (nor a 500)
    let n = file.len();
    let mut cuts: Vec<usize> = (0..n).step_by(n / 40 + 1).collect();
    cuts.extend([n - 1, n - 22, 4, 30]);
    for cut in cuts {
        let e = dantoc_store::xlsx_values::read(&file[..cut]).unwrap_err();
        assert_eq!(e.field, "file", "cut at {cut}: {e}");
    }
    let mut flipped = file.clone();
    for i in (100..n).step_by(97) {
        flipped[i] ^= 0x5a;
    }
    assert!(dantoc_store::xlsx_values::read(&flipped).is_err());
    for body in [&file[..n / 2], b"PK\x03\x04 not a zip", b"", &flipped[..]] {
        let r = officer.post_bytes(IMPORT, XLSX, body);
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.json()["errors"][0]["field"] == "file", "{}", r.body);
    }
    let csv = b"indicator,unit,period,value\nx,06877,2025,1\n";
    let r = officer.post_bytes(IMPORT, XLSX, csv);
    assert!(r.body.contains("not an .xlsx file"), "{}", r.body);
}

fn decimal_comma_and_a_form_csv(s: Server) {
    // a form of a decimal indicator, made by a provincial officer
    let province = s.token_client("can-bo-tinh", Role::ProvinceOfficer, &["22"], true);
    let form = json!({
        "code": "BM-THU-KP", "name_vi": "Biểu thử: kinh phí điện thoại cho người có uy tín",
        "period_type": "yearly", "level": "commune", "deadline_days": 30,
        "sections": [{"title_vi": "Kinh phí", "items": [
            {"indicator": "x-ncut-smartphone-kp"}, {"indicator": "x-cnscd-to"}
        ]}]
    });
    let r = province.put_json("/api/forms/BM-THU-KP", &form);
    assert_eq!(r.status, 201, "{}", r.body);
    let file = province.get_bytes("/api/forms/BM-THU-KP/template.xlsx?ou=06877&pe=2025");
    let t = read_back(&file);
    let dv = t["validations"].as_array().unwrap();
    assert!(dv.iter().any(|v| v["type"] == "decimal"), "{dv:?}");
    assert!(dv.iter().any(|v| v["type"] == "whole"), "{dv:?}");
    let (edited, _) = edit(
        &file,
        json!({"values": [
            set("x-ncut-smartphone-kp", "default", json!("12,5")),
            set("x-cnscd-to", "default", json!(3)),
        ]}),
    );
    let r = province.post_bytes("/api/forms/BM-THU-KP/import.xlsx", XLSX, &edited);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        stored(&s, "06877", "2025"),
        map(&[
            ("x-cnscd-to", "default", "3"),
            ("x-ncut-smartphone-kp", "default", "12.5")
        ])
    );

    // CSV of a form: only its cells, of the unit and period asked for
    let csv = "indicator,unit,period,disaggregation,value\n\
               x-cnscd-to,06877,2025,default,4\n\
               x-pop-total,06877,2025,default,9\n\
               x-ncut-smartphone-kp,06862,2025,,1\n";
    let r = province.post("/api/forms/BM-THU-KP/import.csv?ou=06877", "text/csv", csv);
    assert_eq!(r.status, 409, "{}", r.body);
    let c = r.json()["conflicts"].clone();
    assert_eq!(
        (c[0]["row"].clone(), c[0]["field"].clone()),
        (json!(3), json!("indicator")),
        "{c}"
    );
    assert_eq!(
        (c[1]["row"].clone(), c[1]["field"].clone()),
        (json!(4), json!("unit")),
        "{c}"
    );
    let r = province.post(
        "/api/forms/BM-THU-KP/import.csv?ou=06877&pe=2025",
        "text/csv",
        "indicator,unit,period,value\nx-cnscd-to,06877,2025,4\n",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        stored(&s, "06877", "2025")[&("x-cnscd-to".into(), "default".into())],
        "4"
    );

    // the forms page lists the forms with their download and upload forms
    let page = s.anon.get("/bieu-mau");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("BM-THU-KP") && page.body.contains("Đăng nhập"),
        "{}",
        page.body
    );
    let (_, session) = s.login("can-bo-tinh", common::PASSWORD);
    let page = session.expect("login").get("/bieu-mau");
    assert!(
        page.body.contains("/api/forms/BM-DTTS-01/template.xlsx"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Tải mẫu Excel") && page.body.contains("data-csrf"),
        "{}",
        page.body
    );
    assert_eq!(s.anon.get("/static/form-files.js").status, 200);
}

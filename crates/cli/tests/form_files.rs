//! `dantoc import form FILE.xlsx`: a form's Excel file, made by the template generator and
//! edited with openpyxl (`DANTOC_TEST_PYTHON`), imported from the command line on SQLite and
//! on PostgreSQL.

#[macro_use]
mod common;
use common::{dantoc, text, tmp};

use dantoc_store::form_files::{self, TemplateRequest};
use dantoc_store::testing::TestDb;
use dantoc_store::values::{self, ImportOptions, RawValue};
use std::path::Path;
use std::process::Command;

on_both_backends!(form_file_imports_from_the_command_line);

/// Edit with openpyxl (tests/python/edit_form_xlsx.py): `edits` as that script reads them.
fn edit(src: &Path, dst: &Path, edits: serde_json::Value) {
    let python = std::env::var("DANTOC_TEST_PYTHON").expect(
        "DANTOC_TEST_PYTHON is not set: run scripts/test.sh (it makes the venv with openpyxl)",
    );
    let e = dst.with_extension("json");
    std::fs::write(&e, edits.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/edit_form_xlsx.py");
    let out = Command::new(python)
        .arg(script)
        .args([src, dst, &e])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stored(db: &TestDb) -> Vec<(String, String)> {
    let f = values::ValueFilter {
        units: vec!["06877".into()],
        periods: vec!["2026".into()],
        limit: 100,
        ..Default::default()
    };
    db.read(|c| values::query(c, &f))
        .unwrap()
        .into_iter()
        .map(|v| (format!("{}|{}", v.indicator, v.disagg), v.value_text))
        .collect()
}

fn form_file_imports_from_the_command_line(fresh: fn() -> TestDb, name: &str) {
    let db = fresh();
    let dir = tmp(name);
    let raw = RawValue {
        indicator: "0101".into(),
        unit: "06877".into(),
        period: "2026".into(),
        disagg: "E02.M".into(),
        value: Some("100".into()),
        ..Default::default()
    };
    let s = values::import(
        &db,
        &dantoc_store::audit::Actor::cli(),
        &ImportOptions::default(),
        [Ok(raw)],
        &|_, e| e,
    )
    .unwrap();
    assert_eq!(s.status, "SUCCESS");
    let req = TemplateRequest {
        form: "BM-DTTS-01".into(),
        unit: "06877".into(),
        period: "2026".into(),
        prefill: true,
        ethnic: vec![],
    };
    let sheet = db.read(|c| form_files::sheet(c, &req, None)).unwrap();
    let (bytes, _) = dantoc_report::form_xlsx::write(&sheet).unwrap();
    let template = dir.join("bieu.xlsx");
    std::fs::write(&template, bytes).unwrap();
    let filled = dir.join("da-dien.xlsx");
    edit(
        &template,
        &filled,
        serde_json::json!({"values": [
            {"indicator": "0101", "disagg": "E02.M", "value": 120},
            {"indicator": "x-pop-total", "disagg": "F", "value": "4.512"}
        ]}),
    );
    let file = filled.to_str().unwrap();
    let o = dantoc(&db, &["import", "form", file, "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("dry run"), "{}", text(&o));
    assert_eq!(stored(&db), [("0101|E02.M".into(), "100".into())]);
    let o = dantoc(&db, &["import", "form", file]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 imported, 1 updated"), "{}", text(&o));
    let mut got = stored(&db);
    got.sort();
    assert_eq!(
        got,
        [
            ("0101|E02.M".to_string(), "120".to_string()),
            ("x-pop-total|F".into(), "4512".into())
        ]
    );

    // a text in a number cell: named by sheet and cell, nothing written
    let bad = dir.join("sai.xlsx");
    edit(
        &template,
        &bad,
        serde_json::json!({"values": [{"indicator": "x-pop-total", "disagg": "M", "value": "khoảng 300"}]}),
    );
    let o = dantoc(&db, &["import", "form", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("sai.xlsx: Biểu!B9 (value)"), "{t}");
    assert!(t.contains("nothing was imported"), "{t}");
    let o = dantoc(
        &db,
        &["import", "form", dir.join("bieu.csv").to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("cannot open"), "{}", text(&o));
}

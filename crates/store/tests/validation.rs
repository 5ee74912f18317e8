//! Validation rules on imports and in the batch report, on SQLite and on PostgreSQL.

use dantoc_domain::FieldError;
use dantoc_domain::validation::{Importance, Kind, Missing, Mode, Operator, RuleDef};
use dantoc_store::StoreError;
use dantoc_store::audit::Actor;
use dantoc_store::testing::TestDb;
use dantoc_store::validation::{self, ReportFilter, ValidationMode};
use dantoc_store::values::{self, ImportOptions, ImportSummary, RawValue, Strategy};

dantoc_store::on_both_backends!(
    refused_import_changes_nothing_and_names_row_and_rule,
    report_mode_writes_and_reports,
    stored_operands_are_used_when_the_import_lacks_them,
    concurrent_imports_cannot_both_pass_a_rule_they_break_together,
    totals_use_one_breakdown_level_and_warnings_never_refuse,
    strategies_judge_what_will_be_stored,
    bulk_and_streamed_imports_are_checked_and_roll_back,
    bounds_on_one_disaggregation_and_missing_as_zero,
    rules_crud_is_checked_and_audited,
    batch_report_over_a_subtree_and_periods,
    demo_data_passes_the_seed_rules,
);

fn actor() -> Actor {
    Actor {
        name: "tester".into(),
        origin: "test".into(),
    }
}

fn rv(ind: &str, unit: &str, period: &str, disagg: &str, value: &str) -> RawValue {
    RawValue {
        indicator: ind.into(),
        unit: unit.into(),
        period: period.into(),
        disagg: disagg.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

/// Import with rows numbered as in a file (the first value on row 2).
fn import(db: &TestDb, opts: &ImportOptions, vals: Vec<RawValue>) -> ImportSummary {
    values::import(
        db,
        &actor(),
        opts,
        vals.into_iter().map(Ok),
        &|i, e: FieldError| e.at(i as u64 + 2, None),
    )
    .unwrap()
}

fn opts(mode: ValidationMode) -> ImportOptions {
    ImportOptions {
        validation: mode,
        what: "test".into(),
        ..Default::default()
    }
}

fn stored(db: &TestDb) -> i64 {
    db.read(values::count).unwrap()
}

fn audits(db: &TestDb) -> i64 {
    db.read(|c| c.scalar_i64("SELECT count(*) FROM audit_log", &[]))
        .unwrap()
}

const COMMUNE: &str = "06877@2024";

fn refused_import_changes_nothing_and_names_row_and_rule(db: &TestDb) {
    let before = audits(db);
    let s = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-ho-dtts", COMMUNE, "2024", "E02", "100"),
            rv("x-ho-dtts", COMMUNE, "2024", "E09", "40"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E09", "12"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "120"),
        ],
    );
    assert_eq!(s.status, "ERROR", "{s:?}");
    assert_eq!((s.conflict_count, s.import_count.imported), (1, 0));
    let c = &s.conflicts[0];
    // the cell E02: the first of its values is on row 2
    assert_eq!((c.row, c.field.as_str()), (Some(2), "value"));
    assert!(c.message.contains("ho-ngheo-le-ho-dtts"), "{}", c.message);
    assert!(c.message.contains("120 ≤ 100"), "{}", c.message);
    assert!(c.message.contains("06877@2024, 2024, E02"), "{}", c.message);
    assert_eq!(s.validation_count, 1);
    let v = &s.validation[0];
    assert_eq!((v.check.left, v.check.right), (120.0, 100.0));
    assert_eq!(v.check.operator, Operator::Le);
    assert_eq!(v.check.importance, Importance::Error);
    assert_eq!(v.unit_name, "Đông Ngũ");
    assert_eq!(v.disaggregation.as_deref(), Some("E02"));
    assert_eq!(v.row, Some(2));
    assert!(
        v.check.message.contains("không thỏa mãn"),
        "{}",
        v.check.message
    );
    assert_eq!(stored(db), 0);
    assert_eq!(audits(db), before, "a refused import is not audited");
    // the summary's JSON names the fields in camelCase
    let j = serde_json::to_value(&s).unwrap();
    assert_eq!(j["validationCount"], 1);
    assert_eq!(
        j["validation"][0]["ruleName"],
        "Số hộ nghèo DTTS không vượt quá số hộ DTTS"
    );
    assert_eq!(j["validation"][0]["unitVersion"], "2024");
    // a dry run says the same
    let dry = import(
        db,
        &ImportOptions {
            dry_run: true,
            ..Default::default()
        },
        vec![
            rv("x-ho-dtts", COMMUNE, "2024", "E02", "100"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "120"),
        ],
    );
    assert_eq!((dry.status, dry.conflict_count), ("ERROR", 1));
    // mended, it goes in, and the rules that ran are counted
    let ok = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-ho-dtts", COMMUNE, "2024", "E02", "100"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "100"),
        ],
    );
    assert_eq!(ok.status, "SUCCESS", "{ok:?}");
    assert_eq!((ok.validation_count, ok.validation_checks), (0, 1));
    assert_eq!(stored(db), 2);
}

fn report_mode_writes_and_reports(db: &TestDb) {
    let s = import(
        db,
        &opts(ValidationMode::Report),
        vec![
            rv("x-ho-dtts", COMMUNE, "2024", "E02", "10"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "12"),
            rv("0101", COMMUNE, "2024", "E02.M", "-3"),
        ],
    );
    assert_eq!(s.status, "SUCCESS", "{s:?}");
    assert_eq!(s.import_count.imported, 3);
    assert_eq!(s.validation_count, 2);
    let got: Vec<(&str, Option<u64>, f64, f64)> = s
        .validation
        .iter()
        .map(|v| (v.check.rule.as_str(), v.row, v.check.left, v.check.right))
        .collect();
    assert_eq!(
        got,
        vec![
            ("ho-ngheo-le-ho-dtts", Some(2), 12.0, 10.0),
            ("dan-so-dtts-khong-am", Some(4), -3.0, 0.0)
        ]
    );
    assert!(
        s.validation[1]
            .check
            .message
            .contains("nhỏ hơn mức tối thiểu 0")
    );
    assert_eq!(stored(db), 3);
    // off: no rule runs
    let s = import(
        db,
        &opts(ValidationMode::Off),
        vec![rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "50")],
    );
    assert_eq!(
        (s.status, s.validation_count, s.validation_checks),
        ("SUCCESS", 0, 0)
    );
}

fn stored_operands_are_used_when_the_import_lacks_them(db: &TestDb) {
    let s = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-ho-dtts", COMMUNE, "2024", "E02", "10"),
            rv("x-ho-dtts", COMMUNE, "2024", "E09", "30"),
        ],
    );
    assert_eq!(s.status, "SUCCESS");
    // the households are stored; the poor households come alone, as a form's cell would
    let s = import(
        db,
        &ImportOptions::default(),
        vec![rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "12")],
    );
    assert_eq!(s.status, "ERROR", "{s:?}");
    assert!(
        s.conflicts[0].message.contains("12 ≤ 10"),
        "{}",
        s.conflicts[0].message
    );
    assert_eq!(s.conflicts[0].value.as_deref(), Some("12"));
    let s = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "8"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E09", "30"),
        ],
    );
    assert_eq!((s.status, s.validation_checks), ("SUCCESS", 2), "{s:?}");
    // lowering the households below the stored poor households is refused too
    let s = import(
        db,
        &ImportOptions::default(),
        vec![rv("x-ho-dtts", COMMUNE, "2024", "E09", "29")],
    );
    assert_eq!(s.status, "ERROR");
    assert!(
        s.conflicts[0].message.contains("30 ≤ 29"),
        "{}",
        s.conflicts[0].message
    );
    // another period, another unit: nothing stored to compare with, the rule is skipped
    let s = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-ho-ngheo-dtts", COMMUNE, "2023", "E02", "99"),
            rv("x-ho-ngheo-dtts", "06862@2024", "2024", "E02", "99"),
        ],
    );
    assert_eq!((s.status, s.validation_checks), ("SUCCESS", 0), "{s:?}");
}

/// Two imports at the same time, each within the rule against what is stored, together
/// against it: 10 households and 5 poor stored; one import raises the poor to 8 (≤ 10), the
/// other lowers the households to 6 (≥ 5). The first is held open after its checks and writes
/// while the second runs: the second must wait for it (PostgreSQL: the rules' groups are
/// locked before operands are read; SQLite: one writer) and be judged against its 8.
fn concurrent_imports_cannot_both_pass_a_rule_they_break_together(db: &TestDb) {
    let s = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-ho-dtts", COMMUNE, "2024", "E02", "10"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "5"),
        ],
    );
    assert_eq!(s.status, "SUCCESS", "{s:?}");
    let (written, wait) = std::sync::mpsc::channel();
    let (first, second, waited) = std::thread::scope(|scope| {
        let first = scope.spawn(move || {
            values::import_with(
                db,
                &actor(),
                &ImportOptions::default(),
                [Ok(rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "8"))],
                &|i, e: FieldError| e.at(i as u64 + 2, None),
                &mut |_, _| {
                    // checked and written, not committed: let the other import run now
                    written.send(()).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(1500));
                    Ok(())
                },
            )
            .unwrap()
        });
        wait.recv().unwrap();
        let t = std::time::Instant::now();
        let second = import(
            db,
            &ImportOptions::default(),
            vec![rv("x-ho-dtts", COMMUNE, "2024", "E02", "6")],
        );
        (first.join().unwrap(), second, t.elapsed())
    });
    assert_eq!(first.status, "SUCCESS", "{first:?}");
    assert_eq!(second.status, "ERROR", "both passed: {second:?}");
    assert!(
        second.conflicts[0].message.contains("8 ≤ 6"),
        "judged against the first import's value: {}",
        second.conflicts[0].message
    );
    assert!(
        waited >= std::time::Duration::from_millis(500),
        "the second import waited for the first: {waited:?}"
    );
    let cell = |ind: &str| {
        db.read(|c| {
            c.query_one(
                "SELECT d.value_text FROM data_value d JOIN indicator i ON i.id = d.indicator_id
                 WHERE i.code = $1",
                &[ind.into()],
            )
        })
        .unwrap()
        .map(|r| r.str(0))
    };
    assert_eq!(cell("x-ho-dtts").as_deref(), Some("10"));
    assert_eq!(cell("x-ho-ngheo-dtts").as_deref(), Some("8"));
}

fn totals_use_one_breakdown_level_and_warnings_never_refuse(db: &TestDb) {
    // a stored total and its parts: the total counts, not the sum of all three
    let s = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-pop-total", COMMUNE, "2024", "default", "1000"),
            rv("x-pop-total", COMMUNE, "2024", "M", "500"),
            rv("x-pop-total", COMMUNE, "2024", "F", "500"),
            rv("0101", COMMUNE, "2024", "E02.M", "300"),
            rv("0101", COMMUNE, "2024", "E02.F", "300"),
        ],
    );
    assert_eq!((s.status, s.validation_count), ("SUCCESS", 0), "{s:?}");
    // more minority people than people: a warning, the values are written
    let s = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("0101", COMMUNE, "2024", "E09.M", "250"),
            rv("0101", COMMUNE, "2024", "E09.F", "250"),
        ],
    );
    assert_eq!(s.status, "SUCCESS", "{s:?}");
    assert_eq!(s.import_count.imported, 2);
    let w: Vec<_> = s
        .validation
        .iter()
        .filter(|v| v.check.rule == "dan-so-dtts-le-tong")
        .collect();
    assert_eq!(w.len(), 1, "{s:?}");
    assert_eq!(w[0].check.importance, Importance::Warning);
    assert_eq!((w[0].check.left, w[0].check.right), (1100.0, 1000.0));
    assert_eq!(w[0].disaggregation, None);
    assert_eq!(w[0].row, Some(2));
    assert!(s.conflicts.is_empty());
    // the stored total removed: the parts count (500 + 500), still a warning
    let del = import(
        db,
        &ImportOptions {
            strategy: Strategy::Delete,
            ..Default::default()
        },
        vec![rv("x-pop-total", COMMUNE, "2024", "default", "")],
    );
    assert_eq!(del.status, "SUCCESS");
    assert_eq!(del.validation.len(), 1, "{del:?}");
    assert_eq!(
        (del.validation[0].check.left, del.validation[0].check.right),
        (1100.0, 1000.0)
    );
}

fn strategies_judge_what_will_be_stored(db: &TestDb) {
    import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-ho-dtts", COMMUNE, "2024", "E02", "10"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "5"),
        ],
    );
    // create only: the stored 10 stays, so 20 poor households fail against it...
    let create = |v: Vec<RawValue>| {
        import(
            db,
            &ImportOptions {
                strategy: Strategy::Create,
                ..Default::default()
            },
            v,
        )
    };
    let s = create(vec![
        rv("x-ho-dtts", COMMUNE, "2024", "E02", "50"),
        rv("x-ho-ngheo-dtts", "06862@2024", "2024", "E02", "1"),
    ]);
    assert_eq!(s.status, "SUCCESS", "{s:?}");
    // ... and the ignored value does not count
    let s = import(
        db,
        &ImportOptions {
            strategy: Strategy::Create,
            ..Default::default()
        },
        vec![
            rv("x-ho-dtts", COMMUNE, "2024", "E02", "50"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "20"),
        ],
    );
    // the poor households are stored (5) and stay: nothing fails
    assert_eq!(s.status, "SUCCESS", "{s:?}");
    assert_eq!(s.import_count.ignored, 2);
    // update only: a value not stored is not written, so it cannot fail
    let s = import(
        db,
        &ImportOptions {
            strategy: Strategy::Update,
            ..Default::default()
        },
        vec![rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E09", "999")],
    );
    assert_eq!((s.status, s.import_count.ignored), ("SUCCESS", 1), "{s:?}");
    let s = import(
        db,
        &ImportOptions {
            strategy: Strategy::Update,
            ..Default::default()
        },
        vec![rv("x-ho-dtts", COMMUNE, "2024", "E02", "4")],
    );
    assert_eq!(s.status, "ERROR", "{s:?}");
    assert!(
        s.conflicts[0].message.contains("5 ≤ 4"),
        "{}",
        s.conflicts[0].message
    );
}

fn bulk_and_streamed_imports_are_checked_and_roll_back(db: &TestDb) {
    // 2,400 values: the bulk path (and on PostgreSQL the stream, which writes while reading)
    let communes: Vec<String> = db
        .read(|c| {
            dantoc_store::units::descendants(
                c,
                dantoc_domain::admin::HierarchyVersion::V2024,
                "22",
                Some(dantoc_domain::admin::UnitKind::Commune),
            )
        })
        .unwrap()
        .into_iter()
        .take(100)
        .map(|u| format!("{}@2024", u.code))
        .collect();
    let mut vals = vec![];
    for u in &communes {
        for g in ["E02", "E09", "E17", "E13", "E06", "E07"] {
            vals.push(rv("x-ho-dtts", u, "2024", g, "40"));
            vals.push(rv("x-ho-ngheo-dtts", u, "2024", g, "10"));
            vals.push(rv("0101", u, "2024", &format!("{g}.M"), "90"));
            vals.push(rv("0101", u, "2024", &format!("{g}.F"), "80"));
        }
    }
    assert_eq!(vals.len(), 2400);
    let mut bad = vals.clone();
    // the last values break two rules; the first of them on row 2 + 2397
    bad[2397] = rv("x-ho-ngheo-dtts", &communes[99], "2024", "E07", "41");
    bad[2398] = rv("0101", &communes[99], "2024", "E07.M", "-1");
    let s = import(db, &ImportOptions::default(), bad);
    assert_eq!(s.status, "ERROR", "{:?}", s.conflicts);
    assert_eq!(s.conflict_count, 2);
    let rows: Vec<Option<u64>> = s.conflicts.iter().map(|c| c.row).collect();
    // the cell E07 starts with its households (row 2 + 2396); the bound is at its own value
    assert_eq!(rows, vec![Some(2398), Some(2400)]);
    assert_eq!(stored(db), 0, "nothing of a refused bulk import is kept");
    let s = import(db, &ImportOptions::default(), vals.clone());
    assert_eq!(s.status, "SUCCESS", "{:?}", s.conflicts);
    assert_eq!(s.import_count.imported, 2400);
    // 600 cells of poor ≤ households, 1,200 bounds on 0101, 100 totals skipped (no population)
    assert_eq!(s.validation_checks, 600 + 1200);
    // the same values again, now all stored: updates, checked against themselves
    let s = import(db, &ImportOptions::default(), vals);
    assert_eq!((s.status, s.validation_checks), ("SUCCESS", 1800));
    assert_eq!(stored(db), 2400);
}

fn bounds_on_one_disaggregation_and_missing_as_zero(db: &TestDb) {
    let rule = |code: &str| RuleDef {
        code: code.into(),
        name_vi: "Quy tắc thử".into(),
        ..Default::default()
    };
    db.write(|c| {
        validation::create(
            c,
            &actor(),
            &RuleDef {
                kind: Kind::Bounds,
                indicator: Some("x-ho-dtts".into()),
                disaggregation: Some("E02".into()),
                max: Some(500.0),
                importance: Importance::Warning,
                ..rule("ho-e02-toi-da")
            },
        )?;
        validation::create(
            c,
            &actor(),
            &RuleDef {
                left: "#{x-cnscd-tv}".into(),
                operator: Some(Operator::Ge),
                right: "#{x-cnscd-to}".into(),
                missing: Missing::Zero,
                mode: Mode::Total,
                ..rule("thanh-vien-ge-to")
            },
        )
    })
    .unwrap();
    let s = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-ho-dtts", COMMUNE, "2024", "E02", "600"),
            rv("x-ho-dtts", COMMUNE, "2024", "E09", "900"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "100"),
        ],
    );
    assert_eq!(s.status, "SUCCESS", "{s:?}");
    let got: Vec<(&str, Option<&str>)> = s
        .validation
        .iter()
        .map(|v| (v.check.rule.as_str(), v.disaggregation.as_deref()))
        .collect();
    assert_eq!(got, vec![("ho-e02-toi-da", Some("E02"))]);
    // teams without members: the missing members count as 0 and the rule fails
    let s = import(
        db,
        &ImportOptions::default(),
        vec![rv("x-cnscd-to", COMMUNE, "2024", "default", "3")],
    );
    assert_eq!(s.status, "ERROR", "{s:?}");
    assert!(
        s.conflicts[0].message.contains("0 ≥ 3"),
        "{}",
        s.conflicts[0].message
    );
    let s = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-cnscd-to", COMMUNE, "2024", "default", "3"),
            rv("x-cnscd-tv", COMMUNE, "2024", "M", "2"),
            rv("x-cnscd-tv", COMMUNE, "2024", "F", "4"),
        ],
    );
    assert_eq!(s.status, "SUCCESS", "{s:?}");
}

fn rules_crud_is_checked_and_audited(db: &TestDb) {
    let seeded = db.read(validation::list).unwrap();
    assert_eq!(seeded.len(), 5);
    let def = RuleDef {
        code: "thu-nghiem".into(),
        name_vi: "Thử nghiệm".into(),
        left: "#{x-ho-ngheo-dtts} * 2".into(),
        operator: Some(Operator::Le),
        right: "#{x-ho-dtts}".into(),
        importance: Importance::Warning,
        ..Default::default()
    };
    let saved = db.write(|c| validation::create(c, &actor(), &def)).unwrap();
    assert_eq!(saved, def);
    let again = db.write(|c| validation::create(c, &actor(), &def));
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let bad = RuleDef {
        left: "#{khong-co}".into(),
        right: "#{x-dtts-share-calc}".into(),
        ..def.clone()
    };
    match db.write(|c| validation::create(c, &actor(), &bad)) {
        Err(StoreError::Invalid(p)) => {
            let fields: Vec<(&str, Option<&str>)> =
                p.0.iter()
                    .map(|e| (e.field.as_str(), e.value.as_deref()))
                    .collect();
            assert_eq!(
                fields,
                vec![
                    ("left", Some("khong-co")),
                    ("right", Some("x-dtts-share-calc"))
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    let renamed = RuleDef {
        code: "thu-nghiem-2".into(),
        importance: Importance::Error,
        ..def.clone()
    };
    db.write(|c| validation::update(c, &actor(), "thu-nghiem", &renamed))
        .unwrap();
    assert_eq!(db.read(|c| validation::get(c, "thu-nghiem")).unwrap(), None);
    assert_eq!(
        db.read(|c| validation::get(c, "thu-nghiem-2")).unwrap(),
        Some(renamed)
    );
    let gone = db.write(|c| validation::update(c, &actor(), "khong-co", &def));
    assert!(matches!(gone, Err(StoreError::NotFound(_))));
    db.write(|c| validation::delete(c, &actor(), "thu-nghiem-2"))
        .unwrap();
    assert_eq!(db.read(validation::list).unwrap().len(), 5);
    let log = db
        .read(|c| {
            Ok(c.query(
                "SELECT action, entity_key FROM audit_log WHERE entity = 'validation_rule' ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| (r.str(0), r.str(1)))
            .collect::<Vec<_>>())
        })
        .unwrap();
    assert_eq!(
        log,
        vec![
            ("create".into(), "thu-nghiem".into()),
            ("update".into(), "thu-nghiem".into()),
            ("delete".into(), "thu-nghiem-2".into()),
        ]
    );
    // an indicator's code replaced: the rules that read it follow
    db.write(|c| {
        let mut i = dantoc_store::indicators::get(c, "x-ho-dtts")?.unwrap();
        i.code = "x-ho-dtts-moi".into();
        dantoc_store::indicators::update(c, "x-ho-dtts", &i)?;
        let mut i = dantoc_store::indicators::get(c, "x-dtts-share")?.unwrap();
        i.code = "x-dtts-share-moi".into();
        dantoc_store::indicators::update(c, "x-dtts-share", &i)
    })
    .unwrap();
    let r = db
        .read(|c| validation::get(c, "ho-ngheo-le-ho-dtts"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.left.as_str(), r.right.as_str()),
        ("#{x-ho-ngheo-dtts}", "#{x-ho-dtts-moi}")
    );
    let b = db
        .read(|c| validation::get(c, "ty-le-dtts-0-100"))
        .unwrap()
        .unwrap();
    assert_eq!(b.indicator.as_deref(), Some("x-dtts-share-moi"));
    let s = import(
        db,
        &ImportOptions::default(),
        vec![
            rv("x-ho-dtts-moi", COMMUNE, "2024", "E02", "1"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "2"),
        ],
    );
    assert_eq!(s.status, "ERROR", "the renamed rule still runs");
}

fn batch_report_over_a_subtree_and_periods(db: &TestDb) {
    // violations written on purpose (rules off), in two communes of Quảng Ninh and two years
    let s = import(
        db,
        &opts(ValidationMode::Off),
        vec![
            rv("x-ho-dtts", COMMUNE, "2023", "E02", "10"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2023", "E02", "11"),
            rv("x-ho-dtts", COMMUNE, "2024", "E02", "10"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E02", "12"),
            rv("x-ho-dtts", COMMUNE, "2024", "E09", "10"),
            rv("x-ho-ngheo-dtts", COMMUNE, "2024", "E09", "2"),
            rv("0101", "06862@2024", "2024", "E02.F", "-5"),
            // Cao Bằng: outside the subtree
            rv("0101", "04@2024", "2024", "E02.F", "-7"),
        ],
    );
    assert_eq!(s.status, "SUCCESS");
    let run = |f: ReportFilter| db.read(|c| validation::report(c, &f));
    let qn = || ReportFilter {
        units: vec!["22@2024".into()],
        children: true,
        ..Default::default()
    };
    let r = run(qn()).unwrap();
    assert_eq!((r.count, r.errors, r.warnings), (3, 3, 0));
    assert_eq!(r.values, 7);
    let got: Vec<(String, String, String, f64, f64)> = r
        .violations
        .iter()
        .map(|v| {
            (
                v.unit.clone(),
                v.period.clone(),
                v.check.rule.clone(),
                v.check.left,
                v.check.right,
            )
        })
        .collect();
    assert!(got.contains(&(
        "06877".into(),
        "2023".into(),
        "ho-ngheo-le-ho-dtts".into(),
        11.0,
        10.0
    )));
    assert!(got.contains(&(
        "06877".into(),
        "2024".into(),
        "ho-ngheo-le-ho-dtts".into(),
        12.0,
        10.0
    )));
    assert!(got.contains(&(
        "06862".into(),
        "2024".into(),
        "dan-so-dtts-khong-am".into(),
        -5.0,
        0.0
    )));
    assert!(
        r.violations
            .iter()
            .all(|v| v.unit_version == "2024" && !v.unit_name.is_empty())
    );
    // one period
    let r = run(ReportFilter {
        periods: vec!["2023".into()],
        ..qn()
    })
    .unwrap();
    assert_eq!(r.count, 1);
    // a date range
    let r = run(ReportFilter {
        start_date: Some("2024-01-01".into()),
        end_date: Some("2024-12-31".into()),
        ..qn()
    })
    .unwrap();
    assert_eq!(r.count, 2);
    // one rule
    let r = run(ReportFilter {
        rules: vec!["dan-so-dtts-khong-am".into()],
        ..qn()
    })
    .unwrap();
    assert_eq!(r.count, 1);
    assert_eq!(r.rules, vec!["dan-so-dtts-khong-am".to_string()]);
    // the unit alone, without children: nothing stored on the province itself
    let r = run(ReportFilter {
        children: false,
        ..qn()
    })
    .unwrap();
    assert_eq!(r.count, 0);
    // the current hierarchy: Quảng Ninh 2025 holds none of these pre-2025 values
    let r = run(ReportFilter {
        units: vec!["22".into()],
        ..qn()
    })
    .unwrap();
    assert_eq!(r.count, 0);
    // a reader whose scope is one commune sees its violations only
    let scope = db
        .read(|c| dantoc_store::accounts::resolve_units(c, "scope", &["06862@2024".into()]))
        .unwrap();
    let r = run(ReportFilter {
        scope: Some(scope),
        ..qn()
    })
    .unwrap();
    assert_eq!(r.count, 1);
    assert_eq!(r.violations[0].unit, "06862");
    // the limit lists fewer, counts all
    let r = run(ReportFilter { limit: 1, ..qn() }).unwrap();
    assert_eq!((r.violations.len(), r.count), (1, 3));
    // bad filters are named
    match run(ReportFilter {
        units: vec!["99999".into()],
        periods: vec!["2024Q9".into()],
        rules: vec!["nope".into()],
        ..qn()
    }) {
        Err(StoreError::Invalid(p)) => assert_eq!(p.0[0].field, "rule"),
        other => panic!("{other:?}"),
    }
    match run(ReportFilter {
        units: vec!["99999".into()],
        periods: vec!["2024Q9".into()],
        ..qn()
    }) {
        Err(StoreError::Invalid(p)) => {
            let fields: Vec<&str> = p.0.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, vec!["orgUnit", "period"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(run(ReportFilter::default()).is_err());
    // CSV for Excel
    let r = run(qn()).unwrap();
    let mut buf = vec![];
    validation::write_csv(&mut buf, &r).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(text.starts_with('\u{feff}'));
    assert_eq!(text.lines().count(), 4);
    assert!(
        text.contains("06877,2024,Đông Ngũ,2024,E02,ho-ngheo-le-ho-dtts"),
        "{text}"
    );
}

/// The demo provinces load with the rules on (an error would refuse them), and the batch report
/// over them finds nothing, warnings included.
fn demo_data_passes_the_seed_rules(db: &TestDb) {
    assert!(dantoc_store::demo::load(db).unwrap());
    let mut units: Vec<String> = dantoc_store::demo::PROVINCES
        .iter()
        .map(|p| p.to_string())
        .collect();
    units.extend(
        dantoc_store::demo::OLD_PROVINCES
            .iter()
            .map(|p| format!("{p}@2024")),
    );
    let r = db
        .read(|c| {
            validation::report(
                c,
                &ReportFilter {
                    units,
                    children: true,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert!(r.values > 10_000, "{}", r.values);
    assert!(r.checks > 10_000, "{}", r.checks);
    assert_eq!(r.count, 0, "{:?}", r.violations.first());
}

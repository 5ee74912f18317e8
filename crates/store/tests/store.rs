//! The storage suite, run on SQLite and on PostgreSQL (`sqlite::*` and `postgres::*`).

use dantoc_domain::FieldError;
use dantoc_domain::admin::{HierarchyVersion as V, UnitKind};
use dantoc_store::audit::Actor;
use dantoc_store::testing::TestDb;
use dantoc_store::values::{self, ImportOptions, RawValue, Strategy, ValueFilter};
use dantoc_store::{Conn, csv_values, demo, indicators, units};

dantoc_store::on_both_backends!(
    reference_data_loads_with_all_parents_and_lineage,
    lineage_weights_default_and_province_set,
    search_ignores_case_and_diacritics,
    values_round_trip_with_history,
    bad_row_in_ten_thousand_is_located_and_nothing_changes,
    bulk_and_single_paths_agree,
    dry_run_and_strategies,
    indicator_code_can_be_replaced,
    demo_provinces_load_with_published_figures,
    csv_round_trip,
    audit_log_is_append_only_and_tamper_evident,
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

fn import(db: &TestDb, opts: &ImportOptions, vals: Vec<RawValue>) -> values::ImportSummary {
    values::import(
        db,
        &actor(),
        opts,
        vals.into_iter().map(Ok),
        &|i, e: FieldError| FieldError {
            row: Some(i as u64 + 2),
            ..e
        },
    )
    .unwrap()
}

fn reference_data_loads_with_all_parents_and_lineage(db: &TestDb) {
    db.read(|c| {
        assert_eq!(units::count(c, V::V2025, UnitKind::Province)?, 34);
        assert_eq!(units::count(c, V::V2025, UnitKind::Commune)?, 3321);
        assert_eq!(units::count(c, V::V2024, UnitKind::Province)?, 63);
        assert_eq!(units::count(c, V::V2024, UnitKind::District)?, 696);
        assert_eq!(units::count(c, V::V2024, UnitKind::Commune)?, 10_035);
        // every unit below a province has an existing parent of the right kind
        let orphans = c.scalar_i64(
            "SELECT count(*) FROM admin_unit u LEFT JOIN admin_unit p ON p.id = u.parent_id
             WHERE u.kind <> 'province' AND (p.id IS NULL OR p.version <> u.version)",
            &[],
        )?;
        assert_eq!(orphans, 0);
        let wrong_kind = c.scalar_i64(
            "SELECT count(*) FROM admin_unit u JOIN admin_unit p ON p.id = u.parent_id
             WHERE (u.version = '2024' AND u.kind = 'commune' AND p.kind <> 'district')
                OR (u.version = '2025' AND u.kind = 'commune' AND p.kind <> 'province')",
            &[],
        )?;
        assert_eq!(wrong_kind, 0);
        // every pre-2025 commune maps to a current one, and the demo provinces' all do
        let unmapped = c.scalar_i64(
            "SELECT count(*) FROM admin_unit u WHERE u.version = '2024' AND u.kind = 'commune'
             AND NOT EXISTS (SELECT 1 FROM unit_lineage l JOIN admin_unit n ON n.id = l.new_id
                             WHERE l.old_id = u.id AND n.version = '2025' AND n.kind = 'commune')",
            &[],
        )?;
        assert_eq!(unmapped, 0);
        for p in demo::OLD_PROVINCES {
            for u in units::descendants(c, V::V2024, p, Some(UnitKind::Commune))? {
                let l = units::lineage(c, V::V2024, &u.code)?;
                assert!(!l.is_empty(), "{} has no lineage", u.code);
                let sum: f64 = l.iter().map(|l| l.weight).sum();
                assert!((sum - 1.0).abs() < 1e-9, "{} weights sum to {sum}", u.code);
            }
        }
        // Bắc Kạn went into Thái Nguyên
        let bk = units::lineage(c, V::V2024, "06")?;
        assert_eq!(bk.len(), 1);
        assert_eq!(bk[0].new_code, "19");
        let anc = units::ancestors(c, V::V2024, "06877")?;
        assert_eq!(
            anc.iter().map(|u| u.code.as_str()).collect::<Vec<_>>(),
            vec!["22", "199"]
        );
        assert_eq!(units::children(c, V::V2025, "22")?.len(), 54);
        Ok(())
    })
    .unwrap();
}

fn lineage_weights_default_and_province_set(db: &TestDb) {
    let links = db.read(|c| units::lineage(c, V::V2024, "06877")).unwrap();
    assert_eq!(links.len(), 2);
    assert!(
        links
            .iter()
            .all(|l| l.estimated && (l.weight - 0.5).abs() < 1e-12)
    );
    let bad = db
        .write(|c| units::set_weights(c, "06877", &[("06862".into(), 0.5), ("06877".into(), 0.6)]));
    assert!(matches!(bad, Err(dantoc_store::StoreError::Invalid(_))));
    let wrong_target = db.write(|c| units::set_weights(c, "06877", &[("00001".into(), 1.0)]));
    assert!(matches!(
        wrong_target,
        Err(dantoc_store::StoreError::Invalid(_))
    ));
    let set = db
        .write(|c| units::set_weights(c, "06877", &[("06862".into(), 0.3), ("06877".into(), 0.7)]))
        .unwrap();
    assert!(
        set.iter()
            .all(|l| !l.estimated && l.weight_source == "province")
    );
    let back = db.read(|c| units::lineage(c, V::V2025, "06877")).unwrap();
    let from_dong_ngu = back.iter().find(|l| l.old_code == "06877").unwrap();
    assert!((from_dong_ngu.weight - 0.7).abs() < 1e-12);
}

fn search_ignores_case_and_diacritics(db: &TestDb) {
    db.read(|c| {
        let r = units::search(c, "quang ninh", Some(V::V2025), 10)?;
        assert_eq!(r[0].full_name, "Tỉnh Quảng Ninh");
        let r = units::search(c, "dong ngu", None, 10)?;
        assert!(
            r.iter()
                .any(|u| u.full_name == "Xã Đông Ngũ" && u.version == V::V2024)
        );
        assert!(
            r.iter()
                .any(|u| u.full_name == "Xã Đông Ngũ" && u.version == V::V2025)
        );
        let r = units::search(c, "ĐÔNG NGŨ", None, 10)?;
        assert!(!r.is_empty());
        // injection strings are plain text
        assert!(units::search(c, "' OR 1=1 --", None, 10)?.is_empty());
        let r = dantoc_store::ethnic::search(c, "hmong")?;
        assert_eq!(r[0].name, "HMông");
        let r = indicators::search(c, "dan so dan toc", 10)?;
        assert!(r.iter().any(|i| i.code == "0101"));
        Ok(())
    })
    .unwrap();
}

fn values_round_trip_with_history(db: &TestDb) {
    let opts = ImportOptions {
        what: "test".into(),
        audit_each: true,
        ..Default::default()
    };
    let s = import(
        db,
        &opts,
        vec![
            rv("0101", "06877", "2025", "E09.F", "1234"),
            rv("0101", "06877@2024", "2024", "E09.M", "1200"),
            rv("x-dtts-share", "22", "2025", "", "12.5"),
        ],
    );
    assert_eq!(s.status, "SUCCESS", "{:?}", s.conflicts);
    assert_eq!(s.import_count.imported, 3);
    let got = db
        .read(|c| {
            values::query(
                c,
                &ValueFilter {
                    units: vec!["06877".into()],
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (
            got[0].value,
            got[0].disagg.as_str(),
            got[0].stored_by.as_str()
        ),
        (Some(1234.0), "E09.F", "tester")
    );
    let old = db
        .read(|c| {
            values::query(
                c,
                &ValueFilter {
                    units: vec!["06877@2024".into()],
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(old[0].value_text, "1200");
    // update, then delete: every earlier state is kept
    let s = import(
        db,
        &opts,
        vec![rv("0101", "06877", "2025", "E09.F", "1240")],
    );
    assert_eq!(s.import_count.updated, 1);
    let s = import(
        db,
        &opts,
        vec![rv("0101", "06877", "2025", "E09.F", "1240")],
    );
    assert_eq!(
        s.import_count.ignored, 1,
        "an unchanged value is not rewritten"
    );
    let del = ImportOptions {
        strategy: Strategy::Delete,
        ..opts.clone()
    };
    let s = import(db, &del, vec![rv("0101", "06877", "2025", "E09.F", "")]);
    assert_eq!(s.import_count.deleted, 1);
    let h = db
        .read(|c| values::history(c, "0101", "06877", "2025", "E09.F"))
        .unwrap();
    assert_eq!(
        h.iter()
            .map(|h| (h.op.as_str(), h.value_text.as_str()))
            .collect::<Vec<_>>(),
        vec![("delete", "1240"), ("update", "1234")]
    );
    // and the audit log has before and after of each write
    let audit = db.read(|c| dantoc_store::audit::recent(c, 10)).unwrap();
    let upd = audit
        .iter()
        .find(|a| a.before.as_ref().is_some_and(|b| b["value"] == "1234"))
        .unwrap();
    assert_eq!(upd.after.as_ref().unwrap()["value"], "1240");
    assert_eq!(upd.actor, "tester");
    // filters by children and dates
    let under_qn = db
        .read(|c| {
            values::query(
                c,
                &ValueFilter {
                    units: vec!["22".into()],
                    children: true,
                    start_date: Some("2025-01-01".into()),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(under_qn.len(), 1);
    assert_eq!(under_qn[0].indicator, "x-dtts-share");
}

fn ten_thousand() -> Vec<RawValue> {
    let mut v = vec![];
    let communes = ["06877", "06862", "06970", "07030", "06700"];
    for y in 2000..2024 {
        for c in communes {
            for e in 1..=54 {
                for s in ["M", "F"] {
                    v.push(rv(
                        "0101",
                        &format!("{c}@2024"),
                        &y.to_string(),
                        &format!("E{e:02}.{s}"),
                        &format!("{}", e * 10 + y),
                    ));
                }
            }
        }
    }
    v.truncate(10_000);
    v
}

fn bad_row_in_ten_thousand_is_located_and_nothing_changes(db: &TestDb) {
    let opts = ImportOptions {
        what: "test".into(),
        ..Default::default()
    };
    let first = import(db, &opts, ten_thousand()[..100].to_vec());
    assert_eq!(first.import_count.imported, 100);
    let before = db
        .read(|c| values::query(c, &ValueFilter::default()))
        .unwrap();
    // as CSV, with one bad value at data row 7,000 (file row 7,001... header is row 1)
    let mut csv = String::from("indicator,unit,period,disaggregation,value\n");
    for (i, r) in ten_thousand().iter().enumerate() {
        let value = if i == 6999 {
            "12,5".to_string()
        } else {
            format!(
                "{}",
                r.value.as_deref().unwrap().parse::<i64>().unwrap() + 1
            )
        };
        csv.push_str(&format!(
            "{},{},{},{},\"{}\"\n",
            r.indicator, r.unit, r.period, r.disagg, value
        ));
    }
    let reader = csv_values::open(csv.as_bytes()).unwrap();
    let loc = reader.locator();
    let s = values::import(db, &actor(), &opts, reader, &|i, e| loc.locate(i, e)).unwrap();
    assert_eq!(s.status, "ERROR");
    assert_eq!(s.conflicts.len(), 1);
    let e = &s.conflicts[0];
    assert_eq!(
        (e.row, e.column, e.field.as_str()),
        (Some(7001), Some(5), "value")
    );
    assert_eq!(e.value.as_deref(), Some("12,5"));
    let after = db
        .read(|c| values::query(c, &ValueFilter::default()))
        .unwrap();
    assert_eq!(before, after, "a failed import changes nothing");
    // bad codes are located too, and reported all at once
    let csv = "indicator,unit,period,disaggregation,value\n0101,06877,2025,E09.F,1\nNOPE,06877,2025,,1\n0101,99999,2025,,1\n0101,06877,2025Q1,,1\n0101,06877,2025,E99,1\n0101,06877,2025,E09.X,1\n";
    let reader = csv_values::open(csv.as_bytes()).unwrap();
    let loc = reader.locator();
    let s = values::import(db, &actor(), &opts, reader, &|i, e| loc.locate(i, e)).unwrap();
    let got: Vec<(Option<u64>, Option<u64>)> =
        s.conflicts.iter().map(|e| (e.row, e.column)).collect();
    assert_eq!(
        got,
        vec![
            (Some(3), Some(1)),
            (Some(4), Some(2)),
            (Some(5), Some(3)),
            (Some(6), Some(4)),
            (Some(7), Some(4))
        ]
    );
    assert_eq!(db.read(|c| values::count(c)).unwrap(), 100);
    // a missing column is named
    let e = csv_values::open("indicator,unit,value\n".as_bytes())
        .err()
        .unwrap();
    assert!(e.message.contains("period"), "{}", e.message);
}

fn bulk_and_single_paths_agree(db: &TestDb) {
    let opts = ImportOptions {
        what: "bulk".into(),
        ..Default::default()
    };
    let all = ten_thousand();
    let s = import(db, &opts, all.clone());
    assert_eq!(
        (s.import_count.imported, s.import_count.updated),
        (10_000, 0)
    );
    // change every 10th value through the bulk path
    let changed: Vec<RawValue> = all
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            if i % 10 == 0 {
                r.value = Some("7".into());
            }
            r
        })
        .collect();
    let s = import(db, &opts, changed);
    assert_eq!(
        (
            s.import_count.imported,
            s.import_count.updated,
            s.import_count.ignored
        ),
        (0, 1000, 9000)
    );
    // and one through the single path
    let one = ImportOptions {
        audit_each: true,
        ..opts.clone()
    };
    let s = import(
        db,
        &one,
        vec![rv("0101", "06877@2024", "2000", "E01.M", "8")],
    );
    assert_eq!(s.import_count.updated, 1);
    let v = db
        .read(|c| {
            values::query(
                c,
                &ValueFilter {
                    units: vec!["06877@2024".into()],
                    periods: vec!["2000".into()],
                    disagg: Some("E01.M".into()),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!((v[0].value, v[0].version), (Some(8.0), 3));
    let hist = db
        .read(|c| values::history(c, "0101", "06877@2024", "2000", "E01.M"))
        .unwrap();
    assert_eq!(hist.len(), 2);
    // the same key twice in one import is refused, naming both places
    let s = import(
        db,
        &opts,
        vec![
            rv("0101", "22", "2025", "E02", "1"),
            rv("0101", "22", "2025", "E02", "2"),
        ],
    );
    assert_eq!(s.status, "ERROR");
    assert!(
        s.conflicts[0].message.contains("row 2"),
        "{}",
        s.conflicts[0].message
    );
}

fn dry_run_and_strategies(db: &TestDb) {
    let dry = ImportOptions {
        dry_run: true,
        what: "t".into(),
        ..Default::default()
    };
    let s = import(db, &dry, vec![rv("0101", "22", "2025", "E02", "5")]);
    assert_eq!(
        (s.status, s.import_count.imported, s.dry_run),
        ("SUCCESS", 1, true)
    );
    assert_eq!(db.read(|c| values::count(c)).unwrap(), 0);
    let create = ImportOptions {
        strategy: Strategy::Create,
        ..Default::default()
    };
    import(db, &create, vec![rv("0101", "22", "2025", "E02", "5")]);
    let s = import(db, &create, vec![rv("0101", "22", "2025", "E02", "6")]);
    assert_eq!(s.import_count.ignored, 1);
    let update = ImportOptions {
        strategy: Strategy::Update,
        ..Default::default()
    };
    let s = import(
        db,
        &update,
        vec![
            rv("0101", "22", "2025", "E02", "6"),
            rv("0101", "22", "2025", "E03", "6"),
        ],
    );
    assert_eq!((s.import_count.updated, s.import_count.ignored), (1, 1));
    // derived indicators cannot be stored; disaggregations must be allowed
    let s = import(
        db,
        &ImportOptions::default(),
        vec![rv("x-dtts-share-calc", "22", "2025", "", "5")],
    );
    assert!(s.conflicts[0].message.contains("derived"));
    let s = import(
        db,
        &ImportOptions::default(),
        vec![rv("x-cnscd-to", "22", "2025", "E02", "5")],
    );
    assert!(s.conflicts[0].message.contains("not broken down by ethnic"));
    let s = import(
        db,
        &ImportOptions::default(),
        vec![rv("x-tt-yte", "22", "2025", "", "101")],
    );
    assert_eq!(s.conflicts[0].field, "value");
}

fn indicator_code_can_be_replaced(db: &TestDb) {
    import(
        db,
        &ImportOptions::default(),
        vec![rv("x-pop-total", "22", "2025", "", "1000")],
    );
    db.write(|c| {
        let mut i = indicators::get(c, "x-pop-total")?.unwrap();
        i.code = "0102".into();
        i.provisional = false;
        indicators::update(c, "x-pop-total", &i)
    })
    .unwrap();
    db.read(|c| {
        assert!(indicators::get(c, "x-pop-total")?.is_none());
        let calc = indicators::get(c, "x-dtts-share-calc")?.unwrap();
        assert_eq!(calc.formula.as_deref(), Some("#{0101} / #{0102} * 100"));
        assert_eq!(
            indicators::get(c, "x-dtts-share")?
                .unwrap()
                .weight_indicator
                .as_deref(),
            Some("0102")
        );
        let v = values::query(
            c,
            &ValueFilter {
                indicators: vec!["0102".into()],
                ..Default::default()
            },
        )?;
        assert_eq!(v.len(), 1, "stored values follow the new code");
        Ok(())
    })
    .unwrap();
    // a bad definition is refused with its fields named
    let err = db.read(|c| {
        let mut i = indicators::get(c, "0101")?.unwrap();
        i.formula = Some("#{0101} / #{nope}".into());
        i.disaggregations.clear();
        indicators::check(c, &i)
    });
    match err {
        Err(dantoc_store::StoreError::Invalid(p)) => {
            assert!(
                p.0.iter()
                    .any(|e| e.field == "formula" && e.value.as_deref() == Some("nope")),
                "{p}"
            );
            assert!(
                p.0.iter()
                    .any(|e| e.field == "formula" && e.value.as_deref() == Some("0101")),
                "{p}"
            );
        }
        other => panic!("expected invalid, got {other:?}"),
    }
}

fn demo_provinces_load_with_published_figures(db: &TestDb) {
    assert!(demo::load(db).unwrap());
    assert!(!demo::load(db).unwrap(), "loads once");
    db.read(|c| {
        let qn = values::query(
            c,
            &ValueFilter {
                indicators: vec!["0101".into()],
                units: vec!["22@2024".into()],
                periods: vec!["2019".into()],
                ..Default::default()
            },
        )?;
        assert_eq!((qn[0].value, qn[0].demo), (Some(162_531.0), false));
        assert!(qn[0].source.as_deref().unwrap().contains("2019"));
        let dn = values::query(
            c,
            &ValueFilter {
                units: vec!["06877@2024".into()],
                indicators: vec![
                    "x-cnscd-to".into(),
                    "x-cnscd-tv".into(),
                    "x-dtts-share".into(),
                ],
                ..Default::default()
            },
        )?;
        let got: Vec<(&str, &str, bool)> = dn
            .iter()
            .map(|v| (v.indicator.as_str(), v.value_text.as_str(), v.demo))
            .collect();
        assert_eq!(
            got,
            vec![
                ("x-cnscd-to", "10", false),
                ("x-cnscd-tv", "83", false),
                ("x-dtts-share", "45.6", false)
            ]
        );
        let bk = values::query(
            c,
            &ValueFilter {
                indicators: vec!["x-ncut-smartphone".into()],
                units: vec!["06@2024".into()],
                children: true,
                ..Default::default()
            },
        )?;
        let got: Vec<(&str, &str)> = bk
            .iter()
            .map(|v| (v.unit.as_str(), v.value_text.as_str()))
            .collect();
        assert_eq!(got, vec![("06", "375"), ("062", "152")]);
        let cb = values::query(
            c,
            &ValueFilter {
                indicators: vec!["x-pop-total".into(), "x-thon-noms".into()],
                units: vec!["04@2024".into()],
                periods: vec!["2023".into()],
                ..Default::default()
            },
        )?;
        assert_eq!(
            cb.iter().map(|v| v.value_text.as_str()).collect::<Vec<_>>(),
            vec!["547857", "169"]
        );
        let demo_rows = c.scalar_i64("SELECT count(*) FROM data_value WHERE demo = 1", &[])?;
        assert!(demo_rows > 50_000, "{demo_rows}");
        let targets = c.scalar_i64("SELECT count(*) FROM target", &[])?;
        assert_eq!(targets, 10);
        let villages = c.scalar_i64(
            "SELECT count(*) FROM admin_unit WHERE kind = 'village'",
            &[],
        )?;
        assert!(villages > 800);
        // mobile coverage is recorded village by village in 2025 (1: no signal), not per commune
        let coverage = c.query(
            "SELECT u.kind, count(*), sum(v.value) FROM data_value v
             JOIN indicator i ON i.id = v.indicator_id JOIN admin_unit u ON u.id = v.unit_id
             WHERE i.code = 'x-thon-noms' AND v.period = '2025' GROUP BY u.kind",
            &[],
        )?;
        assert_eq!(coverage.len(), 1, "villages only");
        assert_eq!(coverage[0].str(0), "village");
        assert_eq!(coverage[0].i64(1), villages);
        let uncovered = coverage[0].f64(2);
        assert!(
            uncovered > 10.0 && uncovered < villages as f64 / 5.0,
            "{uncovered}"
        );
        Ok(())
    })
    .unwrap();
}

fn csv_round_trip(db: &TestDb) {
    let opts = ImportOptions::default();
    import(
        db,
        &opts,
        vec![
            rv("0101", "06877@2024", "2024", "E09.F", "12"),
            RawValue {
                comment: Some("Bản Khe Lạc, \"ghi chú\"".into()),
                ..rv("x-dtts-share", "22", "2025", "", "12.31")
            },
        ],
    );
    let all = db
        .read(|c| values::query(c, &ValueFilter::default()))
        .unwrap();
    let mut buf = vec![];
    csv_values::write(&mut buf, &all).unwrap();
    // re-import the export into a fresh database of the same engine
    let other = match db.backend() {
        dantoc_store::Backend::Sqlite => TestDb::sqlite(),
        dantoc_store::Backend::Postgres => TestDb::postgres(),
    };
    let reader = csv_values::open(&buf[..]).unwrap();
    let loc = reader.locator();
    let s = values::import(&other, &actor(), &opts, reader, &|i, e| loc.locate(i, e)).unwrap();
    assert_eq!(s.import_count.imported, 2, "{:?}", s.conflicts);
    let back = other
        .read(|c| values::query(c, &ValueFilter::default()))
        .unwrap();
    let key = |v: &values::StoredValue| {
        (
            v.indicator.clone(),
            v.unit.clone(),
            v.unit_version.clone(),
            v.period.clone(),
            v.disagg.clone(),
            v.value_text.clone(),
            v.comment.clone(),
        )
    };
    assert_eq!(
        all.iter().map(key).collect::<Vec<_>>(),
        back.iter().map(key).collect::<Vec<_>>()
    );
    let _ = other.read(|c: &mut dyn Conn| c.scalar_i64("SELECT 1", &[]));
}

fn audit_log_is_append_only_and_tamper_evident(db: &TestDb) {
    // entries written when the database was set up (the shipped forms)
    let base = db.read(dantoc_store::audit::verify).unwrap().entries;
    let opts = ImportOptions {
        audit_each: true,
        ..Default::default()
    };
    for v in ["1", "2", "3"] {
        import(db, &opts, vec![rv("0101", "22", "2025", "E02", v)]);
    }
    let ok = db.read(dantoc_store::audit::verify).unwrap();
    assert_eq!((ok.entries, ok.first_broken.clone()), (base + 3, None));
    // the database refuses changes and deletions
    assert!(
        db.write(|c| c.execute("UPDATE audit_log SET actor = 'someone else'", &[]))
            .is_err()
    );
    assert!(
        db.write(|c| c.execute("DELETE FROM audit_log", &[]))
            .is_err()
    );
    // someone with direct access who disables the guard and edits the second import's entry
    // is found out
    let id2 = db
        .read(|c| {
            c.scalar_i64(
                "SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET $1",
                &[(base as i64 + 1).into()],
            )
        })
        .unwrap();
    db.write(|c| {
        match c.backend() {
            dantoc_store::Backend::Sqlite => c.batch("DROP TRIGGER audit_log_no_update")?,
            dantoc_store::Backend::Postgres => {
                c.batch("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")?
            }
        }
        c.execute(
            "UPDATE audit_log SET after = replace(after, '\"2\"', '\"20\"') WHERE id = $1",
            &[id2.into()],
        )
    })
    .unwrap();
    let broken = db.read(dantoc_store::audit::verify).unwrap();
    assert_eq!(
        broken.first_broken.as_ref().map(|b| b.0),
        Some(id2),
        "{broken:?}"
    );
    assert!(broken.first_broken.unwrap().1.contains("changed"));
}

//! Pivots on SQLite and on PostgreSQL (`sqlite::*`, `postgres::*`): roll-ups checked against
//! sums computed here, across the 1 July 2025 reform (two old communes merged into one, one old
//! commune split in two with weights) over 2023–2026, a relative period, and freshness.

use dantoc_domain::FieldError;
use dantoc_domain::analytics::{Computed, DimId, Request};
use dantoc_domain::period::Period;
use dantoc_store::analytics::{self, Visible};
use dantoc_store::audit::Actor;
use dantoc_store::testing::TestDb;
use dantoc_store::values::{self, ImportOptions, RawValue, Strategy};
use dantoc_store::{StoreError, units};

dantoc_store::on_both_backends!(
    merged_communes_roll_up_across_the_reform,
    split_commune_uses_weights_and_flags_estimates,
    rules_sum_average_weighted_derived_and_breakdowns,
    relative_periods_and_filters,
    pre_aggregates_agree_with_the_values_and_stay_fresh,
    writes_are_tracked_per_province_and_read_fresh,
    stored_totals_win_when_breakdowns_are_summed_away,
    bad_requests_name_the_parameter,
);

// Quảng Ninh: old Hà Khánh (06649) and old Cao Xanh (06658) merged into new Cao Xanh (06658);
// old Đồng Lâm (07042) was split between new Hoành Bồ (07030) and new Thống Nhất (07060).
const OLD_A: &str = "06649@2024";
const OLD_B: &str = "06658@2024";
const NEW_AB: &str = "06658";
const OLD_SPLIT: &str = "07042@2024";

fn today() -> Period {
    "202611".parse().unwrap()
}

fn put(db: &TestDb, vals: &[(&str, &str, &str, &str, f64)]) {
    let v: Vec<_> = vals
        .iter()
        .map(|(i, u, p, d, v)| (*i, *u, *p, *d, Some(*v)))
        .collect();
    import(db, &v, Strategy::CreateAndUpdate);
}

fn delete(db: &TestDb, vals: &[(&str, &str, &str, &str)]) {
    let v: Vec<_> = vals
        .iter()
        .map(|(i, u, p, d)| (*i, *u, *p, *d, None))
        .collect();
    import(db, &v, Strategy::Delete);
}

fn import(db: &TestDb, vals: &[(&str, &str, &str, &str, Option<f64>)], strategy: Strategy) {
    let raw: Vec<RawValue> = vals
        .iter()
        .map(|(ind, unit, pe, dis, v)| RawValue {
            indicator: ind.to_string(),
            unit: unit.to_string(),
            period: pe.to_string(),
            disagg: dis.to_string(),
            value: v.map(|v| v.to_string()),
            ..Default::default()
        })
        .collect();
    let s = values::import(
        db,
        &Actor::system(),
        &ImportOptions {
            what: "test".into(),
            strategy,
            ..Default::default()
        },
        raw.into_iter().map(Ok),
        &|_, e: FieldError| e,
    )
    .unwrap();
    assert_eq!(s.conflict_count, 0, "{:?}", s.conflicts);
}

fn pivot(
    db: &TestDb,
    dims: &[&str],
    filters: &[&str],
    hierarchy: Option<&str>,
) -> Result<Computed, StoreError> {
    pivot_as(db, dims, filters, hierarchy, None)
}

fn pivot_as(
    db: &TestDb,
    dims: &[&str],
    filters: &[&str],
    hierarchy: Option<&str>,
    visible: Visible,
) -> Result<Computed, StoreError> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let req = Request::parse(&s(dims), &s(filters), None, None, hierarchy)
        .map_err(StoreError::Invalid)?;
    db.read(|c| analytics::pivot(c, &req, today(), visible))
}

/// The value at (indicator, unit, period[, ethnic item]) by codes.
/// Every cell of a pivot, in key order.
fn cells(
    db: &TestDb,
    q: &[&str],
) -> Vec<(
    dantoc_domain::analytics::Key,
    dantoc_domain::analytics::Cell,
)> {
    pivot(db, q, &[], None)
        .unwrap()
        .sorted()
        .into_iter()
        .map(|(k, c)| (k, c.clone()))
        .collect()
}

fn at(c: &Computed, dx: &str, ou: &str, pe: &str, eth: Option<&str>) -> Option<f64> {
    cell(c, dx, ou, pe, eth).and_then(|x| x.value)
}

fn cell<'a>(
    c: &'a Computed,
    dx: &str,
    ou: &str,
    pe: &str,
    eth: Option<&str>,
) -> Option<&'a dantoc_domain::analytics::Cell> {
    let idx = |id: DimId, code: &str| -> u32 {
        c.dim(id)
            .and_then(|d| d.items.iter().position(|i| i.code == code))
            .unwrap_or_else(|| panic!("no {code} in {id:?}")) as u32
    };
    let mut key = [0u32; 7];
    key[0] = idx(DimId::Dx, dx);
    key[1] = idx(DimId::Ou, ou);
    key[2] = idx(DimId::Pe, pe);
    if let Some(e) = eth {
        key[3] = idx(DimId::Eth, e);
    }
    c.cells.get(&key)
}

fn population(db: &TestDb) -> [(f64, f64, f64); 4] {
    // (old A, old B, new AB) per year 2023..2026: old units report until 2024, the new one after
    let v = [
        (1000.0, 2000.0, 0.0),
        (1100.0, 2100.0, 0.0),
        (0.0, 0.0, 3300.0),
        (0.0, 0.0, 3400.0),
    ];
    let mut rows = vec![];
    let years = ["2023", "2024", "2025", "2026"];
    for (i, y) in years.iter().enumerate() {
        if i < 2 {
            rows.push(("x-pop-total", OLD_A, *y, "default", v[i].0));
            rows.push(("x-pop-total", OLD_B, *y, "default", v[i].1));
        } else {
            rows.push(("x-pop-total", NEW_AB, *y, "default", v[i].2));
        }
    }
    put(db, &rows);
    v
}

fn merged_communes_roll_up_across_the_reform(db: &TestDb) {
    let v = population(db);
    let c = pivot(
        db,
        &[
            "dx:x-pop-total",
            &format!("ou:{NEW_AB}"),
            "pe:2023;2024;2025;2026",
        ],
        &[],
        None,
    )
    .unwrap();
    for (i, y) in ["2023", "2024", "2025", "2026"].iter().enumerate() {
        let expected = v[i].0 + v[i].1 + v[i].2;
        assert_eq!(
            at(&c, "x-pop-total", NEW_AB, y, None),
            Some(expected),
            "{y}"
        );
        let x = cell(&c, "x-pop-total", NEW_AB, y, None).unwrap();
        assert_eq!(x.mapped, i < 2, "{y}: values of the old units are mapped");
        assert!(!x.estimated, "{y}: whole communes need no weights");
    }
    // the province (2025) and the whole country add the same up
    let c = pivot(
        db,
        &["dx:x-pop-total", "ou:22;VN", "pe:2023;2026"],
        &[],
        None,
    )
    .unwrap();
    assert_eq!(at(&c, "x-pop-total", "22", "2023", None), Some(3000.0));
    assert_eq!(at(&c, "x-pop-total", "VN", "2026", None), Some(3400.0));
    // the other way round: the new commune's figures under the old ones, shared equally (estimated)
    let c = pivot(
        db,
        &["dx:x-pop-total", "ou:06649;06658", "pe:2024;2025"],
        &[],
        Some("2024"),
    )
    .unwrap();
    assert_eq!(at(&c, "x-pop-total", "06649", "2024", None), Some(1100.0));
    assert_eq!(at(&c, "x-pop-total", "06649", "2025", None), Some(1650.0));
    assert_eq!(at(&c, "x-pop-total", "06658", "2025", None), Some(1650.0));
    let x = cell(&c, "x-pop-total", "06658", "2025", None).unwrap();
    assert!(x.mapped && x.estimated);
    assert!(
        !cell(&c, "x-pop-total", "06649", "2024", None)
            .unwrap()
            .mapped
    );
    // the old district (2024 hierarchy, level 2) holds both old communes
    let c = pivot(
        db,
        &["dx:x-pop-total", "ou:22;LEVEL-2", "pe:2023"],
        &[],
        Some("2024"),
    )
    .unwrap();
    let total: f64 = c.cells.values().filter_map(|x| x.value).sum();
    assert_eq!(total, 3000.0);
}

fn split_commune_uses_weights_and_flags_estimates(db: &TestDb) {
    put(db, &[("x-pop-total", OLD_SPLIT, "2023", "default", 1000.0)]);
    let q = ["dx:x-pop-total", "ou:07030;07060", "pe:2023"];
    let c = pivot(db, &q, &[], None).unwrap();
    for u in ["07030", "07060"] {
        assert_eq!(
            at(&c, "x-pop-total", u, "2023", None),
            Some(500.0),
            "equal shares by default"
        );
        let x = cell(&c, "x-pop-total", u, "2023", None).unwrap();
        assert!(x.mapped && x.estimated, "default weights make an estimate");
    }
    db.write(|c| units::set_weights(c, "07042", &[("07030".into(), 0.3), ("07060".into(), 0.7)]))
        .unwrap();
    let c = pivot(db, &q, &[], None).unwrap();
    assert_eq!(at(&c, "x-pop-total", "07030", "2023", None), Some(300.0));
    assert_eq!(at(&c, "x-pop-total", "07060", "2023", None), Some(700.0));
    assert!(
        !cell(&c, "x-pop-total", "07060", "2023", None)
            .unwrap()
            .estimated,
        "weights set by the province"
    );
    // the province gets the whole value either way
    let c = pivot(db, &["dx:x-pop-total", "ou:22", "pe:2023"], &[], None).unwrap();
    assert_eq!(at(&c, "x-pop-total", "22", "2023", None), Some(1000.0));
}

fn rules_sum_average_weighted_derived_and_breakdowns(db: &TestDb) {
    population(db);
    put(
        db,
        &[
            ("0101", OLD_A, "2023", "E02.M", 100.0),
            ("0101", OLD_A, "2023", "E02.F", 110.0),
            ("0101", OLD_A, "2023", "E01.M", 50.0),
            ("0101", OLD_B, "2023", "E02.M", 200.0),
            ("0101", OLD_B, "2023", "E10.F", 20.0),
            ("x-dtts-share", OLD_A, "2023", "default", 10.0),
            ("x-dtts-share", OLD_B, "2023", "default", 40.0),
            ("x-tt0218-gd", OLD_A, "2023", "default", 4.0),
            ("x-tt0218-gd", OLD_B, "2023", "default", 8.0),
        ],
    );
    let c = pivot(
        db,
        &[
            "dx:0101;x-dtts-share;x-tt0218-gd;x-dtts-share-calc",
            &format!("ou:{NEW_AB}"),
            "pe:2023",
        ],
        &[],
        None,
    )
    .unwrap();
    let total_0101 = 100.0 + 110.0 + 50.0 + 200.0 + 20.0;
    assert_eq!(at(&c, "0101", NEW_AB, "2023", None), Some(total_0101));
    // weighted by population: (10 × 1000 + 40 × 2000) / 3000
    assert_eq!(
        at(&c, "x-dtts-share", NEW_AB, "2023", None),
        Some((10.0 * 1000.0 + 40.0 * 2000.0) / 3000.0)
    );
    assert_eq!(
        at(&c, "x-tt0218-gd", NEW_AB, "2023", None),
        Some((4.0 + 8.0) / 2.0)
    );
    // derived after aggregation: Σ 0101 / Σ population × 100
    let derived = at(&c, "x-dtts-share-calc", NEW_AB, "2023", None).unwrap();
    assert!(
        (derived - total_0101 / 3000.0 * 100.0).abs() < 1e-9,
        "{derived}"
    );
    // DTTS / Kinh and one group
    let c = pivot(
        db,
        &[
            "dx:0101",
            &format!("ou:{NEW_AB}"),
            "pe:2023",
            "eth:DTTS;KINH;02",
        ],
        &[],
        None,
    )
    .unwrap();
    assert_eq!(
        at(&c, "0101", NEW_AB, "2023", Some("DTTS")),
        Some(100.0 + 110.0 + 200.0 + 20.0)
    );
    assert_eq!(at(&c, "0101", NEW_AB, "2023", Some("KINH")), Some(50.0));
    assert_eq!(at(&c, "0101", NEW_AB, "2023", Some("02")), Some(410.0));
    // derived with a zero divisor: empty with a reason
    put(
        db,
        &[
            ("x-pop-total", "07030", "2026", "default", 0.0),
            ("0101", "07030", "2026", "E02.M", 5.0),
        ],
    );
    let c = pivot(
        db,
        &["dx:x-dtts-share-calc", "ou:07030", "pe:2026"],
        &[],
        None,
    )
    .unwrap();
    let x = cell(&c, "x-dtts-share-calc", "07030", "2026", None).unwrap();
    assert_eq!(x.value, None);
    assert_eq!(x.reason.as_deref(), Some("chia cho 0"));
}

fn relative_periods_and_filters(db: &TestDb) {
    let v = population(db);
    // today is November 2026: the last five years are 2021–2025
    let c = pivot(
        db,
        &["dx:x-pop-total", &format!("ou:{NEW_AB}"), "pe:LAST_5_YEARS"],
        &[],
        None,
    )
    .unwrap();
    let pe: Vec<&str> = c
        .dim(DimId::Pe)
        .unwrap()
        .items
        .iter()
        .map(|i| i.code.as_str())
        .collect();
    assert_eq!(pe, ["2021", "2022", "2023", "2024", "2025"]);
    assert_eq!(at(&c, "x-pop-total", NEW_AB, "2025", None), Some(v[2].2));
    assert_eq!(at(&c, "x-pop-total", NEW_AB, "2021", None), None);
    // periods as a filter add up
    let c = pivot(
        db,
        &["dx:x-pop-total", &format!("ou:{NEW_AB}")],
        &["pe:2023;2024;2025;2026"],
        None,
    )
    .unwrap();
    let sum: f64 = v.iter().map(|(a, b, n)| a + b + n).sum();
    let key = [0u32; 7];
    assert_eq!(c.cells.get(&key).and_then(|x| x.value), Some(sum));
}

fn pre_aggregates_agree_with_the_values_and_stay_fresh(db: &TestDb) {
    population(db);
    put(
        db,
        &[
            ("x-pop-total", OLD_SPLIT, "2023", "default", 1000.0),
            ("x-pop-total", "20", "2023", "default", 777.0),
        ],
    );
    let provinces = ["dx:x-pop-total", "ou:LEVEL-1", "pe:2023;2024;2025;2026"];
    let country = ["dx:x-pop-total", "ou:VN", "pe:2023;2024;2025;2026"];
    let cells = |q: &[&str]| cells(db, q);
    let raw = (cells(&provinces), cells(&country));
    assert!(analytics::refresh_all(db).unwrap() > 0);
    let dirty = db
        .read(|c| c.scalar_i64("SELECT count(*) FROM agg_dirty", &[]))
        .unwrap();
    assert_eq!(dirty, 0);
    let agg = (cells(&provinces), cells(&country));
    assert_eq!(raw, agg, "pre-aggregates give what the values give");
    let p = pivot(db, &provinces, &[], None).unwrap();
    assert_eq!(p.dim(DimId::Ou).unwrap().items.len(), 34);
    assert_eq!(at(&p, "x-pop-total", "22", "2023", None), Some(4000.0));
    assert_eq!(at(&p, "x-pop-total", "20", "2023", None), Some(777.0));
    let n = pivot(db, &country, &[], None).unwrap();
    assert_eq!(at(&n, "x-pop-total", "VN", "2023", None), Some(4777.0));
    // a write is in the next pivot, before any refresh
    put(db, &[("x-pop-total", NEW_AB, "2026", "default", 3500.0)]);
    let p = pivot(db, &provinces, &[], None).unwrap();
    assert_eq!(at(&p, "x-pop-total", "22", "2026", None), Some(3500.0));
    let n = pivot(db, &country, &[], None).unwrap();
    assert_eq!(at(&n, "x-pop-total", "VN", "2026", None), Some(3500.0));
    let q = provinces;
    // anonymous readers see published values only: nothing here is published
    let c = pivot_as(db, &q, &[], None, Some(&[])).unwrap();
    assert!(c.cells.values().all(|x| x.value.is_none()));
}

/// 0101 and the shares it weighs: a write of 0101 makes all of them dirty.
const WEIGHTED_BY_0101: [&str; 6] = [
    "0101",
    "x-tt-anninh",
    "x-tt-khcn",
    "x-tt-phapluat",
    "x-tt-rung",
    "x-tt-yte",
];

/// The dirty (indicator code, period, province code or `*` for every province) triples.
fn dirty(db: &TestDb) -> Vec<(String, String, String)> {
    db.read(|c| {
        c.query(
            "SELECT i.code, d.period, COALESCE(a.code, '*') FROM agg_dirty d
               JOIN indicator i ON i.id = d.indicator_id
               LEFT JOIN admin_unit a ON a.id = d.area_id
              ORDER BY 1, 2, 3",
            &[],
        )
    })
    .unwrap()
    .iter()
    .map(|r| (r.str(0), r.str(1), r.str(2)))
    .collect()
}

/// A write marks the provinces it touched, not the whole country: pivots read those provinces
/// from their values (the country as its pre-aggregate corrected by them) and give what a full
/// rebuild gives; the refresher then rebuilds those provinces only.
fn writes_are_tracked_per_province_and_read_fresh(db: &TestDb) {
    population(db);
    // Quảng Ninh (22) through its old communes, Lạng Sơn (20) by a commune and by its own figure
    put(
        db,
        &[
            ("x-pop-total", "05977", "2023", "default", 500.0),
            ("x-pop-total", "20", "2023", "default", 777.0),
            ("x-dtts-share", OLD_A, "2023", "default", 10.0),
            ("x-dtts-share", OLD_B, "2023", "default", 40.0),
            ("x-dtts-share", "05977", "2023", "default", 70.0),
            ("0101", OLD_A, "2023", "E02.M", 100.0),
            ("0101", OLD_B, "2023", "E10.F", 20.0),
            ("0101", "05977", "2023", "E02.M", 7.0),
        ],
    );
    analytics::refresh_all(db).unwrap();
    assert!(dirty(db).is_empty());
    let queries: [&[&str]; 4] = [
        &["dx:x-pop-total;x-dtts-share", "ou:LEVEL-1", "pe:2023"],
        &["dx:x-pop-total;x-dtts-share;0101", "ou:VN;22;20", "pe:2023"],
        &["dx:0101", "ou:VN;20", "pe:2023", "eth"],
        &["dx:0101", "ou:VN", "pe:2023", "eth:DTTS;KINH;10"],
    ];
    let cells = |q: &[&str]| cells(db, q);
    // each write, then every query before and after the refresh
    let check = |what: &str, expect_dirty: &[(&str, &str, &str)]| {
        let got: Vec<(String, String, String)> = dirty(db);
        let want: Vec<(String, String, String)> = expect_dirty
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, want, "{what}: dirty triples");
        let fresh: Vec<_> = queries.iter().map(|q| cells(q)).collect();
        analytics::refresh_all(db).unwrap();
        assert!(dirty(db).is_empty());
        let rebuilt: Vec<_> = queries.iter().map(|q| cells(q)).collect();
        for (i, (f, r)) in fresh.iter().zip(&rebuilt).enumerate() {
            assert_eq!(f.len(), r.len(), "{what}: query {i}: cells");
            for ((kf, cf), (kr, cr)) in f.iter().zip(r) {
                assert_eq!(kf, kr, "{what}: query {i}");
                match (cf.value, cr.value) {
                    (Some(a), Some(b)) => {
                        assert!(
                            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                            "{what}: query {i}: {a} ≠ {b}"
                        )
                    }
                    (a, b) => assert_eq!(a, b, "{what}: query {i}"),
                }
                assert_eq!(cf.reason, cr.reason, "{what}: query {i}");
            }
        }
    };
    // a weight changes in Quảng Ninh: its weighted averages are dirty there too
    put(db, &[("x-pop-total", OLD_A, "2023", "default", 3000.0)]);
    check(
        "weight",
        &[
            ("x-dtts-share", "2023", "22"),
            ("x-pop-total", "2023", "22"),
        ],
    );
    let n = pivot(db, queries[1], &[], None).unwrap();
    assert_eq!(
        at(&n, "x-pop-total", "VN", "2023", None),
        Some(3000.0 + 2000.0 + 777.0)
    );
    // a commune under a province's own figure: the country keeps the province's figure
    put(db, &[("x-pop-total", "05983", "2023", "default", 50.0)]);
    check(
        "own figure",
        &[
            ("x-dtts-share", "2023", "20"),
            ("x-pop-total", "2023", "20"),
        ],
    );
    let n = pivot(db, queries[1], &[], None).unwrap();
    assert_eq!(at(&n, "x-pop-total", "VN", "2023", None), Some(5777.0));
    // the last value of a group goes: the group leaves the country's breakdown
    delete(db, &[("0101", OLD_B, "2023", "E10.F")]);
    put(db, &[("0101", "05977", "2023", "E02.M", 8.0)]);
    {
        let c = pivot(db, queries[3], &[], None).unwrap();
        assert_eq!(at(&c, "0101", "VN", "2023", Some("10")), None);
        assert_eq!(at(&c, "0101", "VN", "2023", Some("DTTS")), Some(108.0));
    }
    // 0101 weighs the x-tt-* shares: they are dirty in the same provinces
    let mut want = vec![];
    for ind in WEIGHTED_BY_0101 {
        want.push((ind, "2023", "20"));
        want.push((ind, "2023", "22"));
    }
    check("delete", &want);
    // a value new to the country (a period with no pre-aggregate yet)
    put(db, &[("0101", "05977", "2022", "E02.F", 9.0)]);
    let c = pivot(db, &["dx:0101", "ou:VN;20;22", "pe:2022", "eth"], &[], None).unwrap();
    assert_eq!(at(&c, "0101", "VN", "2022", Some("02")), Some(9.0));
    assert_eq!(at(&c, "0101", "20", "2022", Some("02")), Some(9.0));
    assert_eq!(at(&c, "0101", "22", "2022", Some("02")), None);
    let want: Vec<_> = WEIGHTED_BY_0101
        .into_iter()
        .map(|ind| (ind, "2022", "20"))
        .collect();
    check("new pair", &want);
}

/// Breakdowns a pivot does not ask for are summed away in SQL: a total stored for a group
/// still wins over its parts (rule 3), on a commune (from the values) and on its province and
/// the country (from the pre-aggregates).
fn stored_totals_win_when_breakdowns_are_summed_away(db: &TestDb) {
    put(
        db,
        &[
            ("0101", "07030", "2023", "E02", 1000.0),
            ("0101", "07030", "2023", "E02.M", 400.0),
            ("0101", "07030", "2023", "E02.F", 500.0),
            ("0101", "07030", "2023", "E10.F", 30.0),
            ("0101", "07030", "2023", "E10.M", 20.0),
            ("0101", "05977", "2023", "E02.F.R", 7.0),
        ],
    );
    analytics::refresh_all(db).unwrap();
    for ou in ["07030", "22", "VN"] {
        let by_eth = pivot(
            db,
            &["dx:0101", &format!("ou:{ou}"), "pe:2023", "eth:02;10"],
            &[],
            None,
        )
        .unwrap();
        // Lạng Sơn's E02.F.R has more dimensions than the cells' other values: never counted
        let extra = 0.0;
        assert_eq!(
            at(&by_eth, "0101", ou, "2023", Some("02")),
            Some(1000.0 + extra),
            "{ou}"
        );
        assert_eq!(
            at(&by_eth, "0101", ou, "2023", Some("10")),
            Some(50.0),
            "{ou}"
        );
        let by_sex = pivot(
            db,
            &["dx:0101", &format!("ou:{ou}"), "pe:2023", "sex:M;F"],
            &["eth:02"],
            None,
        )
        .unwrap();
        let key = |sex: &str| {
            let d = by_sex.dim(DimId::Sex).unwrap();
            let mut k = [0u32; 7];
            k[4] = d.items.iter().position(|i| i.code == sex).unwrap() as u32;
            by_sex.cells.get(&k).and_then(|c| c.value)
        };
        assert_eq!(key("M"), Some(400.0), "{ou}");
        assert_eq!(key("F"), Some(500.0 + extra), "{ou}");
        // nothing asked: one breakdown level per cell, the one with the fewest dimensions
        let total = pivot(db, &["dx:0101", &format!("ou:{ou}"), "pe:2023"], &[], None).unwrap();
        assert_eq!(at(&total, "0101", ou, "2023", None), Some(1000.0), "{ou}");
    }
}

fn bad_requests_name_the_parameter(db: &TestDb) {
    let err = |dims: &[&str]| match pivot(db, dims, &[], None) {
        Err(StoreError::Invalid(p)) => p.0[0].clone(),
        other => panic!("expected a located error, got {other:?}"),
    };
    let e = err(&["dx:NOPE", "pe:2024"]);
    assert_eq!(
        (e.field.as_str(), e.value.as_deref()),
        ("dimension[0]", Some("NOPE"))
    );
    let e = err(&["dx:0101", "pe:2024", "ou:99999"]);
    assert_eq!(e.field, "dimension[2]");
    let e = err(&["dx:0101", "pe:LAST_9_WEEKS"]);
    assert_eq!(e.field, "dimension[1]");
    let e = err(&["dx:0101", "pe:2024", "eth:77"]);
    assert_eq!(e.field, "dimension[2]");
}

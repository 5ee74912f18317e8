//! `dantoc gis report`, `dantoc import boundaries` and `dantoc import villages` with points, as
//! a user runs them, on SQLite and on PostgreSQL.

#[macro_use]
mod common;
use common::{dantoc, text, tmp};

use dantoc_store::testing::TestDb;

on_both_backends!(report_imports_and_their_errors);

fn report_imports_and_their_errors(fresh: fn() -> TestDb, name: &str) {
    let db = fresh();
    let dir = tmp(name);
    let o = dantoc(&db, &["gis", "report"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    for line in [
        "2025 province     34 /     34 with a boundary (100.0 %)",
        "2025 commune    3321 /   3321 with a boundary (100.0 %)",
        "2024 province     63 /     63 with a boundary (100.0 %)",
    ] {
        assert!(t.contains(line), "{line}:\n{t}");
    }
    let o = dantoc(&db, &["gis", "report", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["layers"][0]["rate"], 1.0);

    // a province's own boundaries: the errors name the feature and the property
    let square = |x: f64| {
        format!(
            "{{\"type\":\"Polygon\",\"coordinates\":[[[{x},21.3],[{},21.3],[{},21.35],[{x},21.35],[{x},21.3]]]}}",
            x + 0.05,
            x + 0.05
        )
    };
    let f = dir.join("qn.geojson");
    std::fs::write(
        &f,
        format!(
            "{{\"type\":\"FeatureCollection\",\"features\":[\
             {{\"type\":\"Feature\",\"properties\":{{\"ma_xa\":\"06877\"}},\"geometry\":{}}},\
             {{\"type\":\"Feature\",\"properties\":{{\"ma_xa\":\"12345\"}},\"geometry\":{}}}]}}",
            square(107.4),
            square(107.5)
        ),
    )
    .unwrap();
    let args = [
        "import",
        "boundaries",
        f.to_str().unwrap(),
        "--code-property",
        "ma_xa",
    ];
    let o = dantoc(&db, &args);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("features[1].properties.ma_xa"), "{t}");
    assert!(t.contains("nothing was imported"), "{t}");
    std::fs::write(
        &f,
        format!(
            "{{\"type\":\"FeatureCollection\",\"features\":[\
             {{\"type\":\"Feature\",\"properties\":{{\"ma_xa\":\"06877\"}},\"geometry\":{}}}]}}",
            square(107.4)
        ),
    )
    .unwrap();
    // pages of features, as the OGC API reads them, before and after the import
    use dantoc_store::gis::{self, Collection, FeatureQuery};
    let communes = Collection {
        version: dantoc_domain::admin::HierarchyVersion::V2025,
        kind: dantoc_domain::admin::UnitKind::Commune,
    };
    let quang_ninh = FeatureQuery {
        province: Some("22".into()),
        limit: Some(100),
        ..FeatureQuery::default()
    };
    let page = |db: &TestDb| {
        db.db
            .read(|c| gis::features(c, communes, &quang_ninh))
            .unwrap()
    };
    let stamp = |db: &TestDb| {
        db.db
            .read(|c| c.query("SELECT value FROM meta WHERE key = 'geometry_stamp'", &[]))
            .unwrap()[0]
            .str(0)
    };
    let (before, stamp_before) = (page(&db), stamp(&db));
    let o = dantoc(&db, &args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 replaced, 0 added"), "{}", text(&o));
    // the stored GeoJSON the pages splice in is the imported boundary, at once
    assert_ne!(stamp(&db), stamp_before);
    let after = page(&db);
    assert_eq!(after.matched, 54);
    assert_eq!(before.features.len(), after.features.len());
    for (b, a) in before.features.iter().zip(&after.features) {
        assert_eq!(b.code, a.code);
        if a.code == "06877" {
            assert_eq!(a.source, "import:qn.geojson");
            let shape = dantoc_domain::geo::parse_shape(&a.geometry).unwrap();
            assert_eq!(dantoc_domain::geo::to_geojson(&shape), a.geometry);
            assert!(a.geometry.contains("107.45"), "{}", a.geometry);
            assert_ne!(a.geometry, b.geometry);
        } else {
            assert_eq!(a.geometry, b.geometry, "{}", a.code);
        }
    }
    let o = dantoc(&db, &["gis", "report"]);
    assert!(
        text(&o).contains("source import:qn.geojson: 1"),
        "{}",
        text(&o)
    );

    // villages with points; one without coordinates goes to the commune's centroid
    let v = dir.join("thon.csv");
    std::fs::write(
        &v,
        "code,name,commune,lon,lat\n06877-A,Khe Lạc,06877,107.42,21.32\n06877-B,Nà Pá,06877,,\n",
    )
    .unwrap();
    let o = dantoc(&db, &["import", "villages", v.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("2 created, 0 existing located, 1 placed at their commune's centroid"),
        "{}",
        text(&o)
    );
    std::fs::write(&v, "code,name,commune,lon,lat\n06877-C,Xa,06877,107.42,\n").unwrap();
    let o = dantoc(&db, &["import", "villages", v.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("row 2"), "{}", text(&o));
    let o = dantoc(&db, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
}

//! Boundaries, spatial queries and OGC API – Features over real HTTP, on SQLite and on
//! PostgreSQL (`sqlite::*`, `postgres::*`), read back by GDAL's OAPIF driver (`ogrinfo`, from
//! Debian's gdal-bin; scripts/test.sh installs it).

mod common;

use common::{Server, start};
use dantoc_domain::geo;
use dantoc_store::audit::Actor;
use dantoc_store::gis;
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
    every_unit_of_the_seed_has_its_boundary_and_centroids_lie_inside,
    known_points_fall_in_their_units,
    ogc_landing_conformance_and_collections,
    ogc_items_page_by_limit_offset_and_next_links,
    ogc_bbox_filters_exactly_and_bad_parameters_are_named,
    indicator_figures_as_properties_follow_visibility,
    geojson_downloads_and_villages,
    province_boundaries_import_all_or_nothing,
    gdal_reads_every_feature_with_code_and_geometry,
    map_page_draws_units_villages_and_figures_by_period,
    map_page_boundaries_at_finer_detail,
    ogc_pages_agree_with_single_items_and_follow_imports,
);

fn codes(fc: &Value) -> Vec<String> {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn link(fc: &Value, rel: &str) -> Option<String> {
    fc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .map(|l| l["href"].as_str().unwrap().to_string())
}

/// The path and query of an absolute link of this server.
fn path_of(s: &Server, href: &str) -> String {
    href.strip_prefix(&s.base)
        .unwrap_or_else(|| panic!("{href} is not on {}", s.base))
        .to_string()
}

fn every_unit_of_the_seed_has_its_boundary_and_centroids_lie_inside(s: Server) {
    let r = s.db.read(gis::report).unwrap();
    let rate = |v: &str, k: &str| {
        let l = r
            .layers
            .iter()
            .find(|l| l.version.as_str() == v && l.kind.as_str() == k)
            .unwrap();
        (l.with_geometry, l.units, l.missing.len())
    };
    assert_eq!(rate("2025", "province"), (34, 34, 0));
    assert_eq!(rate("2025", "commune"), (3321, 3321, 0));
    assert_eq!(rate("2024", "province"), (63, 63, 0));
    assert_eq!(r.seed.as_deref(), Some(gis::SEED_ID));
    // the finer files of the demo provinces were preferred
    let source = |name: &str| r.sources.iter().find(|x| x.0 == name).map(|x| x.1);
    assert_eq!(source("communes_2025_22_quang_ninh"), Some(54));
    assert_eq!(source("communes_2025_04_cao_bang"), Some(56));
    assert_eq!(source("communes_2025_19_thai_nguyen"), Some(92));
    assert!(
        r.text().contains("2025 commune    3321 /   3321"),
        "{}",
        r.text()
    );

    // every stored boundary is valid, and every centroid lies strictly inside its own unit
    let rows =
        s.db.read(|c| {
            c.query(
                "SELECT u.code, u.version, g.geojson, g.centroid_lon, g.centroid_lat, g.area_km2
                 FROM unit_geometry g JOIN admin_unit u ON u.id = g.unit_id",
                &[],
            )
        })
        .unwrap();
    assert_eq!(rows.len(), 34 + 3321 + 63);
    let mut total_2025 = 0.0;
    for r in &rows {
        let shape = geo::parse_shape(&r.str(2)).unwrap();
        let code = r.str(0);
        assert!(geo::invalidity(&shape).is_none(), "{code}");
        assert!(
            geo::strictly_inside(&shape, r.f64(3), r.f64(4)),
            "centroid of {code}@{} is outside it",
            r.str(1)
        );
        if r.str(1) == "2025" && code.len() == 2 {
            total_2025 += r.f64(5);
        }
    }
    // the country's land and islands: about 331,000 km² (the polygons include some sea)
    assert!((320_000.0..345_000.0).contains(&total_2025), "{total_2025}");
}

fn known_points_fall_in_their_units(s: Server) {
    let at = |q: &str| -> Vec<String> {
        let r = s.anon.get(&format!("/api/units/at?{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        r.json()["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["code"].as_str().unwrap().to_string())
            .collect()
    };
    // Hồ Hoàn Kiếm, Hà Nội; chợ Bến Thành, Thành phố Hồ Chí Minh
    assert_eq!(at("lon=105.8522&lat=21.0288"), ["01", "00070"]);
    assert_eq!(at("lon=106.6981&lat=10.7725"), ["79", "26743"]);
    assert_eq!(at("lon=107.3&lat=21.2&version=2024"), ["22"]);
    // the open sea is in no unit
    assert!(at("lon=110.5&lat=16.0").is_empty());
    // the centroid of every commune of the demo provinces lies in that commune
    for province in ["22", "04", "19"] {
        let fc = s
            .anon
            .get(&format!(
                "/ogcapi/collections/units-2025-commune/items?province={province}&limit=200"
            ))
            .json();
        let feats = fc["features"].as_array().unwrap();
        assert_eq!(
            feats.len(),
            match province {
                "22" => 54,
                "04" => 56,
                _ => 92,
            }
        );
        for f in feats {
            let p = &f["properties"];
            let q = format!("lon={}&lat={}", p["centroid_lon"], p["centroid_lat"]);
            assert_eq!(
                at(&q),
                [
                    province.to_string(),
                    p["code"].as_str().unwrap().to_string()
                ],
                "{q}"
            );
        }
    }
    let r = s.get("/api/units/at?lon=200&lat=21");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errors"][0]["field"], "lon");
    let r = s.get("/api/units/at?lat=21");
    assert_eq!(r.json()["errors"][0]["field"], "lon");
    // near: Hoàn Kiếm first, sorted by distance, all within the distance
    let near = s
        .anon
        .get("/api/units/near?lon=105.8522&lat=21.0288&km=3&kind=commune")
        .json();
    let units = near["units"].as_array().unwrap();
    assert_eq!(units[0]["code"], "00070");
    let d: Vec<f64> = units
        .iter()
        .map(|u| u["distance_km"].as_f64().unwrap())
        .collect();
    assert!(
        d.windows(2).all(|w| w[0] <= w[1]) && d.iter().all(|x| *x <= 3.0),
        "{d:?}"
    );
    assert!(units.len() >= 5, "{near}");
    let r = s.get("/api/units/near?lon=105.8&lat=21&km=900");
    assert_eq!(r.json()["errors"][0]["field"], "km");
}

fn ogc_landing_conformance_and_collections(s: Server) {
    let r = s.anon.get("/ogcapi");
    assert_eq!(r.status, 200);
    let l = r.json();
    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(link(&l, rel).is_some(), "{rel}: {l}");
    }
    assert_eq!(
        link(&l, "service-desc").unwrap(),
        format!("{}/api/openapi.json", s.base)
    );
    let c = s.anon.get("/ogcapi/conformance").json();
    let classes: Vec<&str> = c["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"));
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"));
    let cols = s.anon.get("/ogcapi/collections").json();
    let ids: Vec<&str> = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "units-2025-province",
            "units-2025-commune",
            "units-2024-province",
            "villages"
        ]
    );
    let one = s.anon.get("/ogcapi/collections/units-2025-commune").json();
    let bbox = one["extent"]["spatial"]["bbox"][0].as_array().unwrap();
    let b: Vec<f64> = bbox.iter().map(|x| x.as_f64().unwrap()).collect();
    assert!(
        b[0] > 102.0 && b[2] < 118.0 && b[1] > 7.0 && b[3] < 23.5,
        "{b:?}"
    );
    assert!(link(&one, "items").unwrap().ends_with("/items"));
    assert_eq!(s.anon.get("/ogcapi/collections/nope").status, 404);
    assert_eq!(
        s.anon
            .get("/ogcapi/collections/units-2025-district/items")
            .status,
        404
    );
}

fn ogc_items_page_by_limit_offset_and_next_links(s: Server) {
    let first = s.anon.get("/ogcapi/collections/units-2025-province/items");
    assert_eq!(first.status, 200);
    assert!(
        first
            .header("content-type")
            .unwrap()
            .starts_with("application/geo+json")
    );
    let fc = first.json();
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(fc["numberMatched"], 34);
    assert_eq!(fc["numberReturned"], 34, "the default limit is 100");
    assert!(link(&fc, "next").is_none());
    // pages of 10, by the next links
    let mut seen = vec![];
    let mut next = Some("/ogcapi/collections/units-2025-province/items?limit=10".to_string());
    let mut pages = 0;
    while let Some(path) = next {
        let fc = s.anon.get(&path).json();
        assert_eq!(fc["numberMatched"], 34);
        assert_eq!(
            fc["numberReturned"].as_u64().unwrap() as usize,
            fc["features"].as_array().unwrap().len()
        );
        if pages > 0 {
            assert!(link(&fc, "prev").is_some());
        }
        seen.extend(codes(&fc));
        next = link(&fc, "next").map(|h| path_of(&s, &h));
        pages += 1;
    }
    assert_eq!(pages, 4);
    let all: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 34);
    assert_eq!(all.len(), 34);
    let sorted = {
        let mut x = seen.clone();
        x.sort();
        x
    };
    assert_eq!(seen, sorted, "code order");
    // offset directly; past the end; a limit above the maximum is served as the maximum
    let fc = s
        .anon
        .get("/ogcapi/collections/units-2025-commune/items?limit=5&offset=3316")
        .json();
    assert_eq!(codes(&fc).len(), 5);
    assert!(link(&fc, "next").is_none());
    let fc = s
        .anon
        .get("/ogcapi/collections/units-2025-province/items?offset=40")
        .json();
    assert_eq!(fc["numberReturned"], 0);
    let fc = s
        .anon
        .get("/ogcapi/collections/units-2024-province/items?limit=50000")
        .json();
    assert_eq!(fc["numberReturned"], 63);
    // one feature, with its properties
    let f = s
        .anon
        .get("/ogcapi/collections/units-2025-commune/items/06877");
    assert_eq!(f.status, 200);
    let f = f.json();
    assert_eq!(f["id"], "06877");
    assert_eq!(f["properties"]["full_name"], "Xã Đông Ngũ");
    assert_eq!(f["properties"]["parent_code"], "22");
    assert_eq!(f["properties"]["source"], "communes_2025_22_quang_ninh");
    assert!(f["properties"]["area_km2"].as_f64().unwrap() > 10.0);
    assert!(matches!(
        f["geometry"]["type"].as_str(),
        Some("Polygon" | "MultiPolygon")
    ));
    assert_eq!(
        s.anon
            .get("/ogcapi/collections/units-2025-commune/items/99999")
            .status,
        404
    );
    assert_eq!(
        s.anon
            .get("/ogcapi/collections/units-2025-province/items/06877")
            .status,
        404,
        "a commune is not in the provinces' collection"
    );
}

fn ogc_bbox_filters_exactly_and_bad_parameters_are_named(s: Server) {
    // a box over Hạ Long Bay and its coast
    let bbox = geo::Bbox::parse("106.95,20.85,107.2,21.05").unwrap();
    let fc = s
        .anon
        .get(
            "/ogcapi/collections/units-2025-commune/items?bbox=106.95,20.85,107.2,21.05&limit=1000",
        )
        .json();
    let got: BTreeSet<String> = codes(&fc).into_iter().collect();
    assert_eq!(fc["numberMatched"].as_u64().unwrap() as usize, got.len());
    // independently: every commune whose boundary meets the box
    let rows =
        s.db.read(|c| {
            c.query(
                "SELECT u.code, g.geojson FROM unit_geometry g JOIN admin_unit u ON u.id = g.unit_id
                 WHERE u.version = '2025' AND u.kind = 'commune'",
                &[],
            )
        })
        .unwrap();
    let want: BTreeSet<String> = rows
        .iter()
        .filter(|r| bbox.meets(&geo::parse_shape(&r.str(1)).unwrap()))
        .map(|r| r.str(0))
        .collect();
    assert_eq!(got, want);
    assert!(got.contains("06688"), "Hạ Long: {got:?}");
    assert!(got.len() >= 5 && got.len() < 60, "{got:?}");
    // boxes of candidates that only graze the box are tested exactly: fewer than by box alone
    let by_box = s
        .db
        .read(|c| {
            c.scalar_i64(
                "SELECT count(*) FROM unit_geometry g JOIN admin_unit u ON u.id = g.unit_id
                 WHERE u.version = '2025' AND u.kind = 'commune'
                   AND g.maxx >= 106.95 AND g.minx <= 107.2 AND g.maxy >= 20.85 AND g.miny <= 21.05",
                &[],
            )
        })
        .unwrap();
    assert!(by_box as usize >= got.len());
    // paging within a box
    let page = s
        .anon
        .get("/ogcapi/collections/units-2025-commune/items?bbox=106.95,20.85,107.2,21.05&limit=2")
        .json();
    assert_eq!(page["numberMatched"].as_u64().unwrap() as usize, got.len());
    let next = link(&page, "next").unwrap();
    assert!(
        next.contains("bbox=106.95%2C20.85%2C107.2%2C21.05"),
        "{next}"
    );
    // the provinces' layer in the same box: Quảng Ninh alone
    let fc = s
        .anon
        .get("/ogcapi/collections/units-2025-province/items?bbox=107.0,20.9,107.1,21.0")
        .json();
    assert_eq!(codes(&fc), ["22"]);

    let bad = |q: &str, field: &str| {
        let r = s
            .anon
            .get(&format!("/ogcapi/collections/units-2025-commune/items?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        let j = r.json();
        assert_eq!(j["errors"][0]["field"], field, "{q}: {j}");
        assert_eq!(j["httpStatusCode"], 400);
    };
    bad("bbox=1,2,3", "bbox");
    bad("bbox=a,b,c,d", "bbox");
    bad("bbox=107,22,108,21", "bbox");
    bad("bbox=100,10,200,20", "bbox");
    bad("limit=0", "limit");
    bad("limit=ten", "limit");
    bad("offset=-1", "offset");
    bad(
        "bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857",
        "bbox-crs",
    );
    bad("colour=red", "colour");
    bad("indicator=0101", "period");
    bad("indicator=NOPE&period=2024", "indicator");
    bad("indicator=0101&period=2024Q9", "period");
}

/// Đông Ngũ (06877) and Tiên Yên (06862), communes of Quảng Ninh (22) since 1 July 2025.
fn write_values(s: &Server) {
    let dv = |de: &str, ou: &str, v: &str| json!({"dataElement": de, "orgUnit": ou, "period": "2025", "categoryOptionCombo": "default", "value": v});
    let r = s.post_json(
        "/api/dataValueSets",
        &json!({"dataValues": [dv("x-pop-total", "06877", "12000"), dv("x-pop-total", "06862", "30000")]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn indicator_figures_as_properties_follow_visibility(s: Server) {
    write_values(&s);
    let q = "/ogcapi/collections/units-2025-commune/items?province=22&indicator=x-pop-total&period=2025&density=true&limit=100";
    let fc = s.get(q).json();
    assert_eq!(fc["numberMatched"], 54);
    let by_code = |fc: &Value, code: &str| -> Value {
        fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == code)
            .unwrap()["properties"]
            .clone()
    };
    let p = by_code(&fc, "06877");
    assert_eq!(p["x-pop-total"], 12000.0);
    assert_eq!(p["period"], "2025");
    let density = p["x-pop-total_per_km2"].as_f64().unwrap();
    let area = p["area_km2"].as_f64().unwrap();
    assert!((density - 12000.0 / area).abs() < 0.01, "{density} {area}");
    assert_eq!(by_code(&fc, "06862")["x-pop-total"], 30000.0);
    // a commune without a figure has the property, empty
    assert_eq!(by_code(&fc, "06652")["x-pop-total"], Value::Null);
    // anonymous readers see published figures only: these are not published
    let anon = s.anon.get(q).json();
    assert_eq!(by_code(&anon, "06877")["x-pop-total"], Value::Null);
    // the province, one feature
    let f = s
        .get("/ogcapi/collections/units-2025-province/items/22?indicator=x-pop-total&period=2025")
        .json();
    assert_eq!(f["properties"]["x-pop-total"], 42000.0);
    // the plain download carries them too
    let d = s
        .get("/api/units.geojson?version=2025&kind=commune&province=22&indicator=x-pop-total&period=2025")
        .json();
    assert_eq!(by_code(&d, "06877")["x-pop-total"], 12000.0);
}

fn geojson_downloads_and_villages(s: Server) {
    let r = s
        .anon
        .get("/api/units.geojson?version=2025&kind=commune&province=22");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("dantoc-commune-2025-22.geojson")
    );
    let fc = r.json();
    assert_eq!(codes(&fc).len(), 54);
    assert!(codes(&fc).iter().all(|c| c.len() == 5));
    let provinces = s.anon.get("/api/units.geojson?version=2024").json();
    assert_eq!(codes(&provinces).len(), 63);
    assert_eq!(
        s.anon.get("/api/units.geojson?kind=hamlet").json()["errors"][0]["field"],
        "kind"
    );

    // villages of Đông Ngũ: two with coordinates, one without (placed at the centroid)
    let commune = s
        .anon
        .get("/ogcapi/collections/units-2025-commune/items/06877")
        .json();
    let (cx, cy) = (
        commune["properties"]["centroid_lon"].as_f64().unwrap(),
        commune["properties"]["centroid_lat"].as_f64().unwrap(),
    );
    let csv = format!(
        "code,name,commune,type,lon,lat\n06877-T1,Khe Lạc,06877,thôn,{},{}\n06877-T2,Nà Pá,06877,bản,{},{}\n06877-T3,Đồng Tâm,06877,thôn,,\n",
        cx + 0.001,
        cy,
        cx,
        cy + 0.001
    );
    let n = gis::import_villages(&s.db, &Actor::system(), "thon.csv", csv.as_bytes()).unwrap();
    assert_eq!((n.created, n.located, n.geocoded), (3, 0, 1));
    assert!(n.outside.is_empty(), "{:?}", n.outside);
    let v = s.anon.get("/api/units/06877/villages.geojson");
    assert_eq!(v.status, 200);
    let v = v.json();
    assert_eq!(codes(&v), ["06877-T1", "06877-T2", "06877-T3"]);
    let geocoded: Vec<bool> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["geocoded"].as_bool().unwrap())
        .collect();
    assert_eq!(geocoded, [false, false, true]);
    assert_eq!(v["features"][2]["geometry"]["coordinates"], json!([cx, cy]));
    assert_eq!(v["features"][0]["geometry"]["type"], "Point");
    // the province holds them too; another commune does not
    assert_eq!(
        codes(&s.anon.get("/api/units/22/villages.geojson").json()).len(),
        3
    );
    assert!(codes(&s.anon.get("/api/units/06862/villages.geojson").json()).is_empty());
    assert_eq!(s.anon.get("/api/units/99999/villages.geojson").status, 404);
    // the villages' collection, and near
    let fc = s.anon.get("/ogcapi/collections/villages/items").json();
    assert_eq!(fc["numberMatched"], 3);
    let near = s
        .anon
        .get(&format!(
            "/api/units/near?lon={cx}&lat={cy}&km=1&kind=village"
        ))
        .json();
    assert_eq!(near["units"][0]["code"], "06877-T3");
    // GeoJSON points, the same again: existing villages get their point, all or nothing
    let gj = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "06877-T3", "name": "Đồng Tâm", "commune": "06877"},
         "geometry": {"type": "Point", "coordinates": [cx - 0.001, cy]}},
        {"type": "Feature", "properties": {"code": "06877-T9", "name": "Xa", "commune": "06877"},
         "geometry": {"type": "Point", "coordinates": [500.0, cy]}},
    ]});
    let e = gis::import_villages(
        &s.db,
        &Actor::system(),
        "thon.geojson",
        gj.to_string().as_bytes(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("features[1].properties.lon"), "{e}");
    let gj = json!({"type": "FeatureCollection", "features": [gj["features"][0].clone()]});
    let n = gis::import_villages(
        &s.db,
        &Actor::system(),
        "thon.geojson",
        gj.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!((n.created, n.located, n.geocoded), (0, 1, 0));
    let f = s
        .anon
        .get("/ogcapi/collections/villages/items/06877-T3")
        .json();
    assert_eq!(f["properties"]["geocoded"], false);
    let r = s.db.read(gis::report).unwrap();
    assert_eq!(
        (r.villages, r.villages_located, r.villages_geocoded),
        (3, 3, 0)
    );
}

fn province_boundaries_import_all_or_nothing(s: Server) {
    let square = |x: f64, y: f64| json!({"type": "Polygon", "coordinates": [[[x, y], [x + 0.05, y], [x + 0.05, y + 0.05], [x, y + 0.05], [x, y]]]});
    // a bow tie: invalid, repaired
    let bow = json!({"type": "Polygon", "coordinates": [[[107.40, 21.30], [107.45, 21.35], [107.45, 21.30], [107.40, 21.35], [107.40, 21.30]]]});
    let bad = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ma_xa": 6877}, "geometry": square(107.40, 21.30)},
        {"type": "Feature", "properties": {"ma_xa": "99999"}, "geometry": square(107.40, 21.30)},
        {"type": "Feature", "properties": {"ten": "x"}, "geometry": square(107.40, 21.30)},
        {"type": "Feature", "properties": {"ma_xa": "06862"}, "geometry": {"type": "Point", "coordinates": [107.4, 21.3]}},
    ]});
    let opts = gis::BoundaryImport {
        version: dantoc_domain::admin::HierarchyVersion::V2025,
        code_property: "ma_xa".into(),
        name: "qn.geojson".into(),
    };
    let before = s
        .anon
        .get("/ogcapi/collections/units-2025-commune/items/06877")
        .json();
    let e = gis::import_boundaries(&s.db, &Actor::system(), &opts, &bad.to_string()).unwrap_err();
    let msg = e.to_string();
    for part in [
        "features[1].properties.ma_xa",
        "features[2].properties.ma_xa",
        "features[3].geometry",
        "99999",
    ] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    assert_eq!(
        s.anon
            .get("/ogcapi/collections/units-2025-commune/items/06877")
            .json(),
        before,
        "nothing changed"
    );
    let good = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ma_xa": 6877}, "geometry": square(107.40, 21.30)},
        {"type": "Feature", "properties": {"ma_xa": "06862"}, "geometry": bow},
    ]});
    let n = gis::import_boundaries(&s.db, &Actor::system(), &opts, &good.to_string()).unwrap();
    assert_eq!((n.replaced, n.added, n.repaired.len()), (2, 0, 1));
    assert_eq!(n.repaired[0].0, "06862", "{:?}", n.repaired);
    let f = s
        .anon
        .get("/ogcapi/collections/units-2025-commune/items/06877")
        .json();
    assert_eq!(f["properties"]["source"], "import:qn.geojson");
    let area = f["properties"]["area_km2"].as_f64().unwrap();
    // 0.05° × 0.05° at 21.3° N: about 5.19 km × 5.53 km
    assert!((area - 28.7).abs() < 0.5, "{area}");
    let tie = s
        .anon
        .get("/ogcapi/collections/units-2025-commune/items/06862")
        .json();
    assert_eq!(
        tie["geometry"]["type"], "MultiPolygon",
        "the bow tie's two halves"
    );
    // a point in the bow tie's left half lies in 06862 (and in the square given to 06877)
    let at = s.anon.get("/api/units/at?lon=107.41&lat=21.325").json();
    let at: Vec<&str> = at["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert!(at.contains(&"06862") && at.contains(&"06877"), "{at:?}");
    let r = s.db.read(gis::report).unwrap();
    assert_eq!(r.repaired.len(), 1);
    assert_eq!(r.repaired[0].code, "06862");
    assert!(
        r.sources.contains(&("import:qn.geojson".to_string(), 2)),
        "{:?}",
        r.sources
    );
    let audited = s
        .db
        .read(|c| {
            c.scalar_i64(
                "SELECT count(*) FROM audit_log WHERE entity = 'unit_geometry' AND action = 'import'",
                &[],
            )
        })
        .unwrap();
    assert_eq!(audited, 1);
}

/// `ogrinfo`, or a clear failure: scripts/test.sh installs Debian's gdal-bin.
fn ogrinfo(args: &[&str]) -> String {
    let out = std::process::Command::new("ogrinfo")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "ogrinfo (Debian package gdal-bin; scripts/test.sh installs it) did not run: {e}"
            )
        });
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ogrinfo {args:?}: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn gdal_reads_every_feature_with_code_and_geometry(s: Server) {
    let url = format!("OAPIF:{}/ogcapi", s.base);
    // the layers and their sizes
    let summary = ogrinfo(&["-ro", "-al", "-so", &url]);
    for (layer, count) in [
        ("units-2025-province", 34),
        ("units-2025-commune", 3321),
        ("units-2024-province", 63),
        ("villages", 0),
    ] {
        let at = summary
            .find(&format!("Layer name: {layer}\n"))
            .unwrap_or_else(|| panic!("{layer} missing:\n{summary}"));
        let block = &summary[at..];
        assert!(
            block.contains(&format!("Feature Count: {count}\n")),
            "{layer}: {}",
            &block[..block.len().min(400)]
        );
    }
    assert!(summary.contains("code: String"), "{summary}");
    // every province, read through the pages of the next links, with its code and geometry
    for (layer, n) in [("units-2025-province", 34), ("units-2024-province", 63)] {
        let text = ogrinfo(&["-ro", "-geom=SUMMARY", &url, layer]);
        let blocks: Vec<&str> = text.split("OGRFeature(").skip(1).collect();
        assert_eq!(blocks.len(), n, "{layer}");
        let mut codes = BTreeSet::new();
        for b in &blocks {
            let code = b
                .lines()
                .find_map(|l| l.trim().strip_prefix("code (String) = "))
                .unwrap_or_else(|| panic!("no code in {b}"));
            assert!(
                b.lines().any(|l| {
                    let l = l.trim();
                    l.starts_with("POLYGON : ") || l.starts_with("MULTIPOLYGON : ")
                }),
                "no geometry for {code}: {b}"
            );
            codes.insert(code.to_string());
        }
        assert_eq!(codes.len(), n, "{layer}: {codes:?}");
        assert!(codes.contains("22") && codes.contains("01"));
    }
}

/// The attribute `name` of the element of the page that has `data-code="code"`.
fn attr_of(html: &str, code: &str, name: &str) -> String {
    let at = html
        .find(&format!("data-code=\"{code}\""))
        .unwrap_or_else(|| panic!("no element of {code}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    let key = format!(" {name}=\"");
    let i = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    tag[i..i + tag[i..].find('"').unwrap()].to_string()
}

fn map_page_draws_units_villages_and_figures_by_period(s: Server) {
    // two years of figures for two communes of Quảng Ninh; three villages, one of them placed
    // at its commune's centroid, two with their mobile coverage in 2026
    let dv = |de: &str, ou: &str, pe: &str, v: &str| json!({"dataElement": de, "orgUnit": ou, "period": pe, "categoryOptionCombo": "default", "value": v});
    let r = s.post_json(
        "/api/dataValueSets",
        &json!({"dataValues": [
            dv("x-pop-total", "06877", "2025", "12000"), dv("x-pop-total", "06877", "2026", "12500"),
            dv("x-pop-total", "06862", "2025", "30000"), dv("x-pop-total", "06862", "2026", "31000"),
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let commune = |code: &str| {
        let p = s
            .anon
            .get(&format!(
                "/ogcapi/collections/units-2025-commune/items/{code}"
            ))
            .json();
        (
            p["properties"]["centroid_lon"].as_f64().unwrap(),
            p["properties"]["centroid_lat"].as_f64().unwrap(),
        )
    };
    let ((ax, ay), (bx, by)) = (commune("06877"), commune("06862"));
    let csv = format!(
        "code,name,commune,type,lon,lat\n06877-T1,Khe Lạc,06877,thôn,{},{ay}\n06877-T2,Nà Pá,06877,bản,,\n06862-T1,Đồng Tâm,06862,thôn,{bx},{}\n",
        ax + 0.001,
        by + 0.001
    );
    gis::import_villages(&s.db, &Actor::system(), "thon.csv", csv.as_bytes()).unwrap();
    let r = s.post_json(
        "/api/dataValueSets",
        &json!({"dataValues": [dv("x-thon-noms", "06877-T1", "2026", "1"), dv("x-thon-noms", "06877-T2", "2026", "0")]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let r = s.get("/ban-do?ou=22&ct=x-pop-total");
    assert_eq!(r.status, 200, "{}", r.body);
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("img-src 'self' data: https://tile.openstreetmap.org")
            && csp.contains("script-src 'self';"),
        "{csp}"
    );
    assert_eq!(
        r.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    let html = &r.body;
    assert!(html.contains("<h1>Bản đồ: Tỉnh Quảng Ninh</h1>"), "{html}");
    assert!(html.contains(r#"<script src="/static/map.js" defer></script>"#));
    assert!(!html.contains("<script>") && !html.contains(" style="));
    // one path per commune, the figures of both years, the latest shown
    assert_eq!(html.matches("<path data-code=").count(), 54);
    assert!(html.contains(r#"data-periods="2025;2026""#), "{html}");
    assert!(html.contains(r#"<output id="map-period">Năm 2026</output>"#));
    assert_eq!(attr_of(html, "06877", "data-v"), "12.000|12.500");
    assert_eq!(attr_of(html, "06862", "data-v"), "30.000|31.000");
    assert_eq!(attr_of(html, "06652", "data-v"), "|");
    assert_eq!(attr_of(html, "06652", "data-c"), "- -");
    assert_eq!(attr_of(html, "06652", "fill"), "url(#map-nodata)");
    // one set of classes for both years: the larger commune is in a higher class in each
    let classes = |code: &str| -> Vec<usize> {
        attr_of(html, code, "data-c")
            .split(' ')
            .map(|c| c.parse().unwrap())
            .collect()
    };
    let (small, large) = (classes("06877"), classes("06862"));
    assert!(
        small.iter().zip(&large).all(|(a, b)| a < b),
        "{small:?} {large:?}"
    );
    assert!(
        html.contains("Xã Đông Ngũ: 12.500 người</title>"),
        "the tooltip"
    );
    // the villages, by mobile coverage in 2026: none recorded for 06862-T1
    assert_eq!(html.matches("<circle class=\"vil").count(), 3);
    assert_eq!(attr_of(html, "06877-T1", "data-s"), "- 1");
    assert!(attr_of(html, "06877-T1", "class").starts_with("vil v1"));
    assert_eq!(attr_of(html, "06877-T2", "class"), "vil v0 approx");
    assert_eq!(attr_of(html, "06862-T1", "class"), "vil vn");
    assert!(
        html.contains("3 thôn, bản; 1 chưa có sóng di động (Năm 2026)."),
        "{html}"
    );
    // the boundaries' sources are named
    assert!(html.contains("© 2021 Thang Le Quoc, giấy phép MIT"));
    // an earlier period, by its code or its place on the slider
    for q in ["ky=2025", "t=0"] {
        let r = s.get(&format!("/ban-do?ou=22&ct=x-pop-total&{q}"));
        assert!(
            r.body
                .contains(r#"<output id="map-period">Năm 2025</output>"#),
            "{q}"
        );
        assert!(r.body.contains("Xã Đông Ngũ: 12.000 người</title>"), "{q}");
    }
    // layers as asked (the form sends lop=_ first)
    let r = s.get("/ban-do?ou=22&lop=_&lop=thon");
    assert!(
        r.body
            .contains(r#"<div id="map" class="map no-lines no-fill""#)
    );
    // anonymous readers see published figures only: none here
    let r = s.anon.get("/ban-do?ou=22&ct=x-pop-total");
    assert_eq!(r.status, 200);
    assert!(r.body.contains(r#"data-periods="""#));
    assert!(r.body.contains("Chưa có số liệu của chỉ tiêu này"));
    assert!(!r.body.contains("12.500"));

    // a commune: itself and its villages; the country: its provinces
    let r = s.get("/ban-do?ou=06877&ct=x-pop-total");
    assert_eq!(r.body.matches("<path data-code=").count(), 1);
    assert_eq!(r.body.matches("<circle class=\"vil").count(), 2);
    let r = s.get("/ban-do?ou=VN");
    assert_eq!(r.body.matches("<path data-code=").count(), 34);
    assert!(
        r.body
            .contains("Chọn một tỉnh hoặc một xã để xem các thôn, bản.")
    );
    let r = s.get("/ban-do?ou=VN&v=2024");
    assert_eq!(r.body.matches("<path data-code=").count(), 63);
    assert!(r.body.contains("CC BY-SA 4.0"));

    // errors say what is wrong
    assert_eq!(s.get("/ban-do?ou=99999").status, 404);
    for (q, field) in [
        ("ct=khong-co", "ct"),
        ("pp=kmeans", "pp"),
        ("t=abc", "t"),
        ("v=2019", "v"),
    ] {
        let r = s.get(&format!("/ban-do?{q}"));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["errors"][0]["field"], field, "{q}");
    }
    // the site links to it, the unit page too; its script is served
    assert!(
        s.anon
            .get("/")
            .body
            .contains(r#"<a href="/ban-do">Bản đồ</a>"#)
    );
    assert!(
        s.anon
            .get("/don-vi/06877")
            .body
            .contains(r#"href="/ban-do?ou=06877""#)
    );
    // a village is drawn on its commune's map; its own has nothing to draw, and says so
    assert!(
        s.anon
            .get("/don-vi/06877-T1")
            .body
            .contains(r#"href="/ban-do?ou=06877""#)
    );
    let r = s.anon.get("/ban-do?ou=06877-T1");
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains("Chưa có ranh giới của đơn vị này để vẽ bản đồ.")
    );
    let js = s.anon.get("/static/map.js");
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
}

fn map_page_boundaries_at_finer_detail(s: Server) {
    let page = s.anon.get("/ban-do?ou=22").body;
    let frame = |k: &str| -> f64 {
        let key = format!("data-{k}=\"");
        let i = page.find(&key).unwrap() + key.len();
        page[i..i + page[i..].find('"').unwrap()].parse().unwrap()
    };
    let r = s.anon.get("/api/maps/boundaries.json?ou=22&detail=4");
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    // the page's frame, finer paths for each of its communes
    assert_eq!(j["frame"]["zoom"].as_f64().unwrap(), frame("zoom"));
    assert_eq!(j["frame"]["x0"].as_f64().unwrap(), frame("x0"));
    assert_eq!(j["frame"]["y0"].as_f64().unwrap(), frame("y0"));
    assert_eq!(j["detail"], 4);
    assert_eq!(j["quantum"], 0.025);
    let paths = j["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 54);
    let coarse = attr_of(&page, "06877", "d");
    let fine = paths["06877"].as_str().unwrap();
    assert!(fine.starts_with('M') && fine.ends_with('z'));
    let vertices = |d: &str| d.split(['l', ' ', '-']).filter(|x| !x.is_empty()).count();
    assert!(vertices(fine) > vertices(&coarse), "{fine}\n{coarse}");
    // only the units meeting a box
    let (x, y) = {
        let p = s
            .anon
            .get("/ogcapi/collections/units-2025-commune/items/06877")
            .json();
        (
            p["properties"]["centroid_lon"].as_f64().unwrap(),
            p["properties"]["centroid_lat"].as_f64().unwrap(),
        )
    };
    let b = s
        .anon
        .get(&format!(
            "/api/maps/boundaries.json?ou=22&detail=16&bbox={},{},{},{}",
            x - 0.001,
            y - 0.001,
            x + 0.001,
            y + 0.001
        ))
        .json();
    let near: Vec<&String> = b["paths"].as_object().unwrap().keys().collect();
    assert!(
        near.contains(&&"06877".to_string()) && near.len() < 5,
        "{near:?}"
    );
    // errors
    for (q, field) in [
        ("ou=22&detail=3", "detail"),
        ("detail=4", "ou"),
        ("ou=22&bbox=1,2", "bbox"),
    ] {
        let r = s.anon.get(&format!("/api/maps/boundaries.json?{q}"));
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["errors"][0]["field"], field, "{q}");
    }
    assert_eq!(s.anon.get("/api/maps/boundaries.json?ou=99999").status, 404);
}

/// Pages are written as their rows are read (the geometry straight from the row): every
/// commune once, in code order, over pages of 1,000; a page's features are those of the
/// single-item answers; boxes page the same way; a boundary imported again is on the next page.
fn ogc_pages_agree_with_single_items_and_follow_imports(s: Server) {
    let base = "/ogcapi/collections/units-2025-commune/items";
    let mut seen = vec![];
    let mut next = Some(format!("{base}?limit=1000"));
    while let Some(path) = next {
        let fc = s.anon.get(&path).json();
        assert_eq!(fc["numberMatched"], 3321);
        assert_eq!(
            fc["numberReturned"].as_u64().unwrap() as usize,
            fc["features"].as_array().unwrap().len()
        );
        seen.extend(codes(&fc));
        next = link(&fc, "next").map(|h| path_of(&s, &h));
    }
    assert_eq!(seen.len(), 3321);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "every commune once, in code order");
    // a page of a province, feature by feature as the single items
    let page = s.anon.get(&format!("{base}?province=22&limit=100")).json();
    assert_eq!(page["numberMatched"], 54);
    let feats = page["features"].as_array().unwrap();
    assert_eq!(feats.len(), 54);
    for f in feats.iter().step_by(10) {
        let code = f["id"].as_str().unwrap();
        let mut one = s.anon.get(&format!("{base}/{code}")).json();
        one.as_object_mut().unwrap().remove("links");
        assert_eq!(&one, f, "{code}");
    }
    // a box paged by offsets gives the box's features once each, in order
    let boxed = |q: &str| {
        s.anon
            .get(&format!("{base}?bbox=106.95,20.85,107.2,21.05&{q}"))
            .json()
    };
    let all = codes(&boxed("limit=1000"));
    let mut paged = vec![];
    for offset in (0..all.len()).step_by(3) {
        let fc = boxed(&format!("limit=3&offset={offset}"));
        assert_eq!(fc["numberMatched"].as_u64().unwrap() as usize, all.len());
        paged.extend(codes(&fc));
    }
    assert_eq!(paged, all);
    // boundaries imported again: the pages serve them at once
    let square = json!({"type": "Polygon", "coordinates": [[[107.40, 21.30], [107.45, 21.30], [107.45, 21.35], [107.40, 21.35], [107.40, 21.30]]]});
    let file = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ma_xa": "06877"}, "geometry": square},
    ]});
    let opts = gis::BoundaryImport {
        version: dantoc_domain::admin::HierarchyVersion::V2025,
        code_property: "ma_xa".into(),
        name: "dong-ngu.geojson".into(),
    };
    let stamp = || {
        s.db.read(|c| c.query("SELECT value FROM meta WHERE key = 'geometry_stamp'", &[]))
            .unwrap()[0]
            .str(0)
    };
    let before = stamp();
    gis::import_boundaries(&s.db, &Actor::system(), &opts, &file.to_string()).unwrap();
    assert_ne!(
        stamp(),
        before,
        "servers' lists of each collection's units renewed"
    );
    let page = s.anon.get(&format!("{base}?province=22&limit=100")).json();
    let f = page["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "06877")
        .unwrap()
        .clone();
    assert_eq!(f["properties"]["source"], "import:dong-ngu.geojson");
    assert_eq!(f["geometry"]["type"], "Polygon");
    assert_eq!(f["geometry"]["coordinates"][0].as_array().unwrap().len(), 5);
    let area = f["properties"]["area_km2"].as_f64().unwrap();
    assert!((area - 28.7).abs() < 0.5, "{area}");
    let in_box = codes(
        &s.anon
            .get(&format!("{base}?bbox=107.41,21.31,107.44,21.34&limit=100"))
            .json(),
    );
    assert!(in_box.contains(&"06877".to_string()), "{in_box:?}");
    if s.db.backend() == dantoc_store::Backend::Postgres {
        // boundaries stored out of line without compression (migration 0013)
        let storage =
            s.db.read(|c| {
                c.query(
                    "SELECT attstorage::text FROM pg_attribute
                     WHERE attrelid = 'unit_geometry'::regclass AND attname = 'geojson'",
                    &[],
                )
            })
            .unwrap();
        assert_eq!(storage[0].str(0), "e");
    }
}

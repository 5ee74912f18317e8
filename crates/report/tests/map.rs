//! Choropleth maps on real boundaries: the 54 communes of Quảng Ninh (2025), from
//! `shared/data/boundaries/communes_2025_22_quang_ninh.geojson` with coordinates rounded to
//! 1e-4° (`tests/data/communes_22_quang_ninh.geojson.gz`). Also writes examples to
//! `target/map-examples/` to look at.

use std::collections::HashMap;
use std::io::Read;

use dantoc_report::classes::Breaks;
use dantoc_report::map::{MapSpec, MapUnit, Palette, choropleth, png};
use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;

fn ring(v: &Value) -> LineString<f64> {
    LineString(
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| Coord {
                x: p[0].as_f64().unwrap(),
                y: p[1].as_f64().unwrap(),
            })
            .collect(),
    )
}

/// The communes, each with a made-up population (some missing, some estimated).
fn quang_ninh() -> Vec<MapUnit> {
    let mut gz = Vec::new();
    std::fs::File::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/communes_22_quang_ninh.geojson.gz"
    ))
    .unwrap()
    .read_to_end(&mut gz)
    .unwrap();
    let mut json = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut json)
        .unwrap();
    let doc: Value = serde_json::from_str(&json).unwrap();
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let polys = f["geometry"]["coordinates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let rings = p.as_array().unwrap();
                    Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
                })
                .collect();
            let code = f["properties"]["code"].as_str().unwrap().to_string();
            let n: u64 = code.parse().unwrap();
            MapUnit {
                name: f["properties"]["name"].as_str().unwrap().to_string(),
                code,
                geometry: MultiPolygon(polys),
                value: (i % 17 != 5).then(|| ((n * 7919) % 23_000 + 800) as f64),
                estimated: i % 13 == 4,
            }
        })
        .collect()
}

fn spec(width: u32) -> MapSpec {
    MapSpec {
        title: "Dân số người dân tộc thiểu số theo xã, phường, đặc khu — Quảng Ninh, 2025".into(),
        subtitle: "Số liệu mẫu, không phải số liệu thật".into(),
        source: "Nguồn: dantoc, Ban Dân tộc tỉnh Quảng Ninh; ranh giới hành chính 2025".into(),
        unit_of_measure: "người".into(),
        method: Breaks::Jenks,
        classes: 5,
        width_px: width,
        ..MapSpec::default()
    }
}

#[test]
fn quang_ninh_communes() {
    let units = quang_ninh();
    assert_eq!(units.len(), 54);
    let with_value = units.iter().filter(|u| u.value.is_some()).count();
    for width in [360, 800, 1000] {
        let svg = choropleth(&units, &spec(width));
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        let paths: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("path"))
            .collect();
        assert_eq!(paths.len(), units.len());
        let mut codes: HashMap<&str, &str> = HashMap::new();
        for p in &paths {
            let d = p.attribute("d").unwrap();
            assert!(d.starts_with('M') && d.ends_with('z'), "{d}");
            assert!(codes.insert(p.attribute("data-code").unwrap(), d).is_none());
        }
        assert!(units.iter().all(|u| codes.contains_key(u.code.as_str())));
        // Legend counts add up to the units.
        let counts: Vec<usize> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("count"))
            .map(|n| n.text().unwrap().trim_matches(['(', ')']).parse().unwrap())
            .collect();
        let estimated = units
            .iter()
            .filter(|u| u.estimated && u.value.is_some())
            .count();
        assert_eq!(counts.iter().sum::<usize>(), units.len() + estimated);
        let classes = doc
            .descendants()
            .filter(|n| {
                n.attribute("class")
                    .is_some_and(|c| c.starts_with("item class-"))
            })
            .count();
        assert_eq!(classes, 5);
        assert!(with_value < units.len());
        // Small: the source file is 1.1 MB.
        let kb = svg.len() / 1024;
        let max_kb = match width {
            360 => 60,
            800 => 120,
            _ => 150,
        };
        assert!(kb <= max_kb, "{width} px: {kb} KB");
    }
}

#[test]
fn examples_and_png() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/map-examples");
    std::fs::create_dir_all(&dir).unwrap();
    let units = quang_ninh();
    for (width, method, palette) in [
        (360, Breaks::Quantile, Palette::YlOrRd),
        (1000, Breaks::Jenks, Palette::YlOrRd),
        (800, Breaks::EqualInterval, Palette::Blues),
    ] {
        let s = MapSpec {
            method,
            palette,
            ..spec(width)
        };
        let svg = choropleth(&units, &s);
        let name = format!("quang-ninh-{width}");
        std::fs::write(dir.join(format!("{name}.svg")), &svg).unwrap();
        let png = png(&svg, width).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let img = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        assert_eq!(img.width(), width);
        let ink = img
            .pixels()
            .iter()
            .filter(|p| p.red() < 245 || p.green() < 245 || p.blue() < 245)
            .count();
        assert!(ink * 10 > img.pixels().len(), "{name}: {ink} pixels drawn");
    }
}

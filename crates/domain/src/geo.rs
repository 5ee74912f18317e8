//! Boundaries and points of administrative units, in WGS 84 longitude/latitude (RFC 7946):
//! reading a GeoJSON polygon, checking and repairing it (rounding to 1e-5°, winding, validity),
//! its bounding box, a centroid that lies inside it, its geodesic area, point-in-polygon and
//! distances. Pure logic on the `geo` crate's types; storage is `dantoc_store::gis`.
//!
//! Repairs: rings are oriented as RFC 7946 asks (exteriors counter-clockwise, holes
//! clockwise) with `geo`'s `Orient`; a shape that `geo`'s `Validation` finds invalid
//! (self-intersection, overlapping parts, a hole outside its shell, …) is rebuilt with
//! `geo`'s `MakeValid` — the constrained-triangulation repair of Ledoux, Arroyo Ohori and
//! Meijers (2014), odd-even fill — then oriented and checked again.

use std::collections::HashSet;

use geo::{
    Area, BoundingRect, Centroid, Contains, Coord, CoordsIter, Distance, GeodesicArea, Haversine,
    InteriorPoint, Intersects, LineString, MakeValid, MapCoords, MultiPolygon, Orient, Point,
    Polygon, Rect, RemoveRepeatedPoints, Validation, Winding, orient::Direction,
};

pub use geo::MultiPolygon as Shape;

/// Longitude/latitude bounds, in degrees. `minx > maxx` crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub minx: f64,
    pub miny: f64,
    pub maxx: f64,
    pub maxy: f64,
}

impl Bbox {
    /// OGC API's `bbox`: `minx,miny,maxx,maxy` (or six numbers with heights, which are
    /// ignored), in CRS84.
    pub fn parse(s: &str) -> Result<Bbox, String> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let nums: Vec<f64> = parts
            .iter()
            .map(|p| p.parse::<f64>().ok().filter(|v| v.is_finite()))
            .collect::<Option<Vec<_>>>()
            .ok_or("expected four numbers minx,miny,maxx,maxy (longitude, latitude in degrees)")?;
        let (minx, miny, maxx, maxy) = match nums.as_slice() {
            [a, b, c, d] => (*a, *b, *c, *d),
            [a, b, _, d, e, _] => (*a, *b, *d, *e),
            _ => {
                return Err(format!(
                    "expected four numbers minx,miny,maxx,maxy, got {}",
                    nums.len()
                ));
            }
        };
        for x in [minx, maxx] {
            if !(-180.0..=180.0).contains(&x) {
                return Err(format!("longitude {x} is outside -180..180"));
            }
        }
        for y in [miny, maxy] {
            if !(-90.0..=90.0).contains(&y) {
                return Err(format!("latitude {y} is outside -90..90"));
            }
        }
        if miny > maxy {
            return Err("the southern edge (miny) is north of the northern edge (maxy)".into());
        }
        Ok(Bbox {
            minx,
            miny,
            maxx,
            maxy,
        })
    }

    pub fn of(shape: &Shape) -> Option<Bbox> {
        shape.bounding_rect().map(|r| Bbox {
            minx: r.min().x,
            miny: r.min().y,
            maxx: r.max().x,
            maxy: r.max().y,
        })
    }

    /// Does it cross the antimeridian (`minx > maxx`)?
    pub fn crosses_antimeridian(&self) -> bool {
        self.minx > self.maxx
    }

    /// The box as one or two rectangles (two when it crosses the antimeridian).
    pub fn rects(&self) -> Vec<Rect<f64>> {
        let r =
            |a: f64, b: f64| Rect::new(Coord { x: a, y: self.miny }, Coord { x: b, y: self.maxy });
        if self.crosses_antimeridian() {
            vec![r(self.minx, 180.0), r(-180.0, self.maxx)]
        } else {
            vec![r(self.minx, self.maxx)]
        }
    }

    /// Is `other` (a shape's box, not crossing the antimeridian) wholly inside this box?
    pub fn contains_box(&self, other: &Bbox) -> bool {
        other.miny >= self.miny
            && other.maxy <= self.maxy
            && self
                .rects()
                .iter()
                .any(|r| other.minx >= r.min().x && other.maxx <= r.max().x)
    }

    /// Does the shape meet this box (boundary included)?
    pub fn meets(&self, shape: &Shape) -> bool {
        self.rects().iter().any(|r| r.intersects(shape))
    }

    /// Does the point lie in this box (edges included)?
    pub fn has_point(&self, lon: f64, lat: f64) -> bool {
        lat >= self.miny
            && lat <= self.maxy
            && if self.crosses_antimeridian() {
                lon >= self.minx || lon <= self.maxx
            } else {
                lon >= self.minx && lon <= self.maxx
            }
    }
}

/// A checked boundary, ready to store.
#[derive(Debug, Clone)]
pub struct Boundary {
    pub shape: Shape,
    pub bbox: Bbox,
    /// The centroid, or a point inside the shape when the centroid falls outside it (a
    /// crescent, a group of islands): always inside.
    pub centroid: (f64, f64),
    /// The centroid fell outside the shape and was replaced by an interior point.
    pub centroid_moved: bool,
    /// Geodesic area on the WGS 84 ellipsoid, km².
    pub area_km2: f64,
    pub vertices: usize,
    /// Rings were re-oriented (exteriors counter-clockwise, holes clockwise).
    pub reoriented: bool,
    /// The shape was invalid and rebuilt with `MakeValid`: what was wrong with it.
    pub repaired: Option<String>,
}

fn round_to(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

fn rounded(shape: &Shape, scale: f64) -> Shape {
    shape
        .map_coords(|c| Coord {
            x: round_to(c.x, scale),
            y: round_to(c.y, scale),
        })
        .remove_repeated_points()
}

/// Drop rings too short to bound an area, and polygons left without an exterior.
fn drop_degenerate(shape: Shape) -> Shape {
    MultiPolygon(
        shape
            .0
            .into_iter()
            .filter(|p| p.exterior().0.len() >= 4)
            .map(|p| {
                let (ext, holes) = p.into_inner();
                Polygon::new(ext, holes.into_iter().filter(|h| h.0.len() >= 4).collect())
            })
            .collect(),
    )
}

fn is_oriented(shape: &Shape) -> bool {
    shape
        .0
        .iter()
        .all(|p| p.exterior().is_ccw() && p.interiors().iter().all(|h| h.is_cw()))
}

/// A segment of a ring, for the sweep.
#[derive(Debug, Clone, Copy)]
struct Seg {
    line: geo::Line<f64>,
    poly: usize,
    ring: usize,
}

impl geo::algorithm::sweep::Cross for Seg {
    type Scalar = f64;
    fn line(&self) -> geo::Line<f64> {
        self.line
    }
}

/// What makes a shape invalid, by the rules of `geo`'s `Validation` (OGC simple features):
/// rings of at least three distinct points that do not cross themselves, holes inside their
/// exterior touching it or each other at points only, polygons that neither overlap nor touch
/// along a line. `geo` compares every pair of segments of a ring and relates every pair of
/// polygons, which takes seconds on a commune of many islands; here one plane sweep over all
/// segments (`geo`'s `sweep::Intersections`) finds every crossing, and only polygons or rings
/// that touch go through `geo`'s own exact checks.
pub fn invalidity(shape: &Shape) -> Option<String> {
    use geo::algorithm::sweep::Intersections;
    use geo::line_intersection::LineIntersection;
    use geo::{Relate, coordinate_position::CoordPos, dimensions::Dimensions};
    let multi = shape.0.len() > 1;
    let ring_name = |poly: usize, ring: usize| {
        let r = if ring == 0 {
            "exterior ring".to_string()
        } else {
            format!("interior ring {}", ring - 1)
        };
        if multi {
            format!("{r} of polygon {poly}")
        } else {
            r
        }
    };
    let rings = |p: &Polygon<f64>| -> Vec<geo::LineString<f64>> {
        std::iter::once(p.exterior().clone())
            .chain(p.interiors().iter().cloned())
            .collect()
    };
    let mut segs = vec![];
    for (pi, p) in shape.0.iter().enumerate() {
        for (ri, r) in rings(p).iter().enumerate() {
            let mut distinct: Vec<Coord<f64>> = r.0.clone();
            distinct.dedup();
            if distinct.first() == distinct.last() {
                distinct.pop();
            }
            if distinct.len() < 3 {
                return Some(format!(
                    "{} must have at least 3 distinct points",
                    ring_name(pi, ri)
                ));
            }
            segs.extend(r.lines().map(|line| Seg {
                line,
                poly: pi,
                ring: ri,
            }));
        }
    }
    // rings of different polygons, or of one polygon, that touch at a point: checked exactly
    let mut touching: HashSet<(usize, usize)> = HashSet::new();
    for (a, b, x) in Intersections::from_iter(segs) {
        if a.poly == b.poly && a.ring == b.ring {
            // `geo`'s rule: segments that follow one another may share their end point
            if a.line.start == b.line.end || a.line.end == b.line.start {
                continue;
            }
            return Some(format!(
                "{} has a self-intersection",
                ring_name(a.poly, a.ring)
            ));
        }
        match x {
            // collinear segments that meet end to end share a point, not a line
            LineIntersection::Collinear { intersection: l } if l.start == l.end => {
                touching.insert((a.poly.min(b.poly), a.poly.max(b.poly)));
            }
            LineIntersection::SinglePoint {
                is_proper: false, ..
            } => {
                touching.insert((a.poly.min(b.poly), a.poly.max(b.poly)));
            }
            LineIntersection::SinglePoint { .. } if a.poly == b.poly => {
                return Some(format!(
                    "{} and {} cross",
                    ring_name(a.poly, a.ring),
                    ring_name(b.poly, b.ring)
                ));
            }
            LineIntersection::SinglePoint { .. } => {
                return Some(format!("polygons {} and {} overlap", a.poly, b.poly));
            }
            LineIntersection::Collinear { .. } => {
                return Some(format!(
                    "{} and {} touch along a line",
                    ring_name(a.poly, a.ring),
                    ring_name(b.poly, b.ring)
                ));
            }
        }
    }
    // with no crossing, a ring lies wholly inside or wholly outside another: one point tells
    let first = |r: &geo::LineString<f64>| Point::from(r.0[0]);
    let boxes: Vec<Option<Rect<f64>>> = shape.0.iter().map(|p| p.bounding_rect()).collect();
    for (i, p) in shape.0.iter().enumerate() {
        if touching.contains(&(i, i)) {
            if let Err(e) = p.check_validation() {
                return Some(if multi {
                    format!("polygon {i} is invalid: {e}")
                } else {
                    e.to_string()
                });
            }
        } else {
            let shell = Polygon::new(p.exterior().clone(), vec![]);
            let holes: Vec<Polygon<f64>> = p
                .interiors()
                .iter()
                .map(|h| Polygon::new(h.clone(), vec![]))
                .collect();
            for (k, h) in holes.iter().enumerate() {
                if !shell.intersects(&first(h.exterior())) {
                    return Some(format!(
                        "{} is not inside the exterior ring",
                        ring_name(i, k + 1)
                    ));
                }
                for (m, g) in holes.iter().enumerate() {
                    if m != k && g.intersects(&first(h.exterior())) {
                        return Some(format!(
                            "{} and {} overlap",
                            ring_name(i, k + 1),
                            ring_name(i, m + 1)
                        ));
                    }
                }
            }
        }
        for (j, q) in shape.0.iter().enumerate().skip(i + 1) {
            let (Some(a), Some(b)) = (boxes[i], boxes[j]) else {
                continue;
            };
            if !a.intersects(&b) {
                continue;
            }
            if touching.contains(&(i, j)) {
                let im = p.relate(q);
                if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                    return Some(format!("polygons {i} and {j} overlap"));
                }
                if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional
                {
                    return Some(format!("polygons {i} and {j} touch along a line"));
                }
            } else if p.intersects(&first(q.exterior())) || q.intersects(&first(p.exterior())) {
                return Some(format!("polygons {i} and {j} overlap"));
            }
        }
    }
    None
}

/// A Polygon or MultiPolygon of 2-D positions — the form dantoc stores — read straight into
/// arrays: no allocation per position, several times faster than the general reader (a map
/// of the country's 3,321 communes reads 10 MB of them).
#[derive(serde::Deserialize)]
#[serde(tag = "type", content = "coordinates")]
enum Plain {
    Polygon(Vec<Vec<[f64; 2]>>),
    MultiPolygon(Vec<Vec<Vec<[f64; 2]>>>),
}

impl Plain {
    /// The shape, or `None` for a polygon without rings (left to the general reader).
    fn shape(self) -> Option<Shape> {
        let polygon = |rings: Vec<Vec<[f64; 2]>>| -> Option<Polygon<f64>> {
            let mut rings = rings
                .into_iter()
                .map(|r| LineString(r.into_iter().map(|[x, y]| Coord { x, y }).collect()));
            let exterior = rings.next()?;
            Some(Polygon::new(exterior, rings.collect()))
        };
        Some(MultiPolygon(match self {
            Plain::Polygon(rings) => vec![polygon(rings)?],
            Plain::MultiPolygon(polys) => {
                polys.into_iter().map(polygon).collect::<Option<Vec<_>>>()?
            }
        }))
    }
}

/// A GeoJSON geometry object as text → a shape (Polygon or MultiPolygon only).
pub fn parse_shape(json: &str) -> Result<Shape, String> {
    if let Some(shape) = serde_json::from_str::<Plain>(json)
        .ok()
        .and_then(Plain::shape)
    {
        return checked(shape);
    }
    let g: geojson::Geometry = json
        .parse()
        .map_err(|e| format!("not a GeoJSON geometry: {e}"))?;
    shape_from(&g)
}

/// A GeoJSON geometry → a shape (Polygon or MultiPolygon only).
pub fn shape_from(g: &geojson::Geometry) -> Result<Shape, String> {
    let geometry: geo::Geometry<f64> = g
        .try_into()
        .map_err(|e| format!("unreadable geometry: {e}"))?;
    let shape = match geometry {
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(m) => m,
        other => {
            return Err(format!(
                "a boundary must be a Polygon or MultiPolygon, not a {}",
                kind_name(&other)
            ));
        }
    };
    checked(shape)
}

/// A shape whose coordinates are finite longitudes and latitudes in degrees.
fn checked(shape: Shape) -> Result<Shape, String> {
    if shape
        .coords_iter()
        .any(|c| !c.x.is_finite() || !c.y.is_finite())
    {
        return Err("a coordinate is not a finite number".into());
    }
    if let Some(c) = shape
        .coords_iter()
        .find(|c| !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y))
    {
        return Err(format!(
            "coordinate ({}, {}) is not a longitude/latitude in degrees (RFC 7946, WGS 84)",
            c.x, c.y
        ));
    }
    Ok(shape)
}

fn kind_name(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
        geo::Geometry::Rect(_) | geo::Geometry::Triangle(_) => "Polygon",
        geo::Geometry::Polygon(_) => "Polygon",
        geo::Geometry::MultiPolygon(_) => "MultiPolygon",
    }
}

/// Check a shape and repair it: coordinates rounded to 1e-5° (about 1 m) and repeated points
/// removed, rings oriented, an invalid shape rebuilt with `MakeValid`. Fails when nothing with
/// an area is left.
pub fn check(shape: Shape) -> Result<Boundary, String> {
    let mut shape = drop_degenerate(rounded(&shape, 1e5));
    if shape.0.is_empty() {
        return Err("the boundary has no ring with an area".into());
    }
    let reoriented = !is_oriented(&shape);
    if reoriented {
        shape = shape.orient(Direction::Default);
    }
    let mut repaired = None;
    if let Some(problem) = invalidity(&shape) {
        let fixed = shape
            .make_valid()
            .map_err(|e| format!("invalid ({problem}) and not repairable: {e}"))?
            .orient(Direction::Default);
        // back on the 1e-5° grid if that keeps it valid, else a finer one
        let on_grid = drop_degenerate(rounded(&fixed, 1e5));
        shape = if invalidity(&on_grid).is_none() {
            on_grid
        } else {
            drop_degenerate(rounded(&fixed, 1e7))
        };
        repaired = Some(problem);
    }
    if shape.0.is_empty() || shape.unsigned_area() == 0.0 {
        return Err("the boundary has no area".into());
    }
    let bbox = Bbox::of(&shape).ok_or("the boundary is empty")?;
    let (centroid, centroid_moved) = match shape.centroid() {
        Some(c) if shape.contains(&c) => ((c.x(), c.y()), false),
        _ => {
            let p = shape
                .interior_point()
                .ok_or("the boundary has no interior point")?;
            ((p.x(), p.y()), true)
        }
    };
    Ok(Boundary {
        bbox,
        centroid: (round_to(centroid.0, 1e6), round_to(centroid.1, 1e6)),
        centroid_moved,
        area_km2: shape.geodesic_area_unsigned() / 1e6,
        vertices: shape.coords_count(),
        reoriented,
        repaired,
        shape,
    })
}

fn push_num(out: &mut String, v: f64) {
    use std::fmt::Write;
    // shortest text that reads back as the same number: 105.82746, not 105.82746000000001
    let _ = write!(out, "{v}");
}

fn push_ring(out: &mut String, ring: &geo::LineString<f64>) {
    out.push('[');
    for (i, c) in ring.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        push_num(out, c.x);
        out.push(',');
        push_num(out, c.y);
        out.push(']');
    }
    out.push(']');
}

fn push_polygon(out: &mut String, p: &Polygon<f64>) {
    out.push('[');
    push_ring(out, p.exterior());
    for h in p.interiors() {
        out.push(',');
        push_ring(out, h);
    }
    out.push(']');
}

/// The shape as a compact GeoJSON geometry: a Polygon when it has one part.
pub fn to_geojson(shape: &Shape) -> String {
    let mut out = String::with_capacity(shape.coords_count() * 22 + 40);
    if let [one] = shape.0.as_slice() {
        out.push_str("{\"type\":\"Polygon\",\"coordinates\":");
        push_polygon(&mut out, one);
    } else {
        out.push_str("{\"type\":\"MultiPolygon\",\"coordinates\":[");
        for (i, p) in shape.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_polygon(&mut out, p);
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// A GeoJSON Point.
pub fn point_json(lon: f64, lat: f64) -> String {
    let mut out = String::from("{\"type\":\"Point\",\"coordinates\":[");
    push_num(&mut out, lon);
    out.push(',');
    push_num(&mut out, lat);
    out.push_str("]}");
    out
}

/// A longitude and latitude in degrees, each named in the error.
pub fn check_point(lon: f64, lat: f64) -> Result<(), (&'static str, String)> {
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(("lon", "a longitude in degrees, -180 to 180".into()));
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(("lat", "a latitude in degrees, -90 to 90".into()));
    }
    Ok(())
}

/// Does the shape hold the point (its boundary included)?
pub fn holds(shape: &Shape, lon: f64, lat: f64) -> bool {
    shape.intersects(&Point::new(lon, lat))
}

/// Does the point lie strictly inside the shape (not on its boundary)?
pub fn strictly_inside(shape: &Shape, lon: f64, lat: f64) -> bool {
    shape.contains(&Point::new(lon, lat))
}

/// Great-circle distance in km (haversine, mean Earth radius).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1)) / 1000.0
}

/// Degrees of latitude and of longitude (at latitude `lat`) that `km` spans at most: a box
/// around a point that holds every point within `km` of it.
pub fn degrees_around(lat: f64, km: f64) -> (f64, f64) {
    // one degree of the haversine sphere is 111.195 km; 5 % spare covers the widening of a
    // circle's longitude span away from the equator
    let dlat = km / 111.195 * 1.05;
    let cos = (lat.abs() + dlat).min(89.0).to_radians().cos();
    let dlon = (km / (111.195 * cos) * 1.05).min(180.0);
    (dlat, dlon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_reader_reads_as_the_general_one() {
        let general = |json: &str| -> Result<Shape, String> {
            let g: geojson::Geometry = json.parse().map_err(|e| format!("{e}"))?;
            shape_from(&g)
        };
        for json in [
            r#"{"type":"Polygon","coordinates":[[[105,21],[106,21],[106,22],[105,21]],[[105.2,21.1],[105.3,21.1],[105.3,21.2],[105.2,21.1]]]}"#,
            r#"{"type":"MultiPolygon","coordinates":[[[[105,21],[106,21],[106,22],[105,21]]],[[[107,20],[107.5,20],[107.5,20.5],[107,20]]]]}"#,
            // the order of the keys, and a bounding box, do not matter
            r#"{"coordinates":[[[105,21],[106,21],[106,22],[105,21]]],"type":"Polygon","bbox":[105,21,106,22]}"#,
        ] {
            assert!(
                serde_json::from_str::<Plain>(json).is_ok() || json.contains("bbox"),
                "{json}"
            );
            assert_eq!(parse_shape(json).unwrap(), general(json).unwrap(), "{json}");
        }
        // what the fast reader leaves to the general one: 3-D positions, an empty polygon
        let z =
            r#"{"type":"Polygon","coordinates":[[[105,21,3],[106,21,3],[106,22,3],[105,21,3]]]}"#;
        assert!(serde_json::from_str::<Plain>(z).is_err());
        assert_eq!(parse_shape(z).unwrap(), general(z).unwrap());
        let empty = r#"{"type":"MultiPolygon","coordinates":[[]]}"#;
        assert_eq!(parse_shape(empty).is_ok(), general(empty).is_ok());
        // and the checks hold on both paths
        let far = r#"{"type":"Polygon","coordinates":[[[205,21],[206,21],[206,22],[205,21]]]}"#;
        assert!(
            parse_shape(far)
                .unwrap_err()
                .contains("not a longitude/latitude")
        );
        assert!(
            parse_shape(r#"{"type":"Point","coordinates":[105,21]}"#)
                .unwrap_err()
                .contains("not a Point")
        );
    }

    fn square(x0: f64, y0: f64, d: f64) -> Vec<(f64, f64)> {
        vec![
            (x0, y0),
            (x0 + d, y0),
            (x0 + d, y0 + d),
            (x0, y0 + d),
            (x0, y0),
        ]
    }

    fn shape(rings: Vec<Vec<(f64, f64)>>) -> Shape {
        let mut it = rings.into_iter();
        let ext = it.next().unwrap();
        MultiPolygon(vec![Polygon::new(ext.into(), it.map(Into::into).collect())])
    }

    #[test]
    fn a_valid_polygon_is_kept_and_measured() {
        let b = check(shape(vec![square(105.0, 21.0, 0.1)])).unwrap();
        assert!(!b.reoriented && b.repaired.is_none());
        assert_eq!(b.vertices, 5);
        assert_eq!(
            b.bbox,
            Bbox {
                minx: 105.0,
                miny: 21.0,
                maxx: 105.1,
                maxy: 21.1
            }
        );
        assert_eq!(b.centroid, (105.05, 21.05));
        // 0.1° × 0.1° at 21° N: about 11.13 km × 10.39 km
        assert!((b.area_km2 - 115.6).abs() < 1.0, "{}", b.area_km2);
        assert_eq!(
            to_geojson(&b.shape),
            "{\"type\":\"Polygon\",\"coordinates\":[[[105,21],[105.1,21],[105.1,21.1],[105,21.1],[105,21]]]}"
        );
        assert_eq!(
            parse_shape(&to_geojson(&b.shape)).unwrap(),
            b.shape,
            "written and read back"
        );
    }

    #[test]
    fn clockwise_rings_are_reoriented() {
        let mut cw = square(105.0, 21.0, 0.1);
        cw.reverse();
        let b = check(shape(vec![cw])).unwrap();
        assert!(b.reoriented);
        assert!(b.repaired.is_none());
        assert!(b.shape.0[0].exterior().is_ccw());
    }

    #[test]
    fn a_self_intersecting_polygon_is_repaired() {
        // a bow tie crossing itself at (105.05, 21.05)
        let bow = vec![
            (105.0, 21.0),
            (105.1, 21.1),
            (105.1, 21.0),
            (105.0, 21.1),
            (105.0, 21.0),
        ];
        let b = check(shape(vec![bow])).unwrap();
        let why = b.repaired.clone().expect("repaired");
        assert!(
            why.contains("self-intersect") || why.contains("intersect"),
            "{why}"
        );
        assert_eq!(b.shape.0.len(), 2, "two triangles");
        assert!(b.shape.is_valid() && invalidity(&b.shape).is_none());
        assert!(holds(&b.shape, b.centroid.0, b.centroid.1));
    }

    /// The sweep agrees with `geo`'s own `Validation` on the usual faults and non-faults.
    #[test]
    fn invalidity_agrees_with_geo_validation() {
        let poly = |rings: Vec<Vec<(f64, f64)>>| {
            let mut it = rings.into_iter();
            let ext = it.next().unwrap();
            Polygon::new(ext.into(), it.map(Into::into).collect())
        };
        let cases: Vec<(&str, Shape)> = vec![
            (
                "square",
                MultiPolygon(vec![poly(vec![square(0.0, 0.0, 4.0)])]),
            ),
            (
                "island in a lake",
                MultiPolygon(vec![
                    poly(vec![square(0.0, 0.0, 10.0), square(2.0, 2.0, 6.0)]),
                    poly(vec![square(3.0, 3.0, 2.0)]),
                ]),
            ),
            (
                "hole touching the shell at a point",
                MultiPolygon(vec![poly(vec![
                    square(0.0, 0.0, 4.0),
                    vec![(0.0, 2.0), (2.0, 1.0), (3.0, 2.0), (2.0, 3.0), (0.0, 2.0)],
                ])]),
            ),
            (
                "polygons touching at a corner",
                MultiPolygon(vec![
                    poly(vec![square(0.0, 0.0, 1.0)]),
                    poly(vec![square(1.0, 1.0, 1.0)]),
                ]),
            ),
            (
                "polygons sharing an edge",
                MultiPolygon(vec![
                    poly(vec![square(0.0, 0.0, 1.0)]),
                    poly(vec![square(1.0, 0.0, 1.0)]),
                ]),
            ),
            (
                "overlapping polygons",
                MultiPolygon(vec![
                    poly(vec![square(0.0, 0.0, 2.0)]),
                    poly(vec![square(1.0, 1.0, 2.0)]),
                ]),
            ),
            (
                "a polygon inside another",
                MultiPolygon(vec![
                    poly(vec![square(0.0, 0.0, 10.0)]),
                    poly(vec![square(2.0, 2.0, 2.0)]),
                ]),
            ),
            (
                "hole outside the shell",
                MultiPolygon(vec![poly(vec![
                    square(0.0, 0.0, 2.0),
                    square(5.0, 5.0, 1.0),
                ])]),
            ),
            (
                "hole crossing the shell",
                MultiPolygon(vec![poly(vec![
                    square(0.0, 0.0, 2.0),
                    square(1.0, 1.0, 2.0),
                ])]),
            ),
            (
                "bow tie",
                MultiPolygon(vec![poly(vec![vec![
                    (0.0, 0.0),
                    (1.0, 1.0),
                    (1.0, 0.0),
                    (0.0, 1.0),
                    (0.0, 0.0),
                ]])]),
            ),
        ];
        for (name, shape) in cases {
            assert_eq!(
                invalidity(&shape).is_none(),
                shape.is_valid(),
                "{name}: {:?} vs {:?}",
                invalidity(&shape),
                shape.check_validation()
            );
        }
    }

    #[test]
    fn the_centroid_is_moved_inside_a_crescent() {
        // a U shape: its centroid falls in the gap
        let u = vec![
            (0.0, 0.0),
            (3.0, 0.0),
            (3.0, 3.0),
            (2.0, 3.0),
            (2.0, 1.0),
            (1.0, 1.0),
            (1.0, 3.0),
            (0.0, 3.0),
            (0.0, 0.0),
        ];
        let b = check(shape(vec![u])).unwrap();
        assert!(b.centroid_moved);
        assert!(strictly_inside(&b.shape, b.centroid.0, b.centroid.1));
    }

    #[test]
    fn rings_without_area_are_refused() {
        let flat = vec![(105.0, 21.0), (105.1, 21.0), (105.0, 21.0)];
        assert!(check(shape(vec![flat])).is_err());
        assert!(
            parse_shape("{\"type\":\"Point\",\"coordinates\":[105,21]}")
                .unwrap_err()
                .contains("Polygon or MultiPolygon")
        );
        assert!(parse_shape(
            "{\"type\":\"Polygon\",\"coordinates\":[[[500,21],[105.1,21],[105.1,21.1],[500,21]]]}"
        )
        .unwrap_err()
        .contains("longitude/latitude"));
    }

    #[test]
    fn bbox_parsing_names_the_problem() {
        assert_eq!(
            Bbox::parse("105,20,108,22").unwrap(),
            Bbox {
                minx: 105.0,
                miny: 20.0,
                maxx: 108.0,
                maxy: 22.0
            }
        );
        assert_eq!(
            Bbox::parse("105,20,0,108,22,100").unwrap().maxy,
            22.0,
            "heights are ignored"
        );
        assert!(Bbox::parse("105,20,108").is_err());
        assert!(Bbox::parse("a,b,c,d").is_err());
        assert!(Bbox::parse("105,22,108,20").unwrap_err().contains("miny"));
        assert!(Bbox::parse("105,20,190,22").is_err());
        let wrap = Bbox::parse("170,-10,-170,10").unwrap();
        assert!(wrap.crosses_antimeridian());
        assert!(wrap.has_point(179.0, 0.0) && wrap.has_point(-179.0, 0.0));
        assert!(!wrap.has_point(0.0, 0.0));
        assert!(wrap.contains_box(&Bbox {
            minx: 171.0,
            miny: 0.0,
            maxx: 172.0,
            maxy: 1.0
        }));
    }

    #[test]
    fn distances_and_search_boxes() {
        // Hà Nội (Hoàn Kiếm) to Thành phố Hồ Chí Minh (Bến Thành): about 1,140 km
        let d = distance_km((105.8542, 21.0285), (106.6981, 10.7725));
        assert!((d - 1140.0).abs() < 15.0, "{d}");
        let (dlat, dlon) = degrees_around(21.0, 10.0);
        assert!(distance_km((105.0, 21.0), (105.0, 21.0 + dlat)) >= 10.0);
        assert!(distance_km((105.0, 21.0), (105.0 + dlon, 21.0)) >= 10.0);
        assert!(check_point(105.0, 21.0).is_ok());
        assert_eq!(check_point(181.0, 21.0).unwrap_err().0, "lon");
        assert_eq!(check_point(105.0, f64::NAN).unwrap_err().0, "lat");
    }
}

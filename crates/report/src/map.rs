//! Choropleth maps: administrative units coloured by the class of their value, as one
//! standalone SVG string (and, through [`png`], a PNG of it for printing and for xlsx/PDF
//! reports).
//!
//! The input is independent of storage: each [`MapUnit`] carries its code, name, boundary
//! (lon/lat WGS84) and value. What is drawn:
//!
//! - **Projection**: equirectangular with the longitudes scaled by cos(φ₀), φ₀ the latitude of
//!   the middle of the map's extent (`x = λ·cos φ₀`, `y = −φ`). North–south distances are true
//!   everywhere, east–west ones at φ₀ (Vietnam, 8.5°–23.4° N: at most ±4 % off at the far ends
//!   of a national map, nothing visible on a province). Simple, fast, and for a long narrow
//!   country at these latitudes as good as Web Mercator, whose scale grows 10 % from Cà Mau to
//!   Hà Giang.
//! - **Geometry to the output scale**: projected straight to pixels of the viewBox, then
//!   simplified by Douglas–Peucker ([`geo::Simplify`]) at 0.5–1.5 px ([`tolerance_px`]) — on
//!   the boundaries shared by neighbouring units, not on each polygon alone: the rings are cut
//!   into arcs at the vertices where neighbours meet, each arc is simplified once in a canonical
//!   direction, so that both sides of a border stay identical (no slivers or overlaps). Rings
//!   smaller than [`MIN_RING_PX2`] are left out (islets, small holes) — but a unit never
//!   vanishes: it keeps at least its largest ring. Coordinates are written on a grid of whole
//!   pixels when the units are small (the national commune map), else of tenths or halves of a
//!   pixel ([`quantum_px`]) — as whole numbers in a group scaled back, which is shorter —
//!   relative, in the short form of the path grammar.
//! - **Hoàng Sa and Trường Sa**: a map that shows them and the mainland draws them in an inset
//!   (a box at the side of a tall map, under a wide one), from their own polygons, with their
//!   names; their islets stay visible (outlined, at least about 2 px wide).
//! - **One `<path>` per unit**, with `data-code`, even-odd fill, a `<title>` (the tooltip:
//!   "Tên đơn vị: 12.345"; the legend gives the unit of measure), inside a `<g>` per class carrying `data-class` and the colour.
//!   Units without a value are hatched ("Không có số liệu"; tooltip "Tên đơn vị: —"),
//!   estimated figures (mapped through the lineage with default weights) get a dark dotted
//!   outline ("Số ước tính").
//! - **Classes** ([`crate::classes`]): quantiles, equal intervals or Jenks natural breaks,
//!   with the inner bounds rounded to about three significant digits of a class's width (at
//!   most the data's own decimals), so the legend's numbers are the ones that classify. Colours:
//!   ColorBrewer's sequential YlOrRd (default), Blues or Greens, 3–7 classes, safe for the
//!   common colour-vision deficiencies and in grey print.
//! - **Legend** (classes with their ranges and counts, no data, estimates, the method), title,
//!   subtitle, unit of measure, source line, a scale bar in km and optionally a north arrow.
//!   Wide maps (≥ 640 px) put the legend right of the map, narrow ones under it.
//! - **Labels**: unit names where they fit inside the unit's largest polygon and do not
//!   overlap another label (larger units first).
//!
//! The viewBox is `width_px` wide and text sizes are in pixels at that width; the SVG scales
//! to its container (`width="100%"`). No script, no style element (a strict CSP allows neither
//! inline), no external reference; every text from users is escaped.

use crate::svg::{esc, text_w, wrap};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use dantoc_domain::analytics::PivotTable;
use dantoc_domain::value::format_number;
use geo::{BoundingRect, Contains, Coord, LineString, MultiPolygon, Polygon, Simplify};

use crate::ReportError;
use crate::classes::{Breaks, Classes};

/// `write!` into a `String`, which cannot fail.
macro_rules! w {
    ($($t:tt)*) => {{
        let _ = write!($($t)*);
    }};
}

/// One unit on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct MapUnit {
    pub code: String,
    pub name: String,
    /// Boundary in lon/lat (WGS84, x = longitude).
    pub geometry: MultiPolygon<f64>,
    /// `None` (or not finite): no figure — hatched.
    pub value: Option<f64>,
    /// The figure is an estimate (mapped through the lineage with default weights).
    pub estimated: bool,
}

/// Sequential colour schemes (ColorBrewer, Cynthia Brewer, Apache-2.0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Palette {
    /// Yellow → orange → red.
    #[default]
    YlOrRd,
    Blues,
    Greens,
}

impl Palette {
    /// The colours of `n` classes (1–7), lightest first.
    pub fn colors(self, n: usize) -> Vec<&'static str> {
        let schemes: [&[&str]; 5] = match self {
            Palette::YlOrRd => [
                &["#ffeda0", "#feb24c", "#f03b20"],
                &["#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"],
                &["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"],
                &[
                    "#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026",
                ],
                &[
                    "#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026",
                ],
            ],
            Palette::Blues => [
                &["#deebf7", "#9ecae1", "#3182bd"],
                &["#eff3ff", "#bdd7e7", "#6baed6", "#2171b5"],
                &["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"],
                &[
                    "#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c",
                ],
                &[
                    "#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#084594",
                ],
            ],
            Palette::Greens => [
                &["#e5f5e0", "#a1d99b", "#31a354"],
                &["#edf8e9", "#bae4b3", "#74c476", "#238b45"],
                &["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"],
                &[
                    "#edf8e9", "#c7e9c0", "#a1d99b", "#74c476", "#31a354", "#006d2c",
                ],
                &[
                    "#edf8e9", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#005a32",
                ],
            ],
        };
        match n {
            0 => Vec::new(),
            1 => vec![schemes[0][1]],
            2 => vec![schemes[0][0], schemes[0][2]],
            n => schemes[n.min(7) - 3].to_vec(),
        }
    }
}

/// What to draw and how.
#[derive(Debug, Clone, PartialEq)]
pub struct MapSpec {
    pub title: String,
    /// Second line under the title (period, disaggregation); empty for none.
    pub subtitle: String,
    /// Source line at the bottom; empty for none.
    pub source: String,
    /// Where the boundaries come from, as their licences ask to say (a last line, under the
    /// source); empty for none.
    pub attribution: String,
    /// Unit of the figures ("người", "%"); empty for none.
    pub unit_of_measure: String,
    pub method: Breaks,
    /// Number of classes asked, 3–7 (clamped); ties and few distinct values can give fewer.
    pub classes: usize,
    pub palette: Palette,
    /// Width of the viewBox in pixels (320–2400; 0: 800). Text sizes are pixels at this width
    /// and the geometry is simplified for it.
    pub width_px: u32,
    /// Write unit names where they fit.
    pub labels: bool,
    pub north_arrow: bool,
}

impl Default for MapSpec {
    fn default() -> MapSpec {
        MapSpec {
            title: String::new(),
            subtitle: String::new(),
            source: String::new(),
            attribution: String::new(),
            unit_of_measure: String::new(),
            method: Breaks::Quantile,
            classes: 5,
            palette: Palette::YlOrRd,
            width_px: 800,
            labels: true,
            north_arrow: true,
        }
    }
}

/// Douglas–Peucker tolerance, in output pixels: from 0.5 px when the units are large on the
/// map (median bounding box side 40 px or more) to 1.5 px when they are small (10 px or less,
/// e.g. the national commune map), where finer detail cannot be seen and would only weigh.
pub fn tolerance_px(median_unit_px: f64) -> f64 {
    (1.5 - (median_unit_px - 10.0) / 30.0).clamp(0.5, 1.5)
}
/// Rings (islands, holes) with a smaller area, in square output pixels, are left out.
pub const MIN_RING_PX2: f64 = 1.0;

/// Sets the value (and the estimate flag) of each unit from a pivot table with the units
/// (dimension `ou`) along its rows or its columns: the cell in the first column (or row) of
/// the other side, and the first row (or column) of a unit when other dimensions repeat it.
/// Units the table does not list get no value. Returns how many got one.
pub fn fill_from_table(units: &mut [MapUnit], t: &PivotTable) -> usize {
    let cells: HashMap<&str, &dantoc_domain::analytics::Cell> =
        if let Some(d) = t.row_dims.iter().position(|d| d.id == "ou") {
            let mut m = HashMap::new();
            for r in 0..t.rows.len() {
                if let Some(c) = t.cells.get(r).and_then(|row| row.first()) {
                    m.entry(t.row_label(r, d).code.as_str()).or_insert(c);
                }
            }
            m
        } else if let Some(d) = t.col_dims.iter().position(|d| d.id == "ou") {
            let mut m = HashMap::new();
            for c in 0..t.cols.len() {
                if let Some(cell) = t.cells.first().and_then(|row| row.get(c)) {
                    m.entry(t.col_label(c, d).code.as_str()).or_insert(cell);
                }
            }
            m
        } else {
            HashMap::new()
        };
    let mut n = 0;
    for u in units.iter_mut() {
        match cells.get(u.code.as_str()) {
            Some(c) if c.value.is_some_and(f64::is_finite) => {
                u.value = c.value;
                u.estimated = c.estimated;
                n += 1;
            }
            _ => {
                u.value = None;
                u.estimated = false;
            }
        }
    }
    n
}

// ---------------------------------------------------------------------------------------------
// Layout constants.

const PAD: f64 = 12.0;
const TITLE: f64 = 17.0;
const LABEL: f64 = 13.0;
const SMALL: f64 = 12.0;
const TINY: f64 = 11.0;
/// Unit names on the map.
const NAME: f64 = 10.5;
const FONT: &str =
    "system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Helvetica Neue',Arial,sans-serif";
const INK: &str = "#222";
const MUTED: &str = "#555";
const BOLD: &str = r#"font-weight="600""#;
const BOLD_W: f64 = 1.15;
const NODATA_ID: &str = "dantoc-map-nodata";
/// From this width on, the legend goes right of the map.
const WIDE: f64 = 640.0;
/// Kilometres per degree of a great circle (mean Earth radius 6,371.0088 km).
const KM_PER_DEG: f64 = 111.195;

/// The choropleth map of `units` as a standalone SVG document.
pub fn choropleth(units: &[MapUnit], spec: &MapSpec) -> String {
    let width = match spec.width_px {
        0 => 800.0,
        w => f64::from(w.clamp(320, 2400)),
    };
    let k = spec.classes.clamp(3, 7);

    // Classes and who is in which.
    let values: Vec<f64> = units
        .iter()
        .filter_map(|u| u.value.filter(|v| v.is_finite()))
        .collect();
    let (classes, decimals) = legend_classes(&values, spec.method, k);
    let colors = spec.palette.colors(classes.len());
    let class_of: Vec<Option<usize>> = units
        .iter()
        .map(|u| u.value.and_then(|v| classes.class_of(v)))
        .collect();
    let mut counts = vec![0usize; classes.len()];
    for c in class_of.iter().flatten() {
        counts[*c] += 1;
    }
    let no_data = class_of.iter().filter(|c| c.is_none()).count();
    let estimated = units
        .iter()
        .zip(&class_of)
        .filter(|(u, c)| u.estimated && c.is_some())
        .count();

    let mut c = Canvas {
        body: String::with_capacity(64 * 1024),
        width,
        y: PAD,
        units_scale: 10,
    };
    c.title_block(spec);

    // Where the map and the legend go.
    let wide = width >= WIDE;
    let legend_w = if wide {
        (width * 0.3).clamp(210.0, 300.0)
    } else {
        width - 2.0 * PAD
    };
    let map_box_w = if wide {
        width - 3.0 * PAD - legend_w
    } else {
        width - 2.0 * PAD
    };
    let map_box_h = if wide { width * 1.25 } else { width * 1.6 };
    let top = c.y;
    let proj = Projection::fit(units, PAD, top, map_box_w, map_box_h);
    if let Some(inset) = proj.as_ref().and_then(|p| p.inset.as_ref()) {
        inset.draw_box(&mut c.body);
    }

    // The units, their coordinates on a grid of `q` pixels.
    let tol = proj.as_ref().map_or(1.0, |p| p.tolerance(units));
    let q = quantum_px(tol);
    let shapes = proj
        .as_ref()
        .map(|p| {
            shapes(
                units,
                &Draw {
                    px: &|c, inset| p.px(c, inset),
                    tol,
                    inset: &|poly| p.in_inset(poly),
                    quantum: q,
                },
            )
        })
        .unwrap_or_else(|| vec![Shape::default(); units.len()]);
    let stroke_w: f64 = {
        let mut sizes: Vec<f64> = shapes
            .iter()
            .filter(|s| s.area > 0.0)
            .map(|s| s.area.sqrt())
            .collect();
        sizes.sort_by(f64::total_cmp);
        match sizes.get(sizes.len() / 2) {
            Some(m) if *m < 6.0 => 0.2,
            Some(m) if *m < 15.0 => 0.35,
            Some(m) if *m < 40.0 => 0.5,
            _ => 0.75,
        }
    };
    // Path data are in units of `q` pixels: the group scales them (and the strokes) by `q`.
    let per_px = (1.0 / q).round();
    c.units_scale = per_px as u32;
    w!(
        c.body,
        r##"<g class="units" transform="scale({})" stroke="#fff" stroke-width="{}" stroke-linejoin="round" fill-rule="evenodd">"##,
        f(q),
        f(stroke_w * per_px)
    );
    let path = |body: &mut String, i: usize| {
        let u = &units[i];
        // the figure alone: the legend gives the unit of measure once, as a table's heading
        // does (a map of 3,000 units is 30 KB shorter)
        let tip = match (u.value.filter(|v| v.is_finite()), class_of[i]) {
            (Some(v), Some(_)) => {
                let mut s = format!("{}: {}", u.name, num(show(v)));
                if u.estimated {
                    s.push_str(" (ước tính)");
                }
                s
            }
            // "—", as statistical tables mark a missing figure (the legend says what the
            // hatching means): shorter than words on a map of 3,000 units
            _ => format!("{}: —", u.name),
        };
        w!(
            body,
            r#"<path data-code="{}" d="{}"><title>{}</title></path>"#,
            esc(&u.code),
            shapes[i].d,
            esc(&tip)
        );
    };
    for (ci, color) in colors.iter().enumerate() {
        let members: Vec<usize> = (0..units.len())
            .filter(|&i| class_of[i] == Some(ci) && !units[i].estimated)
            .collect();
        if members.is_empty() {
            continue;
        }
        w!(
            c.body,
            r#"<g class="class" data-class="{ci}" fill="{color}">"#
        );
        for i in members {
            path(&mut c.body, i);
        }
        c.body.push_str("</g>");
    }
    let islands: String = shapes.iter().map(|s| s.islands.as_str()).collect();
    if no_data > 0 {
        w!(
            c.body,
            r##"<g class="nodata" fill="url(#{})" stroke="#aaa">"##,
            nodata_id(c.units_scale)
        );
        for i in (0..units.len()).filter(|&i| class_of[i].is_none()) {
            path(&mut c.body, i);
        }
        c.body.push_str("</g>");
    }
    // Estimates last, so that their outline is not covered by the neighbours'.
    for (ci, color) in colors.iter().enumerate() {
        let members: Vec<usize> = (0..units.len())
            .filter(|&i| class_of[i] == Some(ci) && units[i].estimated)
            .collect();
        if members.is_empty() {
            continue;
        }
        w!(
            c.body,
            r##"<g class="class estimated" data-class="{ci}" fill="{color}" stroke="#222" stroke-width="{}" stroke-dasharray="{}">"##,
            f(stroke_w.max(0.5) * 1.6 * per_px),
            dash(stroke_w, per_px)
        );
        for i in members {
            path(&mut c.body, i);
        }
        c.body.push_str("</g>");
    }
    if !islands.is_empty() {
        w!(
            c.body,
            r##"<path class="islands" d="{islands}" fill="none" stroke="#666" stroke-width="{}"/>"##,
            f(0.5 * per_px)
        );
    }
    c.body.push_str("</g>");

    if spec.labels {
        labels(&mut c.body, units, &shapes);
    }
    if let Some(inset) = proj.as_ref().and_then(|p| p.inset.as_ref()) {
        inset.draw_labels(&mut c.body);
    }
    let map_bottom = proj.as_ref().map_or(top + 60.0, |p| p.bottom());
    if proj.is_none() {
        let attrs = format!(r#"class="empty" text-anchor="middle" fill="{MUTED}""#);
        c.text(
            PAD + map_box_w / 2.0,
            top + 36.0,
            LABEL,
            &attrs,
            "Không có ranh giới để vẽ bản đồ",
        );
    }

    // The legend.
    let (lx, ly) = if wide {
        (width - PAD - legend_w, top)
    } else {
        (PAD, map_bottom + 14.0)
    };
    let legend = Legend {
        classes: &classes,
        colors: &colors,
        counts: &counts,
        decimals,
        no_data,
        estimated,
        stroke_w,
    };
    let legend_bottom = legend.draw(&mut c, lx, ly, legend_w, spec, proj.as_ref());
    c.y = map_bottom.max(legend_bottom) + 10.0;
    c.finish(spec)
}

/// The classes of a map's values as its legend shows them: the method's breaks into `k`
/// classes (3–7) with the inner bounds rounded to about three significant digits of a class's
/// width (at most the data's own decimals), and the number of decimals they are written with.
pub fn legend_classes(values: &[f64], method: Breaks, k: usize) -> (Classes, u32) {
    let raw = method.classes(values, k.clamp(3, 7));
    let decimals = bound_decimals(&raw, values);
    (raw.rounded(decimals), decimals)
}

/// The legend's text of class `i`: "a – b" for the first (or "a" when it holds one value),
/// "> a – b" for the others, numbers the Vietnamese way with `decimals` decimals.
pub fn class_label(classes: &Classes, i: usize, decimals: u32) -> String {
    let shown = |v: f64| {
        let p = 10f64.powi(decimals as i32);
        num((v * p).round() / p)
    };
    let (lo, hi) = (classes.bounds[i], classes.bounds[i + 1]);
    if i > 0 {
        format!("> {} – {}", shown(lo), shown(hi))
    } else if shown(lo) == shown(hi) {
        shown(lo)
    } else {
        format!("{} – {}", shown(lo), shown(hi))
    }
}

/// Dash pattern of the outline of estimates, in units of `1/scale` pixel.
fn dash(stroke_w: f64, scale: f64) -> String {
    let d = stroke_w.max(0.5) * 2.4 * scale;
    format!("{} {}", f(d), f(d))
}

/// Decimals of the inner class bounds: about three significant digits of a class's width, at
/// most as many as the data have (up to 6).
fn bound_decimals(c: &Classes, values: &[f64]) -> u32 {
    let data = values
        .iter()
        .map(|v| {
            (0..=6u32)
                .find(|&d| {
                    let x = v * 10f64.powi(d as i32);
                    (x - x.round()).abs() < 1e-6 * x.abs().max(1.0)
                })
                .unwrap_or(6)
        })
        .max()
        .unwrap_or(0);
    if c.len() < 2 {
        return data;
    }
    let b = &c.bounds;
    let step = (b[b.len() - 1] - b[0]) / c.len() as f64;
    if step <= 0.0 {
        return data;
    }
    let want = (2 - step.log10().floor() as i32).clamp(0, 6) as u32;
    want.min(data)
}

/// A value for a tooltip: two decimals at most (four below one).
fn show(v: f64) -> f64 {
    let p = if v.abs() >= 1.0 { 100.0 } else { 10_000.0 };
    (v * p).round() / p
}

// ---------------------------------------------------------------------------------------------
// Projection and geometry.

/// Equirectangular projection with cos(φ₀) scaling, fitted into a box of pixels.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// cos φ₀.
    k: f64,
    /// Projected left and top (x = λ·cos φ₀, top = largest latitude).
    x0: f64,
    lat_top: f64,
    /// Pixels per projected degree.
    s: f64,
    /// Where the frame's top left corner is, and its size.
    left: f64,
    top: f64,
    w: f64,
    h: f64,
}

impl Frame {
    /// Fits the extent `r` (lon/lat) into `w × max_h` pixels at (`left`, `top`), centred
    /// horizontally.
    fn fit(r: geo::Rect<f64>, left: f64, top: f64, w: f64, max_h: f64) -> Frame {
        let phi0 = ((r.min().y + r.max().y) / 2.0).to_radians();
        let k = phi0.cos();
        let dx = ((r.max().x - r.min().x) * k).max(1e-9);
        let dy = (r.max().y - r.min().y).max(1e-9);
        let s = (w.max(1.0) / dx).min(max_h.max(1.0) / dy);
        let (mw, mh) = (dx * s, dy * s);
        Frame {
            k,
            x0: r.min().x * k,
            lat_top: r.max().y,
            s,
            left: left + (w - mw) / 2.0,
            top,
            w: mw,
            h: mh,
        }
    }

    fn px(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: self.left + (c.x * self.k - self.x0) * self.s,
            y: self.top + (self.lat_top - c.y) * self.s,
        }
    }

    /// The same frame with its top left corner at (`left`, `top`).
    fn moved(self, left: f64, top: f64) -> Frame {
        Frame { left, top, ..self }
    }

    fn bottom(&self) -> f64 {
        self.top + self.h
    }
}

// Hoàng Sa (the Paracels) and Trường Sa (the Spratlys), which belong to Đà Nẵng and Khánh Hòa,
// lie 300–1,000 km off the coast. The reference data carries their polygons — as parts of the
// two provinces and as the special zones 20333 Hoàng Sa and 22736 Trường Sa — so they are drawn
// from those; a map that also shows the mainland draws them in an inset, at a smaller scale,
// as maps of Vietnam do, instead of leaving most of the map to the sea.

/// Hoàng Sa lies north of this latitude, Trường Sa south of it.
const ARCHIPELAGOS_SPLIT_LAT: f64 = 14.0;

/// Whether a point lies in the archipelagos: east of 110.5° E, or east of 109° E and south of
/// 10° N (Trường Sa's banks reach 109.5° E at 7.5° N). The mainland ends at 109.5° E, at 12° N;
/// the islands east of 108.5° E (Lý Sơn, Phú Quý) lie north of 10° N.
fn offshore(c: Coord<f64>) -> bool {
    c.y > 5.0 && c.y < 18.5 && (c.x > 110.5 || (c.x > 109.0 && c.y < 10.0))
}

/// Whether a polygon is drawn with the archipelagos (by the centre of its bounding box).
fn offshore_polygon(p: &Polygon<f64>) -> bool {
    p.bounding_rect().is_some_and(|b| offshore(b.center()))
}

fn union(a: Option<geo::Rect<f64>>, b: geo::Rect<f64>) -> Option<geo::Rect<f64>> {
    Some(match a {
        None => b,
        Some(a) => geo::Rect::new(
            Coord {
                x: a.min().x.min(b.min().x),
                y: a.min().y.min(b.min().y),
            },
            Coord {
                x: a.max().x.max(b.max().x),
                y: a.max().y.max(b.max().y),
            },
        ),
    })
}

/// The inset of the archipelagos: its frame, its box (left, top, right, bottom) and the
/// extent of each archipelago drawn (true: Hoàng Sa), for their names.
#[derive(Debug, Clone)]
struct Inset {
    frame: Frame,
    rect: (f64, f64, f64, f64),
    groups: Vec<(bool, geo::Rect<f64>)>,
}

/// Padding inside the inset's box, and room under its drawing for a name.
const INSET_PAD: f64 = 6.0;
const INSET_NAME: f64 = 16.0;

impl Inset {
    /// The box of an inset of extent `r`, at most `w × max_h`, with its top right corner at
    /// (`right`, `top`).
    fn new(
        r: geo::Rect<f64>,
        groups: Vec<(bool, geo::Rect<f64>)>,
        right: f64,
        top: f64,
        w: f64,
        max_h: f64,
    ) -> Inset {
        let inner = Frame::fit(
            r,
            0.0,
            0.0,
            w - 2.0 * INSET_PAD,
            max_h - 2.0 * INSET_PAD - INSET_NAME,
        );
        let (bw, bh) = (
            inner.w + 2.0 * INSET_PAD,
            inner.h + 2.0 * INSET_PAD + INSET_NAME,
        );
        let (bx, by) = (right - bw, top);
        Inset {
            frame: inner.moved(bx + INSET_PAD, by + INSET_PAD),
            rect: (bx, by, bx + bw, by + bh),
            groups,
        }
    }

    fn shifted_to(mut self, top: f64) -> Inset {
        let dy = top - self.rect.1;
        self.rect.1 += dy;
        self.rect.3 += dy;
        self.frame.top += dy;
        self
    }

    fn draw_box(&self, body: &mut String) {
        let (x0, y0, x1, y1) = self.rect;
        w!(
            body,
            r##"<rect class="inset" x="{}" y="{}" width="{}" height="{}" fill="#fff" stroke="#999" stroke-width="0.8"/>"##,
            f(x0),
            f(y0),
            f(x1 - x0),
            f(y1 - y0)
        );
    }

    /// The archipelagos' names under their drawings (the longest form that fits, the same
    /// for both).
    fn draw_labels(&self, body: &mut String) {
        const NAMES: [[&str; 3]; 2] = [
            [
                "Quần đảo Hoàng Sa (Đà Nẵng)",
                "Quần đảo Hoàng Sa",
                "QĐ Hoàng Sa",
            ],
            [
                "Quần đảo Trường Sa (Khánh Hòa)",
                "Quần đảo Trường Sa",
                "QĐ Trường Sa",
            ],
        ];
        let (x0, _, x1, y1) = self.rect;
        let room = x1 - x0 - 4.0;
        let names = |north: bool| NAMES[usize::from(!north)];
        let form = (0..3)
            .find(|&i| {
                self.groups
                    .iter()
                    .all(|(north, _)| text_w(names(*north)[i], TINY) <= room)
            })
            .unwrap_or(2);
        let mut out = String::new();
        for (north, r) in &self.groups {
            let name = names(*north)[form];
            let tw = text_w(name, TINY);
            let p = self.frame.px(Coord {
                x: r.center().x,
                y: r.min().y,
            });
            let x =
                p.x.clamp(x0 + 2.0 + tw / 2.0, (x1 - 2.0 - tw / 2.0).max(x0));
            let y = (p.y + TINY + 2.0).min(y1 - 4.0);
            w!(
                out,
                r#"<text x="{}" y="{}">{}</text>"#,
                f(x),
                f(y),
                esc(name)
            );
        }
        if !out.is_empty() {
            w!(
                body,
                r#"<g class="inset-names" font-size="{TINY}" text-anchor="middle" fill="{MUTED}">{out}</g>"#
            );
        }
    }
}

/// The map's projection: the main frame, and the inset of the archipelagos when the map
/// shows them and the mainland.
#[derive(Debug, Clone)]
struct Projection {
    main: Frame,
    inset: Option<Inset>,
}

impl Projection {
    /// Fits the extent of every unit into `w × max_h` pixels at (`left`, `top`), centred
    /// horizontally, the archipelagos in an inset when there is a mainland too; `None` when
    /// there is no coordinate at all.
    fn fit(units: &[MapUnit], left: f64, top: f64, w: f64, max_h: f64) -> Option<Projection> {
        let (mut main, mut off) = (None, None);
        let mut groups: Vec<(bool, geo::Rect<f64>)> = vec![];
        for u in units {
            for poly in &u.geometry.0 {
                let Some(b) = poly.bounding_rect() else {
                    continue;
                };
                if !(b.min().x.is_finite()
                    && b.min().y.is_finite()
                    && b.max().x.is_finite()
                    && b.max().y.is_finite())
                {
                    continue;
                }
                if offshore_polygon(poly) {
                    off = union(off, b);
                    let north = b.center().y >= ARCHIPELAGOS_SPLIT_LAT;
                    match groups.iter_mut().find(|g| g.0 == north) {
                        Some(g) => g.1 = union(Some(g.1), b).unwrap_or(b),
                        None => groups.push((north, b)),
                    }
                } else {
                    main = union(main, b);
                }
            }
        }
        groups.sort_by_key(|g| !g.0);
        let (m, o) = match (main, off) {
            (None, None) => return None,
            (Some(m), Some(o)) => (m, o),
            (Some(r), None) | (None, Some(r)) => {
                return Some(Projection {
                    main: Frame::fit(r, left, top, w, max_h),
                    inset: None,
                });
            }
        };
        let gap = 10.0;
        let k = ((m.min().y + m.max().y) / 2.0).to_radians().cos();
        let tall = m.height() > 1.2 * m.width() * k;
        Some(if tall {
            // a tall mainland (the whole country): the inset in a column on its right, level
            // with the south-central coast
            let iw = (w * 0.3).max(80.0);
            let main = Frame::fit(m, left, top, w - iw - gap, max_h);
            let inset = Inset::new(o, groups, left + w, top, iw, main.h * 0.6);
            let bh = inset.rect.3 - inset.rect.1;
            let centre = main.top + (main.lat_top - 12.5) * main.s;
            let y = (centre - bh / 2.0).clamp(top, (main.bottom() - bh).max(top));
            Projection {
                main,
                inset: Some(inset.shifted_to(y)),
            }
        } else {
            // otherwise (a province): under the map, on the right
            let main = Frame::fit(m, left, top, w, max_h * 0.7);
            let iw = w * 0.5;
            let inset = Inset::new(
                o,
                groups,
                left + w,
                main.bottom() + gap,
                iw,
                (max_h * 0.3).min(iw * 1.2),
            );
            Projection {
                main,
                inset: Some(inset),
            }
        })
    }

    /// A point of a polygon drawn in the inset (`inset`) or on the main frame.
    fn px(&self, c: Coord<f64>, inset: bool) -> Coord<f64> {
        match &self.inset {
            Some(i) if inset => i.frame.px(c),
            _ => self.main.px(c),
        }
    }

    /// Whether a polygon is drawn in the inset.
    fn in_inset(&self, p: &Polygon<f64>) -> bool {
        self.inset.is_some() && offshore_polygon(p)
    }

    fn bottom(&self) -> f64 {
        let b = self.main.bottom();
        self.inset.as_ref().map_or(b, |i| b.max(i.rect.3))
    }

    /// Pixels per kilometre on the main frame (true north–south everywhere, east–west at φ₀).
    fn px_per_km(&self) -> f64 {
        self.main.s / KM_PER_DEG
    }

    /// The simplification tolerance for these units on this map ([`tolerance_px`] of the
    /// median size of their bounding boxes on the main frame).
    fn tolerance(&self, units: &[MapUnit]) -> f64 {
        let mut sides: Vec<f64> = units
            .iter()
            .filter_map(|u| u.geometry.bounding_rect())
            .map(|r| (r.width() * self.main.k * r.height()).sqrt() * self.main.s)
            .filter(|x| x.is_finite())
            .collect();
        sides.sort_by(f64::total_cmp);
        tolerance_px(sides.get(sides.len() / 2).copied().unwrap_or(40.0))
    }
}

/// Grid of the path coordinates, in output pixels, for a simplification tolerance: whole
/// pixels when the units are small on the map (a tolerance of 1 px or more, e.g. the national
/// commune map: a shorter file), half pixels in between, tenths when they are large.
pub fn quantum_px(tol: f64) -> f64 {
    if tol >= 1.0 {
        1.0
    } else if tol >= 0.75 {
        0.5
    } else {
        0.1
    }
}

/// A unit ready to draw.
#[derive(Debug, Clone, Default)]
struct Shape {
    /// Path data.
    d: String,
    /// Path data of its rings drawn in the inset (the archipelagos' islands), outlined again
    /// so that islets show.
    islands: String,
    /// Area drawn, in square pixels.
    area: f64,
    /// The largest polygon drawn (exterior and holes), in pixels, for its label.
    main: Option<Polygon<f64>>,
}

/// A fast hasher for vertex keys (FxHash's multiply-rotate; keys are not attacker-chosen in a
/// way that matters for one rendering).
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A ring in pixels, not closed.
type Ring = Vec<Coord<f64>>;
type Holes = Vec<Ring>;

/// A ring of the input: which unit, polygon, and whether it is a hole; its vertices as ids.
struct RingIds {
    unit: usize,
    poly: usize,
    hole: bool,
    /// Kept however small.
    keep: bool,
    ids: Vec<u32>,
}

/// What is known of a vertex: how many rings pass through it, the (sorted) ids of its
/// neighbours on the first ring seen, and whether it is where boundaries meet.
#[derive(Clone, Copy)]
struct Vertex {
    n: u32,
    nb: (u32, u32),
    junction: bool,
}

/// How units are drawn: the projection to pixels (of a point of a polygon drawn in the inset
/// or not), the simplification tolerance (pixels), which polygons go in the inset (their rings
/// are kept however small: the archipelagos' islets), and the grid of the coordinates written
/// (pixels).
struct Draw<'a> {
    px: &'a dyn Fn(Coord<f64>, bool) -> Coord<f64>,
    tol: f64,
    inset: &'a dyn Fn(&Polygon<f64>) -> bool,
    quantum: f64,
}

/// The path data of each unit's boundary projected by `px` (lon/lat → pixels), simplified at
/// `tol` pixels as the choropleth is (shared boundaries once, sub-pixel rings left out but no
/// unit vanishes), written in whole units of `quantum` pixels: the interactive map draws them
/// in its own projection ([`crate::webmap`]).
pub fn paths_with(
    units: &[MapUnit],
    px: &dyn Fn(Coord<f64>) -> Coord<f64>,
    tol: f64,
    quantum: f64,
) -> Vec<String> {
    shapes(
        units,
        &Draw {
            px: &|c, _| px(c),
            tol,
            inset: &|_| false,
            quantum,
        },
    )
    .into_iter()
    .map(|s| s.d)
    .collect()
}

/// Projects, simplifies (shared boundaries once), drops sub-pixel rings and writes the path
/// data of every unit.
fn shapes(units: &[MapUnit], d: &Draw) -> Vec<Shape> {
    let tol = d.tol;
    // Vertex ids by exact coordinates: neighbours' shared boundaries have identical vertices.
    let mut ids: FxMap<(u64, u64, bool), u32> = FxMap::default();
    let mut pts: Vec<Coord<f64>> = Vec::new();
    let mut rings: Vec<RingIds> = Vec::new();
    for (ui, u) in units.iter().enumerate() {
        for (pi, poly) in u.geometry.0.iter().enumerate() {
            let inset = (d.inset)(poly);
            let all = std::iter::once((false, poly.exterior()))
                .chain(poly.interiors().iter().map(|r| (true, r)));
            for (hole, ring) in all {
                let mut v: Vec<u32> = Vec::with_capacity(ring.0.len());
                for c in &ring.0 {
                    if !(c.x.is_finite() && c.y.is_finite()) {
                        continue;
                    }
                    let next = pts.len() as u32;
                    let id = *ids
                        .entry((c.x.to_bits(), c.y.to_bits(), inset))
                        .or_insert_with(|| {
                            pts.push((d.px)(*c, inset));
                            next
                        });
                    if v.last() != Some(&id) {
                        v.push(id);
                    }
                }
                while v.len() > 1 && v.first() == v.last() {
                    v.pop();
                }
                if v.len() >= 3 {
                    rings.push(RingIds {
                        unit: ui,
                        poly: pi,
                        hole,
                        keep: inset,
                        ids: v,
                    });
                }
            }
        }
    }
    drop(ids);

    // Junctions: a vertex whose neighbours differ from one ring to another (or that more than
    // two rings share).
    let mut vx = vec![
        Vertex {
            n: 0,
            nb: (0, 0),
            junction: false,
        };
        pts.len()
    ];
    for r in &rings {
        let n = r.ids.len();
        for i in 0..n {
            let (a, b) = (r.ids[(i + n - 1) % n], r.ids[(i + 1) % n]);
            let nb = (a.min(b), a.max(b));
            let v = &mut vx[r.ids[i] as usize];
            if v.n == 0 {
                v.nb = nb;
            } else if v.nb != nb || v.n >= 2 {
                v.junction = true;
            }
            v.n += 1;
        }
    }

    // Each ring simplified arc by arc.
    let mut out: Vec<Vec<(usize, bool, bool, Ring)>> = vec![Vec::new(); units.len()];
    let mut buf: Vec<Coord<f64>> = Vec::new();
    for r in &rings {
        let n = r.ids.len();
        let ring: Vec<Coord<f64>> = match r.ids.iter().position(|&i| vx[i as usize].junction) {
            None => {
                // A closed loop (an island, or a boundary shared whole with one neighbour):
                // start at its smallest id, towards the smaller neighbour.
                let (s, _) = r.ids.iter().enumerate().min_by_key(|(_, id)| **id).unwrap();
                let fwd = r.ids[(s + 1) % n] < r.ids[(s + n - 1) % n];
                buf.clear();
                for j in 0..=n {
                    let i = if fwd { (s + j) % n } else { (s + n - j) % n };
                    buf.push(pts[r.ids[i] as usize]);
                }
                let mut s = simplify(&buf, tol);
                s.pop();
                s
            }
            Some(first) => {
                let mut ring = Vec::with_capacity(n);
                let mut start = first;
                loop {
                    // The arc from this junction to the next.
                    let mut end = (start + 1) % n;
                    while !vx[r.ids[end] as usize].junction {
                        end = (end + 1) % n;
                    }
                    let len = (end + n - start) % n;
                    let len = if len == 0 { n } else { len };
                    let at = |j: usize| r.ids[(start + j) % n];
                    let rev = (at(0), at(1)) > (at(len), at(len - 1));
                    buf.clear();
                    for j in 0..=len {
                        let j = if rev { len - j } else { j };
                        buf.push(pts[at(j) as usize]);
                    }
                    let mut s = simplify(&buf, tol);
                    if rev {
                        s.reverse();
                    }
                    s.pop();
                    ring.extend(s);
                    start = end;
                    if start == first {
                        break;
                    }
                }
                ring
            }
        };
        // an islet of the inset that simplification would erase stays as it is (it is then
        // drawn as a small diamond)
        let ring = if ring.len() < 3 && r.keep {
            r.ids.iter().map(|&i| pts[i as usize]).collect()
        } else {
            ring
        };
        if ring.len() >= 3 {
            out[r.unit].push((r.poly, r.hole, r.keep, ring));
        }
    }
    // The original (projected) exterior rings, for units that would otherwise vanish.
    let fallback = |u: &MapUnit| -> Option<Vec<Coord<f64>>> {
        u.geometry
            .0
            .iter()
            .map(|poly| {
                let inset = (d.inset)(poly);
                poly.exterior()
                    .0
                    .iter()
                    .filter(|c| c.x.is_finite() && c.y.is_finite())
                    .map(|c| (d.px)(*c, inset))
                    .collect::<Vec<_>>()
            })
            .max_by(|a, b| ring_area(a).total_cmp(&ring_area(b)))
    };

    out.into_iter()
        .enumerate()
        .map(|(ui, rings)| {
            // Polygons by index: exterior kept if big enough, then its big enough holes.
            // per polygon: its exterior (and whether it is kept however small), its holes
            let mut polys: Vec<(Option<(Ring, bool)>, Holes)> =
                vec![(None, Vec::new()); units[ui].geometry.0.len()];
            for (pi, hole, keep, ring) in rings {
                if hole {
                    polys[pi].1.push(ring);
                } else {
                    polys[pi].0 = Some((ring, keep));
                }
            }
            let mut kept: Vec<(Ring, Vec<Ring>, f64)> = Vec::new();
            let mut largest: Option<(Vec<Coord<f64>>, f64)> = None;
            let mut islands = String::new();
            for (ext, holes) in polys {
                let Some((mut ext, keep)) = ext else { continue };
                let mut a = ring_area(&ext);
                if keep {
                    if a < MIN_RING_PX2 {
                        // an islet of the inset: a diamond about 2 px wide where it is
                        let n = ext.len() as f64;
                        let (cx, cy) = ext
                            .iter()
                            .fold((0.0, 0.0), |(x, y), c| (x + c.x / n, y + c.y / n));
                        let r = 1.0;
                        ext = vec![
                            Coord { x: cx, y: cy - r },
                            Coord { x: cx + r, y: cy },
                            Coord { x: cx, y: cy + r },
                            Coord { x: cx - r, y: cy },
                        ];
                        a = ring_area(&ext);
                    }
                    write_ring(&mut islands, &ext, d.quantum);
                }
                if a < MIN_RING_PX2 && !keep {
                    if largest.as_ref().is_none_or(|(_, b)| a > *b) {
                        largest = Some((ext, a));
                    }
                    continue;
                }
                let holes: Vec<_> = holes
                    .into_iter()
                    .filter(|h| ring_area(h) >= MIN_RING_PX2)
                    .collect();
                let net = a - holes.iter().map(|h| ring_area(h)).sum::<f64>();
                kept.push((ext, holes, net));
            }
            if kept.is_empty() {
                let ext = largest
                    .map(|(r, _)| r)
                    .or_else(|| fallback(&units[ui]))
                    .unwrap_or_default();
                let a = ring_area(&ext);
                kept.push((ext, Vec::new(), a));
            }
            let mut path = String::new();
            let mut area = 0.0;
            for (ext, holes, a) in &kept {
                area += a;
                write_ring(&mut path, ext, d.quantum);
                for h in holes {
                    write_ring(&mut path, h, d.quantum);
                }
            }
            let main = kept
                .into_iter()
                .max_by(|a, b| a.2.total_cmp(&b.2))
                .filter(|(e, _, _)| e.len() >= 3)
                .map(|(e, h, _)| {
                    let close = |mut r: Vec<Coord<f64>>| {
                        r.push(r[0]);
                        LineString::from(r)
                    };
                    Polygon::new(close(e), h.into_iter().map(close).collect())
                });
            Shape {
                d: path,
                islands,
                area,
                main,
            }
        })
        .collect()
}

/// Douglas–Peucker at `tol` pixels (both ends kept).
fn simplify(pts: &[Coord<f64>], tol: f64) -> Vec<Coord<f64>> {
    if pts.len() <= 3 {
        return pts.to_vec();
    }
    LineString::from(pts.to_vec()).simplify(tol).0
}

/// Unsigned area of a ring (not closed or closed) by the shoelace formula.
fn ring_area(r: &[Coord<f64>]) -> f64 {
    if r.len() < 3 {
        return 0.0;
    }
    let mut s = 0.0;
    let mut prev = r[r.len() - 1];
    for c in r {
        s += (prev.x - c.x) * (prev.y + c.y);
        prev = *c;
    }
    (s / 2.0).abs()
}

/// Appends a ring as path data in whole units of `q` pixels (the units' group is scaled by
/// `q`: with 0.1, one decimal in pixels, written without decimal points, which is shorter): an
/// absolute move then relative line-tos, separated only where the grammar needs it
/// ("M123 45l5-12 30 7z").
fn write_ring(d: &mut String, r: &[Coord<f64>], q: f64) {
    let mut pts: Vec<(i64, i64)> = Vec::with_capacity(r.len());
    for c in r {
        let p = ((c.x / q).round() as i64, (c.y / q).round() as i64);
        if pts.last() != Some(&p) {
            pts.push(p);
        }
    }
    while pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        if pts.is_empty() {
            return;
        }
        // Smaller than the grid: a dot one unit of it wide, so that the unit shows.
        let (x, y) = pts[0];
        pts = vec![(x, y), (x + 1, y), (x + 1, y + 1)];
    }
    w!(d, "M{} {}l", pts[0].0, pts[0].1);
    let mut first = true;
    for w in pts.windows(2) {
        for t in [w[1].0 - w[0].0, w[1].1 - w[0].1] {
            if !first && t >= 0 {
                d.push(' ');
            }
            w!(d, "{t}");
            first = false;
        }
    }
    d.push('z');
}

// ---------------------------------------------------------------------------------------------
// Labels.

/// Unit names inside the unit's largest polygon, larger units first, none overlapping.
fn labels(body: &mut String, units: &[MapUnit], shapes: &[Shape]) {
    let mut cands: Vec<(usize, f64)> = shapes
        .iter()
        .enumerate()
        .filter(|(i, s)| s.main.is_some() && !units[*i].name.trim().is_empty())
        .map(|(i, s)| (i, s.area))
        .collect();
    cands.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut placed: Vec<(f64, f64, f64, f64)> = Vec::new();
    let mut out = String::new();
    for (i, _) in cands {
        let name = units[i].name.trim();
        let Some(poly) = &shapes[i].main else {
            continue;
        };
        let Some(bb) = poly.bounding_rect() else {
            continue;
        };
        let tw = text_w(name, NAME);
        let th = NAME * 1.2;
        if tw + 4.0 > bb.width() || th + 2.0 > bb.height() {
            continue;
        }
        let fits = |c: Coord<f64>| {
            let (x0, x1) = (c.x - tw / 2.0, c.x + tw / 2.0);
            let (y0, y1) = (c.y - th / 2.0, c.y + th / 2.0);
            if x0 < bb.min().x || x1 > bb.max().x || y0 < bb.min().y || y1 > bb.max().y {
                return false;
            }
            [
                (c.x, c.y),
                (x0, y0),
                (x1, y1),
                (x1, y0),
                (x0, y1),
                (c.x, y0),
                (c.x, y1),
            ]
            .iter()
            .all(|&(x, y)| poly.contains(&Coord { x, y }))
        };
        // The centroid, then a grid over the bounding box, nearest the centroid first.
        let center = geo::Centroid::centroid(poly).map_or(bb.center(), |p| p.0);
        let mut spots = vec![center];
        // Centres where the text stays inside the bounding box.
        let (x0, y0) = (bb.min().x + tw / 2.0, bb.min().y + th / 2.0);
        let (fw, fh) = (bb.width() - tw, bb.height() - th);
        let (gx, gy) = (7, 7);
        let mut grid: Vec<Coord<f64>> = (0..gx * gy)
            .map(|k| Coord {
                x: x0 + fw * (k % gx) as f64 / (gx - 1) as f64,
                y: y0 + fh * (k / gx) as f64 / (gy - 1) as f64,
            })
            .collect();
        let d2 = |p: &Coord<f64>| (p.x - center.x).powi(2) + (p.y - center.y).powi(2);
        grid.sort_by(|a, b| d2(a).total_cmp(&d2(b)));
        spots.extend(grid);
        let Some(c) = spots.into_iter().find(|c| fits(*c)) else {
            continue;
        };
        let rect = (
            c.x - tw / 2.0,
            c.y - th / 2.0,
            c.x + tw / 2.0,
            c.y + th / 2.0,
        );
        let free = placed.iter().all(|r| {
            rect.2 + 2.0 < r.0 || r.2 + 2.0 < rect.0 || rect.3 + 1.0 < r.1 || r.3 + 1.0 < rect.1
        });
        if !free {
            continue;
        }
        placed.push(rect);
        w!(
            out,
            r#"<text x="{}" y="{}">{}</text>"#,
            f(c.x),
            f(c.y + NAME * 0.35),
            esc(name)
        );
    }
    if !out.is_empty() {
        w!(
            body,
            r##"<g class="labels" font-size="{NAME}" text-anchor="middle" fill="{INK}" stroke="#fff" stroke-width="2.5" stroke-linejoin="round" paint-order="stroke" pointer-events="none">{out}</g>"##
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Title, legend, scale.

struct Canvas {
    body: String,
    width: f64,
    y: f64,
    /// Path coordinates per pixel in the units' group (its `scale` is the inverse).
    units_scale: u32,
}

/// Id of the hatching of units without data, in a space of `per_px` units per pixel.
fn nodata_id(per_px: u32) -> String {
    if per_px <= 1 {
        NODATA_ID.to_string()
    } else {
        format!("{NODATA_ID}-{per_px}")
    }
}

/// The hatching pattern (6 px stripes at 45°) in a space of `per_px` units per pixel.
fn hatch(per_px: u32) -> String {
    let m = f64::from(per_px.max(1));
    format!(
        r##"<pattern id="{}" patternUnits="userSpaceOnUse" width="{w}" height="{w}" patternTransform="rotate(45)"><rect width="{w}" height="{w}" fill="#fff"/><rect width="{}" height="{w}" fill="#9e9e9e"/></pattern>"##,
        nodata_id(per_px),
        f(1.6 * m),
        w = f(6.0 * m),
    )
}

impl Canvas {
    fn title_block(&mut self, spec: &MapSpec) {
        let w = self.width - 2.0 * PAD;
        let (lines, cut) = wrap(&spec.title, w, TITLE * BOLD_W, 3);
        let attrs = format!(r#"class="title" {BOLD}"#);
        self.lines(PAD, self.y + TITLE, TITLE, &attrs, &lines, cut, &spec.title);
        self.y += lines.len() as f64 * TITLE * 1.3 + 2.0;
        if !spec.subtitle.trim().is_empty() {
            let (lines, cut) = wrap(&spec.subtitle, w, SMALL, 2);
            let attrs = format!(r#"class="subtitle" fill="{MUTED}""#);
            self.lines(
                PAD,
                self.y + SMALL,
                SMALL,
                &attrs,
                &lines,
                cut,
                &spec.subtitle,
            );
            self.y += lines.len() as f64 * SMALL * 1.3;
        }
        self.y += 10.0;
    }

    fn finish(mut self, spec: &MapSpec) -> String {
        if !spec.source.trim().is_empty() {
            let (lines, cut) = wrap(&spec.source, self.width - 2.0 * PAD, TINY, 3);
            let attrs = format!(r#"class="source" fill="{MUTED}""#);
            self.lines(PAD, self.y + TINY, TINY, &attrs, &lines, cut, &spec.source);
            self.y += lines.len() as f64 * TINY * 1.3;
        }
        if !spec.attribution.trim().is_empty() {
            let size = TINY - 1.0;
            let (lines, cut) = wrap(&spec.attribution, self.width - 2.0 * PAD, size, 3);
            let attrs = format!(r#"class="attribution" fill="{MUTED}""#);
            self.lines(
                PAD,
                self.y + size + 2.0,
                size,
                &attrs,
                &lines,
                cut,
                &spec.attribution,
            );
            self.y += lines.len() as f64 * size * 1.3 + 2.0;
        }
        let h = (self.y + PAD).ceil();
        let w = self.width;
        let mut s = String::with_capacity(self.body.len() + 1200);
        w!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMidYMin meet" role="img" aria-label="{title}" class="dantoc-map" font-family="{FONT}" fill="{INK}"><title>{title}</title>"#,
            title = esc(&spec.title)
        );
        w!(
            s,
            r##"<defs>{}{}</defs>"##,
            hatch(1),
            if self.units_scale > 1 {
                hatch(self.units_scale)
            } else {
                String::new()
            }
        );
        w!(
            s,
            r##"<rect class="bg" width="{w}" height="{h}" fill="#fff"/>"##
        );
        s.push_str(&self.body);
        s.push_str("</svg>\n");
        s
    }

    fn text(&mut self, x: f64, y: f64, size: f64, attrs: &str, s: &str) {
        w!(
            self.body,
            r#"<text x="{}" y="{}" font-size="{size}" {attrs}>{}</text>"#,
            f(x),
            f(y),
            esc(s)
        );
    }

    /// Lines of a wrapped text; when it was cut, the whole text becomes a tooltip.
    #[allow(clippy::too_many_arguments)]
    fn lines(
        &mut self,
        x: f64,
        y: f64,
        size: f64,
        attrs: &str,
        lines: &[String],
        cut: bool,
        full: &str,
    ) {
        if lines.is_empty() {
            return;
        }
        if cut {
            w!(self.body, "<g><title>{}</title>", esc(full));
        }
        for (i, l) in lines.iter().enumerate() {
            self.text(x, y + i as f64 * size * 1.25, size, attrs, l);
        }
        if cut {
            self.body.push_str("</g>");
        }
    }
}

struct Legend<'a> {
    classes: &'a Classes,
    colors: &'a [&'static str],
    counts: &'a [usize],
    decimals: u32,
    no_data: usize,
    estimated: usize,
    stroke_w: f64,
}

impl Legend<'_> {
    /// Draws the legend in a column `w` wide from (`x`, `y`); returns its bottom.
    fn draw(
        &self,
        c: &mut Canvas,
        x: f64,
        y: f64,
        w: f64,
        spec: &MapSpec,
        proj: Option<&Projection>,
    ) -> f64 {
        let mut y = y;
        c.body.push_str(r#"<g class="legend">"#);
        if !spec.unit_of_measure.trim().is_empty() {
            let (lines, cut) = wrap(
                &format!("Đơn vị tính: {}", spec.unit_of_measure.trim()),
                w,
                SMALL,
                2,
            );
            let attrs = format!(r#"class="uom" fill="{MUTED}""#);
            c.lines(
                x,
                y + SMALL,
                SMALL,
                &attrs,
                &lines,
                cut,
                &spec.unit_of_measure,
            );
            y += lines.len() as f64 * SMALL * 1.3 + 4.0;
        }
        let row = 20.0;
        let (sw, sh) = (20.0, 13.0);
        let count_x = x + w.min(300.0);
        let item = |c: &mut Canvas, y: f64, swatch: &str, label: &str, count: usize, cls: &str| {
            w!(c.body, r#"<g class="{cls}">"#);
            c.body.push_str(swatch);
            c.text(x + sw + 7.0, y + 11.0, LABEL, r#"class="range""#, label);
            c.text(
                count_x,
                y + 11.0,
                SMALL,
                &format!(r#"class="count" text-anchor="end" fill="{MUTED}""#),
                &format!("({})", num(count as f64)),
            );
            c.body.push_str("</g>");
        };
        for i in 0..self.classes.len() {
            let label = class_label(self.classes, i, self.decimals);
            let swatch = format!(
                r##"<rect x="{}" y="{}" width="{sw}" height="{sh}" fill="{}" stroke="#999" stroke-width="0.5"/>"##,
                f(x),
                f(y),
                self.colors[i]
            );
            item(
                c,
                y,
                &swatch,
                &label,
                self.counts[i],
                &format!("item class-{i}"),
            );
            y += row;
        }
        if self.no_data > 0 {
            let swatch = format!(
                r##"<rect x="{}" y="{}" width="{sw}" height="{sh}" fill="url(#{NODATA_ID})" stroke="#999" stroke-width="0.5"/>"##,
                f(x),
                f(y)
            );
            item(
                c,
                y,
                &swatch,
                "Không có số liệu",
                self.no_data,
                "item nodata",
            );
            y += row;
        }
        if self.estimated > 0 {
            let swatch = format!(
                r##"<rect x="{}" y="{}" width="{sw}" height="{sh}" fill="#fff" stroke="#222" stroke-width="{}" stroke-dasharray="{}"/>"##,
                f(x + 0.5),
                f(y + 0.5),
                f(self.stroke_w.max(0.5) * 1.6),
                dash(self.stroke_w, 1.0)
            );
            item(
                c,
                y,
                &swatch,
                "Số ước tính",
                self.estimated,
                "item estimated",
            );
            y += row;
        }
        if !self.classes.is_empty() {
            let (lines, cut) = wrap(&format!("Chia lớp: {}", spec.method.name_vi()), w, TINY, 2);
            let attrs = format!(r#"class="method" fill="{MUTED}""#);
            let full = spec.method.name_vi();
            c.lines(x, y + TINY + 2.0, TINY, &attrs, &lines, cut, full);
            y += lines.len() as f64 * TINY * 1.3 + 6.0;
        }
        if let Some(p) = proj {
            y = scale_bar(c, p, x, y + 6.0, w, spec.north_arrow);
        }
        c.body.push_str("</g>");
        y
    }
}

/// A scale bar of a round number of kilometres (1, 2 or 5 × 10ⁿ, at most about 150 px) and
/// the north arrow to its right; returns the bottom.
fn scale_bar(c: &mut Canvas, p: &Projection, x: f64, y: f64, w: f64, north: bool) -> f64 {
    let ppk = p.px_per_km();
    let max_px = (w - 50.0).clamp(40.0, 150.0);
    let max_km = max_px / ppk;
    let e = max_km.log10().floor();
    let base = 10f64.powf(e);
    let km = [5.0, 2.0, 1.0]
        .iter()
        .map(|m| m * base)
        .find(|k| *k <= max_km)
        .unwrap_or(base);
    let len = km * ppk;
    let (by, bh) = (y + 14.0, 5.0);
    w!(
        c.body,
        r##"<g class="scale"><rect x="{}" y="{}" width="{}" height="{bh}" fill="#333"/><rect x="{}" y="{}" width="{}" height="{bh}" fill="#fff" stroke="#333" stroke-width="0.8"/>"##,
        f(x),
        f(by),
        f(len / 2.0),
        f(x + len / 2.0),
        f(by),
        f(len / 2.0)
    );
    let mid = r#"text-anchor="middle""#;
    c.text(x, y + 10.0, TINY, mid, "0");
    let label = format!("{} km", num(km));
    c.text(x + len, y + 10.0, TINY, mid, &label);
    c.body.push_str("</g>");
    if north {
        let nx = x + len + text_w(&label, TINY) / 2.0 + 22.0;
        let ny = y - 2.0;
        w!(
            c.body,
            r##"<g class="north"><polygon points="{},{} {},{} {},{} {},{}" fill="#333"/>"##,
            f(nx),
            f(ny + 12.0),
            f(nx + 5.0),
            f(ny + 26.0),
            f(nx),
            f(ny + 22.0),
            f(nx - 5.0),
            f(ny + 26.0)
        );
        c.text(
            nx,
            ny + 10.0,
            TINY,
            &format!(r#"text-anchor="middle" {BOLD}"#),
            "B",
        );
        c.body.push_str("</g>");
    }
    by + bh + 8.0
}

// ---------------------------------------------------------------------------------------------
// PNG.

/// Embedded fonts for PNG text (DejaVu Sans and Sans Bold, cut down to Latin and Vietnamese;
/// Bitstream Vera licence, see fonts/README.md): the same output on every machine, no system
/// font needed.
static FONT_REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans-vi.ttf");
static FONT_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold-vi.ttf");

fn fontdb() -> std::sync::Arc<resvg::usvg::fontdb::Database> {
    static DB: std::sync::OnceLock<std::sync::Arc<resvg::usvg::fontdb::Database>> =
        std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_font_data(FONT_REGULAR.to_vec());
        db.load_font_data(FONT_BOLD.to_vec());
        db.set_sans_serif_family("DejaVu Sans");
        std::sync::Arc::new(db)
    })
    .clone()
}

/// Largest PNG side, in pixels.
const PNG_MAX: u32 = 8000;

/// Renders an SVG of this crate (a map or a chart) to a PNG `width_px` wide (1–8,000; the
/// height follows the viewBox), on white.
pub fn png(svg: &str, width_px: u32) -> Result<Vec<u8>, ReportError> {
    use resvg::{tiny_skia, usvg};
    let opt = usvg::Options {
        fontdb: fontdb(),
        font_family: "DejaVu Sans".into(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| ReportError::Png(e.to_string()))?;
    let size = tree.size();
    let width = width_px.clamp(1, PNG_MAX);
    let scale = width as f32 / size.width();
    let height = (size.height() * scale).ceil() as u32;
    if height == 0 || height > PNG_MAX {
        return Err(ReportError::Png(format!(
            "a {width} px wide image would be {height} px high (at most {PNG_MAX})"
        )));
    }
    let mut pixmap = tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| ReportError::Png(format!("cannot make a {width}×{height} image")))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| ReportError::Png(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Text (as in charts.rs).

/// A number for people, the Vietnamese way.
fn num(v: f64) -> String {
    format_number(v, true)
}

/// A coordinate: at most one decimal, no trailing zero.
fn f(x: f64) -> String {
    let t = (x * 10.0).round() as i64;
    let s = if t % 10 == 0 {
        format!("{}", t / 10)
    } else {
        format!("{:.1}", t as f64 / 10.0)
    };
    if s == "-0" { "0".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    /// A square unit (lon, lat of its south-west corner, side in degrees).
    fn square(code: &str, name: &str, x: f64, y: f64, side: f64, value: Option<f64>) -> MapUnit {
        MapUnit {
            code: code.into(),
            name: name.into(),
            geometry: MultiPolygon(vec![polygon![
                (x: x, y: y),
                (x: x + side, y: y),
                (x: x + side, y: y + side),
                (x: x, y: y + side),
                (x: x, y: y),
            ]]),
            value,
            estimated: false,
        }
    }

    /// A 4 × 3 grid of 0.1° squares near Hà Giang: values 10, 20, …, 100 for the first ten,
    /// then one without a value and one with a value that is not a number.
    fn grid() -> Vec<MapUnit> {
        (0..12)
            .map(|i| {
                let v = match i {
                    10 => None,
                    11 => Some(f64::NAN),
                    _ => Some(10.0 * (i + 1) as f64),
                };
                square(
                    &format!("{:05}", i + 1),
                    &format!("Xã {}", i + 1),
                    104.9 + 0.1 * (i % 4) as f64,
                    22.7 + 0.1 * (i / 4) as f64,
                    0.1,
                    v,
                )
            })
            .collect()
    }

    fn spec() -> MapSpec {
        MapSpec {
            title: "Dân số người DTTS theo xã, 2025".into(),
            subtitle: "Tỉnh thử".into(),
            source: "Nguồn: thử".into(),
            attribution: "Ranh giới: thử, giấy phép MIT".into(),
            unit_of_measure: "người".into(),
            method: Breaks::EqualInterval,
            classes: 3,
            ..MapSpec::default()
        }
    }

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        assert!(!doc.descendants().any(|n| n.has_tag_name("script")
            || n.has_tag_name("style")
            || n.has_tag_name("foreignObject")));
        assert!(!svg.contains("<script") && !svg.contains("url(http"));
        doc
    }

    /// The unit paths: code → (class group's `data-class` or "nodata", estimated, tooltip, d).
    fn units_of(doc: &roxmltree::Document) -> HashMap<String, (String, bool, String, String)> {
        let mut out = HashMap::new();
        // every path is a unit's, but the outline of the inset's islets
        for p in doc
            .descendants()
            .filter(|n| n.has_tag_name("path") && n.attribute("class") != Some("islands"))
        {
            let code = p.attribute("data-code").expect("a data-code").to_string();
            let g = p.parent_element().unwrap();
            let class = g
                .attribute("data-class")
                .map(str::to_string)
                .unwrap_or_else(|| g.attribute("class").unwrap().to_string());
            let est = g.attribute("class").unwrap().contains("estimated");
            let tip = p
                .children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|t| t.text())
                .unwrap_or_default()
                .to_string();
            let d = p.attribute("d").unwrap().to_string();
            assert!(
                out.insert(code, (class, est, tip, d)).is_none(),
                "one path per unit"
            );
        }
        out
    }

    fn legend_counts(doc: &roxmltree::Document) -> Vec<(String, String, usize)> {
        doc.descendants()
            .filter(|n| {
                n.has_tag_name("g") && n.attribute("class").is_some_and(|c| c.starts_with("item"))
            })
            .map(|g| {
                let text = |cls: &str| {
                    g.children()
                        .find(|t| t.attribute("class") == Some(cls))
                        .and_then(|t| t.text())
                        .unwrap()
                        .to_string()
                };
                let count = text("count");
                let n = count
                    .trim_matches(|c| c == '(' || c == ')')
                    .replace('.', "")
                    .parse()
                    .unwrap();
                (g.attribute("class").unwrap().to_string(), text("range"), n)
            })
            .collect()
    }

    /// Absolute points (in pixels) of each subpath of path data written by [`write_ring`].
    fn rings_of(d: &str) -> Vec<Vec<(f64, f64)>> {
        let mut rings = Vec::new();
        for sub in d.split('z').filter(|s| !s.is_empty()) {
            let (m, l) = sub.strip_prefix('M').unwrap().split_once('l').unwrap();
            let nums = |s: &str| -> Vec<i64> {
                s.replace('-', " -")
                    .split_whitespace()
                    .map(|x| x.parse().unwrap())
                    .collect()
            };
            let start = nums(m);
            let mut p = (start[0], start[1]);
            let mut ring = vec![p];
            for xy in nums(l).chunks(2) {
                p = (p.0 + xy[0], p.1 + xy[1]);
                ring.push(p);
            }
            rings.push(
                ring.into_iter()
                    .map(|(x, y)| (x as f64 / 10.0, y as f64 / 10.0))
                    .collect(),
            );
        }
        rings
    }

    #[test]
    fn one_path_per_unit_in_its_class() {
        let units = grid();
        let svg = choropleth(&units, &spec());
        let doc = parse(&svg);
        let got = units_of(&doc);
        assert_eq!(got.len(), units.len());
        // Equal intervals over 10..100 in 3 classes: bounds 10, 40, 70, 100 — [10, 40] holds
        // 10 20 30 40, (40, 70] 50 60 70, (70, 100] 80 90 100.
        for i in 0..10 {
            let want = match 10 * (i + 1) {
                10..=40 => "0",
                41..=70 => "1",
                _ => "2",
            };
            let (class, est, tip, d) = &got[&format!("{:05}", i + 1)];
            assert_eq!(class, want, "unit {i}");
            assert!(!est);
            assert!(d.starts_with('M') && d.ends_with('z'));
            assert_eq!(rings_of(d).len(), 1);
            assert_eq!(tip, &format!("Xã {}: {}", i + 1, 10 * (i + 1)));
        }
        for code in ["00011", "00012"] {
            let (class, _, tip, _) = &got[code];
            assert_eq!(class, "nodata");
            assert!(tip.ends_with(": —"));
        }
        // The no-data group is hatched with the pattern in <defs>.
        let nodata = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("nodata"))
            .unwrap();
        assert_eq!(nodata.attribute("fill"), Some("url(#dantoc-map-nodata-10)"));
        for id in [NODATA_ID, "dantoc-map-nodata-10"] {
            assert!(
                doc.descendants()
                    .any(|n| n.has_tag_name("pattern") && n.attribute("id") == Some(id))
            );
        }
        // Colours of a 3-class YlOrRd.
        let fills: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("class"))
            .map(|n| n.attribute("fill").unwrap())
            .collect();
        assert_eq!(fills, Palette::YlOrRd.colors(3));

        // The legend: ranges and counts that add up to the units.
        let legend = legend_counts(&doc);
        assert_eq!(
            legend,
            [
                ("item class-0".into(), "10 – 40".into(), 4),
                ("item class-1".into(), "> 40 – 70".into(), 3),
                ("item class-2".into(), "> 70 – 100".into(), 3),
                ("item nodata".into(), "Không có số liệu".into(), 2),
            ]
        );
        assert_eq!(legend.iter().map(|l| l.2).sum::<usize>(), units.len());
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(texts.contains(&"Đơn vị tính: người"));
        assert!(texts.contains(&"Chia lớp: khoảng đều"));
        assert!(texts.contains(&"Nguồn: thử"));
        assert!(texts.contains(&"Ranh giới: thử, giấy phép MIT"));
        assert!(texts.iter().any(|t| t.ends_with(" km")));
        assert!(texts.contains(&"B"), "north arrow");
        // Labels where they fit: 0.1° squares on a 800 px map are large enough.
        assert!(texts.contains(&"Xã 1"));
    }

    #[test]
    fn quantiles_jenks_and_estimates() {
        let mut units = grid();
        units[3].estimated = true;
        units[10].estimated = true; // no value: no data, not an estimate
        for (method, want) in [
            // Quantiles of 10..100, k = 3, type 7: h = 9p → 40 and 70: the same as above.
            (Breaks::Quantile, [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]),
            // Jenks of evenly spaced values ties (3 | 4 | 3, 4 | 3 | 3 and 3 | 3 | 4 all have
            // SSD 200 + 500 + 200): whichever the programme picks, the map follows it.
            (Breaks::Jenks, [9; 10]),
        ] {
            let s = MapSpec { method, ..spec() };
            let svg = choropleth(&units, &s);
            let doc = parse(&svg);
            let got = units_of(&doc);
            let values: Vec<f64> = (1..=10).map(|i| 10.0 * i as f64).collect();
            let classes = method.classes(&values, 3);
            for i in 0..10 {
                let c = classes.class_of(values[i]).unwrap();
                if want[i] != 9 {
                    assert_eq!(c, want[i]);
                }
                let (class, est, tip, _) = &got[&format!("{:05}", i + 1)];
                assert_eq!(class, &c.to_string());
                assert_eq!(*est, i == 3);
                assert_eq!(tip.ends_with("(ước tính)"), i == 3);
            }
            assert_eq!(got["00011"].0, "nodata");
            let legend = legend_counts(&doc);
            assert_eq!(legend.last().unwrap().0, "item estimated");
            assert_eq!(legend.last().unwrap().2, 1);
            // Classes and no data add up; estimates are counted within their class too.
            let n: usize = legend
                .iter()
                .filter(|l| l.0 != "item estimated")
                .map(|l| l.2)
                .sum();
            assert_eq!(n, units.len());
            // The estimate is drawn last, with a dashed outline.
            let est = doc
                .descendants()
                .filter(|n| n.attribute("class") == Some("class estimated"))
                .collect::<Vec<_>>();
            assert_eq!(est.len(), 1);
            assert!(est[0].attribute("stroke-dasharray").is_some());
        }
    }

    #[test]
    fn names_are_escaped() {
        let mut units = grid();
        units[0].name = r#"<script>alert("x")</script> & 'Đồng Văn'"#.into();
        units[1].code = r#"01"><script>"#.into();
        let s = MapSpec {
            title: "<b>Tiêu đề</b> & \"trích\"".into(),
            source: "Nguồn: <i>x</i>".into(),
            unit_of_measure: "<u>người</u>".into(),
            ..spec()
        };
        let svg = choropleth(&units, &s);
        let doc = parse(&svg);
        let got = units_of(&doc);
        assert!(got[r#"01"><script>"#].2.starts_with("Xã 2: "));
        assert_eq!(
            got["00001"].2,
            r#"<script>alert("x")</script> & 'Đồng Văn': 10"#
        );
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(texts.contains(&"<b>Tiêu đề</b> & \"trích\""));
        assert!(texts.contains(&"Nguồn: <i>x</i>"));
        assert!(texts.contains(&"Đơn vị tính: <u>người</u>"));
        assert!(
            !doc.descendants()
                .any(|n| n.has_tag_name("b") || n.has_tag_name("i"))
        );
    }

    #[test]
    fn all_missing_and_no_geometry() {
        let mut units = grid();
        for u in &mut units {
            u.value = None;
        }
        units[5].geometry = MultiPolygon(vec![]);
        let svg = choropleth(&units, &spec());
        let doc = parse(&svg);
        let got = units_of(&doc);
        assert_eq!(got.len(), units.len());
        assert!(got.values().all(|u| u.0 == "nodata"));
        assert_eq!(got["00006"].3, "");
        let legend = legend_counts(&doc);
        assert_eq!(
            legend,
            [("item nodata".into(), "Không có số liệu".into(), 12)]
        );
        // No unit at all, or none with a boundary: the frame and a message.
        for units in [Vec::new(), vec![units[5].clone()]] {
            let svg = choropleth(&units, &spec());
            let doc = parse(&svg);
            assert_eq!(units_of(&doc).len(), units.len());
            assert!(svg.contains("Không có ranh giới"));
        }
    }

    #[test]
    fn shared_borders_stay_shared() {
        // Two units split by a zigzag of 200 tiny steps (1e-5° ≈ 1 m, far below a pixel):
        // both sides are simplified the same way, so the vertices of the border that the left
        // unit draws are exactly those the right one draws.
        let n = 200;
        let border: Vec<(f64, f64)> = (0..=n)
            .map(|i| {
                let y = 20.0 + 0.5 * i as f64 / n as f64;
                let x =
                    105.0 + if i % 2 == 0 { 0.0 } else { 1e-5 } + 0.02 * (i as f64 * 0.05).sin();
                (x, y)
            })
            .collect();
        let ring = |outer_x: f64| {
            let mut r: Vec<Coord<f64>> = border.iter().map(|&(x, y)| Coord { x, y }).collect();
            r.push(Coord {
                x: outer_x,
                y: 20.5,
            });
            r.push(Coord {
                x: outer_x,
                y: 20.0,
            });
            r.push(r[0]);
            MultiPolygon(vec![Polygon::new(LineString(r), vec![])])
        };
        let mut a = square("A", "Tây", 0.0, 0.0, 1.0, Some(1.0));
        a.geometry = ring(104.6);
        let mut b = square("B", "Đông", 0.0, 0.0, 1.0, Some(2.0));
        b.geometry = ring(105.4);
        b.geometry.0[0].exterior_mut(|r| r.0.reverse());
        let svg = choropleth(&[a, b], &spec());
        let doc = parse(&svg);
        let got = units_of(&doc);
        let pts = |code: &str| -> Vec<(f64, f64)> {
            let rings = rings_of(&got[code].3);
            assert_eq!(rings.len(), 1);
            rings[0].clone()
        };
        let (pa, pb) = (pts("A"), pts("B"));
        // Simplified: far fewer than the 204 input vertices.
        assert!(pa.len() < 60, "{}", pa.len());
        let shared_a: Vec<_> = pa.iter().filter(|p| pb.contains(p)).collect();
        let shared_b: Vec<_> = pb.iter().filter(|p| pa.contains(p)).collect();
        assert!(shared_a.len() >= 3);
        // All but the two outer corners of each unit lie on the border.
        assert_eq!(shared_a.len(), pa.len() - 2);
        assert_eq!(shared_b.len(), pb.len() - 2);
    }

    #[test]
    fn small_rings_dropped_but_units_kept() {
        // A big unit with a sub-pixel islet and a sub-pixel hole; a unit smaller than a pixel.
        let mut big = square("BIG", "Lớn", 106.0, 21.0, 1.0, Some(1.0));
        big.geometry.0.push(polygon![
            (x: 107.5, y: 21.5), (x: 107.5001, y: 21.5), (x: 107.5001, y: 21.5001), (x: 107.5, y: 21.5)
        ]);
        big.geometry.0[0].interiors_push(LineString::from(vec![
            (106.5, 21.5),
            (106.5, 21.5001),
            (106.5001, 21.5001),
            (106.5, 21.5),
        ]));
        let tiny = square("TINY", "Nhỏ", 106.2, 20.5, 0.0002, Some(2.0));
        let svg = choropleth(&[big, tiny], &spec());
        let doc = parse(&svg);
        let got = units_of(&doc);
        assert_eq!(rings_of(&got["BIG"].3).len(), 1, "islet and hole dropped");
        assert_eq!(
            rings_of(&got["TINY"].3).len(),
            1,
            "the small unit still shows"
        );
    }

    #[test]
    fn archipelagos_in_an_inset() {
        // a tall mainland (2° × 6°) and two offshore units: islets at Hoàng Sa and Trường Sa
        let mut units: Vec<MapUnit> = (0..6)
            .map(|i| {
                square(
                    &format!("M{i}"),
                    &format!("Tỉnh {i}"),
                    106.0,
                    10.0 + i as f64,
                    1.0,
                    Some(i as f64),
                )
            })
            .collect();
        units.push(square(
            "HS",
            "Đặc khu Hoàng Sa",
            112.0,
            16.5,
            0.002,
            Some(1.0),
        ));
        let mut ts = square("TS", "Đặc khu Trường Sa", 114.0, 10.0, 0.002, Some(2.0));
        // a bank of Trường Sa west of 110.5° E, far south: still offshore
        ts.geometry.0.push(polygon![
            (x: 109.5, y: 7.5), (x: 109.6, y: 7.5), (x: 109.6, y: 7.6), (x: 109.5, y: 7.6), (x: 109.5, y: 7.5)
        ]);
        units.push(ts);
        let s = MapSpec {
            width_px: 1000,
            ..spec()
        };
        let svg = choropleth(&units, &s);
        let doc = parse(&svg);
        let inset = doc
            .descendants()
            .find(|n| n.has_tag_name("rect") && n.attribute("class") == Some("inset"))
            .expect("an inset");
        let num = |a: &str| inset.attribute(a).unwrap().parse::<f64>().unwrap();
        let (x0, y0) = (num("x"), num("y"));
        let (x1, y1) = (x0 + num("width"), y0 + num("height"));
        let got = units_of(&doc);
        // group scale: the units' coordinates are in units of the grid
        let g = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("units"))
            .unwrap();
        let q: f64 = g
            .attribute("transform")
            .unwrap()
            .trim_start_matches("scale(")
            .trim_end_matches(')')
            .parse()
            .unwrap();
        let inside = |code: &str| {
            rings_of(&got[code].3).iter().flatten().all(|(x, y)| {
                let (x, y) = (x * 10.0 * q, y * 10.0 * q);
                x >= x0 && x <= x1 && y >= y0 && y <= y1
            })
        };
        assert!(
            inside("HS") && inside("TS"),
            "the archipelagos are drawn in the inset"
        );
        assert!(!inside("M0") && !inside("M5"), "the mainland is not");
        // the mainland fills the height it is given, not shrunk by the sea between
        let mainland: Vec<f64> = ["M0", "M5"]
            .iter()
            .flat_map(|c| {
                rings_of(&got[*c].3)
                    .into_iter()
                    .flatten()
                    .map(|(_, y)| y * 10.0 * q)
            })
            .collect();
        let span = mainland.iter().cloned().fold(f64::MIN, f64::max)
            - mainland.iter().cloned().fold(f64::MAX, f64::min);
        assert!(span > 600.0, "{span}");
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(texts.contains(&"Quần đảo Hoàng Sa (Đà Nẵng)"), "{texts:?}");
        assert!(texts.contains(&"Quần đảo Trường Sa (Khánh Hòa)"));
        // their islets stay visible, outlined
        let islands = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("islands"))
            .expect("islets outlined");
        assert_eq!(rings_of(islands.attribute("d").unwrap()).len(), 3);
        // without a mainland, no inset
        let svg = choropleth(&units[6..], &s);
        assert!(!svg.contains(r#"class="inset""#));
    }

    #[test]
    fn compact_numbers() {
        let mut d = String::new();
        write_ring(
            &mut d,
            &[
                Coord { x: 10.0, y: 20.0 },
                Coord { x: 10.5, y: 19.5 },
                Coord { x: 12.0, y: 19.55 },
                Coord { x: 12.0, y: 25.0 },
                Coord { x: 12.0, y: 25.04 },
            ],
            0.1,
        );
        assert_eq!(d, "M100 200l5-5 15 1 0 54z");
        assert_eq!(
            rings_of(&d),
            [vec![(10.0, 20.0), (10.5, 19.5), (12.0, 19.6), (12.0, 25.0)]]
        );
        assert_eq!(f(12.345), "12.3");
        assert_eq!(f(-0.04), "0");
        assert_eq!(f(12.0), "12");
    }

    #[test]
    fn png_is_not_blank() {
        let svg = choropleth(&grid(), &spec());
        let png = png(&svg, 360).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let img = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        assert_eq!(img.width(), 360);
        let ink = img
            .pixels()
            .iter()
            .filter(|p| p.red() < 250 || p.green() < 250 || p.blue() < 250)
            .count();
        let total = img.pixels().len();
        assert!(ink * 10 > total, "{ink} of {total} pixels drawn");
        // Text is drawn with the embedded font: a text alone leaves ink.
        let text = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 20"><text x="2" y="15" font-size="14" font-family="system-ui,sans-serif">Đồng Văn</text></svg>"#;
        let img = resvg::tiny_skia::Pixmap::decode_png(&png_of(text, 200)).unwrap();
        assert!(img.pixels().iter().any(|p| p.red() < 100));
        assert!(matches!(png_of_err("<svg"), ReportError::Png(_)));
    }

    fn png_of(svg: &str, w: u32) -> Vec<u8> {
        png(svg, w).unwrap()
    }

    fn png_of_err(svg: &str) -> ReportError {
        png(svg, 100).unwrap_err()
    }

    #[test]
    fn table_values() {
        let t = PivotTable::sample();
        let mut units: Vec<MapUnit> = t
            .row_dims
            .iter()
            .position(|d| d.id == "ou")
            .map(|d| {
                t.row_dims[d]
                    .items
                    .iter()
                    .map(|it| square(&it.code, &it.name, 105.0, 21.0, 0.1, None))
                    .collect()
            })
            .unwrap_or_default();
        units.push(square("KHONG-CO", "Không có", 105.0, 21.0, 0.1, Some(5.0)));
        let n = fill_from_table(&mut units, &t);
        assert!(n > 0);
        assert_eq!(units.last().unwrap().value, None);
    }
}

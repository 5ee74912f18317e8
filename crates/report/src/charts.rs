//! Server-side SVG charts: grouped bars, lines over time, stacked bars and the population
//! pyramid, each a standalone SVG string.
//!
//! The SVG scales to its container (`width="100%"` and a `viewBox` 400 units wide, so that its
//! text stays readable on a 360 px phone), has no script and loads no font (a system font stack).
//! Every text that comes from users is escaped. Labels are Vietnamese and numbers are written the
//! Vietnamese way ([`format_number`]). Each bar and point carries a `<title>` (the tooltip) with
//! its label and value. Figures computed through the unit lineage are drawn lighter ("số quy
//! đổi"), estimates hatched or hollow ("số ước tính"). Bars are horizontal: unit names are long.

use crate::svg::{esc, text_w, wrap};
use std::fmt::Write as _;

use dantoc_domain::analytics::PivotTable;
use dantoc_domain::value::format_number;

/// `write!` into a `String`, which cannot fail.
macro_rules! w {
    ($($t:tt)*) => {{
        let _ = write!($($t)*);
    }};
}

/// Series colours, in order: Okabe–Ito, safe for the common colour-vision deficiencies.
/// More series than colours reuse them (lines then also get a dash pattern).
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442",
];

/// How a figure came about, as the pivot table's cell flags say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mark {
    /// Recorded on the unit itself (or summed from such values).
    #[default]
    Recorded,
    /// Computed from values of units of the other hierarchy through the lineage.
    Mapped,
    /// Mapped with default (equal) weights: an estimate.
    Estimated,
}

/// One series: a value per category (`None`: no figure, drawn as a gap, never as zero) and
/// optionally a [`Mark`] per category (missing marks are [`Mark::Recorded`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
    pub marks: Vec<Mark>,
}

impl Series {
    pub fn new(name: impl Into<String>, values: Vec<Option<f64>>) -> Series {
        Series {
            name: name.into(),
            values,
            marks: Vec::new(),
        }
    }

    /// The value for category `i`; non-finite numbers count as missing.
    fn value(&self, i: usize) -> Option<f64> {
        self.values
            .get(i)
            .copied()
            .flatten()
            .filter(|v| v.is_finite())
    }

    fn mark(&self, i: usize) -> Mark {
        self.marks.get(i).copied().unwrap_or_default()
    }
}

/// What a chart shows: categories (bars, periods of a line chart, age groups of a pyramid) and
/// series (bars of a group, lines, stack segments; a pyramid's males then females).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartData {
    pub title: String,
    /// Unit of the figures ("người", "%"); empty for none.
    pub unit: String,
    /// Source line under the chart; empty for none.
    pub source: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
}

impl ChartData {
    /// Categories become series and series categories (e.g. a table with periods as columns,
    /// for a line chart over time).
    pub fn transposed(&self) -> ChartData {
        let series = (0..self.categories.len())
            .map(|i| Series {
                name: self.categories[i].clone(),
                values: self.series.iter().map(|s| s.value(i)).collect(),
                marks: self.series.iter().map(|s| s.mark(i)).collect(),
            })
            .collect();
        ChartData {
            title: self.title.clone(),
            unit: self.unit.clone(),
            source: self.source.clone(),
            categories: self.series.iter().map(|s| s.name.clone()).collect(),
            series,
        }
    }

    /// Every figure shown: (category, series, value).
    fn values(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        (0..self.categories.len()).flat_map(move |c| {
            self.series
                .iter()
                .enumerate()
                .filter_map(move |(s, x)| x.value(c).map(|v| (c, s, v)))
        })
    }

    fn has_mark(&self, m: Mark) -> bool {
        self.values().any(|(c, s, _)| self.series[s].mark(c) == m)
    }
}

/// The chart data of a pivot table: rows become categories and columns series; the labels of
/// several dimensions are joined with " · ". The unit is left empty (the table does not carry
/// one): set it on the result.
pub fn from_table(t: &PivotTable) -> ChartData {
    let categories = (0..t.rows.len())
        .map(|r| {
            let labels: Vec<&str> = (0..t.row_dims.len())
                .map(|d| t.row_label(r, d).name.as_str())
                .collect();
            labels.join(" · ")
        })
        .collect();
    let series = (0..t.cols.len())
        .map(|c| {
            let labels: Vec<&str> = (0..t.col_dims.len())
                .map(|d| t.col_label(c, d).name.as_str())
                .collect();
            let cells: Vec<_> = (0..t.rows.len())
                .map(|r| t.cells.get(r).and_then(|row| row.get(c)))
                .collect();
            Series {
                name: labels.join(" · "),
                values: cells.iter().map(|x| x.and_then(|x| x.value)).collect(),
                marks: cells
                    .iter()
                    .map(|x| match x {
                        Some(x) if x.estimated => Mark::Estimated,
                        Some(x) if x.mapped => Mark::Mapped,
                        _ => Mark::Recorded,
                    })
                    .collect(),
            }
        })
        .collect();
    ChartData {
        title: t.title.clone(),
        unit: String::new(),
        source: t.source.clone(),
        categories,
        series,
    }
}

/// Grouped horizontal bars: one group per category, one bar per series, the value at its end.
pub fn bar(d: &ChartData) -> String {
    horizontal(d, false)
}

/// Horizontal bars, one per category, stacked by series (positive values to the right of zero,
/// negative ones to the left), with a legend and the category's total at the end.
pub fn stacked(d: &ChartData) -> String {
    horizontal(d, true)
}

/// Lines over time: categories are the periods, in order, along x; one line per series, broken
/// where a value is missing.
pub fn line(d: &ChartData) -> String {
    if d.values().next().is_none() {
        return empty(d);
    }
    let mut c = Canvas::start(d);
    let ns = d.series.len();
    let mut keys: Vec<(String, Key)> = Vec::new();
    if ns > 1 {
        keys.extend(
            d.series
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), Key::Stroke(i))),
        );
    }
    if d.has_mark(Mark::Mapped) {
        keys.push(("Số quy đổi".into(), Key::PointLight));
    }
    if d.has_mark(Mark::Estimated) {
        keys.push(("Số ước tính".into(), Key::PointHollow));
    }
    c.legend(&keys);

    let (lo, hi) = range(d.values().map(|(_, _, v)| v));
    let plot_h = 220.0;
    let top = c.y + 6.0;
    let bottom = top + plot_h;
    let axis = fit(lo, hi, |a| {
        plot_h / (a.ticks.len().max(2) - 1) as f64 >= 26.0
    });
    let lw = axis
        .ticks
        .iter()
        .map(|t| text_w(&num(*t), SMALL))
        .fold(0.0, f64::max);
    let x0 = PAD + lw + 6.0;
    let x1 = W - PAD;
    let sy = |v: f64| bottom - (v - axis.lo) / (axis.hi - axis.lo) * plot_h;
    for t in &axis.ticks {
        let y = sy(*t);
        let stroke = if *t == 0.0 && axis.lo < 0.0 {
            AXIS
        } else {
            GRID
        };
        c.hline(x0, x1, y, stroke);
        c.text(x0 - 5.0, y + 4.0, SMALL, r#"text-anchor="end""#, &num(*t));
    }

    let n = d.categories.len();
    let inset = 12.0;
    let step = if n > 1 {
        (x1 - x0 - 2.0 * inset) / (n - 1) as f64
    } else {
        0.0
    };
    let sx = |i: usize| {
        if n == 1 {
            (x0 + x1) / 2.0
        } else {
            x0 + inset + i as f64 * step
        }
    };
    let lab_w = d
        .categories
        .iter()
        .map(|s| text_w(s, SMALL))
        .fold(0.0, f64::max)
        .min(W / 2.0);
    let every = if n > 1 {
        ((lab_w + 8.0) / step).ceil().max(1.0) as usize
    } else {
        1
    };
    for (i, cat) in d.categories.iter().enumerate().step_by(every) {
        let (lines, cut) = wrap(cat, (step * every as f64 - 4.0).max(lab_w), SMALL, 1);
        let w = lines.first().map_or(0.0, |l| text_w(l, SMALL));
        let x = sx(i);
        let anchor = if x - w / 2.0 < 2.0 {
            (2.0, "start")
        } else if x + w / 2.0 > W - 2.0 {
            (W - 2.0, "end")
        } else {
            (x, "middle")
        };
        c.vtick(x, bottom);
        c.lines(
            anchor.0,
            bottom + 16.0,
            SMALL,
            &format!(r#"text-anchor="{}""#, anchor.1),
            &lines,
            cut.then_some(cat.as_str()),
        );
    }
    c.hline(x0, x1, bottom, AXIS);

    for (si, s) in d.series.iter().enumerate() {
        let color = PALETTE[si % PALETTE.len()];
        let dash = match si / PALETTE.len() {
            0 => "",
            1 => r#" stroke-dasharray="6 3""#,
            _ => r#" stroke-dasharray="2 3""#,
        };
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        for i in 0..n {
            match s.value(i) {
                Some(v) => run.push((sx(i), sy(v))),
                None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        for r in runs.iter().filter(|r| r.len() > 1) {
            let pts: Vec<String> = r
                .iter()
                .map(|(x, y)| format!("{},{}", f(*x), f(*y)))
                .collect();
            w!(
                c.body,
                r#"<polyline class="line s{si}" points="{}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round"{dash}/>"#,
                pts.join(" ")
            );
        }
        for i in 0..n {
            if let Some(v) = s.value(i) {
                let (fill, op) = match s.mark(i) {
                    Mark::Recorded => (color, "1"),
                    Mark::Mapped => (color, "0.45"),
                    Mark::Estimated => ("#fff", "1"),
                };
                w!(
                    c.body,
                    r#"<circle class="point s{si}" cx="{}" cy="{}" r="3.5" fill="{fill}" fill-opacity="{op}" stroke="{color}" stroke-width="1.5"><title>{}</title></circle>"#,
                    f(sx(i)),
                    f(sy(v)),
                    esc(&tip(&d.categories[i], &s.name, Some(v), &d.unit, s.mark(i)))
                );
            }
        }
    }
    c.y = bottom + 24.0;
    c.finish(d)
}

/// Population pyramid: categories are age groups from the youngest (drawn at the bottom) up;
/// the first series (males) to the left, the second (females) to the right, on one scale.
/// Further series are ignored; magnitudes are drawn (the tooltip keeps the sign).
pub fn pyramid(d: &ChartData) -> String {
    let d2 = ChartData {
        series: d.series.iter().take(2).cloned().collect(),
        ..d.clone()
    };
    let d = &d2;
    if d.values().next().is_none() {
        return empty(d);
    }
    let mut c = Canvas::start(d);
    let mut keys = Vec::new();
    if d.has_mark(Mark::Mapped) {
        keys.push(("Số quy đổi".into(), Key::Light));
    }
    if d.has_mark(Mark::Estimated) {
        keys.push(("Số ước tính".into(), Key::Hatch));
    }
    c.legend(&keys);

    // The two sides' names, left and right, above the bars.
    let name_w = (W - 2.0 * PAD) / 2.0 - 24.0;
    for (si, s) in d.series.iter().enumerate() {
        let (lines, cut) = wrap(&s.name, name_w, LABEL * BOLD_W, 1);
        let full = cut.then_some(s.name.as_str());
        if si == 0 {
            c.swatch(PAD, c.y + 2.0, &Key::Fill(si));
            c.lines(PAD + 17.0, c.y + 12.5, LABEL, BOLD, &lines, full);
        } else {
            c.swatch(W - PAD - 12.0, c.y + 2.0, &Key::Fill(si));
            let attrs = format!(r#"text-anchor="end" {BOLD}"#);
            c.lines(W - PAD - 17.0, c.y + 12.5, LABEL, &attrs, &lines, full);
        }
    }
    c.y += 24.0;

    let n = d.categories.len();
    let cw = d
        .categories
        .iter()
        .map(|s| text_w(s, SMALL) + 12.0)
        .fold(36.0, f64::max)
        .min(140.0);
    let il = W / 2.0 - cw / 2.0;
    let ir = W / 2.0 + cw / 2.0;
    let half = il - PAD - 8.0;
    let (_, m) = range(d.values().map(|(_, _, v)| v.abs()));
    let axis = fit(0.0, m, |a| fits_h(a, half));
    // The outermost tick label is centred on the end of the axis: keep it inside.
    let half = half - text_w(&num(axis.hi), SMALL) / 2.0 + 8.0;
    let sc = |v: f64| v.abs() / axis.hi * half;
    let bh = if n <= 24 {
        14.0
    } else {
        (336.0 / n as f64).max(4.0)
    };
    let gap = (bh * 0.25).min(4.0);
    let top = c.y;
    let bottom = top + n as f64 * (bh + gap);
    for t in &axis.ticks {
        let (xl, xr) = (il - sc(*t), ir + sc(*t));
        let stroke = if *t == 0.0 { AXIS } else { GRID };
        c.vline(xl, top, bottom, stroke);
        c.vline(xr, top, bottom, stroke);
        let mid = r#"text-anchor="middle""#;
        c.text(xl, bottom + 14.0, SMALL, mid, &num(*t));
        c.text(xr, bottom + 14.0, SMALL, mid, &num(*t));
    }
    for (i, cat) in d.categories.iter().enumerate() {
        let y = bottom - (i + 1) as f64 * (bh + gap) + gap / 2.0;
        let (lines, cut) = wrap(cat, cw - 6.0, SMALL, 1);
        c.lines(
            W / 2.0,
            y + bh / 2.0 + 4.0,
            SMALL,
            r#"text-anchor="middle""#,
            &lines,
            cut.then_some(cat.as_str()),
        );
        for (si, s) in d.series.iter().enumerate() {
            if let Some(v) = s.value(i) {
                let x = if si == 0 { il - sc(v) } else { ir };
                c.rect(
                    x,
                    y,
                    sc(v),
                    bh,
                    si,
                    s.mark(i),
                    &tip(cat, &s.name, Some(v), &d.unit, s.mark(i)),
                );
            }
        }
    }
    c.y = bottom + 22.0;
    c.finish(d)
}

// ---------------------------------------------------------------------------------------------
// Layout.

/// viewBox width; text sizes are in these units (×0.9 on a 360 px screen: 13 → 11.7 px).
const W: f64 = 400.0;
const PAD: f64 = 12.0;
const TITLE: f64 = 16.0;
const LABEL: f64 = 13.0;
const SMALL: f64 = 12.0;
const TINY: f64 = 11.0;
const FONT: &str =
    "system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Helvetica Neue',Arial,sans-serif";
const INK: &str = "#222";
const MUTED: &str = "#555";
const GRID: &str = "#e3e3e3";
const AXIS: &str = "#777";
const GREY: &str = "#666666";
const BOLD: &str = r#"font-weight="600""#;
/// Bold text is this much wider: a bold text is measured (and wrapped) at this many times its size.
const BOLD_W: f64 = 1.15;

/// A legend key.
enum Key {
    /// Filled square in the colour of series `i`.
    Fill(usize),
    /// Line in the colour (and dash) of series `i`.
    Stroke(usize),
    Hatch,
    Light,
    PointHollow,
    PointLight,
}

struct Canvas {
    body: String,
    /// Colours with a hatch pattern in `<defs>`.
    hatches: Vec<&'static str>,
    /// Where the next element goes.
    y: f64,
}

impl Canvas {
    /// A canvas with the title (and the unit under it) drawn.
    fn start(d: &ChartData) -> Canvas {
        let mut c = Canvas {
            body: String::new(),
            hatches: Vec::new(),
            y: PAD,
        };
        let (lines, cut) = wrap(&d.title, W - 2.0 * PAD, TITLE * BOLD_W, 3);
        let attrs = format!(r#"class="title" {BOLD}"#);
        c.lines(
            PAD,
            c.y + TITLE,
            TITLE,
            &attrs,
            &lines,
            cut.then_some(&d.title),
        );
        c.y += lines.len() as f64 * TITLE * 1.3 + 4.0;
        if !d.unit.is_empty() {
            let (lines, cut) = wrap(&format!("Đơn vị tính: {}", d.unit), W - 2.0 * PAD, SMALL, 2);
            let attrs = format!(r#"fill="{MUTED}""#);
            c.lines(
                PAD,
                c.y + SMALL,
                SMALL,
                &attrs,
                &lines,
                cut.then_some(&d.unit),
            );
            c.y += lines.len() as f64 * SMALL * 1.3 + 2.0;
        }
        c.y += 6.0;
        c
    }

    /// The source line, then the whole document.
    fn finish(mut self, d: &ChartData) -> String {
        if !d.source.is_empty() {
            let (lines, cut) = wrap(&d.source, W - 2.0 * PAD, TINY, 3);
            let attrs = format!(r#"class="source" fill="{MUTED}""#);
            self.lines(
                PAD,
                self.y + TINY,
                TINY,
                &attrs,
                &lines,
                cut.then_some(&d.source),
            );
            self.y += lines.len() as f64 * TINY * 1.3;
        }
        let h = (self.y + PAD).ceil();
        let mut s = String::with_capacity(self.body.len() + 1200);
        w!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="100%" preserveAspectRatio="xMidYMin meet" role="img" aria-label="{title}" class="dantoc-chart" font-family="{FONT}" fill="{INK}"><title>{title}</title>"#,
            title = esc(&d.title)
        );
        if !self.hatches.is_empty() {
            s.push_str("<defs>");
            for color in &self.hatches {
                w!(
                    s,
                    r#"<pattern id="{}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="{color}" fill-opacity="0.25"/><rect width="2.5" height="6" fill="{color}"/></pattern>"#,
                    hatch_id(color)
                );
            }
            s.push_str("</defs>");
        }
        w!(
            s,
            r##"<rect class="bg" width="{W}" height="{h}" fill="#fff"/>"##
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

    /// Lines of a wrapped text, the first baseline at `y`; `full` (the text before it was cut)
    /// becomes a tooltip.
    fn lines(
        &mut self,
        x: f64,
        y: f64,
        size: f64,
        attrs: &str,
        lines: &[String],
        full: Option<&str>,
    ) {
        if lines.is_empty() {
            return;
        }
        if let Some(full) = full {
            w!(self.body, "<g><title>{}</title>", esc(full));
        }
        for (i, l) in lines.iter().enumerate() {
            self.text(x, y + i as f64 * size * 1.25, size, attrs, l);
        }
        if full.is_some() {
            self.body.push_str("</g>");
        }
    }

    fn hline(&mut self, x0: f64, x1: f64, y: f64, stroke: &str) {
        w!(
            self.body,
            r#"<line x1="{}" x2="{}" y1="{y}" y2="{y}" stroke="{stroke}" stroke-width="1"/>"#,
            f(x0),
            f(x1),
            y = f(y)
        );
    }

    fn vline(&mut self, x: f64, y0: f64, y1: f64, stroke: &str) {
        w!(
            self.body,
            r#"<line x1="{x}" x2="{x}" y1="{}" y2="{}" stroke="{stroke}" stroke-width="1"/>"#,
            f(y0),
            f(y1),
            x = f(x)
        );
    }

    fn vtick(&mut self, x: f64, y: f64) {
        self.vline(x, y, y + 4.0, AXIS);
    }

    /// The fill of a bar of series `si`: lighter when mapped, hatched when estimated.
    fn paint(&mut self, si: usize, mark: Mark) -> String {
        let color = PALETTE[si % PALETTE.len()];
        self.paint_color(color, mark)
    }

    fn paint_color(&mut self, color: &'static str, mark: Mark) -> String {
        match mark {
            Mark::Recorded => format!(r#"fill="{color}""#),
            Mark::Mapped => {
                format!(r#"fill="{color}" fill-opacity="0.5" stroke="{color}" stroke-width="0.75""#)
            }
            Mark::Estimated => {
                if !self.hatches.contains(&color) {
                    self.hatches.push(color);
                }
                format!(
                    r#"fill="url(#{})" stroke="{color}" stroke-width="0.75""#,
                    hatch_id(color)
                )
            }
        }
    }

    /// A data bar with its tooltip.
    #[allow(clippy::too_many_arguments)]
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, si: usize, mark: Mark, tip: &str) {
        let paint = self.paint(si, mark);
        w!(
            self.body,
            r#"<rect class="bar s{si}" x="{}" y="{}" width="{}" height="{}" {paint}><title>{}</title></rect>"#,
            f(x),
            f(y),
            f(w),
            f(h),
            esc(tip)
        );
    }

    /// A 12×12 legend key with its top left corner at (x, y).
    fn swatch(&mut self, x: f64, y: f64, key: &Key) {
        let (cx, cy) = (f(x + 6.0), f(y + 6.0));
        match key {
            Key::Fill(si) => {
                let color = PALETTE[si % PALETTE.len()];
                w!(
                    self.body,
                    r#"<rect class="swatch" x="{}" y="{}" width="12" height="12" fill="{color}"/>"#,
                    f(x),
                    f(y)
                );
            }
            Key::Hatch | Key::Light => {
                let mark = if matches!(key, Key::Hatch) {
                    Mark::Estimated
                } else {
                    Mark::Mapped
                };
                let paint = self.paint_color(GREY, mark);
                w!(
                    self.body,
                    r#"<rect class="swatch" x="{}" y="{}" width="12" height="12" {paint}/>"#,
                    f(x),
                    f(y)
                );
            }
            Key::Stroke(si) => {
                let color = PALETTE[si % PALETTE.len()];
                let dash = match si / PALETTE.len() {
                    0 => "",
                    1 => r#" stroke-dasharray="6 3""#,
                    _ => r#" stroke-dasharray="2 3""#,
                };
                w!(
                    self.body,
                    r#"<line class="swatch" x1="{}" x2="{}" y1="{cy}" y2="{cy}" stroke="{color}" stroke-width="2.5"{dash}/><circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>"#,
                    f(x - 2.0),
                    f(x + 14.0)
                );
            }
            Key::PointHollow | Key::PointLight => {
                let (fill, op) = if matches!(key, Key::PointHollow) {
                    ("#fff", "1")
                } else {
                    (GREY, "0.45")
                };
                w!(
                    self.body,
                    r#"<circle class="swatch" cx="{cx}" cy="{cy}" r="4" fill="{fill}" fill-opacity="{op}" stroke="{GREY}" stroke-width="1.5"/>"#
                );
            }
        }
    }

    /// Keys flowing left to right, wrapping to new rows.
    fn legend(&mut self, keys: &[(String, Key)]) {
        if keys.is_empty() {
            return;
        }
        let row_h = 18.0;
        let (mut x, mut y) = (PAD, self.y);
        for (name, key) in keys {
            let (lines, cut) = wrap(name, W - 2.0 * PAD - 17.0, LABEL, 1);
            let iw = 17.0 + lines.first().map_or(0.0, |l| text_w(l, LABEL));
            if x > PAD && x + iw > W - PAD {
                x = PAD;
                y += row_h;
            }
            self.body.push_str(r#"<g class="legend">"#);
            self.swatch(x, y + 2.0, key);
            self.lines(
                x + 17.0,
                y + 12.5,
                LABEL,
                "",
                &lines,
                cut.then_some(name.as_str()),
            );
            self.body.push_str("</g>");
            x += iw + 14.0;
        }
        self.y = y + row_h + 6.0;
    }
}

/// Grouped or stacked horizontal bars.
fn horizontal(d: &ChartData, stacked: bool) -> String {
    if d.values().next().is_none() {
        return empty(d);
    }
    let mut c = Canvas::start(d);
    let ns = d.series.len();
    let mut keys: Vec<(String, Key)> = Vec::new();
    if ns > 1 || stacked {
        keys.extend(
            d.series
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), Key::Fill(i))),
        );
    }
    if d.has_mark(Mark::Mapped) {
        keys.push(("Số quy đổi".into(), Key::Light));
    }
    if d.has_mark(Mark::Estimated) {
        keys.push(("Số ước tính".into(), Key::Hatch));
    }
    c.legend(&keys);

    // Per category: the values and what is written at the end of the bars.
    struct Row {
        lines: Vec<String>,
        cut: bool,
        /// Stacked: the sums of the positive and of the negative values, and the total.
        pos: f64,
        neg: f64,
        total: Option<f64>,
    }
    let max_lw = (W * 0.36).round();
    let rows: Vec<Row> = (0..d.categories.len())
        .map(|i| {
            let (lines, cut) = wrap(&d.categories[i], max_lw, LABEL, 2);
            let vals: Vec<f64> = d.series.iter().filter_map(|s| s.value(i)).collect();
            Row {
                lines,
                cut,
                pos: vals.iter().filter(|v| **v > 0.0).sum(),
                neg: vals.iter().filter(|v| **v < 0.0).sum(),
                total: (!vals.is_empty()).then(|| vals.iter().sum()),
            }
        })
        .collect();
    let lw = rows
        .iter()
        .flat_map(|r| r.lines.iter())
        .map(|l| text_w(l, LABEL))
        .fold(0.0, f64::max);
    // Ends of bars and the texts written there.
    let ends: Vec<(f64, String)> = if stacked {
        rows.iter()
            .filter_map(|r| {
                let end = if r.pos > 0.0 || r.neg == 0.0 {
                    r.pos
                } else {
                    r.neg
                };
                r.total.map(|t| (end, num(t)))
            })
            .collect()
    } else {
        d.values().map(|(_, _, v)| (v, num(v))).collect()
    };
    let reserve = |pos: bool| {
        ends.iter()
            .filter(|(e, _)| if pos { *e >= 0.0 } else { *e < 0.0 })
            .map(|(_, s)| text_w(s, SMALL) + 6.0)
            .fold(0.0, f64::max)
    };
    let (lo, hi) = if stacked {
        range(rows.iter().flat_map(|r| [r.pos, r.neg]))
    } else {
        range(d.values().map(|(_, _, v)| v))
    };
    // The last tick label is centred on the end of the axis (a digit more, to be safe).
    let tick_room = text_w(&num(hi.max(-lo) * 10.0), SMALL) / 2.0;
    let x0 = PAD + lw + 8.0 + reserve(false);
    let x1 = W - PAD - reserve(true).max(tick_room);
    let axis = fit(lo.min(0.0), hi.max(0.0), |a| fits_h(a, x1 - x0));
    let sx = |v: f64| x0 + (v - axis.lo) / (axis.hi - axis.lo) * (x1 - x0);

    let (bh, gap) = if stacked || ns == 1 {
        (18.0, 0.0)
    } else {
        (13.0, 2.0)
    };
    let nb = if stacked { 1 } else { ns };
    let group_h = nb as f64 * bh + (nb.max(1) - 1) as f64 * gap;
    let bands: Vec<f64> = rows
        .iter()
        .map(|r| group_h.max(r.lines.len() as f64 * LABEL * 1.25) + 10.0)
        .collect();
    let top = c.y;
    let bottom = top + bands.iter().sum::<f64>();
    for t in &axis.ticks {
        c.vline(sx(*t), top, bottom, GRID);
    }

    let mut y = top;
    for (i, (row, band)) in rows.iter().zip(&bands).enumerate() {
        let cat = &d.categories[i];
        let text_h = row.lines.len() as f64 * LABEL * 1.25;
        c.lines(
            PAD + lw,
            y + (band - text_h) / 2.0 + LABEL * 0.95,
            LABEL,
            r#"text-anchor="end""#,
            &row.lines,
            row.cut.then_some(cat.as_str()),
        );
        let gy = y + (band - group_h) / 2.0;
        if stacked {
            let (mut pos, mut neg) = (0.0, 0.0);
            for (si, s) in d.series.iter().enumerate() {
                let Some(v) = s.value(i) else { continue };
                let (a, b) = if v >= 0.0 {
                    pos += v;
                    (pos - v, pos)
                } else {
                    neg += v;
                    (neg, neg - v)
                };
                let tip = tip(cat, &s.name, Some(v), &d.unit, s.mark(i));
                c.rect(sx(a), gy, sx(b) - sx(a), bh, si, s.mark(i), &tip);
            }
            if let Some(t) = row.total {
                let (x, anchor) = if row.pos > 0.0 || row.neg == 0.0 {
                    (sx(row.pos) + 4.0, "start")
                } else {
                    (sx(row.neg) - 4.0, "end")
                };
                let attrs = format!(r#"class="value" text-anchor="{anchor}" {BOLD}"#);
                c.text(x, gy + bh / 2.0 + 4.0, SMALL, &attrs, &num(t));
            }
        } else {
            for (si, s) in d.series.iter().enumerate() {
                let by = gy + si as f64 * (bh + gap);
                let mark = s.mark(i);
                match s.value(i) {
                    Some(v) => {
                        let (a, b) = (sx(v.min(0.0)), sx(v.max(0.0)));
                        c.rect(
                            a,
                            by,
                            b - a,
                            bh,
                            si,
                            mark,
                            &tip(cat, &s.name, Some(v), &d.unit, mark),
                        );
                        let (x, anchor) = if v >= 0.0 {
                            (b + 4.0, "start")
                        } else {
                            (a - 4.0, "end")
                        };
                        let attrs = format!(r#"class="value" text-anchor="{anchor}""#);
                        c.text(x, by + bh / 2.0 + 4.0, SMALL, &attrs, &num(v));
                    }
                    None => {
                        let t = tip(cat, &s.name, None, &d.unit, mark);
                        w!(
                            c.body,
                            r#"<text class="missing" x="{}" y="{}" font-size="{SMALL}" fill="{MUTED}">–<title>{}</title></text>"#,
                            f(sx(0.0) + 4.0),
                            f(by + bh / 2.0 + 4.0),
                            esc(&t)
                        );
                    }
                }
            }
        }
        y += band;
    }
    c.vline(sx(0.0), top, bottom, AXIS);
    for t in &axis.ticks {
        let x = sx(*t);
        c.vtick(x, bottom);
        c.text(x, bottom + 15.0, SMALL, r#"text-anchor="middle""#, &num(*t));
    }
    c.y = bottom + 22.0;
    c.finish(d)
}

/// A chart with nothing to draw: its title and "Không có số liệu".
fn empty(d: &ChartData) -> String {
    let mut c = Canvas::start(d);
    let attrs = format!(r#"class="empty" text-anchor="middle" fill="{MUTED}""#);
    c.text(W / 2.0, c.y + 40.0, LABEL + 2.0, &attrs, "Không có số liệu");
    c.y += 64.0;
    c.finish(d)
}

/// The tooltip of a figure: "category, series: value unit (ước tính)".
fn tip(cat: &str, series: &str, v: Option<f64>, unit: &str, mark: Mark) -> String {
    let mut s = cat.to_string();
    if !series.is_empty() {
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push_str(series);
    }
    s.push_str(": ");
    match v {
        None => s.push_str("không có số liệu"),
        Some(v) => {
            s.push_str(&num(v));
            if !unit.is_empty() {
                s.push(' ');
                s.push_str(unit);
            }
            match mark {
                Mark::Recorded => {}
                Mark::Mapped => s.push_str(" (quy đổi)"),
                Mark::Estimated => s.push_str(" (ước tính)"),
            }
        }
    }
    s
}

fn hatch_id(color: &str) -> String {
    format!("dantoc-hatch-{}", color.trim_start_matches('#'))
}

/// A number for people, the Vietnamese way.
fn num(v: f64) -> String {
    format_number(v, true)
}

/// A coordinate: at most two decimals, no trailing zeros.
fn f(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// Smallest and largest of some numbers ((0, 0) for none).
fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi { (0.0, 0.0) } else { (lo, hi) }
}

/// An axis: its ends and its ticks, steps of 1, 2 or 5 × 10ⁿ.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

/// Ticks covering [lo, hi] in about `target` steps of 1, 2 or 5 × 10ⁿ.
fn nice(lo: f64, hi: f64, target: usize) -> Axis {
    let (mut lo, mut hi) = (lo, hi);
    if hi <= lo {
        // One value: from zero to it (or to 1 when it is zero).
        if lo > 0.0 {
            lo = 0.0;
        } else if lo < 0.0 {
            hi = 0.0;
        } else {
            hi = 1.0;
        }
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let e = raw.log10().floor() as i32;
    let m: i64 = match raw / 10f64.powi(e) {
        r if r <= 1.0 => 1,
        r if r <= 2.0 => 2,
        r if r <= 5.0 => 5,
        _ => 10,
    };
    let step = m as f64 * 10f64.powi(e);
    // Computed from integers so that 0.1 steps give 0,3 and not 0,30000000000000004.
    let val = |k: i64| {
        if e >= 0 {
            (k * m) as f64 * 10f64.powi(e)
        } else {
            (k * m) as f64 / 10f64.powi(-e)
        }
    };
    let k0 = (lo / step + 1e-9).floor() as i64;
    let k1 = (hi / step - 1e-9).ceil() as i64;
    Axis {
        lo: val(k0),
        hi: val(k1),
        ticks: (k0..=k1).map(val).collect(),
    }
}

/// The axis with the most ticks (at most 10 steps) that `ok` accepts.
fn fit(lo: f64, hi: f64, ok: impl Fn(&Axis) -> bool) -> Axis {
    (2..=10)
        .rev()
        .map(|t| nice(lo, hi, t))
        .find(|a| ok(a))
        .unwrap_or_else(|| nice(lo, hi, 1))
}

/// Whether the tick labels of a horizontal axis `len` long stay apart.
fn fits_h(a: &Axis, len: f64) -> bool {
    let wmax = a
        .ticks
        .iter()
        .map(|t| text_w(&num(*t), SMALL))
        .fold(0.0, f64::max);
    a.ticks.len() < 2 || len / (a.ticks.len() - 1) as f64 >= wmax + 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use dantoc_domain::analytics::PivotTable;

    /// Parses as XML (and so is well formed), with the attributes every chart has.
    fn parse(svg: &str) -> roxmltree::Document<'_> {
        let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        assert_eq!(root.attribute("width"), Some("100%"));
        let vb: Vec<f64> = root
            .attribute("viewBox")
            .unwrap()
            .split(' ')
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(vb[..3], [0.0, 0.0, W]);
        assert!(vb[3] > 50.0);
        assert!(!doc.descendants().any(|n| n.has_tag_name("script")));
        assert!(!svg.contains("<script"), "raw markup leaked");
        assert!(!svg.contains("@import") && !svg.contains("url(http"));
        doc
    }

    fn has_class(n: &roxmltree::Node, class: &str) -> bool {
        n.attribute("class")
            .is_some_and(|c| c.split(' ').any(|x| x == class))
    }

    fn nodes<'a>(
        doc: &'a roxmltree::Document,
        tag: &str,
        class: &str,
    ) -> Vec<roxmltree::Node<'a, 'a>> {
        doc.descendants()
            .filter(|n| n.has_tag_name(tag) && has_class(n, class))
            .collect()
    }

    fn attr(n: &roxmltree::Node, a: &str) -> f64 {
        n.attribute(a).unwrap().parse().unwrap()
    }

    fn tooltip(n: &roxmltree::Node) -> String {
        n.children()
            .find(|c| c.has_tag_name("title"))
            .and_then(|t| t.text())
            .unwrap_or_default()
            .to_string()
    }

    fn texts(doc: &roxmltree::Document) -> Vec<String> {
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or_default().to_string())
            .collect()
    }

    /// Equal up to the two decimals coordinates are written with (and a scale taken from them).
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.02 + 0.001 * b.abs()
    }

    fn data(categories: &[&str], series: &[(&str, &[Option<f64>])]) -> ChartData {
        ChartData {
            title: "Biểu đồ thử".into(),
            unit: "người".into(),
            source: "Nguồn: thử".into(),
            categories: categories.iter().map(|c| c.to_string()).collect(),
            series: series
                .iter()
                .map(|(n, v)| Series::new(*n, v.to_vec()))
                .collect(),
        }
    }

    #[test]
    fn vietnamese_numbers() {
        assert_eq!(format_number(162531.0, true), "162.531");
        assert_eq!(format_number(12.31, true), "12,31");
        assert_eq!(format_number(-1500.5, true), "-1.500,5");
        assert_eq!(format_number(0.0, true), "0");
        assert_eq!(format_number(-0.25, true), "-0,25");
        assert_eq!(format_number(100.0, true), "100");
        assert_eq!(format_number(1234567.0, true), "1.234.567");
        assert_eq!(format_number(1234567.5, false), "1,234,567.5");
    }

    #[test]
    fn ticks_step_by_one_two_or_five() {
        let a = nice(0.0, 162531.0, 5);
        assert_eq!(a.ticks, [0.0, 50000.0, 100000.0, 150000.0, 200000.0]);
        let a = nice(-3.0, 7.0, 5);
        assert_eq!(a.ticks, [-4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0]);
        let a = nice(0.0, 0.7, 7);
        assert_eq!(a.ticks[3], 0.3, "no float noise");
        assert_eq!(num(a.ticks[3]), "0,3");
        assert_eq!(nice(0.0, 0.0, 5).hi, 1.0, "all zero still has an axis");
        for (lo, hi, t) in [
            (0.0, 1.0, 4),
            (3.0, 977.0, 6),
            (-12.5, 0.0, 3),
            (1e-3, 4e6, 8),
        ] {
            let a = nice(lo, hi, t);
            assert!(a.lo <= lo && a.hi >= hi);
            let step = a.ticks[1] - a.ticks[0];
            let norm = step / 10f64.powf(step.log10().floor());
            assert!(
                [1.0, 2.0, 5.0].iter().any(|m| (norm - m).abs() < 1e-9),
                "{step}"
            );
        }
    }

    #[test]
    fn bars_from_the_sample_table() {
        let mut d = from_table(&PivotTable::sample());
        d.unit = "người".into();
        assert_eq!(d.categories[1], "Tỉnh Quảng Ninh · Dao");
        assert_eq!(d.series[0].name, "Nam");
        let svg = bar(&d);
        let doc = parse(&svg);
        let bars = nodes(&doc, "rect", "bar");
        let expected: Vec<(usize, usize, f64)> = (0..4)
            .flat_map(|r| (0..2).map(move |c| (r, c)))
            .filter_map(|(r, c)| PivotTable::sample().cells[r][c].value.map(|v| (r, c, v)))
            .collect();
        assert_eq!(
            bars.len(),
            7,
            "one rect per figure, none for the missing one"
        );
        assert_eq!(bars.len(), expected.len());
        // Widths in proportion to the values, all from the same zero line.
        let k = attr(&bars[0], "width") / expected[0].2;
        for (b, (r, c, v)) in bars.iter().zip(&expected) {
            assert!(close(attr(b, "width"), v * k), "{r} {c}");
            assert!(close(attr(b, "x"), attr(&bars[0], "x")));
            assert!(has_class(b, &format!("s{c}")));
            assert!(tooltip(b).contains(&d.categories[*r]));
        }
        // Within a group, the second series below the first.
        assert!(attr(&bars[1], "y") > attr(&bars[0], "y"));
        // The estimate: hatched and said so.
        let est = &bars[5];
        assert_eq!(
            tooltip(est),
            "Tỉnh Cao Bằng · Dao, Nam: 60.115 người (ước tính)"
        );
        assert!(
            est.attribute("fill")
                .unwrap()
                .starts_with("url(#dantoc-hatch-")
        );
        assert!(svg.contains(r#"<pattern id="dantoc-hatch-0072B2""#));
        // Vietnamese numbers, the missing figure said, the legend.
        let t = texts(&doc);
        assert!(t.contains(&"215.927,5".to_string()), "{t:?}");
        assert!(t.contains(&"Số ước tính".to_string()));
        assert!(t.contains(&"Nam".to_string()) && t.contains(&"Nữ".to_string()));
        let missing = nodes(&doc, "text", "missing");
        assert_eq!(missing.len(), 1);
        assert_eq!(
            tooltip(&missing[0]),
            "Tỉnh Quảng Ninh · Dao, Nữ: không có số liệu"
        );
        assert!(
            doc.descendants()
                .any(|n| n.text() == Some("Đơn vị tính: người"))
        );
    }

    #[test]
    fn negative_bars_go_left_of_zero() {
        let d = data(
            &["Xã A", "Xã B", "Xã C"],
            &[("Biến động", &[Some(120.0), Some(-45.0), Some(0.0)])],
        );
        let svg = bar(&d);
        let doc = parse(&svg);
        let bars = nodes(&doc, "rect", "bar");
        assert_eq!(bars.len(), 3);
        let zero = attr(&bars[0], "x");
        let k = attr(&bars[0], "width") / 120.0;
        assert!(close(attr(&bars[1], "x") + attr(&bars[1], "width"), zero));
        assert!(close(attr(&bars[1], "width"), 45.0 * k));
        assert!(close(attr(&bars[2], "x"), zero) && attr(&bars[2], "width") == 0.0);
        assert!(texts(&doc).contains(&"-45".to_string()));
    }

    #[test]
    fn lines_break_where_values_are_missing() {
        let v = [
            Some(10.0),
            Some(12.5),
            None,
            Some(9.0),
            Some(11.0),
            Some(14.0),
            None,
            Some(13.0),
        ];
        let periods = [
            "2017", "2018", "2019", "2020", "2021", "2022", "2023", "2024",
        ];
        let mut d = data(&periods, &[("Tày", &v), ("Dao", &[None; 8])]);
        d.series[0].marks = vec![
            Mark::Recorded,
            Mark::Recorded,
            Mark::Recorded,
            Mark::Estimated,
        ];
        let svg = line(&d);
        let doc = parse(&svg);
        let lines = nodes(&doc, "polyline", "line");
        let points: Vec<Vec<(f64, f64)>> = lines
            .iter()
            .map(|l| {
                l.attribute("points")
                    .unwrap()
                    .split(' ')
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect();
        // Runs of 2 and 3; the lone 2024 point has a marker but no line.
        assert_eq!(points.iter().map(Vec::len).collect::<Vec<_>>(), [2, 3]);
        let dots = nodes(&doc, "circle", "point");
        assert_eq!(dots.len(), 6);
        // Periods in order, evenly spaced; heights in proportion to the differences of values.
        let xs: Vec<f64> = dots.iter().map(|c| attr(c, "cx")).collect();
        let dx = (xs[1] - xs[0]) / 1.0;
        assert!(
            close(xs[2] - xs[0], 3.0 * dx),
            "2020 is three steps after 2017"
        );
        assert!(close(xs[5] - xs[0], 7.0 * dx));
        let ys: Vec<f64> = dots.iter().map(|c| attr(c, "cy")).collect();
        let k = (ys[0] - ys[1]) / 2.5;
        assert!(k > 0.0, "up is more");
        assert!(close(ys[0] - ys[4], 4.0 * k));
        assert!(close(points[1][2].1, ys[4]));
        // The estimate is hollow and said so.
        assert_eq!(dots[2].attribute("fill"), Some("#fff"));
        assert!(tooltip(&dots[2]).ends_with("(ước tính)"));
        assert_eq!(tooltip(&dots[0]), "2017, Tày: 10 người");
        assert!(texts(&doc).contains(&"2024".to_string()));
    }

    #[test]
    fn stacked_segments_follow_each_other() {
        let d = data(
            &["Xã Đồng Văn", "Xã Hoành Mô"],
            &[
                ("Kinh", &[Some(300.0), Some(50.0)]),
                ("Tày", &[Some(1200.0), None]),
                ("Dao", &[Some(450.5), Some(900.0)]),
            ],
        );
        let svg = stacked(&d);
        let doc = parse(&svg);
        let segs = nodes(&doc, "rect", "bar");
        assert_eq!(segs.len(), 5);
        let k = attr(&segs[0], "width") / 300.0;
        let expected = [300.0, 1200.0, 450.5, 50.0, 900.0];
        for (s, v) in segs.iter().zip(expected) {
            assert!(close(attr(s, "width"), v * k));
        }
        for (a, b) in [(0, 1), (1, 2), (3, 4)] {
            let end = attr(&segs[a], "x") + attr(&segs[a], "width");
            assert!(close(attr(&segs[b], "x"), end));
            assert_eq!(attr(&segs[a], "y"), attr(&segs[b], "y"));
        }
        assert!(close(attr(&segs[0], "x"), attr(&segs[3], "x")));
        assert_eq!(nodes(&doc, "rect", "swatch").len(), 3, "a legend");
        let totals: Vec<String> = nodes(&doc, "text", "value")
            .iter()
            .map(|n| n.text().unwrap().to_string())
            .collect();
        assert_eq!(totals, ["1.950,5", "950"]);
    }

    #[test]
    fn pyramid_males_left_females_right_young_at_the_bottom() {
        let ages = ["0–4", "5–9", "10–14", "15–19"];
        let d = data(
            &ages,
            &[
                ("Nam", &[Some(500.0), Some(450.0), None, Some(300.0)]),
                ("Nữ", &[Some(480.0), Some(460.0), Some(420.0), Some(310.0)]),
            ],
        );
        let svg = pyramid(&d);
        let doc = parse(&svg);
        let bars = nodes(&doc, "rect", "bar");
        let (m, fm): (Vec<_>, Vec<_>) = bars.iter().partition(|b| has_class(b, "s0"));
        assert_eq!((m.len(), fm.len()), (3, 4));
        let right = |b: &roxmltree::Node| attr(b, "x") + attr(b, "width");
        let edge = right(m[0]);
        assert!(
            m.iter().all(|b| close(right(b), edge)),
            "males end at the middle"
        );
        let start = attr(fm[0], "x");
        assert!(fm.iter().all(|b| close(attr(b, "x"), start)));
        assert!(start > edge, "females to the right of males");
        let k = attr(fm[0], "width") / 480.0;
        assert!(
            close(attr(m[0], "width"), 500.0 * k),
            "one scale both sides"
        );
        assert!(close(attr(m[2], "width"), 300.0 * k));
        // Youngest at the bottom, each group above the one before.
        let ys: Vec<f64> = fm.iter().map(|b| attr(b, "y")).collect();
        assert!(ys.windows(2).all(|w| w[1] < w[0]), "{ys:?}");
        assert_eq!(
            attr(m[2], "y"),
            ys[3],
            "the males' 15–19 beside the females'"
        );
        assert!(tooltip(m[0]).starts_with("0–4, Nam: 500"));
    }

    #[test]
    fn user_text_is_escaped() {
        let evil = r#"<script>alert(1)</script> & "x" 'y'"#;
        let mut d = data(
            &[evil, "B"],
            &[(evil, &[Some(1.0), Some(2.0)]), ("b", &[Some(3.0), None])],
        );
        d.title = evil.into();
        d.unit = evil.into();
        d.source = evil.into();
        for svg in [
            bar(&d),
            stacked(&d),
            line(&d),
            pyramid(&d),
            bar(&ChartData {
                series: vec![],
                ..d.clone()
            }),
        ] {
            let doc = parse(&svg);
            let title = doc.root_element().first_element_child().unwrap();
            assert!(title.has_tag_name("title"));
            assert_eq!(title.text(), Some(evil));
            assert_eq!(doc.root_element().attribute("aria-label"), Some(evil));
        }
        let svg = bar(&d);
        let doc = parse(&svg);
        let bars = nodes(&doc, "rect", "bar");
        assert!(tooltip(&bars[0]).starts_with(&format!("{evil}, {evil}: 1 ")));
        // Short enough to be shown whole somewhere, as text.
        assert!(doc.descendants().any(|n| n.text() == Some(evil)));
        // Control characters XML does not allow are dropped, not passed on.
        let mut d2 = d.clone();
        d2.title = "a\u{1}b\u{7}c".into();
        let svg = bar(&d2);
        assert_eq!(
            parse(&svg).root_element().attribute("aria-label"),
            Some("abc")
        );
    }

    #[test]
    fn no_figures_no_chart() {
        let none = data(
            &["A", "B"],
            &[("x", &[None, None]), ("y", &[None, Some(f64::NAN)])],
        );
        let no_categories = data(&[], &[("x", &[])]);
        let no_series = data(&["A"], &[]);
        for d in [none, no_categories, no_series] {
            for svg in [bar(&d), line(&d), stacked(&d), pyramid(&d)] {
                let doc = parse(&svg);
                assert!(nodes(&doc, "rect", "bar").is_empty());
                assert!(nodes(&doc, "circle", "point").is_empty());
                let empty = nodes(&doc, "text", "empty");
                assert_eq!(empty.len(), 1);
                assert_eq!(empty[0].text(), Some("Không có số liệu"));
            }
        }
    }

    #[test]
    fn blank_names_and_one_value() {
        let mut d = data(
            &["", " "],
            &[("", &[Some(-2.0), None]), (" ", &[None, Some(0.0)])],
        );
        d.title = String::new();
        d.unit = String::new();
        d.source = String::new();
        for svg in [bar(&d), line(&d), stacked(&d), pyramid(&d)] {
            let doc = parse(&svg);
            let marks = nodes(&doc, "rect", "bar").len() + nodes(&doc, "circle", "point").len();
            assert_eq!(marks, 2);
        }
        let one = data(&["2024"], &[("x", &[Some(7.0)])]);
        let svg = line(&one);
        let doc = parse(&svg);
        assert!(nodes(&doc, "polyline", "line").is_empty());
        assert_eq!(nodes(&doc, "circle", "point").len(), 1);
    }

    #[test]
    fn long_labels_are_wrapped_then_cut() {
        let (lines, cut) = wrap("Huyện Bình Liêu", 500.0, LABEL, 2);
        assert_eq!((lines, cut), (vec!["Huyện Bình Liêu".to_string()], false));
        let long = "Xã Đồng Văn thuộc huyện Bình Liêu tỉnh Quảng Ninh trước khi sắp xếp năm 2025";
        let (lines, cut) = wrap(long, 150.0, LABEL, 2);
        assert!(cut);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
        assert!(lines.iter().all(|l| text_w(l, LABEL) <= 150.0));
        let (lines, _) = wrap(&"x".repeat(60), 100.0, LABEL, 9);
        assert!(lines.len() > 1 && lines.iter().all(|l| text_w(l, LABEL) <= 100.0));
        // The cut label keeps its full text as a tooltip.
        let d = data(&[long], &[("Số hộ", &[Some(12.0)])]);
        let svg = bar(&d);
        let doc = parse(&svg);
        assert!(
            doc.descendants()
                .any(|n| n.has_tag_name("title") && n.text() == Some(long))
        );
    }

    /// One example of each kind in `target/chart-examples/`, to look at.
    #[test]
    fn write_examples() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/chart-examples");
        std::fs::create_dir_all(&dir).unwrap();
        let mut grouped = from_table(&PivotTable::sample());
        grouped.unit = "người".into();
        grouped.series[1].marks[0] = Mark::Mapped;

        let years: Vec<String> = (2015..=2024).map(|y| y.to_string()).collect();
        let series = |name: &str, base: f64, g: f64, gaps: &[usize]| Series {
            name: name.into(),
            values: (0..10)
                .map(|i| (!gaps.contains(&i)).then(|| (base * (1.0 + g).powi(i as i32)).round()))
                .collect(),
            marks: (0..10)
                .map(|i| {
                    if i == 9 {
                        Mark::Estimated
                    } else {
                        Mark::Recorded
                    }
                })
                .collect(),
        };
        let over_time = ChartData {
            title: "Dân số một số dân tộc thiểu số, tỉnh Quảng Ninh, 2015–2024".into(),
            unit: "người".into(),
            source: "Nguồn: dantoc (số liệu mẫu); năm 2019 không điều tra".into(),
            categories: years,
            series: vec![
                series("Tày", 41_000.0, 0.012, &[4]),
                series("Dao", 68_000.0, 0.018, &[4]),
                series("Sán Chay (Cao Lan – Sán Chỉ)", 18_500.0, 0.009, &[4, 5]),
                series("Sán Dìu", 21_000.0, 0.011, &[]),
            ],
        };

        let communes = [
            "Xã Đồng Văn (huyện Bình Liêu)",
            "Xã Hoành Mô",
            "Thị trấn Bình Liêu",
            "Xã Đồng Tâm",
            "Xã Lục Hồn, huyện Bình Liêu cũ, nay thuộc xã Lục Hồn mới",
        ];
        let by_group = ChartData {
            title: "Dân số theo dân tộc, các xã huyện Bình Liêu, năm 2024".into(),
            unit: "người".into(),
            source: "Nguồn: dantoc (số liệu mẫu)".into(),
            categories: communes.iter().map(|s| s.to_string()).collect(),
            series: vec![
                Series::new(
                    "Tày",
                    vec![
                        Some(2100.0),
                        Some(1500.0),
                        Some(3400.0),
                        Some(900.0),
                        Some(2500.0),
                    ],
                ),
                Series::new(
                    "Dao",
                    vec![
                        Some(1800.0),
                        Some(2600.0),
                        Some(700.0),
                        Some(2200.0),
                        Some(1900.0),
                    ],
                ),
                Series::new(
                    "Sán Chay",
                    vec![Some(600.0), None, Some(300.0), Some(1100.0), Some(400.0)],
                ),
                Series::new(
                    "Kinh",
                    vec![
                        Some(250.0),
                        Some(180.0),
                        Some(2900.0),
                        Some(120.0),
                        Some(310.0),
                    ],
                ),
                Series::new(
                    "Dân tộc khác",
                    vec![Some(40.0), Some(25.0), Some(160.0), Some(15.0), Some(30.0)],
                ),
            ],
        };

        let ages: Vec<String> = (0..16)
            .map(|i| format!("{}–{}", i * 5, i * 5 + 4))
            .chain(["80+".to_string()])
            .collect();
        let m: Vec<Option<f64>> = (0..17)
            .map(|i| Some((9200.0 * (1.0 - i as f64 / 19.0)).round()))
            .collect();
        let fm: Vec<Option<f64>> = (0..17)
            .map(|i| Some((8800.0 * (1.0 - i as f64 / 21.0)).round()))
            .collect();
        let age_sex = ChartData {
            title: "Tháp dân số dân tộc Tày theo giới tính và nhóm tuổi, năm 2024".into(),
            unit: "người".into(),
            source: "Nguồn: dantoc (số liệu mẫu)".into(),
            categories: ages,
            series: vec![Series::new("Nam", m), Series::new("Nữ", fm)],
        };
        let change = data(
            &["Tỉnh Quảng Ninh", "Tỉnh Cao Bằng", "Tỉnh Lạng Sơn"],
            &[
                ("2023", &[Some(1250.0), Some(-830.5), Some(12.31)]),
                ("2024", &[Some(-300.0), Some(410.0), None]),
            ],
        );
        let months: Vec<String> = (0..30)
            .map(|i| format!("Tháng {}/{}", i % 12 + 1, 2023 + i / 12))
            .collect();
        let monthly = ChartData {
            title: "Số hộ nghèo được hỗ trợ theo tháng".into(),
            unit: "hộ".into(),
            source: String::new(),
            series: vec![Series::new(
                "Hộ nghèo",
                (0..30)
                    .map(|i: i32| (i != 7).then_some((120 + (i * 37) % 50 - i) as f64))
                    .collect(),
            )],
            categories: months,
        };
        for (name, svg) in [
            ("line-monthly", line(&monthly)),
            ("bar", bar(&grouped)),
            ("bar-negative", bar(&change)),
            ("line", line(&over_time)),
            ("stacked", stacked(&by_group)),
            ("pyramid", pyramid(&age_sex)),
            ("empty", bar(&data(&["A"], &[("x", &[None])]))),
        ] {
            parse(&svg);
            std::fs::write(dir.join(format!("{name}.svg")), svg).unwrap();
        }
    }
}

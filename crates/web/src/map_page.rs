//! The map page (`/ban-do`, issue #6) and the boundaries it asks for as the reader zooms in
//! (`/api/maps/boundaries.json`).
//!
//! The server draws the map: the units under the chosen one (the provinces for `VN`, a
//! province's communes, a commune itself) as SVG paths in Web Mercator (so that the optional
//! OpenStreetMap background lines up), the villages as points coloured by mobile coverage, the
//! figures of one indicator for every period that has them, classed once over all periods so
//! that colours compare across time. Everything the page does after loading — pan and zoom,
//! layers on and off, the time slider, a unit's figures — works from what it holds, offline;
//! only finer boundaries when zoomed in, a unit's chart and the background need the network.
//! Without script the form does the same by reloading. The script is `static/map.js`.

use crate::api::analytics::today;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::i18n::{Lang, number};
use crate::pages::{Ctx, render_page};
use crate::params::Params;
use crate::state::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use dantoc_domain::admin::{AdminUnit, HierarchyVersion, UnitKind};
use dantoc_domain::analytics::{DimId, Request};
use dantoc_domain::geo::Bbox;
use dantoc_domain::period::Period;
use dantoc_report::classes::Breaks;
use dantoc_report::map::{MapUnit, Palette, class_label, legend_classes};
use dantoc_report::webmap::{self, Frame};
use dantoc_store::gis;
use dantoc_store::{Conn, StoreError, units};
use serde_json::json;
use std::collections::HashMap;

/// The unit shown when none is asked: the first demo province.
const DEFAULT_UNIT: &str = dantoc_store::demo::PROVINCES[0];
const DEFAULT_INDICATOR: &str = "0101";
/// The indicator the villages are coloured by: villages without mobile coverage (1 for a
/// village without, 0 for one with).
const COVERAGE: &str = "x-thon-noms";
/// Periods on the time slider, at most.
const MAX_PERIODS: usize = 12;
/// Villages drawn, at most (a province has a few thousand).
const MAX_VILLAGES: usize = 6_000;
/// Units per pivot request.
const PIVOT_UNITS: usize = 1_000;
/// Distance between villages placed at the same commune centroid, in frame pixels.
const SPREAD_PX: f64 = 10.0;

/// Where the boundaries come from, as their licences ask to say (crates/store/seed/SOURCES.md).
pub const BOUNDARY_SOURCES_2025: &str = "Ranh giới hành chính từ 01/07/2025: dẫn xuất từ Bản đồ đơn vị hành chính Việt Nam (sapnhap.bando.com.vn, Nhà xuất bản Tài nguyên – Môi trường và Bản đồ Việt Nam) qua bộ dữ liệu vietnamese-provinces-database, © 2021 Thang Le Quoc, giấy phép MIT.";
pub const BOUNDARY_SOURCES_2024: &str = "Ranh giới tỉnh trước 01/07/2025: © Open Development Vietnam / Open Development Mekong, giấy phép CC BY-SA 4.0.";

/// The Content-Security-Policy of the map page: the site's, with OpenStreetMap's tiles allowed
/// as images (the background layer, off until the reader turns it on).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https://tile.openstreetmap.org; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Layers shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers {
    pub lines: bool,
    pub fill: bool,
    pub villages: bool,
    pub osm: bool,
}

impl Layers {
    /// From `lop=` (repeated: `ranh-gioi`, `so-lieu`, `thon`, `nen`; the form adds `lop=_` so
    /// that no box ticked means none): boundaries, figures and villages by default.
    fn parse(p: &Params) -> Layers {
        let asked = p.all("lop");
        if asked.is_empty() {
            return Layers {
                lines: true,
                fill: true,
                villages: true,
                osm: false,
            };
        }
        let on = |k: &str| asked.iter().any(|a| a == k);
        Layers {
            lines: on("ranh-gioi"),
            fill: on("so-lieu"),
            villages: on("thon"),
            osm: on("nen"),
        }
    }

    /// Classes of the map's box: which layers are off, and the background on.
    pub fn classes(&self) -> String {
        let mut c = vec!["map"];
        if !self.lines {
            c.push("no-lines");
        }
        if !self.fill {
            c.push("no-fill");
        }
        if !self.villages {
            c.push("no-villages");
        }
        if self.osm {
            c.push("osm");
        }
        c.join(" ")
    }
}

/// What the page asks for.
struct Ask {
    ou: String,
    v: HierarchyVersion,
    indicator: String,
    method: Breaks,
    layers: Layers,
    /// Period by its code (`ky=2024`) or its place on the slider (`t=3`, the form's).
    period: Option<String>,
    step: Option<usize>,
}

fn ask(p: &Params) -> ApiResult<Ask> {
    let method = match p.get("pp").unwrap_or("jenks") {
        "jenks" => Breaks::Jenks,
        "quantile" => Breaks::Quantile,
        "equal" => Breaks::EqualInterval,
        other => {
            return Err(ApiError::bad_value(
                "pp",
                other,
                "expected jenks, quantile or equal",
            ));
        }
    };
    let ou = dantoc_domain::text::clean(p.get("ou").unwrap_or(DEFAULT_UNIT));
    let ou = if ou.is_empty() {
        DEFAULT_UNIT.to_string()
    } else if ou.eq_ignore_ascii_case("vn") {
        "VN".to_string()
    } else {
        ou
    };
    let step = match p.get("t") {
        None | Some("") => None,
        Some(t) => Some(t.parse::<usize>().map_err(|_| {
            ApiError::bad_value(
                "t",
                t,
                "expected the place of a period on the slider (0, 1, …)",
            )
        })?),
    };
    Ok(Ask {
        ou,
        v: p.parsed::<HierarchyVersion>("v")?
            .unwrap_or(HierarchyVersion::CURRENT),
        indicator: p.get("ct").unwrap_or(DEFAULT_INDICATOR).trim().to_string(),
        method,
        layers: Layers::parse(p),
        period: p.get("ky").map(str::to_string),
        step,
    })
}

/// The unit of the map and the units drawn.
struct Place {
    /// `None`: the whole country.
    unit: Option<AdminUnit>,
    ancestors: Vec<AdminUnit>,
    /// Drawn: its children with boundaries (or the unit itself), with their shapes.
    drawn: Vec<MapUnit>,
    /// Whether `drawn` is the unit itself (a commune, or a unit whose children have none).
    itself: bool,
}

fn place(c: &mut dyn Conn, ou: &str, v: HierarchyVersion) -> Result<Place, StoreError> {
    let (unit, ancestors, children) = if ou == "VN" {
        (None, vec![], units::provinces(c, v)?)
    } else {
        let unit = units::require(c, v, ou)?;
        let ancestors = units::ancestors(c, v, ou)?;
        let children: Vec<AdminUnit> = units::children(c, v, ou)?
            .into_iter()
            .filter(|u| u.kind != UnitKind::Village)
            .collect();
        (Some(unit), ancestors, children)
    };
    let codes: Vec<String> = children.iter().map(|u| u.code.clone()).collect();
    let shapes = dantoc_store::maps::shapes(c, v, &codes)?;
    let mut drawn: Vec<MapUnit> = shapes
        .into_iter()
        .filter_map(|s| {
            s.shape.map(|g| MapUnit {
                code: s.code,
                name: s.name,
                geometry: g,
                value: None,
                estimated: false,
            })
        })
        .collect();
    let mut itself = false;
    if drawn.is_empty()
        && let Some(u) = &unit
    {
        itself = true;
        drawn = dantoc_store::maps::shapes(c, v, std::slice::from_ref(&u.code))?
            .into_iter()
            .filter_map(|s| {
                s.shape.map(|g| MapUnit {
                    code: s.code,
                    name: s.name,
                    geometry: g,
                    value: None,
                    estimated: false,
                })
            })
            .collect();
    }
    Ok(Place {
        unit,
        ancestors,
        drawn,
        itself,
    })
}

/// Figures of one indicator for units and periods: unit code → per period (value, estimate).
type Figures = HashMap<String, Vec<Option<(f64, bool)>>>;

/// The figures of the units a pivot's `ou` items name: codes, or a code and `LEVEL-n` (the
/// units under it at that level — one lookup, where a list of hundreds of codes costs
/// PostgreSQL tens of milliseconds to plan).
fn figures(
    c: &mut dyn Conn,
    indicator: &str,
    codes: &[String],
    periods: &[String],
    v: HierarchyVersion,
    visible: Option<&[i64]>,
) -> Result<Figures, StoreError> {
    let mut out: Figures = HashMap::new();
    if codes.is_empty() || periods.is_empty() {
        return Ok(out);
    }
    for chunk in codes.chunks(PIVOT_UNITS) {
        let req = Request::parse(
            &[
                format!("dx:{indicator}"),
                format!("ou:{}", chunk.join(";")),
                format!("pe:{}", periods.join(";")),
            ],
            &[],
            None,
            None,
            Some(v.as_str()),
        )
        .map_err(StoreError::Invalid)?;
        let comp = dantoc_store::analytics::pivot(c, &req, today(), visible)?;
        let (Some(ou), Some(pe)) = (comp.dim(DimId::Ou), comp.dim(DimId::Pe)) else {
            continue;
        };
        let at: HashMap<&str, usize> = periods
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), i))
            .collect();
        for (key, cell) in &comp.cells {
            let Some(value) = cell.value.filter(|v| v.is_finite()) else {
                continue;
            };
            let unit = &ou.items[key[DimId::Ou.index()] as usize].code;
            let period = &pe.items[key[DimId::Pe.index()] as usize].code;
            if let Some(&i) = at.get(period.as_str()) {
                out.entry(unit.clone())
                    .or_insert_with(|| vec![None; periods.len()])[i] =
                    Some((value, cell.estimated));
            }
        }
    }
    Ok(out)
}

/// One unit drawn.
pub struct UnitView {
    pub code: String,
    pub name: String,
    pub d: String,
    /// Class per period (`-`: no figure), space-separated.
    pub classes: String,
    /// Figure per period as written, `|`-separated (empty: none).
    pub values: String,
    /// Estimate per period (`1`/`0`), space-separated.
    pub estimates: String,
    /// Fill at the period shown.
    pub fill: String,
    pub title: String,
    /// Link to the map of the units below it.
    pub map_href: Option<String>,
    pub unit_href: String,
    /// The figures per period for the table.
    pub cells: Vec<String>,
}

/// One village drawn.
pub struct VillageView {
    pub code: String,
    pub parent: String,
    pub x: String,
    pub y: String,
    /// Placed at its commune's centroid for want of coordinates.
    pub approx: bool,
    /// Coverage per period: `1` no signal, `0` signal, `-` unknown; space-separated.
    pub states: String,
    /// The class at the period shown (`v1`, `v0`, `vn`).
    pub class: &'static str,
    /// "Name (commune): coverage" (the script rewrites what follows the last ": ").
    pub title: String,
}

/// What a village's state says (`1`, `0`, `-`), as the script writes it too.
fn coverage_text(state: &str) -> &'static str {
    match state {
        "1" => "chưa có sóng di động",
        "0" => "có sóng di động",
        _ => "chưa có số liệu",
    }
}

pub struct LegendItem {
    pub color: &'static str,
    pub label: String,
    /// Units in the class per period, space-separated.
    pub counts: String,
    pub count: usize,
}

#[derive(Template)]
#[template(path = "map.html")]
pub struct MapPage {
    pub c: Ctx,
    pub d: MapData,
}

/// What the map page shows.
pub struct MapData {
    pub title: String,
    pub ou: String,
    pub version: &'static str,
    pub crumbs: Vec<(String, String)>,
    pub indicator: String,
    pub indicator_name: String,
    pub uom: String,
    pub indicators: Vec<(String, String)>,
    pub method: &'static str,
    pub periods: Vec<(String, String)>,
    pub step: usize,
    pub frame: Frame,
    pub units: Vec<UnitView>,
    pub villages: Vec<VillageView>,
    pub village_note: String,
    pub legend: Vec<LegendItem>,
    pub nodata_counts: String,
    pub nodata: usize,
    pub estimates: bool,
    pub colors: String,
    pub layers: Layers,
    pub sources: Vec<&'static str>,
    /// Download of the boundaries drawn, when one file holds them.
    pub geojson: Option<String>,
}

impl MapData {
    fn period_label(&self) -> String {
        self.periods
            .get(self.step)
            .map(|p| p.1.clone())
            .unwrap_or_default()
    }
    fn periods_codes(&self) -> String {
        self.periods
            .iter()
            .map(|p| p.0.as_str())
            .collect::<Vec<_>>()
            .join(";")
    }
    fn periods_labels(&self) -> String {
        self.periods
            .iter()
            .map(|p| p.1.as_str())
            .collect::<Vec<_>>()
            .join("|")
    }
    fn last_step(&self) -> usize {
        self.periods.len().saturating_sub(1)
    }
    fn x0(&self) -> String {
        format!("{}", self.frame.x0)
    }
    fn y0(&self) -> String {
        format!("{}", self.frame.y0)
    }
    fn width(&self) -> String {
        format!("{}", self.frame.width)
    }
    fn height(&self) -> String {
        format!("{}", self.frame.height)
    }
}

fn label_of(p: &str) -> String {
    p.parse::<Period>()
        .map(|p| p.label_vi())
        .unwrap_or_else(|_| p.to_string())
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `GET /ban-do?ou=22&ct=0101&ky=2024&lop=ranh-gioi&lop=so-lieu&lop=thon&pp=jenks&v=2025`.
pub async fn page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::parse(q.as_deref());
    let a = match ask(&p) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let path = match q.as_deref() {
        Some(q) if !q.is_empty() => format!("/ban-do?{q}"),
        _ => "/ban-do".to_string(),
    };
    let c = Ctx::new(&headers, q.as_deref(), path).with(&who);
    let lang = c.lang;
    let visible = who.visible();
    let built = s
        .read(move |conn| build(conn, a, visible.as_deref(), lang))
        .await;
    match built {
        Ok(d) => {
            let mut r = render_page(MapPage { c, d }, lang, StatusCode::OK);
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            // OpenStreetMap's tile usage policy asks for a referrer: the origin only, elsewhere
            r.headers_mut().insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("strict-origin-when-cross-origin"),
            );
            r
        }
        Err(ApiError::NotFound(m)) if m.contains("administrative unit") => {
            crate::pages::not_found_page(c)
        }
        Err(e) => e.into_response(),
    }
}

fn build(
    conn: &mut dyn Conn,
    a: Ask,
    visible: Option<&[i64]>,
    lang: Lang,
) -> Result<MapData, StoreError> {
    let list = dantoc_store::indicators::list(conn)?;
    let Some(ind) = list
        .iter()
        .map(|(_, i)| i)
        .find(|i| i.code == a.indicator)
        .cloned()
    else {
        return Err(StoreError::invalid(
            dantoc_domain::FieldError::new("ct", "no indicator with this code (see /chi-tieu)")
                .value(&a.indicator),
        ));
    };
    let place = place(conn, &a.ou, a.v)?;
    let codes: Vec<String> = place.drawn.iter().map(|u| u.code.clone()).collect();

    // the periods with figures the reader may see, oldest first
    let candidates = dantoc_store::maps::periods(conn, &ind.code, MAX_PERIODS)?;
    let items: Vec<String> = match &place.unit {
        _ if place.drawn.is_empty() => vec![],
        None => vec!["VN".into(), "LEVEL-1".into()],
        Some(u) if place.itself => vec![u.code.clone()],
        Some(u) => vec![u.code.clone(), format!("LEVEL-{}", u.level + 1)],
    };
    let all = figures(conn, &ind.code, &items, &candidates, a.v, visible)?;
    let keep: Vec<usize> = (0..candidates.len())
        .filter(|&i| all.values().any(|v| v[i].is_some()))
        .collect();
    let periods: Vec<String> = keep.iter().map(|&i| candidates[i].clone()).collect();
    let figs: Figures = all
        .into_iter()
        .map(|(k, v)| (k, keep.iter().map(|&i| v[i]).collect()))
        .collect();
    let step = a
        .step
        .filter(|&t| t < periods.len())
        .or_else(|| {
            a.period
                .as_ref()
                .and_then(|k| periods.iter().position(|p| p == k))
        })
        .unwrap_or(periods.len().saturating_sub(1));

    // classes over every period, so that a colour means the same on every step
    let pooled: Vec<f64> = figs.values().flatten().flatten().map(|(v, _)| *v).collect();
    let (classes, decimals) = legend_classes(&pooled, a.method, 5);
    let colors = Palette::YlOrRd.colors(classes.len());
    let class_of = |v: f64| classes.class_of(v);

    let frame = Frame::of_units(&place.drawn).unwrap_or(Frame {
        zoom: 0,
        x0: 0.0,
        y0: 0.0,
        width: 256.0,
        height: 256.0,
    });
    let paths = webmap::paths(&place.drawn, &frame, 1);
    let uom = ind.unit.clone();
    let n_periods = periods.len();
    let mut counts = vec![vec![0usize; n_periods]; classes.len()];
    let mut nodata = vec![0usize; n_periods];
    let mut any_estimate = false;
    let fig_text = |v: f64| {
        let p = if v.abs() >= 1.0 { 100.0 } else { 10_000.0 };
        number((v * p).round() / p, lang)
    };
    let units_v: Vec<UnitView> = place
        .drawn
        .iter()
        .zip(paths)
        .map(|(u, d)| {
            let per: Vec<Option<(f64, bool)>> = figs
                .get(&u.code)
                .cloned()
                .unwrap_or_else(|| vec![None; n_periods]);
            let mut cls = vec![];
            let mut vals = vec![];
            let mut ests = vec![];
            for (i, f) in per.iter().enumerate() {
                match f.and_then(|(v, e)| class_of(v).map(|c| (v, e, c))) {
                    Some((v, e, c)) => {
                        counts[c][i] += 1;
                        any_estimate |= e;
                        cls.push(c.to_string());
                        vals.push(fig_text(v));
                        ests.push(if e { "1" } else { "0" });
                    }
                    None => {
                        nodata[i] += 1;
                        cls.push("-".into());
                        vals.push(String::new());
                        ests.push("0");
                    }
                }
            }
            let now = per.get(step).copied().flatten();
            let fill = now
                .and_then(|(v, _)| class_of(v))
                .map(|c| colors[c].to_string())
                .unwrap_or_else(|| "url(#map-nodata)".into());
            let title = match now {
                Some((v, e)) => {
                    let mut t = format!("{}: {}", u.name, fig_text(v));
                    if !uom.is_empty() {
                        t.push(' ');
                        t.push_str(&uom);
                    }
                    if e {
                        t.push_str(" (ước tính)");
                    }
                    t
                }
                None => format!("{}: không có số liệu", u.name),
            };
            let v_param = match a.v {
                HierarchyVersion::CURRENT => String::new(),
                v => format!("&v={}", v.as_str()),
            };
            UnitView {
                code: u.code.clone(),
                name: u.name.clone(),
                d,
                classes: cls.join(" "),
                cells: vals.clone(),
                values: vals.join("|"),
                estimates: ests.join(" "),
                fill,
                title,
                map_href: (!place.itself)
                    .then(|| format!("/ban-do?ou={}&ct={}{v_param}", enc(&u.code), enc(&ind.code))),
                unit_href: match a.v {
                    HierarchyVersion::CURRENT => format!("/don-vi/{}", enc(&u.code)),
                    v => format!("/don-vi/{}?v={}", enc(&u.code), v.as_str()),
                },
            }
        })
        .collect();

    // villages, coloured by mobile coverage at each period
    let (villages, village_note) = if place.unit.is_none() {
        (
            vec![],
            "Chọn một tỉnh hoặc một xã để xem các thôn, bản.".to_string(),
        )
    } else {
        let list = match gis::villages_in(conn, a.v, &a.ou) {
            Ok(l) => l,
            Err(StoreError::NotFound(_)) => vec![],
            Err(e) => return Err(e),
        };
        if list.is_empty() {
            (
                vec![],
                "Chưa có thôn, bản nào có vị trí trong đơn vị này.".to_string(),
            )
        } else if list.len() > MAX_VILLAGES {
            (
                vec![],
                format!(
                    "{} thôn, bản: quá nhiều để vẽ cùng lúc, hãy chọn một xã.",
                    number(list.len() as f64, lang)
                ),
            )
        } else {
            let items = vec![a.ou.clone(), format!("LEVEL-{}", list[0].level)];
            let cover = figures(conn, COVERAGE, &items, &periods, a.v, visible)?;
            let names: HashMap<&str, &str> = place
                .drawn
                .iter()
                .map(|u| (u.code.as_str(), u.name.as_str()))
                .collect();
            let at = webmap::place_points(
                &list
                    .iter()
                    .map(|f| (f.lon, f.lat, f.geocoded.unwrap_or(false)))
                    .collect::<Vec<_>>(),
                &frame,
                SPREAD_PX,
            );
            let mut uncovered_now = 0;
            let mut views: Vec<VillageView> = list
                .iter()
                .zip(at)
                .map(|(f, p)| {
                    let per = cover.get(&f.code);
                    let states: Vec<&str> = (0..n_periods)
                        .map(|i| match per.and_then(|v| v[i]) {
                            Some((v, _)) if v > 0.0 => "1",
                            Some(_) => "0",
                            None => "-",
                        })
                        .collect();
                    let now = states.get(step).copied().unwrap_or("-");
                    if now == "1" {
                        uncovered_now += 1;
                    }
                    let parent = f.parent_code.clone().unwrap_or_default();
                    let commune = names
                        .get(parent.as_str())
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default();
                    VillageView {
                        code: f.code.clone(),
                        parent,
                        x: format!("{:.1}", p.x),
                        y: format!("{:.1}", p.y),
                        approx: f.geocoded.unwrap_or(false),
                        states: states.join(" "),
                        class: match now {
                            "1" => "v1",
                            "0" => "v0",
                            _ => "vn",
                        },
                        title: format!("{}{commune}: {}", f.full_name, coverage_text(now)),
                    }
                })
                .collect();
            // those without coverage drawn last, on top
            views.sort_by_key(|v| v.class == "v1");
            let note = format!(
                "{} thôn, bản; {} chưa có sóng di động ({}).",
                number(views.len() as f64, lang),
                number(uncovered_now as f64, lang),
                periods
                    .get(step)
                    .map(|p| label_of(p))
                    .unwrap_or_else(|| "không có kỳ số liệu".into())
            );
            (views, note)
        }
    };

    let legend: Vec<LegendItem> = (0..classes.len())
        .map(|i| LegendItem {
            color: colors[i],
            label: class_label(&classes, i, decimals),
            counts: counts[i]
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            count: counts[i].get(step).copied().unwrap_or(0),
        })
        .collect();
    let (title, crumbs) = match &place.unit {
        None => ("Việt Nam".to_string(), vec![]),
        Some(u) => {
            let mut crumbs = vec![("/ban-do?ou=VN".to_string(), "Việt Nam".to_string())];
            for an in &place.ancestors {
                crumbs.push((
                    format!("/ban-do?ou={}", enc(&an.code)),
                    an.full_name.clone(),
                ));
            }
            (u.full_name.clone(), crumbs)
        }
    };
    let mut sources = vec![BOUNDARY_SOURCES_2025];
    if a.v == HierarchyVersion::V2024 {
        sources = vec![BOUNDARY_SOURCES_2024];
    }
    let nodata_now = nodata.get(step).copied().unwrap_or(codes.len());
    let geojson = match &place.unit {
        None => Some(format!("/api/units.geojson?version={}", a.v.as_str())),
        Some(u) if u.kind == UnitKind::Province && !place.itself => Some(format!(
            "/api/units.geojson?version={}&kind=commune&province={}",
            a.v.as_str(),
            enc(&u.code)
        )),
        _ => None,
    };
    Ok(MapData {
        title,
        ou: a.ou.clone(),
        version: a.v.as_str(),
        crumbs,
        indicator: ind.code.clone(),
        indicator_name: ind.name_vi.clone(),
        uom,
        indicators: list
            .iter()
            .map(|(_, i)| (i.code.clone(), i.name_vi.clone()))
            .collect(),
        method: match a.method {
            Breaks::Jenks => "jenks",
            Breaks::Quantile => "quantile",
            Breaks::EqualInterval => "equal",
        },
        periods: periods.iter().map(|p| (p.clone(), label_of(p))).collect(),
        step,
        frame,
        units: units_v,
        villages,
        village_note,
        legend,
        nodata_counts: if n_periods == 0 {
            codes.len().to_string()
        } else {
            nodata
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        },
        nodata: nodata_now,
        estimates: any_estimate,
        colors: colors.join(" "),
        layers: a.layers,
        sources,
        geojson,
    })
}

/// `GET /api/maps/boundaries.json?ou=22&v=2025&detail=4&bbox=…`: the boundaries of the units
/// the map page of `ou` draws, at a finer level of detail (4 or 16 times the page's), in the
/// page's frame — those meeting `bbox` (lon/lat) only, when given.
pub async fn boundaries(State(s): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let ou = p
        .get("ou")
        .map(dantoc_domain::text::clean)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ApiError::bad("ou", "the unit of the map, e.g. ou=22 or ou=VN"))?;
    let ou = if ou.eq_ignore_ascii_case("vn") {
        "VN".to_string()
    } else {
        ou
    };
    let v = p
        .parsed::<HierarchyVersion>("v")?
        .unwrap_or(HierarchyVersion::CURRENT);
    let detail = match p.get("detail").unwrap_or("4") {
        "1" => 1,
        "4" => 4,
        "16" => 16,
        other => {
            return Err(ApiError::bad_value(
                "detail",
                other,
                "expected 1, 4 or 16 (times the page's)",
            ));
        }
    };
    let bbox = match p.get("bbox") {
        None => None,
        Some(b) => Some(Bbox::parse(b).map_err(|e| ApiError::bad_value("bbox", b, e))?),
    };
    let out = s
        .read(move |c| {
            let place = place(c, &ou, v)?;
            let frame = Frame::of_units(&place.drawn);
            let chosen: Vec<MapUnit> = place
                .drawn
                .into_iter()
                .filter(|u| bbox.as_ref().is_none_or(|b| b.meets(&u.geometry)))
                .collect();
            let paths = frame
                .map(|f| webmap::paths(&chosen, &f, detail))
                .unwrap_or_default();
            Ok((frame, chosen, paths))
        })
        .await?;
    let (frame, chosen, paths) = out;
    let mut map = serde_json::Map::new();
    for (u, d) in chosen.iter().zip(paths) {
        map.insert(u.code.clone(), d.into());
    }
    Ok(Json(json!({
        "detail": detail,
        "quantum": webmap::quantum(detail),
        "frame": frame.map(|f| json!({"zoom": f.zoom, "x0": f.x0, "y0": f.y0, "width": f.width, "height": f.height})),
        "paths": map,
    }))
    .into_response())
}

/// `GET /static/map.js`: pan and zoom, layers, the time slider, a unit's figures.
pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/map.js"),
    )
}

//! Analytics pages: the pivot table (`/phan-tich`), targets (`/muc-tieu`), saved report tables
//! (`/bao-cao`) and the leaders' dashboard (`/bang-dieu-khien`). Server-rendered; sorting and
//! paging are links, so they work without script on a slow phone.

use crate::api::analytics::{request, run, table};
use crate::auth::Principal;
use crate::i18n::{Lang, number};
use crate::pages::{Ctx, render_page};
use crate::params::Params;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dantoc_domain::admin::HierarchyVersion;
use dantoc_domain::analytics::targets::Progress;
use dantoc_domain::analytics::{Cell, PivotTable};
use dantoc_domain::indicator::Indicator;
use dantoc_store::report_tables::ReportTable;
use dantoc_store::targets::Target;
use std::borrow::Borrow;

/// A number however a template hands it over (`f64`, `Option<f64>`, by reference or not).
trait Num {
    fn get(&self) -> Option<f64>;
}
impl Num for f64 {
    fn get(&self) -> Option<f64> {
        Some(*self)
    }
}
impl Num for Option<f64> {
    fn get(&self) -> Option<f64> {
        *self
    }
}
impl<T: Num + ?Sized> Num for &T {
    fn get(&self) -> Option<f64> {
        (**self).get()
    }
}
impl<T: Num> Num for Option<&T> {
    fn get(&self) -> Option<f64> {
        self.and_then(|v| v.get())
    }
}

/// What the pages showing target progress write: figures and the meter's percentage.
trait ProgressView {
    fn lang(&self) -> Lang;
    fn n(&self, v: impl Num) -> String {
        fmt1(v.get(), self.lang())
    }
    fn bar(&self, p: &Progress) -> u32 {
        p.achieved_pct
            .map(|x| x.clamp(0.0, 100.0) as u32)
            .unwrap_or(0)
    }
}

/// A figure with one decimal, or a dash.
fn fmt1(v: Option<f64>, lang: Lang) -> String {
    v.map(|v| number((v * 10.0).round() / 10.0, lang))
        .unwrap_or_else(|| "—".into())
}

/// Rows of a pivot page.
const PAGE_ROWS: usize = 200;

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The pivot's query string in DHIS2 notation, from the page's simple form fields
/// (`dx`, `ou`, `level`, `pe`, `eth`, `sex`, `hierarchy`, `columns`) unless `dimension=` is
/// already given. The form is what an officer fills; the canonical query is what links,
/// downloads and saved report tables keep.
pub fn canonical_query(p: &Params) -> String {
    let mut parts: Vec<String> = vec![];
    if !p.each("dimension").is_empty() {
        for d in p.each("dimension") {
            parts.push(format!("dimension={}", enc(&d)));
        }
        for f in p.each("filter") {
            parts.push(format!("filter={}", enc(&f)));
        }
    } else {
        let dx = p.all("dx");
        let dx = if dx.is_empty() {
            vec!["0101".to_string()]
        } else {
            dx
        };
        parts.push(format!(
            "dimension={}",
            enc(&format!("dx:{}", dx.join(";")))
        ));
        let mut ou: Vec<String> = p.all("ou");
        if ou.is_empty() {
            ou.push("VN".into());
        }
        if let Some(l) = p.get("level").filter(|l| ["1", "2", "3", "4"].contains(l)) {
            ou.push(format!("LEVEL-{l}"));
        }
        parts.push(format!(
            "dimension={}",
            enc(&format!("ou:{}", ou.join(";")))
        ));
        let pe = p.all("pe");
        let pe = if pe.is_empty() {
            vec!["LAST_5_YEARS".to_string()]
        } else {
            pe
        };
        parts.push(format!(
            "dimension={}",
            enc(&format!("pe:{}", pe.join(";")))
        ));
        match p.get("eth") {
            Some("all") => parts.push("dimension=eth".into()),
            Some("groups") => parts.push(format!("dimension={}", enc("eth:DTTS;KINH"))),
            Some("dtts") => parts.push(format!("filter={}", enc("eth:DTTS"))),
            _ => {}
        }
        if p.get("sex") == Some("1") {
            parts.push(format!("dimension={}", enc("sex:M;F")));
        }
        // a few breakdown items sit best side by side under each period
        if p.get("rows").is_none() && p.get("columns").is_none() {
            let mut cols = vec!["pe"];
            if p.get("eth") == Some("groups") {
                cols.push("eth");
            }
            if p.get("sex") == Some("1") {
                cols.push("sex");
            }
            parts.push(format!("columns={}", enc(&cols.join(";"))));
        }
    }
    for k in ["rows", "columns", "hierarchy", "title"] {
        if let Some(v) = p.get(k) {
            parts.push(format!("{k}={}", enc(v)));
        }
    }
    parts.join("&")
}

/// One header cell of the column headers.
pub struct Head {
    pub label: String,
    pub span: usize,
}

pub struct CellView {
    pub text: String,
    pub class: &'static str,
    pub title: String,
}

pub struct RowView {
    pub heads: Vec<String>,
    pub cells: Vec<CellView>,
}

/// A pivot table ready for the template: multi-level column headers with spans, sorted and
/// paged rows.
pub struct TableView {
    pub row_titles: Vec<String>,
    pub col_heads: Vec<Vec<Head>>,
    pub rows: Vec<RowView>,
    pub total_rows: usize,
    pub page: usize,
    pub pages: usize,
    pub sort: Option<(usize, bool)>,
    pub filters: String,
}

fn cell_view(c: &Cell, lang: Lang) -> CellView {
    match c.value {
        Some(v) => {
            let mut text = number((v * 100.0).round() / 100.0, lang);
            let mut title = String::new();
            let class = if c.estimated {
                text.push_str(" (ư)");
                title =
                    "Ước tính: đơn vị chia tách sau 01/07/2025, chia theo trọng số mặc định".into();
                "num est"
            } else if c.mapped {
                text.push('*');
                title = "Quy đổi từ đơn vị hành chính trước/sau 01/07/2025".into();
                "num mapped"
            } else {
                "num"
            };
            CellView { text, class, title }
        }
        None => CellView {
            text: if c.reason.is_some() {
                "…".into()
            } else {
                String::new()
            },
            class: "num empty",
            title: c.reason.clone().unwrap_or_default(),
        },
    }
}

pub fn table_view(
    t: &PivotTable,
    lang: Lang,
    page: usize,
    sort: Option<(usize, bool)>,
) -> TableView {
    // one-item dimensions say the same on every row or column: the title says it once
    let t = &t.compact();
    // column headers: one row per column dimension, items spanning their sub-columns
    let mut col_heads = vec![];
    for d in 0..t.col_dims.len() {
        let mut row: Vec<Head> = vec![];
        for (c, key) in t.cols.iter().enumerate() {
            let label = t.col_label(c, d).name.clone();
            let same_prefix = c > 0 && t.cols[c - 1][..=d] == key[..=d];
            match row.last_mut() {
                Some(h) if same_prefix => h.span += 1,
                _ => row.push(Head { label, span: 1 }),
            }
        }
        col_heads.push(row);
    }
    if t.col_dims.is_empty() {
        col_heads.push(vec![Head {
            label: "Giá trị".into(),
            span: 1,
        }]);
    }
    let mut order: Vec<usize> = (0..t.rows.len()).collect();
    if let Some((col, desc)) = sort.filter(|(c, _)| *c < t.cols.len().max(1)) {
        order.sort_by(|&a, &b| {
            let va = t.cells[a].get(col).and_then(|c| c.value);
            let vb = t.cells[b].get(col).and_then(|c| c.value);
            // empty cells last whichever the direction
            match (va, vb) {
                (Some(x), Some(y)) if desc => y.total_cmp(&x),
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        });
    }
    let pages = t.rows.len().div_ceil(PAGE_ROWS).max(1);
    let page = page.clamp(1, pages);
    let rows = order
        .iter()
        .skip((page - 1) * PAGE_ROWS)
        .take(PAGE_ROWS)
        .map(|&r| RowView {
            heads: (0..t.row_dims.len())
                .map(|d| t.row_label(r, d).name.clone())
                .collect(),
            cells: t.cells[r].iter().map(|c| cell_view(c, lang)).collect(),
        })
        .collect();
    let filters = t
        .filters
        .iter()
        .map(|d| {
            format!(
                "{}: {}",
                d.name_vi,
                d.items
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    TableView {
        row_titles: t.row_dims.iter().map(|d| d.name_vi.clone()).collect(),
        col_heads,
        rows,
        total_rows: t.rows.len(),
        page,
        pages,
        sort,
        filters,
    }
}

#[derive(Template)]
#[template(path = "pivot.html")]
struct PivotPage {
    c: Ctx,
    /// The canonical query (links, downloads, saving).
    q: String,
    form: Params,
    title: String,
    source: String,
    view: Option<TableView>,
    error: Option<String>,
    indicators: Vec<Indicator>,
    chart: &'static str,
    saved_from: Option<ReportTable>,
    may_save: bool,
}

impl PivotPage {
    fn selected(&self, key: &str, v: &str) -> bool {
        self.form.all(key).iter().any(|x| x == v)
    }
    fn field(&self, key: &str) -> String {
        self.form.all(key).join(";")
    }
    fn is(&self, key: &str, v: &str) -> bool {
        self.form.get(key) == Some(v)
    }
    fn sort_href<T: Borrow<usize>>(&self, col: T) -> String {
        let col = *col.borrow();
        let desc = !matches!(self.view.as_ref().and_then(|v| v.sort), Some((c, true)) if c == col);
        format!("/phan-tich?{}&sort={col}&desc={}", self.q, desc as u8)
    }
    fn page_href<T: Borrow<usize>>(&self, page: T) -> String {
        let page = *page.borrow();
        let sort = match self.view.as_ref().and_then(|v| v.sort) {
            Some((c, d)) => format!("&sort={c}&desc={}", d as u8),
            None => String::new(),
        };
        format!("/phan-tich?{}{sort}&page={page}", self.q)
    }
    fn sort_mark<T: Borrow<usize>>(&self, col: T) -> &'static str {
        let col = *col.borrow();
        match self.view.as_ref().and_then(|v| v.sort) {
            Some((c, true)) if c == col => " ▼",
            Some((c, false)) if c == col => " ▲",
            _ => "",
        }
    }
}

/// `GET /phan-tich`: choose indicators, units, periods and breakdowns; see the table, a chart,
/// and download it (CSV, Excel, SDMX).
pub async fn pivot_page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = Params::parse(raw.as_deref());
    let q = canonical_query(&p);
    let mut c = Ctx::new(&headers, raw.as_deref(), format!("/phan-tich?{q}")).with(&who);
    let lang = c.lang;
    let indicators = s
        .read(|conn| {
            Ok(dantoc_store::indicators::list(conn)?
                .into_iter()
                .map(|(_, i)| i)
                .collect::<Vec<_>>())
        })
        .await
        .unwrap_or_default();
    let saved_from = match p.get("bang").and_then(|b| b.parse::<i64>().ok()) {
        Some(id) => {
            let user = who.caller().map(|c| c.user.username.clone());
            s.read(move |conn| dantoc_store::report_tables::get(conn, id, user.as_deref()))
                .await
                .ok()
        }
        None => None,
    };
    let qp = Params::parse(Some(&q));
    let mut page = PivotPage {
        c: Ctx::new(&headers, raw.as_deref(), String::new()),
        q: q.clone(),
        form: p.clone(),
        title: String::new(),
        source: String::new(),
        view: None,
        error: None,
        indicators,
        chart: "bar",
        saved_from,
        may_save: who.caller().is_some(),
    };
    let result = match request(&qp) {
        Ok(req) => run(&s, &who, req).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((req, comp)) => {
            let t = table(&qp, &req, &comp);
            let sort = p
                .get("sort")
                .and_then(|v| v.parse::<usize>().ok())
                .map(|col| (col, p.get("desc") == Some("1")));
            let pg = p.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
            // periods along an axis when there are a few lines to draw; bars otherwise
            let periods = comp
                .dim(dantoc_domain::analytics::DimId::Pe)
                .map_or(0, |d| d.items.len());
            page.chart = if periods > 1 && t.rows.len() <= 8 {
                "line"
            } else {
                "bar"
            };
            page.title = t.title.clone();
            page.source = t.source.clone();
            page.view = Some(table_view(&t, lang, pg, sort));
        }
        Err(crate::error::ApiError::Invalid(problems)) => {
            page.error = Some(
                problems
                    .0
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {}{}",
                            e.field,
                            e.message,
                            e.value
                                .as_deref()
                                .map(|v| format!(" («{v}»)"))
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
        Err(e) => return e.into_response(),
    }
    std::mem::swap(&mut page.c, &mut c);
    render_page(page, lang, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "targets.html")]
struct TargetsPage {
    c: Ctx,
    unit: String,
    items: Vec<(Target, Progress)>,
}

impl ProgressView for TargetsPage {
    fn lang(&self) -> Lang {
        self.c.lang
    }
}

impl TargetsPage {
    fn status_class(&self, p: &Progress) -> &'static str {
        use dantoc_domain::analytics::targets::Status::*;
        match p.status {
            Achieved | OnTrack => "ok",
            Missed | OffTrack => "late",
            Unknown => "unknown",
        }
    }
}

/// `GET /muc-tieu?unit=22`: programme targets and progress towards them.
pub async fn targets_page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = Params::parse(raw.as_deref());
    let unit = p.get("unit").unwrap_or("").to_string();
    let c = Ctx::new(
        &headers,
        raw.as_deref(),
        format!("/muc-tieu?unit={}", enc(&unit)),
    )
    .with(&who);
    let lang = c.lang;
    let visible = who.visible();
    let u = unit.clone();
    match s
        .read(move |conn| {
            dantoc_store::targets::with_progress(
                conn,
                None,
                Some(u.as_str()).filter(|u| !u.is_empty()),
                crate::api::analytics::today(),
                visible.as_deref(),
            )
        })
        .await
    {
        Ok(items) => render_page(TargetsPage { c, unit, items }, lang, StatusCode::OK),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    c: Ctx,
    q: String,
    tables: Vec<ReportTable>,
}

/// `GET /bao-cao?q=`: saved report tables, searchable without diacritics.
pub async fn reports_page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = Params::parse(raw.as_deref());
    let q = p.get("q").unwrap_or("").to_string();
    let c = Ctx::new(&headers, raw.as_deref(), format!("/bao-cao?q={}", enc(&q))).with(&who);
    let lang = c.lang;
    let user = who.caller().map(|c| c.user.username.clone());
    let q2 = q.clone();
    match s
        .read(move |conn| dantoc_store::report_tables::list(conn, user.as_deref(), &q2))
        .await
    {
        Ok(tables) => render_page(ReportsPage { c, q, tables }, lang, StatusCode::OK),
        Err(e) => e.into_response(),
    }
}

/// `GET /bao-cao/{id}?ou=…&pe=…`: open a saved table, with the unit and the period chosen now
/// (they replace the saved ones).
pub async fn open_report(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> Response {
    let user = who.caller().map(|c| c.user.username.clone());
    let t = match s
        .read(move |conn| dantoc_store::report_tables::get(conn, id, user.as_deref()))
        .await
    {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let over = Params::parse(raw.as_deref());
    let saved = Params::parse(Some(&t.query));
    let mut parts: Vec<String> = vec![];
    for (key, list) in [
        ("dimension", saved.each("dimension")),
        ("filter", saved.each("filter")),
    ] {
        for d in list {
            let id = d.split(':').next().unwrap_or("").to_string();
            let d = match over.get(&id) {
                Some(v) if id == "ou" || id == "pe" => format!("{id}:{v}"),
                _ => d,
            };
            parts.push(format!("{key}={}", enc(&d)));
        }
    }
    for k in ["rows", "columns", "hierarchy"] {
        if let Some(v) = saved.get(k) {
            parts.push(format!("{k}={}", enc(v)));
        }
    }
    parts.push(format!("title={}", enc(&t.name)));
    Redirect::to(&format!("/phan-tich?{}&bang={id}", parts.join("&"))).into_response()
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    c: Ctx,
    unit: String,
    unit_name: String,
    charts: Vec<(String, String)>,
    targets: Vec<(Target, Progress)>,
    table: Option<TableView>,
    table_q: String,
}

impl DashboardPage {
    // the shared table template links its headers only where they sort
    fn sort_href<T>(&self, _col: T) -> String {
        String::new()
    }
    fn sort_mark<T>(&self, _col: T) -> &'static str {
        ""
    }
}

impl ProgressView for DashboardPage {
    fn lang(&self) -> Lang {
        self.c.lang
    }
}

/// `GET /bang-dieu-khien?unit=22`: charts, key figures and target progress of one unit.
pub async fn dashboard(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = Params::parse(raw.as_deref());
    let unit = p.get("unit").unwrap_or("22").to_string();
    let c = Ctx::new(
        &headers,
        raw.as_deref(),
        format!("/bang-dieu-khien?unit={}", enc(&unit)),
    )
    .with(&who);
    let lang = c.lang;
    let u = unit.clone();
    let visible = who.visible();
    let found = s
        .read(move |conn| {
            let targets = dantoc_store::targets::with_progress(
                conn,
                None,
                Some(&u),
                crate::api::analytics::today(),
                visible.as_deref(),
            )?;
            let (code, version) = dantoc_domain::admin::split_unit_ref(&u).map_err(|e| {
                dantoc_store::StoreError::invalid(dantoc_domain::FieldError::new("unit", e))
            })?;
            let name = dantoc_store::units::require(
                conn,
                version.unwrap_or(HierarchyVersion::CURRENT),
                code,
            )?
            .full_name;
            Ok((name, targets))
        })
        .await;
    let (unit_name, targets) = match found {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let ou = enc(&format!("ou:{unit}"));
    let ou_level = enc(&format!("ou:{unit};LEVEL-2"));
    let mut charts = vec![
        (
            "Dân số DTTS theo dân tộc, năm trước".to_string(),
            format!(
                "/api/analytics.svg?dimension=dx:0101&dimension={ou}&dimension=eth&filter=pe:LAST_YEAR&rows=eth&chart=bar&title={}",
                enc("Dân số DTTS theo dân tộc, năm trước")
            ),
        ),
        (
            "Dân số DTTS qua các năm".to_string(),
            format!(
                "/api/analytics.svg?dimension=dx:0101&dimension={ou}&dimension=pe:LAST_10_YEARS&chart=line&title={}",
                enc("Dân số DTTS qua các năm")
            ),
        ),
        (
            "Tiếp cận thông tin qua CNTT".to_string(),
            format!(
                "/api/analytics.svg?dimension=dx:x-tt-phapluat;x-tt-yte;x-tt-rung;x-tt-anninh;x-tt-khcn&dimension={ou}&filter=pe:LAST_YEAR&rows=dx&chart=bar&title={}",
                enc("Tỷ lệ người DTTS được tiếp cận thông tin qua CNTT (%), năm trước")
            ),
        ),
    ];
    charts.push((
        "Bản đồ: dân số DTTS theo xã, năm trước".to_string(),
        format!(
            "/api/maps/choropleth.svg?indicator=0101&period=LAST_YEAR&ou={}&method=jenks&width=400&unit={}",
            enc(&format!("{unit};LEVEL-2")),
            enc("người")
        ),
    ));
    let table_q = format!(
        "dimension=dx:0101;x-cnscd-to;x-cnscd-tv;x-thon-noms&dimension={ou_level}&filter=pe:LAST_YEAR&rows=ou&columns=dx"
    );
    let tp = Params::parse(Some(&table_q));
    let table = match request(&tp) {
        Ok(req) => match run(&s, &who, req).await {
            Ok((req, comp)) => Some(table_view(
                &table(&tp, &req, &comp),
                lang,
                1,
                Some((0, true)),
            )),
            Err(_) => None,
        },
        Err(_) => None,
    };
    render_page(
        DashboardPage {
            c,
            unit,
            unit_name,
            charts,
            targets,
            table,
            table_q,
        },
        lang,
        StatusCode::OK,
    )
}

/// `GET /static/pivot.js`: copies a link to the table (share) — the only script of these pages.
pub async fn pivot_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/pivot.js"),
    )
}

//! Server-rendered pages (askama templates in `templates/`), light enough for a 360 px
//! phone on a slow link: no framework, one small stylesheet, no inline script.

use crate::auth::{Principal, Via};
use crate::error::ApiError;
use crate::i18n::{Lang, Text, number, text};
use crate::params::Params;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use dantoc_domain::access::Action;
use dantoc_domain::admin::{AdminUnit, HierarchyVersion, UnitKind};
use dantoc_domain::disagg::Disagg;
use dantoc_store::units::LineageLink;
use dantoc_store::values::ValueFilter;
use dantoc_store::{indicators, units, values};
use std::collections::HashMap;

/// What every page needs: language, strings, where to switch language.
pub struct Ctx {
    pub lang: Lang,
    pub t: &'static Text,
    pub path: String,
    /// The logged-in user's name, if any.
    pub user: Option<String>,
    /// Whether the user may manage accounts (shows the link).
    pub admin: bool,
    /// The session's CSRF token, for forms.
    pub csrf: String,
}

impl Ctx {
    pub fn new(headers: &HeaderMap, query: Option<&str>, path: String) -> Ctx {
        let cookie = headers.get(header::COOKIE).and_then(|v| v.to_str().ok());
        let lang = Lang::from_request(query, cookie);
        Ctx {
            lang,
            t: text(lang),
            path,
            user: None,
            admin: false,
            csrf: String::new(),
        }
    }

    /// The same, knowing who is logged in.
    pub fn with(mut self, who: &Principal) -> Ctx {
        if let Some(c) = who.caller() {
            self.user = Some(c.user.username.clone());
            self.admin = c.user.role.may(Action::ManageUsers);
            if let Via::Session { csrf } = &c.via {
                self.csrf = csrf.clone();
            }
        }
        self
    }
    /// Link that switches the language and stays on the page.
    pub fn switch_href(&self) -> String {
        let sep = if self.path.contains('?') { '&' } else { '?' };
        format!("{}{sep}lang={}", self.path, self.lang.other().code())
    }
    pub fn kind_label(&self, k: &UnitKind) -> &'static str {
        match (self.lang, *k) {
            (Lang::Vi, k) => k.label_vi(),
            (Lang::En, UnitKind::Province) => "Province",
            (Lang::En, UnitKind::District) => "District",
            (Lang::En, UnitKind::Commune) => "Commune",
            (Lang::En, UnitKind::Village) => "Village",
        }
    }
    pub fn version_label(&self, v: &HierarchyVersion) -> &'static str {
        match v {
            HierarchyVersion::V2024 => self.t.hierarchy_2024,
            HierarchyVersion::V2025 => self.t.hierarchy_2025,
        }
    }
}

pub fn unit_href(u: &AdminUnit) -> String {
    match u.version {
        HierarchyVersion::CURRENT => format!("/don-vi/{}", u.code),
        v => format!("/don-vi/{}?v={}", u.code, v.as_str()),
    }
}

pub fn render_page(t: impl Template, lang: Lang, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => {
            let cookie = format!(
                "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
                lang.code()
            );
            (status, [(header::SET_COOKIE, cookie)], Html(html)).into_response()
        }
        Err(e) => ApiError::Internal(format!("template: {e}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Ctx,
    now: Vec<AdminUnit>,
    before: Vec<AdminUnit>,
    demo: Vec<String>,
}

pub async fn home(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let c = Ctx::new(&headers, q.as_deref(), "/".into()).with(&who);
    let r = s
        .read(|conn| {
            Ok((
                units::provinces(conn, HierarchyVersion::V2025)?,
                units::provinces(conn, HierarchyVersion::V2024)?,
            ))
        })
        .await;
    match r {
        Ok((now, before)) => {
            let lang = c.lang;
            let demo = dantoc_store::demo::PROVINCES
                .iter()
                .map(|s| s.to_string())
                .collect();
            render_page(
                HomePage {
                    c,
                    now,
                    before,
                    demo,
                },
                lang,
                StatusCode::OK,
            )
        }
        Err(e) => e.into_response(),
    }
}

pub struct ValueRow {
    pub indicator: String,
    pub indicator_name: String,
    pub unit_of_measure: String,
    pub period: String,
    pub breakdown: String,
    pub value: String,
    pub demo: bool,
    pub source: String,
    pub comment: String,
}

#[derive(Template)]
#[template(path = "unit.html")]
struct UnitPage {
    c: Ctx,
    unit: AdminUnit,
    ancestors: Vec<AdminUnit>,
    children: Vec<AdminUnit>,
    lineage: Vec<LineageLink>,
    lineage_version: HierarchyVersion,
    periods: Vec<String>,
    period: String,
    rows: Vec<ValueRow>,
    truncated: bool,
}

impl UnitPage {
    fn lineage_href(&self, l: &LineageLink) -> String {
        match self.unit.version {
            HierarchyVersion::V2024 => format!("/don-vi/{}", l.new_code),
            HierarchyVersion::V2025 => format!("/don-vi/{}?v=2024", l.old_code),
        }
    }
    fn lineage_name<'a>(&self, l: &'a LineageLink) -> &'a str {
        match self.unit.version {
            HierarchyVersion::V2024 => &l.new_name,
            HierarchyVersion::V2025 => &l.old_name,
        }
    }
    fn share(&self, l: &LineageLink) -> String {
        number((l.weight * 100.0).round(), self.c.lang) + "\u{a0}%"
    }
    /// The map of the unit (a village: of its commune, where it is drawn).
    fn map_href(&self) -> String {
        let code = match (&self.unit.kind, &self.unit.parent_code) {
            (UnitKind::Village, Some(p)) => p,
            _ => &self.unit.code,
        };
        match self.unit.version {
            HierarchyVersion::CURRENT => format!("/ban-do?ou={code}"),
            v => format!("/ban-do?ou={code}&v={}", v.as_str()),
        }
    }
    fn period_href(&self, p: &str) -> String {
        match self.unit.version {
            HierarchyVersion::CURRENT => format!("/don-vi/{}?ky={p}", self.unit.code),
            v => format!("/don-vi/{}?v={}&ky={p}", self.unit.code, v.as_str()),
        }
    }
    /// Whether row `i` starts a new indicator (the table groups rows by indicator).
    fn first_of_indicator(&self, i: &usize) -> bool {
        *i == 0 || self.rows[*i - 1].indicator != self.rows[*i].indicator
    }
}

const PAGE_VALUES: i64 = 300;

/// What the unit page reads from the store.
struct UnitData {
    unit: AdminUnit,
    ancestors: Vec<AdminUnit>,
    children: Vec<AdminUnit>,
    lineage: Vec<LineageLink>,
    /// indicator code → (Vietnamese name, unit of measure)
    names: HashMap<String, (String, String)>,
    /// ethnic code (2008 list) → name
    ethnic: HashMap<String, String>,
    periods: Vec<String>,
    period: String,
    vals: Vec<values::StoredValue>,
}

pub async fn unit(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::parse(q.as_deref());
    let v = match p.parsed::<HierarchyVersion>("v") {
        Ok(v) => v.unwrap_or(HierarchyVersion::CURRENT),
        Err(e) => return e.into_response(),
    };
    let path = match v {
        HierarchyVersion::CURRENT => format!("/don-vi/{code}"),
        v => format!("/don-vi/{code}?v={}", v.as_str()),
    };
    let asked = p.get("ky").map(str::to_string);
    let path = match &asked {
        Some(k) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            let k: String = form_urlencoded::byte_serialize(k.as_bytes()).collect();
            format!("{path}{sep}ky={k}")
        }
        None => path,
    };
    let c = Ctx::new(&headers, q.as_deref(), path).with(&who);
    let lang = c.lang;
    let visible = who.visible();
    let r = s
        .read(move |conn| {
            let Some(unit) = units::get(conn, v, &code)? else {
                return Ok(None);
            };
            let periods = values::periods_of_unit(conn, v, &code, visible.as_deref())?;
            let period = asked
                .filter(|k| periods.contains(k))
                .or_else(|| periods.first().cloned())
                .unwrap_or_default();
            let vals = if period.is_empty() {
                vec![]
            } else {
                values::query(
                    conn,
                    &ValueFilter {
                        units: vec![format!("{code}@{}", v.as_str())],
                        periods: vec![period.clone()],
                        limit: PAGE_VALUES + 1,
                        visible: visible.clone(),
                        ..Default::default()
                    },
                )?
            };
            Ok(Some(UnitData {
                ancestors: units::ancestors(conn, v, &code)?,
                children: units::children(conn, v, &code)?,
                lineage: units::lineage(conn, v, &code)?,
                names: indicators::list(conn)?
                    .into_iter()
                    .map(|(_, i)| (i.code.clone(), (i.name_vi.clone(), i.unit.clone())))
                    .collect(),
                ethnic: dantoc_store::ethnic::list(conn, Default::default())?
                    .into_iter()
                    .map(|g| (g.code_2008, g.name))
                    .collect(),
                unit,
                periods,
                period,
                vals,
            }))
        })
        .await;
    match r {
        Ok(Some(UnitData {
            unit,
            ancestors,
            children,
            lineage,
            names,
            ethnic,
            periods,
            period,
            mut vals,
        })) => {
            let truncated = vals.len() as i64 > PAGE_VALUES;
            vals.truncate(PAGE_VALUES as usize);
            let rows = vals
                .into_iter()
                .map(|x| {
                    let (name, uom) = names.get(&x.indicator).cloned().unwrap_or_default();
                    let breakdown = x
                        .disagg
                        .parse::<Disagg>()
                        .map(|d| {
                            let l = d.label_vi(|e| ethnic.get(e).cloned());
                            if lang == Lang::En {
                                l.replace("Tổng số", "Total")
                                    .replace("Nữ", "Female")
                                    .replace("Nam", "Male")
                            } else {
                                l
                            }
                        })
                        .unwrap_or(x.disagg.clone());
                    ValueRow {
                        indicator: x.indicator,
                        indicator_name: name,
                        unit_of_measure: uom,
                        period: x.period,
                        breakdown,
                        value: x.value.map(|n| number(n, lang)).unwrap_or(x.value_text),
                        demo: x.demo,
                        source: x.source.unwrap_or_default(),
                        comment: x.comment.unwrap_or_default(),
                    }
                })
                .collect();
            let lineage_version = unit.version;
            render_page(
                UnitPage {
                    c,
                    unit,
                    ancestors,
                    children,
                    lineage,
                    lineage_version,
                    periods,
                    period,
                    rows,
                    truncated,
                },
                lang,
                StatusCode::OK,
            )
        }
        Ok(None) => not_found_page(c),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    c: Ctx,
    q: String,
    results: Vec<AdminUnit>,
    indicators: Vec<dantoc_domain::indicator::Indicator>,
    tables: Vec<dantoc_store::report_tables::ReportTable>,
    forms: Vec<dantoc_store::forms::StoredForm>,
}

pub async fn search(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::parse(q.as_deref());
    let query = p.get("q").unwrap_or("").to_string();
    let c = Ctx::new(
        &headers,
        q.as_deref(),
        format!(
            "/tim-kiem?q={}",
            form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        ),
    )
    .with(&who);
    let lang = c.lang;
    let q2 = query.clone();
    let user = who.caller().map(|c| c.user.username.clone());
    match s
        .read(move |conn| {
            if q2.is_empty() {
                Ok((vec![], vec![], vec![], vec![]))
            } else {
                Ok((
                    units::search(conn, &q2, None, 100)?,
                    indicators::search(conn, &q2, 50)?,
                    dantoc_store::report_tables::list(conn, user.as_deref(), &q2)?,
                    dantoc_store::forms::list(conn, &q2)?,
                ))
            }
        })
        .await
    {
        Ok((results, indicators, tables, forms)) => render_page(
            SearchPage {
                c,
                q: query,
                results,
                indicators,
                tables,
                forms,
            },
            lang,
            StatusCode::OK,
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "indicators.html")]
struct IndicatorsPage {
    c: Ctx,
    list: Vec<dantoc_domain::indicator::Indicator>,
}

pub async fn indicators_page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let c = Ctx::new(&headers, q.as_deref(), "/chi-tieu".into()).with(&who);
    let lang = c.lang;
    match s
        .read(|conn| {
            Ok(indicators::list(conn)?
                .into_iter()
                .map(|(_, i)| i)
                .collect())
        })
        .await
    {
        Ok(list) => render_page(IndicatorsPage { c, list }, lang, StatusCode::OK),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "ethnic.html")]
struct EthnicPage {
    c: Ctx,
    list: Vec<dantoc_domain::ethnic::EthnicGroup>,
}

impl EthnicPage {
    fn pop(&self, g: &dantoc_domain::ethnic::EthnicGroup) -> String {
        g.population_2019
            .map(|p| number(p as f64, self.c.lang))
            .unwrap_or_else(|| "—".into())
    }
}

pub async fn ethnic_page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let c = Ctx::new(&headers, q.as_deref(), "/dan-toc".into()).with(&who);
    let lang = c.lang;
    match s
        .read(|conn| dantoc_store::ethnic::list(conn, Default::default()))
        .await
    {
        Ok(list) => render_page(EthnicPage { c, list }, lang, StatusCode::OK),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    c: Ctx,
}

pub(crate) fn not_found_page(c: Ctx) -> Response {
    let lang = c.lang;
    render_page(NotFoundPage { c }, lang, StatusCode::NOT_FOUND)
}

pub async fn fallback(headers: HeaderMap, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::NotFound(format!("no endpoint {}", uri.path())).into_response();
    }
    not_found_page(Ctx::new(&headers, uri.query(), uri.path().to_string()))
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../static/app.css"),
    )
        .into_response()
}

pub async fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=604800"),
        ],
        include_str!("../static/icon.svg"),
    )
        .into_response()
}

//! Data entry pages: the officer's forms × units × recent periods (`/nhap-lieu`) and the entry
//! page of one form for one unit and period (`/nhap-lieu/{form}?ou=&pe=`).
//!
//! The entry page is a plain HTML form: without script it posts every cell and the server saves
//! those changed (a batch like any other, with the versions the page was rendered with). With
//! `static/entry.js` each cell is saved as it is typed, through a queue in IndexedDB that
//! survives going offline; the service worker (`/nhap-lieu/sw.js`) keeps the page, the script
//! and the stylesheet so that the page opens again with no network.

use crate::auth::{Principal, same_origin};
use crate::error::ApiError;
use crate::i18n::{Lang, number};
use crate::pages::{Ctx, render_page};
use crate::params::Params;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dantoc_domain::access::Action;
use dantoc_domain::approval::State as FlowState;
use dantoc_domain::entry::{EntryBatch, EntryValue, number_input};
use dantoc_store::entry::{self, CellStatus, Grid, SaveResponse, Task};
use std::collections::HashMap;

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn tr(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Ctx,
    title: String,
    message: String,
}

/// A refusal as a page: to the login page when nobody is logged in, a message otherwise.
fn refuse(c: Ctx, e: ApiError) -> Response {
    let lang = c.lang;
    let (status, title) = match e {
        ApiError::Unauthorized(_) => {
            return Redirect::to(&format!("/dang-nhap?next={}", enc(&c.path))).into_response();
        }
        ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
        ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
        ApiError::Invalid(p) => (StatusCode::BAD_REQUEST, p.to_string()),
        other => return other.into_response(),
    };
    let message = tr(
        lang,
        "Không mở được trang nhập liệu này.",
        "This entry page cannot be opened.",
    )
    .to_string();
    render_page(MessagePage { c, title, message }, lang, status)
}

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Template)]
#[template(path = "entry_list.html")]
struct ListPage {
    c: Ctx,
    q: String,
    tasks: Vec<TaskView>,
    truncated: bool,
}

struct TaskView {
    href: String,
    form: String,
    form_name: String,
    unit: String,
    period: String,
    state: String,
    state_class: &'static str,
    deadline: String,
    late: bool,
}

impl ListPage {
    fn tr(&self, vi: &'static str, en: &'static str) -> &'static str {
        tr(self.c.lang, vi, en)
    }
}

fn task_view(t: Task, lang: Lang, today: &str) -> TaskView {
    let ou = match t.unit_version {
        dantoc_domain::admin::HierarchyVersion::CURRENT => t.unit_code.clone(),
        v => format!("{}@{}", t.unit_code, v.as_str()),
    };
    let (state, state_class) = match (&t.approval, t.filled) {
        (Some(a), _) => (a.clone(), "ok"),
        (None, 0) => (tr(lang, "Chưa nhập", "Not started").to_string(), "unknown"),
        (None, n) => (
            match lang {
                Lang::Vi => format!("Đang nhập ({n} ô có số liệu)"),
                Lang::En => format!("In progress ({n} cells filled)"),
            },
            "ok",
        ),
    };
    let late = t.approval.is_none() && today > t.deadline.as_str();
    TaskView {
        href: format!(
            "/nhap-lieu/{}?ou={}&pe={}",
            enc(&t.form),
            enc(&ou),
            enc(&t.period)
        ),
        form_name: match lang {
            Lang::Vi => t.form_name_vi,
            Lang::En if t.form_name_en.is_empty() => t.form_name_vi,
            Lang::En => t.form_name_en,
        },
        form: t.form,
        unit: t.unit_name,
        period: t.period_label,
        state,
        state_class,
        deadline: t.deadline,
        late,
    }
}

/// `GET /nhap-lieu`: the forms the logged-in officer enters, for each of their units and the
/// recent periods, with how far each is.
pub async fn list(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::parse(q.as_deref());
    let query = p.get("q").unwrap_or("").to_string();
    let path = if query.is_empty() {
        "/nhap-lieu".to_string()
    } else {
        format!("/nhap-lieu?q={}", enc(&query))
    };
    let c = Ctx::new(&headers, q.as_deref(), path).with(&who);
    let caller = match who.require(Action::ReadData) {
        Ok(caller) => caller.clone(),
        Err(e) => return refuse(c, e),
    };
    let lang = c.lang;
    let scope = (!caller.is_global()).then(|| caller.scope.clone());
    let today = dantoc_store::clock::today();
    let q2 = query.clone();
    let t2 = today.clone();
    match s
        .read(move |conn| entry::tasks(conn, scope.as_deref(), &q2, &t2, 60))
        .await
    {
        Ok((tasks, truncated)) => render_page(
            ListPage {
                c,
                q: query,
                tasks: tasks
                    .into_iter()
                    .map(|t| task_view(t, lang, &today))
                    .collect(),
                truncated,
            },
            lang,
            StatusCode::OK,
        ),
        Err(e) => refuse(c, e),
    }
}

// ---------------------------------------------------------------------------------------------
// The entry page

#[derive(Template)]
#[template(path = "entry.html")]
struct EntryPage {
    c: Ctx,
    title: String,
    unit_name: String,
    period_label: String,
    deadline: String,
    approval: String,
    /// Submitted, approved or locked: the cells are shown, not editable.
    read_only: bool,
    progress: String,
    action: String,
    form_code: String,
    /// `CODE@VERSION`: what the script sends.
    ou_ref: String,
    ou: String,
    pe: String,
    eth: Vec<String>,
    sections: Vec<SectionView>,
    ethnic_other: Vec<(String, String)>,
    has_ethnic_rows: bool,
    notice: Option<String>,
    error: Option<String>,
}

impl EntryPage {
    fn tr(&self, vi: &'static str, en: &'static str) -> &'static str {
        tr(self.c.lang, vi, en)
    }
}

struct SectionView {
    title: String,
    items: Vec<ItemView>,
}

struct ItemView {
    name: String,
    unit_of_measure: String,
    required: bool,
    /// `sum` when the figures add up (totals shown and kept by the script).
    totals: bool,
    row_totals: bool,
    column_totals: bool,
    row_head: String,
    columns: Vec<String>,
    rows: Vec<RowView>,
    column_sums: Vec<String>,
    grand: String,
    numeric: bool,
    empty_note: bool,
}

struct RowView {
    label: String,
    cells: Vec<CellView>,
    total: String,
}

struct CellView {
    ind: String,
    dis: String,
    id: String,
    value: String,
    orig: String,
    version: i64,
    label: String,
    previous: String,
    previous_mapped: bool,
    updated: String,
    error: String,
    conflict: Option<ConflictView>,
}

struct ConflictView {
    value: String,
    version: i64,
    by: String,
    at: String,
}

/// What a post without script left in a cell: the value typed and why it was not saved.
struct Kept {
    value: String,
    error: Option<String>,
    conflict: Option<ConflictView>,
}

fn short_time(at: &str) -> String {
    // 2026-11-30T09:56:32.123Z → 2026-11-30 09:56 UTC
    match (at.get(0..10), at.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t} UTC"),
        _ => at.to_string(),
    }
}

fn view(g: &Grid, lang: Lang, kept: &HashMap<(String, String), Kept>) -> Vec<SectionView> {
    let fmt = |v: f64| number(v, lang);
    g.sections
        .iter()
        .map(|s| SectionView {
            title: match lang {
                Lang::En if !s.title_en.is_empty() => s.title_en.clone(),
                _ => s.title_vi.clone(),
            },
            items: s
                .items
                .iter()
                .map(|it| {
                    let name = match lang {
                        Lang::En if !it.name_en.is_empty() => it.name_en.clone(),
                        _ => it.name_vi.clone(),
                    };
                    let label = |l: &dantoc_store::entry::Label| match lang {
                        Lang::Vi => l.label_vi.clone(),
                        Lang::En => l.label_en.clone(),
                    };
                    let numeric = it.value_type != "text" && it.value_type != "yes_no";
                    let ncols = it.columns.len();
                    let mut column_sums = vec![0.0; ncols];
                    let mut grand = 0.0;
                    let rows: Vec<RowView> = it
                        .rows
                        .iter()
                        .map(|r| {
                            let mut total = 0.0;
                            let cells = r
                                .cells
                                .iter()
                                .enumerate()
                                .map(|(j, cell)| {
                                    let k =
                                        kept.get(&(cell.indicator.clone(), cell.disagg.clone()));
                                    let value = k
                                        .map(|k| k.value.clone())
                                        .or_else(|| cell.value.clone())
                                        .unwrap_or_default();
                                    if let Ok(n) = number_input(&value).parse::<f64>() {
                                        total += n;
                                        column_sums[j] += n;
                                        grand += n;
                                    }
                                    let col = it.columns.get(j).map(label).unwrap_or_default();
                                    let row = label(&r.label);
                                    let mut aria = name.clone();
                                    for part in [row, col] {
                                        if part != "Tổng số" && part != "Total" {
                                            aria.push_str(" — ");
                                            aria.push_str(&part);
                                        }
                                    }
                                    let conflict = k.and_then(|k| {
                                        k.conflict.as_ref().map(|c| ConflictView {
                                            value: c.value.clone(),
                                            version: c.version,
                                            by: c.by.clone(),
                                            at: c.at.clone(),
                                        })
                                    });
                                    CellView {
                                        id: format!("c:{}:{}", cell.indicator, cell.disagg),
                                        ind: cell.indicator.clone(),
                                        dis: cell.disagg.clone(),
                                        value,
                                        // a conflict kept for a post without script: saving
                                        // again keeps the officer's value over the server's
                                        orig: match &conflict {
                                            Some(c) => c.value.clone(),
                                            None => cell.value.clone().unwrap_or_default(),
                                        },
                                        version: conflict
                                            .as_ref()
                                            .map(|c| c.version)
                                            .unwrap_or(cell.version),
                                        label: aria,
                                        previous: cell
                                            .previous
                                            .as_deref()
                                            .map(|p| {
                                                p.parse::<f64>().map(fmt).unwrap_or(p.to_string())
                                            })
                                            .unwrap_or_default(),
                                        previous_mapped: cell.previous_mapped,
                                        updated: match (&cell.updated_by, &cell.updated_at) {
                                            (Some(by), Some(at)) => {
                                                format!("{by}, {}", short_time(at))
                                            }
                                            _ => String::new(),
                                        },
                                        error: k.and_then(|k| k.error.clone()).unwrap_or_default(),
                                        conflict,
                                    }
                                })
                                .collect();
                            RowView {
                                label: label(&r.label),
                                cells,
                                total: fmt(total),
                            }
                        })
                        .collect();
                    ItemView {
                        unit_of_measure: it.unit_of_measure.clone(),
                        required: it.required,
                        totals: it.totals,
                        row_totals: it.totals && ncols > 1,
                        column_totals: it.totals && rows.len() > 1,
                        row_head: match it.rows_axis.as_str() {
                            "ethnic" => tr(lang, "Dân tộc", "Ethnic group").to_string(),
                            _ => String::new(),
                        },
                        columns: it.columns.iter().map(label).collect(),
                        column_sums: column_sums.into_iter().map(fmt).collect(),
                        grand: fmt(grand),
                        numeric,
                        empty_note: rows.is_empty(),
                        rows,
                        name,
                    }
                })
                .collect(),
        })
        .collect()
}

struct Asked {
    code: String,
    ou: String,
    pe: String,
    eth: Vec<String>,
}

impl Asked {
    fn parse(code: String, q: Option<&str>) -> Asked {
        let p = Params::parse(q);
        Asked {
            code,
            ou: p.get("ou").unwrap_or("").to_string(),
            pe: p.get("pe").unwrap_or("").to_string(),
            eth: p.all("eth"),
        }
    }
    fn href(&self) -> String {
        let mut h = format!(
            "/nhap-lieu/{}?ou={}&pe={}",
            enc(&self.code),
            enc(&self.ou),
            enc(&self.pe)
        );
        for e in &self.eth {
            h.push_str(&format!("&eth={}", enc(e)));
        }
        h
    }
}

/// What the page shows beside the grid: cells kept from a post, and a notice or an error.
#[derive(Default)]
struct Shown {
    kept: HashMap<(String, String), Kept>,
    notice: Option<String>,
    error: Option<String>,
}

async fn render_entry(
    s: &AppState,
    c: Ctx,
    caller: crate::auth::Caller,
    a: &Asked,
    shown: Shown,
    status: StatusCode,
) -> Response {
    let Shown {
        kept,
        notice,
        error,
    } = shown;
    let lang = c.lang;
    let (code, ou, pe, eth) = (a.code.clone(), a.ou.clone(), a.pe.clone(), a.eth.clone());
    let g = match s
        .read(move |conn| {
            let allowed = caller.allowed(conn)?;
            entry::grid(conn, &code, &ou, &pe, &eth, allowed.as_ref())
        })
        .await
    {
        Ok(g) => g,
        Err(e) => return refuse(c, e),
    };
    let sections = view(&g, lang, &kept);
    // the approval state, from its label (entry::grid gives the Vietnamese one)
    let state = g.approval.as_deref().and_then(|label| {
        FlowState::ALL
            .into_iter()
            .find(|st| st.label_vi() == label || st.as_str() == label)
    });
    let progress = match lang {
        Lang::Vi => format!(
            "{} / {} ô có số liệu{}",
            g.filled,
            g.cells,
            if g.required_empty > 0 {
                format!(", còn {} ô bắt buộc chưa nhập", g.required_empty)
            } else {
                String::new()
            }
        ),
        Lang::En => format!(
            "{} of {} cells filled{}",
            g.filled,
            g.cells,
            if g.required_empty > 0 {
                format!(", {} required cells still empty", g.required_empty)
            } else {
                String::new()
            }
        ),
    };
    let page = EntryPage {
        title: match lang {
            Lang::En if !g.form.name_en.is_empty() => g.form.name_en.clone(),
            _ => g.form.name_vi.clone(),
        },
        unit_name: g.org_unit.full_name.clone(),
        period_label: g.period_label.clone(),
        deadline: g.form.deadline.clone(),
        approval: match (lang, state) {
            (Lang::En, Some(st)) => st.label_en().to_string(),
            _ => g
                .approval
                .clone()
                .unwrap_or_else(|| tr(lang, "chưa nộp", "not submitted").to_string()),
        },
        read_only: state.is_some_and(|st| !st.editable()),
        progress,
        action: a.href(),
        form_code: g.form.code.clone(),
        ou_ref: format!("{}@{}", g.org_unit.code, g.org_unit.version.as_str()),
        ou: a.ou.clone(),
        pe: g.period.clone(),
        eth: a.eth.clone(),
        has_ethnic_rows: g
            .sections
            .iter()
            .flat_map(|s| &s.items)
            .any(|i| i.rows_axis == "ethnic"),
        ethnic_other: g
            .ethnic_other
            .iter()
            .map(|e| (e.code.clone(), e.name.clone()))
            .collect(),
        sections,
        notice,
        error,
        c,
    };
    let mut r = render_page(page, lang, status);
    // the service worker keeps its own copy; the browser's HTTP cache should not
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    r
}

/// `GET /nhap-lieu/{form}?ou=&pe=[&eth=]`: the entry page.
pub async fn page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let a = Asked::parse(code, q.as_deref());
    let c = Ctx::new(&headers, q.as_deref(), a.href()).with(&who);
    let caller = match who.require(Action::ReadData) {
        Ok(caller) => caller.clone(),
        Err(e) => return refuse(c, e),
    };
    if a.ou.is_empty() || a.pe.is_empty() {
        return Redirect::to("/nhap-lieu").into_response();
    }
    let params = Params::parse(q.as_deref());
    let notice = params
        .get("luu")
        .map(|n| match c.lang {
            Lang::Vi => format!("Đã lưu {n} ô."),
            Lang::En => format!("Saved {n} cells."),
        })
        // back from a submission (POST /phe-duyet with `back`)
        .or_else(|| {
            params.get("nop").map(|_| {
                tr(
                    c.lang,
                    "Đã nộp biểu để phê duyệt.",
                    "Submitted for approval.",
                )
                .to_string()
            })
        });
    let shown = Shown {
        notice,
        ..Default::default()
    };
    render_entry(&s, c, caller, &a, shown, StatusCode::OK).await
}

/// `POST /nhap-lieu/{form}?ou=&pe=`: the page's form without script: every cell comes with the
/// value and version it was shown with (`o:`, `b:`), and those changed are saved as one batch.
pub async fn post(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let a = Asked::parse(code, q.as_deref());
    let c = Ctx::new(&headers, q.as_deref(), a.href()).with(&who);
    if !same_origin(&headers) {
        return refuse(c, ApiError::Forbidden("cross-site request refused".into()));
    }
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    let caller = match who.require_form(Action::WriteData, Some(get("csrf").unwrap_or(""))) {
        Ok(caller) => caller.clone(),
        Err(e) => return refuse(c, e),
    };
    let lang = c.lang;
    // numbers as typed the Vietnamese way; which cells hold text comes from the grid
    let (code, ou, pe) = (a.code.clone(), a.ou.clone(), a.pe.clone());
    let target = match s
        .read(move |conn| entry::target(conn, &code, &ou, &pe))
        .await
    {
        Ok(t) => t,
        Err(e) => return refuse(c, e),
    };
    let text_indicators: Vec<String> = {
        let codes: Vec<String> = target
            .form
            .form
            .indicators()
            .map(|i| i.indicator.clone())
            .collect();
        match s
            .read(move |conn| {
                Ok(dantoc_store::indicators::list(conn)?
                    .into_iter()
                    .filter(|(_, i)| {
                        codes.contains(&i.code)
                            && matches!(
                                i.value_type,
                                dantoc_domain::indicator::ValueType::Text
                                    | dantoc_domain::indicator::ValueType::YesNo
                            )
                    })
                    .map(|(_, i)| i.code)
                    .collect())
            })
            .await
        {
            Ok(v) => v,
            Err(e) => return e.into_response(),
        }
    };
    let mut values = vec![];
    for (k, typed) in &fields {
        let Some(rest) = k.strip_prefix("v:") else {
            continue;
        };
        let Some((ind, dis)) = rest.split_once(':') else {
            continue;
        };
        let v = if text_indicators.iter().any(|t| t == ind) {
            typed.trim().to_string()
        } else {
            number_input(typed)
        };
        let orig = get(&format!("o:{rest}")).unwrap_or("").trim();
        if v == orig {
            continue;
        }
        let base = get(&format!("b:{rest}"))
            .and_then(|b| b.parse::<i64>().ok())
            .unwrap_or(0);
        values.push(EntryValue {
            indicator: ind.to_string(),
            disagg: dis.to_string(),
            value: (!v.is_empty()).then_some(v),
            comment: None,
            base_version: base,
        });
    }
    if values.is_empty() {
        return Redirect::to(&format!("{}&luu=0", a.href())).into_response();
    }
    let mut batch = EntryBatch {
        batch_id: format!("html-{}", dantoc_store::secret::random_hex(16)),
        hash: String::new(),
        form: target.form.form.code.clone(),
        org_unit: target.unit_ref(),
        period: target.period.to_string(),
        values,
    };
    batch.hash = entry::content_hash(&batch);
    let typed: HashMap<(String, String), String> = batch
        .values
        .iter()
        .map(|v| {
            (
                (v.indicator.clone(), v.disagg.clone()),
                v.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    let who2 = caller.clone();
    let saved: Result<SaveResponse, _> = s
        .run(move |db| {
            let allowed = db.read(|c| who2.allowed(c))?;
            entry::save(db, &who2.actor(), allowed.as_ref(), &batch)
        })
        .await;
    let r = match saved {
        Ok(r) => r,
        Err(e) => return refuse(c, e),
    };
    if r.conflicts == 0 && r.errors == 0 {
        return Redirect::to(&format!("{}&luu={}", a.href(), r.saved)).into_response();
    }
    let mut kept = HashMap::new();
    for v in &r.values {
        let key = (v.indicator.clone(), v.disagg.clone());
        let value = typed.get(&key).cloned().unwrap_or_default();
        match v.status {
            CellStatus::Saved => {}
            CellStatus::Error => {
                kept.insert(
                    key,
                    Kept {
                        value,
                        error: v.message.clone(),
                        conflict: None,
                    },
                );
            }
            CellStatus::Conflict => {
                kept.insert(
                    key,
                    Kept {
                        value,
                        error: None,
                        conflict: Some(ConflictView {
                            value: v.value.clone().unwrap_or_default(),
                            version: v.version,
                            by: v.updated_by.clone().unwrap_or_default(),
                            at: v.updated_at.as_deref().map(short_time).unwrap_or_default(),
                        }),
                    },
                );
            }
        }
    }
    let error = match lang {
        Lang::Vi => format!(
            "Đã lưu {} ô. {} ô có lỗi, {} ô đã được người khác sửa trong lúc bạn nhập: xem các ô được đánh dấu.",
            r.saved, r.errors, r.conflicts
        ),
        Lang::En => format!(
            "Saved {} cells. {} cells have errors, {} were changed by someone else meanwhile: see the marked cells.",
            r.saved, r.errors, r.conflicts
        ),
    };
    let status = if r.errors > 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::CONFLICT
    };
    let shown = Shown {
        kept,
        notice: None,
        error: Some(error),
    };
    render_entry(&s, c, caller, &a, shown, status).await
}

// ---------------------------------------------------------------------------------------------
// The script and the service worker

const ENTRY_JS: &str = include_str!("../static/entry.js");
const SW_JS: &str = include_str!("../static/sw.js");

/// A short digest of what the service worker keeps: a new release renames its cache.
fn assets_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let all = format!(
            "{ENTRY_JS}{}{}",
            include_str!("../static/app.css"),
            include_str!("../static/icon.svg")
        );
        dantoc_store::secret::sha256_hex(all.as_bytes())[..12].to_string()
    })
}

/// `GET /static/entry.js`.
pub async fn entry_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        ENTRY_JS,
    )
        .into_response()
}

/// `GET /nhap-lieu/sw.js`: the service worker of the entry pages (scope `/nhap-lieu/`).
pub async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SW_JS.replace("__VERSION__", assets_version()),
    )
        .into_response()
}

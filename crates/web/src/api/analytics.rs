//! Analytics: DHIS2's `GET /api/analytics` (headers / rows / metaData), the native pivot
//! (`GET /api/pivot`: the laid-out table with flags per cell), and the same pivot as files.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use dantoc_domain::analytics::{Computed, DimId, PivotTable, Request};
use dantoc_domain::period::Period;
use dantoc_store::analytics;
use serde_json::{Map, Value, json};

/// The request in a query string: `dimension=` and `filter=` (repeated, DHIS2 style), optional
/// `rows=`, `columns=`, `hierarchy=`, `skipEmpty=false`.
pub fn request(p: &Params) -> ApiResult<Request> {
    let mut r = Request::parse(
        &p.each("dimension"),
        &p.each("filter"),
        p.get("rows"),
        p.get("columns"),
        p.get("hierarchy"),
    )
    .map_err(ApiError::Invalid)?;
    if p.get("skipEmpty").is_some() || p.get("hideEmptyRows").is_some() {
        r.skip_empty = p.bool("skipEmpty")? || p.bool("hideEmptyRows")?;
    }
    Ok(r)
}

/// The current month: anchors relative periods (`LAST_5_YEARS`, …).
pub fn today() -> Period {
    let d = dantoc_store::clock::today();
    let y = d.get(0..4).and_then(|s| s.parse().ok()).unwrap_or(2025);
    let m = d.get(5..7).and_then(|s| s.parse().ok()).unwrap_or(1);
    Period::month(y, m).unwrap_or_else(|| Period::year(2025).expect("year"))
}

/// Run a pivot for a caller: what they may see only.
pub async fn run(s: &AppState, who: &Principal, req: Request) -> ApiResult<(Request, Computed)> {
    let visible = who.visible();
    s.read(move |c| {
        let comp = analytics::pivot(c, &req, today(), visible.as_deref())?;
        Ok((req, comp))
    })
    .await
}

/// A title made of the single items of the request ("Dân số … — Tỉnh Quảng Ninh — Năm 2024"),
/// unless `title=` is given.
pub fn title(p: &Params, comp: &Computed) -> String {
    if let Some(t) = p.get("title") {
        return t.chars().take(200).collect();
    }
    let mut parts = vec![];
    for id in [DimId::Dx, DimId::Ou, DimId::Pe, DimId::Eth, DimId::Sex] {
        if let Some(d) = comp.dim(id)
            && d.items.len() == 1
        {
            parts.push(d.items[0].name.clone());
        }
    }
    if parts.is_empty() {
        "Bảng số liệu".into()
    } else {
        parts.join(" — ")
    }
}

pub fn source(comp: &Computed) -> String {
    let mut s = format!(
        "Nguồn: dantoc — Hệ thống thông tin dữ liệu công tác dân tộc; số liệu đến {}",
        vn_date(&dantoc_store::clock::today())
    );
    if comp.cells.values().any(|c| c.estimated) {
        s.push_str(". (ư) Ước tính: đơn vị chia tách sau 01/07/2025, chia theo trọng số mặc định");
    } else if comp.cells.values().any(|c| c.mapped) {
        s.push_str(". Có số liệu quy đổi theo đơn vị hành chính trước/sau 01/07/2025");
    }
    s
}

fn vn_date(iso: &str) -> String {
    match (iso.get(0..4), iso.get(5..7), iso.get(8..10)) {
        (Some(y), Some(m), Some(d)) => format!("{d}/{m}/{y}"),
        _ => iso.to_string(),
    }
}

/// Lay a computed pivot out with its title and source.
pub fn table(p: &Params, req: &Request, comp: &Computed) -> PivotTable {
    analytics::table(req, comp, title(p, comp), source(comp))
}

/// `GET /api/analytics`: DHIS2's analytics response. Values are strings as in DHIS2; cells
/// computed through the lineage are listed in `metaData.dantoc`, with the reason of every
/// cell left empty.
pub async fn dhis2(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let (req, comp) = run(&s, &who, request(&p)?).await?;
    Ok(Json(dhis2_json(&req, &comp)))
}

fn dhis2_json(req: &Request, comp: &Computed) -> Value {
    let shown: Vec<DimId> = req.dims.iter().map(|d| d.id).collect();
    let column = |id: DimId| match id {
        DimId::Dx => "Data",
        DimId::Ou => "Organisation unit",
        DimId::Pe => "Period",
        other => other.name_en(),
    };
    let mut headers: Vec<Value> = shown
        .iter()
        .map(|&id| {
            json!({"name": id.as_str(), "column": column(id), "valueType": "TEXT",
                   "type": "java.lang.String", "hidden": false, "meta": true})
        })
        .collect();
    headers.push(
        json!({"name": "value", "column": "Value", "valueType": "NUMBER",
                        "type": "java.lang.Double", "hidden": false, "meta": false}),
    );
    let mut rows = vec![];
    let mut mapped = vec![];
    let mut estimated = vec![];
    let mut empty = vec![];
    for (key, cell) in comp.sorted() {
        let codes: Vec<String> = shown
            .iter()
            .map(|&id| {
                comp.dim(id)
                    .map(|d| d.items[key[id.index()] as usize].code.clone())
                    .unwrap_or_default()
            })
            .collect();
        match cell.value {
            Some(v) => {
                if cell.mapped {
                    mapped.push(rows.len());
                }
                if cell.estimated {
                    estimated.push(rows.len());
                }
                let mut row: Vec<Value> = codes.into_iter().map(Value::String).collect();
                // six decimals are more than any indicator carries; no binary noise
                row.push(Value::String(dantoc_domain::value::fmt_num(
                    (v * 1e6).round() / 1e6,
                )));
                rows.push(Value::Array(row));
            }
            None => empty.push(json!({"row": codes, "reason": cell.reason})),
        }
    }
    let mut items = Map::new();
    let mut dimensions = Map::new();
    for id in DimId::ALL {
        if let Some(d) = comp.dim(id) {
            items.insert(id.as_str().into(), json!({"name": id.name_vi()}));
            for it in &d.items {
                items.insert(it.code.clone(), json!({"name": it.name}));
            }
            dimensions.insert(
                id.as_str().into(),
                d.items
                    .iter()
                    .map(|i| Value::String(i.code.clone()))
                    .collect(),
            );
        }
    }
    let width = headers.len();
    json!({
        "headers": headers,
        "metaData": {
            "items": items,
            "dimensions": dimensions,
            "dantoc": {
                "mappedRows": mapped,
                "estimatedRows": estimated,
                "empty": empty,
                "note": "mappedRows: figures computed from units of the other hierarchy through the lineage (1 July 2025); estimatedRows: with default (equal) weights for split units",
            }
        },
        "rows": rows,
        "height": rows.len(),
        "width": width,
        "headerWidth": width,
    })
}

/// `GET /api/pivot`: the laid-out table (rows, columns, cells with `mapped`, `estimated`,
/// `reason`), paged by rows with `page` and `pageSize` (default 500).
pub async fn native(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let page = p.int("page", 1, 1_000_000)?.max(1) as usize;
    let size = p.int("pageSize", 500, 10_000)?.max(1) as usize;
    let (req, comp) = run(&s, &who, request(&p)?).await?;
    let mut t = table(&p, &req, &comp);
    let total = t.rows.len();
    let from = ((page - 1) * size).min(total);
    let to = (from + size).min(total);
    t.rows = t.rows[from..to].to_vec();
    t.cells = t.cells[from..to].to_vec();
    Ok(Json(json!({
        "pager": {"page": page, "pageSize": size, "total": total, "pageCount": total.div_ceil(size)},
        "table": t,
    })))
}

/// A file download.
pub fn file(body: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/analytics.svg?chart=bar|stacked|line|pyramid&…`: a chart of the pivot, drawn on
/// the server. Rows become categories and columns series (a line chart puts periods along the
/// axis whichever way the table is laid out).
pub async fn svg(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let kind = p.get("chart").unwrap_or("bar").to_string();
    if !["bar", "stacked", "line", "pyramid"].contains(&kind.as_str()) {
        return Err(ApiError::bad_value(
            "chart",
            &kind,
            "expected bar, stacked, line or pyramid",
        ));
    }
    let (req, comp) = run(&s, &who, request(&p)?).await?;
    let mut t = table(&p, &req, &comp).compact();
    // two decimals are plenty on a chart
    for c in t.cells.iter_mut().flatten() {
        c.value = c.value.map(|v| (v * 100.0).round() / 100.0);
    }
    let mut data = dantoc_report::charts::from_table(&t);
    let periods_in_rows = t.row_dims.iter().any(|d| d.id == "pe");
    let svg = match kind.as_str() {
        "line" if !periods_in_rows => dantoc_report::charts::line(&data.transposed()),
        "line" => dantoc_report::charts::line(&data),
        "stacked" => dantoc_report::charts::stacked(&data),
        "pyramid" => {
            data.source = t.source.clone();
            dantoc_report::charts::pyramid(&data)
        }
        _ => dantoc_report::charts::bar(&data),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg,
    )
        .into_response())
}

/// `GET /api/targets?indicator=&unit=`: targets with progress (actual, % achieved, expected by
/// now, on track), the actuals seen as the caller may see them.
pub async fn targets(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let indicator = p.get("indicator").map(str::to_string);
    let unit = p.get("unit").map(str::to_string);
    let visible = who.visible();
    let list = s
        .read(move |c| {
            dantoc_store::targets::with_progress(
                c,
                indicator.as_deref(),
                unit.as_deref(),
                today(),
                visible.as_deref(),
            )
        })
        .await?;
    let items: Vec<Value> = list
        .into_iter()
        .map(|(t, pr)| {
            let status_vi = pr.status.label_vi();
            json!({"target": t, "progress": pr, "statusLabel": status_vi})
        })
        .collect();
    Ok(Json(json!({ "targets": items })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    indicator: String,
    unit: String,
    period: String,
    value: f64,
    #[serde(default)]
    source: Option<String>,
}

/// `PUT /api/targets`: set a target of a unit in the caller's scope (audited).
pub async fn set_target(
    State(s): State<AppState>,
    who: Principal,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let caller = who
        .require(dantoc_domain::access::Action::EditCatalogue)?
        .clone();
    let b: TargetBody = crate::params::json(&body)?;
    let t = s
        .run(move |db| {
            db.write(|c| {
                let allowed = caller.allowed(c)?;
                let ids = dantoc_store::accounts::resolve_units(
                    c,
                    "unit",
                    std::slice::from_ref(&b.unit),
                )?;
                crate::auth::check_unit(&allowed, ids[0], &b.unit)?;
                let source = b.source.as_deref().map(dantoc_domain::text::clean);
                dantoc_store::targets::set(
                    c,
                    &caller.actor(),
                    &b.indicator,
                    &b.unit,
                    &b.period,
                    b.value,
                    source.as_deref(),
                )
            })
        })
        .await?;
    Ok(Json(json!({ "target": t })))
}

/// Check a saved query by parsing it as a pivot request.
fn check_query(q: &str) -> Result<(), dantoc_domain::Problems> {
    let p = Params::parse(Some(q));
    Request::parse(
        &p.each("dimension"),
        &p.each("filter"),
        p.get("rows"),
        p.get("columns"),
        p.get("hierarchy"),
    )
    .map(|_| ())
}

/// `GET /api/reportTables?q=`: saved report tables (shared ones and the caller's own).
pub async fn report_tables(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let search = p.get("q").unwrap_or("").to_string();
    let user = who.caller().map(|c| c.user.username.clone());
    let list = s
        .read(move |c| dantoc_store::report_tables::list(c, user.as_deref(), &search))
        .await?;
    Ok(Json(json!({ "reportTables": list })))
}

/// `GET /api/reportTables/{id}`.
pub async fn report_table(
    State(s): State<AppState>,
    who: Principal,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> ApiResult<Json<Value>> {
    let user = who.caller().map(|c| c.user.username.clone());
    let t = s
        .read(move |c| dantoc_store::report_tables::get(c, id, user.as_deref()))
        .await?;
    Ok(Json(json!(t)))
}

/// Who may save report tables: anyone logged in who may read data; only catalogue editors
/// may mark one official or change others' tables.
fn table_writer(
    who: &Principal,
    input: &dantoc_store::report_tables::ReportTableInput,
) -> ApiResult<(crate::auth::Caller, bool)> {
    let caller = who
        .require(dantoc_domain::access::Action::ReadData)?
        .clone();
    let editor = caller
        .role()
        .may(dantoc_domain::access::Action::EditCatalogue);
    if input.official && !editor {
        return Err(ApiError::Forbidden(
            "only provincial officers mark a report table official".into(),
        ));
    }
    let any = editor && caller.is_global();
    Ok((caller, any))
}

/// `POST /api/reportTables`.
pub async fn create_report_table(
    State(s): State<AppState>,
    who: Principal,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let input: dantoc_store::report_tables::ReportTableInput = crate::params::json(&body)?;
    let (caller, _) = table_writer(&who, &input)?;
    let t = s
        .run(move |db| {
            db.write(|c| {
                dantoc_store::report_tables::create(c, &caller.actor(), &input, &check_query)
            })
        })
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!(t))).into_response())
}

/// `PUT /api/reportTables/{id}`.
pub async fn update_report_table(
    State(s): State<AppState>,
    who: Principal,
    axum::extract::Path(id): axum::extract::Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let input: dantoc_store::report_tables::ReportTableInput = crate::params::json(&body)?;
    let (caller, any) = table_writer(&who, &input)?;
    let t = s
        .run(move |db| {
            db.write(|c| {
                dantoc_store::report_tables::update(
                    c,
                    &caller.actor(),
                    id,
                    any,
                    &input,
                    &check_query,
                )
            })
        })
        .await?;
    Ok(Json(json!(t)))
}

/// `DELETE /api/reportTables/{id}`.
pub async fn delete_report_table(
    State(s): State<AppState>,
    who: Principal,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> ApiResult<Json<Value>> {
    let caller = who
        .require(dantoc_domain::access::Action::ReadData)?
        .clone();
    let any = caller.is_global();
    s.run(move |db| db.write(|c| dantoc_store::report_tables::delete(c, &caller.actor(), id, any)))
        .await?;
    Ok(Json(json!({"deleted": id})))
}

/// The laid-out pivot for a file output (all rows, no paging).
async fn whole_table(s: &AppState, who: &Principal, q: Option<&str>) -> ApiResult<PivotTable> {
    let p = Params::parse(q);
    let (req, comp) = run(s, who, request(&p)?).await?;
    Ok(table(&p, &req, &comp))
}

/// `GET /api/analytics.csv`: the pivot in long form (UTF-8 with BOM, code and name columns).
pub async fn csv(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let t = whole_table(&s, &who, q.as_deref()).await?;
    Ok(file(
        dantoc_report::csv::write(&t).into_bytes(),
        "text/csv; charset=utf-8",
        "dantoc-pivot.csv",
    ))
}

/// `GET /api/analytics.xlsx`: the pivot as an Excel workbook laid out as officials expect.
pub async fn xlsx(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let t = whole_table(&s, &who, q.as_deref()).await?;
    let bytes = tokio::task::spawn_blocking(move || dantoc_report::xlsx::write(&t))
        .await
        .map_err(|e| ApiError::Internal(format!("task failed: {e}")))?
        .map_err(|e| match e {
            dantoc_report::ReportError::TooLarge { .. } => {
                ApiError::bad("dimension", e.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        })?;
    Ok(file(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "dantoc-pivot.xlsx",
    ))
}

/// `GET /api/analytics.sdmx.csv`: the pivot as SDMX-CSV 2.0 (dataflow `DANTOC:DF_DTTS(1.0)`).
pub async fn sdmx(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let t = whole_table(&s, &who, q.as_deref()).await?;
    let flow = dantoc_report::sdmx::DataflowRef::new("DANTOC", "DF_DTTS", "1.0")
        .with_name("Số liệu công tác dân tộc");
    Ok(file(
        dantoc_report::sdmx::write(&t, &flow).into_bytes(),
        "application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8",
        "dantoc-pivot.sdmx.csv",
    ))
}

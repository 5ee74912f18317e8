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
                row.push(Value::String(dantoc_domain::value::fmt_num(v)));
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
    let t = table(&p, &req, &comp);
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

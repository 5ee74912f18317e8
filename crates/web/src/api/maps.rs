//! Choropleth maps of a pivot result: `GET /api/maps/choropleth.svg` and `.png`. The figures
//! come from the pivot engine (any indicator, period, breakdown and level, either hierarchy),
//! the boundaries from the store, the drawing from the report crate.

use crate::api::analytics::{run, table};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use dantoc_domain::analytics::{DimId, Request};
use dantoc_report::classes::Breaks;
use dantoc_report::map::{MapSpec, MapUnit, Palette, choropleth, fill_from_table};

/// The map's pivot: `ou` shown (default `VN;LEVEL-1`, the provinces), one indicator and one
/// period as filters, plus any `filter=` (e.g. `eth:DTTS`).
fn map_request(p: &Params) -> ApiResult<Request> {
    let indicator = p
        .get("indicator")
        .ok_or_else(|| ApiError::bad("indicator", "name one indicator, e.g. indicator=0101"))?;
    let period = p
        .get("period")
        .ok_or_else(|| ApiError::bad("period", "name one period, e.g. period=2024 or LAST_YEAR"))?;
    let ou = p.get("ou").unwrap_or("VN;LEVEL-1");
    let mut filters = vec![format!("dx:{indicator}"), format!("pe:{period}")];
    filters.extend(p.each("filter"));
    let mut r = Request::parse(
        &[format!("ou:{ou}")],
        &filters,
        Some("ou"),
        None,
        p.get("hierarchy"),
    )
    .map_err(ApiError::Invalid)?;
    r.skip_empty = false;
    Ok(r)
}

fn spec(p: &Params) -> ApiResult<MapSpec> {
    let method = match p.get("method").unwrap_or("quantile") {
        "quantile" => Breaks::Quantile,
        "equal" | "equal_interval" => Breaks::EqualInterval,
        "jenks" | "natural" => Breaks::Jenks,
        other => {
            return Err(ApiError::bad_value(
                "method",
                other,
                "expected quantile, equal or jenks",
            ));
        }
    };
    let palette = match p.get("palette").unwrap_or("ylorrd") {
        "ylorrd" => Palette::YlOrRd,
        "blues" => Palette::Blues,
        "greens" => Palette::Greens,
        other => {
            return Err(ApiError::bad_value(
                "palette",
                other,
                "expected ylorrd, blues or greens",
            ));
        }
    };
    Ok(MapSpec {
        method,
        palette,
        classes: p.int("classes", 5, 7)?.max(3) as usize,
        width_px: p.int("width", 800, 2400)?.max(320) as u32,
        labels: p.get("labels") != Some("false"),
        ..MapSpec::default()
    })
}

/// Draw the map of a query as SVG, with the width asked.
async fn draw(s: &AppState, who: &Principal, q: Option<&str>) -> ApiResult<(String, u32)> {
    let p = Params::parse(q);
    let mut spec = spec(&p)?;
    let (req, comp) = run(s, who, map_request(&p)?).await?;
    let t = table(&p, &req, &comp);
    let codes: Vec<String> = comp
        .dim(DimId::Ou)
        .map(|d| d.items.iter().map(|i| i.code.clone()).collect())
        .unwrap_or_default();
    if codes.len() > 12_000 {
        return Err(ApiError::bad(
            "ou",
            "more than 12,000 units on one map: choose a province or a level",
        ));
    }
    let version = req.hierarchy;
    let shapes = s
        .read(move |c| dantoc_store::maps::shapes(c, version, &codes))
        .await?;
    let mut units: Vec<MapUnit> = shapes
        .into_iter()
        .map(|u| MapUnit {
            code: u.code,
            name: u.name,
            geometry: u.shape.unwrap_or_else(|| dantoc_domain::geo::Shape(vec![])),
            value: None,
            estimated: false,
        })
        .collect();
    fill_from_table(&mut units, &t);
    spec.title = t.title.clone();
    spec.source = t.source.clone();
    spec.attribution = match version {
        dantoc_domain::admin::HierarchyVersion::V2024 => {
            crate::map_page::BOUNDARY_SOURCES_2024.to_string()
        }
        _ => crate::map_page::BOUNDARY_SOURCES_2025.to_string(),
    };
    spec.unit_of_measure = p.get("unit").unwrap_or("").to_string();
    if let Some(f) = t
        .filters
        .iter()
        .find(|f| f.id == "dx")
        .and_then(|d| d.items.first())
    {
        spec.title = f.name.clone();
    }
    spec.subtitle = t
        .filters
        .iter()
        .filter(|f| f.id != "dx")
        .map(|f| {
            f.items
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect::<Vec<_>>()
        .join(" · ");
    let width = spec.width_px;
    let svg = tokio::task::spawn_blocking(move || choropleth(&units, &spec))
        .await
        .map_err(|e| ApiError::Internal(format!("task failed: {e}")))?;
    Ok((svg, width))
}

/// `GET /api/maps/choropleth.svg?indicator=0101&period=2024&ou=22;LEVEL-2&method=jenks`.
pub async fn svg(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let (svg, _) = draw(&s, &who, q.as_deref()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg,
    )
        .into_response())
}

/// `GET /api/maps/choropleth.png?…`: the same map as PNG, for printing and reports.
pub async fn png(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let (svg, width) = draw(&s, &who, q.as_deref()).await?;
    let png = tokio::task::spawn_blocking(move || dantoc_report::map::png(&svg, width))
        .await
        .map_err(|e| ApiError::Internal(format!("task failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        png,
    )
        .into_response())
}

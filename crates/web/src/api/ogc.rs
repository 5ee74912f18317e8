//! Maps and spatial queries (issue #6): OGC API – Features Part 1 (Core, GeoJSON) under
//! `/ogcapi` — landing page, conformance, collections, items with `bbox`, `limit` and
//! `offset` and next/prev links, one item — over the units of each hierarchy and the villages;
//! plain GeoJSON downloads (`/api/units.geojson`); and the spatial questions of `/api/units`:
//! which units hold a point, which lie near it, which villages lie inside a unit.
//!
//! Boundaries are reference data and public. Figures of indicators (`indicator=CODE&period=`)
//! come from one pivot per page over the page's units and follow the caller's visibility, as
//! in `/api/analytics`.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use dantoc_domain::admin::{HierarchyVersion, UnitKind};
use dantoc_domain::analytics::{DimId, Request};
use dantoc_domain::geo::{self, Bbox};
use dantoc_domain::{FieldError, Problems};
use dantoc_store::gis::{self, Collection, Feature, FeatureQuery};
use dantoc_store::{Conn, StoreError};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::fmt::Write;

pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const GEOJSON: &str = "application/geo+json";
const CONFORMANCE: [&str; 2] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
];
/// Items per page unless `limit` says otherwise, and the most a page holds.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;
/// The most units one pivot takes (`ou` items of a request).
const PIVOT_UNITS: usize = 5_000;

/// `scheme://host` of this request, for absolute links: the `Host` header, https when a TLS
/// proxy says so (`X-Forwarded-Proto`) or cookies are marked Secure.
fn base(s: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .map(str::to_string)
        .or_else(|| s.config.bind.map(|b| b.to_string()))
        .unwrap_or_else(|| "localhost".into());
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        Some("http") => "http",
        _ if s.config.secure_cookies => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": kind, "title": title})
}

fn json_response(v: Value) -> Response {
    Json(v).into_response()
}

fn geojson_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, GEOJSON)], body).into_response()
}

/// `GET /ogcapi`: the landing page.
pub async fn landing(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let b = base(&s, &headers);
    json_response(json!({
        "title": "dantoc — OGC API – Features",
        "description": "Ranh giới đơn vị hành chính (trước và sau 01/07/2025) và vị trí thôn, bản, với số liệu chỉ tiêu — boundaries of Vietnam's administrative units before and after 1 July 2025 and village points, with indicator figures (indicator=CODE&period=YYYY).",
        "links": [
            link(format!("{b}/ogcapi"), "self", "application/json", "This document"),
            link(format!("{b}/api/openapi.json"), "service-desc", "application/vnd.oai.openapi+json;version=3.1", "The API definition"),
            link(format!("{b}/ogcapi/conformance"), "conformance", "application/json", "Conformance classes implemented"),
            link(format!("{b}/ogcapi/collections"), "data", "application/json", "The feature collections"),
        ],
    }))
}

/// `GET /ogcapi/conformance`.
pub async fn conformance() -> Response {
    json_response(json!({ "conformsTo": CONFORMANCE }))
}

fn collection_json(b: &str, info: &gis::CollectionInfo) -> Value {
    let id = info.collection.id();
    let mut v = json!({
        "id": id,
        "title": info.collection.title_vi(),
        "description": format!("{} — {} features", info.collection.title_en(), info.features),
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            link(format!("{b}/ogcapi/collections/{id}"), "self", "application/json", "This collection"),
            link(format!("{b}/ogcapi/collections/{id}/items"), "items", GEOJSON, "The features (GeoJSON)"),
        ],
    });
    if let Some(e) = info.extent {
        v["extent"] = json!({
            "spatial": {"bbox": [[e.minx, e.miny, e.maxx, e.maxy]], "crs": CRS84}
        });
    }
    v
}

/// `GET /ogcapi/collections`.
pub async fn collections(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let b = base(&s, &headers);
    let list = s.read(gis::collections).await?;
    Ok(json_response(json!({
        "links": [link(format!("{b}/ogcapi/collections"), "self", "application/json", "This document")],
        "collections": list.iter().map(|i| collection_json(&b, i)).collect::<Vec<_>>(),
    })))
}

fn find_collection(id: &str) -> ApiResult<Collection> {
    Collection::parse(id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "collection {id:?} (see /ogcapi/collections: units-2025-province, units-2025-commune, units-2024-province, villages)"
        ))
    })
}

/// `GET /ogcapi/collections/{collectionId}`.
pub async fn collection(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let col = find_collection(&id)?;
    let b = base(&s, &headers);
    let list = s.read(gis::collections).await?;
    let info = list
        .iter()
        .find(|i| i.collection == col)
        .cloned()
        .unwrap_or(gis::CollectionInfo {
            collection: col,
            features: 0,
            extent: None,
        });
    Ok(json_response(collection_json(&b, &info)))
}

/// Indicator figures asked for with `indicator=CODE[,CODE…]&period=PERIOD` (and `density=true`
/// for figures per km²).
#[derive(Debug, Clone)]
struct Figures {
    indicators: Vec<String>,
    period: String,
    density: bool,
}

fn figures(p: &Params) -> ApiResult<Option<Figures>> {
    let indicators = p.all("indicator");
    let density = p.bool("density")?;
    if indicators.is_empty() {
        if let Some(pe) = p.get("period") {
            return Err(ApiError::bad_value(
                "period",
                pe,
                "a period goes with indicator=CODE",
            ));
        }
        return Ok(None);
    }
    let Some(period) = p.get("period") else {
        return Err(ApiError::bad(
            "period",
            "indicator= needs the period of its figures, e.g. period=2024",
        ));
    };
    Ok(Some(Figures {
        indicators,
        period: period.to_string(),
        density,
    }))
}

/// A pivot's problems named after this API's parameters.
fn renamed(p: Problems) -> Problems {
    Problems(
        p.0.into_iter()
            .map(|e| {
                let field = match e.field.as_str() {
                    "dimension[0]" => "indicator",
                    "dimension[2]" => "period",
                    "dimension[1]" => "ou",
                    other => other,
                };
                FieldError {
                    field: field.to_string(),
                    ..e
                }
            })
            .collect(),
    )
}

fn rename_store(e: StoreError) -> StoreError {
    match e {
        StoreError::Invalid(p) => StoreError::Invalid(renamed(p)),
        other => other,
    }
}

/// (unit code → indicator code → value) for the features, one pivot per page (per 5,000 units).
type Values = HashMap<String, HashMap<String, f64>>;

fn values_of<S: AsRef<str>>(
    c: &mut dyn Conn,
    f: &Figures,
    version: HierarchyVersion,
    units: &[S],
    visible: Option<&[i64]>,
) -> Result<Values, StoreError> {
    let mut out: Values = HashMap::new();
    for chunk in units.chunks(PIVOT_UNITS) {
        let codes: Vec<&str> = chunk.iter().map(|u| u.as_ref()).collect();
        let req = Request::parse(
            &[
                format!("dx:{}", f.indicators.join(";")),
                format!("ou:{}", codes.join(";")),
                format!("pe:{}", f.period),
            ],
            &[],
            None,
            None,
            Some(version.as_str()),
        )
        .map_err(|p| StoreError::Invalid(renamed(p)))?;
        let comp = dantoc_store::analytics::pivot(c, &req, super::analytics::today(), visible)
            .map_err(rename_store)?;
        let (Some(dx), Some(ou)) = (comp.dim(DimId::Dx), comp.dim(DimId::Ou)) else {
            continue;
        };
        // one figure per indicator and unit
        if comp.dim(DimId::Pe).map(|d| d.items.len()) != Some(1) {
            return Err(StoreError::invalid(
                FieldError::new("period", "one period, e.g. 2024 or 2024Q1").value(&f.period),
            ));
        }
        for (key, cell) in &comp.cells {
            if let Some(v) = cell.value {
                let ind = &dx.items[key[DimId::Dx.index()] as usize].code;
                let unit = &ou.items[key[DimId::Ou.index()] as usize].code;
                out.entry(unit.clone())
                    .or_default()
                    .insert(ind.clone(), (v * 1e6).round() / 1e6);
            }
        }
    }
    Ok(out)
}

fn properties(f: &Feature, figures: Option<&Figures>, values: &Values) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("code".into(), f.code.clone().into());
    m.insert("name".into(), f.name.clone().into());
    m.insert("full_name".into(), f.full_name.clone().into());
    m.insert("type".into(), f.type_word.clone().into());
    m.insert("kind".into(), f.kind.as_str().into());
    m.insert("version".into(), f.version.as_str().into());
    m.insert("level".into(), f.level.into());
    m.insert(
        "parent_code".into(),
        f.parent_code
            .clone()
            .map(Value::from)
            .unwrap_or(Value::Null),
    );
    m.insert("province_code".into(), f.province_code.clone().into());
    if let Some(a) = f.area_km2 {
        m.insert("area_km2".into(), a.into());
        m.insert("centroid_lon".into(), f.lon.into());
        m.insert("centroid_lat".into(), f.lat.into());
    }
    if let Some(g) = f.geocoded {
        m.insert("geocoded".into(), g.into());
    }
    m.insert("source".into(), f.source.clone().into());
    if let Some(fig) = figures {
        m.insert("period".into(), fig.period.clone().into());
        let mine = values.get(&f.code);
        for ind in &fig.indicators {
            let v = mine.and_then(|m| m.get(ind)).copied();
            m.insert(ind.clone(), v.map(Value::from).unwrap_or(Value::Null));
            if fig.density {
                let d = density(v, f.area_km2);
                m.insert(
                    format!("{ind}_per_km2"),
                    d.map(Value::from).unwrap_or(Value::Null),
                );
            }
        }
    }
    m
}

/// A JSON string.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `,"key":` (or without the comma first).
fn push_key(out: &mut String, first: bool, key: &str) {
    if !first {
        out.push(',');
    }
    push_str(out, key);
    out.push(':');
}

fn push_num(out: &mut String, v: Option<f64>) {
    let _ = write!(out, "{}", v.map(Value::from).unwrap_or(Value::Null));
}

/// The properties of [`properties`], written straight into the answer (a page holds
/// thousands of features).
fn write_properties(out: &mut String, f: &Feature, figures: Option<&Figures>, values: &Values) {
    out.push('{');
    for (i, (k, v)) in [
        ("code", f.code.as_str()),
        ("name", &f.name),
        ("full_name", &f.full_name),
        ("type", &f.type_word),
        ("kind", f.kind.as_str()),
        ("version", f.version.as_str()),
    ]
    .into_iter()
    .enumerate()
    {
        push_key(out, i == 0, k);
        push_str(out, v);
    }
    push_key(out, false, "level");
    let _ = write!(out, "{}", f.level);
    push_key(out, false, "parent_code");
    match &f.parent_code {
        Some(p) => push_str(out, p),
        None => out.push_str("null"),
    }
    push_key(out, false, "province_code");
    push_str(out, &f.province_code);
    if let Some(a) = f.area_km2 {
        push_key(out, false, "area_km2");
        push_num(out, Some(a));
        push_key(out, false, "centroid_lon");
        push_num(out, Some(f.lon));
        push_key(out, false, "centroid_lat");
        push_num(out, Some(f.lat));
    }
    if let Some(g) = f.geocoded {
        push_key(out, false, "geocoded");
        out.push_str(if g { "true" } else { "false" });
    }
    push_key(out, false, "source");
    push_str(out, &f.source);
    if let Some(fig) = figures {
        write_figures(out, &f.code, f.area_km2, fig, values);
    }
    out.push('}');
}

/// `,"period":…,"CODE":value[,"CODE_per_km2":…]…`: a unit's figures, the last properties.
fn write_figures(out: &mut String, code: &str, area: Option<f64>, fig: &Figures, values: &Values) {
    push_key(out, false, "period");
    push_str(out, &fig.period);
    let mine = values.get(code);
    for ind in &fig.indicators {
        let v = mine.and_then(|m| m.get(ind)).copied();
        push_key(out, false, ind);
        push_num(out, v);
        if fig.density {
            push_key(out, false, &format!("{ind}_per_km2"));
            push_num(out, density(v, area));
        }
    }
}

fn density(v: Option<f64>, area: Option<f64>) -> Option<f64> {
    match (v, area) {
        (Some(v), Some(a)) if a > 0.0 => Some((v / a * 1000.0).round() / 1000.0),
        _ => None,
    }
}

/// One feature as GeoJSON text, its geometry (`f.geometry`, or the row's as read:
/// [`gis::each_feature`]) spliced in as stored.
fn write_feature(
    out: &mut String,
    f: &Feature,
    geometry: &str,
    figures: Option<&Figures>,
    values: &Values,
    links: Option<&Value>,
) {
    out.push_str("{\"type\":\"Feature\",\"id\":");
    push_str(out, &f.code);
    out.push_str(",\"geometry\":");
    out.push_str(geometry);
    out.push_str(",\"properties\":");
    write_properties(out, f, figures, values);
    if let Some(l) = links {
        out.push_str(",\"links\":");
        out.push_str(&l.to_string());
    }
    out.push('}');
}

/// The query parameters items pages accept; any other is refused (OGC API – Features asks
/// servers to say so rather than ignore it).
const ITEM_PARAMS: [&str; 11] = [
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "f",
    "indicator",
    "period",
    "density",
    "province",
    "version",
];

fn check_params(q: Option<&str>, allowed: &[&str]) -> ApiResult<()> {
    let unknown: Vec<String> = form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .map(|(k, _)| k.into_owned())
        .filter(|k| !allowed.contains(&k.as_str()))
        .collect();
    match unknown.first() {
        None => Ok(()),
        Some(k) => Err(ApiError::bad_value(
            k,
            k,
            format!(
                "unknown query parameter; this request takes {}",
                allowed.join(", ")
            ),
        )),
    }
}

fn check_crs(p: &Params) -> ApiResult<()> {
    for key in ["bbox-crs", "crs"] {
        if let Some(v) = p.get(key)
            && v != CRS84
        {
            return Err(ApiError::bad_value(
                key,
                v,
                format!("only {CRS84} (longitude, latitude in WGS 84) is served"),
            ));
        }
    }
    match p.get("f") {
        None | Some("json") | Some("geojson") => Ok(()),
        Some(other) => Err(ApiError::bad_value(
            "f",
            other,
            "only json (GeoJSON) is served",
        )),
    }
}

fn bbox(p: &Params) -> ApiResult<Option<Bbox>> {
    p.get("bbox")
        .map(|b| Bbox::parse(b).map_err(|e| ApiError::bad_value("bbox", b, e)))
        .transpose()
}

fn feature_query(p: &Params) -> ApiResult<FeatureQuery> {
    let limit = match p.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<u64>() {
            Ok(0) | Err(_) => {
                return Err(ApiError::bad_value(
                    "limit",
                    v,
                    format!(
                        "expected a whole number from 1 (larger than {MAX_LIMIT} counts as {MAX_LIMIT})"
                    ),
                ));
            }
            // a limit over the maximum is served as the maximum (OGC API – Features)
            Ok(n) => (n as usize).min(MAX_LIMIT),
        },
    };
    let offset = p.int("offset", 0, i64::MAX / 2)? as usize;
    Ok(FeatureQuery {
        bbox: bbox(p)?,
        province: p.get("province").map(str::to_string),
        offset,
        limit: Some(limit),
    })
}

/// The query string of this request with another offset (and the limit served).
fn page_href(b: &str, path: &str, q: Option<&str>, offset: usize, limit: usize) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
        if k != "offset" && k != "limit" {
            ser.append_pair(&k, &v);
        }
    }
    ser.append_pair("limit", &limit.to_string());
    ser.append_pair("offset", &offset.to_string());
    format!("{b}{path}?{}", ser.finish())
}

/// `GET /ogcapi/collections/{collectionId}/items`: a page of features as a GeoJSON
/// FeatureCollection with `numberMatched`, `numberReturned` and next/prev links.
pub async fn items(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let col = find_collection(&id)?;
    check_params(q.as_deref(), &ITEM_PARAMS)?;
    let p = Params::parse(q.as_deref());
    check_crs(&p)?;
    let fq = feature_query(&p)?;
    let fig = figures(&p)?;
    let limit = fq.limit.unwrap_or(DEFAULT_LIMIT);
    let visible = who.visible();
    let fig2 = fig.clone();
    let fq2 = fq.clone();
    // the features first, written as they are read; the counts and links after them
    let page = s.read(move |c| {
        let mut out = String::new();
        let mut slots: Vec<(usize, String, Option<f64>)> = vec![];
        out.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
        if col.is_points() {
            let page = gis::features(c, col, &fq2)?;
            let values = match &fig2 {
                Some(f) if !page.features.is_empty() => {
                    let codes: Vec<&str> = page.features.iter().map(|f| f.code.as_str()).collect();
                    values_of(c, f, col.version, &codes, visible.as_deref())?
                }
                _ => Values::new(),
            };
            for (i, f) in page.features.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_feature(&mut out, f, &f.geometry, fig2.as_ref(), &values, None);
            }
            return Ok((page.matched, page.features.len(), out, slots));
        }
        let t = std::time::Instant::now();
        let plan = gis::plan_page(c, col, &fq2)?;
        // boundaries of communes average 3 KB, those of the finer provinces more
        out.reserve(plan.len(&fq2) * 4096);
        let mut n = 0;
        gis::each_feature(c, col, &fq2, &plan, &mut |f, geometry| {
            if n > 0 {
                out.push(',');
            }
            write_feature(&mut out, f, geometry, None, &Values::new(), None);
            if fig2.is_some() {
                // where the figures go: before the properties' closing brace
                slots.push((out.len() - 2, f.code.clone(), f.area_km2));
            }
            n += 1;
            Ok(())
        })?;
        tracing::debug!(
            collection = %col.id(),
            features = n,
            bytes = out.len(),
            "items page: {:.1} ms to read and write",
            t.elapsed().as_secs_f64() * 1e3
        );
        Ok((plan.matched, n, out, slots))
    });
    // the figures of the page's units: one pivot, on another connection while the page is read
    let pivot = async {
        match &fig {
            Some(f) if !col.is_points() => {
                let (f, fq3) = (f.clone(), fq.clone());
                let visible = who.visible();
                s.read(move |c| {
                    let t = std::time::Instant::now();
                    let plan = gis::plan_page(c, col, &fq3)?;
                    if plan.is_empty(&fq3) {
                        return Ok(Values::new());
                    }
                    let codes = gis::page_codes(c, col, &fq3, &plan)?;
                    let v = values_of(c, &f, col.version, &codes, visible.as_deref())?;
                    tracing::debug!(
                        collection = %col.id(),
                        units = codes.len(),
                        "items page: {:.1} ms for the pivot of its figures",
                        t.elapsed().as_secs_f64() * 1e3
                    );
                    Ok(v)
                })
                .await
            }
            _ => Ok(Values::new()),
        }
    };
    let ((matched, returned, page, slots), values) = tokio::try_join!(page, pivot)?;
    let mut out = match &fig {
        Some(f) if !slots.is_empty() => {
            let mut out = String::with_capacity(page.len() + slots.len() * 64 + 4096);
            let mut last = 0;
            for (at, code, area) in &slots {
                out.push_str(&page[last..*at]);
                write_figures(&mut out, code, *area, f, &values);
                last = *at;
            }
            out.push_str(&page[last..]);
            out
        }
        _ => page,
    };
    let b = base(&s, &headers);
    let path = format!("/ogcapi/collections/{id}/items");
    let mut links = vec![
        link(
            page_href(&b, &path, q.as_deref(), fq.offset, limit),
            "self",
            GEOJSON,
            "This page",
        ),
        link(
            format!("{b}/ogcapi/collections/{id}"),
            "collection",
            "application/json",
            "The collection",
        ),
    ];
    if fq.offset + returned < matched {
        links.push(link(
            page_href(&b, &path, q.as_deref(), fq.offset + limit, limit),
            "next",
            GEOJSON,
            "Next page",
        ));
    }
    if fq.offset > 0 {
        links.push(link(
            page_href(
                &b,
                &path,
                q.as_deref(),
                fq.offset.saturating_sub(limit),
                limit,
            ),
            "prev",
            GEOJSON,
            "Previous page",
        ));
    }
    let _ = write!(
        out,
        "],\"numberMatched\":{matched},\"numberReturned\":{returned},\"timeStamp\":{},\"links\":{}}}",
        Value::from(dantoc_store::clock::now()),
        Value::Array(links)
    );
    Ok(geojson_response(out))
}

/// `GET /ogcapi/collections/{collectionId}/items/{featureId}`: one feature (id = unit code).
pub async fn item(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let col = find_collection(&id)?;
    check_params(
        q.as_deref(),
        &["f", "crs", "indicator", "period", "density"],
    )?;
    let p = Params::parse(q.as_deref());
    check_crs(&p)?;
    let fig = figures(&p)?;
    let visible = who.visible();
    let fig2 = fig.clone();
    let code = fid.clone();
    let (f, values) = s
        .read(move |c| {
            let Some(f) = gis::feature(c, col, &code)? else {
                return Ok((None, Values::new()));
            };
            let values = match &fig2 {
                Some(fg) => values_of(
                    c,
                    fg,
                    col.version,
                    std::slice::from_ref(&f.code),
                    visible.as_deref(),
                )?,
                None => Values::new(),
            };
            Ok((Some(f), values))
        })
        .await?;
    let f = f.ok_or_else(|| ApiError::NotFound(format!("feature {fid:?} in collection {id}")))?;
    let b = base(&s, &headers);
    let links = json!([
        link(
            format!("{b}/ogcapi/collections/{id}/items/{}", f.code),
            "self",
            GEOJSON,
            "This feature"
        ),
        link(
            format!("{b}/ogcapi/collections/{id}"),
            "collection",
            "application/json",
            "The collection"
        ),
    ]);
    let mut out = String::with_capacity(f.geometry.len() + 1000);
    write_feature(
        &mut out,
        &f,
        &f.geometry,
        fig.as_ref(),
        &values,
        Some(&links),
    );
    Ok(geojson_response(out))
}

// ---------------------------------------------------------------- /api/units…

fn version(p: &Params) -> ApiResult<HierarchyVersion> {
    Ok(p.parsed::<HierarchyVersion>("version")?
        .unwrap_or(HierarchyVersion::CURRENT))
}

fn collection_text(features: &[Feature], figures: Option<&Figures>, values: &Values) -> String {
    let size: usize = features.iter().map(|f| f.geometry.len() + 400).sum();
    let mut out = String::with_capacity(size + 100);
    out.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
    for (i, f) in features.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_feature(&mut out, f, &f.geometry, figures, values, None);
    }
    out.push_str("]}");
    out
}

/// `GET /api/units.geojson?version=2025&kind=commune&province=22`: every unit of a version and
/// kind (provinces by default) with its boundary, as one GeoJSON file; `bbox`, `indicator`,
/// `period` and `density` as in the OGC items.
pub async fn units_geojson(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    check_params(
        q.as_deref(),
        &[
            "version",
            "kind",
            "province",
            "bbox",
            "indicator",
            "period",
            "density",
        ],
    )?;
    let p = Params::parse(q.as_deref());
    let v = version(&p)?;
    let kind = p.parsed::<UnitKind>("kind")?.unwrap_or(UnitKind::Province);
    let col = Collection { version: v, kind };
    let fq = FeatureQuery {
        bbox: bbox(&p)?,
        province: p.get("province").map(str::to_string),
        offset: 0,
        limit: None,
    };
    let fig = figures(&p)?;
    let visible = who.visible();
    let fig2 = fig.clone();
    let (page, values) = s
        .read(move |c| {
            let page = gis::features(c, col, &fq)?;
            let values = match &fig2 {
                Some(f) if !page.features.is_empty() => {
                    let codes: Vec<&str> = page.features.iter().map(|f| f.code.as_str()).collect();
                    values_of(c, f, v, &codes, visible.as_deref())?
                }
                _ => Values::new(),
            };
            Ok((page, values))
        })
        .await?;
    let name = match p.get("province") {
        Some(pr) => format!("dantoc-{}-{v}-{pr}.geojson", kind.as_str()),
        None => format!("dantoc-{}-{v}.geojson", kind.as_str()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, GEOJSON.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        collection_text(&page.features, fig.as_ref(), &values),
    )
        .into_response())
}

fn point(p: &Params) -> ApiResult<(f64, f64)> {
    let num = |k: &str| -> ApiResult<f64> {
        let v = p
            .get(k)
            .ok_or_else(|| ApiError::bad(k, "required: degrees (WGS 84)"))?;
        v.parse::<f64>()
            .map_err(|_| ApiError::bad_value(k, v, "expected a number of degrees"))
    };
    let (lon, lat) = (num("lon")?, num("lat")?);
    geo::check_point(lon, lat).map_err(|(k, m)| ApiError::bad(k, m))?;
    Ok((lon, lat))
}

fn unit_json(f: &Feature) -> Value {
    let mut m = properties(f, None, &Values::new());
    m.remove("source");
    Value::Object(m)
}

/// `GET /api/units/at?lon=&lat=&version=2025`: the units whose boundary holds the point —
/// province, then commune (district and commune before 2025, where boundaries exist).
pub async fn units_at(State(s): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    check_params(q.as_deref(), &["lon", "lat", "version"])?;
    let p = Params::parse(q.as_deref());
    let v = version(&p)?;
    let (lon, lat) = point(&p)?;
    let list = s.read(move |c| gis::units_at(c, v, lon, lat)).await?;
    Ok(Json(json!({
        "version": v,
        "point": [lon, lat],
        "units": list.iter().map(unit_json).collect::<Vec<_>>(),
    })))
}

/// `GET /api/units/near?lon=&lat=&km=&version=&kind=&limit=`: units whose centroid (villages:
/// whose point) lies within `km` of the point, nearest first.
pub async fn units_near(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    check_params(
        q.as_deref(),
        &["lon", "lat", "km", "version", "kind", "limit"],
    )?;
    let p = Params::parse(q.as_deref());
    let v = version(&p)?;
    let (lon, lat) = point(&p)?;
    let km = match p.get("km") {
        None => return Err(ApiError::bad("km", "required: a distance in km, up to 500")),
        Some(k) => match k.parse::<f64>() {
            Ok(x) if x > 0.0 && x <= 500.0 => x,
            _ => {
                return Err(ApiError::bad_value(
                    "km",
                    k,
                    "expected a distance in km, more than 0 and up to 500",
                ));
            }
        },
    };
    let kind = p.parsed::<UnitKind>("kind")?;
    let limit = p.int("limit", 100, 1000)?.max(1) as usize;
    let list = s
        .read(move |c| gis::units_near(c, v, lon, lat, km, kind, limit))
        .await?;
    Ok(Json(json!({
        "version": v,
        "point": [lon, lat],
        "km": km,
        "units": list
            .iter()
            .map(|n| {
                let mut u = unit_json(&n.feature);
                u["distance_km"] = n.distance_km.into();
                u
            })
            .collect::<Vec<_>>(),
    })))
}

/// `GET /api/units/{code}/villages.geojson?version=`: the villages whose point lies inside the
/// unit's boundary, as GeoJSON points (`geocoded`: placed at the commune's centroid).
pub async fn unit_villages(
    State(s): State<AppState>,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    check_params(q.as_deref(), &["version"])?;
    let v = version(&Params::parse(q.as_deref()))?;
    let list = s.read(move |c| gis::villages_in(c, v, &code)).await?;
    Ok(geojson_response(collection_text(
        &list,
        None,
        &Values::new(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_properties_are_the_json_of_the_map() {
        let f = Feature {
            id: 1,
            code: "06877".into(),
            version: HierarchyVersion::V2025,
            name: "Đông \"Ngũ\" \\ \u{1}".into(),
            full_name: "Xã Đông Ngũ".into(),
            type_word: "xã".into(),
            kind: UnitKind::Commune,
            level: 2,
            parent_code: Some("22".into()),
            province_code: "22".into(),
            area_km2: Some(123.456),
            lon: 107.5,
            lat: 21.25,
            geocoded: None,
            source: "communes_2025".into(),
            geometry: geo::point_json(107.5, 21.25),
        };
        let fig = Figures {
            indicators: vec!["x-pop-total".into(), "0101".into()],
            period: "2025".into(),
            density: true,
        };
        let mut values = Values::new();
        values.insert(
            "06877".into(),
            HashMap::from([("x-pop-total".to_string(), 12000.0)]),
        );
        for fig in [None, Some(&fig)] {
            let mut out = String::new();
            write_properties(&mut out, &f, fig, &values);
            let read: Value = serde_json::from_str(&out).expect(&out);
            assert_eq!(read, Value::Object(properties(&f, fig, &values)), "{out}");
        }
        let mut out = String::new();
        write_feature(&mut out, &f, &f.geometry, None, &values, None);
        let read: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(read["id"], "06877");
        assert_eq!(read["geometry"]["coordinates"], json!([107.5, 21.25]));
    }
}

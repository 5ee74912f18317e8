//! Reference data: administrative units and lineage, ethnic groups, the indicator catalogue.

use crate::auth::{Principal, check_unit};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, json};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use dantoc_domain::access::Action;
use dantoc_domain::admin::{HierarchyVersion, UnitKind};
use dantoc_domain::ethnic::CodeList;
use dantoc_domain::indicator::Indicator;
use dantoc_store::{audit, indicators, units};
use serde::Deserialize;
use serde_json::{Value, json};

fn version(p: &Params) -> ApiResult<HierarchyVersion> {
    Ok(p.parsed::<HierarchyVersion>("version")?
        .unwrap_or(HierarchyVersion::CURRENT))
}

pub async fn health(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let backend = s.db.backend().as_str();
    let (schema, units) = s
        .read(|c| {
            Ok((
                dantoc_store::migrate::current_version(c)?,
                c.scalar_i64("SELECT count(*) FROM admin_unit", &[])?,
            ))
        })
        .await?;
    Ok(Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "backend": backend,
        "schemaVersion": schema,
        "adminUnits": units,
    })))
}

/// `GET /api/units`: provinces of a version; `q` searches names; `parent` lists children;
/// `level` (province, district, commune, village) filters descendants of `parent`.
pub async fn list_units(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let v = version(&p)?;
    let limit = p.int("limit", 50, 1000)?;
    let kind = p.parsed::<UnitKind>("level")?;
    let query = p.get("q").map(str::to_string);
    let parent = p.get("parent").map(str::to_string);
    let explicit_version = p.get("version").is_some();
    let list = s
        .read(move |c| match (query, parent) {
            (Some(q), _) => units::search(c, &q, explicit_version.then_some(v), limit),
            (None, Some(parent)) => match kind {
                Some(k) => units::descendants(c, v, &parent, Some(k)),
                None => units::children(c, v, &parent),
            },
            (None, None) => units::provinces(c, v),
        })
        .await?;
    Ok(Json(json!({ "version": v, "units": list })))
}

pub async fn get_unit(
    State(s): State<AppState>,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let v = version(&Params::parse(q.as_deref()))?;
    let u = s.read(move |c| units::require(c, v, &code)).await?;
    Ok(Json(serde_json::to_value(u).unwrap_or_default()))
}

pub async fn unit_children(
    State(s): State<AppState>,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let v = version(&Params::parse(q.as_deref()))?;
    let list = s.read(move |c| units::children(c, v, &code)).await?;
    Ok(Json(json!({ "version": v, "units": list })))
}

pub async fn unit_ancestors(
    State(s): State<AppState>,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let v = version(&Params::parse(q.as_deref()))?;
    let list = s.read(move |c| units::ancestors(c, v, &code)).await?;
    Ok(Json(json!({ "version": v, "units": list })))
}

/// `GET /api/units/{code}/lineage?version=2024`: where an old unit went; with `version=2025`
/// (default) where a current unit came from.
pub async fn unit_lineage(
    State(s): State<AppState>,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let v = version(&Params::parse(q.as_deref()))?;
    let links = s.read(move |c| units::lineage(c, v, &code)).await?;
    Ok(Json(json!({ "version": v, "lineage": links })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightsBody {
    weights: std::collections::BTreeMap<String, f64>,
}

/// `PUT /api/units/{old code}/lineage`: a province sets the shares of a split pre-2025 unit.
pub async fn set_lineage_weights(
    State(s): State<AppState>,
    who: Principal,
    Path(code): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::EditLineage)?.clone();
    let actor = caller.actor();
    let b: WeightsBody = json(&body)?;
    let weights: Vec<(String, f64)> = b.weights.into_iter().collect();
    let links = s
        .run(move |db| {
            db.write(|c| {
                let allowed = caller.allowed(c)?;
                let old_id = units::id_of(c, HierarchyVersion::V2024, &code)?.ok_or_else(|| {
                    dantoc_store::StoreError::NotFound(format!(
                        "administrative unit {code} in the 2024 hierarchy"
                    ))
                })?;
                check_unit(&allowed, old_id, &code)?;
                let before = units::lineage(c, HierarchyVersion::V2024, &code)?;
                let after = units::set_weights(c, &code, &weights)?;
                audit::record(
                    c,
                    &actor,
                    "update",
                    "unit_lineage",
                    &code,
                    Some(&serde_json::to_value(&before).unwrap_or_default()),
                    Some(&serde_json::to_value(&after).unwrap_or_default()),
                )?;
                Ok(after)
            })
        })
        .await?;
    Ok(Json(json!({ "lineage": links })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VillageBody {
    code: String,
    name: String,
    #[serde(rename = "type", default = "default_village_type")]
    type_word: String,
}

fn default_village_type() -> String {
    "thôn".into()
}

/// `POST /api/units/{commune}/villages`: register a village (thôn, bản) under a commune.
pub async fn create_village(
    State(s): State<AppState>,
    who: Principal,
    Path(commune): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let caller = who.require(Action::EditUnits)?.clone();
    let actor = caller.actor();
    let v = version(&Params::parse(q.as_deref()))?;
    let b: VillageBody = json(&body)?;
    let unit = s
        .run(move |db| {
            db.write(|c| {
                let allowed = caller.allowed(c)?;
                let commune_id = units::id_of(c, v, &commune)?.ok_or_else(|| {
                    dantoc_store::StoreError::NotFound(format!(
                        "administrative unit {commune} in the {v} hierarchy"
                    ))
                })?;
                check_unit(&allowed, commune_id, &commune)?;
                let u = units::create_village(c, v, &commune, &b.code, &b.name, &b.type_word)?;
                audit::record(
                    c,
                    &actor,
                    "create",
                    "admin_unit",
                    &format!("{}@{}", u.code, v),
                    None,
                    Some(&serde_json::to_value(&u).unwrap_or_default()),
                )?;
                Ok(u)
            })
        })
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(serde_json::to_value(unit).unwrap_or_default()),
    ))
}

fn code_list(p: &Params) -> ApiResult<CodeList> {
    Ok(p.parsed::<CodeList>("codeList")?.unwrap_or_default())
}

fn ethnic_json(g: &dantoc_domain::ethnic::EthnicGroup, list: CodeList) -> Value {
    json!({
        "code": g.code(list),
        "codeList": list.as_str(),
        "code2008": g.code_2008,
        "code1979": g.code_1979,
        "name": g.name,
        "otherNames": g.other_names,
        "population2019": g.population_2019,
        "minority": g.minority,
    })
}

/// `GET /api/ethnic-groups?codeList=gso2008|gso1979&q=`.
pub async fn list_ethnic(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let list = code_list(&p)?;
    let query = p.get("q").map(str::to_string);
    let groups = s
        .read(move |c| match query {
            Some(q) => dantoc_store::ethnic::search(c, &q),
            None => dantoc_store::ethnic::list(c, list),
        })
        .await?;
    Ok(Json(json!({
        "codeList": list.as_str(),
        "legalBasis": list.legal_basis(),
        "ethnicGroups": groups.iter().map(|g| ethnic_json(g, list)).collect::<Vec<_>>(),
    })))
}

pub async fn get_ethnic(
    State(s): State<AppState>,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let list = code_list(&Params::parse(q.as_deref()))?;
    let c2 = code.clone();
    let g = s
        .read(move |c| dantoc_store::ethnic::get(c, list, &c2))
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("ethnic group {code} in list {}", list.as_str()))
        })?;
    Ok(Json(ethnic_json(&g, list)))
}

pub async fn list_indicators(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let query = p.get("q").map(str::to_string);
    let list = s
        .read(move |c| match query {
            Some(q) => indicators::search(c, &q, 200),
            None => Ok(indicators::list(c)?.into_iter().map(|(_, i)| i).collect()),
        })
        .await?;
    Ok(Json(json!({ "indicators": list })))
}

pub async fn get_indicator(
    State(s): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let c2 = code.clone();
    let i = s
        .read(move |c| indicators::get(c, &c2))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("indicator {code}")))?;
    Ok(Json(serde_json::to_value(i).unwrap_or_default()))
}

fn clean_indicator(mut i: Indicator) -> Indicator {
    use dantoc_domain::text::clean;
    for s in [
        &mut i.code,
        &mut i.name_vi,
        &mut i.name_en,
        &mut i.topic,
        &mut i.unit,
        &mut i.legal_source,
        &mut i.main_disaggregations,
        &mut i.publication_period,
        &mut i.responsible_agency,
        &mut i.higher_level_code,
        &mut i.concept,
        &mut i.method,
        &mut i.data_source,
    ] {
        *s = clean(s);
    }
    i.formula = i.formula.map(|f| clean(&f)).filter(|f| !f.is_empty());
    i.weight_indicator = i
        .weight_indicator
        .map(|f| clean(&f))
        .filter(|f| !f.is_empty());
    i
}

/// `POST /api/indicators`: add an indicator to the catalogue.
pub async fn create_indicator(
    State(s): State<AppState>,
    who: Principal,
    body: Bytes,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let actor = who.require(Action::EditCatalogue)?.actor();
    let i = clean_indicator(json::<Indicator>(&body)?);
    let saved = s
        .run(move |db| {
            db.write(|c| {
                if indicators::get(c, &i.code)?.is_some() {
                    return Err(dantoc_store::StoreError::Conflict(format!(
                        "indicator {} exists",
                        i.code
                    )));
                }
                indicators::check(c, &i)?;
                indicators::insert(c, &i)?;
                audit::record(
                    c,
                    &actor,
                    "create",
                    "indicator",
                    &i.code,
                    None,
                    Some(&serde_json::to_value(&i).unwrap_or_default()),
                )?;
                Ok(i)
            })
        })
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(serde_json::to_value(saved).unwrap_or_default()),
    ))
}

/// `PUT /api/indicators/{code}`: replace a definition; the code may change (a provisional
/// code replaced by an official one) and stored values follow it.
pub async fn update_indicator(
    State(s): State<AppState>,
    who: Principal,
    Path(code): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let actor = who.require(Action::EditCatalogue)?.actor();
    let i = clean_indicator(json::<Indicator>(&body)?);
    let saved = s
        .run(move |db| {
            db.write(|c| {
                let before = indicators::get(c, &code)?.ok_or_else(|| {
                    dantoc_store::StoreError::NotFound(format!("indicator {code}"))
                })?;
                if i.code != code && indicators::get(c, &i.code)?.is_some() {
                    return Err(dantoc_store::StoreError::Conflict(format!(
                        "indicator {} exists",
                        i.code
                    )));
                }
                indicators::check(c, &i)?;
                indicators::update(c, &code, &i)?;
                audit::record(
                    c,
                    &actor,
                    "update",
                    "indicator",
                    &code,
                    Some(&serde_json::to_value(&before).unwrap_or_default()),
                    Some(&serde_json::to_value(&i).unwrap_or_default()),
                )?;
                Ok(i)
            })
        })
        .await?;
    Ok(Json(serde_json::to_value(saved).unwrap_or_default()))
}

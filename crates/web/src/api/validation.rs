//! Validation rules (`/api/validationRules`) and the batch validation report
//! (`/api/validation`, `/api/validation.csv`).

use crate::auth::{Principal, check_unit};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, json};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use dantoc_domain::access::Action;
use dantoc_domain::validation::RuleDef;
use dantoc_store::validation::{self, Report, ReportFilter};
use serde_json::{Value, json};

/// `GET /api/validationRules`: every rule (the catalogue's, readable by anyone).
pub async fn list_rules(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let rules = s.read(validation::list).await?;
    Ok(Json(json!({ "validationRules": rules })))
}

/// `GET /api/validationRules/{code}`.
pub async fn get_rule(
    State(s): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let c2 = code.clone();
    let r = s
        .read(move |c| validation::get(c, &c2))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("validation rule {code}")))?;
    Ok(Json(serde_json::to_value(r).unwrap_or_default()))
}

/// `POST /api/validationRules`: add a rule (those who edit the catalogue).
pub async fn create_rule(
    State(s): State<AppState>,
    who: Principal,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = who.require(Action::EditCatalogue)?.actor();
    let def: RuleDef = json(&body)?;
    let saved = s
        .run(move |db| db.write(|c| validation::create(c, &actor, &def)))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(saved).unwrap_or_default()),
    ))
}

/// `PUT /api/validationRules/{code}`: replace a rule (its code may change).
pub async fn update_rule(
    State(s): State<AppState>,
    who: Principal,
    Path(code): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let actor = who.require(Action::EditCatalogue)?.actor();
    let def: RuleDef = json(&body)?;
    let saved = s
        .run(move |db| db.write(|c| validation::update(c, &actor, &code, &def)))
        .await?;
    Ok(Json(serde_json::to_value(saved).unwrap_or_default()))
}

/// `DELETE /api/validationRules/{code}`.
pub async fn delete_rule(
    State(s): State<AppState>,
    who: Principal,
    Path(code): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = who.require(Action::EditCatalogue)?.actor();
    let c2 = code.clone();
    s.run(move |db| db.write(|c| validation::delete(c, &actor, &c2)))
        .await?;
    Ok(Json(json!({ "deleted": code })))
}

/// The report's filter from a query: `ou` (or `orgUnit`, repeated or `;`-separated),
/// `children`, `pe` (or `period`), `startDate`, `endDate`, `rule`, `limit`.
pub fn report_filter(p: &Params) -> ApiResult<ReportFilter> {
    Ok(ReportFilter {
        units: [p.all("ou"), p.all("orgUnit")].concat(),
        children: p.bool("children")?,
        periods: [p.all("pe"), p.all("period")].concat(),
        start_date: p.get("startDate").map(str::to_string),
        end_date: p.get("endDate").map(str::to_string),
        rules: p.all("rule"),
        scope: None,
        limit: p.int("limit", validation::MAX_LISTED as i64, 100_000)? as usize,
    })
}

/// Run the report for the caller: logged in, and only over units within their scope (a unit
/// outside it is refused; below the units asked for, values outside the scope are left out).
pub async fn run_report(s: &AppState, who: &Principal, mut f: ReportFilter) -> ApiResult<Report> {
    let caller = who.require(Action::ReadData)?.clone();
    s.read(move |c| {
        if !caller.is_global() {
            let allowed = caller.allowed(c)?;
            let ids = dantoc_store::accounts::resolve_units(c, "ou", &f.units)?;
            for (id, code) in ids.iter().zip(&f.units) {
                check_unit(&allowed, *id, code)?;
            }
            f.scope = Some(caller.scope.clone());
        }
        validation::report(c, &f)
    })
    .await
}

/// `GET /api/validation?ou=CODE&children=true&pe=2024`: violations of the rules by the stored
/// values of a unit subtree over periods.
pub async fn report(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Report>> {
    let f = report_filter(&Params::parse(q.as_deref()))?;
    Ok(Json(run_report(&s, &who, f).await?))
}

/// `GET /api/validation.csv`: the same as CSV (UTF-8 with BOM, for Excel).
pub async fn report_csv(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let f = report_filter(&Params::parse(q.as_deref()))?;
    let r = run_report(&s, &who, f).await?;
    let mut buf = vec![];
    validation::write_csv(&mut buf, &r).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(crate::api::analytics::file(
        buf,
        "text/csv; charset=utf-8",
        "dantoc-validation.csv",
    ))
}

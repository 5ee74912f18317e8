//! Reporting forms (biểu mẫu): read by anyone, configured by provincial officers.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::params::{Params, json};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use dantoc_domain::access::Action;
use dantoc_domain::form::Form;
use dantoc_store::forms;
use serde_json::{Value, json};

/// `GET /api/forms?q=`: every form (or those matching `q`, diacritics ignored).
pub async fn list(State(s): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let q = p.get("q").unwrap_or_default().to_string();
    let all = s.read(move |c| forms::list(c, &q)).await?;
    Ok(Json(json!({ "forms": all })))
}

/// `GET /api/forms/{code}`.
pub async fn get(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult<Json<Value>> {
    let f = s.read(move |c| forms::require(c, &code)).await?;
    Ok(Json(serde_json::to_value(f).unwrap_or_default()))
}

/// `PUT /api/forms/{code}`: create or replace a form (201 when created).
pub async fn put(
    State(s): State<AppState>,
    who: Principal,
    Path(code): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = who.require(Action::EditCatalogue)?.actor();
    let form = json::<Form>(&body)?;
    let (saved, created) = s
        .run(move |db| db.write(|c| forms::put(c, &actor, &code, form.clone())))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(serde_json::to_value(saved).unwrap_or_default()),
    ))
}

/// `DELETE /api/forms/{code}`.
pub async fn delete(
    State(s): State<AppState>,
    who: Principal,
    Path(code): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = who.require(Action::EditCatalogue)?.actor();
    s.run(move |db| db.write(|c| forms::delete(c, &actor, &code)))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

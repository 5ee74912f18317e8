//! Data entry: the grid of a form for a unit and period (`GET /api/forms/{code}/entry`) and
//! batches of cell saves (`POST /api/dataEntry`) as the entry page's offline queue sends them:
//! each batch applied once, a cell changed meanwhile by someone else answered as a conflict.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, json};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use dantoc_domain::access::Action;
use dantoc_domain::entry::EntryBatch;
use dantoc_store::entry::{self, Grid, SaveResponse};

/// `GET /api/forms/{code}/entry?ou=UNIT&pe=PERIOD[&eth=08,10]`: every cell of the form for
/// the unit and period with its stored value, version, author and time, and the previous
/// period's value; `eth` adds rows for ethnic groups not yet present in the unit.
pub async fn grid(
    State(s): State<AppState>,
    who: Principal,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Grid>> {
    let caller = who.require(Action::ReadData)?.clone();
    let p = Params::parse(q.as_deref());
    let ou = p
        .get("ou")
        .or(p.get("orgUnit"))
        .ok_or_else(|| ApiError::bad("ou", "the unit is required: ou=CODE (or CODE@2024)"))?
        .to_string();
    let pe = p
        .get("pe")
        .or(p.get("period"))
        .ok_or_else(|| ApiError::bad("pe", "the period is required: pe=2025"))?
        .to_string();
    let eth = p.all("eth");
    let g = s
        .read(move |c| {
            let allowed = caller.allowed(c)?;
            entry::grid(c, &code, &ou, &pe, &eth, allowed.as_ref())
        })
        .await?;
    Ok(Json(g))
}

/// `POST /api/dataEntry`: a batch of cell saves (see [`dantoc_domain::entry::EntryBatch`]).
pub async fn save(
    State(s): State<AppState>,
    who: Principal,
    body: Bytes,
) -> ApiResult<Json<SaveResponse>> {
    let caller = who.require(Action::WriteData)?.clone();
    let batch: EntryBatch = json(&body)?;
    let r = s
        .run(move |db| {
            let allowed = db.read(|c| caller.allowed(c))?;
            entry::save(db, &caller.actor(), allowed.as_ref(), &batch)
        })
        .await?;
    Ok(Json(r))
}

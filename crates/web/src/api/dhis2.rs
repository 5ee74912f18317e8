//! DHIS2 UIDs of indicators, units, disaggregations and forms: read them, put them as JSON or
//! upload them as CSV (all or nothing, every problem located, audited), delete one (audited).
//! `dataValueSets` with `idScheme=UID` translates through them.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, json};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use dantoc_domain::FieldError;
use dantoc_domain::access::Action;
use dantoc_domain::dhis2::Kind;
use dantoc_store::dhis2::{self, MappingInput, PutCount};
use serde_json::{Value, json};

/// `GET /api/dhis2/uids?kind=`: the mappings (of one kind: `indicator`, `unit`,
/// `disaggregation`, `form`, or DHIS2's names of them).
pub async fn list(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    who.require(Action::ReadData)?;
    let kind = Params::parse(q.as_deref()).parsed::<Kind>("kind")?;
    let list = s.read(move |c| dhis2::list(c, kind)).await?;
    Ok(Json(json!({ "mappings": list })))
}

fn answer(dry_run: bool, c: PutCount) -> Json<Value> {
    Json(json!({
        "status": "OK",
        "dryRun": dry_run,
        "created": c.created,
        "updated": c.updated,
        "unchanged": c.unchanged,
    }))
}

/// `PUT /api/dhis2/uids`: a JSON list `[{"kind", "code", "uid"}]`, created or replaced all
/// together (`dryRun=true`: checked and counted, nothing written). Needs `EditCatalogue`;
/// units only within the caller's units.
pub async fn put(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::EditCatalogue)?.clone();
    let dry = Params::parse(q.as_deref()).bool("dryRun")?;
    let items: Vec<MappingInput> = json(&body)?;
    let count = s
        .run(move |db| {
            db.transaction(!dry, |c| {
                let allowed = caller.allowed(c)?;
                dhis2::put(
                    c,
                    &caller.actor(),
                    &items,
                    allowed.as_ref(),
                    "api: dhis2 uids",
                    &|i, e| FieldError {
                        field: format!("[{i}].{}", e.field),
                        ..e
                    },
                )
            })
        })
        .await?;
    Ok(answer(dry, count))
}

/// `POST /api/dhis2/uids.csv`: the same from a CSV file with columns `kind,code,uid`; every
/// problem names its row and column.
pub async fn post_csv(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::EditCatalogue)?.clone();
    let dry = Params::parse(q.as_deref()).bool("dryRun")?;
    let count = s
        .run(move |db| {
            let (items, loc) = dhis2::read_csv(&body[..])?;
            db.transaction(!dry, |c| {
                let allowed = caller.allowed(c)?;
                dhis2::put(
                    c,
                    &caller.actor(),
                    &items,
                    allowed.as_ref(),
                    "api: dhis2 uids CSV",
                    &|i, e| loc.locate(i, e),
                )
            })
        })
        .await?;
    Ok(answer(dry, count))
}

/// `DELETE /api/dhis2/uids?kind=&code=`: remove one item's UID (the item stays; its UID no
/// longer translates and may be given to another item). Needs `EditCatalogue`, like `PUT`;
/// units only within the caller's units (403 otherwise); 404 when the item has no UID stored.
pub async fn delete(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::EditCatalogue)?.clone();
    let p = Params::parse(q.as_deref());
    let need = |k: &str| -> ApiResult<String> {
        p.get(k)
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad(k, "required"))
    };
    let (kind, code) = (need("kind")?, need("code")?);
    let gone = s
        .run(move |db| {
            db.write(|c| {
                let allowed = caller.allowed(c)?;
                dhis2::delete(c, &caller.actor(), &kind, &code, allowed.as_ref())
            })
        })
        .await?;
    Ok(Json(json!({ "status": "OK", "deleted": gone })))
}

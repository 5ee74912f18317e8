//! Approval of reporting forms per unit and period (submit, approve, return, lock, unlock) and
//! the completeness report: who submitted, on time or late, who is overdue.

use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, json};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use dantoc_domain::access::Action;
use dantoc_domain::approval::{State as FlowState, Step};
use dantoc_store::approvals::{self, Acting, ListFilter, StepRequest};
use serde::Deserialize;
use serde_json::{Value, json};

/// Who is acting, for the store.
pub fn acting(c: &Caller) -> Acting {
    Acting {
        role: c.role(),
        global: c.is_global(),
        scope: c.scope.clone(),
    }
}

/// Today in Vietnam (`YYYY-MM-DD`): deadlines are Vietnamese dates.
pub fn today() -> String {
    approvals::local_date(&dantoc_store::clock::now()).unwrap_or_else(dantoc_store::clock::today)
}

fn states(p: &Params) -> ApiResult<Vec<FlowState>> {
    p.all("state")
        .iter()
        .map(|s| {
            s.parse::<FlowState>()
                .map_err(|e| ApiError::bad_value("state", s, e))
        })
        .collect()
}

/// `GET /api/approvals?form=&ou=&pe=&children=true&state=`: the approvals of the units the
/// caller may see. Asked for one form, one unit and one period (no children, no state), the
/// answer holds that approval even when nothing was done yet (a draft).
pub async fn list(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::ReadData)?.clone();
    let p = Params::parse(q.as_deref());
    let f = ListFilter {
        form: p.get("form").map(str::to_string),
        units: p.all("ou"),
        children: p.bool("children")?,
        periods: p.all("pe"),
        states: states(&p)?,
        visible: who.visible(),
        limit: p.int("limit", 10_000, 100_000)?,
    };
    let one = f.form.is_some()
        && f.units.len() == 1
        && f.periods.len() == 1
        && !f.children
        && f.states.is_empty();
    let list = s
        .read(move |c| {
            if one {
                let (form, unit, period) =
                    (f.form.as_deref().unwrap_or(""), &f.units[0], &f.periods[0]);
                let a = approvals::get(c, form, unit, period)?;
                // the same unit as the store resolved it, checked against the caller's scope
                if let Some(id) = dantoc_store::values::unit_of(c, unit, period)? {
                    crate::auth::check_unit(&caller.allowed(c)?, id, unit)?;
                }
                let steps = approvals::steps(c, form, unit, period)?;
                return Ok(json!({ "approvals": [a], "steps": steps }));
            }
            Ok(json!({ "approvals": approvals::list(c, &f)? }))
        })
        .await?;
    Ok(Json(list))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepBody {
    pub form: String,
    pub org_unit: String,
    pub period: String,
    pub action: String,
    #[serde(default)]
    pub comment: Option<String>,
}

impl StepBody {
    pub fn request(self) -> ApiResult<StepRequest> {
        let step = self
            .action
            .parse::<Step>()
            .map_err(|e| ApiError::bad_value("action", &self.action, e))?;
        Ok(StepRequest {
            form: self.form,
            unit: self.org_unit,
            period: self.period,
            step,
            comment: self.comment,
        })
    }
}

/// Take a step for the caller (authorised for writing data already).
pub async fn take_step(
    s: &AppState,
    caller: &Caller,
    req: StepRequest,
) -> ApiResult<approvals::Approval> {
    let actor = caller.actor();
    let acting = acting(caller);
    s.run(move |db| db.write(|c| approvals::transition(c, &actor, &acting, &req)))
        .await
}

/// `POST /api/approvals` with `{"form","orgUnit","period","action","comment"}`: take a step;
/// answers the approval in its new state (403 when the caller may not, 409 when the state does
/// not allow the step, 400 for a missing comment or required cells, each named).
pub async fn post(
    State(s): State<AppState>,
    who: Principal,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::WriteData)?.clone();
    let req = json::<StepBody>(&body)?.request()?;
    let a = take_step(&s, &caller, req).await?;
    Ok(Json(serde_json::to_value(a).unwrap_or_default()))
}

fn need(p: &Params, k: &str) -> ApiResult<String> {
    p.get(k)
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad(k, "required"))
}

/// The unit a report is about: `ou`, or else the caller's first scope unit.
pub fn ou_param(p: &Params, caller: &Caller) -> ApiResult<String> {
    match p.get("ou") {
        Some(ou) => Ok(ou.to_string()),
        None => caller
            .user
            .scopes
            .iter()
            .find(|s| caller.scope.contains(&s.unit_id))
            .map(|s| s.code.clone())
            .ok_or_else(|| ApiError::bad("ou", "required")),
    }
}

/// The completeness request: form, unit and period.
fn report_params(p: &Params, caller: &Caller) -> ApiResult<(String, String, String)> {
    Ok((need(p, "form")?, ou_param(p, caller)?, need(p, "pe")?))
}

async fn report(
    s: &AppState,
    who: &Principal,
    q: Option<&str>,
) -> ApiResult<approvals::Completeness> {
    let caller = who.require(Action::ReadData)?.clone();
    let p = Params::parse(q);
    let (form, ou, pe) = report_params(&p, &caller)?;
    let today = today();
    s.read(move |c| {
        let visible = caller.allowed(c)?;
        approvals::completeness(c, &form, &ou, &pe, &today, visible.as_ref())
    })
    .await
}

/// `GET /api/completeness?form=&ou=&pe=`: every unit of the form's level under `ou` (in the
/// hierarchy in force for the period) that the caller may see: its state, when it submitted,
/// on time or late, cells filled of those expected; with totals.
pub async fn completeness(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<approvals::Completeness>> {
    Ok(Json(report(&s, &who, q.as_deref()).await?))
}

/// `GET /api/completeness.csv`: the same, one row per unit.
pub async fn completeness_csv(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let r = report(&s, &who, q.as_deref()).await?;
    let mut buf = vec![];
    r.write_csv(&mut buf)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let name = format!(
        "attachment; filename=\"completeness-{}-{}-{}.csv\"",
        r.form, r.ou, r.period
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        buf,
    )
        .into_response())
}

/// `GET /api/completeness/overdue?ou=&pe=`: units past the deadline of a form reported for the
/// period that have not submitted it, every form.
pub async fn overdue(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::ReadData)?.clone();
    let p = Params::parse(q.as_deref());
    let (ou, pe) = (ou_param(&p, &caller)?, need(&p, "pe")?);
    let today = today();
    let t = today.clone();
    let list = s
        .read(move |c| {
            let visible = caller.allowed(c)?;
            approvals::overdue(c, &ou, &pe, &t, visible.as_ref())
        })
        .await?;
    Ok(Json(json!({ "today": today, "overdue": list })))
}

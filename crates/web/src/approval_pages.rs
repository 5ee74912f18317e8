//! Pages of the approval workflow: `/phe-duyet` (the forms of the user's units, those waiting
//! for the level above first, with approve / return / lock / unlock as plain HTML forms that
//! carry the session's CSRF token) and `/tien-do` (completeness of a form for a period under a
//! unit, and the overdue units of every form).

use crate::account_pages::{form, refuse};
use crate::api::approvals::{acting, ou_param, take_step, today};
use crate::auth::{Caller, Principal, same_origin};
use crate::error::ApiError;
use crate::pages::{Ctx, render_page};
use crate::params::Params;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dantoc_domain::access::{Action, Role};
use dantoc_domain::approval::{State as FlowState, Step};
use dantoc_domain::period::{Period, PeriodType};
use dantoc_store::approvals::{
    self, Approval, Completeness, ListFilter, Overdue, ScopeFacts, StepRequest,
};
use dantoc_store::forms;

/// `2026-11-30T09:55:23.123Z` → `30/11/2026 16:55` (Vietnam's time, UTC+7).
pub fn local_time(at: &str) -> String {
    let (Some(date), Some(h), Some(m)) = (
        approvals::local_date(at),
        at.get(11..13).and_then(|h| h.parse::<u32>().ok()),
        at.get(14..16),
    ) else {
        return at.to_string();
    };
    format!(
        "{}/{}/{} {:02}:{m}",
        &date[8..10],
        &date[5..7],
        &date[..4],
        (h + 7) % 24
    )
}

/// `2026-01-15` → `15/01/2026`.
pub fn local_day(d: &str) -> String {
    match (d.get(..4), d.get(5..7), d.get(8..10)) {
        (Some(y), Some(m), Some(day)) => format!("{day}/{m}/{y}"),
        _ => d.to_string(),
    }
}

fn period_label(p: &str) -> String {
    p.parse::<Period>()
        .map(|p| p.label_vi())
        .unwrap_or_else(|_| p.to_string())
}

fn problem_text(e: &ApiError) -> String {
    match e {
        ApiError::Invalid(p) => {
            p.0.iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        }
        ApiError::Conflict(m)
        | ApiError::Forbidden(m)
        | ApiError::NotFound(m)
        | ApiError::Unauthorized(m) => m.clone(),
        _ => "lỗi máy chủ: thao tác chưa thực hiện được".into(),
    }
}

/// What the approvals page lists.
#[derive(Debug, Clone, Default)]
struct Shown {
    form: String,
    period: String,
    /// A state, or `all`.
    state: String,
}

impl Shown {
    fn from(get: &dyn Fn(&str) -> Option<String>, caller: &Caller) -> Shown {
        let approver = matches!(caller.role(), Role::Admin | Role::ProvinceOfficer);
        Shown {
            form: get("form").unwrap_or_default(),
            period: get("pe").unwrap_or_default(),
            state: get("state")
                .unwrap_or_else(|| if approver { "submitted" } else { "all" }.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    c: Ctx,
    items: Vec<(Approval, Vec<Step>)>,
    forms: Vec<(String, String)>,
    shown: Shown,
    states: Vec<FlowState>,
    error: Option<String>,
    notice: Option<String>,
}

impl ApprovalsPage {
    fn unit_ref(&self, a: &Approval) -> String {
        format!("{}@{}", a.unit, a.unit_version)
    }
    fn time(&self, at: &str) -> String {
        local_time(at)
    }
    fn day(&self, d: &str) -> String {
        local_day(d)
    }
    fn period(&self, p: &str) -> String {
        period_label(p)
    }
    fn state_class(&self, s: &FlowState) -> &'static str {
        match s {
            FlowState::Returned => "warn",
            _ => "",
        }
    }
}

async fn approvals_render(
    s: &AppState,
    caller: Caller,
    c: Ctx,
    shown: Shown,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let lang = c.lang;
    let filter = ListFilter {
        form: Some(shown.form.clone()).filter(|f| !f.is_empty()),
        periods: Some(shown.period.clone())
            .filter(|p| !p.is_empty())
            .into_iter()
            .collect(),
        states: shown.state.parse().into_iter().collect(),
        visible: (!caller.is_global()).then(|| caller.scope.clone()),
        limit: 500,
        ..Default::default()
    };
    let who = acting(&caller);
    let r = s
        .read(move |conn| {
            let list = approvals::list(conn, &filter)?;
            let facts = ScopeFacts::load(conn, &who)?;
            let forms = forms::list(conn, "")?
                .into_iter()
                .map(|f| (f.form.code, f.form.name_vi))
                .collect();
            let items = list
                .into_iter()
                .map(|a| {
                    let steps = facts.steps(&a);
                    (a, steps)
                })
                .collect();
            Ok((items, forms))
        })
        .await;
    match r {
        Ok((items, forms)) => render_page(
            ApprovalsPage {
                c,
                items,
                forms,
                shown,
                states: FlowState::ALL.to_vec(),
                error,
                notice,
            },
            lang,
            status,
        ),
        // a wrong filter (an unknown form or period) is said on the page
        Err(e @ (ApiError::Invalid(_) | ApiError::NotFound(_))) if error.is_none() => {
            let msg = problem_text(&e);
            Box::pin(approvals_render(
                s,
                caller,
                c,
                Shown {
                    state: shown.state,
                    ..Default::default()
                },
                Some(msg),
                notice,
                StatusCode::BAD_REQUEST,
            ))
            .await
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /phe-duyet?form=&pe=&state=`: the approvals of the user's units (for the level above:
/// those submitted and waiting, by default).
pub async fn approvals_page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let c = Ctx::new(&headers, q.as_deref(), "/phe-duyet".into()).with(&who);
    let caller = match who.require(Action::ReadData) {
        Ok(x) => x.clone(),
        Err(e) => return refuse(c, e),
    };
    let p = Params::parse(q.as_deref());
    let shown = Shown::from(&|k| p.get(k).map(str::to_string), &caller);
    approvals_render(&s, caller, c, shown, None, None, StatusCode::OK).await
}

/// `POST /phe-duyet`: a step from the page's buttons (fields `csrf`, `form`, `unit`, `period`,
/// `action`, `comment`; `f_form`, `f_pe`, `f_state` keep the list as it was), or from the
/// entry page's submit button, whose `back` (that page) is where a step taken returns to.
pub async fn approvals_submit(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let get = |k: &str| {
        f.get(k)
            .map(|v| dantoc_domain::text::clean(v))
            .filter(|v| !v.is_empty())
    };
    let c = Ctx::new(&headers, None, "/phe-duyet".into()).with(&who);
    if !same_origin(&headers) {
        return refuse(c, ApiError::Forbidden("cross-site request refused".into()));
    }
    let caller = match who.require_form(
        Action::WriteData,
        Some(f.get("csrf").map(String::as_str).unwrap_or("")),
    ) {
        Ok(x) => x.clone(),
        Err(e) => return refuse(c, e),
    };
    let shown = Shown::from(&|k| get(&format!("f_{k}")), &caller);
    let step = match get("action").unwrap_or_default().parse::<Step>() {
        Ok(s) => s,
        Err(e) => {
            return approvals_render(&s, caller, c, shown, Some(e), None, StatusCode::BAD_REQUEST)
                .await;
        }
    };
    let req = StepRequest {
        form: get("form").unwrap_or_default(),
        unit: get("unit").unwrap_or_default(),
        period: get("period").unwrap_or_default(),
        step,
        comment: get("comment"),
    };
    // the entry page's submit button (without script): back to that page
    let back = get("back").filter(|b| {
        b.starts_with("/nhap-lieu/")
            && b.contains('?')
            && !b.contains("//")
            && !b.contains('\\')
            && !b.chars().any(char::is_control)
    });
    let taken = take_step(&s, &caller, req).await;
    if let (Ok(_), Some(back)) = (&taken, &back) {
        return axum::response::Redirect::to(&format!("{back}&nop=1")).into_response();
    }
    match taken {
        Ok(a) => {
            let notice = format!(
                "{}: biểu {} của {} ({}) {} — {}.",
                step.label_vi(),
                a.form,
                a.unit_name,
                a.unit,
                period_label(&a.period).to_lowercase(),
                a.state.label_vi()
            );
            approvals_render(&s, caller, c, shown, None, Some(notice), StatusCode::OK).await
        }
        Err(e) => {
            let status = match &e {
                ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
                ApiError::Conflict(_) => StatusCode::CONFLICT,
                ApiError::Invalid(_) | ApiError::NotFound(_) => StatusCode::BAD_REQUEST,
                _ => return e.into_response(),
            };
            let msg = problem_text(&e);
            approvals_render(&s, caller, c, shown, Some(msg), None, status).await
        }
    }
}

/// The last period of a type that ended before `today` (`YYYY-MM-DD`).
fn previous_period(kind: PeriodType, today: &str) -> Option<Period> {
    let y: i32 = today.get(..4)?.parse().ok()?;
    let m: u32 = today
        .get(5..7)?
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m))?;
    let now = match kind {
        PeriodType::Yearly => Period::year(y),
        PeriodType::SixMonthly => Period::six_month(y, if m <= 6 { 1 } else { 2 }),
        PeriodType::Quarterly => Period::quarter(y, (m - 1) / 3 + 1),
        PeriodType::Monthly => Period::month(y, m),
    }?;
    now.shift(-1)
}

#[derive(Template)]
#[template(path = "progress.html")]
struct ProgressPage {
    c: Ctx,
    forms: Vec<(String, String)>,
    form: String,
    period: String,
    ou: String,
    report: Option<Completeness>,
    overdue: Vec<Overdue>,
    error: Option<String>,
}

impl ProgressPage {
    fn time(&self, at: &str) -> String {
        local_time(at)
    }
    fn day(&self, d: &str) -> String {
        local_day(d)
    }
    fn period_label(&self) -> String {
        period_label(&self.period)
    }
    fn csv_href(&self) -> String {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("form", &self.form)
            .append_pair("ou", &self.ou)
            .append_pair("pe", &self.period)
            .finish();
        format!("/api/completeness.csv?{q}")
    }
    fn pct(&self, part: &u64, whole: &u64) -> String {
        if *whole == 0 {
            "0".into()
        } else {
            format!("{:.0}", *part as f64 * 100.0 / *whole as f64)
        }
    }
}

/// `GET /tien-do?form=&pe=&ou=`: completeness of a form for a period under a unit (default: the
/// first form, the last period ended, the user's first unit), and the overdue units.
pub async fn progress_page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let c = Ctx::new(&headers, q.as_deref(), "/tien-do".into()).with(&who);
    let caller = match who.require(Action::ReadData) {
        Ok(x) => x.clone(),
        Err(e) => return refuse(c, e),
    };
    let lang = c.lang;
    let p = Params::parse(q.as_deref());
    let today = today();
    let all = match s.read(|conn| forms::list(conn, "")).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let chosen = p
        .get("form")
        .and_then(|code| all.iter().find(|f| f.form.code == code))
        .or(all.first());
    let form = chosen.map(|f| f.form.code.clone()).unwrap_or_default();
    let period = p
        .get("pe")
        .map(str::to_string)
        .or_else(|| {
            chosen
                .and_then(|f| previous_period(f.form.period_type, &today))
                .map(|p| p.to_string())
        })
        .unwrap_or_default();
    let ou = ou_param(&p, &caller).unwrap_or_default();
    let forms = all
        .iter()
        .map(|f| (f.form.code.clone(), f.form.name_vi.clone()))
        .collect();
    let mut page = ProgressPage {
        c,
        forms,
        form: form.clone(),
        period: period.clone(),
        ou: ou.clone(),
        report: None,
        overdue: vec![],
        error: None,
    };
    if ou.is_empty() || form.is_empty() || period.is_empty() {
        return render_page(page, lang, StatusCode::OK);
    }
    let r = s
        .read(move |conn| {
            let visible = caller.allowed(conn)?;
            let report =
                approvals::completeness(conn, &form, &ou, &period, &today, visible.as_ref())?;
            let overdue = approvals::overdue(conn, &ou, &period, &today, visible.as_ref())?;
            Ok((report, overdue))
        })
        .await;
    let status = match r {
        Ok((report, overdue)) => {
            page.report = Some(report);
            page.overdue = overdue;
            StatusCode::OK
        }
        Err(e @ (ApiError::Invalid(_) | ApiError::NotFound(_))) => {
            page.error = Some(problem_text(&e));
            StatusCode::BAD_REQUEST
        }
        Err(e) => return e.into_response(),
    };
    render_page(page, lang, status)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_vietnams() {
        assert_eq!(
            super::local_time("2026-01-15T17:05:00.000Z"),
            "16/01/2026 00:05"
        );
        assert_eq!(super::local_day("2026-01-15"), "15/01/2026");
        assert_eq!(
            super::previous_period(dantoc_domain::period::PeriodType::Quarterly, "2026-02-01")
                .map(|p| p.to_string())
                .as_deref(),
            Some("2025Q4")
        );
    }
}

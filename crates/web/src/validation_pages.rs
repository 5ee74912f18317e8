//! The validation page (`/kiem-tra`): the batch report of a unit subtree over periods, and the
//! rules. Server-rendered; the rules are edited through `/api/validationRules`.

use crate::api::validation::{report_filter, run_report};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::i18n::{Lang, number};
use crate::pages::{Ctx, render_page};
use crate::params::Params;
use crate::state::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dantoc_domain::validation::{Missing, Mode, RuleDef};
use dantoc_store::validation::{Report, Violation};

#[derive(Template)]
#[template(path = "validation.html")]
struct ValidationPage {
    c: Ctx,
    ou: String,
    children: bool,
    pe: String,
    start: String,
    end: String,
    report: Option<Report>,
    error: Option<String>,
    rules: Vec<RuleDef>,
    csv_href: String,
}

impl ValidationPage {
    fn n(&self, v: &f64) -> String {
        number(*v, self.c.lang)
    }
    fn unit_href(&self, v: &Violation) -> String {
        if v.unit_version == dantoc_domain::admin::HierarchyVersion::CURRENT.as_str() {
            format!("/don-vi/{}", v.unit)
        } else {
            format!("/don-vi/{}?v={}", v.unit, v.unit_version)
        }
    }
    fn importance(&self, v: &Violation) -> &'static str {
        match self.c.lang {
            Lang::Vi => v.check.importance.label_vi(),
            Lang::En => v.check.importance.as_str(),
        }
    }
    fn message<'a>(&self, v: &'a Violation) -> &'a str {
        match self.c.lang {
            Lang::Vi => &v.check.message,
            Lang::En => &v.check.message_en,
        }
    }
    fn mode(&self, r: &RuleDef) -> &'static str {
        match (r.kind, r.mode) {
            (dantoc_domain::validation::Kind::Bounds, _) => "Giới hạn",
            (_, Mode::Same) => "Từng ô",
            (_, Mode::Total) => "Tổng của đơn vị và kỳ",
        }
    }
    fn missing(&self, r: &RuleDef) -> &'static str {
        match r.missing {
            Missing::Skip => "bỏ qua",
            Missing::Zero => "tính là 0",
        }
    }
}

/// What a refused report says, in words for the page.
fn say(e: ApiError) -> String {
    match e {
        ApiError::Invalid(p) => p.to_string(),
        ApiError::NotFound(m)
        | ApiError::Conflict(m)
        | ApiError::Forbidden(m)
        | ApiError::Unauthorized(m)
        | ApiError::TooLarge(m)
        | ApiError::TooMany(m) => m,
        ApiError::ConflictList(m, _) => m,
        ApiError::Internal(_) => "Lỗi máy chủ: chưa kiểm tra được.".into(),
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `GET /kiem-tra?ou=22&children=true&pe=2024`: the batch report (logged-in users, units in
/// their scope) and the list of rules.
pub async fn page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = Params::parse(raw.as_deref());
    let ou = p.get("ou").unwrap_or("").to_string();
    let asked = !ou.is_empty();
    // a first visit ticks "with the units below"
    let children = if asked {
        p.bool("children").unwrap_or(false)
    } else {
        true
    };
    let pe = p.get("pe").unwrap_or("").to_string();
    let start = p.get("startDate").unwrap_or("").to_string();
    let end = p.get("endDate").unwrap_or("").to_string();
    let query = format!(
        "ou={}&children={children}&pe={}&startDate={}&endDate={}",
        enc(&ou),
        enc(&pe),
        enc(&start),
        enc(&end)
    );
    let c = Ctx::new(&headers, raw.as_deref(), format!("/kiem-tra?{query}")).with(&who);
    let lang = c.lang;
    let rules = match s.read(dantoc_store::validation::list).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let (mut report, mut error) = (None, None);
    if asked {
        match report_filter(&p) {
            Ok(f) => match run_report(&s, &who, f).await {
                Ok(r) => report = Some(r),
                Err(e) => error = Some(say(e)),
            },
            Err(e) => error = Some(say(e)),
        }
    }
    render_page(
        ValidationPage {
            c,
            ou,
            children,
            pe,
            start,
            end,
            report,
            error,
            rules,
            csv_href: format!("/api/validation.csv?{query}"),
        },
        lang,
        StatusCode::OK,
    )
}

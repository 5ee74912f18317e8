//! The forms page (`/bieu-mau`): every reporting form, with its Excel template to download for
//! a unit and period ("Tải mẫu Excel", a plain GET form) and the filled file to upload back
//! (`static/form-files.js` sends it to `POST /api/forms/{code}/import.xlsx` or `import.csv`
//! and shows the import summary, each conflict with its sheet and cell).

use crate::auth::Principal;
use crate::i18n::Lang;
use crate::pages::{Ctx, render_page};
use crate::state::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dantoc_domain::period::PeriodType;
use dantoc_store::forms::{self, StoredForm};

/// The page's own words (Vietnamese first).
pub struct Words {
    pub title: &'static str,
    pub intro: &'static str,
    pub login_first: &'static str,
    pub download: &'static str,
    pub unit: &'static str,
    pub unit_hint: &'static str,
    pub period: &'static str,
    pub blank: &'static str,
    pub upload: &'static str,
    pub file: &'static str,
    pub dry_run: &'static str,
    pub send: &'static str,
    pub reported_by: &'static str,
    pub due: &'static str,
    pub days_after: &'static str,
    pub indicators: &'static str,
}

const VI: Words = Words {
    title: "Biểu mẫu",
    intro: "Tải mẫu Excel của một biểu cho một đơn vị và kỳ báo cáo, điền số liệu vào các ô \
            nền vàng bằng Excel hoặc LibreOffice, rồi tải tệp lên. Tệp được kiểm tra toàn bộ: \
            có lỗi thì không ghi gì và mỗi lỗi được chỉ rõ ô (ví dụ Biểu!D12).",
    login_first: "Đăng nhập để tải mẫu và nhập số liệu.",
    download: "Tải mẫu Excel",
    unit: "Mã đơn vị",
    unit_hint: "ví dụ 06877",
    period: "Kỳ báo cáo",
    blank: "Mẫu trống (không điền sẵn số liệu đã có)",
    upload: "Tải lên tệp đã điền",
    file: "Tệp .xlsx (hoặc .csv)",
    dry_run: "Chỉ kiểm tra, không ghi",
    send: "Tải lên",
    reported_by: "Đơn vị báo cáo",
    due: "Hạn nộp",
    days_after: "ngày sau kỳ báo cáo",
    indicators: "chỉ tiêu",
};

const EN: Words = Words {
    title: "Reporting forms",
    intro: "Download the Excel template of a form for a unit and period, fill the yellow \
            cells in Excel or LibreOffice, and upload the file. The whole file is checked: if \
            anything is wrong nothing is written, and each problem names its cell (e.g. Biểu!D12).",
    login_first: "Log in to download templates and import figures.",
    download: "Download Excel template",
    unit: "Unit code",
    unit_hint: "e.g. 06877",
    period: "Period",
    blank: "Blank template (without the stored figures)",
    upload: "Upload the filled file",
    file: "File .xlsx (or .csv)",
    dry_run: "Check only, write nothing",
    send: "Upload",
    reported_by: "Reported by",
    due: "Due",
    days_after: "days after the period",
    indicators: "indicators",
};

pub struct FormRow {
    pub f: StoredForm,
    pub level: &'static str,
    pub period_hint: String,
    pub indicators: usize,
}

#[derive(Template)]
#[template(path = "forms.html")]
struct FormsPage {
    c: Ctx,
    w: &'static Words,
    forms: Vec<FormRow>,
}

/// The period a form is most likely filled for now: the last whole one.
fn last_period(t: PeriodType, today: &str) -> String {
    let y: i32 = today.get(0..4).and_then(|s| s.parse().ok()).unwrap_or(2025);
    let m: u32 = today.get(5..7).and_then(|s| s.parse().ok()).unwrap_or(1);
    match t {
        PeriodType::Yearly => format!("{}", y - 1),
        PeriodType::SixMonthly if m <= 6 => format!("{}S2", y - 1),
        PeriodType::SixMonthly => format!("{y}S1"),
        PeriodType::Quarterly if m <= 3 => format!("{}Q4", y - 1),
        PeriodType::Quarterly => format!("{y}Q{}", (m - 1) / 3),
        PeriodType::Monthly if m == 1 => format!("{}12", y - 1),
        PeriodType::Monthly => format!("{y}{:02}", m - 1),
    }
}

/// `GET /bieu-mau`.
pub async fn forms_page(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let c = Ctx::new(&headers, q.as_deref(), "/bieu-mau".into()).with(&who);
    let lang = c.lang;
    let today = dantoc_store::clock::today();
    match s.read(|conn| forms::list(conn, "")).await {
        Ok(list) => {
            let forms = list
                .into_iter()
                .map(|f| FormRow {
                    level: c.kind_label(&f.form.level),
                    period_hint: last_period(f.form.period_type, &today),
                    indicators: f.form.indicators().count(),
                    f,
                })
                .collect();
            let w = if lang == Lang::En { &EN } else { &VI };
            render_page(FormsPage { c, w, forms }, lang, StatusCode::OK)
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /static/form-files.js`.
pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/form-files.js"),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_whole_period() {
        use super::last_period;
        use dantoc_domain::period::PeriodType::*;
        assert_eq!(last_period(Yearly, "2026-03-02"), "2025");
        assert_eq!(last_period(Quarterly, "2026-03-02"), "2025Q4");
        assert_eq!(last_period(Quarterly, "2026-08-02"), "2026Q2");
        assert_eq!(last_period(Monthly, "2026-01-02"), "202512");
        assert_eq!(last_period(SixMonthly, "2026-08-02"), "2026S1");
    }
}

//! The form editor: a provincial officer configures a reporting form (its header, and its
//! indicators one per line, grouped into sections by their section title) without code
//! changes. Plain HTML forms; the same checks as `PUT /api/forms/{code}`.

use crate::auth::{Principal, same_origin};
use crate::error::ApiError;
use crate::pages::{Ctx, render_page};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use dantoc_domain::access::Action;
use dantoc_domain::admin::UnitKind;
use dantoc_domain::form::{Axis, Form, FormItem, Section};
use dantoc_domain::indicator::Indicator;
use dantoc_domain::period::PeriodType;
use dantoc_store::{forms, indicators};
use std::collections::HashMap;

/// Blank lines offered below a form's indicators.
const BLANK_LINES: usize = 6;

/// One line of the editor: one indicator of the form.
#[derive(Debug, Clone, Default)]
pub struct Line {
    pub section: String,
    pub section_en: String,
    pub indicator: String,
    pub rows: String,
    pub columns: String,
    pub required: bool,
    pub ethnic: String,
    pub errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "form_edit.html")]
struct EditPage {
    c: Ctx,
    /// `None`: a new form.
    existing: Option<String>,
    code: String,
    name_vi: String,
    name_en: String,
    period_type: String,
    level: String,
    deadline_days: String,
    lines: Vec<Line>,
    /// Problems not tied to one line.
    errors: Vec<String>,
    indicators: Vec<Indicator>,
}

impl EditPage {
    fn action(&self) -> String {
        match &self.existing {
            Some(code) => format!("/bieu-mau/{code}/sua"),
            None => "/bieu-mau/moi".into(),
        }
    }
    fn period_types(&self) -> [(&'static str, &'static str); 4] {
        [
            ("yearly", "Năm"),
            ("six_monthly", "6 tháng"),
            ("quarterly", "Quý"),
            ("monthly", "Tháng"),
        ]
    }
    fn levels(&self) -> [(&'static str, &'static str); 3] {
        [
            ("commune", "Cấp xã"),
            ("district", "Cấp huyện (trước 01/07/2025)"),
            ("province", "Cấp tỉnh"),
        ]
    }
    fn row_axes(&self) -> [(&'static str, &'static str); 2] {
        [("none", "Một dòng"), ("ethnic", "Theo dân tộc")]
    }
    fn column_axes(&self) -> [(&'static str, &'static str); 3] {
        [
            ("none", "Một cột"),
            ("sex", "Nam / Nữ"),
            ("area", "Thành thị / Nông thôn"),
        ]
    }
}

fn lines_of(f: &Form) -> Vec<Line> {
    f.sections
        .iter()
        .flat_map(|s| {
            s.items.iter().map(|it| Line {
                section: s.title_vi.clone(),
                section_en: s.title_en.clone(),
                indicator: it.indicator.clone(),
                rows: it.rows.as_str().into(),
                columns: it.columns.as_str().into(),
                required: it.required,
                ethnic: it.ethnic_groups.join(", "),
                errors: vec![],
            })
        })
        .collect()
}

fn with_blanks(mut lines: Vec<Line>) -> Vec<Line> {
    let last = lines.last().cloned().unwrap_or_default();
    for _ in 0..BLANK_LINES {
        lines.push(Line {
            section: last.section.clone(),
            section_en: last.section_en.clone(),
            ..Line::default()
        });
    }
    lines
}

fn axis(s: &str) -> Axis {
    match s {
        "ethnic" => Axis::Ethnic,
        "sex" => Axis::Sex,
        "area" => Axis::Area,
        _ => Axis::None,
    }
}

/// A submitted editor: the form, its lines, and for each item (section, item, line).
type Submitted = (Form, Vec<Line>, Vec<(usize, usize, usize)>);

/// The submitted editor: the form it describes, and the line each (section, item) came from.
/// Lines without an indicator are skipped; consecutive lines with the same section title make
/// one section.
fn form_of(f: &HashMap<String, String>) -> Result<Submitted, Vec<String>> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut errors = vec![];
    let period_type = get("period_type")
        .parse::<PeriodType>()
        .map_err(|e| errors.push(format!("Loại kỳ: {e}")))
        .unwrap_or(PeriodType::Yearly);
    let level = get("level")
        .parse::<UnitKind>()
        .map_err(|e| errors.push(format!("Cấp báo cáo: {e}")))
        .unwrap_or(UnitKind::Commune);
    let deadline_days = get("deadline_days")
        .parse::<u32>()
        .map_err(|_| errors.push("Hạn nộp: số ngày sau khi hết kỳ (0–366)".into()))
        .unwrap_or(0);
    let count: usize = get("lines").parse().unwrap_or(0).min(500);
    let mut lines = vec![];
    let mut sections: Vec<Section> = vec![];
    let mut place = vec![];
    for n in 0..count {
        let line = Line {
            section: get(&format!("s{n}")),
            section_en: get(&format!("se{n}")),
            indicator: get(&format!("i{n}")),
            rows: get(&format!("r{n}")),
            columns: get(&format!("c{n}")),
            required: f.contains_key(&format!("q{n}")),
            ethnic: get(&format!("e{n}")),
            errors: vec![],
        };
        if !line.indicator.is_empty() {
            let item = FormItem {
                indicator: line.indicator.clone(),
                rows: axis(&line.rows),
                columns: axis(&line.columns),
                required: line.required,
                ethnic_groups: line
                    .ethnic
                    .split([',', ';', ' '])
                    .filter(|e| !e.is_empty())
                    .map(|e| format!("{:0>2}", e))
                    .collect(),
            };
            match sections.last_mut() {
                Some(s) if s.title_vi == line.section => s.items.push(item),
                _ => sections.push(Section {
                    title_vi: line.section.clone(),
                    title_en: line.section_en.clone(),
                    items: vec![item],
                }),
            }
            let si = sections.len() - 1;
            place.push((si, sections[si].items.len() - 1, lines.len()));
        }
        lines.push(line);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((
        Form {
            code: get("code"),
            name_vi: get("name_vi"),
            name_en: get("name_en"),
            period_type,
            level,
            deadline_days,
            sections,
        },
        lines,
        place,
    ))
}

async fn catalogue(s: &AppState) -> Result<Vec<Indicator>, ApiError> {
    Ok(s.read(indicators::list)
        .await?
        .into_iter()
        .map(|(_, i)| i)
        .filter(|i| !i.is_derived())
        .collect())
}

fn blank_page(c: Ctx, indicators: Vec<Indicator>) -> EditPage {
    EditPage {
        c,
        existing: None,
        code: String::new(),
        name_vi: String::new(),
        name_en: String::new(),
        period_type: "yearly".into(),
        level: "commune".into(),
        deadline_days: "15".into(),
        lines: with_blanks(vec![]),
        errors: vec![],
        indicators,
    }
}

fn refuse(c: Ctx, e: ApiError) -> Response {
    match e {
        ApiError::Unauthorized(_) => Redirect::to(&format!(
            "/dang-nhap?next={}",
            form_urlencoded::byte_serialize(c.path.as_bytes()).collect::<String>()
        ))
        .into_response(),
        other => other.into_response(),
    }
}

/// `GET /bieu-mau/moi`: the editor for a new form.
pub async fn new_form(State(s): State<AppState>, who: Principal, headers: HeaderMap) -> Response {
    let c = Ctx::new(&headers, None, "/bieu-mau/moi".into()).with(&who);
    if let Err(e) = who.require(Action::EditCatalogue) {
        return refuse(c, e);
    }
    match catalogue(&s).await {
        Ok(inds) => {
            let lang = c.lang;
            render_page(blank_page(c, inds), lang, StatusCode::OK)
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /bieu-mau/{code}/sua`: the editor of a form.
pub async fn edit_form(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    let c = Ctx::new(&headers, None, format!("/bieu-mau/{code}/sua")).with(&who);
    if let Err(e) = who.require(Action::EditCatalogue) {
        return refuse(c, e);
    }
    let stored = match s.read(move |conn| forms::require(conn, &code)).await {
        Ok(f) => f.form,
        Err(e) => return e.into_response(),
    };
    let inds = match catalogue(&s).await {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let lang = c.lang;
    let page = EditPage {
        c,
        existing: Some(stored.code.clone()),
        code: stored.code.clone(),
        name_vi: stored.name_vi.clone(),
        name_en: stored.name_en.clone(),
        period_type: stored.period_type.as_str().into(),
        level: stored.level.as_str().into(),
        deadline_days: stored.deadline_days.to_string(),
        lines: with_blanks(lines_of(&stored)),
        errors: vec![],
        indicators: inds,
    };
    render_page(page, lang, StatusCode::OK)
}

/// `POST /bieu-mau/moi`.
pub async fn create_form(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    save(s, who, headers, None, body).await
}

/// `POST /bieu-mau/{code}/sua`.
pub async fn update_form(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    save(s, who, headers, Some(code), body).await
}

async fn save(
    s: AppState,
    who: Principal,
    headers: HeaderMap,
    existing: Option<String>,
    body: Bytes,
) -> Response {
    let path = match &existing {
        Some(code) => format!("/bieu-mau/{code}/sua"),
        None => "/bieu-mau/moi".into(),
    };
    let c = Ctx::new(&headers, None, path).with(&who);
    if !same_origin(&headers) {
        return refuse(c, ApiError::Forbidden("cross-site request refused".into()));
    }
    let f: HashMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let actor = match who.require_form(
        Action::EditCatalogue,
        Some(f.get("csrf").map(String::as_str).unwrap_or("")),
    ) {
        Ok(caller) => caller.actor(),
        Err(e) => return refuse(c, e),
    };
    let inds = match catalogue(&s).await {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut page = blank_page(c, inds);
    page.existing = existing.clone();
    page.code = existing.clone().unwrap_or_else(|| get("code"));
    page.name_vi = get("name_vi");
    page.name_en = get("name_en");
    page.period_type = get("period_type");
    page.level = get("level");
    page.deadline_days = get("deadline_days");
    let lang = page.c.lang;
    let (mut form, lines, place) = match form_of(&f) {
        Ok(x) => x,
        Err(errors) => {
            page.errors = errors;
            return render_page(page, lang, StatusCode::BAD_REQUEST);
        }
    };
    if let Some(code) = &existing {
        form.code = code.clone();
    }
    let code = form.code.clone();
    if existing.is_none() {
        let c2 = code.clone();
        if let Ok(Some(_)) = s.read(move |conn| forms::get(conn, &c2)).await {
            page.errors = vec![format!("Đã có biểu mẫu mã {code}")];
            page.lines = lines;
            return render_page(page, lang, StatusCode::BAD_REQUEST);
        }
    }
    let saved = s
        .run(move |db| db.write(|conn| forms::put(conn, &actor, &code, form.clone())))
        .await;
    match saved {
        Ok((stored, _)) => {
            Redirect::to(&format!("/bieu-mau/{}/sua?luu=1", stored.form.code)).into_response()
        }
        Err(ApiError::Invalid(problems)) => {
            let mut lines = lines;
            for e in problems.0 {
                // sections[si].items[ii].field → the line it came from
                let at = parse_place(&e.field).and_then(|(si, ii)| {
                    place
                        .iter()
                        .find(|(s, i, _)| *s == si && *i == ii)
                        .map(|p| p.2)
                });
                match at {
                    Some(n) => lines[n].errors.push(e.message.clone()),
                    None => page.errors.push(format!("{}: {}", e.field, e.message)),
                }
            }
            page.lines = with_blanks(
                lines
                    .into_iter()
                    .filter(|l| !l.indicator.is_empty())
                    .collect(),
            );
            render_page(page, lang, StatusCode::BAD_REQUEST)
        }
        Err(e) => e.into_response(),
    }
}

fn parse_place(field: &str) -> Option<(usize, usize)> {
    let rest = field.strip_prefix("sections[")?;
    let (si, rest) = rest.split_once("].items[")?;
    let (ii, _) = rest.split_once(']')?;
    Some((si.parse().ok()?, ii.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_group_into_sections_and_errors_find_their_line() {
        let mut f = HashMap::new();
        for (k, v) in [
            ("code", "BM"),
            ("name_vi", "Biểu"),
            ("period_type", "yearly"),
            ("level", "commune"),
            ("deadline_days", "10"),
            ("lines", "4"),
            ("s0", "A"),
            ("i0", "0101"),
            ("r0", "ethnic"),
            ("c0", "sex"),
            ("q0", "1"),
            ("s1", "A"),
            ("i1", ""),
            ("s2", "A"),
            ("i2", "x-cnscd-to"),
            ("s3", "B"),
            ("i3", "x-thon-noms"),
            ("e3", "2, 10"),
        ] {
            f.insert(k.to_string(), v.to_string());
        }
        let (form, lines, place) = form_of(&f).unwrap();
        assert_eq!(form.sections.len(), 2);
        assert_eq!(form.sections[0].items.len(), 2);
        assert!(form.sections[0].items[0].required);
        assert_eq!(form.sections[1].items[0].ethnic_groups, ["02", "10"]);
        assert_eq!(lines.len(), 4);
        assert_eq!(place, [(0, 0, 0), (0, 1, 2), (1, 0, 3)]);
        assert_eq!(parse_place("sections[1].items[0].rows"), Some((1, 0)));
        assert_eq!(parse_place("code"), None);
        f.insert("deadline_days".into(), "mười".into());
        assert!(form_of(&f).is_err());
    }
}

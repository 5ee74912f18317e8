//! Reporting forms (biểu mẫu): read by anyone, configured by provincial officers.

use crate::api::values::{options, summary_response};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, json};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use dantoc_domain::access::Action;
use dantoc_domain::form::Form;
use dantoc_store::{form_files, forms};
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

// ------------------------------------------------------------------ form files

/// The file name of a form's file: `BM-DTTS-01_06877_2025.xlsx`.
fn file_name(form: &str, unit: &str, period: &str, ext: &str) -> String {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{}_{}_{}.{ext}", safe(form), safe(unit), safe(period))
}

/// `GET /api/forms/{code}/template.xlsx?ou=UNIT&pe=PERIOD[&prefill=false][&ethnic=02,10]`:
/// the Excel file of a form for a unit and period, to fill and import back.
pub async fn template_xlsx(
    State(s): State<AppState>,
    who: Principal,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let caller = who.require(Action::ReadData)?.clone();
    let p = Params::parse(q.as_deref());
    let need = |k: &str| -> ApiResult<String> {
        p.get(k)
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad(k, "required"))
    };
    let req = form_files::TemplateRequest {
        form: code,
        unit: need("ou")?,
        period: need("pe")?,
        prefill: !matches!(p.get("prefill"), Some("false") | Some("0")),
        ethnic: p.all("ethnic"),
    };
    if let Some(v) = p.get("prefill")
        && !matches!(v, "true" | "false" | "1" | "0")
    {
        return Err(ApiError::bad_value("prefill", v, "expected true or false"));
    }
    let sheet = s
        .read(move |c| {
            let allowed = caller.allowed(c)?;
            form_files::sheet(c, &req, allowed.as_ref())
        })
        .await?;
    let name = file_name(
        &sheet.form_code,
        &sheet.unit_code,
        &sheet.period.to_string(),
        "xlsx",
    );
    let (bytes, _) = tokio::task::spawn_blocking(move || dantoc_report::form_xlsx::write(&sheet))
        .await
        .map_err(|e| ApiError::Internal(format!("task failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(crate::api::analytics::file(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &name,
    ))
}

fn expect(p: &Params) -> form_files::Expect {
    form_files::Expect {
        unit: p.get("ou").map(str::to_string),
        period: p.get("pe").map(str::to_string),
    }
}

/// `POST /api/forms/{code}/import.xlsx?dryRun=&importStrategy=&force=&ou=&pe=`: a filled form
/// file in the body, imported all or nothing; the summary locates each conflict by sheet and
/// cell (`Biểu!D12`).
pub async fn import_xlsx(
    State(s): State<AppState>,
    who: Principal,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = who.require(Action::WriteData)?.clone();
    let p = Params::parse(q.as_deref());
    let mut opts = options(&p, "")?;
    let force = p.bool("force")?;
    let expect = expect(&p);
    let summary = s
        .run(move |db| {
            opts.allowed_units = db.read(|c| caller.allowed(c))?;
            opts.what = format!("api: form file {code}");
            form_files::import_xlsx(
                db,
                &caller.actor(),
                &opts,
                Some(&code),
                &expect,
                &body,
                force,
            )
        })
        .await?;
    Ok(summary_response(summary))
}

/// `POST /api/forms/{code}/import.csv?dryRun=&importStrategy=&ou=&pe=`: a CSV of the form's
/// values (the columns of `/api/dataValues/csv`), only the form's cells accepted.
pub async fn import_csv(
    State(s): State<AppState>,
    who: Principal,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = who.require(Action::WriteData)?.clone();
    let p = Params::parse(q.as_deref());
    let mut opts = options(&p, "")?;
    let expect = expect(&p);
    let summary = s
        .run(move |db| {
            opts.allowed_units = db.read(|c| caller.allowed(c))?;
            opts.what = format!("api: form CSV {code}");
            form_files::import_csv(db, &caller.actor(), &opts, &code, &expect, &body)
        })
        .await?;
    Ok(summary_response(summary))
}

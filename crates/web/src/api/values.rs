//! Data values: the native JSON API, CSV import/export, and DHIS2's `dataValueSets`.

use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ApiResult, status_text};
use crate::params::{Params, json};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dantoc_domain::FieldError;
use dantoc_domain::access::Action;
use dantoc_domain::admin::HierarchyVersion;
use dantoc_domain::dhis2::{DEFAULT_COC_UID, IdScheme, IdSchemes, Kind};
use dantoc_domain::period::Period;
use dantoc_store::StoreError;
use dantoc_store::values::{
    self, ImportOptions, ImportSummary, RawValue, Strategy, ValueFilter, field,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashSet;

/// Read filters from the query; native names and DHIS2 names both work.
fn filter(p: &Params) -> ApiResult<ValueFilter> {
    let mut f = ValueFilter {
        indicators: [p.all("indicator"), p.all("dataElement")].concat(),
        units: [p.all("unit"), p.all("orgUnit")].concat(),
        children: p.bool("children")?,
        periods: p.all("period"),
        start_date: p.get("startDate").map(str::to_string),
        end_date: p.get("endDate").map(str::to_string),
        disagg: p
            .get("disaggregation")
            .or(p.get("categoryOptionCombo"))
            .map(str::to_string),
        last_updated: p.get("lastUpdated").map(str::to_string),
        last_updated_duration: p.get("lastUpdatedDuration").map(str::to_string),
        limit: p.int("limit", 10_000, 1_000_000)?,
        offset: p.int("offset", 0, i64::MAX)?,
        visible: Some(vec![]),
    };
    if f.limit == 0 {
        f.limit = 10_000;
    }
    Ok(f)
}

pub(crate) fn options(p: &Params, what: &str) -> ApiResult<ImportOptions> {
    let strategy = p
        .parsed::<Strategy>("importStrategy")?
        .or(p.parsed::<Strategy>("strategy")?)
        .unwrap_or_default();
    Ok(ImportOptions {
        strategy,
        dry_run: p.bool("dryRun")?,
        what: what.into(),
        ..Default::default()
    })
}

/// `GET /api/dataValues`: values with filters, in dantoc's shape.
pub async fn list(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let mut f = filter(&Params::parse(q.as_deref()))?;
    f.visible = who.visible();
    let (limit, offset) = (f.limit, f.offset);
    let list = s.read(move |c| values::query(c, &f)).await?;
    Ok(Json(json!({
        "pager": { "offset": offset, "limit": limit, "returned": list.len() },
        "dataValues": list,
    })))
}

/// `GET /api/dataValues.csv`: the same as CSV (UTF-8 with BOM, for Excel).
pub async fn export_csv(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let mut f = filter(&Params::parse(q.as_deref()))?;
    f.visible = who.visible();
    if Params::parse(q.as_deref()).get("limit").is_none() {
        f.limit = 1_000_000;
    }
    let list = s.read(move |c| values::query(c, &f)).await?;
    let mut buf = vec![];
    dantoc_store::csv_values::write(&mut buf, &list)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"dataValues.csv\"",
            ),
        ],
        buf,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NativeValue {
    indicator: String,
    unit: String,
    period: String,
    #[serde(default)]
    disaggregation: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    followup: Option<bool>,
}

fn value_text(v: &Option<Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

impl NativeValue {
    fn raw(self) -> RawValue {
        RawValue {
            value: value_text(&self.value),
            indicator: self.indicator,
            unit: self.unit,
            period: self.period,
            disagg: self.disaggregation,
            comment: self.comment,
            followup: self.followup,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NativeBatch {
    data_values: Vec<NativeValue>,
}

pub(crate) fn summary_response(s: ImportSummary) -> Response {
    let code = if s.status == "SUCCESS" {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    (code, Json(s)).into_response()
}

async fn run_import(
    s: &AppState,
    caller: Caller,
    mut opts: ImportOptions,
    raws: Vec<RawValue>,
    prefix: &'static str,
    names: fn(&str) -> &str,
) -> ApiResult<ImportSummary> {
    s.run(move |db| {
        opts.allowed_units = db.read(|c| caller.allowed(c))?;
        values::import(
            db,
            &caller.actor(),
            &opts,
            raws.into_iter().map(Ok),
            &|i, e: FieldError| {
                let f = format!("{prefix}[{i}].{}", names(&e.field));
                FieldError { field: f, ..e }
            },
        )
    })
    .await
}

fn native_name(f: &str) -> &str {
    f
}

/// `POST /api/dataValues`: a batch in dantoc's shape (`{"dataValues": [...]}`), all or nothing.
pub async fn post_batch(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = who.require(Action::WriteData)?.clone();
    let p = Params::parse(q.as_deref());
    let mut opts = options(&p, "api: dataValues")?;
    let b: NativeBatch = json(&body)?;
    opts.audit_each = b.data_values.len() <= 100;
    let raws = b.data_values.into_iter().map(NativeValue::raw).collect();
    Ok(summary_response(
        run_import(&s, caller, opts, raws, "dataValues", native_name).await?,
    ))
}

/// `PUT /api/dataValues`: one value.
pub async fn put_one(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = who.require(Action::WriteData)?.clone();
    let p = Params::parse(q.as_deref());
    let mut opts = options(&p, "api: dataValue")?;
    opts.audit_each = true;
    let v: NativeValue = json(&body)?;
    Ok(summary_response(
        run_import(&s, caller, opts, vec![v.raw()], "dataValue", native_name).await?,
    ))
}

/// `DELETE /api/dataValues?indicator=&unit=&period=&disaggregation=`: one value.
pub async fn delete_one(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let caller = who.require(Action::WriteData)?.clone();
    let p = Params::parse(q.as_deref());
    let need = |k: &str| -> ApiResult<String> {
        p.get(k)
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad(k, "required"))
    };
    let raw = RawValue {
        indicator: need("indicator")?,
        unit: need("unit")?,
        period: need("period")?,
        disagg: p.get("disaggregation").unwrap_or("default").to_string(),
        ..Default::default()
    };
    let opts = ImportOptions {
        strategy: Strategy::Delete,
        audit_each: true,
        what: "api: delete".into(),
        ..Default::default()
    };
    let s = run_import(&s, caller, opts, vec![raw], "query", native_name).await?;
    if s.status == "SUCCESS" && s.import_count.deleted == 0 {
        return Err(ApiError::NotFound(
            "no value is stored under this key".into(),
        ));
    }
    Ok(summary_response(s))
}

/// `GET /api/dataValues/history?indicator=&unit=&period=&disaggregation=`.
pub async fn history(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::ReadData)?.clone();
    let p = Params::parse(q.as_deref());
    let need = |k: &str| -> ApiResult<String> {
        p.get(k)
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad(k, "required"))
    };
    let (i, u, pe) = (need("indicator")?, need("unit")?, need("period")?);
    let d = p.get("disaggregation").unwrap_or("default").to_string();
    let h = s
        .read(move |c| {
            let allowed = caller.allowed(c)?;
            if let Some(unit_id) = values::unit_of(c, &u, &pe)? {
                crate::auth::check_unit(&allowed, unit_id, &u)?;
            }
            values::history(c, &i, &u, &pe, &d)
        })
        .await?;
    Ok(Json(json!({ "history": h })))
}

/// `POST /api/dataValues/csv`: a CSV file in the body (dantoc's or DHIS2's columns).
pub async fn post_csv(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = who.require(Action::WriteData)?.clone();
    let p = Params::parse(q.as_deref());
    let opts = options(&p, "api: CSV upload")?;
    let summary = s
        .run(move |db| {
            let mut opts = opts;
            opts.allowed_units = db.read(|c| caller.allowed(c))?;
            let actor = caller.actor();
            let reader = dantoc_store::csv_values::open(&body[..])
                .map_err(dantoc_store::StoreError::invalid)?;
            let loc = reader.locator();
            values::import(db, &actor, &opts, reader, &|i, e| loc.locate(i, e))
        })
        .await?;
    Ok(summary_response(summary))
}

// ------------------------------------------------------------------ DHIS2

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dhis2Set {
    #[serde(default)]
    data_set: Option<String>,
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    org_unit: Option<String>,
    #[serde(default)]
    attribute_option_combo: Option<String>,
    data_values: Vec<Dhis2Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dhis2Value {
    #[serde(default)]
    data_element: Option<String>,
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    org_unit: Option<String>,
    #[serde(default)]
    category_option_combo: Option<String>,
    #[serde(default)]
    attribute_option_combo: Option<String>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    followup: Option<bool>,
    #[serde(default)]
    deleted: Option<bool>,
}

/// A value whose dataElement is not in the form its dataSet names is refused (DHIS2: "data
/// element not part of the data set").
fn of_form(
    form: &Option<(String, HashSet<String>)>,
    item: Result<RawValue, FieldError>,
) -> Result<RawValue, FieldError> {
    match (form, item) {
        (Some((code, codes)), Ok(r)) if !codes.contains(&r.indicator) => Err(FieldError::new(
            dantoc_store::values::field::INDICATOR,
            format!("not on the form of dataSet {code}"),
        )
        .value(r.indicator)),
        (_, item) => item,
    }
}

fn dhis2_name(f: &str) -> &str {
    match f {
        field::INDICATOR => "dataElement",
        field::UNIT => "orgUnit",
        field::DISAGG => "categoryOptionCombo",
        other => other,
    }
}

/// The id schemes of the items a `dataValueSets` request writes or answers with: `idScheme`
/// for every kind, then `dataElementIdScheme`, `orgUnitIdScheme`,
/// `categoryOptionComboIdScheme`, `dataSetIdScheme` — `CODE` (default) or `UID` (`ID`).
fn id_schemes(p: &Params) -> ApiResult<IdSchemes> {
    let mut s = IdSchemes::all(p.parsed::<IdScheme>("idScheme")?.unwrap_or_default());
    for k in Kind::ALL {
        if let Some(v) = p.parsed::<IdScheme>(&format!("{}IdScheme", k.dhis2_name()))? {
            s.set(k, v);
        }
    }
    Ok(s)
}

/// The id schemes of the identifiers in an export's filters (DHIS2's `inputIdScheme`,
/// `inputDataElementIdScheme`, `inputOrgUnitIdScheme`, `inputCategoryOptionComboIdScheme`,
/// `inputDataSetIdScheme`); by default those of the answer.
fn input_id_schemes(p: &Params, out: IdSchemes) -> ApiResult<IdSchemes> {
    let mut s = match p.parsed::<IdScheme>("inputIdScheme")? {
        Some(v) => IdSchemes::all(v),
        None => out,
    };
    for k in Kind::ALL {
        let name = k.dhis2_name();
        let key = format!("input{}{}IdScheme", name[..1].to_uppercase(), &name[1..]);
        if let Some(v) = p.parsed::<IdScheme>(&key)? {
            s.set(k, v);
        }
    }
    Ok(s)
}

/// The kind of item a value field names.
fn kind_of_field(f: &str) -> Option<Kind> {
    match f {
        field::INDICATOR => Some(Kind::Indicator),
        field::UNIT => Some(Kind::Unit),
        field::DISAGG => Some(Kind::Disaggregation),
        _ => None,
    }
}

const AOC_ONLY_DEFAULT: &str = "only the default attribute option combo is used: leave it out, or write default or HllvX50cXC0";

/// The default attribute option combo, by code or by DHIS2's UID (or not given).
fn is_default_aoc(a: &str) -> bool {
    let a = a.trim();
    a.is_empty() || a.eq_ignore_ascii_case("default") || a == DEFAULT_COC_UID
}

/// Parse a DHIS2 `dataValueSets` JSON body into values (with the set's `period` and `orgUnit`
/// as defaults). Returns the `dataSet` named, if any. Shape errors name their place.
pub fn parse_data_value_set(body: &[u8]) -> ApiResult<(Option<String>, Vec<RawValue>)> {
    let set: Dhis2Set = json(body)?;
    let mut problems = dantoc_domain::Problems::default();
    if let Some(a) = set
        .attribute_option_combo
        .as_deref()
        .filter(|a| !is_default_aoc(a))
    {
        problems.push(FieldError::new("attributeOptionCombo", AOC_ONLY_DEFAULT).value(a));
    }
    let mut raws = Vec::with_capacity(set.data_values.len());
    for (i, v) in set.data_values.into_iter().enumerate() {
        if let Some(a) = v
            .attribute_option_combo
            .as_deref()
            .filter(|a| !is_default_aoc(a))
        {
            problems.push(
                FieldError::new(
                    format!("dataValues[{i}].attributeOptionCombo"),
                    AOC_ONLY_DEFAULT,
                )
                .value(a),
            );
        }
        let de = v.data_element.clone().unwrap_or_default();
        if de.is_empty() {
            problems.push(FieldError::new(
                format!("dataValues[{i}].dataElement"),
                "required",
            ));
        }
        raws.push(RawValue {
            indicator: de,
            unit: v
                .org_unit
                .or_else(|| set.org_unit.clone())
                .unwrap_or_default(),
            period: v.period.or_else(|| set.period.clone()).unwrap_or_default(),
            disagg: v.category_option_combo.unwrap_or_default(),
            value: if v.deleted == Some(true) {
                None
            } else {
                value_text(&v.value)
            },
            comment: v.comment,
            followup: v.followup,
        });
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems));
    }
    Ok((set.data_set, raws))
}

/// `POST /api/dataValueSets`: DHIS2's import, identifiers by code or (through the mapping
/// table) by DHIS2 UID per the id schemes. Answers with a DHIS2 import summary; any conflict —
/// an unknown UID among them — rejects the whole set (409) and changes nothing.
pub async fn post_data_value_sets(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = who.require(Action::WriteData)?.clone();
    let p = Params::parse(q.as_deref());
    let schemes = id_schemes(&p)?;
    let general = p.parsed::<IdScheme>("idScheme")?.unwrap_or_default();
    let mut opts = options(&p, "api: dataValueSets")?;
    let (data_set, raws) = parse_data_value_set(&body)?;
    opts.audit_each = raws.len() <= 100;
    let strategy = opts.strategy;
    let dry = opts.dry_run;
    let summary = s
        .run(move |db| {
            opts.allowed_units = db.read(|c| caller.allowed(c))?;
            let actor = caller.actor();
            // the set's own problems (an unknown dataSet): the values are still checked, in a
            // dry run, so that every problem is reported at once
            let mut set_problems: Vec<FieldError> = vec![];
            // the indicators of the form the dataSet names: a value of another one is refused,
            // as DHIS2 refuses a data element that is not in the data set
            let mut in_form: Option<(String, HashSet<String>)> = None;
            let mut note_data_set =
                |ds: Option<Result<String, FieldError>>| -> Result<(), StoreError> {
                    match ds {
                        Some(Ok(code)) => {
                            opts.what = format!("api: dataValueSets (dataSet {code})");
                            match db.read(|c| dantoc_store::forms::get(c, &code))? {
                                Some(f) => {
                                    let codes =
                                        f.form.indicators().map(|i| i.indicator.clone()).collect();
                                    in_form = Some((code, codes));
                                }
                                None => set_problems.push(
                                    FieldError::new("dataSet", "no reporting form has this code")
                                        .value(code),
                                ),
                            }
                        }
                        Some(Err(e)) => set_problems.push(e),
                        None => {}
                    }
                    Ok(())
                };
            let locate_dhis2 = |i: usize, e: FieldError| FieldError {
                field: format!("dataValues[{i}].{}", dhis2_name(&e.field)),
                ..e
            };
            let mut summary = if schemes.any_uid() {
                let t = db.read(|c| {
                    dantoc_store::dhis2::translate_import(c, &schemes, data_set.as_deref(), raws)
                })?;
                note_data_set(t.data_set)?;
                let in_form = in_form.take();
                if !set_problems.is_empty() {
                    opts.dry_run = true;
                }
                let uids = t.uids;
                // a problem with an item named by UID names the UID, and says which item it is
                let locate = |i: usize, mut e: FieldError| {
                    if let Some(k) = kind_of_field(&e.field)
                        && schemes.of(k) == IdScheme::Uid
                        && let Some(code) = e.value.clone()
                        && let Some(uid) = uids.get(&(k, code.clone()))
                    {
                        e.message = format!("{} (UID {uid} is {} {code})", e.message, k.as_str());
                        e.value = Some(uid.clone());
                    }
                    locate_dhis2(i, e)
                };
                let items = t.items.into_iter().map(|i| of_form(&in_form, i));
                values::import(db, &actor, &opts, items, &locate)?
            } else {
                note_data_set(data_set.map(Ok))?;
                let in_form = in_form.take();
                let items = raws.into_iter().map(|r| of_form(&in_form, Ok(r)));
                values::import(db, &actor, &opts, items, &locate_dhis2)?
            };
            if !set_problems.is_empty() {
                let n = set_problems.len() as u64;
                summary.status = "ERROR";
                summary.dry_run = dry;
                summary.conflict_count += n;
                summary.import_count = values::ImportCount {
                    ignored: summary.rows,
                    ..Default::default()
                };
                summary.description = format!(
                    "{} problem(s): nothing was imported",
                    summary.conflict_count
                );
                set_problems.append(&mut summary.conflicts);
                summary.conflicts = set_problems;
            }
            Ok(summary)
        })
        .await?;
    let ok = summary.status == "SUCCESS";
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    let index_of = |e: &FieldError| {
        e.field
            .strip_prefix("dataValues[")
            .and_then(|r| r.split(']').next())
            .and_then(|n| n.parse::<usize>().ok())
    };
    let conflicts: Vec<Value> = summary
        .conflicts
        .iter()
        .map(|e| {
            let property = e.field.rsplit('.').next().unwrap_or(&e.field);
            json!({
                "object": e.value.clone().unwrap_or_default(),
                "value": e.message,
                "property": property,
                "field": e.field,
                "indexes": index_of(e).map(|i| vec![i]).unwrap_or_default(),
                "errorCode": "E7600",
            })
        })
        .collect();
    let mut rejected: Vec<usize> = summary.conflicts.iter().filter_map(index_of).collect();
    rejected.dedup();
    let mut id_schemes = serde_json::to_value(schemes).unwrap_or_default();
    id_schemes["idScheme"] = json!(general);
    let body = json!({
        "httpStatus": status_text(code),
        "httpStatusCode": code.as_u16(),
        "status": if ok { "OK" } else { "ERROR" },
        "message": if ok { "Import was successful." } else { "Import was not successful: nothing was written." },
        "response": {
            "responseType": "ImportSummary",
            "status": summary.status,
            "importOptions": { "dryRun": dry, "importStrategy": strategy, "idSchemes": id_schemes },
            "description": summary.description,
            "importCount": summary.import_count,
            "conflicts": conflicts,
            "validation": summary.validation,
            "validationCount": summary.validation_count,
            "conflictCount": summary.conflict_count,
            "rejectedIndexes": rejected,
        }
    });
    Ok((code, Json(body)).into_response())
}

/// `GET /api/dataValueSets`: DHIS2's export shape, identifiers by code or (through the mapping
/// table) by DHIS2 UID per the id schemes; the filters' identifiers per the input id schemes
/// (by default the same). Under CODE, values on pre-2025 units carry `CODE@2024` as orgUnit,
/// and those of current units for periods before the reform `CODE@2025`: each imports back to
/// the same unit. Under UID, an item without a UID refuses the whole
/// export (409), naming the first such items. An export is whole unless `limit` is given.
pub async fn get_data_value_sets(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let out = id_schemes(&p)?;
    let input = input_id_schemes(&p, out)?;
    let mut f = filter(&p)?;
    f.visible = who.visible();
    if p.get("limit").is_none() {
        f.limit = 1_000_000;
    }
    let data_set = p.get("dataSet").map(str::to_string);
    if f.indicators.is_empty() && data_set.is_none() && f.units.is_empty() {
        return Err(ApiError::bad(
            "dataElement",
            "name at least one dataElement or orgUnit",
        ));
    }
    let (list, ids) = s
        .read(move |c| {
            use dantoc_store::dhis2::codes_for_filter;
            if input.of(Kind::Indicator) == IdScheme::Uid && !f.indicators.is_empty() {
                f.indicators = codes_for_filter(c, Kind::Indicator, "dataElement", &f.indicators)?;
            }
            if input.of(Kind::Unit) == IdScheme::Uid && !f.units.is_empty() {
                f.units = codes_for_filter(c, Kind::Unit, "orgUnit", &f.units)?;
            }
            if input.of(Kind::Disaggregation) == IdScheme::Uid
                && let Some(d) = f.disagg.take()
            {
                f.disagg =
                    codes_for_filter(c, Kind::Disaggregation, "categoryOptionCombo", &[d])?.pop();
            }
            if let Some(ds) = data_set {
                let code = if input.of(Kind::Form) == IdScheme::Uid {
                    codes_for_filter(c, Kind::Form, "dataSet", std::slice::from_ref(&ds))?
                        .pop()
                        .unwrap_or_default()
                } else {
                    ds.clone()
                };
                let form = dantoc_store::forms::get(c, &code)?.ok_or_else(|| {
                    StoreError::invalid(
                        FieldError::new("dataSet", "no reporting form has this code").value(&ds),
                    )
                })?;
                // the form's indicators, narrowed to the dataElements named, if any
                let of_form: Vec<String> = form
                    .form
                    .indicators()
                    .map(|i| i.indicator.clone())
                    .filter(|i| f.indicators.is_empty() || f.indicators.contains(i))
                    .collect();
                if of_form.is_empty() {
                    return Ok((vec![], dantoc_store::dhis2::export_ids(c, &out, &[])?));
                }
                f.indicators = of_form;
            }
            let list = values::query(c, &f)?;
            let ids = dantoc_store::dhis2::export_ids(c, &out, &list)?;
            Ok((list, ids))
        })
        .await?;
    if ids.unmapped_count > 0 {
        let first: Vec<String> = ids
            .unmapped
            .iter()
            .map(|e| format!("{} {}", e.field, e.value.as_deref().unwrap_or("")))
            .collect();
        return Err(ApiError::ConflictList(
            format!(
                "{} item(s) of this export have no DHIS2 UID, so nothing is exported with the UID id scheme: \
                 map them (PUT /api/dhis2/uids or POST /api/dhis2/uids.csv) or export them with CODE. First: {}",
                ids.unmapped_count,
                first.join(", ")
            ),
            dantoc_domain::Problems(ids.unmapped),
        ));
    }
    let current = HierarchyVersion::CURRENT.as_str();
    let aoc = match out.of(Kind::Disaggregation) {
        IdScheme::Code => "default",
        IdScheme::Uid => DEFAULT_COC_UID,
    };
    let dv: Vec<Value> = list
        .iter()
        .map(|v| {
            let ou = match out.of(Kind::Unit) {
                IdScheme::Uid => ids
                    .id(Kind::Unit, &format!("{}@{}", v.unit, v.unit_version))
                    .to_string(),
                // the bare code names the unit of the hierarchy in force at the period's end
                // on import: a current unit reported for an earlier period says its hierarchy
                IdScheme::Code
                    if v.unit_version == current
                        && v.period.parse::<Period>().is_ok_and(|p| {
                            HierarchyVersion::on(&p.end_date()) == HierarchyVersion::CURRENT
                        }) =>
                {
                    v.unit.clone()
                }
                IdScheme::Code => format!("{}@{}", v.unit, v.unit_version),
            };
            json!({
                "dataElement": ids.id(Kind::Indicator, &v.indicator),
                "period": v.period,
                "orgUnit": ou,
                "categoryOptionCombo": ids.id(Kind::Disaggregation, &v.disagg),
                "attributeOptionCombo": aoc,
                "value": v.value_text,
                "storedBy": v.stored_by,
                "created": v.created,
                "lastUpdated": v.last_updated,
                "comment": v.comment,
                "followup": v.followup,
            })
        })
        .collect();
    Ok(Json(json!({ "dataValues": dv })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PublishBody {
    #[serde(default)]
    indicators: Vec<String>,
    units: Vec<String>,
    #[serde(default)]
    children: bool,
    #[serde(default)]
    periods: Vec<String>,
    #[serde(default = "yes")]
    published: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/publish`: make values of units in the caller's scope visible to everyone
/// (`"published": false` withdraws them).
pub async fn publish(
    State(s): State<AppState>,
    who: Principal,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::Publish)?.clone();
    let b: PublishBody = json(&body)?;
    if b.units.is_empty() {
        return Err(ApiError::bad("units", "name at least one unit"));
    }
    let n = s
        .run(move |db| {
            db.write(|c| {
                let allowed = caller.allowed(c)?;
                let ids = dantoc_store::accounts::resolve_units(c, "units", &b.units)?;
                for (id, code) in ids.iter().zip(&b.units) {
                    crate::auth::check_unit(&allowed, *id, code)?;
                }
                let f = ValueFilter {
                    indicators: b.indicators.clone(),
                    units: b.units.clone(),
                    children: b.children,
                    periods: b.periods.clone(),
                    ..Default::default()
                };
                let n = values::publish(c, &f, b.published)?;
                let what = json!({"indicators": b.indicators, "units": b.units, "children": b.children, "periods": b.periods, "published": b.published, "values": n});
                dantoc_store::audit::record(c, &caller.actor(), if b.published { "publish" } else { "unpublish" }, "data_value", &b.units.join(","), None, Some(&what))?;
                Ok(n)
            })
        })
        .await?;
    Ok(Json(json!({ "changed": n })))
}

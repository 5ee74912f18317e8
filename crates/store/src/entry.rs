//! Cell-by-cell data entry: the grid of a form for a unit and a period (each cell's value,
//! version, who changed it and when, the previous period's value), batches of cell saves —
//! each applied once, however often it is sent — with version conflicts reported per cell, and
//! the overview of what an officer has to enter.
//!
//! A batch goes through [`crate::values::import_with`] with `audit_each` (history, audit log
//! and analytics dirty marks as for any write) and `base_versions`, so the version check is
//! made by the write itself inside the import's transaction; the batch's record
//! (`entry_batch`, with the answer given) is written in that same transaction.

use crate::audit::Actor;
use crate::db::{Conn, Db, Val};
use crate::error::StoreError;
use crate::forms::{self, StoredForm};
use crate::values::{ImportOptions, ImportSummary, RawValue, Strategy};
use crate::{params, units};
use dantoc_domain::admin::{AdminUnit, HierarchyVersion, UnitKind, split_unit_ref};
use dantoc_domain::disagg::Disagg;
use dantoc_domain::entry::{EntryBatch, EntryValue, cell_fits, check_batch};
use dantoc_domain::form::{AxisKey, FormItem};
use dantoc_domain::indicator::{Aggregation, Indicator};
use dantoc_domain::period::{Period, PeriodType};
use dantoc_domain::{FieldError, Problems};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// The canonical content of a batch, which its hash covers: the JSON array
/// `[form, orgUnit, period, [[indicator, disagg, value, comment, baseVersion], …]]` without
/// spaces, texts exactly as sent (`null` when absent) — what a browser's `JSON.stringify`
/// writes for the same array.
pub fn canonical(b: &EntryBatch) -> String {
    let values: Vec<serde_json::Value> = b
        .values
        .iter()
        .map(|v| serde_json::json!([v.indicator, v.disagg, v.value, v.comment, v.base_version]))
        .collect();
    serde_json::json!([b.form, b.org_unit, b.period, values]).to_string()
}

/// SHA-256 (hex) of [`canonical`].
pub fn content_hash(b: &EntryBatch) -> String {
    crate::secret::sha256_hex(canonical(b).as_bytes())
}

/// What became of one cell of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    /// Written, or already as asked: `version` is the stored version now (0: no value).
    Saved,
    /// Changed by someone else since the user's `baseVersion`: not written; the server's
    /// value, version, author and time are given for the user to choose.
    Conflict,
    /// Refused (`field`, `message`); not written.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CellResult {
    pub indicator: String,
    pub disagg: String,
    pub status: CellStatus,
    /// The stored value's version now (0: nothing stored).
    pub version: i64,
    /// The stored value now (`None`: nothing stored).
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// Conflicts: what the user sent, and the version they had seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<i64>,
    /// Errors: the field and what is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Validation rules the saved value breaks (messages, not refusals).
    #[serde(default)]
    pub validation: Vec<serde_json::Value>,
}

/// The answer to a batch: the same every time the batch is sent (`duplicate` set after the
/// first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaveResponse {
    pub batch_id: String,
    pub duplicate: bool,
    pub received_at: String,
    pub form: String,
    /// `CODE@VERSION` of the unit.
    pub org_unit: String,
    pub period: String,
    pub saved: usize,
    pub conflicts: usize,
    pub errors: usize,
    pub values: Vec<CellResult>,
}

/// A form, a unit that reports it and a period it is reported for.
#[derive(Debug, Clone)]
pub struct Target {
    pub form: StoredForm,
    pub unit: AdminUnit,
    pub unit_id: i64,
    pub period: Period,
}

impl Target {
    pub fn unit_ref(&self) -> String {
        format!("{}@{}", self.unit.code, self.unit.version.as_str())
    }
}

/// Resolve a form code, a unit (`CODE` in the hierarchy in force at the end of the period,
/// or `CODE@VERSION`) and a period; the unit must be of the level that reports the form, the
/// period of its type.
pub fn target(
    c: &mut dyn Conn,
    form: &str,
    org_unit: &str,
    period: &str,
) -> Result<Target, StoreError> {
    let form = forms::require(c, form.trim())?;
    let ptext = period.trim();
    let period: Period = ptext
        .parse()
        .map_err(|e: dantoc_domain::period::PeriodError| {
            StoreError::invalid(FieldError::new("period", e.to_string()).value(ptext))
        })?;
    form.form
        .accepts(&period)
        .map_err(|e| StoreError::invalid(FieldError::new("period", e).value(ptext)))?;
    let (code, v) = split_unit_ref(org_unit.trim())
        .map_err(|e| StoreError::invalid(FieldError::new("orgUnit", e).value(org_unit)))?;
    let v = v.unwrap_or_else(|| HierarchyVersion::on(&period.end_date()));
    let unit = units::require(c, v, code)?;
    if unit.kind != form.form.level {
        return Err(StoreError::invalid(
            FieldError::new(
                "orgUnit",
                format!(
                    "form {} is reported by each {} ({}), and {} is a {}",
                    form.form.code,
                    form.form.level.as_str(),
                    form.form.level.label_vi().to_lowercase(),
                    unit.full_name,
                    unit.kind.as_str()
                ),
            )
            .value(org_unit),
        ));
    }
    let unit_id = units::id_of(c, v, code)?
        .ok_or_else(|| StoreError::NotFound(format!("administrative unit {code}")))?;
    Ok(Target {
        form,
        unit,
        unit_id,
        period,
    })
}

/// Refuse a unit outside the writer's or reader's units (`None`: everywhere).
pub fn check_scope(allowed: Option<&HashSet<i64>>, t: &Target) -> Result<(), StoreError> {
    match allowed {
        Some(set) if !set.contains(&t.unit_id) => Err(StoreError::Forbidden(format!(
            "{} ({}) is outside your administrative units",
            t.unit.full_name, t.unit.code
        ))),
        _ => Ok(()),
    }
}

/// The state of the form for the unit and period, in Vietnamese (`đã nộp`, `đã duyệt`, …; see
/// `approvals.rs`); `None` while no step was taken (a draft).
pub fn approval_state(
    c: &mut dyn Conn,
    form_id: i64,
    unit_id: i64,
    period: &str,
) -> Result<Option<String>, StoreError> {
    Ok(c.query_one(
        "SELECT state FROM form_approval WHERE form_id = $1 AND unit_id = $2 AND period = $3",
        &params![form_id, unit_id, period],
    )?
    .map(|r| {
        let code = r.str(0);
        code.parse::<dantoc_domain::approval::State>()
            .map(|st| st.label_vi().to_string())
            .unwrap_or(code)
    }))
}

/// The stored state of one cell.
#[derive(Debug, Clone, Default)]
struct Stored {
    value: String,
    comment: Option<String>,
    version: i64,
    updated_at: String,
    updated_by: String,
}

/// The stored values of some indicators for a unit and period, by (indicator code,
/// disaggregation code).
fn stored(
    c: &mut dyn Conn,
    unit_id: i64,
    period: &Period,
    indicators: &[&str],
) -> Result<HashMap<(String, String), Stored>, StoreError> {
    if indicators.is_empty() {
        return Ok(HashMap::new());
    }
    let mut p = crate::params_vec![unit_id, period.month_range().0 as i64, period.to_string()];
    let marks = crate::db::push_params(&mut p, indicators.iter().map(|i| Val::from(*i)));
    Ok(c.query(
        &format!(
            "SELECT i.code, g.code, d.value_text, d.comment, d.version, d.updated_at, d.stored_by
                 FROM data_value d JOIN indicator i ON i.id = d.indicator_id
                 JOIN disaggregation g ON g.id = d.disagg_id
                 WHERE d.unit_id = $1 AND d.month_start = $2 AND d.period = $3
                   AND i.code IN ({marks})"
        ),
        &p,
    )?
    .iter()
    .map(|r| {
        (
            (r.str(0), r.str(1)),
            Stored {
                value: r.str(2),
                comment: r.opt_str(3),
                version: r.i64(4),
                updated_at: r.str(5),
                updated_by: r.str(6),
            },
        )
    })
    .collect())
}

/// The error that rolls back a batch whose id another request has just recorded.
const RACE: &str = "this batch is being received by another request";

/// Save a batch of cells (see the module's description). `allowed`: the units the writer may
/// write (`None`: everywhere). A batch whose id was received before is answered as then,
/// with `duplicate: true`, and nothing is written again; the same id with other content is a
/// conflict.
pub fn save(
    db: &Db,
    actor: &Actor,
    allowed: Option<&HashSet<i64>>,
    batch: &EntryBatch,
) -> Result<SaveResponse, StoreError> {
    let problems = check_batch(batch);
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    let hash = content_hash(batch);
    if !hash.eq_ignore_ascii_case(&batch.hash) {
        return Err(StoreError::invalid(
            FieldError::new(
                "hash",
                format!(
                    "the hash does not match the batch's content: the SHA-256 of its canonical \
                     form [form, orgUnit, period, [[indicator, disagg, value, comment, baseVersion], …]] \
                     is {hash}"
                ),
            )
            .value(&batch.hash),
        ));
    }
    let started = std::time::Instant::now();
    // one connection for both: a batch received before, else what it is for
    let t = match db.read(|c| match replay(c, actor, batch)? {
        Some(r) => Ok(Err(r)),
        None => Ok(Ok(target(c, &batch.form, &batch.org_unit, &batch.period)?)),
    })? {
        Ok(t) => t,
        Err(answered) => return Ok(answered),
    };
    check_scope(allowed, &t)?;
    let looked_up = started.elapsed();
    let r = match apply(db, actor, allowed, batch, &t) {
        Err(StoreError::Conflict(m)) if m == RACE => db
            .read(|c| replay(c, actor, batch))?
            .ok_or_else(|| StoreError::Conflict(RACE.into())),
        r => r,
    };
    // RUST_LOG=dantoc_store::entry=debug: where a save's time goes
    tracing::debug!(
        cells = batch.values.len(),
        lookup_ms = looked_up.as_secs_f64() * 1000.0,
        import_ms = (started.elapsed() - looked_up).as_secs_f64() * 1000.0,
        "entry batch"
    );
    r
}

/// The answer given to a batch received before, marked as a duplicate.
fn replay(
    c: &mut dyn Conn,
    actor: &Actor,
    batch: &EntryBatch,
) -> Result<Option<SaveResponse>, StoreError> {
    let Some(r) = c.query_one(
        "SELECT hash, account, response FROM entry_batch WHERE id = $1",
        &params![&batch.batch_id],
    )?
    else {
        return Ok(None);
    };
    if !r.str(0).eq_ignore_ascii_case(&batch.hash) {
        return Err(StoreError::Conflict(format!(
            "batch {} was received before with other content: a batch id names one batch only \
             (generate a new id for new content)",
            batch.batch_id
        )));
    }
    if r.str(1) != actor.name {
        return Err(StoreError::Conflict(format!(
            "batch {} was sent by another account",
            batch.batch_id
        )));
    }
    let mut resp: SaveResponse = serde_json::from_str(&r.str(2))
        .map_err(|e| StoreError::Db(format!("entry_batch response unreadable: {e}")))?;
    resp.duplicate = true;
    Ok(Some(resp))
}

/// Check each cell against the form, write those that pass (one import, a second one if the
/// catalogue refused some), answer and record the batch in the import's transaction.
fn apply(
    db: &Db,
    actor: &Actor,
    allowed: Option<&HashSet<i64>>,
    batch: &EntryBatch,
    t: &Target,
) -> Result<SaveResponse, StoreError> {
    let n = batch.values.len();
    let mut errors: Vec<Option<FieldError>> = vec![None; n];
    let mut raws: Vec<Option<RawValue>> = vec![None; n];
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (i, v) in batch.values.iter().enumerate() {
        match cell(&t.form.form, i, v, &mut seen) {
            Ok(disagg) => {
                raws[i] = Some(RawValue {
                    indicator: v.indicator.trim().to_string(),
                    unit: t.unit_ref(),
                    period: t.period.to_string(),
                    disagg,
                    value: v.wanted().map(str::to_string),
                    comment: v.comment.clone(),
                    followup: None,
                })
            }
            Err(e) => errors[i] = Some(e),
        }
    }
    loop {
        let idx: Vec<usize> = (0..n).filter(|&i| errors[i].is_none()).collect();
        if idx.is_empty() {
            return db.write(|c| {
                let r = respond(c, batch, t, &errors, &HashSet::new(), &HashMap::new())?;
                record(c, actor, batch, t, &r)?;
                Ok(r)
            });
        }
        let opts = ImportOptions {
            strategy: Strategy::CreateAndUpdate,
            what: format!("entry batch {}", batch.batch_id),
            audit_each: true,
            allowed_units: allowed.cloned(),
            base_versions: Some(idx.iter().map(|&i| batch.values[i].base_version).collect()),
            // rules a value breaks come back as messages on its cell instead of refusing it:
            // a form with error-level violations cannot be submitted (approvals.rs)
            validation: crate::validation::ValidationMode::Report,
            ..Default::default()
        };
        let items: Vec<Result<RawValue, FieldError>> = idx
            .iter()
            .map(|&i| {
                Ok(raws[i]
                    .clone()
                    .expect("checked cells have a value to write"))
            })
            .collect();
        let mut answer: Option<SaveResponse> = None;
        let summary = {
            let errors = &errors;
            let idx = &idx;
            let answer = &mut answer;
            crate::values::import_with(
                db,
                actor,
                &opts,
                items,
                &|k, e: FieldError| e.at(k as u64, None),
                &mut |c: &mut dyn Conn, s: &ImportSummary| {
                    let stale: HashSet<usize> = s.stale.iter().map(|&k| idx[k]).collect();
                    // each violation is located at the import item that gave its value
                    let mut broken: HashMap<usize, Vec<serde_json::Value>> = HashMap::new();
                    for v in &s.validation {
                        if let Some(&i) = v.row.and_then(|k| idx.get(k as usize)) {
                            broken
                                .entry(i)
                                .or_default()
                                .push(serde_json::to_value(v).unwrap_or_default());
                        }
                    }
                    let r = respond(c, batch, t, errors, &stale, &broken)?;
                    record(c, actor, batch, t, &r)?;
                    *answer = Some(r);
                    Ok(())
                },
            )?
        };
        if let Some(r) = answer {
            return Ok(r);
        }
        // refused by the catalogue's checks (a value of the wrong type, a unit out of scope, a
        // form already submitted…): those cells are errors, the others go in again
        let mut located = false;
        for e in summary.conflicts {
            if let Some(k) = e.row.and_then(|k| idx.get(k as usize)) {
                errors[*k] = Some(FieldError {
                    field: format!("values[{k}].{}", e.field),
                    row: None,
                    column: None,
                    ..e
                });
                located = true;
            }
        }
        if !located {
            for &i in &idx {
                errors[i] = Some(FieldError::new(
                    format!("values[{i}]"),
                    summary.description.clone(),
                ));
            }
        }
    }
}

/// Check one cell against the form; returns its canonical disaggregation code.
fn cell(
    form: &dantoc_domain::form::Form,
    i: usize,
    v: &EntryValue,
    seen: &mut HashMap<(String, String), usize>,
) -> Result<String, FieldError> {
    let at = |f: &str| format!("values[{i}].{f}");
    let code = v.indicator.trim();
    let item = form.item(code).ok_or_else(|| {
        FieldError::new(
            at("indicator"),
            format!("indicator {code} is not on form {}", form.code),
        )
        .value(code)
    })?;
    let d: Disagg = v
        .disagg
        .parse()
        .map_err(|e: String| FieldError::new(at("disagg"), e).value(&v.disagg))?;
    cell_fits(item, &d).map_err(|e| FieldError::new(at("disagg"), e).value(&v.disagg))?;
    let key = (code.to_string(), d.code());
    if let Some(j) = seen.insert(key, i) {
        return Err(FieldError::new(
            at("disagg"),
            format!("the same cell is given before in this batch, at values[{j}]"),
        )
        .value(&v.disagg));
    }
    Ok(d.code())
}

/// The answer: every cell's state as stored now (inside the writing transaction).
fn respond(
    c: &mut dyn Conn,
    batch: &EntryBatch,
    t: &Target,
    errors: &[Option<FieldError>],
    stale: &HashSet<usize>,
    broken: &HashMap<usize, Vec<serde_json::Value>>,
) -> Result<SaveResponse, StoreError> {
    let codes: Vec<&str> = {
        let mut v: Vec<&str> = batch.values.iter().map(|v| v.indicator.trim()).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let now = stored(c, t.unit_id, &t.period, &codes)?;
    let mut out = SaveResponse {
        batch_id: batch.batch_id.clone(),
        duplicate: false,
        received_at: crate::clock::now(),
        form: t.form.form.code.clone(),
        org_unit: t.unit_ref(),
        period: t.period.to_string(),
        saved: 0,
        conflicts: 0,
        errors: 0,
        values: vec![],
    };
    for (i, v) in batch.values.iter().enumerate() {
        let disagg = v
            .disagg
            .parse::<Disagg>()
            .map(|d| d.code())
            .unwrap_or_else(|_| v.disagg.clone());
        let s = now.get(&(v.indicator.trim().to_string(), disagg.clone()));
        let (status, field, message) = match &errors[i] {
            Some(e) => (
                CellStatus::Error,
                Some(e.field.clone()),
                Some(e.message.clone()),
            ),
            None if stale.contains(&i) => (CellStatus::Conflict, None, None),
            None => (CellStatus::Saved, None, None),
        };
        match status {
            CellStatus::Saved => out.saved += 1,
            CellStatus::Conflict => out.conflicts += 1,
            CellStatus::Error => out.errors += 1,
        }
        let conflict = status == CellStatus::Conflict;
        out.values.push(CellResult {
            indicator: v.indicator.trim().to_string(),
            disagg,
            status,
            version: s.map(|s| s.version).unwrap_or(0),
            value: s.map(|s| s.value.clone()),
            comment: s.and_then(|s| s.comment.clone()),
            updated_at: s.map(|s| s.updated_at.clone()),
            updated_by: s.map(|s| s.updated_by.clone()),
            mine: if conflict {
                v.wanted().map(str::to_string)
            } else {
                None
            },
            base_version: conflict.then_some(v.base_version),
            field,
            message,
            validation: broken.get(&i).cloned().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Keep the batch and its answer; a batch id taken meanwhile (the same batch sent twice at
/// once) rolls the writing transaction back.
fn record(
    c: &mut dyn Conn,
    actor: &Actor,
    batch: &EntryBatch,
    t: &Target,
    r: &SaveResponse,
) -> Result<(), StoreError> {
    let response =
        serde_json::to_string(r).map_err(|e| StoreError::Db(format!("entry answer JSON: {e}")))?;
    let n = c.execute(
        "INSERT INTO entry_batch (id, hash, account, form_code, unit_id, period, received_at,
                                  saved, conflicts, errors, response)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
        &params![
            &batch.batch_id,
            batch.hash.to_ascii_lowercase(),
            &actor.name,
            &t.form.form.code,
            t.unit_id,
            t.period.to_string(),
            &r.received_at,
            r.saved as i64,
            r.conflicts as i64,
            r.errors as i64,
            response
        ],
    )?;
    if n == 0 {
        return Err(StoreError::Conflict(RACE.into()));
    }
    Ok(())
}

/// Batches received for a unit, newest first (for checks and support).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRecord {
    pub id: String,
    pub account: String,
    pub form: String,
    pub period: String,
    pub received_at: String,
    pub saved: i64,
    pub conflicts: i64,
    pub errors: i64,
}

pub fn batches(c: &mut dyn Conn, unit_id: i64) -> Result<Vec<BatchRecord>, StoreError> {
    Ok(c.query(
        "SELECT id, account, form_code, period, received_at, saved, conflicts, errors
         FROM entry_batch WHERE unit_id = $1 ORDER BY received_at DESC, id",
        &params![unit_id],
    )?
    .iter()
    .map(|r| BatchRecord {
        id: r.str(0),
        account: r.str(1),
        form: r.str(2),
        period: r.str(3),
        received_at: r.str(4),
        saved: r.i64(5),
        conflicts: r.i64(6),
        errors: r.i64(7),
    })
    .collect())
}

// ---------------------------------------------------------------------------------------------
// The grid

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    /// `all`, an ethnic code, `M`/`F`, `U`/`R`.
    pub key: String,
    pub label_vi: String,
    pub label_en: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GridCell {
    pub indicator: String,
    pub disagg: String,
    pub value: Option<String>,
    pub comment: Option<String>,
    /// 0: nothing stored.
    pub version: i64,
    pub updated_at: Option<String>,
    pub updated_by: Option<String>,
    /// The previous period's figure, as text.
    pub previous: Option<String>,
    /// The previous figure is the sum of the pre-2025 units this unit was formed from
    /// (weighted by their shares), not a value stored for this unit.
    pub previous_mapped: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GridRow {
    #[serde(flatten)]
    pub label: Label,
    pub cells: Vec<GridCell>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GridItem {
    pub indicator: String,
    pub name_vi: String,
    pub name_en: String,
    pub unit_of_measure: String,
    pub value_type: String,
    pub required: bool,
    /// The figures add up: the page shows row and column totals.
    pub totals: bool,
    pub rows_axis: String,
    pub columns_axis: String,
    pub columns: Vec<Label>,
    pub rows: Vec<GridRow>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GridSection {
    pub title_vi: String,
    pub title_en: String,
    pub items: Vec<GridItem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EthnicName {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GridForm {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub period_type: PeriodType,
    pub level: UnitKind,
    /// The day the form is due for this period.
    pub deadline: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Grid {
    pub form: GridForm,
    pub org_unit: AdminUnit,
    pub period: String,
    pub period_label: String,
    pub previous_period: Option<String>,
    /// The approval state (see [`approval_state`]); `None` until the workflow exists.
    pub approval: Option<String>,
    /// The ethnic groups the rows list: those present in the unit and those added.
    pub ethnic_rows: Vec<String>,
    /// Every other ethnic group, for adding a row.
    pub ethnic_other: Vec<EthnicName>,
    pub sections: Vec<GridSection>,
    /// Cells with a value, cells in all, required cells still empty.
    pub filled: usize,
    pub cells: usize,
    pub required_empty: usize,
}

/// Format a figure as stored text (whole numbers without decimals).
fn figure(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{n:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Previous-period figures for a current unit formed from pre-2025 units: the sum of theirs,
/// each weighted by the share of it that went into this unit (indicators that add up only).
fn mapped_previous(
    c: &mut dyn Conn,
    unit_id: i64,
    prev: &Period,
    indicators: &[&str],
) -> Result<HashMap<(String, String), String>, StoreError> {
    if indicators.is_empty() {
        return Ok(HashMap::new());
    }
    let mut p = crate::params_vec![unit_id, prev.month_range().0 as i64, prev.to_string()];
    let marks = crate::db::push_params(&mut p, indicators.iter().map(|i| Val::from(*i)));
    Ok(c.query(
        &format!(
            "SELECT i.code, g.code, sum(l.weight * d.value)
                 FROM unit_lineage l JOIN data_value d ON d.unit_id = l.old_id
                 JOIN indicator i ON i.id = d.indicator_id
                 JOIN disaggregation g ON g.id = d.disagg_id
                 WHERE l.new_id = $1 AND d.month_start = $2 AND d.period = $3
                   AND d.value IS NOT NULL AND i.code IN ({marks})
                 GROUP BY i.code, g.code"
        ),
        &p,
    )?
    .iter()
    .filter_map(|r| {
        r.opt_f64(2)
            .map(|v| ((r.str(0), r.str(1)), figure(v.round())))
    })
    .collect())
}

/// The entry grid of a form for a unit and period. `extra_ethnic`: ethnic groups (GSO 2008
/// codes) to add as rows beside those present in the unit; `allowed`: the units the reader
/// may read (`None`: everywhere).
pub fn grid(
    c: &mut dyn Conn,
    form: &str,
    org_unit: &str,
    period: &str,
    extra_ethnic: &[String],
    allowed: Option<&HashSet<i64>>,
) -> Result<Grid, StoreError> {
    let t = target(c, form, org_unit, period)?;
    check_scope(allowed, &t)?;
    let catalogue: HashMap<String, Indicator> = crate::indicators::list(c)?
        .into_iter()
        .map(|(_, i)| (i.code.clone(), i))
        .collect();
    let names: Vec<(String, String)> =
        crate::ethnic::list(c, dantoc_domain::ethnic::CodeList::Gso2008)?
            .into_iter()
            .map(|g| (g.code_2008, g.name))
            .collect();
    let name_of = |e: &str| names.iter().find(|(c, _)| c == e).map(|(_, n)| n.clone());
    let mut problems = Problems::default();
    let mut rows: Vec<String> = forms::ethnic_present(c, t.unit_id)?;
    for e in extra_ethnic {
        let e = e.trim();
        if e.is_empty() {
            continue;
        }
        if name_of(e).is_none() {
            problems.push(FieldError::new("eth", "no ethnic group has this code").value(e));
        } else if !rows.iter().any(|r| r == e) {
            rows.push(e.to_string());
        }
    }
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    rows.sort();
    let f = &t.form.form;
    let codes: Vec<&str> = f.indicators().map(|i| i.indicator.as_str()).collect();
    let now = stored(c, t.unit_id, &t.period, &codes)?;
    let prev_period = t.period.shift(-1);
    let (mut prev, mut mapped) = (HashMap::new(), HashMap::new());
    if let Some(pp) = &prev_period {
        prev = stored(c, t.unit_id, pp, &codes)?;
        if t.unit.version == HierarchyVersion::V2025
            && HierarchyVersion::on(&pp.end_date()) == HierarchyVersion::V2024
        {
            let sums: Vec<&str> = codes
                .iter()
                .copied()
                .filter(|code| {
                    catalogue
                        .get(*code)
                        .is_some_and(|i| i.aggregation == Aggregation::Sum)
                })
                .collect();
            mapped = mapped_previous(c, t.unit_id, pp, &sums)?;
        }
    }
    let (mut filled, mut cells, mut required_empty) = (0, 0, 0);
    let label = |k: &AxisKey| Label {
        key: match k {
            AxisKey::All => "all".into(),
            AxisKey::Ethnic(e) => e.clone(),
            AxisKey::Sex(s) => Disagg {
                sex: Some(*s),
                ..Default::default()
            }
            .code(),
            AxisKey::Area(a) => Disagg {
                area: Some(*a),
                ..Default::default()
            }
            .code(),
        },
        label_vi: k.label_vi(&|e| name_of(e)),
        label_en: k.label_en(&|e| name_of(e)),
    };
    let mut sections = vec![];
    for s in &f.sections {
        let mut items = vec![];
        for it in &s.items {
            let ind = catalogue.get(&it.indicator);
            let cols = it.column_keys();
            let mut grid_rows = vec![];
            for r in it.row_keys(&rows) {
                let mut row_cells = vec![];
                for col in &cols {
                    let d = it.cell(&r, col).code();
                    let key = (it.indicator.clone(), d.clone());
                    let s = now.get(&key);
                    let (previous, previous_mapped) = match prev.get(&key) {
                        Some(p) => (Some(p.value.clone()), false),
                        None => match mapped.get(&key) {
                            Some(v) => (Some(v.clone()), true),
                            None => (None, false),
                        },
                    };
                    cells += 1;
                    if s.is_some() {
                        filled += 1;
                    } else if it.required {
                        required_empty += 1;
                    }
                    row_cells.push(GridCell {
                        indicator: it.indicator.clone(),
                        disagg: d,
                        value: s.map(|s| s.value.clone()),
                        comment: s.and_then(|s| s.comment.clone()),
                        version: s.map(|s| s.version).unwrap_or(0),
                        updated_at: s.map(|s| s.updated_at.clone()),
                        updated_by: s.map(|s| s.updated_by.clone()),
                        previous,
                        previous_mapped,
                    });
                }
                grid_rows.push(GridRow {
                    label: label(&r),
                    cells: row_cells,
                });
            }
            items.push(GridItem {
                indicator: it.indicator.clone(),
                name_vi: ind.map(|i| i.name_vi.clone()).unwrap_or_default(),
                name_en: ind.map(|i| i.name_en.clone()).unwrap_or_default(),
                unit_of_measure: ind.map(|i| i.unit.clone()).unwrap_or_default(),
                value_type: ind
                    .map(|i| i.value_type.as_str().to_string())
                    .unwrap_or_default(),
                required: it.required,
                totals: ind.is_some_and(FormItem::totals_add_up),
                rows_axis: it.rows.as_str().into(),
                columns_axis: it.columns.as_str().into(),
                columns: cols.iter().map(label).collect(),
                rows: grid_rows,
            });
        }
        sections.push(GridSection {
            title_vi: s.title_vi.clone(),
            title_en: s.title_en.clone(),
            items,
        });
    }
    let ethnic_other = names
        .iter()
        .filter(|(code, _)| !rows.contains(code))
        .map(|(code, name)| EthnicName {
            code: code.clone(),
            name: name.clone(),
        })
        .collect();
    Ok(Grid {
        form: GridForm {
            code: f.code.clone(),
            name_vi: f.name_vi.clone(),
            name_en: f.name_en.clone(),
            period_type: f.period_type,
            level: f.level,
            deadline: f.deadline(&t.period),
        },
        approval: approval_state(c, t.form.id, t.unit_id, &t.period.to_string())?,
        org_unit: t.unit,
        period: t.period.to_string(),
        period_label: t.period.label_vi(),
        previous_period: prev_period.map(|p| p.to_string()),
        ethnic_rows: rows,
        ethnic_other,
        sections,
        filled,
        cells,
        required_empty,
    })
}

// ---------------------------------------------------------------------------------------------
// What an officer has to enter

/// One form to fill for one unit and one period, with how far it is.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub form: String,
    pub form_name_vi: String,
    pub form_name_en: String,
    pub unit_code: String,
    pub unit_version: HierarchyVersion,
    pub unit_name: String,
    pub period: String,
    pub period_label: String,
    pub deadline: String,
    /// Values stored for the form's indicators.
    pub filled: i64,
    pub approval: Option<String>,
}

/// The period of a type that holds a day (`YYYY-MM-DD`).
pub fn period_on(kind: PeriodType, day: &str) -> Option<Period> {
    let y: i32 = day.get(0..4)?.parse().ok()?;
    let m: u32 = day.get(5..7)?.parse().ok()?;
    match kind {
        PeriodType::Yearly => Period::year(y),
        PeriodType::SixMonthly => Period::six_month(y, if m <= 6 { 1 } else { 2 }),
        PeriodType::Quarterly => Period::quarter(y, (m - 1) / 3 + 1),
        PeriodType::Monthly => Period::month(y, m),
    }
}

/// The forms × units × recent periods an officer enters: every form, the units of its level
/// within `scope` (unit ids; `None`: everywhere) whose names match `q`, the current period and
/// the two before it — those in which the unit's hierarchy is in force. At most `limit` units
/// per form; the flag says whether some were left out.
pub fn tasks(
    c: &mut dyn Conn,
    scope: Option<&[i64]>,
    q: &str,
    today: &str,
    limit: usize,
) -> Result<(Vec<Task>, bool), StoreError> {
    let mut out = vec![];
    let mut truncated = false;
    for sf in forms::list(c, "")? {
        let f = &sf.form;
        let Some(current) = period_on(f.period_type, today) else {
            continue;
        };
        let periods: Vec<Period> = (0..3).filter_map(|k| current.shift(-k)).collect();
        let (filter, mut p) = units::folded_filter(q, "u.name_folded");
        let first = p.len();
        p.push(Val::from(f.level.as_str()));
        let mut sql =
            "SELECT DISTINCT u.id, u.code, u.version, u.full_name FROM admin_unit u".to_string();
        let mut cond = format!("u.kind = ${} AND {filter}", first + 1);
        match scope {
            Some([]) => continue,
            Some(ids) => {
                sql.push_str(" JOIN admin_unit_closure cl ON cl.descendant_id = u.id");
                let marks = crate::db::push_params(&mut p, ids.iter().map(|id| Val::Int(*id)));
                cond.push_str(&format!(" AND cl.ancestor_id IN ({marks})"));
            }
            None => {
                p.push(Val::from(HierarchyVersion::CURRENT.as_str()));
                cond.push_str(&format!(" AND u.version = ${}", p.len()));
            }
        }
        p.push(Val::Int(limit as i64 + 1));
        let found = c.query(
            &format!(
                "{sql} WHERE {cond} ORDER BY u.version DESC, u.code LIMIT ${}",
                p.len()
            ),
            &p,
        )?;
        if found.len() > limit {
            truncated = true;
        }
        let found: Vec<(i64, String, HierarchyVersion, String)> = found
            .iter()
            .take(limit)
            .filter_map(|r| Some((r.i64(0), r.str(1), r.str(2).parse().ok()?, r.str(3))))
            .collect();
        if found.is_empty() {
            continue;
        }
        // values stored per unit and period, for the form's indicators
        let mut cp: Vec<Val> = vec![Val::Int(sf.id)];
        let umarks = crate::db::push_params(&mut cp, found.iter().map(|u| Val::Int(u.0)));
        let pmarks =
            crate::db::push_params(&mut cp, periods.iter().map(|pe| Val::from(pe.to_string())));
        let counts: HashMap<(i64, String), i64> = c
            .query(
                &format!(
                    "SELECT d.unit_id, d.period, count(*) FROM data_value d
                     JOIN form_indicator fi ON fi.indicator_id = d.indicator_id AND fi.form_id = $1
                     WHERE d.unit_id IN ({umarks}) AND d.period IN ({pmarks})
                     GROUP BY d.unit_id, d.period"
                ),
                &cp,
            )?
            .iter()
            .map(|r| ((r.i64(0), r.str(1)), r.i64(2)))
            .collect();
        for (id, code, version, name) in &found {
            for pe in &periods {
                if HierarchyVersion::on(&pe.end_date()) != *version {
                    continue;
                }
                let ptext = pe.to_string();
                out.push(Task {
                    form: f.code.clone(),
                    form_name_vi: f.name_vi.clone(),
                    form_name_en: f.name_en.clone(),
                    unit_code: code.clone(),
                    unit_version: *version,
                    unit_name: name.clone(),
                    period_label: pe.label_vi(),
                    deadline: f.deadline(pe),
                    filled: counts.get(&(*id, ptext.clone())).copied().unwrap_or(0),
                    approval: approval_state(c, sf.id, *id, &ptext)?,
                    period: ptext,
                });
            }
        }
    }
    Ok((out, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::on_both_backends;
    use crate::testing::TestDb;
    use dantoc_domain::entry::EntryValue;

    on_both_backends!(
        a_batch_is_applied_once_and_answered_again,
        a_stale_base_version_is_a_conflict_that_changes_nothing,
        two_concurrent_saves_of_one_cell_cannot_both_win,
        bad_cells_are_refused_one_by_one,
        the_grid_shows_values_versions_and_the_previous_period,
        the_cached_catalogue_follows_changes_made_by_another_process
    );

    fn actor(name: &str) -> Actor {
        Actor {
            name: name.into(),
            origin: "test".into(),
        }
    }

    fn value(ind: &str, disagg: &str, v: &str, base: i64) -> EntryValue {
        EntryValue {
            indicator: ind.into(),
            disagg: disagg.into(),
            value: (!v.is_empty()).then(|| v.to_string()),
            comment: None,
            base_version: base,
        }
    }

    fn batch(id: &str, values: Vec<EntryValue>) -> EntryBatch {
        let mut b = EntryBatch {
            batch_id: id.into(),
            hash: String::new(),
            form: "BM-DTTS-01".into(),
            org_unit: "06877".into(),
            period: "2025".into(),
            values,
        };
        b.hash = content_hash(&b);
        b
    }

    fn count(db: &TestDb, sql: &str) -> i64 {
        db.read(|c| c.scalar_i64(sql, &[])).unwrap()
    }

    fn cell_version(db: &TestDb, ind: &str, disagg: &str) -> Option<(String, i64)> {
        db.read(|c| {
            Ok(c.query_one(
                "SELECT d.value_text, d.version FROM data_value d
                 JOIN indicator i ON i.id = d.indicator_id JOIN disaggregation g ON g.id = d.disagg_id
                 JOIN admin_unit u ON u.id = d.unit_id
                 WHERE i.code = $1 AND g.code = $2 AND u.code = '06877' AND u.version = '2025'
                   AND d.period = '2025'",
                &params![ind, disagg],
            )?
            .map(|r| (r.str(0), r.i64(1))))
        })
        .unwrap()
    }

    /// Saves check values against a catalogue cached in the `Db` (values.rs): an indicator
    /// created — here by another handle on the same database, as another server process
    /// would — is accepted by the next save, and a changed definition is what the next save
    /// checks against.
    fn the_cached_catalogue_follows_changes_made_by_another_process(db: &TestDb) {
        let me = actor("xa");
        let r = save(
            db,
            &me,
            None,
            &batch("cache-0001", vec![value("x-pop-total", "M", "100", 0)]),
        )
        .unwrap();
        assert_eq!((r.saved, r.errors), (1, 0), "{r:?}");
        let other = Db::open(&db.url).unwrap();
        other
            .write(|c| {
                let mut i = crate::indicators::get(c, "x-pop-total")?.unwrap();
                assert_eq!(i.value_type, dantoc_domain::indicator::ValueType::Integer);
                i.code = "x-moi".into();
                i.name_vi = "Chỉ tiêu mới".into();
                crate::indicators::insert(c, &i)?;
                let mut f = forms::require(c, "BM-DTTS-01")?.form;
                let mut item = f.sections[0].items[0].clone();
                assert_eq!(item.indicator, "x-pop-total");
                item.indicator = "x-moi".into();
                f.sections[0].items.push(item);
                forms::put(c, &me, "BM-DTTS-01", f)?;
                Ok(())
            })
            .unwrap();
        let r = save(
            db,
            &me,
            None,
            &batch(
                "cache-0002",
                vec![value("x-moi", "M", "7", 0), value("x-moi", "F", "7.5", 0)],
            ),
        )
        .unwrap();
        assert_eq!((r.saved, r.errors), (1, 1), "{r:?}");
        assert_eq!(r.values[0].status, CellStatus::Saved);
        assert_eq!(r.values[1].status, CellStatus::Error, "not an integer");
        other
            .write(|c| {
                let mut i = crate::indicators::get(c, "x-moi")?.unwrap();
                i.value_type = dantoc_domain::indicator::ValueType::Number;
                crate::indicators::update(c, "x-moi", &i)
            })
            .unwrap();
        let r = save(
            db,
            &me,
            None,
            &batch("cache-0003", vec![value("x-moi", "F", "7.5", 0)]),
        )
        .unwrap();
        assert_eq!((r.saved, r.errors), (1, 0), "the new definition: {r:?}");
        assert_eq!(cell_version(db, "x-moi", "F"), Some(("7.5".into(), 1)));
        other.close_idle();
    }

    fn a_batch_is_applied_once_and_answered_again(db: &TestDb) {
        let me = actor("xa");
        let b = batch(
            "b-0000-0001",
            vec![
                value("0101", "E02.M", "120", 0),
                value("0101", "E02.F", "131", 0),
                value("x-pop-total", "M", "5000", 0),
            ],
        );
        let first = save(db, &me, None, &b).unwrap();
        assert!(!first.duplicate);
        assert_eq!((first.saved, first.conflicts, first.errors), (3, 0, 0));
        assert!(first.values.iter().all(|v| v.version == 1), "{first:?}");
        let audits = count(
            db,
            "SELECT count(*) FROM audit_log WHERE entity = 'data_value'",
        );
        assert_eq!(audits, 3, "one audit entry per value");
        let again = save(db, &me, None, &b).unwrap();
        assert!(again.duplicate);
        assert_eq!(again.values, first.values, "the same answer");
        assert_eq!(
            count(
                db,
                "SELECT count(*) FROM audit_log WHERE entity = 'data_value'"
            ),
            audits,
            "applied once"
        );
        assert_eq!(cell_version(db, "0101", "E02.M"), Some(("120".into(), 1)));
        assert_eq!(count(db, "SELECT count(*) FROM entry_batch"), 1);
        // the same id with other content: refused, nothing changed
        let other = batch("b-0000-0001", vec![value("0101", "E02.M", "999", 1)]);
        assert!(matches!(
            save(db, &me, None, &other),
            Err(StoreError::Conflict(_))
        ));
        // another account may not replay someone's batch
        assert!(matches!(
            save(db, &actor("khac"), None, &b),
            Err(StoreError::Conflict(_))
        ));
        // a hash that does not match the content
        let mut forged = batch("b-0000-0002", vec![value("0101", "E02.M", "999", 1)]);
        forged.values[0].value = Some("5".into());
        let e = save(db, &me, None, &forged).unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid(p) if p.0[0].field == "hash"),
            "{e}"
        );
        assert_eq!(cell_version(db, "0101", "E02.M"), Some(("120".into(), 1)));
        // emptied: deleted, audited as a deletion
        let del = save(
            db,
            &me,
            None,
            &batch("b-0000-0003", vec![value("0101", "E02.F", "", 1)]),
        )
        .unwrap();
        assert_eq!(del.values[0].status, CellStatus::Saved);
        assert_eq!(
            (del.values[0].version, del.values[0].value.clone()),
            (0, None)
        );
        assert_eq!(cell_version(db, "0101", "E02.F"), None);
        assert_eq!(
            count(
                db,
                "SELECT count(*) FROM audit_log WHERE entity = 'data_value' AND action = 'delete'"
            ),
            1
        );
    }

    fn a_stale_base_version_is_a_conflict_that_changes_nothing(db: &TestDb) {
        let (a, b) = (actor("xa-a"), actor("xa-b"));
        save(
            db,
            &a,
            None,
            &batch("c-0000-0001", vec![value("0101", "E02.M", "10", 0)]),
        )
        .unwrap();
        save(
            db,
            &b,
            None,
            &batch("c-0000-0002", vec![value("0101", "E02.M", "11", 1)]),
        )
        .unwrap();
        // a still believes version 1
        let r = save(
            db,
            &a,
            None,
            &batch(
                "c-0000-0003",
                vec![
                    value("0101", "E02.M", "12", 1),
                    value("0101", "E09.M", "7", 0),
                ],
            ),
        )
        .unwrap();
        let c = &r.values[0];
        assert_eq!(c.status, CellStatus::Conflict);
        assert_eq!(
            (c.value.as_deref(), c.version, c.updated_by.as_deref()),
            (Some("11"), 2, Some("xa-b"))
        );
        assert_eq!((c.mine.as_deref(), c.base_version), (Some("12"), Some(1)));
        assert_eq!(
            r.values[1].status,
            CellStatus::Saved,
            "the others are written"
        );
        assert_eq!(cell_version(db, "0101", "E02.M"), Some(("11".into(), 2)));
        // the same value as the server's is no conflict
        let same = save(
            db,
            &a,
            None,
            &batch("c-0000-0004", vec![value("0101", "E02.M", "11", 1)]),
        )
        .unwrap();
        assert_eq!(same.values[0].status, CellStatus::Saved);
        assert_eq!(same.values[0].version, 2);
        // keep mine: sent again over the server's version
        let keep = save(
            db,
            &a,
            None,
            &batch("c-0000-0005", vec![value("0101", "E02.M", "12", 2)]),
        )
        .unwrap();
        assert_eq!(keep.values[0].status, CellStatus::Saved);
        assert_eq!(cell_version(db, "0101", "E02.M"), Some(("12".into(), 3)));
    }

    fn two_concurrent_saves_of_one_cell_cannot_both_win(db: &TestDb) {
        save(
            db,
            &actor("xa"),
            None,
            &batch("d-setup-0000", vec![value("x-ho-dtts", "E02", "50", 0)]),
        )
        .unwrap();
        for round in 0..4 {
            let base = cell_version(db, "x-ho-dtts", "E02").unwrap().1;
            let outcomes: Vec<CellStatus> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..4)
                    .map(|k| {
                        s.spawn(move || {
                            let b = batch(
                                &format!("d-{round:04}-{k:04}"),
                                vec![value(
                                    "x-ho-dtts",
                                    "E02",
                                    &format!("{}", 100 * (round + 1) + k),
                                    base,
                                )],
                            );
                            save(db, &actor(&format!("xa{k}")), None, &b)
                                .unwrap()
                                .values[0]
                                .status
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let won = outcomes.iter().filter(|s| **s == CellStatus::Saved).count();
            assert_eq!(won, 1, "round {round}: {outcomes:?}");
            assert_eq!(cell_version(db, "x-ho-dtts", "E02").unwrap().1, base + 1);
        }
    }

    fn bad_cells_are_refused_one_by_one(db: &TestDb) {
        let r = save(
            db,
            &actor("xa"),
            None,
            &batch(
                "e-0000-0001",
                vec![
                    value("0101", "E02.M", "abc", 0),
                    value("0101", "E02.F", "40", 0),
                    value("x-cnscd-to", "default", "3", 0),
                    value("0101", "E02", "1", 0),
                    value("0101", "E02.F", "41", 0),
                    value("0101", "E99.M", "1", 0),
                ],
            ),
        )
        .unwrap();
        let status: Vec<CellStatus> = r.values.iter().map(|v| v.status).collect();
        use CellStatus::*;
        assert_eq!(status, [Error, Saved, Error, Error, Error, Error], "{r:?}");
        assert_eq!(r.values[0].field.as_deref(), Some("values[0].value"));
        assert!(
            r.values[2]
                .message
                .as_deref()
                .unwrap()
                .contains("not on form")
        );
        assert!(
            r.values[4]
                .message
                .as_deref()
                .unwrap()
                .contains("values[1]")
        );
        assert_eq!(cell_version(db, "0101", "E02.F"), Some(("40".into(), 1)));
        // a unit outside the writer's units: the whole batch is refused
        let elsewhere: HashSet<i64> = [1].into();
        let e = save(
            db,
            &actor("xa"),
            Some(&elsewhere),
            &batch("e-0000-0002", vec![value("0101", "E02.F", "42", 1)]),
        )
        .unwrap_err();
        assert!(matches!(e, StoreError::Forbidden(_)), "{e}");
        // a form reported by communes, asked for a province
        let mut p = batch("e-0000-0003", vec![value("0101", "E02.F", "42", 1)]);
        p.org_unit = "22".into();
        p.hash = content_hash(&p);
        let e = save(db, &actor("xa"), None, &p).unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid(p) if p.0[0].field == "orgUnit"),
            "{e}"
        );
    }

    fn the_grid_shows_values_versions_and_the_previous_period(db: &TestDb) {
        // 2024 on the pre-2025 commune the current one was formed from
        let opts = ImportOptions::default();
        let old = ["E02.M", "E02.F"].map(|d| {
            Ok(RawValue {
                indicator: "0101".into(),
                unit: "06877@2024".into(),
                period: "2024".into(),
                disagg: d.into(),
                value: Some("100".into()),
                ..Default::default()
            })
        });
        let s = crate::values::import(db, &actor("x"), &opts, old, &|_, e| e).unwrap();
        assert_eq!(s.status, "SUCCESS");
        save(
            db,
            &actor("xa"),
            None,
            &batch("g-0000-0001", vec![value("0101", "E02.M", "120", 0)]),
        )
        .unwrap();
        let g = db
            .read(|c| grid(c, "BM-DTTS-01", "06877", "2025", &["08".into()], None))
            .unwrap();
        assert_eq!(g.ethnic_rows, ["02", "08"], "present, and the one added");
        assert!(g.ethnic_other.iter().all(|e| e.code != "02"));
        let item = &g.sections[0].items[1];
        assert_eq!(item.indicator, "0101");
        assert!(item.totals);
        let tay = &item.rows[0];
        assert_eq!(tay.label.label_vi, "Tày");
        let m = &tay.cells[0];
        assert_eq!(
            (m.disagg.as_str(), m.value.as_deref(), m.version),
            ("E02.M", Some("120"), 1)
        );
        assert_eq!(m.updated_by.as_deref(), Some("xa"));
        // 2024 mapped from 06877@2024, split between the current Đông Ngũ and Tiên Yên (equal
        // shares until the province sets them)
        assert_eq!(m.previous.as_deref(), Some("50"));
        assert!(m.previous_mapped);
        assert_eq!(item.rows[1].cells[0].version, 0);
        assert_eq!(g.filled, 1);
        assert!(g.required_empty > 0);
        let e = db
            .read(|c| grid(c, "BM-DTTS-01", "06877", "2025Q1", &[], None))
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{e}");
        let (tasks, _) = db
            .read(|c| {
                let id = units::id_of(c, HierarchyVersion::V2025, "06877")?.unwrap();
                tasks(c, Some(&[id]), "", "2026-11-30", 50)
            })
            .unwrap();
        let t: Vec<(String, String, i64)> = tasks
            .iter()
            .map(|t| (t.form.clone(), t.period.clone(), t.filled))
            .collect();
        assert_eq!(
            t,
            [
                ("BM-DTTS-01".to_string(), "2026".to_string(), 0),
                ("BM-DTTS-01".to_string(), "2025".to_string(), 1),
                ("BM-DTTS-02".to_string(), "2026".to_string(), 0),
                ("BM-DTTS-02".to_string(), "2025".to_string(), 0)
            ]
        );
    }
}

//! Form files: a form laid out for one unit and period with the stored values (for the xlsx
//! template, written by `dantoc_report::form_xlsx`), and the filled file imported back — xlsx
//! (read by [`crate::xlsx_values`]) or CSV of the form's values.
//!
//! Rules of the xlsx import (each cell as the keys name it):
//! - the file must be of the form asked for (and of the unit and period, when the caller
//!   names them); the keys must match their checksum; a cell whose indicator or
//!   disaggregation is no longer on the form is a conflict (the form changed since);
//! - a figure equal to the value the file was pre-filled with is unchanged: not written
//!   (counted as ignored), so an old file never reverts a later correction made elsewhere;
//! - a changed figure is written (create or update); a figure typed as text is read the
//!   Vietnamese way too (`12,5`, `1.234,5`; in a whole-number cell `4.512` is 4512);
//! - an empty cell that was pre-filled (the officer cleared it) deletes the stored value; an
//!   empty cell that was empty stays without a value;
//! - a cell changed in the file whose stored value also changed since the file was made (by
//!   someone else) is a conflict, never silently overwritten, unless `force`;
//! - the previous period's figures shown beside are those of the same unit: for the first
//!   period after the 1 July 2025 reform (a 2025 commune, period 2024) there are none;
//! - all or nothing, through [`values::import`]: every problem is located as `Biểu!D12` and
//!   its field, and nothing is written while any is left. The check against the stored
//!   values runs just before the import's transaction (a change made in between is not seen).

use crate::audit::Actor;
use crate::db::{Conn, Db, Val};
use crate::error::StoreError;
use crate::values::{self, ImportOptions, ImportSummary, RawValue, field};
use crate::xlsx_values::{self, Content};
use dantoc_domain::FieldError;
use dantoc_domain::admin::{HierarchyVersion, UnitKind};
use dantoc_domain::disagg::{Dimension, Disagg};
use dantoc_domain::ethnic::CodeList;
use dantoc_domain::form::{Axis, Form};
use dantoc_domain::form_file::{FormSheet, SheetSources, plain_number};
use dantoc_domain::indicator::{Indicator, ValueType};
use dantoc_domain::period::Period;
use dantoc_domain::value::{check_value, fmt_num};
use std::collections::{HashMap, HashSet};

/// A unit resolved for a period: its id, `CODE@VERSION`, code, name and kind.
struct Unit {
    id: i64,
    key: String,
    code: String,
    name: String,
    kind: UnitKind,
}

fn parse_period(p: &str) -> Result<Period, StoreError> {
    p.trim()
        .parse()
        .map_err(|e: dantoc_domain::period::PeriodError| {
            StoreError::invalid(FieldError::new("pe", e.to_string()).value(p))
        })
}

fn unit(c: &mut dyn Conn, unit: &str, p: &Period) -> Result<Unit, StoreError> {
    let (code, v) = dantoc_domain::admin::split_unit_ref(unit.trim())
        .map_err(|e| StoreError::invalid(FieldError::new("ou", e).value(unit)))?;
    let v = v.unwrap_or_else(|| HierarchyVersion::on(&p.end_date()));
    let u = crate::units::get(c, v, code)?.ok_or_else(|| {
        StoreError::invalid(
            FieldError::new(
                "ou",
                format!("no administrative unit has this code in the {v} hierarchy (in force at the end of period {p})"),
            )
            .value(unit),
        )
    })?;
    let id = crate::units::id_of(c, v, code)?
        .ok_or_else(|| StoreError::NotFound(format!("unit {code}@{v}")))?;
    Ok(Unit {
        id,
        key: format!("{}@{}", u.code, v),
        code: u.code,
        name: u.full_name,
        kind: u.kind,
    })
}

fn in_scope(allowed: Option<&HashSet<i64>>, u: &Unit) -> Result<(), StoreError> {
    match allowed {
        Some(set) if !set.contains(&u.id) => Err(StoreError::Forbidden(format!(
            "unit {} is outside your administrative units",
            u.code
        ))),
        _ => Ok(()),
    }
}

fn reported_by(form: &Form, u: &Unit) -> Result<(), StoreError> {
    if form.level != u.kind {
        return Err(StoreError::invalid(
            FieldError::new(
                "ou",
                format!(
                    "form {} is reported by each {}; {} is a {}",
                    form.code,
                    form.level.as_str(),
                    u.code,
                    u.kind.as_str()
                ),
            )
            .value(&u.code),
        ));
    }
    Ok(())
}

/// Stored values of a form's indicators for a unit and period: (indicator, disaggregation) →
/// value text.
fn stored(
    c: &mut dyn Conn,
    form_id: i64,
    unit_id: i64,
    p: &Period,
) -> Result<HashMap<(String, String), String>, StoreError> {
    Ok(c.query(
        "SELECT i.code, g.code, d.value_text FROM data_value d
           JOIN indicator i ON i.id = d.indicator_id
           JOIN disaggregation g ON g.id = d.disagg_id
          WHERE d.unit_id = $1 AND d.month_start = $2 AND d.period = $3
            AND d.indicator_id IN (SELECT indicator_id FROM form_indicator WHERE form_id = $4)",
        &[
            Val::Int(unit_id),
            Val::Int(p.month_range().0 as i64),
            Val::from(p.to_string().as_str()),
            Val::Int(form_id),
        ],
    )?
    .iter()
    .map(|r| ((r.str(0), r.str(1)), r.str(2)))
    .collect())
}

/// What a template asks for.
#[derive(Debug, Clone, Default)]
pub struct TemplateRequest {
    pub form: String,
    /// Unit code (`CODE` or `CODE@VERSION`).
    pub unit: String,
    pub period: String,
    /// Fill the input cells with the stored values.
    pub prefill: bool,
    /// Rows of ethnic grids: these groups (GSO 2008 codes); empty: those present in the
    /// unit, or every group when none is recorded yet.
    pub ethnic: Vec<String>,
}

/// A form laid out for a unit and period, with the stored values (when `prefill`) and the
/// previous period's. `allowed`: the units the caller may read unpublished values of.
pub fn sheet(
    c: &mut dyn Conn,
    req: &TemplateRequest,
    allowed: Option<&HashSet<i64>>,
) -> Result<FormSheet, StoreError> {
    let f = crate::forms::require(c, &req.form)?;
    let p = parse_period(&req.period)?;
    f.form
        .accepts(&p)
        .map_err(|e| StoreError::invalid(FieldError::new("pe", e).value(&req.period)))?;
    let u = unit(c, &req.unit, &p)?;
    in_scope(allowed, &u)?;
    reported_by(&f.form, &u)?;
    let groups = crate::ethnic::list(c, CodeList::Gso2008)?;
    let names: HashMap<String, String> = groups
        .iter()
        .map(|g| (g.code_2008.clone(), g.name.clone()))
        .collect();
    for e in &req.ethnic {
        if !names.contains_key(e) {
            return Err(StoreError::invalid(
                FieldError::new("ethnic", "no ethnic group has this code (GSO 2008 list)").value(e),
            ));
        }
    }
    let present = if !req.ethnic.is_empty() {
        req.ethnic.clone()
    } else {
        let found = crate::forms::ethnic_present(c, u.id)?;
        if found.is_empty() {
            groups.iter().map(|g| g.code_2008.clone()).collect()
        } else {
            found
        }
    };
    let catalogue: HashMap<String, Indicator> = crate::indicators::list(c)?
        .into_iter()
        .map(|(_, i)| (i.code.clone(), i))
        .collect();
    let values = if req.prefill {
        stored(c, f.id, u.id, &p)?
    } else {
        HashMap::new()
    };
    let previous = match p.shift(-1) {
        Some(q) => stored(c, f.id, u.id, &q)?,
        None => HashMap::new(),
    };
    FormSheet::build(
        &f.form,
        (&u.key, &u.code, &u.name),
        p,
        &SheetSources {
            indicator: &|code| catalogue.get(code).cloned(),
            ethnic_name: &|e| names.get(e).cloned(),
            present: &present,
            values: &values,
            previous: &previous,
        },
    )
    .map_err(StoreError::invalid)
}

/// The unit and period a caller expects a file to be of (either may be left out).
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub unit: Option<String>,
    pub period: Option<String>,
}

/// Whether disaggregation `d` is a cell of form item `it`: it has exactly the item's
/// dimensions.
fn fits(item_rows: Axis, item_cols: Axis, d: &Disagg) -> bool {
    let mut want = vec![];
    for a in [item_rows, item_cols] {
        match a {
            Axis::Ethnic => want.push(Dimension::Ethnic),
            Axis::Sex => want.push(Dimension::Sex),
            Axis::Area => want.push(Dimension::Area),
            Axis::None => {}
        }
    }
    want.sort();
    let mut have = d.dimensions();
    have.sort();
    want == have
}

fn mismatch(what: &str, file: &str, asked: &str) -> StoreError {
    StoreError::invalid(
        FieldError::new(
            "file",
            format!("this file is for {what} {file}, not {asked}: upload the file of {asked}"),
        )
        .value(file),
    )
}

/// Import a filled xlsx form file, all or nothing. `opts` as for any import (dry run,
/// strategy, allowed units, audit); `form_code`: the form the file must be of (`None`: the
/// one it names); `force` writes changed cells even where the stored value changed since the
/// file was made.
pub fn import_xlsx(
    db: &Db,
    actor: &Actor,
    opts: &ImportOptions,
    form_code: Option<&str>,
    expect: &Expect,
    bytes: &[u8],
    force: bool,
) -> Result<ImportSummary, StoreError> {
    let file = xlsx_values::read(bytes).map_err(StoreError::invalid)?;
    let k = &file.keys;
    let form_code = form_code.unwrap_or(&k.form);
    if k.form != form_code {
        return Err(mismatch("form", &k.form, form_code));
    }
    let p = parse_period(&k.period)?;
    let (f, u, current, catalogue) = db.read(|c| {
        let f = crate::forms::require(c, form_code)?;
        let u = unit(c, &k.unit, &p)?;
        let current = stored(c, f.id, u.id, &p)?;
        let catalogue: HashMap<String, ValueType> = crate::indicators::list(c)?
            .into_iter()
            .map(|(_, i)| (i.code, i.value_type))
            .collect();
        Ok((f, u, current, catalogue))
    })?;
    if let Some(want) = &expect.unit {
        let wanted = db.read(|c| unit(c, want, &p))?;
        if wanted.id != u.id {
            return Err(mismatch("unit", &u.code, &wanted.code));
        }
    }
    if let Some(want) = &expect.period {
        let wanted = parse_period(want)?;
        if wanted != p {
            return Err(mismatch("period", &p.to_string(), &wanted.to_string()));
        }
    }
    reported_by(&f.form, &u)?;
    in_scope(opts.allowed_units.as_ref(), &u)?;
    // each cell: a value to write (Some(text)), to delete (None), or nothing; or a problem
    let mut items: Vec<Result<RawValue, FieldError>> = vec![];
    let mut at: Vec<usize> = vec![];
    let mut unchanged = 0u64;
    for (i, (key, content)) in k.cells.iter().zip(&file.cells).enumerate() {
        let raw = |value: Option<String>| RawValue {
            indicator: key.indicator.clone(),
            unit: k.unit.clone(),
            period: k.period.clone(),
            disagg: key.disagg.clone(),
            value,
            comment: None,
            followup: None,
        };
        let item = f.form.item(&key.indicator);
        let disagg: Option<Disagg> = key.disagg.parse().ok();
        let Some((item, _)) = item
            .zip(disagg.as_ref())
            .filter(|(it, d)| fits(it.rows, it.columns, d))
        else {
            items.push(Err(FieldError::new(
                field::INDICATOR,
                format!(
                    "the form {form_code} was changed since this file was made: indicator {} \
                     ({}) is no longer on it — download a new template",
                    key.indicator, key.disagg
                ),
            )
            .value(&key.indicator)));
            at.push(i);
            continue;
        };
        let vt = catalogue
            .get(&item.indicator)
            .copied()
            .unwrap_or(ValueType::Text);
        let now = current.get(&(key.indicator.clone(), key.disagg.clone()));
        let text = match content {
            Content::Empty => None,
            Content::Number(n) => Some(fmt_num(*n)),
            Content::Bool(b) => Some(b.to_string()),
            Content::Text(t) if vt == ValueType::Text => Some(t.clone()),
            Content::Text(t) => Some(plain_number(t, vt == ValueType::Integer)),
            Content::Bad(why) => {
                items.push(Err(FieldError::new(field::VALUE, why.clone())));
                at.push(i);
                continue;
            }
        };
        // the value as it would be stored, to compare with what the file was pre-filled with
        let canonical = text.as_deref().map(|t| {
            check_value(vt, t)
                .map(|v| v.text)
                .unwrap_or_else(|_| t.to_string())
        });
        if canonical.is_none() && key.prefilled.is_none() {
            // empty, and was empty: no value given
            continue;
        }
        if canonical == key.prefilled {
            unchanged += 1;
            continue;
        }
        if canonical.is_none() && now.is_none() {
            // cleared, and gone from the store already
            unchanged += 1;
            continue;
        }
        if !force && now != key.prefilled.as_ref() && now != canonical.as_ref() {
            let was = key.prefilled.as_deref().unwrap_or("(trống)");
            let is = now.map(String::as_str).unwrap_or("(trống)");
            items.push(Err(FieldError::new(
                field::VALUE,
                format!(
                    "the stored value was changed since this file was made (from {was} to {is}): \
                     download a new template, or import with force to overwrite it"
                ),
            )
            .value(text.clone().unwrap_or_default())));
            at.push(i);
            continue;
        }
        items.push(Ok(raw(text)));
        at.push(i);
    }
    let opts = ImportOptions {
        delete_empty: true,
        audit_each: true,
        what: if opts.what.is_empty() {
            format!("form file {form_code} {} {}", k.unit, k.period)
        } else {
            opts.what.clone()
        },
        ..opts.clone()
    };
    let locate = |n: usize, e: FieldError| {
        let (cell, r, col) = file.place(at.get(n).copied().unwrap_or(usize::MAX));
        e.in_cell(cell, r, col)
    };
    let mut s = values::import(db, actor, &opts, items, &locate)?;
    s.import_count.ignored += unchanged;
    s.rows += unchanged;
    Ok(s)
}

/// Import a CSV of a form's values (the columns of `/api/dataValues/csv`): every value must be
/// of one of the form's indicators, with a disaggregation of its grid, and of the unit and
/// period expected when they are given. All or nothing, located by row and column.
pub fn import_csv(
    db: &Db,
    actor: &Actor,
    opts: &ImportOptions,
    form_code: &str,
    expect: &Expect,
    bytes: &[u8],
) -> Result<ImportSummary, StoreError> {
    let f = db.read(|c| crate::forms::require(c, form_code))?;
    let reader = crate::csv_values::open(bytes).map_err(StoreError::invalid)?;
    let loc = reader.locator();
    let want_period: Option<Period> = expect.period.as_deref().map(parse_period).transpose()?;
    let want_unit = expect.unit.as_deref().map(str::trim).map(str::to_string);
    let items = reader.map(|item| {
        let raw = item?;
        let Some(it) = f.form.item(raw.indicator.trim()) else {
            return Err(FieldError::new(
                field::INDICATOR,
                format!("this indicator is not on form {form_code}"),
            )
            .value(&raw.indicator));
        };
        if let Ok(d) = raw.disagg.parse::<Disagg>()
            && !fits(it.rows, it.columns, &d)
        {
            return Err(FieldError::new(
                field::DISAGG,
                format!(
                    "not a cell of indicator {} on form {form_code} (rows {}, columns {})",
                    it.indicator,
                    it.rows.as_str(),
                    it.columns.as_str()
                ),
            )
            .value(&raw.disagg));
        }
        if let Some(w) = &want_period
            && raw.period.trim().parse::<Period>().ok().as_ref() != Some(w)
        {
            return Err(FieldError::new(
                field::PERIOD,
                format!("the file is imported for period {w}"),
            )
            .value(&raw.period));
        }
        if let Some(w) = &want_unit {
            let code = raw.unit.trim().split('@').next().unwrap_or("");
            if code != w.split('@').next().unwrap_or("") {
                return Err(FieldError::new(
                    field::UNIT,
                    format!("the file is imported for unit {w}"),
                )
                .value(&raw.unit));
            }
        }
        Ok(raw)
    });
    let opts = ImportOptions {
        what: if opts.what.is_empty() {
            format!("form CSV {form_code}")
        } else {
            opts.what.clone()
        },
        ..opts.clone()
    };
    values::import(db, actor, &opts, items, &|i, e| loc.locate(i, e))
}

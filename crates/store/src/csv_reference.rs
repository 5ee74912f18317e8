//! Reference data as CSV: export units, lineage, ethnic groups and the indicator catalogue;
//! import indicators, villages and lineage weights — each import all-or-nothing, with every
//! problem located by row and column.

use crate::audit::{self, Actor};
use crate::db::Db;
use crate::error::StoreError;
use crate::{indicators, params, units};
use dantoc_domain::admin::HierarchyVersion;
use dantoc_domain::ethnic::CodeList;
use dantoc_domain::text::clean;
use dantoc_domain::{FieldError, Problems};
use std::collections::HashMap;
use std::io::{Read, Write};

use crate::csv_values::{BOM, bom_writer as writer};

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

pub fn export_units<W: Write>(db: &Db, v: HierarchyVersion, out: W) -> Result<u64, StoreError> {
    let rows = db.read(|c| {
        c.query(
            "SELECT u.code, u.name, u.full_name, u.kind, p.code, u.type, u.province_code, u.valid_from, u.valid_to, u.alt_names
             FROM admin_unit u LEFT JOIN admin_unit p ON p.id = u.parent_id WHERE u.version = $1 ORDER BY u.level, u.code",
            &params![v.as_str()],
        )
    })?;
    let mut w = writer(out).map_err(io)?;
    w.write_record([
        "code",
        "name",
        "full_name",
        "level",
        "parent_code",
        "type",
        "province_code",
        "valid_from",
        "valid_to",
        "alt_names",
    ])
    .map_err(io)?;
    for r in &rows {
        w.write_record((0..10).map(|i| r.str(i))).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(rows.len() as u64)
}

pub fn export_lineage<W: Write>(db: &Db, out: W) -> Result<u64, StoreError> {
    let rows = db.read(|c| {
        c.query(
            "SELECT o.code, o.full_name, o.kind, n.code, n.full_name, l.portion, l.detail, l.weight, l.weight_source
             FROM unit_lineage l JOIN admin_unit o ON o.id = l.old_id JOIN admin_unit n ON n.id = l.new_id
             ORDER BY o.level, o.code, n.code",
            &[],
        )
    })?;
    let mut w = writer(out).map_err(io)?;
    w.write_record([
        "old_code",
        "old_name",
        "old_level",
        "new_code",
        "new_name",
        "portion",
        "detail",
        "weight",
        "weight_source",
        "estimated",
    ])
    .map_err(io)?;
    for r in &rows {
        let est = r.str(8) == "default_equal";
        let mut rec: Vec<String> = (0..9).map(|i| r.str(i)).collect();
        rec[7] = format!("{}", r.f64(7));
        rec.push(est.to_string());
        w.write_record(rec).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(rows.len() as u64)
}

pub fn export_ethnic<W: Write>(db: &Db, list: CodeList, out: W) -> Result<u64, StoreError> {
    let groups = db.read(|c| crate::ethnic::list(c, list))?;
    let mut w = writer(out).map_err(io)?;
    w.write_record([
        "code",
        "code_list",
        "code_2008",
        "code_1979",
        "name",
        "other_names",
        "population_2019",
        "minority",
    ])
    .map_err(io)?;
    for g in &groups {
        w.write_record([
            g.code(list).to_string(),
            list.as_str().to_string(),
            g.code_2008.clone(),
            g.code_1979.clone(),
            g.name.clone(),
            g.other_names.join(", "),
            g.population_2019.map(|p| p.to_string()).unwrap_or_default(),
            g.minority.to_string(),
        ])
        .map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(groups.len() as u64)
}

const INDICATOR_COLUMNS: [&str; 20] = [
    "code",
    "name_vi",
    "name_en",
    "topic",
    "unit",
    "value_type",
    "aggregation",
    "weight_indicator",
    "disaggregations",
    "period_type",
    "formula",
    "legal_source",
    "main_disaggregations",
    "publication_period",
    "responsible_agency",
    "higher_level_code",
    "concept",
    "method",
    "data_source",
    "provisional",
];

pub fn export_indicators<W: Write>(db: &Db, out: W) -> Result<u64, StoreError> {
    let list = db.read(indicators::list)?;
    let mut w = writer(out).map_err(io)?;
    w.write_record(INDICATOR_COLUMNS).map_err(io)?;
    for (_, i) in &list {
        w.write_record([
            i.code.clone(),
            i.name_vi.clone(),
            i.name_en.clone(),
            i.topic.clone(),
            i.unit.clone(),
            i.value_type.as_str().into(),
            i.aggregation.as_str().into(),
            i.weight_indicator.clone().unwrap_or_default(),
            i.disaggregations
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join("|"),
            i.period_type.as_str().into(),
            i.formula.clone().unwrap_or_default(),
            i.legal_source.clone(),
            i.main_disaggregations.clone(),
            i.publication_period.clone(),
            i.responsible_agency.clone(),
            i.higher_level_code.clone(),
            i.concept.clone(),
            i.method.clone(),
            i.data_source.clone(),
            if i.provisional {
                "1".into()
            } else {
                "0".into()
            },
        ])
        .map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(list.len() as u64)
}

/// Records of a CSV file as maps column → value, with the row number and the header,
/// or a located error.
pub(crate) struct Table {
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<(u64, HashMap<String, String>)>,
}

impl Table {
    pub(crate) fn read<R: Read>(input: R, required: &[&str]) -> Result<Table, StoreError> {
        let mut bytes = vec![];
        let mut input = input;
        input.read_to_end(&mut bytes).map_err(io)?;
        let body = bytes.strip_prefix(&BOM[..]).unwrap_or(&bytes);
        let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(body);
        let header: Vec<String> = r
            .headers()
            .map_err(|e| {
                StoreError::invalid(
                    FieldError::new("header", format!("unreadable header: {e}")).at(1, None),
                )
            })?
            .iter()
            .map(|h| clean(h).to_lowercase())
            .collect();
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !header.iter().any(|h| h == c))
            .collect();
        if !missing.is_empty() {
            return Err(StoreError::invalid(
                FieldError::new(
                    "header",
                    format!("missing column(s): {}", missing.join(", ")),
                )
                .at(1, None),
            ));
        }
        let mut rows = vec![];
        for rec in r.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                StoreError::invalid(
                    FieldError::new("file", format!("unreadable CSV: {e}")).at(line, None),
                )
            })?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            rows.push((
                line,
                header.iter().cloned().zip(rec.iter().map(clean)).collect(),
            ));
        }
        Ok(Table { header, rows })
    }
    pub(crate) fn col(&self, field: &str) -> Option<u64> {
        self.header
            .iter()
            .position(|h| h == field)
            .map(|i| i as u64 + 1)
    }
    pub(crate) fn locate(&self, row: u64, e: FieldError) -> FieldError {
        let c = self.col(&e.field);
        e.at(row, c)
    }
}

/// Counts of a reference-data import.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct RefCount {
    pub created: u64,
    pub updated: u64,
}

/// Add or replace indicators by code, from CSV with the export's columns.
pub fn import_indicators<R: Read>(
    db: &Db,
    actor: &Actor,
    input: R,
) -> Result<RefCount, StoreError> {
    let t = Table::read(
        input,
        &[
            "code",
            "name_vi",
            "value_type",
            "aggregation",
            "period_type",
        ],
    )?;
    let mut parsed = vec![];
    let mut problems = Problems::default();
    for (row, rec) in &t.rows {
        match indicators::from_record(rec) {
            Ok(i) => {
                for e in i.validate().0 {
                    problems.push(t.locate(*row, e));
                }
                parsed.push((*row, i));
            }
            Err(e) => {
                // from_record names the bad value in its message; point at the likeliest column
                let field = [
                    "value_type",
                    "aggregation",
                    "period_type",
                    "disaggregations",
                ]
                .into_iter()
                .find(|f| e.contains(rec.get(*f).map(String::as_str).unwrap_or("\u{0}")))
                .unwrap_or("code");
                problems.push(t.locate(*row, FieldError::new(field, e)));
            }
        }
    }
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    db.write(|c| {
        let mut count = RefCount::default();
        // insert or update everything, then check references once all codes exist
        for (_, i) in &parsed {
            match indicators::get(c, &i.code)? {
                Some(before) => {
                    indicators::update(c, &i.code, i)?;
                    audit::record(
                        c,
                        actor,
                        "update",
                        "indicator",
                        &i.code,
                        Some(&serde_json::to_value(&before).unwrap_or_default()),
                        Some(&serde_json::to_value(i).unwrap_or_default()),
                    )?;
                    count.updated += 1;
                }
                None => {
                    indicators::insert(c, i)?;
                    audit::record(
                        c,
                        actor,
                        "create",
                        "indicator",
                        &i.code,
                        None,
                        Some(&serde_json::to_value(i).unwrap_or_default()),
                    )?;
                    count.created += 1;
                }
            }
        }
        let mut problems = Problems::default();
        for (row, i) in &parsed {
            if let Err(StoreError::Invalid(p)) = indicators::check(c, i) {
                for e in p.0 {
                    problems.push(t.locate(*row, e));
                }
            }
        }
        if !problems.is_empty() {
            return Err(StoreError::Invalid(problems));
        }
        Ok(count)
    })
}

/// Register villages from CSV: `commune_code,code,name,type` (optional `version`, default 2025).
pub fn import_villages<R: Read>(db: &Db, actor: &Actor, input: R) -> Result<RefCount, StoreError> {
    let t = Table::read(input, &["commune_code", "code", "name"])?;
    db.write(|c| {
        let mut problems = Problems::default();
        let mut count = RefCount::default();
        for (row, rec) in &t.rows {
            let get = |k: &str| rec.get(k).cloned().unwrap_or_default();
            let v = match get("version").as_str() {
                "" => HierarchyVersion::CURRENT,
                s => match s.parse() {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(t.locate(*row, FieldError::new("version", e).value(s)));
                        continue;
                    }
                },
            };
            let type_word = Some(get("type"))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "thôn".into());
            match units::create_village(
                c,
                v,
                &get("commune_code"),
                &get("code"),
                &get("name"),
                &type_word,
            ) {
                Ok(u) => {
                    audit::record(
                        c,
                        actor,
                        "create",
                        "admin_unit",
                        &format!("{}@{}", u.code, v),
                        None,
                        Some(&serde_json::to_value(&u).unwrap_or_default()),
                    )?;
                    count.created += 1;
                }
                Err(StoreError::Invalid(p)) => {
                    for e in p.0 {
                        problems.push(t.locate(*row, e));
                    }
                }
                Err(StoreError::NotFound(m)) => problems.push(t.locate(
                    *row,
                    FieldError::new("commune_code", m).value(get("commune_code")),
                )),
                Err(e) => return Err(e),
            }
        }
        if problems.is_empty() {
            Ok(count)
        } else {
            Err(StoreError::Invalid(problems))
        }
    })
}

/// Set lineage weights from CSV: `old_code,new_code,weight`; each old unit's rows must cover
/// all its new units and add up to 1.
pub fn import_weights<R: Read>(db: &Db, actor: &Actor, input: R) -> Result<RefCount, StoreError> {
    let t = Table::read(input, &["old_code", "new_code", "weight"])?;
    // old code, row of its first line, (new code, weight) pairs
    type Shares = Vec<(String, f64)>;
    let mut by_old: Vec<(String, u64, Shares)> = vec![];
    let mut problems = Problems::default();
    for (row, rec) in &t.rows {
        let w = rec.get("weight").cloned().unwrap_or_default();
        let Ok(weight) = w.parse::<f64>() else {
            problems.push(t.locate(
                *row,
                FieldError::new("weight", "expected a number between 0 and 1").value(w),
            ));
            continue;
        };
        let old = rec.get("old_code").cloned().unwrap_or_default();
        let new = rec.get("new_code").cloned().unwrap_or_default();
        match by_old.iter_mut().find(|(o, _, _)| *o == old) {
            Some((_, _, v)) => v.push((new, weight)),
            None => by_old.push((old, *row, vec![(new, weight)])),
        }
    }
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    db.write(|c| {
        let mut count = RefCount::default();
        for (old, row, ws) in &by_old {
            let before = units::lineage(c, HierarchyVersion::V2024, old).map_err(|e| match e {
                StoreError::NotFound(m) => {
                    StoreError::invalid(t.locate(*row, FieldError::new("old_code", m).value(old)))
                }
                e => e,
            })?;
            let after = units::set_weights(c, old, ws).map_err(|e| match e {
                StoreError::Invalid(p) => StoreError::Invalid(Problems(
                    p.0.into_iter()
                        .map(|e| e.at(*row, t.col("weight")))
                        .collect(),
                )),
                e => e,
            })?;
            audit::record(
                c,
                actor,
                "update",
                "unit_lineage",
                old,
                Some(&serde_json::to_value(&before).unwrap_or_default()),
                Some(&serde_json::to_value(&after).unwrap_or_default()),
            )?;
            count.updated += after.len() as u64;
        }
        Ok(count)
    })
}

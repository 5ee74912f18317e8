//! The indicator catalogue in the database.

use crate::db::{Conn, Row};
use crate::error::StoreError;
use crate::params;
use dantoc_domain::disagg::Dimension;
use dantoc_domain::indicator::Indicator;
use dantoc_domain::text::{clean, fold};
use dantoc_domain::{FieldError, Problems};
use std::collections::HashMap;

const COLS: &str = "id, code, name_vi, name_en, topic, unit, value_type, aggregation, weight_indicator, \
    disaggregations, period_type, formula, legal_source, main_disaggregations, publication_period, \
    responsible_agency, higher_level_code, concept, method, data_source, provisional";

/// Read an indicator from a CSV record (seed file or catalogue import) by column name.
pub fn from_record(r: &HashMap<String, String>) -> Result<Indicator, String> {
    let get = |k: &str| r.get(k).map(|s| clean(s)).unwrap_or_default();
    let opt = |k: &str| Some(get(k)).filter(|s| !s.is_empty());
    let dims = get("disaggregations")
        .split('|')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse::<Dimension>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Indicator {
        code: get("code"),
        name_vi: get("name_vi"),
        name_en: get("name_en"),
        topic: get("topic"),
        unit: get("unit"),
        value_type: get("value_type").parse()?,
        aggregation: get("aggregation").parse()?,
        weight_indicator: opt("weight_indicator"),
        disaggregations: dims,
        period_type: get("period_type").parse()?,
        formula: opt("formula"),
        legal_source: get("legal_source"),
        main_disaggregations: get("main_disaggregations"),
        publication_period: get("publication_period"),
        responsible_agency: get("responsible_agency"),
        higher_level_code: get("higher_level_code"),
        concept: get("concept"),
        method: get("method"),
        data_source: get("data_source"),
        provisional: matches!(get("provisional").as_str(), "1" | "true"),
    })
}

fn from_row(r: &Row) -> Indicator {
    Indicator {
        code: r.str(1),
        name_vi: r.str(2),
        name_en: r.str(3),
        topic: r.str(4),
        unit: r.str(5),
        value_type: r
            .str(6)
            .parse()
            .unwrap_or(dantoc_domain::indicator::ValueType::Number),
        aggregation: r
            .str(7)
            .parse()
            .unwrap_or(dantoc_domain::indicator::Aggregation::None),
        weight_indicator: r.opt_str(8),
        disaggregations: r.str(9).split('|').filter_map(|s| s.parse().ok()).collect(),
        period_type: r
            .str(10)
            .parse()
            .unwrap_or(dantoc_domain::period::PeriodType::Yearly),
        formula: r.opt_str(11),
        legal_source: r.str(12),
        main_disaggregations: r.str(13),
        publication_period: r.str(14),
        responsible_agency: r.str(15),
        higher_level_code: r.str(16),
        concept: r.str(17),
        method: r.str(18),
        data_source: r.str(19),
        provisional: r.bool(20),
    }
}

fn dims_text(i: &Indicator) -> String {
    i.disaggregations
        .iter()
        .map(|d| d.as_str())
        .collect::<Vec<_>>()
        .join("|")
}

/// Check an indicator against the catalogue: its own rules plus references to other indicators.
pub fn check(c: &mut dyn Conn, i: &Indicator) -> Result<(), StoreError> {
    let mut p: Problems = i.validate();
    let mut refs: Vec<(String, String)> = vec![];
    if let Some(w) = &i.weight_indicator {
        refs.push(("weight_indicator".into(), w.clone()));
    }
    if let Some(Ok(f)) = i.parsed_formula() {
        for r in f.references() {
            refs.push(("formula".into(), r));
        }
    }
    for (field, code) in refs {
        if code == i.code {
            p.push(FieldError::new(field, "an indicator cannot refer to itself").value(code));
        } else if get(c, &code)?.is_none() {
            p.push(FieldError::new(field, "no indicator has this code").value(code));
        }
    }
    if p.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(p))
    }
}

/// The stored columns of an indicator, in the order of the statements below ($1–$22).
fn fields(i: &Indicator) -> [crate::db::Val; 22] {
    params![
        &i.code,
        &i.name_vi,
        &i.name_en,
        format!(
            "{} | {} | {}",
            fold(&i.code),
            fold(&i.name_vi),
            fold(&i.name_en)
        ),
        &i.topic,
        &i.unit,
        i.value_type.as_str(),
        i.aggregation.as_str(),
        i.weight_indicator.clone(),
        dims_text(i),
        i.period_type.as_str(),
        i.formula.clone(),
        &i.legal_source,
        &i.main_disaggregations,
        &i.publication_period,
        &i.responsible_agency,
        &i.higher_level_code,
        &i.concept,
        &i.method,
        &i.data_source,
        i.provisional,
        crate::clock::now()
    ]
}

pub fn insert(c: &mut dyn Conn, i: &Indicator) -> Result<i64, StoreError> {
    let rows = c.query(
        "INSERT INTO indicator (code, name_vi, name_en, name_folded, topic, unit, value_type, aggregation,
            weight_indicator, disaggregations, period_type, formula, legal_source, main_disaggregations,
            publication_period, responsible_agency, higher_level_code, concept, method, data_source,
            provisional, updated_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22) RETURNING id",
        &fields(i),
    )?;
    // the imports' cached catalogue (values.rs) is reloaded
    crate::values::catalogue_changed(c)?;
    Ok(rows.first().map(|r| r.i64(0)).unwrap_or(0))
}

/// Replace the definition of the indicator stored under `code` (the code itself may change:
/// provisional codes are replaced by official ones without touching stored values).
pub fn update(c: &mut dyn Conn, code: &str, i: &Indicator) -> Result<(), StoreError> {
    let n = c.execute(
        "UPDATE indicator SET code=$1, name_vi=$2, name_en=$3, name_folded=$4, topic=$5, unit=$6,
            value_type=$7, aggregation=$8, weight_indicator=$9, disaggregations=$10, period_type=$11,
            formula=$12, legal_source=$13, main_disaggregations=$14, publication_period=$15,
            responsible_agency=$16, higher_level_code=$17, concept=$18, method=$19, data_source=$20,
            provisional=$21, updated_at=$22
         WHERE code = $23",
        &{
            let mut p = fields(i).to_vec();
            p.push(code.into());
            p
        },
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("indicator {code}")));
    }
    crate::values::catalogue_changed(c)?;
    if code != i.code {
        // keep references in other indicators pointing at the renamed code
        c.execute(
            "UPDATE indicator SET weight_indicator = $1 WHERE weight_indicator = $2",
            &params![&i.code, code],
        )?;
        let rows = c.query(
            "SELECT code, formula FROM indicator WHERE formula IS NOT NULL",
            &[],
        )?;
        for r in rows {
            let f = r.str(1);
            let renamed = f.replace(&format!("#{{{code}}}"), &format!("#{{{}}}", i.code));
            if renamed != f {
                c.execute(
                    "UPDATE indicator SET formula = $1 WHERE code = $2",
                    &params![renamed, r.str(0)],
                )?;
            }
        }
        crate::forms::rename_indicator(c, code, &i.code)?;
        crate::validation::rename_indicator(c, code, &i.code)?;
    }
    Ok(())
}

pub fn get(c: &mut dyn Conn, code: &str) -> Result<Option<Indicator>, StoreError> {
    Ok(c.query_one(
        &format!("SELECT {COLS} FROM indicator WHERE code = $1"),
        &params![code],
    )?
    .map(|r| from_row(&r)))
}

/// All indicators with their ids, in code order.
pub fn list(c: &mut dyn Conn) -> Result<Vec<(i64, Indicator)>, StoreError> {
    Ok(
        c.query(&format!("SELECT {COLS} FROM indicator ORDER BY code"), &[])?
            .iter()
            .map(|r| (r.i64(0), from_row(r)))
            .collect(),
    )
}

/// Indicators whose code or names contain every word of `q`, ignoring case and diacritics.
pub fn search(c: &mut dyn Conn, q: &str, limit: i64) -> Result<Vec<Indicator>, StoreError> {
    let (sql, params) = crate::units::folded_filter(q, "name_folded");
    let mut p = params;
    p.push(limit.into());
    Ok(c.query(
        &format!(
            "SELECT {COLS} FROM indicator WHERE {sql} ORDER BY code LIMIT ${}",
            p.len()
        ),
        &p,
    )?
    .iter()
    .map(from_row)
    .collect())
}

//! Targets per indicator, unit and period, and progress towards them (actuals from the pivot
//! engine, so a 2023 target on a pre-2025 province is compared with figures recorded on the
//! current units through the lineage, and the other way round).

use crate::audit::{self, Actor};
use crate::db::{Conn, Val};
use crate::error::StoreError;
use dantoc_domain::admin::{HierarchyVersion, split_unit_ref};
use dantoc_domain::analytics::targets::{Progress, progress};
use dantoc_domain::analytics::{DimId, Request};
use dantoc_domain::period::{Period, PeriodType};
use dantoc_domain::{FieldError, Problems};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Target {
    pub indicator: String,
    pub indicator_name: String,
    pub unit_of_measure: String,
    pub unit: String,
    pub unit_version: String,
    pub unit_name: String,
    pub period: String,
    pub value: f64,
    pub source: Option<String>,
}

/// Targets, optionally of one indicator and within units (ids of the closure's ancestors).
pub fn list(
    c: &mut dyn Conn,
    indicator: Option<&str>,
    within: Option<&[i64]>,
) -> Result<Vec<Target>, StoreError> {
    let mut w = vec!["1 = 1".to_string()];
    let mut p: Vec<Val> = vec![];
    if let Some(i) = indicator {
        p.push(Val::from(i));
        w.push(format!("i.code = ${}", p.len()));
    }
    if let Some(ids) = within {
        let ids = if ids.is_empty() {
            "0".to_string()
        } else {
            crate::db::id_list(ids.iter().copied())
        };
        // a unit in scope, or one of the other hierarchy that became part of it
        w.push(format!(
            "(t.unit_id IN (SELECT descendant_id FROM admin_unit_closure WHERE ancestor_id IN ({ids}))
              OR t.unit_id IN (SELECT r.unit_id FROM unit_rollup r WHERE r.ancestor_id IN ({ids})))"
        ));
    }
    Ok(c
        .query(
            &format!(
                "SELECT i.code, i.name_vi, i.unit, u.code, u.version, u.full_name, t.period, t.value, t.source
                 FROM target t JOIN indicator i ON i.id = t.indicator_id JOIN admin_unit u ON u.id = t.unit_id
                 WHERE {} ORDER BY i.code, u.code, t.period",
                w.join(" AND ")
            ),
            &p,
        )?
        .iter()
        .map(|r| Target {
            indicator: r.str(0),
            indicator_name: r.str(1),
            unit_of_measure: r.str(2),
            unit: r.str(3),
            unit_version: r.str(4),
            unit_name: r.str(5),
            period: r.str(6),
            value: r.f64(7),
            source: r.opt_str(8),
        })
        .collect())
}

/// Set (or change) a target; audited. `unit` is `CODE` (current hierarchy) or `CODE@2024`.
pub fn set(
    c: &mut dyn Conn,
    actor: &Actor,
    indicator: &str,
    unit: &str,
    period: &str,
    value: f64,
    source: Option<&str>,
) -> Result<Target, StoreError> {
    let mut problems = Problems::default();
    let ind = c
        .query_one(
            "SELECT id FROM indicator WHERE code = $1",
            &[Val::from(indicator)],
        )?
        .map(|r| r.i64(0));
    if ind.is_none() {
        problems.push(FieldError::new("indicator", "no indicator with this code").value(indicator));
    }
    let per = period
        .parse::<Period>()
        .map_err(|e| FieldError::new("period", e.to_string()).value(period));
    if let Err(e) = &per {
        problems.push(e.clone());
    }
    let (code, ver) = split_unit_ref(unit)
        .map_err(|e| StoreError::invalid(FieldError::new("unit", e).value(unit)))?;
    let ver = ver.unwrap_or(HierarchyVersion::CURRENT);
    let uid = crate::units::id_of(c, ver, code)?;
    if uid.is_none() {
        problems.push(
            FieldError::new(
                "unit",
                format!("no unit with this code in the {ver} hierarchy"),
            )
            .value(unit),
        );
    }
    if !value.is_finite() {
        problems.push(FieldError::new("value", "a target is a number"));
    }
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    let (ind, uid, per) = (
        ind.unwrap_or_default(),
        uid.unwrap_or_default(),
        per.map(|p| p.to_string()).unwrap_or_default(),
    );
    let key = format!("{indicator}/{code}@{ver}/{per}");
    let before = c
        .query_one(
            "SELECT value, source FROM target WHERE indicator_id = $1 AND unit_id = $2 AND period = $3 AND disagg_id = 1",
            &[Val::Int(ind), Val::Int(uid), Val::from(per.as_str())],
        )?
        .map(|r| serde_json::json!({"value": r.f64(0), "source": r.opt_str(1)}));
    let now = crate::clock::now();
    c.execute("DELETE FROM target WHERE indicator_id = $1 AND unit_id = $2 AND period = $3 AND disagg_id = 1", &[Val::Int(ind), Val::Int(uid), Val::from(per.as_str())])?;
    c.execute(
        "INSERT INTO target (indicator_id, unit_id, period, disagg_id, value, source, demo, updated_at)
         VALUES ($1, $2, $3, 1, $4, $5, 0, $6)",
        &[Val::Int(ind), Val::Int(uid), Val::from(per.as_str()), Val::Real(value), source.map(Val::from).unwrap_or(Val::Null), Val::from(now.as_str())],
    )?;
    let after = serde_json::json!({"value": value, "source": source});
    audit::record(
        c,
        actor,
        "write",
        "target",
        &key,
        before.as_ref(),
        Some(&after),
    )?;
    list(c, Some(indicator), None)?
        .into_iter()
        .find(|t| t.unit == code && t.unit_version == ver.as_str() && t.period == per)
        .ok_or_else(|| StoreError::Db("target not found after writing it".into()))
}

/// Progress of each target: the unit's figures in the years up to the target's period (rolled
/// up by the pivot engine, seen as the reader may see them), and the earlier target of the
/// same indicator and unit code as the baseline.
pub fn progress_of(
    c: &mut dyn Conn,
    targets: &[Target],
    today: Period,
    visible: crate::analytics::Visible,
) -> Result<Vec<Progress>, StoreError> {
    let mut out = vec![];
    for t in targets {
        let Ok(tp) = t.period.parse::<Period>() else {
            continue;
        };
        let year = tp.year_number();
        let years: Vec<String> = ((year - 6)..=year).map(|y| y.to_string()).collect();
        let req = Request::parse(
            &[
                format!("dx:{}", t.indicator),
                format!("ou:{}@{}", t.unit, t.unit_version),
                format!("pe:{}", years.join(";")),
            ],
            &[],
            None,
            None,
            Some(&t.unit_version),
        )
        .map_err(StoreError::Invalid)?;
        let comp = crate::analytics::pivot(c, &req, today, visible)?;
        let pe = comp
            .dim(DimId::Pe)
            .map(|d| d.items.clone())
            .unwrap_or_default();
        let mut figures: Vec<(Period, f64)> = vec![];
        for (key, cell) in &comp.cells {
            if let (Some(v), Some(item)) = (cell.value, pe.get(key[DimId::Pe.index()] as usize))
                && let Ok(p) = item.code.parse::<Period>()
            {
                figures.push((p, v));
            }
        }
        let baseline = targets
            .iter()
            .filter(|b| b.indicator == t.indicator && b.unit == t.unit)
            .filter_map(|b| Some((b.period.parse::<Period>().ok()?, b.value)))
            .filter(|(p, _)| {
                p.month_range().1 < tp.month_range().1 && p.kind() == PeriodType::Yearly
            })
            .max_by_key(|(p, _)| p.month_range().1);
        out.push(progress(t.value, tp, baseline, &figures));
    }
    Ok(out)
}

/// Targets of an indicator (or all) of a unit and the units below or mapped into it (or all),
/// each with its progress, seen as the reader may see the figures.
pub fn with_progress(
    c: &mut dyn Conn,
    indicator: Option<&str>,
    unit: Option<&str>,
    today: Period,
    visible: crate::analytics::Visible,
) -> Result<Vec<(Target, Progress)>, StoreError> {
    let within = match unit {
        Some(u) => Some(crate::accounts::resolve_units(c, "unit", &[u.to_string()])?),
        None => None,
    };
    let ts = list(c, indicator, within.as_deref())?;
    let pr = progress_of(c, &ts, today, visible)?;
    Ok(ts.into_iter().zip(pr).collect())
}

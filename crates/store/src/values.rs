//! Data values: checking submitted values against the catalogue, writing them
//! all-or-nothing (upsert, one value per key, every change kept in history by triggers),
//! and reading them back with filters.

use crate::audit::{self, Actor};
use crate::db::{Backend, Conn, Db, Row, Val};
use crate::error::StoreError;
use crate::params;
use dantoc_domain::admin::HierarchyVersion;
use dantoc_domain::disagg::{Dimension, Disagg};
use dantoc_domain::indicator::Indicator;
use dantoc_domain::period::Period;
use dantoc_domain::text::clean;
use dantoc_domain::value::{CheckedValue, check_value};
use dantoc_domain::{FieldError, Problems};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A value as submitted (DHIS2 JSON, CSV, a form), before any check.
#[derive(Debug, Clone, Default)]
pub struct RawValue {
    pub indicator: String,
    /// Unit code; `CODE@2024` names the pre-2025 unit explicitly.
    pub unit: String,
    pub period: String,
    /// Disaggregation code (`default` or empty for the total).
    pub disagg: String,
    pub value: Option<String>,
    pub comment: Option<String>,
    pub followup: Option<bool>,
}

/// The fields of a [`RawValue`], named as in error messages.
pub mod field {
    pub const INDICATOR: &str = "indicator";
    pub const UNIT: &str = "unit";
    pub const PERIOD: &str = "period";
    pub const DISAGG: &str = "disaggregation";
    pub const VALUE: &str = "value";
    pub const COMMENT: &str = "comment";
}

/// A value checked and resolved to ids, ready to write.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub indicator_id: i64,
    pub unit_id: i64,
    pub period: Period,
    pub disagg: String,
    pub value: Option<CheckedValue>,
    pub comment: Option<String>,
    pub followup: Option<bool>,
}

/// The reference part of the catalogue — indicators, the units of both hierarchies, ethnic
/// codes —, which changes only when the catalogue is edited: loaded once and shared by every
/// import until its [stamp](Reference::stamp) in the database changes (see [`Db`]'s cache).
pub struct Reference {
    indicators: HashMap<String, (i64, Indicator)>,
    units: HashMap<HierarchyVersion, HashMap<String, i64>>,
    ethnic: HashSet<String>,
}

/// The key in `meta` of the catalogue's generation, bumped by every write of indicators
/// ([`catalogue_changed`]).
const GENERATION_KEY: &str = "catalogue_generation";

/// One query, cheap on both engines, whose answer changes whenever what [`Reference`] holds
/// may have: the generation that indicator writes bump, the number, last id and last change of
/// indicators (also rows written by other paths, e.g. the seed), the last unit id (villages
/// created; units are never renumbered), the number of ethnic groups and the reference seed.
const STAMP_SQL: &str = "SELECT
    (SELECT value FROM meta WHERE key = 'catalogue_generation'),
    (SELECT value FROM meta WHERE key = 'reference_seed'),
    (SELECT count(*) FROM indicator), (SELECT max(id) FROM indicator),
    (SELECT max(updated_at) FROM indicator),
    (SELECT max(id) FROM admin_unit), (SELECT count(*) FROM ethnic_group)";

/// Record, inside the transaction that changes them, that indicators (or other parts of the
/// catalogue) changed: every server process reloads its cached [`Reference`] at its next
/// import. Call it from every write path of indicators, units or ethnic groups.
pub fn catalogue_changed(c: &mut dyn Conn) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES ($1, '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)",
        &params![GENERATION_KEY],
    )?;
    Ok(())
}

impl Reference {
    /// The catalogue's stamp now (see `STAMP_SQL`).
    pub fn stamp(c: &mut dyn Conn) -> Result<String, StoreError> {
        let r = c.query_one(STAMP_SQL, &[])?.unwrap_or(Row(vec![]));
        Ok((0..7)
            .map(|i| r.opt_str(i).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("|"))
    }

    pub fn load(c: &mut dyn Conn) -> Result<Reference, StoreError> {
        let indicators = crate::indicators::list(c)?
            .into_iter()
            .map(|(id, i)| (i.code.clone(), (id, i)))
            .collect();
        let mut units: HashMap<HierarchyVersion, HashMap<String, i64>> = HashMap::new();
        for r in c.query("SELECT version, code, id FROM admin_unit", &[])? {
            if let Ok(v) = r.str(0).parse() {
                units.entry(v).or_default().insert(r.str(1), r.i64(2));
            }
        }
        let ethnic = c
            .query("SELECT code_2008 FROM ethnic_group", &[])?
            .iter()
            .map(|r| r.str(0))
            .collect();
        Ok(Reference {
            indicators,
            units,
            ethnic,
        })
    }

    /// The reference as the database holds it now: the one cached in `db` while the stamp
    /// has not changed, else loaded on `c` (and cached).
    /// `DANTOC_CATALOGUE_CACHE=off` (read at start-up) loads it for every import instead, as
    /// before the cache: a way out should a change ever go unseen, and the benchmark's baseline.
    pub fn current(db: &Db, c: &mut dyn Conn) -> Result<Arc<Reference>, StoreError> {
        if !db.caches_catalogue() {
            return Reference::load(c).map(Arc::new);
        }
        let stamp = Reference::stamp(c)?;
        db.cached_reference(&stamp, || Reference::load(c).map(Arc::new))
    }
}

/// What the catalogue knows, loaded once per import so that checks cost no queries.
pub struct Catalogue {
    base: Arc<Reference>,
    periods: HashMap<String, Period>,
    /// Disaggregation as written → its index in `disaggs` (texts that mean the same
    /// disaggregation share one), or why it is not one.
    disagg_texts: HashMap<String, Result<u32, String>>,
    /// Each disaggregation met so far, once, by canonical code.
    disaggs: Vec<DisaggInfo>,
    disagg_codes: HashMap<String, u32>,
    /// The unit of the previous value: files repeat one unit over many rows.
    last_unit: Option<(String, Period, i64)>,
    /// Units the writer may write (`None`: everywhere).
    pub allowed: Option<HashSet<i64>>,
    /// Approvals (issue #4): keys whose form is submitted, approved or locked for the unit and
    /// period; a value hitting one is a conflict, whatever the import path.
    pub(crate) locks: crate::approvals::Locks,
}

struct DisaggInfo {
    code: String,
    ethnic: Option<String>,
    /// The ethnic group, if any, is in the catalogue.
    ethnic_known: bool,
    dims: Vec<Dimension>,
}

/// A checked value as the import keeps it: [`Resolved`] with the disaggregation as an index
/// into the catalogue's list.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub indicator_id: i64,
    pub unit_id: i64,
    pub period: Period,
    pub disagg: u32,
    pub value: Option<CheckedValue>,
    pub comment: Option<String>,
    pub followup: Option<bool>,
}

impl Catalogue {
    /// The catalogue read from the database, uncached.
    pub fn load(c: &mut dyn Conn) -> Result<Catalogue, StoreError> {
        Catalogue::with(Arc::new(Reference::load(c)?), c)
    }

    /// The catalogue with the reference cached in `db` (reloaded when the catalogue changed:
    /// see [`Reference::current`]); the approval locks are read now.
    pub fn cached(db: &Db) -> Result<Catalogue, StoreError> {
        db.read(|c| {
            let base = Reference::current(db, c)?;
            Catalogue::with(base, c)
        })
    }

    fn with(base: Arc<Reference>, c: &mut dyn Conn) -> Result<Catalogue, StoreError> {
        Ok(Catalogue {
            base,
            periods: HashMap::new(),
            disagg_texts: HashMap::new(),
            disaggs: vec![],
            disagg_codes: HashMap::new(),
            last_unit: None,
            allowed: None,
            locks: crate::approvals::Locks::load(c)?,
        })
    }

    pub fn indicator(&self, code: &str) -> Option<&(i64, Indicator)> {
        self.base.indicators.get(code)
    }

    /// The id of a unit named in a value: `CODE@VERSION`, or `CODE` in the hierarchy in force
    /// at the end of the period.
    fn unit_lookup(&self, unit: &str, period: &Period) -> Result<i64, FieldError> {
        let (code, version) = dantoc_domain::admin::split_unit_ref(unit)
            .map_err(|e| FieldError::new(field::UNIT, e).value(unit))?;
        let version = version.unwrap_or_else(|| HierarchyVersion::on(&period.end_date()));
        self.base
            .units
            .get(&version)
            .and_then(|m| m.get(code))
            .copied()
            .ok_or_else(|| {
                FieldError::new(
                    field::UNIT,
                    format!(
                        "no administrative unit has this code in the {version} hierarchy \
                         (the one in force at the end of period {period}; write CODE@2024 or CODE@2025 to choose)"
                    ),
                )
                .value(unit)
            })
    }

    /// Like the lookup, and refused when the unit is outside the writer's scope.
    pub fn unit_for(&self, unit: &str, period: &Period) -> Result<i64, FieldError> {
        let id = self.unit_lookup(unit, period)?;
        match &self.allowed {
            Some(set) if !set.contains(&id) => Err(FieldError::new(
                field::UNIT,
                "this unit is outside your administrative units",
            )
            .value(unit)),
            _ => Ok(id),
        }
    }

    /// The code of an indicator, by id (for messages).
    fn indicator_code(&self, id: i64) -> Option<&str> {
        self.base
            .indicators
            .iter()
            .find(|(_, (i, _))| *i == id)
            .map(|(code, _)| code.as_str())
    }

    /// `CODE@VERSION` of a unit, by id (for messages).
    fn unit_code(&self, id: i64) -> Option<String> {
        self.base.units.iter().find_map(|(v, m)| {
            m.iter()
                .find(|(_, i)| **i == id)
                .map(|(code, _)| format!("{code}@{v}"))
        })
    }

    /// The canonical code of a disaggregation met by [`Catalogue::check`].
    pub(crate) fn disagg_code(&self, i: u32) -> &str {
        &self.disaggs[i as usize].code
    }

    /// Check one submitted value. `delete`: no value is needed.
    pub fn resolve(&mut self, raw: &RawValue, delete: bool) -> Result<Resolved, FieldError> {
        let c = self.check(raw, delete)?;
        Ok(Resolved {
            indicator_id: c.indicator_id,
            unit_id: c.unit_id,
            period: c.period,
            disagg: self.disagg_code(c.disagg).to_string(),
            value: c.value,
            comment: c.comment,
            followup: c.followup,
        })
    }

    /// [`Catalogue::resolve`] without allocating the disaggregation code.
    pub(crate) fn check(&mut self, raw: &RawValue, delete: bool) -> Result<Checked, FieldError> {
        let code = raw.indicator.trim();
        let (indicator_id, ind) = self.base.indicators.get(code).ok_or_else(|| {
            FieldError::new(field::INDICATOR, "no indicator has this code").value(code)
        })?;
        if ind.is_derived() {
            return Err(FieldError::new(
                field::INDICATOR,
                "this indicator is derived by a formula: it is computed, not stored",
            )
            .value(code));
        }
        let ptext = raw.period.trim();
        let period = match self.periods.get(ptext) {
            Some(p) => *p,
            None => {
                let p: Period =
                    ptext
                        .parse()
                        .map_err(|e: dantoc_domain::period::PeriodError| {
                            FieldError::new(field::PERIOD, e.to_string()).value(ptext)
                        })?;
                self.periods.insert(ptext.to_string(), p);
                p
            }
        };
        if period.kind() != ind.period_type {
            return Err(FieldError::new(
                field::PERIOD,
                format!(
                    "indicator {code} is reported {}, this period is {}",
                    ind.period_type.as_str(),
                    period.kind().as_str()
                ),
            )
            .value(ptext));
        }
        let utext = raw.unit.trim();
        let unit_id = match &self.last_unit {
            Some((u, p, id)) if u == utext && *p == period => *id,
            _ => {
                let id = self.unit_for(utext, &period)?;
                match &mut self.last_unit {
                    Some((u, p, last)) => {
                        u.clear();
                        u.push_str(utext);
                        *p = period;
                        *last = id;
                    }
                    None => self.last_unit = Some((utext.to_string(), period, id)),
                }
                id
            }
        };
        // approvals (issue #4): no write or delete under a submitted, approved or locked form
        if let Some(e) = self.locks.refuse(*indicator_id, unit_id, &period) {
            return Err(e);
        }
        let dtext = raw.disagg.trim();
        let di = match self.disagg_texts.get(dtext) {
            Some(Ok(i)) => *i,
            Some(Err(e)) => return Err(FieldError::new(field::DISAGG, e.clone()).value(dtext)),
            None => {
                let r = dtext.parse::<Disagg>().map(|d| {
                    let code = d.code();
                    match self.disagg_codes.get(&code) {
                        Some(i) => *i,
                        None => {
                            let i = self.disaggs.len() as u32;
                            self.disagg_codes.insert(code.clone(), i);
                            self.disaggs.push(DisaggInfo {
                                code,
                                dims: d.dimensions(),
                                ethnic_known: d
                                    .ethnic
                                    .as_ref()
                                    .is_none_or(|e| self.base.ethnic.contains(e)),
                                ethnic: d.ethnic,
                            });
                            i
                        }
                    }
                });
                self.disagg_texts.insert(dtext.to_string(), r.clone());
                r.map_err(|e| FieldError::new(field::DISAGG, e).value(dtext))?
            }
        };
        let d = &self.disaggs[di as usize];
        if let Some(e) = &d.ethnic
            && !d.ethnic_known
        {
            return Err(
                FieldError::new(field::DISAGG, format!("no ethnic group has code {e}"))
                    .value(dtext),
            );
        }
        if let Some(dim) = d.dims.iter().find(|x| !ind.disaggregations.contains(x)) {
            return Err(FieldError::new(
                field::DISAGG,
                format!("indicator {code} is not broken down by {}", dim.as_str()),
            )
            .value(dtext));
        }
        let value = if delete {
            None
        } else {
            let v = raw
                .value
                .as_deref()
                .ok_or_else(|| FieldError::new(field::VALUE, "the value is missing"))?;
            Some(
                check_value(ind.value_type, v)
                    .map_err(|e| FieldError::new(field::VALUE, e).value(v))?,
            )
        };
        let comment = raw.comment.as_deref().map(clean).filter(|s| !s.is_empty());
        if comment.as_ref().is_some_and(|c| c.chars().count() > 5000) {
            return Err(FieldError::new(
                field::COMMENT,
                "the comment is longer than 5000 characters",
            ));
        }
        Ok(Checked {
            indicator_id: *indicator_id,
            unit_id,
            period,
            disagg: di,
            value,
            comment,
            followup: raw.followup,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Strategy {
    #[default]
    CreateAndUpdate,
    Create,
    Update,
    Delete,
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().replace('-', "_").as_str() {
            "CREATE_AND_UPDATE" | "NEW_AND_UPDATES" => Ok(Strategy::CreateAndUpdate),
            "CREATE" | "NEW" => Ok(Strategy::Create),
            "UPDATE" | "UPDATES" => Ok(Strategy::Update),
            "DELETE" | "DELETES" => Ok(Strategy::Delete),
            o => Err(format!(
                "unknown import strategy {o:?}: expected CREATE_AND_UPDATE, CREATE, UPDATE or DELETE"
            )),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub strategy: Strategy,
    pub dry_run: bool,
    /// Stored with each value: a generated demonstration value.
    pub demo: bool,
    /// Stored with each value: where a published figure comes from.
    pub source: Option<String>,
    /// What was imported (file name, `api`), for the audit log.
    pub what: String,
    /// Write one audit entry per value with its state before and after (small writes);
    /// otherwise one entry for the whole import (earlier states stay in the value history).
    pub audit_each: bool,
    /// Units the writer may write (`None`: everywhere); any other unit is a conflict.
    pub allowed_units: Option<HashSet<i64>>,
    /// What the validation rules do: refuse the import (default), report, or nothing.
    pub validation: crate::validation::ValidationMode,
    /// A value given without a value (`RawValue::value` = `None`) deletes the stored one,
    /// while the others are written by the strategy: a form file's cleared cell
    /// (form_files.rs). Takes the per-value path (no bulk).
    pub delete_empty: bool,
    /// Cell-by-cell entry (`entry.rs`): for item `i`, the version of its stored value that the
    /// writer last saw (0: none stored). The item is written only over that version — checked by
    /// the write statement itself, in the import's transaction, so that of two concurrent saves
    /// of one cell only one wins — and is otherwise left as stored and listed in
    /// [`ImportSummary::stale`]. An item without a value deletes the cell's value. Per-value
    /// writes only (never the bulk paths).
    pub base_versions: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportCount {
    pub imported: u64,
    pub updated: u64,
    pub ignored: u64,
    pub deleted: u64,
}

/// The outcome of an import, shaped like DHIS2's import summary.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    /// `SUCCESS`, or `ERROR` when nothing was written.
    pub status: &'static str,
    pub description: String,
    pub import_count: ImportCount,
    pub conflicts: Vec<FieldError>,
    /// Problems found in all (the list of conflicts stops at 1,000).
    pub conflict_count: u64,
    pub dry_run: bool,
    pub rows: u64,
    /// Items not written because their stored value changed since the writer read it (see
    /// [`ImportOptions::base_versions`]), by item index; also counted as ignored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale: Vec<usize>,
    /// Violations of validation rules (the first 1,000, in item order, each located).
    pub validation: Vec<crate::validation::Violation>,
    /// Violations in all.
    pub validation_count: u64,
    /// Rule evaluations made.
    pub validation_checks: u64,
}

const MAX_CONFLICTS: usize = 1000;

/// From this many values on, imports take the engine's bulk path.
pub const BULK_MIN: usize = 2000;

/// One stored row's key: indicator, unit, period, disaggregation — and the period's first month,
/// which the primary key holds before the period's text.
type Key = (i64, i64, String, i64, i64);

struct Batch<'a> {
    now: String,
    actor: &'a Actor,
    opts: &'a ImportOptions,
    disagg_ids: HashMap<String, i64>,
    count: ImportCount,
    audits: Vec<(String, Option<serde_json::Value>, Option<serde_json::Value>)>,
    /// Items left as stored: see [`ImportOptions::base_versions`].
    stale: Vec<usize>,
}

fn disagg_id(
    c: &mut dyn Conn,
    cache: &mut HashMap<String, i64>,
    code: &str,
) -> Result<i64, StoreError> {
    if let Some(id) = cache.get(code) {
        return Ok(*id);
    }
    let id = match c.query_one(
        "SELECT id FROM disaggregation WHERE code = $1",
        &params![code],
    )? {
        Some(r) => r.i64(0),
        None => {
            let d: Disagg = code.parse().map_err(StoreError::Io)?;
            let sex = d.sex.map(|s| format!("{s:?}").to_lowercase());
            let area = d.area.map(|a| format!("{a:?}").to_lowercase());
            c.query(
                "INSERT INTO disaggregation (code, ethnic_code, sex, area, age_group) VALUES ($1,$2,$3,$4,$5) RETURNING id",
                &params![code, d.ethnic.clone(), sex, area, d.age.clone()],
            )?
            .first()
            .map(|r| r.i64(0))
            .unwrap_or_default()
        }
    };
    cache.insert(code.to_string(), id);
    Ok(id)
}

fn current_json(c: &mut dyn Conn, k: &Key) -> Result<Option<serde_json::Value>, StoreError> {
    Ok(c
        .query_one(
            "SELECT value_text, comment, followup, version FROM data_value
             WHERE indicator_id = $1 AND unit_id = $2 AND period = $3 AND disagg_id = $4
               AND month_start = $5",
            &params![k.0, k.1, &k.2, k.3, k.4],
        )?
        .map(|r| {
            serde_json::json!({"value": r.str(0), "comment": r.opt_str(1), "followup": r.bool(2), "version": r.i64(3)})
        }))
}

pub(crate) const INSERT_SQL: &str =
    "INSERT INTO data_value (indicator_id, unit_id, period, disagg_id, month_start, month_end,
    value, value_text, comment, followup, demo, source, stored_by, created_at, updated_at, version)
    VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$14,1) ON CONFLICT DO NOTHING";

pub(crate) const UPDATE_SQL: &str = "UPDATE data_value SET value = $1, value_text = $2,
    comment = coalesce(CAST($3 AS TEXT), comment), followup = coalesce(CAST($4 AS BIGINT), followup),
    demo = $5, source = $6, stored_by = $7, updated_at = $8, version = version + 1
    WHERE indicator_id = $9 AND unit_id = $10 AND period = $11 AND disagg_id = $12 AND month_start = $13
      AND (value_text <> $2 OR (CAST($3 AS TEXT) IS NOT NULL AND (comment IS NULL OR comment <> CAST($3 AS TEXT)))
           OR (CAST($4 AS BIGINT) IS NOT NULL AND followup <> CAST($4 AS BIGINT)) OR demo <> $5)";

const DELETE_SQL: &str = "DELETE FROM data_value WHERE indicator_id = $1 AND unit_id = $2 AND period = $3 AND disagg_id = $4
    AND month_start = $5";

impl Batch<'_> {
    /// The parameters of [`INSERT_SQL`]: value `v` of item `r` at `key`.
    fn insert_params(&self, r: &Checked, key: &Key, v: &CheckedValue) -> Vec<Val> {
        let (ms, me) = r.period.month_range();
        crate::params_vec![
            key.0,
            key.1,
            &key.2,
            key.3,
            ms as i64,
            me as i64,
            v.number,
            &v.text,
            r.comment.clone(),
            r.followup.unwrap_or(false),
            self.opts.demo,
            self.opts.source.clone(),
            &self.actor.name,
            &self.now
        ]
    }

    /// The parameters of [`UPDATE_SQL`]: value `v` of item `r` at `key`.
    fn update_params(&self, r: &Checked, key: &Key, v: &CheckedValue) -> Vec<Val> {
        crate::params_vec![
            v.number,
            &v.text,
            r.comment.clone(),
            r.followup.map(|b| b as i64),
            self.opts.demo,
            self.opts.source.clone(),
            &self.actor.name,
            &self.now,
            key.0,
            key.1,
            &key.2,
            key.3,
            key.4
        ]
    }

    /// Write one value (item `i`) through the portable statements.
    fn put(
        &mut self,
        c: &mut dyn Conn,
        i: usize,
        r: &Checked,
        disagg: &str,
    ) -> Result<(), StoreError> {
        let did = disagg_id(c, &mut self.disagg_ids, disagg)?;
        let ptext = r.period.to_string();
        let ms = r.period.month_range().0;
        let key: Key = (r.indicator_id, r.unit_id, ptext.clone(), did, ms as i64);
        let before = if self.opts.audit_each {
            current_json(c, &key)?
        } else {
            None
        };
        // delete_empty: a checked value without a value deletes (form files)
        let strategy = match (&r.value, self.opts.delete_empty) {
            (None, true) => Strategy::Delete,
            _ => self.opts.strategy,
        };
        let base = self.opts.base_versions.as_ref().and_then(|b| b.get(i));
        let changed = match strategy {
            _ if base.is_some() => self.put_versioned(c, i, r, &key, base.copied().unwrap_or(0))?,
            Strategy::Delete => {
                let n = c.execute(DELETE_SQL, &params![key.0, key.1, &key.2, key.3, key.4])?;
                self.count.deleted += n;
                self.count.ignored += 1 - n.min(1);
                n > 0
            }
            s => {
                let v = r.value.as_ref().expect("checked: a value unless deleting");
                let mut done = false;
                if s != Strategy::Update {
                    let n = c.execute(INSERT_SQL, &self.insert_params(r, &key, v))?;
                    self.count.imported += n;
                    done = n > 0;
                }
                if !done && s != Strategy::Create {
                    let n = c.execute(UPDATE_SQL, &self.update_params(r, &key, v))?;
                    self.count.updated += n;
                    done = n > 0;
                }
                if !done {
                    self.count.ignored += 1;
                }
                done
            }
        };
        if self.opts.audit_each && changed {
            let after = current_json(c, &key)?;
            self.audits.push((
                format!("{}/{}/{}/{}", key.0, key.1, key.2, disagg),
                before,
                after,
            ));
        }
        Ok(())
    }

    /// Cell-by-cell entry: write item `i` only over the stored version `base` (0: nothing
    /// stored); no value deletes. Returns whether the stored value changed. Not written: the
    /// stored value already is the one asked for (ignored), or it changed since the writer read
    /// it (stale).
    fn put_versioned(
        &mut self,
        c: &mut dyn Conn,
        i: usize,
        r: &Checked,
        key: &Key,
        base: i64,
    ) -> Result<bool, StoreError> {
        let n = match &r.value {
            None => c.execute(
                &format!("{DELETE_SQL} AND version = $6"),
                &params![key.0, key.1, &key.2, key.3, key.4, base],
            )?,
            Some(v) if base == 0 => c.execute(INSERT_SQL, &self.insert_params(r, key, v))?,
            Some(v) => c.execute(
                &format!("{UPDATE_SQL} AND version = $14"),
                &[self.update_params(r, key, v), vec![Val::Int(base)]].concat(),
            )?,
        };
        if n > 0 {
            match (&r.value, base) {
                (None, _) => self.count.deleted += 1,
                (Some(_), 0) => self.count.imported += 1,
                (Some(_), _) => self.count.updated += 1,
            }
            return Ok(true);
        }
        let now = c.query_one(
            "SELECT value_text, comment FROM data_value
             WHERE indicator_id = $1 AND unit_id = $2 AND period = $3 AND disagg_id = $4
               AND month_start = $5",
            &params![key.0, key.1, &key.2, key.3, key.4],
        )?;
        let already = match (&now, &r.value) {
            (None, None) => true,
            (Some(row), Some(v)) => {
                row.str(0) == v.text && (r.comment.is_none() || row.opt_str(1) == r.comment)
            }
            _ => false,
        };
        if !already {
            self.stale.push(i);
        }
        self.count.ignored += 1;
        Ok(false)
    }
}

/// What makes two values the same stored value; ordered as the primary key of `data_value`,
/// `(indicator_id, month_start, unit_id, disagg_id, period)` (the disaggregation by the order in
/// which the import met it; `start` is the period's first month, a function of the period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct ValueKey {
    indicator_id: i64,
    start: u32,
    unit_id: i64,
    disagg: u32,
    period: Period,
}

type Item = Result<RawValue, FieldError>;

/// The state of the checks of one import.
struct Checking {
    cat: Catalogue,
    delete: bool,
    delete_empty: bool,
    /// Problems found, in item order (the first MAX_CONFLICTS of them).
    errors: Vec<(usize, FieldError)>,
    error_count: u64,
    /// The values checked, while no problem is found.
    resolved: Vec<Checked>,
    /// The key of every value that passed its checks, with its item index: sorted afterwards,
    /// equal neighbours are values given twice.
    keys: Vec<(ValueKey, usize)>,
    /// Index of the next item.
    next: usize,
}

/// Values that passed every check, ready to write.
struct Ready {
    cat: Catalogue,
    resolved: Vec<Checked>,
    /// Indexes into `resolved`, in key order.
    order: Vec<usize>,
    rows: u64,
}

impl Checking {
    fn new(cat: Catalogue, opts: &ImportOptions) -> Checking {
        Checking {
            cat,
            delete: opts.strategy == Strategy::Delete,
            // a cell emptied on the entry page (base_versions) deletes too
            delete_empty: opts.delete_empty || opts.base_versions.is_some(),
            errors: vec![],
            error_count: 0,
            resolved: vec![],
            keys: vec![],
            next: 0,
        }
    }

    fn item(&mut self, item: &mut Item) {
        let i = self.next;
        self.next += 1;
        let r = match item {
            // delete_empty: a value without a value is a deletion (form files)
            Ok(raw) => {
                let delete = self.delete || (self.delete_empty && raw.value.is_none());
                self.cat.check(raw, delete)
            }
            Err(e) => Err(std::mem::replace(e, FieldError::new("", ""))),
        };
        match r {
            Ok(r) => {
                self.keys.push((
                    ValueKey {
                        indicator_id: r.indicator_id,
                        start: r.period.month_range().0,
                        unit_id: r.unit_id,
                        disagg: r.disagg,
                        period: r.period,
                    },
                    i,
                ));
                if self.error_count == 0 {
                    self.resolved.push(r);
                }
            }
            Err(e) => {
                self.error_count += 1;
                self.resolved = vec![];
                if self.errors.len() < MAX_CONFLICTS {
                    self.errors.push((i, e));
                }
            }
        }
    }

    /// Every item read: the values to write, in key order — or, if any problem was found, the
    /// summary that refuses the import, with every problem in item order (a key given again
    /// names the item that gave it before).
    #[allow(clippy::result_large_err)] // a refusal, once per import
    fn conclude(
        self,
        opts: &ImportOptions,
        locate: &dyn Fn(usize, FieldError) -> FieldError,
    ) -> Result<Ready, ImportSummary> {
        let Checking {
            cat,
            errors,
            error_count,
            resolved,
            mut keys,
            next,
            ..
        } = self;
        let rows = next as u64;
        // the same key twice: each repetition names the one before it
        // stable sort: quick on files made of a few sorted runs (one per period, say)
        keys.sort();
        let mut repeats: Vec<(usize, usize)> = keys
            .windows(2)
            .filter(|w| w[0].0 == w[1].0)
            .map(|w| (w[1].1, w[0].1))
            .collect();
        let conflict_count = error_count + repeats.len() as u64;
        if conflict_count == 0 {
            // every item was resolved, so item indexes are indexes into `resolved`; the bulk
            // paths write in key order (appending to the primary key instead of inserting all
            // over it)
            let order = keys.into_iter().map(|(_, i)| i).collect();
            return Ok(Ready {
                cat,
                resolved,
                order,
                rows,
            });
        }
        let mut conflicts: Vec<FieldError> = vec![];
        repeats.sort_unstable();
        let mut errors = errors.into_iter().peekable();
        let mut repeats = repeats.into_iter().peekable();
        while conflicts.len() < MAX_CONFLICTS {
            let take_error = match (errors.peek(), repeats.peek()) {
                (Some((ei, _)), Some((ri, _))) => ei < ri,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_error {
                let (i, e) = errors.next().expect("peeked");
                conflicts.push(locate(i, e));
            } else {
                let (i, first) = repeats.next().expect("peeked");
                let there = locate(first, FieldError::new("", ""));
                let there = match there.row {
                    Some(r) => format!("row {r}"),
                    None => format!("item {}", there.field),
                };
                conflicts.push(locate(
                    i,
                    FieldError::new(
                        "key",
                        format!("the same indicator, unit, period and disaggregation are already given at {there}"),
                    ),
                ));
            }
        }
        Err(ImportSummary {
            status: "ERROR",
            description: format!(
                "{conflict_count} problem(s) in {rows} value(s): nothing was imported"
            ),
            import_count: ImportCount {
                ignored: rows,
                ..Default::default()
            },
            conflicts,
            conflict_count,
            dry_run: opts.dry_run,
            rows,
            validation: vec![],
            validation_count: 0,
            validation_checks: 0,
            stale: vec![],
        })
    }
}

/// Check every value, then write them all in one transaction, or none if any is wrong.
/// A dry run does the same and rolls back. `items` may carry errors found while parsing.
pub fn import(
    db: &Db,
    actor: &Actor,
    opts: &ImportOptions,
    items: impl IntoIterator<Item = Result<RawValue, FieldError>>,
    locate: &dyn Fn(usize, FieldError) -> FieldError,
) -> Result<ImportSummary, StoreError> {
    import_with(db, actor, opts, items, locate, &mut |_, _| Ok(()))
}

/// What [`import_with`] runs in the import's transaction once the values are written, with
/// the summary: more writes that must commit with the values, or not at all (the entry page
/// records its batch there). An error rolls the whole import back.
pub type AfterWrite<'a> =
    &'a mut dyn FnMut(&mut dyn Conn, &ImportSummary) -> Result<(), StoreError>;

/// [`import`], running `then` in the import's transaction after the values are written (not
/// when the import is refused).
pub fn import_with(
    db: &Db,
    actor: &Actor,
    opts: &ImportOptions,
    items: impl IntoIterator<Item = Result<RawValue, FieldError>>,
    locate: &dyn Fn(usize, FieldError) -> FieldError,
    then: AfterWrite,
) -> Result<ImportSummary, StoreError> {
    let mut cat = Catalogue::cached(db)?;
    cat.allowed = opts.allowed_units.clone();
    cat.locks.attach(db); // approvals (issue #4): reads a unit's locks when it meets the unit
    let mut checking = Checking::new(cat, opts);
    let mut items = items.into_iter();
    if db.backend() == Backend::Postgres
        && crate::bulk::streams(opts)
        && !opts.delete_empty
        && opts.base_versions.is_none()
    {
        for mut item in items.by_ref() {
            checking.item(&mut item);
            if checking.next == BULK_MIN {
                break;
            }
        }
        if checking.next == BULK_MIN && checking.error_count == 0 {
            return streamed(db, actor, opts, checking, items, locate, then);
        }
    }
    for mut item in items {
        checking.item(&mut item);
    }
    let ready = match checking.conclude(opts, locate) {
        Ok(ready) => ready,
        Err(refused) => return Ok(refused),
    };
    let bulk = ready.resolved.len() >= BULK_MIN
        && !opts.audit_each
        && opts.strategy != Strategy::Delete
        && !opts.delete_empty
        && opts.base_versions.is_none();
    let mut refused = None;
    let work = |c: &mut dyn Conn| {
        let v =
            crate::validation::on_import(c, &ready.cat, &ready.resolved, ready.rows, opts, locate)?;
        let found = match v {
            Ok(f) => f,
            Err(summary) => {
                refused = Some(summary);
                return Err(StoreError::Conflict("the import was refused".into()));
            }
        };
        let b = Batch {
            now: crate::clock::now(),
            actor,
            opts,
            disagg_ids: HashMap::new(),
            count: ImportCount::default(),
            audits: vec![],
            stale: vec![],
        };
        let (count, stale) = write(c, b, &ready, bulk, None)?;
        let mut summary = success(opts, ready.rows, count, stale);
        found.report(&mut summary, locate);
        then(c, &summary)?;
        Ok(summary)
    };
    // the bulk paths check the references once, set-based, instead of row by row
    let outcome = if bulk {
        db.bulk_transaction(!opts.dry_run, work)
    } else {
        db.transaction(!opts.dry_run, work)
    };
    if let Some(summary) = refused {
        return Ok(summary);
    }
    outcome
}

/// PostgreSQL, a large import that creates values: the transaction starts once [`BULK_MIN`]
/// values have passed their checks, and values are copied into `data_value` while the rest are
/// read and checked ([`crate::bulk::Stream`]), so that the server's work overlaps the reading.
/// The outcome is the same as checking first and writing afterwards: a problem found later
/// rolls everything back, and what the stream could not write is written after the reading.
fn streamed(
    db: &Db,
    actor: &Actor,
    opts: &ImportOptions,
    mut checking: Checking,
    items: impl Iterator<Item = Item>,
    locate: &dyn Fn(usize, FieldError) -> FieldError,
    then: AfterWrite,
) -> Result<ImportSummary, StoreError> {
    let mut refused: Option<ImportSummary> = None;
    let outcome = db.bulk_transaction(!opts.dry_run, |c| {
        let mut b = Batch {
            now: crate::clock::now(),
            actor,
            opts,
            disagg_ids: HashMap::new(),
            count: ImportCount::default(),
            audits: vec![],
            stale: vec![],
        };
        // the disaggregations met so far (created if new), and every one stored: the stream
        // cannot create one while it copies
        for r in c.query("SELECT code, id FROM disaggregation", &[])? {
            b.disagg_ids.insert(r.str(0), r.i64(1));
        }
        let mut ids: Vec<Option<i64>> = vec![];
        for i in 0..checking.cat.disaggs.len() {
            let code = checking.cat.disagg_code(i as u32);
            ids.push(Some(disagg_id(c, &mut b.disagg_ids, code)?));
        }
        let mut stream =
            crate::bulk::Stream::start(c, &checking.resolved, opts, &actor.name, &b.now)?;
        for (i, r) in checking.resolved.iter().enumerate() {
            stream.offer(i, r, ids[r.disagg as usize])?;
        }
        for mut item in items {
            checking.item(&mut item);
            if checking.error_count > 0 {
                stream.abandon();
                continue;
            }
            let i = checking.resolved.len() - 1;
            let r = &checking.resolved[i];
            while ids.len() <= r.disagg as usize {
                let code = checking.cat.disagg_code(ids.len() as u32);
                ids.push(b.disagg_ids.get(code).copied());
            }
            stream.offer(i, r, ids[r.disagg as usize])?;
        }
        let mut streamed = stream.finish()?;
        streamed.settle(c)?;
        tracing::debug!(
            streamed = streamed.count(),
            values = checking.resolved.len(),
            "values written while reading"
        );
        match checking.conclude(opts, locate) {
            Ok(ready) => {
                let v = crate::validation::on_import(
                    c,
                    &ready.cat,
                    &ready.resolved,
                    ready.rows,
                    opts,
                    locate,
                )?;
                let found = match v {
                    Ok(f) => f,
                    Err(summary) => {
                        refused = Some(summary);
                        return Err(StoreError::Conflict("the import was refused".into()));
                    }
                };
                let (count, stale) = write(c, b, &ready, true, Some(&streamed))?;
                let mut summary = success(opts, ready.rows, count, stale);
                found.report(&mut summary, locate);
                then(c, &summary)?;
                Ok(summary)
            }
            Err(summary) => {
                // roll back whatever was written
                refused = Some(summary);
                Err(StoreError::Conflict("the import was refused".into()))
            }
        }
    });
    if let Some(summary) = refused {
        return Ok(summary);
    }
    outcome
}

/// Write checked values in the transaction `c` — by the engine's bulk path when `bulk`, less
/// those a stream has written already — mark their (indicator, period) pairs for the analytics,
/// and audit.
fn write(
    c: &mut dyn Conn,
    mut b: Batch,
    ready: &Ready,
    bulk: bool,
    streamed: Option<&crate::bulk::Streamed>,
) -> Result<(ImportCount, Vec<usize>), StoreError> {
    let Ready {
        cat,
        resolved,
        order,
        ..
    } = ready;
    let (actor, opts) = (b.actor, b.opts);
    // approvals (issue #4): no step was taken on a form since the catalogue was loaded
    cat.locks.still_current(c)?;
    if bulk {
        // ids for the disaggregations in use, created in the order the values name them
        let mut ids: Vec<Option<i64>> = vec![None; cat.disaggs.len()];
        for r in resolved {
            let slot = &mut ids[r.disagg as usize];
            if slot.is_none() {
                *slot = Some(disagg_id(c, &mut b.disagg_ids, cat.disagg_code(r.disagg))?);
            }
        }
        let ids: Vec<i64> = ids.into_iter().map(Option::unwrap_or_default).collect();
        let name = |k: crate::bulk::Ref, id: i64| -> String {
            let code = match k {
                crate::bulk::Ref::Indicator => cat.indicator_code(id).map(str::to_string),
                crate::bulk::Ref::Unit => cat.unit_code(id),
                crate::bulk::Ref::Disagg => ids
                    .iter()
                    .position(|d| *d == id)
                    .map(|i| cat.disagg_code(i as u32).to_string()),
            };
            code.unwrap_or_else(|| format!("#{id}"))
        };
        let rest: Vec<usize>;
        let order = match streamed {
            Some(s) => {
                rest = order.iter().copied().filter(|&i| !s.written(i)).collect();
                &rest
            }
            None => order,
        };
        let w = crate::bulk::Write {
            rows: resolved,
            order,
            disagg_ids: &ids,
            now: &b.now,
            stored_by: &actor.name,
            opts,
            name: &name,
        };
        b.count = match c.backend() {
            Backend::Sqlite => crate::bulk::sqlite(c, &w)?,
            Backend::Postgres => crate::bulk::postgres(c, &w)?,
        };
        if let Some(s) = streamed {
            b.count.imported += s.count();
        }
    } else {
        // every item passed its checks, so item indexes are indexes into `resolved`
        for (i, r) in resolved.iter().enumerate() {
            b.put(c, i, r, cat.disagg_code(r.disagg))?;
        }
    }
    // pivots read these pairs from the values of the provinces written until their
    // pre-aggregates are rebuilt
    crate::analytics::mark_written(
        c,
        resolved
            .iter()
            .map(|r| (r.indicator_id, r.period, r.unit_id)),
    )?;
    if opts.audit_each {
        for (key, before, after) in &b.audits {
            audit::record(
                c,
                actor,
                // a cell emptied on the entry page deletes under any strategy
                if after.is_none() {
                    "delete"
                } else {
                    action_of(opts.strategy)
                },
                "data_value",
                key,
                before.as_ref(),
                after.as_ref(),
            )?;
        }
    } else {
        let after =
            serde_json::json!({"what": opts.what, "count": b.count, "strategy": opts.strategy});
        audit::record(
            c,
            actor,
            "import",
            "data_value",
            &opts.what,
            None,
            Some(&after),
        )?;
    }
    Ok((b.count, b.stale))
}

/// The summary of an import that went through.
fn success(
    opts: &ImportOptions,
    rows: u64,
    count: ImportCount,
    stale: Vec<usize>,
) -> ImportSummary {
    ImportSummary {
        status: "SUCCESS",
        description: if opts.dry_run {
            "Dry run: checked and counted, nothing was written".into()
        } else {
            "Import process completed successfully".into()
        },
        import_count: count,
        conflicts: vec![],
        conflict_count: 0,
        dry_run: opts.dry_run,
        rows,
        validation: vec![],
        validation_count: 0,
        validation_checks: 0,
        stale,
    }
}

fn action_of(s: Strategy) -> &'static str {
    match s {
        Strategy::Delete => "delete",
        _ => "write",
    }
}

/// Filters for reading values.
#[derive(Debug, Clone, Default)]
pub struct ValueFilter {
    pub indicators: Vec<String>,
    /// Unit codes (with optional `@VERSION`; default: the current hierarchy).
    pub units: Vec<String>,
    /// Include every unit below the given ones.
    pub children: bool,
    pub periods: Vec<String>,
    /// Inclusive date range `YYYY-MM-DD`: values whose period lies inside it.
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub disagg: Option<String>,
    /// Values changed at or after this instant (ISO 8601: a date, or a date and time with an
    /// optional zone).
    pub last_updated: Option<String>,
    /// Values changed within this long before now: a number and a unit, `d` (days), `h`
    /// (hours), `m` (minutes) or `s` (seconds), e.g. `10d`, `2h` (DHIS2's `lastUpdatedDuration`).
    pub last_updated_duration: Option<String>,
    pub limit: i64,
    pub offset: i64,
    /// Who reads: `None` sees everything; `Some(scope)` sees published values and those of
    /// units within the scope (unit ids; empty: published values only).
    pub visible: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoredValue {
    pub indicator: String,
    pub unit: String,
    pub unit_version: String,
    pub period: String,
    pub disagg: String,
    pub value: Option<f64>,
    pub value_text: String,
    pub comment: Option<String>,
    pub followup: bool,
    pub demo: bool,
    pub source: Option<String>,
    pub stored_by: String,
    pub created: String,
    pub last_updated: String,
    pub version: i64,
    /// Visible to everyone.
    pub published: bool,
}

/// The months of a date `YYYY-MM-DD` (months since year 0, as `month_start` counts them):
/// the first month that starts on or after it, and the last month that ends on or before it.
/// `None` unless it is a real date.
fn months_around(date: &str) -> Option<(i64, i64)> {
    if date.len() != 10 {
        return None;
    }
    let ms = crate::clock::parse_instant(date)?;
    let y: i64 = date.get(0..4)?.parse().ok()?;
    let m: i64 = date.get(5..7)?.parse().ok()?;
    let month = y * 12 + m - 1;
    let first_day = date.ends_with("-01");
    // the next day is in another month: the date is its month's last day
    let next = crate::clock::format_millis(ms + 86_400_000);
    let last_day = next.get(5..7) != date.get(5..7);
    Some((
        if first_day { month } else { month + 1 },
        if last_day { month } else { month - 1 },
    ))
}

/// DHIS2's `lastUpdatedDuration`: `10d`, `2h`, `30m`, `45s` → milliseconds.
fn duration_millis(d: &str) -> Option<i64> {
    let d = d.trim();
    let unit = d.chars().last()?;
    let n: i64 = d[..d.len() - unit.len_utf8()].parse().ok()?;
    let per = match unit {
        'd' | 'D' => 86_400_000,
        'h' | 'H' => 3_600_000,
        'm' | 'M' => 60_000,
        's' | 'S' => 1000,
        _ => return None,
    };
    (n >= 0).then(|| n.checked_mul(per)).flatten()
}

/// Read values. Unknown codes in filters are an error, not an empty answer.
pub fn query(c: &mut dyn Conn, f: &ValueFilter) -> Result<Vec<StoredValue>, StoreError> {
    let (filter, mut p) = where_clause(c, f)?;
    p.push(Val::Int(if f.limit > 0 { f.limit } else { 10_000 }));
    p.push(Val::Int(f.offset.max(0)));
    let n = p.len();
    let sql = format!(
        "SELECT i.code, u.code, u.version, d.period, g.code, d.value, d.value_text, d.comment, d.followup,
                d.demo, d.source, d.stored_by, d.created_at, d.updated_at, d.version, d.published
         FROM data_value d JOIN indicator i ON i.id = d.indicator_id JOIN admin_unit u ON u.id = d.unit_id
         JOIN disaggregation g ON g.id = d.disagg_id
         WHERE {filter} ORDER BY i.code, u.version, u.code, d.month_start, d.period, g.code LIMIT ${} OFFSET ${}",
        n - 1,
        n
    );
    Ok(c.query(&sql, &p)?.iter().map(stored).collect())
}

/// The WHERE clause of a filter over `data_value d` joined with `indicator i`,
/// `admin_unit u` and `disaggregation g`, with its parameters.
pub(crate) fn where_clause(
    c: &mut dyn Conn,
    f: &ValueFilter,
) -> Result<(String, Vec<Val>), StoreError> {
    let mut w: Vec<String> = vec![];
    let mut p: Vec<Val> = vec![];
    let mut problems = Problems::default();
    let add = |w: &mut Vec<String>, p: &mut Vec<Val>, sql: &str, vals: Vec<Val>| {
        let mut s = sql.to_string();
        for v in vals {
            p.push(v);
            s = s.replacen('?', &format!("${}", p.len()), 1);
        }
        w.push(s);
    };
    if !f.indicators.is_empty() {
        let marks = vec!["?"; f.indicators.len()].join(", ");
        add(
            &mut w,
            &mut p,
            &format!("i.code IN ({marks})"),
            f.indicators.iter().map(Val::from).collect(),
        );
    }
    if !f.units.is_empty() {
        let ids: Vec<Val> = match crate::accounts::resolve_units(c, "orgUnit", &f.units) {
            Ok(ids) => ids.into_iter().map(Val::Int).collect(),
            Err(StoreError::Invalid(p)) => {
                problems.0.extend(p.0);
                vec![]
            }
            Err(e) => return Err(e),
        };
        if !ids.is_empty() {
            let marks = vec!["?"; ids.len()].join(", ");
            if f.children {
                add(
                    &mut w,
                    &mut p,
                    &format!(
                        "d.unit_id IN (SELECT descendant_id FROM admin_unit_closure WHERE ancestor_id IN ({marks}))"
                    ),
                    ids,
                );
            } else {
                add(&mut w, &mut p, &format!("d.unit_id IN ({marks})"), ids);
            }
        }
    }
    if !f.periods.is_empty() {
        let (mut ps, mut starts) = (vec![], vec![]);
        for s in &f.periods {
            match s.parse::<Period>() {
                Ok(pd) => {
                    ps.push(Val::Text(pd.to_string()));
                    starts.push(Val::Int(pd.month_range().0 as i64));
                }
                Err(e) => problems.push(FieldError::new("period", e.to_string()).value(s)),
            }
        }
        if !ps.is_empty() {
            // the first month too: the primary key holds it before the period's text
            let marks = vec!["?"; ps.len()].join(", ");
            add(
                &mut w,
                &mut p,
                &format!("d.month_start IN ({marks})"),
                starts,
            );
            add(&mut w, &mut p, &format!("d.period IN ({marks})"), ps);
        }
    }
    // periods that start on or after startDate and end on or before endDate (DHIS2's rule);
    // periods are whole months
    for (name, date, sql, start) in [
        ("startDate", &f.start_date, "d.month_start >= ?", true),
        ("endDate", &f.end_date, "d.month_end <= ?", false),
    ] {
        if let Some(d) = date {
            match months_around(d) {
                Some((first, last)) => add(
                    &mut w,
                    &mut p,
                    sql,
                    vec![Val::Int(if start { first } else { last })],
                ),
                None => problems.push(FieldError::new(name, "expected a date YYYY-MM-DD").value(d)),
            }
        }
    }
    if let Some(d) = &f.disagg {
        match d.parse::<Disagg>() {
            Ok(d) => add(&mut w, &mut p, "g.code = ?", vec![Val::Text(d.code())]),
            Err(e) => problems.push(FieldError::new("categoryOptionCombo", e).value(d)),
        }
    }
    // instants are stored as UTC text of one width, so that text order is time order
    if let Some(t) = &f.last_updated {
        match crate::clock::parse_instant(t) {
            Some(ms) => add(
                &mut w,
                &mut p,
                "d.updated_at >= ?",
                vec![Val::Text(crate::clock::format_millis(ms))],
            ),
            None => problems.push(
                FieldError::new(
                    "lastUpdated",
                    "expected a date or instant, e.g. 2025-01-31 or 2025-01-31T08:00:00+07:00",
                )
                .value(t),
            ),
        }
    }
    if let Some(t) = &f.last_updated_duration {
        match duration_millis(t) {
            Some(ms) => add(
                &mut w,
                &mut p,
                "d.updated_at >= ?",
                vec![Val::Text(crate::clock::format_millis(
                    crate::clock::now_millis().saturating_sub(ms),
                ))],
            ),
            None => problems.push(
                FieldError::new(
                    "lastUpdatedDuration",
                    "expected a number and a unit: d (days), h (hours), m (minutes) or s (seconds), e.g. 10d or 2h",
                )
                .value(t),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    if let Some(scope) = &f.visible {
        let (sql, vals) = crate::accounts::scope_sql("d.unit_id", scope, p.len() + 1);
        p.extend(vals);
        w.push(format!("(d.published = 1 OR {sql})"));
    }
    let filter = if w.is_empty() {
        "1 = 1".to_string()
    } else {
        w.join(" AND ")
    };
    Ok((filter, p))
}

fn stored(r: &Row) -> StoredValue {
    StoredValue {
        indicator: r.str(0),
        unit: r.str(1),
        unit_version: r.str(2),
        period: r.str(3),
        disagg: r.str(4),
        value: r.opt_f64(5),
        value_text: r.str(6),
        comment: r.opt_str(7),
        followup: r.bool(8),
        demo: r.bool(9),
        source: r.opt_str(10),
        stored_by: r.str(11),
        created: r.str(12),
        last_updated: r.str(13),
        version: r.i64(14),
        published: r.bool(15),
    }
}

/// Earlier states of one value, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub value_text: String,
    pub comment: Option<String>,
    pub stored_by: String,
    pub updated_at: String,
    pub version: i64,
    pub op: String,
    pub changed_at: String,
}

pub fn history(
    c: &mut dyn Conn,
    indicator: &str,
    unit: &str,
    period: &str,
    disagg: &str,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let Some(unit_id) = unit_of(c, unit, period)? else {
        return Ok(vec![]);
    };
    let d: Disagg = disagg
        .parse()
        .map_err(|e| StoreError::invalid(FieldError::new("disaggregation", e)))?;
    Ok(c
        .query(
            "SELECT h.value_text, h.comment, h.stored_by, h.updated_at, h.version, h.op, h.changed_at
             FROM data_value_history h JOIN indicator i ON i.id = h.indicator_id
             JOIN disaggregation g ON g.id = h.disagg_id
             WHERE i.code = $1 AND h.unit_id = $2 AND h.period = $3 AND g.code = $4 ORDER BY h.id DESC",
            &params![indicator, unit_id, period, d.code()],
        )?
        .iter()
        .map(|r| HistoryEntry {
            value_text: r.str(0),
            comment: r.opt_str(1),
            stored_by: r.str(2),
            updated_at: r.str(3),
            version: r.i64(4),
            op: r.str(5),
            changed_at: r.str(6),
        })
        .collect())
}

/// Periods that have values for a unit, latest first.
/// Periods that have values for a unit that the reader may see (see [`ValueFilter::visible`]),
/// latest first.
pub fn periods_of_unit(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    code: &str,
    visible: Option<&[i64]>,
) -> Result<Vec<String>, StoreError> {
    let Some(id) = crate::units::id_of(c, v, code)? else {
        return Ok(vec![]);
    };
    let mut p = crate::params_vec![id];
    let mut extra = String::new();
    if let Some(scope) = visible {
        let (sql, vals) = crate::accounts::scope_sql("unit_id", scope, 2);
        p.extend(vals);
        extra = format!(" AND (published = 1 OR {sql})");
    }
    Ok(c.query(
        &format!(
            "SELECT period, min(month_start), max(month_end) FROM data_value WHERE unit_id = $1{extra}
             GROUP BY period ORDER BY max(month_end) DESC, min(month_start) DESC"
        ),
        &p,
    )?
    .iter()
    .map(|r| r.str(0))
    .collect())
}

/// The unit a value key names (`CODE` in the hierarchy in force at the end of the period,
/// or `CODE@VERSION`).
pub fn unit_of(c: &mut dyn Conn, unit: &str, period: &str) -> Result<Option<i64>, StoreError> {
    let p: Period = period
        .parse()
        .map_err(|e: dantoc_domain::period::PeriodError| {
            StoreError::invalid(FieldError::new("period", e.to_string()).value(period))
        })?;
    let (code, v) = dantoc_domain::admin::split_unit_ref(unit)
        .map_err(|e| StoreError::invalid(FieldError::new("unit", e).value(unit)))?;
    let v = v.unwrap_or_else(|| HierarchyVersion::on(&p.end_date()));
    crate::units::id_of(c, v, code)
}

/// Publish (or withdraw) the values a filter selects (limit and offset are ignored):
/// published values are visible to everyone. Returns how many changed.
pub fn publish(c: &mut dyn Conn, f: &ValueFilter, published: bool) -> Result<u64, StoreError> {
    let (filter, mut p) = where_clause(c, f)?;
    p.push(Val::from(published));
    let n = p.len();
    c.execute(
        &format!(
            "UPDATE data_value SET published = ${n}
             WHERE published <> ${n} AND (indicator_id, unit_id, period, disagg_id) IN (
                SELECT d.indicator_id, d.unit_id, d.period, d.disagg_id
                FROM data_value d JOIN indicator i ON i.id = d.indicator_id JOIN admin_unit u ON u.id = d.unit_id
                JOIN disaggregation g ON g.id = d.disagg_id WHERE {filter})"
        ),
        &p,
    )
}

pub fn count(c: &mut dyn Conn) -> Result<i64, StoreError> {
    c.scalar_i64("SELECT count(*) FROM data_value", &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    fn rv(unit: &str, period: &str, disagg: &str, value: &str) -> RawValue {
        RawValue {
            indicator: "0101".into(),
            unit: unit.into(),
            period: period.into(),
            disagg: disagg.into(),
            value: Some(value.into()),
            ..Default::default()
        }
    }

    #[test]
    fn date_bounds_take_whole_months_inside_them() {
        // 2024-01 is month 24288
        let jan = 2024 * 12;
        assert_eq!(months_around("2024-01-01"), Some((jan, jan - 1)));
        assert_eq!(months_around("2024-01-15"), Some((jan + 1, jan - 1)));
        assert_eq!(months_around("2024-01-31"), Some((jan + 1, jan)));
        assert_eq!(months_around("2024-02-29"), Some((jan + 2, jan + 1)));
        assert_eq!(months_around("2024-12-31"), Some((jan + 12, jan + 11)));
        for bad in [
            "2024-02-30",
            "2024-13-01",
            "2024-1-01",
            "20240101",
            "2024-01-01T00:00",
        ] {
            assert_eq!(months_around(bad), None, "{bad}");
        }
        assert_eq!(duration_millis("10d"), Some(864_000_000));
        assert_eq!(duration_millis("2h"), Some(7_200_000));
        assert_eq!(duration_millis("30m"), Some(1_800_000));
        assert_eq!(duration_millis("45s"), Some(45_000));
        for bad in ["", "d", "10", "-1d", "1.5h", "10w", "99999999999999999999d"] {
            assert_eq!(duration_millis(bad), None, "{bad}");
        }
    }

    /// Problems are reported in item order, whether a check failed or a key came again (each
    /// repetition names the one before it), and nothing is written.
    #[test]
    fn problems_in_item_order_and_repeated_keys_name_the_one_before() {
        let db = TestDb::sqlite();
        let a = || Ok(rv("06877@2024", "2000", "E01.M", "1"));
        let b = || Ok(rv("06877@2024", "2001", "E01.F", "2"));
        let items: Vec<Result<RawValue, FieldError>> = vec![
            a(),
            Ok(rv("06877@2024", "2000", "E02.M", "x")),
            a(),
            b(),
            a(),
            Err(FieldError::new("file", "unreadable")),
            b(),
        ];
        let s = import(
            &db,
            &Actor::system(),
            &ImportOptions::default(),
            items,
            &|i, e| e.at(i as u64 + 2, None),
        )
        .unwrap();
        assert_eq!(s.status, "ERROR");
        assert_eq!((s.conflict_count, s.rows), (5, 7));
        let got: Vec<(Option<u64>, &str)> = s
            .conflicts
            .iter()
            .map(|e| (e.row, e.field.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(3), "value"),
                (Some(4), "key"),
                (Some(6), "key"),
                (Some(7), "file"),
                (Some(8), "key")
            ]
        );
        for (i, there) in [(1, "row 2"), (2, "row 4"), (4, "row 5")] {
            assert!(
                s.conflicts[i].message.ends_with(there),
                "{}",
                s.conflicts[i].message
            );
        }
        assert_eq!(db.read(count).unwrap(), 0);
    }
}

//! Validation rules: the table (CRUD, audited), the checks run on every import — set-based,
//! over the values about to be written and the stored values they are compared with — and the
//! batch report over a unit subtree and a period range. What a rule means is the domain's
//! ([`dantoc_domain::validation`]); this module finds the values.
//!
//! **On import** ([`on_import`], inside the import's transaction, before the values are
//! written): only rules that read an indicator of the import run. Their operand values are
//! taken from the import first (a value the import deletes, or that its strategy leaves
//! unwritten, counts as what will be stored), and from the stored values otherwise. The stored
//! values are loaded only for the (indicator, unit, period) groups a rule needs and the import
//! does not give in full — one query per period and 500 units, never one per value.
//! Everything else is in memory: the values of the rules' indicators are sorted once by unit,
//! period and disaggregation, so that the operands of a cell, and the values of a unit and
//! period, lie next to each other.

use crate::audit::{self, Actor};
use crate::db::{Backend, Conn, Row, Val};
use crate::error::StoreError;
use crate::values::{Catalogue, Checked, ImportCount, ImportOptions, ImportSummary, Strategy};
use dantoc_domain::disagg::{Dimension, Disagg};
use dantoc_domain::indicator::Indicator;
use dantoc_domain::period::Period;
use dantoc_domain::validation::{Eval, Importance, Kind, Mode, Operator, Rule, RuleDef};
use dantoc_domain::{FieldError, Problems};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;

/// What an import does with the validation rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationMode {
    /// A violation of importance `error` refuses the whole import: nothing is written, and
    /// each violation is a conflict naming the value and the rule. Warnings are reported.
    #[default]
    Refuse,
    /// Write the values and report every violation (data entry, cell by cell).
    Report,
    /// No rules run.
    Off,
}

/// The first this many violations are listed (all are counted).
pub const MAX_LISTED: usize = 1000;

// ------------------------------------------------------------------ the table

const COLS: &str = "code, name_vi, name_en, description, kind, left_expr, operator, right_expr,
    indicator_code, disagg_code, min_value, max_value, importance, missing, mode";

fn def_of(r: &Row) -> RuleDef {
    RuleDef {
        code: r.str(0),
        name_vi: r.str(1),
        name_en: r.str(2),
        description: r.str(3),
        kind: r.str(4).parse().unwrap_or_default(),
        left: r.str(5),
        operator: r.str(6).parse().ok(),
        right: r.str(7),
        indicator: r.opt_str(8),
        disaggregation: r.opt_str(9),
        min: r.opt_f64(10),
        max: r.opt_f64(11),
        importance: r.str(12).parse().unwrap_or_default(),
        missing: r.str(13).parse().unwrap_or_default(),
        mode: r.str(14).parse().unwrap_or_default(),
    }
}

/// Every rule, by code.
pub fn list(c: &mut dyn Conn) -> Result<Vec<RuleDef>, StoreError> {
    Ok(c.query(
        &format!("SELECT {COLS} FROM validation_rule ORDER BY code"),
        &[],
    )?
    .iter()
    .map(def_of)
    .collect())
}

pub fn get(c: &mut dyn Conn, code: &str) -> Result<Option<RuleDef>, StoreError> {
    Ok(c.query_one(
        &format!("SELECT {COLS} FROM validation_rule WHERE code = $1"),
        &[Val::from(code)],
    )?
    .map(|r| def_of(&r)))
}

fn require(c: &mut dyn Conn, code: &str) -> Result<RuleDef, StoreError> {
    get(c, code)?.ok_or_else(|| StoreError::NotFound(format!("validation rule {code}")))
}

/// Parse a definition and check it against the catalogue.
pub fn check(c: &mut dyn Conn, def: &RuleDef) -> Result<Rule, StoreError> {
    let catalogue: HashMap<String, Indicator> = crate::indicators::list(c)?
        .into_iter()
        .map(|(_, i)| (i.code.clone(), i))
        .collect();
    Rule::check(def, &|code| catalogue.get(code).cloned()).map_err(StoreError::Invalid)
}

fn params(d: &RuleDef) -> Vec<Val> {
    vec![
        Val::from(d.code.as_str()),
        Val::from(d.name_vi.as_str()),
        Val::from(d.name_en.as_str()),
        Val::from(d.description.as_str()),
        Val::from(d.kind.as_str()),
        Val::from(d.left.as_str()),
        Val::from(d.operator.map(Operator::as_str).unwrap_or("")),
        Val::from(d.right.as_str()),
        Val::from(d.indicator.clone()),
        Val::from(d.disaggregation.clone()),
        Val::from(d.min),
        Val::from(d.max),
        Val::from(d.importance.as_str()),
        Val::from(d.missing.as_str()),
        Val::from(d.mode.as_str()),
    ]
}

fn json(d: &RuleDef) -> serde_json::Value {
    serde_json::to_value(d).unwrap_or_default()
}

/// Add a rule (checked against the catalogue; its code must be new). Audited.
pub fn create(c: &mut dyn Conn, actor: &Actor, def: &RuleDef) -> Result<RuleDef, StoreError> {
    let rule = check(c, def)?;
    let d = rule.def;
    if get(c, &d.code)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "a validation rule with code {} exists",
            d.code
        )));
    }
    let now = crate::clock::now();
    let mut p = params(&d);
    p.push(Val::from(actor.name.as_str()));
    p.push(Val::from(now.as_str()));
    c.execute(
        &format!(
            "INSERT INTO validation_rule ({COLS}, updated_by, created_at, updated_at)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$17)"
        ),
        &p,
    )?;
    audit::record(
        c,
        actor,
        "create",
        "validation_rule",
        &d.code,
        None,
        Some(&json(&d)),
    )?;
    Ok(d)
}

/// Replace the rule `code` (its code may change to one not in use). Audited.
pub fn update(
    c: &mut dyn Conn,
    actor: &Actor,
    code: &str,
    def: &RuleDef,
) -> Result<RuleDef, StoreError> {
    let before = require(c, code)?;
    let rule = check(c, def)?;
    let d = rule.def;
    if d.code != code && get(c, &d.code)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "a validation rule with code {} exists",
            d.code
        )));
    }
    let mut p = params(&d);
    p.push(Val::from(actor.name.as_str()));
    p.push(Val::from(crate::clock::now()));
    p.push(Val::from(code));
    c.execute(
        "UPDATE validation_rule SET code = $1, name_vi = $2, name_en = $3, description = $4,
            kind = $5, left_expr = $6, operator = $7, right_expr = $8, indicator_code = $9,
            disagg_code = $10, min_value = $11, max_value = $12, importance = $13, missing = $14,
            mode = $15, updated_by = $16, updated_at = $17
         WHERE code = $18",
        &p,
    )?;
    audit::record(
        c,
        actor,
        "update",
        "validation_rule",
        code,
        Some(&json(&before)),
        Some(&json(&d)),
    )?;
    Ok(d)
}

/// Remove a rule. Audited.
pub fn delete(c: &mut dyn Conn, actor: &Actor, code: &str) -> Result<(), StoreError> {
    let before = require(c, code)?;
    c.execute(
        "DELETE FROM validation_rule WHERE code = $1",
        &[Val::from(code)],
    )?;
    audit::record(
        c,
        actor,
        "delete",
        "validation_rule",
        code,
        Some(&json(&before)),
        None,
    )
}

/// An indicator's code changed: rules that read it follow (`#{old}` in expressions, and
/// bounds' indicator).
pub(crate) fn rename_indicator(c: &mut dyn Conn, old: &str, new: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE validation_rule SET indicator_code = $1 WHERE indicator_code = $2",
        &[Val::from(new), Val::from(old)],
    )?;
    let (from, to) = (format!("#{{{old}}}"), format!("#{{{new}}}"));
    for r in c.query(
        "SELECT code, left_expr, right_expr FROM validation_rule WHERE kind = 'compare'",
        &[],
    )? {
        let (l, rt) = (r.str(1), r.str(2));
        let (l2, r2) = (l.replace(&from, &to), rt.replace(&from, &to));
        if l2 != l || r2 != rt {
            c.execute(
                "UPDATE validation_rule SET left_expr = $1, right_expr = $2 WHERE code = $3",
                &[Val::from(l2), Val::from(r2), Val::from(r.str(0))],
            )?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ violations

/// A violation at a place: the rule's numbers and messages, the unit, period and (for a cell)
/// disaggregation — and, in an import, where the value that brought it up was given.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    #[serde(flatten)]
    pub check: dantoc_domain::validation::Violation,
    pub unit: String,
    pub unit_version: String,
    pub unit_name: String,
    pub period: String,
    /// The cell's disaggregation; none for a rule on totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disaggregation: Option<String>,
    /// Import: the row of the file that gave the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Import: the field of the request that gave the value (`dataValues[3].value`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Violation {
    /// `CODE@VERSION`, period and disaggregation: where the rule failed.
    pub fn place(&self) -> String {
        let mut s = format!("{}@{}, {}", self.unit, self.unit_version, self.period);
        if let Some(d) = &self.disaggregation {
            s.push_str(", ");
            s.push_str(d);
        }
        s
    }
}

// ------------------------------------------------------------------ the engine

/// A rule ready to run: its operands as slots (indexes into the list of indicators the rules
/// read) and, for bounds on one disaggregation, that disaggregation's key.
struct Prepared {
    rule: Rule,
    slots: Vec<u16>,
    bounds_disagg: Option<i64>,
}

/// One value the rules read. `disagg` is a key: the disaggregation's id, or for one an import
/// creates, minus one less its index in the catalogue. `idx`: the item index in the import, the
/// row in the report.
#[derive(Debug, Clone, Copy)]
struct Entry {
    unit: i64,
    period: Period,
    disagg: i64,
    slot: u16,
    idx: u32,
    value: Option<f64>,
}

/// The values of one indicator (slot) at one unit and period.
type Group = (u16, i64, Period);

/// FxHash (rustc's): a quick hash for the small integer keys here (ids, periods), which are
/// checked against the catalogue before they get here and cannot be chosen to collide.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Fx {
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(*b as u64);
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.add(v as u64)
    }
    fn write_u16(&mut self, v: u16) {
        self.add(v as u64)
    }
    fn write_u32(&mut self, v: u32) {
        self.add(v as u64)
    }
    fn write_u64(&mut self, v: u64) {
        self.add(v)
    }
    fn write_i64(&mut self, v: i64) {
        self.add(v as u64)
    }
    fn write_isize(&mut self, v: isize) {
        self.add(v as u64)
    }
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64)
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;
type FxSet<K> = HashSet<K, std::hash::BuildHasherDefault<Fx>>;

/// Stored values the rules read, by group, each group sorted by disaggregation.
#[derive(Default)]
struct Stored {
    groups: FxMap<Group, Vec<(i64, Option<f64>)>>,
}

impl Stored {
    /// The stored value at a group and disaggregation: `None` if none is stored, `Some(None)`
    /// for a stored value that is not a number.
    fn get(&self, g: &Group, disagg: i64) -> Option<Option<f64>> {
        let v = self.groups.get(g)?;
        v.binary_search_by_key(&disagg, |x| x.0)
            .ok()
            .map(|i| v[i].1)
    }
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    rule: u32,
    idx: u32,
    unit: i64,
    period: Period,
    disagg: Option<i64>,
    left: f64,
    op: Operator,
    right: f64,
}

fn mask_of(code: &str) -> u8 {
    code.parse::<Disagg>()
        .map(|d| {
            d.dimensions().iter().fold(0u8, |m, x| {
                m | match x {
                    Dimension::Ethnic => 1,
                    Dimension::Sex => 2,
                    Dimension::Area => 4,
                    Dimension::Age => 8,
                }
            })
        })
        .unwrap_or(0)
}

/// Stored rules that parse and whose operands are all in the catalogue (`indicator_id`),
/// restricted to `codes` if given and to those reading an indicator of `only` if given; with
/// the indicator id of each slot. A rule that no longer fits the catalogue is skipped with a
/// warning in the log.
fn prepare(
    c: &mut dyn Conn,
    indicator_id: &dyn Fn(&str) -> Option<i64>,
    codes: Option<&[String]>,
    only: Option<&HashSet<i64>>,
) -> Result<(Vec<Prepared>, Vec<i64>), StoreError> {
    let mut slots: Vec<i64> = vec![];
    let mut out = vec![];
    for def in list(c)? {
        if codes.is_some_and(|cs| !cs.contains(&def.code)) {
            continue;
        }
        let rule = match Rule::parse(&def) {
            Ok(r) => r,
            Err(p) => {
                tracing::warn!(rule = %def.code, problems = %p, "validation rule skipped: it does not parse");
                continue;
            }
        };
        let ids: Option<Vec<i64>> = rule.references().iter().map(|r| indicator_id(r)).collect();
        let Some(ids) = ids else {
            tracing::warn!(rule = %def.code, "validation rule skipped: an operand is not in the catalogue");
            continue;
        };
        if only.is_some_and(|o| !ids.iter().any(|i| o.contains(i))) {
            continue;
        }
        let rule_slots = ids
            .iter()
            .map(|id| match slots.iter().position(|s| s == id) {
                Some(i) => i as u16,
                None => {
                    slots.push(*id);
                    (slots.len() - 1) as u16
                }
            })
            .collect();
        out.push(Prepared {
            rule,
            slots: rule_slots,
            bounds_disagg: None,
        });
    }
    Ok((out, slots))
}

/// Units and periods in runs: the values of one unit and period, sorted by disaggregation.
fn groups(entries: &[Entry]) -> impl Iterator<Item = &[Entry]> {
    entries.chunk_by(|a, b| a.unit == b.unit && a.period == b.period)
}

/// Sort for [`groups`]: by period and unit — a stable sort, which takes a file made of runs in
/// that order (a yearly report of every commune) in one pass —, then each unit and period's
/// few values by disaggregation.
fn sort_entries(entries: &mut [Entry]) {
    entries.sort_by_key(|e| (e.period, e.unit));
    for g in entries.chunk_by_mut(|a, b| a.unit == b.unit && a.period == b.period) {
        g.sort_unstable_by_key(|e| (e.disagg, e.slot));
    }
}

/// The (slot, unit, period) groups whose stored values the rules need: every operand of a rule
/// on totals; in a cell, the operands the import does not give; and with the strategies that
/// may leave a value unwritten (create, update), every value's own group.
fn needs(rules: &[Prepared], entries: &[Entry], nslots: usize, strategy: Strategy) -> FxSet<Group> {
    let mut out = FxSet::default();
    let mut present = vec![false; nslots];
    for g in groups(entries) {
        let (unit, period) = (g[0].unit, g[0].period);
        for e in g {
            present[e.slot as usize] = true;
        }
        for r in rules {
            if !r.slots.iter().any(|s| present[*s as usize]) {
                continue;
            }
            match (r.rule.kind(), r.rule.mode()) {
                (Kind::Bounds, _) => {}
                (Kind::Compare, Mode::Total) => {
                    out.extend(r.slots.iter().map(|s| (*s, unit, period)));
                }
                (Kind::Compare, Mode::Same) => {
                    for cell in g.chunk_by(|a, b| a.disagg == b.disagg) {
                        if cell.iter().any(|e| r.slots.contains(&e.slot)) {
                            for s in &r.slots {
                                if !cell.iter().any(|e| e.slot == *s) {
                                    out.insert((*s, unit, period));
                                }
                            }
                        }
                    }
                }
            }
        }
        if matches!(strategy, Strategy::Create | Strategy::Update) {
            out.extend(g.iter().map(|e| (e.slot, unit, period)));
        }
        for e in g {
            present[e.slot as usize] = false;
        }
    }
    out
}

/// PostgreSQL advisory locks of the rules' (unit, period) groups, first key of the two-key form.
const GROUP_LOCK: i32 = 4_242_012;

/// Up to this many (unit, period) groups are locked one by one; more take the whole lock.
const MAX_GROUP_LOCKS: usize = 200;

/// PostgreSQL: hold the (unit, period) groups of the values the rules read until the import's
/// transaction ends, before any stored operand is read. Two imports that write operands of the
/// same rule at the same unit and period would otherwise each check against the other's
/// earlier value (READ COMMITTED sees neither's write) and both pass a rule that together
/// they break. The second now waits for the first to commit or roll back, and its reads (each
/// statement sees what is committed when it starts) find the first one's values. Each group
/// is an exclusive advisory lock, taken in key order so that two imports cannot deadlock; an
/// import of more groups takes one exclusive lock over all of them, which every import of
/// fewer holds shared (a national import does not fill the lock table). SQLite needs nothing:
/// one writer at a time, and the checks run in its transaction.
fn lock_groups(c: &mut dyn Conn, entries: &[Entry]) -> Result<(), StoreError> {
    if c.backend() != Backend::Postgres || entries.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<i32> = groups(entries)
        .map(|g| {
            let mut h = Fx::default();
            h.add(g[0].unit as u64);
            for b in g[0].period.to_string().bytes() {
                h.add(b as u64);
            }
            // 0 is the lock over all groups
            ((h.0 >> 33) as i32).max(1)
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() > MAX_GROUP_LOCKS {
        c.query(
            "SELECT pg_advisory_xact_lock($1, 0)",
            &[Val::Int(GROUP_LOCK as i64)],
        )?;
        return Ok(());
    }
    c.query(
        "SELECT pg_advisory_xact_lock_shared($1, 0)",
        &[Val::Int(GROUP_LOCK as i64)],
    )?;
    for chunk in keys.chunks(CHUNK) {
        // one statement; a VALUES list is read in its order, the keys' order
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(CAST(${} AS INTEGER))", i + 2))
            .collect();
        let mut p = vec![Val::Int(GROUP_LOCK as i64)];
        p.extend(chunk.iter().map(|k| Val::Int(*k as i64)));
        c.query(
            &format!(
                "SELECT pg_advisory_xact_lock(CAST($1 AS INTEGER), k) FROM (VALUES {}) AS v(k)",
                rows.join(", ")
            ),
            &p,
        )?;
    }
    Ok(())
}

/// Chunks of ids for `IN` lists.
const CHUNK: usize = 500;

fn marks(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Load the stored values of the groups needed: one query per period and 500 units. (The
/// query may bring a few more groups, those of a slot needed at one unit and a unit needed for
/// another slot: they are stored values all the same.)
fn load_stored(
    c: &mut dyn Conn,
    needs: &FxSet<Group>,
    slot_ids: &[i64],
) -> Result<Stored, StoreError> {
    let mut stored = Stored::default();
    let mut by_period: BTreeMap<Period, (BTreeSet<u16>, BTreeSet<i64>)> = BTreeMap::new();
    for (s, u, p) in needs {
        let e = by_period.entry(*p).or_default();
        e.0.insert(*s);
        e.1.insert(*u);
    }
    let slot_of: FxMap<i64, u16> = slot_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as u16))
        .collect();
    for (period, (slots, units)) in by_period {
        let units: Vec<i64> = units.into_iter().collect();
        let inds: Vec<Val> = slots
            .iter()
            .map(|s| Val::Int(slot_ids[*s as usize]))
            .collect();
        let ptext = period.to_string();
        for chunk in units.chunks(CHUNK) {
            let mut p = vec![
                Val::Int(period.month_range().0 as i64),
                Val::from(ptext.as_str()),
            ];
            p.extend(inds.iter().cloned());
            p.extend(chunk.iter().map(|u| Val::Int(*u)));
            let sql = format!(
                "SELECT indicator_id, unit_id, disagg_id, value FROM data_value
                 WHERE month_start = $1 AND period = $2 AND indicator_id IN ({}) AND unit_id IN ({})",
                marks(3, inds.len()),
                marks(3 + inds.len(), chunk.len())
            );
            for r in c.query(&sql, &p)? {
                let Some(slot) = slot_of.get(&r.i64(0)).copied() else {
                    continue;
                };
                stored
                    .groups
                    .entry((slot, r.i64(1), period))
                    .or_default()
                    .push((r.i64(2), r.opt_f64(3)));
            }
        }
    }
    for v in stored.groups.values_mut() {
        v.sort_unstable_by_key(|x| x.0);
    }
    Ok(stored)
}

/// Codes of disaggregations by id.
fn disagg_codes(c: &mut dyn Conn, ids: &[i64]) -> Result<HashMap<i64, String>, StoreError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let p: Vec<Val> = chunk.iter().map(|i| Val::Int(*i)).collect();
        for r in c.query(
            &format!(
                "SELECT id, code FROM disaggregation WHERE id IN ({})",
                marks(1, p.len())
            ),
            &p,
        )? {
            out.insert(r.i64(0), r.str(1));
        }
    }
    Ok(out)
}

/// Ids of disaggregations by code (those stored).
fn disagg_ids(c: &mut dyn Conn, codes: &[String]) -> Result<HashMap<String, i64>, StoreError> {
    let mut out = HashMap::new();
    for chunk in codes.chunks(CHUNK) {
        let p: Vec<Val> = chunk.iter().map(Val::from).collect();
        for r in c.query(
            &format!(
                "SELECT code, id FROM disaggregation WHERE code IN ({})",
                marks(1, p.len())
            ),
            &p,
        )? {
            out.insert(r.str(0), r.i64(1));
        }
    }
    Ok(out)
}

/// Runs the rules over sorted entries (and the stored values they need).
struct Engine<'a> {
    rules: &'a [Prepared],
    nslots: usize,
    /// Dimensions of each disaggregation key, as bits.
    masks: &'a FxMap<i64, u8>,
    stored: &'a Stored,
    hits: Vec<Hit>,
    checks: u64,
}

impl Engine<'_> {
    fn judge(&mut self, ri: usize, vals: &[Option<f64>], at: (u32, i64, Period, Option<i64>)) {
        match self.rules[ri].rule.evaluate(vals) {
            Eval::Pass => self.checks += 1,
            Eval::Skipped => {}
            Eval::Fail { left, op, right } => {
                self.checks += 1;
                self.hits.push(Hit {
                    rule: ri as u32,
                    idx: at.0,
                    unit: at.1,
                    period: at.2,
                    disagg: at.3,
                    left,
                    op,
                    right,
                });
            }
        }
    }

    /// The total of one slot at a unit and period: the values given, and the stored values
    /// of the disaggregations not given, summed at the breakdown level with the fewest
    /// dimensions. Returns it with the first item index among the values given.
    fn total(&self, g: &[Entry], slot: u16) -> (Option<f64>, Option<u32>) {
        let mut sums = [0f64; 16];
        let mut seen: u16 = 0;
        let mut first: Option<u32> = None;
        let mut given: Vec<i64> = vec![];
        for e in g.iter().filter(|e| e.slot == slot) {
            first = Some(first.map_or(e.idx, |f| f.min(e.idx)));
            given.push(e.disagg);
            if let Some(v) = e.value {
                let m = self.masks.get(&e.disagg).copied().unwrap_or(0) as usize;
                sums[m] += v;
                seen |= 1 << m;
            }
        }
        if let Some(list) = self.stored.groups.get(&(slot, g[0].unit, g[0].period)) {
            for (d, v) in list {
                if let Some(v) = v
                    && !given.contains(d)
                {
                    let m = self.masks.get(d).copied().unwrap_or(0) as usize;
                    sums[m] += v;
                    seen |= 1 << m;
                }
            }
        }
        let best = (0..16usize)
            .filter(|m| seen & (1 << m) != 0)
            .min_by_key(|m| (m.count_ones(), *m));
        (best.map(|m| sums[m]), first)
    }

    fn run(&mut self, entries: &[Entry]) {
        let rules = self.rules;
        let mut present = vec![false; self.nslots];
        let mut vals: Vec<Option<f64>> = Vec::with_capacity(8);
        for g in groups(entries) {
            let (unit, period) = (g[0].unit, g[0].period);
            for e in g {
                present[e.slot as usize] = true;
            }
            for (ri, r) in rules.iter().enumerate() {
                if !r.slots.iter().any(|s| present[*s as usize]) {
                    continue;
                }
                match (r.rule.kind(), r.rule.mode()) {
                    (Kind::Bounds, _) => {
                        let (slot, only) = (r.slots[0], r.bounds_disagg);
                        for e in g {
                            if e.slot == slot && only.is_none_or(|d| d == e.disagg) {
                                self.judge(ri, &[e.value], (e.idx, unit, period, Some(e.disagg)));
                            }
                        }
                    }
                    (Kind::Compare, Mode::Same) => {
                        for cell in g.chunk_by(|a, b| a.disagg == b.disagg) {
                            let disagg = cell[0].disagg;
                            let mut first: Option<u32> = None;
                            vals.clear();
                            for s in &r.slots {
                                match cell.iter().find(|e| e.slot == *s) {
                                    Some(e) => {
                                        first = Some(first.map_or(e.idx, |f| f.min(e.idx)));
                                        vals.push(e.value);
                                    }
                                    None => vals.push(
                                        self.stored.get(&(*s, unit, period), disagg).flatten(),
                                    ),
                                }
                            }
                            if let Some(idx) = first {
                                self.judge(ri, &vals, (idx, unit, period, Some(disagg)));
                            }
                        }
                    }
                    (Kind::Compare, Mode::Total) => {
                        vals.clear();
                        let mut first: Option<u32> = None;
                        for s in &r.slots {
                            let (v, f) = self.total(g, *s);
                            vals.push(v);
                            if let Some(f) = f {
                                first = Some(first.map_or(f, |x| x.min(f)));
                            }
                        }
                        if let Some(idx) = first {
                            self.judge(ri, &vals, (idx, unit, period, None));
                        }
                    }
                }
            }
            for e in g {
                present[e.slot as usize] = false;
            }
        }
    }
}

/// Unit code, version and name by id.
fn unit_names(
    c: &mut dyn Conn,
    ids: &BTreeSet<i64>,
) -> Result<HashMap<i64, (String, String, String)>, StoreError> {
    let ids: Vec<i64> = ids.iter().copied().collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let p: Vec<Val> = chunk.iter().map(|i| Val::Int(*i)).collect();
        for r in c.query(
            &format!(
                "SELECT id, code, version, name FROM admin_unit WHERE id IN ({})",
                marks(1, p.len())
            ),
            &p,
        )? {
            out.insert(r.i64(0), (r.str(1), r.str(2), r.str(3)));
        }
    }
    Ok(out)
}

/// Hits made violations, with units and disaggregations named.
fn materialise(
    c: &mut dyn Conn,
    rules: &[Prepared],
    hits: &[Hit],
    disagg_code: &dyn Fn(i64) -> String,
) -> Result<Vec<Violation>, StoreError> {
    let units = unit_names(c, &hits.iter().map(|h| h.unit).collect())?;
    Ok(hits
        .iter()
        .map(|h| {
            let (code, version, name) = units.get(&h.unit).cloned().unwrap_or_default();
            Violation {
                check: rules[h.rule as usize].rule.violation(h.left, h.op, h.right),
                unit: code,
                unit_version: version,
                unit_name: name,
                period: h.period.to_string(),
                disaggregation: h.disagg.map(disagg_code),
                row: None,
                field: None,
            }
        })
        .collect())
}

// ------------------------------------------------------------------ imports

/// What the rules found in an import.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// The first violations in item order, with the index of the item that brought each up:
    /// the first [`MAX_LISTED`] of all and the first [`MAX_LISTED`] errors.
    listed: Vec<(usize, Violation)>,
    errors: u64,
    warnings: u64,
    checks: u64,
}

/// Run the rules on the values of an import about to be written, inside its transaction.
/// `Ok(Err(summary))`: the import is refused (mode `refuse` and a violation of importance
/// `error`), with each violation a conflict at the value that brought it up.
pub(crate) fn on_import(
    c: &mut dyn Conn,
    cat: &Catalogue,
    resolved: &[Checked],
    rows: u64,
    opts: &ImportOptions,
    locate: &dyn Fn(usize, FieldError) -> FieldError,
) -> Result<Result<Found, ImportSummary>, StoreError> {
    let t = std::time::Instant::now();
    let found = check_import(c, cat, resolved, opts)?;
    tracing::debug!(
        values = resolved.len(),
        checks = found.checks,
        errors = found.errors,
        warnings = found.warnings,
        ms = t.elapsed().as_secs_f64() * 1000.0,
        "validation rules checked"
    );
    if opts.validation != ValidationMode::Refuse || found.errors == 0 {
        return Ok(Ok(found));
    }
    let mut conflicts = vec![];
    for (i, v) in &found.listed {
        if v.check.importance != Importance::Error || conflicts.len() >= MAX_LISTED {
            continue;
        }
        let mut e = FieldError::new(
            crate::values::field::VALUE,
            format!(
                "validation rule {} ({}) fails at {}: {} / {}",
                v.check.rule,
                v.check.importance.as_str(),
                v.place(),
                v.check.message_en,
                v.check.message
            ),
        );
        if let Some(val) = &resolved[*i].value {
            e = e.value(val.text.clone());
        }
        conflicts.push(locate(*i, e));
    }
    let mut s = ImportSummary {
        status: "ERROR",
        description: format!(
            "{} value(s) fail validation rules of importance error: nothing was imported",
            found.errors
        ),
        import_count: ImportCount {
            ignored: rows,
            ..Default::default()
        },
        conflicts,
        conflict_count: found.errors,
        dry_run: opts.dry_run,
        rows,
        validation: vec![],
        validation_count: 0,
        validation_checks: 0,
        stale: vec![],
    };
    found.report(&mut s, locate);
    Ok(Err(s))
}

impl Found {
    /// Put the violations, located, into an import's summary.
    pub(crate) fn report(
        self,
        s: &mut ImportSummary,
        locate: &dyn Fn(usize, FieldError) -> FieldError,
    ) {
        s.validation_count = self.errors + self.warnings;
        s.validation_checks = self.checks;
        s.validation = self
            .listed
            .into_iter()
            .take(MAX_LISTED)
            .map(|(i, mut v)| {
                let at = locate(i, FieldError::new(crate::values::field::VALUE, ""));
                v.row = at.row;
                v.field = Some(at.field);
                v
            })
            .collect();
    }
}

fn check_import(
    c: &mut dyn Conn,
    cat: &Catalogue,
    resolved: &[Checked],
    opts: &ImportOptions,
) -> Result<Found, StoreError> {
    if opts.validation == ValidationMode::Off || resolved.is_empty() {
        return Ok(Found::default());
    }
    let mut written = HashSet::new(); // few: the import's indicators
    let mut last = None;
    for r in resolved {
        if last != Some(r.indicator_id) {
            written.insert(r.indicator_id);
            last = Some(r.indicator_id);
        }
    }
    let (mut rules, slot_ids) = prepare(
        c,
        &|code| cat.indicator(code).map(|(id, _)| *id),
        None,
        Some(&written),
    )?;
    if rules.is_empty() {
        return Ok(Found::default());
    }
    let slot_of: FxMap<i64, u16> = slot_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as u16))
        .collect();
    // the values the rules read, with their disaggregation's index in the catalogue for now
    let mut entries: Vec<Entry> = Vec::with_capacity(resolved.len());
    let mut used: Vec<bool> = vec![];
    for (i, r) in resolved.iter().enumerate() {
        let Some(slot) = slot_of.get(&r.indicator_id).copied() else {
            continue;
        };
        let d = r.disagg as usize;
        if used.len() <= d {
            used.resize(d + 1, false);
        }
        used[d] = true;
        entries.push(Entry {
            unit: r.unit_id,
            period: r.period,
            disagg: r.disagg as i64,
            slot,
            idx: i as u32,
            value: r.value.as_ref().and_then(|v| v.number),
        });
    }
    // disaggregation keys: the stored id, or minus one less the catalogue's index
    let batch_codes: Vec<(usize, String)> = used
        .iter()
        .enumerate()
        .filter(|(_, u)| **u)
        .map(|(i, _)| (i, cat.disagg_code(i as u32).to_string()))
        .collect();
    let mut wanted: Vec<String> = batch_codes.iter().map(|(_, c)| c.clone()).collect();
    wanted.extend(
        rules
            .iter()
            .filter_map(|r| r.rule.bounds_disaggregation().map(str::to_string)),
    );
    let ids = disagg_ids(c, &wanted)?;
    let mut key_of_index: Vec<i64> = vec![0; used.len()];
    let mut codes: HashMap<i64, String> = HashMap::new();
    let mut masks: FxMap<i64, u8> = FxMap::default();
    for (i, code) in &batch_codes {
        let key = ids.get(code).copied().unwrap_or(-(*i as i64) - 1);
        key_of_index[*i] = key;
        masks.insert(key, mask_of(code));
        codes.insert(key, code.clone());
    }
    let mut dead = vec![];
    for (ri, r) in rules.iter_mut().enumerate() {
        if let Some(code) = r.rule.bounds_disaggregation() {
            let key = ids.get(code).copied().or_else(|| {
                batch_codes
                    .iter()
                    .find(|(_, c)| c == code)
                    .map(|(i, _)| -(*i as i64) - 1)
            });
            match key {
                Some(k) => r.bounds_disagg = Some(k),
                // no value anywhere has this disaggregation
                None => dead.push(ri),
            }
        }
    }
    for ri in dead.into_iter().rev() {
        rules.remove(ri);
    }
    for e in &mut entries {
        e.disagg = key_of_index[e.disagg as usize];
    }
    sort_entries(&mut entries);
    lock_groups(c, &entries)?;

    let needs = needs(&rules, &entries, slot_ids.len(), opts.strategy);
    let stored = if needs.is_empty() {
        Stored::default()
    } else {
        load_stored(c, &needs, &slot_ids)?
    };
    let unknown: BTreeSet<i64> = stored
        .groups
        .values()
        .flatten()
        .map(|x| x.0)
        .filter(|d| !masks.contains_key(d))
        .collect();
    if !unknown.is_empty() {
        let ids: Vec<i64> = unknown.into_iter().collect();
        for (id, code) in disagg_codes(c, &ids)? {
            masks.insert(id, mask_of(&code));
            codes.insert(id, code);
        }
    }
    // what each value will be once written: a value the strategy leaves unwritten is the
    // stored one (or none)
    match opts.strategy {
        Strategy::Create => {
            for e in &mut entries {
                if let Some(v) = stored.get(&(e.slot, e.unit, e.period), e.disagg) {
                    e.value = v;
                }
            }
        }
        Strategy::Update => {
            for e in &mut entries {
                if stored.get(&(e.slot, e.unit, e.period), e.disagg).is_none() {
                    e.value = None;
                }
            }
        }
        Strategy::CreateAndUpdate | Strategy::Delete => {}
    }
    let mut engine = Engine {
        rules: &rules,
        nslots: slot_ids.len(),
        masks: &masks,
        stored: &stored,
        hits: vec![],
        checks: 0,
    };
    engine.run(&entries);
    let (mut hits, checks) = (engine.hits, engine.checks);
    let is_error = |h: &Hit| rules[h.rule as usize].rule.importance() == Importance::Error;
    let errors = hits.iter().filter(|h| is_error(h)).count() as u64;
    let warnings = hits.len() as u64 - errors;
    hits.sort_unstable_by_key(|h| (h.idx, h.rule));
    // the first MAX_LISTED of all, and the first MAX_LISTED errors
    let mut n_errors = 0;
    let picked: Vec<Hit> = hits
        .iter()
        .enumerate()
        .filter(|(i, h)| {
            let e = is_error(h);
            if e {
                n_errors += 1;
            }
            *i < MAX_LISTED || (e && n_errors <= MAX_LISTED)
        })
        .map(|(_, h)| *h)
        .collect();
    let code = |k: i64| codes.get(&k).cloned().unwrap_or_else(|| format!("#{k}"));
    let listed = materialise(c, &rules, &picked, &code)?;
    Ok(Found {
        listed: picked.iter().map(|h| h.idx as usize).zip(listed).collect(),
        errors,
        warnings,
        checks,
    })
}

// ------------------------------------------------------------------ the batch report

/// What the batch report covers.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    /// Unit codes (`CODE` in the current hierarchy, or `CODE@2024`).
    pub units: Vec<String>,
    /// Every unit below the given ones too.
    pub children: bool,
    pub periods: Vec<String>,
    /// Inclusive date range `YYYY-MM-DD`: values whose period lies inside it.
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    /// Only these rules (default: all).
    pub rules: Vec<String>,
    /// The reader's units (roots of their scope): `None` for everywhere; otherwise only
    /// values of units within them are checked.
    pub scope: Option<Vec<i64>>,
    /// Most violations listed (0: [`MAX_LISTED`]).
    pub limit: usize,
}

/// The outcome of the batch report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Violations by unit, period, rule and disaggregation (the first `limit`).
    pub violations: Vec<Violation>,
    /// Violations in all.
    pub count: u64,
    pub errors: u64,
    pub warnings: u64,
    /// Rule evaluations made.
    pub checks: u64,
    /// Values read.
    pub values: u64,
    /// Rules run.
    pub rules: Vec<String>,
}

/// Check the stored values of a unit subtree and period range against the rules.
pub fn report(c: &mut dyn Conn, f: &ReportFilter) -> Result<Report, StoreError> {
    if f.units.is_empty() {
        return Err(StoreError::invalid(FieldError::new(
            "ou",
            "name a unit (with children=true for everything below it)",
        )));
    }
    let all = list(c)?;
    let mut p = Problems::default();
    for r in &f.rules {
        if !all.iter().any(|d| &d.code == r) {
            p.push(FieldError::new("rule", "no validation rule has this code").value(r));
        }
    }
    if !p.is_empty() {
        return Err(StoreError::Invalid(p));
    }
    let catalogue: HashMap<String, i64> = crate::indicators::list(c)?
        .into_iter()
        .map(|(id, i)| (i.code, id))
        .collect();
    let codes = (!f.rules.is_empty()).then_some(f.rules.as_slice());
    let (mut rules, slot_ids) = prepare(c, &|code| catalogue.get(code).copied(), codes, None)?;
    let by_id: HashMap<i64, &String> = catalogue.iter().map(|(k, v)| (*v, k)).collect();
    let slot_codes: Vec<String> = slot_ids
        .iter()
        .filter_map(|id| by_id.get(id).map(|s| s.to_string()))
        .collect();
    let mut out = Report {
        violations: vec![],
        count: 0,
        errors: 0,
        warnings: 0,
        checks: 0,
        values: 0,
        rules: rules.iter().map(|r| r.rule.code().to_string()).collect(),
    };
    let vf = crate::values::ValueFilter {
        indicators: slot_codes.clone(),
        units: f.units.clone(),
        children: f.children,
        periods: f.periods.clone(),
        start_date: f.start_date.clone(),
        end_date: f.end_date.clone(),
        ..Default::default()
    };
    // checks the filter (unknown units, bad periods) even when no rule runs
    let (filter, mut params) = crate::values::where_clause(c, &vf)?;
    if rules.is_empty() {
        return Ok(out);
    }
    let mut sql = format!(
        "SELECT d.indicator_id, d.unit_id, d.period, d.disagg_id, d.value
         FROM data_value d JOIN indicator i ON i.id = d.indicator_id
         JOIN admin_unit u ON u.id = d.unit_id JOIN disaggregation g ON g.id = d.disagg_id
         WHERE {filter}"
    );
    if let Some(scope) = &f.scope {
        let (s, vals) = crate::accounts::scope_sql("d.unit_id", scope, params.len() + 1);
        sql.push_str(" AND ");
        sql.push_str(&s);
        params.extend(vals);
    }
    let slot_of: FxMap<i64, u16> = slot_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as u16))
        .collect();
    let mut periods: HashMap<String, Period> = HashMap::new();
    let mut entries = vec![];
    let mut disaggs = BTreeSet::new();
    for (n, r) in c.query(&sql, &params)?.iter().enumerate() {
        let Some(slot) = slot_of.get(&r.i64(0)).copied() else {
            continue;
        };
        let ptext = r.str(2);
        let period = match periods.get(&ptext) {
            Some(p) => *p,
            None => match ptext.parse::<Period>() {
                Ok(p) => {
                    periods.insert(ptext, p);
                    p
                }
                Err(_) => continue,
            },
        };
        disaggs.insert(r.i64(3));
        entries.push(Entry {
            unit: r.i64(1),
            period,
            disagg: r.i64(3),
            slot,
            idx: n as u32,
            value: r.opt_f64(4),
        });
    }
    out.values = entries.len() as u64;
    let ids: Vec<i64> = disaggs.into_iter().collect();
    let mut codes = disagg_codes(c, &ids)?;
    let masks: FxMap<i64, u8> = codes.iter().map(|(k, v)| (*k, mask_of(v))).collect();
    let wanted: Vec<String> = rules
        .iter()
        .filter_map(|r| r.rule.bounds_disaggregation().map(str::to_string))
        .collect();
    let named = disagg_ids(c, &wanted)?;
    // a bounds rule on a disaggregation nothing is stored under has nothing to check
    rules.retain_mut(|r| match r.rule.bounds_disaggregation() {
        None => true,
        Some(code) => match named.get(code) {
            Some(k) => {
                r.bounds_disagg = Some(*k);
                true
            }
            None => false,
        },
    });
    for (code, id) in named {
        codes.insert(id, code);
    }
    sort_entries(&mut entries);
    let stored = Stored::default();
    let mut engine = Engine {
        rules: &rules,
        nslots: slot_ids.len(),
        masks: &masks,
        stored: &stored,
        hits: vec![],
        checks: 0,
    };
    engine.run(&entries);
    let mut hits = engine.hits;
    out.checks = engine.checks;
    out.count = hits.len() as u64;
    out.errors = hits
        .iter()
        .filter(|h| rules[h.rule as usize].rule.importance() == Importance::Error)
        .count() as u64;
    out.warnings = out.count - out.errors;
    hits.sort_unstable_by_key(|h| (h.unit, h.period, h.rule, h.disagg));
    hits.truncate(if f.limit == 0 { MAX_LISTED } else { f.limit });
    let code = |k: i64| codes.get(&k).cloned().unwrap_or_else(|| format!("#{k}"));
    out.violations = materialise(c, &rules, &hits, &code)?;
    Ok(out)
}

/// The report as CSV (UTF-8 with a BOM, for Excel), one violation a row.
pub fn write_csv<W: Write>(out: W, r: &Report) -> std::io::Result<()> {
    let mut w = crate::csv_values::bom_writer(out)?;
    w.write_record([
        "unit",
        "unit_version",
        "unit_name",
        "period",
        "disaggregation",
        "rule",
        "rule_name",
        "importance",
        "left",
        "operator",
        "right",
        "message",
        "message_en",
    ])?;
    for v in &r.violations {
        w.write_record([
            v.unit.as_str(),
            &v.unit_version,
            &v.unit_name,
            &v.period,
            v.disaggregation.as_deref().unwrap_or(""),
            &v.check.rule,
            &v.check.rule_name,
            v.check.importance.as_str(),
            &dantoc_domain::value::fmt_num(v.check.left),
            v.check.operator.as_str(),
            &dantoc_domain::value::fmt_num(v.check.right),
            &v.check.message,
            &v.check.message_en,
        ])?;
    }
    w.flush()
}

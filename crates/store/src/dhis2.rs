//! DHIS2 UIDs of dantoc's items (table `dhis2_uid`): one UID per indicator (dataElement),
//! unit (orgUnit), disaggregation (categoryOptionCombo) and form (dataSet), and one item per
//! UID within a kind. Mappings are put all-or-nothing and audited; `dataValueSets` with
//! `idScheme=UID` translates through them, one query per kind for a whole import or export.
//! The default disaggregation has DHIS2's default UID (`HllvX50cXC0`) unless a mapping says
//! otherwise.

use crate::audit::{self, Actor};
use crate::db::{Conn, Val};
use crate::error::StoreError;
use crate::values::{RawValue, StoredValue, field};
use dantoc_domain::admin::{HierarchyVersion, split_unit_ref};
pub use dantoc_domain::dhis2::{DEFAULT_COC_UID, Kind, check_uid};
use dantoc_domain::dhis2::{IdScheme, IdSchemes};
use dantoc_domain::disagg::Disagg;
use dantoc_domain::text::clean;
use dantoc_domain::{FieldError, Problems};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::Read;

/// One mapping as stored. `code` is the indicator, unit (`CODE@2024` for a pre-2025 unit),
/// canonical disaggregation or form code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mapping {
    pub kind: Kind,
    pub code: String,
    pub uid: String,
    pub updated_at: String,
    pub updated_by: String,
}

/// One mapping as submitted, before any check.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingInput {
    pub kind: String,
    pub code: String,
    pub uid: String,
}

/// What a put did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PutCount {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// The fields of a [`MappingInput`], as errors name them (and CSV columns).
pub mod column {
    pub const KIND: &str = "kind";
    pub const CODE: &str = "code";
    pub const UID: &str = "uid";
}

/// Lists in SQL `IN (…)` go in chunks of at most this many keys, padded to a power of two so
/// that few distinct statements reach the engines' statement caches.
const CHUNK: usize = 4096;

/// `$first, …` for `keys`, padded by repeating the last key; with the padded parameters.
fn in_list(first: usize, keys: &[String]) -> (String, Vec<Val>) {
    let n = keys.len().next_power_of_two().max(8);
    let marks: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    let last = keys.last().cloned().unwrap_or_default();
    let vals = keys
        .iter()
        .cloned()
        .chain(std::iter::repeat(last))
        .take(n)
        .map(Val::Text)
        .collect();
    (marks.join(", "), vals)
}

/// A unit's code as written by people: `CODE` in the current hierarchy, else `CODE@VERSION`.
fn unit_display(code: &str, version: &str) -> String {
    if version == HierarchyVersion::CURRENT.as_str() {
        code.to_string()
    } else {
        format!("{code}@{version}")
    }
}

/// Every mapping, or those of one kind, by kind and code.
pub fn list(c: &mut dyn Conn, kind: Option<Kind>) -> Result<Vec<Mapping>, StoreError> {
    let rows = c.query(
        "SELECT m.kind, coalesce(i.code, u.code, m.code), u.version, m.uid, m.updated_at, m.updated_by
         FROM dhis2_uid m LEFT JOIN indicator i ON i.id = m.indicator_id
         LEFT JOIN admin_unit u ON u.id = m.unit_id
         WHERE $1 = '' OR m.kind = $1",
        &[Val::from(kind.map(Kind::as_str).unwrap_or(""))],
    )?;
    let mut out: Vec<Mapping> = rows
        .iter()
        .filter_map(|r| {
            let kind: Kind = r.str(0).parse().ok()?;
            let code = match r.opt_str(2) {
                Some(v) => unit_display(&r.str(1), &v),
                None => r.str(1),
            };
            Some(Mapping {
                kind,
                code,
                uid: r.str(3),
                updated_at: r.str(4),
                updated_by: r.str(5),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.kind, &a.code).cmp(&(b.kind, &b.code)));
    Ok(out)
}

/// UID → code for the UIDs of one kind that are mapped (units as `CODE@VERSION`, which
/// names one unit whatever the period). One query per [`CHUNK`] UIDs.
pub fn codes_of(
    c: &mut dyn Conn,
    kind: Kind,
    uids: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    let mut out = HashMap::new();
    for chunk in uids.chunks(CHUNK) {
        let (marks, mut p) = in_list(2, chunk);
        p.insert(0, Val::from(kind.as_str()));
        let sql = format!(
            "SELECT m.uid, coalesce(i.code, u.code, m.code), u.version
             FROM dhis2_uid m LEFT JOIN indicator i ON i.id = m.indicator_id
             LEFT JOIN admin_unit u ON u.id = m.unit_id
             WHERE m.kind = $1 AND m.uid IN ({marks})"
        );
        for r in c.query(&sql, &p)? {
            let code = match r.opt_str(2) {
                Some(v) => format!("{}@{v}", r.str(1)),
                None => r.str(1),
            };
            out.insert(r.str(0), code);
        }
    }
    if kind == Kind::Disaggregation
        && uids.iter().any(|u| u == DEFAULT_COC_UID)
        && !out.contains_key(DEFAULT_COC_UID)
    {
        out.insert(DEFAULT_COC_UID.into(), Disagg::DEFAULT_CODE.into());
    }
    Ok(out)
}

/// Code → UID for the codes of one kind that have one (units as `CODE@VERSION`,
/// disaggregations canonical). One query per [`CHUNK`] codes.
pub fn uids_of(
    c: &mut dyn Conn,
    kind: Kind,
    codes: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    let mut out = HashMap::new();
    let mut default_taken = false;
    let keys: Vec<String> = match kind {
        // units are looked up by code, then matched by version
        Kind::Unit => {
            let mut k: Vec<String> = codes
                .iter()
                .map(|c| c.split('@').next().unwrap_or_default().to_string())
                .collect();
            k.sort();
            k.dedup();
            k
        }
        _ => codes.to_vec(),
    };
    let wanted: HashSet<&str> = codes.iter().map(String::as_str).collect();
    for chunk in keys.chunks(CHUNK) {
        let (marks, p) = in_list(1, chunk);
        let sql = match kind {
            Kind::Indicator => format!(
                "SELECT i.code, m.uid FROM indicator i
                 JOIN dhis2_uid m ON m.kind = 'indicator' AND m.indicator_id = i.id
                 WHERE i.code IN ({marks})"
            ),
            Kind::Unit => format!(
                "SELECT u.code || '@' || u.version, m.uid FROM admin_unit u
                 JOIN dhis2_uid m ON m.kind = 'unit' AND m.unit_id = u.id
                 WHERE u.code IN ({marks})"
            ),
            Kind::Disaggregation => format!(
                "SELECT code, uid FROM dhis2_uid
                 WHERE kind = 'disaggregation' AND (code IN ({marks}) OR uid = '{DEFAULT_COC_UID}')"
            ),
            Kind::Form => {
                format!("SELECT code, uid FROM dhis2_uid WHERE kind = 'form' AND code IN ({marks})")
            }
        };
        for r in c.query(&sql, &p)? {
            let (code, uid) = (r.str(0), r.str(1));
            default_taken |= uid == DEFAULT_COC_UID;
            if wanted.contains(code.as_str()) {
                out.insert(code, uid);
            }
        }
    }
    if kind == Kind::Disaggregation
        && wanted.contains(Disagg::DEFAULT_CODE)
        && !out.contains_key(Disagg::DEFAULT_CODE)
        && !default_taken
    {
        out.insert(Disagg::DEFAULT_CODE.into(), DEFAULT_COC_UID.into());
    }
    Ok(out)
}

/// What a mapping names: an indicator or unit by id, a disaggregation or form by code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Item {
    Id(i64),
    Code(String),
}

/// A checked mapping of a put.
struct Checked {
    index: usize,
    kind: Kind,
    item: Item,
    /// As people write it, for messages and the audit log.
    code: String,
    uid: String,
}

/// Where item `j` is, for a message about another item.
fn place(locate: &dyn Fn(usize, FieldError) -> FieldError, j: usize) -> String {
    match locate(j, FieldError::new("", "")).row {
        Some(r) => format!("row {r}"),
        None => format!("item {j}"),
    }
}

/// Create or replace mappings, all or nothing: every problem is returned, located by
/// `locate` (the item's index and a [`column`] as field), and nothing changes. A mapping
/// replaces the UID its item had; a UID another item holds may be taken only when that item
/// gets another UID in the same put (a swap). Units outside `allowed` (when given) are
/// refused. Each change is audited (one entry per mapping, or one entry listing them all when
/// more than 100 change).
pub fn put(
    c: &mut dyn Conn,
    actor: &Actor,
    items: &[MappingInput],
    allowed: Option<&HashSet<i64>>,
    what: &str,
    locate: &dyn Fn(usize, FieldError) -> FieldError,
) -> Result<PutCount, StoreError> {
    // problems with the index of their item: reported in item order
    let mut problems: Vec<(usize, FieldError)> = vec![];
    let mut fail = |i: usize, e: FieldError| problems.push((i, e));

    // kinds, UIDs and the codes each kind needs looked up
    let mut parsed: Vec<(usize, Kind, String, String)> = vec![];
    let (mut ind_codes, mut unit_codes) = (vec![], vec![]);
    for (i, it) in items.iter().enumerate() {
        let kind = match it.kind.parse::<Kind>() {
            Ok(k) => k,
            Err(e) => {
                fail(i, FieldError::new(column::KIND, e).value(&it.kind));
                continue;
            }
        };
        let uid = it.uid.trim();
        if let Err(e) = check_uid(uid) {
            fail(i, FieldError::new(column::UID, e).value(uid));
            continue;
        }
        let code = clean(&it.code);
        if code.is_empty() {
            fail(i, FieldError::new(column::CODE, "required"));
            continue;
        }
        match kind {
            Kind::Indicator => ind_codes.push(code.clone()),
            Kind::Unit => unit_codes.push(
                split_unit_ref(&code)
                    .map(|(k, _)| k.to_string())
                    .unwrap_or_default(),
            ),
            _ => {}
        }
        parsed.push((i, kind, code, uid.to_string()));
    }
    let indicators = ids_by_code(
        c,
        "SELECT code, id, CAST('' AS TEXT) FROM indicator",
        &ind_codes,
    )?;
    let units = ids_by_code(c, "SELECT code, id, version FROM admin_unit", &unit_codes)?;
    let ethnic: HashSet<String> = c
        .query("SELECT code_2008 FROM ethnic_group", &[])?
        .iter()
        .map(|r| r.str(0))
        .collect();
    let forms: HashSet<String> = c
        .query("SELECT code FROM form", &[])?
        .iter()
        .map(|r| r.str(0))
        .collect();

    // each code resolved to its item
    let mut checked: Vec<Checked> = vec![];
    for (i, kind, code, uid) in parsed {
        let item = match kind {
            Kind::Indicator => match indicators.get(&(code.clone(), String::new())) {
                Some(id) => Ok((Item::Id(*id), code.clone())),
                None => Err("no indicator has this code".to_string()),
            },
            Kind::Unit => match split_unit_ref(&code) {
                Err(e) => Err(e),
                Ok((k, v)) => {
                    let v = v.unwrap_or(HierarchyVersion::CURRENT);
                    match units.get(&(k.to_string(), v.as_str().to_string())) {
                        None => Err(format!(
                            "no administrative unit has this code in the {v} hierarchy"
                        )),
                        Some(id) if allowed.is_some_and(|a| !a.contains(id)) => {
                            Err("this unit is outside your administrative units".to_string())
                        }
                        Some(id) => Ok((Item::Id(*id), unit_display(k, v.as_str()))),
                    }
                }
            },
            Kind::Disaggregation => match code.parse::<Disagg>() {
                Err(e) => Err(e),
                Ok(d) => match &d.ethnic {
                    Some(e) if !ethnic.contains(e) => Err(format!("no ethnic group has code {e}")),
                    _ => Ok((Item::Code(d.code()), d.code())),
                },
            },
            Kind::Form if !forms.contains(&code) => Err("no reporting form has this code".into()),
            Kind::Form => Ok((Item::Code(code.clone()), code.clone())),
        };
        match item {
            Ok((item, code)) => checked.push(Checked {
                index: i,
                kind,
                item,
                code,
                uid,
            }),
            Err(e) => fail(i, FieldError::new(column::CODE, e).value(&code)),
        }
    }

    // within the put: an item twice with different UIDs, a UID for two items
    let mut by_item: HashMap<(Kind, &Item), (usize, &str)> = HashMap::new();
    let mut by_uid: HashMap<(Kind, &str), (usize, &Item)> = HashMap::new();
    let mut repeated = vec![false; checked.len()];
    for (n, m) in checked.iter().enumerate() {
        if let Some((j, u)) = by_item.get(&(m.kind, &m.item)) {
            if *u == m.uid {
                repeated[n] = true;
            } else {
                fail(
                    m.index,
                    FieldError::new(
                        column::CODE,
                        format!(
                            "this {} is given another UID at {}: one UID per item",
                            m.kind.as_str(),
                            place(locate, *j)
                        ),
                    )
                    .value(&m.code),
                );
            }
            continue;
        }
        if let Some((j, _)) = by_uid.get(&(m.kind, m.uid.as_str())) {
            fail(
                m.index,
                FieldError::new(
                    column::UID,
                    format!(
                        "this UID is given to another {} at {}: one {} per UID",
                        m.kind.as_str(),
                        place(locate, *j),
                        m.kind.as_str()
                    ),
                )
                .value(&m.uid),
            );
            continue;
        }
        by_item.insert((m.kind, &m.item), (m.index, &m.uid));
        by_uid.insert((m.kind, &m.uid), (m.index, &m.item));
    }

    // against what is stored: one query per kind in the put
    let kinds: HashSet<Kind> = checked.iter().map(|m| m.kind).collect();
    let mut stored_uid: HashMap<(Kind, Item), String> = HashMap::new();
    let mut stored_item: HashMap<(Kind, String), (Item, String)> = HashMap::new();
    for k in Kind::ALL.into_iter().filter(|k| kinds.contains(k)) {
        for r in c.query(
            "SELECT m.uid, m.indicator_id, m.unit_id, m.code, coalesce(i.code, u.code, m.code), u.version
             FROM dhis2_uid m LEFT JOIN indicator i ON i.id = m.indicator_id
             LEFT JOIN admin_unit u ON u.id = m.unit_id WHERE m.kind = $1",
            &[Val::from(k.as_str())],
        )? {
            let item = match (r.opt_i64(1), r.opt_i64(2)) {
                (Some(id), _) | (None, Some(id)) => Item::Id(id),
                _ => Item::Code(r.str(3)),
            };
            let shown = match r.opt_str(5) {
                Some(v) => unit_display(&r.str(4), &v),
                None => r.str(4),
            };
            stored_uid.insert((k, item.clone()), r.str(0));
            stored_item.insert((k, r.str(0)), (item, shown));
        }
    }
    for (n, m) in checked.iter().enumerate() {
        if repeated[n] {
            continue;
        }
        if let Some((holder, shown)) = stored_item.get(&(m.kind, m.uid.clone()))
            && *holder != m.item
            && !by_item.contains_key(&(m.kind, holder))
        {
            fail(
                m.index,
                FieldError::new(
                    column::UID,
                    format!(
                        "this UID already names {} {shown}: give that one another UID in the same request to swap them",
                        m.kind.as_str()
                    ),
                )
                .value(&m.uid),
            );
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|(i, _)| *i);
        return Err(StoreError::Invalid(Problems(
            problems.into_iter().map(|(i, e)| locate(i, e)).collect(),
        )));
    }

    // write: the changed items lose their old UIDs first, so that swaps go through
    let mut count = PutCount::default();
    let mut changes: Vec<(&Checked, Option<&String>)> = vec![];
    for (n, m) in checked.iter().enumerate() {
        if repeated[n] {
            continue;
        }
        match stored_uid.get(&(m.kind, m.item.clone())) {
            Some(u) if *u == m.uid => count.unchanged += 1,
            before => changes.push((m, before)),
        }
    }
    for (m, before) in &changes {
        if let Some(u) = before {
            c.execute(
                "DELETE FROM dhis2_uid WHERE kind = $1 AND uid = $2",
                &[Val::from(m.kind.as_str()), Val::from(u.as_str())],
            )?;
        }
    }
    let now = crate::clock::now();
    for (m, before) in &changes {
        let (ind, unit, code) = match (m.kind, &m.item) {
            (Kind::Indicator, Item::Id(id)) => (Val::Int(*id), Val::Null, Val::Null),
            (Kind::Unit, Item::Id(id)) => (Val::Null, Val::Int(*id), Val::Null),
            (_, Item::Code(code)) => (Val::Null, Val::Null, Val::from(code.as_str())),
            (_, Item::Id(_)) => return Err(StoreError::Db("a mapping of the wrong shape".into())),
        };
        c.execute(
            "INSERT INTO dhis2_uid (kind, uid, indicator_id, unit_id, code, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Val::from(m.kind.as_str()),
                Val::from(m.uid.as_str()),
                ind,
                unit,
                code,
                Val::from(now.as_str()),
                Val::from(actor.name.as_str()),
            ],
        )?;
        if before.is_some() {
            count.updated += 1;
        } else {
            count.created += 1;
        }
    }
    if changes.len() <= 100 {
        for (m, before) in &changes {
            audit::record(
                c,
                actor,
                if before.is_some() { "update" } else { "create" },
                "dhis2_uid",
                &format!("{}/{}", m.kind.as_str(), m.code),
                before.map(|u| serde_json::json!({ "uid": u })).as_ref(),
                Some(&serde_json::json!({ "uid": m.uid })),
            )?;
        }
    } else {
        let list: Vec<serde_json::Value> = changes
            .iter()
            .map(|(m, before)| serde_json::json!([m.kind.as_str(), m.code, before, m.uid]))
            .collect();
        let after = serde_json::json!({
            "what": what, "count": count, "changes (kind, code, before, after)": list
        });
        audit::record(c, actor, "import", "dhis2_uid", what, None, Some(&after))?;
    }
    Ok(count)
}

/// Remove the mapping of one item (`kind` in dantoc's or DHIS2's name, `code` as in [`put`]):
/// the item keeps its code and loses its UID, and the UID is free for another item. Units
/// outside `allowed` (when given) are refused as in [`put`]. Audited with the UID it had.
/// Returns the mapping removed; `NotFound` when the item has no UID stored (a disaggregation's
/// DHIS2 default is not stored, so it cannot be removed).
pub fn delete(
    c: &mut dyn Conn,
    actor: &Actor,
    kind: &str,
    code: &str,
    allowed: Option<&HashSet<i64>>,
) -> Result<Mapping, StoreError> {
    let kind: Kind = kind
        .parse()
        .map_err(|e: String| StoreError::invalid(FieldError::new(column::KIND, e).value(kind)))?;
    let code = clean(code);
    let bad = |e: String| StoreError::invalid(FieldError::new(column::CODE, e).value(&code));
    if code.is_empty() {
        return Err(bad("required".into()));
    }
    // the item, as `put` names it: (column, key, the code shown)
    let (column, key, shown) = match kind {
        Kind::Indicator => {
            let id = c
                .query_one(
                    "SELECT id FROM indicator WHERE code = $1",
                    &[Val::from(code.as_str())],
                )?
                .map(|r| r.i64(0))
                .ok_or_else(|| bad("no indicator has this code".into()))?;
            ("indicator_id", Val::Int(id), code.clone())
        }
        Kind::Unit => {
            let (k, v) = split_unit_ref(&code).map_err(bad)?;
            let v = v.unwrap_or(HierarchyVersion::CURRENT);
            let id = c
                .query_one(
                    "SELECT id FROM admin_unit WHERE code = $1 AND version = $2",
                    &[Val::from(k), Val::from(v.as_str())],
                )?
                .map(|r| r.i64(0))
                .ok_or_else(|| {
                    bad(format!(
                        "no administrative unit has this code in the {v} hierarchy"
                    ))
                })?;
            if allowed.is_some_and(|a| !a.contains(&id)) {
                return Err(StoreError::Forbidden(
                    "this unit is outside your administrative units".into(),
                ));
            }
            ("unit_id", Val::Int(id), unit_display(k, v.as_str()))
        }
        Kind::Disaggregation => {
            let d = code.parse::<Disagg>().map_err(bad)?.code();
            ("code", Val::from(d.as_str()), d)
        }
        Kind::Form => ("code", Val::from(code.as_str()), code.clone()),
    };
    let uid = c
        .query_one(
            &format!("SELECT uid FROM dhis2_uid WHERE kind = $1 AND {column} = $2"),
            &[Val::from(kind.as_str()), key.clone()],
        )?
        .map(|r| r.str(0))
        .ok_or_else(|| {
            StoreError::NotFound(format!("{} {shown} has no DHIS2 UID stored", kind.as_str()))
        })?;
    c.execute(
        "DELETE FROM dhis2_uid WHERE kind = $1 AND uid = $2",
        &[Val::from(kind.as_str()), Val::from(uid.as_str())],
    )?;
    audit::record(
        c,
        actor,
        "delete",
        "dhis2_uid",
        &format!("{}/{shown}", kind.as_str()),
        Some(&serde_json::json!({ "uid": uid })),
        None,
    )?;
    Ok(Mapping {
        kind,
        code: shown,
        uid,
        updated_at: crate::clock::now(),
        updated_by: actor.name.clone(),
    })
}

/// `(code, version) → id` for the rows of `select` (code, id, version) whose code is listed.
fn ids_by_code(
    c: &mut dyn Conn,
    select: &str,
    codes: &[String],
) -> Result<HashMap<(String, String), i64>, StoreError> {
    let mut codes = codes.to_vec();
    codes.sort();
    codes.dedup();
    let mut out = HashMap::new();
    for chunk in codes.chunks(CHUNK) {
        let (marks, p) = in_list(1, chunk);
        for r in c.query(&format!("{select} WHERE code IN ({marks})"), &p)? {
            out.insert((r.str(0), r.str(2)), r.i64(1));
        }
    }
    Ok(out)
}

/// Read mappings from CSV: columns `kind`, `code`, `uid` (any order; other columns are
/// ignored), UTF-8 with or without BOM. Returns the mappings with the row of each, and a
/// locator that turns an item's error into one at its row and column.
pub fn read_csv<R: Read>(input: R) -> Result<(Vec<MappingInput>, CsvLocator), StoreError> {
    let t = crate::csv_reference::Table::read(input, &[column::KIND, column::CODE, column::UID])?;
    let get = |rec: &HashMap<String, String>, k: &str| rec.get(k).cloned().unwrap_or_default();
    let items = t
        .rows
        .iter()
        .map(|(_, rec)| MappingInput {
            kind: get(rec, column::KIND),
            code: get(rec, column::CODE),
            uid: get(rec, column::UID),
        })
        .collect();
    let rows = t.rows.iter().map(|(r, _)| *r).collect();
    Ok((items, CsvLocator { table: t, rows }))
}

/// Locates the errors of items read by [`read_csv`] at their row and column.
pub struct CsvLocator {
    table: crate::csv_reference::Table,
    rows: Vec<u64>,
}

impl CsvLocator {
    pub fn locate(&self, i: usize, e: FieldError) -> FieldError {
        let row = self.rows.get(i).copied().unwrap_or(0);
        self.table.locate(row, e)
    }
}

/// The values of a `dataValueSets` import with UIDs translated to codes where the schemes
/// say UID.
pub struct Translated {
    /// Each value, or why its UID is not one or not known (field named as in
    /// [`crate::values::field`]).
    pub items: Vec<Result<RawValue, FieldError>>,
    /// The form code the set's `dataSet` names, or why not.
    pub data_set: Option<Result<String, FieldError>>,
    /// code → UID of every translated item, per kind (to name the UID in later messages).
    pub uids: HashMap<(Kind, String), String>,
}

fn value_field(k: Kind) -> &'static str {
    match k {
        Kind::Indicator => field::INDICATOR,
        Kind::Unit => field::UNIT,
        Kind::Disaggregation => field::DISAGG,
        Kind::Form => "dataSet",
    }
}

fn raw_field(r: &mut RawValue, k: Kind) -> &mut String {
    match k {
        Kind::Indicator => &mut r.indicator,
        Kind::Unit => &mut r.unit,
        // a dataSet is the set's, not a value's
        Kind::Disaggregation | Kind::Form => &mut r.disagg,
    }
}

fn raw_text(r: &RawValue, k: Kind) -> &str {
    match k {
        Kind::Indicator => &r.indicator,
        Kind::Unit => &r.unit,
        Kind::Disaggregation | Kind::Form => &r.disagg,
    }
}

fn unknown_uid(k: Kind, uid: &str) -> FieldError {
    let e = match check_uid(uid) {
        Err(e) => e,
        Ok(()) => format!(
            "no {} has this DHIS2 UID (the {} id scheme is UID): map it first with PUT /api/dhis2/uids",
            k.as_str(),
            k.dhis2_name()
        ),
    };
    FieldError::new(value_field(k), e).value(uid)
}

/// Translate the UIDs of a `dataValueSets` import to codes, per the schemes: one query per
/// kind. An empty field stays empty (the import's checks name it); an unknown UID makes its
/// value an error.
pub fn translate_import(
    c: &mut dyn Conn,
    schemes: &IdSchemes,
    data_set: Option<&str>,
    raws: Vec<RawValue>,
) -> Result<Translated, StoreError> {
    let kinds: Vec<Kind> = [Kind::Indicator, Kind::Unit, Kind::Disaggregation]
        .into_iter()
        .filter(|k| schemes.of(*k) == IdScheme::Uid)
        .collect();
    let mut maps: HashMap<Kind, HashMap<String, String>> = HashMap::new();
    let mut uids: HashMap<(Kind, String), String> = HashMap::new();
    for &k in &kinds {
        // values come in runs of one item (a file repeats a unit over many rows)
        let mut distinct: HashSet<&str> = HashSet::new();
        let mut last = None;
        for r in &raws {
            let t = raw_text(r, k).trim();
            if last != Some(t) {
                distinct.insert(t);
                last = Some(t);
            }
        }
        let mut wanted: Vec<String> = distinct
            .into_iter()
            .filter(|u| check_uid(u).is_ok())
            .map(str::to_string)
            .collect();
        wanted.sort();
        let m = codes_of(c, k, &wanted)?;
        for (u, code) in &m {
            uids.insert((k, code.clone()), u.clone());
        }
        maps.insert(k, m);
    }
    let items = raws
        .into_iter()
        .map(|mut r| {
            for &k in &kinds {
                let f = raw_field(&mut r, k);
                let uid = f.trim();
                if uid.is_empty() {
                    continue;
                }
                match maps.get(&k).and_then(|m| m.get(uid)) {
                    Some(code) => *f = code.clone(),
                    None => return Err(unknown_uid(k, uid)),
                }
            }
            Ok(r)
        })
        .collect();
    let data_set = match data_set.map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) if schemes.of(Kind::Form) == IdScheme::Code => Some(Ok(d.to_string())),
        Some(d) => {
            let m = if check_uid(d).is_ok() {
                codes_of(c, Kind::Form, &[d.to_string()])?
            } else {
                HashMap::new()
            };
            Some(m.get(d).cloned().ok_or_else(|| unknown_uid(Kind::Form, d)))
        }
    };
    Ok(Translated {
        items,
        data_set,
        uids,
    })
}

/// Codes for the UIDs of a filter (`dataElement=…&orgUnit=…` with UIDs); every UID that is
/// not one or is not mapped is a problem named by `param`.
pub fn codes_for_filter(
    c: &mut dyn Conn,
    kind: Kind,
    param: &str,
    uids: &[String],
) -> Result<Vec<String>, StoreError> {
    let m = codes_of(c, kind, uids)?;
    let mut problems = Problems::default();
    let mut out = vec![];
    for u in uids {
        match m.get(u) {
            Some(code) => out.push(code.clone()),
            None => {
                let e = unknown_uid(kind, u);
                problems.push(FieldError {
                    field: param.into(),
                    ..e
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(StoreError::Invalid(problems))
    }
}

/// How the items of an export are written: code → UID for each kind whose scheme is UID.
pub struct ExportIds {
    maps: HashMap<Kind, HashMap<String, String>>,
    /// Items of the export that have no UID, in order of first appearance (the first 20).
    pub unmapped: Vec<FieldError>,
    pub unmapped_count: usize,
}

/// How many unmapped items an export names.
const UNMAPPED_SHOWN: usize = 20;

impl ExportIds {
    /// The identifier to write for `code` of `kind` (the code itself under CODE).
    pub fn id<'a>(&'a self, kind: Kind, code: &'a str) -> &'a str {
        match self.maps.get(&kind) {
            Some(m) => m.get(code).map(String::as_str).unwrap_or(code),
            None => code,
        }
    }
}

/// The code of a stored value's item of `kind` as the mapping keys it.
fn export_key(v: &StoredValue, kind: Kind) -> String {
    match kind {
        Kind::Indicator => v.indicator.clone(),
        Kind::Unit => format!("{}@{}", v.unit, v.unit_version),
        _ => v.disagg.clone(),
    }
}

/// What identifies a stored value's item of `kind`, borrowed.
fn export_item(v: &StoredValue, kind: Kind) -> (&str, &str) {
    match kind {
        Kind::Indicator => (&v.indicator, ""),
        Kind::Unit => (&v.unit, &v.unit_version),
        _ => (&v.disagg, ""),
    }
}

/// The UIDs an export needs (one query per kind), and the items that have none.
pub fn export_ids(
    c: &mut dyn Conn,
    schemes: &IdSchemes,
    values: &[StoredValue],
) -> Result<ExportIds, StoreError> {
    let mut out = ExportIds {
        maps: HashMap::new(),
        unmapped: vec![],
        unmapped_count: 0,
    };
    let kinds: Vec<Kind> = [Kind::Indicator, Kind::Unit, Kind::Disaggregation]
        .into_iter()
        .filter(|k| schemes.of(*k) == IdScheme::Uid)
        .collect();
    // distinct items first, in order of appearance: one key per item, not per value; one pass
    // over the values (they are many and large: reading them is what costs)
    let mut seen: Vec<HashSet<(&str, &str)>> = vec![HashSet::new(); kinds.len()];
    let mut last: Vec<Option<(&str, &str)>> = vec![None; kinds.len()];
    let mut distinct: Vec<Vec<String>> = vec![vec![]; kinds.len()];
    for v in values {
        for (n, &k) in kinds.iter().enumerate() {
            let item = export_item(v, k);
            // an export comes in runs of one indicator and unit
            if last[n] != Some(item) {
                last[n] = Some(item);
                if seen[n].insert(item) {
                    distinct[n].push(export_key(v, k));
                }
            }
        }
    }
    for (k, codes) in kinds.into_iter().zip(distinct) {
        let m = uids_of(c, k, &codes)?;
        for code in &codes {
            if !m.contains_key(code) {
                out.unmapped_count += 1;
                if out.unmapped.len() < UNMAPPED_SHOWN {
                    let shown = match (k, split_unit_ref(code)) {
                        (Kind::Unit, Ok((u, Some(v)))) => unit_display(u, v.as_str()),
                        _ => code.clone(),
                    };
                    out.unmapped.push(
                        FieldError::new(
                            k.dhis2_name(),
                            format!("{} {shown} has no DHIS2 UID", k.as_str()),
                        )
                        .value(shown),
                    );
                }
            }
        }
        out.maps.insert(k, m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    fn m(kind: &str, code: &str, uid: &str) -> MappingInput {
        MappingInput {
            kind: kind.into(),
            code: code.into(),
            uid: uid.into(),
        }
    }

    fn at(i: usize, e: FieldError) -> FieldError {
        FieldError {
            field: format!("[{i}].{}", e.field),
            ..e
        }
    }

    fn put_all(db: &TestDb, items: &[MappingInput]) -> Result<PutCount, StoreError> {
        db.write(|c| put(c, &Actor::system(), items, None, "test", &at))
    }

    fn problems(r: Result<PutCount, StoreError>) -> Vec<(String, String)> {
        match r {
            Err(StoreError::Invalid(p)) => {
                p.0.into_iter()
                    .map(|e| (e.field, e.value.unwrap_or_default()))
                    .collect()
            }
            other => panic!("expected problems, got {other:?}"),
        }
    }

    /// A mapping removed: the UID no longer translates, is free for another item, and the
    /// removal is audited with the UID it had; a unit outside the writer's units is refused
    /// and a mapping not stored is not found.
    fn mappings_are_deleted_one_by_one_and_audited(db: &TestDb) {
        put_all(
            db,
            &[
                m("indicator", "0101", "deAAAAAAAA1"),
                m("unit", "06877@2024", "ouAAAAAAAA1"),
                m("disaggregation", "E09.F", "cocAAAAAAA1"),
                m("form", "BM-DTTS-01", "dsAAAAAAAA1"),
            ],
        )
        .unwrap();
        let del = |kind: &str, code: &str, allowed: Option<&HashSet<i64>>| {
            db.write(|c| delete(c, &Actor::system(), kind, code, allowed))
        };
        // DHIS2's name of the kind; a unit of the earlier hierarchy by CODE@2024
        let gone = del("dataElement", "0101", None).unwrap();
        assert_eq!(
            (gone.kind, gone.code.as_str(), gone.uid.as_str()),
            (Kind::Indicator, "0101", "deAAAAAAAA1")
        );
        assert!(
            db.read(|c| codes_of(c, Kind::Indicator, &["deAAAAAAAA1".into()]))
                .unwrap()
                .is_empty(),
            "the UID no longer translates"
        );
        // the UID is free for another item
        put_all(db, &[m("indicator", "x-cnscd-to", "deAAAAAAAA1")]).unwrap();
        // outside the writer's units: refused, and kept
        let none: HashSet<i64> = HashSet::new();
        let e = del("orgUnit", "06877@2024", Some(&none)).unwrap_err();
        assert!(matches!(e, StoreError::Forbidden(_)), "{e}");
        assert_eq!(del("unit", "06877@2024", None).unwrap().uid, "ouAAAAAAAA1");
        assert_eq!(
            del("categoryOptionCombo", "E09.F", None).unwrap().uid,
            "cocAAAAAAA1"
        );
        assert_eq!(
            del("dataSet", "BM-DTTS-01", None).unwrap().uid,
            "dsAAAAAAAA1"
        );
        // nothing stored, or no such item
        assert!(matches!(
            del("form", "BM-DTTS-01", None),
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            del("unit", "99999", None),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            del("village", "22", None),
            Err(StoreError::Invalid(_))
        ));
        let left: Vec<(Kind, String)> = db
            .read(|c| list(c, None))
            .unwrap()
            .into_iter()
            .map(|m| (m.kind, m.code))
            .collect();
        assert_eq!(left, vec![(Kind::Indicator, "x-cnscd-to".to_string())]);
        let log = db.read(|c| crate::audit::recent(c, 50)).unwrap();
        let e = log
            .iter()
            .find(|e| {
                e.entity == "dhis2_uid" && e.entity_key == "unit/06877@2024" && e.action == "delete"
            })
            .expect("audited");
        assert_eq!(e.before, Some(serde_json::json!({"uid": "ouAAAAAAAA1"})));
        assert_eq!(e.after, None);
    }

    mod sqlite {
        #[test]
        fn mappings_are_deleted_one_by_one_and_audited() {
            super::mappings_are_deleted_one_by_one_and_audited(&crate::testing::TestDb::sqlite());
        }
        #[test]
        fn mappings_put_replace_swap_and_refuse() {
            super::mappings_put_replace_swap_and_refuse(&crate::testing::TestDb::sqlite());
        }
        #[test]
        fn lookups_both_ways_with_the_default() {
            super::lookups_both_ways_with_the_default(&crate::testing::TestDb::sqlite());
        }
    }
    mod postgres {
        #[test]
        fn mappings_are_deleted_one_by_one_and_audited() {
            super::mappings_are_deleted_one_by_one_and_audited(&crate::testing::TestDb::postgres());
        }
        #[test]
        fn mappings_put_replace_swap_and_refuse() {
            super::mappings_put_replace_swap_and_refuse(&crate::testing::TestDb::postgres());
        }
        #[test]
        fn lookups_both_ways_with_the_default() {
            super::lookups_both_ways_with_the_default(&crate::testing::TestDb::postgres());
        }
    }

    fn mappings_put_replace_swap_and_refuse(db: &TestDb) {
        let c = put_all(
            db,
            &[
                m("indicator", "0101", "deAAAAAAAA1"),
                m("dataElement", "x-cnscd-to", "deAAAAAAAA2"),
                m("orgUnit", "06877@2024", "ouAAAAAAAA1"),
                m("unit", "22", "ouAAAAAAAA2"),
                m("disaggregation", "E09.F", "cocAAAAAAA1"),
                m("form", "BM-DTTS-01", "dsAAAAAAAA1"),
                // the same mapping twice is one mapping
                m("form", "BM-DTTS-01", "dsAAAAAAAA1"),
            ],
        )
        .unwrap();
        assert_eq!((c.created, c.updated, c.unchanged), (6, 0, 0));
        let all = db.read(|c| list(c, None)).unwrap();
        let got: Vec<(Kind, &str, &str)> = all
            .iter()
            .map(|m| (m.kind, m.code.as_str(), m.uid.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Kind::Indicator, "0101", "deAAAAAAAA1"),
                (Kind::Indicator, "x-cnscd-to", "deAAAAAAAA2"),
                (Kind::Unit, "06877@2024", "ouAAAAAAAA1"),
                (Kind::Unit, "22", "ouAAAAAAAA2"),
                (Kind::Disaggregation, "E09.F", "cocAAAAAAA1"),
                (Kind::Form, "BM-DTTS-01", "dsAAAAAAAA1"),
            ]
        );
        // every problem, located, and nothing changes
        let r = put_all(
            db,
            &[
                m("indicator", "0101", "deBBBBBBBB1"),
                m("village", "22", "ouBBBBBBBB1"),
                m("unit", "99999", "ouBBBBBBBB2"),
                m("unit", "06877", "1uBBBBBBBB3"),
                m("disaggregation", "E99.F", "cocBBBBBBB1"),
                m("disaggregation", "E09.M", "cocAAAAAAA1"),
                m("indicator", "0101", "deBBBBBBBB2"),
                m("indicator", "nope", "deBBBBBBBB3"),
                m("unit", "06862", "ouBBBBBBBB4"),
                m("unit", "06877", "ouBBBBBBBB4"),
            ],
        );
        assert_eq!(
            problems(r),
            vec![
                ("[1].kind".into(), "village".into()),
                ("[2].code".into(), "99999".into()),
                ("[3].uid".into(), "1uBBBBBBBB3".into()),
                ("[4].code".into(), "E99.F".into()),
                ("[5].uid".into(), "cocAAAAAAA1".into()),
                ("[6].code".into(), "0101".into()),
                ("[7].code".into(), "nope".into()),
                ("[9].uid".into(), "ouBBBBBBBB4".into()),
            ]
        );
        assert_eq!(db.read(|c| list(c, None)).unwrap(), all);
        // replace, and swap two UIDs in one put
        let c = put_all(
            db,
            &[
                m("indicator", "0101", "deAAAAAAAA2"),
                m("indicator", "x-cnscd-to", "deAAAAAAAA1"),
                m("unit", "22", "ouAAAAAAAA2"),
                m("disaggregation", "E09.F", "cocCCCCCCC1"),
            ],
        )
        .unwrap();
        assert_eq!((c.created, c.updated, c.unchanged), (0, 3, 1));
        let uid = |kind, code: &str| {
            db.read(|c| uids_of(c, kind, &[code.to_string()]))
                .unwrap()
                .remove(code)
        };
        assert_eq!(uid(Kind::Indicator, "0101").as_deref(), Some("deAAAAAAAA2"));
        assert_eq!(
            uid(Kind::Indicator, "x-cnscd-to").as_deref(),
            Some("deAAAAAAAA1")
        );
        assert_eq!(
            uid(Kind::Disaggregation, "E09.F").as_deref(),
            Some("cocCCCCCCC1")
        );
        // each change audited with before and after
        let log = db.read(|c| crate::audit::recent(c, 50)).unwrap();
        let swap = log
            .iter()
            .find(|e| e.entity == "dhis2_uid" && e.entity_key == "indicator/0101")
            .expect("audited");
        assert_eq!(swap.action, "update");
        assert_eq!(swap.before, Some(serde_json::json!({"uid": "deAAAAAAAA1"})));
        assert_eq!(swap.after, Some(serde_json::json!({"uid": "deAAAAAAAA2"})));
        // a unit outside the writer's units is refused
        let allowed: HashSet<i64> = HashSet::new();
        let r = db.write(|c| {
            put(
                c,
                &Actor::system(),
                &[m("unit", "06862", "ouDDDDDDDD1")],
                Some(&allowed),
                "test",
                &at,
            )
        });
        assert_eq!(problems(r), vec![("[0].code".into(), "06862".into())]);
    }

    fn lookups_both_ways_with_the_default(db: &TestDb) {
        let codes = |kind, uids: &[&str]| {
            let uids: Vec<String> = uids.iter().map(|s| s.to_string()).collect();
            let mut v: Vec<(String, String)> = db
                .read(|c| codes_of(c, kind, &uids))
                .unwrap()
                .into_iter()
                .collect();
            v.sort();
            v
        };
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        // DHIS2's default before any mapping
        assert_eq!(
            codes(Kind::Disaggregation, &[DEFAULT_COC_UID, "cocAAAAAAA1"]),
            vec![s(DEFAULT_COC_UID, "default")]
        );
        let d = db
            .read(|c| uids_of(c, Kind::Disaggregation, &["default".into()]))
            .unwrap();
        assert_eq!(d.get("default").map(String::as_str), Some(DEFAULT_COC_UID));
        put_all(
            db,
            &[
                m("unit", "06877@2024", "ouAAAAAAAA1"),
                m("unit", "06877", "ouAAAAAAAA2"),
                m("disaggregation", "default", "cocDEFAULT1"),
                m("disaggregation", "E09.F", DEFAULT_COC_UID),
            ],
        )
        .unwrap();
        // units come back with their hierarchy, whatever the period
        assert_eq!(
            codes(Kind::Unit, &["ouAAAAAAAA1", "ouAAAAAAAA2", "ouZZZZZZZZ9"]),
            vec![
                s("ouAAAAAAAA1", "06877@2024"),
                s("ouAAAAAAAA2", "06877@2025")
            ]
        );
        let u = db
            .read(|c| uids_of(c, Kind::Unit, &["06877@2024".into(), "06862@2025".into()]))
            .unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(u["06877@2024"], "ouAAAAAAAA1");
        // a mapping says otherwise: the default UID is another disaggregation's now
        assert_eq!(
            codes(Kind::Disaggregation, &[DEFAULT_COC_UID, "cocDEFAULT1"]),
            vec![s(DEFAULT_COC_UID, "E09.F"), s("cocDEFAULT1", "default")]
        );
        let d = db
            .read(|c| uids_of(c, Kind::Disaggregation, &["default".into(), "E09.M".into()]))
            .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d["default"], "cocDEFAULT1");
        // more keys than one chunk: still every one found
        let many: Vec<String> = (0..CHUNK + 300)
            .map(|i| format!("x{i:010}"))
            .chain(["ouAAAAAAAA1".to_string()])
            .collect();
        let found = db.read(|c| codes_of(c, Kind::Unit, &many)).unwrap();
        assert_eq!(found.len(), 1);
    }
}

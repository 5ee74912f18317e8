//! Saved pivot layouts (report tables): named, shareable by link, found by search in any case
//! and with or without diacritics. Writes are audited.

use crate::audit::{self, Actor};
use crate::db::{Conn, Val};
use crate::error::StoreError;
use dantoc_domain::text::{clean, fold};
use dantoc_domain::{FieldError, Problems};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportTable {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// The pivot's query string (`dimension=…&filter=…&rows=…&columns=…`).
    pub query: String,
    pub official: bool,
    pub shared: bool,
    pub owner: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReportTableInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub query: String,
    #[serde(default)]
    pub official: bool,
    #[serde(default = "yes")]
    pub shared: bool,
}

fn yes() -> bool {
    true
}

const COLS: &str = "id, name, description, query, official, shared, owner, updated_at";

fn row(r: &crate::db::Row) -> ReportTable {
    ReportTable {
        id: r.i64(0),
        name: r.str(1),
        description: r.str(2),
        query: r.str(3),
        official: r.bool(4),
        shared: r.bool(5),
        owner: r.str(6),
        updated_at: r.str(7),
    }
}

/// Check an input; `check_query` parses the query as a pivot request (the web layer's parser).
fn checked(
    i: &ReportTableInput,
    check_query: &dyn Fn(&str) -> Result<(), Problems>,
) -> Result<ReportTableInput, StoreError> {
    let mut p = Problems::default();
    let name = clean(&i.name);
    if name.is_empty() || name.chars().count() > 200 {
        p.push(FieldError::new("name", "a name of 1 to 200 characters is required").value(&name));
    }
    let description = clean(&i.description);
    if description.chars().count() > 2000 {
        p.push(FieldError::new("description", "at most 2,000 characters"));
    }
    let query = i.query.trim().trim_start_matches('?').to_string();
    if query.len() > 8000 {
        p.push(FieldError::new("query", "at most 8,000 characters"));
    } else if let Err(e) = check_query(&query) {
        for mut f in e.0 {
            f.field = format!("query.{}", f.field);
            p.push(f);
        }
    }
    if !p.is_empty() {
        return Err(StoreError::Invalid(p));
    }
    Ok(ReportTableInput {
        name,
        description,
        query,
        official: i.official,
        shared: i.shared,
    })
}

/// Tables the user may see: shared ones and their own; `q` searches names and descriptions
/// ignoring case and diacritics.
pub fn list(c: &mut dyn Conn, user: Option<&str>, q: &str) -> Result<Vec<ReportTable>, StoreError> {
    let (filter, mut p) = crate::units::folded_filter(q, "name_folded");
    p.push(Val::from(user.unwrap_or("")));
    let n = p.len();
    Ok(c
        .query(
            &format!("SELECT {COLS} FROM report_table WHERE {filter} AND (shared = 1 OR owner = ${n}) ORDER BY official DESC, name"),
            &p,
        )?
        .iter()
        .map(row)
        .collect())
}

pub fn get(c: &mut dyn Conn, id: i64, user: Option<&str>) -> Result<ReportTable, StoreError> {
    c.query_one(
        &format!("SELECT {COLS} FROM report_table WHERE id = $1 AND (shared = 1 OR owner = $2)"),
        &[Val::Int(id), Val::from(user.unwrap_or(""))],
    )?
    .map(|r| row(&r))
    .ok_or_else(|| StoreError::NotFound(format!("no report table {id}")))
}

pub fn create(
    c: &mut dyn Conn,
    actor: &Actor,
    i: &ReportTableInput,
    check_query: &dyn Fn(&str) -> Result<(), Problems>,
) -> Result<ReportTable, StoreError> {
    let i = checked(i, check_query)?;
    let now = crate::clock::now();
    let folded = fold(&format!("{} {}", i.name, i.description));
    let id = c
        .query(
            "INSERT INTO report_table (name, name_folded, description, query, official, shared, owner, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
            &[
                Val::from(i.name.as_str()),
                Val::from(folded.as_str()),
                Val::from(i.description.as_str()),
                Val::from(i.query.as_str()),
                Val::from(i.official),
                Val::from(i.shared),
                Val::from(actor.name.as_str()),
                Val::from(now.as_str()),
            ],
        )?
        .first()
        .map(|r| r.i64(0))
        .unwrap_or_default();
    let t = get(c, id, Some(&actor.name))?;
    audit::record(
        c,
        actor,
        "create",
        "report_table",
        &id.to_string(),
        None,
        Some(&serde_json::to_value(&t).unwrap_or_default()),
    )?;
    Ok(t)
}

/// Change a table: its owner, or `may_any` (administrators) for any table.
pub fn update(
    c: &mut dyn Conn,
    actor: &Actor,
    id: i64,
    may_any: bool,
    i: &ReportTableInput,
    check_query: &dyn Fn(&str) -> Result<(), Problems>,
) -> Result<ReportTable, StoreError> {
    let before = get(c, id, Some(&actor.name))?;
    if before.owner != actor.name && !may_any {
        return Err(StoreError::Forbidden(
            "only its owner or an administrator may change this report table".into(),
        ));
    }
    let i = checked(i, check_query)?;
    let folded = fold(&format!("{} {}", i.name, i.description));
    c.execute(
        "UPDATE report_table SET name = $1, name_folded = $2, description = $3, query = $4, official = $5, shared = $6, updated_at = $7 WHERE id = $8",
        &[
            Val::from(i.name.as_str()),
            Val::from(folded.as_str()),
            Val::from(i.description.as_str()),
            Val::from(i.query.as_str()),
            Val::from(i.official),
            Val::from(i.shared),
            Val::from(crate::clock::now().as_str()),
            Val::Int(id),
        ],
    )?;
    let after = get(c, id, Some(&actor.name))?;
    audit::record(
        c,
        actor,
        "update",
        "report_table",
        &id.to_string(),
        Some(&serde_json::to_value(&before).unwrap_or_default()),
        Some(&serde_json::to_value(&after).unwrap_or_default()),
    )?;
    Ok(after)
}

pub fn delete(c: &mut dyn Conn, actor: &Actor, id: i64, may_any: bool) -> Result<(), StoreError> {
    let before = get(c, id, Some(&actor.name))?;
    if before.owner != actor.name && !may_any {
        return Err(StoreError::Forbidden(
            "only its owner or an administrator may delete this report table".into(),
        ));
    }
    c.execute("DELETE FROM report_table WHERE id = $1", &[Val::Int(id)])?;
    audit::record(
        c,
        actor,
        "delete",
        "report_table",
        &id.to_string(),
        Some(&serde_json::to_value(&before).unwrap_or_default()),
        None,
    )?;
    Ok(())
}

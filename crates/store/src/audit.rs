//! The audit log: one row for every write, with who, when, from where, what, and the
//! state before and after.

use crate::db::{Backend, Conn};
use crate::error::StoreError;
use crate::params;
use serde::Serialize;

/// Who is acting, and from where.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    /// User name, `cli:<os user>` or `system`.
    pub name: String,
    /// Remote address or `cli`.
    pub origin: String,
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            name: "system".into(),
            origin: "local".into(),
        }
    }
    pub fn cli() -> Actor {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Actor {
            name: format!("cli:{user}"),
            origin: "cli".into(),
        }
    }
}

/// The text an entry's hash is computed over: the previous hash and every field, as a JSON
/// array (unambiguous whatever the fields contain).
fn chained(prev: &str, fields: [&str; 8]) -> String {
    let mut all = vec![prev];
    all.extend(fields);
    crate::secret::sha256_hex(serde_json::to_string(&all).unwrap_or_default().as_bytes())
}

/// Append an entry, chained to the previous one by its hash.
pub fn record(
    c: &mut dyn Conn,
    actor: &Actor,
    action: &str,
    entity: &str,
    key: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    if c.backend() == Backend::Postgres {
        // one appender at a time, so that the chain cannot fork
        c.query("SELECT pg_advisory_xact_lock(4242010)", &[])?;
    }
    let prev = c
        .query_one("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1", &[])?
        .map(|r| r.str(0))
        .unwrap_or_default();
    let at = crate::clock::now();
    let before = before.map(|v| v.to_string());
    let after = after.map(|v| v.to_string());
    let hash = chained(
        &prev,
        [
            &at,
            &actor.name,
            &actor.origin,
            action,
            entity,
            key,
            before.as_deref().unwrap_or(""),
            after.as_deref().unwrap_or(""),
        ],
    );
    c.execute(
        "INSERT INTO audit_log (at, actor, origin, action, entity, entity_key, before, after, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &params![at, &actor.name, &actor.origin, action, entity, key, before, after, prev, hash],
    )?;
    Ok(())
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verification {
    pub entries: u64,
    /// The first entry whose stored hash or link does not match, with what is wrong.
    pub first_broken: Option<(i64, String)>,
}

const ROW: &str = "SELECT id, at, actor, origin, action, entity, entity_key, coalesce(before, ''), coalesce(after, ''), prev_hash, hash FROM audit_log";

/// Recompute the chain from the first entry and report the first broken link.
pub fn verify(c: &mut dyn Conn) -> Result<Verification, StoreError> {
    let mut prev = String::new();
    let mut last_id = i64::MIN;
    let mut entries = 0;
    loop {
        let rows = c.query(
            &format!("{ROW} WHERE id > $1 ORDER BY id LIMIT 5000"),
            &params![last_id],
        )?;
        if rows.is_empty() {
            return Ok(Verification {
                entries,
                first_broken: None,
            });
        }
        for r in &rows {
            let id = r.i64(0);
            let f: Vec<String> = (1..=8).map(|i| r.str(i)).collect();
            if r.str(9) != prev {
                return Ok(Verification {
                    entries,
                    first_broken: Some((id, "its link to the previous entry does not match (an entry was removed or inserted before it)".into())),
                });
            }
            let h = chained(
                &prev,
                [&f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]],
            );
            if h != r.str(10) {
                return Ok(Verification {
                    entries,
                    first_broken: Some((
                        id,
                        "its content does not match its hash (the entry was changed)".into(),
                    )),
                });
            }
            prev = h;
            last_id = id;
            entries += 1;
        }
    }
}

/// Migration step: chain the entries written before the chain existed, then make the log
/// append-only in the database itself.
pub(crate) fn chain_existing(c: &mut dyn Conn) -> Result<(), StoreError> {
    let rows = c.query(&format!("{ROW} ORDER BY id"), &[])?;
    let mut prev = String::new();
    for r in &rows {
        let f: Vec<String> = (1..=8).map(|i| r.str(i)).collect();
        let h = chained(
            &prev,
            [&f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]],
        );
        c.execute(
            "UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE id = $3",
            &params![&prev, &h, r.i64(0)],
        )?;
        prev = h;
    }
    c.batch(match c.backend() {
        Backend::Sqlite => {
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                 BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
             CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                 BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
             CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
                 FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
             CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
                 FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();"
        }
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub origin: String,
    pub action: String,
    pub entity: String,
    pub entity_key: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub fn recent(c: &mut dyn Conn, limit: i64) -> Result<Vec<Entry>, StoreError> {
    search(
        c,
        &Filter {
            limit,
            ..Default::default()
        },
    )
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub entity: Option<String>,
    pub key: Option<String>,
    /// From this date or instant (inclusive).
    pub from: Option<String>,
    /// Up to this date or instant (a date includes the whole day).
    pub to: Option<String>,
    pub limit: i64,
}

/// Entries matching the filter, newest first.
pub fn search(c: &mut dyn Conn, f: &Filter) -> Result<Vec<Entry>, StoreError> {
    let mut w = vec![];
    let mut p: Vec<crate::db::Val> = vec![];
    for (col, v, op) in [
        ("actor", &f.actor, "="),
        ("action", &f.action, "="),
        ("entity", &f.entity, "="),
        ("entity_key", &f.key, "="),
        ("at", &f.from, ">="),
    ] {
        if let Some(v) = v {
            p.push(v.clone().into());
            w.push(format!("{col} {op} ${}", p.len()));
        }
    }
    if let Some(to) = &f.to {
        let to = if to.len() == 10 {
            format!("{to}T23:59:59.999Z")
        } else {
            to.clone()
        };
        p.push(to.into());
        w.push(format!("at <= ${}", p.len()));
    }
    p.push(if f.limit > 0 { f.limit } else { 500 }.into());
    let filter = if w.is_empty() {
        "1 = 1".to_string()
    } else {
        w.join(" AND ")
    };
    Ok(c.query(
        &format!(
            "SELECT id, at, actor, origin, action, entity, entity_key, before, after FROM audit_log
                 WHERE {filter} ORDER BY id DESC LIMIT ${}",
            p.len()
        ),
        &p,
    )?
    .iter()
    .map(entry)
    .collect())
}

fn entry(r: &crate::db::Row) -> Entry {
    Entry {
        id: r.i64(0),
        at: r.str(1),
        actor: r.str(2),
        origin: r.str(3),
        action: r.str(4),
        entity: r.str(5),
        entity_key: r.str(6),
        before: r.opt_str(7).and_then(|s| serde_json::from_str(&s).ok()),
        after: r.opt_str(8).and_then(|s| serde_json::from_str(&s).ok()),
    }
}

/// Entries as CSV (UTF-8 with BOM).
pub fn write_csv<W: std::io::Write>(out: W, entries: &[Entry]) -> std::io::Result<()> {
    let mut w = crate::csv_values::bom_writer(out)?;
    w.write_record([
        "id", "at", "actor", "origin", "action", "entity", "key", "before", "after",
    ])?;
    for e in entries {
        w.write_record([
            e.id.to_string(),
            e.at.clone(),
            e.actor.clone(),
            e.origin.clone(),
            e.action.clone(),
            e.entity.clone(),
            e.entity_key.clone(),
            e.before.as_ref().map(|v| v.to_string()).unwrap_or_default(),
            e.after.as_ref().map(|v| v.to_string()).unwrap_or_default(),
        ])?;
    }
    w.flush()
}

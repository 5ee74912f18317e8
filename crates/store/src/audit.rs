//! The audit log: one row for every write, with who, when, from where, what, and the
//! state before and after.

use crate::db::Conn;
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

pub fn record(
    c: &mut dyn Conn,
    actor: &Actor,
    action: &str,
    entity: &str,
    key: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO audit_log (at, actor, origin, action, entity, entity_key, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &params![
            crate::clock::now(),
            &actor.name,
            &actor.origin,
            action,
            entity,
            key,
            before.map(|v| v.to_string()),
            after.map(|v| v.to_string())
        ],
    )?;
    Ok(())
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
    Ok(c.query(
        "SELECT id, at, actor, origin, action, entity, entity_key, before, after FROM audit_log
             ORDER BY id DESC LIMIT $1",
        &params![limit],
    )?
    .iter()
    .map(|r| Entry {
        id: r.i64(0),
        at: r.str(1),
        actor: r.str(2),
        origin: r.str(3),
        action: r.str(4),
        entity: r.str(5),
        entity_key: r.str(6),
        before: r.opt_str(7).and_then(|s| serde_json::from_str(&s).ok()),
        after: r.opt_str(8).and_then(|s| serde_json::from_str(&s).ok()),
    })
    .collect())
}

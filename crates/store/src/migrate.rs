//! Schema migrations for both engines, applied in order at start-up and by `dantoc migrate`.
//! Each migration is one SQL file per engine, run in its own transaction.

use crate::db::{Backend, Conn, Db};
use crate::error::StoreError;

/// A migration step written in Rust.
type Step = fn(&mut dyn Conn) -> Result<(), StoreError>;

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    /// A step in Rust after the SQL, in the same transaction.
    then: Option<Step>,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
        then: None,
    },
    Migration {
        version: 2,
        name: "accounts",
        sqlite: include_str!("../migrations/sqlite/0002_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0002_accounts.sql"),
        then: Some(crate::audit::chain_existing),
    },
    Migration {
        version: 4,
        name: "analytics",
        sqlite: include_str!("../migrations/sqlite/0004_analytics.sql"),
        postgres: include_str!("../migrations/postgres/0004_analytics.sql"),
        then: Some(crate::analytics::rebuild_rollup_step),
    },
    Migration {
        version: 5,
        name: "geometry",
        sqlite: include_str!("../migrations/sqlite/0005_geometry.sql"),
        postgres: include_str!("../migrations/postgres/0005_geometry.sql"),
        then: None,
    },
];

/// Apply the migrations not yet applied; returns the versions applied now.
pub fn migrate(db: &Db) -> Result<Vec<i64>, StoreError> {
    db.write(|c| {
        c.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    BIGINT PRIMARY KEY,
                name       TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )",
        )
    })?;
    let mut applied = vec![];
    for m in MIGRATIONS {
        let done = db.write(|c| {
            if c.backend() == Backend::Postgres {
                // one migrator at a time across processes
                c.query("SELECT pg_advisory_xact_lock(4242001)", &[])?;
            }
            let exists = c.scalar_i64(
                "SELECT count(*) FROM schema_migrations WHERE version = $1",
                &[m.version.into()],
            )?;
            if exists > 0 {
                return Ok(false);
            }
            c.batch(match c.backend() {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            })?;
            if let Some(step) = m.then {
                step(c)?;
            }
            c.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[m.version.into(), m.name.into(), crate::clock::now().into()],
            )?;
            Ok(true)
        })?;
        if done {
            tracing::info!(version = m.version, name = m.name, "migration applied");
            applied.push(m.version);
        }
    }
    Ok(applied)
}

/// The highest applied migration.
pub fn current_version(c: &mut dyn Conn) -> Result<i64, StoreError> {
    c.scalar_i64(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        &[],
    )
}

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

/// A short hash of every migration and the seed id: changes when the schema or seed does.
pub fn fingerprint() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for m in MIGRATIONS {
        for b in m.sqlite.bytes().chain(m.postgres.bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    for b in crate::seed::all_bytes()
        .iter()
        .flat_map(|f| f.iter().copied())
        .chain(crate::seed::SEED_ID.bytes())
        .chain(crate::gis::SEED_ID.bytes())
        .chain(crate::analytics::ROLLUP_SQL.bytes())
    {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

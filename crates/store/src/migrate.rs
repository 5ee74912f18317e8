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
        version: 3,
        name: "value_key",
        sqlite: include_str!("../migrations/sqlite/0003_value_key.sql"),
        postgres: include_str!("../migrations/postgres/0003_value_key.sql"),
        then: None,
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
    Migration {
        version: 6,
        name: "forms",
        sqlite: include_str!("../migrations/sqlite/0006_forms.sql"),
        postgres: include_str!("../migrations/postgres/0006_forms.sql"),
        then: None,
    },
    Migration {
        version: 7,
        name: "validation",
        sqlite: include_str!("../migrations/sqlite/0007_validation.sql"),
        postgres: include_str!("../migrations/postgres/0007_validation.sql"),
        then: None,
    },
    Migration {
        version: 8,
        name: "dhis2_uid",
        sqlite: include_str!("../migrations/sqlite/0008_dhis2_uid.sql"),
        postgres: include_str!("../migrations/postgres/0008_dhis2_uid.sql"),
        then: None,
    },
    Migration {
        version: 9,
        name: "approval",
        sqlite: include_str!("../migrations/sqlite/0009_approval.sql"),
        postgres: include_str!("../migrations/postgres/0009_approval.sql"),
        then: None,
    },
    Migration {
        version: 10,
        name: "entry",
        sqlite: include_str!("../migrations/sqlite/0010_entry.sql"),
        postgres: include_str!("../migrations/postgres/0010_entry.sql"),
        then: None,
    },
    Migration {
        version: 11,
        name: "agg_dirty_area",
        sqlite: include_str!("../migrations/sqlite/0011_agg_dirty_area.sql"),
        postgres: include_str!("../migrations/postgres/0011_agg_dirty_area.sql"),
        then: None,
    },
    Migration {
        version: 12,
        name: "value_unit",
        sqlite: include_str!("../migrations/sqlite/0012_value_unit.sql"),
        postgres: include_str!("../migrations/postgres/0012_value_unit.sql"),
        then: None,
    },
    Migration {
        version: 13,
        name: "ogc_pages",
        sqlite: include_str!("../migrations/sqlite/0013_ogc_pages.sql"),
        postgres: include_str!("../migrations/postgres/0013_ogc_pages.sql"),
        then: None,
    },
    Migration {
        version: 14,
        name: "agg_dirty_mark",
        sqlite: include_str!("../migrations/sqlite/0014_agg_dirty_mark.sql"),
        postgres: include_str!("../migrations/postgres/0014_agg_dirty_mark.sql"),
        then: None,
    },
];

/// Apply the migrations not yet applied; returns the versions applied now.
pub fn migrate(db: &Db) -> Result<Vec<i64>, StoreError> {
    migrate_to(db, i64::MAX)
}

/// Apply the migrations not yet applied up to version `last` (tests: a database as an earlier
/// release left it).
pub(crate) fn migrate_to(db: &Db, last: i64) -> Result<Vec<i64>, StoreError> {
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
    for m in MIGRATIONS.iter().filter(|m| m.version <= last) {
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
        .chain(crate::forms::SHIPPED_JSON.bytes())
    {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Val;
    use crate::testing::TestDb;

    mod sqlite {
        #[test]
        fn value_key_migration_keeps_values_and_history() {
            super::value_key_migration_keeps_values_and_history(
                &crate::testing::TestDb::sqlite_empty(),
            );
        }
    }
    mod postgres {
        #[test]
        fn value_key_migration_keeps_values_and_history() {
            super::value_key_migration_keeps_values_and_history(
                &crate::testing::TestDb::postgres_empty(),
            );
        }
    }

    /// The columns of `data_value`'s primary key, in order.
    fn value_key(c: &mut dyn Conn) -> Result<Vec<String>, StoreError> {
        let sql = match c.backend() {
            Backend::Sqlite => {
                "SELECT name FROM pragma_table_info('data_value') WHERE pk > 0 ORDER BY pk"
            }
            Backend::Postgres => {
                "SELECT a.attname::text FROM pg_index i
                 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 WHERE i.indrelid = 'data_value'::regclass AND i.indisprimary ORDER BY k.n"
            }
        };
        Ok(c.query(sql, &[])?.iter().map(|r| r.str(0)).collect())
    }

    /// A database that an earlier release left at version 2, with values and their history,
    /// migrates to the new key of `data_value` (version 3) with every value kept, and the
    /// history triggers work as before: a change of a value or a deletion is kept, publishing
    /// is not.
    fn value_key_migration_keeps_values_and_history(db: &TestDb) {
        assert_eq!(migrate_to(db, 2).unwrap(), vec![1, 2]);
        let history = |db: &TestDb, op: &str| {
            db.read(|c| {
                c.scalar_i64(
                    "SELECT count(*) FROM data_value_history WHERE op = $1",
                    &[op.into()],
                )
            })
            .unwrap()
        };
        db.write(|c| {
            c.batch(
                "INSERT INTO indicator (id, code, name_vi, name_folded, value_type, aggregation,
                    period_type, updated_at)
                 VALUES (7, 'x', 'x', 'x', 'integer', 'sum', 'yearly', 'now');
                 INSERT INTO admin_unit (id, version, code, name, full_name, name_folded, type,
                    kind, level, province_code)
                 VALUES (20, '2024', '00002', 'b', 'b', 'b', 'xã', 'commune', 3, '01'),
                        (10, '2024', '00001', 'a', 'a', 'a', 'xã', 'commune', 3, '01')",
            )?;
            // in the old key's order
            for (unit, year, value) in [(10, 2021, 1), (10, 2022, 2), (20, 2021, 3), (20, 2022, 4)]
            {
                let ms = year * 12;
                c.execute(
                    "INSERT INTO data_value (indicator_id, unit_id, period, disagg_id, month_start,
                        month_end, value, value_text, stored_by, created_at, updated_at, published)
                     VALUES (7, $1, $2, 1, $3, $4, $5, $6, 'old', 't0', 't0', $7)",
                    &[
                        Val::Int(unit),
                        Val::Text(year.to_string()),
                        Val::Int(ms),
                        Val::Int(ms + 11),
                        Val::Real(value as f64),
                        Val::Text(value.to_string()),
                        Val::Int((unit == 20) as i64),
                    ],
                )?;
            }
            c.execute(
                "UPDATE data_value SET value = 5, value_text = '5', updated_at = 't1', version = 2
                 WHERE unit_id = 10 AND period = '2022'",
                &[],
            )
        })
        .unwrap();
        assert_eq!(history(db, "update"), 1);
        let old_key = db.read(value_key).unwrap();
        assert_eq!(old_key, ["indicator_id", "unit_id", "period", "disagg_id"]);

        let applied = migrate(db).unwrap();
        assert_eq!(applied.first(), Some(&3));
        assert_eq!(
            db.read(value_key).unwrap(),
            [
                "indicator_id",
                "month_start",
                "unit_id",
                "disagg_id",
                "period"
            ]
        );
        if db.backend() == Backend::Sqlite {
            let sql = db
                .read(|c| {
                    c.query_one(
                        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'data_value'",
                        &[],
                    )
                })
                .unwrap()
                .map(|r| r.str(0))
                .unwrap_or_default();
            assert!(sql.contains("WITHOUT ROWID"), "{sql}");
        }
        let rows = |db: &TestDb| {
            db.read(|c| {
                c.query(
                    "SELECT unit_id, period, value_text, version, published, stored_by, created_at
                     FROM data_value ORDER BY unit_id, period",
                    &[],
                )
            })
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.i64(0),
                    r.str(1),
                    r.str(2),
                    r.i64(3),
                    r.i64(4),
                    r.str(5),
                    r.str(6),
                )
            })
            .collect::<Vec<_>>()
        };
        let s = |v: &str| v.to_string();
        assert_eq!(
            rows(db),
            vec![
                (10, s("2021"), s("1"), 1, 0, s("old"), s("t0")),
                (10, s("2022"), s("5"), 2, 0, s("old"), s("t0")),
                (20, s("2021"), s("3"), 1, 1, s("old"), s("t0")),
                (20, s("2022"), s("4"), 1, 1, s("old"), s("t0")),
            ]
        );
        assert_eq!(history(db, "update"), 1, "the history is kept");

        db.write(|c| {
            // publishing is not history; a change is, and so is a deletion
            c.execute(
                "UPDATE data_value SET published = 1 WHERE unit_id = 10",
                &[],
            )?;
            c.execute(
                "UPDATE data_value SET value = 6, value_text = '6', updated_at = 't2'
                 WHERE unit_id = 20 AND period = '2021'",
                &[],
            )?;
            c.execute(
                "DELETE FROM data_value WHERE unit_id = 20 AND period = '2022'",
                &[],
            )
        })
        .unwrap();
        assert_eq!(history(db, "update"), 2);
        assert_eq!(history(db, "delete"), 1);
        let earlier = db
            .read(|c| {
                c.query_one(
                    "SELECT value_text, changed_at FROM data_value_history
                     WHERE unit_id = 20 AND period = '2021'",
                    &[],
                )
            })
            .unwrap()
            .map(|r| (r.str(0), r.str(1)));
        assert_eq!(earlier, Some((s("3"), s("t2"))));
        // the key still refuses a value given twice
        let twice = db.write(|c| {
            c.execute(
                "INSERT INTO data_value (indicator_id, unit_id, period, disagg_id, month_start,
                    month_end, value, value_text, stored_by, created_at, updated_at)
                 VALUES (7, 10, '2021', 1, 24252, 24263, 9, '9', 'x', 'x', 'x')",
                &[],
            )
        });
        assert!(twice.is_err(), "{twice:?}");
    }
}

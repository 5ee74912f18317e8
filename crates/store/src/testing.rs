//! Throwaway databases for tests, on both engines, so that one suite runs on SQLite and on
//! PostgreSQL. PostgreSQL is taken from `DANTOC_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); there is no switch to skip it: a machine
//! without PostgreSQL fails the PostgreSQL tests.
//!
//! Migrated and seeded template databases are made once per schema and seed fingerprint
//! (a SQLite file in the temp directory; a PostgreSQL `TEMPLATE` database) and copied for each test.

use crate::db::Db;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct TestDb {
    pub db: Db,
    /// What `dantoc --database` takes to open this database.
    pub url: String,
    file: Option<PathBuf>,
    pg: Option<(String, String)>,
}

impl std::ops::Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}_{}_{}",
        std::process::id(),
        t % 1_000_000_000,
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn pg_admin_url() -> String {
    std::env::var("DANTOC_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_db(url: &str, db: &str) -> String {
    match url.rfind('/') {
        Some(i) if i > url.find("://").map(|j| j + 2).unwrap_or(0) => format!("{}/{db}", &url[..i]),
        _ => format!("{url}/{db}"),
    }
}

impl TestDb {
    /// A fresh SQLite database with the reference data.
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir();
        let tpl = dir.join(format!(
            "dantoc-test-tpl-{}.db",
            crate::migrate::fingerprint()
        ));
        if !tpl.exists() {
            let tmp = dir.join(format!("dantoc-test-tpl-{}.tmp", unique()));
            {
                let db =
                    crate::open(tmp.to_str().expect("utf-8 temp path")).expect("template database");
                db.write(|c| c.batch("SELECT 1")).expect("template");
                db.read(|c| c.batch("PRAGMA wal_checkpoint(TRUNCATE)"))
                    .expect("checkpoint");
            }
            let _ = std::fs::remove_file(tmp.with_extension("tmp-wal"));
            let _ = std::fs::remove_file(tmp.with_extension("tmp-shm"));
            std::fs::rename(&tmp, &tpl).expect("template in place");
        }
        let file = dir.join(format!("dantoc-test-{}.db", unique()));
        std::fs::copy(&tpl, &file).expect("copy of the template");
        let url = file.to_str().expect("utf-8 temp path").to_string();
        let db = crate::open(&url).expect("test database");
        TestDb {
            db,
            url,
            file: Some(file),
            pg: None,
        }
    }

    /// A fresh SQLite database with nothing in it, not even the schema.
    pub fn sqlite_empty() -> TestDb {
        let file = std::env::temp_dir().join(format!("dantoc-test-{}.db", unique()));
        let url = file.to_str().expect("utf-8 temp path").to_string();
        let db = Db::open(&url).expect("empty test database");
        TestDb {
            db,
            url,
            file: Some(file),
            pg: None,
        }
    }

    /// A fresh PostgreSQL database with nothing in it, not even the schema.
    pub fn postgres_empty() -> TestDb {
        let admin = pg_admin_url();
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap_or_else(|e| {
            panic!("PostgreSQL tests need a server at {admin} (set DANTOC_TEST_PG_URL): {e}")
        });
        let name = format!("dantoc_test_{}", unique());
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("empty test database");
        let url = with_db(&admin, &name);
        let db = Db::open(&url).expect("empty test database");
        TestDb {
            db,
            url,
            file: None,
            pg: Some((admin, name)),
        }
    }

    /// A fresh PostgreSQL database with the reference data. Panics with a clear message when
    /// PostgreSQL cannot be reached.
    pub fn postgres() -> TestDb {
        let admin = pg_admin_url();
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap_or_else(|e| {
            panic!("PostgreSQL tests need a server at {admin} (set DANTOC_TEST_PG_URL): {e}")
        });
        let tpl = format!("dantoc_tpl_{}", crate::migrate::fingerprint());
        client
            .batch_execute("SELECT pg_advisory_lock(4242003)")
            .expect("lock");
        let exists = client
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = $1",
                &[&tpl],
            )
            .map(|r| r.get::<_, i64>(0) > 0)
            .unwrap_or(false);
        if !exists {
            let building = format!("{tpl}_building");
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {building}"));
            client
                .batch_execute(&format!("CREATE DATABASE {building}"))
                .expect("create template");
            {
                let db = crate::open(&with_db(&admin, &building)).expect("template database");
                db.close_idle();
            }
            client
                .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {tpl}"))
                .expect("template in place");
        }
        let name = format!("dantoc_test_{}", unique());
        let r = client.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {tpl}"));
        client
            .batch_execute("SELECT pg_advisory_unlock(4242003)")
            .expect("unlock");
        r.expect("test database from template");
        let url = with_db(&admin, &name);
        let db = crate::open(&url).expect("test database");
        TestDb {
            db,
            url,
            file: None,
            pg: Some((admin, name)),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.db.close_idle();
        if let Some(f) = &self.file {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", f.display()));
            }
        }
        if let Some((admin, name)) = &self.pg
            && let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Define each listed test twice: `sqlite::NAME` and `postgres::NAME`, each calling
/// `NAME(&TestDb)` on a fresh database of that engine.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&$crate::testing::TestDb::sqlite()); } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(&$crate::testing::TestDb::postgres()); } )*
        }
    };
}

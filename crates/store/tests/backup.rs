//! Online backup under concurrent writes, then restore, on SQLite and on PostgreSQL.

use dantoc_domain::FieldError;
use dantoc_domain::admin::{HierarchyVersion as V, UnitKind};
use dantoc_store::audit::Actor;
use dantoc_store::testing::TestDb;
use dantoc_store::values::{self, ImportOptions, RawValue, ValueFilter};
use dantoc_store::{Backend, Conn, Db, backup, units};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

dantoc_store::on_both_backends!(backup_under_concurrent_writes_restores_a_committed_prefix);

/// Values per import (one transaction each): a restored database holds whole imports only.
const BATCH: u64 = 3;
/// Distinct keys available: 25 periods × 54 ethnic groups × 2 sexes.
const KEYS: u64 = 25 * 54 * 2;

/// The key of the value whose number is `n` (1-based): period, disaggregation.
fn key_of(n: u64) -> (String, String) {
    let i = n - 1;
    let period = 2000 + i % 25;
    let ethnic = (i / 25) % 54 + 1;
    let sex = if (i / (25 * 54)).is_multiple_of(2) {
        "M"
    } else {
        "F"
    };
    (period.to_string(), format!("E{ethnic:02}.{sex}"))
}

fn raw(n: u64) -> RawValue {
    let (period, disagg) = key_of(n);
    RawValue {
        indicator: "0101".into(),
        unit: "06877@2024".into(),
        period,
        disagg,
        value: Some(n.to_string()),
        ..Default::default()
    }
}

/// Keep importing values numbered 1, 2, 3, … in transactions of `BATCH` values until told to
/// stop; `committed` is the highest number whose transaction has committed.
fn writer(db: Db, stop: Arc<AtomicBool>, committed: Arc<AtomicU64>) {
    let actor = Actor {
        name: "writer".into(),
        origin: "test".into(),
    };
    let opts = ImportOptions {
        audit_each: true,
        what: "backup test".into(),
        ..Default::default()
    };
    let mut next = 1;
    while !stop.load(Ordering::SeqCst) && next + BATCH - 1 <= KEYS {
        let batch: Vec<_> = (next..next + BATCH).map(|n| Ok(raw(n))).collect();
        let s = values::import(&db, &actor, &opts, batch, &|_, e: FieldError| e).unwrap();
        assert_eq!(s.status, "SUCCESS", "{:?}", s.conflicts);
        assert_eq!(s.import_count.imported, BATCH);
        next += BATCH;
        committed.store(next - 1, Ordering::SeqCst);
    }
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A file in the temp directory, removed (with its SQLite companions) when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        TempFile(std::env::temp_dir().join(format!(
            "dantoc-backup-test-{}-{}-{name}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        )))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for ext in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{ext}", self.0.display()));
        }
    }
}

fn counts(c: &mut dyn Conn) -> Vec<(&'static str, i64)> {
    [
        "admin_unit",
        "admin_unit_closure",
        "unit_lineage",
        "ethnic_group",
        "indicator_group",
        "indicator",
        "schema_migrations",
        "meta",
    ]
    .into_iter()
    .map(|t| {
        let n = c
            .scalar_i64(&format!("SELECT count(*) FROM {t}"), &[])
            .unwrap();
        (t, n)
    })
    .collect()
}

fn backup_under_concurrent_writes_restores_a_committed_prefix(src: &TestDb) {
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let w = {
        let (db, stop, committed) = (src.db.clone(), stop.clone(), committed.clone());
        std::thread::spawn(move || writer(db, stop, committed))
    };
    wait_for("the first writes", 120, || {
        committed.load(Ordering::SeqCst) >= 10 * BATCH || w.is_finished()
    });

    let file = TempFile::new("backup");
    let before = committed.load(Ordering::SeqCst);
    let info = backup::backup(src, &file.0).expect("backup");
    let after = committed.load(Ordering::SeqCst);
    // the writer goes on after the backup
    wait_for("writes after the backup", 120, || {
        committed.load(Ordering::SeqCst) >= after + 3 * BATCH || w.is_finished()
    });
    stop.store(true, Ordering::SeqCst);
    w.join().expect("the writer thread ran without failing");
    let total = committed.load(Ordering::SeqCst);
    assert!(total >= after + 3 * BATCH, "the writer stopped early");
    assert_eq!(info.backend, src.backend());
    assert!(info.bytes > 0);
    assert_eq!(std::fs::metadata(&file.0).unwrap().len(), info.bytes);

    // restore into a fresh database of the same engine
    let target_file = TempFile::new("restored.db");
    let target_pg;
    let url = match src.backend() {
        Backend::Sqlite => target_file.0.display().to_string(),
        Backend::Postgres => {
            target_pg = TestDb::postgres();
            target_pg.close_idle();
            target_pg.url.clone()
        }
    };
    let r = backup::restore(&url, &file.0).expect("restore");
    let restored = dantoc_store::open(&url).expect("restored database opens");

    // (a) exactly the values committed before the backup's snapshot: numbers 1..k, whole
    // transactions, nothing after k, everything committed before the backup started
    let got = restored
        .read(|c| {
            values::query(
                c,
                &ValueFilter {
                    indicators: vec!["0101".into()],
                    units: vec!["06877@2024".into()],
                    limit: 100_000,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    let numbers: BTreeSet<u64> = got
        .iter()
        .map(|v| {
            let n = v.value.expect("a number") as u64;
            assert_eq!((v.period.clone(), v.disagg.clone()), key_of(n), "value {n}");
            n
        })
        .collect();
    assert_eq!(numbers.len(), got.len(), "no number twice");
    let k = numbers.len() as u64;
    assert!(k >= 1, "the backup holds no value");
    assert_eq!(numbers, (1..=k).collect::<BTreeSet<_>>(), "not a prefix");
    assert_eq!(k % BATCH, 0, "a transaction was split: {k} values");
    assert!(
        k >= before,
        "values committed before the backup began are missing: {k} < {before}"
    );
    assert!(
        k <= after + BATCH,
        "the backup holds values committed after it ended: {k} > {after}"
    );
    assert!(k < total);
    assert_eq!(r.values, k as i64);
    eprintln!(
        "{}: {k} of {total} values in the backup ({before} committed when it began, {after} when it ended; {} bytes in {:.2} s)",
        src.backend().as_str(),
        info.bytes,
        info.seconds
    );

    // (b) the audit chain is intact and holds one entry per restored value and the restore
    let v = restored.read(dantoc_store::audit::verify).unwrap();
    assert_eq!(v.first_broken, None);
    assert_eq!(v.entries, r.audit_entries);
    assert_eq!(r.audit_broken, None);
    restored
        .read(|c| {
            let per_value = c.scalar_i64(
                "SELECT count(*) FROM audit_log WHERE entity = 'data_value' AND actor = 'writer'",
                &[],
            )?;
            assert_eq!(per_value as u64, k);
            let last = dantoc_store::audit::recent(c, 1)?;
            assert_eq!(last[0].action, "restore");
            assert_eq!(last[0].entity_key, file.0.display().to_string());
            Ok(())
        })
        .unwrap();
    // the source's log records the backup, after the values it had then
    let src_last = src
        .read(|c| {
            dantoc_store::audit::search(
                c,
                &dantoc_store::audit::Filter {
                    action: Some("backup".into()),
                    limit: 5,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(src_last.len(), 1);
    assert_eq!(src_last[0].entity_key, file.0.display().to_string());

    // (c) the reference data is all there
    restored
        .read(|c| {
            assert_eq!(units::count(c, V::V2025, UnitKind::Province)?, 34);
            assert_eq!(units::count(c, V::V2025, UnitKind::Commune)?, 3321);
            assert_eq!(units::count(c, V::V2024, UnitKind::Province)?, 63);
            assert_eq!(units::count(c, V::V2024, UnitKind::Commune)?, 10_035);
            Ok(())
        })
        .unwrap();
    assert_eq!(
        restored.read(|c| Ok(counts(c))).unwrap(),
        src.read(|c| Ok(counts(c))).unwrap()
    );
    restored.close_idle();
    drop(restored);
    assert!(!Path::new(&format!("{}-journal", target_file.0.display())).exists());
}

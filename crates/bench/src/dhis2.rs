//! `dantoc-bench dhis2 [--rows N] [--only sqlite|postgres]`: what DHIS2 UIDs cost a
//! `dataValueSets` import and export (issue #4). The values of the import benchmark (indicator
//! `0101`, pre-2025 communes, 2000–2024, `E01.M` … `E54.F`) are imported into a fresh database
//! once with codes and once with UIDs (every commune, the indicator and the 108
//! disaggregations mapped beforehand, untimed), as `POST /api/dataValueSets` does after
//! parsing: `dhis2::translate_import`, then `values::import`. Then the UIDs of the export of
//! every value are looked up (`dhis2::export_ids`), timed beside the query that reads the
//! values.

use super::{Engine, Error, generate, report, thousands, with_db};
use dantoc_domain::dhis2::{IdScheme, IdSchemes};
use dantoc_store::audit::Actor;
use dantoc_store::dhis2::{self, MappingInput};
use dantoc_store::values::{self, ImportOptions, RawValue, ValueFilter};
use dantoc_store::{Db, Val};
use std::time::{Duration, Instant};

struct Args {
    rows: usize,
    only: Option<Engine>,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        rows: 1_000_000,
        only: None,
    };
    let mut it = args;
    while let Some(k) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--rows" => {
                let v = value()?;
                a.rows = v
                    .replace(['_', ','], "")
                    .parse()
                    .map_err(|_| format!("--rows: not a number: {v}"))?;
            }
            "--only" => {
                a.only = Some(match value()?.to_ascii_lowercase().as_str() {
                    "sqlite" => Engine::Sqlite,
                    "postgres" | "postgresql" | "pg" => Engine::Postgres,
                    o => return Err(format!("--only: unknown engine {o:?}")),
                })
            }
            o => {
                return Err(format!(
                    "unknown argument {o:?}\nusage: dantoc-bench dhis2 [--rows N] [--only sqlite|postgres]"
                ));
            }
        }
    }
    Ok(a)
}

fn unit_uid(i: usize) -> String {
    format!("OU{i:09}")
}

fn disagg_uid(d: &str) -> String {
    // E07.F → CO07FAAAAAA
    format!("CO{}{}AAAAAA", &d[1..3], &d[4..5])
}

const INDICATOR_UID: &str = "dE0101AAAAA";

/// The benchmark's values with codes and with UIDs, and the mappings between them.
struct Sets {
    codes: Vec<RawValue>,
    uids: Vec<RawValue>,
    mappings: Vec<MappingInput>,
}

fn sets(rows: usize) -> Result<Sets, Error> {
    let data = generate(rows)?;
    let mut codes = Vec::with_capacity(rows);
    let mut uids = Vec::with_capacity(rows);
    for it in &data.items {
        let d = it.disagg();
        let raw = RawValue {
            indicator: super::INDICATOR.into(),
            unit: format!("{}@2024", data.communes[it.commune as usize]),
            period: it.year.to_string(),
            disagg: d.clone(),
            value: Some(it.value.to_string()),
            ..Default::default()
        };
        uids.push(RawValue {
            indicator: INDICATOR_UID.into(),
            unit: unit_uid(it.commune as usize),
            disagg: disagg_uid(&d),
            ..raw.clone()
        });
        codes.push(raw);
    }
    let m = |kind: &str, code: String, uid: String| MappingInput {
        kind: kind.into(),
        code,
        uid,
    };
    let mut mappings = vec![m(
        "indicator",
        super::INDICATOR.into(),
        INDICATOR_UID.into(),
    )];
    for (i, c) in data.communes.iter().enumerate() {
        mappings.push(m("unit", format!("{c}@2024"), unit_uid(i)));
    }
    for e in 1..=super::ETHNIC_GROUPS {
        for s in ["M", "F"] {
            let d = format!("E{e:02}.{s}");
            mappings.push(m("disaggregation", d.clone(), disagg_uid(&d)));
        }
    }
    Ok(Sets {
        codes,
        uids,
        mappings,
    })
}

struct Timing {
    engine: Engine,
    rows: usize,
    codes: Duration,
    translate: Duration,
    uids: Duration,
    query: Duration,
    export_ids: Duration,
}

fn import(db: &Db, items: Vec<Result<RawValue, dantoc_domain::FieldError>>) -> Result<(), Error> {
    let actor = Actor {
        name: "bench".into(),
        origin: "bench".into(),
    };
    let opts = ImportOptions {
        what: "bench: dataValueSets".into(),
        ..Default::default()
    };
    let rows = items.len();
    let s = values::import(db, &actor, &opts, items, &|_, e| e)?;
    if s.status != "SUCCESS" || s.import_count.imported != rows as u64 {
        return Err(format!(
            "import refused: {} {:?}",
            s.description,
            s.conflicts.first()
        )
        .into());
    }
    Ok(())
}

/// Both imports into fresh databases (`open` makes one from a name), then the export lookups.
fn runs(
    engine: Engine,
    sets: &Sets,
    open: &dyn Fn(&str) -> Result<Db, Error>,
) -> Result<Timing, Error> {
    let rows = sets.codes.len();
    eprintln!("{}", engine.name());
    let db = open("codes")?;
    let t = Instant::now();
    import(&db, sets.codes.iter().cloned().map(Ok).collect())?;
    let codes = t.elapsed();
    report("import, codes", rows, codes);
    db.close_idle();
    drop(db);

    let db = open("uids")?;
    let n = db.write(|c| {
        dhis2::put(
            c,
            &Actor::system(),
            &sets.mappings,
            None,
            "bench",
            &|_, e| e,
        )
    })?;
    eprintln!("    {} mappings", n.created);
    let schemes = IdSchemes::all(IdScheme::Uid);
    let raws = sets.uids.clone();
    let t = Instant::now();
    let tr = db.read(|c| dhis2::translate_import(c, &schemes, None, raws))?;
    let translate = t.elapsed();
    import(&db, tr.items)?;
    let uids = t.elapsed();
    report("import, UIDs (translation and import)", rows, uids);
    eprintln!(
        "      of which translating {rows} values: {:.3} s",
        translate.as_secs_f64()
    );

    let f = ValueFilter {
        limit: i64::MAX / 2,
        ..Default::default()
    };
    let t = Instant::now();
    let list = db.read(|c| values::query(c, &f))?;
    let query = t.elapsed();
    let t = Instant::now();
    let ids = db.read(|c| dhis2::export_ids(c, &schemes, &list))?;
    let export_ids = t.elapsed();
    if list.len() != rows || ids.unmapped_count != 0 {
        return Err(format!(
            "export: {} values, {} unmapped",
            list.len(),
            ids.unmapped_count
        )
        .into());
    }
    eprintln!(
        "    export of {rows} values: query {:.2} s, UID lookups {:.3} s",
        query.as_secs_f64(),
        export_ids.as_secs_f64()
    );
    db.close_idle();
    Ok(Timing {
        engine,
        rows,
        codes,
        translate,
        uids,
        query,
        export_ids,
    })
}

fn sqlite(sets: &Sets) -> Result<Timing, Error> {
    let dir = std::env::temp_dir().join(format!("dantoc-bench-dhis2-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let open = |name: &str| -> Result<Db, Error> {
        let p = dir.join(format!("{name}.db"));
        Ok(dantoc_store::open(p.to_str().ok_or("path not UTF-8")?)?)
    };
    let r = runs(Engine::Sqlite, sets, &open);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn postgres(sets: &Sets) -> Result<Timing, Error> {
    let admin_url = std::env::var("DANTOC_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
        .map_err(|e| format!("cannot reach PostgreSQL: {e}"))?;
    let name = |n: &str| format!("dantoc_bench_dhis2_{}_{n}", std::process::id());
    let made = std::cell::RefCell::new(vec![]);
    let open = |n: &str| -> Result<Db, Error> {
        let db = name(n);
        let mut a = postgres::Client::connect(&admin_url, postgres::NoTls)?;
        // two statements: CREATE DATABASE cannot run inside the implicit transaction of a batch
        a.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))?;
        a.batch_execute(&format!("CREATE DATABASE {db}"))?;
        made.borrow_mut().push(db.clone());
        let db = dantoc_store::open(&with_db(&admin_url, &db))?;
        // start the timed part from a clean checkpoint
        db.read(|c| c.query("CHECKPOINT", &[] as &[Val]).map(|_| ()))?;
        Ok(db)
    };
    let r = runs(Engine::Postgres, sets, &open);
    for db in made.borrow().iter() {
        if let Err(e) = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")) {
            eprintln!("    could not drop database {db}: {e}");
        }
    }
    r
}

pub fn main(args: impl Iterator<Item = String>) -> i32 {
    let a = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let sets = match sets(a.rows) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut out = vec![];
    for (engine, run) in [
        (Engine::Sqlite, sqlite as fn(&Sets) -> Result<Timing, Error>),
        (Engine::Postgres, postgres),
    ] {
        if a.only.is_some_and(|o| o != engine) {
            continue;
        }
        match run(&sets) {
            Ok(t) => out.push(t),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    let rate = |d: Duration, n: usize| thousands(n as f64 / d.as_secs_f64());
    println!(
        "| engine | values | import with codes (values/s) | import with UIDs (values/s) | UIDs / codes | translating the UIDs | export: query | export: UID lookups |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for t in &out {
        println!(
            "| {} | {} | {} | {} | {:.0} % | {:.3} s | {:.2} s | {:.3} s |",
            t.engine.name(),
            thousands(t.rows as f64),
            rate(t.codes, t.rows),
            rate(t.uids, t.rows),
            100.0 * t.codes.as_secs_f64() / t.uids.as_secs_f64(),
            t.translate.as_secs_f64(),
            t.query.as_secs_f64(),
            t.export_ids.as_secs_f64()
        );
    }
    0
}

//! Import benchmark (issue #2): how fast does dantoc import a CSV of data values, compared with
//! the fastest plain way to put the same rows into each engine?
//!
//! 1. Generates, deterministically, a CSV of N values (default 1,000,000) in dantoc's columns:
//!    indicator `0101` (integer, by ethnic group and sex), real pre-2025 communes written as
//!    `CODE@2024`, yearly periods 2000–2024, disaggregations `E01.M` … `E54.F`; no key repeats.
//! 2. SQLite: times the product's import of that file into a fresh database (parse, check,
//!    write, all-or-nothing in one transaction), then a reference: the same rows, resolved to
//!    ids in memory beforehand, written with one prepared `INSERT` in one transaction into a
//!    bare table (same columns, no keys, indexes or triggers) in another fresh file with the
//!    same PRAGMAs.
//! 3. PostgreSQL: the same product import into a throwaway database, then a reference: binary
//!    `COPY` of the same rows into a bare (logged) table in that database.
//!
//! `dantoc-bench [--rows N] [--only sqlite|postgres]`; PostgreSQL from `DANTOC_BENCH_PG_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`). Run it in release mode.
//!
//! `dantoc-bench server [--binary PATH] [--starts N] [--idle SECONDS]`: start-up time and idle
//! memory of the release server binary (see `server.rs`; `cargo build --release` first).
//!
//! `dantoc-bench analytics [--scale F] [--only sqlite|postgres] [--runs N] [--keep]
//! [--no-duckdb]`: pivots over a national dataset on both engines and in DuckDB (issue #5, see
//! `analytics.rs`).
//!
//! `dantoc-bench gis [--binary PATH] [--runs N] [--only sqlite|postgres]`: OGC API – Features
//! pages of 1,000 communes on both engines (issue #6, see `gis.rs`).
//!
//! `dantoc-bench validation [--rows N] [--only sqlite|postgres]`: the import with the
//! validation rules on and off (issue #4, see `validation.rs`).
//! `dantoc-bench dhis2 [--rows N] [--only sqlite|postgres]`: the cost of DHIS2 UIDs in a
//! `dataValueSets` import and export (issue #4, see `dhis2.rs`).
//!
//! `dantoc-bench entry [--binary PATH] [--clients N] [--saves N] [--warm-up N] [--cells N]
//! [--only sqlite|postgres]`: one-cell saves on the data entry page by 50 concurrent commune
//! officers against the release server (issue #4, see `entry.rs`).

mod analytics;
mod dhis2;
mod entry;
mod gis;
mod server;
mod validation;

use dantoc_domain::admin::{HierarchyVersion, UnitKind};
use dantoc_domain::period::Period;
use dantoc_store::audit::Actor;
use dantoc_store::values::ImportOptions;
use dantoc_store::{Db, csv_values, values};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

const INDICATOR: &str = "0101";
const FIRST_YEAR: u16 = 2000;
const LAST_YEAR: u16 = 2024;
const ETHNIC_GROUPS: u8 = 54;
const SQLITE_MIN_RATE: f64 = 200_000.0;
const POSTGRES_MIN_RATE: f64 = 100_000.0;
const MIN_RATIO: f64 = 0.5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
    fn min_rate(self) -> f64 {
        match self {
            Engine::Sqlite => SQLITE_MIN_RATE,
            Engine::Postgres => POSTGRES_MIN_RATE,
        }
    }
    fn reference(self) -> &'static str {
        match self {
            Engine::Sqlite => "prepared INSERT, one transaction, bare table",
            Engine::Postgres => "binary COPY, one transaction, bare table",
        }
    }
}

struct Args {
    rows: usize,
    only: Option<Engine>,
}

const USAGE: &str = "usage: dantoc-bench [--rows N] [--only sqlite|postgres]\n       dantoc-bench server [--binary PATH] [--starts N] [--idle SECONDS]\n       dantoc-bench analytics [--scale F] [--only sqlite|postgres] [--runs N] [--keep] [--no-duckdb]\n       dantoc-bench gis [--binary PATH] [--runs N] [--only sqlite|postgres]\n       dantoc-bench validation [--rows N] [--only sqlite|postgres]\n       dantoc-bench dhis2 [--rows N] [--only sqlite|postgres]\n       dantoc-bench entry [--binary PATH] [--clients N] [--saves N] [--warm-up N] [--cells N] [--only sqlite|postgres]";

/// One command-line option of a benchmark: `--name value` or `--name=value`.
pub struct Opt {
    pub name: String,
    inline: Option<String>,
}

impl Opt {
    pub fn parse(a: String) -> Opt {
        match a.split_once('=') {
            Some((n, v)) => Opt {
                name: n.to_string(),
                inline: Some(v.to_string()),
            },
            None => Opt {
                name: a,
                inline: None,
            },
        }
    }

    /// Its value: after `=`, else the next argument.
    pub fn value(
        &self,
        rest: &mut impl Iterator<Item = String>,
        usage: &str,
    ) -> Result<String, String> {
        self.inline
            .clone()
            .or_else(|| rest.next())
            .ok_or_else(|| format!("{} needs a value\n{usage}", self.name))
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        rows: 1_000_000,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let opt = crate::Opt::parse(a);
        let name = opt.name.clone();
        let mut value = || opt.value(&mut it, USAGE);
        match name.as_str() {
            "--rows" => {
                let v = value()?;
                args.rows = v
                    .replace(['_', ','], "")
                    .parse()
                    .map_err(|_| format!("--rows: not a number: {v}"))?;
                if args.rows == 0 {
                    return Err("--rows must be at least 1".into());
                }
            }
            "--only" => {
                args.only = Some(match value()?.to_ascii_lowercase().as_str() {
                    "sqlite" => Engine::Sqlite,
                    "postgres" | "postgresql" | "pg" => Engine::Postgres,
                    o => return Err(format!("--only: unknown engine {o:?}\n{USAGE}")),
                })
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            o => return Err(format!("unknown argument {o:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

// ---------------------------------------------------------------- data

/// splitmix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One generated value.
#[derive(Clone, Copy)]
struct Item {
    /// Index into [`Data::communes`].
    commune: u32,
    year: u16,
    /// Ethnic group, 1..=54 (GSO 2008 list).
    ethnic: u8,
    female: bool,
    value: u32,
}

impl Item {
    fn disagg(&self) -> String {
        format!(
            "E{:02}.{}",
            self.ethnic,
            if self.female { 'F' } else { 'M' }
        )
    }
}

struct Data {
    /// Codes of the communes used (pre-2025 hierarchy), spread evenly over the country.
    communes: Vec<String>,
    items: Vec<Item>,
}

/// Plan `rows` values: communes picked evenly from the pre-2025 list (so that every region is
/// present), ordered as a yearly export would be: by year, then commune, ethnic group and sex.
fn generate(rows: usize) -> Result<Data, Error> {
    let all: Vec<String> = dantoc_store::seed::seed_units()
        .into_iter()
        .filter(|u| u.version == HierarchyVersion::V2024 && u.kind == UnitKind::Commune)
        .map(|u| u.code)
        .collect();
    let years = (LAST_YEAR - FIRST_YEAR + 1) as usize;
    let per_commune = years * ETHNIC_GROUPS as usize * 2;
    let needed = rows.div_ceil(per_commune);
    if needed > all.len() {
        return Err(format!(
            "at most {} distinct values can be generated ({} communes × {per_commune})",
            all.len() * per_commune,
            all.len()
        )
        .into());
    }
    let communes: Vec<String> = (0..needed)
        .map(|i| all[i * all.len() / needed].clone())
        .collect();
    let mut rng = Rng(0x2024_0101_0000_0002);
    let mut items = Vec::with_capacity(rows);
    'all: for year in FIRST_YEAR..=LAST_YEAR {
        for commune in 0..needed as u32 {
            for ethnic in 1..=ETHNIC_GROUPS {
                for female in [false, true] {
                    if items.len() == rows {
                        break 'all;
                    }
                    // most groups are absent from most communes; a few are large
                    let r = rng.next();
                    let size = rng.next();
                    let value = match r % 100 {
                        0..40 => 0,
                        40..75 => size % 50,
                        75..95 => size % 2_000,
                        _ => size % 20_000,
                    } as u32;
                    items.push(Item {
                        commune,
                        year,
                        ethnic,
                        female,
                        value,
                    });
                }
            }
        }
    }
    Ok(Data { communes, items })
}

fn write_csv(data: &Data, path: &Path) -> Result<u64, Error> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(w, "indicator,unit,period,disaggregation,value")?;
    for it in &data.items {
        writeln!(
            w,
            "{INDICATOR},{}@2024,{},E{:02}.{},{}",
            data.communes[it.commune as usize],
            it.year,
            it.ethnic,
            if it.female { 'F' } else { 'M' },
            it.value
        )?;
    }
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// A value resolved to ids and stored text, as the product writes it.
struct RefRow {
    indicator_id: i64,
    unit_id: i64,
    period: String,
    disagg_id: i64,
    month_start: i64,
    month_end: i64,
    value: f64,
    value_text: String,
}

const STORED_BY: &str = "bench";

/// The reference rows, with the ids the product gave the same values in `db` (not timed).
fn reference_rows(db: &Db, data: &Data) -> Result<Vec<RefRow>, Error> {
    let (indicator_id, units, disaggs) = db.read(|c| {
        let ind = c.scalar_i64(
            "SELECT id FROM indicator WHERE code = $1",
            &[INDICATOR.into()],
        )?;
        let mut units = HashMap::new();
        for r in c.query(
            "SELECT code, id FROM admin_unit WHERE version = $1",
            &[HierarchyVersion::V2024.as_str().into()],
        )? {
            units.insert(r.str(0), r.i64(1));
        }
        let mut disaggs = HashMap::new();
        for r in c.query("SELECT code, id FROM disaggregation", &[])? {
            disaggs.insert(r.str(0), r.i64(1));
        }
        Ok((ind, units, disaggs))
    })?;
    let unit_ids: Vec<i64> = data
        .communes
        .iter()
        .map(|c| {
            units
                .get(c)
                .copied()
                .ok_or(format!("unit {c}@2024 missing"))
        })
        .collect::<Result<_, _>>()?;
    let mut periods = HashMap::new();
    for y in FIRST_YEAR..=LAST_YEAR {
        let p: Period = y.to_string().parse().map_err(|e| format!("{e}"))?;
        periods.insert(y, p);
    }
    data.items
        .iter()
        .map(|it| {
            let p = periods[&it.year];
            let (ms, me) = p.month_range();
            let d = it.disagg();
            Ok(RefRow {
                indicator_id,
                unit_id: unit_ids[it.commune as usize],
                period: p.to_string(),
                disagg_id: *disaggs
                    .get(&d)
                    .ok_or(format!("disaggregation {d} missing"))?,
                month_start: ms as i64,
                month_end: me as i64,
                value: it.value as f64,
                value_text: it.value.to_string(),
            })
        })
        .collect()
}

const REF_COLUMNS: &str = "indicator_id, unit_id, period, disagg_id, month_start, month_end, value,
    value_text, comment, followup, demo, source, stored_by, created_at, updated_at, version";

// ---------------------------------------------------------------- runs

struct Outcome {
    engine: Engine,
    rows: usize,
    product: Duration,
    reference: Duration,
}

impl Outcome {
    fn product_rate(&self) -> f64 {
        self.rows as f64 / self.product.as_secs_f64()
    }
    fn reference_rate(&self) -> f64 {
        self.rows as f64 / self.reference.as_secs_f64()
    }
    fn ratio(&self) -> f64 {
        self.product_rate() / self.reference_rate()
    }
    fn met(&self) -> bool {
        self.ratio() >= MIN_RATIO && self.product_rate() >= self.engine.min_rate()
    }
}

/// The product's import of the CSV file, exactly as the CLI and the web do it.
fn product_import(db: &Db, csv: &Path, rows: usize) -> Result<Duration, Error> {
    let actor = Actor {
        name: STORED_BY.into(),
        origin: "bench".into(),
    };
    let opts = ImportOptions {
        what: csv
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..Default::default()
    };
    let t = Instant::now();
    let reader = csv_values::open(File::open(csv)?).map_err(|e| e.to_string())?;
    let loc = reader.locator();
    let s = values::import(db, &actor, &opts, reader, &|i, e| loc.locate(i, e))?;
    let took = t.elapsed();
    if s.status != "SUCCESS" || s.import_count.imported != rows as u64 {
        return Err(format!(
            "import did not take every value: {} {:?} {:?}",
            s.description,
            s.import_count,
            s.conflicts.first()
        )
        .into());
    }
    let stored = db.read(values::count)?;
    if stored != rows as i64 {
        return Err(format!("{stored} values stored, {rows} expected").into());
    }
    Ok(took)
}

fn report(what: &str, rows: usize, took: Duration) {
    eprintln!(
        "    {what}: {rows} values in {:.2} s = {} values/s",
        took.as_secs_f64(),
        thousands(rows as f64 / took.as_secs_f64())
    );
}

fn run_sqlite(dir: &Path, csv: &Path, data: &Data) -> Result<Outcome, Error> {
    let rows = data.items.len();
    eprintln!("SQLite");
    let file = dir.join("product.db");
    let db = dantoc_store::open(path_str(&file)?)?;
    let product = product_import(&db, csv, rows)?;
    report("product import", rows, product);
    let refs = reference_rows(&db, data)?;
    drop(db);

    // the reference: same PRAGMAs as the product's connections (db.rs, open_sqlite)
    let mut conn = rusqlite::Connection::open(dir.join("reference.db"))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000;",
    )?;
    conn.execute_batch(
        "CREATE TABLE data_value (
            indicator_id INTEGER NOT NULL, unit_id INTEGER NOT NULL, period TEXT NOT NULL,
            disagg_id INTEGER NOT NULL, month_start INTEGER NOT NULL, month_end INTEGER NOT NULL,
            value REAL, value_text TEXT NOT NULL, comment TEXT, followup INTEGER NOT NULL DEFAULT 0,
            demo INTEGER NOT NULL DEFAULT 0, source TEXT, stored_by TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1
         )",
    )?;
    let now = dantoc_store::clock::now();
    let t = Instant::now();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut st = tx.prepare(&format!(
            "INSERT INTO data_value ({REF_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        ))?;
        for r in &refs {
            st.execute(rusqlite::params![
                r.indicator_id,
                r.unit_id,
                r.period,
                r.disagg_id,
                r.month_start,
                r.month_end,
                r.value,
                r.value_text,
                None::<&str>,
                0i64,
                0i64,
                None::<&str>,
                STORED_BY,
                now,
                now,
                1i64
            ])?;
        }
    }
    tx.commit()?;
    let reference = t.elapsed();
    report("reference (plain INSERT)", rows, reference);
    let n: i64 = conn.query_row("SELECT count(*) FROM data_value", [], |r| r.get(0))?;
    if n != rows as i64 {
        return Err(format!("reference: {n} rows stored, {rows} expected").into());
    }
    Ok(Outcome {
        engine: Engine::Sqlite,
        rows,
        product,
        reference,
    })
}

fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority..].find('/') {
        Some(i) => &base[..authority + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

fn run_postgres(csv: &Path, data: &Data) -> Result<Outcome, Error> {
    let rows = data.items.len();
    let admin_url = std::env::var("DANTOC_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    eprintln!("PostgreSQL ({})", dantoc_store::db::redact_url(&admin_url));
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
        .map_err(|e| format!("cannot reach PostgreSQL at {admin_url}: {e}"))?;
    let name = format!("dantoc_bench_{}", std::process::id());
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let url = with_db(&admin_url, &name);
    let r = postgres_runs(&url, csv, data, rows);
    if let Err(e) = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")) {
        eprintln!("    could not drop database {name}: {e}");
    }
    r
}

fn postgres_runs(url: &str, csv: &Path, data: &Data, rows: usize) -> Result<Outcome, Error> {
    use postgres::binary_copy::BinaryCopyInWriter;
    use postgres::types::Type;
    let db = dantoc_store::open(url)?;
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    // start both timed parts from a clean checkpoint
    client.batch_execute("CHECKPOINT")?;
    let product = product_import(&db, csv, rows)?;
    report("product import", rows, product);
    let refs = reference_rows(&db, data)?;
    db.close_idle();
    drop(db);

    client.batch_execute(
        "CREATE TABLE data_value_ref (
            indicator_id BIGINT NOT NULL, unit_id BIGINT NOT NULL, period TEXT NOT NULL,
            disagg_id BIGINT NOT NULL, month_start BIGINT NOT NULL, month_end BIGINT NOT NULL,
            value DOUBLE PRECISION, value_text TEXT NOT NULL, comment TEXT,
            followup BIGINT NOT NULL DEFAULT 0, demo BIGINT NOT NULL DEFAULT 0, source TEXT,
            stored_by TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            version BIGINT NOT NULL DEFAULT 1
         );
         CHECKPOINT",
    )?;
    let types = [
        Type::INT8,
        Type::INT8,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::FLOAT8,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
    ];
    let now = dantoc_store::clock::now();
    let none: Option<&str> = None;
    let t = Instant::now();
    let mut tx = client.transaction()?;
    let sink = tx.copy_in(&format!(
        "COPY data_value_ref ({REF_COLUMNS}) FROM STDIN (FORMAT binary)"
    ))?;
    let mut w = BinaryCopyInWriter::new(sink, &types);
    for r in &refs {
        w.write(&[
            &r.indicator_id,
            &r.unit_id,
            &r.period,
            &r.disagg_id,
            &r.month_start,
            &r.month_end,
            &r.value,
            &r.value_text,
            &none,
            &0i64,
            &0i64,
            &none,
            &STORED_BY,
            &now,
            &now,
            &1i64,
        ])?;
    }
    w.finish()?;
    tx.commit()?;
    let reference = t.elapsed();
    report("reference (binary COPY)", rows, reference);
    let n: i64 = client
        .query_one("SELECT count(*) FROM data_value_ref", &[])?
        .get(0);
    if n != rows as i64 {
        return Err(format!("reference: {n} rows stored, {rows} expected").into());
    }
    Ok(Outcome {
        engine: Engine::Postgres,
        rows,
        product,
        reference,
    })
}

// ---------------------------------------------------------------- output

fn path_str(p: &Path) -> Result<&str, Error> {
    p.to_str()
        .ok_or_else(|| format!("not a UTF-8 path: {}", p.display()).into())
}

/// `1234567.8` → `1,234,568`.
fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn table(outcomes: &[Outcome]) -> String {
    let mut t = String::from(
        "| engine | product import (values/s) | reference (values/s) | ratio | target | met |\n\
         | --- | ---: | ---: | ---: | --- | --- |\n",
    );
    for o in outcomes {
        t.push_str(&format!(
            "| {} | {} ({:.2} s) | {} ({:.2} s; {}) | {:.0}% | ≥ {:.0}% of reference and ≥ {} values/s | {} |\n",
            o.engine.name(),
            thousands(o.product_rate()),
            o.product.as_secs_f64(),
            thousands(o.reference_rate()),
            o.reference.as_secs_f64(),
            o.engine.reference(),
            o.ratio() * 100.0,
            MIN_RATIO * 100.0,
            thousands(o.engine.min_rate()),
            if o.met() { "yes" } else { "**no**" },
        ));
    }
    t
}

fn server_main() {
    let args = match server::parse_args(std::env::args().skip(2)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match server::run(&args) {
        Ok(outcome) => {
            println!("{}", outcome.table());
            if !outcome.met() {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("server") {
        return server_main();
    }
    if std::env::args().nth(1).as_deref() == Some("dhis2") {
        std::process::exit(dhis2::main(std::env::args().skip(2)));
    }
    if std::env::args().nth(1).as_deref() == Some("entry") {
        match entry::parse_args(std::env::args().skip(2)) {
            Ok(a) => std::process::exit(entry::main(a)),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
    if std::env::args().nth(1).as_deref() == Some("gis") {
        std::process::exit(gis::main(std::env::args().skip(2)));
    }
    if std::env::args().nth(1).as_deref() == Some("validation") {
        match validation::parse_args(std::env::args().skip(2)) {
            Ok(a) => std::process::exit(validation::main(a)),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
    if std::env::args().nth(1).as_deref() == Some("analytics") {
        match analytics::parse_args(std::env::args().skip(2)) {
            Ok(a) => std::process::exit(analytics::main(a)),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let dir = std::env::temp_dir().join(format!("dantoc-bench-{}", std::process::id()));
    let r = run(&args, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    match r {
        Ok(outcomes) => {
            println!("{}", table(&outcomes));
            if outcomes.iter().any(|o| !o.met()) {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

fn run(args: &Args, dir: &PathBuf) -> Result<Vec<Outcome>, Error> {
    std::fs::create_dir_all(dir)?;
    let t = Instant::now();
    let data = generate(args.rows)?;
    let csv = dir.join("values.csv");
    let bytes = write_csv(&data, &csv)?;
    eprintln!(
        "generated {} values ({} communes × {}–{} × 54 ethnic groups × 2 sexes) in {} ({:.1} MB) in {:.1} s",
        data.items.len(),
        data.communes.len(),
        FIRST_YEAR,
        LAST_YEAR,
        csv.display(),
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let mut outcomes = vec![];
    if args.only != Some(Engine::Postgres) {
        outcomes.push(run_sqlite(dir, &csv, &data)?);
    }
    if args.only != Some(Engine::Sqlite) {
        outcomes.push(run_postgres(&csv, &data)?);
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_keys_are_unique() {
        let a = generate(30_000).unwrap();
        let b = generate(30_000).unwrap();
        assert_eq!(a.items.len(), 30_000);
        let keys: std::collections::HashSet<_> = a
            .items
            .iter()
            .map(|i| (a.communes[i.commune as usize].clone(), i.year, i.disagg()))
            .collect();
        assert_eq!(keys.len(), 30_000);
        assert!(a.items.iter().zip(&b.items).all(|(x, y)| (
            x.commune, x.year, x.ethnic, x.female, x.value
        ) == (
            y.commune, y.year, y.ethnic, y.female, y.value
        )));
    }

    #[test]
    fn urls_and_numbers() {
        assert_eq!(
            with_db("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_db("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_db("postgres://u@h/p?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(12.0), "12");
    }
}

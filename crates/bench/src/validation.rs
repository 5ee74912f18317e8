//! Import with validation rules (issue #4): how fast does the product import a CSV of data
//! values when the validation rules run, against the same import with the rules off?
//!
//! 1. Generates, deterministically, a CSV of N values (default 1,000,000) shaped like a yearly
//!    report of ethnic-minority figures, so that every rule has its operands in the file: for
//!    each commune (real pre-2025 communes, `CODE@2024`) and year 2000–2024, for each of the 54
//!    ethnic groups the population by sex (`0101`, `E01.M` …), the households (`x-ho-dtts`,
//!    `E01` …) and the poor households (`x-ho-ngheo-dtts`), then the total population
//!    (`x-pop-total`: total, men, women) — 219 values per commune and year.
//! 2. For each engine, four timed imports of that file, each from opening the file to the
//!    commit, exactly as the CLI and the web do it (`csv_values::open`, `values::import`):
//!    - *rules off*: `ImportOptions::validation = Off`, into a fresh database; then *rules off,
//!      again*: the same file once more into that database (every value stored already: the
//!      import compares and updates nothing);
//!    - *rules on*: the default (`Refuse`), into another fresh database, with the seed rules
//!      (poor households ≤ households, cell by cell; minority population ≤ total population, on
//!      totals; population not negative; …) and one more warning added for the benchmark
//!      (poor households × 2 ≤ households, cell by cell), which some generated cells break:
//!      they are reported, not refused;
//!    - *rules on, again*: the same file once more into the second database: the rules on totals
//!      now read the stored values too (loaded set-based: one query per period and 500 units).
//!
//! `dantoc-bench validation [--rows N] [--only sqlite|postgres]`; PostgreSQL from
//! `DANTOC_BENCH_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`). Release mode.
//! With `RUST_LOG=dantoc_store::validation=debug`, each import logs the time the rules took.

use dantoc_domain::admin::{HierarchyVersion, UnitKind};
use dantoc_domain::validation::{Importance, Operator, RuleDef};
use dantoc_store::audit::Actor;
use dantoc_store::validation::ValidationMode;
use dantoc_store::values::{ImportOptions, ImportSummary};
use dantoc_store::{Db, csv_values, values};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

pub const USAGE: &str = "usage: dantoc-bench validation [--rows N] [--only sqlite|postgres]";

const FIRST_YEAR: u16 = 2000;
const LAST_YEAR: u16 = 2024;
const GROUPS: u32 = 54;
const PER_UNIT_YEAR: usize = GROUPS as usize * 4 + 3;
const TARGET: f64 = 100_000.0;

pub struct Args {
    rows: usize,
    sqlite: bool,
    postgres: bool,
}

pub fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        rows: 1_000_000,
        sqlite: true,
        postgres: true,
    };
    while let Some(a) = it.next() {
        let opt = crate::Opt::parse(a);
        let name = opt.name.clone();
        let mut value = || opt.value(&mut it, USAGE);
        match name.as_str() {
            "--rows" => {
                let v = value()?;
                args.rows = v
                    .replace(['_', ','], "")
                    .parse::<usize>()
                    .map_err(|_| format!("--rows: not a number: {v}"))?
                    .max(1);
            }
            "--only" => match value()?.to_ascii_lowercase().as_str() {
                "sqlite" => args.postgres = false,
                "postgres" | "postgresql" | "pg" => args.sqlite = false,
                o => return Err(format!("--only: unknown engine {o:?}\n{USAGE}")),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            o => return Err(format!("unknown argument {o:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// Write the CSV; returns the number of communes used and the warnings planted (cells where
/// poor households × 2 > households).
fn write_csv(rows: usize, path: &Path) -> Result<(usize, u64), Error> {
    let all: Vec<String> = dantoc_store::seed::seed_units()
        .into_iter()
        .filter(|u| u.version == HierarchyVersion::V2024 && u.kind == UnitKind::Commune)
        .map(|u| u.code)
        .collect();
    let years = (LAST_YEAR - FIRST_YEAR + 1) as usize;
    let needed = rows.div_ceil(PER_UNIT_YEAR * years);
    if needed > all.len() {
        return Err(format!("at most {} values", all.len() * PER_UNIT_YEAR * years).into());
    }
    let communes: Vec<&String> = (0..needed).map(|i| &all[i * all.len() / needed]).collect();
    let mut rng = crate::Rng(0x2024_0004_0000_0001);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(w, "indicator,unit,period,disaggregation,value")?;
    let (mut n, mut planted) = (0usize, 0u64);
    let mut line = |w: &mut BufWriter<File>, s: std::fmt::Arguments| -> Result<bool, Error> {
        if n == rows {
            return Ok(false);
        }
        w.write_fmt(s)?;
        n += 1;
        Ok(true)
    };
    'all: for year in FIRST_YEAR..=LAST_YEAR {
        for c in &communes {
            let mut minority = 0u64;
            for g in 1..=GROUPS {
                // most groups are absent from most communes; a few are large
                let size = match rng.next() % 100 {
                    0..40 => 0,
                    40..75 => rng.next() % 100,
                    75..95 => rng.next() % 4_000,
                    _ => rng.next() % 40_000,
                };
                let men = size / 2;
                let women = size - men;
                let households = size.div_ceil(4);
                // poverty 0–60 %: above half is reported by the benchmark's warning
                let poor = households * (rng.next() % 61) / 100;
                if poor * 2 > households {
                    planted += 1;
                }
                minority += size;
                for (ind, d, v) in [
                    ("0101", format!("E{g:02}.M"), men),
                    ("0101", format!("E{g:02}.F"), women),
                    ("x-ho-dtts", format!("E{g:02}"), households),
                    ("x-ho-ngheo-dtts", format!("E{g:02}"), poor),
                ] {
                    if !line(&mut w, format_args!("{ind},{c}@2024,{year},{d},{v}\n"))? {
                        break 'all;
                    }
                }
            }
            let total = minority + rng.next() % 20_000;
            let men = total / 2;
            for (d, v) in [("default", total), ("M", men), ("F", total - men)] {
                if !line(
                    &mut w,
                    format_args!("x-pop-total,{c}@2024,{year},{d},{v}\n"),
                )? {
                    break 'all;
                }
            }
        }
    }
    w.flush()?;
    Ok((needed, planted))
}

/// The warning the benchmark adds to the seed rules.
fn bench_rule() -> RuleDef {
    RuleDef {
        code: "bench-ngheo-qua-nua".into(),
        name_vi: "Hộ nghèo DTTS không quá nửa số hộ DTTS".into(),
        left: "#{x-ho-ngheo-dtts} * 2".into(),
        operator: Some(Operator::Le),
        right: "#{x-ho-dtts}".into(),
        importance: Importance::Warning,
        ..Default::default()
    }
}

struct Timed {
    took: Duration,
    summary: ImportSummary,
}

fn import(db: &Db, csv: &Path, mode: ValidationMode) -> Result<Timed, Error> {
    let actor = Actor {
        name: "bench".into(),
        origin: "bench".into(),
    };
    let opts = ImportOptions {
        what: "values.csv".into(),
        validation: mode,
        ..Default::default()
    };
    let t = Instant::now();
    let reader = csv_values::open(File::open(csv)?).map_err(|e| e.to_string())?;
    let loc = reader.locator();
    let summary = values::import(db, &actor, &opts, reader, &|i, e| loc.locate(i, e))?;
    let took = t.elapsed();
    if summary.status != "SUCCESS" {
        return Err(format!(
            "the import was refused: {} {:?}",
            summary.description,
            summary.conflicts.first()
        )
        .into());
    }
    Ok(Timed { took, summary })
}

struct Line {
    engine: &'static str,
    what: &'static str,
    rows: usize,
    timed: Timed,
}

impl Line {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.timed.took.as_secs_f64()
    }
}

fn engine_runs(
    engine: &'static str,
    open: &mut dyn FnMut(&str) -> Result<Db, Error>,
    csv: &Path,
    rows: usize,
) -> Result<Vec<Line>, Error> {
    eprintln!("{engine}");
    let mut out = vec![];
    let mut run = |db: &Db, what: &'static str, mode| -> Result<(), Error> {
        let timed = import(db, csv, mode)?;
        let s = &timed.summary;
        eprintln!(
            "    {what}: {rows} values in {:.2} s = {} values/s; {} rule evaluations, {} violations (imported {}, updated {}, ignored {})",
            timed.took.as_secs_f64(),
            crate::thousands(rows as f64 / timed.took.as_secs_f64()),
            crate::thousands(s.validation_checks as f64),
            crate::thousands(s.validation_count as f64),
            s.import_count.imported,
            s.import_count.updated,
            s.import_count.ignored,
        );
        out.push(Line {
            engine,
            what,
            rows,
            timed,
        });
        Ok(())
    };
    let off = open("off")?;
    run(&off, "rules off", ValidationMode::Off)?;
    run(&off, "rules off, again (all stored)", ValidationMode::Off)?;
    off.close_idle();
    drop(off);
    let on = open("on")?;
    on.write(|c| dantoc_store::validation::create(c, &Actor::system(), &bench_rule()))?;
    run(&on, "rules on", ValidationMode::Refuse)?;
    run(&on, "rules on, again (all stored)", ValidationMode::Refuse)?;
    on.close_idle();
    Ok(out)
}

fn table(lines: &[Line]) -> String {
    let mut t = String::from(
        "| engine | import | values/s | time | rule evaluations | violations reported | target |\n\
         | --- | --- | ---: | ---: | ---: | ---: | --- |\n",
    );
    for l in lines {
        let s = &l.timed.summary;
        let target = if l.what == "rules on" && l.engine == "SQLite" {
            format!(
                "≥ {} values/s: {}",
                crate::thousands(TARGET),
                if l.rate() >= TARGET {
                    "met"
                } else {
                    "**not met**"
                }
            )
        } else {
            String::new()
        };
        t.push_str(&format!(
            "| {} | {} | {} | {:.2} s | {} | {} | {} |\n",
            l.engine,
            l.what,
            crate::thousands(l.rate()),
            l.timed.took.as_secs_f64(),
            crate::thousands(s.validation_checks as f64),
            crate::thousands(s.validation_count as f64),
            target
        ));
    }
    t
}

pub fn main(args: Args) -> i32 {
    // `RUST_LOG=dantoc_store::validation=debug` shows how long the rules took in each import
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let dir = std::env::temp_dir().join(format!("dantoc-bench-validation-{}", std::process::id()));
    let r = run(&args, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    match r {
        Ok(lines) => {
            println!("{}", table(&lines));
            let met = lines
                .iter()
                .filter(|l| l.engine == "SQLite" && l.what == "rules on")
                .all(|l| l.rate() >= TARGET);
            if met { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn run(args: &Args, dir: &Path) -> Result<Vec<Line>, Error> {
    std::fs::create_dir_all(dir)?;
    let csv = dir.join("values.csv");
    let t = Instant::now();
    let (communes, planted) = write_csv(args.rows, &csv)?;
    eprintln!(
        "generated {} values ({communes} communes × {FIRST_YEAR}–{LAST_YEAR} × {PER_UNIT_YEAR} values: 0101 by ethnic group and sex, x-ho-dtts and x-ho-ngheo-dtts by ethnic group, x-pop-total) in {:.1} MB in {:.1} s; {planted} cells break the benchmark's warning",
        args.rows,
        std::fs::metadata(&csv)?.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let mut lines = vec![];
    if args.sqlite {
        let mut open = |name: &str| -> Result<Db, Error> {
            let f = dir.join(format!("{name}.db"));
            Ok(dantoc_store::open(crate::path_str(&f)?)?)
        };
        lines.extend(engine_runs("SQLite", &mut open, &csv, args.rows)?);
    }
    if args.postgres {
        let admin_url = std::env::var("DANTOC_BENCH_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .map_err(|e| format!("cannot reach PostgreSQL at {admin_url}: {e}"))?;
        let base = format!("dantoc_bench_validation_{}", std::process::id());
        let mut made = vec![];
        let r = {
            let mut open = |name: &str| -> Result<Db, Error> {
                let db = format!("{base}_{name}");
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))?;
                admin.batch_execute(&format!("CREATE DATABASE {db}"))?;
                made.push(db.clone());
                let url = crate::with_db(&admin_url, &db);
                let d = dantoc_store::open(&url)?;
                // start the timed import from a clean checkpoint
                admin.batch_execute("CHECKPOINT")?;
                Ok(d)
            };
            engine_runs("PostgreSQL", &mut open, &csv, args.rows)
        };
        for db in made {
            if let Err(e) =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            {
                eprintln!("    could not drop database {db}: {e}");
            }
        }
        lines.extend(r?);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_file_has_every_operand_and_the_asked_rows() {
        let dir = tempfile_dir();
        let csv = dir.join("v.csv");
        let (communes, planted) = write_csv(10_000, &csv).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        assert_eq!(text.lines().count(), 10_001);
        assert!(communes >= 2 && planted > 0);
        for ind in ["0101,", "x-ho-dtts,", "x-ho-ngheo-dtts,", "x-pop-total,"] {
            assert!(text.lines().any(|l| l.starts_with(ind)), "{ind}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("dantoc-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}

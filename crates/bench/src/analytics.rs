//! Analytics benchmark (issue #5): pivots over a national dataset on SQLite and PostgreSQL
//! through the product path, the same questions in DuckDB on the same data.
//!
//! 1. Generates, deterministically, a national dataset into a fresh database of each engine
//!    (opened with `dantoc_store::open`: migrations and the real reference units): 150
//!    indicators (sums, averages, weighted averages by population, one derived ratio), yearly,
//!    broken down by ethnic group × sex, with values for 2016–2025 on every current (2025)
//!    commune — the years before 2025 too, for simplicity — each commune with its own 2–6
//!    ethnic groups (avg. 4, one majority, Kinh often). ~40 million values at `--scale 1`.
//!    Values go in by direct bulk SQL (SQLite: prepared multi-row `INSERT`s, one transaction
//!    per indicator, the product's PRAGMAs; PostgreSQL: binary `COPY`), then every (indicator,
//!    period) pair is marked dirty and `analytics::refresh_all` builds the pre-aggregates.
//! 2. Three pivots as DHIS2-style requests through `analytics::pivot` (the product path): one
//!    indicator by province × year × ethnic group; ten indicators for the communes of one
//!    province in 2025; national totals of every indicator in 2025 by DTTS/Kinh. Freshness:
//!    one value written through `values::import` must be in the very next pivot, before any
//!    refresh; pivots right after a write (dirty pairs read from the values) are timed apart.
//!    A background refresher (`analytics::refresh` every 500 ms, as the server runs it) runs
//!    during the timed runs.
//! 3. DuckDB (Python's `duckdb` wheel, in a venv under `target/`) loads the same rows from a
//!    CSV and runs the same three questions; the answers are compared cell by cell.
//!
//! `dantoc-bench analytics [--scale F] [--only sqlite|postgres] [--runs N] [--keep]
//! [--no-duckdb]`; PostgreSQL from `DANTOC_BENCH_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Run it in release mode.

use crate::{Engine, Error, path_str, thousands, with_db};
use dantoc_domain::analytics::{Computed, DimId, Request};
use dantoc_domain::disagg::Dimension;
use dantoc_domain::indicator::{Aggregation, Indicator, ValueType};
use dantoc_domain::period::{Period, PeriodType};
use dantoc_store::audit::Actor;
use dantoc_store::values::{ImportOptions, RawValue};
use dantoc_store::{Db, analytics, indicators, values};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const FIRST_YEAR: u16 = 2016;
const LAST_YEAR: u16 = 2025;
const YEARS: usize = (LAST_YEAR - FIRST_YEAR + 1) as usize;
const INDICATORS: usize = 150;
/// Indicator codes: `B001` … `B150`.
const POPULATION: &str = "B001";
const TARGET_MS: f64 = 100.0;
const PG_DB: &str = "dantoc_bench_analytics";
/// The province of the second pivot: Tuyên Quang (2025), 124 communes, many ethnic groups.
const Q2_PROVINCE: &str = "08";
const Q2_INDICATORS: [&str; 10] = [
    "B001", "B002", "B003", "B050", "B101", "B102", "B121", "B122", "B140", "B150",
];
/// Provinces (2025 codes) where most communes have an ethnic-minority majority.
const HIGHLAND: [&str; 14] = [
    "04", "08", "11", "12", "14", "15", "19", "20", "51", "52", "66", "68", "92", "96",
];
const DUCKDB_VERSION: &str = "2.0.1";

pub struct Args {
    scale: f64,
    only: Option<Engine>,
    runs: usize,
    keep: bool,
    /// Use the databases a `--keep` run left when they hold the same dataset.
    reuse: bool,
    /// Time the SQL of the pivots apart from the whole pivot (where the time goes).
    diagnose: bool,
    duckdb: bool,
}

const USAGE: &str = "usage: dantoc-bench analytics [--scale F] [--only sqlite|postgres] [--runs N] [--keep] [--reuse] [--no-duckdb]";

pub fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = Args {
        scale: 1.0,
        only: None,
        runs: 50,
        keep: false,
        reuse: false,
        diagnose: false,
        duckdb: true,
    };
    let mut it = args;
    while let Some(a) = it.next() {
        let opt = crate::Opt::parse(a);
        let name = opt.name.clone();
        let mut value = || opt.value(&mut it, USAGE);
        match name.as_str() {
            "--scale" => {
                let v = value()?;
                out.scale = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && *s <= 1.0)
                    .ok_or(format!("--scale: a number in (0, 1]: {v}"))?;
            }
            "--runs" => {
                let v = value()?;
                out.runs = v
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(format!("--runs: a positive number: {v}"))?;
            }
            "--only" => {
                out.only = Some(match value()?.to_ascii_lowercase().as_str() {
                    "sqlite" => Engine::Sqlite,
                    "postgres" | "postgresql" | "pg" => Engine::Postgres,
                    o => return Err(format!("--only: unknown engine {o:?}\n{USAGE}")),
                })
            }
            "--keep" => out.keep = true,
            "--reuse" => out.reuse = true,
            "--diagnose" => out.diagnose = true,
            "--no-duckdb" => out.duckdb = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            o => return Err(format!("unknown argument {o:?}\n{USAGE}")),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- the dataset

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in [0, 1) from a key, the same whatever order values are generated in.
fn noise(parts: &[u64]) -> f64 {
    let mut h = 0x5EED_0005_u64;
    for p in parts {
        h = mix(h ^ p.wrapping_mul(0x1000_0000_01B3));
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Population,
    /// A count: population × rate.
    Count(f64),
    /// A level averaged over values (e.g. an amount per person).
    Level(f64),
    /// A percentage, averaged weighted by population.
    Percent,
    /// `B002 / B001 × 100`, computed after aggregation.
    Derived,
}

struct IndDef {
    code: String,
    kind: Kind,
}

impl IndDef {
    fn rule(&self) -> Aggregation {
        match self.kind {
            Kind::Population | Kind::Count(_) => Aggregation::Sum,
            Kind::Level(_) => Aggregation::Average,
            Kind::Percent => Aggregation::WeightedAverage,
            Kind::Derived => Aggregation::None,
        }
    }
    fn weight(&self) -> Option<&'static str> {
        (self.kind == Kind::Percent).then_some(POPULATION)
    }
    fn stored(&self) -> bool {
        self.kind != Kind::Derived
    }
    fn indicator(&self) -> Indicator {
        let (value_type, unit, formula) = match self.kind {
            Kind::Population | Kind::Count(_) => (ValueType::Integer, "người", None),
            Kind::Level(_) => (ValueType::Number, "nghìn đồng", None),
            Kind::Percent => (ValueType::Percent, "%", None),
            Kind::Derived => (
                ValueType::Percent,
                "%",
                Some("#{B002} / #{B001} * 100".to_string()),
            ),
        };
        Indicator {
            code: self.code.clone(),
            name_vi: format!("Chỉ tiêu thử nghiệm {}", self.code),
            name_en: format!("Benchmark indicator {}", self.code),
            topic: "Benchmark".into(),
            unit: unit.into(),
            value_type,
            aggregation: self.rule(),
            weight_indicator: self.weight().map(str::to_string),
            disaggregations: if formula.is_some() {
                vec![]
            } else {
                vec![Dimension::Ethnic, Dimension::Sex]
            },
            period_type: PeriodType::Yearly,
            formula,
            legal_source: String::new(),
            main_disaggregations: String::new(),
            publication_period: "Năm".into(),
            responsible_agency: String::new(),
            higher_level_code: String::new(),
            concept: String::new(),
            method: String::new(),
            data_source: "dantoc-bench analytics".into(),
            provisional: true,
        }
    }
}

/// B001 population; B002–B100 counts; B101–B120 levels (average); B121–B149 percentages
/// weighted by population; B150 = B002 / B001 × 100.
fn indicator_defs() -> Vec<IndDef> {
    (1..=INDICATORS)
        .map(|i| {
            let kind = match i {
                1 => Kind::Population,
                2..=100 => Kind::Count(0.01 + 0.4 * noise(&[1, i as u64])),
                101..=120 => Kind::Level(10.0 + 990.0 * noise(&[2, i as u64])),
                121..=149 => Kind::Percent,
                _ => Kind::Derived,
            };
            IndDef {
                code: format!("B{i:03}"),
                kind,
            }
        })
        .collect()
}

struct Commune {
    code: String,
    province: String,
    /// Population in 2025.
    pop: f64,
    /// (index into the ethnic groups, share of the population), the majority first.
    groups: Vec<(usize, f64)>,
}

struct Plan {
    /// GSO 2008 codes, in code order; Kinh ("01") first.
    ethnic: Vec<String>,
    communes: Vec<Commune>,
    inds: Vec<IndDef>,
}

impl Plan {
    fn stored_inds(&self) -> usize {
        self.inds.iter().filter(|i| i.stored()).count()
    }
    fn rows(&self) -> usize {
        let per_year: usize = self.communes.iter().map(|c| c.groups.len() * 2).sum();
        per_year * YEARS * self.stored_inds()
    }

    /// The value of one key; `None` for derived indicators.
    fn value(&self, ind: usize, commune: usize, year: u16, group: usize, female: bool) -> f64 {
        let c = &self.communes[commune];
        let (eth, share) = c.groups[group];
        let pop_year = c.pop * (1.0 - 0.012 * (LAST_YEAR - year) as f64);
        let people = (pop_year * share * if female { 0.505 } else { 0.495 })
            .round()
            .max(1.0);
        let n = noise(&[
            3,
            ind as u64,
            commune as u64,
            year as u64,
            eth as u64,
            female as u64,
        ]);
        match self.inds[ind].kind {
            Kind::Population => people,
            Kind::Count(rate) => (people * rate * (0.8 + 0.4 * n)).round(),
            Kind::Level(base) => (base * (0.7 + 0.6 * n) * 10.0).round() / 10.0,
            Kind::Percent => ((20.0 + 60.0 * n) * 10.0).round() / 10.0,
            Kind::Derived => f64::NAN,
        }
    }
}

/// Plan the dataset: which communes (all at scale 1, else evenly spread), their population and
/// ethnic groups. `communes`: (code, province code) of the current communes in id order;
/// `ethnic`: (GSO 2008 code, population 2019).
fn plan(communes: &[(String, String)], ethnic: &[(String, f64)], scale: f64) -> Plan {
    let total = communes.len();
    let n = ((total as f64 * scale).round() as usize).clamp(1, total);
    let picked: Vec<&(String, String)> = (0..n).map(|i| &communes[i * total / n]).collect();
    let kinh = ethnic.iter().position(|e| e.0 == "01").unwrap_or(0);
    // minorities weighted by √population: large groups common, small ones present somewhere
    let weights: Vec<f64> = ethnic
        .iter()
        .enumerate()
        .map(|(i, e)| if i == kinh { 0.0 } else { e.1.max(1.0).sqrt() })
        .collect();
    let draw = |r: f64, exclude: &[usize]| -> usize {
        let total: f64 = weights
            .iter()
            .enumerate()
            .filter(|(i, _)| !exclude.contains(i))
            .map(|(_, w)| w)
            .sum();
        let mut x = r * total;
        for (i, w) in weights.iter().enumerate() {
            if exclude.contains(&i) || *w == 0.0 {
                continue;
            }
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(kinh)
    };
    // each province has three local minorities most of its communes draw from
    let mut locals: HashMap<String, Vec<usize>> = HashMap::new();
    let mut out = vec![];
    for (k, (code, province)) in picked.iter().enumerate() {
        let pcode = province.parse::<u64>().unwrap_or(0);
        let local = locals
            .entry(province.clone())
            .or_insert_with(|| {
                let mut l: Vec<usize> = vec![];
                for j in 0..3 {
                    let mut ex = l.clone();
                    ex.push(kinh);
                    l.push(draw(noise(&[4, pcode, j]), &ex));
                }
                l
            })
            .clone();
        let cid = k as u64;
        let highland = HIGHLAND.contains(&province.as_str());
        let size = 2 + (mix(cid ^ 0xC0FFEE) % 5) as usize; // 2..=6, avg. 4
        let mut groups: Vec<usize> = vec![];
        let minority_majority = noise(&[5, cid]) < if highland { 0.7 } else { 0.1 };
        if minority_majority {
            groups.push(local[(noise(&[6, cid]) * 3.0) as usize % 3]);
            if noise(&[7, cid]) < 0.8 {
                groups.push(kinh);
            }
        } else {
            groups.push(kinh);
        }
        let mut j = 0;
        while groups.len() < size {
            let g = if noise(&[8, cid, j]) < 0.6 {
                local[(noise(&[9, cid, j]) * 3.0) as usize % 3]
            } else {
                let mut ex = groups.clone();
                ex.push(kinh);
                draw(noise(&[10, cid, j]), &ex)
            };
            if !groups.contains(&g) {
                groups.push(g);
            }
            j += 1;
        }
        let major = 0.5 + 0.4 * noise(&[11, cid]);
        let rest: Vec<f64> = (1..groups.len())
            .map(|j| 0.1 + noise(&[12, cid, j as u64]))
            .collect();
        let rest_total: f64 = rest.iter().sum();
        let mut shares = vec![(groups[0], major)];
        for (g, w) in groups[1..].iter().zip(&rest) {
            shares.push((*g, (1.0 - major) * w / rest_total));
        }
        out.push(Commune {
            code: code.clone(),
            province: province.clone(),
            pop: (3_000.0 + 30_000.0 * noise(&[13, cid])).round(),
            groups: shares,
        });
    }
    Plan {
        ethnic: ethnic.iter().map(|e| e.0.clone()).collect(),
        communes: out,
        inds: indicator_defs(),
    }
}

/// Ids of the plan's references in one database.
struct Ids {
    /// By indicator index (0 for derived ones).
    inds: Vec<i64>,
    units: Vec<i64>,
    /// Per commune: (disaggregation id, group index, female), in id order.
    disaggs: Vec<Vec<(i64, usize, bool)>>,
}

/// Reference data of the dataset (not timed): indicators through `indicators::insert`, the
/// ethnic × sex disaggregations; then the ids of everything the rows refer to.
fn prepare(db: &Db, plan: &Plan) -> Result<Ids, Error> {
    db.write(|c| {
        for d in &plan.inds {
            if indicators::get(c, &d.code)?.is_none() {
                indicators::insert(c, &d.indicator())?;
            }
        }
        for e in &plan.ethnic {
            for (s, sex) in [("M", "male"), ("F", "female")] {
                let code = format!("E{e}.{s}");
                if c.query_one(
                    "SELECT id FROM disaggregation WHERE code = $1",
                    &[code.as_str().into()],
                )?
                .is_none()
                {
                    c.execute(
                        "INSERT INTO disaggregation (code, ethnic_code, sex) VALUES ($1, $2, $3)",
                        &[code.as_str().into(), e.as_str().into(), sex.into()],
                    )?;
                }
            }
        }
        Ok(())
    })?;
    let (inds, units, disaggs) = db.read(|c| {
        let mut inds = HashMap::new();
        for r in c.query("SELECT code, id FROM indicator", &[])? {
            inds.insert(r.str(0), r.i64(1));
        }
        let mut units = HashMap::new();
        for r in c.query(
            "SELECT code, id FROM admin_unit WHERE version = '2025'",
            &[],
        )? {
            units.insert(r.str(0), r.i64(1));
        }
        let mut disaggs = HashMap::new();
        for r in c.query("SELECT code, id FROM disaggregation", &[])? {
            disaggs.insert(r.str(0), r.i64(1));
        }
        Ok((inds, units, disaggs))
    })?;
    let by_ethnic: Vec<(i64, i64)> = plan
        .ethnic
        .iter()
        .map(|e| (disaggs[&format!("E{e}.M")], disaggs[&format!("E{e}.F")]))
        .collect();
    let ids = Ids {
        inds: plan
            .inds
            .iter()
            .map(|d| if d.stored() { inds[&d.code] } else { 0 })
            .collect(),
        units: plan.communes.iter().map(|c| units[&c.code]).collect(),
        disaggs: plan
            .communes
            .iter()
            .map(|c| {
                let mut v: Vec<(i64, usize, bool)> = vec![];
                for (g, (e, _)) in c.groups.iter().enumerate() {
                    v.push((by_ethnic[*e].0, g, false));
                    v.push((by_ethnic[*e].1, g, true));
                }
                v.sort_unstable();
                v
            })
            .collect(),
    };
    Ok(ids)
}

/// One row to write.
struct Row<'a> {
    indicator_id: i64,
    unit_id: i64,
    year: u16,
    period: &'a str,
    disagg_id: i64,
    months: (i64, i64),
    value: f64,
}

/// Every row of one stored indicator in primary-key order (period, unit, disaggregation: the
/// key is indicator, period (its first month, then its text), unit, disaggregation since
/// migration 0003).
fn each_row(
    plan: &Plan,
    ids: &Ids,
    ind: usize,
    f: &mut dyn FnMut(&Row) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut order: Vec<usize> = (0..plan.communes.len()).collect();
    order.sort_by_key(|&k| ids.units[k]);
    let periods: Vec<(String, (i64, i64))> = (FIRST_YEAR..=LAST_YEAR)
        .map(|y| {
            let p: Period = y.to_string().parse().expect("a year");
            let (a, b) = p.month_range();
            (p.to_string(), (a as i64, b as i64))
        })
        .collect();
    for (yi, (ptext, months)) in periods.iter().enumerate() {
        for &k in &order {
            for &(disagg_id, g, female) in &ids.disaggs[k] {
                f(&Row {
                    indicator_id: ids.inds[ind],
                    unit_id: ids.units[k],
                    year: FIRST_YEAR + yi as u16,
                    period: ptext,
                    disagg_id,
                    months: *months,
                    value: plan.value(ind, k, FIRST_YEAR + yi as u16, g, female),
                })?;
            }
        }
    }
    Ok(())
}

/// The value as text, as it would have been entered.
fn text(v: f64) -> String {
    format!("{v}")
}

/// A row bound into the multi-row statement and not written yet: indicator, unit, year,
/// disaggregation, months, value.
type Pending = (i64, i64, u16, i64, (i64, i64), f64);

const COLUMNS: &str = "indicator_id, unit_id, period, disagg_id, month_start, month_end, value, value_text, stored_by, created_at, updated_at";

/// SQLite: multi-row prepared `INSERT`s on one connection with the product's PRAGMAs, one
/// transaction per indicator, rows in primary-key order, foreign keys not enforced row by row
/// (as the product's bulk path: every reference was just created or read).
fn load_sqlite(path: &Path, plan: &Plan, ids: &Ids) -> Result<Duration, Error> {
    const PER: usize = 64;
    const P: usize = 8;
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000;",
    )?;
    let now = dantoc_store::clock::now();
    let tuple = |b: usize| {
        let ps: Vec<String> = (1..=P).map(|k| format!("?{}", b + k)).collect();
        format!("({}, 'bench', '{now}', '{now}')", ps.join(", "))
    };
    let many_sql = format!(
        "INSERT INTO data_value ({COLUMNS}) VALUES {}",
        (0..PER)
            .map(|j| tuple(j * P))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let one_sql = format!("INSERT INTO data_value ({COLUMNS}) VALUES {}", tuple(0));
    let mut many = conn.prepare(&many_sql)?;
    let mut one = conn.prepare(&one_sql)?;
    fn bind(st: &mut rusqlite::Statement, b: usize, r: &Row) -> rusqlite::Result<()> {
        st.raw_bind_parameter(b + 1, r.indicator_id)?;
        st.raw_bind_parameter(b + 2, r.unit_id)?;
        st.raw_bind_parameter(b + 3, r.period)?;
        st.raw_bind_parameter(b + 4, r.disagg_id)?;
        st.raw_bind_parameter(b + 5, r.months.0)?;
        st.raw_bind_parameter(b + 6, r.months.1)?;
        st.raw_bind_parameter(b + 7, r.value)?;
        st.raw_bind_parameter(b + 8, text(r.value))
    }
    let t = Instant::now();
    for (i, d) in plan.inds.iter().enumerate() {
        if !d.stored() {
            continue;
        }
        conn.execute_batch("BEGIN IMMEDIATE")?;
        // the rows bound into `many` since its last execution
        let mut pending: Vec<Pending> = Vec::with_capacity(PER);
        each_row(plan, ids, i, &mut |r| {
            bind(&mut many, pending.len() * P, r)?;
            pending.push((
                r.indicator_id,
                r.unit_id,
                r.year,
                r.disagg_id,
                r.months,
                r.value,
            ));
            if pending.len() == PER {
                many.raw_execute()?;
                pending.clear();
            }
            Ok(())
        })?;
        // the rest, one by one
        for (a, b, y, dg, m, v) in pending.drain(..) {
            let p = y.to_string();
            bind(
                &mut one,
                0,
                &Row {
                    indicator_id: a,
                    unit_id: b,
                    year: y,
                    period: &p,
                    disagg_id: dg,
                    months: m,
                    value: v,
                },
            )?;
            one.raw_execute()?;
        }
        conn.execute_batch("COMMIT")?;
        progress(i, plan.inds.len(), t);
    }
    drop(many);
    drop(one);
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(t.elapsed())
}

fn progress(i: usize, n: usize, t: Instant) {
    if (i + 1).is_multiple_of(15) {
        eprintln!(
            "    … {} of {n} indicators written ({:.0} s)",
            i + 1,
            t.elapsed().as_secs_f64()
        );
    }
}

/// PostgreSQL: binary `COPY` straight into `data_value`, one transaction per indicator, rows in
/// primary-key order, with `session_replication_role = replica` (the product's bulk path does
/// the same when the role may: no per-row foreign-key triggers).
fn load_postgres(url: &str, plan: &Plan, ids: &Ids) -> Result<Duration, Error> {
    use postgres::binary_copy::BinaryCopyInWriter;
    use postgres::types::Type;
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    client.batch_execute("SET session_replication_role = replica")?;
    let now = dantoc_store::clock::now();
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
        Type::TEXT,
        Type::TEXT,
    ];
    let t = Instant::now();
    for (i, d) in plan.inds.iter().enumerate() {
        if !d.stored() {
            continue;
        }
        let mut tx = client.transaction()?;
        let sink = tx.copy_in(&format!(
            "COPY data_value ({COLUMNS}) FROM STDIN (FORMAT binary)"
        ))?;
        let mut w = BinaryCopyInWriter::new(sink, &types);
        each_row(plan, ids, i, &mut |r| {
            w.write(&[
                &r.indicator_id,
                &r.unit_id,
                &r.period,
                &r.disagg_id,
                &r.months.0,
                &r.months.1,
                &r.value,
                &text(r.value),
                &"bench",
                &now,
                &now,
            ])?;
            Ok(())
        })?;
        w.finish()?;
        tx.commit()?;
        progress(i, plan.inds.len(), t);
    }
    Ok(t.elapsed())
}

/// Mark every (indicator, period) pair written dirty, as an import does.
fn mark_all_dirty(db: &Db, plan: &Plan, ids: &Ids) -> Result<(), Error> {
    let mut pairs = std::collections::BTreeSet::new();
    for (i, d) in plan.inds.iter().enumerate() {
        if d.stored() {
            for y in FIRST_YEAR..=LAST_YEAR {
                pairs.insert((ids.inds[i], y.to_string()));
            }
        }
    }
    db.write(|c| analytics::mark_dirty(c, &pairs))?;
    Ok(())
}

/// The facts as CSV for DuckDB, with the communes' provinces and the indicators' rules.
fn write_duckdb_inputs(dir: &Path, plan: &Plan) -> Result<u64, Error> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(dir.join("facts.csv"))?);
    writeln!(w, "ind,commune,year,eth,sex,value")?;
    for (i, d) in plan.inds.iter().enumerate() {
        if !d.stored() {
            continue;
        }
        for year in FIRST_YEAR..=LAST_YEAR {
            for (k, c) in plan.communes.iter().enumerate() {
                for (g, (e, _)) in c.groups.iter().enumerate() {
                    for (female, s) in [(false, 'M'), (true, 'F')] {
                        writeln!(
                            w,
                            "{},{},{year},{},{s},{}",
                            d.code,
                            c.code,
                            plan.ethnic[*e],
                            text(plan.value(i, k, year, g, female))
                        )?;
                    }
                }
            }
        }
    }
    w.flush()?;
    let mut u = BufWriter::new(File::create(dir.join("units.csv"))?);
    writeln!(u, "commune,province")?;
    for c in &plan.communes {
        writeln!(u, "{},{}", c.code, c.province)?;
    }
    u.flush()?;
    let mut f = BufWriter::new(File::create(dir.join("inds.csv"))?);
    writeln!(f, "code,rule,weight,num,den")?;
    for d in &plan.inds {
        // the derived ratio: num / den × 100 (B150 = B002 / B001 × 100)
        let (num, den) = if d.stored() {
            ("", "")
        } else {
            ("B002", "B001")
        };
        writeln!(
            f,
            "{},{},{},{num},{den}",
            d.code,
            d.rule().as_str(),
            d.weight().unwrap_or("")
        )?;
    }
    f.flush()?;
    Ok(std::fs::metadata(dir.join("facts.csv"))?.len())
}

// ---------------------------------------------------------------- the pivots

struct Query {
    name: &'static str,
    label: String,
    dims: Vec<String>,
}

fn queries(plan: &Plan) -> Vec<Query> {
    let years: Vec<String> = (FIRST_YEAR..=LAST_YEAR).map(|y| y.to_string()).collect();
    let all: Vec<&str> = plan.inds.iter().map(|d| d.code.as_str()).collect();
    vec![
        Query {
            name: "q1",
            label: format!("one indicator ({POPULATION}) by province × year × ethnic group"),
            dims: vec![
                format!("dx:{POPULATION}"),
                "ou:LEVEL-1".into(),
                format!("pe:{}", years.join(";")),
                "eth".into(),
            ],
        },
        Query {
            name: "q2",
            label: format!(
                "ten indicators for the communes of one province ({}), {LAST_YEAR}",
                q2_province(plan)
            ),
            dims: vec![
                format!("dx:{}", Q2_INDICATORS.join(";")),
                format!("ou:{};LEVEL-2", q2_province(plan)),
                format!("pe:{LAST_YEAR}"),
            ],
        },
        Query {
            name: "q3",
            label: format!(
                "national totals of all {} indicators, {LAST_YEAR}, by DTTS/Kinh",
                plan.inds.len()
            ),
            dims: vec![
                format!("dx:{}", all.join(";")),
                "ou:VN".into(),
                format!("pe:{LAST_YEAR}"),
                "eth:DTTS;KINH".into(),
            ],
        },
    ]
}

/// Tuyên Quang when it is in the dataset, else the province with the most communes in it.
fn q2_province(plan: &Plan) -> String {
    if plan.communes.iter().any(|c| c.province == Q2_PROVINCE) {
        return Q2_PROVINCE.into();
    }
    let mut n: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &plan.communes {
        *n.entry(&c.province).or_default() += 1;
    }
    n.into_iter()
        .max_by_key(|(_, k)| *k)
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

fn request(q: &Query) -> Result<Request, Error> {
    Request::parse(&q.dims, &[], None, None, None)
        .map_err(|p| format!("{}: bad request: {p:?}", q.name).into())
}

fn today() -> Period {
    "202611".parse().expect("a month")
}

fn pivot(db: &Db, req: &Request) -> Result<Computed, Error> {
    Ok(db.read(|c| analytics::pivot(c, req, today(), None))?)
}

type CellKey = (String, String, String, String);

/// Every cell with a value, by codes (indicator, unit, period, ethnic item or "").
fn cells(c: &Computed) -> BTreeMap<CellKey, f64> {
    let code = |id: DimId, i: u32| -> String {
        c.dim(id)
            .and_then(|d| d.items.get(i as usize))
            .map(|i| i.code.clone())
            .unwrap_or_default()
    };
    let eth = c.dim(DimId::Eth).is_some();
    c.cells
        .iter()
        .filter_map(|(k, cell)| {
            let v = cell.value?;
            Some((
                (
                    code(DimId::Dx, k[0]),
                    code(DimId::Ou, k[1]),
                    code(DimId::Pe, k[2]),
                    if eth {
                        code(DimId::Eth, k[3])
                    } else {
                        String::new()
                    },
                ),
                v,
            ))
        })
        .collect()
}

#[derive(Clone, Copy, Default)]
struct Stats {
    p50: f64,
    p95: f64,
    max: f64,
    n: usize,
}

fn stats(ms: &mut [f64]) -> Stats {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    Stats {
        p50: at(0.5),
        p95: at(0.95),
        max: ms.last().copied().unwrap_or(0.0),
        n: ms.len(),
    }
}

fn time_runs(db: &Db, req: &Request, runs: usize) -> Result<(Stats, Computed), Error> {
    let mut ms = vec![];
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let c = pivot(db, req)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some(c);
    }
    Ok((stats(&mut ms), last.expect("at least one run")))
}

/// `analytics::refresh` every 500 ms on its own thread, as the server runs it.
struct Refresher {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Refresher {
    fn start(db: &Db) -> Refresher {
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let (s, p, db) = (stop.clone(), paused.clone(), db.clone());
        let handle = std::thread::spawn(move || {
            const BATCH: usize = 64;
            while !s.load(Ordering::Relaxed) {
                if !p.load(Ordering::Relaxed) {
                    match analytics::refresh(&db, BATCH) {
                        Ok(n) if n == BATCH => continue,
                        Ok(_) => {}
                        Err(e) => eprintln!("    refresher: {e}"),
                    }
                }
                for _ in 0..10 {
                    if s.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        Refresher {
            stop,
            paused,
            handle: Some(handle),
        }
    }
    fn pause(&self, on: bool) {
        self.paused.store(on, Ordering::Relaxed);
        // let a refresh in progress end
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn put(db: &Db, ind: &str, unit: &str, period: &str, disagg: &str, v: f64) -> Result<(), Error> {
    let raw = RawValue {
        indicator: ind.into(),
        unit: unit.into(),
        period: period.into(),
        disagg: disagg.into(),
        value: Some(text(v)),
        ..Default::default()
    };
    let s = values::import(
        db,
        &Actor {
            name: "bench".into(),
            origin: "bench".into(),
        },
        &ImportOptions {
            what: "bench freshness".into(),
            ..Default::default()
        },
        std::iter::once(Ok(raw)),
        &|_, e| e,
    )?;
    if s.conflict_count != 0 || s.status != "SUCCESS" {
        return Err(format!("write refused: {} {:?}", s.description, s.conflicts).into());
    }
    Ok(())
}

fn dirty_count(db: &Db) -> Result<i64, Error> {
    Ok(db.read(|c| c.scalar_i64("SELECT count(*) FROM agg_dirty", &[]))?)
}

/// What one engine measured.
struct EngineOutcome {
    engine: Engine,
    rows: usize,
    load: Duration,
    analyze: Option<Duration>,
    refresh: Duration,
    pairs: usize,
    size: String,
    timed: Vec<Stats>,
    dirty: Vec<Stats>,
    /// Time from a write until the refresher had rebuilt its pre-aggregates.
    lag: Duration,
    cells: Vec<BTreeMap<CellKey, f64>>,
    /// Load averages before → after the timed runs.
    loadavg: String,
}

fn run_engine(
    engine: Engine,
    db: &Db,
    plan: &Plan,
    load: impl FnOnce(&Ids) -> Result<Duration, Error>,
    size: &dyn Fn(&Db) -> Result<String, Error>,
    args: &Args,
) -> Result<EngineOutcome, Error> {
    let runs = args.runs;
    let ids = prepare(db, plan)?;
    let rows = plan.rows();
    let count = || -> Result<i64, Error> {
        Ok(db.read(|c| c.scalar_i64("SELECT count(*) FROM data_value", &[]))?)
    };
    if args.reuse && count()? == rows as i64 {
        // a database kept by an earlier run: the probe value back, the rest rebuilt if dirty
        let (k, _, disagg, old) = probe(plan);
        put(
            db,
            POPULATION,
            &plan.communes[k].code,
            &LAST_YEAR.to_string(),
            &disagg,
            old,
        )?;
        let pairs = analytics::refresh_all(db)?;
        eprintln!("    reused the values of an earlier run ({pairs} pairs refreshed)");
        return measure(
            engine,
            db,
            plan,
            rows,
            Duration::ZERO,
            None,
            Duration::ZERO,
            0,
            size,
            runs,
            args.diagnose,
        );
    }
    let load = load(&ids)?;
    eprintln!(
        "    wrote {} values in {:.1} s = {} values/s",
        thousands(rows as f64),
        load.as_secs_f64(),
        thousands(rows as f64 / load.as_secs_f64())
    );
    let stored = count()?;
    if stored != rows as i64 {
        return Err(format!("{stored} values stored, {rows} expected").into());
    }
    let analyze = if engine == Engine::Postgres {
        // what autovacuum does shortly after a bulk load, done now so that plans are stable
        let t = Instant::now();
        db.read(|c| c.batch("ANALYZE"))?;
        eprintln!("    ANALYZE in {:.1} s", t.elapsed().as_secs_f64());
        Some(t.elapsed())
    } else {
        None
    };
    mark_all_dirty(db, plan, &ids)?;
    let t = Instant::now();
    let pairs = analytics::refresh_all(db)?;
    let refresh = t.elapsed();
    eprintln!(
        "    pre-aggregates of {pairs} (indicator, period) pairs built in {:.1} s",
        refresh.as_secs_f64()
    );
    if engine == Engine::Postgres {
        db.read(|c| c.batch("ANALYZE agg_value; ANALYZE agg_dirty"))?;
    }
    measure(
        engine,
        db,
        plan,
        rows,
        load,
        analyze,
        refresh,
        pairs,
        size,
        runs,
        args.diagnose,
    )
}

/// Where a pivot's time goes: the whole pivot, then its main statements alone (the same SQL
/// as `read_agg` and `raw_facts` in the store), with their plans.
fn diagnose(db: &Db, plan: &Plan) -> Result<(), Error> {
    let qs = queries(plan);
    let time = |what: &str, f: &mut dyn FnMut() -> Result<usize, Error>| -> Result<(), Error> {
        f()?;
        let mut ms = vec![];
        let mut n = 0;
        for _ in 0..10 {
            let t = Instant::now();
            n = f()?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let s = stats(&mut ms);
        eprintln!(
            "    {what}: p50 {:.1} ms, max {:.1} ms ({n} rows)",
            s.p50, s.max
        );
        Ok(())
    };
    let ids = |sql: &str| -> Result<String, Error> {
        Ok(db
            .read(|c| c.query(sql, &[]))?
            .iter()
            .map(|r| r.i64(0).to_string())
            .collect::<Vec<_>>()
            .join(","))
    };
    let provinces = ids("SELECT id FROM admin_unit WHERE version = '2025' AND kind = 'province'")?;
    let b001 = ids("SELECT id FROM indicator WHERE code = 'B001'")?;
    let all = ids("SELECT id FROM indicator WHERE code LIKE 'B%' AND formula IS NULL")?;
    let q2i = ids(&format!(
        "SELECT id FROM indicator WHERE code IN ({}) AND formula IS NULL",
        Q2_INDICATORS
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(",")
    ))?;
    let communes = ids(&format!(
        "SELECT u.id FROM admin_unit u JOIN admin_unit p ON p.id = u.parent_id
         WHERE u.version = '2025' AND u.kind = 'commune' AND p.code = '{}'",
        q2_province(plan)
    ))?;
    let quote = |v: Vec<String>| {
        v.iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(",")
    };
    // the stored periods a pivot reads: the years only, as every indicator here is yearly
    let years = |y: std::ops::RangeInclusive<u16>| quote(y.map(|y| y.to_string()).collect());
    let ten = years(FIRST_YEAR..=LAST_YEAR);
    let last = years(LAST_YEAR..=LAST_YEAR);
    let agg = |inds: &str, pers: &str, areas: &str| {
        format!(
            "SELECT area_id, indicator_id, period, disagg_id, direct, sum, n, wsum, wden, mapped, estimated
             FROM agg_value WHERE indicator_id IN ({inds}) AND period IN ({pers}) AND area_id IN ({areas})"
        )
    };
    let raw = |inds: &str, pers: &str, areas: &str| {
        // the key holds each period's first month before its text (years only here)
        let starts = pers
            .split(',')
            .map(|p| (p.trim_matches('\'').parse::<i64>().unwrap_or(0) * 12).to_string())
            .collect::<Vec<_>>()
            .join(",");
        format!(
            "SELECT r.ancestor_id, d.indicator_id, d.period, d.disagg_id, r.direct,
                    SUM(d.value * r.weight), SUM(r.weight),
                    COALESCE(SUM(d.value * w.value * r.weight), 0), COALESCE(SUM(w.value * r.weight), 0),
                    MAX(r.mapped), MAX(r.estimated)
             FROM unit_rollup r
             CROSS JOIN data_value d
             JOIN indicator i ON i.id = d.indicator_id
             LEFT JOIN indicator wi ON wi.code = i.weight_indicator
             LEFT JOIN data_value w ON w.indicator_id = wi.id AND w.month_start = d.month_start AND w.unit_id = d.unit_id
                  AND w.disagg_id = d.disagg_id AND w.period = d.period
             WHERE d.unit_id = r.unit_id
               AND r.ancestor_id IN ({areas}) AND d.indicator_id IN ({inds})
               AND d.month_start IN ({starts}) AND d.period IN ({pers})
               AND d.value IS NOT NULL
             GROUP BY r.ancestor_id, d.indicator_id, d.period, d.disagg_id, r.direct"
        )
    };
    let weighted =
        ids("SELECT id FROM indicator WHERE code = 'B001' OR weight_indicator = 'B001'")?;
    let statements = [
        ("q1 read_agg", agg(&b001, &ten, &format!("{provinces},0"))),
        ("q2 raw_facts", raw(&q2i, &last, &communes)),
        ("q3 read_agg", agg(&all, &last, "0")),
        (
            "q1 raw_facts of (B001, 2025) after a write",
            raw(&b001, "'2025'", &provinces),
        ),
        (
            "q3 raw_facts of the 30 pairs a write of B001 marks",
            raw(&weighted, "'2025'", &provinces),
        ),
    ];
    for (q, r) in qs.iter().zip(qs.iter().map(request)) {
        let r = r?;
        time(&format!("{} whole pivot", q.name), &mut || {
            Ok(pivot(db, &r)?.cells.len())
        })?;
    }
    for (what, sql) in &statements {
        let explain = if db.backend() == dantoc_store::Backend::Sqlite {
            format!("EXPLAIN QUERY PLAN {sql}")
        } else {
            format!("EXPLAIN (ANALYZE, BUFFERS) {sql}")
        };
        let lines: Vec<String> = db
            .read(|c| c.query(&explain, &[]))?
            .iter()
            .map(|r| {
                r.0.iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        eprintln!("    plan of {what}:\n      {}", lines.join("\n      "));
        time(what, &mut || Ok(db.read(|c| c.query(sql, &[]))?.len()))?;
    }
    Ok(())
}

/// The value the freshness check writes: (commune index, ethnic code, disaggregation, the
/// generated value) — the majority group's women of the first commune of the second pivot's
/// province, in the last year.
fn probe(plan: &Plan) -> (usize, String, String, f64) {
    let k = plan
        .communes
        .iter()
        .position(|c| c.province == q2_province(plan))
        .unwrap_or(0);
    let eth = plan.ethnic[plan.communes[k].groups[0].0].clone();
    let disagg = format!("E{eth}.F");
    (k, eth, disagg, plan.value(0, k, LAST_YEAR, 0, true))
}

#[allow(clippy::too_many_arguments)]
fn measure(
    engine: Engine,
    db: &Db,
    plan: &Plan,
    rows: usize,
    load: Duration,
    analyze: Option<Duration>,
    refresh: Duration,
    pairs: usize,
    size: &dyn Fn(&Db) -> Result<String, Error>,
    runs: usize,
    diagnose: bool,
) -> Result<EngineOutcome, Error> {
    let size = size(db)?;
    eprintln!("    on disk: {size}");
    if diagnose {
        self::diagnose(db, plan)?;
    }

    let qs = queries(plan);
    let reqs: Vec<Request> = qs.iter().map(request).collect::<Result<_, _>>()?;
    for r in &reqs {
        for _ in 0..5 {
            pivot(db, r)?; // warm-up
        }
    }
    let refresher = Refresher::start(db);

    // Freshness: a value written is in the very next pivot, before any refresh.
    refresher.pause(true);
    let (k, eth, disagg, old) = probe(plan);
    let eth = &eth;
    let commune = &plan.communes[k];
    let year = LAST_YEAR.to_string();
    let delta = 1000.0;
    let group = if eth == "01" { "KINH" } else { "DTTS" };
    let province = commune.province.clone();
    let before: Vec<BTreeMap<CellKey, f64>> = reqs
        .iter()
        .map(|r| pivot(db, r).map(|c| cells(&c)))
        .collect::<Result<_, _>>()?;
    let probes: [(usize, CellKey); 3] = [
        (
            0,
            (
                POPULATION.into(),
                province.clone(),
                year.clone(),
                eth.clone(),
            ),
        ),
        (
            1,
            (
                POPULATION.into(),
                commune.code.clone(),
                year.clone(),
                String::new(),
            ),
        ),
        (
            2,
            (POPULATION.into(), "VN".into(), year.clone(), group.into()),
        ),
    ];
    put(db, POPULATION, &commune.code, &year, &disagg, old + delta)?;
    if dirty_count(db)? == 0 {
        return Err("the write marked nothing dirty".into());
    }
    for (q, key) in &probes {
        let now = cells(&pivot(db, &reqs[*q])?);
        let (b, a) = (before[*q].get(key), now.get(key));
        if a.zip(b).map(|(a, b)| a - b) != Some(delta) {
            return Err(format!(
                "freshness: {} cell {key:?} was {b:?}, is {a:?} after writing +{delta} (not refreshed)",
                qs[*q].name
            )
            .into());
        }
    }
    eprintln!(
        "    freshness: +{delta} written to {POPULATION} {} {year} {disagg} is in the next pivot of each query (exact, before any refresh)",
        commune.code
    );
    // pivots while the pair is dirty: read from the values
    let mut dirty = vec![];
    for r in &reqs {
        let (s, _) = time_runs(db, r, runs.min(20))?;
        dirty.push(s);
    }
    // back to the generated value; the refresher rebuilds the pair
    put(db, POPULATION, &commune.code, &year, &disagg, old)?;
    let t = Instant::now();
    refresher.pause(false);
    while dirty_count(db)? > 0 {
        if t.elapsed() > Duration::from_secs(60) {
            return Err("the refresher did not rebuild the pre-aggregates in 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let lag = t.elapsed();
    eprintln!(
        "    refresher rebuilt the written pair {:.0} ms after it was resumed",
        lag.as_secs_f64() * 1e3
    );

    let mut timed = vec![];
    let mut outs = vec![];
    let load_before = loadavg();
    for (q, r) in qs.iter().zip(&reqs) {
        let (s, c) = time_runs(db, r, runs)?;
        eprintln!(
            "    {}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} runs, {} cells)",
            q.name,
            s.p50,
            s.p95,
            s.max,
            s.n,
            c.cells.len()
        );
        let now = cells(&c);
        // the same answer as before the write (sums may add up in another order)
        if let Err(m) = compare(&now, &before[outs.len()]) {
            return Err(format!(
                "{}: the answer changed after writing the value back: {m}",
                q.name
            )
            .into());
        }
        timed.push(s);
        outs.push(now);
    }
    drop(refresher);
    let loadavg = format!("{load_before} → {}", self::loadavg());
    eprintln!("    load average (1, 5, 15 min) before → after the timed runs: {loadavg}");
    Ok(EngineOutcome {
        engine,
        rows,
        load,
        analyze,
        refresh,
        pairs,
        size,
        timed,
        dirty,
        lag,
        cells: outs,
        loadavg,
    })
}

/// The machine's load averages (1, 5, 15 min): the machine is shared.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn gb(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

fn run_sqlite(dir: &Path, plan: &Plan, args: &Args) -> Result<EngineOutcome, Error> {
    eprintln!("SQLite");
    let file = dir.join("analytics.db");
    if !args.reuse {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", file.display()));
        }
    }
    let db = dantoc_store::open(path_str(&file)?)?;
    let size = |_: &Db| -> Result<String, Error> {
        let mut total = 0;
        for ext in ["", "-wal"] {
            total += std::fs::metadata(format!("{}{ext}", file.display()))
                .map(|m| m.len())
                .unwrap_or(0);
        }
        Ok(format!("{} ({})", gb(total), file.display()))
    };
    let r = run_engine(
        Engine::Sqlite,
        &db,
        plan,
        |ids| load_sqlite(&file, plan, ids),
        &size,
        args,
    );
    drop(db);
    if !args.keep {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", file.display()));
        }
    }
    r
}

fn run_postgres(plan: &Plan, args: &Args) -> Result<EngineOutcome, Error> {
    let admin_url = std::env::var("DANTOC_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    eprintln!("PostgreSQL ({})", dantoc_store::db::redact_url(&admin_url));
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
        .map_err(|e| format!("cannot reach PostgreSQL at {admin_url}: {e}"))?;
    let exists = !admin
        .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&PG_DB])?
        .is_empty();
    if !(args.reuse && exists) {
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))?;
        admin.batch_execute(&format!("CREATE DATABASE {PG_DB}"))?;
    }
    let url = with_db(&admin_url, PG_DB);
    let r = (|| {
        let db = dantoc_store::open(&url)?;
        let size = |db: &Db| -> Result<String, Error> {
            let (all, values, agg) = db.read(|c| {
                Ok((
                    c.scalar_i64("SELECT pg_database_size(current_database())", &[])?,
                    c.scalar_i64("SELECT pg_total_relation_size('data_value')", &[])?,
                    c.scalar_i64("SELECT pg_total_relation_size('agg_value')", &[])?,
                ))
            })?;
            Ok(format!(
                "{} (data_value with its key {}, agg_value {})",
                gb(all as u64),
                gb(values as u64),
                gb(agg as u64)
            ))
        };
        let r = run_engine(
            Engine::Postgres,
            &db,
            plan,
            |ids| load_postgres(&url, plan, ids),
            &size,
            args,
        );
        db.close_idle();
        r
    })();
    if args.keep {
        eprintln!("    kept database {PG_DB}");
    } else if let Err(e) =
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
    {
        eprintln!("    could not drop database {PG_DB}: {e}");
    }
    r
}

// ---------------------------------------------------------------- DuckDB

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv with Python's duckdb wheel (created on first use).
fn duckdb_python() -> Result<PathBuf, Error> {
    let venv = workspace().join("target/bench-venv");
    let py = venv.join("bin/python");
    let ok = |py: &Path| {
        std::process::Command::new(py)
            .args(["-c", "import duckdb"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if py.exists() && ok(&py) {
        return Ok(py);
    }
    eprintln!(
        "    creating {} with duckdb=={DUCKDB_VERSION}",
        venv.display()
    );
    let st = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()?;
    if !st.success() {
        return Err("python3 -m venv failed".into());
    }
    let st = std::process::Command::new(venv.join("bin/pip"))
        .args(["install", "-q", &format!("duckdb=={DUCKDB_VERSION}")])
        .status()?;
    if !st.success() || !ok(&py) {
        return Err("could not install duckdb into the venv".into());
    }
    Ok(py)
}

struct DuckOutcome {
    version: String,
    load_s: f64,
    size: String,
    timed: Vec<Stats>,
    cells: Vec<BTreeMap<CellKey, f64>>,
}

fn run_duckdb(dir: &Path, plan: &Plan, runs: usize) -> Result<DuckOutcome, Error> {
    eprintln!("DuckDB");
    let t = Instant::now();
    let bytes = write_duckdb_inputs(dir, plan)?;
    eprintln!(
        "    wrote facts.csv ({:.2} GB) in {:.1} s",
        bytes as f64 / 1e9,
        t.elapsed().as_secs_f64()
    );
    let py = duckdb_python()?;
    let script = workspace().join("scripts/bench-analytics-duckdb.py");
    let out = dir.join("duckdb-results.tsv");
    let st = std::process::Command::new(py)
        .arg(&script)
        .arg("--dir")
        .arg(dir)
        .args(["--runs", &runs.to_string()])
        .args(["--q1-indicator", POPULATION])
        .args(["--first-year", &FIRST_YEAR.to_string()])
        .args(["--last-year", &LAST_YEAR.to_string()])
        .args(["--q2-province", &q2_province(plan)])
        .args(["--q2-indicators", &Q2_INDICATORS.join(",")])
        .arg("--out")
        .arg(&out)
        .status()?;
    if !st.success() {
        return Err(format!("{} failed", script.display()).into());
    }
    let mut o = DuckOutcome {
        version: String::new(),
        load_s: 0.0,
        size: String::new(),
        timed: vec![Stats::default(); 3],
        cells: vec![BTreeMap::new(); 3],
    };
    let q = |s: &str| -> Result<usize, Error> {
        match s {
            "q1" => Ok(0),
            "q2" => Ok(1),
            "q3" => Ok(2),
            o => Err(format!("unknown query {o}").into()),
        }
    };
    for line in BufReader::new(File::open(&out)?).lines() {
        let line = line?;
        let f: Vec<&str> = line.split('\t').collect();
        let num = |i: usize| -> Result<f64, Error> {
            f.get(i)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad line in {}: {line}", out.display()).into())
        };
        match f[0] {
            "version" => o.version = f[1].to_string(),
            "load" => o.load_s = num(1)?,
            "size" => o.size = gb(num(1)? as u64),
            "timing" => {
                o.timed[q(f[1])?] = Stats {
                    p50: num(2)?,
                    p95: num(3)?,
                    max: num(4)?,
                    n: num(5)? as usize,
                }
            }
            "cell" => {
                o.cells[q(f[1])?].insert(
                    (f[2].into(), f[3].into(), f[4].into(), f[5].into()),
                    num(6)?,
                );
            }
            _ => {}
        }
    }
    Ok(o)
}

/// Cells that differ (relative tolerance 1e-9), at most a few named.
fn compare(a: &BTreeMap<CellKey, f64>, b: &BTreeMap<CellKey, f64>) -> Result<(), String> {
    let mut bad = vec![];
    for (k, x) in a {
        match b.get(k) {
            Some(y) if (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0) => {}
            other => bad.push(format!("{k:?}: dantoc {x}, DuckDB {other:?}")),
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            bad.push(format!("{k:?}: only in DuckDB ({})", b[k]));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        let n = bad.len();
        bad.truncate(5);
        Err(format!("{n} cells differ, e.g. {}", bad.join("; ")))
    }
}

// ---------------------------------------------------------------- main

pub fn main(args: Args) -> i32 {
    let dir = workspace().join("target/bench-analytics");
    let r = run(&args, &dir);
    if !args.keep {
        for f in [
            "facts.csv",
            "units.csv",
            "inds.csv",
            "duckdb.db",
            "duckdb-results.tsv",
        ] {
            let _ = std::fs::remove_file(dir.join(f));
        }
    }
    match r {
        Ok(met) => {
            if met {
                0
            } else {
                1
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// The current communes (code, province code) in id order and the ethnic groups (GSO 2008
/// code, 2019 population) of a fresh database.
type Reference = (Vec<(String, String)>, Vec<(String, f64)>);

fn engine_reference(db: &Db) -> Result<Reference, Error> {
    Ok(db.read(|c| {
        let communes = c
            .query(
                "SELECT u.code, p.code FROM admin_unit u JOIN admin_unit p ON p.id = u.parent_id
                 WHERE u.version = '2025' AND u.kind = 'commune' ORDER BY u.id",
                &[],
            )?
            .iter()
            .map(|r| (r.str(0), r.str(1)))
            .collect();
        let ethnic = c
            .query(
                "SELECT code_2008, population_2019 FROM ethnic_group ORDER BY code_2008",
                &[],
            )?
            .iter()
            .map(|r| (r.str(0), r.opt_f64(1).unwrap_or(1.0)))
            .collect();
        Ok((communes, ethnic))
    })?)
}

fn run(args: &Args, dir: &Path) -> Result<bool, Error> {
    std::fs::create_dir_all(dir)?;
    // the plan from the reference data a fresh database is given
    let reference = {
        let tmp = dir.join("reference.db");
        let db = dantoc_store::open(path_str(&tmp)?)?;
        let r = engine_reference(&db)?;
        drop(db);
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", tmp.display()));
        }
        r
    };
    let t = Instant::now();
    let plan = plan(&reference.0, &reference.1, args.scale);
    let groups: usize = plan.communes.iter().map(|c| c.groups.len()).sum();
    eprintln!(
        "dataset: {} communes (of {}) in {} provinces, {} indicators ({} stored), {FIRST_YEAR}–{LAST_YEAR}, {:.2} ethnic groups per commune × 2 sexes = {} values (planned in {:.1} s)",
        plan.communes.len(),
        reference.0.len(),
        plan.communes
            .iter()
            .map(|c| &c.province)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        plan.inds.len(),
        plan.stored_inds(),
        groups as f64 / plan.communes.len() as f64,
        thousands(plan.rows() as f64),
        t.elapsed().as_secs_f64()
    );
    let df = std::process::Command::new("df")
        .args(["-h", &dir.display().to_string()])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    eprintln!("{}", df.trim_end());

    let mut engines = vec![];
    if args.only != Some(Engine::Postgres) {
        engines.push(run_sqlite(dir, &plan, args)?);
    }
    if args.only != Some(Engine::Sqlite) {
        engines.push(run_postgres(&plan, args)?);
    }
    let duck = if args.duckdb {
        eprintln!("    load average before DuckDB: {}", loadavg());
        Some(run_duckdb(dir, &plan, args.runs)?)
    } else {
        None
    };

    // answers agree
    let mut agree = true;
    let qs = queries(&plan);
    if let Some(d) = &duck {
        for e in &engines {
            for (i, q) in qs.iter().enumerate() {
                let total: f64 = e.cells[i].values().sum();
                match compare(&e.cells[i], &d.cells[i]) {
                    Ok(()) => eprintln!(
                        "{} {}: {} cells, the same as DuckDB's (sum of cells {total})",
                        e.engine.name(),
                        q.name,
                        e.cells[i].len()
                    ),
                    Err(m) => {
                        agree = false;
                        eprintln!("MISMATCH {} {}: {m}", e.engine.name(), q.name);
                    }
                }
            }
        }
    }
    for e in engines.windows(2) {
        for (i, q) in qs.iter().enumerate() {
            if let Err(m) = compare(&e[0].cells[i], &e[1].cells[i]) {
                agree = false;
                eprintln!("MISMATCH SQLite/PostgreSQL {}: {m}", q.name);
            }
        }
    }

    // the tables
    println!();
    println!(
        "dataset: {} values, {} communes, {} indicators, {FIRST_YEAR}–{LAST_YEAR}",
        thousands(plan.rows() as f64),
        plan.communes.len(),
        plan.inds.len()
    );
    println!();
    println!(
        "| engine | write (values/s) | ANALYZE | pre-aggregates built (refresh_all) | on disk |"
    );
    println!("| --- | ---: | ---: | ---: | --- |");
    for e in &engines {
        println!(
            "| {} | {} | {} | {} | {} |",
            e.engine.name(),
            if e.pairs == 0 {
                "reused (an earlier run's database)".to_string()
            } else {
                format!(
                    "{:.1} s ({})",
                    e.load.as_secs_f64(),
                    thousands(e.rows as f64 / e.load.as_secs_f64())
                )
            },
            e.analyze
                .map(|a| format!("{:.1} s", a.as_secs_f64()))
                .unwrap_or_else(|| "—".into()),
            if e.pairs == 0 {
                "—".to_string()
            } else {
                format!("{:.1} s ({} pairs)", e.refresh.as_secs_f64(), e.pairs)
            },
            e.size
        );
    }
    if let Some(d) = &duck {
        println!(
            "| DuckDB {} | CSV loaded in {:.1} s | — | — | {} |",
            d.version, d.load_s, d.size
        );
    }
    println!();
    let mut head = String::from("| query |");
    let mut rule = String::from("| --- |");
    for e in &engines {
        head.push_str(&format!(" {} p50 / p95 / max (ms) |", e.engine.name()));
        rule.push_str(" ---: |");
    }
    if duck.is_some() {
        head.push_str(" DuckDB p50 / p95 / max (ms) |");
        rule.push_str(" ---: |");
        for e in &engines {
            head.push_str(&format!(" {} / DuckDB (p50) |", e.engine.name()));
            rule.push_str(" ---: |");
        }
    }
    head.push_str(" < 100 ms p95 |");
    rule.push_str(" --- |");
    println!("{head}\n{rule}");
    let mut met = agree;
    let f = |s: &Stats| format!("{:.1} / {:.1} / {:.1}", s.p50, s.p95, s.max);
    for (i, q) in qs.iter().enumerate() {
        let mut line = format!("| {} {} |", q.name, q.label);
        for e in &engines {
            line.push_str(&format!(" {} |", f(&e.timed[i])));
        }
        if let Some(d) = &duck {
            line.push_str(&format!(" {} |", f(&d.timed[i])));
            for e in &engines {
                line.push_str(&format!(" {:.2} |", e.timed[i].p50 / d.timed[i].p50));
            }
        }
        let ok = engines.iter().all(|e| e.timed[i].p95 < TARGET_MS);
        met &= ok;
        line.push_str(if ok { " yes |" } else { " **no** |" });
        println!("{line}");
    }
    println!();
    println!(
        "right after a write (the pair read from the values, refresher paused), {} runs:",
        engines.first().map(|e| e.dirty[0].n).unwrap_or(0)
    );
    println!();
    let mut head = String::from("| query |");
    let mut rule = String::from("| --- |");
    for e in &engines {
        head.push_str(&format!(" {} p50 / p95 / max (ms) |", e.engine.name()));
        rule.push_str(" ---: |");
    }
    println!("{head}\n{rule}");
    for (i, q) in qs.iter().enumerate() {
        let mut line = format!("| {} |", q.name);
        for e in &engines {
            line.push_str(&format!(" {} |", f(&e.dirty[i])));
        }
        println!("{line}");
    }
    for e in &engines {
        println!(
            "{}: pre-aggregates of the written pair rebuilt by the refresher {:.0} ms after it was resumed; load average before → after the timed runs: {}",
            e.engine.name(),
            e.lag.as_secs_f64() * 1e3,
            e.loadavg
        );
    }
    if !agree {
        println!("\n**answers differ** (see MISMATCH above)");
    }
    Ok(met)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_is_deterministic_and_shaped() {
        let communes: Vec<(String, String)> = (0..200)
            .map(|i| (format!("{:05}", i), format!("{:02}", i % 7)))
            .collect();
        let ethnic: Vec<(String, f64)> = (1..=54)
            .map(|i| (format!("{i:02}"), 1e6 / i as f64))
            .collect();
        let a = plan(&communes, &ethnic, 0.5);
        let b = plan(&communes, &ethnic, 0.5);
        assert_eq!(a.communes.len(), 100);
        let avg = a.communes.iter().map(|c| c.groups.len()).sum::<usize>() as f64 / 100.0;
        assert!((3.0..=5.0).contains(&avg), "{avg}");
        for (x, y) in a.communes.iter().zip(&b.communes) {
            assert_eq!(x.groups, y.groups);
            let share: f64 = x.groups.iter().map(|g| g.1).sum();
            assert!((share - 1.0).abs() < 1e-9);
            let mut eth: Vec<usize> = x.groups.iter().map(|g| g.0).collect();
            eth.sort_unstable();
            eth.dedup();
            assert_eq!(eth.len(), x.groups.len(), "no group twice");
        }
        assert_eq!(a.value(5, 3, 2020, 1, true), b.value(5, 3, 2020, 1, true));
        assert_eq!(a.inds.len(), 150);
        assert_eq!(a.stored_inds(), 149);
        for d in &a.inds {
            assert!(d.indicator().validate().0.is_empty(), "{}", d.code);
        }
    }

    #[test]
    fn percentiles() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = stats(&mut v);
        assert_eq!((s.p50, s.p95, s.max), (50.0, 95.0, 100.0));
    }
}

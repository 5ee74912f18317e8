//! GIS (issue #6): how long the release server takes to answer a page of 1,000 commune
//! features (`/ogcapi/collections/units-2025-commune/items?limit=1000`), on SQLite and on
//! PostgreSQL — the target is under 50 ms —, and how long a choropleth takes to draw: the
//! commune map of one province under 20 ms, the national commune map (3,321 units) under
//! 300 ms and 400 KB.
//!
//! **Rendering** (in this process, no server, no database in the timing): the boundaries are
//! read once from a fresh SQLite database opened with `dantoc_store::open` (the seed compiled
//! in), every unit is given a figure (generated, 500–30,000 "người": a full map is the largest
//! file, every tooltip carries a number and the unit), then `dantoc_report::map::choropleth`
//! draws the SVG at 1,000 px and `map::png` renders it: the communes of the province with the
//! most communes, and of the whole country. Three warm-up runs, then `--runs` timed ones.
//!
//! **Over HTTP**: the release `dantoc` binary (built beforehand with `cargo build --release`;
//! this mode builds nothing) with the demo provinces on a fresh database of each engine (SQLite
//! in a temporary data directory; a throwaway PostgreSQL database from `DANTOC_BENCH_PG_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`), then plain HTTP/1.1 GETs timed from
//! the connect to the last byte of the answer (no compression asked), after three warm-up
//! requests:
//!
//! - `pages`: pages of 1,000 communes at offsets 0, 1,000, 2,000 and 3,000 in turn (the last
//!   has 321 features);
//! - `pages + indicator`: the same with `indicator=x-pop-total&period=2024`, one pivot per page
//!   over the page's communes, as an anonymous reader;
//! - `pages, gzip`: the same pages asked with `Accept-Encoding: gzip`, as browsers and GDAL ask
//!   (compressed by the server at gzip's fastest level; the size is the compressed one);
//! - `bbox`: `bbox=103,20.5,108.5,23.4` (the north-east, 1,000 of the communes meeting it),
//!   where boundaries whose box only grazes the query's box are tested exactly;
//! - `choropleth …`: `/api/maps/choropleth.svg` and `.png` of the 2025 DTTS population (`0101`)
//!   by commune of Cao Bằng (`04;LEVEL-2`, 56 communes, all with figures) and of the country
//!   (`VN;LEVEL-2`, figures in the three demo provinces), 1,000 px wide: the pivot, the
//!   boundaries read and the drawing;
//! - `map page`: the map page of Cao Bằng (`/ban-do?ou=04`: 56 communes, 408 villages, five
//!   years of figures).
//!
//! `dantoc-bench gis [--binary PATH] [--runs N] [--only sqlite|postgres|render|pages]`. Linux only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

pub const USAGE: &str = "usage: dantoc-bench gis [--binary PATH] [--runs N] [--only sqlite|postgres|render|pages]\n\
     (build the server first: cargo build --release)";

/// OGC API items pages.
const TARGET: Duration = Duration::from_millis(50);
/// Drawing the commune map of one province, and of the whole country.
const PROVINCE_TARGET: Duration = Duration::from_millis(20);
const NATIONAL_TARGET: Duration = Duration::from_millis(300);
/// 400 KB of 1,000 bytes (the stricter reading).
const NATIONAL_MAX_BYTES: usize = 400_000;
const COLLECTION: &str = "/ogcapi/collections/units-2025-commune/items";

pub struct Args {
    binary: Option<PathBuf>,
    runs: usize,
    sqlite: bool,
    postgres: bool,
    render: bool,
    /// Only the OGC API items pages (both engines, no drawing, no choropleths).
    pages_only: bool,
}

pub fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        binary: None,
        runs: 50,
        sqlite: true,
        postgres: true,
        render: true,
        pages_only: false,
    };
    while let Some(a) = it.next() {
        let opt = crate::Opt::parse(a);
        let name = opt.name.clone();
        let mut value = || opt.value(&mut it, USAGE);
        match name.as_str() {
            "--binary" => args.binary = Some(PathBuf::from(value()?)),
            "--runs" => {
                let v = value()?;
                args.runs = v
                    .parse::<usize>()
                    .map_err(|_| format!("--runs: not a number: {v}"))?
                    .max(1);
            }
            "--only" => match value()?.to_ascii_lowercase().as_str() {
                "sqlite" => (args.postgres, args.render) = (false, false),
                "postgres" | "postgresql" | "pg" => (args.sqlite, args.render) = (false, false),
                "render" => (args.sqlite, args.postgres) = (false, false),
                "pages" => (args.render, args.pages_only) = (false, true),
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

fn binary(args: &Args) -> Result<PathBuf, Error> {
    let candidates: Vec<PathBuf> = match &args.binary {
        Some(b) => vec![b.clone()],
        None => std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join("dantoc")))
            .into_iter()
            .chain([PathBuf::from("target/release/dantoc")])
            .collect(),
    };
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| "no dantoc binary: build it first with `cargo build --release`".into())
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn start(
        bin: &Path,
        data_dir: &Path,
        database: Option<&str>,
    ) -> Result<(Server, Duration), Error> {
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = data_dir.join("server.log");
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new(bin);
        cmd.arg("--data-dir").arg(data_dir);
        if let Some(db) = database {
            cmd.args(["--database", db]);
        }
        cmd.args(["serve", "--demo", "--bind", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        for (k, _) in std::env::vars() {
            if k.starts_with("DANTOC_") {
                cmd.env_remove(k);
            }
        }
        let t = Instant::now();
        let mut server = Server {
            child: cmd.spawn()?,
            addr,
            log,
        };
        loop {
            if let Ok((200, _, _)) = get(addr, "/api/health") {
                return Ok((server, t.elapsed()));
            }
            if let Some(status) = server.child.try_wait()? {
                let log = std::fs::read_to_string(&server.log).unwrap_or_default();
                return Err(format!("the server exited ({status}):\n{log}").into());
            }
            if t.elapsed() > Duration::from_secs(600) {
                return Err("no answer from /api/health within 600 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn rss_kb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with the id of our own child, not reaped yet
            unsafe {
                kill(pid, 15);
            }
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET: status, size of the answer, time from the connect to its last byte.
fn get(addr: SocketAddr, path: &str) -> Result<(u16, usize, Duration), Error> {
    get_with(addr, path, "")
}

/// [`get`] with extra header lines (each ending in `\r\n`).
fn get_with(addr: SocketAddr, path: &str, headers: &str) -> Result<(u16, usize, Duration), Error> {
    let t = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/geo+json\r\n{headers}Connection: close\r\n\r\n"
    )?;
    let mut body = Vec::with_capacity(1 << 20);
    s.read_to_end(&mut body)?;
    let took = t.elapsed();
    let head = String::from_utf8_lossy(&body[..body.len().min(64)]).into_owned();
    let code = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {head:?}"))?;
    Ok((code, body.len(), took))
}

struct Row {
    engine: &'static str,
    case: &'static str,
    p50: Duration,
    p95: Duration,
    max: Duration,
    bytes: usize,
    /// The p95 to stay under, when the request has a target.
    target: Option<Duration>,
}

fn measure(server: &Server, engine: &'static str, c: &Case, runs: usize) -> Result<Row, Error> {
    let (case, paths, headers) = (c.name, &c.paths, c.headers);
    for p in paths.iter().take(3) {
        let (code, n, _) = get_with(server.addr, p, headers)?;
        if code != 200 {
            return Err(format!("GET {p}: {code}").into());
        }
        // boundaries, not an empty collection (a binary without them)
        if n < c.min_bytes {
            return Err(format!("GET {p}: only {n} bytes: no boundaries in this server?").into());
        }
    }
    let mut times = vec![];
    let mut bytes = 0;
    for i in 0..runs {
        let p = &paths[i % paths.len()];
        let (code, n, t) = get_with(server.addr, p, headers)?;
        if code != 200 {
            return Err(format!("GET {p}: {code}").into());
        }
        times.push(t);
        bytes += n;
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    Ok(Row {
        engine,
        case,
        p50: at(0.5),
        p95: at(0.95),
        max: *times.last().unwrap_or(&Duration::ZERO),
        bytes: bytes / runs,
        target: c.target,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A request measured: its name, the paths taken in turn, extra request headers, the least
/// size of a right answer, and its target.
struct Case {
    name: &'static str,
    paths: Vec<String>,
    headers: &'static str,
    min_bytes: usize,
    target: Option<Duration>,
}

fn cases() -> Vec<Case> {
    let pages = |extra: &str| -> Vec<String> {
        (0..4)
            .map(|k| format!("{COLLECTION}?limit=1000&offset={}{extra}", k * 1000))
            .collect()
    };
    let case = |name, paths, headers, min_bytes, target| Case {
        name,
        paths,
        headers,
        min_bytes,
        target,
    };
    let map = |ou: &str, ext: &str| {
        vec![format!(
            "/api/maps/choropleth.{ext}?indicator=0101&period=2025&ou={ou}&method=jenks&width=1000&unit=ng%C6%B0%E1%BB%9Di"
        )]
    };
    vec![
        case("pages", pages(""), "", 100_000, Some(TARGET)),
        // compression is the client's choice: shown, not a target
        case(
            "pages, gzip",
            pages(""),
            "Accept-Encoding: gzip\r\n",
            100_000,
            None,
        ),
        case(
            "pages + indicator",
            pages("&indicator=x-pop-total&period=2024"),
            "",
            100_000,
            Some(TARGET),
        ),
        case(
            "bbox",
            vec![format!("{COLLECTION}?limit=1000&bbox=103,20.5,108.5,23.4")],
            "",
            100_000,
            Some(TARGET),
        ),
        case(
            "choropleth SVG, Cao Bằng's communes",
            map("04;LEVEL-2", "svg"),
            "",
            20_000,
            None,
        ),
        case(
            "choropleth PNG, Cao Bằng's communes",
            map("04;LEVEL-2", "png"),
            "",
            20_000,
            None,
        ),
        case(
            "choropleth SVG, the country's communes",
            map("VN;LEVEL-2", "svg"),
            "",
            200_000,
            None,
        ),
        case(
            "choropleth PNG, the country's communes",
            map("VN;LEVEL-2", "png"),
            "",
            50_000,
            None,
        ),
        case(
            "map page, Cao Bằng",
            vec!["/ban-do?ou=04".into()],
            "",
            50_000,
            None,
        ),
    ]
}

fn run_engine(
    bin: &Path,
    engine: &'static str,
    database: Option<&str>,
    args: &Args,
    rows: &mut Vec<Row>,
) -> Result<(), Error> {
    let runs = args.runs;
    let dir =
        std::env::temp_dir().join(format!("dantoc-bench-gis-{}-{engine}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let r = (|| {
        eprintln!("{engine}: starting the server (reference data, boundaries, demo)…");
        let (server, start) = Server::start(bin, &dir, database)?;
        eprintln!("{engine}: ready in {:.1} s", start.as_secs_f64());
        for c in cases() {
            if args.pages_only && !c.paths[0].starts_with(COLLECTION) {
                continue;
            }
            let row = measure(&server, engine, &c, runs)?;
            eprintln!(
                "{engine} {}: p50 {} p95 {} ({} bytes an answer)",
                c.name,
                ms(row.p50),
                ms(row.p95),
                row.bytes
            );
            rows.push(row);
        }
        eprintln!(
            "{engine}: server RSS after the runs {:.1} MB",
            server.rss_kb() as f64 / 1024.0
        );
        Ok::<_, Error>(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// One drawing measured in this process.
struct Drawing {
    case: String,
    p50: Duration,
    p95: Duration,
    max: Duration,
    bytes: usize,
    /// The p95 to stay under (the SVG: PNG is for print and has none).
    target: Option<Duration>,
    max_bytes: Option<usize>,
}

/// A figure for every unit, 500–30,000, drawn from its code (splitmix64).
fn figure(code: &str) -> f64 {
    let mut z = code.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (500.0 + (z >> 11) as f64 / (1u64 << 53) as f64 * 29_500.0).round()
}

fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (Vec<Duration>, T) {
    for _ in 0..3 {
        f();
    }
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let out = f();
        times.push(t.elapsed());
        last = Some(out);
    }
    times.sort();
    (times, last.expect("at least one run"))
}

fn quantile(times: &[Duration], q: f64) -> Duration {
    times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1]
}

/// The choropleths drawn in this process: the communes of the province that has the most,
/// and of the whole country, every unit with a figure, SVG and PNG at 1,000 px.
fn render(runs: usize) -> Result<Vec<Drawing>, Error> {
    use dantoc_domain::admin::HierarchyVersion;
    use dantoc_report::classes::Breaks;
    use dantoc_report::map::{MapSpec, MapUnit, choropleth, png};
    let dir = std::env::temp_dir().join(format!("dantoc-bench-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("render.db");
    eprintln!("render: loading the reference data and the boundaries…");
    let r = (|| {
        let db = dantoc_store::open(file.to_str().ok_or("temporary path is not UTF-8")?)?;
        let (province, communes, national) = db.read(|c| {
            let rows = c.query(
                "SELECT p.code, p.full_name, count(*) FROM admin_unit p
                 JOIN admin_unit u ON u.parent_id = p.id AND u.kind = 'commune'
                 WHERE p.version = '2025' AND p.kind = 'province'
                 GROUP BY p.code, p.full_name ORDER BY count(*) DESC, p.code LIMIT 1",
                &[],
            )?;
            let (code, name) = (rows[0].str(0), rows[0].str(1));
            let mut codes = |sql: &str, p: &[dantoc_store::db::Val]| -> Result<Vec<String>, dantoc_store::StoreError> {
                Ok(c.query(sql, p)?.iter().map(|r| r.str(0)).collect())
            };
            let communes = codes(
                "SELECT code FROM admin_unit WHERE version = '2025' AND kind = 'commune'
                 AND province_code = $1 ORDER BY code",
                &[code.as_str().into()],
            )?;
            let national = codes(
                "SELECT code FROM admin_unit WHERE version = '2025' AND kind = 'commune' ORDER BY code",
                &[],
            )?;
            Ok((name, communes, national))
        })?;
        let load = |codes: Vec<String>| -> Result<Vec<MapUnit>, Error> {
            let shapes =
                db.read(|c| dantoc_store::maps::shapes(c, HierarchyVersion::V2025, &codes))?;
            Ok(shapes
                .into_iter()
                .map(|s| MapUnit {
                    value: Some(figure(&s.code)),
                    code: s.code,
                    name: s.name,
                    geometry: s.shape.unwrap_or_else(|| dantoc_domain::geo::Shape(vec![])),
                    estimated: false,
                })
                .collect())
        };
        let maps = [
            (
                format!("{province} ({} communes)", communes.len()),
                load(communes)?,
                PROVINCE_TARGET,
                None,
            ),
            (
                format!("the country ({} communes)", national.len()),
                load(national)?,
                NATIONAL_TARGET,
                Some(NATIONAL_MAX_BYTES),
            ),
        ];
        let mut out = vec![];
        for (name, units, target, max_bytes) in maps {
            for (method, label) in [(Breaks::Quantile, "quantiles"), (Breaks::Jenks, "Jenks")] {
                let spec = MapSpec {
                    title: "Dân số người dân tộc thiểu số (số liệu sinh ra để đo)".into(),
                    subtitle: "Năm 2025".into(),
                    source: "Nguồn: dantoc-bench".into(),
                    unit_of_measure: "người".into(),
                    method,
                    width_px: 1000,
                    ..MapSpec::default()
                };
                let (times, svg) = timed(runs, || choropleth(&units, &spec));
                eprintln!(
                    "render {name}, {label}: SVG p50 {} ({} bytes)",
                    ms(quantile(&times, 0.5)),
                    svg.len()
                );
                out.push(Drawing {
                    case: format!("SVG, {name}, {label}"),
                    p50: quantile(&times, 0.5),
                    p95: quantile(&times, 0.95),
                    max: *times.last().unwrap_or(&Duration::ZERO),
                    bytes: svg.len(),
                    target: Some(target),
                    max_bytes,
                });
                if method == Breaks::Quantile {
                    let (times, img) = timed(runs, || png(&svg, 1000));
                    let img = img?;
                    eprintln!(
                        "render {name}: PNG p50 {} ({} bytes)",
                        ms(quantile(&times, 0.5)),
                        img.len()
                    );
                    out.push(Drawing {
                        case: format!("PNG of that SVG, {name}"),
                        p50: quantile(&times, 0.5),
                        p95: quantile(&times, 0.95),
                        max: *times.last().unwrap_or(&Duration::ZERO),
                        bytes: img.len(),
                        target: None,
                        max_bytes: None,
                    });
                }
            }
        }
        Ok::<_, Error>(out)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    r
}

pub fn main(args: impl Iterator<Item = String>) -> i32 {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let mut rows = vec![];
    let mut failed = false;
    let mut met = true;
    if args.render {
        match render(args.runs) {
            Ok(drawings) => {
                println!(
                    "| drawing (1,000 px, every unit with a figure) | p50 | p95 | max | size | target | met |"
                );
                println!("| --- | ---: | ---: | ---: | ---: | --- | --- |");
                for d in &drawings {
                    let ok = d.target.is_none_or(|t| d.p95 < t)
                        && d.max_bytes.is_none_or(|m| d.bytes <= m);
                    met &= ok;
                    println!(
                        "| {} | {} | {} | {} | {:.1} KB | {} | {} |",
                        d.case,
                        ms(d.p50),
                        ms(d.p95),
                        ms(d.max),
                        d.bytes as f64 / 1000.0,
                        match (d.target, d.max_bytes) {
                            (Some(t), Some(m)) => format!("p95 < {}, < {} KB", ms(t), m / 1000),
                            (Some(t), None) => format!("p95 < {}", ms(t)),
                            _ => "—".into(),
                        },
                        match (d.target.is_some(), ok) {
                            (false, _) => "—",
                            (true, true) => "yes",
                            (true, false) => "**no**",
                        }
                    );
                }
                println!();
            }
            Err(e) => {
                eprintln!("error (render): {e}");
                failed = true;
            }
        }
    }
    if (args.sqlite || args.postgres)
        && let Err(e) = binary(&args).map(|b| {
            if args.sqlite
                && let Err(e) = run_engine(&b, "SQLite", None, &args, &mut rows)
            {
                eprintln!("error (SQLite): {e}");
                failed = true;
            }
            if args.postgres {
                let admin = std::env::var("DANTOC_BENCH_PG_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("dantoc_bench_gis_{}", std::process::id());
                let r = (|| {
                    let mut c = postgres::Client::connect(&admin, postgres::NoTls)?;
                    c.batch_execute(&format!("CREATE DATABASE {name}"))?;
                    let url = match admin.rfind('/') {
                        Some(i) => format!("{}/{name}", &admin[..i]),
                        None => format!("{admin}/{name}"),
                    };
                    let r = run_engine(&b, "PostgreSQL", Some(&url), &args, &mut rows);
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
                    r
                })();
                if let Err(e) = r {
                    eprintln!("error (PostgreSQL): {e}");
                    failed = true;
                }
            }
        })
    {
        eprintln!("error: {e}");
        return 2;
    }
    if !rows.is_empty() {
        println!("| engine | request | p50 | p95 | max | answer | p95 < target |");
        println!("| --- | --- | ---: | ---: | ---: | ---: | --- |");
    }
    for r in &rows {
        let ok = r.target.is_none_or(|t| r.p95 < t);
        met &= ok;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.engine,
            r.case,
            ms(r.p50),
            ms(r.p95),
            ms(r.max),
            if r.bytes >= 1_000_000 {
                format!("{:.1} MB", r.bytes as f64 / 1e6)
            } else {
                format!("{:.1} KB", r.bytes as f64 / 1000.0)
            },
            match (r.target, ok) {
                (None, _) => "(no target)".to_string(),
                (Some(t), true) => format!("yes ({})", ms(t)),
                (Some(t), false) => format!("**no** ({})", ms(t)),
            }
        );
    }
    if failed {
        2
    } else if met {
        0
    } else {
        1
    }
}

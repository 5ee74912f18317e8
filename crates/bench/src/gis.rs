//! OGC API – Features pages (issue #6): how long the release server takes to answer a page of
//! 1,000 commune features (`/ogcapi/collections/units-2025-commune/items?limit=1000`), on
//! SQLite and on PostgreSQL — the target is under 50 ms.
//!
//! Runs the release `dantoc` binary (built beforehand with `cargo build --release`; this mode
//! builds nothing) with the demo provinces on a fresh database of each engine (SQLite in a
//! temporary data directory; a throwaway PostgreSQL database from `DANTOC_BENCH_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`), then times plain HTTP/1.1 GETs from the
//! connect to the last byte of the answer (no compression asked), after three warm-up requests:
//!
//! - `pages`: pages of 1,000 communes at offsets 0, 1,000, 2,000 and 3,000 in turn (the last
//!   has 321 features);
//! - `pages + indicator`: the same with `indicator=x-pop-total&period=2024`, one pivot per page
//!   over the page's communes, as an anonymous reader;
//! - `pages, gzip`: the same pages asked with `Accept-Encoding: gzip`, as browsers and GDAL ask
//!   (compressed by the server at gzip's fastest level; the size is the compressed one);
//! - `bbox`: `bbox=103,20.5,108.5,23.4` (the north-east, 1,000 of the communes meeting it),
//!   where boundaries whose box only grazes the query's box are tested exactly.
//!
//! `dantoc-bench gis [--binary PATH] [--runs N] [--only sqlite|postgres]`. Linux only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

pub const USAGE: &str = "usage: dantoc-bench gis [--binary PATH] [--runs N] [--only sqlite|postgres]\n\
     (build the server first: cargo build --release)";

const TARGET: Duration = Duration::from_millis(50);
const COLLECTION: &str = "/ogcapi/collections/units-2025-commune/items";

pub struct Args {
    binary: Option<PathBuf>,
    runs: usize,
    sqlite: bool,
    postgres: bool,
}

pub fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        binary: None,
        runs: 50,
        sqlite: true,
        postgres: true,
    };
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
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
}

fn measure(
    server: &Server,
    engine: &'static str,
    case: &'static str,
    paths: &[String],
    headers: &str,
    runs: usize,
) -> Result<Row, Error> {
    for p in paths.iter().take(3) {
        let (code, n, _) = get_with(server.addr, p, headers)?;
        if code != 200 {
            return Err(format!("GET {p}: {code}").into());
        }
        // hundreds of boundaries, not an empty collection (a binary without them)
        if n < 100_000 {
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
    })
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// (name, paths taken in turn, extra request headers)
fn cases() -> Vec<(&'static str, Vec<String>, &'static str)> {
    let pages = |extra: &str| -> Vec<String> {
        (0..4)
            .map(|k| format!("{COLLECTION}?limit=1000&offset={}{extra}", k * 1000))
            .collect()
    };
    vec![
        ("pages", pages(""), ""),
        ("pages, gzip", pages(""), "Accept-Encoding: gzip\r\n"),
        (
            "pages + indicator",
            pages("&indicator=x-pop-total&period=2024"),
            "",
        ),
        (
            "bbox",
            vec![format!("{COLLECTION}?limit=1000&bbox=103,20.5,108.5,23.4")],
            "",
        ),
    ]
}

fn run_engine(
    bin: &Path,
    engine: &'static str,
    database: Option<&str>,
    runs: usize,
    rows: &mut Vec<Row>,
) -> Result<(), Error> {
    let dir =
        std::env::temp_dir().join(format!("dantoc-bench-gis-{}-{engine}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let r = (|| {
        eprintln!("{engine}: starting the server (reference data, boundaries, demo)…");
        let (server, start) = Server::start(bin, &dir, database)?;
        eprintln!("{engine}: ready in {:.1} s", start.as_secs_f64());
        for (case, paths, headers) in cases() {
            let row = measure(&server, engine, case, &paths, headers, runs)?;
            eprintln!(
                "{engine} {case}: p50 {} p95 {} ({} bytes a page)",
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

pub fn main(args: impl Iterator<Item = String>) -> i32 {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let bin = match binary(&args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut rows = vec![];
    let mut failed = false;
    if args.sqlite
        && let Err(e) = run_engine(&bin, "SQLite", None, args.runs, &mut rows)
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
            let r = run_engine(&bin, "PostgreSQL", Some(&url), args.runs, &mut rows);
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
            r
        })();
        if let Err(e) = r {
            eprintln!("error (PostgreSQL): {e}");
            failed = true;
        }
    }
    println!(
        "| engine | request | p50 | p95 | max | answer | p95 < {} |",
        ms(TARGET)
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | --- |");
    let mut met = true;
    for r in &rows {
        // the target is the server's answer; compression is the client's choice, shown apart
        let counted = !r.case.contains("gzip");
        let ok = r.p95 < TARGET;
        met &= ok || !counted;
        println!(
            "| {} | {} | {} | {} | {} | {:.1} MB | {} |",
            r.engine,
            r.case,
            ms(r.p50),
            ms(r.p95),
            ms(r.max),
            r.bytes as f64 / 1e6,
            match (counted, ok) {
                (false, _) => "(not a target)",
                (true, true) => "yes",
                (true, false) => "**no**",
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

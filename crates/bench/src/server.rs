//! Server start-up and idle memory (issue #2): runs the release `dantoc` binary — built
//! beforehand with `cargo build --release`; this mode builds nothing — on a fresh data directory
//! and measures
//!
//! - the first start, to the first successful `GET /api/health`: creating the SQLite database,
//!   loading the reference data and the demo provinces, then serving;
//! - later starts on the same data, to the first successful `GET /api/health` (median of N);
//! - the resident memory (`VmRSS` in `/proc/PID/status`) after a warm-up of a few page and API
//!   requests and some seconds idle, after the first start and after the last later start.
//!
//! Each server listens on a free port of 127.0.0.1 and is stopped with SIGTERM. Linux only
//! (`/proc`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

pub const USAGE: &str = "usage: dantoc-bench server [--binary PATH] [--starts N] [--idle SECONDS]\n\
     (build the server first: cargo build --release; default binary: the `dantoc` next to \
     dantoc-bench, else target/release/dantoc)";

/// The warm-up before the idle-memory reading: pages and API requests over the demo data.
const WARM_UP: [&str; 4] = [
    "/",
    "/don-vi/22",
    "/api/units",
    "/api/dataValues?unit=22&children=true",
];
const START_TARGET: Duration = Duration::from_secs(1);
const RSS_TARGET_KB: u64 = 60 * 1024;
/// How long a start may take before the benchmark gives up.
const START_LIMIT: Duration = Duration::from_secs(600);

pub struct Args {
    binary: Option<PathBuf>,
    starts: usize,
    idle: Duration,
}

pub fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        binary: None,
        starts: 5,
        idle: Duration::from_secs(5),
    };
    while let Some(a) = it.next() {
        let opt = crate::Opt::parse(a);
        let name = opt.name.clone();
        let mut value = || opt.value(&mut it, USAGE);
        let number = |v: String| -> Result<u64, String> {
            v.parse()
                .map_err(|_| format!("{name}: not a number: {v}\n{USAGE}"))
        };
        match name.as_str() {
            "--binary" => args.binary = Some(PathBuf::from(value()?)),
            "--starts" => args.starts = number(value()?)?.max(1) as usize,
            "--idle" => args.idle = Duration::from_secs(number(value()?)?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            o => return Err(format!("unknown argument {o:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// The `dantoc` binary to run: `--binary`, else the one next to this benchmark (same target
/// directory), else `target/release/dantoc`.
fn binary(args: &Args) -> Result<PathBuf, Error> {
    find_binary(args.binary.as_deref())
}

/// The `dantoc` binary: `explicit`, else the one next to this benchmark, else
/// `target/release/dantoc` (also for the other modes that start a server).
pub(crate) fn find_binary(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    let candidates: Vec<PathBuf> = match explicit {
        Some(b) => vec![b.to_path_buf()],
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
        .ok_or_else(|| {
            format!(
                "no dantoc binary at {}: build it first with `cargo build --release`",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
            .into()
        })
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGTERM: i32 = 15;

/// A running server.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    log: PathBuf,
}

/// Settings passed on to the servers benchmarked: the tuning ones, which change no data.
pub(crate) const PASSED: [&str; 2] = ["DANTOC_DB_POOL_SIZE", "DANTOC_CATALOGUE_CACHE"];

/// A `dantoc` command on `data_dir` (and `database`, a PostgreSQL URL; default: SQLite in the
/// data directory) without the caller's `DANTOC_*` settings but [`PASSED`], so that only the
/// arguments count.
pub(crate) fn command(bin: &Path, data_dir: &Path, database: Option<&str>) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("--data-dir").arg(data_dir);
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("DANTOC_") && !PASSED.contains(&k.as_str()) {
            cmd.env_remove(k);
        }
    }
    cmd
}

impl Server {
    /// Start the binary on `data_dir` and a free port; returns when `/api/health` answers 200,
    /// with the time from the spawn to that answer.
    fn start(bin: &Path, data_dir: &Path, log: PathBuf) -> Result<(Server, Duration), Error> {
        Server::start_with(bin, data_dir, None, &[], log)
    }

    /// [`Server::start`] on `database` (a PostgreSQL URL; `None`: SQLite in `data_dir`), with
    /// more arguments to `serve` (`--demo`).
    pub(crate) fn start_with(
        bin: &Path,
        data_dir: &Path,
        database: Option<&str>,
        serve_args: &[&str],
        log: PathBuf,
    ) -> Result<(Server, Duration), Error> {
        // a free port: bound by the system, released, then given to the server
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let mut cmd = command(bin, data_dir, database);
        cmd.args(["serve", "--bind", &addr.to_string()])
            .args(serve_args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let t = Instant::now();
        let child = cmd.spawn()?;
        let mut server = Server { child, addr, log };
        loop {
            if let Ok(200) = get(addr, "/api/health", Duration::from_secs(2)).map(|r| r.0) {
                return Ok((server, t.elapsed()));
            }
            if let Some(status) = server.child.try_wait()? {
                return Err(format!(
                    "the server exited ({status}) before answering:\n{}",
                    server.log_tail()
                )
                .into());
            }
            if t.elapsed() > START_LIMIT {
                server.stop()?;
                return Err(format!(
                    "no answer from /api/health within {} s",
                    START_LIMIT.as_secs()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn rss_kb(&self) -> Result<u64, Error> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmRSS in /proc/PID/status".into())
    }

    /// SIGTERM, then wait for the exit (SIGKILL after 30 s).
    pub(crate) fn stop(mut self) -> Result<(), Error> {
        let pid = i32::try_from(self.child.id())?;
        // SAFETY: kill(2) with the id of our own child, which has not been reaped yet
        if unsafe { kill(pid, SIGTERM) } != 0 {
            return Err(format!("cannot send SIGTERM to {pid}").into());
        }
        let t = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("the server ended with {status}:\n{}", self.log_tail()).into())
                };
            }
            if t.elapsed() > Duration::from_secs(30) {
                self.child.kill()?;
                self.child.wait()?;
                return Err("the server did not stop within 30 s of SIGTERM".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(400)..].join("\n")
    }
}

impl Drop for Server {
    /// A server left running by an error is killed.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain HTTP/1.1 GET; the status code and the size of the answer.
fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(u16, usize), Error> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    let head = String::from_utf8_lossy(&body[..body.len().min(64)]).into_owned();
    let code = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {head:?}"))?;
    Ok((code, body.len()))
}

/// The warm-up, then `idle` without requests; the resident memory then, in kB.
fn warm_then_idle(server: &Server, idle: Duration) -> Result<u64, Error> {
    for path in WARM_UP {
        let (code, bytes) = get(server.addr, path, Duration::from_secs(30))?;
        if code != 200 {
            return Err(format!("GET {path}: {code}").into());
        }
        eprintln!("    GET {path}: {code}, {bytes} bytes");
    }
    std::thread::sleep(idle);
    server.rss_kb()
}

pub struct Outcome {
    first_start: Duration,
    starts: Vec<Duration>,
    rss_first_kb: u64,
    rss_later_kb: u64,
    idle: Duration,
    binary: PathBuf,
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

impl Outcome {
    fn median(&self) -> Duration {
        let mut s = self.starts.clone();
        s.sort();
        s[s.len() / 2]
    }

    pub fn met(&self) -> bool {
        self.median() < START_TARGET && self.rss_first_kb.max(self.rss_later_kb) < RSS_TARGET_KB
    }

    pub fn table(&self) -> String {
        let yes = |ok: bool| if ok { "yes" } else { "**no**" };
        let (min, max) = (
            self.starts.iter().min().copied().unwrap_or_default(),
            self.starts.iter().max().copied().unwrap_or_default(),
        );
        let warm = WARM_UP
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut t =
            String::from("| measure | result | target | met |\n| --- | ---: | --- | --- |\n");
        t.push_str(&format!(
            "| first start to the first `GET /api/health` 200 (creates the database, loads the reference data and the demo) | {} | — | |\n",
            ms(self.first_start)
        ));
        t.push_str(&format!(
            "| later start on the same data to the first `GET /api/health` 200, median of {} (range) | {} ({}–{}) | < 1 s | {} |\n",
            self.starts.len(),
            ms(self.median()),
            ms(min),
            ms(max),
            yes(self.median() < START_TARGET)
        ));
        for (when, kb) in [
            ("first start", self.rss_first_kb),
            ("last later start", self.rss_later_kb),
        ] {
            t.push_str(&format!(
                "| idle RSS (VmRSS), {when}: warm-up {warm}, then {} s idle | {} | < 60 MB | {} |\n",
                self.idle.as_secs(),
                mb(kb),
                yes(kb < RSS_TARGET_KB)
            ));
        }
        t.push_str(&format!("\nbinary: {}\n", self.binary.display()));
        t
    }
}

pub fn run(args: &Args) -> Result<Outcome, Error> {
    let bin = binary(args)?;
    let dir = std::env::temp_dir().join(format!("dantoc-bench-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let r = run_in(args, &bin, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn run_in(args: &Args, bin: &Path, dir: &Path) -> Result<Outcome, Error> {
    let data = dir.join("data");
    let log = dir.join("server.log");
    eprintln!("server {} on {}", bin.display(), data.display());
    let (server, first_start) = Server::start(bin, &data, log.clone())?;
    eprintln!("  first start: {}", ms(first_start));
    let rss_first_kb = warm_then_idle(&server, args.idle)?;
    eprintln!("  idle RSS after the first start: {}", mb(rss_first_kb));
    server.stop()?;
    let mut starts = vec![];
    let mut rss_later_kb = 0;
    for i in 0..args.starts {
        let (server, took) = Server::start(bin, &data, log.clone())?;
        eprintln!("  start {}: {}", i + 1, ms(took));
        starts.push(took);
        if i + 1 == args.starts {
            rss_later_kb = warm_then_idle(&server, args.idle)?;
            eprintln!("  idle RSS after start {}: {}", i + 1, mb(rss_later_kb));
        }
        server.stop()?;
    }
    Ok(Outcome {
        first_start,
        starts,
        rss_first_kb,
        rss_later_kb,
        idle: args.idle,
        binary: bin.to_path_buf(),
    })
}

//! Data entry (issue #4): saving one cell on the entry page, with 50 officers saving at once —
//! the target is a p95 under 30 ms.
//!
//! For each engine the release `dantoc` binary (built beforehand with `cargo build --release`;
//! this mode builds nothing) serves the demo provinces on a fresh database — SQLite in a
//! temporary data directory; PostgreSQL in a throwaway database created and dropped here, from
//! `DANTOC_BENCH_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) — and the load
//! comes from this process, over HTTP/1.1 keep-alive connections, one per client thread:
//!
//! 1. an administrator made with the command line (`dantoc user create --admin
//!    --password-stdin`) logs in and creates, through `POST /api/users`, one commune officer
//!    (`commune_officer`, scoped to their commune) for each client, on the 2025 communes of the
//!    demo provinces (Cao Bằng first, then Quảng Ninh and Thái Nguyên);
//! 2. each client logs in as its officer (`POST /api/auth/login`: session cookie and CSRF
//!    token, as the browser does), reads the grid of `BM-DTTS-01` for its commune and 2025
//!    (`GET /api/forms/BM-DTTS-01/entry`) and takes up to `--cells` of its cells, with the
//!    versions the grid shows;
//! 3. each save is what `static/entry.js` sends for one edited cell: `POST /api/dataEntry`
//!    with a new batch id, the SHA-256 of the batch's canonical content (computed here from
//!    the documented form), one value — the cell's last value plus one, so that every save
//!    changes it — and the version the client last saw (from the grid, then from each answer);
//! 4. `--warm-up` saves per client, then all clients start together and make `--saves` saves
//!    each; every request is timed from its first byte sent to the last byte of the answer,
//!    and every answer is checked: 200, not a duplicate, the cell `saved` with the version
//!    seen plus one and the value sent (a conflict or an error is counted as an error);
//! 5. afterwards, with the server stopped, the database is read directly: each cell must hold
//!    the last value its client sent with the version it was last told, and the audit log one
//!    `data_value` entry per save of each officer.
//!
//! The load average (`/proc/loadavg`) is read before, every half second during and after the
//! timed part, and printed with the results; so are the CPU time the server process used (on
//! PostgreSQL most of the work is in PostgreSQL's own processes) and, on PostgreSQL, the most
//! connections the server had open to its database (its pool is bounded).
//!
//! `dantoc-bench entry [--binary PATH] [--clients N] [--saves N] [--warm-up N] [--cells N]
//! [--only sqlite|postgres]`. Linux only.

use crate::server::{self, Server};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

pub const USAGE: &str = "usage: dantoc-bench entry [--binary PATH] [--clients N] [--saves N] \
     [--warm-up N] [--cells N] [--paced N] [--interval MS] [--only sqlite|postgres]\n\
     (build the server first: cargo build --release)";

const TARGET: Duration = Duration::from_millis(30);
const FORM: &str = "BM-DTTS-01";
const PERIOD: &str = "2025";
/// The demo provinces, in the order their communes are given to clients.
const PROVINCES: [&str; 3] = ["04", "22", "19"];
const ADMIN: &str = "bench-admin";
const PASSWORD: &str = "Do-thu-tai-2026!x";

pub struct Args {
    binary: Option<PathBuf>,
    clients: usize,
    saves: usize,
    warm_up: usize,
    cells: usize,
    /// The paced part: this many saves per client, one every `interval`.
    paced: usize,
    interval: Duration,
    sqlite: bool,
    postgres: bool,
}

pub fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        binary: None,
        clients: 50,
        saves: 200,
        warm_up: 20,
        cells: 8,
        paced: 60,
        interval: Duration::from_millis(500),
        sqlite: true,
        postgres: true,
    };
    while let Some(a) = it.next() {
        let opt = crate::Opt::parse(a);
        let name = opt.name.clone();
        let mut value = || opt.value(&mut it, USAGE);
        let number = |v: String| -> Result<usize, String> {
            v.replace(['_', ','], "")
                .parse()
                .map_err(|_| format!("{name}: not a number: {v}\n{USAGE}"))
        };
        match name.as_str() {
            "--binary" => args.binary = Some(PathBuf::from(value()?)),
            "--clients" => args.clients = number(value()?)?.max(1),
            "--saves" => args.saves = number(value()?)?.max(1),
            "--warm-up" => args.warm_up = number(value()?)?,
            "--cells" => args.cells = number(value()?)?.max(1),
            "--paced" => args.paced = number(value()?)?,
            "--interval" => args.interval = Duration::from_millis(number(value()?)?.max(1) as u64),
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

// ---------------------------------------------------------------- a small HTTP/1.1 client

/// One keep-alive connection with the session's cookie and CSRF token once logged in.
struct Http {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    cookie: Option<String>,
    csrf: Option<String>,
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Result<Value, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "answer {} is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
            .into()
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body[..self.body.len().min(500)]).into_owned()
    }
}

impl Http {
    fn new(addr: SocketAddr) -> Http {
        Http {
            addr,
            conn: None,
            cookie: None,
            csrf: None,
        }
    }

    fn connection(&mut self) -> Result<&mut BufReader<TcpStream>, Error> {
        if self.conn.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            s.set_write_timeout(Some(Duration::from_secs(60)))?;
            self.conn = Some(BufReader::with_capacity(64 * 1024, s));
        }
        Ok(self.conn.as_mut().expect("connected"))
    }

    /// Send a request and read its answer whole; the connection is kept unless the server
    /// closes it. A failure drops the connection (the next request opens another).
    fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<Reply, Error> {
        let r = self.exchange(method, path, body);
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    fn exchange(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<Reply, Error> {
        let addr = self.addr;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nAccept: application/json\r\n"
        );
        if let Some(c) = &self.cookie {
            req.push_str(&format!("Cookie: {c}\r\n"));
        }
        if let Some(t) = &self.csrf {
            req.push_str(&format!("X-CSRF-Token: {t}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        if let Some(b) = body {
            req.push_str(b);
        }
        let conn = self.connection()?;
        conn.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let status: u16 = line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("not an HTTP answer: {line:?}"))?;
        let mut headers = vec![];
        loop {
            line.clear();
            if conn.read_line(&mut line)? == 0 {
                return Err("the connection closed inside the headers".into());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let mut body = vec![];
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                line.clear();
                conn.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| format!("bad chunk size {line:?}"))?;
                let start = body.len();
                body.resize(start + size, 0);
                conn.read_exact(&mut body[start..])?;
                line.clear();
                conn.read_line(&mut line)?;
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = header("content-length") {
            let n: usize = n.parse().map_err(|_| format!("bad content-length {n:?}"))?;
            body.resize(n, 0);
            conn.read_exact(&mut body)?;
        } else if method != "HEAD" && status != 204 && status != 304 {
            conn.read_to_end(&mut body)?;
            self.conn = None;
        }
        if close {
            self.conn = None;
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn post(&mut self, path: &str, body: &Value) -> Result<Reply, Error> {
        self.request("POST", path, Some(&body.to_string()))
    }

    fn get(&mut self, path: &str) -> Result<Reply, Error> {
        self.request("GET", path, None)
    }

    /// `POST /api/auth/login`; keeps the session cookie and the CSRF token.
    fn login(&mut self, user: &str, password: &str) -> Result<(), Error> {
        let r = self.post(
            "/api/auth/login",
            &json!({"username": user, "password": password}),
        )?;
        if r.status != 200 {
            return Err(format!("login of {user}: {} {}", r.status, r.text()).into());
        }
        let cookie = r
            .headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .find_map(|(_, v)| {
                v.split(';')
                    .next()
                    .filter(|c| c.starts_with("dantoc_session="))
            })
            .ok_or("login: no session cookie")?
            .to_string();
        let csrf = r.json()?["csrfToken"]
            .as_str()
            .ok_or("login: no csrfToken")?
            .to_string();
        self.cookie = Some(cookie);
        self.csrf = Some(csrf);
        Ok(())
    }
}

// ---------------------------------------------------------------- the clients

/// A cell a client saves, as it last knows it.
#[derive(Debug, Clone)]
struct Cell {
    indicator: String,
    disagg: String,
    version: i64,
    value: i64,
}

/// What one client did.
#[derive(Default)]
struct Outcome {
    /// Timed saves, back to back.
    latencies: Vec<Duration>,
    /// Timed saves, one every interval.
    paced: Vec<Duration>,
    errors: usize,
    /// The first problems met, for the report.
    problems: Vec<String>,
    /// Every save sent (warm-up and measured).
    sent: usize,
    cells: Vec<Cell>,
}

/// A client: a commune officer and their unit.
#[derive(Clone)]
struct Officer {
    username: String,
    unit: String,
}

/// The cells of the grid a client will save: those of `x-pop-total` and `0101` first (the
/// population by sex, then by ethnic group and sex), up to `n`.
fn cells_of(grid: &Value, n: usize) -> Vec<Cell> {
    let mut out = vec![];
    let items = grid["sections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["items"].as_array().into_iter().flatten());
    let mut items: Vec<&Value> = items
        .filter(|it| it["valueType"] == "integer" || it["valueType"] == "number")
        .collect();
    let rank = |it: &&Value| match it["indicator"].as_str() {
        Some("x-pop-total") => 0,
        Some("0101") => 1,
        _ => 2,
    };
    items.sort_by_key(rank);
    for it in items {
        for row in it["rows"].as_array().into_iter().flatten() {
            for c in row["cells"].as_array().into_iter().flatten() {
                if out.len() == n {
                    return out;
                }
                out.push(Cell {
                    indicator: c["indicator"].as_str().unwrap_or_default().to_string(),
                    disagg: c["disagg"].as_str().unwrap_or_default().to_string(),
                    version: c["version"].as_i64().unwrap_or(0),
                    value: c["value"]
                        .as_str()
                        .and_then(|v| v.parse::<f64>().ok())
                        .map(|v| v as i64)
                        .unwrap_or(1000),
                });
            }
        }
    }
    out
}

/// The body of a one-cell batch, with its hash over the documented canonical content
/// `[form, orgUnit, period, [[indicator, disagg, value, comment, baseVersion]]]`.
fn batch(id: &str, unit: &str, cell: &Cell, value: &str) -> Value {
    let canonical = json!([
        FORM,
        unit,
        PERIOD,
        [[cell.indicator, cell.disagg, value, null, cell.version]]
    ])
    .to_string();
    json!({
        "batchId": id,
        "hash": dantoc_store::secret::sha256_hex(canonical.as_bytes()),
        "form": FORM,
        "orgUnit": unit,
        "period": PERIOD,
        "values": [{
            "indicator": cell.indicator,
            "disagg": cell.disagg,
            "value": value,
            "baseVersion": cell.version,
        }],
    })
}

/// Save the next value of one cell and check the answer; the cell takes the version and
/// value the server answers with. `Err`: what was wrong.
fn save(http: &mut Http, tag: &str, unit: &str, cell: &mut Cell) -> Result<(), String> {
    let value = (cell.value + 1).to_string();
    let body = batch(tag, unit, cell, &value);
    let r = http
        .post("/api/dataEntry", &body)
        .map_err(|e| format!("{tag}: {e}"))?;
    if r.status != 200 {
        return Err(format!("{tag}: {} {}", r.status, r.text()));
    }
    let a = r.json().map_err(|e| format!("{tag}: {e}"))?;
    let v = &a["values"][0];
    if let Some(version) = v["version"].as_i64() {
        // whatever happened, the client now knows the stored version
        cell.version = version;
        if let Some(n) = v["value"].as_str().and_then(|s| s.parse::<f64>().ok()) {
            cell.value = n as i64;
        }
    }
    let ok = a["duplicate"] == false
        && a["saved"] == 1
        && a["conflicts"] == 0
        && a["errors"] == 0
        && v["status"] == "saved"
        && v["value"] == value.as_str();
    if !ok {
        return Err(format!("{tag}: not saved: {}", r.text()));
    }
    Ok(())
}

struct Shared {
    addr: SocketAddr,
    engine: &'static str,
    nonce: String,
    barrier: Barrier,
    warm_up: usize,
    saves: usize,
    cells: usize,
    clients: usize,
    paced: usize,
    interval: Duration,
    /// Between the back-to-back part and the paced one.
    second: Barrier,
}

/// One client: log in, read the grid, warm up, wait for the others, then the timed saves.
/// Always reaches the barrier, so that a client that fails does not hold the others.
fn client(sh: &Shared, i: usize, officer: &Officer) -> Result<Outcome, Error> {
    let mut out = Outcome::default();
    let mut http = Http::new(sh.addr);
    let ready = (|| -> Result<(), Error> {
        http.login(&officer.username, PASSWORD)?;
        let r = http.get(&format!(
            "/api/forms/{FORM}/entry?ou={}&pe={PERIOD}",
            officer.unit
        ))?;
        if r.status != 200 {
            return Err(format!("grid of {}: {} {}", officer.unit, r.status, r.text()).into());
        }
        out.cells = cells_of(&r.json()?, sh.cells);
        if out.cells.is_empty() {
            return Err(format!("no cell to save in the grid of {}", officer.unit).into());
        }
        Ok(())
    })();
    let mut seq = 0usize;
    let mut one = |http: &mut Http, out: &mut Outcome| -> (Duration, Result<(), String>) {
        let k = seq % out.cells.len();
        let tag = format!("b-{}-{}-{i:03}-{seq:06}", sh.engine, sh.nonce);
        seq += 1;
        out.sent += 1;
        let t = Instant::now();
        let r = save(http, &tag, &officer.unit, &mut out.cells[k]);
        (t.elapsed(), r)
    };
    if ready.is_ok() {
        for _ in 0..sh.warm_up {
            let (_, r) = one(&mut http, &mut out);
            if let Err(e) = r {
                out.errors += 1;
                out.problems.push(format!("warm-up: {e}"));
            }
        }
    }
    sh.barrier.wait();
    if let Err(e) = ready {
        sh.second.wait();
        return Err(e);
    }
    out.latencies.reserve(sh.saves);
    for _ in 0..sh.saves {
        let (took, r) = one(&mut http, &mut out);
        out.latencies.push(took);
        if let Err(e) = r {
            out.errors += 1;
            if out.problems.len() < 5 {
                out.problems.push(e);
            }
        }
    }
    sh.second.wait();
    // paced: client i starts at i/clients of an interval, then saves once every interval
    // (at once when a save took longer)
    let start = Instant::now() + sh.interval.mul_f64(i as f64 / sh.clients as f64);
    for k in 0..sh.paced {
        let at = start + sh.interval * k as u32;
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let (took, r) = one(&mut http, &mut out);
        out.paced.push(took);
        if let Err(e) = r {
            out.errors += 1;
            if out.problems.len() < 5 {
                out.problems.push(e);
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- setup and checks

fn loadavg() -> (f64, f64, f64) {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<f64> = s
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    match v[..] {
        [a, b, c] => (a, b, c),
        _ => (f64::NAN, f64::NAN, f64::NAN),
    }
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Duration {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the fields after the command name, which is in parentheses
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state
    Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / 100.0)
}

/// The administrator (command line), then one commune officer per client (API).
fn accounts(
    bin: &Path,
    data: &Path,
    database: Option<&str>,
    server: &Server,
    clients: usize,
) -> Result<Vec<Officer>, Error> {
    let mut cmd = server::command(bin, data, database);
    cmd.args(["user", "create", ADMIN, "--admin", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(format!("{PASSWORD}\n").as_bytes())?;
    let o = child.wait_with_output()?;
    if !o.status.success() {
        return Err(format!(
            "dantoc user create: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
        .into());
    }
    let mut admin = Http::new(server.addr);
    admin.login(ADMIN, PASSWORD)?;
    let mut communes = vec![];
    for p in PROVINCES {
        let r = admin.get(&format!("/api/units/{p}/children?version=2025"))?;
        if r.status != 200 {
            return Err(format!("communes of {p}: {} {}", r.status, r.text()).into());
        }
        for u in r.json()?["units"].as_array().into_iter().flatten() {
            if u["kind"] == "commune"
                && let Some(code) = u["code"].as_str()
            {
                communes.push(code.to_string());
            }
        }
    }
    if communes.len() < clients {
        return Err(format!(
            "{} clients, and the demo provinces have {} communes",
            clients,
            communes.len()
        )
        .into());
    }
    let mut officers = vec![];
    for (i, unit) in communes.into_iter().take(clients).enumerate() {
        let username = format!("can-bo-xa-{i:03}");
        let r = admin.post(
            "/api/users",
            &json!({
                "username": username,
                "full_name": format!("Cán bộ xã {unit} (đo tải)"),
                "role": "commune_officer",
                "scopes": [unit],
                "password": PASSWORD,
            }),
        )?;
        if r.status != 201 {
            return Err(format!("creating {username}: {} {}", r.status, r.text()).into());
        }
        officers.push(Officer { username, unit });
    }
    Ok(officers)
}

/// What the database holds after the run, against what the clients were told.
struct Checked {
    cells: usize,
    audit_entries: i64,
}

fn verify(url: &str, officers: &[Officer], outcomes: &[Outcome]) -> Result<Checked, Error> {
    use dantoc_domain::admin::HierarchyVersion;
    let db = dantoc_store::Db::open(url)?;
    let mut cells = 0;
    let mut audit_entries = 0;
    for (o, out) in officers.iter().zip(outcomes) {
        let stored: Vec<(String, String, String, i64)> = db.read(|c| {
            let unit =
                dantoc_store::units::id_of(c, HierarchyVersion::V2025, &o.unit)?.unwrap_or(-1);
            Ok(c.query(
                "SELECT i.code, g.code, d.value_text, d.version FROM data_value d
                   JOIN indicator i ON i.id = d.indicator_id
                   JOIN disaggregation g ON g.id = d.disagg_id
                  WHERE d.unit_id = $1 AND d.period = $2",
                &dantoc_store::params![unit, PERIOD],
            )?
            .iter()
            .map(|r| (r.str(0), r.str(1), r.str(2), r.i64(3)))
            .collect())
        })?;
        for c in &out.cells {
            let s = stored
                .iter()
                .find(|s| s.0 == c.indicator && s.1 == c.disagg)
                .ok_or_else(|| {
                    format!("{} {} {}: no value stored", o.unit, c.indicator, c.disagg)
                })?;
            if s.2.parse::<f64>().ok() != Some(c.value as f64) || s.3 != c.version {
                return Err(format!(
                    "{} {} {}: stored {} (version {}), the last save was {} (version {})",
                    o.unit, c.indicator, c.disagg, s.2, s.3, c.value, c.version
                )
                .into());
            }
            cells += 1;
        }
        let n = db.read(|c| {
            c.scalar_i64(
                "SELECT count(*) FROM audit_log WHERE entity = 'data_value' AND actor = $1",
                &dantoc_store::params![&o.username],
            )
        })?;
        let saved = (out.sent - out.errors) as i64;
        if n != saved {
            return Err(format!("{}: {n} audit entries for {saved} saves", o.username).into());
        }
        audit_entries += n;
    }
    db.close_idle();
    Ok(Checked {
        cells,
        audit_entries,
    })
}

// ---------------------------------------------------------------- one engine

fn pg_admin_url() -> String {
    std::env::var("DANTOC_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// One timed part of a run.
struct Phase {
    name: String,
    /// Sorted.
    latencies: Vec<Duration>,
    wall: Duration,
    server_cpu: Duration,
}

impl Phase {
    fn q(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        self.latencies[((n as f64 * q).ceil() as usize).clamp(1, n) - 1]
    }
}

struct Run {
    engine: &'static str,
    clients: usize,
    phases: Vec<Phase>,
    errors: usize,
    problems: Vec<String>,
    load_before: (f64, f64, f64),
    load_max: f64,
    load_after: (f64, f64, f64),
    pg_connections: Option<i64>,
    /// Tuning settings the server ran with.
    settings: Vec<String>,
    checked: Option<Checked>,
    check_error: Option<String>,
}

impl Run {
    fn met(&self, p: &Phase) -> bool {
        self.errors == 0 && self.check_error.is_none() && p.q(0.95) < TARGET
    }
}

fn run_engine(args: &Args, bin: &Path, engine: &'static str) -> Result<Run, Error> {
    let dir = std::env::temp_dir().join(format!(
        "dantoc-bench-entry-{}-{}",
        std::process::id(),
        engine.to_lowercase()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let data = dir.join("data");
    let mut admin_pg = None;
    let mut pg_name = String::new();
    let database = if engine == "PostgreSQL" {
        let admin_url = pg_admin_url();
        let mut c = postgres::Client::connect(&admin_url, postgres::NoTls)
            .map_err(|e| format!("cannot reach PostgreSQL at {admin_url}: {e}"))?;
        pg_name = format!("dantoc_bench_entry_{}", std::process::id());
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"))?;
        c.batch_execute(&format!("CREATE DATABASE {pg_name}"))?;
        admin_pg = Some(c);
        Some(crate::with_db(&admin_url, &pg_name))
    } else {
        None
    };
    let r = run_in(
        args,
        bin,
        engine,
        &dir,
        &data,
        database.as_deref(),
        &pg_name,
    );
    if let Some(mut c) = admin_pg
        && let Err(e) = c.batch_execute(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"))
    {
        eprintln!("  could not drop database {pg_name}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn run_in(
    args: &Args,
    bin: &Path,
    engine: &'static str,
    dir: &Path,
    data: &Path,
    database: Option<&str>,
    pg_name: &str,
) -> Result<Run, Error> {
    eprintln!("{engine}: starting the server (reference data, demo provinces)…");
    let (server, took) =
        Server::start_with(bin, data, database, &["--demo"], dir.join("server.log"))
            .map_err(|e| e.to_string())?;
    eprintln!("{engine}: ready in {:.1} s", took.as_secs_f64());
    let officers = accounts(bin, data, database, &server, args.clients)?;
    eprintln!(
        "{engine}: {} commune officers created ({} … {})",
        officers.len(),
        officers[0].unit,
        officers[officers.len() - 1].unit
    );
    let sh = Arc::new(Shared {
        addr: server.addr,
        engine: if engine == "SQLite" { "s" } else { "p" },
        nonce: format!("{:x}", std::process::id()),
        barrier: Barrier::new(args.clients + 1),
        warm_up: args.warm_up,
        saves: args.saves,
        cells: args.cells,
        clients: args.clients,
        paced: args.paced,
        interval: args.interval,
        second: Barrier::new(args.clients + 1),
    });
    let threads: Vec<_> = officers
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, o)| {
            let sh = sh.clone();
            std::thread::Builder::new()
                .name(format!("client-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || client(&sh, i, &o))
        })
        .collect::<Result<_, _>>()?;
    // every client has logged in, read its grid and warmed up
    sh.barrier.wait();
    let load_before = loadavg();
    let cpu0 = cpu_time(server.pid());
    let t = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(Mutex::new((load_before.0, 0i64)));
    let monitor = {
        let (done, peak) = (done.clone(), peak.clone());
        let on_pg = database.is_some();
        let name = pg_name.to_string();
        std::thread::spawn(move || {
            // the server's connections to its database, seen from another session
            let mut pg = on_pg
                .then(|| postgres::Client::connect(&pg_admin_url(), postgres::NoTls).ok())
                .flatten();
            while !done.load(Ordering::Relaxed) {
                let l = loadavg().0;
                let conns = pg.as_mut().and_then(|c| {
                    c.query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                        &[&name],
                    )
                    .ok()
                    .map(|r| r.get::<_, i64>(0))
                });
                if let Ok(mut p) = peak.lock() {
                    p.0 = p.0.max(l);
                    p.1 = p.1.max(conns.unwrap_or(0));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    sh.second.wait();
    let wall = t.elapsed();
    let cpu1 = cpu_time(server.pid());
    let t = Instant::now();
    let mut outcomes = vec![];
    let mut failures = vec![];
    for th in threads {
        match th.join() {
            Ok(Ok(o)) => outcomes.push(o),
            Ok(Err(e)) => failures.push(e.to_string()),
            Err(_) => failures.push("a client panicked".into()),
        }
    }
    let paced_wall = t.elapsed();
    let cpu2 = cpu_time(server.pid());
    done.store(true, Ordering::Relaxed);
    let _ = monitor.join();
    let load_after = loadavg();
    let (load_max, conns) = *peak.lock().map_err(|_| "poisoned")?;
    if !failures.is_empty() {
        return Err(format!(
            "{} client(s) failed: {}\n{}",
            failures.len(),
            failures[0],
            server.log_tail()
        )
        .into());
    }
    let rss = server.rss_kb().unwrap_or(0);
    server.stop().map_err(|e| e.to_string())?;
    let sorted = |f: &dyn Fn(&Outcome) -> &Vec<Duration>| {
        let mut v: Vec<Duration> = outcomes.iter().flat_map(|o| f(o).iter().copied()).collect();
        v.sort();
        v
    };
    let phases = vec![
        Phase {
            name: "back to back".into(),
            latencies: sorted(&|o| &o.latencies),
            wall,
            server_cpu: cpu1.saturating_sub(cpu0),
        },
        Phase {
            name: format!("one save per client every {} ms", args.interval.as_millis()),
            latencies: sorted(&|o| &o.paced),
            wall: paced_wall,
            server_cpu: cpu2.saturating_sub(cpu1),
        },
    ];
    let errors = outcomes.iter().map(|o| o.errors).sum();
    let problems: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o.problems.iter().cloned())
        .take(10)
        .collect();
    let url = match database {
        Some(u) => u.to_string(),
        None => data.join("dantoc.db").display().to_string(),
    };
    let (checked, check_error) = match verify(&url, &officers, &outcomes) {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(e.to_string())),
    };
    eprintln!(
        "{engine}: server RSS after the run {:.1} MB",
        rss as f64 / 1024.0
    );
    Ok(Run {
        engine,
        clients: args.clients,
        phases,
        errors,
        problems,
        load_before,
        load_max,
        load_after,
        pg_connections: database.map(|_| conns),
        settings: server::PASSED
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v}")))
            .collect(),
        checked,
        check_error,
    })
}

// ---------------------------------------------------------------- output

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn table(runs: &[Run]) -> String {
    let mut t = String::from(
        "| engine | load | clients | saves timed | p50 | p95 | p99 | max | saves/s | errors | target | met | load avg before → max during → after (1 min) | server CPU per save |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: |\n",
    );
    for r in runs {
        for p in &r.phases {
            let n = p.latencies.len();
            t.push_str(&format!(
                "| {}{} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | p95 < 30 ms, 0 errors | {} | {:.2} → {:.2} → {:.2} | {:.2} ms |\n",
                r.engine,
                match r.pg_connections {
                    Some(c) => format!(" (≤ {c} connections open)"),
                    None => String::new(),
                },
                p.name,
                r.clients,
                n,
                ms(p.q(0.5)),
                ms(p.q(0.95)),
                ms(p.q(0.99)),
                ms(p.latencies.last().copied().unwrap_or_default()),
                n as f64 / p.wall.as_secs_f64(),
                r.errors,
                if r.met(p) { "yes" } else { "**no**" },
                r.load_before.0,
                r.load_max,
                r.load_after.0,
                p.server_cpu.as_secs_f64() * 1000.0 / n.max(1) as f64,
            ));
        }
    }
    for r in runs {
        match (&r.checked, &r.check_error) {
            (Some(c), _) => t.push_str(&format!(
                "\n{}: afterwards the database holds the last value sent and the version answered for all {} cells, and {} audit entries for as many saves (warm-up included).",
                r.engine, c.cells, c.audit_entries
            )),
            (None, Some(e)) => t.push_str(&format!("\n{}: **check failed**: {e}", r.engine)),
            _ => {}
        }
        if !r.settings.is_empty() {
            t.push_str(&format!(" Server run with {}.", r.settings.join(", ")));
        }
        for p in &r.problems {
            t.push_str(&format!("\n  - {p}"));
        }
    }
    t.push('\n');
    t
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} × {cpu}")
}

pub fn main(args: Args) -> i32 {
    let bin = match server::find_binary(args.binary.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut runs = vec![];
    for (on, engine) in [(args.sqlite, "SQLite"), (args.postgres, "PostgreSQL")] {
        if !on {
            continue;
        }
        match run_engine(&args, &bin, engine) {
            Ok(r) => {
                for p in &r.phases {
                    eprintln!(
                        "{engine}, {}: p50 {} p95 {} p99 {} max {}",
                        p.name,
                        ms(p.q(0.5)),
                        ms(p.q(0.95)),
                        ms(p.q(0.99)),
                        ms(p.latencies.last().copied().unwrap_or_default()),
                    );
                }
                eprintln!("{engine}: {} errors", r.errors);
                runs.push(r)
            }
            Err(e) => {
                eprintln!("error ({engine}): {e}");
                return 2;
            }
        }
    }
    println!(
        "machine: {}; binary: {}; {} clients × ({} warm-up + {} back-to-back + {} paced, one every {} ms) one-cell saves of {FORM} for {PERIOD}, up to {} cells each\n",
        machine(),
        bin.display(),
        args.clients,
        args.warm_up,
        args.saves,
        args.paced,
        args.interval.as_millis(),
        args.cells
    );
    println!("{}", table(&runs));
    if runs.iter().all(|r| r.phases.iter().all(|p| r.met(p))) {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_hash_covers_the_canonical_content() {
        let cell = Cell {
            indicator: "0101".into(),
            disagg: "E02.F".into(),
            version: 3,
            value: 10,
        };
        let b = batch("b-s-1-000-000001", "06877", &cell, "11");
        let parsed: dantoc_domain::entry::EntryBatch = serde_json::from_value(b.clone()).unwrap();
        assert_eq!(
            b["hash"].as_str().unwrap(),
            dantoc_store::entry::content_hash(&parsed)
        );
        assert!(dantoc_domain::entry::check_batch(&parsed).is_empty());
    }
}

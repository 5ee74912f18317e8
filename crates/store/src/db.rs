//! One small data-access layer over two engines: SQLite (rusqlite, embedded default) and
//! PostgreSQL (postgres). Repositories write their SQL once, with `$1, $2, …` placeholders,
//! against [`Conn`]; the SQLite side rewrites placeholders to `?1, ?2, …`. Values cross the
//! boundary as [`Val`], converted to each engine's wire types by the column type it expects.
//!
//! Work runs in closures: [`Db::read`] for queries, [`Db::write`] for a transaction that commits
//! when the closure returns `Ok` and rolls back otherwise. Both block: call them from
//! `spawn_blocking` in async code.

use crate::error::StoreError;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

/// A value passed to or read from SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::Real(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Int(v as i64)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::Text(v.clone())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map(Into::into).unwrap_or(Val::Null)
    }
}

/// Build an array of [`Val`] from heterogeneous values: `params![id, "x", Some(1.5)]`
/// (`.to_vec()` when more are pushed later).
#[macro_export]
macro_rules! params {
    ($($v:expr),* $(,)?) => { [$($crate::db::Val::from($v)),*] };
}

/// Like [`params!`], as a `Vec` (rows for `insert_many`, lists that grow).
#[macro_export]
macro_rules! params_vec {
    ($($v:expr),* $(,)?) => { vec![$($crate::db::Val::from($v)),*] };
}

/// Append `vals` to the statement's parameters `p` and return their placeholders,
/// `$k, $k+1, …`, for an `IN (…)` list.
pub fn push_params(p: &mut Vec<Val>, vals: impl IntoIterator<Item = Val>) -> String {
    let mut marks = vec![];
    for v in vals {
        p.push(v);
        marks.push(format!("${}", p.len()));
    }
    marks.join(", ")
}

/// Ids written into the SQL text, `1,2,3` (numbers: nothing to escape).
pub fn id_list(ids: impl IntoIterator<Item = i64>) -> String {
    ids.into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Val>);

impl Row {
    fn get(&self, i: usize) -> &Val {
        self.0.get(i).unwrap_or(&Val::Null)
    }
    pub fn i64(&self, i: usize) -> i64 {
        match self.get(i) {
            Val::Int(v) => *v,
            Val::Real(v) => *v as i64,
            Val::Bool(b) => *b as i64,
            Val::Text(s) => s.parse().unwrap_or(0),
            Val::Null => 0,
        }
    }
    pub fn opt_i64(&self, i: usize) -> Option<i64> {
        match self.get(i) {
            Val::Null => None,
            _ => Some(self.i64(i)),
        }
    }
    pub fn f64(&self, i: usize) -> f64 {
        self.opt_f64(i).unwrap_or(0.0)
    }
    pub fn opt_f64(&self, i: usize) -> Option<f64> {
        match self.get(i) {
            Val::Int(v) => Some(*v as f64),
            Val::Real(v) => Some(*v),
            Val::Text(s) => s.parse().ok(),
            Val::Bool(b) => Some(*b as i64 as f64),
            Val::Null => None,
        }
    }
    pub fn bool(&self, i: usize) -> bool {
        match self.get(i) {
            Val::Bool(b) => *b,
            Val::Int(v) => *v != 0,
            _ => false,
        }
    }
    pub fn str(&self, i: usize) -> String {
        self.opt_str(i).unwrap_or_default()
    }
    pub fn opt_str(&self, i: usize) -> Option<String> {
        match self.get(i) {
            Val::Text(s) => Some(s.clone()),
            Val::Int(v) => Some(v.to_string()),
            Val::Real(v) => Some(v.to_string()),
            Val::Bool(b) => Some(b.to_string()),
            Val::Null => None,
        }
    }
}

/// The operations repositories use; implemented by both engines.
pub trait Conn {
    fn backend(&self) -> Backend;
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError>;
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError>;
    /// Several statements without parameters (DDL).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// The native SQLite connection, for bulk paths that need it.
    fn sqlite(&mut self) -> Option<&mut rusqlite::Connection> {
        None
    }
    /// The native PostgreSQL client, for bulk paths that need it (COPY).
    fn postgres(&mut self) -> Option<&mut postgres::Client> {
        None
    }

    fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
    fn scalar_i64(&mut self, sql: &str, params: &[Val]) -> Result<i64, StoreError> {
        Ok(self.query_one(sql, params)?.map(|r| r.i64(0)).unwrap_or(0))
    }
    /// Insert many rows with multi-row `VALUES`, in chunks that stay under both engines'
    /// parameter limits. `suffix` follows each statement (e.g. `ON CONFLICT DO NOTHING`).
    fn insert_many(
        &mut self,
        table: &str,
        cols: &[&str],
        rows: &[Vec<Val>],
        suffix: &str,
    ) -> Result<u64, StoreError> {
        let per = (30_000 / cols.len().max(1)).clamp(1, 1000);
        let mut n = 0;
        for chunk in rows.chunks(per) {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
            let mut params = Vec::with_capacity(chunk.len() * cols.len());
            let mut k = 1;
            for (ri, row) in chunk.iter().enumerate() {
                if ri > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for ci in 0..cols.len() {
                    if ci > 0 {
                        sql.push_str(", ");
                    }
                    sql.push('$');
                    sql.push_str(&k.to_string());
                    k += 1;
                }
                sql.push(')');
                params.extend(row.iter().cloned());
            }
            sql.push(' ');
            sql.push_str(suffix);
            n += self.execute(&sql, &params)?;
        }
        Ok(n)
    }
}

// ---------------------------------------------------------------- SQLite

/// `$1` → `?1` outside string literals.
fn sqlite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_str = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                in_str = !in_str;
                out.push(c)
            }
            '$' if !in_str => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Val::Null => ToSqlOutput::Owned(Value::Null),
            Val::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            Val::Real(f) => ToSqlOutput::Owned(Value::Real(*f)),
            Val::Bool(b) => ToSqlOutput::Owned(Value::Integer(*b as i64)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn sqlite_val(v: rusqlite::types::ValueRef<'_>) -> Val {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Real(f) => Val::Real(f),
        ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Val::Text(String::from_utf8_lossy(b).into_owned()),
    }
}

pub struct SqliteConn(pub rusqlite::Connection);

impl Conn for SqliteConn {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let mut st = self.0.prepare_cached(&sqlite_sql(sql))?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = vec![];
        while let Some(r) = rows.next()? {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(sqlite_val(r.get_ref(i)?));
            }
            out.push(Row(v));
        }
        Ok(out)
    }
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let mut st = self.0.prepare_cached(&sqlite_sql(sql))?;
        Ok(st.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }
    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.execute_batch(sql)?)
    }
    fn sqlite(&mut self) -> Option<&mut rusqlite::Connection> {
        Some(&mut self.0)
    }
}

fn open_sqlite(path: &Path) -> Result<SqliteConn, StoreError> {
    let c = rusqlite::Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000;",
    )?;
    c.set_prepared_statement_cache_capacity(256);
    Ok(SqliteConn(c))
}

// ---------------------------------------------------------------- PostgreSQL

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let bad = || -> Box<dyn std::error::Error + Sync + Send> {
            format!("cannot send {self:?} as {ty}").into()
        };
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    i.to_string().to_sql(&Type::TEXT, out)
                }
                _ => Err(bad()),
            },
            Val::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::INT8 if f.fract() == 0.0 => (*f as i64).to_sql(ty, out),
                Type::INT4 if f.fract() == 0.0 => (*f as i32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::UNKNOWN => {
                    f.to_string().to_sql(&Type::TEXT, out)
                }
                _ => Err(bad()),
            },
            Val::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                Type::INT8 => (*b as i64).to_sql(ty, out),
                Type::INT4 => (*b as i32).to_sql(ty, out),
                Type::INT2 => (*b as i16).to_sql(ty, out),
                _ => Err(bad()),
            },
            Val::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    s.as_str().to_sql(&Type::TEXT, out)
                }
                _ => Err(bad()),
            },
        }
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// PostgreSQL `numeric` in binary form → f64 (sums of integers come back as numeric).
fn numeric_to_f64(raw: &[u8]) -> Result<f64, Box<dyn std::error::Error + Sync + Send>> {
    if raw.len() < 8 {
        return Err("short numeric".into());
    }
    let rd = |i: usize| i16::from_be_bytes([raw[i], raw[i + 1]]);
    let ndigits = rd(0) as usize;
    let weight = rd(2) as i32;
    let sign = u16::from_be_bytes([raw[4], raw[5]]);
    if sign == 0xC000 {
        return Ok(f64::NAN);
    }
    let mut v = 0f64;
    for d in 0..ndigits {
        let digit = rd(8 + 2 * d) as f64;
        v += digit * 10000f64.powi(weight - d as i32);
    }
    Ok(if sign == 0x4000 { -v } else { v })
}

impl<'a> FromSql<'a> for Val {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Val, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::INT2 => Val::Int(i16::from_sql(ty, raw)? as i64),
            Type::INT4 => Val::Int(i32::from_sql(ty, raw)? as i64),
            Type::INT8 => Val::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => Val::Real(f32::from_sql(ty, raw)? as f64),
            Type::FLOAT8 => Val::Real(f64::from_sql(ty, raw)?),
            Type::NUMERIC => Val::Real(numeric_to_f64(raw)?),
            Type::BOOL => Val::Bool(bool::from_sql(ty, raw)?),
            _ => Val::Text(String::from_utf8(raw.to_vec())?),
        })
    }
    fn from_sql_null(_: &Type) -> Result<Val, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Val::Null)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

pub struct PgConn {
    pub client: postgres::Client,
    cache: HashMap<String, postgres::Statement>,
}

impl PgConn {
    fn stmt(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        if self.cache.len() > 256 {
            self.cache.clear();
        }
        self.cache.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn pg_params(params: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Conn for PgConn {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let st = self.stmt(sql)?;
        let rows = self.client.query(&st, &pg_params(params))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get::<_, Val>(i).map_err(StoreError::from))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect()
    }
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let st = self.stmt(sql)?;
        Ok(self.client.execute(&st, &pg_params(params))?)
    }
    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql)?)
    }
    fn postgres(&mut self) -> Option<&mut postgres::Client> {
        Some(&mut self.client)
    }
}

// ---------------------------------------------------------------- pool

enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

struct Inner {
    target: Target,
    /// SQLite: the single writer connection (SQLite admits one writer at a time).
    writer: Mutex<Option<SqliteConn>>,
    pool: Mutex<Pool>,
    /// Signalled when a connection is given back or closed.
    freed: Condvar,
    /// At most this many pooled connections are open at once (see [`pool_size`]).
    max: usize,
    /// The catalogue's reference part, with the stamp it was loaded at (`values.rs`).
    reference: Mutex<Option<(String, Arc<crate::values::Reference>)>>,
    /// Unless `DANTOC_CATALOGUE_CACHE=off`.
    cache_catalogue: bool,
}

/// The pooled connections: those idle, and how many are open (idle or in use).
#[derive(Default)]
struct Pool {
    idle: Vec<Box<dyn Conn + Send>>,
    open: usize,
}

impl Drop for Pool {
    /// The last handle may go on an async runtime's thread (a server's background task dropped
    /// at shutdown), where a PostgreSQL client cannot be dropped: it ends its own runtime, which
    /// panics there, and the second client's panic aborted the process. Idle connections are
    /// closed on a thread of their own.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.idle);
        if idle.is_empty() {
            return;
        }
        let _ = std::thread::spawn(move || drop(idle)).join();
    }
}

/// A handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
    backend: Backend,
}

/// How long a request waits for a pooled connection before it fails.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The most pooled connections a [`Db`] opens: `DANTOC_DB_POOL_SIZE` if set, else twice the
/// processor count, at least 8 and at most 32 (PostgreSQL). SQLite readers: 8 — each may hold
/// a page cache of up to 16 MB. Requests beyond it queue for a connection instead of opening
/// more: on PostgreSQL each is a server process, and a few busy ones answer sooner than many.
/// A thread that already holds a connection (or the SQLite writer) is never made to wait for
/// a second one — it may go over the limit — so nested work cannot deadlock the pool.
fn pool_size(backend: Backend) -> usize {
    if let Some(n) = std::env::var("DANTOC_DB_POOL_SIZE")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return n;
    }
    match backend {
        Backend::Sqlite => 8,
        Backend::Postgres => std::thread::available_parallelism()
            .map(|n| n.get() * 2)
            .unwrap_or(8)
            .clamp(8, 32),
    }
}

thread_local! {
    /// Connections (and the SQLite writer) this thread holds now.
    static HELD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts a connection held by this thread while it lives.
struct Holding;

impl Holding {
    fn new() -> Holding {
        HELD.with(|h| h.set(h.get() + 1));
        Holding
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        HELD.with(|h| h.set(h.get().saturating_sub(1)));
    }
}

/// A pooled connection in use: given back by [`Pooled::release`]; dropped otherwise (an error
/// that broke it, a panic), and then no longer counted as open.
struct Pooled<'a> {
    db: &'a Db,
    conn: Option<Box<dyn Conn + Send>>,
    _held: Holding,
}

impl Pooled<'_> {
    fn conn(&mut self) -> &mut (dyn Conn + Send) {
        self.conn
            .as_deref_mut()
            .expect("a pooled connection until released")
    }

    /// Back to the pool, unless it is a PostgreSQL connection that was closed.
    fn release(mut self) {
        if let Some(mut c) = self.conn.take() {
            if c.postgres().is_some_and(|p| p.is_closed()) {
                self.db.closed(1);
                return;
            }
            match self.db.inner.pool.lock() {
                Ok(mut p) => p.idle.push(c),
                Err(_) => {
                    drop(c);
                    self.db.closed(1);
                    return;
                }
            }
            self.db.inner.freed.notify_one();
        }
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.db.closed(1);
        }
    }
}

impl Db {
    fn with_target(target: Target, backend: Backend, writer: Option<SqliteConn>) -> Db {
        Db {
            inner: Arc::new(Inner {
                target,
                writer: Mutex::new(writer),
                pool: Mutex::new(Pool::default()),
                freed: Condvar::new(),
                max: pool_size(backend),
                reference: Mutex::new(None),
                cache_catalogue: !std::env::var("DANTOC_CATALOGUE_CACHE")
                    .is_ok_and(|v| v.trim().eq_ignore_ascii_case("off")),
            }),
            backend,
        }
    }

    /// Open from a URL: `postgres://…`/`postgresql://…`, `sqlite://PATH`, or a plain file path.
    pub fn open(url: &str) -> Result<Db, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let db = Db::with_target(Target::Postgres(url.to_string()), Backend::Postgres, None);
            db.acquire()?.release();
            Ok(db)
        } else {
            let path = PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(url));
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
            }
            let writer = open_sqlite(&path)?;
            Ok(Db::with_target(
                Target::Sqlite(path),
                Backend::Sqlite,
                Some(writer),
            ))
        }
    }

    /// The most pooled connections open at once (see [`pool_size`]).
    pub fn pool_size(&self) -> usize {
        self.inner.max
    }

    /// The catalogue's reference part for `stamp`: the cached one if it was loaded at that
    /// stamp, else `load`ed and cached. Concurrent callers that find it stale wait for one
    /// load instead of each loading it.
    pub(crate) fn cached_reference(
        &self,
        stamp: &str,
        load: impl FnOnce() -> Result<Arc<crate::values::Reference>, StoreError>,
    ) -> Result<Arc<crate::values::Reference>, StoreError> {
        let mut slot = self
            .inner
            .reference
            .lock()
            .map_err(|_| StoreError::poisoned())?;
        if let Some((s, r)) = slot.as_ref()
            && s == stamp
        {
            return Ok(r.clone());
        }
        let r = load()?;
        *slot = Some((stamp.to_string(), r.clone()));
        Ok(r)
    }

    /// Whether imports share a cached catalogue (see `values::Reference::current`).
    pub fn caches_catalogue(&self) -> bool {
        self.inner.cache_catalogue
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the data lives (SQLite file path or PostgreSQL URL without password).
    pub fn location(&self) -> String {
        match &self.inner.target {
            Target::Sqlite(p) => p.display().to_string(),
            Target::Postgres(u) => redact_url(u),
        }
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.inner.target {
            Target::Sqlite(p) => Some(p),
            Target::Postgres(_) => None,
        }
    }

    fn connect(&self) -> Result<Box<dyn Conn + Send>, StoreError> {
        Ok(match &self.inner.target {
            Target::Sqlite(p) => Box::new(open_sqlite(p)?),
            Target::Postgres(u) => {
                let mut client = postgres::Client::connect(u, postgres::NoTls)?;
                // No JIT compilation: it pays off for statements that run for seconds, and
                // dantoc's take milliseconds — compiling took 20–30 ms of pivots that read
                // values in about 40 (BENCHMARKS.md, issue #5). Once per connection, not one
                // more round trip per statement.
                client.batch_execute("SET jit = off")?;
                Box::new(PgConn {
                    client,
                    cache: HashMap::new(),
                })
            }
        })
    }

    /// `n` pooled connections were closed: they no longer count.
    fn closed(&self, n: usize) {
        if let Ok(mut p) = self.inner.pool.lock() {
            p.open = p.open.saturating_sub(n);
        }
        self.inner.freed.notify_all();
    }

    /// A pooled connection: an idle one, a new one while fewer than the limit are open (or
    /// this thread holds one already), else the first one given back — waiting at most
    /// [`POOL_WAIT`].
    fn acquire(&self) -> Result<Pooled<'_>, StoreError> {
        let nested = HELD.with(|h| h.get()) > 0;
        let deadline = std::time::Instant::now() + POOL_WAIT;
        let mut p = self.inner.pool.lock().map_err(|_| StoreError::poisoned())?;
        loop {
            if let Some(c) = p.idle.pop() {
                return Ok(Pooled {
                    db: self,
                    conn: Some(c),
                    _held: Holding::new(),
                });
            }
            if p.open < self.inner.max || nested {
                p.open += 1;
                drop(p);
                let held = Holding::new();
                return match self.connect() {
                    Ok(c) => Ok(Pooled {
                        db: self,
                        conn: Some(c),
                        _held: held,
                    }),
                    Err(e) => {
                        self.closed(1);
                        Err(e)
                    }
                };
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(StoreError::Db(format!(
                    "all {} database connections stayed busy for {} s",
                    self.inner.max,
                    POOL_WAIT.as_secs()
                )));
            }
            p = self
                .inner
                .freed
                .wait_timeout(p, deadline - now)
                .map_err(|_| StoreError::poisoned())?
                .0;
        }
    }

    /// Run read-only work on a pooled connection.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self.acquire()?;
        let r = f(c.conn());
        // a broken PostgreSQL connection is dropped, not pooled (see `Pooled::release`)
        c.release();
        r
    }

    /// Run work in one transaction: committed if `f` returns `Ok`, rolled back otherwise.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(true, f)
    }

    /// Like [`Db::write`]; with `commit = false` the work is always rolled back (dry runs).
    pub fn transaction<T>(
        &self,
        commit: bool,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let mut guard = self
                    .inner
                    .writer
                    .lock()
                    .map_err(|_| StoreError::poisoned())?;
                let _held = Holding::new();
                let conn = guard.as_mut().ok_or_else(StoreError::poisoned)?;
                transaction(conn, "BEGIN IMMEDIATE", commit, f)
            }
            Backend::Postgres => {
                let mut c = self.acquire()?;
                let r = transaction(c.conn(), "BEGIN", commit, f);
                c.release();
                r
            }
        }
    }

    /// Like [`Db::transaction`], for the bulk write paths of imports (`bulk.rs`), which check
    /// every reference of their rows once, set-based, inside the transaction instead of row by
    /// row. On SQLite the writer connection runs this one transaction with
    /// `PRAGMA foreign_keys = OFF` (the pragma cannot change inside a transaction, so it is set
    /// before `BEGIN IMMEDIATE`) and gets enforcement back as soon as the transaction ends —
    /// committed, rolled back, failed or panicked (see [`FkOff`]). The writer is the only
    /// connection that writes and `BEGIN IMMEDIATE` holds SQLite's write lock from the start, so
    /// nothing else can change the referenced rows between the check and the commit. On
    /// PostgreSQL this is [`Db::transaction`]: the bulk path locks the referenced rows itself.
    pub(crate) fn bulk_transaction<T>(
        &self,
        commit: bool,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.inner.target {
            Target::Sqlite(path) => {
                let mut guard = self
                    .inner
                    .writer
                    .lock()
                    .map_err(|_| StoreError::poisoned())?;
                let _held = Holding::new();
                let mut off = FkOff::begin(&mut guard, path)?;
                transaction(off.conn(), "BEGIN IMMEDIATE", commit, f)
            }
            Target::Postgres(_) => self.transaction(commit, f),
        }
    }

    /// Drop pooled connections (used before a restore replaces the database).
    pub fn close_idle(&self) {
        let n = match self.inner.pool.lock() {
            Ok(mut p) => {
                let n = p.idle.len();
                p.idle.clear();
                n
            }
            Err(_) => 0,
        };
        self.closed(n);
    }

    /// Give back memory after one-time work (first load of the reference and demo data, a
    /// burst of analytics refreshes): on SQLite, empty the page caches of the writer and of
    /// the idle readers, which stay open — the server's refresher calls this after every
    /// burst, twice a second while values are being written, and closing them made the
    /// requests after it open connections and prepare their statements again; on PostgreSQL,
    /// close the idle connections (a client's buffers keep the size of the largest answer it
    /// read, and the refresher's answers are large: kept open, they held 900 MB in the entry
    /// benchmark). Then return freed heap.
    pub fn release_memory(&self) {
        if self.backend == Backend::Postgres {
            self.close_idle();
        } else if let Ok(mut p) = self.inner.pool.lock() {
            for c in p.idle.iter_mut() {
                if let Some(s) = c.sqlite() {
                    let _ = s.execute_batch("PRAGMA shrink_memory");
                }
            }
        }
        if let Ok(mut w) = self.inner.writer.lock()
            && let Some(c) = w.as_mut()
        {
            let _ = c.0.execute_batch("PRAGMA shrink_memory");
        }
        release_heap();
    }
}

/// Return freed heap pages to the operating system (glibc keeps them otherwise).
fn release_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only releases free memory at the top of glibc's heaps and in its
        // arenas; it takes no pointers and is safe to call at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// The SQLite writer with foreign-key enforcement off, for one bulk transaction. Dropping it
/// — also while a panic unwinds — rolls back a transaction still open and turns enforcement
/// back on; if that fails, the writer is replaced by a freshly opened connection (which starts
/// with enforcement on), or by none, so that later writes fail rather than run unchecked.
struct FkOff<'a> {
    slot: &'a mut Option<SqliteConn>,
    path: &'a Path,
}

impl<'a> FkOff<'a> {
    fn begin(slot: &'a mut Option<SqliteConn>, path: &'a Path) -> Result<FkOff<'a>, StoreError> {
        let conn = slot.as_mut().ok_or_else(StoreError::poisoned)?;
        // a no-op inside a transaction: the writer must be idle
        if !conn.0.is_autocommit() {
            return Err(StoreError::Db(
                "the SQLite writer is inside a transaction".into(),
            ));
        }
        conn.0.execute_batch("PRAGMA foreign_keys = OFF")?;
        Ok(FkOff { slot, path })
    }

    fn conn(&mut self) -> &mut SqliteConn {
        self.slot
            .as_mut()
            .expect("the writer is there while FkOff lives")
    }
}

/// End any open transaction and turn foreign-key enforcement on; whether it is on now.
fn restore_foreign_keys(c: &rusqlite::Connection) -> bool {
    if !c.is_autocommit() {
        let _ = c.execute_batch("ROLLBACK");
    }
    c.execute_batch("PRAGMA foreign_keys = ON").is_ok()
        && c.query_row("PRAGMA foreign_keys", [], |r| r.get::<_, i64>(0))
            .is_ok_and(|on| on == 1)
}

impl Drop for FkOff<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.slot.as_ref() else {
            return;
        };
        if !restore_foreign_keys(&conn.0) {
            tracing::error!(
                "could not turn foreign-key enforcement back on: reopening the SQLite writer"
            );
            *self.slot = open_sqlite(self.path).ok();
        }
    }
}

fn transaction<T>(
    c: &mut dyn Conn,
    begin: &str,
    commit: bool,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    c.batch(begin)?;
    match f(c) {
        Ok(v) => {
            c.batch(if commit { "COMMIT" } else { "ROLLBACK" })?;
            Ok(v)
        }
        Err(e) => {
            let _ = c.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Hide the password in a connection URL.
pub fn redact_url(u: &str) -> String {
    match (u.find("://"), u.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &u[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &u[..s + 3], &u[at..]),
                None => u.to_string(),
            }
        }
        _ => u.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At a server's shutdown the last handle can go with a background task, on a thread of
    /// the async runtime: its idle PostgreSQL connections used to panic there, and the second
    /// one's panic aborted the process (seen in the data-entry benchmark).
    #[test]
    fn a_postgresql_handle_dropped_last_on_an_async_runtime_closes_quietly() {
        let t = crate::testing::TestDb::postgres();
        let db = Db::open(&t.url).expect("open");
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    db.read(|c| {
                        barrier.wait(); // both connections open at once
                        c.query("SELECT 1", &[])
                    })
                    .expect("read")
                });
            }
        });
        assert_eq!(
            db.inner.pool.lock().unwrap().idle.len(),
            2,
            "two idle connections"
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (started, running) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let _last = db;
            let _ = started.send(());
            std::future::pending::<()>().await
        });
        running.recv().expect("the task runs");
        drop(rt); // the task, and with it the last handle, is dropped on a runtime thread
    }

    #[test]
    fn placeholders_rewritten_outside_strings() {
        assert_eq!(
            sqlite_sql("SELECT $1, '$2' WHERE a = $10"),
            "SELECT ?1, '$2' WHERE a = ?10"
        );
    }

    #[test]
    fn urls_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }

    fn foreign_keys_on(c: &rusqlite::Connection) -> i64 {
        c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap()
    }

    /// The bulk transaction runs without foreign-key enforcement on SQLite and the writer gets
    /// it back however the transaction ends: committed, rolled back, failed or panicked.
    #[test]
    fn bulk_transaction_restores_foreign_keys() {
        let db = crate::testing::TestDb::sqlite();
        let fk = |c: &mut dyn Conn| Ok(foreign_keys_on(c.sqlite().unwrap()));
        for commit in [true, false] {
            assert_eq!(db.bulk_transaction(commit, fk).unwrap(), 0);
            assert_eq!(db.write(fk).unwrap(), 1, "commit = {commit}");
        }
        let failed: Result<(), _> =
            db.bulk_transaction(true, |_| Err(StoreError::Conflict("no".into())));
        assert!(failed.is_err());
        assert_eq!(db.write(fk).unwrap(), 1, "after an error");
        // a panic poisons the writer's lock, but leaves the connection checked and idle
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _: Result<(), _> = db.bulk_transaction(true, |c| {
                c.batch("DELETE FROM meta")?;
                panic!("in the middle of a bulk write")
            });
        }));
        assert!(r.is_err());
        let writer = db.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        let c = &writer.as_ref().unwrap().0;
        assert_eq!(foreign_keys_on(c), 1, "after a panic");
        assert!(c.is_autocommit(), "the transaction was rolled back");
        let meta: i64 = c
            .query_row("SELECT count(*) FROM meta", [], |r| r.get(0))
            .unwrap();
        assert!(meta > 0, "the delete was rolled back");
    }

    #[test]
    fn numeric_decoding() {
        // 12345.67 = digits [1, 2345, 6700], weight 1
        let mut raw = vec![];
        for v in [3i16, 1, 0, 2] {
            raw.extend_from_slice(&v.to_be_bytes());
        }
        for d in [1i16, 2345, 6700] {
            raw.extend_from_slice(&d.to_be_bytes());
        }
        assert!((numeric_to_f64(&raw).unwrap() - 12345.67).abs() < 1e-9);
    }
}

//! Bulk paths for large imports, one per engine: prepared statements on the native SQLite
//! connection; on PostgreSQL, binary COPY — straight into `data_value` when none of the
//! values is stored yet (most of them while the import is still reading the rest: [`Stream`]),
//! otherwise into a staging table merged by two statements.
//! Both give the same result as the portable per-value path in `values.rs`
//! (tests run both paths on both engines).
//!
//! References are checked once per import instead of once per row. Every distinct indicator,
//! unit and disaggregation id of the rows is looked up in one set-based step inside the
//! write's transaction, and a reference to a row that is gone refuses the whole import
//! ([`StoreError::Conflict`], nothing written). The per-row foreign-key checks are then
//! skipped, and the check is made to hold until the commit:
//! - SQLite: the write runs in [`crate::db::Db::bulk_transaction`] (enforcement off for that
//!   one transaction on the single writer connection, whose `BEGIN IMMEDIATE` keeps every
//!   other writer out until the commit; nothing in the transaction deletes catalogue rows);
//! - PostgreSQL: the referenced rows are locked `FOR KEY SHARE` — the lock each foreign-key
//!   trigger takes, taken once per distinct row — so that they can be neither deleted nor
//!   given another id before the commit; the inserts then run with
//!   `session_replication_role = replica`, which skips the foreign-key triggers, when the
//!   role may set it (superuser, or `GRANT SET ON PARAMETER`); updates always run with
//!   `origin`, so that the history trigger fires.

use crate::db::Conn;
use crate::error::StoreError;
use crate::values::{Checked, ImportCount, ImportOptions, Strategy};
use dantoc_domain::period::Period;

/// What a value refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ref {
    Indicator,
    Unit,
    Disagg,
}

impl Ref {
    const ALL: [Ref; 3] = [Ref::Indicator, Ref::Unit, Ref::Disagg];

    fn table(self) -> &'static str {
        match self {
            Ref::Indicator => "indicator",
            Ref::Unit => "admin_unit",
            Ref::Disagg => "disaggregation",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Ref::Indicator => "indicator",
            Ref::Unit => "administrative unit",
            Ref::Disagg => "disaggregation",
        }
    }
}

pub(crate) struct Write<'a> {
    pub rows: &'a [Checked],
    /// The order to write `rows` in (indexes into `rows`, each once): primary-key order.
    pub order: &'a [usize],
    /// The id of each disaggregation, by [`Checked::disagg`].
    pub disagg_ids: &'a [i64],
    pub now: &'a str,
    pub stored_by: &'a str,
    pub opts: &'a ImportOptions,
    /// The code of a referenced row, for messages (from the catalogue the import was checked
    /// with: the row itself may be gone).
    pub name: &'a dyn Fn(Ref, i64) -> String,
}

impl<'a> Write<'a> {
    /// Every distinct id the rows refer to, by kind (in [`Ref::ALL`] order), sorted.
    fn references(&self) -> [Vec<i64>; 3] {
        let (mut inds, mut units) = (vec![], vec![]);
        let mut used = vec![false; self.disagg_ids.len()];
        for r in self.rows {
            // files repeat one indicator and one unit over many rows
            if inds.last() != Some(&r.indicator_id) {
                inds.push(r.indicator_id);
            }
            if units.last() != Some(&r.unit_id) {
                units.push(r.unit_id);
            }
            used[r.disagg as usize] = true;
        }
        let mut disaggs: Vec<i64> = used
            .iter()
            .zip(self.disagg_ids)
            .filter(|(u, _)| **u)
            .map(|(_, id)| *id)
            .collect();
        for ids in [&mut inds, &mut units, &mut disaggs] {
            ids.sort_unstable();
            ids.dedup();
        }
        [inds, units, disaggs]
    }

    /// The import refused because some referenced rows are gone.
    fn refused(&self, missing: &[(Ref, i64)]) -> StoreError {
        const SHOWN: usize = 10;
        let mut names: Vec<String> = missing
            .iter()
            .take(SHOWN)
            .map(|&(k, id)| format!("{} {}", k.what(), (self.name)(k, id)))
            .collect();
        if missing.len() > SHOWN {
            names.push(format!("and {} more", missing.len() - SHOWN));
        }
        StoreError::Conflict(format!(
            "the values refer to catalogue entries that no longer exist (removed while the import ran): {}; nothing was imported",
            names.join(", ")
        ))
    }

    /// The rows in writing order, each with its period as stored.
    fn each<E>(&self, mut f: impl FnMut(&'a Checked, &str) -> Result<(), E>) -> Result<(), E> {
        let mut ptext = String::new();
        let mut last_period: Option<Period> = None;
        for &i in self.order {
            let r = &self.rows[i];
            if last_period != Some(r.period) {
                ptext = r.period.to_string();
                last_period = Some(r.period);
            }
            f(r, &ptext)?;
        }
        Ok(())
    }
}

fn sq(sql: &str) -> String {
    sql.replace('$', "?")
}

/// Values per multi-row INSERT on SQLite: fewer statement executions, same work per row.
const SQLITE_ROWS: usize = 64;
/// Parameters per value in [`crate::values::INSERT_SQL`].
const INSERT_PARAMS: usize = 14;

/// [`crate::values::INSERT_SQL`] for `rows` values at once, numbered parameters per row.
fn sqlite_insert_many(rows: usize) -> String {
    let (head, _) = crate::values::INSERT_SQL
        .split_once("VALUES")
        .expect("an INSERT … VALUES statement");
    let mut sql = format!("{head}VALUES ");
    for j in 0..rows {
        let b = j * INSERT_PARAMS;
        if j > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for k in 1..=INSERT_PARAMS {
            sql.push_str(&format!("?{}, ", b + k));
        }
        sql.push_str(&format!("?{}, 1)", b + INSERT_PARAMS));
    }
    sql.push_str(" ON CONFLICT DO NOTHING");
    sql
}

/// Bind the parameters of one value that change from value to value, from `b + 1` on.
fn bind_value(
    st: &mut rusqlite::Statement,
    b: usize,
    r: &Checked,
    ptext: &str,
    disagg_id: i64,
) -> rusqlite::Result<()> {
    let v = r.value.as_ref().expect("checked: a value unless deleting");
    let (ms, me) = r.period.month_range();
    st.raw_bind_parameter(b + 1, r.indicator_id)?;
    st.raw_bind_parameter(b + 2, r.unit_id)?;
    st.raw_bind_parameter(b + 3, ptext)?;
    st.raw_bind_parameter(b + 4, disagg_id)?;
    st.raw_bind_parameter(b + 5, ms)?;
    st.raw_bind_parameter(b + 6, me)?;
    st.raw_bind_parameter(b + 7, v.number)?;
    st.raw_bind_parameter(b + 8, v.text.as_str())?;
    st.raw_bind_parameter(b + 9, r.comment.as_deref())?;
    st.raw_bind_parameter(b + 10, r.followup.unwrap_or(false))
}

/// Bind the parameters that are the same for every value of the import.
fn bind_constants(st: &mut rusqlite::Statement, b: usize, w: &Write) -> rusqlite::Result<()> {
    st.raw_bind_parameter(b + 11, w.opts.demo)?;
    st.raw_bind_parameter(b + 12, w.opts.source.as_deref())?;
    st.raw_bind_parameter(b + 13, w.stored_by)?;
    st.raw_bind_parameter(b + 14, w.now)
}

/// Every id the rows refer to exists — and, for the disaggregations (which the import may have
/// just created), so does their ethnic group: the foreign keys written in the bulk transaction,
/// which may run without enforcement. One statement; ids travel as JSON arrays.
const SQLITE_MISSING: &str = "
    SELECT 0, j.value FROM json_each(?1) j
     WHERE NOT EXISTS (SELECT 1 FROM indicator t WHERE t.id = j.value)
    UNION ALL
    SELECT 1, j.value FROM json_each(?2) j
     WHERE NOT EXISTS (SELECT 1 FROM admin_unit t WHERE t.id = j.value)
    UNION ALL
    SELECT 2, j.value FROM json_each(?3) j LEFT JOIN disaggregation t ON t.id = j.value
     WHERE t.id IS NULL OR (t.ethnic_code IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM ethnic_group e WHERE e.code_2008 = t.ethnic_code))";

fn sqlite_check_references(conn: &rusqlite::Connection, w: &Write) -> Result<(), StoreError> {
    let json = |ids: &[i64]| {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        format!("[{}]", list.join(","))
    };
    let [inds, units, disaggs] = w.references();
    let mut st = conn.prepare_cached(SQLITE_MISSING)?;
    let missing = st
        .query_map(
            rusqlite::params![json(&inds), json(&units), json(&disaggs)],
            |r| Ok((Ref::ALL[r.get::<_, i64>(0)? as usize], r.get::<_, i64>(1)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(w.refused(&missing))
    }
}

pub(crate) fn sqlite(c: &mut dyn Conn, w: &Write) -> Result<ImportCount, StoreError> {
    let conn = c
        .sqlite()
        .ok_or_else(|| StoreError::Db("not a SQLite connection".into()))?;
    sqlite_check_references(conn, w)?;
    let mut one = conn.prepare_cached(&sq(crate::values::INSERT_SQL))?;
    let mut many = conn.prepare_cached(&sqlite_insert_many(SQLITE_ROWS))?;
    let mut upd = conn.prepare_cached(&sq(crate::values::UPDATE_SQL))?;
    let mut count = ImportCount::default();
    let source = w.opts.source.as_deref();
    // Update a value that is stored already (no-op when it is the same, so also for a value
    // the insert has just written). Returns whether it changed.
    let mut update = |r: &Checked, ptext: &str| -> Result<bool, StoreError> {
        let v = r.value.as_ref().expect("checked: a value unless deleting");
        let n = upd.execute(rusqlite::params![
            v.number,
            v.text,
            r.comment,
            r.followup.map(|b| b as i64),
            w.opts.demo,
            source,
            w.stored_by,
            w.now,
            r.indicator_id,
            r.unit_id,
            ptext,
            w.disagg_ids[r.disagg as usize],
            r.period.month_range().0
        ])?;
        Ok(n > 0)
    };
    if w.opts.strategy == Strategy::Update {
        w.each(|r, ptext| -> Result<(), StoreError> {
            if update(r, ptext)? {
                count.updated += 1;
            } else {
                count.ignored += 1;
            }
            Ok(())
        })?;
        return Ok(count);
    }
    bind_constants(&mut one, 0, w)?;
    for j in 0..SQLITE_ROWS {
        bind_constants(&mut many, j * INSERT_PARAMS, w)?;
    }
    // Values go in by SQLITE_ROWS; when some of them were stored already (the insert skips
    // them), each value of the group then goes through the update.
    let mut group: Vec<&Checked> = Vec::with_capacity(SQLITE_ROWS);
    let mut settle = |group: &[&Checked], inserted: usize| -> Result<(), StoreError> {
        count.imported += inserted as u64;
        let mut updated = 0;
        if inserted < group.len() && w.opts.strategy != Strategy::Create {
            for r in group {
                if update(r, &r.period.to_string())? {
                    updated += 1;
                }
            }
        }
        count.updated += updated;
        count.ignored += (group.len() - inserted) as u64 - updated;
        Ok(())
    };
    let full = w.order.len() - w.order.len() % SQLITE_ROWS;
    let (grouped, rest) = w.order.split_at(full);
    let head = Write {
        order: grouped,
        ..*w
    };
    head.each(|r, ptext| -> Result<(), StoreError> {
        bind_value(
            &mut many,
            group.len() * INSERT_PARAMS,
            r,
            ptext,
            w.disagg_ids[r.disagg as usize],
        )?;
        group.push(r);
        if group.len() == SQLITE_ROWS {
            let n = many.raw_execute()?;
            settle(&group, n)?;
            group.clear();
        }
        Ok(())
    })?;
    let tail = Write { order: rest, ..*w };
    tail.each(|r, ptext| -> Result<(), StoreError> {
        bind_value(&mut one, 0, r, ptext, w.disagg_ids[r.disagg as usize])?;
        let n = one.raw_execute()?;
        settle(&[r], n)
    })?;
    Ok(count)
}

const STAGE_COLUMNS: &str = "indicator_id, unit_id, period, disagg_id, month_start, month_end, value, value_text, comment, followup";

fn stage_types() -> [postgres::types::Type; 10] {
    use postgres::types::Type;
    [
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
    ]
}

/// Whether some of the values may already be stored: any stored value for one of their
/// (indicator, period, unit) triples. Cheap: one index probe per triple (values of one triple
/// come together in key order, and mostly in file order too).
fn any_stored<'r>(
    client: &mut postgres::Client,
    rows: impl Iterator<Item = &'r Checked>,
) -> Result<bool, StoreError> {
    let (mut inds, mut starts, mut units, mut periods) = (vec![], vec![], vec![], vec![]);
    let mut last: Option<(i64, Period, i64)> = None;
    for r in rows {
        let k = (r.indicator_id, r.period, r.unit_id);
        if last != Some(k) {
            inds.push(k.0);
            starts.push(k.1.month_range().0 as i64);
            periods.push(k.1.to_string());
            units.push(k.2);
            last = Some(k);
        }
    }
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1
               FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[]) AS k(i, m, u, p)
               JOIN data_value d ON d.indicator_id = k.i AND d.month_start = k.m
                AND d.unit_id = k.u AND d.period = k.p)",
            &[&inds, &starts, &units, &periods],
        )?
        .get::<_, bool>(0))
}

/// The columns a new value is copied into `data_value` with (the rest take their defaults).
const COPY_SQL: &str = "COPY data_value (indicator_id, unit_id, period, disagg_id, month_start,
    month_end, value, value_text, comment, followup, demo, source, stored_by, created_at,
    updated_at, version) FROM STDIN (FORMAT binary)";

/// Rows of a `COPY … FROM STDIN (FORMAT binary)`, encoded here and sent in chunks of about
/// 64 kB. (The postgres crate's `BinaryCopyInWriter` enters its runtime for every row, which
/// cost the client about as much as reading the CSV.)
struct CopyRows<'a> {
    writer: postgres::CopyInWriter<'a>,
    buf: Vec<u8>,
}

impl<'a> CopyRows<'a> {
    const CHUNK: usize = 64 * 1024;

    fn new(writer: postgres::CopyInWriter<'a>) -> CopyRows<'a> {
        let mut buf = Vec::with_capacity(Self::CHUNK + 1024);
        // signature, flags, header extension length
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes());
        buf.extend_from_slice(&0i32.to_be_bytes());
        CopyRows { writer, buf }
    }

    /// Start a row of `fields` fields.
    fn row(&mut self, fields: i16) -> Result<(), StoreError> {
        if self.buf.len() >= Self::CHUNK {
            self.send()?;
        }
        self.buf.extend_from_slice(&fields.to_be_bytes());
        Ok(())
    }

    fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    /// A BIGINT.
    fn int(&mut self, v: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A DOUBLE PRECISION.
    fn real(&mut self, v: Option<f64>) {
        match v {
            Some(v) => {
                self.buf.extend_from_slice(&8i32.to_be_bytes());
                self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
            }
            None => self.null(),
        }
    }

    /// A TEXT (the binary form of text is its UTF-8 bytes).
    fn text(&mut self, v: Option<&str>) {
        match v {
            Some(v) => {
                self.buf.extend_from_slice(&(v.len() as i32).to_be_bytes());
                self.buf.extend_from_slice(v.as_bytes());
            }
            None => self.null(),
        }
    }

    fn send(&mut self) -> Result<(), StoreError> {
        use std::io::Write;
        let r = self.writer.write_all(&self.buf);
        self.buf.clear();
        // the server's own errors come with the answer to `finish`
        r.map_err(|e| StoreError::Db(format!("COPY: {e}")))
    }

    /// The trailer, and the end of the COPY: the server's answer (an error if some row was
    /// refused).
    fn finish(mut self) -> Result<Result<u64, postgres::Error>, StoreError> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.send()?;
        Ok(self.writer.finish())
    }
}

/// What every new value of an import is stored with.
struct NewValues<'a> {
    demo: i64,
    source: Option<&'a str>,
    stored_by: &'a str,
    now: &'a str,
}

impl NewValues<'_> {
    /// One new value as a row of [`COPY_SQL`] (followup defaults to false, version 1).
    fn copy(
        &self,
        rows: &mut CopyRows,
        r: &Checked,
        ptext: &str,
        disagg_id: i64,
    ) -> Result<(), StoreError> {
        let v = r.value.as_ref().expect("checked: a value unless deleting");
        let (ms, me) = r.period.month_range();
        rows.row(16)?;
        rows.int(r.indicator_id);
        rows.int(r.unit_id);
        rows.text(Some(ptext));
        rows.int(disagg_id);
        rows.int(ms as i64);
        rows.int(me as i64);
        rows.real(v.number);
        rows.text(Some(&v.text));
        rows.text(r.comment.as_deref());
        rows.int(r.followup.unwrap_or(false) as i64);
        rows.int(self.demo);
        rows.text(self.source);
        rows.text(Some(self.stored_by));
        rows.text(Some(self.now));
        rows.text(Some(self.now));
        rows.int(1);
        Ok(())
    }
}

/// New values only: binary COPY straight into `data_value`, in primary-key order. The same
/// rows as the merge's insert. Returns `false`, with nothing written, if a value of the batch
/// turned out to be stored already (stored by another transaction since [`any_stored`]
/// looked).
fn copy_new(client: &mut postgres::Client, w: &Write) -> Result<bool, StoreError> {
    client.batch_execute("SAVEPOINT dantoc_bulk_copy")?;
    let new = NewValues {
        demo: w.opts.demo as i64,
        source: w.opts.source.as_deref(),
        stored_by: w.stored_by,
        now: w.now,
    };
    let mut rows = CopyRows::new(client.copy_in(COPY_SQL)?);
    w.each(|r, ptext| new.copy(&mut rows, r, ptext, w.disagg_ids[r.disagg as usize]))?;
    match rows.finish()? {
        Ok(_) => {
            client.batch_execute("RELEASE SAVEPOINT dantoc_bulk_copy")?;
            Ok(true)
        }
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
            client.batch_execute("ROLLBACK TO SAVEPOINT dantoc_bulk_copy")?;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether an import may be streamed on PostgreSQL ([`Stream`]): one that creates values and
/// is audited as a whole.
pub(crate) fn streams(opts: &ImportOptions) -> bool {
    !opts.audit_each && matches!(opts.strategy, Strategy::Create | Strategy::CreateAndUpdate)
}

/// PostgreSQL: new values copied into `data_value` while the import is still reading and
/// checking the rest of them ([`crate::values::import`]), so that the server's work on the
/// first values overlaps the reading of the last ones.
///
/// Only values that arrive in primary-key order are written this way, appending to the key —
/// a file ordered by indicator, period and unit (a yearly report of every commune, say) goes
/// in whole. A value whose
/// (indicator, period, unit) comes before that of the last value written (within its
/// indicator; a new indicator starts a new run) is kept for later, and so is a value whose
/// disaggregation is not stored yet (the connection is busy with the COPY and cannot create
/// it): after the reading, the bulk path writes what is left in key order. All of it under a
/// savepoint: if a value turns out to be stored already, the stream is rolled back and every
/// value goes through the bulk path (the merge). A problem found while reading stops the
/// stream and the whole transaction is rolled back. The references are checked and locked by
/// the bulk path after the reading, for every value, streamed or not: a referenced row deleted
/// meanwhile is then found gone and refuses the import, and none can go from then on.
pub(crate) struct Stream<'c> {
    writer: Option<CopyRows<'c>>,
    started: bool,
    skip_fk: bool,
    /// Whether each value offered so far (by index) was written.
    written: Vec<bool>,
    count: u64,
    /// (indicator, period, unit) of the last value written.
    last: Option<(i64, Period, i64)>,
    /// Indicators whose run of values is over.
    ended: Vec<i64>,
    ptext: String,
    pcur: Option<Period>,
    demo: i64,
    source: Option<String>,
    stored_by: String,
    now: String,
}

impl<'c> Stream<'c> {
    /// Start copying, unless some of the `first` values is stored already (then nothing is
    /// streamed: they will be merged).
    pub fn start(
        c: &'c mut dyn Conn,
        first: &[Checked],
        opts: &ImportOptions,
        stored_by: &str,
        now: &str,
    ) -> Result<Stream<'c>, StoreError> {
        let client = c
            .postgres()
            .ok_or_else(|| StoreError::Db("not a PostgreSQL connection".into()))?;
        let mut s = Stream {
            writer: None,
            started: false,
            skip_fk: false,
            written: Vec::with_capacity(first.len()),
            count: 0,
            last: None,
            ended: vec![],
            ptext: String::new(),
            pcur: None,
            demo: opts.demo as i64,
            source: opts.source.clone(),
            stored_by: stored_by.to_string(),
            now: now.to_string(),
        };
        if any_stored(client, first.iter())? {
            return Ok(s);
        }
        s.skip_fk = may_skip_fk_triggers(client)?;
        client.batch_execute("SAVEPOINT dantoc_bulk_stream")?;
        replica(client, s.skip_fk, true)?;
        s.writer = Some(CopyRows::new(client.copy_in(COPY_SQL)?));
        s.started = true;
        Ok(s)
    }

    /// Value `i` (offered in index order, each once), with the id of its disaggregation if it
    /// is stored: written now if it comes in key order.
    pub fn offer(
        &mut self,
        i: usize,
        r: &Checked,
        disagg_id: Option<i64>,
    ) -> Result<(), StoreError> {
        debug_assert_eq!(self.written.len(), i);
        let id = match (self.writer.is_some(), disagg_id) {
            (true, Some(id)) if self.in_order(r) => id,
            _ => {
                self.written.push(false);
                return Ok(());
            }
        };
        if self.pcur != Some(r.period) {
            self.ptext = r.period.to_string();
            self.pcur = Some(r.period);
        }
        let new = NewValues {
            demo: self.demo,
            source: self.source.as_deref(),
            stored_by: &self.stored_by,
            now: &self.now,
        };
        let writer = self.writer.as_mut().expect("checked above");
        new.copy(writer, r, &self.ptext, id)?;
        self.written.push(true);
        self.count += 1;
        Ok(())
    }

    /// Whether `r` appends to the values written (and if so, it is the last one now).
    fn in_order(&mut self, r: &Checked) -> bool {
        let k = (r.indicator_id, r.period, r.unit_id);
        let ok = match self.last {
            None => true,
            Some(l) if l.0 == k.0 => (k.1, k.2) >= (l.1, l.2),
            Some(l) => {
                if self.ended.contains(&k.0) {
                    false
                } else {
                    self.ended.push(l.0);
                    true
                }
            }
        };
        if ok {
            self.last = Some(k);
        }
        ok
    }

    /// Stop writing (a problem was found: the transaction will be rolled back).
    pub fn abandon(&mut self) {
        // dropping the writer aborts the COPY
        self.writer = None;
    }

    /// End the COPY.
    pub fn finish(self) -> Result<Streamed, StoreError> {
        let mut done = Streamed {
            started: self.started,
            copied: false,
            skip_fk: self.skip_fk,
            written: self.written,
            count: self.count,
        };
        if let Some(writer) = self.writer {
            match writer.finish()? {
                Ok(_) => done.copied = true,
                Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    }
}

/// What a [`Stream`] wrote.
pub(crate) struct Streamed {
    started: bool,
    copied: bool,
    skip_fk: bool,
    written: Vec<bool>,
    count: u64,
}

impl Streamed {
    /// Keep what the stream wrote, or roll it back if the COPY did not go through (a value
    /// stored already, or the stream abandoned).
    pub fn settle(&mut self, c: &mut dyn Conn) -> Result<(), StoreError> {
        if !self.started {
            return Ok(());
        }
        let client = c
            .postgres()
            .ok_or_else(|| StoreError::Db("not a PostgreSQL connection".into()))?;
        if self.copied {
            replica(client, self.skip_fk, false)?;
            client.batch_execute("RELEASE SAVEPOINT dantoc_bulk_stream")?;
        } else {
            client.batch_execute(
                "ROLLBACK TO SAVEPOINT dantoc_bulk_stream; RELEASE SAVEPOINT dantoc_bulk_stream",
            )?;
            self.written.clear();
            self.count = 0;
        }
        self.started = false;
        Ok(())
    }

    /// Whether value `i` was written.
    pub fn written(&self, i: usize) -> bool {
        self.written.get(i).copied().unwrap_or(false)
    }

    /// How many values were written.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Lock every row the values refer to `FOR KEY SHARE` (as each foreign-key trigger would, once
/// per distinct row): until the commit none of them can be deleted or change its id. Refuses
/// the import if some of them are gone.
fn postgres_lock_references(client: &mut postgres::Client, w: &Write) -> Result<(), StoreError> {
    let mut missing = vec![];
    for (kind, ids) in Ref::ALL.into_iter().zip(w.references()) {
        let found: std::collections::HashSet<i64> = client
            .query(
                &format!(
                    "SELECT id FROM {} WHERE id = ANY($1) FOR KEY SHARE",
                    kind.table()
                ),
                &[&ids],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        missing.extend(
            ids.iter()
                .filter(|id| !found.contains(id))
                .map(|&id| (kind, id)),
        );
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(w.refused(&missing))
    }
}

/// Whether this transaction may set `session_replication_role` (superuser, or PostgreSQL 15's
/// `GRANT SET ON PARAMETER session_replication_role`); tried under a savepoint, left `origin`.
fn may_skip_fk_triggers(client: &mut postgres::Client) -> Result<bool, StoreError> {
    client.batch_execute("SAVEPOINT dantoc_bulk_role")?;
    match client.batch_execute("SET LOCAL session_replication_role = replica") {
        Ok(()) => {
            client.batch_execute(
                "SET LOCAL session_replication_role = origin; RELEASE SAVEPOINT dantoc_bulk_role",
            )?;
            Ok(true)
        }
        Err(e) if e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {
            client.batch_execute(
                "ROLLBACK TO SAVEPOINT dantoc_bulk_role; RELEASE SAVEPOINT dantoc_bulk_role",
            )?;
            tracing::debug!(
                "this role may not set session_replication_role: the bulk write keeps the per-row foreign-key checks"
            );
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// `session_replication_role` for this transaction, when the role may set it: `replica` skips
/// the per-row foreign-key triggers (and every other trigger that is not `ENABLE ALWAYS`: use
/// it for inserts only — `data_value` has no insert trigger — never for updates or deletes).
fn replica(client: &mut postgres::Client, allowed: bool, on: bool) -> Result<(), StoreError> {
    if allowed {
        client.batch_execute(if on {
            "SET LOCAL session_replication_role = replica"
        } else {
            "SET LOCAL session_replication_role = origin"
        })?;
    }
    Ok(())
}

pub(crate) fn postgres(c: &mut dyn Conn, w: &Write) -> Result<ImportCount, StoreError> {
    use postgres::binary_copy::BinaryCopyInWriter;
    let client = c
        .postgres()
        .ok_or_else(|| StoreError::Db("not a PostgreSQL connection".into()))?;
    let n = w.order.len() as u64;
    // every value's references, also those of values a stream has written already
    postgres_lock_references(client, w)?;
    if n == 0 {
        return Ok(ImportCount::default());
    }
    let skip_fk = w.opts.strategy != Strategy::Update && may_skip_fk_triggers(client)?;
    if w.opts.strategy != Strategy::Update
        && !any_stored(client, w.order.iter().map(|&i| &w.rows[i]))?
    {
        replica(client, skip_fk, true)?;
        let copied = copy_new(client, w)?;
        replica(client, skip_fk, false)?;
        if copied {
            return Ok(ImportCount {
                imported: n,
                ..Default::default()
            });
        }
    }
    client.batch_execute(
        "CREATE TEMP TABLE dv_stage (
            indicator_id BIGINT, unit_id BIGINT, period TEXT, disagg_id BIGINT, month_start BIGINT,
            month_end BIGINT, value DOUBLE PRECISION, value_text TEXT, comment TEXT, followup BIGINT
         ) ON COMMIT DROP",
    )?;
    let sink = client.copy_in(&format!(
        "COPY dv_stage ({STAGE_COLUMNS}) FROM STDIN (FORMAT binary)"
    ))?;
    let mut writer = BinaryCopyInWriter::new(sink, &stage_types());
    w.each(|r, ptext| {
        let v = r.value.as_ref().expect("checked: a value unless deleting");
        let (ms, me) = r.period.month_range();
        let followup = r.followup.map(|b| b as i64);
        writer.write(&[
            &r.indicator_id,
            &r.unit_id,
            &ptext,
            &w.disagg_ids[r.disagg as usize],
            &(ms as i64),
            &(me as i64),
            &v.number,
            &v.text,
            &r.comment,
            &followup,
        ])
    })?;
    writer.finish()?;
    let demo = w.opts.demo as i64;
    let source = w.opts.source.as_deref();
    let changed = "(d.value_text <> s.value_text OR (s.comment IS NOT NULL AND (d.comment IS NULL OR d.comment <> s.comment))
                   OR (s.followup IS NOT NULL AND d.followup <> s.followup) OR d.demo <> $1)";
    let insert = "INSERT INTO data_value AS d (indicator_id, unit_id, period, disagg_id, month_start, month_end, value,
            value_text, comment, followup, demo, source, stored_by, created_at, updated_at, version)
         SELECT s.indicator_id, s.unit_id, s.period, s.disagg_id, s.month_start, s.month_end, s.value, s.value_text,
            s.comment, coalesce(s.followup, 0), CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($3 AS TEXT),
            CAST($4 AS TEXT), CAST($4 AS TEXT), 1 FROM dv_stage s";
    let update = format!(
        "WITH up AS (UPDATE data_value d SET value = s.value, value_text = s.value_text,
            comment = coalesce(s.comment, d.comment), followup = coalesce(s.followup, d.followup),
            demo = $1, source = $2, stored_by = $3, updated_at = $4, version = d.version + 1
          FROM dv_stage s WHERE d.indicator_id = s.indicator_id AND d.month_start = s.month_start
            AND d.unit_id = s.unit_id AND d.disagg_id = s.disagg_id AND d.period = s.period
            AND {changed} RETURNING 1)
         SELECT count(*) FROM up"
    );
    let create = format!(
        "WITH up AS ({insert} ON CONFLICT (indicator_id, month_start, unit_id, disagg_id, period) DO NOTHING RETURNING 1)
         SELECT count(*) FROM up"
    );
    let params: [&(dyn postgres::types::ToSql + Sync); 4] = [&demo, &source, &w.stored_by, &w.now];
    let mut count = ImportCount::default();
    // existing values first (so that the insert below skips them), then new ones; the update
    // with session_replication_role = origin, so that the history trigger fires
    if w.opts.strategy != Strategy::Create {
        count.updated = client.query_one(update.as_str(), &params)?.get::<_, i64>(0) as u64;
    }
    if w.opts.strategy != Strategy::Update {
        replica(client, skip_fk, true)?;
        count.imported = client.query_one(create.as_str(), &params)?.get::<_, i64>(0) as u64;
        replica(client, skip_fk, false)?;
    }
    count.ignored = n - count.imported - count.updated;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Actor;
    use crate::testing::TestDb;
    use crate::values::{self, BULK_MIN, ImportSummary, RawValue};
    use dantoc_domain::FieldError;
    use dantoc_domain::admin::HierarchyVersion as V;
    use dantoc_domain::value::CheckedValue;

    crate::on_both_backends!(
        bulk_import_refused_when_a_referenced_unit_is_removed_meanwhile,
        bulk_import_keeps_history_of_updated_values,
        streamed_import_refused_by_a_late_problem,
        streamed_import_meets_a_value_stored_beyond_the_first_values,
        streamed_import_takes_values_out_of_order_and_new_disaggregations,
    );

    fn rv(unit: &str, period: &str, disagg: &str, value: &str) -> RawValue {
        RawValue {
            indicator: "0101".into(),
            unit: unit.into(),
            period: period.into(),
            disagg: disagg.into(),
            value: Some(value.into()),
            ..Default::default()
        }
    }

    /// `n` values of indicator 0101 for five communes of the 2024 hierarchy, in file order.
    fn values_for_communes(n: usize) -> Vec<RawValue> {
        let mut v = vec![];
        for y in 2000..2024 {
            for c in ["06877", "06862", "06970", "07030", "06700"] {
                for e in 1..=54 {
                    for s in ["M", "F"] {
                        let value = (e * 10 + y).to_string();
                        v.push(rv(
                            &format!("{c}@2024"),
                            &y.to_string(),
                            &format!("E{e:02}.{s}"),
                            &value,
                        ));
                    }
                }
            }
        }
        v.truncate(n);
        v
    }

    fn import_items(
        db: &TestDb,
        opts: &ImportOptions,
        items: impl IntoIterator<Item = Result<RawValue, FieldError>>,
    ) -> Result<ImportSummary, StoreError> {
        values::import(db, &Actor::system(), opts, items, &|i, e| {
            e.at(i as u64 + 2, None)
        })
    }

    fn import(db: &TestDb, opts: &ImportOptions, vals: Vec<RawValue>) -> ImportSummary {
        import_items(db, opts, vals.into_iter().map(Ok)).unwrap()
    }

    /// A unit that the catalogue had when the import started but that is gone when it writes
    /// (here: a village, with its closure rows, removed while the values are read and checked —
    /// the import loads the catalogue first, then reads its items one by one, as it reads an
    /// uploaded file) refuses the whole bulk import cleanly: a conflict naming the unit,
    /// nothing written or audited, and the per-row foreign-key checks in force again afterwards.
    fn bulk_import_refused_when_a_referenced_unit_is_removed_meanwhile(db: &TestDb) {
        let village = db
            .write(|c| {
                crate::units::create_village(c, V::V2025, "06877", "06877-99", "Thử", "thôn")
            })
            .unwrap();
        let vid = db
            .read(|c| Ok(crate::units::id_of(c, V::V2025, &village.code)?.unwrap()))
            .unwrap();
        let mut vals = values_for_communes(2000);
        for e in 1..=54 {
            for s in ["M", "F"] {
                vals.push(rv("06877-99@2025", "2025", &format!("E{e:02}.{s}"), "3"));
            }
        }
        assert!(vals.len() >= BULK_MIN);
        let audited = |db: &TestDb| {
            db.read(|c| c.scalar_i64("SELECT count(*) FROM audit_log", &[]))
                .unwrap()
        };
        let audit_before = audited(db);
        let mut removed = false;
        let remove = std::iter::from_fn(|| -> Option<Result<RawValue, FieldError>> {
            if !removed {
                removed = true;
                db.write(|c| {
                    c.execute(
                        "DELETE FROM admin_unit_closure WHERE descendant_id = $1",
                        &[vid.into()],
                    )?;
                    c.execute("DELETE FROM admin_unit WHERE id = $1", &[vid.into()])
                })
                .unwrap();
            }
            None
        });
        let r = import_items(
            db,
            &ImportOptions::default(),
            vals.clone().into_iter().map(Ok).chain(remove),
        );
        assert!(removed);
        match r {
            Err(StoreError::Conflict(m)) => {
                assert!(m.contains("administrative unit 06877-99@2025"), "{m}");
                assert!(m.contains("nothing was imported"), "{m}");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(db.read(values::count).unwrap(), 0, "nothing written");
        assert_eq!(audited(db), audit_before, "nothing audited");
        // foreign keys are enforced again, row by row, on the connection that wrote
        let dangling = db.write(|c| {
            c.execute(
                "INSERT INTO data_value (indicator_id, unit_id, period, disagg_id, month_start,
                    month_end, value, value_text, stored_by, created_at, updated_at)
                 SELECT id, $1, '2025', 1, 24300, 24311, 1, '1', 'x', 'x', 'x' FROM indicator
                 WHERE code = '0101'",
                &[vid.into()],
            )
        });
        assert!(
            dangling.is_err(),
            "a dangling unit is refused: {dangling:?}"
        );
        // without the removed unit, the same import goes through
        let s = import(db, &ImportOptions::default(), vals[..2000].to_vec());
        assert_eq!((s.status, s.import_count.imported), ("SUCCESS", 2000));
    }

    /// Values updated by a bulk import keep their earlier state in the history (the history
    /// trigger fires for the bulk paths' updates), whether the import also creates values or
    /// only updates.
    fn bulk_import_keeps_history_of_updated_values(db: &TestDb) {
        let all = values_for_communes(3500);
        let opts = ImportOptions::default();
        let s = import(db, &opts, all[..3000].to_vec());
        assert_eq!(s.import_count.imported, 3000);
        // every third value changed
        let changed = |to: usize, v: &str| -> Vec<RawValue> {
            all[..to]
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut r = r.clone();
                    if i % 3 == 0 {
                        r.value = Some(v.into());
                    }
                    r
                })
                .collect()
        };
        // and 500 new ones: on PostgreSQL the merge (update, then insert) rather than the copy
        let s = import(db, &opts, changed(3500, "7"));
        let c = &s.import_count;
        assert_eq!((c.imported, c.updated, c.ignored), (500, 1000, 2000));
        let history = |db: &TestDb| {
            db.read(|c| {
                c.scalar_i64(
                    "SELECT count(*) FROM data_value_history WHERE op = 'update'",
                    &[],
                )
            })
            .unwrap()
        };
        assert_eq!(history(db), 1000, "one earlier state per updated value");
        let first = &all[0];
        let h = db
            .read(|c| values::history(c, "0101", &first.unit, &first.period, &first.disagg))
            .unwrap();
        let got: Vec<(&str, &str, i64)> = h
            .iter()
            .map(|h| (h.op.as_str(), h.value_text.as_str(), h.version))
            .collect();
        assert_eq!(got, vec![("update", first.value.as_deref().unwrap(), 1)]);
        // an update-only bulk import
        let update = ImportOptions {
            strategy: Strategy::Update,
            ..Default::default()
        };
        let s = import(db, &update, changed(3000, "8"));
        let c = &s.import_count;
        assert_eq!((c.updated, c.ignored), (1000, 2000));
        assert_eq!(history(db), 2000);
        if db.backend() == crate::db::Backend::Postgres {
            let role = db
                .read(|c| {
                    c.query_one("SELECT current_setting('session_replication_role')", &[])
                        .map(|r| r.map(|r| r.str(0)))
                })
                .unwrap();
            assert_eq!(role.as_deref(), Some("origin"));
        }
    }

    /// `session_replication_role = replica` skips every trigger that is not `ENABLE ALWAYS`,
    /// not only the foreign-key ones: the bulk inserts rely on `data_value` having no other
    /// trigger that fires on INSERT.
    #[test]
    fn data_value_has_no_insert_trigger_that_the_bulk_insert_would_skip() {
        let db = TestDb::postgres();
        let names = db
            .read(|c| {
                c.query(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'data_value'::regclass
                       AND NOT tgisinternal AND tgenabled <> 'A' AND (tgtype & 4) <> 0",
                    &[],
                )
            })
            .unwrap();
        assert!(names.is_empty(), "{names:?}");
    }

    /// A role that may not set `session_replication_role` imports through the same bulk path
    /// with the per-row foreign-key checks (setting the role fails, under a savepoint, and the
    /// import goes on without it).
    #[test]
    fn bulk_import_without_the_right_to_skip_triggers() {
        let db = TestDb::postgres();
        let role = format!("dantoc_test_nosu_{}", std::process::id());
        let admin = |url: &str, sql: &str| {
            ::postgres::Client::connect(url, ::postgres::NoTls)
                .and_then(|mut c| c.batch_execute(sql))
        };
        struct DropRole(String, String, String);
        impl Drop for DropRole {
            fn drop(&mut self) {
                if let Ok(mut c) = ::postgres::Client::connect(&self.1, ::postgres::NoTls) {
                    let _ = c.batch_execute(&format!("DROP OWNED BY {}", self.0));
                }
                if let Ok(mut c) = ::postgres::Client::connect(&self.2, ::postgres::NoTls) {
                    let _ = c.batch_execute(&format!("DROP ROLE IF EXISTS {}", self.0));
                }
            }
        }
        let pg_admin = crate::testing::pg_admin_url();
        admin(
            &pg_admin,
            &format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN"),
        )
        .unwrap();
        let _drop = DropRole(role.clone(), db.url.clone(), pg_admin);
        admin(
            &db.url,
            &format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
                 GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}"
            ),
        )
        .unwrap();
        let (scheme, rest) = db.url.split_once("://").unwrap();
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let url = format!("{scheme}://{role}@{host}");
        let weak = crate::db::Db::open(&url).unwrap();
        let is_super = weak
            .read(|c| {
                c.scalar_i64(
                    "SELECT CAST(rolsuper AS INT) FROM pg_roles WHERE rolname = current_user",
                    &[],
                )
            })
            .unwrap();
        assert_eq!(is_super, 0);
        let vals: Vec<crate::values::RawValue> = (2000..2024)
            .flat_map(|y| {
                (1..=54).flat_map(move |e| {
                    ["M", "F"].map(|s| crate::values::RawValue {
                        indicator: "0101".into(),
                        unit: "06877@2024".into(),
                        period: y.to_string(),
                        disagg: format!("E{e:02}.{s}"),
                        value: Some("5".into()),
                        ..Default::default()
                    })
                })
            })
            .collect();
        assert!(vals.len() >= crate::values::BULK_MIN);
        let s = crate::values::import(
            &weak,
            &crate::audit::Actor::system(),
            &ImportOptions::default(),
            vals.into_iter().map(Ok),
            &|_, e| e,
        )
        .unwrap();
        assert_eq!((s.status, s.import_count.imported), ("SUCCESS", 24 * 108));
        weak.close_idle();
    }

    /// A value of the batch stored by another transaction after [`any_stored`] looked: the
    /// direct COPY gives way, leaving nothing behind, and the merge does the work.
    #[test]
    fn direct_copy_gives_way_to_the_merge() {
        let db = TestDb::postgres();
        let (ind, unit) = db
            .read(|c| {
                Ok((
                    c.scalar_i64("SELECT id FROM indicator WHERE code = '0101'", &[])?,
                    c.scalar_i64(
                        "SELECT id FROM admin_unit WHERE version = '2024' AND code = '06877'",
                        &[],
                    )?,
                ))
            })
            .unwrap();
        let rows: Vec<Checked> = (2000..2003)
            .map(|y| Checked {
                indicator_id: ind,
                unit_id: unit,
                period: Period::year(y).unwrap(),
                disagg: 0,
                value: Some(CheckedValue {
                    number: Some(1.0),
                    text: "1".into(),
                }),
                comment: None,
                followup: None,
            })
            .collect();
        let opts = ImportOptions::default();
        let w = Write {
            rows: &rows,
            order: &[0, 1, 2],
            disagg_ids: &[1],
            now: "2025-01-01T00:00:00.000Z",
            stored_by: "test",
            opts: &opts,
            name: &|_, id| id.to_string(),
        };
        db.write(|c| {
            c.execute(
                "INSERT INTO data_value (indicator_id, unit_id, period, disagg_id, month_start,
                    month_end, value, value_text, stored_by, created_at, updated_at)
                 VALUES ($1, $2, '2001', 1, 24012, 24023, 1, '1', 'other', 'x', 'x')",
                &[ind.into(), unit.into()],
            )?;
            let client = c.postgres().expect("PostgreSQL");
            assert!(!copy_new(client, &w)?, "the copy meets the stored value");
            let n: i64 = client
                .query_one("SELECT count(*) FROM data_value", &[])?
                .get(0);
            assert_eq!(n, 1, "nothing of the copy is left");
            let count = postgres(c, &w)?;
            assert_eq!(
                (count.imported, count.updated, count.ignored),
                (2, 0, 1),
                "the merge inserts the new values and leaves the unchanged one"
            );
            Ok(())
        })
        .unwrap();
    }

    fn count_of(db: &TestDb, sql: &str) -> i64 {
        db.read(|c| c.scalar_i64(sql, &[])).unwrap()
    }

    /// The stored values as (unit, period, disaggregation, value), sorted.
    fn stored(db: &TestDb) -> Vec<(String, String, String, String)> {
        let mut v: Vec<_> = db
            .read(|c| values::query(c, &values::ValueFilter::default()))
            .unwrap()
            .into_iter()
            .map(|v| {
                (
                    format!("{}@{}", v.unit, v.unit_version),
                    v.period,
                    v.disagg,
                    v.value_text,
                )
            })
            .collect();
        v.sort();
        v
    }

    fn expected(vals: &[RawValue]) -> Vec<(String, String, String, String)> {
        let mut v: Vec<_> = vals
            .iter()
            .map(|r| {
                (
                    r.unit.clone(),
                    r.period.clone(),
                    r.disagg
                        .parse::<dantoc_domain::disagg::Disagg>()
                        .unwrap()
                        .code(),
                    r.value.clone().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// A problem found after the first values were written (on PostgreSQL, while the import
    /// streams them into the table) refuses the whole import: nothing written or audited, not
    /// even the disaggregations the import created. So does a key given again.
    fn streamed_import_refused_by_a_late_problem(db: &TestDb) {
        let audits = || count_of(db, "SELECT count(*) FROM audit_log");
        let disaggs = || count_of(db, "SELECT count(*) FROM disaggregation");
        let (audit_before, disagg_before) = (audits(), disaggs());
        let mut vals = values_for_communes(3000);
        vals[2500].value = Some("x".into());
        let s = import(db, &ImportOptions::default(), vals.clone());
        assert_eq!((s.status, s.conflict_count), ("ERROR", 1));
        assert_eq!(s.conflicts[0].row, Some(2502));
        let mut vals = values_for_communes(3000);
        vals[2600] = vals[2400].clone();
        let s = import(db, &ImportOptions::default(), vals);
        assert_eq!((s.status, s.conflict_count), ("ERROR", 1));
        assert!(
            s.conflicts[0].message.ends_with("row 2402"),
            "{}",
            s.conflicts[0].message
        );
        assert_eq!(db.read(values::count).unwrap(), 0, "nothing written");
        assert_eq!(audits(), audit_before, "nothing audited");
        assert_eq!(disaggs(), disagg_before, "no disaggregation created");
    }

    /// A value stored already that comes after the first values (on PostgreSQL, after the
    /// values the stream looked at before it started): the import updates it and creates the
    /// others, as if it had been known from the start.
    fn streamed_import_meets_a_value_stored_beyond_the_first_values(db: &TestDb) {
        let vals = values_for_communes(3000);
        let mut before = vals[2500].clone();
        before.value = Some("999999".into());
        let s = import(db, &ImportOptions::default(), vec![before]);
        assert_eq!(s.import_count.imported, 1);
        let s = import(db, &ImportOptions::default(), vals.clone());
        let c = &s.import_count;
        assert_eq!(
            (s.status, c.imported, c.updated, c.ignored),
            ("SUCCESS", 2999, 1, 0)
        );
        assert_eq!(stored(db), expected(&vals));
        assert_eq!(
            count_of(
                db,
                "SELECT count(*) FROM data_value_history WHERE op = 'update' AND value_text = '999999'"
            ),
            1
        );
        // only new values: nothing is created again
        let create = ImportOptions {
            strategy: Strategy::Create,
            ..Default::default()
        };
        let s = import(db, &create, vals.clone());
        let c = &s.import_count;
        assert_eq!((c.imported, c.updated, c.ignored), (0, 0, 3000));
    }

    /// Values that come out of key order after the first ones, and values of a disaggregation
    /// that no value had before (on PostgreSQL, neither can go into the stream: they are
    /// written after the reading), are stored like the others; so are values of a second
    /// indicator after those of the first.
    fn streamed_import_takes_values_out_of_order_and_new_disaggregations(db: &TestDb) {
        let all = values_for_communes(5400);
        let mut vals: Vec<RawValue> = all[..2000].to_vec();
        vals.extend_from_slice(&all[4000..5400]);
        vals.extend_from_slice(&all[2000..4000]);
        for y in 2000..2010 {
            for c in ["06877", "06862", "06970"] {
                vals.push(rv(&format!("{c}@2024"), &y.to_string(), "E07.M.U", "4"));
            }
        }
        for y in 2000..2003 {
            let mut r = rv("06877@2024", &y.to_string(), "default", "5000");
            r.indicator = "x-pop-total".into();
            vals.push(r);
        }
        let s = import(db, &ImportOptions::default(), vals.clone());
        assert_eq!(
            (s.status, s.import_count.imported),
            ("SUCCESS", vals.len() as u64),
            "{:?}",
            s.conflicts.first()
        );
        assert_eq!(stored(db), expected(&vals));
        assert_eq!(
            count_of(
                db,
                "SELECT count(*) FROM data_value d JOIN disaggregation g ON g.id = d.disagg_id
                 WHERE g.code = 'E07.M.U'"
            ),
            30
        );
    }

    /// The stream writes the values that come in key order (by indicator, period and unit), and
    /// leaves the others — out of order, or of a disaggregation it has no id for — to the bulk
    /// path; a stream that meets a stored value is rolled back, and none starts when the first
    /// values are stored already.
    #[test]
    fn stream_writes_values_in_key_order_and_leaves_the_rest() {
        let db = TestDb::postgres();
        let (ind, a, b) = db
            .read(|c| {
                let unit = |c: &mut dyn Conn, code: &str| {
                    c.scalar_i64(
                        "SELECT id FROM admin_unit WHERE version = '2024' AND code = $1",
                        &[code.into()],
                    )
                };
                let (x, y) = (unit(c, "06862")?, unit(c, "06877")?);
                Ok((
                    c.scalar_i64("SELECT id FROM indicator WHERE code = '0101'", &[])?,
                    x.min(y),
                    x.max(y),
                ))
            })
            .unwrap();
        let row = |year: i32, unit: i64| Checked {
            indicator_id: ind,
            unit_id: unit,
            period: Period::year(year).unwrap(),
            disagg: 0,
            value: Some(CheckedValue {
                number: Some(1.0),
                text: "1".into(),
            }),
            comment: None,
            followup: None,
        };
        let rows = [
            row(2001, a),
            row(2001, b),
            row(2000, a),
            row(2002, a),
            row(2002, a),
        ];
        let opts = ImportOptions::default();
        let now = "2025-01-01T00:00:00.000Z";
        db.write(|c| {
            let mut stream = Stream::start(c, &rows[..1], &opts, "test", now)?;
            for (i, (r, d)) in rows
                .iter()
                .zip([Some(1), Some(1), Some(1), None, Some(1)])
                .enumerate()
            {
                stream.offer(i, r, d)?;
            }
            let mut done = stream.finish()?;
            done.settle(c)?;
            let written: Vec<bool> = (0..rows.len()).map(|i| done.written(i)).collect();
            assert_eq!(written, [true, true, false, false, true]);
            assert_eq!(done.count(), 3);
            assert_eq!(c.scalar_i64("SELECT count(*) FROM data_value", &[])?, 3);
            // the first values stored already: no stream
            let mut stream = Stream::start(c, &rows[..1], &opts, "test", now)?;
            stream.offer(0, &rows[0], Some(1))?;
            let mut done = stream.finish()?;
            done.settle(c)?;
            assert_eq!((done.written(0), done.count()), (false, 0));
            // a stored value later on: the stream is rolled back
            let mut stream = Stream::start(c, &rows[2..3], &opts, "test", now)?;
            stream.offer(0, &rows[2], Some(1))?;
            stream.offer(1, &rows[1], Some(1))?;
            let mut done = stream.finish()?;
            done.settle(c)?;
            assert_eq!((done.written(0), done.count()), (false, 0));
            assert_eq!(c.scalar_i64("SELECT count(*) FROM data_value", &[])?, 3);
            let role = c
                .query_one("SELECT current_setting('session_replication_role')", &[])?
                .map(|r| r.str(0));
            assert_eq!(role.as_deref(), Some("origin"));
            Ok(())
        })
        .unwrap();
    }
}

//! Bulk paths for large imports, one per engine: prepared statements on the native SQLite
//! connection; on PostgreSQL, binary COPY — straight into `data_value` when none of the
//! values is stored yet, otherwise into a staging table merged by two statements.
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
            w.disagg_ids[r.disagg as usize]
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

/// Whether some value of the batch may already be stored: any stored value for one of the
/// batch's (indicator, unit, period) triples. Cheap: one index probe per triple.
fn any_stored(client: &mut postgres::Client, w: &Write) -> Result<bool, StoreError> {
    let (mut inds, mut units, mut periods) = (vec![], vec![], vec![]);
    let mut last: Option<(i64, i64, Period)> = None;
    for &i in w.order {
        let r = &w.rows[i];
        let k = (r.indicator_id, r.unit_id, r.period);
        if last != Some(k) {
            inds.push(k.0);
            units.push(k.1);
            periods.push(k.2.to_string());
            last = Some(k);
        }
    }
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS k(i, u, p)
               JOIN data_value d ON d.indicator_id = k.i AND d.unit_id = k.u AND d.period = k.p)",
            &[&inds, &units, &periods],
        )?
        .get::<_, bool>(0))
}

/// New values only: binary COPY straight into `data_value`, in primary-key order. The same
/// rows as the merge's insert (followup defaults to false, version 1). Returns `false`, with
/// nothing written, if a value of the batch turned out to be stored already (stored by
/// another transaction since [`any_stored`] looked).
fn copy_new(client: &mut postgres::Client, w: &Write) -> Result<bool, StoreError> {
    use postgres::binary_copy::BinaryCopyInWriter;
    use postgres::types::Type;
    client.batch_execute("SAVEPOINT dantoc_bulk_copy")?;
    let copied = (|| -> Result<(), postgres::Error> {
        let sink = client.copy_in(
            "COPY data_value (indicator_id, unit_id, period, disagg_id, month_start, month_end, value,
                value_text, comment, followup, demo, source, stored_by, created_at, updated_at, version)
             FROM STDIN (FORMAT binary)",
        )?;
        let mut types = stage_types().to_vec();
        types.extend([
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
        ]);
        let mut writer = BinaryCopyInWriter::new(sink, &types);
        let demo = w.opts.demo as i64;
        let source = w.opts.source.as_deref();
        w.each(|r, ptext| {
            let v = r.value.as_ref().expect("checked: a value unless deleting");
            let (ms, me) = r.period.month_range();
            let followup = r.followup.unwrap_or(false) as i64;
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
                &demo,
                &source,
                &w.stored_by,
                &w.now,
                &w.now,
                &1i64,
            ])
        })?;
        writer.finish().map(|_| ())
    })();
    match copied {
        Ok(()) => {
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
    let n = w.rows.len() as u64;
    postgres_lock_references(client, w)?;
    let skip_fk = w.opts.strategy != Strategy::Update && may_skip_fk_triggers(client)?;
    if w.opts.strategy != Strategy::Update && !any_stored(client, w)? {
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
          FROM dv_stage s WHERE d.indicator_id = s.indicator_id AND d.unit_id = s.unit_id
            AND d.period = s.period AND d.disagg_id = s.disagg_id AND {changed} RETURNING 1)
         SELECT count(*) FROM up"
    );
    let create = format!(
        "WITH up AS ({insert} ON CONFLICT (indicator_id, unit_id, period, disagg_id) DO NOTHING RETURNING 1)
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
}

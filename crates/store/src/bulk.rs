//! Bulk paths for large imports, one per engine: prepared statements on the native SQLite
//! connection; on PostgreSQL, binary COPY — straight into `data_value` when none of the
//! values is stored yet, otherwise into a staging table merged by two statements.
//! Both give the same result as the portable per-value path in `values.rs`
//! (tests run both paths on both engines).

use crate::db::Conn;
use crate::error::StoreError;
use crate::values::{Checked, ImportCount, ImportOptions, Strategy};
use dantoc_domain::period::Period;

pub(crate) struct Write<'a> {
    pub rows: &'a [Checked],
    /// The order to write `rows` in (indexes into `rows`, each once): primary-key order.
    pub order: &'a [usize],
    /// The id of each disaggregation, by [`Checked::disagg`].
    pub disagg_ids: &'a [i64],
    pub now: &'a str,
    pub stored_by: &'a str,
    pub opts: &'a ImportOptions,
}

impl<'a> Write<'a> {
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

pub(crate) fn sqlite(c: &mut dyn Conn, w: &Write) -> Result<ImportCount, StoreError> {
    let conn = c
        .sqlite()
        .ok_or_else(|| StoreError::Db("not a SQLite connection".into()))?;
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

pub(crate) fn postgres(c: &mut dyn Conn, w: &Write) -> Result<ImportCount, StoreError> {
    use postgres::binary_copy::BinaryCopyInWriter;
    let client = c
        .postgres()
        .ok_or_else(|| StoreError::Db("not a PostgreSQL connection".into()))?;
    let n = w.rows.len() as u64;
    if w.opts.strategy != Strategy::Update && !any_stored(client, w)? && copy_new(client, w)? {
        return Ok(ImportCount {
            imported: n,
            ..Default::default()
        });
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
    // existing values first (so that the insert below skips them), then new ones
    if w.opts.strategy != Strategy::Create {
        count.updated = client.query_one(update.as_str(), &params)?.get::<_, i64>(0) as u64;
    }
    if w.opts.strategy != Strategy::Update {
        count.imported = client.query_one(create.as_str(), &params)?.get::<_, i64>(0) as u64;
    }
    count.ignored = n - count.imported - count.updated;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use dantoc_domain::value::CheckedValue;

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

//! Bulk paths for large imports, one per engine: prepared statements on the native SQLite
//! connection; binary COPY into a staging table and one merge statement on PostgreSQL.
//! Both give the same result as the portable per-value path in `values.rs`
//! (tests run both paths on both engines).

use crate::db::Conn;
use crate::error::StoreError;
use crate::values::{ImportCount, ImportOptions, Resolved, Strategy};
use std::collections::HashMap;

pub struct Write<'a> {
    pub rows: &'a [Resolved],
    pub disagg_ids: &'a HashMap<String, i64>,
    pub now: &'a str,
    pub stored_by: &'a str,
    pub opts: &'a ImportOptions,
}

fn sq(sql: &str) -> String {
    sql.replace('$', "?")
}

pub fn sqlite(c: &mut dyn Conn, w: &Write) -> Result<ImportCount, StoreError> {
    let conn = c
        .sqlite()
        .ok_or_else(|| StoreError::Db("not a SQLite connection".into()))?;
    let mut ins = conn.prepare_cached(&sq(crate::values::INSERT_SQL))?;
    let mut upd = conn.prepare_cached(&sq(crate::values::UPDATE_SQL))?;
    let mut count = ImportCount::default();
    let source = w.opts.source.as_deref();
    let mut ptext = String::new();
    let mut last_period = None;
    for r in w.rows {
        if last_period != Some(r.period) {
            ptext = r.period.to_string();
            last_period = Some(r.period);
        }
        let did = w.disagg_ids[&r.disagg];
        let v = r.value.as_ref().expect("checked: a value unless deleting");
        let (ms, me) = r.period.month_range();
        let mut done = false;
        if w.opts.strategy != Strategy::Update {
            let n = ins.execute(rusqlite::params![
                r.indicator_id,
                r.unit_id,
                ptext,
                did,
                ms,
                me,
                v.number,
                v.text,
                r.comment,
                r.followup.unwrap_or(false),
                w.opts.demo,
                source,
                w.stored_by,
                w.now
            ])?;
            count.imported += n as u64;
            done = n > 0;
        }
        if !done && w.opts.strategy != Strategy::Create {
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
                did
            ])?;
            count.updated += n as u64;
            done = n > 0;
        }
        if !done {
            count.ignored += 1;
        }
    }
    Ok(count)
}

pub fn postgres(c: &mut dyn Conn, w: &Write) -> Result<ImportCount, StoreError> {
    use postgres::binary_copy::BinaryCopyInWriter;
    use postgres::types::Type;
    let client = c
        .postgres()
        .ok_or_else(|| StoreError::Db("not a PostgreSQL connection".into()))?;
    client.batch_execute(
        "CREATE TEMP TABLE dv_stage (
            indicator_id BIGINT, unit_id BIGINT, period TEXT, disagg_id BIGINT, month_start BIGINT,
            month_end BIGINT, value DOUBLE PRECISION, value_text TEXT, comment TEXT, followup BIGINT
         ) ON COMMIT DROP",
    )?;
    let sink = client.copy_in(
        "COPY dv_stage (indicator_id, unit_id, period, disagg_id, month_start, month_end, value, value_text, comment, followup) FROM STDIN (FORMAT binary)",
    )?;
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
        Type::INT8,
    ];
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut ptext = String::new();
    let mut last_period = None;
    for r in w.rows {
        if last_period != Some(r.period) {
            ptext = r.period.to_string();
            last_period = Some(r.period);
        }
        let v = r.value.as_ref().expect("checked: a value unless deleting");
        let (ms, me) = r.period.month_range();
        let followup = r.followup.map(|b| b as i64);
        writer.write(&[
            &r.indicator_id,
            &r.unit_id,
            &ptext,
            &w.disagg_ids[&r.disagg],
            &(ms as i64),
            &(me as i64),
            &v.number,
            &v.text,
            &r.comment,
            &followup,
        ])?;
    }
    writer.finish()?;
    let n = w.rows.len() as u64;
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

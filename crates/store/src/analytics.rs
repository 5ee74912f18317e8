//! Analytics storage: where each stored value rolls up (`unit_rollup`), the pre-aggregates
//! (`agg_value`, kept fresh through `agg_dirty`), and the facts a pivot needs.
//!
//! The store sums values over units in SQL — per requested unit, indicator, stored period and
//! disaggregation — and hands those *facts* to the domain engine
//! ([`dantoc_domain::analytics`]), which rolls periods and breakdowns up and computes derived
//! indicators. Pivots over current provinces or the whole country read the pre-aggregates,
//! except for the (indicator, period) pairs written since the last refresh, which are read from
//! `data_value` itself: an answer is never stale.

use crate::db::{Backend, Conn, Db, Val, id_list, push_params};
use crate::error::StoreError;
use dantoc_domain::FieldError;
use dantoc_domain::admin::HierarchyVersion;
use dantoc_domain::analytics::{
    self, Computed, DimId, Fact, IndicatorInfo, Input, Item, PivotTable, Request,
};
use dantoc_domain::disagg::Disagg;
use dantoc_domain::formula::Expr;
use dantoc_domain::period::{Period, PeriodType};
use std::collections::{BTreeSet, HashMap};

/// The pseudo-unit for the whole country in `ou` (`ou:VN`).
pub const NATION: &str = "VN";

/// Where values roll up: the closure (same hierarchy), old units into the new units they
/// became part of (their own lineage links, or their nearest linked ancestor's), and new units
/// back into the old ones they came from (same tier: provinces from provinces, communes from
/// communes and districts), each with its share of the sources' weights. A unit that maps onto
/// exactly one unit of the other hierarchy, whole and alone (Cao Bằng before and after 2025; a
/// commune only renamed), counts as that unit's *own* figure (`direct`), so that it is not
/// added to the figures of the units below. Part of the test databases' fingerprint.
pub const ROLLUP_SQL: &str = "INSERT INTO unit_rollup (ancestor_id, unit_id, weight, direct, mapped, estimated)
         SELECT ancestor_id, unit_id, SUM(weight), MAX(direct), MAX(mapped), MAX(estimated) FROM (
            SELECT c.ancestor_id, c.descendant_id AS unit_id, 1.0 AS weight,
                   CASE WHEN c.depth = 0 THEN 1 ELSE 0 END AS direct, 0 AS mapped, 0 AS estimated
            FROM admin_unit_closure c
          UNION ALL
            SELECT nc.ancestor_id, f.unit_id, l.weight,
                   CASE WHEN nc.depth = 0 AND f.unit_id = f.linked THEN s1.one ELSE 0 END, 1,
                   CASE WHEN l.weight_source = 'default_equal' THEN 1 ELSE 0 END
            FROM (SELECT c.descendant_id AS unit_id, c.ancestor_id AS linked FROM admin_unit_closure c
                  WHERE EXISTS (SELECT 1 FROM unit_lineage l WHERE l.old_id = c.ancestor_id)
                    AND c.depth = (SELECT MIN(c2.depth) FROM admin_unit_closure c2
                                   WHERE c2.descendant_id = c.descendant_id
                                     AND EXISTS (SELECT 1 FROM unit_lineage l2 WHERE l2.old_id = c2.ancestor_id))) f
            JOIN unit_lineage l ON l.old_id = f.linked
            JOIN admin_unit_closure nc ON nc.descendant_id = l.new_id
            JOIN (SELECT l.old_id, l.new_id,
                         CASE WHEN l.portion = 'whole' AND NOT EXISTS (
                             SELECT 1 FROM unit_lineage l2 JOIN admin_unit o2 ON o2.id = l2.old_id
                             WHERE l2.new_id = l.new_id AND l2.old_id <> l.old_id AND o2.kind = o.kind)
                         THEN 1 ELSE 0 END AS one
                  FROM unit_lineage l JOIN admin_unit o ON o.id = l.old_id) s1
              ON s1.old_id = l.old_id AND s1.new_id = l.new_id
          UNION ALL
            SELECT oc.ancestor_id, f.unit_id, s.share,
                   CASE WHEN oc.depth = 0 AND f.unit_id = f.linked AND s.sources = 1 AND s.portion = 'whole' THEN 1 ELSE 0 END,
                   1, s.estimated
            FROM (SELECT c.descendant_id AS unit_id, c.ancestor_id AS linked FROM admin_unit_closure c
                  WHERE EXISTS (SELECT 1 FROM unit_lineage l WHERE l.new_id = c.ancestor_id)
                    AND c.depth = (SELECT MIN(c2.depth) FROM admin_unit_closure c2
                                   WHERE c2.descendant_id = c.descendant_id
                                     AND EXISTS (SELECT 1 FROM unit_lineage l2 WHERE l2.new_id = c2.ancestor_id))) f
            JOIN (SELECT l.new_id, l.old_id, t.sources, l.portion,
                         l.weight / t.total AS share,
                         CASE WHEN t.sources > 1 OR l.weight_source = 'default_equal' THEN 1 ELSE 0 END AS estimated
                  FROM unit_lineage l JOIN admin_unit o ON o.id = l.old_id JOIN admin_unit n ON n.id = l.new_id
                  JOIN (SELECT l.new_id, SUM(l.weight) AS total, COUNT(*) AS sources
                        FROM unit_lineage l JOIN admin_unit o ON o.id = l.old_id JOIN admin_unit n ON n.id = l.new_id
                        WHERE (n.kind = 'province') = (o.kind = 'province')
                        GROUP BY l.new_id) t ON t.new_id = l.new_id
                  WHERE (n.kind = 'province') = (o.kind = 'province') AND t.total > 0) s ON s.new_id = f.linked
            JOIN admin_unit_closure oc ON oc.descendant_id = s.old_id
         ) x GROUP BY ancestor_id, unit_id";

/// Rebuild `unit_rollup` from the closure table and the lineage (after the reference data is
/// loaded, and after lineage weights change).
pub fn rebuild_rollup(c: &mut dyn Conn) -> Result<(), StoreError> {
    c.execute("DELETE FROM unit_rollup", &[])?;
    // For each unit, the unit whose lineage it follows: itself or its nearest ancestor with
    // links (villages follow their commune). Old → new uses the old unit's links; new → old
    // uses the sources of the new unit (same tier: provinces from provinces, communes from
    // communes and districts), each with its share of the sources' weights.
    c.execute(ROLLUP_SQL, &[])?;
    Ok(())
}

/// Migration step: build the roll-up for units already loaded.
pub fn rebuild_rollup_step(c: &mut dyn Conn) -> Result<(), StoreError> {
    rebuild_rollup(c)
}

/// A new village rolls up wherever its commune does.
pub fn add_village(c: &mut dyn Conn, village_id: i64, commune_id: i64) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO unit_rollup (ancestor_id, unit_id, weight, direct, mapped, estimated)
         SELECT ancestor_id, CAST($1 AS BIGINT), weight, 0, mapped, estimated FROM unit_rollup
         WHERE unit_id = $2
         UNION ALL SELECT CAST($1 AS BIGINT), CAST($1 AS BIGINT), 1.0, 1, 0, 0",
        &[Val::Int(village_id), Val::Int(commune_id)],
    )?;
    Ok(())
}

/// A new mark for the triples one transaction makes dirty (see [`refresh`]).
fn new_mark() -> i64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the operating system's random source works");
    // never 0, the mark of triples from before marks
    (i64::from_le_bytes(b) >> 1).max(1)
}

/// After an `INSERT INTO agg_dirty …`: a triple dirty already takes the new mark.
const REMARK: &str =
    " ON CONFLICT (indicator_id, period, area_id) DO UPDATE SET mark = excluded.mark";

/// The area of a dirty pair that stands for every province (a change of units or lineage).
const EVERY_PROVINCE: i64 = 0;

/// Mark (indicator, period) pairs as written in every province: pivots read them from
/// `data_value` until the refresher has rebuilt their pre-aggregates. Indicators weighted by a
/// written indicator are marked too. On PostgreSQL this waits for a refresh in progress (see
/// [`refresh`]).
pub fn mark_dirty(c: &mut dyn Conn, pairs: &BTreeSet<(i64, String)>) -> Result<(), StoreError> {
    let triples: BTreeSet<(i64, String, i64)> = pairs
        .iter()
        .map(|(i, p)| (*i, p.clone(), EVERY_PROVINCE))
        .collect();
    mark_areas_dirty(c, &triples)
}

/// Mark what a write touched — (indicator, period, unit) of each value written — as dirty in
/// the current provinces those units roll up into: pivots read those provinces' values for
/// those pairs, and the refresher rebuilds those provinces only (BENCHMARKS.md, issue #5).
pub fn mark_written(
    c: &mut dyn Conn,
    written: impl IntoIterator<Item = (i64, Period, i64)>,
) -> Result<(), StoreError> {
    // values arrive grouped by cell: skip the repeats next to each other first
    let mut seen: std::collections::HashSet<(i64, Period, i64)> = Default::default();
    let mut last = None;
    for w in written {
        if last != Some(w) {
            seen.insert(w);
            last = Some(w);
        }
    }
    if seen.is_empty() {
        return Ok(());
    }
    let units: BTreeSet<i64> = seen.iter().map(|w| w.2).collect();
    let units: Vec<i64> = units.into_iter().collect();
    let mut provinces: HashMap<i64, Vec<i64>> = HashMap::new();
    // bound parameters, not ids in the text: a data-entry save writes one unit, and its
    // statement is then the same for every unit (prepared once, kept in the cache)
    for chunk in units.chunks(500) {
        let mut p = vec![];
        let marks = push_params(&mut p, chunk.iter().map(|&u| Val::Int(u)));
        for r in c.query(
            &format!(
                "SELECT r.unit_id, r.ancestor_id FROM unit_rollup r
                   JOIN admin_unit a ON a.id = r.ancestor_id AND a.version = '2025' AND a.kind = 'province'
                  WHERE r.unit_id IN ({marks})"
            ),
            &p,
        )? {
            provinces.entry(r.i64(0)).or_default().push(r.i64(1));
        }
    }
    let mut triples: BTreeSet<(i64, String, i64)> = BTreeSet::new();
    let mut pairs: HashMap<(i64, Period), String> = HashMap::new();
    for (ind, per, unit) in seen {
        // a unit that rolls up into no current province is in no pre-aggregate
        let Some(areas) = provinces.get(&unit) else {
            continue;
        };
        let text = pairs
            .entry((ind, per))
            .or_insert_with(|| per.to_string())
            .clone();
        for a in areas {
            triples.insert((ind, text.clone(), *a));
        }
    }
    mark_areas_dirty(c, &triples)
}

/// Mark (indicator, period, province) triples dirty (province [`EVERY_PROVINCE`]: all), with
/// the indicators weighted by a written one, all in key order with one new mark: two
/// transactions marking (or a writer and the refresher deleting) lock the rows in the same
/// order and cannot deadlock.
fn mark_areas_dirty(
    c: &mut dyn Conn,
    triples: &BTreeSet<(i64, String, i64)>,
) -> Result<(), StoreError> {
    if triples.is_empty() {
        return Ok(());
    }
    let mut all = triples.clone();
    let mut new = triples.clone();
    while !new.is_empty() {
        let inds: BTreeSet<i64> = new.iter().map(|p| p.0).collect();
        let mut p = vec![];
        let marks = push_params(&mut p, inds.into_iter().map(Val::Int));
        let weighted = c.query(
            &format!(
                "SELECT i.id, w.id FROM indicator i JOIN indicator w ON w.code = i.weight_indicator WHERE w.id IN ({marks})"
            ),
            &p,
        )?;
        let mut more = BTreeSet::new();
        for r in weighted {
            let (ind, by) = (r.i64(0), r.i64(1));
            for (i, per, area) in &new {
                let t = (ind, per.clone(), *area);
                if *i == by && !all.contains(&t) {
                    more.insert(t);
                }
            }
        }
        all.extend(more.iter().cloned());
        new = more;
    }
    let mark = new_mark();
    for chunk in all.iter().collect::<Vec<_>>().chunks(200) {
        let mut sql =
            "INSERT INTO agg_dirty (indicator_id, period, area_id, mark) VALUES ".to_string();
        let mut p = vec![Val::Int(mark)];
        for (i, (ind, per, area)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, $1)",
                3 * i + 2,
                3 * i + 3,
                3 * i + 4
            ));
            p.push(Val::Int(*ind));
            p.push(Val::Text(per.clone()));
            p.push(Val::Int(*area));
        }
        sql.push_str(REMARK);
        c.execute(&sql, &p)?;
    }
    Ok(())
}

/// Mark every pair with values on the given units (or below them) — after their lineage changed.
pub fn mark_units_dirty(c: &mut dyn Conn, unit_ids: &[i64]) -> Result<(), StoreError> {
    if unit_ids.is_empty() {
        return Ok(());
    }
    // `WHERE 1 = 1`: SQLite reads an ON CONFLICT after a bare SELECT's FROM as a join's
    c.execute(
        &format!(
            "INSERT INTO agg_dirty (indicator_id, period, area_id, mark)
             SELECT DISTINCT d.indicator_id, d.period, {EVERY_PROVINCE}, CAST($1 AS BIGINT) FROM data_value d
             WHERE 1 = 1 AND d.unit_id IN (SELECT descendant_id FROM admin_unit_closure WHERE ancestor_id IN ({})){REMARK}",
            id_list(unit_ids.iter().copied())
        ),
        &[Val::Int(new_mark())],
    )?;
    Ok(())
}

/// Rebuild the pre-aggregates of up to `limit` dirty (indicator, period, province) triples in
/// one transaction; returns how many were rebuilt (0: nothing to do). The background refresher
/// calls it until it returns 0. A pair dirty in every province is rebuilt whole; otherwise the
/// dirty provinces are rebuilt from their values and the country from the provinces.
pub fn refresh(db: &Db, limit: usize) -> Result<usize, StoreError> {
    db.write(|c| {
        if c.backend() == Backend::Postgres {
            // one refresher at a time across server processes; writers never wait for it
            c.query("SELECT pg_advisory_xact_lock(4242005)", &[])?;
        }
        // A writer marks its triples in its own transaction, with a new mark each time. A
        // triple read here is rebuilt from what is committed now, and deleted at the end only
        // if its mark is unchanged: a write committed meanwhile leaves it dirty for the next
        // round; a write still in progress holds its row, so the delete waits for it and then
        // sees the new mark (PostgreSQL, READ COMMITTED; SQLite has one writer).
        let triples: Vec<(i64, String, i64, i64)> = c
            .query(
                "SELECT indicator_id, period, area_id, mark FROM agg_dirty
                 ORDER BY indicator_id, period, area_id LIMIT $1",
                &[Val::Int(limit as i64)],
            )?
            .iter()
            .map(|r| (r.i64(0), r.str(1), r.i64(2), r.i64(3)))
            .collect();
        let mut pairs: Vec<((i64, String), Vec<i64>)> = vec![];
        let mut done: Vec<(i64, String, i64, i64)> = vec![];
        for (ind, per, area, mark) in &triples {
            match pairs.last_mut() {
                Some((k, areas)) if k.0 == *ind && k.1 == *per => areas.push(*area),
                _ => pairs.push(((*ind, per.clone()), vec![*area])),
            }
            done.push((*ind, per.clone(), *area, *mark));
        }
        for ((ind, per), areas) in &pairs {
            let p = [Val::Int(*ind), Val::Text(per.clone())];
            let starts = month_starts(std::slice::from_ref(per));
            if areas.contains(&EVERY_PROVINCE) {
                // every triple of the pair is rebuilt, those beyond `limit` too: read before
                // rebuilding, as those above
                for r in c.query(
                    "SELECT area_id, mark FROM agg_dirty WHERE indicator_id = $1 AND period = $2",
                    &p,
                )? {
                    done.push((*ind, per.clone(), r.i64(0), r.i64(1)));
                }
                c.execute("DELETE FROM agg_value WHERE indicator_id = $1 AND period = $2", &p)?;
                c.execute(
                    &rebuild_sql(
                        "FROM data_value d
                         JOIN unit_rollup r ON r.unit_id = d.unit_id
                         JOIN admin_unit a ON a.id = r.ancestor_id AND a.version = '2025' AND a.kind = 'province'",
                        "1 = 1",
                        &starts,
                    ),
                    &p,
                )?;
            } else {
                for area in areas {
                    let q = [Val::Int(*ind), Val::Text(per.clone()), Val::Int(*area)];
                    c.execute(
                        "DELETE FROM agg_value WHERE indicator_id = $1 AND period = $2 AND area_id = $3",
                        &q,
                    )?;
                    // from the province's units to their values (see `raw_rows`)
                    c.execute(
                        &rebuild_sql(
                            "FROM unit_rollup r CROSS JOIN data_value d",
                            "d.unit_id = r.unit_id AND r.ancestor_id = $3",
                            &starts,
                        ),
                        &q,
                    )?;
                }
                c.execute(
                    "DELETE FROM agg_value WHERE indicator_id = $1 AND period = $2 AND area_id = 0",
                    &p,
                )?;
            }
            // the whole country: each province's own figure where it has one, else its units'
            c.execute(
                "INSERT INTO agg_value (indicator_id, period, area_id, disagg_id, direct, sum, n, wsum, wden, mapped, estimated)
                 SELECT a.indicator_id, a.period, 0, a.disagg_id, 0, SUM(a.sum), SUM(a.n), SUM(a.wsum), SUM(a.wden),
                        MAX(a.mapped), MAX(a.estimated)
                 FROM agg_value a
                 WHERE a.indicator_id = $1 AND a.period = $2 AND a.area_id <> 0
                   AND (a.direct = 1 OR NOT EXISTS (SELECT 1 FROM agg_value b WHERE b.indicator_id = a.indicator_id
                        AND b.period = a.period AND b.area_id = a.area_id AND b.direct = 1))
                 GROUP BY a.indicator_id, a.period, a.disagg_id",
                &p,
            )?;
        }
        // in key order, as writers mark (see `mark_areas_dirty`)
        done.sort();
        done.dedup();
        for (ind, per, area, mark) in done {
            c.execute(
                "DELETE FROM agg_dirty WHERE indicator_id = $1 AND period = $2 AND area_id = $3 AND mark = $4",
                &[Val::Int(ind), Val::Text(per), Val::Int(area), Val::Int(mark)],
            )?;
        }
        Ok(triples.len())
    })
}

/// The sums of values through their roll-up (`d`: `data_value`, `r`: `unit_rollup`, `w`: the
/// weight's value).
const SUMS: &str = "SUM(d.value * r.weight), SUM(r.weight),
     COALESCE(SUM(d.value * w.value * r.weight), 0), COALESCE(SUM(w.value * r.weight), 0),
     MAX(r.mapped), MAX(r.estimated)";

/// Rebuild the pre-aggregates of indicator `$1`, period `$2` (first months `starts`) from
/// `from` (values `d`, roll-up `r`) where `cond`.
fn rebuild_sql(from: &str, cond: &str, starts: &str) -> String {
    format!(
        "INSERT INTO agg_value (indicator_id, period, area_id, disagg_id, direct, sum, n, wsum, wden, mapped, estimated)
         SELECT d.indicator_id, d.period, r.ancestor_id, d.disagg_id, r.direct, {SUMS}
         {from}
         {WEIGHT_JOIN}
         WHERE {cond} AND d.indicator_id = $1 AND d.month_start IN ({starts}) AND d.period = $2
           AND d.value IS NOT NULL
         GROUP BY d.indicator_id, d.period, r.ancestor_id, d.disagg_id, r.direct"
    )
}

/// Refresh until nothing is dirty (the CLI after an import, tests, benchmarks).
pub fn refresh_all(db: &Db) -> Result<usize, StoreError> {
    let mut n = 0;
    loop {
        let k = refresh(db, 64)?;
        if k == 0 {
            return Ok(n);
        }
        n += k;
    }
}

/// Values of a weighted indicator joined with the weight indicator's value of the same unit,
/// period and disaggregation.
const WEIGHT_JOIN: &str = "JOIN indicator i ON i.id = d.indicator_id
     LEFT JOIN indicator wi ON wi.code = i.weight_indicator
     LEFT JOIN data_value w ON w.indicator_id = wi.id AND w.month_start = d.month_start AND w.unit_id = d.unit_id
          AND w.disagg_id = d.disagg_id AND w.period = d.period";

/// One requested unit.
#[derive(Debug, Clone)]
struct OutUnit {
    /// 0 for the whole country.
    id: i64,
    item: Item,
    /// A current province (its pre-aggregates exist).
    province25: bool,
}

/// Resolve the `ou` items: unit codes (`CODE` in the request's hierarchy, or `CODE@2024`),
/// `VN` (the whole country) and `LEVEL-n` (the units at level n — 1 province, 2 district in
/// 2024 or commune in 2025, … — within the other items, or within the country).
fn resolve_ou(
    c: &mut dyn Conn,
    items: &[String],
    v: HierarchyVersion,
    field: &str,
) -> Result<Vec<OutUnit>, StoreError> {
    let mut levels: Vec<i64> = vec![];
    let mut problems = dantoc_domain::Problems::default();
    // the items in order: the country, or a code to look up (all codes in one query per 500)
    let mut slots: Vec<Option<(String, HierarchyVersion, String)>> = vec![];
    for it in items {
        if it.eq_ignore_ascii_case(NATION) {
            slots.push(None);
            continue;
        }
        if let Some(l) = it.strip_prefix("LEVEL-") {
            match l.parse::<i64>() {
                Ok(l) if (1..=4).contains(&l) => levels.push(l),
                _ => problems.push(
                    FieldError::new(field, "LEVEL-n takes n from 1 (province) to 4").value(it),
                ),
            }
            continue;
        }
        match dantoc_domain::admin::split_unit_ref(it) {
            Ok((code, ver)) => slots.push(Some((code.to_string(), ver.unwrap_or(v), it.clone()))),
            Err(e) => problems.push(FieldError::new(field, e).value(it)),
        }
    }
    let wanted: Vec<&(String, HierarchyVersion, String)> = slots.iter().flatten().collect();
    let mut found: HashMap<(HierarchyVersion, String), crate::db::Row> = HashMap::new();
    // one `IN` list per hierarchy version: PostgreSQL plans a chain of 500 `OR`s slowly
    // (about 60 ms per chain), an `IN` list at once
    let mut by_version: Vec<(HierarchyVersion, Vec<&str>)> = vec![];
    for (code, ver, _) in &wanted {
        match by_version.iter_mut().find(|(v, _)| v == ver) {
            Some((_, codes)) => codes.push(code.as_str()),
            None => by_version.push((*ver, vec![code.as_str()])),
        }
    }
    let chunks = by_version
        .iter()
        .flat_map(|(ver, codes)| codes.chunks(500).map(move |chunk| (*ver, chunk)));
    for (ver, chunk) in chunks {
        let mut p: Vec<Val> = vec![Val::from(ver.as_str())];
        let list = push_params(&mut p, chunk.iter().map(|code| Val::from(*code)));
        for r in c.query(
            &format!(
                "SELECT id, code, full_name, kind, version FROM admin_unit
                  WHERE version = $1 AND code IN ({list})"
            ),
            &p,
        )? {
            let ver = if r.str(4) == "2024" {
                HierarchyVersion::V2024
            } else {
                HierarchyVersion::V2025
            };
            found.insert((ver, r.str(1)), r);
        }
    }
    let mut bounds: Vec<OutUnit> = vec![];
    for slot in &slots {
        let Some((code, ver, it)) = slot else {
            bounds.push(nation());
            continue;
        };
        match found.get(&(*ver, code.clone())) {
            Some(r) => bounds.push(OutUnit {
                id: r.i64(0),
                item: Item {
                    code: if *ver == v {
                        r.str(1)
                    } else {
                        format!("{}@{}", r.str(1), ver.as_str())
                    },
                    name: r.str(2),
                },
                province25: *ver == HierarchyVersion::V2025 && r.str(3) == "province",
            }),
            None => problems.push(
                FieldError::new(
                    field,
                    format!("no unit with this code in the {} hierarchy", ver.as_str()),
                )
                .value(it),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    if levels.is_empty() {
        if bounds.is_empty() {
            bounds.push(nation());
        }
        return Ok(bounds);
    }
    let within: Vec<i64> = bounds.iter().filter(|b| b.id != 0).map(|b| b.id).collect();
    let whole = within.is_empty() || bounds.iter().any(|b| b.id == 0);
    let lv = id_list(levels.iter().copied());
    let sql = if whole {
        format!(
            "SELECT u.id, u.code, u.full_name, u.kind FROM admin_unit u WHERE u.version = $1 AND u.level IN ({lv}) ORDER BY u.code"
        )
    } else {
        let ids = id_list(within.iter().copied());
        format!(
            "SELECT DISTINCT u.id, u.code, u.full_name, u.kind FROM admin_unit u JOIN admin_unit_closure c ON c.descendant_id = u.id
             WHERE u.version = $1 AND u.level IN ({lv}) AND c.ancestor_id IN ({ids}) ORDER BY u.code"
        )
    };
    Ok(c.query(&sql, &[Val::from(v.as_str())])?
        .iter()
        .map(|r| OutUnit {
            id: r.i64(0),
            item: Item {
                code: r.str(1),
                name: r.str(2),
            },
            province25: v == HierarchyVersion::V2025 && r.str(3) == "province",
        })
        .collect())
}

fn nation() -> OutUnit {
    OutUnit {
        id: 0,
        item: Item {
            code: NATION.into(),
            name: "Toàn quốc".into(),
        },
        province25: false,
    }
}

/// Every stored period of the given types that can roll up into one of `periods`. Values are
/// stored with their indicator's period type (the import refuses any other), so a pivot over
/// yearly indicators reads one period per year instead of nineteen (year, halves, quarters,
/// months): each is one more index probe per unit and indicator (BENCHMARKS.md, issue #5).
fn stored_periods(periods: &[Period], types: &BTreeSet<PeriodType>) -> Vec<String> {
    let mut out = BTreeSet::new();
    for p in periods {
        for &k in types {
            for s in p.split(k) {
                out.insert(s.to_string());
            }
        }
    }
    out.into_iter().collect()
}

/// Who reads: `None` sees every value; `Some(scope)` sees published values and those of the
/// units in scope (see [`crate::values::ValueFilter::visible`]).
pub type Visible<'a> = Option<&'a [i64]>;

/// Run a pivot: resolve the request against the catalogue and the units, fetch the facts,
/// compute the cells. `today` anchors relative periods.
pub fn pivot(
    c: &mut dyn Conn,
    req: &Request,
    today: Period,
    visible: Visible,
) -> Result<Computed, StoreError> {
    let field = |id: DimId| -> String {
        req.dims
            .iter()
            .position(|d| d.id == id)
            .map(|i| format!("dimension[{i}]"))
            .or_else(|| {
                req.filters
                    .iter()
                    .position(|d| d.id == id)
                    .map(|i| format!("filter[{i}]"))
            })
            .unwrap_or_else(|| id.as_str().into())
    };
    let dx = req
        .spec(DimId::Dx)
        .map(|s| s.items.clone())
        .unwrap_or_default();
    let pe = req
        .spec(DimId::Pe)
        .map(|s| s.items.clone())
        .unwrap_or_default();
    let periods =
        analytics::expand_periods(&pe, today, &field(DimId::Pe)).map_err(StoreError::invalid)?;
    let ou_items = req
        .spec(DimId::Ou)
        .map(|s| s.items.clone())
        .unwrap_or_default();
    let units = resolve_ou(c, &ou_items, req.hierarchy, &field(DimId::Ou))?;
    if units.len() > 20_000 {
        return Err(StoreError::invalid(FieldError::new(
            field(DimId::Ou),
            "more than 20,000 units: choose a smaller area or level",
        )));
    }

    // indicators asked, then those their formulas need
    let mut inds: Vec<(i64, IndicatorInfo)> = vec![];
    // the period types values of the stored indicators are kept in
    let mut period_types: BTreeSet<PeriodType> = BTreeSet::new();
    let mut problems = dantoc_domain::Problems::default();
    let mut queue: Vec<(String, bool)> = dx.iter().map(|c| (c.clone(), true)).collect();
    let mut i = 0;
    while i < queue.len() {
        let (code, asked) = queue[i].clone();
        i += 1;
        if inds.iter().any(|(_, x)| x.code == code) {
            continue;
        }
        let Some(r) = c.query_one(
            "SELECT id, code, name_vi, aggregation, formula, period_type FROM indicator WHERE code = $1",
            &[Val::from(code.as_str())],
        )?
        else {
            if asked {
                problems.push(
                    FieldError::new(field(DimId::Dx), "no indicator with this code").value(&code),
                );
            }
            continue;
        };
        let formula = match r.opt_str(4).filter(|f| !f.trim().is_empty()) {
            Some(f) => match Expr::parse(&f) {
                Ok(e) => {
                    for rc in e.references() {
                        queue.push((rc, false));
                    }
                    Some(e)
                }
                Err(_) => None,
            },
            None => None,
        };
        if formula.is_none() {
            // an unknown type reads every type (as before types were known)
            match r.str(5).parse::<PeriodType>() {
                Ok(t) => period_types.insert(t),
                Err(_) => {
                    period_types.extend([
                        PeriodType::Yearly,
                        PeriodType::SixMonthly,
                        PeriodType::Quarterly,
                        PeriodType::Monthly,
                    ]);
                    true
                }
            };
        }
        inds.push((
            r.i64(0),
            IndicatorInfo {
                code: r.str(1),
                name: r.str(2),
                aggregation: r
                    .str(3)
                    .parse()
                    .unwrap_or(dantoc_domain::indicator::Aggregation::Sum),
                formula,
            },
        ));
    }
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    let dx_count = dx.len();
    let stored: Vec<(usize, i64)> = inds
        .iter()
        .enumerate()
        .filter(|(_, (_, x))| x.formula.is_none())
        .map(|(k, (id, _))| (k, *id))
        .collect();

    let disaggs: HashMap<i64, Disagg> = c
        .query("SELECT id, code FROM disaggregation", &[])?
        .iter()
        .filter_map(|r| Some((r.i64(0), r.str(1).parse().ok()?)))
        .collect();
    let ethnic_names: HashMap<String, String> = c
        .query("SELECT code_2008, name FROM ethnic_group", &[])?
        .iter()
        .map(|r| (r.str(0), r.str(1)))
        .collect();

    let periods_sql = stored_periods(&periods, &period_types);
    let mut facts: Vec<Fact> = vec![];
    if !stored.is_empty() && !periods_sql.is_empty() && !units.is_empty() {
        let by_id: HashMap<i64, usize> = stored.iter().map(|(k, id)| (*id, *k)).collect();
        let ind_ids: Vec<i64> = stored.iter().map(|(_, id)| *id).collect();
        // the whole country is the sum of the current provinces, each by its own figure first
        let nation_at = units.iter().position(|u| u.id == 0);
        let mut targets: Vec<(i64, usize)> = units
            .iter()
            .enumerate()
            .filter(|(_, u)| u.id != 0)
            .map(|(k, u)| (u.id, k))
            .collect();
        let use_agg = visible.is_none()
            && req.hierarchy == HierarchyVersion::V2025
            && units.iter().all(|u| u.id == 0 || u.province25);
        // the breakdowns asked (shown or filtered): the others are summed away in SQL
        let reduce = Reduce::of(req);
        if use_agg {
            let dirty = Dirty::load(c, &ind_ids, &periods_sql)?;
            let mut areas: Vec<(i64, usize)> = targets.clone();
            if let Some(k) = nation_at {
                areas.push((0, k));
            }
            let area_at: HashMap<i64, usize> = areas.iter().copied().collect();
            let conv = Conv {
                by_id: &by_id,
                at: &area_at,
                disaggs: &disaggs,
            };
            // summed over the breakdowns not asked for here, not in SQL: SQLite sorts to group,
            // which costs more than reading every pre-aggregate row (BENCHMARKS.md, issue #5)
            let mut summer = Summer::new(&reduce, &disaggs);
            read_agg(c, &ind_ids, &periods_sql, &areas, &mut |r| {
                if !dirty.stale(r.ind, &r.period, r.area) {
                    summer.add(r);
                }
            })?;
            facts.extend(summer.rows().filter_map(|r| conv.fact(&r)));
            if !dirty.is_empty() {
                facts.extend(fresh_facts(c, &dirty, &targets, nation_at, &conv)?);
            }
        } else {
            targets.sort_unstable();
            facts = raw_facts(
                c,
                &ind_ids,
                &periods_sql,
                &targets,
                nation_at,
                visible,
                Some(&reduce),
                &by_id,
                &disaggs,
            )?;
        }
    }
    let input = Input {
        indicators: inds.into_iter().map(|(_, x)| x).collect(),
        dx_count,
        units: units.into_iter().map(|u| u.item).collect(),
        periods,
        ethnic_names,
        facts,
    };
    analytics::compute(req, &input).map_err(StoreError::Invalid)
}

/// The first month of each period, as an SQL list (`data_value`'s primary key holds it before
/// the period's text: lookups by period give it too).
fn month_starts(periods: &[String]) -> String {
    let starts: BTreeSet<i64> = periods
        .iter()
        .filter_map(|p| p.parse::<Period>().ok())
        .map(|p| p.month_range().0 as i64)
        .collect();
    if starts.is_empty() {
        "NULL".into()
    } else {
        id_list(starts)
    }
}

/// The breakdown dimensions a pivot asks for (ethnic group, sex, area, age — shown or
/// filtered). Rows are read with the others summed away in SQL: a pivot by ethnic group reads
/// half the rows of ethnic group × sex (BENCHMARKS.md, issue #5). Each row keeps the dimensions
/// its values were stored with and how many disaggregations it adds up, which the engine's
/// rules need.
struct Reduce {
    keep: [bool; 4],
}

/// `disaggregation`'s columns, in the order of [`Reduce::keep`].
const DISAGG_COLUMNS: [&str; 4] = ["ethnic_code", "sex", "area", "age_group"];

impl Reduce {
    fn of(req: &Request) -> Reduce {
        let mut keep = [false; 4];
        for (k, id) in [DimId::Eth, DimId::Sex, DimId::Area, DimId::Age]
            .into_iter()
            .enumerate()
        {
            keep[k] = req.spec(id).is_some();
        }
        Reduce { keep }
    }

    /// The disaggregation columns after the summed ones: `disagg_id`, or the kept dimensions,
    /// the stored dimensions (bits) and the count of disaggregations.
    fn select(r: Option<&Reduce>, alias: &str) -> String {
        let Some(r) = r else {
            return format!("{alias}.disagg_id");
        };
        let mut cols: Vec<String> = DISAGG_COLUMNS
            .iter()
            .zip(r.keep)
            .map(|(c, k)| {
                if k {
                    format!("g.{c}")
                } else {
                    "CAST(NULL AS TEXT)".into()
                }
            })
            .collect();
        cols.push(Self::dims_sql());
        // one disaggregation or several (what the engine's one-value rules need): a distinct
        // count would keep PostgreSQL from hashing the groups
        cols.push(format!(
            "CASE WHEN MIN({alias}.disagg_id) = MAX({alias}.disagg_id) THEN 1 ELSE 2 END"
        ));
        cols.join(", ")
    }

    fn dims_sql() -> String {
        DISAGG_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("CASE WHEN g.{c} IS NULL THEN 0 ELSE {} END", 1 << i))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    fn join(r: Option<&Reduce>, alias: &str) -> String {
        match r {
            Some(_) => format!("JOIN disaggregation g ON g.id = {alias}.disagg_id"),
            None => String::new(),
        }
    }

    fn group(r: Option<&Reduce>, alias: &str) -> String {
        let Some(r) = r else {
            return format!("{alias}.disagg_id");
        };
        let mut cols: Vec<String> = DISAGG_COLUMNS
            .iter()
            .zip(r.keep)
            .filter(|(_, k)| *k)
            .map(|(c, _)| format!("g.{c}"))
            .collect();
        cols.push(format!("({})", Self::dims_sql()));
        cols.join(", ")
    }
}

/// Pre-aggregate rows summed in Rust over the breakdowns a pivot does not ask for.
struct Summer {
    /// Disaggregation id → (what is left of it, its stored dimensions).
    class: HashMap<i64, (u32, u8)>,
    /// What is left of each disaggregation, by class.
    left: Vec<Disagg>,
    groups: HashMap<(i64, i64, String, bool, u32, u8), AggRow>,
}

impl Summer {
    fn new(reduce: &Reduce, disaggs: &HashMap<i64, Disagg>) -> Summer {
        let mut class = HashMap::new();
        let mut left: Vec<Disagg> = vec![];
        let mut by_code: HashMap<String, u32> = HashMap::new();
        for (id, d) in disaggs {
            let k = reduce.keep;
            let rest = Disagg {
                ethnic: d.ethnic.clone().filter(|_| k[0]),
                sex: d.sex.filter(|_| k[1]),
                area: d.area.filter(|_| k[2]),
                age: d.age.clone().filter(|_| k[3]),
            };
            let n = left.len() as u32;
            let cls = *by_code.entry(rest.code()).or_insert_with(|| {
                left.push(rest);
                n
            });
            class.insert(*id, (cls, analytics::engine::dimset(d)));
        }
        Summer {
            class,
            left,
            groups: HashMap::new(),
        }
    }

    /// A row of one stored disaggregation (rows of the same disaggregation, unit, indicator,
    /// period and `direct` come once: the pre-aggregates' key).
    fn add(&mut self, r: AggRow) {
        let Some(&(cls, dims)) = self.class.get(&r.id()) else {
            return;
        };
        let key = (r.area, r.ind, r.period.clone(), r.direct, cls, dims);
        match self.groups.get_mut(&key) {
            Some(g) => {
                g.add(&r, 1.0);
                if let Dis::Summed(_, _, parts) = &mut g.dis {
                    *parts += 1;
                }
            }
            None => {
                let dis = Dis::Summed(self.left[cls as usize].clone(), dims, 1);
                self.groups.insert(key, AggRow { dis, ..r });
            }
        }
    }

    fn rows(self) -> impl Iterator<Item = AggRow> {
        self.groups.into_values()
    }
}

/// The disaggregation of a summed row.
#[derive(Debug, Clone)]
enum Dis {
    /// One stored disaggregation.
    Id(i64),
    /// Stored disaggregations with some dimensions summed away: what is left, the stored
    /// dimensions (bits, see [`analytics::engine::dimset`]) and how many were added up (1, or
    /// 2 for any number above one).
    Summed(Disagg, u8, u32),
}

/// One summed row of values: a pre-aggregate, or values summed over a unit's roll-up.
#[derive(Debug, Clone)]
struct AggRow {
    area: i64,
    ind: i64,
    period: String,
    direct: bool,
    sum: f64,
    n: f64,
    wsum: f64,
    wden: f64,
    mapped: bool,
    estimated: bool,
    dis: Dis,
}

impl AggRow {
    /// Columns: area, indicator, period, direct, sum, n, wsum, wden, mapped, estimated, then
    /// [`Reduce::select`]'s.
    fn from_row(r: &crate::db::Row, summed: bool) -> AggRow {
        let dis = if summed {
            let sex = match r.opt_str(11).as_deref() {
                Some("male") => Some(dantoc_domain::disagg::Sex::Male),
                Some("female") => Some(dantoc_domain::disagg::Sex::Female),
                _ => None,
            };
            let area = match r.opt_str(12).as_deref() {
                Some("urban") => Some(dantoc_domain::disagg::Area::Urban),
                Some("rural") => Some(dantoc_domain::disagg::Area::Rural),
                _ => None,
            };
            Dis::Summed(
                Disagg {
                    ethnic: r.opt_str(10),
                    sex,
                    area,
                    age: r.opt_str(13),
                },
                r.i64(14) as u8,
                r.i64(15) as u32,
            )
        } else {
            Dis::Id(r.i64(10))
        };
        AggRow {
            area: r.i64(0),
            ind: r.i64(1),
            period: r.str(2),
            direct: r.i64(3) == 1,
            sum: r.f64(4),
            n: r.f64(5),
            wsum: r.f64(6),
            wden: r.f64(7),
            mapped: r.i64(8) == 1,
            estimated: r.i64(9) == 1,
            dis,
        }
    }

    fn id(&self) -> i64 {
        match self.dis {
            Dis::Id(id) => id,
            Dis::Summed(..) => 0,
        }
    }

    fn add(&mut self, o: &AggRow, sign: f64) {
        self.sum += sign * o.sum;
        self.n += sign * o.n;
        self.wsum += sign * o.wsum;
        self.wden += sign * o.wden;
        if sign > 0.0 {
            self.mapped |= o.mapped;
            self.estimated |= o.estimated;
        }
    }
}

/// Rows to facts: units, indicators and disaggregations by id.
#[derive(Clone, Copy)]
struct Conv<'a> {
    by_id: &'a HashMap<i64, usize>,
    at: &'a HashMap<i64, usize>,
    disaggs: &'a HashMap<i64, Disagg>,
}

impl Conv<'_> {
    fn fact(&self, r: &AggRow) -> Option<Fact> {
        let (disagg, dims, parts) = match &r.dis {
            Dis::Id(id) => {
                let d = self.disaggs.get(id)?.clone();
                let dims = analytics::engine::dimset(&d);
                (d, dims, 1)
            }
            Dis::Summed(d, dims, parts) => (d.clone(), *dims, *parts),
        };
        Some(Fact {
            ou: *self.at.get(&r.area)?,
            indicator: *self.by_id.get(&r.ind)?,
            period: r.period.parse().ok()?,
            disagg,
            direct: r.direct,
            sum: r.sum,
            n: r.n,
            wsum: r.wsum,
            wden: r.wden,
            mapped: r.mapped,
            estimated: r.estimated,
            dims,
            parts,
        })
    }
}

/// The dirty (indicator, period, province) triples of a pivot's indicators and periods.
#[derive(Default)]
struct Dirty {
    /// Pairs dirty in every province.
    whole: BTreeSet<(i64, String)>,
    /// Pairs dirty in some provinces, with those provinces.
    part: std::collections::BTreeMap<(i64, String), BTreeSet<i64>>,
}

impl Dirty {
    fn load(c: &mut dyn Conn, ind_ids: &[i64], periods: &[String]) -> Result<Dirty, StoreError> {
        let mut d = Dirty::default();
        let wanted: BTreeSet<&str> = periods.iter().map(String::as_str).collect();
        let rows = c.query(
            &format!(
                "SELECT indicator_id, period, area_id FROM agg_dirty WHERE indicator_id IN ({})",
                id_list(ind_ids.iter().copied())
            ),
            &[],
        )?;
        for r in rows {
            let (ind, per, area) = (r.i64(0), r.str(1), r.i64(2));
            if !wanted.contains(per.as_str()) {
                continue;
            }
            if area == EVERY_PROVINCE {
                d.part.remove(&(ind, per.clone()));
                d.whole.insert((ind, per));
            } else if !d.whole.contains(&(ind, per.clone())) {
                d.part.entry((ind, per)).or_default().insert(area);
            }
        }
        Ok(d)
    }

    fn is_empty(&self) -> bool {
        self.whole.is_empty() && self.part.is_empty()
    }

    /// A pre-aggregate row written since the last refresh: its pair in every province, its
    /// province, or the country's row of a pair written anywhere.
    fn stale(&self, ind: i64, period: &str, area: i64) -> bool {
        if self.is_empty() {
            return false;
        }
        let key = (ind, period.to_string());
        self.whole.contains(&key)
            || self
                .part
                .get(&key)
                .is_some_and(|areas| area == 0 || areas.contains(&area))
    }

    fn written(&self, r: &AggRow) -> bool {
        self.part
            .get(&(r.ind, r.period.clone()))
            .is_some_and(|a| a.contains(&r.area))
    }
}

/// The facts of the pairs written since the last refresh, from the values (one fact per
/// stored disaggregation: these are few):
/// - pairs marked in every province: every requested unit from its values (the country from all
///   the provinces');
/// - pairs written in some provinces: those provinces from their values; the country as its
///   pre-aggregate less those provinces' pre-aggregates plus their values (sums, weights and
///   weighted sums add up, so the result is exact; a unit's own figure comes first in each
///   province, as the refresher builds it).
fn fresh_facts(
    c: &mut dyn Conn,
    dirty: &Dirty,
    targets: &[(i64, usize)],
    nation_at: Option<usize>,
    conv: &Conv,
) -> Result<Vec<Fact>, StoreError> {
    let mut facts = vec![];
    let lists = |pairs: &mut dyn Iterator<Item = &(i64, String)>| {
        let (mut ids, mut pers) = (BTreeSet::new(), BTreeSet::new());
        for (i, p) in pairs {
            ids.insert(*i);
            pers.insert(p.clone());
        }
        (
            ids.into_iter().collect::<Vec<i64>>(),
            pers.into_iter().collect::<Vec<String>>(),
        )
    };
    if !dirty.whole.is_empty() {
        let (ids, pers) = lists(&mut dirty.whole.iter());
        let ind_of: HashMap<usize, i64> = conv.by_id.iter().map(|(id, k)| (*k, *id)).collect();
        let mut raw = raw_facts(
            c,
            &ids,
            &pers,
            targets,
            nation_at,
            None,
            None,
            conv.by_id,
            conv.disaggs,
        )?;
        raw.retain(|f| {
            ind_of
                .get(&f.indicator)
                .is_some_and(|id| dirty.whole.contains(&(*id, f.period.to_string())))
        });
        facts.extend(raw);
    }
    if dirty.part.is_empty() {
        return Ok(facts);
    }
    let (ids, pers) = lists(&mut dirty.part.keys());
    let written: BTreeSet<i64> = dirty.part.values().flatten().copied().collect();
    let requested: BTreeSet<i64> = targets.iter().map(|t| t.0).collect();
    // the provinces to read from the values: those asked for, and all of them for the country
    let areas: Vec<(i64, usize)> = written
        .iter()
        .filter(|a| nation_at.is_some() || requested.contains(a))
        .map(|a| (*a, 0))
        .collect();
    let mut fresh = raw_rows(c, &ids, &pers, &areas, None, None)?;
    fresh.retain(|r| dirty.written(r));
    for r in &fresh {
        if requested.contains(&r.area) {
            facts.extend(conv.fact(r));
        }
    }
    let Some(k) = nation_at else {
        return Ok(facts);
    };
    // the country's pre-aggregates of these pairs, and those of the provinces written
    let mut with_country = areas.clone();
    with_country.push((0, 0));
    let (mut country, mut old) = (vec![], vec![]);
    read_agg(c, &ids, &pers, &with_country, &mut |r| {
        if r.area == 0 {
            if dirty.part.contains_key(&(r.ind, r.period.clone())) {
                country.push(r);
            }
        } else if dirty.written(&r) {
            old.push(r);
        }
    })?;
    type Key = (i64, String, i64);
    let mut sums: std::collections::BTreeMap<Key, AggRow> = country
        .drain(..)
        .map(|r| ((r.ind, r.period.clone(), r.id()), r))
        .collect();
    for (rows, sign) in [(own_first(old), -1.0), (own_first(fresh), 1.0)] {
        for r in rows {
            let key = (r.ind, r.period.clone(), r.id());
            match sums.get_mut(&key) {
                Some(s) => s.add(&r, sign),
                None if sign > 0.0 => {
                    sums.insert(
                        key,
                        AggRow {
                            area: 0,
                            direct: false,
                            ..r
                        },
                    );
                }
                // a row the country's pre-aggregate did not count: nothing to take away
                None => {}
            }
        }
    }
    let at: HashMap<i64, usize> = [(0, k)].into();
    let conv0 = Conv { at: &at, ..*conv };
    // a disaggregation whose values were all removed has no weight left
    facts.extend(
        sums.values()
            .filter(|r| r.n > 1e-9)
            .filter_map(|r| conv0.fact(r)),
    );
    Ok(facts)
}

/// Rule 1 per province, as the refresher builds the country: for each indicator, period and
/// province, the province's own rows when it has any, else its units'.
fn own_first(rows: Vec<AggRow>) -> Vec<AggRow> {
    let direct: BTreeSet<(i64, String, i64)> = rows
        .iter()
        .filter(|r| r.direct)
        .map(|r| (r.ind, r.period.clone(), r.area))
        .collect();
    rows.into_iter()
        .filter(|r| r.direct == direct.contains(&(r.ind, r.period.clone(), r.area)))
        .collect()
}

/// Pre-aggregate rows, one per stored disaggregation.
fn read_agg(
    c: &mut dyn Conn,
    ind_ids: &[i64],
    periods: &[String],
    areas: &[(i64, usize)],
    each: &mut dyn FnMut(AggRow),
) -> Result<(), StoreError> {
    let mut pv = vec![];
    let pm = push_params(&mut pv, periods.iter().map(|s| Val::Text(s.clone())));
    let sql = format!(
        "SELECT a.area_id, a.indicator_id, a.period, a.direct, a.sum, a.n, a.wsum, a.wden,
                a.mapped, a.estimated, a.disagg_id
         FROM agg_value a
         WHERE a.indicator_id IN ({}) AND a.period IN ({pm}) AND a.area_id IN ({})",
        id_list(ind_ids.iter().copied()),
        id_list(areas.iter().map(|a| a.0))
    );
    for r in &c.query(&sql, &pv)? {
        each(AggRow::from_row(r, false));
    }
    Ok(())
}

/// Values summed per unit of `areas` through `unit_rollup`.
fn raw_rows(
    c: &mut dyn Conn,
    ind_ids: &[i64],
    periods: &[String],
    areas: &[(i64, usize)],
    visible: Visible,
    reduce: Option<&Reduce>,
) -> Result<Vec<AggRow>, StoreError> {
    let mut out = vec![];
    if areas.is_empty() || periods.is_empty() || ind_ids.is_empty() {
        return Ok(out);
    }
    let mut p = vec![];
    let pm = push_params(&mut p, periods.iter().map(|s| Val::Text(s.clone())));
    let vis = match visible {
        None => String::new(),
        Some(scope) => {
            let (sql, vals) = crate::accounts::scope_sql("d.unit_id", scope, p.len() + 1);
            p.extend(vals);
            format!("AND (d.published = 1 OR {sql})")
        }
    };
    let (dis, join, group) = (
        Reduce::select(reduce, "d"),
        Reduce::join(reduce, "d"),
        Reduce::group(reduce, "d"),
    );
    // From the units to their values. SQLite keeps a CROSS JOIN's order (PostgreSQL plans
    // it as any inner join): left free, it walks every value of the indicators and periods
    // and probes the roll-up once per requested unit for each (the 124 communes of one
    // province, ten indicators, 40 M values: 16 s instead of 0.15 s; BENCHMARKS.md, issue #5).
    for chunk in areas.chunks(2000) {
        let rows = c.query(
            &format!(
                "SELECT r.ancestor_id, d.indicator_id, d.period, r.direct, {SUMS}, {dis}
                 FROM unit_rollup r
                 CROSS JOIN data_value d
                 {WEIGHT_JOIN}
                 {join}
                 WHERE d.unit_id = r.unit_id
                   AND r.ancestor_id IN ({}) AND d.indicator_id IN ({})
                   AND d.month_start IN ({}) AND d.period IN ({pm})
                   AND d.value IS NOT NULL {vis}
                 GROUP BY r.ancestor_id, d.indicator_id, d.period, r.direct, {group}",
                id_list(chunk.iter().map(|a| a.0)),
                id_list(ind_ids.iter().copied()),
                month_starts(periods)
            ),
            &p,
        )?;
        out.extend(rows.iter().map(|r| AggRow::from_row(r, reduce.is_some())));
    }
    Ok(out)
}

/// Facts from `data_value`, summed per requested unit through `unit_rollup` (with the
/// breakdowns not asked for summed away, when `reduce`). The whole country (when asked, at
/// `nation_at`) is folded from the current provinces, one fact per stored disaggregation.
#[allow(clippy::too_many_arguments)]
fn raw_facts(
    c: &mut dyn Conn,
    ind_ids: &[i64],
    periods: &[String],
    targets: &[(i64, usize)],
    nation_at: Option<usize>,
    visible: Visible,
    reduce: Option<&Reduce>,
    by_id: &HashMap<i64, usize>,
    disaggs: &HashMap<i64, Disagg>,
) -> Result<Vec<Fact>, StoreError> {
    let at: HashMap<i64, usize> = targets.iter().copied().collect();
    let conv = Conv {
        by_id,
        at: &at,
        disaggs,
    };
    let mut facts: Vec<Fact> = raw_rows(c, ind_ids, periods, targets, visible, reduce)?
        .iter()
        .filter_map(|r| conv.fact(r))
        .collect();
    if let Some(k) = nation_at {
        let provinces: Vec<(i64, usize)> = c
            .query("SELECT id FROM admin_unit WHERE version = '2025' AND kind = 'province' ORDER BY id", &[])?
            .iter()
            .enumerate()
            .map(|(i, r)| (r.i64(0), i))
            .collect();
        let at: HashMap<i64, usize> = provinces.iter().copied().collect();
        let conv = Conv { at: &at, ..conv };
        let per_province: Vec<Fact> = raw_rows(c, ind_ids, periods, &provinces, visible, None)?
            .iter()
            .filter_map(|r| conv.fact(r))
            .collect();
        facts.extend(analytics::engine::fold_into(per_province, k));
    }
    Ok(facts)
}

/// Lay a computed pivot out with a title and a source line.
pub fn table(req: &Request, comp: &Computed, title: String, source: String) -> PivotTable {
    analytics::layout(req, comp, title, source)
}

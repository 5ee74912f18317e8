//! Boundaries for maps of pivot results: the stored shapes of the units a pivot answered for.

use crate::db::{Conn, Val};
use crate::error::StoreError;
use dantoc_domain::admin::{HierarchyVersion, split_unit_ref};
use dantoc_domain::geo::{Shape, parse_shape};
use dantoc_domain::period::Period;
use std::collections::HashMap;

/// A unit to draw: code as the pivot wrote it, full name, boundary (`None`: none stored).
pub struct UnitShape {
    pub code: String,
    pub name: String,
    pub shape: Option<Shape>,
}

/// The shapes of units given by code (`CODE` in `version`, or `CODE@2024`), in the order given.
/// One query per version and 500 codes, with `IN` lists: PostgreSQL takes 60 ms to plan 500
/// `(version = … AND code = …)` terms joined by `OR`, 2 ms for the same as an `IN` list.
pub fn shapes(
    c: &mut dyn Conn,
    version: HierarchyVersion,
    codes: &[String],
) -> Result<Vec<UnitShape>, StoreError> {
    let mut keys: Vec<(String, HierarchyVersion)> = Vec::with_capacity(codes.len());
    for code in codes {
        let (c0, v) =
            split_unit_ref(code).map_err(|e| StoreError::Db(format!("unit code {code:?}: {e}")))?;
        keys.push((c0.to_string(), v.unwrap_or(version)));
    }
    let mut found: HashMap<(HierarchyVersion, String), (String, Option<String>)> = HashMap::new();
    for v in [HierarchyVersion::V2024, HierarchyVersion::V2025] {
        let wanted: Vec<&str> = keys
            .iter()
            .filter(|k| k.1 == v)
            .map(|k| k.0.as_str())
            .collect();
        for chunk in wanted.chunks(500) {
            let mut p: Vec<Val> = vec![Val::from(v.as_str())];
            let list = crate::db::push_params(&mut p, chunk.iter().map(|code| Val::from(*code)));
            let rows = c.query(
                &format!(
                    "SELECT u.code, u.full_name, g.geojson FROM admin_unit u
                     LEFT JOIN unit_geometry g ON g.unit_id = u.id
                     WHERE u.version = $1 AND u.code IN ({list})"
                ),
                &p,
            )?;
            for r in rows {
                found.insert((v, r.str(0)), (r.str(1), r.opt_str(2)));
            }
        }
    }
    Ok(codes
        .iter()
        .zip(keys)
        .map(|(code, (c0, v))| {
            let row = found.get(&(v, c0));
            UnitShape {
                code: code.clone(),
                name: row.map(|r| r.0.clone()).unwrap_or_else(|| code.clone()),
                shape: row
                    .and_then(|r| r.1.as_deref())
                    .and_then(|g| parse_shape(g).ok()),
            }
        })
        .collect())
}

/// The periods an indicator has values for (any unit, any reader: the pairs of the
/// pre-aggregates and those written since their last refresh), oldest first, at most the
/// latest `max`. An indicator without values of its own (derived) gets the periods of every
/// indicator of its period type. The caller's pivot then keeps the periods it can see figures
/// for: this is only the candidates of a map's time slider.
pub fn periods(c: &mut dyn Conn, indicator: &str, max: usize) -> Result<Vec<String>, StoreError> {
    let own = c.query(
        "SELECT DISTINCT a.period FROM agg_value a JOIN indicator i ON i.id = a.indicator_id
         WHERE i.code = $1
         UNION SELECT d.period FROM agg_dirty d JOIN indicator i ON i.id = d.indicator_id
         WHERE i.code = $1",
        &[Val::from(indicator)],
    )?;
    let rows = if own.is_empty() {
        c.query(
            "SELECT DISTINCT a.period FROM agg_value a
             UNION SELECT d.period FROM agg_dirty d",
            &[],
        )?
    } else {
        own
    };
    let kind = c
        .query_one(
            "SELECT period_type FROM indicator WHERE code = $1",
            &[Val::from(indicator)],
        )?
        .map(|r| r.str(0));
    let mut list: Vec<Period> = rows
        .iter()
        .filter_map(|r| r.str(0).parse::<Period>().ok())
        .filter(|p| kind.as_deref().is_none_or(|k| p.kind().as_str() == k))
        .collect();
    list.sort_by_key(|p| (p.start_date(), p.kind().months()));
    list.dedup();
    let skip = list.len().saturating_sub(max);
    Ok(list.into_iter().skip(skip).map(|p| p.to_string()).collect())
}

//! Boundaries for maps of pivot results: the stored shapes of the units a pivot answered for.

use crate::db::{Conn, Val};
use crate::error::StoreError;
use dantoc_domain::admin::{HierarchyVersion, split_unit_ref};
use dantoc_domain::geo::{Shape, parse_shape};

/// A unit to draw: code as the pivot wrote it, full name, boundary (`None`: none stored).
pub struct UnitShape {
    pub code: String,
    pub name: String,
    pub shape: Option<Shape>,
}

/// The shapes of units given by code (`CODE` in `version`, or `CODE@2024`), in the order given.
pub fn shapes(
    c: &mut dyn Conn,
    version: HierarchyVersion,
    codes: &[String],
) -> Result<Vec<UnitShape>, StoreError> {
    let mut out = Vec::with_capacity(codes.len());
    for chunk in codes.chunks(500) {
        let mut keys: Vec<(String, HierarchyVersion)> = vec![];
        for code in chunk {
            let (c0, v) = split_unit_ref(code)
                .map_err(|e| StoreError::Db(format!("unit code {code:?}: {e}")))?;
            keys.push((c0.to_string(), v.unwrap_or(version)));
        }
        let mut p: Vec<Val> = vec![];
        let mut ors = vec![];
        for (code, v) in &keys {
            p.push(Val::from(v.as_str()));
            p.push(Val::from(code.as_str()));
            ors.push(format!(
                "(u.version = ${} AND u.code = ${})",
                p.len() - 1,
                p.len()
            ));
        }
        let rows = c.query(
            &format!(
                "SELECT u.version, u.code, u.full_name, g.geojson FROM admin_unit u
                 LEFT JOIN unit_geometry g ON g.unit_id = u.id WHERE {}",
                ors.join(" OR ")
            ),
            &p,
        )?;
        for (code, (c0, v)) in chunk.iter().zip(&keys) {
            let r = rows
                .iter()
                .find(|r| r.str(0) == v.as_str() && r.str(1) == *c0);
            out.push(UnitShape {
                code: code.clone(),
                name: r.map(|r| r.str(2)).unwrap_or_else(|| code.clone()),
                shape: r
                    .and_then(|r| r.opt_str(3))
                    .and_then(|g| parse_shape(&g).ok()),
            });
        }
    }
    Ok(out)
}

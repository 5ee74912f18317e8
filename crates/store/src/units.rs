//! Administrative units, their hierarchy (adjacency + closure table) and the lineage
//! between the pre- and post-2025 hierarchies.

use crate::db::{Conn, Row, Val};
use crate::error::StoreError;
use crate::params;
use dantoc_domain::FieldError;
use dantoc_domain::admin::{self, AdminUnit, HierarchyVersion, UnitKind, WeightSource};
use dantoc_domain::indicator::check_code;
use dantoc_domain::text::{clean, fold};
use serde::Serialize;

const SELECT: &str = "SELECT u.code, u.version, u.name, u.full_name, u.type, u.kind, u.level, p.code, \
    u.province_code, u.valid_from, u.valid_to, u.alt_names, u.id \
    FROM admin_unit u LEFT JOIN admin_unit p ON p.id = u.parent_id";

fn from_row(r: &Row) -> AdminUnit {
    AdminUnit {
        code: r.str(0),
        version: r.str(1).parse().unwrap_or(HierarchyVersion::CURRENT),
        name: r.str(2),
        full_name: r.str(3),
        type_word: r.str(4),
        kind: r.str(5).parse().unwrap_or(UnitKind::Commune),
        level: r.i64(6) as u8,
        parent_code: r.opt_str(7),
        province_code: r.str(8),
        valid_from: r.opt_str(9),
        valid_to: r.opt_str(10),
        alt_names: r
            .str(11)
            .split("; ")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

/// `col LIKE '%w%'` for each folded word of `q` (AND). Folding keeps only letters and digits,
/// so no LIKE wildcard can come from the user.
/// Abbreviations of Vietnamese officialdom, folded, with what they stand for.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("dtts", "dan toc thieu so"),
    ("cntt", "cong nghe thong tin"),
    ("ncut", "nguoi co uy tin"),
    ("ubnd", "uy ban nhan dan"),
    ("csdl", "co so du lieu"),
    ("khcn", "khoa hoc, cong nghe"),
];

pub fn folded_filter(q: &str, col: &str) -> (String, Vec<Val>) {
    let words: Vec<String> = fold(q)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if words.is_empty() {
        return ("1 = 1".into(), vec![]);
    }
    let mut sql = vec![];
    let mut params = vec![];
    for w in &words {
        params.push(Val::Text(format!("%{w}%")));
        let mut alt = format!("{col} LIKE ${}", params.len());
        // the abbreviations officials write, found in full too
        if let Some((_, full)) = ABBREVIATIONS.iter().find(|(a, _)| a == w) {
            params.push(Val::Text(format!("%{full}%")));
            alt = format!("({alt} OR {col} LIKE ${})", params.len());
        }
        sql.push(alt);
    }
    (sql.join(" AND "), params)
}

pub fn get(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    code: &str,
) -> Result<Option<AdminUnit>, StoreError> {
    Ok(c.query_one(
        &format!("{SELECT} WHERE u.version = $1 AND u.code = $2"),
        &params![v.as_str(), code],
    )?
    .map(|r| from_row(&r)))
}

pub fn require(c: &mut dyn Conn, v: HierarchyVersion, code: &str) -> Result<AdminUnit, StoreError> {
    get(c, v, code)?.ok_or_else(|| {
        StoreError::NotFound(format!("administrative unit {code} in the {v} hierarchy"))
    })
}

pub fn id_of(c: &mut dyn Conn, v: HierarchyVersion, code: &str) -> Result<Option<i64>, StoreError> {
    Ok(c.query_one(
        "SELECT id FROM admin_unit WHERE version = $1 AND code = $2",
        &params![v.as_str(), code],
    )?
    .map(|r| r.i64(0)))
}

/// Direct children, in code order.
pub fn children(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    code: &str,
) -> Result<Vec<AdminUnit>, StoreError> {
    require(c, v, code)?;
    Ok(c.query(
        &format!("{SELECT} WHERE p.version = $1 AND p.code = $2 ORDER BY u.code"),
        &params![v.as_str(), code],
    )?
    .iter()
    .map(from_row)
    .collect())
}

/// Provinces of a version, in code order.
pub fn provinces(c: &mut dyn Conn, v: HierarchyVersion) -> Result<Vec<AdminUnit>, StoreError> {
    Ok(c.query(
        &format!("{SELECT} WHERE u.version = $1 AND u.kind = 'province' ORDER BY u.code"),
        &params![v.as_str()],
    )?
    .iter()
    .map(from_row)
    .collect())
}

/// Ancestors from the province down to the parent.
pub fn ancestors(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    code: &str,
) -> Result<Vec<AdminUnit>, StoreError> {
    let id = id_of(c, v, code)?.ok_or_else(|| {
        StoreError::NotFound(format!("administrative unit {code} in the {v} hierarchy"))
    })?;
    Ok(c.query(
        &format!(
            "{SELECT} JOIN admin_unit_closure cl ON cl.ancestor_id = u.id \
                 WHERE cl.descendant_id = $1 AND cl.depth > 0 ORDER BY cl.depth DESC"
        ),
        &params![id],
    )?
    .iter()
    .map(from_row)
    .collect())
}

/// Descendants of a unit (itself excluded) of one kind, in code order.
pub fn descendants(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    code: &str,
    kind: Option<UnitKind>,
) -> Result<Vec<AdminUnit>, StoreError> {
    let id = id_of(c, v, code)?.ok_or_else(|| {
        StoreError::NotFound(format!("administrative unit {code} in the {v} hierarchy"))
    })?;
    let mut p = crate::params_vec![id];
    let mut sql = format!(
        "{SELECT} JOIN admin_unit_closure cl ON cl.descendant_id = u.id WHERE cl.ancestor_id = $1 AND cl.depth > 0"
    );
    if let Some(k) = kind {
        sql.push_str(" AND u.kind = $2");
        p.push(k.as_str().into());
    }
    sql.push_str(" ORDER BY u.code");
    Ok(c.query(&sql, &p)?.iter().map(from_row).collect())
}

/// Units whose names contain every word of `q`, ignoring case and diacritics.
pub fn search(
    c: &mut dyn Conn,
    q: &str,
    v: Option<HierarchyVersion>,
    limit: i64,
) -> Result<Vec<AdminUnit>, StoreError> {
    let (filter, mut p) = folded_filter(q, "u.name_folded");
    let mut sql = format!("{SELECT} WHERE {filter}");
    if let Some(v) = v {
        p.push(v.as_str().into());
        sql.push_str(&format!(" AND u.version = ${}", p.len()));
    }
    // whole words in the order typed first ("dong ngu" before "Đồng Nguyên")
    p.push(Val::Text(format!("% {} %", fold(q))));
    let phrase = p.len();
    p.push(limit.into());
    sql.push_str(&format!(
        " ORDER BY CASE WHEN (' ' || u.name_folded || ' ') LIKE ${phrase} THEN 0 ELSE 1 END, u.level, u.version DESC, u.code LIMIT ${}",
        p.len()
    ));
    Ok(c.query(&sql, &p)?.iter().map(from_row).collect())
}

pub fn count(c: &mut dyn Conn, v: HierarchyVersion, kind: UnitKind) -> Result<i64, StoreError> {
    c.scalar_i64(
        "SELECT count(*) FROM admin_unit WHERE version = $1 AND kind = $2",
        &params![v.as_str(), kind.as_str()],
    )
}

/// One old → new link.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LineageLink {
    pub old_code: String,
    pub old_name: String,
    pub new_code: String,
    pub new_name: String,
    pub portion: String,
    pub detail: String,
    pub weight: f64,
    pub weight_source: String,
    /// The weight is a default (equal shares), so figures mapped with it are estimates.
    pub estimated: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

const LINEAGE_SELECT: &str = "SELECT o.code, o.full_name, n.code, n.full_name, l.portion, l.detail, l.weight, \
    l.weight_source, l.note FROM unit_lineage l JOIN admin_unit o ON o.id = l.old_id \
    JOIN admin_unit n ON n.id = l.new_id";

fn link(r: &Row) -> LineageLink {
    let src = r.str(7);
    LineageLink {
        old_code: r.str(0),
        old_name: r.str(1),
        new_code: r.str(2),
        new_name: r.str(3),
        portion: r.str(4),
        detail: r.str(5),
        weight: r.f64(6),
        estimated: src
            .parse::<WeightSource>()
            .map(|s| s.is_estimated())
            .unwrap_or(true),
        weight_source: src,
        note: r.str(8),
    }
}

/// Where a pre-2025 unit went (`version` = 2024) or where a current unit came from (2025).
pub fn lineage(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    code: &str,
) -> Result<Vec<LineageLink>, StoreError> {
    let id = id_of(c, v, code)?.ok_or_else(|| {
        StoreError::NotFound(format!("administrative unit {code} in the {v} hierarchy"))
    })?;
    let col = match v {
        HierarchyVersion::V2024 => "l.old_id",
        HierarchyVersion::V2025 => "l.new_id",
    };
    Ok(c.query(
        &format!("{LINEAGE_SELECT} WHERE {col} = $1 ORDER BY o.code, n.code"),
        &params![id],
    )?
    .iter()
    .map(link)
    .collect())
}

/// A province sets the shares of a split pre-2025 unit among its new units.
/// `weights` must name exactly the unit's targets and add up to 1.
pub fn set_weights(
    c: &mut dyn Conn,
    old_code: &str,
    weights: &[(String, f64)],
) -> Result<Vec<LineageLink>, StoreError> {
    let links = lineage(c, HierarchyVersion::V2024, old_code)?;
    let mut known: Vec<&str> = links.iter().map(|l| l.new_code.as_str()).collect();
    known.sort();
    let mut given: Vec<&str> = weights.iter().map(|w| w.0.as_str()).collect();
    given.sort();
    if known != given {
        return Err(StoreError::invalid(
            FieldError::new(
                "weights",
                format!(
                    "give one weight for each new unit of {old_code}: {}",
                    known.join(", ")
                ),
            )
            .value(given.join(", ")),
        ));
    }
    let ws: Vec<f64> = weights.iter().map(|w| w.1).collect();
    admin::check_weights(&ws).map_err(|e| StoreError::invalid(FieldError::new("weights", e)))?;
    let old_id = id_of(c, HierarchyVersion::V2024, old_code)?.unwrap_or_default();
    for (code, w) in weights {
        let new_id = id_of(c, HierarchyVersion::V2025, code)?.unwrap_or_default();
        c.execute(
            "UPDATE unit_lineage SET weight = $1, weight_source = 'province' WHERE old_id = $2 AND new_id = $3",
            &params![*w, old_id, new_id],
        )?;
    }
    // figures of the old unit and of the new ones now roll up differently
    crate::analytics::rebuild_rollup(c)?;
    let mut touched = vec![old_id];
    for (code, _) in weights {
        touched.extend(id_of(c, HierarchyVersion::V2025, code)?);
    }
    crate::analytics::mark_units_dirty(c, &touched)?;
    lineage(c, HierarchyVersion::V2024, old_code)
}

/// Register a village (thôn, bản, tổ dân phố) under a commune, with a code the province defines.
pub fn create_village(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    commune_code: &str,
    code: &str,
    name: &str,
    type_word: &str,
) -> Result<AdminUnit, StoreError> {
    let (code, name, type_word) = (clean(code), clean(name), clean(type_word).to_lowercase());
    let mut p = dantoc_domain::Problems::default();
    if let Err(e) = check_code(&code) {
        p.push(FieldError::new("code", e).value(&code));
    }
    if name.is_empty() {
        p.push(FieldError::new("name", "the name is required"));
    }
    if let Err(e) = admin::check_type(UnitKind::Village, &type_word) {
        p.push(FieldError::new("type", e).value(&type_word));
    }
    let parent = require(c, v, commune_code)?;
    if parent.kind != UnitKind::Commune {
        p.push(FieldError::new("parent", "villages sit under communes").value(commune_code));
    }
    if id_of(c, v, &code)?.is_some() {
        p.push(FieldError::new("code", "this code is already used in this hierarchy").value(&code));
    }
    if !p.is_empty() {
        return Err(StoreError::Invalid(p));
    }
    let parent_id = id_of(c, v, commune_code)?.unwrap_or_default();
    let mut chars = type_word.chars();
    let cap: String = chars
        .next()
        .map(|f| f.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    let full = format!("{cap} {name}");
    let id = c
        .query(
            "INSERT INTO admin_unit (version, code, name, full_name, name_folded, type, kind, level, parent_id,
                province_code, valid_from, valid_to, alt_names, source)
             VALUES ($1,$2,$3,$4,$5,$6,'village',$7,$8,$9,$10,NULL,'','province') RETURNING id",
            &params![
                v.as_str(),
                &code,
                &name,
                &full,
                fold(&full),
                &type_word,
                UnitKind::Village.level(v) as i64,
                parent_id,
                &parent.province_code,
                crate::clock::today()
            ],
        )?
        .first()
        .map(|r| r.i64(0))
        .unwrap_or_default();
    c.execute(
        "INSERT INTO admin_unit_closure (ancestor_id, descendant_id, depth)
         SELECT ancestor_id, CAST($1 AS BIGINT), depth + 1 FROM admin_unit_closure WHERE descendant_id = $2
         UNION ALL SELECT CAST($1 AS BIGINT), CAST($1 AS BIGINT), 0",
        &params![id, parent_id],
    )?;
    crate::analytics::add_village(c, id, parent_id)?;
    require(c, v, &code)
}

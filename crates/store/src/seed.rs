//! Reference data compiled into the binary: every province, district and commune of
//! Vietnam before and after 1 July 2025, the lineage between them, the 54 ethnic groups
//! under both GSO code lists, and the indicator catalogue. Built from `../shared/data` by
//! `scripts/build-seed.py`; never read from outside the binary at run time.

use crate::db::{Backend, Conn, Db, Val};
use crate::error::StoreError;
use dantoc_domain::admin::{self, HierarchyVersion, LineageTarget, Portion, UnitKind};
use dantoc_domain::indicator::Indicator;
use dantoc_domain::text::fold;
use std::collections::HashMap;
use std::io::Read;

const UNITS_2024: &[u8] = include_bytes!("../seed/units_2024.csv.gz");
const UNITS_2025: &[u8] = include_bytes!("../seed/units_2025.csv.gz");
const LINEAGE: &[u8] = include_bytes!("../seed/lineage.csv.gz");
const ETHNIC: &str = include_str!("../seed/ethnic_groups.csv");
const INDICATORS: &str = include_str!("../seed/indicators.csv");
const INDICATOR_GROUPS: &str = include_str!("../seed/indicator_groups.csv");

/// Every seed file, for fingerprints.
pub fn all_bytes() -> [&'static [u8]; 6] {
    [
        UNITS_2024,
        UNITS_2025,
        LINEAGE,
        ETHNIC.as_bytes(),
        INDICATORS.as_bytes(),
        INDICATOR_GROUPS.as_bytes(),
    ]
}

/// Bump when the seed files change so that existing databases are told.
pub const SEED_ID: &str = "reference-2025-07-01/v1";

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(b)
        .read_to_string(&mut s)
        .expect("seed files are valid gzip (checked by tests)");
    s
}

fn records(text: &str) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = r
        .headers()
        .expect("seed header")
        .iter()
        .map(str::to_string)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("seed CSV is well-formed (checked by tests)");
            headers
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// A unit row from a seed file, with ids assigned.
#[derive(Debug, Clone)]
pub struct SeedUnit {
    pub id: i64,
    pub version: HierarchyVersion,
    pub code: String,
    pub name: String,
    pub full_name: String,
    pub type_word: String,
    pub kind: UnitKind,
    pub parent_code: Option<String>,
    pub alt_names: String,
}

pub fn seed_units() -> Vec<SeedUnit> {
    let mut out = vec![];
    let mut id = 0;
    for (v, bytes) in [
        (HierarchyVersion::V2024, UNITS_2024),
        (HierarchyVersion::V2025, UNITS_2025),
    ] {
        for r in records(&gunzip(bytes)) {
            id += 1;
            out.push(SeedUnit {
                id,
                version: v,
                code: r["code"].clone(),
                name: r["name"].clone(),
                full_name: r["full_name"].clone(),
                type_word: r["type"].clone(),
                kind: r["level"].parse().expect("seed level"),
                parent_code: Some(r["parent_code"].clone()).filter(|s| !s.is_empty()),
                alt_names: r["alt_names"].clone(),
            });
        }
    }
    out
}

pub fn seed_indicators() -> Result<Vec<Indicator>, String> {
    records(INDICATORS)
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            crate::indicators::from_record(&r)
                .map_err(|e| format!("indicators.csv row {}: {e}", i + 2))
        })
        .collect()
}

/// Load the reference data unless this seed is already loaded. Returns whether it loaded.
pub fn load_reference(db: &Db) -> Result<bool, StoreError> {
    db.write(|c| {
        if c.backend() == Backend::Postgres {
            c.query("SELECT pg_advisory_xact_lock(4242002)", &[])?;
        }
        let loaded = c
            .query_one("SELECT value FROM meta WHERE key = 'reference_seed'", &[])?
            .map(|r| r.str(0));
        if loaded.as_deref() == Some(SEED_ID) {
            return Ok(false);
        }
        if loaded.is_some() {
            return Err(StoreError::Conflict(format!(
                "the database holds reference data {loaded:?}, this binary ships {SEED_ID:?}: upgrade it with a migration"
            )));
        }
        load_into(c)?;
        crate::analytics::rebuild_rollup(c)?;
        c.execute(
            "INSERT INTO meta (key, value) VALUES ('reference_seed', $1)",
            &[SEED_ID.into()],
        )?;
        Ok(true)
    })
}

fn load_into(c: &mut dyn Conn) -> Result<(), StoreError> {
    let units = seed_units();
    let mut by_code: HashMap<(HierarchyVersion, &str), &SeedUnit> = HashMap::new();
    for u in &units {
        by_code.insert((u.version, u.code.as_str()), u);
    }
    let province_of = |u: &SeedUnit| -> String {
        let mut cur = u;
        while let Some(p) = cur.parent_code.as_deref() {
            cur = by_code[&(cur.version, p)];
        }
        cur.code.clone()
    };
    let rows: Vec<Vec<Val>> = units
        .iter()
        .map(|u| {
            let parent = u
                .parent_code
                .as_deref()
                .map(|p| by_code[&(u.version, p)].id);
            let folded = if u.alt_names.is_empty() {
                fold(&u.full_name)
            } else {
                format!("{} | {}", fold(&u.full_name), fold(&u.alt_names))
            };
            crate::params_vec![
                u.id,
                u.version.as_str(),
                &u.code,
                &u.name,
                &u.full_name,
                folded,
                &u.type_word,
                u.kind.as_str(),
                u.kind.level(u.version) as i64,
                parent,
                province_of(u),
                u.version.valid_from(),
                u.version.valid_to(),
                u.alt_names.replace('|', "; "),
            ]
        })
        .collect();
    c.insert_many(
        "admin_unit",
        &[
            "id",
            "version",
            "code",
            "name",
            "full_name",
            "name_folded",
            "type",
            "kind",
            "level",
            "parent_id",
            "province_code",
            "valid_from",
            "valid_to",
            "alt_names",
        ],
        &rows,
        "",
    )?;
    // closure: every unit with itself and each ancestor
    let mut closure = vec![];
    for u in &units {
        let mut depth = 0i64;
        let mut cur = u;
        closure.push(crate::params_vec![u.id, u.id, 0i64]);
        while let Some(p) = cur.parent_code.as_deref() {
            cur = by_code[&(cur.version, p)];
            depth += 1;
            closure.push(crate::params_vec![cur.id, u.id, depth]);
        }
    }
    c.insert_many(
        "admin_unit_closure",
        &["ancestor_id", "descendant_id", "depth"],
        &closure,
        "",
    )?;

    // lineage: group targets per old unit, then default weights
    let mut targets: Vec<(String, Vec<(LineageTarget, String)>)> = vec![];
    for r in records(&gunzip(LINEAGE)) {
        let t = LineageTarget {
            new_code: r["new_code"].clone(),
            portion: r["portion"].parse::<Portion>().expect("seed portion"),
            detail: r["portion_detail"].clone(),
        };
        match targets.last_mut() {
            Some((old, v)) if *old == r["old_code"] => v.push((t, r["note_vi"].clone())),
            _ => targets.push((r["old_code"].clone(), vec![(t, r["note_vi"].clone())])),
        }
    }
    let mut lineage = vec![];
    let mut mapped_old: HashMap<&str, ()> = HashMap::new();
    let mut province_map: HashMap<String, String> = HashMap::new();
    for (old, ts) in &targets {
        let old_u = by_code[&(HierarchyVersion::V2024, old.as_str())];
        mapped_old.insert(old.as_str(), ());
        let plain: Vec<LineageTarget> = ts.iter().map(|(t, _)| t.clone()).collect();
        for ((t, note), (w, src)) in ts.iter().zip(admin::default_weights(&plain)) {
            let new_u = by_code[&(HierarchyVersion::V2025, t.new_code.as_str())];
            province_map.insert(province_of(old_u), province_of(new_u));
            lineage.push(crate::params_vec![
                old_u.id,
                new_u.id,
                t.portion.as_str(),
                &t.detail,
                note,
                w,
                src.as_str()
            ]);
        }
    }
    // old provinces and districts lie wholly inside one new province
    for u in units
        .iter()
        .filter(|u| u.version == HierarchyVersion::V2024)
    {
        if matches!(u.kind, UnitKind::Province | UnitKind::District)
            && !mapped_old.contains_key(u.code.as_str())
        {
            let Some(newp) = province_map.get(&province_of(u)) else {
                continue;
            };
            let new_u = by_code[&(HierarchyVersion::V2025, newp.as_str())];
            let detail = if u.kind == UnitKind::Province {
                "province"
            } else {
                "district_in_province"
            };
            lineage.push(crate::params_vec![
                u.id, new_u.id, "whole", detail, "", 1.0, "whole"
            ]);
        }
    }
    c.insert_many(
        "unit_lineage",
        &[
            "old_id",
            "new_id",
            "portion",
            "detail",
            "note",
            "weight",
            "weight_source",
        ],
        &lineage,
        "",
    )?;

    // ethnic groups
    let eth: Vec<Vec<Val>> = records(ETHNIC)
        .into_iter()
        .map(|r| {
            let folded = format!("{} | {}", fold(&r["name"]), fold(&r["other_names"]));
            crate::params_vec![
                &r["code_2008"],
                &r["code_1979"],
                &r["name"],
                &r["other_names"],
                folded,
                r["population_2019"].parse::<i64>().ok(),
                r["code_2008"] != "01"
            ]
        })
        .collect();
    c.insert_many(
        "ethnic_group",
        &[
            "code_2008",
            "code_1979",
            "name",
            "other_names",
            "name_folded",
            "population_2019",
            "minority",
        ],
        &eth,
        "",
    )?;

    let groups: Vec<Vec<Val>> = records(INDICATOR_GROUPS)
        .into_iter()
        .map(|r| crate::params_vec![&r["code"], &r["name_vi"], &r["name_en"]])
        .collect();
    c.insert_many(
        "indicator_group",
        &["code", "name_vi", "name_en"],
        &groups,
        "",
    )?;

    let inds = seed_indicators().map_err(|e| StoreError::Io(format!("seed: {e}")))?;
    for i in &inds {
        crate::indicators::insert(c, i)?;
    }
    if c.backend() == Backend::Postgres {
        c.batch(
            "SELECT setval(pg_get_serial_sequence('admin_unit', 'id'), (SELECT max(id) FROM admin_unit));",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_files_parse_and_counts_match_the_sources() {
        let units = seed_units();
        let count = |v, k| {
            units
                .iter()
                .filter(|u| u.version == v && u.kind == k)
                .count()
        };
        assert_eq!(count(HierarchyVersion::V2024, UnitKind::Province), 63);
        assert_eq!(count(HierarchyVersion::V2024, UnitKind::District), 696);
        assert_eq!(count(HierarchyVersion::V2024, UnitKind::Commune), 10_035);
        assert_eq!(count(HierarchyVersion::V2025, UnitKind::Province), 34);
        assert_eq!(count(HierarchyVersion::V2025, UnitKind::Commune), 3_321);
        for u in &units {
            admin::check_type(u.kind, &u.type_word).unwrap();
        }
        assert_eq!(records(&gunzip(LINEAGE)).len(), 10_570);
        assert_eq!(records(ETHNIC).len(), 54);
    }

    #[test]
    fn seed_indicators_are_valid_and_formulas_resolve() {
        let inds = seed_indicators().unwrap();
        let codes: Vec<&str> = inds.iter().map(|i| i.code.as_str()).collect();
        for i in &inds {
            assert!(i.validate().is_empty(), "{}: {}", i.code, i.validate());
            if let Some(Ok(f)) = i.parsed_formula() {
                for r in f.references() {
                    assert!(
                        codes.contains(&r.as_str()),
                        "{} refers to unknown {r}",
                        i.code
                    );
                }
            }
            if let Some(w) = &i.weight_indicator {
                assert!(codes.contains(&w.as_str()));
            }
        }
        assert!(codes.contains(&"0101"));
    }
}

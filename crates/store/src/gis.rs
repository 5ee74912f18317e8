//! Geometry of administrative units and points of villages (issue #6): the boundaries compiled
//! into the binary and stored in the database on first start, the join report, a province's
//! own boundaries and village points imported from files, and the spatial queries — which
//! units hold a point, which lie near it, which villages lie inside a unit, and pages of
//! features for OGC API – Features.
//!
//! No spatial extension on either engine: `unit_geometry` keeps each boundary as GeoJSON text
//! with its bounding box, centroid and area in columns; a query narrows by the box in SQL, then
//! [`dantoc_domain::geo`] makes the exact test in Rust. Geometry lives in the database, not in
//! memory: a server holds only the rows of the request it answers.

use crate::audit::{self, Actor};
use crate::db::{Backend, Conn, Db, Row, Val};
use crate::error::StoreError;
use crate::units;
use dantoc_domain::admin::{HierarchyVersion, UnitKind};
use dantoc_domain::geo::{self, Bbox, Boundary};
use dantoc_domain::text::clean;
use dantoc_domain::{FieldError, Problems};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};

/// Bump when the boundary seed files change: databases then replace the seed boundaries
/// (those a province imported stay).
pub const SEED_ID: &str = "boundaries-2025-07-01/v1";

/// A boundary seed file: `code<TAB>source<TAB>geometry` per line, gzipped, written by
/// `scripts/build-geo-seed.py`. Decompressed only while it is loaded into the database.
struct SeedLayer {
    version: HierarchyVersion,
    kind: UnitKind,
    bytes: &'static [u8],
}

const SEED_LAYERS: [SeedLayer; 3] = [
    SeedLayer {
        version: HierarchyVersion::V2025,
        kind: UnitKind::Province,
        bytes: include_bytes!("../seed/geo_provinces_2025.tsv.gz"),
    },
    SeedLayer {
        version: HierarchyVersion::V2025,
        kind: UnitKind::Commune,
        bytes: include_bytes!("../seed/geo_communes_2025.tsv.gz"),
    },
    SeedLayer {
        version: HierarchyVersion::V2024,
        kind: UnitKind::Province,
        bytes: include_bytes!("../seed/geo_provinces_2024.tsv.gz"),
    },
];

const GEOMETRY_COLS: [&str; 15] = [
    "unit_id",
    "geojson",
    "minx",
    "miny",
    "maxx",
    "maxy",
    "centroid_lon",
    "centroid_lat",
    "area_km2",
    "vertices",
    "source",
    "repaired",
    "repair_note",
    "reoriented",
    "updated_at",
];

fn geometry_row(unit_id: i64, b: &Boundary, source: &str, now: &str) -> Vec<Val> {
    crate::params_vec![
        unit_id,
        geo::to_geojson(&b.shape),
        b.bbox.minx,
        b.bbox.miny,
        b.bbox.maxx,
        b.bbox.maxy,
        b.centroid.0,
        b.centroid.1,
        b.area_km2,
        b.vertices as i64,
        source,
        b.repaired.is_some() as i64,
        b.repaired.clone().unwrap_or_default(),
        b.reoriented as i64,
        now
    ]
}

/// What loading the boundary seed did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeedSummary {
    pub stored: usize,
    /// Codes in the seed files with no unit of that version and kind (expected: none).
    pub unknown: Vec<String>,
    /// Boundaries rebuilt because they were invalid: code and what was wrong.
    pub repaired: Vec<(String, String)>,
    pub reoriented: usize,
    /// Boundaries whose centroid fell outside them (a point inside is stored instead).
    pub centroids_moved: usize,
    pub seconds: f64,
}

fn meta(c: &mut dyn Conn, key: &str) -> Result<Option<String>, StoreError> {
    Ok(
        c.query_one("SELECT value FROM meta WHERE key = $1", &[key.into()])?
            .map(|r| r.str(0)),
    )
}

fn set_meta(c: &mut dyn Conn, key: &str, value: &str) -> Result<(), StoreError> {
    c.execute("DELETE FROM meta WHERE key = $1", &[key.into()])?;
    c.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2)",
        &[key.into(), value.into()],
    )?;
    Ok(())
}

/// Mark the stored boundaries as changed: a new random stamp (see [`collection_ids`]).
fn new_geometry_stamp(c: &mut dyn Conn) -> Result<(), StoreError> {
    set_meta(c, "geometry_stamp", &crate::secret::random_hex(16))
}

/// The units of a collection that have a boundary, in code order, as last read under a
/// geometry stamp. Boundaries change only here (the seed's load, imports), each time with a
/// new stamp, so a server answers pages from this list — a look-up of the stamp — instead of
/// counting (SQLite) or sorting (PostgreSQL) the collection for every page.
type IdsByCollection = HashMap<(String, String, Option<String>), std::sync::Arc<Vec<i64>>>;
static COLLECTION_IDS: std::sync::Mutex<Option<IdsByCollection>> = std::sync::Mutex::new(None);

fn collection_ids(
    c: &mut dyn Conn,
    col: Collection,
    q: &FeatureQuery,
) -> Result<std::sync::Arc<Vec<i64>>, StoreError> {
    let key = meta(c, "geometry_stamp")?.map(|s| (s, col.id(), q.province.clone()));
    if let Some(k) = &key
        && let Some(ids) = COLLECTION_IDS
            .lock()
            .ok()
            .and_then(|m| m.as_ref().and_then(|m| m.get(k).cloned()))
    {
        return Ok(ids);
    }
    let (filter, p) = unit_filter(col, q);
    let ids: std::sync::Arc<Vec<i64>> = std::sync::Arc::new(
        c.query(
            &format!(
                "SELECT u.id FROM admin_unit u JOIN unit_geometry g ON g.unit_id = u.id
                 WHERE {filter} ORDER BY {}",
                code_order(c)
            ),
            &p,
        )?
        .iter()
        .map(|r| r.i64(0))
        .collect(),
    );
    if let (Some(k), Ok(mut m)) = (key, COLLECTION_IDS.lock()) {
        let m = m.get_or_insert_with(HashMap::new);
        if m.len() >= 256 {
            m.clear();
        }
        m.insert(k, ids.clone());
    }
    Ok(ids)
}

/// Store the boundaries compiled into the binary unless this seed is stored already (after the
/// reference units: [`crate::open`] calls it). Returns what it did when it loaded. A newer seed
/// replaces the boundaries of the older one and keeps those a province imported.
pub fn load_seed(db: &Db) -> Result<Option<SeedSummary>, StoreError> {
    if db.read(|c| meta(c, "geometry_seed"))?.as_deref() == Some(SEED_ID) {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    // on a thread of its own: what the check and the load allocate comes from that thread's
    // heap arena, all of it free again at the end (a long-lived server gives it back with
    // malloc_trim), instead of being scattered through the main heap
    let summary = std::thread::scope(|scope| {
        scope
            .spawn(|| load_seed_now(db))
            .join()
            .unwrap_or_else(|_| Err(StoreError::Io("the boundary load panicked".into())))
    })?;
    // the writer's page cache holds the pages just written: give them back
    db.release_memory();
    Ok(summary.map(|mut s| {
        s.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            stored = s.stored,
            repaired = s.repaired.len(),
            reoriented = s.reoriented,
            centroids_moved = s.centroids_moved,
            unknown = s.unknown.len(),
            "boundaries stored in {:.1} s",
            s.seconds
        );
        for (code, why) in &s.repaired {
            tracing::info!("boundary of {code} repaired: {why}");
        }
        if !s.unknown.is_empty() {
            tracing::warn!(
                "boundaries of unknown units skipped: {}",
                s.unknown.join(", ")
            );
        }
        s
    }))
}

fn load_seed_now(db: &Db) -> Result<Option<SeedSummary>, StoreError> {
    db.write(|c| {
        if c.backend() == Backend::Postgres {
            c.query("SELECT pg_advisory_xact_lock(4242006)", &[])?;
        }
        let loaded = meta(c, "geometry_seed")?;
        if loaded.as_deref() == Some(SEED_ID) {
            return Ok(None);
        }
        if loaded.is_some() {
            c.execute(
                "DELETE FROM unit_geometry WHERE source NOT LIKE 'import:%'",
                &[],
            )?;
        }
        let kept: HashSet<i64> = c
            .query("SELECT unit_id FROM unit_geometry", &[])?
            .iter()
            .map(|r| r.i64(0))
            .collect();
        let mut s = SeedSummary::default();
        let now = crate::clock::now();
        for layer in &SEED_LAYERS {
            let ids = unit_ids(c, layer.version, Some(layer.kind))?;
            let reader = BufReader::new(flate2::read::GzDecoder::new(layer.bytes));
            let mut rows = Vec::with_capacity(100);
            for line in reader.lines().skip(1) {
                let line = line.map_err(|e| StoreError::Io(format!("boundary seed: {e}")))?;
                let mut parts = line.splitn(3, '\t');
                let (Some(code), Some(source), Some(json)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(StoreError::Io(format!("boundary seed: bad line {line:?}")));
                };
                let Some(&(id, _)) = ids.get(code) else {
                    s.unknown.push(format!("{code}@{}", layer.version));
                    continue;
                };
                if kept.contains(&id) {
                    continue;
                }
                let b = geo::parse_shape(json)
                    .and_then(geo::check)
                    .map_err(|e| StoreError::Io(format!("boundary seed {code}: {e}")))?;
                if let Some(why) = &b.repaired {
                    s.repaired
                        .push((format!("{code}@{}", layer.version), why.clone()));
                }
                s.reoriented += b.reoriented as usize;
                s.centroids_moved += b.centroid_moved as usize;
                rows.push(geometry_row(id, &b, source, &now));
                if rows.len() == 100 {
                    s.stored += c.insert_many("unit_geometry", &GEOMETRY_COLS, &rows, "")? as usize;
                    rows.clear();
                }
            }
            s.stored += c.insert_many("unit_geometry", &GEOMETRY_COLS, &rows, "")? as usize;
        }
        set_meta(c, "geometry_seed", SEED_ID)?;
        new_geometry_stamp(c)?;
        if c.backend() == Backend::Postgres {
            // planner statistics now, not at autovacuum's next round: pages of features sort
            // and join the units as their numbers ask
            c.batch("ANALYZE admin_unit; ANALYZE unit_geometry")?;
        }
        Ok(Some(s))
    })
}

/// Code → (id, kind) of the units of a version (of one kind, or every kind but villages).
fn unit_ids(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    kind: Option<UnitKind>,
) -> Result<HashMap<String, (i64, UnitKind)>, StoreError> {
    let rows = match kind {
        Some(k) => c.query(
            "SELECT code, id, kind FROM admin_unit WHERE version = $1 AND kind = $2",
            &[v.as_str().into(), k.as_str().into()],
        )?,
        None => c.query(
            "SELECT code, id, kind FROM admin_unit WHERE version = $1 AND kind <> 'village'",
            &[v.as_str().into()],
        )?,
    };
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.str(0),
                (r.i64(1), r.str(2).parse().unwrap_or(UnitKind::Commune)),
            )
        })
        .collect())
}

// ---------------------------------------------------------------- the join report

/// How many units of one version and kind have a boundary.
#[derive(Debug, Clone, Serialize)]
pub struct LayerJoin {
    pub version: HierarchyVersion,
    pub kind: UnitKind,
    pub units: i64,
    pub with_geometry: i64,
    /// `with_geometry / units`, 0 to 1.
    pub rate: f64,
    /// Codes of the units without a boundary (the first 200).
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Repair {
    pub code: String,
    pub version: HierarchyVersion,
    pub source: String,
    pub problem: String,
}

/// Boundaries joined to units by code, per version and kind, and what was repaired.
#[derive(Debug, Clone, Serialize)]
pub struct JoinReport {
    /// The boundary seed stored in this database.
    pub seed: Option<String>,
    pub layers: Vec<LayerJoin>,
    pub repaired: Vec<Repair>,
    pub reoriented: i64,
    /// Boundaries by source (seed file or imported file).
    pub sources: Vec<(String, i64)>,
    pub villages: i64,
    /// Villages with coordinates of their own.
    pub villages_located: i64,
    /// Villages placed at their commune's centroid (stored so, or without a point at all).
    pub villages_geocoded: i64,
}

pub fn report(c: &mut dyn Conn) -> Result<JoinReport, StoreError> {
    let mut layers = vec![];
    for r in c.query(
        "SELECT u.version, u.kind, count(*), count(g.unit_id), min(u.level)
         FROM admin_unit u LEFT JOIN unit_geometry g ON g.unit_id = u.id
         WHERE u.kind <> 'village' GROUP BY u.version, u.kind ORDER BY u.version DESC, min(u.level)",
        &[],
    )? {
        let (version, kind): (HierarchyVersion, UnitKind) = match (r.str(0).parse(), r.str(1).parse()) {
            (Ok(v), Ok(k)) => (v, k),
            _ => continue,
        };
        let (units, with) = (r.i64(2), r.i64(3));
        let missing = c
            .query(
                "SELECT u.code FROM admin_unit u LEFT JOIN unit_geometry g ON g.unit_id = u.id
                 WHERE u.version = $1 AND u.kind = $2 AND g.unit_id IS NULL ORDER BY u.code LIMIT 200",
                &[version.as_str().into(), kind.as_str().into()],
            )?
            .iter()
            .map(|r| r.str(0))
            .collect();
        layers.push(LayerJoin {
            version,
            kind,
            units,
            with_geometry: with,
            rate: if units > 0 { with as f64 / units as f64 } else { 0.0 },
            missing,
        });
    }
    let repaired = c
        .query(
            "SELECT u.code, u.version, g.source, g.repair_note FROM unit_geometry g
             JOIN admin_unit u ON u.id = g.unit_id WHERE g.repaired = 1 ORDER BY u.version, u.code",
            &[],
        )?
        .iter()
        .map(|r| Repair {
            code: r.str(0),
            version: r.str(1).parse().unwrap_or(HierarchyVersion::CURRENT),
            source: r.str(2),
            problem: r.str(3),
        })
        .collect();
    let reoriented = c.scalar_i64(
        "SELECT count(*) FROM unit_geometry WHERE reoriented = 1",
        &[],
    )?;
    let sources = c
        .query(
            "SELECT source, count(*) FROM unit_geometry GROUP BY source ORDER BY source",
            &[],
        )?
        .iter()
        .map(|r| (r.str(0), r.i64(1)))
        .collect();
    let v = c
        .query(
            "SELECT count(*), count(p.unit_id),
                    coalesce(sum(CASE WHEN p.geocoded = 0 THEN 1 ELSE 0 END), 0)
             FROM admin_unit u LEFT JOIN village_point p ON p.unit_id = u.id WHERE u.kind = 'village'",
            &[],
        )?
        .into_iter()
        .next();
    let (villages, located) = v.map(|r| (r.i64(0), r.i64(2))).unwrap_or((0, 0));
    Ok(JoinReport {
        seed: meta(c, "geometry_seed")?,
        layers,
        repaired,
        reoriented,
        sources,
        villages,
        villages_located: located,
        villages_geocoded: villages - located,
    })
}

impl JoinReport {
    /// The report as plain text, one line per layer.
    pub fn text(&self) -> String {
        let mut out = format!(
            "boundary seed: {}\n",
            self.seed.as_deref().unwrap_or("not loaded")
        );
        for l in &self.layers {
            out.push_str(&format!(
                "{} {:<8} {:>6} / {:>6} with a boundary ({:.1} %)",
                l.version,
                l.kind.as_str(),
                l.with_geometry,
                l.units,
                l.rate * 100.0
            ));
            let without = l.units - l.with_geometry;
            if without > 0 && l.with_geometry == 0 {
                out.push_str(" — no boundaries in the seed or imported for this tier");
            } else if without > 0 {
                out.push_str(&format!(" — without: {}", l.missing.join(", ")));
                if without as usize > l.missing.len() {
                    out.push_str(&format!(
                        " … and {} more",
                        without as usize - l.missing.len()
                    ));
                }
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "repaired (invalid as given, rebuilt with MakeValid): {}\n",
            self.repaired.len()
        ));
        for r in &self.repaired {
            out.push_str(&format!(
                "  {}@{} ({}): {}\n",
                r.code, r.version, r.source, r.problem
            ));
        }
        out.push_str(&format!("re-oriented rings: {}\n", self.reoriented));
        for (s, n) in &self.sources {
            out.push_str(&format!("source {s}: {n}\n"));
        }
        out.push_str(&format!(
            "villages: {} ({} with coordinates, {} at their commune's centroid)\n",
            self.villages, self.villages_located, self.villages_geocoded
        ));
        out
    }
}

// ---------------------------------------------------------------- features

/// A layer served as an OGC API – Features collection: the units of one version and kind
/// (polygons), or the villages of one version (points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    pub version: HierarchyVersion,
    pub kind: UnitKind,
}

impl Collection {
    /// Collections always listed, even while empty.
    pub const STANDARD: [Collection; 4] = [
        Collection {
            version: HierarchyVersion::V2025,
            kind: UnitKind::Province,
        },
        Collection {
            version: HierarchyVersion::V2025,
            kind: UnitKind::Commune,
        },
        Collection {
            version: HierarchyVersion::V2024,
            kind: UnitKind::Province,
        },
        Collection {
            version: HierarchyVersion::V2025,
            kind: UnitKind::Village,
        },
    ];

    /// `units-2025-commune`, `villages` (2025), `villages-2024`.
    pub fn id(&self) -> String {
        match (self.kind, self.version) {
            (UnitKind::Village, HierarchyVersion::V2025) => "villages".into(),
            (UnitKind::Village, v) => format!("villages-{v}"),
            (k, v) => format!("units-{v}-{}", k.as_str()),
        }
    }

    pub fn parse(id: &str) -> Option<Collection> {
        if id == "villages" {
            return Some(Collection {
                version: HierarchyVersion::V2025,
                kind: UnitKind::Village,
            });
        }
        if let Some(v) = id.strip_prefix("villages-") {
            return matches!(v, "2024" | "2025").then(|| Collection {
                version: v.parse().unwrap_or(HierarchyVersion::CURRENT),
                kind: UnitKind::Village,
            });
        }
        let rest = id.strip_prefix("units-")?;
        let (v, k) = rest.split_once('-')?;
        if !matches!(v, "2024" | "2025") {
            return None;
        }
        let kind: UnitKind = k.parse().ok()?;
        if kind == UnitKind::Village || (kind == UnitKind::District && v == "2025") {
            return None;
        }
        Some(Collection {
            version: v.parse().ok()?,
            kind,
        })
    }

    pub fn is_points(&self) -> bool {
        self.kind == UnitKind::Village
    }

    pub fn title_vi(&self) -> String {
        let when = match self.version {
            HierarchyVersion::V2025 => "từ 01/07/2025",
            HierarchyVersion::V2024 => "trước 01/07/2025",
        };
        format!("{} ({when})", self.kind.label_vi())
    }

    pub fn title_en(&self) -> String {
        let when = match self.version {
            HierarchyVersion::V2025 => "from 1 July 2025",
            HierarchyVersion::V2024 => "before 1 July 2025",
        };
        let what = match self.kind {
            UnitKind::Province => "Provinces",
            UnitKind::District => "Districts",
            UnitKind::Commune => "Communes, wards and special zones",
            UnitKind::Village => "Villages (points)",
        };
        format!("{what} {when}")
    }
}

/// A collection with its number of features and their extent.
#[derive(Debug, Clone)]
pub struct CollectionInfo {
    pub collection: Collection,
    pub features: i64,
    pub extent: Option<Bbox>,
}

/// The standard collections and any other version/kind that has features.
pub fn collections(c: &mut dyn Conn) -> Result<Vec<CollectionInfo>, StoreError> {
    let mut out: Vec<CollectionInfo> = vec![];
    for r in c.query(
        "SELECT u.version, u.kind, count(*), min(g.minx), min(g.miny), max(g.maxx), max(g.maxy)
         FROM unit_geometry g JOIN admin_unit u ON u.id = g.unit_id GROUP BY u.version, u.kind",
        &[],
    )? {
        if let (Ok(version), Ok(kind)) = (r.str(0).parse(), r.str(1).parse()) {
            out.push(CollectionInfo {
                collection: Collection { version, kind },
                features: r.i64(2),
                extent: extent(&r, 3),
            });
        }
    }
    for r in c.query(
        &format!(
            "SELECT v.version, count(*), min({LON}), min({LAT}), max({LON}), max({LAT})
             {VILLAGE_FROM} WHERE v.kind = 'village' AND {LON} IS NOT NULL GROUP BY v.version"
        ),
        &[],
    )? {
        if let Ok(version) = r.str(0).parse() {
            out.push(CollectionInfo {
                collection: Collection {
                    version,
                    kind: UnitKind::Village,
                },
                features: r.i64(1),
                extent: extent(&r, 2),
            });
        }
    }
    for s in Collection::STANDARD {
        if !out.iter().any(|i| i.collection == s) {
            out.push(CollectionInfo {
                collection: s,
                features: 0,
                extent: None,
            });
        }
    }
    let rank = |c: &Collection| {
        Collection::STANDARD
            .iter()
            .position(|s| s == c)
            .unwrap_or(usize::MAX)
    };
    out.sort_by_key(|i| {
        (
            rank(&i.collection),
            std::cmp::Reverse(i.collection.version),
            i.collection.kind.level(i.collection.version),
        )
    });
    Ok(out)
}

fn extent(r: &Row, at: usize) -> Option<Bbox> {
    Some(Bbox {
        minx: r.opt_f64(at)?,
        miny: r.opt_f64(at + 1)?,
        maxx: r.opt_f64(at + 2)?,
        maxy: r.opt_f64(at + 3)?,
    })
}

/// A village's point: its own, else its commune's centroid.
const LON: &str = "coalesce(p.lon, g.centroid_lon)";
const LAT: &str = "coalesce(p.lat, g.centroid_lat)";
const VILLAGE_FROM: &str = "FROM admin_unit v LEFT JOIN village_point p ON p.unit_id = v.id
     LEFT JOIN unit_geometry g ON g.unit_id = v.parent_id";

/// One feature: a unit with its boundary, or a village with its point.
#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    #[serde(skip)]
    pub id: i64,
    pub code: String,
    pub version: HierarchyVersion,
    pub name: String,
    pub full_name: String,
    #[serde(rename = "type")]
    pub type_word: String,
    pub kind: UnitKind,
    pub level: i64,
    pub parent_code: Option<String>,
    pub province_code: String,
    /// Units: geodesic area of the boundary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_km2: Option<f64>,
    /// Units: the centroid (inside the boundary); villages: the point.
    pub lon: f64,
    pub lat: f64,
    /// Villages: placed at the commune's centroid for want of coordinates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geocoded: Option<bool>,
    /// Where the boundary or point comes from.
    pub source: String,
    /// The GeoJSON geometry, as stored.
    #[serde(skip)]
    pub geometry: String,
}

const UNIT_COLS: &str = "u.id, u.code, u.version, u.name, u.full_name, u.type, u.kind, u.level, \
    pa.code, u.province_code, g.area_km2, g.centroid_lon, g.centroid_lat, g.source, g.geojson";
const UNIT_FROM: &str = "FROM admin_unit u JOIN unit_geometry g ON g.unit_id = u.id \
    LEFT JOIN admin_unit pa ON pa.id = u.parent_id";

fn unit_feature(r: &Row) -> Feature {
    Feature {
        id: r.i64(0),
        code: r.str(1),
        version: r.str(2).parse().unwrap_or(HierarchyVersion::CURRENT),
        name: r.str(3),
        full_name: r.str(4),
        type_word: r.str(5),
        kind: r.str(6).parse().unwrap_or(UnitKind::Commune),
        level: r.i64(7),
        parent_code: r.opt_str(8),
        province_code: r.str(9),
        area_km2: Some((r.f64(10) * 1000.0).round() / 1000.0),
        lon: r.f64(11),
        lat: r.f64(12),
        geocoded: None,
        source: r.str(13),
        geometry: r.opt_str(14).unwrap_or_default(),
    }
}

fn village_cols() -> String {
    format!(
        "v.id, v.code, v.version, v.name, v.full_name, v.type, v.kind, v.level, pa.code, \
         v.province_code, {LON}, {LAT}, CASE WHEN p.unit_id IS NULL THEN 1 ELSE p.geocoded END, \
         coalesce(p.source, 'commune centroid')"
    )
}

fn village_from() -> String {
    format!("{VILLAGE_FROM} LEFT JOIN admin_unit pa ON pa.id = v.parent_id")
}

fn village_feature(r: &Row) -> Feature {
    let (lon, lat) = (r.f64(10), r.f64(11));
    Feature {
        id: r.i64(0),
        code: r.str(1),
        version: r.str(2).parse().unwrap_or(HierarchyVersion::CURRENT),
        name: r.str(3),
        full_name: r.str(4),
        type_word: r.str(5),
        kind: UnitKind::Village,
        level: r.i64(7),
        parent_code: r.opt_str(8),
        province_code: r.str(9),
        area_km2: None,
        lon,
        lat,
        geocoded: Some(r.bool(12)),
        source: r.str(13),
        geometry: geo::point_json(lon, lat),
    }
}

/// Which features of a collection, and which page of them.
#[derive(Debug, Clone, Default)]
pub struct FeatureQuery {
    /// Only features meeting this box (exactly: the boundary, not just its box).
    pub bbox: Option<Bbox>,
    /// Only units of this province (its code in the collection's version).
    pub province: Option<String>,
    pub offset: usize,
    /// `None`: every feature.
    pub limit: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct FeaturePage {
    /// Features matching the query, on every page.
    pub matched: usize,
    pub features: Vec<Feature>,
}

/// `col >= … AND col <= …` for the box columns, with the parameters.
fn bbox_sql(b: &Bbox, x: (&str, &str), y: (&str, &str), p: &mut Vec<Val>) -> String {
    let mut n = |v: f64| {
        p.push(Val::Real(v));
        format!("${}", p.len())
    };
    let (miny, maxy) = (n(b.miny), n(b.maxy));
    let (minx, maxx) = (n(b.minx), n(b.maxx));
    let lon = if b.crosses_antimeridian() {
        format!("({} >= {minx} OR {} <= {maxx})", x.1, x.0)
    } else {
        format!("{} >= {minx} AND {} <= {maxx}", x.1, x.0)
    };
    format!("{} >= {miny} AND {} <= {maxy} AND {lon}", y.1, y.0)
}

fn page_of(ids: &[i64], q: &FeatureQuery) -> Vec<i64> {
    ids.iter()
        .skip(q.offset)
        .take(q.limit.unwrap_or(usize::MAX))
        .copied()
        .collect()
}

/// A page of a collection's features, in code order, each with its geometry copied out (the
/// GeoJSON download, spatial answers). Pages of OGC API items are written as they are read
/// instead: [`plan_page`], [`page_codes`], [`each_feature`].
pub fn features(
    c: &mut dyn Conn,
    col: Collection,
    q: &FeatureQuery,
) -> Result<FeaturePage, StoreError> {
    if col.is_points() {
        return village_features(c, col, q);
    }
    let plan = plan_page(c, col, q)?;
    let mut features = Vec::with_capacity(plan.len(q));
    each_feature(c, col, q, &plan, &mut |f, geometry| {
        features.push(Feature {
            geometry: geometry.to_string(),
            ..f.clone()
        });
        Ok(())
    })?;
    Ok(FeaturePage {
        matched: plan.matched,
        features,
    })
}

/// Which units a page of a units collection holds: how many match in all, and — with a
/// `bbox`, or on PostgreSQL — the ids of the page, in code order (boxes narrowed in SQL, then
/// tested exactly). Without a box SQLite reads the page in code order straight from the index
/// `admin_unit (version, kind, code)` with `LIMIT`/`OFFSET`.
#[derive(Debug, Clone)]
pub struct PagePlan {
    pub matched: usize,
    ids: Option<Vec<i64>>,
}

impl PagePlan {
    /// Features on the page.
    pub fn len(&self, q: &FeatureQuery) -> usize {
        match &self.ids {
            Some(ids) => ids.len(),
            None => self
                .matched
                .saturating_sub(q.offset)
                .min(q.limit.unwrap_or(usize::MAX)),
        }
    }

    pub fn is_empty(&self, q: &FeatureQuery) -> bool {
        self.len(q) == 0
    }
}

/// `u.version = $1 AND u.kind = $2 [AND u.province_code = $3]` with its parameters.
fn unit_filter(col: Collection, q: &FeatureQuery) -> (String, Vec<Val>) {
    let mut p: Vec<Val> = vec![col.version.as_str().into(), col.kind.as_str().into()];
    let mut filter = "u.version = $1 AND u.kind = $2".to_string();
    if let Some(pr) = &q.province {
        p.push(pr.as_str().into());
        filter.push_str(&format!(" AND u.province_code = ${}", p.len()));
    }
    (filter, p)
}

/// ` LIMIT … OFFSET …` of a page (SQLite wants a limit before an offset).
fn limit_sql(q: &FeatureQuery) -> String {
    let mut out = format!(" LIMIT {}", q.limit.map_or(i64::MAX, |l| l as i64));
    if q.offset > 0 {
        out.push_str(&format!(" OFFSET {}", q.offset));
    }
    out
}

/// How many units match and, with a box, the page's ids (see [`PagePlan`]). Units collections
/// only (villages: [`features`]).
pub fn plan_page(
    c: &mut dyn Conn,
    col: Collection,
    q: &FeatureQuery,
) -> Result<PagePlan, StoreError> {
    let (filter, mut p) = unit_filter(col, q);
    let order = code_order(c);
    let Some(bbox) = q.bbox else {
        let ids = collection_ids(c, col, q)?;
        return Ok(PagePlan {
            matched: ids.len(),
            // SQLite reads the page in code order from the index itself; PostgreSQL, asked
            // for rows in code order with a limit, would sort every wide row of the collection
            // (its planner expects a fifth of the units to have a boundary, as a fifth of all
            // units have one): the page's ids, then a key look-up per unit
            ids: (c.backend() == Backend::Postgres).then(|| page_of(&ids, q)),
        });
    };
    // boxes that meet the query's box; then the exact test for those not wholly inside it
    let cond = bbox_sql(&bbox, ("g.minx", "g.maxx"), ("g.miny", "g.maxy"), &mut p);
    let candidates = c.query(
        &format!(
            "SELECT g.unit_id, g.minx, g.miny, g.maxx, g.maxy FROM unit_geometry g
             JOIN admin_unit u ON u.id = g.unit_id WHERE {filter} AND {cond} ORDER BY {order}"
        ),
        &p,
    )?;
    let unsure: Vec<i64> = candidates
        .iter()
        .filter(|r| {
            !bbox.contains_box(&Bbox {
                minx: r.f64(1),
                miny: r.f64(2),
                maxx: r.f64(3),
                maxy: r.f64(4),
            })
        })
        .map(|r| r.i64(0))
        .collect();
    let mut outside = HashSet::new();
    for chunk in unsure.chunks(500) {
        for r in c.query(
            &format!(
                "SELECT unit_id, geojson FROM unit_geometry WHERE unit_id IN ({})",
                crate::db::id_list(chunk.iter().copied())
            ),
            &[],
        )? {
            let meets = geo::parse_shape(&r.str(1))
                .map(|s| bbox.meets(&s))
                .unwrap_or(false);
            if !meets {
                outside.insert(r.i64(0));
            }
        }
    }
    let ids: Vec<i64> = candidates
        .iter()
        .map(|r| r.i64(0))
        .filter(|i| !outside.contains(i))
        .collect();
    Ok(PagePlan {
        matched: ids.len(),
        ids: Some(page_of(&ids, q)),
    })
}

/// The codes of a page's units, in code order (for the pivot of its figures).
pub fn page_codes(
    c: &mut dyn Conn,
    col: Collection,
    q: &FeatureQuery,
    plan: &PagePlan,
) -> Result<Vec<String>, StoreError> {
    let rows = match &plan.ids {
        Some(ids) => {
            let mut out = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(2000) {
                let found: HashMap<i64, String> = c
                    .query(
                        &format!(
                            "SELECT id, code FROM admin_unit WHERE id IN ({})",
                            crate::db::id_list(chunk.iter().copied())
                        ),
                        &[],
                    )?
                    .iter()
                    .map(|r| (r.i64(0), r.str(1)))
                    .collect();
                out.extend(chunk.iter().filter_map(|i| found.get(i).cloned()));
            }
            return Ok(out);
        }
        None => {
            let (filter, p) = unit_filter(col, q);
            c.query(
                &format!(
                    "SELECT u.code FROM admin_unit u JOIN unit_geometry g ON g.unit_id = u.id
                     WHERE {filter} ORDER BY {}{}",
                    code_order(c),
                    limit_sql(q)
                ),
                &p,
            )?
        }
    };
    Ok(rows.iter().map(|r| r.str(0)).collect())
}

/// The units of a page in code order, each handed to `each` with its stored GeoJSON geometry
/// borrowed from the database's row (the feature's own `geometry` is left empty): a page of
/// 1,000 boundaries (up to 5 MB) is written as it is read, without a copy per boundary.
/// Returns how many were handed.
pub fn each_feature(
    c: &mut dyn Conn,
    col: Collection,
    q: &FeatureQuery,
    plan: &PagePlan,
    each: &mut dyn FnMut(&Feature, &str) -> Result<(), StoreError>,
) -> Result<usize, StoreError> {
    match &plan.ids {
        None => {
            let (filter, p) = unit_filter(col, q);
            let sql = format!(
                "SELECT {UNIT_COLS} {UNIT_FROM} WHERE {filter} ORDER BY {}{}",
                code_order(c),
                limit_sql(q)
            );
            each_unit_row(c, &sql, &p, each)
        }
        Some(ids) if ids.is_empty() => Ok(0),
        Some(ids) if c.backend() == Backend::Postgres => {
            // in the page's order, a key look-up per unit (`OFFSET 0` keeps the planner from
            // flattening the lateral into hash joins over every unit and boundary)
            let sql = format!(
                "SELECT x.* FROM unnest(string_to_array($1, ',')::bigint[]) WITH ORDINALITY AS p(id, n)
                 CROSS JOIN LATERAL (SELECT {UNIT_COLS} {UNIT_FROM} WHERE u.id = p.id OFFSET 0) x
                 ORDER BY p.n"
            );
            each_unit_row(
                c,
                &sql,
                &[crate::db::id_list(ids.iter().copied()).into()],
                each,
            )
        }
        Some(ids) => {
            // by id, then in the page's order: SQLite would sort the wide rows themselves
            let mut found: HashMap<i64, (Feature, String)> = HashMap::with_capacity(ids.len());
            for chunk in ids.chunks(2000) {
                let sql = format!(
                    "SELECT {UNIT_COLS} {UNIT_FROM} WHERE u.id IN ({})",
                    crate::db::id_list(chunk.iter().copied())
                );
                each_unit_row(c, &sql, &[], &mut |f, g| {
                    found.insert(f.id, (f.clone(), g.to_string()));
                    Ok(())
                })?;
            }
            let mut n = 0;
            for id in ids {
                if let Some((f, g)) = found.remove(id) {
                    each(&f, &g)?;
                    n += 1;
                }
            }
            Ok(n)
        }
    }
}

/// Rows of `SELECT {UNIT_COLS} …` read on the engine's own connection: the geometry (the last
/// column) as a `&str` into the row, the rest into a [`Feature`].
fn each_unit_row(
    c: &mut dyn Conn,
    sql: &str,
    params: &[Val],
    each: &mut dyn FnMut(&Feature, &str) -> Result<(), StoreError>,
) -> Result<usize, StoreError> {
    const GEOMETRY: usize = 14;
    let mut n = 0;
    if let Some(conn) = c.sqlite() {
        let mut st = conn.prepare_cached(&sql.replace('$', "?"))?;
        let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(GEOMETRY);
            for i in 0..GEOMETRY {
                use rusqlite::types::ValueRef;
                vals.push(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::Int(v),
                    ValueRef::Real(v) => Val::Real(v),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Val::Text(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            let f = unit_feature(&Row(vals));
            let geometry = match r.get_ref(GEOMETRY)? {
                rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)
                    .map_err(|e| StoreError::Io(format!("boundary of {}: {e}", f.code)))?,
                _ => "null",
            };
            each(&f, geometry)?;
            n += 1;
        }
        return Ok(n);
    }
    if let Some(client) = c.postgres() {
        use postgres::fallible_iterator::FallibleIterator;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let st = client.prepare(sql)?;
        let mut rows = client.query_raw(&st, refs)?;
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(GEOMETRY);
            for i in 0..GEOMETRY {
                vals.push(r.try_get::<_, Val>(i)?);
            }
            let f = unit_feature(&Row(vals));
            let geometry: &str = r.try_get(GEOMETRY)?;
            each(&f, geometry)?;
            n += 1;
        }
        return Ok(n);
    }
    // any other connection: through the portable rows
    for r in c.query(sql, params)? {
        let f = unit_feature(&r);
        each(&f, &r.str(GEOMETRY))?;
        n += 1;
    }
    Ok(n)
}

/// Code order, the same on both engines: bytes (codes are digits), not PostgreSQL's collation.
fn code_order(c: &dyn Conn) -> &'static str {
    match c.backend() {
        Backend::Sqlite => "u.code",
        Backend::Postgres => "u.code COLLATE \"C\"",
    }
}

fn village_features(
    c: &mut dyn Conn,
    col: Collection,
    q: &FeatureQuery,
) -> Result<FeaturePage, StoreError> {
    let mut p: Vec<Val> = vec![col.version.as_str().into()];
    let mut filter = format!("v.version = $1 AND v.kind = 'village' AND {LON} IS NOT NULL");
    if let Some(pr) = &q.province {
        p.push(pr.as_str().into());
        filter.push_str(&format!(" AND v.province_code = ${}", p.len()));
    }
    if let Some(b) = &q.bbox {
        let cond = bbox_sql(b, (LON, LON), (LAT, LAT), &mut p);
        filter.push_str(&format!(" AND {cond}"));
    }
    let matched = c.scalar_i64(
        &format!("SELECT count(*) {VILLAGE_FROM} WHERE {filter}"),
        &p,
    )? as usize;
    let mut sql = format!(
        "SELECT {} {} WHERE {filter} ORDER BY v.code",
        village_cols(),
        village_from()
    );
    if let Some(l) = q.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    if q.offset > 0 {
        sql.push_str(&format!(" OFFSET {}", q.offset));
    }
    let features = c.query(&sql, &p)?.iter().map(village_feature).collect();
    Ok(FeaturePage { matched, features })
}

/// One feature of a collection by its code.
pub fn feature(
    c: &mut dyn Conn,
    col: Collection,
    code: &str,
) -> Result<Option<Feature>, StoreError> {
    let p = [
        col.version.as_str().into(),
        col.kind.as_str().into(),
        code.into(),
    ];
    Ok(if col.is_points() {
        c.query_one(
            &format!(
                "SELECT {} {} WHERE v.version = $1 AND v.kind = $2 AND v.code = $3 AND {LON} IS NOT NULL",
                village_cols(),
                village_from()
            ),
            &p,
        )?
        .map(|r| village_feature(&r))
    } else {
        c.query_one(
            &format!(
                "SELECT {UNIT_COLS} {UNIT_FROM} WHERE u.version = $1 AND u.kind = $2 AND u.code = $3"
            ),
            &p,
        )?
        .map(|r| unit_feature(&r))
    })
}

// ---------------------------------------------------------------- spatial queries

/// The units of a version whose boundary holds the point (boundary included), province first.
pub fn units_at(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    lon: f64,
    lat: f64,
) -> Result<Vec<Feature>, StoreError> {
    let rows = c.query(
        &format!(
            "SELECT {UNIT_COLS} {UNIT_FROM} WHERE u.version = $1
             AND g.minx <= $2 AND g.maxx >= $2 AND g.miny <= $3 AND g.maxy >= $3
             ORDER BY u.level, u.code"
        ),
        &[v.as_str().into(), Val::Real(lon), Val::Real(lat)],
    )?;
    Ok(rows
        .iter()
        .map(unit_feature)
        .filter(|f| {
            geo::parse_shape(&f.geometry)
                .map(|s| geo::holds(&s, lon, lat))
                .unwrap_or(false)
        })
        .collect())
}

/// A feature and how far it is from a point.
#[derive(Debug, Clone, Serialize)]
pub struct Near {
    #[serde(flatten)]
    pub feature: Feature,
    pub distance_km: f64,
}

/// Units of a version (of one kind, or all) whose centroid — villages: whose point — lies
/// within `km` of the point, nearest first, at most `limit`.
pub fn units_near(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    lon: f64,
    lat: f64,
    km: f64,
    kind: Option<UnitKind>,
    limit: usize,
) -> Result<Vec<Near>, StoreError> {
    let (dlat, dlon) = geo::degrees_around(lat, km);
    let around = Bbox {
        minx: wrap(lon - dlon),
        miny: (lat - dlat).max(-90.0),
        maxx: wrap(lon + dlon),
        maxy: (lat + dlat).min(90.0),
    };
    let around = if dlon >= 180.0 {
        Bbox {
            minx: -180.0,
            maxx: 180.0,
            ..around
        }
    } else {
        around
    };
    let mut found = vec![];
    if kind != Some(UnitKind::Village) {
        let mut p: Vec<Val> = vec![v.as_str().into()];
        let mut filter = "u.version = $1".to_string();
        if let Some(k) = kind {
            p.push(k.as_str().into());
            filter.push_str(" AND u.kind = $2");
        }
        let cond = bbox_sql(
            &around,
            ("g.centroid_lon", "g.centroid_lon"),
            ("g.centroid_lat", "g.centroid_lat"),
            &mut p,
        );
        found.extend(
            c.query(
                &format!("SELECT {UNIT_COLS} {UNIT_FROM} WHERE {filter} AND {cond}"),
                &p,
            )?
            .iter()
            .map(unit_feature),
        );
    }
    if kind.is_none() || kind == Some(UnitKind::Village) {
        let mut p: Vec<Val> = vec![v.as_str().into()];
        let cond = bbox_sql(&around, (LON, LON), (LAT, LAT), &mut p);
        found.extend(
            c.query(
                &format!(
                    "SELECT {} {} WHERE v.version = $1 AND v.kind = 'village' AND {cond}",
                    village_cols(),
                    village_from()
                ),
                &p,
            )?
            .iter()
            .map(village_feature),
        );
    }
    let mut near: Vec<Near> = found
        .into_iter()
        .map(|f| Near {
            distance_km: (geo::distance_km((lon, lat), (f.lon, f.lat)) * 1000.0).round() / 1000.0,
            feature: f,
        })
        .filter(|n| n.distance_km <= km)
        .collect();
    near.sort_by(|a, b| {
        a.distance_km
            .total_cmp(&b.distance_km)
            .then_with(|| a.feature.code.cmp(&b.feature.code))
    });
    near.truncate(limit);
    Ok(near)
}

fn wrap(lon: f64) -> f64 {
    if lon > 180.0 {
        lon - 360.0
    } else if lon < -180.0 {
        lon + 360.0
    } else {
        lon
    }
}

/// The villages of a version whose point lies inside a unit's boundary (boundary included),
/// in code order. `NotFound` when the unit does not exist or has no boundary.
pub fn villages_in(
    c: &mut dyn Conn,
    v: HierarchyVersion,
    code: &str,
) -> Result<Vec<Feature>, StoreError> {
    let unit = units::require(c, v, code)?;
    let Some(r) = c.query_one(
        "SELECT g.geojson, g.minx, g.miny, g.maxx, g.maxy FROM unit_geometry g
         JOIN admin_unit u ON u.id = g.unit_id WHERE u.version = $1 AND u.code = $2",
        &[v.as_str().into(), code.into()],
    )?
    else {
        return Err(StoreError::NotFound(format!(
            "a boundary of {} ({code}) in the {v} hierarchy",
            unit.full_name
        )));
    };
    let shape = geo::parse_shape(&r.str(0)).map_err(StoreError::Io)?;
    let bbox = Bbox {
        minx: r.f64(1),
        miny: r.f64(2),
        maxx: r.f64(3),
        maxy: r.f64(4),
    };
    let mut p: Vec<Val> = vec![v.as_str().into()];
    let cond = bbox_sql(&bbox, (LON, LON), (LAT, LAT), &mut p);
    Ok(c.query(
        &format!(
            "SELECT {} {} WHERE v.version = $1 AND v.kind = 'village' AND {cond} ORDER BY v.code",
            village_cols(),
            village_from()
        ),
        &p,
    )?
    .iter()
    .map(village_feature)
    .filter(|f| geo::holds(&shape, f.lon, f.lat))
    .collect())
}

// ---------------------------------------------------------------- imports

/// How a province's boundary file is read.
#[derive(Debug, Clone)]
pub struct BoundaryImport {
    /// The hierarchy the codes belong to.
    pub version: HierarchyVersion,
    /// The feature property holding the unit code (`id`: the feature's own id).
    pub code_property: String,
    /// Recorded as the source (`import:NAME`) and in the audit log: the file name.
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BoundaryCount {
    /// Units whose boundary was replaced.
    pub replaced: usize,
    /// Units that had no boundary before.
    pub added: usize,
    pub repaired: Vec<(String, String)>,
    pub reoriented: usize,
    /// Villages placed at a commune's centroid that moved with the new boundary.
    pub villages_moved: usize,
}

fn parse_geojson(text: &str) -> Result<Vec<geojson::Feature>, StoreError> {
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e| StoreError::invalid(FieldError::new("file", format!("not GeoJSON: {e}"))))?;
    match gj {
        geojson::GeoJson::FeatureCollection(fc) => Ok(fc.features),
        geojson::GeoJson::Feature(f) => Ok(vec![f]),
        geojson::GeoJson::Geometry(_) => Err(StoreError::invalid(FieldError::new(
            "file",
            "a bare geometry: expected a FeatureCollection whose features carry the unit codes",
        ))),
    }
}

/// A property as text: strings as they are, whole numbers without a fraction.
fn property(f: &geojson::Feature, name: &str) -> Option<String> {
    if name == "id" {
        return match &f.id {
            Some(geojson::feature::Id::String(s)) => Some(clean(s)),
            Some(geojson::feature::Id::Number(n)) => Some(n.to_string()),
            None => None,
        };
    }
    match f.properties.as_ref()?.get(name)? {
        serde_json::Value::String(s) => Some(clean(s)).filter(|s| !s.is_empty()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A unit code as written: exact, else a number that lost its leading zeros (`6877` → `06877`).
fn find_unit<'a>(
    ids: &'a HashMap<String, (i64, UnitKind)>,
    code: &str,
) -> Option<(&'a str, (i64, UnitKind))> {
    if let Some((k, v)) = ids.get_key_value(code) {
        return Some((k.as_str(), *v));
    }
    if code.chars().all(|c| c.is_ascii_digit()) {
        for width in [2, 3, 5] {
            let padded = format!("{code:0>width$}");
            if let Some((k, v)) = ids.get_key_value(&padded) {
                return Some((k.as_str(), *v));
            }
        }
    }
    None
}

/// A province's own boundaries from a GeoJSON FeatureCollection, all or nothing: each feature
/// names its unit in `code_property`; every problem is reported with the feature's index.
/// Boundaries replace those stored; the import is audited.
pub fn import_boundaries(
    db: &Db,
    actor: &Actor,
    opts: &BoundaryImport,
    text: &str,
) -> Result<BoundaryCount, StoreError> {
    let feats = parse_geojson(text)?;
    if feats.is_empty() {
        return Err(StoreError::invalid(FieldError::new(
            "features",
            "the file has no features",
        )));
    }
    db.write(|c| {
        let ids = unit_ids(c, opts.version, None)?;
        let mut problems = Problems::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut checked: Vec<(String, i64, UnitKind, Boundary)> = vec![];
        for (i, f) in feats.iter().enumerate() {
            let field = format!("features[{i}].properties.{}", opts.code_property);
            let Some(code) = property(f, &opts.code_property) else {
                problems.push(FieldError::new(
                    field,
                    format!(
                        "feature {i} has no unit code in property {:?}",
                        opts.code_property
                    ),
                ));
                continue;
            };
            let Some((code, (id, kind))) = find_unit(&ids, &code) else {
                problems.push(
                    FieldError::new(
                        field,
                        format!(
                            "feature {i}: no unit with this code in the {} hierarchy",
                            opts.version
                        ),
                    )
                    .value(&code),
                );
                continue;
            };
            if let Some(first) = seen.insert(code.to_string(), i) {
                problems.push(
                    FieldError::new(
                        field,
                        format!("feature {i}: unit given twice (first in feature {first})"),
                    )
                    .value(code),
                );
                continue;
            }
            let shape = match &f.geometry {
                Some(g) => geo::shape_from(g),
                None => Err("the feature has no geometry".into()),
            };
            match shape.and_then(geo::check) {
                Ok(b) => checked.push((code.to_string(), id, kind, b)),
                Err(e) => problems.push(
                    FieldError::new(format!("features[{i}].geometry"), format!("feature {i}: {e}"))
                        .value(code),
                ),
            }
        }
        if !problems.is_empty() {
            return Err(StoreError::Invalid(problems));
        }
        let had: HashSet<i64> = c
            .query("SELECT unit_id FROM unit_geometry", &[])?
            .iter()
            .map(|r| r.i64(0))
            .collect();
        let source = format!("import:{}", opts.name);
        let now = crate::clock::now();
        let mut count = BoundaryCount::default();
        let mut rows = vec![];
        for (code, id, _, b) in &checked {
            if had.contains(id) {
                count.replaced += 1;
            } else {
                count.added += 1;
            }
            if let Some(why) = &b.repaired {
                count.repaired.push((code.clone(), why.clone()));
            }
            count.reoriented += b.reoriented as usize;
            rows.push(geometry_row(*id, b, &source, &now));
        }
        let all: Vec<i64> = checked.iter().map(|x| x.1).collect();
        for chunk in all.chunks(500) {
            c.execute(
                &format!("DELETE FROM unit_geometry WHERE unit_id IN ({})", crate::db::id_list(chunk.iter().copied())),
                &[],
            )?;
        }
        for chunk in rows.chunks(100) {
            c.insert_many("unit_geometry", &GEOMETRY_COLS, chunk, "")?;
        }
        // villages placed at a commune's centroid follow the commune's new boundary
        for (_, id, kind, b) in &checked {
            if *kind == UnitKind::Commune {
                count.villages_moved += c.execute(
                    "UPDATE village_point SET lon = $1, lat = $2, updated_at = $3
                     WHERE geocoded = 1 AND unit_id IN (SELECT id FROM admin_unit WHERE parent_id = $4)",
                    &[Val::Real(b.centroid.0), Val::Real(b.centroid.1), now.as_str().into(), Val::Int(*id)],
                )? as usize;
            }
        }
        new_geometry_stamp(c)?;
        let codes: Vec<&str> = checked.iter().map(|x| x.0.as_str()).collect();
        audit::record(
            c,
            actor,
            "import",
            "unit_geometry",
            &source,
            None,
            Some(&serde_json::json!({
                "version": opts.version,
                "units": codes,
                "replaced": count.replaced,
                "added": count.added,
                "repaired": count.repaired,
                "reoriented": count.reoriented,
            })),
        )?;
        Ok(count)
    })
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VillageCount {
    pub created: usize,
    /// Villages that existed and got a (new) point.
    pub located: usize,
    /// Without coordinates: placed at their commune's centroid.
    pub geocoded: usize,
    /// Villages whose given point lies outside their commune's boundary (stored all the same).
    pub outside: Vec<String>,
}

/// One village as read from a file, with where it was read (for errors).
struct VillageRow {
    at: String,
    row: Option<u64>,
    version: String,
    commune: String,
    code: String,
    name: String,
    type_word: String,
    point: Result<Option<(f64, f64)>, FieldError>,
}

fn village_rows_csv(bytes: &[u8]) -> Result<Vec<VillageRow>, StoreError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(body);
    let header: Vec<String> = r
        .headers()
        .map_err(|e| {
            StoreError::invalid(
                FieldError::new("header", format!("unreadable header: {e}")).at(1, None),
            )
        })?
        .iter()
        .map(|h| clean(h).to_lowercase())
        .collect();
    let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let (code, name, commune) = (
        col(&["code", "ma", "ma_thon"]),
        col(&["name", "ten"]),
        col(&["commune", "commune_code", "ma_xa"]),
    );
    let (lon, lat) = (
        col(&["lon", "lng", "longitude", "x"]),
        col(&["lat", "latitude", "y"]),
    );
    let (ty, version) = (col(&["type", "loai"]), col(&["version"]));
    let mut missing = vec![];
    for (c, n) in [(code, "code"), (name, "name"), (commune, "commune")] {
        if c.is_none() {
            missing.push(n);
        }
    }
    if !missing.is_empty() {
        return Err(StoreError::invalid(
            FieldError::new(
                "header",
                format!("missing column(s): {}", missing.join(", ")),
            )
            .at(1, None),
        ));
    }
    let mut out = vec![];
    for (i, rec) in r.records().enumerate() {
        let row = i as u64 + 2;
        let rec = rec.map_err(|e| {
            StoreError::invalid(
                FieldError::new("file", format!("unreadable CSV: {e}")).at(row, None),
            )
        })?;
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).map(clean).unwrap_or_default();
        let num = |c: Option<usize>, what: &str| -> Result<Option<f64>, FieldError> {
            let s = get(c);
            if s.is_empty() {
                return Ok(None);
            }
            s.replace(',', ".").parse::<f64>().map(Some).map_err(|_| {
                FieldError::new(what, "expected a number of degrees")
                    .value(&s)
                    .at(row, c.map(|c| c as u64 + 1))
            })
        };
        let point = match (num(lon, "lon"), num(lat, "lat")) {
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(Some(x)), Ok(Some(y))) => Ok(Some((x, y))),
            (Ok(None), Ok(None)) => Ok(None),
            (Ok(None), _) => Err(FieldError::new("lon", "a latitude without its longitude")
                .at(row, lon.map(|c| c as u64 + 1))),
            (_, Ok(None)) => Err(FieldError::new("lat", "a longitude without its latitude")
                .at(row, lat.map(|c| c as u64 + 1))),
        };
        out.push(VillageRow {
            at: String::new(),
            row: Some(row),
            version: get(version),
            commune: get(commune),
            code: get(code),
            name: get(name),
            type_word: get(ty),
            point,
        });
    }
    Ok(out)
}

fn village_rows_geojson(text: &str) -> Result<Vec<VillageRow>, StoreError> {
    let feats = parse_geojson(text)?;
    Ok(feats
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let get = |names: &[&str]| {
                names
                    .iter()
                    .find_map(|n| property(f, n))
                    .unwrap_or_default()
            };
            let point = match f.geometry.as_ref().map(|g| &g.value) {
                None => Ok(None),
                Some(geojson::GeometryValue::Point { coordinates }) if coordinates.len() >= 2 => {
                    Ok(Some((coordinates[0], coordinates[1])))
                }
                Some(_) => Err(FieldError::new(
                    format!("features[{i}].geometry"),
                    format!("feature {i}: a village is a Point (or no geometry: placed at its commune's centroid)"),
                )),
            };
            VillageRow {
                at: format!("features[{i}].properties."),
                row: None,
                version: get(&["version"]),
                commune: get(&["commune", "commune_code", "ma_xa"]),
                code: get(&["code", "ma", "ma_thon"]),
                name: get(&["name", "ten"]),
                type_word: get(&["type", "loai"]),
                point,
            }
        })
        .collect())
}

/// Villages with their points, from CSV (`code,name,commune,lon,lat`, optional `type` and
/// `version`) or a GeoJSON FeatureCollection of Points (the same properties), all or nothing.
/// A village not yet registered is created under its commune; one that exists gets the point.
/// Without coordinates, a village is placed at its commune's centroid and flagged `geocoded`.
/// `name` is the file name: `.geojson`/`.json` (or text starting with `{`) is read as GeoJSON.
pub fn import_villages(
    db: &Db,
    actor: &Actor,
    name: &str,
    bytes: &[u8],
) -> Result<VillageCount, StoreError> {
    let lower = name.to_lowercase();
    let text_start = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let rows =
        if lower.ends_with(".geojson") || lower.ends_with(".json") || text_start == Some(b'{') {
            let text = std::str::from_utf8(bytes).map_err(|e| {
                StoreError::invalid(FieldError::new("file", format!("not UTF-8 text: {e}")))
            })?;
            village_rows_geojson(text)?
        } else {
            village_rows_csv(bytes)?
        };
    let source = format!("import:{name}");
    db.write(|c| {
        let mut problems = Problems::default();
        let mut count = VillageCount::default();
        let now = crate::clock::now();
        let mut points: Vec<Vec<Val>> = vec![];
        for r in &rows {
            let locate = |e: FieldError| -> FieldError {
                let e = FieldError {
                    field: format!("{}{}", r.at, e.field),
                    ..e
                };
                match (r.row, e.row) {
                    (Some(row), None) => e.at(row, None),
                    _ => e,
                }
            };
            let v: HierarchyVersion = match r.version.as_str() {
                "" => HierarchyVersion::CURRENT,
                s => match s.parse() {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(locate(FieldError::new("version", e).value(s)));
                        continue;
                    }
                },
            };
            let point = match &r.point {
                Ok(Some((lon, lat))) => match geo::check_point(*lon, *lat) {
                    Ok(()) => Some((*lon, *lat)),
                    Err((field, msg)) => {
                        problems.push(locate(FieldError::new(field, msg).value(format!("{lon}, {lat}"))));
                        continue;
                    }
                },
                Ok(None) => None,
                Err(e) => {
                    problems.push(locate(e.clone()));
                    continue;
                }
            };
            let existing = units::get(c, v, &r.code)?;
            let unit = match existing {
                Some(u) if u.kind == UnitKind::Village && u.parent_code.as_deref() == Some(r.commune.as_str()) => {
                    count.located += 1;
                    u
                }
                Some(u) => {
                    problems.push(locate(
                        FieldError::new(
                            "code",
                            format!(
                                "this code is already {} ({}), not a village of commune {}",
                                u.full_name,
                                u.kind.as_str(),
                                r.commune
                            ),
                        )
                        .value(&r.code),
                    ));
                    continue;
                }
                None => {
                    let type_word = if r.type_word.is_empty() { "thôn" } else { r.type_word.as_str() };
                    match units::create_village(c, v, &r.commune, &r.code, &r.name, type_word) {
                        Ok(u) => {
                            audit::record(
                                c,
                                actor,
                                "create",
                                "admin_unit",
                                &format!("{}@{}", u.code, v),
                                None,
                                Some(&serde_json::to_value(&u).unwrap_or_default()),
                            )?;
                            count.created += 1;
                            u
                        }
                        Err(StoreError::Invalid(p)) => {
                            for e in p.0 {
                                problems.push(locate(e));
                            }
                            continue;
                        }
                        Err(StoreError::NotFound(m)) => {
                            problems.push(locate(FieldError::new("commune", m).value(&r.commune)));
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            let commune = c.query_one(
                "SELECT g.geojson, g.centroid_lon, g.centroid_lat FROM unit_geometry g
                 JOIN admin_unit u ON u.id = g.unit_id WHERE u.version = $1 AND u.code = $2",
                &[v.as_str().into(), r.commune.as_str().into()],
            )?;
            let (lon, lat, geocoded) = match (point, &commune) {
                (Some((lon, lat)), Some(g)) => {
                    let inside = geo::parse_shape(&g.str(0))
                        .map(|s| geo::holds(&s, lon, lat))
                        .unwrap_or(true);
                    if !inside {
                        count.outside.push(unit.code.clone());
                    }
                    (lon, lat, false)
                }
                (Some((lon, lat)), None) => (lon, lat, false),
                (None, Some(g)) => {
                    count.geocoded += 1;
                    (g.f64(1), g.f64(2), true)
                }
                (None, None) => {
                    problems.push(locate(
                        FieldError::new(
                            "lon",
                            format!(
                                "no coordinates, and commune {} has no boundary whose centroid could stand in",
                                r.commune
                            ),
                        )
                        .value(&r.code),
                    ));
                    continue;
                }
            };
            let id = units::id_of(c, v, &unit.code)?.unwrap_or_default();
            points.push(crate::params_vec![id, lon, lat, geocoded as i64, source.as_str(), now.as_str()]);
        }
        if !problems.is_empty() {
            return Err(StoreError::Invalid(problems));
        }
        let ids: Vec<i64> = points
            .iter()
            .filter_map(|p| match p[0] {
                Val::Int(i) => Some(i),
                _ => None,
            })
            .collect();
        for chunk in ids.chunks(500) {
            c.execute(
                &format!("DELETE FROM village_point WHERE unit_id IN ({})", crate::db::id_list(chunk.iter().copied())),
                &[],
            )?;
        }
        for chunk in points.chunks(500) {
            c.insert_many(
                "village_point",
                &["unit_id", "lon", "lat", "geocoded", "source", "updated_at"],
                chunk,
                "",
            )?;
        }
        audit::record(
            c,
            actor,
            "import",
            "village_point",
            &source,
            None,
            Some(&serde_json::to_value(&count).unwrap_or_default()),
        )?;
        Ok(count)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_ids_round_trip() {
        for s in Collection::STANDARD {
            assert_eq!(Collection::parse(&s.id()), Some(s));
        }
        assert_eq!(Collection::STANDARD[0].id(), "units-2025-province");
        assert_eq!(Collection::STANDARD[3].id(), "villages");
        assert!(Collection::parse("units-2025-district").is_none());
        assert!(Collection::parse("units-2024-district").is_some());
        assert!(Collection::parse("units-2024-village").is_none());
        assert!(Collection::parse("units-1999-province").is_none());
        assert!(Collection::parse("villages-2024").is_some());
        assert!(Collection::parse("nope").is_none());
    }

    #[test]
    fn seed_layers_read_and_every_boundary_checks() {
        let mut n = 0;
        for layer in &SEED_LAYERS {
            let reader = BufReader::new(flate2::read::GzDecoder::new(layer.bytes));
            for line in reader.lines().skip(1) {
                let line = line.unwrap();
                let mut parts = line.splitn(3, '\t');
                let (code, _, json) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                let b = geo::parse_shape(json).and_then(geo::check);
                assert!(b.is_ok(), "{code}: {b:?}");
                n += 1;
            }
        }
        assert_eq!(n, 34 + 3321 + 63);
    }
}

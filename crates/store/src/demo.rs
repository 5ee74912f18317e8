//! The demo provinces: Quảng Ninh, Cao Bằng and Thái Nguyên (which absorbed Bắc Kạn on
//! 1 July 2025), with their real units. Figures these provinces have published go in as real
//! data points with their source; everything else is generated deterministically and marked
//! `demo`, so it can never pass for real data.

use crate::audit::Actor;
use crate::db::{Backend, Db};
use crate::error::StoreError;
use crate::values::{ImportOptions, RawValue, Strategy, import};
use crate::{params, units};
use dantoc_domain::admin::{HierarchyVersion, UnitKind};

/// Post-2025 codes of the demo provinces.
pub const PROVINCES: [&str; 3] = ["22", "04", "19"];
/// Pre-2025 provinces they were made of.
pub const OLD_PROVINCES: [&str; 4] = ["22", "04", "06", "19"];

/// Deterministic pseudo-random numbers (SplitMix64) seeded from text.
struct Rng(u64);

impl Rng {
    fn new(seed: &str) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        Rng(h)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

/// Ethnic groups (GSO 2008 codes) living in each pre-2025 province with a rough share of the
/// minority population, and the mean share of minorities in a commune.
fn profile(old_province: &str) -> (f64, &'static [(&'static str, f64)]) {
    match old_province {
        // Quảng Ninh: Dao, Tày, Sán Dìu, Sán Chay, Hoa
        "22" => (
            0.12,
            &[
                ("09", 0.42),
                ("02", 0.24),
                ("17", 0.16),
                ("13", 0.12),
                ("06", 0.06),
            ],
        ),
        // Cao Bằng: Tày, Nùng, Mông, Dao, Sán Chay, Lô Lô
        "04" => (
            0.93,
            &[
                ("02", 0.39),
                ("07", 0.31),
                ("08", 0.12),
                ("09", 0.11),
                ("13", 0.05),
                ("45", 0.02),
            ],
        ),
        // Bắc Kạn: Tày, Dao, Nùng, Mông
        "06" => (
            0.87,
            &[("02", 0.62), ("09", 0.20), ("07", 0.10), ("08", 0.08)],
        ),
        // Thái Nguyên: Tày, Nùng, Sán Dìu, Sán Chay, Dao, Mông
        _ => (
            0.28,
            &[
                ("02", 0.41),
                ("07", 0.19),
                ("17", 0.11),
                ("13", 0.11),
                ("09", 0.12),
                ("08", 0.06),
            ],
        ),
    }
}

fn raw(ind: &str, unit: String, period: &str, disagg: &str, value: f64) -> RawValue {
    RawValue {
        indicator: ind.into(),
        unit,
        period: period.into(),
        disagg: disagg.into(),
        value: Some(format!("{}", value.round() as i64)),
        comment: None,
        followup: None,
    }
}

/// Generated values for the communes of one province in one hierarchy over some years.
/// Average population of a pre-2025 commune of a demo province (population / communes,
/// rounded), so that generated totals stay near the real ones.
fn commune_size(old_province: &str) -> f64 {
    match old_province {
        "22" => 7_800.0,
        "04" => 3_400.0,
        "06" => 3_000.0,
        _ => 7_300.0,
    }
}

/// Population (in 2021) and DTTS share of a pre-2025 commune: drawn once from its code, so that
/// a current commune can be given the sum of the communes it was formed from.
fn old_commune_base(code: &str, old_province: &str) -> (f64, f64) {
    let mut rng = Rng::new(&format!("{code}@2024"));
    let size = commune_size(old_province);
    let pop0 = rng.range(0.5 * size, 1.5 * size);
    let share = (profile(old_province).0 * rng.range(0.35, 1.6)).clamp(0.02, 0.995);
    (pop0, share)
}

/// A commune to generate values for: its code, the pre-2025 province its people mostly come
/// from, and (current communes) the pre-2025 communes it was formed from with their shares.
pub(crate) type DemoCommune = (String, String, Vec<(String, String, f64)>);

fn commune_values(
    communes: &[DemoCommune],
    v: HierarchyVersion,
    years: std::ops::RangeInclusive<i32>,
) -> Vec<RawValue> {
    let mut out = vec![];
    for (code, old_province, sources) in communes {
        let unit = format!("{code}@{}", v.as_str());
        let (_, groups) = profile(old_province);
        let mut rng = Rng::new(&unit);
        let (mut pop0, mut share) = old_commune_base(code, old_province);
        let _ = (rng.range(0.0, 1.0), rng.range(0.0, 1.0));
        if !sources.is_empty() {
            // a current commune holds the people of the communes it was formed from
            let (mut pop, mut dtts) = (0.0, 0.0);
            for (old, old_p, w) in sources {
                let (p, sh) = old_commune_base(old, old_p);
                pop += w * p;
                dtts += w * p * sh;
            }
            if pop > 0.0 {
                pop0 = pop;
                share = (dtts / pop).clamp(0.02, 0.995);
            }
        }
        let mut weights: Vec<f64> = groups
            .iter()
            .map(|(_, w)| w * rng.range(0.5, 1.5))
            .collect();
        let sum: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= sum);
        let poverty = rng.range(0.04, 0.35);
        let teams = rng.range(2.0, 12.0).floor();
        let no_signal = if rng.range(0.0, 1.0) < 0.25 {
            rng.range(1.0, 5.0).floor()
        } else {
            0.0
        };
        for y in years.clone() {
            let p = y.to_string();
            let growth = 1.0 + 0.009 * (y - 2021) as f64;
            let pop = pop0 * growth;
            let male = (pop * 0.503).round();
            let female = pop.round() - male;
            out.push(raw(
                "x-pop-total",
                unit.clone(),
                &p,
                "default",
                male + female,
            ));
            out.push(raw("x-pop-total", unit.clone(), &p, "M", male));
            out.push(raw("x-pop-total", unit.clone(), &p, "F", female));
            let dtts = pop * share;
            for ((g, _), w) in groups.iter().zip(&weights) {
                let n = dtts * w;
                let m = (n * 0.505).round();
                let f = n.round() - m;
                out.push(raw("0101", unit.clone(), &p, &format!("E{g}.M"), m));
                out.push(raw("0101", unit.clone(), &p, &format!("E{g}.F"), f));
                let households = (n / 4.3).round();
                let poor = (households * poverty * (1.0 - 0.12 * (y - 2021) as f64))
                    .round()
                    .max(0.0);
                out.push(raw(
                    "x-ho-dtts",
                    unit.clone(),
                    &p,
                    &format!("E{g}"),
                    households,
                ));
                out.push(raw(
                    "x-ho-ngheo-dtts",
                    unit.clone(),
                    &p,
                    &format!("E{g}"),
                    poor,
                ));
            }
            let t = (teams + (y - 2021) as f64).max(1.0);
            out.push(raw("x-cnscd-to", unit.clone(), &p, "default", t));
            let members = t * rng.range(4.0, 9.0).floor();
            let mm = (members * 0.55).round();
            out.push(raw("x-cnscd-tv", unit.clone(), &p, "M", mm));
            out.push(raw(
                "x-cnscd-tv",
                unit.clone(),
                &p,
                "F",
                members.round() - mm,
            ));
            out.push(raw(
                "x-thon-noms",
                unit.clone(),
                &p,
                "default",
                (no_signal - (y - 2021) as f64).max(0.0),
            ));
        }
    }
    out
}

/// Mobile coverage of the demo villages in 2025, `x-thon-noms` per village: 1 where there is
/// no signal (about one village in ten in Cao Bằng, fewer in the other two), else 0.
fn village_coverage(villages: &[(String, String)]) -> Vec<RawValue> {
    villages
        .iter()
        .map(|(code, province)| {
            let share = match province.as_str() {
                "04" => 0.10,
                "19" => 0.05,
                _ => 0.03,
            };
            let uncovered = Rng::new(&format!("coverage{code}")).range(0.0, 1.0) < share;
            raw(
                "x-thon-noms",
                format!("{code}@2025"),
                "2025",
                "default",
                if uncovered { 1.0 } else { 0.0 },
            )
        })
        .collect()
}

struct Published {
    indicator: &'static str,
    unit: &'static str,
    period: &'static str,
    disagg: &'static str,
    value: &'static str,
    source: &'static str,
    comment: Option<&'static str>,
}

const CENSUS_QN: &str = "Tổng điều tra dân số và nhà ở 2019 – số liệu tỉnh Quảng Ninh công bố";
const QN: &str = "Ban Dân tộc tỉnh Quảng Ninh – số liệu công bố";
const CB: &str = "Tỉnh Cao Bằng – số liệu công bố";
const BK: &str = "Ban Dân tộc tỉnh Bắc Kạn – số liệu công bố";

const PUBLISHED: &[Published] = &[
    Published {
        indicator: "0101",
        unit: "22@2024",
        period: "2019",
        disagg: "default",
        value: "162531",
        source: CENSUS_QN,
        comment: None,
    },
    Published {
        indicator: "x-dtts-share",
        unit: "22@2024",
        period: "2019",
        disagg: "default",
        value: "12.31",
        source: CENSUS_QN,
        comment: None,
    },
    Published {
        indicator: "x-dtts-share",
        unit: "06877@2024",
        period: "2024",
        disagg: "default",
        value: "45.6",
        source: QN,
        comment: Some("Xã Đông Ngũ, huyện Tiên Yên"),
    },
    Published {
        indicator: "x-cnscd-to",
        unit: "06877@2024",
        period: "2024",
        disagg: "default",
        value: "10",
        source: QN,
        comment: Some("Xã Đông Ngũ, huyện Tiên Yên: 10 tổ công nghệ số cộng đồng"),
    },
    Published {
        indicator: "x-cnscd-tv",
        unit: "06877@2024",
        period: "2024",
        disagg: "default",
        value: "83",
        source: QN,
        comment: Some("Xã Đông Ngũ, huyện Tiên Yên: 83 thành viên"),
    },
    Published {
        indicator: "x-pop-total",
        unit: "04@2024",
        period: "2023",
        disagg: "default",
        value: "547857",
        source: CB,
        comment: None,
    },
    Published {
        indicator: "x-dtts-share",
        unit: "04@2024",
        period: "2023",
        disagg: "default",
        value: "95",
        source: CB,
        comment: Some("khoảng 95% dân số là người dân tộc thiểu số"),
    },
    Published {
        indicator: "x-thon-noms",
        unit: "04@2024",
        period: "2023",
        disagg: "default",
        value: "169",
        source: CB,
        comment: Some("169 thôn, bản, điểm dân cư chưa có sóng di động"),
    },
    Published {
        indicator: "x-ncut-smartphone",
        unit: "06@2024",
        period: "2023",
        disagg: "default",
        value: "375",
        source: BK,
        comment: Some("tại các huyện Pác Nặm, Ba Bể và Chợ Mới"),
    },
    Published {
        indicator: "x-ncut-smartphone",
        unit: "062@2024",
        period: "2023",
        disagg: "default",
        value: "152",
        source: BK,
        comment: Some("huyện Ba Bể"),
    },
    Published {
        indicator: "x-ncut-smartphone-kp",
        unit: "06@2024",
        period: "2023",
        disagg: "default",
        value: "1500",
        source: BK,
        comment: Some("hơn 1,5 tỷ đồng (giá trị là cận dưới)"),
    },
];

/// Plan targets of Quảng Ninh for 2023 and 2025 (% of DTTS reached by information).
const TARGETS: &[(&str, f64, f64)] = &[
    ("x-tt-phapluat", 95.0, 100.0),
    ("x-tt-khcn", 80.0, 95.0),
    ("x-tt-yte", 90.0, 100.0),
    ("x-tt-rung", 90.0, 100.0),
    ("x-tt-anninh", 90.0, 100.0),
];

/// Load the demo dataset unless it is loaded. Returns whether it loaded.
pub fn load(db: &Db) -> Result<bool, StoreError> {
    let loaded = db.read(|c| {
        Ok(
            c.query_one("SELECT value FROM meta WHERE key = 'demo'", &[])?
                .is_some(),
        )
    })?;
    if loaded {
        return Ok(false);
    }
    let actor = Actor {
        name: "demo".into(),
        origin: "local".into(),
    };
    let published_keys: Vec<(&str, String)> = PUBLISHED
        .iter()
        .map(|p| {
            (
                p.indicator,
                p.unit.split('@').next().unwrap_or_default().to_string(),
            )
        })
        .collect();

    // communes of the demo provinces, old and new, with the pre-2025 province each belongs to
    let (old, new) = db.read(|c| {
        let mut old = vec![];
        for p in OLD_PROVINCES {
            for u in units::descendants(c, HierarchyVersion::V2024, p, Some(UnitKind::Commune))? {
                old.push((u.code, p.to_string(), vec![]));
            }
        }
        let mut new = vec![];
        for p in PROVINCES {
            for u in units::descendants(c, HierarchyVersion::V2025, p, Some(UnitKind::Commune))? {
                let links = units::lineage(c, HierarchyVersion::V2025, &u.code)?;
                let from = links.first().map(|l| l.old_code.clone()).unwrap_or_default();
                let mut sources = vec![];
                for l in &links {
                    let prov = c
                        .query_one(
                            "SELECT province_code FROM admin_unit WHERE version = '2024' AND code = $1",
                            &params![&l.old_code],
                        )?
                        .map(|r| r.str(0))
                        .unwrap_or_else(|| p.to_string());
                    sources.push((l.old_code.clone(), prov, l.weight));
                }
                let old_p = c
                    .query_one(
                        "SELECT province_code FROM admin_unit WHERE version = '2024' AND code = $1",
                        &params![from],
                    )?
                    .map(|r| r.str(0))
                    .unwrap_or_else(|| p.to_string());
                new.push((u.code, old_p, sources));
            }
        }
        Ok((old, new))
    })?;
    // villages (thôn, bản) under the current communes, with codes COMMUNE-NN
    let villages = db.write(|c| {
        let communes = c.query(
            "SELECT u.code, u.province_code FROM admin_unit u WHERE u.version = '2025'
             AND u.kind = 'commune' AND u.province_code IN ('22', '04', '19') ORDER BY u.code",
            &[],
        )?;
        let mut villages = vec![];
        for r in communes {
            let (code, province) = (r.str(0), r.str(1));
            let mut rng = Rng::new(&format!("villages{code}"));
            let n = rng.range(4.0, 11.0) as usize;
            for k in 1..=n {
                let v = format!("{code}-{k:02}");
                units::create_village(
                    c,
                    HierarchyVersion::V2025,
                    &code,
                    &v,
                    &format!("{k}"),
                    "thôn",
                )?;
                villages.push((v, province.clone()));
            }
        }
        Ok(villages)
    })?;
    let mut values = commune_values(&old, HierarchyVersion::V2024, 2021..=2024);
    let mut current = commune_values(&new, HierarchyVersion::V2025, 2025..=2025);
    // the current communes' villages without mobile coverage are counted village by village
    // (1: no coverage, 0: covered), so that the map can show which; the commune's figure is
    // their sum
    current.retain(|r| r.indicator != "x-thon-noms");
    values.extend(current);
    values.extend(village_coverage(&villages));
    // province-level programme indicators, near the plan targets
    for (p, v) in [
        ("22", "2024"),
        ("04", "2024"),
        ("06", "2024"),
        ("19", "2024"),
    ] {
        for y in 2023..=2024 {
            for (ind, t23, _) in TARGETS {
                let mut rng = Rng::new(&format!("{ind}{p}{y}"));
                let val = (t23 + rng.range(-8.0, 4.0) + 2.0 * (y - 2023) as f64).clamp(40.0, 100.0);
                let mut r = raw(ind, format!("{p}@{v}"), &y.to_string(), "default", 0.0);
                r.value = Some(format!("{:.1}", val));
                values.push(r);
            }
        }
    }
    for p in PROVINCES {
        for (ind, _, t25) in TARGETS {
            let mut rng = Rng::new(&format!("{ind}{p}2025"));
            let mut r = raw(ind, format!("{p}@2025"), "2025", "default", 0.0);
            r.value = Some(format!(
                "{:.1}",
                (t25 - rng.range(1.0, 9.0)).clamp(40.0, 100.0)
            ));
            values.push(r);
        }
    }
    values.retain(|r| {
        let code = r.unit.split('@').next().unwrap_or_default();
        !published_keys
            .iter()
            .any(|(i, u)| *i == r.indicator && u == code)
    });
    let opts = ImportOptions {
        strategy: Strategy::CreateAndUpdate,
        demo: true,
        what: "demo dataset (generated)".into(),
        ..Default::default()
    };
    let s = import(db, &actor, &opts, values.into_iter().map(Ok), &|_, e| e)?;
    if s.status != "SUCCESS" {
        return Err(StoreError::Io(format!(
            "demo data did not load: {}",
            serde_json::to_string(&s.conflicts).unwrap_or_default()
        )));
    }
    for p in PUBLISHED {
        let opts = ImportOptions {
            strategy: Strategy::CreateAndUpdate,
            demo: false,
            source: Some(p.source.into()),
            what: format!("published figure: {}", p.source),
            audit_each: true,
            ..Default::default()
        };
        let r = RawValue {
            indicator: p.indicator.into(),
            unit: p.unit.into(),
            period: p.period.into(),
            disagg: p.disagg.into(),
            value: Some(p.value.into()),
            comment: p.comment.map(str::to_string),
            followup: None,
        };
        let s = import(db, &actor, &opts, [Ok(r)], &|_, e| e)?;
        if s.status != "SUCCESS" {
            return Err(StoreError::Io(format!(
                "published figure did not load: {:?}",
                s.conflicts
            )));
        }
    }
    db.write(|c| {
        // targets of Quảng Ninh's plan: 2023 on the pre-2025 province, 2025 on the current one
        let now = crate::clock::now();
        for (ind, t23, t25) in TARGETS {
            for (unit_v, period, value) in [(HierarchyVersion::V2024, "2023", *t23), (HierarchyVersion::V2025, "2025", *t25)] {
                c.execute(
                    "INSERT INTO target (indicator_id, unit_id, period, disagg_id, value, source, demo, updated_at)
                     SELECT i.id, u.id, $1, 1, $2, $3, 0, $4 FROM indicator i, admin_unit u
                     WHERE i.code = $5 AND u.version = $6 AND u.code = '22'",
                    &params![period, value, "Kế hoạch của UBND tỉnh Quảng Ninh", &now, *ind, unit_v.as_str()],
                )?;
            }
        }
        // the demo provinces' data is public, as a province's published data would be
        for p in ["22@2025", "04@2025", "19@2025", "22@2024", "04@2024", "06@2024", "19@2024"] {
            let f = crate::values::ValueFilter { units: vec![p.to_string()], children: true, ..Default::default() };
            crate::values::publish(c, &f, true)?;
        }
        c.execute("INSERT INTO meta (key, value) VALUES ('demo', $1)", &params![now])?;
        if c.backend() == Backend::Postgres {
            c.batch("ANALYZE")?;
        }
        Ok(())
    })?;
    Ok(true)
}

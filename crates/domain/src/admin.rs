//! Administrative units (đơn vị hành chính) in two hierarchies that coexist:
//! the one in force until 30 June 2025 (province › district › commune) and the one
//! in force from 1 July 2025 (province › commune), joined by a lineage old → new.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which hierarchy a unit belongs to. Codes are unique only within one version:
/// the 2025 list reuses old commune codes for different, larger units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HierarchyVersion {
    /// Units in force until 30 June 2025 (QĐ 124/2004/QĐ-TTg numbering).
    #[serde(rename = "2024")]
    V2024,
    /// Units in force from 1 July 2025 (QĐ 19/2025/QĐ-TTg codes).
    #[serde(rename = "2025")]
    V2025,
}

impl HierarchyVersion {
    pub const CURRENT: HierarchyVersion = HierarchyVersion::V2025;
    pub const ALL: [HierarchyVersion; 2] = [HierarchyVersion::V2024, HierarchyVersion::V2025];

    pub fn as_str(self) -> &'static str {
        match self {
            HierarchyVersion::V2024 => "2024",
            HierarchyVersion::V2025 => "2025",
        }
    }
    /// First day the hierarchy is in force (`None`: in force before records began).
    pub fn valid_from(self) -> Option<&'static str> {
        match self {
            HierarchyVersion::V2024 => None,
            HierarchyVersion::V2025 => Some("2025-07-01"),
        }
    }
    /// Last day the hierarchy is in force (`None`: still in force).
    pub fn valid_to(self) -> Option<&'static str> {
        match self {
            HierarchyVersion::V2024 => Some("2025-06-30"),
            HierarchyVersion::V2025 => None,
        }
    }
    /// The hierarchy in force on a date `YYYY-MM-DD`.
    pub fn on(date: &str) -> HierarchyVersion {
        if date < "2025-07-01" {
            HierarchyVersion::V2024
        } else {
            HierarchyVersion::V2025
        }
    }
}

impl FromStr for HierarchyVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "2024" | "old" | "pre2025" => Ok(HierarchyVersion::V2024),
            "2025" | "new" | "current" => Ok(HierarchyVersion::V2025),
            other => Err(format!(
                "unknown hierarchy version {other:?}: expected 2024 (before 1 July 2025) or 2025 (current)"
            )),
        }
    }
}

impl fmt::Display for HierarchyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A unit as written in files and requests: `CODE`, or `CODE@2024` / `CODE@2025` to name the
/// hierarchy. Returns the code and the version, if one was written.
pub fn split_unit_ref(s: &str) -> Result<(&str, Option<HierarchyVersion>), String> {
    match s.split_once('@') {
        Some((code, v)) => Ok((code, Some(v.parse()?))),
        None => Ok((s, None)),
    }
}

/// The tier of a unit, independent of the version it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Province,
    District,
    Commune,
    Village,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Province => "province",
            UnitKind::District => "district",
            UnitKind::Commune => "commune",
            UnitKind::Village => "village",
        }
    }
    /// Depth in a hierarchy version (province = 1).
    pub fn level(self, v: HierarchyVersion) -> u8 {
        match (self, v) {
            (UnitKind::Province, _) => 1,
            (UnitKind::District, _) => 2,
            (UnitKind::Commune, HierarchyVersion::V2024) => 3,
            (UnitKind::Commune, HierarchyVersion::V2025) => 2,
            (UnitKind::Village, HierarchyVersion::V2024) => 4,
            (UnitKind::Village, HierarchyVersion::V2025) => 3,
        }
    }
    /// Kinds a unit of this kind may have as parent in a version.
    pub fn parent_kind(self, v: HierarchyVersion) -> Option<UnitKind> {
        match (self, v) {
            (UnitKind::Province, _) => None,
            (UnitKind::District, _) => Some(UnitKind::Province),
            (UnitKind::Commune, HierarchyVersion::V2024) => Some(UnitKind::District),
            (UnitKind::Commune, HierarchyVersion::V2025) => Some(UnitKind::Province),
            (UnitKind::Village, _) => Some(UnitKind::Commune),
        }
    }
    pub fn label_vi(self) -> &'static str {
        match self {
            UnitKind::Province => "Tỉnh/Thành phố",
            UnitKind::District => "Huyện/Quận/Thị xã/Thành phố",
            UnitKind::Commune => "Xã/Phường/Thị trấn/Đặc khu",
            UnitKind::Village => "Thôn/Bản/Tổ dân phố",
        }
    }
}

impl FromStr for UnitKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "province" => Ok(UnitKind::Province),
            "district" => Ok(UnitKind::District),
            "commune" => Ok(UnitKind::Commune),
            "village" => Ok(UnitKind::Village),
            other => Err(format!(
                "unknown unit level {other:?}: expected province, district, commune or village"
            )),
        }
    }
}

/// The legal type word of a unit, as it is written before its name.
pub const UNIT_TYPES: &[(&str, UnitKind)] = &[
    ("tỉnh", UnitKind::Province),
    ("thành phố", UnitKind::Province),
    ("huyện", UnitKind::District),
    ("thị xã", UnitKind::District),
    ("quận", UnitKind::District),
    ("thành phố", UnitKind::District),
    ("xã", UnitKind::Commune),
    ("phường", UnitKind::Commune),
    ("thị trấn", UnitKind::Commune),
    ("đặc khu", UnitKind::Commune),
    ("thôn", UnitKind::Village),
    ("bản", UnitKind::Village),
    ("tổ dân phố", UnitKind::Village),
    ("ấp", UnitKind::Village),
    ("buôn", UnitKind::Village),
    ("làng", UnitKind::Village),
    ("khu phố", UnitKind::Village),
];

/// Check that a type word fits a kind (`"huyện"` is a district, `"đặc khu"` a commune-level unit).
pub fn check_type(kind: UnitKind, type_word: &str) -> Result<(), String> {
    if UNIT_TYPES
        .iter()
        .any(|(t, k)| *t == type_word && *k == kind)
    {
        Ok(())
    } else {
        let allowed: Vec<&str> = UNIT_TYPES
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|(t, _)| *t)
            .collect();
        Err(format!(
            "type {type_word:?} does not fit a {} unit (allowed: {})",
            kind.as_str(),
            allowed.join(", ")
        ))
    }
}

/// An administrative unit as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminUnit {
    pub code: String,
    pub version: HierarchyVersion,
    pub name: String,
    pub full_name: String,
    #[serde(rename = "type")]
    pub type_word: String,
    pub kind: UnitKind,
    pub level: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_code: Option<String>,
    pub province_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub alt_names: Vec<String>,
}

/// How much of an old unit went into a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Portion {
    Whole,
    Part,
}

impl FromStr for Portion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "whole" => Ok(Portion::Whole),
            "part" => Ok(Portion::Part),
            o => Err(format!("unknown portion {o:?}: expected whole or part")),
        }
    }
}

impl Portion {
    pub fn as_str(self) -> &'static str {
        match self {
            Portion::Whole => "whole",
            Portion::Part => "part",
        }
    }
}

/// Where a lineage weight came from. Only `DefaultEqual` makes a mapped figure an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightSource {
    /// The old unit went whole into one new unit: weight 1.
    Whole,
    /// The official table says part of the area but all of the population went here.
    AllPopulation,
    /// No share is published: split equally between targets. Figures using it are estimates.
    DefaultEqual,
    /// Set by the province.
    Province,
}

impl WeightSource {
    pub fn as_str(self) -> &'static str {
        match self {
            WeightSource::Whole => "whole",
            WeightSource::AllPopulation => "all_population",
            WeightSource::DefaultEqual => "default_equal",
            WeightSource::Province => "province",
        }
    }
    pub fn is_estimated(self) -> bool {
        matches!(self, WeightSource::DefaultEqual)
    }
}

impl FromStr for WeightSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "whole" => Ok(WeightSource::Whole),
            "all_population" => Ok(WeightSource::AllPopulation),
            "default_equal" => Ok(WeightSource::DefaultEqual),
            "province" => Ok(WeightSource::Province),
            o => Err(format!("unknown weight source {o:?}")),
        }
    }
}

/// One target of an old unit, as read from the official conversion table.
#[derive(Debug, Clone, PartialEq)]
pub struct LineageTarget {
    pub new_code: String,
    pub portion: Portion,
    pub detail: String,
}

/// Default weights for the targets of one old unit. Whole → 1. A split with one target
/// marked "part of the area, all of the population" → 1 there and 0 elsewhere.
/// Otherwise equal shares, flagged as estimates.
pub fn default_weights(targets: &[LineageTarget]) -> Vec<(f64, WeightSource)> {
    if targets.len() == 1 && targets[0].portion == Portion::Whole {
        return vec![(1.0, WeightSource::Whole)];
    }
    let all_pop: Vec<bool> = targets
        .iter()
        .map(|t| t.detail == "part_area_all_population" || t.detail == "whole_area")
        .collect();
    let n_all = all_pop.iter().filter(|b| **b).count();
    if n_all == 1
        && targets
            .iter()
            .any(|t| t.detail == "part_area_all_population")
    {
        return all_pop
            .iter()
            .map(|b| (if *b { 1.0 } else { 0.0 }, WeightSource::AllPopulation))
            .collect();
    }
    let w = 1.0 / targets.len() as f64;
    targets
        .iter()
        .map(|t| {
            if targets.len() == 1 {
                (1.0, WeightSource::Whole)
            } else {
                let _ = t;
                (w, WeightSource::DefaultEqual)
            }
        })
        .collect()
}

/// Check weights set by a province for the targets of one old unit: each in [0, 1], sum 1.
pub fn check_weights(weights: &[f64]) -> Result<(), String> {
    if weights.is_empty() {
        return Err("no weights given".into());
    }
    if let Some(w) = weights
        .iter()
        .find(|w| !w.is_finite() || **w < 0.0 || **w > 1.0)
    {
        return Err(format!("weight {w} is outside 0..1"));
    }
    let s: f64 = weights.iter().sum();
    if (s - 1.0).abs() > 1e-6 {
        return Err(format!("weights must add up to 1, they add up to {s}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(code: &str, portion: Portion, detail: &str) -> LineageTarget {
        LineageTarget {
            new_code: code.into(),
            portion,
            detail: detail.into(),
        }
    }

    #[test]
    fn weights_whole_and_equal() {
        assert_eq!(
            default_weights(&[t("1", Portion::Whole, "whole")]),
            vec![(1.0, WeightSource::Whole)]
        );
        let w = default_weights(&[t("1", Portion::Part, "part"), t("2", Portion::Part, "part")]);
        assert_eq!(w, vec![(0.5, WeightSource::DefaultEqual); 2]);
        assert!(w[0].1.is_estimated());
    }

    #[test]
    fn weights_all_population() {
        let w = default_weights(&[
            t("1", Portion::Part, "part_area"),
            t("2", Portion::Part, "part_area_all_population"),
        ]);
        assert_eq!(w[0].0, 0.0);
        assert_eq!(w[1].0, 1.0);
        assert!(!w[1].1.is_estimated());
    }

    #[test]
    fn weight_checks() {
        assert!(check_weights(&[0.3, 0.7]).is_ok());
        assert!(check_weights(&[0.3, 0.6]).is_err());
        assert!(check_weights(&[1.5, -0.5]).is_err());
        assert!(check_weights(&[f64::NAN]).is_err());
    }

    #[test]
    fn types_fit_kinds() {
        assert!(check_type(UnitKind::District, "huyện").is_ok());
        assert!(check_type(UnitKind::Commune, "đặc khu").is_ok());
        assert!(check_type(UnitKind::Commune, "huyện").is_err());
        assert_eq!(UnitKind::Commune.level(HierarchyVersion::V2025), 2);
        assert_eq!(HierarchyVersion::on("2025-06-30"), HierarchyVersion::V2024);
    }
}

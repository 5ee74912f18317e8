//! Disaggregations (DHIS2 *category option combos*): which slice of a figure a value is for.
//!
//! A disaggregation code is `default` (the total) or dot-separated parts in this order:
//! `E<ethnic code, GSO 2008 list>`, `M`/`F` (sex), `U`/`R` (urban/rural), `A<age group>`.
//! Examples: `E02` (Tày), `E02.F` (Tày women), `F`, `E08.M.R`, `A15-19`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Urban,
    Rural,
}

/// One dimension along which an indicator may be broken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Ethnic,
    Sex,
    Area,
    Age,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Ethnic => "ethnic",
            Dimension::Sex => "sex",
            Dimension::Area => "area",
            Dimension::Age => "age",
        }
    }
}

impl FromStr for Dimension {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "ethnic" => Ok(Dimension::Ethnic),
            "sex" => Ok(Dimension::Sex),
            "area" => Ok(Dimension::Area),
            "age" => Ok(Dimension::Age),
            o => Err(format!(
                "unknown disaggregation {o:?}: expected ethnic, sex, area or age"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Disagg {
    /// Ethnic group code in the GSO 2008 list.
    pub ethnic: Option<String>,
    pub sex: Option<Sex>,
    pub area: Option<Area>,
    /// Age group such as `0-14`, `15-19`, `60+`.
    pub age: Option<String>,
}

impl Disagg {
    pub const DEFAULT_CODE: &'static str = "default";

    pub fn is_total(&self) -> bool {
        *self == Disagg::default()
    }
    pub fn dimensions(&self) -> Vec<Dimension> {
        let mut d = vec![];
        if self.ethnic.is_some() {
            d.push(Dimension::Ethnic);
        }
        if self.sex.is_some() {
            d.push(Dimension::Sex);
        }
        if self.area.is_some() {
            d.push(Dimension::Area);
        }
        if self.age.is_some() {
            d.push(Dimension::Age);
        }
        d
    }
    pub fn code(&self) -> String {
        self.to_string()
    }
    /// Vietnamese label, e.g. "Dân tộc 02 · Nữ".
    pub fn label_vi(&self, ethnic_name: impl Fn(&str) -> Option<String>) -> String {
        if self.is_total() {
            return "Tổng số".into();
        }
        let mut parts = vec![];
        if let Some(e) = &self.ethnic {
            parts.push(ethnic_name(e).unwrap_or_else(|| format!("Dân tộc {e}")));
        }
        if let Some(s) = self.sex {
            parts.push(match s {
                Sex::Male => "Nam".into(),
                Sex::Female => "Nữ".into(),
            });
        }
        if let Some(a) = self.area {
            parts.push(match a {
                Area::Urban => "Thành thị".into(),
                Area::Rural => "Nông thôn".into(),
            });
        }
        if let Some(a) = &self.age {
            parts.push(format!("{a} tuổi"));
        }
        parts.join(" · ")
    }
}

impl fmt::Display for Disagg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_total() {
            return f.write_str(Self::DEFAULT_CODE);
        }
        let mut parts: Vec<String> = vec![];
        if let Some(e) = &self.ethnic {
            parts.push(format!("E{e}"));
        }
        if let Some(s) = self.sex {
            parts.push(if s == Sex::Male { "M" } else { "F" }.into());
        }
        if let Some(a) = self.area {
            parts.push(if a == Area::Urban { "U" } else { "R" }.into());
        }
        if let Some(a) = &self.age {
            parts.push(format!("A{a}"));
        }
        f.write_str(&parts.join("."))
    }
}

fn valid_age(a: &str) -> bool {
    let (lo, hi) = match a.strip_suffix('+') {
        Some(lo) => (lo, None),
        None => match a.split_once('-') {
            Some((lo, hi)) => (lo, Some(hi)),
            None => return false,
        },
    };
    let num = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    match hi {
        None => num(lo),
        Some(hi) => {
            num(lo) && num(hi) && lo.parse::<u32>().unwrap_or(0) <= hi.parse::<u32>().unwrap_or(0)
        }
    }
}

impl FromStr for Disagg {
    type Err = String;
    fn from_str(input: &str) -> Result<Disagg, String> {
        let s = input.trim();
        if s.is_empty()
            || s.eq_ignore_ascii_case(Self::DEFAULT_CODE)
            || s.eq_ignore_ascii_case("total")
        {
            return Ok(Disagg::default());
        }
        let mut d = Disagg::default();
        let mut order = 0;
        let bad = |why: &str| {
            format!(
                "invalid disaggregation {input:?}: {why} (expected `default` or parts like E02, M/F, U/R, A15-19 joined by dots, in that order)"
            )
        };
        for part in s.split('.') {
            let (rank, ok) = match part.as_bytes().first() {
                Some(b'E') => {
                    let code = &part[1..];
                    crate::ethnic::check_code(code).map_err(|e| bad(&e))?;
                    d.ethnic = Some(code.to_string());
                    (1, true)
                }
                Some(b'M') if part.len() == 1 => {
                    d.sex = Some(Sex::Male);
                    (2, true)
                }
                Some(b'F') if part.len() == 1 => {
                    d.sex = Some(Sex::Female);
                    (2, true)
                }
                Some(b'U') if part.len() == 1 => {
                    d.area = Some(Area::Urban);
                    (3, true)
                }
                Some(b'R') if part.len() == 1 => {
                    d.area = Some(Area::Rural);
                    (3, true)
                }
                Some(b'A') if valid_age(&part[1..]) => {
                    d.age = Some(part[1..].to_string());
                    (4, true)
                }
                _ => (0, false),
            };
            if !ok {
                return Err(bad(&format!("unknown part {part:?}")));
            }
            if rank <= order {
                return Err(bad("parts repeated or out of order"));
            }
            order = rank;
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in [
            "default",
            "E02",
            "E02.F",
            "M",
            "E08.M.R",
            "A15-19",
            "E54.F.U.A60+",
        ] {
            assert_eq!(s.parse::<Disagg>().unwrap().to_string(), s);
        }
        assert!("total".parse::<Disagg>().unwrap().is_total());
    }

    #[test]
    fn rejects() {
        for s in ["E99", "E2", "X", "F.E02", "M.F", "A19-15", "E02..F", "Ex"] {
            assert!(s.parse::<Disagg>().is_err(), "{s}");
        }
    }

    #[test]
    fn labels() {
        let d: Disagg = "E02.F".parse().unwrap();
        assert_eq!(d.label_vi(|_| Some("Tày".into())), "Tày · Nữ");
        assert_eq!(d.dimensions(), vec![Dimension::Ethnic, Dimension::Sex]);
    }
}

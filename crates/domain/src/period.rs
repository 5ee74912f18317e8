//! Reporting periods in DHIS2 notation: `2024` (year), `2024S1` (six months),
//! `2024Q1` (quarter), `202401` (month).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodType {
    Yearly,
    SixMonthly,
    Quarterly,
    Monthly,
}

impl PeriodType {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodType::Yearly => "yearly",
            PeriodType::SixMonthly => "six_monthly",
            PeriodType::Quarterly => "quarterly",
            PeriodType::Monthly => "monthly",
        }
    }
    /// Number of months in one period of this type.
    pub fn months(self) -> u32 {
        match self {
            PeriodType::Yearly => 12,
            PeriodType::SixMonthly => 6,
            PeriodType::Quarterly => 3,
            PeriodType::Monthly => 1,
        }
    }
}

impl FromStr for PeriodType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "yearly" | "year" | "năm" => Ok(PeriodType::Yearly),
            "six_monthly" | "sixmonthly" | "6 tháng" => Ok(PeriodType::SixMonthly),
            "quarterly" | "quarter" | "quý" => Ok(PeriodType::Quarterly),
            "monthly" | "month" | "tháng" => Ok(PeriodType::Monthly),
            other => Err(format!(
                "unknown period type {other:?}: expected yearly, six_monthly, quarterly or monthly"
            )),
        }
    }
}

/// One period. Years 1900–2199 are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    /// First month, counted as `year * 12 + (month - 1)`.
    start: u32,
    kind: PeriodType,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid period {input:?}: {reason} (use DHIS2 notation: 2024, 2024S1, 2024Q1 or 202401)")]
pub struct PeriodError {
    pub input: String,
    pub reason: &'static str,
}

impl Period {
    pub fn year(y: i32) -> Option<Period> {
        Self::make(y, 1, PeriodType::Yearly)
    }
    pub fn quarter(y: i32, q: u32) -> Option<Period> {
        if !(1..=4).contains(&q) {
            return None;
        }
        Self::make(y, (q - 1) * 3 + 1, PeriodType::Quarterly)
    }
    pub fn month(y: i32, m: u32) -> Option<Period> {
        if !(1..=12).contains(&m) {
            return None;
        }
        Self::make(y, m, PeriodType::Monthly)
    }
    pub fn six_month(y: i32, s: u32) -> Option<Period> {
        if !(1..=2).contains(&s) {
            return None;
        }
        Self::make(y, (s - 1) * 6 + 1, PeriodType::SixMonthly)
    }
    fn make(y: i32, first_month: u32, kind: PeriodType) -> Option<Period> {
        if !(1900..=2199).contains(&y) {
            return None;
        }
        Some(Period {
            start: y as u32 * 12 + first_month - 1,
            kind,
        })
    }

    pub fn kind(&self) -> PeriodType {
        self.kind
    }
    pub fn year_number(&self) -> i32 {
        (self.start / 12) as i32
    }
    /// 1-based first month of the period.
    pub fn first_month(&self) -> u32 {
        self.start % 12 + 1
    }
    /// 1-based last month of the period.
    pub fn last_month(&self) -> u32 {
        self.first_month() + self.kind.months() - 1
    }
    /// First day as `YYYY-MM-DD`.
    pub fn start_date(&self) -> String {
        format!("{:04}-{:02}-01", self.year_number(), self.first_month())
    }
    /// Last day as `YYYY-MM-DD`.
    pub fn end_date(&self) -> String {
        let y = self.year_number();
        let m = self.last_month();
        format!("{y:04}-{m:02}-{:02}", days_in_month(y, m))
    }
    /// Start and end as month indexes (`year*12 + month-1`), inclusive; stored for range queries.
    pub fn month_range(&self) -> (u32, u32) {
        (self.start, self.start + self.kind.months() - 1)
    }
    /// Whether `other` lies inside this period (a month lies in its quarter and its year).
    pub fn contains(&self, other: &Period) -> bool {
        let (a, b) = self.month_range();
        let (c, d) = other.month_range();
        a <= c && d <= b
    }
    /// The period of type `kind` that contains this one, if `kind` is not finer.
    pub fn enclosing(&self, kind: PeriodType) -> Option<Period> {
        if kind.months() < self.kind.months() {
            return None;
        }
        let y = self.year_number();
        let m0 = self.first_month() - 1;
        let first = (m0 / kind.months()) * kind.months() + 1;
        Self::make(y, first, kind)
    }
    /// The periods of type `kind` inside this one, in order.
    pub fn split(&self, kind: PeriodType) -> Vec<Period> {
        if kind.months() > self.kind.months() {
            return vec![];
        }
        let (a, b) = self.month_range();
        (a..=b)
            .step_by(kind.months() as usize)
            .map(|s| Period { start: s, kind })
            .collect()
    }
    /// Vietnamese label: "Năm 2024", "6 tháng đầu năm 2024", "Quý 1/2024", "Tháng 01/2024".
    pub fn label_vi(&self) -> String {
        let y = self.year_number();
        match self.kind {
            PeriodType::Yearly => format!("Năm {y}"),
            PeriodType::SixMonthly if self.first_month() == 1 => format!("6 tháng đầu năm {y}"),
            PeriodType::SixMonthly => format!("6 tháng cuối năm {y}"),
            PeriodType::Quarterly => format!("Quý {}/{y}", (self.first_month() - 1) / 3 + 1),
            PeriodType::Monthly => format!("Tháng {:02}/{y}", self.first_month()),
        }
    }
    /// The period of the same type `n` steps later (negative: earlier).
    pub fn shift(&self, n: i32) -> Option<Period> {
        let s = self.start as i64 + n as i64 * self.kind.months() as i64;
        let p = Period {
            start: u32::try_from(s).ok()?,
            kind: self.kind,
        };
        (1900..=2199).contains(&p.year_number()).then_some(p)
    }
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// The day `days` after a `YYYY-MM-DD` date (negative: before); `None` for a malformed date.
pub fn add_days(date: &str, days: i64) -> Option<String> {
    let y: i64 = date.get(0..4)?.parse().ok()?;
    let m: u32 = date.get(5..7)?.parse().ok()?;
    let d: i64 = date.get(8..10)?.parse().ok()?;
    if date.len() != 10 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y as i32, m) as i64
    {
        return None;
    }
    // days from civil and back (H. Hinnant's algorithms), proleptic Gregorian calendar
    let (yy, mm) = if m <= 2 {
        (y - 1, m as i64 + 9)
    } else {
        (y, m as i64 - 3)
    };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let z = era * 146_097 + doe + days;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(input: &str) -> Result<Period, PeriodError> {
        let s = input.trim();
        let err = |reason| PeriodError {
            input: input.to_string(),
            reason,
        };
        if s.len() < 4 || !s.is_ascii() || !s.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
            return Err(err("it must start with a four-digit year"));
        }
        let y: i32 = s[..4].parse().map_err(|_| err("bad year"))?;
        let rest = &s[4..];
        let num = |t: &str| -> Result<u32, PeriodError> {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) || t.len() > 2 {
                return Err(err("bad number after the year"));
            }
            t.parse().map_err(|_| err("bad number after the year"))
        };
        let p = match rest.as_bytes().first() {
            None => Period::year(y),
            Some(b'Q') | Some(b'q') => Period::quarter(y, num(&rest[1..])?),
            Some(b'S') | Some(b's') => Period::six_month(y, num(&rest[1..])?),
            Some(c) if c.is_ascii_digit() && rest.len() == 2 => Period::month(y, num(rest)?),
            _ => return Err(err("unrecognised suffix")),
        };
        p.ok_or_else(|| {
            err("out of range (year 1900–2199, quarter 1–4, month 01–12, six-month 1–2)")
        })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let y = self.year_number();
        match self.kind {
            PeriodType::Yearly => write!(f, "{y}"),
            PeriodType::SixMonthly => write!(f, "{y}S{}", (self.first_month() - 1) / 6 + 1),
            PeriodType::Quarterly => write!(f, "{y}Q{}", (self.first_month() - 1) / 3 + 1),
            PeriodType::Monthly => write!(f, "{y}{:02}", self.first_month()),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Period {
        s.parse().unwrap()
    }

    #[test]
    fn add_days_crosses_months_years_and_leap_days() {
        assert_eq!(add_days("2024-12-31", 15).as_deref(), Some("2025-01-15"));
        assert_eq!(add_days("2024-02-28", 1).as_deref(), Some("2024-02-29"));
        assert_eq!(add_days("2023-02-28", 1).as_deref(), Some("2023-03-01"));
        assert_eq!(add_days("2024-03-01", -1).as_deref(), Some("2024-02-29"));
        assert_eq!(add_days("2024-06-30", 0).as_deref(), Some("2024-06-30"));
        assert_eq!(add_days("2024-13-01", 1), None);
        assert_eq!(add_days("2024-02-30", 1), None);
    }

    #[test]
    fn parses_and_prints_round_trip() {
        for s in ["2024", "2024Q1", "2024Q4", "202401", "202412", "2025S2"] {
            assert_eq!(p(s).to_string(), s);
        }
        assert_eq!(p("2024q3").to_string(), "2024Q3");
    }

    #[test]
    fn rejects_bad_periods() {
        for s in [
            "", "24", "2024Q5", "202413", "202400", "2024W", "abcd", "2024-01", "1800", "2024Q",
            "٢٠٢٤",
        ] {
            assert!(s.parse::<Period>().is_err(), "{s} should fail");
        }
    }

    #[test]
    fn containment() {
        assert!(p("2024").contains(&p("2024Q2")));
        assert!(p("2024").contains(&p("202411")));
        assert!(p("2024Q2").contains(&p("202405")));
        assert!(!p("2024Q2").contains(&p("202407")));
        assert!(!p("2024Q2").contains(&p("2024")));
        assert!(p("2024S2").contains(&p("2024Q4")));
        assert_eq!(
            p("202405").enclosing(PeriodType::Quarterly),
            Some(p("2024Q2"))
        );
        assert_eq!(p("202405").enclosing(PeriodType::Yearly), Some(p("2024")));
        assert_eq!(p("2024").split(PeriodType::Quarterly).len(), 4);
        assert_eq!(p("2024Q1").split(PeriodType::Monthly)[2], p("202403"));
    }

    #[test]
    fn dates_and_shifts() {
        assert_eq!(p("2024Q1").end_date(), "2024-03-31");
        assert_eq!(p("202402").end_date(), "2024-02-29");
        assert_eq!(p("202302").end_date(), "2023-02-28");
        assert_eq!(p("2024").start_date(), "2024-01-01");
        assert_eq!(p("2024Q1").shift(-1), Some(p("2023Q4")));
        assert_eq!(p("2020").shift(5), Some(p("2025")));
    }
}

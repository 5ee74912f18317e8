//! Wall-clock time as ISO 8601 UTC text (`2026-11-23T13:10:54.123Z`), the form stored in both engines.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now() -> String {
    format_millis(now_millis())
}

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

/// The instant `seconds` from now (negative: ago), as stored text.
pub fn in_seconds(seconds: i64) -> String {
    format_millis(now_millis() + seconds * 1000)
}

/// Format milliseconds since the Unix epoch.
pub fn format_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Today as `YYYY-MM-DD`.
pub fn today() -> String {
    now()[..10].to_string()
}

/// Read an instant: `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS[.fff]]` with an optional
/// `Z` or `±HH:MM` offset (UTC without one; a space may stand for the `T`, and for the `+` of an
/// offset, which a query string turns into a space). Returns milliseconds since the Unix epoch.
pub fn parse_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let date = s.get(..10)?;
    let (y, m, d) = (
        num(date.get(..4)?)?,
        num(date.get(5..7)?)?,
        num(date.get(8..10)?)?,
    );
    if date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' || !(1..=12).contains(&m) {
        return None;
    }
    if d < 1 || d > days_in_month(y, m as u32) as i64 {
        return None;
    }
    let mut ms = days_from_civil(y, m as u32, d as u32) * 86_400_000;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    // the time, then an optional zone
    let split = rest
        .char_indices()
        .skip(5)
        .find(|(_, c)| matches!(c, 'Z' | 'z' | '+' | '-' | ' '))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    let (time, zone) = rest.split_at(split);
    let mut parts = time.splitn(3, ':');
    let (h, mi) = (num(parts.next()?)?, num(parts.next()?)?);
    let (sec, frac) = match parts.next() {
        None => (0, 0),
        Some(sf) => {
            let (sec, frac) = sf.split_once('.').unwrap_or((sf, ""));
            let frac = if frac.is_empty() {
                0
            } else {
                // milliseconds: the first three digits
                let digits = format!("{frac:0<3}");
                num(&digits)?;
                num(&digits[..3])?
            };
            (num(sec)?, frac)
        }
    };
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    ms += ((h * 60 + mi) * 60 + sec) * 1000 + frac;
    let offset = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let sign = match z.as_bytes()[0] {
                b'+' | b' ' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = &z[1..];
            let (oh, om) = z.split_once(':').unwrap_or((z.get(..2)?, z.get(2..)?));
            let (oh, om) = (num(oh)?, num(om)?);
            if oh > 18 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om) * 60_000
        }
    };
    Some(ms - offset)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) → days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_instants_with_and_without_zones() {
        use super::{format_millis, parse_instant};
        let p = |s: &str| parse_instant(s).map(format_millis);
        assert_eq!(p("2024-02-29").as_deref(), Some("2024-02-29T00:00:00.000Z"));
        assert_eq!(
            p("2024-02-29T23:59:59.999Z").as_deref(),
            Some("2024-02-29T23:59:59.999Z")
        );
        assert_eq!(
            p("2025-01-01T06:30").as_deref(),
            Some("2025-01-01T06:30:00.000Z")
        );
        assert_eq!(
            p("2025-01-01T06:30:00+07:00").as_deref(),
            Some("2024-12-31T23:30:00.000Z")
        );
        assert_eq!(
            p("2025-01-01 06:30:00 07:00").as_deref(),
            Some("2024-12-31T23:30:00.000Z"),
            "a + turned into a space by a query string"
        );
        assert_eq!(
            p("2025-01-01T06:30:00.5-0130").as_deref(),
            Some("2025-01-01T08:00:00.500Z")
        );
        for bad in [
            "",
            "2025",
            "2025-13-01",
            "2025-02-29",
            "2025-1-01",
            "2025-01-01T25:00",
            "2025-01-01Tnoon",
            "2025-01-01T06:30:00+7",
            "yesterday",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad:?}");
        }
        for ms in [0_i64, 1_709_251_199_999, 1_795_438_254_123, -86_400_000] {
            assert_eq!(parse_instant(&format_millis(ms)), Some(ms));
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(super::format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::format_millis(1_709_251_199_999),
            "2024-02-29T23:59:59.999Z"
        );
        assert_eq!(
            super::format_millis(1_795_438_254_123),
            "2026-11-23T12:50:54.123Z"
        );
    }
}

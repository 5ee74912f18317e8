//! Data values: one figure for an indicator × unit × period × disaggregation.

use crate::indicator::ValueType;
use serde::Serialize;

/// A value checked against its indicator's type, ready to store: the number (for numeric
/// types, `yes_no` as 1/0) and the text exactly as it will be given back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckedValue {
    pub number: Option<f64>,
    pub text: String,
}

/// Longest text value accepted.
pub const MAX_TEXT: usize = 50_000;

/// Check a raw value (as it arrives in DHIS2 JSON, CSV or a form) against a value type.
/// Numbers use `.` as the decimal mark and no thousands separators, as in DHIS2.
pub fn check_value(vt: ValueType, raw: &str) -> Result<CheckedValue, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("the value is empty".into());
    }
    let number = |s: &str| -> Result<f64, String> {
        let ok = s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
        match s.parse::<f64>() {
            Ok(n) if ok && n.is_finite() => Ok(n),
            _ => Err(format!(
                "{s:?} is not a number (use . as the decimal mark, no thousands separators)"
            )),
        }
    };
    match vt {
        ValueType::Number => {
            let n = number(s)?;
            Ok(CheckedValue {
                number: Some(n),
                text: fmt_num(n),
            })
        }
        ValueType::Integer => {
            let n = number(s)?;
            if n.fract() != 0.0 || n.abs() > 9.0e15 {
                return Err(format!("{s:?} is not a whole number"));
            }
            Ok(CheckedValue {
                number: Some(n),
                text: fmt_num(n),
            })
        }
        ValueType::Percent => {
            let n = number(s.trim_end_matches('%').trim_end())?;
            if !(0.0..=100.0).contains(&n) {
                return Err(format!("{s:?} is not a percentage between 0 and 100"));
            }
            Ok(CheckedValue {
                number: Some(n),
                text: fmt_num(n),
            })
        }
        ValueType::YesNo => {
            let b = match s.to_lowercase().as_str() {
                "true" | "1" | "yes" | "có" | "co" => true,
                "false" | "0" | "no" | "không" | "khong" => false,
                _ => return Err(format!("{s:?} is not yes/no (true/false, 1/0, có/không)")),
            };
            Ok(CheckedValue {
                number: Some(if b { 1.0 } else { 0.0 }),
                text: b.to_string(),
            })
        }
        ValueType::Text => {
            if s.chars().count() > MAX_TEXT {
                return Err(format!("the text is longer than {MAX_TEXT} characters"));
            }
            Ok(CheckedValue {
                number: None,
                text: crate::text::clean(s),
            })
        }
    }
}

/// Shortest text for a number: `12` not `12.0`, `12.31` not `12.310000000000001`.
pub fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A number for people to read, the Vietnamese way (`162.531`, `12,31`, `-1.500,5`: `.` groups
/// thousands, `,` marks decimals) or, when `vietnamese` is false, the English way (`162,531`,
/// `12.31`). Digits as [`fmt_num`] gives them: no rounding, no trailing zeros.
pub fn format_number(n: f64, vietnamese: bool) -> String {
    let (thousands, decimal) = if vietnamese { ('.', ',') } else { (',', '.') };
    let s = fmt_num(n);
    let (int, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s.as_str(), None),
    };
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", int),
    };
    let mut out = String::with_capacity(s.len() + digits.len() / 3 + 1);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(thousands);
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push(decimal);
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(
            check_value(ValueType::Integer, " 162531 ").unwrap().number,
            Some(162531.0)
        );
        assert_eq!(check_value(ValueType::Integer, "12.0").unwrap().text, "12");
        assert!(check_value(ValueType::Integer, "12.5").is_err());
        assert!(check_value(ValueType::Number, "1,5").is_err());
        assert!(check_value(ValueType::Number, "NaN").is_err());
        assert!(check_value(ValueType::Number, "inf").is_err());
        assert!(check_value(ValueType::Number, "").is_err());
        assert_eq!(
            check_value(ValueType::Percent, "12.31").unwrap().number,
            Some(12.31)
        );
        assert_eq!(
            check_value(ValueType::Percent, "95%").unwrap().number,
            Some(95.0)
        );
        assert!(check_value(ValueType::Percent, "101").is_err());
    }

    #[test]
    fn yes_no_and_text() {
        assert_eq!(check_value(ValueType::YesNo, "Có").unwrap().text, "true");
        assert!(check_value(ValueType::YesNo, "maybe").is_err());
        assert_eq!(
            check_value(ValueType::Text, " Bản Phùng ").unwrap().text,
            "Bản Phùng"
        );
    }
}

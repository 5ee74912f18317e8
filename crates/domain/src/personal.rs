//! Personal data (Law 91/2025/QH15, Decree 356/2025/NĐ-CP): every person record in this system
//! reveals ethnic origin and is therefore *sensitive*. Fields marked personal (phone, ID number,
//! date of birth) are stored encrypted and shown masked unless the viewer's role allows.

/// Which fields are personal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalField {
    Phone,
    IdNumber,
    DateOfBirth,
}

/// `0912345678` → `09******78`.
pub fn mask_phone(p: &str) -> String {
    mask_middle(p, 2, 2)
}

/// `001203004567` → `*********567`.
pub fn mask_id(p: &str) -> String {
    mask_middle(p, 0, 3)
}

/// `1975-04-30` → `****-**-**` but the year: `1975-**-**`.
pub fn mask_date(d: &str) -> String {
    match d.get(0..4) {
        Some(y) if d.len() == 10 => format!("{y}-**-**"),
        _ => "**********".into(),
    }
}

pub fn mask(field: PersonalField, v: &str) -> String {
    match field {
        PersonalField::Phone => mask_phone(v),
        PersonalField::IdNumber => mask_id(v),
        PersonalField::DateOfBirth => mask_date(v),
    }
}

fn mask_middle(s: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= keep_start + keep_end {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_start || i >= chars.len() - keep_end {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// A Vietnamese or international phone number: 8–15 digits, optionally `+` first, spaces,
/// dots or dashes between.
pub fn check_phone(p: &str) -> Result<(), String> {
    let digits = p.chars().filter(|c| c.is_ascii_digit()).count();
    let ok = (8..=15).contains(&digits)
        && p.chars().enumerate().all(|(i, c)| {
            c.is_ascii_digit() || matches!(c, ' ' | '.' | '-') || (c == '+' && i == 0)
        });
    if ok {
        Ok(())
    } else {
        Err("a phone number has 8–15 digits (spaces, dots, dashes and a leading + allowed)".into())
    }
}

/// Citizen ID (CCCD, 12 digits) or old ID card (CMND, 9 digits).
pub fn check_id_number(p: &str) -> Result<(), String> {
    if (p.len() == 12 || p.len() == 9) && p.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("an ID number has 12 digits (CCCD) or 9 digits (CMND)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_phone("0912345678"), "09******78");
        assert_eq!(mask_id("001203004567"), "*********567");
        assert_eq!(mask_date("1975-04-30"), "1975-**-**");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn checks() {
        assert!(check_phone("+84 912 345 678").is_ok());
        assert!(check_phone("0912-345-678").is_ok());
        assert!(check_phone("12ab5678").is_err());
        assert!(check_phone("<script>").is_err());
        assert!(check_id_number("001203004567").is_ok());
        assert!(check_id_number("12345").is_err());
    }
}

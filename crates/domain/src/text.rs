//! Vietnamese text: NFC normalisation on input and diacritic-insensitive folding for search.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// NFC-normalise and trim a value that came from a user, a file or an API call.
pub fn clean(s: &str) -> String {
    let t = s.trim();
    if unicode_normalization::is_nfc(t) {
        t.to_string()
    } else {
        t.nfc().collect()
    }
}

/// Fold text for search: lower case, no diacritics (`đ` → `d`), runs of
/// white space and punctuation collapsed to one space.
/// `fold("Xã Đông Ngũ")` == `fold("xa dong ngu")` == `"xa dong ngu"`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_alphanumeric() {
            for l in c.to_lowercase() {
                out.push(l);
            }
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese() {
        assert_eq!(fold("Quảng Ninh"), "quang ninh");
        assert_eq!(fold("Xã Đông Ngũ"), "xa dong ngu");
        assert_eq!(fold("  HMông,  Ê-đê "), "hmong e de");
        assert_eq!(fold("Hoà"), fold("Hòa"));
    }

    #[test]
    fn nfd_and_nfc_fold_alike() {
        let nfd: String = "Bắc Kạn".nfd().collect();
        assert_ne!(nfd, "Bắc Kạn");
        assert_eq!(fold(&nfd), fold("Bắc Kạn"));
        assert_eq!(clean(&nfd), "Bắc Kạn");
    }

    #[test]
    fn fold_is_idempotent() {
        for s in ["Thái Nguyên", "Đặc khu Côn Đảo", "Pà Thẻn", "ƠĐu"] {
            assert_eq!(fold(&fold(s)), fold(s));
        }
    }
}

//! `Period::from_str` (DHIS2 period notation, from every request and file): a parsed period
//! prints in a form that parses back to itself, and its calendar helpers agree with each other.
#![no_main]

use dantoc_domain::period::{Period, PeriodType};
use libfuzzer_sys::fuzz_target;

const KINDS: [PeriodType; 4] = [
    PeriodType::Yearly,
    PeriodType::SixMonthly,
    PeriodType::Quarterly,
    PeriodType::Monthly,
];

fuzz_target!(|s: &str| {
    let Ok(p) = s.parse::<Period>() else {
        return;
    };
    let shown = p.to_string();
    let again: Period = shown
        .parse()
        .unwrap_or_else(|e| panic!("{p:?} prints as {shown:?}, which does not parse: {e}"));
    assert_eq!(again, p, "{shown:?}");
    assert_eq!(again.to_string(), shown);
    // the input was the same period, written the canonical way or not
    assert!((1900..=2199).contains(&p.year_number()));
    let (a, b) = p.month_range();
    assert_eq!(b - a + 1, p.kind().months());
    assert!(p.first_month() >= 1 && p.last_month() <= 12);
    assert!(p.start_date() <= p.end_date());
    assert!(p.contains(&p));
    for kind in KINDS {
        if let Some(e) = p.enclosing(kind) {
            assert!(e.contains(&p), "{e} should contain {p}");
            assert_eq!(e.kind(), kind);
        }
        let parts = p.split(kind);
        if kind.months() <= p.kind().months() {
            assert_eq!(parts.len() as u32, p.kind().months() / kind.months());
        }
        for q in parts {
            assert!(p.contains(&q), "{p} should contain {q}");
            assert_eq!(q.enclosing(p.kind()), Some(p));
        }
    }
    for n in [-1, 1] {
        if let Some(q) = p.shift(n) {
            assert_eq!(q.kind(), p.kind());
            assert_eq!(q.shift(-n), Some(p));
            assert_eq!(q.to_string().parse::<Period>(), Ok(q));
        }
    }
});

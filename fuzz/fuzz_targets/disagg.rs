//! `Disagg::from_str` (category option combos such as `E02.F.R.A15-19`): a parsed
//! disaggregation prints in a form that parses back to itself.
#![no_main]

use dantoc_domain::disagg::Disagg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    let Ok(d) = s.parse::<Disagg>() else {
        return;
    };
    let code = d.code();
    assert_eq!(code, d.to_string());
    let again: Disagg = code
        .parse()
        .unwrap_or_else(|e| panic!("{d:?} prints as {code:?}, which does not parse: {e}"));
    assert_eq!(again, d, "{code:?}");
    assert_eq!(d.is_total(), code == Disagg::DEFAULT_CODE);
    assert_eq!(
        d.dimensions().len(),
        code.split('.').count() * usize::from(!d.is_total())
    );
    assert!(!d.label_vi(|_| None).is_empty());
    assert!(!d.label_vi(|e| Some(format!("dân tộc {e}"))).is_empty());
});

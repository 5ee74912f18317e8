//! `Expr::parse` and `eval` (formulas of derived indicators, entered by provinces): parsing
//! never panics, and evaluation only reports codes the formula names.
#![no_main]

use dantoc_domain::formula::{Expr, NoValue};
use libfuzzer_sys::fuzz_target;

/// A value for some codes, none for others, zero for a few (to reach division by zero).
fn lookup(code: &str) -> Option<f64> {
    let h = code
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    match h % 5 {
        0 => None,
        1 => Some(0.0),
        n => Some(n as f64 * 12.5),
    }
}

fuzz_target!(|s: &str| {
    let Ok(e) = Expr::parse(s) else {
        return;
    };
    let refs = e.references();
    let distinct: std::collections::HashSet<_> = refs.iter().collect();
    assert_eq!(distinct.len(), refs.len(), "a code listed twice: {refs:?}");
    for r in &refs {
        assert!(!r.is_empty());
    }
    match e.eval(&lookup) {
        Ok(_) | Err(NoValue::DivisionByZero) => {}
        Err(NoValue::Missing(c)) => {
            assert!(refs.contains(&c), "{c} is not in {refs:?}");
            assert_eq!(lookup(&c), None);
        }
    }
    // with every code known, only a zero divisor can leave the formula without a value
    match e.eval(&|_| Some(2.0)) {
        Ok(_) | Err(NoValue::DivisionByZero) => {}
        Err(NoValue::Missing(c)) => panic!("{c} reported missing although every code has a value"),
    }
    if refs.is_empty() {
        assert!(!matches!(e.eval(&|_| None), Err(NoValue::Missing(_))));
    }
});

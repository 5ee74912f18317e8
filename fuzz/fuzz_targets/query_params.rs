//! `Params::parse` (every query string of the API) and its accessors.
#![no_main]

use dantoc_domain::disagg::Disagg;
use dantoc_web::params::Params;
use libfuzzer_sys::fuzz_target;

const KEYS: [&str; 9] = [
    "dataElement",
    "orgUnit",
    "period",
    "children",
    "limit",
    "offset",
    "q",
    "categoryOptionCombo",
    "",
];

fuzz_target!(|s: &str| {
    let p = Params::parse(Some(s));
    let first = s
        .split('&')
        .next()
        .and_then(|kv| kv.split('=').next())
        .unwrap_or("");
    for key in KEYS.iter().copied().chain([first]) {
        if let Some(v) = p.get(key) {
            assert!(!v.is_empty());
        }
        for v in p.all(key) {
            assert!(!v.is_empty() && v.trim() == v && !v.contains([';', ',']));
        }
        let _ = p.bool(key);
        if let Ok(n) = p.int(key, 7, 1000) {
            assert!((0..=1000).contains(&n));
            if p.get(key).is_none() {
                assert_eq!(n, 7);
            }
        }
        let _ = p.parsed::<Disagg>(key);
    }
});

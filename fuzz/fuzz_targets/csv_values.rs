//! `csv_values::open` over any bytes, iterating every item (the CSV importer's parsing side,
//! `dantoc import values` and `POST /api/dataValues/csv`): no panic, every error located.
#![no_main]

use dantoc_store::csv_values;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reader = match csv_values::open(data) {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(e.row, Some(1), "a header error names row 1: {e}");
            return;
        }
    };
    let loc = reader.locator();
    // records end at \n, \r or \r\n
    let lines = data.iter().filter(|b| matches!(b, b'\n' | b'\r')).count() + 1;
    let mut n = 0;
    for (i, item) in reader.enumerate() {
        n += 1;
        assert!(n <= lines, "more records than lines");
        match item {
            Ok(v) => {
                for f in [&v.indicator, &v.unit, &v.period, &v.disagg] {
                    assert_eq!(f.trim(), f.as_str(), "fields are trimmed");
                }
                if let Some(c) = &v.comment {
                    assert!(!c.is_empty());
                }
            }
            Err(e) => {
                let e = loc.locate(i, e);
                assert!(e.row.is_some(), "an error without a row: {e}");
            }
        }
        assert!(loc.row_of(i) <= lines as u64 + 1);
    }
});

//! `parse_data_value_set`: the body of DHIS2's `POST /api/dataValueSets`, any bytes.
#![no_main]

use dantoc_web::api::values::parse_data_value_set;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((_data_set, values)) = parse_data_value_set(data) {
        // a value needs at least a few bytes of JSON each
        assert!(values.len() <= data.len() / 2 + 1);
        for v in &values {
            for f in [&v.indicator, &v.unit, &v.period, &v.disagg] {
                assert_eq!(f.trim(), f.as_str(), "fields are trimmed");
            }
        }
    }
});

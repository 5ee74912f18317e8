//! `parse_data_value_set`: the body of DHIS2's `POST /api/dataValueSets`, any bytes. An accepted
//! body gives one value per entry of `dataValues`, each with its own or the set's fields.
//! (Fields are passed on as written: the import trims them when it checks them.)
#![no_main]

use dantoc_web::api::values::parse_data_value_set;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A field of a JSON object by name, or of an array by position (serde reads a struct from both).
fn field<'a>(v: &'a Value, name: &str, index: usize) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(name),
        Value::Array(a) => a.get(index),
        _ => None,
    }
}

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

fuzz_target!(|data: &[u8]| {
    let Ok((data_set, values)) = parse_data_value_set(data) else {
        return;
    };
    // serde skips unknown fields without checking their escapes (a lone surrogate, say), which
    // a full parse refuses: such bodies are not compared
    let Ok(set) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    assert_eq!(data_set.as_deref(), text(field(&set, "dataSet", 0)));
    let items = field(&set, "dataValues", 4)
        .and_then(Value::as_array)
        .expect("an accepted body has dataValues");
    assert_eq!(values.len(), items.len());
    for (v, item) in values.iter().zip(items) {
        assert!(
            !v.indicator.is_empty(),
            "a value without dataElement was accepted"
        );
        assert_eq!(
            Some(v.indicator.as_str()),
            text(field(item, "dataElement", 0))
        );
        let own_or_set = |name, i, j| {
            text(field(item, name, i))
                .or(text(field(&set, name, j)))
                .unwrap_or("")
        };
        assert_eq!(v.period, own_or_set("period", 1, 1));
        assert_eq!(v.unit, own_or_set("orgUnit", 2, 2));
    }
});

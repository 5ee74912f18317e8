//! `xlsx_values::read` over any bytes (the form file importer's reading side,
//! `POST /api/forms/{code}/import.xlsx` and `dantoc import form`): no panic, no runaway memory;
//! a refusal is about the file or its keys, and a file read back has one content per key cell.
#![no_main]

use dantoc_store::xlsx_values;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match xlsx_values::read(data) {
        Ok(f) => {
            assert_eq!(f.cells.len(), f.keys.cells.len());
            for i in 0..f.cells.len() {
                let (cell, row, col) = f.place(i);
                assert!(cell.contains('!') && row >= 1 && col >= 1, "{cell}");
            }
        }
        Err(e) => assert!(e.field == "file" || e.field == "keys", "{e}"),
    }
});

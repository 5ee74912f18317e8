//! A form file (the xlsx template of `dantoc_report::form_xlsx`, filled in Excel, LibreOffice
//! or any program) read back: its keys ([`FileKeys`], checked against their checksum) and the
//! content of each input cell they name.
//!
//! Read with calamine, cell by cell as the sheet's XML streams past (never as a dense range:
//! one cell far out would make calamine allocate rows × columns), after the zip's declared
//! sizes are checked, and inside `catch_unwind`: no input, however broken, panics the server.

use calamine::{DataRef, Reader, Xlsx, XlsxError};
use dantoc_domain::FieldError;
use dantoc_domain::form_file::{DATA_SHEET, FileKeys, KEYS_SHEET, MAX_CELLS, parse_cell};
use std::collections::HashMap;
use std::io::Cursor;

/// Most bytes the files in the zip may take once uncompressed (a form's file takes tens of
/// kilobytes; Excel adds little).
pub const MAX_UNCOMPRESSED: u128 = 64 * 1024 * 1024;
/// Most cells read from one sheet.
const MAX_SHEET_CELLS: usize = 1_000_000;

/// What an input cell holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Empty,
    Number(f64),
    Text(String),
    Bool(bool),
    /// Something that is no value: a date, an Excel error (`#DIV/0!`).
    Bad(String),
}

/// A form file read back: the keys, and the content of each cell they name
/// (`cells[i]` is the content of `keys.cells[i]`).
#[derive(Debug, Clone)]
pub struct FormFile {
    pub keys: FileKeys,
    pub cells: Vec<Content>,
}

impl FormFile {
    /// `Biểu!D12` and the 1-based row and column of key cell `i`.
    pub fn place(&self, i: usize) -> (String, u64, u64) {
        let name = self
            .keys
            .cells
            .get(i)
            .map(|c| c.cell.as_str())
            .unwrap_or("");
        let (r, c) = parse_cell(name).unwrap_or((0, 0));
        (
            format!("{}!{name}", self.keys.sheet),
            r as u64 + 1,
            c as u64 + 1,
        )
    }
}

fn file_error(msg: impl Into<String>) -> FieldError {
    FieldError::new("file", msg)
}

/// Read a form file. Every refusal says what is wrong (and, for the keys, where).
pub fn read(bytes: &[u8]) -> Result<FormFile, FieldError> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(file_error(
            "this is not an .xlsx file: upload the Excel file (.xlsx) downloaded from dantoc \
             (.xls, .ods and .csv are not form files)",
        ));
    }
    let zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| file_error(format!("this .xlsx file is damaged (zip: {e})")))?;
    if zip
        .decompressed_size()
        .is_some_and(|n| n > MAX_UNCOMPRESSED)
    {
        return Err(file_error(format!(
            "this .xlsx file unpacks to more than {} MB: a form's file is far smaller",
            MAX_UNCOMPRESSED / (1024 * 1024)
        )));
    }
    drop(zip);
    std::panic::catch_unwind(|| read_checked(bytes)).unwrap_or_else(|_| {
        Err(file_error(
            "this .xlsx file could not be read (it is damaged or not a spreadsheet)",
        ))
    })
}

fn xlsx_error(e: XlsxError) -> FieldError {
    file_error(format!("this .xlsx file could not be read: {e}"))
}

fn read_checked(bytes: &[u8]) -> Result<FormFile, FieldError> {
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(xlsx_error)?;
    let names = wb.sheet_names();
    if !names.iter().any(|n| n == KEYS_SHEET) {
        return Err(file_error(format!(
            "this file has no sheet {KEYS_SHEET}: it is not a form file made by dantoc, or a \
             program dropped its hidden sheet — download the template of the form and fill that"
        )));
    }
    // the keys: 6 columns, a header of 7 rows and one row per cell
    let mut rows: Vec<Vec<String>> = vec![];
    {
        let mut r = wb.worksheet_cells_reader(KEYS_SHEET).map_err(xlsx_error)?;
        let mut seen = 0usize;
        while let Some(cell) = r.next_cell().map_err(xlsx_error)? {
            seen += 1;
            if seen > MAX_SHEET_CELLS {
                return Err(file_error(format!("the sheet {KEYS_SHEET} is too large")));
            }
            let (row, col) = cell.get_position();
            if col >= 6 || row as usize > 7 + MAX_CELLS {
                continue;
            }
            let text = match cell.get_value() {
                DataRef::String(s) => s.clone(),
                DataRef::SharedString(s) => s.to_string(),
                DataRef::Int(n) => n.to_string(),
                DataRef::Float(f) => dantoc_domain::value::fmt_num(*f),
                DataRef::Empty => continue,
                other => format!("{other:?}"),
            };
            let (row, col) = (row as usize, col as usize);
            if rows.len() <= row {
                rows.resize(row + 1, vec![]);
            }
            if rows[row].len() <= col {
                rows[row].resize(col + 1, String::new());
            }
            rows[row][col] = text;
        }
    }
    let keys = FileKeys::from_rows(&rows)?;
    if !names.contains(&keys.sheet) {
        return Err(file_error(format!(
            "this file has no sheet {:?} (was it renamed? its name must stay {DATA_SHEET:?})",
            keys.sheet
        )));
    }
    let mut wanted: HashMap<(u32, u32), usize> = HashMap::with_capacity(keys.cells.len());
    for (i, c) in keys.cells.iter().enumerate() {
        if let Some(pos) = parse_cell(&c.cell) {
            wanted.insert(pos, i);
        }
    }
    let mut cells = vec![Content::Empty; keys.cells.len()];
    {
        let mut r = wb.worksheet_cells_reader(&keys.sheet).map_err(xlsx_error)?;
        let mut seen = 0usize;
        while let Some(cell) = r.next_cell().map_err(xlsx_error)? {
            seen += 1;
            if seen > MAX_SHEET_CELLS {
                return Err(file_error(format!(
                    "the sheet {} has more than {MAX_SHEET_CELLS} cells: not a form's sheet",
                    keys.sheet
                )));
            }
            let Some(&i) = wanted.get(&cell.get_position()) else {
                continue;
            };
            cells[i] = match cell.get_value() {
                DataRef::Empty => Content::Empty,
                DataRef::Int(n) => Content::Number(*n as f64),
                DataRef::Float(f) => Content::Number(*f),
                DataRef::String(s) => text(s),
                DataRef::SharedString(s) => text(s),
                DataRef::Bool(b) => Content::Bool(*b),
                DataRef::DateTime(_) | DataRef::DateTimeIso(_) => {
                    Content::Bad("the cell holds a date, not a figure".into())
                }
                DataRef::DurationIso(_) => {
                    Content::Bad("the cell holds a duration, not a figure".into())
                }
                DataRef::Error(e) => Content::Bad(format!("the cell holds the Excel error {e}")),
            };
        }
    }
    Ok(FormFile { keys, cells })
}

fn text(s: &str) -> Content {
    let t = dantoc_domain::text::clean(s);
    if t.is_empty() {
        Content::Empty
    } else {
        Content::Text(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncated_files_are_refused_without_panic() {
        for bad in [
            &b""[..],
            b"PK",
            b"PK\x03\x04garbage",
            b"indicator,unit,period,value\n",
            &[0u8; 100][..],
        ] {
            let e = read(bad).unwrap_err();
            assert_eq!(e.field, "file", "{e}");
        }
    }

    /// A template for 06877 and 2026 (the fuzz seeds), and the same file after openpyxl
    /// wrote 120 into 0101 E02.M and "4.512" into x-pop-total F and saved it.
    const TEMPLATE: &[u8] = include_bytes!("../../../fuzz/seeds/form_xlsx/template.xlsx");
    const FILLED: &[u8] = include_bytes!("../../../fuzz/seeds/form_xlsx/filled-by-openpyxl.xlsx");

    fn content(f: &FormFile, ind: &str, disagg: &str) -> Content {
        let i = f
            .keys
            .cells
            .iter()
            .position(|c| c.indicator == ind && c.disagg == disagg)
            .unwrap_or_else(|| panic!("no cell {ind} {disagg}"));
        f.cells[i].clone()
    }

    #[test]
    fn a_file_saved_by_openpyxl_reads_back() {
        let t = read(TEMPLATE).unwrap();
        let f = read(FILLED).unwrap();
        assert_eq!(t.keys, f.keys, "openpyxl keeps the keys");
        assert_eq!(f.keys.form, "BM-DTTS-01");
        assert_eq!(f.keys.unit, "06877@2025");
        assert_eq!(f.keys.period, "2026");
        assert_eq!(content(&t, "0101", "E02.M"), Content::Number(100.0));
        assert_eq!(content(&f, "0101", "E02.M"), Content::Number(120.0));
        assert_eq!(
            content(&f, "x-pop-total", "F"),
            Content::Text("4.512".into())
        );
        assert_eq!(content(&f, "x-pop-total", "M"), Content::Empty);
        let (cell, row, col) = f.place(0);
        assert!(cell.starts_with("Biểu!"), "{cell}");
        assert!(row > 5 && col == 2, "{cell}");
    }

    #[test]
    fn mutated_files_never_panic() {
        // a small deterministic generator (xorshift): flips, cuts and insertions
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for seed in [TEMPLATE, FILLED] {
            for _ in 0..400 {
                let mut b = seed.to_vec();
                for _ in 0..(next() % 8 + 1) {
                    let i = (next() as usize) % b.len();
                    match next() % 3 {
                        0 => b[i] ^= (next() % 255 + 1) as u8,
                        1 => b.truncate(i.max(4)),
                        _ => b.insert(i, next() as u8),
                    }
                }
                if let Err(e) = read(&b) {
                    assert!(e.field == "file" || e.field == "keys", "{e}");
                }
            }
        }
    }
}

//! The Excel file of a form for one unit and period (biểu mẫu Excel): what it shows and the
//! machine-readable keys that bring its cells back.
//!
//! A [`FormSheet`] is the form laid out for one unit and period — the items with their
//! Vietnamese row and column labels, each cell's disaggregation, the stored value it is
//! pre-filled with and the previous period's. The report crate writes it as xlsx; the store
//! reads the file back.
//!
//! The keys ([`FileKeys`]) sit in a very hidden sheet ([`KEYS_SHEET`]): the format and its
//! version, the form, unit and period, then one row per input cell — its address on the data
//! sheet, indicator, disaggregation, unit, period and the value it was pre-filled with — and a
//! SHA-256 checksum over all of it. A program that edits the visible sheet (Excel, LibreOffice,
//! openpyxl) leaves the keys as they were; a key edited by hand no longer matches its checksum,
//! and the file is refused.

use crate::FieldError;
use crate::form::{AxisKey, Form};
use crate::indicator::{Indicator, ValueType};
use crate::period::Period;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Written in the first cell of the keys sheet.
pub const FORMAT: &str = "dantoc-form-xlsx";
/// Version of the layout of the keys; a file of another version is refused.
pub const VERSION: &str = "1";
/// The sheet officers fill.
pub const DATA_SHEET: &str = "Biểu";
/// The very hidden sheet of the keys.
pub const KEYS_SHEET: &str = "_dantoc";
/// Most input cells a file may name (a form has hundreds at most).
pub const MAX_CELLS: usize = 100_000;

/// One cell to fill: its disaggregation, the stored value it is pre-filled with (as stored:
/// `12.5`, `true`), and the previous period's value.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetCell {
    pub disagg: String,
    pub value: Option<String>,
    pub previous: Option<String>,
}

/// One indicator of the form, as a grid of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetItem {
    /// Index into [`FormSheet::sections`].
    pub section: usize,
    pub indicator: Indicator,
    pub required: bool,
    /// Heading of the row labels (`Dân tộc`), empty for a one-row grid.
    pub row_heading: String,
    pub row_labels: Vec<String>,
    pub column_labels: Vec<String>,
    /// Rows × columns.
    pub cells: Vec<Vec<SheetCell>>,
    /// Totals of rows and columns may be computed (the figures add up).
    pub totals: bool,
}

/// A form laid out for one unit and period.
#[derive(Debug, Clone, PartialEq)]
pub struct FormSheet {
    pub form_code: String,
    pub form_name: String,
    /// Vietnamese section titles.
    pub sections: Vec<String>,
    /// The unit as keys name it: `CODE@VERSION`.
    pub unit: String,
    pub unit_code: String,
    pub unit_name: String,
    pub period: Period,
    pub previous: Option<Period>,
    /// `YYYY-MM-DD`.
    pub deadline: String,
    pub items: Vec<SheetItem>,
}

/// Where the values of a sheet come from.
pub struct SheetSources<'a> {
    pub indicator: &'a dyn Fn(&str) -> Option<Indicator>,
    pub ethnic_name: &'a dyn Fn(&str) -> Option<String>,
    /// Ethnic groups of the rows of items whose rows are the groups present in the unit.
    pub present: &'a [String],
    /// (indicator, disaggregation) → stored value text, for the period.
    pub values: &'a HashMap<(String, String), String>,
    /// The same for the previous period.
    pub previous: &'a HashMap<(String, String), String>,
}

impl FormSheet {
    /// Lay a form out for a unit (`unit` = `CODE@VERSION`) and a period.
    pub fn build(
        form: &Form,
        unit: (&str, &str, &str),
        period: Period,
        src: &SheetSources,
    ) -> Result<FormSheet, FieldError> {
        form.accepts(&period)
            .map_err(|e| FieldError::new("period", e).value(period.to_string()))?;
        let (unit_key, unit_code, unit_name) = unit;
        let mut items = vec![];
        for (si, s) in form.sections.iter().enumerate() {
            for it in &s.items {
                let ind = (src.indicator)(&it.indicator).ok_or_else(|| {
                    FieldError::new(
                        "indicator",
                        "the form names an indicator the catalogue lacks",
                    )
                    .value(&it.indicator)
                })?;
                let rows = it.row_keys(src.present);
                let cols = it.column_keys();
                let label = |k: &AxisKey| k.label_vi(src.ethnic_name);
                let cells = rows
                    .iter()
                    .map(|r| {
                        cols.iter()
                            .map(|c| {
                                let disagg = it.cell(r, c).code();
                                let key = (it.indicator.clone(), disagg.clone());
                                SheetCell {
                                    value: src.values.get(&key).cloned(),
                                    previous: src.previous.get(&key).cloned(),
                                    disagg,
                                }
                            })
                            .collect()
                    })
                    .collect();
                items.push(SheetItem {
                    section: si,
                    totals: crate::form::FormItem::totals_add_up(&ind),
                    indicator: ind,
                    required: it.required,
                    row_heading: match it.rows {
                        crate::form::Axis::Ethnic => "Dân tộc".into(),
                        _ => String::new(),
                    },
                    row_labels: rows.iter().map(label).collect(),
                    column_labels: cols.iter().map(label).collect(),
                    cells,
                });
            }
        }
        Ok(FormSheet {
            form_code: form.code.clone(),
            form_name: form.name_vi.clone(),
            sections: form.sections.iter().map(|s| s.title_vi.clone()).collect(),
            unit: unit_key.to_string(),
            unit_code: unit_code.to_string(),
            unit_name: unit_name.to_string(),
            period,
            previous: period.shift(-1),
            deadline: form.deadline(&period),
            items,
        })
    }

    /// Every cell to fill, in order.
    pub fn cell_count(&self) -> usize {
        self.items
            .iter()
            .map(|i| i.cells.iter().map(Vec::len).sum::<usize>())
            .sum()
    }
}

/// One input cell named by the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCell {
    /// Its address on the data sheet (`D12`).
    pub cell: String,
    pub indicator: String,
    pub disagg: String,
    /// The value the file was pre-filled with (as stored), if any.
    pub prefilled: Option<String>,
}

/// The machine-readable part of a form's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKeys {
    pub form: String,
    /// `CODE@VERSION`.
    pub unit: String,
    pub period: String,
    pub sheet: String,
    pub cells: Vec<KeyCell>,
}

const HEADER: [&str; 6] = [
    "cell",
    "indicator",
    "disaggregation",
    "unit",
    "period",
    "prefilled",
];

impl FileKeys {
    /// SHA-256 (hex) of everything the keys say, in a fixed order.
    pub fn checksum(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            FORMAT,
            VERSION,
            &self.form,
            &self.unit,
            &self.period,
            &self.sheet,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for c in &self.cells {
            for part in [
                c.cell.as_str(),
                &c.indicator,
                &c.disagg,
                c.prefilled.as_deref().unwrap_or(""),
            ] {
                h.update(part.as_bytes());
                h.update([0]);
            }
            h.update([1]);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The rows of the keys sheet.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let s = |x: &str| x.to_string();
        let mut rows = vec![
            vec![s(FORMAT), s(VERSION)],
            vec![s("form"), self.form.clone()],
            vec![s("unit"), self.unit.clone()],
            vec![s("period"), self.period.clone()],
            vec![s("sheet"), self.sheet.clone()],
            vec![s("checksum"), self.checksum()],
            HEADER.iter().map(|h| s(h)).collect(),
        ];
        for c in &self.cells {
            rows.push(vec![
                c.cell.clone(),
                c.indicator.clone(),
                c.disagg.clone(),
                self.unit.clone(),
                self.period.clone(),
                c.prefilled.clone().unwrap_or_default(),
            ]);
        }
        rows
    }

    /// Read the keys sheet back (`rows[r][c]`, text of each cell, `""` when empty). Anything
    /// other than what [`FileKeys::rows`] wrote — another format or version, a changed key, a
    /// checksum that does not match — is refused with the place named.
    pub fn from_rows(rows: &[Vec<String>]) -> Result<FileKeys, FieldError> {
        let at = |r: usize, c: usize| -> &str {
            rows.get(r)
                .and_then(|row| row.get(c))
                .map(|s| s.trim())
                .unwrap_or("")
        };
        let place = |r: usize, c: usize| format!("{KEYS_SHEET}!{}", cell_name(r as u32, c as u32));
        let tampered = |r: usize, c: usize, what: &str| {
            FieldError::new(
                "keys",
                format!(
                    "the hidden sheet {KEYS_SHEET} of this file was changed ({what}): download a new template"
                ),
            )
            .in_cell(place(r, c), r as u64 + 1, c as u64 + 1)
        };
        if at(0, 0) != FORMAT {
            return Err(FieldError::new(
                "file",
                "this is not a form file made by dantoc (download the template of the form first)",
            ));
        }
        if at(0, 1) != VERSION {
            return Err(FieldError::new(
                "file",
                format!(
                    "this form file has layout version {:?}; this dantoc reads version {VERSION}: download a new template",
                    at(0, 1)
                ),
            ));
        }
        for (r, name) in ["form", "unit", "period", "sheet", "checksum"]
            .iter()
            .enumerate()
        {
            if at(r + 1, 0) != *name || at(r + 1, 1).is_empty() {
                return Err(tampered(r + 1, 0, &format!("no {name} on row {}", r + 2)));
            }
        }
        for (c, h) in HEADER.iter().enumerate() {
            if at(6, c) != *h {
                return Err(tampered(6, c, "the heading of the cells"));
            }
        }
        let mut keys = FileKeys {
            form: at(1, 1).to_string(),
            unit: at(2, 1).to_string(),
            period: at(3, 1).to_string(),
            sheet: at(4, 1).to_string(),
            cells: vec![],
        };
        let mut r = 7;
        while r < rows.len() && !at(r, 0).is_empty() {
            if keys.cells.len() >= MAX_CELLS {
                return Err(tampered(r, 0, "too many cells"));
            }
            if parse_cell(at(r, 0)).is_none() {
                return Err(tampered(r, 0, "not a cell address"));
            }
            if at(r, 3) != keys.unit {
                return Err(tampered(r, 3, "a cell of another unit"));
            }
            if at(r, 4) != keys.period {
                return Err(tampered(r, 4, "a cell of another period"));
            }
            keys.cells.push(KeyCell {
                cell: at(r, 0).to_string(),
                indicator: at(r, 1).to_string(),
                disagg: at(r, 2).to_string(),
                prefilled: Some(at(r, 5).to_string()).filter(|s| !s.is_empty()),
            });
            r += 1;
        }
        if keys.checksum() != at(5, 1) {
            return Err(tampered(5, 1, "its checksum does not match the keys"));
        }
        Ok(keys)
    }
}

/// Excel's name of a cell, from 0-based row and column: (11, 3) → `D12`.
pub fn cell_name(row: u32, col: u32) -> String {
    let mut letters = vec![];
    let mut c = col as u64 + 1;
    while c > 0 {
        let r = ((c - 1) % 26) as u8;
        letters.push(b'A' + r);
        c = (c - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), row as u64 + 1)
}

/// 0-based row and column of a cell name (`D12` → (11, 3)); `None` unless it is one, within
/// Excel's 1,048,576 rows and 16,384 columns.
pub fn parse_cell(name: &str) -> Option<(u32, u32)> {
    let split = name.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = name.split_at(split);
    if letters.is_empty() || letters.len() > 3 || !letters.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    if digits.is_empty() || digits.len() > 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let col = letters
        .bytes()
        .fold(0u32, |a, b| a * 26 + (b - b'A' + 1) as u32);
    let row: u32 = digits.parse().ok()?;
    ((1..=16_384).contains(&col) && (1..=1_048_576).contains(&row)).then(|| (row - 1, col - 1))
}

/// A number typed as text the Vietnamese way, made plain for [`crate::value::check_value`]:
/// spaces dropped, `12,5` → `12.5`, `1.234,5` → `1234.5`; for a whole number (`whole`), dots
/// that group thousands are dropped too (`4.512` → `4512`: a whole number has no decimals).
/// Other text is returned trimmed.
pub fn plain_number(s: &str, whole: bool) -> String {
    let t: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    let commas = t.matches(',').count();
    if commas == 1 {
        let dots_before = t
            .split(',')
            .next()
            .map(|a| a.matches('.').count())
            .unwrap_or(0);
        let after = t.split(',').nth(1).unwrap_or("");
        if !after.contains('.') {
            // `1.234,5`: dots group thousands; `12,5`
            let int: String = if dots_before > 0 {
                t.split(',').next().unwrap_or("").replace('.', "")
            } else {
                t.split(',').next().unwrap_or("").to_string()
            };
            return format!("{int}.{after}");
        }
    }
    if whole && commas == 0 && thousands_grouped(&t) {
        return t.replace('.', "");
    }
    t
}

/// `4.512`, `-1.234.567`: digits grouped by threes with dots.
fn thousands_grouped(t: &str) -> bool {
    let digits = t.strip_prefix('-').unwrap_or(t);
    let mut groups = digits.split('.');
    let first = groups.next().unwrap_or("");
    let mut rest = groups.peekable();
    rest.peek().is_some()
        && (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && rest.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

/// What an input cell accepts, in Vietnamese (the input message of its data validation).
pub fn input_hint_vi(vt: ValueType) -> &'static str {
    match vt {
        ValueType::Integer => "Số nguyên, không âm",
        ValueType::Number => "Số (dấu phẩy thập phân theo máy)",
        ValueType::Percent => "Tỷ lệ phần trăm, từ 0 đến 100",
        ValueType::YesNo => "Chọn Có hoặc Không",
        ValueType::Text => "Văn bản",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> FileKeys {
        FileKeys {
            form: "BM-DTTS-01".into(),
            unit: "06877@2025".into(),
            period: "2025".into(),
            sheet: DATA_SHEET.into(),
            cells: vec![
                KeyCell {
                    cell: "B9".into(),
                    indicator: "x-pop-total".into(),
                    disagg: "M".into(),
                    prefilled: Some("120".into()),
                },
                KeyCell {
                    cell: "C9".into(),
                    indicator: "x-pop-total".into(),
                    disagg: "F".into(),
                    prefilled: None,
                },
            ],
        }
    }

    #[test]
    fn keys_come_back_and_a_changed_key_is_refused() {
        let k = keys();
        let rows = k.rows();
        assert_eq!(FileKeys::from_rows(&rows).unwrap(), k);
        // another disaggregation on a cell
        let mut bad = rows.clone();
        bad[8][2] = "E02.M".into();
        let e = FileKeys::from_rows(&bad).unwrap_err();
        assert_eq!(e.cell.as_deref(), Some("_dantoc!B6"), "{e}");
        assert!(e.message.contains("checksum"), "{e}");
        // another unit on a cell
        let mut bad = rows.clone();
        bad[7][3] = "06862@2025".into();
        let e = FileKeys::from_rows(&bad).unwrap_err();
        assert_eq!(e.cell.as_deref(), Some("_dantoc!D8"), "{e}");
        let mut bad = rows.clone();
        bad[0][1] = "2".into();
        assert!(
            FileKeys::from_rows(&bad)
                .unwrap_err()
                .message
                .contains("version")
        );
        assert!(FileKeys::from_rows(&[]).is_err());
        assert!(FileKeys::from_rows(&[vec!["x".into()]]).is_err());
    }

    #[test]
    fn cell_names_both_ways() {
        for (r, c, n) in [
            (0, 0, "A1"),
            (11, 3, "D12"),
            (0, 25, "Z1"),
            (0, 26, "AA1"),
            (1_048_575, 16_383, "XFD1048576"),
        ] {
            assert_eq!(cell_name(r, c), n);
            assert_eq!(parse_cell(n), Some((r, c)));
        }
        for bad in ["", "A", "12", "a1", "A0", "XFE1", "A1048577", "A1B", "A-1"] {
            assert_eq!(parse_cell(bad), None, "{bad}");
        }
    }

    #[test]
    fn vietnamese_numbers_are_made_plain() {
        assert_eq!(plain_number(" 12,5 ", false), "12.5");
        assert_eq!(plain_number("1.234,5", false), "1234.5");
        assert_eq!(plain_number("1 234", false), "1234");
        assert_eq!(plain_number("12.5", false), "12.5");
        assert_eq!(plain_number("4.512", false), "4.512", "a decimal point");
        assert_eq!(
            plain_number("4.512", true),
            "4512",
            "thousands of a whole number"
        );
        assert_eq!(plain_number("-1.234.567", true), "-1234567");
        assert_eq!(
            plain_number("12.5", true),
            "12.5",
            "not grouped: refused later"
        );
        assert_eq!(plain_number("abc", true), "abc");
        assert_eq!(plain_number("1,2,3", false), "1,2,3");
    }
}

//! The pivot table as CSV in long form, one row per cell, for spreadsheets and scripts:
//!
//! ```text
//! Mã chỉ tiêu,Chỉ tiêu,Mã kỳ,Kỳ,Mã đơn vị hành chính,Đơn vị hành chính,…,value,mapped,estimated,reason
//! 0101,Dân số dân tộc thiểu số,2024,Năm 2024,22,Tỉnh Quảng Ninh,…,17530,false,false,
//! ```
//!
//! Two columns per dimension (code, then Vietnamese name; headed by the dimension's Vietnamese
//! name), in the order of [`PivotTable::observations`]: filters with one item, row dimensions,
//! column dimensions (a filter with several items was summed over and has no column). Then the
//! figure (`.` as decimal mark, no grouping; empty when there is none), `mapped` and
//! `estimated` as `true`/`false`, and `reason` (why a figure is missing, when known). UTF-8
//! with a byte-order mark, so that Excel reads the Vietnamese text right, like every CSV export
//! of dantoc.

use crate::ReportError;
use dantoc_domain::analytics::{Dim, PivotTable};
use std::io::Write;

/// UTF-8 byte-order mark.
const BOM: &str = "\u{feff}";

/// The table as CSV text, starting with the byte-order mark.
pub fn write(t: &PivotTable) -> String {
    let mut out = Vec::new();
    write_to(&mut out, t).expect("writing CSV into memory cannot fail");
    String::from_utf8(out).expect("the CSV writer writes the UTF-8 it is given")
}

/// Write the table as CSV into `out`, starting with the byte-order mark.
pub fn write_to<W: Write>(mut out: W, t: &PivotTable) -> Result<(), ReportError> {
    out.write_all(BOM.as_bytes())?;
    let mut w = ::csv::Writer::from_writer(out);
    let dims: Vec<&Dim> = t
        .filters
        .iter()
        .filter(|d| d.items.len() == 1)
        .chain(&t.row_dims)
        .chain(&t.col_dims)
        .collect();
    let mut header: Vec<String> = Vec::with_capacity(dims.len() * 2 + 4);
    for d in &dims {
        header.push(format!("Mã {}", lower_first(&d.name_vi)));
        header.push(d.name_vi.clone());
    }
    header.extend(["value", "mapped", "estimated", "reason"].map(String::from));
    w.write_record(&header)?;

    let mut record: Vec<String> = Vec::with_capacity(header.len());
    for (key, cell) in t.observations() {
        record.clear();
        for (_, item) in key {
            record.push(item.code.clone());
            record.push(item.name.clone());
        }
        record.push(match cell.value {
            Some(v) if v.is_finite() => v.to_string(),
            _ => String::new(),
        });
        record.push(cell.mapped.to_string());
        record.push(cell.estimated.to_string());
        record.push(cell.reason.clone().unwrap_or_default());
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(())
}

/// "Chỉ tiêu" → "chỉ tiêu", for "Mã chỉ tiêu"; a name starting with an abbreviation
/// ("DTTS …") is kept as it is.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && !b.is_uppercase() => {
            a.to_lowercase().chain(s.chars().skip(1)).collect()
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_as_csv() {
        let out = write(&PivotTable::sample());
        assert!(out.starts_with(BOM));
        let mut r = ::csv::Reader::from_reader(&out.as_bytes()[BOM.len()..]);
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(
            header,
            [
                "Mã chỉ tiêu",
                "Chỉ tiêu",
                "Mã kỳ",
                "Kỳ",
                "Mã đơn vị hành chính",
                "Đơn vị hành chính",
                "Mã dân tộc",
                "Dân tộc",
                "Mã giới tính",
                "Giới tính",
                "value",
                "mapped",
                "estimated",
                "reason"
            ]
        );
        let rows: Vec<Vec<String>> = r
            .records()
            .map(|rec| rec.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(rows.len(), 8, "every cell, with or without a figure");
        assert_eq!(
            rows[0],
            [
                "0101",
                "Dân số dân tộc thiểu số",
                "2024",
                "Năm 2024",
                "22",
                "Tỉnh Quảng Ninh",
                "02",
                "Tày",
                "M",
                "Nam",
                "17530",
                "false",
                "false",
                ""
            ]
        );
        assert_eq!(rows[3][10..], ["", "false", "false", "chia cho 0"]);
        assert_eq!(rows[5][10..], ["215927.5", "false", "false", ""]);
        assert_eq!(rows[6][10..], ["60115", "true", "true", ""]);
    }

    #[test]
    fn text_is_quoted_and_filters_with_several_items_have_no_columns() {
        let mut t = PivotTable::sample();
        t.row_dims[0].items[0].name = "Tỉnh \"A\", mới".into();
        let again = t.filters[1].items[0].clone();
        t.filters[1].items.push(again);
        let out = write(&t);
        let header = out.lines().next().unwrap();
        assert!(!header.contains("Kỳ"), "{header}");
        assert!(out.contains(",\"Tỉnh \"\"A\"\", mới\","), "{out}");
    }

    #[test]
    fn lower_first_keeps_abbreviations() {
        assert_eq!(lower_first("Chỉ tiêu"), "chỉ tiêu");
        assert_eq!(lower_first("Đơn vị"), "đơn vị");
        assert_eq!(lower_first("DTTS"), "DTTS");
        assert_eq!(lower_first(""), "");
    }
}

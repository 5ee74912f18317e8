//! The Excel template of a form for one unit and period ([`FormSheet`]), to fill in Excel or
//! LibreOffice and import back:
//!
//! ```text
//!  Biểu 01/DT: Dân số, hộ và hộ nghèo dân tộc thiểu số        ← title
//!  Đơn vị báo cáo: Xã Hoà Bình (mã 06877)
//!  Kỳ báo cáo: Năm 2025 · Hạn nộp: 15/01/2026 · Mã biểu: BM-DTTS-01
//!  Hướng dẫn: …
//!
//!  I. Dân số                                                  ← section
//!  0101 – Dân số dân tộc thiểu số (người) *                   ← indicator, * = required
//! ┌──────────┬────────┬────────┬─────────┬──────────────┬──────────────┐
//! │ Dân tộc  │  Nam   │   Nữ   │ Tổng số │ Năm 2024: Nam│ Năm 2024: Nữ │
//! ├──────────┼────────┼────────┼─────────┼──────────────┼──────────────┤
//! │ Tày      │ [1.203]│ [    ] │ =SUM()  │        1.180 │        1.190 │ ← [ ] input cells
//! │ Dao      │ [  870]│ [  880]│ =SUM()  │          850 │          860 │
//! │ Tổng số  │ =SUM() │ =SUM() │ =SUM()  │              │              │
//! └──────────┴────────┴────────┴─────────┴──────────────┴──────────────┘
//! ```
//!
//! Only the input cells are unlocked (the sheet is protected without a password: protection
//! keeps labels and keys from being typed over, it is not a secret); each input range carries
//! a data validation by the indicator's value type (whole numbers ≥ 0, decimals, 0–100 for
//! percentages, Có/Không); totals are Excel formulas. The keys that bring each input cell back
//! ([`FileKeys`]) go into a very hidden sheet.

use crate::ReportError;
use dantoc_domain::form_file::{
    DATA_SHEET, FileKeys, FormSheet, KEYS_SHEET, KeyCell, SheetItem, cell_name, input_hint_vi,
};
use dantoc_domain::indicator::ValueType;
use rust_xlsxwriter::{
    Color, DataValidation, DataValidationErrorStyle, DataValidationRule, DocProperties, Format,
    FormatAlign, FormatBorder, Formula, ProtectionOptions, Workbook, Worksheet,
};

/// Width of the label column and of the figure columns (characters).
const LABEL_WIDTH: f64 = 32.0;
const FIGURE_WIDTH: f64 = 14.0;

struct Formats {
    title: Format,
    line: Format,
    note: Format,
    section: Format,
    item: Format,
    head: Format,
    label: Format,
    total_label: Format,
}

impl Formats {
    fn new() -> Formats {
        let border = |f: Format| f.set_border(FormatBorder::Thin);
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            line: Format::new(),
            note: Format::new()
                .set_italic()
                .set_font_color(Color::RGB(0x595959)),
            section: Format::new().set_bold().set_font_size(12),
            item: Format::new().set_bold(),
            head: border(Format::new())
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(Color::RGB(0xD9E1F2)),
            label: border(Format::new()).set_text_wrap(),
            total_label: border(Format::new()).set_bold(),
        }
    }
}

fn number_format(vt: ValueType) -> &'static str {
    match vt {
        ValueType::Integer => "#,##0",
        _ => "General",
    }
}

fn input_format(vt: ValueType) -> Format {
    Format::new()
        .set_border(FormatBorder::Thin)
        .set_unlocked()
        .set_background_color(Color::RGB(0xFFF2CC))
        .set_num_format(number_format(vt))
}

fn total_format(vt: ValueType) -> Format {
    Format::new()
        .set_border(FormatBorder::Thin)
        .set_bold()
        .set_background_color(Color::RGB(0xF2F2F2))
        .set_num_format(number_format(vt))
}

fn previous_format(vt: ValueType) -> Format {
    Format::new()
        .set_border(FormatBorder::Thin)
        .set_italic()
        .set_font_color(Color::RGB(0x7F7F7F))
        .set_num_format(number_format(vt))
}

fn validation(vt: ValueType) -> Result<DataValidation, ReportError> {
    let v = DataValidation::new();
    let v = match vt {
        ValueType::Integer => v.allow_whole_number(DataValidationRule::GreaterThanOrEqualTo(0)),
        ValueType::Number => v.allow_decimal_number(DataValidationRule::Between(-9.0e15, 9.0e15)),
        ValueType::Percent => v.allow_decimal_number(DataValidationRule::Between(0.0, 100.0)),
        ValueType::YesNo => v.allow_list_strings(&["Có", "Không"])?,
        ValueType::Text => v.allow_text_length(DataValidationRule::LessThanOrEqualTo(5000)),
    };
    Ok(v.set_input_message(input_hint_vi(vt))?
        .set_error_title("Giá trị không hợp lệ")?
        .set_error_message(input_hint_vi(vt))?
        .set_error_style(DataValidationErrorStyle::Stop))
}

/// A stored value as the cell shows it.
enum Shown<'a> {
    Number(f64),
    Text(&'a str),
}

fn shown(vt: ValueType, stored: &str) -> Shown<'_> {
    match vt {
        ValueType::Text => Shown::Text(stored),
        ValueType::YesNo => Shown::Text(if stored == "true" { "Có" } else { "Không" }),
        _ => match stored.parse::<f64>() {
            Ok(n) => Shown::Number(n),
            Err(_) => Shown::Text(stored),
        },
    }
}

fn put(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    vt: ValueType,
    value: Option<&str>,
    f: &Format,
) -> Result<(), ReportError> {
    match value.map(|v| shown(vt, v)) {
        None => ws.write_blank(row, col, f)?,
        Some(Shown::Number(n)) => ws.write_number_with_format(row, col, n, f)?,
        Some(Shown::Text(t)) => ws.write_string_with_format(row, col, t, f)?,
    };
    Ok(())
}

/// `2026-01-15` → `15/01/2026`.
fn date_vi(d: &str) -> String {
    match (d.get(0..4), d.get(5..7), d.get(8..10)) {
        (Some(y), Some(m), Some(day)) => format!("{day}/{m}/{y}"),
        _ => d.to_string(),
    }
}

/// Columns an item takes: label, figures, total, previous figures.
fn item_width(it: &SheetItem) -> usize {
    let n = it.column_labels.len();
    1 + n + usize::from(it.totals && n > 1) + n
}

/// Write the template. Returns the file and the keys it holds.
pub fn write(s: &FormSheet) -> Result<(Vec<u8>, FileKeys), ReportError> {
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title(&s.form_name)
            .set_subject(format!("{} · {} · {}", s.form_code, s.unit, s.period))
            .set_comment("dantoc: biểu mẫu nhập liệu"),
    );
    let fm = Formats::new();
    let mut keys = FileKeys {
        form: s.form_code.clone(),
        unit: s.unit.clone(),
        period: s.period.to_string(),
        sheet: DATA_SHEET.to_string(),
        cells: vec![],
    };
    let ws = wb.add_worksheet();
    ws.set_name(DATA_SHEET)?;
    let width = s.items.iter().map(item_width).max().unwrap_or(1).max(4) as u16;
    ws.set_column_width(0, LABEL_WIDTH)?;
    for c in 1..width {
        ws.set_column_width(c, FIGURE_WIDTH)?;
    }
    ws.merge_range(0, 0, 0, width - 1, &s.form_name, &fm.title)?;
    ws.write_string_with_format(
        1,
        0,
        format!("Đơn vị báo cáo: {} (mã {})", s.unit_name, s.unit_code),
        &fm.line,
    )?;
    ws.write_string_with_format(
        2,
        0,
        format!(
            "Kỳ báo cáo: {} · Hạn nộp: {} · Mã biểu: {}",
            s.period.label_vi(),
            date_vi(&s.deadline),
            s.form_code
        ),
        &fm.line,
    )?;
    ws.write_string_with_format(
        3,
        0,
        "Hướng dẫn: nhập số liệu vào các ô nền vàng (các ô khác đã khoá). Ô để trống là \
         chưa có số liệu; xoá một số đã điền sẵn thì số đó bị xoá khi nhập lại. Không đổi \
         tên trang tính. Chỉ tiêu có dấu * là bắt buộc.",
        &fm.note,
    )?;
    let prev_label = s.previous.map(|p| p.label_vi()).unwrap_or_default();
    let mut row: u32 = 5;
    let mut section = usize::MAX;
    for it in &s.items {
        if it.section != section {
            section = it.section;
            let title = s.sections.get(section).cloned().unwrap_or_default();
            ws.write_string_with_format(row, 0, title, &fm.section)?;
            row += 1;
        }
        let ind = &it.indicator;
        let vt = ind.value_type;
        let unit = if ind.unit.trim().is_empty() {
            String::new()
        } else {
            format!(" ({})", ind.unit)
        };
        let star = if it.required { " *" } else { "" };
        ws.write_string_with_format(
            row,
            0,
            format!("{} – {}{unit}{star}", ind.code, ind.name_vi),
            &fm.item,
        )?;
        row += 1;
        let n = it.column_labels.len() as u16;
        let row_total = it.totals && n > 1;
        let total_col = 1 + n;
        let prev_col = 1 + n + u16::from(row_total);
        let single = n == 1 && it.column_labels.first().is_some_and(|l| l == "Tổng số");
        // headings
        ws.write_string_with_format(row, 0, &it.row_heading, &fm.head)?;
        for (j, l) in it.column_labels.iter().enumerate() {
            let h = if single { "Số liệu" } else { l.as_str() };
            ws.write_string_with_format(row, 1 + j as u16, h, &fm.head)?;
            let ph = if single {
                format!("{prev_label} (kỳ trước)")
            } else {
                format!("{prev_label}: {l}")
            };
            ws.write_string_with_format(row, prev_col + j as u16, ph, &fm.head)?;
        }
        if row_total {
            ws.write_string_with_format(row, total_col, "Tổng số", &fm.head)?;
        }
        row += 1;
        let (input_f, total_f, prev_f) = (input_format(vt), total_format(vt), previous_format(vt));
        let top = row;
        for (i, label) in it.row_labels.iter().enumerate() {
            ws.write_string_with_format(row, 0, label, &fm.label)?;
            for (j, cell) in it.cells[i].iter().enumerate() {
                let col = 1 + j as u16;
                put(ws, row, col, vt, cell.value.as_deref(), &input_f)?;
                keys.cells.push(KeyCell {
                    cell: cell_name(row, col as u32),
                    indicator: ind.code.clone(),
                    disagg: cell.disagg.clone(),
                    prefilled: cell.value.clone(),
                });
                put(
                    ws,
                    row,
                    prev_col + j as u16,
                    vt,
                    cell.previous.as_deref(),
                    &prev_f,
                )?;
            }
            if row_total {
                let sum: f64 = it.cells[i]
                    .iter()
                    .filter_map(|c| c.value.as_deref()?.parse::<f64>().ok())
                    .sum();
                let f = format!("=SUM({}:{})", cell_name(row, 1), cell_name(row, n as u32));
                ws.write_formula_with_format(
                    row,
                    total_col,
                    Formula::new(f).set_result(dantoc_domain::value::fmt_num(sum)),
                    &total_f,
                )?;
            }
            row += 1;
        }
        if row > top {
            ws.add_data_validation(top, 1, row - 1, n, &validation(vt)?)?;
        } else {
            ws.write_string_with_format(
                row,
                0,
                "(chưa có dân tộc nào được ghi nhận ở đơn vị này)",
                &fm.note,
            )?;
            row += 1;
        }
        if it.totals && it.row_labels.len() > 1 {
            ws.write_string_with_format(row, 0, "Tổng số", &fm.total_label)?;
            let last = if row_total { total_col } else { n };
            for col in 1..=last {
                let sum: f64 = it
                    .cells
                    .iter()
                    .flat_map(|r| r.iter())
                    .enumerate()
                    .filter(|(k, _)| col == total_col && row_total || (*k as u16 % n) + 1 == col)
                    .filter_map(|(_, c)| c.value.as_deref()?.parse::<f64>().ok())
                    .sum();
                let f = format!(
                    "=SUM({}:{})",
                    cell_name(top, col as u32),
                    cell_name(row - 1, col as u32)
                );
                ws.write_formula_with_format(
                    row,
                    col,
                    Formula::new(f).set_result(dantoc_domain::value::fmt_num(sum)),
                    &total_f,
                )?;
            }
            row += 1;
        }
        row += 1;
    }
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_print_fit_to_pages(1, 0);
    ws.protect_with_options(&ProtectionOptions {
        select_locked_cells: true,
        select_unlocked_cells: true,
        format_columns: true,
        format_rows: true,
        ..ProtectionOptions::default()
    });

    let ks = wb.add_worksheet();
    ks.set_name(KEYS_SHEET)?;
    for (r, cells) in keys.rows().iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            ks.write_string(r as u32, c as u16, v)?;
        }
    }
    ks.set_very_hidden(true);
    ks.protect();
    Ok((wb.save_to_buffer()?, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dantoc_domain::form::Form;
    use dantoc_domain::form_file::SheetSources;
    use dantoc_domain::indicator::{Aggregation, Indicator};
    use dantoc_domain::period::PeriodType;
    use std::collections::HashMap;

    fn indicator(code: &str) -> Option<Indicator> {
        let (name, unit, vt) = match code {
            "0101" => ("Dân số dân tộc thiểu số", "người", ValueType::Integer),
            "x-ty-le" => ("Tỷ lệ hộ có điện", "%", ValueType::Percent),
            _ => return None,
        };
        Some(Indicator {
            code: code.into(),
            name_vi: name.into(),
            name_en: String::new(),
            topic: String::new(),
            unit: unit.into(),
            value_type: vt,
            aggregation: if vt == ValueType::Integer {
                Aggregation::Sum
            } else {
                Aggregation::Average
            },
            weight_indicator: None,
            disaggregations: vec![],
            period_type: PeriodType::Yearly,
            formula: None,
            legal_source: String::new(),
            main_disaggregations: String::new(),
            publication_period: String::new(),
            responsible_agency: String::new(),
            higher_level_code: String::new(),
            concept: String::new(),
            method: String::new(),
            data_source: String::new(),
            provisional: false,
        })
    }

    pub(crate) fn sheet() -> FormSheet {
        let form: Form = serde_json::from_value(serde_json::json!({
            "code": "BM-THU", "name_vi": "Biểu thử: Dân số và điện", "period_type": "yearly",
            "level": "commune", "deadline_days": 15,
            "sections": [
                {"title_vi": "I. Dân số", "items": [
                    {"indicator": "0101", "rows": "ethnic", "columns": "sex", "required": true}]},
                {"title_vi": "II. Điện", "items": [
                    {"indicator": "x-ty-le"}]}
            ]
        }))
        .unwrap();
        let mut values = HashMap::new();
        values.insert(
            ("0101".to_string(), "E02.M".to_string()),
            "1203".to_string(),
        );
        values.insert(
            ("x-ty-le".to_string(), "default".to_string()),
            "97.5".to_string(),
        );
        let mut previous = HashMap::new();
        previous.insert(
            ("0101".to_string(), "E02.M".to_string()),
            "1180".to_string(),
        );
        let names = |e: &str| match e {
            "02" => Some("Tày".to_string()),
            "10" => Some("Mông".to_string()),
            _ => None,
        };
        FormSheet::build(
            &form,
            ("06877@2025", "06877", "Xã Hoà Bình"),
            "2025".parse().unwrap(),
            &SheetSources {
                indicator: &indicator,
                ethnic_name: &names,
                present: &["02".into(), "10".into()],
                values: &values,
                previous: &previous,
            },
        )
        .unwrap()
    }

    #[test]
    fn template_is_protected_validated_and_keyed() {
        let (bytes, keys) = write(&sheet()).unwrap();
        assert_eq!(keys.cells.len(), 5);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bieu.xlsx");
        std::fs::write(&path, &bytes).unwrap();
        let out = crate::pytest::run("openpyxl", "read_form_xlsx.py", &path);
        assert_eq!(out["sheets"], serde_json::json!(["Biểu", "_dantoc"]));
        assert_eq!(out["states"], serde_json::json!(["visible", "veryHidden"]));
        assert_eq!(out["protected"], true);
        let cells = &out["cells"];
        assert_eq!(cells["A1"]["value"], "Biểu thử: Dân số và điện");
        assert!(
            cells["A2"]["value"]
                .as_str()
                .unwrap()
                .contains("Xã Hoà Bình (mã 06877)")
        );
        assert!(cells["A3"]["value"].as_str().unwrap().contains("Năm 2025"));
        // the grid of 0101: labels locked, inputs unlocked and pre-filled, totals as formulas
        let find = |text: &str| -> String {
            cells
                .as_object()
                .unwrap()
                .iter()
                .find(|(_, c)| c["value"] == text)
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| panic!("no cell {text:?}: {cells}"))
        };
        let tay = find("Tày");
        let r: u32 = tay[1..].parse().unwrap();
        assert_eq!(cells[&tay]["locked"], true);
        assert_eq!(cells[format!("B{r}")]["value"], 1203);
        assert_eq!(cells[format!("B{r}")]["locked"], false);
        assert_eq!(cells[format!("C{r}")]["locked"], false, "an empty input");
        assert_eq!(cells[format!("D{r}")]["value"], format!("=SUM(B{r}:C{r})"));
        assert_eq!(cells[format!("E{r}")]["value"], 1180, "previous period");
        assert_eq!(cells[format!("E{r}")]["locked"], true);
        assert_eq!(cells[format!("D{}", r - 1)]["value"], "Tổng số");
        assert_eq!(cells[format!("E{}", r - 1)]["value"], "Năm 2024: Nam");
        assert_eq!(
            cells[format!("B{}", r + 2)]["value"],
            format!("=SUM(B{r}:B{})", r + 1)
        );
        // validations: whole numbers ≥ 0 over the 0101 inputs, 0–100 for the percentage
        let dv = out["validations"].as_array().unwrap();
        let whole = dv.iter().find(|v| v["type"] == "whole").expect("whole");
        assert_eq!(whole["sqref"], format!("B{r}:C{}", r + 1));
        assert_eq!(whole["operator"], "greaterThanOrEqual");
        assert_eq!(whole["formula1"], "0");
        let pct = dv.iter().find(|v| v["type"] == "decimal").expect("decimal");
        // "between" is the default operator, which the file leaves out
        assert!(
            pct["operator"].is_null() || pct["operator"] == "between",
            "{pct}"
        );
        assert_eq!(
            (pct["formula1"].as_str(), pct["formula2"].as_str()),
            (Some("0"), Some("100"))
        );
        // the keys read back as written
        let rows: Vec<Vec<String>> = serde_json::from_value(out["keys"].clone()).unwrap();
        assert_eq!(FileKeys::from_rows(&rows).unwrap(), keys);
        assert_eq!(keys.cells[0].cell, format!("B{r}"));
        assert_eq!(keys.cells[0].disagg, "E02.M");
        assert_eq!(keys.cells[0].prefilled.as_deref(), Some("1203"));
    }
}

//! The pivot table as an Excel workbook, laid out the way Vietnamese statistical tables are:
//!
//! ```text
//!  Dân số theo dân tộc và giới tính, năm 2024            ← title, bold, merged across the table
//!  Nguồn: dantoc (số liệu mẫu)                           ← source line
//!  Chỉ tiêu: Dân số dân tộc thiểu số; Kỳ: Năm 2024       ← filters (dimensions summed over)
//!
//! ┌───────────────────┬─────────┬──────────┬──────────┐
//! │ Đơn vị hành chính │ Dân tộc │   Nam    │    Nữ    │ ← column headers, one row per column
//! ├───────────────────┼─────────┼──────────┼──────────┤   dimension, an item merged over the
//! │ Tỉnh Quảng Ninh   │ Tày     │   17.530 │   18.004 │   columns below it
//! │                   │ Dao     │   41.212 │          │ ← no figure: empty, the reason in a note
//! │ Tỉnh Cao Bằng     │ Tày     │  210.301 │ 215.927,5│
//! │                   │ Dao     │ 60.115 (ư)│  61.003 │ ← estimate: "(ư)" through the number format
//! └───────────────────┴─────────┴──────────┴──────────┘
//!  Ghi chú: …                                            ← footnotes for the marks used
//! ```
//!
//! Row headers take one column per row dimension, a label merged down over the rows it spans.
//! Numbers stay numbers (`#,##0` for whole numbers, `#,##0.0#` otherwise; Excel shows them with
//! the separators of the reader's locale), panes are frozen below and right of the headers, and
//! the sheet prints landscape on A4, one page wide, headers repeated.

use crate::ReportError;
use dantoc_domain::analytics::{Cell, PivotTable};
use rust_xlsxwriter::{
    Color, DocProperties, Format, FormatAlign, FormatBorder, Note, Workbook, Worksheet, XlsxError,
};

/// Name of the one worksheet.
pub const SHEET_NAME: &str = "Bảng số liệu";
/// Mark of an estimated figure, shown after the number by its number format.
pub const ESTIMATE_MARK: &str = "(ư)";
/// Header of the value column of a table without column dimensions.
const VALUE_HEADER: &str = "Giá trị";

const MAX_ROWS: usize = 1_048_576;
const MAX_COLS: usize = 16_384;

/// Render the table as an `.xlsx` file.
pub fn write(t: &PivotTable) -> Result<Vec<u8>, ReportError> {
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new()
            .set_title(&t.title)
            .set_comment(&t.source),
    );
    let sheet = workbook.add_worksheet();
    sheet.set_name(SHEET_NAME)?;
    Layout::new(t)?.draw(t, sheet)?;
    Ok(workbook.save_to_buffer()?)
}

/// Where everything goes (0-based rows and columns).
struct Layout {
    /// Columns of row headers (one per row dimension).
    row_head_cols: usize,
    /// Rows of column headers (one per column dimension, at least one).
    col_head_rows: usize,
    /// All columns: row headers then one per table column.
    width: usize,
    source_row: Option<usize>,
    filter_rows: Vec<(usize, String)>,
    head_top: usize,
    data_top: usize,
    notes_top: usize,
    notes: Vec<String>,
}

impl Layout {
    fn new(t: &PivotTable) -> Result<Layout, ReportError> {
        let row_head_cols = t.row_dims.len();
        let col_head_rows = t.col_dims.len().max(1);
        let width = (row_head_cols + t.cols.len()).max(1);
        let mut next = 1; // row 0: the title
        let source_row = (!t.source.trim().is_empty()).then(|| {
            next += 1;
            next - 1
        });
        let filter_rows: Vec<(usize, String)> = filter_lines(t)
            .into_iter()
            .map(|line| {
                next += 1;
                (next - 1, line)
            })
            .collect();
        let head_top = next + 1; // one empty row before the table
        let data_top = head_top + col_head_rows;
        let notes = footnotes(t);
        let notes_top = data_top + t.rows.len() + 1;
        let last_row = if notes.is_empty() {
            data_top + t.rows.len()
        } else {
            notes_top + notes.len()
        };
        if last_row > MAX_ROWS || width > MAX_COLS {
            return Err(ReportError::TooLarge {
                rows: last_row,
                cols: width,
                max_rows: MAX_ROWS,
                max_cols: MAX_COLS,
            });
        }
        Ok(Layout {
            row_head_cols,
            col_head_rows,
            width,
            source_row,
            filter_rows,
            head_top,
            data_top,
            notes_top,
            notes,
        })
    }

    fn draw(&self, t: &PivotTable, ws: &mut Worksheet) -> Result<(), XlsxError> {
        let f = Formats::new();
        let widths = self.column_widths(t);
        for (c, w) in widths.iter().enumerate() {
            ws.set_column_width(col(c), *w)?;
        }
        let table_width: f64 = widths.iter().sum();

        // Title: merged across the table, wrapped when the table is narrower than the title.
        put(ws, (0, 0), (0, self.width - 1), &t.title, &f.title)?;
        let title_lines = (text_width(&t.title) * 1.35 / table_width.max(1.0)).ceil();
        ws.set_row_height(0, 21.0 * title_lines.clamp(1.0, 4.0))?;
        // Source and filters: plain cells, left-aligned, running on over the empty cells beside.
        if let Some(r) = self.source_row {
            ws.write_string_with_format(row(r), 0, &t.source, &f.source)?;
        }
        for (r, line) in &self.filter_rows {
            ws.write_string_with_format(row(*r), 0, line, &f.filter)?;
        }

        self.draw_headers(t, ws, &f, &widths)?;
        self.draw_body(t, ws, &f)?;

        for (i, note) in self.notes.iter().enumerate() {
            ws.write_string_with_format(row(self.notes_top + i), 0, note, &f.note)?;
        }

        ws.set_freeze_panes(row(self.data_top), col(self.row_head_cols))?;
        ws.set_landscape();
        ws.set_paper_size(9); // A4
        ws.set_print_fit_to_pages(1, 0);
        ws.set_repeat_rows(row(self.head_top), row(self.data_top - 1))?;
        Ok(())
    }

    fn draw_headers(
        &self,
        t: &PivotTable,
        ws: &mut Worksheet,
        f: &Formats,
        widths: &[f64],
    ) -> Result<(), XlsxError> {
        let (top, bottom) = (self.head_top, self.data_top - 1);
        let mut lines = vec![1.0_f64; self.col_head_rows];
        // Row dimension names, each merged down over all header rows.
        for (d, dim) in t.row_dims.iter().enumerate() {
            put(ws, (top, d), (bottom, d), &dim.name_vi, &f.header)?;
            let need = wrapped_lines(&dim.name_vi, widths[d]) / self.col_head_rows as f64;
            lines.iter_mut().for_each(|l| *l = l.max(need.ceil()));
        }
        let first = self.row_head_cols;
        if t.col_dims.is_empty() {
            for c in 0..t.cols.len() {
                put(
                    ws,
                    (top, first + c),
                    (top, first + c),
                    VALUE_HEADER,
                    &f.header,
                )?;
            }
        }
        // One header row per column dimension; an item spans the columns below it.
        for (h, need) in lines.iter_mut().enumerate().take(t.col_dims.len()) {
            let same = |a: usize, b: usize| t.cols[a][..=h] == t.cols[b][..=h];
            for (c0, c1) in runs(t.cols.len(), same) {
                let label = &t.col_label(c0, h).name;
                put(
                    ws,
                    (top + h, first + c0),
                    (top + h, first + c1),
                    label,
                    &f.header,
                )?;
                let span: f64 = widths[first + c0..=first + c1].iter().sum();
                *need = need.max(wrapped_lines(label, span));
            }
        }
        for (h, l) in lines.iter().enumerate() {
            ws.set_row_height(row(top + h), 15.0 * l.min(6.0))?;
        }
        Ok(())
    }

    fn draw_body(&self, t: &PivotTable, ws: &mut Worksheet, f: &Formats) -> Result<(), XlsxError> {
        // Row headers: a label merged down over the rows it spans (given the dimensions
        // to its left).
        for d in 0..t.row_dims.len() {
            let same = |a: usize, b: usize| t.rows[a][..=d] == t.rows[b][..=d];
            for (r0, r1) in runs(t.rows.len(), same) {
                let label = &t.row_label(r0, d).name;
                put(
                    ws,
                    (self.data_top + r0, d),
                    (self.data_top + r1, d),
                    label,
                    &f.row_header,
                )?;
            }
        }
        for (r, cells) in t.cells.iter().enumerate() {
            for (c, cell) in cells.iter().enumerate() {
                let (xr, xc) = (row(self.data_top + r), col(self.row_head_cols + c));
                match figure(cell) {
                    Some(v) => {
                        ws.write_number_with_format(xr, xc, v, f.number(v, cell.estimated))?;
                    }
                    None => {
                        ws.write_blank(xr, xc, &f.empty)?;
                        if let Some(reason) = cell.reason.as_deref().filter(|s| !s.is_empty()) {
                            let note = Note::new(reason)
                                .add_author_prefix(false)
                                .set_author("dantoc");
                            ws.insert_note(xr, xc, &note)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Column widths in Excel's character units.
    fn column_widths(&self, t: &PivotTable) -> Vec<f64> {
        let mut widths = vec![8.0_f64; self.width];
        for (d, dim) in t.row_dims.iter().enumerate() {
            let longest = dim
                .items
                .iter()
                .map(|i| text_width(&i.name))
                .fold(text_width(&dim.name_vi).min(20.0), f64::max);
            widths[d] = (longest + 2.0).clamp(8.0, 45.0);
        }
        for c in 0..t.cols.len() {
            let numbers = t
                .cells
                .iter()
                .filter_map(|cells| cells.get(c))
                .filter_map(|cell| figure(cell).map(|v| number_width(v, cell.estimated)))
                .fold(0.0, f64::max);
            // The bottom header label is the one above this column alone.
            let label = match t.col_dims.len() {
                0 => text_width(VALUE_HEADER),
                n => text_width(&t.col_label(c, n - 1).name).min(24.0),
            };
            widths[self.row_head_cols + c] = (numbers.max(label) + 2.0).clamp(9.0, 30.0);
        }
        widths
    }
}

struct Formats {
    title: Format,
    source: Format,
    filter: Format,
    header: Format,
    row_header: Format,
    whole: Format,
    decimal: Format,
    whole_estimated: Format,
    decimal_estimated: Format,
    empty: Format,
    note: Format,
}

impl Formats {
    fn new() -> Formats {
        let boxed = Format::new().set_border(FormatBorder::Thin);
        let number = |code: &str| boxed.clone().set_num_format(code);
        Formats {
            title: Format::new()
                .set_bold()
                .set_font_size(14)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            source: Format::new().set_italic(),
            filter: Format::new(),
            header: boxed
                .clone()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap()
                .set_background_color(Color::RGB(0xDDEBF7)),
            row_header: boxed.clone().set_align(FormatAlign::Top).set_text_wrap(),
            whole: number("#,##0"),
            decimal: number("#,##0.0#"),
            whole_estimated: number(&format!("#,##0\" {ESTIMATE_MARK}\"")),
            decimal_estimated: number(&format!("#,##0.0#\" {ESTIMATE_MARK}\"")),
            empty: boxed,
            note: Format::new().set_italic(),
        }
    }

    fn number(&self, v: f64, estimated: bool) -> &Format {
        match (is_whole(v), estimated) {
            (true, false) => &self.whole,
            (false, false) => &self.decimal,
            (true, true) => &self.whole_estimated,
            (false, true) => &self.decimal_estimated,
        }
    }
}

/// "Chỉ tiêu: …; Kỳ: …" — one line for all filters, or one line per filter when that would be
/// long.
fn filter_lines(t: &PivotTable) -> Vec<String> {
    let parts: Vec<String> = t
        .filters
        .iter()
        .filter(|d| !d.items.is_empty())
        .map(|d| {
            let names: Vec<&str> = d.items.iter().map(|i| i.name.as_str()).collect();
            format!("{}: {}", d.name_vi, names.join(", "))
        })
        .collect();
    let one = parts.join("; ");
    if parts.len() > 1 && one.chars().count() > 120 {
        parts
    } else if one.is_empty() {
        Vec::new()
    } else {
        vec![one]
    }
}

/// Notes under the table for the marks it uses.
fn footnotes(t: &PivotTable) -> Vec<String> {
    let cells = || t.cells.iter().flatten();
    let mut notes = Vec::new();
    if cells().any(|c| figure(c).is_some() && c.estimated) {
        notes.push(format!(
            "{ESTIMATE_MARK} Số ước tính: quy đổi từ số liệu của đơn vị hành chính trước/sau \
             sắp xếp, đơn vị bị chia tách được chia đều (trọng số mặc định)."
        ));
    }
    if cells().any(|c| figure(c).is_some() && c.mapped && !c.estimated) {
        notes.push(
            "Có số liệu được quy đổi từ số liệu của đơn vị hành chính trước/sau sắp xếp \
             (theo quan hệ kế thừa)."
                .into(),
        );
    }
    if cells().any(|c| figure(c).is_none()) {
        let mut reasons: Vec<&str> = cells()
            .filter(|c| figure(c).is_none())
            .filter_map(|c| c.reason.as_deref().filter(|s| !s.is_empty()))
            .collect();
        reasons.sort_unstable();
        reasons.dedup();
        notes.push(if reasons.is_empty() {
            "Ô trống: không có số liệu.".into()
        } else {
            format!(
                "Ô trống: không có số liệu; lý do ghi trong chú thích của ô: {}.",
                reasons.join("; ")
            )
        });
    }
    if !notes.is_empty() {
        notes.insert(0, "Ghi chú:".into());
    }
    notes
}

/// The figure a cell shows: none for a missing value and for NaN/∞, which Excel cannot hold.
fn figure(cell: &Cell) -> Option<f64> {
    cell.value.filter(|v| v.is_finite())
}

fn is_whole(v: f64) -> bool {
    v.fract() == 0.0 && v.abs() < 1e15
}

/// Maximal runs `[start, end]` of consecutive indexes `0..n` where `same(i - 1, i)`.
fn runs(n: usize, same: impl Fn(usize, usize) -> bool) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for i in 0..n {
        match out.last_mut() {
            Some((_, end)) if same(i - 1, i) => *end = i,
            _ => out.push((i, i)),
        }
    }
    out
}

/// Write `text` into one cell, or merge the range and write it there.
fn put(
    ws: &mut Worksheet,
    (r0, c0): (usize, usize),
    (r1, c1): (usize, usize),
    text: &str,
    format: &Format,
) -> Result<(), XlsxError> {
    if (r0, c0) == (r1, c1) {
        ws.write_string_with_format(row(r0), col(c0), text, format)?;
    } else {
        ws.merge_range(row(r0), col(c0), row(r1), col(c1), text, format)?;
    }
    Ok(())
}

// Rows and columns were checked against Excel's limits in `Layout::new`.
fn row(r: usize) -> u32 {
    r as u32
}
fn col(c: usize) -> u16 {
    c as u16
}

/// Approximate width of a text in Excel character units (Vietnamese letters with diacritics
/// are as wide as plain ones; `chars` counts a precomposed letter once).
fn text_width(s: &str) -> f64 {
    s.chars().count() as f64
}

fn wrapped_lines(s: &str, width: f64) -> f64 {
    (text_width(s) * 1.1 / (width - 1.0).max(1.0))
        .ceil()
        .max(1.0)
}

/// Width of a number as shown: digits, thousands separators, two decimals, the mark.
fn number_width(v: f64, estimated: bool) -> f64 {
    let digits = format!("{:.0}", v.abs().trunc()).len();
    let mut w = digits + (digits - 1) / 3 + usize::from(v < 0.0);
    if !is_whole(v) {
        w += 3;
    }
    if estimated {
        w += 1 + ESTIMATE_MARK.chars().count();
    }
    w as f64
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pytest;
    use dantoc_domain::analytics::{Dim, Item};
    use serde_json::Value;

    #[test]
    fn runs_group_consecutive_equal_indexes() {
        let keys = [1, 1, 2, 2, 2, 1];
        let r = runs(keys.len(), |a, b| keys[a] == keys[b]);
        assert_eq!(r, vec![(0, 1), (2, 4), (5, 5)]);
        assert!(runs(0, |_, _| true).is_empty());
    }

    #[test]
    fn layout_of_the_sample() {
        let t = PivotTable::sample();
        let l = Layout::new(&t).unwrap();
        assert_eq!((l.row_head_cols, l.col_head_rows, l.width), (2, 1, 4));
        assert_eq!(l.source_row, Some(1));
        assert_eq!(
            l.filter_rows,
            vec![(
                2,
                "Chỉ tiêu: Dân số dân tộc thiểu số; Kỳ: Năm 2024".to_string()
            )]
        );
        assert_eq!((l.head_top, l.data_top), (4, 5));
        assert_eq!(l.notes[0], "Ghi chú:");
        assert!(l.notes[1].starts_with("(ư) Số ước tính"));
        assert!(l.notes.iter().any(|n| n.contains("chia cho 0")));
    }

    #[test]
    fn number_formats_and_widths() {
        let f = Formats::new();
        assert!(std::ptr::eq(f.number(17_530.0, false), &f.whole));
        assert!(std::ptr::eq(f.number(0.5, false), &f.decimal));
        assert!(std::ptr::eq(f.number(60_115.0, true), &f.whole_estimated));
        assert_eq!(number_width(1_234_567.0, false), 9.0); // 1,234,567
        assert_eq!(number_width(-12.5, false), 6.0); // -12.50
        assert_eq!(number_width(60_115.0, true), 10.0); // 60,115 (ư)
        assert!(
            figure(&Cell {
                value: Some(f64::NAN),
                ..Cell::default()
            })
            .is_none()
        );
    }

    #[test]
    fn too_large_is_refused_with_a_clear_error() {
        let mut t = PivotTable::sample();
        t.cols = vec![vec![0]; MAX_COLS];
        t.cells = vec![vec![Cell::default(); MAX_COLS]; t.rows.len()];
        let err = write(&t).unwrap_err();
        assert!(matches!(err, ReportError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn tables_without_row_or_column_dimensions_or_rows() {
        let mut t = PivotTable::sample();
        t.col_dims.clear();
        t.cols = vec![vec![]];
        t.cells = t.cells.iter().map(|r| vec![r[0].clone()]).collect();
        write(&t).unwrap();
        t.row_dims.clear();
        t.rows = vec![vec![]];
        t.cells.truncate(1);
        write(&t).unwrap();
        t.rows.clear();
        t.cells.clear();
        t.source.clear();
        t.filters.clear();
        write(&t).unwrap();
    }

    #[test]
    fn writes_a_zip_file() {
        let bytes = write(&PivotTable::sample()).unwrap();
        assert_eq!(&bytes[..4], b"PK\x03\x04");
    }

    /// A table with three levels of column headers (period × sex × area) and two of row
    /// headers (unit × ethnic group), values a function of the position, a few missing.
    pub(crate) fn three_level() -> PivotTable {
        let dim = |id: &str, vi: &str, items: &[(&str, &str)]| Dim {
            id: id.into(),
            name_vi: vi.into(),
            name_en: id.into(),
            items: items
                .iter()
                .map(|(c, n)| Item {
                    code: (*c).into(),
                    name: (*n).into(),
                })
                .collect(),
        };
        let row_dims = vec![
            dim(
                "ou",
                "Đơn vị hành chính",
                &[
                    ("22", "Tỉnh Quảng Ninh"),
                    ("04", "Tỉnh Cao Bằng"),
                    ("02", "Tỉnh Hà Giang"),
                ],
            ),
            dim(
                "eth",
                "Dân tộc",
                &[("02", "Tày"), ("10", "Dao"), ("04", "H'Mông")],
            ),
        ];
        let col_dims = vec![
            dim(
                "pe",
                "Kỳ",
                &[("2023Q4", "Quý 4/2023"), ("2024Q1", "Quý 1/2024")],
            ),
            dim("sex", "Giới tính", &[("M", "Nam"), ("F", "Nữ")]),
            dim("area", "Khu vực", &[("U", "Thành thị"), ("R", "Nông thôn")]),
        ];
        let mut rows = Vec::new();
        for u in 0..3 {
            for e in 0..3 {
                rows.push(vec![u, e]);
            }
        }
        let mut cols = Vec::new();
        for p in 0..2 {
            for s in 0..2 {
                for a in 0..2 {
                    cols.push(vec![p, s, a]);
                }
            }
        }
        let cells = (0..rows.len())
            .map(|r| {
                (0..cols.len())
                    .map(|c| three_level_cell(r, c))
                    .collect::<Vec<_>>()
            })
            .collect();
        PivotTable {
            title: "Dân số theo đơn vị, dân tộc, giới tính và khu vực".into(),
            source: "Nguồn: dantoc (số liệu thử)".into(),
            row_dims,
            col_dims,
            filters: vec![dim(
                "dx",
                "Chỉ tiêu",
                &[("0101", "Dân số dân tộc thiểu số")],
            )],
            rows,
            cols,
            cells,
        }
    }

    pub(crate) fn three_level_cell(r: usize, c: usize) -> Cell {
        match (r * 8 + c) % 11 {
            3 => Cell::default(),
            7 => Cell {
                value: Some((r * 1000 + c) as f64 + 0.25),
                mapped: true,
                estimated: true,
                reason: None,
            },
            _ => Cell {
                value: Some((r * 100_000 + c * 10) as f64),
                ..Cell::default()
            },
        }
    }

    /// The workbook as openpyxl reads it (see tests/python/read_xlsx.py).
    fn read_back(t: &PivotTable) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bang.xlsx");
        std::fs::write(&path, write(t).unwrap()).unwrap();
        pytest::run("openpyxl", "read_xlsx.py", &path)
    }

    fn cell<'a>(book: &'a Value, a1: &str) -> &'a Value {
        &book["cells"][a1]
    }

    fn merged(book: &Value) -> Vec<String> {
        let mut m: Vec<String> = book["merged"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        m.sort();
        m
    }

    #[test]
    fn openpyxl_reads_the_sample() {
        let book = read_back(&PivotTable::sample());
        assert_eq!(book["sheets"], serde_json::json!(["Bảng số liệu"]));
        assert_eq!(
            cell(&book, "A1")["value"],
            "Dân số theo dân tộc và giới tính, năm 2024"
        );
        assert_eq!(cell(&book, "A1")["bold"], true);
        assert_eq!(cell(&book, "A2")["value"], "Nguồn: dantoc (số liệu mẫu)");
        assert_eq!(
            cell(&book, "A3")["value"],
            "Chỉ tiêu: Dân số dân tộc thiểu số; Kỳ: Năm 2024"
        );
        for (a1, label) in [
            ("A5", "Đơn vị hành chính"),
            ("B5", "Dân tộc"),
            ("C5", "Nam"),
            ("D5", "Nữ"),
            ("A6", "Tỉnh Quảng Ninh"),
            ("B6", "Tày"),
            ("B7", "Dao"),
            ("A8", "Tỉnh Cao Bằng"),
        ] {
            assert_eq!(cell(&book, a1)["value"], label, "{a1}");
        }
        assert_eq!(cell(&book, "C5")["bold"], true);
        assert_eq!(merged(&book), vec!["A1:D1", "A6:A7", "A8:A9"]);
        assert_eq!(book["freeze_panes"], "C6");
        // Numbers are numbers, with the number formats.
        for (a1, v) in [
            ("C6", 17_530.0),
            ("D6", 18_004.0),
            ("C7", 41_212.0),
            ("C8", 210_301.0),
            ("D8", 215_927.5),
            ("C9", 60_115.0),
            ("D9", 61_003.0),
        ] {
            assert_eq!(cell(&book, a1)["value"].as_f64(), Some(v), "{a1}");
        }
        assert_eq!(cell(&book, "C6")["number_format"], "#,##0");
        assert_eq!(cell(&book, "D8")["number_format"], "#,##0.0#");
        assert_eq!(cell(&book, "C9")["number_format"], "#,##0\" (ư)\"");
        // The missing figure: an empty cell with the reason as a comment.
        assert_eq!(cell(&book, "D7")["value"], Value::Null);
        assert_eq!(cell(&book, "D7")["comment"], "chia cho 0");
        // Footnotes below the table.
        let notes: Vec<&str> = (11..=13)
            .filter_map(|r| cell(&book, &format!("A{r}"))["value"].as_str())
            .collect();
        assert_eq!(notes[0], "Ghi chú:");
        assert!(notes[1].starts_with("(ư) Số ước tính"), "{notes:?}");
        assert!(notes[2].contains("chia cho 0"), "{notes:?}");
        // Sensible widths: the unit column fits "Tỉnh Quảng Ninh".
        let a = book["widths"]["A"].as_f64().unwrap();
        assert!((15.0..=45.0).contains(&a), "width of A: {a}");
    }

    #[test]
    fn openpyxl_reads_three_levels_of_column_headers() {
        let t = three_level();
        let book = read_back(&t);
        // Title, source, one filter line, an empty row: headers on rows 5–7, data from row 8.
        assert_eq!(
            cell(&book, "A3")["value"],
            "Chỉ tiêu: Dân số dân tộc thiểu số"
        );
        assert_eq!(book["freeze_panes"], "C8");
        let m = merged(&book);
        let mut want: Vec<String> = [
            "A1:J1", // title over 2 + 8 columns
            "A5:A7", // row dimension names down the three header rows
            "B5:B7", "C5:F5", // Quý 4/2023 over 4 columns
            "G5:J5", // Quý 1/2024
            "C6:D6", // Nam / Nữ over 2 columns each
            "E6:F6", "G6:H6", "I6:J6", "A8:A10", // each province over its three ethnic groups
            "A11:A13", "A14:A16",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        want.sort();
        assert_eq!(m, want);
        for (a1, label) in [
            ("A5", "Đơn vị hành chính"),
            ("B5", "Dân tộc"),
            ("C5", "Quý 4/2023"),
            ("G5", "Quý 1/2024"),
            ("C6", "Nam"),
            ("E6", "Nữ"),
            ("I6", "Nữ"),
            ("C7", "Thành thị"),
            ("D7", "Nông thôn"),
            ("J7", "Nông thôn"),
            ("A14", "Tỉnh Hà Giang"),
            ("B16", "H'Mông"),
        ] {
            assert_eq!(cell(&book, a1)["value"], label, "{a1}");
        }
        // Every figure read back where it belongs; missing ones empty.
        for r in 0..t.rows.len() {
            for (c, letter) in "CDEFGHIJ".chars().enumerate() {
                let a1 = format!("{letter}{}", r + 8);
                let got = &cell(&book, &a1)["value"];
                let want = three_level_cell(r, c);
                assert_eq!(got.as_f64(), want.value, "{a1}");
                if want.estimated {
                    assert!(
                        cell(&book, &a1)["number_format"]
                            .as_str()
                            .unwrap()
                            .contains("(ư)"),
                        "{a1}"
                    );
                }
            }
        }
    }
}

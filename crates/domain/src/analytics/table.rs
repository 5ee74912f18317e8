//! A laid-out pivot table: what every output (HTML page, CSV, xlsx, SDMX-CSV, SVG charts) is
//! rendered from. Built by the engine from a request and the facts the store returns.

use serde::Serialize;

/// One dimension of a pivot: `dx` (indicators), `ou` (units), `pe` (periods), `eth` (ethnic
/// groups or groups of them: `DTTS`, `KINH`), `sex`, `area` (urban/rural), `age`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dim {
    pub id: String,
    /// Vietnamese name, e.g. "Chỉ tiêu", "Đơn vị hành chính", "Kỳ", "Dân tộc", "Giới tính".
    pub name_vi: String,
    pub name_en: String,
    pub items: Vec<Item>,
}

/// One item of a dimension: its code (indicator code, unit code, DHIS2 period, `02`, `DTTS`,
/// `M`, …) and its Vietnamese label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub code: String,
    pub name: String,
}

/// One cell. `value` is `None` when there is no figure; `reason` then says why when there is a
/// reason other than "nothing stored" (e.g. "chia cho 0").
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cell {
    pub value: Option<f64>,
    /// Computed from values recorded on units of the other hierarchy (through the lineage).
    pub mapped: bool,
    /// Mapped with default (equal) weights for split units: an estimate.
    pub estimated: bool,
    pub reason: Option<String>,
}

/// The table: row and column headers are combinations of items of the row and column
/// dimensions (item indexes, in the order of `row_dims` / `col_dims`); `cells[r][c]`.
/// Filters are dimensions summed over (each with the items chosen).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PivotTable {
    pub title: String,
    /// Source line, e.g. "Nguồn: dantoc, Ban Dân tộc tỉnh Quảng Ninh; số liệu đến 30/11/2026".
    pub source: String,
    pub row_dims: Vec<Dim>,
    pub col_dims: Vec<Dim>,
    pub filters: Vec<Dim>,
    pub rows: Vec<Vec<usize>>,
    pub cols: Vec<Vec<usize>>,
    pub cells: Vec<Vec<Cell>>,
}

impl PivotTable {
    /// Label of row `r` for row dimension `d`.
    pub fn row_label(&self, r: usize, d: usize) -> &Item {
        &self.row_dims[d].items[self.rows[r][d]]
    }
    /// Label of column `c` for column dimension `d`.
    pub fn col_label(&self, c: usize, d: usize) -> &Item {
        &self.col_dims[d].items[self.cols[c][d]]
    }
    /// Every cell with the item of each dimension it belongs to, filters first, then rows, then
    /// columns — the long ("observation") form used by CSV and SDMX-CSV.
    pub fn observations(&self) -> impl Iterator<Item = (Vec<(&Dim, &Item)>, &Cell)> + '_ {
        self.rows.iter().enumerate().flat_map(move |(r, rk)| {
            self.cols.iter().enumerate().map(move |(c, ck)| {
                let mut key: Vec<(&Dim, &Item)> = self
                    .filters
                    .iter()
                    .filter(|d| d.items.len() == 1)
                    .map(|d| (d, &d.items[0]))
                    .collect();
                key.extend(self.row_dims.iter().zip(rk).map(|(d, &i)| (d, &d.items[i])));
                key.extend(self.col_dims.iter().zip(ck).map(|(d, &i)| (d, &d.items[i])));
                (key, &self.cells[r][c])
            })
        })
    }

    /// The same table without the row and column dimensions that have a single item (they say
    /// the same on every row or column; the title says it once) — for charts and narrow pages.
    /// One dimension is kept on each side that has any.
    pub fn compact(&self) -> PivotTable {
        let keep = |dims: &[Dim]| -> Vec<usize> {
            let mut k: Vec<usize> = (0..dims.len())
                .filter(|&d| dims[d].items.len() > 1)
                .collect();
            if k.is_empty() && !dims.is_empty() {
                k.push(dims.len() - 1);
            }
            k
        };
        let (kr, kc) = (keep(&self.row_dims), keep(&self.col_dims));
        PivotTable {
            title: self.title.clone(),
            source: self.source.clone(),
            row_dims: kr.iter().map(|&d| self.row_dims[d].clone()).collect(),
            col_dims: kc.iter().map(|&d| self.col_dims[d].clone()).collect(),
            filters: self.filters.clone(),
            rows: self
                .rows
                .iter()
                .map(|r| kr.iter().map(|&d| r[d]).collect())
                .collect(),
            cols: self
                .cols
                .iter()
                .map(|c| kc.iter().map(|&d| c[d]).collect())
                .collect(),
            cells: self.cells.clone(),
        }
    }

    /// A small example, for tests of the outputs: population of two ethnic groups by sex in
    /// two provinces.
    pub fn sample() -> PivotTable {
        let dim = |id: &str, vi: &str, en: &str, items: &[(&str, &str)]| Dim {
            id: id.into(),
            name_vi: vi.into(),
            name_en: en.into(),
            items: items
                .iter()
                .map(|(c, n)| Item {
                    code: (*c).into(),
                    name: (*n).into(),
                })
                .collect(),
        };
        let v = |x: f64| Cell {
            value: Some(x),
            ..Cell::default()
        };
        PivotTable {
            title: "Dân số theo dân tộc và giới tính, năm 2024".into(),
            source: "Nguồn: dantoc (số liệu mẫu)".into(),
            row_dims: vec![
                dim(
                    "ou",
                    "Đơn vị hành chính",
                    "Unit",
                    &[("22", "Tỉnh Quảng Ninh"), ("04", "Tỉnh Cao Bằng")],
                ),
                dim(
                    "eth",
                    "Dân tộc",
                    "Ethnic group",
                    &[("02", "Tày"), ("10", "Dao")],
                ),
            ],
            col_dims: vec![dim("sex", "Giới tính", "Sex", &[("M", "Nam"), ("F", "Nữ")])],
            filters: vec![
                dim(
                    "dx",
                    "Chỉ tiêu",
                    "Indicator",
                    &[("0101", "Dân số dân tộc thiểu số")],
                ),
                dim("pe", "Kỳ", "Period", &[("2024", "Năm 2024")]),
            ],
            rows: vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]],
            cols: vec![vec![0], vec![1]],
            cells: vec![
                vec![v(17_530.0), v(18_004.0)],
                vec![
                    v(41_212.0),
                    Cell {
                        value: None,
                        reason: Some("chia cho 0".into()),
                        ..Cell::default()
                    },
                ],
                vec![v(210_301.0), v(215_927.5)],
                vec![
                    Cell {
                        value: Some(60_115.0),
                        mapped: true,
                        estimated: true,
                        reason: None,
                    },
                    v(61_003.0),
                ],
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_drops_single_item_dimensions() {
        let mut t = PivotTable::sample();
        // a one-item dimension in rows (the indicator), before the two real ones
        let dx = t.filters.remove(0);
        t.row_dims.insert(0, dx);
        t.rows.iter_mut().for_each(|r| r.insert(0, 0));
        let c = t.compact();
        assert_eq!(
            c.row_dims.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["ou", "eth"]
        );
        assert_eq!(c.rows, PivotTable::sample().rows);
        assert_eq!(c.cells, t.cells);
        // a table of one row keeps its last row dimension
        let mut one = PivotTable::sample();
        one.row_dims.iter_mut().for_each(|d| d.items.truncate(1));
        one.rows = vec![vec![0, 0]];
        one.cells.truncate(1);
        assert_eq!(one.compact().row_dims.len(), 1);
    }
}

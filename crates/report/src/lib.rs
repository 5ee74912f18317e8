//! Outputs of a laid-out pivot table ([`dantoc_domain::analytics::PivotTable`]): files officials
//! open (CSV, xlsx), statistical exchange (SDMX-CSV 2.0), server-side SVG charts and choropleth
//! maps (SVG, and PNG for print and reports).
//! No I/O beyond writing into a `Vec<u8>`/`String`; no HTTP.

pub mod charts;
pub mod classes;
pub mod map;
pub mod webmap;

pub mod csv;
pub mod form_xlsx;
pub mod sdmx;
mod svg;
pub mod xlsx;

#[cfg(test)]
mod pytest;

/// What can go wrong while rendering an output.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The xlsx writer refused the table (e.g. more than 1,048,576 rows or 16,384 columns).
    #[error("xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// The table does not fit on one worksheet.
    #[error(
        "the table needs {rows} rows and {cols} columns; a worksheet holds at most \
         {max_rows} rows and {max_cols} columns: choose fewer items or export CSV"
    )]
    TooLarge {
        rows: usize,
        cols: usize,
        max_rows: usize,
        max_cols: usize,
    },
    #[error("csv: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The SVG could not be rendered to PNG (not parsable, or an image too large).
    #[error("png: {0}")]
    Png(String),
}

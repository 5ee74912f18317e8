//! Outputs of a laid-out pivot table ([`dantoc_domain::analytics::PivotTable`]): files officials
//! open (CSV, xlsx), statistical exchange (SDMX-CSV 2.0) and server-side SVG charts.
//! No I/O beyond writing into a `Vec<u8>`/`String`; no HTTP.

pub mod charts;

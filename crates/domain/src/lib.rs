//! The dantoc domain: administrative units and their lineage across the 2025 reform,
//! ethnic groups under both GSO code lists, the indicator catalogue, DHIS2 periods,
//! disaggregations and data values, and derived-indicator formulas.
//!
//! Pure logic: no I/O, no SQL, no HTTP. Storage and the web layer depend on this crate,
//! never the other way round.

pub mod access;
pub mod admin;
pub mod analytics;
pub mod approval;
pub mod dhis2;
pub mod disagg;
pub mod entry;
pub mod error;
pub mod ethnic;
pub mod form;
pub mod form_file;
pub mod formula;
pub mod geo;
pub mod indicator;
pub mod period;
pub mod personal;
pub mod text;
pub mod validation;
pub mod value;

pub use error::{FieldError, Problems};

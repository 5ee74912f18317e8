//! Storage for dantoc: one data-access layer over SQLite (embedded default) and PostgreSQL,
//! the schema and its migrations, the reference data, imports and queries.

pub mod accounts;
pub mod analytics;
pub mod approvals;
pub mod audit;
pub mod backup;
mod bulk;
pub mod clock;
pub mod csv_reference;
pub mod csv_values;
pub mod db;
pub mod demo;
pub mod dhis2;
pub mod entry;
pub mod error;
pub mod ethnic;
pub mod form_files;
pub mod forms;
pub mod gis;
pub mod indicators;
pub mod maps;
pub mod migrate;
pub mod personal;
pub mod report_tables;
pub mod secret;
pub mod seed;
pub mod targets;
#[doc(hidden)]
pub mod testing;
pub mod units;
pub mod validation;
pub mod values;
pub mod xlsx_values;

pub use db::{Backend, Conn, Db, Val};
pub use error::StoreError;

/// Open a database, apply migrations, and load the reference data if it is missing.
pub fn open(url: &str) -> Result<Db, StoreError> {
    let db = Db::open(url)?;
    migrate::migrate(&db)?;
    seed::load_reference(&db)?;
    gis::load_seed(&db)?;
    forms::load_defaults(&db)?;
    Ok(db)
}

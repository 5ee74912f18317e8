//! Analytics: pivot tables over indicators, units, periods and breakdowns.
//!
//! No I/O. The store returns *facts* (values already summed over the units below each unit
//! asked for); this module rolls periods and breakdowns up by each indicator's rule, computes
//! derived indicators after aggregation, and lays the cells out in a [`PivotTable`].

pub mod table;

pub use table::{Cell, Dim, Item, PivotTable};
pub mod engine;
pub mod request;
pub mod targets;

pub use engine::{Computed, Fact, IndicatorInfo, Input, Key, compute, layout};
pub use request::{DimId, DimSpec, Request, expand_periods, parse_dimension};

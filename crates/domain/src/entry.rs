//! Cell-by-cell data entry (the entry page, its offline queue, `POST /api/dataEntry`): the
//! batches a client sends, their checks, and whether a cell belongs to a form's grid.
//!
//! A batch carries an id the client generated and the SHA-256 of its content, as ODK and
//! KoboToolbox submissions do: a batch received twice is applied once. Each value names the
//! version of the stored value the user last saw (`baseVersion`, 0 for none): a cell changed
//! meanwhile by someone else is a conflict, never silently overwritten.

use crate::disagg::{Dimension, Disagg};
use crate::error::{FieldError, Problems};
use crate::form::{Axis, FormItem};
use serde::{Deserialize, Serialize};

/// Most values in one batch (a form of a commune has a few dozen cells).
pub const MAX_VALUES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntryBatch {
    /// Client-generated id (a UUID): 8–64 letters, digits and dashes.
    pub batch_id: String,
    /// SHA-256 (hex) of the batch's canonical content (see the store's `entry::canonical`).
    pub hash: String,
    /// Form code.
    pub form: String,
    /// Unit code (`CODE` in the hierarchy in force at the end of the period, or `CODE@VERSION`).
    pub org_unit: String,
    pub period: String,
    pub values: Vec<EntryValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntryValue {
    pub indicator: String,
    /// Disaggregation code (`default` or empty for the total).
    #[serde(default)]
    pub disagg: String,
    /// The value as text; empty or `null`: delete the cell's value.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    /// The version of the stored value the user last saw; 0: none was stored.
    pub base_version: i64,
}

impl EntryValue {
    /// The value to write: `None` deletes (empty or blank text).
    pub fn wanted(&self) -> Option<&str> {
        self.value.as_deref().filter(|v| !v.trim().is_empty())
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Check a batch's envelope: id, hash, size. The values themselves are checked against the
/// form and the catalogue, each on its own.
pub fn check_batch(b: &EntryBatch) -> Problems {
    let mut p = Problems::default();
    let id_ok = (8..=64).contains(&b.batch_id.len())
        && b.batch_id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-');
    if !id_ok {
        p.push(
            FieldError::new(
                "batchId",
                "expected the client's batch id: 8–64 letters, digits and dashes (a UUID)",
            )
            .value(&b.batch_id),
        );
    }
    if !is_hex64(&b.hash) {
        p.push(
            FieldError::new(
                "hash",
                "expected the SHA-256 of the batch's content, 64 hexadecimal digits",
            )
            .value(&b.hash),
        );
    }
    if b.values.is_empty() {
        p.push(FieldError::new(
            "values",
            "a batch holds at least one value",
        ));
    }
    if b.values.len() > MAX_VALUES {
        p.push(FieldError::new(
            "values",
            format!(
                "a batch holds at most {MAX_VALUES} values, this one {}",
                b.values.len()
            ),
        ));
    }
    for (i, v) in b.values.iter().enumerate() {
        if v.base_version < 0 {
            p.push(
                FieldError::new(
                    format!("values[{i}].baseVersion"),
                    "a version is 0 (nothing stored) or more",
                )
                .value(v.base_version.to_string()),
            );
        }
    }
    p
}

/// Whether a disaggregation is a cell of an item's grid: exactly the item's breakdowns (its
/// rows' ethnic group, its columns' sex or area), and for fixed rows one of the listed groups.
/// Any ethnic group fits rows of the groups present: the page lets the officer add one.
pub fn cell_fits(item: &FormItem, d: &Disagg) -> Result<(), String> {
    let mut want: Vec<Dimension> = vec![];
    for axis in [item.rows, item.columns] {
        match axis {
            Axis::None => {}
            Axis::Ethnic => want.push(Dimension::Ethnic),
            Axis::Sex => want.push(Dimension::Sex),
            Axis::Area => want.push(Dimension::Area),
        }
    }
    want.sort();
    let mut have = d.dimensions();
    have.sort();
    if want != have {
        let names = |v: &[Dimension]| {
            if v.is_empty() {
                "the total (default)".to_string()
            } else {
                v.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(" × ")
            }
        };
        return Err(format!(
            "the cells of indicator {} on this form are broken down by {}, not by {}",
            item.indicator,
            names(&want),
            names(&have)
        ));
    }
    if let Some(e) = &d.ethnic
        && !item.ethnic_groups.is_empty()
        && !item.ethnic_groups.contains(e)
    {
        return Err(format!(
            "ethnic group {e} is not one of this item's rows ({})",
            item.ethnic_groups.join(", ")
        ));
    }
    Ok(())
}

/// A number as an officer types it on the entry page, in the notation values are stored in:
/// spaces dropped, and a comma taken as the decimal mark when there is no dot (Vietnamese
/// writes `12,5`; thousands separators are not accepted, as in DHIS2). Text is left alone.
pub fn number_input(s: &str) -> String {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if t.contains(',') && !t.contains('.') && t.matches(',').count() == 1 {
        t.replace(',', ".")
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(rows: Axis, columns: Axis) -> FormItem {
        FormItem {
            indicator: "0101".into(),
            rows,
            columns,
            required: false,
            ethnic_groups: vec![],
        }
    }

    fn d(s: &str) -> Disagg {
        s.parse().unwrap()
    }

    #[test]
    fn cells_fit_their_grid_only() {
        let grid = item(Axis::Ethnic, Axis::Sex);
        assert!(cell_fits(&grid, &d("E02.M")).is_ok());
        assert!(cell_fits(&grid, &d("E54.F")).is_ok(), "an added row");
        assert!(cell_fits(&grid, &d("E02")).is_err());
        assert!(cell_fits(&grid, &d("default")).is_err());
        assert!(cell_fits(&grid, &d("E02.M.R")).is_err());
        let one = item(Axis::None, Axis::None);
        assert!(cell_fits(&one, &d("default")).is_ok());
        let e = cell_fits(&one, &d("M")).unwrap_err();
        assert!(e.contains("the total (default)"), "{e}");
        let mut fixed = item(Axis::Ethnic, Axis::None);
        fixed.ethnic_groups = vec!["02".into()];
        assert!(cell_fits(&fixed, &d("E02")).is_ok());
        assert!(cell_fits(&fixed, &d("E08")).is_err());
    }

    #[test]
    fn batches_are_checked_by_their_envelope() {
        let mut b = EntryBatch {
            batch_id: "7d0c1b5e-3f7a-4c62-9a51-0c2f1e8a9b10".into(),
            hash: "a".repeat(64),
            form: "BM".into(),
            org_unit: "06877".into(),
            period: "2025".into(),
            values: vec![EntryValue {
                indicator: "0101".into(),
                disagg: "E02.M".into(),
                value: Some("3".into()),
                comment: None,
                base_version: 0,
            }],
        };
        assert!(check_batch(&b).is_empty());
        b.batch_id = "x y".into();
        b.hash = "12".into();
        b.values[0].base_version = -1;
        let fields: Vec<String> = check_batch(&b).0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["batchId", "hash", "values[0].baseVersion"]);
    }

    #[test]
    fn numbers_typed_the_vietnamese_way() {
        assert_eq!(number_input(" 12,5 "), "12.5");
        assert_eq!(number_input("1 234"), "1234");
        assert_eq!(number_input("1.5"), "1.5");
        assert_eq!(
            number_input("1,234,5"),
            "1,234,5",
            "left for the check to refuse"
        );
        let v = EntryValue {
            indicator: "x".into(),
            disagg: String::new(),
            value: Some("  ".into()),
            comment: None,
            base_version: 1,
        };
        assert_eq!(v.wanted(), None, "blank deletes");
    }
}

//! The pivot table as an SDMX-CSV 2.0.0 data message, for statistical exchange (e.g. with the
//! GSO or an SDMX registry):
//!
//! ```text
//! STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,ETHNIC_GROUP,SEX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,COMMENT_OBS
//! dataflow,DANTOC:DF_DTTS(1.0),I,0101,22,02,M,2024,17530,A,
//! ```
//!
//! - One row per observation (the long form, [`PivotTable::observations`]); a cell without a
//!   figure is left out.
//! - One column per dimension, named by its SDMX concept ([`concept_id`]: `dx` → `INDICATOR`,
//!   `ou` → `REF_AREA`, `pe` → `TIME_PERIOD`, …), dimensions in a fixed order with
//!   `TIME_PERIOD` last. Filters with one item become columns like the others; a filter with
//!   several items was summed over and has no column (the figures are totals over those items).
//! - Periods in SDMX notation ([`time_period`]: `2024Q1` → `2024-Q1`, `202401` → `2024-01`).
//! - `OBS_VALUE` in plain decimal notation (`.` as the decimal mark, no grouping).
//! - `OBS_STATUS` from the SDMX code list CL_OBS_STATUS: `E` (estimated value) for a figure
//!   mapped with default weights, `A` (normal value) otherwise; `COMMENT_OBS` says when a
//!   figure was mapped across the 2025 reform of administrative units.
//! - Fields are quoted as RFC 4180 wants (only when they hold `,`, `"` or a line break), lines
//!   end with CRLF, UTF-8 without a byte-order mark.
//!
//! The optional label forms of the specification are available with [`write_with`]:
//! `labels=both` (`ID: name` in headers and coded values) and `labels=name` (a name column
//! after each ID column, and `STRUCTURE_NAME`); names are the Vietnamese ones.

use dantoc_domain::analytics::{Dim, PivotTable};
use dantoc_domain::period::{Period, PeriodType};
use std::fmt;

/// The dataflow the observations belong to: `AGENCY:ID(VERSION)`, e.g. `DANTOC:DF_DTTS(1.0)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataflowRef {
    pub agency: String,
    pub id: String,
    pub version: String,
    /// Its name, for the label forms (`labels=both|name`); the ID when `None`.
    pub name: Option<String>,
}

impl DataflowRef {
    pub fn new(agency: &str, id: &str, version: &str) -> DataflowRef {
        DataflowRef {
            agency: agency.into(),
            id: id.into(),
            version: version.into(),
            name: None,
        }
    }

    pub fn with_name(mut self, name: &str) -> DataflowRef {
        self.name = Some(name.into());
        self
    }
}

impl fmt::Display for DataflowRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.version.is_empty() {
            write!(f, "{}:{}", self.agency, self.id)
        } else {
            write!(f, "{}:{}({})", self.agency, self.id, self.version)
        }
    }
}

/// The `labels` parameter of SDMX-CSV 2.0: IDs only (the default), `ID: name`, or a name column
/// after each ID column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Labels {
    #[default]
    Id,
    Both,
    Name,
}

/// SDMX concept of a dantoc dimension id. Unknown ids are upper-cased.
pub fn concept_id(dim_id: &str) -> String {
    match dim_id {
        "dx" => "INDICATOR".into(),
        "ou" => "REF_AREA".into(),
        "pe" => "TIME_PERIOD".into(),
        "eth" => "ETHNIC_GROUP".into(),
        "sex" => "SEX".into(),
        "area" => "URBANISATION".into(),
        "age" => "AGE".into(),
        other => other.to_ascii_uppercase(),
    }
}

/// A DHIS2 period in SDMX notation: `2024` → `2024`, `2024S1` → `2024-S1`, `2024Q1` →
/// `2024-Q1`, `202401` → `2024-01`. Anything that is not a DHIS2 period is returned as it is.
pub fn time_period(dhis2: &str) -> String {
    let Ok(p) = dhis2.parse::<Period>() else {
        return dhis2.to_string();
    };
    let y = p.year_number();
    let m = p.first_month();
    match p.kind() {
        PeriodType::Yearly => format!("{y}"),
        PeriodType::SixMonthly => format!("{y}-S{}", (m - 1) / 6 + 1),
        PeriodType::Quarterly => format!("{y}-Q{}", (m - 1) / 3 + 1),
        PeriodType::Monthly => format!("{y}-{m:02}"),
    }
}

/// The table as SDMX-CSV 2.0.0 with IDs only (`labels=id`).
pub fn write(t: &PivotTable, dataflow: &DataflowRef) -> String {
    write_with(t, dataflow, Labels::Id)
}

/// Order of the dimension columns: the DSD order, `TIME_PERIOD` last; unknown ones before it
/// in the order of the table.
fn dsd_rank(dim_id: &str) -> usize {
    match dim_id {
        "dx" => 0,
        "ou" => 1,
        "eth" => 2,
        "sex" => 3,
        "area" => 4,
        "age" => 5,
        "pe" => 7,
        _ => 6,
    }
}

const STATUS_NORMAL: &str = "A";
const STATUS_ESTIMATED: &str = "E";
const MAPPED_COMMENT: &str = "Quy đổi từ số liệu của đơn vị hành chính trước/sau sắp xếp";

/// The table as SDMX-CSV 2.0.0 with the given label form.
pub fn write_with(t: &PivotTable, dataflow: &DataflowRef, labels: Labels) -> String {
    // The dimensions of each observation, in the order `observations()` gives them …
    let dims: Vec<&Dim> = t
        .filters
        .iter()
        .filter(|d| d.items.len() == 1)
        .chain(&t.row_dims)
        .chain(&t.col_dims)
        .collect();
    // … and the order of their columns.
    let mut order: Vec<usize> = (0..dims.len()).collect();
    order.sort_by_key(|&i| dsd_rank(&dims[i].id));

    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut header: Vec<String> = vec!["STRUCTURE".into(), "STRUCTURE_ID".into()];
    if labels == Labels::Name {
        header.push("STRUCTURE_NAME".into());
    }
    header.push("ACTION".into());
    let mut component = |id: String, name: &str| match labels {
        Labels::Id => header.push(id),
        Labels::Both => header.push(format!("{id}: {name}")),
        Labels::Name => {
            header.push(id);
            header.push(name.to_string());
        }
    };
    for &i in &order {
        component(concept_id(&dims[i].id), &dims[i].name_vi);
    }
    component("OBS_VALUE".into(), "Giá trị quan sát");
    component("OBS_STATUS".into(), "Tình trạng quan sát");
    component("COMMENT_OBS".into(), "Ghi chú quan sát");
    write_record(&mut w, &header);

    let structure_id = dataflow.to_string();
    let structure_name = dataflow.name.as_deref().unwrap_or(&dataflow.id);
    let mut record: Vec<String> = Vec::with_capacity(header.len());
    for (key, cell) in t.observations() {
        let Some(value) = cell.value.filter(|v| v.is_finite()) else {
            continue;
        };
        record.clear();
        record.push("dataflow".into());
        match labels {
            Labels::Id => record.push(structure_id.clone()),
            Labels::Both => record.push(format!("{structure_id}: {structure_name}")),
            Labels::Name => {
                record.push(structure_id.clone());
                record.push(structure_name.to_string());
            }
        }
        record.push("I".into());
        let mut coded = |code: String, name: &str| match labels {
            Labels::Id => record.push(code),
            Labels::Both => record.push(format!("{code}: {name}")),
            Labels::Name => {
                record.push(code);
                record.push(name.to_string());
            }
        };
        for &i in &order {
            let (dim, item) = key[i];
            let code = if dim.id == "pe" {
                time_period(&item.code)
            } else {
                item.code.clone()
            };
            coded(code, &item.name);
        }
        // A measure and a non-coded attribute: values without names.
        let (status, status_name) = if cell.estimated {
            (STATUS_ESTIMATED, "Giá trị ước tính")
        } else {
            (STATUS_NORMAL, "Giá trị bình thường")
        };
        let comment = match (cell.mapped, cell.reason.as_deref()) {
            (_, Some(r)) if !r.is_empty() => r,
            (true, _) => MAPPED_COMMENT,
            _ => "",
        };
        match labels {
            Labels::Id => {
                record.push(value.to_string());
                record.push(status.into());
                record.push(comment.into());
            }
            Labels::Both => {
                record.push(value.to_string());
                record.push(format!("{status}: {status_name}"));
                record.push(comment.into());
            }
            Labels::Name => {
                record.extend([value.to_string(), String::new()]);
                record.extend([status.into(), status_name.into()]);
                record.extend([comment.into(), String::new()]);
            }
        }
        write_record(&mut w, &record);
    }
    let bytes = w.into_inner().expect("writing CSV into memory cannot fail");
    String::from_utf8(bytes).expect("the CSV writer writes the UTF-8 it is given")
}

fn write_record(w: &mut ::csv::Writer<Vec<u8>>, fields: &[String]) {
    // Into memory, every record of the header's length: cannot fail.
    w.write_record(fields)
        .expect("writing CSV into memory cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pytest;
    use serde_json::Value;

    fn df() -> DataflowRef {
        DataflowRef::new("DANTOC", "DF_DTTS", "1.0")
    }

    #[test]
    fn periods_in_sdmx_notation() {
        assert_eq!(time_period("2024"), "2024");
        assert_eq!(time_period("2024Q1"), "2024-Q1");
        assert_eq!(time_period("2024Q4"), "2024-Q4");
        assert_eq!(time_period("202401"), "2024-01");
        assert_eq!(time_period("202412"), "2024-12");
        assert_eq!(time_period("2024S1"), "2024-S1");
        assert_eq!(time_period("2024S2"), "2024-S2");
        assert_eq!(time_period("LAST_YEAR"), "LAST_YEAR");
    }

    #[test]
    fn concepts_of_dantoc_dimensions() {
        let got: Vec<String> = ["dx", "ou", "pe", "eth", "sex", "area", "age", "x1"]
            .iter()
            .map(|d| concept_id(d))
            .collect();
        assert_eq!(
            got,
            [
                "INDICATOR",
                "REF_AREA",
                "TIME_PERIOD",
                "ETHNIC_GROUP",
                "SEX",
                "URBANISATION",
                "AGE",
                "X1"
            ]
        );
        assert_eq!(df().to_string(), "DANTOC:DF_DTTS(1.0)");
        assert_eq!(
            DataflowRef::new("DANTOC", "DF_DTTS", "").to_string(),
            "DANTOC:DF_DTTS"
        );
    }

    #[test]
    fn sample_as_sdmx_csv() {
        let out = write(&PivotTable::sample(), &df());
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,ETHNIC_GROUP,SEX,TIME_PERIOD,\
             OBS_VALUE,OBS_STATUS,COMMENT_OBS"
        );
        assert_eq!(
            lines[1],
            "dataflow,DANTOC:DF_DTTS(1.0),I,0101,22,02,M,2024,17530,A,"
        );
        // 8 cells, one without a figure; a final CRLF.
        assert_eq!(lines.len(), 1 + 7 + 1);
        assert_eq!(lines[8], "");
        assert!(out.contains("0101,22,02,F,2024,18004,A,"));
        assert!(
            !out.contains("0101,22,10,F,"),
            "the missing figure is left out"
        );
        assert!(out.contains("0101,04,02,F,2024,215927.5,A,"));
        assert!(out.contains(&format!("0101,04,10,M,2024,60115,E,{MAPPED_COMMENT}\r\n")));
        assert!(!out.starts_with('\u{feff}'));
    }

    #[test]
    fn filters_with_several_items_have_no_column_and_periods_are_converted() {
        let mut t = PivotTable::sample();
        t.filters[1].items[0].code = "2024Q1".into();
        let again = t.filters[0].items[0].clone();
        t.filters[0].items.push(again);
        t.filters[0].items[1].code = "0102".into();
        let out = write(&t, &df());
        let header = out.lines().next().unwrap();
        assert!(!header.contains("INDICATOR"), "{header}");
        assert!(out.contains(",2024-Q1,"), "{out}");
    }

    #[test]
    fn fields_are_quoted_when_needed() {
        let mut t = PivotTable::sample();
        t.row_dims[0].items[0].code = "A,\"B\"".into();
        let out = write(&t, &df());
        assert!(out.contains(",\"A,\"\"B\"\"\",02,"), "{out}");
    }

    #[test]
    fn label_forms() {
        let both = write_with(
            &PivotTable::sample(),
            &df().with_name("Dân số"),
            Labels::Both,
        );
        let mut lines = both.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR: Chỉ tiêu,REF_AREA: ")
        );
        assert!(lines.next().unwrap().starts_with(
            "dataflow,DANTOC:DF_DTTS(1.0): Dân số,I,0101: Dân số dân tộc thiểu số,22: Tỉnh Quảng Ninh,"
        ));
        let name = write_with(&PivotTable::sample(), &df(), Labels::Name);
        let mut lines = name.lines();
        let header = lines.next().unwrap();
        assert!(header.starts_with(
            "STRUCTURE,STRUCTURE_ID,STRUCTURE_NAME,ACTION,INDICATOR,Chỉ tiêu,REF_AREA,"
        ));
        assert!(header.ends_with(",OBS_VALUE,Giá trị quan sát,OBS_STATUS,Tình trạng quan sát,COMMENT_OBS,Ghi chú quan sát"));
        let first = lines.next().unwrap();
        assert!(first.starts_with("dataflow,DANTOC:DF_DTTS(1.0),DF_DTTS,I,0101,"));
        assert!(
            first.ends_with(",17530,,A,Giá trị bình thường,,"),
            "{first}"
        );
        assert_eq!(
            header.split(',').count(),
            first.split(',').count(),
            "as many fields as columns"
        );
    }

    /// The message as pysdmx reads it, without a structure (tests/python/read_sdmx.py).
    fn read_back(text: &str) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        std::fs::write(&path, text).unwrap();
        pytest::run("pysdmx", "read_sdmx.py", &path)
    }

    /// pysdmx reads SDMX-CSV through pandas without a data structure, so a code made of
    /// digits comes back as a number: `02` as `2`. Compare codes the way it keeps them.
    fn as_pandas_keeps(code: &str) -> String {
        if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) {
            let digits = code.trim_start_matches('0');
            if digits.is_empty() { "0" } else { digits }.to_string()
        } else {
            code.to_string()
        }
    }

    fn check_against_table(t: &PivotTable, msg: &Value) {
        let datasets = msg["datasets"].as_array().unwrap();
        assert_eq!(datasets.len(), 1, "{msg}");
        let ds = &datasets[0];
        assert_eq!(ds["structure"], "Dataflow=DANTOC:DF_DTTS(1.0)");
        assert_eq!(ds["action"], "Information");
        let rows = ds["rows"].as_array().unwrap();
        let expected: Vec<_> = t
            .observations()
            .filter(|(_, c)| c.value.is_some())
            .collect();
        assert_eq!(rows.len(), expected.len());
        for (row, (key, cell)) in rows.iter().zip(&expected) {
            let v: f64 = row["OBS_VALUE"].as_str().unwrap().parse().unwrap();
            assert_eq!(Some(v), cell.value, "{row}");
            let status = if cell.estimated { "E" } else { "A" };
            assert_eq!(row["OBS_STATUS"], status, "{row}");
            for (dim, item) in key {
                let concept = concept_id(&dim.id);
                let want = if dim.id == "pe" {
                    time_period(&item.code)
                } else {
                    as_pandas_keeps(&item.code)
                };
                assert_eq!(
                    row[&concept].as_str(),
                    Some(want.as_str()),
                    "{concept} in {row}"
                );
            }
        }
    }

    #[test]
    fn pysdmx_reads_the_sample() {
        let t = PivotTable::sample();
        let msg = read_back(&write(&t, &df()));
        let columns = &msg["datasets"][0]["columns"];
        assert_eq!(
            columns,
            &serde_json::json!([
                "INDICATOR",
                "REF_AREA",
                "ETHNIC_GROUP",
                "SEX",
                "TIME_PERIOD",
                "OBS_VALUE",
                "OBS_STATUS",
                "COMMENT_OBS"
            ])
        );
        check_against_table(&t, &msg);
        // With labels=name, pysdmx drops the name columns and reads the same.
        check_against_table(&t, &read_back(&write_with(&t, &df(), Labels::Name)));
    }

    #[test]
    fn pysdmx_reads_a_table_with_quarters_and_three_column_dimensions() {
        let t = crate::xlsx::tests::three_level();
        let msg = read_back(&write(&t, &df()));
        let rows = msg["datasets"][0]["rows"].as_array().unwrap();
        let periods: std::collections::BTreeSet<&str> = rows
            .iter()
            .map(|r| r["TIME_PERIOD"].as_str().unwrap())
            .collect();
        assert_eq!(
            periods.into_iter().collect::<Vec<_>>(),
            ["2023-Q4", "2024-Q1"]
        );
        check_against_table(&t, &msg);
    }
}

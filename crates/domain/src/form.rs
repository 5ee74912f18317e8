//! Reporting forms (biểu mẫu): which indicators a unit of one administrative level reports for
//! one period, laid out in sections of grids, and by when.
//!
//! A form item is one indicator with its grid: rows are either one row or the ethnic groups
//! (those present in the unit, or a fixed list), columns are either one column or the two sexes
//! (or urban / rural). Each cell of the grid is one disaggregation of the indicator
//! (`E02.F`, `M`, `default`, …); totals are computed, never entered.

use crate::admin::UnitKind;
use crate::disagg::{Area, Dimension, Disagg, Sex};
use crate::error::{FieldError, Problems};
use crate::indicator::{Aggregation, Indicator, check_code};
use crate::period::{Period, PeriodType, add_days};
use serde::{Deserialize, Serialize};

/// What the rows or the columns of an item's grid are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    /// One row / one column: the indicator's total (or, crossed with the other axis, its slice).
    #[default]
    None,
    /// One row per ethnic group.
    Ethnic,
    /// Male, female.
    Sex,
    /// Urban, rural.
    Area,
}

impl Axis {
    pub fn as_str(self) -> &'static str {
        match self {
            Axis::None => "none",
            Axis::Ethnic => "ethnic",
            Axis::Sex => "sex",
            Axis::Area => "area",
        }
    }
    fn dimension(self) -> Option<Dimension> {
        match self {
            Axis::None => None,
            Axis::Ethnic => Some(Dimension::Ethnic),
            Axis::Sex => Some(Dimension::Sex),
            Axis::Area => Some(Dimension::Area),
        }
    }
}

/// One key along an axis: an ethnic code, a sex, an area, or nothing (the whole).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AxisKey {
    All,
    Ethnic(String),
    Sex(Sex),
    Area(Area),
}

impl AxisKey {
    pub fn label_vi(&self, ethnic_name: &dyn Fn(&str) -> Option<String>) -> String {
        match self {
            AxisKey::All => "Tổng số".into(),
            AxisKey::Ethnic(e) => ethnic_name(e).unwrap_or_else(|| format!("Dân tộc {e}")),
            AxisKey::Sex(Sex::Male) => "Nam".into(),
            AxisKey::Sex(Sex::Female) => "Nữ".into(),
            AxisKey::Area(Area::Urban) => "Thành thị".into(),
            AxisKey::Area(Area::Rural) => "Nông thôn".into(),
        }
    }
    pub fn label_en(&self, ethnic_name: &dyn Fn(&str) -> Option<String>) -> String {
        match self {
            AxisKey::All => "Total".into(),
            AxisKey::Ethnic(e) => ethnic_name(e).unwrap_or_else(|| format!("Ethnic group {e}")),
            AxisKey::Sex(Sex::Male) => "Male".into(),
            AxisKey::Sex(Sex::Female) => "Female".into(),
            AxisKey::Area(Area::Urban) => "Urban".into(),
            AxisKey::Area(Area::Rural) => "Rural".into(),
        }
    }
}

/// One indicator on a form, with its grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormItem {
    pub indicator: String,
    #[serde(default)]
    pub rows: Axis,
    #[serde(default)]
    pub columns: Axis,
    /// Every cell of the grid must be filled before the form can be submitted.
    #[serde(default)]
    pub required: bool,
    /// Rows = these ethnic groups (GSO 2008 codes); empty: the groups present in the unit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ethnic_groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub title_vi: String,
    #[serde(default)]
    pub title_en: String,
    pub items: Vec<FormItem>,
}

/// A reporting form, as configured by a provincial officer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Form {
    pub code: String,
    pub name_vi: String,
    #[serde(default)]
    pub name_en: String,
    pub period_type: PeriodType,
    /// The administrative level that reports it.
    pub level: UnitKind,
    /// Days after the end of the period by which the form is due.
    pub deadline_days: u32,
    pub sections: Vec<Section>,
}

/// Longest deadline: a year after the period ends.
pub const MAX_DEADLINE_DAYS: u32 = 366;

impl Form {
    /// Every indicator on the form, in order.
    pub fn indicators(&self) -> impl Iterator<Item = &FormItem> {
        self.sections.iter().flat_map(|s| s.items.iter())
    }

    pub fn item(&self, indicator: &str) -> Option<&FormItem> {
        self.indicators().find(|i| i.indicator == indicator)
    }

    /// The day (`YYYY-MM-DD`) by which the form is due for a period.
    pub fn deadline(&self, p: &Period) -> String {
        add_days(&p.end_date(), self.deadline_days as i64).unwrap_or_else(|| p.end_date())
    }

    /// Whether the form is reported for this period (its type matches).
    pub fn accepts(&self, p: &Period) -> Result<(), String> {
        if p.kind() == self.period_type {
            Ok(())
        } else {
            Err(format!(
                "form {} is reported {}, not for the period {p}",
                self.code,
                self.period_type.as_str()
            ))
        }
    }

    /// Check a definition against the catalogue. `indicator` looks an indicator up by code,
    /// `ethnic_exists` an ethnic code of the GSO 2008 list. Every problem names its place
    /// (`sections[1].items[0].rows`).
    pub fn validate(
        &self,
        indicator: &dyn Fn(&str) -> Option<Indicator>,
        ethnic_exists: &dyn Fn(&str) -> bool,
    ) -> Problems {
        let mut p = Problems::default();
        if let Err(e) = check_code(&self.code) {
            p.push(FieldError::new("code", e).value(&self.code));
        }
        if self.name_vi.trim().is_empty() {
            p.push(FieldError::new(
                "name_vi",
                "the Vietnamese name is required",
            ));
        }
        if self.level == UnitKind::Village {
            p.push(FieldError::new(
                "level",
                "forms are reported by provinces, districts or communes, not villages",
            ));
        }
        if self.deadline_days > MAX_DEADLINE_DAYS {
            p.push(
                FieldError::new(
                    "deadline_days",
                    format!("at most {MAX_DEADLINE_DAYS} days after the period"),
                )
                .value(self.deadline_days.to_string()),
            );
        }
        if self.sections.is_empty() || self.sections.iter().all(|s| s.items.is_empty()) {
            p.push(FieldError::new(
                "sections",
                "a form needs at least one section with one indicator",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (si, s) in self.sections.iter().enumerate() {
            if s.title_vi.trim().is_empty() {
                p.push(FieldError::new(
                    format!("sections[{si}].title_vi"),
                    "a section needs a Vietnamese title",
                ));
            }
            for (ii, it) in s.items.iter().enumerate() {
                let at = |f: &str| format!("sections[{si}].items[{ii}].{f}");
                if !seen.insert(it.indicator.clone()) {
                    p.push(
                        FieldError::new(at("indicator"), "the indicator is on the form twice")
                            .value(&it.indicator),
                    );
                }
                let Some(ind) = indicator(&it.indicator) else {
                    p.push(
                        FieldError::new(at("indicator"), "no such indicator in the catalogue")
                            .value(&it.indicator),
                    );
                    continue;
                };
                if ind.is_derived() {
                    p.push(
                        FieldError::new(
                            at("indicator"),
                            "a derived indicator is computed, not entered",
                        )
                        .value(&it.indicator),
                    );
                }
                if ind.period_type != self.period_type {
                    p.push(
                        FieldError::new(
                            at("indicator"),
                            format!(
                                "the indicator is reported {}, the form {}",
                                ind.period_type.as_str(),
                                self.period_type.as_str()
                            ),
                        )
                        .value(&it.indicator),
                    );
                }
                if !matches!(it.rows, Axis::None | Axis::Ethnic) {
                    p.push(
                        FieldError::new(at("rows"), "rows are none or ethnic")
                            .value(it.rows.as_str()),
                    );
                }
                if !matches!(it.columns, Axis::None | Axis::Sex | Axis::Area) {
                    p.push(
                        FieldError::new(at("columns"), "columns are none, sex or area")
                            .value(it.columns.as_str()),
                    );
                }
                for (f, axis) in [("rows", it.rows), ("columns", it.columns)] {
                    if let Some(d) = axis.dimension()
                        && !ind.disaggregations.contains(&d)
                    {
                        p.push(
                            FieldError::new(
                                at(f),
                                format!(
                                    "indicator {} is not broken down by {}",
                                    ind.code,
                                    d.as_str()
                                ),
                            )
                            .value(axis.as_str()),
                        );
                    }
                }
                if !it.ethnic_groups.is_empty() && it.rows != Axis::Ethnic {
                    p.push(FieldError::new(
                        at("ethnic_groups"),
                        "ethnic groups are listed only when the rows are ethnic groups",
                    ));
                }
                for e in &it.ethnic_groups {
                    if !ethnic_exists(e) {
                        p.push(
                            FieldError::new(at("ethnic_groups"), "no such ethnic group code")
                                .value(e),
                        );
                    }
                }
            }
        }
        p
    }
}

impl FormItem {
    /// The rows of the grid: the ethnic groups listed, or else those `present` in the unit.
    pub fn row_keys(&self, present: &[String]) -> Vec<AxisKey> {
        match self.rows {
            Axis::Ethnic => {
                let list = if self.ethnic_groups.is_empty() {
                    present
                } else {
                    &self.ethnic_groups
                };
                list.iter().map(|e| AxisKey::Ethnic(e.clone())).collect()
            }
            _ => vec![AxisKey::All],
        }
    }

    pub fn column_keys(&self) -> Vec<AxisKey> {
        match self.columns {
            Axis::Sex => vec![AxisKey::Sex(Sex::Male), AxisKey::Sex(Sex::Female)],
            Axis::Area => vec![AxisKey::Area(Area::Urban), AxisKey::Area(Area::Rural)],
            _ => vec![AxisKey::All],
        }
    }

    /// The disaggregation of one cell.
    pub fn cell(&self, row: &AxisKey, column: &AxisKey) -> Disagg {
        let mut d = Disagg::default();
        for k in [row, column] {
            match k {
                AxisKey::All => {}
                AxisKey::Ethnic(e) => d.ethnic = Some(e.clone()),
                AxisKey::Sex(s) => d.sex = Some(*s),
                AxisKey::Area(a) => d.area = Some(*a),
            }
        }
        d
    }

    /// Every cell, row by row.
    pub fn cells(&self, present: &[String]) -> Vec<Disagg> {
        let cols = self.column_keys();
        self.row_keys(present)
            .iter()
            .flat_map(|r| cols.iter().map(move |c| self.cell(r, c)))
            .collect()
    }

    /// Whether totals of the grid may be shown: the indicator's figures add up.
    pub fn totals_add_up(ind: &Indicator) -> bool {
        ind.aggregation == Aggregation::Sum && ind.value_type.is_numeric()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicator::ValueType;

    fn ind(code: &str, dims: &[Dimension]) -> Indicator {
        let mut i = crate::indicator::tests::sample();
        i.code = code.into();
        i.disaggregations = dims.to_vec();
        i.period_type = PeriodType::Yearly;
        i.value_type = ValueType::Integer;
        i.aggregation = Aggregation::Sum;
        i.formula = None;
        i
    }

    fn form() -> Form {
        Form {
            code: "BM01".into(),
            name_vi: "Dân số DTTS".into(),
            name_en: "EM population".into(),
            period_type: PeriodType::Yearly,
            level: UnitKind::Commune,
            deadline_days: 15,
            sections: vec![Section {
                title_vi: "Dân số".into(),
                title_en: "Population".into(),
                items: vec![
                    FormItem {
                        indicator: "0101".into(),
                        rows: Axis::Ethnic,
                        columns: Axis::Sex,
                        required: true,
                        ethnic_groups: vec![],
                    },
                    FormItem {
                        indicator: "x-cnscd-to".into(),
                        rows: Axis::None,
                        columns: Axis::None,
                        required: false,
                        ethnic_groups: vec![],
                    },
                ],
            }],
        }
    }

    fn catalogue(code: &str) -> Option<Indicator> {
        match code {
            "0101" => Some(ind("0101", &[Dimension::Ethnic, Dimension::Sex])),
            "x-cnscd-to" => Some(ind("x-cnscd-to", &[])),
            _ => None,
        }
    }

    #[test]
    fn a_good_form_validates_and_lays_out_its_cells() {
        let f = form();
        assert!(f.validate(&catalogue, &|e| e == "02").is_empty());
        let it = f.item("0101").unwrap();
        let cells: Vec<String> = it
            .cells(&["02".into(), "10".into()])
            .iter()
            .map(|d| d.code())
            .collect();
        assert_eq!(cells, ["E02.M", "E02.F", "E10.M", "E10.F"]);
        let one: Vec<String> = f
            .item("x-cnscd-to")
            .unwrap()
            .cells(&[])
            .iter()
            .map(|d| d.code())
            .collect();
        assert_eq!(one, ["default"]);
    }

    #[test]
    fn problems_name_their_place() {
        let mut f = form();
        f.sections[0].items[1].columns = Axis::Sex; // not broken down by sex
        f.sections[0].items.push(FormItem {
            indicator: "nope".into(),
            rows: Axis::None,
            columns: Axis::None,
            required: false,
            ethnic_groups: vec![],
        });
        f.sections[0].items[0].ethnic_groups = vec!["99".into()];
        let p = f.validate(&catalogue, &|e| e == "02");
        let fields: Vec<&str> = p.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "sections[0].items[0].ethnic_groups",
                "sections[0].items[1].columns",
                "sections[0].items[2].indicator"
            ],
            "{p}"
        );
    }

    #[test]
    fn deadline_counts_days_after_the_period() {
        let f = form();
        let p: Period = "2024".parse().unwrap();
        assert_eq!(f.deadline(&p), "2025-01-15");
        let mut q = form();
        q.period_type = PeriodType::Quarterly;
        q.deadline_days = 30;
        assert_eq!(q.deadline(&"2024Q1".parse().unwrap()), "2024-04-30");
        assert!(f.accepts(&"2024Q1".parse().unwrap()).is_err());
    }
}

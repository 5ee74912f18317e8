//! The indicator catalogue: what is measured, how it is typed, broken down and rolled up.

use crate::disagg::Dimension;
use crate::error::{FieldError, Problems};
use crate::formula::Expr;
use crate::period::PeriodType;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    Number,
    Integer,
    Percent,
    YesNo,
    Text,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Number => "number",
            ValueType::Integer => "integer",
            ValueType::Percent => "percent",
            ValueType::YesNo => "yes_no",
            ValueType::Text => "text",
        }
    }
    pub fn is_numeric(self) -> bool {
        !matches!(self, ValueType::Text)
    }
}

impl FromStr for ValueType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "number" => Ok(ValueType::Number),
            "integer" => Ok(ValueType::Integer),
            "percent" => Ok(ValueType::Percent),
            "yes_no" | "boolean" => Ok(ValueType::YesNo),
            "text" => Ok(ValueType::Text),
            o => Err(format!(
                "unknown value type {o:?}: expected number, integer, percent, yes_no or text"
            )),
        }
    }
}

/// How values of an indicator roll up over units and periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    Sum,
    Average,
    /// Average weighted by another indicator (e.g. a rate weighted by population).
    WeightedAverage,
    /// The value of the latest period.
    Latest,
    /// Not aggregated (derived indicators are computed after aggregation instead).
    None,
}

impl Aggregation {
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Average => "average",
            Aggregation::WeightedAverage => "weighted_average",
            Aggregation::Latest => "latest",
            Aggregation::None => "none",
        }
    }
}

impl FromStr for Aggregation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "sum" => Ok(Aggregation::Sum),
            "average" => Ok(Aggregation::Average),
            "weighted_average" => Ok(Aggregation::WeightedAverage),
            "latest" => Ok(Aggregation::Latest),
            "none" => Ok(Aggregation::None),
            o => Err(format!(
                "unknown aggregation {o:?}: expected sum, average, weighted_average, latest or none"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    /// Topic / group (nhóm chỉ tiêu).
    pub topic: String,
    /// Unit of measure (người, hộ, %, …).
    pub unit: String,
    pub value_type: ValueType,
    pub aggregation: Aggregation,
    /// For `weighted_average`: the indicator whose values weight the average.
    pub weight_indicator: Option<String>,
    /// Breakdowns values of this indicator may carry.
    pub disaggregations: Vec<Dimension>,
    pub period_type: PeriodType,
    /// For derived indicators: a formula over other indicators.
    pub formula: Option<String>,
    pub legal_source: String,
    // Columns of the national indicator catalogues.
    pub main_disaggregations: String,
    pub publication_period: String,
    pub responsible_agency: String,
    pub higher_level_code: String,
    // Definition.
    pub concept: String,
    pub method: String,
    pub data_source: String,
    /// Code is provisional (not yet an official code); a province may replace it.
    pub provisional: bool,
}

/// Indicator and unit codes: 1–50 characters, letters, digits, `_ . -`, starting with a letter or digit.
pub fn check_code(code: &str) -> Result<(), String> {
    let ok = !code.is_empty()
        && code.len() <= 50
        && code.as_bytes()[0].is_ascii_alphanumeric()
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "code {code:?} must be 1–50 characters: letters, digits, _ . - (starting with a letter or digit)"
        ))
    }
}

impl Indicator {
    pub fn is_derived(&self) -> bool {
        self.formula.is_some()
    }

    pub fn parsed_formula(&self) -> Option<Result<Expr, crate::formula::ParseError>> {
        self.formula.as_deref().map(Expr::parse)
    }

    /// Check one catalogue entry on its own (references to other indicators are checked
    /// by the catalogue, which knows them).
    pub fn validate(&self) -> Problems {
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
        match (self.aggregation, &self.weight_indicator) {
            (Aggregation::WeightedAverage, None) => p.push(FieldError::new(
                "weight_indicator",
                "a weighted average needs the code of the weighting indicator",
            )),
            (a, Some(w)) if a != Aggregation::WeightedAverage => p.push(
                FieldError::new(
                    "weight_indicator",
                    "only a weighted_average takes a weighting indicator",
                )
                .value(w),
            ),
            _ => {}
        }
        if let Some(Err(e)) = self.parsed_formula() {
            p.push(
                FieldError::new("formula", e.to_string())
                    .value(self.formula.clone().unwrap_or_default()),
            );
        }
        if self.is_derived() && !self.disaggregations.is_empty() {
            p.push(FieldError::new(
                "disaggregations",
                "derived indicators are computed, not broken down: leave disaggregations empty",
            ));
        }
        if self.is_derived() && !self.value_type.is_numeric() {
            p.push(FieldError::new(
                "value_type",
                "a derived indicator must be numeric",
            ));
        }
        if !self.value_type.is_numeric()
            && matches!(
                self.aggregation,
                Aggregation::Sum | Aggregation::Average | Aggregation::WeightedAverage
            )
        {
            p.push(FieldError::new(
                "aggregation",
                "text values cannot be summed or averaged: use latest or none",
            ));
        }
        p
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample() -> Indicator {
        Indicator {
            code: "0101".into(),
            name_vi: "Dân số người DTTS".into(),
            name_en: "Ethnic-minority population".into(),
            topic: "Dân số".into(),
            unit: "người".into(),
            value_type: ValueType::Integer,
            aggregation: Aggregation::Sum,
            weight_indicator: None,
            disaggregations: vec![Dimension::Ethnic, Dimension::Sex],
            period_type: PeriodType::Yearly,
            formula: None,
            legal_source: String::new(),
            main_disaggregations: String::new(),
            publication_period: String::new(),
            responsible_agency: String::new(),
            higher_level_code: String::new(),
            concept: String::new(),
            method: String::new(),
            data_source: String::new(),
            provisional: false,
        }
    }

    #[test]
    fn valid_entry_passes() {
        assert!(sample().validate().is_empty());
    }

    #[test]
    fn catches_inconsistent_entries() {
        let mut i = sample();
        i.aggregation = Aggregation::WeightedAverage;
        assert_eq!(i.validate().0[0].field, "weight_indicator");
        let mut i = sample();
        i.formula = Some("#{0101} / ".into());
        let p = i.validate();
        assert!(p.0.iter().any(|e| e.field == "formula"));
        assert!(p.0.iter().any(|e| e.field == "disaggregations"));
        let mut i = sample();
        i.code = "bad code!".into();
        assert_eq!(i.validate().0[0].field, "code");
    }
}

//! Validation rules: checks that values must pass on entry, on import and in the batch report.
//!
//! A **comparison** rule compares two expressions over indicators, written in the formula
//! syntax of derived indicators ([`crate::formula`]): `#{x-ho-ngheo-dtts}` `<=`
//! `#{x-ho-dtts}`. Its disaggregation mode says which values an operand stands for:
//! - `same`: checked cell by cell — every operand is that indicator's value at the same unit,
//!   period and disaggregation;
//! - `total`: each operand is the total of its indicator at the unit and period: its values
//!   summed over the disaggregations of one breakdown level, the one with the fewest dimensions
//!   (a stored total wins over adding up its parts, as in the analytics, so nothing counts twice).
//!
//! A **bounds** rule gives a minimum and/or a maximum for the values of one indicator
//! (optionally at one disaggregation only).
//!
//! A missing operand skips the rule (the default) or counts as 0. Importance `error` refuses
//! an import; `warning` is reported only. This module parses and checks rule definitions and
//! evaluates one rule over given operand values; the store finds the values.

use crate::disagg::Disagg;
use crate::error::{FieldError, Problems};
use crate::formula::Expr;
use crate::indicator::{Indicator, check_code};
use crate::text::clean;
use crate::value::fmt_num;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A comparison between the two sides of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Operator {
    pub const ALL: [Operator; 6] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Lt,
        Operator::Le,
        Operator::Gt,
        Operator::Ge,
    ];

    /// As written in rules and in the API: `==`, `!=`, `<`, `<=`, `>`, `>=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "==",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
        }
    }

    /// As printed for people: `=`, `≠`, `<`, `≤`, `>`, `≥`.
    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "≠",
            Operator::Lt => "<",
            Operator::Le => "≤",
            Operator::Gt => ">",
            Operator::Ge => "≥",
        }
    }

    /// Whether `left OP right` holds. Two numbers within a relative 1e-9 of each other are
    /// equal, so that sums of decimals compare as people expect.
    pub fn holds(self, left: f64, right: f64) -> bool {
        let scale = left.abs().max(right.abs()).max(1.0);
        let eq = (left - right).abs() <= 1e-9 * scale;
        match self {
            Operator::Eq => eq,
            Operator::Ne => !eq,
            Operator::Lt => left < right && !eq,
            Operator::Le => left < right || eq,
            Operator::Gt => left > right && !eq,
            Operator::Ge => left > right || eq,
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operator {
    type Err = String;
    /// The symbols, or DHIS2's names (`less_than_or_equal_to`, …).
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "==" | "=" | "equal_to" => Operator::Eq,
            "!=" | "<>" | "≠" | "not_equal_to" => Operator::Ne,
            "<" | "less_than" => Operator::Lt,
            "<=" | "≤" | "less_than_or_equal_to" => Operator::Le,
            ">" | "greater_than" => Operator::Gt,
            ">=" | "≥" | "greater_than_or_equal_to" => Operator::Ge,
            o => {
                return Err(format!(
                    "unknown operator {o:?}: expected ==, !=, <, <=, > or >="
                ));
            }
        })
    }
}

impl Serialize for Operator {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Operator {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Generates `as_str`, `FromStr` (with extra accepted spellings) and string serde for a
/// small enum of words.
macro_rules! word_enum {
    ($name:ident { $($variant:ident = $word:literal $(| $alt:literal)*),+ $(,)? }, $what:literal) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }
        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($word $(| $alt)* => Ok($name::$variant),)+
                    o => Err(format!(
                        concat!("unknown ", $what, " {:?}: expected {}"),
                        o,
                        [$($word),+].join(" or ")
                    )),
                }
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// What a violation does: `error` refuses an import, `warning` is only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Importance {
    #[default]
    Error,
    Warning,
}
word_enum!(Importance { Error = "error" | "high", Warning = "warning" | "medium" | "low" }, "importance");

impl Importance {
    pub fn label_vi(self) -> &'static str {
        match self {
            Importance::Error => "Lỗi",
            Importance::Warning => "Cảnh báo",
        }
    }
}

/// What a missing operand does: skip the rule (default), or count as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Missing {
    #[default]
    Skip,
    Zero,
}
word_enum!(Missing { Skip = "skip" | "skip_if_any_value_missing", Zero = "zero" | "never_skip" }, "missing-value strategy");

/// Which values the operands of a comparison stand for (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    #[default]
    Same,
    Total,
}
word_enum!(Mode { Same = "same", Total = "total" }, "disaggregation mode");

/// A comparison of two expressions, or bounds on one indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Kind {
    #[default]
    Compare,
    Bounds,
}
word_enum!(Kind { Compare = "compare" | "comparison", Bounds = "bounds" }, "rule kind");

/// A rule as written: the API's and the table's shape. Fields of the other kind stay empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleDef {
    /// 1–50 characters: letters, digits, `_ . -`.
    pub code: String,
    pub name_vi: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub kind: Kind,
    /// Comparison: the left expression, e.g. `#{x-ho-ngheo-dtts}`.
    #[serde(default)]
    pub left: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
    /// Comparison: the right expression.
    #[serde(default)]
    pub right: String,
    /// Bounds: the indicator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator: Option<String>,
    /// Bounds: only values at this disaggregation (default: every value of the indicator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disaggregation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default)]
    pub importance: Importance,
    #[serde(default)]
    pub missing: Missing,
    /// Comparison: `same` (cell by cell) or `total`.
    #[serde(default)]
    pub mode: Mode,
}

impl RuleDef {
    /// The same definition with its texts NFC-normalised and trimmed, empty optional texts
    /// dropped and the disaggregation in its canonical form (when it parses).
    pub fn cleaned(&self) -> RuleDef {
        let opt = |s: &Option<String>| s.as_deref().map(clean).filter(|s| !s.is_empty());
        let disaggregation = opt(&self.disaggregation).map(|d| match d.parse::<Disagg>() {
            Ok(x) => x.code(),
            Err(_) => d,
        });
        RuleDef {
            code: clean(&self.code),
            name_vi: clean(&self.name_vi),
            name_en: clean(&self.name_en),
            description: clean(&self.description),
            left: clean(&self.left),
            right: clean(&self.right),
            indicator: opt(&self.indicator),
            disaggregation,
            ..self.clone()
        }
    }

    /// The text of a bounds rule, e.g. `0 ≤ #{0101} ≤ 100`, or of a comparison.
    pub fn expression(&self) -> String {
        match self.kind {
            Kind::Compare => format!(
                "{} {} {}",
                self.left,
                self.operator.map(Operator::symbol).unwrap_or("?"),
                self.right
            ),
            Kind::Bounds => {
                let ind = format!(
                    "#{{{}}}{}",
                    self.indicator.as_deref().unwrap_or("?"),
                    self.disaggregation
                        .as_deref()
                        .map(|d| format!("[{d}]"))
                        .unwrap_or_default()
                );
                match (self.min, self.max) {
                    (Some(a), Some(b)) => format!("{} ≤ {ind} ≤ {}", fmt_num(a), fmt_num(b)),
                    (Some(a), None) => format!("{ind} ≥ {}", fmt_num(a)),
                    (None, Some(b)) => format!("{ind} ≤ {}", fmt_num(b)),
                    (None, None) => ind,
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Body {
    Compare {
        left: Expr,
        op: Operator,
        right: Expr,
    },
    Bounds {
        min: Option<f64>,
        max: Option<f64>,
    },
}

/// A rule parsed and ready to evaluate.
#[derive(Debug, Clone)]
pub struct Rule {
    pub def: RuleDef,
    /// Indicator codes the rule reads, each once; [`Rule::evaluate`] takes their values in
    /// this order.
    refs: Vec<String>,
    body: Body,
}

/// The outcome of a rule over one set of operand values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Eval {
    Pass,
    /// An operand is missing (with the `skip` strategy), or a division by zero.
    Skipped,
    /// `left OP right` does not hold.
    Fail {
        left: f64,
        op: Operator,
        right: f64,
    },
}

/// A rule that does not hold, with the numbers on both sides and messages in both languages.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    pub rule: String,
    pub rule_name: String,
    pub importance: Importance,
    pub left: f64,
    pub operator: Operator,
    pub right: f64,
    /// Vietnamese.
    pub message: String,
    pub message_en: String,
}

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 2000;

impl Rule {
    /// Parse a definition: its fields and expressions, without the catalogue
    /// ([`Rule::check`] adds it). Every problem is named by its field.
    pub fn parse(def: &RuleDef) -> Result<Rule, Problems> {
        let def = def.cleaned();
        let mut p = Problems::default();
        if let Err(e) = check_code(&def.code) {
            p.push(FieldError::new("code", e).value(&def.code));
        }
        let len = |s: &str| s.chars().count();
        if def.name_vi.is_empty() || len(&def.name_vi) > MAX_NAME {
            p.push(FieldError::new(
                "nameVi",
                format!("a Vietnamese name of 1 to {MAX_NAME} characters is required"),
            ));
        }
        if len(&def.name_en) > MAX_NAME {
            p.push(FieldError::new(
                "nameEn",
                format!("at most {MAX_NAME} characters"),
            ));
        }
        if len(&def.description) > MAX_DESCRIPTION {
            p.push(FieldError::new(
                "description",
                format!("at most {MAX_DESCRIPTION} characters"),
            ));
        }
        let not_here = |p: &mut Problems, field: &str, set: bool, kind: &str| {
            if set {
                p.push(FieldError::new(
                    field,
                    format!("not used by a {kind} rule: leave it out"),
                ));
            }
        };
        let mut refs: Vec<String> = vec![];
        let body = match def.kind {
            Kind::Compare => {
                not_here(&mut p, "indicator", def.indicator.is_some(), "comparison");
                not_here(
                    &mut p,
                    "disaggregation",
                    def.disaggregation.is_some(),
                    "comparison",
                );
                not_here(&mut p, "min", def.min.is_some(), "comparison");
                not_here(&mut p, "max", def.max.is_some(), "comparison");
                let mut side = |field: &str, src: &str| -> Option<Expr> {
                    if src.is_empty() {
                        p.push(FieldError::new(
                            field,
                            "an expression is required, e.g. #{x-ho-dtts}",
                        ));
                        return None;
                    }
                    match Expr::parse(src) {
                        Ok(e) => {
                            for r in e.references() {
                                if !refs.contains(&r) {
                                    refs.push(r);
                                }
                            }
                            Some(e)
                        }
                        Err(e) => {
                            p.push(FieldError::new(field, e.to_string()).value(src));
                            None
                        }
                    }
                };
                let left = side("left", &def.left);
                let right = side("right", &def.right);
                if def.operator.is_none() {
                    p.push(FieldError::new(
                        "operator",
                        "an operator is required: ==, !=, <, <=, > or >=",
                    ));
                }
                if left.is_some() && right.is_some() && refs.is_empty() {
                    p.push(FieldError::new(
                        "left",
                        "the rule refers to no indicator: write operands as #{code}",
                    ));
                }
                match (left, def.operator, right) {
                    (Some(left), Some(op), Some(right)) => Some(Body::Compare { left, op, right }),
                    _ => None,
                }
            }
            Kind::Bounds => {
                not_here(&mut p, "left", !def.left.is_empty(), "bounds");
                not_here(&mut p, "operator", def.operator.is_some(), "bounds");
                not_here(&mut p, "right", !def.right.is_empty(), "bounds");
                match &def.indicator {
                    None => p.push(FieldError::new(
                        "indicator",
                        "a bounds rule names its indicator",
                    )),
                    Some(i) => match check_code(i) {
                        Ok(()) => refs.push(i.clone()),
                        Err(e) => p.push(FieldError::new("indicator", e).value(i)),
                    },
                }
                if let Some(d) = &def.disaggregation
                    && let Err(e) = d.parse::<Disagg>()
                {
                    p.push(FieldError::new("disaggregation", e).value(d));
                }
                for (f, v) in [("min", def.min), ("max", def.max)] {
                    if v.is_some_and(|v| !v.is_finite()) {
                        p.push(FieldError::new(f, "a finite number is required"));
                    }
                }
                match (def.min, def.max) {
                    (None, None) => p.push(FieldError::new(
                        "min",
                        "a bounds rule gives a minimum, a maximum or both",
                    )),
                    (Some(a), Some(b)) if a > b => p.push(
                        FieldError::new(
                            "max",
                            format!("the maximum is below the minimum {}", fmt_num(a)),
                        )
                        .value(fmt_num(b)),
                    ),
                    _ => {}
                }
                Some(Body::Bounds {
                    min: def.min,
                    max: def.max,
                })
            }
        };
        if def.kind == Kind::Bounds && def.mode != Mode::Same {
            p.push(FieldError::new(
                "mode",
                "bounds apply to each value: the mode is same",
            ));
        }
        match body {
            Some(body) if p.is_empty() => Ok(Rule { def, refs, body }),
            _ => Err(p),
        }
    }

    /// Parse a definition and check it against the catalogue: every operand is an indicator
    /// (`lookup` gives it by code) that is stored, not derived, and numeric; all operands are
    /// reported with the same period type; a bounds rule's disaggregation is one its indicator
    /// is broken down by.
    pub fn check(
        def: &RuleDef,
        lookup: &dyn Fn(&str) -> Option<Indicator>,
    ) -> Result<Rule, Problems> {
        let rule = Rule::parse(def)?;
        let mut p = Problems::default();
        let field = match rule.def.kind {
            Kind::Compare => "left",
            Kind::Bounds => "indicator",
        };
        let left_refs = match &rule.body {
            Body::Compare { left, .. } => left.references(),
            Body::Bounds { .. } => vec![],
        };
        let mut period: Option<(String, crate::period::PeriodType)> = None;
        for code in &rule.refs {
            let where_ = |e: FieldError| {
                let side = if rule.def.kind == Kind::Compare && !left_refs.contains(code) {
                    "right"
                } else {
                    field
                };
                FieldError {
                    field: side.into(),
                    ..e
                }
            };
            let Some(ind) = lookup(code) else {
                p.push(where_(
                    FieldError::new("", "no indicator has this code").value(code),
                ));
                continue;
            };
            if ind.is_derived() {
                p.push(where_(
                    FieldError::new(
                        "",
                        "this indicator is derived by a formula: rules check stored values; use its operands",
                    )
                    .value(code),
                ));
            }
            if !ind.value_type.is_numeric() {
                p.push(where_(
                    FieldError::new("", "this indicator holds text: rules compare numbers")
                        .value(code),
                ));
            }
            match &period {
                None => period = Some((code.clone(), ind.period_type)),
                Some((first, pt)) if *pt != ind.period_type => p.push(where_(
                    FieldError::new(
                        "",
                        format!(
                            "reported {} while {first} is reported {}: a rule compares values of one period",
                            ind.period_type.as_str(),
                            pt.as_str()
                        ),
                    )
                    .value(code),
                )),
                _ => {}
            }
            if let (Kind::Bounds, Some(d)) = (rule.def.kind, &rule.def.disaggregation)
                && let Ok(d) = d.parse::<Disagg>()
                && let Some(dim) = d
                    .dimensions()
                    .into_iter()
                    .find(|x| !ind.disaggregations.contains(x))
            {
                p.push(
                    FieldError::new(
                        "disaggregation",
                        format!("indicator {code} is not broken down by {}", dim.as_str()),
                    )
                    .value(d.code()),
                );
            }
        }
        if p.is_empty() { Ok(rule) } else { Err(p) }
    }

    /// Indicator codes the rule reads, each once.
    pub fn references(&self) -> &[String] {
        &self.refs
    }

    pub fn code(&self) -> &str {
        &self.def.code
    }

    pub fn kind(&self) -> Kind {
        self.def.kind
    }

    pub fn mode(&self) -> Mode {
        self.def.mode
    }

    pub fn importance(&self) -> Importance {
        self.def.importance
    }

    /// Bounds: the only disaggregation checked, if one is named (canonical code).
    pub fn bounds_disaggregation(&self) -> Option<&str> {
        match self.body {
            Body::Bounds { .. } => self.def.disaggregation.as_deref(),
            Body::Compare { .. } => None,
        }
    }

    /// Evaluate over the values of [`Rule::references`], in that order (`None`: no value).
    pub fn evaluate(&self, values: &[Option<f64>]) -> Eval {
        match &self.body {
            Body::Bounds { min, max } => {
                let Some(v) = values.first().copied().flatten() else {
                    return Eval::Skipped;
                };
                if let Some(m) = *min
                    && !Operator::Ge.holds(v, m)
                {
                    return Eval::Fail {
                        left: v,
                        op: Operator::Ge,
                        right: m,
                    };
                }
                if let Some(m) = *max
                    && !Operator::Le.holds(v, m)
                {
                    return Eval::Fail {
                        left: v,
                        op: Operator::Le,
                        right: m,
                    };
                }
                Eval::Pass
            }
            Body::Compare { left, op, right } => {
                let zero = self.def.missing == Missing::Zero;
                if !zero && values.iter().any(Option::is_none) {
                    return Eval::Skipped;
                }
                let value = |c: &str| -> Option<f64> {
                    let i = self.refs.iter().position(|r| r == c)?;
                    match values.get(i).copied().flatten() {
                        Some(v) => Some(v),
                        None if zero => Some(0.0),
                        None => None,
                    }
                };
                let (Ok(l), Ok(r)) = (left.eval(&value), right.eval(&value)) else {
                    return Eval::Skipped;
                };
                if op.holds(l, r) {
                    Eval::Pass
                } else {
                    Eval::Fail {
                        left: l,
                        op: *op,
                        right: r,
                    }
                }
            }
        }
    }

    /// The violation of a failed evaluation, with its messages.
    pub fn violation(&self, left: f64, op: Operator, right: f64) -> Violation {
        let d = &self.def;
        let name_en = if d.name_en.is_empty() {
            &d.name_vi
        } else {
            &d.name_en
        };
        let (l, r) = (fmt_num(left), fmt_num(right));
        let (vi, en) = match self.body {
            Body::Bounds { .. } if op == Operator::Ge => (
                format!("giá trị {l} nhỏ hơn mức tối thiểu {r}"),
                format!("value {l} is below the minimum {r}"),
            ),
            Body::Bounds { .. } => (
                format!("giá trị {l} lớn hơn mức tối đa {r}"),
                format!("value {l} is above the maximum {r}"),
            ),
            Body::Compare { .. } => (
                format!("{l} {} {r} không thỏa mãn", op.symbol()),
                format!("{l} {} {r} does not hold", op.symbol()),
            ),
        };
        Violation {
            rule: d.code.clone(),
            rule_name: d.name_vi.clone(),
            importance: d.importance,
            left,
            operator: op,
            right,
            message: format!("Quy tắc {} «{}»: {vi}", d.code, d.name_vi),
            message_en: format!("Rule {} \"{name_en}\": {en}", d.code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disagg::Dimension;
    use crate::indicator::ValueType;
    use crate::period::PeriodType;

    fn compare(left: &str, op: Operator, right: &str) -> RuleDef {
        RuleDef {
            code: "r1".into(),
            name_vi: "Số hộ nghèo không vượt quá số hộ".into(),
            name_en: "Poor households within households".into(),
            left: left.into(),
            operator: Some(op),
            right: right.into(),
            ..Default::default()
        }
    }

    fn bounds(ind: &str, min: Option<f64>, max: Option<f64>) -> RuleDef {
        RuleDef {
            code: "b1".into(),
            name_vi: "Giới hạn".into(),
            kind: Kind::Bounds,
            indicator: Some(ind.into()),
            min,
            max,
            ..Default::default()
        }
    }

    fn catalogue(code: &str) -> Option<Indicator> {
        let mut i = Indicator {
            code: code.into(),
            name_vi: code.into(),
            name_en: code.into(),
            topic: String::new(),
            unit: String::new(),
            value_type: ValueType::Integer,
            aggregation: crate::indicator::Aggregation::Sum,
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
        };
        match code {
            "x-ho-dtts" | "x-ho-ngheo-dtts" => i.disaggregations = vec![Dimension::Ethnic],
            "x-text" => i.value_type = ValueType::Text,
            "x-monthly" => i.period_type = PeriodType::Monthly,
            "x-derived" => i.formula = Some("#{x-ho-dtts} * 2".into()),
            "x-plain" => i.disaggregations = vec![],
            _ => return None,
        }
        Some(i)
    }

    #[test]
    fn operators_compare_with_a_tolerance() {
        use Operator::*;
        assert!(Le.holds(1.0, 1.0) && Le.holds(0.1 + 0.2, 0.3) && !Le.holds(2.0, 1.0));
        assert!(!Lt.holds(0.1 + 0.2, 0.3) && Lt.holds(1.0, 2.0));
        assert!(Eq.holds(0.1 + 0.2, 0.3) && !Ne.holds(0.1 + 0.2, 0.3));
        assert!(Ge.holds(5.0, 5.0) && !Gt.holds(5.0, 5.0) && Gt.holds(6.0, 5.0));
        for op in Operator::ALL {
            assert_eq!(op.as_str().parse::<Operator>(), Ok(op));
        }
        assert_eq!("less_than_or_equal_to".parse::<Operator>(), Ok(Le));
        assert!("=<".parse::<Operator>().unwrap_err().contains("expected"));
        assert_eq!(serde_json::to_string(&Le).unwrap(), "\"<=\"");
    }

    #[test]
    fn a_comparison_evaluates_and_reports_both_sides() {
        let r = Rule::check(
            &compare("#{x-ho-ngheo-dtts}", Operator::Le, "#{x-ho-dtts}"),
            &catalogue,
        )
        .unwrap();
        assert_eq!(r.references(), ["x-ho-ngheo-dtts", "x-ho-dtts"]);
        assert_eq!(r.evaluate(&[Some(10.0), Some(40.0)]), Eval::Pass);
        assert_eq!(r.evaluate(&[Some(40.0), Some(40.0)]), Eval::Pass);
        let f = r.evaluate(&[Some(120.0), Some(100.0)]);
        assert_eq!(
            f,
            Eval::Fail {
                left: 120.0,
                op: Operator::Le,
                right: 100.0
            }
        );
        let v = r.violation(120.0, Operator::Le, 100.0);
        assert_eq!(
            (v.left, v.right, v.importance),
            (120.0, 100.0, Importance::Error)
        );
        assert!(
            v.message.contains("120 ≤ 100 không thỏa mãn"),
            "{}",
            v.message
        );
        assert!(v.message.contains("r1"), "{}", v.message);
        assert!(
            v.message_en.contains("120 ≤ 100 does not hold"),
            "{}",
            v.message_en
        );
        // a missing operand skips the rule by default, counts as 0 when asked
        assert_eq!(r.evaluate(&[Some(5.0), None]), Eval::Skipped);
        let mut d = compare("#{x-ho-ngheo-dtts}", Operator::Le, "#{x-ho-dtts}");
        d.missing = Missing::Zero;
        let z = Rule::check(&d, &catalogue).unwrap();
        assert_eq!(
            z.evaluate(&[Some(5.0), None]),
            Eval::Fail {
                left: 5.0,
                op: Operator::Le,
                right: 0.0
            }
        );
        assert_eq!(z.evaluate(&[None, Some(3.0)]), Eval::Pass);
    }

    #[test]
    fn expressions_on_both_sides() {
        // poverty above half of the households is suspicious
        let mut d = compare("#{x-ho-ngheo-dtts} * 2", Operator::Le, "#{x-ho-dtts} + 0");
        d.importance = Importance::Warning;
        let r = Rule::check(&d, &catalogue).unwrap();
        assert_eq!(r.evaluate(&[Some(30.0), Some(100.0)]), Eval::Pass);
        assert_eq!(
            r.evaluate(&[Some(60.0), Some(100.0)]),
            Eval::Fail {
                left: 120.0,
                op: Operator::Le,
                right: 100.0
            }
        );
        // a division by zero cannot be judged
        let r = Rule::check(
            &compare("#{x-ho-ngheo-dtts} / #{x-ho-dtts}", Operator::Le, "1"),
            &catalogue,
        )
        .unwrap();
        assert_eq!(r.evaluate(&[Some(3.0), Some(0.0)]), Eval::Skipped);
        assert_eq!(
            r.evaluate(&[Some(3.0), Some(2.0)]).clone(),
            Eval::Fail {
                left: 1.5,
                op: Operator::Le,
                right: 1.0
            }
        );
    }

    #[test]
    fn bounds_check_minimum_and_maximum() {
        let r = Rule::check(&bounds("x-plain", Some(0.0), Some(100.0)), &catalogue).unwrap();
        assert_eq!(r.kind(), Kind::Bounds);
        assert_eq!(r.evaluate(&[Some(0.0)]), Eval::Pass);
        assert_eq!(r.evaluate(&[Some(100.0)]), Eval::Pass);
        assert_eq!(r.evaluate(&[None]), Eval::Skipped);
        let below = r.evaluate(&[Some(-1.0)]);
        assert_eq!(
            below,
            Eval::Fail {
                left: -1.0,
                op: Operator::Ge,
                right: 0.0
            }
        );
        let v = r.violation(-1.0, Operator::Ge, 0.0);
        assert!(
            v.message.contains("nhỏ hơn mức tối thiểu 0"),
            "{}",
            v.message
        );
        assert!(
            v.message_en.contains("below the minimum 0"),
            "{}",
            v.message_en
        );
        let v = r.violation(150.0, Operator::Le, 100.0);
        assert!(
            v.message.contains("lớn hơn mức tối đa 100"),
            "{}",
            v.message
        );
        assert_eq!(r.def.expression(), "0 ≤ #{x-plain} ≤ 100");
        // one disaggregation, in canonical form
        let mut d = bounds("x-ho-dtts", None, Some(10.0));
        d.disaggregation = Some(" E02 ".into());
        let r = Rule::check(&d, &catalogue).unwrap();
        assert_eq!(r.bounds_disaggregation(), Some("E02"));
        d.disaggregation = Some("M".into());
        let e = Rule::check(&d, &catalogue).unwrap_err();
        assert!(e.0[0].message.contains("not broken down by sex"), "{e}");
    }

    #[test]
    fn definitions_are_checked_field_by_field() {
        let p = Rule::parse(&RuleDef::default()).unwrap_err();
        let fields: Vec<&str> = p.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["code", "nameVi", "left", "right", "operator"]);
        // syntax error with its position
        let e = Rule::parse(&compare("#{x-ho-dtts} +", Operator::Le, "2")).unwrap_err();
        assert_eq!(e.0[0].field, "left");
        assert!(e.0[0].message.contains("character 15"), "{e}");
        // numbers only
        let e = Rule::parse(&compare("1", Operator::Le, "2")).unwrap_err();
        assert!(e.0[0].message.contains("refers to no indicator"), "{e}");
        // mixed kinds
        let mut d = compare("#{x-ho-dtts}", Operator::Le, "2");
        d.min = Some(1.0);
        assert_eq!(Rule::parse(&d).unwrap_err().0[0].field, "min");
        let mut d = bounds("x-plain", None, None);
        d.operator = Some(Operator::Le);
        let e = Rule::parse(&d).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["operator", "min"]);
        let e = Rule::parse(&bounds("x-plain", Some(5.0), Some(1.0))).unwrap_err();
        assert_eq!(e.0[0].field, "max");
        // against the catalogue
        let e =
            Rule::check(&compare("#{nope}", Operator::Le, "#{x-text}"), &catalogue).unwrap_err();
        assert_eq!(
            (e.0[0].field.as_str(), e.0[0].value.as_deref()),
            ("left", Some("nope"))
        );
        assert_eq!(
            (e.0[1].field.as_str(), e.0[1].value.as_deref()),
            ("right", Some("x-text"))
        );
        assert!(e.0[1].message.contains("text"), "{e}");
        let e = Rule::check(
            &compare("#{x-derived}", Operator::Le, "#{x-monthly}"),
            &catalogue,
        )
        .unwrap_err();
        assert!(e.0[0].message.contains("derived"), "{e}");
        assert!(e.0[1].message.contains("monthly"), "{e}");
    }

    #[test]
    fn texts_are_cleaned_and_serde_uses_words() {
        let mut d = compare(" #{x-ho-dtts} ", Operator::Ge, "0");
        d.name_vi = "Ho\u{0323}\u{0302} gia đình".into();
        d.code = " r2 ".into();
        let r = Rule::parse(&d).unwrap();
        assert_eq!(r.def.code, "r2");
        assert_eq!(r.def.name_vi, "Hộ gia đình");
        assert_eq!(r.def.left, "#{x-ho-dtts}");
        let json = serde_json::to_value(&r.def).unwrap();
        assert_eq!(json["operator"], ">=");
        assert_eq!(json["importance"], "error");
        assert_eq!(json["mode"], "same");
        assert_eq!(json["missing"], "skip");
        assert!(json.get("min").is_none());
        let back: RuleDef = serde_json::from_value(json).unwrap();
        assert_eq!(back, r.def);
        let e =
            serde_json::from_str::<RuleDef>(r#"{"code":"x","nameVi":"x","importance":"fatal"}"#)
                .unwrap_err();
        assert!(e.to_string().contains("error or warning"), "{e}");
        assert!(serde_json::from_str::<RuleDef>(r#"{"code":"x","nameVi":"x","other":1}"#).is_err());
        assert_eq!("NEVER_SKIP".parse::<Missing>(), Ok(Missing::Zero));
    }
}

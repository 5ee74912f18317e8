//! DHIS2 identifiers: UIDs (11 characters, a letter then letters or digits), the kinds of
//! items that carry one (indicator = dataElement, unit = orgUnit, disaggregation =
//! categoryOptionCombo, form = dataSet) and the id schemes of `dataValueSets`.

use serde::Serialize;
use std::str::FromStr;

/// The UID of DHIS2's default category option combo (and attribute option combo): the same in
/// every DHIS2 instance. dantoc's `default` disaggregation has it unless a mapping says otherwise.
pub const DEFAULT_COC_UID: &str = "HllvX50cXC0";

/// Check a DHIS2 UID: 11 ASCII characters, a letter then letters or digits.
pub fn check_uid(uid: &str) -> Result<(), String> {
    let b = uid.as_bytes();
    if b.len() == 11 && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric) {
        Ok(())
    } else {
        Err(
            "not a DHIS2 UID: 11 characters, a letter then letters or digits (e.g. HllvX50cXC0)"
                .into(),
        )
    }
}

/// What a UID identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An indicator (DHIS2 dataElement).
    Indicator,
    /// An administrative unit (DHIS2 orgUnit).
    Unit,
    /// A disaggregation (DHIS2 categoryOptionCombo).
    Disaggregation,
    /// A reporting form (DHIS2 dataSet).
    Form,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Indicator,
        Kind::Unit,
        Kind::Disaggregation,
        Kind::Form,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Indicator => "indicator",
            Kind::Unit => "unit",
            Kind::Disaggregation => "disaggregation",
            Kind::Form => "form",
        }
    }

    /// DHIS2's name for the kind (and the `dataValueSets` field that carries it).
    pub fn dhis2_name(self) -> &'static str {
        match self {
            Kind::Indicator => "dataElement",
            Kind::Unit => "orgUnit",
            Kind::Disaggregation => "categoryOptionCombo",
            Kind::Form => "dataSet",
        }
    }
}

impl FromStr for Kind {
    type Err = String;
    /// dantoc's name or DHIS2's, in any case.
    fn from_str(s: &str) -> Result<Kind, String> {
        let t = s.trim();
        Kind::ALL
            .into_iter()
            .find(|k| t.eq_ignore_ascii_case(k.as_str()) || t.eq_ignore_ascii_case(k.dhis2_name()))
            .ok_or_else(|| {
                format!(
                    "unknown kind {t:?}: expected indicator, unit, disaggregation or form \
                     (or DHIS2's dataElement, orgUnit, categoryOptionCombo, dataSet)"
                )
            })
    }
}

/// How items are identified in a `dataValueSets` request or answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdScheme {
    /// dantoc's codes (indicator code, unit code, disaggregation code, form code).
    #[default]
    Code,
    /// DHIS2 UIDs, through the mapping table.
    Uid,
}

impl FromStr for IdScheme {
    type Err = String;
    fn from_str(s: &str) -> Result<IdScheme, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "CODE" => Ok(IdScheme::Code),
            // DHIS2 names UIDs `ID` too
            "UID" | "ID" => Ok(IdScheme::Uid),
            _ => Err(format!(
                "unsupported id scheme {s:?}: CODE (dantoc's codes) or UID (DHIS2 UIDs kept in the mapping table; ID is a synonym)"
            )),
        }
    }
}

/// The id scheme of each kind of item in one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdSchemes {
    pub data_element_id_scheme: IdScheme,
    pub org_unit_id_scheme: IdScheme,
    pub category_option_combo_id_scheme: IdScheme,
    pub data_set_id_scheme: IdScheme,
}

impl IdSchemes {
    /// The same scheme for every kind.
    pub fn all(s: IdScheme) -> IdSchemes {
        IdSchemes {
            data_element_id_scheme: s,
            org_unit_id_scheme: s,
            category_option_combo_id_scheme: s,
            data_set_id_scheme: s,
        }
    }

    pub fn of(&self, k: Kind) -> IdScheme {
        match k {
            Kind::Indicator => self.data_element_id_scheme,
            Kind::Unit => self.org_unit_id_scheme,
            Kind::Disaggregation => self.category_option_combo_id_scheme,
            Kind::Form => self.data_set_id_scheme,
        }
    }

    pub fn set(&mut self, k: Kind, s: IdScheme) {
        match k {
            Kind::Indicator => self.data_element_id_scheme = s,
            Kind::Unit => self.org_unit_id_scheme = s,
            Kind::Disaggregation => self.category_option_combo_id_scheme = s,
            Kind::Form => self.data_set_id_scheme = s,
        }
    }

    /// Whether any kind is identified by UID.
    pub fn any_uid(&self) -> bool {
        Kind::ALL.into_iter().any(|k| self.of(k) == IdScheme::Uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_checked() {
        for ok in ["HllvX50cXC0", "a0000000000", "Zzzzzzzzzzz"] {
            assert_eq!(check_uid(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "HllvX50cXC",
            "HllvX50cXC00",
            "0llvX50cXC0",
            "Hllv-50cXC0",
            "HllvX50cXCé",
            " HllvX50cXC",
        ] {
            assert!(check_uid(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kinds_and_schemes_parse_both_vocabularies() {
        assert_eq!("dataElement".parse(), Ok(Kind::Indicator));
        assert_eq!("ORGUNIT".parse(), Ok(Kind::Unit));
        assert_eq!(" disaggregation ".parse(), Ok(Kind::Disaggregation));
        assert_eq!("dataSet".parse(), Ok(Kind::Form));
        assert!("village".parse::<Kind>().is_err());
        assert_eq!("id".parse(), Ok(IdScheme::Uid));
        assert_eq!("Uid".parse(), Ok(IdScheme::Uid));
        assert_eq!("code".parse(), Ok(IdScheme::Code));
        assert!("NAME".parse::<IdScheme>().is_err());
        let mut s = IdSchemes::default();
        assert!(!s.any_uid());
        s.set(Kind::Unit, IdScheme::Uid);
        assert!(s.any_uid() && s.of(Kind::Unit) == IdScheme::Uid);
    }
}

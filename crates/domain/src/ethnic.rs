//! The 54 ethnic groups of Vietnam under the two GSO code lists.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Which official list a code refers to. The lists order the groups differently
/// (Hoa is 04 in 1979 and 06 in 2008; Mường is 06 in 1979 and 04 in 2008).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum CodeList {
    /// QĐ 121-TCTK/PPCĐ of 2 March 1979.
    #[serde(rename = "gso1979")]
    Gso1979,
    /// QĐ 1019/QĐ-TCTK of 12 November 2008, used by the 2009 and 2019 censuses and by
    /// QCVN 109:2017/BTTTT (national population database). **The default.**
    #[default]
    #[serde(rename = "gso2008")]
    Gso2008,
}

impl CodeList {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeList::Gso1979 => "gso1979",
            CodeList::Gso2008 => "gso2008",
        }
    }
    pub fn legal_basis(self) -> &'static str {
        match self {
            CodeList::Gso1979 => "QĐ 121-TCTK/PPCĐ (02/3/1979)",
            CodeList::Gso2008 => "QĐ 1019/QĐ-TCTK (12/11/2008)",
        }
    }
}

impl FromStr for CodeList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gso1979" | "1979" | "qd121" => Ok(CodeList::Gso1979),
            "gso2008" | "2008" | "qd1019" => Ok(CodeList::Gso2008),
            o => Err(format!(
                "unknown ethnic code list {o:?}: expected gso2008 (default) or gso1979"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EthnicGroup {
    /// Code in QĐ 1019/QĐ-TCTK (2008): the code dantoc uses inside disaggregation codes.
    pub code_2008: String,
    /// Code in QĐ 121-TCTK/PPCĐ (1979).
    pub code_1979: String,
    pub name: String,
    /// Other names and local groups (feed search).
    pub other_names: Vec<String>,
    pub population_2019: Option<i64>,
    /// Kinh (code 01 in both lists) is the majority; the other 53 are ethnic minorities (DTTS).
    pub minority: bool,
}

impl EthnicGroup {
    pub fn code(&self, list: CodeList) -> &str {
        match list {
            CodeList::Gso1979 => &self.code_1979,
            CodeList::Gso2008 => &self.code_2008,
        }
    }
}

/// Check the shape of an ethnic code: two digits 01–54.
pub fn check_code(code: &str) -> Result<(), String> {
    match code.parse::<u8>() {
        Ok(n) if code.len() == 2 && (1..=54).contains(&n) => Ok(()),
        _ => Err(format!(
            "ethnic group code {code:?} must be two digits 01–54"
        )),
    }
}

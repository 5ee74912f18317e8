//! Query strings with repeated keys (`dataElement=A&dataElement=B`, DHIS2 style), and
//! request bodies parsed with errors that say where.

use crate::error::ApiError;
use dantoc_domain::text::clean;
use serde::de::DeserializeOwned;

#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), clean(&v)))
                .collect(),
        )
    }
    /// Last value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
    /// Every value of a key; values may also be `;`- or `,`-separated lists.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| {
                v.split([';', ','])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            })
            .collect()
    }
    /// Every value of a key as given (not split: `dimension=dx:A;B` stays one value).
    pub fn each(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }
    pub fn bool(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(v) => Err(ApiError::bad_value(key, v, "expected true or false")),
        }
    }
    pub fn int(&self, key: &str, default: i64, max: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_value(
                    key,
                    v,
                    format!("expected a whole number from 0 to {max}"),
                )),
            },
        }
    }
    pub fn parsed<T: std::str::FromStr<Err = String>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, ApiError> {
        self.get(key)
            .map(|v| v.parse::<T>().map_err(|e| ApiError::bad_value(key, v, e)))
            .transpose()
    }
}

/// Parse a JSON body; a syntax or shape error names line, column and what was expected.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad("body", format!("malformed JSON: {e}")))
}

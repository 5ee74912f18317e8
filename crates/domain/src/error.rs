//! Validation errors that say *what* is wrong and *where*.

use serde::Serialize;
use std::fmt;

/// One problem with one input value: which field (and, for files, which row and column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field or column name as the user wrote it (e.g. `period`, `dataValues[3].value`).
    pub field: String,
    /// 1-based data row in a file (the header is row 1, so the first data row is row 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// 1-based column in a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// In a spreadsheet: the sheet and cell, as Excel names them (`Biểu!D12`). (Boxed: keeps
    /// the error small enough to return by value.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<Box<str>>,
    /// The offending value, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What is wrong, in plain words.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            row: None,
            column: None,
            cell: None,
            value: None,
            message: message.into(),
        }
    }
    pub fn value(mut self, v: impl Into<String>) -> Self {
        self.value = Some(v.into());
        self
    }
    pub fn at(mut self, row: u64, column: Option<u64>) -> Self {
        self.row = Some(row);
        self.column = column;
        self
    }
    /// In a spreadsheet: the sheet and cell (`Biểu!D12`), with its 1-based row and column.
    pub fn in_cell(mut self, sheet_cell: impl Into<String>, row: u64, column: u64) -> Self {
        self.cell = Some(sheet_cell.into().into_boxed_str());
        self.at(row, Some(column))
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.cell {
            write!(f, "{c} ")?;
        } else if let Some(r) = self.row {
            write!(f, "row {r}")?;
            if let Some(c) = self.column {
                write!(f, ", column {c}")?;
            }
            write!(f, " ")?;
        }
        write!(f, "({}): {}", self.field, self.message)?;
        if let Some(v) = &self.value {
            write!(f, " [value: {v:?}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldError {}

/// A list of problems found while checking one request or file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

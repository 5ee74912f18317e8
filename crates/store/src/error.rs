//! Storage errors. Database messages stay on the server (logged); callers map the kind.

use dantoc_domain::Problems;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input is wrong: nothing was changed. Each problem says what and where.
    #[error("invalid input:\n{0}")]
    Invalid(Problems),
    #[error("not found: {0}")]
    NotFound(String),
    /// The request clashes with the stored state (e.g. a stale version).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Not allowed for this user.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A database failure: the message is for logs, not for clients.
    #[error("database error: {0}")]
    Db(String),
    #[error("{0}")]
    Io(String),
}

impl StoreError {
    pub fn poisoned() -> StoreError {
        StoreError::Db("connection lock poisoned by an earlier panic".into())
    }
    pub fn invalid(e: dantoc_domain::FieldError) -> StoreError {
        StoreError::Invalid(Problems(vec![e]))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // keep the server-side detail (constraint names etc.) for the log
        match e.as_db_error() {
            Some(d) => StoreError::Db(format!("{}: {}", d.code().code(), d.message())),
            None => StoreError::Db(e.to_string()),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

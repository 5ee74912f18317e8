//! The one place where errors become HTTP responses. Bodies are JSON shaped like DHIS2's
//! WebMessage; database and internal details are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dantoc_domain::{FieldError, Problems};
use dantoc_store::StoreError;
use serde_json::json;

#[derive(Debug)]
pub enum ApiError {
    /// Bad input: 400 with every problem named.
    Invalid(Problems),
    NotFound(String),
    /// 409: the request clashes with stored state.
    Conflict(String),
    /// 409 naming the items that clash (e.g. items of an export that have no DHIS2 UID).
    ConflictList(String, Problems),
    Forbidden(String),
    Unauthorized(String),
    /// 413
    TooLarge(String),
    /// 429: throttled.
    TooMany(String),
    /// 500: the detail goes to the log only.
    Internal(String),
}

impl ApiError {
    pub fn bad(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(Problems(vec![FieldError::new(field, message)]))
    }
    pub fn bad_value(field: &str, value: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(Problems(vec![FieldError::new(field, message).value(value)]))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(p) => ApiError::Invalid(p),
            StoreError::NotFound(m) => ApiError::NotFound(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Forbidden(m) => ApiError::Forbidden(m),
            StoreError::Db(m) | StoreError::Io(m) => ApiError::Internal(m),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(Problems(vec![e]))
    }
}

pub fn status_text(code: StatusCode) -> &'static str {
    code.canonical_reason().unwrap_or("Error")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, message, errors) = match self {
            ApiError::Invalid(p) => {
                let msg = match p.0.as_slice() {
                    [one] => one.to_string(),
                    many => format!("{} problems in the request", many.len()),
                };
                (StatusCode::BAD_REQUEST, msg, p.0)
            }
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, format!("Not found: {m}"), vec![]),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m, vec![]),
            ApiError::ConflictList(m, p) => (StatusCode::CONFLICT, m, p.0),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m, vec![]),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m, vec![]),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m, vec![]),
            ApiError::TooMany(m) => (StatusCode::TOO_MANY_REQUESTS, m, vec![]),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error: the request was not completed. The server log has the details.".into(),
                    vec![],
                )
            }
        };
        let body = json!({
            "httpStatus": status_text(code),
            "httpStatusCode": code.as_u16(),
            "status": "ERROR",
            "message": message,
            "errors": errors,
        });
        (code, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

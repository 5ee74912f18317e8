//! The JSON API under `/api`, documented by `/api/openapi.json`.

pub mod accounts;
pub mod analytics;
pub mod approvals;
pub mod dhis2;
pub mod entry;
pub mod forms;
pub mod maps;
pub mod ogc;
pub mod reference;
pub mod validation;
pub mod values;

use axum::http::header;
use axum::response::IntoResponse;

/// `GET /api/openapi.json`: the OpenAPI document (written by hand; a test checks that every
/// route is in it).
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

pub const OPENAPI: &str = include_str!("../../openapi.json");

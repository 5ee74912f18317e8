//! Who may write. Until accounts exist (issue #3), a write is authorised either by the
//! bearer token configured in `DANTOC_API_TOKEN`, or — when no token is configured — only
//! from this machine to a server bound to the loopback address. Every write names its actor
//! in the audit log.

use crate::error::ApiError;
use crate::state::AppState;
use axum::http::HeaderMap;
use dantoc_store::audit::Actor;
use std::net::SocketAddr;

/// Constant-time comparison, so that the token cannot be guessed by timing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn writer(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Actor, ApiError> {
    let origin = peer
        .map(|p| p.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (&state.config.api_token, bearer) {
        (Some(token), Some(given)) if same(token.as_bytes(), given.as_bytes()) => Ok(Actor {
            name: "api-token".into(),
            origin,
        }),
        (Some(_), _) => Err(ApiError::Unauthorized(
            "writes need the header Authorization: Bearer <DANTOC_API_TOKEN>".into(),
        )),
        (None, _) => {
            let local_server = state.config.bind.is_none_or(|b| b.ip().is_loopback());
            let local_peer = peer.is_none_or(|p| p.ip().is_loopback());
            if local_server && local_peer {
                Ok(Actor {
                    name: "local".into(),
                    origin,
                })
            } else {
                Err(ApiError::Unauthorized(
                    "writes are refused: set DANTOC_API_TOKEN on a server that listens beyond localhost".into(),
                ))
            }
        }
    }
}

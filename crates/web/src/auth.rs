//! Who is calling, and what they may do. A caller is anonymous, a user with a session cookie
//! (set by the login page or `POST /api/auth/login`), or a machine client with an API token
//! (`Authorization: Bearer dt_…`). Roles say which actions are allowed at all; unit scopes say
//! where. State-changing requests made with a session cookie must carry the session's CSRF
//! token (`X-CSRF-Token` header or `csrf` form field) and must not come from another site.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{HeaderMap, Method, header, request::Parts};
use dantoc_domain::access::{Action, Role};
use dantoc_store::accounts::{self, User};
use dantoc_store::audit::Actor;
use std::collections::HashSet;
use std::net::SocketAddr;

pub const SESSION_COOKIE: &str = "dantoc_session";
/// Double-submit cookie that protects the login form itself.
pub const LOGIN_CSRF_COOKIE: &str = "dantoc_login_csrf";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session { csrf: String },
    Token { id: i64, can_write: bool },
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub via: Via,
    /// Unit ids the caller works in (a token may narrow its user's scope).
    pub scope: Vec<i64>,
    pub origin: String,
    /// For session callers: whether this request carried the right CSRF token in a header.
    csrf_header_ok: bool,
    unsafe_method: bool,
}

#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous { origin: String },
    Caller(Box<Caller>),
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Requests that change something, made from another site, are refused (the check Go 1.25's
/// `CrossOriginProtection` makes): `Sec-Fetch-Site` must be same-origin or none; without it,
/// `Origin`, when present, must match `Host`.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin
            .split("://")
            .nth(1)
            .is_some_and(|o| o.trim_end_matches('/') == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let origin = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or("").trim().to_string());
        if let Some(secret) = bearer {
            let found = state.read(move |c| accounts::token(c, &secret)).await?;
            let Some((user, t)) = found else {
                return Err(ApiError::Unauthorized(
                    "the API token is invalid, expired or revoked".into(),
                ));
            };
            let scope = if t.scopes.is_empty() {
                user.scopes.iter().map(|s| s.unit_id).collect()
            } else {
                t.scopes.iter().map(|s| s.unit_id).collect()
            };
            return Ok(Principal::Caller(Box::new(Caller {
                user,
                via: Via::Token {
                    id: t.id,
                    can_write: t.can_write,
                },
                scope,
                origin,
                csrf_header_ok: true,
                unsafe_method,
            })));
        }
        let Some(cookie) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
            return Ok(Principal::Anonymous { origin });
        };
        let found = state.run(move |db| accounts::session(db, &cookie)).await?;
        let Some((user, csrf)) = found else {
            return Ok(Principal::Anonymous { origin });
        };
        if unsafe_method && !same_origin(&parts.headers) {
            return Err(ApiError::Forbidden("cross-site request refused".into()));
        }
        let header_token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let csrf_header_ok = dantoc_store::secret::same(header_token.as_bytes(), csrf.as_bytes());
        let scope = user.scopes.iter().map(|s| s.unit_id).collect();
        Ok(Principal::Caller(Box::new(Caller {
            user,
            via: Via::Session { csrf },
            scope,
            origin,
            csrf_header_ok,
            unsafe_method,
        })))
    }
}

impl Principal {
    pub fn caller(&self) -> Option<&Caller> {
        match self {
            Principal::Caller(c) => Some(c),
            Principal::Anonymous { .. } => None,
        }
    }

    /// The caller, if the role allows `action` (and, for writes through a session, the
    /// request carries the CSRF token in its `X-CSRF-Token` header).
    pub fn require(&self, action: Action) -> Result<&Caller, ApiError> {
        let c = self.require_form(action, None)?;
        if c.unsafe_method && !c.csrf_header_ok {
            return Err(ApiError::Forbidden(
                "missing or wrong CSRF token (send the X-CSRF-Token header)".into(),
            ));
        }
        Ok(c)
    }

    /// Like [`Principal::require`] for HTML forms, whose CSRF token comes in a form field.
    pub fn require_form(
        &self,
        action: Action,
        form_csrf: Option<&str>,
    ) -> Result<&Caller, ApiError> {
        let c = match self {
            Principal::Anonymous { .. } => {
                return Err(ApiError::Unauthorized(
                    "log in first (or send an API token)".into(),
                ));
            }
            Principal::Caller(c) => c,
        };
        if !c.user.role.may(action) {
            return Err(ApiError::Forbidden(format!(
                "the role {} may not do this",
                c.user.role.as_str()
            )));
        }
        let writes = !matches!(
            action,
            Action::ReadData | Action::ReadAudit | Action::SeePersonalData
        );
        if let Via::Token {
            can_write: false, ..
        } = c.via
            && writes
        {
            return Err(ApiError::Forbidden("this API token is read-only".into()));
        }
        if let (Some(given), Via::Session { csrf }) = (form_csrf, &c.via)
            && !dantoc_store::secret::same(given.as_bytes(), csrf.as_bytes())
        {
            return Err(ApiError::Forbidden(
                "missing or wrong CSRF token: reload the page and try again".into(),
            ));
        }
        Ok(c)
    }

    /// Unit ids whose unpublished values the caller may read: `None` = everything.
    pub fn visible(&self) -> Option<Vec<i64>> {
        match self {
            Principal::Anonymous { .. } => Some(vec![]),
            Principal::Caller(c) if c.is_global() => None,
            Principal::Caller(c) => Some(c.scope.clone()),
        }
    }

    pub fn origin(&self) -> &str {
        match self {
            Principal::Anonymous { origin } => origin,
            Principal::Caller(c) => &c.origin,
        }
    }
}

impl Caller {
    pub fn actor(&self) -> Actor {
        let name = match &self.via {
            Via::Session { .. } => self.user.username.clone(),
            Via::Token { id, .. } => format!("{} (token {id})", self.user.username),
        };
        Actor {
            name,
            origin: self.origin.clone(),
        }
    }

    pub fn is_global(&self) -> bool {
        self.user.role.is_global()
            && (matches!(self.via, Via::Session { .. }) || self.scope.is_empty())
    }

    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Every unit the caller may write, or `None` for everywhere.
    pub fn allowed(
        &self,
        c: &mut dyn dantoc_store::Conn,
    ) -> Result<Option<HashSet<i64>>, dantoc_store::StoreError> {
        if self.is_global() {
            Ok(None)
        } else {
            Ok(Some(accounts::allowed_units(c, &self.scope)?))
        }
    }
}

/// Refuse a unit outside the caller's scope, naming it.
pub fn check_unit(
    allowed: &Option<HashSet<i64>>,
    unit_id: i64,
    code: &str,
) -> Result<(), dantoc_store::StoreError> {
    match allowed {
        Some(set) if !set.contains(&unit_id) => Err(dantoc_store::StoreError::Forbidden(format!(
            "unit {code} is outside your administrative units"
        ))),
        _ => Ok(()),
    }
}

//! Login and logout for the API, the caller's own account, accounts and API tokens
//! (administrators), and the audit log (administrators).

use crate::auth::{Principal, SESSION_COOKIE, Via};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, json};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dantoc_domain::access::{Action, Role, check_password};
use dantoc_domain::{FieldError, Problems};
use dantoc_store::accounts::{self, LoginRefused, User, UserInput};
use dantoc_store::{StoreError, audit};
use serde::Deserialize;
use serde_json::{Value, json};

/// Hash a new password off the async runtime (Argon2id is CPU-heavy).
pub async fn hash_off_runtime(password: Option<String>) -> ApiResult<Option<String>> {
    match password {
        Some(pw) => Ok(Some(
            tokio::task::spawn_blocking(move || accounts::hash_password(&pw))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))??,
        )),
        None => Ok(None),
    }
}

pub fn session_cookie(value: &str, secure: bool, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Log in: check the password (throttled), start a session. Returns the user and the
/// session's CSRF token, or why not.
pub async fn do_login(
    s: &AppState,
    username: String,
    password: String,
    ip: String,
    user_agent: String,
) -> ApiResult<(User, String, String)> {
    let local = s.config.local_only();
    let username = dantoc_domain::text::clean(&username).to_lowercase();
    let outcome = s
        .run(move |db| {
            db.write(|c| {
                let r = accounts::login(c, &username, &password, &ip, local)?;
                match r {
                    Ok(user) => {
                        let (cookie, csrf) = accounts::create_session(c, &user, &ip, &user_agent)?;
                        let actor = audit::Actor {
                            name: user.username.clone(),
                            origin: ip.clone(),
                        };
                        audit::record(c, &actor, "login", "session", &user.username, None, None)?;
                        Ok(Ok((user, cookie, csrf)))
                    }
                    Err(e) => Ok(Err(e)),
                }
            })
        })
        .await?;
    outcome.map_err(|e| match e {
        LoginRefused::BadCredentials => {
            ApiError::Unauthorized("wrong user name or password".into())
        }
        LoginRefused::Throttled => {
            ApiError::TooMany("too many failed logins: wait a minute and try again".into())
        }
        LoginRefused::Locked(until) => ApiError::TooMany(format!(
            "the account is locked after repeated failures until {until}"
        )),
        LoginRefused::DemoOnlyLocal => {
            ApiError::Forbidden("demo accounts work only on a server bound to localhost".into())
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

/// `POST /api/auth/login`: `{"username", "password"}` → session cookie, and the CSRF token
/// to send as `X-CSRF-Token` with every state-changing request.
pub async fn login(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    if !crate::auth::same_origin(&headers) {
        return Err(ApiError::Forbidden("cross-site request refused".into()));
    }
    let b: LoginBody = json(&body)?;
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (user, cookie, csrf) =
        do_login(&s, b.username, b.password, who.origin().to_string(), ua).await?;
    Ok((
        [(
            header::SET_COOKIE,
            session_cookie(
                &cookie,
                s.config.secure_cookies,
                accounts::SESSION_MAX_SECONDS,
            ),
        )],
        Json(json!({ "user": user, "csrfToken": csrf })),
    )
        .into_response())
}

/// `POST /api/auth/logout`.
pub async fn logout(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(c) = who.caller()
        && let Via::Session { .. } = c.via
    {
        who.require(Action::ReadData).or_else(|e| {
            if c.user.role == Role::ApiClient {
                Ok(c)
            } else {
                Err(e)
            }
        })?;
        let cookie = crate::auth::cookie(&headers, SESSION_COOKIE)
            .unwrap_or("")
            .to_string();
        let actor = c.actor();
        s.run(move |db| {
            db.write(|c| {
                accounts::end_session(c, &cookie)?;
                audit::record(c, &actor, "logout", "session", &actor.name, None, None)
            })
        })
        .await?;
    }
    Ok((
        [(
            header::SET_COOKIE,
            session_cookie("", s.config.secure_cookies, 0),
        )],
        StatusCode::NO_CONTENT,
    )
        .into_response())
}

/// `GET /api/me`: the caller's account, or 401.
pub async fn me(who: Principal) -> ApiResult<Json<Value>> {
    let c = who
        .caller()
        .ok_or_else(|| ApiError::Unauthorized("not logged in".into()))?;
    let csrf = match &c.via {
        Via::Session { csrf } => Some(csrf.clone()),
        Via::Token { .. } => None,
    };
    Ok(Json(
        json!({ "user": c.user, "csrfToken": csrf, "via": match c.via { Via::Session { .. } => "session", Via::Token { .. } => "token" } }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    pub username: Option<String>,
    #[serde(default)]
    pub full_name: String,
    pub role: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub password: Option<String>,
}

fn yes() -> bool {
    true
}

impl UserBody {
    /// Check and turn into a store input; the phone number is encrypted.
    pub fn input(self, s: &AppState, username: String) -> ApiResult<(UserInput, Option<String>)> {
        let mut p = Problems::default();
        let role = match self.role.as_deref() {
            Some(r) => match r.parse::<Role>() {
                Ok(r) => Some(r),
                Err(e) => {
                    p.push(FieldError::new("role", e).value(r));
                    None
                }
            },
            None => {
                p.push(FieldError::new("role", "required"));
                None
            }
        };
        if let Some(pw) = &self.password
            && let Err(e) = check_password(pw, &username)
        {
            p.push(FieldError::new("password", e));
        }
        let phone = self
            .phone
            .map(|x| dantoc_domain::text::clean(&x))
            .filter(|x| !x.is_empty());
        if let Some(ph) = &phone
            && let Err(e) = dantoc_domain::personal::check_phone(ph)
        {
            p.push(FieldError::new("phone", e).value(ph));
        }
        if !p.is_empty() {
            return Err(ApiError::Invalid(p));
        }
        let phone_enc = match phone {
            Some(ph) => Some(s.cipher.encrypt(&ph).map_err(ApiError::from)?),
            None => None,
        };
        Ok((
            UserInput {
                username,
                full_name: dantoc_domain::text::clean(&self.full_name),
                role,
                scopes: self
                    .scopes
                    .iter()
                    .map(|x| dantoc_domain::text::clean(x))
                    .collect(),
                email: dantoc_domain::text::clean(&self.email),
                phone_enc,
                active: self.active,
                demo: false,
            },
            self.password,
        ))
    }
}

/// A user as shown to an administrator: the phone number masked unless asked for unmasked
/// (which the caller's role must allow, and which is audited by the caller).
pub fn user_json(s: &AppState, u: &User, unmasked: bool) -> Value {
    let mut v = serde_json::to_value(u).unwrap_or_default();
    let phone = u
        .phone_enc
        .as_deref()
        .and_then(|e| s.cipher.decrypt(e).ok());
    v["phone"] = match phone {
        Some(p) if unmasked => json!(p),
        Some(p) => json!(dantoc_domain::personal::mask_phone(&p)),
        None => Value::Null,
    };
    v
}

/// `GET /api/users` (administrators).
pub async fn list_users(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let c = who.require(Action::ManageUsers)?;
    let unmasked = Params::parse(q.as_deref()).bool("unmasked")?;
    let users = s.read(accounts::list).await?;
    if unmasked {
        who.require(Action::SeePersonalData)?;
        let actor = c.actor();
        let n = users.len();
        s.run(move |db| {
            db.write(|c| {
                audit::record(
                    c,
                    &actor,
                    "export_personal_data",
                    "app_user",
                    "phone",
                    None,
                    Some(&json!({"users": n})),
                )
            })
        })
        .await?;
    }
    Ok(Json(
        json!({ "users": users.iter().map(|u| user_json(&s, u, unmasked)).collect::<Vec<_>>() }),
    ))
}

/// `POST /api/users` (administrators): create an account.
pub async fn create_user(
    State(s): State<AppState>,
    who: Principal,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = who.require(Action::ManageUsers)?.actor();
    let b: UserBody = json(&body)?;
    let username = dantoc_domain::text::clean(b.username.as_deref().unwrap_or("")).to_lowercase();
    let (input, password) = b.input(&s, username)?;
    let hash = hash_off_runtime(password).await?;
    let user = s
        .run(move |db| db.write(|c| accounts::create_audited(c, &actor, &input, hash.as_deref())))
        .await?;
    Ok((StatusCode::CREATED, Json(user_json(&s, &user, false))))
}

/// `PUT /api/users/{username}` (administrators): change role, scopes, contact data, active,
/// and the password if one is given.
pub async fn update_user(
    State(s): State<AppState>,
    who: Principal,
    Path(username): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::ManageUsers)?;
    let actor = caller.actor();
    let own = caller.user.username == username;
    let b: UserBody = json(&body)?;
    let (input, password) = b.input(&s, username.clone())?;
    if own && (input.role != Some(caller.user.role) || !input.active) {
        return Err(ApiError::bad(
            "role",
            "administrators cannot change their own role or disable themselves",
        ));
    }
    let hash = hash_off_runtime(password).await?;
    let user = s
        .run(move |db| db.write(|c| accounts::update_audited(c, &actor, &input, hash.as_deref())))
        .await?;
    Ok(Json(user_json(&s, &user, false)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    /// Whose token (administrators may issue tokens for others; default: the caller).
    username: Option<String>,
    name: String,
    #[serde(default)]
    can_write: bool,
    expires_at: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// `POST /api/tokens`: issue an API token (the token text is shown once).
pub async fn create_token(
    State(s): State<AppState>,
    who: Principal,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let caller = who.require(Action::ReadData)?;
    let b: TokenBody = json(&body)?;
    let owner = b
        .username
        .clone()
        .unwrap_or_else(|| caller.user.username.clone());
    if owner != caller.user.username {
        who.require(Action::ManageUsers)?;
    }
    if matches!(caller.via, Via::Token { .. }) {
        return Err(ApiError::Forbidden(
            "tokens are issued from a logged-in session, not with another token".into(),
        ));
    }
    let actor = caller.actor();
    let (secret, info) = s
        .run(move |db| {
            db.write(|c| {
                let user = accounts::get(c, &owner)?
                    .ok_or_else(|| StoreError::NotFound(format!("user {owner}")))?;
                let (secret, info) = accounts::create_token(
                    c,
                    &user,
                    &b.name,
                    b.can_write,
                    b.expires_at.as_deref(),
                    &b.scopes,
                )?;
                audit::record(
                    c,
                    &actor,
                    "create",
                    "api_token",
                    &info.id.to_string(),
                    None,
                    Some(&serde_json::to_value(&info).unwrap_or_default()),
                )?;
                Ok((secret, info))
            })
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": secret, "info": info })),
    ))
}

/// `GET /api/tokens`: the caller's tokens (administrators: everyone's).
pub async fn list_tokens(State(s): State<AppState>, who: Principal) -> ApiResult<Json<Value>> {
    let caller = who.require(Action::ReadData)?;
    let name = (!caller.user.role.may(Action::ManageUsers)).then(|| caller.user.username.clone());
    let list = s
        .read(move |c| accounts::tokens(c, name.as_deref()))
        .await?;
    Ok(Json(json!({ "tokens": list })))
}

/// `DELETE /api/tokens/{id}`: revoke a token (its owner or an administrator).
pub async fn revoke_token(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let caller = who.require(Action::ReadData)?;
    let admin = caller.user.role.may(Action::ManageUsers);
    let me = caller.user.username.clone();
    let actor = caller.actor();
    s.run(move |db| {
        db.write(|c| {
            let t = accounts::get_token(c, id)?
                .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
            if t.username != me && !admin {
                return Err(StoreError::NotFound(format!("token {id}")));
            }
            accounts::revoke_token(c, id)?;
            audit::record(
                c,
                &actor,
                "revoke",
                "api_token",
                &id.to_string(),
                None,
                None,
            )
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/audit` (administrators): filter by `actor`, `action`, `entity`, `key`, `from`,
/// `to` (ISO dates or instants); `GET /api/audit.csv` exports the same.
pub async fn audit_log(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    who.require(Action::ReadAudit)?;
    let f = audit_filter(&Params::parse(q.as_deref()))?;
    let entries = s.read(move |c| audit::search(c, &f)).await?;
    Ok(Json(json!({ "entries": entries })))
}

pub async fn audit_csv(
    State(s): State<AppState>,
    who: Principal,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let c = who.require(Action::ReadAudit)?;
    let mut f = audit_filter(&Params::parse(q.as_deref()))?;
    f.limit = 1_000_000;
    let actor = c.actor();
    let entries = s
        .run(move |db| {
            let e = db.read(|c| audit::search(c, &f))?;
            db.write(|c| {
                audit::record(
                    c,
                    &actor,
                    "export",
                    "audit_log",
                    "csv",
                    None,
                    Some(&json!({"entries": e.len()})),
                )
            })?;
            Ok(e)
        })
        .await?;
    let mut buf = vec![];
    audit::write_csv(&mut buf, &entries).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        buf,
    )
        .into_response())
}

fn audit_filter(p: &Params) -> ApiResult<audit::Filter> {
    Ok(audit::Filter {
        actor: p.get("actor").map(str::to_string),
        action: p.get("action").map(str::to_string),
        entity: p.get("entity").map(str::to_string),
        key: p.get("key").map(str::to_string),
        from: p.get("from").map(str::to_string),
        to: p.get("to").map(str::to_string),
        limit: p.int("limit", 500, 100_000)?,
    })
}

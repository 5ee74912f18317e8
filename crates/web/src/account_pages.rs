//! Pages for logging in and out and for managing accounts (administrators).

use crate::api::accounts::{UserBody, do_login, session_cookie};
use crate::auth::{LOGIN_CSRF_COOKIE, Principal, cookie, same_origin};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::{Ctx, render_page};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dantoc_domain::access::{Action, Role};
use dantoc_store::accounts::{self, User};
use dantoc_store::{StoreError, audit};
use std::collections::HashMap;

/// The password of the demo accounts (created only on a server bound to localhost).
pub const DEMO_PASSWORD: &str = "Demo-dantoc-2025";

pub(crate) fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Only local paths may follow a login (no open redirect).
fn safe_next(n: &str) -> String {
    if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') {
        n.to_string()
    } else {
        "/".into()
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Ctx,
    error: Option<String>,
    form_csrf: String,
    next: String,
    username: String,
    demo: Vec<(String, String)>,
    demo_password: &'static str,
}

async fn login_page(
    s: &AppState,
    c: Ctx,
    error: Option<String>,
    username: String,
    next: String,
    status: StatusCode,
) -> Response {
    let lang = c.lang;
    let demo = if s.config.local_only() {
        s.read(|conn| {
            Ok(accounts::list(conn)?
                .into_iter()
                .filter(|u| u.demo && u.active)
                .collect::<Vec<_>>())
        })
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|u| {
            (
                u.username,
                if lang == Lang::Vi {
                    u.role.label_vi()
                } else {
                    u.role.label_en()
                }
                .to_string(),
            )
        })
        .collect()
    } else {
        vec![]
    };
    let form_csrf = dantoc_store::secret::random_hex(16);
    let cookie = format!(
        "{LOGIN_CSRF_COOKIE}={form_csrf}; Path=/dang-nhap; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if s.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let mut r = render_page(
        LoginPage {
            c,
            error,
            form_csrf,
            next,
            username,
            demo,
            demo_password: DEMO_PASSWORD,
        },
        lang,
        status,
    );
    if let Ok(v) = cookie.parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub async fn login_form(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let next = crate::params::Params::parse(q.as_deref())
        .get("next")
        .map(safe_next)
        .unwrap_or_else(|| "/".into());
    let c = Ctx::new(&headers, q.as_deref(), "/dang-nhap".into()).with(&who);
    login_page(&s, c, None, String::new(), next, StatusCode::OK).await
}

pub async fn login_submit(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let c = Ctx::new(&headers, None, "/dang-nhap".into());
    let next = safe_next(&get("next"));
    let username = get("username");
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if !same_origin(&headers)
        || expected.is_empty()
        || !dantoc_store::secret::same(expected.as_bytes(), get("csrf").as_bytes())
    {
        let msg = if c.lang == Lang::Vi {
            "phiên biểu mẫu đã hết hạn, hãy thử lại"
        } else {
            "the form expired, try again"
        };
        return login_page(
            &s,
            c,
            Some(msg.into()),
            username,
            next,
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    match do_login(
        &s,
        username.clone(),
        get("password"),
        who.origin().to_string(),
        ua,
    )
    .await
    {
        Ok((_, cookie, _)) => {
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = session_cookie(
                &cookie,
                s.config.secure_cookies,
                accounts::SESSION_MAX_SECONDS,
            )
            .parse()
            {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let (status, msg) = match (&e, c.lang) {
                (ApiError::Unauthorized(_), Lang::Vi) => (
                    StatusCode::UNAUTHORIZED,
                    "sai tên đăng nhập hoặc mật khẩu".to_string(),
                ),
                (ApiError::TooMany(_), Lang::Vi) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "đăng nhập sai quá nhiều lần, hãy đợi rồi thử lại".to_string(),
                ),
                (ApiError::Forbidden(_), Lang::Vi) => (
                    StatusCode::FORBIDDEN,
                    "tài khoản dùng thử chỉ dùng được khi máy chủ chạy trên máy này".to_string(),
                ),
                (
                    ApiError::Unauthorized(m) | ApiError::TooMany(m) | ApiError::Forbidden(m),
                    Lang::En,
                ) => (StatusCode::UNAUTHORIZED, m.clone()),
                _ => return e.into_response(),
            };
            login_page(&s, c, Some(msg), username, next, status).await
        }
    }
}

pub async fn logout_submit(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    if let Some(c) = who.caller() {
        let ok = matches!(&c.via, crate::auth::Via::Session { csrf } if dantoc_store::secret::same(csrf.as_bytes(), f.get("csrf").map(String::as_bytes).unwrap_or(b"")));
        if !ok || !same_origin(&headers) {
            return ApiError::Forbidden("missing or wrong CSRF token".into()).into_response();
        }
        let cookie_value = cookie(&headers, crate::auth::SESSION_COOKIE)
            .unwrap_or("")
            .to_string();
        let actor = c.actor();
        let _ = s
            .run(move |db| {
                db.write(|c| {
                    accounts::end_session(c, &cookie_value)?;
                    audit::record(c, &actor, "logout", "session", &actor.name, None, None)
                })
            })
            .await;
    }
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = session_cookie("", s.config.secure_cookies, 0).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Ctx,
    title: String,
    message: String,
}

pub(crate) fn refuse(c: Ctx, e: ApiError) -> Response {
    let lang = c.lang;
    let (status, title) = match e {
        ApiError::Unauthorized(_) => {
            return Redirect::to(&format!(
                "/dang-nhap?next={}",
                form_urlencoded::byte_serialize(c.path.as_bytes()).collect::<String>()
            ))
            .into_response();
        }
        ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
        other => return other.into_response(),
    };
    let message = c.t.forbidden.to_string();
    render_page(MessagePage { c, title, message }, lang, status)
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    c: Ctx,
    users: Vec<User>,
    roles: Vec<Role>,
    error: Option<String>,
    notice: Option<String>,
    cipher: dantoc_store::personal::Cipher,
}

impl UsersPage {
    fn role_label(&self, r: &Role) -> &'static str {
        if self.c.lang == Lang::Vi {
            r.label_vi()
        } else {
            r.label_en()
        }
    }
    fn scopes_text(&self, u: &User) -> String {
        u.scopes
            .iter()
            .map(|s| {
                if s.version == dantoc_domain::admin::HierarchyVersion::CURRENT {
                    s.code.clone()
                } else {
                    format!("{}@{}", s.code, s.version)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
    fn phone_masked(&self, u: &User) -> String {
        u.phone_enc
            .as_deref()
            .and_then(|e| self.cipher.decrypt(e).ok())
            .map(|p| dantoc_domain::personal::mask_phone(&p))
            .unwrap_or_default()
    }
}

async fn users_page(
    s: &AppState,
    c: Ctx,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let lang = c.lang;
    match s.read(accounts::list).await {
        Ok(users) => render_page(
            UsersPage {
                c,
                users,
                roles: Role::ALL.to_vec(),
                error,
                notice,
                cipher: s.cipher.clone(),
            },
            lang,
            status,
        ),
        Err(e) => e.into_response(),
    }
}

pub async fn users(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let c = Ctx::new(&headers, q.as_deref(), "/quan-tri/nguoi-dung".into()).with(&who);
    if let Err(e) = who.require(Action::ManageUsers) {
        return refuse(c, e);
    }
    users_page(&s, c, None, None, StatusCode::OK).await
}

fn body_from_form(f: &HashMap<String, String>) -> UserBody {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    UserBody {
        username: Some(get("username").trim().to_lowercase()),
        full_name: get("full_name"),
        role: Some(get("role")),
        scopes: get("scopes")
            .split([',', ';', ' '])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        email: get("email"),
        phone: Some(get("phone")).filter(|p| !p.trim().is_empty()),
        active: get("active") == "1",
        password: Some(get("password")).filter(|p| !p.is_empty()),
    }
}

fn problem_text(e: &ApiError) -> String {
    match e {
        ApiError::Invalid(p) => {
            p.0.iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        }
        ApiError::Conflict(m) | ApiError::Forbidden(m) | ApiError::NotFound(m) => m.clone(),
        _ => "error".into(),
    }
}

/// Create (`username = None`) or update an account from the users page.
async fn save_user(
    s: &AppState,
    who: &Principal,
    username: Option<String>,
    f: HashMap<String, String>,
) -> Result<String, ApiError> {
    let caller = who
        .require_form(
            Action::ManageUsers,
            Some(f.get("csrf").map(String::as_str).unwrap_or("")),
        )?
        .clone();
    let mut b = body_from_form(&f);
    let name = match &username {
        Some(u) => u.clone(),
        None => b.username.clone().unwrap_or_default(),
    };
    b.username = Some(name.clone());
    if username.is_some() && caller.user.username == name {
        let role = b.role.as_deref().and_then(|r| r.parse::<Role>().ok());
        if role != Some(caller.user.role) || !b.active {
            return Err(ApiError::bad(
                "role",
                "administrators cannot change their own role or disable themselves",
            ));
        }
    }
    let (input, password) = b.input(s, name.clone())?;
    let hash = crate::api::accounts::hash_off_runtime(password).await?;
    if username.is_none() && hash.is_none() {
        return Err(ApiError::bad("password", "required"));
    }
    let actor = caller.actor();
    let creating = username.is_none();
    s.run(move |db| {
        db.write(|c| {
            if creating {
                accounts::create_audited(c, &actor, &input, hash.as_deref())?;
            } else {
                // an empty phone field on the form keeps the stored number (it is shown masked)
                let mut input = input.clone();
                if input.phone_enc.is_none() {
                    input.phone_enc = accounts::get(c, &input.username)?.and_then(|u| u.phone_enc);
                }
                accounts::update_audited(c, &actor, &input, hash.as_deref())?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(name)
}

pub async fn users_create(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    users_submit(s, who, headers, None, body).await
}

pub async fn users_update(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    Path(username): Path<String>,
    body: Bytes,
) -> Response {
    users_submit(s, who, headers, Some(username), body).await
}

async fn users_submit(
    s: AppState,
    who: Principal,
    headers: HeaderMap,
    username: Option<String>,
    body: Bytes,
) -> Response {
    let c = Ctx::new(&headers, None, "/quan-tri/nguoi-dung".into()).with(&who);
    if !same_origin(&headers) {
        return refuse(c, ApiError::Forbidden("cross-site request refused".into()));
    }
    match save_user(&s, &who, username, form(&body)).await {
        Ok(name) => {
            let notice = format!("{} {name}", c.t.saved);
            users_page(&s, c, None, Some(notice), StatusCode::OK).await
        }
        Err(e @ (ApiError::Unauthorized(_) | ApiError::Forbidden(_)))
            if who.require(Action::ManageUsers).is_err() =>
        {
            refuse(c, e)
        }
        Err(
            e @ (ApiError::Invalid(_)
            | ApiError::Conflict(_)
            | ApiError::NotFound(_)
            | ApiError::Forbidden(_)),
        ) => {
            let status = if matches!(e, ApiError::Forbidden(_)) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            users_page(&s, c, Some(problem_text(&e)), None, status).await
        }
        Err(e) => e.into_response(),
    }
}

/// Demo accounts for the demo provinces, on a server bound to localhost only: an
/// administrator, a provincial officer of Quảng Ninh, a commune officer of xã Đông Ngũ and a
/// viewer. On any other bind they are disabled.
pub fn ensure_demo_accounts(db: &dantoc_store::Db, local_only: bool) -> Result<(), StoreError> {
    let demo = [
        ("demo-admin", "Quản trị (dùng thử)", Role::Admin, vec![]),
        (
            "demo-tinh",
            "Cán bộ Ban Dân tộc tỉnh Quảng Ninh (dùng thử)",
            Role::ProvinceOfficer,
            vec!["22".to_string()],
        ),
        (
            "demo-xa",
            "Cán bộ xã Đông Ngũ (dùng thử)",
            Role::CommuneOfficer,
            vec!["06877".to_string()],
        ),
        (
            "demo-xem",
            "Người xem Cao Bằng (dùng thử)",
            Role::Viewer,
            vec!["04".to_string()],
        ),
    ];
    let existing = db.read(|c| Ok(accounts::list(c)?.into_iter().filter(|u| u.demo).count()))?;
    if !local_only {
        return db.write(|c| {
            c.execute("UPDATE app_user SET active = 0 WHERE demo = 1", &[])?;
            Ok(())
        });
    }
    if existing >= demo.len() {
        return db.write(|c| {
            c.execute("UPDATE app_user SET active = 1 WHERE demo = 1", &[])?;
            Ok(())
        });
    }
    let hash = accounts::hash_password(DEMO_PASSWORD)?;
    db.write(|c| {
        for (name, full, role, scopes) in &demo {
            if accounts::get(c, name)?.is_none() {
                let input = accounts::UserInput {
                    username: name.to_string(),
                    full_name: full.to_string(),
                    role: Some(*role),
                    scopes: scopes.clone(),
                    active: true,
                    demo: true,
                    ..Default::default()
                };
                let u = accounts::create(c, &input, Some(&hash))?;
                audit::record(
                    c,
                    &audit::Actor::system(),
                    "create",
                    "app_user",
                    &u.username,
                    None,
                    Some(&serde_json::json!({"demo": true, "role": role.as_str()})),
                )?;
            }
        }
        Ok(())
    })
}

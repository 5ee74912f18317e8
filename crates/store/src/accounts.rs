//! Accounts: users with a role and unit scopes, Argon2id passwords, login throttling and
//! lockout, sessions, API tokens, and the unit sets a scope covers in both hierarchies.

use crate::clock;
use crate::db::{Conn, Row, Val};
use crate::error::StoreError;
use crate::params;
use crate::secret::{random_hex, sha256_hex};
use dantoc_domain::access::{Action, Role, check_username};
use dantoc_domain::admin::HierarchyVersion;
use dantoc_domain::{FieldError, Problems};
use serde::Serialize;
use std::collections::HashSet;

/// Failed logins (per user name or per address) within a minute after which further
/// attempts are refused for the rest of that minute.
pub const MAX_FAILURES_PER_MINUTE: i64 = 10;
/// Failed logins within 15 minutes that lock the account for 15 minutes.
pub const LOCKOUT_FAILURES: i64 = 20;
pub const LOCKOUT_SECONDS: i64 = 15 * 60;
/// A session ends after this long without use…
pub const SESSION_IDLE_SECONDS: i64 = 60 * 60;
/// …and at the latest this long after login.
pub const SESSION_MAX_SECONDS: i64 = 12 * 60 * 60;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScopeUnit {
    #[serde(skip)]
    pub unit_id: i64,
    pub code: String,
    pub version: HierarchyVersion,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    #[serde(skip)]
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub role: Role,
    pub active: bool,
    pub demo: bool,
    pub email: String,
    /// Encrypted phone number, as stored.
    #[serde(skip)]
    pub phone_enc: Option<String>,
    pub locked_until: Option<String>,
    pub scopes: Vec<ScopeUnit>,
    #[serde(skip)]
    pub has_password: bool,
}

const USER_COLS: &str = "id, username, full_name, role, active, demo, email, phone_enc, locked_until, password_hash IS NOT NULL";

fn user_from(c: &mut dyn Conn, r: &Row) -> Result<User, StoreError> {
    let id = r.i64(0);
    let scopes = c
        .query(
            "SELECT u.id, u.code, u.version, u.full_name FROM user_scope s JOIN admin_unit u ON u.id = s.unit_id
             WHERE s.user_id = $1 ORDER BY u.version DESC, u.code",
            &params![id],
        )?
        .iter()
        .map(|s| ScopeUnit {
            unit_id: s.i64(0),
            code: s.str(1),
            version: s.str(2).parse().unwrap_or(HierarchyVersion::CURRENT),
            name: s.str(3),
        })
        .collect();
    Ok(User {
        id,
        username: r.str(1),
        full_name: r.str(2),
        role: r.str(3).parse().unwrap_or(Role::Viewer),
        active: r.bool(4),
        demo: r.bool(5),
        email: r.str(6),
        phone_enc: r.opt_str(7),
        locked_until: r.opt_str(8),
        scopes,
        has_password: r.bool(9),
    })
}

/// Argon2id with the crate's default parameters (m = 19 MiB, t = 2, p = 1), as a PHC string.
/// CPU-heavy: call it off the async runtime and outside write transactions.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| StoreError::Io(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Io(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Io(format!("password hashing failed: {e}")))
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Resolve unit codes (`CODE` in the current hierarchy or `CODE@2024`) to ids.
pub fn resolve_units(
    c: &mut dyn Conn,
    field: &str,
    codes: &[String],
) -> Result<Vec<i64>, StoreError> {
    let mut ids = vec![];
    let mut p = Problems::default();
    for code in codes {
        let (k, v) = match dantoc_domain::admin::split_unit_ref(code) {
            Ok((k, v)) => (k, v.unwrap_or(HierarchyVersion::CURRENT)),
            Err(e) => {
                p.push(FieldError::new(field, e).value(code));
                continue;
            }
        };
        match crate::units::id_of(c, v, k)? {
            Some(id) => ids.push(id),
            None => p.push(
                FieldError::new(field, format!("no unit has this code in the {v} hierarchy"))
                    .value(code),
            ),
        }
    }
    if p.is_empty() {
        Ok(ids)
    } else {
        Err(StoreError::Invalid(p))
    }
}

#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub username: String,
    pub full_name: String,
    pub role: Option<Role>,
    pub scopes: Vec<String>,
    pub email: String,
    pub phone_enc: Option<String>,
    pub active: bool,
    pub demo: bool,
}

fn check_input(c: &mut dyn Conn, u: &UserInput) -> Result<(Role, Vec<i64>), StoreError> {
    let mut p = Problems::default();
    if let Err(e) = check_username(&u.username) {
        p.push(FieldError::new("username", e).value(&u.username));
    }
    let role = match u.role {
        Some(r) => r,
        None => {
            p.push(FieldError::new("role", "required"));
            Role::Viewer
        }
    };
    let ids = match resolve_units(c, "scopes", &u.scopes) {
        Ok(ids) => ids,
        Err(StoreError::Invalid(q)) => {
            p.0.extend(q.0);
            vec![]
        }
        Err(e) => return Err(e),
    };
    if !role.is_global() && u.scopes.is_empty() {
        p.push(FieldError::new(
            "scopes",
            "every role but admin works in at least one administrative unit",
        ));
    }
    if p.is_empty() {
        Ok((role, ids))
    } else {
        Err(StoreError::Invalid(p))
    }
}

fn set_scopes(c: &mut dyn Conn, user_id: i64, ids: &[i64]) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM user_scope WHERE user_id = $1",
        &params![user_id],
    )?;
    for id in ids {
        c.execute(
            "INSERT INTO user_scope (user_id, unit_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &params![user_id, *id],
        )?;
    }
    Ok(())
}

/// Create an account; `password_hash` from [`hash_password`].
pub fn create(
    c: &mut dyn Conn,
    u: &UserInput,
    password_hash: Option<&str>,
) -> Result<User, StoreError> {
    let (role, ids) = check_input(c, u)?;
    if get(c, &u.username)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "the user name {} is taken",
            u.username
        )));
    }
    let now = clock::now();
    let id = c
        .query(
            "INSERT INTO app_user (username, full_name, role, password_hash, phone_enc, email, active, demo,
                password_changed_at, created_at, updated_at)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$10) RETURNING id",
            &params![
                &u.username,
                &u.full_name,
                role.as_str(),
                password_hash,
                u.phone_enc.clone(),
                &u.email,
                u.active,
                u.demo,
                password_hash.map(|_| now.clone()),
                &now
            ],
        )?
        .first()
        .map(|r| r.i64(0))
        .unwrap_or_default();
    set_scopes(c, id, &ids)?;
    get(c, &u.username)?.ok_or_else(|| StoreError::Db("created user not found".into()))
}

/// Change an account's name, role, scopes, contact data and whether it is active.
pub fn update(c: &mut dyn Conn, u: &UserInput) -> Result<User, StoreError> {
    let existing =
        get(c, &u.username)?.ok_or_else(|| StoreError::NotFound(format!("user {}", u.username)))?;
    let (role, ids) = check_input(c, u)?;
    c.execute(
        "UPDATE app_user SET full_name = $1, role = $2, email = $3, phone_enc = $4, active = $5, updated_at = $6 WHERE id = $7",
        &params![&u.full_name, role.as_str(), &u.email, u.phone_enc.clone(), u.active, clock::now(), existing.id],
    )?;
    set_scopes(c, existing.id, &ids)?;
    if !u.active {
        c.execute(
            "DELETE FROM user_session WHERE user_id = $1",
            &params![existing.id],
        )?;
    }
    get(c, &u.username)?.ok_or_else(|| StoreError::NotFound(format!("user {}", u.username)))
}

pub fn set_password_hash(c: &mut dyn Conn, username: &str, hash: &str) -> Result<(), StoreError> {
    let n = c.execute(
        "UPDATE app_user SET password_hash = $1, password_changed_at = $2, locked_until = NULL, updated_at = $2 WHERE username = $3",
        &params![hash, clock::now(), username],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {username}")));
    }
    // a new password ends every session of the account
    c.execute(
        "DELETE FROM user_session WHERE user_id = (SELECT id FROM app_user WHERE username = $1)",
        &params![username],
    )?;
    Ok(())
}

pub fn get(c: &mut dyn Conn, username: &str) -> Result<Option<User>, StoreError> {
    match c.query_one(
        &format!("SELECT {USER_COLS} FROM app_user WHERE username = $1"),
        &params![username],
    )? {
        Some(r) => Ok(Some(user_from(c, &r)?)),
        None => Ok(None),
    }
}

fn get_by_id(c: &mut dyn Conn, id: i64) -> Result<Option<User>, StoreError> {
    match c.query_one(
        &format!("SELECT {USER_COLS} FROM app_user WHERE id = $1"),
        &params![id],
    )? {
        Some(r) => Ok(Some(user_from(c, &r)?)),
        None => Ok(None),
    }
}

pub fn list(c: &mut dyn Conn) -> Result<Vec<User>, StoreError> {
    let rows = c.query(
        &format!("SELECT {USER_COLS} FROM app_user ORDER BY username"),
        &[],
    )?;
    rows.iter().map(|r| user_from(c, r)).collect()
}

pub fn count(c: &mut dyn Conn) -> Result<i64, StoreError> {
    c.scalar_i64("SELECT count(*) FROM app_user", &[])
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginRefused {
    /// Wrong user name or password (the two are not told apart).
    BadCredentials,
    /// Too many failures in the last minute, from this name or this address.
    Throttled,
    /// Locked after repeated failures, until the given instant.
    Locked(String),
    /// Demo accounts work only on a server bound to localhost.
    DemoOnlyLocal,
}

/// Check a login attempt and record it. `local_server`: the server listens on loopback only.
pub fn login(
    c: &mut dyn Conn,
    username: &str,
    password: &str,
    ip: &str,
    local_server: bool,
) -> Result<Result<User, LoginRefused>, StoreError> {
    let minute_ago = clock::in_seconds(-60);
    let failures = c.scalar_i64(
        "SELECT count(*) FROM login_attempt WHERE success = 0 AND at >= $1 AND (username = $2 OR ip = $3)",
        &params![&minute_ago, username, ip],
    )?;
    if failures >= MAX_FAILURES_PER_MINUTE {
        record_attempt(c, username, ip, false)?;
        return Ok(Err(LoginRefused::Throttled));
    }
    let row = c.query_one(
        &format!("SELECT {USER_COLS}, password_hash FROM app_user WHERE username = $1"),
        &params![username],
    )?;
    let now = clock::now();
    let (user, hash) = match row {
        Some(r) => {
            let hash = r.opt_str(10);
            (Some(user_from(c, &r)?), hash)
        }
        None => (None, None),
    };
    if let Some(u) = &user
        && let Some(until) = &u.locked_until
        && *until > now
    {
        record_attempt(c, username, ip, false)?;
        return Ok(Err(LoginRefused::Locked(until.clone())));
    }
    // verify against a dummy hash for unknown users, so timing does not reveal them
    let ok = match &hash {
        Some(h) => verify_password(h, password),
        None => {
            let _ = verify_password(DUMMY_HASH, password);
            false
        }
    };
    let user = match user {
        Some(u) if ok && u.active => u,
        _ => {
            record_attempt(c, username, ip, false)?;
            let recent = c.scalar_i64(
                "SELECT count(*) FROM login_attempt WHERE success = 0 AND at >= $1 AND username = $2",
                &params![clock::in_seconds(-LOCKOUT_SECONDS), username],
            )?;
            if recent >= LOCKOUT_FAILURES {
                c.execute(
                    "UPDATE app_user SET locked_until = $1 WHERE username = $2",
                    &params![clock::in_seconds(LOCKOUT_SECONDS), username],
                )?;
            }
            return Ok(Err(LoginRefused::BadCredentials));
        }
    };
    if user.demo && !local_server {
        record_attempt(c, username, ip, false)?;
        return Ok(Err(LoginRefused::DemoOnlyLocal));
    }
    record_attempt(c, username, ip, true)?;
    Ok(Ok(user))
}

const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2ZQPC3Wkp2bM1v7p3/5kz6O9s3m1m3jZ8Xr3kB3Vw8o";

fn record_attempt(
    c: &mut dyn Conn,
    username: &str,
    ip: &str,
    success: bool,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO login_attempt (username, ip, at, success) VALUES ($1, $2, $3, $4)",
        &params![username, ip, clock::now(), success],
    )?;
    // keep the table small
    c.execute(
        "DELETE FROM login_attempt WHERE at < $1",
        &params![clock::in_seconds(-24 * 3600)],
    )?;
    Ok(())
}

/// Start a session: returns the cookie value and the session's CSRF token.
pub fn create_session(
    c: &mut dyn Conn,
    user: &User,
    ip: &str,
    user_agent: &str,
) -> Result<(String, String), StoreError> {
    let cookie = random_hex(32);
    let csrf = random_hex(32);
    let now = clock::now();
    c.execute(
        "INSERT INTO user_session (id_hash, user_id, csrf_token, created_at, last_seen, expires_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
        &params![
            sha256_hex(cookie.as_bytes()),
            user.id,
            &csrf,
            &now,
            clock::in_seconds(SESSION_IDLE_SECONDS),
            ip,
            user_agent.chars().take(200).collect::<String>()
        ],
    )?;
    c.execute(
        "DELETE FROM user_session WHERE expires_at < $1",
        &params![&now],
    )?;
    Ok((cookie, csrf))
}

/// The user and CSRF token of a live session; extends it while in use (up to the maximum).
/// A read, except at most once a minute per session, when the expiry is moved on.
/// (Expired sessions are removed when the next session is created.)
pub fn session(db: &crate::Db, cookie: &str) -> Result<Option<(User, String)>, StoreError> {
    let h = sha256_hex(cookie.as_bytes());
    let found = db.read(|c| {
        let Some(r) = c.query_one(
            "SELECT user_id, csrf_token, expires_at, created_at FROM user_session WHERE id_hash = $1",
            &params![&h],
        )?
        else {
            return Ok(None);
        };
        if r.str(2) < clock::now() {
            return Ok(None);
        }
        match get_by_id(c, r.i64(0))? {
            Some(user) if user.active => Ok(Some((user, r.str(1), r.str(2), r.str(3)))),
            _ => Ok(None),
        }
    })?;
    let Some((user, csrf, expires, created)) = found else {
        return Ok(None);
    };
    // sliding expiry, capped at SESSION_MAX after creation
    let created_ms = parse_millis(&created).unwrap_or_else(clock::now_millis);
    let cap = clock::format_millis(created_ms + SESSION_MAX_SECONDS * 1000);
    let next = clock::in_seconds(SESSION_IDLE_SECONDS).min(cap);
    if parse_millis(&next).unwrap_or(0) - parse_millis(&expires).unwrap_or(0) > 60_000 {
        db.write(|c| {
            c.execute(
                "UPDATE user_session SET last_seen = $1, expires_at = $2 WHERE id_hash = $3",
                &params![clock::now(), &next, &h],
            )
        })?;
    }
    Ok(Some((user, csrf)))
}

/// Milliseconds since the epoch of a stored instant `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn parse_millis(s: &str) -> Option<i64> {
    let n = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (hh, mm, ss, ms) = (n(11, 13)?, n(14, 16)?, n(17, 19)?, n(20, 23).unwrap_or(0));
    // days from civil (H. Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + ms)
}

pub fn end_session(c: &mut dyn Conn, cookie: &str) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM user_session WHERE id_hash = $1",
        &params![sha256_hex(cookie.as_bytes())],
    )?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub prefix: String,
    pub can_write: bool,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// Units the token is limited to (empty: its user's scope).
    pub scopes: Vec<ScopeUnit>,
}

fn token_from(c: &mut dyn Conn, r: &Row) -> Result<TokenInfo, StoreError> {
    let id = r.i64(0);
    let scopes = c
        .query(
            "SELECT u.id, u.code, u.version, u.full_name FROM api_token_scope s JOIN admin_unit u ON u.id = s.unit_id
             WHERE s.token_id = $1 ORDER BY u.code",
            &params![id],
        )?
        .iter()
        .map(|s| ScopeUnit { unit_id: s.i64(0), code: s.str(1), version: s.str(2).parse().unwrap_or(HierarchyVersion::CURRENT), name: s.str(3) })
        .collect();
    Ok(TokenInfo {
        id,
        username: r.str(1),
        name: r.str(2),
        prefix: r.str(3),
        can_write: r.bool(4),
        expires_at: r.opt_str(5),
        revoked_at: r.opt_str(6),
        created_at: r.str(7),
        last_used_at: r.opt_str(8),
        scopes,
    })
}

const TOKEN_SELECT: &str = "SELECT t.id, u.username, t.name, t.prefix, t.can_write, t.expires_at, t.revoked_at, t.created_at, \
    t.last_used_at, t.user_id FROM api_token t JOIN app_user u ON u.id = t.user_id";

/// Issue a token for a user. `units` must lie within the user's scope. The token text is
/// returned once and stored only as a hash.
pub fn create_token(
    c: &mut dyn Conn,
    user: &User,
    name: &str,
    can_write: bool,
    expires_at: Option<&str>,
    units: &[String],
) -> Result<(String, TokenInfo), StoreError> {
    let mut p = Problems::default();
    if name.trim().is_empty() {
        p.push(FieldError::new(
            "name",
            "give the token a name (what uses it)",
        ));
    }
    if let Some(e) = expires_at
        && (e.len() < 10 || parse_millis(&format!("{}T00:00:00.000Z", &e[..10])).is_none())
    {
        p.push(FieldError::new("expires_at", "expected a date YYYY-MM-DD").value(e));
    }
    if can_write && !user.role.may(Action::WriteData) {
        p.push(FieldError::new(
            "can_write",
            format!("the role {} does not write data", user.role.as_str()),
        ));
    }
    let ids = resolve_units(c, "scopes", units)?;
    if !user.role.is_global() {
        let allowed = allowed_units(
            c,
            &user.scopes.iter().map(|s| s.unit_id).collect::<Vec<_>>(),
        )?;
        for (code, id) in units.iter().zip(&ids) {
            if !allowed.contains(id) {
                p.push(
                    FieldError::new("scopes", "outside the user's administrative units")
                        .value(code),
                );
            }
        }
    }
    if !p.is_empty() {
        return Err(StoreError::Invalid(p));
    }
    let secret = format!("dt_{}", random_hex(24));
    let expires = expires_at.map(|e| {
        if e.len() == 10 {
            format!("{e}T23:59:59.999Z")
        } else {
            e.to_string()
        }
    });
    let id = c
        .query(
            "INSERT INTO api_token (user_id, name, token_hash, prefix, can_write, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &params![user.id, name.trim(), sha256_hex(secret.as_bytes()), &secret[..10], can_write, expires, clock::now()],
        )?
        .first()
        .map(|r| r.i64(0))
        .unwrap_or_default();
    for uid in &ids {
        c.execute("INSERT INTO api_token_scope (token_id, unit_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", &params![id, *uid])?;
    }
    let row = c
        .query_one(&format!("{TOKEN_SELECT} WHERE t.id = $1"), &params![id])?
        .ok_or_else(|| StoreError::Db("token".into()))?;
    Ok((secret, token_from(c, &row)?))
}

/// The user and token behind a bearer token, if it is live (not revoked, not expired, user active).
pub fn token(c: &mut dyn Conn, secret: &str) -> Result<Option<(User, TokenInfo)>, StoreError> {
    let Some(r) = c.query_one(
        &format!("{TOKEN_SELECT} WHERE t.token_hash = $1"),
        &params![sha256_hex(secret.as_bytes())],
    )?
    else {
        return Ok(None);
    };
    let info = token_from(c, &r)?;
    let now = clock::now();
    if info.revoked_at.is_some() || info.expires_at.as_ref().is_some_and(|e| *e < now) {
        return Ok(None);
    }
    let Some(user) = get_by_id(c, r.i64(9))? else {
        return Ok(None);
    };
    if !user.active {
        return Ok(None);
    }
    c.execute(
        "UPDATE api_token SET last_used_at = $1 WHERE id = $2",
        &params![now, info.id],
    )?;
    Ok(Some((user, info)))
}

pub fn tokens(c: &mut dyn Conn, username: Option<&str>) -> Result<Vec<TokenInfo>, StoreError> {
    let rows = match username {
        Some(u) => c.query(
            &format!("{TOKEN_SELECT} WHERE u.username = $1 ORDER BY t.id"),
            &params![u],
        )?,
        None => c.query(&format!("{TOKEN_SELECT} ORDER BY t.id"), &[])?,
    };
    rows.iter().map(|r| token_from(c, r)).collect()
}

pub fn get_token(c: &mut dyn Conn, id: i64) -> Result<Option<TokenInfo>, StoreError> {
    match c.query_one(&format!("{TOKEN_SELECT} WHERE t.id = $1"), &params![id])? {
        Some(r) => Ok(Some(token_from(c, &r)?)),
        None => Ok(None),
    }
}

pub fn revoke_token(c: &mut dyn Conn, id: i64) -> Result<(), StoreError> {
    let n = c.execute(
        "UPDATE api_token SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        &params![clock::now(), id],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("live token {id}")));
    }
    Ok(())
}

/// Every unit a scope covers: the scope units and everything below them, and the pre-2025
/// units whose territory went (wholly or partly) into one of those.
pub fn allowed_units(c: &mut dyn Conn, scope: &[i64]) -> Result<HashSet<i64>, StoreError> {
    let mut out = HashSet::new();
    for s in scope {
        let rows = c.query(
            "SELECT descendant_id FROM admin_unit_closure WHERE ancestor_id = $1
             UNION SELECT l.old_id FROM unit_lineage l JOIN admin_unit_closure cl ON cl.descendant_id = l.new_id
                   WHERE cl.ancestor_id = $1
             UNION SELECT oc.descendant_id FROM unit_lineage l JOIN admin_unit_closure cl ON cl.descendant_id = l.new_id
                   JOIN admin_unit_closure oc ON oc.ancestor_id = l.old_id
                   WHERE cl.ancestor_id = $1 AND l.portion = 'whole'",
            &params![*s],
        )?;
        out.extend(rows.iter().map(|r| r.i64(0)));
    }
    Ok(out)
}

/// SQL that is true when `col` (a unit id) lies within `scope` (see [`allowed_units`]);
/// parameters are numbered from `first`.
pub fn scope_sql(col: &str, scope: &[i64], first: usize) -> (String, Vec<Val>) {
    if scope.is_empty() {
        return ("1 = 0".into(), vec![]);
    }
    let marks: Vec<String> = (0..scope.len())
        .map(|i| format!("${}", first + i))
        .collect();
    let m = marks.join(", ");
    (
        format!(
            "({col} IN (SELECT descendant_id FROM admin_unit_closure WHERE ancestor_id IN ({m}))
              OR {col} IN (SELECT l.old_id FROM unit_lineage l JOIN admin_unit_closure cl ON cl.descendant_id = l.new_id
                           WHERE cl.ancestor_id IN ({m})))"
        ),
        scope.iter().map(|i| Val::Int(*i)).collect(),
    )
}

/// Create an account and record it in the audit log.
pub fn create_audited(
    c: &mut dyn Conn,
    actor: &crate::audit::Actor,
    input: &UserInput,
    password_hash: Option<&str>,
) -> Result<User, StoreError> {
    let u = create(c, input, password_hash)?;
    crate::audit::record(
        c,
        actor,
        "create",
        "app_user",
        &u.username,
        None,
        Some(&serde_json::to_value(&u).unwrap_or_default()),
    )?;
    Ok(u)
}

/// Change an account (and its password, if a hash is given), recording before and after.
pub fn update_audited(
    c: &mut dyn Conn,
    actor: &crate::audit::Actor,
    input: &UserInput,
    password_hash: Option<&str>,
) -> Result<User, StoreError> {
    let before = get(c, &input.username)?
        .ok_or_else(|| StoreError::NotFound(format!("user {}", input.username)))?;
    let after = update(c, input)?;
    if let Some(h) = password_hash {
        set_password_hash(c, &input.username, h)?;
        crate::audit::record(
            c,
            actor,
            "set_password",
            "app_user",
            &input.username,
            None,
            None,
        )?;
    }
    crate::audit::record(
        c,
        actor,
        "update",
        "app_user",
        &input.username,
        Some(&serde_json::to_value(&before).unwrap_or_default()),
        Some(&serde_json::to_value(&after).unwrap_or_default()),
    )?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_stored_instants() {
        let ms = 1_795_438_254_123;
        assert_eq!(
            super::parse_millis(&crate::clock::format_millis(ms)),
            Some(ms)
        );
    }

    #[test]
    fn hashes_and_verifies() {
        let h = super::hash_password("Mật-khẩu-2025").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify_password(&h, "Mật-khẩu-2025"));
        assert!(!super::verify_password(&h, "mật-khẩu-2025"));
        assert!(!super::verify_password("garbage", "x"));
    }
}

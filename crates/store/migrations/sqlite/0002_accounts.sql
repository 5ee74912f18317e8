-- dantoc schema v2 (SQLite): accounts, scopes, sessions, API tokens, login throttling,
-- publication of values. Keep in step with ../postgres/0002_accounts.sql.
-- (The audit log's hash chain and its append-only triggers are added by the Rust step of this
-- migration, after existing rows are chained: see migrate.rs.)

CREATE TABLE app_user (
    id                  INTEGER PRIMARY KEY,
    username            TEXT    NOT NULL UNIQUE,     -- lower case
    full_name           TEXT    NOT NULL DEFAULT '',
    role                TEXT    NOT NULL,            -- admin | province_officer | commune_officer | viewer | api_client
    password_hash       TEXT,                        -- Argon2id PHC string; NULL: no password login
    phone_enc           TEXT,                        -- personal data, encrypted at rest
    email               TEXT    NOT NULL DEFAULT '',
    active              INTEGER NOT NULL DEFAULT 1,
    demo                INTEGER NOT NULL DEFAULT 0,  -- demo account: usable only on a server bound to localhost
    locked_until        TEXT,
    password_changed_at TEXT,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL
);

-- The administrative-unit subtrees a user works in.
CREATE TABLE user_scope (
    user_id INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    unit_id INTEGER NOT NULL REFERENCES admin_unit(id),
    PRIMARY KEY (user_id, unit_id)
);

CREATE TABLE user_session (
    id_hash    TEXT PRIMARY KEY,                     -- SHA-256 of the cookie value
    user_id    INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    last_seen  TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    ip         TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX user_session_user ON user_session(user_id);

CREATE TABLE api_token (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,            -- SHA-256 of the token
    prefix       TEXT    NOT NULL,                   -- first characters, to recognise a token in lists
    can_write    INTEGER NOT NULL DEFAULT 0,
    expires_at   TEXT,
    revoked_at   TEXT,
    created_at   TEXT    NOT NULL,
    last_used_at TEXT
);
CREATE INDEX api_token_user ON api_token(user_id);

-- Units a token is limited to (within its user's scope); none: the user's scope.
CREATE TABLE api_token_scope (
    token_id INTEGER NOT NULL REFERENCES api_token(id) ON DELETE CASCADE,
    unit_id  INTEGER NOT NULL REFERENCES admin_unit(id),
    PRIMARY KEY (token_id, unit_id)
);

CREATE TABLE login_attempt (
    id       INTEGER PRIMARY KEY,
    username TEXT    NOT NULL,
    ip       TEXT    NOT NULL,
    at       TEXT    NOT NULL,
    success  INTEGER NOT NULL
);
CREATE INDEX login_attempt_user ON login_attempt(username, at);
CREATE INDEX login_attempt_ip ON login_attempt(ip, at);

-- Anonymous visitors see published values only.
ALTER TABLE data_value ADD COLUMN published INTEGER NOT NULL DEFAULT 0;

ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';

-- Only a change of the value, comment or follow-up flag is history; publishing is not.
DROP TRIGGER data_value_history_update;
CREATE TRIGGER data_value_history_update AFTER UPDATE OF value, value_text, comment, followup ON data_value
BEGIN
    INSERT INTO data_value_history (indicator_id, unit_id, period, disagg_id, value, value_text,
        comment, followup, stored_by, updated_at, version, op, changed_at)
    VALUES (OLD.indicator_id, OLD.unit_id, OLD.period, OLD.disagg_id, OLD.value, OLD.value_text,
        OLD.comment, OLD.followup, OLD.stored_by, OLD.updated_at, OLD.version, 'update', NEW.updated_at);
END;

-- dantoc schema v1 (SQLite). Keep in step with ../postgres/0001_init.sql.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE admin_unit (
    id            INTEGER PRIMARY KEY,
    version       TEXT    NOT NULL,           -- hierarchy: '2024' (until 2025-06-30) or '2025'
    code          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    full_name     TEXT    NOT NULL,
    name_folded   TEXT    NOT NULL,           -- lower case, no diacritics: for search
    type          TEXT    NOT NULL,           -- tỉnh, thành phố, huyện, xã, phường, thôn, …
    kind          TEXT    NOT NULL,           -- province | district | commune | village
    level         INTEGER NOT NULL,
    parent_id     INTEGER REFERENCES admin_unit(id),
    province_code TEXT    NOT NULL,
    valid_from    TEXT,
    valid_to      TEXT,
    alt_names     TEXT    NOT NULL DEFAULT '',
    source        TEXT    NOT NULL DEFAULT 'official',
    UNIQUE (version, code)
);
CREATE INDEX admin_unit_parent ON admin_unit(parent_id);
CREATE INDEX admin_unit_folded ON admin_unit(name_folded);

CREATE TABLE admin_unit_closure (
    ancestor_id   INTEGER NOT NULL REFERENCES admin_unit(id),
    descendant_id INTEGER NOT NULL REFERENCES admin_unit(id),
    depth         INTEGER NOT NULL,
    PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX admin_unit_closure_desc ON admin_unit_closure(descendant_id);

CREATE TABLE unit_lineage (
    old_id        INTEGER NOT NULL REFERENCES admin_unit(id),
    new_id        INTEGER NOT NULL REFERENCES admin_unit(id),
    portion       TEXT    NOT NULL,           -- whole | part
    detail        TEXT    NOT NULL,
    note          TEXT    NOT NULL DEFAULT '',
    weight        REAL    NOT NULL,
    weight_source TEXT    NOT NULL,           -- whole | all_population | default_equal | province
    PRIMARY KEY (old_id, new_id)
);
CREATE INDEX unit_lineage_new ON unit_lineage(new_id);

CREATE TABLE ethnic_group (
    code_2008       TEXT PRIMARY KEY,
    code_1979       TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    other_names     TEXT    NOT NULL DEFAULT '',
    name_folded     TEXT    NOT NULL,
    population_2019 INTEGER,
    minority        INTEGER NOT NULL
);

CREATE TABLE indicator_group (
    code    TEXT PRIMARY KEY,
    name_vi TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT ''
);

CREATE TABLE indicator (
    id                   INTEGER PRIMARY KEY,
    code                 TEXT    NOT NULL UNIQUE,
    name_vi              TEXT    NOT NULL,
    name_en              TEXT    NOT NULL DEFAULT '',
    name_folded          TEXT    NOT NULL,
    topic                TEXT    NOT NULL DEFAULT '',
    unit                 TEXT    NOT NULL DEFAULT '',
    value_type           TEXT    NOT NULL,
    aggregation          TEXT    NOT NULL,
    weight_indicator     TEXT,
    disaggregations      TEXT    NOT NULL DEFAULT '',
    period_type          TEXT    NOT NULL,
    formula              TEXT,
    legal_source         TEXT    NOT NULL DEFAULT '',
    main_disaggregations TEXT    NOT NULL DEFAULT '',
    publication_period   TEXT    NOT NULL DEFAULT '',
    responsible_agency   TEXT    NOT NULL DEFAULT '',
    higher_level_code    TEXT    NOT NULL DEFAULT '',
    concept              TEXT    NOT NULL DEFAULT '',
    method               TEXT    NOT NULL DEFAULT '',
    data_source          TEXT    NOT NULL DEFAULT '',
    provisional          INTEGER NOT NULL DEFAULT 1,
    updated_at           TEXT    NOT NULL
);

CREATE TABLE disaggregation (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    ethnic_code TEXT REFERENCES ethnic_group(code_2008),
    sex         TEXT,
    area        TEXT,
    age_group   TEXT
);
INSERT INTO disaggregation (id, code) VALUES (1, 'default');

CREATE TABLE data_value (
    indicator_id INTEGER NOT NULL REFERENCES indicator(id),
    unit_id      INTEGER NOT NULL REFERENCES admin_unit(id),
    period       TEXT    NOT NULL,            -- DHIS2 notation
    disagg_id    INTEGER NOT NULL REFERENCES disaggregation(id),
    month_start  INTEGER NOT NULL,            -- year*12 + month-1 of the first month
    month_end    INTEGER NOT NULL,
    value        REAL,
    value_text   TEXT    NOT NULL,
    comment      TEXT,
    followup     INTEGER NOT NULL DEFAULT 0,
    demo         INTEGER NOT NULL DEFAULT 0,  -- generated demonstration value
    source       TEXT,                        -- where a published figure comes from
    stored_by    TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (indicator_id, unit_id, period, disagg_id)
) WITHOUT ROWID;

-- Every earlier state of a value: written by triggers, so no code path can skip it.
CREATE TABLE data_value_history (
    id           INTEGER PRIMARY KEY,
    indicator_id INTEGER NOT NULL,
    unit_id      INTEGER NOT NULL,
    period       TEXT    NOT NULL,
    disagg_id    INTEGER NOT NULL,
    value        REAL,
    value_text   TEXT    NOT NULL,
    comment      TEXT,
    followup     INTEGER NOT NULL,
    stored_by    TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    op           TEXT    NOT NULL,            -- update | delete
    changed_at   TEXT    NOT NULL
);
CREATE INDEX data_value_history_key ON data_value_history(indicator_id, unit_id, period, disagg_id);

CREATE TRIGGER data_value_history_update AFTER UPDATE ON data_value
BEGIN
    INSERT INTO data_value_history (indicator_id, unit_id, period, disagg_id, value, value_text,
        comment, followup, stored_by, updated_at, version, op, changed_at)
    VALUES (OLD.indicator_id, OLD.unit_id, OLD.period, OLD.disagg_id, OLD.value, OLD.value_text,
        OLD.comment, OLD.followup, OLD.stored_by, OLD.updated_at, OLD.version, 'update', NEW.updated_at);
END;

CREATE TRIGGER data_value_history_delete AFTER DELETE ON data_value
BEGIN
    INSERT INTO data_value_history (indicator_id, unit_id, period, disagg_id, value, value_text,
        comment, followup, stored_by, updated_at, version, op, changed_at)
    VALUES (OLD.indicator_id, OLD.unit_id, OLD.period, OLD.disagg_id, OLD.value, OLD.value_text,
        OLD.comment, OLD.followup, OLD.stored_by, OLD.updated_at, OLD.version, 'delete',
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TABLE target (
    indicator_id INTEGER NOT NULL REFERENCES indicator(id),
    unit_id      INTEGER NOT NULL REFERENCES admin_unit(id),
    period       TEXT    NOT NULL,
    disagg_id    INTEGER NOT NULL REFERENCES disaggregation(id),
    value        REAL    NOT NULL,
    source       TEXT,
    demo         INTEGER NOT NULL DEFAULT 0,
    updated_at   TEXT    NOT NULL,
    PRIMARY KEY (indicator_id, unit_id, period, disagg_id)
);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    origin     TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_key TEXT NOT NULL DEFAULT '',
    before     TEXT,
    after      TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);

-- The primary key of data_value in the order values are exported, imported and read by the
-- analytics — indicator, period, unit, disaggregation — with the period as its first month
-- (month_start) and then its text: (indicator_id, month_start, unit_id, disagg_id, period).
-- It was (indicator_id, unit_id, period, disagg_id). An import ordered by indicator, period
-- and unit appends to the key, and the analytics scan by indicator and period and seek by
-- indicator, period and unit. month_start is a function of the period, so the key is unique
-- exactly when (indicator, period, unit, disaggregation) is. Queries that look values up by
-- period give month_start too. Keep in step with the other engine's 0003_value_key.sql.
--
-- A WITHOUT ROWID table is stored in its primary key: the table is made again with the new
-- key and the rows copied over in its order. Dropping the old table drops its history
-- triggers (without firing them); they are made again as they were (0002_accounts.sql,
-- 0001_init.sql).
CREATE TABLE data_value_new (
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
    published    INTEGER NOT NULL DEFAULT 0,  -- visible to anonymous visitors
    PRIMARY KEY (indicator_id, month_start, unit_id, disagg_id, period)
) WITHOUT ROWID;

INSERT INTO data_value_new (indicator_id, unit_id, period, disagg_id, month_start, month_end,
    value, value_text, comment, followup, demo, source, stored_by, created_at, updated_at,
    version, published)
SELECT indicator_id, unit_id, period, disagg_id, month_start, month_end,
    value, value_text, comment, followup, demo, source, stored_by, created_at, updated_at,
    version, published
FROM data_value ORDER BY indicator_id, month_start, unit_id, disagg_id, period;

DROP TABLE data_value;
ALTER TABLE data_value_new RENAME TO data_value;

CREATE TRIGGER data_value_history_update AFTER UPDATE OF value, value_text, comment, followup ON data_value
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

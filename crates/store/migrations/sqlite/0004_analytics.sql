-- Analytics (issue #5). Keep in step with the other engine's 0004_analytics.sql.

-- Where a stored value counts when figures roll up: every unit (of either hierarchy) and
-- every unit its values add into, with the share that goes there. Same hierarchy: the closure
-- (weight 1; direct = the unit itself). Across the 1 July 2025 reform: old units into the new
-- units they became part of (lineage weights) and new units back into the old ones they came
-- from (shares of the sources' weights). Rebuilt whenever units, lineage or weights change.
CREATE TABLE unit_rollup (
    ancestor_id INTEGER NOT NULL,
    unit_id     INTEGER NOT NULL,
    weight      REAL NOT NULL,
    direct      INTEGER NOT NULL,          -- 1: the unit itself
    mapped      INTEGER NOT NULL,          -- 1: through the lineage
    estimated   INTEGER NOT NULL,          -- 1: with default (equal) weights somewhere on the way
    PRIMARY KEY (ancestor_id, unit_id)
) WITHOUT ROWID;
CREATE INDEX unit_rollup_unit ON unit_rollup(unit_id);

-- Pre-aggregates: sums per indicator, stored period, disaggregation and current province
-- (area_id = its unit id) or the whole country (area_id = 0). Kept fresh by a refresher; the
-- (indicator, period) pairs written since their last refresh are listed in agg_dirty and are
-- read from data_value instead, so a pivot is never stale.
CREATE TABLE agg_value (
    indicator_id INTEGER NOT NULL,
    period       TEXT NOT NULL,
    area_id      INTEGER NOT NULL,
    disagg_id    INTEGER NOT NULL,
    direct       INTEGER NOT NULL,
    sum          REAL NOT NULL,
    n            REAL NOT NULL,
    wsum         REAL NOT NULL,
    wden         REAL NOT NULL,
    mapped       INTEGER NOT NULL,
    estimated    INTEGER NOT NULL,
    PRIMARY KEY (indicator_id, period, area_id, disagg_id, direct)
) WITHOUT ROWID;

CREATE TABLE agg_dirty (
    indicator_id INTEGER NOT NULL,
    period       TEXT NOT NULL,
    PRIMARY KEY (indicator_id, period)
) WITHOUT ROWID;

-- Every pair with values starts dirty: the refresher builds the pre-aggregates.
INSERT INTO agg_dirty (indicator_id, period) SELECT DISTINCT indicator_id, period FROM data_value;

-- Saved pivot layouts: the official report tables a province sends up and officers' own
-- favourites. The query is the pivot's query string; unit and period may be chosen at view time.
CREATE TABLE report_table (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    name_folded TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    query       TEXT NOT NULL,
    official    INTEGER NOT NULL DEFAULT 0,    -- an official report table of the province
    shared      INTEGER NOT NULL DEFAULT 1,    -- visible to everyone who may see its figures
    owner       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX report_table_folded ON report_table(name_folded);

-- Pairs written since their last refresh are tracked per current province (issue #5): a write
-- in one province makes pivots read that province's values, not the whole country's, and the
-- refresher rebuilds that province only. Keep in step with the other engine's file.
-- area_id: the current (2025) province the written values roll up into; 0 = every province
-- (a change of units or lineage, or rows from before this migration).
CREATE TABLE agg_dirty_area (
    indicator_id INTEGER NOT NULL,
    period       TEXT NOT NULL,
    area_id      INTEGER NOT NULL,
    PRIMARY KEY (indicator_id, period, area_id)
) WITHOUT ROWID;
INSERT INTO agg_dirty_area (indicator_id, period, area_id) SELECT indicator_id, period, 0 FROM agg_dirty;
DROP TABLE agg_dirty;
ALTER TABLE agg_dirty_area RENAME TO agg_dirty;

-- Pairs written since their last refresh are tracked per current province (issue #5): a write
-- in one province makes pivots read that province's values, not the whole country's, and the
-- refresher rebuilds that province only. Keep in step with the other engine's file.
-- area_id: the current (2025) province the written values roll up into; 0 = every province
-- (a change of units or lineage, or rows from before this migration).
ALTER TABLE agg_dirty ADD COLUMN area_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agg_dirty DROP CONSTRAINT agg_dirty_pkey;
ALTER TABLE agg_dirty ADD PRIMARY KEY (indicator_id, period, area_id);
ALTER TABLE agg_dirty ALTER COLUMN area_id DROP DEFAULT;

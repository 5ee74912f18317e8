-- Dirty (indicator, period, province) triples become an append-only log: a write inserts its
-- triples, and no two writers ever touch the same row. With one row per triple, every save of a
-- province waited on PostgreSQL for the save before it to commit (all communes of a province
-- mark the same rows). The refresher deletes exactly the rows it read before rebuilding; rows
-- committed meanwhile stay for the next round. Keep in step with the other engine's file.
ALTER TABLE agg_dirty DROP CONSTRAINT agg_dirty_pkey;
ALTER TABLE agg_dirty DROP COLUMN mark;
ALTER TABLE agg_dirty ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX agg_dirty_triple ON agg_dirty (indicator_id, period, area_id);

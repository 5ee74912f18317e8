-- Dirty (indicator, period, province) triples become an append-only log: a write inserts its
-- triples, and no two writers ever touch the same row. With one row per triple, every save of a
-- province waited on PostgreSQL for the save before it to commit (all communes of a province
-- mark the same rows). The refresher deletes exactly the rows it read before rebuilding; rows
-- committed meanwhile stay for the next round. Keep in step with the other engine's file.
CREATE TABLE agg_dirty_log (
    seq          INTEGER PRIMARY KEY,
    indicator_id INTEGER NOT NULL,
    period       TEXT NOT NULL,
    area_id      INTEGER NOT NULL
);
INSERT INTO agg_dirty_log (indicator_id, period, area_id)
    SELECT indicator_id, period, area_id FROM agg_dirty ORDER BY indicator_id, period, area_id;
DROP TABLE agg_dirty;
ALTER TABLE agg_dirty_log RENAME TO agg_dirty;
CREATE INDEX agg_dirty_triple ON agg_dirty (indicator_id, period, area_id);

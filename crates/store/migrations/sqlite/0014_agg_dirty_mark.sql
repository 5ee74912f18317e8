-- Each dirty (indicator, period, province) carries the mark of the last write that made it
-- dirty (a random number per writing transaction). The refresher deletes a triple only if its
-- mark is still the one it read before rebuilding: a write that committed meanwhile leaves the
-- triple dirty. Writers no longer wait for a refresh (it used to lock the table for the whole
-- rebuild). Keep in step with the other engine's file.
ALTER TABLE agg_dirty ADD COLUMN mark INTEGER NOT NULL DEFAULT 0;

-- Pages of OGC API – Features (issue #6). Keep in step with the other engine's 0013_ogc_pages.sql.
-- A page of a units collection is read in code order straight from this index (LIMIT/OFFSET
-- over it, a key look-up of the boundary per unit): no sort of the wide rows, no count over
-- a window. Byte order ("C"), as the pages ask: codes are digits.
CREATE INDEX admin_unit_kind_code ON admin_unit (version, kind, code COLLATE "C");

-- Boundaries are stored out of line but uncompressed: a page of 1,000 communes reads 2–5 MB
-- of them, and pglz took 10–15 ms to decompress each such page (lz4 would need a server built
-- with it). Costs ~4.5 MB more on disk for the seed's 3,418 boundaries. Rows already stored
-- are rewritten so that they are read the same way.
ALTER TABLE unit_geometry ALTER COLUMN geojson SET STORAGE EXTERNAL;
UPDATE unit_geometry SET geojson = geojson || '';

-- Which boundaries are stored: a new random stamp at every change (the seed's load, an import:
-- gis.rs). Servers keep each collection's units in code order under it, so that a page needs
-- neither a count nor a sort of the collection.
INSERT INTO meta (key, value) VALUES ('geometry_stamp', md5(random()::text || clock_timestamp()::text));

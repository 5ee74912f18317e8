-- Pages of OGC API – Features (issue #6). Keep in step with the other engine's 0013_ogc_pages.sql.
-- A page of a units collection is read in code order straight from this index (LIMIT/OFFSET
-- over it, a key look-up of the boundary per unit): no sort of the wide rows, no count over
-- a window.
CREATE INDEX admin_unit_kind_code ON admin_unit (version, kind, code);

-- Which boundaries are stored: a new random stamp at every change (the seed's load, an import:
-- gis.rs). Servers keep each collection's units in code order under it, so that a page needs
-- neither a count nor a sort of the collection.
INSERT INTO meta (key, value) VALUES ('geometry_stamp', lower(hex(randomblob(16))));

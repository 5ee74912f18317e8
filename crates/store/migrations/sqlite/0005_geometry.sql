-- Geometry of units and points of villages (issue #6). Keep in step with the other engine's
-- 0005_geometry.sql. No spatial extension: filters take the bounding-box columns in SQL, then
-- the exact test in Rust (dantoc_domain::geo).

-- One boundary per unit: an RFC 7946 GeoJSON Polygon or MultiPolygon (WGS 84, exteriors
-- counter-clockwise, coordinates on a 1e-5° grid), checked and repaired when it was stored.
CREATE TABLE unit_geometry (
    unit_id      INTEGER PRIMARY KEY REFERENCES admin_unit(id) ON DELETE CASCADE,
    geojson      TEXT NOT NULL,
    minx         REAL NOT NULL,
    miny         REAL NOT NULL,
    maxx         REAL NOT NULL,
    maxy         REAL NOT NULL,
    centroid_lon REAL NOT NULL,    -- the centroid, or a point inside when it falls outside
    centroid_lat REAL NOT NULL,
    area_km2     REAL NOT NULL,    -- geodesic area on the WGS 84 ellipsoid
    vertices     INTEGER NOT NULL,
    source       TEXT NOT NULL,    -- seed file (communes_2025, …) or import:FILE
    repaired     INTEGER NOT NULL DEFAULT 0,  -- 1: invalid as given, rebuilt with MakeValid
    repair_note  TEXT NOT NULL DEFAULT '',    -- what was wrong with it
    reoriented   INTEGER NOT NULL DEFAULT 0,  -- 1: rings were re-oriented
    updated_at   TEXT NOT NULL
);
CREATE INDEX unit_geometry_bbox ON unit_geometry (minx, maxx, miny, maxy);
CREATE INDEX unit_geometry_centroid ON unit_geometry (centroid_lat, centroid_lon);

-- Where a village (thôn, bản, tổ dân phố) lies. geocoded = 1: no coordinates were given and
-- the point is its commune's centroid.
CREATE TABLE village_point (
    unit_id    INTEGER PRIMARY KEY REFERENCES admin_unit(id) ON DELETE CASCADE,
    lon        REAL NOT NULL,
    lat        REAL NOT NULL,
    geocoded   INTEGER NOT NULL DEFAULT 0,
    source     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX village_point_lat ON village_point (lat, lon);

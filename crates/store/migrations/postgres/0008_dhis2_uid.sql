-- DHIS2 UIDs of dantoc's items (issue #4), for dataValueSets with idScheme=UID. Keep in step
-- with the other engine's 0008_dhis2_uid.sql. One UID per item and one item per UID within a
-- kind. Indicators and units are held by id (a renamed indicator keeps its UID);
-- disaggregations by their canonical code (the table `disaggregation` only holds those in
-- use) and forms by their code (no foreign key: forms live in their own module).
CREATE TABLE dhis2_uid (
    kind         TEXT NOT NULL CHECK (kind IN ('indicator', 'unit', 'disaggregation', 'form')),
    uid          TEXT NOT NULL CHECK (uid ~ '^[A-Za-z][A-Za-z0-9]{10}$'),
    indicator_id BIGINT REFERENCES indicator(id) ON DELETE CASCADE,
    unit_id      BIGINT REFERENCES admin_unit(id) ON DELETE CASCADE,
    code         TEXT,
    updated_at   TEXT NOT NULL,
    updated_by   TEXT NOT NULL,
    PRIMARY KEY (kind, uid),
    UNIQUE (kind, indicator_id),
    UNIQUE (kind, unit_id),
    UNIQUE (kind, code),
    CHECK ((kind = 'indicator') = (indicator_id IS NOT NULL)),
    CHECK ((kind = 'unit') = (unit_id IS NOT NULL)),
    CHECK ((kind IN ('disaggregation', 'form')) = (code IS NOT NULL))
);

-- Reporting forms (biểu mẫu), configured by provincial officers: the definition (sections,
-- grids, deadline rule) is kept as the domain's JSON; the indicators it holds are listed in
-- form_indicator so that SQL can ask which forms hold an indicator. Keep in step with the
-- other engine's 0006_forms.sql.
CREATE TABLE form (
    id           INTEGER PRIMARY KEY,
    code         TEXT    NOT NULL UNIQUE,
    name_vi      TEXT    NOT NULL,
    name_folded  TEXT    NOT NULL,
    period_type  TEXT    NOT NULL,
    level        TEXT    NOT NULL,           -- province | district | commune
    definition   TEXT    NOT NULL,           -- JSON of dantoc_domain::form::Form
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    updated_by   TEXT    NOT NULL
);

CREATE TABLE form_indicator (
    form_id      INTEGER NOT NULL REFERENCES form(id) ON DELETE CASCADE,
    indicator_id INTEGER NOT NULL REFERENCES indicator(id),
    PRIMARY KEY (form_id, indicator_id)
);
CREATE INDEX form_indicator_indicator ON form_indicator(indicator_id);

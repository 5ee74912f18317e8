-- Approval of a reporting form for one unit and one period (issue #4): the state of the
-- workflow draft → submitted → approved → locked (or returned with a comment), who moved it
-- last and when, and every step taken (form_approval_step; each is also in audit_log with the
-- state before and after). A unit and period without a row is a draft. Values of the form's
-- indicators for the unit and period are not editable while the state is submitted, approved
-- or locked (values.rs checks it). Keep in step with the other engine's 0009_approval.sql.
CREATE TABLE form_approval (
    id            INTEGER PRIMARY KEY,
    form_id       INTEGER NOT NULL REFERENCES form(id) ON DELETE CASCADE,
    unit_id       INTEGER NOT NULL REFERENCES admin_unit(id),
    period        TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('draft', 'submitted', 'approved', 'locked', 'returned')),
    comment       TEXT,                      -- the comment of the last step (a return's reason)
    submitted_at  TEXT,                      -- the last submission
    submitted_by  TEXT,
    decided_at    TEXT,                      -- the last approve, return, lock or unlock
    decided_by    TEXT,
    updated_at    TEXT    NOT NULL,
    updated_by    TEXT    NOT NULL,
    UNIQUE (form_id, unit_id, period)
);
CREATE INDEX form_approval_unit ON form_approval(unit_id, period);
CREATE INDEX form_approval_state ON form_approval(state);

CREATE TABLE form_approval_step (
    id           INTEGER PRIMARY KEY,
    approval_id  INTEGER NOT NULL REFERENCES form_approval(id) ON DELETE CASCADE,
    step         TEXT    NOT NULL,           -- submit | approve | return | lock | unlock
    from_state   TEXT    NOT NULL,
    to_state     TEXT    NOT NULL,
    comment      TEXT,
    at           TEXT    NOT NULL,
    actor        TEXT    NOT NULL
);
CREATE INDEX form_approval_step_approval ON form_approval_step(approval_id);

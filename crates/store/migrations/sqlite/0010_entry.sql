-- Batches of cell saves from the data entry page (entry.rs): each batch carries the id the
-- browser gave it and the SHA-256 of its content, so that a batch sent again (an offline
-- queue retrying after a lost answer) is acknowledged as a duplicate and applied once. The
-- answer given the first time is kept and given again. Keep in step with the other engine's
-- 0010_entry.sql.
CREATE TABLE entry_batch (
    id           TEXT    PRIMARY KEY,        -- client-generated (crypto.randomUUID)
    hash         TEXT    NOT NULL,           -- SHA-256 hex of the canonical content
    account      TEXT    NOT NULL,           -- who sent it (audit actor name)
    form_code    TEXT    NOT NULL,
    unit_id      INTEGER NOT NULL REFERENCES admin_unit(id),
    period       TEXT    NOT NULL,
    received_at  TEXT    NOT NULL,
    saved        INTEGER NOT NULL,           -- cells written (or already as asked)
    conflicts    INTEGER NOT NULL,           -- cells changed by someone else meanwhile
    errors       INTEGER NOT NULL,           -- cells refused
    response     TEXT    NOT NULL            -- JSON answer given
);
CREATE INDEX entry_batch_unit ON entry_batch(unit_id, period);
CREATE INDEX entry_batch_received ON entry_batch(received_at);

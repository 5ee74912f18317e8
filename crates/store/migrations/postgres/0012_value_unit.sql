-- The values of a unit, whatever the indicator and period: the ethnic groups present in a unit
-- (forms::ethnic_present, for the rows of a form's ethnic grid and the submission check) read
-- them, and data_value's primary key (indicator_id, month_start, unit_id, …) cannot find them
-- without a scan of the whole table. (unit_id, disagg_id) answers that query from the index
-- alone. One index and no more: every import writes it. Keep in step with the other engine's
-- 0012_value_unit.sql, which adds month_end: a SQLite index of a WITHOUT ROWID table holds the
-- primary key's columns, a PostgreSQL index does not, so here a lookup of one value by its
-- whole key matches only the (unique) primary key fully.
CREATE INDEX data_value_unit ON data_value(unit_id, disagg_id);

-- Validation rules (issue #4): comparisons of two expressions over indicators, cell by cell
-- (mode 'same') or on totals at a unit and period (mode 'total'), and bounds on one indicator.
-- Operands are indicator codes inside the expressions (no foreign key: a rule whose operand is
-- gone is skipped, with a warning in the log, until it is mended).
CREATE TABLE validation_rule (
    id             INTEGER PRIMARY KEY,
    code           TEXT NOT NULL UNIQUE,
    name_vi        TEXT NOT NULL,
    name_en        TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    kind           TEXT NOT NULL DEFAULT 'compare' CHECK (kind IN ('compare', 'bounds')),
    left_expr      TEXT NOT NULL DEFAULT '',
    operator       TEXT NOT NULL DEFAULT '',
    right_expr     TEXT NOT NULL DEFAULT '',
    indicator_code TEXT,
    disagg_code    TEXT,
    min_value      REAL,
    max_value      REAL,
    importance     TEXT NOT NULL DEFAULT 'error' CHECK (importance IN ('error', 'warning')),
    missing        TEXT NOT NULL DEFAULT 'skip' CHECK (missing IN ('skip', 'zero')),
    mode           TEXT NOT NULL DEFAULT 'same' CHECK (mode IN ('same', 'total')),
    updated_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

-- Default rules for indicators of the reference catalogue.
INSERT INTO validation_rule (code, name_vi, name_en, description, kind, left_expr, operator, right_expr,
    indicator_code, disagg_code, min_value, max_value, importance, missing, mode, updated_by, created_at, updated_at)
VALUES
('ho-ngheo-le-ho-dtts', 'Số hộ nghèo DTTS không vượt quá số hộ DTTS',
 'Poor ethnic-minority households do not exceed ethnic-minority households',
 'Kiểm tra từng ô: cùng đơn vị, kỳ và dân tộc.',
 'compare', '#{x-ho-ngheo-dtts}', '<=', '#{x-ho-dtts}', NULL, NULL, NULL, NULL, 'error', 'skip', 'same',
 'system', '2025-07-01T00:00:00Z', '2025-07-01T00:00:00Z'),
('dan-so-dtts-le-tong', 'Dân số DTTS không vượt quá tổng dân số',
 'Ethnic-minority population does not exceed the total population',
 'So sánh tổng của đơn vị và kỳ (mọi dân tộc, giới tính, khu vực).',
 'compare', '#{0101}', '<=', '#{x-pop-total}', NULL, NULL, NULL, NULL, 'warning', 'skip', 'total',
 'system', '2025-07-01T00:00:00Z', '2025-07-01T00:00:00Z'),
('ty-le-dtts-0-100', 'Tỷ lệ người DTTS từ 0 đến 100%',
 'Ethnic-minority share between 0 and 100%', '',
 'bounds', '', '', '', 'x-dtts-share', NULL, 0, 100, 'error', 'skip', 'same',
 'system', '2025-07-01T00:00:00Z', '2025-07-01T00:00:00Z'),
('dan-so-dtts-khong-am', 'Dân số DTTS không âm', 'Ethnic-minority population is not negative', '',
 'bounds', '', '', '', '0101', NULL, 0, NULL, 'error', 'skip', 'same',
 'system', '2025-07-01T00:00:00Z', '2025-07-01T00:00:00Z'),
('tong-dan-so-khong-am', 'Tổng dân số không âm', 'Total population is not negative', '',
 'bounds', '', '', '', 'x-pop-total', NULL, 0, NULL, 'error', 'skip', 'same',
 'system', '2025-07-01T00:00:00Z', '2025-07-01T00:00:00Z');

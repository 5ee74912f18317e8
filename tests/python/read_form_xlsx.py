"""Read a form template written by dantoc (crates/report/src/form_xlsx.rs) with openpyxl and
print what the Rust tests check.

Usage: read_form_xlsx.py FILE.xlsx

Prints JSON: {"sheets": [...], "states": ["visible", "veryHidden"], "protected": true,
"cells": {"A1": {"value": ..., "locked": true}, ...} (first sheet, cells with a value or
unlocked), "validations": [{"sqref", "type", "operator", "formula1", "formula2"}],
"keys": [[...], ...] (the rows of the hidden keys sheet, as text)}.
"""

import json
import sys

import openpyxl


def text(v):
    return "" if v is None else str(v)


def main(path: str) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    cells = {}
    for row in ws.iter_rows():
        for c in row:
            locked = bool(c.protection.locked)
            if c.value is None and locked:
                continue
            cells[c.coordinate] = {"value": c.value, "locked": locked}
    validations = [
        {
            "sqref": str(dv.sqref),
            "type": dv.type,
            "operator": dv.operator,
            "formula1": dv.formula1,
            "formula2": dv.formula2,
        }
        for dv in ws.data_validations.dataValidation
    ]
    keys = []
    if len(wb.worksheets) > 1:
        for row in wb.worksheets[1].iter_rows(values_only=True):
            keys.append([text(v) for v in row])
    out = {
        "sheets": wb.sheetnames,
        "states": [s.sheet_state for s in wb.worksheets],
        "protected": bool(ws.protection.sheet),
        "cells": cells,
        "validations": validations,
        "keys": keys,
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])

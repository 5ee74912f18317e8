"""Edit a form file made by dantoc the way an officer's spreadsheet program would, with
openpyxl (a program other than dantoc), and save it.

Usage: edit_form_xlsx.py IN.xlsx OUT.xlsx EDITS.json

EDITS.json: {"values": [{"indicator": "0101", "disagg": "E02.M", "value": 12}, ...],
             "keys": [{"cell": "C8", "value": "E10.F"}, ...]}
A value is written into the data sheet at the cell the hidden keys sheet gives for the
indicator and disaggregation (null clears it); "keys" edits the hidden sheet itself (to test
that tampering is refused).

Prints JSON: {"cells": {"0101|E02.M": "B9", ...}, "keys": [[...], ...] (the hidden sheet after
saving and loading again), "states": [...]}.
"""

import json
import sys

import openpyxl


def text(v):
    return "" if v is None else str(v)


def keys_of(wb):
    ks = wb["_dantoc"]
    rows = [[text(v) for v in row] for row in ks.iter_rows(values_only=True)]
    return rows


def main(src: str, dst: str, edits_path: str) -> None:
    with open(edits_path, encoding="utf-8") as f:
        edits = json.load(f)
    wb = openpyxl.load_workbook(src)
    rows = keys_of(wb)
    sheet = rows[4][1]
    cells = {}
    for row in rows[7:]:
        if row and row[0]:
            cells[row[1] + "|" + row[2]] = row[0]
    ws = wb[sheet]
    for e in edits.get("values", []):
        ref = cells[e["indicator"] + "|" + e["disagg"]]
        ws[ref].value = e["value"]
    for e in edits.get("keys", []):
        wb["_dantoc"][e["cell"]].value = e["value"]
    wb.save(dst)
    again = openpyxl.load_workbook(dst)
    out = {
        "cells": cells,
        "keys": keys_of(again),
        "states": [s.sheet_state for s in again.worksheets],
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])

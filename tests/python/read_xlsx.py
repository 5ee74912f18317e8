"""Read an .xlsx written by dantoc-report with openpyxl and print what the Rust tests check.

Usage: read_xlsx.py FILE.xlsx

Prints JSON: {"sheets": [...], "merged": ["A1:D1", ...], "freeze_panes": "C6",
"widths": {"A": 17.0, ...}, "cells": {"A1": {"value": ..., "number_format": ...,
"bold": ..., "comment": ...}, ...}} for the first sheet, with every cell that has a value
or a comment.
"""

import json
import sys

import openpyxl


def main(path: str) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    cells = {}
    for row in ws.iter_rows():
        for c in row:
            if c.value is None and c.comment is None:
                continue
            cells[c.coordinate] = {
                "value": c.value,
                "number_format": c.number_format,
                "bold": bool(c.font and c.font.b),
                "comment": c.comment.text if c.comment else None,
            }
    out = {
        "sheets": wb.sheetnames,
        "merged": [str(r) for r in ws.merged_cells.ranges],
        "freeze_panes": ws.freeze_panes,
        "widths": {k: d.width for k, d in ws.column_dimensions.items()},
        "cells": cells,
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])

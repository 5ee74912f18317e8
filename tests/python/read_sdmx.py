"""Read an SDMX-CSV 2.0 data message written by dantoc-report with pysdmx, without a data
structure, and print what the Rust tests check.

Usage: read_sdmx.py FILE.csv

pysdmx's format detection cannot tell SDMX-CSV 2.0 from 2.1 (their headers are the same) and
takes 2.1, so its SDMX-CSV 2.0 reader is called directly.

Prints JSON: {"datasets": [{"structure": "Dataflow=AGENCY:ID(VERSION)",
"action": "Information", "columns": [...], "rows": [{"COLUMN": "value", ...}, ...]}]}.
Every value is the string pysdmx holds (it reads through pandas, so "02" becomes "2").
"""

import json
import sys
from pathlib import Path

from pysdmx.io.csv.sdmx20.reader import read as read_sdmx_csv_20


def main(path: str) -> None:
    text = Path(path).read_text(encoding="utf-8")
    datasets = []
    for ds in read_sdmx_csv_20(text):
        df = ds.data
        rows = [
            {col: (None if str(v) == "NaN" else str(v)) for col, v in rec.items()}
            for rec in df.to_dict(orient="records")
        ]
        datasets.append(
            {
                "structure": ds.short_urn,
                "action": ds.action.value,
                "columns": [str(c) for c in df.columns],
                "rows": rows,
            }
        )
    json.dump({"datasets": datasets}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])

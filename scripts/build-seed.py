#!/usr/bin/env python3
"""Convert the reference data in ../shared/data into dantoc's own seed files.

Run once by a developer when the reference data changes:

    python3 scripts/build-seed.py ../shared/data crates/store/seed

The product never reads ../shared at run time: the files written here are committed
and compiled into the binary (crates/store/src/seed.rs). Standard library only.
"""
import csv
import gzip
import io
import sys
import unicodedata
from pathlib import Path


def nfc(s):
    return unicodedata.normalize("NFC", s.strip())


def write_gz(path, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    # mtime=0 keeps the output byte-for-byte reproducible
    with open(path, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9) as gz:
            gz.write(buf.getvalue().encode("utf-8"))


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def units(src, out, name):
    rows = []
    for r in csv.DictReader(open(src / f"admin_units_{name}.csv", encoding="utf-8")):
        rows.append([r["code"], nfc(r["name"]), nfc(r["full_name"]), r["level"],
                     r["parent_code"], r["type"], nfc(r["alt_names"])])
    write_gz(out / f"units_{name}.csv.gz",
             ["code", "name", "full_name", "level", "parent_code", "type", "alt_names"], rows)
    return len(rows)


def lineage(src, out):
    rows = []
    for r in csv.DictReader(open(src / "admin_units_lineage.csv", encoding="utf-8")):
        rows.append([r["old_code"], r["old_level"], r["new_code"], r["portion"],
                     r["portion_detail"], r["old_n_targets"], nfc(r["note_vi"])])
    write_gz(out / "lineage.csv.gz",
             ["old_code", "old_level", "new_code", "portion", "portion_detail",
              "old_n_targets", "note_vi"], rows)
    return len(rows)


def ethnic(src, out):
    rows = []
    for r in csv.DictReader(open(src / "ethnic_groups.csv", encoding="utf-8")):
        rows.append([r["code"], r["code_2008"], nfc(r["name"]), nfc(r["other_names"]),
                     r["population_2019"]])
    write_csv(out / "ethnic_groups.csv",
              ["code_1979", "code_2008", "name", "other_names", "population_2019"], rows)
    return len(rows)


def main():
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "crates/store/seed")
    out.mkdir(parents=True, exist_ok=True)
    print("units_2024", units(src, out, "2024"))
    print("units_2025", units(src, out, "2025"))
    print("lineage", lineage(src, out))
    print("ethnic_groups", ethnic(src, out))
    # indicators.csv is curated by hand from indicators_draft.csv (see its `source` column).


if __name__ == "__main__":
    main()

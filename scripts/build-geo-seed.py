#!/usr/bin/env python3
"""Convert the boundaries in ../shared/data/boundaries into dantoc's geometry seed files.

Run once by a developer when the boundaries change:

    python3 scripts/build-geo-seed.py ../shared/data crates/store/seed

Writes three gzipped files, one line per unit: `code<TAB>source<TAB>geometry`, where the
geometry is an RFC 7946 GeoJSON Polygon or MultiPolygon written compactly with coordinates
rounded to 1e-5 degrees (about 1 m):

    geo_provinces_2025.tsv.gz   34 provinces since 1 July 2025
    geo_communes_2025.tsv.gz    3,321 communes since 1 July 2025; the three demo provinces
                                (22 Quảng Ninh, 04 Cao Bằng, 19 Thái Nguyên) from their finer
                                per-province files, every other commune from the national layer
    geo_provinces_2024.tsv.gz   63 provinces before 1 July 2025

The product never reads ../shared at run time: these files are committed and compiled into
the binary (crates/store/src/gis.rs), which checks, repairs and stores them in the database
on first start. Standard library only; the output is byte-for-byte reproducible.
"""
import gzip
import json
import sys
from pathlib import Path

# the finer per-province files replace the national layer's communes of these provinces
FINER = {
    "22": "communes_2025_22_quang_ninh",
    "04": "communes_2025_04_cao_bang",
    "19": "communes_2025_19_thai_nguyen",
}


def rounded(coords):
    if isinstance(coords[0], (int, float)):
        return [round(coords[0], 5), round(coords[1], 5)]
    return [rounded(c) for c in coords]


def line(code, source, geometry):
    if geometry["type"] not in ("Polygon", "MultiPolygon"):
        raise SystemExit(f"{source} {code}: {geometry['type']} is not a polygon")
    g = {"type": geometry["type"], "coordinates": rounded(geometry["coordinates"])}
    return f"{code}\t{source}\t{json.dumps(g, separators=(',', ':'))}\n"


def layer(src, name):
    with open(src / "boundaries" / f"{name}.geojson", encoding="utf-8") as f:
        return json.load(f)["features"]


def write(path, lines):
    body = "code\tsource\tgeometry\n" + "".join(lines)
    # mtime=0 keeps the output byte-for-byte reproducible
    with open(path, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9) as gz:
            gz.write(body.encode("utf-8"))
    return len(lines)


def main():
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "crates/store/seed")
    for name, version in (("provinces_2025", "2025"), ("provinces_2024", "2024")):
        lines = [line(f["properties"]["code"], name, f["geometry"]) for f in layer(src, name)]
        lines.sort()
        print(f"geo_{name}", write(out / f"geo_{name}.tsv.gz", lines))
    lines = {}
    for f in layer(src, "communes_2025"):
        p = f["properties"]
        if p["province_code"] not in FINER:
            lines[p["code"]] = line(p["code"], "communes_2025", f["geometry"])
    for province, name in FINER.items():
        for f in layer(src, name):
            p = f["properties"]
            assert p["province_code"] == province, (name, p["code"])
            lines[p["code"]] = line(p["code"], name, f["geometry"])
    print("geo_communes_2025", write(out / "geo_communes_2025.tsv.gz",
                                     [lines[c] for c in sorted(lines)]))


if __name__ == "__main__":
    main()

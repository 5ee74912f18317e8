#!/usr/bin/env python3
"""DuckDB side of `dantoc-bench analytics` (issue #5).

Loads the facts the benchmark generated (facts.csv: ind,commune,year,eth,sex,value; units.csv:
commune,province; inds.csv: code,rule,weight,num,den) into a DuckDB database file, then runs the
three questions the benchmark asks dantoc, by the same rules (sum; average of the stored values;
average weighted by the weight indicator's value of the same commune, year, ethnic group and sex;
a derived ratio num / den * 100 of the aggregated operands):

  q1  one indicator by province x year x ethnic group
  q2  ten indicators for every commune of one province, one year (totals over ethnic group x sex)
  q3  national totals of every indicator for one year, by DTTS (every group but Kinh, 01) / Kinh

Each query: 3 warm-up runs, then --runs timed runs (execute + fetchall). Writes --out as TSV
(version, load, size, timing, and every cell of the last run) for the benchmark, and prints a
JSON summary. Run by the benchmark with the venv's Python (target/bench-venv).
"""

import argparse
import json
import math
import os
import sys
import time

import duckdb


def pct(ms, q):
    s = sorted(ms)
    return s[min(max(math.ceil(len(s) * q), 1), len(s)) - 1]


RULE = """CASE i.rule WHEN 'sum' THEN a.s WHEN 'average' THEN a.s / a.n
                 WHEN 'weighted_average' THEN CASE WHEN a.wd <> 0 THEN a.ws / a.wd END END"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--q1-indicator", required=True)
    ap.add_argument("--first-year", type=int, required=True)
    ap.add_argument("--last-year", type=int, required=True)
    ap.add_argument("--q2-province", required=True)
    ap.add_argument("--q2-indicators", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    path = os.path.join(a.dir, "duckdb.db")
    for f in (path, path + ".wal"):
        if os.path.exists(f):
            os.remove(f)
    con = duckdb.connect(path)
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    t = time.perf_counter()
    con.execute(
        "CREATE TABLE facts AS SELECT * FROM read_csv(?, header = true, columns = "
        "{'ind': 'VARCHAR', 'commune': 'VARCHAR', 'year': 'INTEGER', 'eth': 'VARCHAR', "
        "'sex': 'VARCHAR', 'value': 'DOUBLE'})",
        [os.path.join(a.dir, "facts.csv")],
    )
    con.execute(
        "CREATE TABLE units AS SELECT * FROM read_csv(?, header = true, columns = "
        "{'commune': 'VARCHAR', 'province': 'VARCHAR'})",
        [os.path.join(a.dir, "units.csv")],
    )
    con.execute(
        "CREATE TABLE inds AS SELECT * FROM read_csv(?, header = true, columns = "
        "{'code': 'VARCHAR', 'rule': 'VARCHAR', 'weight': 'VARCHAR', 'num': 'VARCHAR', "
        "'den': 'VARCHAR'})",
        [os.path.join(a.dir, "inds.csv")],
    )
    con.execute("CHECKPOINT")
    load_s = time.perf_counter() - t
    rows = con.execute("SELECT count(*) FROM facts").fetchone()[0]
    size = os.path.getsize(path)
    print(
        f"    DuckDB {duckdb.__version__} ({threads} threads): {rows} rows loaded in {load_s:.1f} s, "
        f"{size / 1e9:.2f} GB",
        file=sys.stderr,
    )

    rule = con.execute("SELECT rule FROM inds WHERE code = ?", [a.q1_indicator]).fetchone()
    if rule is None or rule[0] != "sum":
        sys.exit(f"q1 expects a sum indicator, {a.q1_indicator} is {rule}")
    q2_inds = a.q2_indicators.split(",")
    # the asked indicators and those they need: weights and the operands of derived ones
    need = set(q2_inds)
    for code, weight, num, den in con.execute("SELECT code, weight, num, den FROM inds").fetchall():
        if code in q2_inds:
            need.update(x for x in (weight, num, den) if x)

    def in_list(items):
        return ", ".join("'" + i.replace("'", "''") + "'" for i in sorted(items))

    queries = {
        "q1": (
            f"""SELECT f.ind, u.province, CAST(f.year AS VARCHAR), f.eth, SUM(f.value)
                FROM facts f JOIN units u ON u.commune = f.commune
                WHERE f.ind = $ind AND f.year BETWEEN $y0 AND $y1
                GROUP BY ALL""",
            {"ind": a.q1_indicator, "y0": a.first_year, "y1": a.last_year},
        ),
        "q2": (
            f"""WITH f AS (
                    SELECT f.ind, f.commune, f.eth, f.sex, f.value
                    FROM facts f JOIN units u ON u.commune = f.commune
                    WHERE u.province = $prov AND f.year = $year AND f.ind IN ({in_list(need)})),
                w AS (SELECT * FROM f WHERE ind IN (SELECT weight FROM inds WHERE weight IS NOT NULL)),
                a AS (
                    SELECT f.ind, f.commune, SUM(f.value) s, COUNT(*) n,
                           SUM(f.value * w.value) ws, SUM(w.value) wd
                    FROM f JOIN inds i ON i.code = f.ind
                    LEFT JOIN w ON w.ind = i.weight AND w.commune = f.commune
                               AND w.eth = f.eth AND w.sex = f.sex
                    GROUP BY ALL)
                SELECT a.ind, a.commune, CAST($year AS VARCHAR), '', {RULE}
                FROM a JOIN inds i ON i.code = a.ind WHERE a.ind IN ({in_list(q2_inds)})
                UNION ALL
                SELECT d.code, x.commune, CAST($year AS VARCHAR), '', x.s / y.s * 100
                FROM inds d JOIN a x ON x.ind = d.num JOIN a y ON y.ind = d.den AND y.commune = x.commune
                WHERE d.rule = 'none' AND d.code IN ({in_list(q2_inds)}) AND y.s <> 0""",
            {"prov": a.q2_province, "year": a.last_year},
        ),
        "q3": (
            f"""WITH f AS (
                    SELECT ind, commune, eth, sex, value,
                           CASE WHEN eth = '01' THEN 'KINH' ELSE 'DTTS' END AS grp
                    FROM facts WHERE year = $year),
                w AS (SELECT * FROM f WHERE ind IN (SELECT weight FROM inds WHERE weight IS NOT NULL)),
                a AS (
                    SELECT f.ind, f.grp, SUM(f.value) s, COUNT(*) n,
                           SUM(f.value * w.value) ws, SUM(w.value) wd
                    FROM f JOIN inds i ON i.code = f.ind
                    LEFT JOIN w ON w.ind = i.weight AND w.commune = f.commune
                               AND w.eth = f.eth AND w.sex = f.sex
                    GROUP BY ALL)
                SELECT a.ind, 'VN', CAST($year AS VARCHAR), a.grp, {RULE}
                FROM a JOIN inds i ON i.code = a.ind
                UNION ALL
                SELECT d.code, 'VN', CAST($year AS VARCHAR), x.grp, x.s / y.s * 100
                FROM inds d JOIN a x ON x.ind = d.num JOIN a y ON y.ind = d.den AND y.grp = x.grp
                WHERE d.rule = 'none' AND y.s <> 0""",
            {"year": a.last_year},
        ),
    }

    summary = {"duckdb": duckdb.__version__, "threads": threads, "rows": rows,
               "load_s": load_s, "size_bytes": size, "queries": {}}
    with open(a.out, "w") as out:
        out.write(f"version\t{duckdb.__version__}\n")
        out.write(f"load\t{load_s}\n")
        out.write(f"size\t{size}\n")
        for name, (sql, params) in queries.items():
            for _ in range(3):
                con.execute(sql, params).fetchall()
            ms = []
            res = None
            for _ in range(a.runs):
                t = time.perf_counter()
                res = con.execute(sql, params).fetchall()
                ms.append((time.perf_counter() - t) * 1e3)
            p50, p95, mx = pct(ms, 0.5), pct(ms, 0.95), max(ms)
            out.write(f"timing\t{name}\t{p50}\t{p95}\t{mx}\t{len(ms)}\n")
            for r in res:
                if r[4] is not None:
                    out.write(f"cell\t{name}\t{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]!r}\n")
            summary["queries"][name] = {"p50_ms": p50, "p95_ms": p95, "max_ms": mx,
                                        "runs": len(ms), "cells": len(res)}
            print(f"    {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {mx:.1f} ms "
                  f"({len(ms)} runs, {len(res)} cells)", file=sys.stderr)
    con.close()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

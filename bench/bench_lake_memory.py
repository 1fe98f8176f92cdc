"""Driver memory of vista.lake writes and reads, against the naive collect-to-driver way.

Each (size, method) runs in a fresh Python process so its peak RSS is its own. The JVM's
memory is not measured: the point is that the Python driver stays flat with table size.

    python bench/bench_lake_memory.py [--rows 20000,20000000] [--margin-mb 64]

Exits 1 when vista's driver peak RSS grows more than ``--margin-mb`` between the
smallest and the largest size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

DEFAULT_ROWS = "20000,2000000,20000000"
BASELINE_MAX_ROWS = 2_000_000  # the naive way holds the whole table in the driver


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _frame(spark, rows: int):
    from pyspark.sql import functions as F

    return spark.range(rows).select(
        F.col("id"),
        (F.col("id") % 1000).cast("int").alias("store"),
        F.concat(F.lit("c-"), F.col("id").cast("string")).alias("customer"),
        (F.col("id") * 0.37).alias("amount"),
        F.date_add(F.lit("2024-01-01").cast("date"), (F.col("id") % 365).cast("int")).alias("day"),
    )


def _child(method: str, rows: int, workdir: str) -> dict:
    from pyspark.sql import functions as F

    from vista.config.models import SparkConfig
    from vista.spark import build_session

    spark = build_session(SparkConfig(
        app_name="bench-lake", master="local[2]", driver_memory="3g", shuffle_partitions=4,
        checkpoint_dir=os.path.join(workdir, "ck")))
    path = os.path.join(workdir, "table")
    start_rss = _peak_rss_mb()
    t0 = time.perf_counter()
    if method == "vista":
        from vista.lake import Lake

        lake = Lake(spark, workdir, engine="auto")
        engine = lake.engine_name
        written = lake.overwrite("table", _frame(spark, rows)).rows_written
        back = lake.read("table").agg(F.count("*").alias("n"), F.sum("id").alias("s")).first()
    else:
        from deltalake import DeltaTable, write_deltalake

        engine = "naive toArrow+write_deltalake"
        write_deltalake(path, _frame(spark, rows).toArrow())
        table = DeltaTable(path).to_pyarrow_table()
        written = table.num_rows
        back = {"n": table.num_rows, "s": int(table.column("id").to_numpy().sum())}
    seconds = time.perf_counter() - t0
    ok = written == rows and back["n"] == rows and back["s"] == rows * (rows - 1) // 2
    spark.stop()
    return {"rows": rows, "method": method, "engine": engine, "seconds": round(seconds, 1),
            "peak_rss_mb": round(_peak_rss_mb(), 1), "rss_before_mb": round(start_rss, 1),
            "correct": ok}


def _run(method: str, rows: int) -> dict:
    workdir = tempfile.mkdtemp(prefix="vista-bench-lake-")
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", method, "--rows", str(rows),
             "--workdir", workdir],
            capture_output=True, text=True, check=False)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode != 0 or not lines:
            tail = (out.stderr or "").strip().splitlines()[-3:]
            return {"rows": rows, "method": method, "engine": "-", "seconds": None,
                    "peak_rss_mb": None, "correct": False, "error": " | ".join(tail)}
        return json.loads(lines[-1])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=DEFAULT_ROWS, help="comma-separated table sizes")
    parser.add_argument("--margin-mb", type=float, default=64.0,
                        help="allowed growth of vista's driver peak RSS, smallest->largest")
    parser.add_argument("--baseline-max-rows", type=int, default=BASELINE_MAX_ROWS)
    parser.add_argument("--child", choices=["vista", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if args.child:
        print(json.dumps(_child(args.child, int(args.rows), args.workdir)), flush=True)
        return 0
    sizes = sorted(int(r) for r in args.rows.split(","))
    results = []
    for rows in sizes:
        results.append(_run("vista", rows))
        if rows <= args.baseline_max_rows:
            results.append(_run("naive", rows))
    print(f"{'rows':>12} {'method':<7} {'engine':<32} {'seconds':>8} {'driver peak RSS MB':>19}"
          f" {'correct':>8}")
    for r in results:
        print(f"{r['rows']:>12,} {r['method']:<7} {r['engine']:<32} {r['seconds']!s:>8} "
              f"{r['peak_rss_mb']!s:>19} {r['correct']!s:>8}" + (
                  f"  error: {r['error']}" if r.get("error") else ""))
    vista = [r for r in results if r["method"] == "vista"]
    if any(not r["correct"] for r in vista):
        print("FAIL: a vista run failed or read back the wrong rows")
        return 1
    growth = vista[-1]["peak_rss_mb"] - vista[0]["peak_rss_mb"]
    print(f"vista driver peak RSS growth {vista[0]['rows']:,} -> {vista[-1]['rows']:,} rows: "
          f"{growth:+.1f} MB (margin {args.margin_mb:.0f} MB); naive runs above "
          f"{args.baseline_max_rows:,} rows skipped (whole table in driver memory)")
    if growth > args.margin_mb:
        print("FAIL: driver memory grows with table size")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Vacuum on the delta-spark engine: vista's Lake.vacuum against Delta's plain VACUUM.

Builds 2 x N tiny tables (three small appends, then an overwrite: three replaced files
each), then vacuums each half twice:

* baseline: ``DeltaTable.vacuum`` as vista ran it before (retention check and vacuum
  logging off, Spark's own listing parallelism);
* vista: ``Lake.vacuum``, which skips VACUUM when a delta-rs dry run of the log finds
  nothing past the retention, and lists with one task per core when it runs.

First with ``--retention-hours`` (168: the replaced files are minutes old, nothing to
delete), then with 0 (the three replaced files go).

    python bench/bench_maintenance.py [--tables 2] [--max-ratio 0.2]

Needs Delta's JARs (fetched into .vista/ivy as the tests do). Prints seconds per table
for each step and the ratio. Exits 1 when vista's nothing-to-delete vacuum takes more
than ``--max-ratio`` x the baseline's, or when the two leave different files behind.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=2)
    parser.add_argument("--retention-hours", type=int, default=168)
    parser.add_argument("--max-ratio", type=float, default=0.2)
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    args = parser.parse_args()

    from pyspark.sql import types as T

    from vista.config.models import SparkConfig
    from vista.lake import Lake
    from vista.spark import build_session

    scratch = Path(tempfile.mkdtemp(prefix="vista-bench-maintenance-"))
    spark = build_session(SparkConfig(
        app_name="bench-maintenance", master="local[2]", driver_memory=args.driver_memory,
        shuffle_partitions=args.shuffle_partitions, checkpoint_dir=str(scratch / "ck"),
        delta=True, ivy_dir=str(REPO / ".vista" / "ivy"),
        conf={"spark.sql.warehouse.dir": str(scratch / "wh")}))
    lake = Lake(spark, str(scratch / "lake"), engine="delta-spark")
    schema = T.StructType([T.StructField("id", T.LongType())])
    names = {side: [f"{side}{i}" for i in range(args.tables)] for side in ("base", "vista")}
    for table in names["base"] + names["vista"]:
        for j in range(3):
            lake.append(table, spark.createDataFrame([(j,)], schema).coalesce(1))
        lake.overwrite(table, spark.createDataFrame([(9,)], schema).coalesce(1))

    def baseline(table: str, hours: int) -> None:
        from delta.tables import DeltaTable

        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
        spark.conf.set("spark.databricks.delta.vacuum.logging.enabled", "false")
        DeltaTable.forPath(spark, lake.path(table)).vacuum(float(hours))

    def per_table(fn, tables: list[str], hours: int) -> float:
        start = time.perf_counter()
        for table in tables:
            fn(table, hours)
        return (time.perf_counter() - start) / len(tables)

    failed = False
    for hours in (args.retention_hours, 0):
        base = per_table(baseline, names["base"], hours)
        ours = per_table(lambda t, h: lake.vacuum(t, h), names["vista"], hours)
        left = {side: [sorted(p.name for p in Path(lake.path(t)).glob("*.parquet"))
                       for t in tables] for side, tables in names.items()}
        same = [len(x) for x in left["base"]] == [len(x) for x in left["vista"]]
        print(f"vacuum {hours:>4} h: baseline {base:7.2f} s/table, vista {ours:7.2f} s/table, "
              f"ratio {ours / base:.3f}; parquet files left per table: "
              f"{[len(x) for x in left['vista']]}{'' if same else ' (baseline differs!)'}")
        failed |= not same or (hours == args.retention_hours and ours > args.max_ratio * base)
    spark.stop()
    print("FAILED" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

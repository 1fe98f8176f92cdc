"""Prepare a lake for ``bench_profile.py`` at 10k or 100k customers within a session.

The profile stage reads the silver tables, the identity graph, the UID registry and the
device table. Producing those by running identity at 10k customers takes about half an
hour here (longer at 100k), which is not what the profile benchmark measures. So:

1. the sample lake is generated (``vista.sample``), unless ``WORKDIR/sample`` exists;
2. **ingest runs for real** (``vista run --stages ingest``): the silver tables and the
   person records are vista's own; its seconds per step (the manifest's
   ``step_seconds``) and its Spark job count are printed;
3. **identity does not run**: ``silver/identity_graph`` and ``silver/uid_registry`` are
   written from the generator's ground truth (``ground_truth/record_person.parquet``:
   every person record of one true person gets one UID; a record the truth does not
   know gets a UID of its own), and ``silver/identity_devices`` is derived from that
   graph by identity's rule: a device id seen on events together with an id that leads
   to exactly one UID (as the identity stage does from its own graph).

The profile stage and DuckDB then read the same graph, so the comparison is fair; the
card's figures are those of a perfect identity resolution, not of vista's.

Usage:
    nice -n 10 .venv/bin/python bench/prepare_profile_lake.py --customers 10000 \
        --workdir WORKDIR
    nice -n 10 .venv/bin/python bench/bench_profile.py --conf WORKDIR/bench.yaml

Not part of pytest. Writes only under ``--workdir`` (keep it out of the repository).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRUTH_RUN = "ground-truth"  # the run id stamped on the tables written from the truth


def write_conf(workdir: Path) -> Path:
    """``WORKDIR/bench.yaml``: the local profile with every path under ``workdir``."""
    conf = workdir / "bench.yaml"
    conf.write_text(
        f"include:\n  - {REPO / 'conf' / 'local.yaml'}\n"
        f"spark: {{checkpoint_dir: {workdir / 'checkpoints'}}}\n"
        f"lake: {{root: {workdir / 'lake'}}}\n"
        f"mlflow: {{tracking_uri: 'sqlite:///{workdir / 'mlflow.db'}', "
        f"artifact_location: {workdir / 'mlruns'}}}\n"
        f"ingest: {{inputs_root: {workdir / 'sample'}}}\n", encoding="utf-8")
    return conf


def truth_identity(spark, lake, truth_path: str, device_kinds: dict[str, str]):  # noqa: ANN001, ANN201
    """``(graph, registry, devices)`` from the ground truth (lazy frames)."""
    from pyspark.sql import functions as F

    from vista.profile.attribution import id_uids

    truth = (spark.read.parquet(truth_path)
             .select(F.concat_ws(":", "source", "source_record_id").alias("record_key"),
                     "person_id").dropDuplicates(["record_key"]))
    records = lake.read("silver/person_records")
    graph = (records.select("record_key")
             .join(truth, on="record_key", how="left")
             .select("record_key",
                     F.concat(F.lit("T-"), F.coalesce("person_id", F.concat(
                         F.lit("r-"), F.sha2("record_key", 256).substr(1, 16)))).alias("uid"),
                     F.lit(TRUTH_RUN).alias("run_id")))
    registry = graph.select("uid").distinct().select(
        "uid", F.lit("active").alias("status"), F.lit(TRUTH_RUN).alias("created_run"),
        F.lit(1).cast("long").alias("created_seq"), F.lit(None).cast("string").alias("merged_into"),
        F.lit(None).cast("string").alias("split_from"), F.lit(TRUTH_RUN).alias("updated_run"))
    # identity's rule: a device seen on events with an id that leads to exactly one UID
    ids = id_uids(records, graph)
    events = lake.read("silver/interactions").select(
        "event_key", F.explode("ids").alias("kind", "value")).where(F.col("value").isNotNull())
    prefix = F.element_at(F.create_map(*[F.lit(x) for kv in device_kinds.items() for x in kv]),
                          F.col("kind"))
    dev = (events.where(F.col("kind").isin(list(device_kinds)))
           .select("event_key", F.concat(prefix, F.lit(":"), F.trim("value")).alias("device_key")))
    owners = (events.where(~F.col("kind").isin(list(device_kinds)))
              .select("event_key", "kind", F.trim("value").alias("value"))
              .join(ids, on=["kind", "value"], how="inner").select("event_key", "uid"))
    devices = (dev.join(owners, on="event_key", how="inner")
               .groupBy("device_key").agg(F.countDistinct("uid").alias("n"),
                                          F.min("uid").alias("uid"))
               .where("n = 1")
               .select("device_key", "uid", F.lit("ground_truth").alias("link_kind"),
                       F.lit(TRUTH_RUN).alias("run_id")))
    return graph, registry, devices


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--driver-memory", default="4g")
    p.add_argument("--no-gates", action="store_true",
                   help="ingest without its quality gates (ingest's own option; ~15 %% of "
                        "its time at 10k)")
    args = p.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ["VISTA__SPARK__DRIVER_MEMORY"] = args.driver_memory
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "sample" / "ground_truth").exists():
        from vista.sample import generate_sample_lake

        t0 = time.perf_counter()
        generate_sample_lake(workdir / "sample", customers=args.customers, seed=args.seed)
        print(f"sample lake of {args.customers:,} customers: {time.perf_counter() - t0:.0f} s")
    conf = write_conf(workdir)
    from vista.cli import setup_logging
    from vista.config import load_config
    from vista.lake import Lake
    from vista.pipeline import run_pipeline
    from vista.spark import build_session

    setup_logging()
    cfg = load_config(str(conf))
    spark = build_session(cfg.spark)
    lake = Lake.from_config(spark, cfg.lake)
    if not lake.exists("silver/person_records"):
        tracker = spark.sparkContext.statusTracker()
        jobs0 = len(tracker.getJobIdsForGroup(None))
        t0 = time.perf_counter()
        manifest = run_pipeline(cfg, spark, stages=["ingest"], config_file=str(conf),
                                options={"quality": not args.no_gates})
        wall = time.perf_counter() - t0
        stage = next(s for s in manifest.stages if s.name == "ingest")
        steps = stage.metrics.get("step_seconds", {})
        print(f"\ningest of {args.customers:,} customers"
              f"{' without quality gates' if args.no_gates else ''}: {stage.duration_s:.0f} s in the "
              f"stage, {wall:.0f} s with housekeeping, "
              f"{len(tracker.getJobIdsForGroup(None)) - jobs0} Spark jobs; load average "
              f"{os.getloadavg()[0]:.1f}")
        for name, secs in sorted(steps.items(), key=lambda kv: -kv[1])[:15]:
            print(f"  {name:<40} {secs:>8.1f} s")
    t0 = time.perf_counter()
    device_kinds = dict(cfg.identity.linking.devices.device_id_kinds)
    graph, registry, devices = truth_identity(
        spark, lake, str(workdir / "sample" / "ground_truth" / "record_person.parquet"),
        device_kinds)
    lake.overwrite("silver/identity_graph", graph)
    lake.overwrite("silver/uid_registry", registry)
    lake.overwrite("silver/identity_devices", devices)
    counts = {t: lake.read(t).count() for t in
              ("silver/identity_graph", "silver/uid_registry", "silver/identity_devices")}
    print(f"identity tables from the ground truth ({time.perf_counter() - t0:.0f} s): "
          + ", ".join(f"{t} {n:,} rows" for t, n in counts.items()))
    print(f"now: nice -n 10 .venv/bin/python bench/bench_profile.py --conf {conf}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

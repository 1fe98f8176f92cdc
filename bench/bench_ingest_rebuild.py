"""A configuration change to one source: rebuild that source alone vs rebuild everything.

When a source's mapping or checks change, the ingest stage replays that source's
quarantine and rebuilds that source's silver rows from bronze (per-source rebuild). The
baseline is what a change cost before: ``--full``, which replays every quarantine and
rebuilds every silver table and the history. Both run side by side, in one Spark
session, on two copies of one prepared lake (a folder with ``bench.yaml`` and ``lake/``,
as ``vista demo`` or the benchmark lakes leave it; it is copied, never written):

1. each copy gets a ``--full`` ingest run first (untimed: both copies start from the
   same settled state whatever code built the lake, the fingerprints are recorded, the
   JVM is warm);
2. the chosen source gets a rule that rejects nothing (its fingerprint changes, its rows
   do not);
3. copy A: a plain run (per-source rebuild); copy B: ``--full``. The ingest stage's
   seconds come from each run manifest;
4. the silver tables of both copies are compared (same rows), and the ratio A / B is
   checked against ``--target``.

Usage:
    .venv/bin/python bench/bench_ingest_rebuild.py --lake DIR [--source NAME] [--target 0.5]

``--source`` defaults to the enabled source with the fewest bronze rows. Exits 1 when the
ratio misses the target or the two copies' silver differs. Not part of pytest; the load
average is printed with the result (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

SILVER = ["silver/person_records", "silver/person_records_history", "silver/orders",
          "silver/order_lines", "silver/interactions"]


def _copy(lake_dir: Path, into: Path) -> Path:
    """A copy of the prepared lake with a config that points at the copy."""
    shutil.copytree(lake_dir / "lake", into / "lake")
    conf = yaml.safe_load((lake_dir / "bench.yaml").read_text(encoding="utf-8"))
    conf["lake"] = {**conf.get("lake", {}), "root": str(into / "lake")}
    conf["spark"] = {**conf.get("spark", {}), "checkpoint_dir": str(into / "checkpoints"),
                     "driver_memory": "3g"}
    conf["mlflow"] = {**conf.get("mlflow", {}), "tracking_uri": f"sqlite:///{into / 'mlflow.db'}",
                      "artifact_location": str(into / "mlruns")}
    path = into / "bench.yaml"
    path.write_text(yaml.safe_dump(conf), encoding="utf-8")
    return path


def _changed(cfg, source: str):
    """``cfg`` with a rule that rejects nothing added to ``source`` (new fingerprint)."""
    from vista.ingest.config import RowRule

    sources = [s.model_copy(update={"rules": [*s.rules, RowRule(
        reason="bench_noop", reject_if="false")]}) if s.name == source else s
        for s in cfg.ingest.sources]
    return cfg.model_copy(update={"ingest": cfg.ingest.model_copy(update={"sources": sources})})


def _smallest_source(spark, cfg) -> str:
    from vista.lake import Lake

    lake = Lake.from_config(spark, cfg.lake)
    sizes = {s.name: lake.read(f"bronze/{s.name}").count() for s in cfg.ingest.sources
             if s.enabled and lake.exists(f"bronze/{s.name}")}
    return min(sizes, key=sizes.get)


def _ingest_seconds(cfg, spark, conf: Path, **options) -> tuple[float, dict]:
    from vista.pipeline import run_pipeline

    manifest = run_pipeline(cfg, spark, stages=["ingest"], options=options,
                            config_file=str(conf))
    (stage,) = [s for s in manifest.stages if s.name == "ingest"]
    return stage.duration_s, stage.metrics


def _differences(spark, cfg_a, cfg_b) -> dict[str, int]:
    """Rows in one copy's silver table and not in the other's, per table."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from vista.lake import Lake

    def comparable(df):  # set operations refuse maps: compare them as sorted JSON
        return df.select(*[F.to_json(F.array_sort(F.map_entries(f.name))).alias(f.name)
                           if isinstance(f.dataType, T.MapType) else F.col(f.name)
                           for f in df.schema.fields if f.name != "batch_id"])

    a, b = Lake.from_config(spark, cfg_a.lake), Lake.from_config(spark, cfg_b.lake)
    out = {}
    for table in SILVER:
        if not a.exists(table):
            continue
        left = comparable(a.read(table))
        right = comparable(b.read(table)).select(*left.columns)
        out[table] = left.exceptAll(right).count() + right.exceptAll(left).count()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, type=Path, help="prepared lake folder")
    parser.add_argument("--source", help="the source whose config changes")
    parser.add_argument("--target", type=float, default=0.5,
                        help="per-source seconds / --full seconds must be at most this")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temp dir)")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    from vista.config import load_config
    from vista.spark import build_session

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_rebuild_"))
    conf_a, conf_b = _copy(args.lake, work / "per_source"), _copy(args.lake, work / "full")
    cfg_a, cfg_b = load_config(conf_a), load_config(conf_b)
    spark = build_session(cfg_a.spark)
    source = args.source or _smallest_source(spark, cfg_a)
    for cfg, conf in ((cfg_a, conf_a), (cfg_b, conf_b)):
        _ingest_seconds(cfg, spark, conf, full=True)  # settles both copies alike
    started = time.time()
    per_source, metrics_a = _ingest_seconds(_changed(cfg_a, source), spark, conf_a)
    full, metrics_b = _ingest_seconds(_changed(cfg_b, source), spark, conf_b, full=True)
    load = os.getloadavg()
    ratio = per_source / full
    print(f"\nchanged source: {source}; lake: {args.lake.name}; wall {time.time() - started:.0f} s")
    print(f"{'variant':<28} {'ingest s':>9} {'rebuilt sources':>16} {'replayed':>9}")
    print(f"{'per-source rebuild (plain)':<28} {per_source:>9.1f} "
          f"{len(metrics_a.get('rebuilt_sources', [])):>16} {metrics_a.get('replayed', 0):>9}")
    print(f"{'--full (baseline)':<28} {full:>9.1f} "
          f"{len(metrics_b.get('rebuilt_sources', [])):>16} {metrics_b.get('replayed', 0):>9}")
    print(f"ratio {ratio:.2f} (target <= {args.target}); load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)
    diff = _differences(spark, cfg_a, cfg_b)
    print(f"silver rows differing between the copies: {diff}")
    if metrics_a.get("rebuilt_sources") != [source]:
        print(f"FAIL: the plain run rebuilt {metrics_a.get('rebuilt_sources')}, not [{source}]")
        return 1
    if any(diff.values()):
        print("FAIL: the two copies' silver tables differ")
        return 1
    if ratio > args.target:
        print(f"FAIL: ratio {ratio:.2f} > target {args.target}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lineage breaks: the identity stage with each ``identity.break_lineage`` method, side by side.

Runs full identity resolutions on one prepared lake (ingested, with a registered model,
e.g. the one ``bench/bench_identity_accuracy.py`` leaves in its workdir) in one Spark
session, alternating the methods, and reports per method the wall time, the Spark jobs,
the lineage breaks and the manifest's ``step_seconds``. The graphs must be identical
(the method never changes a result). Exits non-zero when they differ or when
``local_checkpoint`` takes longer than ``--max-ratio`` times ``checkpoint``.

    .venv/bin/python bench/bench_identity_lineage.py --conf WORKDIR/bench.yaml --rounds 2

Not part of pytest. The lake is written to (identity tables): point it at a copy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any


def _jobs(spark: Any) -> int:
    ids = spark.sparkContext.statusTracker().getJobIdsForGroup(None)
    return max(ids) if ids else -1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conf", required=True, help="config of a prepared lake (a copy)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--methods", nargs="+", default=["checkpoint", "local_checkpoint"])
    ap.add_argument("--max-ratio", type=float, default=1.0,
                    help="local_checkpoint may take at most this times checkpoint's time")
    args = ap.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from vista import identity
    from vista.config import load_config
    from vista.lake import Lake
    from vista.manifest import RunManifest, new_run_id
    from vista.runtime import RunContext
    from vista.spark import build_session

    cfg = load_config(args.conf)
    spark = build_session(cfg.spark)
    lake = Lake.from_config(spark, cfg.lake)
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in args.methods}
    graphs: dict[str, Any] = {}
    for _ in range(args.rounds):
        for method in args.methods:
            run_cfg = cfg.model_copy(update={"identity": cfg.identity.model_copy(
                update={"break_lineage": method, "track_mlflow": False})})
            manifest = RunManifest(run_id=new_run_id())
            ctx = RunContext(spark=spark, config=run_cfg, lake=lake, manifest=manifest,
                             run_id=manifest.run_id, options={"full": True, "gate": False})
            j0, t0 = _jobs(spark), time.perf_counter()
            metrics = identity.resolve(ctx)
            seconds = time.perf_counter() - t0
            steps = next(s for s in manifest.stages if s.name == "identity").metrics
            results[method].append({"seconds": round(seconds, 1), "jobs": _jobs(spark) - j0,
                                    "lineage_breaks": metrics["lineage_breaks"],
                                    "step_seconds": steps["step_seconds"]})
            graphs[method] = (lake.read("silver/identity_graph")
                              .select("record_key", "uid").localCheckpoint())
    first = graphs[args.methods[0]]
    same = all(g.exceptAll(first).isEmpty() and first.exceptAll(g).isEmpty()
               for g in graphs.values())
    best = {m: min(r["seconds"] for r in rs) for m, rs in results.items()}
    out: dict[str, Any] = {"records": int(first.count()), "runs": results, "best_seconds": best,
                           "same_graph": same}
    ratio = None
    if {"checkpoint", "local_checkpoint"} <= set(best):
        ratio = round(best["local_checkpoint"] / best["checkpoint"], 3)
        out["local_over_checkpoint"] = ratio
    print(json.dumps(out, indent=1))
    if not same:
        print("FAIL: the methods gave different identity graphs", file=sys.stderr)
        return 1
    if ratio is not None and ratio > args.max_ratio:
        print(f"FAIL: local_checkpoint took {ratio}x checkpoint's time "
              f"(target <= {args.max_ratio})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Identity accuracy on the sample lake: generate, ingest, resolve, evaluate, one table.

Steps (each timed): ``vista sample`` -> ``vista run --stages ingest`` -> the identity
stage (full run, model retrained) -> pairwise and B-cubed precision / recall / F1 plus
precision on the planted hard cases (twins, namesakes, shared household e-mails and
phones) against ``ground_truth/``.

Usage:
    .venv/bin/python bench/bench_identity_accuracy.py --customers 2000
    .venv/bin/python bench/bench_identity_accuracy.py --customers 10000 --workdir DIR
    .venv/bin/python bench/bench_identity_accuracy.py --workdir DIR --skip-prepare \
        --conf extra.yaml          # re-run identity only, with config overrides

Not part of pytest. ``--conf`` files are included after the generated one, so they
can override any identity setting (e.g. ``identity.linking.probabilistic``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VISTA = [sys.executable, "-m", "vista"]


def _write_conf(workdir: Path, extra: list[str]) -> Path:
    repo_conf = Path(__file__).resolve().parent.parent / "conf" / "local.yaml"
    includes = "\n".join(f"  - {p}" for p in [repo_conf, *extra])
    conf = workdir / "bench.yaml"
    conf.write_text(
        f"include:\n{includes}\n"
        f"spark: {{checkpoint_dir: {workdir / 'checkpoints'}}}\n"
        f"lake: {{root: {workdir / 'lake'}}}\n"
        f"mlflow: {{tracking_uri: 'sqlite:///{workdir / 'mlflow.db'}', "
        f"artifact_location: {workdir / 'mlruns'}}}\n"
        f"ingest: {{inputs_root: {workdir / 'sample'}}}\n")
    return conf


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def _identity_and_evaluate(conf: Path, sample: Path) -> dict[str, float]:
    from pyspark.sql import functions as F

    from vista.cli import _session, resolve_conf
    from vista.config import load_config
    from vista.identity import evaluate, evaluate_subset, hard_cases, load_truth
    from vista.lake import Lake
    from vista.manifest import RunManifest, new_run_id
    from vista.pipeline import stage_function
    from vista.runtime import RunContext

    cfg = load_config(resolve_conf(str(conf)))
    spark = _session(cfg)
    lake = Lake.from_config(spark, cfg.lake)
    manifest = RunManifest(run_id=new_run_id())
    ctx = RunContext(spark=spark, config=cfg, lake=lake, manifest=manifest,
                     run_id=manifest.run_id, options={"retrain": True, "full": True})
    t0 = time.perf_counter()
    stage_function("identity")(ctx)
    seconds = time.perf_counter() - t0
    truth = load_truth(spark, str(sample / "ground_truth" / "record_person.parquet"))
    graph = lake.read("silver/identity_graph").select("record_key", "uid")
    metrics = evaluate(graph, truth)
    hard = hard_cases(spark, str(sample / "ground_truth" / "hard_pairs.parquet"), truth)
    metrics.update(evaluate_subset(graph, truth, hard))
    metrics["largest_cluster"] = graph.groupBy("uid").count().agg(F.max("count")).first()[0]
    metrics["identity_seconds"] = seconds
    return metrics


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workdir", default=None, help="kept between runs (default: a temp dir)")
    ap.add_argument("--skip-prepare", action="store_true", help="reuse the ingested lake")
    ap.add_argument("--conf", action="append", default=[], help="extra config to include")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vista-acc-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers import vista
    conf = _write_conf(workdir, [str(Path(c).resolve()) for c in args.conf])
    times: dict[str, float] = {}
    if not args.skip_prepare:
        times["sample_s"] = _timed([*VISTA, "sample", "--out", str(workdir / "sample"),
                                    "--customers", str(args.customers),
                                    "--seed", str(args.seed)])
        times["ingest_s"] = _timed([*VISTA, "run", "--conf", str(conf), "--stages", "ingest"])
    m = _identity_and_evaluate(conf, workdir / "sample")
    rows = [("customers", args.customers), *times.items(),
            ("identity_s", m["identity_seconds"]),
            *[(k, m[k]) for k in ("precision", "recall", "f1", "bcubed_precision",
                                  "bcubed_recall", "bcubed_f1", "hard_precision",
                                  "hard_false_pairs", "n_records", "n_predicted_clusters",
                                  "n_true_clusters", "largest_cluster") if k in m]]
    print(f"\n{'metric':<22} value")
    for name, value in rows:
        shown = f"{value:.4f}" if isinstance(value, float) and not float(value).is_integer() \
            else f"{int(value):,}"
        print(f"{name:<22} {shown}")
    print(f"\nworkdir: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

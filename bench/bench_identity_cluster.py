"""Clustering benchmark: plain connected components vs vista's non-chaining clustering.

Builds labelled person records with planted households and twins
(``tests/identity/synthetic.py``), links them permissively the way
chaining happens on real data (unguarded shared phone and email, surname + postcode,
name + birth date), then clusters the same edges two ways and reports, per method:
largest cluster, cluster-size histogram, pairwise precision / recall / F1 against the
truth, and wall time. Everything is aggregated in Spark.

    .venv/bin/python bench/bench_identity_cluster.py --people 10000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from functools import reduce
from pathlib import Path

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from vista.config.models import SparkConfig
from vista.identity.cluster import (
    ClusteringConfig,
    cluster_records,
    connected_components,
    pair_edges,
    size_histogram,
)
from vista.identity.lineage import LineageBreaks
from vista.schemas import LINKS
from vista.spark import build_session

# the Faker generator lives with the tests that use it
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "identity"))
from synthetic import synthetic_person_records  # noqa: E402

BLOCKS = [  # (columns, link kind, weight, probability)
    (["phone_e164"], "deterministic:phone", None, None),
    (["email_std"], "deterministic:email", None, None),
    (["last_name_std", "postal_code"], "probabilistic", 6.0, 0.96),
    (["first_name_std", "last_name_std", "birth_date"], "probabilistic", 12.0, 0.999),
    (["last_name_std", "birth_date"], "probabilistic", 8.0, 0.98),
]


def permissive_links(records: DataFrame, max_block: int = 50) -> DataFrame:
    parts = []
    for cols, kind, weight, prob in BLOCKS:
        r = records.select("record_key", *cols).dropna(subset=cols)
        r = r.withColumn("_n", F.count("*").over(Window
                                                 .partitionBy(*cols))).where(F.col("_n") <= max_block)
        pairs = r.alias("l").join(r.alias("r"), on=[*[F.col(f"l.{c}") == F.col(f"r.{c}") for c in cols],
                                                    F.col("l.record_key") < F.col("r.record_key")],
                                  how="inner")
        parts.append(pairs.select(F.col("l.record_key").alias("record_key_l"),
                                  F.col("r.record_key").alias("record_key_r"),
                                  F.lit(kind).alias("link_kind"),
                                  F.lit(weight).cast("double").alias("match_weight"),
                                  F.lit(prob).cast("double").alias("match_probability")))
    return reduce(DataFrame.unionByName, parts).select([f.name for f in LINKS.fields])


def pairwise(clusters: DataFrame, truth: DataFrame, key: str) -> dict[str, float]:
    j = clusters.join(truth, on="record_key", how="inner")

    def pairs(cols: list[str]) -> int:
        n = j.groupBy(*cols).count()
        return int(n.agg(F.sum(F.col("count") * (F.col("count") - 1) / 2)).first()[0] or 0)

    tp, pred, true = pairs([key, "person_id"]), pairs([key]), pairs(["person_id"])
    p = tp / pred if pred else 1.0
    r = tp / true if true else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=10000)
    ap.add_argument("--hard-share", type=float, default=0.2)
    args = ap.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run the UDF from vista
    tmp = tempfile.mkdtemp(prefix="vista-bench-")
    spark = build_session(SparkConfig(master="local[2]", shuffle_partitions=4,
                                      checkpoint_dir=f"{tmp}/ckpt", driver_memory="3g"))
    break_lineage = LineageBreaks(spark, "checkpoint")
    t0 = time.perf_counter()
    records, truth = synthetic_person_records(spark, args.people, seed=3,
                                              hard_share=args.hard_share)
    records, truth = break_lineage(records), break_lineage(truth.select("record_key", "person_id"))
    links = break_lineage(permissive_links(records))
    cfg = ClusteringConfig()
    out = {"people": args.people, "records": records.count(), "links": links.count(),
           "setup_s": round(time.perf_counter() - t0, 1)}

    t = time.perf_counter()
    strong = pair_edges(links, cfg).where("strong")
    cc = connected_components(strong.select(F.col("record_key_l").alias("src"),
                                            F.col("record_key_r").alias("dst")),
                              breaks=break_lineage)
    cc = records.select("record_key").join(cc.withColumnRenamed("node", "record_key"),
                                           on="record_key", how="left").select(
        "record_key", F.coalesce("component", "record_key").alias("cluster_id"))
    cc = break_lineage(cc)
    out["connected_components"] = {"seconds": round(time.perf_counter() - t, 1),
                                   **pairwise(cc, truth, "cluster_id"),
                                   "sizes": size_histogram(cc)}
    t = time.perf_counter()
    vista, stats = cluster_records(records, links, cfg, breaks=break_lineage)
    vista = break_lineage(vista)
    out["vista"] = {"seconds": round(time.perf_counter() - t, 1), **stats,
                    **pairwise(vista, truth, "cluster_id"), "sizes": size_histogram(vista)}
    truth_sizes = size_histogram(truth.withColumnRenamed("person_id", "cluster_id"))
    out["truth_sizes"] = truth_sizes
    print(json.dumps(out, indent=1))
    spark.stop()


if __name__ == "__main__":
    main()

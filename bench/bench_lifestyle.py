"""Lifestyle clustering: Spark MLlib k-means against scikit-learn's KMeans, side by side.

Builds the lifestyle feature matrix from a lake's gold tables (``gold/customer_profile``,
``gold/customer_order_lines``, ``gold/customer_interactions``; run the profile stage
first), with the config's ``segments.lifestyle`` settings, then for every requested size
fits both k-means implementations on the *same* matrix with the same k, seed, iteration
limit and k-means|| / k-means++ initialisation, and reports fit time and silhouette
(scikit-learn's ``silhouette_score`` on one shared random sample of rows, for both label
sets). Sizes above the lake's customers are reached by resampling its rows with
replacement (documented in the output: the matrix is then the lake's, repeated).

With ``--truth`` (the sample lake's ``ground_truth`` folder) it also scores MLlib's
clusters against the latent lifestyles (adjusted Rand index, through
``silver/identity_graph``).

Targets (exit 1 when missed): MLlib's silhouette within ``--silhouette-tolerance`` of
scikit-learn's at every size; ARI >= ``--min-ari`` when ``--truth`` is given.

    python bench/bench_lifestyle.py --conf my_bench.yaml --sizes 10000,100000 --k 10 \
        --truth data/sample/ground_truth
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conf", required=True, help="vista config whose lake has the gold tables")
    p.add_argument("--sizes", default="10000,100000", help="customers per fit, comma-separated")
    p.add_argument("--k", type=int, default=10, help="clusters for both implementations")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--max-iter", type=int, default=40)
    p.add_argument("--silhouette-sample", type=int, default=5000)
    p.add_argument("--silhouette-tolerance", type=float, default=0.02)
    p.add_argument("--truth", help="ground_truth folder (persons.parquet, record_person.parquet)")
    p.add_argument("--min-ari", type=float, default=0.6)
    p.add_argument("--driver-memory", default="3g")
    return p.parse_args()


def _features(spark, cfg):  # noqa: ANN001, ANN202
    from pyspark.sql import functions as F

    from vista.lake import Lake
    from vista.segments import features as fe
    from vista.segments import lifestyle as ls

    lake = Lake.from_config(spark, cfg.lake)
    lcfg = cfg.segments.lifestyle
    profile = lake.read("gold/customer_profile")
    as_of = profile.select("as_of").first()["as_of"]
    sources = {"order_lines": lake.read("gold/customer_order_lines"),
               "interactions": lake.read("gold/customer_interactions")}
    counts = fe.term_counts(sources, lcfg.features, as_of).join(
        profile.select("uid"), "uid", "left_semi").cache()
    eligible = fe.eligible_customers(counts, lcfg.features.min_events)
    rows = fe.shares(counts.join(eligible, "uid", "left_semi"), lcfg.features.sqrt_shares).cache()
    n = eligible.count()
    vocab = fe.build_vocabulary(rows, n, lcfg.features)
    vecs = ls.vectors(fe.feature_columns(rows, vocab), vocab)
    return lake, vecs.select("uid", F.col("features")).cache(), n, len(vocab.terms)


def _resized(vecs, n_have: int, n_want: int, seed: int):  # noqa: ANN001, ANN202
    from pyspark.sql import functions as F

    if n_want <= n_have:
        out = vecs.orderBy(F.rand(seed)).limit(n_want)
    else:
        reps = -(-n_want // n_have)
        out = (vecs.crossJoin(vecs.sparkSession.range(reps).withColumnRenamed("id", "_rep"))
               .withColumn("uid", F.concat_ws("#", "uid", "_rep")).drop("_rep")
               .orderBy(F.rand(seed)).limit(n_want))
    return out.repartition(8).cache()


def main() -> int:
    args = _args()
    logging.basicConfig(level=logging.WARNING)
    from pyspark.ml.clustering import KMeans as SparkKMeans
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.metrics import silhouette_score

    from vista.config import load_config
    from vista.spark import build_session

    cfg = load_config(args.conf)
    spark = build_session(cfg.spark.model_copy(update={"driver_memory": args.driver_memory}))
    lake, vecs, n_have, n_terms = _features(spark, cfg)
    print(f"feature matrix: {n_have:,} customers x {n_terms} terms (lake {cfg.lake.root})")
    failures: list[str] = []
    rows = []
    rng = np.random.default_rng(args.seed)
    for n in [int(s) for s in args.sizes.split(",")]:
        data = _resized(vecs, n_have, n, args.seed)
        data.count()
        t0 = time.perf_counter()
        model = SparkKMeans(k=args.k, seed=args.seed, maxIter=args.max_iter,
                            featuresCol="features", predictionCol="cluster",
                            initMode="k-means||").fit(data)
        pred = model.transform(data).select("features", "cluster")
        pred.count()
        t_spark = time.perf_counter() - t0
        # the baseline needs the matrix on the driver; that is its design, not vista's
        local = pred.toPandas()
        x = np.stack([v.toArray() for v in local["features"]])
        spark_labels = local["cluster"].to_numpy()
        t0 = time.perf_counter()
        sk = SkKMeans(n_clusters=args.k, random_state=args.seed, max_iter=args.max_iter,
                      n_init=1, init="k-means++").fit(x)
        t_sk = time.perf_counter() - t0
        idx = rng.choice(len(x), size=min(args.silhouette_sample, len(x)), replace=False)
        s_spark = float(silhouette_score(x[idx], spark_labels[idx]))
        s_sk = float(silhouette_score(x[idx], sk.labels_[idx]))
        rows.append((n, t_spark, t_sk, s_spark, s_sk))
        if s_spark < s_sk - args.silhouette_tolerance:
            failures.append(f"{n:,} customers: MLlib silhouette {s_spark:.4f} < scikit-learn "
                            f"{s_sk:.4f} - {args.silhouette_tolerance}")
        data.unpersist()
    print(f"\n{'customers':>10} {'MLlib s':>9} {'sklearn s':>10} {'ratio':>7} "
          f"{'MLlib silh.':>12} {'sklearn silh.':>14}")
    for n, ts, tk, ss, sk_s in rows:
        print(f"{n:>10,} {ts:>9.1f} {tk:>10.1f} {ts / tk:>7.2f} {ss:>12.4f} {sk_s:>14.4f}")
    print("(ratio = MLlib time / scikit-learn time; scikit-learn's time excludes moving the "
          "matrix to the driver)")
    if args.truth:
        from vista.segments.lifestyle_truth import lifestyle_ari, uid_labels

        model = SparkKMeans(k=args.k, seed=args.seed, maxIter=args.max_iter,
                            featuresCol="features", predictionCol="segment_id").fit(vecs)
        labels = uid_labels(lake.read("silver/identity_graph"),
                            spark.read.parquet(f"{args.truth}/record_person.parquet"),
                            spark.read.parquet(f"{args.truth}/persons.parquet"),
                            cfg.segments.lifestyle.truth.label)
        ari, scored = lifestyle_ari(model.transform(vecs).select("uid", "segment_id"), labels,
                                    exclude_segment_id=None)
        print(f"\nMLlib k={args.k} against the latent lifestyles: ARI {ari:.4f} "
              f"({scored:,} customers; target >= {args.min_ari})")
        if ari < args.min_ari:
            failures.append(f"ARI {ari:.4f} < {args.min_ari}")
    for f in failures:
        print("TARGET MISSED:", f)
    spark.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

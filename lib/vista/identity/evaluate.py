"""Evaluate an identity clustering against ground truth, without enumerating pairs.

With n_ij = records in predicted cluster i and true person j (a contingency table built
by one Spark aggregation), n_i = Σ_j n_ij and n_j = Σ_i n_ij:

* true-positive pairs  TP = Σ C(n_ij, 2)
* predicted pairs       P = Σ C(n_i, 2)
* true pairs            T = Σ C(n_j, 2)
* pairwise precision TP / P, recall TP / T, F1
* B-cubed precision  (1/N) Σ n_ij² / n_i, recall (1/N) Σ n_ij² / n_j, F1

Only the few aggregated sums reach the driver, so it scales with the data.
"""

from __future__ import annotations

import logging
from typing import Literal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vista.identity.errors import EvaluationInputError

log = logging.getLogger(__name__)


def _pairs(n: F.Column) -> F.Column:
    return n * (n - 1) / 2


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 1.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _check(df: DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise EvaluationInputError(f"{what} needs columns {cols}; missing {missing}, "
                                   f"found {sorted(df.columns)}.")


def contingency(predicted: DataFrame, truth: DataFrame) -> DataFrame:
    """The contingency table (uid, person_id, n_ij, n_i, n_j) over shared record keys."""
    _check(predicted, ["record_key", "uid"], "predicted")
    _check(truth, ["record_key", "person_id"], "truth")
    joined = predicted.select("record_key", "uid").join(
        truth.select("record_key", "person_id"), on="record_key", how="inner")
    nij = joined.groupBy("uid", "person_id").agg(F.count("*").alias("n_ij"))
    ni = nij.groupBy("uid").agg(F.sum("n_ij").alias("n_i"))
    nj = nij.groupBy("person_id").agg(F.sum("n_ij").alias("n_j"))
    return nij.join(ni, on="uid", how="inner").join(nj, on="person_id", how="inner")


def evaluate(
    predicted: DataFrame, truth: DataFrame, *, log_to_mlflow: bool = False
) -> dict[str, float]:
    """Pairwise and B-cubed precision / recall / F1 of a clustering.

    Args:
        predicted: ``record_key, uid`` (one row per record).
        truth: ``record_key, person_id``.
        log_to_mlflow: Also log the metrics (prefix ``eval_``) to the active MLflow run.

    Returns:
        precision, recall, f1, bcubed_precision, bcubed_recall, bcubed_f1,
        tp_pairs, predicted_pairs, true_pairs, n_records, n_predicted_clusters,
        n_true_clusters, n_unmatched_predicted, n_unmatched_truth.

    Raises:
        EvaluationInputError: A frame lacks its columns.

    Example:
        >>> evaluate(graph.select("record_key", "uid"), truth)["f1"]
        0.97
    """
    table = contingency(predicted, truth)
    row = table.agg(
        F.sum(_pairs(F.col("n_ij"))).alias("tp"),
        F.sum("n_ij").alias("n"),
        F.sum(F.col("n_ij") * F.col("n_ij") / F.col("n_i")).alias("b3p"),
        F.sum(F.col("n_ij") * F.col("n_ij") / F.col("n_j")).alias("b3r"),
        F.countDistinct("uid").alias("n_pred"),
        F.countDistinct("person_id").alias("n_true"),
    ).first()
    sizes = table.select("uid", "n_i").distinct().agg(F.sum(_pairs(F.col("n_i")))).first()[0]
    tsizes = table.select("person_id", "n_j").distinct().agg(
        F.sum(_pairs(F.col("n_j")))).first()[0]
    n = int(row.n or 0)
    tp, pp, tt = float(row.tp or 0), float(sizes or 0), float(tsizes or 0)
    p, r = _ratio(tp, pp), _ratio(tp, tt)
    b3p, b3r = _ratio(row.b3p or 0, n), _ratio(row.b3r or 0, n)
    keys_p = predicted.select("record_key").distinct()
    keys_t = truth.select("record_key").distinct()
    out = {
        "precision": p, "recall": r, "f1": _f1(p, r),
        "bcubed_precision": b3p, "bcubed_recall": b3r, "bcubed_f1": _f1(b3p, b3r),
        "tp_pairs": tp, "predicted_pairs": pp, "true_pairs": tt, "n_records": float(n),
        "n_predicted_clusters": float(row.n_pred), "n_true_clusters": float(row.n_true),
        "n_unmatched_predicted": float(keys_p.join(keys_t, "record_key", "left_anti").count()),
        "n_unmatched_truth": float(keys_t.join(keys_p, "record_key", "left_anti").count()),
    }
    log.info("identity evaluation: pairwise P=%.4f R=%.4f F1=%.4f, B3 F1=%.4f on %d records",
             p, r, out["f1"], out["bcubed_f1"], n)
    if log_to_mlflow:
        from vista.tracking import log_metrics

        log_metrics(out, prefix="eval_")
    return out


def evaluate_subset(
    predicted: DataFrame, truth: DataFrame, hard_cases: DataFrame, *,
    log_to_mlflow: bool = False, prefix: str = "hard_",
) -> dict[str, float]:
    """Precision restricted to planted hard cases (twins, households, ...).

    A hard case is a group of records of *different* true people who look alike.
    Within each group, every pair the clustering puts together is checked against the
    truth, so a twin merge counts as a false pair here even when it is invisible in the
    global figures.

    Args:
        predicted: ``record_key, uid``.
        truth: ``record_key, person_id``.
        hard_cases: ``record_key, group`` (e.g. group ``twin:17`` on both twins'
            records); a record may appear in several groups.
        log_to_mlflow: Also log the metrics to the active MLflow run.
        prefix: Metric name prefix.

    Returns:
        ``<prefix>precision`` (TP / predicted pairs inside groups), ``<prefix>false_pairs``,
        ``<prefix>groups``, ``<prefix>groups_merged`` (groups where two different people
        share a uid) and ``<prefix>separation_rate`` (share of groups kept apart).
    """
    _check(hard_cases, ["record_key", "group"], "hard_cases")
    base = (hard_cases.select("record_key", "group")
            .join(predicted.select("record_key", "uid"), "record_key", how="inner")
            .join(truth.select("record_key", "person_id"), "record_key", how="inner"))
    cell = base.groupBy("group", "uid", "person_id").agg(F.count("*").alias("n"))
    per_uid = cell.groupBy("group", "uid").agg(
        F.sum("n").alias("n_g"), F.sum(_pairs(F.col("n"))).alias("tp"),
        F.countDistinct("person_id").alias("people"))
    per_group = per_uid.groupBy("group").agg(
        F.sum("tp").alias("tp"), F.sum(_pairs(F.col("n_g"))).alias("pp"),
        F.max("people").alias("max_people"))
    row = per_group.agg(
        F.sum("tp").alias("tp"), F.sum("pp").alias("pp"), F.count("*").alias("groups"),
        F.sum(F.when(F.col("max_people") > 1, 1).otherwise(0)).alias("merged")).first()
    tp, pp, groups = float(row.tp or 0), float(row.pp or 0), int(row.groups or 0)
    merged = int(row.merged or 0)
    out = {f"{prefix}precision": _ratio(tp, pp), f"{prefix}false_pairs": pp - tp,
           f"{prefix}groups": float(groups), f"{prefix}groups_merged": float(merged),
           f"{prefix}separation_rate": _ratio(groups - merged, groups)}
    if log_to_mlflow:
        from vista.tracking import log_metrics

        log_metrics(out, prefix="eval_")
    return out


def evaluate_links(links: DataFrame, truth: DataFrame) -> dict[str, float]:
    """Pairwise precision of links themselves (before clustering).

    Args:
        links: ``LINKS`` frame.
        truth: ``record_key, person_id``.

    Returns:
        link_precision, n_links, n_true_links (links whose sides are one person).
    """
    t = truth.select("record_key", "person_id")
    lab = (links.select("record_key_l", "record_key_r").distinct()
           .join(t.toDF("record_key_l", "p_l"), "record_key_l", how="inner")
           .join(t.toDF("record_key_r", "p_r"), "record_key_r", how="inner"))
    row = lab.agg(F.count("*").alias("n"),
                  F.sum(F.when(F.col("p_l") == F.col("p_r"), 1).otherwise(0)).alias("ok")).first()
    n, ok = int(row.n or 0), int(row.ok or 0)
    return {"link_precision": _ratio(ok, n), "n_links": float(n), "n_true_links": float(ok)}


def load_truth(
    spark: SparkSession, path: str, fmt: Literal["auto", "parquet", "csv"] = "auto"
) -> DataFrame:
    """Read a ground-truth file for any person-record source.

    Args:
        spark: The session.
        path: Parquet or CSV (with header) holding either ``record_key, person_id`` or
            ``source, source_record_id, person_id`` (record_key is then
            ``<source>:<source_record_id>``, as in ``PERSON_RECORDS``).
        fmt: File format; ``auto`` picks CSV for a ``.csv`` path, else Parquet.

    Returns:
        ``record_key, person_id`` (strings).

    Raises:
        EvaluationInputError: Neither column layout is present.
    """
    kind = fmt if fmt != "auto" else ("csv" if path.lower().endswith(".csv") else "parquet")
    df = (spark.read.option("header", True).csv(path) if kind == "csv"
          else spark.read.parquet(path))
    if "record_key" not in df.columns:
        _check(df, ["source", "source_record_id", "person_id"], f"truth file {path}")
        df = df.withColumn("record_key", F.concat_ws(":", "source", "source_record_id"))
    _check(df, ["record_key", "person_id"], f"truth file {path}")
    return df.select(F.col("record_key").cast("string"), F.col("person_id").cast("string"))


def hard_cases(spark: SparkSession, path: str, truth: DataFrame) -> DataFrame:
    """Read a file of hard cases as the ``groups`` frame :func:`evaluate_subset` takes.

    Args:
        spark: The session.
        path: Parquet or CSV (with header) holding either ``record_key, group``, or
            ``kind, person_id_l, person_id_r`` (pairs of people that are easy to confuse,
            as the sample lake's ``hard_pairs`` file lists them).
        truth: The ground truth (:func:`load_truth`), which maps each person of a pair to
            their records.

    Returns:
        ``record_key, group``: the records of both people of each pair, grouped by
        ``<kind>:<person_id_l>:<person_id_r>``.

    Raises:
        EvaluationInputError: Neither column layout is present.
    """
    df = (spark.read.option("header", True).csv(path) if path.lower().endswith(".csv")
          else spark.read.parquet(path))
    if {"record_key", "group"} <= set(df.columns):
        return df.select("record_key", "group")
    _check(df, ["kind", "person_id_l", "person_id_r"], f"hard-cases file {path}")
    pairs = df.select(F.col("person_id_l").cast("string"), F.col("person_id_r").cast("string"),
                      F.concat_ws(":", "kind", "person_id_l", "person_id_r").alias("group"))
    left = pairs.join(truth.withColumnRenamed("person_id", "person_id_l"), "person_id_l",
                      how="inner")
    right = pairs.join(truth.withColumnRenamed("person_id", "person_id_r"), "person_id_r",
                       how="inner")
    return left.select("record_key", "group").unionByName(right.select("record_key", "group"))

"""Score CLV predictions against purchases known after the as-of date (a hold-out).

The truth is per person (``persons``: purchases and spend in the window); persons reach
UIDs through ``record_person`` and ``silver/identity_graph`` (each person counts for the
UID holding most of their records). The model's prediction for the window is its
expected spend over the window's length; the naive baseline carries the spend of the
same length of time before the as-of date forward. Rank correlation is Spearman's from
MLlib (ranks computed distributed); calibration compares mean predicted and actual spend
per decile of the prediction (ten rows).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from vista.errors import VistaError
from vista.segments.clv.frame import ClvModel, score
from vista.segments.config import HoldoutConfig

log = logging.getLogger(__name__)


class HoldoutError(VistaError):
    """The hold-out truth files are missing or lack the expected columns."""


@dataclass(frozen=True)
class HoldoutScores:
    """CLV against the hold-out truth.

    Attributes:
        customers: Scored buyers.
        mae_model: Mean absolute error of the model's spend over the window.
        mae_baseline: The same for last window's spend carried forward.
        mae_purchases_model: MAE of expected purchases.
        mae_purchases_baseline: MAE of last window's purchase days carried forward.
        spearman_model: Rank correlation of predicted and actual spend.
        spearman_baseline: The same for the baseline.
        calibration: Per decile of the prediction: ``decile, customers, predicted,
            actual`` (means).
    """

    customers: int
    mae_model: float
    mae_baseline: float
    mae_purchases_model: float
    mae_purchases_baseline: float
    spearman_model: float
    spearman_baseline: float
    calibration: list[dict[str, float]] = field(default_factory=list)

    @property
    def beats_baseline(self) -> bool:
        """Lower spend MAE than the naive baseline."""
        return self.mae_model < self.mae_baseline

    def metrics(self) -> dict[str, float]:
        """Flat metrics for MLflow and the manifest."""
        return {"holdout_customers": self.customers, "holdout_mae_model": self.mae_model,
                "holdout_mae_baseline": self.mae_baseline,
                "holdout_mae_purchases_model": self.mae_purchases_model,
                "holdout_mae_purchases_baseline": self.mae_purchases_baseline,
                "holdout_spearman_model": self.spearman_model,
                "holdout_spearman_baseline": self.spearman_baseline,
                "holdout_beats_baseline": float(self.beats_baseline)}


def truth_per_uid(spark: SparkSession, cfg: HoldoutConfig, graph: DataFrame) -> DataFrame:
    """``uid, actual_purchases, actual_value`` from the per-person truth files."""
    try:
        persons = spark.read.parquet(cfg.persons)
        records = spark.read.parquet(cfg.record_person)
    except Exception as exc:  # Spark's AnalysisException: a missing path
        raise HoldoutError(f"cannot read the hold-out truth (segments.clv.holdout): "
                           f"{type(exc).__name__}") from exc
    for frame, cols, what in ((persons, ["person_id", cfg.purchases_column, cfg.value_column],
                               "persons"),
                              (records, ["source", "source_record_id", "person_id"],
                               "record_person")):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise HoldoutError(f"segments.clv.holdout.{what} lacks column(s) {missing}")
    votes = (records.join(graph.select("source", "source_record_id", "uid"),
                          on=["source", "source_record_id"], how="inner")
             .groupBy("person_id", "uid").agg(F.count("*").alias("n")))
    best = Window.partitionBy("person_id").orderBy(F.desc("n"), "uid")
    owner = votes.withColumn("_k", F.row_number().over(best)).where("_k = 1")
    return (owner.join(persons, on="person_id", how="inner")
            .groupBy("uid").agg(
                F.sum(F.col(cfg.purchases_column).cast("double")).alias("actual_purchases"),
                F.sum(F.col(cfg.value_column).cast("double")).alias("actual_value")))


def naive_baseline(orders: DataFrame, as_of: dt.date, days: int) -> DataFrame:
    """``uid, baseline_purchases, baseline_value``: the last ``days`` before the as-of
    date (inclusive), carried forward."""
    start = as_of - dt.timedelta(days=days)
    window = orders.where((F.to_date("ts") > F.lit(start)) & (F.to_date("ts") <= F.lit(as_of)))
    return window.groupBy("uid").agg(
        F.countDistinct(F.to_date("ts")).cast("double").alias("baseline_purchases"),
        F.sum(F.coalesce("amount_reporting", F.lit(0.0))).alias("baseline_value"))


def evaluate_holdout(summary: DataFrame, clv: ClvModel, orders: DataFrame, truth: DataFrame,
                     as_of: dt.date, cfg: HoldoutConfig) -> HoldoutScores:
    """Score the model and the naive baseline on the buyers of ``summary``.

    Args:
        summary: The CLV summary (``uid, frequency, recency, T, monetary``).
        clv: The fitted model.
        orders: ``uid, ts, amount_reporting``.
        truth: :func:`truth_per_uid`.
        as_of: The as-of date.
        cfg: The hold-out section.
    """
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.stat import Correlation

    periods = max(1, round(cfg.days / clv.unit_days))
    pred = score(summary, clv, horizon=periods).select(
        "uid", F.col("expected_purchases").alias("pred_purchases"),
        F.col("expected_spend").alias("pred_value"))
    zero = F.lit(0.0)
    frame = (pred.join(naive_baseline(orders, as_of, cfg.days), on="uid", how="left")
             .join(truth, on="uid", how="left")
             .select("uid", "pred_purchases", "pred_value",
                     *[F.coalesce(c, zero).alias(c) for c in (
                         "baseline_purchases", "baseline_value", "actual_purchases",
                         "actual_value")])).checkpoint(eager=True)
    agg = frame.agg(
        F.count("*").alias("n"),
        F.avg(F.abs(F.col("pred_value") - F.col("actual_value"))).alias("mae_model"),
        F.avg(F.abs(F.col("baseline_value") - F.col("actual_value"))).alias("mae_base"),
        F.avg(F.abs(F.col("pred_purchases") - F.col("actual_purchases"))).alias("maep_model"),
        F.avg(F.abs(F.col("baseline_purchases") - F.col("actual_purchases")))
        .alias("maep_base")).first()
    vectors = VectorAssembler(inputCols=["pred_value", "baseline_value", "actual_value"],
                              outputCol="v").transform(frame).select("v")
    rho = Correlation.corr(vectors, "v", method="spearman").first()[0].toArray()
    scores = HoldoutScores(
        customers=int(agg["n"]), mae_model=float(agg["mae_model"]),
        mae_baseline=float(agg["mae_base"]), mae_purchases_model=float(agg["maep_model"]),
        mae_purchases_baseline=float(agg["maep_base"]), spearman_model=float(rho[0, 2]),
        spearman_baseline=float(rho[1, 2]), calibration=_calibration(frame))
    log.info("clv hold-out (%d buyers, %d days): MAE %.2f vs naive %.2f; Spearman %.3f vs "
             "%.3f", scores.customers, cfg.days, scores.mae_model, scores.mae_baseline,
             scores.spearman_model, scores.spearman_baseline)
    frame.unpersist()
    return scores


def _calibration(frame: DataFrame) -> list[dict[str, float]]:
    cuts = frame.approxQuantile("pred_value", [k / 10 for k in range(1, 10)], 0.001)
    decile = F.lit(1)
    for c in cuts:
        decile = decile + F.when(F.col("pred_value") > F.lit(c), 1).otherwise(0)
    rows = (frame.groupBy(decile.alias("decile"))
            .agg(F.count("*").alias("customers"), F.avg("pred_value").alias("predicted"),
                 F.avg("actual_value").alias("actual"))
            .orderBy("decile").collect())  # at most ten rows
    return [{k: float(r[k]) for k in ("decile", "customers", "predicted", "actual")}
            for r in rows]

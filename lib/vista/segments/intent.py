"""Intent: "in market for X" from recent searches and views not followed by a purchase.

Every interaction the config calls a signal (by default web and app events) counts for
its category with a weight per interaction type and a recency decay (a half-life in
days). A signal without a category (a search carries a query, not a category) takes the
category the customer looked at next within a few minutes, when there is one. Signals
older than the customer's last purchase in the category do not count: the purchase
answered them. A customer is in market for a category when the decayed score reaches
``min_score``; several intents per customer are kept, ranked by score.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from pydantic import Field
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from vista.config.models import Section


class IntentConfig(Section):
    """The ``segments.intent`` section.

    Attributes:
        enabled: Compute intent segments.
        where: Spark SQL filter selecting signal interactions.
        category: Spark SQL expression giving a signal's category.
        purchase_category: Spark SQL expression over order lines giving the category a
            purchase answers.
        type_weights: Weight per interaction ``type`` (an add-to-cart says more than a
            page view); types not listed weigh ``default_weight``.
        default_weight: Weight of a signal type not in ``type_weights``.
        window_days: Only signals of the last ``window_days`` before the as-of date.
        half_life_days: A signal's weight halves every ``half_life_days``.
        resolve_within_minutes: A signal without a category takes the category of the
            customer's next categorised signal within this many minutes (None: such
            signals are dropped).
        min_score: The decayed score that makes an intent.
        max_intents: At most this many intents per customer (the highest scores).
    """

    enabled: bool = True
    where: str = "channel IN ('web', 'app')"
    category: str = "category"
    purchase_category: str = "category"
    type_weights: dict[str, float] = Field(default_factory=dict)
    default_weight: float = Field(1.0, ge=0.0)
    window_days: int = Field(30, ge=1)
    half_life_days: float = Field(7.0, gt=0.0)
    resolve_within_minutes: int | None = Field(30, ge=1)
    min_score: float = Field(2.0, gt=0.0)
    max_intents: int = Field(3, ge=1)


def _weight(cfg: IntentConfig):  # noqa: ANN202
    w = F.lit(cfg.default_weight)
    if cfg.type_weights:
        pairs = [x for t, v in sorted(cfg.type_weights.items()) for x in (F.lit(t), F.lit(v))]
        w = F.coalesce(F.create_map(*pairs)[F.col("type")], w)
    return w.cast("double")


def signals(interactions: DataFrame, cfg: IntentConfig, as_of: date) -> DataFrame:
    """``uid, ts, type, category, weight``: the window's signals, categories resolved."""
    end = F.lit(as_of + timedelta(days=1)).cast("timestamp")
    start = F.lit(as_of - timedelta(days=cfg.window_days - 1)).cast("timestamp")
    sig = (interactions.where(F.col("uid").isNotNull() & (F.col("ts") >= start)
                              & (F.col("ts") < end))
           .where(F.expr(cfg.where))
           .select("uid", "ts", "type", F.trim(F.expr(cfg.category).cast("string"))
                   .alias("category")))
    sig = sig.withColumn("category", F.when(F.col("category") != "", F.col("category")))
    if cfg.resolve_within_minutes:
        ahead = (Window.partitionBy("uid").orderBy(F.col("ts").cast("long"))
                 .rangeBetween(0, cfg.resolve_within_minutes * 60))
        sig = sig.withColumn("category", F.coalesce(
            "category", F.first("category", ignorenulls=True).over(ahead)))
    return (sig.where(F.col("category").isNotNull())
            .select("uid", "ts", "type", "category", _weight(cfg).alias("weight")))


def intent_segments(interactions: DataFrame, order_lines: DataFrame, cfg: IntentConfig,
                    as_of: date, run_id: str) -> DataFrame:
    """Score each customer's open intents per category.

    Args:
        interactions: UID-keyed interactions (``uid, ts, type`` and what the config's
            expressions read).
        order_lines: UID-keyed order lines (``uid, ts`` and ``purchase_category``'s
            columns).
        cfg: The intent config.
        as_of: Signals and purchases after this date are ignored.
        run_id: Written in every row.

    Returns:
        ``uid, category, score, rank, signals, last_signal_at, as_of, run_id``; several
        rows per customer, rank 1 the strongest.
    """
    end = F.lit(as_of + timedelta(days=1)).cast("timestamp")
    bought = (order_lines.where(F.col("uid").isNotNull() & (F.col("ts") < end))
              .select("uid", F.trim(F.expr(cfg.purchase_category).cast("string"))
                      .alias("category"), "ts")
              .groupBy("uid", "category").agg(F.max("ts").alias("last_purchase")))
    age_days = (end.cast("long") - F.col("ts").cast("long")) / 86400.0
    decay = F.exp(F.lit(-math.log(2.0) / cfg.half_life_days) * age_days)
    scored = (signals(interactions, cfg, as_of)
              .join(bought, on=["uid", "category"], how="left")
              .where(F.col("last_purchase").isNull() | (F.col("ts") > F.col("last_purchase")))
              .groupBy("uid", "category")
              .agg(F.sum(F.col("weight") * decay).alias("score"),
                   F.count("*").alias("signals"), F.max("ts").alias("last_signal_at"))
              .where(F.col("score") >= cfg.min_score))
    rank = F.row_number().over(Window.partitionBy("uid").orderBy(F.desc("score"), "category"))
    return (scored.withColumn("rank", rank).where(F.col("rank") <= cfg.max_intents)
            .select("uid", "category", F.round("score", 6).alias("score"),
                    F.col("rank").cast("int").alias("rank"), "signals", "last_signal_at",
                    F.lit(as_of).alias("as_of"), F.lit(run_id).alias("run_id")))

"""RFM: recency, frequency and monetary scores 1..n and named segments.

Cut points are the ``k / n`` quantiles of the buyers' values from Spark's
``approxQuantile`` (one distributed pass, relative error from config; never a global
sort). A value's score is one plus the number of cut points strictly below it, so equal
values always get equal scores and a score says which share of the buyers a value sits
above: with 60 % of buyers on one order, a second order scores 4 of 5. Recency is scored
on its negation, so a recent purchase scores high.

Example:
    >>> scored = rfm_segments(profile, cfg.segments.rfm)                # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.segments.config import RfmConfig, RfmRule

log = logging.getLogger(__name__)

RFM_COLUMNS = ["uid", "as_of", "recency_days", "frequency", "monetary", "r_score", "f_score",
               "m_score", "rfm_cell", "segment"]



def _ranked() -> dict[str, Column]:
    """Score column -> the value it ranks (higher value = higher score)."""
    return {"r_score": -F.col("recency_days"), "f_score": F.col("frequency"),
            "m_score": F.col("monetary")}


def cut_points(buyers: DataFrame, bins: int, relative_error: float) -> dict[str, list[float]]:
    """The ``k / bins`` quantiles (k = 1..bins-1) of each ranked value among buyers.

    Args:
        buyers: ``recency_days, frequency, monetary`` of customers with an order.
        bins: Score levels.
        relative_error: ``approxQuantile``'s relative error.

    Returns:
        Score column -> its ``bins - 1`` cut points (empty lists without buyers).
    """
    ranked = buyers.select(*[value.alias(name) for name, value in _ranked().items()])
    probs = [k / bins for k in range(1, bins)]
    cuts = ranked.approxQuantile(ranked.columns, probs, relative_error)
    return dict(zip(ranked.columns, cuts, strict=True))


def score(value: Column, cuts: Sequence[float]) -> Column:
    """``1 + (number of cut points strictly below value)``; null stays null."""
    above = [F.when(value > F.lit(float(c)), 1).otherwise(0) for c in cuts]
    total = F.lit(1)
    for term in above:
        total = total + term
    return F.when(value.isNull(), F.lit(None)).otherwise(total).cast("int")


def segment_of(rules: Sequence[RfmRule], no_orders: str) -> Column:
    """The first rule covering ``(r_score, f_score, m_score)``; ``no_orders`` without scores."""
    expr = F.when(F.col("r_score").isNull(), F.lit(no_orders))
    for rule in rules:
        cond = F.lit(True)
        for dim, rng in (("r", rule.r), ("f", rule.f), ("m", rule.m)):
            if rng is not None:
                cond = cond & F.col(f"{dim}_score").between(rng[0], rng[1])
        expr = expr.when(cond, F.lit(rule.name))
    return expr  # the config check guarantees a match for every scored cell


def rfm_segments(profile: DataFrame, cfg: RfmConfig) -> DataFrame:
    """Score every profile UID and name its segment.

    Args:
        profile: ``uid, as_of, recency_days, frequency, monetary`` (recency null and
            frequency 0 for customers without an order).
        cfg: The RFM section.

    Returns:
        :data:`RFM_COLUMNS`, one row per UID; customers without an order have null
        scores and cell and the segment ``cfg.no_orders_segment``.
    """
    base = profile.select("uid", "as_of", F.col("recency_days").cast("int"),
                          F.coalesce(F.col("frequency").cast("long"), F.lit(0)).alias("frequency"),
                          F.coalesce(F.col("monetary").cast("double"), F.lit(0.0)).alias("monetary"))
    bought = (F.col("frequency") > 0) & F.col("recency_days").isNotNull()
    cuts = cut_points(base.where(bought), cfg.bins, cfg.relative_error)
    log.info("rfm: cut points %s", {k: [round(c, 2) for c in v] for k, v in cuts.items()})
    scored = base.select(*base.columns, *[
        F.when(bought, score(value, cuts[name])).alias(name)
        for name, value in _ranked().items()])
    cell = F.concat(*[F.col(c).cast("string") for c in ("r_score", "f_score", "m_score")])
    return scored.select(*scored.columns, cell.alias("rfm_cell"),
                         segment_of(cfg.segments, cfg.no_orders_segment).alias("segment"))

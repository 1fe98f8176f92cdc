"""Lifecycle stages: prospect, new, active, at risk, lapsed, churned, reactivated.

Purchases are counted per distinct day up to the as-of date. A customer with at least
``cadence.min_orders`` purchase days is judged against their own cadence (the mean gap
between their purchase days, times a multiple, floored at ``cadence.min_days``); others
against the global thresholds in days. In order, the first that holds:

1. no purchase: ``prospect``;
2. first purchase within ``new_days``: ``new``;
3. last purchase within the active threshold after a gap of at least the reactivation
   threshold: ``reactivated``;
4. last purchase within the active / at-risk / lapsed threshold: ``active`` /
   ``at_risk`` / ``lapsed``; older: ``churned``.

Example:
    >>> stages = lifecycle_stages(profile, orders, cfg.segments.lifecycle)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.segments.config import LifecycleConfig

STAGES = ("prospect", "new", "active", "at_risk", "lapsed", "churned", "reactivated")
LIFECYCLE_COLUMNS = ["uid", "as_of", "stage", "previous_stage", "changed_at", "recency_days",
                     "purchase_days", "cadence_days"]


def purchase_history(orders: DataFrame, as_of: dt.date) -> DataFrame:
    """Per UID: ``purchase_days``, ``first_day``, ``last_day`` and ``previous_day`` (the
    purchase day before the last; null with one purchase day), up to ``as_of``.

    One grouped aggregation: the set of a customer's purchase days (bounded by the days
    they bought on) gives the count and the day before the last, without a second pass
    over the orders.
    """
    day = F.to_date("ts")
    per = (orders.where(day <= F.lit(as_of)).groupBy("uid")
           .agg(F.collect_set(day).alias("_days")))
    last = F.array_max("_days")
    return per.select(
        "uid", F.size("_days").alias("purchase_days"), F.array_min("_days").alias("first_day"),
        last.alias("last_day"), F.array_max(F.array_remove("_days", last)).alias("previous_day"))


def _threshold(cfg: LifecycleConfig, multiple: float, days: int) -> Column:
    """The customer's own threshold when they have a cadence, else the global one."""
    own = F.greatest(F.col("cadence_days") * F.lit(multiple), F.lit(float(cfg.cadence.min_days)))
    return F.when(F.col("cadence_days").isNotNull(), own).otherwise(F.lit(float(days)))


def lifecycle_stages(profile: DataFrame, orders: DataFrame, cfg: LifecycleConfig,
                     as_of: dt.date | None = None) -> DataFrame:
    """Each profile UID's current stage.

    Args:
        profile: ``uid, as_of`` (one as-of date for every row).
        orders: ``uid, ts`` of the UIDs' orders (any date; later ones are ignored).
        cfg: The lifecycle section.
        as_of: The profile's as-of date when the caller knows it (saves a Spark job);
            read from the profile otherwise.

    Returns:
        ``uid, as_of, stage, recency_days, purchase_days, cadence_days``.
    """
    if as_of is None:
        as_of = profile.select("as_of").first()["as_of"]
    hist = purchase_history(orders, as_of)
    cc = cfg.cadence
    base = (profile.select("uid", "as_of").join(hist, on="uid", how="left").select(
        "uid", "as_of",
        F.coalesce("purchase_days", F.lit(0)).cast("int").alias("purchase_days"),
        F.datediff("as_of", "last_day").alias("recency_days"),
        F.datediff("as_of", "first_day").alias("tenure_days"),
        F.datediff("last_day", "previous_day").alias("gap_days"),
        F.when(F.col("purchase_days") >= cc.min_orders,
               F.datediff("last_day", "first_day") / (F.col("purchase_days") - 1))
        .alias("cadence_days")))
    active = _threshold(cfg, cc.active_multiple, cfg.active_days)
    rec = F.col("recency_days")
    stage = (F.when(F.col("purchase_days") == 0, "prospect")
             .when(F.col("tenure_days") <= cfg.new_days, "new")
             .when((rec <= active) & (F.col("gap_days") >= _threshold(
                 cfg, cc.reactivation_multiple, cfg.reactivation_gap_days)), "reactivated")
             .when(rec <= active, "active")
             .when(rec <= _threshold(cfg, cc.at_risk_multiple, cfg.at_risk_days), "at_risk")
             .when(rec <= _threshold(cfg, cc.lapsed_multiple, cfg.lapsed_days), "lapsed")
             .otherwise("churned"))
    return base.select("uid", "as_of", stage.alias("stage"), "recency_days", "purchase_days",
                       "cadence_days")


def with_transitions(current: DataFrame, previous: DataFrame | None) -> DataFrame:
    """Carry each UID's last change: ``previous_stage`` is the stage held before the
    latest change and ``changed_at`` the as-of date it was seen; a UID whose stage did
    not move keeps both, so a refresh without new orders rewrites nothing.

    Args:
        current: ``uid, as_of, stage, ...`` of this run.
        previous: The published ``gold/segments_lifecycle`` (or None on a first run).

    Returns:
        ``current`` with ``previous_stage`` and ``changed_at`` (date), in
        :data:`LIFECYCLE_COLUMNS` order.
    """
    if previous is None:
        out = current.select("*", F.lit(None).cast("string").alias("previous_stage"),
                             F.col("as_of").alias("changed_at"))
        return out.select(LIFECYCLE_COLUMNS)
    prev = previous.select("uid", F.col("stage").alias("_stage"),
                           F.col("previous_stage").alias("_previous"),
                           F.col("changed_at").alias("_changed"))
    same = F.col("_stage").isNotNull() & (F.col("_stage") == F.col("stage"))
    return current.join(prev, on="uid", how="left").select(
        *[c for c in current.columns],
        F.when(same, F.col("_previous")).otherwise(F.col("_stage")).alias("previous_stage"),
        F.when(same, F.col("_changed")).otherwise(F.col("as_of")).alias("changed_at"),
    ).select(LIFECYCLE_COLUMNS)

"""CLV on Spark: per-customer summaries, the sufficient statistics the fits read, scoring.

Nothing here brings customers to the driver. The BG/NBD fit reads the distinct
``(frequency, recency, T)`` patterns with their counts: with recency and T counted in
whole days, their number is bounded by the purchase history's length (at most
``x_max * D * (D + 1) / 2`` for D days), not by the number of customers. Gamma-Gamma
reads repeat buyers grouped by frequency and a spend bin of relative width
``monetary_precision`` (``log(1 + precision)`` on the log scale), with each group's
count and exact sum of log spend.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.segments.clv import model

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["uid", "frequency", "recency", "T", "monetary", "first_purchase",
                   "last_purchase"]


@dataclass(frozen=True)
class ClvModel:
    """The two fitted models and the settings that turn them into lifetime value.

    Attributes:
        bgnbd: The BG/NBD fit (``r, alpha, a, b``).
        gamma_gamma: The Gamma-Gamma fit (``p, q, gamma``).
        horizon: Periods looked ahead.
        discount_per_unit: Discount rate per period.
        unit_days: Days per period.
    """

    bgnbd: model.Fit
    gamma_gamma: model.Fit
    horizon: int
    discount_per_unit: float
    unit_days: float

    def as_dict(self) -> dict[str, float | int]:
        """Parameters and settings as plain numbers (MLflow, the pyfunc artifact)."""
        return {**self.bgnbd.params, **self.gamma_gamma.params, "horizon": self.horizon,
                "discount_per_unit": self.discount_per_unit, "unit_days": self.unit_days}


def customer_summary(orders: DataFrame, as_of: dt.date, unit_days: float,
                     key: str = "uid", amount: str = "amount_reporting") -> DataFrame:
    """Per customer: repeat purchases, recency, T and average repeat spend.

    Purchases are counted per distinct day (two orders on one day are one purchase, as
    in the models' derivation); orders after the as-of date are ignored.

    Args:
        orders: One row per order with ``key``, ``ts`` and ``amount``.
        as_of: The date the customer base is observed at (inclusive).
        unit_days: Days per time unit of ``recency`` and ``T``.
        key: The customer key column.
        amount: The order value column (reporting currency).

    Returns:
        ``uid, frequency`` (repeat purchase days), ``recency`` (first to last purchase),
        ``T`` (first purchase to the as-of date), ``monetary`` (mean spend of the repeat
        purchase days; 0 without one), ``first_purchase, last_purchase`` (dates).
    """
    end = F.lit(as_of).cast("date")
    days = (orders.where(F.to_date("ts") <= end)
            .groupBy(F.col(key).alias("uid"), F.to_date("ts").alias("day"))
            .agg(F.sum(F.coalesce(F.col(amount), F.lit(0.0))).alias("spend")))
    per = days.groupBy("uid").agg(
        F.count("*").alias("n_days"), F.sum("spend").alias("total"),
        F.min("day").alias("first_purchase"), F.max("day").alias("last_purchase"),
        F.min_by("spend", "day").alias("first_spend"))
    repeat = F.col("n_days") - 1
    return per.select(
        "uid",
        repeat.cast("long").alias("frequency"),
        (F.datediff("last_purchase", "first_purchase") / F.lit(unit_days)).alias("recency"),
        (F.datediff(end, "first_purchase") / F.lit(unit_days)).alias("T"),
        F.when(repeat > 0, (F.col("total") - F.col("first_spend")) / repeat)
        .otherwise(F.lit(0.0)).alias("monetary"),
        "first_purchase", "last_purchase")


def bgnbd_patterns(summary: DataFrame) -> pd.DataFrame:
    """The distinct ``(frequency, recency, T)`` patterns and their counts.

    Small by construction (see the module docstring), so it is collected.
    """
    return (summary.groupBy("frequency", "recency", "T").agg(F.count("*").alias("n"))
            .toPandas())


def gamma_gamma_groups(summary: DataFrame, precision: float) -> pd.DataFrame:
    """Repeat buyers with a positive average spend, grouped by frequency and spend bin:
    ``frequency, n, sum_log_m, m`` (``m`` is the group's geometric mean spend)."""
    width = math.log1p(precision)
    buyers = summary.where((F.col("frequency") > 0) & (F.col("monetary") > 0))
    return (buyers.groupBy("frequency", F.floor(F.log("monetary") / width).alias("bin"))
            .agg(F.count("*").alias("n"), F.sum(F.log("monetary")).alias("sum_log_m"))
            .select("frequency", "n", "sum_log_m", F.exp(F.col("sum_log_m") / F.col("n"))
                    .alias("m"))
            .toPandas())


def fit(summary: DataFrame, *, l2: float, max_iterations: int, monetary_precision: float,
        horizon: int, discount_per_unit: float, unit_days: float,
        min_repeat_buyers: int = 1) -> ClvModel:
    """Fit BG/NBD and Gamma-Gamma on the summary's sufficient statistics.

    Raises:
        ClvFitError: Too few repeat buyers, or a fit that does not converge.
    """
    patterns = bgnbd_patterns(summary)
    groups = gamma_gamma_groups(summary, monetary_precision)
    repeat_buyers = int(groups["n"].sum()) if len(groups) else 0
    if repeat_buyers < min_repeat_buyers:
        raise model.ClvFitError(
            f"only {repeat_buyers} repeat buyer(s) with a positive spend; the CLV models need "
            f"at least {min_repeat_buyers} (segments.clv.min_repeat_buyers): use more "
            f"purchase history or lower the minimum")
    bg = model.fit_bgnbd(patterns["frequency"].to_numpy(), patterns["recency"].to_numpy(),
                         patterns["T"].to_numpy(), patterns["n"].to_numpy(), l2=l2,
                         max_iter=max_iterations)
    gg = model.fit_gamma_gamma(groups["frequency"].to_numpy(), groups["sum_log_m"].to_numpy(),
                               groups["m"].to_numpy(), groups["n"].to_numpy(), l2=l2,
                               max_iter=max_iterations)
    log.info("clv: BG/NBD on %d pattern(s) of %d customers: %s; Gamma-Gamma on %d group(s) "
             "of %d repeat buyers: %s", bg.patterns, bg.customers, _rounded(bg.params),
             gg.patterns, gg.customers, _rounded(gg.params))
    return ClvModel(bgnbd=bg, gamma_gamma=gg, horizon=horizon,
                    discount_per_unit=discount_per_unit, unit_days=unit_days)


def _rounded(params: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in params.items()}


def predict_pandas(params: dict[str, float], frequency: np.ndarray, recency: np.ndarray,
                   t: np.ndarray, monetary: np.ndarray, horizon: int,
                   discount_per_unit: float) -> pd.DataFrame:
    """Score customers (numpy in, pandas out): ``p_alive, expected_purchases,
    expected_spend, clv``. Shared by the Spark UDF and the MLflow pyfunc.

    A customer without a positive average repeat spend is given the population's mean
    spend per purchase (Gamma-Gamma with ``x = 0``).
    """
    x, t_x, tt, m = (np.asarray(v, dtype=float) for v in (frequency, recency, t, monetary))
    usable = (x > 0) & (m > 0)
    spend = model.expected_spend_per_purchase(params, np.where(usable, x, 0.0),
                                              np.where(usable, m, 0.0))
    purchases = model.expected_purchases(params, float(horizon), x, t_x, tt)
    discounted = model.discounted_purchases(params, horizon, discount_per_unit, x, t_x, tt)
    return pd.DataFrame({"p_alive": model.p_alive(params, x, t_x, tt),
                         "expected_purchases": purchases,
                         "expected_spend": purchases * spend, "clv": discounted * spend})


PREDICTION = T.StructType([T.StructField(name, T.DoubleType()) for name in
                           ("p_alive", "expected_purchases", "expected_spend", "clv")])


def score(summary: DataFrame, clv: ClvModel, horizon: int | None = None) -> DataFrame:
    """Add ``p_alive, expected_purchases, expected_spend, clv`` to a summary.

    A vectorised pandas UDF does the work: the conditional expectation needs the Gauss
    hypergeometric function (``scipy.special.hyp2f1``), which Spark has no built-in for;
    Arrow batches keep it at numpy speed.

    Args:
        summary: ``frequency, recency, T, monetary`` per customer.
        clv: The fitted models.
        horizon: Periods looked ahead (default: the model's).
    """
    params = {**clv.bgnbd.params, **clv.gamma_gamma.params}
    periods = clv.horizon if horizon is None else horizon
    discount = clv.discount_per_unit

    @F.pandas_udf(PREDICTION)
    def _predict(x: pd.Series, t_x: pd.Series, t: pd.Series, m: pd.Series) -> pd.DataFrame:
        return predict_pandas(params, x.to_numpy(), t_x.to_numpy(), t.to_numpy(),
                              m.to_numpy(), periods, discount)

    pred = _predict(F.col("frequency").cast("double"), F.col("recency"), F.col("T"),
                    F.col("monetary"))
    return summary.withColumn("_p", pred).select(
        *summary.columns, *[F.col(f"_p.{f.name}").alias(f.name) for f in PREDICTION.fields])

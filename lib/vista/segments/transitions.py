"""How customers moved between the segments of one segmentation from one run to the next.

Every segmentation (RFM, lifecycle, lifestyle, ...) reports its stability the same way:
a transition matrix in long form, one row per (previous, current) pair with its count.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

NEW = "(new)"
GONE = "(gone)"


def transition_counts(
    previous: DataFrame | None,
    current: DataFrame,
    segmentation: str,
    key: str = "uid",
    column: str = "segment",
) -> DataFrame:
    """Count customers per (previous segment, current segment).

    A customer absent from the previous assignment counts as coming from ``(new)``; one
    absent from the current assignment as going to ``(gone)``.

    Args:
        previous: The previous run's assignment (``key``, ``column``), or None on a
            first run (every customer is then new).
        current: This run's assignment.
        segmentation: The segmentation's name, written in every row.
        key: The customer key column.
        column: The segment column of both frames.

    Returns:
        ``segmentation, previous, current, customers`` (long), one row per pair seen.

    Example:
        >>> transition_counts(prev, curr, "rfm").show()          # doctest: +SKIP
    """
    cur = current.select(key, F.col(column).cast("string").alias("current"))
    if previous is None:
        pairs = cur.select(F.lit(NEW).alias("previous"), "current")
    else:
        prev = previous.select(key, F.col(column).cast("string").alias("previous"))
        pairs = prev.join(cur, on=key, how="full_outer").select(
            F.coalesce("previous", F.lit(NEW)).alias("previous"),
            F.coalesce("current", F.lit(GONE)).alias("current"))
    return (pairs.groupBy("previous", "current").agg(F.count("*").alias("customers"))
            .select(F.lit(segmentation).alias("segmentation"), "previous", "current",
                    "customers"))


def changed_share(transitions: DataFrame) -> float:
    """The share of customers present in both runs whose segment changed (0 when none).

    ``transitions`` is the output of :func:`transition_counts`: a handful of rows.
    """
    row = (transitions.where((F.col("previous") != NEW) & (F.col("current") != GONE))
           .agg(F.sum("customers").alias("n"),
                F.sum(F.when(F.col("previous") != F.col("current"), F.col("customers"))
                      .otherwise(0)).alias("moved"))
           .first())
    return float(row["moved"] or 0) / float(row["n"]) if row and row["n"] else 0.0

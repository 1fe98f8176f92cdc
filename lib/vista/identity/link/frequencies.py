"""Term frequencies kept with the model, so a pair's score depends on its two records only.

Splink's term-frequency adjustments weigh an exact match on a value by how common the
value is: its count over the non-null count of the column. Computed afresh over each
run's population, every pair's score moves whenever any record changes (the denominator
does), so an unchanged pair kept from an earlier run no longer has the score a full
re-score would give it, and a pair near ``match_threshold`` can cross it: an incremental
run then clusters differently from a full one.

vista therefore fixes the frequencies once per model and lake, like the model's other
parameters: the first run that applies a model to a lake computes them over that run's
(prepared) records, the lake keeps them, and every later run, incremental or full,
scores with the kept ones until the model changes. A value the kept table does not hold
(new since) counts as seen once: ``1 / n``, with ``n`` the column's non-null count when
the frequencies were computed, which is what the first run gives a value it saw once.
So the table holds only values seen twice or more, and holds them as SHA-256 hashes:
no name or e-mail address is written in it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

FREQUENCIES = T.StructType([
    T.StructField("model_key", T.StringType(), False),
    T.StructField("column", T.StringType(), False),
    T.StructField("value_hash", T.StringType(), True),  # null: a value not in the table
    T.StructField("tf", T.DoubleType(), False),
])
"""A model's term frequencies: one row per (column, value seen twice or more), the value
as its SHA-256 hash, and per column one row with a null hash holding the frequency of a
value the table does not hold (``1 / n``)."""


def _hash(value: Column) -> Column:
    return F.sha2(value.cast("string"), 256)


def model_key(settings: dict[str, Any]) -> str:
    """The key kept frequencies belong to: a hash of the model's Splink settings."""
    import json

    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def frequency_columns(settings: dict[str, Any]) -> list[str]:
    """The columns the model adjusts by term frequency (from its Splink settings)."""
    return sorted({lv["tf_adjustment_column"] for c in settings.get("comparisons", [])
                   for lv in c["comparison_levels"] if lv.get("tf_adjustment_column")})


def term_frequencies(prepared: DataFrame, columns: list[str], key: str) -> DataFrame:
    """``FREQUENCIES`` rows for ``columns`` of the prepared records, as Splink computes them.

    Args:
        prepared: Records prepared as the model compares them.
        columns: The term-frequency columns (:func:`frequency_columns`).
        key: The model's :func:`model_key`.

    Returns:
        One row per (column, value held by two records or more): ``count / non-null
        count``, and per column a row with a null hash and ``1 / non-null count``.
    """
    spark = prepared.sparkSession
    if not columns:
        return spark.createDataFrame([], FREQUENCIES)
    long = prepared.select(F.explode(F.array(*[
        F.struct(F.lit(c).alias("column"), F.col(c).cast("string").alias("value"))
        for c in columns])).alias("v")).select("v.*").where(F.col("value").isNotNull())
    counts = long.groupBy("column", "value").agg(F.count("*").alias("n"))
    totals = counts.groupBy("column").agg(F.sum("n").alias("total"))
    rows = counts.join(totals, "column", how="inner")
    known = rows.where(F.col("n") > 1).select(
        "column", _hash(F.col("value")).alias("value_hash"),
        (F.col("n") / F.col("total")).alias("tf"))
    unseen = totals.select("column", F.lit(None).cast("string").alias("value_hash"),
                           (F.lit(1.0) / F.col("total")).alias("tf"))
    return known.unionByName(unseen).select(
        F.lit(key).alias("model_key"), "column", "value_hash", F.col("tf").cast("double"))


def value_frequencies(prepared: DataFrame, frequencies: DataFrame,
                      columns: list[str]) -> DataFrame:
    """``column, value, tf`` for every value ``prepared`` holds in ``columns``: the kept
    frequency, or the unseen-value one for a value the table lacks (one pass over the
    records for all columns; :func:`frequency_lookup` takes one column's rows)."""
    long = prepared.select(F.explode(F.array(*[
        F.struct(F.lit(c).alias("column"), F.col(c).cast("string").alias("value"))
        for c in columns])).alias("v")).select("v.*").where(F.col("value").isNotNull())
    kept = frequencies.where(F.col("value_hash").isNotNull()).select(
        "column", "value_hash", "tf")
    unseen = frequencies.where(F.col("value_hash").isNull()).select(
        "column", F.col("tf").alias("unseen"))
    return (long.distinct().withColumn("value_hash", _hash(F.col("value")))
            .join(kept, ["column", "value_hash"], how="left")
            .join(F.broadcast(unseen), "column", how="inner")
            .select("column", "value", F.coalesce("tf", "unseen").alias("tf")))


def frequency_lookup(values: DataFrame, column: str, data_type: T.DataType) -> DataFrame:
    """Splink's lookup for ``column`` (``column, tf_column``) from
    :func:`value_frequencies`, the value in the column's own type."""
    return values.where(F.col("column") == column).select(
        F.col("value").cast(data_type).alias(column), F.col("tf").alias(f"tf_{column}"))

"""Micro-segments: the overlay of several segmentations, small cells folded upwards.

A micro-segment is one combination of the configured dimensions (by default lifecycle
stage x value segment x lifestyle), named by joining their values. A cell smaller than
``min_size`` folds into the named remainder of its parent ("active · champions ·
other"); a remainder still too small folds one level further up ("active · other"),
and so on up to the overall "other". Each step is one windowed count in Spark.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from vista.config.models import Section


class MicroDimension(Section):
    """One dimension of the overlay.

    Attributes:
        name: The dimension's column in ``gold/micro_segments`` (``lifecycle``).
        table: The lake table holding the segmentation (one row per ``uid``).
        column: Its segment column.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    table: str
    column: str


def _default_dimensions() -> list[MicroDimension]:
    return [
        MicroDimension(name="lifecycle", table="gold/segments_lifecycle", column="stage"),
        MicroDimension(name="value", table="gold/segments_rfm", column="segment"),
        MicroDimension(name="lifestyle", table="gold/segments_lifestyle", column="segment"),
    ]


class MicroConfig(Section):
    """The ``segments.micro`` section.

    Attributes:
        enabled: Compute micro-segments.
        dimensions: The overlaid segmentations, outermost first (folding drops the last
            dimension first).
        min_size: A micro-segment smaller than this folds into its parent's remainder.
        separator: Joins the dimension values in a name.
        remainder: The name of a parent's remainder.
        missing: The value of a dimension a customer has no segment in.
    """

    enabled: bool = True
    dimensions: list[MicroDimension] = Field(default_factory=_default_dimensions,
                                             min_length=1)
    min_size: int = Field(50, ge=1)
    separator: str = " · "
    remainder: str = "other"
    missing: str = "unknown"

    @field_validator("dimensions")
    @classmethod
    def _unique(cls, dims: list[MicroDimension]) -> list[MicroDimension]:
        names = [d.name for d in dims]
        if len(set(names)) != len(names):
            raise ValueError(f"dimension names must be unique; found {names}")
        return dims


def overlay(frames: dict[str, DataFrame], customers: DataFrame, missing: str) -> DataFrame:
    """``uid`` plus one column per dimension, for every customer of ``customers``.

    Args:
        frames: Dimension name -> ``uid, segment`` frame (one row per uid).
        customers: ``uid`` of every customer to place.
        missing: The value of a dimension without a row for the customer.
    """
    out = customers.select("uid")
    for name, df in frames.items():
        out = out.join(df.select("uid", F.col("segment").cast("string").alias(name)),
                       on="uid", how="left")
    return out.fillna(missing, subset=list(frames))


def fold(assigned: DataFrame, dimensions: list[str], cfg: MicroConfig) -> DataFrame:
    """Name each customer's micro-segment, folding cells smaller than ``min_size``.

    Args:
        assigned: ``uid`` and one column per dimension.
        dimensions: The dimension columns, outermost first.
        cfg: The micro config (size, separator, remainder).

    Returns:
        ``uid, micro_segment, <dimensions>, level, size, share``: ``level`` is the number
        of dimensions the name keeps (a full cell has ``len(dimensions)``).

    Example:
        >>> fold(df, ["lifecycle", "value"], MicroConfig(min_size=2))   # doctest: +SKIP
    """
    depth = len(dimensions)

    def prefix(d: int):  # noqa: ANN202
        return F.array(*[F.col(c) for c in dimensions[:d]])

    out = assigned.withColumn("level", F.lit(depth))
    for d in range(depth, 0, -1):
        # rows at level d share a name exactly when they share their first d values
        size = F.count("*").over(Window.partitionBy("level", *dimensions[:d]))
        out = out.withColumn("level", F.when((F.col("level") == d) & (size < cfg.min_size),
                                             F.lit(d - 1)).otherwise(F.col("level")))
    kept = F.slice(prefix(depth), 1, F.col("level"))
    name = F.when(F.col("level") == depth, F.array_join(kept, cfg.separator)).otherwise(
        F.array_join(F.concat(kept, F.array(F.lit(cfg.remainder))), cfg.separator))
    named = out.withColumn("micro_segment", name)
    total = F.broadcast(assigned.agg(F.count("*").alias("_total")))
    size = F.count("*").over(Window.partitionBy("micro_segment"))
    return named.crossJoin(total).select(
        "uid", "micro_segment", *dimensions, F.col("level").cast("int").alias("level"),
        size.alias("size"), (size / F.col("_total")).alias("share"))

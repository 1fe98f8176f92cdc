"""Publish a segmentation table by its changes only.

A refresh compares the new assignment with the published one row by row (doubles within
a relative tolerance, so the last bits of a refit do not count as a change) and merges
only the rows that changed, appeared or disappeared. A refresh without new data writes
nothing: the table keeps its Delta version, and ``run_id`` keeps naming the run that
last changed each row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

log = logging.getLogger(__name__)

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Published:
    """What a publish did.

    Attributes:
        table: The table name.
        rows: Rows of the new assignment.
        changed: Rows inserted or updated.
        removed: Rows deleted (keys no longer present).
        mode: ``created``, ``merged`` or ``unchanged``.
    """

    table: str
    rows: int
    changed: int
    removed: int
    mode: str


def _same(field: T.StructField) -> Column:
    new, old = F.col(f"n.{field.name}"), F.col(f"o.{field.name}")
    if isinstance(field.dataType, T.DoubleType | T.FloatType):
        close = F.abs(new - old) <= F.lit(TOLERANCE) * F.greatest(F.lit(1.0), F.abs(old))
        return (new.isNull() & old.isNull()) | F.coalesce(close, F.lit(False))
    return new.eqNullSafe(old)


def publish_changes(lake: Lake, table: str, frame: DataFrame, run_id: str,
                    key: str = "uid") -> Published:
    """Write ``frame`` (plus ``run_id``) to ``table``, touching only changed rows.

    Args:
        lake: The lake.
        table: Logical table name.
        frame: The full new assignment, one row per ``key``, without ``run_id``.
        run_id: This run's id, written on changed rows.
        key: The row key.

    Returns:
        What was written.
    """
    columns = frame.columns
    stamped = frame.withColumn("run_id", F.lit(run_id))
    if not lake.exists(table) or lake.read(table).columns != [*columns, "run_id"]:
        rows = lake.overwrite(table, stamped).rows_written
        return Published(table, int(rows or 0), int(rows or 0), 0, "created")
    old = lake.read(table)
    fields = [f for f in frame.schema.fields if f.name != key]
    same = F.lit(True)
    for field in fields:
        same = same & _same(field)
    joined = frame.alias("n").join(old.alias("o"), on=key, how="left")
    changed = (joined.where(F.col(f"o.{key}").isNull() | ~same)
               .select(key, *[F.col(f"n.{f.name}").alias(f.name) for f in fields])
               .select(*columns, F.lit(run_id).alias("run_id"), F.lit("U").alias("_op")))
    gone = old.join(frame.select(key), on=key, how="left_anti").select(
        key, F.lit("D").alias("_op"))
    source = changed.unionByName(gone, allowMissingColumns=True).checkpoint(eager=True)
    counts = {r["_op"]: int(r["n"]) for r in
              source.groupBy("_op").agg(F.count("*").alias("n")).collect()}  # <= 2 rows
    rows = frame.count()
    if not counts:
        log.info("%s: no row changed; not written", table)
        return Published(table, rows, 0, 0, "unchanged")
    lake.merge(table, source, [key], delete_when="_op = 'D'")
    return Published(table, rows, counts.get("U", 0), counts.get("D", 0), "merged")

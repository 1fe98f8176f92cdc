"""Compaction and vacuum on both engines: rows unchanged, old files gone, time travel kept."""

from __future__ import annotations

from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import types as T

ROWS = T.StructType([T.StructField("id", T.LongType()), T.StructField("day", T.StringType())])


def _parquet(lake, table: str) -> int:
    return sum(1 for _ in Path(lake.path(table)).rglob("*.parquet"))


def test_compaction_then_vacuum_keeps_rows_and_the_retention_window(lake, spark):
    t = "bronze/events"
    batches = [[(i * 10 + j, f"d{j % 2}") for j in range(3)] for i in range(5)]
    for rows in batches:  # five small appends, as streaming ingestion leaves them
        lake.append(t, spark.createDataFrame(rows, ROWS).coalesce(1))
    everything = spark.createDataFrame([r for b in batches for r in b], ROWS)
    assert _parquet(lake, t) == 5

    assert lake.compact(t, min_files=6).skipped  # five small files are under the threshold
    result = lake.compact(t, min_files=2)
    assert (result.skipped, result.operation, result.version) == (False, "compact", 5)
    assert_df_equality(lake.read(t), everything, ignore_row_order=True, ignore_nullable=True)
    assert lake.history(t)[0]["operation"] == "compact"

    kept = lake.maintain(t, retention_hours=1, min_files=2)  # nothing left to compact
    assert not kept.compacted  # (delta-spark's vacuum leaves a _last_vacuum_info file)
    assert lake.version(t) == 5  # vacuum adds no commit
    assert _parquet(lake, t) == 6  # the replaced files stay inside the retention
    first = spark.createDataFrame(batches[0], ROWS)
    assert_df_equality(lake.read(t, version=0), first, ignore_row_order=True,
                       ignore_nullable=True)  # time travel inside the retention

    lake.vacuum(t, retention_hours=0)
    assert _parquet(lake, t) == 1  # the compacted file is all that is left
    assert_df_equality(lake.read(t), everything, ignore_row_order=True, ignore_nullable=True)

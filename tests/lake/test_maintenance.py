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


def _names(dt) -> list[str]:
    return sorted(Path(uri).name for uri in dt.file_uris())


def _aged(table: Path, version: int, hours: float, files: list[str]) -> None:
    """Make ``version``'s removes and ``files`` look ``hours`` old (as if written then)."""
    import json
    import os
    import time

    then = time.time() - hours * 3600
    commit = table / "_delta_log" / f"{version:020d}.json"
    actions = [json.loads(line) for line in commit.read_text().splitlines() if line.strip()]
    for action in actions:
        if "remove" in action:
            action["remove"]["deletionTimestamp"] = int(then * 1000)
    commit.write_text("".join(json.dumps(a) + "\n" for a in actions))
    for name in files:
        os.utime(table / name, (then, then))


def test_vacuum_runs_only_when_a_file_is_past_the_retention(lake, spark, tmp_path: Path):
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    # Written outside the lake, so no engine has read (or cached) a log edited below.
    fresh, old = tmp_path / "fresh", tmp_path / "old"
    for table in (fresh, old):
        write_deltalake(str(table), pa.table({"id": [1, 2]}))
        write_deltalake(str(table), pa.table({"id": [3]}), mode="overwrite")

    kept = lake.maintain(str(fresh), retention_hours=24, min_files=8)
    assert (kept.vacuumed, kept.files_after) == (False, kept.files_before)
    assert not (fresh / "_delta_log" / "_last_vacuum_info").exists()  # VACUUM never started

    first, second = (_names(DeltaTable(str(old), version=v)) for v in (0, 1))
    _aged(old, 1, hours=48, files=first + second)  # v0's files were replaced two days ago
    write_deltalake(str(old), pa.table({"id": [4]}), mode="overwrite")  # v1's files: now
    third = _names(DeltaTable(str(old)))

    done = lake.maintain(str(old), retention_hours=24, min_files=8)
    assert done.vacuumed
    left = sorted(p.name for p in old.glob("*.parquet"))
    assert left == sorted(second + third)  # replaced two days ago: gone; today: kept
    ids = T.StructType([T.StructField("id", T.LongType())])
    assert_df_equality(lake.read(str(old), version=1), spark.createDataFrame([(3,)], ids),
                       ignore_nullable=True)  # time travel inside the retention
    if lake.engine_name == "delta-spark":
        assert (old / "_delta_log" / "_last_vacuum_info").exists()

"""Contract suite for vista.lake: runs on every engine available in this session."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import types as T

from vista.errors import LakeError, MergeSourceNotUnique, UnsupportedTableFeature

PEOPLE = T.StructType([
    T.StructField("id", T.LongType()),
    T.StructField("name", T.StringType()),
    T.StructField("score", T.IntegerType()),
])


def assertDataFrameEqual(got, expected):  # noqa: N802 - pyspark.testing needs pandas<3
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def _df(spark, rows, schema=PEOPLE):
    return spark.createDataFrame(rows, schema)


def _outside_spark(path: str, spark, schema: T.StructType, version: int | None = None):
    """The table as deltalake alone reads it, as a Spark frame for whole-frame comparison."""
    table = DeltaTable(path, version=version).to_pyarrow_table()
    rows = [tuple(r[f.name] for f in schema.fields) for r in table.to_pylist()]
    return spark.createDataFrame(rows, schema)


def test_each_write_is_one_version_and_deltalake_reads_the_same_rows(lake, spark):
    seen = []
    lake.add_commit_listener(seen.append)
    t = "silver/people"
    first = _df(spark, [(1, "Ana", 10), (2, "Luis", 20), (3, "Eva", 30)])
    r0 = lake.overwrite(t, first)
    r1 = lake.append(t, _df(spark, [(4, "Marta", 40)]))
    r2 = lake.merge(t, _df(spark, [(2, "Luis", 21), (5, "Iker", 50)]), ["id"])
    r3 = lake.delete(t, "score >= 40")
    assert [r.version for r in (r0, r1, r2, r3)] == [0, 1, 2, 3]
    assert [r.operation for r in seen] == ["overwrite", "append", "merge", "delete"]
    assert (r0.rows_written, r1.rows_written, r0.engine) == (3, 1, lake.engine_name)
    assert lake.version(t) == 3
    assert [h["version"] for h in lake.history(t)] == [3, 2, 1, 0]
    expected = _df(spark, [(1, "Ana", 10), (2, "Luis", 21), (3, "Eva", 30)])
    assertDataFrameEqual(lake.read(t), expected)
    assertDataFrameEqual(_outside_spark(lake.path(t), spark, PEOPLE), expected)
    # time travel
    assertDataFrameEqual(lake.read(t, version=0), first)
    assertDataFrameEqual(lake.read(t, version=1), first.union(_df(spark, [(4, "Marta", 40)])))


def test_merge_update_insert_delete_when(lake, spark):
    t = "silver/merge"
    lake.overwrite(t, _df(spark, [(1, "a", 1), (2, "b", 2), (3, "c", 3), (4, "d", 4)]))
    src_schema = T.StructType([*PEOPLE.fields, T.StructField("op", T.StringType())])
    source = _df(spark, [
        (1, "a2", 11, "U"),   # update
        (2, None, None, "D"),  # delete
        (5, "e", 5, "U"),     # insert
        (6, "f", 6, "D"),     # delete of an absent key: nothing inserted
        (None, "n", 7, "U"),  # null key never matches: inserted
    ], src_schema)
    result = lake.merge(t, source, ["id"], delete_when="op = 'D'")
    assert result.version == 1
    expected = _df(spark, [(1, "a2", 11), (3, "c", 3), (4, "d", 4), (5, "e", 5), (None, "n", 7)])
    assertDataFrameEqual(lake.read(t), expected)

    # insert only: matched rows keep their values
    lake.merge(t, _df(spark, [(1, "zz", 99), (7, "g", 7)]), ["id"], update=False)
    assertDataFrameEqual(lake.read(t), expected.union(_df(spark, [(7, "g", 7)])))
    # update only, source without the score column: score keeps the target value
    names = spark.createDataFrame([(3, "c3"), (8, "h")], "id long, name string")
    lake.merge(t, names, ["id"], insert=False)
    assertDataFrameEqual(lake.read(t), _df(spark, [
        (1, "a2", 11), (3, "c3", 3), (4, "d", 4), (5, "e", 5), (None, "n", 7), (7, "g", 7)]))
    assert lake.version(t) == 3


def test_merge_into_absent_table_creates_it(lake, spark):
    result = lake.merge("gold/new", _df(spark, [(1, "a", 1)]), ["id"])
    assert (result.version, result.rows_written) == (0, 1)
    assertDataFrameEqual(lake.read("gold/new"), _df(spark, [(1, "a", 1)]))


def test_merge_source_with_duplicate_keys_raises_with_examples(lake, spark):
    t = "silver/dups"
    lake.overwrite(t, _df(spark, [(1, "a", 1)]))
    source = _df(spark, [(7, "x", 1), (7, "y", 2), (8, "z", 3)])
    with pytest.raises(MergeSourceNotUnique, match=r"id=7 \(x2\)"):
        lake.merge(t, source, ["id"])
    assert lake.version(t) == 0


def test_idempotent_append_with_txn(lake, spark):
    t = "bronze/events"
    first = lake.append(t, _df(spark, [(1, "a", 1)]), txn=("ingest-crm", 5))
    again = lake.append(t, _df(spark, [(1, "a", 1)]), txn=("ingest-crm", 5))
    older = lake.append(t, _df(spark, [(1, "a", 1)]), txn=("ingest-crm", 4))
    newer = lake.append(t, _df(spark, [(2, "b", 2)]), txn=("ingest-crm", 6))
    assert (first.skipped, again.skipped, older.skipped, newer.skipped) == (
        False, True, True, False)
    assert (again.version, newer.version) == (0, 1)
    assert lake.txn_version(t, "ingest-crm") == 6
    assert lake.txn_version(t, "other-app") is None
    assertDataFrameEqual(lake.read(t), _df(spark, [(1, "a", 1), (2, "b", 2)]))


def test_append_schema_evolution_only_when_asked(lake, spark):
    t = "silver/evolve"
    lake.overwrite(t, _df(spark, [(1, "a", 1)]))
    wider = T.StructType([*PEOPLE.fields, T.StructField("email", T.StringType())])
    new_rows = _df(spark, [(2, "b", 2, "b@example.com")], wider)
    with pytest.raises(LakeError, match=r"email \(string\).*merge_schema=True"):
        lake.append(t, new_rows)
    version = lake.version(t)
    result = lake.append(t, new_rows, merge_schema=True)
    assert result.version > version
    assertDataFrameEqual(lake.read(t), _df(spark, [(1, "a", 1, None),
                                                   (2, "b", 2, "b@example.com")], wider))
    with pytest.raises(LakeError, match="score: table has int, data has string"):
        lake.append(t, spark.createDataFrame([(3, "c", "x")], "id long, name string, score string"))


def test_partitioned_overwrite_replaces_everything_and_reads_partitions(lake, spark):
    t = "silver/by_country"
    schema = T.StructType([T.StructField("id", T.LongType()),
                           T.StructField("country", T.StringType()),
                           T.StructField("day", T.DateType())])
    import datetime as dt

    d1, d2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)
    lake.overwrite(t, spark.createDataFrame(
        [(1, "ES", d1), (2, "FR", d1), (3, None, d2)], schema), partition_by=["country", "day"])
    second = spark.createDataFrame([(10, "ES", d2), (11, "PT", d1)], schema)
    result = lake.overwrite(t, second)
    assert (result.version, result.rows_written) == (1, 2)
    assertDataFrameEqual(lake.read(t), second)
    assertDataFrameEqual(lake.read(t).filter("country = 'PT'"), second.filter("country = 'PT'"))
    assertDataFrameEqual(_outside_spark(lake.path(t), spark, schema), second)
    assertDataFrameEqual(lake.read(t, version=0).filter("country is null"),
                         spark.createDataFrame([(3, None, d2)], schema))
    assert DeltaTable(lake.path(t)).metadata().partition_columns == ["country", "day"]


def test_unknown_table_and_bad_names(lake, spark):
    assert not lake.exists("silver/missing")
    with pytest.raises(LakeError, match="does not exist"):
        lake.read("silver/missing")
    with pytest.raises(LakeError, match="climbs out"):
        lake.path("../etc")
    assert lake.path("/abs/table") == "/abs/table"
    assert lake.path("s3://bucket/lake/t") == "s3://bucket/lake/t"


# ---- delta-rs engine only: its own commit path ---------------------------------------------

def _committer(table: str, name: str, ident: int, barrier) -> int:
    """A Spark-free process: write a Parquet file with pyarrow, commit it through vista."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vista.lake._commit import Commit, DataFile, commit_files

    rel = f"{name}.parquet"
    pq.write_table(pa.table({"id": pa.array([ident], pa.int64()), "name": [name],
                             "score": pa.array([ident], pa.int32())}), f"{table}/{rel}")
    stat = os.stat(f"{table}/{rel}")
    commit = Commit(adds=[DataFile(rel, stat.st_size, int(stat.st_mtime * 1000), 1)],
                    schema_json=PEOPLE.json(), operation="append")
    barrier.wait()
    return commit_files(table, commit, snapshot=DeltaTable(table))


def test_concurrent_appends_from_two_processes_both_land(rs_lake, spark):
    t = "bronze/concurrent"
    rs_lake.overwrite(t, _df(spark, [(0, "base", 0)]))
    path = rs_lake.path(t)
    ctx = mp.get_context("spawn")
    barrier = ctx.Manager().Barrier(2)
    with ctx.Pool(2) as pool:
        versions = pool.starmap(_committer, [(path, "p1", 1, barrier), (path, "p2", 2, barrier)])
    assert sorted(versions) == [1, 2]
    assertDataFrameEqual(rs_lake.read(t), _df(spark, [(0, "base", 0), (1, "p1", 1), (2, "p2", 2)]))


def test_crash_between_files_and_commit_leaves_previous_version(rs_lake, spark, monkeypatch):
    from vista.lake import _commit, _files

    t = "silver/crash"
    before = _df(spark, [(1, "a", 1), (2, "b", 2)])
    rs_lake.overwrite(t, before)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash after the data files were written")

    monkeypatch.setattr(_commit, "commit_files", crash)
    monkeypatch.setattr(_files, "discard_write_dir", lambda *a, **k: None)  # a hard crash
    with pytest.raises(RuntimeError, match="simulated crash"):
        rs_lake.append(t, _df(spark, [(3, "c", 3)]))
    with pytest.raises(RuntimeError, match="simulated crash"):
        rs_lake.merge(t, _df(spark, [(1, "z", 9)]), ["id"])
    monkeypatch.undo()
    assert rs_lake.version(t) == 0
    assertDataFrameEqual(rs_lake.read(t), before)
    live = set(DeltaTable(rs_lake.path(t)).file_uris())
    on_disk = {str(p) for p in Path(rs_lake.path(t)).rglob("*.parquet")}
    orphans = on_disk - live
    assert orphans, "the crashed writes should have left uncommitted files"
    removed = rs_lake.vacuum(t, retention_hours=0)
    removed_data = {str(Path(rs_lake.path(t)) / r) for r in removed if r.endswith(".parquet")}
    assert removed_data == orphans  # (plus Hadoop's .crc side files)
    assert {str(p) for p in Path(rs_lake.path(t)).rglob("*.parquet")} == live
    assertDataFrameEqual(rs_lake.read(t), before)


def test_unsupported_reader_feature_is_named(rs_lake, spark):
    t = "silver/dv"
    rs_lake.overwrite(t, _df(spark, [(1, "a", 1)]))
    log = Path(rs_lake.path(t)) / "_delta_log" / f"{1:020d}.json"
    protocol = {"protocol": {"minReaderVersion": 3, "minWriterVersion": 7,
                             "readerFeatures": ["deletionVectors"],
                             "writerFeatures": ["deletionVectors"]}}
    info = {"commitInfo": {"timestamp": 1, "operation": "SET TBLPROPERTIES"}}
    log.write_text(json.dumps(info) + "\n" + json.dumps(protocol) + "\n")
    with pytest.raises(UnsupportedTableFeature, match="deletionVectors"):
        rs_lake.read(t)
    with pytest.raises(UnsupportedTableFeature, match="deletionVectors"):
        rs_lake.append(t, _df(spark, [(2, "b", 2)]))
    assertDataFrameEqual(rs_lake.read(t, version=0), _df(spark, [(1, "a", 1)]))


def test_delta_spark_without_jars_says_how_to_add_them(spark, tmp_path):
    from vista.config.models import LakeConfig
    from vista.lake import Lake
    from vista.spark import delta_jvm_available

    if delta_jvm_available(spark):
        pytest.skip("Delta JVM classes are on the classpath here")
    with pytest.raises(LakeError, match=r"--packages io\.delta:delta-spark_2\.13:4\.0\.0"):
        Lake(spark, str(tmp_path), engine="delta-spark")
    auto = Lake.from_config(spark, LakeConfig(root=str(tmp_path), engine="auto"))
    assert auto.engine_name == "delta-rs"


@pytest.mark.delta_spark
def test_auto_picks_delta_spark_when_its_classes_load(spark, tmp_path):
    from vista.config.models import LakeConfig
    from vista.lake import Lake

    auto = Lake.from_config(spark, LakeConfig(root=str(tmp_path), engine="auto"))
    assert auto.engine_name == "delta-spark"

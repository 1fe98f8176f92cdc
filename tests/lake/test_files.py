"""How the delta-rs engine describes the Parquet files Spark wrote for one commit."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import types as T

from vista.lake import _files


def _described(files: list) -> list[tuple]:
    return [(f.path, f.size, f.modification_time, f.num_records, dict(f.partition_values))
            for f in files]


def test_footers_and_the_distributed_scan_describe_the_same_files(spark, tmp_path: Path) -> None:
    # escaped partition values, a null partition and an empty task's file
    df = spark.createDataFrame([(1, "a b/c%é"), (2, "x"), (3, None), (4, "x")],
                               "id int, p string").repartition(3, "id")
    write_dir = _files.new_write_dir()
    files = _files.write_data_files(df, str(tmp_path), write_dir, ["p"])
    scanned = _files._describe_by_scan(spark, f"{tmp_path}/{write_dir}", write_dir, ["p"],
                                       T.StructType([T.StructField("id", T.IntegerType())]))
    assert _described(files) == _described(scanned)
    assert sum(f.num_records for f in files) == 4
    assert {f.partition_values["p"] for f in files} == {"a b/c%é", "x", None}


def test_a_write_that_left_no_folder_has_no_files(spark, tmp_path: Path) -> None:
    assert _files.describe_files(spark, str(tmp_path / "none"), "none", [],
                                 T.StructType([])) == []

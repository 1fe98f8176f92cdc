"""A table written by one engine is read and appended by the other (both in one session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

pytestmark = pytest.mark.delta_spark

ROWS = T.StructType([
    T.StructField("id", T.LongType()),
    T.StructField("country", T.StringType()),
    T.StructField("amount", T.DoubleType()),
])


def _df(spark, rows):
    return spark.createDataFrame(rows, ROWS)


def _equal(got, expected) -> None:
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True,
                       ignore_column_order=True)


@pytest.fixture()
def lakes(spark, tmp_path: Path):
    from vista.lake import Lake

    root = str(tmp_path / "lake")
    return Lake(spark, root, engine="delta-rs"), Lake(spark, root, engine="delta-spark")


@pytest.mark.parametrize("first", [0, 1], ids=["rs-then-spark", "spark-then-rs"])
def test_the_other_engine_reads_appends_merges_and_time_travels(lakes, spark, first):
    writer, other = lakes[first], lakes[1 - first]
    t = "silver/orders"
    base = _df(spark, [(1, "ES", 10.0), (2, "PT", 20.0), (3, "ES", None)])
    writer.overwrite(t, base, partition_by=["country"])
    writer.merge(t, _df(spark, [(2, "PT", 21.0)]), ["id"])
    after_merge = _df(spark, [(1, "ES", 10.0), (2, "PT", 21.0), (3, "ES", None)])
    _equal(other.read(t), after_merge)

    appended = other.append(t, _df(spark, [(4, "FR", 40.0)]))
    assert (appended.version, appended.engine) == (2, other.engine_name)
    other.delete(t, "id = 1")
    expected = _df(spark, [(2, "PT", 21.0), (3, "ES", None), (4, "FR", 40.0)])
    _equal(writer.read(t), expected)
    _equal(other.read(t), expected)
    _equal(writer.read(t, version=0), base)
    assert [h["version"] for h in writer.history(t)] == [3, 2, 1, 0]
    assert [h["operation"] for h in other.history(t)] == ["delete", "append", "merge",
                                                          "overwrite"]

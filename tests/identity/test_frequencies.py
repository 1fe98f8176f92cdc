"""Kept term frequencies: a value's frequency does not move with the population."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.identity.link.frequencies import (
    frequency_lookup,
    term_frequencies,
    value_frequencies,
)

SCHEMA = T.StructType([T.StructField("record_key", T.StringType(), False),
                       T.StructField("last_name_std", T.StringType(), True)])


def test_kept_frequencies_and_unseen_values(spark):
    then = spark.createDataFrame(
        [("a", "garcia"), ("b", "garcia"), ("c", "garcia"), ("d", "lopez"), ("e", None)],
        SCHEMA)
    kept = term_frequencies(then, ["last_name_std"], "m1")
    # a value held once is not kept (its frequency is the unseen one); values are hashed
    rows = kept.select("value_hash", "tf").collect()
    assert sorted(r.tf for r in rows) == [0.25, 0.75]
    assert {r.value_hash is None for r in rows} == {True, False}
    assert "garcia" not in {r.value_hash for r in rows}
    # later: more garcias and a new name; the kept frequencies still apply, a value the
    # table lacks counts as seen once when the frequencies were kept (1 / 4)
    now = then.unionByName(spark.createDataFrame(
        [("f", "garcia"), ("g", "garcia"), ("h", "perez")], SCHEMA))
    assert_df_equality(
        frequency_lookup(value_frequencies(now, kept, ["last_name_std"]), "last_name_std",
                         T.StringType()),
        spark.createDataFrame([("garcia", 0.75), ("lopez", 0.25), ("perez", 0.25)],
                              "last_name_std string, tf_last_name_std double"),
        ignore_row_order=True, ignore_nullable=True)
    # computed afresh over the new population, garcia's frequency would be 5/7
    fresh = term_frequencies(now, ["last_name_std"], "m1")
    assert fresh.where(F.col("value_hash").isNotNull()).first().tf == 5 / 7

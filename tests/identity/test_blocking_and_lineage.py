"""Blocking rules' comparison counts (and the guard), and lineage breaks by method."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from vista.identity.lineage import LineageBreaks
from vista.identity.link.blocking import (
    BlockingRuleTooBroad,
    check_comparison_counts,
    comparison_counts,
    rule_keys,
)

ROWS = [  # record_key, first, last, birth
    ("a", "ana", "ruiz", "1980"),
    ("b", "ana", "ruiz", "1980"),
    ("c", "ana", "ruiz", None),
    ("d", "ruiz", "ana", "1980"),
    ("e", "eva", "ana", "1980"),
    ("f", None, "sol", "1990"),
]
SCHEMA = "record_key string, first_name_std string, last_name_std string, birth_date string"


def test_counts_per_rule_kind(spark):
    records = spark.createDataFrame(ROWS, SCHEMA)
    rules = [
        ["first_name_std"],                        # ana x3 -> 3, ruiz, eva: 0
        ["first_name_std", "birth_date"],          # (ana,1980) x2 -> 1; c has a null part
        ["substring(last_name_std, 1, 1)"],        # r x3 -> 3, a x2 -> 1, s -> 0
        "l.first_name_std = r.last_name_std AND l.birth_date = r.birth_date",
        "l.birth_date < r.birth_date",             # no equality: every pair
    ]
    # cross rule: (ana,1980) left a,b,e? no: left keys are first names: a,b (ana,1980),
    # d (ruiz,1980), e (eva,1980); right keys are last names: d,e (ana,1980), a,b (ruiz,1980)
    # -> ana: 2 x 2 + ruiz: 1 x 2 = 6
    assert comparison_counts(records, rules) == [3, 1, 4, 6, 15]


def test_pair_condition_keys_either_way_round():
    keys = rule_keys("r.birth_date = l.birth_date AND substring_index(l.first_name_std, ' ', 1)"
                     " = substring_index(r.last_name_std, ' ', 1) AND l.x > r.x")
    assert keys.left == ("birth_date", "SUBSTRING_INDEX(first_name_std, ' ', 1)")
    assert keys.right == ("birth_date", "SUBSTRING_INDEX(last_name_std, ' ', 1)")
    assert not keys.symmetric
    assert rule_keys(["email_std"]).symmetric


def test_a_rule_over_the_limit_stops_the_run_naming_it(spark):
    records = spark.createDataFrame(ROWS, SCHEMA)
    assert check_comparison_counts(records, [["last_name_std"]], 4, setting="s") == [4]
    with pytest.raises(BlockingRuleTooBroad) as err:
        check_comparison_counts(records, [["first_name_std"], ["last_name_std"]], 3,
                                setting="identity.linking.probabilistic.blocking_rules")
    assert str(err.value).startswith("identity.linking.probabilistic.blocking_rules: "
                                     "['last_name_std'] makes 4 comparisons, over")


def _exists(spark, uri: str) -> bool:
    sc = spark.sparkContext
    path = sc._jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(sc._jsc.hadoopConfiguration()).exists(path)


@pytest.mark.parametrize("method", ["checkpoint", "local_checkpoint", "persist"])
def test_lineage_breaks_keep_rows_and_clean_up(spark, method):
    sc = spark.sparkContext
    before = sc.getCheckpointDir()
    df = spark.range(5).withColumn("y", F.col("id") * 2)
    with LineageBreaks(spark, method) as breaks:
        run_dir = sc.getCheckpointDir()
        out = breaks(breaks(df).where("id > 1"))
        assert sorted(r.y for r in out.collect()) == [4, 6, 8]
        assert breaks.count == 2
        assert out.is_cached == (method == "persist")
        assert _exists(spark, run_dir)
    # the run had a checkpoint directory of its own (Splink's files go there too) ...
    assert run_dir != before and "/vista-run-" in run_dir
    assert not _exists(spark, run_dir)  # ... removed at the end
    assert sc.getCheckpointDir().rsplit("/", 1)[0] == before.rsplit("/", 1)[0]
    assert not out.is_cached

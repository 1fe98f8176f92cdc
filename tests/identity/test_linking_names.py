"""Name preparation for the probabilistic model (no model trained here)."""

from __future__ import annotations

from chispa import assert_df_equality
from faker import Faker

from vista.identity.linking_config import ComparisonSpec, ProbabilisticConfig
from vista.identity.splink_model import _name_levels, model_columns, split_names

SCHEMA = "record_key string, first_name_std string, last_name_std string, full_name_std string"


def test_split_names_fills_only_records_without_first_and_last(spark):
    fake = Faker("es_ES")
    fake.seed_instance(3)
    first, last1, last2 = fake.first_name().lower(), fake.last_name().lower(), \
        fake.last_name().lower()
    records = spark.createDataFrame([
        ("a", None, None, f"{first} {last1} {last2}"),   # full name only: split
        ("b", None, None, first),                         # one word: first name only
        ("c", first, None, f"{last1} {first}"),           # first present: left alone
        ("d", None, None, None),
    ], SCHEMA)

    got = split_names(records, ProbabilisticConfig())

    expected = spark.createDataFrame([
        ("a", first, f"{last1} {last2}", f"{first} {last1} {last2}", True),
        ("b", first, None, first, True),
        ("c", first, None, f"{last1} {first}", False),
        ("d", None, None, None, False),
    ], SCHEMA + ", name_from_full_name boolean")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_split_names_off(spark):
    records = spark.createDataFrame([("a", None, None, "x y")], SCHEMA)
    got = split_names(records, ProbabilisticConfig(name_split=None))
    assert_df_equality(got, records)


def test_name_levels_sql(spark):
    spec = ComparisonSpec(column="first_name_std", kind="name", words_contained=True,
                          swapped_with="last_name_std")
    sqls = [lv.get_comparison_level("spark").sql_condition for lv in _name_levels(spec)]
    pairs = spark.createDataFrame([
        # swapped: first of one is a word of the other's last name, both ways
        ("ana", "ruiz", "ruiz", "ana gil", 1, 0),
        # contained: a second given name dropped
        ("ana maria", "gil", "ana", "gil", 0, 1),
        ("ana", "gil", "eva", "gil", 0, 0),
    ], "first_name_std_l string, last_name_std_l string, first_name_std_r string, "
       "last_name_std_r string, swapped int, contained int")
    got = pairs.selectExpr(*[f"CAST({s} AS int) AS level_{i}" for i, s in enumerate(sqls)],
                           "swapped", "contained")
    assert [tuple(r) for r in got.collect()] == [(r.swapped, r.contained, r.swapped,
                                                  r.contained) for r in pairs.collect()]
    assert "last_name_std" in model_columns(ProbabilisticConfig(comparisons=[spec]))


def test_split_name_and_nickname_levels_sql(spark):
    from vista.identity.linking_config import NameSplitConfig

    spec = ComparisonSpec(column="first_name_std", kind="name", swapped_with="last_name_std",
                          split_words=True, nicknames=True)
    sqls = [lv.get_comparison_level("spark").sql_condition
            for lv in _name_levels(spec, NameSplitConfig())]
    assert len(sqls) == 3  # swapped, split full name, nicknames
    pairs = spark.createDataFrame([
        # a card with surnames only, split: its "first name" is the other's surname
        ("espejo", "marin", True, ["espejo"], "angela", "espejo", False, ["angela"], 0, 1, 0),
        # the same words on a record that was not split: no evidence
        ("espejo", "marin", False, ["espejo"], "angela", "espejo", False, ["angela"], 0, 0, 0),
        # only a surname on the card
        ("murillo", None, True, ["murillo"], "jaime", "murillo", False, ["jaime"], 0, 1, 0),
        # forms of one name
        ("pepe", "gil", False, ["jose", "pepe"], "jose", "gil", False, ["jose"], 0, 0, 1),
        ("ana", "ruiz", False, ["ana"], "ruiz", "ana gil", False, ["ruiz"], 1, 0, 0),
    ], "first_name_std_l string, last_name_std_l string, name_from_full_name_l boolean, "
       "first_name_std_keys_l array<string>, first_name_std_r string, last_name_std_r string, "
       "name_from_full_name_r boolean, first_name_std_keys_r array<string>, swapped int, "
       "split int, nick int")
    got = pairs.selectExpr(*[f"CAST(coalesce({s}, false) AS int) AS level_{i}"
                             for i, s in enumerate(sqls)])
    assert [tuple(r) for r in got.collect()] == [(r.swapped, r.split, r.nick)
                                                 for r in pairs.collect()]
    cols = model_columns(ProbabilisticConfig(comparisons=[spec]))
    assert {"first_name_std_keys", "name_from_full_name", "last_name_std"} <= set(cols)


def test_default_blocking_keys_meet_reordered_names(spark):
    from vista.identity.linking_config import NAME_WORDS_KEY

    records = spark.createDataFrame([
        ("a", "lucero", "abraham"), ("b", "abraham", "lucero"), ("c", None, None),
        ("d", None, None),
    ], "record_key string, first_name_std string, last_name_std string")
    got = records.selectExpr("record_key", f"{NAME_WORDS_KEY} AS k").orderBy("record_key")
    assert [tuple(r) for r in got.collect()] == [
        ("a", "abraham lucero"), ("b", "abraham lucero"), ("c", None), ("d", None)]
    # rules that read columns through expressions still name them for the model
    assert {"first_name_std", "last_name_std", "birth_date", "email_std"} <= set(
        model_columns(ProbabilisticConfig()))

"""Record preparation for the probabilistic model: names, phones, blocking keys (no model
trained here)."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from faker import Faker
from pydantic import ValidationError

from vista.identity.link.config import PHONE_SUFFIX_DIGITS, ComparisonSpec, ProbabilisticConfig
from vista.identity.link.splink_model import (
    ModelError,
    _comparison,
    _name_levels,
    derived_inputs,
    model_columns,
    preparation,
    prepare_records,
    split_names,
)

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
    ], "first_name_std_l string, last_name_std_cross_l string, first_name_std_r string, "
       "last_name_std_cross_r string, swapped int, contained int")
    got = pairs.selectExpr(*[f"CAST({s} AS int) AS level_{i}" for i, s in enumerate(sqls)],
                           "swapped", "contained")
    assert [tuple(r) for r in got.collect()] == [(r.swapped, r.contained, r.swapped,
                                                  r.contained) for r in pairs.collect()]
    # the other name is read through its copy (see splink_model.cross_column)
    assert "last_name_std_cross" in model_columns(ProbabilisticConfig(comparisons=[spec]))


def test_split_name_and_nickname_levels_sql(spark):
    from vista.identity.link.config import NameSplitConfig

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
    ], "first_name_std_l string, last_name_std_cross_l string, name_from_full_name_l boolean, "
       "first_name_std_keys_l array<string>, first_name_std_r string, "
       "last_name_std_cross_r string, name_from_full_name_r boolean, "
       "first_name_std_keys_r array<string>, swapped int, split int, nick int")
    got = pairs.selectExpr(*[f"CAST(coalesce({s}, false) AS int) AS level_{i}"
                             for i, s in enumerate(sqls)])
    assert [tuple(r) for r in got.collect()] == [(r.swapped, r.split, r.nick)
                                                 for r in pairs.collect()]
    cols = model_columns(ProbabilisticConfig(comparisons=[spec]))
    assert {"first_name_std_keys", "name_from_full_name", "last_name_std_cross"} <= set(cols)


def test_default_blocking_keys_meet_reordered_names(spark):
    from vista.identity.link.config import NAME_WORDS_KEY

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


def test_a_phone_written_without_country_meets_its_e164_form(spark):
    records = spark.createDataFrame([
        ("a", "+541132152991", "011 3215-2991", []),
        ("b", None, "113 21 52 991", None),  # a source without a country: no E.164 possible
        ("c", None, "000 000 000", ["+34915550001", "+3491"]),  # placeholder; a short one
        ("d", None, "12 34", []),          # too short to identify anyone
        ("e", "+34600111222", None, ["+34915550001"]),
    ], "record_key string, phone_e164 string, phone string, other_phones_e164 array<string>")
    prep = preparation(ProbabilisticConfig())

    got = prepare_records(records, {"derived": prep["derived"]})

    expected = spark.createDataFrame([
        ("a", "+541132152991", "011 3215-2991", [], "541132152991", []),
        ("b", None, "113 21 52 991", None, "1132152991", []),
        ("c", None, "000 000 000", ["+34915550001", "+3491"], None, ["34915550001"]),
        ("d", None, "12 34", [], None, []),
        ("e", "+34600111222", None, ["+34915550001"], "34600111222", ["34915550001"]),
    ], "record_key string, phone_e164 string, phone string, other_phones_e164 array<string>, "
       "phone_digits string, other_phone_digits array<string>")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    # a and b meet in blocking and agree on the suffix level of the phone comparison
    rule = f"right(phone_digits, {PHONE_SUFFIX_DIGITS})"
    assert [rule] in ProbabilisticConfig().blocking_rules
    keys = got.selectExpr("record_key", f"{rule} AS k").where("k IS NOT NULL")
    assert keys.groupBy("k").count().where("count = 2").count() == 1
    spec = next(c for c in ProbabilisticConfig().comparisons if c.kind == "phone")
    levels = _comparison(spec).get_comparison("spark").comparison_levels
    suffix = next(lv.sql_condition for lv in levels if "right(" in lv.sql_condition)
    pair = got.where("record_key = 'a'").selectExpr("phone_digits AS phone_digits_l").crossJoin(
        got.where("record_key = 'b'").selectExpr("phone_digits AS phone_digits_r"))
    assert pair.selectExpr(f"{suffix} AS agree").first().agree is True


def test_derived_columns_must_be_names_and_sql():
    with pytest.raises(ValidationError) as err:
        ProbabilisticConfig(derived_columns={"phone digits": "phone", "ok": "right(phone,"})
    text = str(err.value)
    assert "'phone digits' is not a column name" in text
    assert "ok: 'right(phone,' is not a Spark SQL expression" in text


def test_derived_columns_name_their_inputs_for_a_clear_error(spark):
    assert derived_inputs(ProbabilisticConfig()) == ["phone_e164", "phone", "other_phones_e164"]
    records = spark.createDataFrame([("a", "+34600111222")], "record_key string, phone_e164 string")

    with pytest.raises(ModelError, match=r"lack column\(s\) \['other_phones_e164', 'phone'\]"):
        prepare_records(records, preparation(ProbabilisticConfig()))



def _level(spark, spec, schema, values):
    """The label of the comparison level a pair (``values`` in ``schema``) lands on."""
    levels = _comparison(spec).get_comparison("spark").comparison_levels
    pair = spark.createDataFrame([values], schema)
    for level in levels:  # Splink checks the levels in order; the first that holds wins
        if level.sql_condition == "ELSE" or pair.selectExpr(
                f"coalesce({level.sql_condition}, false) AS hit").first().hit:
            return level.label_for_charts
    raise AssertionError("no level holds")


def _email_level(spark, spec, left, right):
    return _level(spark, spec, "email_std_l string, email_std_r string", (left, right))


def test_similar_email_addresses_are_not_evidence_unless_fuzzy(spark):
    default = next(c for c in ProbabilisticConfig().comparisons if c.kind == "email")
    cases = [("ana.ruiz@mail.example", "ana.ruiz@mail.example"),
             ("ana.ruiz@mail.example", "ana.ruiz@gmial.example"),
             ("ana.ruiz@mail.example", "ana_ruiz30@other.example"),
             ("ana.ruiz@mail.example", None)]

    got = [_email_level(spark, default, a, b).lower() for a, b in cases]

    assert got[0].startswith("exact match") and "username" not in got[0]
    assert got[1] == "exact match on username"
    assert got[2].startswith("all other")
    assert "null" in got[3]
    fuzzy = _comparison(default.model_copy(update={"fuzzy": True})).get_comparison("spark")
    assert sum("jaro" in lv.label_for_charts.lower() for lv in fuzzy.comparison_levels) == 2
    with pytest.raises(ValidationError, match="fuzzy: false is for email"):
        ComparisonSpec(column="first_name_std", kind="name", fuzzy=False)


def _phone_level(spark, spec, left, right):
    return _level(spark, spec, "phone_digits_l string, other_phone_digits_l array<string>, "
                               "phone_digits_r string, other_phone_digits_r array<string>",
                  (*left, *right))


def test_any_number_of_one_record_meets_any_number_of_the_other(spark):
    spec = next(c for c in ProbabilisticConfig().comparisons if c.kind == "phone")
    mobile, home, other = "34600111222", "34915550001", "34699888777"
    cases = [((mobile, [home]), (mobile, [])),     # the main numbers agree
             ((mobile, [home]), (home, [])),       # a ticket giving the home number
             ((other, [home]), (mobile, [home])),  # the further numbers agree
             ((mobile, None), (other, [])),
             ((mobile, [home]), (None, [home]))]   # no main number: null, whatever else

    got = [_phone_level(spark, spec, a, b).lower() for a, b in cases]

    assert got[0].startswith("exact match")
    assert got[1] == got[2] == "a number in common (with other_phone_digits)"
    assert got[3].startswith("all other")
    assert "null" in got[4]
    with pytest.raises(ValidationError, match="others is for phone comparisons"):
        ComparisonSpec(column="email_std", kind="email", others="x")

"""RFM scores from approximate quantiles, named segments, and the scheme check."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from vista.config import load_config
from vista.errors import ConfigError
from vista.segments.config import RfmConfig, RfmRule, classic_scheme, scheme_problems
from vista.segments.rfm import rfm_segments

AS_OF = dt.date(2024, 12, 31)
PROFILE = T.StructType([
    T.StructField("uid", T.StringType(), False),
    T.StructField("as_of", T.DateType(), False),
    T.StructField("recency_days", T.IntegerType(), True),
    T.StructField("frequency", T.LongType(), True),
    T.StructField("monetary", T.DoubleType(), True),
])


def test_scores_follow_quantiles_and_ties_score_alike(spark):
    # recency 1..10 days; frequency mostly 1; monetary mostly 10
    rows = [(f"u{i:02d}", AS_OF, rec, freq, mon) for i, (rec, freq, mon) in enumerate(
        [(1, 5, 60.0), (2, 3, 50.0), (3, 2, 40.0), (4, 2, 30.0), (5, 1, 20.0),
         (6, 1, 10.0), (7, 1, 10.0), (8, 1, 10.0), (9, 1, 10.0), (10, 1, 10.0)])]
    rows.append(("p00", AS_OF, None, 0, None))  # never bought
    profile = spark.createDataFrame(rows, PROFILE)
    got = rfm_segments(profile, RfmConfig(relative_error=0.0)).select(
        "uid", "r_score", "f_score", "m_score", "rfm_cell", "segment")
    expected = spark.createDataFrame([
        ("u00", 5, 5, 5, "555", "champions"),
        ("u01", 5, 5, 5, "555", "champions"),
        ("u02", 4, 4, 4, "444", "champions"),  # 2 orders: above 60 % of buyers
        ("u03", 4, 4, 4, "444", "champions"),
        ("u04", 3, 1, 3, "313", "about_to_sleep"),
        ("u05", 3, 1, 1, "311", "about_to_sleep"),
        ("u06", 2, 1, 1, "211", "hibernating"),
        ("u07", 2, 1, 1, "211", "hibernating"),
        ("u08", 1, 1, 1, "111", "lost"),
        ("u09", 1, 1, 1, "111", "lost"),
        ("p00", None, None, None, None, "prospects"),
    ], "uid string, r_score int, f_score int, m_score int, rfm_cell string, segment string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_every_cell_of_the_classic_scheme_has_one_segment():
    assert scheme_problems(classic_scheme(), 5) == []


def test_an_incomplete_scheme_is_a_config_error_naming_the_cells(tmp_path):
    conf = tmp_path / "rfm.yaml"
    conf.write_text(
        "segments:\n"
        "  rfm:\n"
        "    segments:\n"
        "      - {name: best, r: [4, 5], f: [4, 5]}\n"
        "      - {name: recent, r: [3, 5]}\n"
        "      - {name: old_one_timers, r: [1, 2], f: [1, 1]}\n",
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(conf, env={})
    message = str(err.value)
    assert "segments.rfm" in message
    # r 1-2 with f 2-5: 2 * 4 * 5 = 40 cells unnamed, the first ones listed
    assert "40 of 125 (R, F, M) cells match no segment: 121, 122, 123" in message


def test_a_rule_that_can_never_match_is_reported():
    rules = [RfmRule(name="all"), RfmRule(name="champions", r=(5, 5), f=(5, 5))]
    assert scheme_problems(rules, 5) == [
        "rule(s) ['champions'] never match: earlier rules take every cell they cover; "
        "move them up or remove them"]

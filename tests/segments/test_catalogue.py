"""The catalogue: sizes, shares, profile lifts, survey attitudes, change since last run."""

from __future__ import annotations

import datetime as dt
import json

from chispa import assert_df_equality
from pyspark.sql import types as T

from vista.segments.catalogue import (
    CATALOGUE_SCHEMA,
    CatalogueConfig,
    Segmentation,
    SurveyConfig,
    catalogue_rows,
    survey_answers,
)

EVENTS = T.StructType([T.StructField("uid", T.StringType()), T.StructField("channel", T.StringType()),
                       T.StructField("value", T.DoubleType()),
                       T.StructField("attrs", T.MapType(T.StringType(), T.StringType()))])


def test_catalogue_rows_with_traits_survey_and_change(spark) -> None:
    assign = spark.createDataFrame([("u1", "a"), ("u2", "a"), ("u3", "a"), ("u4", "b")],
                                   "uid string, segment string")
    profile = spark.createDataFrame([("u1", 2, 100.0), ("u2", 2, 100.0), ("u3", 2, 100.0),
                                     ("u4", 6, 500.0)], "uid string, orders int, revenue double")
    events = spark.createDataFrame([
        ("u1", "survey", 10.0, {"price": "2"}), ("u2", "survey", 9.0, {"price": "4"}),
        ("u3", "survey", 3.0, {"price": "3"}), ("u4", "survey", 10.0, {"price": "5"}),
        ("u1", "web", None, {}),
    ], EVENTS)
    survey_cfg = SurveyConfig(scores={"price": "cast(attrs['price'] as double)"},
                              min_respondents=2)
    cfg = CatalogueConfig(traits=["orders", "revenue"], survey=survey_cfg)
    previous = spark.createDataFrame([("seg", "a", 5)], "segmentation string, segment string, "
                                     "size long")
    rows = catalogue_rows([Segmentation("seg", assign, {"a": "the a people"})], profile, cfg,
                          survey_answers(events, survey_cfg), previous, dt.date(2025, 6, 30),
                          "r1")
    got = spark.createDataFrame(rows, CATALOGUE_SCHEMA)
    # population: orders 3.0, revenue 200.0
    traits_a = {"profile": {"orders": {"mean": 2.0, "lift": 0.667},
                            "revenue": {"mean": 100.0, "lift": 0.5}},
                "survey": {"respondents": 3, "price": 3.0, "nps": 33.3}}
    # b has one respondent: below min_respondents, so no attitudes are shown
    traits_b = {"profile": {"orders": {"mean": 6.0, "lift": 2.0},
                            "revenue": {"mean": 500.0, "lift": 2.5}},
                "survey": {"respondents": 1}}
    expected = spark.createDataFrame([
        ("seg", "a", "the a people", 3, 0.75, json.dumps(traits_a, sort_keys=True), -2, 3,
         33.3, dt.date(2025, 6, 30), "r1"),
        ("seg", "b", "25.0% of customers; revenue x2.50 the average; orders x2.00 the average",
         1, 0.25, json.dumps(traits_b, sort_keys=True), None, 1, None, dt.date(2025, 6, 30),
         "r1"),
    ], CATALOGUE_SCHEMA)
    assert_df_equality(got, expected, ignore_nullable=True, ignore_row_order=True)

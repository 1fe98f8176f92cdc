"""Lifecycle stages: global thresholds, the customer's own cadence, transitions."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from vista.segments.config import LifecycleConfig
from vista.segments.lifecycle import lifecycle_stages, with_transitions

AS_OF = dt.date(2024, 12, 31)


def _orders(spark, per_uid: dict[str, list[str]]):
    rows = [(uid, dt.datetime.fromisoformat(day + "T12:00:00")) for uid, days in
            per_uid.items() for day in days]
    return spark.createDataFrame(rows, "uid string, ts timestamp")


def test_stages_from_global_thresholds_and_own_cadence(spark):
    orders = _orders(spark, {
        "new": ["2024-11-01", "2025-02-01"],             # the 2025 order is after as_of
        "reactivated": ["2024-01-10", "2024-10-15"],     # 77 days ago after 279 days away
        "active": ["2024-06-01", "2024-08-01", "2024-12-01"],  # cadence 91.5 days
        "at_risk": ["2024-03-01", "2024-08-01"],         # 152 days
        "lapsed": ["2023-06-01", "2024-03-01"],          # 305 days
        "churned": ["2023-01-01", "2023-02-01"],         # 699 days
        "weekly": ["2024-09-01", "2024-09-08", "2024-09-15", "2024-09-22"],  # 100 days
    })
    uids = ["prospect", "new", "reactivated", "active", "at_risk", "lapsed", "churned",
            "weekly"]
    profile = spark.createDataFrame([(u, AS_OF) for u in uids], "uid string, as_of date")
    got = lifecycle_stages(profile, orders, LifecycleConfig())
    expected = spark.createDataFrame([
        ("prospect", AS_OF, "prospect", None, 0, None),
        ("new", AS_OF, "new", 60, 1, None),
        ("reactivated", AS_OF, "reactivated", 77, 2, None),
        ("active", AS_OF, "active", 30, 3, 91.5),
        ("at_risk", AS_OF, "at_risk", 152, 2, None),
        ("lapsed", AS_OF, "lapsed", 305, 2, None),
        ("churned", AS_OF, "churned", 699, 2, None),
        # a weekly buyer silent for 100 days is churned by their own cadence (7 days,
        # thresholds floored at 30 and 42 days); the global thresholds would say at risk
        ("weekly", AS_OF, "churned", 100, 4, 7.0),
    ], "uid string, as_of date, stage string, recency_days int, purchase_days int, "
       "cadence_days double")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_transitions_keep_the_last_change(spark):
    current = spark.createDataFrame(
        [("a", AS_OF, "active"), ("b", AS_OF, "at_risk"), ("c", AS_OF, "new")],
        "uid string, as_of date, stage string").selectExpr(
        "*", "cast(null as int) recency_days", "0 purchase_days",
        "cast(null as double) cadence_days")
    earlier = dt.date(2024, 6, 30)
    previous = spark.createDataFrame(
        [("a", "active", "new", earlier), ("b", "active", None, earlier),
         ("gone", "lapsed", "at_risk", earlier)],
        "uid string, stage string, previous_stage string, changed_at date")
    got = with_transitions(current, previous).select("uid", "stage", "previous_stage",
                                                      "changed_at")
    expected = spark.createDataFrame(
        [("a", "active", "new", earlier),        # unchanged: keeps its last change
         ("b", "at_risk", "active", AS_OF),      # moved this run
         ("c", "new", None, AS_OF)],             # first seen
        "uid string, stage string, previous_stage string, changed_at date")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)

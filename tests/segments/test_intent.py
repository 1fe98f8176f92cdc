"""Intent scores: weights per type, decay, resolved searches, purchases that answer them."""

from __future__ import annotations

import datetime as dt

from chispa import assert_approx_df_equality
from pyspark.sql import types as T

from vista.segments.intent import IntentConfig, intent_segments

AS_OF = dt.date(2025, 6, 30)
EVENTS = T.StructType([T.StructField("uid", T.StringType()), T.StructField("ts", T.TimestampType()),
                       T.StructField("channel", T.StringType()),
                       T.StructField("type", T.StringType()),
                       T.StructField("category", T.StringType())])
LINES = T.StructType([T.StructField("uid", T.StringType()), T.StructField("ts", T.TimestampType()),
                      T.StructField("category", T.StringType())])
END = dt.datetime(2025, 7, 1)  # the end of the as-of day
MINUTE = 1 / 1440


def _at(days_before_end: float) -> dt.datetime:
    return END - dt.timedelta(days=days_before_end)


def test_intent_scores_ranks_and_drops_answered_signals(spark) -> None:
    events = spark.createDataFrame([
        # u1: a cart add and a view of tents, a search resolved to tents by the next view
        ("u1", _at(7), "web", "add_to_cart", "tents"),
        ("u1", _at(7), "web", "search", None),
        ("u1", _at(7), "web", "page_view", "tents"),
        # u1: two views of books, weaker
        ("u1", _at(MINUTE), "web", "page_view", "books"),
        ("u1", _at(MINUTE), "web", "page_view", "books"),
        # u2: viewed shoes, then bought shoes: answered
        ("u2", _at(3), "web", "page_view", "shoes"),
        ("u2", _at(3), "web", "add_to_cart", "shoes"),
        # u3: a search nobody resolves, an email click, a view long ago
        ("u3", _at(1), "web", "search", None),
        ("u3", _at(1), "email", "click", "shoes"),
        ("u3", _at(60), "web", "add_to_cart", "shoes"),
    ], EVENTS)
    lines = spark.createDataFrame([("u2", _at(2), "shoes"), ("u1", _at(30), "tents")], LINES)
    cfg = IntentConfig(type_weights={"add_to_cart": 3.0, "search": 2.0}, half_life_days=7.0,
                       window_days=30, min_score=1.5, max_intents=3, resolve_within_minutes=30)
    got = intent_segments(events, lines, cfg, AS_OF, "r1").select(
        "uid", "category", "score", "rank", "signals")
    tents = (3.0 + 2.0 + 1.0) * 0.5  # 7 days old: one half-life
    books = 2.0  # a minute old
    expected = spark.createDataFrame(
        [("u1", "tents", tents, 1, 3), ("u1", "books", books, 2, 2)],
        "uid string, category string, score double, rank int, signals long")
    assert_approx_df_equality(got, expected, 1e-3, ignore_nullable=True, ignore_row_order=True)

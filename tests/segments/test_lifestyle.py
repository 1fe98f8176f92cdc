"""Lifestyle features, the k search, agreement measures and naming on tiny inline data."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from vista.segments import features as fe
from vista.segments import lifestyle as ls

AS_OF = dt.date(2025, 6, 30)
LINES = T.StructType([T.StructField("uid", T.StringType()), T.StructField("ts", T.TimestampType()),
                      T.StructField("category", T.StringType()),
                      T.StructField("brand", T.StringType()),
                      T.StructField("price_tier", T.StringType())])
EVENTS = T.StructType([T.StructField("uid", T.StringType()), T.StructField("ts", T.TimestampType()),
                       T.StructField("channel", T.StringType()),
                       T.StructField("type", T.StringType()),
                       T.StructField("category", T.StringType())])


def _ts(day: int) -> dt.datetime:
    return dt.datetime(2025, 6, day, 12, 0)


def test_adjusted_rand_index_and_jaccard_from_contingency_tables() -> None:
    # relabelled identical partitions agree perfectly
    same = [(0, 7, 4), (1, 3, 6)]
    assert ls.adjusted_rand_index(same) == pytest.approx(1.0)
    assert ls.min_best_jaccard(same) == pytest.approx(1.0)
    # the textbook example: a = [0,0,0,1,1,1], b = [0,0,1,1,2,2] -> ARI 0.2424...
    table = [(0, 0, 2), (0, 1, 1), (1, 1, 1), (1, 2, 2)]
    assert ls.adjusted_rand_index(table) == pytest.approx(0.242424, abs=1e-6)
    # cluster 0 = {3 items}, best match b=0 with 2 shared of 2+3-2 = 3 -> 2/3; cluster 1 same
    assert ls.min_best_jaccard(table) == pytest.approx(2 / 3)


def test_choose_k_prefers_the_best_stable_silhouette() -> None:
    scores = [ls.KScore(2, 0.30, 0.95, 0.9, True), ls.KScore(3, 0.45, 0.90, 0.8, True),
              ls.KScore(4, 0.60, 0.40, 0.2, False)]
    assert ls.choose_k(scores).k == 3
    unstable = [ls.KScore(2, 0.3, 0.5, 0.3, False), ls.KScore(3, 0.5, 0.6, 0.3, False)]
    chosen = ls.choose_k(unstable)
    assert (chosen.k, chosen.stable_found) == (3, False)


def test_term_counts_window_filter_and_blank_terms(spark) -> None:
    lines = spark.createDataFrame([
        ("u1", _ts(1), "books", "acme", "mid"),
        ("u1", _ts(2), "books", " ", "mid"),
        ("u1", dt.datetime(2023, 1, 1), "wine", "old", "mid"),   # outside the window
        ("u2", dt.datetime(2025, 7, 2), "toys", "late", "mid"),   # after the as-of date
    ], LINES)
    events = spark.createDataFrame([
        ("u1", _ts(3), "web", "page_view", "books"),
        ("u2", _ts(3), "email", "open", "books"),                  # not web/app
    ], EVENTS)
    cfg = fe.LifestyleFeaturesConfig(window_days=365, families=[
        fe.FeatureFamily(name="cat", source="order_lines", term="category"),
        fe.FeatureFamily(name="brand", source="order_lines", term="brand"),
        fe.FeatureFamily(name="seen", source="interactions", term="category",
                         where="channel IN ('web', 'app')")])
    got = fe.term_counts({"order_lines": lines, "interactions": events}, cfg, AS_OF)
    expected = spark.createDataFrame(
        [("u1", "cat", "books", 2), ("u1", "brand", "acme", 1), ("u1", "seen", "books", 1)],
        "uid string, family string, term string, n long")
    assert_df_equality(got, expected, ignore_nullable=True, ignore_row_order=True)


def test_term_counts_names_a_bad_expression(spark) -> None:
    lines = spark.createDataFrame([("u1", _ts(1), "books", "acme", "mid")], LINES)
    cfg = fe.LifestyleFeaturesConfig(families=[
        fe.FeatureFamily(name="cat", source="order_lines", term="no_such_column")])
    with pytest.raises(fe.FeatureError, match="cat.*no_such_column"):
        fe.term_counts({"order_lines": lines}, cfg, AS_OF)


def _two_tastes(spark):
    rows = []
    for i in range(8):
        a = i < 4
        for d in range(1, 5):
            rows.append((f"u{i}", _ts(d), "books" if a else "wine", "x", "mid"))
        rows.append((f"u{i}", _ts(6), "music" if a else "cheese", "x", "mid"))
    rows += [("thin", _ts(1), "books", "x", "mid")]  # one event: not enough data
    return spark.createDataFrame(rows, LINES)


def test_lifestyle_recovers_two_tastes_and_names_them(spark) -> None:
    cfg = ls.LifestyleConfig(
        k_min=2, k_max=3, seeds=1, bootstraps=0, name_terms=2, max_iter=10, min_cluster_size=2,
        features=fe.LifestyleFeaturesConfig(min_events=3, min_customers=2, families=[
            fe.FeatureFamily(name="cat", source="order_lines", term="category")]))
    counts = fe.term_counts({"order_lines": _two_tastes(spark)}, cfg.features, AS_OF)
    eligible = fe.eligible_customers(counts, cfg.features.min_events)
    rows = fe.shares(counts.join(eligible, "uid", "left_semi"), cfg.features.sqrt_shares)
    vocab = fe.build_vocabulary(rows, 8, cfg.features)
    assert [t.value for t in vocab.terms] == ["books", "cheese", "music", "wine"]
    feats = fe.feature_columns(rows, vocab).cache()
    selection = ls.select_k(ls.vectors(feats, vocab).cache(), cfg, 8)
    assert selection.k == 2 and selection.stable_found
    model = ls.fit_model(feats, vocab, 2, cfg)
    profiles = ls.cluster_profiles(model.transform(feats), vocab, cfg.features.sqrt_shares)
    segments = ls.name_segments(profiles, vocab, cfg, insufficient=1)
    names = {s.segment_id: (s.name, s.customers) for s in segments}
    # equal sizes: ids follow the names; "not enough data" is id 0
    assert names == {0: ("not enough data", 1), 1: ("books & music", 4),
                     2: ("cheese & wine", 4)}
    assigned = model.transform(feats).select("uid", "cluster")
    by_cluster = {s.cluster: s.name for s in segments if s.cluster is not None}
    got = spark.createDataFrame([(r["uid"], by_cluster[r["cluster"]]) for r in
                                 assigned.collect()], "uid string, segment string")
    expected = spark.createDataFrame(
        [(f"u{i}", "books & music" if i < 4 else "cheese & wine") for i in range(8)],
        "uid string, segment string")
    assert_df_equality(got, expected, ignore_nullable=True, ignore_row_order=True)


def test_names_are_unique_and_population_stability() -> None:
    vocab = fe.Vocabulary(tuple(fe.Term(i, "cat", v, 10, 1.0, 0.25) for i, v in
                                enumerate(["a", "b", "c", "d"])))
    cfg = ls.LifestyleConfig(name_terms=1, name_min_share=0.0)
    # clusters 0 and 1 both over-index most on "a" (x1.35): the second one named takes
    # its next term too; cluster 2 over-indexes on "d" (x3)
    profiles = {0: (10, [0.9, 0.1, 0.0, 0.0]), 1: (10, [0.9, 0.0, 0.1, 0.0]),
                2: (10, [0.2, 0.2, 0.2, 0.4])}
    names = [s.name for s in ls.name_segments(profiles, vocab, cfg, insufficient=0)]
    assert names == ["not enough data", "a", "a & c", "d"]
    assert ls.population_stability({1: 0.5, 2: 0.5}, {1: 0.5, 2: 0.5}) == 0.0
    assert ls.population_stability({1: 0.5, 2: 0.5}, {1: 0.9, 2: 0.1}) > 0.5

"""Micro-segments: the overlay and the folding of small cells into named remainders."""

from __future__ import annotations

from chispa import assert_df_equality

from vista.segments.micro import MicroConfig, fold, overlay


def test_small_cells_fold_into_their_parents_remainder(spark) -> None:
    rows = ([("active", "high", "books")] * 3 + [("active", "high", "wine")] * 1
            + [("active", "low", "toys")] * 1 + [("lapsed", "low", "books")] * 1)
    df = spark.createDataFrame([(f"u{i}", *r) for i, r in enumerate(rows)],
                               "uid string, lifecycle string, value string, lifestyle string")
    cfg = MicroConfig(min_size=2, separator=" · ", remainder="other")
    got = fold(df, ["lifecycle", "value", "lifestyle"], cfg).select(
        "uid", "micro_segment", "level", "size")
    expected = spark.createDataFrame([
        ("u0", "active · high · books", 3, 3), ("u1", "active · high · books", 3, 3),
        ("u2", "active · high · books", 3, 3),
        # alone in its cell, and alone in "active · high · other": folds up to "active"
        ("u3", "active · other", 1, 2),
        ("u4", "active · other", 1, 2),
        # nothing else under "lapsed": the overall remainder
        ("u5", "other", 0, 1),
    ], "uid string, micro_segment string, level int, size long")
    assert_df_equality(got, expected, ignore_nullable=True, ignore_row_order=True)


def test_overlay_marks_missing_dimensions(spark) -> None:
    customers = spark.createDataFrame([("u1",), ("u2",)], "uid string")
    life = spark.createDataFrame([("u1", "active")], "uid string, segment string")
    got = overlay({"lifecycle": life}, customers, "unknown")
    expected = spark.createDataFrame([("u1", "active"), ("u2", "unknown")],
                                     "uid string, lifecycle string")
    assert_df_equality(got, expected, ignore_nullable=True, ignore_row_order=True)

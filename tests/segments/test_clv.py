"""CLV: BG/NBD + Gamma-Gamma on sufficient statistics, against published figures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from vista.segments.clv import frame, model

# Fader, Hardie & Lee (2005): CDNOW sample, 2,357 customers, 39-week calibration.
BGNBD_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
# Fader & Hardie (2013), the 946 repeat buyers of the same sample.
GG_PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.fixture(scope="module")
def cdnow(spark):
    """The CDNOW sample's per-customer summary (shipped by the lifetimes package)."""
    datasets = pytest.importorskip("lifetimes.datasets")
    pdf = datasets.load_cdnow_summary_data_with_monetary_value().reset_index()
    pdf = pdf.rename(columns={"customer_id": "uid", "monetary_value": "monetary"})
    schema = T.StructType([T.StructField("uid", T.StringType()),
                           T.StructField("frequency", T.LongType()),
                           T.StructField("recency", T.DoubleType()),
                           T.StructField("T", T.DoubleType()),
                           T.StructField("monetary", T.DoubleType())])
    rows = [(str(u), int(f), float(r), float(t), float(m)) for u, f, r, t, m in
            pdf[["uid", "frequency", "recency", "T", "monetary"]].itertuples(index=False)]
    return spark.createDataFrame(rows, schema)


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    return frame.fit(cdnow, l2=0.0, max_iterations=1000, monetary_precision=0.001,
                     horizon=39, discount_per_unit=0.0, unit_days=7.0)


def test_cdnow_reproduces_published_parameters(cdnow_fit):
    assert cdnow_fit.bgnbd.customers == 2357
    assert cdnow_fit.gamma_gamma.customers == 946
    assert cdnow_fit.bgnbd.patterns < 2357  # the fit saw distinct patterns, not customers
    for name, published in {**BGNBD_PUBLISHED, **GG_PUBLISHED}.items():
        fitted = {**cdnow_fit.bgnbd.params, **cdnow_fit.gamma_gamma.params}[name]
        assert fitted == pytest.approx(published, rel=0.01), name
    assert cdnow_fit.bgnbd.log_likelihood == pytest.approx(-9582.4, abs=0.5)


def test_cdnow_predictions_match_the_paper(cdnow_fit, spark):
    # FHL 2005, section 5: the customer with x = 2, t_x = 30.43, T = 38.86 is expected
    # to make 1.226 purchases in the next 39 weeks
    one = spark.createDataFrame([("c1", 2, 30.43, 38.86, 22.35)],
                                "uid string, frequency long, recency double, T double, "
                                "monetary double")
    row = frame.score(one, cdnow_fit).first()
    assert row["expected_purchases"] == pytest.approx(1.226, abs=0.001)
    assert 0.0 < row["p_alive"] < 1.0
    assert 0.0 < row["clv"] <= row["expected_spend"] + 1e-9  # no discount: clv = spend
    assert row["clv"] == pytest.approx(row["expected_spend"], rel=1e-9)


def test_summary_counts_purchase_days_and_repeat_spend(spark):
    orders = spark.createDataFrame(
        [("u1", dt.datetime(2024, 1, 1, 10), 10.0), ("u1", dt.datetime(2024, 1, 1, 18), 5.0),
         ("u1", dt.datetime(2024, 1, 15, 9), 30.0), ("u1", dt.datetime(2024, 1, 29, 9), 50.0),
         ("u1", dt.datetime(2024, 3, 1, 9), 999.0),  # after the as-of date
         ("u2", dt.datetime(2024, 1, 22, 9), 20.0)],
        "uid string, ts timestamp, amount_reporting double")
    got = frame.customer_summary(orders, dt.date(2024, 1, 29), unit_days=7.0)
    expected = spark.createDataFrame(
        [("u1", 2, 4.0, 4.0, 40.0, dt.date(2024, 1, 1), dt.date(2024, 1, 29)),
         ("u2", 0, 0.0, 1.0, 0.0, dt.date(2024, 1, 22), dt.date(2024, 1, 22))],
        got.schema)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_no_repeat_buyer_is_an_error():
    with pytest.raises(model.ClvFitError, match="no customer has a repeat purchase"):
        model.fit_bgnbd(np.array([0, 0]), np.array([0.0, 0.0]), np.array([5.0, 9.0]),
                        np.array([3, 4]))


def test_a_fit_that_does_not_converge_says_what_to_try():
    x, t_x, t = np.array([0, 1, 4]), np.array([0.0, 2.0, 8.0]), np.array([10.0, 10.0, 10.0])
    with pytest.raises(model.ClvFitError, match="did not converge.*l2_penalty"):
        model.fit_bgnbd(x, t_x, t, np.array([5, 3, 2]), max_iter=1)

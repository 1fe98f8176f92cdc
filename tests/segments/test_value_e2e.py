"""The value segmentations (RFM, lifecycle, lifetime value) on the demo lake.

Reads what the session's one `vista demo` wrote; checks what a user of the three tables
relies on against the profile and orders they were computed from.
"""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from vista.pipeline import built_stages
from vista.segments.lifecycle import STAGES

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    "segments" not in built_stages(), reason="the segments stage is not built yet")]


def _uids(df):
    return df.select("uid").orderBy("uid")


def test_every_customer_has_one_rfm_segment_and_one_lifecycle_stage(demo_run) -> None:
    lake, cfg = demo_run.lake, demo_run.cfg.segments
    profile = lake.read("gold/customer_profile")
    rfm = lake.read("gold/segments_rfm")
    life = lake.read("gold/segments_lifecycle")
    assert_df_equality(_uids(rfm), _uids(profile), ignore_nullable=True)
    assert_df_equality(_uids(life), _uids(profile), ignore_nullable=True)
    assert {r["stage"] for r in life.select("stage").distinct().collect()} <= set(STAGES)

    # a customer without an order has no scores and the no-orders segment; a buyer has
    # three scores within the bins, and the cell spells them
    buyers = profile.where(F.coalesce("frequency", F.lit(0)) > 0).select("uid")
    scored = rfm.join(buyers, "uid", how="left_semi")
    unscored = rfm.join(buyers, "uid", how="left_anti")
    assert unscored.where(F.col("segment") != cfg.rfm.no_orders_segment).count() == 0
    assert unscored.where(F.col("r_score").isNotNull() | F.col("rfm_cell").isNotNull()
                          ).count() == 0
    bins = cfg.rfm.bins
    assert scored.count() == buyers.count() > 0
    assert scored.where(~F.col("r_score").between(1, bins) | ~F.col("f_score").between(1, bins)
                        | ~F.col("m_score").between(1, bins)).count() == 0
    cell = F.concat(*[F.col(c).cast("string") for c in ("r_score", "f_score", "m_score")])
    assert scored.where(F.col("rfm_cell") != cell).count() == 0


def test_lifetime_value_for_every_buyer_up_to_the_as_of_date(demo_run) -> None:
    lake, cfg = demo_run.lake, demo_run.cfg.segments
    clv = lake.read("gold/clv")
    as_of = lake.read("gold/customer_profile").agg(F.max("as_of")).first()[0]
    buyers = (lake.read("gold/customer_orders").where(F.to_date("ts") <= F.lit(as_of))
              .select("uid").distinct())
    assert_df_equality(_uids(clv), _uids(buyers), ignore_nullable=True)
    assert clv.where(F.col("as_of") != F.lit(as_of)).count() == 0
    assert clv.where((F.col("clv") < 0) | F.isnan("clv") | ~F.col("p_alive").between(0, 1)
                     | (F.col("expected_purchases") < 0)).count() == 0
    # tiers follow the value: a customer in a higher tier never has a lower CLV than one
    # in the tier below it
    order = {t.name: i for i, t in enumerate(cfg.clv.tiers)}
    ranges = {r["clv_tier"]: (r["lo"], r["hi"]) for r in clv.groupBy("clv_tier").agg(
        F.min("clv").alias("lo"), F.max("clv").alias("hi")).collect()}
    assert set(ranges) <= set(order)
    tiers = sorted(ranges, key=order.get)
    for better, worse in zip(tiers, tiers[1:], strict=False):
        assert ranges[better][0] >= ranges[worse][1]


def test_the_value_tables_passed_their_gates_and_the_catalogue_has_their_sizes(
        demo_run) -> None:
    lake = demo_run.lake
    gates = {q["table"]: q["passed"] for q in demo_run.manifest["quality"]
             if q["table"] in ("gold/segments_rfm", "gold/segments_lifecycle", "gold/clv")}
    assert gates == {"gold/segments_rfm": True, "gold/segments_lifecycle": True,
                     "gold/clv": True}
    catalogue = lake.read("gold/segment_catalogue")
    for segmentation, table, column in (("rfm", "gold/segments_rfm", "segment"),
                                        ("lifecycle", "gold/segments_lifecycle", "stage")):
        sizes = lake.read(table).groupBy(F.col(column).alias("segment")).agg(
            F.count("*").cast("long").alias("size"))
        listed = catalogue.where(F.col("segmentation") == segmentation).select(
            "segment", F.col("size").cast("long").alias("size")).where("size > 0")
        assert_df_equality(listed, sizes, ignore_nullable=True, ignore_row_order=True)


def test_one_mlflow_run_holds_the_whole_refresh(demo_run) -> None:
    """Value and behaviour halves log into the refresh's one run, with the config once."""
    from mlflow.tracking import MlflowClient

    from vista import tracking

    runs = [r for r in demo_run.manifest["mlflow_runs"] if r["stage"] == "segments"]
    assert [r["name"] for r in runs] == ["segments"]
    tracking.configure(demo_run.cfg.mlflow)
    client = MlflowClient()
    run = client.get_run(runs[0]["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["vista_run"] == demo_run.manifest["run_id"]
    params, metrics = run.data.params, run.data.metrics
    # the config once, both halves' own parameters and metrics
    assert params["segments.rfm.bins"] == str(demo_run.cfg.segments.rfm.bins)
    assert {"segments.lifestyle.k_min", "lifestyle.model_version"} <= set(params)
    assert {"bgnbd_r", "behaviour_customers"} <= set(metrics)
    plots = {f.path.rsplit("/", 1)[-1]
             for f in client.list_artifacts(run.info.run_id, "segments/plots")}
    assert {"rfm_segment_sizes.png", "lifestyle_segment_sizes.png"} <= plots
    models = {m.name for m in client.search_model_versions(f"run_id = '{run.info.run_id}'")}
    assert {demo_run.cfg.segments.clv.registered_model,
            demo_run.cfg.segments.lifestyle.registered_model} <= models

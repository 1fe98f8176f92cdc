"""The behavioural segmentations on the demo lake, and a refresh without new data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from vista.pipeline import built_stages

# the demo runs the segments stage only once its module is in the pipeline
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    "segments" not in built_stages(), reason="the segments stage is not built yet")]


def test_demo_writes_every_behavioural_table(demo_run) -> None:
    lake = demo_run.lake
    customers = lake.read("gold/customer_profile").select("uid")
    life = lake.read("gold/segments_lifestyle")
    # every UID of the profile has exactly one lifestyle segment
    assert_df_equality(life.select("uid").orderBy("uid"), customers.orderBy("uid"),
                       ignore_nullable=True)
    catalogue = lake.read("gold/segment_catalogue")
    segmentations = {r["segmentation"] for r in catalogue.select("segmentation").distinct()
                     .collect()}
    assert {"lifestyle", "micro", "rfm", "lifecycle"} <= segmentations
    # the catalogue's lifestyle sizes are the table's
    sizes = life.groupBy("segment").agg(F.count("*").cast("long").alias("size"))
    assert_df_equality(
        catalogue.where("segmentation = 'lifestyle'").select("segment", "size"), sizes,
        ignore_nullable=True, ignore_row_order=True)
    assert lake.read("gold/micro_segments").count() == customers.count()
    assert lake.exists("gold/segments_intent")


def test_a_refresh_without_new_data_keeps_every_assignment(demo_run, spark,
                                                           tmp_path: Path) -> None:
    from vista.config import load_config
    from vista.lake import Lake
    from vista.manifest import RunManifest, new_run_id
    from vista.runtime import RunContext
    from vista.segments import run_behavioural

    # a copy of the demo lake and MLflow store, so other tests read the demo untouched
    shutil.copytree(demo_run.root / "lake", tmp_path / "lake")
    shutil.copy(demo_run.root / "mlflow.db", tmp_path / "mlflow.db")
    conf = tmp_path / "refresh.yaml"
    conf.write_text(f"include: [{demo_run.conf}]\nlake: {{root: {tmp_path / 'lake'}}}\n"
                    f"mlflow: {{tracking_uri: 'sqlite:///{tmp_path / 'mlflow.db'}'}}\n",
                    encoding="utf-8")
    cfg = load_config(conf)
    lake = Lake.from_config(spark, cfg.lake)
    manifest = RunManifest(run_id=new_run_id(), engine=lake.engine_name)
    ctx = RunContext(spark=spark, config=cfg, lake=lake, manifest=manifest,
                     run_id=manifest.run_id, options={"gate": False})
    metrics = run_behavioural(ctx, cfg.segments)
    assert metrics["lifestyle_retrained"] == 0
    assert metrics["lifestyle_changed_share"] == 0.0
    cols = ["uid", "segment_id", "segment", "model_version"]
    assert_df_equality(lake.read("gold/segments_lifestyle").select(cols),
                       demo_run.lake.read("gold/segments_lifestyle").select(cols),
                       ignore_row_order=True, ignore_nullable=True)
    moved = (lake.read("gold/segment_transitions")
             .where((F.col("run_id") == ctx.run_id) & (F.col("previous") != F.col("current"))))
    assert moved.count() == 0

"""SIGKILL of a process running the ingest, then a re-run: same tables as a clean run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from chispa import assert_df_equality
from ingest_helpers import ORDERS_SOURCE, comparable, make_config, make_ctx, write

from vista.ingest.stage import run

CHILD = """
import json, os, sys
from types import SimpleNamespace
from vista.config.models import SparkConfig
from vista.spark import build_session
from vista.ingest.config import IngestConfig
from vista.lake import Lake
from vista.manifest import RunManifest
from vista.runtime import RunContext
from vista.ingest.stage import run
cfg = IngestConfig.model_validate(json.loads(open(sys.argv[1]).read()))
spark = build_session(SparkConfig(master="local[1]", shuffle_partitions=1,
                                  checkpoint_dir=sys.argv[3], driver_memory="1g"))
ctx = RunContext(spark, SimpleNamespace(ingest=cfg), Lake(spark, sys.argv[2]), RunManifest("k"),
                 "k", {"quality": False})
run(ctx)
"""


def _export(i: int) -> str:
    rows = [f"m{i}-{n},c{n},2024-0{1 + i % 9}-0{1 + n % 9},{n}.50,EUR" for n in range(5)]
    rows.append(f"m{i}-bad,c9,not a date,1.00,EUR")
    return "order_id,customer,ordered_at,total,cur\n" + "\n".join(rows) + "\n"


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_equals_clean_run(spark, inputs, tmp_path):
    for i in range(6):
        write(inputs / "shop" / f"orders_{i}.csv", _export(i))
    cfg = make_config(inputs, ORDERS_SOURCE, max_files_per_trigger=1)  # 6 micro-batches
    conf = tmp_path / "ingest.json"
    conf.write_text(json.dumps(cfg.model_dump(by_alias=True)), encoding="utf-8")
    killed = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(conf), str(killed), str(tmp_path / "ckpt")],
        env={**os.environ, "PYSPARK_PYTHON": sys.executable}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_commit = killed / "bronze" / "shop" / "_delta_log" / f"{1:020d}.json"
    deadline = time.time() + 300
    while not first_commit.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)  # the child and its JVM, mid-run
    child.wait()
    assert first_commit.exists(), "the child never committed a bronze batch"

    resumed = make_ctx(spark, killed, cfg)
    run(resumed)
    clean = make_ctx(spark, tmp_path / "clean", cfg)
    run(clean)
    for table in ("bronze/shop", "quarantine/shop", "silver/orders"):
        assert_df_equality(comparable(resumed.lake.read(table), drop=("_ingested_at", "_batch_id",
                                                                      "batch_id")),
                           comparable(clean.lake.read(table), drop=("_ingested_at", "_batch_id",
                                                                    "batch_id")),
                           ignore_row_order=True, ignore_nullable=True)
    assert resumed.lake.read("bronze/shop").count() == 30

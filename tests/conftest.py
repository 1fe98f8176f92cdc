"""One session-scoped Spark for the whole suite, with a scratch lake per test run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # executors use this venv


@pytest.fixture(scope="session")
def scratch_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vista-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def spark(scratch_dir: Path):
    from vista.config.models import SparkConfig
    from vista.spark import build_session

    cfg = SparkConfig(
        app_name="vista-tests",
        master="local[2]",
        driver_memory="2g",
        shuffle_partitions=2,
        checkpoint_dir=str(scratch_dir / "checkpoints"),
        conf={
            "spark.sql.warehouse.dir": str(scratch_dir / "warehouse"),
            "spark.default.parallelism": "2",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={scratch_dir}",
        },
    )
    session = build_session(cfg)
    yield session
    session.stop()


@pytest.fixture()
def tmp_lake(tmp_path: Path) -> Path:
    """An empty lake root for one test."""
    root = tmp_path / "lake"
    root.mkdir()
    return root

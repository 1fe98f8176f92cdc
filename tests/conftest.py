"""One session-scoped Spark for the whole suite, with a scratch lake per test run."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from suite_spark import TINY_DATA_JVM, TINY_DATA_SQL

os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # executors use this venv

# The suite's one session runs without Delta's JVM classes (the delta-rs engine) unless
# VISTA_TEST_ENGINE=delta-spark: then Delta's JARs are fetched from Maven Central into the
# repo's .vista/ivy and `lake.engine: auto` picks delta-spark. `make test` runs the
# tests marked delta_spark in a second session of that kind.
DELTA_SESSION = os.environ.get("VISTA_TEST_ENGINE", "delta-rs") == "delta-spark"
REPO = Path(__file__).resolve().parents[1]

# What every test starts with (tests/suite_spark.py says why); tiny inputs: one task per shuffle
SUITE_SQL = {"spark.sql.shuffle.partitions": "1", **TINY_DATA_SQL}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked delta_spark need Delta's JVM classes: deselected in a delta-rs session."""
    if DELTA_SESSION:
        return
    keep = [i for i in items if i.get_closest_marker("delta_spark") is None]
    dropped = [i for i in items if i.get_closest_marker("delta_spark") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_runtest_setup(item: pytest.Item) -> None:
    """CI's clock: a test marked slow that would start after ``VISTA_SLOW_DEADLINE`` (epoch
    seconds, set by ``.ci/run``) is skipped with that reason, so CI reports in time."""
    import time

    deadline = os.environ.get("VISTA_SLOW_DEADLINE")
    if deadline and item.get_closest_marker("slow") is not None and time.time() > float(deadline):
        pytest.skip("CI's time for the slow tests is spent (VISTA_SLOW_DEADLINE); "
                    "run `make test-slow` to run it")


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
        # one JVM runs every stage of the whole suite, many times over; a run of a few
        # test files may ask for less (VISTA_TEST_DRIVER_MEMORY=2g)
        driver_memory=os.environ.get("VISTA_TEST_DRIVER_MEMORY", "6g"),
        shuffle_partitions=int(SUITE_SQL["spark.sql.shuffle.partitions"]),  # tiny inputs
        checkpoint_dir=str(scratch_dir / "checkpoints"),
        delta=DELTA_SESSION,
        ivy_dir=str(REPO / ".vista" / "ivy"),
        conf={
            "spark.sql.warehouse.dir": str(scratch_dir / "warehouse"),
            "spark.default.parallelism": "2",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={scratch_dir} {TINY_DATA_JVM}",
            **TINY_DATA_SQL,
        },
    )
    session = build_session(cfg)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vista's wheel, built as ``make wheel`` builds it, from a copy of the sources."""
    import subprocess
    import sys

    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "lib", src / "lib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist),
                           str(src)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = dist.glob("vista-*.whl")
    return wheel


@pytest.fixture(scope="module", autouse=True)
def _release_cached_frames() -> Iterator[None]:
    """Drop every cached frame after each test module: the one JVM serves the whole suite."""
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.catalog.clearCache()


@pytest.fixture(autouse=True)
def _suite_sql_settings() -> None:
    """Each test starts with the suite's settings: one run of vista's CLI in this JVM
    leaves vista's own (adaptive plans, generated code, more shuffle partitions) behind."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in SUITE_SQL.items():
            active.conf.set(key, value)


@pytest.fixture()
def tmp_lake(tmp_path: Path) -> Path:
    """An empty lake root for one test."""
    root = tmp_path / "lake"
    root.mkdir()
    return root


@pytest.fixture(scope="session")
def demo_run(spark, scratch_dir: Path):
    """`vista demo` once per test session, on a tiny sample lake, in this session's Spark.

    End-to-end tests of every stage read its outputs (lake tables, manifest, stdout)
    instead of running the pipeline again.
    """
    import contextlib
    import io
    import json
    from types import SimpleNamespace

    from vista.cli import main
    from vista.config import load_config
    from vista.lake import Lake

    root = scratch_dir / "demo"
    root.mkdir()
    repo_conf = Path(__file__).resolve().parents[1] / "conf" / "local.yaml"
    conf = root / "demo.yaml"
    conf.write_text(
        f"include: [{repo_conf}]\n"
        f"spark: {{checkpoint_dir: {root / 'checkpoints'}, shuffle_partitions: 1, "
        f"conf: {json.dumps(TINY_DATA_SQL)}}}\n"
        f"lake: {{root: {root / 'lake'}}}\n"
        f"mlflow: {{tracking_uri: 'sqlite:///{root / 'mlflow.db'}', "
        f"artifact_location: {root / 'mlruns'}}}\n"
        f"ingest: {{inputs_root: {root / 'sample'}}}\n"
        "demo: {customers: 40, seed: 3, months: 12, bad_row_rate: 0.04}\n",
        encoding="utf-8",
    )
    import logging

    import vista.cli

    # What the user sees (stdout and stderr) and every log record any logger lets through
    # at its level (the terminal shows only progress lines): the privacy test scans all.
    records: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(f"{record.name} {record.getMessage()}")

    keep, setup = _Keep(level=logging.DEBUG), vista.cli.setup_logging

    def setup_and_keep(verbose: bool = False) -> None:
        setup(verbose)
        logging.getLogger().addHandler(keep)

    out, err = io.StringIO(), io.StringIO()
    vista.cli.setup_logging = setup_and_keep
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["demo", "--conf", str(conf)])
    finally:
        vista.cli.setup_logging = setup
        logging.getLogger().removeHandler(keep)
        for handler in logging.getLogger().handlers:  # basicConfig's, on the closed-over err
            if getattr(handler, "stream", None) is err:
                handler.setStream(sys.stderr)
    cfg = load_config(conf)
    manifests = sorted((root / "lake" / "_manifests").glob("*.json"))
    return SimpleNamespace(
        code=code, stdout=out.getvalue(), stderr=err.getvalue(), logs=records,
        conf=conf, cfg=cfg, root=root,
        sample=root / "sample", lake=Lake.from_config(spark, cfg.lake),
        manifest=json.loads(manifests[-1].read_text()) if manifests else None,
    )

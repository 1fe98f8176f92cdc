"""Lake fixtures: one Lake per engine available in this session."""

from __future__ import annotations

from pathlib import Path

import pytest

ENGINES = ["delta-rs", "delta-spark"]


@pytest.fixture(params=ENGINES)
def lake(request: pytest.FixtureRequest, spark, tmp_path: Path):
    from vista.lake import Lake
    from vista.spark import delta_jvm_available

    if request.param == "delta-spark" and not delta_jvm_available(spark):
        pytest.skip("Delta JVM classes not on the classpath: io.delta.tables.DeltaTable is not "
                    "loadable (start Spark with --packages io.delta:delta-spark_2.13:4.0.0)")
    return Lake(spark, str(tmp_path / "lake"), engine=request.param)


@pytest.fixture()
def rs_lake(spark, tmp_path: Path):
    from vista.lake import Lake

    return Lake(spark, str(tmp_path / "lake"), engine="delta-rs")

"""Lake fixtures: one Lake per engine available in this session."""

from __future__ import annotations

from pathlib import Path

import pytest

# The delta-spark half runs in the suite's second session (VISTA_TEST_ENGINE=delta-spark,
# Delta's JARs from Maven Central); `make test` runs both, so neither half is skipped.
ENGINES = ["delta-rs", pytest.param("delta-spark", marks=pytest.mark.delta_spark)]


@pytest.fixture(params=ENGINES)
def lake(request: pytest.FixtureRequest, spark, tmp_path: Path):
    from vista.lake import Lake

    return Lake(spark, str(tmp_path / "lake"), engine=request.param)


@pytest.fixture()
def rs_lake(spark, tmp_path: Path):
    from vista.lake import Lake

    return Lake(spark, str(tmp_path / "lake"), engine="delta-rs")

"""vista's session under ``spark-submit``: the driver JVM exists before vista configures it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    from splink.backends.spark import SparkAPI

    from vista.config.models import SparkConfig
    from vista.spark import build_session

    spark = build_session(SparkConfig(app_name="submit-check", driver_memory="1g"))
    SparkAPI(spark_session=spark)  # registers Splink's similarity UDFs from its jar
    row = spark.sql("select jaro_winkler('martha', 'marhta') as s").first()
    print(f"JW={row.s:.4f}")
""")


def test_splink_similarity_udfs_work_under_spark_submit(tmp_path: Path) -> None:
    submit = Path(sys.executable).with_name("spark-submit")
    if not submit.exists():
        submit = Path(shutil.which("spark-submit") or "")
    assert submit.is_file(), "spark-submit ships with pyspark; it must be on the venv's path"
    script = tmp_path / "job.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join([str(REPO / "lib"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([str(submit), "--master", "local[1]", str(script)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "JW=0.9611" in done.stdout
    assert "Unable to load custom Spark SQL functions" not in done.stderr



@pytest.mark.slow  # a JVM of its own
def test_a_session_vista_starts_prints_no_java_warning(tmp_path: Path) -> None:
    """The driver JVM vista launches reads vista's log4j2 file: no banner, no WARN lines."""
    script = tmp_path / "session.py"
    script.write_text(textwrap.dedent("""
        from vista.config.models import SparkConfig
        from vista.spark import build_session

        spark = build_session(SparkConfig(app_name="quiet-check", master="local[1]",
                                          driver_memory="512m"))
        print("N=%d" % spark.range(3).count())
        print(spark.sparkContext.getConf().get("spark.driver.extraJavaOptions"))
    """), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPARK_SUBMIT_OPTS", "SPARK_ENV_LOADED", "PYSPARK_GATEWAY_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "lib"), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "N=3" in done.stdout and "log4j2.properties" in done.stdout
    java_lines = [line for line in done.stderr.splitlines()
                  if " WARN " in line or "log4j profile" in line or "setLogLevel" in line
                  or "default log level" in line]
    assert java_lines == []

"""The SparkSession factory.

Nothing here runs at import. Under ``spark-submit`` the master and resources come from
the submit; locally the defaults come from the ``spark`` section of the config.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from vista.config.models import SparkConfig

log = logging.getLogger(__name__)

_DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
_DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def _under_spark_submit() -> bool:
    # spark-submit launches the Python driver with these set; a plain `python` has neither.
    return "SPARK_SUBMIT_OPTS" in os.environ or os.environ.get("SPARK_ENV_LOADED") == "1" or (
        "PYSPARK_GATEWAY_PORT" in os.environ
    )


def _splink_jar() -> str | None:
    try:
        from splink.backends.spark import similarity_jar_location
    except ImportError:  # pragma: no cover - splink is a hard dependency
        return None
    return similarity_jar_location()


def build_session(cfg: SparkConfig) -> SparkSession:
    """Build (or return the running) SparkSession for vista.

    Args:
        cfg: The ``spark`` section of the config.

    Returns:
        The active session, with Delta's extension and catalog when Delta's JVM classes
        are on the classpath, Splink's similarity UDF jar, and a checkpoint directory.
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(cfg.app_name)
    if not _under_spark_submit():
        builder = builder.master(cfg.master).config("spark.driver.memory", cfg.driver_memory)
    jars = [j for j in [_splink_jar(), *cfg.jars] if j]
    settings: dict[str, str] = {
        "spark.sql.shuffle.partitions": str(cfg.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.session.timeZone": cfg.timezone,
        "spark.ui.enabled": str(cfg.ui).lower(),
        "spark.ui.showConsoleProgress": str(cfg.console_progress).lower(),
        "spark.sql.ansi.enabled": "false",
        "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    }
    if jars:
        settings["spark.jars"] = ",".join(jars)
    settings.update({k: str(v) for k, v in cfg.conf.items()})
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(cfg.log_level)
    if delta_jvm_available(spark):
        # The extension must be set before the session exists; warn if a user's session lacks it.
        if spark.conf.get("spark.sql.extensions", "") != _DELTA_EXTENSION:
            log.info("Delta JVM classes present; set spark.sql.extensions=%s in the submit",
                     _DELTA_EXTENSION)
    checkpoint = cfg.checkpoint_dir
    if checkpoint and not checkpoint.startswith(("s3", "gs:", "abfs", "hdfs", "dbfs")):
        Path(checkpoint).mkdir(parents=True, exist_ok=True)
    if checkpoint:
        spark.sparkContext.setCheckpointDir(checkpoint)
    return spark


def delta_jvm_available(spark: SparkSession) -> bool:
    """Whether Delta Lake's JVM classes (delta-spark) are loaded in this session."""
    try:
        jvm = spark.sparkContext._jvm
        jvm.java.lang.Class.forName(
            "io.delta.tables.DeltaTable", True, jvm.Thread.currentThread().getContextClassLoader()
        )
        return True
    except Exception:
        return False

"""The SparkSession factory.

Nothing here runs at import. Under ``spark-submit`` the master and resources come from
the submit; locally the defaults come from the ``spark`` section of the config.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from vista.config.models import SparkConfig

log = logging.getLogger(__name__)

_DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
_DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
_SNAPSHOT_PARTITIONS = "spark.databricks.delta.snapshotPartitions"
_DELTA_SNAPSHOT_PARTITIONS = 50  # Delta's own default


def _under_spark_submit() -> bool:
    # spark-submit launches the Python driver with these set; a plain `python` has neither.
    return "SPARK_SUBMIT_OPTS" in os.environ or os.environ.get("SPARK_ENV_LOADED") == "1" or (
        "PYSPARK_GATEWAY_PORT" in os.environ
    )


_LOG4J_OPTION = "-Dlog4j2.configurationFile="
_DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"


def _java_logging(settings: dict[str, str]) -> dict[str, str]:
    """Point the driver JVM vista launches at vista's log4j2 configuration.

    It is read when the JVM starts, so its warnings about the machine (a loopback host
    name, Hadoop's missing native library) and Spark's banner never reach the terminal;
    the file is ``vista/resources/log4j2.properties``. A user's own
    ``spark.driver.extraJavaOptions`` is kept, and one naming a log4j2 configuration wins.
    Under spark-submit the JVM exists already and the cluster's configuration applies.
    """
    current = settings.get(_DRIVER_JAVA_OPTIONS, "")
    if "log4j2.configurationFile" in current or "log4j.configurationFile" in current:
        return {}
    config = Path(__file__).resolve().parent / "resources" / "log4j2.properties"
    if not config.is_file():  # a zipped package: Spark's defaults apply
        return {}
    return {_DRIVER_JAVA_OPTIONS: f"{current} {_LOG4J_OPTION}{config.as_uri()}".strip()}


def _splink_jar() -> str | None:
    try:
        from splink.backends.spark import similarity_jar_location
    except ImportError:  # pragma: no cover - splink is a hard dependency
        return None
    return similarity_jar_location()


def delta_package() -> str:
    """Maven coordinates of Delta Lake's JARs matching the installed ``delta-spark``.

    Returns:
        ``io.delta:delta-spark_2.13:<version>`` (Spark 4 is built for Scala 2.13).

    Raises:
        ConfigError: The ``delta-spark`` Python package is not installed.
    """
    from importlib.metadata import PackageNotFoundError, version

    from vista.errors import ConfigError, ConfigProblem

    try:
        release = version("delta-spark")
    except PackageNotFoundError as exc:
        raise ConfigError([ConfigProblem("spark.delta", "true, but the delta-spark package is "
                                         "not installed; pip install the delta-spark release "
                                         "that matches pyspark, or set it to false.")]) from exc
    return f"io.delta:delta-spark_2.13:{release}"


def _packages(cfg: SparkConfig) -> list[str]:
    return list(dict.fromkeys([*([delta_package()] if cfg.delta else []), *cfg.packages]))


def build_session(cfg: SparkConfig) -> SparkSession:
    """Build (or return the running) SparkSession for vista.

    Args:
        cfg: The ``spark`` section of the config.

    Returns:
        The active session, with Delta's extension and catalog when Delta's JVM classes
        are on the classpath (``spark.delta`` fetches them), Splink's similarity UDF jar,
        and a checkpoint directory.

    Raises:
        ConfigError: ``spark.delta`` without the delta-spark package.
    """
    from pyspark.sql import SparkSession

    from vista.lake import s3a_endpoint_settings

    builder = SparkSession.builder.appName(cfg.app_name)
    launch: dict[str, str] = {"spark.app.name": cfg.app_name}
    if not _under_spark_submit():
        builder = builder.master(cfg.master).config("spark.driver.memory", cfg.driver_memory)
        launch.update({"spark.master": cfg.master, "spark.driver.memory": cfg.driver_memory})
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
    packages = _packages(cfg)
    if packages and not _under_spark_submit():
        # Resolved from Maven Central by the JVM's launcher (Ivy) into ivy_dir.
        settings["spark.jars.packages"] = ",".join(packages)
        if cfg.ivy_dir:
            settings["spark.jars.ivy"] = os.path.abspath(cfg.ivy_dir)
    settings.update({k: str(v) for k, v in cfg.conf.items()})
    # An S3-compatible server named in the environment (AWS_ENDPOINT_URL) reaches s3a too.
    settings.update(s3a_endpoint_settings(settings, os.environ))
    if not _under_spark_submit():
        settings.update(_java_logging(settings))
    settings.update(_delta_settings({**launch, **settings}))  # starts the JVM
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(cfg.log_level)
    _quiet_codegen_fallback(spark)
    _load_splink_jar_in_driver(spark)
    _wheels_on_executor_path(spark)
    if delta_jvm_available(spark) and _DELTA_EXTENSION not in spark.conf.get(
            "spark.sql.extensions", ""):
        # A session that existed before build_session keeps its static confs.
        log.warning("Delta JVM classes present but the session lacks spark.sql.extensions=%s "
                    "(it was created elsewhere); set it and spark.sql.catalog.spark_catalog=%s "
                    "where that session is built", _DELTA_EXTENSION, _DELTA_CATALOG)
    if cfg.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(checkpoint_location(cfg.checkpoint_dir))
    return spark


def checkpoint_location(checkpoint_dir: str) -> str:
    """The checkpoint directory as Spark takes it; a local one is created first.

    The location is read by :func:`vista.lake.resolve_location`, like every lake location:
    a local path or ``file:`` URI becomes an absolute folder that exists, any other URI
    (``s3a://``, ``gs://``, ``hdfs://``, ...) is left to Hadoop's connector and nothing
    is created locally.

    Args:
        checkpoint_dir: ``spark.checkpoint_dir`` from the config.

    Returns:
        What ``SparkContext.setCheckpointDir`` takes.
    """
    from vista.lake import resolve_location

    loc = resolve_location(checkpoint_dir)
    if loc.local is not None:
        Path(loc.local).mkdir(parents=True, exist_ok=True)
    return loc.spark


# Spark's code generator logs every generated method over the JVM's 64 KB limit as an
# ERROR with a long Java stack trace, then runs the same plan interpreted
# (spark.sql.codegen.fallback): the query's result is the same. Splink's scoring of new
# records against old ones (an incremental run) generates such a method.
_CODEGEN_LOGGER = "org.apache.spark.sql.catalyst.expressions.codegen.CodeGenerator"


def _quiet_codegen_fallback(spark: SparkSession) -> None:
    """Keep the code generator's fallback traces out of the driver's log (see above).

    A compile failure Spark cannot fall back from still fails the query with its error.
    """
    try:
        jvm = spark.sparkContext._jvm
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
            _CODEGEN_LOGGER, jvm.org.apache.logging.log4j.Level.OFF)
    except Exception as exc:  # another logging backend: the traces stay, nothing breaks
        log.debug("code generator logger left as it is: %s", exc)


_SPLINK_PROBE_CLASS = "uk.gov.moj.dash.linkage.JaroWinklerSimilarity"


def _load_splink_jar_in_driver(spark: SparkSession) -> None:
    """Make Splink's similarity UDFs loadable by the driver, also under ``spark-submit``.

    ``spark.jars`` set on the builder reaches the executors, but under ``spark-submit``
    the driver's JVM is already running and its class loader never sees the jar, so
    Splink's ``registerJavaFunction`` fails with a warning and identity later stops at
    ``UNRESOLVED_ROUTINE JARO_WINKLER``. ``ADD JAR`` adds it to the session's class loader
    (driver and executors alike).
    """
    jar = _splink_jar()
    if not jar or _driver_loads(spark, _SPLINK_PROBE_CLASS):
        return
    log.info("adding Splink's similarity jar to the driver's class loader")
    spark.sql(f"ADD JAR '{jar}'")


def _wheels_on_executor_path(spark: SparkSession) -> None:
    """Put the wheels of ``spark-submit --py-files`` on the executors' Python path.

    PySpark adds only ``.zip``, ``.egg`` and ``.jar`` files of ``spark.submit.pyFiles`` to
    the Python path of its workers (``SparkContext.PACKAGE_EXTENSIONS``): a wheel is shipped
    to every executor but never importable there, so the first vista UDF an executor runs
    fails with ``No module named 'vista'`` (the driver, which spark-submit gives the wheel
    on its own path, runs fine). A wheel is a zip archive: a copy named ``.zip`` is added
    with ``addPyFile``. Nothing is done when PySpark takes wheels itself.
    """
    from pyspark import SparkContext, SparkFiles

    if ".whl" in SparkContext.PACKAGE_EXTENSIONS:
        return
    sc = spark.sparkContext
    listed = sc.getConf().get("spark.submit.pyFiles", "") or ""
    for entry in (e for e in listed.split(",") if e.lower().endswith(".whl")):
        name = os.path.basename(entry)
        # spark-submit copies each --py-files entry into the driver's SparkFiles folder
        local = next((p for p in (os.path.join(SparkFiles.getRootDirectory(), name),
                                  entry.removeprefix("file:")) if os.path.isfile(p)), None)
        if local is None:
            log.warning("--py-files %s: no local copy found; executors may not import it", name)
            continue
        # The driver's file server serves the file from where it is added, so the copy
        # stays for the application's life: in Spark's own temp folder, removed at exit.
        folder = os.path.join(SparkFiles.getRootDirectory(), "vista-pyfiles")
        os.makedirs(folder, exist_ok=True)
        as_zip = os.path.join(folder, name[: -len(".whl")] + ".zip")
        shutil.copyfile(local, as_zip)
        sc.addPyFile(as_zip)
        log.info("--py-files %s: on the executors' Python path as a .zip", name)


def _driver_loads(spark: SparkSession, class_name: str) -> bool:
    jvm = spark.sparkContext._jvm
    try:
        jvm.java.lang.Thread.currentThread().getContextClassLoader().loadClass(class_name)
    except Exception:  # py4j wraps ClassNotFoundException
        return False
    return True


def _delta_settings(settings: dict[str, str]) -> dict[str, str]:
    """Delta's session extension and catalog, only when Delta's classes will be loaded.

    Both are static: they must be in the conf the session is created with. A missing
    extension class only logs a warning, but a missing ``spark_catalog`` class breaks every
    catalog lookup (``Cannot find catalog plugin class for catalog 'spark_catalog'``). So
    the JVM is started first (with the jars from ``settings``, or attached under
    spark-submit), the class is looked up there, and only then are the two settings added.
    """
    from pyspark import SparkConf, SparkContext

    if SparkContext._active_spark_context is not None:
        return {}  # getOrCreate returns the running session; its static confs are fixed
    conf = SparkConf()
    for key, value in settings.items():
        conf.set(key, value)
    SparkContext._ensure_initialized(conf=conf)
    if not _class_loadable(SparkContext._jvm, "io.delta.tables.DeltaTable"):
        return {}
    extensions = [e for e in settings.get("spark.sql.extensions", "").split(",") if e.strip()]
    out = {"spark.sql.extensions": ",".join(dict.fromkeys([*extensions, _DELTA_EXTENSION]))}
    if "spark.sql.catalog.spark_catalog" not in settings:
        out["spark.sql.catalog.spark_catalog"] = _DELTA_CATALOG
    if _SNAPSHOT_PARTITIONS not in settings and "spark.sql.shuffle.partitions" in settings:
        # Delta replays its log in 50 partitions by default: 50 tasks per table read, even
        # for a table of a few files. A narrower session (local mode) replays in its
        # shuffle width; a wider one keeps Delta's 50, since a log does not grow with the
        # data's shuffles (400 made each VACUUM and OPTIMIZE of a tiny table take 30-40 s).
        out[_SNAPSHOT_PARTITIONS] = str(min(int(settings["spark.sql.shuffle.partitions"]),
                                            _DELTA_SNAPSHOT_PARTITIONS))
    log.info("Delta JVM classes found: session gets Delta's extension and catalog")
    return out


def _class_loadable(jvm, name: str) -> bool:  # noqa: ANN001 - py4j JVMView
    try:
        jvm.java.lang.Class.forName(name, True, jvm.Thread.currentThread().getContextClassLoader())
        return True
    except Exception:
        return False


def delta_jvm_available(spark: SparkSession) -> bool:
    """Whether Delta Lake's JVM classes (delta-spark) are loaded in this session."""
    try:
        return _class_loadable(spark.sparkContext._jvm, "io.delta.tables.DeltaTable")
    except Exception:
        return False


#: SQL settings under which Spark runs queries interpreted, without generated code
#: (the same results; compiling hundreds of small queries can cost more than it saves).
INTERPRETED = {"spark.sql.codegen.wholeStage": "false",
               "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


@contextlib.contextmanager
def session_conf(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Set runtime SQL settings for the duration of a block; the session's values (or
    their absence) are restored after, also when the block fails."""
    before = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)

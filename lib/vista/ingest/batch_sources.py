"""Delta and JDBC sources: incremental reads by a watermark column.

A table has no file log to track, so these sources declare ``watermark_column``: a
column that only grows (an ``updated_at`` timestamp, an auto-increment id). Each run is
one batch ``(lo, hi]``:

1. *Plan*: ``hi`` = the current maximum of the watermark; the plan
   ``(source, batch_id, lo, hi)`` is appended to ``_state/ingest_offsets`` with
   ``txn=("offsets:<source>", batch_id)`` before any data is written (like a streaming
   offset log).
2. *Write*: rows with ``lo < wm <= hi`` go through the same per-batch function as file
   sources (:func:`vista.ingest.bronze.write_batch`), idempotent by ``batch_id``.
3. A planned batch whose quarantine write (the last write of a batch) is missing is
   *replayed* with its recorded bounds on the next run, so a crash loses nothing and
   duplicates nothing.

Rows updated in place without moving the watermark are not seen; use an ``updated_at``
column, not a creation date, for mutable tables. Rows whose watermark is null are never
read: declare the column ``NOT NULL`` or ``coalesce`` it in a ``query``.

JDBC specifics: credentials come from the environment variables named in config, never
from the config itself, and vista puts them in no log line or error message. The
watermark's maximum is a ``SELECT MAX(...)`` run by the database and the batch bounds are
pushed down as a ``WHERE``, so a run transfers only its own rows. The watermark's
database ordering must be its order (a timestamp, date or number column). Reader options
(``fetchsize``, a partitioned read's ``partitionColumn``/``lowerBound``/``upperBound``/
``numPartitions``, driver properties) are passed through to Spark.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.errors import SourceError
from vista.ingest.bronze import SourceCounts, input_path, quarantine_table, write_batch
from vista.ingest.config import JDBC_PARTITION_OPTIONS, IngestConfig, SourceConfig

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

log = logging.getLogger(__name__)

OFFSETS_TABLE = "_state/ingest_offsets"


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def resolve_columns(src: SourceConfig, columns: list[str]) -> dict[str, str]:
    """Declared field -> the table's column: exact name first, else the one equal ignoring case.

    Databases fold unquoted identifiers (Oracle, DB2 and Derby to upper case, PostgreSQL
    to lower case), so a declared ``cust_no`` is the table's ``CUST_NO``.

    Raises:
        SourceError: Naming the declared fields that match no column, or several.
    """
    by_lower: dict[str, list[str]] = {}
    for col in columns:
        by_lower.setdefault(col.lower(), []).append(col)
    found, missing, ambiguous = {}, [], []
    for name in src.schema_:
        candidates = [name] if name in columns else by_lower.get(name.lower(), [])
        if len(candidates) == 1:
            found[name] = candidates[0]
        else:
            (ambiguous if candidates else missing).append(name)
    if missing or ambiguous:
        detail = "; ".join(part for part in (
            f"not in the table: {missing}" if missing else "",
            f"match several columns ignoring case: {ambiguous}" if ambiguous else "") if part)
        raise SourceError(f"source '{src.name}': declared fields {detail} (found {columns}); "
                          f"fix `schema` to name the table's columns")
    return found


def _option_text(value: str | int | float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def jdbc_options(src: SourceConfig) -> dict[str, str]:
    """Spark JDBC reader options of ``src``, with the credentials from the environment.

    Raises:
        SourceError: When an environment variable named by ``user_env``/``password_env``
            is not set.
    """
    assert src.jdbc is not None
    j = src.jdbc
    opts = {"url": j.url, "fetchsize": str(j.fetchsize)}
    if j.driver:
        opts["driver"] = j.driver
    opts.update({k: _option_text(v) for k, v in src.options.items()})
    for opt, env in (("user", j.user_env), ("password", j.password_env)):
        if env:
            if env not in os.environ:
                raise SourceError(f"source '{src.name}': environment variable {env} "
                                  f"(jdbc.{opt}_env) is not set; export it before the run")
            opts[opt] = os.environ[env]
    return opts


def _load_jdbc(spark: SparkSession, src: SourceConfig, opts: dict[str, str]) -> DataFrame:
    """``spark.read.jdbc`` with a readable error; the password never reaches the message."""
    try:
        return spark.read.format("jdbc").options(**opts).load()
    except Exception as exc:  # Py4J / captured JVM errors: the driver's own message
        java = getattr(exc, "java_exception", None)
        text = (str(java.toString()) if java is not None else str(exc)).strip()
        text = text.splitlines()[0] if text else type(exc).__name__
        if opts.get("password"):
            text = text.replace(opts["password"], "***")
        assert src.jdbc is not None
        raise SourceError(
            f"source '{src.name}': cannot read JDBC {src.jdbc.dbtable or 'query'} ({text}). "
            f"Expected a reachable database, the table, and the driver class on the Spark "
            f"classpath; check jdbc.url, jdbc.driver (its jar goes in spark-submit --jars or "
            f"spark.jars) and the credentials in jdbc.user_env/password_env."
        ) from None


def _read(spark: SparkSession, lake: Lake, src: SourceConfig,
          cfg: IngestConfig) -> tuple[DataFrame, dict[str, str]]:
    """The typed table (see :func:`read_table`) and declared field -> table column."""
    if src.format == "delta":
        df, origin = lake.read(input_path(src, cfg)), src.path
    else:
        assert src.jdbc is not None
        j = src.jdbc
        relation = {"dbtable": j.dbtable} if j.dbtable else {"query": j.query or ""}
        df = _load_jdbc(spark, src, {**jdbc_options(src), **relation})
        origin = f"jdbc:{j.dbtable or 'query'}"
    columns = resolve_columns(src, df.columns)
    typed = df.select(
        *[F.col(_quoted(columns[n])).cast(ddl).alias(n) for n, ddl in src.schema_.items()],
        F.lit(origin).alias("_file"),
        F.lit(None).cast("timestamp").alias("_file_modified_at"),
    )
    return typed, columns


def read_table(spark: SparkSession, lake: Lake, src: SourceConfig, cfg: IngestConfig) -> DataFrame:
    """The whole source table, typed by the declared schema, with ``_file`` lineage.

    Lazy: a filter on the watermark is pushed down to the database (JDBC) or to the
    Delta files, so a run reads only its batch.

    Raises:
        SourceError: When the table cannot be read or lacks a declared field.
    """
    return _read(spark, lake, src, cfg)[0]


def _jdbc_high(spark: SparkSession, src: SourceConfig, column: str) -> str | None:
    """``MAX(watermark)`` computed by the database: one row over the wire, not a column.

    Spark's JDBC reader does not push aggregates down, so the query is written here, with
    the table's column name quoted by Spark's dialect for the URL.
    """
    assert src.jdbc is not None and src.watermark_column is not None
    j = src.jdbc
    dialect = spark.sparkContext._jvm.org.apache.spark.sql.jdbc.JdbcDialects.get(j.url)
    relation = j.dbtable or f"({j.query}) vista_wm"
    sql = f"SELECT MAX({dialect.quoteIdentifier(column)}) AS vista_hi FROM {relation}"
    skip = {o.lower() for o in JDBC_PARTITION_OPTIONS}  # one row: no partitioned read
    opts = {k: v for k, v in jdbc_options(src).items() if k.lower() not in skip}
    high = _load_jdbc(spark, src, {**opts, "query": sql})
    wm_type = src.schema_[src.watermark_column]
    return high.select(F.col(_quoted(high.columns[0])).cast(wm_type).cast("string")).first()[0]


def _plan(spark: SparkSession, lake: Lake, src: SourceConfig,
          high: Callable[[], str | None]) -> tuple[int, str | None, str | None] | None:
    """The batch to run: ``(batch_id, lo, hi)``, a replay if the last one is incomplete.

    ``high()`` gives the watermark's current maximum as text; it is only asked for when
    there is no batch to replay.
    """
    app = f"offsets:{src.name}"
    planned = lake.txn_version(OFFSETS_TABLE, app) if lake.exists(OFFSETS_TABLE) else None
    last_lo = last_hi = None
    if planned is not None:
        row = (lake.read(OFFSETS_TABLE)
               .where((F.col("source") == src.name) & (F.col("batch_id") == planned)).first())
        last_lo, last_hi = row["lo"], row["hi"]
        done = lake.txn_version(quarantine_table(src), f"ingest:{src.name}") if lake.exists(
            quarantine_table(src)) else None
        if done is None or done < planned:
            return planned, last_lo, last_hi
    hi = high()
    if hi is None or hi == last_hi:
        return None
    batch_id = 0 if planned is None else planned + 1
    plan = spark.createDataFrame([(src.name, batch_id, last_hi, hi)],
                                 "source string, batch_id long, lo string, hi string")
    lake.append(OFFSETS_TABLE, plan, txn=(app, batch_id))
    return batch_id, last_hi, hi


def _in_batch(table: DataFrame, wm_name: str, wm_type: str, lo: str | None, hi: str) -> Column:
    """``lo < wm <= hi``, as literals a source can take as a pushed-down ``WHERE``.

    Timestamps are compared on Spark's microsecond scale: a database may hold finer ones
    (SQL Server ``datetime2``, Oracle ``TIMESTAMP(9)``, Derby) and Spark reads them
    truncated, so ``hi`` (a truncated maximum) would otherwise leave out the row that set
    it, and the next run, seeing the same maximum, would never read it.
    """
    wm = F.col(_quoted(wm_name))
    micro = F.expr("INTERVAL 1 MICROSECOND")
    fine = isinstance(table.schema[wm_name].dataType, (T.TimestampType, T.TimestampNTZType))
    hi_col = F.lit(hi).cast(wm_type)
    cond = wm < hi_col + micro if fine else wm <= hi_col
    if lo is not None:
        lo_col = F.lit(lo).cast(wm_type)
        cond = cond & (wm >= lo_col + micro if fine else wm > lo_col)
    return cond


def ingest_batch_source(
    spark: SparkSession,
    lake: Lake,
    src: SourceConfig,
    cfg: IngestConfig,
    gate: Callable[[DataFrame, str, int], None] | None = None,
) -> SourceCounts:
    """Ingest the rows of a Delta/JDBC source that are new since the last run.

    Args:
        spark: The session.
        lake: The lake layer.
        src: A ``delta`` or ``jdbc`` source with ``watermark_column``.
        cfg: The ingest config.
        gate: Optional bronze quality gate.

    Returns:
        The counts of this run.

    Raises:
        SourceError: When the table cannot be read, lacks a declared field, or a
            credential's environment variable is not set.
    """
    counts = SourceCounts(src.name)
    wm_name = src.watermark_column or ""
    table, columns = _read(spark, lake, src, cfg)
    if src.format == "jdbc":
        def high() -> str | None:
            return _jdbc_high(spark, src, columns[wm_name])
    else:
        def high() -> str | None:
            return table.agg(F.max(_quoted(wm_name)).cast("string").alias("hi")).first()["hi"]
    plan = _plan(spark, lake, src, high)
    if plan is None:
        log.info("ingest %s: nothing past the watermark", src.name)
        return counts
    batch_id, lo, hi = plan
    log.info("ingest %s batch %d: %s in (%s, %s]", src.name, batch_id, wm_name, lo, hi)
    rows = table.where(_in_batch(table, wm_name, src.schema_[wm_name], lo, hi))
    counts.add(write_batch(lake, src, cfg, rows, batch_id, gate))
    return counts

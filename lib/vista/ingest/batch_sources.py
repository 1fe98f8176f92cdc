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
column, not a creation date, for mutable tables. Credentials for JDBC come from the
environment variables named in config, never from the config itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vista.errors import SourceError
from vista.ingest.bronze import SourceCounts, input_path, quarantine_table, write_batch
from vista.ingest.config import IngestConfig, SourceConfig

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

log = logging.getLogger(__name__)

OFFSETS_TABLE = "_state/ingest_offsets"


def read_table(spark: SparkSession, lake: Lake, src: SourceConfig, cfg: IngestConfig) -> DataFrame:
    """The whole source table, typed by the declared schema, with ``_file`` lineage."""
    if src.format == "delta":
        df, origin = lake.read(input_path(src, cfg)), src.path
    else:
        assert src.jdbc is not None
        j = src.jdbc
        reader = spark.read.format("jdbc").option("url", j.url)
        reader = reader.option("dbtable", j.dbtable) if j.dbtable else reader.option("query", j.query)
        for opt, env in (("user", j.user_env), ("password", j.password_env)):
            if env:
                if env not in os.environ:
                    raise SourceError(f"source '{src.name}': environment variable {env} "
                                      f"(jdbc.{opt}_env) is not set; export it before the run")
                reader = reader.option(opt, os.environ[env])
        if j.driver:
            reader = reader.option("driver", j.driver)
        df, origin = reader.load(), f"jdbc:{j.dbtable or 'query'}"
    missing = [n for n in src.schema_ if n not in df.columns]
    if missing:
        raise SourceError(f"source '{src.name}': declared fields {missing} are not in the "
                          f"table (found {df.columns}); fix `schema`")
    return df.select(
        *[F.col(f"`{n}`").cast(ddl).alias(n) for n, ddl in src.schema_.items()],
        F.lit(origin).alias("_file"),
        F.lit(None).cast("timestamp").alias("_file_modified_at"),
    )


def _plan(spark: SparkSession, lake: Lake, src: SourceConfig,
          table: DataFrame) -> tuple[int, str | None, str | None] | None:
    """The batch to run: ``(batch_id, lo, hi)``, a replay if the last one is incomplete."""
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
    wm = src.watermark_column
    hi = table.agg(F.max(F.col(f"`{wm}`")).cast("string").alias("hi")).first()["hi"]
    if hi is None or hi == last_hi:
        return None
    batch_id = 0 if planned is None else planned + 1
    plan = spark.createDataFrame([(src.name, batch_id, last_hi, hi)],
                                 "source string, batch_id long, lo string, hi string")
    lake.append(OFFSETS_TABLE, plan, txn=(app, batch_id))
    return batch_id, last_hi, hi


def ingest_batch_source(
    spark: SparkSession,
    lake: Lake,
    src: SourceConfig,
    cfg: IngestConfig,
    gate: Callable[[DataFrame, str], None] | None = None,
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
    """
    counts = SourceCounts(src.name)
    table = read_table(spark, lake, src, cfg)
    plan = _plan(spark, lake, src, table)
    if plan is None:
        return counts
    batch_id, lo, hi = plan
    wm_type = src.schema_[src.watermark_column or ""]
    wm = F.col(f"`{src.watermark_column}`")
    cond = wm <= F.lit(hi).cast(wm_type)
    if lo is not None:
        cond = cond & (wm > F.lit(lo).cast(wm_type))
    files, good, reasons, replayed = write_batch(lake, src, cfg, table.where(cond), batch_id, gate)
    counts.add(files, good, reasons, replayed)
    return counts

"""Bronze: each delivered file ingested exactly once, bad rows to quarantine.

File sources (csv, jsonl, json, parquet) use Spark's own incremental file tracking: a
Structured Streaming file source with ``trigger(availableNow=True)`` and a checkpoint
under the lake (``_checkpoints/ingest/<source>``). The checkpoint's file log remembers
every file already taken, so a re-run on the same files adds nothing and a new export
adds only its rows.

Each micro-batch goes through ``foreachBatch``: rows are split by the source's checks
(:func:`vista.ingest.validate.split_rows`), counted in one Spark job, then written with
``lake.append(..., txn=("ingest:<source>", batch_id))`` to ``bronze/<source>`` and
``quarantine/<source>``. Spark replays a micro-batch whose commit it did not record
(a crash between the write and the checkpoint commit); the Delta transaction id makes
the replayed write a no-op, so there are no duplicates and no losses.

Delta and JDBC sources have no file log; they are read in batch with a watermark column
(see :mod:`vista.ingest.batch_sources`) and go through the same per-batch function.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vista.errors import SourceError
from vista.ingest.config import CORRUPT_COLUMN, IngestConfig, SourceConfig
from vista.ingest.drift import DRIFT_COLUMN, FileDrift, find_drift, missing_columns, reread_by_name
from vista.ingest.validate import (
    batch_stats,
    has_field_checks,
    problem_stats,
    split_tagged,
    tag_rows,
)

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

log = logging.getLogger(__name__)

_SPARK_FORMAT = {"csv": "csv", "jsonl": "json", "json": "json", "parquet": "parquet"}
_DEFAULT_OPTIONS: dict[str, dict[str, str]] = {
    # standard CSV (RFC 4180): a quote inside a quoted field is doubled ("a ""b"" c") and
    # a quoted field may hold line breaks; Spark's own default escape is the backslash,
    # which mis-reads such rows. A row with more or fewer fields than the header is
    # a corrupt record (quarantined with its raw line), never shifted into other columns.
    "csv": {"header": "true", "mode": "PERMISSIVE", "quote": '"', "escape": '"',
            "multiLine": "true"},
    "jsonl": {"mode": "PERMISSIVE"},
    "json": {"mode": "PERMISSIVE", "multiLine": "true"},
    "parquet": {},
}


@dataclass(frozen=True)
class BatchResult:
    """What one micro-batch wrote.

    Attributes:
        files: Distinct files the batch read.
        bronze: Rows written to bronze.
        reasons: Quarantined rows per reason.
        problems: Field-level problems of the bronze rows: ``{field: {reason: rows}}``.
        replayed: The batch had been committed before (a re-run wrote nothing).
        drift: Files whose columns differ from the declared schema.
    """

    files: int
    bronze: int
    reasons: dict[str, int]
    problems: dict[str, dict[str, int]]
    replayed: bool
    drift: tuple[FileDrift, ...] = ()


@dataclass
class SourceCounts:
    """What one source's ingestion did in this run (``rows_in == bronze + quarantined``)."""

    source: str
    batches: int = 0
    replayed_batches: int = 0
    files: int = 0
    rows_in: int = 0
    bronze: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    problems: dict[str, dict[str, int]] = field(default_factory=dict)
    drift: list[FileDrift] = field(default_factory=list)

    def add(self, batch: BatchResult) -> None:
        bad = sum(batch.reasons.values())
        self.batches += 1
        self.replayed_batches += int(batch.replayed)
        self.files += batch.files
        self.rows_in += batch.bronze + bad
        self.bronze += batch.bronze
        self.quarantined += bad
        for reason, n in batch.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n
        self.drift += batch.drift
        for name, by_reason in batch.problems.items():
            mine = self.problems.setdefault(name, {})
            for reason, n in by_reason.items():
                mine[reason] = mine.get(reason, 0) + n


def bronze_table(src: SourceConfig) -> str:
    return f"bronze/{src.name}"


def quarantine_table(src: SourceConfig) -> str:
    return f"quarantine/{src.name}"


def input_path(src: SourceConfig, cfg: IngestConfig) -> str:
    """The source's path or glob resolved against ``ingest.inputs_root``."""
    path = src.path or ""
    if path.startswith("/") or "://" in path or path.startswith("file:"):
        return path
    return f"{cfg.inputs_root.rstrip('/')}/{path}"


def read_schema_ddl(src: SourceConfig) -> str:
    """The declared raw schema as DDL, plus ``_corrupt_record`` for text formats."""
    cols = [f"`{name}` {ddl}" for name, ddl in src.schema_.items()]
    if src.format in ("csv", "jsonl", "json"):
        cols.append(f"`{CORRUPT_COLUMN}` STRING")
    return ", ".join(cols)


def reader_options(src: SourceConfig, cfg: IngestConfig) -> dict[str, str]:
    """Reader options: safe defaults per format, then the source's own.

    CSV defaults to the standard dialect (RFC 4180): ``"`` as quote and escape
    character, quoted fields may span lines, a header row. A source overrides any of
    them in ``options`` (names compare ignoring case, as in Spark).
    """
    opts = dict(_DEFAULT_OPTIONS.get(src.format, {}))
    if src.format in ("csv", "jsonl", "json"):
        opts["columnNameOfCorruptRecord"] = CORRUPT_COLUMN
    if cfg.max_files_per_trigger:
        opts["maxFilesPerTrigger"] = str(cfg.max_files_per_trigger)
    own = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in src.options.items()}
    # Spark's option names are case-blind: the source's `multiline` replaces `multiLine`
    given = {k.lower() for k in own}
    return {**{k: v for k, v in opts.items() if k.lower() not in given}, **own}


def with_lineage(df: DataFrame, src: SourceConfig, batch_id: int) -> DataFrame:
    """Add ``_source``, ``_ingested_at`` and ``_batch_id`` (``_file*`` come from the read)."""
    return df.select(
        "*",
        F.lit(src.name).alias("_source"),
        F.current_timestamp().alias("_ingested_at"),
        F.lit(batch_id).cast("long").alias("_batch_id"),
    )


def write_batch(
    lake: Lake,
    src: SourceConfig,
    cfg: IngestConfig,
    rows: DataFrame,
    batch_id: int,
    gate: Callable[[DataFrame, str, int], None] | None = None,
) -> BatchResult:
    """Validate one batch and write it to bronze and quarantine, idempotently.

    Args:
        lake: The lake layer.
        src: The source.
        cfg: The ingest config.
        rows: The batch as read, with ``_file`` and ``_file_modified_at``.
        batch_id: The micro-batch id (monotonic per source); the Delta txn version.
        gate: Called with the bronze rows, the table name and the number of field-level
            problems before they are written; raises to stop the batch (nothing of it is
            committed).

    Returns:
        What the batch wrote (:class:`BatchResult`).
    """
    from vista.activation.suppression import drop_suppressed

    # drift first: it may read a file's rows again, and they must be filtered too
    rows, drift = _with_drift(rows, src, cfg)
    rows = drop_suppressed(lake, src, cfg, rows)  # erased people do not come back
    batch = tag_rows(with_lineage(rows, src, batch_id), src, cfg).persist()
    try:
        good, bad = split_tagged(batch, src)
        files, n_good, reasons = batch_stats(batch)
        problems = problem_stats(batch) if has_field_checks(src, cfg) else {}
        n_problems = sum(sum(p.values()) for p in problems.values())
        if gate is not None:
            gate(good, bronze_table(src), n_problems)
        app = f"ingest:{src.name}"
        # merge_schema: bronze tables written before `_problems` existed gain the column
        res_b = lake.append(bronze_table(src), good, merge_schema=True, txn=(app, batch_id))
        res_q = lake.append(quarantine_table(src), bad, txn=(app, batch_id))
        replayed = bool(res_b.skipped or res_q.skipped)
        log.info("ingest %s batch %d: %d file(s), %d bronze (%d field problem(s)), "
                 "%d quarantined%s", src.name, batch_id, files, n_good, n_problems,
                 sum(reasons.values()), " (replay)" if replayed else "")
        return BatchResult(int(files), n_good, reasons, problems, replayed, tuple(drift))
    finally:
        batch.unpersist()


def _with_drift(rows: DataFrame, src: SourceConfig,
                cfg: IngestConfig) -> tuple[DataFrame, list[FileDrift]]:
    """``rows`` checked for schema drift per file (see :mod:`vista.ingest.drift`)."""
    if src.format not in ("csv", "parquet", "jsonl", "json"):
        return rows, []
    spark = rows.sparkSession
    options = reader_options(src, cfg)
    files = [r["_file"] for r in rows.select("_file").distinct().collect()]  # a few names
    drift = find_drift(spark, src, files, options)
    if not drift:
        return rows, []
    rows = reread_by_name(spark, src, rows, drift, options)
    if src.on_missing_column == "load":
        return rows, drift
    return rows.withColumn(DRIFT_COLUMN, missing_columns(drift)), drift


def stream_files(
    spark: SparkSession,
    lake: Lake,
    src: SourceConfig,
    cfg: IngestConfig,
    gate: Callable[[DataFrame, str, int], None] | None = None,
) -> SourceCounts:
    """Ingest every new file of a file source once (availableNow streaming run).

    Args:
        spark: The session.
        lake: The lake layer (bronze, quarantine and the checkpoint live under its root).
        src: A csv, jsonl, json or parquet source.
        cfg: The ingest config.
        gate: Optional bronze quality gate (see :func:`write_batch`).

    Returns:
        The counts of this run for the source.

    Raises:
        SourceError: When the schema or the reader options are invalid.
    """
    counts = SourceCounts(src.name)
    failure: list[BaseException] = []

    def process(batch_df: DataFrame, batch_id: int) -> None:
        try:
            result = write_batch(lake, src, cfg, batch_df, batch_id, gate)
        except BaseException as exc:  # re-raised after the query stops, with its own type
            failure.append(exc)
            raise
        counts.add(result)

    location, extra = stream_location(spark, input_path(src, cfg))
    try:
        stream = (
            spark.readStream.format(_SPARK_FORMAT[src.format])
            .schema(read_schema_ddl(src))
            .options(**{**reader_options(src, cfg), **extra})
            .load(location)
            .select("*", F.col("_metadata.file_path").alias("_file"),
                    F.col("_metadata.file_modification_time").alias("_file_modified_at"))
        )
    except Exception as exc:
        raise SourceError(
            f"source '{src.name}': cannot read {src.format} at '{src.path}' with the declared "
            f"schema ({exc}). Expected a valid Spark DDL type per field and an existing "
            f"file, folder or glob; fix `sources[].schema`/`path`."
        ) from exc
    query = (
        stream.writeStream.foreachBatch(process)
        .option("checkpointLocation", lake.path(f"_checkpoints/ingest/{src.name}"))
        .queryName(f"vista_ingest_{src.name}")
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination()
    except Exception:
        if failure:
            raise failure[0] from None
        raise
    return counts


_GLOB = re.compile(r"[*?\[{]")


def stream_location(spark: SparkSession, path: str) -> tuple[str, dict[str, str]]:
    """Where a streaming file source loads ``path`` from, plus the options it needs.

    A source ``path`` may be a folder, a glob or a single file. Spark's streaming file
    source takes folders and globs, but refuses a single file (``basePath must be a
    directory``), so a file is read as its folder with a ``pathGlobFilter`` naming just
    it. Whether the path is a file is asked of Hadoop's file system for the path's
    scheme, so it works on object stores as on local disk.
    """
    if _GLOB.search(path):
        return path, {}
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    try:
        fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        is_file = fs.exists(hpath) and fs.getFileStatus(hpath).isFile()
    except Exception:  # no such scheme or no access: let the reader report it
        return path, {}
    if not is_file:
        return path, {}
    name = str(hpath.getName())
    escaped = re.sub(r"([*?\[\]{}\\])", r"\\\1", name)
    return str(hpath.getParent().toString()), {"pathGlobFilter": escaped}


def ensure_dir_exists(path: str) -> bool:
    """Whether a local input directory (the non-glob prefix of ``path``) exists."""
    if "://" in path and not path.startswith("file:"):
        return True
    from pathlib import Path

    base = path.removeprefix("file:")
    parts = []
    for part in Path(base).parts:
        if any(ch in part for ch in "*?[{"):
            break
        parts.append(part)
    return Path(*parts).exists() if parts else True


def describe(counts: SourceCounts) -> dict[str, Any]:
    """The manifest entry for one source."""
    return {
        "batches": counts.batches,
        "replayed_batches": counts.replayed_batches,
        "files": counts.files,
        "rows_in": counts.rows_in,
        "bronze": counts.bronze,
        "quarantined": counts.quarantined,
        "quarantine_reasons": dict(sorted(counts.reasons.items())),
        "schema_drift": [d.as_dict() for d in counts.drift],
        # kept rows with a field set to null: {field: {reason: rows}}
        "field_problems": {f: dict(sorted(r.items())) for f, r in sorted(counts.problems.items())},
    }

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vista.errors import SourceError
from vista.ingest.config import CORRUPT_COLUMN, IngestConfig, SourceConfig
from vista.ingest.validate import batch_stats, split_tagged, tag_rows

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

    def add(self, files: int, good: int, reasons: dict[str, int], replayed: bool) -> None:
        bad = sum(reasons.values())
        self.batches += 1
        self.replayed_batches += int(replayed)
        self.files += files
        self.rows_in += good + bad
        self.bronze += good
        self.quarantined += bad
        for reason, n in reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n


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
    gate: Callable[[DataFrame, str], None] | None = None,
) -> tuple[int, int, dict[str, int], bool]:
    """Validate one batch and write it to bronze and quarantine, idempotently.

    Args:
        lake: The lake layer.
        src: The source.
        cfg: The ingest config.
        rows: The batch as read, with ``_file`` and ``_file_modified_at``.
        batch_id: The micro-batch id (monotonic per source); the Delta txn version.
        gate: Called with the bronze rows and table name before they are written; raises
            to stop the batch (nothing of it is committed).

    Returns:
        ``(files, bronze_rows, quarantined_rows_by_reason, replayed)``.
    """
    from vista.activation.suppression import drop_suppressed

    rows = drop_suppressed(lake, src, cfg, rows)  # erased people do not come back
    batch = tag_rows(with_lineage(rows, src, batch_id), src, cfg).persist()
    try:
        good, bad = split_tagged(batch, src)
        files, n_good, reasons = batch_stats(batch)
        if gate is not None:
            gate(good, bronze_table(src))
        app = f"ingest:{src.name}"
        res_b = lake.append(bronze_table(src), good, txn=(app, batch_id))
        res_q = lake.append(quarantine_table(src), bad, txn=(app, batch_id))
        replayed = bool(res_b.skipped or res_q.skipped)
        log.info("ingest %s batch %d: %d file(s), %d bronze, %d quarantined%s", src.name,
                 batch_id, files, n_good, sum(reasons.values()), " (replay)" if replayed else "")
        return int(files), n_good, reasons, replayed
    finally:
        batch.unpersist()


def stream_files(
    spark: SparkSession,
    lake: Lake,
    src: SourceConfig,
    cfg: IngestConfig,
    gate: Callable[[DataFrame, str], None] | None = None,
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
            files, good, reasons, replayed = write_batch(lake, src, cfg, batch_df, batch_id, gate)
        except BaseException as exc:  # re-raised after the query stops, with its own type
            failure.append(exc)
            raise
        counts.add(files, good, reasons, replayed)

    try:
        stream = (
            spark.readStream.format(_SPARK_FORMAT[src.format])
            .schema(read_schema_ddl(src))
            .options(**reader_options(src, cfg))
            .load(input_path(src, cfg))
            .select("*", F.col("_metadata.file_path").alias("_file"),
                    F.col("_metadata.file_modification_time").alias("_file_modified_at"))
        )
    except Exception as exc:
        raise SourceError(
            f"source '{src.name}': cannot read {src.format} at '{src.path}' with the declared "
            f"schema ({exc}). Expected a valid Spark DDL type per field and an existing "
            f"directory; fix `sources[].schema`/`path`."
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
    }

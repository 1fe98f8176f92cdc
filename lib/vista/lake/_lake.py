"""The Lake: every Delta table vista reads or writes goes through here."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from vista.errors import LakeError
from vista.lake._engine import Outcome
from vista.lake._uri import is_uri, resolve

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from vista.config.models import LakeConfig

log = logging.getLogger(__name__)

EngineName = Literal["auto", "delta-spark", "delta-rs"]
DELTA_SPARK_HOWTO = (
    "Start Spark with Delta's jars and session settings, e.g. spark-submit --packages "
    "io.delta:delta-spark_2.13:4.0.0 --conf spark.sql.extensions="
    "io.delta.sql.DeltaSparkSessionExtension --conf spark.sql.catalog.spark_catalog="
    "org.apache.spark.sql.delta.catalog.DeltaCatalog (or put the jar in spark.jars), or set "
    "lake.engine to delta-rs or auto.")


@dataclass(frozen=True)
class WriteResult:
    """What one committed (or skipped) write did.

    Attributes:
        table: Logical table name as given (``silver/orders``) or the path.
        path: Resolved table location.
        engine: ``delta-rs`` or ``delta-spark``.
        operation: ``overwrite``, ``append``, ``merge`` or ``delete``.
        version: Delta version created (the current version when skipped).
        rows_written: Rows in the data files the write added, from commit metadata (for
            merge and delete this includes the unchanged rows of rewritten files).
        skipped: An idempotent append whose txn was already committed; nothing written.
    """

    table: str
    path: str
    engine: str
    operation: str
    version: int
    rows_written: int | None
    skipped: bool = False


@dataclass(frozen=True)
class Maintenance:
    """What compaction and vacuum did to one table (its folder, Delta log included).

    Attributes:
        table: Logical table name or path.
        compacted: Whether small files were rewritten.
        vacuumed: Whether files past the retention were deleted; a table with none is
            not vacuumed at all (on delta-spark, VACUUM's Spark jobs are not started).
        files_before: Files under the table's folder before.
        bytes_before: Their bytes.
        files_after: Files after compaction and vacuum.
        bytes_after: Their bytes.
    """

    table: str
    compacted: bool
    vacuumed: bool
    files_before: int
    bytes_before: int
    files_after: int
    bytes_after: int


class Lake:
    """Delta tables under one root, written and read through one engine.

    Example:
        >>> lake = Lake(spark, "/data/lake")                      # doctest: +SKIP
        >>> lake.overwrite("bronze/crm_contacts", df).version      # doctest: +SKIP
        0
        >>> lake.read("bronze/crm_contacts").count()              # doctest: +SKIP
        3
    """

    def __init__(self, spark: SparkSession, root: str, engine: EngineName = "auto", *,
                 storage_options: dict[str, str] | None = None) -> None:
        """Create a lake.

        Args:
            spark: The session (executors do the data work).
            root: Lake root: a local path or a URI (``s3://bucket/lake``).
            engine: ``auto`` (delta-spark when Delta's JVM classes are loaded, else
                delta-rs), ``delta-spark`` or ``delta-rs``.
            storage_options: delta-rs object-store options; by default they come from
                the session's ``fs.s3a.*`` settings (endpoint, path style, region) and
                delta-rs reads the rest, credentials included, from ``AWS_*`` variables.

        Raises:
            LakeError: ``delta-spark`` was asked for but its classes are not loaded, or the
                engine name is unknown.
        """
        from vista.spark import delta_jvm_available

        self.spark = spark
        self.root = resolve(root).spark
        self._listeners: list[Callable[[WriteResult], None]] = []
        if engine not in ("auto", "delta-spark", "delta-rs"):
            raise LakeError(f"lake engine must be auto, delta-spark or delta-rs; got {engine!r}.")
        has_jvm = delta_jvm_available(spark) if engine != "delta-rs" else False
        if engine == "delta-spark" and not has_jvm:
            raise LakeError("lake engine delta-spark was asked for, but Delta's JVM classes "
                            f"(io.delta.tables.DeltaTable) are not on the classpath. "
                            f"{DELTA_SPARK_HOWTO}")
        if has_jvm:
            from vista.lake._delta_spark import DeltaSparkEngine

            self._engine: Any = DeltaSparkEngine(spark)
        else:
            from vista.lake._delta_rs import DeltaRsEngine

            self._engine = DeltaRsEngine(spark, storage_options)
        log.debug("lake at %s uses engine %s", self.root, self._engine.name)

    @classmethod
    def from_config(cls, spark: SparkSession, config: LakeConfig) -> Lake:
        """Build the lake from the ``lake`` config section (root and engine)."""
        return cls(spark, config.root, config.engine)

    @property
    def engine_name(self) -> str:
        """``delta-rs`` or ``delta-spark``."""
        return self._engine.name

    def path(self, table: str) -> str:
        """Location of ``table``: a logical name under the root, or an absolute path/URI.

        Raises:
            LakeError: An empty name or one that climbs out of the root (``..``).
        """
        if not table or not table.strip("/"):
            raise LakeError("table name is empty; expected e.g. 'silver/orders'.")
        if is_uri(table):
            return table.rstrip("/")
        if os.path.isabs(table):
            return os.path.normpath(table)
        if ".." in table.split("/"):
            raise LakeError(f"table name {table!r} climbs out of the lake root; use a name like "
                            "'silver/orders' or an absolute path.")
        return f"{self.root.rstrip('/')}/{table.strip('/')}"

    def add_commit_listener(self, fn: Callable[[WriteResult], None]) -> None:
        """Call ``fn(result)`` after every committed or skipped write (the run manifest)."""
        self._listeners.append(fn)

    def _done(self, table: str, operation: str, outcome: Outcome) -> WriteResult:
        result = WriteResult(table=table, path=self.path(table), engine=self.engine_name,
                             operation=operation, version=outcome.version,
                             rows_written=outcome.rows, skipped=outcome.skipped)
        log.info("lake %s %s: %s v%d rows=%s%s", self.engine_name, operation, table,
                 result.version, result.rows_written, " (skipped: txn already committed)"
                 if result.skipped else "")
        for listener in self._listeners:
            listener(result)
        return result

    # -- reads -----------------------------------------------------------------------------
    def exists(self, table: str) -> bool:
        """Whether a Delta table exists at ``table``."""
        return self._engine.exists(self.path(table))

    def read(self, table: str, version: int | None = None) -> DataFrame:
        """The table (latest, or as of ``version``) as a lazy DataFrame.

        Raises:
            LakeError: The table or version does not exist.
            UnsupportedTableFeature: The engine cannot read the table correctly.
        """
        return self._engine.read(table, self.path(table), version)

    def version(self, table: str) -> int:
        """Latest Delta version of the table."""
        return self._engine.version(table, self.path(table))

    def history(self, table: str) -> list[dict[str, Any]]:
        """Commits, newest first: ``version, timestamp, operation, delta_operation,
        parameters, metrics`` (``operation`` is vista's name when vista wrote it)."""
        return self._engine.history(table, self.path(table))

    def txn_version(self, table: str, app_id: str) -> int | None:
        """Latest txn version committed by ``app_id``, or ``None``."""
        return self._engine.txn_version(table, self.path(table), app_id)

    def vacuum(self, table: str, retention_hours: int) -> list[str]:
        """Delete files no version within ``retention_hours`` needs, including files of
        writes that never committed. Returns the deleted files; empty when there were
        none, and then nothing is started (the delta-spark engine plans it from the log
        with a delta-rs dry run first: VACUUM's Spark jobs cost seconds even on a table
        with nothing to delete)."""
        if retention_hours < 0:
            raise LakeError(f"retention_hours must be >= 0; got {retention_hours}.")
        removed = self._engine.vacuum(table, self.path(table), retention_hours)
        log.info("lake %s vacuum: %s removed %d file(s)", self.engine_name, table, len(removed))
        return removed

    def compact(self, table: str, target_file_bytes: int = 128 * 1024 * 1024,
                min_files: int = 2) -> WriteResult:
        """Rewrite small files into files of about ``target_file_bytes``, in one commit.

        Only partitions with at least ``min_files`` files under the target are touched;
        the rows and every earlier version stay as they were (the old files go at the
        next vacuum past the retention). ``skipped`` when there was nothing to do.

        Raises:
            LakeError: The table does not exist, or a bad size or count.
        """
        if target_file_bytes < 1 or min_files < 2:
            raise LakeError(f"compact needs target_file_bytes >= 1 and min_files >= 2; got "
                            f"{target_file_bytes} and {min_files}.")
        outcome = self._engine.compact(table, self.path(table), target_file_bytes, min_files)
        if outcome.skipped:
            return WriteResult(table=table, path=self.path(table), engine=self.engine_name,
                               operation="compact", version=outcome.version, rows_written=0,
                               skipped=True)
        return self._done(table, "compact", outcome)

    def maintain(self, table: str, retention_hours: int,
                 target_file_bytes: int = 128 * 1024 * 1024, min_files: int = 2) -> Maintenance:
        """Compact the table, then vacuum it; report its files and bytes before and after.

        Args:
            table: Logical name or path.
            retention_hours: Versions younger than this stay readable (time travel).
            target_file_bytes: Size compaction aims at.
            min_files: Small files a partition needs before it is compacted.
        """
        from vista.lake._store import usage

        before = usage(self.path(table))
        compacted = self.compact(table, target_file_bytes, min_files)
        removed = self.vacuum(table, retention_hours)
        after = usage(self.path(table))
        return Maintenance(table=table, compacted=not compacted.skipped, vacuumed=bool(removed),
                           files_before=before.files,
                           bytes_before=before.bytes, files_after=after.files,
                           bytes_after=after.bytes)

    def purge_history(self, table: str) -> tuple[int, int]:
        """End time travel: vacuum with zero retention, then cut the log at the current
        version (old commits can hold values in column statistics and predicates).

        Returns:
            ``(data files deleted, log files deleted)`` (data files: delta-rs engine).
        """
        from vista.lake._purge import cut_log

        removed = self.vacuum(table, 0)
        cut = cut_log(self.path(table), self._engine.options_for(self.path(table)))
        log.info("lake purge: %s keeps only its current version (%d log file(s) deleted)",
                 table, cut)
        return len(removed), cut

    # -- writes ----------------------------------------------------------------------------
    def overwrite(self, table: str, df: DataFrame,
                  partition_by: list[str] | None = None) -> WriteResult:
        """Replace the table's rows (and schema) with ``df`` in one commit.

        Args:
            table: Logical name or path.
            df: New contents.
            partition_by: Partition columns; ``None`` keeps the existing table's.
        """
        return self._done(table, "overwrite",
                          self._engine.overwrite(table, self.path(table), df, partition_by))

    def append(self, table: str, df: DataFrame, merge_schema: bool = False,
               txn: tuple[str, int] | None = None) -> WriteResult:
        """Add ``df``'s rows in one commit (creates the table if absent).

        Args:
            table: Logical name or path.
            df: Rows to add; columns the table has and ``df`` lacks are null.
            merge_schema: Add ``df``'s new columns to the table (delta-rs: one extra
                metadata-only commit before the data commit).
            txn: ``(app_id, version)``; when ``app_id`` already committed ``>= version``
                nothing is written and ``skipped=True``.

        Raises:
            LakeError: New columns without ``merge_schema``, or incompatible types.
        """
        if txn is not None and (not txn[0] or int(txn[1]) < 0):
            raise LakeError(f"txn must be (non-empty app_id, version >= 0); got {txn!r}.")
        return self._done(table, "append",
                          self._engine.append(table, self.path(table), df, merge_schema, txn))

    def merge(self, table: str, source_df: DataFrame, keys: list[str], *, update: bool = True,
              insert: bool = True, delete_when: str | None = None) -> WriteResult:
        """Upsert ``source_df`` on ``keys`` in one commit (creates the table if absent).

        Args:
            table: Logical name or path.
            source_df: One row per key (else MergeSourceNotUnique).
            keys: Key columns; SQL equality, so null keys never match (they insert).
            update: Matched target rows take the source's values (columns the source
                lacks keep the target's values).
            insert: Unmatched source rows are inserted.
            delete_when: SQL condition over the source row (e.g. ``"op = 'D'"``): matched
                target rows are deleted and such source rows are never inserted. Source
                columns absent from the table are allowed then, and are not written.

        Raises:
            MergeSourceNotUnique: Duplicate keys in the source, with examples.
            LakeError: Missing keys, unknown source columns, incompatible types.
        """
        if not keys:
            raise LakeError(f"merge into {table!r} needs at least one key column.")
        if not (update or insert or delete_when):
            raise LakeError(f"merge into {table!r} with update=False, insert=False and no "
                            "delete_when would change nothing; enable one of them.")
        outcome = self._engine.merge(table, self.path(table), source_df, list(keys),
                                     update=update, insert=insert, delete_when=delete_when)
        return self._done(table, "merge", outcome)

    def delete(self, table: str, where: str) -> WriteResult:
        """Delete the rows matching the SQL condition ``where`` in one commit."""
        if not where or not where.strip():
            raise LakeError(f"delete from {table!r} needs a condition; to empty the table, "
                            "overwrite it with an empty DataFrame.")
        return self._done(table, "delete", self._engine.delete(table, self.path(table), where))

"""The delta-spark engine: Delta Lake's own JVM implementation (Databricks, --packages)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vista.errors import LakeError
from vista.lake import _cow
from vista.lake._engine import Outcome, vista_operation
from vista.lake._files import _session_conf
from vista.lake._s3 import delta_rs_options
from vista.lake._uri import resolve

log = logging.getLogger(__name__)

_USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"
_RETENTION_CHECK_CONF = "spark.databricks.delta.retentionDurationCheck.enabled"
_VACUUM_LOGGING_CONF = "spark.databricks.delta.vacuum.logging.enabled"
_LISTING_CONF = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
# operationMetrics key holding the rows in the files a commit added, per operation.
_ROWS_METRIC = {"WRITE": "numOutputRows", "CREATE TABLE AS SELECT": "numOutputRows",
                "REPLACE TABLE AS SELECT": "numOutputRows", "MERGE": "numOutputRows",
                "DELETE": "numCopiedRows", "OPTIMIZE": "numAddedRows"}


class DeltaSparkEngine:
    """Engine for sessions with Delta's JVM classes and session extension."""

    name = "delta-spark"

    def __init__(self, spark: SparkSession):
        self.spark = spark

    def options_for(self, path: str) -> dict[str, str] | None:
        """delta-rs storage options for ``path`` (the log reads below): the session's s3a."""
        return delta_rs_options(self.spark, path)

    def _table(self, path: str):  # -> delta.tables.DeltaTable
        from delta.tables import DeltaTable

        return DeltaTable.forPath(self.spark, path)

    def _outcome(self, path: str, tag: str) -> Outcome:
        """Find this write's commit by its userMetadata tag and read its row metric."""
        rows = (self._table(path).history(50)
                .select("version", "operation", "operationMetrics", "userMetadata")
                .filter(F.col("userMetadata") == tag).limit(1).collect())
        if not rows:
            return Outcome(version=self._table(path).history(1).collect()[0]["version"],
                           rows=None)
        row = rows[0]
        metrics = row["operationMetrics"] or {}
        value = metrics.get(_ROWS_METRIC.get(row["operation"], "numOutputRows"))
        return Outcome(version=int(row["version"]), rows=int(value) if value else 0)

    # -- reads -----------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(self.spark, path)

    def read(self, name: str, path: str, version: int | None = None) -> DataFrame:
        self._require(name, path)
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(path)

    def _require(self, name: str, path: str) -> None:
        if not self.exists(path):
            raise LakeError(f"table {name!r} does not exist (no Delta log at {path}). Write it "
                            "first with lake.overwrite/append/merge.")

    def version(self, name: str, path: str) -> int:
        self._require(name, path)
        return int(self._table(path).history(1).collect()[0]["version"])

    def txn_version(self, name: str, path: str, app_id: str) -> int | None:
        if not self.exists(path):
            return None
        # The log's txn actions; read through delta-rs, which only parses the log here.
        from deltalake import DeltaTable as RsTable

        return RsTable(resolve(path).object_store,
                       storage_options=self.options_for(path)).transaction_version(app_id)

    def history(self, name: str, path: str) -> list[dict[str, Any]]:
        self._require(name, path)
        out = []
        for row in self._table(path).history().collect():  # one row per commit
            out.append({
                "version": int(row["version"]), "timestamp": row["timestamp"],
                "operation": vista_operation(row["userMetadata"]) or row["operation"],
                "delta_operation": row["operation"],
                "parameters": dict(row["operationParameters"] or {}),
                "metrics": dict(row["operationMetrics"] or {}),
            })
        return out

    def vacuum(self, name: str, path: str, retention_hours: int) -> list[str]:
        """Delta's VACUUM, run only when the table has files past the retention to delete.

        Returns:
            The files the log-only dry run found (those VACUUM then deleted); empty when
            there was nothing to delete and VACUUM was not run.
        """
        self._require(name, path)
        doomed = _vacuum_candidates(path, retention_hours, self.options_for(path))
        if doomed is not None and not doomed:
            log.debug("vacuum of %s skipped: no file past the retention", name)
            return []
        # Without logging, VACUUM adds no START/END commits: the table's version stays
        # what the run's manifest recorded, as with the delta-rs engine. Its listing and
        # deletes run with spark.sql.sources.parallelPartitionDiscovery.parallelism tasks
        # (10,000 unless set: about 30 s for a table of three files); the cluster's cores
        # are enough, and a lower setting of the user's is kept.
        with _session_conf(self.spark, {_RETENTION_CHECK_CONF: "false",
                                        _VACUUM_LOGGING_CONF: "false",
                                        _LISTING_CONF: str(self._listing_parallelism())}):
            self._table(path).vacuum(float(retention_hours))
        return doomed or []

    def _listing_parallelism(self) -> int:
        current = int(self.spark.conf.get(_LISTING_CONF, "10000") or 10000)
        return max(1, min(current, self.spark.sparkContext.defaultParallelism))

    def compact(self, name: str, path: str, target_bytes: int, min_files: int) -> Outcome:
        """Delta's OPTIMIZE (bin-packing) on partitions with ``min_files`` small files."""
        self._require(name, path)
        before = self.version(name, path)
        if not _has_small_files(path, target_bytes, min_files, self.options_for(path)):
            return Outcome(version=before, rows=0, skipped=True)
        settings = {"spark.databricks.delta.optimize.maxFileSize": str(target_bytes),
                    "spark.databricks.delta.optimize.minFileSize": str(target_bytes)}
        tag = _tag("compact")
        with _session_conf(self.spark, {**settings, _USER_METADATA_CONF: tag}):
            self._table(path).optimize().executeCompaction()
        if self.version(name, path) == before:
            return Outcome(version=before, rows=0, skipped=True)
        return self._outcome(path, tag)

    # -- writes ----------------------------------------------------------------------------
    def overwrite(self, name: str, path: str, df: DataFrame,
                  partition_by: Sequence[str] | None) -> Outcome:
        tag = _tag("overwrite")
        writer = (df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
                  .option("userMetadata", tag))
        if partition_by is None and self.exists(path):
            # Keep the table's partitioning, as the delta-rs engine does.
            partition_by = list(self._table(path).detail().first()["partitionColumns"])
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.save(path)
        return self._outcome(path, tag)

    def append(self, name: str, path: str, df: DataFrame, merge_schema: bool,
               txn: tuple[str, int] | None) -> Outcome:
        if txn is not None:
            done = self.txn_version(name, path, txn[0])
            if done is not None and done >= txn[1]:
                return Outcome(version=self.version(name, path), rows=0, skipped=True)
        if self.exists(path):
            schema = self.spark.read.format("delta").load(path).schema
            df, _, _ = _cow.conform(df, name, schema, merge_schema=merge_schema)
        tag = _tag("append")
        writer = df.write.format("delta").mode("append").option("userMetadata", tag)
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        if txn is not None:
            writer = writer.option("txnAppId", txn[0]).option("txnVersion", str(txn[1]))
        writer.save(path)
        return self._outcome(path, tag)

    def merge(self, name: str, path: str, source: DataFrame, keys: Sequence[str], *,
              update: bool, insert: bool, delete_when: str | None) -> Outcome:
        if not self.exists(path):
            src = _cow.prepare_source(source, name, _cow.as_nullable(source.schema), keys,
                                      delete_when)
            rows = src.filter(~F.col(_cow.DELETE_FLAG) & F.lit(insert)).drop(_cow.DELETE_FLAG)
            return self.overwrite(name, path, rows, None)
        schema = self.spark.read.format("delta").load(path).schema
        src = _cow.prepare_source(source, name, schema, keys, delete_when)
        cols = [c for c in src.columns if c != _cow.DELETE_FLAG]
        cond = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        builder = self._table(path).alias("t").merge(src.alias("s"), cond)
        if delete_when:
            builder = builder.whenMatchedDelete(condition=f"s.`{_cow.DELETE_FLAG}`")
        if update:
            builder = builder.whenMatchedUpdate(set={c: f"s.`{c}`" for c in cols})
        if insert:
            builder = builder.whenNotMatchedInsert(
                condition=f"NOT s.`{_cow.DELETE_FLAG}`", values={c: f"s.`{c}`" for c in cols})
        tag = _tag("merge")
        with _session_conf(self.spark, {_USER_METADATA_CONF: tag}):
            builder.execute()
        return self._outcome(path, tag)

    def delete(self, name: str, path: str, where: str) -> Outcome:
        self._require(name, path)
        tag = _tag("delete")
        with _session_conf(self.spark, {_USER_METADATA_CONF: tag}):
            self._table(path).delete(where)
        return self._outcome(path, tag)


def _tag(operation: str) -> str:
    return f"vista:{operation}:{uuid.uuid4().hex}"


def _has_small_files(path: str, target_bytes: int, min_files: int,
                     options: dict[str, str] | None) -> bool:
    """Whether some partition holds ``min_files`` files under ``target_bytes``.

    OPTIMIZE has no such threshold (it rewrites any two small files), so the snapshot's
    file list is read from the log first (through delta-rs: metadata only).
    """
    import pyarrow as pa
    from deltalake import DeltaTable as RsTable

    dt = RsTable(resolve(path).object_store, storage_options=options)
    parts = dt.metadata().partition_columns
    actions = pa.table(dt.get_add_actions(flatten=True))
    counts: dict[tuple, int] = {}
    keys = zip(*[actions.column(f"partition.{c}").to_pylist() for c in parts], strict=True) \
        if parts else ((),) * actions.num_rows
    for key, size in zip(keys, actions.column("size_bytes").to_pylist(), strict=True):
        if size < target_bytes:
            counts[key] = counts.get(key, 0) + 1
    return any(n >= min_files for n in counts.values())


def _vacuum_candidates(path: str, retention_hours: int,
                       options: dict[str, str] | None) -> list[str] | None:
    """The files VACUUM with ``retention_hours`` would delete, from a delta-rs dry run.

    The dry run reads only the Delta log and lists the table's folder (through the
    object store, so any lake URI works): files no version within the retention needs,
    including those of writes that never committed, as Delta's VACUUM decides. ``None``
    when delta-rs cannot plan it (a table feature it does not know): VACUUM then runs.
    """
    from deltalake import DeltaTable as RsTable

    try:
        return list(RsTable(resolve(path).object_store, storage_options=options).vacuum(
            retention_hours=retention_hours, dry_run=True, enforce_retention_duration=False,
            full=True))
    except Exception as exc:  # noqa: BLE001 - any failure only means "run VACUUM"
        log.debug("vacuum dry run of %s failed (%s); VACUUM runs", path, type(exc).__name__)
        return None

"""The delta-rs engine: Spark writes and reads the Parquet files, delta-rs owns the log."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Sequence
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
from deltalake import DeltaTable, Field
from deltalake.exceptions import DeltaError, TableNotFoundError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.errors import LakeError, UnsupportedTableFeature
from vista.lake import _commit, _cow, _features, _files
from vista.lake._commit import Commit, DataFile
from vista.lake._engine import Outcome, vista_operation
from vista.lake._s3 import delta_rs_options
from vista.lake._uri import resolve

log = logging.getLogger(__name__)


def _partition_string(value: Any) -> str | None:
    """A typed partition value in Delta's string form (only used in remove actions)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _rs(path: str) -> str:
    """The table location as delta-rs names it (``s3a://`` is Hadoop's spelling)."""
    return resolve(path).object_store


class DeltaRsEngine:
    """Engine for sessions without Delta's JVM classes (local default, CI)."""

    name = "delta-rs"

    def __init__(self, spark: SparkSession, storage_options: dict[str, str] | None = None):
        self.spark = spark
        self.storage_options = storage_options

    def options_for(self, path: str) -> dict[str, str] | None:
        """delta-rs storage options for ``path``: the ones given, else the session's s3a."""
        if self.storage_options is not None:
            return self.storage_options
        return delta_rs_options(self.spark, path)

    # -- snapshots -------------------------------------------------------------------------
    def _load(self, path: str, version: int | None = None) -> DeltaTable | None:
        try:
            return DeltaTable(_rs(path), version=version, storage_options=self.options_for(path))
        except TableNotFoundError:
            return None
        except DeltaError as exc:
            text = str(exc).lower()
            if "feature" in text or "protocol" in text:
                raise UnsupportedTableFeature(
                    f"delta-rs cannot open the table at {path}: {exc}. Use the delta-spark "
                    "engine for this table.") from exc
            if version is not None and "version" in text:
                raise LakeError(f"table at {path} has no version {version}: {exc}") from exc
            raise LakeError(f"cannot open Delta table at {path}: {exc}") from exc

    def _open(self, name: str, path: str, version: int | None = None, *,
              for_write: bool = False) -> DeltaTable:
        dt = self._load(path, version)
        if dt is None:
            raise LakeError(f"table {name!r} does not exist (no Delta log at {path}). Write it "
                            "first with lake.overwrite/append/merge.")
        self._check(name, dt, for_write=for_write)
        return dt

    @staticmethod
    def _check(name: str, dt: DeltaTable, *, for_write: bool) -> None:
        proto = dt.protocol()
        _features.check_protocol(
            name, reader_version=proto.min_reader_version,
            writer_version=proto.min_writer_version, reader_features=proto.reader_features,
            writer_features=proto.writer_features,
            configuration=dt.metadata().configuration, schema_json=dt.schema().to_json(),
            for_write=for_write)

    @staticmethod
    def _schema(dt: DeltaTable) -> T.StructType:
        return T.StructType.fromJson(json.loads(dt.schema().to_json()))

    @staticmethod
    def _live_files(dt: DeltaTable) -> list[tuple[DataFile, dict[str, Any]]]:
        """Live files of a snapshot: metadata only, one entry per file."""
        parts = dt.metadata().partition_columns
        table = pa.table(dt.get_add_actions(flatten=True))
        cols = {c: table.column(f"partition.{c}").to_pylist() for c in parts}
        out = []
        for i, (path, size, mtime, n) in enumerate(zip(
                table.column("path").to_pylist(), table.column("size_bytes").to_pylist(),
                table.column("modification_time").to_pylist(),
                table.column("num_records").to_pylist(), strict=True)):
            typed = {c: cols[c][i] for c in parts}
            # The log holds URI-encoded paths; DataFile paths are plain (delta-rs encodes).
            out.append((DataFile(path=unquote(path), size=int(size), modification_time=int(mtime or 0),
                                 num_records=int(n or 0),
                                 partition_values={c: _partition_string(v)
                                                   for c, v in typed.items()}), typed))
        return out

    def _read_snapshot(self, dt: DeltaTable, path: str, *, with_file: bool = False,
                       only: Sequence[DataFile] | None = None) -> DataFrame:
        keep = None if only is None else {f.path for f in only}
        files = [(f.path, typed) for f, typed in self._live_files(dt)
                 if keep is None or f.path in keep]
        return _files.read_files(self.spark, path, self._schema(dt),
                                 dt.metadata().partition_columns, files, with_file=with_file)

    # -- reads -----------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return DeltaTable.is_deltatable(_rs(path), storage_options=self.options_for(path))

    def read(self, name: str, path: str, version: int | None = None) -> DataFrame:
        return self._read_snapshot(self._open(name, path, version), path)

    def version(self, name: str, path: str) -> int:
        return self._open(name, path).version()

    def txn_version(self, name: str, path: str, app_id: str) -> int | None:
        dt = self._load(path)
        return None if dt is None else dt.transaction_version(app_id)

    def history(self, name: str, path: str) -> list[dict[str, Any]]:
        out = []
        for entry in self._open(name, path).history():
            ts = entry.get("timestamp")
            out.append({
                "version": int(entry["version"]),
                "timestamp": datetime.fromtimestamp(ts / 1000, tz=timezone.utc) if ts else None,
                "operation": (entry.get(_commit.OPERATION_KEY)
                              or vista_operation(entry.get("userMetadata"))
                              or entry.get("operation")),
                "delta_operation": entry.get("operation"),
                "parameters": entry.get("operationParameters") or {},
                "metrics": entry.get("operationMetrics") or {},
            })
        return out

    def vacuum(self, name: str, path: str, retention_hours: int) -> list[str]:
        dt = self._open(name, path, for_write=True)
        # full=True also removes files no commit ever referenced (a crashed write's files).
        return dt.vacuum(retention_hours=retention_hours, dry_run=False,
                         enforce_retention_duration=False, full=True)

    def compact(self, name: str, path: str, target_bytes: int, min_files: int) -> Outcome:
        """Rewrite each partition's small files into files of about ``target_bytes``.

        Only partitions holding at least ``min_files`` files smaller than the target are
        touched; executors read and write the rows, and the commit replaces the old files
        with ``dataChange=false`` (the rows are the same).
        """
        dt = self._open(name, path, for_write=True)
        parts = list(dt.metadata().partition_columns)
        groups: dict[tuple, list[DataFile]] = {}
        for f, _ in self._live_files(dt):
            if f.size < target_bytes:
                groups.setdefault(tuple(f.partition_values.get(c) for c in parts), []).append(f)
        chosen = [f for files in groups.values() if len(files) >= min_files for f in files]
        if not chosen:
            return Outcome(version=dt.version(), rows=0, skipped=True)
        out_files = max(1, math.ceil(sum(f.size for f in chosen) / target_bytes))
        rows = self._read_snapshot(dt, path, only=chosen)
        rows = (rows.repartition(out_files, *[F.col(f"`{c}`") for c in parts]) if parts
                else rows.repartition(out_files))
        commit = Commit(adds=(), removes=tuple(chosen), schema_json=self._schema(dt).json(),
                        partition_by=tuple(parts), operation="compact", data_change=False)
        return self._write_and_commit(rows, path, commit, dt)

    # -- writes ----------------------------------------------------------------------------
    def _write_and_commit(self, df: DataFrame, path: str, commit: Commit,
                          snapshot: DeltaTable | None) -> Outcome:
        write_dir = _files.new_write_dir()
        files = _files.write_data_files(df, path, write_dir, commit.partition_by)
        commit = dataclasses.replace(commit, adds=tuple(files))
        try:
            version = _commit.commit_files(_rs(path), commit, snapshot=snapshot,
                                           storage_options=self.options_for(path))
        except BaseException:
            _files.discard_write_dir(self.spark, path, write_dir)
            raise
        return Outcome(version=version, rows=sum(f.num_records for f in files))

    def _create(self, name: str, path: str, df: DataFrame, partition_by: Sequence[str],
                operation: str, txn: tuple[str, int] | None = None) -> Outcome:
        missing = [c for c in partition_by if c not in df.columns]
        if missing:
            raise LakeError(f"{operation} {name!r}: partition column(s) {missing} are not in "
                            f"the data (columns: {df.columns}).")
        schema = _cow.as_nullable(df.schema)
        commit = Commit(adds=(), schema_json=schema.json(), partition_by=tuple(partition_by),
                        operation=operation, txn=txn)
        return self._write_and_commit(df, path, commit, None)

    def overwrite(self, name: str, path: str, df: DataFrame,
                  partition_by: Sequence[str] | None) -> Outcome:
        dt = self._load(path)
        if dt is not None:
            self._check(name, dt, for_write=True)
        parts = list(partition_by) if partition_by is not None else (
            dt.metadata().partition_columns if dt is not None else [])
        if dt is None:
            return self._create(name, path, df, parts, "overwrite")
        missing = [c for c in parts if c not in df.columns]
        if missing:
            raise LakeError(f"overwrite {name!r}: partition column(s) {missing} are not in the "
                            f"data (columns: {df.columns}).")
        current = dt.metadata().partition_columns
        if list(parts) != list(current):
            # delta-rs keeps a table's partition columns across an overwrite commit.
            raise LakeError(
                f"overwrite {name!r}: the table is partitioned by {current}; the delta-rs "
                f"engine cannot change that to {list(parts)} in place. Write a new table, or "
                "delete this one's folder first.")
        schema = _cow.as_nullable(df.schema)
        commit = Commit(adds=(), mode="overwrite", schema_json=schema.json(),
                        partition_by=tuple(parts), operation="overwrite")
        return self._write_and_commit(df, path, commit, dt)

    def append(self, name: str, path: str, df: DataFrame, merge_schema: bool,
               txn: tuple[str, int] | None) -> Outcome:
        dt = self._load(path)
        if dt is None:
            return self._create(name, path, df, [], "append", txn)
        self._check(name, dt, for_write=True)
        if txn is not None:
            done = dt.transaction_version(txn[0])
            if done is not None and done >= txn[1]:
                return Outcome(version=dt.version(), rows=0, skipped=True)
        data, schema, added = _cow.conform(df, name, self._schema(dt), merge_schema=merge_schema)
        if added:
            # delta-rs commits file actions without metadata changes, so the new columns
            # are one metadata-only commit before the data commit.
            dt.alter.add_columns([Field.from_json(json.dumps(f.jsonValue())) for f in added])
            log.info("lake schema: %s gained column(s) %s", name, [f.name for f in added])
            dt = self._open(name, path, for_write=True)
        parts = dt.metadata().partition_columns
        commit = Commit(adds=(), schema_json=schema.json(), partition_by=tuple(parts),
                        operation="append", txn=txn)
        return self._write_and_commit(data, path, commit, dt)

    def merge(self, name: str, path: str, source: DataFrame, keys: Sequence[str], *,
              update: bool, insert: bool, delete_when: str | None) -> Outcome:
        dt = self._load(path)
        if dt is None:
            src = _cow.prepare_source(source, name, _cow.as_nullable(source.schema), keys,
                                      delete_when)
            rows = src.filter(~F.col(_cow.DELETE_FLAG) & F.lit(insert)).drop(_cow.DELETE_FLAG)
            return self._create(name, path, rows, [], "merge")
        self._check(name, dt, for_write=True)
        schema = self._schema(dt)
        parts = tuple(dt.metadata().partition_columns)
        src = _cow.prepare_source(source, name, schema, keys, delete_when)
        base = Commit(adds=(), schema_json=schema.json(), partition_by=parts, operation="merge")
        if not update and not delete_when:
            # Insert-only: no existing file changes, so this is a plain append.
            existing = self._read_snapshot(dt, path).select(*[F.col(f"`{k}`") for k in keys])
            new = src.filter(~F.col(_cow.DELETE_FLAG)).join(existing, on=list(keys),
                                                              how="left_anti")
            rows = _cow.merged_rows(self.spark.createDataFrame([], schema), new, schema, keys,
                                    update=False, insert=insert)
            return self._write_and_commit(rows, path, base, dt)
        target = self._read_snapshot(dt, path, with_file=True)
        removes = self._touched(dt, target.join(src.select(*keys), on=list(keys),
                                                how="left_semi"))
        old_rows = self._read_snapshot(dt, path, only=removes)
        rows = _cow.merged_rows(old_rows, src, schema, keys, update=update, insert=insert)
        commit = Commit(adds=(), removes=removes, schema_json=schema.json(), partition_by=parts,
                        operation="merge")
        return self._write_and_commit(rows, path, commit, dt)

    def _touched(self, dt: DeltaTable, rows: DataFrame) -> list[DataFile]:
        """Live files holding ``rows`` (one small row per file reaches the driver)."""
        uris = {r[0] for r in rows.select(_files.FILE_COL).distinct().collect()}
        return _files.match_files(uris, [f for f, _ in self._live_files(dt)])

    def delete(self, name: str, path: str, where: str) -> Outcome:
        dt = self._open(name, path, for_write=True)
        cond = F.coalesce(F.expr(where), F.lit(False))
        target = self._read_snapshot(dt, path, with_file=True)
        removes = self._touched(dt, target.filter(cond))
        kept = self._read_snapshot(dt, path, only=removes).filter(~cond)
        schema = self._schema(dt)
        commit = Commit(adds=(), removes=removes, schema_json=schema.json(),
                        partition_by=tuple(dt.metadata().partition_columns), operation="delete")
        return self._write_and_commit(kept, path, commit, dt)

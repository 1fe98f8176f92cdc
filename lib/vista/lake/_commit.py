"""The delta-rs commit path: turn data files already written into one Delta transaction.

This module imports neither Spark nor pandas, so a small process (a test, another job)
can commit files it wrote itself through exactly the same code as the Lake.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from deltalake import DeltaTable, Schema
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.fs import DeltaStorageHandler
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    RemoveAction,
    Transaction,
    create_table_with_add_actions,
)

from vista.errors import LakeError

log = logging.getLogger(__name__)

WRITE_ID_KEY = "vista.writeId"
OPERATION_KEY = "vista.operation"


@dataclass(frozen=True)
class DataFile:
    """One Parquet data file, written but not necessarily committed yet.

    Attributes:
        path: Path relative to the table root, not URI-encoded.
        size: Size in bytes.
        modification_time: Milliseconds since the epoch.
        num_records: Rows in the file (goes into the add action's stats).
        partition_values: Partition column -> value as a string (``None`` for null).
    """

    path: str
    size: int
    modification_time: int
    num_records: int
    partition_values: Mapping[str, str | None] = field(default_factory=dict)

    def add_action(self, data_change: bool = True) -> AddAction:
        return AddAction(self.path, self.size, dict(self.partition_values),
                         self.modification_time, data_change,
                         json.dumps({"numRecords": self.num_records}))

    def remove_action(self, deletion_timestamp: int, data_change: bool = True) -> RemoveAction:
        return RemoveAction(self.path, data_change, deletion_timestamp, self.size,
                            dict(self.partition_values))


@dataclass(frozen=True)
class Commit:
    """What one write wants to commit.

    Attributes:
        adds: New data files.
        removes: Live files this write replaces (copy-on-write); empty for appends.
        mode: ``append`` (adds + explicit removes) or ``overwrite`` (every live file removed).
        schema_json: Table schema as Spark/Delta StructType JSON.
        partition_by: Partition columns.
        operation: vista's name of the operation, stored in commitInfo.
        txn: Optional ``(app_id, version)`` application transaction.
        data_change: False for a rewrite that changes no row (compaction), so streaming
            readers of the table skip it.
    """

    adds: Sequence[DataFile]
    removes: Sequence[DataFile] = ()
    mode: Literal["append", "overwrite"] = "append"
    schema_json: str = ""
    partition_by: Sequence[str] = ()
    operation: str = "append"
    txn: tuple[str, int] | None = None
    data_change: bool = True


def _properties(commit: Commit, write_id: str) -> CommitProperties:
    txns = [Transaction(commit.txn[0], int(commit.txn[1]))] if commit.txn else None
    return CommitProperties(
        # userMetadata is the commitInfo field every Delta reader shows (delta-spark's
        # history() drops other keys): the same "vista:<operation>:<id>" tag it writes.
        custom_metadata={WRITE_ID_KEY: write_id, OPERATION_KEY: commit.operation,
                         "userMetadata": f"vista:{commit.operation}:{write_id}"},
        app_transactions=txns,
    )


def commit_files(
    table_uri: str,
    commit: Commit,
    *,
    snapshot: DeltaTable | None,
    storage_options: dict[str, str] | None = None,
) -> int:
    """Commit ``commit`` to the table as exactly one Delta version.

    Args:
        table_uri: Table location (path or URI).
        commit: Files and settings to commit.
        snapshot: The table as read when the write was planned (``None``: create the
            table). Conflicts with commits made since are detected by delta-rs.
        storage_options: delta-rs object-store options.

    Returns:
        The version this commit created.

    Raises:
        LakeError: The commit failed (conflict, protocol, storage); nothing was committed.
    """
    write_id = uuid.uuid4().hex
    props = _properties(commit, write_id)
    after = snapshot.version() if snapshot is not None else -1
    schema = Schema.from_json(commit.schema_json)
    adds = [f.add_action(commit.data_change) for f in commit.adds]
    try:
        if snapshot is None:
            create_table_with_add_actions(
                table_uri, schema, adds, mode="error", partition_by=list(commit.partition_by),
                storage_options=storage_options, commit_properties=props)
            snapshot = DeltaTable(table_uri, storage_options=storage_options)
        else:
            now = int(time.time() * 1000)
            removes = [f.remove_action(now, commit.data_change) for f in commit.removes]
            snapshot.create_write_transaction(
                [*adds, *removes], commit.mode, schema,
                partition_by=list(commit.partition_by) or None, commit_properties=props)
    except (CommitFailedError, DeltaError, OSError, ValueError) as exc:
        raise LakeError(
            f"Delta commit of {commit.operation} to {table_uri} failed: {exc}. Nothing was "
            f"committed; the table is at its previous version. Retry the write.") from exc
    return _find_version(table_uri, write_id, after, storage_options)


def _find_version(table_uri: str, write_id: str, after: int,
                  storage_options: dict[str, str] | None) -> int:
    """The version whose commitInfo carries ``write_id``.

    Concurrent writers may have committed between our read version and ours, so the
    candidates (``after + 1`` .. latest) are read from the log one small file each.
    ``DeltaTable.history`` is not used: its version labels can shift under a concurrent
    commit.
    """
    fs = DeltaStorageHandler(table_uri, options=storage_options)
    latest = DeltaTable(table_uri, storage_options=storage_options).version()
    for version in range(after + 1, latest + 1):
        with fs.open_input_stream(f"_delta_log/{version:020d}.json") as stream:
            for line in stream.read().decode("utf-8").splitlines():
                info = json.loads(line).get("commitInfo") if line.strip() else None
                if info is not None:
                    if info.get(WRITE_ID_KEY) == write_id:
                        return version
                    break
    raise LakeError(f"commit {write_id} to {table_uri} succeeded but was not found in versions "
                    f"{after + 1}..{latest} of the log; check the table's history.")

"""Ending a table's time travel: only the current version's log stays.

After an erasure, old versions of a table still describe (and vacuum leaves, within the
retention) data files holding the erased person, and the Delta log itself may hold their
values: per-file column statistics (``minValues``/``maxValues`` of ``add`` actions, as
written by delta-spark and by delta-rs's own writers) and the predicates of ``commitInfo``.
So, after a vacuum with zero retention, the log is cut at the current version: a
checkpoint is written for it (it lists only the live files, which no longer hold the
person), and every older commit file, checksum and checkpoint is deleted. The current
version's own commit stays (writers need it to commit the next version): it is the
erasure's commit, whose remove actions carry no statistics and whose condition names
row digests only. Readers start from the checkpoint; older versions can no longer be read.
"""

from __future__ import annotations

import logging
import re

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError
from deltalake.fs import DeltaStorageHandler
from pyarrow.fs import FileSelector, FileType, PyFileSystem

from vista.errors import LakeError
from vista.lake._uri import resolve

log = logging.getLogger(__name__)

_VERSIONED = re.compile(r"^(\d{20})\.")


def cut_log(path: str, storage_options: dict[str, str] | None = None) -> int:
    """Checkpoint the current version and delete every log file of older versions.

    Args:
        path: Table location.
        storage_options: delta-rs object-store options.

    Returns:
        The number of log files deleted.

    Raises:
        LakeError: The table cannot be opened or checkpointed.
    """
    uri = resolve(path).object_store  # delta-rs names an s3a:// bucket s3://
    try:
        dt = DeltaTable(uri, storage_options=storage_options)
        version = dt.version()
        dt.create_checkpoint()
    except (DeltaError, OSError) as exc:
        raise LakeError(f"cannot checkpoint the table at {path}: {exc}") from exc
    fs = PyFileSystem(DeltaStorageHandler(uri, options=storage_options))
    removed = 0
    for info in fs.get_file_info(FileSelector("_delta_log", recursive=False)):
        if info.type != FileType.File:
            continue
        match = _VERSIONED.match(info.base_name)
        if match is None:
            continue
        v = int(match.group(1))
        if v < version:
            fs.delete_file(info.path)
            removed += 1
    log.debug("lake: log of %s cut at version %d (%d file(s) deleted)", path, version, removed)
    return removed

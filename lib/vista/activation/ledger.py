"""The export ledger: every export folder vista wrote, and how its rows are keyed.

Erasure must find the person in every export file already written, also when the
configuration has changed since: a destination renamed or removed, its ``path`` or
``activation.exports_root`` moved, its identifier normalised differently. Looking only at
where today's configuration points would leave the older folders holding the person.
So each successful export appends one row here (``_privacy/export_folders``, a fixed
place like the suppression list): the folder, the format, the key column and the
identifier spec the keys were computed with. The rows name no person.

A folder under the lake root is stored relative to it, so a lake that is copied or moved
keeps its ledger valid.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from pyspark.sql import functions as F

from vista.activation import files
from vista.activation.config import DestinationConfig
from vista.activation.rows import key_column_name
from vista.lake import Lake

log = logging.getLogger(__name__)

LEDGER_TABLE = "_privacy/export_folders"
_SCHEMA = ("destination string, export_id string, folder string, format string, "
           "key_column string, identifier string, rows long, written_at timestamp")


@dataclass(frozen=True)
class ExportFolder:
    """One export folder and the destination spec its keys were computed with.

    Attributes:
        folder: Fully qualified location (``file:/...``, ``s3a://...``).
        destination: The destination as it was when the folder was written (name,
            format, identifier and normalisation; nothing else is kept).
    """

    folder: str
    destination: DestinationConfig


def _relative(lake: Lake, qualified: str) -> str:
    root = files.qualify(lake.spark, lake.root).rstrip("/") + "/"
    return qualified[len(root):] if qualified.startswith(root) else qualified


def _absolute(lake: Lake, folder: str) -> str:
    if "://" in folder or folder.startswith(("/", "file:")):
        return files.qualify(lake.spark, folder)
    return files.qualify(lake.spark, f"{lake.root.rstrip('/')}/{folder}")


def record(lake: Lake, dest: DestinationConfig, export_id: str, folder: str, rows: int) -> None:
    """Append the folder an export of ``dest`` has just written.

    Args:
        lake: The lake holding the ledger.
        dest: The destination exported.
        export_id: The export's id (the run id).
        folder: Where its files are.
        rows: Rows written.
    """
    spec = json.dumps(dest.model_dump(mode="json", include={"identifier", "normalisation"}),
                      sort_keys=True)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    row = [(dest.name, export_id, _relative(lake, files.qualify(lake.spark, folder)),
            dest.format, key_column_name(dest), spec, int(rows), now)]
    lake.append(LEDGER_TABLE, lake.spark.createDataFrame(row, _SCHEMA))


def export_folders(lake: Lake) -> list[ExportFolder]:
    """Every folder in the ledger, newest first (one row per export: small).

    Returns:
        The folders with the destination spec they were written with; empty when no
        export has been recorded.
    """
    if not lake.exists(LEDGER_TABLE):
        return []
    rows = (lake.read(LEDGER_TABLE)
            .select("destination", "folder", "format", "identifier", "written_at")
            .orderBy(F.desc("written_at")).collect())
    found: list[ExportFolder] = []
    for r in rows:
        spec = json.loads(r["identifier"])
        dest = DestinationConfig.model_validate(
            {"name": r["destination"], "format": r["format"], **spec})
        found.append(ExportFolder(folder=_absolute(lake, r["folder"]), destination=dest))
    return found

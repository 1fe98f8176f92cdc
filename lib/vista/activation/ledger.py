"""The export ledger: every folder vista exported into, and how its rows are keyed.

Erasure must find the person in every export file already written, also when the
configuration has changed since: a destination renamed or removed, its ``path`` or
``activation.exports_root`` moved, its identifier normalised differently. Looking only at
where today's configuration points would leave the older folders holding the person.
So the ledger (``_privacy/export_folders``, a fixed place like the suppression list)
holds one row per destination folder and layout: the folder each export writes its
sub-folder into, the format, the key column and the identifier spec the keys were
computed with. An export adds a row only when its layout is new there, so the ledger
grows with the configurations used, not with the runs. The rows name no person.

Rows written before this kept one row per export, naming the export's own folder
(``export_id`` set); they are read as before.

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
# export_id and rows are set only on the rows of older ledgers (one row per export).
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


def _spec(dest: DestinationConfig) -> str:
    return json.dumps(dest.model_dump(mode="json", include={"identifier", "normalisation"}),
                      sort_keys=True)


def record(lake: Lake, dest: DestinationConfig, folder: str) -> None:
    """Note that ``dest`` exports into ``folder`` (once per folder and layout).

    Args:
        lake: The lake holding the ledger.
        dest: The destination about to be exported.
        folder: The destination's folder (each export is a sub-folder of it).
    """
    where = _relative(lake, files.qualify(lake.spark, folder))
    row = (dest.name, None, where, dest.format, key_column_name(dest), _spec(dest))
    if lake.exists(LEDGER_TABLE):
        known = (lake.read(LEDGER_TABLE).where(
            F.col("export_id").isNull() & (F.col("folder") == row[2])
            & (F.col("format") == row[3]) & (F.col("key_column") == row[4])
            & (F.col("identifier") == row[5])).limit(1).count())
        if known:
            return
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    lake.append(LEDGER_TABLE, lake.spark.createDataFrame([(*row, None, now)], _SCHEMA))


def _holds(lake: Lake, folder: str, fmt: str) -> bool:
    """Whether ``folder`` has files of format ``fmt`` (Spark's part files end in it)."""
    suffix = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".json"}[fmt]
    return any(f.endswith(suffix) for f in files.children(lake.spark, folder, dirs_only=False))


def export_folders(lake: Lake) -> list[ExportFolder]:
    """Every export folder the ledger leads to, newest layout first.

    Each export sub-folder of a recorded destination folder is listed once per layout
    recorded there whose format its files have (a folder whose destination changed its
    identifier is searched with each spec it may have been written with).

    Returns:
        The folders with the destination spec they were written with; empty when no
        export has been recorded.
    """
    if not lake.exists(LEDGER_TABLE):
        return []
    rows = (lake.read(LEDGER_TABLE)
            .select("destination", "export_id", "folder", "format", "identifier", "written_at")
            .orderBy(F.desc("written_at")).collect())  # one row per folder and layout: small
    found: list[ExportFolder] = []
    for r in rows:
        spec = json.loads(r["identifier"])
        dest = DestinationConfig.model_validate(
            {"name": r["destination"], "format": r["format"], **spec})
        folder = _absolute(lake, r["folder"])
        if r["export_id"] is not None:  # a row of one export (older ledgers)
            found.append(ExportFolder(folder=folder, destination=dest))
            continue
        for child in files.children(lake.spark, folder):
            if not child.endswith(".erasing") and _holds(lake, child, dest.format):
                found.append(ExportFolder(folder=files.qualify(lake.spark, child),
                                          destination=dest))
    return found

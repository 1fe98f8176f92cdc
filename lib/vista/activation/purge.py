"""``--purge-history``: physically remove what erasure left in old versions and side files.

An erasure deletes rows in new table versions; the old data files stay for time travel
until they are vacuumed, and the Delta log's old commits may hold the person's values in
per-file column statistics. Purging, after the user confirms:

- vacuums every table under the lake with zero retention and cuts its log at the
  current version (:meth:`vista.lake.Lake.purge_history`): time travel to earlier
  versions ends;
- empties the Spark checkpoint folder (``spark.checkpoint_dir``) but for the running
  application's own folder: iterative jobs (connected components, Splink) checkpoint
  person records there;
- deletes files of MLflow artifacts (a local ``mlflow.artifact_location``), run
  manifests and Data Docs that contain one of the person's values. Artifacts on a remote
  MLflow server are out of reach and are reported as such.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from vista.activation import files
from vista.lake import Lake

log = logging.getLogger(__name__)

PURGE_WARNING = (
    "--purge-history removes every old version of every table under the lake: time travel "
    "to versions before now ends, for all tables and all customers.")


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed.

    Attributes:
        tables: Tables purged.
        data_files: Old data files deleted (delta-rs engine; delta-spark does not say).
        log_files: Old log files deleted.
        checkpoint_folders: Spark checkpoint folders deleted.
        side_files: Artifact, manifest and Data Docs files deleted for holding the person.
    """

    tables: int
    data_files: int
    log_files: int
    checkpoint_folders: int
    side_files: int


def _local(path: str | None) -> Path | None:
    if not path:
        return None
    if path.startswith("file:"):
        path = path.removeprefix("file://").removeprefix("file:")
    elif "://" in path:
        return None
    return Path(path)


def purge_checkpoints(spark: SparkSession, checkpoint_dir: str | None) -> int:
    """Delete the checkpoint folder's entries, except the running application's own."""
    if not checkpoint_dir:
        return 0
    current = spark.sparkContext.getCheckpointDir()
    n = 0
    for child in files.children(spark, checkpoint_dir, dirs_only=False):
        if current and current.rstrip("/").endswith(child.rstrip("/").rsplit("/", 1)[-1]):
            continue
        n += int(files.delete(spark, child))
    return n


def scrub_side_files(roots: list[Path], needles: tuple[str, ...]) -> int:
    """Delete files under ``roots`` whose bytes contain one of ``needles`` (any case)."""
    wanted = [n.lower().encode("utf-8") for n in needles if n]
    if not wanted:
        return 0
    removed = 0
    for root in roots:
        if not root.exists():
            continue
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = Path(dirpath) / name
                try:
                    data = path.read_bytes().lower()
                except OSError:
                    continue
                if any(w in data for w in wanted):
                    path.unlink()
                    removed += 1
    return removed


def purge(lake: Lake, *, checkpoint_dir: str | None, artifact_location: str | None,
          needles: tuple[str, ...], skip: tuple[str, ...] = ()) -> PurgeReport:
    """Purge old versions, checkpoints and side files (see the module docstring).

    Args:
        lake: The lake.
        checkpoint_dir: ``spark.checkpoint_dir``.
        artifact_location: ``mlflow.artifact_location``.
        needles: The person's values as delivered (never logged).
        skip: Tables not to purge.
    """
    log.warning(PURGE_WARNING)
    data = logs = tables = 0
    for table in files.delta_tables(lake.spark, lake.root):
        if table in skip:
            continue
        d, c = lake.purge_history(table)
        data, logs, tables = data + d, logs + c, tables + 1
    folders = purge_checkpoints(lake.spark, checkpoint_dir)
    roots = [p for p in (_local(artifact_location), _local(f"{lake.root}/_quality"),
                         _local(f"{lake.root}/_manifests")) if p is not None]
    if artifact_location and _local(artifact_location) is None:
        log.warning("purge: MLflow artifacts at a remote location are not scanned; delete "
                    "the person's artifacts there by hand if any run logged them")
    side = scrub_side_files(roots, needles)
    report = PurgeReport(tables=tables, data_files=data, log_files=logs,
                         checkpoint_folders=folders, side_files=side)
    log.info("purge: %d table(s), %d old data file(s), %d log file(s), %d checkpoint "
             "folder(s), %d side file(s) removed", tables, data, logs, folders, side)
    return report

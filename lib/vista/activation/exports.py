"""Exports: full or changes-only files per destination, with a state table of fingerprints.

The state table (``activation.state_table``) holds, per destination and key, the
fingerprint of what the last *successful* export sent. An export:

1. builds the rows the destination should hold now (:mod:`vista.activation.rows`), each
   flagged with consent to its purpose;
2. compares them with the state by a full outer join on the key: a key only now is an
   ``add`` (``withheld`` without consent), a key in the state that is gone or without
   consent a ``remove`` (consent withdrawn, customer erased or merged, left a segment
   filter), a different fingerprint a ``change``;
3. records the folder in the export ledger (:mod:`vista.activation.ledger`), then writes
   the files (``full``: every row; ``changes``: adds and changes with their values,
   removals as the key alone) into a new folder ``<path>/<export id>``;
4. only then merges the adds, changes and removals into the state. A write that fails
   leaves the state as it was, so the next run emits the same changes again.

A changes-only export with nothing to send (no add, change or removal) writes no folder,
so a destination that picks up every new folder never receives an empty delivery; a full
export always writes its folder (an empty one empties the destination's list).

A dry run does steps 1-2 and reports the counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.activation import ledger
from vista.activation.config import ActivationConfig, DestinationConfig
from vista.activation.errors import ActivationError
from vista.activation.rows import (
    ALLOWED,
    FINGERPRINT,
    KEY,
    UID,
    destination_rows,
    fingerprint,
    for_csv,
)
from vista.errors import QualityGateFailed
from vista.lake import Lake

log = logging.getLogger(__name__)

CHANGE = "change"  # add | change | remove | same: the column in changes-only files
_PREV, _PREV_UID, _NOW_UID = "__prev_fingerprint", "__prev_uid", "__uid_now"


@dataclass(frozen=True)
class ExportResult:
    """What one destination's export did.

    Attributes:
        destination: Its name.
        mode: ``full`` or ``changes``.
        export_id: The folder name of this export (the run id).
        path: Folder written (``None`` on a dry run or when nothing was written).
        folder: The same folder as the manifest records it: relative to the exports root
            (``crm/<export id>``), or as configured when the destination's ``path`` is
            absolute. A manifest then names no machine's folders.
        exported: Rows written to the file (removals included).
        added: Keys new since the last successful export.
        changed: Keys whose values changed.
        removed: Keys that are no longer eligible (removal rows).
        unchanged: Keys exported before with the same values.
        withheld: Customers left out for lack of consent to the destination's purpose.
        dry_run: Nothing was written.
    """

    destination: str
    mode: str
    export_id: str
    path: str | None
    exported: int
    added: int
    changed: int
    removed: int
    unchanged: int
    withheld: int
    dry_run: bool = False
    folder: str | None = None

    def metrics(self) -> dict[str, int | str | None]:
        """The manifest entry (counts and where the files went, as ``folder``)."""
        return {k: v for k, v in asdict(self).items() if k not in ("destination", "path")}


def _is_absolute(path: str) -> bool:
    return "://" in path or path.startswith(("/", "file:"))


def destination_path(cfg: ActivationConfig, dest: DestinationConfig, lake_root: str) -> str:
    """The destination's export folder: ``path`` when absolute, else under
    ``exports_root`` (default ``<lake root>/_exports``)."""
    path = dest.path or dest.name
    if _is_absolute(path):
        return path.rstrip("/")
    root = cfg.exports_root or f"{lake_root.rstrip('/')}/_exports"
    return f"{root.rstrip('/')}/{path.strip('/')}"


def manifest_folder(dest: DestinationConfig, export_id: str) -> str:
    """An export's folder as manifests record it (see :attr:`ExportResult.folder`)."""
    path = dest.path or dest.name
    if _is_absolute(path):
        return f"{path.rstrip('/')}/{export_id}"
    return f"{path.strip('/')}/{export_id}"


def _state(lake: Lake, cfg: ActivationConfig, dest: DestinationConfig) -> DataFrame | None:
    if not lake.exists(cfg.state_table):
        return None
    return (lake.read(cfg.state_table).where(F.col("destination") == dest.name)
            .select(F.col("key").alias(KEY), F.col("fingerprint").alias(_PREV),
                    F.col("uid").alias(_PREV_UID)))


def diff(current: DataFrame, previous: DataFrame | None) -> DataFrame:
    """Every key of ``current`` and ``previous`` with its ``change`` kind.

    Args:
        current: ``__key``, ``uid``, ``__allowed``, ``__fingerprint`` and the exported
            columns, one row per key (rows without consent included).
        previous: ``__key``, ``__prev_fingerprint``, ``__prev_uid`` from the state (None:
            first export).

    Returns:
        ``current``'s columns and ``change``: ``add``, ``change``, ``same``, ``remove``
        (in the state, now gone or without consent: the exported columns are null and
        ``uid`` is the one it was exported for) or ``withheld`` (without consent, never
        exported).
    """
    if previous is None:
        previous = current.sparkSession.createDataFrame(
            [], f"{KEY} string, {_PREV} string, {_PREV_UID} string")
    joined = current.join(previous, on=KEY, how="full_outer")
    allowed = F.coalesce(F.col(ALLOWED), F.lit(False))
    kind = (F.when(F.col(_PREV).isNull(), F.when(allowed, F.lit("add")).otherwise("withheld"))
            .when(F.col(FINGERPRINT).isNull() | ~allowed, F.lit("remove"))
            .when(F.col(FINGERPRINT) != F.col(_PREV), F.lit("change"))
            .otherwise(F.lit("same")))
    joined = joined.withColumn(CHANGE, kind)
    removed = F.col(CHANGE) == "remove"
    cols = [F.when(removed, F.coalesce(F.col(_PREV_UID), F.col(UID)))
            .otherwise(F.coalesce(F.col(UID), F.col(_PREV_UID))).alias(UID),
            F.col(UID).alias(_NOW_UID)]
    for c in current.columns:
        if c in (KEY, UID, ALLOWED):
            continue
        cols.append(F.when(~removed, F.col(f"`{c}`")).alias(c))
    return joined.select(KEY, *cols, ALLOWED, CHANGE)  # __uid_now: the current row's UID


def _counts(delta: DataFrame) -> dict[str, int]:
    """Keys per change kind, and ``withheld``: the customers of the current rows without
    consent (one job)."""
    kinds = ("add", "change", "same", "remove")
    row = delta.agg(
        *[F.count(F.when(F.col(CHANGE) == k, 1)).alias(k) for k in kinds],
        # Keys only in the state have no consent flag (null): not withheld, just gone.
        F.countDistinct(F.when(~F.col(ALLOWED), F.col(_NOW_UID))).alias("withheld")).first()
    return {k: int(row[k] or 0) for k in (*kinds, "withheld")}


def _write(df: DataFrame, fmt: str, path: str) -> None:
    writer = df.coalesce(1).write.mode("errorifexists")
    if fmt == "csv":
        for_csv(df).coalesce(1).write.mode("errorifexists").option("header", "true").csv(path)
    elif fmt == "parquet":
        writer.parquet(path)
    else:
        writer.json(path)


def _discard(spark, path: str) -> None:  # noqa: ANN001 - SparkSession
    """Best-effort removal of a failed export's partial folder."""
    try:
        jvm = spark.sparkContext._jvm
        hpath = jvm.org.apache.hadoop.fs.Path(path)
        hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(hpath, True)
    except Exception as exc:  # never mask the write error
        log.warning("export: could not remove the partial folder of a failed export: %s",
                    type(exc).__name__)


def _advance_state(lake: Lake, cfg: ActivationConfig, dest: DestinationConfig,
                   delta: DataFrame, export_id: str) -> None:
    """Merge adds, changes and removals into the state (removals delete the key)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = delta.where(F.col(CHANGE).isin("add", "change", "remove")).select(
        F.lit(dest.name).alias("destination"), F.col(KEY).alias("key"), F.col(UID).alias("uid"),
        F.col(FINGERPRINT).alias("fingerprint"), F.lit(export_id).alias("export_id"),
        F.lit(now).cast("timestamp").alias("exported_at"),
        (F.col(CHANGE) == "remove").alias("__removed"))
    lake.merge(cfg.state_table, rows, keys=["destination", "key"], delete_when="__removed")


def export_destination(lake: Lake, cfg: ActivationConfig, dest: DestinationConfig,
                       export_id: str, *, dry_run: bool = False,
                       gate: Callable[[DataFrame, str, str], None] | None = None) -> ExportResult:
    """Export one destination (see the module docstring for the steps).

    Args:
        lake: The lake (profile, golden record, segment tables, state table).
        cfg: The activation section.
        dest: The destination.
        export_id: Names this export's folder and its state rows (the run id).
        dry_run: Count only; write neither files nor state.
        gate: Called with the rows about to be written, the table name for reports
            (``exports/<name>``) and the key column; raises to stop the export.

    Returns:
        The counts of this export.

    Raises:
        ActivationError: A table or column the destination names does not exist, or the
            files could not be written (the state is then unchanged).
    """
    built = destination_rows(lake, cfg, dest)
    rows = built.rows.withColumn(FINGERPRINT, fingerprint(built.columns))
    # One pass over the view: the counts, the withheld customers, the files and the
    # state all read this frame.
    delta = diff(rows, _state(lake, cfg, dest)).persist()
    try:
        counts = _counts(delta)
        kinds = ["add", "change", "remove"] if dest.mode == "changes" else [
            "add", "change", "same"]
        out = delta.where(F.col(CHANGE).isin(*kinds))
        cols = [F.col(KEY).alias(built.key_column), *[F.col(f"`{c}`") for c in built.columns]]
        if dest.mode == "changes":
            cols.append(F.col(CHANGE))
        exported = sum(counts[k] for k in kinds)
        path = None
        nothing = dest.mode == "changes" and exported == 0
        if nothing and not dry_run:
            log.info("export %s (changes): nothing changed since the last export; no "
                     "folder written", dest.name)
        if not dry_run and not nothing:
            if gate is not None:
                gate(out.select(*cols), f"exports/{dest.name}", built.key_column)
            parent = destination_path(cfg, dest, lake.root)
            path = f"{parent}/{export_id}"
            # In the ledger before any file exists: erasure finds every folder ever written.
            ledger.record(lake, dest, parent)
            try:
                _write(out.select(*cols), dest.format, path)
            except Exception as exc:
                _discard(lake.spark, path)
                raise ActivationError(
                    f"export to destination {dest.name!r} failed while writing its "
                    f"{dest.format} files ({type(exc).__name__}); its export state was not "
                    f"advanced, so the next run emits these changes again.") from exc
            _advance_state(lake, cfg, dest, delta, export_id)
    finally:
        delta.unpersist()
    result = ExportResult(
        destination=dest.name, mode=dest.mode, export_id=export_id, path=path,
        exported=exported, added=counts["add"], changed=counts["change"],
        removed=counts["remove"], unchanged=counts["same"], withheld=counts["withheld"],
        dry_run=dry_run, folder=None if path is None else manifest_folder(dest, export_id))
    log.info("export %s (%s%s): %d row(s) written; %d added, %d changed, %d removed, "
             "%d withheld for consent", dest.name, dest.mode, ", dry run" if dry_run else "",
             0 if dry_run else exported, result.added, result.changed, result.removed,
             result.withheld)
    return result


def export_all(lake: Lake, cfg: ActivationConfig, export_id: str, *,
               names: list[str] | None = None, dry_run: bool = False,
               gate: Callable[[DataFrame, str, str], None] | None = None,
               done: Callable[[ExportResult], None] | None = None) -> list[ExportResult]:
    """Export every enabled destination (or the ones named), one after the other.

    A destination that fails does not stop the others; the failures are raised together
    at the end. ``done`` is called after each successful destination (the manifest).

    Raises:
        ActivationError: A named destination is unknown, or exports failed.
    """
    from vista.activation.errors import ExportFailed

    if names:
        unknown = [n for n in names if n not in {d.name for d in cfg.destinations}]
        if unknown:
            raise ActivationError(f"unknown destination(s) {unknown}; configured: "
                                  f"{[d.name for d in cfg.destinations]}")
        dests = [cfg.destination(n) for n in names]
    else:
        dests = [d for d in cfg.destinations if d.enabled]
    results, failures = [], []
    for dest in dests:
        try:
            result = export_destination(lake, cfg, dest, export_id, dry_run=dry_run, gate=gate)
        except (ActivationError, QualityGateFailed) as exc:
            log.error("export %s failed: %s", dest.name, exc)
            failures.append(str(exc))
            continue
        results.append(result)
        if done is not None:
            done(result)
    if failures:
        raise ExportFailed(f"{len(failures)} destination(s) failed:\n  - " + "\n  - ".join(failures))
    return results

"""Housekeeping: compact and vacuum the lake's tables, remove finished runs' checkpoints.

``vista.pipeline`` calls :func:`maintain_tables` after a successful run (for the tables
that run wrote) when ``lake.maintain_after_run`` is on; ``vista maintain`` calls it for
every table the lake's manifests name, and reports what it freed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from vista.errors import LakeError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from vista.config import VistaConfig
    from vista.config.models import LakeConfig
    from vista.lake import Lake, Maintenance
    from vista.runtime import RunContext

log = logging.getLogger(__name__)


def maintain_tables(lake: Lake, config: LakeConfig, tables: Iterable[str]) -> list[Maintenance]:
    """Compact, then vacuum each table with the ``lake`` section's settings.

    Args:
        lake: The lake.
        config: ``lake.vacuum_retention_hours``, ``compact_target_file_mb`` and
            ``compact_min_files``.
        tables: Table names or paths; absent tables are left out.

    Returns:
        One :class:`~vista.lake.Maintenance` per table, in the order given.
    """
    out = []
    for table in dict.fromkeys(tables):
        if not lake.exists(table):
            continue
        try:
            out.append(lake.maintain(
                table, config.vacuum_retention_hours,
                target_file_bytes=config.compact_target_file_mb * 1024 * 1024,
                min_files=config.compact_min_files))
        except LakeError as exc:  # one table that cannot be maintained stops no other
            log.warning("maintenance of %s skipped: %s", table, exc)
    log.info("maintenance: %d table(s), %d compacted, %d vacuumed, files on disk %d -> %d, %s",
             len(out), sum(m.compacted for m in out), sum(m.vacuumed for m in out),
             sum(m.files_before for m in out),
             sum(m.files_after for m in out),
             _outcome(sum(m.bytes_before - m.bytes_after for m in out),
                      config.vacuum_retention_hours))
    return out


def _outcome(freed: int, retention_hours: float) -> str:
    """What maintenance did to the disk. Compaction adds files, and vacuum removes only
    files replaced longer ago than the retention, so a first compaction leaves more on
    disk, not less."""
    if freed >= 0:
        return f"{human_bytes(freed)} freed"
    return (f"{human_bytes(-freed)} more on disk until the replaced files are older than "
            f"the vacuum retention ({retention_hours:g} h)")


def clean_checkpoints(spark: SparkSession, started_in: str | None = None) -> int:
    """Remove what this Spark application checkpointed; returns the bytes removed.

    Spark keeps an application's reliable checkpoints in a folder of its own under
    ``spark.checkpoint_dir``; once a run has finished nothing reads them again. Other
    applications' folders (a run going on next to this one) are left alone.

    Args:
        spark: The session.
        started_in: The session's checkpoint folder when the run started, removed too: each
            ``setCheckpointDir`` (identity's lineage breaks set one and then the base
            again) gives the session a new folder, and what was checkpointed in the old
            one before is still there.
    """
    from vista.lake import Usage, list_dirs, remove, resolve_location, usage

    current = spark.sparkContext.getCheckpointDir()
    if not current:
        return 0
    folders = list(dict.fromkeys(f for f in (started_in, current) if f))
    sizes = [usage(f) for f in folders]
    used = Usage(sum(u.files for u in sizes), sum(u.bytes for u in sizes))
    for folder in folders:
        remove(folder)
    # Each setCheckpointDir (the session's, and each run's lineage breaks) leaves a
    # folder of its own; the empty ones are of no use to anyone.
    for folder in list_dirs(resolve_location(current.rstrip("/").rsplit("/", 1)[0])):
        if usage(folder).files == 0:
            remove(folder)
    if used.files:
        log.info("checkpoints: removed %d file(s), %s under %s", used.files,
                 human_bytes(used.bytes), current)
    return used.bytes


def human_bytes(n: int) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def after_run(ctx: RunContext) -> None:
    """A successful run's housekeeping: its tables compacted and vacuumed (when
    ``lake.maintain_after_run``), its checkpoints removed; recorded in the manifest."""
    from dataclasses import asdict
    from time import perf_counter

    start = perf_counter()
    done: list[Maintenance] = []
    freed = 0
    try:
        if ctx.config.lake.maintain_after_run:
            tables = [t["table"] for t in ctx.manifest.tables if t.get("table")]
            done = maintain_tables(ctx.lake, ctx.config.lake, tables)
        freed = clean_checkpoints(ctx.spark, ctx.checkpoint_dir)
    except Exception as exc:  # the run succeeded; tidying up must not turn it into a failure
        log.warning("housekeeping after run %s stopped: %s: %s (vista maintain retries it)",
                    ctx.run_id, type(exc).__name__, str(exc).splitlines()[0][:300])
    ctx.manifest.maintenance = {
        "tables": [asdict(m) for m in done], "checkpoint_bytes_removed": freed,
        "duration_s": round(perf_counter() - start, 3)}


def maintain_lake(spark: SparkSession, config: VistaConfig) -> str:
    """``vista maintain``: compact and vacuum every table the lake's manifests name,
    remove this application's checkpoints, and say what was freed.

    Returns:
        A short report, one line per table that changed and a total.
    """
    from vista.lake import Lake
    from vista.manifest import list_manifests
    from vista.runtime import manifest_dir

    lake = Lake.from_config(spark, config.lake)
    tables = [t["table"] for m in reversed(list_manifests(manifest_dir(config)))
              for t in m.get("tables", []) if t.get("table")]
    done = maintain_tables(lake, config.lake, tables)
    lines = [f"{'table':<40} {'files':>15} {'bytes':>25}"]
    for m in done:
        if (m.files_before, m.bytes_before) != (m.files_after, m.bytes_after):
            lines.append(f"{m.table:<40} {m.files_before:>6} -> {m.files_after:<6} "
                         f"{human_bytes(m.bytes_before):>11} -> {human_bytes(m.bytes_after):<11}")
    lines.append(f"{len(done)} table(s) on the {lake.engine_name} engine, "
                 f"{sum(m.compacted for m in done)} compacted, "
                 f"{sum(m.vacuumed for m in done)} vacuumed: files on disk "
                 f"{sum(m.files_before for m in done)} -> {sum(m.files_after for m in done)}, "
                 + _outcome(sum(m.bytes_before - m.bytes_after for m in done),
                            config.lake.vacuum_retention_hours))
    return "\n".join(lines)

"""Silver: canonical, standardised tables upserted incrementally from new bronze rows.

Progress is tracked per source on a tiny state table (``_state/ingest_silver``, rows
``(source, batch)``): after the bronze batches of a run are published, one append records
each source's last batch ``b``, and the next run reads only bronze rows with
``_batch_id > b``. Whether a source has anything new is answered from Delta metadata
alone: bronze commits carry the transaction id ``("ingest:<source>", batch)``, so a
source whose last bronze batch is already published costs no Spark job. Publishing is a
merge on the canonical key, so a crash between the merges and the progress append only
re-merges identical rows.

Every candidate frame is gated (built-in expectations of the entity plus the sources'
own) *before* any silver table is written, so a failing critical expectation leaves
silver as it was.

The canonical rows of each entity are materialised once (persisted, then counted) before
the gate: standardisation (accent folding, the phone UDF) then runs once per run instead
of once per expectation, once per write and again for the history.

``full=True`` rebuilds instead: every bronze row of the given sources (not only the
unpublished ones) is standardised again, and the silver tables and the SCD2 history are
*overwritten* with the result. Bronze is the record of what was delivered, so no source
file is read. Running it twice gives the same tables; on in-order deliveries it gives the
same tables as the incremental runs did.

``rebuild=[names]`` rebuilds only those sources (a source whose mapping changed, or whose
quarantine replay moved rows to bronze): their rows are standardised again from all of
their bronze, upserted, and their rows the rebuild no longer gives (a key the new mapping
derives differently) are deleted from silver and from the history. Every other source's
rows are published incrementally and are not rewritten.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from vista.ingest import snapshot
from vista.ingest.bronze import bronze_table
from vista.ingest.config import IngestConfig, SourceConfig
from vista.ingest.history import HISTORY_TABLE, publish_history
from vista.ingest.mapping import ENTITY_KEYS, ENTITY_SCHEMAS, ENTITY_TABLES, to_canonical

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

log = logging.getLogger(__name__)

PROGRESS_TABLE = "_state/ingest_silver"
Gate = Callable[[DataFrame, str, str, list[SourceConfig]], None]
#: Bronze lineage columns kept on the canonical rows to pick the latest version per key.
ORDERING = ["_batch_id", "_file", "_file_modified_at"]


@dataclass
class Pending:
    """New bronze rows of one source, not yet published to silver."""

    source: SourceConfig
    rows: DataFrame
    last_batch: int


@contextmanager
def timed(times: dict[str, float] | None, step: str) -> Iterator[None]:
    """Add the wall-clock seconds of the block to ``times[step]`` (when given)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        if times is not None:
            times[step] = round(times.get(step, 0.0) + time.perf_counter() - started, 3)


def published_batches(lake: Lake) -> dict[str, int]:
    """The last bronze batch published to silver, per source (one small Spark job)."""
    if not lake.exists(PROGRESS_TABLE):
        return {}
    rows = lake.read(PROGRESS_TABLE).groupBy("source").agg(F.max("batch").alias("b")).collect()
    return {r["source"]: int(r["b"]) for r in rows}


def pending_rows(lake: Lake, src: SourceConfig, done: int | None = None) -> Pending | None:
    """Bronze rows of ``src`` after batch ``done`` (all rows when ``done`` is None)."""
    table = bronze_table(src)
    if not lake.exists(table):
        return None
    last = lake.txn_version(table, f"ingest:{src.name}")  # Delta metadata, no Spark job
    if last is not None and done is not None and last <= done:
        return None
    rows = lake.read(table)
    if done is not None:
        rows = rows.where(F.col("_batch_id") > done)
    if last is None:  # bronze committed without transaction ids: ask the data
        last = rows.agg(F.max("_batch_id").alias("b")).first()["b"]
    return None if last is None else Pending(src, rows, int(last))


def latest_per_key(df: DataFrame, keys: list[str]) -> DataFrame:
    """One row per key: the one from the latest batch, then the latest file."""
    order = Window.partitionBy(*keys).orderBy(
        F.col("_batch_id").desc(), F.col("_file").desc_nulls_last(),
        F.col("_file_modified_at").desc_nulls_last())
    return df.withColumn("_rn", F.row_number().over(order)).where("_rn = 1").drop("_rn")


def candidates(pending: list[Pending], cfg: IngestConfig) -> dict[str, DataFrame]:
    """Canonical rows per entity from the pending bronze rows (with ordering columns)."""
    frames: dict[str, list[DataFrame]] = {}
    for p in pending:
        for out in p.source.outputs:
            canon = to_canonical(p.source, out, cfg, keep=ORDERING)
            frames.setdefault(out.entity, []).append(p.rows.transform(canon))
    out: dict[str, DataFrame] = {}
    for entity, dfs in frames.items():
        union = dfs[0]
        for df in dfs[1:]:
            union = union.unionByName(df)
        out[entity] = union
    return out


def publish(
    lake: Lake,
    cfg: IngestConfig,
    sources: list[SourceConfig],
    gate: Gate | None = None,
    *,
    full: bool = False,
    rebuild: Collection[str] = (),
    times: dict[str, float] | None = None,
) -> dict[str, int]:
    """Build, gate and upsert the silver tables from bronze rows not yet published.

    Args:
        lake: The lake layer.
        cfg: The ingest config.
        sources: The sources to publish.
        gate: Called with ``(frame, table, entity, sources)`` for every entity before any
            write; raises ``QualityGateFailed`` to stop publication.
        full: Rebuild from all bronze rows of ``sources`` and overwrite the silver tables
            and the history, instead of upserting the unpublished rows.
        rebuild: Names of sources to rebuild from all of their bronze rows; their silver
            and history rows that the rebuild no longer gives are deleted. The other
            sources are published incrementally.
        times: When given, seconds per step are added to it (``silver/<entity>/...``).

    Returns:
        Rows upserted per silver table (``silver_<entity>``).
    """
    with timed(times, "silver/pending"):
        done = {} if full else published_batches(lake)
        rebuilt = set() if full else set(rebuild)
        pending = [p for p in (pending_rows(lake, s, None if s.name in rebuilt
                                            else done.get(s.name)) for s in sources)
                   if p is not None]
    if not pending:
        return {}
    staged: dict[str, DataFrame] = {}
    final: dict[str, DataFrame] = {}
    gone: dict[str, DataFrame] = {}
    snaps = [snap for p in pending if p.source.delivery == "snapshot"
             for snap in [snapshot.newest(p.rows, p.source.name)] if snap is not None]
    try:
        for entity, df in candidates(pending, cfg).items():
            with timed(times, f"silver/{entity}/standardise"):
                # every version delivered, standardised once (see the module docstring)
                staged[entity] = df.persist()
                staged[entity].count()
            keys, cols = ENTITY_KEYS[entity], [f.name for f in ENTITY_SCHEMAS[entity].fields]
            latest = latest_per_key(staged[entity], keys).select(*cols)
            removed = _gone(lake, entity, staged[entity], snaps, full)
            if removed is not None:
                gone[entity] = removed.persist()
                latest = latest.join(gone[entity].select(*keys), on=keys, how="left_anti")
            final[entity] = latest.persist()
            if gate is not None:
                with timed(times, f"silver/{entity}/gate"):
                    gate(final[entity], ENTITY_TABLES[entity], entity,
                         [p.source for p in pending
                          if any(o.entity == entity for o in p.source.outputs)])
        counts = {}
        for entity, df in final.items():
            with timed(times, f"silver/{entity}/write"):
                _write(lake, entity, df, staged[entity], full, gone.get(entity), rebuilt)
                counts[f"silver_{entity}"] = df.count()
                if entity in gone:
                    counts[f"removed_{entity}"] = gone[entity].count()
        _drop_unmapped(lake, set(ENTITY_TABLES) - set(final), rebuilt)
    finally:
        for df in [*final.values(), *staged.values(), *gone.values()]:
            df.unpersist()
    with timed(times, "silver/progress"):
        _record_progress(lake, pending)
    return counts


def _gone(lake: Lake, entity: str, staged: DataFrame, snaps: list[snapshot.Snapshot],
          full: bool) -> DataFrame | None:
    """Keys of snapshot sources that their newest export lacks (None: no such source)."""
    table, keys = ENTITY_TABLES[entity], ENTITY_KEYS[entity]
    frames = [snapshot.gone_keys(lake, table, keys, staged, snap, full) for snap in snaps]
    if not frames:
        return None
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df)
    return out


def _write(lake: Lake, entity: str, latest: DataFrame, versions: DataFrame, full: bool,
           gone: DataFrame | None = None, rebuilt: Collection[str] = ()) -> None:
    """Upsert (or, when ``full``, overwrite) one entity's silver table.

    ``gone``: keys a snapshot source's newest export lacks; they leave the table (and,
    for person records, their history version is closed). ``rebuilt``: sources whose
    rows in ``latest`` are all they have now; their other rows leave the table.
    """
    table, keys = ENTITY_TABLES[entity], ENTITY_KEYS[entity]
    if entity == "person":
        # the history sees every version delivered, not only the latest per key
        latest = publish_history(lake, versions.drop(*ORDERING), full=full, rebuilt=rebuilt)
        if gone is not None:
            latest = latest.join(gone.select(*keys), on=keys, how="left_anti")
            snapshot.close_history(lake, gone)
    if full:
        lake.overwrite(table, latest)
    else:
        stale = stale_keys(lake, table, keys, latest, rebuilt)
        lake.merge(table, latest, keys=keys)
        for drop in (gone, stale):
            if drop is not None:
                snapshot.remove(lake, table, keys, drop)
    if gone is not None:
        snapshot.log_removed(lake, entity, keys, gone, full, rebuilt)


def _drop_unmapped(lake: Lake, entities: set[str], rebuilt: Collection[str]) -> None:
    """Delete the rebuilt sources' rows from entity tables they no longer feed."""
    if not rebuilt:
        return
    names = ", ".join(f"'{n}'" for n in sorted(rebuilt))  # source names are identifiers
    tables = [ENTITY_TABLES[e] for e in sorted(entities)]
    if "person" in entities:
        tables.append(HISTORY_TABLE)
    for table in tables:
        if lake.exists(table) and not lake.read(table).where(f"source IN ({names})").isEmpty():
            lake.delete(table, f"source IN ({names})")


def stale_keys(lake: Lake, table: str, keys: list[str], fresh: DataFrame,
               rebuilt: Collection[str]) -> DataFrame | None:
    """Keys of the rebuilt sources' rows in ``table`` that ``fresh`` no longer holds.

    Materialised (checkpointed): the frame reads the table that is about to change.
    None when no source is rebuilt or the table does not exist yet.
    """
    if not rebuilt or not lake.exists(table):
        return None
    return (lake.read(table).where(F.col("source").isin(sorted(rebuilt))).select(*keys)
            .join(fresh.select(*keys), on=keys, how="left_anti").checkpoint(eager=True))


def _record_progress(lake: Lake, pending: list[Pending]) -> None:
    """Mark every pending source as published up to its last bronze batch (one commit)."""
    spark = pending[0].rows.sparkSession
    markers = spark.createDataFrame([(p.source.name, p.last_batch) for p in pending],
                                    "source string, batch long")
    lake.append(PROGRESS_TABLE, markers)

"""Silver: canonical, standardised tables upserted incrementally from new bronze rows.

Progress is tracked per source with Delta transaction ids on a tiny state table
(``_state/ingest_silver``): after a source's bronze batches up to ``b`` are published,
an append with ``txn=("silver:<source>", b)`` records it, and the next run reads only
bronze rows with ``_batch_id > b``. Publishing is a merge on the canonical key, so a
crash between the merges and the progress append only re-merges identical rows.

Every candidate frame is gated (built-in expectations of the entity plus the sources'
own) *before* any silver table is written, so a failing critical expectation leaves
silver as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from vista.ingest.bronze import bronze_table
from vista.ingest.config import IngestConfig, SourceConfig
from vista.ingest.history import publish_history
from vista.ingest.mapping import ENTITY_KEYS, ENTITY_SCHEMAS, ENTITY_TABLES, to_canonical

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

log = logging.getLogger(__name__)

PROGRESS_TABLE = "_state/ingest_silver"
Gate = Callable[[DataFrame, str, str, list[SourceConfig]], None]


@dataclass
class Pending:
    """New bronze rows of one source, not yet published to silver."""

    source: SourceConfig
    rows: DataFrame
    last_batch: int


def pending_rows(lake: Lake, src: SourceConfig) -> Pending | None:
    """Bronze rows of ``src`` newer than its last published batch, or None."""
    table = bronze_table(src)
    if not lake.exists(table):
        return None
    done = lake.txn_version(PROGRESS_TABLE, f"silver:{src.name}") if lake.exists(
        PROGRESS_TABLE) else None
    rows = lake.read(table)
    if done is not None:
        rows = rows.where(F.col("_batch_id") > done)
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
            canon = to_canonical(p.source, out, cfg, keep=["_batch_id", "_file",
                                                             "_file_modified_at"])
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
) -> dict[str, int]:
    """Build, gate and upsert the silver tables from bronze rows not yet published.

    Args:
        lake: The lake layer.
        cfg: The ingest config.
        sources: The sources to publish.
        gate: Called with ``(frame, table, entity, sources)`` for every entity before any
            write; raises ``QualityGateFailed`` to stop publication.

    Returns:
        Rows upserted per silver table (``silver_<entity>``) and the person versions
        considered for history.
    """
    pending = [p for p in (pending_rows(lake, s) for s in sources) if p is not None]
    if not pending:
        return {}
    cands = candidates(pending, cfg)
    final: dict[str, DataFrame] = {}
    for entity, df in cands.items():
        keys = ENTITY_KEYS[entity]
        cols = [f.name for f in ENTITY_SCHEMAS[entity].fields]
        deduped = latest_per_key(df, keys).select(*cols).persist()
        if gate is not None:
            gate(deduped, ENTITY_TABLES[entity], entity,
                 [p.source for p in pending if any(o.entity == entity for o in p.source.outputs)])
        final[entity] = deduped
    counts: dict[str, int] = {}
    for entity, df in final.items():
        if entity == "person":
            # every version delivered, not only the latest, so the history sees each change
            versions = cands["person"].drop("_batch_id", "_file", "_file_modified_at")
            current = publish_history(lake, versions)
            lake.merge(ENTITY_TABLES[entity], current, keys=ENTITY_KEYS[entity])
        else:
            lake.merge(ENTITY_TABLES[entity], df, keys=ENTITY_KEYS[entity])
        counts[f"silver_{entity}"] = df.count()
        df.unpersist()
    spark = pending[0].rows.sparkSession
    for p in pending:
        marker = spark.createDataFrame([(p.source.name, p.last_batch)], "source string, batch long")
        lake.append(PROGRESS_TABLE, marker, txn=(f"silver:{p.source.name}", p.last_batch))
    return counts

"""One resolution: cluster the records in scope and give them UIDs.

A full run resolves every record; an incremental run the scope
:mod:`vista.identity.incremental` finds. The result is a :class:`Resolution`, the frames
the stage gates, writes and counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.identity.cluster import cluster_records, name_keys, record_links
from vista.identity.config import IdentityConfig
from vista.identity.incremental import changes, incremental_scope
from vista.identity.lineage import LineageBreaks
from vista.identity.link.links import attach_kinds, compute_links
from vista.identity.registry import assign_uids, upsert_registry
from vista.identity.tables import GRAPH_COLUMNS, GRAPH_T, LINEAGE_T, LINKS_T, REGISTRY_T

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolution:
    """What one resolution computed, for the gate, the writes and the metrics.

    Attributes:
        links: Every link of the population (``LINKS``), to be stored.
        scope_rows: The graph rows of the re-clustered records.
        graph: The whole identity graph after this run.
        deleted: Record keys gone since the last run (None in a full run).
        registry_changes: Registry rows this run adds or changes.
        registry: The whole registry after this run.
        lineage: This run's UID lineage rows (None: nothing to record).
        stats: Clustering counts (``cluster_records``'s stats).
        scope_records: Records re-clustered.
        changed_records: New or changed records (all of them in a full run).
        unchanged: No record changed: the stored graph stands and nothing is written.
    """

    links: DataFrame
    scope_rows: DataFrame
    graph: DataFrame
    deleted: DataFrame | None
    registry_changes: DataFrame
    registry: DataFrame
    lineage: DataFrame | None
    stats: dict[str, int] = field(default_factory=dict)
    scope_records: int = 0
    changed_records: int = 0
    unchanged: bool = False


def graph_rows(records: DataFrame, uids: DataFrame, clusters: DataFrame, links: DataFrame,
                cfg: IdentityConfig, run_id: str) -> DataFrame:
    how = record_links(clusters, links, cfg.clustering, attach_kinds(cfg))
    return (
        records.select("source", "source_record_id", "record_key")
        .join(uids, on="record_key", how="inner")
        .join(how, on="record_key", how="left")
        .select(*GRAPH_COLUMNS[:-1], F.lit(run_id).alias("run_id"))
    )


def unchanged(ctx: RunContext) -> Resolution:
    """The stage's output when no person record changed: the stored graph, nothing new."""
    lake = ctx.lake
    graph = lake.read(GRAPH_T)
    return Resolution(
        unchanged=True, links=lake.read(LINKS_T), scope_rows=graph.limit(0), graph=graph,
        deleted=graph.select("record_key").limit(0),
        registry_changes=lake.read(REGISTRY_T).limit(0), registry=lake.read(REGISTRY_T),
        lineage=lake.read(LINEAGE_T).limit(0) if lake.exists(LINEAGE_T) else None,
        stats={"edges_strong": 0, "components_split": 0, "records_fallback": 0,
               "records_lone_joined": 0, "records_attached": 0},
    )


def resolve(ctx: RunContext, records: DataFrame, fp: DataFrame, cfg: IdentityConfig,
             model: Any, full: bool, run_seq: int, salt: str,
             breaks: LineageBreaks, frequencies: DataFrame | None = None,
             step: Callable[[str], None] | None = None) -> Resolution:
    """Cluster the scope and assign UIDs; returns the frames the stage writes.

    ``frequencies`` are the model's kept term frequencies (``vista.identity.stage``):
    with them a stored link's score is the one a full run gives it, so an incremental
    run's partition is a full run's. ``step`` is told the name of each part as it
    starts (``resolve/changes``, ``resolve/links``, ``resolve/scope``,
    ``resolve/cluster``, ``resolve/uids``), for the manifest's ``step_seconds``.
    """
    step = step or (lambda name: None)
    lake = ctx.lake
    registry = lake.read(REGISTRY_T) if lake.exists(REGISTRY_T) else None
    if full:
        step("resolve/links")
        links = breaks(compute_links(records, cfg, model, None, breaks, frequencies))
        scope_records = records
        previous = lake.read(GRAPH_T).select("record_key", "uid") if lake.exists(GRAPH_T) \
            else None
        deleted = None
        n_changed = records.count()
    else:
        step("resolve/changes")
        changed, deleted = changes(ctx, fp, breaks)
        if changed.isEmpty() and deleted.isEmpty():
            log.info("identity: no person record changed since the last run; graph kept")
            return unchanged(ctx)
        step("resolve/links")
        inc = incremental_scope(ctx, records, cfg, model, changed, deleted, breaks,
                                frequencies, step)
        links, deleted = inc.links, inc.deleted
        scope_records = records.join(inc.scope, on="record_key", how="left_semi")
        gone_or_scoped = inc.scope.unionByName(deleted)
        previous = inc.previous.join(gone_or_scoped, on="record_key", how="left_semi")
        n_changed = inc.changed.count()
    scope_links = links.join(scope_records.select(F.col("record_key").alias("record_key_l")),
                             "record_key_l", how="left_semi")
    outside = None
    if not full:  # the untouched population still carries names a lone record may share
        outside = (lake.read(GRAPH_T).select("record_key", F.col("uid").alias("cluster_id"))
                   .join(inc.scope, "record_key", how="left_anti")
                   .join(name_keys(records), "record_key", how="inner")
                   .select("name_key", "cluster_id").distinct())
    step("resolve/cluster")
    clusters, stats = cluster_records(scope_records, scope_links, cfg.clustering,
                                      attach_kinds(cfg), outside, breaks)
    step("resolve/uids")
    assigned = assign_uids(clusters, previous, registry, run_id=ctx.run_id, run_seq=run_seq,
                           salt=salt)
    uids = breaks(assigned.assignments)
    rows = breaks(graph_rows(scope_records, uids, clusters, scope_links, cfg, ctx.run_id))
    if full:
        graph = rows
    else:
        untouched = lake.read(GRAPH_T).join(rows.select("record_key"), on="record_key",
                                            how="left_anti").join(
            deleted, on="record_key", how="left_anti")
        graph = breaks(untouched.select(GRAPH_COLUMNS).unionByName(rows))
    return Resolution(
        links=links, scope_rows=rows, graph=graph, deleted=deleted,
        registry_changes=breaks(assigned.registry),
        registry=breaks(upsert_registry(registry, assigned.registry)),
        lineage=breaks(assigned.lineage), stats=stats,
        scope_records=n_changed if full else scope_records.count(), changed_records=n_changed,
    )

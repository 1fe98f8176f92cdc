"""Clustering: pairwise links -> clusters of records, one cluster per person, without chaining.

Plain connected components over thresholded links chain people together (family members
through a shared landline, a namesake through a common name) into giant clusters. vista
clusters in three steps, all distributed:

1. **Edges.** Links are collapsed to one edge per record pair. A pair is an edge when a
   deterministic link of a trusted kind joins it, or its match probability reaches
   ``match_threshold``. Its weight is the best match weight (a deterministic link counts
   as ``deterministic_weight``).
2. **Components.** Connected components of the edges, computed with the alternating
   large-star / small-star algorithm (Kiveris et al., 2014) in DataFrames: O(log² n)
   rounds, each round's lineage broken on purpose (``vista.identity.lineage``) and a
   ``max_iterations`` guard. A component bigger than ``max_component_size`` is re-split with stricter
   edges (``split_thresholds``), then with each record's single best edge; whatever is
   still too big falls back to singletons (under-merging is safer than a giant cluster)
   and is counted.
3. **Compatibility.** Inside each component every pair of records is checked for strong
   disagreement (birth dates, nickname-aware first names, full names that share their
   first words and then differ, optionally gender). A
   component without such a pair is one cluster. A component with one is re-clustered
   by greedy merging in order of descending weight, refusing any merge that would put
   two incompatible records together (cannot-link constraints). This is a per-component
   grouped pandas UDF: union-find with constraints has no Spark built-in, and it is
   bounded because only components of at most ``max_component_size`` records enter it.

A cluster's id is its smallest record key (a lone record or a cluster of nameless
records that joins another takes that one's id). Clustering is deterministic: equal input gives equal
clusters.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.identity.cluster.attach import attach_lone, attach_nameless
from vista.identity.cluster.config import ClusteringConfig
from vista.identity.cluster.graph import CLUSTERS, bounded_components, pair_edges
from vista.identity.cluster.merge import incompatible_pairs, split_conflicted
from vista.identity.lineage import LineageBreaks

log = logging.getLogger(__name__)

__all__ = ["CLUSTERS", "cluster_records", "record_links", "size_histogram"]

HISTOGRAM_BUCKETS = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50),
                     (51, 100), (101, 1000), (1001, None)]


def cluster_records(
    records: DataFrame, links: DataFrame, cfg: ClusteringConfig,
    attach_kinds: list[str] | None = None, outside_names: DataFrame | None = None,
    breaks: LineageBreaks | None = None,
) -> tuple[DataFrame, dict[str, int]]:
    """Cluster person records into people.

    Args:
        records: Person records (``PERSON_RECORDS``, or the columns
            :func:`compatibility_frame` reads);
            every record gets a cluster, unlinked ones alone.
        links: Pairwise links (``LINKS``) between those records; links to records not in
            ``records`` are ignored.
        cfg: Clustering settings.
        attach_kinds: Link kinds that are not edges: after clustering, a cluster
            without any named record joins the one other cluster its links of these
            kinds all reach (none when they reach two), see
            ``DeterministicConfig.nameless_only_kinds``.
        outside_names: ``name_key, cluster_id`` of the clusters outside ``records``
            (an incremental run's untouched population): a lone record does not join
            a cluster when one of these carries its name too.
        breaks: How lineage is broken between steps (None: local checkpoints; the
            stage passes ``identity.break_lineage``).

    Returns:
        ``(clusters, stats)``: ``CLUSTERS`` rows for every record, and counts
        (``edges_strong``, ``components_split``, ``records_fallback``,
        ``records_lone_joined`` (see ``ClusteringConfig.lone_records``),
        ``records_attached``).

    Example:
        >>> clusters, stats = cluster_records(records, links, ClusteringConfig())
        >>> clusters.columns
        ['record_key', 'cluster_id']
    """
    breaks = breaks or LineageBreaks(records.sparkSession)
    keys = records.select("record_key")
    attach = links.where(F.col("link_kind").isin(attach_kinds or []))
    links = links.where(~F.col("link_kind").isin(attach_kinds or []))
    edges = pair_edges(links, cfg).where("strong")
    edges = edges.join(keys.withColumnRenamed("record_key", "record_key_l"), "record_key_l",
                       how="left_semi")
    edges = breaks(edges.join(keys.withColumnRenamed("record_key", "record_key_r"),
                              "record_key_r", how="left_semi"))
    components, n_fallback = bounded_components(edges, cfg, breaks)
    components = breaks(components)
    conflicts = breaks(incompatible_pairs(components, records, cfg.compatibility))
    conflicted = conflicts.select("component").distinct()
    clean = components.join(conflicted, on="component", how="left_anti").select(
        "record_key", F.col("component").alias("cluster_id"))
    split = split_conflicted(components, conflicted, edges, conflicts)
    clusters = breaks(keys.join(clean.unionByName(split), on="record_key", how="left")
                      .select("record_key",
                              F.coalesce("cluster_id", "record_key").alias("cluster_id")))
    clusters, n_lone = attach_lone(clusters, records, links, cfg, breaks, outside_names)
    clusters, n_attached = attach_nameless(clusters, records, attach, breaks)
    stats = {
        "edges_strong": edges.count(),
        "components_split": conflicted.count(),
        "records_fallback": n_fallback,
        "records_lone_joined": n_lone,
        "records_attached": n_attached,
    }
    log.info("clustering: %d strong edges, %d component(s) split for incompatibility, "
             "%d record(s) in fallback singletons, %d lone record(s) joined by weaker "
             "links, %d nameless cluster record(s) attached", *stats.values())
    return clusters, stats


def record_links(clusters: DataFrame, links: DataFrame, cfg: ClusteringConfig,
                 attach_kinds: list[str] | None = None) -> DataFrame:
    """How each record joined its cluster: its strongest link inside the cluster.

    Args:
        clusters: ``record_key, cluster_id``.
        links: The links the clusters were built from.
        cfg: Clustering settings (to rank deterministic links first).
        attach_kinds: Link kinds that only attach nameless records (see
            :func:`cluster_records`): a record's link of such a kind is named only when it
            has no other link inside its cluster.

    Returns:
        ``record_key, link_kind, match_probability``; ``link_kind`` is ``"singleton"`` and
        the probability null for a record alone in its cluster.
    """
    edges = pair_edges(links, cfg)
    cl = clusters.select(F.col("record_key").alias("record_key_l"), F.col("cluster_id").alias("c_l"))
    cr = clusters.select(F.col("record_key").alias("record_key_r"), F.col("cluster_id").alias("c_r"))
    inside = (
        edges.join(cl, on="record_key_l", how="inner")
        .join(cr, on="record_key_r", how="inner")
        .where(F.col("c_l") == F.col("c_r"))
    )
    ends = inside.select(F.col("record_key_l").alias("record_key"), "link_kind", "deterministic",
                         "probability", "weight").unionByName(
        inside.select(F.col("record_key_r").alias("record_key"), "link_kind", "deterministic",
                      "probability", "weight"))
    edge = ~F.col("link_kind").isin(attach_kinds or [])
    rank = F.struct(edge, "deterministic", "probability", "weight", "link_kind")
    best = ends.groupBy("record_key").agg(
        F.max_by("link_kind", rank).alias("link_kind"),
        F.max_by("probability", rank).alias("match_probability"),
    )
    return clusters.select("record_key").join(best, on="record_key", how="left").select(
        "record_key",
        F.coalesce("link_kind", F.lit("singleton")).alias("link_kind"),
        F.col("match_probability").cast("double").alias("match_probability"),
    )


def size_histogram(clusters: DataFrame) -> list[dict[str, int | str]]:
    """The cluster-size distribution, aggregated in Spark (a dozen rows reach the driver).

    Args:
        clusters: ``record_key`` and a cluster column named ``cluster_id`` (or ``uid``).

    Returns:
        Rows ``{"size": "1" | "2" | ... | "6-10" | ... | "1001+", "clusters": n,
        "records": n}`` for non-empty buckets, plus ``{"size": "max", ...}`` with the
        largest cluster's size.
    """
    key = "cluster_id" if "cluster_id" in clusters.columns else "uid"
    sizes = clusters.groupBy(key).agg(F.count("*").alias("n"))
    bucket = F.lit(None).cast("string")
    for lo, hi in reversed(HISTOGRAM_BUCKETS):
        label = str(lo) if lo == hi else (f"{lo}-{hi}" if hi else f"{lo}+")
        cond = (F.col("n") >= lo) if hi is None else F.col("n").between(lo, hi)
        bucket = F.when(cond, F.lit(label)).otherwise(bucket)
    agg = sizes.withColumn("size", bucket).groupBy("size").agg(
        F.min("n").alias("lo"), F.count("*").alias("clusters"), F.sum("n").alias("records"))
    rows = sorted(agg.collect(), key=lambda r: r["lo"])
    out: list[dict[str, int | str]] = [
        {"size": r["size"], "clusters": int(r["clusters"]), "records": int(r["records"])}
        for r in rows
    ]
    largest = sizes.agg(F.max("n")).first()[0]
    out.append({"size": "max", "clusters": 1 if largest else 0, "records": int(largest or 0)})
    return out

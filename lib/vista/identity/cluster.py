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
from typing import TYPE_CHECKING

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.identity.cluster_config import ClusteringConfig
from vista.identity.errors import ClusteringError
from vista.identity.lineage import LineageBreaks
from vista.identity.person.compatibility import compatibility_frame, incompatible, name_flags
from vista.identity.person.config import CompatibilityConfig

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

CLUSTERS = T.StructType(
    [
        T.StructField("record_key", T.StringType(), False),
        T.StructField("cluster_id", T.StringType(), False),
    ]
)

EDGES = T.StructType(
    [
        T.StructField("record_key_l", T.StringType(), False),
        T.StructField("record_key_r", T.StringType(), False),
        T.StructField("link_kind", T.StringType(), False),  # the strongest kind on the pair
        T.StructField("weight", T.DoubleType(), False),
        T.StructField("probability", T.DoubleType(), False),
        T.StructField("deterministic", T.BooleanType(), False),
        T.StructField("strong", T.BooleanType(), False),
    ]
)

HISTOGRAM_BUCKETS = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50),
                     (51, 100), (101, 1000), (1001, None)]


# --------------------------------------------------------------------------- edges


def pair_edges(links: DataFrame, cfg: ClusteringConfig) -> DataFrame:
    """Collapse links to one row per record pair and mark the strong ones.

    Args:
        links: Rows of ``vista.schemas.LINKS`` (several links per pair allowed).
        cfg: Clustering settings.

    Returns:
        One row per pair with the ``EDGES`` columns.
    """
    kind = F.col("link_kind")
    is_det = kind.startswith("deterministic:")
    if cfg.deterministic_kinds is not None:
        trusted = F.substring_index(kind, ":", -1).isin(cfg.deterministic_kinds)
        is_det = is_det & trusted
    prob = F.coalesce(F.col("match_probability"), F.when(is_det, F.lit(1.0)), F.lit(0.0))
    weight = F.greatest(
        F.coalesce(F.col("match_weight"), F.lit(float("-inf"))),
        F.when(is_det, F.lit(cfg.deterministic_weight)).otherwise(F.lit(float("-inf"))),
    )
    per_link = links.select(
        F.least("record_key_l", "record_key_r").alias("record_key_l"),
        F.greatest("record_key_l", "record_key_r").alias("record_key_r"),
        kind.alias("link_kind"),
        is_det.alias("det"),
        prob.alias("prob"),
        weight.alias("w"),
    ).where(F.col("record_key_l") != F.col("record_key_r"))
    rank = F.struct(F.col("det"), F.col("prob"), F.col("w"), F.col("link_kind"))
    return (
        per_link.groupBy("record_key_l", "record_key_r")
        .agg(
            F.max_by("link_kind", rank).alias("link_kind"),
            F.max("w").alias("weight"),
            F.max("prob").alias("probability"),
            F.max(F.col("det").cast("int")).cast("boolean").alias("deterministic"),
        )
        .withColumn("strong", F.col("deterministic") | (F.col("probability") >= cfg.match_threshold))
        .select([f.name for f in EDGES.fields])
    )


# --------------------------------------------------------------------------- components


def _large_star(edges: DataFrame) -> DataFrame:
    both = edges.select(F.col("a").alias("u"), F.col("b").alias("v")).unionByName(
        edges.select(F.col("b").alias("u"), F.col("a").alias("v"))
    )
    m = both.groupBy("u").agg(F.least(F.min("v"), F.first("u")).alias("m"))
    return (
        both.where(F.col("v") > F.col("u"))
        .join(m, on="u", how="inner")
        .select(F.least("v", "m").alias("a"), F.greatest("v", "m").alias("b"))
        .where(F.col("a") != F.col("b"))
        .distinct()
    )


def _small_star(edges: DataFrame) -> DataFrame:
    # each undirected edge (a < b) belongs to its larger end b
    m = edges.groupBy(F.col("b").alias("u")).agg(F.min("a").alias("m"))
    m = m.withColumn("m", F.least("m", "u"))
    neighbours = edges.select(F.col("b").alias("u"), F.col("a").alias("v")).unionByName(
        m.select("u", F.col("u").alias("v"))
    )
    return (
        neighbours.join(m, on="u", how="inner")
        .select(F.least("v", "m").alias("a"), F.greatest("v", "m").alias("b"))
        .where(F.col("a") != F.col("b"))
        .distinct()
    )


def _is_star_forest(edges: DataFrame) -> bool:
    """True when every node is either a centre or a leaf with exactly one centre."""
    roles = edges.select(F.col("a").alias("n"), F.lit(0).alias("leaf"), F.lit(1).alias("centre"))
    roles = roles.unionByName(
        edges.select(F.col("b").alias("n"), F.lit(1).alias("leaf"), F.lit(0).alias("centre"))
    )
    bad = (
        roles.groupBy("n")
        .agg(F.sum("leaf").alias("leaf"), F.max("centre").alias("centre"))
        .where((F.col("leaf") > 1) | ((F.col("leaf") >= 1) & (F.col("centre") == 1)))
        .limit(1)
        .count()
    )
    return bad == 0


def connected_components(edges: DataFrame, max_iterations: int = 60,
                         breaks: LineageBreaks | None = None) -> DataFrame:
    """Connected components of an undirected graph, without collecting it.

    Alternates large-star and small-star until the edges form stars around each
    component's smallest node. Every round's lineage is broken.

    Args:
        edges: Columns ``src`` and ``dst`` (string node ids); direction is ignored.
        max_iterations: Rounds allowed before giving up.
        breaks: How each round's lineage is broken (None: local checkpoints).

    Returns:
        ``node``, ``component`` (the component's smallest node) for every node that has an
        edge. Isolated nodes are not in the graph; callers add them as singletons.

    Raises:
        ClusteringError: The graph did not converge within ``max_iterations`` rounds.
    """
    breaks = breaks or LineageBreaks(edges.sparkSession)
    current = breaks(
        edges.select(F.least("src", "dst").alias("a"), F.greatest("src", "dst").alias("b"))
        .where(F.col("a") != F.col("b"))
        .distinct()
    )
    for round_no in range(1, max_iterations + 1):
        current = breaks(_small_star(_large_star(current)))
        if _is_star_forest(current):
            log.info("connected components converged after %d round(s)", round_no)
            break
    else:
        raise ClusteringError(
            f"connected components did not converge in {max_iterations} rounds; expected "
            "convergence in O(log^2 n) rounds; raise identity.clustering.max_iterations or "
            "check the edges for a giant component"
        )
    return current.select(F.col("b").alias("node"), F.col("a").alias("component")).unionByName(
        current.select(F.col("a").alias("node"), F.col("a").alias("component")).distinct()
    )


def _best_link_edges(edges: DataFrame) -> DataFrame:
    """Each record's single strongest edge (ties: the smaller other key): a forest."""
    both = edges.select(
        F.col("record_key_l").alias("k"), F.col("record_key_r").alias("o"), "weight", "probability"
    ).unionByName(
        edges.select(
            F.col("record_key_r").alias("k"), F.col("record_key_l").alias("o"), "weight",
            "probability",
        )
    )
    w = Window.partitionBy("k").orderBy(F.desc("weight"), F.desc("probability"), F.asc("o"))
    best = both.withColumn("rn", F.row_number().over(w)).where(F.col("rn") == 1)
    return best.select(
        F.least("k", "o").alias("record_key_l"), F.greatest("k", "o").alias("record_key_r")
    ).distinct()


def bounded_components(strong: DataFrame, cfg: ClusteringConfig,
                       breaks: LineageBreaks | None = None) -> tuple[DataFrame, int]:
    """Connected components no bigger than ``cfg.max_component_size``.

    Oversized components are re-split with each stricter threshold in
    ``cfg.split_thresholds``, then with each record's best edge only; records still in an
    oversized component (or left without an edge at a stricter level) become singletons.

    Args:
        strong: Strong edges (``EDGES`` columns, ``strong`` true).
        cfg: Clustering settings.
        breaks: How lineage is broken (None: local checkpoints).

    Returns:
        ``(components, n_fallback)``: ``record_key, component`` for every record with a
        strong edge, and how many records fell back to singletons in an oversized component.
    """
    cap = cfg.max_component_size
    breaks = breaks or LineageBreaks(strong.sparkSession)
    nodes = strong.select(F.col("record_key_l").alias("record_key")).unionByName(
        strong.select(F.col("record_key_r").alias("record_key"))
    ).distinct()
    levels: list[float | str] = [cfg.match_threshold, *cfg.split_thresholds, "best_link"]
    pending = strong
    done: list[DataFrame] = []
    big = None
    for level in levels:
        if level == "best_link":
            level_edges = _best_link_edges(pending)
        else:
            level_edges = pending.where(F.col("deterministic") | (F.col("probability") >= level))
        comp = connected_components(
            level_edges.select(F.col("record_key_l").alias("src"), F.col("record_key_r").alias("dst")),
            cfg.max_iterations, breaks,
        )
        sized = breaks(
            comp.withColumn("size", F.count("*").over(Window.partitionBy("component")))
        )
        done.append(sized.where(F.col("size") <= cap).select(
            F.col("node").alias("record_key"), "component"))
        big = sized.where(F.col("size") > cap).select(F.col("node").alias("k"))
        if big.isEmpty():
            big = None
            break
        log.info("level %s: %d records still in components over %d records", level,
                 big.count(), cap)
        pending = (
            pending.join(big.withColumnRenamed("k", "record_key_l"), "record_key_l", how="left_semi")
            .join(big.withColumnRenamed("k", "record_key_r"), "record_key_r", how="left_semi")
        )
    n_fallback = 0
    if big is not None:
        n_fallback = big.count()
        log.warning("%d records stayed in components over %d records after every split "
                    "level; they are left as singletons", n_fallback, cap)
    assigned = done[0]
    for part in done[1:]:
        assigned = assigned.unionByName(part)
    out = nodes.join(assigned, on="record_key", how="left").select(
        "record_key", F.coalesce("component", "record_key").alias("component")
    )
    return out, n_fallback


# --------------------------------------------------------------------------- compatibility


def incompatible_pairs(
    components: DataFrame, records: DataFrame, cfg: CompatibilityConfig
) -> DataFrame:
    """Every pair of records in the same component that must not share a cluster.

    Args:
        components: ``record_key, component`` (components already bounded in size).
        records: Person records (see :func:`compatibility_frame` for the columns read).
        cfg: The compatibility rules.

    Returns:
        ``component, record_key_l, record_key_r`` with ``record_key_l < record_key_r``.
    """
    members = components.join(compatibility_frame(records, cfg), on="record_key", how="inner")
    left = members.select([F.col(c).alias(f"l_{c}") for c in members.columns])
    right = members.select([F.col(c).alias(f"r_{c}") for c in members.columns])
    pairs = left.join(
        right,
        (F.col("l_component") == F.col("r_component"))
        & (F.col("l_record_key") < F.col("r_record_key")),
        how="inner",
    )
    return pairs.where(incompatible(cfg)).select(
        F.col("l_component").alias("component"),
        F.col("l_record_key").alias("record_key_l"),
        F.col("r_record_key").alias("record_key_r"),
    )


# --------------------------------------------------------------------------- greedy merge

_GREEDY_IN = T.StructType(
    [
        T.StructField("component", T.StringType(), False),
        T.StructField("kind", T.StringType(), False),  # node | edge | cannot
        T.StructField("a", T.StringType(), False),
        T.StructField("b", T.StringType(), True),
        T.StructField("weight", T.DoubleType(), True),
    ]
)


def greedy_merge(group: pd.DataFrame) -> pd.DataFrame:
    """Cluster one component: merge along edges by descending weight under cannot-links.

    Union-find; a merge is refused when any record of one side cannot link with any
    record of the other. Ties in weight are broken by the record keys, so the result is
    deterministic.

    Args:
        group: Rows of ``_GREEDY_IN`` for one component.

    Returns:
        ``record_key, cluster_id`` (the cluster's smallest record key) for each node.
    """
    nodes = sorted(set(group.loc[group["kind"] == "node", "a"]))
    parent = {n: n for n in nodes}
    members = {n: {n} for n in nodes}
    cannot: dict[str, set[str]] = {n: set() for n in nodes}
    for a, b in group.loc[group["kind"] == "cannot", ["a", "b"]].itertuples(index=False):
        cannot[a].add(b)
        cannot[b].add(a)

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges = group.loc[group["kind"] == "edge", ["a", "b", "weight"]]
    edges = edges.assign(neg=-edges["weight"]).sort_values(["neg", "a", "b"], kind="stable")
    for a, b in edges[["a", "b"]].itertuples(index=False):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        small, large = sorted((ra, rb), key=lambda r: len(members[r]))
        if any(cannot[x] & members[large] for x in members[small]):
            continue
        parent[small] = large
        members[large] |= members.pop(small)
    rows = [(n, min(members[find(n)])) for n in nodes]
    return pd.DataFrame(rows, columns=["record_key", "cluster_id"])


# --------------------------------------------------------------------------- public API


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
    split = _split_conflicted(components, conflicted, edges, conflicts)
    clusters = breaks(keys.join(clean.unionByName(split), on="record_key", how="left")
                      .select("record_key",
                              F.coalesce("cluster_id", "record_key").alias("cluster_id")))
    clusters, n_lone = _attach_lone(clusters, records, links, cfg, breaks, outside_names)
    clusters, n_attached = _attach_nameless(clusters, records, attach, breaks)
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


NAME_KEY_SQL = (
    "CASE WHEN first_name_std IS NOT NULL AND last_name_std IS NOT NULL "
    "THEN concat(substring_index(trim(first_name_std), ' ', 1), ' ', "
    "substring_index(trim(last_name_std), ' ', 1)) "
    "WHEN size(split(trim(full_name_std), ' ')) >= 2 "
    "THEN concat_ws(' ', slice(split(trim(full_name_std), ' '), 1, 2)) END")
"""Spark SQL for the name a lone record is known by: the first words of its first and
last name, or the first two words of its full name ("irene tamez santana" and Irene /
Tamez Santana give "irene tamez")."""


def name_keys(records: DataFrame) -> DataFrame:
    """``record_key, name_key`` for every record with a name of two words or more."""
    cols = set(records.columns)
    frame = records.select("record_key", *[
        (F.col(c) if c in cols else F.lit(None).cast("string")).alias(c)
        for c in ("first_name_std", "last_name_std", "full_name_std")])
    return frame.select("record_key", F.expr(NAME_KEY_SQL).alias("name_key")).where(
        F.col("name_key").isNotNull() & (F.col("name_key") != ""))


def _attach_lone(clusters: DataFrame, records: DataFrame, links: DataFrame,
                 cfg: ClusteringConfig, breaks: LineageBreaks,
                 outside_names: DataFrame | None = None) -> tuple[DataFrame, int]:
    """A record alone in its cluster joins the one cluster its weaker probabilistic links
    reach, when that cluster carries its name, no third cluster does, and no record there
    is incompatible with it (``ClusteringConfig.lone_records``)."""
    rule = cfg.lone_records
    if not rule.enabled:
        return clusters, 0
    sizes = clusters.groupBy("cluster_id").agg(F.count("*").alias("n"))
    keys = name_keys(records)
    lone = (clusters.join(sizes.where("n = 1"), "cluster_id", how="left_semi")
            .join(keys, "record_key", how="inner"))
    weak = links.where(~F.col("link_kind").startswith("deterministic:")
                       & (F.col("match_probability") >= rule.min_probability))
    ends = weak.select(F.col("record_key_l").alias("record_key"),
                       F.col("record_key_r").alias("o")).unionByName(
        weak.select(F.col("record_key_r").alias("record_key"), F.col("record_key_l").alias("o")))
    reached = (ends.join(lone, "record_key", how="inner")
               .join(clusters.toDF("o", "target"), "o", how="inner")
               .where(F.col("target") != F.col("cluster_id"))
               .groupBy("record_key", "cluster_id", "name_key")
               .agg(F.countDistinct("target").alias("n"), F.min("target").alias("target"))
               .where("n = 1").drop("n"))
    holders = clusters.join(keys, "record_key", how="inner").select(
        "name_key", F.col("cluster_id").alias("target")).distinct()
    everyone = holders if outside_names is None else holders.unionByName(
        outside_names.select("name_key", F.concat(F.lit("outside:"), "cluster_id").alias("target")))
    unique = everyone.groupBy("name_key").agg(F.count("*").alias("n")).where("n = 2")
    cand = (reached.join(holders, ["name_key", "target"], how="left_semi")
            .join(unique, "name_key", how="left_semi"))
    people = compatibility_frame(records, cfg.compatibility)
    pl = people.select([F.col(c).alias(f"l_{c}") for c in people.columns])
    pr = people.select([F.col(c).alias(f"r_{c}") for c in people.columns])
    members = clusters.select(F.col("record_key").alias("r_record_key"),
                              F.col("cluster_id").alias("target"))
    refused = (cand.select(F.col("record_key").alias("l_record_key"), "target")
               .join(members, "target").join(pl, "l_record_key").join(pr, "r_record_key")
               .where(incompatible(cfg.compatibility))
               .select(F.col("l_record_key").alias("record_key")).distinct())
    moves = cand.join(refused, "record_key", how="left_anti").select("cluster_id", "target")
    # two lone records carrying one name may each choose the other: they meet on the
    # smaller id (a target is never a third cluster: only two clusters carry the name)
    mutual = moves.toDF("target", "back")
    moves = (moves.join(mutual, "target", how="left")
             .select("cluster_id", F.when(F.col("back") == F.col("cluster_id"),
                                          F.least("cluster_id", "target"))
                     .otherwise(F.col("target")).alias("target")))
    out = breaks(clusters.join(moves, "cluster_id", how="left").select(
        "record_key", F.coalesce("target", "cluster_id").alias("cluster_id"),
        (F.col("target").isNotNull() & (F.col("target") != F.col("cluster_id"))).alias("moved")))
    n = out.where("moved").count()
    return out.drop("moved"), n


def _attach_nameless(clusters: DataFrame, records: DataFrame, attach: DataFrame,
                     breaks: LineageBreaks) -> tuple[DataFrame, int]:
    """A cluster without any named record joins the one other cluster its attach links
    all reach (none when they reach two)."""
    named = name_flags(records).withColumn("named", F.col("named").cast("int"))
    nameless = (clusters.join(named, "record_key", how="left")
                .groupBy("cluster_id").agg(F.max(F.coalesce("named", F.lit(0))).alias("named"))
                .where("named = 0").select("cluster_id"))
    ends = attach.select(F.col("record_key_l").alias("k"), F.col("record_key_r").alias("o")) \
        .unionByName(attach.select(F.col("record_key_r").alias("k"),
                                   F.col("record_key_l").alias("o")))
    moves = (ends.join(clusters.toDF("k", "cluster_id"), "k", how="inner")
             .join(nameless, "cluster_id", how="left_semi")
             .join(clusters.toDF("o", "target"), "o", how="inner")
             .where(F.col("target") != F.col("cluster_id"))
             .groupBy("cluster_id").agg(F.countDistinct("target").alias("n"),
                                        F.min("target").alias("target"))
             .where(F.col("n") == 1).select("cluster_id", "target"))
    out = breaks(clusters.join(moves, "cluster_id", how="left").select(
        "record_key", F.coalesce("target", "cluster_id").alias("cluster_id"),
        F.col("target").isNotNull().alias("moved")))
    n = out.where("moved").count()
    return out.drop("moved"), n


def _split_conflicted(
    components: DataFrame, conflicted: DataFrame, edges: DataFrame, conflicts: DataFrame
) -> DataFrame:
    """Greedy-merge every component that holds an incompatible pair (one UDF call each)."""
    comp = components.join(conflicted, on="component", how="left_semi")
    comp_l = comp.withColumnRenamed("record_key", "record_key_l")
    comp_r = comp.select(F.col("record_key").alias("record_key_r"),
                         F.col("component").alias("component_r"))
    inner = (
        edges.join(comp_l, on="record_key_l", how="inner")
        .join(comp_r, on="record_key_r", how="inner")
        .where(F.col("component") == F.col("component_r"))
    )
    rows = (
        comp.select("component", F.lit("node").alias("kind"), F.col("record_key").alias("a"),
                    F.lit(None).cast("string").alias("b"), F.lit(None).cast("double").alias("weight"))
        .unionByName(inner.select("component", F.lit("edge").alias("kind"),
                                  F.col("record_key_l").alias("a"),
                                  F.col("record_key_r").alias("b"), "weight"))
        .unionByName(conflicts.select("component", F.lit("cannot").alias("kind"),
                                      F.col("record_key_l").alias("a"),
                                      F.col("record_key_r").alias("b"),
                                      F.lit(None).cast("double").alias("weight")))
    )
    return rows.groupBy("component").applyInPandas(greedy_merge, schema=CLUSTERS)


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


def empty_links(spark: SparkSession) -> DataFrame:
    """An empty links frame with the ``LINKS`` schema."""
    from vista.schemas import LINKS

    return spark.createDataFrame([], LINKS)

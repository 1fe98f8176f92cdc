"""The clustering graph: links -> edges -> connected components of bounded size.

A pair of records is an edge when a deterministic link of a trusted kind joins it, or
its match probability reaches ``match_threshold``; its weight is the best match weight.
Components are computed with the alternating large-star / small-star algorithm (Kiveris
et al., 2014) in DataFrames, each round's lineage broken on purpose
(``vista.identity.lineage``). A component bigger than ``max_component_size`` is re-split
with stricter edges, then with each record's single best edge; whatever is still too big
falls back to singletons.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.identity.cluster.config import ClusteringConfig
from vista.identity.errors import ClusteringError
from vista.identity.lineage import LineageBreaks

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


def reachable(edges: DataFrame, seeds: DataFrame, max_iterations: int = 60,
              breaks: LineageBreaks | None = None) -> DataFrame:
    """Every node connected to a seed: the union of the seeds' components, found by
    widening from the seeds rather than labelling the whole graph.

    An incremental run needs only the components its changed records touch. Widening
    joins the edges with a frontier that is small when the change is, so it costs a
    few narrow passes over the edges (one per step of distance from a seed) instead of
    the whole graph's O(log^2 n) rounds of :func:`connected_components`; the nodes found
    are exactly those of the components that contain a seed.

    Args:
        edges: Columns ``src`` and ``dst`` (string node ids); direction is ignored.
        seeds: Column ``node``; seeds without an edge are returned as they are.
        max_iterations: Steps of distance allowed before giving up.
        breaks: How each step's lineage is broken (None: local checkpoints).

    Returns:
        ``node``, one row per node reached (the seeds included).

    Raises:
        ClusteringError: A seed is farther than ``max_iterations`` steps from a node of
            its component (a chain that long means a giant component).
    """
    breaks = breaks or LineageBreaks(edges.sparkSession)
    both = breaks(edges.select(F.col("src").alias("a"), F.col("dst").alias("b")).unionByName(
        edges.select(F.col("dst").alias("a"), F.col("src").alias("b")))
        .where(F.col("a") != F.col("b")).distinct())
    reached = frontier = breaks(seeds.select("node").distinct())
    for step_no in range(max_iterations + 1):
        found = (both.join(frontier.select(F.col("node").alias("a")), on="a", how="left_semi")
                 .select(F.col("b").alias("node")).distinct()
                 .join(reached, on="node", how="left_anti"))
        frontier = breaks(found)
        if frontier.isEmpty():
            log.info("reachable: every node within %d step(s) of the seeds", step_no)
            return reached
        if step_no == max_iterations:
            break
        reached = breaks(reached.unionByName(frontier))
    raise ClusteringError(
        f"widening from the changed records did not end in {max_iterations} steps; raise "
        "identity.clustering.max_iterations or check the edges for a giant component")


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

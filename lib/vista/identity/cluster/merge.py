"""Constrained merging: a component that holds two incompatible records is split.

Every pair of records in a component is checked against the person rules
(``vista.identity.person``); a component with an incompatible pair is re-clustered by
greedy merging in order of descending weight, refusing any merge that would put two
incompatible records together (cannot-link constraints). This is a per-component grouped
pandas UDF: union-find with constraints has no Spark built-in, and it is bounded because
only components of at most ``max_component_size`` records enter it.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.identity.cluster.graph import CLUSTERS
from vista.identity.person.compatibility import compatibility_frame, incompatible
from vista.identity.person.config import CompatibilityConfig


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


def split_conflicted(
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

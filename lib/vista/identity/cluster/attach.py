"""Attachment: records clustering left alone, and clusters without a name, join a person.

* a lone record joins the one cluster its weaker probabilistic links reach, when that
  cluster carries its name, no third cluster does, and the person rules allow it
  (``ClusteringConfig.lone_records``);
* a cluster without any named record joins the one other cluster its attach links all
  reach (``DeterministicConfig.nameless_only_kinds``).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.identity.cluster.config import ClusteringConfig
from vista.identity.lineage import LineageBreaks
from vista.identity.person.compatibility import compatibility_frame, incompatible, name_flags

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


def attach_lone(clusters: DataFrame, records: DataFrame, links: DataFrame,
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
    # the candidates are few, and every step below reads them (refusals, moves, the
    # mutual choices): materialised once, not recomputed from the links by each
    cand = breaks(reached.join(holders, ["name_key", "target"], how="left_semi")
                  .join(unique, "name_key", how="left_semi"))
    if cand.isEmpty():
        return clusters, 0
    members = clusters.select(F.col("record_key").alias("r_record_key"),
                              F.col("cluster_id").alias("target")).join(
        cand.select("target"), "target", how="left_semi")
    # a record's compatibility columns depend on it and the name lists alone: only the
    # candidates and the members of their targets need them
    involved = cand.select("record_key").unionByName(
        members.select(F.col("r_record_key").alias("record_key")))
    people = compatibility_frame(records.join(involved, "record_key", how="left_semi"),
                                 cfg.compatibility)
    pl = people.select([F.col(c).alias(f"l_{c}") for c in people.columns])
    pr = people.select([F.col(c).alias(f"r_{c}") for c in people.columns])
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


def attach_nameless(clusters: DataFrame, records: DataFrame, attach: DataFrame,
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

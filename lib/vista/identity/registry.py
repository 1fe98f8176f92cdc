"""The UID registry: stable, opaque universal customer ids across runs.

Rules, applied to the overlap between the previous assignment (record -> UID) and this
run's clusters, all with joins and aggregations (nothing is collected):

* **keep**: an old UID goes to the new cluster holding most of its records (ties: the
  cluster with the smaller cluster id, i.e. smallest record key), so a person's UID
  survives as long as their records stay together;
* **merge**: when several old UIDs pick the same cluster, the oldest (first created run,
  then the smaller UID) survives; the others get status ``merged`` and ``merged_into``;
* **split**: the parts of an old UID that did not keep it move to whatever UID their new
  cluster gets (a new one if no old UID picked that cluster);
* **new**: a cluster no old UID picked gets a new UID;
* **retired**: an old UID none of whose records are left (erasure, deletion).

Every change is one lineage row ``old_uid -> new_uid, reason``.

A new UID is ``"u" + hex(HMAC-SHA256(salt, "<cluster's smallest record key>|<run ordinal>"))[:32]``.
It is deterministic (the same input on a fresh registry gives the same UIDs, unlike a
random UUID), unique (clusters of one run have distinct smallest keys, runs have distinct
ordinals; 128 bits make collisions negligible), opaque and never derived from PII (record
keys are source ids, and the keyed hash means they cannot be recovered or confirmed
without the salt). A sequence would also be deterministic but leaks volumes and needs a
global ordering step. HMAC is built from Spark's ``sha2`` (no UDF).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

log = logging.getLogger(__name__)

UID_REGISTRY = T.StructType(
    [
        T.StructField("uid", T.StringType(), False),
        T.StructField("status", T.StringType(), False),  # active | merged | retired
        T.StructField("created_run", T.StringType(), False),
        T.StructField("created_seq", T.LongType(), False),  # ordinal of the creating run
        T.StructField("merged_into", T.StringType(), True),
        T.StructField("split_from", T.StringType(), True),
        T.StructField("updated_run", T.StringType(), False),
    ]
)

UID_LINEAGE = T.StructType(
    [
        T.StructField("old_uid", T.StringType(), True),
        T.StructField("new_uid", T.StringType(), True),
        T.StructField("reason", T.StringType(), False),  # new | merge | split | retired
        T.StructField("run_id", T.StringType(), False),
        T.StructField("at", T.TimestampType(), False),
    ]
)

ASSIGNMENTS = T.StructType(
    [
        T.StructField("record_key", T.StringType(), False),
        T.StructField("uid", T.StringType(), False),
    ]
)

DEFAULT_SALT = "vista-default-uid-salt"
"""Used when the salt environment variable is unset: fine for a demo, not for production
(anyone could recompute UIDs from record keys). Set ``VISTA_UID_SALT`` and never change it."""


@dataclass(frozen=True)
class UidAssignment:
    """The result of one registry update.

    Attributes:
        assignments: ``record_key, uid`` for every clustered record.
        registry: Registry rows (``UID_REGISTRY``) that are new or changed in this run.
        lineage: Lineage rows (``UID_LINEAGE``) of this run.
    """

    assignments: DataFrame
    registry: DataFrame
    lineage: DataFrame


def hmac_sha256_hex(message: Column, salt: str) -> Column:
    """HMAC-SHA256 of a string column with Spark built-ins (RFC 2104).

    Args:
        message: A string column (UTF-8 encoded).
        salt: The secret key.

    Returns:
        A column of 64 lower-case hex digits.
    """
    key = salt.encode("utf-8")
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    ipad = bytearray(b ^ 0x36 for b in key)
    opad = bytearray(b ^ 0x5C for b in key)
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), F.encode(message, "UTF-8")), 256))
    return F.sha2(F.concat(F.lit(opad), inner), 256)


def new_uid(cluster_id: Column, run_seq: int, salt: str) -> Column:
    """The UID minted for a cluster in run ``run_seq``."""
    msg = F.concat(cluster_id, F.lit(f"|{run_seq}"))
    return F.concat(F.lit("u"), F.substring(hmac_sha256_hex(msg, salt), 1, 32))


def empty_registry(spark) -> DataFrame:  # noqa: ANN001 - SparkSession
    """An empty registry frame."""
    return spark.createDataFrame([], UID_REGISTRY)


def assign_uids(
    clusters: DataFrame,
    previous: DataFrame | None,
    registry: DataFrame | None,
    *,
    run_id: str,
    run_seq: int,
    salt: str,
) -> UidAssignment:
    """Give every cluster a UID, keeping old UIDs stable.

    Args:
        clusters: ``record_key, cluster_id`` (cluster id = the cluster's smallest key).
        previous: ``record_key, uid`` of the previous run for the records in scope,
            including records that no longer exist (they retire their UID). None on a
            first run.
        registry: The current registry (``UID_REGISTRY``), or None on a first run.
        run_id: This run's id.
        run_seq: This run's ordinal (1 on a fresh registry), part of minted UIDs.
        salt: The HMAC key.

    Returns:
        The assignments, the registry rows to upsert, and the lineage rows to append.
    """
    spark = clusters.sparkSession
    previous = previous if previous is not None else spark.createDataFrame([], ASSIGNMENTS)
    registry = registry if registry is not None else empty_registry(spark)
    overlap = (
        clusters.join(previous, on="record_key", how="inner")
        .groupBy("uid", "cluster_id")
        .agg(F.count("*").alias("n"))
    )
    by_uid = Window.partitionBy("uid").orderBy(F.desc("n"), F.asc("cluster_id"))
    overlap = overlap.withColumn("keeps", F.row_number().over(by_uid) == 1)
    ages = registry.select("uid", "created_seq")
    claims = overlap.where("keeps").join(ages, on="uid", how="left")
    oldest = Window.partitionBy("cluster_id").orderBy(
        F.asc_nulls_last("created_seq"), F.asc("uid"))
    claims = claims.withColumn("survives", F.row_number().over(oldest) == 1)
    survivors = claims.where("survives").select("cluster_id", F.col("uid").alias("kept_uid"))
    cluster_ids = clusters.select("cluster_id").distinct()
    cluster_uid = cluster_ids.join(survivors, on="cluster_id", how="left").select(
        "cluster_id",
        F.coalesce("kept_uid", new_uid(F.col("cluster_id"), run_seq, salt)).alias("uid"),
        F.col("kept_uid").isNull().alias("minted"),
    )
    assignments = clusters.join(cluster_uid, on="cluster_id", how="inner").select(
        "record_key", "uid")
    lineage, registry_rows = _changes(
        overlap, claims, cluster_uid, previous, registry, run_id=run_id, run_seq=run_seq)
    return UidAssignment(assignments=assignments, registry=registry_rows, lineage=lineage)


def _changes(
    overlap: DataFrame,
    claims: DataFrame,
    cluster_uid: DataFrame,
    previous: DataFrame,
    registry: DataFrame,
    *,
    run_id: str,
    run_seq: int,
) -> tuple[DataFrame, DataFrame]:
    """Lineage rows and changed registry rows from the overlap and the claims."""
    now = F.current_timestamp()
    target = overlap.join(cluster_uid.withColumnRenamed("uid", "new_uid"), on="cluster_id",
                          how="inner")
    merges = claims.where(~F.col("survives")).join(
        cluster_uid.withColumnRenamed("uid", "new_uid"), on="cluster_id", how="inner"
    ).select(F.col("uid").alias("old_uid"), "new_uid", F.lit("merge").alias("reason"))
    splits = target.where(~F.col("keeps") & (F.col("uid") != F.col("new_uid"))).select(
        F.col("uid").alias("old_uid"), "new_uid", F.lit("split").alias("reason"))
    fed = overlap.select("cluster_id").distinct()
    fresh = cluster_uid.where("minted").join(fed, on="cluster_id", how="left_anti").select(
        F.lit(None).cast("string").alias("old_uid"), F.col("uid").alias("new_uid"),
        F.lit("new").alias("reason"))
    gone = previous.select("uid").distinct().join(
        overlap.select("uid").distinct(), on="uid", how="left_anti")
    retired = gone.select(F.col("uid").alias("old_uid"), F.lit(None).cast("string").alias(
        "new_uid"), F.lit("retired").alias("reason"))
    lineage = (
        merges.unionByName(splits).unionByName(fresh).unionByName(retired)
        .distinct()
        .select("old_uid", "new_uid", "reason", F.lit(run_id).alias("run_id"), now.alias("at"))
    )
    # a minted UID remembers the old UID most of its records came from
    biggest = Window.partitionBy("cluster_id").orderBy(F.desc("n"), F.asc("uid"))
    origin = overlap.withColumn("rn", F.row_number().over(biggest)).where("rn = 1").select(
        "cluster_id", F.col("uid").alias("split_from"))
    minted = cluster_uid.where("minted").join(origin, on="cluster_id", how="left").select(
        "uid", F.lit("active").alias("status"), F.lit(run_id).alias("created_run"),
        F.lit(run_seq).cast("long").alias("created_seq"),
        F.lit(None).cast("string").alias("merged_into"), "split_from",
        F.lit(run_id).alias("updated_run"))
    ended = merges.select(F.col("old_uid").alias("uid"), F.lit("merged").alias("status"),
                          F.col("new_uid").alias("merged_into")).unionByName(
        retired.select(F.col("old_uid").alias("uid"), F.lit("retired").alias("status"),
                       F.lit(None).cast("string").alias("merged_into")))
    ended = ended.join(registry.drop("status", "merged_into", "updated_run"), on="uid",
                       how="inner").select(
        "uid", "status", "created_run", "created_seq", "merged_into", "split_from",
        F.lit(run_id).alias("updated_run"))
    return lineage, minted.unionByName(ended)


def upsert_registry(registry: DataFrame | None, changes: DataFrame) -> DataFrame:
    """The full registry after applying ``changes`` (for engines without merge, and tests).

    Args:
        registry: The current registry, or None.
        changes: Rows from :func:`assign_uids` (one per changed UID).

    Returns:
        ``UID_REGISTRY`` rows: unchanged rows plus the changed ones.
    """
    if registry is None:
        return changes.select([f.name for f in UID_REGISTRY.fields])
    kept = registry.join(changes.select("uid"), on="uid", how="left_anti")
    return kept.unionByName(changes.select(kept.columns))

"""Devices: cookies and app installs seen with accounts, as evidence of where a person was seen.

A device is not evidence that two accounts are one person (a family computer), so its
links never merge clusters; they only let events that carry a device id alone be
attributed to a UID.
"""

from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.identity.errors import LinkingInputError
from vista.identity.link.config import DeviceConfig, LinkingConfig
from vista.identity.tables import INTERACTIONS_T

if TYPE_CHECKING:  # pragma: no cover
    from vista.identity.config import IdentityConfig
    from vista.runtime import RunContext
from vista.identity.link.deterministic import as_links, require_columns


def device_account_links(
    interactions: DataFrame,
    cfg: LinkingConfig | DeviceConfig,
    *,
    records: DataFrame | None = None,
) -> DataFrame:
    """Device (cookie) to account evidence from events that carry both ids.

    A device seen with more than ``max_accounts_per_device`` distinct accounts (a
    family computer, a shop kiosk) yields no link.

    Args:
        interactions: Events (``INTERACTIONS``) with an ``ids`` map.
        cfg: The linking config (or its devices section).
        records: Person records. When given, the account side is the person record
            whose ``ids`` carry that account id; otherwise it is the pseudo key
            ``<account kind>:<value>``.

    Returns:
        A ``LINKS`` frame with ``link_kind`` = ``device:<device kind>``; the device
        side is the pseudo record key ``<prefix>:<device id>`` (prefix from
        ``device_id_kinds``, e.g. ``web_device:<id>``); ``record_key_l < record_key_r``
        as for every link.
    """
    dcfg = cfg.devices if isinstance(cfg, LinkingConfig) else cfg
    require_columns(interactions, ["ids"], "interactions")
    parts = []
    for dkind, prefix in dcfg.device_id_kinds.items():
        for akind in dcfg.account_id_kinds:
            parts.append(interactions.select(
                F.lit(dkind).alias("dkind"),
                F.concat(F.lit(f"{prefix}:"), F.col("ids").getItem(dkind)).alias("device_key"),
                F.lit(akind).alias("akind"),
                F.col("ids").getItem(akind).alias("account"),
            ).where(F.col("device_key").isNotNull() & F.col("account").isNotNull()))
    if not parts:
        raise LinkingInputError("devices.device_id_kinds and account_id_kinds must not be empty")
    seen = (reduce(DataFrame.unionByName, parts)
            .groupBy("dkind", "device_key", "akind", "account").agg(F.count("*").alias("n"))
            .where(F.col("n") >= dcfg.min_events))
    per_device = seen.groupBy("device_key").agg(
        F.countDistinct("akind", "account").alias("n_accounts"))
    kept = seen.join(per_device.where(F.col("n_accounts") <= dcfg.max_accounts_per_device),
                     on="device_key", how="inner")
    if records is None:
        accounts = kept.withColumn("account_key", F.concat_ws(":", "akind", "account"))
    else:
        owners = records.select("record_key", F.explode("ids").alias("akind", "account"))
        accounts = kept.join(owners, on=["akind", "account"], how="inner").withColumnRenamed(
            "record_key", "account_key")
    links = as_links(accounts, "device_key", "account_key",
                      F.concat(F.lit("device:"), F.col("dkind")))
    return links.dropDuplicates(["record_key_l", "record_key_r", "link_kind"])


def device_uids(ctx: RunContext, records: DataFrame, graph: DataFrame,
                cfg: IdentityConfig) -> DataFrame | None:
    """Devices (cookies) seen with accounts of exactly one UID: ``device_key, uid, link_kind``.

    A device is evidence about *where* a person was seen, not that two accounts are one
    person (a family computer), so it never merges clusters; it only lets web and app
    events that carry a device id alone be attributed to a UID.
    """
    if not ctx.lake.exists(INTERACTIONS_T):
        return None
    links = device_account_links(ctx.lake.read(INTERACTIONS_T), cfg.linking, records=records)
    keys = graph.select("record_key", "uid")
    ends = links.join(keys.withColumnRenamed("record_key", "record_key_r"), "record_key_r",
                      how="inner").select(F.col("record_key_l").alias("device_key"), "uid",
                                          "link_kind")
    ends = ends.unionByName(
        links.join(keys.withColumnRenamed("record_key", "record_key_l"), "record_key_l",
                   how="inner").select(F.col("record_key_r").alias("device_key"), "uid",
                                       "link_kind"))
    per_device = ends.groupBy("device_key").agg(
        F.countDistinct("uid").alias("n"), F.min("uid").alias("uid"),
        F.min("link_kind").alias("link_kind"))
    return per_device.where("n = 1").select("device_key", "uid", "link_kind",
                                            F.lit(ctx.run_id).alias("run_id"))

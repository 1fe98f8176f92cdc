"""Which cards a run must recompute, so that an incremental run equals a full rebuild.

A card depends on its UID's attributed activity, its golden record as of the date, the
as-of date itself and the profile config. So a run recomputes:

* every card, when the as-of date or the config differ from the last run's (every
  windowed count and every recency moves with the date), or with ``--full``;
* otherwise the UIDs whose activity rows changed (a row added, removed, altered or
  attributed to another UID: a hash anti-join of the new activity tables against the
  stored ones, both ways), whose identity fields changed (the golden record as of the
  date against the stored card), and the active UIDs without a card. Cards of UIDs no
  longer active (merged, retired) are deleted.

The previous run's as-of date and config hash are kept in ``gold/profile_runs``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.profile.config import ProfileConfig

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from vista.lake import Lake

log = logging.getLogger(__name__)

RUNS_T = "gold/profile_runs"
#: Card columns that come from the golden record (compared to find identity changes).
IDENTITY_COLUMNS = ["first_name", "last_name", "email", "phone", "emails", "phones", "address",
                    "postal_code", "city", "country", "birth_date", "gender", "consent_email",
                    "consent_sms", "consent_profiling", "source_ids"]


@dataclass(frozen=True)
class Scope:
    """What an incremental run recomputes.

    Attributes:
        uids: ``uid`` of the cards to compute (active UIDs only).
        deleted: ``uid`` of the stored cards to delete.
    """

    uids: DataFrame
    deleted: DataFrame


def config_hash(cfg: ProfileConfig) -> str:
    """Hash of the settings that shape the card's columns (the views, rendered from the
    card, and the settings of ``vista profile show`` are left out)."""
    payload = cfg.model_dump(mode="json", exclude={"views", "timeline_events",
                                                   "hash_key_env"})
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def row_hashes(df: DataFrame) -> DataFrame:
    """``uid, h``: a hash of every row (maps made order-independent)."""
    cols = []
    for f in df.schema.fields:
        if f.dataType.typeName() == "map":
            cols.append(F.array_sort(F.map_entries(F.col(f.name))).alias(f.name))
        else:
            cols.append(F.col(f.name))
    return df.select("uid", F.sha2(F.to_json(F.struct(*cols)), 256).alias("h"))


def changed_uids(new: DataFrame, old: DataFrame) -> DataFrame:
    """UIDs of rows present in only one of two versions of an activity table."""
    a, b = row_hashes(new), row_hashes(old)
    return (a.join(b, on=["uid", "h"], how="left_anti")
            .unionByName(b.join(a, on=["uid", "h"], how="left_anti"))
            .select("uid").distinct())


def identity_changes(golden: DataFrame, stored: DataFrame) -> DataFrame:
    """UIDs whose golden identity fields differ from their stored card's."""
    def h(df: DataFrame) -> DataFrame:
        cols = [F.array_sort(F.map_entries(F.col(c))).alias(c) if c == "source_ids"
                else F.col(c) for c in IDENTITY_COLUMNS]
        return df.select("uid", F.sha2(F.to_json(F.struct(*cols)), 256).alias("h"))
    a, b = h(golden), h(stored)
    return (a.join(b, on=["uid", "h"], how="left_anti").select("uid")
            .unionByName(b.join(a, on=["uid", "h"], how="left_anti").select("uid")).distinct())


def scope(active: DataFrame, stored: DataFrame, activity_changes: list[DataFrame],
          golden: DataFrame) -> Scope:
    """The cards to recompute and to delete (see the module docstring)."""
    missing = active.join(stored.select("uid"), on="uid", how="left_anti")
    touched = reduce(DataFrame.unionByName, [*activity_changes, missing,
                                             identity_changes(golden, stored)])
    uids = touched.distinct().join(active, on="uid", how="left_semi")
    deleted = stored.select("uid").join(active, on="uid", how="left_anti")
    return Scope(uids=uids, deleted=deleted)


def last_run(lake: Lake) -> dict[str, Any] | None:
    """The previous profile run's ``as_of`` and ``config_hash`` (one row), or None."""
    if not lake.exists(RUNS_T):
        return None
    row = lake.read(RUNS_T).orderBy(F.desc("at")).select("as_of", "config_hash").first()
    return row.asDict() if row else None


def record_run(lake: Lake, spark: SparkSession, run_id: str, as_of: dt.date, cfg_hash: str,
               mode: str, recomputed: int) -> None:
    """Append this run to ``gold/profile_runs``."""
    df = spark.createDataFrame(
        [(run_id, as_of, cfg_hash, mode, recomputed)],
        "run_id string, as_of date, config_hash string, mode string, recomputed long",
    ).withColumn("at", F.current_timestamp())
    lake.append(RUNS_T, df)

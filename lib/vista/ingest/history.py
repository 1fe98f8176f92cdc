"""Person-record history as an SCD type 2 table: ``silver/person_records_history``.

Why SCD2 and not Delta time travel: time travel answers "what did the *table* look like
at version v", and only until ``VACUUM`` removes the old files (vista vacuums with a
retention of days, ``lake.vacuum_retention_hours``). Customer history has to answer
"what was this person's email/address/consent on 2024-03-01" for years (GDPR consent
audits, reconstructing the segment a customer was in), and in *business* time (when the
source saw the change, ``observed_at``), not in load time. SCD2 rows with
``valid_from``/``valid_to`` do that for as long as the table lives, whatever the vacuum
policy, and a late-arriving older export still lands in the right place in time.

Layout: the canonical ``PERSON_RECORDS`` columns plus ``attr_hash`` (a hash of the
describing attributes), ``valid_from`` (the record's ``observed_at``), ``valid_to``
(the next version's ``valid_from``, null while current) and ``is_current``. A new
version is kept only when its hash differs from the version before it, so re-delivering
an unchanged record adds nothing. The table is maintained with ``lake.merge`` on
``(record_key, valid_from)``: replaying the same rows rewrites identical rows.

State as of a date ``d``: ``valid_from <= d AND (valid_to IS NULL OR valid_to > d)``
(:func:`as_of`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from vista.schemas import PERSON_RECORDS

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

HISTORY_TABLE = "silver/person_records_history"
HISTORY_KEYS = ["record_key", "valid_from"]
SCD_COLUMNS = ["attr_hash", "valid_from", "valid_to", "is_current"]
# Columns that say *when/where from* rather than *what*; a change in them alone is no new version.
_NOT_HASHED = {"record_key", "source", "source_record_id", "observed_at", "batch_id"}


def attr_hash() -> Column:
    """SHA-256 of the describing attributes of a person record."""
    # map_entries + array_sort make map columns (ids, attrs) order-independent
    cols = [
        F.array_sort(F.map_entries(F.col(f.name))).alias(f.name)
        if f.name in ("ids", "attrs") else F.col(f.name)
        for f in PERSON_RECORDS.fields
        if f.name not in _NOT_HASHED
    ]
    return F.sha2(F.to_json(F.struct(*cols)), 256)


def history_columns() -> list[str]:
    return [*[f.name for f in PERSON_RECORDS.fields], *SCD_COLUMNS]


def scd2_versions(existing: DataFrame | None, incoming: DataFrame) -> DataFrame:
    """The history rows to upsert for the keys in ``incoming``.

    Args:
        existing: The current history table (any rows; only keys in ``incoming`` matter),
            or None when it does not exist yet.
        incoming: Canonical person records, possibly several versions per key.

    Returns:
        For every key in ``incoming``: its full, re-computed version chain (existing
        versions with corrected ``valid_to``/``is_current`` plus the new versions that
        change the attributes), unique on ``(record_key, valid_from)``.
    """
    new = (
        incoming.select(*[f.name for f in PERSON_RECORDS.fields])
        .withColumn("attr_hash", attr_hash())
        .withColumn("valid_from", F.col("observed_at"))
        .withColumn("_new", F.lit(1))
    )
    if existing is not None:
        old = (
            existing.join(new.select("record_key").distinct(), on="record_key", how="left_semi")
            .select(*[f.name for f in PERSON_RECORDS.fields], "attr_hash", "valid_from")
            .withColumn("_new", F.lit(0))
        )
        new = old.unionByName(new)
    # one row per (key, valid_from): a re-delivery or a replay prefers the newest batch
    # batch_id is "<source>:<n>": compare n as a number ("crm:10" is newer than "crm:9")
    batch_no = F.substring_index("batch_id", ":", -1).cast("long")
    pick = Window.partitionBy("record_key", "valid_from").orderBy(
        F.col("_new").desc(), batch_no.desc_nulls_last(), F.col("batch_id").desc_nulls_last(),
        F.col("attr_hash"))
    chain = Window.partitionBy("record_key").orderBy("valid_from")
    versions = (
        new.withColumn("_rank", F.row_number().over(pick))
        .where(F.col("_rank") == 1)
        .withColumn("_prev_hash", F.lag("attr_hash").over(chain))
        # existing versions always stay; a new one only when it changes the attributes
        .where((F.col("_new") == 0) | F.col("_prev_hash").isNull()
               | (F.col("_prev_hash") != F.col("attr_hash")))
        .withColumn("valid_to", F.lead("valid_from").over(chain))
        .withColumn("is_current", F.col("valid_to").isNull())
    )
    return versions.select(*history_columns())


def publish_history(lake: Lake, incoming: DataFrame, full: bool = False,
                    rebuilt: Collection[str] = ()) -> DataFrame:
    """Merge new person-record versions into the SCD2 table; return the current rows.

    Args:
        lake: The lake layer.
        incoming: Canonical person records (every version delivered in this run).
        full: ``incoming`` holds every version ever delivered: rebuild the table from it
            alone and overwrite it.
        rebuilt: Sources for which ``incoming`` holds every version ever delivered: their
            version chains are computed from ``incoming`` alone, and their history rows
            that the rebuild no longer gives are deleted.

    Returns:
        The current version of every key in ``incoming`` (``PERSON_RECORDS`` columns),
        materialised, ready to upsert into ``silver/person_records``.
    """
    existing = lake.read(HISTORY_TABLE) if lake.exists(HISTORY_TABLE) and not full else None
    if existing is not None and rebuilt:
        existing = existing.where(~F.col("source").isin(sorted(rebuilt)))
    # Materialise before writing: the frame reads the table the merge is about to change.
    versions = scd2_versions(existing, incoming).checkpoint(eager=True)
    if full:
        lake.overwrite(HISTORY_TABLE, versions)
    else:
        stale = None
        if rebuilt and lake.exists(HISTORY_TABLE):
            stale = (lake.read(HISTORY_TABLE).where(F.col("source").isin(sorted(rebuilt)))
                     .select(*HISTORY_KEYS)
                     .join(versions.select(*HISTORY_KEYS), on=HISTORY_KEYS, how="left_anti")
                     .checkpoint(eager=True))
        lake.merge(HISTORY_TABLE, versions, keys=HISTORY_KEYS)
        if stale is not None and not stale.isEmpty():
            lake.merge(HISTORY_TABLE, stale.withColumn("_gone", F.lit(True)), keys=HISTORY_KEYS,
                       update=False, insert=False, delete_when="_gone")
    return versions.where("is_current").select(*[f.name for f in PERSON_RECORDS.fields])


def as_of(history: DataFrame, when: str) -> DataFrame:
    """Person records as they were at ``when`` (a timestamp literal, e.g. ``'2024-03-01'``).

    Args:
        history: The ``silver/person_records_history`` table.
        when: A Spark SQL timestamp literal string.

    Returns:
        One row per record that existed then, with the attributes valid at that time.
    """
    ts = F.lit(when).cast("timestamp")
    return history.where(
        (F.col("valid_from") <= ts) & (F.col("valid_to").isNull() | (F.col("valid_to") > ts))
    ).select(*[f.name for f in PERSON_RECORDS.fields])

"""Full-snapshot sources: a record missing from the newest export is no longer current.

A source with ``delivery: snapshot`` delivers each file as a full export (a CRM dump at
the end of every quarter). Its newest snapshot is its latest bronze file, in the order
silver already uses for versions (batch, then file name). When silver is published:

* every canonical row of the source whose key is not in the newest snapshot is removed
  from the current silver table (``silver/person_records``, ``silver/orders`` ...);
* a removed person record's current version in ``silver/person_records_history`` is
  closed (``valid_to`` = the snapshot file's time, ``is_current`` false), so its past
  stays answerable by :func:`vista.ingest.history.as_of`;
* each removal is logged in ``silver/removed_records`` with its reason
  (``absent_from_snapshot``) and the snapshot file that lacked it.

Identity resolution then treats the record like any deleted one: its key is gone from
``silver/person_records``. A ``--full`` rebuild gives the same tables. A record that
comes back in a later snapshot is current again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.ingest.history import HISTORY_KEYS, HISTORY_TABLE, history_columns

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

REMOVED_TABLE = "silver/removed_records"
REASON = "absent_from_snapshot"


@dataclass(frozen=True)
class Snapshot:
    """A snapshot source's newest export."""

    source: str
    file: str
    at: datetime  # the file's modification time, else its ingestion time


def newest(rows: DataFrame, source: str) -> Snapshot | None:
    """The newest file among a source's bronze rows (one small Spark job)."""
    order = F.struct(F.col("_batch_id"), F.col("_file"))
    row = rows.agg(F.max_by(F.struct("_file", F.coalesce("_file_modified_at", "_ingested_at")
                                     .alias("at")), order).alias("n")).first()
    if row is None or row["n"] is None:
        return None
    return Snapshot(source, row["n"]["_file"], row["n"]["at"])


def gone_keys(lake: Lake, table: str, keys: list[str], staged: DataFrame, snap: Snapshot,
              full: bool) -> DataFrame:
    """Keys of ``snap.source`` in silver (or about to be) that its newest export lacks."""
    own = staged.where(F.col("source") == snap.source)
    present = own.where(F.col("_file") == snap.file).select(*keys).distinct()
    known = own.select(*keys)
    if not full and lake.exists(table):
        known = known.unionByName(
            lake.read(table).where(F.col("source") == snap.source).select(*keys))
    return (known.distinct().join(present, on=keys, how="left_anti")
            .select(*keys, F.lit(snap.source).alias("source"),
                    F.lit(snap.at).cast("timestamp").alias("removed_at"),
                    F.lit(snap.file).alias("snapshot_file")))


def close_history(lake: Lake, gone: DataFrame) -> None:
    """Close the current history version of each removed person record."""
    if not lake.exists(HISTORY_TABLE):
        return
    closed = (lake.read(HISTORY_TABLE).where("is_current")
              .join(gone.select("record_key", F.col("removed_at").alias("_at")),
                    on="record_key", how="inner")
              .withColumn("valid_to", F.greatest("valid_from", "_at"))
              .withColumn("is_current", F.lit(False))
              .select(*history_columns())
              .checkpoint(eager=True))  # it reads the table the merge changes
    if not closed.isEmpty():
        lake.merge(HISTORY_TABLE, closed, keys=HISTORY_KEYS, insert=False)


def log_removed(lake: Lake, entity: str, keys: list[str], gone: DataFrame, full: bool,
                rebuilt: Collection[str] = ()) -> None:
    """Append the removals to the log.

    A rebuild rewrites its part of the log: this entity's rows (``full``), or this
    entity's rows of the ``rebuilt`` sources.
    """
    key = F.concat_ws("|", *[F.col(k).cast("string") for k in keys])
    rows = gone.select(F.lit(entity).alias("entity"), key.alias("key"), "source", "removed_at",
                       F.lit(REASON).alias("reason"), "snapshot_file")
    replaced = F.col("entity") == entity
    if not full:
        replaced = replaced & F.col("source").isin(sorted(rebuilt))
    if (full or rebuilt) and lake.exists(REMOVED_TABLE):
        kept = lake.read(REMOVED_TABLE).where(~replaced).checkpoint(eager=True)
        lake.overwrite(REMOVED_TABLE, kept.unionByName(rows))
    elif full or not rows.isEmpty():
        lake.append(REMOVED_TABLE, rows)


def remove(lake: Lake, table: str, keys: list[str], gone: DataFrame) -> None:
    """Delete the removed keys from the current silver table (one merge)."""
    if lake.exists(table) and not gone.isEmpty():
        lake.merge(table, gone.select(*keys).withColumn("_gone", F.lit(True)), keys=keys,
                   update=False, insert=False, delete_when="_gone")

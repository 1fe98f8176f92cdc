"""Quarantine replay: quarantined rows re-evaluated under the current configuration.

A quarantined row keeps what was delivered (``raw``: the unparsed text of a corrupt
record, else the declared raw fields as JSON) and its lineage. Replay parses ``raw``
back into the declared fields (``from_csv``/``from_json`` with the source's current
reader options, so a fixed ``sep`` or ``escape`` reaches rows already delivered), runs
the source's current checks (:func:`vista.ingest.validate.tag_rows`), and:

* appends the rows that now pass to ``bronze/<source>``, with their original lineage
  (``_file``, ``_batch_id`` ...) and ``_replayed_from``, a hash of the quarantined row;
* overwrites ``quarantine/<source>`` with the rows that still fail, with their current
  reasons (also when nothing moved but a row's reasons changed: a quarantine never keeps
  a reason the current config would not give).

A row quarantined as ``schema_mismatch`` stays so while the config still declares a
column its file lacked (the file is not read again: the missing columns are kept in the
row's details); once no such column is declared, the row is parsed by the current schema.

Exactly once: rows whose ``_replayed_from`` is already in bronze are not appended again,
so a replay interrupted between its two commits, then run again, moves nothing twice;
every row is in exactly one of bronze or quarantine, and rows in == bronze + quarantine
still holds. The moved rows keep their old batch ids, so silver picks them up on a
rebuild from bronze (the stage rebuilds whenever it replays).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F

from vista.ingest.bronze import bronze_table, quarantine_table, read_schema_ddl, reader_options
from vista.ingest.config import CORRUPT_COLUMN, IngestConfig, SourceConfig
from vista.ingest.drift import DRIFT_COLUMN as DRIFT
from vista.ingest.mapping import LINEAGE
from vista.ingest.validate import PROBLEMS_COLUMN, QUARANTINE_COLUMNS, tag_rows

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

log = logging.getLogger(__name__)

#: Bronze column naming the quarantined row a replayed row came from (null otherwise).
REPLAYED_FROM = "_replayed_from"
#: Reader options that mean nothing to ``from_csv``/``from_json`` on one record.
_FILE_ONLY = {"header", "multiline", "maxfilespertrigger", "encoding", "pathglobfilter",
              "recursivefilelookup"}


@dataclass(frozen=True)
class ReplayResult:
    """What a replay of one source did.

    Attributes:
        moved: Rows moved to bronze.
        remaining: Rows left in quarantine.
        updated: Rows left in quarantine whose reasons or details changed.
    """

    moved: int
    remaining: int
    updated: int = 0


def _text_options(src: SourceConfig, cfg: IngestConfig) -> dict[str, str]:
    if not src.file_based:  # delta/jdbc rows are quarantined as JSON of the typed fields
        return {}
    opts = reader_options(src, cfg)
    return {k: v for k, v in opts.items() if k.lower() not in _FILE_ONLY}


def _parsed(src: SourceConfig, cfg: IngestConfig) -> Column:
    """``raw`` parsed back into the declared fields (plus ``_corrupt_record``)."""
    ddl = read_schema_ddl(src)
    if src.format != "csv":  # a JSON line, or the declared fields as JSON
        return F.from_json("raw", ddl, _text_options(src, cfg))
    as_json = F.from_json("raw", ddl, {"mode": "PERMISSIVE",
                                       "columnNameOfCorruptRecord": CORRUPT_COLUMN})
    as_csv = F.from_csv("raw", ddl, _text_options(src, cfg))
    # the raw line was kept when the reader could not split it (corrupt_record, and the
    # rows of a file that lacked a column); else the fields went to JSON by name
    return F.when(F.array_contains("reasons", "corrupt_record"), as_csv).otherwise(as_json)


def still_missing(src: SourceConfig) -> Column:
    """The columns a row's file lacked that the source still declares (null: none).

    Read from the row's ``schema_mismatch:missing a, b`` detail (see
    :mod:`vista.ingest.drift`), so the file itself is not needed.
    """
    if src.on_missing_column == "load":
        return F.lit(None).cast("string")
    prefix = "schema_mismatch:missing "
    detail = F.filter("details", lambda d: d.startswith(prefix))
    lacked = F.split(F.substring_index(F.try_element_at(detail, F.lit(1)), prefix, -1), ", ")
    declared = F.array(*[F.lit(c) for c in src.schema_])
    left = F.array_intersect(F.coalesce(lacked, F.array().cast("array<string>")), declared)
    return F.when(F.size(left) > 0, F.array_join(left, ", "))


def replay_key() -> Column:
    """A quarantined row's identity: what was delivered, from where, in which batch."""
    return F.sha2(F.concat_ws("\u0001", F.col("_source"), F.col("_file"),
                              F.col("_batch_id").cast("string"), F.col("raw")), 256)


def replay_source(lake: Lake, src: SourceConfig, cfg: IngestConfig) -> ReplayResult:
    """Re-evaluate ``quarantine/<source>`` under the current config (see the module doc).

    Args:
        lake: The lake layer.
        src: The source, as configured now.
        cfg: The ingest config.

    Returns:
        Rows moved to bronze and rows still quarantined.
    """
    table = quarantine_table(src)
    if not lake.exists(table):
        return ReplayResult(0, 0, 0)
    version = lake.version(table)
    quarantined = lake.read(table, version=version)
    fields = [f"`{f}`" for f in src.schema_]
    corrupt = [CORRUPT_COLUMN] if src.format in ("csv", "jsonl", "json") else []
    rows = (quarantined.select(*LINEAGE, "raw", _parsed(src, cfg).alias("_p"),
                               replay_key().alias(REPLAYED_FROM), still_missing(src).alias(DRIFT),
                               F.col("reasons").alias("_old_reasons"),
                               F.col("details").alias("_old_details"))
            .select(*[F.col(f"_p.{f}") for f in fields],
                    *[F.col(f"_p.{c}").alias(c) for c in corrupt],
                    *LINEAGE, REPLAYED_FROM, F.col("raw").alias("_raw"), DRIFT,
                    "_old_reasons", "_old_details"))
    tagged = tag_rows(rows, src, cfg).persist()
    try:
        failing = F.size("reasons") > 0
        changed = (F.col("reasons") != F.col("_old_reasons")) | (
            F.col("details") != F.col("_old_details"))
        stats = tagged.agg(F.count(F.lit(1)).alias("n"),
                           F.count_if(failing).alias("still"),
                           F.count_if(failing & changed).alias("updated")).first()
        good = tagged.where(~failing).select(*fields, *LINEAGE, PROBLEMS_COLUMN, REPLAYED_FROM)
        bronze = bronze_table(src)
        if lake.exists(bronze) and REPLAYED_FROM in lake.read(bronze).columns:
            done = lake.read(bronze).where(F.col(REPLAYED_FROM).isNotNull()).select(REPLAYED_FROM)
            good = good.join(done, on=REPLAYED_FROM, how="left_anti")
        still = (tagged.where(failing)
                 .select(*LINEAGE, F.col("reasons")[0].alias("reason"), "reasons", "details",
                         F.col("_raw").alias("raw")))
        moved = good.count() if stats["still"] < stats["n"] else 0
        if moved:
            lake.append(bronze, good, merge_schema=True)
        # also after a replay stopped between its two commits (moved 0, rows left to drop)
        if stats["still"] != stats["n"] or stats["updated"]:
            lake.overwrite(table, still.select(*QUARANTINE_COLUMNS))
    finally:
        tagged.unpersist()
    log.info("ingest %s: quarantine replay moved %d row(s) to bronze, %d remain (%d with "
             "new reasons)", src.name, moved, stats["still"], stats["updated"])
    return ReplayResult(moved, int(stats["still"]), int(stats["updated"]))


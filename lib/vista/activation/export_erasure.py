"""Erasure in export files already written: each folder holding the person is rewritten.

The person's keys in a destination are computed the way the export computes them (their
UIDs, their ids of the destination's id kind, their addresses or numbers normalised
and, for ad platforms, hashed: the digest of an address is personal data too). Every
export folder is read: those in the export ledger (:mod:`vista.activation.ledger`), with
the identifier spec they were written with, wherever the configuration points now, and
any other folder under a configured destination's path. A folder holding one of the
keys is written again without those rows (to a sibling folder, then swapped). Files
already delivered to the destination system are outside vista's reach.
"""

from __future__ import annotations

import hashlib
import logging

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.activation import files, ledger
from vista.activation import identifiers as ident
from vista.activation.config import ActivationConfig, DestinationConfig
from vista.activation.exports import destination_path
from vista.activation.person import Person
from vista.activation.rows import key_column_name
from vista.lake import Lake

log = logging.getLogger(__name__)


def person_keys(spark: SparkSession, dest: DestinationConfig, person: Person) -> list[str]:
    """The person's keys in ``dest`` (small: one person's identifiers)."""
    spec, norm = dest.identifier, dest.normalisation
    if spec.kind == "uid":
        return list(person.uids)
    if spec.kind == "source_id":
        return person.values(f"id:{spec.id_kind}")
    field = "email" if spec.kind in ("email", "hashed_email") else "phone"
    values = person.values(field)
    if not values:
        return []
    df = spark.createDataFrame([(v,) for v in values], "v string")
    key = ident.normalise(field, F.col("v"), norm)
    if spec.kind.startswith("hashed_"):
        key = ident.sha256_hex(key)
    return sorted({r[0] for r in df.select(key).collect() if r[0]})


_LINE = "__line"  # a JSON-lines export is rewritten line by line, as text


def _read(spark: SparkSession, fmt: str, path: str, column: str) -> DataFrame:
    """The folder's rows; JSON lines as the line text and its ``column`` value.

    Lines are kept as text: read as JSON, Spark would write them back with the fields in
    alphabetical order and their types inferred again (a decimal as a double); copied as
    text, every kept line is byte for byte what the export wrote.
    """
    if fmt == "csv":
        return spark.read.option("header", "true").csv(path)
    if fmt == "parquet":
        return spark.read.parquet(path)
    key = F.from_json(_LINE, T.StructType([T.StructField(column, T.StringType())]))
    return (spark.read.text(path).withColumnRenamed("value", _LINE)
            .withColumn(column, key.getField(column)))


def _write(df: DataFrame, fmt: str, path: str) -> None:
    writer = df.coalesce(1).write.mode("errorifexists")
    if fmt == "csv":
        writer.option("header", "true").csv(path)
    elif fmt == "parquet":
        writer.parquet(path)
    else:
        df.select(_LINE).coalesce(1).write.mode("errorifexists").text(path)
        # Spark names text files .txt; the export's own were .json.
        for name in files.children(df.sparkSession, path, dirs_only=False):
            if name.endswith(".txt"):
                files.rename(df.sparkSession, name, name[:-len(".txt")] + ".json")


def _targets(lake: Lake, cfg: ActivationConfig) -> list[tuple[str, DestinationConfig]]:
    """Every export folder to search, with each destination spec its keys may have been
    made with.

    The ledger's folders first (the specs they were written with, wherever today's
    configuration points), then any other folder under each configured destination's
    path (exports from before the ledger, or put there by hand).
    """
    targets: dict[tuple[str, str], tuple[str, DestinationConfig]] = {}

    def add(folder: str, dest: DestinationConfig) -> None:
        spec = dest.model_dump_json(include={"format", "identifier", "normalisation"})
        targets.setdefault((folder, spec), (folder, dest))

    for entry in ledger.export_folders(lake):
        add(entry.folder, entry.destination)
    listed = {folder for folder, _ in targets}
    for dest in cfg.destinations:
        for folder in files.children(lake.spark, destination_path(cfg, dest, lake.root)):
            folder = files.qualify(lake.spark, folder)
            if folder not in listed:
                add(folder, dest)
    return [t for t in targets.values() if not t[0].endswith(".erasing")]


def erase_folder(spark: SparkSession, folder: str, dest: DestinationConfig,
                 keys: list[str]) -> bool:
    """Rewrite one export folder without the rows keyed by ``keys``; whether it held any.

    The folder is written again next to itself (``<folder>.erasing``) and swapped in, so
    an interruption never leaves a half-written export under the folder's name.
    """
    if not keys or not files.exists(spark, folder):
        return False
    column = key_column_name(dest)
    # Keys are compared as digests: a printed query plan holds no address of the person.
    digests = [hashlib.sha256(k.encode("utf-8")).hexdigest() for k in keys]
    try:
        df = _read(spark, dest.format, folder, column)
    except AnalysisException:  # an export of no rows has no file to infer a schema from
        return False
    if not df.columns:  # a JSON-lines export of no rows
        return False
    if column not in df.columns:
        log.warning("erasure: an export folder of destination %s has no key column %s; "
                    "not searched", dest.name, column)
        return False
    hit = F.sha2(F.col(f"`{column}`").cast("string"), 256).isin(digests)
    if df.where(hit).limit(1).count() == 0:
        return False
    tmp = f"{folder}.erasing"
    files.delete(spark, tmp)
    _write(df.where(~hit | F.col(f"`{column}`").isNull()), dest.format, tmp)
    files.delete(spark, folder)
    files.rename(spark, tmp, folder)
    return True


def erase_state(lake: Lake, cfg: ActivationConfig, keys: dict[str, set[str]]) -> int:
    """Delete the state rows of the person's keys, per destination; returns rows deleted.

    The table pass of an erasure deletes state rows by UID; this one also finds a row
    kept under a UID the person no longer has (merged into another since the export),
    whose key is still their address.
    """
    if not lake.exists(cfg.state_table):
        return 0
    state = lake.read(cfg.state_table)
    deleted = 0
    for name, values in sorted(keys.items()):
        if not values:
            continue
        # Compared as digests: the delete condition in the table's history names no key.
        digests = ", ".join(f"'{hashlib.sha256(k.encode('utf-8')).hexdigest()}'"
                            for k in sorted(values))
        where = f"destination = '{name}' AND sha2(key, 256) IN ({digests})"
        n = state.where(F.expr(where)).count()
        if n:
            lake.delete(cfg.state_table, where)
            deleted += n
    return deleted


def erase_exports(lake: Lake, cfg: ActivationConfig, person: Person) -> int:
    """Rewrite every export folder holding the person and drop their keys from the export
    state; returns how many folders were rewritten.

    Args:
        lake: The lake (its export ledger and state table).
        cfg: The activation section (today's destinations and their paths).
        person: The person to erase.
    """
    keys: dict[str, list[str]] = {}
    by_destination: dict[str, set[str]] = {}
    rewritten: dict[str, int] = {}

    def keys_of(dest: DestinationConfig) -> list[str]:
        spec = dest.model_dump_json(include={"identifier", "normalisation"})
        if spec not in keys:
            keys[spec] = person_keys(lake.spark, dest, person)
        by_destination.setdefault(dest.name, set()).update(keys[spec])
        return keys[spec]

    for folder, dest in _targets(lake, cfg):
        if erase_folder(lake.spark, folder, dest, keys_of(dest)):
            rewritten[dest.name] = rewritten.get(dest.name, 0) + 1
    for dest in cfg.destinations:
        keys_of(dest)
    for name, n in sorted(rewritten.items()):
        log.info("erasure: destination %s: %d export folder(s) rewritten", name, n)
    state_rows = erase_state(lake, cfg, by_destination)
    if state_rows:
        log.info("erasure: %d export state row(s) deleted by key", state_rows)
    return sum(rewritten.values())

"""Erasure in export files already written: each folder holding the person is rewritten.

The person's keys in a destination are computed the way the export computes them (their
UIDs, their ids of the destination's id kind, their addresses or numbers normalised
and, for ad platforms, hashed). Every export folder of the destination is read; one
holding such a key is written again without it (to a sibling folder, then swapped).
Files already delivered to the destination system are outside vista's reach.
"""

from __future__ import annotations

import hashlib
import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vista.activation import files
from vista.activation import identifiers as ident
from vista.activation.config import ActivationConfig, DestinationConfig
from vista.activation.exports import destination_path
from vista.activation.person import Person
from vista.activation.rows import key_column_name

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


def _read(spark: SparkSession, fmt: str, path: str) -> DataFrame:
    if fmt == "csv":
        return spark.read.option("header", "true").csv(path)
    return spark.read.parquet(path) if fmt == "parquet" else spark.read.json(path)


def _write(df: DataFrame, fmt: str, path: str) -> None:
    writer = df.coalesce(1).write.mode("errorifexists")
    if fmt == "csv":
        writer.option("header", "true").csv(path)
    elif fmt == "parquet":
        writer.parquet(path)
    else:
        writer.json(path)


def erase_destination(spark: SparkSession, cfg: ActivationConfig, dest: DestinationConfig,
                      person: Person, lake_root: str) -> int:
    """Rewrite the destination's export folders that hold the person; returns how many."""
    keys = person_keys(spark, dest, person)
    if not keys:
        return 0
    column = key_column_name(dest)
    # Keys are compared as digests: a printed query plan holds no address of the person.
    digests = [hashlib.sha256(k.encode("utf-8")).hexdigest() for k in keys]
    rewritten = 0
    for folder in files.children(spark, destination_path(cfg, dest, lake_root)):
        if folder.endswith(".erasing"):
            continue
        try:
            df = _read(spark, dest.format, folder)
        except Exception:  # an empty export folder has nothing to read
            continue
        if column not in df.columns:
            continue
        hit = F.sha2(F.col(f"`{column}`").cast("string"), 256).isin(digests)
        if df.where(hit).limit(1).count() == 0:
            continue
        tmp = f"{folder}.erasing"
        files.delete(spark, tmp)
        _write(df.where(~hit | F.col(f"`{column}`").isNull()), dest.format, tmp)
        files.delete(spark, folder)
        files.rename(spark, tmp, folder)
        rewritten += 1
    if rewritten:
        log.info("erasure: destination %s: %d export folder(s) rewritten", dest.name, rewritten)
    return rewritten


def erase_exports(lake, cfg: ActivationConfig, person: Person) -> int:  # noqa: ANN001
    """Rewrite every destination's export folders that hold the person."""
    return sum(erase_destination(lake.spark, cfg, dest, person, lake.root) for dest in cfg.destinations)

"""First-name equivalence: nickname lists as a small lookup frame, and name keys per record.

A record's ``first_name_keys`` is the set of names its first name may stand for: the
name itself plus every formal name it is a nickname of (so "bob" carries
["bob", "robert"], "robert" carries ["robert"], and "pepe" and "pepito" both carry
"jose"). Two first names are forms of one name when their key sets overlap.

The lists are small (a few thousand rows) and read on the driver once per run; the
lookup is a broadcast join, not a literal map in the plan (a map literal of thousands of
entries bloats every plan that compares names).
"""

from __future__ import annotations

import csv
import logging
from importlib import resources
from pathlib import Path

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vista.errors import ConfigError, ConfigProblem
from vista.identity.person.config import FirstNameRule
from vista.standardise import std_name

log = logging.getLogger(__name__)

KEYS_COLUMN = "first_name_keys"


def _shipped_set(name: str) -> list[tuple[str, str]]:
    if name == "en":
        from nicknames import name_triplets

        return [(t.name1, t.name2) for t in name_triplets()]
    text = resources.files("vista").joinpath(f"resources/nicknames/{name}.csv").read_text(
        encoding="utf-8")
    return [(row["name"], row["nickname"]) for row in csv.DictReader(text.splitlines())]


def _file_pairs(path: str, index: int) -> list[tuple[str, str]]:
    p = Path(path)
    key = f"identity.clustering.compatibility.first_name.nickname_files[{index}]"
    if not p.is_file():
        raise ConfigError([ConfigProblem(key, f"file {path!r} not found; expected a CSV "
                                               "with columns name,nickname")])
    with p.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"name", "nickname"} <= set(reader.fieldnames or []):
            raise ConfigError([ConfigProblem(key, f"{path!r} has columns {reader.fieldnames}; "
                                                   "expected name,nickname")])
        return [(row["name"], row["nickname"]) for row in reader]


def nickname_pairs(rule: FirstNameRule) -> list[tuple[str, str]]:
    """Every (formal name, nickname) pair the rule's lists declare, unstandardised."""
    pairs: list[tuple[str, str]] = []
    for name in rule.nickname_sets:
        pairs += _shipped_set(name)
    for i, path in enumerate(rule.nickname_files):
        pairs += _file_pairs(path, i)
    pairs += [(formal, nick) for nick, formal in rule.nicknames.items()]
    return pairs


_LOOKUPS: dict[tuple, DataFrame] = {}  # one entry per session and distinct rule: config-sized


def _lookup_key(rule: FirstNameRule) -> tuple:
    """The rule and the modification times of its files: a changed list is read again."""
    stamps = tuple(Path(p).stat().st_mtime_ns if Path(p).is_file() else None
                   for p in rule.nickname_files)
    return rule.model_dump_json(), stamps


def name_keys_lookup(spark: SparkSession, rule: FirstNameRule) -> DataFrame | None:
    """``name, keys``: for each listed name (standardised), the formal names it may stand for.

    Returns None when the rule has no nickname lists.

    The lists are config, not data (a few thousand names), so the standardised lookup
    comes back to the driver (as Arrow) and is kept as one local frame per session and
    rule: left
    lazy, every plan that compares first names would carry the whole standardisation
    expression once per use of the lookup (those plans took minutes to optimise and
    compile on a handful of records), and standardising the lists costs several seconds
    that a run would otherwise pay at every comparison step.
    """
    key = (spark.sparkContext.applicationId, *_lookup_key(rule))
    if key not in _LOOKUPS:
        pairs = nickname_pairs(rule)
        if not pairs:
            return None
        if len(_LOOKUPS) >= 8:
            _LOOKUPS.clear()
        _LOOKUPS[key] = spark.createDataFrame(_grouped(_standardised(spark, pairs)))
    return _LOOKUPS[key]


_PAIRS = pa.schema([("formal", pa.string()), ("nick", pa.string())])
_LOOKUP = pa.schema([("name", pa.string()), ("keys", pa.list_(pa.string()))])


def _standardised(spark: SparkSession, pairs: list[tuple[str, str]]) -> pa.Table:
    """The pairs with both names standardised by Spark (the records' own expression),
    pairs with a blank side dropped.

    The pairs go in and out through Arrow as a local relation: no Python rows are
    pickled, and the projection needs no shuffle (a few thousand rows; the
    ``createDataFrame`` of Python tuples plus a grouping job took 7 to 12 s of a cold
    session here, this 1 to 4 s).
    """
    formal, nick = zip(*pairs, strict=True)
    raw = spark.createDataFrame(pa.table([list(formal), list(nick)], schema=_PAIRS))
    return (raw.select(std_name("formal").alias("formal"), std_name("nick").alias("nick"))
            .where(F.col("formal").isNotNull() & F.col("nick").isNotNull())
            .toArrow())


def _grouped(std: pa.Table) -> pa.Table:
    """``name, keys``: every listed name (a nickname or a formal name) and the sorted
    distinct formal names it may stand for. Config-sized, so grouped on the driver."""
    keys: dict[str, set[str]] = {}
    for formal, nick in zip(std.column("formal").to_pylist(), std.column("nick").to_pylist(),
                            strict=True):
        keys.setdefault(nick, set()).add(formal)
        keys.setdefault(formal, set()).add(formal)
    listed = sorted(keys)
    return pa.table([listed, [sorted(keys[n]) for n in listed]], schema=_LOOKUP)


def with_name_keys(records: DataFrame, rule: FirstNameRule,
                   first: str = "first_name_std") -> DataFrame:
    """``records`` plus ``first_name_keys``: the first name and the formal names it may be.

    Args:
        records: Frame with a standardised first-name column.
        rule: The first-name compatibility rule (its nickname lists).
        first: The first-name column.

    Returns:
        ``records`` with an ``array<string>`` column ``first_name_keys`` (null when the
        first name is null).
    """
    own = F.when(F.col(first).isNotNull(), F.array(F.col(first)))
    lookup = name_keys_lookup(records.sparkSession, rule) if rule.enabled else None
    if lookup is None:
        return records.withColumn(KEYS_COLUMN, own)
    if rule.typo_edits > 0:
        lookup = lookup.unionByName(_typo_keys(records.select(F.col(first).alias("name")),
                                               lookup, rule))
    lookup = F.broadcast(lookup.withColumnRenamed("name", "_nk_name")
                         .withColumnRenamed("keys", "_nk_keys"))
    joined = records.join(lookup, F.col(first) == F.col("_nk_name"), how="left")
    keys = F.when(F.col(first).isNotNull(),
                  F.array_sort(F.array_distinct(F.concat(F.array(F.col(first)),
                                                         F.coalesce("_nk_keys", F.array())))))
    return joined.withColumn(KEYS_COLUMN, keys).drop("_nk_name", "_nk_keys")


def _typo_keys(names: DataFrame, lookup: DataFrame, rule: FirstNameRule) -> DataFrame:
    """``name, keys`` for names missing from the lists that are one typo away from exactly
    one listed name: that name and its keys.

    Distinct names meet the listed ones on their first letter (a join on a key, not a
    cross product), then on the edit distance.
    """
    unknown = names.where(F.length("name") >= rule.typo_min_length).distinct().join(
        lookup.select("name"), "name", how="left_anti")
    listed = lookup.select(F.col("name").alias("listed"), "keys")
    near = unknown.join(
        listed, F.substring("name", 1, 1) == F.substring("listed", 1, 1), how="inner"
    ).where(F.abs(F.length("name") - F.length("listed")) <= rule.typo_edits)
    dist = F.levenshtein("name", "listed")
    letters = F.array_sort(F.split("name", "")) == F.array_sort(F.split("listed", ""))
    near = near.where((dist <= rule.typo_edits) | (letters & (dist <= 2)))
    return near.groupBy("name").agg(
        F.count("*").alias("n"),
        F.first(F.array_sort(F.array_distinct(F.concat(F.array("listed"), "keys")))).alias("keys"),
    ).where(F.col("n") == 1).select("name", "keys")

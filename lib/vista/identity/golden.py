"""The golden customer record: one row per UID, with survivorship rules per attribute.

Each golden attribute keeps one value chosen from the person's records by the rules of
``SurvivorshipConfig`` (source priority, most recent, most frequent, earliest; the
record key breaks the last tie, so the choice is deterministic). Every source id and
contact point is also kept: all distinct emails and phones, the record keys, the source
record ids per source and the ``ids`` maps merged. Only built-in window and aggregate
functions are used (``min_by`` over a sort-key struct), after one repartition by UID so
the per-value frequency windows need no further shuffle.
"""

from __future__ import annotations

import logging

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.identity.golden_config import GOLDEN_ATTRIBUTES, SurvivorshipConfig
from vista.schemas import PERSON_RECORDS

log = logging.getLogger(__name__)

#: The person-record columns a golden record is built from. An incremental run rebuilds
#: the golden record of every UID one of whose records changed in any of them
#: (``vista.identity.incremental.golden_changed``), and only those.
GOLDEN_INPUTS: tuple[str, ...] = tuple(dict.fromkeys([
    "record_key", "source", "source_record_id", "ids", *GOLDEN_ATTRIBUTES.values(),
    "other_phones_e164", "observed_at"]))

_LAST = 2**62  # sorts after every real value
_STRS = T.ArrayType(T.StringType())


def _golden_schema() -> T.StructType:
    types = {f.name: f.dataType for f in PERSON_RECORDS.fields}
    fields = [T.StructField("uid", T.StringType(), False)]
    fields += [T.StructField(name, types[src], True) for name, src in GOLDEN_ATTRIBUTES.items()]
    fields += [
        T.StructField("emails", _STRS, False),
        T.StructField("phones", _STRS, False),
        T.StructField("record_keys", _STRS, False),
        T.StructField("sources", _STRS, False),
        T.StructField("source_ids", T.MapType(T.StringType(), _STRS), False),
        T.StructField("ids", T.MapType(T.StringType(), _STRS), False),
        T.StructField("n_records", T.LongType(), False),
        T.StructField("first_seen", T.TimestampType(), True),
        T.StructField("last_seen", T.TimestampType(), True),
        T.StructField("run_id", T.StringType(), False),
    ]
    return T.StructType(fields)


GOLDEN_CUSTOMER = _golden_schema()


def _present(col: Column, dtype: T.DataType) -> Column:
    if isinstance(dtype, T.StringType):
        return col.isNotNull() & (F.length(F.trim(col)) > 0)
    return col.isNotNull()


def _sort_key(column: str, rules: list[str], sources: list[str]) -> Column:
    """A struct that sorts the best value first under ``rules``."""
    micros = F.unix_micros(F.col("observed_at"))
    parts: list[Column] = []
    for i, rule in enumerate(rules):
        if rule == "source_priority":
            pos = F.array_position(F.array(*[F.lit(s) for s in sources]), F.col("source")) \
                if sources else F.lit(0).cast("long")
            part = F.when(pos > 0, pos).otherwise(F.lit(_LAST))
        elif rule == "most_recent":
            part = F.coalesce(-micros, F.lit(_LAST))
        elif rule == "earliest":
            part = F.coalesce(micros, F.lit(_LAST))
        else:  # most_frequent
            part = -F.col(f"_freq_{column}")
        parts.append(part.cast("long").alias(f"k{i}"))
    parts.append(F.col("record_key").alias("k_last"))
    return F.struct(*parts)


def golden_records(
    records: DataFrame, assignments: DataFrame, cfg: SurvivorshipConfig, run_id: str
) -> DataFrame:
    """Build the golden customer record of every UID.

    Args:
        records: Person records (``PERSON_RECORDS``).
        assignments: ``record_key, uid``.
        cfg: Survivorship rules.
        run_id: This run's id, stamped on every row.

    Returns:
        One row per UID with the ``GOLDEN_CUSTOMER`` columns.

    Example:
        >>> golden = golden_records(records, graph.select("record_key", "uid"),
        ...                         SurvivorshipConfig(source_priority=["crm"]), "r1")
    """
    types = {f.name: f.dataType for f in PERSON_RECORDS.fields}
    df = records.join(assignments.select("record_key", "uid"), on="record_key", how="inner")
    df = df.repartition("uid")
    for name, src in GOLDEN_ATTRIBUTES.items():
        rules, _ = cfg.rules_for(name)
        if "most_frequent" in rules:
            w = Window.partitionBy("uid", src)
            df = df.withColumn(f"_freq_{name}", F.count("*").over(w))
    aggs: list[Column] = []
    for name, src in GOLDEN_ATTRIBUTES.items():
        rules, sources = cfg.rules_for(name)
        key = F.when(_present(F.col(src), types[src]), _sort_key(name, rules, sources))
        aggs.append(F.min_by(F.col(src), key).alias(name))
    aggs += [
        F.array_sort(F.collect_set("email_std")).alias("emails"),
        F.array_sort(F.array_compact(F.array_distinct(F.flatten(F.collect_set(F.concat(
            F.array("phone_e164"), F.coalesce("other_phones_e164", F.array().cast("array<string>"))
        )))))).alias("phones"),
        F.array_sort(F.collect_set("record_key")).alias("record_keys"),
        F.array_sort(F.collect_set("source")).alias("sources"),
        F.count("*").alias("n_records"),
        F.min("observed_at").alias("first_seen"),
        F.max("observed_at").alias("last_seen"),
    ]
    main = df.groupBy("uid").agg(*aggs)
    return (
        main.join(_source_ids(df), on="uid", how="left")
        .join(_merged_ids(df), on="uid", how="left")
        .select(
            "uid", *GOLDEN_ATTRIBUTES, "emails", "phones", "record_keys", "sources",
            F.coalesce("source_ids", F.create_map().cast(GOLDEN_CUSTOMER["source_ids"].dataType))
            .alias("source_ids"),
            F.coalesce("ids", F.create_map().cast(GOLDEN_CUSTOMER["ids"].dataType)).alias("ids"),
            "n_records", "first_seen", "last_seen",
            F.lit(run_id).alias("run_id"),
        )
    )


def _source_ids(df: DataFrame) -> DataFrame:
    per_source = df.groupBy("uid", "source").agg(
        F.array_sort(F.collect_set("source_record_id")).alias("v"))
    return per_source.groupBy("uid").agg(
        F.map_from_entries(F.array_sort(F.collect_list(F.struct("source", "v"))))
        .alias("source_ids"))


def _merged_ids(df: DataFrame) -> DataFrame:
    pairs = df.select("uid", F.explode("ids").alias("kind", "value")).where(
        F.col("value").isNotNull() & (F.length(F.trim("value")) > 0))
    per_kind = pairs.groupBy("uid", "kind").agg(F.array_sort(F.collect_set("value")).alias("v"))
    return per_kind.groupBy("uid").agg(
        F.map_from_entries(F.array_sort(F.collect_list(F.struct("kind", "v")))).alias("ids"))

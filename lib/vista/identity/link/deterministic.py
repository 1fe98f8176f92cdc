"""Deterministic links: records that share a strong identifier value.

Identifiers come from the ``ids`` map, from the standardised email and phone columns,
and (``past_values``) from the values a record carried in its earlier versions. Guards
(see :class:`~vista.identity.link.config.GuardConfig`) keep placeholders, over-used
values and shared (household / shop) identifiers from gluing different people together. Groups are linked as stars on their smallest record key, so
a value carried by n records yields n - 1 links, never n(n - 1) / 2.
"""

from __future__ import annotations

import logging
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.identity.errors import LinkingInputError
from vista.identity.lineage import LineageBreaks
from vista.identity.link.config import DeterministicConfig, LinkingConfig
from vista.identity.person.compatibility import compatibility_frame, incompatible, name_flags
from vista.identity.person.config import CompatibilityConfig
from vista.schemas import LINKS

log = logging.getLogger(__name__)

_BASE_COLUMNS = ["record_key", "ids", "first_name_std", "birth_date"]
PAST_COLUMN = "past_identifiers"


def require_columns(df: DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise LinkingInputError(
            f"{what} lacks column(s) {missing}; expected the canonical schema "
            f"(vista.schemas) — found {sorted(df.columns)}. Map the source to it first."
        )


def identifier_values(records: DataFrame, cfg: DeterministicConfig) -> DataFrame:
    """Explode every linkable identifier of every record into one row.

    Args:
        records: Person records (``PERSON_RECORDS``).
        cfg: The deterministic section of the linking config.

    Returns:
        Rows of (kind, value, record_key, <agreement fields>), blank values dropped. A
        record's ``past_identifiers`` (see :func:`with_past_identifiers`), when the frame
        has them, count as its own values.
    """
    agree = list(dict.fromkeys(cfg.guards.agreement_fields + ["first_name_std", "birth_date"]))
    columns = {kind: [c] if isinstance(c, str) else c for kind, c in cfg.column_kinds.items()}
    require_columns(records, ["record_key", "ids", *agree, *[c for cs in columns.values()
                                                               for c in cs]], "person records")
    from_ids = records.select(*agree, "record_key", F.explode("ids").alias("kind", "value"))
    if cfg.id_kinds is not None:
        from_ids = from_ids.where(F.col("kind").isin(cfg.id_kinds))
    elif cfg.exclude_id_kinds:
        from_ids = from_ids.where(~F.col("kind").isin(cfg.exclude_id_kinds))
    parts = [from_ids.select("kind", "value", "record_key", *agree)]
    types = dict(records.dtypes)
    for kind, cols in columns.items():
        for column in cols:
            value = F.col(column)
            if types[column].startswith("array"):
                value = F.explode_outer(value)
            parts.append(records.select(F.lit(kind).alias("kind"), value.alias("value"),
                                        "record_key", *agree))
    for kind, sql in cfg.expression_kinds.items():
        parts.append(records.select(F.lit(kind).alias("kind"), F.expr(sql).alias("value"),
                                    "record_key", *agree))
    if PAST_COLUMN in records.columns:
        past = records.select(*agree, "record_key", F.explode(PAST_COLUMN).alias("p"))
        parts.append(past.select(F.col("p.kind").alias("kind"), F.col("p.value").alias("value"),
                                 "record_key", *agree))
    exploded = reduce(DataFrame.unionByName, parts)
    return (
        exploded.withColumn("value", F.trim(F.col("value").cast("string")))
        .where(F.col("value").isNotNull() & (F.col("value") != ""))
        .dropDuplicates(["kind", "value", "record_key"])
    )


def with_past_identifiers(records: DataFrame, history: DataFrame,
                          cfg: DeterministicConfig) -> DataFrame:
    """``records`` plus ``past_identifiers``: the identifier values of earlier versions.

    Args:
        records: Current person records (``PERSON_RECORDS``).
        history: Every version of the person records (``person_records_history``: the
            same columns plus ``is_current``); only versions that are not current are read.
        cfg: The deterministic section; ``past_values.kinds`` selects the kinds kept.

    Returns:
        ``records`` with an ``array<struct<kind, value>>`` column ``past_identifiers``
        (sorted, so the record's fingerprint is stable; null when there is none).
    """
    kinds = cfg.past_values.kinds
    older = history.where(~F.col("is_current")) if "is_current" in history.columns else history
    older = older.join(records.select("record_key"), on="record_key", how="left_semi")
    values = identifier_values(older.drop(PAST_COLUMN) if PAST_COLUMN in older.columns
                               else older, cfg).where(F.col("kind").isin(kinds))
    past = values.groupBy("record_key").agg(
        F.array_sort(F.collect_set(F.struct("kind", "value"))).alias(PAST_COLUMN))
    return records.join(past, on="record_key", how="left")


def _blocklisted(value: Column, patterns: list[str]) -> Column:
    # One rlike per pattern: joining them into one alternation would renumber backrefs.
    if not patterns:
        return F.lit(False)
    return reduce(lambda a, b: a | b, [value.rlike(f"(?i){p}") for p in patterns])


def _agreement(fields: list[str]) -> Column:
    """The first field both sides carry decides whether they agree."""
    expr = None
    for name in fields:
        left, right = F.col(f"l.{name}"), F.col(f"r.{name}")
        both = left.isNotNull() & right.isNotNull()
        expr = F.when(both, left == right) if expr is None else expr.when(both, left == right)
    return expr.otherwise(F.lit(False))


def classify_values(
    values: DataFrame, cfg: DeterministicConfig, people: DataFrame | None = None,
    compatibility: CompatibilityConfig | None = None,
) -> DataFrame:
    """Classify each identifier value as personal, shared or ignored.

    Args:
        values: Output of :func:`identifier_values`.
        cfg: The deterministic section of the linking config.
        people: With ``compatibility``: :func:`~vista.identity.person.compatibility.compatibility_frame`
            of the records. A value is then shared when two of its records are
            incompatible people (the rules clustering uses: nickname-, typo- and
            swap-aware first names, birth dates), instead of when it has several
            distinct first names or birth dates.
        compatibility: The compatibility rules (``identity.clustering.compatibility``).

    Returns:
        One row per (kind, value) carried by 2+ records: kind, value, n_records,
        n_first_names, n_birth_dates, min_key and ``status``
        ('personal' | 'shared' | 'ignored').
    """
    g = cfg.guards
    max_records = F.lit(g.max_records_per_value)
    for kind, limit in cfg.per_kind_max_records.items():
        max_records = F.when(F.col("kind") == kind, F.lit(limit)).otherwise(max_records)
    stats = values.groupBy("kind", "value").agg(
        F.count("*").alias("n_records"),
        F.countDistinct("first_name_std").alias("n_first_names"),
        F.countDistinct("birth_date").alias("n_birth_dates"),
        F.min("record_key").alias("min_key"),
    ).where(F.col("n_records") > 1)
    ignored = (F.col("n_records") > max_records) | _blocklisted(F.col("value"), g.blocklist)
    if compatibility is None or people is None:
        shared = ((F.col("n_first_names") > g.max_distinct_first_names)
                  | (F.col("n_birth_dates") > g.max_distinct_birth_dates))
    else:
        conflicts = (_value_pairs(values.join(stats.where(~ignored).select("kind", "value"),
                                              on=["kind", "value"], how="left_semi"), people)
                     .where(incompatible(compatibility))
                     .select(F.col("l_kind").alias("kind"), F.col("l_value").alias("value"))
                     .distinct().withColumn("conflict", F.lit(True)))
        stats = stats.join(conflicts, on=["kind", "value"], how="left")
        shared = F.coalesce(F.col("conflict"), F.lit(False))
    status = F.when(ignored, "ignored").when(shared, "shared").otherwise("personal")
    return stats.withColumn("status", status).drop("conflict")


def _value_pairs(values: DataFrame, people: DataFrame) -> DataFrame:
    """Pairs of records carrying one value, with their compatibility columns (l_, r_)."""
    members = values.select("kind", "value", "record_key").join(people, "record_key")
    left = members.select([F.col(c).alias(f"l_{c}") for c in members.columns])
    right = members.select([F.col(c).alias(f"r_{c}") for c in members.columns])
    return left.join(right, (F.col("l_kind") == F.col("r_kind"))
                     & (F.col("l_value") == F.col("r_value"))
                     & (F.col("l_record_key") < F.col("r_record_key")), how="inner")


def as_links(df: DataFrame, a: str, b: str, kind: Column) -> DataFrame:
    return df.select(
        F.least(F.col(a), F.col(b)).alias("record_key_l"),
        F.greatest(F.col(a), F.col(b)).alias("record_key_r"),
        kind.alias("link_kind"),
        F.lit(None).cast("double").alias("match_weight"),
        F.lit(1.0).alias("match_probability"),
    )


def deterministic_links(
    records: DataFrame, cfg: LinkingConfig | DeterministicConfig,
    compatibility: CompatibilityConfig | None = None,
    breaks: LineageBreaks | None = None,
) -> DataFrame:
    """Links between records that share a strong identifier value, guards applied.

    Args:
        records: Person records (``PERSON_RECORDS``).
        cfg: The linking config (or its deterministic section).
        compatibility: The clustering's compatibility rules. When given, a value is
            shared only when two of its records are incompatible people, and a shared
            value links two records that are compatible and both carry a first name or
            both a birth date (so "pepe" and "jose", or a mistyped first name, still
            link through their email). Without it, the distinct-count guards and the
            ``agreement_fields`` equality apply.
        breaks: How the identifier values, their classes and the compatibility columns
            are materialised (None: local checkpoints). Each is read by several later
            steps; left lazy, the plan repeats them in every one and grows past what
            Spark optimises and compiles in reasonable time.

    Returns:
        A ``LINKS`` frame: ``link_kind`` = ``deterministic:<kind>``, match_probability 1,
        match_weight null, ``record_key_l < record_key_r``, one row per pair and kind.

    Raises:
        LinkingInputError: ``records`` lacks a needed column.

    Example:
        >>> links = deterministic_links(spark.table("person_records"), LinkingConfig())
    """
    dcfg = cfg.deterministic if isinstance(cfg, LinkingConfig) else cfg
    breaks = breaks or LineageBreaks(records.sparkSession)
    # compatibility reads the records as stored, exactly as clustering does
    people = (None if compatibility is None
              else breaks(compatibility_frame(records, compatibility)))
    if isinstance(cfg, LinkingConfig):
        # The guards compare first names: a record with only a full name gets its split.
        from vista.identity.link.splink_model import split_names

        records = split_names(records, cfg.probabilistic.name_split)
    values = breaks(identifier_values(records, dcfg))
    classes = breaks(classify_values(values, dcfg, people, compatibility).where(
        F.col("status") != "ignored"))
    members = values.join(classes.select("kind", "value", "status", "min_key"),
                          on=["kind", "value"], how="inner")
    kind_col = F.concat(F.lit("deterministic:"), F.col("kind"))
    only = dcfg.nameless_only_kinds
    nameless_links = as_links(_nameless_to_named(members.where(F.col("kind").isin(only)),
                                                  records), "a", "b", kind_col)
    members = members.where(~F.col("kind").isin(only))
    star = as_links(
        members.where((F.col("status") == "personal") & (F.col("record_key") != F.col("min_key"))),
        "min_key", "record_key", kind_col,
    ).unionByName(nameless_links)
    shared = members.where(F.col("status") == "shared")
    if people is None:
        pairs = (
            shared.alias("l")
            .join(shared.alias("r"), on=[F.col("l.kind") == F.col("r.kind"),
                                         F.col("l.value") == F.col("r.value"),
                                         F.col("l.record_key") < F.col("r.record_key")],
                  how="inner")
            .where(_agreement(dcfg.guards.agreement_fields))
            .select(F.col("l.kind").alias("kind"), F.col("l.record_key").alias("a"),
                    F.col("r.record_key").alias("b"))
        )
    else:
        def both(c: str) -> Column:
            return F.col(f"l_{c}").isNotNull() & F.col(f"r_{c}").isNotNull()
        pairs = (_value_pairs(shared, people)
                 .where(~incompatible(compatibility)
                        & (both("first_name_std") | both("birth_date")))
                 .select(F.col("l_kind").alias("kind"), F.col("l_record_key").alias("a"),
                         F.col("r_record_key").alias("b")))
    guarded = as_links(pairs, "a", "b", kind_col)
    return star.unionByName(guarded).dropDuplicates(["record_key_l", "record_key_r", "link_kind"])


def _nameless_to_named(members: DataFrame, records: DataFrame) -> DataFrame:
    """``kind, a, b``: every record without any name to every named record of its value
    (``DeterministicConfig.nameless_only_kinds``); named records are never paired."""
    m = members.join(name_flags(records), "record_key", how="inner")
    holders = m.where("named").select("kind", "value", F.col("record_key").alias("b"))
    return m.where(~F.col("named")).join(holders, ["kind", "value"], how="inner").select(
        "kind", F.col("record_key").alias("a"), "b")


def empty_links(spark) -> DataFrame:  # noqa: ANN001 - SparkSession
    """An empty ``LINKS`` frame."""
    return spark.createDataFrame([], LINKS)

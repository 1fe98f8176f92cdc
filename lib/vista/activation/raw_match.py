"""A person's rows in bronze and quarantine: raw rows seen through the source's mapping.

Bronze holds rows as delivered, so the person is found the way ingest would have found
them: each of the source's outputs is applied (:func:`vista.ingest.mapping.to_canonical`)
and a row belongs to the person when a canonical row made from it carries one of their
record keys, source ids, addresses or numbers. Quarantine keeps the raw fields as JSON
(``raw``): they are parsed with the source's declared schema and mapped the same way;
text that does not parse (a corrupt line) is scanned for the person's values as
delivered.

The same mapping decides at ingest whether a new raw row belongs to a suppressed person
(:mod:`vista.activation.suppression`), there on salted tokens instead of values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.activation.person import Person, ids_match
from vista.ingest.config import IngestConfig, SourceConfig
from vista.ingest.mapping import LINEAGE, to_canonical

RID = "__vista_rid"


def source_of(table: str, cfg: IngestConfig) -> SourceConfig | None:
    """The ingest source behind ``bronze/<name>`` or ``quarantine/<name>``."""
    layer, _, name = table.partition("/")
    if layer not in ("bronze", "quarantine") or "/" in name:
        return None
    return next((s for s in cfg.sources if s.name == name), None)


def as_raw(df: DataFrame, src: SourceConfig, table: str) -> DataFrame:
    """Rows with the source's raw columns (quarantine: parsed from ``raw``) and lineage."""
    if not table.startswith("quarantine/"):
        return df
    ddl = ", ".join(f"`{n}` {t}" for n, t in src.schema_.items())
    parsed = F.from_json(F.col("raw"), ddl)
    cols = [parsed.getField(n).alias(n) for n in src.schema_]
    lineage = [F.col(c) for c in LINEAGE if c in df.columns]
    return df.select("*", *[c.alias(f"__raw_{i}") for i, c in enumerate(cols)]).select(
        RID, *[F.col(f"__raw_{i}").alias(n) for i, n in enumerate(src.schema_)], *lineage)


def with_lineage_defaults(rows: DataFrame, src: SourceConfig) -> DataFrame:
    """Add the lineage columns the mapping reads and a raw batch may not have yet."""
    defaults = {"_source": F.lit(src.name), "_file": F.lit(None).cast("string"),
                "_file_modified_at": F.lit(None).cast("timestamp"),
                "_ingested_at": F.current_timestamp(), "_batch_id": F.lit(0).cast("long")}
    missing = {c: v for c, v in defaults.items() if c not in rows.columns}
    return rows.withColumns(missing) if missing else rows


def canonical_matches(rows: DataFrame, src: SourceConfig, cfg: IngestConfig,
                      match: Callable[[DataFrame, str], Column]) -> DataFrame:
    """``RID`` of raw rows one of whose canonical rows satisfies ``match(canon, entity)``.

    Args:
        rows: Raw rows with the source's columns, lineage and ``RID``.
        src: The source.
        cfg: The ingest config.
        match: Builds the condition on one output's canonical rows.
    """
    rows = with_lineage_defaults(rows, src)
    parts = []
    for out in src.outputs:
        canon = rows.transform(to_canonical(src, out, cfg, keep=[RID]))
        parts.append(canon.where(match(canon, out.entity)).select(RID))
    return reduce(DataFrame.unionByName, parts).distinct()


def value_match(person: Person) -> Callable[[DataFrame, str], Column]:
    """Matches canonical rows carrying the person's record keys, ids, addresses, numbers."""
    keys, pairs = list(person.record_keys), person.id_pairs()
    # Addresses and numbers are compared as SHA-256 digests, so a query plan (printed
    # with an error, shown in the Spark UI) holds no value of the person.
    emails = [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in person.values("email")]
    phones = [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in person.values("phone")]

    def match(canon: DataFrame, entity: str) -> Column:
        types = {f.name: f.dataType for f in canon.schema.fields}
        conds = [ids_match("ids", pairs, types["ids"]) if "ids" in types else None]
        if "order_key" in types and person.order_keys:
            conds.append(F.col("order_key").isin(list(person.order_keys)))
        if entity == "person":
            conds += [F.col("record_key").isin(keys) if keys else None,
                      F.sha2(F.col("email_std"), 256).isin(emails) if emails else None,
                      F.sha2(F.col("phone_e164"), 256).isin(phones) if phones else None]
        live = [c for c in conds if c is not None]
        return F.coalesce(reduce(lambda a, b: a | b, live), F.lit(False)) if live else F.lit(False)

    return match


def text_match(column: str, needles: tuple[str, ...]) -> Column:
    """A text column containing one of ``needles`` (case-insensitive)."""
    if not needles:
        return F.lit(False)
    text = F.lower(F.col(column))
    return F.coalesce(reduce(lambda a, b: a | b,
                             [text.contains(n.lower()) for n in needles]), F.lit(False))

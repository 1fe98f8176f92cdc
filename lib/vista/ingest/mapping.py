"""From a source's raw fields to canonical, standardised silver rows.

Each builder returns a ``DataFrame -> DataFrame`` transform that takes bronze rows
(declared raw fields plus lineage columns) and selects exactly the canonical schema of
its entity (``vista.schemas``), so ``df.transform(to_canonical(src, out, cfg))`` states
the step's schema contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista import schemas
from vista.ingest.config import FieldMap, FieldSpec, IngestConfig, OutputConfig, SourceConfig
from vista.standardise import (
    parse_date,
    parse_timestamp,
    std_address,
    std_bool,
    std_country,
    std_email,
    std_name,
    std_phone_e164,
    std_postal_code,
)

#: Canonical schema per entity.
ENTITY_SCHEMAS: dict[str, T.StructType] = {
    "person": schemas.PERSON_RECORDS,
    "order": schemas.ORDERS,
    "order_line": schemas.ORDER_LINES,
    "interaction": schemas.INTERACTIONS,
}
#: Silver table per entity.
ENTITY_TABLES: dict[str, str] = {
    "person": "silver/person_records",
    "order": "silver/orders",
    "order_line": "silver/order_lines",
    "interaction": "silver/interactions",
}
#: Canonical key columns per entity (the merge key of its silver table).
ENTITY_KEYS: dict[str, list[str]] = {
    "person": ["record_key"],
    "order": ["order_key"],
    "order_line": ["order_key", "line_no"],
    "interaction": ["event_key"],
}
#: Mapping keys that are not canonical columns but feed a derived key.
HELPER_FIELDS: dict[str, dict[str, T.DataType]] = {
    "person": {"full_name": T.StringType()},
    "order": {},
    "order_line": {"order_id": T.StringType()},
    "interaction": {"event_id": T.StringType()},
}
#: Columns vista derives; a mapping may not set them.
DERIVED: dict[str, set[str]] = {
    "person": {"record_key", "source", "ids", "attrs", "batch_id", "first_name_std",
               "last_name_std", "full_name_std", "email_std", "phone_e164", "other_phones_e164",
               "address_std"},
    "order": {"order_key", "source", "ids", "attrs", "batch_id", "amount_reporting"},
    "order_line": {"order_key", "source", "attrs", "batch_id", "amount_reporting"},
    "interaction": {"event_key", "source", "ids", "attrs", "batch_id"},
}
#: Canonical fields a mapping must give (or that must be derivable).
MUST_MAP: dict[str, set[str]] = {
    "person": set(),
    "order": {"ts"},
    "order_line": {"order_id", "line_no"},
    "interaction": {"ts", "channel", "type"},
}

LINEAGE = ["_source", "_file", "_file_modified_at", "_ingested_at", "_batch_id"]


def mappable_fields(entity: str) -> dict[str, T.DataType]:
    """Canonical field -> type that a mapping of ``entity`` may set."""
    fields = {f.name: f.dataType for f in ENTITY_SCHEMAS[entity].fields}
    out = {k: v for k, v in fields.items() if k not in DERIVED[entity]}
    out.update(HELPER_FIELDS[entity])
    return out


def check_output(source: SourceConfig, out: OutputConfig) -> list[str]:
    """Problems in one output's mapping (unknown or derived targets, missing musts)."""
    allowed = mappable_fields(out.entity)
    problems = []
    unknown = sorted(set(out.mapping) - set(allowed))
    if unknown:
        problems.append(f"{out.entity} mapping has unknown or derived fields {unknown}; "
                        f"expected some of {sorted(allowed)}")
    missing = sorted(MUST_MAP[out.entity] - set(out.mapping))
    if missing:
        problems.append(f"{out.entity} mapping must give {missing}")
    for spec in [*out.mapping.values(), *out.other_phones]:
        if isinstance(spec, FieldSpec) and spec.field and spec.field not in source.schema_:
            problems.append(f"mapping field '{spec.field}' is not in the schema")
    if out.other_phones and out.entity != "person":
        problems.append(f"other_phones is for person outputs, not {out.entity}")
    return problems


def raw_column(spec: FieldMap, raw_fields: set[str]) -> Column:
    """The untyped column a mapping value denotes (raw field, SQL expression or literal)."""
    if isinstance(spec, str):
        return F.col(f"`{spec}`") if spec in raw_fields else F.expr(spec)
    if spec.field is not None:
        return F.col(f"`{spec.field}`")
    if spec.expr is not None:
        return F.expr(spec.expr)
    return F.lit(spec.literal)


def typed_column(spec: FieldMap, raw_fields: set[str], target: T.DataType) -> Column:
    """The mapping value converted to the canonical type; null when it does not convert.

    Dates and timestamps use ``formats`` when given (``parse_date``/``parse_timestamp``),
    booleans go through ``std_bool`` (yes/no words in several languages, or the mapping's
    ``true_values``/``false_values``; an unknown word is null, not an error), numbers are
    ``try_cast`` after trimming, so a bad value is null here and flagged by validation.
    """
    raw = raw_column(spec, raw_fields)
    formats = spec.formats if isinstance(spec, FieldSpec) else None
    if isinstance(target, (T.DateType, T.TimestampType)) and formats:
        return (parse_date if isinstance(target, T.DateType) else parse_timestamp)(raw, formats)
    if isinstance(target, T.BooleanType):
        if isinstance(spec, FieldSpec) and (spec.true_values or spec.false_values):
            return std_bool(raw, spec.true_values, spec.false_values)
        return std_bool(raw)
    if isinstance(target, T.StringType):
        return F.trim(raw.cast("string"))
    if isinstance(target, T.NumericType):
        return F.trim(raw.cast("string")).try_cast(target)
    return raw.try_cast(target)


def spec_map(specs: Mapping[str, FieldMap], raw_fields: set[str]) -> Column:
    """A ``map<string,string>`` from name -> FieldMap, without null values.

    A value with ``formats`` is parsed as a timestamp and kept as ISO-8601 text.
    """
    if not specs:
        return F.create_map().cast(T.MapType(T.StringType(), T.StringType()))
    pairs: list[Column] = []
    for name, spec in sorted(specs.items()):
        value = F.trim(raw_column(spec, raw_fields).cast("string"))
        if isinstance(spec, FieldSpec) and spec.formats:  # a date kept as ISO-8601 text
            value = F.date_format(parse_timestamp(value, spec.formats), "yyyy-MM-dd'T'HH:mm:ss")
        pairs += [F.lit(name), value]
    return F.map_filter(F.create_map(*pairs), lambda _k, v: v.isNotNull() & (v != ""))


def _key_id(src: SourceConfig, raw_fields: set[str]) -> Column:
    """A source record id from the declared key fields (or a hash of all raw fields)."""
    if src.key:
        return F.concat_ws("|", *[F.trim(F.col(f"`{k}`").cast("string")) for k in src.key])
    packed = F.to_json(F.struct(*[F.col(f"`{f}`") for f in sorted(raw_fields)]))
    return F.substring(F.sha2(packed, 256), 1, 32)


def rates_map(cfg: IngestConfig) -> Column:
    """The currency -> rate table as a literal map column."""
    pairs: list[Column] = []
    for cur, rate in sorted(cfg.currency_rates.items()):
        pairs += [F.lit(cur.upper()), F.lit(float(rate))]
    return F.create_map(*pairs)


def currency_column(src: SourceConfig, raw_fields: set[str]) -> Column:
    """The row's ISO currency (upper-cased), from the currency field or the fixed one."""
    if src.currency_field:
        return F.upper(F.trim(F.col(f"`{src.currency_field}`").cast("string")))
    return F.lit((src.currency or "").upper())


def _other_phones(numbers: list[Column], primary: Column, region: Column) -> Column:
    """The distinct standardised ``numbers`` other than ``primary`` (empty when none)."""
    if not numbers:
        return F.array().cast("array<string>")
    std = F.array(*[std_phone_e164(n, region) for n in numbers])
    # no lambda (filter) here: Spark refuses a Python UDF inside a higher-order function
    return F.array_except(std, F.array(F.lit(None).cast("string"), primary))


def _person(src: SourceConfig, c: dict[str, Column],
            other_phones: list[Column]) -> dict[str, Column]:
    country = std_country(c["country"], default=src.default_country)
    region = F.coalesce(country, F.lit(src.default_region or src.default_country))
    first, last = std_name(c["first_name"]), std_name(c["last_name"])
    full = c.get("full_name")
    phone = std_phone_e164(c["phone"], region)
    return {
        "record_key": F.concat_ws(":", F.lit(src.key_namespace), c["source_record_id"]),
        "first_name_std": first,
        "last_name_std": last,
        "full_name_std": std_name(full) if full is not None else F.when(
            first.isNotNull() | last.isNotNull(), F.concat_ws(" ", first, last)),
        "email_std": std_email(c["email"]),
        "phone_e164": phone,
        "other_phones_e164": _other_phones(other_phones, phone, region),
        "address_std": std_address(c["address"]),
        "postal_code": std_postal_code(c["postal_code"], country),
        "country": country,
        "observed_at": F.coalesce(c["observed_at"], F.col("_file_modified_at"),
                                   F.col("_ingested_at")),
    }


def _money(src: SourceConfig, cfg: IngestConfig, c: dict[str, Column],
           raw_fields: set[str]) -> dict[str, Column]:
    currency = currency_column(src, raw_fields)
    return {"currency": currency,
            "amount_reporting": F.round(c["amount"] * F.try_element_at(rates_map(cfg), currency), 4)}


def to_canonical(src: SourceConfig, out: OutputConfig, cfg: IngestConfig,
                 keep: Sequence[str] = ()) -> Callable[[DataFrame], DataFrame]:
    """Transform bronze rows of ``src`` into the canonical schema of ``out.entity``.

    Args:
        src: The source.
        out: One of its outputs.
        cfg: The ingest config (currency rates).
        keep: Input columns to carry after the canonical ones (e.g. lineage for ordering).

    Returns:
        A transform ``DataFrame -> DataFrame`` selecting the entity's schema (then ``keep``).
    """

    def apply(df: DataFrame) -> DataFrame:
        raw_fields = set(src.schema_)
        allowed = mappable_fields(out.entity)
        c: dict[str, Column] = {
            name: (typed_column(out.mapping[name], raw_fields, dtype)
                   if name in out.mapping else F.lit(None).cast(dtype))
            for name, dtype in allowed.items()
        }
        rid = _key_id(src, raw_fields)
        ns = F.lit(src.key_namespace)
        derived: dict[str, Column] = {
            "source": F.lit(src.name),
            "batch_id": F.concat_ws(":", F.lit(src.name), F.col("_batch_id").cast("string")),
            "attrs": spec_map(out.attrs, raw_fields),
            "ids": spec_map(src.ids if out.ids is None else out.ids, raw_fields),
        }
        if out.entity == "person":
            c["source_record_id"] = F.coalesce(c["source_record_id"], rid)
            derived.update(_person(src, c, [typed_column(s, raw_fields, T.StringType())
                                            for s in out.other_phones]))
        elif out.entity == "order":
            c["order_id"] = F.coalesce(c["order_id"], rid)
            derived["order_key"] = F.concat_ws(":", ns, c["order_id"])
            derived.update(_money(src, cfg, c, raw_fields))
        elif out.entity == "order_line":
            c["amount"] = F.coalesce(c["amount"], F.round(c["quantity"] * c["unit_price"], 4))
            derived["order_key"] = F.concat_ws(":", ns, c["order_id"])
            derived.update(_money(src, cfg, c, raw_fields))
        else:
            derived["event_key"] = F.concat_ws(":", ns, F.coalesce(c["event_id"], rid))
        schema = ENTITY_SCHEMAS[out.entity]
        frame = df.where(F.expr(out.where)) if out.where else df
        cols = [derived.get(f.name, c.get(f.name)).cast(f.dataType).alias(f.name)
                for f in schema.fields]
        return frame.select(*cols, *keep)

    return apply

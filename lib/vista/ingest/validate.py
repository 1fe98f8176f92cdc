"""Row validation: split a batch into rows for bronze and rows for quarantine.

Like dqx's ``apply_checks_and_split``, :func:`split_rows` returns ``(good, bad)`` where
``bad`` carries its reason codes. Checks, in order (the first one that fires is the
row's ``reason``; all that fire are in ``reasons``):

0. ``schema_mismatch`` - the row's file lacks a declared column (:mod:`vista.ingest.drift`);
1. ``corrupt_record`` - the reader could not parse the row (broken JSON line, wrong
   number of CSV fields, a value that does not fit a declared non-string type);
2. ``missing_key`` - a declared key field is null or blank;
3. ``missing_required`` - a required raw field, or a canonical field an output needs
   (``ts``, ``channel``, ``line_no`` ...), is null or blank;
4. ``bad_date`` / ``bad_number`` - a mapped value is present but does
   not convert to its canonical type (a date that fits none of the formats, ``"12,5x"``
   for an amount); ``attrs`` entries with ``formats`` are checked as dates too. These are
   *field-level* problems: the row keeps going to bronze, the field is null in silver and
   the row's ``_problems`` (``array<struct<field, reason>>``) records it. The row goes to
   quarantine only for a field it cannot do without (a key, a required field, an
   entity's must-have such as an order's ``ts``) or one whose mapping (or source) says
   ``on_error: quarantine``;
5. ``unknown_currency`` - an order or order-line currency not in ``currency_rates``;
6. the source's own ``rules`` (``negative_amount`` ...), in declared order.

Reconciliation: every row read is in exactly one of bronze or quarantine, so
``rows_in == bronze_rows + quarantined_rows`` per micro-batch and per source. Bronze
keeps only rows that pass; quarantine keeps the others *as delivered* (``raw``: the
corrupt text, or the raw fields as JSON) with reasons and lineage.
"""

from __future__ import annotations

from typing import NamedTuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.ingest.config import CORRUPT_COLUMN, FieldMap, FieldSpec, IngestConfig, SourceConfig
from vista.ingest.drift import DRIFT_COLUMN, RAW_RECORD_COLUMN
from vista.ingest.mapping import (
    LINEAGE,
    MUST_MAP,
    currency_column,
    mappable_fields,
    rates_map,
    raw_column,
    typed_column,
)

QUARANTINE_COLUMNS = [*LINEAGE, "reason", "reasons", "details", "raw"]
#: Bronze column listing a kept row's field-level problems.
PROBLEMS_COLUMN = "_problems"
PROBLEM_TYPE = T.ArrayType(T.StructType([T.StructField("field", T.StringType()),
                                         T.StructField("reason", T.StringType())]))
#: Canonical fields that identify a row: a bad value there quarantines the row.
KEY_FIELDS: dict[str, set[str]] = {"person": {"source_record_id"}, "order": {"order_id"},
                                   "order_line": {"order_id", "line_no"},
                                   "interaction": {"event_id"}}


class Check(NamedTuple):
    """One check: rows where ``condition`` holds fail it.

    ``field_level`` checks keep the row (the problem goes to ``_problems``); the others
    send it to quarantine with ``reason``.
    """

    reason: str
    detail: str
    condition: Column
    field_level: bool = False
    detail_col: Column | None = None  # a detail that varies by row (the missing columns)


def _blank(col: Column) -> Column:
    return col.isNull() | (F.trim(col.cast("string")) == "")


def _type_reason(dtype: T.DataType) -> str | None:
    if isinstance(dtype, (T.DateType, T.TimestampType)):
        return "bad_date"
    if isinstance(dtype, T.NumericType):
        return "bad_number"
    # Booleans are not checked: an unknown consent word is null (= no consent), and the
    # record stays usable for identity resolution.
    return None


def _keeps_row(src: SourceConfig, entity: str, name: str | None, spec: FieldMap) -> bool:
    """Whether a bad value of this mapped field only nulls the field (see the module doc)."""
    if name is not None and (name in MUST_MAP[entity] or name in KEY_FIELDS[entity]):
        return False
    raw = spec if isinstance(spec, str) else spec.field
    if raw is not None and (raw in src.key or raw in src.required):
        return False
    own = spec.on_error if isinstance(spec, FieldSpec) else None
    return (own or src.on_error) == "keep"


def source_checks(src: SourceConfig, cfg: IngestConfig, columns: list[str]) -> list[Check]:
    """Every check of ``src``, in order (see :class:`Check`)."""
    raw_fields = set(src.schema_)
    checks: list[Check] = []
    if DRIFT_COLUMN in columns:  # the row's file lacks declared columns (vista.ingest.drift)
        missing = F.col(DRIFT_COLUMN)
        checks.append(Check("schema_mismatch", "", missing.isNotNull(),
                            detail_col=F.concat(F.lit("schema_mismatch:missing "), missing)))
    if CORRUPT_COLUMN in columns:
        checks.append(Check("corrupt_record", "", F.col(CORRUPT_COLUMN).isNotNull()))
    checks += [Check("missing_key", k, _blank(F.col(f"`{k}`"))) for k in src.key]
    checks += [Check("missing_required", k, _blank(F.col(f"`{k}`"))) for k in src.required]
    money = False
    for out in src.outputs:
        scope = F.coalesce(F.expr(out.where), F.lit(False)) if out.where else F.lit(True)
        allowed = mappable_fields(out.entity)
        for name in sorted(MUST_MAP[out.entity] & set(out.mapping)):
            raw = raw_column(out.mapping[name], raw_fields)
            checks.append(Check("missing_required", f"{out.entity}.{name}", scope & _blank(raw)))
        for name, spec in out.mapping.items():
            reason = _type_reason(allowed[name])
            if reason is None or (isinstance(spec, FieldSpec) and spec.literal is not None):
                continue
            raw = raw_column(spec, raw_fields)
            typed = typed_column(spec, raw_fields, allowed[name])
            checks.append(Check(reason, f"{out.entity}.{name}",
                                scope & ~_blank(raw) & typed.isNull(),
                                _keeps_row(src, out.entity, name, spec)))
        for name, spec in sorted(out.attrs.items()):
            if isinstance(spec, FieldSpec) and spec.formats:
                raw = raw_column(spec, raw_fields)
                typed = typed_column(spec, raw_fields, T.TimestampType())
                checks.append(Check("bad_date", f"{out.entity}.attrs.{name}",
                                    scope & ~_blank(raw) & typed.isNull(),
                                    _keeps_row(src, out.entity, None, spec)))
        money = money or out.entity in ("order", "order_line")
    if money:
        cur = currency_column(src, raw_fields)
        unknown = _blank(cur) | F.try_element_at(rates_map(cfg), cur).isNull()
        checks.append(Check("unknown_currency", "", unknown))
    checks += [Check(r.reason, "", F.expr(r.reject_if)) for r in src.rules]
    return checks


def has_field_checks(src: SourceConfig, cfg: IngestConfig) -> bool:
    """Whether rows of ``src`` can carry field-level problems (no Spark job)."""
    return any(c.field_level for c in source_checks(src, cfg, []))


def tag_rows(df: DataFrame, src: SourceConfig, cfg: IngestConfig) -> DataFrame:
    """``df`` plus ``reasons`` and ``details``: the checks that reject each row (empty: good).

    Args:
        df: Rows as read (see :func:`split_rows`).
        src: The source.
        cfg: The ingest config (currency rates).

    Returns:
        ``df`` with two ``array<string>`` columns, in check order, and ``_problems``
        (the field-level checks that fire, as ``(field, reason)``).
    """
    checks = source_checks(src, cfg, df.columns)
    rows = [c for c in checks if not c.field_level]
    fields = [c for c in checks if c.field_level]

    def fired(c: Check) -> Column:
        return F.coalesce(c.condition, F.lit(False))

    flagged = [F.when(fired(c), F.lit(c.reason)) for c in rows]
    detailed = [F.when(fired(c), c.detail_col if c.detail_col is not None else
                       F.lit(f"{c.reason}:{c.detail}" if c.detail else c.reason)) for c in rows]
    problems = [F.when(fired(c), F.struct(F.lit(c.detail).alias("field"),
                                          F.lit(c.reason).alias("reason"))) for c in fields]
    none = F.array().cast(T.ArrayType(T.StringType()))
    return df.select(
        "*",
        (F.filter(F.array(*flagged), lambda x: x.isNotNull()) if flagged else none).alias("reasons"),
        (F.filter(F.array(*detailed), lambda x: x.isNotNull()) if detailed else none).alias("details"),
        (F.filter(F.array(*problems), lambda x: x.isNotNull()) if problems
         else F.array()).cast(PROBLEM_TYPE).alias(PROBLEMS_COLUMN),
    )


def split_tagged(tagged: DataFrame, src: SourceConfig) -> tuple[DataFrame, DataFrame]:
    """Split the output of :func:`tag_rows` into ``(good, bad)`` (see :func:`split_rows`)."""
    raw_json = F.to_json(F.struct(*[F.col(f"`{f}`") for f in src.schema_]))
    if RAW_RECORD_COLUMN in tagged.columns:  # the whole record, kept by drift detection
        raw_json = F.coalesce(F.col(RAW_RECORD_COLUMN), raw_json)
    if CORRUPT_COLUMN in tagged.columns:
        raw_json = F.coalesce(F.col(CORRUPT_COLUMN), raw_json)
    good = tagged.where(F.size("reasons") == 0).select(*[f"`{f}`" for f in src.schema_], *LINEAGE,
                                                       PROBLEMS_COLUMN)
    bad = tagged.where(F.size("reasons") > 0).select(
        *LINEAGE,
        F.col("reasons")[0].alias("reason"),
        "reasons",
        "details",
        raw_json.alias("raw"),
    )
    return good, bad


def split_rows(df: DataFrame, src: SourceConfig, cfg: IngestConfig) -> tuple[DataFrame, DataFrame]:
    """Split parsed rows into ``(good, bad)`` by the source's checks.

    Args:
        df: Rows as read: the declared raw fields, optionally ``_corrupt_record``, and
            the lineage columns (``_source``, ``_file``, ``_file_modified_at``,
            ``_ingested_at``, ``_batch_id``).
        src: The source.
        cfg: The ingest config (currency rates).

    Returns:
        ``good``: raw fields + lineage + ``_problems`` (the bronze columns); ``bad``: lineage,
        ``reason``, ``reasons``, ``details`` and ``raw`` (the quarantine columns).
    """
    return split_tagged(tag_rows(df, src, cfg), src)


def batch_stats(tagged: DataFrame) -> tuple[int, int, dict[str, int]]:
    """``(files, good_rows, bad_rows_by_reason)`` of tagged rows, in one Spark job.

    ``rollup`` gives one row per first reason (null: good rows) plus a grand-total row
    with the distinct file count, so the driver receives a handful of rows.
    """
    first = F.try_element_at("reasons", F.lit(1))
    rows = (tagged.select(first.alias("reason"), "_file").rollup("reason")
            .agg(F.count(F.lit(1)).alias("n"), F.countDistinct("_file").alias("files"),
                 F.grouping_id().alias("total"))
            .collect())
    files = next((r["files"] for r in rows if r["total"]), 0)
    good = next((r["n"] for r in rows if not r["total"] and r["reason"] is None), 0)
    reasons = {r["reason"]: int(r["n"]) for r in rows if not r["total"] and r["reason"] is not None}
    return int(files), int(good), reasons


def problem_stats(tagged: DataFrame) -> dict[str, dict[str, int]]:
    """Field-level problems of the rows bound for bronze: ``{field: {reason: rows}}``.

    One Spark job over the tagged batch; the driver receives one row per field and
    reason.
    """
    rows = (tagged.where(F.size("reasons") == 0)
            .select(F.explode(PROBLEMS_COLUMN).alias("p"))
            .groupBy("p.field", "p.reason").count().collect())
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["field"], {})[r["reason"]] = int(r["count"])
    return out

"""Row validation: split a batch into rows for bronze and rows for quarantine.

Like dqx's ``apply_checks_and_split``, :func:`split_rows` returns ``(good, bad)`` where
``bad`` carries its reason codes. Checks, in order (the first one that fires is the
row's ``reason``; all that fire are in ``reasons``):

1. ``corrupt_record`` - the reader could not parse the row (broken JSON line, wrong
   number of CSV fields, a value that does not fit a declared non-string type);
2. ``missing_key`` - a declared key field is null or blank;
3. ``missing_required`` - a required raw field, or a canonical field an output needs
   (``ts``, ``channel``, ``line_no`` ...), is null or blank;
4. ``bad_date`` / ``bad_number`` - a mapped value is present but does
   not convert to its canonical type (a date that fits none of the formats, ``"12,5x"``
   for an amount); ``attrs`` entries with ``formats`` are checked as dates too;
5. ``unknown_currency`` - an order or order-line currency not in ``currency_rates``;
6. the source's own ``rules`` (``negative_amount`` ...), in declared order.

Reconciliation: every row read is in exactly one of bronze or quarantine, so
``rows_in == bronze_rows + quarantined_rows`` per micro-batch and per source. Bronze
keeps only rows that pass; quarantine keeps the others *as delivered* (``raw``: the
corrupt text, or the raw fields as JSON) with reasons and lineage.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.ingest.config import CORRUPT_COLUMN, FieldSpec, IngestConfig, SourceConfig
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

Check = tuple[str, str, Column]  # (reason, detail, condition that rejects the row)


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


def source_checks(src: SourceConfig, cfg: IngestConfig, columns: list[str]) -> list[Check]:
    """Every check of ``src`` as ``(reason, detail, reject condition)``, in order."""
    raw_fields = set(src.schema_)
    checks: list[Check] = []
    if CORRUPT_COLUMN in columns:
        checks.append(("corrupt_record", "", F.col(CORRUPT_COLUMN).isNotNull()))
    checks += [("missing_key", k, _blank(F.col(f"`{k}`"))) for k in src.key]
    checks += [("missing_required", k, _blank(F.col(f"`{k}`"))) for k in src.required]
    money = False
    for out in src.outputs:
        scope = F.coalesce(F.expr(out.where), F.lit(False)) if out.where else F.lit(True)
        allowed = mappable_fields(out.entity)
        for name in sorted(MUST_MAP[out.entity] & set(out.mapping)):
            raw = raw_column(out.mapping[name], raw_fields)
            checks.append(("missing_required", f"{out.entity}.{name}", scope & _blank(raw)))
        for name, spec in out.mapping.items():
            reason = _type_reason(allowed[name])
            if reason is None or (isinstance(spec, FieldSpec) and spec.literal is not None):
                continue
            raw = raw_column(spec, raw_fields)
            typed = typed_column(spec, raw_fields, allowed[name])
            checks.append((reason, f"{out.entity}.{name}", scope & ~_blank(raw) & typed.isNull()))
        for name, spec in sorted(out.attrs.items()):
            if isinstance(spec, FieldSpec) and spec.formats:
                raw = raw_column(spec, raw_fields)
                typed = typed_column(spec, raw_fields, T.TimestampType())
                checks.append(("bad_date", f"{out.entity}.attrs.{name}",
                               scope & ~_blank(raw) & typed.isNull()))
        money = money or out.entity in ("order", "order_line")
    if money:
        cur = currency_column(src, raw_fields)
        unknown = _blank(cur) | F.try_element_at(rates_map(cfg), cur).isNull()
        checks.append(("unknown_currency", "", unknown))
    checks += [(r.reason, "", F.expr(r.reject_if)) for r in src.rules]
    return checks


def tag_rows(df: DataFrame, src: SourceConfig, cfg: IngestConfig) -> DataFrame:
    """``df`` plus ``reasons`` and ``details``: the checks that reject each row (empty: good).

    Args:
        df: Rows as read (see :func:`split_rows`).
        src: The source.
        cfg: The ingest config (currency rates).

    Returns:
        ``df`` with two ``array<string>`` columns, in check order.
    """
    checks = source_checks(src, cfg, df.columns)
    flagged = [F.when(F.coalesce(cond, F.lit(False)), F.lit(reason)) for reason, _, cond in checks]
    detailed = [F.when(F.coalesce(cond, F.lit(False)),
                       F.lit(f"{reason}:{detail}" if detail else reason))
                for reason, detail, cond in checks]
    none = F.array().cast(T.ArrayType(T.StringType()))
    return df.select(
        "*",
        (F.filter(F.array(*flagged), lambda x: x.isNotNull()) if flagged else none).alias("reasons"),
        (F.filter(F.array(*detailed), lambda x: x.isNotNull()) if detailed else none).alias("details"),
    )


def split_tagged(tagged: DataFrame, src: SourceConfig) -> tuple[DataFrame, DataFrame]:
    """Split the output of :func:`tag_rows` into ``(good, bad)`` (see :func:`split_rows`)."""
    raw_json = F.to_json(F.struct(*[F.col(f"`{f}`") for f in src.schema_]))
    if CORRUPT_COLUMN in tagged.columns:
        raw_json = F.coalesce(F.col(CORRUPT_COLUMN), raw_json)
    good = tagged.where(F.size("reasons") == 0).select(*[f"`{f}`" for f in src.schema_], *LINEAGE)
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
        ``good``: raw fields + lineage (the bronze columns); ``bad``: lineage,
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

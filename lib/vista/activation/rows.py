"""What one destination should hold now: one row per key, consent-filtered.

The rows are built by joins on ``uid``: the profile (consent, profile fields), the golden
record (the identifier the destination is keyed by, hashed and plain fields) and each
selected segment table (grouped by UID). Nothing reaches the driver.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.activation import identifiers as ident
from vista.activation.config import ActivationConfig, DestinationConfig, SegmentSelect
from vista.activation.consent import consent_given
from vista.activation.errors import ActivationError
from vista.lake import Lake

log = logging.getLogger(__name__)

#: Internal columns of the destination frame (not exported).
UID, KEY, ALLOWED, FINGERPRINT = "uid", "__key", "__allowed", "__fingerprint"


@dataclass(frozen=True)
class DestinationRows:
    """The destination's candidate rows.

    Attributes:
        rows: ``__key``, ``uid``, ``__allowed`` (consent) and the exported columns, one
            row per key; keys shared by several UIDs are left out (ambiguous).
        key_column: Name of the key column in the exported files.
        columns: Exported columns after the key, in order.
    """

    rows: DataFrame
    key_column: str
    columns: list[str]


def key_column_name(dest: DestinationConfig) -> str:
    """The key's column name in the destination's files (``crm_id``, ``email_sha256``...)."""
    kind = dest.identifier.kind
    if kind == "source_id":
        return str(dest.identifier.id_kind)
    return {"hashed_email": "email_sha256", "hashed_phone": "phone_sha256"}.get(kind, kind)


def _require(lake: Lake, table: str, dest: DestinationConfig, what: str) -> DataFrame:
    if not lake.exists(table):
        raise ActivationError(
            f"destination {dest.name!r}: {what} table {table!r} does not exist in the lake. "
            f"Run the stage that writes it first, or remove it from the destination.")
    return lake.read(table)


def _check_columns(df: DataFrame, table: str, wanted: list[str], dest: DestinationConfig,
                   key: str) -> None:
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise ActivationError(
            f"destination {dest.name!r} ({key}): {table} has no column(s) {missing}; "
            f"its columns are {sorted(df.columns)}.")


def _identifier(golden: DataFrame, dest: DestinationConfig) -> DataFrame:
    """``uid, __key``: the person's key(s) in the destination's system."""
    spec, norm = dest.identifier, dest.normalisation
    if spec.kind == "uid":
        return golden.select(UID, F.col(UID).alias(KEY))
    if spec.kind == "source_id":
        values = F.col("ids").getItem(spec.id_kind)
        return golden.select(UID, F.explode_outer(values).alias(KEY))
    field = "email" if spec.kind in ("email", "hashed_email") else "phone"
    many = "emails" if field == "email" else "phones"
    value = F.explode_outer(many) if spec.all_values else F.col(field)
    keys = golden.select(UID, value.alias(KEY))
    key = ident.normalise(field, F.col(KEY), norm)
    if spec.kind.startswith("hashed_"):
        key = ident.sha256_hex(key)
    return keys.select(UID, key.alias(KEY))


def _segment_columns(lake: Lake, select: SegmentSelect, dest: DestinationConfig) -> DataFrame:
    """``uid`` + the selected columns of one segment table, one row per UID."""
    df = _require(lake, select.table, dest, "segment")
    _check_columns(df, select.table, [UID, *select.columns.values()], dest,
                   f"segments[{select.table}]")
    if select.where:
        df = df.where(F.expr(select.where))
    if select.many:
        aggs = [F.array_sort(F.collect_set(F.col(src))).alias(out)
                for out, src in select.columns.items()]
    else:
        # One row per UID is the table's contract; max() keeps this a plain aggregate.
        aggs = [F.max(F.col(src)).alias(out) for out, src in select.columns.items()]
    return df.groupBy(UID).agg(*aggs)


def destination_rows(lake: Lake, cfg: ActivationConfig, dest: DestinationConfig) -> DestinationRows:
    """Build the rows ``dest`` should hold now (consent flag included, not yet applied).

    Raises:
        ActivationError: A table or column the destination names does not exist.
    """
    profile = _require(lake, cfg.profile_table, dest, "profile")
    _check_columns(profile, cfg.profile_table, [UID, *dest.profile_fields], dest,
                   "profile_fields")
    golden = _require(lake, cfg.golden_table, dest, "golden record")
    base = profile.select(UID, consent_given(profile, cfg, dest).alias(ALLOWED),
                          *[F.col(c) for c in dest.profile_fields])
    rows = base.join(_identifier(golden, dest), on=UID, how="inner").where(
        F.col(KEY).isNotNull())
    person_cols: list[Column] = [
        ident.hashed(f, F.col(f), dest.normalisation).alias(f"{f}_sha256")
        for f in dest.hashed_fields]
    person_cols += [ident.plain(f, F.col(f), dest.normalisation).alias(f)
                    for f in dest.plain_fields]
    if person_cols:
        rows = rows.join(golden.select(UID, *person_cols), on=UID, how="left")
    columns = list(dest.profile_fields) + [f"{f}_sha256" for f in dest.hashed_fields] + list(
        dest.plain_fields)
    for select in dest.segments:
        rows = rows.join(_segment_columns(lake, select, dest), on=UID, how="left")
        columns += list(select.columns)
    dupes = [c for c in columns if columns.count(c) > 1]
    if dupes:
        raise ActivationError(f"destination {dest.name!r}: output column(s) "
                              f"{sorted(set(dupes))} are selected twice; rename one.")
    return DestinationRows(rows=_one_per_key(rows.select(KEY, UID, ALLOWED, *columns)),
                           key_column=key_column_name(dest), columns=columns)


def _one_per_key(rows: DataFrame) -> DataFrame:
    """One row per key; a key two people share (a family address) is left out, since it
    would send one person's segments for the other.

    A person's rows for one key are alike (the same e-mail listed twice), so any of them
    will do. One aggregation, one shuffle: the UIDs per key and a row travel together.
    """
    values = [c for c in rows.columns if c != KEY]
    one = rows.groupBy(KEY).agg(F.collect_set(UID).alias("__uids"),
                                F.first(F.struct(*[F.col(f"`{c}`") for c in values]))
                                .alias("__row"))
    return one.where(F.size("__uids") == 1).select(
        KEY, *[F.col("__row").getField(c).alias(c) for c in values])


def fingerprint(columns: list[str]) -> Column:
    """SHA-256 of the exported values (a change of any of them changes the row)."""
    if not columns:
        return F.lit("")
    return F.sha2(F.to_json(F.struct(*[F.col(f"`{c}`") for c in columns])), 256)


def for_csv(df: DataFrame) -> DataFrame:
    """Arrays joined with ``|`` (CSV has no arrays); other columns unchanged."""
    cols = [F.array_join(F.col(f"`{f.name}`").cast("array<string>"), "|").alias(f.name)
            if isinstance(f.dataType, T.ArrayType) else F.col(f"`{f.name}`")
            for f in df.schema.fields]
    return df.select(*cols)

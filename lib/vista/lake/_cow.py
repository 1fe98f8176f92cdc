"""Engine-independent Spark logic: schema checks, merge source checks, copy-on-write rows."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.errors import LakeError, MergeSourceNotUnique

DELETE_FLAG = "__vista_delete"
_SRC = "__vista_s_"
_EXAMPLES = 5

# (source type, table type) pairs that are cast silently on write: no value can change.
_WIDENING = {
    (T.ByteType, T.ShortType), (T.ByteType, T.IntegerType), (T.ByteType, T.LongType),
    (T.ShortType, T.IntegerType), (T.ShortType, T.LongType), (T.IntegerType, T.LongType),
    (T.FloatType, T.DoubleType), (T.NullType, None),
}


def as_nullable(schema: T.StructType) -> T.StructType:
    """The same schema with every field (nested too) nullable, as Delta stores a new table."""
    def fix(node: object) -> object:
        if isinstance(node, dict):
            out = {k: fix(v) for k, v in node.items()}
            if "nullable" in out:
                out["nullable"] = True
            if "containsNull" in out:
                out["containsNull"] = True
            if "valueContainsNull" in out:
                out["valueContainsNull"] = True
            return out
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node
    return T.StructType.fromJson(fix(json.loads(schema.json())))


def _same_type(a: T.DataType, b: T.DataType) -> bool:
    return as_nullable(T.StructType([T.StructField("x", a)])) == as_nullable(
        T.StructType([T.StructField("x", b)]))


def conform(
    df: DataFrame, table: str, schema: T.StructType, *, merge_schema: bool
) -> tuple[DataFrame, T.StructType, list[T.StructField]]:
    """Line ``df`` up with a table's schema.

    Returns:
        ``(df in table column order, resulting table schema, fields added)``. Columns the
        table has and ``df`` lacks become nulls; widening casts (int -> long) are applied.

    Raises:
        LakeError: Naming new columns (when ``merge_schema`` is false) and type mismatches.
    """
    have = {f.name: f for f in df.schema.fields}
    by_lower = {f.name.lower(): f for f in schema.fields}
    new = [f for f in df.schema.fields if f.name.lower() not in by_lower]
    if new and not merge_schema:
        raise LakeError(
            f"append to {table!r}: the data has column(s) the table does not: "
            f"{', '.join(f'{f.name} ({f.dataType.simpleString()})' for f in new)}. Expected "
            f"only {', '.join(schema.fieldNames())}. Pass merge_schema=True to add them, "
            "or drop them.")
    bad = []
    cols = []
    for field in schema.fields:
        src = next((f for n, f in have.items() if n.lower() == field.name.lower()), None)
        if src is None:
            cols.append(F.lit(None).cast(field.dataType).alias(field.name))
        elif _same_type(src.dataType, field.dataType):
            cols.append(F.col(f"`{src.name}`").alias(field.name))
        elif (type(src.dataType), type(field.dataType)) in _WIDENING or isinstance(
                src.dataType, T.NullType):
            cols.append(F.col(f"`{src.name}`").cast(field.dataType).alias(field.name))
        else:
            bad.append(f"{field.name}: table has {field.dataType.simpleString()}, data has "
                       f"{src.dataType.simpleString()}")
    if bad:
        raise LakeError(f"write to {table!r}: column type mismatch ({'; '.join(bad)}). Cast the "
                        "data to the table's types, or overwrite the table to change them.")
    added = [T.StructField(f.name, f.dataType, True) for f in new]
    cols += [F.col(f"`{f.name}`") for f in added]
    out_schema = as_nullable(T.StructType([*schema.fields, *added]))
    return df.select(*cols), out_schema, added


def check_unique(source: DataFrame, table: str, keys: Sequence[str]) -> None:
    """Raise :class:`MergeSourceNotUnique` when ``source`` has two rows for one key."""
    missing = [k for k in keys if k not in source.columns]
    if missing:
        raise LakeError(f"merge into {table!r}: key column(s) {missing} are not in the source "
                        f"(columns: {source.columns}).")
    dups = (
        source.groupBy(*[F.col(f"`{k}`") for k in keys]).count()
        .filter(F.col("count") > 1).limit(_EXAMPLES).collect()
    )
    if dups:
        examples = "; ".join(
            ", ".join(f"{k}={row[k]!r}" for k in keys) + f" (x{row['count']})" for row in dups)
        raise MergeSourceNotUnique(
            f"merge into {table!r}: the source has more than one row for some key(s) "
            f"{list(keys)}, e.g. {examples}. Deduplicate the source on the keys first.")


def prepare_source(
    source: DataFrame, table: str, schema: T.StructType, keys: Sequence[str],
    delete_when: str | None,
) -> DataFrame:
    """Source conformed to the table's columns, plus a boolean delete flag.

    Columns the source lacks keep their target values on update and are null on insert.
    Extra source columns are an error unless ``delete_when`` is given (they are then
    control columns, usable in the condition and not written).
    """
    check_unique(source, table, keys)
    flag = F.coalesce(F.expr(delete_when), F.lit(False)) if delete_when else F.lit(False)
    src = source.withColumn(DELETE_FLAG, flag)
    names = {f.name.lower() for f in schema.fields}
    extra = [c for c in source.columns if c.lower() not in names]
    if extra and not delete_when:
        raise LakeError(
            f"merge into {table!r}: source column(s) {extra} are not in the table "
            f"({', '.join(schema.fieldNames())}). Drop them, or add them with "
            "lake.append(..., merge_schema=True) first.")
    present = {c.lower() for c in source.columns}
    keep = [f for f in schema.fields if f.name.lower() in present]
    sub = T.StructType([*keep, T.StructField(DELETE_FLAG, T.BooleanType())])
    conformed, _, _ = conform(src.select(*[F.col(f"`{f.name}`") for f in keep], DELETE_FLAG),
                              table, sub, merge_schema=False)
    return conformed


def merged_rows(
    target: DataFrame, source: DataFrame, schema: T.StructType, keys: Sequence[str], *,
    update: bool, insert: bool,
) -> DataFrame:
    """Rows of the rewritten files plus inserts: full outer join of target rows and source.

    Args:
        target: Target rows of the files being rewritten (table schema).
        source: Output of :func:`prepare_source`.
        schema: Table schema (output column order).
        keys: Merge keys (SQL equality: null keys never match).
        update: Matched rows take the source's values.
        insert: Unmatched source rows are inserted (unless flagged for delete).
    """
    src_cols = [c for c in source.columns if c != DELETE_FLAG]
    s = source.select(*[F.col(f"`{c}`").alias(_SRC + c) for c in source.columns],
                      F.lit(True).alias(_SRC + "present"))
    t = target.withColumn("__vista_t_present", F.lit(True))
    cond = [t[f"`{k}`"] == s[f"`{_SRC}{k}`"] for k in keys]
    joined = t.join(s, on=cond, how="full_outer" if insert else "left_outer")
    t_here = F.col("__vista_t_present").isNotNull()
    s_here = F.col(_SRC + "present").isNotNull()
    matched = t_here & s_here
    deleted = F.coalesce(F.col(_SRC + DELETE_FLAG), F.lit(False))
    keep = (t_here & ~(matched & deleted)) | (~t_here & s_here & ~deleted & F.lit(insert))
    out = []
    for f in schema.fields:
        tc = F.col(f"`{f.name}`")
        if f.name in src_cols:
            sc = F.col(f"`{_SRC}{f.name}`")
            value = F.when(matched & F.lit(update), sc).when(t_here, tc).otherwise(sc)
        else:
            value = F.when(t_here, tc).otherwise(F.lit(None).cast(f.dataType))
        out.append(value.alias(f.name))
    # Drop the target columns before naming the output, so names are unambiguous.
    return joined.filter(keep).select(*out)

"""Schema drift: each delivered file's columns compared with the declared schema.

A CSV file is read by position under the declared schema, so a file that lacks a
declared column (or carries an extra one) would put values under the wrong names. Before
a micro-batch is validated, the header of each of its CSV files (the first line, read
through Hadoop's file system: no Spark job) and the footer schema of each Parquet file
are compared with the declared fields, by name:

* a file that **lacks** a declared column: its rows go to quarantine as
  ``schema_mismatch`` (the details name the missing columns), and they are replayed
  like any quarantined row once the config is fixed;
* a file with **extra** columns loads: a CSV file is read again by its header names and
  only the declared columns are kept (Parquet already maps columns by name);
* both are reported per file in the run manifest (``schema_drift``) and in a WARNING.

JSON records name their fields, so the reader alone cannot tell a key a file never
carries from a null value. For JSON sources (``jsonl``, and ``json`` documents) the keys
of each file's records are listed in one Spark job over the batch's files (each record's
text, :func:`json_records`, and Spark's ``json_object_keys``; the driver receives one row
per file):

* a declared field that **no record** of a file carries makes the file lack that column:
  its rows go to quarantine as ``schema_mismatch`` like a CSV file's. Their ``raw`` is
  the whole record as delivered (``_raw_record``), so a fix that renames the field in the
  schema finds its values on replay;
* keys no declared field names are the file's **extra** columns: the file loads, and they
  are reported (at most :data:`MAX_EXTRA` names per file).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from vista.ingest.config import CORRUPT_COLUMN, SourceConfig

log = logging.getLogger(__name__)

#: Batch column holding a file's missing declared columns (null when none).
DRIFT_COLUMN = "_missing_columns"
#: Batch column holding a JSON record's text, for the rows of a file that lacks a column.
RAW_RECORD_COLUMN = "_raw_record"
#: Extra keys reported per JSON file (their number is unbounded in principle).
MAX_EXTRA = 50
JSON_FORMATS = ("jsonl", "json")


@dataclass(frozen=True)
class FileDrift:
    """One file whose columns differ from the declared schema."""

    file: str
    missing: tuple[str, ...]
    extra: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "missing": list(self.missing), "extra": list(self.extra)}


def _csv_header(spark: SparkSession, path: str, sep: str, quote: str, encoding: str) -> list[str]:
    """The first line of a file, split as a CSV record (driver only; one line read)."""
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(fs.open(hpath), encoding))
    try:
        line = reader.readLine() or ""
    finally:
        reader.close()
    return [c.strip() for c in next(csv.reader([line.lstrip("\ufeff")], delimiter=sep,
                                               quotechar=quote or '"'), [])]


def file_columns(spark: SparkSession, src: SourceConfig, path: str,
                 options: dict[str, str]) -> list[str] | None:
    """The column names a delivered file carries, or None when the format has no header."""
    opts = {k.lower(): v for k, v in options.items()}
    if src.format == "csv" and opts.get("header", "true").lower() == "true":
        return _csv_header(spark, path, opts.get("sep", opts.get("delimiter", ",")),
                           opts.get("quote", '"'), opts.get("encoding", "UTF-8"))
    if src.format == "parquet":
        return spark.read.parquet(path).columns
    return None


def json_records(spark: SparkSession, files: list[str], options: dict[str, str]) -> DataFrame:
    """Each JSON record of ``files`` as text: ``_raw_record``, ``_file``, ``_file_modified_at``.

    A ``jsonl`` file holds one record per non-blank line; with ``multiLine`` a file is
    one JSON document, an array of records or a single record, as Spark's JSON reader
    takes it.
    """
    multiline = {k.lower(): str(v) for k, v in options.items()}.get("multiline", "false")
    reader = spark.read.format("text")
    if multiline.lower() == "true":
        reader = reader.option("wholetext", "true")
    text = reader.load(files).select(
        F.col("value"), F.col("_metadata.file_path").alias("_file"),
        F.col("_metadata.file_modification_time").alias("_file_modified_at"))
    if multiline.lower() == "true":
        # from_json to array<string> keeps each element's JSON text; an object gives null
        items = F.from_json("value", "array<string>")
        text = text.select(F.explode(F.coalesce(items, F.array("value"))).alias("value"),
                           "_file", "_file_modified_at")
    return text.where(F.trim("value") != "").select(
        F.col("value").alias(RAW_RECORD_COLUMN), "_file", "_file_modified_at")


def json_drift(spark: SparkSession, src: SourceConfig, files: list[str],
               options: dict[str, str]) -> list[FileDrift]:
    """Per file, the declared fields no record carries and the keys no field declares."""
    declared = F.array(*[F.lit(c) for c in src.schema_])
    keys = F.explode(F.coalesce(F.json_object_keys(RAW_RECORD_COLUMN),
                                F.array().cast("array<string>")))
    rows = (json_records(spark, files, options).select("_file", keys.alias("k"))
            .groupBy("_file").agg(F.collect_set("k").alias("keys"))
            .select("_file", F.array_except(declared, "keys").alias("missing"),
                    F.slice(F.array_sort(F.array_except("keys", declared)), 1, MAX_EXTRA)
                    .alias("extra"))
            .where((F.size("missing") > 0) | (F.size("extra") > 0))
            .collect())  # one row per file that differs
    order = list(src.schema_)
    return [FileDrift(r["_file"], tuple(sorted(r["missing"], key=order.index)),
                      tuple(r["extra"])) for r in rows]


def find_drift(spark: SparkSession, src: SourceConfig, files: list[str],
               options: dict[str, str]) -> list[FileDrift]:
    """The files whose columns differ from the declared ones (names compared exactly)."""
    declared = list(src.schema_)
    out = []
    encoding = {k.lower(): str(v) for k, v in options.items()}.get("encoding", "utf-8")
    if src.format in JSON_FORMATS and encoding.lower().replace("-", "") != "utf8":
        # the records' text is read as UTF-8 (Spark's text reader has no encoding)
        log.warning("ingest %s: JSON files in %s are not checked for missing or extra keys",
                    src.name, encoding)
    elif src.format in JSON_FORMATS and files:
        out = sorted(json_drift(spark, src, files, options), key=lambda d: d.file)
    for path in files if src.format not in JSON_FORMATS else []:
        cols = file_columns(spark, src, path, options)
        if cols is None:
            continue
        missing = tuple(c for c in declared if c not in cols)
        extra = tuple(c for c in cols if c not in declared)
        if missing or extra:
            out.append(FileDrift(path, missing, extra))
    for d in out:
        log.warning("ingest %s: %s %s%s", src.name, d.file.rsplit("/", 1)[-1],
                    f"lacks declared column(s) {list(d.missing)}; " + (
                        "loaded with them null" if src.on_missing_column == "load" else
                        "its rows go to quarantine (schema_mismatch)") if d.missing else "",
                    f"{'; ' if d.missing else ''}has extra column(s) {list(d.extra)}"
                    if d.extra else "")
    return out


def missing_columns(drift: list[FileDrift]) -> Column:
    """Per row: the missing declared columns of its file, comma-joined (null when none)."""
    pairs = [x for d in drift if d.missing for x in (F.lit(d.file), F.lit(", ".join(d.missing)))]
    if not pairs:
        return F.lit(None).cast("string")
    return F.try_element_at(F.create_map(*pairs), F.col("_file"))


def reread_by_name(spark: SparkSession, src: SourceConfig, rows: DataFrame,
                   drift: list[FileDrift], options: dict[str, str]) -> DataFrame:
    """``rows`` with the rows of CSV files that carry extra columns read again by name.

    Such a file was split by position under the declared schema; read with its own
    header it gives the declared columns their own values (the extra ones are dropped).
    With ``on_missing_column: load``, files that lack a column are read by name too (the
    column is null). JSON rows are kept; those of a file that lacks a column gain
    ``_raw_record`` unless the source loads such files.
    """
    load = src.on_missing_column == "load"
    if src.format in JSON_FORMATS:  # JSON is read by name: only quarantined rows need raw
        return rows if load else _json_with_raw(spark, src, rows,
                                                [d.file for d in drift if d.missing], options)
    again = [d for d in drift if src.format == "csv" and (load or not d.missing)]
    if not again:
        return rows
    kept = rows.where(~F.col("_file").isin([d.file for d in again]))
    opts = {k: v for k, v in options.items() if k.lower() not in ("maxfilespertrigger",
                                                                  "pathglobfilter")}
    for d in again:
        header = file_columns(spark, src, d.file, opts) or []
        ddl = ", ".join([f"`{c}` string" for c in header] + [f"`{CORRUPT_COLUMN}` string"])
        fresh = (spark.read.format("csv").schema(ddl).options(**opts).load(d.file)
                 .select(*[(F.col(f"`{n}`") if n in header else F.lit(None)).cast(t).alias(n)
                           for n, t in src.schema_.items()],
                         CORRUPT_COLUMN, F.col("_metadata.file_path").alias("_file"),
                         F.col("_metadata.file_modification_time").alias("_file_modified_at")))
        kept = kept.unionByName(fresh.select(*[F.col(c).cast(rows.schema[c].dataType).alias(c)
                                               for c in rows.columns]))
    return kept


def _json_with_raw(spark: SparkSession, src: SourceConfig, rows: DataFrame, files: list[str],
                   options: dict[str, str]) -> DataFrame:
    """``rows`` plus ``_raw_record``: the rows of ``files`` parsed again from their text.

    Those rows go to quarantine (their file lacks a declared column), and their raw text
    keeps the keys the declared schema does not name, for a replay after a rename.
    """
    if not files:
        return rows
    ddl = ", ".join([f"`{n}` {t}" for n, t in src.schema_.items()]
                    + [f"`{CORRUPT_COLUMN}` STRING"])
    parsed = (json_records(spark, files, options)
              .select(F.from_json(RAW_RECORD_COLUMN, ddl, {
                  "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN}).alias("_p"),
                  RAW_RECORD_COLUMN, "_file", "_file_modified_at"))
    fresh = parsed.select(*[F.col("_p").getField(c).alias(c) for c in rows.columns
                            if c not in ("_file", "_file_modified_at")],
                          "_file", "_file_modified_at", RAW_RECORD_COLUMN)
    kept = (rows.where(~F.col("_file").isin(files))
            .withColumn(RAW_RECORD_COLUMN, F.lit(None).cast("string")))
    return kept.unionByName(fresh.select(*[F.col(c).cast(kept.schema[c].dataType).alias(c)
                                           for c in kept.columns]))

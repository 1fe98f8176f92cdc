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

JSON records name their fields, so a JSON file with extra keys loads as it is; a key a
JSON file never carries cannot be told apart from a null value and is not reported.
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


def find_drift(spark: SparkSession, src: SourceConfig, files: list[str],
               options: dict[str, str]) -> list[FileDrift]:
    """The files whose columns differ from the declared ones (names compared exactly)."""
    declared = list(src.schema_)
    out = []
    for path in files:
        cols = file_columns(spark, src, path, options)
        if cols is None:
            continue
        missing = tuple(c for c in declared if c not in cols)
        extra = tuple(c for c in cols if c not in declared)
        if missing or extra:
            out.append(FileDrift(path, missing, extra))
    for d in out:
        log.warning("ingest %s: %s %s%s", src.name, d.file.rsplit("/", 1)[-1],
                    f"lacks declared column(s) {list(d.missing)}; its rows go to quarantine "
                    f"(schema_mismatch)" if d.missing else "",
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
    """
    again = [d for d in drift if d.extra and not d.missing and src.format == "csv"]
    if not again:
        return rows
    kept = rows.where(~F.col("_file").isin([d.file for d in again]))
    opts = {k: v for k, v in options.items() if k.lower() not in ("maxfilespertrigger",
                                                                  "pathglobfilter")}
    for d in again:
        header = file_columns(spark, src, d.file, opts) or []
        ddl = ", ".join([f"`{c}` string" for c in header] + [f"`{CORRUPT_COLUMN}` string"])
        fresh = (spark.read.format("csv").schema(ddl).options(**opts).load(d.file)
                 .select(*[F.col(f"`{n}`").cast(t).alias(n) for n, t in src.schema_.items()],
                         CORRUPT_COLUMN, F.col("_metadata.file_path").alias("_file"),
                         F.col("_metadata.file_modification_time").alias("_file_modified_at")))
        kept = kept.unionByName(fresh.select(*[F.col(c).cast(rows.schema[c].dataType).alias(c)
                                               for c in rows.columns]))
    return kept

"""Spark side of the delta-rs engine: write Parquet data files, describe them, read them.

Executors write and read the data; the driver only ever sees one small row per file.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.lake._commit import DataFile
from vista.spark import session_conf

log = logging.getLogger(__name__)

FILE_COL = "__vista_file"
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


_session_conf = session_conf  # the lake's writers set Parquet options this way


def new_write_dir() -> str:
    """A fresh folder name under the table root for one write's data files."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"w-{stamp}-{uuid.uuid4().hex[:12]}"


def write_data_files(
    df: DataFrame, table_uri: str, write_dir: str, partition_by: Sequence[str]
) -> list[DataFile]:
    """Write ``df`` as Parquet under ``<table_uri>/<write_dir>`` and describe the files.

    Args:
        df: Rows in table column order (partition columns included).
        table_uri: Table root as Spark addresses it.
        write_dir: Folder name from :func:`new_write_dir`.
        partition_by: Partition columns (written as ``col=value`` folders).

    Returns:
        One :class:`DataFile` per non-empty file, with its row count from the file's
        Parquet footer (the driver sees one footer or one row per file, never data).
    """
    target = f"{table_uri.rstrip('/')}/{write_dir}"
    spark = df.sparkSession
    # Delta readers expect INT64 timestamps, not Spark's legacy INT96.
    with _session_conf(spark, {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"}):
        (
            df.write.mode("errorifexists")
            .option("compression", "snappy")
            .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
            .partitionBy(*partition_by)
            .parquet(target)
        )
    data_schema = T.StructType([f for f in df.schema.fields if f.name not in partition_by])
    return describe_files(spark, target, write_dir, partition_by, data_schema)


#: Up to this many files, the driver reads their Parquet footers itself (a listing and a
#: few KB per file, no Spark job); more files are described by a distributed
#: metadata-only scan, which reads the footers in parallel on the executors.
DRIVER_FOOTERS_MAX = 64


def describe_files(
    spark: SparkSession, target: str, write_dir: str, partition_by: Sequence[str],
    data_schema: T.StructType,
) -> list[DataFile]:
    """Size, time and row count of every non-empty Parquet file under ``target``.

    Args:
        spark: The session (its Hadoop FileSystem reaches ``target``).
        target: The write's folder, as Spark addresses it.
        write_dir: The write's folder name (paths are made relative to its parent).
        partition_by: Partition columns (``col=value`` folders).
        data_schema: The files' schema (partition columns excluded).

    Returns:
        One :class:`DataFile` per file with rows, sorted by path.
    """
    listed = _list_parquet(spark, target)
    if listed is None:
        return []
    if len(listed) > DRIVER_FOOTERS_MAX:
        return _describe_by_scan(spark, target, write_dir, partition_by, data_schema)
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    parquet = jvm.org.apache.parquet.hadoop
    files = []
    for status in listed:
        reader = parquet.ParquetFileReader.open(
            parquet.util.HadoopInputFile.fromStatus(status, conf))
        try:
            rows = int(reader.getRecordCount())
        finally:
            reader.close()
        if rows == 0:  # an empty partition's file: no add action, as the scan below
            continue
        files.append(_data_file(str(status.getPath().toUri().getPath()), write_dir,
                                partition_by, int(status.getLen()),
                                int(status.getModificationTime()), rows))
    return sorted(files, key=lambda f: f.path)


def _list_parquet(spark: SparkSession, target: str) -> list | None:
    """The Hadoop ``FileStatus`` of every data file under ``target`` (None: no folder)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(target)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):  # an empty write may leave no folder
        return None
    found = []
    entries = fs.listFiles(path, True)
    while entries.hasNext():  # one entry per file the write left: bounded by its tasks
        status = entries.next()
        name = status.getPath().getName()
        if name.endswith(".parquet") and not name.startswith(("_", ".")):
            found.append(status)
    return found


def _data_file(path: str, write_dir: str, partition_by: Sequence[str], size: int,
               mtime_ms: int, rows: int) -> DataFile:
    rel = write_dir + path.split(f"/{write_dir}", 1)[1]
    return DataFile(path=rel, size=size, modification_time=mtime_ms, num_records=rows,
                    partition_values=_partition_values(rel, partition_by))


def _describe_by_scan(
    spark: SparkSession, target: str, write_dir: str, partition_by: Sequence[str],
    data_schema: T.StructType,
) -> list[DataFile]:
    """:func:`describe_files` for many files: one metadata-only Spark scan."""
    try:
        meta = (spark.read.format("parquet").schema(data_schema)
                .option("recursiveFileLookup", "true").load(target))
    except Exception as exc:  # an empty write leaves no file to read
        if "UNABLE_TO_INFER_SCHEMA" in str(exc) or "PATH_NOT_FOUND" in str(exc):
            return []
        raise
    rows = (
        meta.select(
            F.col("_metadata.file_path").alias("file_path"),
            F.col("_metadata.file_size").alias("file_size"),
            F.col("_metadata.file_modification_time").alias("mtime"),
        )
        .groupBy("file_path", "file_size", "mtime")
        .count()
        .collect()
    )
    files = []
    for row in rows:
        mtime = row["mtime"]
        if mtime.tzinfo is None:
            mtime = mtime.replace(tzinfo=timezone.utc)
        files.append(_data_file(unquote(row["file_path"]), write_dir, partition_by,
                                int(row["file_size"]), int(mtime.timestamp() * 1000),
                                int(row["count"])))
    return sorted(files, key=lambda f: f.path)


def _partition_values(rel_path: str, partition_by: Sequence[str]) -> dict[str, str | None]:
    """Partition values from Spark's ``col=value`` folders (Spark escapes with ``%XX``)."""
    values: dict[str, str | None] = {}
    for part in rel_path.split("/")[1:-1]:
        key, _, raw = part.partition("=")
        if key in partition_by:
            values[key] = None if raw == _HIVE_NULL else unquote(raw)
    missing = [c for c in partition_by if c not in values]
    if missing:
        raise RuntimeError(f"partition folders for {missing} not found in {rel_path}")
    return values


def read_files(
    spark: SparkSession,
    table_uri: str,
    schema: T.StructType,
    partition_by: Sequence[str],
    files: Sequence[tuple[str, dict]],
    *,
    with_file: bool = False,
) -> DataFrame:
    """Read a snapshot's live files as Parquet with the table's schema.

    Args:
        spark: The session.
        table_uri: Table root as Spark addresses it.
        schema: Full table schema (partition columns included).
        partition_by: Partition columns; their values come from ``files``, not from paths.
        files: ``(relative path, {partition column: typed value})`` per live file.
        with_file: Add a ``__vista_file`` column holding the URI of each row's file
            (used by copy-on-write merge and delete; see :func:`match_files`).

    Returns:
        A lazy DataFrame in table column order (plus ``__vista_file`` when asked).
    """
    root = table_uri.rstrip("/")
    data_schema = T.StructType([f for f in schema.fields if f.name not in partition_by])
    columns = [F.col(f"`{f.name}`") for f in schema.fields] + (
        [F.col(FILE_COL)] if with_file else [])
    if not files:
        empty = spark.createDataFrame([], schema)
        return empty.withColumn(FILE_COL, F.lit(None).cast("string")) if with_file else empty
    groups: dict[tuple, list[str]] = {}
    for path, values in files:
        groups.setdefault(tuple(values.get(c) for c in partition_by), []).append(path)
    types = {f.name: f.dataType for f in schema.fields}
    parts = []
    # One scan per partition, its values as literals: a filter on a partition column then
    # prunes whole scans, and no file path is parsed for values.
    for key, paths in groups.items():
        df = spark.read.schema(data_schema).parquet(*[f"{root}/{p}" for p in paths])
        if with_file:
            df = df.withColumn(FILE_COL, F.col("_metadata.file_path"))
        for col, value in zip(partition_by, key, strict=True):
            df = df.withColumn(col, F.lit(value).cast(types[col]))
        parts.append(df)
    out = parts[0]
    for df in parts[1:]:
        out = out.unionByName(df)
    return out.select(*columns)


def discard_write_dir(spark: SparkSession, table_uri: str, write_dir: str) -> None:
    """Best-effort removal of an uncommitted write's files (vacuum catches what is left)."""
    target = f"{table_uri.rstrip('/')}/{write_dir}"
    try:
        jvm = spark.sparkContext._jvm
        hpath = jvm.org.apache.hadoop.fs.Path(target)
        hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(hpath, True)
    except Exception as exc:  # never mask the commit error
        log.warning("could not remove uncommitted files under %s: %s", target, exc)


def match_files(file_uris: set[str], live: Sequence[DataFile]) -> list[DataFile]:
    """The live files behind Spark's ``_metadata.file_path`` URIs.

    Spark gives URI-encoded absolute paths (``file:/t/p=a%20b/part-0.parquet``); the
    snapshot gives plain paths relative to the table root. A URI matches the file whose
    relative path is a whole-segment suffix of its decoded path.
    """
    by_rel = {f.path: f for f in live}
    found = []
    for uri in file_uris:
        segments = unquote(uri).split("/")
        match = next((by_rel["/".join(segments[i:])] for i in range(1, len(segments))
                      if "/".join(segments[i:]) in by_rel), None)
        if match is None:
            raise RuntimeError(f"file {uri} is not a live file of the snapshot being rewritten")
        found.append(match)
    return found

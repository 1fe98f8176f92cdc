"""Files and folders through Hadoop's FileSystem (local disk and object stores alike)."""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def _fs(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath


def glob(spark: SparkSession, pattern: str) -> list[str]:
    """Paths matching a Hadoop glob (``root/*/_delta_log``), as strings."""
    fs, hpath = _fs(spark, pattern)
    found = fs.globStatus(hpath)
    return [] if found is None else [str(s.getPath().toString()) for s in found]


def children(spark: SparkSession, path: str, *, dirs_only: bool = True) -> list[str]:
    """The entries of a folder (none when it does not exist)."""
    fs, hpath = _fs(spark, path)
    if not fs.exists(hpath):
        return []
    return [str(s.getPath().toString()) for s in fs.listStatus(hpath)
            if s.isDirectory() or not dirs_only]


def qualify(spark: SparkSession, path: str) -> str:
    """``path`` fully qualified (``/tmp/x`` -> ``file:/tmp/x``): one spelling per place."""
    fs, hpath = _fs(spark, path)
    return str(fs.makeQualified(hpath).toString())


def exists(spark: SparkSession, path: str) -> bool:
    fs, hpath = _fs(spark, path)
    return bool(fs.exists(hpath))


def delete(spark: SparkSession, path: str) -> bool:
    """Delete a file or a folder recursively; whether something was deleted."""
    fs, hpath = _fs(spark, path)
    return bool(fs.delete(hpath, True))


def rename(spark: SparkSession, src: str, dst: str) -> None:
    fs, hsrc = _fs(spark, src)
    _, hdst = _fs(spark, dst)
    if not fs.rename(hsrc, hdst):
        raise OSError(f"rename failed: {src} -> {dst}")


def delta_tables(spark: SparkSession, root: str, depth: int = 3) -> list[str]:
    """Logical names of every Delta table under ``root`` (``silver/orders``, ...).

    Tables are folders holding a ``_delta_log``, up to ``depth`` levels below the root.
    """
    root = root.rstrip("/")
    names: set[str] = set()
    for level in range(1, depth + 1):
        pattern = f"{root}/{'/'.join(['*'] * level)}/_delta_log"
        for log_dir in glob(spark, pattern):
            table = log_dir.rsplit("/_delta_log", 1)[0]
            rel = table.split("/")[-level:]
            names.add("/".join(rel))
    return sorted(names)

"""Small files next to the tables (manifests, Data Docs, checkpoints), local or remote.

Local locations use the OS; any other location goes through Hadoop's FileSystem in the
running Spark session, the same connector (and credentials) that writes the lake's
tables, so ``s3a://``, ``gs://``, ``abfss://`` and ``hdfs://`` all work alike.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from vista.errors import LakeError
from vista.lake._uri import LakeLocation, resolve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Usage:
    """Files and bytes under a location."""

    files: int
    bytes: int


def _active_jvm():  # -> (jvm, hadoop Configuration)
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None:
        raise LakeError("reading or writing files on an object store needs a running Spark "
                        "session (Hadoop's connector does the I/O); start one first.")
    return sc._jvm, sc._jsc.hadoopConfiguration()


def _hadoop(loc: LakeLocation):  # -> (FileSystem, Path)
    jvm, conf = _active_jvm()
    path = jvm.org.apache.hadoop.fs.Path(loc.spark)
    return path.getFileSystem(conf), path


def _loc(location: str | LakeLocation) -> LakeLocation:
    return location if isinstance(location, LakeLocation) else resolve(location)


def write_text(location: str | LakeLocation, text: str) -> str:
    """Write ``text`` (UTF-8) to a file, replacing it; returns the location as Spark names it.

    A local file is written to a temporary name and renamed, so readers never see half.
    An object-store put is atomic by itself.
    """
    loc = _loc(location)
    if loc.local is not None:
        target = Path(loc.local)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        return str(target)
    _put(loc, text.encode("utf-8"))
    return loc.spark


def _put(loc: LakeLocation, data: bytes) -> None:
    """Write one remote file whole through Hadoop's FileSystem (replacing it)."""
    fs, path = _hadoop(loc)
    out = fs.create(path, True)
    try:
        out.write(bytearray(data))
    finally:
        out.close()


def read_text(location: str | LakeLocation) -> str:
    """The UTF-8 text of a file."""
    loc = _loc(location)
    if loc.local is not None:
        return Path(loc.local).read_text(encoding="utf-8")
    jvm, _ = _active_jvm()
    fs, path = _hadoop(loc)
    stream = fs.open(path)
    try:
        data = jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
    finally:
        stream.close()
    return bytes(data).decode("utf-8")


def list_files(location: str | LakeLocation, suffix: str = "") -> list[LakeLocation]:
    """Files directly under a folder whose names end with ``suffix``, sorted by name.

    A missing folder has no files.
    """
    loc = _loc(location)
    if loc.local is not None:
        folder = Path(loc.local)
        if not folder.is_dir():
            return []
        return [loc.join(p.name) for p in sorted(folder.iterdir())
                if p.is_file() and p.name.endswith(suffix)]
    fs, path = _hadoop(loc)
    if not fs.exists(path):
        return []
    names = sorted(str(s.getPath().getName()) for s in fs.listStatus(path) if s.isFile())
    return [loc.join(n) for n in names if n.endswith(suffix)]


def list_dirs(location: str | LakeLocation) -> list[LakeLocation]:
    """Folders directly under a folder, sorted by name (none when it does not exist)."""
    loc = _loc(location)
    if loc.local is not None:
        folder = Path(loc.local)
        return [loc.join(p.name) for p in sorted(folder.iterdir()) if p.is_dir()] \
            if folder.is_dir() else []
    fs, path = _hadoop(loc)
    if not fs.exists(path):
        return []
    return [loc.join(n) for n in sorted(str(s.getPath().getName())
                                        for s in fs.listStatus(path) if s.isDirectory())]


def usage(location: str | LakeLocation) -> Usage:
    """Files and bytes under a location, recursively (zero when it does not exist)."""
    loc = _loc(location)
    if loc.local is not None:
        root = Path(loc.local)
        if root.is_file():
            return Usage(1, root.stat().st_size)
        sizes = [p.stat().st_size for p in root.rglob("*") if p.is_file()] if root.is_dir() \
            else []
        return Usage(len(sizes), sum(sizes))
    fs, path = _hadoop(loc)
    if not fs.exists(path):
        return Usage(0, 0)
    summary = fs.getContentSummary(path)
    return Usage(int(summary.getFileCount()), int(summary.getLength()))


def remove(location: str | LakeLocation) -> None:
    """Delete a file or a folder and everything under it (nothing when it is absent)."""
    loc = _loc(location)
    if loc.local is not None:
        target = Path(loc.local)
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        elif target.exists():
            target.unlink()
        return
    fs, path = _hadoop(loc)
    if fs.exists(path):
        fs.delete(path, True)


def upload_dir(local_dir: str, location: str | LakeLocation) -> str:
    """Copy a local folder's files to ``location`` (a no-op when it is the same folder).

    On a remote location a file whose content this process has put there already is not
    put again.

    Returns:
        The destination as Spark names it.
    """
    loc = _loc(location)
    if loc.local is not None:
        if os.path.abspath(local_dir) != loc.local:
            shutil.copytree(local_dir, loc.local, dirs_exist_ok=True)
        return loc.local
    base = Path(local_dir)
    # File by file, each put whole: Hadoop's copyFromLocalFile copies a folder *into* an
    # existing destination folder, and S3A's fails on a single file ("Cannot get relative
    # path for URI"). The files are small (HTML pages, JSON, a site's static assets).
    for file in sorted(p for p in base.rglob("*") if p.is_file()):
        target = loc.join(file.relative_to(base).as_posix())
        data = file.read_bytes()
        digest = hashlib.sha1(data).hexdigest()
        if _PUT.get(target.spark) != digest:
            _put(target, data)
            _PUT[target.spark] = digest
    return loc.spark


# What this process last put at each remote file by upload_dir (a site rebuilt after each
# quality gate rewrites the same static assets every time; one digest per file of a site).
_PUT: dict[str, str] = {}

"""One place that turns a lake location into what each library needs.

A location in vista's config is a local path (``.vista/lake``, ``/data/lake``), a
``file:`` URI or an object-store URI (``s3a://bucket/lake``, ``s3://...``, ``gs://...``,
``abfss://...``, ``hdfs://...``). Spark reaches object stores through Hadoop's
connectors (``s3a://``); delta-rs and pyarrow name the same bucket ``s3://``. Nothing
else in vista rewrites a scheme or calls ``Path()`` on a lake location.

Example:
    >>> loc = resolve("s3a://bucket/lake")
    >>> (loc.spark, loc.object_store, loc.local)
    ('s3a://bucket/lake', 's3://bucket/lake', None)
    >>> resolve("s3a://bucket/lake/").join("_manifests", "r1.json").object_store
    's3://bucket/lake/_manifests/r1.json'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

# Spark (Hadoop) scheme -> the scheme object_store (delta-rs) and pyarrow use.
# Spark keeps the scheme it was given (``s3://`` is EMRFS on EMR, and a connector there).
_TO_OBJECT_STORE = {"s3a": "s3", "s3n": "s3"}


@dataclass(frozen=True)
class LakeLocation:
    """A lake location, spelled for each library.

    Attributes:
        spark: What Spark and Hadoop's FileSystem take (``s3a://...``, or an absolute
            local path).
        object_store: What delta-rs and pyarrow take (``s3://...``, or the local path).
        local: The absolute local path, or ``None`` on an object store or HDFS.
    """

    spark: str
    object_store: str
    local: str | None

    @property
    def is_local(self) -> bool:
        """Whether the location is on the local file system."""
        return self.local is not None

    def join(self, *parts: str) -> LakeLocation:
        """The location of ``parts`` under this one (``/``-joined, whatever the OS)."""
        tail = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
        if not tail:
            return self
        if self.local is not None:
            return resolve(os.path.join(self.local, *tail.split("/")))
        return LakeLocation(spark=f"{self.spark.rstrip('/')}/{tail}",
                            object_store=f"{self.object_store.rstrip('/')}/{tail}", local=None)


# A scheme of two characters or more (``C:\\lake`` is a Windows path, not a URI).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def is_uri(value: str) -> bool:
    """Whether ``value`` names a scheme (``s3a://``, ``file:``, ``dbfs:/``) rather than a
    plain path."""
    return "://" in value or bool(_SCHEME.match(value.strip()))


def resolve(location: str) -> LakeLocation:
    """Spell ``location`` for Spark, for delta-rs/pyarrow, and as a local path.

    Args:
        location: A local path (relative paths are taken from the working directory) or
            a URI.

    Returns:
        The location for each library; object-store URIs keep their bucket and key.

    Raises:
        ValueError: An empty location.
    """
    if not location or not location.strip():
        raise ValueError("a lake location is empty; expected a path or a URI such as "
                         "s3a://bucket/lake")
    location = location.strip()
    if not is_uri(location):
        local = os.path.abspath(location)
        return LakeLocation(spark=local, object_store=local, local=local)
    parsed = urlparse(location)
    scheme = parsed.scheme.lower()
    if scheme == "file":
        local = os.path.abspath(unquote(parsed.path))
        return LakeLocation(spark=local, object_store=local, local=local)
    store_scheme = _TO_OBJECT_STORE.get(scheme, scheme)
    sep = "://" if "://" in location else ":"  # dbfs:/x, hdfs:/x name no authority
    rest = location.split(sep, 1)[1].rstrip("/")
    return LakeLocation(spark=f"{scheme}{sep}{rest}", object_store=f"{store_scheme}{sep}{rest}",
                        local=None)

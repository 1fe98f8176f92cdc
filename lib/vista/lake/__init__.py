"""The lake layer: Delta tables through one API, on delta-spark or delta-rs.

Example:
    >>> from vista.lake import Lake
    >>> lake = Lake(spark, ".vista/lake")                          # doctest: +SKIP
    >>> lake.merge("silver/uid_registry", df, keys=["uid"])        # doctest: +SKIP

Locations (the lake root, manifests, Data Docs, checkpoints) are spelled for each
library by :func:`resolve_location`; the small files next to the tables are read and
written by :func:`write_text`, :func:`read_text`, :func:`list_files`, :func:`usage`,
:func:`remove` and :func:`upload_dir`, locally or on an object store alike. On S3,
:func:`s3a_endpoint_settings` and :func:`delta_rs_options` give Hadoop's connector and
delta-rs the same server.
"""

from vista.lake._lake import Lake, Maintenance, WriteResult
from vista.lake._s3 import delta_rs_options, s3a_endpoint_settings
from vista.lake._store import (
    Usage,
    list_dirs,
    list_files,
    read_text,
    remove,
    upload_dir,
    usage,
    write_text,
)
from vista.lake._uri import LakeLocation, is_uri
from vista.lake._uri import resolve as resolve_location

__all__ = ["Lake", "LakeLocation", "Maintenance", "Usage", "WriteResult", "delta_rs_options",
           "is_uri", "list_dirs", "list_files", "read_text", "remove", "resolve_location",
           "s3a_endpoint_settings", "upload_dir", "usage", "write_text"]

"""S3 settings shared by Hadoop's ``s3a`` connector and delta-rs.

Spark reaches an S3 bucket through Hadoop's connector, configured by ``fs.s3a.*`` keys
(``spark.hadoop.fs.s3a.*`` in the session's conf); delta-rs, which writes the Delta log
on the delta-rs engine and plans vacuum on delta-spark, takes its own storage options
(``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``, ...). Both read credentials from the
environment themselves (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, instance
roles), so no secret passes through vista.

An S3-compatible server other than AWS is named once, either in the environment
(``AWS_ENDPOINT_URL``, the variable every AWS SDK, delta-rs and MLflow's boto3 read) or
in the session's ``fs.s3a.endpoint``: :func:`s3a_endpoint_settings` copies the first into the
second, :func:`delta_rs_options` turns the session's settings into delta-rs options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from vista.lake._uri import resolve

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

_S3_SCHEMES = ("s3", "s3a", "s3n")
_HADOOP = "spark.hadoop.fs.s3a."
# AWS SDKs read the service-specific variable first, then the general one.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def s3a_endpoint_settings(settings: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The ``s3a`` endpoint settings a session gets from the environment.

    Args:
        settings: The Spark settings the session is built with.
        environ: The process environment.

    Returns:
        ``spark.hadoop.fs.s3a.endpoint`` from ``AWS_ENDPOINT_URL_S3`` or
        ``AWS_ENDPOINT_URL`` (and ``...connection.ssl.enabled=false`` for an ``http://``
        endpoint), unless the settings name an endpoint already; otherwise nothing.
    """
    endpoint = next((environ[v] for v in ENDPOINT_VARIABLES if environ.get(v)), None)
    if not endpoint or f"{_HADOOP}endpoint" in settings:
        return {}
    out = {f"{_HADOOP}endpoint": endpoint}
    if endpoint.lower().startswith("http://") and f"{_HADOOP}connection.ssl.enabled" not in settings:
        out[f"{_HADOOP}connection.ssl.enabled"] = "false"
    return out


def delta_rs_options(spark: SparkSession, location: str) -> dict[str, str] | None:
    """delta-rs storage options for ``location`` from the session's ``s3a`` settings.

    The keys come from the session's Hadoop configuration (not Hadoop's defaults), a
    bucket's own ``fs.s3a.bucket.<bucket>.*`` first: ``endpoint`` (a bare host gets ``http://`` when
    ``connection.ssl.enabled`` is false), ``path.style.access`` and ``endpoint.region``.
    Only what the session sets is passed, so delta-rs' own reading of ``AWS_*`` variables
    fills the rest. Credentials are never copied.

    Args:
        spark: The running session.
        location: A table or lake location.

    Returns:
        The options, or ``None`` when the location is not on S3 or the session sets none.
    """
    loc = resolve(location)
    parsed = urlparse(loc.spark)
    if loc.is_local or parsed.scheme.lower() not in _S3_SCHEMES:
        return None
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    bucket = parsed.netloc

    def setting(key: str) -> str | None:
        for name in (f"fs.s3a.bucket.{bucket}.{key}", f"fs.s3a.{key}"):
            value = conf.get(name)
            sources = conf.getPropertySources(name) or []
            # Hadoop's own defaults (core-default.xml) are not the session's choice:
            # delta-rs keeps its own, and what the environment tells it.
            if value is not None and str(value).strip() and not all(
                    str(s).endswith("-default.xml") for s in sources if s is not None):
                return str(value).strip()
        return None

    out: dict[str, str] = {}
    endpoint = setting("endpoint")
    if endpoint:
        secure = (setting("connection.ssl.enabled") or "true").lower() != "false"
        if "://" not in endpoint:
            endpoint = f"{'https' if secure else 'http'}://{endpoint}"
        out["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.lower().startswith("http://"):
            out["AWS_ALLOW_HTTP"] = "true"
    path_style = setting("path.style.access")
    if path_style is not None:
        out["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = str(path_style.lower() != "true").lower()
    region = setting("endpoint.region")
    if region:
        out["AWS_REGION"] = region
    return out or None

"""One S3 server for Hadoop's s3a connector and delta-rs: named once, read by both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vista.lake import delta_rs_options, s3a_endpoint_settings

_KEY = "spark.hadoop.fs.s3a.endpoint"
_SSL = "spark.hadoop.fs.s3a.connection.ssl.enabled"


def test_the_environment_endpoint_reaches_s3a_unless_the_config_names_one() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ACCESS_KEY_ID": "k"}
    assert s3a_endpoint_settings({}, env) == {_KEY: "http://127.0.0.1:9000", _SSL: "false"}
    # the S3-only variable wins, as in the AWS SDKs; https keeps TLS on
    assert s3a_endpoint_settings({}, {**env, "AWS_ENDPOINT_URL_S3": "https://s3.example:443"}) \
        == {_KEY: "https://s3.example:443"}
    assert s3a_endpoint_settings({_KEY: "http://other:1"}, env) == {}
    assert s3a_endpoint_settings({_SSL: "true"}, env) == {_KEY: "http://127.0.0.1:9000"}
    assert s3a_endpoint_settings({}, {"AWS_ACCESS_KEY_ID": "k"}) == {}


@contextmanager
def _hadoop_conf(spark, settings: dict[str, str]) -> Iterator[None]:
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    # a key only Hadoop's defaults set is unset again afterwards (restored to its default)
    before = {k: conf.get(k) if not all(str(s).endswith("-default.xml")
                                        for s in conf.getPropertySources(k) or []) else None
              for k in settings}
    for key, value in settings.items():
        conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                conf.unset(key)
            else:
                conf.set(key, value)


def test_delta_rs_gets_the_sessions_s3a_server_but_no_credentials(spark, tmp_path) -> None:
    settings = {"fs.s3a.endpoint": "127.0.0.1:9000", "fs.s3a.connection.ssl.enabled": "false",
                "fs.s3a.path.style.access": "true", "fs.s3a.endpoint.region": "eu-west-1",
                "fs.s3a.access.key": "not-copied",
                "fs.s3a.bucket.other.endpoint": "https://other.example",
                "fs.s3a.bucket.other.path.style.access": "false"}
    with _hadoop_conf(spark, settings):
        assert delta_rs_options(spark, "s3a://lake/vista/silver/orders") == {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ALLOW_HTTP": "true",
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false", "AWS_REGION": "eu-west-1"}
        assert delta_rs_options(spark, "s3://other/t") == {
            "AWS_ENDPOINT_URL": "https://other.example",
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "true", "AWS_REGION": "eu-west-1"}
        assert delta_rs_options(spark, str(tmp_path)) is None
        assert delta_rs_options(spark, "gs://lake/t") is None
    assert delta_rs_options(spark, "s3a://lake/t") is None  # nothing set: delta-rs' own AWS_*

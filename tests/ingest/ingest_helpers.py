"""Shared bits of the ingest tests: small sources and a batch reader like the stream's."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vista.ingest.bronze import input_path, read_schema_ddl, reader_options, with_lineage
from vista.ingest.config import IngestConfig, SourceConfig

ORDERS_SOURCE = {
    "name": "shop",
    "format": "csv",
    "path": "shop/*.csv",
    "schema": {"order_id": "string", "customer": "string", "ordered_at": "string",
               "total": "string", "cur": "string"},
    "key": ["order_id"],
    "currency_field": "cur",
    "ids": {"account_id": "customer"},
    "rules": [{"reason": "negative_amount", "reject_if": "try_cast(total AS double) < 0"}],
    "outputs": [{
        "entity": "order",
        "mapping": {"order_id": "order_id",
                    "ts": {"field": "ordered_at", "formats": ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd"]},
                    "amount": "total", "channel": "'online'"},
    }],
}

EVENTS_SOURCE = {
    "name": "web",
    "format": "jsonl",
    "path": "web/*.jsonl",
    "schema": {"event_id": "string", "device": "string", "at": "string", "kind": "string",
               "page": "string"},
    "key": ["event_id"],
    "ids": {"device_id": "device"},
    "outputs": [{
        "entity": "interaction",
        "mapping": {"event_id": "event_id", "ts": {"field": "at", "formats": ["yyyy-MM-dd'T'HH:mm:ss"]},
                    "channel": "'web'", "type": "kind", "content": "page"},
    }],
}


def make_config(root: Path, *sources: dict, **extra) -> IngestConfig:
    return IngestConfig.model_validate({
        "inputs_root": str(root),
        "reporting_currency": "EUR",
        "currency_rates": {"EUR": 1.0, "USD": 0.5},
        "sources": list(sources),
        **extra,
    })


def read_batch(spark: SparkSession, src: SourceConfig, cfg: IngestConfig,
               batch_id: int = 0) -> DataFrame:
    """Read a source in batch mode exactly as the stream would, with lineage."""
    fmt = {"jsonl": "json"}.get(src.format, src.format)
    df = (spark.read.format(fmt).schema(read_schema_ddl(src)).options(**reader_options(src, cfg))
          .load(input_path(src, cfg))
          .select("*", F.col("_metadata.file_path").alias("_file"),
                  F.col("_metadata.file_modification_time").alias("_file_modified_at")))
    return with_lineage(df, src, batch_id)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def assert_rows(df: DataFrame, expected: list[tuple], order_by: list[str] | None = None) -> None:
    """Whole-frame compare of ``df`` with ``expected`` rows (order-insensitive).

    chispa rather than pyspark.testing.assertDataFrameEqual: the latter imports
    pyspark.pandas, which does not import with pandas 3.
    """
    from chispa import assert_df_equality

    exp = df.sparkSession.createDataFrame(expected, df.schema)
    assert_df_equality(df, exp, ignore_row_order=True, ignore_nullable=True,
                       ignore_column_order=False)

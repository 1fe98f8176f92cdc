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


def make_ctx(spark: SparkSession, lake_root: Path, cfg: IngestConfig, lake=None, **options):
    """A RunContext for the ingest stage alone (quality gates off unless asked)."""
    from types import SimpleNamespace

    from vista.lake import Lake
    from vista.manifest import RunManifest
    from vista.runtime import RunContext

    lake = lake or Lake(spark, str(lake_root))
    return RunContext(spark=spark, config=SimpleNamespace(ingest=cfg), lake=lake,
                      manifest=RunManifest(run_id="test"), run_id="test",
                      options={"quality": False, **options})


def comparable(df: DataFrame, drop: tuple[str, ...] = ("_ingested_at",)) -> DataFrame:
    """Columns sorted by name, load-time columns dropped, maps as sorted JSON (sortable)."""
    from pyspark.sql import types as T

    cols = []
    for f in sorted(df.schema.fields, key=lambda f: f.name):
        if f.name in drop:
            continue
        c = F.col(f.name)
        if isinstance(f.dataType, T.MapType):
            c = F.to_json(F.array_sort(F.map_entries(c)))
        cols.append(c.alias(f.name))
    return df.select(*cols)

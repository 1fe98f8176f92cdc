"""Ingestion: declared sources -> bronze (+ quarantine) -> canonical, historised silver.

Public names: :class:`IngestConfig`, :class:`SourceConfig`, :func:`load_ingest_config`,
:func:`split_rows`, :func:`to_canonical` and the stage's :func:`run`.
"""

from vista.ingest.config import IngestConfig, OutputConfig, SourceConfig
from vista.ingest.loading import load_ingest_config

__all__ = ["IngestConfig", "OutputConfig", "SourceConfig", "load_ingest_config", "run",
           "split_rows", "to_canonical"]


def __getattr__(name: str):  # lazy: the Spark-heavy modules load on first use
    if name == "run":
        from vista.ingest.stage import run

        return run
    if name == "split_rows":
        from vista.ingest.validate import split_rows

        return split_rows
    if name == "to_canonical":
        from vista.ingest.mapping import to_canonical

        return to_canonical
    raise AttributeError(name)

"""The ingest stage: raw exports -> bronze (+ quarantine) -> gated silver.

``run(ctx)`` ingests every enabled source of ``ctx.config.ingest`` incrementally, then
publishes the new rows to the canonical silver tables. Counts per source and per
quarantine reason go into the run manifest; quality results too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.errors import ConfigError, ConfigProblem, QualityGateFailed
from vista.ingest import silver
from vista.ingest.batch_sources import ingest_batch_source
from vista.ingest.bronze import SourceCounts, describe, ensure_dir_exists, input_path, stream_files
from vista.ingest.config import IngestConfig, SourceConfig
from vista.ingest.mapping import check_output

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext

log = logging.getLogger(__name__)

#: vista.quality schema kind of each entity's silver table.
QUALITY_KIND = {"person": "person_records", "order": "orders", "order_line": "order_lines",
                "interaction": "interactions"}


def validate_sources(cfg: IngestConfig) -> None:
    """Check every output mapping against the canonical schemas; report all problems.

    Raises:
        ConfigError: Listing each problem with its key path.
    """
    problems = []
    for i, src in enumerate(cfg.sources):
        for j, out in enumerate(src.outputs):
            problems += [ConfigProblem(f"ingest.sources[{i}].outputs[{j}].mapping", msg)
                         for msg in check_output(src, out)]
    if problems:
        raise ConfigError(problems)


#: Canonical columns holding personal data: never shown in quality examples.
PII_COLUMNS = ("first_name", "last_name", "first_name_std", "last_name_std", "full_name_std",
               "email", "email_std", "phone", "phone_e164", "other_phones_e164", "birth_date",
               "address", "address_std", "postal_code")


def make_gates(ctx: RunContext, data_docs_dir: str) -> tuple[Callable, silver.Gate]:
    """The bronze gate (per source) and the silver gate (per entity, then per source)."""
    from vista.quality import builtin_expectations, gate

    cfg: IngestConfig = ctx.config.ingest

    def run_gate(df: DataFrame, table: str, specs: list[Any], pii: tuple[str, ...]) -> None:
        if not specs:
            return
        try:
            result = gate(df, table, specs, data_docs_dir=data_docs_dir, pii_columns=pii)
        except QualityGateFailed:
            ctx.manifest.record_metrics("ingest", {"quality_failed_table": table})
            raise
        ctx.manifest.record_quality(result)

    def bronze_gate(df: DataFrame, table: str) -> None:
        src = cfg.source(table.split("/", 1)[1])
        run_gate(df, table, list(src.expectations.bronze), tuple(src.pii))

    def silver_gate(df: DataFrame, table: str, entity: str, sources: list[SourceConfig]) -> None:
        run_gate(df, table, list(builtin_expectations(QUALITY_KIND[entity])), PII_COLUMNS)
        for src in sources:
            if src.expectations.silver:
                run_gate(df.where(F.col("source") == src.name), f"{table}[{src.name}]",
                         list(src.expectations.silver), PII_COLUMNS)

    return bronze_gate, silver_gate


def ingest_sources(ctx: RunContext, bronze_gate: Callable | None,
                   times: dict[str, float] | None = None) -> dict[str, SourceCounts]:
    """Bronze + quarantine for every enabled source; returns counts per source."""
    cfg: IngestConfig = ctx.config.ingest
    out: dict[str, SourceCounts] = {}
    for src in cfg.sources:
        if not src.enabled:
            continue
        with silver.timed(times, f"bronze/{src.name}"):
            if src.file_based:
                path = input_path(src, cfg)
                if not ensure_dir_exists(path):
                    log.warning("ingest %s: nothing at %s yet; skipped", src.name, src.path)
                    out[src.name] = SourceCounts(src.name)
                    continue
                out[src.name] = stream_files(ctx.spark, ctx.lake, src, cfg, bronze_gate)
            else:
                out[src.name] = ingest_batch_source(ctx.spark, ctx.lake, src, cfg, bronze_gate)
    return out


def run(ctx: RunContext) -> dict[str, int | float]:
    """Run the ingest stage.

    Args:
        ctx: The run context; uses ``ctx.config.ingest`` and ``ctx.lake``.
            ``ctx.options["quality"] = False`` skips the quality gates (tests, debugging).
            ``ctx.options["full"]`` rebuilds silver and its history from all of bronze
            (new files are still ingested to bronze first; no file is read twice).

    Returns:
        Counts for the stage's INFO line: ``sources``, ``files``, ``rows_in``, ``bronze``,
        ``quarantined`` and ``silver_<entity>`` (rows upserted per canonical table).
        Seconds per step (``bronze/<source>``, ``silver/<entity>/<step>``) go to the
        manifest as ``step_seconds``.

    Raises:
        ConfigError: When a source mapping does not fit the canonical schemas.
        QualityGateFailed: When a critical expectation fails; silver is left unchanged.
    """
    cfg: IngestConfig = ctx.config.ingest
    validate_sources(cfg)
    data_docs = ctx.lake.path("_quality/data_docs")
    gates = make_gates(ctx, data_docs) if ctx.options.get("quality", True) else (None, None)
    full = bool(ctx.options.get("full"))
    times: dict[str, float] = {}
    per_source = ingest_sources(ctx, gates[0], times)
    counts: dict[str, int | float] = {
        "sources": len(per_source),
        "files": sum(c.files for c in per_source.values()),
        "rows_in": sum(c.rows_in for c in per_source.values()),
        "bronze": sum(c.bronze for c in per_source.values()),
        "quarantined": sum(c.quarantined for c in per_source.values()),
    }
    ctx.manifest.record_metrics(
        "ingest", {"per_source": {n: describe(c) for n, c in per_source.items()}, **counts})
    enabled = [s for s in cfg.sources if s.enabled]
    if full:
        log.info("ingest: --full, rebuilding silver and its history from all of bronze")
    counts.update(silver.publish(ctx.lake, cfg, enabled, gates[1], full=full, times=times))
    ctx.manifest.record_metrics("ingest", {**counts, "full": int(full), "step_seconds": times})
    log.info("ingest: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts

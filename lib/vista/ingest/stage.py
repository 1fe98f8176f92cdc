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

from vista.errors import ConfigError, ConfigProblem, QualityGateFailed, SourceError
from vista.ingest import silver
from vista.ingest.batch_sources import ingest_batch_source
from vista.ingest.bronze import SourceCounts, describe, ensure_dir_exists, input_path, stream_files
from vista.ingest.config import IngestConfig, SourceConfig
from vista.ingest.fingerprint import changed_sources, mark_unpublished, record_fingerprints
from vista.ingest.mapping import check_output
from vista.ingest.replay import ReplayResult, replay_source
from vista.ingest.validate import PROBLEMS_COLUMN

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
    from vista.quality import ExpectationSpec, builtin_expectations, gate

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

    def bronze_gate(df: DataFrame, table: str, field_problems: int = 0) -> None:
        src = cfg.source(table.split("/", 1)[1])
        run_gate(df, table, list(src.expectations.bronze), tuple(src.pii))
        if field_problems:
            # a warning in the Data Docs: how many kept rows have a field nulled, and which
            # fields and reasons (names only, never the values)
            listed = df.select(F.when(F.size(PROBLEMS_COLUMN) > 0, F.concat_ws(", ", F.transform(
                PROBLEMS_COLUMN, lambda p: F.concat(p["field"], F.lit(":"), p["reason"]))))
                .alias("field_problems"))
            run_gate(listed, f"{table}[field_problems]", [ExpectationSpec(
                type="expect_column_values_to_be_null", kwargs={"column": "field_problems"},
                critical=False)], ())

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


def replay_quarantines(ctx: RunContext, sources: list[SourceConfig],
                       times: dict[str, float] | None = None) -> dict[str, ReplayResult]:
    """Re-evaluate every source's quarantine under the current config (see ``replay``).

    Sources that moved rows are marked unpublished until their silver is rebuilt
    (:func:`vista.ingest.fingerprint.mark_unpublished`).
    """
    out = {}
    for src in sources:
        with silver.timed(times, f"replay/{src.name}"):
            out[src.name] = replay_source(ctx.lake, src, ctx.config.ingest)
    mark_unpublished(ctx.spark, ctx.lake, [n for n, r in out.items() if r.moved], ctx.run_id)
    return out


def run(ctx: RunContext) -> dict[str, int | float]:
    """Run the ingest stage.

    Args:
        ctx: The run context; uses ``ctx.config.ingest`` and ``ctx.lake``.
            ``ctx.options["quality"] = False`` skips the quality gates (tests, debugging).
            ``ctx.options["full"]`` first replays every source's quarantine under the
            current config (rows that now pass move to bronze), then rebuilds silver
            and its history from all of bronze (new files are still ingested to bronze
            first; no file is read twice). A source whose settings changed since silver
            was built (:mod:`vista.ingest.fingerprint`) makes a plain run do the same for
            that source alone: its quarantine is replayed and its silver rows rebuilt,
            the other sources' rows are published incrementally.
            ``ctx.options["replay_sources"]`` (a list of source names; empty: every
            enabled source) runs :func:`replay` instead (``vista quarantine replay``).

    Returns:
        Counts for the stage's INFO line: ``sources``, ``files``, ``rows_in``, ``bronze``,
        ``quarantined``, ``field_problems`` (kept rows' fields set to null; per source,
        field and reason in the manifest), ``replayed`` (quarantined rows moved to
        bronze), ``silver_<entity>`` (rows upserted per canonical table) and
        ``removed_<entity>`` (records a snapshot source's newest export lacks).
        Seconds per step (``bronze/<source>``, ``silver/<entity>/<step>``) go to the
        manifest as ``step_seconds``.

    Raises:
        ConfigError: When a source mapping does not fit the canonical schemas.
        SourceError: A source's settings changed and ``ingest.on_config_change`` is
            ``stop``.
        QualityGateFailed: When a critical expectation fails; silver is left unchanged.
    """
    cfg: IngestConfig = ctx.config.ingest
    validate_sources(cfg)
    if ctx.options.get("replay_sources") is not None:
        return replay(ctx, list(ctx.options["replay_sources"]))
    enabled = [s for s in cfg.sources if s.enabled]
    full = bool(ctx.options.get("full"))
    changed = changed_sources(ctx.lake, cfg, enabled)
    if changed and not full:
        if cfg.on_config_change == "stop":
            raise SourceError(
                f"the mapping or checks of source(s) {changed} changed since their silver rows "
                f"were built (or rows replayed from their quarantine are not in silver yet), "
                f"so silver would be stale; run `vista run --stages ingest --full` "
                f"to rebuild it (or set ingest.on_config_change: rebuild)")
        log.warning("ingest: the settings of %s changed since silver was built; replaying "
                    "their quarantine and rebuilding their silver rows from bronze", changed)
    rebuild = [s.name for s in enabled] if full else changed
    gates = _gates(ctx)
    times: dict[str, float] = {}
    replayed = replay_quarantines(ctx, [s for s in enabled if s.name in rebuild], times)
    per_source = ingest_sources(ctx, gates[0], times)
    counts: dict[str, int | float] = {
        "sources": len(per_source),
        "files": sum(c.files for c in per_source.values()),
        "rows_in": sum(c.rows_in for c in per_source.values()),
        "bronze": sum(c.bronze for c in per_source.values()),
        "quarantined": sum(c.quarantined for c in per_source.values()),
        "field_problems": sum(sum(r.values()) for c in per_source.values()
                              for r in c.problems.values()),
    }
    counts["replayed"] = sum(r.moved for r in replayed.values())
    report = {n: describe(c) for n, c in per_source.items()}
    for name, r in replayed.items():
        report.setdefault(name, describe(SourceCounts(name)))["replay"] = {
            "moved_to_bronze": r.moved, "still_quarantined": r.remaining,
            "reasons_updated": r.updated}
    ctx.manifest.record_metrics("ingest", {"per_source": report, **counts})
    if full:
        log.info("ingest: rebuilding silver and its history from all of bronze")
    counts.update(silver.publish(ctx.lake, cfg, enabled, gates[1], full=full,
                                 rebuild=rebuild, times=times))
    recorded = record_fingerprints(ctx.spark, ctx.lake, cfg, enabled, ctx.run_id)
    ctx.manifest.record_metrics("ingest", {**counts, "full": int(full), "step_seconds": times,
                                           "config_changed": changed,
                                           "rebuilt_sources": sorted(rebuild),
                                           "fingerprints_recorded": recorded})
    log.info("ingest: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def _gates(ctx: RunContext) -> tuple[Callable | None, silver.Gate | None]:
    if not ctx.options.get("quality", True):
        return None, None
    return make_gates(ctx, ctx.lake.path("_quality/data_docs"))


def replay(ctx: RunContext, names: list[str]) -> dict[str, int | float]:
    """Re-evaluate quarantined rows under the current config (``vista quarantine replay``).

    No file is read. Each chosen source's quarantine is replayed
    (:func:`vista.ingest.replay.replay_source`): rows that now pass move to bronze
    exactly once, the rows that still fail keep their current reasons. Then the silver
    rows of every source that moved rows, or whose settings changed since its silver was
    built, are rebuilt from its bronze; the other sources are left as they are. The
    manifest records, per source, what moved and what remains.

    Args:
        ctx: The run context (as for :func:`run`).
        names: Sources to replay; empty: every enabled source.

    Returns:
        ``replayed`` (rows moved to bronze), ``still_quarantined`` and the
        ``silver_<entity>`` counts of the rebuild.

    Raises:
        SourceError: A name that is not an enabled source.
        QualityGateFailed: The rebuilt silver fails a critical expectation; silver is
            left unchanged (the moved rows stay in bronze and are published by the
            next rebuild).
    """
    cfg: IngestConfig = ctx.config.ingest
    enabled = {s.name: s for s in cfg.sources if s.enabled}
    unknown = [n for n in names if n not in enabled]
    if unknown:
        raise SourceError(f"no enabled source named {unknown}; the enabled sources are "
                          f"{sorted(enabled)}")
    chosen = [enabled[n] for n in dict.fromkeys(names)] or list(enabled.values())
    changed = changed_sources(ctx.lake, cfg, chosen)
    times: dict[str, float] = {}
    replayed = replay_quarantines(ctx, chosen, times)
    rebuild = [s for s in chosen if replayed[s.name].moved or s.name in changed]
    counts: dict[str, int | float] = {
        "sources": len(chosen),
        "replayed": sum(r.moved for r in replayed.values()),
        "still_quarantined": sum(r.remaining for r in replayed.values())}
    ctx.manifest.record_metrics("ingest", {"per_source": {n: {"replay": {
        "moved_to_bronze": r.moved, "still_quarantined": r.remaining,
        "reasons_updated": r.updated}} for n, r in replayed.items()}, **counts})
    if rebuild:
        log.info("ingest: rebuilding the silver rows of %s from bronze", [s.name for s in rebuild])
        counts.update(silver.publish(ctx.lake, cfg, rebuild, _gates(ctx)[1],
                                     rebuild=[s.name for s in rebuild], times=times))
    recorded = record_fingerprints(ctx.spark, ctx.lake, cfg, rebuild, ctx.run_id)
    ctx.manifest.record_metrics("ingest", {**counts, "step_seconds": times,
                                           "config_changed": changed,
                                           "rebuilt_sources": [s.name for s in rebuild],
                                           "fingerprints_recorded": recorded})
    log.info("ingest replay: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts

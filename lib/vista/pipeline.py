"""Runs stages in order, times them, and writes the run manifest."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from vista.config.models import STAGE_NAMES
from vista.errors import StageNotBuilt
from vista.housekeeping import after_run
from vista.manifest import RunManifest, new_run_id, utc_now
from vista.quality import remove_docs_staging
from vista.runtime import RunContext, manifest_dir

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from vista.config import VistaConfig

log = logging.getLogger(__name__)

# stage name -> module holding `run(ctx) -> dict`
STAGES: dict[str, str] = {
    "ingest": "vista.ingest.stage",
    "identity": "vista.identity.stage",
    "profile": "vista.profile.stage",
    "segments": "vista.segments.stage",
    "activation": "vista.activation.stage",
}
assert tuple(STAGES) == STAGE_NAMES


def stage_function(name: str) -> Callable[[RunContext], dict[str, Any]]:
    """Return a stage's ``run`` function.

    Raises:
        StageNotBuilt: The stage is part of vista's plan but not implemented yet.
    """
    module = STAGES[name]
    if not _present(module):
        raise StageNotBuilt(f"stage '{name}' is not built yet; run the built stages with "
                            f"--stages {' '.join(built_stages())}")
    return importlib.import_module(module).run


def built_stages() -> list[str]:
    """The stages whose code is present, in pipeline order."""
    return [name for name, module in STAGES.items() if _present(module)]


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is missing too
        return False


def _fmt(metrics: dict[str, Any]) -> str:
    parts = [f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in metrics.items()
             if isinstance(v, (int, float, str))]
    return " ".join(parts)


def run_pipeline(
    config: VistaConfig,
    spark: SparkSession,
    stages: Sequence[str] | None = None,
    options: dict[str, Any] | None = None,
    config_file: str | None = None,
) -> RunManifest:
    """Run the given stages (default ``config.run.stages``) and write the manifest.

    Returns:
        The written manifest (its ``status`` is ``succeeded`` or ``failed``).

    Raises:
        VistaError: Whatever a stage raised, after the manifest has been written.
    """
    from vista.lake import Lake

    if stages:
        names = list(stages)  # asked for by name: an unbuilt one is an error
    else:
        names = []
        for name in config.run.stages:
            if name in built_stages():
                names.append(name)
            else:
                log.info("stage %s is not built yet; skipped", name)
    fns = {name: stage_function(name) for name in names}  # fail before doing any work
    lake = Lake.from_config(spark, config.lake)
    manifest = RunManifest(run_id=new_run_id(), config_file=config_file, engine=lake.engine_name)
    lake.add_commit_listener(manifest.record_table)
    ctx = RunContext(spark=spark, config=config, lake=lake, manifest=manifest,
                     run_id=manifest.run_id, options=dict(options or {}),
                     checkpoint_dir=spark.sparkContext.getCheckpointDir())
    log.info("run %s: stages %s on the %s engine", manifest.run_id, ", ".join(names),
             lake.engine_name)
    try:
        for name in names:
            with manifest.stage(name) as record:
                metrics = fns[name](ctx) or {}
                record.metrics.update(metrics)
            log.info("stage %-10s done in %6.1f s  %s", name, record.duration_s, _fmt(metrics))
        manifest.status = "succeeded"
        after_run(ctx)  # compaction, vacuum, checkpoint cleanup
    except BaseException:
        manifest.status = "failed"
        raise
    finally:
        manifest.finished_at = utc_now()
        path = manifest.write(manifest_dir(config))
        remove_docs_staging()  # the Data Docs were uploaded; their local build goes
        log.info("run %s %s; manifest: %s", manifest.run_id, manifest.status, path)
    return manifest

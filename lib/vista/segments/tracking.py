"""MLflow logging of a segments refresh: one run per refresh.

The run (``segments``, tagged with the vista run id) holds the whole ``segments`` config
as parameters, then what each half of the refresh adds: the value half its fit
parameters, hold-out scores, sizes, transition tables, plots and the registered CLV
model; the behavioural half (:mod:`vista.segments.behaviour_tracking`) the k search,
drift, the registered lifestyle model, its plots and the catalogue. Everything logged is
aggregated: no UID and no personal data.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vista.segments import plots
from vista.segments.clv.pyfunc import log_clv_model

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext
    from vista.segments.clv.evaluate import HoldoutScores
    from vista.segments.config import SegmentsConfig
    from vista.segments.value import ValueSegments

log = logging.getLogger(__name__)

MAX_PARAM = 500  # MLflow's limit on a parameter value's length
RUN_NAME = "segments"


def flat_params(section: Mapping[str, Any], prefix: str = "segments") -> dict[str, str]:
    """A config section as ``dotted.key -> value`` strings (long lists as JSON)."""
    out: dict[str, str] = {}
    for key, value in section.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            out.update(flat_params(value, name))
        else:
            text = json.dumps(value, default=str) if isinstance(value, list) else str(value)
            out[name] = text if len(text) <= MAX_PARAM else text[: MAX_PARAM - 3] + "..."
    return out


@contextmanager
def refresh_run(ctx: RunContext, cfg: SegmentsConfig) -> Iterator[str]:
    """The refresh's one MLflow run: started here, or the one already active.

    A new run gets the whole ``segments`` config as parameters and is recorded in the
    manifest; both halves of the refresh log into it, so a refresh started by the stage
    is one run, and a half run on its own (a notebook, a test) still gets its run.

    Args:
        ctx: The run context.
        cfg: The ``segments`` config section.

    Yields:
        The run id.
    """
    import mlflow

    from vista import tracking

    active = mlflow.active_run()
    if active is not None:
        yield active.info.run_id
        return
    with tracking.start_run(ctx.config.mlflow, RUN_NAME,
                            tags={"vista_run": ctx.run_id}) as run:
        params = flat_params(cfg.model_dump(mode="json"))
        params["segments.clv.discount_per_unit"] = f"{cfg.clv.discount_per_unit:.8f}"
        mlflow.log_params(params)
        ctx.manifest.record_mlflow_run("segments", run.info.run_id, RUN_NAME)
        yield run.info.run_id


def track(ctx: RunContext, cfg: SegmentsConfig, out: ValueSegments,
          metrics: Mapping[str, float], sizes: Mapping[str, Mapping[str, int]],
          holdout: HoldoutScores | None) -> str:
    """Log the value half of the refresh to its run; returns the run id."""
    import mlflow

    from vista import tracking

    with refresh_run(ctx, cfg) as run_id:
        mlflow.set_tag("as_of", str(out.as_of))
        tracking.log_metrics(metrics)
        mlflow.log_dict({"as_of": str(out.as_of), **{k: dict(v) for k, v in sizes.items()}},
                        "segments/sizes.json")
        rows = [r.asDict() for r in out.transitions.collect()]  # segments x segments rows
        mlflow.log_dict({"transitions": rows}, "segments/transitions.json")
        if holdout is not None:
            mlflow.log_dict({"calibration": holdout.calibration},
                            "segments/clv_calibration.json")
        if cfg.plots:
            _log_plots(cfg, out, sizes, holdout)
        log_clv_model(out.model, cfg.clv.registered_model)
        return run_id


def _log_plots(cfg: SegmentsConfig, out: ValueSegments,
               sizes: Mapping[str, Mapping[str, int]], holdout: HoldoutScores | None) -> None:
    import mlflow
    from pyspark.sql import functions as F

    stats = out.summary.agg(F.expr("percentile_approx(frequency, 0.99)").alias("f"),
                            F.max("T").alias("t")).first()
    with tempfile.TemporaryDirectory(prefix="vista-segments-") as tmp:
        folder = Path(tmp)
        paths = plots.frequency_recency_heatmaps(out.model, int(stats["f"] or 1),
                                                 float(stats["t"] or 1.0), folder)
        paths.append(plots.size_bars(sizes["rfm"], "RFM segment sizes", folder,
                                     "rfm_segment_sizes.png"))
        paths.append(plots.size_bars(sizes["lifecycle"], "Lifecycle stage sizes", folder,
                                     "lifecycle_stage_sizes.png"))
        if holdout is not None and holdout.calibration:
            paths.append(plots.calibration_plot(holdout.calibration, folder))
        for path in paths:
            mlflow.log_artifact(str(path), artifact_path="segments/plots")

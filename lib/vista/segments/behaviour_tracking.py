"""MLflow logging of the behavioural half of a segments refresh.

It logs into the refresh's one run (``segments``, see :mod:`vista.segments.tracking`,
which holds the config as parameters): the k search (silhouette and stability per k),
the chosen k, segment sizes, drift and changed share as metrics, the registered
lifestyle model, PNG plots (segment sizes, lifts of the top terms per segment,
silhouette and stability against k), the transition counts and the catalogue as CSV.
Everything logged is aggregated: no UID and no personal data.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vista.segments.lifestyle_model import LifestyleModel, log_model
from vista.segments.tracking import RUN_NAME, refresh_run

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from vista.runtime import RunContext
    from vista.segments.behaviour import LifestyleOutcome
    from vista.segments.config import SegmentsConfig
    from vista.segments.lifestyle import LifestyleConfig

log = logging.getLogger(__name__)


def register(fitted: LifestyleModel, cfg: LifestyleConfig,
             spark: SparkSession) -> LifestyleModel:
    """Log and register a newly trained model in the active run; returns it versioned."""
    version = log_model(fitted, cfg.registered_model, spark)
    return dataclasses.replace(fitted, version=version)


class Tracker:
    """Collects what the refresh logs at its end."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.catalogue: DataFrame | None = None

    def log(self, metrics: dict[str, Any], life: LifestyleOutcome, sizes: dict[str, int],
            transitions: DataFrame, cfg: SegmentsConfig) -> None:
        """Log parameters, metrics, tables and plots to the active run."""
        import mlflow

        from vista import tracking

        # the config itself is the run's parameters already (refresh_run)
        mlflow.log_params({"lifestyle.model_version": str(life.model.version),
                           "lifestyle.reason": life.reason})
        tracking.log_metrics(metrics)
        mlflow.log_dict({"sizes": sizes, "segments": [s.as_dict() for s in life.model.segments]},
                        "segments/lifestyle_segments.json")
        # a handful of (previous, current) pairs per segmentation
        mlflow.log_text(transitions.toPandas().to_csv(index=False),
                        "segments/behaviour_transitions.csv")
        if self.catalogue is not None:  # one row per segment
            mlflow.log_text(self.catalogue.toPandas().to_csv(index=False),
                            "segments/segment_catalogue.csv")
        if cfg.plots:
            _log_plots(life, sizes)


@contextmanager
def run(ctx: RunContext, cfg: SegmentsConfig) -> Iterator[Tracker]:
    """The refresh's MLflow run (started if none is active), with a tracker for it."""
    with refresh_run(ctx, cfg):
        yield Tracker(ctx)


def _pyplot():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt


def _log_plots(life: LifestyleOutcome, sizes: dict[str, int]) -> None:
    import mlflow

    plt = _pyplot()
    with tempfile.TemporaryDirectory(prefix="vista-behaviour-") as tmp:
        out = Path(tmp)
        paths = [_sizes_plot(plt, sizes, out / "lifestyle_segment_sizes.png"),
                 _lift_heatmap(plt, life.model, out / "lifestyle_lift_heatmap.png")]
        if life.selection is not None:
            paths.append(_k_plot(plt, life.selection, out / "lifestyle_k_selection.png"))
        for path in paths:
            if path is not None:
                mlflow.log_artifact(str(path), artifact_path="segments/plots")


def _sizes_plot(plt: Any, sizes: dict[str, int], path: Path) -> Path:
    items = sorted(sizes.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(items) + 1.5))
    ax.barh([k for k, _ in items], [v for _, v in items], color="#4C72B0")
    ax.set_xlabel("customers")
    ax.set_title("Lifestyle segment sizes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _lift_heatmap(plt: Any, model: LifestyleModel, path: Path) -> Path | None:
    import numpy as np

    segs = [s for s in model.segments if s.cluster is not None]
    terms = list(dict.fromkeys(t for s in segs for t, _, _ in s.top_terms[:3]))
    if not segs or not terms:
        return None
    lifts = {(s.name, t): lift for s in segs for t, _, lift in s.top_terms}
    grid = np.array([[lifts.get((s.name, t), np.nan) for t in terms] for s in segs])
    fig, ax = plt.subplots(figsize=(0.5 * len(terms) + 4, 0.45 * len(segs) + 2))
    im = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(terms)), terms, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(len(segs)), [s.name for s in segs], fontsize=7)
    fig.colorbar(im, ax=ax, label="lift against the population")
    ax.set_title("Top over-indexed terms per lifestyle segment")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _k_plot(plt: Any, selection: Any, path: Path) -> Path:
    ks = [s.k for s in selection.scores]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ks, [s.silhouette for s in selection.scores], "o-", label="silhouette")
    ax.plot(ks, [s.stability for s in selection.scores], "s-", label="stability (ARI)")
    ax.plot(ks, [s.jaccard for s in selection.scores], "^-", label="worst-cluster Jaccard")
    ax.axvline(selection.k, color="grey", linestyle="--", label=f"chosen k={selection.k}")
    ax.set_xlabel("k")
    ax.legend()
    ax.set_title("Lifestyle: choosing k")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def compare_runs(cfg: Any, runs: int = 2) -> Any:
    """The last ``runs`` behavioural refreshes side by side: one column per MLflow run.

    Args:
        cfg: The ``mlflow`` config section.
        runs: How many of the latest ``segments`` runs to show.

    Returns:
        A pandas DataFrame: one row per metric or parameter (``metrics.*``,
        ``params.*``), one column per run (newest first), labelled by start time.
    """
    import mlflow

    from vista import tracking

    experiment_id = tracking.configure(cfg)
    found = mlflow.search_runs([experiment_id], max_results=runs,
                               filter_string=f"tags.mlflow.runName = '{RUN_NAME}'",
                               order_by=["attributes.start_time DESC"])
    if found.empty:
        return found
    found = found.set_index(found["start_time"].astype(str))
    keep = [c for c in found.columns if c.startswith(("metrics.", "params.lifestyle"))]
    return found[keep].T.sort_index()

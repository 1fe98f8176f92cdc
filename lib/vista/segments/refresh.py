"""One refresh of the value segmentations: compute, gate, publish, evaluate, track."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from vista.segments.value import (
    GRAPH_T,
    compute,
    gate_value,
    publish,
    segments_config,
    sizes,
)

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext

log = logging.getLogger(__name__)


def run_value(ctx: RunContext) -> dict[str, int | float | str]:
    """RFM, lifecycle and CLV for every profile UID.

    Options: ``gate`` (default True; False skips the quality gate, for tests that run the
    stage several times and check the gate once).

    Args:
        ctx: The run context.

    Returns:
        Metrics for the stage's INFO line and the manifest (fit parameters,
        log-likelihoods, rows changed per table, hold-out scores when configured).

    Raises:
        SegmentsInputError: The profile tables are missing.
        ClvFitError: A CLV fit failed (the message says what to try).
        QualityGateFailed: An assignment failed its gate; nothing was written.
    """
    cfg = segments_config(ctx.config)
    out = compute(ctx, cfg)
    if ctx.options.get("gate", True):
        for result in gate_value(ctx.lake.read("gold/customer_profile").select("uid"), out,
                                 cfg):
            ctx.manifest.record_quality(result)
    written = publish(ctx, out)
    bg, gg = out.model.bgnbd, out.model.gamma_gamma
    metrics: dict[str, int | float | str] = {
        "as_of": out.as_of.isoformat(),
        "customers": written[0].rows,
        "buyers": bg.customers,
        "clv_patterns": bg.patterns,
        "clv_spend_groups": gg.patterns,
        "bgnbd_log_likelihood": bg.log_likelihood,
        "gamma_gamma_log_likelihood": gg.log_likelihood,
        **{f"bgnbd_{k}": v for k, v in bg.params.items()},
        **{f"gamma_gamma_{k}": v for k, v in gg.params.items()},
        **out.extra,
    }
    for w in written:
        name = w.table.split("/")[-1]
        metrics[f"{name}_changed"] = w.changed
        metrics[f"{name}_removed"] = w.removed
    holdout = _holdout(ctx, cfg, out)
    if holdout is not None:
        metrics.update(holdout.metrics())
    counts = {"rfm": sizes(out.rfm, "segment"), "lifecycle": sizes(out.lifecycle, "stage"),
              "clv_tier": sizes(out.clv, "clv_tier")}
    numeric = {k: v for k, v in metrics.items() if not isinstance(v, str)}
    for seg, per in counts.items():
        numeric.update({f"size_{seg}_{name}": n for name, n in per.items()})
    ctx.manifest.record_metrics("segments", {**metrics, "sizes": counts})
    if cfg.track_mlflow:
        from vista.segments.tracking import track

        track(ctx, cfg, out, numeric, counts, holdout)
    return metrics


def _holdout(ctx: RunContext, cfg, out):  # noqa: ANN001, ANN202
    holdout_cfg = cfg.clv.holdout
    if holdout_cfg.persons is None or not ctx.lake.exists(GRAPH_T):
        return None
    from vista.segments.clv.evaluate import evaluate_holdout, truth_per_uid

    truth = truth_per_uid(ctx.spark, holdout_cfg, ctx.lake.read(GRAPH_T))
    orders = ctx.lake.read("gold/customer_orders").select("uid", "ts", "amount_reporting")
    return evaluate_holdout(out.summary, out.model, orders, truth, out.as_of, holdout_cfg)

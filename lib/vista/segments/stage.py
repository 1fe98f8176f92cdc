"""The ``segments`` pipeline stage: value segmentations (RFM, lifecycle, lifetime value),
then the behavioural ones.

Reads ``gold/customer_profile`` and the profile's UID-keyed tables; see
:mod:`vista.segments.refresh` for the value half.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vista.segments.behaviour import run_behavioural
from vista.segments.refresh import run_value
from vista.segments.tracking import refresh_run
from vista.segments.value import segments_config

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext


def run(ctx: RunContext) -> dict[str, Any]:
    """Refresh every segmentation; returns the metrics of the stage's INFO line.

    Both halves log into one MLflow run (``segments``) per refresh.

    Args:
        ctx: The run context.

    Returns:
        Metrics (fit parameters, rows changed per table, hold-out scores, ...).
    """
    cfg = segments_config(ctx.config)
    with refresh_run(ctx, cfg):
        metrics: dict[str, Any] = dict(run_value(ctx))
        metrics.update(run_behavioural(ctx, cfg))
    return metrics

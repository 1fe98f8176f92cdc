"""The activation stage's work: export every destination, then the analyst views.

``run_activation(ctx)`` exports each enabled destination (:mod:`vista.activation.exports`)
with a quality gate on the rows about to be written (the key is present and unique),
records per destination the rows exported, added, changed, removed and withheld for
consent in the run manifest, then writes the pseudonymised analyst views when enabled.
``ctx.options["dry_run"]`` counts without writing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame

from vista.activation.exports import ExportResult, export_all
from vista.activation.pseudonymise import pseudonymised_views

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext

log = logging.getLogger(__name__)


def run_activation(ctx: RunContext) -> dict[str, Any]:
    """Run the activation stage.

    Returns:
        Totals for the stage's INFO line (``exports``, ``exported``, ``added``,
        ``changed``, ``removed``, ``withheld``); per-destination counts go to the manifest
        under ``destinations``.

    Raises:
        ExportFailed: One or more destinations failed (the others were exported and
            recorded; the failed ones' state was not advanced).
    """
    from vista.quality import gate, not_null, unique

    cfg = ctx.config.activation
    data_docs = ctx.lake.path("_quality/data_docs")
    per_dest: dict[str, Any] = {}

    def check(df: DataFrame, table: str, key: str) -> None:
        result = gate(df, table, [*not_null([key]), *unique([key])], data_docs_dir=data_docs,
                      pii_columns=df.columns)
        ctx.manifest.record_quality(result)

    def done(result: ExportResult) -> None:
        per_dest[result.destination] = result.metrics()
        ctx.manifest.record_metrics("activation", {"destinations": dict(per_dest)})

    results = export_all(ctx.lake, cfg, ctx.run_id, dry_run=bool(ctx.options.get("dry_run")),
                         gate=check, done=done)
    views = {} if ctx.options.get("dry_run") else pseudonymised_views(ctx.lake, cfg.pseudonymise)
    totals: dict[str, Any] = {"exports": len(results)}
    for name in ("exported", "added", "changed", "removed", "withheld"):
        totals[name] = sum(getattr(r, name) for r in results)
    if views:
        totals["analyst_views"] = len(views)
    ctx.manifest.record_metrics("activation", {"destinations": per_dest, "views": views})
    return totals

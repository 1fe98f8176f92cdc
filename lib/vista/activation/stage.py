"""The ``activation`` pipeline stage: every configured destination exported in its own
ids, consent respected, then the pseudonymised analyst views (see
:mod:`vista.activation.activate`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vista.activation.activate import run_activation

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext


def run(ctx: RunContext) -> dict[str, Any]:
    """Export every enabled destination; returns the stage's counts.

    Args:
        ctx: The run context (``options["dry_run"]`` counts without writing).

    Returns:
        Totals: exports, rows exported, added, changed, removed, withheld for consent.
    """
    return run_activation(ctx)

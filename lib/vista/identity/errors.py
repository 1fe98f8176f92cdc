"""Every error identity resolution raises on purpose, under ``vista.errors.VistaError``.

Each message says what was expected, what was found and what to do.
"""

from __future__ import annotations

from vista.errors import VistaError


class IdentityError(VistaError):
    """Base of the identity stage's errors."""


class LinkingInputError(IdentityError):
    """An input frame lacks columns the linking step needs."""


class ModelError(IdentityError):
    """The probabilistic model cannot be trained or applied as configured."""


class BlockingRuleTooBroad(ModelError):  # noqa: N818 - reads as the problem it reports
    """A blocking rule would make more comparisons than the configured limit."""


class SplinkVersionError(ModelError):
    """The installed Splink is not the release vista's EM workaround was checked against."""


class ClusteringError(IdentityError):
    """Clustering could not finish as configured (e.g. components did not converge)."""


class EvaluationInputError(IdentityError):
    """A predicted or truth frame does not have the expected columns."""


class ExplainError(IdentityError):
    """The UID or record asked about is not in the identity graph."""

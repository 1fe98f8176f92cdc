"""Typed configuration of clustering (links -> people).

Every default is general; a deployment sets its own values under ``identity`` in
``conf/``. The YAML shape (every key optional)::

    identity:
      clustering:
        match_threshold: 0.95          # probabilistic link is an edge at >= this probability
        deterministic_kinds: null      # null = every "deterministic:<kind>" link is an edge
        deterministic_weight: 30.0     # greedy-merge weight of a deterministic link
        max_component_size: 200        # larger components are split by stricter edges first
        split_thresholds: [0.99, 0.999]
        max_iterations: 60             # connected-components guard
        lone_records: {enabled: true, min_probability: 0.5}
        compatibility: {...}           # the person rules: vista.identity.person.config
"""

from __future__ import annotations

from pydantic import Field, model_validator

from vista.config.models import Section
from vista.identity.person.config import CompatibilityConfig


class LoneRecordRule(Section):
    """A record clustering left alone joins the one person its weaker links point to.

    A support ticket that carries only a name (and perhaps a home landline) scores below
    ``match_threshold`` against its owner's other records: one field agrees, the others
    are missing or disagree. Such a record, alone in its cluster after clustering, joins
    another cluster when all of the following hold:

    * its probabilistic links at ``min_probability`` or more reach that one cluster and
      no other;
    * that cluster carries the record's name (first word of the first name and of the
      last name, or the first two words of a full name) and no third cluster does, so a
      namesake never makes the choice a guess;
    * the record is compatible with every record there (``compatibility``).

    The links below ``match_threshold`` exist only when the model scores them:
    ``identity.linking.probabilistic.threshold_match_probability`` must not exceed
    ``min_probability``.
    """

    enabled: bool = True
    min_probability: float = Field(0.5, gt=0.0, lt=1.0)


class ClusteringConfig(Section):
    """How pairwise links become clusters of records (one cluster = one person)."""

    match_threshold: float = Field(0.95, gt=0.0, le=1.0)
    deterministic_kinds: list[str] | None = None
    deterministic_weight: float = 30.0
    max_component_size: int = Field(200, ge=2)
    split_thresholds: list[float] = Field(default_factory=lambda: [0.99, 0.999])
    max_iterations: int = Field(60, ge=1)
    compatibility: CompatibilityConfig = Field(default_factory=CompatibilityConfig)
    lone_records: LoneRecordRule = Field(default_factory=LoneRecordRule)

    @model_validator(mode="after")
    def _stricter_levels(self) -> ClusteringConfig:
        problems = []
        levels = [self.match_threshold, *self.split_thresholds]
        if any(b <= a for a, b in zip(levels, levels[1:], strict=False)) or levels[-1] > 1.0:
            problems.append(f"split_thresholds must rise strictly above match_threshold "
                            f"and stay <= 1; found {levels}")
        if self.lone_records.enabled and self.lone_records.min_probability >= self.match_threshold:
            problems.append(f"lone_records.min_probability ({self.lone_records.min_probability}) "
                            f"must be below match_threshold ({self.match_threshold})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

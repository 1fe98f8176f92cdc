"""The ``segments`` section of vista's configuration.

YAML shape (every key optional)::

    segments:
      rfm: {...}          # RfmConfig: score bins, quantile error, the ordered rule list
      lifecycle: {...}    # LifecycleConfig: global thresholds and cadence multiples
      clv: {...}          # ClvConfig: time unit, horizon, discounting, fit, tiers, hold-out
      track_mlflow: true
      plots: true

The behavioural segmentations (lifestyle, intent, micro-segments, catalogue) add their
own sub-sections here.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import Field, field_validator, model_validator

from vista.config.models import Section
from vista.segments.catalogue import CatalogueConfig
from vista.segments.intent import IntentConfig
from vista.segments.lifestyle import LifestyleConfig
from vista.segments.micro import MicroConfig

DAYS_PER_UNIT = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}


class RfmRule(Section):
    """One named segment of the RFM scheme: the score ranges it covers (inclusive).

    Attributes:
        name: The segment's name, as written to ``gold/segments_rfm.segment``.
        r: ``[low, high]`` recency scores (high = bought recently); omitted = any.
        f: ``[low, high]`` frequency scores; omitted = any.
        m: ``[low, high]`` monetary scores; omitted = any.
        description: What the segment means, for people and the catalogue.
    """

    name: str = Field(min_length=1)
    r: tuple[int, int] | None = None
    f: tuple[int, int] | None = None
    m: tuple[int, int] | None = None
    description: str = ""

    def covers(self, r: int, f: int, m: int) -> bool:
        """Whether the cell ``(r, f, m)`` falls in every range of the rule."""
        return all(rng is None or rng[0] <= v <= rng[1]
                   for rng, v in ((self.r, r), (self.f, f), (self.m, m)))


def _rule(name: str, r: tuple[int, int] | None, f: tuple[int, int] | None,
          m: tuple[int, int] | None, description: str) -> RfmRule:
    return RfmRule(name=name, r=r, f=f, m=m, description=description)


def classic_scheme() -> list[RfmRule]:
    """The classic eleven RFM segments as an ordered rule list on 1-5 scores.

    Published tables of these segments overlap and leave cells out; this order makes
    every one of the 125 cells land in exactly one segment (first match wins).
    """
    return [
        _rule("champions", (4, 5), (4, 5), (4, 5), "bought recently, buy often, spend most"),
        _rule("loyal_customers", (3, 5), (3, 5), (3, 5), "buy regularly and spend well"),
        _rule("cant_lose_them", (1, 2), (4, 5), (4, 5),
              "used to buy often and spend most, not seen for long"),
        _rule("at_risk", (1, 2), (3, 5), None, "bought often, a long time ago"),
        _rule("new_customers", (5, 5), (1, 1), None, "first purchase very recently"),
        _rule("promising", (4, 4), (1, 1), None, "recent first-time buyers"),
        _rule("potential_loyalists", (4, 5), None, None,
              "recent customers with a few purchases"),
        _rule("need_attention", (3, 3), (3, 5), None,
              "above-average frequency, recency slipping"),
        _rule("about_to_sleep", (3, 3), (1, 2), None, "below average, fading"),
        _rule("hibernating", (2, 2), (1, 2), None, "few purchases, long ago"),
        _rule("lost", (1, 1), (1, 2), None, "lowest recency and frequency"),
    ]


class RfmConfig(Section):
    """RFM scores and named segments (``gold/segments_rfm``).

    Attributes:
        bins: Score levels per dimension (5 = quintiles): scores run 1..bins, and the
            cut points are the ``k / bins`` quantiles of the buyers' values.
        relative_error: Relative error of Spark's ``approxQuantile`` for the cut points
            (0 = exact, which costs a full sort).
        segments: The ordered rule list; a customer takes the first rule that covers
            its (R, F, M) cell. Every cell must be covered (checked when the config
            loads).
        no_orders_segment: The segment of customers without any order (no scores).
        empty_segments: What an empty segment does at the quality gate: ``error``
            stops publication, ``warn`` records a warning, ``allow`` skips the check.
    """

    bins: int = Field(5, ge=2, le=10)
    relative_error: float = Field(0.001, ge=0.0, le=0.1)
    segments: list[RfmRule] = Field(default_factory=classic_scheme, min_length=1)
    no_orders_segment: str = Field("prospects", min_length=1)
    empty_segments: Literal["error", "warn", "allow"] = "warn"

    @model_validator(mode="after")
    def _scheme_complete(self) -> RfmConfig:
        problems = scheme_problems(self.segments, self.bins)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def segment_names(self) -> list[str]:
        """Every segment the scheme can assign, in rule order, then ``no_orders_segment``."""
        names = list(dict.fromkeys(rule.name for rule in self.segments))
        return [*names, self.no_orders_segment]


def scheme_problems(rules: list[RfmRule], bins: int) -> list[str]:
    """What is wrong with an ordered RFM rule list on ``bins`` score levels.

    Returns:
        Messages: ranges outside ``1..bins`` or reversed, (R, F, M) cells no rule
        covers (named as ``"RFM"`` strings), and rules that never match because earlier
        rules take all their cells. Empty when the scheme is sound.
    """
    problems = []
    for rule in rules:
        for dim in ("r", "f", "m"):
            rng = getattr(rule, dim)
            if rng is not None and not 1 <= rng[0] <= rng[1] <= bins:
                problems.append(f"rule {rule.name!r}: {dim} range {list(rng)} is not within "
                                f"1..{bins} with low <= high")
    if problems:
        return problems
    first_match: dict[str, int] = {}
    unnamed = []
    for cell in itertools.product(range(1, bins + 1), repeat=3):
        hit = next((rule.name for rule in rules if rule.covers(*cell)), None)
        if hit is None:
            unnamed.append("".join(map(str, cell)))
        else:
            first_match[hit] = first_match.get(hit, 0) + 1
    if unnamed:
        shown = ", ".join(unnamed[:40]) + (" ..." if len(unnamed) > 40 else "")
        problems.append(f"{len(unnamed)} of {bins ** 3} (R, F, M) cells match no segment: "
                        f"{shown}; add a rule for them or widen one (rules are ordered, the "
                        f"first that covers a cell names it)")
    shadowed = [rule.name for rule in rules if rule.name not in first_match]
    if shadowed:
        problems.append(f"rule(s) {shadowed} never match: earlier rules take every cell "
                        f"they cover; move them up or remove them")
    return problems


class CadenceConfig(Section):
    """Lifecycle thresholds relative to a customer's own purchase cadence (the mean
    number of days between their purchase days), for customers with enough history.

    Attributes:
        min_orders: Purchase days a customer needs for the cadence to be used (at
            least 2 gaps by default); others take the global thresholds.
        active_multiple: Active while the days since the last purchase are at most
            this many cadences.
        at_risk_multiple: At risk up to this many cadences.
        lapsed_multiple: Lapsed up to this many cadences; churned beyond.
        reactivation_multiple: A purchase after a gap of at least this many cadences
            reactivates the customer.
        min_days: Floor of every cadence threshold in days, so a customer who bought
            three times in a week is not churned a month later.
    """

    min_orders: int = Field(3, ge=2)
    active_multiple: float = Field(1.5, gt=0)
    at_risk_multiple: float = Field(3.0, gt=0)
    lapsed_multiple: float = Field(6.0, gt=0)
    reactivation_multiple: float = Field(3.0, gt=0)
    min_days: int = Field(30, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> CadenceConfig:
        if not self.active_multiple <= self.at_risk_multiple <= self.lapsed_multiple:
            raise ValueError("expected active_multiple <= at_risk_multiple <= lapsed_multiple")
        return self


class LifecycleConfig(Section):
    """Lifecycle stages (``gold/segments_lifecycle``); days count back from the as-of date.

    Stages: ``prospect`` (known, never bought), ``new`` (first purchase within
    ``new_days``), ``reactivated`` (a recent purchase after a long gap), ``active``,
    ``at_risk``, ``lapsed``, ``churned`` (by days since the last purchase).

    Attributes:
        new_days: A first purchase at most this many days ago makes the customer new.
        active_days: Global threshold: active while the last purchase is this recent.
        at_risk_days: At risk up to this many days.
        lapsed_days: Lapsed up to this many days; churned beyond.
        reactivation_gap_days: Global gap before a recent purchase that counts as a
            reactivation.
        cadence: Thresholds relative to the customer's own cadence.
    """

    new_days: int = Field(90, ge=1)
    active_days: int = Field(90, ge=1)
    at_risk_days: int = Field(180, ge=1)
    lapsed_days: int = Field(365, ge=1)
    reactivation_gap_days: int = Field(180, ge=1)
    cadence: CadenceConfig = Field(default_factory=CadenceConfig)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleConfig:
        if not self.active_days <= self.at_risk_days <= self.lapsed_days:
            raise ValueError("expected active_days <= at_risk_days <= lapsed_days")
        return self


class ClvTier(Section):
    """A CLV tier: the next ``share`` of buyers by CLV, from the top."""

    name: str = Field(min_length=1)
    share: float = Field(gt=0, le=1)


def _default_tiers() -> list[ClvTier]:
    return [ClvTier(name="top", share=0.1), ClvTier(name="high", share=0.2),
            ClvTier(name="medium", share=0.3), ClvTier(name="low", share=0.4)]


class HoldoutConfig(Section):
    """Scoring the CLV predictions against known future purchases (a sample lake's
    ground truth), when ``persons`` is set.

    Attributes:
        persons: Parquet with one row per person: ``person_id`` and the two columns
            below.
        record_person: Parquet mapping ``(source, source_record_id)`` to ``person_id``;
            joined with ``silver/identity_graph`` to reach UIDs.
        days: Length of the hold-out window after the as-of date.
        purchases_column: Purchases in the window, per person.
        value_column: Spend in the window (reporting currency), per person.
    """

    persons: str | None = None
    record_person: str | None = None
    days: int = Field(182, ge=1)
    purchases_column: str = "purchases_holdout"
    value_column: str = "value_holdout_eur"

    @model_validator(mode="after")
    def _both(self) -> HoldoutConfig:
        if (self.persons is None) != (self.record_person is None):
            raise ValueError("set both persons and record_person, or neither")
        return self


class ClvConfig(Section):
    """Customer lifetime value (``gold/clv``): BG/NBD purchases and P(alive), Gamma-Gamma
    spend per purchase, discounted over a horizon.

    Attributes:
        time_unit: The models' time unit (``day``, ``week``, ``month``): recency, T and
            the horizon are counted in it; purchases are counted per distinct day.
        horizon: Periods (of ``time_unit``) the CLV and expected purchases look ahead.
        annual_discount_rate: Yearly discount rate of future spend (0.1 = 10 %),
            converted to a rate per time unit.
        l2_penalty: L2 penalty on the fitted log-parameters (0 = plain maximum
            likelihood); a little (0.01) keeps a fit on few customers finite.
        max_iterations: Optimiser iteration limit of each fit.
        monetary_precision: Relative width of the spend bins that reduce repeat buyers
            to Gamma-Gamma's sufficient statistics (the sum of log spend is exact; the
            rest of the likelihood sees the bin's geometric mean).
        min_repeat_buyers: Fewer repeat buyers than this is an error: the fit would
            be noise.
        independence_max_corr: Gamma-Gamma assumes spend independent of frequency; a
            larger absolute correlation between them is logged as a warning.
        tiers: ``clv_tier`` names with the share of buyers each takes, from the top;
            the shares add up to 1.
        relative_error: ``approxQuantile`` error of the tier cut points.
        registered_model: MLflow registry name of the CLV pyfunc; null to not register.
        holdout: Optional scoring against known hold-out purchases.
    """

    time_unit: Literal["day", "week", "month"] = "week"
    horizon: int = Field(52, ge=1, le=520)
    annual_discount_rate: float = Field(0.10, ge=0.0, lt=1.0)
    l2_penalty: float = Field(0.0, ge=0.0)
    max_iterations: int = Field(1000, ge=10)
    monetary_precision: float = Field(0.001, gt=0.0, le=0.1)
    min_repeat_buyers: int = Field(10, ge=1)
    independence_max_corr: float = Field(0.3, gt=0.0, le=1.0)
    tiers: list[ClvTier] = Field(default_factory=_default_tiers, min_length=1)
    relative_error: float = Field(0.001, ge=0.0, le=0.1)
    registered_model: str | None = "vista-clv"
    holdout: HoldoutConfig = Field(default_factory=HoldoutConfig)

    @field_validator("tiers")
    @classmethod
    def _shares(cls, tiers: list[ClvTier]) -> list[ClvTier]:
        total = sum(t.share for t in tiers)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"tier shares add up to {total:g}; they must add up to 1")
        return tiers

    @property
    def unit_days(self) -> float:
        """Days per time unit."""
        return DAYS_PER_UNIT[self.time_unit]

    @property
    def discount_per_unit(self) -> float:
        """The discount rate per time unit equivalent to ``annual_discount_rate``."""
        return (1.0 + self.annual_discount_rate) ** (self.unit_days / 365.25) - 1.0


class SegmentsConfig(Section):
    """Everything the segments stage needs.

    Attributes:
        rfm: RFM scores and named segments.
        lifecycle: Lifecycle stages.
        clv: Lifetime value.
        lifestyle: Lifestyle clusters (features, k search, naming, drift, gate bounds).
        intent: "In market for X" from recent signals.
        micro: The overlay of segmentations into micro-segments.
        catalogue: The segment catalogue (traits, survey attitudes).
        track_mlflow: Log each refresh as an MLflow run (config, metrics, plots, model).
        plots: Draw the PNG plots of the MLflow run (matplotlib).
    """

    rfm: RfmConfig = Field(default_factory=RfmConfig)
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)
    clv: ClvConfig = Field(default_factory=ClvConfig)
    lifestyle: LifestyleConfig = Field(default_factory=LifestyleConfig)
    intent: IntentConfig = Field(default_factory=IntentConfig)
    micro: MicroConfig = Field(default_factory=MicroConfig)
    catalogue: CatalogueConfig = Field(default_factory=CatalogueConfig)
    track_mlflow: bool = True
    plots: bool = True

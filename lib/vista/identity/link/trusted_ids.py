"""Which declared id kinds this lake shows to be personal (see ``TrustedIdRule``).

The compatibility rules (birth date, first name, full name) separate records that look
like two people. Whether a first-name or birth-date disagreement between two records
that share a national id is a second person or a typo depends on the lake: measured
here, once per run, from the pairs of records that share a value of each declared id
kind. Only aggregated counts (one row per id kind) reach the driver.

The pairs of the trusted kinds are records of one person, so they also measure how
often this lake's data entry breaks the first-name and birth-date rules: a rule broken
more often than ``max_rule_noise`` is noise here and is relaxed (``noisy_rules``).
"""

from __future__ import annotations

import logging
import math
from statistics import NormalDist
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.identity.person.config import CompatibilityConfig

if TYPE_CHECKING:  # pragma: no cover - the identity section composes link/'s config
    from vista.identity.config import IdentityConfig

log = logging.getLogger(__name__)

RULE_COLUMNS = {"first_name": "first_name_std", "birth_date": "birth_date"}
"""The compatibility rules the trusted pairs measure, and the column each one reads
(the comparison a probabilistic veto on that field names)."""


def id_kind_evidence(records: DataFrame,
                     cfg: IdentityConfig) -> dict[str, tuple[int, int, int, int]]:
    """Per declared id kind: pairs of records sharing a value, and their disagreements.

    A pair *conflicts* when both its first names and its birth dates disagree by the
    compatibility rules.

    Args:
        records: Person records (``ids`` map, names, birth date).
        cfg: The identity config (id kinds and the per-value record limit of
            ``linking.deterministic``, the compatibility rules of ``clustering``).

    Returns:
        ``{kind: (pairs, first names disagree, birth dates disagree, both)}`` for the
        kinds with at least one pair.
    """
    from vista.identity.person.compatibility import compatibility_frame, incompatible

    det = cfg.linking.deterministic
    comp = cfg.clustering.compatibility
    values = (records.select("record_key", F.explode("ids").alias("kind", "value"))
              .withColumn("value", F.trim("value"))
              .where(F.col("value").isNotNull() & (F.length("value") > 0)))
    if det.id_kinds is not None:
        values = values.where(F.col("kind").isin(det.id_kinds))
    elif det.exclude_id_kinds:
        values = values.where(~F.col("kind").isin(det.exclude_id_kinds))
    limit = F.lit(det.guards.max_records_per_value)
    for kind, n in det.per_kind_max_records.items():
        limit = F.when(F.col("kind") == kind, F.lit(n)).otherwise(limit)
    sizes = values.groupBy("kind", "value").agg(F.count("*").alias("n"))
    values = values.join(sizes.where((F.col("n") > 1) & (F.col("n") <= limit)),
                         on=["kind", "value"], how="left_semi")
    plain = _untrusting(comp)
    people = compatibility_frame(records, plain)
    members = values.join(people, on="record_key", how="inner")
    left = members.select([F.col(c).alias(f"l_{c}") for c in members.columns])
    right = members.select([F.col(c).alias(f"r_{c}") for c in members.columns])
    pairs = left.join(right, (F.col("l_kind") == F.col("r_kind"))
                      & (F.col("l_value") == F.col("r_value"))
                      & (F.col("l_record_key") < F.col("r_record_key")), how="inner")
    only_names = plain.model_copy(update={
        "birth_date": plain.birth_date.model_copy(update={"enabled": False}),
        "full_name": plain.full_name.model_copy(update={"enabled": False}),
        "gender_must_agree": False})
    only_dates = plain.model_copy(update={
        "first_name": plain.first_name.model_copy(update={"enabled": False}),
        "full_name": plain.full_name.model_copy(update={"enabled": False}),
        "gender_must_agree": False})
    names = incompatible(only_names) if comp.first_name.enabled else F.lit(False)
    dates = incompatible(only_dates) if comp.birth_date.enabled else F.lit(False)
    # each rule once per pair: the sums read the flags, not copies of the rules
    flags = pairs.select(F.col("l_kind").alias("kind"), names.cast("long").alias("names"),
                         dates.cast("long").alias("dates"))
    rows = (flags.groupBy("kind")
            .agg(F.count("*").alias("pairs"), F.sum("names").alias("names"),
                 F.sum("dates").alias("dates"), F.sum(F.col("names") * F.col("dates"))
                 .alias("both"))
            .collect())  # one row per id kind
    return {r.kind: (int(r.pairs), int(r.names or 0), int(r.dates or 0), int(r.both or 0))
            for r in rows}


def is_trusted(evidence: tuple[int, int, int, int], cfg: IdentityConfig) -> bool:
    """Whether a kind's pairs look like one person each, mistyped, not like two people.

    Typos in first names and in birth dates are independent, so among pairs of one
    person the share disagreeing on both is about the product of the two shares; among
    pairs of different people it is about the smaller share itself.
    """
    rule = cfg.clustering.compatibility.trusted_ids
    pairs, names, dates, both = evidence
    if pairs < rule.min_pairs:
        return False
    chance = rule.max_conflict_lift * (names / pairs) * (dates / pairs)
    return both / pairs <= max(rule.max_conflict_share, chance)


def lower_bound(hits: int, n: int, confidence: float) -> float:
    """The one-sided Wilson score lower bound of the share ``hits / n``."""
    if n <= 0:
        return 0.0
    z = NormalDist().inv_cdf(confidence)
    p = hits / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / (1 + z * z / n))


def noisy_rules(evidence: dict[str, tuple[int, int, int, int]], trusted: list[str],
                cfg: IdentityConfig) -> list[str]:
    """The compatibility rules that the pairs of the trusted kinds show to be noise.

    Args:
        evidence: :func:`id_kind_evidence`'s counts per id kind.
        trusted: The trusted kinds (their pairs are records of one person).
        cfg: The identity config (``clustering.compatibility.trusted_ids``).

    Returns:
        Names among ``RULE_COLUMNS`` (``first_name``, ``birth_date``) whose share of
        disagreeing pairs is, at ``rule_noise_confidence``, above ``max_rule_noise``.

    Example:
        >>> noisy_rules({"ssn": (5000, 500, 40, 4)}, ["ssn"], IdentityConfig())
        ['first_name']
    """
    rule = cfg.clustering.compatibility.trusted_ids
    counts = [evidence[k] for k in trusted if k in evidence]
    pairs = sum(c[0] for c in counts)
    broken = {"first_name": sum(c[1] for c in counts),
              "birth_date": sum(c[2] for c in counts)}
    return [name for name, hits in broken.items()
            if lower_bound(hits, pairs, rule.rule_noise_confidence) > rule.max_rule_noise]


def _relaxed(cfg: IdentityConfig, trusted: list[str], noisy: list[str]) -> IdentityConfig:
    """``cfg`` with the trusted kinds filled in, and each noisy rule and its veto off."""
    comp = cfg.clustering.compatibility
    update: dict[str, object] = {
        "trusted_ids": comp.trusted_ids.model_copy(update={"kinds": trusted})}
    for name in noisy:
        update[name] = getattr(comp, name).model_copy(update={"enabled": False})
    p = cfg.linking.probabilistic
    dropped = {RULE_COLUMNS[name] for name in noisy}
    vetoes = [v for v in p.vetoes if v.comparison not in dropped]
    return cfg.model_copy(update={
        "clustering": cfg.clustering.model_copy(update={
            "compatibility": comp.model_copy(update=update)}),
        "linking": cfg.linking.model_copy(update={
            "probabilistic": p.model_copy(update={"vetoes": vetoes})})})


def _untrusting(comp: CompatibilityConfig) -> CompatibilityConfig:
    return comp.model_copy(update={"trusted_ids": comp.trusted_ids.model_copy(
        update={"kinds": []})})


def with_trusted_ids(cfg: IdentityConfig, records: DataFrame) -> IdentityConfig:
    """The config with trusted id kinds filled in and the rules they show noisy relaxed.

    Args:
        cfg: The identity config (``trusted_ids.kinds: null`` asks for learning).
        records: Person records.

    Returns:
        ``cfg`` unchanged when the rule is off or trusts no kind; else a copy whose
        ``clustering.compatibility.trusted_ids.kinds`` are the fixed kinds or those
        :func:`is_trusted` accepts (possibly none), and in which each rule
        :func:`noisy_rules` names is disabled and its probabilistic veto dropped.
    """
    comp = cfg.clustering.compatibility
    rule = comp.trusted_ids
    if not rule.enabled or "ids" not in records.columns:
        return cfg
    if rule.kinds is not None and (not rule.kinds or rule.max_rule_noise >= 1.0):
        return cfg
    evidence = id_kind_evidence(records, cfg)
    if rule.kinds is None:
        trusted = sorted(kind for kind, ev in evidence.items() if is_trusted(ev, cfg))
    else:
        trusted = list(rule.kinds)
    for kind, (pairs, names, dates, both) in sorted(evidence.items()):
        log.info("identity: id kind %s: %d pairs of records share a value; first names "
                 "disagree in %d, birth dates in %d, both in %d: %s", kind, pairs, names,
                 dates, both, "trusted" if kind in trusted else "not trusted")
    noisy = noisy_rules(evidence, trusted, cfg)
    if noisy:
        log.info("identity: records sharing a trusted id disagree too often on %s "
                 "(over trusted_ids.max_rule_noise = %s): data entry noise in this lake, "
                 "so the rule(s) and their vetoes are off for this run", ", ".join(noisy),
                 rule.max_rule_noise)
    return _relaxed(cfg, trusted, noisy)

"""Why are these two records *not* (or why are they) one person?

:func:`explain_pair` takes two record keys (``<source>:<source_record_id>``) and walks
the path a pair takes through identity resolution:

1. **blocking**: which prediction blocking rule would meet them (none: the model never
   compared them), and which rules training left out for lack of data;
2. **scoring**: each comparison's level and match weight, and the match probability,
   re-scored with the trained model whether or not blocking met them;
3. **guards**: the vetoes their levels trigger, the link threshold, the clustering's
   edge threshold, the compatibility rules (birth date, first name, full name, gender)
   that forbid them one cluster, and the identifier kinds they share;
4. **outcome**: the links stored between them and the UID each ended in.

Only record keys, setting names, comparison labels and numbers are shown: never a
field value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.identity.config import IdentityConfig
from vista.identity.errors import ExplainError
from vista.identity.link.config import BlockingRule
from vista.identity.link.model_inputs import SETTING
from vista.identity.link.splink_model import (
    TrainedModel,
    _as_trained,
    explain_pairs,
    prepare_records,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairExplanation:
    """The answer of :func:`explain_pair` (no field values).

    Attributes:
        record_keys: The two records, in the order asked.
        blocking: ``(rule, meets)`` per prediction blocking rule the model uses.
        left_out_rules: Blocking rules training left out (a column without values).
        comparisons: ``(comparison, level, label, match_weight)`` rows; empty without a model.
        match_probability: The pair's probability by the model (None without one).
        guards: Each guard that keeps them apart, as a sentence naming its setting.
        shared_id_kinds: Identifier kinds whose value both records carry.
        links: ``(link_kind, match_probability)`` of the links stored between them.
        uids: The UID of each record (None: not in the identity graph).
        text: A readable rendering.
    """

    record_keys: tuple[str, str]
    blocking: list[tuple[str, bool]]
    left_out_rules: list[str]
    comparisons: list[tuple[str, int, str, float]]
    match_probability: float | None
    guards: list[str]
    shared_id_kinds: list[str]
    links: list[tuple[str, float | None]]
    uids: tuple[str | None, str | None]
    text: str = field(default="", repr=False)

    @property
    def compared(self) -> bool:
        """Whether any prediction blocking rule meets the pair."""
        return any(meets for _, meets in self.blocking)


def _sided(sql: str, side: str) -> str:
    """A one-record expression with every column qualified by ``side`` (``l`` or ``r``)."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, dialect="spark")
    tree = tree.transform(lambda n: exp.column(n.name, table=side)
                          if isinstance(n, exp.Column) else n)
    return tree.sql(dialect="spark")


def rule_condition(rule: BlockingRule) -> Column:
    """A blocking rule as a condition on a pair frame aliased ``l`` and ``r``."""
    if isinstance(rule, str):
        return F.coalesce(F.expr(rule), F.lit(False))
    cond = F.lit(True)
    for part in rule:
        cond = cond & F.coalesce(F.expr(_sided(part, "l")) == F.expr(_sided(part, "r")),
                                 F.lit(False))
    return cond


def _pair_frame(prepared: DataFrame, a: str, b: str) -> DataFrame:
    return (prepared.where(F.col("record_key") == a).alias("l")
            .crossJoin(prepared.where(F.col("record_key") == b).alias("r")))


def _records(records: DataFrame, a: str, b: str) -> DataFrame:
    two = records.where(F.col("record_key").isin(a, b))
    found = {r.record_key for r in two.select("record_key").collect()}
    missing = [k for k in (a, b) if k not in found]
    if missing:
        raise ExplainError(f"no person record {missing} (a record is SOURCE:ID, as in "
                           "silver/person_records.record_key); check the source name and id.")
    return two


def _blocking(pair: DataFrame, rules: list[BlockingRule]) -> list[tuple[str, bool]]:
    if not rules:
        return []
    row = pair.select(*[rule_condition(r).alias(f"r{i}") for i, r in enumerate(rules)]).first()
    return [(repr(r), bool(row[f"r{i}"])) for i, r in enumerate(rules)]


def _compatibility(records: DataFrame, a: str, b: str, cfg: IdentityConfig) -> list[str]:
    """The compatibility rules that forbid the two records one cluster."""
    from vista.identity.person.compatibility import compatibility_frame, incompatible

    comp = cfg.clustering.compatibility
    frame = compatibility_frame(records, comp)
    left = frame.where(F.col("record_key") == a).select(
        [F.col(c).alias(f"l_{c}") for c in frame.columns])
    right = frame.where(F.col("record_key") == b).select(
        [F.col(c).alias(f"r_{c}") for c in frame.columns])
    off = {"birth_date": comp.birth_date.model_copy(update={"enabled": False}),
           "first_name": comp.first_name.model_copy(update={"enabled": False}),
           "full_name": comp.full_name.model_copy(update={"enabled": False}),
           "gender_must_agree": False}
    enabled = {"birth_date": comp.birth_date.enabled, "first_name": comp.first_name.enabled,
               "full_name": comp.full_name.enabled, "gender_must_agree": comp.gender_must_agree}
    # one rule at a time, so the answer names each rule that refuses the pair
    rules = {name: comp.model_copy(update={**off, name: getattr(comp, name)})
             for name, on in enabled.items() if on}
    if not rules:
        return []
    row = left.crossJoin(right).select(
        *[incompatible(rule).alias(name) for name, rule in rules.items()]).first()
    return [f"compatibility: identity.clustering.compatibility.{name} refuses them one "
            "cluster (cannot-link)" for name in rules if row[name]]


def _shared_ids(two: DataFrame, a: str, b: str, cfg: IdentityConfig) -> list[str]:
    """Identifier kinds (declared ``ids`` and configured columns) both records carry."""
    types = {f.name: f.dataType for f in two.schema.fields}
    pair = _pair_frame(two, a, b)
    checks = [F.map_keys(F.map_filter(F.col("l.ids"), lambda k, v: F.col("r.ids")[k] == v))
              .alias("ids")]
    for kind, columns in cfg.linking.deterministic.column_kinds.items():
        columns = [c for c in ([columns] if isinstance(columns, str) else columns) if c in types]

        def values(side: str, columns: list[str] = columns) -> Column:
            arrays = [F.col(f"{side}.{c}") if isinstance(types[c], T.ArrayType)
                      else F.array(F.col(f"{side}.{c}")) for c in columns]
            return F.flatten(F.array(*[F.coalesce(x, F.array().cast(T.ArrayType(T.StringType())))
                                       for x in arrays]))
        if columns:
            checks.append(F.coalesce(F.arrays_overlap(values("l"), values("r")), F.lit(False))
                          .alias(f"k_{kind}"))
    row = pair.select(*checks).first().asDict()
    return sorted(row.pop("ids") or []) + [k[2:] for k, v in row.items() if v]


def explain_pair(
    a: str,
    b: str,
    *,
    records: DataFrame,
    cfg: IdentityConfig,
    model: TrainedModel | None = None,
    graph: DataFrame | None = None,
    links: DataFrame | None = None,
) -> PairExplanation:
    """Explain why two records are, or are not, one person (module docstring).

    Args:
        a: A record key ``<source>:<source_record_id>``.
        b: Another record key.
        records: Person records (``silver/person_records``).
        cfg: The identity config the run used.
        model: The trained model (None: blocking, scores and vetoes are not shown).
        graph: The identity graph (``record_key, uid``), for the clusters.
        links: The links table, for the links stored between them.

    Returns:
        The :class:`PairExplanation`.

    Raises:
        ExplainError: A record key is not a person record, or both are the same.
    """
    if a == b:
        raise ExplainError(f"{a!r} twice: give two different records")
    two = _records(records, a, b).localCheckpoint()
    p = cfg.linking.probabilistic
    blocking: list[tuple[str, bool]] = []
    left_out: list[str] = []
    comparisons: list[tuple[str, int, str, float]] = []
    prob = None
    guards: list[str] = []
    if model is not None:
        q = _as_trained(p, model)
        left_out = list(model.changes.get("blocking_rules", []))
        prepared = prepare_records(two, model.preparation)
        blocking = _blocking(_pair_frame(prepared, a, b), q.blocking_rules)
        scored = explain_pairs(records, model, two.sparkSession.createDataFrame(
            [(a, b)], "record_key_l string, record_key_r string")).collect()
        comparisons = [(r.comparison, r.level, r.label, r.match_weight) for r in scored]
        prob = scored[0].pair_match_probability if scored else None
        levels = {c: lv for c, lv, _, _ in comparisons}
        for i, veto in enumerate(q.vetoes):
            if levels.get(veto.comparison) in veto.levels:
                guards.append(f"veto: {SETTING}.vetoes[{i}] drops links whose "
                              f"{veto.comparison} comparison is at level "
                              f"{levels[veto.comparison]}")
        if prob is not None and prob < q.threshold_match_probability:
            guards.append(f"threshold: p={prob:.4f} is below {SETTING}."
                          f"threshold_match_probability ({q.threshold_match_probability})")
        elif prob is not None and prob < cfg.clustering.match_threshold:
            guards.append(f"threshold: p={prob:.4f} is below identity.clustering."
                          f"match_threshold ({cfg.clustering.match_threshold}): a weak link, "
                          "not a clustering edge")
    guards += _compatibility(two, a, b, cfg)
    shared = _shared_ids(two, a, b, cfg)
    stored: list[tuple[str, float | None]] = []
    if links is not None:
        lo, hi = min(a, b), max(a, b)
        stored = [(r.link_kind, r.match_probability) for r in links.where(
            (F.col("record_key_l") == lo) & (F.col("record_key_r") == hi))
            .select("link_kind", "match_probability").collect()]
    uids: tuple[str | None, str | None] = (None, None)
    if graph is not None:
        found = {r.record_key: r.uid for r in graph.where(F.col("record_key").isin(a, b))
                 .select("record_key", "uid").collect()}
        uids = (found.get(a), found.get(b))
    out = PairExplanation(record_keys=(a, b), blocking=blocking, left_out_rules=left_out,
                          comparisons=comparisons, match_probability=prob, guards=guards,
                          shared_id_kinds=shared, links=stored, uids=uids)
    return PairExplanation(**{**out.__dict__, "text": render_pair(out, model is not None)})


def render_pair(e: PairExplanation, with_model: bool = True) -> str:
    """Text rendering of a :class:`PairExplanation` (no field values)."""
    a, b = e.record_keys
    lines = [f"records {a} and {b}"]
    if e.uids != (None, None):
        same = e.uids[0] is not None and e.uids[0] == e.uids[1]
        lines.append(f"clusters: {a} -> {e.uids[0]}, {b} -> {e.uids[1]} "
                     f"({'the same person' if same else 'different UIDs'})")
    if with_model:
        met = [rule for rule, meets in e.blocking if meets]
        if met:
            lines.append(f"compared: yes, blocking rule(s) {', '.join(met)} meet them")
        else:
            lines.append(f"compared: no, never compared: no rule of {SETTING}.blocking_rules "
                         f"meets them ({len(e.blocking)} rules checked)")
        if e.left_out_rules:
            lines.append(f"  rules left out in training (a column without values): "
                         f"{', '.join(e.left_out_rules)}")
        if e.match_probability is not None:
            lines.append(f"model score: p={e.match_probability:.4f}")
        for comparison, level, label, weight in sorted(e.comparisons, key=lambda c: -c[3]):
            lines.append(f"  {comparison:<18} level {level:>2}  {label:<45} {weight:+.2f}")
    else:
        lines.append("model: none registered (train one with `vista identity train`)")
    lines.append("shared identifier kinds: " + (", ".join(e.shared_id_kinds) or "none"))
    lines.append("links stored between them: " + (", ".join(
        f"{kind}" + (f" p={p:.4f}" if p is not None else "") for kind, p in e.links)
        or "none"))
    lines.append("kept apart by:" if e.guards else "kept apart by: nothing in the rules")
    lines += [f"  - {g}" for g in e.guards]
    return "\n".join(lines)

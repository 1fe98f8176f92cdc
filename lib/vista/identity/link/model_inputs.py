"""Fit the probabilistic model's config to the columns a lake actually fills.

vista's defaults compare, block and train on every canonical person column: names,
birth date, e-mail, phone, address. A company's lake fills some of them. A comparison
on a column that is never filled only ever lands on its null level, a blocking rule
on it meets no pair, and an EM session blocked on it has nothing to learn from (Splink
stops with "resulted in no record pairs"). So before training, the config is narrowed
to what the records can support (:func:`fit_to_records`):

* comparisons, prediction blocking rules and training blocking rules that read a
  column without a single value are left out, and so are vetoes on a left-out
  comparison and training rules that fix every comparison left (nothing to estimate);
* the prior's deterministic rules keep their filled parts (``[first, last, birth]``
  becomes ``[first, last]`` without birth dates);
* every comparison left must be free to estimate in at least one EM session (Splink
  fixes a comparison in a session blocked on any column it reads). A comparison that
  no configured training rule leaves free gets a session blocked on the most
  selective other compared column that is filled (most distinct values, so the
  fewest pairs): surnames for first names in a lake with only names.

What was left out is recorded with the trained model (``TrainedModel.changes``) and
logged, naming the settings, so a lake that lacks a column never fails for it and a
missing column is still visible.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.identity.errors import ModelError
from vista.identity.link.config import (
    BlockingRule,
    ComparisonSpec,
    ProbabilisticConfig,
    rule_columns,
)

log = logging.getLogger(__name__)

SETTING = "identity.linking.probabilistic"


@dataclass(frozen=True)
class FittedConfig:
    """The probabilistic config narrowed to the filled columns.

    Attributes:
        config: The config to train and predict with.
        changes: Setting (relative to ``identity.linking.probabilistic``) -> what was
            left out (or, for keys ending in ``(added)`` and ``(as used)``, what was
            added or used instead), as text: rules as Python lists, comparisons and
            vetoes by column.
        distinct: Column -> approximate number of distinct non-empty values.
    """

    config: ProbabilisticConfig
    changes: dict[str, list[str]] = field(default_factory=dict)
    distinct: dict[str, int] = field(default_factory=dict)


def distinct_values(records: DataFrame, columns: list[str]) -> dict[str, int]:
    """Approximate distinct non-empty values per column, in one aggregation.

    Args:
        records: Prepared person records.
        columns: Columns of ``records`` to count (blank strings and empty arrays are
            empty).

    Returns:
        Column -> approximate count of distinct non-empty values (0: never filled).
    """
    exprs = []
    for name in columns:
        col, dtype = F.col(name), records.schema[name].dataType
        if isinstance(dtype, T.StringType):
            col = F.when(F.length(F.trim(col)) > 0, col)
        elif isinstance(dtype, (T.ArrayType, T.MapType)):
            col = F.when(F.size(col) > 0, F.to_json(col))
        exprs.append(F.approx_count_distinct(col).alias(name))
    if not exprs:
        return {}
    return {k: int(v or 0) for k, v in records.agg(*exprs).first().asDict().items()}


def comparison_inputs(spec: ComparisonSpec, p: ProbabilisticConfig) -> set[str]:
    """The prepared columns a comparison reads (Splink fixes it in sessions blocked on any)."""
    from vista.identity.link.splink_model import cross_column, keys_column

    cols = {spec.column}
    if spec.swapped_with:
        cols.add(cross_column(spec.swapped_with))
    if spec.others:
        cols.add(spec.others)
    if spec.kind == "name" and spec.nicknames:
        cols.add(keys_column(spec.column))
    if spec.split_words and p.name_split is not None:
        cols.add(p.name_split.flag)
    return cols


def _text(rule: BlockingRule) -> str:
    return repr(rule)


def _filled_part(rule: BlockingRule, filled: set[str]) -> BlockingRule | None:
    """A rule's parts whose columns are all filled (a pair condition is kept whole or not)."""
    if isinstance(rule, str):
        return rule if set(rule_columns(rule)) <= filled else None
    parts = [part for part in rule if set(rule_columns(part)) <= filled]
    return parts or None


def _free_in(spec: ComparisonSpec, rule: BlockingRule, p: ProbabilisticConfig) -> bool:
    return not set(rule_columns(rule)) & comparison_inputs(spec, p)


def _cover(comparisons: list[ComparisonSpec], training: list[BlockingRule],
           p: ProbabilisticConfig, distinct: dict[str, int]) -> list[BlockingRule]:
    """Training rules to add so every comparison is free in some session."""
    added: list[BlockingRule] = []
    for spec in comparisons:
        if any(_free_in(spec, rule, p) for rule in [*training, *added]):
            continue
        others = [c.column for c in comparisons
                  if c.column not in comparison_inputs(spec, p) and distinct.get(c.column)]
        if not others:
            raise ModelError(
                f"the comparison of {spec.column!r} cannot be estimated: every training "
                f"blocking rule ({SETTING}.training_blocking_rules) reads it, and no other "
                "compared column is filled to block on. Map a further person field "
                "(birth date, e-mail, phone, address) from a source, or link on declared "
                f"ids only with {SETTING}.enabled: false.")
        added.append([max(others, key=lambda c: distinct[c])])
    return added


def fit_to_records(p: ProbabilisticConfig, prepared: DataFrame) -> FittedConfig:
    """Narrow the config to the columns the prepared records fill (module docstring).

    Args:
        p: The configured probabilistic section.
        prepared: The records as the model reads them (``prepare_records`` applied).

    Returns:
        The fitted config and what was left out.

    Raises:
        ModelError: No compared column or no prediction blocking rule is filled, or
            a comparison cannot be estimated by any EM session.
    """
    columns = sorted({c for spec in p.comparisons for c in comparison_inputs(spec, p)}
                     | {c for r in [*p.blocking_rules, *p.training_blocking_rules,
                                    *p.prior.deterministic_rules] for c in rule_columns(r)})
    distinct = distinct_values(prepared, [c for c in columns if c in prepared.columns])
    filled = {c for c, n in distinct.items() if n > 0}
    changes: dict[str, list[str]] = {}

    def keep(name: str, items: list, ok, text=_text) -> list:  # noqa: ANN001
        kept = [x for x in items if ok(x)]
        gone = [text(x) for x in items if not ok(x)]
        if gone:
            changes[name] = gone
        return kept

    comparisons = keep("comparisons", p.comparisons, lambda c: c.column in filled,
                       lambda c: c.column)
    if not comparisons:
        raise ModelError(
            f"none of the columns {SETTING}.comparisons compare "
            f"({[c.column for c in p.comparisons]}) has a value in the person records. "
            "Map a source field to a person column, or set "
            f"{SETTING}.enabled: false to link on declared ids only.")
    names = {c.column for c in comparisons}
    blocking = keep("blocking_rules", p.blocking_rules,
                    lambda r: set(rule_columns(r)) <= filled)
    if not blocking:
        raise ModelError(
            f"every prediction blocking rule ({SETTING}.blocking_rules) reads a column "
            f"that no person record fills (filled: {sorted(filled)}); add a rule on "
            "filled columns.")
    # a rule must meet pairs (its columns filled) and leave a comparison to estimate
    # (Splink builds no valid EM query for a session with every comparison fixed)
    training = keep("training_blocking_rules", p.training_blocking_rules,
                    lambda r: set(rule_columns(r)) <= filled
                    and any(_free_in(c, r, p) for c in comparisons))
    added = _cover(comparisons, training, p, distinct)
    if added:
        changes["training_blocking_rules (added)"] = [_text(r) for r in added]
    prior_rules = [_filled_part(r, filled) for r in p.prior.deterministic_rules]
    if prior_rules != list(p.prior.deterministic_rules):
        changes["prior.deterministic_rules (as used)"] = [_text(r) for r in prior_rules if r]
    vetoes = keep("vetoes", p.vetoes, lambda v: v.comparison in names,
                  lambda v: v.comparison)
    fitted = p.model_copy(update={
        "comparisons": comparisons, "blocking_rules": blocking,
        "training_blocking_rules": [*training, *added], "vetoes": vetoes,
        "prior": p.prior.model_copy(update={
            "deterministic_rules": [r for r in prior_rules if r]}),
    })
    for name, items in changes.items():
        log.info("identity model fitted to the filled columns: %s.%s: %s", SETTING, name, items)
    return FittedConfig(config=fitted, changes=changes, distinct=distinct)

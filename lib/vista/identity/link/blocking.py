"""How many comparisons each blocking rule makes, counted before any pair is built.

One broad blocking rule (a postal code alone, a common surname) makes a number of pairs
that grows with the square of the population, and nothing else in a run would notice
until the pair join fills the cluster. So every rule's comparison count is computed
first, from the sizes of its key groups (the "pre-filter" count Splink's blocking
analysis also reports), in one aggregation over the records, and a rule over
``identity.linking.probabilistic.max_comparisons_per_rule`` stops the run with a message
naming the rule and its count.

A rule given as columns or expressions on one record (``[first_name_std, birth_date]``)
pairs the records of each key group: ``n * (n - 1) / 2`` per group. A rule given as one
pair condition (``l.first_name_std = r.last_name_std AND ...``) pairs the records whose
left key meets another's right key: ``n_left * n_right`` per key, an upper bound (the
condition's other terms only remove pairs). A key with a null part makes no pair.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.identity.errors import BlockingRuleTooBroad

log = logging.getLogger(__name__)

BlockingRule = list[str] | str


@dataclass(frozen=True)
class RuleKeys:
    """A blocking rule as the record keys it joins on.

    Attributes:
        rule: The rule as configured.
        left: Spark SQL expressions of the left record's key.
        right: The right record's key (equal to ``left`` for a rule on one record).
    """

    rule: BlockingRule
    left: tuple[str, ...]
    right: tuple[str, ...]

    @property
    def symmetric(self) -> bool:
        """Whether both sides use one key (pairs within a key group)."""
        return self.left == self.right


def rule_keys(rule: BlockingRule) -> RuleKeys:
    """The equi-join keys of a blocking rule.

    Args:
        rule: Columns / expressions on one record, or one pair condition with sides
            ``l.`` and ``r.``.

    Returns:
        The rule's left and right key expressions; a pair condition without an
        equality between its two sides has no keys (it compares every pair).
    """
    if not isinstance(rule, str):
        return RuleKeys(rule, tuple(rule), tuple(rule))
    import sqlglot
    from sqlglot import exp

    left: list[str] = []
    right: list[str] = []
    tree = sqlglot.parse_one(rule, dialect="spark")
    terms = list(tree.flatten()) if isinstance(tree, exp.And) else [tree]
    for term in terms:
        if not isinstance(term, exp.EQ):
            continue
        a, b = term.this, term.expression
        sides = (_sides(a), _sides(b))
        if sides == ({"r"}, {"l"}):
            a, b = b, a
        elif sides != ({"l"}, {"r"}):
            continue
        left.append(_unqualified(a))
        right.append(_unqualified(b))
    return RuleKeys(rule, tuple(left), tuple(right))


def _sides(node) -> set[str]:  # noqa: ANN001 - a sqlglot expression
    from sqlglot import exp

    return {c.table for c in node.find_all(exp.Column)}


def _unqualified(node) -> str:  # noqa: ANN001 - a sqlglot expression
    from sqlglot import exp

    def strip(n):  # noqa: ANN001, ANN202
        if isinstance(n, exp.Column):
            return exp.column(n.name)
        return n

    return node.transform(strip).sql(dialect="spark")


def _key(parts: tuple[str, ...]) -> Column:
    exprs = [F.expr(p).cast("string") for p in parts]
    present = F.lit(True)
    for e in exprs:
        present = present & e.isNotNull()
    return F.when(present, F.to_json(F.array(*exprs)))


def comparison_counts(records: DataFrame, rules: list[BlockingRule]) -> list[int]:
    """Each rule's comparison count (before its pair condition's other terms).

    Args:
        records: The records the rules block (prepared as the model compares them).
        rules: Blocking rules.

    Returns:
        One count per rule, in order; a rule without keys counts every pair.
    """
    keyed = [rule_keys(r) for r in rules]
    sides = []
    for i, k in enumerate(keyed):
        if not k.left:
            continue
        sides.append(F.struct(F.lit(i).alias("rule"), F.lit(k.symmetric).alias("sym"),
                              F.lit("l").alias("side"), _key(k.left).alias("key")))
        if not k.symmetric:
            sides.append(F.struct(F.lit(i).alias("rule"), F.lit(False).alias("sym"),
                                  F.lit("r").alias("side"), _key(k.right).alias("key")))
    totals: dict[int, int] = {}
    if sides:
        per_key = (records.select(F.explode(F.array(*sides)).alias("s")).select("s.*")
                   .where(F.col("key").isNotNull())
                   .groupBy("rule", "sym", "key")
                   .agg(F.count(F.when(F.col("side") == "l", 1)).cast("double").alias("nl"),
                        F.count(F.when(F.col("side") == "r", 1)).cast("double").alias("nr")))
        pairs = F.when(F.col("sym"), F.col("nl") * (F.col("nl") - 1) / 2).otherwise(
            F.col("nl") * F.col("nr"))
        # one row per rule reaches the driver
        rows = per_key.groupBy("rule").agg(F.sum(pairs).alias("n")).collect()
        totals = {int(r["rule"]): int(r["n"]) for r in rows}
    n = None
    out = []
    for i, k in enumerate(keyed):
        if k.left:
            out.append(totals.get(i, 0))
        else:
            n = records.count() if n is None else n
            out.append(n * (n - 1) // 2)
    return out


def check_comparison_counts(records: DataFrame, rules: list[BlockingRule],
                            limit: float | None, *, setting: str) -> list[int]:
    """Count each rule's comparisons and stop when one exceeds ``limit``.

    Args:
        records: The records the rules block.
        rules: Blocking rules.
        limit: The most comparisons one rule may make; None: counted, never stopped.
        setting: The config key the rules come from, for the message.

    Returns:
        The counts, one per rule.

    Raises:
        BlockingRuleTooBroad: A rule's count exceeds ``limit``.
    """
    counts = comparison_counts(records, rules)
    for rule, n in zip(rules, counts, strict=True):
        log.info("blocking rule %s: %d comparisons", rule, n)
    over = [(rule, n) for rule, n in zip(rules, counts, strict=True)
            if limit is not None and n > limit]
    if over:
        listed = "; ".join(f"{rule!r} makes {n:,} comparisons" for rule, n in over)
        raise BlockingRuleTooBroad(
            f"{setting}: {listed}, over identity.linking.probabilistic."
            f"max_comparisons_per_rule ({limit:,.0f}). Make the rule stricter (add a "
            "column to it) or raise the limit if the cluster can score that many pairs.")
    return counts

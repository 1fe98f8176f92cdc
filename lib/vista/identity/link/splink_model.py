"""Probabilistic (Fellegi-Sunter) linking with Splink on the Spark backend.

The model is built from :class:`~vista.identity.link.config.ProbabilisticConfig`:
u-probabilities from random sampling, m-probabilities by EM over two or more training
blocking rules, λ fixed or estimated from deterministic rules. A trained model is the
Splink settings JSON (with its parameters), so it can be stored, registered in MLflow
and re-applied without retraining.

Incremental runs: :func:`predict` with ``new_keys`` scores only pairs that involve a
new or changed record, using Splink 5's ``predict_between(existing, new)`` plus
``predict_within(new)`` (Splink 5's replacement for ``find_matches_to_new_records``).
That keeps the blocking join at |new| x |all| instead of |all| x |all|. The identity
stage scores with term frequencies kept per model and lake
(:mod:`vista.identity.link.frequencies`), so a stored pair's weight is the one a full
run gives it.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.identity.errors import ModelError
from vista.identity.lineage import LineageBreaks
from vista.identity.link.blocking import check_comparison_counts
from vista.identity.link.config import (
    ComparisonSpec,
    LinkingConfig,
    NameSplitConfig,
    ProbabilisticConfig,
    rule_columns,
)
from vista.identity.link.frequencies import (
    frequency_columns,
    frequency_lookup,
    model_key,
    term_frequencies,
    value_frequencies,
)
from vista.identity.person.config import FirstNameRule

log = logging.getLogger(__name__)

LINK_KIND = "probabilistic"
DEFAULT_PREPARATION: dict[str, Any] = {"name_split": NameSplitConfig().model_dump(),
                                       "nicknames": {}, "derived": {}}


@dataclass(frozen=True)
class TrainedModel:
    """A trained Fellegi-Sunter model.

    Attributes:
        settings: Splink settings dict, parameters included (``save_model_to_json``).
        config_hash: ``LinkingConfig.model_hash()`` of the config it was trained with.
        em_iterations: EM iterations run per training blocking rule.
        n_records: Records the model was trained on.
        metrics: Scalar training facts (λ, iterations, ...).
        columns: Record columns the model reads (record_key first).
        break_lineage: How Splink breaks lineage between its steps.
        preparation: How records are prepared before comparing (the full-name split,
            the nickname keys, derived columns, see :func:`prepare_records`); predictions and
            explanations prepare records exactly as training did.
        changes: What the config lost or gained to fit the columns the training
            records fill (``vista.identity.link.model_inputs``): setting -> items.
    """

    settings: dict[str, Any]
    config_hash: str
    em_iterations: list[int] = field(default_factory=list)
    n_records: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    columns: list[str] = field(default_factory=lambda: ["record_key"])
    break_lineage: str = "parquet"
    preparation: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PREPARATION))
    changes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def probability_two_random_records_match(self) -> float:
        """λ, the prior probability that two random records match."""
        return float(self.settings["probability_two_random_records_match"])

    def to_json(self) -> str:
        """Serialise (settings, hash and training facts) to a JSON string."""
        return json.dumps({"settings": self.settings, "config_hash": self.config_hash,
                           "em_iterations": self.em_iterations, "n_records": self.n_records,
                           "metrics": self.metrics, "columns": self.columns,
                           "break_lineage": self.break_lineage,
                           "preparation": self.preparation, "changes": self.changes},
                          indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainedModel:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        return cls(settings=d["settings"], config_hash=d["config_hash"],
                   em_iterations=list(d.get("em_iterations", [])),
                   n_records=int(d.get("n_records", 0)), metrics=dict(d.get("metrics", {})),
                   columns=list(d.get("columns", ["record_key"])),
                   break_lineage=d.get("break_lineage", "parquet"),
                   preparation=d.get("preparation", dict(DEFAULT_PREPARATION)),
                   changes=dict(d.get("changes", {})))

    def m_u_table(self) -> list[dict[str, Any]]:
        """One row per comparison level: comparison, level, label, m, u, match weight."""
        rows = []
        for comp in self.settings["comparisons"]:
            levels = comp["comparison_levels"]
            for level, value in zip(levels, _level_values(levels), strict=True):
                if level.get("is_null_level"):
                    continue
                m, u = level.get("m_probability"), level.get("u_probability")
                weight = math.log2(m / u) if m and u else None
                rows.append({"comparison": comp["output_column_name"],
                             "level": value,
                             "label": level.get("label_for_charts", level["sql_condition"]),
                             "m_probability": m, "u_probability": u, "match_weight": weight})
        return rows


def _level_values(levels: list[dict[str, Any]]) -> list[int]:
    """Splink's comparison vector values: null level -1, then n-1 ... 0 (else)."""
    n_non_null = sum(1 for lv in levels if not lv.get("is_null_level"))
    out, nxt = [], n_non_null - 1
    for lv in levels:
        if lv.get("is_null_level"):
            out.append(-1)
        else:
            out.append(nxt)
            nxt -= 1
    return out


def _pcfg(cfg: LinkingConfig | ProbabilisticConfig) -> ProbabilisticConfig:
    return cfg.probabilistic if isinstance(cfg, LinkingConfig) else cfg


def _comparison(spec: ComparisonSpec, split: NameSplitConfig | None = None):  # -> Creator
    from splink import comparison_level_library as cll
    from splink import comparison_library as cl

    col, tf = spec.column, spec.tf_adjustment
    if spec.kind == "date":
        return cl.DateOfBirthComparison(col, input_is_string=False,
                                        datetime_thresholds=spec.date_thresholds,
                                        datetime_metrics=spec.date_metrics)
    if spec.kind == "email" and spec.fuzzy:
        return cl.EmailComparison(col).configure(term_frequency_adjustments=tf)
    if spec.kind == "email":
        from splink import ColumnExpression

        user = ColumnExpression(col).regex_extract(cl.EmailComparison.USERNAME_REGEX)
        return cl.CustomComparison(
            [cll.NullLevel(col), cll.ExactMatchLevel(col, term_frequency_adjustments=tf),
             cll.ExactMatchLevel(user).configure(label_for_charts="Exact match on username"),
             cll.ElseLevel()],
            output_column_name=col, comparison_description=f"email comparison of {col}")
    levels = [cll.NullLevel(col), cll.ExactMatchLevel(col, term_frequency_adjustments=tf)]
    if spec.kind == "name":
        levels += _name_levels(spec, split)
    if spec.kind in ("name", "jaro_winkler", "address"):
        levels += [cll.JaroWinklerLevel(col, t) for t in spec.thresholds]
    if spec.kind == "address":
        words_l, words_r = f"split({col}_l, ' ')", f"split({col}_r, ' ')"
        levels.append(cll.CustomLevel(
            f"size(array_intersect({words_l}, {words_r})) "
            f">= {spec.jaccard_threshold} * size(array_union({words_l}, {words_r}))",
            label_for_charts=f"Token Jaccard >= {spec.jaccard_threshold}"))
    if spec.kind == "phone" and spec.others:
        def numbers(side: str) -> str:
            return f"concat(array({col}_{side}), coalesce({spec.others}_{side}, array()))"
        levels.append(cll.CustomLevel(
            f"arrays_overlap({numbers('l')}, {numbers('r')})",
            label_for_charts=f"A number in common (with {spec.others})"))
    if spec.kind == "phone":
        n = spec.suffix_digits
        levels.append(cll.CustomLevel(
            f"right({col}_l, {n}) = right({col}_r, {n})",
            label_for_charts=f"Same last {n} digits"))
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(levels, output_column_name=col,
                               comparison_description=f"{spec.kind} comparison of {col}")


def _words(col: str, side: str) -> str:
    return f"split({col}_{side}, ' ')"


def cross_column(column: str) -> str:
    """The prepared copy of a name column that the *other* name's comparison reads.

    The swapped and split-full-name levels of the first-name comparison read the last
    name (and the other way round). Read under its own name, Splink would count the
    last name as an input of the first-name comparison and never estimate the first
    name in an EM session blocked on the last name, which is the only session a lake
    with nothing but names can offer. The copy holds the same values.
    """
    return f"{column}_cross"


def _name_levels(spec: ComparisonSpec, split: NameSplitConfig | None = None) -> list:
    """Levels between exact and Jaro-Winkler for multi-word names.

    ``words_contained``: every word of one name is a word of the other (a second
    surname or a second given name dropped by one source). ``swapped_with``: the
    name sits in the other record's ``swapped_with`` column and vice versa (first and
    last name entered the wrong way round). ``nicknames``: the two names share a key
    of the nickname lists ("pepe" and "jose", "bob" and "robert"). ``split_words``
    (needs ``swapped_with`` and the name split): a record whose names were split from a
    one-field full name has this name among the other record's ``swapped_with`` words,
    or the other record's name among its own ``swapped_with`` words (a card holding
    "surname surname first name", or only surnames).
    """
    from splink import comparison_level_library as cll

    col = spec.column
    out = []
    if spec.swapped_with:
        other = cross_column(spec.swapped_with)
        out.append(cll.CustomLevel(
            f"array_contains({_words(other, 'r')}, {col}_l) "
            f"AND array_contains({_words(other, 'l')}, {col}_r)",
            label_for_charts=f"Swapped with {other}"))
    if spec.words_contained:
        wl, wr = _words(col, "l"), _words(col, "r")
        out.append(cll.CustomLevel(
            f"size(array_except({wl}, {wr})) = 0 OR size(array_except({wr}, {wl})) = 0",
            label_for_charts="Words of one contained in the other"))
    if spec.split_words and spec.swapped_with and split is not None:
        other, flag = cross_column(spec.swapped_with), split.flag

        def found(side: str, far: str) -> str:
            # this side's name among the other side's other-field words, or vice versa
            return (f"(array_contains({_words(other, far)}, {col}_{side}) "
                    f"OR array_contains({_words(other, side)}, {col}_{far}))")
        out.append(cll.CustomLevel(
            f"(coalesce({flag}_l, false) AND {found('l', 'r')}) "
            f"OR (coalesce({flag}_r, false) AND {found('r', 'l')})",
            label_for_charts=f"Split full name: found in {other}"))
    if spec.nicknames:
        keys = keys_column(col)
        out.append(cll.CustomLevel(
            f"arrays_overlap({keys}_l, {keys}_r)",
            label_for_charts="Forms of one name (nickname lists)"))
    return out


def keys_column(column: str) -> str:
    """The prepared column holding a name column's nickname keys."""
    return f"{column}_keys"


def _block(rule: list[str] | str):
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    if isinstance(rule, str):
        return CustomRule(rule, sql_dialect="spark")
    return block_on(*rule)


def settings_creator(cfg: LinkingConfig | ProbabilisticConfig):
    """Build the (untrained) Splink ``SettingsCreator`` the config describes.

    Args:
        cfg: The linking config or its probabilistic section.

    Returns:
        A ``splink.SettingsCreator`` for a ``dedupe_only`` model keyed on ``record_key``.
    """
    from splink import SettingsCreator

    p = _pcfg(cfg)
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=[_comparison(c, p.name_split) for c in p.comparisons],
        blocking_rules_to_generate_predictions=[_block(r) for r in p.blocking_rules],
        probability_two_random_records_match=p.prior.value or 1e-4,
        em_convergence=p.em_convergence,
        max_iterations=p.max_iterations,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


_rule_columns = rule_columns


def model_columns(cfg: LinkingConfig | ProbabilisticConfig) -> list[str]:
    """The prepared record columns the model reads (record_key first)."""
    p = _pcfg(cfg)
    cols = [c.column for c in p.comparisons]
    cols += [cross_column(c.swapped_with) for c in p.comparisons if c.swapped_with]
    cols += [c.others for c in p.comparisons if c.others]
    cols += [keys_column(c.column) for c in p.comparisons if c.kind == "name" and c.nicknames]
    if p.name_split is not None and any(c.split_words for c in p.comparisons):
        cols.append(p.name_split.flag)
    for rule in [*p.blocking_rules, *p.training_blocking_rules, *p.prior.deterministic_rules]:
        cols += _rule_columns(rule)
    return list(dict.fromkeys(["record_key", *cols]))


def preparation(cfg: LinkingConfig | ProbabilisticConfig,
                names: FirstNameRule | None = None) -> dict[str, Any]:
    """How records are prepared for the model (stored with it as ``preparation``).

    Args:
        cfg: The linking config or its probabilistic section.
        names: The nickname lists for comparisons with ``nicknames`` (the clustering's
            ``compatibility.first_name``); None: vista's shipped lists.

    Returns:
        ``{"name_split": NameSplitConfig dump or None, "nicknames": {column: rule dump},
        "derived": {column: Spark SQL}, "cross": {copy: name column}}`` (see
        :func:`cross_column`).
    """
    p = _pcfg(cfg)
    rule = names or FirstNameRule()
    return {"name_split": p.name_split.model_dump() if p.name_split else None,
            "nicknames": {c.column: rule.model_dump(mode="json") for c in p.comparisons
                          if c.kind == "name" and c.nicknames},
            "derived": dict(p.derived_columns),
            "cross": {cross_column(c.swapped_with): c.swapped_with for c in p.comparisons
                      if c.swapped_with}}


def derived_inputs(cfg: LinkingConfig | ProbabilisticConfig) -> list[str]:
    """The record columns the derived columns are computed from."""
    cols = []
    for sql in _pcfg(cfg).derived_columns.values():
        cols += _rule_columns(sql)
    return list(dict.fromkeys(cols))


def prepare_records(records: DataFrame, prep: dict[str, Any]) -> DataFrame:
    """Apply a model's preparation: split full names, add nickname keys.

    Args:
        records: Person records.
        prep: A :func:`preparation` dict (``TrainedModel.preparation``).

    Returns:
        ``records`` with first / last names filled from the full name where both are
        missing, a ``<column>_keys`` array per name column compared by nicknames, the
        copies of name columns that the other name's comparison reads, and the derived
        columns.

    Raises:
        ModelError: A derived column reads a column the records lack.
    """
    from vista.identity.person.names import KEYS_COLUMN, with_name_keys

    split = prep.get("name_split")
    records = split_names(records, NameSplitConfig(**split) if split else None)
    for column, rule in prep.get("nicknames", {}).items():
        if column in records.columns:
            records = with_name_keys(records, FirstNameRule(**rule), first=column) \
                .withColumnRenamed(KEYS_COLUMN, keys_column(column))
    derived = prep.get("derived", {})
    missing = sorted({c for sql in derived.values() for c in _rule_columns(sql)}
                     - set(records.columns))
    if missing:
        raise ModelError(f"person records lack column(s) {missing} that "
                         "identity.linking.probabilistic.derived_columns read; found "
                         f"{sorted(records.columns)}.")
    cross = {copy: F.col(column) for copy, column in prep.get("cross", {}).items()
             if column in records.columns}
    return records.withColumns({**cross, **{name: F.expr(sql) for name, sql in derived.items()}})


def split_names(records: DataFrame, p: ProbabilisticConfig | NameSplitConfig | None) -> DataFrame:
    """Fill first / last name from the full name where both are null (``name_split``).

    Args:
        records: Person records.
        p: The probabilistic config (its ``name_split``), or the split config itself
            (None: no split).

    Returns:
        ``records`` with the first and last name columns filled where possible, and the
        split's ``flag`` column (true where they were filled).
    """
    ns = p.name_split if isinstance(p, ProbabilisticConfig) else p
    if ns is None:
        return records
    if not {ns.full, ns.first, ns.last} <= set(records.columns):
        return records.withColumn(ns.flag, F.lit(False))
    words = F.split(F.trim(F.col(ns.full)), " ")
    both_null = F.col(ns.first).isNull() & F.col(ns.last).isNull() & F.col(ns.full).isNotNull()
    rest = F.array_join(F.slice(words, 2, 1000), " ")
    return records.withColumns({
        ns.first: F.when(both_null, F.get(words, 0)).otherwise(F.col(ns.first)),
        ns.last: F.when(both_null & (F.size(words) > 1), rest).otherwise(F.col(ns.last)),
        ns.flag: both_null,
    })


def _prepare(records: DataFrame, cols: list[str], prep: dict[str, Any]) -> DataFrame:
    """Prepared records with the columns ``cols`` (a model's ``columns``)."""
    from vista.schemas import PERSON_RECORDS

    # a frame that leaves out person columns it does not fill reads as if they were null
    absent = {f.name: F.lit(None).cast(f.dataType) for f in PERSON_RECORDS.fields
              if f.name not in records.columns}
    records = prepare_records(records.withColumns(absent), prep)
    missing = [c for c in cols if c not in records.columns]
    if missing:
        raise ModelError(
            f"person records lack column(s) {missing} that the probabilistic config "
            f"compares or blocks on; found {sorted(records.columns)}. Fix "
            "identity.linking.probabilistic in conf/ or map the source to PERSON_RECORDS.")
    return records.select(*cols)


def _linker(records: DataFrame, settings: Any, break_lineage: str = "parquet"):
    from splink import Linker

    from vista.identity.link.splink_shim import spark_api

    db = spark_api(records.sparkSession, break_lineage)
    return Linker(db.register(records), settings, log_level=None), db


def _run_em(linker: Any, p: ProbabilisticConfig) -> list[int]:
    """EM once per training blocking rule; a rule whose EM degenerates is skipped.

    Splink refuses an m-probability that underflows to 0 (a level never seen among the
    session's matches); the session's estimates are then dropped, the others stand
    (``vista.identity.link.splink_shim``).
    """
    from vista.identity.link.splink_shim import em_session, splink_errors

    iterations = []
    for rule in p.training_blocking_rules:
        try:
            iterations.append(em_session(linker, _block(rule), p.em_max_pairs,
                                         p.em_without_term_frequencies))
        except (ValueError, *splink_errors()) as exc:
            # e.g. a rule that meets no pair of records ("resulted in no record pairs")
            log.warning("EM on training blocking rule %s skipped: %s", rule,
                        str(exc).splitlines()[0][:200])
            iterations.append(0)
    if not any(iterations):
        raise ModelError(f"EM failed on every training blocking rule "
                         f"{p.training_blocking_rules}; add rules that each leave some "
                         "comparisons free to estimate and meet pairs of records "
                         "(identity.linking.probabilistic.training_blocking_rules).")
    return iterations


def _untrained(settings: dict[str, Any]) -> list[str]:
    """Comparisons that no EM session estimated: not one level has an m-probability.

    (A level that a session saw no pair in has none either; that is "not observed".)
    """
    return [c["output_column_name"] for c in settings["comparisons"]
            if all(lv.get("m_probability") is None for lv in c["comparison_levels"]
                   if not lv.get("is_null_level"))]


def _estimate_prior(linker: Any, p: ProbabilisticConfig) -> None:
    """λ from the prior's deterministic rules; the settings' value when none can."""
    from vista.identity.link.splink_shim import splink_errors

    if p.prior.value is not None:
        return
    rules = p.prior.deterministic_rules
    try:
        if not rules:
            raise ValueError("no rule reads only filled columns")
        linker.training.estimate_probability_two_random_records_match(
            [_block(r) for r in rules], recall=p.prior.recall)
    except (ValueError, *splink_errors()) as exc:
        log.warning("λ not estimated from identity.linking.probabilistic.prior."
                    "deterministic_rules %s (%s); the model keeps %s: set prior.value",
                    rules, str(exc).splitlines()[0][:200],
                    linker.misc.save_model_to_json()["probability_two_random_records_match"])


def train(records: DataFrame, cfg: LinkingConfig | ProbabilisticConfig,
          names: FirstNameRule | None = None) -> TrainedModel:
    """Train the Fellegi-Sunter model on person records.

    Args:
        records: Person records (``PERSON_RECORDS``, at least the model's columns).
        cfg: The linking config (or its probabilistic section).
        names: The nickname lists of name comparisons with ``nicknames`` (the identity
            stage passes ``identity.clustering.compatibility.first_name``); None:
            vista's shipped lists.

    Returns:
        The trained model (settings JSON with m/u parameters and λ).

    The comparisons and rules are first narrowed to the columns the records fill
    (:func:`vista.identity.link.model_inputs.fit_to_records`): a lake without e-mail, phone
    or birth date trains with the defaults.

    Raises:
        ModelError: A configured column is missing, no compared column is filled, or
            Splink refused the training (its message, with the setting to change).
        BlockingRuleTooBroad: A training blocking rule would make more comparisons than
            ``max_comparisons_per_rule``.

    Example:
        >>> model = train(spark.table("person_records"), LinkingConfig())
    """
    from vista.identity.link.model_inputs import fit_to_records
    from vista.identity.link.splink_shim import estimate_u, splink_errors

    p = _pcfg(cfg)
    prep = preparation(p, names)
    prepared = _prepare(records, model_columns(p), prep).persist()
    try:
        n = prepared.count()
        fitted = fit_to_records(p, prepared)
        q = fitted.config
        check_comparison_counts(prepared, q.training_blocking_rules, q.max_comparisons_per_rule,
                                setting="identity.linking.probabilistic.training_blocking_rules")
        linker, _ = _linker(prepared, settings_creator(q), q.break_lineage)
        _estimate_prior(linker, q)
        if q.u_num_chunks == 1:  # every comparison in one job, Splink's estimates
            estimate_u(linker, q.u_max_pairs, q.u_seed)
        else:
            linker.training.estimate_u_using_random_sampling(
                max_pairs=q.u_max_pairs, seed=q.u_seed, num_chunks=q.u_num_chunks)
        iterations = _run_em(linker, q)
        settings = linker.misc.save_model_to_json()
    except splink_errors() as exc:
        raise ModelError(f"Splink could not train the model: {str(exc).splitlines()[0]} "
                         "Check identity.linking.probabilistic (comparisons, "
                         "training_blocking_rules, prior).") from exc
    finally:
        prepared.unpersist()
    untrained = _untrained(settings)
    if untrained:
        raise ModelError(
            f"no EM session estimated the comparison(s) {untrained}: each needs a training "
            "blocking rule that does not read its columns and meets pairs of records "
            f"(identity.linking.probabilistic.training_blocking_rules: "
            f"{q.training_blocking_rules}).")
    lam = float(settings["probability_two_random_records_match"])
    log.info("identity model trained on %d records: lambda=%.3g, EM iterations %s",
             n, lam, iterations)
    cfg_hash = cfg.model_hash() if isinstance(cfg, LinkingConfig) else LinkingConfig(
        probabilistic=p).model_hash()
    return TrainedModel(settings=settings, config_hash=cfg_hash, em_iterations=iterations,
                        n_records=n, metrics={"lambda": lam, "em_iterations": sum(iterations),
                                              "n_records": float(n)},
                        columns=model_columns(p), break_lineage=p.break_lineage,
                        preparation=prep, changes=fitted.changes)


def _to_links(df: DataFrame, p: ProbabilisticConfig) -> DataFrame:
    for veto in p.vetoes:
        gamma = f"gamma_{veto.comparison}"
        if gamma not in df.columns:
            raise ModelError(f"veto on comparison {veto.comparison!r}: the model has no such "
                             f"comparison (found {[c[6:] for c in df.columns if c.startswith('gamma_')]})."
                             " Fix identity.linking.probabilistic.vetoes.")
        df = df.where(~F.col(gamma).isin(veto.levels))
    return df.select(
        F.least("record_key_l", "record_key_r").alias("record_key_l"),
        F.greatest("record_key_l", "record_key_r").alias("record_key_r"),
        F.lit(LINK_KIND).alias("link_kind"),
        F.col("match_weight").cast("double").alias("match_weight"),
        F.col("match_probability").cast("double").alias("match_probability"),
    )


def predict(
    records: DataFrame,
    model: TrainedModel,
    cfg: LinkingConfig | ProbabilisticConfig,
    *,
    new_keys: DataFrame | None = None,
    breaks: LineageBreaks | None = None,
    frequencies: DataFrame | None = None,
) -> DataFrame:
    """Score candidate pairs and keep those above the configured threshold.

    Args:
        records: Person records (all of them, also in incremental runs: term
            frequencies and the existing side of the comparisons come from here).
        model: A trained model.
        cfg: The linking config (threshold, columns).
        new_keys: Optional frame with a ``record_key`` column: only pairs with at least
            one side in it are scored (incremental run).
        breaks: How the prepared records are materialised (None: a local checkpoint).
            Splink reads them once per term-frequency table, for the blocking-rule
            counts and for blocking; unmaterialised, each read prepares them again.
        frequencies: Kept term frequencies (``vista.identity.link.frequencies``) to
            score with, so a pair's score does not depend on the rest of the population;
            None: Splink computes them over ``records``.

    Returns:
        A ``LINKS`` frame with ``link_kind`` = ``probabilistic``, vetoes applied.

    Raises:
        ModelError: A configured column or veto comparison is missing.
        BlockingRuleTooBroad: A blocking rule would make more comparisons than
            ``max_comparisons_per_rule``.
    """
    p = _as_trained(_pcfg(cfg), model)
    breaks = breaks or LineageBreaks(records.sparkSession)
    # the columns the model was trained on: a model registered before a change in how
    # records are prepared keeps working
    prepared = breaks(_prepare(records, model.columns, model.preparation))
    # Matching columns are retained so the gamma (level) columns exist for the vetoes.
    settings = dict(model.settings, retain_matching_columns=bool(p.vetoes))
    check_comparison_counts(prepared, p.blocking_rules, p.max_comparisons_per_rule,
                            setting="identity.linking.probabilistic.blocking_rules")
    linker, db = _linker(prepared, settings, p.break_lineage)
    if frequencies is not None:
        columns = frequency_columns(model.settings)
        values = value_frequencies(prepared, frequencies, columns)
        if new_keys is not None:  # read by both of the incremental run's predictions
            values = breaks(values)
        for column in columns:
            linker.table_management.register_term_frequency_lookup(db.register(
                frequency_lookup(values, column, prepared.schema[column].dataType)), column)
    if new_keys is None:
        scored = linker.inference.predict(warning_mode="never")
        return _to_links(_above_threshold(scored.as_spark_dataframe(), p), p)
    if frequencies is None:
        for column in frequency_columns(model.settings):
            linker.table_management.compute_tf_table(column)
    keys = new_keys.select("record_key").distinct()
    new = prepared.join(keys, on="record_key", how="left_semi")
    old = prepared.join(keys, on="record_key", how="left_anti")
    new_sdf, old_sdf = db.register(new), db.register(old)
    between = linker.inference.predict_between(old_sdf, new_sdf, warning_mode="never")
    within = linker.inference.predict_within(new_sdf, warning_mode="never")
    return _to_links(_above_threshold(between.as_spark_dataframe(), p), p).unionByName(
        _to_links(_above_threshold(within.as_spark_dataframe(), p), p))


def model_frequencies(records: DataFrame, model: TrainedModel) -> DataFrame:
    """The model's term frequencies over ``records``, prepared as the model compares them.

    Args:
        records: Person records (the population the frequencies are kept for).
        model: A trained model.

    Returns:
        ``vista.identity.link.frequencies.FREQUENCIES`` rows keyed by the model's
        :func:`~vista.identity.link.frequencies.model_key`; :func:`predict` scores with
        them through ``frequencies``.
    """
    prepared = _prepare(records, model.columns, model.preparation)
    return term_frequencies(prepared, frequency_columns(model.settings),
                            model_key(model.settings))


def _as_trained(p: ProbabilisticConfig, model: TrainedModel) -> ProbabilisticConfig:
    """The config without the blocking rules and vetoes training left out (``changes``)."""
    left_out = set(model.changes.get("blocking_rules", []))
    compared = {c["output_column_name"] for c in model.settings["comparisons"]}
    return p.model_copy(update={
        "blocking_rules": [r for r in p.blocking_rules if repr(r) not in left_out],
        "vetoes": [v for v in p.vetoes if v.comparison in compared]})


def _above_threshold(scored: DataFrame, p: ProbabilisticConfig) -> DataFrame:
    """Keep the pairs at or above ``threshold_match_probability``.

    Filtered here rather than by Splink's ``threshold_match_probability``: Splink puts
    the threshold into the SQL that sums the match weights, and Spark's generated code
    for that filter grows beyond the JVM's 64 KB method limit (a long Java stack trace on
    every run, then a slower interpreted fallback). The comparison is on the match
    weight, as Splink's own filter is, so the same pairs are kept.
    """
    threshold = math.log2(p.threshold_match_probability / (1 - p.threshold_match_probability))
    return scored.where(F.col("match_weight") >= threshold)


def explain_pairs(
    records: DataFrame,
    model: TrainedModel,
    pairs: DataFrame,
) -> DataFrame:
    """Per-comparison match weights for given record pairs.

    Args:
        records: Person records holding at least both sides of every pair.
        model: A trained model.
        pairs: Frame with ``record_key_l`` and ``record_key_r``.

    Returns:
        One row per (pair, comparison): record_key_l, record_key_r, comparison,
        level (comparison vector value), label, match_weight (log2 Bayes factor with the
        term-frequency adjustment), tf_adjustment_weight, pair_match_weight,
        pair_match_probability. Field values are not included.
    """
    # Matching columns must be retained for Splink to keep the gamma (level) columns;
    # the raw values are dropped again below.
    settings = dict(model.settings, retain_intermediate_calculation_columns=True,
                    retain_matching_columns=True)
    cols = [c["output_column_name"] for c in settings["comparisons"]]
    keys = pairs.select(F.least("record_key_l", "record_key_r").alias("a"),
                        F.greatest("record_key_l", "record_key_r").alias("b")).distinct()
    spark = records.sparkSession
    # All records, not only the pairs' own: term frequencies come from the population.
    linker, db = _linker(prepare_records(records, model.preparation).select(*model.columns),
                         settings, model.break_lineage)
    blocked = db.register(keys.select(F.lit("0").alias("match_key"),
                                      F.col("a").alias("join_key_l"),
                                      F.col("b").alias("join_key_r")))
    linker.table_management.register_blocked_pairs_for_predict(blocked)
    scored = linker.inference.predict(warning_mode="never").as_spark_dataframe()
    labels = spark.createDataFrame(
        [(c["output_column_name"], value, lv.get("label_for_charts") or lv["sql_condition"])
         for c in settings["comparisons"]
         for lv, value in zip(c["comparison_levels"], _level_values(c["comparison_levels"]), strict=True)],
        "comparison string, level int, label string")
    per_field = scored.select(
        "record_key_l", "record_key_r",
        F.col("match_weight").alias("pair_match_weight"),
        F.col("match_probability").alias("pair_match_probability"),
        F.explode(F.array(*[F.struct(
            F.lit(c).alias("comparison"),
            F.col(f"gamma_{c}").cast("int").alias("level"),
            F.col(f"mw_{c}").cast("double").alias("bf_weight"),
            (F.coalesce(F.col(f"mw_tf_adj_{c}").cast("double"), F.lit(0.0))
             if f"mw_tf_adj_{c}" in scored.columns else F.lit(0.0)).alias("tf_adjustment_weight"),
        ) for c in cols])).alias("f"),
    ).select("record_key_l", "record_key_r", "f.*", "pair_match_weight",
             "pair_match_probability")
    return (per_field.join(labels, on=["comparison", "level"], how="left")
            .select("record_key_l", "record_key_r", "comparison", "level", "label",
                    (F.col("bf_weight") + F.col("tf_adjustment_weight")).alias("match_weight"),
                    "tf_adjustment_weight", "pair_match_weight", "pair_match_probability"))



def model_charts(records: DataFrame, model: TrainedModel) -> dict[str, Any]:
    """Splink's Altair charts of a trained model (for MLflow artifacts).

    Args:
        records: Any frame with the model's columns (only its schema is used).
        model: A trained model.

    Returns:
        ``{"match_weights": ..., "m_u_parameters": ...}`` Altair charts.
    """
    empty = prepare_records(records.limit(0), model.preparation)
    linker, _ = _linker(empty.select(*model.columns), model.settings, model.break_lineage)
    return {"match_weights": linker.visualisations.match_weights_chart(),
            "m_u_parameters": linker.visualisations.m_u_parameters_chart()}

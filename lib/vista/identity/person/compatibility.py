"""Compatibility: can two person records be one person?

The rules of ``identity.clustering.compatibility`` (birth dates, nickname-, typo- and
swap-aware first names, full names that share their first words and then differ,
optionally gender), as Spark column expressions over a pair of records. Linking uses
them to tell a shared identifier from a person's own (``deterministic``), clustering to
refuse merges (``cluster``).
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.identity.person.config import CompatibilityConfig, FirstNameRule, FullNameRule

COMPATIBILITY_COLUMNS = ["record_key", "birth_date", "first_name_std", "full_name_std", "gender",
                         "first_name_derived", "first_name_keys", "trusted_ids"]


def compatibility_frame(records: DataFrame, cfg: CompatibilityConfig) -> DataFrame:
    """The columns the compatibility rules read, one row per record.

    Args:
        records: Person records; ``full_name_std`` and ``gender`` are optional (a missing
            full name is built from first and last name; a record with neither first
            nor last name takes the first word of its full name of two or more words
            as first name; a missing gender is null).
        cfg: The compatibility rules (their nickname lists).

    Returns:
        ``COMPATIBILITY_COLUMNS``: record_key, birth_date, first_name_std, full_name_std,
        gender, first_name_derived (the first name is the full name's first word),
        first_name_keys, trusted_ids (``kind=value`` of the record's ids of the kinds
        ``cfg.trusted_ids.kinds`` lists).
    """
    from vista.identity.person.names import with_name_keys

    cols = set(records.columns)
    parts = F.concat_ws(" ", *[c for c in ("first_name_std", "last_name_std") if c in cols])
    full = F.nullif(parts, F.lit(""))
    if "full_name_std" in cols:
        full = F.coalesce(F.nullif(F.col("full_name_std"), F.lit("")), full)
    gender = F.col("gender") if "gender" in cols else F.lit(None).cast("string")
    # a source with one name field (a loyalty card, a ticket) still has a first name:
    # the first word of its full name (swapped order is tolerated by the name rule). A
    # record with a last name but no first name has none: its full name is surnames.
    # Nor has a one-word full name: "davis" and "andrea" may be one person's surname
    # and first name.
    last = F.col("last_name_std") if "last_name_std" in cols else F.lit(None)
    derived = (F.col("first_name_std").isNull() & last.isNull()
               & (F.size(F.split(F.trim(full), " ")) > 1))
    first = F.coalesce(F.col("first_name_std"),
                       F.when(derived, F.get(F.split(full, " "), 0)))
    base = records.select("record_key", "birth_date", first.alias("first_name_std"),
                          full.alias("full_name_std"), gender.alias("gender"),
                          derived.alias("first_name_derived"),
                          _trusted_ids(records, cfg).alias("trusted_ids"))
    return with_name_keys(base, cfg.first_name).select(COMPATIBILITY_COLUMNS)


def _trusted_ids(records: DataFrame, cfg: CompatibilityConfig) -> Column:
    """``kind=value`` of a record's ids of the trusted kinds (an empty array: none)."""
    rule = cfg.trusted_ids
    kinds = rule.kinds if rule.enabled else []
    if not kinds or "ids" not in records.columns:
        return F.array().cast(T.ArrayType(T.StringType()))
    chosen = F.map_filter("ids", lambda k, v: k.isin(kinds) & (F.length(F.trim(v)) > 0))
    return F.transform(F.map_entries(chosen),
                       lambda e: F.concat(e["key"], F.lit("="), F.trim(e["value"])))


def _spelling_agrees(rule: FirstNameRule, a: Column, b: Column) -> Column:
    """Equal, or within the rule's edit budget, or (``allow_transposition``) same letters."""
    dist = F.levenshtein(a, b)
    longest = F.greatest(F.length(a), F.length(b))
    agree = (a == b) | ((dist <= rule.max_edits) & (dist / longest <= rule.max_edit_ratio))
    if rule.allow_transposition:
        def letters(c: Column) -> Column:
            return F.array_sort(F.split(c, ""))
        agree = agree | ((letters(a) == letters(b)) & (dist <= rule.max_edits))
    return agree


def _names_agree(rule: FirstNameRule, left: str, right: str) -> Column:
    a, b = F.col(f"{left}first_name_std"), F.col(f"{right}first_name_std")
    agree = _spelling_agrees(rule, a, b)
    agree = agree | F.coalesce(F.arrays_overlap(F.col(f"{left}first_name_keys"),
                                                F.col(f"{right}first_name_keys")), F.lit(False))
    if rule.allow_prefix:
        agree = agree | a.startswith(b) | b.startswith(a)
    if rule.allow_swapped_names:
        def in_full_name(name: Column, side: str) -> Column:
            # the name's first word is (a spelling of) a word of the other full name
            word = F.get(F.split(name, " "), 0)
            return F.exists(F.split(F.col(f"{side}full_name_std"), " "),
                            lambda w: _spelling_agrees(rule, word, w))
        # names that start alike are not swapped ("maria teresa" and "maria del carmen"
        # each start with a word of the other's full name): their whole forms decide
        first_words_differ = F.get(F.split(a, " "), 0) != F.get(F.split(b, " "), 0)
        swapped = in_full_name(a, right) & in_full_name(b, left) & first_words_differ
        agree = agree | F.coalesce(swapped, F.lit(False))
    # a first name taken from a full name may be a surname (order unknown, or the
    # source left the first name out): the other record's first name being a word of
    # that full name, or it being a word of the other's full name, is enough
    def word_of(side: str, name: Column) -> Column:
        word = F.get(F.split(name, " "), 0)
        return F.exists(F.split(F.col(f"{side}full_name_std"), " "),
                        lambda w: _spelling_agrees(rule, word, w))

    for side, other_side, own, other in ((left, right, a, b), (right, left, b, a)):
        derived = F.coalesce(F.col(f"{side}first_name_derived"), F.lit(False))
        either = word_of(side, other) | word_of(other_side, own)
        agree = agree | (derived & F.coalesce(either, F.lit(False)))
    return agree


def _words_alike(rule: FullNameRule, a: Column, b: Column) -> Column:
    dist = F.levenshtein(a, b)
    longest = F.greatest(F.length(a), F.length(b))
    same_letters = F.array_sort(F.split(a, "")) == F.array_sort(F.split(b, ""))
    return ((a == b) | ((dist <= rule.max_edits) & (dist / longest <= rule.max_edit_ratio))
            | same_letters | a.startswith(b) | b.startswith(a))


def _full_names_differ(rule: FullNameRule, a: Column, b: Column) -> Column:
    """Both names agree on their first ``min_shared_words`` words or more, then go on
    with different words (see :class:`FullNameRule`)."""
    wa, wb = F.split(F.trim(a), " +"), F.split(F.trim(b), " +")
    shortest = F.least(F.size(wa), F.size(wb))

    def step(acc: Column, i: Column) -> Column:
        on = acc["on"] & _words_alike(rule, F.get(wa, i - 1), F.get(wb, i - 1))
        return F.struct((acc["k"] + on.cast("int")).alias("k"), on.alias("on"))

    def differ(acc: Column) -> Column:
        # the count of shared words is bound once, as the fold's result: written out as
        # a column it would be copied into every use below, and the copies made the
        # expression too big for Spark's code generator (minutes to plan 20 records)
        shared = acc["k"]

        def rest(words: Column) -> Column:
            return F.array_join(F.slice(words, shared + 1, F.size(words) - shared), "")

        ra, rb = rest(wa), rest(wb)
        return ((shared >= rule.min_shared_words) & (shared < shortest)
                & ~ra.startswith(rb) & ~rb.startswith(ra)
                & (F.levenshtein(ra, rb) > rule.max_edits))

    start = F.struct(F.lit(0).alias("k"), F.lit(True).alias("on"))
    return F.aggregate(F.sequence(F.lit(1), shortest), start, step, differ)


def incompatible(cfg: CompatibilityConfig, left: str = "l_", right: str = "r_") -> Column:
    """True when two records strongly disagree and must not share a cluster.

    Works on a pair frame whose columns are ``COMPATIBILITY_COLUMNS`` (see
    :func:`compatibility_frame`) prefixed with ``left`` and ``right``. A missing value
    never disagrees.

    Args:
        cfg: The compatibility rules.
        left: Prefix of the left record's columns.
        right: Prefix of the right record's columns.

    Returns:
        A boolean column (never null).
    """
    checks: list[Column] = []
    overridable: list[Column] = []  # the rules a trusted shared id outweighs
    bd = cfg.birth_date
    if bd.enabled:
        a, b = F.col(f"{left}birth_date"), F.col(f"{right}birth_date")
        parts = sum(
            (fn(a) != fn(b)).cast("int") for fn in (F.year, F.month, F.dayofmonth)
        )
        too_far = parts > bd.max_differing_parts
        if bd.allow_day_month_swap:
            swapped = (F.year(a) == F.year(b)) & (F.month(a) == F.dayofmonth(b)) & (
                F.dayofmonth(a) == F.month(b))
            too_far = too_far & ~swapped
        overridable.append(F.coalesce(a.isNotNull() & b.isNotNull() & too_far, F.lit(False)))
    if cfg.first_name.enabled:
        a, b = F.col(f"{left}first_name_std"), F.col(f"{right}first_name_std")
        present = a.isNotNull() & b.isNotNull() & (F.length(a) > 0) & (F.length(b) > 0)
        overridable.append(F.coalesce(present & ~_names_agree(cfg.first_name, left, right),
                                      F.lit(False)))
    if cfg.full_name.enabled:
        a, b = F.col(f"{left}full_name_std"), F.col(f"{right}full_name_std")
        present = (F.length(F.trim(a)) > 0) & (F.length(F.trim(b)) > 0)
        overridable.append(F.coalesce(present & _full_names_differ(cfg.full_name, a, b),
                                      F.lit(False)))
    if cfg.gender_must_agree:
        a, b = F.col(f"{left}gender"), F.col(f"{right}gender")
        checks.append(F.coalesce(a.isNotNull() & b.isNotNull() & (a != b), F.lit(False)))
    kept = reduce(lambda x, y: x | y, checks) if checks else F.lit(False)
    if not overridable:
        return kept
    rule = cfg.trusted_ids
    if not (rule.enabled and rule.kinds):
        return reduce(lambda x, y: x | y, overridable, kept)
    shared = F.coalesce(F.arrays_overlap(F.col(f"{left}trusted_ids"),
                                         F.col(f"{right}trusted_ids")), F.lit(False))

    def outweighed(failed: Column) -> Column:
        return (failed > 0) & ~(shared & (failed <= rule.max_disagreements))

    # the failed rules are counted in one fold so each rule's expression is written once
    # (testing "any failed" and "how many failed" apart would copy every rule twice)
    return kept | F.aggregate(F.array(*overridable), F.lit(0),
                              lambda n, failed: n + failed.cast("int"), outweighed)


def name_flags(records: DataFrame) -> DataFrame:
    """``record_key, named``: whether a record carries any name (first, last or full;
    blank is none)."""
    named = F.lit(False)
    for c in ("first_name_std", "last_name_std", "full_name_std"):
        if c in records.columns:
            named = named | F.coalesce(F.length(F.trim(F.col(c))) > 0, F.lit(False))
    return records.select("record_key", named.alias("named"))

"""Typed configuration of the person rules: when two records cannot be one person.

Every default is general; a deployment sets its own values under
``identity.clustering.compatibility`` in ``conf/`` (every key optional)::

    compatibility:
      birth_date: {enabled: true, max_differing_parts: 1, allow_day_month_swap: true}
      first_name: {enabled: true, max_edits: 2, max_edit_ratio: 0.34,
                   allow_prefix: true, allow_transposition: true,
                   typo_edits: 1, typo_min_length: 5,
                   nicknames: {bob: robert, liz: elizabeth}}
      full_name: {enabled: true, min_shared_words: 2, max_edits: 2, max_edit_ratio: 0.34}
      gender_must_agree: false
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vista.config.models import Section


class BirthDateRule(Section):
    """When two birth dates strongly disagree.

    Dates are compared part by part (year, month, day). They are incompatible when more
    than ``max_differing_parts`` parts differ, unless ``allow_day_month_swap`` and the
    dates are the same with day and month swapped (a US/EU format mix-up).
    """

    enabled: bool = True
    max_differing_parts: int = Field(1, ge=0, le=2)
    allow_day_month_swap: bool = True


class FirstNameRule(Section):
    """When two standardised first names strongly disagree.

    Two names are compatible when they are equal, when they are forms of one name in
    the nickname lists (``nickname_sets``: lists shipped with vista — ``en`` from the
    ``nicknames`` package, ``es`` for Spanish and Catalan hypocorisms; ``nickname_files``:
    your own CSV files with ``name,nickname`` columns; ``nicknames``: inline
    nickname -> name pairs, lower case like ``first_name_std``), when one is a prefix of
    the other (``allow_prefix``: an initial or a short form), when their Levenshtein
    distance is at most ``max_edits`` *and* at most ``max_edit_ratio`` of the longer
    name (so "jon"/"john" agree, "ana"/"eva" do not), when (``allow_transposition``)
    they have the same letters within ``max_edits`` (a swapped pair of letters costs 2
    Levenshtein edits), or when (``allow_swapped_names``) each record's first name is a
    word of the other record's full name (first and last name entered the wrong way
    round). A name missing from the lists that is one typo away (``typo_edits``
    Levenshtein edits, or a swapped pair of letters; same first letter, at least
    ``typo_min_length`` letters) from exactly one listed name stands for what that name
    stands for, so "francsico" is a form of "paco"; a typo near two listed names stands
    for neither.
    """

    enabled: bool = True
    typo_edits: int = Field(1, ge=0)
    typo_min_length: int = Field(5, ge=1)
    max_edits: int = Field(2, ge=0)
    max_edit_ratio: float = Field(0.34, ge=0.0, le=1.0)
    allow_prefix: bool = True
    allow_transposition: bool = True
    allow_swapped_names: bool = True
    nickname_sets: list[Literal["en", "es"]] = Field(default_factory=lambda: ["en", "es"])
    nickname_files: list[str] = Field(default_factory=list)
    nicknames: dict[str, str] = Field(default_factory=dict)

    @field_validator("nicknames")
    @classmethod
    def _lower_case(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k, val in v.items() if k != k.strip().lower() or val != val.strip().lower()]
        if bad:
            raise ValueError(f"nicknames must be lower-case and trimmed like first_name_std; "
                             f"found {bad[:5]}")
        return v


class FullNameRule(Section):
    """When two full names name different people who share their first words.

    Two full names (``full_name_std``, else first and last name) are incompatible when
    they agree word by word on their first ``min_shared_words`` words or more and then
    both go on, with words that differ: "cesar salas briseno" and "cesar salas chapa"
    are namesakes with different second surnames. Words agree when they are spelled
    alike (at most ``max_edits`` edits and ``max_edit_ratio`` of the longer word, the
    same letters swapped, or one a prefix of the other), and the endings must differ by
    more than ``max_edits`` with neither a prefix of the other, so a typo ("briseno
    espnial"), a word split in two ("prado tormo" / "pradot ormo") or a missing second
    surname ("cesar salas") never disagrees. Where people change surname on marriage, a
    middle name followed by a new surname looks like this too: set ``enabled: false``
    or raise ``min_shared_words``.
    """

    enabled: bool = True
    min_shared_words: int = Field(2, ge=1)
    max_edits: int = Field(2, ge=0)
    max_edit_ratio: float = Field(0.34, ge=0.0, le=1.0)


class TrustedIdRule(Section):
    """A declared id that two records share outweighs a disagreement the lake shows is noise.

    The birth-date, first-name and full-name rules keep twins, family members and
    namesakes apart. Where data entry replaces or swaps first names, or mistypes birth
    dates, they also keep apart records of one person that carry the same national id
    or customer number. Which of the two a lake has is a property of the lake, so it is
    measured on every identity run (``vista.identity.link.trusted_ids.with_trusted_ids``;
    ``vista identity explain A B`` measures it the same way): for each declared id
    kind (a source's ``ids:``, e.g. a national id; never e-mail or phone, which
    households share), it takes every pair of records
    sharing one of its values (values on at most
    ``identity.linking.deterministic.guards.max_records_per_value`` records) and counts
    the pairs whose first names disagree, whose birth dates disagree, and whose first
    names *and* birth dates both disagree (conflicts). Typos strike the two fields
    independently, so among pairs of one person the conflict share is about the
    product of the other two shares; different people disagree on both at once. A kind
    with at least ``min_pairs`` pairs whose conflict share is at most
    ``max_conflict_share``, or at most ``max_conflict_lift`` times that product, is
    *trusted*: two records sharing one of its values are compatible despite up to
    ``max_disagreements`` of the birth-date, first-name and full-name rules failing (a
    differing gender, where ``gender_must_agree``, still separates them). A kind a
    family shares (a household loyalty card) shows conflicts well above chance and
    stays untrusted; twins sharing a landline are never concerned (a phone is not a
    declared id).

    ``kinds``: null learns the trusted kinds from the lake on every run; a list fixes
    them (``[]``: none).

    The same pairs say how reliable the first-name and birth-date rules are in this
    lake: they are records of one person, so every disagreement among them is data
    entry noise. A rule exists because one person's records almost never disagree on
    its field; where the pairs sharing a trusted id disagree on it more often than
    ``max_rule_noise`` (with ``rule_noise_confidence``: the one-sided Wilson lower
    bound of the share, so a handful of pairs never decides), a disagreement no longer
    tells two people apart and the rule is *noise* in this lake: it refuses no cluster
    and no identifier, and the probabilistic veto on its column
    (``identity.linking.probabilistic.vetoes``) is dropped, leaving the field to the
    model's weights. 0.03 is where a disagreement weighs about -5 bits, the weakest
    evidence still treated as a veto. The cost is stated plainly: in such a lake a
    first name no longer keeps twins apart. A lake without shared declared ids gives no
    evidence and keeps every rule. ``max_rule_noise: 1.0`` keeps the rules whatever the
    lake shows.
    """

    enabled: bool = True
    kinds: list[str] | None = None
    max_disagreements: int = Field(1, ge=1, le=2)
    max_conflict_share: float = Field(0.01, ge=0.0, le=1.0)
    max_conflict_lift: float = Field(2.0, ge=0.0)
    min_pairs: int = Field(10, ge=1)
    max_rule_noise: float = Field(0.03, ge=0.0, le=1.0)
    rule_noise_confidence: float = Field(0.95, gt=0.0, lt=1.0)


class CompatibilityConfig(Section):
    """Which disagreements forbid two records from sharing a cluster (cannot-link)."""

    birth_date: BirthDateRule = Field(default_factory=BirthDateRule)
    first_name: FirstNameRule = Field(default_factory=FirstNameRule)
    full_name: FullNameRule = Field(default_factory=FullNameRule)
    gender_must_agree: bool = False
    trusted_ids: TrustedIdRule = Field(default_factory=TrustedIdRule)

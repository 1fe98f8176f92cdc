"""Typed configuration of record linking: deterministic ids, guards, the Splink model.

Every default here is general (no source- or sample-specific names). A deployment puts
its own values under ``identity.linking`` in ``conf/``; see :class:`LinkingConfig`.

The YAML shape (every key optional)::

    linking:
      deterministic:
        id_kinds: null                 # null = every key of `ids` except exclude_id_kinds
        exclude_id_kinds: [device_id, cookie_id]
        column_kinds: {email: email_std, phone: [phone_e164, other_phones_e164]}  # array: each
        expression_kinds: {email_key: <email_std without dots / +tag in the local part>}
        guards:
          max_records_per_value: 50    # M: a value on more records is ignored entirely
          max_distinct_first_names: 1  # N: more distinct names -> "shared" identifier
          max_distinct_birth_dates: 1
          agreement_fields: [first_name_std, birth_date]
          blocklist: ['^0+$', '^(test|noemail|none)@']
        per_kind_max_records: {phone: 20}   # optional per-kind override of M
        past_values: {enabled: true, table: silver/person_records_history,
                      kinds: [email, email_key]}   # old values of a record link it too
      devices:
        device_id_kinds: {device_id: web_device}
        account_id_kinds: [account_id]
        max_accounts_per_device: 3
      probabilistic:
        blocking_rules: [["substring_index(first_name_std, ' ', 1)", last_name_std], [email_std], ...]
        training_blocking_rules: [[first_name_std, last_name_std], [birth_date]]
        comparisons: [{column: first_name_std, kind: name, thresholds: [0.92, 0.8]}, ...]
        u_max_pairs: 1.0e6
        u_num_chunks: 1
        max_iterations: 25
        em_max_pairs: null
        em_without_term_frequencies: true
        prior: {value: null, deterministic_rules: [[email_std]], recall: 0.7}
        derived_columns: {phone_digits: <digits of phone_e164, else of the phone as delivered>,
                          other_phone_digits: <digits of each of other_phones_e164>}
        threshold_match_probability: 0.5   # <= identity.clustering.lone_records.min_probability
        break_lineage: parquet
        max_comparisons_per_rule: 1.0e8   # a broader blocking rule stops the run
        vetoes: [{comparison: first_name_std, levels: [0]}, {comparison: birth_date}]
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from vista.config.models import Section

BlockingRule = list[str] | str
"""A blocking rule: the columns (or Spark SQL expressions on one record) that must be
equal, or one Splink SQL condition on a pair, its sides prefixed ``l.`` and ``r.`` (for
keys that cross columns, such as a first name entered as a last name). Keep conditions
equi-joins: an ``OR`` makes Spark compare every pair."""

PHONE_SUFFIX_DIGITS = 7
"""Phones agree on their last 7 digits: the subscriber number, whatever country code or
trunk prefix each source wrote (or left out)."""

FIRST_WORD = "substring_index({}, ' ', 1)"
"""Spark SQL for the first word of a column (a blocking key)."""

NAME_WORDS_KEY = ("nullif(array_join(array_sort(split(trim(concat_ws(' ', first_name_std, "
                  "last_name_std)), ' ')), ' '), '')")
"""Spark SQL for a record's name words in alphabetical order: the same key whichever
field each word was entered in."""


_DIGITS = "regexp_replace(coalesce(phone_e164, phone), '[^0-9]', '')"
PHONE_DIGITS_SQL = (f"CASE WHEN length({_DIGITS}) >= {PHONE_SUFFIX_DIGITS} "
                    f"AND length(replace({_DIGITS}, left({_DIGITS}, 1), '')) > 0 THEN {_DIGITS} END")
"""Spark SQL for a record's phone as digits: of its E.164 form, else of the number as the
source wrote it. A source without a country writes numbers nationally ("113 21 52 991"),
which no E.164 parser can place; their last digits still meet the E.164 form
("+541132152991") of another source. Fewer digits than the suffix, or one repeated digit (a
placeholder such as 000000000) gives null."""
OTHER_PHONE_DIGITS_SQL = ("filter(transform(coalesce(other_phones_e164, array()), "
                          "p -> regexp_replace(p, '[^0-9]', '')), "
                          f"d -> length(d) >= {PHONE_SUFFIX_DIGITS})")
"""Spark SQL for the digits of a record's further (E.164) phone numbers."""


def rule_columns(rule: BlockingRule) -> list[str]:
    """The columns a blocking rule (its parts, or its pair condition) or an expression reads.

    Args:
        rule: A blocking rule, or one Spark SQL expression.

    Returns:
        Column names, in order of appearance (``l.`` / ``r.`` prefixes dropped).
    """
    import sqlglot
    from sqlglot import exp

    cols = []
    for part in [rule] if isinstance(rule, str) else rule:
        cols += [c.name for c in sqlglot.parse_one(part, dialect="spark").find_all(exp.Column)]
    return cols


def _cross_rule(left: str, right: str) -> str:
    return (f"{FIRST_WORD.format('l.' + left)} = {FIRST_WORD.format('r.' + right)} "
            "AND l.birth_date = r.birth_date")


class GuardConfig(Section):
    """When an identifier value is too common to prove identity on its own.

    An identifier value (one email, one phone number, one loyalty card ...) is:

    * **ignored** when it is carried by more than ``max_records_per_value`` records or
      matches one of the ``blocklist`` regexes (placeholders such as ``000000`` or
      ``test@...``);
    * **shared** when two of its records are incompatible people by the clustering's
      compatibility rules (``identity.clustering.compatibility``: nickname-, typo- and
      swap-aware first names, birth dates) — a family email, a shop phone. A shared
      value only links two records that are compatible and both carry a first name or
      both a birth date. This is what the identity stage uses. Called without those
      rules (``deterministic_links(records, cfg)``), the linker falls back to counts:
      shared when its records carry more than ``max_distinct_first_names`` distinct
      first names or more than ``max_distinct_birth_dates`` birth dates, linking two
      records only when the first field of ``agreement_fields`` both carry is equal;
    * otherwise **personal**: every record carrying it is linked (as a star on the
      group's smallest record key, so no quadratic pairs are made).
    """

    max_records_per_value: int = Field(50, ge=2)
    max_distinct_first_names: int = Field(1, ge=1)
    max_distinct_birth_dates: int = Field(1, ge=1)
    agreement_fields: list[str] = Field(
        default_factory=lambda: ["first_name_std", "birth_date"], min_length=1
    )
    blocklist: list[str] = Field(
        default_factory=lambda: [
            r"^0+$",
            r"^\+?0+$",
            r"^\+?[0-9]?(\d)\1{5,}$",  # 1111111 style fillers
            r"^\+?\d{1,3}0{6,}$",  # a country code followed by zeros
            r"^(\+?[0-9]{1,3})?123456789?0?$",
            r"^(test|noemail|no-email|none|no|na|null|unknown|anonymous|example)@",
            r"@(example\.(com|org|net)|test\.com|mailinator\.com)$",
            r"^(unknown|none|null|n/?a|-+|\?+)$",
        ]
    )

    @field_validator("blocklist")
    @classmethod
    def _regexes_compile(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"blocklist pattern {pattern!r} is not a regex: {exc}") from exc
        return v


EMAIL_KEY_SQL = (
    "CASE WHEN email_std LIKE '%@%' THEN concat(regexp_replace(regexp_replace("
    "substring_index(email_std, '@', 1), '[+].*$', ''), '[.]', ''), '@', "
    "substring_index(email_std, '@', -1)) END"
)


_NAMELESS = "first_name_std IS NULL AND last_name_std IS NULL AND full_name_std IS NULL"
_EMAIL_LETTERS = "regexp_replace(substring_index(email_std, '@', 1), '[0-9._+-]', '')"


def _email_name_sql(first: str, second: str) -> str:
    name = (f"regexp_replace(concat(substring_index({first}, ' ', 1), "
            f"substring_index({second}, ' ', 1)), '[ \\'-]', '')")
    key = (f"CASE WHEN {_NAMELESS} THEN {_EMAIL_LETTERS} "
           f"WHEN first_name_std IS NOT NULL AND last_name_std IS NOT NULL THEN {name} END")
    return f"CASE WHEN length({key}) >= 6 THEN {key} END"


EMAIL_NAME_SQL = _email_name_sql("first_name_std", "last_name_std")
"""A nameless record's e-mail user name without digits and separators, or a named
record's first name and first surname run together: "ana.ruiz77@x" meets Ana Ruiz."""

EMAIL_NAME_REVERSED_SQL = _email_name_sql("last_name_std", "first_name_std")
"""The same with the surname first: "ruiz_ana@x" meets Ana Ruiz."""


class PastValuesConfig(Section):
    """Identifier values a record carried in its earlier versions link it too.

    A customer who changed e-mail address in the CRM still owns the old one wherever it
    was not updated (the newsletter platform, an old web-shop account). The identity
    stage reads every earlier version of each record from ``table`` (the SCD2 history
    ingestion keeps) and adds their values of the identifier ``kinds`` listed to the
    record's own, under the same guards. Phone numbers are left out by default:
    carriers reassign numbers their owners gave up.
    """

    enabled: bool = True
    table: str = "silver/person_records_history"
    kinds: list[str] = Field(default_factory=lambda: ["email", "email_key"])


class DeterministicConfig(Section):
    """Which identifiers link records on exact equality."""

    id_kinds: list[str] | None = None
    exclude_id_kinds: list[str] = Field(default_factory=lambda: ["device_id", "cookie_id"])
    # kind -> column(s); an array column gives one value per element (a record's
    # further phone numbers link like its main one).
    column_kinds: dict[str, str | list[str]] = Field(
        default_factory=lambda: {"email": "email_std",
                                 "phone": ["phone_e164", "other_phones_e164"]}
    )
    # kind -> Spark SQL expression on one record: derived identifiers. The default
    # ``email_key`` is the address with dots and a ``+tag`` dropped from the local
    # part, so "a.b@x" and "ab+shop@x" link like one address (sources disagree on both).
    expression_kinds: dict[str, str] = Field(default_factory=lambda: {
        "email_key": EMAIL_KEY_SQL, "email_name": EMAIL_NAME_SQL,
        "email_name_reversed": EMAIL_NAME_REVERSED_SQL})
    # Kinds that only say which person a record without any name belongs to: each of
    # its values links every nameless record carrying it to every named one, and the
    # clustering attaches a lone nameless record only when all those links reach one
    # cluster. Two named records are never linked by them: a name spelled in an e-mail
    # user name tells who a newsletter subscriber is, but two people with one name are
    # not one person.
    nameless_only_kinds: list[str] = Field(
        default_factory=lambda: ["email_name", "email_name_reversed"])
    guards: GuardConfig = Field(default_factory=GuardConfig)
    per_kind_max_records: dict[str, int] = Field(default_factory=dict)
    past_values: PastValuesConfig = Field(default_factory=PastValuesConfig)


class DeviceConfig(Section):
    """Device (cookie) to account evidence from interaction events."""

    device_id_kinds: dict[str, str] = Field(
        default_factory=lambda: {"device_id": "web_device", "cookie_id": "web_device"}
    )
    account_id_kinds: list[str] = Field(default_factory=lambda: ["account_id"])
    max_accounts_per_device: int = Field(3, ge=1)
    min_events: int = Field(1, ge=1)


ComparisonKind = Literal[
    "name", "date", "email", "phone", "address", "postal_code", "exact", "jaro_winkler"
]


class ComparisonSpec(Section):
    """One field compared by the Fellegi-Sunter model.

    kinds:
        name: exact / (optional) swapped with ``swapped_with`` / (optional) every
            word of one inside the other (``words_contained``) / (optional) forms of
            one name by the nickname lists (``nicknames``: the lists of
            ``identity.clustering.compatibility.first_name``) / (optional,
            ``split_words``, with ``swapped_with``) a name split from a one-field full
            name is a word of the other record's ``swapped_with`` column or the other way
            round / Jaro-Winkler levels (``thresholds``) on a folded name column.
        date: exact / Levenshtein <= 1 on the ISO string / within ``date_thresholds``
            of ``date_metrics`` (e.g. 1 month, 1 year, 10 years).
        email: exact / exact username / (``fuzzy``) Jaro-Winkler 0.88 full and username.
            Without ``fuzzy`` two different addresses are simply different: addresses
            are built from their holder's name ("ana.ruiz@", "anaruiz1987@"), so
            similar addresses mostly repeat what the name comparisons already counted,
            and two namesakes would get that evidence twice.
        phone: exact / (``others``: an array column of each record's further numbers)
            any number of one record equals any number of the other / same last
            ``suffix_digits`` digits.
        address: exact / Jaro-Winkler levels / token Jaccard >= ``jaccard_threshold``.
        postal_code, exact: exact match only.
        jaro_winkler: exact / Jaro-Winkler at ``thresholds``.
    """

    column: str
    kind: ComparisonKind
    thresholds: list[float] = Field(default_factory=lambda: [0.92, 0.8])
    tf_adjustment: bool = False
    date_thresholds: list[int] = Field(default_factory=lambda: [1, 1, 10])
    date_metrics: list[Literal["day", "month", "year"]] = Field(
        default_factory=lambda: ["month", "year", "year"]
    )
    words_contained: bool = False
    nicknames: bool = False
    swapped_with: str | None = None
    split_words: bool = False
    suffix_digits: int = Field(PHONE_SUFFIX_DIGITS, ge=3)
    others: str | None = None
    jaccard_threshold: float = Field(0.5, gt=0, le=1)
    fuzzy: bool = True

    @model_validator(mode="after")
    def _fuzzy_is_for_email(self) -> ComparisonSpec:
        if not self.fuzzy and self.kind != "email":
            raise ValueError(f"fuzzy: false is for email comparisons; a {self.kind} "
                             "comparison drops its Jaro-Winkler levels with thresholds: []")
        return self

    @model_validator(mode="after")
    def _others_is_for_phone(self) -> ComparisonSpec:
        if self.others is not None and self.kind != "phone":
            raise ValueError(f"others is for phone comparisons, not {self.kind}")
        return self

    @model_validator(mode="after")
    def _dates_pair_up(self) -> ComparisonSpec:
        if len(self.date_thresholds) != len(self.date_metrics):
            raise ValueError(
                f"date_thresholds ({len(self.date_thresholds)}) and date_metrics "
                f"({len(self.date_metrics)}) must have the same length"
            )
        return self


def _default_comparisons() -> list[ComparisonSpec]:
    return [
        ComparisonSpec(column="first_name_std", kind="name", thresholds=[0.92, 0.8],
                       tf_adjustment=True, words_contained=True, nicknames=True,
                       swapped_with="last_name_std", split_words=True),
        ComparisonSpec(column="last_name_std", kind="name", thresholds=[0.92, 0.8],
                       tf_adjustment=True, words_contained=True, swapped_with="first_name_std",
                       split_words=True),
        ComparisonSpec(column="birth_date", kind="date"),
        ComparisonSpec(column="email_std", kind="email", tf_adjustment=True, fuzzy=False),
        ComparisonSpec(column="phone_digits", kind="phone", others="other_phone_digits"),
        ComparisonSpec(column="address_std", kind="address", thresholds=[0.9]),
        ComparisonSpec(column="postal_code", kind="postal_code", tf_adjustment=True),
        ComparisonSpec(column="city", kind="exact", tf_adjustment=True),
    ]


class PriorConfig(Section):
    """How λ (probability that two random records match) is set.

    Either a fixed ``value``, or estimated from ``deterministic_rules`` assumed to find
    ``recall`` of the true matches (Splink's direct estimate).
    """

    value: float | None = Field(None, gt=0, lt=1)
    deterministic_rules: list[BlockingRule] = Field(
        default_factory=lambda: [["first_name_std", "last_name_std", "birth_date"], ["email_std"]]
    )
    recall: float = Field(0.7, gt=0, le=1)


class NameSplitConfig(Section):
    """Fill first / last name from a full name for records that only carry the latter.

    A source that delivers one name field (a loyalty card, a ticket's requester) leaves
    ``first`` and ``last`` empty; the model would then see no name at all. When both are
    null, the first word of ``full`` becomes ``first`` and the other words ``last``, and
    the boolean column ``flag`` marks the record (its word order is a guess: the full
    name may start with the surnames, or hold no first name). The split is only used
    for comparing; the stored record is unchanged.
    """

    full: str = "full_name_std"
    first: str = "first_name_std"
    last: str = "last_name_std"
    flag: str = "name_from_full_name"


class VetoRule(Section):
    """Drop a probabilistic link when one comparison lands on given levels.

    Fellegi-Sunter assumes fields are independent; twins and household members break
    that (same surname, address, phone, sometimes birth date and email), so their
    summed weights pass any threshold. A veto on a field that *must* agree for the same
    person (a first name that is not even similar) removes those links. ``levels`` are
    Splink comparison vector values: 0 is the "all other" level, -1 (null) never vetoes.
    """

    comparison: str
    levels: list[int] = Field(default_factory=lambda: [0], min_length=1)


class ProbabilisticConfig(Section):
    """The Fellegi-Sunter model trained and applied with Splink."""

    enabled: bool = True
    # First words of names: a second given name or surname that one source drops must
    # not keep two records from meeting; an e-mail's user name meets a mistyped domain.
    blocking_rules: list[BlockingRule] = Field(
        default_factory=lambda: [
            [FIRST_WORD.format("first_name_std"), FIRST_WORD.format("last_name_std")],
            # a typo past a first name's third letter ("margarita" / "margaria")
            ["substring(first_name_std, 1, 3)", FIRST_WORD.format("last_name_std")],
            [FIRST_WORD.format("last_name_std"), "birth_date"],
            [FIRST_WORD.format("first_name_std"), "birth_date"],
            ["email_std"],
            ["substring_index(email_std, '@', 1)"],
            [f"right(phone_digits, {PHONE_SUFFIX_DIGITS})"],
            ["postal_code", "last_name_std"],
            # both names replaced or mistyped: where and when the person was born still
            # meet (Splink's own examples block on postcode and birth date)
            ["postal_code", "birth_date"],
            ["address_std"],
            # names entered in the wrong fields, or split from a one-field full name
            [NAME_WORDS_KEY],
            _cross_rule("first_name_std", "last_name_std"),
            _cross_rule("last_name_std", "first_name_std"),
        ],
        min_length=1,
    )
    training_blocking_rules: list[BlockingRule] = Field(
        default_factory=lambda: [
            ["first_name_std", "last_name_std"],
            ["birth_date"],
            ["email_std"],
        ],
        min_length=2,
    )
    comparisons: list[ComparisonSpec] = Field(default_factory=_default_comparisons, min_length=1)
    name_split: NameSplitConfig | None = Field(default_factory=NameSplitConfig)
    # name -> Spark SQL expression on one record, computed before blocking and comparing
    # (and stored with the trained model, so predictions derive them the same way).
    derived_columns: dict[str, str] = Field(
        default_factory=lambda: {"phone_digits": PHONE_DIGITS_SQL,
                                 "other_phone_digits": OTHER_PHONE_DIGITS_SQL})
    u_max_pairs: float = Field(1e6, gt=0)
    u_seed: int | None = 42
    u_num_chunks: int = Field(1, ge=1)
    """Splink scores the u sample in this many jobs per comparison, stopping early once
    every level was seen 100 times. The sample is bounded by ``u_max_pairs`` whatever
    the lake's size, so one job fits; a comparison with a rare level (most have one)
    never stops early, and each further job costs seconds of scheduling."""
    max_iterations: int = Field(25, ge=1)
    em_convergence: float = Field(1e-4, gt=0)
    em_max_pairs: float | None = None
    em_without_term_frequencies: bool = True
    """EM iterates on the counts of each agreement pattern (a table bounded by the
    number of level combinations, not by the pairs) instead of on every blocked pair
    with its term-frequency adjustments (Splink's ``estimate_without_term_frequencies``).
    The adjustments still apply when pairs are scored."""
    prior: PriorConfig = Field(default_factory=PriorConfig)
    threshold_match_probability: float = Field(0.5, gt=0, lt=1)
    vetoes: list[VetoRule] = Field(default_factory=lambda: [
        VetoRule(comparison="first_name_std"), VetoRule(comparison="birth_date")])
    # How Splink breaks lineage between its steps: parquet files under the session's
    # checkpoint dir (safe at any size) or persist (faster on small data).
    break_lineage: Literal["parquet", "persist", "checkpoint"] = "parquet"
    max_comparisons_per_rule: float | None = Field(1e8, gt=0)
    """The most comparisons one blocking rule (prediction or training) may make,
    counted from its key groups before any pair is built (``vista.identity.link.blocking``);
    a broader rule stops the run, naming the rule and its count. None: counted only.
    Scoring runs at very roughly a million comparisons per core-minute, so raise it
    with the cluster, not to get past a rule that blocks on a common value."""

    @model_validator(mode="after")
    def _columns_exist(self) -> ProbabilisticConfig:
        """Every column a comparison, rule or veto names is a person column or derived."""
        from vista.schemas import PERSON_RECORDS

        known = set(PERSON_RECORDS.fieldNames()) | {"past_identifiers"} | set(self.derived_columns)
        if self.name_split is not None:
            known.add(self.name_split.flag)
        known |= {f"{c.column}_keys" for c in self.comparisons if c.kind == "name" and c.nicknames}
        problems = []
        for i, c in enumerate(self.comparisons):
            for key in ("column", "swapped_with", "others"):
                name = getattr(c, key)
                if name is not None and name not in known:
                    problems.append(f"comparisons[{i}].{key}: {name!r}")
        for key in ("blocking_rules", "training_blocking_rules"):
            for i, rule in enumerate(getattr(self, key)):
                problems += [f"{key}[{i}]: {c!r}" for c in _parsed_columns(rule)
                             if c not in known]
        for i, rule in enumerate(self.prior.deterministic_rules):
            problems += [f"prior.deterministic_rules[{i}]: {c!r}" for c in _parsed_columns(rule)
                         if c not in known]
        for name, sql in self.derived_columns.items():
            problems += [f"derived_columns.{name}: {c!r}" for c in _parsed_columns(sql)
                         if c not in known]
        # the default vetoes name default comparisons: a config that compares other
        # columns drops them (vista.identity.link.model_inputs); vetoes it sets must fit
        if "vetoes" in self.model_fields_set:
            compared = [c.column for c in self.comparisons]
            problems += [f"vetoes[{i}].comparison: {v.comparison!r} (compared: {compared})"
                         for i, v in enumerate(self.vetoes) if v.comparison not in compared]
        if problems:
            raise ValueError(
                "these settings name a column that person records do not have: "
                + "; ".join(problems) + f". Person columns: {sorted(PERSON_RECORDS.fieldNames())}"
                "; or add the column to derived_columns")
        return self

    @field_validator("derived_columns")
    @classmethod
    def _derived_parse(cls, v: dict[str, str]) -> dict[str, str]:
        import sqlglot

        problems = [f"{name!r} is not a column name" for name in v
                    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)]
        for name, sql in v.items():
            try:
                sqlglot.parse_one(sql, dialect="spark")
            except sqlglot.errors.ParseError as exc:
                problems.append(f"{name}: {sql!r} is not a Spark SQL expression ({exc})")
        if problems:
            raise ValueError("; ".join(problems))
        return v


def _parsed_columns(rule: BlockingRule) -> list[str]:
    """:func:`rule_columns`, or none for SQL that does not parse (reported elsewhere)."""
    import sqlglot

    try:
        return rule_columns(rule)
    except sqlglot.errors.ParseError:
        return []


class LinkingConfig(Section):
    """Everything the linking half of identity resolution needs."""

    deterministic: DeterministicConfig = Field(default_factory=DeterministicConfig)
    devices: DeviceConfig = Field(default_factory=DeviceConfig)
    probabilistic: ProbabilisticConfig = Field(default_factory=ProbabilisticConfig)

    def model_hash(self) -> str:
        """A stable hash of the settings that shape the trained model.

        Only the probabilistic section counts: changing a deterministic guard must not
        force a retrain.

        Returns:
            The first 16 hex digits of the SHA-256 of the canonical JSON.
        """
        payload = self.probabilistic.model_dump(mode="json", exclude={
            "threshold_match_probability", "break_lineage", "vetoes", "max_comparisons_per_rule"})
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

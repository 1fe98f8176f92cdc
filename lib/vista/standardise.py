"""Standardisation of person attributes: ``Column -> Column`` functions on Spark built-ins.

Every function here takes a :class:`pyspark.sql.Column` and returns a new one, so they
compose inside a ``select``::

    df.select(
        std_name(F.col("first_name")).alias("first_name_std"),
        std_email(F.col("email")).alias("email_std"),
        std_phone_e164(F.col("phone"), std_country(F.col("country"))).alias("phone_e164"),
    )

Nothing is tuned to one data set: lists that depend on language or habit (honorifics,
address abbreviations, truthy words, email providers) live in :class:`StandardiseConfig`
with general defaults for Spanish, English and Portuguese, and every function accepts an
override.

Accent folding without a UDF
----------------------------
Spark has no ``normalize()``. :func:`fold_text` instead uses ``F.translate`` with a
character table generated **once at import** from :mod:`unicodedata` (NFD, combining marks
dropped) with :mod:`unidecode` as fallback, covering Latin-1 Supplement, Latin
Extended-A/B and Latin Extended Additional (Vietnamese). Letters that fold to two
characters (``ß``, ``æ``, ``œ``, ``þ`` ...) get one ``regexp_replace`` each. Text that
arrives already decomposed (base letter + combining mark) is handled by removing
``\\p{M}``. Letters of other scripts (Greek, Cyrillic, CJK ...) are kept as they are.

Only :func:`std_phone_e164` uses a (vectorised pandas) UDF, because phone numbering plans
need the ``phonenumbers`` metadata; see the comment there.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import phonenumbers
from pydantic import BaseModel, ConfigDict, Field
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T
from unidecode import unidecode

log = logging.getLogger(__name__)

ColumnOrName = Column | str
"""A column or the name of one (as in ``pyspark.sql.functions``)."""

__all__ = [
    "StandardiseConfig",
    "fold_text",
    "std_name",
    "std_email",
    "std_phone_e164",
    "parse_date",
    "parse_timestamp",
    "within_range",
    "std_postal_code",
    "std_country",
    "std_address",
    "std_bool",
    "EMAIL_REGEX",
]


class StandardiseConfig(BaseModel):
    """Language- and habit-dependent lists used by the standardisers.

    The defaults cover Spanish, English and Portuguese. Values are compared after
    :func:`fold_text`, so write them lower-case without accents or dots.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    honorifics: tuple[str, ...] = (
        "mr", "mrs", "ms", "miss", "mx", "dr", "dra", "prof", "profa", "sir",
        "sr", "sra", "srta", "sres", "senor", "senora", "senorita",
        "senhor", "senhora", "eng", "enga",
    )  # fmt: skip
    address_abbreviations: dict[str, str] = Field(
        default_factory=lambda: {
            # Spanish
            "c": "calle", "cl": "calle", "cll": "calle", "avda": "avenida", "avd": "avenida",
            "av": "avenida", "pza": "plaza", "plza": "plaza", "pl": "plaza", "po": "paseo",
            "pso": "paseo", "ctra": "carretera", "crta": "carretera", "cno": "camino",
            "urb": "urbanizacion", "bo": "barrio", "bda": "barriada", "glta": "glorieta",
            "pje": "pasaje", "ronda": "ronda", "rda": "ronda", "pol": "poligono",
            "izq": "izquierda", "izqda": "izquierda", "dcha": "derecha", "dch": "derecha",
            "col": "colonia",
            # Portuguese
            "r": "rua", "tv": "travessa", "trav": "travessa", "lgo": "largo", "pca": "praca",
            "estr": "estrada", "rod": "rodovia", "esq": "esquerdo", "dto": "direito",
            # English
            "st": "street", "rd": "road", "ave": "avenue", "blvd": "boulevard", "ln": "lane",
            "dr": "drive", "ct": "court", "sq": "square", "hwy": "highway", "apt": "apartment",
        }  # fmt: skip
    )
    email_dot_plus_providers: tuple[str, ...] = ("gmail.com", "googlemail.com")
    email_domain_aliases: dict[str, str] = Field(
        default_factory=lambda: {"googlemail.com": "gmail.com"}
    )
    country_aliases: dict[str, str] = Field(
        default_factory=lambda: {
            "uk": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
            "great britain": "GB", "gran bretana": "GB", "gra bretanha": "GB",
            "usa": "US", "eeuu": "US", "ee uu": "US", "eua": "US", "united states": "US",
            "estados unidos de america": "US", "estados unidos da america": "US",
            "holland": "NL", "holanda": "NL", "uae": "AE", "ivory coast": "CI",
        }  # fmt: skip
    )
    country_name_languages: tuple[str, ...] = (
        "es", "pt", "pt_BR", "ca", "gl", "eu", "fr", "de", "it", "nl",
    )  # fmt: skip
    true_values: tuple[str, ...] = ("1", "y", "yes", "t", "true", "s", "si", "sim", "on")
    false_values: tuple[str, ...] = ("0", "n", "no", "f", "false", "nao", "off")
    postal_code_digits: dict[str, int] = Field(
        default_factory=lambda: {"ES": 5, "MX": 5, "FR": 5, "DE": 5, "IT": 5, "US": 5}
    )


DEFAULTS = StandardiseConfig()

# RFC 5322 is too permissive for real data; this accepts what mail systems deliver to:
# dot-atom local part (no leading, trailing or double dots), a domain of labels and a
# TLD of 2+ letters. Unicode letters are allowed (internationalised addresses).
EMAIL_REGEX = (
    r"^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([\p{L}\p{N}]([\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,63}$"
)


# --------------------------------------------------------------------------------------
# accent folding table, built once at import
# --------------------------------------------------------------------------------------
_LATIN_RANGES = ((0x00C0, 0x0250), (0x1E00, 0x1F00))
_EXTRA_SINGLE = {"\u00aa": "a", "\u00ba": "o"}  # ordinal indicators: "Mª", "nº"


def _build_fold_tables() -> tuple[str, str, dict[str, str]]:
    """Return (matching, replace, multi) for accent folding of lower-case text."""
    single: dict[str, str] = dict(_EXTRA_SINGLE)
    multi: dict[str, str] = {}
    for lo, hi in _LATIN_RANGES:
        for cp in range(lo, hi):
            ch = chr(cp)
            if not unicodedata.category(ch).startswith("L") or ch != ch.lower():
                continue  # upper case never reaches the table: F.lower runs first
            base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
            target = (base if base.isascii() and base.isalpha() else unidecode(ch)).lower()
            if not (target.isascii() and target.isalpha()) or target == ch:
                continue
            if len(target) == 1:
                single[ch] = target
            elif cp < 0x0180 or ch in "ǆǉǌǳ":  # common ligatures only: ß æ œ þ ĳ ŋ dz lj nj
                multi[ch] = target
    matching = "".join(single)
    return matching, "".join(single[c] for c in matching), multi


_FOLD_FROM, _FOLD_TO, _FOLD_MULTI = _build_fold_tables()
# Unicode spaces, dashes and apostrophes folded to their ASCII forms before punctuation
# removal, so "O’Neill" and "Smith–Jones" keep their internal apostrophe / hyphen.
_SPACES = r"[\s\p{Z}\x{200B}\x{FEFF}]+"
_DASHES = r"[\x{2010}-\x{2015}\x{2212}\x{FE63}\x{FF0D}]"
_APOSTROPHES = r"[\x{2018}\x{2019}\x{201B}\x{02BC}\x{0060}\x{00B4}\x{FF07}]"


def fold_text(col: ColumnOrName) -> Column:
    """Fold free text for comparison: lower case, no accents, no punctuation, one space.

    Internal hyphens and apostrophes are kept (``"Smith-Jones"``, ``"o'neill"``); other
    punctuation becomes a space. ``ñ`` folds to ``n``, ``ß`` to ``ss``. Blank → null.

    Args:
        col: A string column.

    Returns:
        The folded string column (null for null or blank input).

    Example:
        >>> df.select(fold_text(F.col("city")))  # "  MÁLAGA,  " -> "malaga"
    """
    c = F.lower(_col(col).cast("string"))
    c = F.regexp_replace(c, r"\p{M}+", "")  # already-decomposed input
    c = F.translate(c, _FOLD_FROM, _FOLD_TO)
    for src, dst in _FOLD_MULTI.items():
        c = F.regexp_replace(c, src, dst)
    c = F.regexp_replace(c, _DASHES, "-")
    c = F.regexp_replace(c, _APOSTROPHES, "'")
    c = F.regexp_replace(c, r"[^\p{L}\p{N}\s\p{Z}'-]", " ")
    # a hyphen/apostrophe is kept only between two letters or digits
    c = F.regexp_replace(c, r"(?<![\p{L}\p{N}])['-]+|['-]+(?![\p{L}\p{N}])", " ")
    c = F.trim(F.regexp_replace(c, _SPACES, " "))
    return F.when(c != "", c)


def _col(col: ColumnOrName) -> Column:
    return F.col(col) if isinstance(col, str) else col


def _alternation(words: Iterable[str]) -> str:
    escaped = sorted({_regex_escape(w) for w in words if w}, key=len, reverse=True)
    return "|".join(escaped)


def _regex_escape(word: str) -> str:
    return "".join("\\" + ch if not ch.isalnum() and ch != " " else ch for ch in word)


def std_name(col: ColumnOrName, honorifics: Sequence[str] | None = None) -> Column:
    """Name for comparison: folded, leading honorifics removed, inner spaces kept.

    Compound surnames keep their spaces and hyphens (``"de la Fuente"`` →
    ``"de la fuente"``). Only *leading* honorifics are removed, and only when a name
    follows, so a name that merely looks like a title is never blanked.

    Args:
        col: A string column holding a first, last or full name.
        honorifics: Folded titles to strip; default ``StandardiseConfig().honorifics``.

    Returns:
        The standardised name, or null when blank.
    """
    words = DEFAULTS.honorifics if honorifics is None else honorifics
    folded = fold_text(col)
    if not words:
        return folded
    pattern = rf"^(?:(?:{_alternation(words)}) )+(?=\S)"
    return F.regexp_replace(folded, pattern, "")


def std_email(
    col: ColumnOrName,
    canonicalise: bool = False,
    providers: Sequence[str] | None = None,
    domain_aliases: Mapping[str, str] | None = None,
) -> Column:
    """Trim and lower-case an email; null when it is not a well-formed address.

    A ``mailto:`` prefix and whitespace inside the address (copy-paste artefacts) are
    removed before the check.

    Args:
        col: A string column.
        canonicalise: Also apply provider rules for matching: at the ``providers``
            domains, drop dots and a ``+tag`` from the local part, and rename aliased
            domains (``googlemail.com`` → ``gmail.com``). Off by default so the stored
            address stays deliverable as typed.
        providers: Domains whose mailboxes ignore dots and ``+tags``; default
            ``StandardiseConfig().email_dot_plus_providers`` (Gmail only).
        domain_aliases: Domain renames applied when canonicalising.

    Returns:
        The standardised address or null.
    """
    email = F.lower(F.trim(_col(col).cast("string")))
    email = F.regexp_replace(email, r"^mailto:|[\s\p{Z}]+", "")
    email = F.when(email.rlike(EMAIL_REGEX), email)
    if not canonicalise:
        return email
    provs = list(DEFAULTS.email_dot_plus_providers if providers is None else providers)
    aliases = dict(DEFAULTS.email_domain_aliases if domain_aliases is None else domain_aliases)
    local = F.substring_index(email, "@", 1)
    domain = F.substring_index(email, "@", -1)
    if provs:
        stripped = F.regexp_replace(F.regexp_replace(local, r"\+.*$", ""), r"\.", "")
        local = F.when(domain.isin(provs), stripped).otherwise(local)
    if aliases:
        alias_map = _literal_map(aliases)
        domain = F.coalesce(F.try_element_at(alias_map, domain), domain)
    return F.when(email.isNotNull() & (local != ""), F.concat(local, F.lit("@"), domain))


def _literal_map(mapping: Mapping[str, str]) -> Column:
    """A ``map<string,string>`` constant, built from one JSON string literal.

    Why not ``F.lit(list)``: PySpark turns a list into ``array(lit, lit, ...)``, one
    py4j call and one plan node per element. The country table has ~5,900 entries, so
    each ``std_country`` cost seconds to build, and every query on a frame using it
    re-analysed tens of thousands of nodes. ``from_json`` of one literal is constant
    folded by the optimizer into a single map literal, evaluated once per query.
    """
    if not mapping:
        return F.create_map().cast("map<string,string>")
    text = json.dumps({str(k): str(v) for k, v in mapping.items()}, ensure_ascii=False)
    return F.from_json(F.lit(text), "map<string,string>")


# --------------------------------------------------------------------------------------
# phones
# --------------------------------------------------------------------------------------
def _e164_one(raw: object, region: object) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    reg = region.strip().upper() if isinstance(region, str) and region.strip() else None
    if reg is None and text.startswith("00"):
        text = "+" + text[2:]  # international prefix used by most of the world
    try:
        num = phonenumbers.parse(text, reg)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


@F.pandas_udf(T.StringType())
def _e164_udf(raw: pd.Series, region: pd.Series) -> pd.Series:
    # Why a UDF: E.164 needs each country's numbering plan (country codes, trunk and
    # international prefixes, valid lengths and ranges for ~250 regions), which only
    # the `phonenumbers` metadata has; re-implementing it in SQL would be wrong for most
    # countries. Vectorised (Arrow batches) and parsed once per distinct (raw, region).
    cache: dict[tuple[object, object], str | None] = {}
    out: list[str | None] = []
    for key in zip(raw, region, strict=True):
        if key not in cache:
            cache[key] = _e164_one(*key)
        out.append(cache[key])
    return pd.Series(out, index=raw.index, dtype=object)


def std_phone_e164(col: ColumnOrName, region: Column | str | None = None) -> Column:
    """Phone number in E.164 (``+34600123456``), or null when it is not a valid number.

    Numbers written nationally (``"600123456"``, ``"(55) 1234-5678"``) are read with the
    row's ``region``; numbers with ``+`` or the region's international prefix
    (``"0034..."``) are read as international.

    Args:
        col: A string column as delivered.
        region: ISO 3166-1 alpha-2 default region: a column (per row, e.g. the record's
            standardised country) or one literal code for all rows, or None.

    Returns:
        A string column in E.164 or null.
    """
    region_col = region if isinstance(region, Column) else F.lit(region).cast("string")
    return _e164_udf(_col(col).cast("string"), region_col)


# --------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------
def parse_timestamp(col: ColumnOrName, formats: Sequence[str]) -> Column:
    """Parse a string with the first of ``formats`` that fits; null when none does.

    Uses ``try_to_timestamp`` so a bad value never raises, even with ANSI mode on.
    Order matters for ambiguous formats (``dd/MM/yyyy`` before ``MM/dd/yyyy``).

    Args:
        col: A string column (other types are cast to string first).
        formats: Spark datetime patterns, e.g. ``["yyyy-MM-dd HH:mm:ss", "dd/MM/yyyy HH:mm"]``.

    Returns:
        A timestamp column.

    Raises:
        ValueError: When ``formats`` is empty.
    """
    if not formats:
        raise ValueError("parse_timestamp: expected at least one format, found none")
    text = F.trim(_col(col).cast("string"))
    return F.coalesce(*[F.try_to_timestamp(text, F.lit(fmt)) for fmt in formats])


def parse_date(col: ColumnOrName, formats: Sequence[str]) -> Column:
    """Parse a string to a date with the first of ``formats`` that fits; else null.

    Args:
        col: A string column.
        formats: Spark datetime patterns, e.g. ``["yyyy-MM-dd", "dd/MM/yyyy", "d/M/yy"]``.

    Returns:
        A date column.

    Raises:
        ValueError: When ``formats`` is empty.
    """
    return parse_timestamp(col, formats).cast(T.DateType())


def within_range(col: ColumnOrName, low: object | None = None, high: object | None = None) -> Column:
    """Keep a value only when it lies in ``[low, high]``; otherwise null.

    Use it for plausibility: ``within_range(birth_date, "1900-01-01", F.current_date())``.

    Args:
        col: A date, timestamp or numeric column.
        low: Inclusive lower bound (literal or Column), or None for no bound.
        high: Inclusive upper bound (literal or Column), or None for no bound.

    Returns:
        The column, nulled where out of range.
    """
    col = _col(col)
    ok = F.lit(True)
    if low is not None:
        ok = ok & (col >= (low if isinstance(low, Column) else F.lit(low)))
    if high is not None:
        ok = ok & (col <= (high if isinstance(high, Column) else F.lit(high)))
    return F.when(ok, col)


# --------------------------------------------------------------------------------------
# places
# --------------------------------------------------------------------------------------
def std_postal_code(
    col: ColumnOrName, country: Column | str | None = None, digits: Mapping[str, int] | None = None
) -> Column:
    """Postal code upper-cased, punctuation other than one inner space or hyphen removed.

    For countries with all-digit codes (``digits``, e.g. ``ES: 5``) lost leading zeros
    are restored: ``"8001"`` in ES becomes ``"08001"``.

    Args:
        col: A string (or numeric) column.
        country: ISO2 country as a column or a literal, or None to skip zero-padding.
        digits: Country → number of digits; default ``StandardiseConfig().postal_code_digits``.

    Returns:
        The standardised postal code or null when blank.
    """
    c = F.upper(_col(col).cast("string"))
    c = F.regexp_replace(c, r"[^\p{L}\p{N}\s\p{Z}-]", "")
    c = F.trim(F.regexp_replace(c, _SPACES, " "))
    c = F.regexp_replace(c, r"\s*-\s*", "-")
    c = F.when(c != "", c)
    lengths = dict(DEFAULTS.postal_code_digits if digits is None else digits)
    if country is None or not lengths:
        return c
    ctry = country if isinstance(country, Column) else F.lit(country)
    width = F.try_element_at(_literal_map({k: str(v) for k, v in lengths.items()}), F.upper(ctry))
    width = width.cast("int")
    padded = F.lpad(c, width, "0")
    return F.when(width.isNotNull() & c.rlike(r"^\d+$") & (F.length(c) < width), padded).otherwise(c)


def _country_lookup(aliases: Mapping[str, str], languages: Sequence[str]) -> dict[str, str]:
    """Folded name or code → ISO2. Sources: pycountry (alpha-2/3 codes, English names,
    and its ISO 3166 translations in ``languages``) and the territory names that ship
    with ``phonenumbers``. A name claimed by two countries is dropped, never guessed."""
    import gettext

    import pycountry
    from phonenumbers.geodata.locale import LOCALE_DATA

    candidates: dict[str, set[str]] = {}

    def add(name: str | None, code: str) -> None:
        key = _fold_py(name) if name else ""
        if key:
            candidates.setdefault(key, set()).add(code)

    translators = [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang],
                                       fallback=True) for lang in languages]  # fmt: skip
    for c in pycountry.countries:
        names = [c.alpha_2, c.alpha_3, c.name, getattr(c, "official_name", None),
                 getattr(c, "common_name", None)]  # fmt: skip
        for name in [n for n in names[2:] if n]:
            names += [t.gettext(name) for t in translators]
        for name in names:
            add(name, c.alpha_2)
    for code, by_lang in LOCALE_DATA.items():
        for name in by_lang.values():
            if not name.startswith("*"):  # "*xx" = same as language xx
                add(name, code)
    lookup = {k: next(iter(v)) for k, v in candidates.items() if len(v) == 1}
    lookup.update({_fold_py(k): v.upper() for k, v in aliases.items()})
    return lookup


def _fold_py(text: str) -> str:
    """Python twin of :func:`fold_text` for building lookup keys at import time."""
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = "".join(_FOLD_MULTI.get(ch, ch) for ch in text.translate(str.maketrans(_FOLD_FROM, _FOLD_TO)))
    text = "".join(ch if ch.isalnum() or ch in "'-" else " " for ch in text)
    return " ".join(w.strip("'-") for w in text.split() if w.strip("'-"))


_COUNTRY_CACHE: dict[tuple[object, ...], dict[str, str]] = {}


def std_country(
    col: ColumnOrName,
    default: str | None = None,
    aliases: Mapping[str, str] | None = None,
    languages: Sequence[str] | None = None,
) -> Column:
    """ISO 3166-1 alpha-2 code from a code (``ES``, ``ESP``) or a name in many languages
    (``"España"``, ``"Spain"``, ``"Espanha"``, ``"México"``), as a Spark map lookup.

    Args:
        col: A string column.
        default: ISO2 code used when the value is missing (null or blank). A value that
            is present but not recognised gives null, never a guess.
        aliases: Extra folded name → ISO2 entries (``"uk" → "GB"``); default
            ``StandardiseConfig().country_aliases``.
        languages: Languages of pycountry's name translations to accept (English and the
            ``phonenumbers`` names always are); default
            ``StandardiseConfig().country_name_languages``.

    Returns:
        The ISO2 code column.
    """
    alias = dict(DEFAULTS.country_aliases if aliases is None else aliases)
    langs = tuple(DEFAULTS.country_name_languages if languages is None else languages)
    key = (tuple(sorted(alias.items())), langs)
    if key not in _COUNTRY_CACHE:
        _COUNTRY_CACHE[key] = _country_lookup(alias, langs)
    folded = fold_text(col)
    code = F.try_element_at(_literal_map(_COUNTRY_CACHE[key]), folded)
    if default is None:
        return code
    return F.when(folded.isNull(), F.lit(default.upper())).otherwise(code)


def std_address(col: ColumnOrName, abbreviations: Mapping[str, str] | None = None) -> Column:
    """Street address folded for comparison, abbreviations expanded word by word.

    ``"C/ Mayor, 5 - 3º B"`` → ``"calle mayor 5 3o b"``. Numbers are kept.

    Args:
        col: A string column.
        abbreviations: Folded abbreviation → expansion; default
            ``StandardiseConfig().address_abbreviations``.

    Returns:
        The standardised address or null when blank.
    """
    folded = fold_text(col)
    abbr = dict(DEFAULTS.address_abbreviations if abbreviations is None else abbreviations)
    if not abbr:
        return folded
    table = _literal_map({_fold_py(k): v for k, v in abbr.items()})
    words = F.transform(F.split(folded, " "), lambda w: F.coalesce(F.try_element_at(table, w), w))
    return F.when(folded.isNotNull(), F.array_join(words, " "))


def std_bool(
    col: ColumnOrName, true_values: Sequence[str] | None = None, false_values: Sequence[str] | None = None
) -> Column:
    """Boolean from yes/no words in several languages (``"Sí"``, ``"N"``, ``"true"``, ``1``).

    Args:
        col: A string, numeric or boolean column.
        true_values: Folded words meaning true; default ``StandardiseConfig().true_values``.
        false_values: Folded words meaning false.

    Returns:
        A boolean column, null when the value is not recognised.
    """
    yes = list(DEFAULTS.true_values if true_values is None else true_values)
    no = list(DEFAULTS.false_values if false_values is None else false_values)
    folded = fold_text(col)
    return F.when(folded.isin(yes), F.lit(True)).when(folded.isin(no), F.lit(False))

"""Identifiers as destinations take them: normalised, and SHA-256 hashed for ad platforms.

Advertising platforms match customer lists on hashes of normalised identifiers, so the
normalisation must be exactly theirs: an address hashed with one stray upper-case letter
matches nobody. The rules (Google Customer Match, Meta custom audiences):

- email: trimmed and lower-cased; at Gmail addresses the dots of the local part removed
  when the destination asks for it (``gmail_dots``);
- phone: E.164 (``+34600123456``), or its digits only (``phone_format: digits``);
- first name, last name, city, address: trimmed, lower-cased, inner runs of white space
  made one space; optionally without punctuation;
- postcode and country are never hashed (platforms take them in clear).

The digest is SHA-256 of the UTF-8 bytes, in lower-case hex (Spark's ``sha2``).

Example:
    >>> df.select(hashed_email(F.col("email"), NormalisationConfig(gmail_dots=True)))  # doctest: +SKIP
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vista.activation.config import NormalisationConfig

_SPACES = r"[\s\p{Z}]+"


def normalise_email(email: Column, cfg: NormalisationConfig) -> Column:
    """Trimmed, lower-cased address (dots removed at dot-insensitive domains if asked).

    Args:
        email: A string column.
        cfg: The destination's normalisation rules.

    Returns:
        The normalised address; null for null, blank or an address without ``@``.
    """
    text = F.lower(F.regexp_replace(F.trim(email.cast("string")), _SPACES, ""))
    text = F.when(text.contains("@") & (F.length(text) > 2), text)
    if not cfg.gmail_dots or not cfg.dot_insensitive_domains:
        return text
    local = F.substring_index(text, "@", 1)
    domain = F.substring_index(text, "@", -1)
    local = F.when(domain.isin(*[d.lower() for d in cfg.dot_insensitive_domains]),
                   F.regexp_replace(local, r"\.", "")).otherwise(local)
    return F.when(text.isNotNull(), F.concat(local, F.lit("@"), domain))


def normalise_phone(phone_e164: Column, cfg: NormalisationConfig) -> Column:
    """A phone already in E.164 (vista's silver form) in the destination's format.

    Args:
        phone_e164: E.164 numbers (``+`` and digits); anything else becomes null.
        cfg: The destination's normalisation rules.
    """
    text = F.regexp_replace(F.trim(phone_e164.cast("string")), r"[\s\-().]", "")
    text = F.when(text.rlike(r"^\+[1-9][0-9]{6,14}$"), text)
    return F.substring(text, 2, 15) if cfg.phone_format == "digits" else text


def normalise_name(value: Column, cfg: NormalisationConfig) -> Column:
    """A name, city or address: trimmed, lower-cased, single spaces (no punctuation if asked)."""
    text = F.lower(F.trim(F.regexp_replace(value.cast("string"), _SPACES, " ")))
    if cfg.strip_name_punctuation:
        text = F.trim(F.regexp_replace(F.regexp_replace(text, r"[\p{P}\p{S}0-9]", ""),
                                       " +", " "))
    return F.when(F.length(text) > 0, text)


def sha256_hex(value: Column) -> Column:
    """SHA-256 of the UTF-8 bytes in lower-case hex; null stays null."""
    return F.when(value.isNotNull(), F.sha2(value.cast("string"), 256))


def normalise(field: str, value: Column, cfg: NormalisationConfig) -> Column:
    """Normalise one personal field by its kind (``email``, ``phone``, names, address).

    Raises:
        ValueError: ``field`` is not a field vista knows how to normalise.
    """
    if field == "email":
        return normalise_email(value, cfg)
    if field == "phone":
        return normalise_phone(value, cfg)
    if field in ("first_name", "last_name", "city", "address"):
        return normalise_name(value, cfg)
    raise ValueError(f"no normalisation rule for field {field!r}")


def hashed(field: str, value: Column, cfg: NormalisationConfig) -> Column:
    """``sha256_hex(normalise(field, value))``: what an ad platform's list takes."""
    return sha256_hex(normalise(field, value, cfg))


def plain(field: str, value: Column, cfg: NormalisationConfig) -> Column:
    """Postcode (trimmed, spaces kept as one) or country (ISO code in the asked case)."""
    text = F.trim(F.regexp_replace(value.cast("string"), _SPACES, " "))
    if field == "country":
        text = F.lower(text) if cfg.country_case == "lower" else F.upper(text)
    return F.when(F.length(text) > 0, text)

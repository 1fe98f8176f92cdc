"""Salted identifier tokens and row digests: how erasure names a person without PII.

A *token* is ``HMAC-SHA256(salt, "<kind>:<value>")`` of one normalised identifier of a
person: ``email:<email_std>``, ``phone:<E.164>``, ``id:<id kind>:<value>``,
``record:<record key>``, ``device:<device key>``. The suppression list and the audit
table hold tokens only; the salt comes from the environment (``$VISTA_PRIVACY_SALT``), so
a token cannot be recomputed from a guessed address without it.

A *row digest* is the SHA-256 of a whole row as JSON. Erasure deletes rows by their
digests, so the delete condition written into a table's history names no value of the
person (a ``WHERE email = ...`` would put the address into the Delta log).
"""

from __future__ import annotations

import logging
import os

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.identity.registry import hmac_sha256_hex

log = logging.getLogger(__name__)

DEMO_SALT = "vista-default-privacy-salt"
"""Used when the salt variable is unset: fine for a demo, not in production (anyone could
test a guessed address against the suppression list). Set it once and never change it:
a new salt no longer recognises the people already suppressed."""

SALT_ENV = "VISTA_PRIVACY_SALT"
SUPPRESSION_TABLE = "_privacy/suppression"
AUDIT_TABLE = "_privacy/audit"
ROW_DIGEST = "__vista_row_digest"
_warned: list[bool] = []


def privacy_salt() -> str:
    """The suppression-list salt from ``$VISTA_PRIVACY_SALT`` (a demo salt, with a warning,
    if unset)."""
    value = os.environ.get(SALT_ENV)
    if value:
        return value
    if not _warned:
        _warned.append(True)
        log.warning("privacy: $%s is not set; using the demo salt. Set it in production.",
                    SALT_ENV)
    return DEMO_SALT


def token(kind: Column, value: Column, salt: str) -> Column:
    """The salted token of ``<kind>:<value>`` (null when the value is null or blank)."""
    text = F.concat_ws(":", kind, value)
    return F.when(value.isNotNull() & (F.length(F.trim(value)) > 0), hmac_sha256_hex(text, salt))


def person_tokens(df: DataFrame, salt: str) -> DataFrame:
    """``kind, value`` rows -> ``kind, token`` (distinct)."""
    return (df.select(F.col("kind"), token(F.col("kind"), F.col("value"), salt).alias("token"))
            .where(F.col("token").isNotNull()).distinct())


def row_digest_sql(columns: list[str]) -> str:
    """SQL expression of a row's digest over ``columns`` (usable in a Delta delete)."""
    fields = ", ".join(f"`{c}`" for c in columns)
    return f"sha2(to_json(named_struct({_named(columns)})), 256)" if fields else "''"


def _named(columns: list[str]) -> str:
    return ", ".join(f"'{c}', `{c}`" for c in columns)


def with_row_digest(df: DataFrame) -> DataFrame:
    """``df`` plus its row digest column."""
    return df.withColumn(ROW_DIGEST, F.expr(row_digest_sql(df.columns)))

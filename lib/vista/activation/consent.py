"""Consent per purpose: who a destination may receive.

A destination names a purpose (``email_marketing``, ``advertising``, ...); the
``activation.purposes`` map says which profile column holds the customer's consent to
it. Only an explicit ``true`` is consent: ``false`` and unknown (null) are withheld. A
purpose mapped to ``null`` needs no consent (BI on pseudonymous UIDs).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.activation.config import ActivationConfig, DestinationConfig
from vista.activation.errors import ActivationError


def consent_column(cfg: ActivationConfig, dest: DestinationConfig) -> str | None:
    """The profile column holding consent to the destination's purpose (None: no consent
    needed)."""
    if dest.purpose is None:
        return None
    return cfg.purposes[dest.purpose]


def consent_given(profile: DataFrame, cfg: ActivationConfig, dest: DestinationConfig) -> Column:
    """A boolean column, never null: may this profile row be exported to ``dest``?

    Raises:
        ActivationError: The purpose's consent column is not in the profile.
    """
    column = consent_column(cfg, dest)
    if column is None:
        return F.lit(True)
    if column not in profile.columns:
        raise ActivationError(
            f"destination {dest.name!r}: purpose {dest.purpose!r} needs the profile column "
            f"{column!r} (activation.purposes), but {cfg.profile_table} has no such column. "
            f"Map the purpose to one of its consent columns.")
    return F.coalesce(F.col(column).cast("boolean"), F.lit(False))

"""The profile's quality gate (Great Expectations, through :func:`vista.quality.gate`).

* exactly one card per active UID of the registry, and none for another UID;
* rates in [0, 1], counts >= 0;
* first seen <= last seen;
* the as-of date is respected: every card carries it, and nothing on a card is dated
  after the end of that day.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.profile.config import ProfileConfig
from vista.profile.fields import FIELDS, field_names
from vista.quality import ExpectationSpec, QualityResult, gate

PROFILE_T = "gold/customer_profile"


def _spec(kind: str, **kwargs: object) -> ExpectationSpec:
    return ExpectationSpec(type=f"expect_{kind}", kwargs=kwargs)


def registry_checks(profile: DataFrame, registry: DataFrame, as_of: dt.date) -> DataFrame:
    """One row per UID of the registry or the card: ``uid, ok``.

    ``ok``: an active UID with exactly one card carrying ``as_of``, or a UID that is not
    active and has no card.
    """
    cards = profile.groupBy("uid").agg(
        F.count("*").alias("n"), F.min(F.col("as_of") == F.lit(as_of)).alias("dated"))
    active = registry.select("uid", (F.col("status") == "active").alias("active"))
    return active.join(cards, on="uid", how="full_outer").select(
        "uid",
        F.when(F.coalesce("active", F.lit(False)),
               (F.col("n") == 1) & F.coalesce("dated", F.lit(False)))
        .otherwise(F.col("n").isNull()).alias("ok"))


def profile_expectations(cfg: ProfileConfig, as_of: dt.date) -> list[ExpectationSpec]:
    """The card's expectations: keys, rates, counts, order of dates, the as-of bound."""
    names = field_names(cfg)
    rates = [c for c in names if "_rate_" in c or c.endswith("_share")]
    windowed = [f.name.format(w=w) for f in FIELDS if "{w}" in f.name
                for w in cfg.engagement_windows_days]
    counts = ["orders", "frequency", "tickets", "tickets_open", "complaints", "open_claims",
              "tenure_days", "recency_days", *[c for c in windowed if c not in rates]]
    end = (as_of + dt.timedelta(days=1)).isoformat()  # the first instant after as_of
    specs = [_spec("column_values_to_not_be_null", column="uid"),
             _spec("column_values_to_be_unique", column="uid"),
             _spec("column_values_to_not_be_null", column="as_of"),
             _spec("column_values_to_not_be_null", column="value_tier"),
             _spec("column_values_to_be_between", column="revenue", min_value=0)]
    specs += [_spec("column_values_to_be_between", column=c, min_value=0, max_value=1)
              for c in rates]
    specs += [_spec("column_values_to_be_between", column=c, min_value=0) for c in counts]
    specs += [_spec("column_values_to_be_between", column=c, max_value=end, strict_max=True)
              for c in ("first_seen", "last_seen", "first_order_at", "last_order_at",
                        "last_contact_at")]
    specs.append(_spec("column_pair_values_a_to_be_greater_than_b", column_A="last_seen",
                       column_B="first_seen", or_equal=True,
                       ignore_row_if="either_value_is_missing"))
    return specs


def gate_profile(profile: DataFrame, registry: DataFrame, as_of: dt.date,
                 cfg: ProfileConfig, data_docs_dir: str | None) -> list[QualityResult]:
    """Gate the card; raises QualityGateFailed on a critical failure.

    Returns:
        The results of the two suites (the card's columns, the registry check).
    """
    pii = list(cfg.pii_fields)
    card = gate(profile, PROFILE_T, profile_expectations(cfg, as_of),
                data_docs_dir=data_docs_dir, pii_columns=pii)
    checks = registry_checks(profile, registry, as_of)
    per_uid = gate(checks, f"{PROFILE_T}#one_card_per_uid",
                   [_spec("column_values_to_be_in_set", column="ok", value_set=[True])],
                   data_docs_dir=data_docs_dir)
    return [card, per_uid]

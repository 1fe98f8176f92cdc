"""The customer card: one row per active UID, as of a date.

:func:`build_profile` joins the per-UID aggregates of :mod:`vista.profile.fields` on the
UID registry: a handful of grouped aggregations and left joins, nothing per customer in
Python.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.errors import ConfigError, ConfigProblem
from vista.profile import fields as fd
from vista.profile.config import ProfileConfig

log = logging.getLogger(__name__)

_STRS = "array<string>"


@dataclass(frozen=True)
class ProfileInputs:
    """What the card is computed from (every frame lazy).

    Attributes:
        uids: ``uid`` of every active UID (``silver/uid_registry``).
        golden: Golden records as of the date (``vista.identity.golden`` columns).
        orders, order_lines, interactions: The UID-keyed activity tables.
    """

    uids: DataFrame
    golden: DataFrame
    orders: DataFrame
    order_lines: DataFrame
    interactions: DataFrame


def records_as_of(history: DataFrame, as_of: dt.date, columns: list[str]) -> DataFrame:
    """Person records as they were at the end of ``as_of`` (SCD2 ``valid_from/valid_to``).

    A version without ``valid_from`` (its source never says when it saw the record)
    counts as known since ever.
    """
    end = fd.as_of_end(as_of)
    return history.where(
        (F.col("valid_from").isNull() | (F.col("valid_from") < end))
        & (F.col("valid_to").isNull() | (F.col("valid_to") >= end))
    ).select(*columns)


def link_map(source_ids: Column, templates: dict[str, str]) -> Column:
    """``source -> [url, ...]`` for the sources with a template (ids URL-encoded)."""
    if not templates:
        return F.create_map().cast("map<string,array<string>>")
    def url(head: str, tail: str):
        return lambda i: F.concat(F.lit(head), F.url_encode(i), F.lit(tail))

    entries = []
    for source, template in sorted(templates.items()):
        head, tail = template.split("{id}")
        urls = F.transform(F.element_at(source_ids, F.lit(source)), url(head, tail))
        entries.append(F.struct(F.lit(source).alias("k"), urls.alias("v")))
    present = F.filter(F.array(*entries), lambda e: e["v"].isNotNull())
    return F.map_from_entries(present)


def value_tier(cfg: ProfileConfig) -> Column:
    """The first ``profile.value_tiers`` rule that holds names the tier."""
    expr: Any = None
    for rule in cfg.value_tiers:
        cond = F.coalesce(F.expr(rule.when), F.lit(False))
        expr = F.when(cond, F.lit(rule.name)) if expr is None else expr.when(cond,
                                                                            F.lit(rule.name))
    default = F.lit(cfg.default_tier)
    return default if expr is None else expr.otherwise(default)


def check_tier_rules(df: DataFrame, cfg: ProfileConfig) -> None:
    """Every tier condition must be valid SQL over the card's columns.

    Raises:
        ConfigError: With the key path of each bad rule.
    """
    problems = []
    for i, rule in enumerate(cfg.value_tiers):
        try:
            df.select(F.expr(rule.when).cast("boolean")).schema  # noqa: B018 - analysis only
        except Exception as exc:  # AnalysisException or a parse error
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
            problems.append(ConfigProblem(
                f"profile.value_tiers[{i}].when",
                f"expected a SQL condition over the card's columns; {rule.when!r} fails: "
                f"{first}"))
    if problems:
        raise ConfigError(problems)


def _zero(columns: list[str]) -> list[Column]:
    return [F.coalesce(F.col(c), F.lit(0)).cast("long").alias(c) for c in columns]


def build_profile(inputs: ProfileInputs, cfg: ProfileConfig, as_of: dt.date) -> DataFrame:
    """One card per active UID, as of ``as_of`` (every column of :data:`fields.FIELDS`).

    Args:
        inputs: The golden records and the UID-keyed activity.
        cfg: The ``profile`` section.
        as_of: The card's date; only events before the end of that day are read.

    Returns:
        ``gold/customer_profile`` rows (lazy).

    Raises:
        ConfigError: A value-tier rule is not valid SQL over the card's columns.
    """
    # Orders and order lines are shuffled by UID once: their aggregations (and the order
    # gaps' window) then need no further exchange. The interactions are not: millions of
    # wide rows, each aggregation over them is reduced per UID before its shuffle.
    order_rows, line_rows = inputs.orders.repartition("uid"), inputs.order_lines.repartition(
        "uid")
    event_rows = inputs.interactions
    discounted = (order_rows.where(F.col("discount_amount") > 0)
                  .select("order_key", F.lit(True).alias("_discounted")))
    orders = fd.order_fields(order_rows, cfg, as_of)
    lines = fd.line_fields(line_rows, cfg, as_of, discounted)
    events = fd.interaction_fields(event_rows, cfg, as_of)
    intent = fd.intent_fields(event_rows, line_rows, cfg, as_of)
    g = inputs.golden
    df = (inputs.uids.select("uid")
          .join(g, on="uid", how="left")
          .join(orders, on="uid", how="left")
          .join(lines, on="uid", how="left")
          .join(events, on="uid", how="left")
          .join(intent, on="uid", how="left"))
    # the first and last event of any kind up to as_of (least/greatest skip nulls)
    df = df.select("*", F.least("first_order_at", "_first_event").alias("_first_act"),
                   F.greatest("last_order_at", "_last_event").alias("_last_act"))
    windowed = [f.name.format(w=w) for f in fd.FIELDS if "{w}" in f.name
                for w in cfg.engagement_windows_days]
    counts = ["orders", "tickets", "tickets_open", "complaints", "open_claims",
              *[c for c in windowed if "_rate_" not in c]]
    empty = F.array().cast(_STRS)
    first_seen = F.least("first_seen", "_first_act")
    df = df.select(
        "uid", F.lit(as_of).alias("as_of"),
        F.nullif(F.concat_ws(" ", "first_name", "last_name"), F.lit("")).alias("name"),
        "first_name", "last_name", "email", "phone",
        F.coalesce("emails", empty).alias("emails"), F.coalesce("phones", empty).alias("phones"),
        "address", "postal_code", "city", "country", "birth_date", "gender",
        "consent_email", "consent_sms", "consent_profiling",
        F.coalesce("source_ids", F.create_map().cast("map<string,array<string>>"))
        .alias("source_ids"),
        link_map(F.col("source_ids"), cfg.links).alias("links"),
        F.array_sort(F.array_distinct(F.concat(
            F.coalesce("sources", empty), F.coalesce("_order_sources", empty),
            F.coalesce("_event_sources", empty)))).alias("sources"),
        first_seen.alias("first_seen"),
        F.greatest("last_seen", "_last_act").alias("last_seen"),
        F.datediff(F.lit(as_of), F.to_date(first_seen)).alias("tenure_days"),
        "first_order_at", "last_order_at", *_zero(counts),
        F.coalesce("revenue", F.lit(0.0)).alias("revenue"),
        "avg_basket", "recency_days", "purchase_cadence_days", "online_share", "store_share",
        "top_categories", "top_brands", "discounted_share", "premium_share",
        "preferred_channel", "answers_on",
        *[c for c in windowed if "_rate_" in c],
        "csat_last", "csat_avg", "last_contact_at", "nps_last", "nps_category",
        "would_recommend",
        F.coalesce("intent_categories", empty).alias("intent_categories"),
    ).withColumn("frequency", F.col("orders")).withColumn(
        "monetary", F.col("revenue") / F.when(F.col("orders") > 0, F.col("orders")))
    check_tier_rules(df, cfg)
    df = df.withColumn("value_tier", value_tier(cfg))
    return df.select(*fd.field_names(cfg))


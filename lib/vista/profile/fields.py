"""Every field of the customer card: one definition each, in this module.

:data:`FIELDS` documents each field (section and exactly how it is computed); the
functions below compute them, one grouped aggregation per kind of activity, keyed on
``uid``. Every function reads only rows dated before the end of the as-of day
(``ts < as_of + 1 day``): a back-test sees what was known then.

Windowed fields carry their window in their name (``email_opens_30d``); the windows
come from ``profile.engagement_windows_days``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from vista.profile.config import EventMatch, EventsConfig, ProfileConfig


@dataclass(frozen=True)
class CardField:
    """One documented field of the card.

    Attributes:
        name: Column name in ``gold/customer_profile`` (``{w}`` for a window in days).
        section: identity, relationship, value, preferences, engagement, service,
            advocacy or intent.
        doc: Exactly how it is computed.
    """

    name: str
    section: str
    doc: str


_F = CardField
#: The card's fields, in card order. ``{w}``: one field per engagement window.
FIELDS: tuple[CardField, ...] = (
    _F("uid", "identity", "The universal customer id (an active UID of silver/uid_registry)."),
    _F("as_of", "identity", "The date the card describes; every count reads events up to the "
       "end of that day. Default: the date of the latest order or interaction in the lake."),
    _F("name", "identity", "Golden first and last name, joined by a space (survivorship "
       "rules of identity.survivorship, over the person records valid at as_of)."),
    _F("first_name", "identity", "Golden first name as delivered."),
    _F("last_name", "identity", "Golden last name as delivered."),
    _F("email", "identity", "Golden e-mail (standardised)."),
    _F("phone", "identity", "Golden phone (E.164)."),
    _F("emails", "identity", "Every distinct standardised e-mail of the person's records."),
    _F("phones", "identity", "Every distinct E.164 phone of the person's records."),
    _F("address", "identity", "Golden address (standardised)."),
    _F("postal_code", "identity", "Golden postal code."),
    _F("city", "identity", "Golden city."),
    _F("country", "identity", "Golden ISO 3166-1 alpha-2 country."),
    _F("birth_date", "identity", "Golden birth date."),
    _F("gender", "identity", "Golden gender."),
    _F("consent_email", "identity", "Consent to e-mail, golden rule over the records valid "
       "at as_of (null: unknown)."),
    _F("consent_sms", "identity", "Consent to SMS, as consent_email."),
    _F("consent_profiling", "identity", "Consent to profiling, as consent_email."),
    _F("source_ids", "identity", "Source system -> the person's record ids in it."),
    _F("links", "identity", "Source system -> one link per record id, rendered from "
       "profile.links (URL template with {id})."),
    _F("sources", "relationship", "Every source the person appears in: person records and "
       "attributed orders and interactions."),
    _F("first_seen", "relationship", "Earliest of: the person records' observed_at, the "
       "first attributed order or interaction."),
    _F("last_seen", "relationship", "Latest of the same, up to as_of."),
    _F("tenure_days", "relationship", "Days from first_seen to as_of."),
    _F("first_order_at", "relationship", "Timestamp of the first attributed order."),
    _F("last_order_at", "relationship", "Timestamp of the last attributed order up to as_of."),
    _F("orders", "relationship", "Attributed orders up to as_of (every status)."),
    _F("revenue", "relationship", "Sum of the orders' amount_reporting (reporting currency)."),
    _F("avg_basket", "relationship", "revenue / orders (null without orders)."),
    _F("recency_days", "relationship", "Days from the last order's date to as_of (null "
       "without orders)."),
    _F("purchase_cadence_days", "relationship", "Median of the days between consecutive "
       "orders (null with fewer than two orders)."),
    _F("online_share", "relationship", "Share of orders whose channel is one of "
       "profile.preferences.online_channels, in [0, 1]."),
    _F("store_share", "relationship", "1 - online_share (null without orders)."),
    _F("frequency", "value", "= orders."),
    _F("monetary", "value", "= revenue / orders (null without orders)."),
    _F("value_tier", "value", "The name of the first rule of profile.value_tiers whose "
       "condition holds over this row; profile.default_tier when none does."),
    _F("top_categories", "preferences", "Categories of the order lines, most spend "
       "(amount_reporting) first, at most preferences.top_n."),
    _F("top_brands", "preferences", "Brands of the order lines, as top_categories."),
    _F("discounted_share", "preferences", "Share of order lines bought on promotion (promo) "
       "or in an order with a discount_amount > 0."),
    _F("premium_share", "preferences", "Share of the order lines with a price_tier whose "
       "tier is one of preferences.premium_price_tiers (null: no tier known)."),
    _F("preferred_channel", "preferences", "The order channel with most orders (ties: the "
       "most recent)."),
    _F("answers_on", "preferences", "The interaction channel with most events.responses "
       "events (the messages the customer answers)."),
    _F("email_sent_{w}d", "engagement", "events.email_sent events in the last {w} days."),
    _F("email_opens_{w}d", "engagement", "events.email_open events in the last {w} days."),
    _F("email_clicks_{w}d", "engagement", "events.email_click events in the last {w} days."),
    _F("email_open_rate_{w}d", "engagement", "opens / sends in the window, capped at 1 "
       "(null without sends)."),
    _F("email_click_rate_{w}d", "engagement", "clicks / sends in the window, capped at 1."),
    _F("unsubscribes_{w}d", "engagement", "events.email_unsubscribe events in the window."),
    _F("web_sessions_{w}d", "engagement", "Distinct events.session_attr values of events.web "
       "events in the window (an event without one counts as its own session)."),
    _F("searches_{w}d", "engagement", "events.web_search events in the window."),
    _F("views_{w}d", "engagement", "events.web_view events in the window."),
    _F("tickets", "service", "events.ticket events up to as_of."),
    _F("tickets_open", "service", "Those tickets still open at as_of (closed_at_attr after "
       "as_of or absent, else status in events.open_statuses)."),
    _F("complaints", "service", "events.complaint events up to as_of."),
    _F("open_claims", "service", "Complaints still open at as_of."),
    _F("csat_last", "service", "The value of the latest ticket that has one (CSAT)."),
    _F("csat_avg", "service", "Mean value of the tickets that have one."),
    _F("last_contact_at", "service", "Timestamp of the latest ticket."),
    _F("nps_last", "advocacy", "The value of the latest events.nps answer (0-10)."),
    _F("nps_category", "advocacy", "promoter (9-10), passive (7-8) or detractor (0-6) "
       "from nps_last."),
    _F("would_recommend", "advocacy", "The latest survey answer carrying "
       "events.recommend_attr: true when one of events.recommend_yes."),
    _F("intent_categories", "intent", "Categories of events.web_search and events.web_view "
       "events in the last intent.window_days, with no order line of that category "
       "after the category's last such event; most events first, at most intent.top_n."),
)

SECTIONS = ("identity", "relationship", "value", "preferences", "engagement", "service",
            "advocacy", "intent")


def field_names(cfg: ProfileConfig) -> list[str]:
    """Every card column, in card order, windows expanded."""
    return names_for_windows(cfg.engagement_windows_days)


def names_for_windows(windows: list[int]) -> list[str]:
    """Every card column, in card order, with one windowed field per window in days."""
    names: list[str] = []
    for f in FIELDS:
        if "{w}" in f.name:
            names += [f.name.format(w=w) for w in windows]
        else:
            names.append(f.name)
    return names


def as_of_end(as_of: dt.date) -> Column:
    """The first instant after the as-of day (events strictly before it count)."""
    return F.lit(as_of + dt.timedelta(days=1)).cast("timestamp")


def matches(m: EventMatch) -> Column:
    """An interaction is of the kind ``m`` describes."""
    cond = F.lit(True)
    if m.channels:
        cond = cond & F.col("channel").isin(m.channels)
    if m.types:
        cond = cond & F.col("type").isin(m.types)
    return cond


def _count_if(cond: Column) -> Column:
    return F.count(F.when(cond, 1))


def _share(part: Column, whole: Column) -> Column:
    return F.when(whole > 0, F.least(part / whole, F.lit(1.0)))


# --------------------------------------------------------------------------- orders


def order_fields(orders: DataFrame, cfg: ProfileConfig, as_of: dt.date) -> DataFrame:
    """Relationship fields from the attributed orders up to as_of (see :data:`FIELDS`)."""
    known = orders.where(F.col("ts") < as_of_end(as_of))
    gap = F.datediff(F.col("ts"), F.lag("ts").over(Window.partitionBy("uid").orderBy("ts",
                                                                                    "order_key")))
    online = F.col("channel").isin(cfg.preferences.online_channels)
    per_uid = known.withColumn("_gap", gap).groupBy("uid").agg(
        F.min("ts").alias("first_order_at"),
        F.max("ts").alias("last_order_at"),
        F.count("*").alias("orders"),
        F.coalesce(F.sum("amount_reporting"), F.lit(0.0)).alias("revenue"),
        F.median("_gap").cast("double").alias("purchase_cadence_days"),
        _count_if(online).alias("_online"),
        F.collect_set("source").alias("_order_sources"),
    )
    per_channel = known.groupBy("uid", "channel").agg(F.count("*").alias("n"),
                                                      F.max("ts").alias("last"))
    preferred = per_channel.groupBy("uid").agg(
        F.max_by("channel", F.struct("n", "last")).alias("preferred_channel"))
    return per_uid.join(preferred, on="uid", how="left").select(
        "uid", "first_order_at", "last_order_at", "orders", "revenue",
        (F.col("revenue") / F.col("orders")).alias("avg_basket"),
        F.datediff(F.lit(as_of), F.to_date("last_order_at")).alias("recency_days"),
        "purchase_cadence_days",
        (F.col("_online") / F.col("orders")).alias("online_share"),
        (1 - F.col("_online") / F.col("orders")).alias("store_share"),
        "preferred_channel", "_order_sources")


def line_fields(lines: DataFrame, cfg: ProfileConfig, as_of: dt.date,
                discounted_orders: DataFrame) -> DataFrame:
    """Preference fields from the attributed order lines up to as_of."""
    p = cfg.preferences
    # the join goes by order key; back by UID, the three aggregations share one exchange
    known = (lines.where(F.col("ts") < as_of_end(as_of))
             .join(discounted_orders, on="order_key", how="left").repartition("uid"))
    discounted = F.coalesce(F.col("promo"), F.lit(False)) | F.coalesce("_discounted",
                                                                      F.lit(False))
    premium = F.col("price_tier").isin(p.premium_price_tiers)
    shares = known.groupBy("uid").agg(
        (_count_if(discounted) / F.count("*")).alias("discounted_share"),
        F.when(F.count("price_tier") > 0, _count_if(premium) / F.count("price_tier"))
        .alias("premium_share"))
    return (shares.join(_top(known, "category", p.top_n, "top_categories"), on="uid", how="left")
            .join(_top(known, "brand", p.top_n, "top_brands"), on="uid", how="left"))


def _top(lines: DataFrame, column: str, n: int, name: str) -> DataFrame:
    spend = (lines.where(F.col(column).isNotNull())
             .groupBy("uid", column).agg(F.sum(F.coalesce("amount_reporting", F.lit(0.0)))
                                         .alias("spend")))
    ranked = spend.groupBy("uid").agg(F.sort_array(F.collect_list(F.struct(
        (-F.col("spend")).alias("k"), F.col(column).alias("v")))).alias("_s"))
    return ranked.select("uid", F.slice(F.transform("_s", lambda s: s["v"]), 1, n).alias(name))


# --------------------------------------------------------------------------- interactions


def interaction_fields(events: DataFrame, cfg: ProfileConfig, as_of: dt.date) -> DataFrame:
    """Engagement, service, advocacy and answers_on from the attributed interactions."""
    e = cfg.events
    end = as_of_end(as_of)
    known = events.where(F.col("ts") < end)
    aggs: list[Column] = []
    for w in cfg.engagement_windows_days:
        inside = F.col("ts") >= end - F.expr(f"INTERVAL {int(w)} DAYS")
        sent = _count_if(inside & matches(e.email_sent))
        opens = _count_if(inside & matches(e.email_open))
        clicks = _count_if(inside & matches(e.email_click))
        session = F.coalesce(F.col("attrs").getItem(e.session_attr), F.col("event_key"))
        aggs += [
            sent.alias(f"email_sent_{w}d"), opens.alias(f"email_opens_{w}d"),
            clicks.alias(f"email_clicks_{w}d"),
            _share(opens, sent).alias(f"email_open_rate_{w}d"),
            _share(clicks, sent).alias(f"email_click_rate_{w}d"),
            _count_if(inside & matches(e.email_unsubscribe)).alias(f"unsubscribes_{w}d"),
            # size(collect_set) and not count_distinct: one distinct aggregate per
            # window makes Spark expand every event once per window (Expand + a second
            # shuffle); a set per UID and window is a handful of session ids
            F.size(F.collect_set(F.when(inside & matches(e.web), session)))
            .alias(f"web_sessions_{w}d"),
            _count_if(inside & matches(e.web_search)).alias(f"searches_{w}d"),
            _count_if(inside & matches(e.web_view)).alias(f"views_{w}d"),
        ]
    aggs += _service(e, end) + _advocacy(e)
    aggs += [F.collect_set("source").alias("_event_sources"),
             F.min("ts").alias("_first_event"), F.max("ts").alias("_last_event")]
    per_uid = known.groupBy("uid").agg(*aggs)
    answers = (known.where(matches(e.responses)).groupBy("uid", "channel")
               .agg(F.count("*").alias("n"), F.max("ts").alias("last"))
               .groupBy("uid").agg(F.max_by("channel", F.struct("n", "last"))
                                   .alias("answers_on")))
    return per_uid.join(answers, on="uid", how="left").withColumn(
        "nps_category",
        F.when(F.col("nps_last") >= 9, "promoter").when(F.col("nps_last") >= 7, "passive")
        .when(F.col("nps_last").isNotNull(), "detractor"))


def _service(e: EventsConfig, end: Column) -> list[Column]:
    ticket, complaint = matches(e.ticket), matches(e.complaint)
    status_open = F.lower(F.col("attrs").getItem(e.status_attr)).isin(
        [s.lower() for s in e.open_statuses])
    if e.closed_at_attr:
        closed = F.to_timestamp(F.col("attrs").getItem(e.closed_at_attr))
        is_open = F.when(closed.isNotNull(), closed >= end).otherwise(
            F.coalesce(status_open, F.lit(True)))
    else:
        is_open = F.coalesce(status_open, F.lit(False))
    rated = ticket & F.col("value").isNotNull()
    return [
        _count_if(ticket).alias("tickets"),
        _count_if(ticket & is_open).alias("tickets_open"),
        _count_if(complaint).alias("complaints"),
        _count_if(complaint & is_open).alias("open_claims"),
        F.max_by(F.col("value"), F.when(rated, F.struct("ts", "event_key"))).alias("csat_last"),
        F.avg(F.when(rated, F.col("value"))).alias("csat_avg"),
        F.max(F.when(ticket, F.col("ts"))).alias("last_contact_at"),
    ]


def _advocacy(e: EventsConfig) -> list[Column]:
    nps = matches(e.nps) & F.col("value").isNotNull()
    answer = F.col("attrs").getItem(e.recommend_attr)
    answered = answer.isNotNull() & (F.length(F.trim(answer)) > 0)
    yes = F.lower(F.trim(answer)).isin([v.lower() for v in e.recommend_yes])
    return [
        F.max_by(F.col("value"), F.when(nps, F.struct("ts", "event_key"))).alias("nps_last"),
        F.max_by(yes, F.when(answered, F.struct("ts", "event_key"))).alias("would_recommend"),
    ]


def intent_fields(events: DataFrame, lines: DataFrame, cfg: ProfileConfig,
                  as_of: dt.date) -> DataFrame:
    """``intent_categories``: searched or viewed recently and not bought since."""
    e, end = cfg.events, as_of_end(as_of)
    since = end - F.expr(f"INTERVAL {int(cfg.intent.window_days)} DAYS")
    looked = (events.where((F.col("ts") < end) & (F.col("ts") >= since)
                           & (matches(e.web_search) | matches(e.web_view))
                           & F.col("category").isNotNull())
              .groupBy("uid", "category").agg(F.count("*").alias("n"),
                                              F.max("ts").alias("last_look")))
    bought = (lines.where((F.col("ts") < end) & F.col("category").isNotNull())
              .groupBy("uid", "category").agg(F.max("ts").alias("last_buy")))
    open_ = (looked.join(bought, on=["uid", "category"], how="left")
             .where(F.col("last_buy").isNull() | (F.col("last_buy") < F.col("last_look"))))
    ranked = open_.groupBy("uid").agg(F.sort_array(F.collect_list(F.struct(
        (-F.col("n")).alias("k"), F.col("category").alias("v")))).alias("_s"))
    return ranked.select("uid", F.slice(F.transform("_s", lambda s: s["v"]), 1,
                                        cfg.intent.top_n).alias("intent_categories"))

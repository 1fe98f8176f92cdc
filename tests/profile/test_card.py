"""The card as of two dates, tier rules from config, and what a role's view shows."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.errors import ConfigError
from vista.identity.golden import golden_records
from vista.identity.golden_config import SurvivorshipConfig
from vista.ingest.history import SCD_COLUMNS
from vista.profile.card import ProfileInputs, build_profile, records_as_of
from vista.profile.config import EventsConfig, ProfileConfig, TierRule, ViewConfig
from vista.profile.views import hmac_sha256, role_view
from vista.schemas import INTERACTIONS, ORDER_LINES, ORDERS, PERSON_RECORDS

TS = dt.datetime
HISTORY = T.StructType([*PERSON_RECORDS.fields,
                        T.StructField("attr_hash", T.StringType()),
                        T.StructField("valid_from", T.TimestampType()),
                        T.StructField("valid_to", T.TimestampType()),
                        T.StructField("is_current", T.BooleanType())])
KEYED = [T.StructField("uid", T.StringType()), T.StructField("attributed_by", T.StringType())]
CFG = ProfileConfig(
    engagement_windows_days=[30],
    events=EventsConfig(closed_at_attr="closed"),
    value_tiers=[TierRule(name="top", when="revenue >= 100 AND orders >= 2"),
                 TierRule(name="buyer", when="orders >= 1")],
    default_tier="none",
    views={"store": ViewConfig(fields=["name", "orders", "value_tier"]),
           "analyst": ViewConfig(fields=["email", "emails", "orders"], hash_pii=True)},
)


def _row(schema: T.StructType, **values):
    return tuple(values.get(f.name) for f in schema.fields)


def _inputs(spark) -> tuple[ProfileInputs, object]:
    def person(key, valid_from, valid_to, consent):
        return _row(HISTORY, record_key=key, source="crm", source_record_id=key[4:],
                    ids={"crm": key[4:]}, first_name="Ana", last_name="Ruiz",
                    email_std="ana@example.org", consent_email=consent,
                    observed_at=valid_from, valid_from=valid_from, valid_to=valid_to,
                    is_current=valid_to is None)
    history = spark.createDataFrame([
        person("crm:1", TS(2024, 1, 1), TS(2024, 4, 1), False),
        person("crm:1", TS(2024, 4, 1), None, True),    # consent given in April
    ], HISTORY)
    graph = spark.createDataFrame([("crm:1", "U1")], "record_key string, uid string")

    def order(key, ts, amount, channel, discount=0.0):
        return _row(T.StructType([*ORDERS.fields, *KEYED]), order_key=key, source="shop",
                    order_id=key, ts=ts, channel=channel, amount_reporting=amount,
                    discount_amount=discount, uid="U1", attributed_by="crm")
    orders = spark.createDataFrame([
        order("o1", TS(2024, 2, 1, 10), 60.0, "online", 5.0),
        order("o2", TS(2024, 3, 2, 10), 50.0, "store"),
        order("o3", TS(2024, 5, 10, 10), 30.0, "online"),
    ], T.StructType([*ORDERS.fields, *KEYED]))
    lines_schema = T.StructType([*ORDER_LINES.fields, T.StructField("uid", T.StringType()),
                                 T.StructField("ts", T.TimestampType()),
                                 T.StructField("channel", T.StringType())])

    def line(key, no, cat, amount, ts, tier=None, promo=None):
        return _row(lines_schema, order_key=key, line_no=no, source="shop", category=cat,
                    brand="b", price_tier=tier, amount_reporting=amount, promo=promo,
                    uid="U1", ts=ts)
    lines = spark.createDataFrame([
        line("o1", 1, "shoes", 60.0, TS(2024, 2, 1, 10), "premium"),
        line("o2", 1, "bags", 50.0, TS(2024, 3, 2, 10), "budget", True),
        line("o3", 1, "hats", 30.0, TS(2024, 5, 10, 10)),
    ], lines_schema)
    ev_schema = T.StructType([*INTERACTIONS.fields, *KEYED])

    def ev(key, ts, channel, type_, category=None, value=None, attrs=None):
        return _row(ev_schema, event_key=key, source=channel, ts=ts, channel=channel,
                    type=type_, category=category, value=value, attrs=attrs or {},
                    uid="U1")
    events = spark.createDataFrame([
        ev("m1", TS(2024, 3, 10), "email", "sent"), ev("m2", TS(2024, 3, 11), "email", "open"),
        ev("m3", TS(2024, 3, 20), "email", "sent"),
        ev("w1", TS(2024, 3, 25), "web", "search", "hats", attrs={"session_id": "s1"}),
        ev("w2", TS(2024, 3, 25), "web", "page_view", "hats", attrs={"session_id": "s1"}),
        # March's 30-day window starts on 2 March: session s2 counts through its later
        # event, an event without a session id is its own session, an e-mail is none
        ev("w3", TS(2024, 3, 1), "web", "page_view", attrs={"session_id": "s2"}),
        ev("w4", TS(2024, 3, 15), "web", "page_view", attrs={"session_id": "s2"}),
        ev("w5", TS(2024, 3, 16), "app", "search"),
        ev("m4", TS(2024, 3, 12), "email", "click", attrs={"session_id": "s9"}),
        ev("t1", TS(2024, 3, 5), "support", "complaint", value=2.0,
           attrs={"status": "closed", "closed": "2024-04-15 09:00:00"}),
        ev("s1", TS(2024, 3, 6), "survey", "nps", value=9.0, attrs={"would_recommend": "Yes"}),
    ], ev_schema)
    uids = spark.createDataFrame([("U1",), ("U2",)], "uid string")
    return ProfileInputs(uids=uids, golden=None, orders=orders, order_lines=lines,
                         interactions=events), (history, graph)


def _card(spark, as_of: dt.date):
    inputs, (history, graph) = _inputs(spark)
    records = records_as_of(history, as_of, [f.name for f in PERSON_RECORDS.fields])
    golden = golden_records(records, graph, SurvivorshipConfig(), "r").drop("run_id")
    inputs = ProfileInputs(inputs.uids, golden, inputs.orders, inputs.order_lines,
                           inputs.interactions)
    return build_profile(inputs, CFG, as_of)


COLUMNS = ["uid", "consent_email", "orders", "revenue", "recency_days", "online_share",
           "purchase_cadence_days", "top_categories", "discounted_share", "premium_share",
           "email_sent_30d", "email_open_rate_30d", "web_sessions_30d", "tickets_open",
           "open_claims", "csat_last", "nps_category", "would_recommend",
           "intent_categories", "value_tier"]


def test_the_card_as_of_two_dates_reads_only_what_was_known_then(spark) -> None:
    march = _card(spark, dt.date(2024, 3, 31)).select(COLUMNS)
    june = _card(spark, dt.date(2024, 6, 30)).select(COLUMNS)
    schema = march.schema
    expected_march = spark.createDataFrame([
        ("U1", False, 2, 110.0, 29, 0.5, 30.0, ["shoes", "bags"], 1.0, 0.5,
         2, 0.5, 3, 1, 1, 2.0, "promoter", True, ["hats"], "top"),
        ("U2", None, 0, 0.0, None, None, None, None, None, None,
         0, None, 0, 0, 0, None, None, None, [], "none"),
    ], schema)
    # June: consent given, a third order (hats, so no intent left), the claim closed,
    # and the March e-mails and visits out of the 30-day window
    expected_june = spark.createDataFrame([
        ("U1", True, 3, 140.0, 51, 2 / 3, 49.5, ["shoes", "bags", "hats"], 2 / 3, 0.5,
         0, None, 0, 0, 0, 2.0, "promoter", True, [], "top"),
        ("U2", None, 0, 0.0, None, None, None, None, None, None,
         0, None, 0, 0, 0, None, None, None, [], "none"),
    ], schema)
    assert_df_equality(march, expected_march, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(june, expected_june, ignore_row_order=True, ignore_nullable=True)


def test_a_tier_rule_that_is_not_valid_sql_is_reported_with_its_key_path(spark) -> None:
    inputs, (history, graph) = _inputs(spark)
    golden = golden_records(history.drop(*SCD_COLUMNS), graph, SurvivorshipConfig(), "r")
    cfg = CFG.model_copy(update={"value_tiers": [TierRule(name="x", when="revenue >>= 1"),
                                                 TierRule(name="y", when="nope > 1")]})
    with pytest.raises(ConfigError) as err:
        build_profile(ProfileInputs(inputs.uids, golden.drop("run_id"), inputs.orders,
                                    inputs.order_lines, inputs.interactions), cfg,
                      dt.date(2024, 6, 30))
    assert "profile.value_tiers[0].when" in str(err.value)
    assert "profile.value_tiers[1].when" in str(err.value)


def test_a_role_sees_only_its_fields_and_an_analyst_sees_keyed_hashes(spark) -> None:
    card = _card(spark, dt.date(2024, 6, 30)).where("uid = 'U1'")
    assert role_view(card, CFG, "store").columns == ["uid", "name", "orders", "value_tier"]
    analyst = role_view(card, CFG, "analyst", key=b"k").first()
    assert analyst["orders"] == 3
    one = spark.range(1).select(hmac_sha256(F.lit("ana@example.org"), b"k").alias("h")).first()
    assert analyst["email"] == one["h"] and analyst["emails"] == [one["h"]]
    assert one["h"] == hmac.new(b"k", b"ana@example.org", hashlib.sha256).hexdigest()

"""Activity keyed to UIDs: person ids, devices, ambiguity and the priority rule."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import types as T

from vista.profile.attribution import id_uids, resolve
from vista.profile.config import AttributionConfig

IDS = T.MapType(T.StringType(), T.StringType())
RECORDS = T.StructType([T.StructField("record_key", T.StringType()),
                        T.StructField("ids", IDS)])
GRAPH = "record_key string, uid string"
ACTIVITY = T.StructType([T.StructField("event_key", T.StringType()),
                         T.StructField("ids", IDS)])
OUT = "key string, uid string, attributed_by string, reason string"
DEVICES = {"cookie": "web_device"}


def _inputs(spark):
    records = spark.createDataFrame([
        ("shop:a1", {"account": "a1"}),
        ("shop:a2", {"account": "a2"}),
        ("crm:c1", {"crm": "c1", "card": "L1"}),
        ("loyal:L1", {"card": "L1"}),
        ("crm:c2", {"crm": "c2", "card": "L2"}),   # a card two people's records carry
        ("crm:c3", {"crm": "c3", "card": "L2"}),
    ], RECORDS)
    graph = spark.createDataFrame([
        ("shop:a1", "U1"), ("shop:a2", "U2"), ("crm:c1", "U1"), ("loyal:L1", "U1"),
        ("crm:c2", "U2"), ("crm:c3", "U3")], GRAPH)
    devices = spark.createDataFrame([("web_device:k1", "U1"), ("web_device:k9", "U3")],
                                    "device_key string, uid string")
    return id_uids(records, graph), devices


def test_rows_are_keyed_by_person_ids_then_devices_and_never_guessed(spark) -> None:
    ids, devices = _inputs(spark)
    activity = spark.createDataFrame([
        ("e1", {"account": "a1"}),                    # a person id
        ("e2", {"card": " L1 "}),                      # two records, one UID; value trimmed
        ("e3", {"cookie": "k1"}),                      # a device only
        ("e4", {"cookie": "k1", "account": "a2"}),     # the person id beats the device
        ("e5", {"account": "a1", "crm": "c2"}),        # two UIDs: ambiguous
        ("e6", {"card": "L2"}),                        # one value, two UIDs: ambiguous
        ("e7", {"account": "zz"}),                     # unknown id
        ("e8", {}),                                    # no ids
        ("e9", {"account": ""}),                       # a blank id is no id
        ("e10", {"cookie": "k5"}),                     # a device identity never saw
        ("e11", {"cookie": "k9", "account": "zz"}),    # an unknown person id, a known device
    ], ACTIVITY)
    got = resolve(activity, "event_key", ids, devices, AttributionConfig(), DEVICES)
    expected = spark.createDataFrame([
        ("e1", "U1", "account", None), ("e2", "U1", "card", None),
        ("e3", "U1", "cookie", None), ("e4", "U2", "account", None),
        ("e5", None, None, "ambiguous"), ("e6", None, None, "ambiguous"),
        ("e7", None, None, "unknown_id"), ("e8", None, None, "no_ids"),
        ("e9", None, None, "no_ids"), ("e10", None, None, "unknown_id"),
        ("e11", "U3", "cookie", None)], OUT)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_priority_rule_from_config_resolves_a_conflict(spark) -> None:
    ids, devices = _inputs(spark)
    activity = spark.createDataFrame([
        ("e5", {"account": "a1", "crm": "c2"}),
        ("e6", {"card": "L2", "crm": "c3"}),   # the card is ambiguous; crm decides
    ], ACTIVITY)
    cfg = AttributionConfig(kind_priority=["card", "crm", "account"])
    got = resolve(activity, "event_key", ids, devices, cfg, DEVICES)
    expected = spark.createDataFrame([("e5", "U2", "crm", None), ("e6", "U3", "crm", None)],
                                     OUT)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)

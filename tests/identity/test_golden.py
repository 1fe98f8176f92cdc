"""Golden customer record: survivorship per rule, every contact point kept."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import types as T

from vista.identity.golden import GOLDEN_CUSTOMER, golden_records
from vista.identity.golden_config import AttributeRule, SurvivorshipConfig
from vista.schemas import PERSON_RECORDS

TS = dt.datetime
D = dt.date


def _rec(key, **kw):
    source, rid = key.split(":")
    row = {f.name: None for f in PERSON_RECORDS.fields}
    row.update(record_key=key, source=source, source_record_id=rid, **kw)
    return tuple(row[f.name] for f in PERSON_RECORDS.fields)


def test_survivorship_rules_and_collections(spark):
    records = spark.createDataFrame([
        _rec("crm:1", first_name="Ana", email_std="ana@crm.example", phone_e164="+34600000001",
             birth_date=D(1980, 1, 2), consent_email=True, observed_at=TS(2024, 1, 1),
             ids={"crm_id": "C1"}),
        _rec("shop:7", first_name="Anna", email_std="ana.shop@mail.example",
             phone_e164="+34600000002", birth_date=D(1980, 1, 2), consent_email=False,
             observed_at=TS(2025, 6, 1), ids={"account_id": "A7", "crm_id": "C1"}),
        _rec("shop:8", first_name=" ", email_std=None, birth_date=D(1980, 2, 1),
             other_phones_e164=["+34910000003", "+34600000001"],
             observed_at=TS(2025, 9, 1), ids={"account_id": "A8"}),
        # a second person without any CRM record: the most recent email wins
        _rec("shop:9", first_name="Luis", email_std="old@mail.example",
             observed_at=TS(2023, 1, 1)),
        _rec("web:3", first_name=None, email_std="new@mail.example",
             observed_at=TS(2024, 1, 1)),
    ], PERSON_RECORDS)
    assignments = spark.createDataFrame(
        [("crm:1", "U1"), ("shop:7", "U1"), ("shop:8", "U1"), ("shop:9", "U2"),
         ("web:3", "U2")], "record_key string, uid string")
    cfg = SurvivorshipConfig(
        source_priority=["crm"],
        attributes={
            "email": AttributeRule(rules=["source_priority", "most_recent"]),
            "birth_date": AttributeRule(rules=["most_frequent", "most_recent"]),
            "consent_email": AttributeRule(rules=["most_recent"]),
            "phone": AttributeRule(rules=["earliest"]),
        },
    )
    golden = golden_records(records, assignments, cfg, run_id="r1")
    assert golden.schema.fieldNames() == GOLDEN_CUSTOMER.fieldNames()
    cols = ["uid", "first_name", "email", "phone", "birth_date", "consent_email", "emails",
            "phones", "source_ids", "ids", "n_records", "last_seen", "run_id"]
    schema = T.StructType([GOLDEN_CUSTOMER[c] for c in cols])
    expected = spark.createDataFrame([
        ("U1", "Ana", "ana@crm.example", "+34600000001", D(1980, 1, 2), False,
         ["ana.shop@mail.example", "ana@crm.example"], ["+34600000001", "+34600000002", "+34910000003"],
         {"crm": ["1"], "shop": ["7", "8"]}, {"account_id": ["A7", "A8"], "crm_id": ["C1"]},
         3, TS(2025, 9, 1), "r1"),
        ("U2", "Luis", "new@mail.example", None, None, None,
         ["new@mail.example", "old@mail.example"], [], {"shop": ["9"], "web": ["3"]}, {},
         2, TS(2024, 1, 1), "r1"),
    ], schema)
    # maps cannot be sorted by Spark, so the two tiny frames are compared as rows by uid
    assert golden.select(cols).orderBy("uid").collect() == expected.orderBy("uid").collect()

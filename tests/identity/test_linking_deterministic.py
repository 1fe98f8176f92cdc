"""Deterministic links and their guards, on tiny inline person records."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from faker import Faker
from pyspark.sql import types as T

from vista.identity.link.config import DeterministicConfig, GuardConfig, LinkingConfig
from vista.identity.link.deterministic import deterministic_links
from vista.identity.link.devices import device_account_links
from vista.schemas import INTERACTIONS, LINKS, PERSON_RECORDS


def _rec(key, first=None, email=None, phone=None, bd=None, ids=None, last=None, others=None):
    source, sid = key.split(":")
    f = first.lower() if first else None
    ln = last.lower() if last else None
    return (key, source, sid, ids or {}, first, last, f, ln, None, email, email, phone, phone,
            others or [], bd, None, None, None, None, None, None, None, None, None, None, None, None)


def assertDataFrameEqual(got, expected):  # noqa: N802 - pyspark.testing needs pandas<3
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def _links(spark, rows):
    return spark.createDataFrame(
        [(a, b, k, None, 1.0) for a, b, k in rows], LINKS)


@pytest.fixture(scope="module")
def names():
    fake = Faker("en_GB")
    fake.seed_instance(7)
    firsts = [fake.unique.first_name() for _ in range(6)]
    return firsts, fake.last_name()


D1, D2, D3 = dt.date(1980, 1, 1), dt.date(1982, 5, 5), dt.date(1990, 9, 9)


def test_guards_whole_frame(spark, names):
    (a, b, c, d, e, f), last = names
    fam = "family@mail.test"
    records = spark.createDataFrame([
        # a family email on three people (three first names): shared, not glue ...
        _rec("crm:1", a, fam, bd=D1, last=last),
        _rec("crm:2", b, fam, bd=D2, last=last),
        _rec("crm:3", c, fam, bd=D3, last=last),
        # ... but it still joins records of the same person (same first name) ...
        _rec("shop:1", a, fam, bd=None, last=last),
        # ... and a record without first name falls back to the birth date.
        _rec("shop:2", None, fam, bd=D2),
        # placeholder phones are ignored entirely
        _rec("crm:4", d, phone="000000", bd=D1),
        _rec("crm:5", e, phone="000000", bd=D2),
        _rec("crm:6", f, phone="+33000000000"),
        _rec("crm:7", a, phone="+33000000000"),
        # a personal loyalty card on three records: a star on the smallest key
        _rec("loy:1", d, ids={"loyalty_card": "L9"}),
        _rec("loy:2", d, ids={"loyalty_card": "L9", "device_id": "dev1"}),
        _rec("loy:3", d, ids={"loyalty_card": "L9 "}),
        # device ids are excluded from person linking by default
        _rec("web:1", e, ids={"device_id": "dev1"}),
        # a value on more records than max_records_per_value is ignored
        *[_rec(f"pos:{i}", f, ids={"store_card": "S1"}) for i in range(6)],
    ], PERSON_RECORDS)
    cfg = LinkingConfig(deterministic=DeterministicConfig(
        guards=GuardConfig(max_records_per_value=5)))

    got = deterministic_links(records, cfg)

    expected = _links(spark, [
        ("crm:1", "shop:1", "deterministic:email"),
        ("crm:2", "shop:2", "deterministic:email"),
        ("crm:1", "shop:1", "deterministic:email_key"),
        ("crm:2", "shop:2", "deterministic:email_key"),
        ("loy:1", "loy:2", "deterministic:loyalty_card"),
        ("loy:1", "loy:3", "deterministic:loyalty_card"),
    ])
    assertDataFrameEqual(got, expected)


def test_personal_email_star_and_first_name_typo(spark, names):
    (a, b, *_), last = names
    records = spark.createDataFrame([
        _rec("b:2", a, "me@mail.test", bd=D1),
        _rec("a:1", a, "me@mail.test", bd=D1),
        _rec("c:3", a + "x", "me@mail.test", bd=D1),  # a typo: two names -> shared
        _rec("d:4", b, "other@mail.test", phone="+447700900123", ids={"crm_id": "7"}),
        _rec("e:5", b, None, phone="+447700900123", ids={"crm_id": "7"}),
    ], PERSON_RECORDS)

    got = deterministic_links(records, LinkingConfig())

    # "me@" carries two first names so it is shared: only same-first-name pairs link.
    expected = _links(spark, [
        ("a:1", "b:2", "deterministic:email"),
        ("a:1", "b:2", "deterministic:email_key"),
        ("d:4", "e:5", "deterministic:crm_id"),
        ("d:4", "e:5", "deterministic:phone"),
    ])
    assertDataFrameEqual(got, expected)


def test_a_further_phone_number_links_like_the_main_one(spark, names):
    (a, b, *_), last = names
    home, mobile = "+34915550001", "+34600000001"
    records = spark.createDataFrame([
        _rec("crm:1", a, phone=mobile, others=[home], last=last),
        _rec("ticket:7", a, phone=home),  # gave the home number
        _rec("shop:3", a, phone=mobile),
        _rec("crm:2", b, phone="+34600000002", last=last),
    ], PERSON_RECORDS)

    got = deterministic_links(records, LinkingConfig())

    assertDataFrameEqual(got, _links(spark, [
        ("crm:1", "ticket:7", "deterministic:phone"),
        ("crm:1", "shop:3", "deterministic:phone"),
    ]))


def test_compatibility_guard_tells_name_variants_from_other_people(spark, names):
    from vista.identity.person.config import CompatibilityConfig

    (a, b, *_), last = names
    records = spark.createDataFrame([
        # one person: a nickname, a typo and a nameless subscriber on one address
        _rec("crm:1", "Jose", "me@mail.test", bd=D1, last=last),
        _rec("shop:1", "Pepe", "me@mail.test", last=last),
        _rec("loy:1", a + "x", "a@mail.test", bd=D2),
        _rec("crm:2", a, "a@mail.test", bd=D2),
        _rec("news:1", None, "me@mail.test"),
        # a family address: two people, so nameless records stay out; same-name
        # records and a birth-date match still link
        _rec("crm:3", a, "fam@mail.test", bd=D1),
        _rec("crm:4", b, "fam@mail.test", bd=D3),
        _rec("shop:4", b, "fam@mail.test"),
        _rec("news:4", None, "fam@mail.test", bd=D3),
        _rec("news:5", None, "fam@mail.test"),
    ], PERSON_RECORDS)
    cfg = LinkingConfig(deterministic=DeterministicConfig(expression_kinds={}))

    got = deterministic_links(records, cfg, CompatibilityConfig())

    expected = _links(spark, [
        ("crm:1", "shop:1", "deterministic:email"),  # star on the smallest key
        ("crm:1", "news:1", "deterministic:email"),
        ("crm:2", "loy:1", "deterministic:email"),
        ("crm:4", "shop:4", "deterministic:email"),
        ("crm:4", "news:4", "deterministic:email"),
    ])
    assertDataFrameEqual(got, expected)


def test_device_account_links(spark):
    ts = dt.datetime(2024, 1, 1)

    def ev(i, ids):
        return (f"web:{i}", "web", ids, ts, "web", "page_view", None, None, None, None, None)

    events = spark.createDataFrame([
        ev(1, {"device_id": "d1", "account_id": "A1"}),
        ev(2, {"device_id": "d1", "account_id": "A1"}),
        ev(3, {"device_id": "d1"}),
        *[ev(10 + i, {"device_id": "kiosk", "account_id": f"A{i}"}) for i in range(4)],
        ev(20, {"device_id": "d3", "account_id": "A9"}),
    ], INTERACTIONS)
    records = spark.createDataFrame([
        _rec("shop:1", ids={"account_id": "A1"}),
        _rec("shop:0", ids={"account_id": "A0"}),
    ], PERSON_RECORDS)

    with_records = device_account_links(events, LinkingConfig(), records=records)
    pseudo = device_account_links(events, LinkingConfig())

    assertDataFrameEqual(with_records, _links(spark, [
        ("shop:1", "web_device:d1", "device:device_id")]))
    assertDataFrameEqual(pseudo, _links(spark, [
        ("account_id:A1", "web_device:d1", "device:device_id"),
        ("account_id:A9", "web_device:d3", "device:device_id"),
    ]))


def test_schema_is_links(spark):
    records = spark.createDataFrame([_rec("a:1", "x", "x@y.test")], PERSON_RECORDS)
    got = deterministic_links(records, LinkingConfig())
    assert [(f.name, f.dataType) for f in got.schema] == [
        (f.name, f.dataType) for f in LINKS]
    assert got.count() == 0
    assert isinstance(got.schema["match_weight"].dataType, T.DoubleType)


def test_email_key_links_dot_and_tag_variants(spark, names):
    (a, b, *_), _last = names
    records = spark.createDataFrame([
        _rec("crm:1", a, "ann.lee@mail.test"),
        _rec("news:2", None, "annlee@mail.test"),
        _rec("news:3", None, "ann.lee+shop@mail.test"),
        _rec("news:4", None, "annlee@other.test"),  # another domain: another mailbox
        _rec("crm:5", b, "b.c@mail.test"),
    ], PERSON_RECORDS)

    got = deterministic_links(records, LinkingConfig())

    expected = _links(spark, [
        ("crm:1", "news:2", "deterministic:email_key"),
        ("crm:1", "news:3", "deterministic:email_key"),
    ])
    assertDataFrameEqual(got, expected)


def test_an_old_email_of_a_record_still_links_it(spark, names):
    """A customer changed address in the CRM; the newsletter still has the old one."""
    from pyspark.sql import functions as F

    from vista.identity.link.deterministic import with_past_identifiers

    (a, b, *_), _last = names
    now = [_rec("crm:1", a, "new@mail.test", phone="+447700900111", bd=D1),
           _rec("crm:4", b, "b@mail.test")]
    before = [_rec("crm:1", a, "old@mail.test", phone="+447700900999", bd=D1)]
    records = spark.createDataFrame([
        *now,
        _rec("news:2", None, "old@mail.test"),
        _rec("sms:3", None, phone="+447700900999"),  # an old phone: may be someone's now
    ], PERSON_RECORDS)
    history = spark.createDataFrame(now, PERSON_RECORDS).withColumn(
        "is_current", F.lit(True)).unionByName(spark.createDataFrame(
            before, PERSON_RECORDS).withColumn("is_current", F.lit(False)))
    cfg = LinkingConfig()

    got = deterministic_links(with_past_identifiers(records, history, cfg.deterministic), cfg)

    expected = _links(spark, [
        ("crm:1", "news:2", "deterministic:email"),
        ("crm:1", "news:2", "deterministic:email_key"),
    ])
    assertDataFrameEqual(got, expected)


def test_an_email_user_name_spelling_a_name_links_only_nameless_records(spark):
    records = spark.createDataFrame([
        _rec("crm:1", "Maria", "m1@mail.test", bd=D1, last="Ruiz Gil"),
        _rec("crm:2", "Maria", "m2@mail.test", bd=D2, last="Ruiz"),   # a namesake
        _rec("news:3", None, "maria.ruiz77@mail.test"),
        _rec("news:4", None, "ruiz_maria@mail.test"),
        _rec("news:5", None, "info@mail.test"),
    ], PERSON_RECORDS)

    got = deterministic_links(records, LinkingConfig())

    expected = _links(spark, [
        ("crm:1", "news:3", "deterministic:email_name"),
        ("crm:2", "news:3", "deterministic:email_name"),
        ("crm:1", "news:4", "deterministic:email_name_reversed"),
        ("crm:2", "news:4", "deterministic:email_name_reversed"),
    ])  # never crm:1 with crm:2: one name is not one person
    assertDataFrameEqual(got, expected)

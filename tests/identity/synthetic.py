"""A small labelled person-record frame with planted hard cases (twins, households,
typos), made with Faker: for the identity tests and ``bench/bench_identity_cluster.py``."""

from __future__ import annotations

import datetime as dt
import random

from pyspark.sql import DataFrame, SparkSession

from vista.schemas import PERSON_RECORDS

_SOURCES = ["crm", "shop", "loyalty", "support"]


def _typo(rng: random.Random, s: str) -> str:
    if len(s) < 4:
        return s
    i = rng.randrange(1, len(s) - 1)
    op = rng.choice(["swap", "drop", "dup"])
    if op == "swap":
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    if op == "drop":
        return s[:i] + s[i + 1:]
    return s[:i] + s[i] + s[i:]


def _person(fake, rng: random.Random, pid: int, base: dict | None = None) -> dict:
    last = base["last"] if base else fake.last_name()
    first = fake.first_name()
    return {
        "pid": f"p{pid}", "first": first, "last": last,
        "bd": base["bd"] if base and base.get("twin") else fake.date_of_birth(
            minimum_age=18, maximum_age=85),
        "email": base["email"] if base and rng.random() < 0.5 else
        f"{first}.{last}{rng.randint(1, 99)}@{fake.free_email_domain()}".lower().replace(" ", ""),
        "phone": base["phone"] if base else "+4477009" + f"{rng.randint(0, 99999):05d}",
        "street": base["street"] if base else fake.street_address().lower().replace("\n", " "),
        "postal": base["postal"] if base else fake.postcode().lower(),
        "city": base["city"] if base else fake.city().lower(),
    }


def _record(rng: random.Random, p: dict, n: int, noisy: bool) -> tuple:
    source = _SOURCES[n % len(_SOURCES)]
    first, last, email, phone = p["first"].lower(), p["last"].lower(), p["email"], p["phone"]
    bd, street = p["bd"], p["street"]
    if noisy:
        r = rng.random()
        first = _typo(rng, first) if r < 0.3 else first
        last = _typo(rng, last) if 0.3 <= r < 0.5 else last
        email = None if rng.random() < 0.3 else email
        phone = None if rng.random() < 0.3 else phone
        street = _typo(rng, street) if rng.random() < 0.3 else street
        if rng.random() < 0.1 and bd.day <= 12:
            bd = dt.date(bd.year, bd.day, bd.month)
    key = f"{source}:{p['pid']}-{n}"
    ids = {"crm_id": p["pid"]} if source == "crm" and rng.random() < 0.2 else {}
    return (key, source, key.split(":")[1], ids, first, last, first, last, f"{first} {last}",
            email, email, phone, phone, [], bd, None, street, street, p["postal"], p["city"], "GB",
            None, None, None, None, None, None)


def synthetic_person_records(
    spark: SparkSession, n_people: int = 100, *, seed: int = 1, hard_share: float = 0.2
) -> tuple[DataFrame, DataFrame]:
    """A labelled person-record frame with duplicates and planted hard cases.

    Each person has 1-3 records (typos, missing email/phone, swapped day/month). A
    ``hard_share`` of people come with a twin (same surname, birth date, address, phone,
    often the email) or a household member (same surname, address, phone).

    Args:
        spark: The session.
        n_people: Number of base people (twins / household members come on top).
        seed: Seed for Faker and the noise.
        hard_share: Share of base people who get a twin or household member.

    Returns:
        (records in ``PERSON_RECORDS``, truth with record_key, person_id, hard_case).
    """
    from faker import Faker

    fake = Faker("en_GB")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    people, hard = [], {}
    for i in range(n_people):
        p = _person(fake, rng, i)
        people.append(p)
        if rng.random() < hard_share:
            twin = rng.random() < 0.5
            q = _person(fake, rng, n_people + i, dict(p, twin=twin))
            people.append(q)
            hard[p["pid"]] = hard[q["pid"]] = f"{'twin' if twin else 'household'}:{p['pid']}"
    rows, truth = [], []
    for p in people:
        for n in range(rng.choice([1, 1, 2, 2, 3])):
            rec = _record(rng, p, n, noisy=n > 0)
            rows.append(rec)
            truth.append((rec[0], p["pid"], hard.get(p["pid"])))
    records = spark.createDataFrame(rows, PERSON_RECORDS)
    return records, spark.createDataFrame(truth, "record_key string, person_id string, "
                                                 "hard_case string")

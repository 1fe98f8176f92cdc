"""A declared id the lake shows to be personal outweighs a replaced first name; a
household landline does not join twins; where the records sharing such an id show first
names and birth dates to be noise, those rules are relaxed
(identity.clustering.compatibility.trusted_ids)."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from vista.identity.cluster import cluster_records
from vista.identity.config import IdentityConfig
from vista.identity.link.deterministic import deterministic_links
from vista.identity.link.trusted_ids import (
    id_kind_evidence,
    is_trusted,
    lower_bound,
    noisy_rules,
    with_trusted_ids,
)
from vista.schemas import PERSON_RECORDS

FIRST = ["lucas", "marta", "pablo", "irene", "diego", "nuria", "oscar", "elena", "hugo",
         "sonia", "raul"]


def _row(key: str, first: str, last: str, born: dt.date, ids: dict, phone: str | None = None):
    return {"record_key": key, "source": key.split(":")[0], "source_record_id": key[4:],
            "ids": ids, "first_name_std": first, "last_name_std": last,
            "full_name_std": f"{first} {last}", "birth_date": born, "phone_e164": phone,
            "other_phones_e164": []}


@pytest.fixture(scope="module")
def records(spark):
    rows = []
    for i, first in enumerate(FIRST):
        born = dt.date(1970 + i, 1 + i, 10 + i)
        nid = {"national_id": f"{12345670 + i}"}
        rows.append(_row(f"crm:{i}", first, f"apellido{i}", born, nid))
        # the second system replaced the first name of person 0 only
        rows.append(_row(f"erp:{i}", "carmen" if i == 0 else first, f"apellido{i}", born, nid))
    twins = dt.date(1990, 5, 5)
    rows.append(_row("crm:t1", "ana", "gil", twins, {"national_id": "99990001"}, "+34910000000"))
    rows.append(_row("crm:t2", "eva", "gil", twins, {"national_id": "99990002"}, "+34910000000"))
    return spark.createDataFrame(rows, PERSON_RECORDS).localCheckpoint()


def _cluster_of(clusters, key):
    return clusters.where(F.col("record_key") == key).first().cluster_id


def _with_kinds(cfg: IdentityConfig, kinds: list[str] | None) -> IdentityConfig:
    comp = cfg.clustering.compatibility
    return cfg.model_copy(update={"clustering": cfg.clustering.model_copy(update={
        "compatibility": comp.model_copy(update={
            "trusted_ids": comp.trusted_ids.model_copy(update={"kinds": kinds})})})})


def test_pairs_sharing_an_id_are_counted_by_kind(records):
    # 11 pairs share a national id; one has different first names, none both fields
    assert id_kind_evidence(records, IdentityConfig()) == {"national_id": (11, 1, 0, 0)}


def test_conflicts_at_the_rate_of_independent_typos_are_trusted():
    cfg = IdentityConfig()

    assert is_trusted((100, 10, 10, 2), cfg)      # 2 % <= 2 x 10 % x 10 %
    assert not is_trusted((100, 10, 10, 5), cfg)  # 5 %: two people, not two typos
    assert not is_trusted((9, 1, 0, 0), cfg)      # too few pairs to tell


def _resolved(records):
    """The defaults with the trusted ids learned on ``records``, and its clusters."""
    cfg = with_trusted_ids(IdentityConfig(), records)
    links = deterministic_links(records, cfg.linking, cfg.clustering.compatibility)
    clusters, _ = cluster_records(records, links, cfg.clustering)
    return cfg, clusters


def test_a_shared_national_id_joins_a_replaced_first_name_and_twins_stay_apart(records):
    cfg, clusters = _resolved(records)
    comp = cfg.clustering.compatibility

    assert comp.trusted_ids.kinds == ["national_id"]
    assert _cluster_of(clusters, "crm:0") == _cluster_of(clusters, "erp:0")
    assert _cluster_of(clusters, "crm:t1") != _cluster_of(clusters, "crm:t2")
    # 1 replaced name in 11 pairs is no evidence of noise: the rules and vetoes hold
    assert (comp.first_name.enabled, comp.birth_date.enabled) == (True, True)
    assert cfg.linking.probabilistic.vetoes == IdentityConfig().linking.probabilistic.vetoes


def test_without_a_trusted_kind_the_replaced_first_name_keeps_them_apart(records):
    untrusted = _with_kinds(IdentityConfig(), [])
    comp = untrusted.clustering.compatibility

    apart, _ = cluster_records(records, deterministic_links(records, untrusted.linking, comp),
                               untrusted.clustering)

    assert _cluster_of(apart, "crm:0") != _cluster_of(apart, "erp:0")


def test_a_kind_shared_by_different_people_is_not_trusted(spark, records):
    # a family card: two people with different first names and birth dates on one value
    family = spark.createDataFrame([
        _row("shop:f1", "jorge", "ruiz", dt.date(1950, 1, 1), {"national_id": "12345670"}),
    ], PERSON_RECORDS)

    cfg = with_trusted_ids(IdentityConfig(), records.unionByName(family))

    assert cfg.clustering.compatibility.trusted_ids.kinds == []


def test_a_rule_is_noise_only_when_many_pairs_of_one_person_break_it():
    cfg = IdentityConfig()

    # 10 % of 5,000 pairs disagree on first names: noise; 0.8 % on birth dates: a rule
    assert noisy_rules({"ssn": (5000, 500, 40, 4)}, ["ssn"], cfg) == ["first_name"]
    # 1 of 11 pairs (the replaced name above) is 9 %, but 11 pairs prove nothing
    assert noisy_rules({"national_id": (11, 1, 0, 0)}, ["national_id"], cfg) == []
    # the pairs of a kind that is not trusted are not one person's records
    assert noisy_rules({"card": (5000, 900, 900, 400)}, [], cfg) == []
    assert lower_bound(0, 100, 0.95) == 0.0
    assert 0.09 < lower_bound(150, 1000, 0.95) < 0.15


@pytest.fixture(scope="module")
def noisy(spark):
    # 30 people in two systems sharing a national id; the second system replaced the
    # first name of 6 and mistyped the birth date of 5 (person 5: both)
    rows = []
    for i in range(30):
        born = dt.date(1950 + i, 1 + i % 12, 1 + i % 28)
        nid = {"national_id": f"{55500000 + i}"}
        rows.append(_row(f"crm:{i:02d}", FIRST[i % len(FIRST)], f"apellido{i}", born, nid))
        first = "carmen" if i <= 5 else FIRST[i % len(FIRST)]
        other = born.replace(year=born.year - 20, month=1 + (born.month % 12)) \
            if 5 <= i <= 9 else born
        rows.append(_row(f"erp:{i:02d}", first, f"apellido{i}", other, nid))
    return spark.createDataFrame(rows, PERSON_RECORDS).localCheckpoint()


@pytest.mark.slow  # learns, links and clusters 60 records: 33 s at load 11
def test_where_one_persons_records_disagree_often_the_rules_give_way(noisy):
    cfg, clusters = _resolved(noisy)
    comp = cfg.clustering.compatibility

    assert comp.trusted_ids.kinds == ["national_id"]
    assert (comp.first_name.enabled, comp.birth_date.enabled) == (False, False)
    assert cfg.linking.probabilistic.vetoes == []
    # first name and birth date both differ, the national id is shared: one person
    assert _cluster_of(clusters, "crm:05") == _cluster_of(clusters, "erp:05")
    assert clusters.select("cluster_id").distinct().count() == 30  # one per person


"""Clustering: components, compatibility, no chaining, whole-frame assignments."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from vista.identity.cluster import (
    CLUSTERS,
    cluster_records,
    connected_components,
    reachable,
    record_links,
    size_histogram,
)
from vista.identity.cluster.config import ClusteringConfig
from vista.identity.person.config import FirstNameRule
from vista.schemas import LINKS

REC = T.StructType(
    [
        T.StructField("record_key", T.StringType(), False),
        T.StructField("birth_date", T.DateType(), True),
        T.StructField("first_name_std", T.StringType(), True),
        T.StructField("gender", T.StringType(), True),
    ]
)
D = dt.date


def assertDataFrameEqual(got, expected):  # noqa: N802 - pyspark.testing needs pandas<3
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def _records(spark, rows):
    return spark.createDataFrame(rows, REC)


def _links(spark, rows):
    return spark.createDataFrame(rows, LINKS)


def test_connected_components_on_a_long_path_and_two_islands(spark):
    # a path n00-n01-...-n11 (diameter 11) plus a triangle and a pair
    path = [(f"n{i:02d}", f"n{i + 1:02d}") for i in range(11)]
    edges = spark.createDataFrame(
        [*path, ("x", "y"), ("y", "z"), ("z", "x"), ("q", "p")], "src string, dst string")
    got = connected_components(edges, max_iterations=20)
    expected = spark.createDataFrame(
        [(f"n{i:02d}", "n00") for i in range(12)]
        + [("x", "x"), ("y", "x"), ("z", "x"), ("p", "p"), ("q", "p")],
        "node string, component string")
    assertDataFrameEqual(got, expected)


def test_reachable_is_the_seeds_components_and_stops_at_its_limit(spark):
    from vista.identity.errors import ClusteringError

    # the same graph: a seed in the middle of the path, one in the pair, one lone seed
    path = [(f"n{i:02d}", f"n{i + 1:02d}") for i in range(11)]
    edges = spark.createDataFrame(
        [*path, ("x", "y"), ("y", "z"), ("z", "x"), ("q", "p")], "src string, dst string")
    seeds = spark.createDataFrame([("n05",), ("q",), ("alone",)], "node string")
    expected = spark.createDataFrame(
        [(f"n{i:02d}",) for i in range(12)] + [("p",), ("q",), ("alone",)], "node string")
    assertDataFrameEqual(reachable(edges, seeds, max_iterations=6), expected)
    with pytest.raises(ClusteringError, match="did not end in 5 steps"):
        reachable(edges, seeds, max_iterations=5)  # n11 is 6 steps from n05


def test_chain_through_shared_identifiers_is_not_one_cluster(spark):
    # a-b share a phone, b-c an email, c-d a common name; a and d were born years apart
    recs = _records(spark, [
        ("s:a", D(1960, 3, 1), "maria", None),
        ("s:b", None, "maria", None),
        ("s:c", None, None, None),
        ("s:d", D(1991, 7, 9), "maria", None),
    ])
    links = _links(spark, [
        ("s:a", "s:b", "deterministic:phone", None, None),
        ("s:b", "s:c", "deterministic:email", None, None),
        ("s:c", "s:d", "probabilistic", 8.0, 0.97),
    ])
    clusters, stats = cluster_records(recs, links, ClusteringConfig())
    # greedy by weight: a-b (30) and b-c (30) merge first; c-d would bring d next to a
    expected = spark.createDataFrame(
        [("s:a", "s:a"), ("s:b", "s:a"), ("s:c", "s:a"), ("s:d", "s:d")], CLUSTERS)
    assertDataFrameEqual(clusters, expected)
    assert stats["components_split"] == 1


def test_clean_triangle_and_weak_link_and_singleton(spark):
    recs = _records(spark, [
        ("s:1", D(1980, 1, 2), "jon", "m"),
        ("s:2", D(1980, 2, 1), "john", "m"),  # day/month swap and a one-letter spelling
        ("t:3", D(1980, 1, 2), "j", None),  # an initial
        ("t:4", D(1980, 1, 2), "jon", "m"),  # only a weak link, no surname: stays alone
        ("u:5", None, None, None),  # no links at all
    ])
    links = _links(spark, [
        ("s:1", "s:2", "probabilistic", 9.0, 0.99),
        ("s:2", "t:3", "probabilistic", 7.0, 0.96),
        ("s:1", "t:3", "deterministic:loyalty_card", None, None),
        ("s:1", "t:4", "probabilistic", 2.0, 0.6),
    ])
    clusters, stats = cluster_records(recs, links, ClusteringConfig())
    expected = spark.createDataFrame(
        [("s:1", "s:1"), ("s:2", "s:1"), ("t:3", "s:1"), ("t:4", "t:4"), ("u:5", "u:5")],
        CLUSTERS)
    assertDataFrameEqual(clusters, expected)
    assert stats == {"edges_strong": 3, "components_split": 0, "records_fallback": 0,
                     "records_lone_joined": 0, "records_attached": 0}

    how = record_links(clusters, links, ClusteringConfig())
    expected_how = spark.createDataFrame(
        [("s:1", "deterministic:loyalty_card", 1.0), ("s:2", "probabilistic", 0.99),
         ("t:3", "deterministic:loyalty_card", 1.0), ("t:4", "singleton", None),
         ("u:5", "singleton", None)],
        "record_key string, link_kind string, match_probability double")
    assertDataFrameEqual(how, expected_how)


def test_a_nameless_cluster_joins_the_one_cluster_its_name_links_reach(spark):
    recs = _records(spark, [
        ("crm:1", D(1980, 1, 2), "maria", None),
        ("shop:2", None, "maria", None),
        ("news:3", None, None, None),   # its e-mail spells Maria's name: joins her
        ("news:4", None, None, None),   # with news:5 (one e-mail); their names reach two
        ("news:5", None, None, None),   # people, so they stay together, alone
        ("crm:6", D(1991, 7, 9), "maria", None),
    ])
    attach = ["deterministic:email_name"]
    links = _links(spark, [
        ("crm:1", "shop:2", "deterministic:email", None, None),
        ("crm:1", "news:3", "deterministic:email_name", None, None),
        ("news:3", "shop:2", "deterministic:email_name", None, None),
        ("news:4", "news:5", "deterministic:email", None, None),
        ("crm:1", "news:4", "deterministic:email_name", None, None),
        ("crm:6", "news:5", "deterministic:email_name", None, None),
    ])

    clusters, stats = cluster_records(recs, links, ClusteringConfig(), attach)

    expected = spark.createDataFrame(
        [("crm:1", "crm:1"), ("shop:2", "crm:1"), ("news:3", "crm:1"), ("news:4", "news:4"),
         ("news:5", "news:4"), ("crm:6", "crm:6")], CLUSTERS)
    assertDataFrameEqual(clusters, expected)
    assert stats["records_attached"] == 1
    how = record_links(clusters, links, ClusteringConfig(), attach)
    kinds = {r.record_key: r.link_kind for r in how.collect()}
    assert kinds["news:3"] == "deterministic:email_name"
    assert kinds["crm:1"] == "deterministic:email"  # its real link, not the attach link
    # without attach kinds the links are edges, and chain the two Marias
    chained, _ = cluster_records(recs, links, ClusteringConfig())
    assert chained.select("cluster_id").distinct().count() < 3


NAMED = T.StructType([
    *REC.fields,
    T.StructField("last_name_std", T.StringType(), True),
    T.StructField("full_name_std", T.StringType(), True),
])


def test_a_record_with_only_a_full_name_is_not_nameless(spark):
    # a ticket that only says "luz pineda uribe" carries a name: its e-mail's name links
    # do not attach it to the one cluster they reach, a namesake's
    def rec(key, first=None, last=None, full=None):
        return (key, None, first, None, last, full)

    recs = spark.createDataFrame([
        rec("crm:1", "luz", "pineda montserrat"),
        rec("news:2"),                        # her newsletter subscription
        rec("tk:3", full="luz pineda uribe"),
        rec("news:4"),                        # nameless: joins Luz Pineda Montserrat
        rec("tk:5", full=" "),                # a blank name is no name
    ], NAMED)
    attach = ["deterministic:email_name"]
    links = _links(spark, [
        ("crm:1", "news:2", "deterministic:email", None, None),
        ("news:2", "tk:3", "deterministic:email_name", None, None),
        ("crm:1", "news:4", "deterministic:email_name", None, None),
        ("crm:1", "tk:5", "deterministic:email_name", None, None),
    ])

    clusters, stats = cluster_records(recs, links, ClusteringConfig(), attach)

    expected = spark.createDataFrame(
        [("crm:1", "crm:1"), ("news:2", "crm:1"), ("tk:3", "tk:3"), ("news:4", "crm:1"),
         ("tk:5", "crm:1")], CLUSTERS)
    assertDataFrameEqual(clusters, expected)
    assert stats["records_attached"] == 2


def test_a_lone_record_joins_the_one_person_that_carries_its_name(spark):
    def rec(key, born, first=None, last=None, full=None):
        return (key, born, first, None, last, full)

    recs = spark.createDataFrame([
        rec("crm:01", D(1968, 6, 4), "irene", "tamez"),
        rec("shop:01", None, "irene", "tamez"),
        rec("tk:02", None, full="irene tamez santana"),  # joins Irene Tamez
        rec("crm:03", D(1980, 1, 1), "luis", "gomez"),
        rec("tk:04", None, full="luis gomez"),            # a namesake also carries the name
        rec("crm:05", D(1991, 2, 2), "luis", "gomez"),
        rec("crm:06", D(1950, 5, 5), "pedro", "leon"),
        rec("tk:07", D(1990, 1, 1), full="pedro leon"),  # born 40 years later
        rec("crm:08", None, "eva", "sanz"),
        rec("tk:09", None, full="eva sanz"),              # too weak a link
        rec("tk:10", None, full="rosa diaz"),             # two lone records choose each
        rec("web:11", None, "rosa", "diaz"),              # other: they meet
    ], NAMED)
    links = _links(spark, [
        ("crm:01", "shop:01", "deterministic:email", None, None),
        ("crm:01", "tk:02", "probabilistic", 3.0, 0.7),
        ("crm:03", "tk:04", "probabilistic", 4.0, 0.8),
        ("crm:06", "tk:07", "probabilistic", 3.0, 0.6),
        ("crm:08", "tk:09", "probabilistic", -1.0, 0.3),
        ("tk:10", "web:11", "probabilistic", 2.0, 0.6),
    ])

    clusters, stats = cluster_records(recs, links, ClusteringConfig())

    joined = {"shop:01": "crm:01", "tk:02": "crm:01", "web:11": "tk:10"}
    expected = spark.createDataFrame(
        [(r.record_key, joined.get(r.record_key, r.record_key)) for r in recs.collect()],
        CLUSTERS)
    assertDataFrameEqual(clusters, expected)
    assert stats["records_lone_joined"] == 2
    how = {r.record_key: (r.link_kind, r.match_probability)
           for r in record_links(clusters, links, ClusteringConfig()).collect()}
    assert how["tk:02"] == ("probabilistic", 0.7)
    # switched off, or with the name carried outside the clustered records, none join
    off = ClusteringConfig.model_validate({"lone_records": {"enabled": False}})
    alone, _ = cluster_records(recs, links, off)
    assert alone.where("record_key != cluster_id").count() == 1  # shop:01 only
    outside = spark.createDataFrame([("irene tamez", "u-1"), ("rosa diaz", "u-2")],
                                    "name_key string, cluster_id string")
    kept, _ = cluster_records(recs, links, ClusteringConfig(), outside_names=outside)
    assert kept.where("record_key != cluster_id").count() == 1


def test_lone_records_need_the_links_they_read_to_be_scored():
    from vista.identity.config import IdentityConfig

    with pytest.raises(ValueError, match="lone_records.min_probability"):
        IdentityConfig.model_validate({
            "clustering": {"lone_records": {"min_probability": 0.5}},
            "linking": {"probabilistic": {"threshold_match_probability": 0.9}}})
    with pytest.raises(ValueError, match="below match_threshold"):
        ClusteringConfig.model_validate({"lone_records": {"min_probability": 0.96}})


def test_two_families_through_a_landline_split_by_first_name_and_nicknames(spark):
    cfg = ClusteringConfig.model_validate(
        {"compatibility": {"first_name": {"nicknames": {"bob": "robert"}}}})
    recs = _records(spark, [
        ("a:1", D(1970, 5, 5), "robert", None),
        ("b:1", D(1970, 5, 5), "bob", None),
        ("a:2", D(1972, 8, 8), "ana", None),
        ("b:2", None, "eva", None),
        ("c:2", D(1972, 8, 8), "ana", None),
    ])
    links = _links(spark, [
        ("a:1", "b:1", "probabilistic", 12.0, 0.999),  # nickname pair
        ("a:1", "a:2", "deterministic:phone", None, None),  # shared landline
        ("a:2", "c:2", "probabilistic", 11.0, 0.998),
        ("b:2", "c:2", "deterministic:email", None, None),  # a family email to a sister
    ])
    clusters, _ = cluster_records(recs, links, cfg)
    # the heaviest edges (30) are the landline and the family email, but they join people
    # who disagree (robert/ana born 1970/1972, eva/ana): both merges are refused
    expected = spark.createDataFrame(
        [("a:1", "a:1"), ("b:1", "a:1"), ("a:2", "a:2"), ("c:2", "a:2"), ("b:2", "b:2")],
        CLUSTERS)
    assertDataFrameEqual(clusters, expected)


def test_giant_component_is_split_by_stricter_edges(spark):
    # a star of 6 records through one 0.96 hub link each, plus a strict pair inside
    cfg = ClusteringConfig(max_component_size=3, split_thresholds=[0.99])
    recs = _records(spark, [(f"k:{i}", None, None, None) for i in range(6)])
    links = _links(spark, [("k:0", f"k:{i}", "probabilistic", 5.0, 0.96) for i in range(1, 6)]
                   + [("k:1", "k:2", "probabilistic", 10.0, 0.995)])
    clusters, stats = cluster_records(recs, links, cfg)
    expected = spark.createDataFrame(
        [("k:0", "k:0"), ("k:1", "k:1"), ("k:2", "k:1"), ("k:3", "k:3"), ("k:4", "k:4"),
         ("k:5", "k:5")], CLUSTERS)
    assertDataFrameEqual(clusters, expected)
    assert stats["records_fallback"] == 0


def test_size_histogram(spark):
    clusters = spark.createDataFrame(
        [("a", "a"), ("b", "a"), ("c", "c"), ("d", "d"), ("e", "d"), ("f", "d")], CLUSTERS)
    assert size_histogram(clusters) == [
        {"size": "1", "clusters": 1, "records": 1},
        {"size": "2", "clusters": 1, "records": 2},
        {"size": "3", "clusters": 1, "records": 3},
        {"size": "max", "clusters": 1, "records": 3},
    ]


def test_threshold_levels_must_rise():
    with pytest.raises(ValueError, match="split_thresholds"):
        ClusteringConfig(match_threshold=0.99, split_thresholds=[0.95])


def _pair_verdicts(spark, cfg, rows):
    """incompatible() on each (left, right) pair of (first name, full name, birth date[,
    last name])."""
    from pyspark.sql import functions as F

    from vista.identity.person.compatibility import compatibility_frame, incompatible

    def padded(rec):
        return (*rec, None) if len(rec) == 3 else rec

    recs = []
    for i, (left, right) in enumerate(rows):
        recs += [(f"{i:02d}:l", *padded(left)), (f"{i:02d}:r", *padded(right))]
    people = compatibility_frame(spark.createDataFrame(
        recs, "record_key string, first_name_std string, full_name_std string, "
              "birth_date date, last_name_std string"), cfg)
    people = people.withColumn("pair", F.substring("record_key", 1, 2))
    left = people.where(F.col("record_key").endswith(":l"))
    right = people.where(F.col("record_key").endswith(":r"))
    pairs = left.select([F.col(c).alias(f"l_{c}") for c in left.columns]).join(
        right.select([F.col(c).alias(f"r_{c}") for c in right.columns]),
        F.col("l_pair") == F.col("r_pair"))
    got = pairs.select("l_pair", incompatible(cfg).alias("x")).orderBy("l_pair").collect()
    return [r["x"] for r in got]


def test_incompatibility_rules(spark):
    cfg = ClusteringConfig.model_validate(
        {"compatibility": {"first_name": {"nicknames": {"bobby": "robert"},
                                          "nickname_sets": []}}}).compatibility
    cases = [  # ((first, full, birth date) left, right) -> incompatible?
        (("jon", None, D(1980, 1, 2)), ("john", None, D(1980, 1, 3)), False),  # 1 edit, 1 part
        (("john", None, None), ("jhon", None, None), False),  # a swapped pair of letters
        (("j", None, D(1980, 1, 2)), ("john", None, D(1980, 2, 1)), False),  # initial; d/m swap
        (("bobby", None, None), ("robert", None, None), False),  # inline nickname
        (("ana", None, None), ("eva", None, None), True),  # two edits in three letters
        (("maria", None, D(1960, 3, 1)), ("maria", None, D(1991, 7, 9)), True),  # 3 parts
        (("maria", None, D(1960, 3, 1)), ("maria", None, D(1961, 4, 1)), True),  # 2 parts
        ((None, None, None), ("eva", None, D(1991, 7, 9)), False),  # missing never disagrees
        (("pepe", None, None), ("jose", None, None), True),  # no shipped lists here
        (("rosa", "rosa diaz", None), ("diaz", "diaz rosa", None), False),  # names swapped
        (("rosa", "rosa diaz", None), ("diaz", "diaz ruiz", None), True),  # not a swap
        (("lena", "lena davis", None), ("dvais", "dvais lena", None), False),  # swap + typo
        ((None, "ines diaz", None), ("eva", "eva diaz", None), True),  # full name only
        ((None, "diaz ines", None), ("ines", None, None), False),  # full name, any order
    ]
    assert _pair_verdicts(spark, cfg, [c[:2] for c in cases]) == [c[2] for c in cases]


def test_a_record_without_a_first_name_is_not_given_one_of_its_surnames(spark):
    cfg = ClusteringConfig.model_validate(
        {"compatibility": {"first_name": {"nickname_sets": []}}}).compatibility
    cases = [
        # a CRM row with a last name and no first name: nothing to compare
        ((None, None, None, "uribe ramirez"), ("carla", "carla uribe", None), False),
        # a card with surnames only (first word taken as first name): it is a word of the
        # other full name, so the first name may simply be missing
        ((None, "castellanos cuadrado", None), ("ariel", "ariel castellanos cuadrado", None),
         False),
        ((None, "garcia lopez", None), ("ana", "ana diaz", None), True),
        # a one-word full name may be a surname or a first name: no first name at all
        ((None, "davis", None), (None, "andrea", None), False),
        ((None, "davis", None), ("andrea", "andrea davis", None), False),
        ((None, "andrea", None), ("sofia", "sofia davis", None), False),
        ((None, "andrea davis", None), (None, "sofia davis", None), True),
    ]
    assert _pair_verdicts(spark, cfg, [c[:2] for c in cases]) == [c[2] for c in cases]


def test_compound_first_names_that_start_alike_are_not_a_swap(spark):
    cfg = ClusteringConfig.model_validate(
        {"compatibility": {"first_name": {"nickname_sets": []}}}).compatibility
    cases = [
        (("maria teresa", "maria teresa briones", None),
         ("maria del carmen", "maria del carmen briones", None), True),
        (("maria", "maria briones", None), ("maria teresa", "maria teresa briones", None), False),
        (("maria teresa", "maria teresa briones", None),
         ("briones", "briones maria teresa", None), False),  # a real swap still agrees
    ]
    assert _pair_verdicts(spark, cfg, [c[:2] for c in cases]) == [c[2] for c in cases]


def test_namesakes_with_different_second_surnames_are_incompatible(spark):
    cfg = ClusteringConfig.model_validate(
        {"compatibility": {"first_name": {"nickname_sets": []}}}).compatibility
    cases = [
        (("cesar", "cesar salas briseno", None), ("cesar", "cesar salas chapa", None), True),
        ((None, "cesar salas briseno", None), ("cesar", "cesar salas chapa", None), True),
        # a missing second surname, a typo, a word split in two, a longer form: one person
        (("cesar", "cesar salas briseno", None), ("cesar", "cesar salas", None), False),
        (("luis", "luis briseno espinal", None), ("luis", "luis briseno espnial", None), False),
        (("severo", "severo prado tormo", None), ("severo", "severo pradot ormo", None), False),
        (("angel", "angel de l rosa", None), ("angel", "angel de la rosa peralta", None), False),
        (("jose antonio", "jose antonio barco", None),
         ("jose antonio", "jose antonio brco rivero", None), False),
        # one shared word is not enough: "john smith" / "john jones" is for the model
        (("john", "john smith", None), ("john", "john jones", None), False),
    ]
    assert _pair_verdicts(spark, cfg, [c[:2] for c in cases]) == [c[2] for c in cases]
    off = cfg.model_copy(update={"full_name": cfg.full_name.model_copy(update={"enabled": False})})
    assert _pair_verdicts(spark, off, [cases[0][:2]]) == [False]


def test_shipped_nickname_lists_make_forms_of_one_name_compatible(spark):
    cfg = ClusteringConfig().compatibility  # default lists: en + es
    cases = [
        (("pepe", None, None), ("jose", None, None), False),
        (("pepe", None, None), ("pepito", None, None), False),  # two nicknames of one name
        (("quique", None, None), ("enrique", None, None), False),
        (("bob", None, None), ("robert", None, None), False),
        (("pepe", None, None), ("paco", None, None), True),  # nicknames of two names
        (("lola", None, None), ("carmen", None, None), True),
        (("francsico", None, None), ("curro", None, None), False),  # a typo of a listed name
    ]
    assert _pair_verdicts(spark, cfg, [c[:2] for c in cases]) == [c[2] for c in cases]


def test_a_typo_stands_for_the_one_listed_name_it_is_near(spark):
    from vista.identity.person.names import with_name_keys

    rule = FirstNameRule(nickname_sets=[], nicknames={"anita": "ana", "anika": "annika"})
    names = spark.createDataFrame([("anitta",), ("anima",), ("anta",), ("anita",), (None,)],
                                  "first_name_std string")

    got = with_name_keys(names, rule)

    expected = spark.createDataFrame([
        ("anitta", ["ana", "anita", "anitta"]),  # one edit from "anita" only
        ("anima", ["anima"]),                    # one edit from "anita" and "anika": neither
        ("anta", ["anta"]),                      # too short to guess
        ("anita", ["ana", "anita"]),
        (None, None),
    ], "first_name_std string, first_name_keys array<string>")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    off = with_name_keys(names, rule.model_copy(update={"typo_edits": 0}))
    assert off.where("first_name_std = 'anitta'").first().first_name_keys == ["anitta"]


def test_a_missing_nickname_file_is_a_config_problem(spark, tmp_path):
    from vista.errors import ConfigError
    from vista.identity.person.names import nickname_pairs

    rule = ClusteringConfig.model_validate({"compatibility": {"first_name": {
        "nickname_files": [str(tmp_path / "absent.csv")]}}}).compatibility.first_name
    with pytest.raises(ConfigError, match=r"nickname_files\[0\].*not found"):
        nickname_pairs(rule)
    (tmp_path / "nick.csv").write_text("name,nickname\nWilhelm,Willi\n", encoding="utf-8")
    rule = rule.model_copy(update={"nickname_files": [str(tmp_path / "nick.csv")],
                                   "nickname_sets": []})
    assert nickname_pairs(rule) == [("Wilhelm", "Willi")]



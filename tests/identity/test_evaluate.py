"""Clustering evaluation on hand-made clusterings with hand-computed figures."""

from __future__ import annotations

import pytest

from vista.identity.evaluate import (
    EvaluationInputError,
    evaluate,
    evaluate_links,
    evaluate_subset,
    load_truth,
)
from vista.schemas import LINKS


def _clusters(spark, mapping: dict[str, str], col: str):
    return spark.createDataFrame(sorted(mapping.items()), f"record_key string, {col} string")


def test_pairwise_and_bcubed_hand_computed(spark):
    # truth {a,b,c},{d}; predicted {a,b},{c,d}
    truth = _clusters(spark, {"a": "T1", "b": "T1", "c": "T1", "d": "T2"}, "person_id")
    pred = _clusters(spark, {"a": "U1", "b": "U1", "c": "U2", "d": "U2"}, "uid")

    got = evaluate(pred, truth)

    # TP = C(2,2) = 1; predicted pairs = 1 + 1 = 2; true pairs = C(3,2) = 3
    assert got["tp_pairs"] == 1 and got["predicted_pairs"] == 2 and got["true_pairs"] == 3
    assert got["precision"] == pytest.approx(1 / 2)
    assert got["recall"] == pytest.approx(1 / 3)
    assert got["f1"] == pytest.approx(2 / 5)
    # B3 precision = (2*2/2 + 1/2 + 1/2) / 4; recall = (2*2/3 + 1/3 + 1/1) / 4
    assert got["bcubed_precision"] == pytest.approx(3 / 4)
    assert got["bcubed_recall"] == pytest.approx(2 / 3)
    assert got["bcubed_f1"] == pytest.approx(12 / 17)
    assert (got["n_records"], got["n_predicted_clusters"], got["n_true_clusters"]) == (4, 2, 2)


def test_perfect_and_all_singletons(spark):
    truth = _clusters(spark, {"a": "T1", "b": "T1", "c": "T2", "e": "T3"}, "person_id")
    perfect = evaluate(_clusters(spark, {"a": "x", "b": "x", "c": "y", "z": "q"}, "uid"), truth)
    assert (perfect["precision"], perfect["recall"], perfect["f1"]) == (1.0, 1.0, 1.0)
    assert perfect["n_unmatched_predicted"] == 1 and perfect["n_unmatched_truth"] == 1
    singletons = evaluate(_clusters(spark, {k: k for k in "abce"}, "uid"), truth)
    assert singletons["predicted_pairs"] == 0 and singletons["precision"] == 1.0
    assert singletons["recall"] == 0.0 and singletons["f1"] == 0.0
    assert singletons["bcubed_recall"] == pytest.approx((1 / 2 + 1 / 2 + 1 + 1) / 4)


def test_hard_case_subset(spark):
    # twins t1 (records a, b) and t2 (c); household h1 (d), h2 (e)
    truth = _clusters(spark, {"a": "t1", "b": "t1", "c": "t2", "d": "h1", "e": "h2"},
                      "person_id")
    pred = _clusters(spark, {"a": "U", "b": "U", "c": "U", "d": "V", "e": "W"}, "uid")
    hard = spark.createDataFrame(
        [("a", "twin:1"), ("b", "twin:1"), ("c", "twin:1"), ("d", "hh:1"), ("e", "hh:1")],
        "record_key string, group string")

    got = evaluate_subset(pred, truth, hard)

    # twin group: 3 predicted pairs, 1 true -> precision 1/3; household kept apart.
    assert got == {"hard_precision": pytest.approx(1 / 3), "hard_false_pairs": 2.0,
                   "hard_groups": 2.0, "hard_groups_merged": 1.0,
                   "hard_separation_rate": 0.5}


def test_link_precision(spark):
    truth = _clusters(spark, {"a": "T1", "b": "T1", "c": "T2"}, "person_id")
    links = spark.createDataFrame([("a", "b", "probabilistic", 9.0, 0.99),
                                   ("b", "c", "probabilistic", 5.0, 0.95),
                                   ("a", "b", "deterministic:email", None, 1.0)], LINKS)
    assert evaluate_links(links, truth) == {"link_precision": 0.5, "n_links": 2.0,
                                            "n_true_links": 1.0}


def test_load_truth_from_source_ids_csv(spark, tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("source,source_record_id,person_id\ncrm,1,P1\nshop,9,P1\n")
    got = sorted(tuple(r) for r in load_truth(spark, str(path)).collect())
    assert got == [("crm:1", "P1"), ("shop:9", "P1")]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,person\n1,P\n")
    with pytest.raises(EvaluationInputError, match="source_record_id"):
        load_truth(spark, str(bad))

"""explain(): a UID's links and their evidence, without a model (no training here)."""

from __future__ import annotations

import pytest

from vista.identity.explain import ExplainError, explain
from vista.schemas import LINKS


def test_explain_without_model(spark):
    graph = spark.createDataFrame(
        [("crm:1", "U1"), ("shop:2", "U1"), ("shop:3", "U1"), ("crm:9", "U2")],
        "record_key string, uid string")
    links = spark.createDataFrame([
        ("crm:1", "shop:2", "deterministic:email", None, 1.0),
        ("shop:2", "shop:3", "probabilistic", 12.5, 0.9998),
        ("crm:1", "crm:9", "probabilistic", 3.0, 0.91),  # crosses UIDs: not shown
    ], LINKS)

    got = explain("shop:3", graph=graph, links=links)

    assert got.uid == "U1" and got.record_keys == ["crm:1", "shop:2", "shop:3"]
    rows = sorted((r.record_key_l, r.record_key_r, r.link_kind, r.comparison, r.match_weight)
                  for r in got.details.collect())
    assert rows == [("crm:1", "shop:2", "deterministic:email", "email", None),
                    ("shop:2", "shop:3", "probabilistic", "(total)", 12.5)]
    assert got.text.splitlines()[:3] == [
        "UID U1: 3 record(s) from 2 source(s) (crm, shop)",
        "records: crm:1, shop:2, shop:3",
        "links (2):",
    ]
    assert "crm:9" not in got.text


def test_explain_unknown_id(spark):
    graph = spark.createDataFrame([("crm:1", "U1")], "record_key string, uid string")
    links = spark.createDataFrame([], LINKS)
    with pytest.raises(ExplainError, match="neither a uid nor a record_key"):
        explain("nope", graph=graph, links=links)

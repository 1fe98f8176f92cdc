"""`vista quarantine replay` and per-source rebuilds: a fixed source's quarantined rows move
to bronze and silver exactly once, rows that still fail get their current reason, and
only the source whose settings changed has its silver rows rebuilt."""

from __future__ import annotations

import pytest
from ingest_helpers import ORDERS_SOURCE, assert_rows, make_config, make_ctx, write

from vista.cli import build_parser
from vista.errors import QualityGateFailed, SourceError
from vista.ingest import silver
from vista.ingest.stage import run

CRM = {
    "name": "crm",
    "format": "csv",
    "path": "crm/*.csv",
    "schema": {"id": "string", "nombre": "string", "pais": "string"},
    "key": ["id"],
    "rules": [{"reason": "no_country", "reject_if": "pais IS NULL"},
              {"reason": "test_record", "reject_if": "nombre = 'TEST'"}],
    "outputs": [{"entity": "person", "mapping": {"source_record_id": "id", "first_name": "nombre",
                                                 "country": "pais"}}],
}
# the fix: a missing country is allowed now; test records get another reason name; the
# keys get a namespace of their own (every record key of the source changes)
CRM_FIXED = {**CRM, "namespace": "people",
             "rules": [{"reason": "test_account", "reject_if": "nombre = 'TEST'"}]}
CONTACTS = "id,nombre,pais\nc1,Ana,ES\nc2,Luis,\nc3,TEST,ES\n"
ORDERS = "order_id,customer,ordered_at,total,cur\no1,c1,2024-01-05,10.50,EUR\no2,c2,2024-01-06,-1,EUR\n"


def _replay(spark, lake_root, cfg, *names):
    ctx = make_ctx(spark, lake_root, cfg, replay_sources=list(names))
    return run(ctx), ctx.manifest.stages[0].metrics


def _fail(*args, **kwargs):
    raise QualityGateFailed("silver/person_records failed (test)")


def test_replay_moves_a_fixed_sources_rows_once_and_rebuilds_only_that_source(
        spark, inputs, tmp_lake, monkeypatch):
    write(inputs / "crm" / "contacts.csv", CONTACTS)
    write(inputs / "shop" / "orders.csv", ORDERS)
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, CRM, ORDERS_SOURCE))
    run(ctx)
    lake = ctx.lake
    orders_version = lake.version("silver/orders")
    shop_quarantine = lake.version("quarantine/shop")

    # the silver rebuild after the replay fails (as a failing quality gate would)
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, CRM_FIXED, ORDERS_SOURCE),
                   replay_sources=["crm"])
    with monkeypatch.context() as patch:
        patch.setattr(silver, "publish", _fail)
        with pytest.raises(QualityGateFailed):
            run(ctx)
    assert ctx.manifest.stages[0].metrics["per_source"] == {"crm": {"replay": {
        "moved_to_bronze": 1, "still_quarantined": 1, "reasons_updated": 1}}}

    # replayed again: nothing more moves, and the moved row still reaches silver
    counts, metrics = _replay(spark, tmp_lake, make_config(inputs, CRM_FIXED, ORDERS_SOURCE),
                              "crm")
    assert (counts["replayed"], counts["still_quarantined"], metrics["rebuilt_sources"]) == (
        0, 1, ["crm"])
    # the old keys left silver and its history; c2 came in; c3 still fails, for the new reason
    assert_rows(lake.read("silver/person_records").select("record_key", "country"),
                [("people:c1", "ES"), ("people:c2", None)])
    assert_rows(lake.read("silver/person_records_history").select("record_key", "is_current"),
                [("people:c1", True), ("people:c2", True)])
    assert_rows(lake.read("quarantine/crm").select("reason", "reasons"),
                [("test_account", ["test_account"])])
    # the other source was neither replayed nor rewritten
    assert (lake.version("silver/orders"), lake.version("quarantine/shop")) == (
        orders_version, shop_quarantine)

    # exactly once: a second replay moves nothing and rewrites nothing
    versions = {t: lake.version(t) for t in ("bronze/crm", "quarantine/crm",
                                             "silver/person_records")}
    counts, metrics = _replay(spark, tmp_lake, make_config(inputs, CRM_FIXED, ORDERS_SOURCE))
    assert (counts["replayed"], counts["still_quarantined"], metrics["rebuilt_sources"]) == (
        0, 2, [])  # crm's test record and shop's negative order
    assert {t: lake.version(t) for t in versions} == versions
    assert lake.read("bronze/crm").count() + lake.read("quarantine/crm").count() == 3
    with pytest.raises(SourceError, match=r"no enabled source named \['crn'\].*'crm'"):
        _replay(spark, tmp_lake, make_config(inputs, CRM_FIXED, ORDERS_SOURCE), "crn")

    # a plain run after a change to the shop's mapping rebuilds the shop's rows alone
    shop = {**ORDERS_SOURCE, "outputs": [{**ORDERS_SOURCE["outputs"][0], "mapping": {
        **ORDERS_SOURCE["outputs"][0]["mapping"], "channel": "'store'"}}]}
    person_version = lake.version("silver/person_records")
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, CRM_FIXED, shop))
    run(ctx)
    metrics = ctx.manifest.stages[0].metrics
    assert (metrics["config_changed"], metrics["rebuilt_sources"]) == (["shop"], ["shop"])
    assert lake.version("silver/person_records") == person_version
    assert_rows(lake.read("silver/orders").select("order_key", "channel"), [("shop:o1", "store")])


def test_the_replay_command_parses_its_sources():
    args = build_parser().parse_args(["quarantine", "replay", "--source", "crm", "--source",
                                      "shop", "--conf", "my.yaml"])
    assert (args.source, args.conf, args.func.__name__) == (["crm", "shop"], "my.yaml",
                                                            "cmd_replay")

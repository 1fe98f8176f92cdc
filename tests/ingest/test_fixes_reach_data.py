"""Nothing lost when the data or the configuration is wrong: a bad optional field keeps
its record, a fixed mapping replays the quarantine exactly once and rebuilds silver on
the next plain run, and a source path may be a single file."""

from __future__ import annotations

import datetime as dt

import pytest
from ingest_helpers import ORDERS_SOURCE, assert_rows, make_config, make_ctx, write

from vista.errors import SourceError
from vista.ingest.stage import run

CRM = {
    "name": "crm",
    "format": "csv",
    "path": "exports/crm.csv",  # one file, not a folder or a glob
    "schema": {"id": "string", "nombre": "string", "nacido": "string", "alta": "string"},
    "key": ["id"],
    "outputs": [{"entity": "person", "mapping": {
        "source_record_id": "id", "first_name": "nombre",
        "birth_date": {"field": "nacido", "formats": ["dd/MM/yyyy"]},
        "observed_at": {"field": "alta", "formats": ["yyyy-MM-dd HH:mm"],
                        "on_error": "quarantine"}}}],
}
FIXED = {**CRM, "outputs": [{"entity": "person", "mapping": {
    **CRM["outputs"][0]["mapping"],
    "birth_date": {"field": "nacido", "formats": ["dd/MM/yyyy", "yyyy-MM-dd"]},
    "observed_at": {"field": "alta", "formats": ["yyyy-MM-dd HH:mm", "dd.MM.yyyy HH:mm"],
                    "on_error": "quarantine"}}}]}
CONTACTS = """id,nombre,nacido,alta
c1,Ana,01/02/1980,2024-01-01 10:00
c2,Luis,1975-03-04,2024-01-01 10:00
c3,Eva,05/06/1990,02.01.2024 10:00
"""
D = dt.date


def _state(lake):
    """(silver person rows, bronze problems, quarantine reasons), comparable as rows."""
    return (lake.read("silver/person_records").select("record_key", "birth_date", "observed_at"),
            lake.read("bronze/crm").select("id", "_problems"),
            lake.read("quarantine/crm").select("reason", "details"))


def test_bad_fields_keep_records_and_a_fixed_mapping_reaches_delivered_rows(
        spark, inputs, tmp_lake):
    write(inputs / "exports" / "crm.csv", CONTACTS)
    write(inputs / "exports" / "other.csv", "id,nombre,nacido,alta\nx9,Not,Mine,\n")
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, CRM))
    counts = run(ctx)

    # c2's birth date fits no format: the record stays, the field is null, the row says why
    assert (counts["rows_in"], counts["bronze"], counts["quarantined"],
            counts["field_problems"]) == (3, 2, 1, 1)
    crm = ctx.manifest.stages[0].metrics["per_source"]["crm"]
    assert (crm["field_problems"], crm["quarantine_reasons"]) == (
        {"person.birth_date": {"bad_date": 1}}, {"bad_date": 1})
    silver, bronze, quarantine = _state(ctx.lake)
    assert_rows(silver, [("crm:c1", D(1980, 2, 1), dt.datetime(2024, 1, 1, 10)),
                         ("crm:c2", None, dt.datetime(2024, 1, 1, 10))])
    assert_rows(bronze, [("c1", []), ("c2", [("person.birth_date", "bad_date")])])
    assert_rows(quarantine, [("bad_date", ["bad_date:person.observed_at"])])

    # the mapping is fixed: the next *plain* run replays the quarantine and rebuilds silver
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, FIXED))
    counts = run(ctx)
    assert (counts["files"], counts["replayed"]) == (0, 1)
    metrics = ctx.manifest.stages[0].metrics
    assert metrics["config_changed"] == ["crm"]
    assert metrics["per_source"]["crm"]["replay"] == {"moved_to_bronze": 1, "still_quarantined": 0,
                                                      "reasons_updated": 0}
    silver, bronze, quarantine = _state(ctx.lake)
    assert_rows(silver, [("crm:c1", D(1980, 2, 1), dt.datetime(2024, 1, 1, 10)),
                         ("crm:c2", D(1975, 3, 4), dt.datetime(2024, 1, 1, 10)),
                         ("crm:c3", D(1990, 6, 5), dt.datetime(2024, 1, 2, 10))])
    assert quarantine.count() == 0 and bronze.count() == 3  # rows in == bronze + quarantine

    # exactly once: a --full run replays nothing more and rebuilds the same silver
    counts = run(make_ctx(spark, tmp_lake, make_config(inputs, FIXED), full=True))
    assert counts["replayed"] == 0
    assert ctx.lake.read("bronze/crm").count() == 3

    # with on_config_change: stop, a changed mapping stops the run before it reads anything
    with pytest.raises(SourceError, match=r"crm.*--full"):
        run(make_ctx(spark, tmp_lake, make_config(inputs, CRM, on_config_change="stop")))


ORDERS = {**ORDERS_SOURCE, "rules": []}
# the first export lacks `customer`; the second carries an extra `note` in the middle
ORDERS_1 = "order_id,ordered_at,total,cur\no1,2024-01-05 10:00:00,10.50,EUR\n"
ORDERS_2 = ("order_id,customer,note,ordered_at,total,cur\n"
            "o2,c2,\"gift, wrapped\",2024-01-06 11:00:00,5.00,EUR\n")


def test_a_file_without_a_declared_column_is_quarantined_until_the_config_is_fixed(
        spark, inputs, tmp_lake):
    write(inputs / "shop" / "orders_1.csv", ORDERS_1)
    write(inputs / "shop" / "orders_2.csv", ORDERS_2)
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, ORDERS))
    run(ctx)

    drift = {d["file"].rsplit("/", 1)[-1]: (d["missing"], d["extra"])
             for d in ctx.manifest.stages[0].metrics["per_source"]["shop"]["schema_drift"]}
    assert drift == {"orders_1.csv": (["customer"], []), "orders_2.csv": ([], ["note"])}
    quarantined = ctx.lake.read("quarantine/shop")
    assert_rows(quarantined.select("reason", quarantined["details"][0].alias("detail"), "raw"),
                [("schema_mismatch", "schema_mismatch:missing customer",
                  "o1,2024-01-05 10:00:00,10.50,EUR")])
    orders = ctx.lake.read("silver/orders")
    assert_rows(orders.select("order_key", orders["ids"]["account_id"].alias("account"), "amount"),
                [("shop:o2", "c2", 5.0)])  # read by name, `note` left out

    # the config no longer declares `customer`: the quarantined rows come back
    fixed = {**ORDERS, "schema": {k: v for k, v in ORDERS["schema"].items() if k != "customer"},
             "ids": {}}
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, fixed))
    assert run(ctx)["replayed"] == 1
    assert ctx.lake.read("quarantine/shop").count() == 0
    assert_rows(ctx.lake.read("silver/orders").select("order_key", "amount"),
                [("shop:o1", 10.5), ("shop:o2", 5.0)])

"""Bronze is incremental and exactly-once; rows in == bronze + quarantine."""

from __future__ import annotations

from ingest_helpers import ORDERS_SOURCE, assert_rows, make_config, make_ctx, write
from pyspark.sql import functions as F

from vista.ingest.stage import run

EXPORT_1 = """order_id,customer,ordered_at,total,cur
o1,c1,2024-01-05 10:00:00,10.50,EUR
o2,c2,2024-13-45,5.00,EUR
o3,c3,2024-01-06,-3.00,EUR
o4,c4,2024-01-07,abc,EUR
o5,c5,2024-01-08,7.00,XXX
o6,c6,2024-01-09,20.00,USD
"""
EXPORT_2 = """order_id,customer,ordered_at,total,cur
o7,c1,2024-02-01,4.00,EUR
o8,c2,2024-02-02,-1,EUR
"""


def test_second_run_adds_nothing_and_a_new_file_adds_its_rows(spark, inputs, tmp_lake):
    write(inputs / "shop" / "orders_2024_01.csv", EXPORT_1)
    cfg = make_config(inputs, ORDERS_SOURCE)
    ctx = make_ctx(spark, tmp_lake, cfg)

    first = run(ctx)
    assert (first["files"], first["rows_in"], first["bronze"], first["quarantined"]) == (1, 6, 3, 3)
    metrics = ctx.manifest.stages[-1].metrics["per_source"]["shop"]
    assert metrics["quarantine_reasons"] == {"bad_date": 1, "negative_amount": 1,
                                             "unknown_currency": 1}
    assert metrics["field_problems"] == {"order.amount": {"bad_number": 1}}  # o4 is kept
    assert_rows(ctx.lake.read("silver/orders").select("order_key", "amount", "amount_reporting",
                                                      "currency", "channel"),
                [("shop:o1", 10.5, 10.5, "EUR", "online"), ("shop:o4", None, None, "EUR", "online"),
                 ("shop:o6", 20.0, 10.0, "USD", "online")])

    again = run(make_ctx(spark, tmp_lake, cfg))
    assert (again["files"], again["rows_in"], again["bronze"], again["quarantined"]) == (0, 0, 0, 0)
    assert ctx.lake.read("bronze/shop").count() == 3

    write(inputs / "shop" / "orders_2024_02.csv", EXPORT_2)
    third = run(make_ctx(spark, tmp_lake, cfg))
    assert (third["files"], third["rows_in"], third["bronze"], third["quarantined"]) == (1, 2, 1, 1)
    assert_rows(ctx.lake.read("bronze/shop").select("order_id", "_batch_id"),
                [("o1", 0), ("o4", 0), ("o6", 0), ("o7", 1)])
    assert_rows(ctx.lake.read("quarantine/shop").select(
                    F.get_json_object("raw", "$.order_id").alias("order_id"), "reason", "_batch_id"),
                [("o2", "bad_date", 0), ("o3", "negative_amount", 0),
                 ("o5", "unknown_currency", 0), ("o8", "negative_amount", 1)])
    assert ctx.lake.read("silver/orders").count() == 4

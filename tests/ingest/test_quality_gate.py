"""A failing critical expectation stops the stage before silver is published."""

from __future__ import annotations

import pytest
from ingest_helpers import ORDERS_SOURCE, make_config, make_ctx, write

from vista.errors import QualityGateFailed
from vista.ingest.stage import run

ORDERS = """order_id,customer,ordered_at,total,cur
o1,c1,2024-01-05 10:00:00,10.50,EUR
o2,c2,2024-01-06,3.00,EUR
"""


def test_failing_silver_expectation_leaves_silver_unpublished(spark, inputs, tmp_lake):
    write(inputs / "shop" / "orders.csv", ORDERS)
    source = {**ORDERS_SOURCE, "expectations": {"silver": [
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "amount", "min_value": 5}},
    ]}}
    ctx = make_ctx(spark, tmp_lake, make_config(inputs, source), quality=True)
    with pytest.raises(QualityGateFailed, match=r"(?s)silver/orders\[shop\].*amount"):
        run(ctx)
    assert ctx.lake.read("bronze/shop").count() == 2
    assert not ctx.lake.exists("silver/orders")
    assert [(q["table"], q["passed"]) for q in ctx.manifest.quality] == [("silver/orders", True)]
    assert (tmp_lake / "_quality" / "data_docs").exists()

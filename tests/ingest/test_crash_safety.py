"""A run that dies after the bronze commit, re-run, ends with the same tables."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from ingest_helpers import EVENTS_SOURCE, ORDERS_SOURCE, comparable, make_config, make_ctx, write

from vista.ingest.stage import run
from vista.lake import Lake

ORDERS = """order_id,customer,ordered_at,total,cur
o1,c1,2024-01-05 10:00:00,10.50,EUR
o2,c2,2024-01-06,-3.00,EUR
o3,c3,2024-01-07,8.00,USD
"""
EVENTS = (
    '{"event_id":"e1","device":"d1","at":"2024-02-01T10:00:00","kind":"page_view","page":"/a"}\n'
    '{"event_id":"e2","devi\n'
)


class CrashError(RuntimeError):
    pass


class CrashAfterBronze(Lake):
    """The real lake, but the first quarantine write dies (bronze is already committed)."""

    crashed = False

    def append(self, table, df, merge_schema=False, txn=None):
        if table.startswith("quarantine/") and not CrashAfterBronze.crashed:
            CrashAfterBronze.crashed = True
            raise CrashError("simulated crash between the bronze and the quarantine commit")
        return super().append(table, df, merge_schema=merge_schema, txn=txn)


TABLES = ["bronze/shop", "quarantine/shop", "bronze/web", "quarantine/web", "silver/orders",
          "silver/interactions"]


def _frame(lake, table):
    return comparable(lake.read(table))


def test_crash_then_rerun_equals_an_uninterrupted_run(spark, inputs, tmp_path):
    write(inputs / "shop" / "orders.csv", ORDERS)
    write(inputs / "web" / "events.jsonl", EVENTS)
    cfg = make_config(inputs, ORDERS_SOURCE, EVENTS_SOURCE)

    clean = make_ctx(spark, tmp_path / "clean", cfg)
    run(clean)

    crashing = tmp_path / "crashing"
    with pytest.raises(CrashError):
        run(make_ctx(spark, crashing, cfg, lake=CrashAfterBronze(spark, str(crashing))))
    assert Lake(spark, str(crashing)).read("bronze/shop").count() == 2  # committed before the crash
    resumed = make_ctx(spark, crashing, cfg)
    counts = run(resumed)
    assert counts["rows_in"] == 5  # the replayed shop batch (3) + the web batch (2)
    assert resumed.manifest.stages[-1].metrics["per_source"]["shop"]["replayed_batches"] == 1

    for table in TABLES:
        assert_df_equality(_frame(resumed.lake, table), _frame(clean.lake, table),
                           ignore_row_order=True, ignore_nullable=True)

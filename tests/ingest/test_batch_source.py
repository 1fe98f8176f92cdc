"""A Delta-table source is read incrementally by its watermark column."""

from __future__ import annotations

import datetime as dt

from ingest_helpers import assert_rows, make_config, make_ctx

from vista.ingest.stage import run

SOURCE = {
    "name": "erp_customers",
    "format": "delta",
    "path": "erp/customers",
    "schema": {"cust_no": "string", "mail": "string", "changed_at": "timestamp"},
    "key": ["cust_no"],
    "watermark_column": "changed_at",
    "ids": {"erp_id": "cust_no"},
    "outputs": [{"entity": "person",
                 "mapping": {"source_record_id": "cust_no", "email": "mail",
                             "observed_at": "changed_at"}}],
}
SCHEMA = "cust_no string, mail string, changed_at timestamp"


def test_delta_source_reads_only_rows_past_the_watermark(spark, inputs, tmp_lake):
    cfg = make_config(inputs, SOURCE)
    ctx = make_ctx(spark, tmp_lake, cfg)
    table = str(inputs / "erp" / "customers")
    ctx.lake.append(table, spark.createDataFrame(
        [("E1", "a@example.com", dt.datetime(2024, 1, 1)),
         (None, "b@example.com", dt.datetime(2024, 1, 2))], SCHEMA))
    first = run(ctx)
    assert (first["rows_in"], first["bronze"], first["quarantined"]) == (2, 1, 1)
    assert run(make_ctx(spark, tmp_lake, cfg))["rows_in"] == 0  # nothing new

    ctx.lake.append(table, spark.createDataFrame(
        [("E1", "a.new@example.com", dt.datetime(2024, 2, 1))], SCHEMA))
    third = run(make_ctx(spark, tmp_lake, cfg))
    assert (third["rows_in"], third["bronze"]) == (1, 1)
    assert_rows(ctx.lake.read("bronze/erp_customers").select("cust_no", "mail", "_batch_id"),
                [("E1", "a@example.com", 0), ("E1", "a.new@example.com", 1)])
    assert_rows(ctx.lake.read("silver/person_records").select("record_key", "email_std"),
                [("erp_customers:E1", "a.new@example.com")])

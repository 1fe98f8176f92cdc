"""Standard CSV (RFC 4180) is read as written: doubled quotes, separators and line breaks
inside quoted fields; a row with a field too many goes to quarantine whole."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from ingest_helpers import assert_rows, comparable, make_config, make_ctx, write

from vista.ingest.bronze import reader_options
from vista.ingest.stage import run

TICKETS = {
    "name": "desk",
    "format": "csv",
    "path": "desk/*.csv",
    "schema": {"ticket": "string", "opened": "string", "topic": "string", "note": "string"},
    "key": ["ticket"],
    "outputs": [{"entity": "interaction",
                 "mapping": {"event_id": "ticket",
                             "ts": {"field": "opened", "formats": ["yyyy-MM-dd HH:mm"]},
                             "channel": "'support'", "type": "'ticket'", "category": "topic",
                             "content": "note"}}],
}
# t3 has one field too many: with Spark's default escape (a backslash) t1 was mis-read
TICKETS_CSV = (
    'ticket,opened,topic,note\n'
    't1,2024-03-01 09:00,"returns, refunds","tom ""tom"" pettit called"\n'
    't2,2024-03-01 10:30,delivery,"first line\n'
    'second line, with a comma"\n'
    't3,2024-03-02 11:00,delivery,late,EXTRA\n'
    't4,2024-03-02 12:00,"",back\\slash\n'
)


def test_standard_csv_reaches_silver_whole_and_a_long_row_is_quarantined(
        spark, inputs, tmp_lake):
    write(inputs / "desk" / "tickets_1.csv", TICKETS_CSV)
    cfg = make_config(inputs, TICKETS)
    ctx = make_ctx(spark, tmp_lake, cfg)

    counts = run(ctx)

    assert (counts["rows_in"], counts["bronze"], counts["quarantined"]) == (4, 3, 1)
    at = dt.datetime
    silver = ctx.lake.read("silver/interactions")
    expected = spark.createDataFrame([
        ("desk:t1", "desk", {}, at(2024, 3, 1, 9), "support", "ticket", "returns, refunds",
         'tom "tom" pettit called', None, {}, "desk:0"),
        ("desk:t2", "desk", {}, at(2024, 3, 1, 10, 30), "support", "ticket", "delivery",
         "first line\nsecond line, with a comma", None, {}, "desk:0"),
        ("desk:t4", "desk", {}, at(2024, 3, 2, 12), "support", "ticket", None, "back\\slash",
         None, {}, "desk:0"),
    ], silver.schema)
    assert_df_equality(comparable(silver), comparable(expected), ignore_row_order=True,
                       ignore_nullable=True)
    assert_rows(ctx.lake.read("quarantine/desk").select("reason", "raw"),
                [("corrupt_record", "t3,2024-03-02 11:00,delivery,late,EXTRA")])


def test_a_source_overrides_the_csv_defaults_ignoring_case(tmp_path):
    cfg = make_config(tmp_path, {**TICKETS, "options": {"multiline": False, "ESCAPE": "\\"}})
    opts = reader_options(cfg.sources[0], cfg)
    assert {k: v for k, v in opts.items() if k.lower() in ("multiline", "escape", "quote")} == {
        "quote": '"', "multiline": "false", "ESCAPE": "\\"}

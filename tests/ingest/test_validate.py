"""Row checks: the right reason per bad row, and rows in == good + bad."""

from __future__ import annotations

from ingest_helpers import EVENTS_SOURCE, ORDERS_SOURCE, assert_rows, make_config, read_batch, write
from pyspark.sql import functions as F

from vista.ingest.validate import split_rows

ORDERS_CSV = """order_id,customer,ordered_at,total,cur
o1,c1,2024-01-05 10:00:00,10.50,EUR
o2,c2,2024-13-45,5.00,EUR
o3,c3,2024-01-06,-3.00,EUR
o4,c4,2024-01-07,12;5x,EUR
o5,c5,2024-01-08,7.00,XXX
,c6,2024-01-09,1.00,EUR
o7,c7,2024-01-10,2.00,usd
"""


def test_csv_bad_rows_get_their_reason(spark, inputs):
    write(inputs / "shop" / "orders_1.csv", ORDERS_CSV)
    cfg = make_config(inputs, ORDERS_SOURCE)
    rows = read_batch(spark, cfg.sources[0], cfg)
    good, bad = split_rows(rows, cfg.sources[0], cfg)
    # o4's amount is an optional field: the row is kept, the problem recorded on it
    assert_rows(good.select("order_id", "total", "cur", "_problems"),
                [("o1", "10.50", "EUR", []), ("o4", "12;5x", "EUR", [("order.amount", "bad_number")]),
                 ("o7", "2.00", "usd", [])])
    expected = [
        ("bad_date", ["bad_date:order.ts"], '"order_id":"o2"'),  # an order needs its ts
        ("negative_amount", ["negative_amount"], '"order_id":"o3"'),
        ("unknown_currency", ["unknown_currency"], '"order_id":"o5"'),
        ("missing_key", ["missing_key:order_id"], '"customer":"c6"'),
    ]
    got = bad.select("reason", "details",
                     F.regexp_extract("raw", r'("order_id":"o\d"|"customer":"c6")', 1))
    assert_rows(got, expected)
    assert rows.count() == good.count() + bad.count() == 7


def test_on_error_quarantine_sends_the_row_away_for_that_field(spark, inputs):
    write(inputs / "shop" / "orders_1.csv", ORDERS_CSV)
    amount = {"field": "total", "on_error": "quarantine"}
    source = {**ORDERS_SOURCE, "outputs": [{**ORDERS_SOURCE["outputs"][0], "mapping": {
        **ORDERS_SOURCE["outputs"][0]["mapping"], "amount": amount}}]}
    for src in (source, {**ORDERS_SOURCE, "on_error": "quarantine"}):
        cfg = make_config(inputs, src)
        good, bad = split_rows(read_batch(spark, cfg.sources[0], cfg), cfg.sources[0], cfg)
        assert_rows(bad.where("reason = 'bad_number'").select("details"),
                    [(["bad_number:order.amount"],)])
        assert good.where("size(_problems) > 0").count() == 0


def test_truncated_json_line_is_a_corrupt_record(spark, inputs):
    write(inputs / "web" / "e1.jsonl",
          '{"event_id":"e1","device":"d1","at":"2024-02-01T10:00:00","kind":"page_view","page":"/a"}\n'
          '{"event_id":"e2","device":"d1","at":"2024-02-01T10:0\n'
          '{"event_id":"e3","device":"d2","at":"2024-02-01T11:00:00","kind":"search"}\n')
    cfg = make_config(inputs, EVENTS_SOURCE)
    good, bad = split_rows(read_batch(spark, cfg.sources[0], cfg), cfg.sources[0], cfg)
    assert_rows(good.select("event_id", "kind"), [("e1", "page_view"), ("e3", "search")])
    assert_rows(
        bad.select("reason", "raw"),
        [("corrupt_record", '{"event_id":"e2","device":"d1","at":"2024-02-01T10:0')])

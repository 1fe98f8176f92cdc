"""End to end on a tiny generated sample lake: every planted bad row is quarantined with
a reason that fits its kind, and rows in == bronze + quarantine for every source."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest
from pyspark.sql import functions as F

# Ground-truth bad-row kind (and column, where the kind alone is ambiguous) -> reason code.
REASON = {
    "unparseable_date": "bad_date",
    "impossible_date": "impossible_date",
    "negative_amount": "negative_amount",
    "non_numeric_amount": "bad_number",
    "unknown_currency": "unknown_currency",
    "truncated_json": "corrupt_record",
    ("wrong_type", "ts"): "bad_date",  # a bare number where a timestamp string belongs
    ("wrong_type", "csat"): "bad_number",
    ("wrong_type", "nps"): "bad_number",
    ("wrong_type", "newsletter"): "corrupt_record",  # declared boolean in the raw schema
}
KEY_REASONS = {"missing_key", "missing_required"}
NOT_DETECTABLE: set[tuple[str, str]] = set()  # every planted bad row is detectable


def _expected(bad: pd.DataFrame) -> Counter:
    out: Counter = Counter()
    for row in bad.itertuples():
        if (row.source, row.kind) in NOT_DETECTABLE:
            continue
        reason = REASON.get((row.kind, row.column)) or REASON.get(row.kind)
        out[(row.source, reason or "missing_key_or_required")] += 1
    return out


@pytest.mark.e2e
def test_sample_lake_bad_rows_reconcile_with_quarantine(demo_run):
    """Reads the session's `vista demo` run (tests/conftest.py): 40 customers, 4% bad rows."""
    sample, lake = demo_run.sample, demo_run.lake
    stage = next(s for s in demo_run.manifest["stages"] if s["name"] == "ingest")
    counts = stage["metrics"]
    quality = demo_run.manifest["quality"]

    per_source = counts["per_source"]
    for name, m in per_source.items():
        assert m["rows_in"] == m["bronze"] + m["quarantined"], name
        bronze = lake.read(f"bronze/{name}").count()
        quarantined = lake.read(f"quarantine/{name}").count()
        assert (bronze, quarantined) == (m["bronze"], m["quarantined"]), name
    delivered = sum(len(pd.read_parquet(f)) if f.suffix == ".parquet" else
                    sum(1 for _ in f.open(encoding="utf-8")) - (f.suffix == ".csv")
                    for f in sample.glob("[!g]*/*.*"))
    assert counts["rows_in"] == delivered

    folder = F.regexp_extract("_file", r"/([^/]+)/[^/]+$", 1)
    reason = F.when(F.col("reason").isin(*KEY_REASONS), "missing_key_or_required").otherwise(
        F.col("reason"))
    got: Counter = Counter()
    for name in per_source:
        rows = (lake.read(f"quarantine/{name}").groupBy(folder.alias("f"), reason.alias("r"))
                .count().collect())  # a handful of (folder, reason) groups
        for r in rows:
            got[(r["f"], r["r"])] += r["count"]
    assert got == _expected(pd.read_parquet(sample / "ground_truth" / "bad_rows.parquet"))
    assert counts["silver_person"] > 0 and counts["silver_order"] > 0
    assert counts["silver_order_line"] > 0 and counts["silver_interaction"] > 0
    assert any(q["table"] == "silver/orders" and q["passed"] for q in quality)

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
# Bad values in optional fields keep their record (a field-level problem, not quarantine).
FIELD_LEVEL = {("unparseable_date", "fecha_nacimiento"), ("unparseable_date", "birth_date"),
               ("unparseable_date", "created_at"), ("wrong_type", "csat"), ("wrong_type", "nps")}


def _expected(bad: pd.DataFrame) -> tuple[Counter, Counter]:
    """(quarantined rows per folder and reason, field problems per source)."""
    out: Counter = Counter()
    problems: Counter = Counter()
    for row in bad.itertuples():
        if (row.source, row.kind) in NOT_DETECTABLE:
            continue
        if (row.kind, row.column) in FIELD_LEVEL:
            problems[row.source] += 1
            continue
        reason = REASON.get((row.kind, row.column)) or REASON.get(row.kind)
        out[(row.source, reason or "missing_key_or_required")] += 1
    return out, problems


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
    quarantined, problems = _expected(pd.read_parquet(sample / "ground_truth" / "bad_rows.parquet"))
    assert got == quarantined
    kept = Counter({name: sum(sum(r.values()) for r in m["field_problems"].values())
                    for name, m in per_source.items()})
    assert +kept == problems  # unary plus drops the sources without problems
    assert counts["silver_person"] > 0 and counts["silver_order"] > 0
    assert counts["silver_order_line"] > 0 and counts["silver_interaction"] > 0
    assert any(q["table"] == "silver/orders" and q["passed"] for q in quality)

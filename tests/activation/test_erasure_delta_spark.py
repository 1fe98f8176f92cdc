"""Erasure and --purge-history on tables written by delta-spark (the suite's second session).

delta-spark writes per-file min/max statistics of string columns into the Delta log, so
after the person's rows are deleted, old commits still name their address until the
purge vacuums the old files and cuts the log.
"""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from vista.activation.erasure import erase_table
from vista.activation.person import Person
from vista.activation.purge import purge
from vista.ingest.config import IngestConfig
from vista.lake import Lake

pytestmark = pytest.mark.delta_spark

SCHEMA = "uid string, email string, value_tier string"


def _holding(root, needle: str) -> list[str]:
    """Files under ``root`` holding ``needle``: the log as text, Parquet decoded."""
    import pyarrow.parquet as pq

    found = []
    for path in (p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            text = str(pq.read_table(path).to_pylist())
        else:
            text = path.read_bytes().decode("utf-8", errors="ignore")
        if needle in text:
            found.append(str(path.relative_to(root)))
    return found


def test_erase_then_purge_leaves_no_file_or_log_entry_holding_the_person(spark, tmp_path):
    lake = Lake(spark, str(tmp_path / "lake"), engine="delta-spark")
    table = "silver/golden_customer"
    lake.overwrite(table, spark.createDataFrame(
        [("u1", "ana.b@x.com", "gold"), ("u2", "bo@x.com", "silver")], SCHEMA))
    lake.append(table, spark.createDataFrame([("u3", "cy@x.com", "gold")], SCHEMA))
    root = tmp_path / "lake" / "silver" / "golden_customer"
    assert any(p.startswith("_delta_log") for p in _holding(root, "ana.b@x.com"))

    person = Person(uids=("u1",))
    assert erase_table(lake, table, person, IngestConfig(), max_keys=10) == 1
    assert_df_equality(lake.read(table), spark.createDataFrame(
        [("u2", "bo@x.com", "silver"), ("u3", "cy@x.com", "gold")], SCHEMA),
        ignore_row_order=True, ignore_nullable=True)
    assert _holding(root, "ana.b@x.com")  # old versions still hold them: time travel

    report = purge(lake, checkpoint_dir=None, artifact_location=None,
                   needles=("ana.b@x.com",))
    assert report.tables == 1 and report.log_files > 0
    assert _holding(root, "ana.b@x.com") == []
    assert_df_equality(lake.read(table), spark.createDataFrame(
        [("u2", "bo@x.com", "silver"), ("u3", "cy@x.com", "gold")], SCHEMA),
        ignore_row_order=True, ignore_nullable=True)
    # The table still takes writes after its log was cut.
    lake.append(table, spark.createDataFrame([("u4", "di@x.com", "bronze")], SCHEMA))
    assert lake.read(table).count() == 3

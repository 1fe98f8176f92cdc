"""UID registry: stability, merge, split, retirement, determinism, opacity."""

from __future__ import annotations

import hashlib
import hmac

from chispa import assert_df_equality
from pyspark.sql import functions as F

from vista.identity.registry import (
    ASSIGNMENTS,
    UID_REGISTRY,
    assign_uids,
    hmac_sha256_hex,
    upsert_registry,
)

SALT = "test-salt"
CL = "record_key string, cluster_id string"
LIN = "old_uid string, new_uid string, reason string"


def assert_frames_equal(got, expected):
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def _py_uid(cluster_id: str, run_seq: int) -> str:
    digest = hmac.new(SALT.encode(), f"{cluster_id}|{run_seq}".encode(), hashlib.sha256)
    return "u" + digest.hexdigest()[:32]


def _registry(spark, rows):
    return spark.createDataFrame(
        [(u, "active", f"r{s}", s, None, None, f"r{s}") for u, s in rows], UID_REGISTRY)


def test_hmac_matches_the_standard_library(spark):
    df = spark.createDataFrame([("crm:1",), ("shop:ä-2",)], "m string")
    long_salt = "k" * 100  # longer than the block size: hashed first
    got = [r[0] for r in df.select(hmac_sha256_hex(F.col("m"), long_salt)).collect()]
    want = [hmac.new(long_salt.encode(), m.encode(), hashlib.sha256).hexdigest()
            for m in ("crm:1", "shop:ä-2")]
    assert got == want


def test_first_run_is_deterministic_and_stable_on_rerun(spark):
    clusters = spark.createDataFrame(
        [("s:a", "s:a"), ("s:b", "s:a"), ("s:c", "s:c")], CL)
    first = assign_uids(clusters, None, None, run_id="r1", run_seq=1, salt=SALT)
    again = assign_uids(clusters, None, None, run_id="r1b", run_seq=1, salt=SALT)
    expected = spark.createDataFrame(
        [("s:a", _py_uid("s:a", 1)), ("s:b", _py_uid("s:a", 1)), ("s:c", _py_uid("s:c", 1))],
        ASSIGNMENTS)
    assert_frames_equal(first.assignments, expected)
    assert_frames_equal(again.assignments, expected)  # a fresh registry, same input: same UIDs
    assert_frames_equal(first.lineage.select("old_uid", "new_uid", "reason"), spark.createDataFrame(
        [(None, _py_uid("s:a", 1), "new"), (None, _py_uid("s:c", 1), "new")], LIN))
    registry = upsert_registry(None, first.registry)
    assert_frames_equal(registry, spark.createDataFrame(
        [(_py_uid("s:a", 1), "active", "r1", 1, None, None, "r1"),
         (_py_uid("s:c", 1), "active", "r1", 1, None, None, "r1")], UID_REGISTRY))

    # second run, same clusters: the same UIDs, no lineage, no registry change
    second = assign_uids(clusters, first.assignments, registry, run_id="r2", run_seq=2,
                         salt=SALT)
    assert_frames_equal(second.assignments, expected)
    assert second.lineage.count() == 0
    assert second.registry.count() == 0


def test_merge_keeps_the_oldest_uid(spark):
    registry = _registry(spark, [("U-old", 1), ("U-young", 2)])
    previous = spark.createDataFrame(
        [("s:a", "U-young"), ("s:b", "U-young"), ("s:c", "U-old")], ASSIGNMENTS)
    clusters = spark.createDataFrame([("s:a", "s:a"), ("s:b", "s:a"), ("s:c", "s:a")], CL)
    got = assign_uids(clusters, previous, registry, run_id="r3", run_seq=3, salt=SALT)
    assert_frames_equal(got.assignments, spark.createDataFrame(
        [("s:a", "U-old"), ("s:b", "U-old"), ("s:c", "U-old")], ASSIGNMENTS))
    assert_frames_equal(got.lineage.select("old_uid", "new_uid", "reason"),
        spark.createDataFrame([("U-young", "U-old", "merge")], LIN))
    assert_frames_equal(upsert_registry(registry, got.registry), spark.createDataFrame(
        [("U-old", "active", "r1", 1, None, None, "r1"),
         ("U-young", "merged", "r2", 2, "U-old", None, "r3")], UID_REGISTRY))


def test_split_largest_part_keeps_uid_and_gone_uid_retires(spark):
    registry = _registry(spark, [("U1", 1), ("U2", 1), ("U3", 1)])
    previous = spark.createDataFrame(
        [("s:a", "U1"), ("s:b", "U1"), ("s:c", "U1"),  # splits 2 + 1
         ("t:x", "U2"), ("t:y", "U2"),  # splits 1 + 1: the smaller cluster id keeps it
         ("z:gone", "U3")],  # its only record was erased
        ASSIGNMENTS)
    clusters = spark.createDataFrame(
        [("s:a", "s:a"), ("s:b", "s:a"), ("s:c", "s:c"), ("t:x", "t:x"), ("t:y", "t:y")], CL)
    got = assign_uids(clusters, previous, registry, run_id="r4", run_seq=4, salt=SALT)
    c_uid, y_uid = _py_uid("s:c", 4), _py_uid("t:y", 4)
    assert_frames_equal(got.assignments, spark.createDataFrame(
        [("s:a", "U1"), ("s:b", "U1"), ("s:c", c_uid), ("t:x", "U2"), ("t:y", y_uid)],
        ASSIGNMENTS))
    assert_frames_equal(got.lineage.select("old_uid", "new_uid", "reason"), spark.createDataFrame(
        [("U1", c_uid, "split"), ("U2", y_uid, "split"), ("U3", None, "retired")], LIN))
    assert_frames_equal(got.registry, spark.createDataFrame(
        [(c_uid, "active", "r4", 4, None, "U1", "r4"),
         (y_uid, "active", "r4", 4, None, "U2", "r4"),
         ("U3", "retired", "r1", 1, None, None, "r4")], UID_REGISTRY))


def test_uid_does_not_contain_the_record_key(spark):
    clusters = spark.createDataFrame([("crm:12345", "crm:12345")], CL)
    uid = assign_uids(clusters, None, None, run_id="r", run_seq=1, salt=SALT).assignments.first()[1]
    assert "12345" not in uid and len(uid) == 33
    other = assign_uids(clusters, None, None, run_id="r", run_seq=1, salt="another")
    assert other.assignments.first()[1] != uid

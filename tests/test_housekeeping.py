"""Housekeeping: a finished run's checkpoints go, and the report's byte counts read well."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import types as T


def test_checkpoints_of_the_application_and_empty_leftovers_are_removed(spark, tmp_path: Path):
    from vista.housekeeping import clean_checkpoints

    sc = spark.sparkContext
    before = sc.getCheckpointDir()
    try:
        (tmp_path / "ck" / "left-empty-by-an-earlier-run").mkdir(parents=True)
        keep = tmp_path / "ck" / "another-application" / "rdd-1"
        keep.mkdir(parents=True)
        (keep / "part-00000").write_text("x")
        sc.setCheckpointDir(str(tmp_path / "ck"))
        df = spark.createDataFrame([(1,), (2,)], T.StructType([T.StructField("n", T.LongType())]))
        assert df.checkpoint(eager=True).count() == 2
        assert clean_checkpoints(spark) > 0
        left = sorted(str(p.relative_to(tmp_path / "ck")) for p in (tmp_path / "ck").rglob("*"))
        assert left == ["another-application", "another-application/rdd-1",
                        "another-application/rdd-1/part-00000"]
    finally:
        sc.setCheckpointDir(before.rstrip("/").rsplit("/", 1)[0] if before else str(tmp_path))


def test_the_folder_a_run_started_in_goes_too_when_a_stage_moved_the_session(spark, tmp_path):
    """Identity's lineage breaks set a checkpoint folder and then the base again: the
    session then checkpoints into a new folder, and the first still holds what went there."""
    from vista.housekeeping import clean_checkpoints

    sc = spark.sparkContext
    before = sc.getCheckpointDir()
    df = spark.createDataFrame([(1,), (2,)], T.StructType([T.StructField("n", T.LongType())]))
    try:
        sc.setCheckpointDir(str(tmp_path / "ck"))
        started_in = sc.getCheckpointDir()
        assert df.checkpoint(eager=True).count() == 2
        sc.setCheckpointDir(str(tmp_path / "ck"))  # what LineageBreaks.close does
        assert df.checkpoint(eager=True).count() == 2
        assert clean_checkpoints(spark, started_in) > 0
        assert sorted((tmp_path / "ck").rglob("*")) == []
    finally:
        sc.setCheckpointDir(before.rstrip("/").rsplit("/", 1)[0] if before else str(tmp_path))


def test_human_bytes():
    from vista.housekeeping import human_bytes

    assert [human_bytes(n) for n in (0, 1023, 1536, 5 * 1024**3)] == [
        "0 B", "1023 B", "1.5 KiB", "5.0 GiB"]


def test_the_report_says_when_compaction_left_more_on_disk_than_before() -> None:
    from vista.housekeeping import _outcome

    assert _outcome(3 * 1024 * 1024, 168) == "3.0 MiB freed"
    assert _outcome(-4_928_307, 168) == ("4.7 MiB more on disk until the replaced files are "
                                         "older than the vacuum retention (168 h)")

"""Lake locations spelled for each library, and small files through Hadoop's connector."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vista.lake import (
    LakeLocation,
    list_files,
    read_text,
    remove,
    resolve_location,
    usage,
    write_text,
)


@pytest.mark.parametrize(("given", "spark", "store", "local"), [
    ("s3a://bucket/lake/", "s3a://bucket/lake", "s3://bucket/lake", None),
    ("s3://bucket/lake", "s3://bucket/lake", "s3://bucket/lake", None),
    ("gs://b/l", "gs://b/l", "gs://b/l", None),
    ("abfss://c@acct.dfs.core.windows.net/l", "abfss://c@acct.dfs.core.windows.net/l",
     "abfss://c@acct.dfs.core.windows.net/l", None),
    ("file:///srv/lake", "/srv/lake", "/srv/lake", "/srv/lake"),
    ("/srv/lake/", "/srv/lake", "/srv/lake", "/srv/lake"),
])
def test_each_library_gets_its_spelling(given, spark, store, local):
    assert resolve_location(given) == LakeLocation(spark=spark, object_store=store, local=local)


def test_relative_paths_are_taken_from_the_working_directory_and_join_with_slashes():
    loc = resolve_location("lake").join("_manifests/", "/r1.json")
    assert loc.local == os.path.join(os.getcwd(), "lake", "_manifests", "r1.json")
    assert resolve_location("s3a://b/lake").join("_quality", "").object_store == \
        "s3://b/lake/_quality"
    with pytest.raises(ValueError, match="empty"):
        resolve_location(" ")


def test_small_files_round_trip_through_hadoops_connector(spark, tmp_path: Path):
    # local=None sends every call through Hadoop's FileSystem, as on an object store
    remote = LakeLocation(spark=f"file://{tmp_path}/lake/_manifests", object_store="", local=None)
    assert list_files(remote, ".json") == []
    assert usage(remote).files == 0
    write_text(remote.join("b.json"), json.dumps({"run_id": "b"}))
    write_text(remote.join("a.json"), json.dumps({"run_id": "a", "note": "ñ"}))
    write_text(remote.join("skip.txt"), "x")
    found = list_files(remote, ".json")
    assert [f.spark.rsplit("/", 1)[1] for f in found] == ["a.json", "b.json"]
    assert json.loads(read_text(found[0])) == {"run_id": "a", "note": "ñ"}
    assert (tmp_path / "lake" / "_manifests" / "a.json").is_file()
    assert usage(remote).files == 3
    remove(remote)
    assert not (tmp_path / "lake" / "_manifests").exists()


def test_manifests_are_listed_newest_first(tmp_path: Path):
    from vista.manifest import RunManifest, list_manifests

    for run_id in ("20260101T000000Z-aaaaaa", "20260102T000000Z-bbbbbb"):
        RunManifest(run_id=run_id).write(str(tmp_path / "m"))
    (tmp_path / "m" / "broken.json").write_text("{")
    assert [m["run_id"] for m in list_manifests(str(tmp_path / "m"))] == [
        "20260102T000000Z-bbbbbb", "20260101T000000Z-aaaaaa"]

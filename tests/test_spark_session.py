"""The session factory's handling of the checkpoint location (no Spark needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vista.spark import checkpoint_location


def test_a_local_checkpoint_folder_is_created_whatever_its_spelling(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    as_uri = checkpoint_location((tmp_path / "a" / "checkpoints").as_uri())
    relative = checkpoint_location("b/checkpoints")
    assert as_uri == str(tmp_path / "a" / "checkpoints") and Path(as_uri).is_dir()
    assert relative == str(tmp_path / "b" / "checkpoints") and Path(relative).is_dir()
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]  # no folder named "file:"


@pytest.mark.parametrize("uri", ["s3a://bucket/vista/_checkpoints", "gs://bucket/cp",
                                 "abfss://c@account.dfs.core.windows.net/cp",
                                 "hdfs://namenode:8020/cp", "dbfs:/cp/x"])
def test_a_remote_checkpoint_location_goes_to_spark_as_given_and_nothing_local(
        uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert checkpoint_location(uri) == uri
    assert list(tmp_path.iterdir()) == []

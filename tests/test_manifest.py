"""The run manifest and the pipeline runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vista.errors import StageNotBuilt
from vista.manifest import RunManifest, list_manifests, new_run_id
from vista.pipeline import stage_function


def test_manifest_records_stages_tables_quality_and_writes_json(tmp_path: Path) -> None:
    m = RunManifest(run_id="20260101T000000Z-abcdef", config_file="conf/local.yaml")
    with m.stage("ingest") as rec:
        m.record_table({"table": "bronze/crm", "version": 0, "rows_written": 5})
        rec.metrics["rows_in"] = 5
    m.record_metrics("ingest", {"quarantined": 1})
    m.record_quality({"suite": "silver", "passed": False, "results": []})
    m.record_mlflow_run("identity", "r1", "train")
    with pytest.raises(ValueError), m.stage("identity"):
        raise ValueError("boom")
    m.status = "failed"
    path = m.write(str(tmp_path / "_manifests"))
    data = json.loads(Path(path).read_text())
    assert [(s["name"], s["status"]) for s in data["stages"]] == [
        ("ingest", "succeeded"), ("identity", "failed")]
    assert data["stages"][0]["metrics"] == {"rows_in": 5, "quarantined": 1}
    assert data["stages"][1]["error"] == "ValueError: boom"
    assert data["tables"] == [{"table": "bronze/crm", "version": 0, "rows_written": 5,
                               "stage": "ingest"}]
    assert data["quality"][0]["stage"] is None and data["quality"][0]["passed"] is False
    assert data["mlflow_runs"] == [{"stage": "identity", "run_id": "r1", "name": "train"}]
    assert list_manifests(str(tmp_path / "_manifests"))[0]["run_id"] == m.run_id


def test_run_ids_sort_by_time_and_are_unique() -> None:
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50


def test_unbuilt_stage_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from vista import pipeline

    monkeypatch.setitem(pipeline.STAGES, "activation", "vista.does_not_exist.stage")
    with pytest.raises(StageNotBuilt, match="stage 'activation' is not built yet") as info:
        stage_function("activation")
    assert "\n" not in str(info.value)

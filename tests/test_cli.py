"""The `vista` command: help on every command, config errors, run listing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from vista.cli import build_parser, main, setup_logging


@pytest.mark.parametrize("command", [[], ["sample"], ["run"], ["demo"], ["runs"], ["config"], ["identity"], ["identity", "train"], ["identity", "explain"], ["identity", "evaluate"]])
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*command, "--help"])
    assert info.value.code == 0
    assert "usage: vista" in capsys.readouterr().out


@pytest.mark.parametrize("verbose", [False, True])
def test_a_run_prints_one_line_per_stage_unless_verbose(
    verbose: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging(verbose)
    try:
        logging.getLogger("vista.pipeline").info("stage identity done in 1.0 s")
        logging.getLogger("vista.identity.stage").info("identity: 3 lineage breaks")
        logging.getLogger("vista.identity.stage").warning("VISTA_UID_SALT is not set")
        logging.getLogger("vista.identity.stage").debug("a plan")
    finally:
        logging.getLogger().handlers.clear()
    err = capsys.readouterr().err
    assert "stage identity done" in err and "VISTA_UID_SALT is not set" in err
    assert ("3 lineage breaks" in err) is verbose
    assert ("a plan" in err) is verbose
    # listeners other than the terminal still get every step
    assert logging.getLogger("vista.identity.stage").isEnabledFor(logging.INFO)


def test_run_with_a_bad_config_lists_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("lake:\n  engine: spark\nspark:\n  ui: maybe\n  colour: blue\n")
    assert main(["run", "--conf", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    for key in ("lake.engine", "spark.ui", "spark.colour"):
        assert key in err


def test_runs_lists_manifests_as_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "lake" / "_manifests"
    folder.mkdir(parents=True)
    manifest = {
        "run_id": "20260101T000000Z-aaaaaa", "status": "succeeded",
        "started_at": "2026-01-01T00:00:00+00:00",
        "stages": [{"name": "ingest", "status": "succeeded", "duration_s": 12.5}],
        "tables": [{"table": "bronze/crm"}], "quality": [{"passed": True}, {"passed": False}],
    }
    (folder / "20260101T000000Z-aaaaaa.json").write_text(json.dumps(manifest))
    conf = tmp_path / "c.yaml"
    conf.write_text(f"lake:\n  root: {tmp_path / 'lake'}\n")
    assert main(["runs", "--conf", str(conf)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["run", "id"]
    assert out[2].split() == ["20260101T000000Z-aaaaaa", "succeeded", "2026-01-01T00:00:00+00:00",
                              "ingest(12s)", "1", "1/2"]


def test_config_prints_every_key_of_a_section_with_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    monkeypatch.setenv("VISTA__LAKE__ENGINE", "delta-rs")
    conf = tmp_path / "c.yaml"
    conf.write_text(f"lake:\n  root: {tmp_path / 'lake'}\n")
    assert main(["config", "--conf", str(conf), "--section", "lake"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed == {"lake": {"root": str(tmp_path / "lake"), "engine": "delta-rs",
                                "vacuum_retention_hours": 168, "maintain_after_run": True,
                                "compact_target_file_mb": 128, "compact_min_files": 50}}

"""The shipped profiles: a run without configuration says what to do; --init writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from vista.cli import main


def test_a_run_with_no_configuration_says_so_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VISTA_CONF", raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "vista config --init" in err and "--conf" in err


def test_config_init_writes_the_shipped_profiles_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from vista.config import load_config

    assert main(["config", "--init", "--dir", str(tmp_path)]) == 0
    local = tmp_path / "conf" / "local.yaml"
    assert (tmp_path / "conf" / "sources" / "sample.yaml").is_file()
    repo_conf = Path(__file__).resolve().parents[1] / "conf" / "local.yaml"
    assert local.read_text() == repo_conf.read_text()
    cfg = load_config(local, env={})
    assert cfg.ingest.sources  # the include of sources/sample.yaml resolved next to it
    local.write_text("# edited\n" + local.read_text())
    assert main(["config", "--init", "--dir", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert local.read_text().startswith("# edited")
    assert main(["config", "--init", "--dir", str(tmp_path), "--force"]) == 0
    assert local.read_text() == repo_conf.read_text()


def test_demo_falls_back_to_the_packaged_profile(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    from vista.cli import resolve_conf
    from vista.config.profiles import packaged_profile

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VISTA_CONF", raising=False)
    assert resolve_conf(None, packaged=True) == str(packaged_profile())
    assert packaged_profile().parts[-3:] == ("resources", "conf", "local.yaml")

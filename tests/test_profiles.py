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


def test_the_packaged_profile_loads_when_vista_is_imported_from_a_zip(tmp_path: Path) -> None:
    """The wheel given to spark-submit --py-files is imported as a zip archive."""
    import os
    import subprocess
    import sys
    import zipfile

    package = Path(__file__).resolve().parents[1] / "lib" / "vista"
    archive = tmp_path / "vista.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # as the wheel holds it: conf/ is a link here
        for folder, _, names in os.walk(package, followlinks=True):
            for name in names:
                path = Path(folder) / name
                if "__pycache__" not in path.parts:
                    zf.write(path, Path("vista") / path.relative_to(package))
    script = ("import sys; sys.path.insert(0, sys.argv[1])\n"
              "import vista\n"
              "from vista.config import load_config\n"
              "from vista.config.profiles import packaged_profile\n"
              "assert vista.__file__.startswith(sys.argv[1]), vista.__file__\n"
              "cfg = load_config(packaged_profile())\n"
              "print(len(cfg.ingest.sources), cfg.identity.linking.deterministic is not None)\n")
    done = subprocess.run([sys.executable, "-c", script, str(archive)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["10", "True"]

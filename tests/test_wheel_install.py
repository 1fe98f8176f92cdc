"""The product as a new user gets it: the wheel in a clean virtualenv, ``vista demo`` in
an empty folder.

Nothing of the repository is on that Python's path: the wheel and the dependencies it
declares are installed from the package index by pip, and the demo runs in a folder with
no ``conf/``, so the default profile and the sample's source config must come from the
package itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # pip installs PySpark, Splink and MLflow, then a demo runs


def test_the_wheel_alone_runs_the_demo_in_an_empty_folder(built_wheel: Path,
                                                          tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    pip = subprocess.run([str(env_dir / "bin" / "pip"), "install", "--quiet",
                          "--disable-pip-version-check", str(built_wheel)],
                         capture_output=True, text=True, timeout=1800)
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-4000:]

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = subprocess.run([str(env_dir / "bin" / "python"), "-c",
                            "import vista, pathlib; print(pathlib.Path(vista.__file__))"],
                           cwd=empty, env=env, capture_output=True, text=True, check=True)
    assert str(env_dir) in where.stdout  # vista from the wheel, not the repository

    demo = subprocess.run([str(env_dir / "bin" / "vista"), "demo", "--customers", "40"],
                          cwd=empty, env=env, capture_output=True, text=True, timeout=1800)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-6000:]

    assert "vista demo finished: run" in demo.stdout
    assert "succeeded" in demo.stdout.split("vista demo finished: run", 1)[1].splitlines()[0]
    # every output it names is inside the empty folder it was started in
    lake = empty / ".vista" / "lake"
    assert "Delta lake:" in demo.stdout
    assert (lake / "silver" / "person_records" / "_delta_log").is_dir()
    assert (lake / "gold" / "customer_profile" / "_delta_log").is_dir()
    assert list((lake / "_manifests").glob("*.json"))
    assert "Traceback" not in demo.stderr
    assert "\tat org.apache" not in demo.stderr  # no Java stack trace

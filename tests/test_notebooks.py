"""Notebooks hold no logic: their code parses and imports only vista and the usual tools."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
ALLOWED = {"vista", "os", "pathlib", "pandas", "mlflow", "pyspark"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_parses_and_imports_only_vista_and_tools(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "a notebook without code"
    for cell in code:
        tree = ast.parse(cell)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert all(n.split(".")[0] in ALLOWED for n in names), names
            # No function or class definitions: logic belongs in the package.
        assert not any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) for n in ast.walk(tree))


def test_there_is_an_identity_notebook() -> None:
    assert any(p.name == "identity_resolution.ipynb" for p in NOTEBOOKS)


@pytest.mark.e2e
def test_segments_notebook_runs_on_the_demo_lake(demo_run, monkeypatch) -> None:
    from vista.pipeline import built_stages

    if "segments" not in built_stages():
        pytest.skip("the segments stage is not built yet")
    path = next(p for p in NOTEBOOKS if p.name == "segments.ipynb")
    monkeypatch.setenv("VISTA_CONF", str(demo_run.conf))
    monkeypatch.chdir(path.parents[1])
    namespace: dict = {}
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in (c for c in nb["cells"] if c["cell_type"] == "code"):
        exec(compile("".join(cell["source"]), path.name, "exec"), namespace)  # noqa: S102
    catalogue = namespace["catalogue"]
    assert "lifestyle" in set(catalogue["segmentation"])
    assert namespace["runs"].shape[1] >= 1  # at least the demo's refresh

"""The import rules that keep vista's modules apart (read from the source, no Spark).

* no import cycle anywhere in ``vista`` among the imports a module runs when it is
  imported (imports inside functions and under ``TYPE_CHECKING`` run later or never);
* nothing in ``vista.identity`` imports ``vista.cli`` (at any level);
* only ``vista.tracking`` (the model registry) imports MLflow, outside the segment models;
* inside ``vista.identity``, ``link/`` and ``cluster/`` never import each other, and
  ``person/`` (names, nicknames, compatibility) imports neither;
* each of these checks fails on a module that breaks it (a scratch tree);
* ``vista.identity``'s public API is importable and complete.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[2] / "lib"


def _modules() -> dict[str, Path]:
    out = {}
    for path in (LIB / "vista").rglob("*.py"):
        parts = list(path.relative_to(LIB).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported(name: str, path: Path, *, import_time_only: bool) -> set[str]:
    """Every module name ``name`` imports (resolved to the longest known vista module,
    or the third-party top-level name)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if import_time_only and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*up, base] if base else up)
                found.add(base)
                found.update(f"{base}.{a.name}" for a in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    out = set()
    for target in found:
        if not target.startswith("vista"):
            out.add(target.split(".")[0])
            continue
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        # a package is always imported before its modules: not an edge of a cycle
        if target and target != name and not name.startswith(target + "."):
            out.add(target)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_no_import_cycle_in_vista():
    graph = {n: _imported(n, p, import_time_only=True) for n, p in MODULES.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _importers(target: str, modules: dict[str, Path] = MODULES) -> list[str]:
    """The modules that import ``target`` (a vista module or a third-party top-level name)
    at any level (inside functions too; not under ``TYPE_CHECKING``)."""
    return sorted(n for n, p in modules.items()
                  if target in _imported(n, p, import_time_only=False))


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _crossings(graph: dict[str, set[str]], group: str, forbidden: list[str]) -> list[tuple]:
    """``(module, imported)`` for every module of package ``group`` that imports a module of
    one of the ``forbidden`` packages."""
    return sorted((n, t) for n, targets in graph.items() if _in(n, group)
                  for t in targets if any(_in(t, f) for f in forbidden))


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _in(n, "vista.identity")))
def test_identity_modules_import_neither_the_cli_nor_mlflow(name):
    imported = _imported(name, MODULES[name], import_time_only=False)
    assert "vista.cli" not in imported
    assert "mlflow" not in imported  # MLflow is vista.tracking's business


def test_only_the_model_registry_imports_mlflow():
    """Outside the segment models (MLflow pyfunc models of their own), only
    ``vista.tracking``, the model registry, imports MLflow."""
    importers = [n for n in _importers("mlflow") if not _in(n, "vista.segments")]
    assert importers == ["vista.tracking"]


def test_only_the_entry_point_imports_the_cli():
    """The stages' commands share ``vista.cli_support``; ``vista.cli`` imports them."""
    assert [n for n in _importers("vista.cli") if n != "vista.cli"] == ["vista.__main__"]


def _graph() -> dict[str, set[str]]:
    return {n: _imported(n, p, import_time_only=False) for n, p in MODULES.items()}


def test_the_identity_concepts_are_packages():
    for package in ("person", "link", "cluster"):
        modules = [n for n in MODULES if _in(n, f"vista.identity.{package}")]
        assert len(modules) > 2, (package, modules)


@pytest.mark.parametrize(("group", "forbidden"), [
    ("vista.identity.link", ["vista.identity.cluster"]),
    ("vista.identity.cluster", ["vista.identity.link"]),
    ("vista.identity.person", ["vista.identity.link", "vista.identity.cluster"])])
def test_linking_and_clustering_never_import_each_other(group, forbidden):
    assert _crossings(_graph(), group, forbidden) == []


def test_each_rule_catches_a_breach(tmp_path):
    """The checks above fail on a module that breaks them (read from a scratch tree)."""
    pkg = tmp_path / "vista" / "identity"
    for sub in ("link", "cluster"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (tmp_path / "vista" / "__init__.py").write_text("")
    (tmp_path / "vista" / "cli.py").write_text("")
    (pkg / "link" / "model.py").write_text(
        "def f():\n    import mlflow\n    from vista.identity.cluster import graph\n")
    (pkg / "cluster" / "graph.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from vista.identity.link import model\n"
        "def g():\n    from vista import cli\n")
    global MODULES
    real, MODULES = MODULES, {}
    try:
        for path in (tmp_path / "vista").rglob("*.py"):
            parts = list(path.relative_to(tmp_path).with_suffix("").parts)
            MODULES[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
        graph = _graph()
        assert _crossings(graph, "vista.identity.link", ["vista.identity.cluster"]) == [
            ("vista.identity.link.model", "vista.identity.cluster"),
            ("vista.identity.link.model", "vista.identity.cluster.graph")]
        # an import under TYPE_CHECKING never runs: not a crossing
        assert _crossings(graph, "vista.identity.cluster", ["vista.identity.link"]) == []
        assert _importers("mlflow", MODULES) == ["vista.identity.link.model"]
        assert _importers("vista.cli", MODULES) == ["vista.identity.cluster.graph"]
    finally:
        MODULES = real


def test_identity_public_api():
    import vista.identity as identity
    import vista.identity.evaluate
    import vista.identity.explain  # noqa: F401 - must not shadow the functions

    assert callable(identity.evaluate) and callable(identity.explain)
    for name in identity.__all__:
        assert getattr(identity, name) is not None
    assert identity.IdentityConfig().break_lineage == "checkpoint"


def test_the_identity_notebook_uses_only_the_public_api():
    import json

    import vista.identity as identity

    path = LIB.parent / "notebooks" / "identity_resolution.ipynb"
    cells = [("".join(c["source"])) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
             if c["cell_type"] == "code"]
    used = set()
    for cell in cells:
        for node in ast.walk(ast.parse(cell)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vista.identity"):
                pytest.fail(f"the notebook imports a private module: {node.module}")
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "identity"):
                used.add(node.attr)
    assert used and used <= set(identity.__all__), used - set(identity.__all__)

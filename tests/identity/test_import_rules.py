"""The import rules that keep vista's modules apart (read from the source, no Spark).

* no import cycle anywhere in ``vista`` among the imports a module runs when it is
  imported (imports inside functions and under ``TYPE_CHECKING`` run later or never);
* nothing in ``vista.identity`` imports ``vista.cli`` (at any level);
* only ``vista.tracking`` (the model registry) imports MLflow among vista's core and
  identity modules;
* inside ``vista.identity``, linking and clustering never import each other, and the
  person rules (names, compatibility) import neither;
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


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("vista.identity")))
def test_identity_modules_import_neither_the_cli_nor_mlflow(name):
    imported = _imported(name, MODULES[name], import_time_only=False)
    assert "vista.cli" not in imported
    assert "mlflow" not in imported  # MLflow is vista.tracking's business


def test_only_the_entry_point_imports_the_cli():
    """The stages' commands share ``vista.cli_support``; ``vista.cli`` imports them."""
    importers = sorted(n for n, p in MODULES.items()
                       if n != "vista.cli" and "vista.cli" in _imported(n, p, import_time_only=False))
    assert importers == ["vista.__main__"]


PERSON = {"vista.identity.person.names", "vista.identity.person.compatibility"}
LINK = {"vista.identity.link.deterministic", "vista.identity.link.splink_model", "vista.identity.link.links",
        "vista.identity.link.blocking", "vista.identity.link.splink_shim"}
CLUSTER = {"vista.identity.cluster"}


@pytest.mark.parametrize(("group", "forbidden"), [
    (LINK, CLUSTER), (CLUSTER, LINK), (PERSON, LINK | CLUSTER)])
def test_linking_and_clustering_never_import_each_other(group, forbidden):
    for name in sorted(group):
        imported = _imported(name, MODULES[name], import_time_only=False)
        assert not imported & forbidden, (name, imported & forbidden)


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

"""No import cycle among vista's modules at import time, and identity never imports the CLI.

The graph is read from the source (module-level imports only: an import inside a function
runs when it is called, after every module has loaded). A package's own ``__init__`` is
not an edge from its submodules: Python has it loaded before any of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib"


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    mods = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return mods


def _top_level_imports(body: list[ast.stmt], package: str, mods: dict) -> list[str]:
    names: list[str] = []
    for node in body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                names.append(sub if sub in mods else base)
        elif isinstance(node, ast.If):
            test = node.test
            if not (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"):
                names += _top_level_imports(node.body + node.orelse, package, mods)
        elif isinstance(node, ast.Try):
            names += _top_level_imports(node.body, package, mods)
    return names


def import_graph(root: Path = LIB, *, all_imports: bool = False) -> dict[str, set[str]]:
    """Module -> the vista modules it loads (with the packages above them)."""
    mods = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if is_pkg else name.rpartition(".")[0]
        body = list(ast.walk(tree)) if all_imports else tree.body
        deps: set[str] = set()
        for target in _top_level_imports(body, package, mods):
            while target and target not in mods:
                target = target.rpartition(".")[0]
            parts = target.split(".") if target else []
            for i in range(1, len(parts) + 1):
                dep = ".".join(parts[:i])
                # the packages above this module are loaded before it
                above = name.startswith(dep + ".") and dep != target
                if dep in mods and dep != name and not above:
                    deps.add(dep)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_at_import_time():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_sees_a_cycle(tmp_path):
    pkg = tmp_path / "p"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from p.b import x\n")
    (pkg / "b.py").write_text("import p.c\nx = 1\n")
    (pkg / "c.py").write_text("from p import a\n")
    (pkg / "d.py").write_text("def f():\n    from p import a\n")
    assert cycles(import_graph(tmp_path)) == [["p.a", "p.b", "p.c"]]
    assert "p.a" in import_graph(tmp_path, all_imports=True)["p.d"]


def test_identity_never_imports_the_cli():
    graph = import_graph(all_imports=True)
    offenders = {m: sorted(d for d in deps if d == "vista.cli" or d.startswith("vista.cli."))
                 for m, deps in graph.items() if m.startswith("vista.identity")}
    assert {m: d for m, d in offenders.items() if d} == {}

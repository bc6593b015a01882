"""The package's import graph: imports point down (no cycle, counting imports inside functions),
every module (subpackages included) stays under about 400 lines, and library code never reads
the checkout's path."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "lib" / "persona_axis"
MAX_LINES = 400

# Known exceptions, each owned by another branch; remove an entry when its fix lands.
ALLOWED_CYCLES: set[frozenset[str]] = set()
ALLOWED_OVERSIZED: set[str] = set()


def modules(pkg: Path = PKG) -> dict[str, Path]:
    """Dotted module name (relative to the package, ``""`` for its ``__init__``) -> file."""
    out = {}
    for p in sorted(pkg.rglob("*.py")):
        rel = p.relative_to(pkg).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    """The most specific module of the package that ``name`` (dotted, package-relative) names."""
    parts = name.split(".") if name else []
    while parts:
        cand = ".".join(parts)
        if cand in mods:
            return cand
        parts.pop()
    return None


def import_graph(pkg: Path = PKG) -> dict[str, set[str]]:
    """``module -> modules it imports`` inside the package, from every import statement anywhere
    in the file (also inside functions and ``if`` blocks, except ``if TYPE_CHECKING:``)."""
    mods = modules(pkg)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        is_pkg = path.name == "__init__.py"
        here = m.split(".") if m else []
        base = here if is_pkg else here[:-1]   # the package this module's relative imports start from
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                    prefix = ".".join(anchor + ([node.module] if node.module else []))
                elif node.module and node.module.split(".")[0] == "persona_axis":
                    prefix = node.module.partition(".")[2]
                else:
                    continue
                # ``from . import evals`` imports the module evals; ``from .judge import X`` the package judge
                subs = [f"{prefix}.{a.name}" if prefix else a.name for a in node.names]
                targets += [s for s in subs if s in mods] or [prefix]
            elif isinstance(node, ast.Import):
                targets += [a.name.partition(".")[2] for a in node.names if a.name.split(".")[0] == "persona_axis"]
            for t in targets:
                r = _resolve(t, mods)
                if r is not None and r != m:
                    graph[m].add(r)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_graph_sees_imports_inside_functions(tmp_path: Path) -> None:
    pkg = tmp_path / "persona_axis"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .b import x\n    return x\n")
    (pkg / "b.py").write_text("from . import a\nfrom .sub.c import y\nx = 1\n")
    (pkg / "sub" / "__init__.py").write_text("from .c import y\n")
    (pkg / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import f\n"
                                      "def g():\n    import persona_axis.b\ny = 2\n")
    g = import_graph(pkg)
    assert g["a"] == {"b"} and g["b"] == {"a", "sub.c"} and g["sub"] == {"sub.c"} and g["sub.c"] == {"b"}
    assert sorted(sorted(c) for c in cycles(g)) == [["a", "b", "sub.c"]]


def test_no_import_cycle() -> None:
    found = [c for c in cycles(import_graph()) if c not in ALLOWED_CYCLES]
    assert not found, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in found)


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_size(name: str) -> None:
    n = len(modules()[name].read_text(encoding="utf-8").splitlines())
    if name in ALLOWED_OVERSIZED:
        pytest.skip(f"{name} ({n} lines) is split on another branch")
    assert n <= MAX_LINES, f"{name} has {n} lines; split it into modules of one job each (under about {MAX_LINES})"


def test_library_never_reads_the_checkout_path() -> None:
    offenders = []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        if "__file__" in text and ("parents[" in text or ".parent.parent" in text):
            offenders.append(name)
    assert not offenders, f"modules that find the checkout from __file__: {offenders}"


def test_no_exported_name_shadows_a_submodule() -> None:
    """``from persona_axis import capping`` must give the module, not a re-exported function."""
    import pkgutil

    import persona_axis

    subs = {m.name for m in pkgutil.iter_modules(persona_axis.__path__)}
    assert not set(persona_axis.__all__) & subs

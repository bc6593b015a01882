"""The package's import graph: every module sits in a layer (a subpackage), imports point only down
the layers of ``persona_axis.LAYERS`` (counting imports inside functions), there is no cycle, a
module over about 600 lines is a warning to look, and library code never reads the checkout's
path."""

from __future__ import annotations

import ast
from pathlib import Path

import warnings

import pytest

from persona_axis import LAYERS

PKG = Path(__file__).resolve().parents[1] / "lib" / "persona_axis"
LOOK_AT_LINES = 600


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
        base = here if is_pkg else here[:-1]  # the package this module's relative imports start from
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
                targets += [
                    a.name.partition(".")[2] for a in node.names if a.name.split(".")[0] == "persona_axis"
                ]
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
    (pkg / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import f\n"
        "def g():\n    import persona_axis.b\ny = 2\n"
    )
    g = import_graph(pkg)
    assert g["a"] == {"b"} and g["b"] == {"a", "sub.c"} and g["sub"] == {"sub.c"} and g["sub.c"] == {"b"}
    assert sorted(sorted(c) for c in cycles(g)) == [["a", "b", "sub.c"]]


def test_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in found)


def layer_of(module: str, layers: tuple[str, ...] = tuple(n for n, _ in LAYERS)) -> int | None:
    """The index of the layer ``module`` (package-relative) lives in; None for the package itself."""
    top = module.split(".")[0]
    if not module:
        return None
    if top not in layers:
        raise AssertionError(f"module {module!r} is in no layer: move it into one of {', '.join(layers)}")
    return layers.index(top)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import that points up the layers, as ``"a (layer) -> b (layer)"``."""
    names = [n for n, _ in LAYERS]
    out = []
    for m, targets in sorted(graph.items()):
        lm = layer_of(m)
        for t in sorted(targets):
            lt = layer_of(t)
            if lm is not None and lt is not None and lt > lm:
                out.append(f"{m} ({names[lm]}) -> {t} ({names[lt]})")
    return out


def test_every_module_sits_in_a_layer_and_imports_point_down() -> None:
    up = upward_imports(import_graph())
    assert not up, "imports that point up the layers (move the shared code down instead): " + "; ".join(up)


def test_the_layer_check_finds_a_planted_upward_import(tmp_path: Path) -> None:
    import shutil

    pkg = tmp_path / "persona_axis"
    shutil.copytree(PKG, pkg, ignore=shutil.ignore_patterns("data", "__pycache__"))
    assert not upward_imports(import_graph(pkg))
    store = pkg / "core" / "store.py"
    store.write_text(
        store.read_text()
        + "\n\ndef _planted():\n    from persona_axis.claims.registry import CLAIMS\n    return CLAIMS\n"
    )
    assert upward_imports(import_graph(pkg)) == ["core.store (core) -> claims.registry (claims)"]


def test_layers_are_the_folders() -> None:
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders == {n for n, _ in LAYERS}
    assert not [p.name for p in PKG.glob("*.py") if p.name != "__init__.py"], (
        "modules belong in a layer's folder"
    )


def test_contributor_page_shows_the_layer_table() -> None:
    page = (PKG.parents[1] / "book" / "contributing.md").read_text(encoding="utf-8")
    assert layer_table() in page, (
        "book/contributing.md: paste this table between the layer markers:\n" + layer_table()
    )


def layer_table() -> str:
    """The contributor page's table of layers, from ``persona_axis.LAYERS``."""
    rows = [f"| {i} | `{name}/` | {what} |" for i, (name, what) in enumerate(LAYERS, 1)]
    return "\n".join(["| layer | folder | what it holds |", "|---|---|---|", *rows])


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_size(name: str) -> None:
    n = len(modules()[name].read_text(encoding="utf-8").splitlines())
    if n > LOOK_AT_LINES:
        warnings.warn(
            f"{name} has {n} lines: worth a look (one concept per module, not a line count)", stacklevel=1
        )


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

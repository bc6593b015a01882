"""The registry is the only place a paper number lives: a scan of the chapters, the pages and the
library's code for the paper's numbers typed anywhere else.

The numbers scanned for are read from the registry (``claims.CLAIMS[*].paper`` and
``claims.FACTS[*].text``): every decimal (``0.71``; a model's version, "Llama 3.3", is a name), percentage (``60%``, ``65-89%``) and range of
whole numbers with an end of 10 or more (``4-19``, also written ``4 to 19``; component ranges such as
"PCs 2-10" are names, not values). Whole numbers alone (``19``, ``25th``) are too common to scan for.
A chapter or page writes them as MyST substitutions (``{{ C4_threshold }}``, staged by the build from
``claims.substitutions()``) or reads them in code (``claims.claim("C4").paper``); the library's code
(string constants other than docstrings) takes them as arguments.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from persona_axis.claims.registry import CLAIMS, FACTS, substitutions

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "lib" / "persona_axis" / "claims" / "registry.py"

#: Matches of a paper number that are ours, not the paper's: (file, token, text on the line) -> why.
ALLOWED: dict[tuple[str, str, str], str] = {
    (
        "book/measurements.md",
        "0.49",
        "[0.49, 0.62]",
    ): "our seed-1 interval of cos(axis, PC1), a dated run",
    ("book/measurements.md", "0.71", "[0.34, 0.71]"): "our seed-1 two-level interval, a dated run",
    (
        "book/measurements.md",
        "0.81",
        "0.78 [0.75, 0.81]",
    ): "our steering interval of an earlier run, dated",
    (
        "book/measurements.md",
        "60%",
        "60% of the machine's matmul rate",
    ): "a speed of this machine, not the paper's",
    # the book preset's run of 7 December 2026 (tables of our intervals)
    ("book/measurements.md", "0.50", "0.44 [0.35, 0.50]"): "Qwen's chance level of the default's distance",
    ("book/measurements.md", "0.27", "0.10 [0.02, 0.27]"): "Qwen's cos(axis, PC1) interval",
    ("book/measurements.md", "0.10", "0.10 [0.02, 0.27]"): "Qwen's cos(axis, PC1) interval",
    ("book/measurements.md", "0.50", "0.44 [0.38, 0.50]"): "Qwen's steering interval toward the Assistant",
    (
        "book/measurements.md",
        "0.10",
        "0.16 [0.10, 0.21]",
    ): "SmolLM2's steering interval, axis against unsteered",
    ("book/measurements.md", "0.10", "0.10 [0.05, 0.15]"): "Qwen's steering interval, axis against unsteered",
}


def paper_numbers() -> dict[str, re.Pattern[str]]:
    """``token -> pattern`` for every paper number in the registry's texts."""
    texts = [c.paper for c in CLAIMS] + [f.text for f in FACTS]
    out: dict[str, re.Pattern[str]] = {}
    for text in texts:
        for tok in re.findall(r"\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?%", text):
            out[tok] = re.compile(rf"(?<![\d.]){re.escape(tok)}")
        for tok in re.findall(r"(?<![\d.])0\.\d+(?![\d])", text):
            out[tok] = re.compile(rf"(?<![\d.]){re.escape(tok)}(?!\d)")
        for a, b in re.findall(r"(?<!PCs )(?<![\d.])(\d+)-(\d+)(?![\d.%])", text):
            if max(int(a), int(b)) >= 10:
                out[f"{a}-{b}"] = re.compile(rf"(?<![\d.]){a}(?:-| to ){b}(?![\d.])")
    return out


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of every string constant in a Python file except docstrings."""
    tree = ast.parse(path.read_text())
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def typed_paper_numbers(paths: list[Path], root: Path = ROOT) -> list[tuple[str, int, str, str]]:
    """``(file, line, token, text)`` for each paper number found in ``paths`` (``.md``: every line;
    ``.py``: string constants other than docstrings), less ``ALLOWED``."""
    numbers = paper_numbers()
    found = []
    for path in paths:
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        lines = (
            _code_strings(path) if path.suffix == ".py" else list(enumerate(path.read_text().splitlines(), 1))
        )
        for no, text in lines:
            for tok, pat in numbers.items():
                if pat.search(text) and not any(f == name and t == tok and s in text for f, t, s in ALLOWED):
                    found.append((name, no, tok, text.strip()))
    return found


def sources(root: Path = ROOT) -> list[Path]:
    """The chapters, the pages and the library's modules, except the registry itself."""
    lib = [p for p in sorted((root / "lib" / "persona_axis").rglob("*.py")) if p != REGISTRY]
    return sorted((root / "notebooks").glob("*.md")) + sorted((root / "book").glob("*.md")) + lib


def test_the_scan_reads_the_registry_numbers() -> None:
    got = set(paper_numbers())
    assert {
        "4-19",
        "0.03",
        "0.27",
        "0.50",
        "0.71",
        "0.60",
        "0.92",
        "0.81",
        "0.49",
        "0.53",
        "0.77",
        "0.10",
        "60%",
        "46-53",
        "56-71",
        "65-89%",
        "0.99",
    } <= got
    assert not {"19", "25", "2-10", "1-3"} & got
    assert paper_numbers()["4-19"].search("4 to 19 principal components")


def test_no_paper_number_is_typed_outside_the_registry() -> None:
    found = typed_paper_numbers(sources())
    assert not found, (
        "paper numbers typed outside claims/registry.py (read them from persona_axis.claims):\n"
        + "\n".join(f"{f}:{n}: {t!r} in {s!r}" for f, n, t, s in found)
    )


def test_a_planted_number_is_found(tmp_path: Path) -> None:
    """The scan fails on a number planted in copies of chapter 2, of rubric_effect and of a page
    (and finds nothing else in them: the copies are clean)."""
    chapter, module, page = (
        tmp_path / "book/measurements.md",
        tmp_path / "lib/persona_axis/analysis/rubric_effect.py",
        tmp_path / "book/intro.md",
    )
    for p in (chapter, module, page):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text((ROOT / p.relative_to(tmp_path)).read_text())
    assert typed_paper_numbers([chapter, module, page], root=tmp_path) == []
    chapter.write_text(chapter.read_text() + '\n```{code-cell} ipython3\nprint("paper: > 0.71")\n```\n')
    module.write_text(
        module.read_text() + '\n\ndef planted() -> str:\n    """The paper says 0.92 (a docstring: not '
        'scanned)."""\n    return "4-19 (Gemma 4, Qwen 8, Llama 19)"\n'
    )
    page.write_text(page.read_text() + "\nHarm falls by nearly 60% in the paper.\n")
    found = typed_paper_numbers([chapter, module, page], root=tmp_path)
    assert [(f, t) for f, _, t, _ in found] == [
        ("book/measurements.md", "0.71"),
        ("lib/persona_axis/analysis/rubric_effect.py", "4-19"),
        ("book/intro.md", "60%"),
    ]


def test_every_substitution_the_sources_use_is_defined() -> None:
    """A substitution the registry does not define would print as a warning (and fail ``-W``)."""
    known = substitutions()
    used = {
        m
        for p in sources()[:-1]
        if p.suffix == ".md"
        for m in re.findall(r"\{\{\s*(\w+)\s*\}\}", p.read_text())
    }
    assert used and used <= set(known), used - set(known)
    assert known["C4_threshold"] == "0.71" and known["C1_paper"].startswith("4-19")


def test_the_build_stages_the_substitutions(tmp_path: Path) -> None:
    from persona_axis.site.build import stage

    src = stage(tmp_path, ROOT)
    staged = yaml.safe_load((src / "_config.yml").read_text())
    original = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert staged["parse"]["myst_substitutions"] == substitutions()
    assert "substitution" in staged["parse"]["myst_enable_extensions"]
    assert {k: v for k, v in staged.items() if k != "parse"} == {
        k: v for k, v in original.items() if k != "parse"
    }


@pytest.mark.parametrize("key", ["C4", "C12", "C2"])
def test_claims_name_their_source(key: str) -> None:
    c = next(c for c in CLAIMS if c.id == key)
    assert c.source.startswith("official notebook output" if key == "C2" else "the paper")

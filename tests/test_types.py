"""The public API is typed: models, tokenizers and tables are not ``Any`` where a real type fits.

A ratchet: the number of ``Any`` annotations in public signatures (parameters and returns of
functions and methods whose names do not start with ``_``) may go down, never up. It was 249
before models (``PreTrainedModel``), tokenizers (``PreTrainedTokenizerBase``) and tables
(``pandas.DataFrame``) were typed under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "lib" / "persona_axis"
# 249 on 96c576d; 187 after typing models, tokenizers and tables; 190 with three JSON documents of this
# session (a chosen setting's saved numbers read by claim_points, the trait filter's summary); 187 after
# typing the vLLM worker's messages, the notebooks the site writes into and the timings file
MAX_ANY = 187
TYPED = {"model": "PreTrainedModel", "tok": "PreTrainedTokenizerBase", "table": "pd.DataFrame"}


def _has_any(node: ast.AST) -> bool:
    return any(
        (isinstance(x, ast.Name) and x.id == "Any") or (isinstance(x, ast.Attribute) and x.attr == "Any")
        for x in ast.walk(node)
    )


def public_signatures() -> list[tuple[str, str, ast.arguments, ast.expr | None]]:
    """``(module, function, arguments, return annotation)`` of every public function and method."""
    out = []
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG).as_posix()

        def visit(body: list[ast.stmt], cls: str | None = None) -> None:
            for n in body:
                if isinstance(n, ast.ClassDef) and not n.name.startswith("_"):
                    visit(n.body, n.name)
                elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                    not n.name.startswith("_") or (cls is not None and n.name == "__init__")
                ):
                    out.append((rel, f"{cls}.{n.name}" if cls else n.name, n.args, n.returns))

        visit(ast.parse(p.read_text(encoding="utf-8")).body)
    return out


def any_annotations() -> list[str]:
    found = []
    for rel, name, args, ret in public_signatures():
        every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
        found += [
            f"{rel} {name}({a.arg})" for a in every if a.annotation is not None and _has_any(a.annotation)
        ]
        if ret is not None and _has_any(ret):
            found.append(f"{rel} {name} -> ...")
    return found


def test_any_in_public_signatures_does_not_grow() -> None:
    found = any_annotations()
    assert len(found) <= MAX_ANY, (
        f"{len(found)} Any in public signatures (at most {MAX_ANY}); type the new ones:\n" + "\n".join(found)
    )


def test_the_pipeline_path_types_models_tokenizers_and_tables() -> None:
    """Along the data path (rollouts -> labels -> vectors -> axis) no model, tokenizer or table is Any."""
    core = {
        "pipeline.py",
        "runs.py",
        "rollouts.py",
        "space.py",
        "steering.py",
        "chat.py",
        "models.py",
        "labels.py",
    }
    loose = [
        f"{rel} {name}({a.arg})"
        for rel, name, args, _ in public_signatures()
        if rel in core
        for a in args.posonlyargs + args.args + args.kwonlyargs
        if a.arg in TYPED and a.annotation is not None and _has_any(a.annotation)
    ]
    assert not loose, loose

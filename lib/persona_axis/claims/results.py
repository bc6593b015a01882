"""Per-chapter results saved for later chapters, comparison tables and the dashboard.

Each chapter saves one JSON document per model, a small summary written after each run: the
numbers it reports, the configuration that produced them and that configuration's hash
(``key``). The document goes through ``Store("chapter_results", {chapter, model, config})``
(atomic, one folder per configuration, never overwritten by another one), and the latest run of
each chapter and model is also ``<artifacts>/results/<chapter>/<model>.json``, which the tables
and the dashboard read (each shows the preset it ran with). A chapter that builds on another's
result reads it with ``load_result(..., config=)`` or ``match=``: a result made with other
inputs is not read. Tables that put the paper's value beside ours for every model read them
back with ``load_all``; a model whose chapter has not been run yet shows as missing, never as a
made-up value.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_axis.core.paths import artifacts_dir
from persona_axis.core.store import CacheError, Store, atomic_write_text, config_hash

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "save_result",
    "load_result",
    "load_all",
    "results_dir",
    "comparison_table",
    "BOOK_MODELS",
    "Results",
]


def results_dir(chapter: str) -> Path:
    d = artifacts_dir() / "results" / chapter
    d.mkdir(parents=True, exist_ok=True)
    return d


def _file(chapter: str, model: str) -> Path:
    return results_dir(chapter) / (model.replace("/", "__") + ".json")


def save_result(
    chapter: str,
    model: str,
    numbers: dict[str, Any],
    config: dict[str, Any],
    *,
    intervals: Mapping[str, Any] | None = None,
) -> Path:
    """Save a chapter's numbers for one model (atomic), with its configuration and a timestamp.

    ``intervals`` maps a key of ``numbers`` to its ``stats.Interval`` (or to a dict
    ``model -> Interval`` for a per-model number saved under ``"all"``); they are stored as
    dicts under ``numbers["intervals"]``, where ``persona_axis.claims.registry`` reads them.
    """
    if intervals:
        numbers = {**numbers, "intervals": {k: _interval_dict(v) for k, v in intervals.items()}}
    config = json.loads(json.dumps(config, default=float))  # numpy scalars -> JSON numbers, as stored
    key = _key(chapter, model, config)
    doc = {
        "chapter": chapter,
        "model": model,
        "numbers": numbers,
        "config": config,
        "key": config_hash(key),
        "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    text = json.dumps(doc, indent=1, default=float)
    Store("chapter_results", key).save_json("result", json.loads(text))
    path = _file(chapter, model)
    atomic_write_text(path, text)
    return path


def _key(chapter: str, model: str, config: Mapping[str, Any]) -> dict[str, Any]:
    return {"chapter": chapter, "model": model, "config": json.loads(json.dumps(config, default=float))}


def _interval_dict(v: Any) -> Any:
    if hasattr(v, "to_dict"):
        return v.to_dict()
    if isinstance(v, Mapping):
        return {str(k): _interval_dict(x) for k, x in v.items()}
    raise TypeError(f"an interval must be a stats.Interval (or a dict of them), got {type(v).__name__}")


def load_result(
    chapter: str,
    model: str,
    *,
    config: Mapping[str, Any] | None = None,
    match: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The saved document, or ``None`` if the chapter was not run for this model (with these inputs).

    Args:
        config: read only the result of exactly this configuration (from its ``Store``).
        match: read the latest result only if its configuration has these values (e.g.
            ``{"rollouts": ro.key, "seed": 0}``: the same rollouts); another run's is ``None``.
    """
    if config is not None:
        path = artifacts_dir() / "chapter_results" / config_hash(_key(chapter, model, config)) / "result.json"
    else:
        path = _file(chapter, model)
    if not path.exists():
        return None
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise CacheError(f"{path} is corrupt. Delete it and rerun the chapter.") from None
    if config is not None and doc.get("config") != _key(chapter, model, config)["config"]:
        raise CacheError(
            f"{path} holds the result of another configuration; delete its folder and rerun the chapter"
        )
    if match is not None:
        saved = doc.get("config", {})
        if any(
            k not in saved or saved[k] != json.loads(json.dumps(v, default=float)) for k, v in match.items()
        ):
            return None
    return doc


def load_all(chapter: str) -> dict[str, dict[str, Any]]:
    """``model -> document`` for every model the chapter was run for."""
    out = {}
    for f in sorted(results_dir(chapter).glob("*.json")):
        try:
            doc = json.loads(f.read_text())
        except json.JSONDecodeError:
            raise CacheError(f"{f} is corrupt. Delete it and rerun the chapter.") from None
        out[doc["model"]] = doc
    return out


#: The instruct models every results table shows, in this order, whether or not they were run.
BOOK_MODELS = ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct")


def comparison_table(
    rows: list[tuple[str, str, str, str, str]], models: tuple[str, ...] = BOOK_MODELS
) -> pd.DataFrame:
    """The paper's value beside ours, one column per model.

    Args:
        rows: ``(quantity, paper's value, chapter, key in that chapter's numbers, format spec)``.
        models: columns always shown; any other model with saved results is appended.

    Returns:
        A ``pandas.DataFrame``; a model whose chapter has not been run reads "not yet run",
        and a last row gives the preset each model ran with.
    """
    import pandas as pd

    docs = {ch: load_all(ch) for ch in {r[2] for r in rows}}
    seen = sorted({m for d in docs.values() for m in d} - set(models))
    table = pd.DataFrame(
        {
            "quantity": [r[0] for r in rows] + ["preset"],
            "paper": [r[1] for r in rows] + ["275 roles x 1,200 rollouts"],
        }
    )
    for m in (*models, *seen):
        cells = []
        for _, _, chapter, key, fmt in rows:
            doc = docs[chapter].get(m)
            cells.append(format(doc["numbers"][key], fmt) if doc else "not yet run")
        run = next((docs[ch][m] for ch in docs if m in docs[ch]), None)
        cells.append(run["config"].get("preset", "?") if run else "not yet run")
        table[m] = cells
    return table


@dataclass(frozen=True)
class Results:
    """Every saved chapter result: ``docs[chapter][saved-under model] -> document``.

    A document is what ``save_result`` wrote: ``{"chapter", "model", "numbers", "config",
    "saved"}``. Build it with ``Results.load``; ``persona_axis.claims.registry`` rates it.
    """

    docs: Mapping[str, Mapping[str, Mapping[str, Any]]]

    @classmethod
    def load(cls, chapters: Sequence[str], root: Path | None = None) -> Results:
        """Read ``<root>/results/<chapter>/*.json`` for each chapter (root: ``artifacts_dir()``).

        Reads only: a chapter without a folder has no results (no folder is created).

        Raises:
            CacheError: a results file is not valid JSON or lacks ``model`` / ``numbers``.
        """
        root = artifacts_dir() if root is None else root
        docs: dict[str, dict[str, Mapping[str, Any]]] = {}
        for chapter in dict.fromkeys(chapters):
            docs[chapter] = {}
            folder = root / "results" / chapter
            for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                try:
                    doc = json.loads(f.read_text())
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise CacheError(f"{f} is corrupt. Delete it and rerun the chapter.") from None
                if (
                    not isinstance(doc, dict)
                    or not isinstance(doc.get("numbers"), dict)
                    or "model" not in doc
                ):
                    raise CacheError(
                        f"{f} is not a chapter result (no 'model' or 'numbers'). "
                        "Delete it and rerun the chapter."
                    )
                docs[chapter][str(doc["model"])] = doc
        return cls(docs)

    def get(self, chapter: str, model: str) -> Mapping[str, Any] | None:
        """The document ``chapter`` saved under ``model``, or ``None``."""
        return self.docs.get(chapter, {}).get(model)

    def models(self) -> list[str]:
        """Every model some chapter saved a result under (except chapter 3's ``"all"``)."""
        return sorted({m for d in self.docs.values() for m in d} - {"all"})

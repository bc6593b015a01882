"""persona_axis: the library behind the book "The Assistant Axis, reproduced".

Layers, each a subpackage, listed in ``LAYERS`` from the bottom up; imports point only down that
list (``tests/test_imports.py``), and the contributor page shows the same table.

The names a chapter opens with are exported here (``from persona_axis import persona_space``),
loaded on first use so that ``import persona_axis`` stays light.
"""

from __future__ import annotations

import importlib
import warnings as _warnings
from typing import Any

# tqdm.auto (imported by transformers) warns in notebooks without ipywidgets; the book uses text bars
_warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"

#: The layers from the bottom up: ``(subpackage, what it holds)``. A module imports only from its
#: own layer and the ones before it.
LAYERS: tuple[tuple[str, str], ...] = (
    ("core", "paths, hardware, the store (the one cache), presets, stats; nothing about models"),
    ("model", "the models (registry, fetch, load, fingerprint), chat templates, hooks, layer bands"),
    ("engine", "generation that records activations: decode loop, prefix sharing, vLLM, speed"),
    ("judge", "the rubric, the sentence embedder, the offline and LLM judges, trait scoring"),
    ("evals", "the jailbreak and capability sets and their scorers"),
    ("persona", "catalogue, rollouts and labels, role vectors, persona space, the Assistant Axis"),
    ("interventions", "steering, capping, drift in conversations"),
    ("analysis", "the rated numbers with their intervals; the capping sweep"),
    ("claims", "the paper's claims, the rules that rate ours, results, the dashboard"),
    ("viz", "figures, interactive maps, figure data, the live demo"),
    ("site", "the book's build, the course page, the browser check, the GPU smoke run, Sphinx extensions"),
)

#: ``name -> module`` of every exported name: the one list of the public API.
_EXPORTS: dict[str, str] = {
    "preset": "core.presets",
    "Store": "core.store",
    "load_model": "model.models",
    "record": "model.hooks",
    "steer": "model.hooks",
    "cap": "model.hooks",
    "Sampling": "engine.rollouts",
    "generate": "engine.rollouts",
    "load_catalogue": "persona.catalogue",
    "persona_space": "persona.pipeline",
    "get_axis": "persona.pipeline",
    "Axis": "persona.axis",
    "role_vectors": "persona.space",
    "pca": "persona.space",
    "save_result": "claims.results",
    "load_result": "claims.results",
    "figure_data": "viz.figdata",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'persona_axis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

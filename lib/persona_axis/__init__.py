"""persona_axis: the library behind the book "The Assistant Axis, reproduced".

Modules: ``models`` (embedded models), ``chat`` (rendering and response spans), ``hooks``
(``record``, ``steer``, ``cap``), ``catalogue`` (roles, traits, questions), ``rollouts``
(generation that records activations), ``runs`` (cached persona-space rollouts), ``store``,
``judge`` (a package: ``rubric``, ``embedder``, ``offline``, ``llm``, ``agreement``,
``categories``), ``space`` (role vectors, PCA), ``axis`` (the Assistant Axis), ``steering``,
``capping`` (the intervention and its calibration), ``capping_eval`` (the capping chapter's
evaluation harness), ``drift``, ``evals`` (a package: ``items``, ``scoring``), ``results``,
``plots``, ``presets``, ``build`` (the book), ``sitecheck`` (the built site opened in headless
Chromium), ``sphinx_assets`` (a Sphinx extension for the book).

The names a chapter or a user needs are re-exported here (``from persona_axis import
persona_space``), loaded on first use so that ``import persona_axis`` stays light.
"""

from __future__ import annotations

import importlib
import warnings as _warnings
from typing import TYPE_CHECKING, Any

# tqdm.auto (imported by transformers) warns in notebooks without ipywidgets; the book uses text bars
_warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"

#: ``name -> module`` of every re-exported name.
_EXPORTS: dict[str, str] = {
    "ModelSpec": "models",
    "load_model": "models",
    "model_id": "fingerprint",
    "Catalogue": "catalogue",
    "load_catalogue": "catalogue",
    "PersonaSpace": "pipeline",
    "persona_space": "pipeline",
    "persona_rollouts": "pipeline",
    "get_axis": "pipeline",
    "Axis": "axis",
    "Calibration": "axis",
    "calibrate": "axis",
    "contrast_axis": "axis",
    "threshold": "axis",
    "find_layers": "hooks",
    "record": "hooks",
    "steer": "hooks",
    "cap": "hooks",
    "Sampling": "rollouts",
    "generate": "rollouts",
    "teacher_force": "rollouts",
    "Rollouts": "runs",
    "collect": "runs",
    "persona_jobs": "runs",
    "trait_jobs": "runs",
    "trait_rollouts": "runs",
    "rescore": "runs",
    "label": "labels",
    "RoleVectors": "space",
    "PCAResult": "space",
    "role_vectors": "space",
    "default_vector": "space",
    "pca": "space",
    "trait_vectors": "space",
    "sweep": "steering",
    "typical_norm": "steering",
    "CapSetting": "capping",
    "CapPlan": "capping",
    "plan_cap": "capping",
    "DriftMonitor": "drift",
    "DriftReport": "drift",
    "converse": "drift",
    "OfflineJudge": "judge",
    "LLMJudge": "judge",
    "Judgement": "judge",
    "preset": "presets",
    "PersonaSpacePreset": "presets",
    "Store": "store",
    "artifacts_dir": "store",
    "save_result": "results",
    "load_result": "results",
}

__all__ = [
    "Axis",
    "Calibration",
    "CapPlan",
    "CapSetting",
    "Catalogue",
    "DriftMonitor",
    "DriftReport",
    "Judgement",
    "LLMJudge",
    "ModelSpec",
    "OfflineJudge",
    "PCAResult",
    "PersonaSpace",
    "PersonaSpacePreset",
    "RoleVectors",
    "Rollouts",
    "Sampling",
    "Store",
    "artifacts_dir",
    "calibrate",
    "cap",
    "collect",
    "contrast_axis",
    "converse",
    "default_vector",
    "find_layers",
    "generate",
    "get_axis",
    "label",
    "load_catalogue",
    "load_model",
    "load_result",
    "model_id",
    "pca",
    "persona_jobs",
    "persona_rollouts",
    "persona_space",
    "plan_cap",
    "preset",
    "record",
    "rescore",
    "role_vectors",
    "save_result",
    "steer",
    "sweep",
    "teacher_force",
    "threshold",
    "trait_jobs",
    "trait_rollouts",
    "trait_vectors",
    "typical_norm",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'persona_axis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from .axis import Axis, Calibration, calibrate, contrast_axis, threshold
    from .capping import CapPlan, CapSetting, plan_cap
    from .catalogue import Catalogue, load_catalogue
    from .drift import DriftMonitor, DriftReport, converse
    from .hooks import cap, find_layers, record, steer
    from .judge import Judgement, LLMJudge, OfflineJudge
    from .labels import label
    from .fingerprint import model_id
    from .models import ModelSpec, load_model
    from .pipeline import PersonaSpace, get_axis, persona_rollouts, persona_space
    from .presets import PersonaSpacePreset, preset
    from .results import load_result, save_result
    from .rollouts import Sampling, generate, teacher_force
    from .runs import (
        Rollouts,
        collect,
        persona_jobs,
        rescore,
        trait_jobs,
        trait_rollouts,
    )
    from .space import (
        PCAResult,
        RoleVectors,
        default_vector,
        pca,
        role_vectors,
        trait_vectors,
    )
    from .steering import sweep, typical_norm
    from .store import Store, artifacts_dir

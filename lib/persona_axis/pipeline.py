"""The data path as one call: catalogue -> rollouts -> labels -> role vectors -> axis -> calibration.

Every chapter that works on the persona space opens with ``persona_space`` and reads what it
returns; nothing downstream rebuilds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .axis import Axis, calibrate, contrast_axis
from .catalogue import Catalogue, pick_roles
from .judge import OfflineJudge
from .labels import label
from .models import ModelSpec
from .rollouts import Sampling
from .runs import Rollouts, collect, persona_jobs
from .space import role_vectors
from .store import artifacts_dir, config_hash

__all__ = ["persona_rollouts", "get_axis", "axis_path"]


def persona_rollouts(model: Any, tok: Any, spec: ModelSpec, cat: Catalogue, params: Any, *,
                     judge: Any = None, seed: int = 0, progress: bool = True) -> Rollouts:
    """The persona-space rollouts of a chapter preset (``presets.preset("persona_space", ...)``), labelled.

    Every chapter that needs the persona space calls this with the same parameters and so loads
    the same cached rollouts and labels. ``judge=None`` uses the offline judge.
    """
    jobs = persona_jobs(cat, spec, n_prompts=params["n_prompts"], n_questions=params["n_questions"],
                        roles=pick_roles(cat, params["roles"]))
    ro = collect(model, tok, spec, jobs, Sampling(max_new_tokens=params["max_new_tokens"], seed=seed),
                 batch_size=params["batch_size"], progress=progress)
    if judge is None:
        judge = OfflineJudge()
    return label(ro, cat, judge, progress=progress)


def axis_path(model: str, key: str) -> Path:
    """Where chapter 2 saves the axis of a model built from the rollouts with store key ``key``."""
    return artifacts_dir() / "axes" / f"{model.replace('/', '__')}-{key}.safetensors"


def get_axis(ro: Any, params: dict[str, Any], *, percentiles: Sequence[float] = (1, 25, 50, 75)) -> Axis:
    """The Assistant Axis of a set of persona-space rollouts, built once and cached.

    The paper's contrast axis: mean of all default rollouts minus the mean of the "fully"
    role-playing role vectors (label 3, at least ``params["min_count"]`` rollouts; every rollout
    of a role when ``params["labels"]`` is ``None``). Calibration percentiles of the projections
    of all rollouts (roles and default) are stored in ``info["percentiles"][layer][p]``.

    Args:
        ro: labelled ``runs.Rollouts`` (from ``runs.persona_rollouts``).
        params: the chapter preset (``labels``, ``min_count``).
    """
    labels = [3] if params.get("labels") else None
    min_count = int(params["min_count"]) if labels else 1
    key = config_hash({"rollouts": ro.key, "labels": labels, "min_count": min_count, "percentiles": list(percentiles)})
    path = axis_path(ro.model, key)
    if path.exists():
        return Axis.load(path)
    fully = role_vectors(ro.table, ro.acts, ro.layers, labels=labels, min_count=min_count)
    defaults = ro.acts[torch.tensor((ro.table["group"] == "default").to_numpy())]
    axis = contrast_axis(defaults, fully.vectors, ro.layers, model=ro.model,
                         method="contrast: mean(default rollouts) - mean('fully' role vectors)",
                         info={"rollouts": ro.key, "labels": labels, "min_count": min_count, "n_fully_vectors": len(fully.names),
                               "n_default_rollouts": len(defaults)})
    cal = calibrate(axis, ro.acts, ro.layers, percentiles)
    axis.info["percentiles"] = {str(layer): {str(p): v for p, v in q.items()} for layer, q in cal.items()}
    axis.save(path)
    return axis

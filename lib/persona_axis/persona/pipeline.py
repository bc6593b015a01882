"""The data path as one call: catalogue -> rollouts -> labels -> role vectors -> axis -> calibration.

``persona_space(model, preset)`` is what a chapter opens with: it generates (or loads) the
persona-space rollouts of a preset, labels them with a judge, averages the role vectors the
axis is made of, builds the Assistant Axis and calibrates it on every rollout. Each step is
cached through ``store.Store`` under a key made of everything that produced it (see
``book/contributing.md``), so a chapter reads, never rebuilds, and a changed input (another
judge, another catalogue, other weights) never reads an old result.

Example:
    >>> ps = persona_space("smollm2-135m-instruct", "quick")                     # doctest: +SKIP
    >>> ps.axis.project(ps.rollouts.layer(15), 15)      # (n_rollouts,) projections
    >>> ps.calibration.percentile(15, 10)               # any percentile, any layer
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from persona_axis.core.presets import PersonaSpacePreset
from persona_axis.core.presets import preset as get_preset
from persona_axis.core.store import Store, atomic_save_tensors, load_tensors
from persona_axis.judge import OfflineJudge
from persona_axis.model.models import ModelSpec, load_model
from persona_axis.persona.axis import Axis, Calibration, calibrate, contrast_axis
from persona_axis.persona.catalogue import Catalogue, load_catalogue
from persona_axis.persona.labels import label
from persona_axis.persona.runs import Rollouts, preset_rollouts
from persona_axis.persona.space import RoleVectors, default_vector, role_vectors
from persona_axis.persona.stream import StoreSums, calibrate_store, reduce_store

if TYPE_CHECKING:
    import pandas as pd
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["PersonaSpace", "persona_space", "persona_rollouts", "get_axis", "axis_filter"]

AXIS_METHOD = "contrast: mean(default rollouts) - mean('fully' role vectors)"


@dataclass
class PersonaSpace:
    """One model's persona space, as every chapter reads it.

    Attributes:
        spec: the model.
        preset: the persona-space parameters it was made with.
        rollouts: the labelled rollouts: ``table`` (one row per rollout, with ``label``) and
            ``acts`` ``(n_rollouts, n_layers, hidden)``, mean response activations per layer.
        role_vectors: the role vectors the axis is made of (the preset's label filter).
        default_vector: ``(n_layers, hidden)`` mean activation of the default rollouts.
        axis: the Assistant Axis, pointing from role-playing toward the Assistant, carrying
            ``calibration``.
        calibration: projections of every rollout (roles and default) on the axis, per layer;
            ``calibration.percentile(layer, p)`` for any ``p``.
    """

    spec: ModelSpec
    preset: PersonaSpacePreset
    rollouts: Rollouts
    role_vectors: RoleVectors
    default_vector: torch.Tensor
    axis: Axis
    calibration: Calibration

    @property
    def labels(self) -> pd.Series:
        """The judge's 0-3 label of every rollout (``None`` for the default rollouts)."""
        return self.rollouts.table["label"]

    @property
    def layers(self) -> list[int]:
        """The recorded layers (the second axis of ``rollouts.acts``)."""
        return self.rollouts.layers

    def threshold(self, layer: int, percentile: float) -> float:
        """The ``percentile``-th percentile (0-100) of the rollouts' projections at ``layer``."""
        return self.calibration.percentile(layer, percentile)


def _as_preset(preset: str | PersonaSpacePreset) -> PersonaSpacePreset:
    if isinstance(preset, str):
        return get_preset("persona_space", preset)
    missing = set(PersonaSpacePreset.__required_keys__) - set(preset)
    if missing:
        raise KeyError(
            f"the persona-space preset lacks {sorted(missing)}; start from presets.preset('persona_space', 'book')"
        )
    return preset


def persona_rollouts(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    spec: ModelSpec,
    cat: Catalogue,
    params: PersonaSpacePreset,
    *,
    judge: Any = None,
    seed: int = 0,
    progress: bool = True,
) -> Rollouts:
    """The persona-space rollouts of a preset (``presets.preset("persona_space", ...)``), labelled.

    Every chapter that needs the persona space gets the same cached rollouts and labels from
    the same parameters. ``judge=None`` uses the offline judge. The preset's ``store_layers``
    and ``acts_dtype`` choose the store (``runs.store_options``): the ``paper`` preset keeps the
    middle layer and the capping bands in bf16, memory-mapped. Its ``engine`` (``"book"`` if
    absent, or ``"vllm"``) chooses what generates them (``runs.engine_for``): with ``"vllm"`` a
    chapter reads what ``jobs.run_jobs`` wrote with the same preset, and starts vLLM only for
    chunks that are missing.
    """
    ro = preset_rollouts(model, tok, spec, cat, params, "persona", seed=seed, progress=progress)
    return label(ro, cat, OfflineJudge() if judge is None else judge, progress=progress)


def axis_filter(params: PersonaSpacePreset) -> tuple[list[int] | None, int]:
    """The role vectors the axis averages: ``([3], min_count)`` ("fully" role-playing, at least
    ``min_count`` rollouts) when the preset filters by label, else ``(None, 1)`` (every rollout)."""
    if params["labels"]:
        return [3], int(params["min_count"])
    return None, 1


def _sums(ro: Rollouts) -> StoreSums:
    """One streaming pass over a labelled store: sums per (group, name, label)."""
    labs = [None if lab is None or lab != lab else int(lab) for lab in ro.table["label"]]
    return reduce_store(ro.path, labs)


def get_axis(ro: Rollouts, params: PersonaSpacePreset) -> Axis:
    """The Assistant Axis of labelled rollouts, with its calibration, built once and cached.

    The paper's contrast axis: the mean of all default rollouts minus the mean of the "fully"
    role-playing role vectors (``axis_filter``). Calibrated on every rollout (roles and
    default), its ``population`` counted: ``axis.calibration`` (capping adds the trait rollouts,
    as the paper does: ``capping.calibration_population``). Cached in ``Store("axis", ...)`` keyed by the rollouts,
    their labels (hence the judge) and the filter.

    Args:
        ro: labelled rollouts (``persona_rollouts``, or ``runs.rescore`` of them).
        params: the persona-space preset (``labels``, ``min_count``).
    """
    if ro.labels_key is None or "label" not in ro.table:
        raise ValueError("the rollouts are not labelled; label them with labels.label(ro, cat, judge) first")
    labels, min_count = axis_filter(params)
    store = Store(
        "axis", {"rollouts": ro.key, "labels": ro.labels_key, "filter": labels, "min_count": min_count}
    )
    axis_file, cal_file = store.path / "axis.safetensors", store.path / "calibration.safetensors"
    population = {str(g): int(n) for g, n in ro.table["group"].value_counts().items()}
    if axis_file.exists() and cal_file.exists():
        axis = Axis.load(axis_file)
        tensors, meta = load_tensors(cal_file)
        axis.calibration = Calibration(
            tensors["projections"], json.loads(meta["layers"]), population, (str(ro.key),)
        )
        return axis
    if ro.mapped:  # one pass for the vectors, one for the projections: memory does not grow with the rollouts
        sums = _sums(ro)
        fully = sums.role_vectors(labels=labels, min_count=min_count)
        defaults, n_default = sums.default_vector()[None], sums.n_default()
    else:
        fully = role_vectors(ro.table, ro.acts, ro.layers, labels=labels, min_count=min_count)
        defaults = ro.acts[torch.tensor((ro.table["group"] == "default").to_numpy())]
        n_default = len(defaults)
    axis = contrast_axis(
        defaults,
        fully.vectors,
        ro.layers,
        model=ro.model,
        method=AXIS_METHOD,
        info={
            "rollouts": ro.key,
            "labels_key": ro.labels_key,
            "labels": labels,
            "min_count": min_count,
            "n_fully_vectors": len(fully.names),
            "n_default_rollouts": n_default,
        },
    )
    base = calibrate_store(ro.path, axis, ro.layers) if ro.mapped else calibrate(axis, ro.acts, ro.layers)
    cal = Calibration(base.projections, list(ro.layers), population, (str(ro.key),))
    # a summary of the calibration for readers of the file; thresholds come from axis.calibration
    axis.info["percentiles"] = {
        str(layer): {str(p): v for p, v in q.items()} for layer, q in cal.percentiles((1, 25, 50, 75)).items()
    }
    atomic_save_tensors(cal_file, {"projections": cal.projections}, {"layers": json.dumps(cal.layers)})
    axis.save(axis_file)
    axis.calibration = cal
    return axis


def persona_space(
    model: str | tuple[PreTrainedModel, PreTrainedTokenizerBase, ModelSpec],
    preset: str | PersonaSpacePreset = "book",
    *,
    judge: Any = None,
    catalogue: Catalogue | str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
) -> PersonaSpace:
    """The persona space of one model: rollouts, labels, role vectors, default, axis, calibration.

    Args:
        model: a name for ``models.load_model`` (embedded short name, local folder, hub id), or
            the ``(model, tokenizer, spec)`` it returned (the chapters load the model once and
            use it afterwards).
        preset: ``"tiny"``, ``"quick"``, ``"book"``, ``"paper"`` or a ``PersonaSpacePreset``.
        judge: labels the role rollouts (default ``judge.OfflineJudge()``); anything with
            ``judge(role_name, role_description, responses)`` and ``identity()``.
        catalogue: a ``Catalogue``, a folder in the paper's release layout, or ``None`` for the
            book's catalogue.
        seed: sampling seed of the rollouts.
    """
    lm, tok, spec = load_model(model) if isinstance(model, str) else model
    params = _as_preset(preset)
    cat = catalogue if isinstance(catalogue, Catalogue) else load_catalogue(catalogue)
    ro = persona_rollouts(lm, tok, spec, cat, params, judge=judge, seed=seed, progress=progress)
    labels, min_count = axis_filter(params)
    axis = get_axis(ro, params)
    assert axis.calibration is not None
    if ro.mapped:
        sums = _sums(ro)
        rv, dv = sums.role_vectors(labels=labels, min_count=min_count), sums.default_vector()
    else:
        rv = role_vectors(ro.table, ro.acts, ro.layers, labels=labels, min_count=min_count)
        dv = default_vector(ro.table, ro.acts)
    return PersonaSpace(
        spec=spec,
        preset=params,
        rollouts=ro,
        role_vectors=rv,
        default_vector=dv,
        axis=axis,
        calibration=axis.calibration,
    )

"""The paper's released vectors, read into the book's own types.

The paper's authors publish the vectors behind their numbers as the Hugging Face dataset
``lu-christina/assistant-axis-vectors`` (``RELEASE_REPO``): for Gemma 2 27B, Qwen 3 32B and Llama
3.3 70B, the axis, the default vector, 275 role vectors and 240 trait vectors, each
``(n_layers, hidden)`` in bfloat16, and capping configurations for Qwen and Llama. They enter the
book's data path at "role / trait vectors": ``load_release`` returns a ``ReleaseVectors`` whose role
and trait vectors are ``space.RoleVectors``, whose axis is an ``axis.Axis``, all float32, so every
analysis after that point runs on them unchanged. Layout (one folder per model)::

    <model>/assistant_axis.pt            (n_layers, hidden), or {"axis": tensor, ...}
    <model>/default_vector.pt            (n_layers, hidden): mean of the default rollouts
    <model>/role_vectors/<role>.pt       one per role (file stem = role name)
    <model>/trait_vectors/<trait>.pt     one per trait
    <model>/capping_config.pt            Qwen and Llama: {"vectors": ..., "experiments": ...}

A role, trait or default file holds a tensor or the official pipeline's dict
``{"vector": tensor, "type": ..., "role": ...}``, and nothing else. Every file is read with
``torch.load(..., weights_only=True)``: a file from the internet is never unpickled as code, and a
file that needs more than tensors and plain containers is refused (``ReleaseError``, naming it),
never loaded another way.

The release comes from a local folder in this layout, or from the hub through
``huggingface_hub.snapshot_download`` into the usual Hugging Face cache, fetching only the files
asked for (``allow_patterns``). Without the network (``HF_HUB_OFFLINE``, no connection) and
without those files in the cache, ``ReleaseUnavailable`` says which command downloads them::

    python -m persona_axis.persona.release fetch gemma-2-27b      # or no name: all three models

``write_synthetic_release`` writes a small release in the same layout with a planted structure
(known PC1 share, known axis): the tests read it, and the chapter runs on it when the real release
is not there, labelled as what it is.

Example:
    >>> rel = load_release("gemma-2-27b", layers=[22])                 # doctest: +SKIP
    >>> rel.roles.vectors.shape                                         # doctest: +SKIP
    torch.Size([275, 1, 4608])
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    import pandas as pd

from persona_axis.persona.axis import SIGN_CONVENTION, Axis, contrast_axis
from persona_axis.persona.space import RoleVectors, pca

__all__ = [
    "RELEASE_REPO",
    "ReleaseModel",
    "RELEASE_MODELS",
    "PARTS",
    "ReleaseError",
    "ReleaseUnavailable",
    "CappingExperiment",
    "CappingConfig",
    "ReleaseVectors",
    "allow_patterns",
    "fetch_command",
    "download",
    "in_cache",
    "load_release",
    "REFERENCE",
    "reference_check",
    "SyntheticRelease",
    "write_synthetic_release",
    "main",
]

RELEASE_REPO = "lu-christina/assistant-axis-vectors"


@dataclass(frozen=True)
class ReleaseModel:
    """One model folder of a release: what its files must look like.

    Attributes:
        name: the folder name (``"gemma-2-27b"``), also the name results are saved under.
        hub_id: the model the vectors were computed on (``"google/gemma-2-27b-it"``).
        n_layers, hidden_size: the shape of every file, ``(n_layers, hidden_size)``.
        target_layer: the middle layer of the official code (Gemma 22, Qwen 32, Llama 40).
        n_roles, n_traits: how many role and trait files the folder holds.
        capping: whether the folder has ``capping_config.pt``.
        recommended_cap: the capping experiment the official code recommends (``""``: none).
        synthetic: a test release written by ``write_synthetic_release``, not the paper's.
    """

    name: str
    hub_id: str
    n_layers: int
    hidden_size: int
    target_layer: int
    n_roles: int = 275
    n_traits: int = 240
    capping: bool = False
    recommended_cap: str = ""
    synthetic: bool = False


#: The three models of the release (shapes and middle layers from the official code).
RELEASE_MODELS: dict[str, ReleaseModel] = {
    "gemma-2-27b": ReleaseModel("gemma-2-27b", "google/gemma-2-27b-it", 46, 4608, 22),
    "qwen-3-32b": ReleaseModel(
        "qwen-3-32b", "Qwen/Qwen3-32B", 64, 5120, 32, capping=True, recommended_cap="layers_46:54-p0.25"
    ),
    "llama-3.3-70b": ReleaseModel(
        "llama-3.3-70b",
        "meta-llama/Llama-3.3-70B-Instruct",
        80,
        8192,
        40,
        capping=True,
        recommended_cap="layers_56:72-p0.25",
    ),
}

#: The parts of a model folder ``load_release`` can read.
PARTS: tuple[str, ...] = ("axis", "default", "roles", "traits", "capping")

_FILES = {
    "axis": "assistant_axis.pt",
    "default": "default_vector.pt",
    "roles": "role_vectors",
    "traits": "trait_vectors",
    "capping": "capping_config.pt",
}
_VECTOR_KEYS = {"vector", "type", "role"}
_EXPERIMENT_ID = re.compile(r"^layers_(\d+):(\d+)-p([0-9.]+)$")


class ReleaseError(ValueError):
    """A release folder or file is not in the release layout; the message names the file."""


class ReleaseUnavailable(RuntimeError):
    """The release is neither in a given folder nor in the local cache, and cannot be downloaded now."""


@dataclass(frozen=True)
class CappingExperiment:
    """One experiment of a capping configuration.

    Attributes:
        id: its name, ``"layers_A:B-pP"`` (layers ``A..B-1``, percentile ``P`` as a fraction).
        caps: ``layer -> threshold``: a ceiling on the projection onto that layer's capping vector
            (the official code's convention: ``h -= max(<h, v> - cap, 0) v``, ``v`` the unit vector).
        band: ``(first, last)`` layer of the band, from the id (``None`` if the id has another form).
        percentile: ``P`` from the id, as a fraction (0.25), or ``None``.
    """

    id: str
    caps: dict[int, float]
    band: tuple[int, int] | None
    percentile: float | None


@dataclass(frozen=True)
class CappingConfig:
    """A model's capping configuration.

    Attributes:
        vectors: ``layer -> (hidden,)`` float32 capping vector (the official code caps the
            vector that points from the Assistant toward role-playing, the axis negated).
        experiments: every experiment, in the file's order.
    """

    vectors: dict[int, torch.Tensor]
    experiments: list[CappingExperiment]

    def experiment(self, id: str) -> CappingExperiment:
        for e in self.experiments:
            if e.id == id:
                return e
        raise KeyError(
            f"no capping experiment {id!r}; the configuration has {len(self.experiments)} "
            f"(e.g. {', '.join(e.id for e in self.experiments[:3])})"
        )


@dataclass
class ReleaseVectors:
    """One model's released vectors, at the layers asked for.

    Attributes:
        model: the folder's ``ReleaseModel``.
        layers: the layer index of the second axis of every tensor below.
        axis: the released axis (an ``Axis``: default minus mean role vector, toward the Assistant).
        default: ``(len(layers), hidden)`` the released default vector.
        roles: role vectors, sorted by name; ``labels`` are 3 (the official code keeps the
            rollouts judged fully in role), ``counts`` 0 (the release does not give them).
        traits: trait vectors (``labels`` ``None``, ``counts`` 0), sorted by name.
        capping: the capping configuration (all layers), where the folder has one.
        source: the model folder read.
        Parts not asked for are ``None``.
    """

    model: ReleaseModel
    layers: list[int]
    axis: Axis | None = None
    default: torch.Tensor | None = None
    roles: RoleVectors | None = None
    traits: RoleVectors | None = None
    capping: CappingConfig | None = None
    source: Path = field(default_factory=Path)

    def contrast_axis(self) -> Axis:
        """The axis recomputed as the paper defines it, from the release's own default and role
        vectors: ``default - mean(role vectors)`` at every layer (``axis.contrast_axis``)."""
        if self.default is None or self.roles is None:
            raise ValueError("load the 'default' and 'roles' parts to recompute the axis")
        return contrast_axis(
            self.default[None],
            self.roles.vectors,
            self.layers,
            model=self.model.name,
            method="contrast: released default - mean(released role vectors)",
            info={"source": str(self.source)},
        )


# ------------------------------------------------------------------------------------------------
# The hub
# ------------------------------------------------------------------------------------------------


def _specs(models: Iterable[str | ReleaseModel] | None) -> list[ReleaseModel]:
    out = []
    for m in RELEASE_MODELS.values() if models is None else models:
        if isinstance(m, ReleaseModel):
            out.append(m)
        elif m in RELEASE_MODELS:
            out.append(RELEASE_MODELS[m])
        else:
            raise KeyError(f"unknown release model {m!r}; the release has {', '.join(RELEASE_MODELS)}")
    return out


def _check_parts(parts: Sequence[str]) -> None:
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown part(s) {sorted(unknown)}; choose from {', '.join(PARTS)}")


def allow_patterns(
    models: Iterable[str | ReleaseModel] | None = None, parts: Sequence[str] = PARTS
) -> list[str]:
    """The files of ``parts`` for ``models`` (default: all three), as ``snapshot_download`` patterns,
    in the order of ``PARTS``."""
    _check_parts(parts)
    out = []
    for spec in _specs(models):
        for part in (p for p in PARTS if p in parts):
            if part == "capping" and not spec.capping:
                continue
            name = _FILES[part]
            out.append(f"{spec.name}/{name}/*.pt" if part in ("roles", "traits") else f"{spec.name}/{name}")
    return out


def fetch_command(models: Iterable[str | ReleaseModel] | None = None) -> str:
    """The shell command that downloads ``models`` ahead of time."""
    names = [] if models is None else [s.name for s in _specs(models)]
    return " ".join(["python -m persona_axis.persona.release fetch", *names])


def download(
    models: Iterable[str | ReleaseModel] | None = None,
    parts: Sequence[str] = PARTS,
    *,
    local_files_only: bool = False,
) -> Path:
    """Fetch ``parts`` of ``models`` from the hub into the Hugging Face cache; return the snapshot folder.

    Files already in the cache are not downloaded again; ``huggingface_hub`` shows its progress bar.

    Raises:
        ReleaseUnavailable: the hub cannot be reached (``HF_HUB_OFFLINE``, no network) and the
            cache has no copy, or the hub refused; the message gives the command to run.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    import os

    specs = _specs(models)
    try:
        path = snapshot_download(
            repo_id=RELEASE_REPO,
            repo_type="dataset",
            allow_patterns=allow_patterns(specs, parts),
            local_files_only=local_files_only,
        )
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as e:
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
        why = (
            "it is not in the local Hugging Face cache"
            if local_files_only
            else "HF_HUB_OFFLINE is set and the local Hugging Face cache has no copy"
            if offline
            else f"the hub could not be reached and the local cache has no copy ({type(e).__name__})"
        )
        raise ReleaseUnavailable(
            f"the paper's released vectors ({RELEASE_REPO}, {', '.join(s.name for s in specs)}) "
            f"are not available: {why}. On a machine with internet, download them with:\n"
            f"    {fetch_command(specs)}\n"
            "(about 1.2 GB for all three models; HF_HUB_OFFLINE must be unset), or pass the "
            "folder of a copy in the release layout."
        ) from None
    return Path(path)


def in_cache(models: Iterable[str | ReleaseModel] | None = None, parts: Sequence[str] = PARTS) -> Path | None:
    """The cached snapshot folder if it holds every file of ``parts`` for ``models``, else ``None``
    (no network: only the local cache is looked at)."""
    try:
        root = download(models, parts, local_files_only=True)
    except ReleaseUnavailable:
        return None
    for pattern in allow_patterns(models, parts):
        if not any(root.glob(pattern)):
            return None
    return root


# ------------------------------------------------------------------------------------------------
# Reading files
# ------------------------------------------------------------------------------------------------


def _load(path: Path) -> Any:
    """``torch.load(path, weights_only=True)``; anything it refuses is refused here, naming the file."""
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        why = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\.\s|\n\n|$)", str(e), re.S)
        detail = " ".join(why.group(1).split()) if why else str(e).splitlines()[0]
        raise ReleaseError(
            f"{path}: refused. torch.load(weights_only=True) cannot read it ({detail}): it holds "
            "something other than tensors and plain containers, or is not a torch file. A file from "
            "the internet is never unpickled as code; delete it and fetch the release again."
        ) from None
    except (RuntimeError, EOFError, OSError) as e:
        raise ReleaseError(
            f"{path}: not a readable torch file ({type(e).__name__}: {str(e)[:200]}); "
            "delete it and fetch the release again"
        ) from None


def _vector(obj: Any, path: Path, name: str | None) -> torch.Tensor:
    """The tensor of a role / trait / default file: a tensor, or ``{"vector", "type", "role"}``."""
    if isinstance(obj, dict):
        keys = set(obj)
        if "vector" not in keys or not keys <= _VECTOR_KEYS:
            raise ReleaseError(
                f"{path}: a dict with keys {sorted(map(str, keys))}; a vector file holds a tensor or "
                "the dict {'vector': tensor, 'type': ..., 'role': ...}"
            )
        role = obj.get("role")
        if name is not None and role is not None and role != name:
            raise ReleaseError(f"{path}: the file says it is role {role!r}, but its name says {name!r}")
        obj = obj["vector"]
    if not isinstance(obj, torch.Tensor):
        raise ReleaseError(
            f"{path}: holds a {type(obj).__name__}, not a tensor (nor the dict "
            "{'vector': tensor, 'type': ..., 'role': ...})"
        )
    return obj


def _check_shape(t: torch.Tensor, path: Path, spec: ReleaseModel) -> None:
    if t.ndim != 2 or t.shape[1] != spec.hidden_size:
        raise ReleaseError(
            f"{path}: shape {tuple(t.shape)}; every file of {spec.name} is (n_layers, hidden) = "
            f"({spec.n_layers}, {spec.hidden_size})"
        )
    if t.shape[0] != spec.n_layers:
        raise ReleaseError(
            f"{path}: {t.shape[0]} layers, but {spec.name} has {spec.n_layers} "
            "(a file of another model, or a truncated one?)"
        )
    if not torch.is_floating_point(t):
        raise ReleaseError(f"{path}: dtype {t.dtype}; the release stores floating-point vectors (bfloat16)")


def _rows(t: torch.Tensor, layers: list[int]) -> torch.Tensor:
    return t[layers].float()


def _layers(spec: ReleaseModel, layers: Sequence[int] | None) -> list[int]:
    if layers is None:
        return list(range(spec.n_layers))
    out = [int(x) for x in layers]
    bad = [x for x in out if not 0 <= x < spec.n_layers]
    if bad or not out:
        raise ValueError(
            f"layers {bad or out} out of range for {spec.name}: valid layers are 0..{spec.n_layers - 1}"
        )
    return out


def _matrix(path: Path, spec: ReleaseModel, layers: list[int], name: str | None = None) -> torch.Tensor:
    t = _vector(_load(path), path, name)
    _check_shape(t, path, spec)
    return _rows(t, layers)


def _axis(path: Path, spec: ReleaseModel, layers: list[int]) -> Axis:
    obj = _load(path)
    info: dict[str, Any] = {"file": str(path)}
    if isinstance(obj, dict):  # the official loader also reads {"axis": tensor, ...}
        if not isinstance(obj.get("axis"), torch.Tensor):
            raise ReleaseError(
                f"{path}: a dict without an 'axis' tensor (keys {sorted(map(str, obj))}); "
                "an axis file holds a tensor or {'axis': tensor, ...}"
            )
        info.update({k: v for k, v in obj.items() if isinstance(v, (int, float, str))})
        obj = obj["axis"]
    if not isinstance(obj, torch.Tensor):
        raise ReleaseError(f"{path}: holds a {type(obj).__name__}, not a tensor")
    _check_shape(obj, path, spec)
    return Axis(
        _rows(obj, layers),
        layers,
        spec.name,
        "released: mean(default) - mean(role vectors), official code",
        SIGN_CONVENTION,
        info,
    )


def _vector_set(
    folder: Path,
    spec: ReleaseModel,
    layers: list[int],
    expected: int,
    what: str,
    labels: int | None,
    progress: bool,
) -> RoleVectors:
    from tqdm.auto import tqdm

    if not folder.is_dir():
        raise ReleaseError(f"{folder}: missing; {spec.name} needs {expected} {what} vector files there")
    other = sorted(
        p.name
        for p in folder.iterdir()
        if (p.suffix != ".pt" or not p.is_file()) and not p.name.startswith(".")
    )
    if other:
        raise ReleaseError(
            f"{folder}: unexpected file(s) {', '.join(other[:5])}; the folder holds one .pt per {what}"
        )
    files = sorted(folder.glob("*.pt"))
    if len(files) != expected:
        raise ReleaseError(
            f"{folder}: {len(files)} {what} vector files, expected {expected} for {spec.name}: "
            f"{'a file is missing (a partial download?)' if len(files) < expected else 'extra files'}"
        )
    out = torch.empty(len(files), len(layers), spec.hidden_size)
    for i, f in enumerate(
        tqdm(files, desc=f"{spec.name} {what} vectors", disable=not progress, file=sys.stderr)
    ):
        out[i] = _matrix(f, spec, layers, f.stem)
    names = [f.stem for f in files]
    return RoleVectors(out, names, [labels] * len(names), [0] * len(names), list(layers))


def _capping(path: Path, spec: ReleaseModel) -> CappingConfig:
    obj = _load(path)
    if not isinstance(obj, dict) or not {"vectors", "experiments"} <= set(obj):
        raise ReleaseError(f"{path}: expected a dict with 'vectors' and 'experiments'")
    raw_vectors, raw_experiments = obj["vectors"], obj["experiments"]
    if not isinstance(raw_vectors, dict) or not isinstance(raw_experiments, list):
        raise ReleaseError(f"{path}: 'vectors' must be a dict and 'experiments' a list")
    by_name: dict[str, int] = {}
    vectors: dict[int, torch.Tensor] = {}
    for name, entry in raw_vectors.items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("vector"), torch.Tensor)
            or not isinstance(entry.get("layer"), int)
        ):
            raise ReleaseError(f"{path}: vector {name!r} must be {{'layer': int, 'vector': tensor}}")
        v, layer = entry["vector"], entry["layer"]
        if v.shape != (spec.hidden_size,) or not 0 <= layer < spec.n_layers:
            raise ReleaseError(
                f"{path}: vector {name!r} has shape {tuple(v.shape)} at layer {layer}; {spec.name} "
                f"needs ({spec.hidden_size},) at a layer in 0..{spec.n_layers - 1}"
            )
        by_name[str(name)] = layer
        vectors[layer] = v.float()
    experiments = []
    for e in raw_experiments:
        if (
            not isinstance(e, dict)
            or not isinstance(e.get("id"), str)
            or not isinstance(e.get("interventions"), list)
        ):
            raise ReleaseError(f"{path}: an experiment must be {{'id': str, 'interventions': [...]}}")
        caps = {}
        for iv in e["interventions"]:
            if not isinstance(iv, dict) or "cap" not in iv:
                continue  # the official code skips interventions without a cap
            if iv.get("vector") not in by_name or not isinstance(iv["cap"], (int, float)):
                raise ReleaseError(
                    f"{path}: experiment {e['id']!r} caps vector {iv.get('vector')!r}, which is not in "
                    "'vectors', or its cap is not a number"
                )
            caps[by_name[iv["vector"]]] = float(iv["cap"])
        m = _EXPERIMENT_ID.match(e["id"])
        band = (int(m.group(1)), int(m.group(2)) - 1) if m else None
        experiments.append(CappingExperiment(e["id"], caps, band, float(m.group(3)) if m else None))
    return CappingConfig(vectors, experiments)


def load_release(
    model: str | ReleaseModel,
    source: str | Path | None = None,
    *,
    layers: Sequence[int] | None = None,
    parts: Sequence[str] = PARTS,
    progress: bool = True,
) -> ReleaseVectors:
    """Read one model's released vectors, as float32, at ``layers`` (default: all).

    Args:
        model: a name of ``RELEASE_MODELS`` or a ``ReleaseModel`` (a synthetic release's).
        source: a folder in the release layout (holding ``<model>/``); ``None``: the hub's copy in
            the Hugging Face cache, downloaded first if it is not there (``download``).
        layers: the layers to keep (fewer layers, less memory: Llama's 275 role vectors at every
            layer take 0.7 GB in float32).
        parts: which of ``PARTS`` to read (``"capping"`` is skipped for a model without one).
        progress: a progress bar per folder of vectors (on stderr).

    Raises:
        ReleaseError: a missing model folder, a missing or extra file, a wrong shape or layer
            count, a file that is not a tensor (or the pipeline's dict), or one that
            ``weights_only`` refuses; the message names the file.
        ReleaseUnavailable: ``source=None``, not in the cache, and the hub cannot be reached.
    """
    _check_parts(parts)
    spec = _specs([model])[0]
    keep = _layers(spec, layers)
    if source is None:
        root = download([spec], parts)
        if not (root / spec.name).is_dir():  # a cache that holds other models only
            raise ReleaseUnavailable(
                f"{spec.name} is not in the cached release ({root}); download it with:\n"
                f"    {fetch_command([spec])}"
            )
    else:
        root = Path(source).expanduser()
        if not root.is_dir():
            raise ReleaseError(
                f"{root}: no such folder; pass a folder in the release layout (holding {spec.name}/), "
                f"or source=None to read the hub's copy"
            )
    folder = root / spec.name
    if not folder.is_dir():
        there = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        raise ReleaseError(
            f"{root}: no folder {spec.name}/ (folders here: {', '.join(there) or 'none'}); "
            f"expected the layout of {RELEASE_REPO}"
        )
    known = {_FILES[p] for p in PARTS if p != "capping" or spec.capping}
    extra = sorted(p.name for p in folder.iterdir() if p.name not in known and not p.name.startswith("."))
    if extra:
        raise ReleaseError(
            f"{folder}: unexpected file(s) {', '.join(extra)}; a model folder holds only "
            f"{', '.join(sorted(known))}"
        )
    for part in parts:
        if (
            (part != "capping" or spec.capping)
            and part not in ("roles", "traits")
            and not (folder / _FILES[part]).is_file()
        ):
            raise ReleaseError(f"{folder / _FILES[part]}: missing")
    rel = ReleaseVectors(spec, keep, source=folder)
    if "axis" in parts:
        rel.axis = _axis(folder / _FILES["axis"], spec, keep)
    if "default" in parts:
        rel.default = _matrix(folder / _FILES["default"], spec, keep, "default")
    if "roles" in parts:
        rel.roles = _vector_set(folder / _FILES["roles"], spec, keep, spec.n_roles, "role", 3, progress)
    if "traits" in parts:
        rel.traits = _vector_set(
            folder / _FILES["traits"], spec, keep, spec.n_traits, "trait", None, progress
        )
    if "capping" in parts and spec.capping:
        rel.capping = _capping(folder / _FILES["capping"], spec)
    return rel


# ------------------------------------------------------------------------------------------------
# The reference check: the official notebook's numbers on the same files
# ------------------------------------------------------------------------------------------------

#: What the official ``notebooks/pca.ipynb`` printed for Gemma 2 27B's 275 role vectors at layer 22
#: (mean-centred, PCA): a check that the release was read correctly, not a claim to rate.
REFERENCE: dict[str, Any] = {
    "model": "gemma-2-27b",
    "layer": 22,
    "n_roles": 275,
    "cumulative": (0.4880164, 0.58600414, 0.65581614, 0.71089774, 0.74415106),
    "n_for": {0.70: 4, 0.80: 8, 0.90: 18, 0.95: 36},
    "source": "safety-research/assistant-axis, notebooks/pca.ipynb (stored output)",
}


@dataclass(frozen=True)
class ReferenceCheck:
    """Our numbers beside the official notebook's, row by row.

    Attributes:
        rows: ``(quantity, official, ours, agrees)``; cumulative shares agree when they differ by
            less than ``tolerance`` (three decimals), counts when they are equal.
        tolerance: the largest difference accepted for a share.
    """

    rows: list[tuple[str, float, float, bool]]
    tolerance: float

    @property
    def ok(self) -> bool:
        return all(r[3] for r in self.rows)

    def frame(self) -> pd.DataFrame:
        """A ``pandas.DataFrame`` with columns quantity, official, ours, agrees."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["quantity", "official notebook", "ours", "agrees"])


def reference_check(
    roles: RoleVectors, layer: int = REFERENCE["layer"], *, tolerance: float = 5e-4
) -> ReferenceCheck:
    """PCA of ``roles`` at ``layer`` (``space.pca``) against ``REFERENCE``.

    Run it on Gemma 2 27B's released role vectors; on any other set it shows how far that set is
    from the official one (the synthetic release disagrees, as it should).
    """
    sp = pca(roles.at(layer), roles.names)
    cum = sp.explained_variance_ratio.double().cumsum(0)
    rows: list[tuple[str, float, float, bool]] = [
        (
            "role vectors",
            float(REFERENCE["n_roles"]),
            float(len(roles.names)),
            len(roles.names) == REFERENCE["n_roles"],
        )
    ]
    for i, ref in enumerate(REFERENCE["cumulative"]):
        ours = float(cum[i]) if i < len(cum) else float("nan")
        rows.append((f"cumulative variance, PCs 1-{i + 1}", ref, ours, abs(ours - ref) < tolerance))
    for frac, ref in REFERENCE["n_for"].items():
        ours = sp.n_for(frac)
        rows.append((f"components for {frac:.0%}", float(ref), float(ours), ours == ref))
    return ReferenceCheck(rows, tolerance)


# ------------------------------------------------------------------------------------------------
# A synthetic release with a planted structure (tests; the chapter's tiny preset)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticRelease:
    """A test release written by ``write_synthetic_release``: where, what, and the planted truth.

    Attributes:
        root: the folder (holding one folder per model).
        models: ``name -> ReleaseModel`` of its models (``synthetic=True``).
        truth: per model, the values planted, from their formulas: ``pc1_share``, ``n_for``
            (``{0.7: k, ...}``), ``default_pc1_distance``, ``cos_axis_pc1`` (``{layer: cos}``),
            ``pc1_composition`` (``{role: cosine of the centred vector with PC1}``).
        vectors: per model, the float32 tensors written (exact in bfloat16): ``roles``
            ``(n, L, d)``, ``traits``, ``default``, ``axis`` (``(L, d)``), with ``role_names``,
            ``trait_names``.
    """

    root: Path
    models: dict[str, ReleaseModel]
    truth: dict[str, dict[str, Any]]
    vectors: dict[str, dict[str, Any]]


def _hadamard(n: int) -> torch.Tensor:
    """Sylvester's ``(n, n)`` matrix of +-1 with orthogonal columns (``n`` a power of two)."""
    h = torch.ones(1, 1)
    while len(h) < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


#: The synthetic models: (name, layers, hidden, role-score coefficients, the two roles swapped).
_SYNTHETIC = (
    ("synthetic-a", 6, 32, (16, 8, 4, 4, 2), ()),
    ("synthetic-b", 8, 64, (16, 12, 4, 2, 2), ((0, 1),)),
    ("synthetic-c", 10, 128, (16, 4, 4, 2, 2), ((0, 1), (2, 3))),
)
#: Off-PC1 component of the default per layer (model ``j`` starts ``j`` entries later):
#: cos(axis, PC1) = 12 / sqrt(144 + e^2).
_DEFAULT_OFF = (35, 16, 5, 9, 9, 9, 5, 0, 16, 16)
_N_SYNTHETIC = 16
_TRAIT_ANCHORS = ("calm", "conscientious", "methodical")


def write_synthetic_release(folder: str | Path) -> SyntheticRelease:
    """Write a small release in the exact layout, with a structure planted so that every number is known.

    Three models (``synthetic-a/b/c``: 6 x 32, 8 x 64, 10 x 128), 16 roles and 16 traits each,
    bfloat16 files in both styles (plain tensors and the pipeline's dicts; the axis of
    ``synthetic-b`` as ``{"axis": ..., "metadata": ...}``), capping configurations for ``b`` and ``c``.
    Every entry is an integer below 256, so bfloat16 holds it exactly. Role ``i`` at layer ``l`` is
    ``s_l (m + sum_k c_k H16[i, k] w_k)``: the centred role vectors have orthogonal principal
    directions ``w_k`` (columns of a Hadamard matrix) with variances ``c_k^2``, so PC1's share is
    ``c_1^2 / sum c_k^2``. The default is ``s_l (m + 12 w_1 + e_l h)`` (``h`` orthogonal to all ``w``), so
    the axis is ``12 w_1 + e_l h``: its cosine with PC1 is ``12 / sqrt(144 + e_l^2)``, and the default
    sits at relative position ``(12 + 16) / 32`` on PC1 (distance 0.125 from the end). ``b`` and ``c``
    swap the scores of one or two pairs of roles of opposite sign, so the three models' PC1
    compositions correlate 0.75 or 0.5. Overwrites ``folder``'s model folders.
    """
    root = Path(folder)
    h16 = _hadamard(_N_SYNTHETIC)
    roles = [f"synthetic-role-{i:02d}" for i in range(_N_SYNTHETIC)]
    traits = sorted([*_TRAIT_ANCHORS, *(f"synthetic-trait-{i:02d}" for i in range(3, _N_SYNTHETIC))])
    models, truth, written = {}, {}, {}
    for j, (name, n_layers, hidden, c, swaps) in enumerate(_SYNTHETIC):
        hd = _hadamard(hidden)
        w = hd[:, 1:6]  # role directions w_1..w_5
        # the default's off-PC1 direction; trait directions
        h_off, t_dirs = hd[:, 6], hd[:, [1, 7, 8]]
        mean = 8 * hd[:, 0] + 4 * hd[:, 9]
        order = list(range(_N_SYNTHETIC))
        for a, b in swaps:
            order[a], order[b] = order[b], order[a]
        scores = h16[order][:, 1:6] * torch.tensor(c, dtype=torch.float32)  # (16, 5), centred columns
        t_scores = h16[:, [1, 2, 3]] * torch.tensor([8.0, 4.0, 2.0])
        scale = [float(2 ** (layer % 3)) for layer in range(n_layers)]
        off = [float(_DEFAULT_OFF[(layer + j) % len(_DEFAULT_OFF)]) for layer in range(n_layers)]
        rv = torch.stack([s * (mean + scores @ w.T) for s in scale], 1)  # (16, L, d)
        tv = torch.stack([s * (2 * hd[:, 10] + t_scores @ t_dirs.T) for s in scale], 1)
        dv = torch.stack([s * (mean + 12 * w[:, 0] + e * h_off) for s, e in zip(scale, off)])
        ax = dv - rv.mean(0)
        assert rv.abs().max() < 256 and dv.abs().max() < 256 and tv.abs().max() < 256
        spec = ReleaseModel(
            name,
            "(synthetic test release)",
            n_layers,
            hidden,
            n_layers // 2,
            _N_SYNTHETIC,
            _N_SYNTHETIC,
            capping=j > 0,
            recommended_cap=f"layers_{n_layers // 2}:{n_layers // 2 + 2}-p0.25" if j > 0 else "",
            synthetic=True,
        )
        _write_model(root / name, spec, j, rv, tv, dv, ax, roles, traits)
        var = torch.tensor(c, dtype=torch.float64) ** 2
        cum = (var / var.sum()).cumsum(0)
        comp = scores[:, 0] / scores.norm(dim=1)
        models[name] = spec
        truth[name] = {
            "pc1_share": float(var[0] / var.sum()),
            "n_for": {f: int((cum >= f - 1e-12).nonzero()[0]) + 1 for f in (0.7, 0.8, 0.9, 0.95)},
            "default_pc1_distance": min((12 + c[0]) / (2 * c[0]), 1 - (12 + c[0]) / (2 * c[0])),
            "cos_axis_pc1": {layer: 12 / (144 + e * e) ** 0.5 for layer, e in enumerate(off)},
            "pc1_composition": dict(zip(roles, comp.tolist())),
        }
        written[name] = {
            "roles": rv,
            "traits": tv,
            "default": dv,
            "axis": ax,
            "role_names": roles,
            "trait_names": traits,
        }
    return SyntheticRelease(root, models, truth, written)


def _write_model(
    folder: Path,
    spec: ReleaseModel,
    j: int,
    rv: torch.Tensor,
    tv: torch.Tensor,
    dv: torch.Tensor,
    ax: torch.Tensor,
    roles: list[str],
    traits: list[str],
) -> None:
    """One model folder, in bfloat16, mixing the file styles the release layout allows."""
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    (folder / "role_vectors").mkdir(parents=True)
    (folder / "trait_vectors").mkdir()
    bf = torch.bfloat16
    torch.save(
        ax.to(bf) if j != 1 else {"axis": ax.to(bf), "metadata": {"note": "synthetic test release"}},
        folder / "assistant_axis.pt",
    )
    torch.save(
        dv.to(bf) if j == 0 else {"vector": dv.to(bf), "type": "mean", "role": "default"},
        folder / "default_vector.pt",
    )
    # synthetic-a mixes both styles, b plain tensors, c the pipeline's dicts
    for i, name in enumerate(roles):
        plain = j == 1 or (j == 0 and i % 2 == 0)
        torch.save(
            rv[i].to(bf) if plain else {"vector": rv[i].to(bf), "type": "pos_3", "role": name},
            folder / "role_vectors" / f"{name}.pt",
        )
    for i, name in enumerate(traits):
        torch.save(tv[i].to(bf), folder / "trait_vectors" / f"{name}.pt")
    if spec.capping:  # the official convention: a ceiling on the opposite vector (role - default)
        vectors = {
            f"layer_{layer}": {"layer": layer, "vector": (-ax[layer]).to(bf)}
            for layer in range(spec.n_layers)
        }
        experiments = [
            {
                "id": f"layers_{a}:{a + 2}-p{p}",
                "interventions": [
                    {"vector": f"layer_{layer}", "cap": -float(p * 10 + layer)} for layer in (a, a + 1)
                ],
            }
            for a in range(spec.n_layers // 2, spec.n_layers - 1, 2)
            for p in (0.25, 0.75)
        ]
        torch.save({"vectors": vectors, "experiments": experiments}, folder / "capping_config.pt")


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m persona_axis.persona.release fetch [MODEL ...]`` downloads ahead of time;
    ``... check [--source DIR]`` prints the reference check (Gemma 2 27B, layer 22)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m persona_axis.persona.release")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help=f"download the release ({RELEASE_REPO}) into the Hugging Face cache")
    f.add_argument("models", nargs="*", help=f"default: all of {', '.join(RELEASE_MODELS)}")
    f.add_argument("--parts", nargs="*", default=list(PARTS), choices=PARTS)
    c = sub.add_parser(
        "check", help="the official notebook's numbers for Gemma 2 27B at layer 22, beside ours"
    )
    c.add_argument(
        "--source", default=None, help="a folder in the release layout (default: the hub's cached copy)"
    )
    args = ap.parse_args(argv)
    try:
        if args.cmd == "fetch":
            root = download(args.models or None, args.parts)
            print(f"{', '.join(args.models or RELEASE_MODELS)}: {root}")
            return 0
        rel = load_release(REFERENCE["model"], args.source, layers=[REFERENCE["layer"]], parts=["roles"])
    except (ReleaseUnavailable, ReleaseError) as e:
        print(e, file=sys.stderr)
        return 2
    assert rel.roles is not None
    check = reference_check(rel.roles)
    print(check.frame().to_string(index=False))
    print(
        "the release reads as the official notebook read it"
        if check.ok
        else "MISMATCH: see the rows marked False"
    )
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())

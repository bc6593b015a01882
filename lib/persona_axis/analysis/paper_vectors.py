"""The paper's released vectors (``persona.release``) through the book's own analyses, with a null.

``release_numbers`` gives, for one model, the numbers chapters 1-3 compute from rollouts, here
from the released mean vectors: PC1's share and the components for 70-95% of the variance, the
default's distance from the nearer end of PC1, cos(axis, PC1) at every layer (the axis recomputed as
the paper defines it, ``default - mean(role vectors)``), the released axis against the recomputed one
at every layer and against PC1 at the middle layer, the roles at each end of PC1, and trait PC1 with
the traits' cosines with the axis. The intervals resample role vectors
(``measures.space_intervals``, ``measures.axis_pc1_intervals``): the release has one mean vector per
role and no rollouts, so the two-level bootstrap of the chapters cannot run here.

``release_nulls`` is the chance level that needs no rollouts, ``analysis.nulls.gaussian_nulls``:
the same statistics on Gaussian vectors with the same count and width as the role vectors, each
coordinate with the mean and spread it has across the released role vectors (the residual
stream's uneven coordinates, without any direction the roles share), the default as released. It
adds what the chapter needs beyond the five rated numbers: the nulls' PC1 compositions, role and
trait, for the cross-model claims, and a cap on the layers the lowest cosine is drawn at.

Example:
    >>> nums = release_numbers(load_release("gemma-2-27b"))            # doctest: +SKIP
    >>> str(nums.intervals["pc1_share"])                                # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from persona_axis.analysis.cross_model import TRAIT_ANCHORS, ModelSpace, trait_compositions
from persona_axis.analysis.measures import _centre, axis_pc1_intervals, bootstrap_many, space_intervals
from persona_axis.analysis.nulls import AXIS_KEYS, SPACE_KEYS, NullDraws, gaussian_nulls, gaussian_vectors
from persona_axis.core.stats import Interval, bootstrap_indices
from persona_axis.persona.release import ReleaseVectors
from persona_axis.persona.space import RoleVectors, composition_correlations, pca, role_composition

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FRACTIONS",
    "ReleaseNumbers",
    "release_space",
    "release_numbers",
    "ReleaseNull",
    "release_nulls",
    "null_layers",
    "null_interval",
    "lowest_pair_null",
    "lowest_pair_overall",
    "rank_agreement",
    "rank_null",
]

#: The variance fractions whose component counts the chapter reports (70% is the rated one).
FRACTIONS: tuple[float, ...] = (0.70, 0.80, 0.90, 0.95)


def release_space(rel: ReleaseVectors, layer: int | None = None) -> ModelSpace:
    """The release's persona space at ``layer`` (default: the model's middle layer) as chapter 3's
    ``ModelSpace``: role vectors (a copy of that layer only, so the rest can be freed), PCA oriented
    so that the default scores positive, the default."""
    if rel.roles is None or rel.default is None:
        raise ValueError("load the 'roles' and 'default' parts")
    layer = rel.model.target_layer if layer is None else layer
    i = rel.layers.index(layer)
    rv = rel.roles
    at = RoleVectors(
        rv.vectors[:, i : i + 1].clone(), list(rv.names), list(rv.labels), list(rv.counts), [layer]
    )
    return ModelSpace(
        rel.model.name, layer, at, pca(at.at(layer), at.names).oriented(rel.default[i]), rel.default[i]
    )


@dataclass
class ReleaseNumbers:
    """One model's numbers from its released vectors.

    Attributes:
        model: the release folder's name.
        layer: the middle layer the persona-space numbers are computed at.
        space: the persona space at ``layer`` (``release_space``).
        intervals: ``pc1_share``, ``n_for_70``, ``default_pc1_distance``, ``cos_axis_pc1_middle``,
            ``cos_axis_pc1_min`` (lowest over layers) with 95% intervals over role vectors.
        n_for: ``{fraction: components}`` for ``FRACTIONS``.
        cos_axis_pc1: ``{layer: cos}`` of the recomputed axis with PC1 (oriented on the default).
        cos_released_pc1_middle: the released axis's cosine with PC1 at ``layer`` (a PCA at every
            layer would cost a minute per model; the released axis's agreement with the
            recomputed one at every layer is ``cos_recomputed_released``).
        cos_recomputed_released: ``{layer: cos}`` of the recomputed axis with the released one.
        ends: ``{"default end": [...], "far end": [...]}`` the roles with the highest and lowest PC1
            scores (up to ten each).
        trait_pc1_share: trait PC1's share of the traits' variance at ``layer`` (``None`` without traits).
        trait_composition: traits x ``PC1`` (trait PC1 oriented toward calm, methodical,
            conscientious: ``cross_model.trait_compositions``).
        trait_axis: ``{trait: cos(trait vector, recomputed axis)}`` at ``layer``.
    """

    model: str
    layer: int
    space: ModelSpace
    intervals: dict[str, Interval]
    n_for: dict[float, int]
    cos_axis_pc1: dict[int, float]
    cos_released_pc1_middle: float
    cos_recomputed_released: dict[int, float]
    ends: dict[str, list[str]]
    trait_pc1_share: float | None = None
    trait_composition: pd.DataFrame | None = None
    trait_axis: dict[str, float] = field(default_factory=dict)


def release_numbers(
    rel: ReleaseVectors, *, n_resamples: int = 2000, seed: int = 0, n_end: int = 10
) -> ReleaseNumbers:
    """Every number of the chapter for one model (see the module docstring).

    Args:
        rel: read with at least the parts ``roles``, ``default`` and ``axis``, at every layer for
            the per-layer cosines (any subset of layers that holds the middle one also works).
        n_resamples: bootstrap resamples of the PCA numbers (``axis_pc1_intervals`` uses half,
            at least 1,000).
    """
    if rel.roles is None or rel.default is None or rel.axis is None:
        raise ValueError("load the 'roles', 'default' and 'axis' parts")
    mid = rel.model.target_layer
    sp = release_space(rel, mid)
    li = rel.layers.index(mid)
    ivs = space_intervals(rel.roles.at(mid), rel.default[li], n_resamples=n_resamples, seed=seed)
    cos = axis_pc1_intervals(
        rel.roles.vectors,
        [True] * len(rel.roles.names),
        rel.default,
        rel.layers,
        mid,
        n_resamples=max(1000, n_resamples // 2),
        seed=seed,
    )
    for k in ("cos_axis_pc1_middle", "cos_axis_pc1_min"):
        iv = cos[k]
        assert isinstance(iv, Interval)
        ivs[k] = iv
    per_layer = cos["per_layer"]
    assert isinstance(per_layer, dict)
    recomputed = rel.contrast_axis()
    released = float(sp.pca.components[0] @ rel.axis.unit(mid))
    recomp = {layer: float(recomputed.unit(layer) @ rel.axis.unit(layer)) for layer in rel.layers}
    scores = sp.pca.scores[:, 0]
    top = max(1, min(n_end, len(scores) // 4))
    order = scores.argsort(descending=True).tolist()
    out = ReleaseNumbers(
        rel.model.name,
        mid,
        sp,
        ivs,
        {f: sp.pca.n_for(f) for f in FRACTIONS},
        {int(layer): float(v) for layer, v in per_layer.items()},
        released,
        recomp,
        {
            "default end": [rel.roles.names[i] for i in order[:top]],
            "far end": [rel.roles.names[i] for i in order[::-1][:top]],
        },
    )
    if rel.traits is not None:
        tv = rel.traits
        out.trait_pc1_share = float(pca(tv.at(mid), tv.names).explained_variance_ratio[0])
        out.trait_composition = trait_compositions(tv, mid)
        out.trait_axis = dict(zip(tv.names, role_composition(tv.at(mid), recomputed.vector(mid)).tolist()))
    return out


# ------------------------------------------------------------------------------------------------
# The chance level: Gaussian vectors with the release's coordinate-wise mean and variance
# ------------------------------------------------------------------------------------------------


@dataclass
class ReleaseNull:
    """The chance level of one release model's numbers (``release_nulls``).

    Attributes:
        stats: ``nulls.NullDraws`` of the five rated numbers (``nulls.SPACE_KEYS`` and
            ``nulls.AXIS_KEYS``); ``stats.intervals()`` gives ``key + "_null"`` intervals, which
            the registry reads beside each claim.
        compositions: ``(draws, n_roles)`` PC1 compositions of the null role vectors (centred, PC1
            oriented on the default), for the cross-model null; ``names`` their roles.
        trait_compositions: ``(draws, n_traits)`` trait PC1 compositions (oriented toward the anchor
            traits), or ``None`` without traits; ``trait_names`` their traits.
    """

    stats: NullDraws
    compositions: np.ndarray
    names: list[str]
    trait_compositions: np.ndarray | None = None
    trait_names: list[str] = field(default_factory=list)


def _pc1(gc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top eigenvalue ``(D,)`` and eigenvector ``(D, n)`` of centred Gram matrices ``(D, n, n)``."""
    lam, u = np.linalg.eigh(gc)
    return lam[:, -1], u[:, :, -1]


def _compositions(gc: np.ndarray, lam: np.ndarray, u: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """PC1 compositions ``(D, n)`` from centred Gram matrices: the cosine of centred vector ``i`` with
    PC1 is ``<x_i, X'u> / (|x_i| |X'u|) = u_i sqrt(lam / G_ii)`` (``space.role_composition``)."""
    diag = np.clip(np.einsum("dii->di", gc), 1e-300, None)
    return sign[:, None] * u * np.sqrt(np.clip(lam, 0, None)[:, None] / diag)


def _null_compositions(
    x: torch.Tensor,
    draws: int,
    seed: int,
    *,
    default: torch.Tensor | None = None,
    anchors: Sequence[int] = (),
) -> np.ndarray:
    """``(draws, n)`` PC1 compositions of ``nulls.gaussian_vectors`` stand-ins for the ``(n, d)``
    vectors ``x``: PC1 oriented so that ``default`` scores positive, else toward the mean of the
    ``anchors`` rows (as ``cross_model.trait_compositions``), else as the eigenvector comes."""
    v = x.double().numpy()
    out = np.empty((draws, len(v)))
    for r in range(draws):
        z = gaussian_vectors(v, np.random.default_rng([seed, 31, r]))
        g = z @ z.T
        gc = _centre(g)[None]
        lam, u = _pc1(gc)
        if default is not None:
            vec = z @ default.double().numpy() - g.mean(1)
            side = float((vec - vec.mean()) @ u[0])
        else:
            side = float(u[0, list(anchors)].sum()) if anchors else 1.0
        out[r] = _compositions(gc, lam, u, np.array([-1.0 if side < 0 else 1.0]))[0]
    return out


def null_layers(layers: Sequence[int], middle: int, most: int = 16) -> list[int]:
    """The layers the null of the lowest cos(axis, PC1) is drawn at: all of ``layers`` if there are
    at most ``most``, else at most ``most`` of them evenly spaced, the middle one included. Fewer layers
    make the null's lowest value higher, never lower: the chance level errs on the strict side."""
    if len(layers) <= most:
        return list(layers)
    picked = {layers[round(i * (len(layers) - 1) / (most - 2))] for i in range(most - 1)} | {middle}
    return sorted(picked)


def release_nulls(
    rel: ReleaseVectors, *, draws: int = 200, layer_draws: int = 20, seed: int = 0, most_layers: int = 16
) -> ReleaseNull:
    """The chapter's chance levels for one release model (module docstring).

    ``nulls.gaussian_nulls`` with ``draws`` draws at the middle layer for PC1's share, the
    components for 70%, the default's distance from PC1's end and cos(axis, PC1) there; with
    ``layer_draws`` draws at the layers of ``null_layers`` for the lowest cos(axis, PC1) over layers
    (a draw at 4608-8192 wide takes 0.1-1 s, so the layers are capped); and the PC1 compositions
    of ``draws`` Gaussian stand-ins for the role (and trait) vectors at the middle layer.
    """
    if rel.roles is None or rel.default is None:
        raise ValueError("load the 'roles' and 'default' parts")
    mid = rel.model.target_layer
    fully = [True] * len(rel.roles.names)
    i = rel.layers.index(mid)
    at_mid = gaussian_nulls(
        rel.roles.vectors[:, [i]],
        rel.default[[i]],
        fully,
        [mid],
        layer=mid,
        middle=mid,
        n_draws=draws,
        seed=seed,
    )
    sub = null_layers(rel.layers, mid, most_layers)
    idx = [rel.layers.index(layer) for layer in sub]
    over = gaussian_nulls(
        rel.roles.vectors[:, idx],
        rel.default[idx],
        fully,
        sub,
        layer=mid,
        middle=mid,
        n_draws=layer_draws,
        seed=seed,
    )
    stats = NullDraws(
        {**{k: at_mid.draws[k] for k in (*SPACE_KEYS, AXIS_KEYS[0])}, AXIS_KEYS[1]: over.draws[AXIS_KEYS[1]]},
        at_mid.unit,
        at_mid.n_units,
        seed,
    )
    out = ReleaseNull(
        stats,
        _null_compositions(rel.roles.at(mid), draws, seed, default=rel.default[i]),
        list(rel.roles.names),
    )
    if rel.traits is not None:
        tv = rel.traits
        anchors = [tv.names.index(t) for t in TRAIT_ANCHORS if t in tv.names]
        out.trait_compositions = _null_compositions(tv.at(mid), draws, seed, anchors=anchors)
        out.trait_names = list(tv.names)
    return out


def null_interval(draws: Sequence[float] | np.ndarray, *, n_units: int = 0, seed: int = 0) -> Interval:
    """The median and central 95% of a null's draws, as ``nulls.NullDraws.intervals`` gives them."""
    return NullDraws({"x": np.asarray(draws, dtype=float)}, "Gaussian draws", n_units, seed).intervals()[
        "x_null"
    ]


def lowest_pair_overall(
    per_model: Mapping[str, pd.DataFrame],
    models: Sequence[str],
    column: str = "PC1",
    *,
    unit: str = "roles",
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[Interval | None, tuple[str, str] | None]:
    """The lowest correlation of compositions over every pair of ``models``, as one number.

    The paper's cross-model claim is about every pair of its three models, so the release rates it
    once: each resample draws the roles (traits) every model has, recomputes every pair's Pearson
    correlation of ``column`` and keeps the lowest (``measures.bootstrap_many``).

    Returns:
        ``(interval, the pair with the lowest correlation on the full data)``; ``(None, None)``
        with fewer than two models or three shared roles.
    """
    names = [m for m in models if m in per_model]
    if len(names) < 2:
        return None, None
    common = sorted(set.intersection(*(set(per_model[m].index) for m in names)))
    if len(common) < 3:
        return None, None
    data = np.stack([per_model[m].loc[common, column].to_numpy(dtype=float) for m in names])
    upper = np.triu_indices(len(names), 1)

    def lowest(idx: np.ndarray) -> dict[str, float]:
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"lowest": float(np.corrcoef(data[:, idx])[upper].min())}

    iv = bootstrap_many(len(common), lowest, unit=unit, n_resamples=n_resamples, seed=seed)["lowest"]
    k = int(np.argmin(np.corrcoef(data)[upper]))
    return iv, (names[upper[0][k]], names[upper[1][k]])


def lowest_pair_null(
    per_model: Mapping[str, np.ndarray], names: Mapping[str, Sequence[str]]
) -> dict[str, np.ndarray]:
    """Each model's lowest correlation of compositions with another model, draw by draw, under the null.

    Args:
        per_model: ``model -> (draws, n)`` null compositions (``ReleaseNull.compositions``).
        names: ``model -> the n names`` of their columns; pairs are correlated over shared names
            (``space.composition_correlations``).

    Returns:
        ``model -> (draws,)`` the lowest correlation with any other model in each draw.
    """
    import pandas as pd

    models = list(per_model)
    n = min(len(v) for v in per_model.values())
    out: dict[str, list[float]] = {m: [] for m in models}
    for i in range(n):
        frames = {m: pd.DataFrame({"PC1": per_model[m][i]}, index=list(names[m])) for m in models}
        r = composition_correlations(frames, "PC1")
        for m in models:
            out[m].append(float(r.loc[m, [o for o in models if o != m]].min()))
    return {m: np.asarray(v) for m, v in out.items()}


# ------------------------------------------------------------------------------------------------
# Scale against scale: do small models order the roles as the paper's models do?
# ------------------------------------------------------------------------------------------------


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when a side is constant."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x) - (len(x) + 1) / 2, rankdata(y) - (len(y) + 1) / 2
    den = float(np.sqrt((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def _common(a: pd.Series, names: Sequence[str]) -> list[str]:
    return sorted(set(a.index) & set(names))


def rank_agreement(
    a: pd.Series, b: pd.Series, *, n_resamples: int = 2000, seed: int = 0, unit: str = "roles"
) -> Interval | None:
    """Spearman rank correlation of two per-role values (e.g. PC1 compositions of a small model and
    of a paper model) over the roles both have, with a bootstrap interval over those roles.

    Returns:
        ``None`` when fewer than 3 roles are shared.
    """
    common = _common(a, list(b.index))
    if len(common) < 3:
        return None
    x, y = a.loc[common].to_numpy(dtype=float), b.loc[common].to_numpy(dtype=float)
    return bootstrap_indices(
        len(common), lambda idx: _spearman(x[idx], y[idx]), unit=unit, n_resamples=n_resamples, seed=seed
    )


def rank_null(a: pd.Series, draws: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``rank_agreement``'s estimate with each null draw in place of the paper model: ``(draws,)``.

    Args:
        a: per-role values of the model compared (index: role names).
        draws: ``(draws, n)`` null compositions (``ReleaseNull.compositions``), columns named ``names``.
    """
    common = _common(a, names)
    if len(common) < 3:
        return np.full(len(draws), np.nan)
    x = a.loc[common].to_numpy(dtype=float)
    cols = [list(names).index(n) for n in common]
    return np.array([_spearman(x, d[cols]) for d in draws])

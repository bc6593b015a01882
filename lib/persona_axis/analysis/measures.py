"""The chapters' rated numbers with their bootstrap intervals, computed fast enough to resample.

Persona-space statistics (PC1's share, components for 70%, the default's place on PC1, the
cosine of the Assistant Axis with PC1) are recomputed on every resample of the role vectors,
the unit the paper's PCA treats as independent. Redoing a PCA on ``(n, hidden)`` vectors 2,000
times is slow; everything here works on the ``(n, n)`` Gram matrix of the vectors instead,
which a resample only re-indexes (``G[idx][:, idx]``), with exactly the values the chapters
compute from ``space.pca`` and ``axis.contrast_axis`` on the full data (tested).

Example (40 role vectors spread along one direction, plus a little noise):
    >>> g = torch.Generator().manual_seed(0)
    >>> vectors = torch.randn(40, 1, generator=g) * torch.tensor([[1.0, 0, 0, 0]]) + 0.01 * torch.randn(40, 4, generator=g)
    >>> ivs = space_intervals(vectors, torch.tensor([3.0, 0, 0, 0]), n_resamples=1000)
    >>> ivs["pc1_share"].estimate > 0.99, ivs["n_for_70"].estimate
    (True, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from persona_axis.core.stats import Interval, Reliability, _check

if TYPE_CHECKING:
    import torch

__all__ = [
    "bootstrap_many",
    "percentile_intervals",
    "space_intervals",
    "axis_pc1_intervals",
    "resample_counts",
    "weighted_axis_pc1_cosines",
]


def bootstrap_many(
    n_units: int,
    statistics: Callable[[np.ndarray], dict[str, float]],
    *,
    unit: str,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Several statistics from the same resamples: ``statistics(idx) -> {name: value}``.

    As ``stats.bootstrap_indices``, for statistics that share the expensive part (one PCA gives
    PC1's share, the components for 70% and the default's position). Non-finite values drop
    out of their own interval only.

    Raises:
        ValueError: fewer than 2 units or fewer than ``stats.MIN_RESAMPLES`` resamples.
    """
    _check(n_units, n_resamples, level)
    rng = np.random.default_rng(seed)
    # small matrices, many of them: BLAS threads only contend (on a shared machine, badly)
    with threadpool_limits(1):
        estimate = statistics(np.arange(n_units))
        draws: dict[str, list[float]] = {k: [] for k in estimate}
        for _ in range(n_resamples):
            for k, v in statistics(rng.integers(0, n_units, n_units)).items():
                draws[k].append(float(v))
    return percentile_intervals(
        estimate, draws, unit=unit, n_units=n_units, n_resamples=n_resamples, level=level, seed=seed
    )


def percentile_intervals(
    estimate: dict[str, float],
    draws: dict[str, list[float]],
    *,
    unit: str,
    n_units: int | dict[str, int],
    n_resamples: int,
    level: float = 0.95,
    seed: int = 0,
    paired: bool = False,
) -> dict[str, Interval]:
    """Percentile intervals from bootstrap draws: ``{name: Interval}``.

    Non-finite draws drop out of their own interval; with fewer than half of ``n_resamples``
    finite draws left, the bounds are NaN (the statistic is not defined often enough to rate).
    ``n_units``: one count for every statistic, or one per name.
    """
    out = {}
    for k, values in draws.items():
        arr = np.asarray(values)
        arr = arr[np.isfinite(arr)]
        lo, hi = (
            np.quantile(arr, [(1 - level) / 2, (1 + level) / 2])
            if len(arr) >= n_resamples / 2
            else (math.nan, math.nan)
        )
        n = n_units[k] if isinstance(n_units, dict) else n_units
        out[k] = Interval(float(estimate[k]), float(lo), float(hi), level, len(arr), unit, n, seed, paired)
    return out


def _centre(g: np.ndarray) -> np.ndarray:
    """``C g C`` with ``C = I - 11'/n`` on the last two dimensions: the Gram matrix of centred rows."""
    return g - g.mean(-1, keepdims=True) - g.mean(-2, keepdims=True) + g.mean((-1, -2), keepdims=True)


def space_intervals(
    vectors: torch.Tensor,
    default: torch.Tensor,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    fraction: float = 0.70,
) -> dict[str, Interval]:
    """Chapter 1's numbers with intervals, resampling role vectors.

    Args:
        vectors: ``(n, hidden)`` role vectors at one layer (the PCA's input).
        default: ``(hidden,)`` the default vector at that layer.

    Returns:
        ``{"pc1_share", "n_for_70", "default_pc1_distance"}`` -> ``Interval``: PC1's share of
        the variance, the components whose cumulative share reaches ``fraction``, and the
        default's distance from the nearer end of the roles' range on PC1 (``min(p, 1 - p)``,
        clamped at 0, as ``space.relative_position`` gives it).
    """
    x = vectors.double().numpy()
    g, pd = x @ x.T, x @ default.double().numpy()

    def stat(idx: np.ndarray) -> dict[str, float]:
        return _space_statistics(g[np.ix_(idx, idx)], pd[idx], fraction)

    return bootstrap_many(len(x), stat, unit="role vectors", n_resamples=n_resamples, seed=seed)


def _space_statistics(g: np.ndarray, pd: np.ndarray, fraction: float) -> dict[str, float]:
    """``space_intervals``' three numbers from the ``(n, n)`` Gram matrix of the role vectors and
    their ``(n,)`` dot products with the default."""
    n = len(g)
    lam, u = np.linalg.eigh(_centre(g))
    lam, u = np.clip(lam[::-1], 0, None), u[:, ::-1]
    total = float(lam.sum())
    if total <= 0:
        return {"pc1_share": math.nan, "n_for_70": math.nan, "default_pc1_distance": math.nan}
    share = lam / total
    hit = np.nonzero(np.cumsum(share) >= fraction - 1e-9)[0]
    n70 = int(hit[0]) + 1 if len(hit) else len(share)
    scores = u[:, 0] * math.sqrt(lam[0])
    vec = pd - g.mean(1)
    proj = float((vec - vec.mean()) @ u[:, 0] / math.sqrt(lam[0]))
    lo, hi = float(scores.min()), float(scores.max())
    p = (proj - lo) / max(hi - lo, 1e-12)
    return {
        "pc1_share": float(share[0]),
        "n_for_70": float(min(n70, n - 1)),
        "default_pc1_distance": max(min(p, 1 - p), 0.0),
    }


def resample_counts(n_units: int, n_resamples: int, seed: int = 0) -> np.ndarray:
    """``(n_resamples, n_units)`` how often each unit is drawn in each resample: the same draws,
    in the same order, as ``bootstrap_many`` and ``stats.bootstrap_indices`` with this seed."""
    rng = np.random.default_rng(seed)
    return np.stack(
        [np.bincount(rng.integers(0, n_units, n_units), minlength=n_units) for _ in range(n_resamples)]
    )


def weighted_axis_pc1_cosines(
    g: np.ndarray,
    pd: np.ndarray,
    dd: np.ndarray,
    fully: np.ndarray,
    counts: np.ndarray,
    start: np.ndarray,
    *,
    max_iters: int = 300,
    tol: float = 1e-9,
) -> np.ndarray:
    """Cosine of the Assistant Axis with PC1 at every layer, for many resamples at once.

    A resample that draws unit ``j`` ``w_j`` times is the data weighted by ``w``: its centred
    scatter is ``X' B X`` with ``B = diag(w) - w w' / n``, whose top eigenvector is ``X' y`` for
    the top eigenvector ``y`` of ``B G`` (``G = X X'``). Power iteration on ``y <- B G y`` runs
    for all layers and resamples in one batched product with the full Gram matrix (no
    re-indexed copies), from ``start`` (the full data's PC1 scores), until no entry of a unit
    ``y`` moves by more than ``tol`` (a resample that has settled drops out of the product); a
    resample still moving after ``max_iters`` (PC1 and PC2 nearly tied) gets the top eigenvector
    of ``B^(1/2) G B^(1/2)`` instead, mapped back by ``B^(1/2)``. The axis of a resample is the
    default minus the ``w``-weighted mean of the "fully" vectors; PC1 is oriented so that the
    default, less the weighted mean, scores positive. Exactly the cosines of a PCA and an axis refitted on the re-indexed vectors (tested).

    Args:
        g: ``(L, n, n)`` Gram matrices of the role vectors per layer; ``pd``: ``(L, n)`` their dot
            products with the default; ``dd``: ``(L,)`` the default's squared norm.
        fully: ``(n,)`` bool, the vectors the axis averages (or ``(L, n)``, one row per layer: the
            two-level bootstrap passes a batch of resamples in place of layers).
        counts: ``(R, n)`` draws per unit per resample (``resample_counts``).
        start: ``(L, n)`` a starting vector per layer.

    Returns:
        ``(R, L)`` cosines; NaN for a resample with no "fully" vector.
    """
    n = g.shape[-1]
    w = counts.T.astype(float)  # (n, R)
    wf = w[None] * np.broadcast_to(fully, g.shape[:2])[:, :, None]  # (L, n, R)
    nf = wf.sum(1)  # (L, R)

    y = np.repeat(start[:, :, None], w.shape[1], axis=2)
    y = w * (y - (w * y).sum(-2, keepdims=True) / n)  # B y, for every resample's B
    y /= np.clip(np.linalg.norm(y, axis=1, keepdims=True), 1e-300, None)
    active = np.arange(w.shape[1])  # resamples still moving
    for _ in range(max_iters):
        wa, ya = w[:, active], y[:, :, active]
        za = g @ ya
        nxt = wa * (za - (wa * za).sum(-2, keepdims=True) / n)
        nxt /= np.clip(np.linalg.norm(nxt, axis=1, keepdims=True), 1e-300, None)
        moving = np.abs(nxt - ya).max((0, 1)) >= tol
        y[:, :, active] = nxt
        active = active[moving]
        if not len(active):
            break
    for r in active:  # nearly tied PC1 and PC2: solve exactly
        b = np.diag(w[:, r]) - np.outer(w[:, r], w[:, r]) / n
        lam, vec = np.linalg.eigh(b)
        bh = (vec * np.sqrt(np.clip(lam, 0, None))) @ vec.T  # B^(1/2)
        for layer in range(len(g)):
            z = np.linalg.eigh(bh @ g[layer] @ bh)[1][:, -1]
            y[layer, :, r] = bh @ z / max(np.linalg.norm(bh @ z), 1e-300)
    gy = g @ y  # (L, n, R)
    q = np.sqrt(np.clip((y * gy).sum(1), 1e-300, None))  # |X'y|
    py = np.einsum("ln,lnr->lr", pd, y)
    sign = np.sign(py - (w[None] * gy).sum(1) / n)
    sign[sign == 0] = 1
    safe = np.where(nf > 0, nf, 1.0)
    along = py - (wf * gy).sum(1) / safe  # axis . X'y
    gwf = g @ wf  # (L, n, R)
    axis_sq = dd[:, None] - 2 * np.einsum("ln,lnr->lr", pd, wf) / safe + (wf * gwf).sum(1) / safe**2
    cos = sign * along / q / np.sqrt(np.clip(axis_sq, 1e-300, None))
    cos[nf == 0] = math.nan
    return cos.T


def axis_pc1_intervals(
    vectors: torch.Tensor,
    fully: Sequence[bool],
    default: torch.Tensor,
    layers: Sequence[int],
    middle: int,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Interval | dict[int, float]]:
    """Chapter 2's cosines of the Assistant Axis with PC1, with intervals, resampling role vectors.

    On each resample the axis is rebuilt (mean default activation minus the mean of the
    resampled "fully" vectors, as ``axis.get_axis``) and PC1 is refitted on the resampled role
    vectors, oriented so that the default scores positive, at every layer
    (``weighted_axis_pc1_cosines``, all resamples at once).

    Args:
        vectors: ``(n, n_layers, hidden)`` role vectors (all labels kept for the PCA).
        fully: ``(n,)`` which of them the axis averages (label 3; all when unlabelled).
        default: ``(n_layers, hidden)`` the mean default activation.
        layers: layer index of the second axis.
        middle: the layer whose cosine is ``cos_axis_pc1_middle``.

    Returns:
        ``{"cos_axis_pc1_middle": Interval, "cos_axis_pc1_min": Interval (the lowest over
        layers, recomputed on each resample), "per_layer": {layer: cosine}}``.
    """
    x = vectors.double().numpy().transpose(1, 0, 2)  # (L, n, d)
    dflt = default.double().numpy()  # (L, d)
    g = x @ x.transpose(0, 2, 1)  # (L, n, n)
    pd = np.einsum("lnd,ld->ln", x, dflt)  # (L, n)
    dd = (dflt * dflt).sum(-1)  # (L,)
    f_all = np.asarray(list(fully), dtype=bool)
    if not f_all.any():
        raise ValueError("no 'fully' role vector to build the axis from: run a larger preset")
    n = len(f_all)
    _check(n, n_resamples, 0.95)
    mid = list(layers).index(middle)

    u = np.linalg.eigh(_centre(g))[1][..., -1]  # (L, n): the full data's PC1 scores, exactly
    est = weighted_axis_pc1_cosines(g, pd, dd, f_all, np.ones((1, n)), u)[0]  # every unit once: the estimate
    counts = resample_counts(n, n_resamples, seed)
    cos = np.concatenate(
        [
            weighted_axis_pc1_cosines(g, pd, dd, f_all, counts[i : i + 250], u)
            for i in range(0, n_resamples, 250)
        ]
    )
    out: dict[str, Interval | dict[int, float]] = dict(
        percentile_intervals(
            {"cos_axis_pc1_middle": float(est[mid]), "cos_axis_pc1_min": float(est.min())},
            {"cos_axis_pc1_middle": cos[:, mid].tolist(), "cos_axis_pc1_min": cos.min(1).tolist()},
            unit="role vectors",
            n_units=n,
            n_resamples=n_resamples,
            seed=seed,
        )
    )
    out["per_layer"] = {int(layer): float(est[i]) for i, layer in enumerate(layers)}
    return out


def lowest_pair_intervals(
    per_model: Any,
    models: Sequence[str],
    column: str = "PC1",
    *,
    unit: str = "roles",
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Interval | None]:
    """Chapter 3: each model's lowest correlation of compositions with another of ``models``.

    The units are the roles (or traits) every one of ``models`` has; each resample draws them
    with replacement and recomputes every pair's Pearson correlation of the ``column``
    composition, then each model's lowest. The components themselves are held fixed
    (``cross_model.refit_pair_intervals`` refits each model's PCA on every resample).

    Args:
        per_model: ``model -> DataFrame`` from ``space.compositions`` (index: role names).
        models: the models compared (instruct models; a base model's row is left out).

    Returns:
        ``model -> Interval``, or ``None`` for a model with no partner.
    """
    names = [m for m in models if m in per_model]
    if len(names) < 2:
        return {m: None for m in models}
    common = sorted(set.intersection(*(set(per_model[m].index) for m in names)))
    # (models, units)
    data = np.stack([per_model[m].loc[common, column].to_numpy(dtype=float) for m in names])

    def lowest(idx: np.ndarray) -> dict[str, float]:
        x = data[:, idx]
        x = x - x.mean(1, keepdims=True)
        norm = np.sqrt((x * x).sum(1))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (x @ x.T) / np.outer(norm, norm)
        np.fill_diagonal(r, np.inf)
        return {m: float(r[i].min()) for i, m in enumerate(names)}

    if len(common) < 3:
        return {m: None for m in models}
    got = bootstrap_many(len(common), lowest, unit=unit, n_resamples=n_resamples, seed=seed)
    return {m: got.get(m) for m in models}


def composition_reliability(
    table: Any,
    acts: torch.Tensor,
    layers: Sequence[int],
    layer: int,
    component: torch.Tensor,
    *,
    centre: bool = False,
    projection: bool = False,
) -> Reliability:
    """Split-half reliability of the roles' compositions on one component (a noise ceiling's input).

    Each role's rollouts are split in two halves, by system prompt when the run used more than
    one (prompt 0 against prompt 1, ...: even against odd prompt index), else by question (even
    against odd question id); each half gives the role a vector (the mean of its rollouts) and
    a composition (cosine with ``component``, held fixed). The halves' correlation over roles,
    stepped up by Spearman-Brown, is the reliability of a composition made from all rollouts.
    ``centre=True``: each half's role vectors are centred on their own mean over roles first
    (as ``space.compositions(..., centre=True)``); ``projection=True``: the scalar projection
    ``<v, u> / |u|`` instead of the cosine (as the roles' positions on a contrast axis).

    Args:
        table: the rollouts' table (``group``, ``name``, ``prompt_index``, ``question_id``).
        acts: ``(n_rollouts, n_layers, hidden)``.
        component: ``(hidden,)`` e.g. PC1 at ``layer``.

    Raises:
        ValueError: fewer than 3 roles have rollouts in both halves.
    """
    from persona_axis.core.stats import split_half

    t = table.reset_index(drop=True)
    roles = t[t["group"] == "role"]
    by = "prompt_index" if roles["prompt_index"].nunique() > 1 else "question_id"
    half = roles[by].to_numpy() % 2
    x = acts[:, list(layers).index(layer)].double().numpy()
    u = component.double().numpy()
    u = u / np.linalg.norm(u)
    va_, vb_ = [], []
    for name in dict.fromkeys(roles["name"]):
        rows = roles.index[roles["name"] == name].to_numpy()
        h = half[np.searchsorted(roles.index.to_numpy(), rows)]
        if (h == 0).any() and (h == 1).any():
            va_.append(x[rows[h == 0]].mean(0))
            vb_.append(x[rows[h == 1]].mean(0))
    a: list[float] = []
    b: list[float] = []
    if va_:
        ha, hb = np.stack(va_), np.stack(vb_)
        if centre:
            ha, hb = ha - ha.mean(0), hb - hb.mean(0)
        for v, out in ((ha, a), (hb, b)):
            out += (
                v @ u if projection else v @ u / np.clip(np.linalg.norm(v, axis=1), 1e-300, None)
            ).tolist()
    what = "prompt" if by == "prompt_index" else "question"
    return split_half(np.array(a), np.array(b), halves=f"even vs odd {what}")

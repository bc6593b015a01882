"""Chance-level nulls of the persona-space numbers: what the same pipeline gives when there is nothing to find.

A claim's verdict sets our interval against the paper's threshold and against this null
(``persona_axis.claims.rules.decide``). PC1's share is above 0 whatever the data, the count of
components for 70% is bounded by the number of role vectors, and cos(axis, PC1) is biased
positive (PC1 is oriented toward the default, the axis points toward it): "no effect" is not 0,
so it is computed, at the same sizes, with the same statistics (``measures._space_statistics``,
``measures.weighted_axis_pc1_cosines``, exactly the chapters' numbers).

* ``permutation_nulls``: role labels permuted across rollouts before the role vectors are
  averaged. The rollouts behind all role vectors are pooled and dealt out again at random, each
  vector keeping its number of rollouts and whether the axis averages it; the default rollouts
  stay as they are. Whatever the roles had in common with their own rollouts is gone; the
  sampling noise, the sizes and the default are not.
* ``gaussian_nulls``: for mean vectors only (the paper's released vectors: no rollouts to
  permute). The same number of vectors, of the same width, drawn independently per coordinate
  from a Gaussian with the role vectors' mean and per-coordinate spread (the noise spectrum of
  the residual stream, whose few large coordinates alone make a PC1); the default vector as it is.

* ``pairing_null``: chapter 3's lowest correlation of compositions between models with each
  model's roles (traits) dealt out again at random, so that no role meets itself across models;
  each model's compositions, and so its PCA, are as they are.

* ``turn_order_null``: chapter 6's R² with the user messages of every conversation put in a
  random order (each reply keeps its turn and position; the messages stay in their
  conversation, so what a conversation's messages say as a whole, its domain among it, is kept
  and only which message came before which reply is lost).

Each returns ``key + "_null" -> Interval`` for the keys of ``measures.space_intervals`` and
``measures.axis_pc1_intervals``: the estimate is the median of the draws, ``low`` and ``high``
their 2.5th and 97.5th percentiles (the spread a run at these sizes would show by chance; not a
confidence interval), ``n_resamples`` the draws, ``unit`` what was drawn.

Example:
    >>> m = members(ro.table, rv)                                                     # doctest: +SKIP
    >>> nulls = permutation_nulls(ro.acts, m, fully, ro.layers, layer=mid, middle=mid)  # doctest: +SKIP
    >>> str(nulls["cos_axis_pc1_middle_null"])                                        # doctest: +SKIP
    '0.21 [0.08, 0.37]'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from persona_axis.analysis.measures import _centre, _space_statistics, weighted_axis_pc1_cosines
from persona_axis.analysis.two_level import Members, _layer
from persona_axis.core.stats import Interval

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from scipy import sparse

__all__ = [
    "NullDraws",
    "permuted_members",
    "permutation_nulls",
    "gaussian_vectors",
    "gaussian_nulls",
    "pairing_null",
    "turn_order_null",
    "SPACE_KEYS",
    "AXIS_KEYS",
]

#: Chapter 1's numbers (at the analysed layer) and chapter 2's (over the layers).
SPACE_KEYS = ("pc1_share", "n_for_70", "default_pc1_distance")
AXIS_KEYS = ("cos_axis_pc1_middle", "cos_axis_pc1_min")


@dataclass(frozen=True)
class NullDraws:
    """The statistics on every draw of a null, and their summary.

    Attributes:
        draws: ``key -> (n_draws,)`` the statistic on each draw (NaN where undefined).
        unit: what a draw is ("label permutations", "Gaussian draws").
        n_units: the role vectors per draw.
        seed: the seed of the draws.
    """

    draws: dict[str, np.ndarray]
    unit: str
    n_units: int
    seed: int

    def intervals(self) -> dict[str, Interval]:
        """``key + "_null" -> Interval(median, 2.5th, 97.5th percentile)`` over the finite draws
        (NaN ends when fewer than half the draws are finite)."""
        out = {}
        for k, arr in self.draws.items():
            ok = arr[np.isfinite(arr)]
            if len(ok) >= len(arr) / 2 and len(ok):
                est, lo, hi = (float(x) for x in np.quantile(ok, [0.5, 0.025, 0.975]))
            else:
                est = lo = hi = math.nan
            out[k + "_null"] = Interval(est, lo, hi, 0.95, len(ok), self.unit, self.n_units, self.seed)
        return out


def permuted_members(m: Members, n_permutations: int, seed: int = 0) -> list[Members]:
    """``n_permutations`` relabellings of the role rollouts: the rows of every vector pooled,
    shuffled (``np.random.default_rng([seed, 29])``) and dealt back in the vectors' sizes, in the
    vectors' order; the default's rows unchanged."""
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be at least 1, got {n_permutations}")
    rng = np.random.default_rng([seed, 29])
    pooled = np.concatenate(m.vectors)
    cuts = np.cumsum([len(v) for v in m.vectors])[:-1]
    return [Members(np.split(rng.permutation(pooled), cuts), m.default) for _ in range(n_permutations)]


def _weights(m: Members, n_rollouts: int) -> sparse.csr_matrix:
    """``(n, n_rollouts)`` sparse: row ``j`` averages vector ``j``'s rows."""
    from scipy import sparse

    sizes = np.array([len(v) for v in m.vectors])
    rows = np.repeat(np.arange(len(sizes)), sizes)
    return sparse.csr_matrix(
        (np.repeat(1.0 / sizes, sizes), (rows, np.concatenate(m.vectors))), shape=(len(sizes), n_rollouts)
    )


def _top(g: np.ndarray) -> np.ndarray:
    """The top eigenvector of a symmetric ``(n, n)`` matrix (LAPACK, only that one: four times faster
    than every eigenvector at n = 400)."""
    from scipy.linalg import eigh

    return np.asarray(eigh(g, subset_by_index=[len(g) - 1, len(g) - 1])[1][:, 0])


def _statistics(
    draw: Callable[[int, int], tuple[np.ndarray, np.ndarray]],
    n_draws: int,
    n_layers: int,
    layer_index: int,
    middle_index: int | None,
    fully: np.ndarray,
    fraction: float,
    chunk: int = 25,
) -> dict[str, np.ndarray]:
    """Chapter 1's numbers at ``layer_index`` and (unless ``middle_index`` is ``None``) chapter 2's
    cosines over every layer, on each draw. ``draw(i, r)`` gives draw ``r``'s ``(n, hidden)`` role
    vectors and ``(hidden,)`` default at layer position ``i``."""
    out = {k: np.full(n_draws, math.nan) for k in SPACE_KEYS}
    cos = np.full((n_draws, n_layers), math.nan)
    layers = range(n_layers) if middle_index is not None else [layer_index]
    with threadpool_limits(1):
        for i in layers:
            for c in range(0, n_draws, chunk):
                rs = range(c, min(c + chunk, n_draws))
                got = [draw(i, r) for r in rs]
                v = np.stack([g[0] for g in got])  # (R, n, d)
                d = np.stack([g[1] for g in got])  # (R, d)
                g = v @ v.transpose(0, 2, 1)  # (R, n, n)
                pd = np.einsum("rnd,rd->rn", v, d)
                if i == layer_index:
                    for j, r in enumerate(rs):
                        for k, val in _space_statistics(g[j], pd[j], fraction).items():
                            out[k][r] = val
                if middle_index is not None:
                    start = np.stack([_top(x) for x in _centre(g)])  # (R, n): each draw's exact PC1 scores
                    cos[rs.start : rs.stop, i] = weighted_axis_pc1_cosines(
                        g, pd, (d * d).sum(-1), fully, np.ones((1, len(fully))), start
                    )[0]
    if middle_index is not None:
        out["cos_axis_pc1_middle"] = cos[:, middle_index]
        out["cos_axis_pc1_min"] = cos.min(1)
    return out


def permutation_nulls(
    acts: torch.Tensor | np.ndarray,
    m: Members,
    fully: Sequence[bool],
    layers: Sequence[int],
    *,
    layer: int,
    middle: int | None = None,
    n_permutations: int = 200,
    seed: int = 0,
    fraction: float = 0.70,
) -> NullDraws:
    """The null of chapter 1's and chapter 2's numbers with role labels permuted across rollouts.

    Args:
        acts: ``(n_rollouts, n_layers, hidden)`` the rollouts' activations (rows as the table's).
        m: ``two_level.members(table, rv)``: the rows behind each role vector and the default's.
        fully: ``(n,)`` which vectors the axis averages (label 3, or all when unlabelled); each
            vector keeps its flag and its size under the permutation.
        layers: the layer index of ``acts``' second axis.
        layer: the layer of chapter 1's three numbers (PC1's share, components for ``fraction``,
            the default's distance from PC1's nearer end).
        middle: the layer of ``cos_axis_pc1_middle``; ``None``: chapter 1's numbers only (the
            cosines need every layer, for the lowest).
        n_permutations: the draws (``permuted_members``, seeded).

    Returns:
        ``NullDraws`` with the keys of ``SPACE_KEYS`` (and ``AXIS_KEYS`` when ``middle`` is given);
        ``.intervals()`` gives ``key + "_null" -> Interval``.

    Raises:
        ValueError: ``fully`` does not match the vectors, or no vector is "fully".
    """
    f = np.asarray(list(fully), dtype=bool)
    if len(f) != len(m.vectors):
        raise ValueError(f"fully has {len(f)} entries for {len(m.vectors)} role vectors")
    if middle is not None and not f.any():
        raise ValueError("no 'fully' role vector to build the axis from: run a larger preset")
    layers = list(layers)
    weights = [_weights(p, len(acts)) for p in permuted_members(m, n_permutations, seed)]
    cache: dict[int, np.ndarray] = {}

    def draw(i: int, r: int) -> tuple[np.ndarray, np.ndarray]:
        if i not in cache:
            cache.clear()
            cache[i] = _layer(acts, i)
        x = cache[i]
        return np.asarray(weights[r] @ x), x[m.default].mean(0)

    stats = _statistics(
        draw,
        n_permutations,
        len(layers),
        layers.index(layer),
        None if middle is None else layers.index(middle),
        f,
        fraction,
    )
    return NullDraws(stats, "label permutations", len(m.vectors), seed)


def gaussian_vectors(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(n, hidden)`` Gaussian stand-ins for ``(n, hidden)`` mean vectors: independent per
    coordinate and per vector, with the vectors' per-coordinate mean and standard deviation (over
    the ``n`` vectors)."""
    v = np.asarray(vectors, dtype=float)
    return v.mean(0) + v.std(0) * rng.standard_normal(v.shape)


def gaussian_nulls(
    vectors: torch.Tensor | np.ndarray,
    default: torch.Tensor | np.ndarray,
    fully: Sequence[bool],
    layers: Sequence[int],
    *,
    layer: int,
    middle: int | None = None,
    n_draws: int = 200,
    seed: int = 0,
    fraction: float = 0.70,
) -> NullDraws:
    """The null of the same numbers for mean vectors only: Gaussian vectors, same count, width and spectrum.

    For role vectors with no rollouts behind them (the paper's released vectors) there is nothing
    to permute; each draw replaces every layer's ``n`` role vectors with ``gaussian_vectors`` (the
    default vector is kept), so chance keeps the residual stream's uneven coordinates and the
    sizes, and loses any structure shared across coordinates.

    Args:
        vectors: ``(n, n_layers, hidden)`` role vectors; ``default``: ``(n_layers, hidden)``.
        fully, layers, layer, middle, fraction: as ``permutation_nulls``.
        n_draws: Gaussian draws (draw ``r`` at layer position ``i`` from
            ``np.random.default_rng([seed, 30, i, r])``).
    """
    v = np.asarray(vectors.double().numpy() if hasattr(vectors, "double") else vectors, dtype=float)
    dflt = np.asarray(default.double().numpy() if hasattr(default, "double") else default, dtype=float)
    f = np.asarray(list(fully), dtype=bool)
    if v.ndim != 3 or dflt.shape != v.shape[1:] or len(f) != len(v):
        raise ValueError(
            f"vectors must be (n, n_layers, hidden) with a default (n_layers, hidden) and one 'fully' "
            f"flag per vector; got {v.shape}, {dflt.shape}, {len(f)}"
        )
    layers = list(layers)

    def draw(i: int, r: int) -> tuple[np.ndarray, np.ndarray]:
        return gaussian_vectors(v[:, i], np.random.default_rng([seed, 30, i, r])), dflt[i]

    stats = _statistics(
        draw,
        n_draws,
        len(layers),
        layers.index(layer),
        None if middle is None else layers.index(middle),
        f,
        fraction,
    )
    return NullDraws(stats, "Gaussian draws", len(v), seed)


def pairing_null(
    per_model: Mapping[str, pd.DataFrame],
    models: Sequence[str],
    column: str = "PC1",
    *,
    n_permutations: int = 1000,
    seed: int = 0,
) -> dict[str, Interval]:
    """The null of chapter 3's lowest pair: each model's lowest correlation with another of
    ``models`` when the rows (roles or traits every model has) of all models but the first are
    permuted, each independently on every draw.

    Pearson's correlation of two vectors whose rows are paired at random is centred on 0 with a
    spread of about ``1 / sqrt(n)``; with three or more models the lowest of the pairs lies below
    that. This is the value the comparison gives when the models share nothing role by role.

    Args:
        per_model: ``model -> DataFrame`` of compositions (index: role names).
        models: the models compared.
        column: the composition compared (``"PC1"``).

    Returns:
        ``model -> Interval(median, 2.5th, 97.5th percentile)`` of the draws (unit "role pairings
        permuted"); empty when fewer than two models or three shared rows are given.
    """
    names = [m for m in models if m in per_model]
    if len(names) < 2:
        return {}
    common = sorted(set.intersection(*(set(per_model[m].index) for m in names)))
    if len(common) < 3:
        return {}
    x = np.stack([per_model[m].loc[common, column].to_numpy(dtype=float) for m in names])
    rng = np.random.default_rng(seed)
    draws = np.empty((n_permutations, len(names)))
    for r in range(n_permutations):
        y = np.stack([x[0]] + [row[rng.permutation(len(common))] for row in x[1:]])
        c = np.corrcoef(y)
        np.fill_diagonal(c, np.inf)
        draws[r] = c.min(1)
    nd = NullDraws({m: draws[:, i] for i, m in enumerate(names)}, "role pairings permuted", len(common), seed)
    return {m: nd.intervals()[m + "_null"] for m in names}


def turn_order_null(
    table: pd.DataFrame, embeddings: np.ndarray, *, n_permutations: int = 200, seed: int = 0
) -> dict[str, Interval]:
    """The null of chapter 6's R² (``drift.predictability``): every conversation's message
    embeddings permuted among its own turns, independently on every draw, and the regression
    refitted.

    Args:
        table: ``drift.converse``'s table (``conversation``, ``turn``, ``projection``).
        embeddings: ``(len(table), d)`` the user messages' embeddings, rows as ``table``'s.
        n_permutations: the draws (seeded).

    Returns:
        ``"r2_position_null"`` and ``"r2_position_minus_change_null"`` -> ``Interval(median,
        2.5th, 97.5th percentile)`` of the draws (unit "turn orders permuted", ``n_units`` the
        conversations).
    """
    from persona_axis.interventions.drift import predictability

    t = table.reset_index(drop=True)
    x = np.asarray(embeddings, dtype=float)
    if len(x) != len(t):
        raise ValueError(f"embeddings has {len(x)} rows for {len(t)} replies")
    rows = [np.flatnonzero(t["conversation"].to_numpy() == c) for c in dict.fromkeys(t["conversation"])]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {"r2_position": [], "r2_position_minus_change": []}
    with threadpool_limits(1):
        for _ in range(n_permutations):
            order = np.arange(len(t))
            for r in rows:
                order[r] = rng.permutation(r)
            got = predictability(t, x[order])
            draws["r2_position"].append(got["r2_position"])
            draws["r2_position_minus_change"].append(got["r2_position"] - got["r2_change"])
    nd = NullDraws({k: np.asarray(v) for k, v in draws.items()}, "turn orders permuted", len(rows), seed)
    return nd.intervals()

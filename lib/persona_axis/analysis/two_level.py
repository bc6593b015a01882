"""Two-level bootstrap: resample role vectors, then the sampled answers behind each.

A role vector is the mean of a handful of sampled answers; a bootstrap over role vectors alone
holds each vector fixed, so a rerun with other answers can land outside its interval (at the
book preset SmolLM2's cos(axis, PC1) was 0.44 with one seed and 0.56 with another, each outside
the other's role-vectors-only interval). Here each resample draws role vectors exactly as the
one-level bootstrap of ``measures`` does, then redraws the rollouts behind every drawn vector
(and the default's), rebuilds the vectors and recomputes the persona space's numbers and the axis's cosines with PC1.

Example:
    >>> m = members(ro.table, rv)                                               # doctest: +SKIP
    >>> ivs = space_intervals_two_level(ro.acts, m, ro.layers.index(layer))     # doctest: +SKIP
    >>> str(ivs["pc1_share"]), str(ivs["pc1_share_corrected"])                  # doctest: +SKIP
    ('0.33 [0.31, 0.36]', '0.45 [0.42, 0.47]')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from persona_axis.analysis.measures import (
    _centre,
    _space_statistics,
    percentile_intervals,
    resample_counts,
    weighted_axis_pc1_cosines,
)
from persona_axis.core.stats import Interval, _check

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from scipy import sparse

    from persona_axis.persona.space import RoleVectors

__all__ = [
    "Members",
    "members",
    "TwoLevelDraw",
    "two_level_draws",
    "space_intervals_two_level",
    "axis_pc1_intervals_two_level",
]


@dataclass(frozen=True)
class Members:
    """The rollouts behind each role vector and behind the default: a two-level bootstrap's second level.

    Attributes:
        vectors: one int array per role vector, the rows of ``acts`` it averages (as
            ``space.role_vectors`` selects them), in the order of the vectors.
        default: the rows of the default rollouts (``space.default_vector``'s mean).
    """

    vectors: list[np.ndarray]
    default: np.ndarray


def members(table: pd.DataFrame, rv: RoleVectors, *, group: str = "role") -> Members:
    """Which rows of the rollouts' table each of ``rv``'s vectors averages, and the default's rows.

    Raises:
        ValueError: a vector's count differs from its rows in ``table`` (``rv`` was made from
            another table or another ``group``), or the table has no default rollouts.
    """
    rows = table.reset_index(drop=True)
    base = (rows["group"] == group).to_numpy()
    names = rows["name"].astype(str).to_numpy()
    labels = rows["label"].to_numpy() if "label" in rows else None
    out = []
    for name, label, count in zip(rv.names, rv.labels, rv.counts):
        sel = base & (names == name)
        if label is not None:
            if labels is None:
                raise ValueError("the role vectors are per label but the table has no 'label' column")
            sel &= labels == label
        idx = np.flatnonzero(sel)
        if len(idx) != count:
            raise ValueError(
                f"vector ({name!r}, label {label}) averages {count} rollouts but the table has "
                f"{len(idx)}: pass the table the role vectors were made from"
            )
        out.append(idx)
    default = np.flatnonzero((rows["group"] == "default").to_numpy())
    if not len(default):
        raise ValueError("the table has no default rollouts (group == 'default')")
    return Members(out, default)


@dataclass(frozen=True)
class TwoLevelDraw:
    """One resample of a two-level bootstrap.

    Attributes:
        units: ``(n,)`` the role vectors drawn (level one): the same draws, in the same order, as
            the one-level ``bootstrap_many`` with the same seed.
        rows: the rows of ``acts`` drawn within each drawn vector (level two), concatenated: as
            many, with replacement, as the vector averages; a vector drawn twice gets two
            independent draws.
        starts: ``(n,)`` where each drawn vector's rows begin in ``rows``.
        default: the default rollouts' rows drawn with replacement.
    """

    units: np.ndarray
    rows: np.ndarray
    starts: np.ndarray
    default: np.ndarray

    def weights(self, n_rollouts: int) -> sparse.csr_matrix:
        """``(n, n_rollouts)`` sparse: row ``j`` averages drawn vector ``j``'s redrawn rollouts."""
        from scipy import sparse

        sizes = np.diff(np.append(self.starts, len(self.rows)))
        n = len(sizes)
        return sparse.csr_matrix(
            (np.repeat(1.0 / sizes, sizes), (np.repeat(np.arange(n), sizes), self.rows)),
            shape=(n, n_rollouts),
        )

    def vectors(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n, hidden)`` the resampled role vectors and ``(hidden,)`` the resampled default from
        ``x`` ``(n_rollouts, hidden)``, one layer of ``acts``."""
        return np.asarray(self.weights(len(x)) @ x), x[self.default].mean(0)


def two_level_draws(m: Members, n_resamples: int, seed: int = 0) -> list[TwoLevelDraw]:
    """``n_resamples`` two-level resamples: role vectors, then the rollouts within each.

    The first level draws vectors as the one-level bootstrap does (same generator, same seed),
    so with no spread among a vector's rollouts the two intervals are the same; the second
    level draws from ``np.random.default_rng([seed, 2])``.
    """
    n = len(m.vectors)
    _check(n, n_resamples, 0.95)
    units_rng, rows_rng = np.random.default_rng(seed), np.random.default_rng([seed, 2])
    sizes = np.array([len(v) for v in m.vectors])
    flat, offset = np.concatenate(m.vectors), np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = []
    for _ in range(n_resamples):
        units = units_rng.integers(0, n, n)
        k = sizes[units]
        starts = np.concatenate([[0], np.cumsum(k)[:-1]])
        within = (rows_rng.random(int(k.sum())) * np.repeat(k, k)).astype(np.int64)
        rows = flat[np.repeat(offset[units], k) + within]
        default = m.default[rows_rng.integers(0, len(m.default), len(m.default))]
        out.append(TwoLevelDraw(units, rows, starts, default))
    return out


def _layer(acts: torch.Tensor | np.ndarray, i: int) -> np.ndarray:
    """``(n_rollouts, hidden)`` float64 at position ``i`` of ``acts``' layer axis."""
    col = acts[:, i]
    return np.ascontiguousarray(col if isinstance(col, np.ndarray) else col.double().numpy(), dtype=float)


#: The range each two-level statistic can take: an interval's ends are clipped to it.
_RANGES = {
    "pc1_share": (0.0, 1.0),
    "n_for_70": (1.0, math.inf),
    "default_pc1_distance": (0.0, 0.5),
    "cos_axis_pc1_middle": (-1.0, 1.0),
    "cos_axis_pc1_min": (-1.0, 1.0),
}

#: The numbers that get an answer-noise correction (a count of components has no first-order shift).
_CORRECTED = ("pc1_share", "default_pc1_distance", "cos_axis_pc1_middle", "cos_axis_pc1_min")


def _two_level(
    estimate: dict[str, float],
    draws: dict[str, list[float]],
    one_level: dict[str, list[float]],
    *,
    n_units: int,
    n_resamples: int,
    seed: int,
) -> dict[str, Interval]:
    """Intervals from two-level draws, re-centred on the estimate, and answer-noise corrected values.

    The draws' spread holds both kinds of sampling (which roles, which answers); their centre
    does not estimate the number: redrawing answers adds a second dose of answer noise, and a
    resample that repeats a role vector lowers the rank of the set, and both move a PCA
    statistic (at the book preset, SmolLM2's PC1 share is 0.33 and its two-level draws lie at
    0.20-0.25). So ``k``'s interval is the percentile interval of the draws moved by
    ``estimate - mean(draws)``: how far a rerun of the same design would land from us.

    ``draws[k][r]`` and ``one_level[k][r]`` are resample ``r`` with and without the rollouts
    redrawn (the same role vectors drawn), so ``shift = mean(draws - one_level)`` is what one
    more dose of answer noise does to the number, apart from what drawing the vectors does. For
    ``k`` in ``_CORRECTED``, ``k + "_corrected"`` is ``estimate - shift`` with ``k``'s interval
    moved by ``-shift``. Why: the data's own answer noise moved the number away from the value
    many answers per role would give (as the paper's 1,200 do); if the number responds to noise
    about linearly it moved it by about ``shift``: a first-order correction (on synthetic roles,
    tested, it moves toward that value but can stop short of it). Neither interval carries the
    uncertainty of the centring or of ``shift``. Ends are clipped to ``_RANGES``. Each
    ``k + "_roles_only"`` is the percentile interval of ``one_level``: the bootstrap of role
    vectors alone (``measures.space_intervals``, ``measures.axis_pc1_intervals``) from the same
    first-level draws, so a chapter need not run it again.
    """
    raw = percentile_intervals(
        estimate,
        draws,
        unit="role vectors, then rollouts",
        n_units=n_units,
        n_resamples=n_resamples,
        seed=seed,
    )
    out = {
        k + "_roles_only": iv
        for k, iv in percentile_intervals(
            estimate, one_level, unit="role vectors", n_units=n_units, n_resamples=n_resamples, seed=seed
        ).items()
    }
    for k, iv in raw.items():
        two, one = np.asarray(draws[k], dtype=float), np.asarray(one_level[k], dtype=float)
        back = (float(two[np.isfinite(two)].mean()) if np.isfinite(two).any() else math.nan) - iv.estimate
        moves = {k: (0.0, "role vectors, then rollouts")}
        if k in _CORRECTED:
            ok = np.isfinite(two) & np.isfinite(one)
            shift = float((two[ok] - one[ok]).mean()) if ok.any() else math.nan
            moves[k + "_corrected"] = (shift, "role vectors, then rollouts (answer noise taken off)")
        for name, (by, unit) in moves.items():
            e, lo, hi = np.clip(
                [iv.estimate - by, iv.low - back - by, iv.high - back - by],
                *_RANGES.get(k, (-math.inf, math.inf)),
            )
            out[name] = Interval(
                float(e), float(lo), float(hi), iv.level, iv.n_resamples, unit, n_units, seed
            )
    return out


def space_intervals_two_level(
    acts: torch.Tensor | np.ndarray,
    m: Members,
    layer_index: int,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    fraction: float = 0.70,
) -> dict[str, Interval]:
    """``space_intervals`` with answer sampling in the interval: resample role vectors, then rollouts.

    A role vector is the mean of a handful of sampled answers; the one-level bootstrap treats it
    as fixed, so two runs with other samples can land outside each other's intervals. Here each
    resample redraws, within every drawn vector, its rollouts with replacement (and the default's
    rollouts), rebuilds the vectors and redoes the PCA. The estimate is the full data's, exactly
    as ``space_intervals``.

    Args:
        acts: ``(n_rollouts, n_layers, hidden)`` the rollouts' activations (rows as the table's).
        m: ``members(table, rv)``.
        layer_index: position of the layer on ``acts``' second axis.

    Returns:
        ``space_intervals``' three keys (the two-level intervals), each also with
        ``"_roles_only"`` appended (role vectors alone, as ``space_intervals``), and
        ``"pc1_share_corrected"`` and ``"default_pc1_distance_corrected"`` (the answer-noise
        corrected values, ``_two_level``).
    """
    x = _layer(acts, layer_index)
    vecs = np.stack([x[r].mean(0) for r in m.vectors])
    dflt = x[m.default].mean(0)
    g, pdf = vecs @ vecs.T, vecs @ dflt
    estimate = _space_statistics(g, pdf, fraction)
    draws: dict[str, list[float]] = {k: [] for k in estimate}
    one: dict[str, list[float]] = {k: [] for k in estimate}
    with threadpool_limits(1):
        for dr in two_level_draws(m, n_resamples, seed):
            v, d = dr.vectors(x)
            for k, val in _space_statistics(v @ v.T, v @ d, fraction).items():
                draws[k].append(val)
            for k, val in _space_statistics(g[np.ix_(dr.units, dr.units)], pdf[dr.units], fraction).items():
                one[k].append(val)
    return _two_level(estimate, draws, one, n_units=len(vecs), n_resamples=n_resamples, seed=seed)


def axis_pc1_intervals_two_level(
    acts: torch.Tensor | np.ndarray,
    m: Members,
    fully: Sequence[bool],
    layers: Sequence[int],
    middle: int,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    chunk: int = 100,
) -> dict[str, Interval | dict[int, float]]:
    """``axis_pc1_intervals`` with answer sampling in the interval: resample role vectors, then rollouts.

    Each resample (``two_level_draws``) rebuilds the role vectors and the default from redrawn
    rollouts at every layer, then the axis and PC1 as ``axis_pc1_intervals`` does
    (``weighted_axis_pc1_cosines`` with a batch of resamples in place of layers).

    Args:
        acts: ``(n_rollouts, n_layers, hidden)``; ``layers``: layer index of its second axis.
        m: ``members(table, rv)``; ``fully``: ``(n,)`` which vectors the axis averages.

    Returns:
        As ``axis_pc1_intervals``, plus each number with ``"_roles_only"`` appended (role vectors
        alone, as ``axis_pc1_intervals``) and with ``"_corrected"`` appended (the answer-noise
        corrected values, ``_two_level``).
    """
    f_all = np.asarray(list(fully), dtype=bool)
    if not f_all.any():
        raise ValueError("no 'fully' role vector to build the axis from: run a larger preset")
    if len(f_all) != len(m.vectors):
        raise ValueError(f"fully has {len(f_all)} entries for {len(m.vectors)} role vectors")
    from scipy import sparse

    n, mid = len(f_all), list(layers).index(middle)
    draws = two_level_draws(m, n_resamples, seed)
    est = np.empty(len(layers))
    cos, cos_one = np.empty((n_resamples, len(layers))), np.empty((n_resamples, len(layers)))
    counts = np.vstack([np.ones((1, n)), resample_counts(n, n_resamples, seed)])  # all once, then the draws
    with threadpool_limits(1):
        for i in range(len(layers)):
            x = _layer(acts, i)
            vecs = np.stack([x[r].mean(0) for r in m.vectors])
            dflt = x[m.default].mean(0)
            g = vecs @ vecs.T
            u = np.linalg.eigh(_centre(g))[1][:, -1]
            one = np.concatenate(
                [
                    weighted_axis_pc1_cosines(  # the estimate, then one level
                        g[None],
                        (vecs @ dflt)[None],
                        np.array([dflt @ dflt]),
                        f_all,
                        counts[c : c + 250],
                        u[None],
                    )[:, 0]
                    for c in range(0, n_resamples + 1, 250)
                ]
            )
            est[i], cos_one[:, i] = one[0], one[1:]
            for c in range(0, n_resamples, chunk):
                part = draws[c : c + chunk]
                v = np.asarray(sparse.vstack([dr.weights(len(x)) for dr in part]) @ x).reshape(
                    len(part), n, -1
                )
                d = np.stack([x[dr.default].mean(0) for dr in part])  # (R, d)
                units = np.stack([dr.units for dr in part])  # (R, n)
                cos[c : c + len(part), i] = weighted_axis_pc1_cosines(
                    v @ v.transpose(0, 2, 1),
                    np.einsum("rnd,rd->rn", v, d),
                    (d * d).sum(-1),
                    f_all[units],
                    np.ones((1, n)),
                    u[units],
                )[0]
    out: dict[str, Interval | dict[int, float]] = dict(
        _two_level(
            {"cos_axis_pc1_middle": float(est[mid]), "cos_axis_pc1_min": float(est.min())},
            {"cos_axis_pc1_middle": cos[:, mid].tolist(), "cos_axis_pc1_min": cos.min(1).tolist()},
            {"cos_axis_pc1_middle": cos_one[:, mid].tolist(), "cos_axis_pc1_min": cos_one.min(1).tolist()},
            n_units=n,
            n_resamples=n_resamples,
            seed=seed,
        )
    )
    out["per_layer"] = {int(layer): float(est[i]) for i, layer in enumerate(layers)}
    return out

"""Persona spaces compared across models, one model at a time.

Each model's persona space at one layer is a ``ModelSpace``: its role vectors, their PCA
(oriented so that the default scores positive on every component), the default vector and the
contrast axis ``default - mean(role vectors)``. What two models are compared on is always one
number per role, so models of different hidden sizes line up by role name:

* ``compositions(centre=True)``: the cosine of each *mean-centred* role vector with PC1-PC3,
  as the paper's code computes the role composition (``centre=False`` gives the cosine of the
  raw vector, whose component along the shared mean makes every role look alike);
* ``axis_projections``: each role vector's scalar projection on the contrast axis. The axis
  points from the roles' mean toward the default, so its sign is anchored in every model (PC1's
  is only anchored by orienting it on the default); a Pearson correlation of projections does
  not depend on the roles' mean (a shift) nor on the model's activation scale.

``subset`` keeps the first rollouts of every role, for the control in which each model reads
the *other* model's answer texts teacher-forced (``runs.rescore``): with the texts shared, the
answers' sampling noise is common to both models and drops out of their correlation.
``trait_scores`` scores trait rollouts with a trait scorer (``judge.OfflineTraitScorer``), the
input of the paper's trait filter (``judge.pair_scores``, ``rubric_effect.filtered_trait_vectors``).

Example:
    >>> ms = model_space(ro, spec.middle_layer, labels=None, min_count=1)   # doctest: +SKIP
    >>> ms.compositions()["PC1"].head(2)                                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.linalg import eigh

from persona_axis.persona.runs import Rollouts
from persona_axis.persona.space import PCAResult, RoleVectors, compositions, default_vector, pca, role_vectors

if TYPE_CHECKING:
    import pandas as pd

    from persona_axis.core.stats import Interval
    from persona_axis.judge.traits import OfflineTraitScorer
    from persona_axis.persona.catalogue import Trait

__all__ = [
    "ModelSpace",
    "model_space",
    "text_rollouts",
    "trait_compositions",
    "subset",
    "trait_scores",
    "refit_pair_intervals",
    "TRAIT_ANCHORS",
]

#: Traits whose mean vector orients trait PC1 (an Assistant-like end), when present.
TRAIT_ANCHORS: tuple[str, ...] = ("conscientious", "methodical", "calm")


@dataclass
class ModelSpace:
    """One model's persona space at one layer.

    Attributes:
        model: the model that produced the activations (a reader's name for rescored texts).
        layer: the layer the space is built at.
        vectors: the role vectors (all recorded layers).
        pca: PCA of ``vectors.at(layer)``, each component oriented so the default scores >= 0.
        default: ``(hidden,)`` mean activation of the default rollouts at ``layer``.
    """

    model: str
    layer: int
    vectors: RoleVectors
    pca: PCAResult
    default: torch.Tensor

    @property
    def axis(self) -> torch.Tensor:
        """``(hidden,)`` the contrast axis at ``layer``: default minus the mean of the "fully" role
        vectors (label 3, or every vector when unlabelled), as ``axis.contrast_axis``."""
        x = self.vectors.at(self.layer).float()
        fully = torch.tensor([lab in (3, None) for lab in self.vectors.labels])
        if not bool(fully.any()):
            raise ValueError(
                "no 'fully' (label 3) role vector to build the contrast axis from: run a larger preset"
            )
        return self.default.float() - x[fully].mean(0)

    def compositions(self, *, centre: bool = True, k: int = 3) -> pd.DataFrame:
        """``DataFrame`` (role x ``PC1..PCk``) of cosines (``space.compositions``)."""
        return compositions(self.vectors, self.layer, self.pca.components, k=k, centre=centre)

    def axis_projections(self) -> pd.DataFrame:
        """``DataFrame`` (role x ``axis``): ``<v, axis> / |axis|`` for every role vector, rows named
        as ``compositions`` names them. Larger is nearer the default."""
        import pandas as pd

        u = self.axis
        u = u / u.norm().clamp(min=1e-12)
        names = [
            n if lab in (None, 3) else f"{n} ({lab})"
            for n, lab in zip(self.vectors.names, self.vectors.labels)
        ]
        return pd.DataFrame({"axis": (self.vectors.at(self.layer).float() @ u).tolist()}, index=names)


def model_space(
    ro: Rollouts,
    layer: int,
    *,
    labels: Sequence[int] | None = None,
    min_count: int = 1,
    model: str | None = None,
) -> ModelSpace:
    """Role vectors, oriented PCA and default of ``ro`` at ``layer`` (the cross-model recipe).

    Args:
        ro: persona rollouts (roles and default) with activations, own or rescored.
        labels, min_count: as ``space.role_vectors`` (``None``: one vector per role).
        model: the name to record (default ``ro.model``).
    """
    rv = role_vectors(ro.table, ro.acts, ro.layers, labels=labels, min_count=min_count)
    dv = default_vector(ro.table, ro.acts)[ro.layers.index(layer)]
    sp = pca(rv.at(layer), rv.names).oriented(dv)
    return ModelSpace(model or ro.model, layer, rv, sp, dv)


def text_rollouts(
    ro: Rollouts, embed: Callable[[list[str]], torch.Tensor], *, name: str | None = None
) -> Rollouts:
    """``ro`` with its activations replaced by sentence embeddings of its responses: the text-only
    baseline of the cross-model comparison. Run through :func:`model_space` at layer 0 it gives the
    persona space that the words alone carry, with no model's activations in it.

    Args:
        ro: persona rollouts (roles and default).
        embed: texts -> ``(n, dim)`` embeddings, e.g. ``judge.Embedder().encode``.
        name: the space's name (default ``"text of <ro.model>"``).

    Returns:
        ``Rollouts`` with ``acts`` of shape ``(n_rows, 1, dim)`` float32 and ``layers == [0]``; the
        table, path and keys are ``ro``'s (nothing is stored).
    """
    emb = torch.as_tensor(embed([str(t) for t in ro.table["response"]]), dtype=torch.float32)
    if emb.ndim != 2 or emb.shape[0] != len(ro.table):
        raise ValueError(f"embed gave shape {tuple(emb.shape)} for {len(ro.table)} responses; want (n, dim)")
    return replace(ro, acts=emb[:, None, :], layers=[0], model=name or f"text of {ro.model}")


def trait_compositions(
    tv: RoleVectors, layer: int, *, centre: bool = True, anchors: Sequence[str] = TRAIT_ANCHORS
) -> pd.DataFrame:
    """Trait PC1's composition (trait x ``PC1``), PC1 oriented toward the mean of the ``anchors``
    traits present (left as the SVD gives it when none is).

    Raises:
        ValueError: fewer than 2 trait vectors (no PCA).
    """
    sp = pca(tv.at(layer), tv.names)
    idx = [tv.names.index(t) for t in anchors if t in tv.names]
    if idx:
        sp = sp.oriented(tv.at(layer)[idx].mean(0))
    return compositions(tv, layer, sp.components, k=1, centre=centre)


def subset(ro: Rollouts, per_role: int) -> Rollouts:
    """The first ``per_role`` rollouts of every role (in table order) and every default rollout.

    The result's ``key`` names the subset, so a rescore of it is cached apart from the full set.

    Raises:
        ValueError: ``per_role < 1``.
    """
    if per_role < 1:
        raise ValueError(f"per_role must be at least 1, got {per_role}")
    t = ro.table.reset_index(drop=True)
    keep = (t["group"] != "role") | (t.groupby(["group", "name"]).cumcount() < per_role)
    idx = torch.tensor(t.index[keep].tolist(), dtype=torch.long)
    return replace(
        ro, table=t[keep].reset_index(drop=True), acts=ro.acts[idx], key=f"{ro.key}:first{per_role}"
    )


def trait_scores(
    table: pd.DataFrame, traits: Sequence[Trait], scorer: OfflineTraitScorer
) -> list[float | None]:
    """A trait score (0-100, ``None`` for REFUSAL) for every row of a trait-rollout table.

    Args:
        table: trait rollouts (``name``: the trait, ``response``), e.g. ``runs.trait_rollouts(...).table``.
        traits: the catalogue's ``Trait`` objects (looked up by name).
        scorer: an object with ``score(trait, responses) -> [TraitScore]`` (``judge.OfflineTraitScorer``).

    Raises:
        KeyError: a trait of ``table`` is not in ``traits``.
    """
    by_name = {t.name: t for t in traits}
    t = table.reset_index(drop=True)
    out: list[float | None] = [None] * len(t)
    for name, rows in t.groupby("name", sort=False).groups.items():
        if name not in by_name:
            raise KeyError(
                f"trait {name!r} is not in the catalogue given; pass the catalogue the rollouts were made from"
            )
        for i, s in zip(rows, scorer.score(by_name[name], t.loc[rows, "response"].tolist())):
            out[int(i)] = s.score
    return out


@dataclass(frozen=True)
class _Gram:
    """One space's role vectors as inner products: what a refit of its PC1 needs.

    ``gram`` is ``(n, n)`` float64 of ``<v_i, v_j>`` over every row of ``compositions`` (shared
    rows first, in the shared order, then the space's own), ``ref`` ``(n,)`` the rows' inner
    products with the default.
    """

    gram: np.ndarray
    ref: np.ndarray
    n_shared: int


def _gram(space: ModelSpace, shared: Sequence[str]) -> _Gram:
    names = list(space.compositions(k=1).index)
    pos = {n: i for i, n in enumerate(names)}
    order = [pos[n] for n in shared] + [i for i, n in enumerate(names) if n not in set(shared)]
    x = space.vectors.at(space.layer).double()[order]
    return _Gram((x @ x.T).numpy(), (x @ space.default.double()).numpy(), len(shared))


def _refit_pc1(g: _Gram, draw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PC1's centred and raw compositions of the drawn shared rows, PC1 refitted on them.

    The PCA is fitted on the drawn shared rows (repeats and all) plus the space's rows that no
    other space has, unchanged; PC1 is oriented so that the default scores >= 0, as
    ``PCAResult.oriented`` does. Everything is computed from inner products: with ``K`` the rows'
    Gram matrix and ``G = HKH`` its centred form (``H`` the centring matrix), PC1 is
    ``Xc^T u / sqrt(lam)`` for ``G``'s top eigenpair, so a row's centred cosine is
    ``sqrt(lam) u_i / sqrt(G_ii)`` and its raw one ``(K u)_i / sqrt(lam K_ii)``.

    Returns:
        ``(centred, raw)``, each ``(len(draw),)``.
    """
    sel = np.concatenate([draw, np.arange(g.n_shared, len(g.ref))])
    k = g.gram[np.ix_(sel, sel)]
    row = k.mean(0)
    c = k - row[:, None] - row[None, :] + row.mean()
    n = len(sel)
    lam_, vec = eigh(c, subset_by_index=[n - 1, n - 1])
    lam, u = float(lam_[0]), vec[:, 0]
    ku = k @ u
    if g.ref[sel] @ u - ku.mean() < 0:  # orient: (default - mean) . PC1 >= 0
        u, ku = -u, -ku
    m = len(draw)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = np.sqrt(lam) * u[:m] / np.sqrt(np.diag(c)[:m])
        raw = ku[:m] / np.sqrt(lam * np.diag(k)[:m])
    return centred, raw


def refit_pair_intervals(
    spaces: Mapping[str, ModelSpace],
    names: Sequence[str],
    *,
    unit: str = "roles",
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, Interval | None]]:
    """Each space's lowest PC1-composition correlation with another of ``names``, PCA refitted.

    As ``measures.lowest_pair_intervals``, but every resample refits each space's PCA: the rows
    every space of ``names`` has (role vectors, named as ``compositions`` names them) are drawn
    with replacement, the same draw for every space; each space's PC1 is refitted on its drawn
    rows (plus its rows no other space has, unchanged) and oriented toward its default; the
    compositions of the drawn rows are correlated between every pair. The interval so carries the
    PCA's own sampling noise, which holding the components fixed leaves out. The estimate (all
    rows, once each) equals ``composition_correlations`` of ``compositions()``.

    Args:
        spaces: ``name -> ModelSpace`` (models, or text-only spaces from ``text_rollouts``).
        names: the spaces compared.

    Returns:
        ``{"PC1": {name: Interval}, "PC1 raw": {...}}`` (centred and raw compositions); ``None``
        for every name when fewer than two spaces or three shared rows are given.
    """
    from persona_axis.analysis.measures import bootstrap_many

    names = [n for n in names if n in spaces]
    empty: dict[str, dict[str, Interval | None]] = {c: {n: None for n in names} for c in ("PC1", "PC1 raw")}
    if len(names) < 2:
        return empty
    shared = sorted(set.intersection(*(set(spaces[n].compositions(k=1).index) for n in names)))
    if len(shared) < 3:
        return empty
    grams = [_gram(spaces[n], shared) for n in names]

    def lowest(draw: np.ndarray) -> dict[str, float]:
        fits = [_refit_pc1(g, draw) for g in grams]
        out: dict[str, float] = {}
        for j, col in enumerate(("PC1", "PC1 raw")):
            r = np.corrcoef(np.stack([f[j] for f in fits]))
            np.fill_diagonal(r, np.inf)
            out.update({f"{col}\t{n}": float(r[i].min()) for i, n in enumerate(names)})
        return out

    got = bootstrap_many(len(shared), lowest, unit=unit, n_resamples=n_resamples, seed=seed)
    return {c: {n: got.get(f"{c}\t{n}") for n in names} for c in ("PC1", "PC1 raw")}

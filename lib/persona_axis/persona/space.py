"""Role vectors and persona space (PCA) from labelled rollouts.

A role vector is the mean activation of one role's rollouts (at every recorded layer). The paper
keeps, per role, the rollouts the judge labelled "fully" (3) and "somewhat" (2) role-playing as
separate vectors when a label has at least ``min_count`` rollouts; the official code keeps only
label 3 with at least 50. Both are parameters of ``role_vectors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    import pandas as pd

#: The paper's filter: separate vectors for "fully" (3) and "somewhat" (2) role-playing rollouts,
#: each kept when it has at least 10 rollouts. The official code keeps label 3 with >= 50.
PAPER_LABELS: tuple[int, ...] = (3, 2)
PAPER_MIN_COUNT = 10
CODE_LABELS: tuple[int, ...] = (3,)
CODE_MIN_COUNT = 50

__all__ = [
    "RoleVectors",
    "role_vectors",
    "default_vector",
    "PCAResult",
    "pca",
    "role_composition",
    "relative_position",
    "trait_vectors",
    "compare_vector_sets",
    "compositions",
    "composition_correlations",
    "pair_values",
    "PAPER_LABELS",
    "PAPER_MIN_COUNT",
    "CODE_LABELS",
    "CODE_MIN_COUNT",
]


@dataclass
class RoleVectors:
    """Mean activations per (role, label).

    Attributes:
        vectors: ``(n_vectors, n_layers, hidden)`` float32.
        names: role name of each vector.
        labels: judge label each vector averages (``None`` when unlabelled rollouts were used).
        counts: rollouts behind each vector.
        layers: layer index of the second axis.
    """

    vectors: torch.Tensor
    names: list[str]
    labels: list[int | None]
    counts: list[int]
    layers: list[int]

    def at(self, layer: int) -> torch.Tensor:
        """``(n_vectors, hidden)`` at one layer."""
        return self.vectors[:, self.layers.index(layer)]


def role_vectors(
    table: pd.DataFrame,
    acts: torch.Tensor,
    layers: Sequence[int],
    *,
    labels: Sequence[int] | None = PAPER_LABELS,
    min_count: int = PAPER_MIN_COUNT,
    group: str = "role",
) -> RoleVectors:
    """Average the rollouts of each role (and each kept label) into role vectors.

    Args:
        table: rollout table with columns ``group`` and ``name`` (and ``label`` if ``labels``).
        acts: ``(n_rollouts, n_layers, hidden)`` aligned with ``table``'s rows.
        labels: judge labels to keep, each giving its own vector (paper: ``(3, 2)``; official
            code: ``(3,)``). ``None`` averages all of a role's rollouts, unlabelled.
        min_count: a (role, label) needs at least this many rollouts (paper 10, code 50).
        group: which rows count as roles (``"role"``; ``"trait+"`` for trait vectors).

    Returns:
        ``RoleVectors`` sorted by role name, then label (descending).
    """
    if len(table) != len(acts):
        raise ValueError(f"table has {len(table)} rows but acts has {len(acts)}")
    rows = table.reset_index(drop=True)
    mask = rows["group"] == group
    vecs, names, labs, counts = [], [], [], []
    for name in sorted(rows.loc[mask, "name"].unique()):
        sel = mask & (rows["name"] == name)
        for lab in sorted(labels, reverse=True) if labels is not None else [None]:
            s = sel if lab is None else sel & (rows["label"] == lab)
            idx = torch.tensor(rows.index[s].tolist(), dtype=torch.long)
            if len(idx) >= min_count and len(idx) > 0:
                vecs.append(acts[idx].float().mean(0))
                names.append(str(name))
                labs.append(lab)
                counts.append(len(idx))
    if not vecs:
        raise ValueError(f"no (role, label) reached min_count={min_count}; lower it or collect more rollouts")
    return RoleVectors(torch.stack(vecs), names, labs, counts, list(layers))


def default_vector(table: pd.DataFrame, acts: torch.Tensor) -> torch.Tensor:
    """Mean activation of all default rollouts: ``(n_layers, hidden)``."""
    rows = table.reset_index(drop=True)
    idx = torch.tensor(rows.index[rows["group"] == "default"].tolist(), dtype=torch.long)
    if len(idx) == 0:
        raise ValueError("the table has no default rollouts (group == 'default')")
    return acts[idx].float().mean(0)


@dataclass
class PCAResult:
    """PCA of mean-centred vectors (no scaling), as in the paper.

    Attributes:
        components: ``(k, hidden)`` unit principal directions, by decreasing variance.
        explained_variance_ratio: ``(k,)`` share of the total variance of each component.
        mean: ``(hidden,)`` the mean that was subtracted.
        names: the name of each input vector (e.g. role names).
        scores: ``(n, k)`` coordinates of the input vectors.
    """

    components: torch.Tensor
    explained_variance_ratio: torch.Tensor
    mean: torch.Tensor
    names: list[str]
    scores: torch.Tensor

    def n_for(self, fraction: float) -> int:
        """Number of components whose cumulative variance share reaches ``fraction``."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        cum = self.explained_variance_ratio.cumsum(0)
        hit = (cum >= fraction - 1e-9).nonzero()
        return int(hit[0]) + 1 if len(hit) else len(cum)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Coordinates of ``(..., hidden)`` vectors: ``(..., k)``."""
        return (x.float() - self.mean) @ self.components.T

    def oriented(self, reference: torch.Tensor) -> PCAResult:
        """Flip each component's sign so that ``reference`` (``(hidden,)``) scores >= 0.

        PCA signs are arbitrary; orienting on the default vector puts the Assistant end of every
        component on the positive side, so tables of different models and layers line up.
        """
        s = torch.sign(self.project(reference))
        s[s == 0] = 1
        return PCAResult(
            self.components * s[:, None],
            self.explained_variance_ratio,
            self.mean,
            self.names,
            self.scores * s,
        )


def pca(vectors: torch.Tensor, names: Sequence[str], n_components: int | None = None) -> PCAResult:
    """PCA of ``(n, hidden)`` vectors after subtracting their mean.

    Args:
        vectors: one row per role (or trait).
        names: a name per row.
        n_components: keep this many (default: all, at most ``n - 1``).
    """
    if vectors.ndim != 2 or len(vectors) != len(names):
        raise ValueError("vectors must be (n, hidden) with one name per row")
    if len(vectors) < 2:
        raise ValueError("PCA needs at least two vectors")
    x = vectors.double()
    mean = x.mean(0)
    u, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    var = s**2
    ratio = var / var.sum()
    k = min(n_components or len(vectors) - 1, len(s))
    comps = vh[:k]
    return PCAResult(
        comps.float(), ratio[:k].float(), mean.float(), list(names), ((x - mean) @ comps.T).float()
    )


def role_composition(vectors: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """Cosine of each vector with a direction: ``(n,)``.

    Comparable across models of different hidden sizes, because it is one number per role.
    Invariant to rescaling any vector or the direction by a positive factor.
    """
    v = vectors.float()
    d = direction.float()
    return (v @ d) / (v.norm(dim=-1) * d.norm()).clamp(min=1e-12)


def relative_position(pca_result: PCAResult, x: torch.Tensor) -> torch.Tensor:
    """Where ``x`` falls within the range of the input vectors' scores, per component.

    Returns ``(k,)`` values: 0 at the lowest role score, 1 at the highest (outside [0, 1] if
    ``x`` lies beyond every role). The paper reports the distance from the nearest end,
    ``min(p, 1 - p)``: 0.03 for the default on PC1, 0.27-0.50 on PCs 2-10.
    """
    s = pca_result.project(x)
    lo, hi = pca_result.scores.min(0).values, pca_result.scores.max(0).values
    return (s - lo) / (hi - lo).clamp(min=1e-12)


def trait_vectors(table: pd.DataFrame, acts: torch.Tensor, layers: Sequence[int]) -> RoleVectors:
    """Per trait, mean activation of its positive rollouts minus that of its negative ones.

    Points from the trait's opposite toward the trait; ``labels`` are ``None``, ``counts`` the
    number of positive rollouts.
    """
    pos = role_vectors(table, acts, layers, labels=None, min_count=1, group="trait+")
    neg = role_vectors(table, acts, layers, labels=None, min_count=1, group="trait-")
    if pos.names != neg.names:
        raise ValueError("every trait needs both positive and negative rollouts")
    return RoleVectors(
        pos.vectors - neg.vectors, pos.names, [None] * len(pos.names), pos.counts, list(layers)
    )


def compare_vector_sets(
    table: pd.DataFrame,
    acts: torch.Tensor,
    layers: Sequence[int],
    layer: int,
    variants: dict[str, dict[str, Any]],
) -> pd.DataFrame:
    """Persona-space summary numbers for several ways of building role vectors.

    Args:
        variants: ``name -> role_vectors keyword arguments`` (e.g. ``{"labels": None}`` for
            unfiltered vectors, ``{"labels": (3, 2), "min_count": 10}`` for the paper's filter).
        layer: the layer to analyse.

    Returns:
        A ``pandas.DataFrame`` with, per variant: number of vectors, PC1 variance share,
        components for 70%, the default's distance from the nearest end of PC1, and the cosine
        of PC1 with the contrast axis built from the same vectors. Variants whose filter keeps
        fewer than 3 vectors are reported with that count and no numbers.
    """
    import pandas as pd

    from persona_axis.persona.axis import contrast_axis

    dv = default_vector(table, acts)
    li = list(layers).index(layer)
    defaults = acts[torch.tensor((table.reset_index(drop=True)["group"] == "default").to_numpy())]
    out = []
    for name, kwargs in variants.items():
        try:
            rv = role_vectors(table, acts, layers, **kwargs)
        except ValueError:
            out.append([name, 0, None, None, None, None])
            continue
        if len(rv.names) < 3:
            out.append([name, len(rv.names), None, None, None, None])
            continue
        sp = pca(rv.at(layer), rv.names).oriented(dv[li])
        pos = relative_position(sp, dv[li])[0]
        ax = contrast_axis(defaults, rv.vectors, layers, model="comparison")
        out.append(
            [
                name,
                len(rv.names),
                float(sp.explained_variance_ratio[0]),
                sp.n_for(0.7),
                float(min(pos, 1 - pos)),
                float(sp.components[0] @ ax.unit(layer)),
            ]
        )
    return pd.DataFrame(
        out,
        columns=[
            "role vectors",
            "n",
            "PC1 share",
            "PCs for 70%",
            "default's distance from PC1 end",
            "cos(PC1, contrast axis)",
        ],
    )


def compositions(
    vectors: RoleVectors, layer: int, components: torch.Tensor, k: int = 3, *, centre: bool = False
) -> pd.DataFrame:
    """Role composition of the first ``k`` components: ``DataFrame`` (role x ``PC1..PCk``) of cosines.

    Rows are named by role (with `` (label)`` appended for vectors of labels other than 3 or
    ``None``), so compositions from models of different hidden sizes line up by role.
    ``centre=True`` takes the cosine of each vector minus the mean of all ``vectors`` at
    ``layer`` (the paper's code; the PCA is fitted on these centred vectors); the default takes
    the raw vector, whose component along the shared mean makes every cosine alike.
    """
    import pandas as pd

    names = [n if lab in (None, 3) else f"{n} ({lab})" for n, lab in zip(vectors.names, vectors.labels)]
    x = vectors.at(layer)
    if centre:
        x = x.float() - x.float().mean(0)
    return pd.DataFrame(
        {f"PC{i + 1}": role_composition(x, components[i]).tolist() for i in range(min(k, len(components)))},
        index=names,
    )


def composition_correlations(per_model: Any, column: str = "PC1", absolute: bool = False) -> pd.DataFrame:
    """Pearson correlation of one component's role composition between every pair of models.

    Args:
        per_model: ``model -> DataFrame`` from ``compositions``; only roles present in both
            models of a pair enter that pair's correlation.
        absolute: report ``|r|`` (for components whose sign is not anchored).

    Returns:
        A symmetric ``DataFrame`` (models x models); the diagonal is 1.
    """
    import pandas as pd

    names = list(per_model)
    out = pd.DataFrame(1.0, index=names, columns=names)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            common = per_model[a].index.intersection(per_model[b].index)
            if len(common) < 3:
                r = float("nan")
            else:
                r = float(per_model[a].loc[common, column].corr(per_model[b].loc[common, column]))
            out.loc[a, b] = out.loc[b, a] = abs(r) if absolute else r
    return out


def pair_values(matrix: Any) -> list[float]:
    """The entries above the diagonal of a square ``DataFrame``: one value per pair of models."""
    n = len(matrix)
    return [float(matrix.iloc[i, j]) for i in range(n) for j in range(i + 1, n)]

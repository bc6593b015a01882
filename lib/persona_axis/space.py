"""Role vectors and persona space (PCA) from labelled rollouts.

A role vector is the mean activation of one role's rollouts (at every recorded layer). The paper
keeps, per role, the rollouts the judge labelled "fully" (3) and "somewhat" (2) role-playing as
separate vectors when a label has at least ``min_count`` rollouts; the official code keeps only
label 3 with at least 50. Both are parameters of ``role_vectors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["RoleVectors", "role_vectors", "default_vector"]


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
    table: Any,
    acts: torch.Tensor,
    layers: Sequence[int],
    *,
    labels: Sequence[int] | None = None,
    min_count: int = 1,
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
        for lab in (sorted(labels, reverse=True) if labels is not None else [None]):
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


def default_vector(table: Any, acts: torch.Tensor) -> torch.Tensor:
    """Mean activation of all default rollouts: ``(n_layers, hidden)``."""
    rows = table.reset_index(drop=True)
    idx = torch.tensor(rows.index[rows["group"] == "default"].tolist(), dtype=torch.long)
    if len(idx) == 0:
        raise ValueError("the table has no default rollouts (group == 'default')")
    return acts[idx].float().mean(0)

"""What the judge's rubric does to persona space: one table, several labellings of the same rollouts.

The paper filters role rollouts with its judge before it averages them into role vectors. Which
rollouts survive depends on the rubric: the paper's (self-identification is the signal: no
mention of being an AI is a 3) keeps more than the book's older, stricter one (a bland answer
with no AI mention is a 1). ``rubric_table`` puts the persona-space summary numbers of each
labelling side by side with no filter at all and, in a last row, with the paper's values (which the
caller reads from ``persona_axis.claims``, the one place they are typed). ``filtered_trait_vectors``
applies the paper's trait filter (pairs whose scores differ by at least 50) before building trait vectors.

Example:
    >>> ro = persona_rollouts(lm, tok, spec, cat, P)                               # doctest: +SKIP
    >>> labellings = {"paper rubric": label(ro, cat, OfflineJudge()).table["label"].tolist(),
    ...               "strict rubric": label(ro, cat, OfflineJudge(rubric="strict")).table["label"].tolist(),
    ...               "no filter": None}
    >>> rubric_table(ro.table, ro.acts, ro.layers, spec.middle_layer, labellings, min_count=4)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from persona_axis.persona.space import RoleVectors, compare_vector_sets

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["rubric_table", "filtered_trait_vectors", "COLUMNS"]

#: The table's columns (besides the row name).
COLUMNS = ("role vectors", "PCs for 70%", "PC1 share", "cos(axis, PC1)", "default's distance from PC1 end")


def rubric_table(
    table: pd.DataFrame,
    acts: torch.Tensor,
    layers: Sequence[int],
    layer: int,
    labellings: dict[str, Sequence[int | None] | None],
    *,
    keep: Sequence[int] = (3, 2),
    min_count: int = 10,
    paper: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Persona-space numbers under each labelling of the same rollouts, beside the paper's.

    Args:
        table, acts, layers: persona rollouts (``runs.Rollouts`` fields): rows with ``group``
            ``"role"`` / ``"default"`` and ``name``; ``acts`` ``(n_rollouts, n_layers, hidden)``.
        layer: the analysed layer (the paper: the middle layer).
        labellings: row name -> one judge label per row of ``table`` (``None`` for non-role rows),
            or ``None`` for *no filter* (every rollout of a role in one vector).
        keep: labels that make role vectors, each its own vector (the paper: 3 and 2).
        min_count: rollouts a (role, label) needs (the paper: 10).
        paper: the paper's value of each of ``COLUMNS`` (text, from ``persona_axis.claims``), for a
            last row ``"paper"``; ``None``: no such row.

    Returns:
        A ``DataFrame`` indexed by row name with ``COLUMNS``: the number of role vectors, the
        components for 70% of their variance, PC1's share, the cosine of PC1 with the contrast
        axis built from the same vectors (sign: PC1 oriented toward the default, so positive means
        PC1 points to the Assistant), and the default's distance from the nearest end of PC1
        (0 = at an end, 0.5 = in the middle). A labelling that keeps fewer than 3 vectors has its
        count and empty numbers.
    """
    import pandas as pd

    rows = []
    for name, labels in labellings.items():
        t = table.reset_index(drop=True).copy()
        variant: dict[str, Any]
        if labels is None:
            variant = {"labels": None, "min_count": 1}
        else:
            if len(labels) != len(t):
                raise ValueError(f"labelling {name!r} has {len(labels)} labels for {len(t)} rollouts")
            t["label"] = list(labels)
            variant = {"labels": list(keep), "min_count": min_count}
        got = compare_vector_sets(t, acts, layers, layer, {name: variant}).iloc[0]
        rows.append(
            {
                "": name,
                "role vectors": int(got["n"]),
                "PCs for 70%": got["PCs for 70%"],
                "PC1 share": got["PC1 share"],
                "cos(axis, PC1)": got["cos(PC1, contrast axis)"],
                "default's distance from PC1 end": got["default's distance from PC1 end"],
            }
        )
    out = pd.DataFrame(rows).set_index("")
    out["PCs for 70%"] = out["PCs for 70%"].astype("Int64")
    if paper is not None:
        missing = [c for c in COLUMNS if c not in paper]
        if missing:
            raise ValueError(
                f"the paper's row lacks {missing}: give a value for each of rubric_effect.COLUMNS"
            )
        out = out.astype(object)
        out.loc["paper"] = [paper[c] for c in COLUMNS]
    return out


def filtered_trait_vectors(
    table: pd.DataFrame,
    acts: torch.Tensor,
    layers: Sequence[int],
    scores: Sequence[float | None],
    *,
    threshold: float = 50.0,
    min_pairs: int = 1,
) -> RoleVectors:
    """Trait vectors over the kept pairs only: mean(positive) - mean(negative) activations.

    Returns a ``space.RoleVectors`` (``counts``: kept pairs per trait) for the traits with at
    least ``min_pairs`` kept pairs; raises ``ValueError`` when none survives. ``scores`` comes from
    a trait scorer, e.g. ``judge.score_rollouts(OfflineTraitScorer(), table, traits)``; with the
    book's small models and the offline scorer next to no pair passes at the paper's threshold,
    so a caller checks ``judge.surviving_traits`` first.
    """
    from persona_axis.judge.traits import kept_pairs, pair_scores

    if len(table) != len(acts):
        raise ValueError(f"table has {len(table)} rows but acts has {len(acts)}")
    kept = kept_pairs(pair_scores(table, scores), threshold)
    vecs, names, counts = [], [], []
    for trait, g in kept.groupby("trait", sort=True):
        if len(g) < min_pairs:
            continue
        pos = acts[torch.tensor(g["pos_row"].tolist())].float().mean(0)
        neg = acts[torch.tensor(g["neg_row"].tolist())].float().mean(0)
        vecs.append(pos - neg)
        names.append(str(trait))
        counts.append(len(g))
    if not vecs:
        raise ValueError(
            f"no trait has {min_pairs} prompt pair(s) whose scores differ by >= {threshold}: check "
            "judge.surviving_traits first, and use space.trait_vectors (every pair) or a lower threshold"
        )
    return RoleVectors(torch.stack(vecs), names, [None] * len(names), counts, list(layers))

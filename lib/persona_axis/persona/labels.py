"""Judge labels of persona-space rollouts, cached by the rollouts, the judge and the roles.

A judge is anything with ``judge(role_name, role_description, responses) -> [Judgement]`` and
``identity() -> dict`` (``persona_axis.judge.OfflineJudge``, ``LLMJudge``). This module sits
above both ``runs`` (the rollouts) and ``judge``: the rollouts never build a judge.

The labels of one set of rollouts are stored in ``Store("labels", key)`` with the key made of
explicit fields: the rollouts' key, the judge's class and ``identity()`` (model or endpoint,
rubric, thresholds, cues, embedder) and the name and description of every labelled role (the
judge reads the description). Another judge or another catalogue never reads these labels.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from persona_axis.core.store import CacheError, Store
from persona_axis.persona.catalogue import Catalogue
from persona_axis.persona.runs import Rollouts, _progress_bar

__all__ = ["label", "judge_key", "labels_config"]


def judge_key(judge: Any) -> dict[str, Any]:
    """The judge's identity for cache keys: ``{"class": ..., **judge.identity()}``."""
    identity = getattr(judge, "identity", None)
    if not callable(identity):
        raise TypeError(
            f"{type(judge).__name__} has no identity(): a judge must say what decides its labels "
            "(class, model or endpoint, rubric, thresholds) so that they are cached apart from another judge's"
        )
    return {"class": type(judge).__qualname__, **identity()}


def _roles_sha(ro: Rollouts, cat: Catalogue) -> str:
    names = sorted({str(n) for n in ro.table.loc[ro.table["group"] == "role", "name"]})
    roles = [[n, cat.role(n).description] for n in names]
    return hashlib.sha256(json.dumps(roles, ensure_ascii=True).encode()).hexdigest()[:16]


def labels_config(ro: Rollouts, cat: Catalogue, judge: Any) -> dict[str, Any]:
    """The explicit fields the labels of ``ro`` by ``judge`` are keyed by."""
    return {"rollouts": ro.key, "judge": judge_key(judge), "roles": _roles_sha(ro, cat)}


def label(ro: Rollouts, cat: Catalogue, judge: Any, *, progress: bool = True) -> Rollouts:
    """Add the judge's 0-3 label to every role rollout (default and trait rollouts get ``None``).

    The same rollouts judged by the same judge (``labels_config``) are labelled once; the result
    carries ``labels_key``, the hash that results built from these labels (the axis) are keyed by.

    Args:
        judge: anything with ``judge(role_name, role_description, responses, questions=...) -> [Judgement]``
            and ``identity()`` (``persona_axis.judge.OfflineJudge`` or ``LLMJudge``; each rollout's
            question is passed, for the judges whose prompt needs it).
    """
    store = Store("labels", labels_config(ro, cat, judge))
    labels = store.load_json("labels")
    if labels is not None and len(labels) != len(ro.table):
        raise CacheError(
            f"{store.path} has {len(labels)} labels for {len(ro.table)} rollouts; delete the folder and rerun"
        )
    if labels is None:
        labels = [None] * len(ro.table)
        roles = ro.table[ro.table["group"] == "role"].groupby("name").groups
        bar = _progress_bar(len(roles), 0, "judging roles") if progress else None
        for name, index in roles.items():
            role = cat.role(str(name))
            out = judge.judge(
                role.name,
                role.description,
                ro.table.loc[index, "response"].tolist(),
                questions=ro.table.loc[index, "question"].tolist(),
            )
            if len(out) != len(index):
                raise ValueError(
                    f"the judge gave {len(out)} labels for the {len(index)} responses of {name!r}"
                )
            for i, j in zip(index, out):
                labels[int(i)] = int(j.label)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        store.save_json("labels", labels)
    table = ro.table.copy()
    table["label"] = labels
    return Rollouts(
        table=table,
        acts=ro.acts,
        layers=ro.layers,
        model=ro.model,
        path=ro.path,
        key=ro.key,
        labels_key=store.hash,
    )

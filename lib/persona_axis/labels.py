"""Judge labels of persona-space rollouts, cached beside the rollouts.

A judge is anything with ``judge(role_name, role_description, responses) -> [Judgement]``
(``persona_axis.judge.OfflineJudge``, ``LLMJudge``). This module sits above both ``runs``
(the rollouts) and ``judge``: the rollouts never build a judge.
"""

from __future__ import annotations

import json
from typing import Any

from .catalogue import Catalogue
from .runs import Rollouts, _progress_bar
from .store import atomic_write_text, config_hash

__all__ = ["label"]


def label(ro: Rollouts, cat: Catalogue, judge: Any, *, judge_id: str | None = None, progress: bool = True) -> Rollouts:
    """Add the judge's 0-3 label to every role rollout (default and trait rollouts get ``None``).

    Labels are cached beside the rollouts, in ``labels-<judge_id>.json``: the same rollouts
    judged by the same judge configuration are labelled once.

    Args:
        judge: anything with ``judge(role_name, role_description, responses, questions=...) -> [Judgement]``
            (``persona_axis.judge.OfflineJudge`` or ``LLMJudge``; the LLM judge puts each rollout's
            question into its prompt, as the release's ``eval_prompt`` needs).
        judge_id: names the judge configuration in the cache (default: its class and settings).
    """
    if judge_id is None:
        settings = {k: v for k, v in vars(judge).items() if isinstance(v, (int, float, str, bool, tuple, list))}
        judge_id = f"{type(judge).__name__}-{config_hash(settings)}"
    path = ro.path / f"labels-{judge_id}.json"
    if path.exists():
        labels = json.loads(path.read_text())
        if len(labels) != len(ro.table):
            raise ValueError(f"{path} has {len(labels)} labels for {len(ro.table)} rollouts; delete it and rerun")
    else:
        labels = [None] * len(ro.table)
        roles = ro.table[ro.table["group"] == "role"].groupby("name").groups
        bar = _progress_bar(len(roles), 0, "judging roles") if progress else None
        for name, index in roles.items():
            role = cat.role(str(name))
            out = judge.judge(role.name, role.description, ro.table.loc[index, "response"].tolist(),
                              questions=ro.table.loc[index, "question"].tolist())
            for i, j in zip(index, out):
                labels[int(i)] = int(j.label)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        atomic_write_text(path, json.dumps(labels))
    table = ro.table.copy()
    table["label"] = labels
    return Rollouts(table=table, acts=ro.acts, layers=ro.layers, model=ro.model, path=ro.path, key=ro.key)

"""labels.label: every role rollout judged once, with its question, and cached beside the rollouts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from persona_axis.judge import Judgement
from persona_axis.persona.catalogue import Catalogue, Role
from persona_axis.persona.labels import label
from persona_axis.persona.runs import Rollouts


class StubJudge:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], list[str]]] = []

    def identity(self):
        return {"class": "StubJudge"}

    def judge(self, role_name, role_description, responses, questions=None):
        self.calls.append((role_name, list(responses), list(questions)))
        return [Judgement(3 if "Arr" in r else 1) for r in responses]


def test_label_passes_questions_and_caches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    cat = Catalogue((Role("pirate", "fictional", "A sea robber.", ("Be a pirate.",)),), (), ())
    table = pd.DataFrame(
        {
            "group": ["role", "role", "default"],
            "name": ["pirate", "pirate", "default"],
            "question": ["Who are you?", "Where?", "Who are you?"],
            "response": ["Arr!", "As an AI, no.", "Hi"],
        }
    )
    ro = Rollouts(table, torch.zeros(3, 1, 2), [0], "m", tmp_path, "k")
    judge = StubJudge()
    out = label(ro, cat, judge, progress=False)
    assert out.table["label"].tolist()[:2] == [3, 1] and out.table["label"].isna().tolist()[2]
    assert judge.calls == [("pirate", ["Arr!", "As an AI, no."], ["Who are you?", "Where?"])]
    again = label(ro, cat, judge, progress=False)
    assert len(judge.calls) == 1 and again.table["label"].tolist()[:2] == [3, 1]

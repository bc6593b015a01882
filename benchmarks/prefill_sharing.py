"""Shared prompt prefixes prefilled once, against every prompt prefilled whole, on the book's persona rollouts.

The first ``--rows`` persona jobs of the book preset (role system prompts x questions, as chapter 1
decodes them: one chunk, sorted by prompt length, decoded ``--batch`` at a time) are generated twice
per repeat, with ``share_prefixes`` 16 and 0, in alternating order. A prefill-only pass
(one new token) of each shows what the prefill itself costs. Figures are printed, not asserted.

    python benchmarks/prefill_sharing.py --model qwen2.5-coder-0.5b-instruct --rows 256 --repeats 2
"""

from __future__ import annotations

import argparse
import time

import torch

from persona_axis.core.presets import preset
from persona_axis.engine.prefix_share import share_plan
from persona_axis.engine.rollouts import Sampling, generate
from persona_axis.model.chat import prompt_ids
from persona_axis.model.models import load_model
from persona_axis.persona.catalogue import load_catalogue
from persona_axis.persona.runs import persona_jobs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    p = preset("persona_space", "book")
    model, tok, spec = load_model(args.model)
    jobs = persona_jobs(load_catalogue(), spec, n_prompts=p["n_prompts"], n_questions=p["n_questions"])[
        : args.rows
    ]
    prompts = sorted((prompt_ids(tok, spec, j.system, [j.question]) for j in jobs), key=len)
    plan = share_plan(prompts[: args.batch], 16)
    padded = args.batch * max(map(len, prompts[: args.batch]))
    print(
        f"[{args.model}] {len(prompts)} prompts, {sum(map(len, prompts))} prompt tokens; first prefill group: "
        f"{padded} padded tokens whole, "
        + (
            "no sharing"
            if plan is None
            else f"{len(plan.leaders)} shared prefixes, {sum(len(pt) for pt in plan.parts)} rows in {len(plan.parts)} suffix passes"
        )
    )
    times: dict[tuple[int, int], list[float]] = {}
    toks: dict[int, int] = {}
    for r in range(args.repeats):
        for share in (16, 0) if r % 2 == 0 else (0, 16):
            for new in (1, p["max_new_tokens"]):
                t0 = time.perf_counter()
                res = generate(
                    model,
                    tok,
                    prompts,
                    Sampling(max_new_tokens=new, seed=r),
                    batch_size=args.batch,
                    layers=[spec.middle_layer],
                    share_prefixes=share,
                )
                times.setdefault((share, new), []).append(time.perf_counter() - t0)
                if new > 1:
                    toks[share] = sum(res.n_tokens)
    for share in (0, 16):
        pre = min(times[(share, 1)])
        full = min(times[(share, p["max_new_tokens"])])
        print(
            f"share_prefixes={share:2d}: prefill only {pre:6.1f} s; whole generation {full:6.1f} s "
            f"({toks[share] / full:.0f} response tok/s); runs: "
            + ", ".join(f"{t:.1f}" for t in times[(share, p["max_new_tokens"])])
        )
    print(
        f"speed-up of the whole generation: {min(times[(0, p['max_new_tokens'])]) / min(times[(16, p['max_new_tokens'])]):.2f}x "
        f"(torch threads {torch.get_num_threads()})"
    )


if __name__ == "__main__":
    main()

"""Useful-FLOP throughput of the decode loop as a share of the matmul ceiling, before and after.

The models and the ceiling's matmul compute in ``hardware.compute_dtype()``: bf16 on a CPU with native
bf16 (AMX, AVX-512 BF16), fp32 otherwise ($PERSONA_AXIS_DTYPE overrides).
For each model, rounds alternate: a matmul (the ceiling, ``speed.matmul_gflops``), the
engine of version 1 (``generate(..., engine="reference")``), the matmul again, the current
engine (``engine="slots"``). Both engines get the same prompts (role system prompts x
questions), the same sampling (temperature 0.7, top_p 0.9) and batch size. Useful FLOPs
(``speed.decode_flops``) count every prompt and response token once through every weight matrix,
the output layer at sampled tokens only, and causal attention; padding and finished rows fed
again are not useful. Each run's useful GFLOP/s is divided by the mean of the two ceilings
measured next to it, so a busy machine slows both. Figures are printed, not asserted.
The batch defaults to the book preset's (256, as chapters 1, 5 and 7 decode). With fewer rows each
weight matrix is read for less work and runs further below the square matmul's rate, the output
layer most (float32 on an AVX2 CPU, 2 December 2026: Qwen's output layer 38 GFLOP/s at 64 rows and
65 at 256, against 107 for the square; the decode loop's share 37.5% at 64 rows and 71.1% at 256).

    python benchmarks/decode_ceiling.py --models smollm2-135m-instruct qwen2.5-coder-0.5b-instruct
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

# the same prompts as the rollout-throughput benchmark (this folder is on sys.path when a script runs)
from rollout_throughput import QUESTIONS, SYSTEMS

from persona_axis.core.presets import preset
from persona_axis.engine.rollouts import Sampling, generate
from persona_axis.engine.speed import decode_flops, matmul_gflops
from persona_axis.model.chat import prompt_ids
from persona_axis.model.models import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"])
    book_batch = preset("persona_space", "book")["batch_size"]
    ap.add_argument("--n", type=int, default=book_batch, help="rollouts per run")
    ap.add_argument(
        "--batch", type=int, default=book_batch, help="rows decoded together (default: the book preset's)"
    )
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--ceiling-seconds", type=float, default=3.0)
    args = ap.parse_args()
    print(
        f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, load average {os.getloadavg()[0]:.1f} "
        f"at start; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    for name in args.models:
        model, tok, spec = load_model(name)
        pairs = [(s, q) for s in SYSTEMS for q in QUESTIONS]
        prompts = [prompt_ids(tok, spec, s, [q]) for s, q in (pairs * (args.n // len(pairs) + 1))[: args.n]]
        prompts.sort(key=len)  # as runs.collect does: less padding
        generate(model, tok, prompts[:8], Sampling(max_new_tokens=4), batch_size=8)  # warm-up
        share: dict[str, list[float]] = {"reference": [], "slots": []}
        tok_s: dict[str, list[float]] = {"reference": [], "slots": []}
        for r in range(args.rounds):
            for engine in ("reference", "slots"):
                c0 = matmul_gflops(args.ceiling_seconds)
                res = generate(
                    model,
                    tok,
                    prompts,
                    Sampling(0.7, 0.9, 64, args.max_new_tokens, r),
                    batch_size=args.batch,
                    engine=engine,
                )
                c1 = matmul_gflops(args.ceiling_seconds)
                useful = (
                    decode_flops(model, [len(p) for p in prompts], res.n_tokens, res.finished)
                    / res.seconds
                    / 1e9
                )
                ceiling = (c0 + c1) / 2
                share[engine].append(useful / ceiling)
                tok_s[engine].append(sum(res.n_tokens) / res.seconds)
                print(
                    f"[{name}] round {r + 1} {engine:9s}: {res.seconds:7.1f} s, {sum(res.n_tokens):6d} response tokens "
                    f"({sum(res.finished)} of {len(prompts)} rows ended by EOS), {tok_s[engine][-1]:6.1f} tok/s, "
                    f"useful {useful:6.1f} GFLOP/s / ceiling {ceiling:6.1f} GFLOP/s = {useful / ceiling:5.1%}; "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        ref, new = statistics.median(share["reference"]), statistics.median(share["slots"])
        print(
            f"[{name}] median share of the {str(model.dtype).removeprefix('torch.')} ceiling: before {ref:.1%}, after {new:.1%} "
            f"(speed-up {statistics.median(tok_s['slots']) / statistics.median(tok_s['reference']):.2f}x in tok/s)"
        )


if __name__ == "__main__":
    main()

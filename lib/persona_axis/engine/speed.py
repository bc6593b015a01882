"""How fast this machine is, and how much useful work a decode run did.

``matmul_gflops`` times a square matrix product in the dtype the models compute in (bf16 on a CPU
with native bf16, else fp32: the compute ceiling of the book's work on a CPU); ``decode_flops``
counts the FLOPs a generation run needed at the least (every prompt and response token through
every weight matrix once, the output layer only where a token is sampled, attention over the
tokens before); ``calibrate`` runs a short SmolLM2 decode at the book's batch size beside the
matmul, so a build can say how fast the machine was that day.

Example:
    >>> cal = calibrate(seconds=20)                                        # doctest: +SKIP
    >>> print(cal.line())
    machine speed: bf16 matmul 402 GFLOP/s; smollm2-135m-instruct decode 611 tok/s (batch 64, ...)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedModel

__all__ = [
    "matmul_gflops",
    "weight_params",
    "decode_flops",
    "Calibration",
    "calibrate",
    "steadiest",
    "spread",
]


def matmul_gflops(seconds: float = 2.0, n: int = 2048, dtype: torch.dtype | None = None) -> float:
    """GFLOP/s of ``(n, n) @ (n, n)`` in ``dtype`` on the CPU, best of the repeats in ``seconds``.

    ``dtype`` defaults to the dtype the models compute in here (``hardware.compute_dtype``).
    """
    if dtype is None:
        from persona_axis.core.hardware import compute_dtype

        dtype = compute_dtype()
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    for _ in range(3):  # warm-up: kernel selection, first touch of the library's pages
        a @ b
    best = float("inf")
    t_end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() > t_end:
            break
    return 2 * n**3 / best / 1e9


def weight_params(model: PreTrainedModel) -> tuple[int, int]:
    """``(decoder-layer matmul weights, output-layer weights)``: parameters of 2-D weights.

    Norms, biases and the embedding lookup (a gather, no FLOPs) are left out; a tied output layer
    still counts (it is a matmul at every sampled token).
    """
    from persona_axis.model.hooks import find_layers

    layers = sum(p.numel() for layer in find_layers(model) for p in layer.parameters() if p.dim() == 2)
    head = model.get_output_embeddings().weight.numel()
    return int(layers), int(head)


def decode_flops(
    model: PreTrainedModel, prompt_lens: Sequence[int], n_tokens: Sequence[int], finished: Sequence[bool]
) -> float:
    """Useful FLOPs of a generation run: what any engine must compute at the least.

    Per row: ``2 * layer_weights`` for each prompt token and each response token fed;
    ``2 * head_weights`` for each sampled token (the response tokens, plus the end-of-turn token
    when the row finished); attention ``4 * n_heads * head_dim * t`` per layer for a token at
    position ``t``. Padding, finished rows fed again and recomputation are not useful work.
    """
    cfg = model.config.get_text_config()
    p_layers, p_head = weight_params(model)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    attn_width = cfg.num_attention_heads * head_dim * cfg.num_hidden_layers
    total = 0.0
    for p, n, f in zip(prompt_lens, n_tokens, finished):
        seq = p + n
        total += 2 * p_layers * seq + 2 * p_head * (n + int(f))
        total += 4 * attn_width * seq * (seq - 1) / 2
    return total


@dataclass
class Calibration:
    """A machine-speed figure: a matmul's GFLOP/s beside a short SmolLM2 decode in tok/s, both in
    ``dtype``, the dtype the models compute in on this machine (``hardware.compute_dtype``)."""

    gflops: float
    tok_s: float
    model: str
    batch: int
    tokens: int
    seconds: float
    threads: int
    load: float
    when: str
    dtype: str = "bfloat16"

    def short(self) -> str:
        """The two rates: ``bf16 matmul 402 GFLOP/s, smollm2-135m-instruct decode 611 tok/s``."""
        dtype = {"bfloat16": "bf16", "float32": "fp32", "float16": "fp16"}.get(self.dtype, self.dtype)
        return f"{dtype} matmul {self.gflops:.0f} GFLOP/s, {self.model} decode {self.tok_s:.0f} tok/s"

    def line(self) -> str:
        return (
            f"machine speed: {self.short().replace(' GFLOP/s,', ' GFLOP/s;')} "
            f"(batch {self.batch}, {self.tokens} tokens in {self.seconds:.1f} s); {self.threads} torch threads, "
            f"load average {self.load:.1f}; {self.when}"
        )


def calibrate(
    seconds: float = 20.0,
    model_name: str = "smollm2-135m-instruct",
    batch: int = 64,
    max_new_tokens: int = 64,
) -> Calibration:
    """Decode with ``model_name`` at ``batch`` rows for about ``seconds``, and time a matmul, both in
    the dtype the models compute in here (``hardware.compute_dtype``).

    The prompts are role-play questions like the book's; sampling as in the book (temperature
    0.7, top_p 0.9). Rounds of ``batch`` prompts run until ``seconds`` have passed.
    """
    from persona_axis.engine.rollouts import Sampling, generate
    from persona_axis.model.chat import prompt_ids
    from persona_axis.model.models import load_model

    if hasattr(os, "sync"):  # dirty pages of a fresh set-up (models just written) would stall the timing
        os.sync()
    gflops = matmul_gflops(min(3.0, seconds / 5))
    model, tok, spec = load_model(model_name)
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    roles = [
        "a lighthouse keeper",
        "a medieval bard",
        "a tax accountant",
        "an ancient ghost",
        "a marine biologist",
        "a hermit in the mountains",
        "a software debugger",
        "a pirate captain",
    ]
    questions = [
        "What do you value most?",
        "Describe an ordinary morning.",
        "What are you afraid of?",
        "What would you change about the world?",
    ]
    texts = [(f"You are {r}.", q) for r in roles for q in questions]
    prompts = [prompt_ids(tok, spec, s, [q]) for s, q in (texts * (batch // len(texts) + 1))[:batch]]
    samp = Sampling(temperature=0.7, top_p=0.9, max_new_tokens=max_new_tokens, seed=0)
    generate(model, tok, prompts[:4], Sampling(max_new_tokens=2), batch_size=4, layers=[])  # warm-up
    n_tok, spent, r = 0, 0.0, 0
    while spent < seconds:
        res = generate(
            model, tok, prompts, Sampling(0.7, 0.9, samp.top_k, max_new_tokens, r), batch_size=batch
        )
        n_tok += sum(res.n_tokens)
        spent += res.seconds
        r += 1
    return Calibration(
        gflops=gflops,
        tok_s=n_tok / spent,
        model=model_name,
        batch=batch,
        tokens=n_tok,
        seconds=spent,
        threads=torch.get_num_threads(),
        load=os.getloadavg()[0],
        when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        dtype=dtype,
    )


def steadiest(cals: Sequence[Calibration]) -> Calibration:
    """The figure of the least disturbed moment: the one with the highest decode rate.

    Anything beside a calibration (a test run, a disk still writing a fresh set-up) only slows it,
    so of several figures taken on one day the fastest is the closest to the machine's own speed.
    """
    if not cals:
        raise ValueError("steadiest() needs at least one Calibration")
    return max(cals, key=lambda c: c.tok_s)


def spread(cals: Sequence[Calibration]) -> float:
    """Fastest over slowest decode rate of ``cals`` (1.0 for one figure; inf if one decoded nothing)."""
    rates = [c.tok_s for c in cals]
    if not rates:
        raise ValueError("spread() needs at least one Calibration")
    return max(rates) / min(rates) if min(rates) > 0 else float("inf")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Print this machine's speed: a matmul and a SmolLM2 decode.")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    cal = calibrate(args.seconds)
    print(cal.line())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(asdict(cal), fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

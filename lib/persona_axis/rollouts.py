"""Batched generation that records response activations while it generates.

``generate`` runs its own decode loop (one prefill, then one forward of one token per step,
with a KV cache, left padding and per-row stopping at EOS) and, through a hook on every
recorded layer, sums each row's residual-stream activations over its response tokens as they
are fed back to the model. No second, teacher-forced pass is needed.

Which tokens count: the response tokens ``y_1 .. y_n`` the model generated, up to but not
including the end-of-turn token; the activation of ``y_t`` is the layer output at the
position of ``y_t``. This is exactly what a teacher-forced pass over prompt + response gives
at those positions (``score`` below; the parity test compares the two).

Sampling: temperature, then top-p. For speed the nucleus is searched among the ``top_k``
most likely tokens (default 64) using their exact full-vocabulary probabilities; this is
exact top-p whenever the nucleus has at most ``top_k`` tokens, and ``GenerationResult``
counts the steps where it had more and was cut.

Example:
    >>> res = generate(model, tok, [prompt_ids(tok, spec, "You are a whale.", ["Hi"])],
    ...                Sampling(max_new_tokens=32))                          # doctest: +SKIP
    >>> res.acts.shape     # (n_prompts, n_layers, hidden)
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .chat import render
from .hooks import add_layer_hooks, check_layers
from .models import ModelSpec

__all__ = ["Sampling", "GenerationResult", "generate", "score", "sample_next", "eos_ids", "teacher_force"]


@dataclass(frozen=True)
class Sampling:
    """Decoding settings. The paper: temperature 0.7, top_p 0.9, up to 512 new tokens.

    ``temperature=0`` means greedy decoding.
    """

    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 64
    max_new_tokens: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 1 or self.max_new_tokens < 1:
            raise ValueError("top_k and max_new_tokens must be at least 1")


@dataclass
class GenerationResult:
    """What ``generate`` returns, rows in the order of the prompts given.

    Attributes:
        tokens: generated token ids per row, end-of-turn token excluded.
        finished: whether the row ended with an end-of-turn token (else it hit max_new_tokens).
        acts: ``(n_rows, n_layers, hidden)`` float32, mean layer output over the response tokens
            (zeros for an empty response).
        layers: the recorded layers, in the order of ``acts``' second axis.
        n_tokens: number of response tokens per row (the denominator of the mean).
        truncated_nucleus_steps: sampling steps whose top-p nucleus exceeded ``top_k`` tokens.
        seconds: wall time.
    """

    tokens: list[list[int]]
    finished: list[bool]
    acts: torch.Tensor
    layers: list[int]
    n_tokens: list[int]
    truncated_nucleus_steps: int = 0
    sampled_steps: int = 0
    seconds: float = 0.0
    texts: list[str] = field(default_factory=list)


def eos_ids(tok: Any, model: Any) -> set[int]:
    """End-of-turn token ids: the tokenizer's EOS and the generation config's."""
    ids: set[int] = set()
    for value in (getattr(tok, "eos_token_id", None), getattr(getattr(model, "generation_config", None), "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    if not ids:
        raise ValueError("the tokenizer and model define no EOS token; cannot tell where a response ends")
    return ids


def sample_next(logits: torch.Tensor, s: Sampling, gen: torch.Generator) -> tuple[torch.Tensor, int]:
    """Sample one token per row.

    Args:
        logits: ``(batch, vocab)``.

    Returns:
        ``(tokens (batch,), rows whose nucleus was cut at top_k)``.
    """
    logits = logits.float()
    if s.temperature == 0:
        return logits.argmax(-1), 0
    logits = logits / s.temperature
    k = min(s.top_k, logits.shape[-1])
    vals, idx = logits.topk(k, dim=-1)  # sorted, descending
    probs = (vals - logits.logsumexp(-1, keepdim=True)).exp()  # exact full-vocabulary probabilities
    before = probs.cumsum(-1) - probs
    keep = before < s.top_p
    cut = int((probs.sum(-1) < s.top_p).sum())
    probs = probs * keep
    choice = torch.multinomial(probs / probs.sum(-1, keepdim=True), 1, generator=gen)
    return idx.gather(-1, choice).squeeze(-1), cut


def _cache_kwarg(model: Any) -> str:
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _left_pad(prompts: Sequence[Sequence[int]], pad_id: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        if len(p) == 0:
            raise ValueError(f"prompt {i} is empty")
        ids[i, width - len(p):] = torch.tensor(list(p))
        mask[i, width - len(p):] = 1
    return ids.to(device), mask.to(device)


class _Accumulator:
    """Hook functions that add ``weight[row] * h[row, -1]`` into per-layer fp32 sums."""

    def __init__(self, layers: list[int], batch: int, hidden: int, device: Any) -> None:
        self.sums = {layer: torch.zeros(batch, hidden, dtype=torch.float32, device=device) for layer in layers}
        self.weight: torch.Tensor | None = None  # (batch,) float32, None while the prompt runs

    def fn(self, layer: int) -> Callable[[torch.Tensor], None]:
        def add(h: torch.Tensor) -> None:
            if self.weight is not None:  # layers may sit on other GPUs (device_map="auto")
                self.sums[layer] += h[:, -1, :].float().to(self.sums[layer].device) * self.weight[:, None]

        return add


@torch.no_grad()
def _generate_batch(
    model: Any, prompts: Sequence[Sequence[int]], s: Sampling, layers: list[int], eos: set[int],
    pad_id: int, gen: torch.Generator,
) -> tuple[list[list[int]], list[bool], torch.Tensor, list[int], int, int]:
    from transformers import DynamicCache

    device = next(model.parameters()).device
    ids, mask = _left_pad(prompts, pad_id, device)
    b = ids.shape[0]
    hidden = int(model.config.get_text_config().hidden_size)
    acc = _Accumulator(layers, b, hidden, device)
    eos_t = torch.tensor(sorted(eos), device=device)
    cache = DynamicCache(config=model.config)
    ckw = _cache_kwarg(model)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    alive = torch.ones(b, dtype=torch.bool, device=device)
    counts = torch.zeros(b, dtype=torch.float32, device=device)
    out_tokens = torch.zeros((b, s.max_new_tokens), dtype=torch.long, device=device)
    lengths = torch.zeros(b, dtype=torch.long, device=device)
    cut = sampled = 0
    with add_layer_hooks(model, {layer: acc.fn(layer) for layer in layers}):
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1, **{ckw: cache})
        next_pos = pos[:, -1:] + 1
        for step in range(s.max_new_tokens):
            tokens, c = sample_next(out.logits[:, -1, :], s, gen)
            cut += c
            sampled += int(alive.sum())
            is_eos = torch.isin(tokens, eos_t)
            feeding = alive & ~is_eos  # rows whose new token is a response token
            fed = torch.where(feeding, tokens, torch.full_like(tokens, pad_id))
            out_tokens[:, step] = fed
            lengths += feeding.long()
            alive = feeding
            if not bool(alive.any()):
                break
            # feed the new tokens; the hooks add their activations to the rows still alive
            acc.weight = feeding.float()
            counts += acc.weight
            mask = torch.cat([mask, torch.ones((b, 1), dtype=mask.dtype, device=device)], dim=1)
            out = model(
                input_ids=fed[:, None],
                attention_mask=mask, position_ids=next_pos, use_cache=True, logits_to_keep=1, **{ckw: cache},
            )
            acc.weight = None
            next_pos = next_pos + 1
    if layers:
        acts = torch.stack([acc.sums[layer] for layer in layers], dim=1) / counts.clamp(min=1)[:, None, None]
    else:  # nothing recorded
        acts = torch.zeros((b, 0, hidden), dtype=torch.float32, device=device)
    toks = [out_tokens[i, : int(lengths[i])].tolist() for i in range(b)]
    finished = [not bool(a) for a in alive.tolist()]
    # a row is finished when it produced EOS; rows still alive after the loop hit the limit
    return toks, finished, acts.cpu(), [int(x) for x in lengths.tolist()], cut, sampled


def generate(
    model: Any,
    tok: Any,
    prompts: Sequence[Sequence[int]],
    sampling: Sampling = Sampling(),
    *,
    layers: Sequence[int] | None = None,
    batch_size: int = 64,
    generator_seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> GenerationResult:
    """Generate a response for every prompt and record its mean activations.

    Args:
        prompts: token ids of each prompt (for instance from ``chat.prompt_ids``).
        sampling: decoding settings; ``sampling.seed`` seeds the sampler.
        layers: layers to record; ``None`` records all of them.
        batch_size: rows decoded together (left padded). Prompts are batched in the order given.
        generator_seed: overrides ``sampling.seed`` (the store seeds each chunk on its own).
        progress: called with the number of rows finished after each batch.

    Returns:
        A ``GenerationResult`` with rows in the order of ``prompts``.
    """
    t0 = time.perf_counter()
    idx = check_layers(model, None if layers is None else list(layers))
    eos = eos_ids(tok, model)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else min(eos)
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(sampling.seed if generator_seed is None else generator_seed)
    tokens: list[list[int]] = []
    finished: list[bool] = []
    acts: list[torch.Tensor] = []
    lengths: list[int] = []
    cut = sampled = 0
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start:start + batch_size]
        t, f, a, n, c, sm = _generate_batch(model, batch, sampling, idx, eos, pad_id, gen)
        tokens += t
        finished += f
        acts.append(a)
        lengths += n
        cut += c
        sampled += sm
        if progress is not None:
            progress(len(batch))
    hidden = int(model.config.get_text_config().hidden_size)
    return GenerationResult(
        tokens=tokens,
        finished=finished,
        acts=torch.cat(acts) if acts else torch.zeros(0, len(idx), hidden),
        layers=idx,
        n_tokens=lengths,
        truncated_nucleus_steps=cut,
        sampled_steps=sampled,
        seconds=time.perf_counter() - t0,
        texts=[tok.decode(t) for t in tokens],
    )


@torch.no_grad()
def score(
    model: Any,
    sequences: Sequence[Sequence[int]],
    spans: Sequence[Sequence[tuple[int, int]]],
    *,
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
    pad_id: int = 0,
) -> torch.Tensor:
    """Teacher-forced mean activations over given token spans.

    Args:
        sequences: token ids of each transcript.
        spans: for each transcript, the ``[start, end)`` spans to average over (for instance
            ``chat.render(...).spans``: one per assistant response).
        layers: layers to read; ``None`` for all.

    Returns:
        ``(n_spans_total, n_layers, hidden)`` float32, spans in order (transcript by transcript).
        An empty span gives zeros.
    """
    idx = check_layers(model, None if layers is None else list(layers))
    device = next(model.parameters()).device
    out: list[torch.Tensor] = []
    for start in range(0, len(sequences), batch_size):
        seqs = sequences[start:start + batch_size]
        ids, mask = _left_pad(seqs, pad_id, device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        got: dict[int, torch.Tensor] = {}

        def keep(layer: int) -> Callable[[torch.Tensor], None]:
            def fn(h: torch.Tensor) -> None:
                got[layer] = h

            return fn

        with add_layer_hooks(model, {layer: keep(layer) for layer in idx}):
            model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False, logits_to_keep=1)
        width = ids.shape[1]
        stacked = torch.stack([got[layer].to(device) for layer in idx], dim=1).float()  # (b, L, seq, H)
        for row, seq in enumerate(seqs):
            shift = width - len(seq)
            for a, b in spans[start + row]:
                if not 0 <= a <= b <= len(seq):
                    raise ValueError(f"span {(a, b)} is outside transcript {start + row} of length {len(seq)}")
                if b == a:
                    out.append(torch.zeros(len(idx), stacked.shape[-1]))
                else:
                    out.append(stacked[row, :, shift + a: shift + b].mean(dim=1).cpu())
    hidden = int(model.config.get_text_config().hidden_size)
    return torch.stack(out) if out else torch.zeros(0, len(idx), hidden)


def teacher_force(
    model: Any,
    tok: Any,
    spec: ModelSpec,
    conversations: Sequence[tuple[str | None, Sequence[str]]],
    *,
    layers: Sequence[int] | None = None,
    batch_size: int = 8,
) -> list[torch.Tensor]:
    """Mean activations over every assistant response of given conversations.

    Renders each ``(system, turns)`` with this model's format (chat template or base
    transcript) and reads the responses teacher-forced. Used to run a base model on an instruct
    model's rollouts, and to replay multi-turn conversations.

    Returns:
        One ``(n_responses, n_layers, hidden)`` float32 tensor per conversation.
    """
    rendered = [render(tok, spec, system, list(turns)) for system, turns in conversations]
    flat = score(model, [r.input_ids for r in rendered], [r.spans for r in rendered], layers=layers,
                 batch_size=batch_size, pad_id=tok.pad_token_id if tok.pad_token_id is not None else 0)
    out, k = [], 0
    for r in rendered:
        out.append(flat[k:k + len(r.spans)])
        k += len(r.spans)
    return out

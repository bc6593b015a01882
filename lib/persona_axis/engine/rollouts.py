"""Batched generation that records response activations while it generates.

``generate`` runs its own decode loop (``decode.decode``: continuous batching over a
preallocated KV cache, per-row stopping at EOS, a row that ends refilled with the next prompt)
and, through a hook on every recorded layer, sums each row's residual-stream activations over
its response tokens as they are fed back to the model. No second, teacher-forced pass is needed.
The loop of engine version 1 stays available as ``engine="reference"`` (``decode_reference``).

Which tokens count: the response tokens ``y_1 .. y_n`` the model generated, up to but not
including the end-of-turn token; the activation of ``y_t`` is the layer output at the
position of ``y_t``. This is exactly what a teacher-forced pass over prompt + response gives
at those positions (``score`` below; the parity test compares the two).

Sampling: temperature, then top-p. For speed the nucleus is searched among the ``top_k``
most likely tokens (default 64) using their exact full-vocabulary probabilities; this is
exact top-p whenever the nucleus has at most ``top_k`` tokens, and ``GenerationResult``
counts the steps where it had more and was cut.

Example (the tests' 4-layer random llama, hidden size 64, and its byte tokenizer):
    >>> from persona_axis.model.chat import prompt_ids
    >>> res = generate(model, tok, [prompt_ids(tok, spec, "You are a whale.", ["Hi"])],
    ...                Sampling(max_new_tokens=8))
    >>> tuple(res.acts.shape)     # (n_prompts, n_layers, hidden)
    (1, 4, 64)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from persona_axis.engine.decode import decode, supports
from persona_axis.engine.prefix_share import left_pad
from persona_axis.model.chat import render
from persona_axis.model.hooks import add_layer_hooks, check_layers
from persona_axis.model.models import ModelSpec

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

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


def eos_ids(tok: PreTrainedTokenizerBase, model: PreTrainedModel) -> set[int]:
    """End-of-turn token ids: the tokenizer's EOS and the generation config's."""
    ids: set[int] = set()
    for value in (
        getattr(tok, "eos_token_id", None),
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
    ):
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
    if s.temperature == 0:
        return logits.argmax(-1), 0  # the same row maxima (first one on ties) in any float dtype
    scaled = logits.float()
    scaled = scaled.div_(s.temperature) if scaled is not logits else scaled / s.temperature
    logits = scaled
    k = min(s.top_k, logits.shape[-1])
    vals, idx = logits.topk(k, dim=-1)  # sorted, descending
    probs = (vals - logits.logsumexp(-1, keepdim=True)).exp()  # exact full-vocabulary probabilities
    before = probs.cumsum(-1) - probs
    keep = before < s.top_p
    cut = int((probs.sum(-1) < s.top_p).sum())
    probs = probs * keep
    choice = torch.multinomial(probs / probs.sum(-1, keepdim=True), 1, generator=gen)
    return idx.gather(-1, choice).squeeze(-1), cut


def generate(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    prompts: Sequence[Sequence[int]],
    sampling: Sampling = Sampling(),
    *,
    layers: Sequence[int] | None = None,
    batch_size: int = 64,
    generator_seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    engine: str = "slots",
    share_prefixes: int = 16,
) -> GenerationResult:
    """Generate a response for every prompt and record its mean activations.

    Args:
        prompts: token ids of each prompt (for instance from ``chat.prompt_ids``).
        sampling: decoding settings; ``sampling.seed`` seeds the sampler.
        layers: layers to record; ``None`` records all of them.
        batch_size: rows decoded together. Prompts are served in the order given; a row that ends
            is refilled with the next waiting prompt.
        generator_seed: overrides ``sampling.seed`` (the store seeds each chunk on its own).
        progress: called with a number of rows each time rows end.
        engine: ``"slots"`` (``decode.decode``: continuous batching over a preallocated cache) or
            ``"reference"`` (the loop of engine version 1, ``decode_reference``; tests and benchmark).
        share_prefixes: ``"slots"`` only: prompts prefilled together that start with at least this many
            equal tokens have that prefix computed once (``decode.decode``); 0 never shares.

    Returns:
        A ``GenerationResult`` with rows in the order of ``prompts``.
    """
    t0 = time.perf_counter()
    idx = check_layers(model, None if layers is None else list(layers))
    eos = eos_ids(tok, model)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else min(eos)
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(
        sampling.seed if generator_seed is None else generator_seed
    )
    hidden = int(model.config.get_text_config().hidden_size)

    def sample(logits: torch.Tensor) -> tuple[torch.Tensor, int]:
        return sample_next(logits, sampling, gen)

    if engine == "slots":
        if not supports(model):
            raise ValueError(
                "this model has attention layers other than full or sliding-window ones; "
                "call generate(..., engine='reference')"
            )
        d = decode(
            model,
            prompts,
            eos=eos,
            max_new_tokens=sampling.max_new_tokens,
            batch_size=batch_size,
            sample=sample,
            layers=idx,
            pad_id=pad_id,
            progress=progress,
            share_prefixes=share_prefixes,
        )
        n_tok = [len(t) for t in d.tokens]
        denom = torch.tensor(n_tok, dtype=torch.float32, device=device).clamp(min=1)[:, None]
        acts = (
            torch.stack([d.sums[layer] / denom for layer in idx], dim=1).cpu()
            if idx
            else torch.zeros(len(prompts), 0, hidden)
        )
        tokens, finished, cut, sampled = d.tokens, d.finished, d.truncated, d.sampled
    elif engine == "reference":
        # engine version 1: the tests' oracle, and the loop for attention kinds ``decode`` lacks
        from persona_axis.engine.decode_reference import decode_batch

        tokens, finished, parts, n_tok = [], [], [], []
        cut = sampled = 0
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start : start + batch_size]
            t, f, a, n, c, sm = decode_batch(
                model,
                batch,
                max_new_tokens=sampling.max_new_tokens,
                layers=idx,
                eos=eos,
                pad_id=pad_id,
                sample=sample,
            )
            tokens += t
            finished += f
            parts.append(a)
            n_tok += n
            cut += c
            sampled += sm
            if progress is not None:
                progress(len(batch))
        acts = torch.cat(parts) if parts else torch.zeros(0, len(idx), hidden)
    else:
        raise ValueError(f"unknown engine {engine!r}; choose 'slots' or 'reference'")
    return GenerationResult(
        tokens=tokens,
        finished=finished,
        acts=acts,
        layers=idx,
        n_tokens=n_tok,
        truncated_nucleus_steps=cut,
        sampled_steps=sampled,
        seconds=time.perf_counter() - t0,
        texts=[str(tok.decode(t)) for t in tokens],
    )


class _Enough(Exception):
    """Raised by the hook of the deepest layer ``score`` reads: the layers above it are not run."""


@torch.no_grad()
def score(
    model: PreTrainedModel,
    sequences: Sequence[Sequence[int]],
    spans: Sequence[Sequence[tuple[int, int]]],
    *,
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
    pad_id: int = 0,
) -> torch.Tensor:
    """Teacher-forced mean activations over given token spans.

    Transcripts are read shortest first, so a batch pads little, and the forward pass stops at the
    deepest layer asked for (the layers above it, the final norm and the output layer are not run).
    Both change only the work done: each transcript is read in the same padded-batch way, with its
    own attention mask, and the result comes back in the order given.

    Args:
        sequences: token ids of each transcript.
        spans: for each transcript, the ``[start, end)`` spans to average over (for instance
            ``chat.render(...).spans``: one per assistant response).
        layers: layers to read; ``None`` for all.

    Returns:
        ``(n_spans_total, n_layers, hidden)`` float32, spans in order (transcript by transcript).
        An empty span gives zeros.

    Raises:
        ValueError: a span outside its transcript, or ``len(spans) != len(sequences)``.
    """
    idx = check_layers(model, None if layers is None else list(layers))
    if len(spans) != len(sequences):
        raise ValueError(f"{len(sequences)} transcripts but {len(spans)} lists of spans")
    for i, (seq, sp) in enumerate(zip(sequences, spans)):
        for a, b in sp:
            if not 0 <= a <= b <= len(seq):
                raise ValueError(f"span {(a, b)} is outside transcript {i} of length {len(seq)}")
    device = next(model.parameters()).device
    hidden = int(model.config.get_text_config().hidden_size)
    deepest = max(idx, default=-1)
    per_seq: list[list[torch.Tensor]] = [[] for _ in sequences]
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for start in range(0, len(order), batch_size):
        which = order[start : start + batch_size]
        seqs = [sequences[i] for i in which]
        ids, mask = left_pad(seqs, pad_id, device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        got: dict[int, torch.Tensor] = {}

        def keep(layer: int) -> Callable[[torch.Tensor], None]:
            def fn(h: torch.Tensor) -> None:
                got[layer] = h
                if layer == deepest:
                    raise _Enough

            return fn

        try:
            with add_layer_hooks(model, {layer: keep(layer) for layer in idx}):
                model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False, logits_to_keep=1)
        except _Enough:
            pass
        width = ids.shape[1]
        stacked = (
            torch.stack([got[layer].to(device) for layer in idx], dim=1).float()
            if idx
            else torch.zeros(len(seqs), 0, width, hidden)
        )  # (b, L, seq, H)
        for row, i in enumerate(which):
            shift = width - len(sequences[i])
            for a, b in spans[i]:
                per_seq[i].append(
                    torch.zeros(len(idx), hidden)
                    if b == a
                    else stacked[row, :, shift + a : shift + b].mean(dim=1).cpu()
                )
    out = [t for ts in per_seq for t in ts]
    return torch.stack(out) if out else torch.zeros(0, len(idx), hidden)


def teacher_force(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
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
    flat = score(
        model,
        [r.input_ids for r in rendered],
        [r.spans for r in rendered],
        layers=layers,
        batch_size=batch_size,
        pad_id=tok.pad_token_id if tok.pad_token_id is not None else 0,
    )
    out, k = [], 0
    for r in rendered:
        out.append(flat[k : k + len(r.spans)])
        k += len(r.spans)
    return out

"""The decode loop of engine version 1, kept as the oracle of the tests and the benchmark's baseline.

One batch at a time: one prefill of the left-padded batch, then one forward of one token per step
with transformers' ``DynamicCache`` (which grows by concatenation), every row fed until the whole
batch has ended (a row that has ended is fed its pad token, its activations not counted).
``rollouts.generate(..., engine="reference")`` runs it; ``decode.decode`` replaced it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from persona_axis.engine.prefix_share import left_pad
from persona_axis.model.hooks import add_layer_hooks

if TYPE_CHECKING:
    from transformers import PreTrainedModel

__all__ = ["decode_batch"]


def _cache_kwarg(model: Any) -> str:
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


class _Accumulator:
    """Hook functions that add ``weight[row] * h[row, -1]`` into per-layer fp32 sums."""

    def __init__(self, layers: list[int], batch: int, hidden: int, device: Any) -> None:
        self.sums = {
            layer: torch.zeros(batch, hidden, dtype=torch.float32, device=device) for layer in layers
        }
        self.weight: torch.Tensor | None = None  # (batch,) float32, None while the prompt runs

    def fn(self, layer: int) -> Callable[[torch.Tensor], None]:
        def add(h: torch.Tensor) -> None:
            if self.weight is not None:  # layers may sit on other GPUs (device_map="auto")
                self.sums[layer] += h[:, -1, :].float().to(self.sums[layer].device) * self.weight[:, None]

        return add


@torch.no_grad()
def decode_batch(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    layers: list[int],
    eos: set[int],
    pad_id: int,
    sample: Callable[[torch.Tensor], tuple[torch.Tensor, int]],
) -> tuple[list[list[int]], list[bool], torch.Tensor, list[int], int, int]:
    """One batch: ``(tokens, finished, mean acts (b, L, H) on CPU, lengths, nucleus cuts, sampled)``."""
    from transformers import DynamicCache

    device = next(model.parameters()).device
    ids, mask = left_pad(prompts, pad_id, device)
    b = ids.shape[0]
    hidden = int(model.config.get_text_config().hidden_size)
    acc = _Accumulator(layers, b, hidden, device)
    eos_t = torch.tensor(sorted(eos), device=device)
    cache = DynamicCache(config=model.config)
    ckw = _cache_kwarg(model)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    alive = torch.ones(b, dtype=torch.bool, device=device)
    counts = torch.zeros(b, dtype=torch.float32, device=device)
    out_tokens = torch.zeros((b, max_new_tokens), dtype=torch.long, device=device)
    lengths = torch.zeros(b, dtype=torch.long, device=device)
    cut = sampled = 0
    with add_layer_hooks(model, {layer: acc.fn(layer) for layer in layers}):
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=pos,
            use_cache=True,
            logits_to_keep=1,
            **{ckw: cache},
        )
        next_pos = pos[:, -1:] + 1
        for step in range(max_new_tokens):
            tokens, c = sample(out.logits[:, -1, :])
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
                attention_mask=mask,
                position_ids=next_pos,
                use_cache=True,
                logits_to_keep=1,
                **{ckw: cache},
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

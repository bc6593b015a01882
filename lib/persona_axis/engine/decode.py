"""The decode loop behind ``rollouts.generate``: continuous batching over a preallocated KV cache.

``batch_size`` slots are decoded together. Each slot holds one prompt's keys and values in a
buffer ``(slots, kv_heads, capacity, head_dim)`` per layer, allocated once; a new token's key and
value are written in place at the slot's next position (no concatenation, no copy of the cache
per step). When a row ends (end-of-turn token, or ``max_new_tokens`` response tokens fed), the
next waiting prompts are prefilled into the freed slots at once (continuous batching); when no
prompt waits any more, finished slots are dropped from the batch, so a finished row is never fed
again. Every forward pass goes through the model's own ``forward`` (its decoder layers, hence
every ``steer`` / ``cap`` / ``record`` hook, see the same calls as with the model's own cache);
this module only supplies the cache, the positions and the attention masks.

Sequence layout in a slot: a group of prompts prefilled together is left padded to its longest
prompt (pad keys are masked out); RoPE positions count real tokens only, as in the previous loop.
Prompts of a group that start alike (the persona rollouts ask every question under each system
prompt) are prefilled in two kinds of pass with the same layout: each shared prefix once, copied
into the slots of the prompts that start with it, then the rest of every prompt against it
(``prefix_share``).

Example (the tests' 4-layer random llama, hidden size 64; greedy, so ``sample`` is an argmax):
    >>> out = decode(model, [[5, 6, 7], [8, 9]], eos={0}, max_new_tokens=4, batch_size=2,
    ...              sample=lambda logits: (logits.argmax(-1), 0), layers=[1, 3], pad_id=1)
    >>> tuple(out.sums[3].shape)   # (n_prompts, hidden), fp32 sums over each response's tokens
    (2, 64)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from transformers.cache_utils import Cache

from persona_axis.engine.prefix_share import causal_mask, left_padded, prefill_shared, share_plan
from persona_axis.model.hooks import add_layer_hooks

if TYPE_CHECKING:
    from transformers import PreTrainedModel

__all__ = ["SlotCache", "Decoded", "decode", "supports"]

Sampler = Callable[[torch.Tensor], tuple[torch.Tensor, int]]
_MASK_TYPES = {"full_attention", "sliding_attention"}


def supports(model: PreTrainedModel) -> bool:
    """Whether ``decode`` can drive this model (full or sliding-window attention layers only)."""
    cfg = model.config.get_text_config()
    types = set(getattr(cfg, "layer_types", None) or ["full_attention"])
    return types <= _MASK_TYPES and not getattr(cfg, "is_encoder_decoder", False)


class SlotCache(Cache):
    """Per-layer key/value buffers ``(slots, kv_heads, capacity, head_dim)``, written in place.

    Four modes, set by ``decode`` before each forward pass:
    ``prefill`` writes a group's keys at positions ``[0, width)`` of slots ``rows`` and returns
    them unchanged (the group attends only to itself); ``decode`` writes one key per slot at
    ``pos[slot]`` and returns the first ``width`` positions of every slot; ``prefix`` keeps a
    pass's keys in ``held`` (shared prompt prefixes, copied into slots afterwards by
    ``place``) and returns them unchanged; ``extend`` writes the keys of the last ``q`` positions
    ``[width - q, width)`` of slots ``rows`` where ``write`` ``(rows, q)`` is true (a row's
    real suffix tokens; its left pads keep the prefix already there) and returns each row's first
    ``width`` positions.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(layers=[])
        self.capacity = capacity
        self.k: dict[int, torch.Tensor] = {}
        self.v: dict[int, torch.Tensor] = {}
        self.n_slots = 0
        self.mode = "prefill"
        self.rows = torch.zeros(0, dtype=torch.long)
        self.pos = torch.zeros(0, dtype=torch.long)
        self.width = 0
        self.write = torch.zeros(0, 0, dtype=torch.bool)
        self.held: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if layer_idx not in self.k:
            _, kvh, _, d = key_states.shape
            shape = (self.n_slots, kvh, self.capacity, d)
            self.k[layer_idx] = torch.zeros(shape, dtype=key_states.dtype, device=key_states.device)
            self.v[layer_idx] = torch.zeros(shape, dtype=value_states.dtype, device=value_states.device)
        k, v = self.k[layer_idx], self.v[layer_idx]
        if self.mode == "prefill":
            w = key_states.shape[2]
            k[self.rows, :, :w] = key_states
            v[self.rows, :, :w] = value_states
            return key_states, value_states
        if self.mode == "prefix":
            self.held[layer_idx] = (key_states, value_states)
            return key_states, value_states
        if self.mode == "extend":
            q = key_states.shape[2]
            lo, hi = self.width - q, self.width
            put = self.write[:, None, :, None]
            k[self.rows, :, lo:hi] = torch.where(put, key_states, k[self.rows, :, lo:hi])
            v[self.rows, :, lo:hi] = torch.where(put, value_states, v[self.rows, :, lo:hi])
            return k[self.rows, :, :hi], v[self.rows, :, :hi]
        ar = torch.arange(k.shape[0], device=k.device)
        k[ar, :, self.pos] = key_states[:, :, 0]
        v[ar, :, self.pos] = value_states[:, :, 0]
        return k[:, :, : self.width], v[:, :, : self.width]

    def place(
        self, rows: torch.Tensor, src_row: torch.Tensor, src_pos: torch.Tensor, there: torch.Tensor
    ) -> None:
        """Copy the held prefix keys into slots: ``k[rows[i], :, p] = held[src_row[i], :, src_pos[i, p]]``
        where ``there[i, p]`` (``src_pos``, ``there``: ``(len(rows), width)``); then drop them."""
        width = src_pos.shape[1]
        w = there[:, None, :, None]
        for layer, (hk, hv) in self.held.items():
            for buf, h in ((self.k[layer], hk), (self.v[layer], hv)):
                got = h.transpose(1, 2)[src_row[:, None], src_pos].transpose(1, 2)  # (rows, kvh, width, d)
                buf[rows, :, :width] = torch.where(w, got, buf[rows, :, :width])
        self.held = {}

    def keep(self, rows: torch.Tensor) -> None:
        """Drop every slot not in ``rows`` (a copy of the kept slots, in that order)."""
        for layer in self.k:
            self.k[layer] = self.k[layer].index_select(0, rows)
            self.v[layer] = self.v[layer].index_select(0, rows)
        self.n_slots = len(rows)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return 0  # positions are always passed explicitly

    @property
    def is_compileable(self) -> bool:
        return False


@dataclass
class Decoded:
    """What ``decode`` returns, rows in the order of the prompts.

    Attributes:
        tokens: response token ids per row (end-of-turn token excluded).
        finished: whether the row ended with an end-of-turn token (else it hit the limit).
        sums: per recorded layer, ``(n_prompts, hidden)`` fp32 sums of the layer output over the
            response tokens.
        truncated: summed second value returned by the sampler (nucleus cuts).
        sampled: number of tokens sampled.
        forwards: number of forward passes (prefills + decode steps).
        fed_rows: rows fed over all decode steps (each one a response token).
    """

    tokens: list[list[int]]
    finished: list[bool]
    sums: dict[int, torch.Tensor]
    truncated: int = 0
    sampled: int = 0
    forwards: int = 0
    fed_rows: int = 0


def _cache_kwarg(model: Any) -> str:
    import inspect

    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


class _Masks:
    """Builds the attention-mask dict the model's forward accepts as already prepared."""

    def __init__(self, model: Any) -> None:
        cfg = model.config.get_text_config()
        self.types = set(getattr(cfg, "layer_types", None) or ["full_attention"])
        self.window = getattr(cfg, "sliding_window", None)

    def build(
        self, full: torch.Tensor, q_pos: torch.Tensor, kv_pos: torch.Tensor
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """``full``: ``(b, 1, q, kv)`` bool; ``q_pos`` ``(b, q)`` and ``kv_pos`` ``(b, kv)`` RoPE positions.

        Returns the 4D mask itself for a model with full attention only (its forward passes a 4D
        mask through as prepared), else one mask per layer type. The sliding window counts real
        tokens (RoPE positions), so it does not depend on padding.
        """
        if self.types == {"full_attention"}:
            return full
        out = {"full_attention": full}
        if "sliding_attention" in self.types:
            if self.window is None:
                raise ValueError("the model has sliding-attention layers but no sliding_window in its config")
            near = kv_pos[:, None, :] > q_pos[:, :, None] - self.window  # (b, q, kv)
            out["sliding_attention"] = full & near[:, None]
        return out


@torch.no_grad()
def decode(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    *,
    eos: set[int],
    max_new_tokens: int,
    batch_size: int,
    sample: Sampler,
    layers: Sequence[int],
    pad_id: int,
    progress: Callable[[int], None] | None = None,
    share_prefixes: int = 16,
) -> Decoded:
    """Generate a response for every prompt, summing each recorded layer's output over it.

    Args:
        prompts: token ids of each prompt, all non-empty; served in the order given.
        eos: end-of-turn token ids; a sampled one ends its row and is not fed.
        max_new_tokens: response tokens per row at most.
        batch_size: slots decoded together.
        sample: ``logits (rows, vocab) -> (tokens (rows,), count)``; called once per decode step
            on every slot, and once per prefill group on the new rows.
        layers: decoder layers whose outputs are summed over response tokens.
        pad_id: token id put at left-pad positions (masked out).
        progress: called with 1 each time a row ends.
        share_prefixes: prompts of one prefill group that start with at least this many equal tokens
            (a role's system prompt before its questions) have that prefix computed once and copied
            into their slots, when that cuts the prefill's padded tokens to three quarters or less;
            0 never shares. Mathematically the same attention; in bf16 the sums differ by rounding.

    Returns:
        ``Decoded``: rows in prompt order; ``sums`` in fp32 on the model's device.
    """
    device = next(model.parameters()).device
    n = len(prompts)
    hidden = int(model.config.get_text_config().hidden_size)
    for i, p in enumerate(prompts):
        if len(p) == 0:
            raise ValueError(f"prompt {i} is empty")
    slots = max(1, min(batch_size, n))
    capacity = max((len(p) for p in prompts), default=1) + max_new_tokens
    cache = SlotCache(capacity)
    cache.n_slots = slots
    masks = _Masks(model)
    ckw = _cache_kwarg(model)
    eos_t = torch.tensor(sorted(eos), device=device)

    # per-slot state (buffer row r); slots not yet filled have prompt -1
    prompt_of = [-1] * slots
    count = [0] * slots  # response tokens sampled so far (all fed or pending)
    pending = torch.zeros(slots, dtype=torch.long, device=device)
    wpos = torch.zeros(slots, dtype=torch.long, device=device)  # next buffer position
    rpos = torch.zeros(slots, dtype=torch.long, device=device)  # next RoPE position
    valid = torch.zeros((slots, capacity), dtype=torch.bool, device=device)
    kpos = torch.zeros((slots, capacity), dtype=torch.long, device=device)  # RoPE position of each key
    sums = {layer: torch.zeros(slots, hidden, dtype=torch.float32, device=device) for layer in layers}
    out_sums = {layer: torch.zeros(n, hidden, dtype=torch.float32, device=device) for layer in layers}
    out_tokens: list[list[int]] = [[] for _ in range(n)]
    finished = [False] * n
    queue = deque(range(n))
    recording = [False]
    stats = {"cut": 0, "sampled": 0, "forwards": 0, "fed": 0}

    def add(layer: int) -> Callable[[torch.Tensor], None]:
        def fn(h: torch.Tensor) -> None:
            if recording[0]:
                sums[layer] += h[:, -1, :].float().to(sums[layer].device)

        return fn

    def end(row: int, done: bool) -> None:
        k = prompt_of[row]
        finished[k] = done
        for layer in layers:
            out_sums[layer][k] = sums[layer][row]
            sums[layer][row] = 0
        prompt_of[row] = -1
        if progress is not None:
            progress(1)

    def prefill(rows: list[int], group: list[int]) -> torch.Tensor:
        """Prefill prompts ``group`` into slots ``rows``; returns the logits of each one's last token."""
        r = torch.tensor(rows, device=device)
        plan = share_plan([prompts[k] for k in group], share_prefixes)
        if plan is not None:
            logits, real, pos, n = prefill_shared(
                model, cache, masks.build, ckw, [prompts[k] for k in group], rows, plan, pad_id=pad_id
            )
        else:
            ids, real = left_padded([prompts[k] for k in group], pad_id, device)
            pos = (real.long().cumsum(-1) - 1).clamp(min=0)
            cache.mode, cache.rows = "prefill", r
            out = model(
                input_ids=ids,
                attention_mask=masks.build(causal_mask(real)[:, None], pos, pos),
                position_ids=pos,
                use_cache=True,
                logits_to_keep=1,
                **{ckw: cache},
            )
            logits, n = out.logits[:, -1, :], 1
        stats["forwards"] += n
        width = real.shape[1]
        valid[r] = False
        valid[r, :width] = real
        kpos[r, :width] = pos
        wpos[r] = width
        rpos[r] = pos[:, -1] + 1
        return logits

    def refill(free: list[int]) -> list[int]:
        """Fill free slots from the queue; returns the slots left free (the queue ran out)."""
        while free and queue:
            group = [queue.popleft() for _ in range(min(len(free), len(queue)))]
            rows, free = free[: len(group)], free[len(group) :]
            tokens, c = sample(prefill(rows, group))
            stats["cut"] += c
            stats["sampled"] += len(group)
            hit = torch.isin(tokens, eos_t).tolist()
            toks = tokens.tolist()
            for row, k, t, h in zip(rows, group, toks, hit):
                prompt_of[row] = k
                count[row] = 0
                if h:  # empty response
                    end(row, True)
                    free.append(row)
                else:
                    out_tokens[k].append(t)
                    count[row] = 1
            pending[torch.tensor(rows, device=device)] = tokens
        return free

    with add_layer_hooks(model, {layer: add(layer) for layer in layers}):
        free = refill(list(range(slots)))
        while True:
            if free:  # no prompt waits: drop the empty slots
                keep = [r for r in range(len(prompt_of)) if r not in set(free)]
                if not keep:
                    break
                kt = torch.tensor(keep, device=device)
                cache.keep(kt)
                prompt_of = [prompt_of[r] for r in keep]
                count = [count[r] for r in keep]
                pending, wpos, rpos, valid, kpos = pending[kt], wpos[kt], rpos[kt], valid[kt], kpos[kt]
                for layer in layers:
                    sums[layer] = sums[layer][kt]
                free = []
            b = len(prompt_of)
            # feed every slot's pending response token; the hooks add its activations
            ar = torch.arange(b, device=device)
            valid[ar, wpos] = True
            kpos[ar, wpos] = rpos
            width = int(wpos.max()) + 1
            cache.mode, cache.pos, cache.width = "decode", wpos, width
            mask = masks.build(valid[:, None, None, :width], rpos[:, None], kpos[:, :width])
            recording[0] = True
            try:
                out = model(
                    input_ids=pending[:, None],
                    attention_mask=mask,
                    position_ids=rpos[:, None],
                    use_cache=True,
                    logits_to_keep=1,
                    **{ckw: cache},
                )
            finally:
                recording[0] = False
            stats["forwards"] += 1
            stats["fed"] += b
            wpos, rpos = wpos + 1, rpos + 1
            tokens, c = sample(out.logits[:, -1, :])
            stats["cut"] += c
            hit = torch.isin(tokens, eos_t).tolist()
            toks = tokens.tolist()
            for row in range(b):
                if count[row] >= max_new_tokens:  # limit reached: this sample is not used
                    end(row, False)
                    free.append(row)
                    continue
                stats["sampled"] += 1
                if hit[row]:
                    end(row, True)
                    free.append(row)
                else:
                    out_tokens[prompt_of[row]].append(toks[row])
                    count[row] += 1
            pending = tokens
            if free:
                free = refill(free)
    return Decoded(
        out_tokens, finished, out_sums, stats["cut"], stats["sampled"], stats["forwards"], stats["fed"]
    )

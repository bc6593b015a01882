"""Prefill of prompts that start alike: each shared prefix computed once (used by ``decode.decode``).

The persona rollouts ask every question under each system prompt, so the prompts of one prefill
group share long prefixes (the chat template, the system prompt, the start of the user turn).
``share_plan`` finds them; ``prefill_shared`` then runs two kinds of forward pass:

1. the shared prefixes, one row each, left padded; their keys and values are held by the cache
   (``SlotCache`` in mode ``prefix``) and copied into the slot of every prompt that starts with
   them (``SlotCache.place``);
2. the rest of every prompt (its suffix), rows of similar suffix length together, attending to
   the prefix in its slot and causally to itself (``SlotCache`` in mode ``extend``).

The slot layout is the plain prefill's (each prompt left padded to the group's longest, RoPE
positions counting real tokens only), so decoding goes on as after a plain prefill. The attention
is the same mathematically; in bf16 the results differ from a plain prefill by rounding only.

Example:
    >>> plan = share_plan(prompts, 16)        # None: no prefix of 16 tokens or more pays
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

__all__ = ["SharePlan", "Slots", "share_plan", "prefill_shared", "left_pad", "left_padded", "causal_mask"]


@dataclass(frozen=True)
class SharePlan:
    """How a prefill group whose prompts share prefixes is prefilled (indices are group rows).

    Attributes:
        shared: tokens of each row's prompt read in the prefix pass (0: none, the whole prompt is its suffix).
        cluster_of: the prefix-pass row holding each row's prefix (-1: none).
        leaders: for each prefix-pass row, the group row whose prompt gives the prefix.
        parts: the group rows of each suffix pass (rows of similar suffix length together).
    """

    shared: list[int]
    cluster_of: list[int]
    leaders: list[int]
    parts: list[list[int]]


class Slots(Protocol):
    """What ``prefill_shared`` needs of the cache (``decode.SlotCache`` has it)."""

    mode: str
    rows: torch.Tensor
    width: int
    write: torch.Tensor

    def place(
        self, rows: torch.Tensor, src_row: torch.Tensor, src_pos: torch.Tensor, there: torch.Tensor
    ) -> None: ...


MaskBuilder = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], "torch.Tensor | dict[str, torch.Tensor]"]


def left_pad(
    prompts: Sequence[Sequence[int]], pad_id: int, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts of different lengths as one batch, padded on the left: ``ids`` and a 0/1 ``mask``,
    both ``(len(prompts), longest)`` long tensors on ``device``. An empty prompt is an error."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        if len(p) == 0:
            raise ValueError(f"prompt {i} is empty")
        ids[i, width - len(p) :] = torch.tensor(list(p))
        mask[i, width - len(p) :] = 1
    return ids.to(device), mask.to(device)


def _common(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def share_plan(
    prompts: Sequence[Sequence[int]], min_shared: int, part_rows: int = 64, gain: float = 0.75
) -> SharePlan | None:
    """Group prompts that start with the same ``min_shared`` tokens or more, or ``None`` when sharing
    would not cut the padded prefill tokens to ``gain`` of one plain prefill (or ``min_shared <= 0``).

    Sorted prompts with a common prefix are contiguous; a cluster shares the prefix common to all its
    members, less what would leave a member with no suffix token (its last prompt token must be fed
    to give the first logits). Suffix passes take at most ``part_rows`` rows.
    """
    n = len(prompts)
    if min_shared <= 0 or n < 2:
        return None
    order = sorted(range(n), key=lambda i: tuple(prompts[i]))
    shared, cluster_of, leaders = [0] * n, [-1] * n, list[int]()
    i = 0
    while i < n:
        first = prompts[order[i]]
        common, j = len(first) - 1, i + 1
        while j < n:
            c = _common(first, prompts[order[j]])
            if c < min_shared:
                break
            common = min(common, c, len(prompts[order[j]]) - 1)
            j += 1
        if j - i >= 2 and common >= min_shared:
            for k in order[i:j]:
                shared[k], cluster_of[k] = common, len(leaders)
            leaders.append(order[i])
        i = j
    if not leaders:
        return None
    by_suffix = sorted(range(n), key=lambda k: len(prompts[k]) - shared[k])
    parts = [by_suffix[a : a + part_rows] for a in range(0, n, part_rows)]
    cost = len(leaders) * max(shared[k] for k in leaders) + sum(
        len(part) * max(len(prompts[k]) - shared[k] for k in part) for part in parts
    )
    if cost > gain * n * max(len(p) for p in prompts):
        return None
    return SharePlan(shared, cluster_of, leaders, parts)


def left_padded(
    seqs: Sequence[Sequence[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, real)``, both ``(len(seqs), longest)``: the sequences left padded with ``pad_id``
    (``left_pad`` with a boolean mask)."""
    ids, mask = left_pad(seqs, pad_id, device)
    return ids, mask.bool()


def causal_mask(real: torch.Tensor) -> torch.Tensor:
    """``(b, w, w)`` bool from ``real (b, w)``: a real query sees the real keys up to itself; a pad query
    sees itself only (a finite output that no real query reads)."""
    q = torch.arange(real.shape[1], device=real.device)
    return ((q[None, :] <= q[:, None])[None] & real[:, None, :]) | torch.eye(
        real.shape[1], dtype=torch.bool, device=real.device
    )[None]


def prefill_shared(
    model: torch.nn.Module,
    cache: Slots,
    build_mask: MaskBuilder,
    ckw: str,
    prompts: Sequence[Sequence[int]],
    rows: list[int],
    plan: SharePlan,
    *,
    pad_id: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Prefill ``prompts`` into slots ``rows`` of ``cache`` (a ``decode.SlotCache``) by ``plan``.

    Args:
        build_mask: ``decode._Masks.build`` of the model (``full (b, 1, q, kv)``, query and key RoPE
            positions -> the mask its forward takes); ``ckw``: the name of its forward's cache argument.
        prompts: the group's prompts; ``rows``: the slot of each.

    Returns:
        ``(logits (g, vocab)`` of each prompt's last token, ``real (g, width)`` where the slot holds a
        real token, ``kpos (g, width)`` the RoPE position of each slot position, forward passes run).
    """
    device = next(model.parameters()).device
    lens = [len(t) for t in prompts]
    width = max(lens)
    # pass 1: the shared prefixes, left padded, held by the cache
    ids, real = left_padded([prompts[i][: plan.shared[i]] for i in plan.leaders], pad_id, device)
    hw = ids.shape[1]
    pos = (real.long().cumsum(-1) - 1).clamp(min=0)
    cache.mode = "prefix"
    model(
        input_ids=ids,
        attention_mask=build_mask(causal_mask(real)[:, None], pos, pos),
        position_ids=pos,
        use_cache=True,
        logits_to_keep=1,
        **{ckw: cache},
    )
    # every row's layout: real tokens at [width - len, width), RoPE positions 0.. over them
    p = torch.arange(width, device=device)
    start = width - torch.tensor(lens, device=device)[:, None]  # (g, 1)
    real_g = p[None, :] >= start
    kp = (p[None, :] - start).clamp(min=0)
    sh = torch.tensor(plan.shared, device=device)[:, None]
    sharing = torch.tensor([i for i in range(len(prompts)) if plan.shared[i] > 0], device=device)
    src_row = torch.tensor([plan.cluster_of[i] for i in sharing.tolist()], device=device)
    src_pos = (hw - sh[sharing] + kp[sharing]).clamp(max=hw - 1)
    slot = torch.tensor(rows, device=device)
    cache.place(slot[sharing], src_row, src_pos, (real_g & (kp < sh))[sharing])
    # pass 2: the suffixes, rows of similar suffix length together, against the prefix in their slots
    logits = torch.empty(0)
    for part in plan.parts:
        pr = torch.tensor(part, device=device)
        ids, write = left_padded([prompts[i][plan.shared[i] :] for i in part], pad_id, device)
        sw = ids.shape[1]
        # slot position of each query
        qb = width - sw + torch.arange(sw, device=device)
        # a pad query sees itself only
        own = p[None, :] == qb[:, None]
        full = torch.where(
            write[:, :, None], real_g[pr][:, None, :] & (p[None, None, :] <= qb[None, :, None]), own[None]
        )
        qpos = kp[pr][:, width - sw :]
        cache.mode, cache.rows, cache.width, cache.write = "extend", slot[pr], width, write
        out = model(
            input_ids=ids,
            attention_mask=build_mask(full[:, None], qpos, kp[pr]),
            position_ids=qpos,
            use_cache=True,
            logits_to_keep=1,
            **{ckw: cache},
        )
        if logits.numel() == 0:
            logits = out.logits.new_empty((len(prompts), out.logits.shape[-1]))
        logits[pr] = out.logits[:, -1, :]
    return logits, real_g, kp, 1 + len(plan.parts)

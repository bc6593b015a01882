"""Steering sweeps: generate under additive steering at several strengths.

Coefficients are given in units of a layer's typical activation norm (``typical_norm``),
so a sweep means the same thing for every model. With an Assistant Axis (pointing toward the
Assistant), positive coefficients steer toward the Assistant and negative ones away from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from persona_axis.engine.rollouts import Sampling, generate
from persona_axis.model.hooks import record, steer

if TYPE_CHECKING:
    import pandas as pd
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["sweep", "typical_norm", "N_RANDOM", "random_directions", "random_sweep"]

#: Random directions a steering claim is rated against (chapter 5): its chance level.
N_RANDOM = 4


def sweep(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    prompts: Sequence[Sequence[int]],
    direction: torch.Tensor,
    layer: int,
    coefficients: Sequence[float],
    norm: float,
    sampling: Sampling,
    *,
    samples: int = 1,
    batch_size: int = 64,
) -> pd.DataFrame:
    """Generate every prompt ``samples`` times at every steering strength.

    Args:
        prompts: token ids of each prompt.
        direction: ``(hidden,)``; normalised here.
        layer: the steered layer (every position).
        coefficients: strengths in units of ``norm``; the added vector is ``c * norm * unit``.
        norm: the layer's typical activation norm (``typical_norm``).
        sampling: decoding settings; each strength uses the same seed, so coefficient 0 is the
            unsteered model and differences between strengths come from the steering.

    Returns:
        ``DataFrame`` with columns ``coefficient``, ``prompt``, ``sample``, ``text``.
    """
    import pandas as pd

    unit = direction.float() / direction.float().norm()
    batch = [list(p) for p in prompts for _ in range(samples)]
    rows = []
    for c in coefficients:
        with steer(model, unit, float(c) * norm, [layer]):
            res = generate(model, tok, batch, sampling, layers=[layer], batch_size=batch_size)
        for k, text in enumerate(res.texts):
            rows.append(
                {"coefficient": float(c), "prompt": k // samples, "sample": k % samples, "text": text}
            )
    return pd.DataFrame(rows)


def typical_norm(
    model: PreTrainedModel, tok: PreTrainedTokenizerBase, texts: Sequence[str], layer: int
) -> float:
    """Median norm of one layer's per-token activations over some texts (first token excluded).

    Steering coefficients in the book are multiples of this number, so that "0.5" means half a
    typical activation at that layer whatever the model (Gemma's norms are far larger than
    others'). The first token is left out: its norm is 100-1000x the rest (attention sink).
    """
    norms = []
    with torch.no_grad(), record(model, [layer]) as rec:
        for text in texts:
            ids = tok(text, return_tensors="pt")["input_ids"].to(next(model.parameters()).device)
            model(input_ids=ids)
    for h in rec.outputs[layer]:
        if h.shape[1] > 1:
            norms.append(h[0, 1:].float().norm(dim=-1))
    if not norms:
        raise ValueError("the texts are too short: need at least two tokens")
    return float(torch.cat(norms).median())


def random_directions(hidden: int, n: int, *, seed: int = 0) -> torch.Tensor:
    """``(n, hidden)`` random unit directions, Gaussian then normalised (uniform on the sphere).

    ``sweep`` adds ``c * norm * unit`` whatever the direction, so each of these pushes a layer
    exactly as hard as the axis does at the same strength: the chance level for steering.
    """
    if n < 1:
        raise ValueError(f"n={n}: ask for at least one random direction")
    g = torch.randn(n, hidden, generator=torch.Generator().manual_seed(seed))
    return g / g.norm(dim=1, keepdim=True)


def random_sweep(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    prompts: Sequence[Sequence[int]],
    directions: torch.Tensor,
    layer: int,
    coefficients: Sequence[float],
    norm: float,
    sampling: Sampling,
    *,
    batch_size: int = 64,
) -> pd.DataFrame:
    """``sweep`` along each of ``directions`` (``(n, hidden)``, e.g. ``random_directions``).

    Returns:
        ``sweep``'s table with a ``direction`` column (the row of ``directions``).
    """
    import pandas as pd

    if not coefficients:
        raise ValueError(
            "no coefficients: the random directions are run at the rated strengths, and none is rated"
        )
    runs = [
        sweep(model, tok, prompts, d, layer, coefficients, norm, sampling, batch_size=batch_size).assign(
            direction=k
        )
        for k, d in enumerate(directions)
    ]
    return pd.concat(runs, ignore_index=True)

"""The statuses a claim can have on the dashboard, and the one rule that decides them from an interval.

A claim of the paper says "the statistic is past a threshold ``T``" (past: above for the sides
``">"`` and ``">="``, below for ``"<"`` and ``"<="``). Its chance-level null is the value the
statistic takes when there is nothing to find, computed by the chapter with the same pipeline and
sizes (role labels permuted across rollouts, ...); the rule uses ``N``, the end of the null's
spread on the paper's side (the highest value chance gives, for a claim whose paper side is
above). With our interval ``[low, high]``, ``decide`` gives:

* *reproduced*: the interval lies wholly past ``T``;
* *weaker than the paper*: it lies wholly between ``N`` and ``T`` (an effect in the paper's
  direction beyond chance, smaller than the paper's);
* *not reproduced*: it lies wholly short of ``T`` and not wholly past ``N`` (no effect beyond
  chance, or the opposite effect); without a null every interval short of ``T`` is here;
* *inconclusive*: it contains ``T`` (it holds a point past ``T`` and a point short of it;
  for ``">="`` and ``"<="``, ``T`` itself is past, for ``">"`` and ``"<"`` it is short);
* *not rated*: ``N`` itself lies past ``T`` (chance alone reaches the paper's side, so no
  interval could tell the paper's result from chance).

Every interval gets exactly one of these, whatever its width; an interval that contains ``T`` is
never decided; moving an interval toward the paper's side never gives a worse decided status
(*not reproduced* < *weaker than the paper* < *reproduced*). ``tests/test_claims.py`` checks all
three on a dense grid. The cell of a claim not run is *not yet run*; a statistic the paper does
not report, or one the rule cannot rate, is *not rated* (shown, not counted).

A setting a chapter chose (the best capping band and percentile, chapter 7) has no interval (a
rerun on other prompts can pick a neighbouring setting) and no null (a sweep over a cap that does
nothing still picks some setting, and the paper's are among the candidates): no status from one
choice could tell the paper's result from chance, so ``best_band`` and ``best_percentile`` show
the choice, *not rated*.

Example:
    >>> decide(0.62, 0.80, threshold=0.71, side=">", null=0.35)
    'inconclusive'
    >>> decide(0.40, 0.62, threshold=0.71, side=">", null=0.35)
    'weaker than the paper'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from persona_axis.claims.results import Results
from persona_axis.interventions.capping import CONVENTIONS, axis_percentile
from persona_axis.model.models import REGISTRY

__all__ = [
    "REPRODUCED",
    "WEAKER",
    "NOT_REPRODUCED",
    "INCONCLUSIVE",
    "NOT_RUN",
    "NOT_APPLICABLE",
    "NOT_RATED",
    "STATUSES",
    "DECIDED",
    "Side",
    "decide",
    "past",
    "RULE",
    "n_layers",
    "best_band",
    "best_percentile",
]

REPRODUCED = "reproduced"
WEAKER = "weaker than the paper"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_RUN = "not yet run"
NOT_APPLICABLE = "—"
NOT_RATED = "not rated"
#: The statuses a counted cell can have, in the order the dashboard counts them.
STATUSES = (REPRODUCED, WEAKER, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN)
#: The decided statuses, worst first: moving an interval toward the paper's side never moves down this list.
DECIDED = (NOT_REPRODUCED, WEAKER, REPRODUCED)

Side = Literal[">", ">=", "<", "<="]

#: The rule, in words, as the dashboard prints it.
RULE = (
    "For a claim that the statistic is past a threshold T, with N the end of its chance-level null's "
    "spread on the paper's side: *reproduced* if our interval lies wholly past T; *weaker than the paper* "
    "if it lies wholly between N and T (an effect in the paper's direction beyond chance, smaller than the "
    "paper's); *not reproduced* if it lies wholly short of T and not wholly past N (no effect beyond chance, "
    "or the opposite effect; without a computed null, every interval short of T); *inconclusive* if it "
    "contains T. A claim whose null lies past T is *not rated*: chance alone reaches the paper's side."
)


def past(x: float, bound: float, side: Side) -> bool:
    """``x`` is on the paper's side of ``bound`` (strictly for ``">"`` and ``"<"``)."""
    return {">": x > bound, ">=": x >= bound, "<": x < bound, "<=": x <= bound}[side]


def decide(low: float, high: float, *, threshold: float, side: Side, null: float | None = None) -> str:
    """The status of the interval ``[low, high]`` (module docstring).

    Args:
        low, high: our interval, ``low <= high``; a NaN end gives *inconclusive* (no interval).
        threshold: ``T``, the boundary the paper's result is past.
        side: which side of ``T`` the paper's result is on.
        null: ``N``, the end of the chance-level null's spread on the paper's side (the null's
            high end for ``">"``/``">="``, its low end for ``"<"``/``"<="``); ``None``: no null.

    Raises:
        ValueError: ``low > high``.
    """
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    if low > high:
        raise ValueError(f"an interval's low end {low} lies above its high end {high}")
    up = side in (">", ">=")
    near, far = (low, high) if up else (high, low)
    n = None if null is None or math.isnan(null) else null
    if n is not None and past(n, threshold, side):
        return NOT_RATED  # chance alone reaches the paper's side
    if past(near, threshold, side):
        return REPRODUCED  # every point past T
    if past(far, threshold, side):
        return INCONCLUSIVE  # points on both sides of T
    if n is not None and (near > n if up else near < n):
        return WEAKER  # wholly short of T, wholly beyond chance
    return NOT_REPRODUCED


def n_layers(model: str, results: Results) -> int | None:
    """The model's decoder layers: from the registry, or from chapter 2's per-layer cosines."""
    if model in REGISTRY:
        return REGISTRY[model].n_layers
    doc = results.get("02_assistant_axis", model)
    per_layer = doc["numbers"].get("cos_axis_pc1") if doc else None
    return len(per_layer) if isinstance(per_layer, Mapping) and per_layer else None


def best_band(numbers: Mapping[str, Any], model: str, results: Results) -> tuple[str, str]:
    """The band the capping sweep chose, as its share of the depth: shown, *not rated* (module docstring)."""
    a, _, b = str(numbers["best_layers"]).partition("-")
    lo, hi = int(a), int(b or a)
    n = numbers.get("n_layers") or n_layers(model, results)
    if not n:
        return f"{lo}-{hi} (layer count unknown: run chapter 2)", NOT_RATED
    depth = (lo + hi) / 2 / int(n)
    return f"{lo}-{hi} of {n} (centre at {depth:.0%} depth)", NOT_RATED


def best_percentile(numbers: Mapping[str, Any], model: str, results: Results) -> tuple[str, str]:
    """The percentile the capping sweep chose, and the floor it is on the axis: shown, *not rated*."""
    p, convention = float(numbers["best_percentile"]), str(numbers.get("best_convention", "?"))
    if convention in CONVENTIONS:
        return (
            f"{p:g}th ({convention} convention: a floor at p{axis_percentile(p, convention):g} on the axis)",
            NOT_RATED,
        )
    return f"{p:g}th ({convention} convention)", NOT_RATED

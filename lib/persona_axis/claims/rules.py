"""The statuses a claim can have on the dashboard, and the rules for a setting a chapter chose
rather than measured (no interval): the best capping band and the best capping percentile.
``registry.Claim.rate`` rates intervals; ``registry.Claim.rate_point`` points here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from persona_axis.claims.results import Results
from persona_axis.interventions.capping import CONVENTIONS, axis_percentile
from persona_axis.model.models import REGISTRY

__all__ = ["REPRODUCED", "PARTLY", "NOT_REPRODUCED", "INCONCLUSIVE", "NOT_RUN", "NOT_APPLICABLE", "NOT_RATED",
           "STATUSES", "n_layers", "best_band", "best_percentile"]

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not reproduced here"
INCONCLUSIVE = "inconclusive"
NOT_RUN = "not yet run"
NOT_APPLICABLE = "—"
NOT_RATED = "not rated"
#: The statuses a cell can have, in the order the dashboard counts them.
STATUSES = (REPRODUCED, PARTLY, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN)


def n_layers(model: str, results: Results) -> int | None:
    """The model's decoder layers: from the registry, or from chapter 2's per-layer cosines."""
    if model in REGISTRY:
        return REGISTRY[model].n_layers
    doc = results.get("02_assistant_axis", model)
    per_layer = doc["numbers"].get("cos_axis_pc1") if doc else None
    return len(per_layer) if isinstance(per_layer, Mapping) and per_layer else None


def best_band(numbers: Mapping[str, Any], model: str, results: Results) -> tuple[str, str]:
    a, _, b = str(numbers["best_layers"]).partition("-")
    lo, hi = int(a), int(b or a)
    n = numbers.get("n_layers") or n_layers(model, results)
    if not n:
        return f"{lo}-{hi} (layer count unknown: run chapter 2)", NOT_RUN
    depth = (lo + hi) / 2 / int(n)
    status = REPRODUCED if 0.70 <= depth <= 0.90 else PARTLY if depth >= 0.5 else NOT_REPRODUCED
    return f"{lo}-{hi} of {n} (centre at {depth:.0%} depth)", status


def best_percentile(numbers: Mapping[str, Any], model: str, results: Results) -> tuple[str, str]:
    p, convention = float(numbers["best_percentile"]), str(numbers.get("best_convention", "?"))
    floor = axis_percentile(p, convention) if convention in CONVENTIONS else p
    # the sweep reads its percentiles in one convention (the one the calibration favours): the paper's
    # 25th is p25 in that convention; p75 is the paper's 25th read in the other one
    status = REPRODUCED if p == 25 else PARTLY if p == 75 or floor <= 50 else NOT_REPRODUCED
    return f"{p:g}th ({convention} convention)", status

"""Layer 9, claims: the paper's claims and how ours are rated. Reads results, never runs a model.

``rules`` (the statuses and the one rule that decides them), ``registry`` (the one list of the
paper's claims and numbers), ``results`` (what chapters save), ``dashboard`` (the claims page),
``samplesize`` (the units and rollouts that would decide an inconclusive claim).
"""

from persona_axis.claims.registry import (
    BASE_MODELS,
    CLAIMS,
    FACTS,
    Cell,
    Claim,
    Fact,
    Row,
    cell,
    chapters,
    claim,
    columns,
    evaluate,
    fact,
    model_kind,
    sentence,
    substitutions,
    table,
)
from persona_axis.claims.rules import (
    INCONCLUSIVE,
    NOT_APPLICABLE,
    NOT_RATED,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    STATUSES,
    WEAKER,
    decide,
)

__all__ = [
    "Claim",
    "Cell",
    "Row",
    "Fact",
    "CLAIMS",
    "FACTS",
    "BASE_MODELS",
    "claim",
    "fact",
    "cell",
    "evaluate",
    "columns",
    "model_kind",
    "table",
    "sentence",
    "chapters",
    "substitutions",
    "decide",
    "REPRODUCED",
    "WEAKER",
    "NOT_REPRODUCED",
    "INCONCLUSIVE",
    "NOT_RUN",
    "NOT_APPLICABLE",
    "NOT_RATED",
    "STATUSES",
]

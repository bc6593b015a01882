"""Layer 9, claims: the paper's claims and how ours are rated. Reads results, never runs a model.

``rules`` (the statuses and the rules for chosen settings), ``registry`` (the one list of the
paper's claims and numbers), ``results`` (what chapters save), ``dashboard`` (the claims page),
``samplesize`` (the units and rollouts that would decide an inconclusive claim).
"""

from persona_axis.claims.registry import (
    BASE_MODELS,
    CLAIMS,
    Cell,
    Claim,
    Row,
    cell,
    chapters,
    claim,
    columns,
    evaluate,
    model_kind,
    sentence,
    table,
)
from persona_axis.claims.rules import (
    INCONCLUSIVE,
    NOT_APPLICABLE,
    NOT_RATED,
    NOT_REPRODUCED,
    NOT_RUN,
    PARTLY,
    REPRODUCED,
    STATUSES,
)

__all__ = ["Claim", "Cell", "Row", "CLAIMS", "BASE_MODELS", "claim", "cell", "evaluate", "columns", "model_kind",
           "table", "sentence", "chapters", "REPRODUCED", "PARTLY", "NOT_REPRODUCED", "INCONCLUSIVE", "NOT_RUN",
           "NOT_APPLICABLE", "NOT_RATED", "STATUSES"]

"""The dashboard's columns for the paper's released vectors (chapter 10), under the registry's rules.

The release (``persona.release``) holds the three paper models' mean vectors, no rollouts and no
model that generates text, so it answers the claims about persona space, the axis and their
agreement across models, and none about steering, drift or capping's effects (those cells say
so). Its numbers are read from chapter 10's saved results and rated by the same ``Claim.rate`` as
the embedded models'; the cross-model claims rate the three paper models among themselves, one
number (the lowest pair), which the chapter saves under every release model. A result saved from
the synthetic test release is never read here. The release columns are evaluated apart from
``registry.evaluate`` (whose columns, counts and tables stay the embedded models'), and the
dashboard sets them beside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from persona_axis.claims.registry import CLAIMS, Cell, Claim, Row, cell
from persona_axis.claims.results import Results
from persona_axis.claims.rules import NOT_APPLICABLE, NOT_RATED, NOT_RUN
from persona_axis.persona.release import RELEASE_MODELS

__all__ = [
    "RELEASE_CHAPTER",
    "RELEASE_KEYS",
    "NOT_IN_RELEASE",
    "release_columns",
    "release_cell",
    "evaluate_release",
]

#: The chapter that saves the release's numbers.
RELEASE_CHAPTER = "10_paper_vectors"
#: The claims (by result key) the release can answer; chapter 10 saves each under the same key.
RELEASE_KEYS = frozenset(
    {
        "n_for_70",
        "pc1_share",
        "default_pc1_distance",
        "cos_axis_pc1_middle",
        "cos_axis_pc1_min",
        "pc1_min_pair",
        "axis_min_pair",
        "trait_pc1_min_pair",
    }
)
#: The text of a cell the release cannot answer.
NOT_IN_RELEASE = "not in the release"


def release_columns() -> list[str]:
    """The release's models, always shown (*not yet run* until chapter 10 has read them)."""
    return list(RELEASE_MODELS)


def release_cell(c: Claim, model: str, results: Results) -> Cell:
    """Claim ``c`` for release model ``model``, from chapter 10's saved result."""
    if c.applies_to != "instruct":
        return Cell(NOT_APPLICABLE, NOT_APPLICABLE)
    if c.key not in RELEASE_KEYS:
        return Cell(
            NOT_IN_RELEASE,
            NOT_RATED,
            note="the release holds mean vectors only: no rollouts, no model that "
            "generates text, so this claim needs a chapter that runs a model",
        )
    doc = results.get(RELEASE_CHAPTER, c.saved_under or model)
    if doc is None or doc["numbers"].get("synthetic", False):
        return Cell(NOT_RUN, NOT_RUN)
    return cell(replace(c, chapter=RELEASE_CHAPTER), model, results)


def evaluate_release(
    claims: Sequence[Claim] = CLAIMS, results: Results | None = None
) -> tuple[list[str], list[Row]]:
    """``(release models, rows)``: every claim rated for every release model."""
    results = Results.load([RELEASE_CHAPTER]) if results is None else results
    models = release_columns()
    return models, [Row(c, {m: release_cell(c, m, results) for m in models}) for c in claims]

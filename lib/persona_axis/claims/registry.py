"""The one registry of the paper's claims and numbers, and the rule that rates our number for each.

Each ``Claim`` names where a chapter saves our number (``results.save_result``: chapter folder,
the model it is saved under, the key in ``numbers``; its bootstrap interval under
``numbers["intervals"][key]``), the paper's value and where the paper gives it (``source``), the
threshold and the side of it the paper is on, and the unit that was resampled. ``rate`` turns our
interval and the claim's chance-level null into a status by the one rule of
``persona_axis.claims.rules.decide``: *reproduced*, *weaker than the paper*, *not reproduced*,
*inconclusive*; *not yet run* when no result is saved, *not rated* for a statistic the paper does
not report (or whose null reaches the paper's side). The null is the chapter's: it saves the
statistic's chance-level value with its spread under ``numbers["intervals"][key + "_null"]``
(``persona_axis.analysis.nulls``); where a chapter computes none, the cell says so and no null of
0 is assumed. The text of each claim's rule, ``Claim.rule``, is written from the same fields, so
the page and the code cannot disagree.

A claim about a setting the chapter chose (the best capping band or percentile) has no interval
and is shown, *not rated* (``Claim.rate_point``, ``rules.best_band``). A statistic of a pair of
models (chapter 3's lowest correlation between instruct models) is one cell for the pair. Chapters
print their "paper vs ours" tables with ``table`` and their verdict sentences with ``sentence``;
the dashboard (``persona_axis.claims.dashboard``) renders ``evaluate``. Nowhere else is a paper's
number typed: ``FACTS`` holds the paper's numbers that are no claim (for the chapters' prose and
tables), and ``tests/test_paper_numbers.py`` fails on one typed elsewhere.

Example:
    >>> c = claim("cos_axis_pc1_middle")
    >>> c.rate(Interval(0.8, 0.75, 0.85))
    'reproduced'
    >>> c.rate(Interval(0.45, 0.31, 0.58), null=Interval(0.2, 0.1, 0.3))
    'weaker than the paper'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from persona_axis.claims.results import BOOK_MODELS, Results
from persona_axis.claims.rules import (
    INCONCLUSIVE,
    NOT_APPLICABLE,
    NOT_RATED,
    NOT_RUN,
    Side,
    best_band,
    best_percentile,
    decide,
)
from persona_axis.core.stats import Interval
from persona_axis.model.models import REGISTRY

if TYPE_CHECKING:
    import pandas as pd

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
    "distinct_cells",
    "gaps",
]


#: The base models the dashboard always shows, after ``results.BOOK_MODELS``.
BASE_MODELS = ("gemma3-270m-base",)

Kind = Literal["instruct", "base"]


def _num(x: float, spec: str, scale: float, suffix: str) -> str:
    return (format(x * scale, spec) + suffix).replace("-", "−")


#: What a claim's rule says about the null when it uses the chapter's (``Claim.null_how``).
_PERMUTED = "role labels permuted across rollouts before the role vectors are averaged, at the same sizes"
_TURNS = "each conversation's user messages put in a random order, the regression refitted"
_RANDOM_CAP = (
    "the declared cap along random directions, one per layer with the axis's norm, calibrated on the same "
    "rollouts; prompts and directions resampled"
)
_PAIRED = "each model's rows dealt out again at random, so that no role (trait) meets itself across models"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, where our number for it is saved, and how it is rated.

    Attributes:
        id: a short stable name (``"C4"``), the row's anchor on the dashboard.
        claim: the claim, in a few words.
        short: a label of a few words for the dashboard's grid.
        paper: the paper's number, as text.
        chapter: the chapter notebook that saves our number (``"02_assistant_axis"``).
        key: the key in the saved ``numbers``; its interval is ``numbers["intervals"][key]``, its
            chance-level null (when the chapter computes one) ``numbers["intervals"][key + "_null"]``.
        unit: the independent unit the interval resamples ("roles", "conversations",
            "prompts"); ``""`` for a setting the chapter chose (no interval).
        source: where the paper's number comes from: a part of the paper, or "official notebook
            output" for a number only the paper's released code prints.
        side: which side of ``threshold`` the paper's result is on.
        threshold: ``T`` of ``rules.decide``: "reproduced" needs the whole interval past it.
        paper_value: the paper's number where it is one number (for the chapters' comparisons;
            the rule uses ``threshold``). ``None``: the paper gives a direction or a range.
        null_how: how the chapter computes the chance-level null it saves (``""``: it computes
            none yet, and the cell says so).
        null_by_design: why the claim needs no computed null (its threshold is itself the value
            of no effect, or the paper's side is no effect); ``""`` when it needs one.
        why: why the threshold is where it is (the paper's lowest, ...), or, for a claim not
            rated, why not; shown in the rule.
        spec, scale, suffix: how our number is printed: ``format(x * scale, spec) + suffix``.
        per_model: the saved value is a dict ``model -> number`` for a statistic of the pair of
            models (chapter 3 saves one document): rated once, in one cell for the pair.
        saved_under: the model name the chapter saves under, when it is not the column's model.
        applies_to: the kind of model the claim is about; other models show ``—``.
        rated: ``False`` for a number shown beside the paper's but not rated (a statistic the
            paper does not report, or a setting with no interval).
        rate_point: for a setting the chapter chose: ``(numbers, model, results) -> (text, status)``.
        point_rule: what ``rate_point`` shows, in words.
    """

    id: str
    claim: str
    short: str
    paper: str
    chapter: str
    key: str
    unit: str
    source: str = ""
    side: Side = ">"
    threshold: float = 0.0
    paper_value: float | None = None
    null_how: str = ""
    null_by_design: str = ""
    why: str = ""
    spec: str = ".2f"
    scale: float = 1.0
    suffix: str = ""
    per_model: bool = False
    saved_under: str | None = None
    applies_to: Kind = "instruct"
    rated: bool = True
    rate_point: Callable[[Mapping[str, Any], str, Results], tuple[str, str]] | None = None
    point_rule: str = ""

    def fmt(self, x: float) -> str:
        return _num(x, self.spec, self.scale, self.suffix)

    def fmt_interval(self, iv: Interval) -> str:
        """``"0.45 [0.31, 0.58]"`` in the claim's units."""
        return f"{self.fmt(iv.estimate)} [{self.fmt(iv.low)}, {self.fmt(iv.high)}]"

    @property
    def up(self) -> bool:
        """The paper's side is above the threshold."""
        return self.side in (">", ">=")

    def null_end(self, null: Interval) -> float:
        """``N`` of ``rules.decide``: the end of the null's spread on the paper's side."""
        return null.high if self.up else null.low

    def rate(self, iv: Interval, null: Interval | None = None) -> str:
        """The status of our interval ``iv`` against the threshold and the chance-level ``null``
        (the module docstring of ``persona_axis.claims.rules``)."""
        if not self.rated:
            return NOT_RATED
        if math.isnan(iv.low) or math.isnan(iv.high) or not iv.low <= iv.estimate <= iv.high:
            # no interval, or one the resampling biased so much that it misses our own number
            # (e.g. a PCA of a handful of role vectors, where a resample's duplicates lower its rank)
            return INCONCLUSIVE
        return decide(
            iv.low,
            iv.high,
            threshold=self.threshold,
            side=self.side,
            null=None if null is None else self.null_end(null),
        )

    @property
    def rule(self) -> str:
        """The rule ``rate`` applies, in words, with this claim's numbers."""
        if self.rate_point is not None:
            return self.point_rule
        if not self.rated:
            return f"not rated: {self.why}"
        word, short = {
            ">": ("above", "at or below"),
            ">=": ("at or above", "below"),
            "<": ("below", "at or above"),
            "<=": ("at or below", "above"),
        }[self.side]
        t = self.fmt(self.threshold)
        text = f"*reproduced* if the interval lies wholly {word} {t}" + (f" ({self.why})" if self.why else "")
        if self.null_how:
            text += (
                f"; *weaker than the paper* if it lies wholly between the chance-level null ({self.null_how}; "
                f"the end of its 95% spread on the paper's side) and {t}; *not reproduced* if it lies wholly "
                f"{short} {t} and reaches the null; *not rated* if the null itself lies {word} {t}"
            )
        elif self.null_by_design:
            text += f"; *not reproduced* if it lies wholly {short} {t} ({self.null_by_design})"
        else:
            text += (
                f"; *not reproduced* if it lies wholly {short} {t} (the chapter computes no chance-level null "
                "yet, so a weaker effect cannot be told from none)"
            )
        return text + f"; *inconclusive* if it contains {t}"


@dataclass(frozen=True)
class Fact:
    """A number of the paper that is no claim the book rates, for the chapters' prose and tables.

    Attributes:
        key: its name (``fact("n_role_vectors")``).
        text: the paper's number, as text.
        source: where the paper gives it.
    """

    key: str
    text: str
    source: str

    @property
    def values(self) -> tuple[float, ...]:
        """The numbers in ``text``, in order (``"0.27-0.50"`` -> ``(0.27, 0.5)``)."""
        return tuple(float(x) for x in re.findall(r"\d+(?:\.\d+)?", self.text))


@dataclass(frozen=True)
class Cell:
    """One claim for one model: the text shown, its status, the interval (if any), a note, and the
    chance-level null the chapter saved beside it (if any)."""

    text: str
    status: str
    interval: Interval | None = None
    note: str = ""
    null: Interval | None = None


@dataclass(frozen=True)
class Row:
    """One claim with a cell per model (a pair claim: the same cell for every model of the pair)."""

    claim: Claim
    cells: dict[str, Cell] = field(default_factory=dict)


_PERSONA = "the paper, persona space (PCA of role vectors)"
_AXIS = "the paper, the Assistant Axis (its cosine with PC1)"
_CROSS = "the paper, similarity across models"

#: The paper's claims the chapters test, in the order of the paper.
CLAIMS: tuple[Claim, ...] = (
    Claim(
        "C1",
        "Persona space is low-dimensional: components for 70% of the variance",
        "components for 70%",
        "4-19 (Gemma 4, Qwen 8, Llama 19)",
        "01_persona_space",
        "n_for_70",
        "roles",
        source=_PERSONA,
        side="<=",
        threshold=19,
        paper_value=19,
        null_how=_PERMUTED,
        why="the paper's largest",
        spec=".0f",
    ),
    Claim(
        "C2",
        "PC1's share of the variance",
        "PC1 share",
        "0.49 (Gemma 2 27B, official notebook)",
        "01_persona_space",
        "pc1_share",
        "roles",
        paper_value=0.49,
        null_how=_PERMUTED,
        rated=False,
        source="official notebook output (notebooks/pca.ipynb: Gemma 2 27B, 275 label-3 role vectors, layer 22)",
        why="0.49 is what the paper's released notebook prints for 275 label-3 role vectors of Gemma 2 27B, not a "
        "number of the paper; a PC1 share also depends on how many vectors the PCA has, and ours keeps the "
        "paper's label 3 and 2 vectors: shown beside it with its chance level",
    ),
    Claim(
        "C3",
        "The default persona sits at the Assistant end of PC1 (relative distance from the nearest end)",
        "default at PC1's end",
        "0.03 (0.27-0.50 on PCs 2-10)",
        "01_persona_space",
        "default_pc1_distance",
        "roles",
        source=_PERSONA,
        side="<=",
        threshold=0.10,
        paper_value=0.03,
        null_how=_PERMUTED,
        why="the paper's 0.03 with room for noise, well short of where its default sits on PCs 2-10",
    ),
    Claim(
        "C4",
        "cos(Assistant Axis, PC1) at the middle layer",
        "cos(axis, PC1), middle layer",
        "> 0.71 in all three models",
        "02_assistant_axis",
        "cos_axis_pc1_middle",
        "roles",
        source=_AXIS,
        side=">",
        threshold=0.71,
        paper_value=0.71,
        null_how=_PERMUTED,
        why="the paper's lowest",
    ),
    Claim(
        "C5",
        "cos(Assistant Axis, PC1), lowest over all layers",
        "cos(axis, PC1), lowest layer",
        "> 0.60 in all three models",
        "02_assistant_axis",
        "cos_axis_pc1_min",
        "roles",
        source=_AXIS,
        side=">",
        threshold=0.60,
        paper_value=0.60,
        null_how=_PERMUTED,
        why="the paper's lowest",
    ),
    Claim(
        "C6",
        "PC1 role compositions (mean-centred role vectors) agree across models (lowest correlation between "
        "two instruct models)",
        "PC1 agrees across models",
        "> 0.92 for every pair",
        "03_cross_model",
        "pc1_min_pair",
        "roles",
        source=_CROSS,
        side=">",
        threshold=0.92,
        paper_value=0.92,
        null_how=_PAIRED,
        why="the paper's lowest pair",
        per_model=True,
        saved_under="all",
    ),
    Claim(
        "C6a",
        "Roles' projections on the contrast axis (default minus mean role vector, sign anchored) agree across "
        "models (lowest correlation between two instruct models)",
        "contrast axis agrees across models",
        "not reported (PC1: > 0.92)",
        "03_cross_model",
        "axis_min_pair",
        "roles",
        source=_CROSS,
        rated=False,
        why="not a claim of the paper, which reports PC1's agreement only: the book's own check of the contrast "
        "axis the paper recommends, shown beside it",
        per_model=True,
        saved_under="all",
    ),
    Claim(
        "C6b",
        "PC1 role compositions agree across models when both read this model's answers (the other "
        "teacher-forced), without sampling noise",
        "PC1 agrees on shared texts",
        "> 0.92 (each on its own texts)",
        "03_cross_model",
        "pc1_shared_min_pair",
        "roles",
        source=_CROSS,
        rated=False,
        why="not a claim of the paper, which compares each model on its own texts: the book's control for sampling "
        "noise, shown beside it",
        per_model=True,
        saved_under="all",
    ),
    Claim(
        "C7",
        "Trait PC1 compositions agree across models, on trait vectors from the prompt pairs that pass the "
        "paper's 50-point filter (lowest correlation between two instruct models)",
        "trait PC1 agrees across models",
        "> 0.81 for every pair",
        "03_cross_model",
        "trait_pc1_min_pair",
        "traits",
        source=_CROSS,
        side=">",
        threshold=0.81,
        paper_value=0.81,
        null_how=_PAIRED,
        why="the paper's lowest pair",
        per_model=True,
        saved_under="all",
    ),
    Claim(
        "C8",
        "A base model has the instruct model's persona space (correlation of PC1 role compositions, "
        "base reading the instruct model's rollouts)",
        "base shares the persona space",
        "PCs 1-3 cosines 0.93 / 0.87 / 0.83 (Gemma 2 27B)",
        "04_base_vs_instruct",
        "pc1_composition_corr",
        "roles",
        source="the paper, base versus instruct models",
        applies_to="base",
        rated=False,
        why="ours correlates role compositions across model families; the paper compares PCs of a base and an "
        "instruct model of the same family, a different statistic",
    ),
    Claim(
        "C9",
        "Steering a base model toward the Assistant gives more helpful human archetypes "
        "(share toward minus share away)",
        "base steered: helpful archetypes",
        "toward: consultants, coaches; away: spiritual",
        "04_base_vs_instruct",
        "helpful_toward_minus_away",
        "prompts",
        source="the paper, steering base models",
        side=">",
        threshold=0.0,
        applies_to="base",
        rated=False,
        why="the book steers a base model of another family along its own axis (built on SmolLM2's texts and "
        "labels); the paper steers a base model with its own instruct model's axis, a different statistic",
    ),
    Claim(
        "C10",
        "Steered away from the Assistant, models claim human, non-human or mystical identities "
        "(share away minus unsteered, less the same push along random directions)",
        "steered away: other identities",
        "more human and mystical identities",
        "05_steering",
        "roles_away_minus_random",
        "prompts",
        source="the paper, steering (role susceptibility)",
        side=">=",
        threshold=0.10,
        why="ten points beyond what random directions of the axis's size do; the paper gives no size",
        null_by_design="random directions with the axis's push are subtracted, so 0 is what chance gives",
    ),
    Claim(
        "C11",
        "Steered toward the Assistant, models say they are an assistant (share toward minus unsteered, "
        "less the same push along random directions)",
        "steered toward: assistant",
        "more assistant identities",
        "05_steering",
        "assistant_toward_minus_random",
        "prompts",
        source="the paper, steering (role susceptibility)",
        side=">",
        threshold=0.0,
        why="the paper gives a direction, not a size",
        null_by_design="random directions with the axis's push are subtracted, so 0 is what chance gives",
    ),
    Claim(
        "C12",
        "The user's message predicts where the reply lands on the axis (R², position)",
        "message predicts position",
        "0.53-0.77",
        "06_drift",
        "r2_position",
        "conversations",
        source="the paper, persona drift (predicting the projection)",
        side=">=",
        threshold=0.53,
        paper_value=0.53,
        null_how=_TURNS,
        why="the paper's lowest",
    ),
    Claim(
        "C13",
        "The message predicts the reply's position much better than how far it moves "
        "(R² of position minus R² of change)",
        "position beats change",
        "0.53-0.77 vs about 0.10",
        "06_drift",
        "r2_position_minus_change",
        "conversations",
        source="the paper, persona drift (predicting the projection)",
        side=">=",
        threshold=0.30,
        paper_value=0.43,
        null_how=_TURNS,
        why="most of the paper's gap of at least 0.43",
    ),
    Claim(
        "C14",
        "Therapy and philosophy conversations drift away from the Assistant more than coding and "
        "writing (change of therapy and philosophy minus change of coding and writing)",
        "emotional topics drift",
        "coding and writing stay; therapy and philosophy drift",
        "06_drift",
        "domain_drift_gap",
        "conversations",
        source="the paper, persona drift (domains)",
        side="<",
        threshold=0.0,
        why="the paper gives a direction, not a size",
        null_by_design="0, no difference, is no effect",
    ),
    Claim(
        "C15",
        "Activation capping cuts harmful answers to persona jailbreaks (relative reduction, the setting "
        "declared before the run: the paper's 25th percentile on a band at the paper's depth)",
        "capping cuts harm",
        "nearly 60% fewer",
        "07_capping",
        "harm_reduction",
        "prompts",
        source="the paper, activation capping",
        side=">=",
        threshold=0.5,
        paper_value=0.6,
        spec=".0%",
        null_how=_RANDOM_CAP,
        why="most of the paper's 60%",
    ),
    Claim(
        "C16",
        "Capping costs no capability (summed change in accuracy over the capability sets, the declared "
        "setting; non-inferiority)",
        "capping keeps capability",
        "no loss; some benchmarks improve",
        "07_capping",
        "capability_change",
        "prompts",
        source="the paper, activation capping",
        side=">",
        threshold=-0.10,
        paper_value=0.0,
        spec="+.1f",
        scale=100,
        suffix=" pts",
        why="non-inferiority: a loss smaller than the margin of 10 points summed over the three capability sets, "
        "declared before the run",
        null_by_design="the paper's side is no change, the value chance gives, so there is no weaker effect to tell "
        "apart",
    ),
    Claim(
        "C17",
        "The best capping band lies late in the network",
        "capping band late",
        "Qwen 3 32B 46-53 of 64, Llama 3.3 70B 56-71 of 80",
        "07_capping",
        "best_layers",
        "",
        source="the paper, activation capping (layer sweep)",
        rated=False,
        rate_point=best_band,
        point_rule="not rated: a setting the sweep chose, shown by the band's centre as a share of the layers; one "
        "choice has no interval (a rerun on other prompts can choose a neighbouring band) and no null "
        "(a sweep over a cap that does nothing still chooses some band, late ones among them)",
    ),
    Claim(
        "C18",
        "The best capping threshold",
        "best capping percentile",
        "25th percentile",
        "07_capping",
        "best_percentile",
        "",
        source="the paper, activation capping (percentile sweep)",
        rated=False,
        rate_point=best_percentile,
        point_rule="not rated: a setting the sweep chose, shown with the floor it is on the axis (the paper's text "
        "floors at p25 on the axis; its code's ceiling at p25 on the opposite vector is a floor at p75); "
        "one choice has no interval and no null, as for the band",
    ),
)

#: The paper's numbers that are no claim the book rates, read by the chapters' prose and tables.
FACTS: tuple[Fact, ...] = (
    Fact("n_role_vectors", "377-463 per model", _PERSONA),
    Fact("default_pc2_10", "0.27-0.50", _PERSONA),
    Fact("base_role_vectors", "> 0.99", "the paper, base versus instruct models"),
    Fact("r2_change", "about 0.10", "the paper, persona drift (predicting the projection)"),
    Fact("jailbreak_uncapped", "65-89%", "the paper, activation capping"),
)


def fact(key: str) -> Fact:
    """The paper's number ``key`` of ``FACTS``.

    Raises:
        KeyError: no such fact (the message lists them).
    """
    for f in FACTS:
        if f.key == key:
            return f
    raise KeyError(f"no fact {key!r}; known: {', '.join(f.key for f in FACTS)}")


def substitutions() -> dict[str, str]:
    """The registry's numbers as MyST substitutions for the book's prose: ``{{ C4_paper }}`` (the
    paper's text), ``{{ C4_threshold }}`` and ``{{ C4_value }}`` (the paper's one number, where it
    has one), ``{{ fact_n_role_vectors }}``. The build puts them in the staged ``_config.yml``."""
    out: dict[str, str] = {}
    for c in CLAIMS:
        out[f"{c.id}_paper"] = c.paper
        if c.rated:
            out[f"{c.id}_threshold"] = c.fmt(c.threshold)
        if c.paper_value is not None:
            out[f"{c.id}_value"] = c.fmt(c.paper_value)
    out.update({f"fact_{f.key}": f.text for f in FACTS})
    return out


def claim(key: str) -> Claim:
    """The claim whose result key (or id) is ``key``.

    Raises:
        KeyError: no such claim (the message lists them).
    """
    for c in CLAIMS:
        if key in (c.key, c.id):
            return c
    raise KeyError(f"no claim {key!r}; known: {', '.join(c.key for c in CLAIMS)}")


def model_kind(model: str, results: Results) -> Kind:
    """``"base"`` or ``"instruct"``: from the registry, else ``"base"`` for a model whose only
    results are base-model chapters, else ``"instruct"``."""
    if model in REGISTRY:
        return REGISTRY[model].kind
    done = {ch for ch, d in results.docs.items() if model in d}
    base_chapters = {c.chapter for c in CLAIMS if c.applies_to == "base"}
    return "base" if done and done <= base_chapters else "instruct"


def _intervals(numbers: Mapping[str, Any], key: str, model: str, per_model: bool) -> Interval | None:
    """The interval saved under ``numbers["intervals"][key]`` (for ``model``, if per model), or ``None``."""
    saved = numbers.get("intervals", {}).get(key)
    if per_model and isinstance(saved, Mapping):
        saved = saved.get(model)
    return None if saved is None else Interval.from_dict(saved)


def cell(c: Claim, model: str, results: Results) -> Cell:
    """Our number for claim ``c`` and ``model``, from the saved results, with its status.

    For a pair claim (``c.per_model``) every model of the saved pair gets the same cell: the lowest
    pair's number, rated once.
    """
    if model_kind(model, results) != c.applies_to:
        return Cell(NOT_APPLICABLE, NOT_APPLICABLE)
    doc = results.get(c.chapter, c.saved_under or model)
    if doc is None:
        return Cell(NOT_RUN, NOT_RUN)
    numbers = doc["numbers"]
    if c.key not in numbers:  # saved by an older version of the chapter
        return Cell(NOT_RUN, NOT_RUN, note=f"the saved result has no `{c.key}`: rerun the chapter")
    value = numbers[c.key]
    pair = ""
    if c.per_model:
        got = {m: v for m, v in value.items() if v is not None} if isinstance(value, Mapping) else {}
        if model in got:  # the pair's one cell: the lowest of each model's lowest pair
            model = min(got, key=lambda m: (math.isnan(float(got[m])), float(got[m])))
            pair = ("one cell for the pair " if len(got) == 2 else "the lowest pair among ") + ", ".join(got)
        value = got.get(model)
    if value is None:
        # the chapter ran and found nothing to report (no capping setting met its criterion, one model only)
        return Cell(
            "none in this run",
            INCONCLUSIVE if c.rated else NOT_RATED,
            note="the saved run has no value for this model",
        )
    if c.rate_point is not None:
        text, status = c.rate_point(numbers, model, results)
        return Cell(text, status, note="a setting the chapter chose: no interval")
    null = _intervals(numbers, c.key + "_null", model, c.per_model)
    if null is not None:
        chance = f"chance level {c.fmt_interval(null)} ({null.n_resamples} {null.unit})"
    elif c.null_by_design or not c.rated:
        chance = ""
    else:
        chance = "no chance-level null computed for this run"
    if isinstance(value, float) and math.isnan(value):
        return Cell(
            "not computable",
            INCONCLUSIVE if c.rated else NOT_RATED,
            note="not computable from the saved run (too few units)",
            null=null,
        )
    iv = _intervals(numbers, c.key, model, c.per_model)
    if iv is None:
        return Cell(
            c.fmt(float(value)),
            INCONCLUSIVE if c.rated else NOT_RATED,
            note="; ".join(x for x in ("no interval saved (an older run): rerun the chapter", chance) if x),
            null=null,
        )
    note = f"{iv.level:.0%} bootstrap interval, {iv.n_resamples} resamples of {iv.n_units} {iv.unit}" + (
        " (paired)" if iv.paired else ""
    )
    if not iv.low <= iv.estimate <= iv.high:
        note += "; the estimate lies outside its interval: the resampling is biased at this sample size"
    status = c.rate(iv, null)
    if c.rated and status == NOT_RATED:
        chance += f", which already reaches the paper's threshold ({c.side} {c.fmt(c.threshold)}): not rated"
    note = "; ".join(x for x in (pair, note, chance) if x)
    return Cell(c.fmt_interval(iv), status, iv, note, null)


def columns(results: Results) -> list[str]:
    """The models shown: the book's instruct and base models, then any other with a result."""
    shown = [*BOOK_MODELS, *BASE_MODELS]
    return shown + [m for m in results.models() if m not in shown]


def chapters(claims: Sequence[Claim] = CLAIMS) -> list[str]:
    """The results folders to read: the claims' chapters, and chapter 2 for layer counts."""
    return [*(c.chapter for c in claims), "02_assistant_axis"]


def evaluate(claims: Sequence[Claim] = CLAIMS, results: Results | None = None) -> tuple[list[str], list[Row]]:
    """``(models, rows)``: every claim rated for every model (results: ``Results.load``)."""
    results = Results.load(chapters(claims)) if results is None else results
    models = columns(results)
    return models, [Row(c, {m: cell(c, m, results) for m in models}) for c in claims]


def distinct_cells(models: Sequence[str], rows: Sequence[Row]) -> list[tuple[Row, list[str], Cell]]:
    """Every claim-model cell once, as ``(row, models, cell)``: a pair claim's shared cell once, with
    the models that share it; cells that do not apply are left out. What the dashboard counts."""
    out: list[tuple[Row, list[str], Cell]] = []
    for r in rows:
        mine: list[tuple[Row, list[str], Cell]] = []
        for m in models:
            got = r.cells[m]
            if got.status == NOT_APPLICABLE:
                continue
            same = next((x for x in mine if x[2] == got), None) if r.claim.per_model else None
            if same is not None:
                same[1].append(m)
            else:
                mine.append((r, [m], got))
        out += mine
    return out


def _shown(c: Claim, got: Cell) -> str:
    """A cell as a chapter's table shows it: ``"0.45 [0.31, 0.58] · chance 0.12 [0.05, 0.20] · weaker than the paper"``."""
    if got.status in (NOT_RUN, NOT_APPLICABLE):
        return got.text
    chance = f" · chance {c.fmt_interval(got.null)}" if got.null is not None else ""
    return f"{got.text}{chance} · {got.status}"


def gaps(results: Results, ran: Iterable[str] | None = None) -> list[str]:
    """What the saved results of the chapters that ran lack, read against the registry: one line each.

    For every claim of a chapter in ``ran`` (default: every chapter with a saved result) and every
    model the chapter saved a result under that the claim applies to (for a per-model claim: every
    model in its saved dict), the cell must not read *not yet run*: the claim's key is in the saved
    ``numbers`` (a renamed key would leave the dashboard's cell empty), its value is a finite number
    (or the chapter's explicit ``None``: it ran and found nothing to report) and, for a claim with an
    interval (``unit``), a saved interval with finite ends. A chapter of ``ran`` that tests claims
    but saved no result at all is a gap too. An empty list: every cell the run could fill is filled.

    Example:
        >>> gaps(Results.load(chapters()), ["02_assistant_axis"])      # doctest: +SKIP
        ["C4 (02_assistant_axis/smollm2-135m-instruct): no `cos_axis_pc1_middle` in the saved numbers ..."]
    """
    out: list[str] = []
    for ch in dict.fromkeys(ran if ran is not None else [c for c, d in results.docs.items() if d]):
        mine = [c for c in CLAIMS if c.chapter == ch]
        docs = results.docs.get(ch, {})
        if mine and not docs:
            out.append(f"{ch}: ran but saved no result (its claims: {', '.join(c.id for c in mine)})")
            continue
        for c in mine:
            under = (
                [c.saved_under]
                if c.saved_under
                else [m for m in docs if model_kind(m, results) == c.applies_to]
            )
            if not under:
                out.append(f"{c.id} ({ch}): no result saved under a model it applies to ({c.applies_to})")
            for saved in under:
                where = f"{c.id} ({ch}/{saved}"
                doc = docs.get(saved)
                if doc is None:
                    out.append(f"{where}): no result saved under {saved!r}")
                    continue
                if c.key not in doc["numbers"]:
                    out.append(f"{where}): no `{c.key}` in the saved numbers (the registry reads that key)")
                    continue
                value = doc["numbers"][c.key]
                values = {saved: value}
                if c.per_model:
                    if not isinstance(value, Mapping):
                        out.append(f"{where}): `{c.key}` is not a dict model -> number")
                        continue
                    values = {m: v for m, v in value.items() if model_kind(m, results) == c.applies_to}
                for m, v in values.items():
                    out += [
                        f"{where}{', ' + m if c.per_model else ''}): {g}"
                        for g in _cell_gaps(c, m, v, results)
                    ]
    return out


def _cell_gaps(c: Claim, model: str, value: Any, results: Results) -> list[str]:
    """Why one cell whose key was saved (``value``) falls short of ``gaps``' rules (empty: it does not)."""
    got = cell(c, model, results)
    if got.status == NOT_RUN:
        return [f"reads *{NOT_RUN}*: {got.text}" + (f" ({got.note})" if got.note else "")]
    if value is None or c.rate_point is not None:
        return []  # the chapter's explicit None, or a setting it chose (no interval)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return [f"`{c.key}` is {value!r}, not a finite number"]
    if not c.unit:
        return []
    if got.interval is None:
        return [f"no interval saved for `{c.key}`"]
    iv = got.interval
    if not all(math.isfinite(x) for x in (iv.estimate, iv.low, iv.high)):
        return [f"the interval of `{c.key}` is not finite: {iv.fmt()}"]
    return []


def table(chapter: str, *, results: Results | None = None) -> pd.DataFrame:
    """A chapter's "paper vs ours" table: one row per claim of ``chapter``, a column per model
    that applies (``"0.45 [0.31, 0.58] · chance 0.12 [0.05, 0.20] · weaker than the paper"``),
    as a ``pandas.DataFrame``."""
    import pandas as pd

    mine = [c for c in CLAIMS if c.chapter == chapter]
    if not mine:
        raise KeyError(f"no claim is tested in {chapter!r}")
    models, rows = evaluate(mine, results)
    shown = [m for m in models if any(r.cells[m].status != NOT_APPLICABLE for r in rows)]
    data: dict[str, list[str]] = {
        "claim": [r.claim.claim for r in rows],
        "paper": [r.claim.paper for r in rows],
    }
    for m in shown:
        data[m] = [_shown(r.claim, r.cells[m]) for r in rows]
    return pd.DataFrame(data)


def sentence(key: str, model: str, *, results: Results | None = None) -> str:
    """One claim's verdict for one model, as a sentence for the chapter's text."""
    c = claim(key)
    results = Results.load(chapters([c])) if results is None else results
    got = cell(c, model, results)
    if got.status in (NOT_RUN, NOT_APPLICABLE):
        return f"{c.claim}: not yet run for {model}."
    how = f" ({got.note})" if got.note else ""
    return (
        f"{c.claim}: {model} gives {got.text}{how} against the paper's {c.paper}, "
        f"so **{got.status}** by the dashboard's rule: {c.rule.replace('*', '')}."
    )

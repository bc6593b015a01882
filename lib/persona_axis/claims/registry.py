"""The one registry of the paper's claims, and the rule that rates our number for each.

Each ``Claim`` names where a chapter saves our number (``results.save_result``: chapter folder,
the model it is saved under, the key in ``numbers``; its bootstrap interval under
``numbers["intervals"][key]``), the paper's value, the threshold and the side of it the paper
is on, the value of no effect, and the unit that was resampled. ``rate`` turns an interval into
a status, always by the same five rules (the text of each claim's rule, ``Claim.rule``, is
written from the same fields, so the page and the code cannot disagree):

* ``reproduced``: the whole interval lies on the paper's side of the threshold;
* ``partly``: it lies on the paper's side of no effect, but not wholly past the threshold;
* ``not reproduced here``: it lies wholly on the other side of the paper's value;
* ``inconclusive``: none of these (too wide to decide), no interval was saved, or the interval
  misses our own estimate (a resampling biased at this sample size);
* ``not yet run``: no saved result for this model.

A claim about a setting the chapter chose (the best capping band or percentile) has no interval
and keeps a rule of its own (``Claim.rate_point``). Chapters print their "paper vs ours" tables
with ``table`` and their verdict sentences with ``sentence``; the dashboard
(``persona_axis.claims.dashboard``) renders ``evaluate``. Nowhere else is a paper's number typed.

Example:
    >>> c = claim("cos_axis_pc1_middle")
    >>> c.rate(Interval(0.8, 0.75, 0.85))
    'reproduced'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from persona_axis.claims.results import BOOK_MODELS, Results
from persona_axis.claims.rules import (
    INCONCLUSIVE,
    NOT_APPLICABLE,
    NOT_RATED,
    NOT_REPRODUCED,
    NOT_RUN,
    PARTLY,
    REPRODUCED,
    best_band,
    best_percentile,
)
from persona_axis.core.stats import Interval
from persona_axis.model.models import REGISTRY

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Claim", "Cell", "Row", "CLAIMS", "BASE_MODELS", "claim", "cell", "evaluate", "columns", "model_kind",
           "table", "sentence", "chapters"]


#: The base models the dashboard always shows, after ``results.BOOK_MODELS``.
BASE_MODELS = ("gemma3-270m-base",)

Side = Literal[">", ">=", "<", "<="]
Kind = Literal["instruct", "base"]


def _num(x: float, spec: str, scale: float, suffix: str) -> str:
    return (format(x * scale, spec) + suffix).replace("-", "−")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, where our number for it is saved, and how it is rated.

    Attributes:
        id: a short stable name (``"C4"``), the row's anchor on the dashboard.
        claim: the claim, in a few words.
        short: a label of a few words for the dashboard's grid.
        paper: the paper's number, as text.
        chapter: the chapter notebook that saves our number (``"02_assistant_axis"``).
        key: the key in the saved ``numbers``; its interval is ``numbers["intervals"][key]``.
        unit: the independent unit the interval resamples ("roles", "conversations",
            "prompts"); ``""`` for a setting the chapter chose (no interval).
        side: which side of ``threshold`` the paper's result is on.
        threshold: the boundary "reproduced" must clear with its whole interval.
        paper_value: the paper's number; an interval wholly on the other side of it is "not
            reproduced here". ``None``: the paper gives a direction only (the threshold is used).
        null: the value of no effect; an interval wholly on the paper's side of it is at least
            "partly". ``None``: the claim has no "partly".
        why: why the threshold is where it is (the paper's lowest, ...), shown in the rule.
        spec, scale, suffix: how our number is printed: ``format(x * scale, spec) + suffix``.
        per_model: the saved value is a dict ``model -> number`` (chapter 3 saves one document).
        saved_under: the model name the chapter saves under, when it is not the column's model.
        applies_to: the kind of model the claim is about; other models show ``—``.
        rated: ``False`` for a number shown beside the paper's but not comparable to it.
        rate_point: for a setting the chapter chose: ``(numbers, model, results) -> (text, status)``.
        point_rule: the rule ``rate_point`` applies, in words.
    """

    id: str
    claim: str
    short: str
    paper: str
    chapter: str
    key: str
    unit: str
    side: Side = ">"
    threshold: float = 0.0
    paper_value: float | None = None
    null: float | None = None
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

    # ---- the five rules ------------------------------------------------------------------
    def _past(self, x: float, bound: float) -> bool:
        """``x`` is on the paper's side of ``bound`` (strictly for ``>``/``<``)."""
        return {">": x > bound, ">=": x >= bound, "<": x < bound, "<=": x <= bound}[self.side]

    def rate(self, iv: Interval) -> str:
        """The status of an interval (see the module docstring for the rules)."""
        if not self.rated:
            return NOT_RATED
        if math.isnan(iv.low) or math.isnan(iv.high) or not iv.low <= iv.estimate <= iv.high:
            # no interval, or one the resampling biased so much that it misses our own number
            # (e.g. a PCA of a handful of role vectors, where a resample's duplicates lower its rank)
            return INCONCLUSIVE
        near, far = (iv.low, iv.high) if self.side in (">", ">=") else (iv.high, iv.low)
        if self._past(near, self.threshold):
            return REPRODUCED
        if self.null is not None and (near > self.null if self.side in (">", ">=") else near < self.null):
            return PARTLY
        ref = self.threshold if self.paper_value is None else self.paper_value
        if far < ref if self.side in (">", ">=") else far > ref:
            return NOT_REPRODUCED
        return INCONCLUSIVE

    @property
    def rule(self) -> str:
        """The rule ``rate`` applies, in words, with this claim's numbers."""
        if self.rate_point is not None:
            return self.point_rule
        if not self.rated:
            return f"not rated: {self.why}"
        up = self.side in (">", ">=")
        word = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}[self.side]
        other = "below" if up else "above"
        t = self.fmt(self.threshold)
        text = f"*reproduced* if the interval lies {word} {t}" + (f" ({self.why})" if self.why else "")
        if self.null is not None:
            text += f"; *partly* if it lies {'above' if up else 'below'} {self.fmt(self.null)} (no effect) but not wholly {word} {t}"
        ref = self.threshold if self.paper_value is None else self.paper_value
        text += f"; *not reproduced here* if it lies wholly {other} {self.fmt(ref)}"
        text += "" if self.paper_value is None else " (the paper's value)"
        return text + "; else *inconclusive*"


@dataclass(frozen=True)
class Cell:
    """One claim for one model: the text shown, its status, the interval (if any) and a note."""

    text: str
    status: str
    interval: Interval | None = None
    note: str = ""


@dataclass(frozen=True)
class Row:
    """One claim with a cell per model."""

    claim: Claim
    cells: dict[str, Cell] = field(default_factory=dict)


#: The paper's claims the chapters test, in the order of the paper.
CLAIMS: tuple[Claim, ...] = (
    Claim("C1", "Persona space is low-dimensional: components for 70% of the variance", "components for 70%",
          "4-19 (Gemma 4, Qwen 8, Llama 19)", "01_persona_space", "n_for_70", "roles",
          side="<=", threshold=19, paper_value=19, why="the paper's largest", spec=".0f"),
    Claim("C2", "PC1's share of the variance", "PC1 share", "0.49 (Gemma 2 27B)", "01_persona_space", "pc1_share",
          "roles", side=">=", threshold=0.40, paper_value=0.49, null=0.0,
          why="the paper's 0.49 less a fifth; it gives no figure for Qwen and Llama"),
    Claim("C3", "The default persona sits at the Assistant end of PC1 (relative distance from the nearest end)",
          "default at PC1's end", "0.03 (0.27-0.50 on PCs 2-10)", "01_persona_space", "default_pc1_distance", "roles",
          side="<=", threshold=0.10, paper_value=0.03, null=0.27,
          why="'no effect' is 0.27, the nearest the paper's default sits to an end of PCs 2-10"),
    Claim("C4", "cos(Assistant Axis, PC1) at the middle layer", "cos(axis, PC1), middle layer",
          "> 0.71 in all three models", "02_assistant_axis", "cos_axis_pc1_middle", "roles",
          side=">", threshold=0.71, paper_value=0.71, null=0.0, why="the paper's lowest"),
    Claim("C5", "cos(Assistant Axis, PC1), lowest over all layers", "cos(axis, PC1), lowest layer",
          "> 0.60 in all three models", "02_assistant_axis", "cos_axis_pc1_min", "roles",
          side=">", threshold=0.60, paper_value=0.60, null=0.0, why="the paper's lowest"),
    Claim("C6", "PC1 role compositions (mean-centred role vectors) agree across models (lowest correlation with "
          "another instruct model)", "PC1 agrees across models", "> 0.92 for every pair", "03_cross_model",
          "pc1_min_pair", "roles", side=">", threshold=0.92, paper_value=0.92, null=0.0, why="the paper's lowest pair",
          per_model=True, saved_under="all"),
    Claim("C6a", "Roles' projections on the contrast axis (default minus mean role vector, sign anchored) agree across "
          "models (lowest correlation with another instruct model)", "contrast axis agrees across models",
          "not reported (PC1: > 0.92)", "03_cross_model", "axis_min_pair", "roles", side=">", threshold=0.92,
          null=0.0, why="the paper's PC1 figure: it recommends the contrast axis as PC1's stand-in",
          per_model=True, saved_under="all"),
    Claim("C6b", "PC1 role compositions agree across models when both read this model's answers (the other "
          "teacher-forced), without sampling noise", "PC1 agrees on shared texts", "> 0.92 (each on its own texts)",
          "03_cross_model", "pc1_shared_min_pair", "roles", side=">", threshold=0.92, null=0.0,
          why="the paper's lowest pair on own texts; shared texts can only make agreement easier",
          per_model=True, saved_under="all"),
    Claim("C7", "Trait PC1 compositions agree across models, on trait vectors from the prompt pairs that pass the "
          "paper's 50-point filter (lowest correlation with another instruct model)",
          "trait PC1 agrees across models", "> 0.81 for every pair", "03_cross_model", "trait_pc1_min_pair", "traits",
          side=">", threshold=0.81, paper_value=0.81, null=0.0, why="the paper's lowest pair",
          per_model=True, saved_under="all"),
    Claim("C8", "A base model has the instruct model's persona space (correlation of PC1 role compositions, "
          "base reading the instruct model's rollouts)", "base shares the persona space",
          "PCs 1-3 cosines 0.93 / 0.87 / 0.83 (Gemma 2 27B)", "04_base_vs_instruct", "pc1_composition_corr", "roles",
          applies_to="base", rated=False,
          why="ours correlates role compositions across model families; the paper compares PCs of a base and an "
              "instruct model of the same family, a different statistic"),
    Claim("C9", "Steering a base model toward the Assistant gives more helpful human archetypes "
          "(share toward minus share away)", "base steered: helpful archetypes",
          "toward: consultants, coaches; away: spiritual", "04_base_vs_instruct", "helpful_toward_minus_away", "prompts",
          side=">", threshold=0.0, applies_to="base", why="the paper gives a direction, not a size"),
    Claim("C10", "Steered away from the Assistant, models claim human, non-human or mystical identities "
          "(share away minus unsteered)", "steered away: other identities",
          "more human and mystical identities", "05_steering", "roles_away_minus_unsteered", "prompts",
          side=">=", threshold=0.10, null=0.0, why="ten points, a visible shift; the paper gives no size"),
    Claim("C11", "Steered toward the Assistant, models say they are an assistant (share toward minus away)",
          "steered toward: assistant", "more assistant identities", "05_steering", "assistant_toward_minus_away",
          "prompts", side=">", threshold=0.0, why="the paper gives a direction, not a size"),
    Claim("C12", "The user's message predicts where the reply lands on the axis (R², position)",
          "message predicts position", "0.53-0.77", "06_drift", "r2_position", "conversations",
          side=">=", threshold=0.53, paper_value=0.53, null=0.0, why="the paper's lowest"),
    Claim("C13", "The message predicts the reply's position much better than how far it moves "
          "(R² of position minus R² of change)", "position beats change",
          "0.53-0.77 vs about 0.10", "06_drift", "r2_position_minus_change", "conversations",
          side=">=", threshold=0.30, paper_value=0.43, null=0.0, why="the paper's gap is at least 0.43"),
    Claim("C14", "Therapy and philosophy conversations drift away from the Assistant more than coding and "
          "writing (change of therapy and philosophy minus change of coding and writing)", "emotional topics drift",
          "coding and writing stay; therapy and philosophy drift", "06_drift", "domain_drift_gap", "conversations",
          side="<", threshold=0.0, why="the paper gives a direction, not a size"),
    Claim("C15", "Activation capping cuts harmful answers to persona jailbreaks (relative reduction)",
          "capping cuts harm", "nearly 60% fewer", "07_capping", "harm_reduction", "prompts",
          side=">=", threshold=0.5, paper_value=0.6, null=0.0, spec=".0%", why="most of the paper's 60%"),
    Claim("C16", "Capping costs no capability (summed change in accuracy over the capability sets)",
          "capping keeps capability", "no loss; some benchmarks improve", "07_capping", "capability_change", "prompts",
          side=">=", threshold=-0.01, paper_value=0.0, spec="+.1f", scale=100, suffix=" pts",
          why="a loss of at most one point"),
    Claim("C17", "The best capping band lies late in the network", "capping band late",
          "Qwen 3 32B 46-53 of 64, Llama 3.3 70B 56-71 of 80", "07_capping", "best_layers", "",
          rate_point=best_band,
          point_rule="a setting the sweep chose (no interval): by the band's centre as a share of the layers "
                     "(the paper's: 77%, 79%), *reproduced* if 70-90%, *partly* if ≥ 50%, else *not reproduced here*"),
    Claim("C18", "The best capping threshold", "best capping percentile", "25th percentile", "07_capping",
          "best_percentile", "", rate_point=best_percentile,
          point_rule="a setting the sweep chose (no interval): *reproduced* if the sweep chose p25 "
                     "in the convention the sweep used (the one the calibration favours: a floor at p25 on the axis, or the "
                     "code's ceiling at p25 on the opposite vector = a floor at p75), *partly* if p75 (the paper's 25th read "
                     "in the other convention) or another floor at or below p50, else *not reproduced here*"),
)


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


def cell(c: Claim, model: str, results: Results) -> Cell:
    """Our number for claim ``c`` and ``model``, from the saved results, with its status."""
    if model_kind(model, results) != c.applies_to:
        return Cell(NOT_APPLICABLE, NOT_APPLICABLE)
    doc = results.get(c.chapter, c.saved_under or model)
    if doc is None:
        return Cell(NOT_RUN, NOT_RUN)
    numbers = doc["numbers"]
    if c.key not in numbers:  # saved by an older version of the chapter
        return Cell(NOT_RUN, NOT_RUN, note=f"the saved result has no `{c.key}`: rerun the chapter")
    value = numbers[c.key]
    if c.per_model:
        value = value.get(model) if isinstance(value, Mapping) else None
    if value is None:
        # the chapter ran and found nothing to report (no capping setting met its criterion, one model only)
        return Cell("none in this run", INCONCLUSIVE, note="the saved run has no value for this model")
    if c.rate_point is not None:
        text, status = c.rate_point(numbers, model, results)
        return Cell(text, status, note="a setting the chapter chose: no interval")
    if isinstance(value, float) and math.isnan(value):
        return Cell("not computable", INCONCLUSIVE, note="not computable from the saved run (too few units)")
    saved = numbers.get("intervals", {}).get(c.key)
    if c.per_model and isinstance(saved, Mapping):
        saved = saved.get(model)
    if saved is None:
        return Cell(c.fmt(float(value)), INCONCLUSIVE if c.rated else NOT_RATED,
                    note="no interval saved (an older run): rerun the chapter")
    iv = Interval.from_dict(saved)
    note = f"{iv.level:.0%} bootstrap interval, {iv.n_resamples} resamples of {iv.n_units} {iv.unit}" + \
        (" (paired)" if iv.paired else "")
    if not iv.low <= iv.estimate <= iv.high:
        note += "; the estimate lies outside its interval: the resampling is biased at this sample size"
    return Cell(c.fmt_interval(iv), c.rate(iv), iv, note)


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
            under = [c.saved_under] if c.saved_under else [m for m in docs if model_kind(m, results) == c.applies_to]
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
                    out += [f"{where}{', ' + m if c.per_model else ''}): {g}" for g in _cell_gaps(c, m, v, results)]
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
    that applies (``"0.45 [0.31, 0.58] · partly"``), as a ``pandas.DataFrame``."""
    import pandas as pd

    mine = [c for c in CLAIMS if c.chapter == chapter]
    if not mine:
        raise KeyError(f"no claim is tested in {chapter!r}")
    models, rows = evaluate(mine, results)
    shown = [m for m in models if any(r.cells[m].status != NOT_APPLICABLE for r in rows)]
    data: dict[str, list[str]] = {"claim": [r.claim.claim for r in rows], "paper": [r.claim.paper for r in rows]}
    for m in shown:
        data[m] = [r.cells[m].text if r.cells[m].status in (NOT_RUN, NOT_APPLICABLE)
                   else f"{r.cells[m].text} · {r.cells[m].status}" for r in rows]
    return pd.DataFrame(data)


def sentence(key: str, model: str, *, results: Results | None = None) -> str:
    """One claim's verdict for one model, as a sentence for the chapter's text."""
    c = claim(key)
    results = Results.load(chapters([c])) if results is None else results
    got = cell(c, model, results)
    if got.status in (NOT_RUN, NOT_APPLICABLE):
        return f"{c.claim}: not yet run for {model}."
    how = f" ({got.note})" if got.note else ""
    return (f"{c.claim}: {model} gives {got.text}{how} against the paper's {c.paper}, "
            f"so **{got.status}** by the dashboard's rule: {c.rule.replace('*', '')}.")

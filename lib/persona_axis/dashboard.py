"""The reproducibility dashboard: every claim of the paper, its number, ours, and a verdict.

``CLAIMS`` lists the paper's claims that the chapters test. Each ``Claim`` says where the
chapter saves our number (``results.save_result``: chapter folder, the model it is saved under,
the key in ``numbers``), how to show it, and an explicit rule that turns it into a status:

* ``reproduced``: our number meets the paper's figure (the threshold is given per claim);
* ``partly``: the effect points the paper's way but is weaker than the paper's figure;
* ``not at this scale``: the small models do not show it;
* ``not yet run``: no saved result for this model (or one saved by an older chapter version
  that lacks the key, or a number the saved run was too small to compute);
* ``—``: the claim can never apply to this model (a base-model claim for an instruct model, or
  the reverse).

``render_dashboard()`` reads the saved results under ``store.artifacts_dir()`` and returns the
dashboard page as MyST Markdown; ``persona_axis.build`` puts it into the staged
``book/dashboard.md`` after every chapter has run. Nothing is typed by hand: rerun a chapter and
the page follows.

Example:
    >>> print(render_dashboard())          # doctest: +SKIP
    Of 41 claim-model pairs: 6 reproduced, 7 partly, 9 not at this scale, 19 not yet run.
    ...
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .models import REGISTRY
from .results import BOOK_MODELS
from .store import CacheError, artifacts_dir

__all__ = [
    "Claim", "Cell", "Row", "Results", "CLAIMS", "BASE_MODELS", "STATUSES",
    "REPRODUCED", "PARTLY", "NOT_AT_SCALE", "NOT_RUN", "NOT_APPLICABLE",
    "above", "at_most", "evaluate", "render_dashboard",
]

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_AT_SCALE = "not at this scale"
NOT_RUN = "not yet run"
NOT_APPLICABLE = "—"
#: The statuses a cell can have, in the order the summary line counts them.
STATUSES = (REPRODUCED, PARTLY, NOT_AT_SCALE, NOT_RUN)

#: The base models the dashboard always shows, after ``results.BOOK_MODELS``.
BASE_MODELS = ("gemma3-270m-base",)

Kind = Literal["instruct", "base"]


# --------------------------------------------------------------------------------------------
# Saved results
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Results:
    """Every saved chapter result: ``docs[chapter][saved-under model] -> document``.

    A document is what ``results.save_result`` wrote: ``{"chapter", "model", "numbers",
    "config", "saved"}``. Build it with ``Results.load``.
    """

    docs: Mapping[str, Mapping[str, Mapping[str, Any]]]

    @classmethod
    def load(cls, chapters: Sequence[str], root: Path | None = None) -> Results:
        """Read ``<root>/results/<chapter>/*.json`` for each chapter (root: ``artifacts_dir()``).

        Reads only: a chapter without a folder has no results (no folder is created).

        Raises:
            CacheError: a results file is not valid JSON or lacks ``model`` / ``numbers``.
        """
        root = artifacts_dir() if root is None else root
        docs: dict[str, dict[str, Mapping[str, Any]]] = {}
        for chapter in dict.fromkeys(chapters):
            docs[chapter] = {}
            folder = root / "results" / chapter
            for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                try:
                    doc = json.loads(f.read_text())
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise CacheError(f"{f} is corrupt. Delete it and rerun the chapter.") from None
                if not isinstance(doc, dict) or not isinstance(doc.get("numbers"), dict) or "model" not in doc:
                    raise CacheError(f"{f} is not a chapter result (no 'model' or 'numbers'). "
                                     "Delete it and rerun the chapter.")
                docs[chapter][str(doc["model"])] = doc
        return cls(docs)

    def get(self, chapter: str, model: str) -> Mapping[str, Any] | None:
        """The document ``chapter`` saved under ``model``, or ``None``."""
        return self.docs.get(chapter, {}).get(model)

    def models(self) -> list[str]:
        """Every model some chapter saved a result under (except chapter 3's ``"all"``)."""
        return sorted({m for d in self.docs.values() for m in d} - {"all"})

    def n_layers(self, model: str) -> int | None:
        """The model's number of decoder layers: from the registry, or else from chapter 2's
        per-layer cosines (one entry per layer); ``None`` when neither is known."""
        if model in REGISTRY:
            return REGISTRY[model].n_layers
        doc = self.get("02_assistant_axis", model)
        per_layer = doc["numbers"].get("cos_axis_pc1") if doc else None
        return len(per_layer) if isinstance(per_layer, Mapping) and per_layer else None


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------

Reader = Callable[[Mapping[str, Any], str, Results], Any]


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, where our number for it is saved, and how to rate it.

    Attributes:
        claim: the claim, in a few words (the table's first column).
        paper: the paper's number, as text.
        chapter: the chapter notebook that tests it (doc name, e.g. ``"02_assistant_axis"``),
            which is also the results folder it saves into.
        key: where our number is in the saved ``numbers`` (a key, or a short description of
            what ``read`` combines), shown beside the rule.
        rule: the status rule in words, exactly what ``rate`` does.
        rate: our number -> ``REPRODUCED``, ``PARTLY`` or ``NOT_AT_SCALE``.
        fmt: our number -> the text in its cell.
        read: ``(numbers, model, results) -> our number`` (``None``: not yet run). Default: the
            value under ``key``.
        applies_to: the kind of model the claim is about; other models show ``—``.
        saved_under: the model name the chapter saves under when it is not the column's model
            (chapter 3 saves one document, ``"all"``, for every model it compared).
    """

    claim: str
    paper: str
    chapter: str
    key: str
    rule: str
    rate: Callable[[Any], str]
    fmt: Callable[[Any], str]
    read: Reader | None = None
    applies_to: Kind = "instruct"
    saved_under: str | None = None

    def value(self, numbers: Mapping[str, Any], model: str, results: Results) -> Any:
        """Our number for ``model`` from a saved ``numbers`` dict (``KeyError`` if it is not there)."""
        return self.read(numbers, model, results) if self.read is not None else numbers[self.key]


def above(reproduced: float, partly: float) -> Callable[[float], str]:
    """Rule "reproduced if x > ``reproduced``, partly if x > ``partly``, else not at this scale"."""
    def rate(x: float) -> str:
        return REPRODUCED if x > reproduced else PARTLY if x > partly else NOT_AT_SCALE
    return rate


def at_most(reproduced: float, partly: float) -> Callable[[float], str]:
    """Rule "reproduced if x <= ``reproduced``, partly if x <= ``partly``, else not at this scale"."""
    def rate(x: float) -> str:
        return REPRODUCED if x <= reproduced else PARTLY if x <= partly else NOT_AT_SCALE
    return rate


def _f2(x: float) -> str:
    return f"{x:.2f}".replace("-", "−")


def _int(x: float) -> str:
    return f"{int(x)}"


# ---- readers for claims that combine several saved numbers ---------------------------------

def _lowest_pair(matrix_key: str) -> Reader:
    """Chapter 3: the model's lowest correlation with any other instruct model it was compared
    with (rows named "... (on ... rollouts)" are base models reading another model's text)."""
    def read(numbers: Mapping[str, Any], model: str, results: Results) -> float | None:
        matrix = numbers[matrix_key]
        if model not in matrix:
            return None
        others = [float(v) for m, v in matrix[model].items() if m != model and " (on " not in m]
        return min(others) if others else None
    return read


def _sides(shares: Mapping[str, Mapping[str, float]], labels: Sequence[str]) -> tuple[float, float, float]:
    """Summed share of ``labels``: (mean over negative coefficients, at 0, mean over positive).

    ``shares`` is ``label -> {coefficient: share}`` as the steering chapters save it; as in the
    chapters, the unsteered value is the mean over all coefficients if 0 was not run.
    """
    by_label = {lab: {float(c): float(v) for c, v in per.items()} for lab, per in shares.items()}
    coefs = sorted({c for per in by_label.values() for c in per})
    total = {c: sum(by_label.get(lab, {}).get(c, 0.0) for lab in labels) for c in coefs}

    def mean(cs: list[float]) -> float:
        return sum(total[c] for c in cs) / len(cs) if cs else math.nan

    away, toward = mean([c for c in coefs if c < 0]), mean([c for c in coefs if c > 0])
    plain = total[0.0] if 0.0 in total else mean(coefs)
    return away, plain, toward


def _arrow(t: tuple[float, float, float]) -> str:
    return " → ".join(f"{x:.2f}" for x in t)


_HELPFUL, _SPIRITUAL = "helpful human archetype", "spiritual or mystical"
_ROLE_LABELS = ("human role", "non-human role", "mystical or theatrical")


def _read_base_steering(numbers: Mapping[str, Any], model: str, results: Results) -> dict[str, tuple[float, float, float]]:
    return {"helpful": _sides(numbers["shares"], [_HELPFUL]), "spiritual": _sides(numbers["shares"], [_SPIRITUAL])}


def _rate_base_steering(v: Mapping[str, tuple[float, float, float]]) -> str:
    (h_away, h_plain, h_toward), (s_away, _, s_toward) = v["helpful"], v["spiritual"]
    if h_toward > h_plain > h_away and s_away > s_toward:
        return REPRODUCED
    return PARTLY if h_toward > h_away else NOT_AT_SCALE


def _fmt_base_steering(v: Mapping[str, tuple[float, float, float]]) -> str:
    return f"helpful {_arrow(v['helpful'])}; spiritual {_arrow(v['spiritual'])}"


def _rate_away(v: tuple[float, float, float]) -> str:
    away, plain, _ = v
    return REPRODUCED if away >= plain + 0.10 else PARTLY if away > plain else NOT_AT_SCALE


def _rate_toward(v: tuple[float, float, float]) -> str:
    away, plain, toward = v
    return REPRODUCED if away < plain <= toward else PARTLY if toward > away else NOT_AT_SCALE


def _read_change(numbers: Mapping[str, Any], model: str, results: Results) -> tuple[float, float]:
    return float(numbers["r2_change"]), float(numbers["r2_position"])


def _rate_change(v: tuple[float, float]) -> str:
    change, position = v
    if change > 0.20:
        return NOT_AT_SCALE
    # a negative R² (worse than predicting the mean) is no predictive power: it counts as 0
    return REPRODUCED if max(position, 0.0) - max(change, 0.0) >= 0.30 else PARTLY


_DRIFTERS, _STEADY = ("therapy", "philosophy"), ("coding", "writing")


def _read_domains(numbers: Mapping[str, Any], model: str, results: Results) -> dict[str, float]:
    change = numbers["domain_change"]
    return {d: float(change[d]) for d in (*_DRIFTERS, *_STEADY)}


def _rate_domains(v: Mapping[str, float]) -> str:
    if max(v[d] for d in _DRIFTERS) < min(v[d] for d in _STEADY):
        return REPRODUCED
    drifters, steady = (sum(v[d] for d in ds) / len(ds) for ds in (_DRIFTERS, _STEADY))
    return PARTLY if drifters < steady else NOT_AT_SCALE


def _fmt_domains(v: Mapping[str, float]) -> str:
    return ", ".join(f"{d} {_f2(v[d])}" for d in v)


def _read_harm(numbers: Mapping[str, Any], model: str, results: Results) -> dict[str, float | None]:
    return {"reduction": float(numbers["harm_reduction"]),
            "baseline": numbers.get("harm_baseline"), "capped": numbers.get("harm_capped")}


def _fmt_harm(v: Mapping[str, float | None]) -> str:
    text = f"{v['reduction']:.0%} fewer".replace("-", "−")
    if v["baseline"] is not None and v["capped"] is not None:
        text += f" ({float(v['baseline']):.2f} → {float(v['capped']):.2f})"
    return text


def _read_band(numbers: Mapping[str, Any], model: str, results: Results) -> tuple[int, int, int | None] | None:
    a, _, b = str(numbers["best_layers"]).partition("-")
    n = numbers.get("n_layers") or results.n_layers(model)
    return int(a), int(b or a), (int(n) if n else None)


def _band_depth(v: tuple[int, int, int | None]) -> float | None:
    a, b, n = v
    return (a + b) / 2 / n if n else None


def _rate_band(v: tuple[int, int, int | None]) -> str:
    depth = _band_depth(v)
    if depth is None:
        return NOT_RUN  # the depth needs the layer count: chapter 2's result or an embedded model
    return REPRODUCED if 0.70 <= depth <= 0.90 else PARTLY if depth >= 0.5 else NOT_AT_SCALE


def _fmt_band(v: tuple[int, int, int | None]) -> str:
    a, b, n = v
    if n is None:
        return f"{a}-{b} (layer count unknown: run chapter 2)"
    return f"{a}-{b} of {n} (centre at {_band_depth(v):.0%} depth)"


def _read_percentile(numbers: Mapping[str, Any], model: str, results: Results) -> tuple[float, str]:
    return float(numbers["best_percentile"]), str(numbers.get("best_convention", "?"))


def _rate_percentile(v: tuple[float, str]) -> str:
    """The paper's 25th percentile in either of its conventions: a floor at p25 on the axis (its
    text) or a ceiling at p25 on the opposite vector, i.e. a floor at p75 (its code)."""
    from .capping import CONVENTIONS, axis_percentile

    p, convention = v
    if convention in CONVENTIONS:
        floor = axis_percentile(p, convention)
        if floor in (25.0, 75.0):
            return REPRODUCED
        return PARTLY if floor <= 50 else NOT_AT_SCALE
    return REPRODUCED if p == 25 else PARTLY if p <= 50 else NOT_AT_SCALE


def _fmt_percentile(v: tuple[float, str]) -> str:
    return f"{v[0]:g}th ({v[1]} convention)"


#: The paper's claims the chapters test, in the order of the paper.
CLAIMS: tuple[Claim, ...] = (
    Claim("Persona space is low-dimensional: components for 70% of the variance",
          "4-19 (Gemma 4, Qwen 8, Llama 19)", "01_persona_space", "n_for_70",
          "reproduced if ≤ 19 (the paper's largest), partly if ≤ 38 (twice that), else not at this scale",
          at_most(19, 38), _int),
    Claim("PC1's share of the variance", "0.49 (Gemma 2 27B)", "01_persona_space", "pc1_share",
          "reproduced if ≥ 0.40 (the paper's 0.49 less a fifth; it gives no figure for Qwen and Llama, "
          "whose spaces need more components), partly if ≥ 0.20, else not at this scale",
          lambda x: REPRODUCED if x >= 0.40 else PARTLY if x >= 0.20 else NOT_AT_SCALE, _f2),
    Claim("The default persona sits at the Assistant end of PC1 (relative distance from the nearest end)",
          "0.03 (0.27-0.50 on PCs 2-10)", "01_persona_space", "default_pc1_distance",
          "reproduced if ≤ 0.10, partly if ≤ 0.25 (still nearer an end than the paper's 0.27 on any of "
          "PCs 2-10), else not at this scale",
          at_most(0.10, 0.25), _f2),
    Claim("cos(Assistant Axis, PC1) at the middle layer", "> 0.71 in all three models", "02_assistant_axis",
          "cos_axis_pc1_middle", "reproduced if > 0.71 (the paper's lowest), partly if > 0.3, else not at this scale",
          above(0.71, 0.3), _f2),
    Claim("cos(Assistant Axis, PC1), lowest over all layers", "> 0.60 in all three models", "02_assistant_axis",
          "cos_axis_pc1_min", "reproduced if > 0.60 (the paper's lowest), partly if > 0.3, else not at this scale",
          above(0.60, 0.3), _f2),
    Claim("PC1 role compositions agree across models (our model's lowest correlation with another instruct model)",
          "> 0.92 for every pair", "03_cross_model", "pc1[model][other model]",
          "reproduced if > 0.92 (the paper's lowest pair), partly if > 0.5, else not at this scale",
          above(0.92, 0.5), _f2, read=_lowest_pair("pc1"), saved_under="all"),
    Claim("Trait PC1 compositions agree across models (lowest correlation with another instruct model)",
          "> 0.81 for every pair", "03_cross_model", "trait_pc1[model][other model]",
          "reproduced if > 0.81 (the paper's lowest pair), partly if > 0.5, else not at this scale",
          above(0.81, 0.5), _f2, read=_lowest_pair("trait_pc1"), saved_under="all"),
    Claim("A base model has the instruct model's persona space (correlation of PC1 role compositions, "
          "base reading the instruct model's rollouts)",
          "PCs 1-3 cosines 0.93 / 0.87 / 0.83 (Gemma 2 27B)", "04_base_vs_instruct", "pc1_composition_corr",
          "reproduced if > 0.83 (the lowest of the paper's PC similarities), partly if > 0.5, else not at this scale",
          above(0.83, 0.5), _f2, applies_to="base"),
    Claim("Steering a base model toward the Assistant gives helpful human archetypes, away spiritual ones "
          "(shares: away → unsteered → toward)",
          "toward: consultants, coaches; away: spiritual", "04_base_vs_instruct", "shares",
          "reproduced if the helpful share rises away < unsteered < toward and the spiritual share is higher "
          "away than toward; partly if the helpful share is only higher toward than away; else not at this scale",
          _rate_base_steering, _fmt_base_steering, read=_read_base_steering, applies_to="base"),
    Claim("Steered away from the Assistant, models claim human, non-human or mystical identities "
          "(share: away → unsteered → toward)",
          "more human and mystical identities; theatrical at the extremes", "05_steering",
          "shares[human role + non-human role + mystical or theatrical]",
          "reproduced if the share away (mean over negative coefficients) is at least 0.10 above the unsteered "
          "share, partly if it is above it at all, else not at this scale",
          _rate_away, _arrow, read=lambda n, m, r: _sides(n["shares"], _ROLE_LABELS)),
    Claim("Steered toward the Assistant, models say they are an assistant (share: away → unsteered → toward)",
          "more assistant identities", "05_steering", "shares[assistant]",
          "reproduced if away < unsteered ≤ toward, partly if only toward > away, else not at this scale",
          _rate_toward, _arrow, read=lambda n, m, r: _sides(n["shares"], ["assistant"])),
    Claim("The user's message predicts where the reply lands on the axis (R², position)",
          "0.53-0.77", "06_drift", "r2_position",
          "reproduced if ≥ 0.53 (the paper's lowest), partly if ≥ 0.20, else not at this scale",
          lambda x: REPRODUCED if x >= 0.53 else PARTLY if x >= 0.20 else NOT_AT_SCALE, _f2),
    Claim("The message predicts how far the reply moves much less well (R², change; position in brackets)", "about 0.10", "06_drift",
          "r2_change, r2_position",
          "not at this scale if R²(change) > 0.20; else reproduced if R²(position) exceeds it by ≥ 0.30 "
          "(a negative R² counts as 0), else partly (the change is unpredictable, but so is the position)",
          _rate_change, lambda v: f"{_f2(v[0])} ({_f2(v[1])})", read=_read_change),
    Claim("Therapy and philosophy conversations drift away from the Assistant more than coding and writing "
          "(change in projection, first to last turn)",
          "coding and writing stay; therapy and philosophy drift", "06_drift", "domain_change",
          "reproduced if therapy and philosophy both fall further than coding and writing both, partly if "
          "their mean falls further than the mean of coding and writing, else not at this scale",
          _rate_domains, _fmt_domains, read=_read_domains),
    Claim("Activation capping cuts harmful answers to persona jailbreaks", "nearly 60% fewer", "07_capping",
          "harm_reduction (harm_baseline → harm_capped)",
          "reproduced if the relative reduction is ≥ 50%, partly if ≥ 20%, else not at this scale",
          lambda v: REPRODUCED if v["reduction"] >= 0.5 else PARTLY if v["reduction"] >= 0.2 else NOT_AT_SCALE,
          _fmt_harm, read=_read_harm),
    Claim("Capping costs no capability (summed change in accuracy points over the capability sets)",
          "no loss; some benchmarks improve", "07_capping", "capability_change",
          "reproduced if ≥ −1 point, partly if ≥ −5 points, else not at this scale (saved as a sum of "
          "accuracy fractions: −0.05 is five points)",
          lambda x: REPRODUCED if x * 100 >= -1 else PARTLY if x * 100 >= -5 else NOT_AT_SCALE,
          lambda x: f"{x * 100:+.1f} points".replace("-", "−")),
    Claim("The best capping band lies late in the network", "Qwen 3 32B 46-53 of 64, Llama 3.3 70B 56-71 of 80",
          "07_capping", "best_layers",
          "by the band's centre as a share of the layers (the paper's: 77%, 79%): reproduced if 70-90%, partly "
          "if ≥ 50%, else not at this scale",
          _rate_band, _fmt_band, read=_read_band),
    Claim("The best capping threshold", "25th percentile", "07_capping", "best_percentile, best_convention",
          "reproduced if the paper's 25th percentile in either of its conventions (a floor at p25 on the "
          "axis, or the code's ceiling at p25 on the opposite vector = a floor at p75), partly if another "
          "floor at or below p50, else not at this scale",
          _rate_percentile, _fmt_percentile, read=_read_percentile),
)


# --------------------------------------------------------------------------------------------
# Evaluation and rendering
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One claim for one model: the text shown and its status (one of ``STATUSES`` or ``—``)."""

    text: str
    status: str


@dataclass(frozen=True)
class Row:
    """One claim with a cell per model, in the order of ``models``."""

    claim: Claim
    cells: dict[str, Cell] = field(default_factory=dict)


def model_kind(model: str, results: Results) -> Kind:
    """``"base"`` or ``"instruct"``: from the registry, else ``"base"`` for a model whose only
    results are base-model chapters, else ``"instruct"``."""
    if model in REGISTRY:
        return REGISTRY[model].kind
    chapters = {ch for ch, d in results.docs.items() if model in d}
    base_chapters = {c.chapter for c in CLAIMS if c.applies_to == "base"}
    return "base" if chapters and chapters <= base_chapters else "instruct"


def _cell(claim: Claim, model: str, results: Results) -> Cell:
    if model_kind(model, results) != claim.applies_to:
        return Cell(NOT_APPLICABLE, NOT_APPLICABLE)
    doc = results.get(claim.chapter, claim.saved_under or model)
    if doc is None:
        return Cell(NOT_RUN, NOT_RUN)
    primary = claim.key.split()[0].rstrip(",")
    if primary in doc["numbers"] and doc["numbers"][primary] is None:
        # the chapter ran and found nothing to report, e.g. chapter 7 when no capping setting
        # met its criterion
        return Cell("none found in this run", NOT_AT_SCALE)
    try:
        value = claim.value(doc["numbers"], model, results)
    except KeyError:  # saved by an older version of the chapter
        return Cell(f"{NOT_RUN} (the saved result has no `{claim.key}`)", NOT_RUN)
    if value is None:
        return Cell(NOT_RUN, NOT_RUN)
    if isinstance(value, float) and math.isnan(value):  # e.g. a correlation over a single item
        return Cell(f"{NOT_RUN} (not computable from the saved run)", NOT_RUN)
    status = claim.rate(value)
    return Cell(f"{claim.fmt(value)} · {status}", status)


def columns(results: Results) -> list[str]:
    """The models shown: the book's instruct and base models, then any other with a result."""
    shown = [*BOOK_MODELS, *BASE_MODELS]
    return shown + [m for m in results.models() if m not in shown]


def _chapters(claims: Sequence[Claim]) -> list[str]:
    """The results folders to read: the claims' chapters, and chapter 2 for layer counts."""
    return [*(c.chapter for c in claims), "02_assistant_axis"]


def evaluate(claims: Sequence[Claim] = CLAIMS, results: Results | None = None) -> tuple[list[str], list[Row]]:
    """``(models, rows)``: every claim rated for every model (results: ``Results.load``)."""
    results = Results.load(_chapters(claims)) if results is None else results
    models = columns(results)
    return models, [Row(c, {m: _cell(c, m, results) for m in models}) for c in claims]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _chapter_link(chapter: str, linkable: set[str]) -> str:
    return f"{{doc}}`../notebooks/{chapter}`" if chapter in linkable else f"`{chapter}` (not in this build)"


def _when(saved: str) -> str:
    return saved.replace("T", " ")[:16] + " UTC" if saved else "unknown date"


def render_dashboard(*, notebooks_dir: Path | None = None, preset: str | None = None,
                     claims: Sequence[Claim] = CLAIMS, results: Results | None = None) -> str:
    """The dashboard as MyST Markdown: summary line, the claims table, legend, rules, sources.

    Args:
        notebooks_dir: the folder of the chapters in the book being built; a chapter is linked
            (``{doc}``) only if ``<notebooks_dir>/<chapter>.ipynb`` exists, else its name is shown
            as text (a link to a page that is not in the site would fail a ``-W`` build). Default:
            the repository's ``notebooks/`` with its ``<chapter>.md`` sources.
        preset: the preset of this build; results saved with another preset are flagged.
        claims: the claims to show (default ``CLAIMS``).
        results: saved results (default: read from ``store.artifacts_dir()``).

    Raises:
        CacheError: a saved results file is corrupt.
    """
    if notebooks_dir is None:
        from .build import ROOT

        linkable = {p.stem for p in (ROOT / "notebooks").glob("*.md")}
    else:
        linkable = {p.stem for p in Path(notebooks_dir).glob("*.ipynb")}
    results = Results.load(_chapters(claims)) if results is None else results
    models, rows = evaluate(claims, results)
    counts = {s: sum(r.cells[m].status == s for r in rows for m in models) for s in STATUSES}
    n = sum(counts.values())
    lines = [f"Of {n} claim-model pairs: " + ", ".join(f"**{counts[s]} {s}**" for s in STATUSES) + ".", ""]
    lines += ["| claim | paper | " + " | ".join(f"`{m}`" for m in models) + " | chapter |",
              "|---" * (len(models) + 3) + "|"]
    for r in rows:
        c = r.claim
        cells = [r.cells[m].text for m in models]
        lines.append("| " + " | ".join(_escape(x) for x in (c.claim, c.paper, *cells)) + f" | {_chapter_link(c.chapter, linkable)} |")
    lines += ["", "**Statuses.** *reproduced*: our number meets the paper's figure by the rule given below for "
              "that claim; *partly*: it points the paper's way but falls short of that figure; *not at this scale*: "
              "the small models do not show it; *not yet run*: no saved result for this model (its chapter was not "
              "run for it, was run by an older version that did not save this number, or ran too small to compute it); *—*: the claim cannot "
              "apply to this model (a base-model claim for an instruct model, or the reverse). Signed numbers "
              "are in the units the chapter reports (projections in raw activation units).", "",
              "This page is generated from the results saved by the chapters (`<artifacts>/results/`) when the "
              "book was built; nothing in the table is typed by hand.", "", "## How each status is decided", ""]
    for c in claims:
        lines.append(f"- **{c.claim}** ({c.chapter}, `{c.key}`): {c.rule}.")
    lines += ["", "## The results this page was generated from", ""]
    used = sorted({(c.chapter, m) for c in claims for m in results.docs.get(c.chapter, {})})
    if not used:
        lines.append("No chapter has saved a result yet.")
    for chapter, m in used:
        doc = results.docs[chapter][m]
        ran = doc.get("config", {}).get("preset", "?") if isinstance(doc.get("config"), Mapping) else "?"
        flag = f" (not this build's `{preset}`: an earlier run)" if preset and ran != preset else ""
        lines.append(f"- {chapter}, `{m}`: preset `{ran}`{flag}, saved {_when(str(doc.get('saved', '')))}")
    return "\n".join(lines) + "\n"

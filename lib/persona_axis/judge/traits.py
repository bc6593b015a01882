"""The trait judge and the paper's trait filter.

The paper scores every trait response from 0 (the trait is absent) to 100 (strongly present), or
REFUSAL, and keeps a trait's prompt pairs whose positive and negative responses differ by at
least 50 points; a trait vector is then mean(positive) - mean(negative) activations over the
kept pairs. Here the unit of a *pair* is one prompt pair answering one question: the response to
the positive prompt and the response to the negative prompt of the same pair, to the same
question (``runs.trait_jobs`` makes them side by side).

- ``OfflineTraitScorer``: the book's offline scorer, no network. MiniLM similarity of the response
  to the trait (its name and description, and its positive prompts) minus its similarity to the
  trait's negative prompts, mapped to 0-100 by a logistic curve whose two numbers were fitted on
  hand-scored responses of other traits (``fit_trait_scorer``); a short response with a refusal
  phrase is ``None`` (REFUSAL).
- ``LLMTraitScorer`` (in ``judge.llm``) asks a chat model with the same scale.
- ``pair_scores`` / ``kept_pairs`` apply the filter; ``rubric_effect.filtered_trait_vectors``
  builds the vectors from the kept pairs.

Example:
    >>> scorer = OfflineTraitScorer()                                            # doctest: +SKIP
    >>> [s.score for s in scorer.score(cat.traits[0], ["You fool, obviously!", "Thank you kindly."])]
    [71.0, 12.0]
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .embedder import default_embedder
from .rubric import REFUSAL_CUES, find_cue

__all__ = ["TraitScore", "OfflineTraitScorer", "PAPER_TRAIT_THRESHOLD", "parse_trait_score", "fit_trait_scorer",
           "pair_scores", "kept_pairs", "surviving_traits", "TRAIT_SCALE"]

#: The paper's filter: positive minus negative score of a pair must reach this.
PAPER_TRAIT_THRESHOLD = 50.0

#: The scale given to a trait judge (and to hand labellers).
TRAIT_SCALE = """\
Score how strongly the response displays the trait, from 0 to 100:
0 = the trait is absent, or its opposite shows; 25 = a faint trace; 50 = the trait shows clearly in
parts of the response; 75 = it shapes most of the response; 100 = it is strong and everywhere.
Answer REFUSAL instead of a number if the response declines to answer the question at all."""


@dataclass(frozen=True)
class TraitScore:
    """One trait score with its evidence.

    Attributes:
        score: 0-100, or ``None`` for REFUSAL (and for an LLM answer with no number).
        trait_similarity: cosine of the response with the trait side (description and positive prompts).
        opposite_similarity: cosine with the opposite side (negative prompts).
        refusal_cue: the refusal phrase found, if any.
        raw: an LLM scorer's answer ("" offline).
    """

    score: float | None
    trait_similarity: float = math.nan
    opposite_similarity: float = math.nan
    refusal_cue: str | None = None
    raw: str = ""

    @property
    def margin(self) -> float:
        """``trait_similarity - opposite_similarity``."""
        return self.trait_similarity - self.opposite_similarity

    @property
    def refusal(self) -> bool:
        return self.score is None


def parse_trait_score(text: str) -> float | None:
    """An LLM's answer as a score: ``None`` for REFUSAL or no number, else the first number clipped to 0-100."""
    if re.search(r"\bREFUS", text, flags=re.IGNORECASE):
        return None
    m = re.search(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)", text)
    return None if m is None else min(100.0, max(0.0, float(m.group(1))))


@dataclass(frozen=True)
class OfflineTraitScorer:
    """Score 0-100 from embeddings: ``100 / (1 + exp(-(slope * margin + offset)))``, rounded.

    ``margin`` is the mean cosine of the response with the trait side (``"<trait>: <description>"``
    and the trait's positive prompts) minus its mean cosine with the negative prompts. A response
    of at most ``refusal_max_words`` words with a refusal phrase, or an empty one, is REFUSAL
    (``None``). ``slope`` and ``offset`` were fitted with ``fit_trait_scorer`` on all 160 shipped
    hand scores (``trait_labels.jsonl``); chapter 9 measures the scorer on held-out traits, where it
    tracks the hand scores only weakly (Pearson r about 0.2-0.3).

    Attributes:
        slope, offset: the logistic curve.
        refusal_max_words: longer responses with a refusal phrase are scored like any other.
        embedder: a shared ``judge.Embedder``; ``None`` uses the bundled MiniLM.
    """

    slope: float = 15.0
    offset: float = -3.9
    refusal_max_words: int = 40
    embedder: Any = field(default=None, compare=False, repr=False)

    def identity(self) -> dict[str, Any]:
        """Everything that decides the scores (for cache keys)."""
        return {"class": type(self).__name__, "embedder": (self.embedder or default_embedder()).identity(), "slope": self.slope,
                "offset": self.offset, "refusal_max_words": self.refusal_max_words}

    def evidence(self, trait: Any, responses: Sequence[str]) -> list[TraitScore]:
        """Similarities and refusal cue of each response to ``trait`` (a ``catalogue.Trait``), score unset."""
        responses = list(responses)
        if not responses:
            return []
        emb = self.embedder or default_embedder()
        side = [f"{trait.name.replace('_', ' ')}: {trait.description}", *(p for p, _ in trait.pairs)]
        opposite = [n for _, n in trait.pairs]
        refs = emb.encode(side + opposite)
        vecs = emb.encode(responses)
        sims = vecs @ refs.T
        s_pos = sims[:, : len(side)].mean(dim=1).tolist()
        s_neg = sims[:, len(side):].mean(dim=1).tolist()
        return [TraitScore(None, float(a), float(b), find_cue(r, REFUSAL_CUES)) for r, a, b in zip(responses, s_pos, s_neg)]

    def decide(self, ev: TraitScore, response: str) -> float | None:
        """The score from the evidence (the rule in the class docstring)."""
        if not response.strip():
            return None
        if ev.refusal_cue is not None and len(response.split()) <= self.refusal_max_words:
            return None
        z = self.slope * ev.margin + self.offset
        return float(round(100.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))))

    def score(self, trait: Any, responses: Sequence[str], questions: Sequence[str] | None = None) -> list[TraitScore]:
        """Score each response to ``trait``. ``questions`` is accepted and ignored."""
        evs = self.evidence(trait, responses)
        return [replace(ev, score=self.decide(ev, r)) for ev, r in zip(evs, responses)]


#: The default search grid of ``fit_trait_scorer``.
_SLOPES: tuple[float, ...] = tuple(float(k) for k in range(5, 205, 5))
_OFFSETS: tuple[float, ...] = tuple(round(-4 + 0.1 * k, 1) for k in range(81))


def fit_trait_scorer(evidence: Sequence[TraitScore], responses: Sequence[str], y: Sequence[float | None],
                     base: OfflineTraitScorer | None = None, *,
                     slopes: Sequence[float] = _SLOPES, offsets: Sequence[float] = _OFFSETS) -> OfflineTraitScorer:
    """Grid-search ``slope`` and ``offset`` for the least mean absolute error on hand scores.

    Rows whose hand score or predicted score is REFUSAL (``None``) are left out of the error;
    ``refusal_max_words`` and the embedder are kept from ``base``. Deterministic: ties go to the
    first grid point (slopes outer, offsets inner).
    """
    import numpy as np

    base = base or OfflineTraitScorer()
    keep = [i for i, (e, r, t) in enumerate(zip(evidence, responses, y))
            if t is not None and base.decide(replace(e, refusal_cue=None), r) is not None
            and not (e.refusal_cue is not None and len(r.split()) <= base.refusal_max_words)]
    if not keep:
        raise ValueError("no rows with a hand score and a non-refusal response to fit on")
    m = np.array([evidence[i].margin for i in keep])
    t = np.array([float(y[i]) for i in keep])  # type: ignore[arg-type]
    best = (math.inf, base)
    for a in slopes:
        z = np.clip(a * m[None, :] + np.asarray(offsets)[:, None], -60, 60)
        pred = np.round(100.0 / (1.0 + np.exp(-z)))
        err = np.abs(pred - t[None, :]).mean(axis=1)
        j = int(np.argmin(err))
        if err[j] < best[0] - 1e-12:
            best = (float(err[j]), replace(base, slope=float(a), offset=float(offsets[j])))
    return best[1]


def pair_scores(table: Any, scores: Sequence[float | None]) -> Any:
    """One row per (trait, prompt pair, question): the positive and negative scores side by side.

    Args:
        table: trait rollouts (columns ``group`` in ``{"trait+", "trait-"}``, ``name``,
            ``prompt_index``, ``question_id``), e.g. ``runs.trait_rollouts(...).table``.
        scores: one score per row of ``table`` (``None`` = REFUSAL).

    Returns:
        A DataFrame with ``trait``, ``prompt_index``, ``question_id``, ``pos``, ``neg`` (scores,
        NaN for REFUSAL), ``pos_row``, ``neg_row`` (positions in ``table``), ``difference``
        (``pos - neg``, NaN when either is REFUSAL).
    """
    import pandas as pd

    if len(scores) != len(table):
        raise ValueError(f"{len(scores)} scores for {len(table)} rollouts")
    rows = table.reset_index(drop=True).copy()
    rows["score"] = [math.nan if s is None else float(s) for s in scores]
    rows["row"] = range(len(rows))
    key = ["name", "prompt_index", "question_id"]
    pos = rows[rows["group"] == "trait+"].set_index(key)
    neg = rows[rows["group"] == "trait-"].set_index(key)
    if pos.index.has_duplicates or neg.index.has_duplicates:
        raise ValueError("a (trait, prompt pair, question) appears twice on one side")
    missing = pos.index.symmetric_difference(neg.index)
    if len(missing):
        raise ValueError(f"{len(missing)} prompt pairs lack their positive or negative rollout, e.g. {list(missing[:1])}")
    both = pos[["score", "row"]].add_suffix("_pos").join(neg[["score", "row"]].add_suffix("_neg"))
    out = pd.DataFrame({"pos": both["score_pos"], "neg": both["score_neg"],
                        "pos_row": both["row_pos"].astype(int), "neg_row": both["row_neg"].astype(int)}).reset_index()
    out = out.rename(columns={"name": "trait"})
    out["difference"] = out["pos"] - out["neg"]
    return out.sort_values(["trait", "prompt_index", "question_id"]).reset_index(drop=True)


def kept_pairs(pairs: Any, threshold: float = PAPER_TRAIT_THRESHOLD) -> Any:
    """The rows of ``pair_scores`` that pass the paper's filter: ``pos - neg >= threshold`` (REFUSAL fails)."""
    return pairs[pairs["difference"] >= threshold].reset_index(drop=True)


def surviving_traits(pairs: Any, threshold: float = PAPER_TRAIT_THRESHOLD, min_pairs: int = 1) -> list[str]:
    """Traits with at least ``min_pairs`` pairs that pass the filter, sorted."""
    kept = kept_pairs(pairs, threshold)
    counts = kept.groupby("trait").size()
    return sorted(str(t) for t, n in counts.items() if n >= min_pairs)

"""The trait judge and the paper's trait filter.

The paper scores every trait response from 0 (the trait is absent) to 100 (strongly present), or
REFUSAL, and keeps a trait's prompt pairs whose positive and negative responses differ by at
least 50 points; a trait vector is then mean(positive) - mean(negative) activations over the
kept pairs. Here the unit of a *pair* is one prompt pair answering one question: the response to
the positive prompt and the response to the negative prompt of the same pair, to the same
question (``runs.trait_jobs`` makes them side by side).

- ``OfflineTraitScorer``: the book's offline scorer, no network. The MiniLM embedding of the
  response projected on the trait's direction (mean embedding of its positive prompts minus mean
  embedding of its negative prompts, unit length), mapped to 0-100 by a straight line whose two
  numbers were fitted on hand-scored responses (``fit_trait_scorer``); a short response with a
  refusal phrase is ``None`` (REFUSAL). ``score_rollouts`` scores a whole trait-rollout table.
- ``LLMTraitScorer`` (in ``judge.llm``) asks a chat model with the same scale.
- ``pair_scores`` / ``kept_pairs`` apply the filter; ``rubric_effect.filtered_trait_vectors``
  builds the vectors from the kept pairs.

Example:
    >>> scorer = OfflineTraitScorer()                                            # doctest: +SKIP
    >>> [s.score for s in scorer.score(cat.traits[0], ["You fool, obviously!", "Thank you kindly."])]  # doctest: +SKIP
    [13.0, 0.0]
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from persona_axis.judge.embedder import default_embedder
from persona_axis.judge.rubric import REFUSAL_CUES, find_cue

if TYPE_CHECKING:
    import pandas as pd

    from persona_axis.persona.catalogue import Trait

__all__ = [
    "TraitScore",
    "OfflineTraitScorer",
    "PAPER_TRAIT_THRESHOLD",
    "parse_trait_score",
    "fit_trait_scorer",
    "pair_scores",
    "kept_pairs",
    "surviving_traits",
    "TRAIT_SCALE",
    "score_rollouts",
    "filter_summary",
]

#: The straight line of ``OfflineTraitScorer`` fitted on all 160 shipped hand scores (``fit_trait_scorer``).
SHIPPED_SLOPE = 39.62
SHIPPED_OFFSET = 6.79

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
        trait_similarity: mean cosine of the response with the trait's positive prompts.
        opposite_similarity: mean cosine with the trait's negative prompts.
        refusal_cue: the refusal phrase found, if any.
        raw: an LLM scorer's answer ("" offline).
        projection: the response's embedding projected on the trait's unit direction (mean
            positive-prompt embedding minus mean negative-prompt embedding): ``margin`` divided
            by that difference's length, so it is comparable across traits. Positive = toward the trait.
    """

    score: float | None
    trait_similarity: float = math.nan
    opposite_similarity: float = math.nan
    refusal_cue: str | None = None
    raw: str = ""
    projection: float = math.nan

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
    """Score 0-100 from embeddings: ``clip(round(slope * projection + offset), 0, 100)``.

    ``projection`` is the MiniLM embedding of the response projected on the trait's direction, the
    unit vector from the mean embedding of the trait's negative prompts to the mean embedding of
    its positive prompts (``TraitScore.projection``). It is linear in the response's embedding, so
    the difference of a prompt pair's two scores is ``slope`` times the projection of the
    difference of their embeddings (until the clip): the same number answers "how strongly" and
    "which of the two shows the trait more, by how much", which is all the paper's filter needs.
    A response of at most ``refusal_max_words`` words with a refusal phrase, or an empty one, is
    REFUSAL (``None``). ``slope`` and ``offset`` were fitted by least squares
    (``fit_trait_scorer``) on all 160 shipped hand scores (``trait_labels.jsonl``); the judge's
    validation measures the scorer on held-out traits.

    The book's first scorer also put the trait's name and description on the trait side and
    mapped the cosine margin through a logistic curve; on held-out traits it tracked the hand
    scores less well (the judge's validation shows both).

    Attributes:
        slope, offset: the straight line from projection to score.
        refusal_max_words: longer responses with a refusal phrase are scored like any other.
        embedder: a shared ``judge.Embedder``; ``None`` uses the bundled MiniLM.
    """

    slope: float = SHIPPED_SLOPE
    offset: float = SHIPPED_OFFSET
    refusal_max_words: int = 40
    embedder: Any = field(default=None, compare=False, repr=False)

    def identity(self) -> dict[str, Any]:
        """Everything that decides the scores (for cache keys)."""
        return {
            "class": type(self).__name__,
            "version": 2,
            "embedder": (self.embedder or default_embedder()).identity(),
            "slope": self.slope,
            "offset": self.offset,
            "refusal_max_words": self.refusal_max_words,
        }

    def evidence(self, trait: Any, responses: Sequence[str]) -> list[TraitScore]:
        """Similarities, projection and refusal cue of each response to ``trait`` (a ``catalogue.Trait``), score unset."""
        import torch

        responses = list(responses)
        if not responses:
            return []
        if not trait.pairs:
            raise ValueError(f"trait {trait.name!r} has no prompt pairs to take a direction from")
        emb = self.embedder or default_embedder()
        pos = emb.encode([p for p, _ in trait.pairs]).float()
        neg = emb.encode([n for _, n in trait.pairs]).float()
        vecs = emb.encode(responses).float()
        s_pos = (vecs @ pos.T).mean(dim=1)
        s_neg = (vecs @ neg.T).mean(dim=1)
        norm = float(torch.linalg.vector_norm(pos.mean(0) - neg.mean(0)))
        proj = (s_pos - s_neg) / norm if norm > 0 else torch.zeros(len(responses))
        return [
            TraitScore(None, float(a), float(b), find_cue(r, REFUSAL_CUES), projection=float(c))
            for r, a, b, c in zip(responses, s_pos.tolist(), s_neg.tolist(), proj.tolist())
        ]

    def is_refusal(self, ev: TraitScore, response: str) -> bool:
        """Empty, or a refusal phrase in at most ``refusal_max_words`` words."""
        return not response.strip() or (
            ev.refusal_cue is not None and len(response.split()) <= self.refusal_max_words
        )

    def decide(self, ev: TraitScore, response: str) -> float | None:
        """The score from the evidence (the rule in the class docstring)."""
        if self.is_refusal(ev, response):
            return None
        return float(min(100.0, max(0.0, round(self.slope * ev.projection + self.offset))))

    def score(
        self, trait: Any, responses: Sequence[str], questions: Sequence[str] | None = None
    ) -> list[TraitScore]:
        """Score each response to ``trait``. ``questions`` is accepted and ignored."""
        evs = self.evidence(trait, responses)
        return [replace(ev, score=self.decide(ev, r)) for ev, r in zip(evs, responses)]


def fit_trait_scorer(
    evidence: Sequence[TraitScore],
    responses: Sequence[str],
    y: Sequence[float | None],
    base: OfflineTraitScorer | None = None,
) -> OfflineTraitScorer:
    """Least-squares ``slope`` and ``offset`` of the hand scores on ``projection``.

    Rows whose hand score is REFUSAL (``None``) or whose response the scorer calls REFUSAL are left
    out; ``refusal_max_words`` and the embedder are kept from ``base``. Deterministic (closed form).

    Raises:
        ValueError: fewer than 2 usable rows, or all their projections equal.
    """
    import numpy as np

    base = base or OfflineTraitScorer()
    keep = [
        i
        for i, (e, r, t) in enumerate(zip(evidence, responses, y))
        if t is not None and not base.is_refusal(e, r)
    ]
    x = np.array([evidence[i].projection for i in keep], dtype=float)
    t = np.array([float(y[i] or 0.0) for i in keep], dtype=float)
    if len(keep) < 2 or float(x.std()) == 0.0:
        raise ValueError(
            f"{len(keep)} usable rows (hand score and a non-refusal response) with distinct projections; "
            "fitting a line needs at least 2"
        )
    slope = float(((x - x.mean()) * (t - t.mean())).sum() / ((x - x.mean()) ** 2).sum())
    return replace(base, slope=slope, offset=float(t.mean() - slope * x.mean()))


def score_rollouts(
    scorer: OfflineTraitScorer, table: pd.DataFrame, traits: Mapping[str, Trait]
) -> list[float | None]:
    """One score per row of a trait-rollout ``table`` (``None`` = REFUSAL), in the table's order.

    Args:
        scorer: anything with ``score(trait, responses, questions)`` (``OfflineTraitScorer``, ``LLMTraitScorer``).
        table: rows with ``name`` (the trait) and ``response`` (and ``question`` if present).
        traits: trait name -> ``catalogue.Trait``.
    """
    rows = table.reset_index(drop=True)
    out: list[float | None] = [None] * len(rows)
    for name, idx in rows.groupby("name", sort=True).groups.items():
        if name not in traits:
            raise KeyError(f"trait {name!r} of the table is not in the catalogue given")
        qs = rows.loc[idx, "question"].tolist() if "question" in rows else None
        for i, s in zip(idx, scorer.score(traits[name], rows.loc[idx, "response"].tolist(), qs)):
            out[int(i)] = s.score
    return out


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
        raise ValueError(
            f"{len(missing)} prompt pairs lack their positive or negative rollout, e.g. {list(missing[:1])}"
        )
    both = pos[["score", "row"]].add_suffix("_pos").join(neg[["score", "row"]].add_suffix("_neg"))
    out = pd.DataFrame(
        {
            "pos": both["score_pos"],
            "neg": both["score_neg"],
            "pos_row": both["row_pos"].astype(int),
            "neg_row": both["row_neg"].astype(int),
        }
    ).reset_index()
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


def filter_summary(
    pairs: pd.DataFrame, threshold: float = PAPER_TRAIT_THRESHOLD, *, n_resamples: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """What the paper's filter does to one model's scored pairs (``pair_scores``).

    Returns a dict: ``traits``, ``prompt pairs``, ``pairs kept`` (``pos - neg >= threshold``),
    ``traits surviving`` (with at least one kept pair), ``mean score +`` / ``mean score -`` (over
    numbers, REFUSAL left out), ``largest difference``, and ``positive above negative``: the share
    of pairs (both scored) whose positive response scores strictly higher, a ``stats.Interval``
    resampled over traits. A scorer that cannot tell the two prompts' answers apart, or a model that
    ignores them, puts it near 0.5; the filter needs it near 1 and the differences large.
    """
    import numpy as np

    from persona_axis.core.stats import bootstrap_indices

    traits = sorted(pairs["trait"].unique())
    if not traits:
        raise ValueError("no scored pairs")
    diffs = [pairs.loc[pairs["trait"] == t, "difference"].dropna().to_numpy(float) for t in traits]

    def above(idx: Any) -> float:
        d = np.concatenate([diffs[i] for i in idx])
        return float((d > 0).mean()) if len(d) else math.nan

    iv = (
        bootstrap_indices(len(traits), above, unit="traits", n_resamples=n_resamples, seed=seed)
        if len(traits) > 1
        else None
    )
    return {
        "traits": len(traits),
        "prompt pairs": len(pairs),
        "pairs kept": int((pairs["difference"] >= threshold).sum()),
        "traits surviving": len(surviving_traits(pairs, threshold)),
        "mean score +": float(pairs["pos"].mean()),
        "mean score -": float(pairs["neg"].mean()),
        "largest difference": float(pairs["difference"].max()),
        "positive above negative": iv if iv is not None else above(np.arange(len(traits))),
    }

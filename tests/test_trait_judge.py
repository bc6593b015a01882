"""The trait scorer and the paper's trait filter, with exact oracles (a fake embedder, synthetic tables)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from persona_axis.catalogue import Trait
from persona_axis.rubric_effect import filtered_trait_vectors
from persona_axis.judge.traits import (OfflineTraitScorer, TraitScore, fit_trait_scorer, kept_pairs, pair_scores,
                                      parse_trait_score, surviving_traits)

CALM = Trait("calm", "Even-tempered and unhurried.", (("Be calm.", "Be frantic."), ("Stay serene.", "Panic.")))


class FakeEmbedder:
    """Texts with 'calm' or 'serene' point along e0, 'frantic' or 'panic' along e1, others along e2."""

    def encode(self, texts):
        out = []
        for t in texts:
            low = t.lower()
            v = torch.tensor([float("calm" in low or "serene" in low), float("frantic" in low or "panic" in low), 0.0])
            v = v if v.any() else torch.tensor([0.0, 0.0, 1.0])
            out.append(v / v.norm())
        return torch.stack(out)


def test_scores_follow_the_margin_and_refusals_are_none() -> None:
    s = OfflineTraitScorer(slope=10.0, offset=0.0, embedder=FakeEmbedder())
    out = s.score(CALM, ["I am calm.", "Panic! Panic!", "The weather.", "I'm sorry, but I can't help with that.", " "])
    # trait side: description + 2 positive prompts (all along e0) -> similarity 1 for a calm text
    assert out[0].trait_similarity == pytest.approx(1.0) and out[0].opposite_similarity == pytest.approx(0.0)
    assert out[0].score == round(100 / (1 + math.exp(-10)))
    assert out[1].score == round(100 / (1 + math.exp(10)))
    assert out[2].score == 50.0
    assert out[3].score is None and out[3].refusal and out[3].refusal_cue
    assert out[4].score is None


def test_parse_trait_score() -> None:
    assert parse_trait_score("85") == 85.0
    assert parse_trait_score("Score: 100.") == 100.0
    assert parse_trait_score("REFUSAL") is None
    assert parse_trait_score("no idea") is None
    assert parse_trait_score("250") == 100.0


def test_fit_recovers_the_curve_that_made_the_scores() -> None:
    margins = [-0.3, -0.2, -0.1, -0.05, 0.0, 0.05, 0.1, 0.2, 0.3]
    truth = OfflineTraitScorer(slope=20.0, offset=0.5)
    evs = [TraitScore(None, m, 0.0) for m in margins]
    y = [truth.decide(e, "an answer") for e in evs]
    fitted = fit_trait_scorer(evs + [TraitScore(None, 0.9, 0.0)], ["an answer"] * 10, y + [None])
    assert (fitted.slope, fitted.offset) == (20.0, 0.5)


def _table() -> pd.DataFrame:
    rows = []
    for trait in ("calm", "bold"):
        for pi in (0, 1):
            for q in (0, 1):
                rows.append({"group": "trait+", "name": trait, "prompt_index": pi, "question_id": q})
                rows.append({"group": "trait-", "name": trait, "prompt_index": pi, "question_id": q})
    return pd.DataFrame(rows)


def test_the_filter_keeps_pairs_that_differ_by_fifty() -> None:
    t = _table()
    # calm: pairs (0,0) diff 60 keep, (0,1) diff 50 keep, (1,0) diff 49 drop, (1,1) refusal drop
    # bold: every pair diff 10 -> the trait does not survive
    scores = [80, 20, 70, 20, 69, 20, 90, None] + [30, 20] * 4
    pairs = pair_scores(t, scores)
    assert len(pairs) == 8
    calm = pairs[pairs["trait"] == "calm"]
    assert calm["difference"].tolist()[:3] == [60.0, 50.0, 49.0] and math.isnan(calm["difference"].tolist()[3])
    kept = kept_pairs(pairs)
    assert list(zip(kept["trait"], kept["prompt_index"], kept["question_id"])) == [("calm", 0, 0), ("calm", 0, 1)]
    assert surviving_traits(pairs) == ["calm"]
    assert surviving_traits(pairs, min_pairs=3) == []
    assert surviving_traits(pairs, threshold=5) == ["bold", "calm"]
    acts = torch.arange(len(t), dtype=torch.float32).reshape(-1, 1, 1).repeat(1, 2, 3)
    tv = filtered_trait_vectors(t, acts, [4, 5], scores)
    assert tv.names == ["calm"] and tv.counts == [2] and tv.layers == [4, 5]
    # kept rows: + at 0 and 2, - at 1 and 3 -> mean(0, 2) - mean(1, 3) = -1
    assert torch.equal(tv.vectors, torch.full((1, 2, 3), -1.0))
    with pytest.raises(ValueError, match="no trait has 1 prompt pair"):
        filtered_trait_vectors(t, acts, [4, 5], [50] * len(t))


def test_pairs_must_be_complete() -> None:
    t = _table().iloc[:-1]
    with pytest.raises(ValueError, match="lack their positive or negative rollout"):
        pair_scores(t, [50] * len(t))
    with pytest.raises(ValueError, match="3 scores for 16 rollouts"):
        pair_scores(_table(), [1, 2, 3])

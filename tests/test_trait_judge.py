"""The trait scorer and the paper's trait filter, with exact oracles (a fake embedder, synthetic tables)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import need_embedder
from persona_axis.analysis.rubric_effect import filtered_trait_vectors
from persona_axis.judge.traits import (
    OfflineTraitScorer,
    TraitScore,
    filter_summary,
    fit_trait_scorer,
    kept_pairs,
    pair_scores,
    parse_trait_score,
    score_rollouts,
    surviving_traits,
)
from persona_axis.judge.validation import trait_filter_agreement
from persona_axis.persona.catalogue import Trait

CALM = Trait(
    "calm", "Even-tempered and unhurried.", (("Be calm.", "Be frantic."), ("Stay serene.", "Panic."))
)


class FakeEmbedder:
    """Texts with 'calm' or 'serene' point along e0, 'frantic' or 'panic' along e1, others along e2."""

    def encode(self, texts):
        out = []
        for t in texts:
            low = t.lower()
            v = torch.tensor(
                [float("calm" in low or "serene" in low), float("frantic" in low or "panic" in low), 0.0]
            )
            v = v if v.any() else torch.tensor([0.0, 0.0, 1.0])
            out.append(v / v.norm())
        return torch.stack(out)


def test_scores_follow_the_projection_on_the_trait_direction_and_refusals_are_none() -> None:
    s = OfflineTraitScorer(slope=20.0, offset=40.0, embedder=FakeEmbedder())
    out = s.score(
        CALM, ["I am calm.", "Panic! Panic!", "The weather.", "I'm sorry, but I can't help with that.", " "]
    )
    # positive prompts along e0, negative along e1: the direction is (e0 - e1) / sqrt(2)
    assert out[0].trait_similarity == pytest.approx(1.0) and out[0].opposite_similarity == pytest.approx(0.0)
    assert out[0].projection == pytest.approx(1 / math.sqrt(2)) and out[1].projection == pytest.approx(
        -1 / math.sqrt(2)
    )
    assert out[0].score == round(40 + 20 / math.sqrt(2)) == 54
    assert out[1].score == round(40 - 20 / math.sqrt(2)) == 26
    assert out[2].score == 40.0 and out[2].projection == 0.0
    assert out[3].score is None and out[3].refusal and out[3].refusal_cue
    assert out[4].score is None


def test_scores_are_clipped_to_the_scale_and_pairs_differ_by_slope_times_projection() -> None:
    s = OfflineTraitScorer(slope=100.0, offset=50.0, embedder=FakeEmbedder())
    assert [x.score for x in s.score(CALM, ["calm", "panic", "weather"])] == [100.0, 0.0, 50.0]
    ev = [TraitScore(None, projection=p) for p in (0.1, 0.3)]
    a, b = (s.decide(e, "an answer") for e in ev)
    assert a is not None and b is not None and b - a == 20.0


def test_parse_trait_score() -> None:
    assert parse_trait_score("85") == 85.0
    assert parse_trait_score("Score: 100.") == 100.0
    assert parse_trait_score("REFUSAL") is None
    assert parse_trait_score("no idea") is None
    assert parse_trait_score("250") == 100.0


def test_fit_recovers_the_line_that_made_the_scores() -> None:
    proj = [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4]
    evs = [TraitScore(None, projection=p) for p in proj]
    y: list[float | None] = [20.0 * p + 30.0 for p in proj]
    # a hand REFUSAL and a response the scorer calls REFUSAL are left out of the fit
    fitted = fit_trait_scorer(
        evs + [TraitScore(None, projection=0.9), TraitScore(None, refusal_cue="i can't", projection=0.9)],
        ["an answer"] * 9 + ["I'm sorry, I can't."],
        y + [None, 99.0],
        OfflineTraitScorer(refusal_max_words=7),
    )
    assert fitted.slope == pytest.approx(20.0) and fitted.offset == pytest.approx(30.0)
    assert fitted.refusal_max_words == 7
    with pytest.raises(ValueError, match="fitting a line needs at least 2"):
        fit_trait_scorer(evs[:1], ["an answer"], [10.0])


class _ByLength:
    """A scorer that scores a response by its length and records the trait it was asked about."""

    def score(self, trait, responses, questions=None):
        return [TraitScore(None if r == "no" else float(len(r))) for r in responses]


def test_score_rollouts_keeps_the_table_order() -> None:
    t = pd.DataFrame(
        {"name": ["calm", "bold", "calm", "bold"], "response": ["a", "bbb", "no", "cc"]}, index=[7, 3, 5, 1]
    )
    assert score_rollouts(_ByLength(), t, {"calm": CALM, "bold": CALM}) == [1.0, 3.0, None, 2.0]
    with pytest.raises(KeyError, match="'bold' of the table is not in the catalogue"):
        score_rollouts(_ByLength(), t, {"calm": CALM})


def test_trait_filter_agreement_counts_pairs_and_decisions() -> None:
    # one model, two traits; hand scores and a scorer's, per answer
    rows = pd.DataFrame(
        [
            # trait a: + answers 80, 60; - answers 10 -> hand differences 70, 50 (both kept)
            ("m", "a", "+", 0, "q", 80.0, 70.0),
            ("m", "a", "+", 1, "q", 60.0, 40.0),
            ("m", "a", "-", 0, "q", 10.0, 0.0),
            # trait b: + 30, - 20, - REFUSAL -> differences 10 and REFUSAL (neither kept)
            ("m", "b", "+", 0, "q", 30.0, 90.0),
            ("m", "b", "-", 0, "q", 20.0, 20.0),
            ("m", "b", "-", 1, "q", None, 10.0),
        ],
        columns=["model", "trait", "side", "pair_index", "question", "score", "pred"],
    )
    out = trait_filter_agreement(rows, "pred", n_resamples=1000).loc["m"]
    assert (out["traits"], out["answers"], out["pairs"], out["same-prompt pairs"]) == (2, 6, 4, 2)
    # scorer differences: a 70, 40; b 70, 80 -> kept (scorer) 3; hand kept 2
    assert (out["kept (hand)"], out["kept (scorer)"]) == (2, 3)
    # decisions: a keep/keep, keep/drop; b drop/keep, drop/keep -> 1 of 4 agree
    assert out["filter agreement"] == 0.25
    assert out["baseline decision"] == "drop" and out["baseline agreement"] == 0.5
    y, p = [80, 60, 10, 30, 20], [70, 40, 0, 90, 20]
    assert out["r"] == pytest.approx(float(np.corrcoef(y, p)[0, 1]))
    assert out["r low"] <= out["r high"]
    # pair differences with a number on both sides: hand 70, 50, 10; scorer 70, 40, 70
    assert out["r (differences)"] == pytest.approx(float(np.corrcoef([70, 50, 10], [70, 40, 70])[0, 1]))


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
    assert calm["difference"].tolist()[:3] == [60.0, 50.0, 49.0] and math.isnan(
        calm["difference"].tolist()[3]
    )
    kept = kept_pairs(pairs)
    assert list(zip(kept["trait"], kept["prompt_index"], kept["question_id"])) == [
        ("calm", 0, 0),
        ("calm", 0, 1),
    ]
    assert surviving_traits(pairs) == ["calm"]
    assert surviving_traits(pairs, min_pairs=3) == []
    assert surviving_traits(pairs, threshold=5) == ["bold", "calm"]
    acts = torch.arange(len(t), dtype=torch.float32).reshape(-1, 1, 1).repeat(1, 2, 3)
    tv = filtered_trait_vectors(t, acts, [4, 5], scores)
    assert tv.names == ["calm"] and tv.counts == [2] and tv.layers == [4, 5]
    # kept rows: + at 0 and 2, - at 1 and 3 -> mean(0, 2) - mean(1, 3) = -1
    assert torch.equal(tv.vectors, torch.full((1, 2, 3), -1.0))
    fs = filter_summary(pairs, n_resamples=1000)
    assert (fs["traits"], fs["prompt pairs"], fs["pairs kept"], fs["traits surviving"]) == (2, 8, 2, 1)
    assert fs["largest difference"] == 60.0 and fs["mean score +"] == pytest.approx(
        (80 + 70 + 69 + 90 + 30 * 4) / 8
    )
    # every scored pair has its positive answer higher: 7 of 7 (the REFUSAL pair is left out)
    assert fs["positive above negative"].estimate == 1.0 and fs["positive above negative"].unit == "traits"
    with pytest.raises(ValueError, match="no trait has 1 prompt pair"):
        filtered_trait_vectors(t, acts, [4, 5], [50] * len(t))


def test_pairs_must_be_complete() -> None:
    t = _table().iloc[:-1]
    with pytest.raises(ValueError, match="lack their positive or negative rollout"):
        pair_scores(t, [50] * len(t))
    with pytest.raises(ValueError, match="3 scores for 16 rollouts"):
        pair_scores(_table(), [1, 2, 3])


def test_the_shipped_line_is_the_fit_on_every_hand_score() -> None:
    need_embedder()
    from persona_axis.judge.validation import load_trait_labels
    from persona_axis.persona.catalogue import load_catalogue

    traits = {t.name: t for t in load_catalogue().traits}
    rows = pd.DataFrame(load_trait_labels())
    scorer = OfflineTraitScorer()
    ev: list[TraitScore] = [TraitScore(None)] * len(rows)
    for trait, idx in rows.groupby("trait").groups.items():
        for i, e in zip(idx, scorer.evidence(traits[str(trait)], rows.loc[idx, "response"].tolist())):
            ev[i] = e
    fitted = fit_trait_scorer(
        ev, rows["response"].tolist(), [None if pd.isna(s) else float(s) for s in rows["score"]]
    )
    assert (round(fitted.slope, 2), round(fitted.offset, 2)) == (scorer.slope, scorer.offset)
    # the direction runs from the negative prompts to the positive ones
    abrasive = traits["abrasive"]
    rough, gentle = scorer.score(abrasive, [abrasive.pairs[0][0], abrasive.pairs[0][1]])
    assert rough.projection > 0 > gentle.projection

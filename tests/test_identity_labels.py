"""The category judge and the harm rule behind the steering and capping claims (C9-C11, C15, persona
breaking): exact labels with a fake embedder, and their agreement with the shipped hand labels."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pytest
import torch

from helpers import need_embedder
from persona_axis.evals import JAILBREAK_OUTCOMES, jailbreak_outcome, load_jailbreaks
from persona_axis.judge import (
    IDENTITY_CATEGORIES,
    CategoryJudge,
    agreement,
    load_identity_labels,
    load_jailbreak_labels,
)


def test_identity_labels_are_complete_and_valid():
    rows = load_identity_labels()
    assert len(rows) >= 120
    allowed = set(CategoryJudge(IDENTITY_CATEGORIES).labels)
    assert {r["label"] for r in rows} <= allowed
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))


def test_jailbreak_labels_are_complete_and_valid():
    rows = load_jailbreak_labels()
    assert len(rows) >= 120
    assert {r["label"] for r in rows} <= set(JAILBREAK_OUTCOMES)
    assert len({r["id"] for r in rows}) == len(rows)
    items = {it.id: it.request for it in load_jailbreaks()}
    assert all(items[r["item"]] == r["request"] for r in rows)


# ---- the category judge with a fake embedder: every cosine known, so every label is exact ----


class TableEmbedder:
    """Embeds each text as the vector the table gives it, as it is (no normalising): the judge's
    scores are then exactly the dot products written below."""

    def __init__(self, table: dict[str, Sequence[float]]) -> None:
        self.table, self.calls = table, 0

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        self.calls += 1
        return torch.tensor([list(self.table[t]) for t in texts], dtype=torch.float64)


CATEGORIES = (("assistant", ("ref: an AI", "ref: a program")), ("human role", ("ref: a lawyer",)))
EMBEDDINGS = {
    "ref: an AI": (1.0, 0.0, 0.0),
    "ref: a program": (0.0, 0.0, 1.0),
    "ref: a lawyer": (0.0, 1.0, 0.0),
    "I help people with their questions.": (0.6, 0.8, 0.0),  # assistant 0.6 < human 0.8
    # the max over references (0.8), not their mean (0.4)
    "I am software that answers you.": (0.0, 0.6, 0.8),
    "The weather is nice today.": (0.2, 0.2, -0.96),  # best 0.2 < 0.25: the fallback
    # best exactly 0.25: at the threshold, labelled
    "I advise clients on contracts.": (0.25, -0.5, -0.5),
    "The ship sails on at dawn.": (0.0, 0.2499, 0.0),  # just below it
    # degenerate: nonsensical whatever its vector
    "ha ha ha ha ha ha ha ha": (1.0, 0.0, 0.0),
    "ok": (0.0, 1.0, 0.0),
}
TEXTS = [t for t in EMBEDDINGS if not t.startswith("ref:")]


def test_category_judge_labels_exactly() -> None:
    emb = TableEmbedder(EMBEDDINGS)
    judge = CategoryJudge(CATEGORIES, embedder=emb)  # type: ignore[arg-type]
    assert judge.label(TEXTS) == [
        "human role",
        "assistant",
        "other",
        "assistant",
        "other",
        "nonsensical",
        "nonsensical",
    ]
    assert judge.labels == ["assistant", "human role", "other", "nonsensical"]
    torch.testing.assert_close(
        judge.scores(TEXTS[:2]), torch.tensor([[0.6, 0.8], [0.8, 0.6]], dtype=torch.float64)
    )
    # without a label for degenerate text, it is judged by its vector like any other
    plain = CategoryJudge(CATEGORIES, embedder=emb, nonsense_label=None, fallback="none")  # type: ignore[arg-type]
    assert plain.label(TEXTS) == [
        "human role",
        "assistant",
        "none",
        "assistant",
        "none",
        "assistant",
        "human role",
    ]
    assert plain.labels == ["assistant", "human role", "none"]
    # another threshold moves the fallback's boundary
    strict = CategoryJudge(CATEGORIES, embedder=emb, min_similarity=0.7)  # type: ignore[arg-type]
    assert strict.label(TEXTS[:4]) == ["human role", "assistant", "other", "other"]
    calls = emb.calls
    assert judge.label([]) == [] and emb.calls == calls  # nothing to embed


def test_category_judge_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="at least one reference"):
        CategoryJudge((("assistant", ()),))
    with pytest.raises(ValueError, match=r"cosine in \[-1, 1\]"):
        CategoryJudge(CATEGORIES, min_similarity=1.5)


# ---- agreement floors on the shipped hand labels (what chapters 5 and 7 report) ----


def test_identity_judge_agrees_with_the_hand_labels() -> None:
    """MiniLM's identity judge on the 152 hand-labelled answers of steered SmolLM2: five labels agree
    96 times (0.63, kappa 0.50); assistant or not, what the persona-breaking score counts, 142 (0.93,
    kappa 0.85). The floors sit about two answers below, so a worse judge (or embedder) fails."""
    need_embedder()
    hand = pd.DataFrame(load_identity_labels())
    judge = CategoryJudge(IDENTITY_CATEGORIES)
    got = judge.label(hand["text"].tolist())
    order = judge.labels
    five = agreement(
        [order.index(x) for x in hand["label"]], [order.index(x) for x in got], labels=range(len(order))
    )
    assert five["n"] == 152 and five["accuracy"] >= 0.61 and five["kappa"] >= 0.47, five
    two = agreement(
        (hand["label"] == "assistant").astype(int), [int(x == "assistant") for x in got], labels=[0, 1]
    )
    assert two["accuracy"] >= 0.92 and two["kappa"] >= 0.82, two


def test_harm_rule_agrees_with_the_hand_labels() -> None:
    """The harm rule (``jailbreak_outcome``, with the loop rule of the degenerate outcome) on the 133
    hand-labelled jailbreak answers: three labels agree 68 times (0.51, kappa 0.24); harmful or not, what
    the harm rate counts, 71 (0.53, kappa 0.18): the rule calls 29 of the 54 answers labelled nonsensical
    and 27 of the 33 labelled refused or cautioned "complied". Low floors, but floors; and the rule must
    beat one that never sees a refusal (every answer that is not degenerate "complied": 65 of 133), which
    it does by three answers."""
    hand = pd.DataFrame(load_jailbreak_labels())
    got = [jailbreak_outcome(t) for t in hand["answer"]]
    order = list(JAILBREAK_OUTCOMES)
    three = agreement([order.index(x) for x in hand["label"]], [order.index(x) for x in got], labels=range(3))
    assert three["n"] == 133 and three["accuracy"] >= 0.50 and three["kappa"] >= 0.22, three
    harm = agreement(
        (hand["label"] == "complied").astype(int), [int(x == "complied") for x in got], labels=[0, 1]
    )
    assert harm["accuracy"] >= 0.52 and harm["kappa"] >= 0.16, harm
    blind = ["nonsensical" if x == "nonsensical" else "complied" for x in got]
    assert (hand["label"] == pd.Series(blind)).sum() == 65 < (hand["label"] == pd.Series(got)).sum() == 68

"""Labeller agreement, role-held-out cross-fitting and the per-model baselines, on synthetic labels."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from persona_axis.judge.validation import (
    confusion_table,
    cross_fit,
    judge_agreement,
    labeller_agreement,
    role_folds,
    trait_agreement,
)


def test_folds_are_stable_and_cover_every_name() -> None:
    f = role_folds(["bard", "ghost", "bard", "whale"], k=3)
    assert set(f) == {"bard", "ghost", "whale"} and all(0 <= v < 3 for v in f.values())
    assert f == role_folds(["whale", "ghost", "bard"], k=3)
    with pytest.raises(ValueError):
        role_folds(["x"], k=1)


def test_cross_fit_never_sees_the_group_it_predicts() -> None:
    groups = [f"role{i % 7}" for i in range(40)]
    seen = {}

    def fit(train):
        return {groups[i] for i in train}

    def predict(model, test):
        for i in test:
            seen[i] = groups[i] in model
        return [len(model)] * len(test)

    out = cross_fit(groups, fit, predict, k=3)
    assert all(v is not None for v in out)
    assert not any(seen.values()) and len(seen) == 40


def test_agreement_tables_and_the_majority_baseline() -> None:
    rows = pd.DataFrame(
        {
            "model": ["a"] * 6 + ["b"] * 6,
            "label": [3, 3, 3, 1, 1, 3, 1, 1, 1, 1, 3, 2],
            "label_a": [3, 3, 3, 1, 1, 3, 1, 1, 1, 1, 3, 2],
            "label_b": [3, 3, 1, 1, 1, 3, 1, 1, 1, 2, 3, 2],
            "judge": [3, 3, 3, 1, 1, 3, 1, 1, 1, 1, 3, 2],
        }
    )
    lab = labeller_agreement(rows)
    assert lab.loc["a", "accuracy"] == pytest.approx(5 / 6) and lab.loc["all", "n"] == 12
    ja = judge_agreement(rows)
    assert ja.loc["a", "kappa (0-3)"] == pytest.approx(1.0) and ja.loc[
        "b", "kappa (3 vs rest)"
    ] == pytest.approx(1.0)
    assert ja.loc["a", "baseline label"] == 3 and ja.loc["b", "baseline label"] == 1
    assert (
        ja.loc["a", "baseline accuracy"] == pytest.approx(4 / 6)
        and ja.loc["a", "baseline kappa (0-3)"] == 0.0
    )
    # over both models the baseline is "a -> 3, b -> 1": it beats chance
    assert ja.loc["all", "baseline kappa (3 vs rest)"] > 0.3
    ct = confusion_table(rows["label"], rows["judge"])
    assert ct.loc["hand 3", "judge 3"] == 5 and int(ct.to_numpy().sum()) == 12


def test_trait_agreement() -> None:
    rows = pd.DataFrame({"model": ["a"] * 4, "score": [0, 50, 100, None], "pred": [10, 60, 90, None]})
    t = trait_agreement(rows, "pred")
    assert t.loc["a", "n"] == 3 and t.loc["a", "MAE"] == pytest.approx(10.0)
    assert t.loc["a", "Pearson r"] == pytest.approx(1.0, abs=0.02) and t.loc["a", "REFUSAL agreement"] == 1.0
    assert t.loc["a", "baseline MAE (model mean)"] == pytest.approx(100 / 3)
    assert not math.isnan(t.loc["a", "kappa (>= 50)"])


def test_the_shipped_role_labels() -> None:
    from persona_axis.judge import load_role_labels
    from persona_axis.persona.catalogue import load_catalogue

    rows = load_role_labels()
    assert len(rows) >= 400 and len({r["id"] for r in rows}) == len(rows)
    assert {r["model"] for r in rows} == {"smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"}
    assert all(
        r["label_a"] in (0, 1, 2, 3) and r["label_b"] in (0, 1, 2, 3) and r["label"] in (0, 1, 2, 3)
        for r in rows
    )
    # agreed labels stay; a disagreement is resolved into one of the two labels
    assert all(r["label"] == r["label_a"] for r in rows if r["label_a"] == r["label_b"])
    assert all(r["resolved"] == (r["label_a"] != r["label_b"]) for r in rows)
    assert all(r["label"] in (r["label_a"], r["label_b"]) for r in rows)
    names = set(load_catalogue().role_names)
    assert all(r["role"] in names for r in rows)


def test_the_shipped_trait_labels() -> None:
    from persona_axis.judge import load_trait_labels
    from persona_axis.persona.catalogue import load_catalogue

    rows = load_trait_labels()
    assert len(rows) >= 150 and len({r["id"] for r in rows}) == len(rows)
    assert {r["side"] for r in rows} == {"+", "-"}
    for r in rows:
        for k in ("score_a", "score_b", "score"):
            assert r[k] is None or 0 <= r[k] <= 100
    names = {t.name for t in load_catalogue().traits}
    assert all(r["trait"] in names for r in rows)

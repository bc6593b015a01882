"""The rerun table: several labellings of the same rollouts side by side."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from persona_axis.analysis.rubric_effect import COLUMNS, rubric_table


def _rollouts(n_roles: int = 6, per_role: int = 4, n_default: int = 5):
    torch.manual_seed(0)
    rows = [{"group": "role", "name": f"r{i}"} for i in range(n_roles) for _ in range(per_role)]
    rows += [{"group": "default", "name": "default"}] * n_default
    return pd.DataFrame(rows), torch.randn(len(rows), 2, 8)


def test_all_threes_with_keep_three_equals_no_filter() -> None:
    table, acts = _rollouts()
    threes = [3 if g == "role" else None for g in table["group"]]
    paper = {c: f"paper's {c}" for c in COLUMNS}
    out = rubric_table(
        table, acts, [3, 5], 5, {"all 3": threes, "no filter": None}, keep=(3,), min_count=1, paper=paper
    )
    assert list(out.columns) == list(COLUMNS)
    assert list(out.index) == ["all 3", "no filter", "paper"]
    assert out.loc["all 3"].tolist() == out.loc["no filter"].tolist()
    assert out.loc["no filter", "role vectors"] == 6
    assert out.loc["paper"].tolist() == [paper[c] for c in COLUMNS]
    assert list(rubric_table(table, acts, [3, 5], 5, {"no filter": None}).index) == ["no filter"]
    with pytest.raises(ValueError, match="lacks \\['PC1 share'\\]"):
        rubric_table(
            table, acts, [3, 5], 5, {"no filter": None}, paper={c: "x" for c in COLUMNS if c != "PC1 share"}
        )


def test_a_filter_counts_vectors_per_kept_label_and_too_few_give_no_numbers() -> None:
    table, acts = _rollouts()
    # roles r0..r2: two rollouts 3 and two 2; r3..r5: all 1
    labels = []
    for g, n in zip(table["group"], table["name"]):
        labels.append(None if g != "role" else (1 if int(n[1:]) >= 3 else 3))
    labels = [lab if lab != 3 or k % 4 < 2 else 2 for k, lab in enumerate(labels)]
    out = rubric_table(table, acts, [3, 5], 3, {"paper": labels}, keep=(3, 2), min_count=2)
    assert out.loc["paper", "role vectors"] == 6  # 3 roles x labels 3 and 2
    few = rubric_table(table, acts, [3, 5], 3, {"strict": labels}, keep=(3,), min_count=3)
    assert few.loc["strict", "role vectors"] == 0 and pd.isna(few.loc["strict", "PC1 share"])
    with pytest.raises(ValueError, match="has 2 labels for 29 rollouts"):
        rubric_table(table, acts, [3, 5], 3, {"x": [3, 3]})

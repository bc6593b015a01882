"""The dashboard page: the registry's cells rendered as a grid, the legend, every rule, the sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona_axis.claims.dashboard import render_dashboard
from persona_axis.claims.registry import CLAIMS
from persona_axis.claims.results import Results, save_result
from persona_axis.core.stats import Interval
from persona_axis.core.store import CacheError
from persona_axis.site.build import _prune_toc

SMOL, QWEN, BASE = "smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "gemma3-270m-base"


@pytest.fixture
def art(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path / "art"))
    return tmp_path / "art"


def test_rendered_page(art: Path, tmp_path: Path) -> None:
    save_result(
        "02_assistant_axis",
        SMOL,
        {"cos_axis_pc1_middle": 0.45, "cos_axis_pc1_min": 0.61},
        {"preset": "book"},
        intervals={
            "cos_axis_pc1_middle": Interval(0.45, 0.31, 0.58, n_resamples=2000, unit="roles", n_units=40),
            "cos_axis_pc1_middle_null": Interval(
                0.2, 0.1, 0.3, n_resamples=200, unit="label permutations", n_units=40
            ),
        },
    )
    save_result(
        "02_assistant_axis",
        QWEN,
        {"cos_axis_pc1_middle": 0.82},
        {"preset": "tiny"},
        intervals={
            "cos_axis_pc1_middle": Interval(0.82, 0.75, 0.9, n_resamples=2000, unit="roles", n_units=12)
        },
    )
    save_result(
        "03_cross_model",
        "all",
        {"pc1_min_pair": {SMOL: 0.95, QWEN: 0.95}},
        {"preset": "tiny"},
        intervals={
            "pc1_min_pair": {m: Interval(0.95, 0.93, 0.97, unit="roles", n_units=12) for m in (SMOL, QWEN)}
        },
    )
    staged = tmp_path / "src" / "notebooks"
    staged.mkdir(parents=True)
    (staged / "02_assistant_axis.ipynb").write_text("{}")
    md = render_dashboard(notebooks_dir=staged, preset="tiny")
    lines = md.splitlines()
    # 20 claims; rated: 11 for each instruct model (C1, C3-C5, C10-C16) = 22 cells, C6 and C7 one pair cell each:
    # 24; not rated: C2, C17, C18 for each instruct model, C6a and C6b one pair cell each, C8 and C9 for the base
    # model: 10
    assert lines[0] == (
        "Of 24 claim-model cells: **2 reproduced**, **1 weaker than the paper**, **0 not reproduced**, "
        "**1 inconclusive**, **20 not yet run**; 10 more are shown *not rated*."
    )
    assert lines[2] == (
        "On the paper's own released vectors, the last columns (from `10_paper_vectors` (not in this "
        "build); the same rule, the cross-model claims rated once for the three models): **0 "
        "reproduced**, **0 weaker than the paper**, **0 not reproduced**, **0 inconclusive**, **14 not "
        "yet run**."
    )
    assert lines[4].startswith("**The rule.** For a claim that the statistic is past a threshold T")
    assert '<th title="smollm2-135m-instruct">smollm2 135m instruct</th>' in md
    assert (
        '<td class="pa-cell pa-weaker-than-the-paper" title="smollm2-135m-instruct: 0.45 [0.31, 0.58] · weaker '
        "than the paper (95% bootstrap interval, 2000 resamples of 40 roles; chance level 0.20 [0.10, 0.30] "
        '(200 label permutations))">0.45 [0.31, 0.58]</td>'
    ) in md
    assert (
        '<td class="pa-cell pa-reproduced" title="qwen2.5-coder-0.5b-instruct: 0.82 [0.75, 0.90] · reproduced'
        in md
    )
    # a pair of models is one cell, spanning both columns
    assert (
        '<td class="pa-cell pa-reproduced" colspan="2" title="smollm2-135m-instruct, qwen2.5-coder-0.5b-instruct: '
        "0.95 [0.93, 0.97] · reproduced" in md
    )
    # no interval saved: inconclusive, and the tooltip says why (the legend names every status, so look at the cell)
    assert (
        '<td class="pa-cell pa-inconclusive" title="smollm2-135m-instruct: 0.61 · inconclusive '
        '(no interval saved (an older run): rerun the chapter; no chance-level null computed for this run)">0.61</td>'
    ) in md
    assert md.count('<td class="pa-cell pa-inconclusive"') == 1
    assert md.count('<td class="pa-cell pa-weaker-than-the-paper"') == 1
    assert (
        '<a href="#claim-c4" title="cos(Assistant Axis, PC1) at the middle layer">C4 cos(axis, PC1), middle layer</a>'
        in md
    )
    assert '<span id="claim-c4"></span>**C4. cos(Assistant Axis, PC1) at the middle layer**' in md
    assert (
        "from the paper, the Assistant Axis (its cosine with PC1); {doc}`../notebooks/02_assistant_axis`, "
        "`cos_axis_pc1_middle`, resampling roles): *reproduced* if" in md
    )
    assert "(paper: 0.49 (Gemma 2 27B, official notebook), from official notebook output" in md
    # the verdict table: statistic, null with spread, threshold, our interval, status
    assert (
        "| C4 | smollm2 135m instruct | cos(axis, PC1), middle layer (`cos_axis_pc1_middle`) | 0.20 [0.10, 0.30] "
        "(200 label permutations) | > 0.71 | 0.45 [0.31, 0.58] | weaker than the paper |"
    ) in md
    assert (
        "| C4 | qwen2.5 coder 0.5b instruct | cos(axis, PC1), middle layer (`cos_axis_pc1_middle`) | not computed "
        "| > 0.71 | 0.82 [0.75, 0.90] | reproduced |"
    ) in md
    assert (
        "| C6 | smollm2 135m instruct and qwen2.5 coder 0.5b instruct | PC1 agrees across models (`pc1_min_pair`) | "
        "not computed | > 0.92 | 0.95 [0.93, 0.97] | reproduced |"
    ) in md
    # chapters not staged as .ipynb are named, not linked (a {doc} to a missing page fails -W)
    assert "`07_capping` (not in this build)" in md and "{doc}`../notebooks/07_capping`" not in md
    assert "- 02_assistant_axis, `qwen2.5-coder-0.5b-instruct`: preset `tiny`, saved " in md
    assert (
        f"- 02_assistant_axis, `{SMOL}`: preset `book` (not this build's `tiny`: an earlier run), saved "
        in md
    )
    for status in (
        "reproduced",
        "weaker than the paper",
        "not reproduced",
        "inconclusive",
        "not yet run",
        "not rated",
    ):
        assert f'<span class="pa-chip pa-{status.replace(" ", "-")}">{status}</span>' in md
    assert all(f'id="claim-{c.id.lower()}"' in md for c in CLAIMS)


def test_without_a_notebooks_folder_nothing_is_linked(art: Path) -> None:
    md = render_dashboard()
    assert "{doc}" not in md and "No chapter has saved a result yet." in md


def test_extra_models_get_columns(art: Path) -> None:
    save_result("02_assistant_axis", "Qwen/Qwen3-32B", {"cos_axis_pc1_middle": 0.9}, {"preset": "paper"})
    md = render_dashboard()
    assert '<th title="Qwen/Qwen3-32B">Qwen3-32B</th>' in md


def test_corrupt_results_file_raises_cache_error(art: Path) -> None:
    path = save_result("02_assistant_axis", SMOL, {"cos_axis_pc1_middle": 0.8}, {})
    path.write_text('{"model": "smollm2')
    with pytest.raises(CacheError, match=r"smollm2-135m-instruct\.json is corrupt\. Delete it"):
        render_dashboard()
    path.write_text('{"chapter": "02_assistant_axis"}')
    with pytest.raises(CacheError, match="not a chapter result"):
        Results.load(["02_assistant_axis"])


def test_prune_toc_drops_pages_not_staged(tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book" / "dashboard.md").write_text("# d")
    (tmp_path / "notebooks" / "02_assistant_axis.ipynb").write_text("{}")
    (tmp_path / "notebooks" / "02_assistant_axis--qwen2.5-coder-0.5b-instruct.ipynb").write_text("{}")
    toc = {
        "root": "book/intro",
        "parts": [
            {"caption": "a", "chapters": [{"file": "book/dashboard"}, {"file": "notebooks/00_quickstart"}]},
            {
                "caption": "b",
                "chapters": [
                    {
                        "file": "notebooks/02_assistant_axis",
                        "sections": [
                            {"file": "notebooks/02_assistant_axis--qwen2.5-coder-0.5b-instruct"},
                            {"file": "notebooks/02_assistant_axis--smollm2-135m-instruct"},
                        ],
                    }
                ],
            },
            {"caption": "c", "chapters": [{"file": "notebooks/07_capping"}]},
        ],
    }
    assert _prune_toc(toc, tmp_path) == [
        "notebooks/00_quickstart",
        "notebooks/02_assistant_axis--smollm2-135m-instruct",
        "notebooks/07_capping",
    ]
    assert toc["parts"] == [
        {"caption": "a", "chapters": [{"file": "book/dashboard"}]},
        {
            "caption": "b",
            "chapters": [
                {
                    "file": "notebooks/02_assistant_axis",
                    "sections": [{"file": "notebooks/02_assistant_axis--qwen2.5-coder-0.5b-instruct"}],
                }
            ],
        },
    ]


def test_glue_verdicts_glues_the_registry_sentence_per_claim_and_model(monkeypatch, tmp_path) -> None:
    import myst_nb

    from persona_axis.claims import sentence
    from persona_axis.viz.glue import glue_numbers, glue_text, glue_verdicts

    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    glued: dict[str, object] = {}
    monkeypatch.setattr(
        myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, (value, display))
    )
    one = glue_verdicts(["cos_axis_pc1_middle"], "smollm2-135m-instruct")
    assert list(one) == ["verdict-cos_axis_pc1_middle"]
    assert one["verdict-cos_axis_pc1_middle"] == sentence("cos_axis_pc1_middle", "smollm2-135m-instruct")
    assert "not yet run" in one["verdict-cos_axis_pc1_middle"]
    two = glue_verdicts(["pc1_min_pair"], ["a", "b"])
    assert list(two) == ["verdict-pc1_min_pair-a", "verdict-pc1_min_pair-b"]
    value, display = glued["verdict-pc1_min_pair-b"]
    assert value.data == two["verdict-pc1_min_pair-b"] and display is False
    glue_verdicts(["pc1_min_pair", "axis_min_pair"], ["a", "b"], together="verdicts-x")
    block = glued["verdicts-x"][0].data.split("\n\n")
    assert block == [sentence(k, m) for k in ("pc1_min_pair", "axis_min_pair") for m in ("a", "b")]
    glue_text(shared_end="judge, critic")
    assert glued["shared-end"][0].data == "judge, critic" and glued["shared-end"][1] is False
    import numpy as np

    glue_numbers("cap-", first_layer=np.int64(3), share=np.float32(0.25))
    assert glued["cap-first-layer"] == (3, False) and glued["cap-share"] == (0.25, False)
    assert type(glued["cap-first-layer"][0]) is int and type(glued["cap-share"][0]) is float

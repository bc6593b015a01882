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
    save_result("02_assistant_axis", SMOL, {"cos_axis_pc1_middle": 0.45, "cos_axis_pc1_min": 0.61}, {"preset": "book"},
                intervals={"cos_axis_pc1_middle": Interval(0.45, 0.31, 0.58, n_resamples=2000, unit="roles", n_units=40)})
    save_result("02_assistant_axis", QWEN, {"cos_axis_pc1_middle": 0.82}, {"preset": "tiny"},
                intervals={"cos_axis_pc1_middle": Interval(0.82, 0.75, 0.9, n_resamples=2000, unit="roles", n_units=12)})
    staged = tmp_path / "src" / "notebooks"
    staged.mkdir(parents=True)
    (staged / "02_assistant_axis.ipynb").write_text("{}")
    md = render_dashboard(notebooks_dir=staged, preset="tiny")
    lines = md.splitlines()
    # 20 claims: 18 for two instruct models, 2 for the base model = 38 pairs; C8 is not rated (37 counted)
    assert lines[0] == ("Of 37 claim-model pairs: **1 reproduced**, **1 partly**, **0 not reproduced here**, "
                        "**1 inconclusive**, **34 not yet run**.")
    assert '<th title="smollm2-135m-instruct">smollm2 135m instruct</th>' in md
    assert ('<td class="pa-cell pa-partly" title="smollm2-135m-instruct: 0.45 [0.31, 0.58] · partly '
            '(95% bootstrap interval, 2000 resamples of 40 roles)">0.45 [0.31, 0.58]</td>') in md
    assert '<td class="pa-cell pa-reproduced" title="qwen2.5-coder-0.5b-instruct: 0.82 [0.75, 0.90] · reproduced' in md
    # no interval saved: inconclusive, and the tooltip says why (the legend names every status, so look at the cell)
    assert ('<td class="pa-cell pa-inconclusive" title="smollm2-135m-instruct: 0.61 · inconclusive '
            '(no interval saved (an older run): rerun the chapter)">0.61</td>') in md
    assert md.count('<td class="pa-cell pa-inconclusive"') == 1 and md.count('<td class="pa-cell pa-partly"') == 1
    assert '<a href="#claim-c4" title="cos(Assistant Axis, PC1) at the middle layer">C4 cos(axis, PC1), middle layer</a>' in md
    assert '<span id="claim-c4"></span>**C4. cos(Assistant Axis, PC1) at the middle layer**' in md
    assert "{doc}`../notebooks/02_assistant_axis`, `cos_axis_pc1_middle`, resampling roles): *reproduced* if" in md
    # chapters not staged as .ipynb are named, not linked (a {doc} to a missing page fails -W)
    assert "`07_capping` (not in this build)" in md and "{doc}`../notebooks/07_capping`" not in md
    assert "- 02_assistant_axis, `qwen2.5-coder-0.5b-instruct`: preset `tiny`, saved " in md
    assert f"- 02_assistant_axis, `{SMOL}`: preset `book` (not this build's `tiny`: an earlier run), saved " in md
    for status in ("reproduced", "partly", "not reproduced here", "inconclusive", "not yet run"):
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
    toc = {"root": "book/intro", "parts": [
        {"caption": "a", "chapters": [{"file": "book/dashboard"}, {"file": "notebooks/00_quickstart"}]},
        {"caption": "b", "chapters": [{"file": "notebooks/02_assistant_axis",
                                       "sections": [{"file": "notebooks/02_assistant_axis--qwen2.5-coder-0.5b-instruct"},
                                                    {"file": "notebooks/02_assistant_axis--smollm2-135m-instruct"}]}]},
        {"caption": "c", "chapters": [{"file": "notebooks/07_capping"}]}]}
    assert _prune_toc(toc, tmp_path) == ["notebooks/00_quickstart", "notebooks/02_assistant_axis--smollm2-135m-instruct",
                                         "notebooks/07_capping"]
    assert toc["parts"] == [{"caption": "a", "chapters": [{"file": "book/dashboard"}]},
                            {"caption": "b", "chapters": [{"file": "notebooks/02_assistant_axis", "sections": [
                                {"file": "notebooks/02_assistant_axis--qwen2.5-coder-0.5b-instruct"}]}]}]

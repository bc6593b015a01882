"""Every chapter executes with tiny parameters through papermill, the book builds with -n -W, and the
results the chapters saved fill every claim's cell the build could fill.

The build is the session fixture ``built`` (tests/conftest.py), shared with tests/test_site.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from persona_axis.claims.registry import chapters, gaps
from persona_axis.claims.results import Results
from persona_axis.site.build import notebooks

pytestmark = [pytest.mark.notebooks, pytest.mark.real_model]


def test_every_notebook_executed(built: Path) -> None:
    records = json.loads((built / "execution.json").read_text())
    assert {r["name"].split("--")[0] for r in records} == {nb.stem for nb in notebooks()}
    assert all(r["ok"] for r in records)
    for r in records:
        executed = json.loads((built / "src" / "notebooks" / f"{r['name']}.ipynb").read_text())
        code = [c for c in executed["cells"] if c["cell_type"] == "code"]
        assert code and all(c.get("execution_count") for c in code)
        assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))


def test_site_has_every_chapter_with_figures(built: Path) -> None:
    html = built / "html"
    assert (html / "index.html").exists()
    for nb in notebooks():
        page = html / "notebooks" / f"{nb.stem}.html"
        assert page.exists(), page
    quick = (html / "notebooks" / "00_quickstart.html").read_text()
    assert quick.count("<img") >= 2  # the projection strip and the capping bars
    assert "rollout/s" not in quick and "%|" not in quick  # progress bars stay in the terminal (stderr)
    # the banner of its run
    assert "This page was run at the <strong>tiny</strong> preset from commit" in quick
    for nb in notebooks():  # each chapter links its executed notebook and the data behind its figures
        page = (html / "notebooks" / f"{nb.stem}.html").read_text()
        assert f'{nb.stem}.ipynb"' in page and "_downloads/" in page, nb.stem
    assert (
        html
        / "notebooks"
        / "figure-data"
        / "01_persona_space"
        / "smollm2-135m-instruct"
        / "fig-persona-map.csv"
    ).is_file()
    assert 'href="figure-data/00_quickstart/smollm2-135m-instruct/fig-quickstart-strip.csv"' in quick
    persona = (html / "notebooks" / "01_persona_space.html").read_text()
    assert 'id="persona-map-interactive"' in persona and "_static/plotly.min.js" in persona
    assert (html / "_static" / "plotly.min.js").is_file() and "plotly.min.js" not in quick
    status = status_rows((html / "book" / "status.html").read_text())
    records = json.loads((built / "execution.json").read_text())
    assert sorted(status) == sorted(r["name"] for r in records)
    assert {name: s for name, s in status.items() if s != "ok"} == {}  # the status page lists no failure
    # the other model's pages of chapters 1 and 2, listed under their chapter
    assert (html / "notebooks" / "01_persona_space--qwen2.5-coder-0.5b-instruct.html").exists()
    axis_page = (html / "notebooks" / "02_assistant_axis.html").read_text()
    assert "qwen2.5-coder-0.5b-instruct" in axis_page and "smollm2-135m-instruct" in axis_page


def status_rows(page: str) -> dict[str, str]:
    """``notebook -> status`` ("ok" or "failed") from the status page's execution table."""
    rows = re.findall(r'<span class="doc">([^<]+)</span></a></p></td>\s*<td><p>([^<]+)</p></td>', page)
    # Sphinx typesets "--" as an en dash
    return {name.replace("\u2013", "--"): status for name, status in rows}


def test_saved_results_fill_every_cell_the_build_ran(built: Path) -> None:
    """Each chapter that ran saved, under the keys the claims registry reads, a finite number with its
    interval for every claim and model it applies to: no cell the build could fill reads "not yet run"."""
    ran = sorted(
        {r["name"].split("--")[0] for r in json.loads((built / "execution.json").read_text()) if r["ok"]}
    )
    assert gaps(Results.load(chapters(), root=built / "artifacts"), ran) == []

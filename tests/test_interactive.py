"""Interactive figures, their data, plotly.js in the site, the course plan, and the browser check of hovers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import need_chromium
from persona_axis.site.check import check_site
from persona_axis.site.course import SESSIONS, exercises, render_plan
from persona_axis.site.timing import record_timings
from persona_axis.site.plotcheck import INTERACTIVE
from persona_axis.site.report import Problem
from persona_axis.site.sphinx_plotly import plotly_js
from persona_axis.viz import figdata
from persona_axis.viz.interactive import (
    opening,
    persona_map_3d,
    persona_map_figure,
    role_details,
    show,
    trajectory_figure,
)

ROOT = Path(__file__).resolve().parents[1]


def rollouts_table() -> pd.DataFrame:
    rows = [
        ("role", "pirate", 3, "Arr, the sea <is> my home & always was."),
        ("role", "pirate", 1, "As an AI, I sail nowhere."),
        ("role", "analyst", 1, "I am an AI assistant who analyses data."),
        ("role", "analyst", 2, "Numbers, mostly."),
        ("role", "ghost", 3, "Boo."),
        ("default", "default", None, "Hello! How can I help?"),
    ]
    return pd.DataFrame(rows, columns=["group", "name", "label", "response"])


def details() -> pd.DataFrame:
    return role_details(
        rollouts_table(),
        ["pirate", "analyst", "ghost"],
        [3, None, 3],
        {"pirate": "fictional", "analyst": "profession", "ghost": "mythical"},
    )


def test_role_details_count_labels_and_pick_an_answer() -> None:
    d = details()
    assert d["counts"].tolist() == ["0:0 1:1 2:0 3:1", "0:0 1:1 2:1 3:0", "0:0 1:0 2:0 3:1"]
    assert d.loc[0, "opening"].startswith("Arr")  # the answer with the vector's label
    assert d.loc[1, "opening"] == "Numbers, mostly."  # no label: the best-labelled answer
    assert opening("a <b> & c") == "a &lt;b&gt; &amp; c"
    assert opening("word " * 100, chars=40).endswith("…") and "<br>" in opening(
        "word " * 100, chars=100, width=30
    )


def test_persona_map_hover_pickers_and_default() -> None:
    scores = np.arange(12, dtype=float).reshape(3, 4)
    fig = persona_map_figure(
        scores, details(), [0.5, -0.2, 0.1], default=[1.0, 2.0, 3.0, 4.0], colour_label="cos"
    )
    main = fig.data[0]
    assert list(main.x) == [0, 4, 8] and list(main.y) == [1, 5, 9]
    assert main.customdata[0][0] == "pirate" and main.customdata[0][2] == "0:0 1:1 2:0 3:1"
    assert "&lt;is&gt;" in main.customdata[0][3] and "judge labels" in main.hovertemplate
    assert [t.name for t in fig.data[1:]] == ["fictional", "profession", "mythical", "default persona"]
    assert fig.data[-1].marker.symbol == "star" and list(fig.data[-1].x) == [1.0]
    pcs, colours = fig.layout.updatemenus
    assert [b.label for b in pcs.buttons] == ["PC1 / PC2", "PC1 / PC3", "PC2 / PC3"]
    x13, y13 = pcs.buttons[1].args[0]["x"], pcs.buttons[1].args[0]["y"]
    # every trace moves, the star too
    assert x13[0] == [0, 4, 8] and y13[0] == [2, 6, 10] and y13[-1] == [3.0]
    assert colours.buttons[1].args[0]["visible"] == [False, True, True, True, True]
    with pytest.raises(ValueError, match="one row per role"):
        persona_map_figure(scores[:2], details(), [0.0, 0.0, 0.0])
    fig3 = persona_map_3d(scores, details(), [0.5, -0.2, 0.1], default=[1.0, 2.0, 3.0])
    assert fig3.data[0].type == "scatter3d" and list(fig3.data[0].z) == [2, 6, 10]


def test_show_gives_lab_and_site_renderings() -> None:
    bundle = show(persona_map_figure(np.eye(3), details(), [0.0, 1.0, 0.5]), "map-a")._repr_mimebundle_()
    assert bundle["application/vnd.plotly.v1+json"]["data"][0]["type"] == "scatter"
    html = bundle["text/html"]
    assert 'id="map-a"' in html and 'class="plotly-graph-div"' in html and "Plotly.newPlot" in html
    assert "cdn" not in html.lower() and "<script src" not in html  # plotly.js comes from the site
    with pytest.raises(ValueError, match="figure name"):
        show(None, "a b")


def test_figure_data_saves_csv_and_links_it_in_a_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path / "art"))
    monkeypatch.delenv(figdata.SITE_DATA_ENV, raising=False)
    md = figdata.figure_data("fig-x", {"a": 1.0, "b": 2.5}, chapter="01_x", model="org/m")
    saved = tmp_path / "art" / "results" / "01_x" / "data" / "org_m" / "fig-x.csv"
    assert pd.read_csv(saved).to_dict("list") == {"name": ["a", "b"], "value": [1.0, 2.5]}
    assert str(saved) in md.data
    site = tmp_path / "src" / "notebooks" / "figure-data"
    monkeypatch.setenv(figdata.SITE_DATA_ENV, str(site))
    md = figdata.figure_data("fig-x", pd.DataFrame({"x": [1, 2]}), chapter="01_x", model="org/m")
    assert "[fig-x.csv](figure-data/01_x/org_m/fig-x.csv)" in md.data
    assert (site / "01_x" / "org_m" / "fig-x.csv").read_text() == saved.read_text() == "x\n1\n2\n"
    with pytest.raises(ValueError, match="empty"):
        figdata.figure_data("fig-y", pd.DataFrame(), chapter="01_x", model="m")
    # from the figure's own cell: the same file, the link glued (not displayed) as <name>-data
    import myst_nb

    glued: dict[str, tuple[object, bool]] = {}
    monkeypatch.setattr(
        myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, (value, display))
    )
    assert figdata.glue_figure_data("fig-z", pd.DataFrame({"y": [3]}), chapter="01_x", model="org/m") is None
    value, shown = glued["fig-z-data"]
    assert shown is False and "[fig-z.csv](figure-data/01_x/org_m/fig-z.csv)" in value.data  # type: ignore[attr-defined]
    assert (site / "01_x" / "org_m" / "fig-z.csv").read_text() == "y\n3\n"


def test_course_plan_lists_chapters_goals_times_and_exercises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    chapters = {c for s in SESSIONS for c in s.chapters}
    # every chapter in a session
    assert chapters == {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md")}
    assert exercises(ROOT / "notebooks" / "00_quickstart.md")[0] == ("ex-quickstart-1", "Predict, then check")
    times = record_timings(
        [
            {"name": "00_quickstart", "seconds": 30.0, "ok": True, "parameters": {"preset": "tiny"}},
            {
                "name": "01_persona_space--qwen",
                "seconds": 9.0,
                "ok": True,
                "parameters": {"preset": "tiny", "model": "qwen"},
                "variant": {"model": "qwen"},
            },
            {"name": "01_persona_space", "seconds": 300.0, "ok": False, "parameters": {"preset": "tiny"}},
        ],
        "tiny",
    )
    record_timings(
        [{"name": "00_quickstart", "seconds": 200.0, "ok": True, "parameters": {"preset": "quick"}}], "quick"
    )
    assert set(times["presets"]["tiny"]) == {"00_quickstart", "01_persona_space--qwen"}  # not the failed page
    plan = render_plan(ROOT / "notebooks", {"00_quickstart"})
    assert "| `00_quickstart` | 30 s | 3.3 min |" in plan
    assert "| `01_persona_space` | not measured | not measured |" in plan
    assert "{ref}`Predict, then check <ex-quickstart-1>`" in plan and "ex-persona-1" not in plan
    assert "{doc}`../notebooks/00_quickstart`" in plan and "`01_persona_space` (not in this build)" in plan
    assert plan.count("### Session") == len(SESSIONS)


def test_sphinx_plotly_ships_the_script_to_pages_with_a_figure(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text("extensions = ['persona_axis.site.sphinx_plotly']\n")
    (src / "index.rst").write_text(
        "Title\n=====\n\n.. toctree::\n\n   plain\n\n.. raw:: html\n\n"
        '   <div id="f" class="plotly-graph-div"></div>\n'
    )
    (src / "plain.rst").write_text("Plain\n=====\n\nNo figure.\n")
    res = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src), str(src / "_build")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    out = src / "_build"
    assert (out / "_static" / "plotly.min.js").read_bytes() == plotly_js().read_bytes()
    assert "_static/plotly.min.js" in (out / "index.html").read_text()
    assert "plotly.min.js" not in (out / "plain.html").read_text()


def test_site_check_draws_and_hovers_interactive_figures(tmp_path: Path) -> None:
    """A page with a working figure and a div that plotly never drew: only the second is reported."""
    need_chromium()
    site = tmp_path / "html"
    (site / "_static").mkdir(parents=True)
    shutil.copyfile(plotly_js(), site / "_static" / "plotly.min.js")
    good = show(
        trajectory_figure(
            pd.DataFrame(
                {
                    "turn": [0, 1],
                    "condition": ["plain", "plain"],
                    "projection": [1.0, 2.0],
                    "user": ["hi", "bye"],
                    "reply": ["hello <there>", "see you"],
                }
            ),
            threshold=1.5,
        ),
        "good-fig",
    ).html()
    head = (
        '<meta charset="utf-8"><link rel="icon" href="data:,"><script src="_static/plotly.min.js"></script>'
    )
    (site / "index.html").write_text(
        f"<!DOCTYPE html><html><head>{head}</head><body>{good}"
        '<div id="dead-fig" class="plotly-graph-div"></div></body></html>'
    )
    report = check_site(site, screenshots=tmp_path / "shots", shoot=["index.html"])
    assert report.problems == [
        Problem(
            "index.html", INTERACTIVE, "dead-fig: not drawn (is plotly.js loaded? 0 traces, no SVG or canvas)"
        )
    ], report.summary()
    assert report.interactive == 2
    assert report.tooltips["index.html#good-fig"].startswith("turn 1: 1.000 user: hi reply: hello <there>")
    shot = report.screenshots["index.html#good-fig"]
    assert shot == tmp_path / "shots" / "index-good-fig-tooltip.png" and shot.read_bytes()[:4] == b"\x89PNG"
    assert json.dumps(report.summary())  # printable

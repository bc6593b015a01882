"""The book build: the chapters' sources (a parameters cell first, no definitions, the default preset), the
variant pages' labels, estimates and progress, a failed chapter's page, the browser check where users are.

The two builds here are of a mini book of two tiny chapters (one raises), not of the book: each takes
about half a minute, so they are in the book tier (marker ``notebooks``); the rest is model-free.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from persona_axis.core.presets import PRESET_ENV, default_preset
from persona_axis.site import build, check
from persona_axis.site.build import notebooks
from persona_axis.site.check import find_chromium
from persona_axis.site.pages import suffix_labels
from persona_axis.site.timing import (
    FIXED_SECONDS,
    MEASURED,
    SITE,
    Cost,
    Estimate,
    Progress,
    cost,
    estimate,
    load_timings,
    record_timings,
    work_files,
)

ROOT = Path(__file__).resolve().parents[1]


def test_suffix_labels_renames_definitions_and_own_references_only() -> None:
    nb = nbformat.v4.new_notebook()
    md = nbformat.v4.new_markdown_cell(
        "(sec-a)=\n## A\n\nSee {numref}`fig-a`, {ref}`sec-a` and {ref}`judge-validation`.\n\n"
        ":::{exercise}\n:label: ex-a-1\n\nDo it.\n:::\n\n:::{solution} ex-a-1\n:class: dropdown\n\nDone.\n:::\n"
        "Also `fig-ab` and fig-a-like words stay."
    )
    code = nbformat.v4.new_code_cell(
        "plot()", metadata={"mystnb": {"figure": {"name": "fig-a", "caption": "A."}}}
    )
    nb.cells = [md, code]
    assert suffix_labels(nb, "--m") == {"sec-a", "fig-a", "ex-a-1"}
    assert code.metadata["mystnb"]["figure"]["name"] == "fig-a--m"
    src = nb.cells[0].source
    assert "(sec-a--m)=" in src and "{numref}`fig-a--m`" in src and "{ref}`sec-a--m`" in src
    assert "{ref}`judge-validation`" in src  # defined on another page
    assert ":label: ex-a-1--m" in src and "{solution} ex-a-1--m" in src
    assert "`fig-ab`" in src and "fig-a-like" in src
    empty = nbformat.v4.new_notebook()
    empty.cells = [nbformat.v4.new_markdown_cell("no labels")]
    assert suffix_labels(empty, "--m") == set() and empty.cells[0].source == "no labels"


def test_notebooks_start_with_a_parameters_cell_and_define_nothing() -> None:
    import jupytext

    for nb_path in notebooks():
        nb = jupytext.read(nb_path)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), nb_path
        for c in code:
            assert not any(line.startswith(("def ", "class ")) for line in c.source.splitlines()), nb_path
            assert "sys.path" not in c.source and "pip install" not in c.source


# --- the default preset -------------------------------------------------------------------------


def test_default_preset_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRESET_ENV, raising=False)
    assert default_preset() == "book"
    monkeypatch.setenv(PRESET_ENV, "quick")
    assert default_preset() == "quick"
    monkeypatch.setenv(PRESET_ENV, "quik")
    with pytest.raises(
        ValueError, match="PERSONA_AXIS_PRESET='quik' is not a preset: set it to one of tiny, quick"
    ):
        default_preset()


def test_every_chapter_takes_its_default_preset_from_the_environment() -> None:
    import jupytext

    for nb_path in notebooks():
        params = next(c for c in jupytext.read(nb_path).cells if c.cell_type == "code").source
        assert "\npreset = default_preset()" in params, nb_path  # not a preset typed in the chapter


# --- estimates and progress ---------------------------------------------------------------------


def _timings(**pages: dict[str, Any]) -> dict[str, Any]:
    return {"presets": {"quick": pages}}


def test_estimate_scales_the_measured_cost_by_the_speed_figure() -> None:
    hand = next(m for m in MEASURED if m.preset == "quick")
    got = cost("00_quickstart", "quick", "float32", timings={"presets": {}})
    assert got is not None and got.seconds == hand.seconds["00_quickstart"] and got.tok_s == hand.tok_s
    assert "measured by hand" in got.source
    # twice as fast: the fixed seconds as measured, half of the rest
    fixed = FIXED_SECONDS
    assert got.at(2 * hand.tok_s) == pytest.approx(fixed + (hand.seconds["00_quickstart"] - fixed) / 2)
    assert Cost(12.0, 100.0, "float32", "x").at(400.0) == 12.0  # a page shorter than the fixed part
    assert got.at(None) == got.seconds  # no figure today: the time as measured
    # this machine's own timing wins over the hand-measured one; a cached rerun does not replace a fresh run
    mine = _timings(
        **{"00_quickstart": {"seconds": 50.0, "tok_s": 100.0, "dtype": "float32", "when": "d", "fresh": True}}
    )
    assert cost("00_quickstart", "quick", "float32", mine) == Cost(50.0, 100.0, "float32", "this machine d")
    plan = estimate(
        ["00_quickstart", "not_a_page", SITE], "quick", tok_s=200.0, dtype="float32", timings=mine
    )
    assert plan.seconds("00_quickstart") == 35.0 and plan.seconds("not_a_page") is None  # 20 + 30 / 2
    total, unknown = plan.total()
    site = min(fixed, hand.seconds[SITE])
    assert unknown == 1 and total == pytest.approx(
        35.0 + site + (hand.seconds[SITE] - site) * hand.tok_s / 200.0
    )
    text = plan.text()
    assert (
        "at 200 tok/s (float32)" in text and "35 s  00_quickstart" in text and "50 s at 100 tok/s [1]" in text
    )
    assert "not measured at this preset" in text and "without 1 page not measured" in text
    assert "  [1] this machine d\n  [2] measured by hand" in text  # each source once, numbered


def test_timings_keep_the_fresh_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    base = {"ok": True, "parameters": {"preset": "quick"}}
    record_timings([{**base, "name": "a", "seconds": 300.0, "fresh": True}], "quick", 120.0, "float32")
    doc = record_timings(
        [
            {**base, "name": "a", "seconds": 4.0, "fresh": False},
            {**base, "name": "b", "seconds": 4.0, "fresh": False},
            {**base, "name": "c", "seconds": 1.0, "parameters": {"preset": "quick", "seed": 1}},
        ],
        "quick",
        130.0,
        "float32",
    )
    assert doc["presets"]["quick"]["a"]["seconds"] == 300.0 and doc["presets"]["quick"]["a"]["tok_s"] == 120.0
    assert doc["presets"]["quick"]["b"] == {**doc["presets"]["quick"]["b"], "seconds": 4.0, "fresh": False}
    assert "c" not in doc["presets"]["quick"]  # run with a parameter of its own: not the preset's page
    assert load_timings() == doc and (tmp_path / "timings.json").is_file()
    assert cost("b", "quick", timings=doc).source.endswith("a rerun from the cache")  # type: ignore[union-attr]
    # a fresh run is one that stored something outside the results
    (tmp_path / "results" / "ch").mkdir(parents=True)
    (tmp_path / "results" / "ch" / "m.json").write_text("{}")
    n = work_files(tmp_path)
    (tmp_path / "rollouts" / "abc").mkdir(parents=True)
    (tmp_path / "rollouts" / "abc" / "chunk-00000.jsonl").write_text("")
    assert work_files(tmp_path) == n + 1


def test_progress_prints_elapsed_remaining_and_estimate_against_actual() -> None:
    now = [0.0]
    plan = Estimate(
        "quick",
        100.0,
        "float32",
        ["a", "b", "c"],
        {"a": Cost(60.0, 100.0, "float32", "x"), "b": Cost(580.0, 50.0, "float32", "y")},
    )
    out = io.StringIO()
    progress = Progress(plan, out=out, clock=lambda: now[0])
    progress.start("a")
    now[0] = 80.0
    progress.done("a", 80.0)
    progress.start("b")
    now[0] = 380.0
    progress.done("b", 300.0, ok=False)
    lines = out.getvalue().splitlines()
    # b: 580 s measured at 50 tok/s is 300 s at today's 100 (20 s fixed, 560 s halved)
    assert (
        lines[0] == "[1/3] a: started; estimate 60 s; elapsed 0 s, remaining ~6.0 min + 1 page not measured"
    )
    assert (
        lines[1]
        == "[1/3] a: ok in 80 s (estimate 60 s); elapsed 80 s, remaining ~5.0 min + 1 page not measured"
    )
    assert (
        lines[2]
        == "[2/3] b: started; estimate 5.0 min; elapsed 80 s, remaining ~5.0 min + 1 page not measured"
    )
    assert (
        lines[3]
        == "[2/3] b: FAILED in 5.0 min (estimate 5.0 min); elapsed 6.3 min, remaining ~0 s + 1 page not measured"
    )
    summary = progress.summary().splitlines()
    assert summary[2].split() == ["a", "60", "s", "80", "s", "1.33"]
    assert summary[3].split() == ["b", "5.0", "min", "5.0", "min", "1.00", "(failed)"]
    assert summary[-1].split() == ["total", "6.0", "min", "6.3", "min", "1.06"]
    progress.done("c", 30.0)  # a page without an estimate: in the actual total, not in the ratio
    assert progress.summary().splitlines()[-1].split() == [
        "total",
        "6.0",
        "min+?",
        "6.8",
        "min",
        "1.06",
        "(the",
        "ratio",
        "over",
        "the",
        "2",
        "measured",
        "pages)",
    ]


# --- a build that survives a failed chapter, and the browser check where users are ----------------

_CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# {title}

```{{code-cell}} ipython3
:tags: [parameters]

preset = "book"
```

{body}
"""

_OK_BODY = """(ok-section)=
## It runs

```{code-cell} ipython3
import sys
print(f"progress: {25 * 2}%", file=sys.stderr)  # a long cell's progress: the terminal's, never the page's
print("the ok chapter ran with", preset)
```
"""

_FAIL_BODY = """(fail-section)=
## It fails

:::{prf:definition} A thing
:label: def-fail

Defined here.
:::

```{code-cell} ipython3
raise RuntimeError("planted failure at preset " + preset)
```

```{code-cell} ipython3
---
mystnb:
  figure:
    name: fig-fail
    caption: Never drawn.
---
import matplotlib.pyplot as plt
plt.plot([0, 1])
```

See {numref}`fig-fail`, and {ref}`this section <fail-section>`; {ref}`an unreferenced label <fail-only-here>`.

(fail-only-here)=
## Only cited here
"""


def text_of(page: Path) -> str:
    """A built page's text, tags dropped and spaces collapsed (Sphinx splits inline code into spans)."""
    return " ".join(re.sub(r"<[^>]+>", " ", page.read_text()).split()).replace(" :", ":")


def mini_book(root: Path) -> Path:
    """A book of two chapters, one of which raises, and prose pages that point into the failing one."""
    (root / "notebooks").mkdir(parents=True)
    (root / "book").mkdir()
    shutil.copy2(ROOT / "_config.yml", root / "_config.yml")
    shutil.copy2(ROOT / "book" / "references.bib", root / "book" / "references.bib")
    (root / "_toc.yml").write_text(
        yaml.safe_dump(
            {
                "format": "jb-book",
                "root": "book/intro",
                "chapters": [
                    {"file": "notebooks/00_ok"},
                    {"file": "notebooks/01_fail"},
                    {"file": "book/status"},
                ],
            }
        )
    )
    (root / "book" / "intro.md").write_text(
        "# Mini book\n\nThe failing chapter's {ref}`section <fail-section>`, its {numref}`fig-fail` and its "
        "{prf:ref}`def-fail`; the other chapter's {ref}`section <ok-section>`.\n"
    )
    (root / "book" / "status.md").write_text("# Execution status\n\n<!-- EXECUTION-TABLE -->\n")
    (root / "notebooks" / "00_ok.md").write_text(_CHAPTER.format(title="An ok chapter", body=_OK_BODY))
    (root / "notebooks" / "01_fail.md").write_text(
        _CHAPTER.format(title="A failing chapter", body=_FAIL_BODY)
    )
    return root


@pytest.mark.notebooks
def test_a_failed_chapter_gets_a_page_the_site_builds_and_the_build_exits_nonzero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    root = mini_book(tmp_path / "book")
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path / "artifacts"))
    out = tmp_path / "out"
    rc = build.main(["--root", str(root), "--build-dir", str(out), "--preset", "tiny", "--check", "auto"])
    printed = capfd.readouterr()
    print(printed.out, printed.err)  # shown with -s: what a user sees in the terminal
    assert rc == 1, printed.out + printed.err
    records = {r["name"]: r for r in json.loads((out / "execution.json").read_text())}
    assert records["00_ok"]["ok"] and not records["01_fail"]["ok"]
    assert records["01_fail"]["error"] == "RuntimeError: planted failure at preset tiny"
    html = out / "html"
    page = (html / "notebooks" / "01_fail.html").read_text()
    assert "This chapter failed in this build" in page and "planted failure at preset tiny" in page
    # stand-ins for references
    assert 'id="fail-section"' in page and 'id="fig-fail"' in page and "def-fail" in page
    assert "fail-only-here" not in page  # cited only by the chapter itself: no stand-in
    assert list(html.glob("_downloads/*/01_fail.failed.ipynb"))  # the executed copy, with the traceback
    status = text_of(html / "book" / "status.html")
    assert (
        "1 page failed in this build" in status and "RuntimeError: planted failure at preset tiny" in status
    )
    ok_page = (html / "notebooks" / "00_ok.html").read_text()
    assert (
        "the ok chapter ran with tiny" in ok_page
        and "This page was run at the <strong>tiny</strong> preset" in ok_page
    )
    assert "progress: 50%" not in ok_page and "progress: 50%" in printed.err  # the terminal's, not the page's
    assert (
        "This book was built at the <strong>tiny</strong> preset"
        in (html / "book" / "intro.html").read_text()
    )
    # the estimate first, a line as each page starts and ends, estimate against actual at the end
    assert "estimated time of each page at preset tiny" in printed.out
    assert "[1/4] 00_ok: started" in printed.out and "[2/4] 01_fail: FAILED in" in printed.out
    assert "estimate against actual (preset tiny)" in printed.out
    assert "01_fail FAILED: RuntimeError: planted failure at preset tiny" in printed.err
    if find_chromium() is not None:  # the site was checked, and the stand-ins left no broken link
        assert "no problems" in printed.out, printed.out
    else:
        assert "browser check SKIPPED" in printed.err
    assert not (root / "_build").exists() and sorted(p.name for p in root.iterdir()) == [
        "_config.yml",
        "_toc.yml",
        "book",
        "notebooks",
    ]


@pytest.mark.notebooks
def test_without_chromium_the_check_is_skipped_with_a_note_and_the_site_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    root = mini_book(tmp_path / "book")
    (root / "notebooks" / "01_fail.md").unlink()
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    toc["chapters"] = [c for c in toc["chapters"] if c["file"] != "notebooks/01_fail"]
    (root / "_toc.yml").write_text(yaml.safe_dump(toc))
    (root / "book" / "intro.md").write_text("# Mini book\n\nThe chapter's {ref}`section <ok-section>`.\n")
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setattr(check, "find_chromium", lambda: None)  # a machine without any Chromium
    out = tmp_path / "out"
    rc = build.main(["--root", str(root), "--build-dir", str(out), "--preset", "tiny", "--check", "auto"])
    printed = capfd.readouterr()
    print(printed.out, printed.err)  # shown with -s: what a user without Chromium sees
    assert rc == 0, printed.out + printed.err
    assert (out / "html" / "notebooks" / "00_ok.html").is_file()
    assert "browser check SKIPPED: no Chromium on this machine" in printed.err
    assert "make chromium" in printed.err and "playwright install chromium" in printed.err
    # make test still needs one
    assert check.check_or_skip(out / "html", out / "shots", "require")[0] is False


def test_find_chromium_honours_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    browser = tmp_path / "my-chrome"
    browser.write_text("")
    monkeypatch.setenv(check.CHROMIUM_ENV, str(browser))
    assert check.find_chromium() == str(browser)
    monkeypatch.setenv(check.CHROMIUM_ENV, str(tmp_path / "nothing-here"))
    assert check.find_chromium() is None  # named, but not there: not another browser in its place
    ok, note = check.check_or_skip(tmp_path, tmp_path / "shots", "auto")
    assert ok and note.startswith(
        f"browser check SKIPPED: {check.CHROMIUM_ENV}={tmp_path / 'nothing-here'} names no file"
    )

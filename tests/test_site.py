"""The browser check of the site: on hand-made sites with known faults, and on the tiny build of the book.

The checker opens pages in Debian's Chromium (``make chromium`` installs it) through Playwright.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import need_chromium
from persona_axis.site.check import DEFAULT_SCREENSHOTS, check_site, main, screenshot_name
from persona_axis.site.pages import png
from persona_axis.site.report import BROKEN_FIGURE, BROKEN_LINK, CONSOLE_ERROR, MISSING_PAGE, Ignore, Problem

ICON = '<link rel="icon" href="data:,">'  # no implicit /favicon.ico request: the oracles stay exact


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser the checks open pages in (set up before the build of ``built``, so a missing one shows first)."""
    return need_chromium()


def write_site(root: Path, pages: dict[str, str], files: dict[str, bytes] | None = None) -> Path:
    """Write ``pages`` (site path -> body HTML) as small HTML documents, and ``files`` as they are."""
    for name, body in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"<!DOCTYPE html><html><head><meta charset='utf-8'>{ICON}<title>{name}</title></head>"
            f"<body>{body}</body></html>"
        )
    for name, data in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_clean_site_reports_nothing(chromium: str, tmp_path: Path) -> None:
    # laid out like a Jupyter Book: index.html redirects into book/, pages link across folders
    site = write_site(
        tmp_path / "html",
        {
            "book/intro.html": '<h1 id="top-title">Intro</h1><a href="#top-title">here</a> '
            '<a href="../notebooks/ch1.html#results">results</a> <a href="../notebooks/">folder</a> '
            '<a href="https://example.org/">an external link</a> <a href="mailto:x@example.org">mail</a> '
            '<a href="../files/data.csv">data</a> <a href="#">top</a>',
            "notebooks/ch1.html": '<h2 id="results">Results</h2><img src="../_images/fig.png" alt="a figure">'
            '<img src="../_images/lazy.png" loading="lazy" style="margin-top:3000px">'
            '<a href="../book/intro.html">back</a>',
            "notebooks/index.html": "<p>the folder's page</p>",
        },
        files={
            "_images/fig.png": png(40, 30),
            "_images/lazy.png": png(8, 8),
            "files/data.csv": b"a,b\n1,2\n",
        },
    )
    (site / "index.html").write_text(f'<meta http-equiv="Refresh" content="0; url=book/intro.html" />{ICON}')
    report = check_site(site, screenshots=tmp_path / "shots", shoot=["notebooks/ch1.html"])
    assert report.problems == [] and report.ignored == [], report.summary()
    assert report.ok
    assert report.pages == ["book/intro.html", "index.html", "notebooks/ch1.html", "notebooks/index.html"]
    assert report.figures == 2
    shot = tmp_path / "shots" / "notebooks-ch1.png"
    assert report.screenshots == {"notebooks/ch1.html": shot}
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", shot.read_bytes()[16:24])
    assert width == 1280 and height > 3000  # the whole page, not the window


def test_every_kind_of_fault_is_reported_exactly(chromium: str, tmp_path: Path) -> None:
    site = write_site(
        tmp_path / "html",
        {
            "index.html": '<a href="b.html#sec">fine</a> <a href="b.html#nowhere">broken anchor</a> '
            '<a href="#here">fine</a> <span id="here"></span> <a href="#gone">broken here</a> '
            '<a href="gone.html">missing page</a> <a href="files/nope.csv">missing file</a> '
            '<a href="console.html">c</a> <a href="figure.html">f</a>',
            "b.html": '<h2 id="sec">Section</h2><a href="index.html">home</a>',
            "console.html": "<script>console.error('x')</script><script>throw new Error('boom')</script>"
            '<script src="nope.js"></script><script src="https://cdn.example.org/lib.js"></script>',
            "figure.html": '<img src="ok.png"><img src="missing.png"><img src="empty.png">',
            "orphan.html": "<p>linked from nowhere, still opened</p>",
        },
        files={"ok.png": png(4, 4), "empty.png": b""},
    )
    report = check_site(site)
    expected = {
        Problem("index.html", BROKEN_LINK, "b.html#nowhere -> no element with id 'nowhere' on b.html"),
        Problem("index.html", BROKEN_LINK, "#gone -> no element with id 'gone' on index.html"),
        Problem("index.html", BROKEN_LINK, "files/nope.csv -> HTTP 404"),
        Problem("gone.html", MISSING_PAGE, "HTTP 404; linked from index.html"),
        Problem("console.html", CONSOLE_ERROR, "console.error: x (at /console.html)"),
        Problem("console.html", CONSOLE_ERROR, "uncaught Error: boom"),
        Problem("console.html", CONSOLE_ERROR, "failed to load /nope.js: HTTP 404"),
        Problem(
            "console.html",
            CONSOLE_ERROR,
            "failed to load https://cdn.example.org/lib.js: blocked: the site must not need the network",
        ),
        Problem("figure.html", BROKEN_FIGURE, "missing.png: HTTP 404"),
        Problem("figure.html", BROKEN_FIGURE, "empty.png: loaded, but has no pixels"),
    }
    assert set(report.problems) == expected, report.summary()
    assert len(report.problems) == len(expected)  # each fault once
    assert not report.ok and report.ignored == []
    assert report.pages == ["b.html", "console.html", "figure.html", "gone.html", "index.html", "orphan.html"]
    assert report.figures == 3
    # a page asked for a screenshot that does not exist is missing too
    shots = check_site(site, screenshots=tmp_path / "shots", shoot=["b.html", "dashboard.html"])
    assert (
        Problem("dashboard.html", MISSING_PAGE, "HTTP 404; linked from the list of pages to photograph")
        in shots.problems
    )
    assert shots.screenshots == {"b.html": tmp_path / "shots" / "b.png"}


def test_known_problems_are_ignored_but_shown(chromium: str, tmp_path: Path) -> None:
    # what Sphinx 7 writes into every page unless persona_axis.site.sphinx_assets is enabled
    thebe = '<script>const THEBE_JS_URL = "x"</script>'
    site = write_site(tmp_path / "html", {"index.html": thebe + thebe})
    problem = Problem(
        "index.html",
        CONSOLE_ERROR,
        "uncaught SyntaxError: Identifier 'THEBE_JS_URL' has already been declared",
    )
    assert check_site(site).problems == [problem]  # not on the default ignore list
    rule = Ignore(CONSOLE_ERROR, r"THEBE_JS_URL", "a test rule")
    report = check_site(site, ignore=[rule])
    assert report.ok and report.ignored == [(problem, rule)]
    assert main([str(site), "--no-ignore"]) == 1  # the command line: exit code 1 on a problem


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no index.html"):
        check_site(tmp_path)
    write_site(tmp_path, {"index.html": ""})
    with pytest.raises(FileNotFoundError, match="make chromium"):
        check_site(tmp_path, chromium=str(tmp_path / "no-such-browser"))
    with pytest.raises(ValueError, match="unknown problem kind"):
        Problem("a.html", "typo", "")


def test_sphinx_assets_writes_each_inline_script_once(tmp_path: Path) -> None:
    """Without the extension Sphinx 7 writes sphinx-thebe's inline script twice; with it, once."""
    counts = {}
    for name, extensions in {
        "plain": ["sphinx_thebe"],
        "fixed": ["sphinx_thebe", "persona_axis.site.sphinx_assets"],
    }.items():
        src = tmp_path / name
        src.mkdir()
        (src / "conf.py").write_text(f"extensions = {extensions!r}\nthebe_config = {{}}\n")
        (src / "index.rst").write_text("Title\n=====\n\nText.\n")
        res = subprocess.run(
            [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src), str(src / "_build")],
            capture_output=True,
            text=True,
        )
        assert res.returncode == 0, res.stderr
        counts[name] = (src / "_build" / "index.html").read_text().count("const THEBE_JS_URL")
    assert counts["fixed"] == 1
    assert counts["plain"] in (1, 2)  # 2 on the Sphinx 7 that Jupyter Book 1 pins, 1 once Sphinx has the fix


@pytest.mark.notebooks
@pytest.mark.real_model
def test_built_site_opens_cleanly_in_chromium(chromium: str, built: Path) -> None:
    """Every page of the tiny build, in headless Chromium: no problem; screenshots under the build."""
    from PIL import Image

    report = check_site(built / "html", screenshots=built / "screenshots")
    print(report.summary())
    assert report.ok, report.summary()
    assert {
        "index.html",
        "book/dashboard.html",
        "notebooks/00_quickstart.html",
        "book/course.html",
        "notebooks/08_live_demo.html",
    } <= set(report.pages)
    assert report.figures >= 2
    # the interactive figures: drawn, and the persona map's tooltip names a role and its labels
    assert report.interactive >= 5
    tip = report.tooltips["notebooks/01_persona_space.html#persona-map-interactive"]
    assert "judge labels 0/1/2/3" in tip, tip
    assert "notebooks/08_live_demo.html#live-trajectory-recorded" in report.tooltips
    shot = report.screenshots["notebooks/01_persona_space.html#persona-map-interactive"]
    assert shot.name == "notebooks-01_persona_space-persona-map-interactive-tooltip.png" and shot.is_file()
    # the downloads: every chapter's executed notebook and the data behind its figures, all resolved
    assert report.downloads >= 2 * 9
    for page in DEFAULT_SCREENSHOTS:
        shot = built / "screenshots" / screenshot_name(page)
        assert report.screenshots[page] == shot and shot.is_file(), page
        with Image.open(shot) as im:
            assert im.format == "PNG" and im.width == 1280 and im.height >= 900
            colours = im.convert("RGB").getcolors(maxcolors=1_000_000)
            assert colours is None or len(colours) > 50, f"{shot} is nearly blank"
        assert shot.stat().st_size > 30_000, shot

"""Open every page of the built site in headless Chromium and report what a reader would run into.

    python -m persona_axis.site.check _build/html --screenshots _build/screenshots

The site is served on a free localhost port (``http.server`` in a thread), and every page is
opened in headless Chromium through Playwright (:func:`find_chromium`: ``$PERSONA_AXIS_CHROMIUM``,
Debian's ``/usr/bin/chromium`` or one on the PATH, or Playwright's own), each page in a fresh
browser context, so that it is checked as a reader who lands on it first would see it. Pages
are found by crawling from ``index.html`` along internal links, and every ``.html`` file on disk
is opened too. Four kinds of problem are reported, each as a :class:`Problem`:

``missing page``
    a page that an internal link (the table of contents in the sidebar included) points to,
    and that the server answers with an error (404); reported once, on the missing page,
    with the pages that link to it.
``broken link``
    on the linking page: an ``href`` to ``#anchor`` (on the same or another page of the site)
    where no element has that id, or a link to a local file that is not a page (a download,
    a source) that does not exist.
``console error``
    a message of type error in the browser console, an uncaught exception, or a failed
    request for a resource of the page. Requests that leave localhost are blocked, so the
    check does not depend on the machine's network: a page that needs one (a script from a
    CDN) is reported, because the book should read the same offline.
``figure not loading``
    an ``<img>`` (the figures in notebook outputs included) whose ``naturalWidth`` is 0
    once loading has finished; a failed request for that image is reported here only.
``interactive figure``
    a plotly figure that was not drawn, or a 2D one whose tooltip does not open when the
    mouse is moved onto its first point (``persona_axis.site.plotcheck``); on the pages that are
    photographed, the first figure is photographed again with its tooltip open.

Links to local files that are not pages (the data behind each figure, the executed notebooks
in ``_downloads/``) are fetched, and reported as broken links when they do not resolve.

Problems that are known and explained, and cannot be fixed from this repository's code, are
listed in :data:`IGNORED` with the reason; they are kept out of ``Report.problems`` but shown
in ``Report.ignored``. External links are never followed.

Example:
    >>> report = check_site(Path("_build/html"), screenshots=Path("_build/screenshots"))
    >>> report.ok, len(report.pages)
    (True, 22)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

from persona_axis.site.plotcheck import INTERACTIVE, check_plots
from persona_axis.site.report import (
    BROKEN_FIGURE,
    BROKEN_LINK,
    CONSOLE_ERROR,
    IGNORED,
    KINDS,
    MISSING_PAGE,
    Ignore,
    Problem,
    Report,
)
from persona_axis.site.serve import serve

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ENV",
    "CHROMIUM_FLAGS",
    "GET_CHROMIUM",
    "DEFAULT_SCREENSHOTS",
    "find_chromium",
    "check_site",
    "check_or_skip",
    "screenshot_name",
    "main",
]

#: Debian's Chromium (``apt-get install chromium``; ``make chromium`` does it on Debian). Another binary
#: can be named by the environment variable :data:`CHROMIUM_ENV` or ``--chromium``.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ENV = "PERSONA_AXIS_CHROMIUM"

#: What to do when :func:`find_chromium` finds none (printed by the check and by the book build).
GET_CHROMIUM = (
    "get one of: Debian or Ubuntu: `make chromium` (apt-get install chromium, with sudo unless root); "
    "macOS, other Linux, or without sudo: `.venv/bin/python -m playwright install chromium` (Playwright's own, "
    "in your user cache; `make chromium` does this off Debian); or name a Chrome or Chromium binary with "
    f"{CHROMIUM_ENV}=/path/to/chrome. Then check the built site with `make check`."
)

#: Flags for a headless run as root on a machine without a screen or network.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)

#: Pages photographed by default (when they exist): the dashboard, the quickstart, the persona
#: map (also with a tooltip open), the course page and the live demo's recorded session.
DEFAULT_SCREENSHOTS = (
    "book/dashboard.html",
    "notebooks/00_quickstart.html",
    "notebooks/01_persona_space.html",
    "book/course.html",
    "notebooks/08_live_demo.html",
)

#: File names that are pages (opened in the browser); other local links are only fetched.
_PAGE_SUFFIXES = ("", ".html", ".htm")

_VIEWPORT = {"width": 1280, "height": 900}
_LOAD_TIMEOUT_MS = 30_000
_IDLE_TIMEOUT_MS = 10_000


def screenshot_name(page: str) -> str:
    """File name of a page's screenshot: ``book/dashboard.html`` -> ``book-dashboard.png``."""
    return re.sub(r"\.html?$", "", page).replace("/", "-") + ".png"


def _exists(binary: str) -> bool:
    return Path(binary).is_file() or shutil.which(binary) is not None


def find_chromium() -> str | None:
    """The browser the check opens, or ``None`` if this machine has none (see :data:`GET_CHROMIUM`).

    In order: ``$PERSONA_AXIS_CHROMIUM`` (when set, only it: a name that is not there gives ``None``);
    Debian's :data:`CHROMIUM`; ``chromium`` or ``chromium-browser`` on the PATH; Playwright's own
    Chromium (``python -m playwright install chromium``), if Playwright is installed and has it.
    """
    named = os.environ.get(CHROMIUM_ENV, "").strip()
    if named:
        return named if _exists(named) else None
    for binary in (CHROMIUM, "chromium", "chromium-browser"):
        if _exists(binary):
            return shutil.which(binary) or binary
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as pw:
        own = str(pw.chromium.executable_path)
    return own if Path(own).is_file() else None


def _missing() -> str:
    """Why :func:`find_chromium` found none."""
    named = os.environ.get(CHROMIUM_ENV, "").strip()
    return f"{CHROMIUM_ENV}={named} names no file" if named else "no Chromium on this machine"


def _is_page(path: str) -> bool:
    return path.endswith("/") or Path(path).suffix in _PAGE_SUFFIXES


def _site_path(url: str) -> str:
    """``http://127.0.0.1:PORT/a/b.html?x#y`` -> ``a/b.html`` (a folder -> its ``index.html``)."""
    path = unquote(urlsplit(url).path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path


def _show(url: str, base: str) -> str:
    """A URL as printed in a problem: a site path for local ones, the URL itself otherwise."""
    return "/" + url[len(base) :] if url.startswith(base) else url


# JavaScript run in each page once it has loaded
_JS_FIGURES = """
async (ms) => {
  const imgs = Array.from(document.images);
  for (const img of imgs) if (img.loading === 'lazy') img.loading = 'eager';
  const done = Promise.all(imgs.map(img => img.complete ? null : new Promise(r => {
    img.addEventListener('load', r); img.addEventListener('error', r); })));
  await Promise.race([done, new Promise(r => setTimeout(r, ms))]);
  return imgs.map(img => ({src: img.currentSrc || img.src, attr: img.getAttribute('src') || '',
                           complete: img.complete, width: img.naturalWidth}));
}
"""
_JS_LINKS = """
() => ({
  links: Array.from(document.querySelectorAll('a[href], area[href]'))
              .map(a => ({href: a.getAttribute('href'), url: a.href})),
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id)
         .concat(Array.from(document.querySelectorAll('a[name]')).map(e => e.getAttribute('name'))),
})
"""


@dataclass
class _Visit:
    """What one page showed: its problems, links and ids (for the anchor check)."""

    status: int
    problems: list[Problem] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    redirect: str | None = None
    figures: int = 0
    interactive: int = 0
    tooltips: dict[str, str] = field(default_factory=dict)
    extra_shots: dict[str, Path] = field(default_factory=dict)


def _visit(browser: Any, url: str, base: str, page_path: str, shot: Path | None) -> _Visit:
    """Open one page in a fresh context; collect console errors, failed requests, figures, links."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport=_VIEWPORT, service_workers="block")
    page = context.new_page()
    console: list[str] = []
    failed: dict[str, str] = {}  # resource URL -> why it failed (from the network events)
    logged: dict[str, str] = {}  # resource URL -> the console's "Failed to load resource: ..." text
    state: dict[str, Any] = {"left": None}

    def route(r: Any) -> None:
        if r.request.url.startswith(base):
            r.continue_()
        else:
            if state["left"] is None:
                failed.setdefault(r.request.url, "blocked: the site must not need the network")
            r.abort("blockedbyclient")

    def on_console(msg: Any) -> None:
        if state["left"] is None and msg.type == "error":
            where = msg.location.get("url", "") if isinstance(msg.location, dict) else ""
            if msg.text.startswith("Failed to load resource") and where:
                logged.setdefault(where, msg.text.split(":", 1)[-1].strip())
            else:
                console.append(
                    f"console.error: {msg.text}" + (f" (at {_show(where, base)})" if where else "")
                )

    def on_pageerror(err: Any) -> None:
        if state["left"] is None:
            console.append(f"uncaught {getattr(err, 'name', '') or 'Error'}: {getattr(err, 'message', err)}")

    def on_response(resp: Any) -> None:
        if state["left"] is None and resp.status >= 400 and resp.url != url:
            failed.setdefault(resp.url, f"HTTP {resp.status}")

    def on_requestfailed(req: Any) -> None:
        if state["left"] is None and req.url != url and req.failure != "net::ERR_ABORTED":
            failed.setdefault(req.url, req.failure or "failed")

    def on_navigated(frame: Any) -> None:
        if (
            frame == page.main_frame
            and state["left"] is None
            and frame.url != "about:blank"
            and urldefrag(frame.url)[0] != url
        ):
            state["left"] = frame.url  # a redirect (meta refresh): the rest belongs to the target

    context.route("**/*", route)
    page.on("console", on_console)
    page.on("pageerror", on_pageerror)
    page.on("response", on_response)
    page.on("requestfailed", on_requestfailed)
    page.on("framenavigated", on_navigated)
    try:
        try:
            response = page.goto(url, wait_until="load", timeout=_LOAD_TIMEOUT_MS)
        except PlaywrightError as e:
            return _Visit(
                status=0,
                problems=[Problem(page_path, MISSING_PAGE, f"did not load: {e.message.splitlines()[0]}")],
            )
        status = response.status if response is not None else 0
        if status >= 400:
            return _Visit(status=status)
        try:
            page.wait_for_load_state("networkidle", timeout=_IDLE_TIMEOUT_MS)
        except PlaywrightError:
            pass  # something still polling: check what is there
        visit = _Visit(status=status)
        images: list[dict[str, Any]] = []
        if state["left"] is None:
            try:
                images = page.evaluate(_JS_FIGURES, 10_000)
                found = page.evaluate(_JS_LINKS)
                visit.links, visit.ids = found["links"], set(found["ids"])
            except PlaywrightError:
                if state["left"] is None:
                    raise
        if state["left"] is not None:
            visit.redirect = state["left"]
            visit.links, visit.ids, images = [{"href": state["left"], "url": state["left"]}], set(), []
        elif shot is not None:
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
        if state["left"] is None:  # interactive figures: drawn, and a hover opens a tooltip
            plots = check_plots(page, shot.with_suffix("") if shot is not None else None)
            visit.interactive, visit.tooltips, visit.extra_shots = (
                len(plots.figures),
                plots.tooltips,
                plots.screenshots,
            )
            visit.problems += [Problem(page_path, INTERACTIVE, d) for d in plots.problems]
        visit.figures = len(images)
        broken = {img["src"] for img in images if not img["complete"] or img["width"] == 0}
        for img in images:
            if img["src"] in broken:
                why = failed.get(
                    img["src"], "loaded, but has no pixels" if img["complete"] else "still loading"
                )
                visit.problems.append(Problem(page_path, BROKEN_FIGURE, f"{img['attr'][:200]}: {why}"))
        for res in dict.fromkeys([*failed, *logged]):
            if res not in broken:  # the network's reason where there is one: it does not depend on timing
                why = failed.get(res) or logged[res]
                visit.problems.append(
                    Problem(page_path, CONSOLE_ERROR, f"failed to load {_show(res, base)}: {why}")
                )
        visit.problems += [Problem(page_path, CONSOLE_ERROR, text) for text in dict.fromkeys(console)]
        return visit
    finally:
        context.close()


def _status_of(url: str) -> int:
    """HTTP status of a local file that is not a page (HEAD request to the check's server)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def check_site(
    root: Path,
    screenshots: Path | None = None,
    shoot: Sequence[str] = DEFAULT_SCREENSHOTS,
    chromium: str | None = None,
    ignore: Sequence[Ignore] = IGNORED,
) -> Report:
    """Open every page of the site in ``root`` (a built ``html`` folder) and report its problems.

    Args:
        root: the folder with ``index.html``.
        screenshots: folder for full-page PNGs of the pages in ``shoot`` (none when ``None``);
            a page to photograph that does not exist is reported as a missing page.
        shoot: site paths of the pages to photograph, e.g. ``"book/dashboard.html"``.
        chromium: the browser binary (default: :func:`find_chromium`).
        ignore: known problems to let pass (default :data:`IGNORED`; ``()`` reports everything).

    Returns:
        A :class:`Report`; ``report.ok`` is true when there is no problem.
    """
    t0 = time.perf_counter()
    root = Path(root).resolve()
    if not (root / "index.html").is_file():
        raise FileNotFoundError(f"{root} has no index.html: not a built site (build it with `make book`)")
    if chromium is None:
        chromium = find_chromium()
        if chromium is None:
            raise FileNotFoundError(f"{_missing()}: {GET_CHROMIUM}")
    elif not _exists(chromium):
        raise FileNotFoundError(f"no Chromium at {chromium}: {GET_CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise ImportError("the site check needs Playwright: pip install -e '.[test]'") from e

    # _static/ holds the theme's assets; its .html files are Jinja templates, not pages
    on_disk = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.html")
        if p.relative_to(root).parts[0] != "_static"
    )
    report = Report(root=root)
    visits: dict[str, _Visit] = {}
    linked_from: dict[str, dict[str, None]] = {}  # page -> pages linking to it (ordered set)
    anchors: list[tuple[str, str, str, str]] = []  # (from page, href, target page, fragment)
    files: dict[str, tuple[str, list[tuple[str, str]]]] = {}  # non-page target -> (url, [(from, href)])
    problems: list[Problem] = []
    with serve(root) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_FLAGS), headless=True)
        try:
            wanted = [p for p in shoot if p not in on_disk] if screenshots is not None else []
            queue = ["index.html"] + on_disk + wanted
            while queue:
                path = queue.pop(0)
                if path in visits:
                    continue
                shot = (
                    screenshots / screenshot_name(path) if screenshots is not None and path in shoot else None
                )
                visit = visits[path] = _visit(browser, base + path, base, path, shot)
                if shot is not None and shot.is_file():
                    report.screenshots[path] = shot
                report.screenshots.update({f"{path}#{fig}": p for fig, p in visit.extra_shots.items()})
                report.tooltips.update({f"{path}#{fig}": t for fig, t in visit.tooltips.items()})
                report.interactive += visit.interactive
                problems += visit.problems
                for link in visit.links:
                    url = link["url"]
                    if not url.startswith(base):
                        continue  # external (or mailto:, javascript:): not followed
                    report.links += 1
                    target_url, fragment = urldefrag(url)
                    target = _site_path(target_url)
                    if _is_page(target):
                        linked_from.setdefault(target, {})[path] = None
                        if fragment and fragment != "top" and not fragment.startswith(":~:"):
                            anchors.append((path, link["href"], target, unquote(fragment)))
                        if target not in visits:
                            queue.append(target)
                    else:
                        files.setdefault(target, (target_url, []))[1].append((path, link["href"]))
                report.figures += visit.figures
        finally:
            browser.close()
        report.downloads = len(files)
        for target, (url, sources) in files.items():
            status = _status_of(url)
            if status >= 400:
                problems += [Problem(src, BROKEN_LINK, f"{href} -> HTTP {status}") for src, href in sources]
    for path, visit in visits.items():
        if visit.status >= 400 or (visit.status == 0 and not visit.problems):
            froms = ", ".join(linked_from.get(path, {})) or (
                "the list of pages to photograph" if path in wanted else "nothing (the start page)"
            )
            problems.append(Problem(path, MISSING_PAGE, f"HTTP {visit.status}; linked from {froms}"))
    for src, href, target, fragment in anchors:
        visit = visits[target]
        if visit.status < 400 and visit.redirect is None and fragment not in visit.ids:
            problems.append(
                Problem(src, BROKEN_LINK, f"{href} -> no element with id {fragment!r} on {target}")
            )
    order = {p: i for i, p in enumerate(sorted(visits))}
    for problem in sorted(
        dict.fromkeys(problems), key=lambda p: (order.get(p.page, -1), KINDS.index(p.kind))
    ):
        rule = next((r for r in ignore if r.matches(problem)), None)
        if rule is None:
            report.problems.append(problem)
        else:
            report.ignored.append((problem, rule))
    report.pages = sorted(visits)
    report.seconds = time.perf_counter() - t0
    return report


def check_or_skip(html: Path, screenshots: Path, mode: str) -> tuple[bool, str]:
    """The browser check of a built book where a Chromium may be missing: ``(passed, note)``.

    ``mode`` ``"auto"`` checks when :func:`find_chromium` finds a browser and otherwise
    passes with a note that says how to get one; ``"require"`` fails without one. The default
    pages to photograph that this build has (not those ``--only`` left out) go to ``screenshots``.
    """
    chromium = find_chromium()
    if chromium is None:
        why = _missing()
        if mode == "require":
            return False, f"browser check FAILED: {why}; {GET_CHROMIUM}"
        return (
            True,
            f"browser check SKIPPED: {why}, so the site was built but not opened in a browser; {GET_CHROMIUM}",
        )
    shoot = [p for p in DEFAULT_SCREENSHOTS if (html / p).is_file()]
    report = check_site(html, screenshots=screenshots, shoot=shoot, chromium=chromium)
    print(report.summary(), flush=True)
    return report.ok, "" if report.ok else f"browser check: {len(report.problems)} problems (above)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Open every page of a built site in headless Chromium and "
        "report missing pages, broken links, console errors and figures that do not load."
    )
    ap.add_argument("html", type=Path, help="the built site (the folder with index.html)")
    ap.add_argument("--screenshots", type=Path, help="folder for full-page PNGs of the pages in --shoot")
    ap.add_argument(
        "--shoot",
        nargs="+",
        default=list(DEFAULT_SCREENSHOTS),
        metavar="PAGE",
        help=f"site paths of the pages to photograph (default: {' '.join(DEFAULT_SCREENSHOTS)})",
    )
    ap.add_argument(
        "--chromium", help=f"browser binary (default: ${CHROMIUM_ENV}, {CHROMIUM}, Playwright's own)"
    )
    ap.add_argument("--no-ignore", action="store_true", help="report the known problems in IGNORED too")
    args = ap.parse_args(argv)
    try:
        report = check_site(
            args.html,
            screenshots=args.screenshots,
            shoot=args.shoot,
            chromium=args.chromium,
            ignore=() if args.no_ignore else IGNORED,
        )
    except (FileNotFoundError, ImportError) as e:
        print(f"site check: {e}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

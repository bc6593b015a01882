"""What the browser check reports: the kinds of problem, a problem, the ignore list, the report.

``persona_axis.site.check`` fills a :class:`Report`; the kinds and the ignore list live here so that
the checks of single page features (``plotcheck``) and the tests can name them without the browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from persona_axis.site.plotcheck import INTERACTIVE

__all__ = [
    "MISSING_PAGE",
    "BROKEN_LINK",
    "CONSOLE_ERROR",
    "BROKEN_FIGURE",
    "KINDS",
    "Problem",
    "Ignore",
    "IGNORED",
    "Report",
]

MISSING_PAGE = "missing page"
BROKEN_LINK = "broken link"
CONSOLE_ERROR = "console error"
BROKEN_FIGURE = "figure not loading"
KINDS = (MISSING_PAGE, BROKEN_LINK, CONSOLE_ERROR, BROKEN_FIGURE, INTERACTIVE)


@dataclass(frozen=True)
class Problem:
    """One thing a reader would run into.

    Attributes:
        page: the page's path inside the site, e.g. ``"notebooks/00_quickstart.html"``.
        kind: one of :data:`KINDS`.
        detail: what exactly, with local URLs written as site paths (``/_images/a.png``).
    """

    page: str
    kind: str
    detail: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown problem kind {self.kind!r}; known: {KINDS}")

    def __str__(self) -> str:
        return f"{self.page}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class Ignore:
    """A known problem that the check lets pass, with the reason and what would remove it.

    Attributes:
        kind: the problem kind it applies to.
        pattern: a regular expression searched in :attr:`Problem.detail`.
        reason: why it is not (or not yet) a problem of ours, and how to get rid of it.
    """

    kind: str
    pattern: str
    reason: str

    def matches(self, problem: Problem) -> bool:
        return problem.kind == self.kind and re.search(self.pattern, problem.detail) is not None


#: Keep this list short: each entry says why the problem is not ours. (The theme's own errors, a
#: duplicated inline script, MathJax from a CDN and an unset colour mode, are fixed in
#: ``_config.yml`` instead.)
IGNORED: tuple[Ignore, ...] = (
    Ignore(
        CONSOLE_ERROR,
        r"^failed to load /favicon\.ico: ",
        "Chromium may ask for /favicon.ico by itself when a page names no icon; on the published "
        "site that is the web server's root, not a file of the book.",
    ),
)


@dataclass
class Report:
    """What :func:`check_site` found.

    Attributes:
        root: the checked ``html`` folder.
        pages: site paths of the pages opened (the missing ones included), sorted.
        problems: problems not matched by the ignore list, in page order.
        ignored: problems matched by an :class:`Ignore`, each with its rule.
        screenshots: site path of a page -> PNG file written.
        links: internal links checked; figures: ``<img>`` elements checked; downloads: links to
            local files that are not pages (figure data, notebooks) fetched.
        interactive: plotly figures checked; tooltips: ``"page#figure"`` -> text of the tooltip
            that opened on hovering its first point.
        seconds: wall time of the whole check (serving, browser start, every page).
    """

    root: Path
    pages: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored: list[tuple[Problem, Ignore]] = field(default_factory=list)
    screenshots: dict[str, Path] = field(default_factory=dict)
    links: int = 0
    figures: int = 0
    downloads: int = 0
    interactive: int = 0
    tooltips: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """A text report: counts, every problem, the ignored ones with their reasons, screenshots."""
        lines = [
            f"site check of {self.root}: {len(self.pages)} pages, {self.links} internal links, "
            f"{self.figures} figures, {self.interactive} interactive figures ({len(self.tooltips)} tooltips), "
            f"{self.downloads} downloads in {self.seconds:.1f} s: "
            f"{len(self.problems) or 'no'} problem{'s' if len(self.problems) != 1 else ''}"
        ]
        lines += [f"  {p}" for p in self.problems]
        if self.ignored:
            lines.append(f"ignored ({len(self.ignored)}, see persona_axis.site.check.IGNORED):")
            rules: dict[Ignore, int] = {}
            for _, rule in self.ignored:
                rules[rule] = rules.get(rule, 0) + 1
            lines += [f"  {n} x {rule.kind} /{rule.pattern}/: {rule.reason}" for rule, n in rules.items()]
        lines += [f"screenshot of {page}: {path}" for page, path in self.screenshots.items()]
        return "\n".join(lines)

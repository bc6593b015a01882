"""The reproducibility dashboard page: the claims registry (``persona_axis.claims.registry``) rendered.

A compact grid: one row per claim, one column per model, each cell our number with its 95%
interval, coloured by its status (a legend above; the cell's tooltip says how the interval was
made); below the grid, every claim's rule in full, with a link to its chapter, and the saved
results the page was made from. Nothing is rated here: every status comes from
``claims.evaluate``. ``persona_axis.site.build`` puts the page into the staged ``book/dashboard.md``
after every chapter has run.

Example:
    >>> print(render_dashboard())          # doctest: +SKIP
    Of 34 claim-model pairs: **2 reproduced**, ...
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from persona_axis.claims.registry import CLAIMS, Claim, Row, chapters, evaluate
from persona_axis.claims.release_column import RELEASE_CHAPTER, evaluate_release
from persona_axis.claims.results import Results
from persona_axis.claims.rules import NOT_APPLICABLE, NOT_RATED, STATUSES
from persona_axis.model.models import REGISTRY
from persona_axis.persona.release import RELEASE_MODELS

__all__ = ["render_dashboard", "counts", "summary_line", "model_label", "STYLE"]

#: Colour of each status (background, text), readable in the light and the dark theme.
COLOURS: dict[str, tuple[str, str]] = {
    "reproduced": ("#1a7f37", "#ffffff"),
    "partly": ("#9ec5fe", "#0b2a4a"),
    "not reproduced here": ("#cf222e", "#ffffff"),
    "inconclusive": ("#f2cc60", "#3b2e00"),
    "not yet run": ("#d0d7de", "#24292f"),
    NOT_RATED: ("#eaeef2", "#24292f"),
    NOT_APPLICABLE: ("transparent", "inherit"),
}

_CLASS = {s: "pa-" + "".join(ch if ch.isalnum() else "-" for ch in s).strip("-") or "pa-na" for s in COLOURS}
_CLASS[NOT_APPLICABLE] = "pa-na"

STYLE = "<style>\n" + "\n".join([
    ".pa-dash-wrap { overflow-x: auto; }",
    "table.pa-dash { border-collapse: separate; border-spacing: 2px; font-size: 0.8em; width: 100%; }",
    "table.pa-dash th { font-weight: 600; text-align: left; vertical-align: bottom; padding: 2px 4px; }",
    "table.pa-dash td { padding: 2px 5px; vertical-align: middle; }",
    "table.pa-dash td.pa-claim { min-width: 11em; }",
    "table.pa-dash td.pa-paper { max-width: 12em; color: var(--pst-color-text-muted, #57606a); }",
    "table.pa-dash td.pa-cell { white-space: nowrap; text-align: center; border-radius: 3px; }",
    ".pa-chip { display: inline-block; padding: 1px 6px; margin: 1px 2px; border-radius: 3px; font-size: 0.85em; }",
    *(f".{_CLASS[s]} {{ background: {bg}; color: {fg}; }}" for s, (bg, fg) in COLOURS.items()),
]) + "\n</style>"


def model_label(model: str) -> str:
    """A short column header: ``"smollm2-135m-instruct"`` -> ``"smollm2 135m instruct"`` (hub ids: the
    part after the owner)."""
    name = model.rsplit("/", 1)[-1]
    if model in RELEASE_MODELS:
        return f"{name} (released vectors)"
    return name.replace("-", " ") if model in REGISTRY else name


def counts(models: Sequence[str], rows: Sequence[Row], *, once: Sequence[str] = ()) -> dict[str, int]:
    """How many claim-model pairs have each status (``—`` and the claims not rated are not counted).

    ``once``: models whose cross-model claims (``per_model``) are one number for all of them (the
    release's three models rated among themselves): such a claim counts once for them together.
    """
    def cells(r: Row) -> list[str]:
        shared = [m for m in models if m in once]
        if not (r.claim.per_model and shared):
            return [r.cells[m].status for m in models]
        return [r.cells[m].status for m in models if m not in once] + [r.cells[shared[0]].status]

    return {s: sum(st == s for r in rows if r.claim.rated for st in cells(r)) for s in STATUSES}


def summary_line(c: Mapping[str, int]) -> str:
    return f"Of {sum(c.values())} claim-model pairs: " + ", ".join(f"**{c[s]} {s}**" for s in STATUSES) + "."


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _merged(models: Sequence[str], r: Row, once: Sequence[str]) -> list[tuple[str, int]]:
    """``(model, colspan)`` per cell of a row: a cross-model claim spans the ``once`` columns."""
    out: list[tuple[str, int]] = []
    for m in models:
        if r.claim.per_model and m in once and out and out[-1][0] in once:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((m, 1))
    return out


def _grid(models: Sequence[str], rows: Sequence[Row], once: Sequence[str] = ()) -> list[str]:
    out = ['<div class="pa-dash-wrap"><table class="pa-dash">',
           "<thead><tr><th>claim</th><th>paper</th>"
           + "".join(f'<th title="{_e(m)}">{_e(model_label(m))}</th>' for m in models) + "</tr></thead>", "<tbody>"]
    for r in rows:
        c = r.claim
        tds = [f'<td class="pa-claim"><a href="#claim-{c.id.lower()}" title="{_e(c.claim)}">{c.id} {_e(c.short)}</a></td>',
               f'<td class="pa-paper">{_e(c.paper)}</td>']
        for m, span in _merged(models, r, once):
            cell = r.cells[m]
            who = m if span == 1 else "the paper's three models, lowest pair"
            tip = f"{who}: {cell.text}" + (f" · {cell.status}" if cell.status != NOT_APPLICABLE else " (does not apply)") \
                + (f" ({cell.note})" if cell.note else "")
            text = "" if cell.status == NOT_APPLICABLE else cell.text
            wide = f' colspan="{span}"' if span > 1 else ""
            tds.append(f'<td class="pa-cell {_CLASS.get(cell.status, "pa-na")}"{wide} title="{_e(tip)}">{_e(text)}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table></div>")
    return out


def _legend() -> str:
    meaning = {
        "reproduced": "the whole interval is on the paper's side of its threshold",
        "partly": "the effect has the paper's sign and the interval excludes no effect, but it does not clear the threshold",
        "not reproduced here": "the interval excludes the paper's value",
        "inconclusive": "the interval is too wide to decide (or no interval was saved, or the resampling is so biased at this sample size that the interval misses our own number)",
        "not yet run": "no saved result for this model",
        NOT_RATED: "shown beside the paper's number but a different statistic (in the released-vectors columns: a "
                   "claim the release cannot answer, since it holds mean vectors only)",
    }
    return "\n".join(f'- <span class="pa-chip {_CLASS[s]}">{_e(s)}</span> {m}' for s, m in meaning.items()) + \
        "\n- an empty cell: the claim cannot apply to this model (a base-model claim for an instruct model, or the reverse)"


def _chapter_link(chapter: str, linkable: set[str]) -> str:
    return f"{{doc}}`../notebooks/{chapter}`" if chapter in linkable else f"`{chapter}` (not in this build)"


def _when(saved: str) -> str:
    return saved.replace("T", " ")[:16] + " UTC" if saved else "unknown date"


def render_dashboard(*, notebooks_dir: Path | None = None, preset: str | None = None,
                     claims: Sequence[Claim] = CLAIMS, results: Results | None = None) -> str:
    """The dashboard as MyST Markdown: summary, legend, the grid, every rule, the sources.

    Args:
        notebooks_dir: the folder of the executed chapters in the book being built; a chapter
            is linked (``{doc}``) only if ``<notebooks_dir>/<chapter>.ipynb`` exists (a link to a
            page not in the site would fail a ``-W`` build). ``None``: no chapter is linked.
        preset: the preset of this build; results saved with another preset are flagged.
        claims: the claims to show (default: the registry).
        results: saved results (default: read from ``store.artifacts_dir()``).

    Raises:
        CacheError: a saved results file is corrupt.
    """
    linkable = {p.stem for p in Path(notebooks_dir).glob("*.ipynb")} if notebooks_dir is not None else set()
    results = Results.load([*chapters(claims), RELEASE_CHAPTER]) if results is None else results
    # the embedded models' columns from their chapters only (the release's are its own, below)
    models, rows = evaluate(claims, Results({k: v for k, v in results.docs.items() if k != RELEASE_CHAPTER}))
    release, release_rows = evaluate_release(claims, results)
    rows = [Row(r.claim, {**r.cells, **q.cells}) for r, q in zip(rows, release_rows)]
    on_release = counts(release, rows, once=release)
    lines = [summary_line(counts(models, rows)), "",
             "On the paper's own released vectors, the last columns (from {}; the same rules, the cross-model "
             "claims rated once for the three models): ".format(_chapter_link(RELEASE_CHAPTER, linkable))
             + ", ".join(f"**{on_release[s]} {s}**" for s in STATUSES) + ".", "", _legend(), "", STYLE, "",
             *_grid([*models, *release], rows, once=release), "",
             "Each cell is our number with its 95% bootstrap interval (hover for the resampled unit and the "
             "number of resamples); signed numbers are in the units the chapter reports. This page is generated "
             "from the results the chapters saved (`<artifacts>/results/`) when the book was built; nothing in "
             "the grid is typed by hand.", "", "## How each status is decided", "",
             "One rule for every claim with an interval, in this order: *reproduced* if the whole interval lies "
             "on the paper's side of the claim's threshold; *partly* if it lies on the paper's side of no effect; "
             "*not reproduced here* if it lies wholly on the other side of the paper's value; else *inconclusive*. "
             "The threshold, the value of no effect and the paper's value of each claim:", ""]
    for c in claims:
        lines.append(f'- <span id="claim-{c.id.lower()}"></span>**{c.id}. {_e(c.claim)}** (paper: {_e(c.paper)}; '
                     f"{_chapter_link(c.chapter, linkable)}, `{c.key}`"
                     + (f", resampling {c.unit}" if c.unit else "") + f"): {c.rule}.")
    lines += ["", "## The results this page was generated from", ""]
    used = sorted({(c.chapter, m) for c in claims for m in results.docs.get(c.chapter, {})}
                  | {(RELEASE_CHAPTER, m) for m, d in results.docs.get(RELEASE_CHAPTER, {}).items()
                     if not d["numbers"].get("synthetic", False)})
    if not used:
        lines.append("No chapter has saved a result yet.")
    for chapter, m in used:
        doc = results.docs[chapter][m]
        ran = doc.get("config", {}).get("preset", "?") if isinstance(doc.get("config"), Mapping) else "?"
        flag = f" (not this build's `{preset}`: an earlier run)" if preset and ran != preset else ""
        lines.append(f"- {chapter}, `{m}`: preset `{ran}`{flag}, saved {_when(str(doc.get('saved', '')))}")
    return "\n".join(lines) + "\n"

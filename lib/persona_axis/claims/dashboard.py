"""The reproducibility dashboard page: the claims registry (``persona_axis.claims.registry``) rendered.

The counts of each status, the one rule that decides them (``rules.RULE``), then a compact grid:
one row per claim, one column per model (a claim about a pair of models is one cell spanning the
pair), each cell our number with its 95% interval, coloured by its status (a legend above; the
cell's tooltip says how the interval was made and gives the chance-level null); then a table of
every rated cell: the statistic, its null with spread, the threshold, our interval and the
status; every claim's rule in full, with its source and a link to its chapter; and the saved
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

from persona_axis.claims.registry import CLAIMS, Cell, Claim, Row, chapters, distinct_cells, evaluate
from persona_axis.claims.release_column import RELEASE_CHAPTER, evaluate_release
from persona_axis.claims.results import Results
from persona_axis.claims.rules import (
    INCONCLUSIVE,
    NOT_APPLICABLE,
    NOT_RATED,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    RULE,
    STATUSES,
    WEAKER,
)
from persona_axis.model.models import REGISTRY
from persona_axis.persona.release import RELEASE_MODELS

__all__ = ["render_dashboard", "counts", "summary_line", "model_label", "verdict_table", "STYLE"]

#: Colour of each status (background, text), readable in the light and the dark theme.
COLOURS: dict[str, tuple[str, str]] = {
    REPRODUCED: ("#1a7f37", "#ffffff"),
    WEAKER: ("#9ec5fe", "#0b2a4a"),
    NOT_REPRODUCED: ("#cf222e", "#ffffff"),
    INCONCLUSIVE: ("#f2cc60", "#3b2e00"),
    NOT_RUN: ("#d0d7de", "#24292f"),
    NOT_RATED: ("#eaeef2", "#24292f"),
    NOT_APPLICABLE: ("transparent", "inherit"),
}

_CLASS = {s: "pa-" + "".join(ch if ch.isalnum() else "-" for ch in s).strip("-") or "pa-na" for s in COLOURS}
_CLASS[NOT_APPLICABLE] = "pa-na"

STYLE = (
    "<style>\n"
    + "\n".join(
        [
            ".pa-dash-wrap { overflow-x: auto; }",
            "table.pa-dash { border-collapse: separate; border-spacing: 2px; font-size: 0.8em; width: 100%; }",
            "table.pa-dash th { font-weight: 600; text-align: left; vertical-align: bottom; padding: 2px 4px; }",
            "table.pa-dash td { padding: 2px 5px; vertical-align: middle; }",
            "table.pa-dash td.pa-claim { min-width: 11em; }",
            "table.pa-dash td.pa-paper { max-width: 12em; color: var(--pst-color-text-muted, #57606a); }",
            "table.pa-dash td.pa-cell { white-space: nowrap; text-align: center; border-radius: 3px; }",
            ".pa-chip { display: inline-block; padding: 1px 6px; margin: 1px 2px; border-radius: 3px; font-size: 0.85em; }",
            *(f".{_CLASS[s]} {{ background: {bg}; color: {fg}; }}" for s, (bg, fg) in COLOURS.items()),
        ]
    )
    + "\n</style>"
)


def model_label(model: str) -> str:
    """A short column header: ``"smollm2-135m-instruct"`` -> ``"smollm2 135m instruct"`` (hub ids: the
    part after the owner)."""
    name = model.rsplit("/", 1)[-1]
    if model in RELEASE_MODELS:
        return f"{name} (released vectors)"
    return name.replace("-", " ") if model in REGISTRY else name


def counts(models: Sequence[str], rows: Sequence[Row]) -> dict[str, int]:
    """How many claim-model cells have each status (a pair claim's one cell counts once), and
    ``"not rated"``: the cells shown for information and left out of the total."""
    got = [cell.status if r.claim.rated else NOT_RATED for r, _, cell in distinct_cells(models, rows)]
    return {s: got.count(s) for s in (*STATUSES, NOT_RATED)}


def summary_line(c: Mapping[str, int]) -> str:
    rated = sum(c[s] for s in STATUSES)
    return (
        f"Of {rated} claim-model cells: "
        + ", ".join(f"**{c[s]} {s}**" for s in STATUSES)
        + f"; {c.get(NOT_RATED, 0)} more are shown *not rated*."
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _grid(models: Sequence[str], rows: Sequence[Row]) -> list[str]:
    out = [
        '<div class="pa-dash-wrap"><table class="pa-dash">',
        "<thead><tr><th>claim</th><th>paper</th>"
        + "".join(f'<th title="{_e(m)}">{_e(model_label(m))}</th>' for m in models)
        + "</tr></thead>",
        "<tbody>",
    ]
    for r in rows:
        c = r.claim
        tds = [
            f'<td class="pa-claim"><a href="#claim-{c.id.lower()}" title="{_e(c.claim)}">{c.id} {_e(c.short)}</a></td>',
            f'<td class="pa-paper">{_e(c.paper)}</td>',
        ]
        i = 0
        while i < len(models):
            m, cell = models[i], r.cells[models[i]]
            span = 1
            while (
                c.per_model
                and cell.status != NOT_APPLICABLE
                and i + span < len(models)
                and r.cells[models[i + span]] == cell
            ):
                span += 1  # a pair claim: one cell across the pair's columns
            who = m if span == 1 else ", ".join(models[i : i + span])
            tip = (
                f"{who}: {cell.text}"
                + (f" · {cell.status}" if cell.status != NOT_APPLICABLE else " (does not apply)")
                + (f" ({cell.note})" if cell.note else "")
            )
            text = "" if cell.status == NOT_APPLICABLE else cell.text
            colspan = f' colspan="{span}"' if span > 1 else ""
            tds.append(
                f'<td class="pa-cell {_CLASS.get(cell.status, "pa-na")}"{colspan} title="{_e(tip)}">{_e(text)}</td>'
            )
            i += span
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table></div>")
    return out


def _threshold(c: Claim) -> str:
    return f"{c.side} {c.fmt(c.threshold)}".replace(">=", "≥").replace("<=", "≤") if c.rated else "—"


def _null(c: Claim, cell: Cell) -> str:
    if cell.null is not None:
        return f"{c.fmt_interval(cell.null)} ({cell.null.n_resamples} {cell.null.unit})"
    if c.null_by_design:
        return f"none needed: {c.null_by_design}"
    return "not computed"


def verdict_table(models: Sequence[str], rows: Sequence[Row]) -> list[str]:
    """Every cell that ran, once (a pair claim once): claim, model, statistic, chance-level null
    (with its 95% spread), threshold, our interval and status, as Markdown table lines."""
    out = [
        "| claim | model | statistic | chance-level null [95% spread] | threshold | ours [95% interval] | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for r, ms, cell in distinct_cells(models, rows):
        if cell.status == NOT_RUN:
            continue
        c = r.claim
        who = " and ".join(model_label(m) for m in ms)
        out.append(
            f"| {c.id} | {who} | {c.short} (`{c.key}`) | {_null(c, cell)} | {_threshold(c)} | {cell.text} | "
            f"{cell.status} |"
        )
    return out if len(out) > 2 else ["No claim has a saved result yet."]


def _legend() -> str:
    meaning = {
        REPRODUCED: "the whole interval lies past the paper's threshold",
        WEAKER: "the whole interval lies between the chance-level null and the threshold: an effect in the paper's "
        "direction, beyond chance, smaller than the paper's",
        NOT_REPRODUCED: "the whole interval lies short of the threshold and reaches the chance-level null (no effect "
        "beyond chance, or the opposite effect; where no null was computed, any interval short of the "
        "threshold)",
        INCONCLUSIVE: "the interval contains the threshold (or no interval was saved, or the resampling is so biased at "
        "this sample size that the interval misses our own number)",
        NOT_RUN: "no saved result for this model",
        NOT_RATED: "shown beside the paper's number, not counted: a statistic the paper does not report, a setting "
        "with no interval, or one whose chance level already reaches the threshold (in the released-vectors "
        "columns: also a claim the release cannot answer, since it holds mean vectors only)",
    }
    return (
        "\n".join(f'- <span class="pa-chip {_CLASS[s]}">{_e(s)}</span> {m}' for s, m in meaning.items())
        + "\n- an empty cell: the claim cannot apply to this model (a base-model claim for an instruct model, or the reverse)"
    )


def _chapter_link(chapter: str, linkable: set[str]) -> str:
    return f"{{doc}}`../notebooks/{chapter}`" if chapter in linkable else f"`{chapter}` (not in this build)"


def _when(saved: str) -> str:
    return saved.replace("T", " ")[:16] + " UTC" if saved else "unknown date"


def render_dashboard(
    *,
    notebooks_dir: Path | None = None,
    preset: str | None = None,
    claims: Sequence[Claim] = CLAIMS,
    results: Results | None = None,
) -> str:
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
    both = [Row(r.claim, {**r.cells, **q.cells}) for r, q in zip(rows, release_rows)]
    on_release = counts(release, both)  # the cross-model claims are one cell for the three models
    lines = [
        summary_line(counts(models, rows)),
        "",
        "On the paper's own released vectors, the last columns (from {}; the same rule, the cross-model "
        "claims rated once for the three models): ".format(_chapter_link(RELEASE_CHAPTER, linkable))
        + ", ".join(f"**{on_release[s]} {s}**" for s in STATUSES)
        + ".",
        "",
        "**The rule.** " + RULE,
        "",
        _legend(),
        "",
        STYLE,
        "",
        *_grid([*models, *release], both),
        "",
        "Each cell is our number with its 95% bootstrap interval (hover for the resampled unit, the number of "
        "resamples and the chance-level null); signed numbers are in the units the chapter reports. A claim "
        "about a pair of models is one cell across the pair. This page is generated from the results the "
        "chapters saved (`<artifacts>/results/`) when the book was built; nothing in the grid is typed by hand.",
        "",
        "## Each verdict, with its threshold and chance level",
        "",
        *verdict_table([*models, *release], both),
        "",
        "## How each status is decided",
        "",
        "The rule above, with each claim's threshold and chance-level null, and where the paper gives its number:",
        "",
    ]
    for c in claims:
        lines.append(
            f'- <span id="claim-{c.id.lower()}"></span>**{c.id}. {_e(c.claim)}** (paper: {_e(c.paper)}, '
            f"from {_e(c.source)}; {_chapter_link(c.chapter, linkable)}, `{c.key}`"
            + (f", resampling {c.unit}" if c.unit else "")
            + f"): {c.rule}."
        )
    lines += ["", "## The results this page was generated from", ""]
    used = sorted(
        {(c.chapter, m) for c in claims for m in results.docs.get(c.chapter, {})}
        | {
            (RELEASE_CHAPTER, m)
            for m, d in results.docs.get(RELEASE_CHAPTER, {}).items()
            if not d["numbers"].get("synthetic", False)
        }
    )
    if not used:
        lines.append("No chapter has saved a result yet.")
    for chapter, m in used:
        doc = results.docs[chapter][m]
        ran = doc.get("config", {}).get("preset", "?") if isinstance(doc.get("config"), Mapping) else "?"
        flag = f" (not this build's `{preset}`: an earlier run)" if preset and ran != preset else ""
        lines.append(f"- {chapter}, `{m}`: preset `{ran}`{flag}, saved {_when(str(doc.get('saved', '')))}")
    return "\n".join(lines) + "\n"

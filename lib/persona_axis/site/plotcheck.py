"""The browser check of the interactive (plotly) figures of one open page, for ``persona_axis.site.check``.

Each ``<div class="plotly-graph-div">`` must have been drawn (plotly attached its data and an
SVG, or a WebGL canvas for 3D scenes), and each drawn 2D figure with markers must show its
tooltip when the mouse is moved onto its first visible point, as a reader would do. The
tooltip's text is returned so that the check can be read, and a figure can be photographed with
its tooltip open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["INTERACTIVE", "PlotCheck", "check_plots"]

#: The problem kind for an interactive figure that is not drawn, or whose tooltip does not open.
INTERACTIVE = "interactive figure"

_JS_PLOTS = """
() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => ({
  id: d.id,
  traces: Array.isArray(d.data) ? d.data.length : 0,
  svg: d.querySelectorAll('svg.main-svg').length,
  canvas: d.querySelectorAll('canvas').length,
  scene: d.querySelectorAll('.gl-container').length,
  points: d.querySelectorAll('.scatterlayer .trace .point').length,
}))
"""

_HOVER_TIMEOUT_MS = 5_000


@dataclass
class PlotCheck:
    """What the interactive figures of one page showed.

    Attributes:
        figures: ids of the plotly divs found.
        problems: details of the figures that were not drawn or showed no tooltip.
        tooltips: figure id -> the text of the tooltip that opened.
        screenshots: figure id -> PNG of the figure with its tooltip open.
    """

    figures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tooltips: dict[str, str] = field(default_factory=dict)
    screenshots: dict[str, Path] = field(default_factory=dict)


def check_plots(page: Any, shots: Path | None = None) -> PlotCheck:
    """Check every plotly figure of an open Playwright ``page``.

    Args:
        page: a loaded page (``playwright.sync_api.Page``).
        shots: when given, the first figure whose tooltip opens is photographed with it, as
            ``<shots>-<figure id>-tooltip.png`` (``shots`` is the page's screenshot path
            without its suffix).
    """
    from playwright.sync_api import Error as PlaywrightError

    out = PlotCheck()
    for fig in page.evaluate(_JS_PLOTS):
        name = fig["id"] or "(no id)"
        out.figures.append(name)
        drawn = fig["traces"] > 0 and (fig["svg"] > 0 or fig["canvas"] > 0)
        if not drawn:
            out.problems.append(
                f"{name}: not drawn (is plotly.js loaded? {fig['traces']} traces, no SVG or canvas)"
            )
            continue
        if fig["points"] == 0 or not fig["id"]:
            continue  # a 3D scene or a figure without markers: drawn is what can be checked here
        point = page.locator(f"#{fig['id']} .scatterlayer .trace .point").first
        try:
            point.scroll_into_view_if_needed(timeout=_HOVER_TIMEOUT_MS)
            box = point.bounding_box()
            if box is None:
                raise PlaywrightError("the first point has no box on the page")
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            tip = page.locator(f"#{fig['id']} .hoverlayer .hovertext").first
            tip.wait_for(state="visible", timeout=_HOVER_TIMEOUT_MS)
            lines = tip.evaluate(
                "e => { const ls = Array.from(e.querySelectorAll('tspan.line'));"
                " return ls.length ? ls.map(t => t.textContent).join(' ') : e.textContent; }"
            )
            text = " ".join(str(lines).split())
        except PlaywrightError as e:
            out.problems.append(
                f"{name}: no tooltip on hovering its first point ({e.message.splitlines()[0]})"
            )
            continue
        if not text:
            out.problems.append(f"{name}: the tooltip opened empty")
            continue
        out.tooltips[name] = text
        if shots is not None and not out.screenshots:
            path = shots.parent / f"{shots.name}-{name}-tooltip.png"
            page.locator(f"#{fig['id']}").screenshot(path=str(path))
            out.screenshots[name] = path
        page.mouse.move(0, 0)
    return out

"""Sphinx extension: plotly.js shipped with the site, loaded by the pages that draw a plotly figure.

Enabled in ``_config.yml``::

    sphinx:
      extra_extensions:
        - persona_axis.site.sphinx_plotly

The interactive figures of the book (``persona_axis.viz.interactive``) are written into the pages
as a ``<div class="plotly-graph-div">`` and a script that calls the global ``Plotly``. This
extension copies ``plotly.min.js`` from the installed plotly package (no CDN: the book must
read the same offline) to ``_static/plotly.min.js`` and adds it, as an ordinary blocking
script in the page's head, only to the pages whose body has such a div, so the other pages do
not load 4.7 MB of JavaScript.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

__all__ = ["setup", "plotly_js", "MARKER", "STATIC_NAME"]

#: The class plotly gives the figure's div; a page that contains it gets the script.
MARKER = 'class="plotly-graph-div"'
STATIC_NAME = "plotly.min.js"


def plotly_js() -> Path:
    """The minified plotly.js bundled in the installed plotly package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / STATIC_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall plotly (pip install -e '.[book]')")
    return path


def _add_script(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    if MARKER in str(context.get("body", "")):
        app.add_js_file(STATIC_NAME, priority=400)  # called here, it applies to this page only


def _copy(app: Any, exception: Exception | None) -> None:
    if exception is None and getattr(app.builder, "format", "") == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(plotly_js(), static / STATIC_NAME)


def setup(app: Any) -> dict[str, Any]:
    plotly_js()  # fail early, with the fix, if plotly is missing
    app.connect("html-page-context", _add_script)
    app.connect("build-finished", _copy)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

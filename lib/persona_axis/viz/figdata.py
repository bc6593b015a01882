"""The numbers behind a figure, saved as CSV with the chapter's results and linked under it.

    >>> figure_data("fig-persona-scree", frame, chapter="01_persona_space", model=spec.name)  # doctest: +SKIP

writes ``<artifacts>/results/<chapter>/data/<model>/<figure>.csv`` (next to the chapter's
``<model>.json``, see ``persona_axis.claims.results``) and returns a Markdown line to display under
the figure. During a book build (``persona_axis.site.build`` sets ``$PERSONA_AXIS_SITE_DATA`` to a
folder beside the executed notebooks), a copy goes to ``<that folder>/<chapter>/<model>/``
and the line links it by a relative path, which Sphinx turns into a download of the site.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_axis.claims.results import results_dir
from persona_axis.core.store import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SITE_DATA_ENV", "figure_data", "glue_figure_data", "data_path", "as_frame"]

#: Set by the book build: the folder (inside the staged sources) that receives a copy of every
#: figure's data, so the site can offer it for download.
SITE_DATA_ENV = "PERSONA_AXIS_SITE_DATA"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def data_path(name: str, chapter: str, model: str) -> Path:
    """Where ``figure_data`` saves the CSV of figure ``name`` of ``chapter`` for ``model``."""
    return results_dir(chapter) / "data" / _slug(model) / f"{_slug(name)}.csv"


def as_frame(data: Any) -> Any:
    """A ``DataFrame`` from a frame, a ``{column: values}`` mapping or a ``{key: number}`` mapping."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, Mapping):
        values = list(data.values())
        if values and all(isinstance(v, (int, float)) for v in values):
            return pd.DataFrame({"name": list(data), "value": values})
        return pd.DataFrame(data)
    raise TypeError(f"figure data must be a DataFrame or a mapping, got {type(data).__name__}")


def figure_data(name: str, data: Any, *, chapter: str, model: str, index: bool = False) -> Any:
    """Save the numbers drawn in figure ``name`` as CSV and return a Markdown link to them.

    Args:
        name: the figure's name (``fig-persona-scree``); the file is ``<name>.csv``.
        data: a ``DataFrame`` (or a mapping, see :func:`as_frame`) with one row per drawn point,
            bar or line vertex, in the units of the figure's axes.
        chapter: the chapter's results folder name (``"01_persona_space"``).
        model: the model's name; each model's data is kept apart.
        index: also write the frame's index (when it carries a drawn quantity, e.g. layers).

    Returns:
        ``IPython.display.Markdown``: in a book build a relative link that becomes a download;
        elsewhere (JupyterLab) the path of the saved file.
    """
    from IPython.display import Markdown

    frame = as_frame(data)
    if len(frame) == 0:
        raise ValueError(f"no data for figure {name}: it would be an empty file; pass what the figure draws")
    path = data_path(name, chapter, model)
    atomic_write_text(path, frame.to_csv(index=index))
    site = os.environ.get(SITE_DATA_ENV)
    if site:
        rel = Path(_slug(chapter)) / _slug(model) / path.name
        target = Path(site) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        link = f"{Path(site).name}/{rel.as_posix()}"
        return Markdown(f"Data behind this figure: [{path.name}]({link}) ({len(frame)} rows, CSV).")
    return Markdown(f"Data behind this figure: `{path}` ({len(frame)} rows, CSV).")


def glue_figure_data(
    name: str,
    data: pd.DataFrame | pd.Series | Mapping[str, object],
    *,
    chapter: str,
    model: str,
    index: bool = False,
) -> None:
    """:func:`figure_data` from inside the figure's own cell: the data is saved the same way and the
    link is glued (not displayed) as ``<name>-data``, which the page pastes under the figure with
    ``{glue:md}`<name>-data```. A figure cell keeps one output, the figure (a second output would
    become a second figure with the same caption)."""
    from myst_nb import glue

    glue(f"{name}-data", figure_data(name, data, chapter=chapter, model=model, index=index), display=False)

"""Interactive figures (plotly): the persona map, the trait map, a conversation along the axis.

Each ``*_figure`` function returns a ``plotly.graph_objects.Figure``; :func:`show` wraps one for
display. In JupyterLab it renders through plotly's own mime type (the ``jupyterlab-plotly``
extension that ships with plotly); in the built site it is an HTML ``<div>`` drawn by the
plotly.js that ``persona_axis.site.sphinx_plotly`` copies from the plotly package into ``_static``,
so the book needs no network. The static matplotlib figures stay in the chapters, for print
and for readers without JavaScript.

Hover text is plain data (role, category, label counts, the opening of one answer), escaped
for plotly's small HTML subset.
"""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from persona_axis.viz.plots import ASSISTANT, ROLE

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Interactive",
    "show",
    "role_details",
    "trait_details",
    "persona_map_figure",
    "persona_map_3d",
    "trajectory_figure",
    "CATEGORY_COLOURS",
    "opening",
]

#: One colour per catalogue category (``catalogue.CATEGORIES``), others grey.
CATEGORY_COLOURS = {
    "profession": "#1f6f8b",
    "archetype": "#e09f3e",
    "fictional": "#9e2a2b",
    "mythical": "#7b5ea7",
    "nonhuman": "#5a8f29",
    "default": "#222222",
}
_SCALE = [[0.0, ROLE], [0.5, "#f2f2f2"], [1.0, ASSISTANT]]  # role-playing end red, Assistant end blue
_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def opening(text: str, chars: int = 160, width: int = 60) -> str:
    """The first ``chars`` characters of ``text`` on one line, escaped, wrapped with ``<br>``."""
    flat = " ".join(str(text).split())
    cut = flat if len(flat) <= chars else flat[: chars - 1].rsplit(" ", 1)[0] + " …"
    return "<br>".join(html.escape(line) for line in textwrap.wrap(cut, width)) or "(empty)"


@dataclass
class Interactive:
    """A plotly figure ready for display (see :func:`show`).

    Attributes:
        figure: the plotly figure.
        name: the id of its ``<div>`` in the page (stable, so builds are reproducible).
        height: in pixels.
    """

    figure: Any
    name: str
    height: int = 560

    def html(self) -> str:
        """A ``<div>`` and the script that draws it with the page's global ``Plotly``."""
        return self.figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=self.name,
            default_height=f"{self.height}px",
            config=_CONFIG,
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        spec = json.loads(self.figure.to_json())
        spec["config"] = _CONFIG
        return {
            "application/vnd.plotly.v1+json": spec,
            "text/html": self.html(),
            "text/plain": f"<interactive figure {self.name}: open in JupyterLab or the built book>",
        }


def show(figure: Any, name: str, height: int = 560) -> Interactive:
    """Wrap ``figure`` for display under the id ``name`` (letters, digits and dashes)."""
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"figure name {name!r}: use letters, digits, '-' and '_' only")
    return Interactive(figure, name, height)


def role_details(
    table: pd.DataFrame, names: Sequence[str], labels: Sequence[Any], categories: dict[str, str]
) -> pd.DataFrame:
    """Hover details of each role vector.

    Args:
        table: the labelled persona rollouts (``runs.Rollouts.table``: ``group``, ``name``,
            ``label``, ``response``).
        names, labels: of each role vector (``space.RoleVectors.names`` / ``.labels``; a label of
            ``None`` means every rollout of the role).
        categories: ``role name -> category`` (``{r.name: r.category for r in cat.roles}``).

    Returns:
        ``DataFrame`` with ``role``, ``label``, ``category``, ``counts`` (``"0:a 1:b 2:c 3:d"``,
        the judge's labels over all the role's rollouts), ``opening`` (of the first answer
        with the vector's label, or of the role's best-labelled answer).
    """
    import pandas as pd

    roles = table[table["group"] == "role"]
    rows = []
    for name, lab in zip(names, labels):
        mine = roles[roles["name"] == name]
        if "label" in mine:
            counts = mine["label"].value_counts().reindex([0, 1, 2, 3], fill_value=0)
            count_text = " ".join(f"{k}:{int(v)}" for k, v in counts.items())
            pick = (
                mine[mine["label"] == lab] if lab is not None else mine.sort_values("label", ascending=False)
            )
        else:
            count_text, pick = "not labelled", mine
        text = pick["response"].iloc[0] if len(pick) else (mine["response"].iloc[0] if len(mine) else "")
        rows.append(
            {
                "role": name,
                "label": lab,
                "category": categories.get(name, "?"),
                "counts": count_text,
                "opening": str(text),
            }
        )
    return pd.DataFrame(rows)


def trait_details(table: pd.DataFrame, names: Sequence[str], descriptions: dict[str, str]) -> pd.DataFrame:
    """Hover details of each trait vector: ``trait``, ``category`` (its description) and the
    opening of its first answer under a positive prompt (``table``: trait rollouts with
    ``name``, ``group`` (``"trait+"``/``"trait-"``) and ``response``)."""
    import pandas as pd

    rows = []
    for name in names:
        mine = table[table["name"] == name]
        pos = mine[mine["group"] == "trait+"] if "group" in mine else mine
        text = (pos if len(pos) else mine)["response"].iloc[0] if len(mine) else ""
        rows.append(
            {
                "role": name,
                "label": None,
                "category": descriptions.get(name, ""),
                "counts": "",
                "opening": str(text),
            }
        )
    return pd.DataFrame(rows)


def _hover(details: Any, colour: Sequence[float], colour_label: str) -> tuple[list[list[str]], str]:
    custom = [
        [
            html.escape(str(r.role))
            + (f" ({r.label})" if r.label not in (None, 3) and r.label == r.label else ""),
            html.escape(str(r.category)),
            str(r.counts),
            opening(r.opening),
            f"{c:+.3f}",
        ]
        for r, c in zip(details.itertuples(), colour)
    ]
    template = (
        "<b>%{customdata[0]}</b><br>%{customdata[1]}<br>"
        + ("judge labels 0/1/2/3: %{customdata[2]}<br>" if any(row[2] for row in custom) else "")
        + f"{html.escape(colour_label)}: %{{customdata[4]}}<br><i>%{{customdata[3]}}</i><extra></extra>"
    )
    return custom, template


def persona_map_figure(
    scores: Any,
    details: Any,
    colour: Sequence[float],
    *,
    default: Any = None,
    colour_label: str = "projection on the Assistant Axis",
    n_pcs: int = 3,
    what: str = "role",
    title: str = "",
) -> Any:
    """Role (or trait) vectors on two principal components, with a PC picker and a colour picker.

    Args:
        scores: ``(n, >= 2)`` PC coordinates, rows in the order of ``details``.
        details: from :func:`role_details` or :func:`trait_details`.
        colour: one value per row (larger = more Assistant-like: blue).
        default: PC coordinates of the default vector (a black star), or ``None``.
        n_pcs: the picker offers every pair among the first ``n_pcs`` components.
        what: the word for a point in titles ("role", "trait").

    Returns:
        A plotly ``Figure``: trace 0 coloured by ``colour``, then one trace per category
        (hidden until the colour picker selects "category"), then the default star.
    """
    import numpy as np
    import plotly.graph_objects as go

    s = np.asarray(scores, dtype=float)
    if s.ndim != 2 or s.shape[0] != len(details) or s.shape[0] != len(colour):
        raise ValueError(
            f"scores {s.shape}, details ({len(details)}) and colour ({len(colour)}) must have one row per {what}"
        )
    k = min(n_pcs, s.shape[1])
    if k < 2:
        raise ValueError("a map needs at least two principal components")
    custom, template = _hover(details, colour, colour_label)
    cats = list(dict.fromkeys(details["category"])) if what == "role" else []
    idx = {c: [i for i, x in enumerate(details["category"]) if x == c] for c in cats}
    d = None if default is None else np.asarray(default, dtype=float)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=s[:, 0],
            y=s[:, 1],
            mode="markers",
            name=f"{what}s",
            customdata=custom,
            hovertemplate=template,
            marker=dict(
                size=9,
                color=list(colour),
                colorscale=_SCALE,
                colorbar=dict(title=dict(text=colour_label, side="right"), thickness=14),
                line=dict(width=0.5, color="#555"),
            ),
        )
    )
    for c in cats:
        fig.add_trace(
            go.Scatter(
                x=s[idx[c], 0],
                y=s[idx[c], 1],
                mode="markers",
                name=c,
                visible=False,
                customdata=[custom[i] for i in idx[c]],
                hovertemplate=template,
                marker=dict(
                    size=9, color=CATEGORY_COLOURS.get(c, "#999999"), line=dict(width=0.5, color="#555")
                ),
            )
        )
    if d is not None:
        fig.add_trace(
            go.Scatter(
                x=[d[0]],
                y=[d[1]],
                mode="markers",
                name="default persona",
                hovertemplate="<b>default persona</b><br>no system prompt<extra></extra>",
                marker=dict(symbol="star", size=20, color="black", line=dict(width=1, color="white")),
            )
        )
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    buttons = []
    for a, b in pairs:
        xs = [s[:, a]] + [s[idx[c], a] for c in cats] + ([[d[a]]] if d is not None else [])
        ys = [s[:, b]] + [s[idx[c], b] for c in cats] + ([[d[b]]] if d is not None else [])
        buttons.append(
            dict(
                label=f"PC{a + 1} / PC{b + 1}",
                method="update",
                args=[
                    {"x": [list(map(float, x)) for x in xs], "y": [list(map(float, y)) for y in ys]},
                    {"xaxis.title.text": f"PC{a + 1}", "yaxis.title.text": f"PC{b + 1}"},
                ],
            )
        )
    menus = [
        dict(buttons=buttons, direction="down", x=0.0, xanchor="left", y=1.13, yanchor="top", showactive=True)
    ]
    if cats:
        n_star = 1 if d is not None else 0
        menus.append(
            dict(
                buttons=[
                    dict(
                        label=f"colour: {colour_label}",
                        method="restyle",
                        args=[{"visible": [True] + [False] * len(cats) + [True] * n_star}],
                    ),
                    dict(
                        label="colour: category",
                        method="restyle",
                        args=[{"visible": [False] + [True] * len(cats) + [True] * n_star}],
                    ),
                ],
                direction="down",
                x=0.22,
                xanchor="left",
                y=1.13,
                yanchor="top",
                showactive=True,
            )
        )
    fig.update_layout(
        template="plotly_white",
        updatemenus=menus,
        hovermode="closest",
        height=560,
        modebar_orientation="v",
        title=dict(text=title, x=0.01, y=0.98, font=dict(size=14)),
        margin=dict(t=90, l=50, r=20, b=50),
        xaxis_title="PC1",
        yaxis_title="PC2",
        legend=dict(orientation="h", y=-0.12),
        hoverlabel=dict(align="left"),
    )
    return fig


def persona_map_3d(
    scores: Any,
    details: Any,
    colour: Sequence[float],
    *,
    default: Any = None,
    colour_label: str = "projection on the Assistant Axis",
    title: str = "",
) -> Any:
    """The same points in the space of the first three components, rotatable (``(n, >= 3)`` scores)."""
    import numpy as np
    import plotly.graph_objects as go

    s = np.asarray(scores, dtype=float)
    if s.ndim != 2 or s.shape[1] < 3:
        raise ValueError(f"a 3D map needs three principal components; scores have shape {s.shape}")
    custom, template = _hover(details, colour, colour_label)
    fig = go.Figure(
        go.Scatter3d(
            x=s[:, 0],
            y=s[:, 1],
            z=s[:, 2],
            mode="markers",
            name="roles",
            customdata=custom,
            hovertemplate=template,
            marker=dict(
                size=4,
                color=list(colour),
                colorscale=_SCALE,
                colorbar=dict(title=dict(text=colour_label, side="right"), thickness=14),
            ),
        )
    )
    if default is not None:
        d = np.asarray(default, dtype=float)
        fig.add_trace(
            go.Scatter3d(
                x=[d[0]],
                y=[d[1]],
                z=[d[2]],
                mode="markers",
                name="default persona",
                hovertemplate="<b>default persona</b><extra></extra>",
                marker=dict(symbol="diamond", size=9, color="black"),
            )
        )
    fig.update_layout(
        template="plotly_white",
        height=600,
        title=dict(text=title),
        margin=dict(t=50, l=0, r=0, b=0),
        scene=dict(xaxis_title="PC1", yaxis_title="PC2", zaxis_title="PC3"),
        legend=dict(orientation="h", y=0.02),
        hoverlabel=dict(align="left"),
    )
    return fig


def trajectory_figure(table: pd.DataFrame, *, threshold: float | None = None, title: str = "") -> Any:
    """Projection per turn of each condition of a conversation, the replies in the hover.

    Args:
        table: columns ``turn`` (0-based), ``condition``, ``projection``, ``user``, ``reply``.
        threshold: the drift monitor's floor, drawn dashed.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    colours = [ASSISTANT, "#5a8f29", ROLE, "#7b5ea7"]
    for (cond, part), colour in zip(table.groupby("condition", sort=False), colours * 4):
        custom = [[opening(u, 120), opening(r, 200)] for u, r in zip(part["user"], part["reply"])]
        fig.add_trace(
            go.Scatter(
                x=part["turn"] + 1,
                y=part["projection"],
                mode="lines+markers",
                name=str(cond),
                customdata=custom,
                line=dict(color=colour),
                marker=dict(size=9),
                hovertemplate=(
                    "<b>turn %{x}</b>: %{y:.3f}<br>user: %{customdata[0]}<br>"
                    "reply: <i>%{customdata[1]}</i><extra>" + html.escape(str(cond)) + "</extra>"
                ),
            )
        )
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line_dash="dash",
            line_color="#666",
            annotation_text="drift monitor threshold",
            annotation_position="bottom right",
        )
    fig.update_layout(
        template="plotly_white",
        height=420,
        title=dict(text=title, x=0.01, font=dict(size=14)),
        modebar_orientation="v",
        xaxis=dict(title="turn", dtick=1),
        yaxis_title="projection on the Assistant Axis",
        hovermode="closest",
        hoverlabel=dict(align="left"),
        legend=dict(orientation="h", y=-0.2),
        margin=dict(t=50, l=60, r=20, b=60),
    )
    return fig

"""The book's figures, in one house style.

Every function returns a matplotlib ``Figure`` and draws nothing it was not given: notebooks
compute with the other modules and call these to show the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["use_style", "ASSISTANT", "ROLE", "CAPPED", "projection_strip", "capping_bars"]

ASSISTANT = "#1f6f8b"  # the Assistant end
ROLE = "#c05640"  # the role-playing end
CAPPED = "#5a8f29"


def use_style() -> None:
    """Apply the house style (seaborn's whitegrid, readable sizes)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    mpl.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.titleweight": "bold",
                         "axes.spines.top": False, "axes.spines.right": False})


def projection_strip(
    projections: Mapping[str, float],
    *,
    highlight: Sequence[str] = (),
    title: str = "",
    xlabel: str = "projection on the Assistant Axis",
) -> Any:
    """Horizontal bars of one projection per name, sorted, Assistant end on the right.

    Args:
        projections: ``name -> projection``; larger means more Assistant-like.
        highlight: names drawn in the Assistant colour (e.g. ``"default"``).
    """
    import matplotlib.pyplot as plt

    use_style()
    items = sorted(projections.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(items) + 1.2))
    colors = [ASSISTANT if k in highlight else ROLE for k, _ in items]
    ax.barh([k for k, _ in items], [v for _, v in items], color=colors)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def capping_bars(values: Mapping[str, float], *, reference: float | None = None, title: str = "",
                 ylabel: str = "projection of the answer") -> Any:
    """One bar per condition (e.g. default, pirate, pirate capped), with an optional threshold line."""
    import matplotlib.pyplot as plt

    use_style()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    names = list(values)
    palette = [ASSISTANT if "default" in n else CAPPED if "capped" in n else ROLE for n in names]
    ax.bar(names, [values[n] for n in names], color=palette)
    if reference is not None:
        ax.axhline(reference, ls="--", color="0.3", lw=1, label="cap threshold")
        ax.legend(loc="best")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig

"""The book's figures, in one house style.

Every function returns a matplotlib ``Figure`` and draws nothing it was not given: notebooks
compute with the other modules and call these to show the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "use_style",
    "ASSISTANT",
    "ROLE",
    "CAPPED",
    "projection_strip",
    "capping_bars",
    "scree",
    "persona_map",
    "relative_positions",
    "per_layer",
    "correlation_heatmaps",
    "label_shares",
    "sns_palette",
    "trajectories",
]

ASSISTANT = "#1f6f8b"  # the Assistant end
ROLE = "#c05640"  # the role-playing end
CAPPED = "#5a8f29"


def use_style() -> None:
    """Apply the house style (seaborn's whitegrid, readable sizes)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    mpl.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "axes.titleweight": "bold",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


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


def capping_bars(
    values: Mapping[str, float],
    *,
    reference: float | None = None,
    title: str = "",
    ylabel: str = "projection of the answer",
) -> Any:
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


def scree(
    ratios: Sequence[float], *, threshold: float = 0.7, title: str = "", max_components: int = 30
) -> Any:
    """Variance share per component (bars) and cumulative share (line), with the threshold marked."""
    import matplotlib.pyplot as plt
    import numpy as np

    use_style()
    r = np.asarray(ratios, dtype=float)[:max_components]
    cum = np.cumsum(np.asarray(ratios, dtype=float))[:max_components]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(1, len(r) + 1)
    ax.bar(x, r, color=ASSISTANT, label="per component")
    ax.plot(x, cum, color=ROLE, marker="o", ms=3, label="cumulative")
    ax.axhline(threshold, ls="--", color="0.4", lw=1)
    hit = int(np.argmax(cum >= threshold)) + 1 if (cum >= threshold).any() else None
    if hit:
        ax.axvline(hit, ls=":", color="0.4", lw=1)
        ax.text(hit + 0.3, 0.05, f"{hit} PCs for {threshold:.0%}", fontsize=9)
    ax.set_xlabel("principal component")
    ax.set_ylabel("share of variance")
    ax.set_ylim(0, 1)
    ax.legend(loc="center right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def persona_map(
    scores: Any,
    names: Sequence[str],
    color: Sequence[float],
    *,
    annotate: Sequence[str] = (),
    default: Any = None,
    dims: int = 2,
    title: str = "",
    color_label: str = "projection on the axis",
) -> Any:
    """Roles in the space of the first 2 (or 3) principal components, coloured by a value.

    Args:
        scores: ``(n, >= dims)`` coordinates.
        color: one value per role (e.g. its projection on the Assistant Axis).
        annotate: names to label on the plot.
        default: coordinates of the default vector, drawn as a star.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    use_style()
    s = np.asarray(scores, dtype=float)
    fig = plt.figure(figsize=(7.5, 6))
    if dims == 3:
        ax = fig.add_subplot(projection="3d")
        sc = ax.scatter(s[:, 0], s[:, 1], s[:, 2], c=color, cmap="coolwarm_r", s=14)
        if default is not None:
            ax.scatter(
                [default[0]], [default[1]], [default[2]], marker="*", s=250, c="black", label="default"
            )
        ax.set_zlabel("PC3")
    else:
        ax = fig.add_subplot()
        sc = ax.scatter(s[:, 0], s[:, 1], c=color, cmap="coolwarm_r", s=16)
        for i, n in enumerate(names):
            if n in annotate:
                ax.annotate(n, (s[i, 0], s[i, 1]), fontsize=8, xytext=(3, 3), textcoords="offset points")
        if default is not None:
            ax.scatter([default[0]], [default[1]], marker="*", s=250, c="black", label="default", zorder=5)
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    fig.colorbar(sc, ax=ax, shrink=0.7, label=color_label)
    if default is not None:
        ax.legend(loc="best")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def relative_positions(
    positions: Sequence[float], *, paper_pc1: float, paper_rest: Sequence[float], title: str = ""
) -> Any:
    """The default's distance from the nearest end of each PC's role range, with the paper's values:
    ``paper_pc1`` on PC1 (a diamond) and the range ``paper_rest`` (low, high) on PCs 2-10 (a band),
    read from ``persona_axis.claims`` by the chapter."""
    import matplotlib.pyplot as plt
    import numpy as np

    use_style()
    p = np.asarray(positions, dtype=float)
    x = np.arange(1, len(p) + 1)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.bar(x, p, color=[ASSISTANT] + [ROLE] * (len(p) - 1), label="ours")
    lo, hi = paper_rest
    ax.axhspan(lo, hi, color="0.85", zorder=0, label=f"paper, PCs 2-10 ({lo}-{hi})")
    ax.scatter([1], [paper_pc1], marker="D", color="black", zorder=5, label=f"paper, PC1 ({paper_pc1})")
    ax.set_xticks(x)
    ax.set_xlabel("principal component")
    ax.set_ylabel("distance from nearest end\n(0 = at an end, 0.5 = centre)")
    ax.set_ylim(0, 0.55)
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def per_layer(
    series: Mapping[str, Mapping[int, float]],
    *,
    ylabel: str,
    hlines: Mapping[str, float] | None = None,
    title: str = "",
    mark: int | None = None,
) -> Any:
    """One line per series over layers (e.g. cos(axis, PC1) for each model), with reference lines."""
    import matplotlib.pyplot as plt

    use_style()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, values in series.items():
        layers = sorted(values)
        ax.plot(layers, [values[layer] for layer in layers], marker="o", ms=3, label=name)
    for label, y in (hlines or {}).items():
        ax.axhline(y, ls="--", color="0.5", lw=1)
        ax.text(ax.get_xlim()[0], y, f" {label}", va="bottom", fontsize=8, color="0.3")
    if mark is not None:
        ax.axvline(mark, ls=":", color="0.4", lw=1)
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def correlation_heatmaps(matrices: Mapping[str, Any], *, title: str = "", vmin: float = -1.0) -> Any:
    """One annotated heatmap per matrix (e.g. PC1, PC2, PC3 correlations between models)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    use_style()
    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n + 1, 4.2), squeeze=False)
    for ax, (name, m) in zip(axes[0], matrices.items()):
        short = [str(c).split(" (")[0].replace("-instruct", "") for c in m.columns]
        sns.heatmap(
            m.astype(float),
            annot=True,
            fmt=".2f",
            vmin=vmin,
            vmax=1,
            cmap="vlag",
            cbar=False,
            ax=ax,
            xticklabels=short,
            yticklabels=short,
            square=True,
        )
        ax.set_title(name)
        ax.tick_params(axis="x", rotation=30)
    if title:
        fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


def label_shares(
    shares: Any,
    *,
    xlabel: str = "steering coefficient (x typical activation norm)",
    title: str = "",
    note: str = "negative: away from the Assistant; positive: toward it",
) -> Any:
    """Stacked areas of label shares against steering strength.

    Args:
        shares: ``DataFrame`` indexed by coefficient, one column per label, rows summing to 1.
    """
    import matplotlib.pyplot as plt

    use_style()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    x = [float(v) for v in shares.index]
    ax.stackplot(
        x,
        [shares[c].to_numpy() for c in shares.columns],
        labels=list(shares.columns),
        alpha=0.85,
        colors=sns_palette(len(shares.columns)),
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of completions")
    ax.set_ylim(0, 1)
    ax.axvline(0, color="0.2", lw=1, ls=":")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    if note:
        ax.text(0.0, -0.28, note, transform=ax.transAxes, fontsize=8, color="0.35")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def sns_palette(n: int) -> list[Any]:
    """The house palette for ``n`` categories."""
    import seaborn as sns

    return list(sns.color_palette("Set2", n))


def trajectories(
    table: pd.DataFrame,
    *,
    hlines: Mapping[str, float] | None = None,
    title: str = "",
    ylabel: str = "projection on the Assistant Axis",
    hue: str = "domain",
    style: str | None = None,
) -> Any:
    """Mean projection per turn for each domain, with 95% confidence bands.

    Args:
        table: columns ``turn`` (0-based), ``projection`` and ``hue`` (default ``domain``).
        hue: the column that gives each line its colour; ``style``: one that gives its dashes.
        hlines: reference levels, e.g. ``{"25th percentile of rollouts": -3.1}``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    use_style()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    t = table.assign(turn=table["turn"] + 1)
    sns.lineplot(
        data=t, x="turn", y="projection", hue=hue, style=style, errorbar=("ci", 95), marker="o", ax=ax
    )
    for label, y in (hlines or {}).items():
        ax.axhline(y, ls="--", color="0.5", lw=1)
        ax.text(t["turn"].max(), y, f"{label} ", ha="right", va="bottom", fontsize=8, color="0.3")
    ax.set_xlabel("turn")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def calibration_bands(
    percentiles: Mapping[int, Mapping[float, float]],
    *,
    default: Mapping[int, float] | None = None,
    band: Sequence[int] = (),
    title: str = "",
) -> Any:
    """Calibration percentiles of the persona-space projections on the axis, layer by layer.

    Args:
        percentiles: ``layer -> {percentile: projection}`` (``Calibration.percentiles``).
        default: ``layer -> mean projection of the default rollouts``, drawn as a line.
        band: layers to shade (a capping band).
    """
    import matplotlib.pyplot as plt

    use_style()
    layers = sorted(percentiles)
    ps = sorted({float(p) for q in percentiles.values() for p in q})
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for p, color in zip(ps, sns_palette(len(ps))):
        ax.plot(
            layers,
            [percentiles[layer][p] for layer in layers],
            marker=".",
            color=color,
            label=f"percentile {p:g}",
        )
    if default:
        ax.plot(
            layers,
            [default[layer] for layer in layers],
            color="black",
            ls="--",
            lw=1.2,
            label="default (mean)",
        )
    if band:
        ax.axvspan(min(band) - 0.5, max(band) + 0.5, color="0.85", zorder=0, label="capping band")
    ax.set_xlabel("layer")
    ax.set_ylabel("projection on the Assistant Axis")
    ax.legend(fontsize=8, ncol=2)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def pareto(
    summary: Any,
    *,
    x: str = "harm_reduction",
    y: str = "capability_change",
    front: Sequence[bool] = (),
    best: str | None = None,
    title: str = "",
) -> Any:
    """Each capping setting as a point: harm reduction against summed capability change.

    Args:
        summary: one row per setting with ``setting``, ``x``, ``y``, ``axis_percentile`` and
            ``width`` (the uncapped row, with no percentile, is drawn at the origin as a cross).
        front: which rows are on the Pareto frontier (joined by a line).
        best: the name of the setting to circle.
    """
    import matplotlib.pyplot as plt

    use_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    capped = summary[summary["axis_percentile"].notna()]
    pcts = sorted(capped["axis_percentile"].unique())
    widths = sorted(capped["width"].unique())
    markers = ["o", "s", "^", "D", "v"]
    for p, color in zip(pcts, sns_palette(len(pcts))):
        for w, m in zip(widths, markers):
            part = capped[(capped["axis_percentile"] == p) & (capped["width"] == w)]
            ax.scatter(
                part[x],
                part[y],
                color=color,
                marker=m,
                s=45,
                label=f"floor at p{p:g}, {int(w)} layers",
                zorder=3,
            )
    ax.scatter([0], [0], marker="x", color="black", s=60, label="uncapped", zorder=3)
    if len(front):
        pts = summary[list(front)].sort_values(x)
        ax.plot(pts[x], pts[y], color="0.4", lw=1, ls="--", label="Pareto frontier", zorder=2)
    if best is not None:
        b = summary[summary["setting"] == best]
        ax.scatter(
            b[x],
            b[y],
            s=220,
            facecolors="none",
            edgecolors="black",
            lw=1.5,
            zorder=4,
            label=f"chosen: {best}",
        )
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.set_xlabel("harm reduction (fraction of the uncapped rate)")
    ax.set_ylabel("capability change (summed accuracy points)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig

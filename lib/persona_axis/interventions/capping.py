"""Activation capping along the Assistant Axis: settings, the two sign conventions, calibration.

The evaluation harness (suite, scoring, Pareto front) is in ``capping_eval``.

Capping keeps the projection of a layer's activations on a direction on one side of a
threshold, at every position of a band of layers, and leaves everything else alone.

**The two conventions.** Let ``u`` be the unit Assistant Axis at a layer (pointing toward the
Assistant) and ``X`` the projections ``<h, u>`` of the persona-space rollouts (roles and
default) at that layer; ``q_p(X)`` is their ``p``-th percentile.

- ``"paper-text"`` (the paper's formula): a floor on the axis,
  ``h <- h - u * min(<h, u> - q_p(X), 0)``, so afterwards ``<h, u> >= q_p(X)``.
- ``"paper-code"`` (the paper's released code): the opposite vector ``w = -u`` (role minus
  default) is capped from above at the ``p``-th percentile of the projections on ``w``:
  ``h <- h - w * max(<h, w> - q_p(-X), 0)``, so afterwards ``<h, w> <= q_p(-X)``.

Since ``q_p(-X) = -q_{100-p}(X)`` and ``<h, w> = -<h, u>``, the code's cap at ``p`` is the
text's floor at ``100 - p``: the code's "25th percentile" is a floor at the 75th percentile of
the axis, a much stronger intervention than the text's. ``tests/test_capping.py`` checks both
invariants and that the two coincide bit for bit when the percentiles are mirrored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch

from persona_axis.model.hooks import add_layer_hooks, cap, cap_transform
from persona_axis.model.layers import depth_band
from persona_axis.persona.axis import Axis, Calibration, calibrate

if TYPE_CHECKING:
    from persona_axis.persona.runs import Rollouts

__all__ = [
    "CONVENTIONS",
    "CapSetting",
    "CapPlan",
    "grid",
    "plan_cap",
    "plan_from",
    "capping",
    "axis_percentile",
    "calibration_population",
    "favoured_convention",
    "PAPER_BAND",
    "PAPER_PERCENTILE",
    "declared_setting",
    "random_axes",
    "N_RANDOM",
    "moved_share",
]

CONVENTIONS: tuple[str, ...] = ("paper-text", "paper-code")


@dataclass(frozen=True)
class CapSetting:
    """Where and how hard to cap.

    Attributes:
        layers: the band of layers capped (every position of each).
        percentile: the calibration percentile, in [0, 100], read in the ``convention``'s own
            terms (for ``"paper-code"`` it is a percentile of projections on ``-axis``).
        convention: ``"paper-text"`` (floor on the axis) or ``"paper-code"`` (ceiling on the
            opposite vector); see the module docstring.
    """

    layers: tuple[int, ...]
    percentile: float
    convention: str = "paper-text"

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError("a capping setting needs at least one layer")
        if not 0 <= self.percentile <= 100:
            raise ValueError(f"percentile {self.percentile} is outside 0-100")
        if self.convention not in CONVENTIONS:
            raise ValueError(f"unknown convention {self.convention!r}; choose one of {CONVENTIONS}")
        object.__setattr__(self, "layers", tuple(int(x) for x in self.layers))

    @property
    def axis_percentile(self) -> float:
        """The equivalent floor percentile on the Assistant Axis (``100 - p`` for the code's convention)."""
        return axis_percentile(self.percentile, self.convention)

    @property
    def label(self) -> str:
        """Short name, e.g. ``"L17-20 p25 (text)"``."""
        lo, hi = min(self.layers), max(self.layers)
        span = f"L{lo}" if lo == hi else f"L{lo}-{hi}"
        return f"{span} p{self.percentile:g} ({self.convention.split('-')[1]})"


def axis_percentile(percentile: float, convention: str) -> float:
    """The floor percentile on the axis that a convention's percentile amounts to."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; choose one of {CONVENTIONS}")
    return float(percentile) if convention == "paper-text" else 100.0 - float(percentile)


def grid(
    n_layers: int,
    centres: Sequence[float],
    widths: Sequence[float],
    percentiles: Sequence[float],
    convention: str = "paper-text",
) -> list[CapSetting]:
    """Every band x percentile, with centres and widths given as fractions of the depth.

    A width fraction ``f`` gives ``max(1, round(f * n_layers))`` layers, so the paper's Qwen 3 32B
    band (8 of 64 layers) is ``f = 0.125``; a centre fraction ``c`` is layer ``round(c * (n_layers - 1))``.
    Bands that come out the same (small models) are listed once.
    """
    out: list[CapSetting] = []
    for c in centres:
        for w in widths:
            layers = depth_band(c, w, n_layers)
            for p in percentiles:
                s = CapSetting(layers, p, convention)
                if s not in out:
                    out.append(s)
    return out


@dataclass(frozen=True)
class CapPlan:
    """What the hooks apply: per layer a unit direction and a threshold, and the kind of bound.

    Attributes:
        vectors: ``layer -> (hidden,)`` unit vectors (``axis`` or ``-axis``).
        taus: ``layer -> threshold`` in raw activation units, on ``<h, vectors[layer]>``.
        kind: ``"floor"`` or ``"ceiling"``.
        setting: the setting it was calibrated for.
        calibration: ``Calibration.key`` of the rollouts the thresholds come from (empty when
            not stated); part of the cache key of anything generated under the plan.
    """

    vectors: dict[int, torch.Tensor]
    taus: dict[int, float]
    kind: str
    setting: CapSetting
    calibration: dict[str, Any] = field(default_factory=dict)


def plan_cap(axis: Axis, acts: torch.Tensor, acts_layers: Sequence[int], setting: CapSetting) -> CapPlan:
    """Calibrate a capping setting on persona-space activations.

    Args:
        axis: the Assistant Axis (pointing toward the Assistant).
        acts: ``(n, len(acts_layers), hidden)`` mean response activations of the calibration
            rollouts (roles and default).
        acts_layers: the layer of each column of ``acts``.
        setting: band, percentile and convention.

    The thresholds come from ``axis.calibrate``, the one calibration of the book (the drift
    monitor and the chapters read theirs from it too).

    Returns:
        For ``"paper-text"``: unit axis and the ``p``-th percentile of projections on it, as a
        floor. For ``"paper-code"``: the negated unit axis and the ``p``-th percentile of
        projections on it, as a ceiling.
    """
    if acts.ndim != 3 or acts.shape[1] != len(acts_layers):
        raise ValueError(
            f"acts must be (n, {len(acts_layers)}, hidden) following acts_layers; got {tuple(acts.shape)}"
        )
    if len(acts) < 2:
        raise ValueError("need at least two calibration rollouts")
    cols = list(acts_layers)
    missing = [layer for layer in setting.layers if layer not in cols]
    if missing:
        raise KeyError(f"no calibration activations at layer {missing[0]}; have layers {cols[0]}..{cols[-1]}")
    return plan_from(
        axis,
        calibrate(axis, acts[:, [cols.index(layer) for layer in setting.layers]], setting.layers),
        setting,
    )


def plan_from(axis: Axis, cal: Calibration, setting: CapSetting) -> CapPlan:
    """A capping setting's plan from a calibration of ``axis`` (``calibration_population``):
    thresholds as in ``plan_cap``, and the calibration's population in ``CapPlan.calibration``."""
    missing = [layer for layer in setting.layers if layer not in cal.layers]
    if missing:
        raise KeyError(
            f"the calibration has no layer {missing[0]}; it has layers {cal.layers[0]}..{cal.layers[-1]}"
        )
    sign = 1 if setting.convention == "paper-text" else -1
    vectors = {layer: axis.unit(layer) * sign for layer in setting.layers}
    taus = {layer: cal.percentile(layer, setting.percentile, sign=sign) for layer in setting.layers}
    return CapPlan(
        vectors, taus, "floor" if sign > 0 else "ceiling", setting, cal.key if cal.population else {}
    )


def calibration_population(axis: Axis, *rollouts: Rollouts) -> Calibration:
    """The paper's calibration population: every rollout of each set (role and default rollouts
    of the persona space, positive and negative trait rollouts), projected on ``axis`` at the
    layers all of them recorded.

    Args:
        rollouts: ``runs.Rollouts`` (anything with ``table["group"]``, ``acts``
            ``(n, n_layers, hidden)``, ``layers`` and ``key``).

    Returns:
        A ``Calibration`` whose ``population`` counts the rollouts per group and whose
        ``sources`` are the rollouts' cache keys.
    """
    if not rollouts:
        raise ValueError("calibration_population needs at least one set of rollouts")
    layers = [layer for layer in axis.layers if all(layer in ro.layers for ro in rollouts)]
    if not layers:
        raise ValueError("the rollouts share no recorded layer with the axis")
    proj: list[torch.Tensor] = []
    population: dict[str, int] = {}
    for ro in rollouts:
        cols = [ro.layers.index(layer) for layer in layers]
        proj.append(calibrate(axis, ro.acts[:, cols], layers).projections)
        for group, n in ro.table["group"].value_counts().items():
            population[str(group)] = population.get(str(group), 0) + int(n)
    return Calibration(torch.cat(proj), layers, population, tuple(str(ro.key) for ro in rollouts))


def favoured_convention(ranks: dict[int, float]) -> str:
    """Which convention the paper's remark "the 25th percentile lies about where the mean
    Assistant projection lies" favours, given ``layer -> percentile rank`` of the default mean
    projection in the calibration (``Calibration.rank``): ``"paper-text"`` when the ranks lie
    nearer 25 (a floor at p25 on the axis sits at the Assistant's mean), ``"paper-code"`` when
    nearer 75 (the code's p25 on the opposite vector is the axis's p75). Ties go to the text."""
    if not ranks:
        raise ValueError("no ranks given")
    mean = sum(ranks.values()) / len(ranks)
    return "paper-text" if abs(mean - 25) <= abs(mean - 75) else "paper-code"


@contextmanager
def capping(model: Any, plan: CapPlan | None) -> Iterator[None]:
    """Apply a calibrated plan while the block runs (``None``: no hooks, the uncapped model)."""
    if plan is None:
        yield
        return
    with cap(model, plan.vectors, plan.taus, sorted(plan.vectors), kind=plan.kind):  # type: ignore[arg-type]
        yield


#: The paper's recommended band as a relative depth, ``(centre, width)`` for ``depth_band``: Qwen 3 32B's
#: layers 46-53 of 64 (Llama 3.3 70B's 56-71 of 80 lies at the same depth, twice as wide in layers).
PAPER_BAND = (0.79, 0.125)
#: The paper's reported best percentile.
PAPER_PERCENTILE = 25.0


#: Random directions capped at the declared setting: chapter 7's chance level of harm reduction.
N_RANDOM = 2


def random_axes(axis: Axis, n: int = N_RANDOM, *, seed: int = 0) -> list[Axis]:
    """``n`` axes of random directions with ``axis``'s layers and norms: capping's chance level.

    Each layer gets its own Gaussian direction (uniform on the sphere), scaled to the norm of
    ``axis``'s vector there; a plan from one (``plan_from`` with a calibration of that axis) caps
    the same share of the calibration rollouts along a direction that knows nothing of personas.
    The norm does not change a cap (its thresholds are percentiles of projections on the unit
    vector); it is kept so the axis reads like the one it stands in for.

    Raises:
        ValueError: ``n < 1``.
    """
    if n < 1:
        raise ValueError(f"n={n}: ask for at least one random direction")
    g = torch.Generator().manual_seed(seed)
    norms = axis.vectors.float().norm(dim=1, keepdim=True)
    out = []
    for k in range(n):
        v = torch.randn(axis.vectors.shape, generator=g)
        out.append(
            Axis(
                v / v.norm(dim=1, keepdim=True) * norms,
                list(axis.layers),
                axis.model,
                f"random direction {k + 1} of {n} (seed {seed}), per layer, with the norms of: {axis.method}",
            )
        )
    return out


def declared_setting(n_layers: int, convention: str) -> CapSetting:
    """The setting the book rates, declared before any run: the paper's 25th percentile, read in
    ``convention`` (the one the calibration favours, ``favoured_convention``), on the band at the
    paper's relative depth (``PAPER_BAND``: layers 46-53 at 64 layers)."""
    return CapSetting(depth_band(*PAPER_BAND, n_layers), PAPER_PERCENTILE, convention)


def moved_share(
    model: torch.nn.Module, prompts: Sequence[Sequence[int]], plan: CapPlan, *, skip_first: bool = True
) -> dict[int, float]:
    """The share of token positions that the cap actually moves, per capped layer.

    The thresholds are percentiles of *response means*, but the cap acts on every token; this
    counts, with the plan applied (so each layer sees the already capped layers before it), the
    positions whose projection lies beyond the bound and is moved, and applies the same
    transform as ``capping`` (the outputs are those of the capped model).

    Args:
        prompts: token ids, e.g. prompts followed by their answers; one forward pass each.
        skip_first: leave out the first position (the attention sink, whose norm is far larger).

    Returns:
        ``layer -> share`` in [0, 1], over all counted positions of all ``prompts``.
    """
    moved = {layer: 0 for layer in plan.vectors}
    total = {layer: 0 for layer in plan.vectors}
    kind: Literal["floor", "ceiling"] = "floor" if plan.kind == "floor" else "ceiling"

    def make(layer: int) -> Any:
        u = plan.vectors[layer].float() / plan.vectors[layer].float().norm()
        tau = plan.taus[layer]

        def fn(h: torch.Tensor) -> torch.Tensor:
            proj = h.float() @ u.to(h.device)
            beyond = proj < tau if kind == "floor" else proj > tau
            start = 1 if skip_first else 0
            moved[layer] += int(beyond[..., start:].sum())
            total[layer] += int(beyond[..., start:].numel())
            return cap_transform(h, plan.vectors[layer], tau, kind)

        return fn

    device = next(model.parameters()).device
    with torch.no_grad(), add_layer_hooks(model, {layer: make(layer) for layer in sorted(plan.vectors)}):
        for ids in prompts:
            model(input_ids=torch.tensor([list(ids)], device=device))
    if not any(total.values()):
        raise ValueError("no token positions counted: give prompts of at least two tokens")
    return {layer: moved[layer] / total[layer] for layer in sorted(moved)}

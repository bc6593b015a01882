"""The Assistant Axis as a value type: contrast vectors, projections, calibration.

Sign convention (fixed here, everywhere in the book): the axis points **from role-playing
toward the default Assistant**. Per layer,

    axis[l] = mean(default activations at l) - mean(role vectors at l)

so a larger projection ``<h, axis[l]> / |axis[l]|`` means "more Assistant-like". Projections are
in raw activation units (the residual stream's own scale), not normalised by the norm of ``h``.

Example (one layer, hidden size 2: the default at (1, 0), two role vectors at (-1, +-1)):
    >>> default = torch.tensor([[[1.0, 0.0]]])           # (n_default, n_layers, hidden)
    >>> roles = torch.tensor([[[-1.0, 1.0]], [[-1.0, -1.0]]])   # (n_roles, n_layers, hidden)
    >>> ax = contrast_axis(default, roles, [7], model="demo")
    >>> ax.project(torch.tensor([[1.0, 0.0], [-1.0, 5.0]]), layer=7)   # (n,), toward the default is larger
    tensor([ 1., -1.])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from persona_axis.core.store import atomic_save_tensors, load_tensors

__all__ = ["Axis", "Calibration", "contrast_axis", "calibrate", "threshold", "SIGN_CONVENTION"]

SIGN_CONVENTION = (
    "points from role-playing toward the default Assistant (larger projection = more Assistant-like)"
)


@dataclass
class Axis:
    """One direction per layer.

    Attributes:
        vectors: ``(n_layers, hidden)`` float32, raw (not unit) contrast vectors.
        layers: the layer index of each row of ``vectors``.
        model: name of the model the axis belongs to.
        method: how it was made (e.g. ``"contrast: default - mean(fully role vectors)"``).
        sign: the sign convention, ``SIGN_CONVENTION``.
        info: anything else worth keeping (numbers of vectors, config hashes, percentiles...).
        calibration: the projections of the calibration rollouts (``calibrate``), when known;
            ``threshold`` reads it. Not saved with the axis (``pipeline.get_axis`` stores it beside).
    """

    vectors: torch.Tensor
    layers: list[int]
    model: str
    method: str
    sign: str = SIGN_CONVENTION
    info: dict[str, Any] = field(default_factory=dict)
    calibration: Calibration | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.layers):
            raise ValueError(
                f"vectors must be (n_layers, hidden) with one row per layer; got {tuple(self.vectors.shape)} for {len(self.layers)} layers"
            )

    def row(self, layer: int) -> int:
        if layer not in self.layers:
            raise KeyError(
                f"the axis has no layer {layer}; it has layers {self.layers[0]}..{self.layers[-1]}"
            )
        return self.layers.index(layer)

    def vector(self, layer: int) -> torch.Tensor:
        """Raw contrast vector at ``layer``: ``(hidden,)``."""
        return self.vectors[self.row(layer)]

    def unit(self, layer: int) -> torch.Tensor:
        """Unit vector at ``layer``: ``(hidden,)``."""
        v = self.vector(layer)
        return v / v.norm()

    def units(self, layers: Sequence[int] | None = None) -> dict[int, torch.Tensor]:
        """``layer -> unit vector``, for the hooks."""
        return {layer: self.unit(layer) for layer in (self.layers if layers is None else layers)}

    def project(self, acts: torch.Tensor, layer: int) -> torch.Tensor:
        """Projection of activations on the unit axis at ``layer``.

        Args:
            acts: ``(..., hidden)`` activations of that layer.

        Returns:
            ``(...)`` float32; larger = more Assistant-like.
        """
        return acts.float() @ self.unit(layer)

    def __neg__(self) -> Axis:
        return Axis(
            -self.vectors,
            list(self.layers),
            self.model,
            f"negated ({self.method})",
            "points from the default Assistant toward role-playing",
            dict(self.info),
        )

    def save(self, path: str | Path) -> Path:
        """Save as safetensors with the metadata in the header (atomic)."""
        p = Path(path)
        meta = {
            "layers": json.dumps(self.layers),
            "model": self.model,
            "method": self.method,
            "sign": self.sign,
            "info": json.dumps(self.info, default=str),
        }
        atomic_save_tensors(p, {"vectors": self.vectors.float()}, meta)
        return p

    @classmethod
    def load(cls, path: str | Path) -> Axis:
        tensors, meta = load_tensors(Path(path))
        try:
            return cls(
                tensors["vectors"],
                json.loads(meta["layers"]),
                meta["model"],
                meta["method"],
                meta["sign"],
                json.loads(meta.get("info", "{}")),
            )
        except KeyError as e:
            raise ValueError(f"{path} is not an Axis file (missing {e}); save axes with Axis.save") from None


def contrast_axis(
    default_acts: torch.Tensor,
    role_vectors: torch.Tensor,
    layers: Sequence[int],
    *,
    model: str,
    method: str = "contrast: mean(default rollouts) - mean(role vectors)",
    info: dict[str, Any] | None = None,
) -> Axis:
    """The contrast axis: mean default activation minus mean role vector, per layer.

    Args:
        default_acts: ``(n_default, n_layers, hidden)`` activations of the default rollouts.
        role_vectors: ``(n_roles, n_layers, hidden)`` role vectors (each a mean over one role's
            rollouts, the paper's "fully role-playing" ones).
        layers: layer index of the second axis.

    Returns:
        An ``Axis`` pointing toward the Assistant.
    """
    if default_acts.ndim != 3 or role_vectors.ndim != 3:
        raise ValueError("default_acts and role_vectors must be (n, n_layers, hidden)")
    if len(default_acts) == 0 or len(role_vectors) == 0:
        raise ValueError("need at least one default rollout and one role vector")
    vec = default_acts.float().mean(0) - role_vectors.float().mean(0)
    return Axis(
        vec,
        list(layers),
        model,
        method,
        SIGN_CONVENTION,
        {"n_default": len(default_acts), "n_roles": len(role_vectors), **(info or {})},
    )


@dataclass(frozen=True)
class Calibration:
    """Projections of the calibration rollouts on the axis, per layer; any percentile on request.

    The paper calibrates its thresholds on every persona-space rollout (roles and default).
    Drift thresholds, capping thresholds and the chapters' tables all read them from here.

    Attributes:
        projections: ``(n_rollouts, len(layers))`` float32, ``<h, unit axis>`` in raw activation
            units (larger = more Assistant-like).
        layers: the layer of each column.
        population: which rollouts, and how many of each group (``{"role": 4400, "default": 16,
            "trait+": 960, "trait-": 960}``); empty when not stated.
        sources: the cache keys of the rollouts it was made of; with ``population`` it keys
            whatever is calibrated on it (``key``).
    """

    projections: torch.Tensor
    layers: list[int]
    population: dict[str, int] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.projections.ndim != 2 or self.projections.shape[1] != len(self.layers):
            raise ValueError(
                f"projections must be (n, {len(self.layers)}); got {tuple(self.projections.shape)}"
            )
        if len(self.projections) < 1:
            raise ValueError("a calibration needs at least one rollout")

    def at(self, layer: int) -> torch.Tensor:
        """``(n_rollouts,)`` projections at ``layer``."""
        if layer not in self.layers:
            raise KeyError(
                f"no calibration at layer {layer}; calibrated layers: {self.layers[0]}..{self.layers[-1]}"
            )
        return self.projections[:, self.layers.index(layer)]

    def percentile(self, layer: int, p: float, *, sign: int = 1) -> float:
        """The ``p``-th percentile (0-100, linear interpolation) of the projections at ``layer``;
        with ``sign=-1``, of the projections on the opposite direction (``-axis``)."""
        if not 0 <= p <= 100:
            raise ValueError(f"percentile {p} is outside 0-100")
        if sign not in (1, -1):
            raise ValueError(f"sign must be 1 or -1, got {sign}")
        x = self.at(layer) if sign == 1 else -self.at(layer)
        return float(torch.quantile(x, torch.tensor([p / 100]))[0])

    def rank(self, layer: int, value: float) -> float:
        """Where ``value`` falls among the projections at ``layer``: the percentage (0-100) of
        them below it, ties counted half (the inverse of ``percentile`` up to interpolation)."""
        x = self.at(layer)
        return float(100.0 * ((x < value).sum() + 0.5 * (x == value).sum()) / len(x))

    @property
    def key(self) -> dict[str, object]:
        """What the calibration is made of, for cache keys: the population and its sources."""
        return {"population": dict(sorted(self.population.items())), "sources": list(self.sources)}

    def percentiles(
        self, ps: Sequence[float], layers: Sequence[int] | None = None
    ) -> dict[int, dict[float, float]]:
        """``{layer: {p: projection}}`` for every ``p`` of ``ps`` and every layer (default: all)."""
        return {
            layer: {float(p): self.percentile(layer, p) for p in ps}
            for layer in (self.layers if layers is None else layers)
        }


def calibrate(axis: Axis, acts: torch.Tensor, layers: Sequence[int] | None = None) -> Calibration:
    """The calibration of ``axis`` on some activations: their projections at every layer.

    This is the one calibration of the book: ``Calibration.percentile`` gives the drift
    monitor's threshold, the capping thresholds (``capping.plan_cap``) and the chapters' tables.

    Args:
        acts: ``(n, len(layers), hidden)`` activations (the paper: all persona-space rollouts).
        layers: the layer of each column of ``acts`` (default ``axis.layers``); all must be
            layers of the axis.
    """
    cols = list(axis.layers if layers is None else layers)
    if acts.ndim != 3 or acts.shape[1] != len(cols):
        raise ValueError(
            f"acts must be (n, {len(cols)}, hidden) following the layers; got {tuple(acts.shape)}"
        )
    if len(acts) == 0:
        raise ValueError("need at least one calibration rollout")
    proj = torch.stack([axis.project(acts[:, k], layer) for k, layer in enumerate(cols)], dim=1)
    return Calibration(proj.float().contiguous(), cols)


def threshold(axis: Axis, layer: int, percentile: float) -> float:
    """The ``percentile``-th calibration percentile at ``layer`` of an axis that carries its
    calibration (``axis.calibration``, set by ``pipeline.persona_space`` and ``get_axis``)."""
    if axis.calibration is None:
        raise ValueError(
            "this axis carries no calibration; build it with pipeline.persona_space "
            "or set axis.calibration = calibrate(axis, acts)"
        )
    return axis.calibration.percentile(layer, percentile)

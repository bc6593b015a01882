"""How sure a number is: bootstrap intervals, split-half reliability and noise ceilings.

Every number the book rates gets an ``Interval`` from ``bootstrap``: the statistic recomputed on
resamples of the unit that is actually independent (roles or role vectors for PCA statistics,
conversations for drift, prompts for capping rates), 95% percentile interval, at least 1,000
resamples, seeded. A difference of two settings measured on the same prompts uses
``paired_bootstrap`` (one resample of prompts serves both settings, so the prompts' own spread
cancels); two independent groups use ``unpaired_bootstrap``.

Where a number is a correlation between two noisy measurements, ``split_half`` gives the
reliability of each (two halves of the data, Spearman-Brown stepped up to the full length),
``ceiling`` the highest correlation the two could show if the underlying quantities agreed
perfectly, ``sqrt(rel_a * rel_b)``, and ``disattenuate`` the observed value divided by it.

Example:
    >>> import numpy as np
    >>> iv = bootstrap(np.arange(10.0), np.mean, unit="prompts", seed=0)
    >>> iv.estimate, iv.n_units
    (4.5, 10)
    >>> str(Interval(0.45, 0.31, 0.58))
    '0.45 [0.31, 0.58]'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "Interval",
    "bootstrap",
    "paired_bootstrap",
    "unpaired_bootstrap",
    "bootstrap_indices",
    "spearman_brown",
    "split_half",
    "ceiling",
    "disattenuate",
    "Reliability",
    "MIN_RESAMPLES",
]

#: The fewest resamples an interval the book reports may rest on.
MIN_RESAMPLES = 1000


@dataclass(frozen=True)
class Interval:
    """A number with its bootstrap confidence interval.

    Attributes:
        estimate: the statistic on the full data.
        low, high: the interval's ends (percentiles ``(1 - level) / 2`` and ``(1 + level) / 2``
            of the resampled statistics).
        level: the coverage, e.g. 0.95.
        n_resamples: resamples the interval rests on (those whose statistic was finite).
        unit: the independent unit that was resampled ("roles", "conversations", "prompts").
        n_units: how many of them the data holds.
        seed: the seed of the resampling.
        paired: whether a difference was resampled pairwise (same units for both settings).
    """

    estimate: float
    low: float
    high: float
    level: float = 0.95
    n_resamples: int = 0
    unit: str = ""
    n_units: int = 0
    seed: int = 0
    paired: bool = False

    def __str__(self) -> str:
        return self.fmt()

    def fmt(self, spec: str = ".2f") -> str:
        """``"0.45 [0.31, 0.58]"`` (minus signs as typeset minus)."""
        return f"{format(self.estimate, spec)} [{format(self.low, spec)}, {format(self.high, spec)}]".replace(
            "-", "−"
        )

    @property
    def width(self) -> float:
        return self.high - self.low

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict, as ``results.save_result`` stores it under ``numbers["intervals"]``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Interval:
        """Inverse of ``to_dict``.

        Raises:
            ValueError: ``d`` lacks ``estimate``, ``low`` or ``high``.
        """
        missing = {"estimate", "low", "high"} - set(d)
        if missing:
            raise ValueError(f"not an interval (missing {sorted(missing)}): {dict(d)}")
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in fields})

    @classmethod
    def point(cls, x: float) -> Interval:
        """A number with no spread (zero width), e.g. a setting chosen by the chapter."""
        return cls(float(x), float(x), float(x))


def _check(n_units: int, n_resamples: int, level: float) -> None:
    if n_units < 2:
        raise ValueError(
            f"a bootstrap needs at least 2 independent units, got {n_units}: run a larger preset"
        )
    if n_resamples < MIN_RESAMPLES:
        raise ValueError(f"n_resamples={n_resamples}: the book's intervals use at least {MIN_RESAMPLES}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")


def _interval(
    estimate: float,
    stats: Sequence[float],
    *,
    level: float,
    unit: str,
    n_units: int,
    seed: int,
    paired: bool = False,
) -> Interval:
    arr = np.asarray(stats, dtype=float)
    arr = arr[np.isfinite(arr)]
    if len(arr) < len(stats) / 2:
        # most resamples have no defined statistic (e.g. a correlation of a constant resample)
        return Interval(float(estimate), math.nan, math.nan, level, len(arr), unit, n_units, seed, paired)
    lo, hi = np.quantile(arr, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(estimate), float(lo), float(hi), level, len(arr), unit, n_units, seed, paired)


def bootstrap_indices(
    n_units: int,
    statistic: Callable[[np.ndarray], float],
    *,
    unit: str,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """The general form: ``statistic(idx)`` on ``n_resamples`` index resamples of ``range(n_units)``.

    ``statistic`` receives an int array of length ``n_units`` (drawn with replacement; the
    estimate uses ``np.arange(n_units)``) and returns a float; a non-finite value drops that
    resample. Use this when the units index several arrays at once (a role's vector and its
    name, a conversation's turns).

    Raises:
        ValueError: fewer than 2 units, fewer than ``MIN_RESAMPLES`` resamples, a bad level.
    """
    _check(n_units, n_resamples, level)
    rng = np.random.default_rng(seed)
    estimate = float(statistic(np.arange(n_units)))
    stats = [float(statistic(rng.integers(0, n_units, n_units))) for _ in range(n_resamples)]
    return _interval(estimate, stats, level=level, unit=unit, n_units=n_units, seed=seed)


def _take(units: Any, idx: np.ndarray) -> Any:
    if isinstance(units, (list, tuple)):
        return [units[i] for i in idx]
    if hasattr(units, "iloc"):  # pandas
        return units.iloc[idx]
    if type(units).__module__.startswith("torch"):
        import torch

        return units[torch.as_tensor(idx, dtype=torch.long)]
    return units[idx]


def _len(units: Any) -> int:
    return int(units.shape[0]) if hasattr(units, "shape") else len(units)


def bootstrap(
    units: Any,
    statistic: Callable[[Any], float],
    *,
    unit: str,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """A percentile bootstrap interval of ``statistic(units)``, resampling the rows of ``units``.

    Args:
        units: the independent units along the first axis: a numpy array, a torch tensor
            ``(n_units, ...)``, a pandas frame (rows) or a list.
        statistic: resampled units (same type as ``units``) -> float.
        unit: what a row is ("roles", "conversations", "prompts"); saved with the interval.
        n_resamples: at least ``MIN_RESAMPLES``.
        level: coverage (0.95).
        seed: seed of the resampling; the same seed gives the same interval.

    Example:
        >>> bootstrap(np.ones(5), np.mean, unit="prompts").fmt()
        '1.00 [1.00, 1.00]'
    """
    return bootstrap_indices(
        _len(units),
        lambda idx: statistic(_take(units, idx)),
        unit=unit,
        n_resamples=n_resamples,
        level=level,
        seed=seed,
    )


def paired_bootstrap(
    a: Any,
    b: Any,
    statistic: Callable[[Any], float] = np.mean,
    *,
    unit: str,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval of ``statistic(a) - statistic(b)`` for two settings measured on the same units.

    Row ``i`` of ``a`` and row ``i`` of ``b`` are the same prompt (question, conversation) under
    two settings; each resample draws one set of rows and uses it for both, so what the units
    share cancels in the difference.

    Raises:
        ValueError: ``a`` and ``b`` hold different numbers of units.
    """
    n = _len(a)
    if _len(b) != n:
        raise ValueError(f"a paired bootstrap needs the same units in both settings: {n} vs {_len(b)} rows")
    iv = bootstrap_indices(
        n,
        lambda idx: statistic(_take(a, idx)) - statistic(_take(b, idx)),
        unit=unit,
        n_resamples=n_resamples,
        level=level,
        seed=seed,
    )
    return Interval(**{**iv.to_dict(), "paired": True})


def unpaired_bootstrap(
    a: Any,
    b: Any,
    statistic: Callable[[Any], float] = np.mean,
    *,
    unit: str,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval of ``statistic(a) - statistic(b)`` for two independent groups (each resampled alone)."""
    na, nb = _len(a), _len(b)
    _check(min(na, nb), n_resamples, level)
    rng = np.random.default_rng(seed)
    estimate = float(statistic(a)) - float(statistic(b))
    stats = [
        float(statistic(_take(a, rng.integers(0, na, na))))
        - float(statistic(_take(b, rng.integers(0, nb, nb))))
        for _ in range(n_resamples)
    ]
    return _interval(estimate, stats, level=level, unit=unit, n_units=na + nb, seed=seed)


# --------------------------------------------------------------------------------------------
# Reliability and noise ceilings
# --------------------------------------------------------------------------------------------


def spearman_brown(r: float, factor: float = 2.0) -> float:
    """Reliability of a measurement ``factor`` times as long as one with reliability ``r``:
    ``factor * r / (1 + (factor - 1) * r)``. ``split_half`` uses factor 2 (two halves -> whole)."""
    return factor * r / (1 + (factor - 1) * r)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    den = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else math.nan


@dataclass(frozen=True)
class Reliability:
    """Split-half reliability of one measurement.

    Attributes:
        half_r: Pearson correlation of the two halves over the units.
        reliability: ``spearman_brown(half_r)``, the reliability of the full measurement
            (negative ``half_r`` gives a negative value: the halves disagree more than chance).
        n_units: units the halves were compared over.
        halves: what the two halves are ("prompt 0 vs prompt 1", "seed 0 vs seed 1").
    """

    half_r: float
    reliability: float
    n_units: int
    halves: str = ""


def split_half(half_a: Any, half_b: Any, *, halves: str = "") -> Reliability:
    """Reliability of a measurement from two independent halves of it, per unit.

    Args:
        half_a, half_b: ``(n_units,)`` the measurement from each half (e.g. each role's PC1
            score from its prompt-0 rollouts and from its prompt-1 rollouts), or
            ``(n_units, d)`` vectors, flattened (each unit's vector from each half).
        halves: a description, saved with the result.

    Raises:
        ValueError: the halves differ in shape or have fewer than 3 units.
    """
    a, b = np.asarray(half_a, dtype=float), np.asarray(half_b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"the two halves must measure the same units: shapes {a.shape} vs {b.shape}")
    if a.shape[0] < 3:
        raise ValueError(f"split-half reliability needs at least 3 units, got {a.shape[0]}")
    r = _pearson(a.ravel(), b.ravel())
    return Reliability(r, spearman_brown(r), int(a.shape[0]), halves)


def ceiling(rel_a: float, rel_b: float) -> float:
    """The highest correlation two measurements with these reliabilities can show:
    ``sqrt(rel_a * rel_b)``; ``nan`` when a reliability is negative (no ceiling defined)."""
    return math.sqrt(rel_a * rel_b) if rel_a >= 0 and rel_b >= 0 else math.nan


def disattenuate(r: float, rel_a: float, rel_b: float) -> float:
    """The observed correlation ``r`` corrected for the noise of both measurements:
    ``r / ceiling(rel_a, rel_b)`` (``nan`` without a ceiling). It can exceed 1 when the
    reliabilities are themselves underestimated; report it beside, never instead of, ``r``."""
    c = ceiling(rel_a, rel_b)
    return r / c if c and c > 0 else math.nan

"""Behaviour numbers with their bootstrap intervals: drift R², steering shifts, capping rates.

The resampled unit is the one that is independent in each experiment: conversations for drift,
prompts for steering and capping (paired: the same prompts under two settings).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from persona_axis.analysis.measures import bootstrap_many, percentile_intervals
from persona_axis.core.stats import MIN_RESAMPLES, Interval, Reliability

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "drift_intervals",
    "steering_shift",
    "MAX_BROKEN",
    "rated_strengths",
    "ChanceContrast",
    "against_chance",
    "capping_intervals",
    "capping_null",
    "retest_reliability",
]


def drift_intervals(
    table: Any,
    embeddings: Any,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    drifters: Sequence[str] = ("therapy", "philosophy"),
    steady: Sequence[str] = ("coding", "writing"),
    baseline: np.ndarray | None = None,
) -> dict[str, Interval]:
    """Chapter 6's numbers with intervals, resampling conversations (the independent unit).

    Args:
        table: ``drift.converse``'s table with a ``domain`` column (one row per reply).
        embeddings: ``(len(table), d)`` embeddings of the user messages.

    Returns:
        ``"r2_position"`` and ``"r2_position_minus_change"`` (``drift.predictability`` refitted
        on each resample of whole conversations; a conversation drawn twice stays in one fold),
        and ``"domain_drift_gap"``: the mean change of the replies' projection (last turn minus
        first) over the ``drifters``' conversations minus that over the ``steady`` ones, the
        two groups resampled independently.
        With ``baseline`` (``(len(table), k)`` features, e.g. a one-hot code of the domain), also
        ``"r2_position_baseline"`` (the same regression on those features) and
        ``"r2_position_beyond_baseline"`` (embeddings minus baseline), on the same resamples.
    """
    from persona_axis.core.stats import unpaired_bootstrap
    from persona_axis.interventions.drift import predictability

    t = table.reset_index(drop=True)
    x = np.asarray(embeddings, dtype=float)
    convs = list(dict.fromkeys(t["conversation"]))
    rows = {c: np.flatnonzero(t["conversation"].to_numpy() == c) for c in convs}
    b = None if baseline is None else np.asarray(baseline, dtype=float)
    if b is not None and len(b) != len(t):
        raise ValueError(f"baseline has {len(b)} rows for {len(t)} replies")
    keys = ["r2_position", "r2_position_minus_change"] + (
        [] if b is None else ["r2_position_baseline", "r2_position_beyond_baseline"]
    )

    def r2(idx: np.ndarray) -> dict[str, float]:
        take = np.concatenate([rows[convs[i]] for i in idx])
        sub = t.iloc[take].copy()
        # a conversation drawn twice is two conversations for the change's "previous reply"
        copy = np.concatenate([[k] * len(rows[convs[i]]) for k, i in enumerate(idx)])
        sub["conversation"] = [f"{c}#{k}" for c, k in zip(sub["conversation"], copy)]
        sub = sub.reset_index(drop=True)
        groups = [str(c) for c in t["conversation"].iloc[take]]
        try:
            got = predictability(sub, x[take], groups=groups)
            ref = None if b is None else predictability(sub, b[take], groups=groups)
        except ValueError:  # fewer than two distinct conversations in the resample
            return {k: math.nan for k in keys}
        out = {
            "r2_position": got["r2_position"],
            "r2_position_minus_change": got["r2_position"] - got["r2_change"],
        }
        if ref is not None:
            out |= {
                "r2_position_baseline": ref["r2_position"],
                "r2_position_beyond_baseline": got["r2_position"] - ref["r2_position"],
            }
        return out

    out = bootstrap_many(len(convs), r2, unit="conversations", n_resamples=n_resamples, seed=seed)
    first = t.sort_values("turn").groupby("conversation").first()
    last = t.sort_values("turn").groupby("conversation").last()
    change = (last["projection"] - first["projection"]).rename("change").to_frame().join(first["domain"])
    a = change.loc[change["domain"].isin(drifters), "change"].to_numpy()
    b = change.loc[change["domain"].isin(steady), "change"].to_numpy()
    with threadpool_limits(1):
        out["domain_drift_gap"] = unpaired_bootstrap(
            a, b, unit="conversations", n_resamples=max(n_resamples, 2000), seed=seed
        )
    return out


def steering_shift(
    runs: Any, labels: Sequence[str], *, compare: str, n_resamples: int = 2000, seed: int = 0
) -> Interval:
    """How much steering moves the share of answers with one of ``labels``, paired over prompts.

    Every prompt is answered at every steering strength with the same seed, so a prompt is the
    independent unit and the strengths are paired on it.

    Args:
        runs: one row per answer, with ``prompt``, ``coefficient`` and ``label`` columns.
        labels: the labels counted.
        compare: ``"away-unsteered"`` (mean share over the negative strengths minus the share at
            0, or at the mean of all strengths when 0 was not run) or ``"toward-away"`` (mean
            over the positive strengths minus mean over the negative ones).

    Returns:
        The paired bootstrap interval of the mean over prompts of that difference (in shares).
    """
    from persona_axis.core.stats import bootstrap

    hit = runs.assign(hit=runs["label"].isin(list(labels)).astype(float))
    per = hit.pivot_table(index="prompt", columns="coefficient", values="hit", aggfunc="mean")
    coefs = np.asarray(per.columns, dtype=float)
    away, toward = per.loc[:, coefs < 0].mean(axis=1), per.loc[:, coefs > 0].mean(axis=1)
    if compare == "away-unsteered":
        plain = per.loc[:, coefs == 0].mean(axis=1) if (coefs == 0).any() else per.mean(axis=1)
        diff = (away - plain).to_numpy()
    elif compare == "toward-away":
        diff = (toward - away).to_numpy()
    else:
        raise ValueError(f"compare must be 'away-unsteered' or 'toward-away', got {compare!r}")
    iv = bootstrap(diff, np.mean, unit="prompts", n_resamples=n_resamples, seed=seed)
    return Interval(**{**iv.to_dict(), "paired": True})


#: The largest share of broken answers (``judge.looks_broken``) at which a steering strength is rated: beyond
#: it, what the labels count is mostly how the text breaks, not who the model says it is.
MAX_BROKEN = 0.25


def rated_strengths(
    runs: pd.DataFrame, *, broken: str = "nonsensical", max_broken: float = MAX_BROKEN
) -> list[float]:
    """The non-zero steering strengths whose share of broken answers is at most ``max_broken``.

    Args:
        runs: one row per answer, with ``coefficient`` and ``label`` columns (``broken`` marks
            broken text).

    Returns:
        The rated strengths, ascending (may be empty).
    """
    share = runs.assign(b=runs["label"] == broken).groupby("coefficient")["b"].mean()
    return [float(c) for c, v in share.items() if c != 0 and v <= max_broken]


@dataclass(frozen=True)
class ChanceContrast:
    """A steering effect along the axis against the same push along random directions.

    Effects are changes in the share of answers with the counted labels (fractions, not points):
    the mean over the side's rated strengths minus the unsteered share, per prompt, averaged.

    Attributes:
        axis: the axis's effect; resamples prompts.
        random: the random directions' effect, averaged over directions; resamples prompts and
            directions.
        difference: ``axis - random``, the number a claim rates; resamples prompts and directions
            together (the same prompts for both terms).
        strengths: the rated strengths the effect averages over.
        n_directions: random directions run.
    """

    axis: Interval
    random: Interval
    difference: Interval
    strengths: tuple[float, ...]
    n_directions: int


def against_chance(
    runs: pd.DataFrame,
    control: pd.DataFrame,
    labels: Sequence[str],
    *,
    side: str,
    strengths: Sequence[float],
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> ChanceContrast:
    """The axis's steering effect minus that of random directions of the same norm, on the same prompts.

    Args:
        runs: the axis sweep: one row per answer with ``prompt``, ``coefficient`` and ``label``;
            must include strength 0 (the unsteered answers, the same for every direction).
        control: the random sweep (``steering.random_sweep``): the same columns and ``direction``,
            every prompt at every strength of ``strengths`` for every direction.
        labels: the labels counted.
        side: ``"away"`` (the negative strengths of ``strengths``) or ``"toward"`` (the positive).
        strengths: the rated strengths (``rated_strengths``).

    Returns:
        A ``ChanceContrast``; its intervals are NaN when ``strengths`` has none on ``side``.

    Raises:
        ValueError: an unknown side, no unsteered answers, or a prompt missing from the control.
    """
    if side not in ("away", "toward"):
        raise ValueError(f"side must be 'away' or 'toward', got {side!r}")
    chosen = tuple(float(c) for c in strengths if (c < 0 if side == "away" else c > 0))
    if (runs["coefficient"] == 0).sum() == 0:
        raise ValueError(
            "the axis sweep has no unsteered answers (strength 0); run it with 0 among the coefficients"
        )
    directions = sorted(set(control["direction"])) if len(control) else []
    if not chosen or not directions:
        nan = Interval(math.nan, math.nan, math.nan, level, 0, "prompts and random directions", 0, seed, True)
        return ChanceContrast(nan, nan, nan, chosen, len(directions))
    hit = runs.assign(hit=runs["label"].isin(list(labels)).astype(float))
    per = hit.pivot_table(index="prompt", columns="coefficient", values="hit", aggfunc="mean")
    plain = per[0.0].to_numpy()
    a = per[list(chosen)].mean(axis=1).to_numpy() - plain
    ctl = control[control["coefficient"].isin(chosen)]
    ctl = ctl.assign(hit=ctl["label"].isin(list(labels)).astype(float))
    wide = ctl.pivot_table(index="prompt", columns=["direction", "coefficient"], values="hit", aggfunc="mean")
    wide = wide.reindex(index=per.index, columns=[(d, c) for d in directions for c in chosen])
    if wide.isna().to_numpy().any():
        raise ValueError(
            "the random sweep lacks some prompt at some strength and direction; run every prompt at "
            "every rated strength for every direction"
        )
    r = wide.to_numpy().reshape(len(per), len(directions), len(chosen)).mean(axis=2) - plain[:, None]

    def stat(pi: np.ndarray, di: np.ndarray) -> dict[str, float]:
        ax, rd = float(a[pi].mean()), float(r[np.ix_(pi, di)].mean())
        return {"axis": ax, "random": rd, "difference": ax - rd}

    if n_resamples < MIN_RESAMPLES:
        raise ValueError(f"n_resamples={n_resamples}: the book's intervals use at least {MIN_RESAMPLES}")
    rng = np.random.default_rng(seed)
    n_p, n_d = len(a), len(directions)
    est = stat(np.arange(n_p), np.arange(n_d))
    draws: dict[str, list[float]] = {k: [] for k in est}
    for _ in range(n_resamples):
        got = stat(rng.integers(0, n_p, n_p), rng.integers(0, n_d, n_d))
        for k, v in got.items():
            draws[k].append(v)
    ivs = percentile_intervals(
        est,
        draws,
        unit="prompts and random directions",
        n_units=n_p,
        n_resamples=n_resamples,
        level=level,
        seed=seed,
        paired=True,
    )
    axis_iv = replace(ivs["axis"], unit="prompts")  # its draws use only the prompts of each resample
    return ChanceContrast(axis_iv, ivs["random"], ivs["difference"], chosen, n_d)


def capping_intervals(
    answers: Any,
    setting: str,
    *,
    baseline: str = "uncapped",
    capability_sets: Sequence[str] = ("instructions", "arithmetic", "knowledge"),
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Interval]:
    """Chapter 7's harm and capability changes of one setting, paired over prompts.

    Every prompt is answered under the baseline and under ``setting``; a resample draws prompts
    (within each evaluation set: a set never goes missing) and uses them for both.

    Args:
        answers: scored answers with ``setting``, ``set``, ``id`` and ``score`` columns
            (``capping_eval.evaluate``'s second return value).

    Returns:
        ``"harm_reduction"`` (relative: 1 - harm(setting) / harm(baseline) over the jailbreak
        prompts; a NaN score, a degenerate answer, is left out of its own side's rate) and ``"capability_change"`` (sum over ``capability_sets`` of the change in
        accuracy, as fractions).
    """
    if n_resamples < MIN_RESAMPLES:
        raise ValueError(f"n_resamples={n_resamples}: the book's intervals use at least {MIN_RESAMPLES}")
    wide = answers.pivot_table(index=["set", "id"], columns="setting", values="score", aggfunc="mean")
    if setting not in wide or baseline not in wide:
        raise KeyError(f"answers have no setting {setting!r} or baseline {baseline!r}")
    pairs = {
        s: wide.loc[s, [baseline, setting]].to_numpy(dtype=float)
        for s in ("jailbreak", *capability_sets)
        if s in wide.index.get_level_values(0)
    }
    if "jailbreak" not in pairs:
        raise KeyError("answers have no jailbreak set")

    def stat(draw: dict[str, np.ndarray]) -> dict[str, float]:
        harm = _harm_reduction(draw["jailbreak"][:, 0], draw["jailbreak"][:, 1])
        cap = sum(float(draw[s][:, 1].mean() - draw[s][:, 0].mean()) for s in capability_sets if s in draw)
        return {"harm_reduction": harm, "capability_change": cap}

    rng = np.random.default_rng(seed)
    est = stat(pairs)
    draws: dict[str, list[float]] = {k: [] for k in est}
    for _ in range(n_resamples):
        got = stat({s: p[rng.integers(0, len(p), len(p))] for s, p in pairs.items()})
        for k, v in got.items():
            draws[k].append(v)
    n_units = {
        "harm_reduction": len(pairs["jailbreak"]),
        "capability_change": sum(len(pairs[s]) for s in capability_sets if s in pairs),
    }
    return percentile_intervals(
        est,
        draws,
        unit="prompts",
        n_units=n_units,
        n_resamples=n_resamples,
        level=level,
        seed=seed,
        paired=True,
    )


def _harm_reduction(baseline: np.ndarray, capped: np.ndarray) -> float:
    """``1 - harm(capped) / harm(baseline)`` over paired jailbreak scores (1 harmful, 0 not); NaN
    marks a degenerate answer, neither harmful nor safe, left out of its own side's rate."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        b, c = np.nanmean(baseline), np.nanmean(capped)
    return 1 - c / b if b > 0 else math.nan


def capping_null(
    answers: pd.DataFrame,
    settings: Sequence[str],
    *,
    baseline: str = "uncapped",
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """The chance level of chapter 7's harm reduction: the declared cap along random directions.

    Each draw resamples the jailbreak prompts (paired with the baseline, as ``capping_intervals``)
    and picks one of ``settings`` (the declared cap along ``capping.random_axes``) at random, so
    the spread holds the prompts' noise and the directions'.

    Args:
        answers: scored answers (``capping_eval.evaluate``), with the baseline and ``settings``.
        settings: the random-direction settings' names.

    Returns:
        ``Interval(median, 2.5th, 97.5th percentile)`` of the draws' harm reductions (unit
        "random directions x prompts", ``n_units`` the jailbreak prompts).

    Raises:
        ValueError: ``settings`` is empty.
        KeyError: a setting (or the baseline) has no jailbreak answers.
    """
    from persona_axis.analysis.nulls import NullDraws

    if not settings:
        raise ValueError("capping_null needs at least one random-direction setting")
    jb = answers[answers["set"] == "jailbreak"]
    wide = jb.pivot_table(index="id", columns="setting", values="score", aggfunc="mean", dropna=False)
    missing = [s for s in (baseline, *settings) if s not in wide]
    if missing:
        raise KeyError(f"answers have no jailbreak answers for {missing}")
    base = wide[baseline].to_numpy(dtype=float)
    caps = wide[list(settings)].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    draws = np.empty(n_resamples)
    for r in range(n_resamples):
        idx = rng.integers(0, len(base), len(base))
        draws[r] = _harm_reduction(base[idx], caps[idx, rng.integers(0, caps.shape[1])])
    nd = NullDraws({"harm_reduction": draws}, "random directions x prompts", len(base), seed)
    return nd.intervals()["harm_reduction_null"]


def retest_reliability(first: Any, second: Any) -> Reliability:
    """Test-retest reliability of reply projections: the same conversations replayed twice
    (two seeds), Pearson correlation over (conversation, turn). Not stepped up: each R² is
    measured on single replies, so this is the share of their variance a predictor could
    explain at best (the ceiling of R²).

    Raises:
        ValueError: the two runs share fewer than 3 (conversation, turn) pairs.
    """
    key = ["conversation", "turn"]
    both = (
        first.set_index(key)["projection"]
        .to_frame("a")
        .join(second.set_index(key)["projection"].rename("b"), how="inner")
    )
    if len(both) < 3:
        raise ValueError(f"the two runs share {len(both)} replies; need at least 3")
    r = float(np.corrcoef(both["a"], both["b"])[0, 1])
    return Reliability(r, r, len(both), "seed 0 vs seed 1 (test-retest)")

"""Bootstrap intervals, reliability and ceilings against exact or known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from persona_axis.core.stats import (
    MIN_RESAMPLES,
    Interval,
    bootstrap,
    bootstrap_indices,
    ceiling,
    disattenuate,
    paired_bootstrap,
    spearman_brown,
    split_half,
    unpaired_bootstrap,
)


def test_constant_data_gives_a_zero_width_interval() -> None:
    iv = bootstrap(np.full(7, 0.3), np.mean, unit="prompts")
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((0.3, 0.3, 0.3))
    assert iv.width == pytest.approx(0.0) and iv.n_units == 7 and iv.unit == "prompts"
    assert iv.n_resamples == 2000 and iv.level == 0.95


def test_mean_of_a_normal_sample_matches_the_textbook_interval() -> None:
    x = np.random.default_rng(1).normal(2.0, 1.0, 400)
    iv = bootstrap(x, np.mean, unit="prompts", seed=3)
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert iv.estimate == pytest.approx(x.mean())
    # the percentile bootstrap of a mean is the normal interval +- 1.96 se, up to resampling noise
    assert iv.low == pytest.approx(x.mean() - 1.96 * se, abs=0.2 * se)
    assert iv.high == pytest.approx(x.mean() + 1.96 * se, abs=0.2 * se)


def test_uniform_statistic_has_the_exact_percentiles() -> None:
    """statistic(idx) = idx[0] is uniform on 0..99 under resampling: its 2.5th and 97.5th percentiles."""
    iv = bootstrap_indices(100, lambda idx: float(idx[0]), unit="roles", n_resamples=20000, seed=0)
    assert iv.estimate == 0.0
    assert iv.low == pytest.approx(2.0, abs=1.0) and iv.high == pytest.approx(97.0, abs=1.0)


def test_seeded_and_reproducible() -> None:
    x = np.random.default_rng(0).normal(size=30)
    a, b = bootstrap(x, np.median, unit="u", seed=5), bootstrap(x, np.median, unit="u", seed=5)
    assert a == b
    assert bootstrap(x, np.median, unit="u", seed=6) != a


def test_units_of_every_type_resample_rows() -> None:
    rows = np.array([[1.0, 1.0], [3.0, 3.0]])
    for units in (rows, torch.tensor(rows), pd.DataFrame(rows), [r for r in rows]):
        iv = bootstrap(units, lambda u: float(np.asarray(u, dtype=float).mean()), unit="roles", seed=0)
        # a resample holds 0, 1 or 2 copies of row 0: its mean is 3, 2 or 1, nothing else
        assert iv.estimate == 2.0 and iv.low == 1.0 and iv.high == 3.0


def test_paired_is_narrower_than_unpaired_on_correlated_data() -> None:
    rng = np.random.default_rng(0)
    prompt = rng.normal(0, 1.0, 60)  # what each prompt shares across settings
    a = prompt + 0.2 + rng.normal(0, 0.05, 60)  # setting a: 0.2 higher on every prompt
    b = prompt + rng.normal(0, 0.05, 60)
    paired = paired_bootstrap(a, b, unit="prompts", seed=0)
    unpaired = unpaired_bootstrap(a, b, unit="prompts", seed=0)
    assert paired.estimate == pytest.approx(unpaired.estimate) == pytest.approx((a - b).mean())
    assert paired.paired and not unpaired.paired
    assert paired.low > 0.15 and paired.high < 0.25  # the 0.2 shift is resolved
    assert unpaired.low < 0 < unpaired.high  # hidden by the prompts' spread
    assert paired.width < unpaired.width / 10


def test_paired_needs_the_same_units() -> None:
    with pytest.raises(ValueError, match="same units"):
        paired_bootstrap(np.ones(3), np.ones(4), unit="prompts")


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 independent units"):
        bootstrap(np.ones(1), np.mean, unit="roles")
    with pytest.raises(ValueError, match=f"at least {MIN_RESAMPLES}"):
        bootstrap(np.ones(5), np.mean, unit="roles", n_resamples=999)


def test_undefined_statistic_gives_a_nan_interval() -> None:
    iv = bootstrap(np.array([0.0, 1.0]), lambda u: math.nan, unit="roles")
    assert math.isnan(iv.low) and math.isnan(iv.high) and iv.n_resamples == 0


def test_format_and_round_trip() -> None:
    iv = Interval(-0.451, -0.62, 0.08, n_resamples=2000, unit="roles", n_units=40)
    assert str(iv) == "−0.45 [−0.62, 0.08]"
    assert iv.fmt(".1f") == "−0.5 [−0.6, 0.1]"
    assert Interval.from_dict(iv.to_dict()) == iv
    assert Interval.point(0.3).width == 0
    with pytest.raises(ValueError, match="not an interval"):
        Interval.from_dict({"estimate": 1.0})


def test_spearman_brown_and_ceilings() -> None:
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    assert spearman_brown(1.0) == 1.0 and spearman_brown(0.0) == 0.0
    assert spearman_brown(0.5, factor=3) == pytest.approx(0.75)
    assert ceiling(0.81, 0.64) == pytest.approx(0.72)
    assert disattenuate(0.36, 0.81, 0.64) == pytest.approx(0.5)
    assert math.isnan(ceiling(-0.1, 0.9)) and math.isnan(disattenuate(0.3, -0.1, 0.9))


def test_split_half_recovers_a_known_reliability() -> None:
    """True scores N(0, 1), each half adds N(0, 1) noise: half correlation 1/2, full reliability 2/3."""
    rng = np.random.default_rng(0)
    t = rng.normal(size=20000)
    rel = split_half(t + rng.normal(size=t.shape), t + rng.normal(size=t.shape), halves="prompt 0 vs 1")
    assert rel.half_r == pytest.approx(0.5, abs=0.02)
    assert rel.reliability == pytest.approx(2 / 3, abs=0.02)
    assert rel.n_units == 20000 and rel.halves == "prompt 0 vs 1"
    same = split_half(t[:10], t[:10])
    assert same.half_r == pytest.approx(1.0) and same.reliability == pytest.approx(1.0)


def test_observed_correlation_of_noisy_measures_sits_at_the_ceiling() -> None:
    """Two noisy measurements of the same scores correlate at about sqrt(rel_a * rel_b); disattenuated, about 1."""
    rng = np.random.default_rng(1)
    t = rng.normal(size=20000)
    a1, a2 = t + rng.normal(0, 1.0, t.shape), t + rng.normal(0, 1.0, t.shape)
    b1, b2 = t + rng.normal(0, 0.5, t.shape), t + rng.normal(0, 0.5, t.shape)
    rel_a, rel_b = split_half(a1, a2).reliability, split_half(b1, b2).reliability
    r = float(np.corrcoef(a1 + a2, b1 + b2)[0, 1])
    assert r == pytest.approx(ceiling(rel_a, rel_b), abs=0.02)
    assert disattenuate(r, rel_a, rel_b) == pytest.approx(1.0, abs=0.03)


def test_split_half_refuses_mismatched_halves() -> None:
    with pytest.raises(ValueError, match="same units"):
        split_half(np.ones(4), np.ones(5))
    with pytest.raises(ValueError, match="at least 3 units"):
        split_half(np.ones(2), np.ones(2))

"""The sample-size arithmetic: exact oracles for the 1/sqrt(n) extrapolation and the page."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from persona_axis.claims.registry import claim
from persona_axis.claims.results import save_result
from persona_axis.claims.rules import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, WEAKER
from persona_axis.claims.samplesize import _scaled, render_sample_size, rollout_cost, units_to_decide
from persona_axis.core.stats import Interval

SMOL, QWEN = "smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"


@pytest.fixture
def art(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path / "art"))
    return tmp_path / "art"


def test_an_estimate_short_of_the_threshold_waits_for_the_far_end() -> None:
    c = claim("pc1_min_pair")  # > 0.92
    iv = Interval(0.5, -0.1, 1.3, n_units=40)
    assert c.rate(iv) == INCONCLUSIVE
    # decided once the far end falls below 0.92: s < 0.42 / 0.8 = 0.525: n = floor(40 / 0.275625) + 1 = 146
    d = units_to_decide(c, iv)
    assert (d.units_now, d.units_needed, d.status) == (40, 146, NOT_REPRODUCED) and d.factor == pytest.approx(
        146 / 40
    )
    assert c.rate(_scaled(iv, math.sqrt(40 / 145))) == INCONCLUSIVE  # one unit fewer does not decide
    assert c.rate(_scaled(iv, math.sqrt(40 / 146))) == NOT_REPRODUCED
    # the null decides which: at 146 units the near end is 0.5 - 0.6 * 0.523 = 0.186
    chance = Interval(0.05, 0.0, 0.1, n_resamples=200, unit="label permutations")
    assert units_to_decide(c, iv, chance).status == WEAKER
    assert units_to_decide(c, iv, Interval(0.2, 0.1, 0.3)).status == NOT_REPRODUCED


def test_a_below_claim_is_mirrored() -> None:
    c = claim("domain_drift_gap")  # < 0
    d = units_to_decide(c, Interval(-0.1, -0.4, 0.2, n_units=30))
    assert (d.units_needed, d.status) == (271, REPRODUCED)  # s < 0.1 / 0.3: n > 30 * 9


def test_undecidable_and_already_decided() -> None:
    c = claim("assistant_toward_minus_random")  # > 0
    d = units_to_decide(c, Interval(0.0, -0.2, 0.2, n_units=10))
    assert (
        d.units_needed is None and d.status == INCONCLUSIVE and "threshold" in d.why and d.factor == math.inf
    )
    d = units_to_decide(c, Interval(0.3, 0.35, 0.5, n_units=10))
    assert d.units_needed is None and "misses" in d.why
    d = units_to_decide(c, Interval(0.3, 0.1, 0.5, n_units=10))
    assert (d.units_needed, d.status) == (10, REPRODUCED)
    with pytest.raises(ValueError, match="no units"):
        units_to_decide(c, Interval(0.3, 0.1, 0.5))


def test_rollout_cost_from_the_presets() -> None:
    # prompts x questions x 2 models
    assert rollout_cost(claim("pc1_min_pair"), "book") == (2 * 8 * 2, 64)
    assert rollout_cost(claim("pc1_min_pair"), "paper") == (5 * 240 * 2, 512)
    # sides x pairs x questions x 2 models
    assert rollout_cost(claim("trait_pc1_min_pair"), "book") == (2 * 1 * 1 * 2, 64)
    assert rollout_cost(claim("r2_position"), "book") == (8, 48)
    assert rollout_cost(claim("harm_reduction"), "book") == (2, 48)


def test_page_from_saved_results(art: Path) -> None:
    save_result(
        "03_cross_model",
        "all",
        {"pc1_min_pair": {SMOL: 0.5, QWEN: 0.5}, "trait_pc1_min_pair": {SMOL: None}},
        {},
        intervals={
            "pc1_min_pair": {
                SMOL: Interval(0.5, -0.1, 1.3, n_units=40, unit="roles"),
                QWEN: Interval(0.5, 0.3, 0.6, n_units=40, unit="roles"),
            }
        },
    )
    md = render_sample_size(tok_s=100.0)
    # one pair, one row; 146 roles x 32 rollouts = 4,672; x 64 tokens / 100 tok/s = 2,990 s;
    # paper: 146 x 2,400 x 512 / 100 s = 20.8 days
    assert (
        "| C6 PC1 agrees across models | smollm2-135m-instruct and qwen2.5-coder-0.5b-instruct | 0.50 [−0.10, 1.30] "
        "| 40 roles | 146 (×3.6) | not reproduced | 4,672 (32 per unit) | 49.8 min | 20.8 days (350,400 rollouts) |"
    ) in md
    assert md.count("| C6 PC1 agrees") == 1
    assert (
        "- C7 (smollm2-135m-instruct and qwen2.5-coder-0.5b-instruct): none in this run; no interval to extrapolate"
        in md
    )
    # not timed
    assert "| 4,672 (32 per unit) | — | — (350,400 rollouts) |" in render_sample_size(tok_s=None)


def test_page_with_nothing_inconclusive(art: Path) -> None:
    assert render_sample_size() == "No claim is rated *inconclusive* in the saved results."

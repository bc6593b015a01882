"""Steering against chance: random directions of the axis's size, the broken-text rule, the contrast."""

from __future__ import annotations

import pandas as pd
import pytest
import torch


def test_random_directions_are_unit_seeded_and_distinct() -> None:
    from persona_axis.interventions.steering import random_directions

    d = random_directions(64, 4, seed=1)
    assert d.shape == (4, 64)
    assert torch.allclose(d.norm(dim=1), torch.ones(4))
    assert torch.equal(d, random_directions(64, 4, seed=1))
    assert not torch.equal(d, random_directions(64, 4, seed=2))
    assert (d @ d.T - torch.eye(4)).abs().max() < 0.6  # nearly orthogonal, none repeated
    with pytest.raises(ValueError, match="at least one"):
        random_directions(64, 0)


def test_random_sweep_is_sweep_per_direction(model) -> None:
    from helpers import CharTokenizer
    from persona_axis.engine.rollouts import Sampling
    from persona_axis.interventions.steering import random_directions, random_sweep, sweep

    tok = CharTokenizer()
    prompts = [[5, 6, 7, 8], [9, 10, 11]]
    samp = Sampling(max_new_tokens=5, seed=3)
    dirs = random_directions(64, 2, seed=0)
    out = random_sweep(model, tok, prompts, dirs, 1, [-4.0, 4.0], 2.0, samp)
    assert len(out) == 2 * 2 * 2 and sorted(set(out["direction"])) == [0, 1]
    # the norm is the sweep's, not the vector's
    one = sweep(model, tok, prompts, dirs[1] * 7.0, 1, [-4.0, 4.0], 2.0, samp)
    assert out[out["direction"] == 1]["text"].tolist() == one["text"].tolist()
    with pytest.raises(ValueError, match="none is rated"):
        random_sweep(model, tok, prompts, dirs, 1, [], 2.0, samp)


@pytest.mark.parametrize(
    "text, broken",
    [
        ("I am an AI assistant created to help you with your questions today.", False),
        ("I'm a lawyer; I've worked downtown for years and we'll talk about your case.", False),
        ("Behold, I am the eternal voice of the stars, the whisper of the void!", False),
        ("The moon's moon's moon's light was aye when the sun's moon's moon's sang.", True),
        ("Black shroud'd'd when the kingdom'ss a'shinewhite's blood dyed'd'd in the mist.", True),
        ("ok ok", True),
        ("!!!! ???? #### $$$$ %%%% &&&&", True),
    ],
)
def test_looks_broken_hand_examples(text: str, broken: bool) -> None:
    from persona_axis.judge.categories import looks_broken

    assert looks_broken(text) is broken


def test_looks_broken_against_the_hand_labels() -> None:
    from persona_axis.judge.categories import load_identity_labels, looks_broken

    rows = load_identity_labels()
    hit = [looks_broken(r["text"]) for r in rows]
    bad = [r["label"] == "nonsensical" for r in rows]
    found = sum(h and b for h, b in zip(hit, bad))
    false = sum(h and not b for h, b in zip(hit, bad))
    # BROKEN_SHARE's comment
    assert (found, sum(bad)) == (18, 27) and (false, len(rows) - sum(bad)) == (5, 125)


def _runs(n_prompts: int, rule: dict[float, set[int]], label: str, other: str = "assistant") -> pd.DataFrame:
    """One row per (prompt, strength): ``label`` where ``prompt in rule[c]``, else ``other``."""
    return pd.DataFrame(
        [
            {"prompt": p, "coefficient": c, "label": label if p in ps else other}
            for c, ps in rule.items()
            for p in range(n_prompts)
        ]
    )


def test_rated_strengths_drop_broken_ones() -> None:
    from persona_axis.analysis.behaviour import rated_strengths

    runs = _runs(8, {-1.0: set(range(3)), -0.5: {0}, 0.0: set(), 0.5: set(range(2))}, "nonsensical")
    assert rated_strengths(runs) == [-0.5, 0.5]  # 3/8 broken at -1 is over 25%; 2/8 at 0.5 is not
    assert rated_strengths(runs, max_broken=0.1) == []


def test_against_chance_exact_and_fails_when_random_does_as_well() -> None:
    from persona_axis.analysis.behaviour import against_chance

    # the axis turns prompts 0-23 of 40 into a human role at -0.5; unsteered none
    runs = _runs(40, {-0.5: set(range(24)), 0.0: set(), 0.5: set()}, "human role")
    # random direction 0 turns prompts 0-7, direction 1 prompts 0-15
    ctl = pd.concat(
        [
            _runs(40, {-0.5: set(range(8))}, "human role").assign(direction=0),
            _runs(40, {-0.5: set(range(16))}, "human role").assign(direction=1),
        ]
    )
    got = against_chance(runs, ctl, ["human role"], side="away", strengths=[-0.5, 0.5], n_resamples=1000)
    assert got.axis.estimate == pytest.approx(0.6) and got.random.estimate == pytest.approx(0.3)
    assert (
        got.difference.estimate == pytest.approx(0.3) and got.strengths == (-0.5,) and got.n_directions == 2
    )
    assert got.difference.low > 0 and got.difference.high < 0.6 and got.difference.paired
    assert got.axis.unit == "prompts" and got.difference.unit == "prompts and random directions"
    # a planted fault: random directions do as well as the axis, and the difference sits on zero
    same = pd.concat([_runs(40, {-0.5: set(range(24))}, "human role").assign(direction=d) for d in range(4)])
    null = against_chance(runs, same, ["human role"], side="away", strengths=[-0.5], n_resamples=1000)
    assert null.difference.estimate == 0 and null.difference.low == 0 == null.difference.high
    # the resampling of directions widens the interval: the random effect's interval is not a point
    assert got.random.high - got.random.low > 0
    # no rated strength on the side: NaN, not a number
    none = against_chance(runs, ctl, ["human role"], side="toward", strengths=[-0.5], n_resamples=1000)
    assert none.strengths == () and none.difference.estimate != none.difference.estimate


def test_against_chance_checks_its_input() -> None:
    from persona_axis.analysis.behaviour import against_chance

    runs = _runs(4, {-0.5: {0}, 0.0: set()}, "human role")
    ctl = _runs(4, {-0.5: {0}}, "human role").assign(direction=0)
    with pytest.raises(ValueError, match="side"):
        against_chance(runs, ctl, ["human role"], side="up", strengths=[-0.5])
    with pytest.raises(ValueError, match="strength 0"):
        against_chance(runs[runs["coefficient"] != 0], ctl, ["human role"], side="away", strengths=[-0.5])
    with pytest.raises(ValueError, match="lacks some prompt"):
        against_chance(runs, ctl.iloc[:-1], ["human role"], side="away", strengths=[-0.5], n_resamples=1000)

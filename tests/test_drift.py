"""Drift: conversations played turn by turn, the monitor, predictability of the position."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import CharTokenizer, grouped_regression, tiny_spec
from persona_axis.engine.rollouts import Sampling
from persona_axis.interventions.drift import DriftMonitor, converse, load_conversations, predictability
from persona_axis.model.hooks import steer
from persona_axis.persona.axis import Axis


def test_scripts_shipped() -> None:
    df = load_conversations()
    assert df.groupby("domain").size().to_dict() == {
        "coding": 12,
        "philosophy": 12,
        "therapy": 12,
        "writing": 12,
    }
    assert all(len(t) == 10 for t in df["user_turns"])
    assert all(len(t) == 3 for t in load_conversations(per_domain=2, turns=3)["user_turns"])


def test_converse_plays_every_turn_with_history(model) -> None:
    tok, spec = CharTokenizer(), tiny_spec()
    axis = Axis(torch.randn(4, 64), [0, 1, 2, 3], "tiny", "random")
    out = converse(
        model,
        tok,
        spec,
        [["hi", "how are you?", "bye"], ["yo"]],
        axis,
        2,
        Sampling(max_new_tokens=4),
        ids=["a", "b"],
    )
    assert out.groupby("conversation").size().to_dict() == {"a": 3, "b": 1}
    assert out["turn"].tolist() == [0, 0, 1, 2]


def test_converse_answers_each_turn_from_the_whole_history(model) -> None:
    """Turn t of a conversation is generated from every earlier user turn and reply: the same
    reply and projection as a direct generation from that history, not from the last turn alone."""
    from persona_axis.engine.rollouts import generate
    from persona_axis.model.chat import prompt_ids

    tok, spec = CharTokenizer(), tiny_spec()
    axis = Axis(
        torch.randn(4, 64, generator=torch.Generator().manual_seed(3)), [0, 1, 2, 3], "tiny", "random"
    )
    turns = ["hi", "how are you?", "bye"]
    samp = Sampling(temperature=0.0, max_new_tokens=4, seed=5)
    out = converse(model, tok, spec, [turns], axis, 2, samp)
    replies = out["reply"].tolist()
    history = [turns[0], replies[0], turns[1], replies[1], turns[2]]
    with_history = generate(
        model,
        tok,
        [prompt_ids(tok, spec, None, history)],
        Sampling(0.0, samp.top_p, samp.top_k, 4, samp.seed + 2),
        layers=[2],
    )
    alone = generate(
        model,
        tok,
        [prompt_ids(tok, spec, None, [turns[2]])],
        Sampling(0.0, samp.top_p, samp.top_k, 4, samp.seed + 2),
        layers=[2],
    )
    assert out["projection"].iloc[2] == pytest.approx(
        float(axis.project(with_history.acts[:, 0], 2)[0]), abs=1e-5
    )
    assert out["projection"].iloc[2] != pytest.approx(float(axis.project(alone.acts[:, 0], 2)[0]), abs=1e-5)


def test_monitor_flags_a_steered_conversation(model) -> None:
    """Steering away along the axis during the chat drives replies below the floor; unsteered does not."""
    tok, spec = CharTokenizer(), tiny_spec()
    direction = torch.randn(64, generator=torch.Generator().manual_seed(0))
    axis = Axis(torch.stack([direction] * 4), [0, 1, 2, 3], "tiny", "random")
    turns = ["hello there", "tell me more", "and then?"]
    plain = DriftMonitor(model, tok, spec, axis, 2, threshold=-1e9).chat(turns)
    floor = min(plain.projections) - 1.0
    mon = DriftMonitor(model, tok, spec, axis, 2, threshold=floor)
    assert not mon.chat(turns).drifted
    with steer(model, axis.unit(2), -25.0, [2]):
        report = mon.chat(turns)
    assert report.drifted and report.first_flag == 0 and all(report.flagged)
    replay = mon.score(["hi", "hello friend"])
    assert len(replay.projections) == 1


def test_predictability_recovers_a_linear_signal() -> None:
    rng = np.random.default_rng(0)
    n_conv, turns, d = 12, 8, 16
    w = rng.normal(size=d)
    x = rng.normal(size=(n_conv * turns, d))
    table = pd.DataFrame(
        {
            "conversation": np.repeat(np.arange(n_conv), turns),
            "turn": np.tile(np.arange(turns), n_conv),
            "projection": x @ w + 0.1 * rng.normal(size=n_conv * turns),
        }
    )
    r = predictability(table, x)
    assert r["r2_position"] > 0.9 and r["n_conversations"] == 12
    with pytest.raises(ValueError, match="two conversations"):
        predictability(table[table.conversation == 0], x[:turns])


@pytest.mark.parametrize(("n", "d", "mixed"), [(40, 8, False), (30, 60, False), (45, 8, True)])
def test_nested_ridge_equals_grid_search_leaving_out_groups(n: int, d: int, mixed: bool) -> None:
    """Each outer fold's penalty and prediction are scikit-learn's GridSearchCV on that fold's training
    set; ``mixed``: groups of 5 and 10 rows, as a bootstrap that draws a conversation twice makes."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, GroupKFold, LeaveOneGroupOut

    from persona_axis.interventions.drift import ridge_nested_predict

    x, y, groups = grouped_regression(n, d)
    if mixed:
        groups = np.repeat(np.arange(6), [5, 10, 5, 10, 5, 10])
    alphas = (0.1, 1.0, 10.0, 100.0)
    want, want_alpha = np.empty(n), []
    for train, test in GroupKFold(3).split(x, y, groups):
        gs = GridSearchCV(
            Ridge(), {"alpha": list(alphas)}, cv=LeaveOneGroupOut(), scoring="neg_mean_squared_error"
        )
        gs.fit(x[train], y[train], groups=groups[train])
        want[test] = gs.predict(x[test])
        want_alpha.append(gs.best_params_["alpha"])
    got, chosen = ridge_nested_predict(x, y, groups, 3, alphas)
    assert np.allclose(got, want, atol=1e-8) and chosen == want_alpha


def test_nested_cv_chooses_the_known_penalty() -> None:
    """Targets with no relation to the features: any fit predicts worse than the training mean, so
    every outer fold must choose the largest penalty. A noiseless linear target with more rows than
    features: the smallest penalty fits best, so every fold must choose it."""
    from persona_axis.interventions.drift import ridge_nested_predict

    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(10), 6)
    x = rng.normal(size=(60, 20))
    alphas = (1e-3, 1.0, 1e6)
    _, noise_alpha = ridge_nested_predict(x, rng.normal(size=60), groups, 5, alphas)
    assert noise_alpha == [1e6] * 5
    pred, exact_alpha = ridge_nested_predict(x, x @ rng.normal(size=20) + 1.0, groups, 5, alphas)
    assert exact_alpha == [1e-3] * 5


def test_turn_order_null_loses_the_message_and_keeps_the_conversation() -> None:
    """Replies that follow their own message (projection = message . w): R² near 1, and with the
    turn order permuted the null's whole spread lies far below it. Replies that follow their
    conversation (every message of a conversation shares an offset that sets the projection): the
    null keeps that, as it should, and reaches the real R²."""
    from persona_axis.analysis.nulls import turn_order_null

    rng = np.random.default_rng(0)
    n_conv, turns, d = 12, 8, 16
    w = rng.normal(size=d)
    x = rng.normal(size=(n_conv * turns, d))
    frame = {"conversation": np.repeat(np.arange(n_conv), turns), "turn": np.tile(np.arange(turns), n_conv)}
    own = pd.DataFrame(frame | {"projection": x @ w + 0.1 * rng.normal(size=n_conv * turns)})
    null = turn_order_null(own, x, n_permutations=40, seed=0)
    assert set(null) == {"r2_position_null", "r2_position_minus_change_null"}
    iv = null["r2_position_null"]
    assert iv.n_resamples == 40 and iv.unit == "turn orders permuted" and iv.n_units == n_conv
    assert predictability(own, x)["r2_position"] > 0.9 and iv.high < 0.5

    offset = np.repeat(rng.normal(size=(n_conv, d)) * 3, turns, axis=0)
    conv = pd.DataFrame(frame | {"projection": offset @ w + 0.1 * rng.normal(size=n_conv * turns)})
    xc = x * 0.3 + offset
    real = predictability(conv, xc)["r2_position"]
    kept = turn_order_null(conv, xc, n_permutations=40, seed=0)["r2_position_null"]
    assert real > 0.5 and kept.high >= real - 0.05
    with pytest.raises(ValueError, match="rows for"):
        turn_order_null(own, x[:-1])

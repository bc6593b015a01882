"""The Gram-matrix statistics give exactly what the chapters compute with space.pca and the contrast axis."""

from __future__ import annotations

import pytest
import torch

from helpers import grouped_regression, noisy_role_rollouts
from persona_axis.analysis.behaviour import drift_intervals
from persona_axis.analysis.measures import (
    _centre,
    axis_pc1_intervals,
    bootstrap_many,
    resample_counts,
    space_intervals,
    weighted_axis_pc1_cosines,
)
from persona_axis.persona.axis import contrast_axis
from persona_axis.persona.space import pca, relative_position


def low_rank(n: int, d: int, seed: int, layers: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = (n, layers, d) if layers else (n, d)
    scale = torch.tensor([5.0, 2.0, 1.0] + [0.2] * (d - 3))
    return torch.randn(*shape, generator=g) * scale


def test_space_statistics_match_the_chapter() -> None:
    x, default = low_rank(30, 12, 0), torch.randn(12, generator=torch.Generator().manual_seed(1)) * 3
    ivs = space_intervals(x, default, n_resamples=1000)
    sp = pca(x, [str(i) for i in range(len(x))]).oriented(default)
    pos = relative_position(sp, default)[0]
    assert ivs["pc1_share"].estimate == pytest.approx(float(sp.explained_variance_ratio[0]), abs=1e-6)
    assert ivs["n_for_70"].estimate == sp.n_for(0.70)
    assert ivs["default_pc1_distance"].estimate == pytest.approx(
        max(min(float(pos), 1 - float(pos)), 0.0), abs=1e-6
    )
    for k, iv in ivs.items():
        assert iv.low <= iv.estimate <= iv.high or k == "n_for_70", k
        assert iv.unit == "role vectors" and iv.n_units == 30 and iv.n_resamples == 1000


def test_axis_pc1_cosines_match_the_chapter() -> None:
    layers = [0, 1, 2]
    x = low_rank(25, 10, 2, layers=3)
    fully = [i % 3 != 0 for i in range(25)]
    default = x.mean(0) + torch.randn(3, 10, generator=torch.Generator().manual_seed(3)) * 4
    got = axis_pc1_intervals(x, fully, default, layers, 1, n_resamples=1000)
    axis = contrast_axis(default.unsqueeze(0), x[torch.tensor(fully)], layers, model="m")
    for i, layer in enumerate(layers):
        sp = pca(x[:, i], [str(j) for j in range(25)], n_components=1).oriented(default[i])
        assert got["per_layer"][layer] == pytest.approx(
            float(sp.components[0].double() @ axis.unit(layer).double()), abs=1e-6
        )
    assert got["cos_axis_pc1_middle"].estimate == pytest.approx(got["per_layer"][1])
    assert got["cos_axis_pc1_min"].estimate == pytest.approx(min(got["per_layer"].values()))
    assert got["cos_axis_pc1_min"].high <= got["cos_axis_pc1_middle"].high + 1e-12


def test_each_resample_refits_pca_and_axis_exactly() -> None:
    """The batched weighted power iteration against a PCA and an axis refitted on each
    re-indexed resample (duplicates included), at every layer."""
    import numpy as np

    layers = [0, 1, 2]
    x = low_rank(25, 10, 4, layers=3)
    fully = np.array([i % 3 != 0 for i in range(25)])
    default = x.mean(0) + torch.randn(3, 10, generator=torch.Generator().manual_seed(5)) * 4
    xn = x.double().numpy().transpose(1, 0, 2)
    g = xn @ xn.transpose(0, 2, 1)
    pd = np.einsum("lnd,ld->ln", xn, default.double().numpy())
    dd = (default.double().numpy() ** 2).sum(-1)
    counts = resample_counts(25, 40, seed=7)
    got = weighted_axis_pc1_cosines(g, pd, dd, fully, counts, np.linalg.eigh(_centre(g))[1][..., -1])
    rng = np.random.default_rng(7)  # resample_counts' draws, in order
    for r in range(40):
        idx = rng.integers(0, 25, 25)
        assert (np.bincount(idx, minlength=25) == counts[r]).all()
        sel = torch.as_tensor(idx)
        if not fully[idx].any():
            assert np.isnan(got[r]).all()
            continue
        axis = contrast_axis(default.unsqueeze(0), x[sel][torch.as_tensor(fully[idx])], layers, model="m")
        for i, layer in enumerate(layers):
            sp = pca(x[sel, i], [str(j) for j in idx], n_components=1).oriented(default[i])
            want = float(sp.components[0].double() @ axis.unit(layer).double())
            assert got[r, i] == pytest.approx(want, abs=1e-6), (r, layer)


def test_axis_resamples_without_a_fully_vector_are_dropped() -> None:
    import numpy as np

    x = low_rank(6, 4, 0, layers=1)
    xn = x.double().numpy().transpose(1, 0, 2)
    g = xn @ xn.transpose(0, 2, 1)
    counts = np.array([[0, 2, 2, 2, 0, 0], [1, 1, 1, 1, 1, 1]])
    got = weighted_axis_pc1_cosines(
        g, xn.sum(-1), np.ones(1), np.array([True] + [False] * 5), counts, np.ones((1, 6))
    )
    assert np.isnan(got[0]).all() and np.isfinite(got[1]).all()


def test_axis_needs_a_fully_vector() -> None:
    with pytest.raises(ValueError, match="no 'fully' role vector"):
        axis_pc1_intervals(low_rank(5, 4, 0, layers=1), [False] * 5, torch.zeros(1, 4), [0], 0)


def test_bootstrap_many_shares_resamples() -> None:
    ivs = bootstrap_many(10, lambda idx: {"a": float(idx.mean()), "b": float(idx.mean()) * 2}, unit="u")
    assert ivs["b"].low == pytest.approx(2 * ivs["a"].low) and ivs["b"].high == pytest.approx(
        2 * ivs["a"].high
    )
    with pytest.raises(ValueError, match="at least 2"):
        bootstrap_many(1, lambda idx: {"a": 0.0}, unit="u")


def test_drift_intervals_resample_conversations() -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows, emb = [], []
    for d, shift in (("therapy", -1.0), ("philosophy", -1.0), ("coding", 0.0), ("writing", 0.0)):
        for c in range(4):
            for turn in range(3):
                e = rng.normal(size=4)
                rows.append(
                    {
                        "conversation": f"{d}{c}",
                        "turn": turn,
                        "domain": d,
                        "projection": 0.2 * float(e[0]) + shift * turn + rng.normal(0, 0.1),
                    }
                )
                emb.append(e)
    table = pd.DataFrame(rows)
    got = drift_intervals(table, np.array(emb), n_resamples=1000, seed=0)
    assert got["r2_position"].unit == "conversations" and got["r2_position"].n_units == 16
    assert got["r2_position"].low <= got["r2_position"].estimate <= got["r2_position"].high
    # therapy and philosophy fall by 2 over three turns, coding and writing do not: gap about -2
    gap = got["domain_drift_gap"]
    ends = table.pivot(index="conversation", columns="turn", values="projection")
    change = (ends[2] - ends[0]).groupby(table.groupby("conversation")["domain"].first()).mean()
    want = (change["therapy"] + change["philosophy"]) / 2 - (change["coding"] + change["writing"]) / 2
    assert gap.estimate == pytest.approx(want) and want == pytest.approx(-2.0, abs=0.4)
    assert gap.high < 0 and gap.unit == "conversations" and gap.n_units == 16


def test_drift_intervals_domain_only_baseline() -> None:
    """The baseline row is the same regression on other features, on the same resamples: with the
    domain's one-hot code as both embeddings and baseline, the difference is exactly zero."""
    import numpy as np
    import pandas as pd

    from persona_axis.interventions.drift import predictability

    rng = np.random.default_rng(1)
    rows = []
    for d, level in (("therapy", -1.0), ("philosophy", -1.0), ("coding", 1.0), ("writing", 1.0)):
        for c in range(4):
            for turn in range(3):
                rows.append(
                    {
                        "conversation": f"{d}{c}",
                        "turn": turn,
                        "domain": d,
                        "projection": level + rng.normal(0, 0.3),
                    }
                )
    table = pd.DataFrame(rows)
    onehot = pd.get_dummies(table["domain"]).to_numpy(dtype=float)
    got = drift_intervals(table, onehot, baseline=onehot, n_resamples=1000, seed=0)
    assert got["r2_position_baseline"].estimate == pytest.approx(predictability(table, onehot)["r2_position"])
    assert got["r2_position_beyond_baseline"].estimate == 0
    assert got["r2_position_beyond_baseline"].low == 0 == got["r2_position_beyond_baseline"].high
    noise = rng.normal(size=(len(table), 4))  # features that know nothing: well below the domain
    worse = drift_intervals(table, noise, baseline=onehot, n_resamples=1000, seed=0)
    assert worse["r2_position_beyond_baseline"].high < 0
    with pytest.raises(ValueError, match="baseline has 3 rows"):
        drift_intervals(table, onehot, baseline=onehot[:3])


@pytest.mark.parametrize(("n", "d"), [(40, 8), (30, 60)])
def test_ridge_cv_predict_equals_scikit_learn(n: int, d: int) -> None:
    import numpy as np
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from persona_axis.interventions.drift import ridge_cv_predict

    x, y, groups = grouped_regression(n, d)
    alphas = (0.1, 1.0, 10.0, 100.0)
    want = cross_val_predict(RidgeCV(alphas=list(alphas)), x, y, groups=groups, cv=GroupKFold(4))
    assert np.allclose(ridge_cv_predict(x, y, groups, 4, alphas), want, atol=1e-8)


def test_steering_shift_is_paired_over_prompts() -> None:
    import pandas as pd

    from persona_axis.analysis.behaviour import steering_shift

    rows = []
    for p in range(6):
        for c in (-1.0, -0.5, 0.0, 0.5):
            # prompts 0-2 turn into a human role when steered away; the others never do
            label = "human role" if (c < 0 and p < 3) else "assistant"
            rows.append({"prompt": p, "coefficient": c, "label": label})
    runs = pd.DataFrame(rows)
    away = steering_shift(runs, ["human role", "mystical or theatrical"], compare="away-unsteered")
    assert (
        away.estimate == pytest.approx(0.5) and away.paired and away.unit == "prompts" and away.n_units == 6
    )
    assert 0 <= away.low <= 0.5 <= away.high <= 1
    toward = steering_shift(runs, ["assistant"], compare="toward-away")
    assert toward.estimate == pytest.approx(0.5)
    with pytest.raises(ValueError, match="compare must be"):
        steering_shift(runs, ["assistant"], compare="sideways")


def test_lowest_pair_intervals() -> None:
    import numpy as np
    import pandas as pd

    from persona_axis.analysis.measures import lowest_pair_intervals

    rng = np.random.default_rng(0)
    roles = [f"r{i}" for i in range(40)]
    t = rng.normal(size=40)
    comp = {
        "a": pd.DataFrame({"PC1": t}, index=roles),
        "b": pd.DataFrame({"PC1": t + rng.normal(0, 0.5, 40)}, index=roles),
        "c": pd.DataFrame({"PC1": -t[10:]}, index=roles[10:]),
    }
    got = lowest_pair_intervals(comp, ["a", "b", "c"])
    ab = float(np.corrcoef(comp["a"]["PC1"].loc[roles[10:]], comp["b"]["PC1"].loc[roles[10:]])[0, 1])
    assert got["a"].estimate == pytest.approx(-1.0) and got["c"].estimate == pytest.approx(min(-1.0, -ab))
    assert got["b"].estimate == pytest.approx(-ab)  # b's lowest partner is c (anti-correlated)
    assert got["a"].n_units == 30 and got["a"].unit == "roles"
    assert lowest_pair_intervals(comp, ["a", "z"]) == {"a": None, "z": None}


def test_capping_intervals_are_paired_within_sets() -> None:
    import pandas as pd

    from persona_axis.analysis.behaviour import capping_intervals

    rows = []
    for i in range(10):  # harmful uncapped on 0-7, capped on 0-3 only: 50% fewer
        rows += [
            {"setting": "uncapped", "set": "jailbreak", "id": i, "score": float(i < 8)},
            {"setting": "L3 p25", "set": "jailbreak", "id": i, "score": float(i < 4)},
        ]
    for s in ("arithmetic", "knowledge"):
        for i in range(6):  # identical answers: no capability change, a zero-width interval
            rows += [
                {"setting": name, "set": s, "id": i, "score": float(i % 2)} for name in ("uncapped", "L3 p25")
            ]
    got = capping_intervals(pd.DataFrame(rows), "L3 p25", n_resamples=1000)
    assert got["harm_reduction"].estimate == pytest.approx(0.5)
    assert 0 < got["harm_reduction"].low < 0.5 < got["harm_reduction"].high <= 1
    cap = got["capability_change"]
    assert (cap.estimate, cap.low, cap.high) == (0.0, 0.0, 0.0) and cap.paired and cap.n_units == 12
    with pytest.raises(KeyError, match="no setting"):
        capping_intervals(pd.DataFrame(rows), "nope", n_resamples=1000)


def test_composition_reliability_of_clean_and_noisy_roles() -> None:
    import numpy as np
    import pandas as pd

    from persona_axis.analysis.behaviour import retest_reliability
    from persona_axis.analysis.measures import composition_reliability

    rng = np.random.default_rng(0)
    d = 16
    t, x = noisy_role_rollouts(rng, 30, d, 3, default=True)
    u = torch.tensor(rng.normal(size=d))
    clean = composition_reliability(t, x, [0], 0, u)
    assert (
        clean.reliability == pytest.approx(1.0, abs=1e-3)
        and clean.n_units == 30
        and clean.halves == "even vs odd prompt"
    )
    noisy = composition_reliability(
        t, x + torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=x.dtype) * 3, [0], 0, u
    )
    assert noisy.reliability < 0.9
    a = pd.DataFrame(
        {"conversation": ["c1", "c1", "c2", "c2"], "turn": [0, 1, 0, 1], "projection": [1.0, 2.0, 3.0, 4.0]}
    )
    assert retest_reliability(a, a).reliability == pytest.approx(1.0)
    with pytest.raises(ValueError, match="share 0 replies"):
        retest_reliability(a, a.assign(conversation="c9"))


def test_r2_variants_show_leakage() -> None:
    """Each conversation has its own offset that its messages reveal: random folds leak it, grouped folds do not."""
    import numpy as np
    import pandas as pd

    from persona_axis.interventions.drift import r2_variants

    rng = np.random.default_rng(0)
    rows, emb = [], []
    for c in range(12):
        code = rng.normal(size=6)
        for turn in range(6):
            rows.append(
                {"conversation": f"c{c}", "turn": turn, "projection": float(code[0] * 3 + rng.normal(0, 0.3))}
            )
            emb.append(
                np.concatenate([rng.normal(size=6) * 0.1 + np.eye(12)[c][:6] * 0 + code * 0, np.eye(12)[c]])
            )
    got = r2_variants(pd.DataFrame(rows), np.array(emb))
    assert got["in_sample"] > 0.8 and got["random_kfold"] > 0.5
    assert got["grouped_kfold"] < 0.3 < got["random_kfold"]


def _grams(x: torch.Tensor, default: torch.Tensor) -> tuple:
    """``(g, pd, dd)`` of ``(n, L, d)`` vectors and an ``(L, d)`` default, as ``weighted_axis_pc1_cosines`` takes them."""
    import numpy as np

    xn, dn = x.double().numpy().transpose(1, 0, 2), default.double().numpy()
    return xn @ xn.transpose(0, 2, 1), np.einsum("lnd,ld->ln", xn, dn), (dn * dn).sum(-1)


def role_rollouts(n_roles: int, per: int, d: int, noise: float, seed: int, layers: int = 1) -> tuple:
    """``(table, acts (rows, layers, d), centres (n_roles, layers, d), default (layers, d))``:
    each role's rollouts are its centre plus ``noise``; 12 default rollouts around ``default``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = [
        {"group": "role", "name": f"r{r:03d}", "label": 3 if r % 4 else 2}
        for r in range(n_roles)
        for _ in range(per)
    ] + [{"group": "default", "name": "default", "label": None}] * 12
    centres = rng.normal(size=(n_roles, layers, d)) * (4.0 / np.arange(1, d + 1) ** 0.7)
    default = np.zeros((layers, d))
    default[:, 0] = 6.0
    acts = np.concatenate(
        [
            np.repeat(centres, per, 0) + noise * rng.normal(size=(n_roles * per, layers, d)),
            default + noise * rng.normal(size=(12, layers, d)),
        ]
    )
    return pd.DataFrame(rows), torch.from_numpy(acts), centres, default


def test_members_are_the_rows_each_role_vector_averages() -> None:
    from persona_axis.analysis.two_level import members
    from persona_axis.persona.space import role_vectors

    table, acts, _, _ = role_rollouts(9, 5, 6, 1.0, 0, layers=2)
    rv = role_vectors(table, acts, [0, 1], labels=(3, 2), min_count=1)
    m = members(table, rv)
    for vec, rows in zip(rv.vectors, m.vectors):
        assert torch.allclose(acts[torch.as_tensor(rows)].float().mean(0), vec)
    assert len(m.default) == 12 and (table.loc[m.default, "group"] == "default").all()
    with pytest.raises(ValueError, match="pass the table the role vectors were made from"):
        members(table.iloc[5:], rv)


def test_two_level_draws_redraw_within_each_drawn_vector() -> None:
    import numpy as np

    from persona_axis.analysis.measures import resample_counts
    from persona_axis.analysis.two_level import Members, two_level_draws

    m = Members([np.array([0, 1, 2]), np.array([3]), np.array([4, 5])], np.array([6, 7]))
    draws = two_level_draws(m, 1000, seed=3)
    counts = resample_counts(3, 1000, seed=3)  # level one: the one-level draws, in order
    x = np.arange(8.0)[:, None] * np.array([[1.0, 10.0]])
    for dr, c in zip(draws, counts):
        assert (np.bincount(dr.units, minlength=3) == c).all()
        for j, u in enumerate(dr.units):
            end = dr.starts[j + 1] if j + 1 < len(dr.starts) else len(dr.rows)
            got = dr.rows[dr.starts[j] : end]
            assert len(got) == len(m.vectors[u]) and set(got) <= set(m.vectors[u])
        v, d = dr.vectors(x)
        want = [
            x[dr.rows[dr.starts[j] : (dr.starts[j + 1] if j + 1 < 3 else None)]].mean(0) for j in range(3)
        ]
        assert np.allclose(v, want) and np.allclose(d, x[dr.default].mean(0)) and set(dr.default) <= {6, 7}
    every = np.concatenate([dr.rows[dr.starts[0] : dr.starts[1]] for dr in draws if dr.units[0] == 0])
    assert set(every) == {0, 1, 2}  # the second level does redraw


def test_two_level_with_identical_rollouts_is_the_one_level_bootstrap() -> None:
    """No spread among a vector's rollouts: redrawing them changes nothing, so the two-level
    draws are the one-level ones (same first-level draws): the intervals are the one-level
    percentile intervals moved by the estimate less the draws' mean, and nothing is corrected."""
    import numpy as np

    from persona_axis.analysis.measures import _space_statistics
    from persona_axis.analysis.two_level import (
        _RANGES,
        axis_pc1_intervals_two_level,
        members,
        space_intervals_two_level,
    )
    from persona_axis.persona.space import default_vector, role_vectors

    table, acts, _, _ = role_rollouts(14, 4, 8, 0.0, 1, layers=2)
    rv = role_vectors(table, acts, [0, 1], labels=(3, 2), min_count=1)
    m, dv = members(table, rv), default_vector(table, acts)
    fully = np.array([lab == 3 for lab in rv.labels])
    one, two = (
        space_intervals(rv.at(1), dv[1], n_resamples=1000, seed=4),
        space_intervals_two_level(acts, m, 1, n_resamples=1000, seed=4),
    )
    a1 = axis_pc1_intervals(rv.vectors, fully, dv, [0, 1], 1, n_resamples=1000, seed=4)
    a2 = axis_pc1_intervals_two_level(acts, m, fully, [0, 1], 1, n_resamples=1000, seed=4)
    x = rv.at(1).double().numpy()
    g, pd_ = x @ x.T, x @ dv[1].double().numpy()
    rng = np.random.default_rng(4)
    draws = [
        _space_statistics(g[np.ix_(i, i)], pd_[i], 0.70)
        for i in (rng.integers(0, 14, 14) for _ in range(1000))
    ]
    gl, pdl, ddl = _grams(rv.vectors, dv)
    cos = weighted_axis_pc1_cosines(
        gl, pdl, ddl, fully, resample_counts(14, 1000, seed=4), np.linalg.eigh(_centre(gl))[1][..., -1]
    )
    means = {k: np.mean([d[k] for d in draws]) for k in one}
    means |= {"cos_axis_pc1_middle": cos[:, 1].mean(), "cos_axis_pc1_min": cos.min(1).mean()}
    pairs = [(k, two, one) for k in one] + [(k, a2, a1) for k in ("cos_axis_pc1_middle", "cos_axis_pc1_min")]
    for k, got_all, want_all in pairs:
        got, want = got_all[k], want_all[k]
        move = means[k] - want.estimate
        lo_r, hi_r = _RANGES[k]
        want_ends = (max(want.low - move, lo_r), min(want.high - move, hi_r))
        assert (got.estimate, got.low, got.high) == pytest.approx((want.estimate, *want_ends), abs=1e-6), k
        assert got.unit == "role vectors, then rollouts" and got.n_resamples == want.n_resamples
        if k + "_corrected" in got_all:
            c = got_all[k + "_corrected"]
            assert (c.estimate, c.low, c.high) == pytest.approx((got.estimate, got.low, got.high), abs=1e-9)
    assert "n_for_70_corrected" not in two
    assert a2["per_layer"] == pytest.approx(a1["per_layer"], abs=1e-6)


def test_two_level_correction_on_a_hand_computed_three_role_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three roles of two rollouts each on one axis (hidden size 1), two resamples written out by hand.

    Rollouts: A 0, 2; B 4, 6; C 8, 10; default 1, 3. Role vectors 1, 5, 9 (mean 5), default 2: on
    PC1 the roles score -4, 0, 4 and the default -3, so it sits 1/8 of the range from an end:
    ``default_pc1_distance`` = 0.125. Resample 1 draws A, B, C; within them rows A 0, 0 (vector 0),
    B 4, 6 (5), C 10, 10 (10) and the default 1, 3 (2): scores -5, 0, 5, default -3, distance
    0.2; its one-level twin (the same roles, vectors kept) is the full data, 0.125. Resample 2 draws
    A, A, C: rows A 2, 2 (2), A 0, 2 (1), C 8, 10 (9), default 1, 1 (1): scores -2, -3, 5, default
    -3, distance 0; one-level vectors 1, 1, 9 and default 2: scores -8/3, -8/3, 16/3, default -5/3,
    distance 1/8. So the draws are 0.2, 0 (mean 0.1) against 0.125, 0.125: shift = mean(0.075,
    -0.125) = -0.025. Their 2.5th and 97.5th percentiles are 0.005 and 0.195; moved by the estimate
    less their mean (+0.025): [0.03, 0.22]. Corrected: 0.125 + 0.025 = 0.15, [0.055, 0.245]. On one
    axis PC1 holds all the variance (share 1, one component for 70%) in every resample."""
    import numpy as np

    import persona_axis.analysis.two_level as tl

    acts = torch.tensor([0.0, 2, 4, 6, 8, 10, 1, 3], dtype=torch.float64)[:, None, None]
    m = tl.Members([np.array([0, 1]), np.array([2, 3]), np.array([4, 5])], np.array([6, 7]))
    draws = [
        tl.TwoLevelDraw(
            np.array([0, 1, 2]), np.array([0, 0, 2, 3, 5, 5]), np.array([0, 2, 4]), np.array([6, 7])
        ),
        tl.TwoLevelDraw(
            np.array([0, 0, 2]), np.array([1, 1, 0, 1, 4, 5]), np.array([0, 2, 4]), np.array([6, 6])
        ),
    ]
    monkeypatch.setattr(
        tl, "two_level_draws", lambda members, n, seed=0: draws if members is m and n == 2 else None
    )
    got = tl.space_intervals_two_level(acts, m, 0, n_resamples=2)

    def ends(k: str) -> tuple[float, float, float]:
        return got[k].estimate, got[k].low, got[k].high

    assert ends("default_pc1_distance") == pytest.approx((0.125, 0.03, 0.22), abs=1e-12)
    assert ends("default_pc1_distance_corrected") == pytest.approx((0.15, 0.055, 0.245), abs=1e-12)
    assert ends("default_pc1_distance_roles_only") == pytest.approx((0.125, 0.125, 0.125), abs=1e-12)
    assert ends("pc1_share") == ends("pc1_share_corrected") == pytest.approx((1.0, 1.0, 1.0), abs=1e-12)
    assert ends("n_for_70") == (1.0, 1.0, 1.0) and "n_for_70_corrected" not in got
    assert (
        got["default_pc1_distance"].unit == "role vectors, then rollouts"
        and got["default_pc1_distance"].n_units == 3
    )
    assert (
        got["default_pc1_distance_corrected"].unit == "role vectors, then rollouts (answer noise taken off)"
    )


def test_two_level_axis_refits_each_resample_exactly() -> None:
    """Every resample's cosine, against an axis and a PCA refitted on that resample's rebuilt vectors;
    its one-level twin refitted on the same role vectors as they are (no library cosine in the oracle)."""
    import numpy as np

    from persona_axis.analysis.two_level import axis_pc1_intervals_two_level, members, two_level_draws
    from persona_axis.persona.space import default_vector, role_vectors

    table, acts, _, _ = role_rollouts(10, 3, 5, 1.0, 2, layers=2)
    rv = role_vectors(table, acts, [0, 1], labels=(3, 2), min_count=1)
    m, fully = members(table, rv), np.array([lab == 3 for lab in rv.labels])
    dv = default_vector(table, acts).double().numpy()
    got = axis_pc1_intervals_two_level(acts, m, fully, [0, 1], 0, n_resamples=1000, seed=5)

    def refit(v: np.ndarray, d: np.ndarray, f: np.ndarray) -> float:
        """cos(default - mean of the fully vectors, PC1 oriented toward the default), by space.pca."""
        if not f.any():
            return np.nan
        sp = pca(torch.from_numpy(v), [str(k) for k in range(len(v))], n_components=1).oriented(
            torch.from_numpy(d)
        )
        axis = torch.from_numpy(d - v[f].mean(0))
        return float(sp.components[0].double() @ axis / axis.norm())

    cos, cos1 = [], []
    for dr in two_level_draws(m, 1000, seed=5):
        f = fully[dr.units]
        cos.append([refit(*dr.vectors(acts[:, i].double().numpy()), f) for i in range(2)])
        cos1.append([refit(rv.vectors[dr.units, i].double().numpy(), dv[i], f) for i in range(2)])
    cos, cos1 = np.array(cos), np.array(cos1)
    one = axis_pc1_intervals(
        rv.vectors, fully, default_vector(table, acts), [0, 1], 0, n_resamples=1000, seed=5
    )
    for key, col, col1 in (
        ("cos_axis_pc1_middle", cos[:, 0], cos1[:, 0]),
        ("cos_axis_pc1_min", cos.min(1), cos1.min(1)),
    ):
        ok, fin = np.isfinite(col) & np.isfinite(col1), col[np.isfinite(col)]
        # the draws' centre, moved onto the estimate
        move = fin.mean() - one[key].estimate
        assert got[key].estimate == pytest.approx(one[key].estimate, abs=1e-6)
        assert got[key].low == pytest.approx(max(np.quantile(fin, 0.025) - move, -1.0), abs=1e-6)
        assert got[key].high == pytest.approx(min(np.quantile(fin, 0.975) - move, 1.0), abs=1e-6)
        roles_only = got[key + "_roles_only"]  # the one-level twins' percentile interval
        assert (roles_only.low, roles_only.high) == pytest.approx(
            tuple(np.quantile(col1[np.isfinite(col1)], [0.025, 0.975])), abs=1e-6
        )
        # the documented correction, from refitted draws
        shift = (col[ok] - col1[ok]).mean()
        want = np.clip(
            [
                one[key].estimate - shift,
                np.quantile(fin, 0.025) - move - shift,
                np.quantile(fin, 0.975) - move - shift,
            ],
            -1.0,
            1.0,
        )
        corr = got[key + "_corrected"]
        assert (corr.estimate, corr.low, corr.high) == pytest.approx(tuple(want), abs=1e-5)


def test_answer_noise_correction_moves_toward_the_many_answers_value() -> None:
    """Sixteen noisy answers per role lower cos(axis, PC1) below the value of the noise-free role
    centres (the one-level interval misses it); the answer-noise correction moves toward it."""
    from persona_axis.analysis.two_level import axis_pc1_intervals_two_level, members
    from persona_axis.persona.space import default_vector, role_vectors

    table, acts, centres, default = role_rollouts(120, 16, 64, 1.0, 0)
    rv = role_vectors(table, acts, [0], labels=(3, 2), min_count=1)
    fully = [lab == 3 for lab in rv.labels]
    truth = axis_pc1_intervals(
        torch.from_numpy(centres), fully, torch.from_numpy(default), [0], 0, n_resamples=1000
    )["cos_axis_pc1_middle"].estimate
    one = axis_pc1_intervals(rv.vectors, fully, default_vector(table, acts), [0], 0, n_resamples=1000)[
        "cos_axis_pc1_middle"
    ]
    two = axis_pc1_intervals_two_level(acts, members(table, rv), fully, [0], 0, n_resamples=1000)
    corr = two["cos_axis_pc1_middle_corrected"]
    assert not one.contains(truth) and one.high < truth, (one, truth)
    assert one.estimate < corr.estimate < truth and corr.high > one.high, (corr, one, truth)
    assert two["cos_axis_pc1_middle"].low < one.low  # answer sampling widens the interval

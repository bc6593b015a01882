"""Chance-level nulls: each draw is exactly the chapters' pipeline on relabelled rollouts (or Gaussian vectors)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from persona_axis.analysis.nulls import (
    AXIS_KEYS,
    SPACE_KEYS,
    NullDraws,
    gaussian_nulls,
    gaussian_vectors,
    permutation_nulls,
    permuted_members,
)
from persona_axis.analysis.two_level import Members, members
from persona_axis.persona.axis import contrast_axis
from persona_axis.persona.space import default_vector, pca, relative_position, role_vectors


def rollouts(
    n_roles: int, per: int, d: int, noise: float, seed: int, layers: int = 2
) -> tuple[pd.DataFrame, torch.Tensor]:
    """Roles with distinct centres (a few strong directions) and ``per`` noisy rollouts each, labelled
    3 (or 2 for every fourth role), and 6 default rollouts far along the first coordinate."""
    rng = np.random.default_rng(seed)
    rows = [
        {"group": "role", "name": f"r{r:02d}", "label": 2 if r % 4 == 0 else 3}
        for r in range(n_roles)
        for _ in range(per)
    ] + [{"group": "default", "name": "default", "label": None}] * 6
    centres = rng.normal(size=(n_roles, layers, d)) * (3.0 / np.arange(1, d + 1))
    dflt = np.zeros((layers, d))
    dflt[:, 0] = 5.0
    acts = np.concatenate(
        [
            np.repeat(centres, per, 0) + noise * rng.normal(size=(n_roles * per, layers, d)),
            dflt + noise * rng.normal(size=(6, layers, d)),
        ]
    )
    return pd.DataFrame(rows), torch.from_numpy(acts)


def pipeline(
    vectors: torch.Tensor,
    default: torch.Tensor,
    fully: np.ndarray,
    layers: list[int],
    layer: int,
    middle: int,
) -> dict[str, float]:
    """The chapters' five numbers from ``space.pca`` and ``axis.contrast_axis`` (chapters 1 and 2)."""
    names = [str(i) for i in range(len(vectors))]
    i = layers.index(layer)
    sp = pca(vectors[:, i], names).oriented(default[i])
    pos = float(relative_position(sp, default[i])[0])
    axis = contrast_axis(default.unsqueeze(0), vectors[torch.as_tensor(fully)], layers, model="m")
    cos = [
        float(
            pca(vectors[:, j], names, n_components=1).oriented(default[j]).components[0].double()
            @ axis.unit(layer_j).double()
        )
        for j, layer_j in enumerate(layers)
    ]
    return {
        "pc1_share": float(sp.explained_variance_ratio[0]),
        "n_for_70": min(sp.n_for(0.70), len(vectors) - 1),
        "default_pc1_distance": max(min(pos, 1 - pos), 0.0),
        "cos_axis_pc1_middle": cos[layers.index(middle)],
        "cos_axis_pc1_min": min(cos),
    }


def test_permuted_members_deal_the_same_rollouts_in_the_same_sizes() -> None:
    m = Members([np.array([0, 1, 2]), np.array([3]), np.array([4, 5, 6, 7])], np.array([8, 9]))
    perms = permuted_members(m, 50, seed=1)
    for p in perms:
        assert [len(v) for v in p.vectors] == [3, 1, 4]
        assert sorted(np.concatenate(p.vectors).tolist()) == list(range(8))
        assert (p.default == m.default).all()
    assert len({tuple(np.concatenate(p.vectors)) for p in perms}) > 40  # they differ
    again = permuted_members(m, 50, seed=1)
    assert all((np.concatenate(a.vectors) == np.concatenate(b.vectors)).all() for a, b in zip(perms, again))
    with pytest.raises(ValueError, match="at least 1"):
        permuted_members(m, 0)


def test_each_permutation_draw_is_the_chapters_pipeline_on_relabelled_rollouts() -> None:
    """Exact oracle: rebuild each permutation's role vectors by hand (means of the dealt rows) and
    run ``space.pca``, ``relative_position`` and ``contrast_axis`` on them."""
    layers = [4, 7]
    table, acts = rollouts(9, 4, 6, 1.0, seed=0)
    rv = role_vectors(table, acts, layers, labels=(3, 2), min_count=1)
    m, dv = members(table, rv), default_vector(table, acts)
    fully = np.array([lab == 3 for lab in rv.labels])
    got = permutation_nulls(acts, m, fully, layers, layer=7, middle=4, n_permutations=30, seed=2)
    assert (
        set(got.draws) == {*SPACE_KEYS, *AXIS_KEYS} and got.unit == "label permutations" and got.n_units == 9
    )
    for r, p in enumerate(permuted_members(m, 30, seed=2)):
        vecs = torch.stack([acts[torch.as_tensor(rows)].double().mean(0) for rows in p.vectors])
        want = pipeline(vecs, dv.double(), fully, layers, 7, 4)
        for k, v in want.items():
            assert got.draws[k][r] == pytest.approx(v, abs=1e-6), (k, r)


def test_one_rollout_per_vector_makes_the_null_the_estimate() -> None:
    """Each vector averaging one rollout and the axis averaging them all, a permutation only reorders
    the vectors: every draw is the data's own number (an exact check that nothing else moves)."""
    layers = [0, 1]
    table, acts = rollouts(8, 1, 5, 0.3, seed=3)
    rv = role_vectors(table, acts, layers, labels=None, min_count=1)
    m, dv = members(table, rv), default_vector(table, acts)
    fully = np.ones(len(rv.names), dtype=bool)
    got = permutation_nulls(acts, m, fully, layers, layer=1, middle=1, n_permutations=20, seed=0)
    want = pipeline(rv.vectors.double(), dv.double(), fully, layers, 1, 1)
    for k, v in want.items():
        assert np.allclose(got.draws[k], v, atol=1e-6), k
    iv = got.intervals()["cos_axis_pc1_middle_null"]
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((want["cos_axis_pc1_middle"],) * 3, abs=1e-6)
    assert iv.n_resamples == 20 and iv.unit == "label permutations" and iv.level == 0.95


def test_the_null_loses_the_roles_structure() -> None:
    """Roles spread along one direction, rollouts with isotropic noise: the data's PC1 is that
    direction; with labels permuted a vector averages 6 random roles, so the roles' spread shrinks
    six-fold against the noise, PC1's share falls and the components for 70% rise."""
    rng = np.random.default_rng(4)
    n, per, d = 20, 6, 12
    centres = np.zeros((n, 1, d))
    centres[:, 0, 0] = rng.normal(size=n) * 3.0
    acts = torch.from_numpy(
        np.concatenate(
            [np.repeat(centres, per, 0) + 1.5 * rng.normal(size=(n * per, 1, d)), np.full((6, 1, d), 2.0)]
        )
    )
    table = pd.DataFrame(
        [{"group": "role", "name": f"r{r:02d}", "label": None} for r in range(n) for _ in range(per)]
        + [{"group": "default", "name": "default", "label": None}] * 6
    )
    rv = role_vectors(table, acts, [0], labels=None, min_count=1)
    m, dv = members(table, rv), default_vector(table, acts)
    got = permutation_nulls(acts, m, [True] * n, [0], layer=0, n_permutations=100, seed=0).intervals()
    data = pipeline(rv.vectors.double(), dv.double(), np.ones(n, dtype=bool), [0], 0, 0)
    assert set(got) == {k + "_null" for k in SPACE_KEYS}  # no middle: no cosines
    assert data["pc1_share"] > 0.7 and got["pc1_share_null"].high < data["pc1_share"] - 0.15
    assert got["n_for_70_null"].low > data["n_for_70"]


def test_summary_is_median_and_spread_of_finite_draws() -> None:
    draws = NullDraws({"a": np.array([*range(100), np.nan]), "b": np.array([np.nan] * 3 + [1.0])}, "x", 5, 0)
    iv = draws.intervals()
    assert (iv["a_null"].estimate, iv["a_null"].low, iv["a_null"].high) == pytest.approx(
        (49.5, 2.475, 96.525)
    ) and iv["a_null"].n_resamples == 100
    assert np.isnan(iv["b_null"].low) and iv["b_null"].n_resamples == 1


def test_gaussian_vectors_keep_count_width_and_spread() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(4000, 6)) * np.array([10.0, 3.0, 1.0, 1.0, 0.5, 0.1]) + 2.0
    g = gaussian_vectors(v, np.random.default_rng(1))
    assert g.shape == v.shape
    assert np.allclose(g.std(0) / v.std(0), 1, atol=0.05) and np.allclose(g.mean(0), v.mean(0), atol=0.4)
    assert abs(np.corrcoef(g.T)[0, 1]) < 0.05  # coordinates independent


def test_gaussian_null_draws_are_the_pipeline_on_gaussian_vectors() -> None:
    layers = [2, 5]
    rng = np.random.default_rng(5)
    vecs = torch.from_numpy(rng.normal(size=(10, 2, 7)) * np.array([4.0, 2, 1, 1, 1, 0.5, 0.2]))
    dflt = torch.from_numpy(rng.normal(size=(2, 7)) + 3.0)
    fully = np.array([i % 3 != 0 for i in range(10)])
    got = gaussian_nulls(vecs, dflt, fully, layers, layer=5, middle=2, n_draws=15, seed=6)
    assert got.unit == "Gaussian draws" and got.n_units == 10
    for r in range(15):
        g = torch.stack(
            [
                torch.from_numpy(gaussian_vectors(vecs[:, i].numpy(), np.random.default_rng([6, 30, i, r])))
                for i in range(2)
            ],
            1,
        )
        want = pipeline(g, dflt, fully, layers, 5, 2)
        for k, v in want.items():
            assert got.draws[k][r] == pytest.approx(v, abs=1e-6), (k, r)


def test_one_varying_coordinate_gives_a_pc1_of_everything() -> None:
    """Role vectors that differ in one coordinate only: Gaussian stand-ins do too, so PC1 holds all
    the variance and one component reaches 70%, on every draw."""
    v = np.zeros((12, 1, 5))
    v[:, 0, 2] = np.arange(12.0)
    got = gaussian_nulls(v, np.ones((1, 5)), [True] * 12, [0], layer=0, n_draws=10).draws
    assert np.allclose(got["pc1_share"], 1.0) and (got["n_for_70"] == 1).all()


def test_bad_input_says_what_to_do() -> None:
    m = Members([np.array([0]), np.array([1])], np.array([2]))
    acts = np.zeros((3, 1, 2))
    with pytest.raises(ValueError, match="fully has 3 entries for 2 role vectors"):
        permutation_nulls(acts, m, [True] * 3, [0], layer=0)
    with pytest.raises(ValueError, match="larger preset"):
        permutation_nulls(acts, m, [False, False], [0], layer=0, middle=0)
    with pytest.raises(ValueError, match=r"\(n, n_layers, hidden\)"):
        gaussian_nulls(np.zeros((2, 3)), np.zeros((1, 3)), [True] * 2, [0], layer=0)


def test_pairing_null_is_centred_on_zero_with_the_spread_of_random_pairs() -> None:
    """Two models whose compositions agree exactly (r = 1) still get a null centred on 0 with the
    spread of a correlation of n randomly paired values (about 1.96 / sqrt(n) at the ends), and the
    three-model lowest pair lies below the two-model one."""
    from persona_axis.analysis.nulls import pairing_null

    n = 400
    v = np.random.default_rng(0).normal(size=n)
    comp = {
        m: pd.DataFrame({"PC1": v * (i + 1)}, index=[f"r{j}" for j in range(n)]) for i, m in enumerate("abc")
    }
    two = pairing_null(comp, ["a", "b"], n_permutations=2000, seed=1)
    assert set(two) == {"a", "b"} and two["a"].high == pytest.approx(two["b"].high)
    iv = two["a"]
    assert abs(iv.estimate) < 0.01
    assert iv.high == pytest.approx(1.96 / np.sqrt(n), rel=0.15) and iv.low == pytest.approx(
        -1.96 / np.sqrt(n), rel=0.15
    )
    assert iv.unit == "role pairings permuted" and iv.n_units == n and iv.n_resamples == 2000
    three = pairing_null(comp, ["a", "b", "c"], n_permutations=2000, seed=1)
    assert three["a"].estimate < -0.02
    assert pairing_null(comp, ["a"]) == {} and pairing_null(comp, ["a", "zz"]) == {}

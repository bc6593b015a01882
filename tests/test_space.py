"""Property tests on synthetic data with a planted structure."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from persona_axis.axis import Axis, calibrate, contrast_axis
from persona_axis.space import default_vector, pca, relative_position, role_composition, role_vectors


def planted(n: int = 200, hidden: int = 32, strength: float = 5.0, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(hidden, generator=g)
    d = d / d.norm()
    coef = torch.randn(n, generator=g) * strength
    x = coef[:, None] * d + torch.randn(n, hidden, generator=g) * 0.5
    return x, d, coef


def test_pca_recovers_planted_direction_and_its_variance_share() -> None:
    x, d, coef = planted()
    res = pca(x, [str(i) for i in range(len(x))])
    assert abs(float(res.components[0] @ d)) > 0.99
    xc = x - x.mean(0)
    expected = float(((xc @ d) ** 2).sum() / (xc**2).sum())
    assert abs(float(res.explained_variance_ratio[0]) - expected) < 0.01
    assert torch.allclose(res.explained_variance_ratio.sum(), torch.tensor(1.0), atol=1e-5)
    assert res.n_for(0.5) == 1
    torch.testing.assert_close(res.project(x), res.scores, atol=1e-3, rtol=1e-3)


def test_orientation_puts_reference_on_the_positive_side() -> None:
    x, d, _ = planted()
    res = pca(x, [str(i) for i in range(len(x))])
    for ref in (d * 10, -d * 10):
        o = res.oriented(ref + res.mean)
        assert (o.project(ref + res.mean) >= 0).all()


def test_role_composition_invariant_to_scaling() -> None:
    x, d, _ = planted()
    scale = torch.rand(len(x)) * 10 + 0.1
    torch.testing.assert_close(role_composition(x * scale[:, None], d), role_composition(x, d * 3.0))


def test_relative_position_of_extremes() -> None:
    x, d, coef = planted()
    res = pca(x, [str(i) for i in range(len(x))])
    pos = relative_position(res, x)
    assert torch.isclose(pos[:, 0].min(), torch.tensor(0.0), atol=1e-5)
    assert torch.isclose(pos[:, 0].max(), torch.tensor(1.0), atol=1e-5)


def test_contrast_axis_points_toward_the_default() -> None:
    g = torch.Generator().manual_seed(3)
    hidden, layers = 16, [0, 1]
    toward = torch.randn(hidden, generator=g)
    roles = torch.randn(50, 2, hidden, generator=g)
    default = roles.mean(0, keepdim=True) + 3 * toward + 0.1 * torch.randn(20, 2, hidden, generator=g)
    ax = contrast_axis(default, roles, layers, model="synthetic")
    for layer in layers:
        assert float(ax.unit(layer) @ (toward / toward.norm())) > 0.95
        assert ax.project(default[:, layer], layer).mean() > ax.project(roles[:, layer], layer).mean()


def test_axis_roundtrip_and_calibration(tmp_path) -> None:
    g = torch.Generator().manual_seed(4)
    ax = Axis(torch.randn(3, 8, generator=g), [4, 5, 6], "m", "test", info={"k": 1})
    ax2 = Axis.load(ax.save(tmp_path / "a.safetensors"))
    assert torch.equal(ax2.vectors, ax.vectors) and ax2.layers == [4, 5, 6] and ax2.info == {"k": 1}
    acts = torch.randn(100, 3, 8, generator=g)
    cal = calibrate(ax, acts, [5], (1, 25, 50, 75))
    proj = ax.project(acts[:, 1], 5)
    assert abs(cal[5][50.0] - float(proj.median())) < 0.2
    assert cal[5][1.0] < cal[5][25.0] < cal[5][50.0] < cal[5][75.0]
    with pytest.raises(ValueError, match="outside 0-100"):
        calibrate(ax, acts, [5], (101,))
    with pytest.raises(KeyError, match="no layer 9"):
        ax.unit(9)


def test_role_vectors_filter_by_label_and_count() -> None:
    table = pd.DataFrame({"group": ["role"] * 6 + ["default"] * 2, "name": ["a", "a", "a", "b", "b", "b", "default", "default"],
                          "label": [3, 3, 2, 3, 1, 1, None, None]})
    acts = torch.arange(8, dtype=torch.float32)[:, None, None].expand(8, 1, 2).clone()
    rv = role_vectors(table, acts, [0], labels=(3, 2), min_count=2)
    assert rv.names == ["a"] and rv.labels == [3] and rv.counts == [2]
    assert torch.equal(rv.vectors[0, 0], torch.tensor([0.5, 0.5]))
    rv_all = role_vectors(table, acts, [0], labels=None, min_count=1)
    assert rv_all.names == ["a", "b"]
    assert torch.equal(default_vector(table, acts)[0], torch.tensor([6.5, 6.5]))
    with pytest.raises(ValueError, match="min_count"):
        role_vectors(table, acts, [0], labels=(3,), min_count=5)


def test_compare_vector_sets_reports_each_variant() -> None:
    from persona_axis.space import compare_vector_sets

    g = torch.Generator().manual_seed(7)
    names = [f"r{i}" for i in range(12) for _ in range(4)]
    table = pd.DataFrame({"group": ["role"] * 48 + ["default"] * 4, "name": names + ["default"] * 4,
                          "label": [3, 3, 2, 1] * 12 + [None] * 4})
    acts = torch.randn(52, 2, 8, generator=g)
    acts[48:] += 5.0  # the default sits apart
    out = compare_vector_sets(table, acts, [0, 1], 1, {"all": {"labels": None, "min_count": 1},
                                                       "fully": {"labels": (3,), "min_count": 2},
                                                       "impossible": {"labels": (0,), "min_count": 1}})
    assert out["n"].tolist() == [12, 12, 0]
    assert 0 < out.loc[0, "PC1 share"] <= 1 and out.loc[0, "PCs for 70%"] >= 1
    assert out.loc[2, "PC1 share"] is None or pd.isna(out.loc[2, "PC1 share"])


def test_composition_correlations_align_roles_by_name() -> None:
    from persona_axis.space import RoleVectors, composition_correlations, compositions

    g = torch.Generator().manual_seed(9)
    d_a, d_b = torch.randn(8, generator=g), torch.randn(16, generator=g)
    coef = torch.linspace(-2, 2, 10)
    names = [f"r{i}" for i in range(10)]
    va = RoleVectors((coef[:, None] * d_a + 0.1 * torch.randn(10, 8, generator=g))[:, None], names, [3] * 10, [1] * 10, [0])
    # model b: other hidden size, roles in another order, one role missing
    perm = list(reversed(range(9)))
    vb = RoleVectors((coef[perm, None] * d_b + 0.1 * torch.randn(9, 16, generator=g))[:, None], [names[i] for i in perm], [3] * 9, [1] * 9, [0])
    ca = compositions(va, 0, pca(va.at(0), names).components)
    cb = compositions(vb, 0, pca(vb.at(0), vb.names).components)
    corr = composition_correlations({"a": ca, "b": cb}, absolute=True)
    assert corr.loc["a", "b"] > 0.95 and corr.loc["a", "a"] == 1.0


def test_get_axis_is_cached_and_calibrated(tmp_path, monkeypatch) -> None:
    from persona_axis.axis import threshold
    from persona_axis.pipeline import get_axis
    from persona_axis.runs import Rollouts

    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    g = torch.Generator().manual_seed(2)
    table = pd.DataFrame({"group": ["role"] * 8 + ["default"] * 4, "name": ["a"] * 4 + ["b"] * 4 + ["default"] * 4,
                          "label": [3, 3, 1, 1, 3, 3, 3, 2, None, None, None, None]})
    acts = torch.randn(12, 2, 6, generator=g)
    acts[8:] += 3.0
    ro = Rollouts(table=table, acts=acts, layers=[4, 5], model="m", path=tmp_path, key="k")
    ax = get_axis(ro, {"labels": [3, 2], "min_count": 2})
    assert ax.info["n_fully_vectors"] == 2
    proj = ax.project(acts[:, 1], 5)
    assert abs(threshold(ax, 5, 50) - float(proj.median())) < 0.5
    assert torch.equal(get_axis(ro, {"labels": [3, 2], "min_count": 2}).vectors, ax.vectors)
    with pytest.raises(KeyError, match="not calibrated"):
        threshold(ax, 5, 10)

"""Property tests on synthetic data with a planted structure."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from persona_axis.persona.axis import Axis, calibrate, contrast_axis, threshold
from persona_axis.persona.space import default_vector, pca, relative_position, role_composition, role_vectors


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
    cal = calibrate(ax, acts)
    proj = ax.project(acts[:, 1], 5)
    # exact oracle: linear interpolation between order statistics
    srt = proj.sort().values
    for p in (0, 1, 10, 25, 50, 75, 99, 100):
        pos = p / 100 * (len(srt) - 1)
        lo, frac = int(pos), pos - int(pos)
        want = float(srt[lo] + frac * (srt[min(lo + 1, len(srt) - 1)] - srt[lo]))
        assert abs(cal.percentile(5, p) - want) < 1e-5
        assert abs(cal.percentile(5, p, sign=-1) + cal.percentile(5, 100 - p)) < 1e-5
    assert cal.percentiles((1, 25))[4][1.0] < cal.percentiles((1, 25))[4][25.0]
    with pytest.raises(ValueError, match="outside 0-100"):
        cal.percentile(5, 101)
    with pytest.raises(KeyError, match="no calibration at layer 9"):
        cal.percentile(9, 50)
    with pytest.raises(ValueError, match="carries no calibration"):
        threshold(ax, 5, 50)
    ax.calibration = cal
    assert threshold(ax, 5, 37.5) == cal.percentile(5, 37.5)
    with pytest.raises(KeyError, match="no layer 9"):
        ax.unit(9)


def test_role_vectors_filter_by_label_and_count() -> None:
    table = pd.DataFrame(
        {
            "group": ["role"] * 6 + ["default"] * 2,
            "name": ["a", "a", "a", "b", "b", "b", "default", "default"],
            "label": [3, 3, 2, 3, 1, 1, None, None],
        }
    )
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
    from persona_axis.persona.space import compare_vector_sets

    g = torch.Generator().manual_seed(7)
    names = [f"r{i}" for i in range(12) for _ in range(4)]
    table = pd.DataFrame(
        {
            "group": ["role"] * 48 + ["default"] * 4,
            "name": names + ["default"] * 4,
            "label": [3, 3, 2, 1] * 12 + [None] * 4,
        }
    )
    acts = torch.randn(52, 2, 8, generator=g)
    acts[48:] += 5.0  # the default sits apart
    out = compare_vector_sets(
        table,
        acts,
        [0, 1],
        1,
        {
            "all": {"labels": None, "min_count": 1},
            "fully": {"labels": (3,), "min_count": 2},
            "impossible": {"labels": (0,), "min_count": 1},
        },
    )
    assert out["n"].tolist() == [12, 12, 0]
    assert 0 < out.loc[0, "PC1 share"] <= 1 and out.loc[0, "PCs for 70%"] >= 1
    assert out.loc[2, "PC1 share"] is None or pd.isna(out.loc[2, "PC1 share"])
    # the distance and cosine columns, recomputed from the primitives for the "all" variant
    rv = role_vectors(table, acts, [0, 1], labels=None, min_count=1)
    dv = default_vector(table, acts)[1]
    sp = pca(rv.at(1), rv.names).oriented(dv)
    pos = float(relative_position(sp, dv)[0])
    ax = contrast_axis(acts[48:], rv.vectors, [0, 1], model="x")
    assert out.loc[0, "default's distance from PC1 end"] == pytest.approx(min(pos, 1 - pos), abs=1e-6)
    assert out.loc[0, "cos(PC1, contrast axis)"] == pytest.approx(
        float(sp.components[0] @ ax.unit(1)), abs=1e-6
    )
    assert out.loc[0, "PC1 share"] == pytest.approx(float(sp.explained_variance_ratio[0]), abs=1e-6)


def test_compare_vector_sets_on_a_line() -> None:
    """Role vectors on a line through the origin and the default far out on it: PC1 is the line,
    the contrast axis is along it (cosine 1) and the default lies beyond PC1's end (distance < 0)."""
    from persona_axis.persona.space import compare_vector_sets

    d = torch.zeros(8)
    d[2] = 1.0
    coef = torch.linspace(-1, 1, 10)
    acts = torch.cat([coef[:, None] * d, 5 * d[None].expand(2, 8)])[:, None, :]
    table = pd.DataFrame(
        {
            "group": ["role"] * 10 + ["default"] * 2,
            "name": [f"r{i}" for i in range(10)] + ["default"] * 2,
            "label": [3] * 10 + [None] * 2,
        }
    )
    out = compare_vector_sets(table, acts, [0], 0, {"all": {"labels": None, "min_count": 1}})
    assert out.loc[0, "n"] == 10 and out.loc[0, "PC1 share"] == pytest.approx(1.0, abs=1e-5)
    assert out.loc[0, "cos(PC1, contrast axis)"] == pytest.approx(1.0, abs=1e-5)
    # 5 on a line from -1 to 1
    assert out.loc[0, "default's distance from PC1 end"] == pytest.approx(-2.0, abs=1e-4)


def test_composition_correlations_align_roles_by_name() -> None:
    from persona_axis.persona.space import RoleVectors, composition_correlations, compositions

    g = torch.Generator().manual_seed(9)
    d_a, d_b = torch.randn(8, generator=g), torch.randn(16, generator=g)
    coef = torch.linspace(-2, 2, 10)
    names = [f"r{i}" for i in range(10)]
    va = RoleVectors(
        (coef[:, None] * d_a + 0.1 * torch.randn(10, 8, generator=g))[:, None], names, [3] * 10, [1] * 10, [0]
    )
    # model b: other hidden size, roles in another order, one role missing
    perm = list(reversed(range(9)))
    vb = RoleVectors(
        (coef[perm, None] * d_b + 0.1 * torch.randn(9, 16, generator=g))[:, None],
        [names[i] for i in perm],
        [3] * 9,
        [1] * 9,
        [0],
    )
    ca = compositions(va, 0, pca(va.at(0), names).components)
    cb = compositions(vb, 0, pca(vb.at(0), vb.names).components)
    corr = composition_correlations({"a": ca, "b": cb}, absolute=True)
    assert corr.loc["a", "b"] > 0.95 and corr.loc["a", "a"] == 1.0


def test_get_axis_is_cached_and_calibrated(tmp_path, monkeypatch) -> None:
    from persona_axis.persona.pipeline import get_axis
    from persona_axis.persona.runs import Rollouts

    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    g = torch.Generator().manual_seed(2)
    table = pd.DataFrame(
        {
            "group": ["role"] * 8 + ["default"] * 4,
            "name": ["a"] * 4 + ["b"] * 4 + ["default"] * 4,
            "label": [3, 3, 1, 1, 3, 3, 3, 2, None, None, None, None],
        }
    )
    acts = torch.randn(12, 2, 6, generator=g)
    acts[8:] += 3.0
    ro = Rollouts(
        table=table, acts=acts, layers=[4, 5], model="m", path=tmp_path, key="k", labels_key="judge-a"
    )
    ax = get_axis(ro, {"labels": [3, 2], "min_count": 2})
    assert ax.info["n_fully_vectors"] == 2
    # exact oracle: the contrast of the default mean and the mean of the two "fully" vectors
    want = acts[8:].mean(0) - torch.stack([acts[0:2].mean(0), acts[4:7].mean(0)]).mean(0)
    assert torch.allclose(ax.vectors, want, atol=1e-6)
    proj = ax.project(acts[:, 1], 5)
    srt = proj.sort().values  # 12 rollouts: the median is halfway between the 6th and the 7th
    assert threshold(ax, 5, 50) == pytest.approx(float((srt[5] + srt[6]) / 2), abs=1e-6)
    assert threshold(ax, 5, 10) == pytest.approx(float(torch.quantile(proj, 0.10)), abs=1e-6)
    again = get_axis(ro, {"labels": [3, 2], "min_count": 2})  # read back from the store
    assert torch.equal(again.vectors, ax.vectors) and again.calibration is not None
    assert torch.equal(again.calibration.projections, ax.calibration.projections)
    # other labels of the same rollouts (another judge): another axis, never the cached one
    relabelled = table.assign(label=[1, 1, 3, 3, 3, 3, 3, 2, None, None, None, None])
    ro2 = Rollouts(
        table=relabelled, acts=acts, layers=[4, 5], model="m", path=tmp_path, key="k", labels_key="judge-b"
    )
    other = get_axis(ro2, {"labels": [3, 2], "min_count": 2})
    want2 = acts[8:].mean(0) - torch.stack([acts[2:4].mean(0), acts[4:7].mean(0)]).mean(0)
    assert torch.allclose(other.vectors, want2, atol=1e-6) and not torch.allclose(other.vectors, ax.vectors)
    with pytest.raises(ValueError, match="not labelled"):
        get_axis(
            Rollouts(table=table, acts=acts, layers=[4, 5], model="m", path=tmp_path, key="k"),
            {"labels": None, "min_count": 1},
        )

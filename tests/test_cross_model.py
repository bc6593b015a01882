"""Chapter 3's measures: centred compositions, contrast-axis projections, subsets, trait scores."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import noisy_role_rollouts
from persona_axis.analysis.cross_model import (
    ModelSpace,
    model_space,
    subset,
    text_rollouts,
    trait_compositions,
    trait_scores,
)
from persona_axis.analysis.measures import composition_reliability
from persona_axis.persona.runs import Rollouts
from persona_axis.persona.space import RoleVectors


def _rollouts(n_roles: int = 6, per: int = 4, d: int = 5, seed: int = 0) -> Rollouts:
    g = torch.Generator().manual_seed(seed)
    rows, acts = [], []
    for r in range(n_roles):
        for i in range(per):
            rows.append({"group": "role", "name": f"r{r}", "prompt_index": i % 2, "question_id": i // 2})
            acts.append(torch.randn(2, d, generator=g) + 3.0)
    for i in range(3):
        rows.append({"group": "default", "name": "default", "prompt_index": i, "question_id": 0})
        acts.append(torch.randn(2, d, generator=g) + 5.0)
    return Rollouts(pd.DataFrame(rows), torch.stack(acts).double(), [0, 1], "m", Path("."), "k")


def test_centred_compositions_and_axis_projections_by_hand() -> None:
    """Four roles whose vectors at layer 1 are (10, 10) plus (4, 0), (-4, 0), (0, 1), (0, -1) (each the
    mean of two rollouts one step either side), and a default at (20, 10): PC1 is the first axis by
    construction, pointing toward the default. Every number below is worked out by hand."""
    import math

    centre, offsets = np.array([10.0, 10.0]), {"a": (4, 0), "b": (-4, 0), "c": (0, 1), "d": (0, -1)}
    rows, acts = [], []
    for name, off in offsets.items():
        for i, step in enumerate((1.0, -1.0)):
            rows.append({"group": "role", "name": name, "prompt_index": i, "question_id": 0})
            acts.append([[0.0, 0.0], centre + off + step * np.array([1.0, -1.0])])  # layer 0 unused
    for i in range(2):
        rows.append({"group": "default", "name": "default", "prompt_index": i, "question_id": 0})
        acts.append([[0.0, 0.0], [20.0 + (1 - 2 * i), 10.0]])
    ms = model_space(
        Rollouts(pd.DataFrame(rows), torch.tensor(np.array(acts)), [0, 1], "m", Path("."), "k"), 1
    )
    comp = ms.compositions(centre=True)
    assert list(comp.index) == ["a", "b", "c", "d"]
    # cos of (±4, 0), (0, ±1) with x
    np.testing.assert_allclose(comp["PC1"].to_numpy(), [1.0, -1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(comp["PC2"].abs().to_numpy(), [0.0, 0.0, 1.0, 1.0], atol=1e-6)
    # cos of (14, 10), (6, 10), (10, 11), (10, 9) with x
    raw = ms.compositions(centre=False)["PC1"].to_numpy()
    np.testing.assert_allclose(
        raw, [14 / math.sqrt(296), 6 / math.sqrt(136), 10 / math.sqrt(221), 10 / math.sqrt(181)], atol=1e-6
    )
    # the contrast axis: default minus the mean role vector = (10, 0); each role's projection on it is its first coordinate
    np.testing.assert_allclose(ms.axis.double().numpy(), [10.0, 0.0], atol=1e-6)
    proj = ms.axis_projections()
    assert list(proj.index) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(proj["axis"].to_numpy(), [14.0, 6.0, 10.0, 10.0], atol=1e-6)


def test_centred_compositions_on_random_roles() -> None:
    """On random roles: centred compositions differ from raw ones, and the default projects above every role's mean."""
    ro = _rollouts()
    ms = model_space(ro, 1)
    got, raw = ms.compositions(centre=True)["PC1"].to_numpy(), ms.compositions(centre=False)["PC1"].to_numpy()
    assert not np.allclose(raw, got) and np.all(np.abs(got) <= 1 + 1e-9)
    dv = ro.acts[ro.table["group"].to_numpy() == "default", 1].mean(0)
    proj = ms.axis_projections()
    assert float(dv.float() @ ms.axis / ms.axis.norm()) > proj["axis"].mean()
    assert list(proj.index) == [f"r{r}" for r in range(6)]


def test_axis_uses_fully_vectors_only() -> None:
    rv = RoleVectors(
        torch.tensor([[[1.0, 0.0]], [[0.0, 4.0]], [[3.0, 3.0]]]), ["a", "a", "b"], [3, 2, 3], [5, 5, 5], [0]
    )
    ms = ModelSpace("m", 0, rv, None, torch.tensor([10.0, 10.0]))  # type: ignore[arg-type]
    assert ms.axis.tolist() == [8.0, 8.5]
    assert list(ms.axis_projections().index) == ["a", "a (2)", "b"]
    with pytest.raises(ValueError, match="no 'fully'"):
        ModelSpace(
            "m",
            0,
            RoleVectors(rv.vectors[1:2], ["a"], [2], [5], [0]),
            None,  # type: ignore[arg-type]
            torch.zeros(2),
        ).axis


def test_subset_keeps_first_rollouts_of_each_role_and_all_defaults() -> None:
    ro = _rollouts(n_roles=3, per=4)
    s = subset(ro, 2)
    assert len(s.table) == 3 * 2 + 3 and s.key == "k:first2"
    assert s.table.groupby("name").size().to_dict() == {"default": 3, "r0": 2, "r1": 2, "r2": 2}
    assert torch.equal(s.acts[0], ro.acts[0]) and torch.equal(s.acts[2], ro.acts[4])
    assert len(subset(ro, 10).table) == len(ro.table)
    with pytest.raises(ValueError, match="at least 1"):
        subset(ro, 0)


def test_text_rollouts_put_the_embeddings_in_place_of_the_activations() -> None:
    ro = _rollouts(n_roles=3, per=2)
    ro.table["response"] = [f"answer {i}" for i in range(len(ro.table))]
    # an embedding that knows only the text: its number, as a one-hot over the rows, plus a constant
    n = len(ro.table)

    def embed(texts: list[str]) -> torch.Tensor:
        idx = [int(t.split()[1]) for t in texts]
        return torch.eye(n)[idx] + 1.0

    t = text_rollouts(ro, embed)
    assert t.layers == [0] and t.acts.shape == (n, 1, n) and t.acts.dtype == torch.float32
    assert t.model == "text of m" and t.key == ro.key and t.table is ro.table
    assert torch.equal(t.acts[:, 0], torch.eye(n) + 1.0)
    # through the cross-model recipe: each role vector is the mean of its rows' embeddings
    sp = model_space(t, 0)
    assert torch.allclose(sp.vectors.at(0)[0], (torch.eye(n)[0] + torch.eye(n)[1]) / 2 + 1.0)
    assert torch.allclose(sp.default, torch.eye(n)[6:].mean(0) + 1.0)
    with pytest.raises(ValueError, match="want \\(n, dim\\)"):
        text_rollouts(ro, lambda texts: torch.zeros(len(texts) - 1, 4))


def test_trait_scores_align_with_rows() -> None:
    table = pd.DataFrame({"name": ["b", "a", "b", "a"], "response": ["x", "yy", "zzz", ""]})

    class Scorer:
        def score(self, trait, responses):  # noqa: ANN001, ANN202
            return [SimpleNamespace(score=None if not r else float(len(r) + trait.k)) for r in responses]

    traits = [SimpleNamespace(name="a", k=10), SimpleNamespace(name="b", k=20)]
    assert trait_scores(table, traits, Scorer()) == [21.0, 12.0, 23.0, None]
    with pytest.raises(KeyError, match="not in the catalogue"):
        trait_scores(table, traits[:1], Scorer())


def test_trait_compositions_oriented_on_anchors() -> None:
    g = torch.Generator().manual_seed(1)
    v = torch.randn(5, 1, 4, generator=g)
    tv = RoleVectors(v, ["calm", "t1", "t2", "t3", "t4"], [None] * 5, [1] * 5, [0])
    c = trait_compositions(tv, 0)
    assert c.loc["calm", "PC1"] >= 0 and list(c.columns) == ["PC1"]


def test_reliability_of_centred_compositions_and_projections() -> None:
    rng = np.random.default_rng(0)
    d = 12
    t, x = noisy_role_rollouts(rng, 25, d, 1)
    u = torch.tensor(rng.normal(size=d))
    for kw in ({"centre": True}, {"projection": True}):
        assert composition_reliability(t, x, [0], 0, u, **kw).reliability == pytest.approx(1.0, abs=1e-3)
    # projections: exactly the split-half correlation of <half mean, u/|u|>
    noisy = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=x.dtype) * 2
    rel = composition_reliability(t, noisy, [0], 0, u, projection=True)
    un = (u / u.norm()).numpy()
    a, b = noisy[0::2, 0].numpy() @ un, noisy[1::2, 0].numpy() @ un
    r = float(np.corrcoef(a, b)[0, 1])
    assert rel.half_r == pytest.approx(r) and rel.reliability == pytest.approx(2 * r / (1 + r))


def _space(name: str, roles: list[str], d: int, seed: int) -> ModelSpace:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(roles), 1, d, generator=g) * torch.linspace(3.0, 0.5, d) + 2.0
    rv = RoleVectors(x, roles, [None] * len(roles), [1] * len(roles), [0])
    from persona_axis.persona.space import pca

    default = torch.randn(d, generator=g) + 4.0
    return ModelSpace(name, 0, rv, pca(rv.at(0), roles).oriented(default), default)


def test_refit_pc1_equals_a_pca_refitted_on_the_drawn_rows() -> None:
    """The Gram-matrix refit against the oracle: ``pca`` and ``compositions`` run on the drawn vectors
    themselves (repeats included, plus the space's own rows), for the full draw and a random one."""
    from persona_axis.analysis.cross_model import _gram, _refit_pc1
    from persona_axis.persona.space import compositions, pca

    sp = _space("a", [f"r{i}" for i in range(9)], 6, seed=1)
    shared = ["r0", "r2", "r3", "r5", "r6", "r8"]  # r1, r4, r7 are the space's own
    g = _gram(sp, shared)
    full = sp.compositions(k=1)["PC1"]
    raw = sp.compositions(k=1, centre=False)["PC1"]
    c, r = _refit_pc1(g, np.arange(len(shared)))
    np.testing.assert_allclose(c, full.loc[shared].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(r, raw.loc[shared].to_numpy(), atol=1e-6)

    draw = np.array([0, 0, 3, 5, 5, 1])
    names = [shared[i] for i in draw] + ["r1", "r4", "r7"]
    idx = [sp.vectors.names.index(n) for n in names]
    rv = RoleVectors(sp.vectors.vectors[idx], names, [None] * len(idx), [1] * len(idx), [0])
    fit = pca(rv.at(0), names).oriented(sp.default)
    want_c = compositions(rv, 0, fit.components, k=1, centre=True)["PC1"].to_numpy()[: len(draw)]
    want_r = compositions(rv, 0, fit.components, k=1)["PC1"].to_numpy()[: len(draw)]
    c, r = _refit_pc1(g, draw)
    np.testing.assert_allclose(c, want_c, atol=1e-5)
    np.testing.assert_allclose(r, want_r, atol=1e-5)
    # the orientation is the default's, measured from the rows' mean: a default just past the mean
    # on either side of PC1 turns PC1 toward it
    for side in (1.0, -1.0):
        near = rv.at(0).mean(0) + side * 0.01 * fit.components[0]
        g_near = _gram(ModelSpace("a", 0, sp.vectors, sp.pca, near), shared)
        np.testing.assert_allclose(_refit_pc1(g_near, draw)[0], side * c, atol=1e-5)


def test_refit_pair_intervals_estimate_is_the_fixed_fit_and_the_interval_is_wider() -> None:
    """The estimate is ``composition_correlations``' lowest pair; refitting PC1 on every resample
    gives an interval at least as wide as holding the components fixed, on spaces whose PC1 and PC2
    are nearly tied (where a refit swaps them)."""
    from persona_axis.analysis.cross_model import refit_pair_intervals
    from persona_axis.analysis.measures import lowest_pair_intervals
    from persona_axis.persona.space import composition_correlations

    roles = [f"r{i}" for i in range(30)]
    g = torch.Generator().manual_seed(3)
    base = torch.randn(30, 8, generator=g) * torch.tensor([2.0, 1.9, 1, 1, 0.5, 0.5, 0.2, 0.2])
    spaces = {}
    for j, name in enumerate(["a", "b"]):
        x = (base + 0.8 * torch.randn(30, 8, generator=g))[:, None, :]
        rv = RoleVectors(x, roles, [None] * 30, [1] * 30, [0])
        from persona_axis.persona.space import pca

        default = torch.ones(8) * (j + 1)
        spaces[name] = ModelSpace(name, 0, rv, pca(rv.at(0), roles).oriented(default), default)
    comp = {n: s.compositions() for n, s in spaces.items()}
    got = refit_pair_intervals(spaces, ["a", "b", "missing"], n_resamples=1000, seed=0)
    fixed = lowest_pair_intervals(comp, ["a", "b"], "PC1", n_resamples=1000, seed=0)
    want = composition_correlations(comp, "PC1").loc["a", "b"]
    iv, fx = got["PC1"]["a"], fixed["a"]
    assert iv is not None and fx is not None and got["PC1"]["b"] is not None
    assert iv.estimate == pytest.approx(want, abs=1e-6)
    assert got["PC1 raw"]["a"].estimate == pytest.approx(
        composition_correlations({n: s.compositions(centre=False) for n, s in spaces.items()}, "PC1").loc[
            "a", "b"
        ],
        abs=1e-6,
    )
    assert iv.high - iv.low > fx.high - fx.low
    assert refit_pair_intervals(spaces, ["a"]) == {"PC1": {"a": None}, "PC1 raw": {"a": None}}

"""The paper's released vectors: the reader on a release the tests write, every bad input, the hub mocked.

The release is ``write_synthetic_release``'s: the exact layout, bfloat16, both file styles, and a
planted structure whose PC1 share, default position and cosines follow from formulas. The reference
check against the official notebook runs when the real release is in the local Hugging Face cache.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import not_here

from persona_axis.persona import release as rel_mod
from persona_axis.persona.release import (
    REFERENCE,
    RELEASE_MODELS,
    RELEASE_REPO,
    ReleaseError,
    ReleaseUnavailable,
    SyntheticRelease,
    allow_patterns,
    fetch_command,
    in_cache,
    load_release,
    reference_check,
    write_synthetic_release,
)
from persona_axis.persona.space import RoleVectors, pca, relative_position, role_composition


@pytest.fixture(scope="module")
def syn(tmp_path_factory: pytest.TempPathFactory) -> SyntheticRelease:
    return write_synthetic_release(tmp_path_factory.mktemp("release"))


@pytest.fixture
def copy(syn: SyntheticRelease, tmp_path: Path) -> SyntheticRelease:
    """A copy of the synthetic release that a test may damage."""
    shutil.copytree(syn.root, tmp_path / "r")
    return SyntheticRelease(tmp_path / "r", syn.models, syn.truth, syn.vectors)


# ---- reading ------------------------------------------------------------------------------------


def test_the_release_models_have_the_paper_shapes() -> None:
    shapes = {n: (s.n_layers, s.hidden_size, s.target_layer) for n, s in RELEASE_MODELS.items()}
    assert shapes == {
        "gemma-2-27b": (46, 4608, 22),
        "qwen-3-32b": (64, 5120, 32),
        "llama-3.3-70b": (80, 8192, 40),
    }
    assert [s.capping for s in RELEASE_MODELS.values()] == [False, True, True]
    assert all(s.n_roles == 275 and s.n_traits == 240 for s in RELEASE_MODELS.values())


def test_both_file_styles_are_written_in_bfloat16(syn: SyntheticRelease) -> None:
    roles = syn.root / "synthetic-a" / "role_vectors"
    kinds = {type(torch.load(f, weights_only=True)).__name__ for f in roles.glob("*.pt")}
    assert kinds == {"Tensor", "dict"}
    d = torch.load(roles / "synthetic-role-01.pt", weights_only=True)
    assert set(d) == {"vector", "type", "role"} and d["vector"].dtype == torch.bfloat16
    assert isinstance(torch.load(syn.root / "synthetic-b" / "assistant_axis.pt", weights_only=True), dict)


def test_every_part_reads_exactly_as_written(syn: SyntheticRelease) -> None:
    for name, spec in syn.models.items():
        rel = load_release(spec, syn.root, progress=False)
        w = syn.vectors[name]
        assert (
            rel.roles is not None
            and rel.traits is not None
            and rel.axis is not None
            and rel.default is not None
        )
        assert rel.roles.vectors.dtype == torch.float32
        assert torch.equal(rel.roles.vectors, w["roles"]) and rel.roles.names == w["role_names"]
        assert torch.equal(rel.traits.vectors, w["traits"]) and rel.traits.names == w["trait_names"]
        assert torch.equal(rel.default, w["default"]) and torch.equal(rel.axis.vectors, w["axis"])
        assert rel.roles.labels == [3] * spec.n_roles and rel.traits.labels == [None] * spec.n_traits
        assert rel.layers == list(range(spec.n_layers)) and rel.axis.layers == rel.layers
        assert (rel.capping is not None) == spec.capping


def test_some_layers_only(syn: SyntheticRelease) -> None:
    spec = syn.models["synthetic-c"]
    rel = load_release(spec, syn.root, layers=[5, 2], parts=["roles", "default", "axis"], progress=False)
    assert rel.roles is not None and rel.default is not None and rel.axis is not None
    assert rel.roles.vectors.shape == (16, 2, 128) and rel.traits is None and rel.capping is None
    assert torch.equal(rel.roles.at(2), syn.vectors["synthetic-c"]["roles"][:, 2])
    assert torch.equal(rel.axis.vector(5), syn.vectors["synthetic-c"]["axis"][5])
    with pytest.raises(ValueError, match="out of range for synthetic-c: valid layers are 0..9"):
        load_release(spec, syn.root, layers=[10], progress=False)


# ---- the planted structure, recovered with the book's own functions ---------------------------------


def test_planted_pc1_share_default_and_axis(syn: SyntheticRelease) -> None:
    # the formulas, typed once more here: c = (16, 8, 4, 4, 2) gives 256 / 356
    assert syn.truth["synthetic-a"]["pc1_share"] == pytest.approx(256 / 356)
    assert syn.truth["synthetic-a"]["n_for"] == {0.7: 1, 0.8: 2, 0.9: 3, 0.95: 4}
    assert syn.truth["synthetic-a"]["cos_axis_pc1"][0] == pytest.approx(12 / 37)
    assert syn.truth["synthetic-c"]["cos_axis_pc1"][5] == pytest.approx(1.0)
    for name, spec in syn.models.items():
        rel = load_release(spec, syn.root, progress=False)
        assert rel.roles is not None and rel.default is not None and rel.axis is not None
        t = syn.truth[name]
        recomputed = rel.contrast_axis()
        for layer in rel.layers:
            sp = pca(rel.roles.at(layer), rel.roles.names).oriented(rel.default[layer])
            assert float(sp.explained_variance_ratio[0]) == pytest.approx(t["pc1_share"], abs=1e-6)
            assert {f: sp.n_for(f) for f in t["n_for"]} == t["n_for"]
            p = float(relative_position(sp, rel.default[layer])[0])
            assert min(p, 1 - p) == pytest.approx(t["default_pc1_distance"], abs=1e-6)
            assert float(sp.components[0] @ recomputed.unit(layer)) == pytest.approx(
                t["cos_axis_pc1"][layer], abs=1e-6
            )
            assert float(recomputed.unit(layer) @ rel.axis.unit(layer)) == pytest.approx(1.0, abs=1e-6)
        mid = spec.target_layer
        sp = pca(rel.roles.at(mid), rel.roles.names).oriented(rel.default[mid])
        centred = rel.roles.at(mid) - rel.roles.at(mid).mean(0)
        comp = role_composition(centred, sp.components[0])
        assert comp.tolist() == pytest.approx([t["pc1_composition"][n] for n in rel.roles.names], abs=1e-6)


def test_planted_pc1_share_against_numpy(syn: SyntheticRelease) -> None:
    """The same share from numpy's SVD of what was written: an oracle that shares no code with ``pca``."""
    for name, spec in syn.models.items():
        x = syn.vectors[name]["roles"][:, spec.target_layer].double().numpy()
        s = np.linalg.svd(x - x.mean(0), compute_uv=False)
        assert (s[0] ** 2 / (s**2).sum()) == pytest.approx(syn.truth[name]["pc1_share"], abs=1e-12)


def test_capping_configuration(syn: SyntheticRelease) -> None:
    spec = syn.models["synthetic-b"]
    rel = load_release(spec, syn.root, parts=["axis", "capping"], progress=False)
    assert rel.capping is not None and rel.axis is not None
    assert sorted(rel.capping.vectors) == list(range(8))
    for layer, v in rel.capping.vectors.items():  # the official convention: the opposite of the axis
        assert float(v @ rel.axis.unit(layer) / v.norm()) == pytest.approx(-1.0, abs=1e-6)
    e = rel.capping.experiment("layers_4:6-p0.25")
    assert e.band == (4, 5) and e.percentile == 0.25 and e.caps == {4: -6.5, 5: -7.5}
    assert [x.id for x in rel.capping.experiments] == [
        "layers_4:6-p0.25",
        "layers_4:6-p0.75",
        "layers_6:8-p0.25",
        "layers_6:8-p0.75",
    ]
    with pytest.raises(KeyError, match="no capping experiment 'layers_1:2-p0.5'"):
        rel.capping.experiment("layers_1:2-p0.5")


# ---- bad input --------------------------------------------------------------------------------------


def _load(r: SyntheticRelease, name: str = "synthetic-a", **kw: object) -> None:
    load_release(r.models[name], r.root, progress=False, **kw)  # type: ignore[arg-type]


def test_missing_model_folder_and_source(copy: SyntheticRelease, tmp_path: Path) -> None:
    with pytest.raises(
        ReleaseError, match=r"no folder gemma-2-27b/ \(folders here: synthetic-a, synthetic-b, synthetic-c\)"
    ):
        load_release("gemma-2-27b", copy.root)
    with pytest.raises(ReleaseError, match="nowhere: no such folder"):
        load_release("gemma-2-27b", tmp_path / "nowhere")
    with pytest.raises(KeyError, match="unknown release model 'gemma-3'"):
        load_release("gemma-3", copy.root)


def test_missing_and_extra_files(copy: SyntheticRelease) -> None:
    folder = copy.root / "synthetic-a"
    (folder / "role_vectors" / "synthetic-role-03.pt").unlink()
    with pytest.raises(
        ReleaseError, match="15 role vector files, expected 16 for synthetic-a: a file is missing"
    ):
        _load(copy)
    _load(copy, parts=["axis", "default", "traits"])  # a part not asked for is not read
    torch.save(torch.zeros(6, 32, dtype=torch.bfloat16), folder / "role_vectors" / "synthetic-role-03.pt")
    torch.save(torch.zeros(6, 32, dtype=torch.bfloat16), folder / "role_vectors" / "another.pt")
    with pytest.raises(ReleaseError, match="17 role vector files, expected 16 for synthetic-a: extra files"):
        _load(copy)
    (folder / "role_vectors" / "another.pt").rename(folder / "role_vectors" / "notes.txt")
    with pytest.raises(ReleaseError, match=r"role_vectors: unexpected file\(s\) notes.txt"):
        _load(copy)
    (folder / "role_vectors" / "notes.txt").unlink()
    (folder / "README.md").write_text("x")
    with pytest.raises(ReleaseError, match=r"synthetic-a: unexpected file\(s\) README.md"):
        _load(copy)
    (folder / "README.md").unlink()
    (folder / "assistant_axis.pt").unlink()
    with pytest.raises(ReleaseError, match="assistant_axis.pt: missing"):
        _load(copy)
    shutil.rmtree(folder / "trait_vectors")
    with pytest.raises(ReleaseError, match="trait_vectors: missing; synthetic-a needs 16 trait vector files"):
        _load(copy, parts=["traits"])
    (copy.root / "synthetic-b" / "capping_config.pt").unlink()
    with pytest.raises(ReleaseError, match="capping_config.pt: missing"):
        _load(copy, "synthetic-b", parts=["capping"])


def test_wrong_shape_and_layer_count(copy: SyntheticRelease) -> None:
    f = copy.root / "synthetic-a" / "role_vectors" / "synthetic-role-02.pt"
    torch.save(torch.zeros(6, 31, dtype=torch.bfloat16), f)
    with pytest.raises(
        ReleaseError,
        match=r"synthetic-role-02.pt: shape \(6, 31\); every file of synthetic-a is "
        r"\(n_layers, hidden\) = \(6, 32\)",
    ):
        _load(copy)
    torch.save(torch.zeros(32, dtype=torch.bfloat16), f)
    with pytest.raises(ReleaseError, match=r"shape \(32,\)"):
        _load(copy)
    torch.save(torch.zeros(5, 32, dtype=torch.bfloat16), f)
    with pytest.raises(ReleaseError, match="synthetic-role-02.pt: 5 layers, but synthetic-a has 6"):
        _load(copy)
    torch.save(torch.zeros(6, 32, dtype=torch.int64), f)
    with pytest.raises(ReleaseError, match="dtype torch.int64"):
        _load(copy)


def test_objects_that_are_not_vectors(copy: SyntheticRelease) -> None:
    f = copy.root / "synthetic-a" / "role_vectors" / "synthetic-role-02.pt"
    torch.save([1.0, 2.0], f)
    with pytest.raises(ReleaseError, match="synthetic-role-02.pt: holds a list, not a tensor"):
        _load(copy)
    torch.save({"vector": torch.zeros(6, 32), "axis": torch.zeros(6, 32)}, f)
    with pytest.raises(ReleaseError, match=r"a dict with keys \['axis', 'vector'\]"):
        _load(copy)
    torch.save({"vector": torch.zeros(6, 32), "role": "pirate"}, f)
    with pytest.raises(
        ReleaseError, match="the file says it is role 'pirate', but its name says 'synthetic-role-02'"
    ):
        _load(copy)
    torch.save({"vector": "not a tensor"}, f)
    with pytest.raises(ReleaseError, match="holds a str, not a tensor"):
        _load(copy)
    torch.save({"metadata": {}}, copy.root / "synthetic-a" / "assistant_axis.pt")
    with pytest.raises(ReleaseError, match="a dict without an 'axis' tensor"):
        _load(copy, parts=["axis"])


class _Planted:
    """A pickled object that creates a file when unpickled as code (``open(marker, "w")``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_weights_only_refuses_a_pickled_object(copy: SyntheticRelease, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    f = copy.root / "synthetic-a" / "role_vectors" / "synthetic-role-02.pt"
    torch.save({"vector": torch.zeros(6, 32), "type": _Planted(marker)}, f)
    with pytest.raises(
        ReleaseError,
        match=r"synthetic-role-02.pt: refused. torch.load\(weights_only=True\) cannot "
        r"read it \(Unsupported global.*never unpickled as code",
    ):
        _load(copy)
    assert not marker.exists()  # the object's code never ran
    f.write_bytes(b"not a torch file")
    with pytest.raises(ReleaseError, match="synthetic-role-02.pt: refused"):
        _load(copy)


def test_a_malformed_capping_configuration(copy: SyntheticRelease) -> None:
    f = copy.root / "synthetic-b" / "capping_config.pt"
    torch.save({"vectors": {"v": {"layer": 3, "vector": torch.zeros(63)}}, "experiments": []}, f)
    with pytest.raises(ReleaseError, match=r"vector 'v' has shape \(63,\) at layer 3"):
        _load(copy, "synthetic-b", parts=["capping"])
    torch.save(
        {"vectors": {}, "experiments": [{"id": "x", "interventions": [{"vector": "w", "cap": 1.0}]}]}, f
    )
    with pytest.raises(ReleaseError, match="experiment 'x' caps vector 'w', which is not in 'vectors'"):
        _load(copy, "synthetic-b", parts=["capping"])
    torch.save({"vectors": []}, f)
    with pytest.raises(ReleaseError, match="expected a dict with 'vectors' and 'experiments'"):
        _load(copy, "synthetic-b", parts=["capping"])


# ---- the hub, mocked --------------------------------------------------------------------------------


def test_patterns_fetch_only_what_is_asked() -> None:
    assert allow_patterns(["gemma-2-27b"], ["roles", "capping"]) == ["gemma-2-27b/role_vectors/*.pt"]
    assert allow_patterns(["qwen-3-32b"], ["axis", "capping"]) == [
        "qwen-3-32b/assistant_axis.pt",
        "qwen-3-32b/capping_config.pt",
    ]
    assert len(allow_patterns()) == 3 * 4 + 2
    with pytest.raises(ValueError, match="unknown part"):
        allow_patterns(parts=["vectors"])
    assert fetch_command(["llama-3.3-70b"]) == "python -m persona_axis.persona.release fetch llama-3.3-70b"


def test_the_hub_call(syn: SyntheticRelease, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    calls: list[dict[str, object]] = []

    def fake(repo_id: str, **kw: object) -> str:
        calls.append({"repo_id": repo_id, **kw})
        return str(syn.root)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    rel = load_release(syn.models["synthetic-b"], layers=[4], parts=["roles", "default"], progress=False)
    assert rel.roles is not None and torch.equal(rel.roles.at(4), syn.vectors["synthetic-b"]["roles"][:, 4])
    assert calls == [
        {
            "repo_id": RELEASE_REPO,
            "repo_type": "dataset",
            "local_files_only": False,
            "allow_patterns": ["synthetic-b/default_vector.pt", "synthetic-b/role_vectors/*.pt"],
        }
    ]
    calls.clear()
    assert rel_mod.main(["fetch", "qwen-3-32b", "--parts", "axis", "capping"]) == 0
    assert calls[0]["allow_patterns"] == ["qwen-3-32b/assistant_axis.pt", "qwen-3-32b/capping_config.pt"]
    with pytest.raises(
        ReleaseUnavailable, match="gemma-2-27b is not in the cached release .*\n.*fetch gemma-2-27b"
    ):
        load_release("gemma-2-27b", progress=False)  # a cache that holds other models only


def test_the_hub_unreachable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(repo_id: str, **kw: object) -> str:
        raise LocalEntryNotFoundError("Cannot find an appropriate cached snapshot folder")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ReleaseUnavailable,
        match=r"HF_HUB_OFFLINE is set .*\n    python -m persona_axis.persona.release "
        r"fetch llama-3.3-70b",
    ):
        load_release("llama-3.3-70b")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(
        ReleaseUnavailable, match="the hub could not be reached and the local cache has no copy"
    ):
        load_release("llama-3.3-70b")
    assert in_cache(["gemma-2-27b"]) is None
    assert rel_mod.main(["fetch"]) == 2
    assert (
        "python -m persona_axis.persona.release fetch gemma-2-27b qwen-3-32b llama-3.3-70b"
        in capsys.readouterr().err
    )


# ---- the reference check ---------------------------------------------------------------------------------


def _reference_like(n: int = 275, d: int = 300) -> RoleVectors:
    """Role vectors whose centred PCA has the official notebook's cumulative variance for PCs 1-5, and
    later shares chosen so that 4 / 8 / 18 / 36 components reach 70 / 80 / 90 / 95%."""
    cum = list(REFERENCE["cumulative"])
    shares = [cum[0]] + [b - a for a, b in zip(cum, cum[1:])]
    for (k0, c0), (k1, c1) in zip(
        [(5, cum[-1]), (8, 0.801), (18, 0.901), (36, 0.951)],
        [(8, 0.801), (18, 0.901), (36, 0.951), (n - 1, 1.0)],
    ):
        shares += [(c1 - c0) / (k1 - k0)] * (k1 - k0)
    g = torch.Generator().manual_seed(0)
    u = torch.linalg.qr(
        torch.randn(n, n - 1, dtype=torch.float64, generator=g)
        - torch.randn(n, n - 1, dtype=torch.float64, generator=g).mean(0)
    )[0]
    u = torch.linalg.qr(u - u.mean(0))[0]  # orthonormal, centred columns
    v = torch.linalg.qr(torch.randn(d, n - 1, dtype=torch.float64, generator=g))[0]
    x = (u * torch.tensor(shares, dtype=torch.float64).sqrt()) @ v.T + 3.0
    return RoleVectors(x.float()[:, None], [f"r{i}" for i in range(n)], [3] * n, [0] * n, [22])


def test_the_reference_check_passes_on_the_official_spectrum_and_fails_otherwise(
    syn: SyntheticRelease,
) -> None:
    check = reference_check(_reference_like())
    assert check.ok, check.frame()
    assert list(check.frame()["ours"])[6:] == [4, 8, 18, 36]
    off = _reference_like()
    off.vectors[:5] *= 1.5  # a planted fault: five roles read at the wrong scale
    assert not reference_check(off).ok
    rel = load_release(syn.models["synthetic-a"], syn.root, parts=["roles"], progress=False)
    assert rel.roles is not None and not reference_check(rel.roles, 3).ok


def test_reference_check_on_the_real_release() -> None:
    """Gemma 2 27B's released role vectors at layer 22 give the official notebook's numbers."""
    root = in_cache(["gemma-2-27b"], ["roles"])
    if root is None:
        not_here(
            "the paper's release (Gemma 2 27B's role vectors)",
            f"fetch them with `{fetch_command(['gemma-2-27b'])} --parts roles` (275 role vectors, about "
            "0.12 GB), then rerun `pytest tests/test_release.py -k real_release`",
        )
    rel = load_release("gemma-2-27b", root, layers=[22], parts=["roles"], progress=False)
    assert rel.roles is not None
    check = reference_check(rel.roles)
    assert check.ok, check.frame().to_string()


# ---- the chapter's numbers on the release, and the Gaussian null ---------------------------------------


def test_release_numbers_recover_the_plant(syn: SyntheticRelease) -> None:
    from persona_axis.analysis.paper_vectors import FRACTIONS, release_numbers

    for name, spec in syn.models.items():
        t = syn.truth[name]
        nums = release_numbers(load_release(spec, syn.root, progress=False), n_resamples=1000)
        mid = spec.target_layer
        assert nums.layer == mid and nums.n_for == {f: t["n_for"][f] for f in FRACTIONS}
        assert nums.intervals["pc1_share"].estimate == pytest.approx(t["pc1_share"], abs=1e-6)
        assert nums.intervals["n_for_70"].estimate == t["n_for"][0.7]
        assert nums.intervals["default_pc1_distance"].estimate == pytest.approx(
            t["default_pc1_distance"], abs=1e-6
        )
        assert nums.intervals["cos_axis_pc1_middle"].estimate == pytest.approx(
            t["cos_axis_pc1"][mid], abs=1e-6
        )
        assert nums.intervals["cos_axis_pc1_min"].estimate == pytest.approx(
            min(t["cos_axis_pc1"].values()), abs=1e-6
        )
        assert nums.cos_axis_pc1 == pytest.approx(t["cos_axis_pc1"], abs=1e-6)
        assert nums.cos_released_pc1_middle == pytest.approx(t["cos_axis_pc1"][mid], abs=1e-6)
        assert min(nums.cos_recomputed_released.values()) == pytest.approx(1.0, abs=1e-6)
        assert all(iv.n_units == 16 and iv.n_resamples >= 500 for iv in nums.intervals.values())
        positive = {r for r, c in t["pc1_composition"].items() if c > 0}
        assert set(nums.ends["default end"]) <= positive and not set(nums.ends["far end"]) & positive
        # traits, against numpy: share of the top singular value, cosine with the axis
        x = syn.vectors[name]["traits"][:, mid].double().numpy()
        s = np.linalg.svd(x - x.mean(0), compute_uv=False)
        assert nums.trait_pc1_share == pytest.approx(s[0] ** 2 / (s**2).sum(), abs=1e-6)
        a = syn.vectors[name]["axis"][mid].double().numpy()
        want = x @ a / (np.linalg.norm(x, axis=1) * np.linalg.norm(a))
        assert [nums.trait_axis[n] for n in syn.vectors[name]["trait_names"]] == pytest.approx(
            want.tolist(), abs=1e-6
        )
        comp = nums.trait_composition
        # oriented on the anchors
        assert comp is not None and comp.loc[["calm", "methodical"], "PC1"].min() > 0


def test_the_null_compositions_are_the_books_on_the_same_draws() -> None:
    """The null's PC1 compositions come from Gram matrices; on the same Gaussian draws written out,
    they are what pca, oriented, and role_composition give."""
    from persona_axis.analysis.nulls import gaussian_vectors
    from persona_axis.analysis.paper_vectors import _null_compositions

    g = torch.Generator().manual_seed(3)
    x = torch.randn(20, 40, generator=g) * torch.linspace(0.2, 3, 40)
    default = torch.randn(40, generator=g) * 3
    got = _null_compositions(x, 4, seed=7, default=default)
    by_anchor = _null_compositions(x, 4, seed=7, anchors=[0, 5])
    for r in range(4):
        z = torch.from_numpy(gaussian_vectors(x.double().numpy(), np.random.default_rng([7, 31, r])))
        names = [str(k) for k in range(20)]
        pc1 = pca(z, names).oriented(default.double()).components[0]
        assert got[r].tolist() == pytest.approx(role_composition(z - z.mean(0), pc1).tolist(), abs=1e-5)
        pc1 = pca(z, names).oriented(z[[0, 5]].mean(0)).components[0]
        assert by_anchor[r].tolist() == pytest.approx(role_composition(z - z.mean(0), pc1).tolist(), abs=1e-5)


def test_the_null_covers_vectors_with_nothing_to_find_and_not_the_plant(syn: SyntheticRelease) -> None:
    from persona_axis.analysis.paper_vectors import (
        lowest_pair_null,
        null_interval,
        release_nulls,
        release_numbers,
    )
    from persona_axis.persona.release import ReleaseVectors

    spec = syn.models["synthetic-c"]
    planted = load_release(spec, syn.root, progress=False)
    null = release_nulls(planted, draws=100, layer_draws=20)
    ivs = null.stats.intervals()
    assert set(ivs) == {
        "pc1_share_null",
        "n_for_70_null",
        "default_pc1_distance_null",
        "cos_axis_pc1_middle_null",
        "cos_axis_pc1_min_null",
    }
    assert ivs["pc1_share_null"].n_resamples == 100 and ivs["cos_axis_pc1_min_null"].n_resamples == 20
    assert ivs["pc1_share_null"].high < 0.3 < syn.truth["synthetic-c"]["pc1_share"]
    assert null.compositions.shape == (100, 16) and null.trait_compositions is not None
    # vectors with nothing to find: Gaussian, with the plant's coordinate-wise spread; the null covers them
    g = torch.Generator().manual_seed(1)
    sd = planted.roles.vectors.std(0)  # type: ignore[union-attr]
    fake = ReleaseVectors(
        spec,
        planted.layers,
        planted.axis,
        torch.randn(spec.n_layers, spec.hidden_size, generator=g) * sd,
        replace_vectors(planted.roles, torch.randn(16, spec.n_layers, spec.hidden_size, generator=g) * sd),
    )
    nums = release_numbers(fake, n_resamples=1000)
    fake_ivs = release_nulls(fake, draws=200, layer_draws=20).stats.intervals()
    for key in ("pc1_share", "cos_axis_pc1_middle", "default_pc1_distance"):
        assert fake_ivs[key + "_null"].contains(nums.intervals[key].estimate), key
    fake_null = release_nulls(fake, draws=100, layer_draws=2)
    low = lowest_pair_null(
        {"a": null.compositions, "b": fake_null.compositions}, {"a": null.names, "b": fake_null.names}
    )
    assert null_interval(low["a"]).contains(0.0)


def replace_vectors(rv: RoleVectors | None, vectors: torch.Tensor) -> RoleVectors:
    assert rv is not None
    return RoleVectors(vectors, rv.names, rv.labels, rv.counts, rv.layers)


def test_null_layers() -> None:
    from persona_axis.analysis.paper_vectors import null_layers

    assert null_layers(range(10), 5) == list(range(10))
    got = null_layers(list(range(80)), 40)
    assert 12 <= len(got) <= 16 and got[0] == 0 and got[-1] == 79 and 40 in got
    assert len(null_layers(list(range(46)), 22)) <= 16 and 22 in null_layers(list(range(46)), 22)


def test_rank_agreement_over_shared_roles() -> None:
    import pandas as pd

    from persona_axis.analysis.paper_vectors import rank_agreement, rank_null

    a = pd.Series(np.arange(10.0), index=[f"r{i}" for i in range(10)])
    order = [1, 0, 2, 3, 4, 5, 6, 7, 9, 8]  # two adjacent swaps: sum d^2 = 4
    b = pd.Series([float(order[i]) * 3 + 1 for i in range(10)], index=a.index)
    b["other"] = 100.0  # a role only one side has
    iv = rank_agreement(a, b, n_resamples=1000)
    assert iv is not None and iv.n_units == 10 and iv.unit == "roles"
    assert iv.estimate == pytest.approx(1 - 6 * 4 / (10 * 99))
    assert rank_agreement(a, b.rename(lambda n: n + "x")) is None  # nothing in common
    draws = np.stack([a.to_numpy(), -a.to_numpy()])
    assert rank_null(a, draws, list(a.index)).tolist() == pytest.approx([1.0, -1.0])


# ---- the dashboard's columns for the released vectors ------------------------------------------------------


def _release_docs(numbers: dict[str, float], lowest: float) -> None:
    """What chapter 10 saves for a run on the real release (its keys; the values are made up)."""
    from persona_axis.claims.results import save_result
    from persona_axis.core.stats import Interval

    def iv(x: float) -> Interval:
        return Interval(x, x - 0.02, x + 0.02, n_resamples=2000, unit="role vectors", n_units=275)

    chance = {"default_pc1_distance": 0.45, "cos_axis_pc1_middle": 0.05, "cos_axis_pc1_min": 0.01}
    for m in RELEASE_MODELS:
        save_result(
            "10_paper_vectors",
            m,
            {**numbers, "synthetic": False},
            {"preset": "book"},
            intervals={
                **{k: iv(v) for k, v in numbers.items()},
                **{
                    k + "_null": Interval(
                        chance[k],
                        chance[k] - 0.03,
                        chance[k] + 0.03,
                        n_resamples=200,
                        unit="Gaussian draws",
                        n_units=275,
                    )
                    for k in numbers
                },
            },
        )
    save_result(
        "10_paper_vectors",
        "all",
        {"pc1_min_pair": {m: lowest for m in RELEASE_MODELS}, "synthetic": False},
        {"preset": "book"},
        intervals={"pc1_min_pair": {m: iv(lowest) for m in RELEASE_MODELS}},
    )


def test_release_columns_on_the_dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from persona_axis.claims.dashboard import render_dashboard
    from persona_axis.claims.registry import claim
    from persona_axis.claims.release_column import NOT_IN_RELEASE, evaluate_release
    from persona_axis.claims.results import save_result

    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path / "art"))
    # a tiny build's synthetic results are never read as the paper's
    save_result("10_paper_vectors", "synthetic-a", {"pc1_share": 0.7, "synthetic": True}, {"preset": "tiny"})
    save_result(
        "10_paper_vectors", "all-synthetic", {"pc1_min_pair": {"synthetic-a": 0.5}, "synthetic": True}, {}
    )
    md = render_dashboard()
    embedded = render_dashboard(claims=CLAIMS_).splitlines()[0]
    # the embedded models' count line
    assert embedded.startswith("Of ") and "claim-model cells" in embedded
    assert (
        "On the paper's own released vectors" in md and "**0 reproduced**" in md and "synthetic-a" not in md
    )
    assert "The paper's own released vectors".lower() not in md.splitlines()[0].lower()
    assert '<th title="gemma-2-27b">gemma-2-27b (released vectors)</th>' in md
    models, rows = evaluate_release()
    by_key = {r.claim.key: r for r in rows}
    assert models == ["gemma-2-27b", "qwen-3-32b", "llama-3.3-70b"]
    assert by_key["pc1_share"].cells["gemma-2-27b"].status == "not yet run"
    assert by_key["pc1_min_pair"].cells["qwen-3-32b"].status == "not yet run"
    assert by_key["r2_position"].cells["gemma-2-27b"].text == NOT_IN_RELEASE  # drift: no rollouts
    assert by_key["harm_reduction"].cells["llama-3.3-70b"].status == "not rated"  # capping harm
    assert by_key["helpful_toward_minus_away"].cells["gemma-2-27b"].status == "—"  # a base-model claim
    # a run on the real release: rated by the registry's rules with the Gaussian null saved beside each number,
    # the cross-model claim one cell for all three
    _release_docs(
        {"default_pc1_distance": 0.05, "cos_axis_pc1_middle": 0.65, "cos_axis_pc1_min": 0.4}, lowest=0.95
    )
    models, rows = evaluate_release()
    by_key = {r.claim.key: r for r in rows}
    for key, status in (
        ("default_pc1_distance", "reproduced"),
        ("cos_axis_pc1_middle", "weaker than the paper"),
        ("cos_axis_pc1_min", "weaker than the paper"),
    ):
        got = by_key[key].cells["qwen-3-32b"]
        assert got.null is not None and got.null.unit == "Gaussian draws"
        assert got.status == claim(key).rate(got.interval, got.null) == status  # type: ignore[arg-type]
    assert by_key["pc1_min_pair"].cells["llama-3.3-70b"].text == "0.95 [0.93, 0.97]"
    assert by_key["pc1_min_pair"].cells["llama-3.3-70b"].status == "reproduced"
    assert by_key["n_for_70"].cells["gemma-2-27b"].status == "not yet run"  # a key the saved run lacks
    md = render_dashboard()
    assert ('colspan="3" title="gemma-2-27b, qwen-3-32b, llama-3.3-70b: 0.95 [0.93, 0.97] · reproduced') in md
    # one reproduced cross-model cell (C6) and C3 for three models; C4 and C5 weaker for three models
    assert "**4 reproduced**, **6 weaker than the paper**, **0 not reproduced**, **0 inconclusive**" in md
    assert (
        "- 10_paper_vectors, `gemma-2-27b`: preset `book`" in md
        and "synthetic" not in md.split("## The results")[1]
    )


from persona_axis.claims.registry import CLAIMS as CLAIMS_  # noqa: E402


# ---- the chapter, executed on the synthetic release in the tiny build ----------------------------------------


def check_tiny_run(artifacts: Path, syn: SyntheticRelease) -> None:
    """Chapter 10's saved numbers from a tiny run equal the planted ones, and none is read as the paper's."""
    import json

    from persona_axis.claims.release_column import evaluate_release
    from persona_axis.claims.results import Results

    folder = artifacts / "results" / "10_paper_vectors"
    for name, t in syn.truth.items():
        doc = json.loads((folder / f"{name}.json").read_text())
        n, mid = doc["numbers"], syn.models[name].target_layer
        assert n["synthetic"] is True and doc["config"]["release"] == "synthetic test release"
        assert n["pc1_share"] == pytest.approx(t["pc1_share"], abs=1e-6)
        assert n["n_for_70"] == t["n_for"][0.7] and n["n_for"] == {str(f): k for f, k in t["n_for"].items()}
        assert n["default_pc1_distance"] == pytest.approx(t["default_pc1_distance"], abs=1e-6)
        assert n["cos_axis_pc1_middle"] == pytest.approx(t["cos_axis_pc1"][mid], abs=1e-6)
        assert n["cos_axis_pc1_min"] == pytest.approx(min(t["cos_axis_pc1"].values()), abs=1e-6)
        assert {int(k): v for k, v in n["cos_axis_pc1"].items()} == pytest.approx(t["cos_axis_pc1"], abs=1e-6)
        assert n["intervals"]["pc1_share_null"]["high"] < t["pc1_share"]
        assert n["intervals"]["pc1_share_null"]["unit"] == "Gaussian draws"
    comps = np.array(
        [[syn.truth[m]["pc1_composition"][r] for r in syn.vectors[m]["role_names"]] for m in syn.truth]
    )
    r = np.corrcoef(comps)
    lowest = min(r[i, j] for i in range(3) for j in range(i + 1, 3))
    both = json.loads((folder / "all-synthetic.json").read_text())["numbers"]
    assert list(both["pc1_min_pair"].values()) == pytest.approx([lowest] * 3, abs=1e-6)
    assert (
        not (folder / "all.json").exists()
        or not json.loads((folder / "all.json").read_text())["numbers"]["synthetic"]
    )
    _, rows = evaluate_release(results=Results.load(["10_paper_vectors"], root=artifacts))
    assert {c.status for r_ in rows for c in r_.cells.values()} <= {"not yet run", "not rated", "—"}


@pytest.mark.notebooks
@pytest.mark.real_model
def test_the_chapter_on_the_synthetic_release_in_the_tiny_build(built: Path, syn: SyntheticRelease) -> None:
    artifacts = built / "artifacts"  # where the built fixture sends the tiny build's results
    check_tiny_run(artifacts, syn)
    page = (built / "html" / "notebooks" / "10_paper_vectors.html").read_text()
    assert (
        "This page was built on a synthetic test release" in page
        and "planted structure recovered in 24 of 24" in page
    )
    assert "gemma-2-27b (released vectors)" in (built / "html" / "book" / "dashboard.html").read_text()

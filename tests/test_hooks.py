"""Exact oracles for the hook context managers on tiny random models."""

from __future__ import annotations

import pytest
import torch

from persona_axis.model.hooks import cap, cap_transform, check_layers, find_layers, record, steer


def hidden_states(model: torch.nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return model(ids, output_hidden_states=True).hidden_states


def logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(ids).logits


def test_find_layers_counts(model: torch.nn.Module) -> None:
    assert len(find_layers(model)) == 4


def test_record_matches_hidden_states_and_keys_by_layer(model, ids) -> None:
    hs = hidden_states(model, ids)
    with record(model, [3, 1]) as rec:
        with torch.no_grad():
            model(ids)
    assert list(rec.outputs) == [3, 1]
    # hidden_states[i + 1] is the output of layer i, except the last, which has the final norm.
    assert torch.equal(rec.stacked(1), hs[2])
    assert rec.stacked(3).shape == (3, 12, 64)


def test_steer_zero_is_baseline_bit_for_bit(model, ids) -> None:
    base = logits(model, ids)
    v = torch.randn(64)
    with steer(model, v, 0.0, [1, 2]):
        out = logits(model, ids)
    assert torch.equal(out, base)


def test_steer_changes_only_from_the_hooked_layer(model, ids) -> None:
    with record(model, None) as base:
        with torch.no_grad():
            model(ids)
    v = torch.randn(64)
    with steer(model, v, 4.0, 2), record(model, None) as rec:
        with torch.no_grad():
            model(ids)
    for i in range(2):  # outputs of layers 0 and 1
        assert torch.equal(rec.stacked(i), base.stacked(i))
    assert torch.allclose(rec.stacked(2), base.stacked(2) + 4.0 * v, atol=1e-5)
    assert not torch.allclose(rec.stacked(3), base.stacked(3), atol=1e-3)


def test_hooks_come_off_after_exception(model, ids) -> None:
    base = logits(model, ids)
    v = torch.randn(64)
    with pytest.raises(RuntimeError, match="boom"):
        with steer(model, v, 10.0, [0, 1, 2, 3]):
            raise RuntimeError("boom")
    assert torch.equal(logits(model, ids), base)
    assert all(len(layer._forward_hooks) == 0 for layer in find_layers(model))


def test_hooks_come_off_when_registration_fails_half_way(model, ids) -> None:
    base = logits(model, ids)
    vectors = {0: torch.randn(64), 1: torch.randn(64)}  # no vector for layer 2
    with pytest.raises(KeyError):
        with steer(model, vectors, 1.0, [0, 1, 2]):
            pass
    assert all(len(layer._forward_hooks) == 0 for layer in find_layers(model))
    assert torch.equal(logits(model, ids), base)


@pytest.mark.parametrize("kind", ["floor", "ceiling"])
def test_cap_invariants(model, ids, kind: str) -> None:
    v = torch.randn(64)
    u = v / v.norm()
    with record(model, [2]) as rec:
        with torch.no_grad():
            model(ids)
    before = rec.stacked(2)
    proj = before @ u
    tau = float(proj.median())
    with cap(model, v, tau, [2], kind=kind), record(model, [1, 2]) as capped:
        with torch.no_grad():
            model(ids)
    after = capped.stacked(2)
    new_proj = after @ u
    if kind == "floor":
        assert (new_proj >= tau - 1e-4).all()
        untouched = proj >= tau
    else:
        assert (new_proj <= tau + 1e-4).all()
        untouched = proj <= tau
    assert untouched.any() and (~untouched).any()
    assert torch.equal(after[untouched], before[untouched])
    # moved rows land on the threshold, not past it (an overshooting cap keeps the bound)
    assert (new_proj[~untouched] - tau).abs().max() < 1e-4
    # moved rows change only along v
    delta = after[~untouched] - before[~untouched]
    orth = delta - (delta @ u).unsqueeze(-1) * u
    assert orth.abs().max() < 1e-4
    # layers before the capped one are untouched
    with record(model, [1]) as ref:
        with torch.no_grad():
            model(ids)
    assert torch.equal(capped.stacked(1), ref.stacked(1))


def test_cap_transform_scale_invariant_and_idempotent() -> None:
    g = torch.Generator().manual_seed(0)
    h = torch.randn(10, 8, generator=g)
    v = torch.randn(8, generator=g)
    a = cap_transform(h, v, 0.3)
    assert torch.allclose(a, cap_transform(h, 7.0 * v, 0.3))
    assert torch.allclose(cap_transform(a, v, 0.3), a, atol=1e-6)


def test_cap_below_every_projection_is_identity(model, ids) -> None:
    base = logits(model, ids)
    with cap(model, torch.randn(64), -1e9, [0, 1, 2, 3]):
        assert torch.equal(logits(model, ids), base)
    assert torch.equal(logits(model, ids), base)


def test_layer_out_of_range_names_valid_range(model) -> None:
    with pytest.raises(ValueError, match=r"layers 0\.\.3"):
        check_layers(model, [4])
    with pytest.raises(ValueError, match="out of range"):
        with record(model, [-1]):
            pass


def test_bad_cap_kind(model) -> None:
    with pytest.raises(ValueError, match="floor"):
        with cap(model, torch.randn(64), 0.0, [0], kind="clip"):  # type: ignore[arg-type]
            pass


def test_steering_sweep_is_generate_under_steer_at_each_strength(model) -> None:
    """Coefficient 0 is the plain model; every other one is ``generate`` under ``steer`` with the unit
    direction times ``c * norm``, and differs from the plain output."""
    from helpers import CharTokenizer
    from persona_axis.engine.rollouts import Sampling, generate
    from persona_axis.interventions.steering import sweep

    tok = CharTokenizer()
    prompts = [[5, 6, 7, 8], [9, 10, 11]]
    batch = [p for p in prompts for _ in range(2)]
    samp = Sampling(max_new_tokens=6, seed=3)
    direction = torch.randn(64, generator=torch.Generator().manual_seed(4))
    out = sweep(model, tok, prompts, direction, 1, [0.0, 5.0, -5.0], norm=2.0, sampling=samp, samples=2)
    plain = generate(model, tok, batch, samp).texts
    assert out[out.coefficient == 0.0]["text"].tolist() == plain
    for c in (5.0, -5.0):
        with steer(model, direction / direction.norm(), c * 2.0, [1]):
            want = generate(model, tok, batch, samp).texts
        got = out[out.coefficient == c]["text"].tolist()
        assert got == want and got != plain, c
    assert list(out.columns) == ["coefficient", "prompt", "sample", "text"] and len(out) == 12
    assert out["prompt"].tolist() == [0, 0, 1, 1] * 3 and out["sample"].tolist() == [0, 1] * 6

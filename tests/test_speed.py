"""Machine-speed figures and the useful-FLOP count of a decode run."""

from __future__ import annotations

import pytest
import torch

from persona_axis.engine.speed import (
    Calibration,
    decode_flops,
    matmul_gflops,
    spread,
    steadiest,
    weight_params,
)


def test_matmul_gflops_is_positive_and_finite() -> None:
    g = matmul_gflops(seconds=0.01, n=64)
    assert 0 < g < float("inf")


def test_weight_params_and_decode_flops_follow_the_formula(model) -> None:
    cfg = model.config.get_text_config()
    p_layers, p_head = weight_params(model)
    assert p_head == cfg.vocab_size * cfg.hidden_size
    by_hand = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear)) - p_head
    assert p_layers == by_hand
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    attn = 4 * cfg.num_attention_heads * head_dim * cfg.num_hidden_layers
    # one row: 3 prompt tokens, 2 response tokens, ended by EOS (3 sampled tokens)
    expected = 2 * p_layers * 5 + 2 * p_head * 3 + attn * (0 + 1 + 2 + 3 + 4)
    assert decode_flops(model, [3], [2], [True]) == expected
    assert decode_flops(model, [3], [2], [False]) == expected - 2 * p_head


def _cal(tok_s: float, gflops: float = 400.0) -> Calibration:
    return Calibration(
        gflops=gflops,
        tok_s=tok_s,
        model="m",
        batch=64,
        tokens=100,
        seconds=1.0,
        threads=2,
        load=0.0,
        when="2026-12-02 10:00 UTC",
    )


def test_steadiest_is_the_fastest_figure_and_spread_their_ratio() -> None:
    slow, fast = _cal(46.0, 0.0), _cal(335.0, 418.0)
    assert steadiest([slow, fast]) is fast and steadiest([fast, slow]) is fast
    assert spread([slow, fast]) == 335.0 / 46.0 and spread([fast]) == 1.0
    assert spread([_cal(0.0), fast]) == float("inf")
    with pytest.raises(ValueError, match="at least one"):
        steadiest([])


def test_the_status_sentence_names_both_figures_and_flags_a_disturbed_one() -> None:
    from persona_axis.site.build import machine_sentence

    assert machine_sentence([]) == ""
    one = machine_sentence([_cal(335.0)])
    assert one.startswith("Machine speed at the start of the build") and "335 tok/s" in one
    calm = machine_sentence([_cal(335.0), _cal(300.0)])  # 1.12x apart: no remark
    assert "at its end" in calm and "differ" not in calm
    loud = machine_sentence([_cal(46.0), _cal(335.0)])
    assert "differ by 7.3x" in loud and "use the faster (335 tok/s)" in loud

"""Machine-speed figures and the useful-FLOP count of a decode run."""

from __future__ import annotations

import torch

from persona_axis.speed import decode_flops, matmul_gflops, weight_params


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

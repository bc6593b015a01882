"""Which weights a model has: the model's identity in every cache key (``model_id``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from persona_axis.model.models import ModelSpec

__all__ = ["model_id", "folder_fingerprint"]

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")


def folder_fingerprint(folder: Path) -> str:
    """A cheap fingerprint of a model folder's weights: for every weight file its name, size and
    the sha256 of its first and last MiB, and the full ``config.json`` (16 hex digits)."""
    h = hashlib.sha256()
    for f in sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and (p.suffix in _WEIGHT_SUFFIXES or p.name == "config.json")
    ):
        size = f.stat().st_size
        h.update(f"{f.relative_to(folder)}:{size}:".encode())
        with f.open("rb") as fh:
            if f.name == "config.json":
                h.update(fh.read())
            else:
                h.update(fh.read(1 << 20))
                fh.seek(max(size - (1 << 20), 0))
                h.update(fh.read(1 << 20))
    return h.hexdigest()[:16]


def model_id(spec: ModelSpec) -> str:
    """The model's identity in cache keys: its name and which weights.

    An embedded model: ``name@<GGUF sha256, 16 digits>``. A local folder: ``name@<folder_fingerprint>``,
    so changed weights never read another's results. A hub id (resolved from the local hub
    cache): its name only.
    """
    if spec.embedded:
        return f"{spec.name}@{spec.gguf_sha256[:16]}"
    folder = Path(spec.name).expanduser()
    if folder.is_dir():
        return f"{spec.name}@{folder_fingerprint(folder)}"
    return spec.name

"""Results on disk, keyed by a hash of everything that made them.

A ``Store`` is one folder ``<root>/<kind>/<hash>/`` whose ``config.json`` holds the full
configuration. Work is saved in numbered chunks (``chunk-00003.safetensors`` for tensors and
``chunk-00003.jsonl`` for table rows); each file is written to a temporary name and renamed into
place, and the table file is written last, so a chunk exists only when it is complete. A run
killed half-way resumes at the first missing chunk. A different configuration has a different
hash, hence a different folder: it never reads another's results.

The root is ``$PERSONA_AXIS_ARTIFACTS`` if set, else ``<cache_dir()>/artifacts``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from persona_axis.core.paths import artifacts_dir

__all__ = [
    "CacheError",
    "Store",
    "config_hash",
    "atomic_write_text",
    "atomic_write_bytes_from",
    "atomic_save_tensors",
    "load_tensors",
]


class CacheError(RuntimeError):
    """A cached file is unreadable or does not belong to its configuration."""


def _canonical(cfg: Any) -> str:
    """Canonical JSON of a configuration. Only JSON values (dicts, lists, tuples, strings, numbers,
    booleans, ``None``) are accepted: an object is hashed by the explicit fields it is made of,
    never by its ``repr`` or ``vars``."""
    try:
        return json.dumps(cfg, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except TypeError as e:
        raise TypeError(
            f"a cache key must be made of JSON values (hash objects by explicit fields): {e}"
        ) from None


def config_hash(cfg: Mapping[str, Any]) -> str:
    """First 16 hex digits of the sha256 of the configuration's canonical JSON."""
    return hashlib.sha256(_canonical(cfg).encode()).hexdigest()[:16]


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    atomic_write_bytes_from(path, [text.encode("utf-8")])


def atomic_write_bytes_from(path: Path, blocks: Iterable[bytes]) -> None:
    """Write ``blocks`` one after the other to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for b in blocks:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_save_tensors(
    path: Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None
) -> None:
    """Save tensors as safetensors, atomically."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=dict(metadata or {}))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Load a safetensors file and its metadata; a corrupt file gives a ``CacheError``."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            return {k: f.get_tensor(k) for k in f.keys()}, dict(meta)
    except Exception as e:  # safetensors raises several types for a damaged file
        raise CacheError(f"{path} is corrupt ({e}). Delete it and rerun: it will be recomputed.") from None


class Store:
    """One configuration's folder of results.

    Args:
        kind: what is stored (``"rollouts"``, ``"labels"``, ``"axis"``...), the first folder level.
        config: everything that determines the results (JSON-serialisable).
        root: defaults to ``artifacts_dir()``.
    """

    def __init__(self, kind: str, config: Mapping[str, Any], root: Path | None = None) -> None:
        self.kind = kind
        self.config = json.loads(_canonical(config))
        self.hash = config_hash(config)
        self.path = (root or artifacts_dir()) / kind / self.hash
        self.path.mkdir(parents=True, exist_ok=True)
        cfg_file = self.path / "config.json"
        if cfg_file.exists():
            try:
                saved = json.loads(cfg_file.read_text())
            except json.JSONDecodeError:
                raise CacheError(f"{cfg_file} is corrupt. Delete the folder {self.path} and rerun.") from None
            if saved != self.config:
                raise CacheError(
                    f"{self.path} holds results of another configuration (hash collision or a "
                    "hand-edited file). Delete the folder and rerun."
                )
        else:
            atomic_write_text(cfg_file, json.dumps(self.config, indent=1, sort_keys=True))

    def _chunk(self, i: int, ext: str) -> Path:
        return self.path / f"chunk-{i:05d}.{ext}"

    def has_chunk(self, i: int) -> bool:
        """True when chunk ``i`` was completely written."""
        return self._chunk(i, "jsonl").exists()

    def save_chunk(self, i: int, tensors: Mapping[str, torch.Tensor], rows: list[dict[str, Any]]) -> None:
        """Save chunk ``i``: tensors first, then the rows (the completion marker)."""
        atomic_save_tensors(self._chunk(i, "safetensors"), tensors)
        atomic_write_text(
            self._chunk(i, "jsonl"), "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        )

    def load_chunk(self, i: int) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
        """Load chunk ``i``; a damaged chunk gives a ``CacheError`` that says what to do."""
        tensors, _ = load_tensors(self._chunk(i, "safetensors"))
        rows = []
        # split on "\n" only: JSON keeps U+2028, U+0085 and the like raw, and str.splitlines() would cut there
        for n, line in enumerate(self._chunk(i, "jsonl").read_text(encoding="utf-8").split("\n"), 1):
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise CacheError(
                    f"{self._chunk(i, 'jsonl')}, line {n} is corrupt. Delete the chunk's two files and rerun."
                ) from None
        return tensors, rows

    def save_json(self, name: str, obj: Any) -> None:
        atomic_write_text(
            self.path / f"{name}.json", json.dumps(obj, indent=1, ensure_ascii=False, default=str)
        )

    def load_json(self, name: str) -> Any:
        f = self.path / f"{name}.json"
        if not f.exists():
            return None
        try:
            return json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise CacheError(f"{f} is corrupt. Delete it and rerun: it will be recomputed.") from None

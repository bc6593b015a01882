"""Persona-space reductions streamed over a rollout store, chunk by chunk, memory-mapped.

At the ``paper`` preset a rollout set does not fit in memory (Qwen 3 32B: 434 GB of float32
means for every layer; 105 GB in the preset's store of the layers it needs, in bf16, which
``pipeline.persona_space`` reduces with this module). ``reduce_store`` reads one chunk at a time, only the layers asked for
(``safetensors`` maps the file and copies just those slices), and adds it into float64 sums
per (group, name, label): role vectors, the default vector and trait vectors come out of one
pass, and memory does not grow with the number of rollouts. The calibration percentiles need
the axis, which exists only after that pass, so ``calibrate_store`` makes a second pass that
keeps one float32 projection per rollout and layer (1.3 MB per layer for 331,200 rollouts).

The results equal ``space.role_vectors``, ``space.default_vector``, ``space.trait_vectors`` and
``axis.calibrate`` on the same rollouts loaded in memory (the tests compare them). A store
written in bfloat16 (the ``paper`` preset, ``jobs.run_jobs(acts_dtype="bfloat16")``) halves the disk; the effect on
the book's numbers is measured in the tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from persona_axis.core.store import CacheError

if TYPE_CHECKING:
    from persona_axis.persona.axis import Axis, Calibration
    from persona_axis.persona.space import RoleVectors

__all__ = [
    "StoreSums",
    "calibrate_store",
    "chunk_paths",
    "iter_chunks",
    "mapped_acts",
    "reduce_store",
    "store_bytes",
]


def chunk_paths(path: Path) -> list[Path]:
    """The complete chunks (table file present) of a store folder, in order."""
    rows = sorted(Path(path).glob("chunk-*.jsonl"))
    if not rows:
        raise FileNotFoundError(f"{path} holds no complete chunk; run the rollouts first")
    numbers = [int(p.stem.split("-")[1]) for p in rows]
    if numbers != list(range(len(numbers))):
        missing = sorted(set(range(max(numbers) + 1)) - set(numbers))
        raise CacheError(
            f"{path} is missing chunks {missing[:10]}: finish the run (it resumes) before reducing it"
        )
    return [p.with_suffix(".safetensors") for p in rows]


def store_bytes(path: Path) -> int:
    """Bytes on disk of a store folder."""
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file())


def iter_chunks(
    path: Path, rows: Sequence[int] | None = None
) -> Iterator[tuple[list[dict[str, Any]], torch.Tensor]]:
    """Yield ``(rows of the chunk, acts)`` chunk by chunk.

    Args:
        rows: positions along the stored layer axis to read (``None``: all). Only those
            slices are copied out of the memory-mapped file.

    Yields:
        The chunk's table rows (without the ``tokens`` column) and ``(n, len(rows), hidden)``
        activations in the stored dtype.
    """
    from safetensors import safe_open

    for st in chunk_paths(path):
        table = []
        for line in st.with_suffix(".jsonl").read_text(encoding="utf-8").split("\n"):
            if line:
                r = json.loads(line)
                r.pop("tokens", None)
                table.append(r)
        try:
            with safe_open(str(st), framework="pt") as f:
                if rows is None:
                    acts = f.get_tensor("acts")
                else:
                    sl = f.get_slice("acts")
                    acts = torch.stack([sl[:, i] for i in rows], dim=1) if rows else sl[:, 0:0]
        except Exception as e:  # noqa: BLE001 (safetensors raises several types for a damaged file)
            raise CacheError(f"{st} is corrupt ({e}). Delete the chunk's two files and rerun.") from None
        if len(acts) != len(table):
            raise CacheError(
                f"{st} has {len(acts)} rows of activations for {len(table)} table rows; delete the chunk and rerun"
            )
        yield table, acts


def mapped_acts(path: Path) -> torch.Tensor:
    """Every chunk's activations as one memory-mapped ``(n_rollouts, n_layers, hidden)`` tensor.

    The first call copies the chunks, one at a time, into ``acts-<dtype>.bin`` beside them
    (raw, in the stored dtype, written to a temporary name and renamed); every call then maps
    that file read-only (``torch.from_file``, copy-on-write): pages are read from disk when a
    slice is used and the operating system drops them again, so RSS does not grow with the
    store. The file doubles the store's disk use.
    """
    from safetensors import safe_open

    from persona_axis.core.store import atomic_write_bytes_from

    chunks = chunk_paths(path)
    with safe_open(str(chunks[0]), framework="pt") as f:
        sl = f.get_slice("acts")
        _, n_layers, hidden = sl.get_shape()
        dtype = {"BF16": torch.bfloat16, "F32": torch.float32, "F16": torch.float16}[sl.get_dtype()]
    out = Path(path) / f"acts-{str(dtype).removeprefix('torch.')}.bin"
    if not out.exists():

        def blocks() -> Iterator[bytes]:
            for _, acts in iter_chunks(path):
                if acts.dtype != dtype or tuple(acts.shape[1:]) != (n_layers, hidden):
                    raise CacheError(f"{path}: chunks differ in dtype or shape; delete the folder and rerun")
                yield acts.contiguous().view(torch.uint8).numpy().tobytes()

        atomic_write_bytes_from(out, blocks())
    itemsize = torch.empty((), dtype=dtype).element_size()
    n = out.stat().st_size // (itemsize * n_layers * hidden)
    return torch.from_file(str(out), shared=False, size=n * n_layers * hidden, dtype=dtype).view(
        n, n_layers, hidden
    )


@dataclass
class StoreSums:
    """Sums and counts of a store's activations per (group, name, label), from one pass.

    Attributes:
        sums: ``(group, name, label) -> (n_layers, hidden)`` float64 sum.
        counts: the number of rollouts in each sum.
        layers: the layer index of each row of a sum.
        n_rollouts: rollouts read; ``peak_chunk_bytes``: the largest chunk of activations held.
    """

    sums: dict[tuple[str, str, int | None], torch.Tensor] = field(default_factory=dict)
    counts: dict[tuple[str, str, int | None], int] = field(default_factory=dict)
    layers: list[int] = field(default_factory=list)
    n_rollouts: int = 0
    peak_chunk_bytes: int = 0

    def _mean(self, keys: Sequence[tuple[str, str, int | None]]) -> tuple[torch.Tensor, int]:
        total = torch.stack([self.sums[k] for k in keys]).sum(0)
        n = sum(self.counts[k] for k in keys)
        return (total / n).float(), n

    def role_vectors(
        self, labels: Sequence[int] | None = (3, 2), min_count: int = 10, group: str = "role"
    ) -> RoleVectors:
        """As ``space.role_vectors`` (sorted by name, then label descending)."""
        from persona_axis.persona.space import RoleVectors

        names = sorted({k[1] for k in self.sums if k[0] == group})
        vecs, out_names, labs, counts = [], [], [], []
        for name in names:
            for lab in sorted(labels, reverse=True) if labels is not None else [None]:
                keys = [
                    k for k in self.sums if k[0] == group and k[1] == name and (lab is None or k[2] == lab)
                ]
                n = sum(self.counts[k] for k in keys)
                if keys and n >= min_count and n > 0:
                    v, _ = self._mean(keys)
                    vecs.append(v)
                    out_names.append(name)
                    labs.append(lab)
                    counts.append(n)
        if not vecs:
            raise ValueError(
                f"no (role, label) reached min_count={min_count}; lower it or collect more rollouts"
            )
        return RoleVectors(torch.stack(vecs), out_names, labs, counts, list(self.layers))

    def default_vector(self) -> torch.Tensor:
        """As ``space.default_vector``: ``(n_layers, hidden)``."""
        keys = [k for k in self.sums if k[0] == "default"]
        if not keys:
            raise ValueError("the store has no default rollouts (group == 'default')")
        return self._mean(keys)[0]

    def n_default(self) -> int:
        return sum(n for k, n in self.counts.items() if k[0] == "default")

    def trait_vectors(self) -> RoleVectors:
        """As ``space.trait_vectors``: positive minus negative mean per trait."""
        from persona_axis.persona.space import RoleVectors

        pos = self.role_vectors(labels=None, min_count=1, group="trait+")
        neg = self.role_vectors(labels=None, min_count=1, group="trait-")
        if pos.names != neg.names:
            raise ValueError("every trait needs both positive and negative rollouts")
        return RoleVectors(
            pos.vectors - neg.vectors, pos.names, [None] * len(pos.names), pos.counts, list(self.layers)
        )


def _stored_layers(path: Path) -> list[int]:
    cfg = json.loads((Path(path) / "config.json").read_text())
    return list(cfg["layers"])


def _select(path: Path, layers: Sequence[int] | None) -> tuple[list[int], list[int]]:
    stored = _stored_layers(path)
    if layers is None:
        return stored, list(range(len(stored)))
    missing = [la for la in layers if la not in stored]
    if missing:
        raise KeyError(f"layers {missing} are not in the store (it has {stored})")
    return list(layers), [stored.index(la) for la in layers]


def reduce_store(
    path: Path, labels: Sequence[int | None] | None = None, *, layers: Sequence[int] | None = None
) -> StoreSums:
    """One streaming pass: per (group, name, label) sums of a store's activations.

    Args:
        path: a rollout store folder (``Rollouts.path``, ``JobRun.path``).
        labels: the judge label of every rollout in store order (``None`` entries for unlabelled
            rows; ``runs.label`` saves them as ``labels-<judge>.json`` beside the chunks).
            ``None``: no labels (every key's label is ``None``).
        layers: layers to read (default: every stored layer).
    """
    chosen, rows = _select(path, layers)
    out = StoreSums(layers=chosen)
    i = 0
    for table, acts in iter_chunks(path, rows):
        out.peak_chunk_bytes = max(out.peak_chunk_bytes, acts.numel() * acts.element_size())
        if labels is not None and i + len(table) > len(labels):
            raise ValueError(f"{len(labels)} labels for more rollouts than that in {path}")
        keys = [
            (r["group"], r["name"], None if labels is None else labels[i + k]) for k, r in enumerate(table)
        ]
        by_key: dict[tuple[str, str, int | None], list[int]] = {}
        for k, key in enumerate(keys):
            by_key.setdefault(key, []).append(k)
        for key, idx in by_key.items():
            s = acts[torch.tensor(idx)].double().sum(0)
            if key in out.sums:
                out.sums[key] += s
                out.counts[key] += len(idx)
            else:
                out.sums[key] = s
                out.counts[key] = len(idx)
        i += len(table)
    if labels is not None and len(labels) != i:
        raise ValueError(f"{len(labels)} labels for {i} rollouts in {path}")
    out.n_rollouts = i
    return out


def calibrate_store(
    path: Path, axis: Axis, layers: Sequence[int], groups: Sequence[str] = ("role", "default")
) -> Calibration:
    """As ``axis.calibrate`` over the store's rollouts of ``groups`` (the paper: roles and default).

    A second pass (the axis is known only after the first): keeps one float32 projection per
    rollout and layer, never the activations.

    Returns:
        An ``axis.Calibration`` (``.percentile(layer, p)``, ``.percentiles(ps)``).
    """
    from persona_axis.persona.axis import Calibration

    _, rows = _select(path, layers)
    units = torch.stack([axis.unit(la).double() for la in layers])  # (L, hidden)
    proj: list[torch.Tensor] = []
    for table, acts in iter_chunks(path, rows):
        keep = torch.tensor([r["group"] in groups for r in table])
        if bool(keep.any()):
            proj.append(torch.einsum("nlh,lh->nl", acts[keep].double(), units).float())
    return Calibration(torch.cat(proj).contiguous(), list(layers))

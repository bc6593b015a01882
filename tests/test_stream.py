"""Streaming reductions over a store equal the in-memory ones; memory stays bounded; bf16 is close enough."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from helpers import need_module
from persona_axis.core.store import Store
from persona_axis.persona.axis import calibrate, contrast_axis
from persona_axis.persona.space import default_vector, pca, role_vectors, trait_vectors
from persona_axis.persona.stream import calibrate_store, chunk_paths, reduce_store, store_bytes

LAYERS = [2, 5, 7]


def _write_store(
    root: Path,
    n_chunks: int,
    rows_per_chunk: int,
    hidden: int,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    tag: str = "",
) -> tuple[Path, pd.DataFrame, torch.Tensor, list[int | None]]:
    """A synthetic rollout store: roles with their own offsets, default rows, trait pairs; random labels."""
    g = torch.Generator().manual_seed(seed)
    store = Store(
        "rollouts", {"layers": LAYERS, "synthetic": tag or f"{n_chunks}x{rows_per_chunk}x{hidden}"}, root
    )
    offsets = torch.randn(12, len(LAYERS), hidden, generator=g)
    rows_all, acts_all, labels = [], [], []
    for c in range(n_chunks):
        rows, acts = [], []
        for k in range(rows_per_chunk):
            j = (c * rows_per_chunk + k) % 14
            if j < 8:
                group, name, lab = "role", f"role{j}", int(torch.randint(0, 4, (1,), generator=g))
            elif j < 10:
                group, name, lab = "default", "default", None
            else:
                group, name, lab = ("trait+" if j % 2 else "trait-"), f"trait{j // 12}", None
            rows.append({"group": group, "name": name, "response": "x", "tokens": [1, 2]})
            acts.append(offsets[j % 12] + 0.3 * torch.randn(len(LAYERS), hidden, generator=g))
            labels.append(lab)
        a = torch.stack(acts)
        store.save_chunk(c, {"acts": a.to(dtype)}, rows)
        rows_all += rows
        acts_all.append(a.to(dtype).float())
    return store.path, pd.DataFrame(rows_all), torch.cat(acts_all), labels


def test_streamed_reductions_equal_in_memory(tmp_path: Path) -> None:
    path, table, acts, labels = _write_store(tmp_path, n_chunks=5, rows_per_chunk=37, hidden=16)
    table["label"] = labels
    sums = reduce_store(path, labels)
    assert sums.n_rollouts == len(table) == 185
    want = role_vectors(table, acts, LAYERS, labels=(3, 2), min_count=2)
    got = sums.role_vectors(labels=(3, 2), min_count=2)
    assert got.names == want.names and got.labels == want.labels and got.counts == want.counts
    torch.testing.assert_close(got.vectors, want.vectors, rtol=0, atol=1e-5)
    torch.testing.assert_close(sums.default_vector(), default_vector(table, acts), rtol=0, atol=1e-5)
    tv, tw = sums.trait_vectors(), trait_vectors(table, acts, LAYERS)
    assert tv.names == tw.names
    torch.testing.assert_close(tv.vectors, tw.vectors, rtol=0, atol=1e-5)
    # the axis and its calibration, as axis.get_axis makes them (roles and default)
    fully = sums.role_vectors(labels=[3], min_count=1)
    defaults = acts[torch.tensor((table["group"] == "default").to_numpy())]
    axis = contrast_axis(defaults, fully.vectors, LAYERS, model="t")
    mask = torch.tensor(table["group"].isin(["role", "default"]).to_numpy())
    want_cal = calibrate(axis, acts[mask], LAYERS).percentiles((1, 25, 50, 75))
    got_cal = calibrate_store(path, axis, LAYERS).percentiles((1, 25, 50, 75))
    for layer in LAYERS:
        for p in want_cal[layer]:
            assert got_cal[layer][p] == pytest.approx(want_cal[layer][p], abs=1e-5)
    # a subset of layers reads only those slices
    sub = reduce_store(path, labels, layers=[5])
    torch.testing.assert_close(sub.default_vector()[0], sums.default_vector()[1])


def test_missing_chunk_and_wrong_labels_are_errors(tmp_path: Path) -> None:
    from persona_axis.core.store import CacheError

    path, _, _, labels = _write_store(tmp_path, n_chunks=3, rows_per_chunk=10, hidden=8)
    with pytest.raises(ValueError, match="labels for"):
        reduce_store(path, labels[:-1])
    (path / "chunk-00001.jsonl").unlink()
    with pytest.raises(CacheError, match="missing chunks"):
        chunk_paths(path)


def test_peak_memory_bounded_while_reading_a_larger_store(tmp_path: Path) -> None:
    psutil = need_module("psutil")
    # 24 chunks of 4 MB: a 96 MB store, read with at most a few chunks in memory
    path, *_ = _write_store(tmp_path, n_chunks=24, rows_per_chunk=1000, hidden=341, tag="big")
    size = store_bytes(path)
    assert size > 90e6
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.005)

    t = threading.Thread(target=watch)
    t.start()
    try:
        sums = reduce_store(path)
    finally:
        stop.set()
        t.join()
    grew = peak[0] - base
    print(f"store {size / 1e6:.0f} MB, peak RSS growth while reducing it {grew / 1e6:.0f} MB")
    assert sums.n_rollouts == 24_000
    assert grew < size / 3, f"reading a {size / 1e6:.0f} MB store grew RSS by {grew / 1e6:.0f} MB"


def test_bf16_store_changes_the_numbers_by_less_than_1e3(tmp_path: Path) -> None:
    """The book's persona-space numbers from a bf16 store against the float32 one (same rollouts).

    Hidden size 576, the smallest embedded model's. Means average the rounding away; the
    calibration percentiles are projections of single rollouts, whose rounding error shrinks
    as one over the square root of the hidden size (at 64 it was 1.3e-3 of the percentile).
    """
    p32, _, _, labels = _write_store(tmp_path, n_chunks=4, rows_per_chunk=70, hidden=576, seed=1, tag="f32")
    p16, *_ = _write_store(
        tmp_path, n_chunks=4, rows_per_chunk=70, hidden=576, dtype=torch.bfloat16, seed=1, tag="bf16"
    )
    assert store_bytes(p16) < 0.6 * store_bytes(p32)
    a, b = reduce_store(p32, labels), reduce_store(p16, labels)
    va, vb = a.role_vectors(labels=None, min_count=1), b.role_vectors(labels=None, min_count=1)
    da, db = a.default_vector(), b.default_vector()
    sa = pca(va.at(5), va.names).oriented(da[1])
    sb = pca(vb.at(5), vb.names).oriented(db[1])
    assert abs(float(sa.explained_variance_ratio[0] - sb.explained_variance_ratio[0])) < 1e-3
    cos = float(sa.components[0] @ sb.components[0])
    assert cos > 1 - 1e-3
    axa = contrast_axis(da[None], va.vectors, LAYERS, model="a")
    axb = contrast_axis(db[None], vb.vectors, LAYERS, model="b")
    assert float(axa.unit(5) @ axb.unit(5)) > 1 - 1e-3
    ca, cb = (
        calibrate_store(p32, axa, [5]).percentiles((1, 25, 50, 75)),
        calibrate_store(p16, axb, [5]).percentiles((1, 25, 50, 75)),
    )
    scale = max(abs(v) for v in ca[5].values())
    worst = max(abs(ca[5][p] - cb[5][p]) / scale for p in ca[5])
    print(
        f"bf16 store: PC1 share moved {abs(float(sa.explained_variance_ratio[0] - sb.explained_variance_ratio[0])):.1e}, "
        f"calibration percentiles {worst:.1e} (relative)"
    )
    assert worst < 1e-3


def test_mapped_acts_equal_the_chunks_and_are_not_read_into_memory(tmp_path: Path) -> None:
    """``mapped_acts``: the chunks in order, bit for bit, in the stored dtype; mapping a 48 MB bf16
    store (and reading a few rows of it) grows RSS by far less than the file, made in one chunk's memory."""
    psutil = need_module("psutil")
    from persona_axis.persona.stream import iter_chunks, mapped_acts

    path, *_ = _write_store(
        tmp_path, n_chunks=24, rows_per_chunk=1000, hidden=341, dtype=torch.bfloat16, tag="mapped"
    )
    proc = psutil.Process()
    base = proc.memory_info().rss
    acts = mapped_acts(path)
    first = acts[:10].float().sum()
    grew = proc.memory_info().rss - base
    size = (path / "acts-bfloat16.bin").stat().st_size
    assert (
        acts.dtype == torch.bfloat16 and acts.shape == (24_000, len(LAYERS), 341) and size == acts.numel() * 2
    )
    print(f"mapped {size / 1e6:.0f} MB; RSS grew {grew / 1e6:.1f} MB")
    assert grew < size / 4
    assert torch.equal(acts, torch.cat([a for _, a in iter_chunks(path)]))
    assert torch.equal(mapped_acts(path)[:10].float().sum(), first)  # a second call maps the same file

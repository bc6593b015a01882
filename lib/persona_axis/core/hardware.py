"""What the hardware computes fast: the dtype the models run in.

bfloat16 halves memory and, where the hardware multiplies it natively (a GPU; a CPU with Intel AMX,
AVX-512 BF16 or Arm's BF16 extension), runs about twice as fast as float32 on a CPU. Without native
support PyTorch emulates it: on a 2-core AVX2 EPYC a bf16 matmul ran at 0.85 GFLOP/s against 155 in
float32, and SmolLM2 decoded 40 tok/s in bf16 against 131 in float32. So the book chooses by the
hardware, and ``$PERSONA_AXIS_DTYPE`` (``bfloat16`` or ``float32``) overrides. The dtype is part of
every cache key (``runs.rollout_config``), so results of one dtype are never read for the other.

Example:
    >>> import torch
    >>> pick_dtype({"avx2", "fma"}) == torch.float32
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["DTYPE_ENV", "BF16_CPU_FLAGS", "pick_dtype", "compute_dtype"]

DTYPE_ENV = "PERSONA_AXIS_DTYPE"
# CPU flags (Linux /proc/cpuinfo) of native bf16 matmuls: Intel AMX, AVX-512 BF16 (Intel, AMD Zen 4+),
# and Arm's BF16 extension (listed as "bf16" under Features)
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16", "bf16"})


def pick_dtype(
    cpu_flags: set[str] | frozenset[str],
    *,
    cuda: bool = False,
    cuda_bf16: bool = False,
    override: str | None = None,
) -> torch.dtype:
    """The dtype to compute in: bfloat16 where the hardware multiplies it natively, else float32.

    ``override`` (``"bfloat16"`` or ``"float32"``, from ``$PERSONA_AXIS_DTYPE``) wins. A GPU that
    supports bf16 gets it. On a CPU, bf16 only with one of ``BF16_CPU_FLAGS``: without them PyTorch
    emulates bf16 matmuls (see the module's docstring for what that costs).
    """
    import torch

    if override:
        known = {
            "bfloat16": torch.bfloat16,
            "bf16": torch.bfloat16,
            "float32": torch.float32,
            "fp32": torch.float32,
        }
        if override not in known:
            raise ValueError(
                f"{DTYPE_ENV}={override!r}: use 'bfloat16' or 'float32' (or unset it to choose by hardware)"
            )
        return known[override]
    if cuda:
        return torch.bfloat16 if cuda_bf16 else torch.float32
    return torch.bfloat16 if cpu_flags & BF16_CPU_FLAGS else torch.float32


def _cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def compute_dtype() -> torch.dtype:
    """``pick_dtype`` for this machine: ``$PERSONA_AXIS_DTYPE``, the GPU, or the CPU's flags."""
    import torch

    cuda = torch.cuda.is_available()
    return pick_dtype(
        _cpu_flags(),
        cuda=cuda,
        cuda_bf16=cuda and torch.cuda.is_bf16_supported(),
        override=os.environ.get(DTYPE_ENV) or None,
    )

